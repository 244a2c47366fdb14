/* calendar-multiget and addressbook-multiget: hrefs naming a member of the
 * target collection plainly take the direct tree lookup and the simple
 * response writer (net/dav_report.c); their answers must be byte for byte
 * those of the general path (absolute URLs, percent-encoded names) and of
 * the general property writer, cold and from the escaped-data cache, for
 * data that needs escaping, absent and hidden members, other users'
 * paths, and every property set. */
#include "dav_harness.h"

TestSuite(dav_multiget_fast, .init = setup, .fini = teardown);

#define CAL "/dav/alice/calendars/work/"
#define BOOK "/dav/alice/addressbooks/book/"
#define XMLH "Content-Type: application/xml\r\n"

#define ICS(uid, summary)                                                             \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" uid \
	"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nSUMMARY:" summary  \
	"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

static void put(const char *path, const char *ctype, const char *body)
{
	char h[256];
	snprintf(h, sizeof(h), ALICE "Content-Type: %s\r\n", ctype);
	reply r = req("PUT", path, h, body);
	cr_assert(r.status == 201 || r.status == 204, "PUT %s: %d\n%s", path, r.status, r.raw);
	free(r.raw);
}

static void load(void)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	put(CAL "a.ics", "text/calendar", ICS("a", "Plain"));
	/* specials, quotes, UTF-8 and a long line: escaping matters */
	put(CAL "b-x_y~1.ics", "text/calendar",
	    ICS("b", "Tom & Jerry <b> \"quoted\" 'single' caf\xc3\xa9 \xe2\x82\xac 1234567890123456789012345678901234567890"));
	put(CAL "c.ics", "text/calendar", ICS("c", "Third"));
	expect("MKCALENDAR", "/dav/alice/calendars/other/", ALICE, NULL, 201);
	put("/dav/alice/calendars/other/o.ics", "text/calendar", ICS("o", "Other calendar"));
	expect("MKCALENDAR", "/dav/bob/calendars/bcal/", BOB, NULL, 201);
	reply r = req("PUT", "/dav/bob/calendars/bcal/x.ics", BOB "Content-Type: text/calendar\r\n",
		      ICS("x", "Bob's"));
	cr_assert_eq(r.status, 201);
	free(r.raw);
	expect("MKCOL", BOOK, ALICE XMLH,
	       "<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
	       "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop><D:resourcetype>"
	       "<D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>",
	       201);
	put(BOOK "k.vcf", "text/vcard",
	    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:k\r\nFN:K & <L>\r\nN:L;K;;;\r\nEND:VCARD\r\n");
}

static char *multiget(const char *path, const char *root_ns, const char *root, const char *props,
		      const char **hrefs, size_t n)
{
	char body[8192];
	int k = snprintf(body, sizeof(body),
			 "<?xml version=\"1.0\"?><X:%s xmlns:D=\"DAV:\" xmlns:X=\"%s\" "
			 "xmlns:Y=\"urn:y\">%s",
			 root, root_ns, props);
	for (size_t i = 0; i < n; i++)
		k += snprintf(body + k, sizeof(body) - (size_t)k, "<D:href>%s</D:href>", hrefs[i]);
	snprintf(body + k, sizeof(body) - (size_t)k, "</X:%s>", root);
	reply r = req("REPORT", path, ALICE XMLH "Depth: 1\r\n", body);
	cr_assert_eq(r.status, 207, "%s\n%s", body, r.raw);
	char *out = strdup(r.body);
	free(r.raw);
	return out;
}

