/* CalDAV REPORTs in memory: calendar-multiget, calendar-query (RFC 4791
 * section 7.8 examples on the Appendix B calendar), free-busy-query,
 * sync-collection, time zones, floating times and failures. */
#include "dav_harness.h"
#include "caldav_rfc4791_data.h"

TestSuite(caldav_report, .init = setup, .fini = teardown);

#define CAL "/dav/alice/calendars/work/"
#define XMLH "Content-Type: application/xml\r\n"

static const char MKCAL_ALL[] =
	"<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" "
	"xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>"
	"<C:supported-calendar-component-set><C:comp name=\"VEVENT\"/><C:comp name=\"VTODO\"/>"
	"<C:comp name=\"VJOURNAL\"/><C:comp name=\"VFREEBUSY\"/></C:supported-calendar-component-set>"
	"</D:prop></D:set></C:mkcalendar>";

static void put(const char *path, const char *ics)
{
	reply r = req("PUT", path, ALICE "Content-Type: text/calendar\r\n", ics);
	cr_assert(r.status == 201 || r.status == 204, "PUT %s: %d\n%s", path, r.status, r.raw);
	free(r.raw);
}

/* The calendar of RFC 4791 Appendix B at /dav/alice/calendars/work/abcdN.ics. */
static void load_appendix_b(void)
{
	expect("MKCALENDAR", CAL, ALICE XMLH, MKCAL_ALL, 201);
	for (int i = 0; i < 8; i++) {
		char path[128];
		snprintf(path, sizeof(path), CAL "abcd%d.ics", i + 1);
		put(path, RFC4791_B[i]);
	}
}

static reply report(const char *path, const char *depth, const char *body)
{
	char h[256];
	snprintf(h, sizeof(h), ALICE XMLH "Depth: %s\r\n", depth);
	return req("REPORT", path, h, body);
}

/* A bit mask of which abcdN.ics appear as hrefs in the body. */
static unsigned hrefs(const char *body)
{
	unsigned m = 0;
	for (int i = 1; i <= 8; i++) {
		char h[128];
		snprintf(h, sizeof(h), "<D:href>" CAL "abcd%d.ics</D:href>", i);
		if (strstr(body, h))
			m |= 1u << i;
	}
	return m;
}

#define B(n) (1u << (n))

static unsigned query(const char *filter_body)
{
	char body[4096];
	snprintf(body, sizeof(body),
		 "<?xml version=\"1.0\" encoding=\"utf-8\" ?>"
		 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		 "<D:prop><D:getetag/></D:prop><C:filter>%s</C:filter></C:calendar-query>",
		 filter_body);
	reply r = report(CAL, "1", body);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	unsigned m = hrefs(r.body);
	free(r.raw);
	return m;
}

#define VCAL_VEVENT(inner) \
	"<C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\">" inner \
	"</C:comp-filter></C:comp-filter>"

Test(caldav_report, multiget_data_etag_and_missing)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<?xml version=\"1.0\" encoding=\"utf-8\" ?>"
			 "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
			 "<D:href>" CAL "abcd1.ics</D:href>"
			 "<D:href>http://cal.example.com" CAL "abcd3.ics</D:href>"
			 "<D:href>" CAL "mtg1.ics</D:href>"
			 "</C:calendar-multiget>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "<D:href>" CAL "abcd1.ics</D:href>"), "%s", r.body);
	cr_assert(strstr(r.body, "Event #1"));
	cr_assert(strstr(r.body, "Event #3"));
	cr_assert(!strstr(r.body, "Event #2"));
	/* the ETag is the blob id of the stored bytes */
	grove_oid blob;
	char hex[41], etag[80];
	grove_object_hash(GROVE_OBJ_BLOB, RFC4791_B[0], strlen(RFC4791_B[0]), &blob);
	snprintf(etag, sizeof(etag), "<D:getetag>&quot;%s&quot;</D:getetag>", grove_oid_tohex(hex, &blob));
	cr_assert(strstr(r.body, etag), "%s", r.body);
	/* the missing one: a 404 response of its own */
	const char *m = strstr(r.body, "<D:href>" CAL "mtg1.ics</D:href>");
	cr_assert_not_null(m);
	cr_assert(strncmp(m + strlen("<D:href>" CAL "mtg1.ics</D:href>"),
			  "<D:status>HTTP/1.1 404 Not Found</D:status>", 43) == 0, "%s", m);
	free(r.raw);
}

Test(caldav_report, multiget_comp_and_prop_selection)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><C:calendar-data><C:comp name=\"VCALENDAR\"><C:prop name=\"VERSION\"/>"
			 "<C:comp name=\"VEVENT\"><C:prop name=\"SUMMARY\"/><C:prop name=\"UID\"/></C:comp>"
			 "</C:comp></C:calendar-data><D:getcontenttype/><D:displayname/></D:prop>"
			 "<D:href>" CAL "abcd3.ics</D:href></C:calendar-multiget>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "SUMMARY:Event #3"), "%s", r.body);
	cr_assert(strstr(r.body, "UID:DC6C50A017428C5216A2F1CD@example.com"));
	cr_assert(strstr(r.body, "VERSION:2.0"));
	cr_assert(!strstr(r.body, "PRODID"), "%s", r.body);
	cr_assert(!strstr(r.body, "ATTENDEE"));
	cr_assert(!strstr(r.body, "VTIMEZONE"));
	cr_assert(strstr(r.body, "<D:getcontenttype>text/calendar"));
	/* a property the object lacks lands in a 404 propstat */
	cr_assert(strstr(r.body, "<D:displayname/>"), "%s", r.body);
	cr_assert(strstr(r.body, "404 Not Found"));
	free(r.raw);
}

