/* calendar-query decided from the summary index: a filter that is only
 * VCALENDAR > VEVENT > time-range answers from the cached instance spans
 * without parsing.  Every answer must equal the full evaluation's, which
 * the same filter with its time-range written twice forces (no fast path).
 * Edge cases: gaps between recurrences, zero-length events, events ending
 * or starting exactly on a bound, floating times, overrides, endless rules
 * and objects with more instances than the summary keeps. */
#include "dav_harness.h"

TestSuite(caldav_query_spans, .init = setup, .fini = teardown);

#define CAL "/dav/alice/calendars/work/"
#define XMLH "Content-Type: application/xml\r\n"

static const char MKCAL[] =
	"<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" "
	"xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>";

#define EV(uid, body) \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:" uid \
	"\r\nDTSTAMP:20250101T000000Z\r\n" body "END:VEVENT\r\nEND:VCALENDAR\r\n"

static const struct {
	const char *name, *ics;
} objs[] = {
	{ "plain", EV("plain", "DTSTART:20250310T090000Z\r\nDTEND:20250310T100000Z\r\n") },
	{ "zero", EV("zero", "DTSTART:20250310T120000Z\r\n") },
	{ "allday", EV("allday", "DTSTART;VALUE=DATE:20250311\r\n") },
	{ "floating", EV("floating", "DTSTART:20250312T090000\r\nDTEND:20250312T100000\r\n") },
	{ "weekly3", EV("weekly3", "DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n"
				   "RRULE:FREQ=WEEKLY;COUNT=3\r\n") },
	{ "daily100", EV("daily100", "DTSTART:20250101T080000Z\r\nDURATION:PT30M\r\n"
				     "RRULE:FREQ=DAILY;COUNT=100\r\n") },
	{ "endless", EV("endless", "DTSTART:20240315T070000Z\r\nDTEND:20240315T080000Z\r\n"
				   "RRULE:FREQ=YEARLY\r\n") },
	{ "exdate", EV("exdate", "DTSTART:20250304T090000Z\r\nDTEND:20250304T100000Z\r\n"
				 "RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE:20250305T090000Z\r\n") },
	{ "override",
	  "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
	  "BEGIN:VEVENT\r\nUID:ov\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250401T090000Z\r\n"
	  "DTEND:20250401T100000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\n"
	  "BEGIN:VEVENT\r\nUID:ov\r\nDTSTAMP:20250101T000000Z\r\nRECURRENCE-ID:20250402T090000Z\r\n"
	  "DTSTART:20250420T090000Z\r\nDTEND:20250420T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n" },
	{ "todo", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:td\r\n"
		  "DTSTAMP:20250101T000000Z\r\nDUE:20250310T090000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n" },
};

#define NOBJ (sizeof(objs) / sizeof(objs[0]))

static void load(void)
{
	expect("MKCALENDAR", CAL, ALICE XMLH, MKCAL, 201);
	for (size_t i = 0; i < NOBJ; i++) {
		char path[128];
		snprintf(path, sizeof(path), CAL "%s.ics", objs[i].name);
		reply r = req("PUT", path, ALICE "Content-Type: text/calendar\r\n", objs[i].ics);
		cr_assert(r.status == 201 || r.status == 204, "PUT %s: %d\n%s", path, r.status,
			  r.raw);
		free(r.raw);
	}
}

/* Which objects the query names, as a bit mask; twice: the time-range
 * written twice (full evaluation). */
static unsigned query(const char *lo, const char *hi, int twice)
{
	char tr[256], body[2048];
	snprintf(tr, sizeof(tr), "<C:time-range start=\"%s\" end=\"%s\"/>", lo, hi);
	snprintf(body, sizeof(body),
		 "<?xml version=\"1.0\" encoding=\"utf-8\" ?>"
		 "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		 "<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter>"
		 "<C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\">%s%s"
		 "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>",
		 tr, twice ? tr : "");
	reply r = req("REPORT", CAL, ALICE XMLH "Depth: 1\r\n", body);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	unsigned m = 0;
	for (size_t i = 0; i < NOBJ; i++) {
		char h[160];
		snprintf(h, sizeof(h), "<D:href>" CAL "%s.ics</D:href>", objs[i].name);
		if (strstr(r.body, h)) {
			m |= 1u << i;
			/* calendar-data is the stored object, escaped */
			cr_assert(strstr(r.body, "BEGIN:VCALENDAR"), "no calendar-data");
		}
	}
	free(r.raw);
	return m;
}

static unsigned bit(const char *name)
{
	for (size_t i = 0; i < NOBJ; i++)
		if (strcmp(objs[i].name, name) == 0)
			return 1u << i;
	cr_assert_fail("no object %s", name);
	return 0;
}

Test(caldav_query_spans, summary_answers_equal_full_evaluation)
{
	load();
	static const char *const win[][2] = {
		{ "20250301T000000Z", "20250401T000000Z" },
		{ "20250310T090000Z", "20250310T100000Z" }, /* exactly plain */
		{ "20250310T100000Z", "20250310T110000Z" }, /* plain ends at lo */
		{ "20250310T080000Z", "20250310T090000Z" }, /* plain starts at hi */
		{ "20250310T120000Z", "20250310T120001Z" }, /* zero-length at lo */
		{ "20250310T110000Z", "20250310T120000Z" }, /* zero-length at hi */
		{ "20250305T000000Z", "20250309T000000Z" }, /* between weekly3's instances */
		{ "20250305T000000Z", "20250306T000000Z" }, /* exdate's excluded day */
		{ "20250402T000000Z", "20250403T000000Z" }, /* the overridden instance moved */
		{ "20250420T000000Z", "20250421T000000Z" }, /* where it moved to */
		{ "20250315T000000Z", "20250316T000000Z" },
		{ "20300315T000000Z", "20300316T000000Z" }, /* endless, far out */
		{ "20250311T000000Z", "20250312T000000Z" },
		{ "20250312T000000Z", "20250313T000000Z" }, /* floating */
		{ "19700101T000000Z", "20991231T000000Z" },
	};
	for (size_t i = 0; i < sizeof(win) / sizeof(win[0]); i++) {
		unsigned fast = query(win[i][0], win[i][1], 0);
		unsigned full = query(win[i][0], win[i][1], 1);
		cr_assert_eq(fast, full, "window %s..%s: summary %#x, full evaluation %#x",
			     win[i][0], win[i][1], fast, full);
	}
	/* and the answers are the right ones, not merely equal */
	cr_assert_eq(query("20250305T000000Z", "20250309T000000Z", 0),
		     bit("daily100") | bit("exdate"));
	cr_assert_eq(query("20250402T000000Z", "20250403T000000Z", 0), bit("daily100"));
	cr_assert_eq(query("20250420T000000Z", "20250421T000000Z", 0), bit("override"));
	cr_assert_eq(query("20250310T120000Z", "20250310T120001Z", 0), bit("zero"));
}

Test(caldav_query_spans, bad_range_still_refused)
{
	load();
	const char body[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\" ?>"
		"<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
		"<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">"
		"<C:comp-filter name=\"VEVENT\"><C:time-range start=\"bogus\"/>"
		"</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>";
	reply r = req("REPORT", CAL, ALICE XMLH "Depth: 1\r\n", body);
	cr_assert_eq(r.status, 400, "%s", r.raw);
	free(r.raw);
}
