/*
 * libFuzzer target: a CalDAV calendar-query body (the filter and the
 * calendar-data spec) and an iCalendar object, separated by a NUL byte.
 * A filter that passes the check is evaluated against the fuzzed object
 * and a fixed recurring one; a calendar-data spec that passes its check
 * renders both (selection, expand, limit sets).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../net/dav_report.h"

static const char fixed[] =
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTIMEZONE\r\nTZID:US/Eastern\r\n"
	"BEGIN:DAYLIGHT\r\nDTSTART:20000404T020000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4\r\n"
	"TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
	"DTSTART:20001026T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:-0400\r\n"
	"TZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:f@x\r\n"
	"DTSTAMP:20060101T000000Z\r\nDTSTART;TZID=US/Eastern:20060102T120000\r\nDURATION:PT1H\r\n"
	"RRULE:FREQ=DAILY;COUNT=5\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@x\r\nBEGIN:VALARM\r\n"
	"ACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nREPEAT:2\r\nDURATION:PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
	"BEGIN:VEVENT\r\nUID:f@x\r\nDTSTAMP:20060101T000000Z\r\nRECURRENCE-ID;TZID=US/Eastern:20060104T120000\r\n"
	"DTSTART;TZID=US/Eastern:20060104T140000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

static void one(const grove__dav_xnode *filter, const grove__dav_xnode *spec, const char *ics,
		size_t len)
{
	char *text = malloc(len + 1);
	if (!text)
		return;
	memcpy(text, ics, len);
	text[len] = '\0';
	icalcomponent *cal = icalparser_parse_string(text);
	free(text);
	if (cal) {
		if (filter)
			grove__caldav_filter_match(filter, cal, NULL);
		icalcomponent_free(cal);
	}
	if (spec) {
		grove__sbuf out = GROVE_SBUF_INIT;
		grove__caldav_data_render(spec, ics, len, NULL, &out);
		grove__sbuf_dispose(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	const char *nul = memchr(d, '\0', size);
	size_t xlen = nul ? (size_t)(nul - d) : size;
	const char *ics = nul ? nul + 1 : "";
	size_t ilen = nul ? size - xlen - 1 : 0;
	if (ilen > 16384)
		return 0; /* keep recurrence expansion within the time budget */
	grove__dav_xml_limits lim = { .max_depth = 24, .max_elements = 300, .max_text = 8192 };
	grove__dav_xnode *root;
	if (grove__dav_xml_parse(&root, d, xlen, &lim) < 0)
		return 0;
	const grove__dav_xnode *filter = grove__dav_xml_child(root, DAV_NS_CALDAV, "filter");
	const char *cond = NULL;
	if (grove__caldav_filter_check(filter, &cond) != 0)
		filter = NULL;
	const grove__dav_xnode *prop = grove__dav_xml_child(root, DAV_NS_DAV, "prop");
	const grove__dav_xnode *spec = grove__dav_xml_child(prop, DAV_NS_CALDAV, "calendar-data");
	if (spec && grove__caldav_data_check(spec, &cond) != 0)
		spec = NULL;
	if (filter || spec) {
		one(filter, spec, fixed, sizeof(fixed) - 1);
		if (ilen)
			one(filter, spec, ics, ilen);
	}
	grove__dav_xml_free(root);
	return 0;
}
