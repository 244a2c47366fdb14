/*
 * Per-user projections of the DAV branch (net/dav_git_user*.c) on mem:
 * stores: which commits are projected and how, that deriving in steps and
 * afresh give the same ids, the view's refs, and how a push through the
 * view lands on the DAV branch without touching other users' data.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../git/upload_pack.h"
#include "../../net/dav_git_user.h"
#include "grove.h"
#include "sbuf.h"

static grove *open_mem(void)
{
	grove *g;
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	return g;
}

/* A DAV-like commit on main: key = value, by `who` at time t. */
static grove_oid put(grove *g, const char *key, const char *value, const char *who, int64_t t)
{
	grove_signature sig = { who, "dav@example.com", t, 60 };
	char msg[256];
	grove_commit_opts o = { &sig, NULL, msg };
	grove_oid id;
	snprintf(msg, sizeof(msg), "PUT %s\n\nby %s", key, who);
	cr_assert_eq(grove_set(g, "main", key, value, strlen(value), &o, &id), 0, "%s",
		grove_error_message());
	return id;
}

static grove_oid del(grove *g, const char *key)
{
	grove_oid id;
	cr_assert_eq(grove_remove(g, "main", key, NULL, &id), 0, "%s", grove_error_message());
	return id;
}

static grove_oid project(grove *g, const char *user)
{
	grove_oid head;
	cr_assert_eq(grove__dav_user_project(g, NULL, user, &head), 0, "%s", grove_error_message());
	return head;
}

static grove_oid subtree(grove *g, const grove_oid *commit, const char *path)
{
	grove_view *v;
	grove_oid id;
	grove_kind kind;
	cr_assert_eq(grove_view_open_commit(&v, g, commit), 0);
	cr_assert_eq(grove_view_id(v, path, &id, &kind), 0, "%s: %s", path, grove_error_message());
	grove_view_free(v);
	return id;
}

static size_t history_length(grove *g, const grove_oid *head)
{
	size_t n = 0;
	grove_oid at = *head;
	while (!grove_oid_is_zero(&at)) {
		grove_commit *c;
		cr_assert_eq(grove_commit_read(g, &at, &c), 0);
		cr_assert(c->parent_count <= 1);
		at = c->parent_count ? c->parents[0] : (grove_oid){ { 0 } };
		grove_commit_free(c);
		n++;
	}
	return n;
}

static int same(const grove_oid *a, const grove_oid *b)
{
	return grove_oid_cmp(a, b) == 0;
}

static void delete_ref(grove *g, const char *ref)
{
	grove_ref_update u = { ref, { { 0 } }, { { 0 } }, 0 };
	cr_assert_eq(grove_ref_update_batch(g, &u, 1), 0, "%s", grove_error_message());
}

Test(dav_git_user, projects_only_the_users_changes)
{
	grove *g = open_mem();
	grove_oid c1 = put(g, "alice/calendars/work/a1.ics", "A1", "alice", 1000);
	put(g, "bob/calendars/home/b1.ics", "B1", "bob", 1001);
	grove_oid c3 = put(g, "alice/calendars/work/a2.ics", "A2", "alice", 1002);
	put(g, "bob/calendars/home/b2.ics", "B2", "bob", 1003);

	grove_oid head = project(g, "alice");
	cr_assert_eq(history_length(g, &head), 2);
	grove_commit *c;
	cr_assert_eq(grove_commit_read(g, &head, &c), 0);
	grove_oid want = subtree(g, &c3, "alice");
	cr_assert(same(&c->tree, &want), "tree is not alice/ of the source commit");
	cr_assert_str_eq(c->author.name, "alice");
	cr_assert_eq(c->author.time, 1002);
	cr_assert_eq(c->author.tz_offset, 60);
	cr_assert_str_eq(c->message, "PUT alice/calendars/work/a2.ics\n\nby alice\n");
	grove_oid parent = c->parents[0];
	grove_commit_free(c);
	cr_assert_eq(grove_commit_read(g, &parent, &c), 0);
	want = subtree(g, &c1, "alice");
	cr_assert(same(&c->tree, &want));
	cr_assert_eq(c->parent_count, 0);
	grove_commit_free(c);

	/* How far it is derived: the branch head. */
	grove_oid src, tip;
	cr_assert_eq(grove_ref_read(g, "refs/grove/users/alice/source", &src), 0);
	cr_assert_eq(grove_branch_head(g, "main", &tip), 0);
	cr_assert(same(&src, &tip));
	/* A user without data has no projection (but a source ref). */
	grove_oid none = project(g, "carol");
	cr_assert(grove_oid_is_zero(&none));
	cr_assert_eq(grove_ref_read(g, "refs/grove/users/carol/head", &none), GROVE_ENOTFOUND);
	grove_close(g);
}

