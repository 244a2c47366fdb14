/* The DAV server driven in memory: requests are fed to an HTTP session
 * whose transport is a buffer, against a mem: store (dav_harness.h). */
#include "dav_harness.h"

TestSuite(dav, .init = setup, .fini = teardown);

#define ICS(uid, summary)                                                             \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" uid \
	"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nSUMMARY:" summary  \
	"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

static void head_of(grove_oid *out)
{
	cr_assert_eq(grove_branch_head(G, "main", out), 0);
}

static void mkcal(void)
{
	expect("MKCALENDAR", "/dav/alice/calendars/work/", ALICE, NULL, 201);
}

Test(dav, options_and_well_known)
{
	reply r = req("OPTIONS", "/dav/", NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(header(&r, "DAV"), "calendar-access"));
	cr_assert(strstr(header(&r, "DAV"), "addressbook"));
	cr_assert(strstr(header(&r, "Allow"), "PROPFIND"));
	free(r.raw);
	r = req("GET", "/.well-known/caldav", NULL, NULL);
	cr_assert_eq(r.status, 301);
	cr_assert_str_eq(header(&r, "Location"), "/dav/");
	free(r.raw);
	r = req("PROPFIND", "/.well-known/carddav", NULL, NULL);
	cr_assert_eq(r.status, 301);
	free(r.raw);
}

Test(dav, authentication_required)
{
	expect("PROPFIND", "/dav/alice/", "Depth: 0\r\n", NULL, 401);
	expect("PROPFIND", "/dav/alice/", "Depth: 0\r\nAuthorization: Basic YWxpY2U6d3Jvbmc=\r\n",
	       NULL, 401);
}

