/* CardDAV REPORTs in memory: addressbook-multiget and addressbook-query
 * (the examples of RFC 6352 section 8.6, match types, collations,
 * parameters, limits) and sync-collection on an address book. */
#include "dav_harness.h"

TestSuite(carddav_report, .init = setup, .fini = teardown);

#define BOOK "/dav/alice/addressbooks/book/"
#define XMLH "Content-Type: application/xml\r\n"
#define CARD_NS "xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\""

static const char *const CARDS[][2] = {
	{ "v102.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nNICKNAME:me\r\nUID:34222-232@example.com\r\n"
		      "FN:Cyrus Daboo\r\nEMAIL:daboo@example.com\r\nTEL;TYPE=WORK:+1-555-0100\r\n"
		      "END:VCARD\r\n" },
	{ "v104.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nNICKNAME:oliver\r\nUID:34222-23222@example.com\r\n"
		      "FN:Oliver Daboo\r\nEMAIL:oliver@example.com\r\nTEL;TYPE=HOME:+1-555-0101\r\n"
		      "END:VCARD\r\n" },
	{ "v105.vcf", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:105\r\nFN:Bernard\r\n  Desruisseaux\r\n"
		      "item1.EMAIL;TYPE=work:bernard@example.com\r\nEND:VCARD\r\n" },
	{ "v106.vcf", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:106\r\n"
		      "FN:J\xc3\xb6rg M\xc3\x9cLLER\r\nNICKNAME:me too\r\nEND:VCARD\r\n" },
};

static void load(void)
{
	expect("MKCOL", BOOK, ALICE XMLH,
	       "<D:mkcol xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop>"
	       "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>",
	       201);
	for (size_t i = 0; i < 4; i++) {
		char path[128];
		snprintf(path, sizeof(path), BOOK "%s", CARDS[i][0]);
		expect("PUT", path, ALICE "Content-Type: text/vcard\r\n", CARDS[i][1], 201);
	}
}

static reply report(const char *body)
{
	return req("REPORT", BOOK, ALICE XMLH "Depth: 1\r\n", body);
}

/* Which of v102, v104, v105, v106 are hrefs of the body (bits 0..3). */
static unsigned hits(const char *body)
{
	unsigned m = 0;
	for (size_t i = 0; i < 4; i++) {
		char h[128];
		snprintf(h, sizeof(h), "<D:href>" BOOK "%s</D:href><D:propstat>", CARDS[i][0]);
		if (strstr(body, h))
			m |= 1u << i;
	}
	return m;
}

static unsigned query(const char *filter)
{
	char body[2048];
	snprintf(body, sizeof(body),
		 "<C:addressbook-query " CARD_NS "><D:prop><D:getetag/></D:prop>%s</C:addressbook-query>",
		 filter);
	reply r = report(body);
	cr_assert_eq(r.status, 207, "%s\n%s", filter, r.raw);
	unsigned m = hits(r.body);
	free(r.raw);
	return m;
}

#define V102 1u
#define V104 2u
#define V105 4u
#define V106 8u