Test(dav_git_user, steps_and_afresh_give_the_same_ids)
{
	grove *g = open_mem(), *h = open_mem();
	/* Two stores with the same history; one derives after each commit. */
	for (int i = 0; i < 12; i++) {
		char key[64], val[16];
		const char *who = i % 3 ? "alice" : "bob";
		snprintf(key, sizeof(key), "%s/calendars/c/e%d.ics", who, i);
		snprintf(val, sizeof(val), "v%d", i);
		grove_oid a = put(g, key, val, who, 2000 + i), b = put(h, key, val, who, 2000 + i);
		cr_assert(same(&a, &b), "fixture is not deterministic");
		project(g, "alice");
		if (i == 5)
			project(g, "bob");
	}
	grove_oid stepped = project(g, "alice"), fresh = project(h, "alice");
	cr_assert(same(&stepped, &fresh), "incremental and fresh derivations differ");
	cr_assert_eq(history_length(g, &stepped), 8);
	grove_oid sb = project(g, "bob"), fb = project(h, "bob");
	cr_assert(same(&sb, &fb));
	/* Deriving again from nothing reproduces the ids. */
	delete_ref(g, "refs/grove/users/alice/head");
	delete_ref(g, "refs/grove/users/alice/source");
	grove_oid again = project(g, "alice");
	cr_assert(same(&again, &stepped));
	/* Up to date: nothing changes. */
	grove_oid still = project(g, "alice");
	cr_assert(same(&still, &stepped));
	grove_close(g);
	grove_close(h);
}

Test(dav_git_user, removal_and_rewritten_history)
{
	grove *g = open_mem();
	grove_oid c1 = put(g, "alice/calendars/w/a.ics", "A", "alice", 10);
	put(g, "bob/x.ics", "B", "bob", 11);
	grove_oid h1 = project(g, "alice");
	del(g, "alice");
	grove_oid h2 = project(g, "alice");
	cr_assert_eq(history_length(g, &h2), 2);
	grove_commit *c;
	cr_assert_eq(grove_commit_read(g, &h2, &c), 0);
	grove_oid empty;
	cr_assert_eq(grove_object_hash(GROVE_OBJ_TREE, "", 0, &empty), 0);
	cr_assert(same(&c->tree, &empty), "removal is not an empty tree");
	cr_assert(same(&c->parents[0], &h1));
	grove_commit_free(c);
	cr_assert_eq(grove_object_exists(g, &empty), 1);

	/* The branch is reset to before the removal: derived afresh. */
	cr_assert_eq(grove_branch_set_head(g, "main", NULL, &c1), 0);
	grove_oid h3 = project(g, "alice");
	cr_assert(same(&h3, &h1), "a fresh derivation of the same history differs");
	grove_close(g);
}

Test(dav_git_user, bad_user_names)
{
	grove *g = open_mem();
	grove_oid head;
	put(g, "alice/a", "A", "alice", 1);
	const char *bad[] = { "", "a/b", "a..b", "x.lock", "-", "a b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = grove__dav_user_project(g, NULL, bad[i], &head);
		if (!strcmp(bad[i], "-"))
			continue; /* a valid ref component: only shows it is not crashing */
		cr_assert_eq(rc, GROVE_EINVALID, "'%s' accepted", bad[i]);
	}
	grove *v;
	cr_assert_eq(grove__dav_user_view_open(&v, g, NULL, "a/b"), GROVE_EINVALID);
	grove_close(g);
}

/* ---- the view ---------------------------------------------------------------------- */

static int collect(const char *refname, const grove_oid *id, void *payload)
{
	(void)id;
	char *buf = payload;
	strcat(buf, refname);
	strcat(buf, " ");
	return 0;
}