Test(dav, put_get_etag_and_conditions)
{
	mkcal();
	grove_oid before;
	head_of(&before);
	reply r = req("PUT", "/dav/alice/calendars/work/e1.ics",
		      ALICE "Content-Type: text/calendar\r\nIf-None-Match: *\r\n", ICS("e1", "one"));
	cr_assert_eq(r.status, 201, "%s", r.raw);
	char etag[64];
	strcpy(etag, header(&r, "ETag"));
	free(r.raw);
	/* the ETag is the blob id of the stored bytes */
	grove_oid blob;
	char hex[41], want[64];
	grove_object_hash(GROVE_OBJ_BLOB, ICS("e1", "one"), strlen(ICS("e1", "one")), &blob);
	snprintf(want, sizeof(want), "\"%s\"", grove_oid_tohex(hex, &blob));
	cr_assert_str_eq(etag, want);
	/* one commit by alice naming the request */
	grove_oid h;
	head_of(&h);
	grove_commit *cm;
	cr_assert_eq(grove_commit_read(G, &h, &cm), 0);
	cr_assert_str_eq(cm->author.name, "alice");
	cr_assert(strstr(cm->message, "PUT /dav/alice/calendars/work/e1.ics"), "%s", cm->message);
	cr_assert(strstr(cm->message, "test-agent"), "%s", cm->message);
	cr_assert_eq(cm->parent_count, 1);
	cr_assert_eq(grove_oid_cmp(&cm->parents[0], &before), 0);
	grove_commit_free(cm);

	r = req("GET", "/dav/alice/calendars/work/e1.ics", ALICE, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(header(&r, "ETag"), etag);
	cr_assert(strstr(header(&r, "Content-Type"), "text/calendar"));
	cr_assert_not_null(header(&r, "Last-Modified"));
	cr_assert_str_eq(r.body, ICS("e1", "one"));
	free(r.raw);
	r = req("HEAD", "/dav/alice/calendars/work/e1.ics", ALICE, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "");
	free(r.raw);

	/* If-None-Match: * on an existing resource */
	expect("PUT", "/dav/alice/calendars/work/e1.ics", ALICE "If-None-Match: *\r\n",
	       ICS("e1", "two"), 412);
	/* stale If-Match */
	expect("PUT", "/dav/alice/calendars/work/e1.ics",
	       ALICE "If-Match: \"0000000000000000000000000000000000000000\"\r\n",
	       ICS("e1", "two"), 412);
	char im[128];
	snprintf(im, sizeof(im), ALICE "If-Match: %s\r\n", etag);
	expect("PUT", "/dav/alice/calendars/work/e1.ics", im, ICS("e1", "two"), 204);
	/* the old ETag is stale now */
	expect("PUT", "/dav/alice/calendars/work/e1.ics", im, ICS("e1", "three"), 412);
	expect("DELETE", "/dav/alice/calendars/work/e1.ics", im, NULL, 412);
	expect("DELETE", "/dav/alice/calendars/work/e1.ics", ALICE, NULL, 204);
	expect("GET", "/dav/alice/calendars/work/e1.ics", ALICE, NULL, 404);
	expect("DELETE", "/dav/alice/calendars/work/e1.ics", ALICE, NULL, 404);
}

Test(dav, put_into_missing_collection_conflicts)
{
	expect("PUT", "/dav/alice/calendars/nope/e1.ics", ALICE, ICS("e1", "x"), 409);
}

Test(dav, invalid_calendar_data_leaves_store_unchanged)
{
	mkcal();
	grove_oid before, after;
	head_of(&before);
	const char *bad[] = {
		"garbage",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nDTSTAMP:20240101T000000Z\r\n"
		"DTSTART:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", /* no UID */
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\n"
		"DTSTAMP:20240101T000000Z\r\nDTSTART:notadate\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nUID:1\r\nEND:VCARD\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reply r = req("PUT", "/dav/alice/calendars/work/bad.ics", ALICE, bad[i]);
		cr_assert_eq(r.status, 403, "case %zu: %s", i, r.raw);
		cr_assert(strstr(r.body, "valid-calendar"), "%s", r.body);
		free(r.raw);
	}
	expect("PUT", "/dav/alice/calendars/work/bad.ics", ALICE "Content-Type: text/plain\r\n",
	       ICS("1", "x"), 403);
	head_of(&after);
	cr_assert_eq(grove_oid_cmp(&before, &after), 0, "nothing committed");
}

Test(dav, vcards)
{
	expect("MKCOL", "/dav/alice/addressbooks/friends/", ALICE,
	       "<?xml version=\"1.0\"?><D:mkcol xmlns:D=\"DAV:\" "
	       "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop><D:resourcetype>"
	       "<D:collection/><C:addressbook/></D:resourcetype><D:displayname>Friends"
	       "</D:displayname></D:prop></D:set></D:mkcol>", 201);
	expect("PUT", "/dav/alice/addressbooks/friends/a.vcf", ALICE "Content-Type: text/vcard\r\n",
	       "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nUID:a\r\nEND:VCARD\r\n", 201);
	expect("PUT", "/dav/alice/addressbooks/friends/b.vcf", ALICE,
	       "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nEND:VCARD\r\n", 403); /* no FN */
	expect("PUT", "/dav/alice/addressbooks/friends/b.vcf", ALICE,
	       "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:b\r\nUID:b\r\n", 403); /* no END */
	reply r = req("GET", "/dav/alice/addressbooks/friends/a.vcf", ALICE, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(header(&r, "Content-Type"), "text/vcard"));
	free(r.raw);
	/* MKCOL with a calendar resourcetype in an address book home */
	expect("MKCOL", "/dav/alice/addressbooks/x/", ALICE,
	       "<D:mkcol xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>"
	       "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set>"
	       "</D:mkcol>", 403);
}

Test(dav, propfind_depths)
{
	mkcal();
	expect("PUT", "/dav/alice/calendars/work/e1.ics", ALICE, ICS("e1", "one"), 201);
	expect("PUT", "/dav/alice/calendars/work/e2.ics", ALICE, ICS("e2", "two"), 201);
	reply r = req("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: 0\r\n", NULL);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "<C:calendar/>"), "%s", r.body);
	cr_assert_null(strstr(r.body, "e1.ics"));
	free(r.raw);
	r = req("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: 1\r\n",
		"<D:propfind xmlns:D=\"DAV:\" xmlns:CS=\"http://calendarserver.org/ns/\">"
		"<D:prop><D:getetag/><CS:getctag/><D:sync-token/><D:nonexistent/></D:prop>"
		"</D:propfind>");
	cr_assert_eq(r.status, 207);
	cr_assert(strstr(r.body, "<D:href>/dav/alice/calendars/work/e1.ics</D:href>"), "%s", r.body);
	cr_assert(strstr(r.body, "<D:href>/dav/alice/calendars/work/e2.ics</D:href>"));
	cr_assert(strstr(r.body, "<CS:getctag>"));
	cr_assert(strstr(r.body, "http://grove/sync/"));
	cr_assert(strstr(r.body, "<D:nonexistent/>"));
	cr_assert(strstr(r.body, "404 Not Found"));
	cr_assert_null(strstr(r.body, ".props"));
	free(r.raw);
	r = req("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: infinity\r\n", NULL);
	cr_assert_eq(r.status, 403);
	cr_assert(strstr(r.body, "propfind-finite-depth"));
	free(r.raw);
	expect("PROPFIND", "/dav/alice/calendars/work/", ALICE, NULL, 403);
	/* discovery from the root */
	r = req("PROPFIND", "/dav/", ALICE "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:current-user-principal/></D:prop></D:propfind>");
	cr_assert(strstr(r.body, "<D:current-user-principal><D:href>/dav/alice/</D:href>"), "%s", r.body);
	free(r.raw);
	r = req("PROPFIND", "/dav/alice/", ALICE "Depth: 1\r\n",
		"<D:propfind xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop>"
		"<C:calendar-home-set/><D:resourcetype/></D:prop></D:propfind>");
	cr_assert(strstr(r.body, "<C:calendar-home-set><D:href>/dav/alice/calendars/</D:href>"), "%s", r.body);
	cr_assert(strstr(r.body, "<D:principal/>"));
	cr_assert(strstr(r.body, "/dav/alice/addressbooks/"));
	free(r.raw);
	r = req("PROPFIND", "/dav/alice/calendars/", ALICE "Depth: 1\r\n", NULL);
	cr_assert(strstr(r.body, "/dav/alice/calendars/work/"), "%s", r.body);
	free(r.raw);
	r = req("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\"><D:propname/></D:propfind>");
	cr_assert(strstr(r.body, "<D:sync-token/>"), "%s", r.body);
	free(r.raw);
	expect("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: 0\r\n", "<D:propfind", 400);
	expect("PROPFIND", "/dav/alice/calendars/missing/", ALICE "Depth: 0\r\n", NULL, 404);
}

Test(dav, proppatch_is_atomic)
{
	mkcal();
	reply r = req("PROPPATCH", "/dav/alice/calendars/work/", ALICE,
		      "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:A=\"http://apple.com/ns/ical/\">"
		      "<D:set><D:prop><D:displayname>Work &amp; play</D:displayname>"
		      "<A:calendar-color>#FF0000</A:calendar-color>"
		      "<A:x><A:y z=\"1\">deep</A:y></A:x></D:prop></D:set></D:propertyupdate>");
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_null(strstr(r.body, "424"));
	free(r.raw);
	grove_oid before, after;
	head_of(&before);
	r = req("PROPPATCH", "/dav/alice/calendars/work/", ALICE,
		"<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:displayname>Other"
		"</D:displayname><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>");
	cr_assert_eq(r.status, 207);
	cr_assert(strstr(r.body, "403 Forbidden"), "%s", r.body);
	cr_assert(strstr(r.body, "424 Failed Dependency"), "%s", r.body);
	free(r.raw);
	head_of(&after);
	cr_assert_eq(grove_oid_cmp(&before, &after), 0, "a failed PROPPATCH commits nothing");
	r = req("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: 0\r\n", NULL);
	cr_assert(strstr(r.body, "<D:displayname>Work &amp; play</D:displayname>"), "%s", r.body);
	cr_assert(strstr(r.body, "#FF0000"));
	cr_assert(strstr(r.body, "<y z=\"1\">deep</y>"), "%s", r.body);
	free(r.raw);
	/* the .props file is readable text */
	grove_buf b;
	cr_assert_eq(grove_get(G, "main", "alice/calendars/work/.props", &b), 0);
	cr_assert(strstr(b.data, "{DAV:}displayname: Work & play\n"), "%.*s", (int)b.size, (char *)b.data);
	grove_buf_dispose(&b);
	r = req("PROPPATCH", "/dav/alice/calendars/work/", ALICE,
		"<D:propertyupdate xmlns:D=\"DAV:\"><D:remove><D:prop><D:displayname/></D:prop>"
		"</D:remove></D:propertyupdate>");
	cr_assert_eq(r.status, 207);
	free(r.raw);
	r = req("PROPFIND", "/dav/alice/calendars/work/", ALICE "Depth: 0\r\n", NULL);
	cr_assert_null(strstr(r.body, "Work &amp; play"));
	free(r.raw);
}

