/* History walks: log order, skip/limit, first-parent, per-key history
 * with git's simplification at merges, last_modified, failures. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grove.h"

static grove *g;

static void setup(void)
{
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
}

static void teardown(void)
{
	grove_close(g);
	g = NULL;
}

TestSuite(history, .init = setup, .fini = teardown, .timeout = 120);

static grove_commit_opts at(int64_t t, const char *msg, grove_signature *sig)
{
	grove_commit_opts o = { 0 };
	memset(sig, 0, sizeof(*sig));
	sig->name = "T";
	sig->email = "t@example.com";
	sig->time = t;
	o.author = sig;
	o.message = msg;
	return o;
}

/* Sets key=value (value NULL = remove) on branch, committed at time t. */
static grove_oid put(const char *branch, const char *key, const char *value, int64_t t)
{
	grove_txn *x;
	grove_signature sig;
	grove_commit_opts o = at(t, key, &sig);
	grove_oid id;
	cr_assert_eq(grove_txn_begin(&x, g, branch), 0, "%s", grove_error_message());
	if (value)
		cr_assert_eq(grove_txn_set(x, key, value, strlen(value)), 0, "%s", grove_error_message());
	else
		cr_assert_eq(grove_txn_remove(x, key), 0, "%s", grove_error_message());
	cr_assert_eq(grove_txn_commit(x, &o, &id), 0, "%s", grove_error_message());
	grove_txn_free(x);
	return id;
}

/* A merge commit of from into branch at time t (never a fast-forward). */
static grove_oid merge(const char *branch, const char *from, int64_t t)
{
	grove_signature sig;
	grove_commit_opts co = at(t, "merge", &sig);
	grove_merge_opts mo = { &co, 1 };
	grove_oid id;
	cr_assert_eq(grove_merge(g, branch, from, &mo, &id, NULL), 0, "%s", grove_error_message());
	return id;
}

/* Walks the log and checks it yields exactly want[0..n). */
static void expect_log(const char *rev, const grove_log_opts *opts, const grove_oid *want, size_t n)
{
	grove_log *log;
	grove_commit *c;
	size_t i = 0;
	int rc;
	cr_assert_eq(grove_log_open(&log, g, rev, opts), 0, "%s", grove_error_message());
	while ((rc = grove_log_next(log, &c)) == 0) {
		char a[41], b[41];
		cr_assert_lt(i, n, "log yields more than %zu commits (extra: %s '%s')", n,
			grove_oid_tohex(a, &c->id), c->message);
		cr_assert(grove_oid_cmp(&c->id, &want[i]) == 0, "log entry %zu: got %s, want %s", i,
			grove_oid_tohex(a, &c->id), grove_oid_tohex(b, &want[i]));
		grove_commit_free(c);
		i++;
	}
	cr_assert_eq(rc, GROVE_ITEROVER, "%s", grove_error_message());
	cr_assert_eq(i, n, "log yields %zu commits, want %zu", i, n);
	/* Stays over. */
	cr_assert_eq(grove_log_next(log, &c), GROVE_ITEROVER);
	grove_log_free(log);
}

Test(history, linear_newest_first)
{
	grove_oid c[5];
	for (int i = 0; i < 5; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%d", i);
		c[i] = put("main", "k", v, 1000 + i * 10);
	}
	grove_oid want[5] = { c[4], c[3], c[2], c[1], c[0] };
	expect_log("main", NULL, want, 5);

	/* The commit carries its fields. */
	grove_log *log;
	grove_commit *cm;
	cr_assert_eq(grove_log_open_at(&log, g, &c[2], NULL), 0);
	cr_assert_eq(grove_log_next(log, &cm), 0);
	cr_assert(grove_oid_cmp(&cm->id, &c[2]) == 0);
	cr_assert_eq(cm->parent_count, 1);
	cr_assert(grove_oid_cmp(&cm->parents[0], &c[1]) == 0);
	cr_assert_eq(cm->committer.time, 1020);
	cr_assert_str_eq(cm->message, "k\n");
	grove_commit_free(cm);
	grove_log_free(log);
}