/* RFC 6352 8.6.3 */
Test(carddav_report, nickname_equals_with_address_data)
{
	load();
	reply r = report("<C:addressbook-query " CARD_NS "><D:prop><D:getetag/><C:address-data>"
			 "<C:prop name=\"VERSION\"/><C:prop name=\"UID\"/><C:prop name=\"NICKNAME\"/>"
			 "<C:prop name=\"EMAIL\"/><C:prop name=\"FN\"/></C:address-data></D:prop>"
			 "<C:filter><C:prop-filter name=\"NICKNAME\"><C:text-match "
			 "collation=\"i;unicode-casemap\" match-type=\"equals\">me</C:text-match>"
			 "</C:prop-filter></C:filter></C:addressbook-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hits(r.body), V102, "%s", r.body);
	/* the writer escapes CR as &#13; */
	cr_assert(strstr(r.body, "BEGIN:VCARD&#13;\nVERSION:3.0&#13;\nNICKNAME:me&#13;\nUID:34222-232@example.com"
				 "&#13;\nFN:Cyrus Daboo&#13;\nEMAIL:daboo@example.com&#13;\nEND:VCARD&#13;\n"),
		  "%s", r.body);
	cr_assert(!strstr(r.body, "TEL"));
	cr_assert(strstr(r.body, "<D:getetag>&quot;"));
	free(r.raw);
}

/* RFC 6352 8.6.4 and the test attribute */
Test(carddav_report, anyof_allof)
{
	load();
	const char *either = "<C:filter test=\"anyof\"><C:prop-filter name=\"FN\"><C:text-match "
			     "collation=\"i;unicode-casemap\" match-type=\"contains\">daboo</C:text-match>"
			     "</C:prop-filter><C:prop-filter name=\"EMAIL\"><C:text-match "
			     "collation=\"i;unicode-casemap\" match-type=\"contains\">bernard</C:text-match>"
			     "</C:prop-filter></C:filter>";
	cr_assert_eq(query(either), V102 | V104 | V105);
	const char *both = "<C:filter test=\"allof\"><C:prop-filter name=\"FN\"><C:text-match>daboo"
			   "</C:text-match></C:prop-filter><C:prop-filter name=\"NICKNAME\"><C:text-match "
			   "match-type=\"equals\">oliver</C:text-match></C:prop-filter></C:filter>";
	cr_assert_eq(query(both), V104);
	/* a prop-filter's own tests: allof within one property */
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"TEL\" test=\"allof\"><C:text-match>555"
			   "</C:text-match><C:param-filter name=\"TYPE\"><C:text-match match-type=\"equals\">"
			   "work</C:text-match></C:param-filter></C:prop-filter></C:filter>"),
		     V102);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"TEL\" test=\"anyof\"><C:text-match>nothing"
			   "</C:text-match><C:param-filter name=\"TYPE\"><C:text-match match-type=\"equals\">"
			   "home</C:text-match></C:param-filter></C:prop-filter></C:filter>"),
		     V104);
	/* no prop-filter: everything */
	cr_assert_eq(query("<C:filter/>"), V102 | V104 | V105 | V106);
}

Test(carddav_report, match_types_collations_and_negation)
{
	load();
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match match-type=\"starts-with\">"
			   "oliver</C:text-match></C:prop-filter></C:filter>"),
		     V104);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match match-type=\"ends-with\">"
			   "DABOO</C:text-match></C:prop-filter></C:filter>"),
		     V102 | V104);
	/* a folded FN is unfolded before matching */
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match match-type=\"equals\">"
			   "Bernard Desruisseaux</C:text-match></C:prop-filter></C:filter>"),
		     V105);
	/* i;octet is case-sensitive */
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match collation=\"i;octet\">"
			   "daboo</C:text-match></C:prop-filter></C:filter>"),
		     0);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match collation=\"i;octet\">"
			   "Daboo</C:text-match></C:prop-filter></C:filter>"),
		     V102 | V104);
	/* i;unicode-casemap folds beyond ASCII; i;ascii-casemap does not */
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match>m\xc3\xbcller"
			   "</C:text-match></C:prop-filter></C:filter>"),
		     V106);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"FN\"><C:text-match collation=\"i;ascii-casemap\">"
			   "m\xc3\xbcller</C:text-match></C:prop-filter></C:filter>"),
		     0);
	/* negation, grouped properties, is-not-defined */
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"NICKNAME\"><C:text-match negate-condition=\"yes\">"
			   "me</C:text-match></C:prop-filter></C:filter>"),
		     V104);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"EMAIL\"><C:param-filter name=\"TYPE\">"
			   "<C:text-match>WORK</C:text-match></C:param-filter></C:prop-filter></C:filter>"),
		     V105);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"NICKNAME\"><C:is-not-defined/>"
			   "</C:prop-filter></C:filter>"),
		     V105);
	cr_assert_eq(query("<C:filter><C:prop-filter name=\"TEL\"><C:param-filter name=\"PREF\">"
			   "<C:is-not-defined/></C:param-filter></C:prop-filter></C:filter>"),
		     V102 | V104);
}