Test(dav, mkcalendar_rules)
{
	expect("MKCALENDAR", "/dav/alice/calendars/tasks/", ALICE,
	       "<C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set>"
	       "<D:prop><D:displayname>Tasks</D:displayname><C:supported-calendar-component-set>"
	       "<C:comp name=\"VTODO\"/></C:supported-calendar-component-set></D:prop></D:set>"
	       "</C:mkcalendar>", 201);
	expect("MKCALENDAR", "/dav/alice/calendars/tasks/", ALICE, NULL, 405);
	/* an event in a VTODO-only calendar */
	reply r = req("PUT", "/dav/alice/calendars/tasks/e.ics", ALICE, ICS("e", "x"));
	cr_assert_eq(r.status, 403);
	cr_assert(strstr(r.body, "supported-calendar-component"), "%s", r.body);
	free(r.raw);
	expect("MKCALENDAR", "/dav/alice/addressbooks/x/", ALICE, NULL, 405);
	expect("MKCALENDAR", "/dav/alice/calendars/", ALICE, NULL, 405);
	expect("MKCALENDAR", "/dav/alice/calendars/y/", ALICE, "<a>", 400);
}

Test(dav, copy_and_move)
{
	mkcal();
	expect("MKCALENDAR", "/dav/alice/calendars/home/", ALICE, NULL, 201);
	expect("PUT", "/dav/alice/calendars/work/e1.ics", ALICE, ICS("e1", "one"), 201);
	expect("COPY", "/dav/alice/calendars/work/e1.ics",
	       ALICE "Destination: http://x/dav/alice/calendars/home/e1.ics\r\n", NULL, 201);
	expect("GET", "/dav/alice/calendars/home/e1.ics", ALICE, NULL, 200);
	expect("COPY", "/dav/alice/calendars/work/e1.ics",
	       ALICE "Destination: /dav/alice/calendars/home/e1.ics\r\nOverwrite: F\r\n", NULL, 412);
	expect("COPY", "/dav/alice/calendars/work/e1.ics",
	       ALICE "Destination: /dav/alice/calendars/home/e1.ics\r\n", NULL, 204);
	expect("MOVE", "/dav/alice/calendars/work/e1.ics",
	       ALICE "Destination: /dav/alice/calendars/home/moved.ics\r\n", NULL, 201);
	expect("GET", "/dav/alice/calendars/work/e1.ics", ALICE, NULL, 404);
	expect("GET", "/dav/alice/calendars/home/moved.ics", ALICE, NULL, 200);
	expect("MOVE", "/dav/alice/calendars/home/moved.ics",
	       ALICE "Destination: /dav/bob/calendars/x/moved.ics\r\n", NULL, 502);
	expect("MOVE", "/dav/alice/calendars/home/moved.ics",
	       ALICE "Destination: /dav/alice/calendars/nope/moved.ics\r\n", NULL, 409);
	/* a whole calendar */
	expect("MOVE", "/dav/alice/calendars/home/",
	       ALICE "Destination: /dav/alice/calendars/renamed/\r\n", NULL, 201);
	expect("GET", "/dav/alice/calendars/renamed/moved.ics", ALICE, NULL, 200);
	expect("PROPFIND", "/dav/alice/calendars/home/", ALICE "Depth: 0\r\n", NULL, 404);
	expect("COPY", "/dav/alice/calendars/renamed/nothere.ics",
	       ALICE "Destination: /dav/alice/calendars/work/e1.ics\r\n", NULL, 404);
}

Test(dav, traversal_and_other_users)
{
	mkcal();
	expect("PUT", "/dav/alice/calendars/work/e1.ics", ALICE, ICS("e1", "one"), 201);
	grove_oid before, after;
	head_of(&before);
	expect("GET", "/dav/alice/calendars/work/../work/e1.ics", ALICE, NULL, 400);
	expect("GET", "/dav/alice/calendars/work/%2e%2e/work/e1.ics", ALICE, NULL, 400);
	expect("GET", "/dav/alice/calendars%2fwork/e1.ics", ALICE, NULL, 400);
	expect("GET", "/dav/alice/calendars/work/e1%00.ics", ALICE, NULL, 400);
	expect("GET", "/dav/alice/calendars/work/.props", ALICE, NULL, 404);
	expect("PUT", "/dav/alice/calendars/work/.props", ALICE, ICS("x", "x"), 404);
	expect("PUT", "/dav/alice/calendars/work/%2e%2e/%2e%2e/x.ics", ALICE, ICS("x", "x"), 400);
	expect("GET", "/dav/alice//calendars/work/e1.ics", ALICE, NULL, 400);
	expect("GET", "/dav/alice/other/work/e1.ics", ALICE, NULL, 404);
	/* bob sees nothing of alice's */
	expect("GET", "/dav/alice/calendars/work/e1.ics", BOB, NULL, 404);
	expect("PROPFIND", "/dav/alice/", BOB "Depth: 0\r\n", NULL, 404);
	expect("PUT", "/dav/alice/calendars/work/e2.ics", BOB, ICS("e2", "x"), 404);
	expect("DELETE", "/dav/alice/calendars/work/", BOB, NULL, 404);
	head_of(&after);
	cr_assert_eq(grove_oid_cmp(&before, &after), 0);
	/* unknown or unsupported methods */
	expect("PATCH", "/dav/alice/calendars/work/e1.ics", ALICE, NULL, 501);
	expect("LOCK", "/dav/alice/calendars/work/e1.ics", ALICE, NULL, 501);
	expect("FROB", "/dav/alice/", ALICE, NULL, 501);
}