/* RFC 4791 7.8.1 */
Test(caldav_report, query_events_by_time_range)
{
	load_appendix_b();
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060104T000000Z\" end=\"20060105T000000Z\"/>")),
		     B(2) | B(3));
	/* start only, end only */
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060106T000000Z\"/>")), B(2));
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range end=\"20060102T160000Z\"/>")), B(1));
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range end=\"20060102T170001Z\"/>")), B(1) | B(2));
	/* the hour after Event #1 (10:00-11:00 US/Eastern = 15:00-16:00Z) */
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060102T160000Z\" end=\"20060102T170000Z\"/>")), 0);
	/* the overridden instance moved from 17:00Z to 19:00Z on the 4th */
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060104T170000Z\" end=\"20060104T180000Z\"/>")), 0);
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060104T190000Z\" end=\"20060104T193000Z\"/>")), B(2));
	/* COUNT=5: the 6th is not an instance */
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060106T170000Z\" end=\"20060106T180000Z\"/>")), B(2));
	cr_assert_eq(query(VCAL_VEVENT("<C:time-range start=\"20060107T170000Z\" end=\"20060107T180000Z\"/>")), 0);
}

/* RFC 4791 7.8.2 */
Test(caldav_report, query_limit_recurrence_set)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><C:calendar-data><C:limit-recurrence-set start=\"20060103T000000Z\" "
			 "end=\"20060105T000000Z\"/></C:calendar-data></D:prop><C:filter>"
			 VCAL_VEVENT("<C:time-range start=\"20060103T000000Z\" end=\"20060105T000000Z\"/>")
			 "</C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hrefs(r.body), B(2) | B(3));
	cr_assert(strstr(r.body, "RRULE:FREQ=DAILY;COUNT=5"), "%s", r.body);
	cr_assert(strstr(r.body, "Event #2 bis"));
	free(r.raw);
	/* a window that leaves the override out */
	r = report(CAL "abcd2.ics", "0",
		   "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		   "<D:prop><C:calendar-data><C:limit-recurrence-set start=\"20060105T000000Z\" "
		   "end=\"20060107T000000Z\"/></C:calendar-data></D:prop><C:filter>"
		   "<C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "Event #2"), "%s", r.body);
	cr_assert(!strstr(r.body, "Event #2 bis"), "%s", r.body);
	free(r.raw);
}

/* RFC 4791 7.8.3: instances in UTC, overrides included, no rules */
Test(caldav_report, query_expand)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><C:calendar-data><C:expand start=\"20060103T000000Z\" "
			 "end=\"20060105T000000Z\"/></C:calendar-data></D:prop><C:filter>"
			 VCAL_VEVENT("<C:time-range start=\"20060103T000000Z\" end=\"20060105T000000Z\"/>")
			 "</C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hrefs(r.body), B(2) | B(3));
	cr_assert(strstr(r.body, "DTSTART:20060103T170000Z"), "%s", r.body);
	cr_assert(strstr(r.body, "RECURRENCE-ID:20060103T170000Z"));
	cr_assert(strstr(r.body, "DTSTART:20060104T190000Z"));
	cr_assert(strstr(r.body, "RECURRENCE-ID:20060104T170000Z"));
	cr_assert(strstr(r.body, "DTSTART:20060104T150000Z"));
	cr_assert(!strstr(r.body, "RRULE"));
	cr_assert(!strstr(r.body, "VTIMEZONE"));
	cr_assert(!strstr(r.body, "20060102T170000Z"), "outside the window");
	cr_assert_eq(count_of(r.body, "BEGIN:VEVENT"), 3);
	free(r.raw);
}

/* RFC 4791 7.8.4 */
Test(caldav_report, query_freebusy_components)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><C:calendar-data><C:limit-freebusy-set start=\"20060102T000000Z\" "
			 "end=\"20060103T000000Z\"/></C:calendar-data></D:prop><C:filter>"
			 "<C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VFREEBUSY\">"
			 "<C:time-range start=\"20060102T000000Z\" end=\"20060103T000000Z\"/>"
			 "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hrefs(r.body), B(8));
	cr_assert(strstr(r.body, "20060102T100000Z/20060102T120000Z"), "%s", r.body);
	cr_assert(!strstr(r.body, "20060103T100000Z"), "%s", r.body);
	free(r.raw);
}

