/* The sync-collection change journal (net/dav_journal.c): its answer equals
 * the full tree diff for every token on a history with adds, edits,
 * deletes, re-adds, reverts, hidden and nested files, a file turning into a
 * directory and back, a commit too big to list, merges and commits made
 * outside the DAV layer; tokens off the first-parent chain are declined;
 * the bounds hold; and over HTTP, a sync after commits that did not come
 * through DAV (as from a git push) reports them, invalid tokens get 403
 * valid-sync-token. */
#include "dav_harness.h"
#include "../../net/dav_journal.h"

#define K "u/calendars/cal"

static grove *S;

static void jsetup(void)
{
	grove__dav_journal_clear();
	cr_assert_eq(grove_open(&S, "mem:", NULL), 0);
}

static void jteardown(void)
{
	grove_close(S);
	grove__dav_journal_clear();
}

TestSuite(dav_sync_journal, .init = jsetup, .fini = jteardown);

/* One commit on branch: "+key=value" sets, "-key" removes, in order. */
static grove_oid commit_on(grove *g, const char *branch, const char **ops, size_t n)
{
	grove_txn *t;
	cr_assert_eq(grove_txn_begin(&t, g, branch), 0, "%s", grove_error_message());
	for (size_t i = 0; i < n; i++) {
		const char *op = ops[i];
		if (op[0] == '-') {
			cr_assert_eq(grove_txn_remove(t, op + 1), 0, "%s: %s", op, grove_error_message());
		} else {
			const char *eq = strchr(op, '=');
			char key[256];
			snprintf(key, sizeof(key), "%.*s", (int)(eq - op - 1), op + 1);
			cr_assert_eq(grove_txn_set(t, key, eq + 1, strlen(eq + 1)), 0, "%s", op);
		}
	}
	grove_oid id;
	cr_assert_eq(grove_txn_commit(t, NULL, &id), 0, "%s", grove_error_message());
	grove_txn_free(t);
	return id;
}

#define C(...) commit_on(S, "main", (const char *[]){ __VA_ARGS__ }, \
			 sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *))

static void assert_same(const grove__dav_sync_changes *a, const grove__dav_sync_changes *b,
			const char *what)
{
	cr_assert_eq(a->count, b->count, "%s: %zu changes from the journal, %zu from the diff", what,
		     a->count, b->count);
	for (size_t i = 0; i < a->count; i++) {
		cr_assert_str_eq(a->items[i].name, b->items[i].name, "%s: item %zu", what, i);
		cr_assert_eq(a->items[i].kind, b->items[i].kind, "%s: %s", what, a->items[i].name);
		cr_assert(grove_oid_cmp(&a->items[i].new_id, &b->items[i].new_id) == 0, "%s: %s", what,
			  a->items[i].name);
		cr_assert_eq(a->items[i].new_mode, b->items[i].new_mode, "%s", what);
	}
}

/* The journal answers (0) and agrees with the full diff. */
static void check(const grove_oid *since, const grove_oid *head, const char *key, const char *what)
{
	grove__dav_sync_changes j = { 0 }, f = { 0 };
	int rc = grove__dav_journal_changes(S, since, head, key, &j);
	cr_assert_eq(rc, 0, "%s: journal declined (%d) %s", what, rc, grove_error_message());
	cr_assert_eq(grove__dav_sync_full(S, since, head, key, &f), 0, "%s", what);
	assert_same(&j, &f, what);
	grove__dav_sync_changes_dispose(&j);
	grove__dav_sync_changes_dispose(&f);
}

/* The kind of name's change since..head, 0 when unchanged. */
static int change_of(const grove_oid *since, const grove_oid *head, const char *name)
{
	grove__dav_sync_changes j = { 0 };
	cr_assert_eq(grove__dav_journal_changes(S, since, head, K, &j), 0);
	int kind = 0;
	for (size_t i = 0; i < j.count; i++)
		if (strcmp(j.items[i].name, name) == 0)
			kind = (int)j.items[i].kind;
	grove__dav_sync_changes_dispose(&j);
	return kind;
}