/* Two writers prepared against the same head: both land, the second by
 * rebasing; a stale If-Match found on the retry gives 412. */
typedef struct {
	grove__dav_ctx *c;
	const char *key, *data;
	int calls;
} two_op;

static int two_check(void *arg, grove_view *base)
{
	(void)base;
	((two_op *)arg)->calls++;
	return 0;
}

static int two_build(void *arg, grove_txn *txn, grove_view *base)
{
	two_op *op = arg;
	two_check(arg, base);
	return grove_txn_set(txn, op->key, op->data, strlen(op->data)) < 0 ? 500 : 0;
}

Test(dav, concurrent_puts_both_land)
{
	mkcal();
	grove_oid head;
	head_of(&head);
	/* a competing commit lands between begin and commit of our write:
	 * simulate by committing directly inside the first build */
	grove_txn *other;
	cr_assert_eq(grove_txn_begin(&other, G, "main"), 0);
	cr_assert_eq(grove_txn_set(other, "alice/calendars/work/a.ics", "A", 1), 0);
	two_op op = { NULL, "alice/calendars/work/b.ics", "B", 0 };
	grove_txn *mine;
	cr_assert_eq(grove_txn_begin(&mine, G, "main"), 0);
	cr_assert_eq(grove_txn_set(mine, op.key, "B", 1), 0);
	cr_assert_eq(grove_txn_commit(other, NULL, NULL), 0);
	grove_txn_free(other);
	/* our transaction is now stale: the DAV commit loop must rebase */
	cr_assert_eq(grove_txn_commit(mine, NULL, NULL), GROVE_EHEADMOVED);
	grove_txn_free(mine);

	grove__dav_store st = { G, "main", "localhost" };
	grove__dav_write w = { two_build, two_check, &op };
	grove__dav_change ch = { "alice", "PUT", "/dav/alice/calendars/work/b.ics", NULL, NULL };
	grove_oid out;
	cr_assert_eq(grove__dav_commit(&st, &w, &ch, &out), 0);
	cr_assert(grove_exists(G, "main", "alice/calendars/work/a.ics") == 1);
	cr_assert(grove_exists(G, "main", "alice/calendars/work/b.ics") == 1);
}

/* A write whose build runs while another commit sneaks in: the commit loop
 * sees GROVE_EHEADMOVED, rebases, rechecks, and both changes survive. */
typedef struct {
	int sneaked;
	int rechecks;
	const char *recheck_status_key; /* when set: 412 if this key changed */
	grove_oid seen;
} race_op;

static int race_recheck(void *arg, grove_view *base)
{
	race_op *op = arg;
	op->rechecks++;
	if (op->recheck_status_key) {
		grove_oid id;
		grove_kind k;
		if (grove_view_id(base, op->recheck_status_key, &id, &k) < 0 ||
		    grove_oid_cmp(&id, &op->seen) != 0)
			return 412;
	}
	return 0;
}

static int race_build(void *arg, grove_txn *txn, grove_view *base)
{
	race_op *op = arg;
	if (op->recheck_status_key) {
		grove_kind k;
		grove_view_id(base, op->recheck_status_key, &op->seen, &k);
	}
	if (!op->sneaked) {
		op->sneaked = 1;
		/* another request commits after our base was read */
		const char *v = op->recheck_status_key ? "X3" : "X2";
		cr_assert_eq(grove_set(G, "main", "alice/calendars/work/x.ics", v, 2, NULL, NULL), 0);
	}
	return grove_txn_set(txn, "alice/calendars/work/y.ics", "Y", 1) < 0 ? 500 : 0;
}

Test(dav, commit_loop_rebases_and_rechecks)
{
	mkcal();
	cr_assert_eq(grove_set(G, "main", "alice/calendars/work/x.ics", "X1", 2, NULL, NULL), 0);
	grove__dav_store st = { G, "main", "localhost" };
	grove__dav_change ch = { "alice", "PUT", "/dav/alice/calendars/work/y.ics", "ua", NULL };
	grove_oid out;
	race_op op = { 0 };
	grove__dav_write w = { race_build, race_recheck, &op };
	cr_assert_eq(grove__dav_commit(&st, &w, &ch, &out), 0);
	cr_assert_eq(op.rechecks, 1, "rebased once");
	grove_buf b;
	cr_assert_eq(grove_get(G, "main", "alice/calendars/work/x.ics", &b), 0);
	cr_assert_eq(b.size, 2);
	cr_assert_eq(memcmp(b.data, "X2", 2), 0, "the concurrent write survived");
	grove_buf_dispose(&b);
	cr_assert(grove_exists(G, "main", "alice/calendars/work/y.ics") == 1);

	/* now the precondition depends on x.ics, which the racer changes */
	race_op op2 = { 0, 0, "alice/calendars/work/x.ics", { { 0 } } };
	grove__dav_write w2 = { race_build, race_recheck, &op2 };
	grove_oid before, after;
	head_of(&before);
	cr_assert_eq(grove__dav_commit(&st, &w2, &ch, &out), 412);
	head_of(&after);
	cr_assert_neq(grove_oid_cmp(&before, &after), 0, "only the racer committed");
	cr_assert_eq(grove_get(G, "main", "alice/calendars/work/y.ics", &b), 0);
	grove_buf_dispose(&b);
}