Test(history, skip_and_limit)
{
	grove_oid c[6];
	for (int i = 0; i < 6; i++)
		c[i] = put("main", "k", i % 2 ? "odd" : "even", 1000 + i);
	grove_log_opts o = { 0 };
	o.skip = 1;
	o.limit = 2;
	grove_oid want[2] = { c[4], c[3] };
	expect_log("main", &o, want, 2);
	o.skip = 5;
	o.limit = 0;
	expect_log("main", &o, c, 1);
	o.skip = 6;
	expect_log("main", &o, NULL, 0);
	o.skip = 0;
	o.limit = 1;
	expect_log("main", &o, &c[5], 1);
}

/*
 *   c1 (100) - c2 (300) ------------- M (500)   main
 *      \                              /
 *       t1 (200) ------ t2 (400) ----           topic
 */
Test(history, merge_date_order_and_first_parent)
{
	grove_oid c1 = put("main", "a", "1", 100);
	cr_assert_eq(grove_branch_create(g, "topic", "main", 0), 0);
	grove_oid t1 = put("topic", "t", "1", 200);
	grove_oid c2 = put("main", "b", "1", 300);
	grove_oid t2 = put("topic", "t", "2", 400);
	grove_oid m = merge("main", "topic", 500);

	grove_oid all[5] = { m, t2, c2, t1, c1 };
	expect_log("main", NULL, all, 5);

	grove_log_opts o = { 0 };
	o.first_parent = 1;
	grove_oid fp[3] = { m, c2, c1 };
	expect_log("main", &o, fp, 3);

	/* Each commit once, even when reachable twice. */
	grove_oid m2 = merge("topic", "main", 600);
	grove_oid all2[6] = { m2, m, t2, c2, t1, c1 };
	expect_log("topic", NULL, all2, 6);
}

Test(history, parents_after_children_on_equal_times)
{
	/* Same timestamps everywhere: queue order decides, children first. */
	grove_oid c[4];
	for (int i = 0; i < 4; i++)
		c[i] = put("main", "k", i % 2 ? "x" : "y", 42);
	grove_oid want[4] = { c[3], c[2], c[1], c[0] };
	expect_log("main", NULL, want, 4);
}

Test(history, key_history_linear_and_deletion)
{
	grove_oid c1 = put("main", "dir/a", "1", 100);
	put("main", "b", "1", 200);
	grove_oid c3 = put("main", "dir/a", "2", 300);
	put("main", "dir/c", "1", 400);
	grove_oid c5 = put("main", "dir/a", NULL, 500);
	put("main", "b", "2", 600);

	grove_log_opts o = { 0 };
	o.path = "dir/a";
	grove_oid want[3] = { c5, c3, c1 };
	expect_log("main", &o, want, 3);

	grove_oid id;
	cr_assert_eq(grove_last_modified(g, "main", "dir/a", &id), 0, "%s", grove_error_message());
	cr_assert(grove_oid_cmp(&id, &c5) == 0);

	/* A directory changes whenever something below it changes. */
	o.path = "dir";
	o.limit = 2;
	cr_assert_eq(grove_last_modified(g, "main", "dir", &id), 0);
	cr_assert(grove_oid_cmp(&id, &c5) == 0);

	/* skip/limit count shown commits only. */
	o.path = "dir/a";
	o.skip = 1;
	o.limit = 1;
	expect_log("main", &o, &c3, 1);
}

Test(history, root_commit_included_only_if_path_exists)
{
	grove_oid c1 = put("main", "x", "1", 100);
	grove_oid c2 = put("main", "y", "1", 200);
	grove_log_opts o = { 0 };
	o.path = "x";
	expect_log("main", &o, &c1, 1);
	o.path = "y";
	expect_log("main", &o, &c2, 1);
	o.path = "nothing/here";
	expect_log("main", &o, NULL, 0);
	/* "" means no filter. */
	o.path = "";
	grove_oid all[2] = { c2, c1 };
	expect_log("main", &o, all, 2);
}