/* RFC 4791 7.8.6 to 7.8.10 */
Test(caldav_report, query_properties_and_params)
{
	load_appendix_b();
	/* 7.8.6: by UID */
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"UID\"><C:text-match collation=\"i;octet\">"
				       "DC6C50A017428C5216A2F1CD@example.com</C:text-match></C:prop-filter>")),
		     B(3));
	/* i;octet is case-sensitive, i;ascii-casemap is not */
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"UID\"><C:text-match collation=\"i;octet\">"
				       "dc6c50a017428c5216a2f1cd</C:text-match></C:prop-filter>")),
		     0);
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"UID\"><C:text-match>"
				       "dc6c50a017428c5216a2f1cd</C:text-match></C:prop-filter>")),
		     B(3));
	/* 7.8.7: by PARTSTAT */
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"ATTENDEE\"><C:text-match collation=\"i;ascii-casemap\">"
				       "mailto:lisa@example.com</C:text-match><C:param-filter name=\"PARTSTAT\">"
				       "<C:text-match collation=\"i;ascii-casemap\">NEEDS-ACTION</C:text-match>"
				       "</C:param-filter></C:prop-filter>")),
		     B(3));
	/* the PARTSTAT belongs to another attendee: no match */
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"ATTENDEE\"><C:text-match>"
				       "mailto:lisa@example.com</C:text-match><C:param-filter name=\"PARTSTAT\">"
				       "<C:text-match>ACCEPTED</C:text-match>"
				       "</C:param-filter></C:prop-filter>")),
		     0);
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"ATTENDEE\"><C:param-filter name=\"ROLE\">"
				       "<C:is-not-defined/></C:param-filter></C:prop-filter>")),
		     B(3));
	/* 7.8.8: events only */
	cr_assert_eq(query(VCAL_VEVENT("")), B(1) | B(2) | B(3));
	cr_assert_eq(query("<C:comp-filter name=\"VCALENDAR\"/>"), 0x1fe);
	cr_assert_eq(query("<C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\">"
			   "<C:is-not-defined/></C:comp-filter></C:comp-filter>"),
		     B(4) | B(5) | B(6) | B(7) | B(8));
	/* 7.8.9: pending to-dos */
	cr_assert_eq(query("<C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VTODO\">"
			   "<C:prop-filter name=\"COMPLETED\"><C:is-not-defined/></C:prop-filter>"
			   "<C:prop-filter name=\"STATUS\"><C:text-match negate-condition=\"yes\">"
			   "CANCELLED</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"),
		     B(4) | B(5));
	/* 7.8.10: a property no object has matches nothing (no error) */
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"X-ABC-GUID\"><C:text-match>ABC"
				       "</C:text-match></C:prop-filter>")),
		     0);
	/* to-dos by DUE (DATE values, floating: UTC without a calendar-timezone) */
	cr_assert_eq(query("<C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VTODO\">"
			   "<C:time-range start=\"20060103T000000Z\" end=\"20060105T000000Z\"/>"
			   "</C:comp-filter></C:comp-filter>"),
		     B(4));
	/* a property time-range */
	cr_assert_eq(query(VCAL_VEVENT("<C:prop-filter name=\"DTSTAMP\"><C:time-range start=\"20060206T001200Z\" "
				       "end=\"20060206T001300Z\"/></C:prop-filter>")),
		     B(3));
}

static const char EASTERN[] =
	"BEGIN:VTIMEZONE\r\nTZID:US/Eastern\r\nBEGIN:DAYLIGHT\r\nDTSTART:20000404T020000\r\n"
	"RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4\r\nTZNAME:EDT\r\nTZOFFSETFROM:-0500\r\n"
	"TZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nDTSTART:20001026T020000\r\n"
	"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZNAME:EST\r\nTZOFFSETFROM:-0400\r\n"
	"TZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/* Weekly on Saturdays at 10:00 US/Eastern across the end of DST (29 Oct
 * 2006): 14:00Z before, 15:00Z after. */
Test(caldav_report, recurrence_across_dst)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	char ics[4096];
	snprintf(ics, sizeof(ics),
		 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n%s"
		 "BEGIN:VEVENT\r\nUID:dst@x\r\nDTSTAMP:20060101T000000Z\r\n"
		 "DTSTART;TZID=US/Eastern:20061021T100000\r\nDTEND;TZID=US/Eastern:20061021T110000\r\n"
		 "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=US/Eastern:20061111T100000\r\n"
		 "SUMMARY:weekly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", EASTERN);
	put(CAL "dst.ics", ics);
	reply r = report(CAL, "1",
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><C:calendar-data><C:expand start=\"20061001T000000Z\" "
			 "end=\"20061201T000000Z\"/></C:calendar-data></D:prop><C:filter>"
			 "<C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "DTSTART:20061021T140000Z"), "%s", r.body);
	cr_assert(strstr(r.body, "DTSTART:20061028T140000Z"));
	cr_assert(strstr(r.body, "DTSTART:20061104T150000Z"));
	cr_assert(strstr(r.body, "DTEND:20061104T160000Z"));
	cr_assert(!strstr(r.body, "20061111"), "EXDATE removes the fourth");
	cr_assert_eq(count_of(r.body, "BEGIN:VEVENT"), 3);
	free(r.raw);
	char body[1024];
	const char *fmt = "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			  "<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">"
			  "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"%s\" end=\"%s\"/>"
			  "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
	snprintf(body, sizeof(body), fmt, "20061104T155000Z", "20061104T170000Z");
	r = report(CAL, "1", body);
	cr_assert(strstr(r.body, "dst.ics"), "%s", r.body);
	free(r.raw);
	snprintf(body, sizeof(body), fmt, "20061104T130000Z", "20061104T150000Z");
	r = report(CAL, "1", body);
	cr_assert(!strstr(r.body, "dst.ics"), "%s", r.body);
	free(r.raw);
}