Test(dav, props_file_round_trip)
{
	grove__dav_props p = { 0 };
	cr_assert_eq(grove__dav_props_set(&p, "type", "calendar", 0), 0);
	cr_assert_eq(grove__dav_props_set(&p, "{urn:ietf:params:xml:ns:caldav}calendar-timezone",
					  "BEGIN:VCALENDAR\r\nX:a\\b\r\nEND:VCALENDAR\r\n", 0), 0);
	cr_assert_eq(grove__dav_props_set(&p, "{urn:x}c", "<c xmlns=\"urn:x\"><a>1</a></c>", 1), 0);
	cr_assert_eq(grove__dav_props_set(&p, "{DAV:}displayname", "", 0), 0);
	grove__sbuf out = GROVE_SBUF_INIT;
	cr_assert_eq(grove__dav_props_format(&p, &out), 0);
	cr_assert_null(strchr(strchr(out.data, '\n') + 1, '\r'));
	grove__dav_props q;
	cr_assert_eq(grove__dav_props_parse(&q, out.data, out.len), 0);
	cr_assert_eq(q.count, p.count);
	for (size_t i = 0; i < p.count; i++) {
		cr_assert_str_eq(q.items[i].name, p.items[i].name);
		cr_assert_str_eq(q.items[i].value, p.items[i].value);
		cr_assert_eq(q.items[i].is_xml, p.items[i].is_xml);
	}
	grove__dav_props_dispose(&q);
	cr_assert_eq(grove__dav_props_parse(&q, "{unterminated", 13), GROVE_EINVALID);
	cr_assert_eq(grove__dav_props_parse(&q, "novalue", 7), GROVE_EINVALID);
	grove__sbuf_dispose(&out);
	grove__dav_props_dispose(&p);
}

/* ---- the plain WebDAV area /dav/<user>/files/ ------------------------------------ */

#define FILES "/dav/alice/files/"

/* The value at key on main, or NULL (to free). */
static char *stored_value(const char *key)
{
	grove_buf b = { 0 };
	if (grove_get(G, "main", key, &b) < 0)
		return NULL;
	char *s = strndup(b.data, b.size);
	grove_buf_dispose(&b);
	return s;
}

static int stored_exists(const char *key)
{
	grove_view *v;
	grove_oid id;
	grove_kind kind;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	int rc = grove_view_id(v, key, &id, &kind);
	grove_view_free(v);
	return rc == 0;
}

static void assert_head_is(const grove_oid *before, const char *what)
{
	grove_oid now;
	head_of(&now);
	cr_assert(grove_oid_cmp(before, &now) == 0, "%s changed the store", what);
}

Test(dav, files_put_any_bytes_one_commit_by_the_user)
{
	static const char data[] = "plain text, not iCalendar \xe2\x82\xac\n";
	reply r = req("PUT", FILES "a.txt", ALICE "Content-Type: application/x-whatever\r\n", data);
	cr_assert_eq(r.status, 201, "%s", r.raw);
	cr_assert_not_null(header(&r, "ETag"));
	free(r.raw);
	r = req("GET", FILES "a.txt", ALICE, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, data);
	cr_assert(strstr(header(&r, "Content-Type"), "text/plain"));
	free(r.raw);
	char *v = stored_value("alice/files/a.txt");
	cr_assert_str_eq(v, data); /* the bytes as they are: a git clone shows the file */
	free(v);
	cr_assert(!stored_exists("alice/files/.props.d"), "no sidecar without dead properties");
	grove_oid head;
	grove_commit *cm;
	head_of(&head);
	cr_assert_eq(grove_commit_read(G, &head, &cm), 0);
	cr_assert_str_eq(cm->author.name, "alice");
	cr_assert(strstr(cm->message, "PUT /dav/alice/files/a.txt"), "%s", cm->message);
	grove_commit_free(cm);
	expect("PUT", FILES "a.txt", ALICE, "replaced", 204);
	/* the files root is a collection that always exists */
	expect("PROPFIND", FILES, ALICE "Depth: 1\r\n", NULL, 207);
	expect("PUT", FILES, ALICE, "x", 405);
}

Test(dav, files_put_into_missing_collection_conflicts)
{
	expect("PUT", FILES "a.txt", ALICE, "x", 201);
	grove_oid before;
	head_of(&before);
	expect("PUT", FILES "nope/x.txt", ALICE, "x", 409);
	expect("PUT", FILES "a.txt/x.txt", ALICE, "x", 409); /* parent is a resource */
	assert_head_is(&before, "a refused PUT");
}

Test(dav, files_mkcol_rules)
{
	expect("MKCOL", FILES "c/", ALICE, NULL, 201);
	expect("MKCOL", FILES "c/d", ALICE, NULL, 201); /* nested, no trailing '/' */
	cr_assert(stored_exists("alice/files/c/d/.props"));
	char *p = stored_value("alice/files/c/d/.props");
	cr_assert(strstr(p, "type: collection"), "%s", p);
	free(p);
	expect("PUT", FILES "c/f.bin", ALICE, "bytes", 201);
	grove_oid before;
	head_of(&before);
	expect("MKCOL", FILES "c/", ALICE, NULL, 405);        /* exists */
	expect("MKCOL", FILES "c/f.bin", ALICE, NULL, 405);   /* a resource is there */
	expect("MKCOL", FILES, ALICE, NULL, 405);             /* the files root */
	expect("MKCOL", FILES "x/y/", ALICE, NULL, 409);      /* missing parent */
	expect("MKCOL", FILES "c/f.bin/z/", ALICE, NULL, 409); /* parent is a resource */
	expect("MKCOL", FILES "b/", ALICE "Content-Type: xzy-foo/bar-512\r\n", "afafafaf", 415);
	expect("MKCOL", FILES "b/", ALICE "Content-Type: text/xml\r\n",
	       "<?xml version=\"1.0\"?><x:other xmlns:x=\"urn:x\"/>", 415);
	expect("MKCOL", FILES "b/", ALICE "Content-Type: text/xml\r\n", "<broken", 400);
	expect("MKCOL", FILES "b/", ALICE,
	       "<D:mkcol xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>"
	       "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set>"
	       "</D:mkcol>", 403);
	expect("MKCALENDAR", FILES "b/", ALICE, NULL, 403);
	assert_head_is(&before, "a refused MKCOL");
	/* extended MKCOL with a dead property */
	expect("MKCOL", FILES "b/", ALICE,
	       "<D:mkcol xmlns:D=\"DAV:\"><D:set><D:prop><D:resourcetype><D:collection/>"
	       "</D:resourcetype><D:displayname>Bee</D:displayname></D:prop></D:set></D:mkcol>",
	       201);
	reply r = req("PROPFIND", FILES "b/", ALICE "Depth: 0\r\n", NULL);
	cr_assert(strstr(r.body, "<D:displayname>Bee</D:displayname>"), "%s", r.body);
	cr_assert(strstr(r.body, "<D:resourcetype><D:collection/></D:resourcetype>"), "%s", r.body);
	cr_assert(!strstr(r.body, "<C:calendar"), "%s", r.body);
	free(r.raw);
}