/*
 *  main:  c1(a=1,b=1) - c2(b=2) ----- c3(b=3) --- M (500)
 *                          \                      /
 *  topic:                   t1 (a=2, 300) -------
 *
 * For "a", M equals its topic parent (TREESAME): hidden, and only topic is
 * followed.  For "b", M equals its main parent: hidden, t1 never visited.
 */
Test(history, key_history_through_merges)
{
	grove_txn *x;
	grove_signature sig;
	grove_commit_opts co = at(100, "c1", &sig);
	grove_oid c1;
	cr_assert_eq(grove_txn_begin(&x, g, "main"), 0);
	cr_assert_eq(grove_txn_set(x, "a", "1", 1), 0);
	cr_assert_eq(grove_txn_set(x, "b", "1", 1), 0);
	cr_assert_eq(grove_txn_commit(x, &co, &c1), 0);
	grove_txn_free(x);
	grove_oid c2 = put("main", "b", "2", 200);
	cr_assert_eq(grove_branch_create(g, "topic", "main", 0), 0);
	grove_oid t1 = put("topic", "a", "2", 300);
	grove_oid c3 = put("main", "b", "3", 400);
	grove_oid m = merge("main", "topic", 500);
	(void)m;

	grove_log_opts o = { 0 };
	o.path = "a";
	grove_oid wa[2] = { t1, c1 };
	expect_log("main", &o, wa, 2);

	o.path = "b";
	grove_oid wb[3] = { c3, c2, c1 };
	expect_log("main", &o, wb, 3);

	/* --first-parent compares with the first parent only: M changed a. */
	o.path = "a";
	o.first_parent = 1;
	grove_oid wfp[2] = { m, c1 };
	expect_log("main", &o, wfp, 2);

	grove_oid id;
	cr_assert_eq(grove_last_modified(g, "main", "a", &id), 0);
	cr_assert(grove_oid_cmp(&id, &t1) == 0);
	cr_assert_eq(grove_last_modified(g, "main", "b", &id), 0);
	cr_assert(grove_oid_cmp(&id, &c3) == 0);
}

static int concat(const char *path, const grove_buf *base, const grove_buf *ours,
	const grove_buf *theirs, grove_buf *result, int *deleted, void *payload)
{
	(void)path;
	(void)base;
	(void)deleted;
	(void)payload;
	result->size = ours->size + theirs->size;
	result->data = malloc(result->size + 1);
	memcpy(result->data, ours->data, ours->size);
	memcpy((char *)result->data + ours->size, theirs->data, theirs->size);
	return 0;
}

Test(history, merge_differing_from_all_parents_is_shown)
{
	cr_assert_eq(grove_merge_register(g, "k", concat, NULL), 0);
	put("main", "k", "base", 100);
	cr_assert_eq(grove_branch_create(g, "topic", "main", 0), 0);
	grove_oid t1 = put("topic", "k", "T", 200);
	grove_oid c2 = put("main", "k", "M", 300);
	grove_oid m = merge("main", "topic", 400);

	grove_buf v = { 0 };
	cr_assert_eq(grove_get(g, "main", "k", &v), 0);
	cr_assert_eq(v.size, 2);
	cr_assert(!memcmp(v.data, "MT", 2));
	grove_buf_dispose(&v);

	grove_log_opts o = { 0 };
	o.path = "k";
	o.limit = 3;
	grove_oid want[3] = { m, c2, t1 };
	expect_log("main", &o, want, 3);
	grove_oid id;
	cr_assert_eq(grove_last_modified(g, "main", "k", &id), 0);
	cr_assert(grove_oid_cmp(&id, &m) == 0);
}