Test(dav_sync_journal, equals_full_diff_on_every_token)
{
	grove_oid c[16];
	size_t n = 0;
	c[n++] = C("+" K "/.props=type: calendar\n", "+" K "/a.ics=A1", "+" K "/b.ics=B1",
		   "+other/x=1");
	c[n++] = C("+" K "/c.ics=C1");
	c[n++] = C("+" K "/a.ics=A2");                    /* edit */
	c[n++] = C("-" K "/b.ics");                       /* delete */
	c[n++] = C("+" K "/b.ics=B1");                    /* re-add, same bytes */
	c[n++] = C("+" K "/.hidden=1", "+" K "/sub/deep.ics=1", "+other/y=2", "+" K "/.props=x\n");
	c[n++] = C("+" K "/c.ics=C2");
	c[n++] = C("+" K "/c.ics=C1");                    /* and back */
	c[n++] = C("-" K "/sub", "+" K "/sub=now a file"); /* directory -> file */
	c[n++] = C("-" K "/sub", "+" K "/sub/x.ics=1");    /* file -> directory */
	c[n++] = C("+other/z=3");                         /* elsewhere only */
	c[n++] = C("-" K "/a.ics", "+" K "/zz.ics=Z", "+" K "/b.ics=B2");
	c[n++] = C("-" K "/zz.ics");                      /* added and deleted again */
	for (size_t i = 0; i < n; i++)
		for (size_t h = i; h < n; h++) {
			char what[64];
			snprintf(what, sizeof(what), "since c%zu, head c%zu", i, h);
			check(&c[i], &c[h], K, what);
			check(&c[i], &c[h], "other", what);
			check(&c[i], &c[h], "u", what); /* no direct members */
		}
	/* spot checks of the semantics */
	cr_assert_eq(change_of(&c[2], &c[4], "b.ics"), 0, "deleted and re-added unchanged");
	cr_assert_eq(change_of(&c[2], &c[3], "b.ics"), GROVE_DIFF_REMOVED);
	cr_assert_eq(change_of(&c[5], &c[7], "c.ics"), 0, "changed and changed back");
	cr_assert_eq(change_of(&c[7], &c[8], "sub"), GROVE_DIFF_ADDED);
	cr_assert_eq(change_of(&c[8], &c[9], "sub"), GROVE_DIFF_REMOVED);
	cr_assert_eq(change_of(&c[4], &c[5], ".hidden"), 0, "hidden names never show");
	cr_assert_eq(change_of(&c[10], &c[12], "zz.ics"), 0);
	cr_assert_eq(change_of(&c[10], &c[12], "a.ics"), GROVE_DIFF_REMOVED);
	cr_assert_eq(change_of(&c[10], &c[12], "b.ics"), GROVE_DIFF_MODIFIED);
	/* the commits were made outside the DAV layer: the journal learned them */
	cr_assert_geq(grove__dav_journal_size(), n - 1);
	/* the same token as the head: nothing */
	grove__dav_sync_changes j = { 0 };
	cr_assert_eq(grove__dav_journal_changes(S, &c[3], &c[3], K, &j), 0);
	cr_assert_eq(j.count, 0);
}

Test(dav_sync_journal, big_commit_is_diffed_below_the_collection)
{
	grove_oid a = C("+" K "/.props=type: calendar\n", "+" K "/first.ics=1");
	grove_txn *t;
	cr_assert_eq(grove_txn_begin(&t, S, "main"), 0);
	char key[64];
	for (int i = 0; i < DAV_JOURNAL_MAX_CHANGES + 100; i++) {
		snprintf(key, sizeof(key), K "/ev-%05d.ics", i);
		cr_assert_eq(grove_txn_set(t, key, key, strlen(key)), 0);
	}
	cr_assert_eq(grove_txn_set(t, "u/calendars/other/o.ics", "o", 1), 0);
	grove_oid big;
	cr_assert_eq(grove_txn_commit(t, NULL, &big), 0);
	grove_txn_free(t);
	grove_oid b = C("-" K "/ev-00007.ics", "+" K "/first.ics=2");
	check(&a, &b, K, "across the big commit");
	check(&a, &b, "u/calendars/other", "other collection across the big commit");
	check(&big, &b, K, "after the big commit");
	grove__dav_sync_changes j = { 0 };
	cr_assert_eq(grove__dav_journal_changes(S, &a, &b, K, &j), 0);
	cr_assert_eq(j.count, DAV_JOURNAL_MAX_CHANGES + 100 - 1 + 1);
	grove__dav_sync_changes_dispose(&j);
	/* the root commit (no parent) as part of the walk */
	grove_oid zero;
	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(grove__dav_journal_changes(S, &zero, &b, K, &j), 1, "no zero token on the chain");
}