/* Floating times are in the collection's calendar-timezone. */
Test(caldav_report, floating_time_uses_calendar_timezone)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	put(CAL "f.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
			 "UID:float@x\r\nDTSTAMP:20060101T000000Z\r\nDTSTART:20060110T100000\r\n"
			 "DURATION:PT30M\r\nSUMMARY:floating\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
	const char *fmt = "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			  "<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">"
			  "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"%s\" end=\"%s\"/>"
			  "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
	char utc10[1024], est10[1024];
	snprintf(utc10, sizeof(utc10), fmt, "20060110T100000Z", "20060110T101000Z");
	snprintf(est10, sizeof(est10), fmt, "20060110T150000Z", "20060110T151000Z");
	/* no calendar-timezone: UTC */
	reply r = report(CAL, "1", utc10);
	cr_assert(strstr(r.body, "f.ics"), "%s", r.body);
	free(r.raw);
	r = report(CAL, "1", est10);
	cr_assert(!strstr(r.body, "f.ics"));
	free(r.raw);
	/* set it to US/Eastern: 10:00 floating is 15:00Z */
	char pp[4096], tz[2048];
	snprintf(tz, sizeof(tz), "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n%sEND:VCALENDAR\r\n",
		 EASTERN);
	snprintf(pp, sizeof(pp),
		 "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		 "<D:set><D:prop><C:calendar-timezone>%s</C:calendar-timezone></D:prop></D:set>"
		 "</D:propertyupdate>", tz);
	expect("PROPPATCH", CAL, ALICE XMLH, pp, 207);
	r = report(CAL, "1", est10);
	cr_assert(strstr(r.body, "f.ics"), "%s", r.body);
	free(r.raw);
	r = report(CAL, "1", utc10);
	cr_assert(!strstr(r.body, "f.ics"));
	free(r.raw);
}

Test(caldav_report, alarm_time_range)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	put(CAL "a.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
			 "UID:alarm@x\r\nDTSTAMP:20060101T000000Z\r\nDTSTART:20060110T100000Z\r\n"
			 "DURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:a\r\nBEGIN:VALARM\r\n"
			 "ACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
			 "END:VEVENT\r\nEND:VCALENDAR\r\n");
	const char *fmt = "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			  "<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">"
			  "<C:comp-filter name=\"VEVENT\"><C:comp-filter name=\"VALARM\">"
			  "<C:time-range start=\"%s\" end=\"%s\"/></C:comp-filter>"
			  "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
	char body[1024];
	/* the third instance's alarm: 12 Jan 09:45Z */
	snprintf(body, sizeof(body), fmt, "20060112T094000Z", "20060112T095000Z");
	reply r = report(CAL, "1", body);
	cr_assert(strstr(r.body, "a.ics"), "%s", r.body);
	free(r.raw);
	snprintf(body, sizeof(body), fmt, "20060112T095000Z", "20060112T110000Z");
	r = report(CAL, "1", body);
	cr_assert(!strstr(r.body, "a.ics"), "%s", r.body);
	free(r.raw);
	snprintf(body, sizeof(body), fmt, "20060113T094000Z", "20060113T095000Z");
	r = report(CAL, "1", body);
	cr_assert(!strstr(r.body, "a.ics"), "COUNT=3 ends on the 12th");
	free(r.raw);
}

/* RFC 4791 7.10 */
Test(caldav_report, free_busy_query)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<C:free-busy-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<C:time-range start=\"20060102T000000Z\" end=\"20060105T000000Z\"/>"
			 "</C:free-busy-query>");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_assert(strstr(header(&r, "Content-Type"), "text/calendar"));
	cr_assert(strstr(r.body, "BEGIN:VFREEBUSY"));
	cr_assert(strstr(r.body, "DTSTART:20060102T000000Z"));
	cr_assert(strstr(r.body, "DTEND:20060105T000000Z"));
	/* Event #1 busy, Event #3 tentative, Event #2's instances, the stored
	 * VFREEBUSY's periods */
	cr_assert(strstr(r.body, "20060102T150000Z/20060102T160000Z"), "%s", r.body);
	cr_assert(strstr(r.body, "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060104T150000Z/20060104T160000Z"), "%s", r.body);
	cr_assert(strstr(r.body, "20060103T170000Z/20060103T180000Z"));
	cr_assert(strstr(r.body, "20060104T190000Z/20060104T200000Z"));
	cr_assert(!strstr(r.body, "20060104T170000Z/"), "overridden instance");
	cr_assert(!strstr(r.body, "20060105T100000Z"), "outside the range");
	cr_assert(!strstr(r.body, "20050531"), "outside the range");
	free(r.raw);
	expect("REPORT", CAL, ALICE XMLH "Depth: 1\r\n",
	       "<C:free-busy-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>", 400);
}

/* ---- sync-collection --------------------------------------------------------------- */

static char *sync_token_of(const char *body)
{
	const char *p = strstr(body, "<D:sync-token>");
	cr_assert_not_null(p, "%s", body);
	p += strlen("<D:sync-token>");
	const char *e = strstr(p, "</D:sync-token>");
	return strndup(p, (size_t)(e - p));
}