Test(history, failures)
{
	grove_log *log = NULL;
	grove_oid id;
	grove_log_opts o = { 0 };
	/* Unborn branch, unknown revision. */
	cr_assert_eq(grove_log_open(&log, g, "main", NULL), GROVE_ENOTFOUND);
	cr_assert_eq(grove_last_modified(g, "main", "k", &id), GROVE_ENOTFOUND);
	put("main", "k", "1", 100);
	cr_assert_eq(grove_log_open(&log, g, "nope", NULL), GROVE_ENOTFOUND);
	/* A path that never existed. */
	cr_assert_eq(grove_last_modified(g, "main", "never", &id), GROVE_ENOTFOUND);
	cr_assert(strstr(grove_error_message(), "never") != NULL, "%s", grove_error_message());
	/* Invalid paths. */
	cr_assert_eq(grove_last_modified(g, "main", "a//b", &id), GROVE_EINVALID);
	cr_assert_eq(grove_last_modified(g, "main", "", &id), GROVE_EINVALID);
	o.path = "../x";
	cr_assert_eq(grove_log_open(&log, g, "main", &o), GROVE_EINVALID);
	cr_assert_null(log);
	/* A missing commit, and an object that is not a commit. */
	memset(&id, 0xab, sizeof(id));
	cr_assert_eq(grove_log_open_at(&log, g, &id, NULL), GROVE_ENOTFOUND);
	grove_oid blob;
	cr_assert_eq(grove_object_write(g, GROVE_OBJ_BLOB, "hi", 2, &blob), 0);
	cr_assert_eq(grove_log_open_at(&log, g, &blob, NULL), GROVE_ECORRUPT);
	cr_assert_null(log);
	/* NULL arguments. */
	cr_assert_eq(grove_log_open(NULL, g, "main", NULL), GROVE_EINVALID);
	cr_assert_eq(grove_log_next(NULL, NULL), GROVE_EINVALID);
	grove_log_free(NULL);
}

Test(history, missing_parent_is_an_error_not_a_short_log)
{
	/* A commit whose parent is not in the store. */
	char buf[512];
	grove_oid tree, c, fake;
	char th[41], ph[41];
	cr_assert_eq(grove_object_write(g, GROVE_OBJ_TREE, "", 0, &tree), 0);
	memset(&fake, 0x11, sizeof(fake));
	int n = snprintf(buf, sizeof(buf),
		"tree %s\nparent %s\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nm\n",
		grove_oid_tohex(th, &tree), grove_oid_tohex(ph, &fake));
	cr_assert_eq(grove_object_write(g, GROVE_OBJ_COMMIT, buf, (size_t)n, &c), 0, "%s", grove_error_message());
	grove_log *log;
	grove_commit *cm;
	cr_assert_eq(grove_log_open_at(&log, g, &c, NULL), 0);
	cr_assert_eq(grove_log_next(log, &cm), GROVE_ENOTFOUND);
	grove_log_free(log);
}

/* W4: walking a long history must be fast. */
Test(history, walk_10000_commits)
{
	enum { N = 10000 };
	grove_txn *x;
	grove_signature sig;
	grove_commit_opts co = at(0, "c", &sig);
	cr_assert_eq(grove_txn_begin(&x, g, "main"), 0);
	for (int i = 0; i < N; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%d", i);
		sig.time = 1000000 + i;
		cr_assert_eq(grove_txn_set(x, i % 3 ? "busy" : "dir/rare", v, strlen(v)), 0);
		cr_assert_eq(grove_txn_commit(x, &co, NULL), 0, "%s", grove_error_message());
	}
	grove_txn_free(x);

	struct timespec t0, t1;
	grove_log *log;
	grove_commit *c;
	size_t n = 0;
	int64_t last = INT64_MAX;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(grove_log_open(&log, g, "main", NULL), 0);
	while (grove_log_next(log, &c) == 0) {
		cr_assert_lt(c->committer.time, last);
		last = c->committer.time;
		grove_commit_free(c);
		n++;
	}
	grove_log_free(log);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_eq(n, N);
	cr_log_info("log: %d commits in %.3f s (%.0f commits/s, sanitized build)", N, s, N / s);
	/* Speed is measured by `make bench` (W4), never asserted here. */

	grove_log_opts o = { 0 };
	o.path = "dir/rare";
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(grove_log_open(&log, g, "main", &o), 0);
	n = 0;
	while (grove_log_next(log, &c) == 0) {
		grove_commit_free(c);
		n++;
	}
	grove_log_free(log);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_eq(n, (N + 2) / 3);
	cr_log_info("path log: %d commits in %.3f s", N, s);
}