Test(dav_sync_journal, merges)
{
	grove_oid base = C("+" K "/.props=p\n", "+" K "/a.ics=A", "+" K "/b.ics=B");
	cr_assert_eq(grove_branch_create(S, "side", "main", 0), 0);
	grove_oid s1 = commit_on(S, "side", (const char *[]){ "+" K "/side.ics=S", "-" K "/b.ics" }, 2);
	grove_oid m1 = C("+" K "/main.ics=M", "+" K "/a.ics=A2");
	grove_signature sig = { "t", "t@x", 0, 0 };
	grove_commit_opts co = { &sig, NULL, "merge" };
	grove_merge_opts mo = { &co, 1 };
	grove_oid merged;
	cr_assert_eq(grove_merge(S, "main", "side", &mo, &merged, NULL), 0, "%s", grove_error_message());
	grove_oid after = C("+" K "/late.ics=L");
	/* tokens on the first-parent chain, across the merge */
	check(&base, &after, K, "base -> after the merge");
	check(&m1, &after, K, "main before the merge -> after");
	check(&m1, &merged, K, "main before the merge -> merge");
	check(&merged, &after, K, "the merge -> after");
	cr_assert_eq(change_of(&m1, &merged, "side.ics"), GROVE_DIFF_ADDED);
	cr_assert_eq(change_of(&m1, &merged, "b.ics"), GROVE_DIFF_REMOVED);
	/* a token from the merged branch is not a first parent: declined, and
	 * the full diff answers */
	grove__dav_sync_changes j = { 0 }, f = { 0 };
	cr_assert_eq(grove__dav_journal_changes(S, &s1, &after, K, &j), 1);
	cr_assert_eq(grove__dav_sync_full(S, &s1, &after, K, &f), 0);
	cr_assert_eq(f.count, 3, "main.ics, a.ics, late.ics");
	grove__dav_sync_changes_dispose(&f);
	/* a commit that is not in the store, or a tree id: declined */
	grove_oid bogus;
	memset(&bogus, 0x42, sizeof(bogus));
	cr_assert_eq(grove__dav_journal_changes(S, &bogus, &after, K, &j), 1);
	grove_commit *cm;
	cr_assert_eq(grove_commit_read(S, &after, &cm), 0);
	cr_assert_eq(grove__dav_journal_changes(S, &cm->tree, &after, K, &j), 1);
	grove_commit_free(cm);
}

Test(dav_sync_journal, bounded)
{
	grove_oid first = C("+" K "/.props=p\n", "+" K "/a.ics=0");
	grove_oid last = first;
	char op[64];
	/* more commits than the journal keeps: the oldest are forgotten */
	for (int i = 1; i <= DAV_JOURNAL_MAX_COMMITS + 50; i++) {
		snprintf(op, sizeof(op), "+" K "/a.ics=%d", i);
		const char *ops[] = { op };
		last = commit_on(S, "main", ops, 1);
		cr_assert_eq(grove__dav_journal_record(S, &last), 0);
	}
	cr_assert_leq(grove__dav_journal_size(), DAV_JOURNAL_MAX_COMMITS);
	cr_assert_geq(grove__dav_journal_size(), DAV_JOURNAL_MAX_COMMITS - 1);
	/* too far back: declined (walk bound), the full diff still answers */
	grove__dav_sync_changes j = { 0 };
	cr_assert_eq(grove__dav_journal_changes(S, &first, &last, K, &j), 1);
	/* recent tokens: answered, and equal */
	grove_commit *cm;
	grove_oid t = last;
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(grove_commit_read(S, &t, &cm), 0);
		t = cm->parents[0];
		grove_commit_free(cm);
	}
	check(&t, &last, K, "20 commits back");
	/* forgetting everything costs only a recomputation */
	grove__dav_journal_clear();
	cr_assert_eq(grove__dav_journal_size(), 0);
	check(&t, &last, K, "20 commits back, journal cleared");
	cr_assert_eq(grove__dav_journal_size(), 20);
}

/* ---- over HTTP ------------------------------------------------------------------------ */

TestSuite(dav_sync_http, .init = setup, .fini = teardown);

#define CAL "/dav/alice/calendars/work/"
#define CALKEY "alice/calendars/work"
#define XMLH "Content-Type: application/xml\r\n"

#define ICS(uid, summary)                                                             \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" uid \
	"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nSUMMARY:" summary  \
	"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

static void put(const char *path, const char *ics)
{
	reply r = req("PUT", path, ALICE "Content-Type: text/calendar\r\n", ics);
	cr_assert(r.status == 201 || r.status == 204, "PUT %s: %d\n%s", path, r.status, r.raw);
	free(r.raw);
}

static reply sync_req(const char *token)
{
	char body[1024];
	snprintf(body, sizeof(body),
		 "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>%s</D:sync-token>"
		 "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>",
		 token);
	return req("REPORT", CAL, ALICE XMLH "Depth: 0\r\n", body);
}

static char *token_of(const char *body)
{
	const char *p = strstr(body, "<D:sync-token>");
	cr_assert_not_null(p, "%s", body);
	p += strlen("<D:sync-token>");
	return strndup(p, (size_t)(strstr(p, "</D:sync-token>") - p));
}

static char *head_token(void)
{
	grove_oid h;
	cr_assert_eq(grove_branch_head(G, "main", &h), 0);
	char hex[41], *t = malloc(80);
	snprintf(t, 80, "http://grove/sync/%s", grove_oid_tohex(hex, &h));
	return t;
}