Test(dav, files_collections_list_and_delete_recursively)
{
	expect("MKCOL", FILES "c/", ALICE, NULL, 201);
	expect("MKCOL", FILES "c/d/", ALICE, NULL, 201);
	expect("PUT", FILES "c/d/f", ALICE, "f", 201);
	expect("PUT", FILES "c/g", ALICE, "g", 201);
	expect("PROPPATCH", FILES "c/g", ALICE,
	       "<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><z xmlns=\"urn:z\">1</z>"
	       "</D:prop></D:set></D:propertyupdate>", 207);
	reply r = req("PROPFIND", FILES "c", ALICE "Depth: 1\r\n", NULL);
	cr_assert_eq(r.status, 207);
	cr_assert(strstr(r.body, "<D:href>/dav/alice/files/c/</D:href>"), "%s", r.body);
	cr_assert(strstr(r.body, "<D:href>/dav/alice/files/c/d/</D:href>"), "%s", r.body);
	cr_assert(strstr(r.body, "<D:href>/dav/alice/files/c/g</D:href>"), "%s", r.body);
	cr_assert(!strstr(r.body, ".props"), "hidden files listed: %s", r.body);
	free(r.raw);
	expect("DELETE", FILES "c/g", ALICE, NULL, 204);
	cr_assert(!stored_exists("alice/files/c/.props.d/g"), "the sidecar goes with the resource");
	expect("DELETE", FILES "c/", ALICE, NULL, 204);
	cr_assert(!stored_exists("alice/files/c"));
	expect("GET", FILES "c/d/f", ALICE, NULL, 404);
	grove_oid before;
	head_of(&before);
	expect("DELETE", FILES "c/", ALICE, NULL, 404);
	expect("DELETE", FILES, ALICE, NULL, 403);
	expect("DELETE", FILES ".props", ALICE, NULL, 404);
	assert_head_is(&before, "a refused DELETE");
}

Test(dav, files_fragment_in_target_is_refused)
{
	expect("MKCOL", FILES "frag/", ALICE, NULL, 201);
	expect("DELETE", FILES "frag/#ment", ALICE, NULL, 400);
	cr_assert(stored_exists("alice/files/frag/.props"), "the collection survives");
}

Test(dav, files_copy_and_move)
{
	expect("PUT", FILES "src", ALICE, "source", 201);
	expect("PROPPATCH", FILES "src", ALICE,
	       "<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><p xmlns=\"urn:p\">v</p>"
	       "</D:prop></D:set></D:propertyupdate>", 207);
	expect("MKCOL", FILES "coll/", ALICE, NULL, 201);
	expect("COPY", FILES "src", ALICE "Destination: http://x" FILES "dst\r\n", NULL, 201);
	char *v = stored_value("alice/files/dst");
	cr_assert_str_eq(v, "source");
	free(v);
	cr_assert(stored_exists("alice/files/.props.d/dst"), "dead properties are copied");
	grove_oid before;
	head_of(&before);
	expect("COPY", FILES "src", ALICE "Destination: " FILES "dst\r\nOverwrite: F\r\n", NULL, 412);
	expect("COPY", FILES "src", ALICE "Destination: " FILES "src\r\n", NULL, 403);
	expect("COPY", FILES "src", ALICE "Destination: " FILES "nope/dst\r\n", NULL, 409);
	expect("COPY", FILES "src", ALICE "Destination: " FILES "dst\r\nOverwrite: X\r\n", NULL, 400);
	expect("COPY", FILES "src", ALICE "Destination: /dav/alice/calendars/x/src\r\n", NULL, 409);
	expect("COPY", FILES "src", ALICE "Destination: " FILES "\r\n", NULL, 403);
	expect("COPY", FILES "coll/", ALICE "Destination: " FILES "coll/in/\r\n", NULL, 409);
	expect("COPY", FILES "coll/", ALICE "Destination: " FILES "c1/\r\nDepth: 1\r\n", NULL, 400);
	expect("MOVE", FILES "coll/", ALICE "Destination: " FILES "c1/\r\nDepth: 0\r\n", NULL, 400);
	expect("COPY", FILES "missing", ALICE "Destination: " FILES "m2\r\n", NULL, 404);
	assert_head_is(&before, "a refused COPY");
	expect("COPY", FILES "src", ALICE "Destination: " FILES "dst\r\nOverwrite: T\r\n", NULL, 204);
	/* collections: Depth infinity copies members, Depth 0 only the collection */
	expect("PUT", FILES "coll/m", ALICE, "member", 201);
	expect("MKCOL", FILES "coll/sub/", ALICE, NULL, 201);
	expect("COPY", FILES "coll/", ALICE "Destination: " FILES "deep/\r\n", NULL, 201);
	expect("GET", FILES "deep/m", ALICE, NULL, 200);
	expect("PROPFIND", FILES "deep/sub/", ALICE "Depth: 0\r\n", NULL, 207);
	expect("COPY", FILES "coll/", ALICE "Destination: " FILES "shallow/\r\nDepth: 0\r\n", NULL,
	       201);
	expect("PROPFIND", FILES "shallow/", ALICE "Depth: 0\r\n", NULL, 207);
	expect("GET", FILES "shallow/m", ALICE, NULL, 404);
	/* a resource onto a collection with Overwrite: T replaces it */
	expect("COPY", FILES "src", ALICE "Destination: " FILES "shallow\r\n", NULL, 204);
	expect("GET", FILES "shallow", ALICE, NULL, 200);
	/* MOVE takes the dead properties along */
	expect("MOVE", FILES "src", ALICE "Destination: " FILES "coll/moved\r\n", NULL, 201);
	expect("GET", FILES "src", ALICE, NULL, 404);
	cr_assert(!stored_exists("alice/files/.props.d/src"));
	reply r = req("PROPFIND", FILES "coll/moved", ALICE "Depth: 0\r\n",
		      "<D:propfind xmlns:D=\"DAV:\"><D:prop><p xmlns=\"urn:p\"/></D:prop></D:propfind>");
	cr_assert(strstr(r.body, ">v</"), "%s", r.body);
	free(r.raw);
	expect("MOVE", FILES "coll/", ALICE "Destination: " FILES "deep/\r\nOverwrite: F\r\n", NULL,
	       412);
	expect("MOVE", FILES "coll/", ALICE "Destination: " FILES "deep/\r\n", NULL, 204);
	expect("GET", FILES "deep/moved", ALICE, NULL, 200);
	cr_assert(!stored_exists("alice/files/coll"));
}