Test(dav_git_user, view_shows_one_branch)
{
	grove *g = open_mem(), *v;
	put(g, "alice/calendars/w/a.ics", "A", "alice", 1);
	put(g, "bob/calendars/w/b.ics", "B", "bob", 2);
	cr_assert_eq(grove_branch_create(g, "other", "main", 0), 0);
	cr_assert_eq(grove__dav_user_view_open(&v, g, NULL, "alice"), 0, "%s", grove_error_message());
	cr_assert_str_eq(grove__dav_user_view_user(v), "alice");
	cr_assert_null(grove__dav_user_view_user(g));
	char refs[512] = "";
	cr_assert_eq(grove_ref_foreach(v, "", collect, refs), 0);
	cr_assert_str_eq(refs, "refs/heads/main ");
	refs[0] = '\0';
	cr_assert_eq(grove_ref_foreach(v, "refs/tags/", collect, refs), 0);
	cr_assert_str_eq(refs, "");
	grove_oid id, proj = project(g, "alice");
	cr_assert_eq(grove_ref_read(v, "refs/heads/main", &id), 0);
	cr_assert(same(&id, &proj));
	cr_assert_eq(grove_ref_read(v, "refs/heads/other", &id), GROVE_ENOTFOUND);
	cr_assert_eq(grove_ref_read(v, "refs/grove/users/alice/head", &id), GROVE_ENOTFOUND);
	char *head;
	cr_assert_eq(grove_head_branch(v, &head), 0);
	cr_assert_str_eq(head, "main");
	free(head);
	/* Reads see alice's data at the top, not bob's. */
	grove_buf b = { 0 };
	cr_assert_eq(grove_get(v, "main", "calendars/w/a.ics", &b), 0);
	grove_buf_dispose(&b);
	cr_assert_eq(grove_get(v, "main", "bob/calendars/w/b.ics", &b), GROVE_ENOTFOUND);
	grove__dav_user_view_close(v);
	grove_close(g);
}

/* A commit on top of alice's projection (as a push brings it). */
static grove_oid alice_commit(grove *g, const grove_oid *parent, const char *key, const char *value)
{
	grove_txn *x;
	grove_signature sig = { "Alice Git", "alice@example.com", 5000, -120 };
	grove_commit_opts o = { &sig, NULL, "edit over git" };
	grove_oid id;
	cr_assert_eq(grove_txn_begin_at(&x, g, parent, NULL), 0);
	cr_assert_eq(grove_txn_set(x, key, value, strlen(value)), 0);
	cr_assert_eq(grove_txn_commit(x, &o, &id), 0, "%s", grove_error_message());
	grove_txn_free(x);
	return id;
}

static int push(grove *v, const grove_oid *old, const grove_oid *new_id)
{
	grove_ref_update u = { "refs/heads/main", *old, *new_id, 1 };
	return grove_ref_update_batch(v, &u, 1);
}