Test(dav_sync_http, commits_from_outside_dav)
{
	expect("MKCALENDAR", CAL, ALICE, NULL, 201);
	put(CAL "a.ics", ICS("a", "A"));
	put(CAL "b.ics", ICS("b", "B"));
	reply r = sync_req("");
	char *t1 = token_of(r.body);
	free(r.raw);
	/* a commit written straight into the store, as a git push lands: edit
	 * a, delete b, add c */
	const char *ops[] = { "+" CALKEY "/a.ics=" ICS("a", "A pushed"), "-" CALKEY "/b.ics",
			      "+" CALKEY "/c.ics=" ICS("c", "C pushed") };
	commit_on(G, "main", ops, 3);
	put(CAL "d.ics", ICS("d", "D"));
	r = sync_req(t1);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(count_of(r.body, "<D:response>"), 4, "%s", r.body);
	cr_assert(strstr(r.body, "<D:href>" CAL "b.ics</D:href><D:status>HTTP/1.1 404 Not Found"),
		  "%s", r.body);
	cr_assert(strstr(r.body, CAL "a.ics</D:href><D:propstat>"));
	cr_assert(strstr(r.body, CAL "c.ics</D:href><D:propstat>"));
	cr_assert(strstr(r.body, CAL "d.ics</D:href><D:propstat>"));
	char *t2 = token_of(r.body);
	char *h = head_token();
	cr_assert_str_eq(t2, h);
	free(r.raw);
	/* the second answer (journal warm) is byte for byte the first */
	reply r2 = sync_req(t1);
	r = sync_req(t1);
	cr_assert_str_eq(r.body, r2.body);
	free(r.raw);
	free(r2.raw);
	/* a token from a branch merged in (not a first parent): full diff */
	cr_assert_eq(grove_branch_create(G, "side", "main", 0), 0);
	const char *side_ops[] = { "+" CALKEY "/s.ics=" ICS("s", "S") };
	grove_oid s1 = commit_on(G, "side", side_ops, 1);
	put(CAL "e.ics", ICS("e", "E"));
	grove_signature sig = { "t", "t@x", 0, 0 };
	grove_commit_opts co = { &sig, NULL, "merge" };
	grove_merge_opts mo = { &co, 1 };
	grove_oid merged;
	cr_assert_eq(grove_merge(G, "main", "side", &mo, &merged, NULL), 0, "%s", grove_error_message());
	char hex[41], ts[80];
	snprintf(ts, sizeof(ts), "http://grove/sync/%s", grove_oid_tohex(hex, &s1));
	r = sync_req(ts);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(count_of(r.body, "<D:response>"), 1, "%s", r.body);
	cr_assert(strstr(r.body, CAL "e.ics</D:href><D:propstat>"), "%s", r.body);
	free(r.raw);
	/* from t2 across the merge: e (DAV) and s (merged in) */
	r = sync_req(t2);
	cr_assert_eq(r.status, 207, "%s", r.raw);
	cr_assert_eq(count_of(r.body, "<D:response>"), 2, "%s", r.body);
	cr_assert(strstr(r.body, CAL "s.ics</D:href><D:propstat>"), "%s", r.body);
	free(r.raw);
	/* invalid tokens: 403 valid-sync-token, as before */
	const char *bad[] = { "garbage", "http://grove/sync/zz",
			      "http://grove/sync/0123456789012345678901234567890123456789",
			      "http://grove/sync/", "http://grove/sync/ 123" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = sync_req(bad[i]);
		cr_assert_eq(r.status, 403, "%s: %s", bad[i], r.raw);
		cr_assert(strstr(r.body, "<D:valid-sync-token/>"), "%s", r.body);
		free(r.raw);
	}
	free(t1);
	free(t2);
	free(h);
}

/* The merge walk relies on trees in git's order (and checks it as it
 * goes): the store refuses a tree out of order, as a careless push could
 * bring one. */
Test(dav_sync_journal, unsorted_tree_refused)
{
	grove_oid ba, bb;
	cr_assert_eq(grove_object_write(S, GROVE_OBJ_BLOB, "A", 1, &ba), 0);
	cr_assert_eq(grove_object_write(S, GROVE_OBJ_BLOB, "B", 1, &bb), 0);
	unsigned char raw[256];
	size_t n = 0;
	const struct { const char *name; const grove_oid *id; } ents[] = {
		{ "b.ics", &bb }, { "a.ics", &ba }, { "x.ics", &bb } };
	for (size_t i = 0; i < 3; i++) {
		n += (size_t)sprintf((char *)raw + n, "100644 %s", ents[i].name) + 1;
		memcpy(raw + n, ents[i].id->id, 20);
		n += 20;
	}
	grove_oid tree;
	cr_assert_lt(grove_object_write(S, GROVE_OBJ_TREE, raw, n, &tree), 0);
	cr_assert(strstr(grove_error_message(), "not sorted"), "%s", grove_error_message());
}