/* RFC 6352 8.6.5 */
Test(carddav_report, truncated_results)
{
	load();
	reply r = report("<C:addressbook-query " CARD_NS "><D:prop><D:getetag/></D:prop>"
			 "<C:filter test=\"anyof\"><C:prop-filter name=\"FN\"><C:text-match "
			 "collation=\"i;unicode-casemap\" match-type=\"contains\">daboo</C:text-match>"
			 "</C:prop-filter></C:filter><C:limit><C:nresults>1</C:nresults></C:limit>"
			 "</C:addressbook-query>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "<D:response><D:href>" BOOK "</D:href><D:status>HTTP/1.1 507 "
				 "Insufficient Storage</D:status><D:error><D:number-of-matches-within-limits/>"),
		  "%s", r.body);
	cr_assert_eq(count_of(r.body, "<D:propstat>"), 1);
	free(r.raw);
	/* a limit that is not reached: no 507 */
	r = report("<C:addressbook-query " CARD_NS "><D:prop><D:getetag/></D:prop>"
		   "<C:filter><C:prop-filter name=\"FN\"><C:text-match>daboo</C:text-match>"
		   "</C:prop-filter></C:filter><C:limit><C:nresults>2</C:nresults></C:limit>"
		   "</C:addressbook-query>");
	cr_assert_eq(r.status, 207);
	cr_assert(!strstr(r.body, "507"));
	cr_assert_eq(count_of(r.body, "<D:propstat>"), 2);
	free(r.raw);
}