static reply sync_req(const char *token, const char *extra)
{
	char body[1024];
	snprintf(body, sizeof(body),
		 "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>%s</D:sync-token>"
		 "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>%s</D:sync-collection>",
		 token, extra ? extra : "");
	return report(CAL, "0", body);
}

#define ICS(uid, summary)                                                             \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" uid \
	"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nSUMMARY:" summary  \
	"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

Test(caldav_report, sync_collection)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	put(CAL "a.ics", ICS("a", "A"));
	put(CAL "b.ics", ICS("b", "B"));
	put(CAL "c.ics", ICS("c", "C"));
	/* initial: every member */
	reply r = sync_req("", NULL);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(count_of(r.body, "<D:response>"), 3);
	cr_assert(strstr(r.body, CAL "a.ics") && strstr(r.body, CAL "c.ics"));
	char *t1 = sync_token_of(r.body);
	cr_assert(strncmp(t1, "http://grove/sync/", 18) == 0);
	free(r.raw);
	/* nothing changed */
	r = sync_req(t1, NULL);
	cr_assert_eq(r.status, 207);
	cr_assert_eq(count_of(r.body, "<D:response>"), 0);
	char *same = sync_token_of(r.body);
	cr_assert_str_eq(same, t1);
	free(same);
	free(r.raw);
	/* add, edit, delete; a change elsewhere does not show */
	put(CAL "d.ics", ICS("d", "D"));
	put(CAL "a.ics", ICS("a", "A2"));
	expect("DELETE", CAL "b.ics", ALICE, NULL, 204);
	expect("MKCALENDAR", "/dav/alice/calendars/other/", ALICE, NULL, 201);
	put("/dav/alice/calendars/other/x.ics", ICS("x", "X"));
	r = sync_req(t1, NULL);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(count_of(r.body, "<D:response>"), 3, "%s", r.body);
	cr_assert(strstr(r.body, "<D:href>" CAL "b.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status>"),
		  "%s", r.body);
	cr_assert(strstr(r.body, CAL "a.ics</D:href><D:propstat>"));
	cr_assert(strstr(r.body, CAL "d.ics</D:href><D:propstat>"));
	cr_assert(!strstr(r.body, "c.ics"));
	cr_assert(!strstr(r.body, "x.ics"));
	char *t2 = sync_token_of(r.body);
	cr_assert_str_neq(t1, t2);
	free(r.raw);
	/* a limit below the number of changes */
	r = sync_req(t1, "<D:limit><D:nresults>2</D:nresults></D:limit>");
	cr_assert_eq(r.status, 507, "%s", r.raw);
	cr_assert(strstr(r.body, "number-of-matches-within-limits"));
	free(r.raw);
	r = sync_req(t1, "<D:limit><D:nresults>3</D:nresults></D:limit>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	free(r.raw);
	/* invalid tokens */
	const char *bad[] = { "garbage", "http://grove/sync/zz",
			      "http://grove/sync/0123456789012345678901234567890123456789",
			      "http://grove/sync/" };
	for (size_t i = 0; i < 4; i++) {
		r = sync_req(bad[i], NULL);
		cr_assert_eq(r.status, 403, "%s: %s", bad[i], r.raw);
		cr_assert(strstr(r.body, "<D:valid-sync-token/>"), "%s", r.body);
		free(r.raw);
	}
	/* the token of a tree, not a commit */
	grove_view *v;
	grove_view_open(&v, G, "main");
	char hex[41], tok[80];
	snprintf(tok, sizeof(tok), "http://grove/sync/%s", grove_oid_tohex(hex, grove_view_tree(v)));
	grove_view_free(v);
	r = sync_req(tok, NULL);
	cr_assert_eq(r.status, 403, "%s", r.raw);
	free(r.raw);
	free(t1);
	free(t2);
}

/* ---- failures ---------------------------------------------------------------------------- */