#define PATCH(body) \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propertyupdate xmlns:D=\"DAV:\">" body \
	"</D:propertyupdate>"

Test(dav, files_dead_properties_round_trip_exactly)
{
	expect("PUT", FILES "r", ALICE, "x", 201);
	reply r = req("PROPPATCH", FILES "r", ALICE,
		      PATCH("<D:set><D:prop xml:lang=\"de\">"
			    "<t:plain xmlns:t=\"urn:t\">text &amp; more</t:plain>"
			    "<t:mixed xmlns:t=\"urn:t\">a<b xmlns=\"urn:b\" k=\"1&#10;2\">B</b>c</t:mixed>"
			    "<t:hi xmlns:t=\"urn:t\">\xf0\x90\x80\x80</t:hi>"
			    "<nons xmlns=\"\">none</nons>"
			    "</D:prop></D:set>"
			    "<D:remove><D:prop><t:gone xmlns:t=\"urn:t\"/></D:prop></D:remove>"));
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert(strstr(r.body, "200 OK"), "%s", r.body);
	free(r.raw);
	char *side = stored_value("alice/files/.props.d/r");
	cr_assert_not_null(side, "the sidecar holds the resource's dead properties");
	cr_assert(strstr(side, "{urn:t}plain"), "%s", side);
	free(side);
	r = req("PROPFIND", FILES "r", ALICE "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\"><D:prop><t:plain xmlns:t=\"urn:t\"/>"
		"<t:mixed xmlns:t=\"urn:t\"/><t:hi xmlns:t=\"urn:t\"/><nons xmlns=\"\"/>"
		"<t:gone xmlns:t=\"urn:t\"/></D:prop></D:propfind>");
	cr_assert_eq(r.status, 207);
	/* xml:lang from <prop> stays with each value */
	cr_assert(strstr(r.body, "<plain xmlns=\"urn:t\" xml:lang=\"de\">text &amp; more</plain>"),
		  "%s", r.body);
	cr_assert(strstr(r.body, ">a<b xmlns=\"urn:b\" k=\"1&#10;2\">B</b>c</mixed>"), "%s", r.body);
	cr_assert(strstr(r.body, ">\xf0\x90\x80\x80</hi>"), "%s", r.body);
	cr_assert(strstr(r.body, "<nons xmlns=\"\" xml:lang=\"de\">none</nons>"), "%s", r.body);
	cr_assert(strstr(r.body, "404 Not Found"), "the removed one is missing: %s", r.body);
	free(r.raw);
	/* propname lists dead and live names */
	r = req("PROPFIND", FILES "r", ALICE "Depth: 0\r\n",
		"<D:propfind xmlns:D=\"DAV:\"><D:propname/></D:propfind>");
	cr_assert(strstr(r.body, "<D:getetag/>"), "%s", r.body);
	cr_assert(strstr(r.body, "<x:mixed xmlns:x=\"urn:t\"/>"), "%s", r.body);
	cr_assert(!strstr(r.body, "lockdiscovery"), "%s", r.body);
	free(r.raw);
	/* all or nothing: a protected property fails the whole request */
	grove_oid before;
	head_of(&before);
	r = req("PROPPATCH", FILES "r", ALICE,
		PATCH("<D:set><D:prop><t:new xmlns:t=\"urn:t\">1</t:new><D:getetag>x</D:getetag>"
		      "</D:prop></D:set>"));
	cr_assert(strstr(r.body, "403 Forbidden") && strstr(r.body, "424 Failed Dependency"),
		  "%s", r.body);
	free(r.raw);
	assert_head_is(&before, "a failed PROPPATCH");
	/* a namespace the props file cannot name: refused, nothing stored */
	r = req("PROPPATCH", FILES "r", ALICE,
		PATCH("<D:set><D:prop><t:odd xmlns:t=\"urn:a}b&#10;c\">1</t:odd></D:prop></D:set>"));
	cr_assert(strstr(r.body, "409 Conflict"), "%s", r.body);
	free(r.raw);
	assert_head_is(&before, "an unstorable property");
	expect("PROPPATCH", FILES "missing", ALICE,
	       PATCH("<D:set><D:prop><t:a xmlns:t=\"urn:t\">1</t:a></D:prop></D:set>"), 404);
	/* set then remove in one request, and removing the rest drops the sidecar */
	expect("PROPPATCH", FILES "r", ALICE,
	       PATCH("<D:set><D:prop><t:sr xmlns:t=\"urn:t\">1</t:sr></D:prop></D:set>"
		     "<D:remove><D:prop><t:sr xmlns:t=\"urn:t\"/><t:plain xmlns:t=\"urn:t\"/>"
		     "<t:mixed xmlns:t=\"urn:t\"/><t:hi xmlns:t=\"urn:t\"/><nons xmlns=\"\"/>"
		     "</D:prop></D:remove>"), 207);
	cr_assert(!stored_exists("alice/files/.props.d/r"), "an empty sidecar is removed");
}