Test(dav_git_user, push_lands_on_the_dav_branch)
{
	grove *g = open_mem(), *v;
	put(g, "alice/calendars/w/a.ics", "A", "alice", 1);
	put(g, "bob/calendars/w/b.ics", "B", "bob", 2);
	cr_assert_eq(grove__dav_user_view_open(&v, g, NULL, "alice"), 0);
	grove_oid proj = project(g, "alice");
	grove_oid pushed = alice_commit(g, &proj, "calendars/w/new.ics", "NEW");
	/* Meanwhile bob writes: the push rebases over it. */
	put(g, "bob/calendars/w/b2.ics", "B2", "bob", 3);
	grove_oid before;
	cr_assert_eq(grove_branch_head(g, "main", &before), 0);
	cr_assert_eq(push(v, &proj, &pushed), 0, "%s", grove_error_message());

	grove_oid tip;
	cr_assert_eq(grove_branch_head(g, "main", &tip), 0);
	grove_commit *c;
	cr_assert_eq(grove_commit_read(g, &tip, &c), 0);
	cr_assert_eq(c->parent_count, 1);
	cr_assert(same(&c->parents[0], &before), "not one commit on top of the head");
	cr_assert_str_eq(c->author.name, "Alice Git");
	cr_assert_eq(c->author.time, 5000);
	cr_assert_str_eq(c->message, "edit over git\n");
	grove_commit_free(c);
	grove_buf b = { 0 };
	cr_assert_eq(grove_get(g, "main", "alice/calendars/w/new.ics", &b), 0);
	cr_assert_eq(b.size, 3);
	grove_buf_dispose(&b);
	cr_assert_eq(grove_get(g, "main", "bob/calendars/w/b2.ics", &b), 0, "bob's write lost");
	grove_buf_dispose(&b);
	grove_oid bob_before = subtree(g, &before, "bob"), bob_after = subtree(g, &tip, "bob");
	cr_assert(same(&bob_before, &bob_after));
	/* The projection is the pushed commit; derived up to the new head. */
	grove_oid now = project(g, "alice"), src;
	cr_assert(same(&now, &pushed));
	cr_assert_eq(grove_ref_read(g, "refs/grove/users/alice/source", &src), 0);
	cr_assert(same(&src, &tip));
	/* A later DAV change of alice's continues from the pushed commit. */
	put(g, "alice/calendars/w/a.ics", "A2", "alice", 6);
	grove_oid next = project(g, "alice");
	cr_assert_eq(grove_commit_read(g, &next, &c), 0);
	cr_assert(same(&c->parents[0], &pushed));
	grove_commit_free(c);
	grove__dav_user_view_close(v);
	grove_close(g);
}

Test(dav_git_user, stale_and_bad_pushes_change_nothing)
{
	grove *g = open_mem(), *v;
	put(g, "alice/calendars/w/a.ics", "A", "alice", 1);
	cr_assert_eq(grove__dav_user_view_open(&v, g, NULL, "alice"), 0);
	grove_oid proj = project(g, "alice");
	grove_oid pushed = alice_commit(g, &proj, "calendars/w/new.ics", "NEW");
	/* alice changed her data over DAV after fetching: the push is stale. */
	put(g, "alice/calendars/w/a.ics", "A-dav", "alice", 2);
	grove_oid tip, tip2, now;
	cr_assert_eq(grove_branch_head(g, "main", &tip), 0);
	cr_assert_eq(push(v, &proj, &pushed), GROVE_EHEADMOVED);
	cr_assert_eq(grove_branch_head(g, "main", &tip2), 0);
	cr_assert(same(&tip, &tip2));
	grove_buf b = { 0 };
	cr_assert_eq(grove_get(g, "main", "alice/calendars/w/a.ics", &b), 0);
	cr_assert_eq(b.size, 5, "alice's DAV write was overwritten");
	grove_buf_dispose(&b);
	now = project(g, "alice");
	cr_assert(!same(&now, &pushed));
	/* Deleting main, or any other ref, is refused. */
	grove_ref_update del_main = { "refs/heads/main", now, { { 0 } }, 1 };
	cr_assert_eq(grove_ref_update_batch(v, &del_main, 1), GROVE_EINVALID);
	grove_ref_update other = { "refs/heads/other", { { 0 } }, pushed, 1 };
	cr_assert_eq(grove_ref_update_batch(v, &other, 1), GROVE_EINVALID);
	cr_assert_eq(grove_set_head_branch(v, "other"), GROVE_EREADONLY);
	cr_assert_eq(grove_branch_head(g, "main", &tip2), 0);
	cr_assert(same(&tip, &tip2));
	grove__dav_user_view_close(v);
	grove_close(g);
}

Test(dav_git_user, first_push_and_deleting_everything)
{
	grove *g = open_mem(), *v;
	put(g, "bob/calendars/w/b.ics", "B", "bob", 1);
	cr_assert_eq(grove__dav_user_view_open(&v, g, NULL, "alice"), 0);
	grove_oid zero = { { 0 } }, proj = project(g, "alice");
	cr_assert(grove_oid_is_zero(&proj));
	grove_oid first = alice_commit(g, NULL, "calendars/w/a.ics", "A");
	cr_assert_eq(push(v, &zero, &first), 0, "%s", grove_error_message());
	grove_buf b = { 0 };
	cr_assert_eq(grove_get(g, "main", "alice/calendars/w/a.ics", &b), 0);
	grove_buf_dispose(&b);
	/* A commit with an empty tree removes alice/ from the DAV branch. */
	grove_txn *x;
	grove_oid gone;
	cr_assert_eq(grove_txn_begin_at(&x, g, &first, NULL), 0);
	cr_assert_eq(grove_txn_remove(x, "calendars"), 0);
	cr_assert_eq(grove_txn_commit(x, NULL, &gone), 0);
	grove_txn_free(x);
	cr_assert_eq(push(v, &first, &gone), 0, "%s", grove_error_message());
	cr_assert_eq(grove_exists(g, "main", "alice/calendars/w/a.ics"), 0);
	cr_assert_eq(grove_exists(g, "main", "bob/calendars/w/b.ics"), 1);
	grove_oid now = project(g, "alice");
	cr_assert(same(&now, &gone));
	grove__dav_user_view_close(v);
	grove_close(g);
}