Test(caldav_report, failures)
{
	load_appendix_b();
	grove_oid before, after;
	cr_assert_eq(grove_branch_head(G, "main", &before), 0);
	/* malformed XML */
	expect("REPORT", CAL, ALICE XMLH "Depth: 1\r\n", "<C:calendar-query xmlns:C=", 400);
	expect("REPORT", CAL, ALICE XMLH "Depth: 1\r\n", NULL, 400);
	/* an unknown report, a CardDAV report on a calendar */
	reply r = report(CAL, "1", "<D:expand-property xmlns:D=\"DAV:\"/>");
	cr_assert_eq(r.status, 403);
	cr_assert(strstr(r.body, "supported-report"), "%s", r.body);
	free(r.raw);
	r = report(CAL, "1", "<C:addressbook-query xmlns:C=\"urn:ietf:params:xml:ns:carddav\"/>");
	cr_assert_eq(r.status, 403);
	free(r.raw);
	/* bad time ranges */
	const char *ranges[] = {
		"<C:time-range start=\"garbage\"/>",
		"<C:time-range start=\"20060104T000000\"/>",       /* not UTC */
		"<C:time-range start=\"20060105T000000Z\" end=\"20060104T000000Z\"/>",
		"<C:time-range start=\"20061345T000000Z\"/>",
		"<C:time-range/>",
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		char body[1024];
		snprintf(body, sizeof(body),
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<C:filter>" VCAL_VEVENT("%s") "</C:filter></C:calendar-query>", ranges[i]);
		r = report(CAL, "1", body);
		cr_assert_eq(r.status, 400, "%s: %s", ranges[i], r.raw);
		cr_assert(strstr(r.body, "<C:valid-filter/>"), "%s", r.body);
		free(r.raw);
	}
	/* no filter, a filter not on VCALENDAR, an unknown element */
	const char *filters[] = {
		"",
		"<C:filter><C:comp-filter name=\"VEVENT\"/></C:filter>",
		"<C:filter><C:comp-filter name=\"VCALENDAR\"><C:bogus/></C:comp-filter></C:filter>",
		"<C:filter><C:comp-filter name=\"VCALENDAR\"><C:time-range start=\"20060105T000000Z\"/></C:comp-filter></C:filter>",
	};
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		char body[1024];
		snprintf(body, sizeof(body),
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "%s</C:calendar-query>", filters[i]);
		r = report(CAL, "1", body);
		cr_assert_eq(r.status, 400, "%s: %s", filters[i], r.raw);
		free(r.raw);
	}
	/* an unsupported collation */
	r = report(CAL, "1", "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			     "<C:filter>" VCAL_VEVENT("<C:prop-filter name=\"UID\"><C:text-match collation=\"i;klingon\">"
						      "x</C:text-match></C:prop-filter>") "</C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 403, "%s", r.raw);
	cr_assert(strstr(r.body, "supported-collation"));
	free(r.raw);
	/* calendar-data in another format */
	r = report(CAL, "1", "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			     "<D:prop><C:calendar-data content-type=\"application/json\"/></D:prop>"
			     "<C:filter><C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 403, "%s", r.raw);
	cr_assert(strstr(r.body, "supported-calendar-data"));
	free(r.raw);
	/* a bad expand range */
	r = report(CAL, "1", "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			     "<D:prop><C:calendar-data><C:expand start=\"20060103T000000Z\"/></C:calendar-data></D:prop>"
			     "<C:filter><C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 400, "%s", r.raw);
	free(r.raw);
	/* bad Depth, missing collection, another user's calendar */
	expect("REPORT", CAL, ALICE XMLH "Depth: 2\r\n", "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>", 400);
	expect("REPORT", "/dav/alice/calendars/nope/", ALICE XMLH "Depth: 1\r\n",
	       "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:filter>"
	       "<C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>", 404);
	expect("REPORT", CAL, BOB XMLH "Depth: 1\r\n",
	       "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:filter>"
	       "<C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>", 404);
	/* reports change nothing */
	cr_assert_eq(grove_branch_head(G, "main", &after), 0);
	cr_assert_eq(grove_oid_cmp(&before, &after), 0);
}

Test(caldav_report, options_and_supported_report_set)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	reply r = req("OPTIONS", CAL, NULL, NULL);
	cr_assert(strstr(header(&r, "Allow"), "REPORT"));
	free(r.raw);
	r = req("PROPFIND", CAL, ALICE XMLH "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:supported-report-set/></D:prop></D:propfind>");
	cr_assert_eq(r.status, 207);
	cr_assert(strstr(r.body, "<C:calendar-multiget/>"), "%s", r.body);
	cr_assert(strstr(r.body, "<C:calendar-query/>"));
	cr_assert(strstr(r.body, "<C:free-busy-query/>"));
	cr_assert(strstr(r.body, "<D:sync-collection/>"));
	cr_assert(!strstr(r.body, "addressbook-query"));
	free(r.raw);
}

/* ---- PUT preconditions ------------------------------------------------------------------- */

Test(caldav_report, put_uid_conflict_and_size)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	expect("MKCALENDAR", "/dav/alice/calendars/home/", ALICE, NULL, 201);
	put(CAL "a.ics", ICS("same-uid", "A"));
	grove_oid before, after;
	cr_assert_eq(grove_branch_head(G, "main", &before), 0);
	reply r = req("PUT", CAL "b.ics", ALICE "Content-Type: text/calendar\r\n", ICS("same-uid", "B"));
	cr_assert_eq(r.status, 403, "%s", r.raw);
	cr_assert(strstr(r.body, "<C:no-uid-conflict><D:href>" CAL "a.ics</D:href></C:no-uid-conflict>"),
		  "%s", r.body);
	free(r.raw);
	cr_assert_eq(grove_branch_head(G, "main", &after), 0);
	cr_assert_eq(grove_oid_cmp(&before, &after), 0, "nothing committed");
	/* the same resource may keep its UID; another calendar may hold it */
	put(CAL "a.ics", ICS("same-uid", "A2"));
	put("/dav/alice/calendars/home/b.ics", ICS("same-uid", "B"));
	put(CAL "b.ics", ICS("other-uid", "B"));
	/* max-resource-size: advertised, enforced */
	r = req("PROPFIND", CAL, ALICE XMLH "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop>"
		"<C:max-resource-size/></D:prop></D:propfind>");
	cr_assert(strstr(r.body, "<C:max-resource-size>1048576</C:max-resource-size>"), "%s", r.body);
	free(r.raw);
	size_t big = (1u << 20) + 100;
	char *ics = malloc(big + 512);
	int n = sprintf(ics, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
			     "UID:big\r\nDTSTAMP:20060101T000000Z\r\nDTSTART:20060101T000000Z\r\nDESCRIPTION:");
	memset(ics + n, 'x', big);
	strcpy(ics + n + big, "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
	r = req("PUT", CAL "big.ics", ALICE "Content-Type: text/calendar\r\n", ics);
	cr_assert_eq(r.status, 403);
	cr_assert(strstr(r.body, "<C:max-resource-size/>"), "%s", r.body);
	free(r.raw);
	free(ics);
}

/* An endless weekly rule: the summary cache cannot bound it, the query
 * still finds a late instance; a bounded rule is skipped by its span. */
Test(caldav_report, endless_and_bounded_recurrence)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	put(CAL "w.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
			 "UID:weekly@x\r\nDTSTAMP:20060101T000000Z\r\nDTSTART:20060102T090000Z\r\n"
			 "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
	put(CAL "u.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
			 "UID:until@x\r\nDTSTAMP:20060101T000000Z\r\nDTSTART:20060102T090000Z\r\n"
			 "DURATION:PT1H\r\nRRULE:FREQ=DAILY;UNTIL=20060110T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
	const char *fmt = "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			  "<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">"
			  "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"%s\" end=\"%s\"/>"
			  "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
	char body[1024];
	/* 2 Jan 2006 is a Monday; 5 Jan 2009 too */
	snprintf(body, sizeof(body), fmt, "20090105T000000Z", "20090106T000000Z");
	for (int round = 0; round < 2; round++) { /* cold, then warm cache */
		reply r = report(CAL, "1", body);
		cr_assert(strstr(r.body, "w.ics"), "%s", r.body);
		cr_assert(!strstr(r.body, "u.ics"));
		free(r.raw);
	}
	snprintf(body, sizeof(body), fmt, "20060110T000000Z", "20060110T100000Z");
	reply r = report(CAL, "1", body);
	cr_assert(strstr(r.body, "u.ics"), "%s", r.body);
	cr_assert(!strstr(r.body, "w.ics"), "a Tuesday");
	free(r.raw);
	snprintf(body, sizeof(body), fmt, "20060111T000000Z", "20060112T000000Z");
	r = report(CAL, "1", body);
	cr_assert(!strstr(r.body, "u.ics"), "UNTIL passed");
	free(r.raw);
}

Test(caldav_report, multiget_bad_data_spec)
{
	load_appendix_b();
	reply r = report(CAL, "1",
			 "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><C:calendar-data content-type=\"text/plain\"/></D:prop>"
			 "<D:href>" CAL "abcd1.ics</D:href></C:calendar-multiget>");
	cr_assert_eq(r.status, 403, "%s", r.raw);
	cr_assert(strstr(r.body, "<C:supported-calendar-data/>"), "%s", r.body);
	free(r.raw);
	expect("REPORT", CAL, ALICE XMLH "Depth: 1\r\n",
	       "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
	       "<D:prop><C:calendar-data><C:comp name=\"VEVENT\"/></C:calendar-data></D:prop>"
	       "<D:href>" CAL "abcd1.ics</D:href></C:calendar-multiget>", 400);
	/* an object as the request URI of a query (Depth 0) */
	r = report(CAL "abcd1.ics", "0",
		   "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		   "<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">"
		   "<C:comp-filter name=\"VEVENT\"/></C:comp-filter></C:filter></C:calendar-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hrefs(r.body), B(1));
	free(r.raw);
}

/* Endless rules far from DTSTART: the expansion starts near the range
 * instead of walking (and capping) every instance since DTSTART. */
Test(caldav_report, endless_rule_far_from_start)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	char ics[2048];
	snprintf(ics, sizeof(ics),
		 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
		 "BEGIN:VEVENT\r\nUID:hourly@x\r\nDTSTAMP:20000101T000000Z\r\n"
		 "DTSTART:20000103T093000Z\r\nDURATION:PT15M\r\n"
		 "RRULE:FREQ=HOURLY;INTERVAL=6\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
	put(CAL "h.ics", ics);
	const char *fmt = "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			  "<D:prop><C:calendar-data><C:expand start=\"%s\" end=\"%s\"/></C:calendar-data>"
			  "</D:prop><C:filter><C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\">"
			  "<C:time-range start=\"%s\" end=\"%s\"/></C:comp-filter></C:comp-filter></C:filter>"
			  "</C:calendar-query>";
	char body[2048];
	/* every 6 hours since 2000: about 39000 instances before 2026, more
	 * than the expansion cap (CALDAV_MAX_INSTANCES) from DTSTART */
	snprintf(body, sizeof(body), fmt, "20261104T000000Z", "20261105T000000Z", "20261104T000000Z",
		 "20261105T000000Z");
	reply r = report(CAL, "1", body);
	cr_assert(strstr(r.body, "h.ics"), "%s", r.body);
	cr_assert(strstr(r.body, "DTSTART:20261104T033000Z"), "%s", r.body);
	cr_assert(strstr(r.body, "DTSTART:20261104T093000Z"));
	cr_assert(strstr(r.body, "DTSTART:20261104T153000Z"));
	cr_assert(strstr(r.body, "DTSTART:20261104T213000Z"));
	cr_assert_eq(count_of(r.body, "BEGIN:VEVENT"), 4);
	free(r.raw);
	/* between two instances: nothing */
	snprintf(body, sizeof(body), fmt, "20261104T040000Z", "20261104T090000Z", "20261104T040000Z",
		 "20261104T090000Z");
	r = report(CAL, "1", body);
	cr_assert(!strstr(r.body, "h.ics"), "%s", r.body);
	free(r.raw);
}

/* ---- the blob-keyed summary index ------------------------------------------------------- */

#include "../../net/dav_report_index.h"

static void summary_of(const char *ics, grove__dav_family fam, grove__dav_summary *s)
{
	grove_oid id;
	cr_assert_eq(grove_object_write(G, GROVE_OBJ_BLOB, ics, strlen(ics), &id), 0);
	cr_assert_eq(grove__dav_summary_get(G, &id, fam, NULL, 0, s), 0);
	/* a second lookup is a cache hit with the same answer */
	grove__dav_summary again;
	cr_assert_eq(grove__dav_summary_get(G, &id, fam, NULL, 0, &again), 0);
	cr_assert_eq(again.kinds, s->kinds);
	cr_assert_eq(again.start, s->start);
	cr_assert_eq(again.end, s->end);
	grove__dav_summary_dispose(&again);
}

Test(caldav_report, summary_index)
{
	grove__dav_summary s;
	time_t lo, hi;
	summary_of(RFC4791_B[1], DAV_CAL, &s); /* Event #2: 5 daily instances, one moved */
	cr_assert_str_eq(s.uid, "00959BC664CA650E933C892C@example.com");
	cr_assert_eq(s.kinds, DAV_SUM_VEVENT);
	cr_assert(s.bounded && !s.floating);
	grove__caldav_parse_utc("20060102T170000Z", &lo);
	grove__caldav_parse_utc("20060106T180000Z", &hi);
	cr_assert_eq(s.start, lo);
	cr_assert_eq(s.end, hi);
	cr_assert(grove__dav_summary_may_match(&s, DAV_SUM_VEVENT, 1, lo, hi));
	cr_assert(!grove__dav_summary_may_match(&s, DAV_SUM_VTODO, 0, 0, 0));
	cr_assert(!grove__dav_summary_may_match(&s, DAV_SUM_VEVENT, 1, hi + 10, hi + 3600));
	cr_assert(!grove__dav_summary_may_match(&s, DAV_SUM_VEVENT, 1, lo - 3600, lo - 10));
	grove__dav_summary_dispose(&s);
	/* a DATE due date is floating: its span is widened */
	summary_of(RFC4791_B[3], DAV_CAL, &s);
	cr_assert_eq(s.kinds, DAV_SUM_VTODO);
	cr_assert(s.bounded && s.floating);
	grove__caldav_parse_utc("20060104T100000Z", &lo);
	cr_assert(grove__dav_summary_may_match(&s, DAV_SUM_VTODO, 1, lo, lo + 60));
	grove__dav_summary_dispose(&s);
	/* free-busy and endless rules have no span */
	summary_of(RFC4791_B[7], DAV_CAL, &s);
	cr_assert_eq(s.kinds, DAV_SUM_VFREEBUSY);
	cr_assert(!s.bounded);
	grove__dav_summary_dispose(&s);
	/* a vCard's UID, folded */
	summary_of("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nitem1.UID:ab\r\n c\r\nEND:VCARD\r\n", DAV_CARD, &s);
	cr_assert_str_eq(s.uid, "abc");
	grove__dav_summary_dispose(&s);
	/* garbage: no UID, marked bad, never excluded */
	summary_of("not a calendar", DAV_CAL, &s);
	cr_assert(s.bad && !s.uid);
	cr_assert(grove__dav_summary_may_match(&s, DAV_SUM_VEVENT, 1, 0, 10));
	grove__dav_summary_dispose(&s);
}

/* Data that did not come through PUT (a git push) may hold several UIDs:
 * the UID shortcut of the query must not hide the second one. */
Test(caldav_report, uid_query_on_mixed_object)
{
	load_appendix_b();
	const char *mixed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:first\r\n"
			    "DTSTAMP:20060101T000000Z\r\nDTSTART:20060101T000000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n"
			    "UID:second\r\nDTSTAMP:20060101T000000Z\r\nDTSTART:20060101T000000Z\r\nEND:VEVENT\r\n"
			    "END:VCALENDAR\r\n";
	grove_txn *txn;
	cr_assert_eq(grove_txn_begin(&txn, G, "main"), 0);
	cr_assert_eq(grove_txn_set(txn, "alice/calendars/work/mixed.ics", mixed, strlen(mixed)), 0);
	grove_signature sig = { "t", "t@x", 0, 0 };
	grove_commit_opts co = { &sig, NULL, "direct" };
	grove_oid out;
	cr_assert_eq(grove_txn_commit(txn, &co, &out), 0);
	grove_txn_free(txn);
	reply r = report(CAL, "1",
			 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
			 "<D:prop><D:getetag/></D:prop><C:filter>"
			 VCAL_VEVENT("<C:prop-filter name=\"UID\"><C:text-match collation=\"i;octet\">second"
				     "</C:text-match></C:prop-filter>") "</C:filter></C:calendar-query>");
	cr_assert(strstr(r.body, "mixed.ics"), "%s", r.body);
	cr_assert_eq(hrefs(r.body), 0);
	free(r.raw);
}