Test(dav, files_dates_and_reason_phrases)
{
	expect("MKCOL", FILES "c/", ALICE, NULL, 201);
	expect("PUT", FILES "c/f", ALICE, "f", 201);
	reply r = req("PROPFIND", FILES "c/", ALICE "Depth: 1\r\n", NULL);
	char *cd = strstr(r.body, "<D:creationdate>");
	cr_assert_not_null(cd, "%s", r.body);
	int Y, M, D, h, m, s;
	char z;
	cr_assert_eq(sscanf(cd, "<D:creationdate>%4d-%2d-%2dT%2d:%2d:%2d%c</", &Y, &M, &D, &h, &m,
			    &s, &z), 7, "%s", cd);
	cr_assert_eq(z, 'Z');
	char *lm = strstr(r.body, "<D:getlastmodified>");
	cr_assert_not_null(lm, "%s", r.body);
	char wd[4], mon[4];
	cr_assert_eq(sscanf(lm, "<D:getlastmodified>%3s, %2d %3s %4d %2d:%2d:%2d GMT", wd, &D, mon,
			    &Y, &h, &m, &s), 7, "%s", lm);
	cr_assert(strstr(r.body, "<D:getcontentlength>1</D:getcontentlength>"), "%s", r.body);
	free(r.raw);
	/* a creation time stored in the basic form (tools/run.sh) is shown as RFC 3339 */
	grove_txn *txn;
	cr_assert_eq(grove_txn_begin(&txn, G, "main"), 0);
	const char props[] = "# grove collection properties\ntype: calendar\n"
			     "created: 20240501T101500Z\n";
	cr_assert_eq(grove_txn_set(txn, "alice/calendars/old/.props", props, sizeof(props) - 1), 0);
	grove_oid id;
	cr_assert_eq(grove_txn_commit(txn, NULL, &id), 0);
	grove_txn_free(txn);
	r = req("PROPFIND", "/dav/alice/calendars/old/", ALICE "Depth: 0\r\n", NULL);
	cr_assert(strstr(r.body, "<D:creationdate>2024-05-01T10:15:00Z</D:creationdate>"), "%s",
		  r.body);
	free(r.raw);
	cr_assert_str_eq(grove__http_reason(308), "Permanent Redirect");
	cr_assert_str_eq(grove__http_reason(502), "Bad Gateway");
	cr_assert_str_eq(grove__dav_reason(424), "Failed Dependency");
	/* no LOCK: the server must not claim class 2 */
	r = req("OPTIONS", FILES, NULL, NULL);
	cr_assert_not_null(header(&r, "DAV"));
	cr_assert(!strstr(header(&r, "DAV"), "2"), "%s", header(&r, "DAV"));
	free(r.raw);
}

Test(dav, files_paths)
{
	grove__dav_path p;
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/files", NULL), 0);
	cr_assert_eq(p.type, DAV_R_HOME);
	cr_assert_eq(p.family, DAV_FILES);
	cr_assert_str_eq(p.key, "alice/files");
	cr_assert_str_eq(p.href, "/dav/alice/files/");
	grove__dav_path_dispose(&p);
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/files/a/b c/d/", NULL), 0);
	cr_assert_eq(p.type, DAV_R_COLLECTION);
	cr_assert_str_eq(p.key, "alice/files/a/b c/d");
	cr_assert_str_eq(p.href, "/dav/alice/files/a/b%20c/d/");
	cr_assert_str_eq(p.name, "d");
	grove__dav_path_dispose(&p);
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/files/a/x.txt", NULL), 0);
	cr_assert_eq(p.type, DAV_R_OBJECT);
	grove__dav_path_dispose(&p);
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/files/a/.props.d/x", NULL), 404);
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/files/a/../x", NULL), 400);
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/files/a", "/dav/alice/files/a#b"),
		     400);
	char deep[1024] = "/dav/alice/files";
	for (int i = 0; i < DAV_FILES_MAX_DEPTH; i++)
		strcat(deep, "/d");
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", deep, NULL), 0);
	grove__dav_path_dispose(&p);
	strcat(deep, "/d");
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", deep, NULL), 404);
	/* the calendar model keeps its four levels */
	cr_assert_eq(grove__dav_path_parse(&p, "/dav", "/dav/alice/calendars/a/b/c", NULL), 404);
}

/* RFC 7232: If-Modified-Since gives 304 when the resource has not changed
 * since the date; If-Unmodified-Since refuses a write with 412 when it has;
 * invalid dates are ignored. */
Test(dav, date_conditions)
{
	mkcal();
	expect("PUT", "/dav/alice/calendars/work/d1.ics", ALICE "Content-Type: text/calendar\r\n",
	       ICS("d1", "one"), 201);
	/* Commits carry the current time; far past and far future bracket it. */
	const char *past = "Sat, 01 Jan 2000 00:00:00 GMT";
	const char *future = "Fri, 01 Jan 2100 00:00:00 GMT";
	char h[512];

	snprintf(h, sizeof(h), ALICE "If-Modified-Since: %s\r\n", future);
	expect("GET", "/dav/alice/calendars/work/d1.ics", h, NULL, 304);
	snprintf(h, sizeof(h), ALICE "If-Modified-Since: %s\r\n", past);
	expect("GET", "/dav/alice/calendars/work/d1.ics", h, NULL, 200);
	expect("GET", "/dav/alice/calendars/work/d1.ics", ALICE "If-Modified-Since: yesterday\r\n",
	       NULL, 200);

	grove_oid before, after;
	head_of(&before);
	snprintf(h, sizeof(h), ALICE "Content-Type: text/calendar\r\nIf-Unmodified-Since: %s\r\n", past);
	expect("PUT", "/dav/alice/calendars/work/d1.ics", h, ICS("d1", "two"), 412);
	expect("DELETE", "/dav/alice/calendars/work/d1.ics", h, NULL, 412);
	head_of(&after);
	cr_assert(grove_oid_cmp(&before, &after) == 0, "a refused write changed the store");
	snprintf(h, sizeof(h), ALICE "Content-Type: text/calendar\r\nIf-Unmodified-Since: %s\r\n", future);
	expect("PUT", "/dav/alice/calendars/work/d1.ics", h, ICS("d1", "two"), 204);
}