/* s with every occurrence of from replaced by to (new string). */
static char *replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	char *out = malloc(strlen(s) + n * tl + 1), *o = out;
	for (const char *p = s;;) {
		const char *q = strstr(p, from);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

#define CALDAV "urn:ietf:params:xml:ns:caldav"
#define CARDDAV "urn:ietf:params:xml:ns:carddav"

static const char *CAL_PROPS[] = {
	"<D:prop><D:getetag/><X:calendar-data/></D:prop>",
	"<D:prop><X:calendar-data/><D:getetag/></D:prop>",
	"<D:prop><D:getetag/></D:prop>",
	"<D:prop><X:calendar-data content-type=\"text/calendar\" version=\"2.0\"/></D:prop>",
	"<D:prop/>",
	"",
	/* the general writer: */
	"<D:prop><D:getetag/><X:calendar-data/><Y:unknown/></D:prop>",
	"<D:prop><D:getetag/><D:getcontenttype/><D:displayname/></D:prop>",
	"<D:prop><X:calendar-data><X:comp name=\"VCALENDAR\"><X:prop name=\"VERSION\"/>"
	"</X:comp></X:calendar-data></D:prop>",
};

Test(dav_multiget_fast, plain_hrefs_answer_like_the_general_path)
{
	load();
	/* plain hrefs (the direct lookup) and the same resources named so that
	 * they go through path parsing */
	const char *plain[] = { CAL "a.ics", CAL "b-x_y~1.ics", CAL "missing.ics", CAL ".props",
				"/dav/alice/calendars/other/o.ics", "/dav/bob/calendars/bcal/x.ics",
				CAL "c.ics", CAL "a.ics" };
	const char *general[] = { "http://h" CAL "a.ics", CAL "b%2Dx_y~1.ics",
				  "https://h" CAL "missing.ics", CAL "%2Eprops",
				  "/dav/alice/calendars/other/o.ics", "/dav/bob/calendars/bcal/x.ics",
				  CAL "%63.ics", "http://h:80" CAL "a.ics" };
	const size_t n = sizeof(plain) / sizeof(plain[0]);
	for (size_t p = 0; p < sizeof(CAL_PROPS) / sizeof(CAL_PROPS[0]); p++) {
		char *fast = multiget(CAL, CALDAV, "calendar-multiget", CAL_PROPS[p], plain, n);
		char *again = multiget(CAL, CALDAV, "calendar-multiget", CAL_PROPS[p], plain, n);
		char *slow = multiget(CAL, CALDAV, "calendar-multiget", CAL_PROPS[p], general, n);
		cr_assert_str_eq(fast, again, "props %zu: the cached answer differs", p);
		/* the hrefs are echoed as sent: map them back */
		char *s = strdup(slow);
		for (size_t i = 0; i < n; i++) {
			char a[256], b[256];
			snprintf(a, sizeof(a), "<D:href>%s</D:href>", general[i]);
			snprintf(b, sizeof(b), "<D:href>%s</D:href>", plain[i]);
			char *t = replace(s, a, b);
			free(s);
			s = t;
		}
		cr_assert_str_eq(fast, s, "props %zu (%s)", p, CAL_PROPS[p]);
		/* spot checks */
		cr_assert_eq(count_of(fast, "<D:response>"), (int)n);
		if (p < 6 || p == 8) /* missing.ics, .props and bob's */
			cr_assert_eq(count_of(fast, "HTTP/1.1 404 Not Found"), 3, "props %zu:\n%s", p,
				     fast);
		if (strstr(CAL_PROPS[p], "calendar-data/") || strstr(CAL_PROPS[p], "version")) {
			cr_assert(strstr(fast, "SUMMARY:Tom &amp; Jerry &lt;b&gt; &quot;quoted&quot; "
					       "&apos;single&apos; caf\xc3\xa9 \xe2\x82\xac"),
				  "%s", fast);
			cr_assert(strstr(fast, "SUMMARY:Other calendar&#13;\n"), "%s", fast);
			cr_assert(!strstr(fast, "Bob's"), "another user's data");
		}
		free(fast);
		free(again);
		free(slow);
		free(s);
	}
}

/* The simple writer against the general one, for the same object: the
 * 200 propstat of {getetag, data} must equal the one written when an
 * unknown property forces the general writer. */
static void same_found_part(const char *path, const char *ns, const char *root, const char *data,
			    const char *href)
{
	char simple[256], general[256];
	snprintf(simple, sizeof(simple), "<D:prop><D:getetag/><X:%s/></D:prop>", data);
	snprintf(general, sizeof(general), "<D:prop><D:getetag/><X:%s/><Y:nope/></D:prop>", data);
	const char *h[] = { href };
	char *a = multiget(path, ns, root, simple, h, 1);
	char *b = multiget(path, ns, root, general, h, 1);
	const char *pa = strstr(a, "<D:propstat>"), *pb = strstr(b, "<D:propstat>");
	cr_assert(pa && pb);
	const char *ea = strstr(pa, "</D:propstat>"), *eb = strstr(pb, "</D:propstat>");
	cr_assert_eq(ea - pa, eb - pb, "%s\n---\n%s", a, b);
	cr_assert(memcmp(pa, pb, (size_t)(ea - pa)) == 0, "%s\n---\n%s", a, b);
	cr_assert(strstr(eb, "<Y:nope") || strstr(eb, "nope"), "%s", b);
	free(a);
	free(b);
}

Test(dav_multiget_fast, simple_writer_equals_general_writer)
{
	load();
	for (int round = 0; round < 2; round++) { /* cold, then from the cache */
		same_found_part(CAL, CALDAV, "calendar-multiget", "calendar-data", CAL "b-x_y~1.ics");
		same_found_part(CAL, CALDAV, "calendar-multiget", "calendar-data", CAL "a.ics");
		same_found_part(BOOK, CARDDAV, "addressbook-multiget", "address-data", BOOK "k.vcf");
	}
	/* address-data of a card through the plain path */
	const char *h[] = { BOOK "k.vcf", BOOK "nope.vcf", CAL "a.ics" };
	char *b = multiget(BOOK, CARDDAV, "addressbook-multiget",
			   "<D:prop><D:getetag/><X:address-data/></D:prop>", h, 3);
	cr_assert(strstr(b, "FN:K &amp; &lt;L&gt;&#13;\n"), "%s", b);
	cr_assert_eq(count_of(b, "HTTP/1.1 404 Not Found"), 2, "%s", b);
	free(b);
	/* calendar-data asked of an address book is not its data property */
	b = multiget(BOOK, CARDDAV, "addressbook-multiget",
		     "<D:prop><C:calendar-data xmlns:C=\"" CALDAV "\"/></D:prop>", h, 1);
	cr_assert(!strstr(b, "BEGIN:VCARD"), "%s", b);
	cr_assert_eq(count_of(b, "HTTP/1.1 404 Not Found"), 1, "%s", b);
	free(b);
}

Test(dav_multiget_fast, changed_objects_are_not_served_stale)
{
	load();
	const char *h[] = { CAL "a.ics" };
	char *a = multiget(CAL, CALDAV, "calendar-multiget",
			   "<D:prop><D:getetag/><X:calendar-data/></D:prop>", h, 1);
	cr_assert(strstr(a, "SUMMARY:Plain"));
	put(CAL "a.ics", "text/calendar", ICS("a", "Changed"));
	char *b = multiget(CAL, CALDAV, "calendar-multiget",
			   "<D:prop><D:getetag/><X:calendar-data/></D:prop>", h, 1);
	cr_assert(strstr(b, "SUMMARY:Changed") && !strstr(b, "SUMMARY:Plain"), "%s", b);
	expect("DELETE", CAL "a.ics", ALICE, NULL, 204);
	char *c = multiget(CAL, CALDAV, "calendar-multiget",
			   "<D:prop><D:getetag/><X:calendar-data/></D:prop>", h, 1);
	cr_assert(strstr(c, "HTTP/1.1 404 Not Found") && !strstr(c, "SUMMARY"), "%s", c);
	free(a);
	free(b);
	free(c);
}