Test(carddav_report, multiget)
{
	load();
	reply r = report("<C:addressbook-multiget " CARD_NS "><D:prop><D:getetag/><C:address-data>"
			 "<C:prop name=\"FN\"/></C:address-data></D:prop>"
			 "<D:href>" BOOK "v104.vcf</D:href><D:href>" BOOK "v105.vcf</D:href>"
			 "<D:href>" BOOK "gone.vcf</D:href>"
			 "<D:href>/dav/alice/calendars/work/x.ics</D:href>"
			 "<D:href>/dav/bob/addressbooks/book/v102.vcf</D:href>"
			 "<D:href>/dav/alice/addressbooks/book/../book/v102.vcf</D:href>"
			 "</C:addressbook-multiget>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hits(r.body), V104 | V105);
	cr_assert(strstr(r.body, "FN:Oliver Daboo&#13;\n"));
	cr_assert(strstr(r.body, "FN:Bernard Desruisseaux&#13;\n"), "%s", r.body);
	cr_assert(!strstr(r.body, "EMAIL"));
	cr_assert_eq(count_of(r.body, "404 Not Found"), 4, "%s", r.body);
	free(r.raw);
	/* the whole vCard, byte for byte */
	r = report("<C:addressbook-multiget " CARD_NS "><D:prop><C:address-data/></D:prop>"
		   "<D:href>" BOOK "v102.vcf</D:href></C:addressbook-multiget>");
	char want[512];
	size_t k = 0;
	for (const char *p = CARDS[0][1]; *p; p++) {
		if (*p == '\r') {
			memcpy(want + k, "&#13;", 5);
			k += 5;
		} else {
			want[k++] = *p;
		}
	}
	want[k] = '\0';
	cr_assert(strstr(r.body, want), "%s", r.body);
	free(r.raw);
}

Test(carddav_report, sync_collection_and_supported_reports)
{
	load();
	reply r = report("<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-level>1"
			 "</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(hits(r.body), V102 | V104 | V105 | V106);
	free(r.raw);
	r = req("PROPFIND", BOOK, ALICE XMLH "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:supported-report-set/></D:prop></D:propfind>");
	cr_assert(strstr(r.body, "<CARD:addressbook-query/>"), "%s", r.body);
	cr_assert(strstr(r.body, "<CARD:addressbook-multiget/>"));
	cr_assert(strstr(r.body, "<D:sync-collection/>"));
	cr_assert(!strstr(r.body, "calendar-query"));
	free(r.raw);
}

Test(carddav_report, failures)
{
	load();
	struct {
		const char *body;
		int status;
		const char *cond;
	} cases[] = {
		{ "<C:addressbook-query " CARD_NS "><C:filter><C:prop-filter name=\"FN\"><C:text-match "
		  "collation=\"i;klingon\">x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>",
		  403, "supported-collation" },
		{ "<C:addressbook-query " CARD_NS "><C:filter><C:prop-filter name=\"FN\"><C:text-match "
		  "match-type=\"sounds-like\">x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>",
		  403, "supported-filter" },
		{ "<C:addressbook-query " CARD_NS "><C:filter test=\"someof\"/></C:addressbook-query>", 400,
		  "valid-filter" },
		{ "<C:addressbook-query " CARD_NS "><C:filter><C:prop-filter/></C:filter></C:addressbook-query>",
		  400, "valid-filter" },
		{ "<C:addressbook-query " CARD_NS "/>", 400, "valid-filter" },
		{ "<C:addressbook-query " CARD_NS "><C:filter/><C:limit><C:nresults>-1</C:nresults></C:limit>"
		  "</C:addressbook-query>", 400, NULL },
		{ "<C:addressbook-query " CARD_NS "><D:prop><C:address-data content-type=\"text/html\"/>"
		  "</D:prop><C:filter/></C:addressbook-query>", 403, "supported-address-data" },
		{ "<C:addressbook-query " CARD_NS "><D:prop><C:address-data><C:bogus/></C:address-data>"
		  "</D:prop><C:filter/></C:addressbook-query>", 400, NULL },
		{ "<C:addressbook-query", 400, NULL },
		{ "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>", 403, "supported-report" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reply r = report(cases[i].body);
		cr_assert_eq(r.status, cases[i].status, "%s\n%s", cases[i].body, r.raw);
		if (cases[i].cond)
			cr_assert(strstr(r.body, cases[i].cond), "%s", r.body);
		free(r.raw);
	}
}

Test(carddav_report, put_uid_conflict_and_size)
{
	load();
	/* v104's UID under another name */
	reply r = req("PUT", BOOK "copy.vcf", ALICE "Content-Type: text/vcard\r\n",
		      "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nUID:34222-23222@example.com\r\nEND:VCARD\r\n");
	cr_assert_eq(r.status, 403, "%s", r.raw);
	cr_assert(strstr(r.body, "<CARD:no-uid-conflict><D:href>" BOOK "v104.vcf</D:href>"), "%s", r.body);
	free(r.raw);
	expect("GET", BOOK "copy.vcf", ALICE, NULL, 404);
	/* a folded UID is unfolded before comparing */
	r = req("PUT", BOOK "copy.vcf", ALICE "Content-Type: text/vcard\r\n",
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nUID:34222-232\r\n @example.com\r\nEND:VCARD\r\n");
	cr_assert_eq(r.status, 403, "%s", r.raw);
	cr_assert(strstr(r.body, "v102.vcf"));
	free(r.raw);
	/* overwriting the owner itself is fine */
	expect("PUT", BOOK "v104.vcf", ALICE "Content-Type: text/vcard\r\n",
	       "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Oliver\r\nUID:34222-23222@example.com\r\nEND:VCARD\r\n", 204);
	r = req("PROPFIND", BOOK, ALICE XMLH "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:prop>"
		"<C:max-resource-size/></D:prop></D:propfind>");
	cr_assert(strstr(r.body, "<CARD:max-resource-size>1048576</CARD:max-resource-size>"), "%s", r.body);
	free(r.raw);
}