/* ---- upload-pack on a view: only what the projection reaches ------------------------ */

static int capture(void *payload, const void *data, size_t len)
{
	return grove__sbuf_put(payload, data, len);
}

/* One stateless v0 request "want ID" + done on the view; the response. */
static char *fetch_one(grove *view, const grove_oid *want, int *rc)
{
	grove__sbuf out = GROVE_SBUF_INIT;
	grove__upload_pack *up;
	grove__upload_pack_opts o = GROVE__UPLOAD_PACK_OPTS_INIT;
	char hex[GROVE_OID_HEXSZ + 1], req[256];
	o.stateless = 1;
	cr_assert_eq(grove__upload_pack_new(&up, view, &o, capture, &out), 0);
	int n = snprintf(req, sizeof(req), "%04xwant %s ofs-delta\n00000009done\n",
		(unsigned)(4 + 5 + GROVE_OID_HEXSZ + 11), grove_oid_tohex(hex, want));
	*rc = grove__upload_pack_feed(up, req, (size_t)n);
	while (*rc == 0 && grove__upload_pack_state_get(up) == GROVE__UPLOAD_PACK_NEED_PACK)
		*rc = grove__upload_pack_run_pack(up);
	if (*rc == 0)
		*rc = grove__upload_pack_input_end(up);
	grove__upload_pack_free(up);
	grove__sbuf_putc(&out, '\0');
	/* The pack is binary; the test only looks for text before it. */
	for (size_t i = 0; i + 1 < out.len; i++)
		if (!out.data[i])
			out.data[i] = ' ';
	return grove__sbuf_detach(&out, NULL);
}

Test(dav_git_user, upload_pack_refuses_other_users_objects)
{
	grove *g = open_mem(), *v;
	grove_oid c1 = put(g, "alice/calendars/w/a.ics", "A", "alice", 1);
	grove_oid c2 = put(g, "bob/calendars/w/b.ics", "BOB SECRET", "bob", 2);
	cr_assert_eq(grove__dav_user_view_open(&v, g, NULL, "alice"), 0);
	grove_oid bob_blob = subtree(g, &c2, "bob/calendars/w/b.ics");
	grove_oid bob_tree = subtree(g, &c2, "bob");
	grove_oid alice_blob = subtree(g, &c1, "alice/calendars/w/a.ics");
	grove_oid proj = project(g, "alice");
	const grove_oid *refused[] = { &bob_blob, &bob_tree, &c1, &c2 };
	for (size_t i = 0; i < 4; i++) {
		int rc;
		char *resp = fetch_one(v, refused[i], &rc);
		cr_assert_lt(rc, 0, "want %zu accepted", i);
		cr_assert(strstr(resp, "ERR upload-pack: not our ref"), "want %zu: %s", i, resp);
		cr_assert_null(strstr(resp, "PACK"), "a pack for want %zu", i);
		free(resp);
	}
	/* Alice's own objects (the tip, a blob it reaches) are served. */
	const grove_oid *allowed[] = { &proj, &alice_blob };
	for (size_t i = 0; i < 2; i++) {
		int rc;
		char *resp = fetch_one(v, allowed[i], &rc);
		cr_assert_eq(rc, 0, "want %zu: %s", i, grove_error_message());
		cr_assert(strstr(resp, "PACK"), "no pack for want %zu: %s", i, resp);
		free(resp);
	}
	grove__dav_user_view_close(v);
	grove_close(g);
}
