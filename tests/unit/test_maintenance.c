/*
 * grove_fsck and grove_gc on every backend: clean stores with branches,
 * merges, tags and a gitlink; damaged, missing and dangling objects and refs
 * (made by writing under the library: raw LMDB, loose object files, the
 * backend vtable); gc removing what no ref reaches and keeping delta bases;
 * gc racing writers that re-add unreachable values.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compress.h"
#include "oid.h"
#include "store.h"

static char tmpdir[256];
static char loc[400];

static void make_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/grove-maint-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmp(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (tmpdir[0] && system(cmd) != 0)
		cr_log_warn("cannot remove %s", tmpdir);
}

TestSuite(fsck, .init = make_tmp, .fini = remove_tmp, .timeout = 60);
TestSuite(gc, .init = make_tmp, .fini = remove_tmp, .timeout = 120);

static grove *open_kind(const char *kind)
{
	grove *g = NULL;
	if (!strcmp(kind, "mem"))
		snprintf(loc, sizeof(loc), "mem:");
	else
		snprintf(loc, sizeof(loc), "%s:%s/store", kind, tmpdir);
	cr_assert_eq(grove_open(&g, loc, NULL), 0, "open %s: %s", loc, grove_error_message());
	return g;
}

static grove *reopen(void)
{
	grove *g = NULL;
	cr_assert_eq(grove_open(&g, loc, NULL), 0, "reopen %s: %s", loc, grove_error_message());
	return g;
}

static const grove_signature alice = { "Alice", "alice@example.org", 1700000000, 60 };
static const grove_commit_opts copts = { &alice, &alice, "test commit" };

static grove_oid set1(grove *g, const char *branch, const char *key, const char *val)
{
	grove_oid id;
	cr_assert_eq(grove_set(g, branch, key, val, strlen(val), &copts, &id), 0, "set %s: %s",
		key, grove_error_message());
	return id;
}

static grove_oid id_of(grove *g, const char *rev, const char *path)
{
	grove_view *v = NULL;
	grove_oid id;
	grove_kind kind;
	cr_assert_eq(grove_view_open(&v, g, rev), 0, "%s", grove_error_message());
	cr_assert_eq(grove_view_id(v, path, &id, &kind), 0, "id of %s: %s", path, grove_error_message());
	grove_view_free(v);
	return id;
}

static grove_oid write_obj(grove *g, grove_otype type, const void *data, size_t len)
{
	grove_oid id;
	cr_assert_eq(grove_object_write(g, type, data, len, &id), 0, "write: %s", grove_error_message());
	return id;
}

/* A tree holding a gitlink (a commit of another repository, not stored
 * here) and a blob, grafted at "mod". */
static void add_gitlink(grove *g)
{
	unsigned char tree[200];
	size_t n = 0;
	grove_oid blob = write_obj(g, GROVE_OBJ_BLOB, "readme\n", 7), sub, tid, out;
	grove_txn *x = NULL;

	memcpy(tree + n, "100644 README", 13), n += 13;
	tree[n++] = 0;
	memcpy(tree + n, blob.id, 20), n += 20;
	memcpy(tree + n, "160000 sub", 10), n += 10;
	tree[n++] = 0;
	memset(sub.id, 0xab, 20); /* never stored: fsck must not look for it */
	memcpy(tree + n, sub.id, 20), n += 20;
	tid = write_obj(g, GROVE_OBJ_TREE, tree, n);
	cr_assert_eq(grove_txn_begin(&x, g, "main"), 0);
	cr_assert_eq(grove_txn_set_tree_id(x, "mod", &tid), 0, "%s", grove_error_message());
	cr_assert_eq(grove_txn_commit(x, &copts, &out), 0, "%s", grove_error_message());
	grove_txn_free(x);
}

/* main with several commits and directories, a merged feature branch, a
 * gitlink, an annotated and a lightweight tag: 4 refs. */
static void build_history(grove *g)
{
	grove_merge_opts mo = { &copts, 1 };
	grove_oid head, merged, tag;
	char tagbuf[400];

	set1(g, "main", "a", "one");
	set1(g, "main", "dir/b", "two");
	set1(g, "main", "dir/sub/c", "three");
	cr_assert_eq(grove_branch_create(g, "feature", "main", 0), 0, "%s", grove_error_message());
	set1(g, "feature", "dir/x", "feature value");
	set1(g, "main", "y", "main value");
	cr_assert_eq(grove_merge(g, "main", "feature", &mo, &merged, NULL), 0, "merge: %s",
		grove_error_message());
	add_gitlink(g);
	cr_assert_eq(grove_branch_head(g, "main", &head), 0);
	{
		grove_commit *c = NULL;
		cr_assert_eq(grove_commit_read(g, &merged, &c), 0);
		cr_assert_eq(c->parent_count, 2, "a real merge commit");
		grove_commit_free(c);
	}
	char hex[41];
	int n = snprintf(tagbuf, sizeof(tagbuf),
		"object %s\ntype commit\ntag v1\ntagger Alice <alice@example.org> 1700000000 +0100\n\nrelease\n",
		grove_oid_tohex(hex, &head));
	tag = write_obj(g, GROVE_OBJ_TAG, tagbuf, (size_t)n);
	grove_ref_update u[2] = {
		{ "refs/tags/v1", { { 0 } }, tag, 0 },
		{ "refs/tags/light", { { 0 } }, merged, 0 },
	};
	cr_assert_eq(grove_ref_update_batch(g, u, 2), 0, "tags: %s", grove_error_message());
}

static void fsck_ok(grove *g, size_t refs)
{
	grove_fsck_report rep = { 0 };
	cr_assert_eq(grove_fsck(g, &rep), 0, "fsck: %s", grove_error_message());
	for (size_t i = 0; i < rep.problem_count; i++)
		cr_log_error("problem: %s", rep.problems[i].message);
	cr_assert_eq(rep.problem_count, 0);
	cr_assert_eq(rep.refs_checked, refs);
	cr_assert_gt(rep.objects_checked, refs);
	grove_fsck_report_dispose(&rep);
}

/* Runs fsck, which must succeed, and returns its report. */
static grove_fsck_report fsck_run(grove *g)
{
	grove_fsck_report rep = { 0 };
	cr_assert_eq(grove_fsck(g, &rep), 0, "fsck: %s", grove_error_message());
	for (size_t i = 0; i < rep.problem_count; i++)
		cr_log_info("problem: %s", rep.problems[i].message);
	return rep;
}

/* The problem about id, whose message contains what; fails if none. */
static void expect_problem(const grove_fsck_report *rep, const grove_oid *id, const char *what)
{
	char hex[41];
	for (size_t i = 0; i < rep->problem_count; i++)
		if (grove__oid_equal(&rep->problems[i].id, id) && strstr(rep->problems[i].message, what))
			return;
	cr_assert_fail("no problem \"%s\" about %s among %zu", what, grove_oid_tohex(hex, id),
		rep->problem_count);
}

/* --- clean stores ---------------------------------------------------- */

Test(fsck, clean_mem) { grove *g = open_kind("mem"); build_history(g); fsck_ok(g, 4); grove_close(g); }
Test(fsck, clean_lmdb) { grove *g = open_kind("lmdb"); build_history(g); fsck_ok(g, 4); grove_close(g); }
Test(fsck, clean_git)
{
	grove *g = open_kind("git");
	build_history(g);
	fsck_ok(g, 4);
	grove_close(g);
	/* and git agrees */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "git --git-dir='%s/store' fsck --strict --no-dangling >/dev/null 2>&1", tmpdir);
	cr_assert_eq(system(cmd), 0, "git fsck");
}

Test(fsck, empty_store_is_clean)
{
	grove *g = open_kind("lmdb");
	grove_fsck_report rep = fsck_run(g);
	cr_assert_eq(rep.problem_count, 0);
	cr_assert_eq(rep.refs_checked, 0);
	grove_fsck_report_dispose(&rep);
	cr_assert_eq(grove_fsck(g, NULL), GROVE_EINVALID);
	grove_close(g);
}

Test(fsck, long_history_is_walked_without_recursion)
{
	grove *g = open_kind("mem");
	char val[32];
	grove_txn *x = NULL;
	grove_oid prev = { { 0 } }, id;
	/* 20000 commits on one chain: a recursive walk would need that depth. */
	for (int i = 0; i < 20000; i++) {
		snprintf(val, sizeof(val), "%d", i % 7);
		cr_assert_eq(grove_txn_begin_at(&x, g, i ? &prev : NULL, NULL), 0);
		cr_assert_eq(grove_txn_set(x, "k", val, strlen(val)), 0);
		cr_assert_eq(grove_txn_commit(x, &copts, &id), 0, "%s", grove_error_message());
		grove_txn_free(x);
		prev = id;
	}
	cr_assert_eq(grove_branch_create_at(g, "main", &prev, 0), 0);
	grove_fsck_report rep = fsck_run(g);
	cr_assert_eq(rep.problem_count, 0);
	cr_assert_geq(rep.objects_checked, 20000 + 7);
	grove_fsck_report_dispose(&rep);
	grove_close(g);
}

/* --- damage ---------------------------------------------------------- */

/* Replaces the LMDB records of the given objects, with the store closed. */
static void lmdb_overwrite(const grove_oid *ids, const void *const *vals, const size_t *lens, size_t n)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char path[300];
	snprintf(path, sizeof(path), "%s/store", tmpdir);
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	cr_assert_eq(mdb_env_open(env, path, 0, 0644), 0, "raw open %s", path);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "objects", 0, &dbi), 0);
	for (size_t i = 0; i < n; i++) {
		MDB_val k = { 20, (void *)ids[i].id }, v = { lens[i], (void *)vals[i] };
		/* A record still pending in the journal is shadowed by this one. */
		cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(fsck, lmdb_damaged_records_are_reported)
{
	grove *g = open_kind("lmdb");
	build_history(g);
	grove_oid a = id_of(g, "main", "a"), b = id_of(g, "main", "dir/b"), sub = id_of(g, "main", "dir/sub");
	grove_close(g);

	/* a: a well-formed plain blob record of other content (hash mismatch);
	 * dir/b: garbage that is not a record at all;
	 * dir/sub: a tree record whose content is not a tree. */
	static const unsigned char wrong[] = { 0x03, 5, 'w', 'r', 'o', 'n', 'g' };
	static const unsigned char garbage[] = { 0xff, 0xee, 0xdd };
	static const unsigned char badtree[] = { 0x02, 4, 'j', 'u', 'n', 'k' };
	grove_oid ids[3] = { a, b, sub };
	const void *vals[3] = { wrong, garbage, badtree };
	size_t lens[3] = { sizeof(wrong), sizeof(garbage), sizeof(badtree) };
	lmdb_overwrite(ids, vals, lens, 3);

	g = reopen();
	grove_fsck_report rep = fsck_run(g);
	expect_problem(&rep, &a, "hashes to");
	expect_problem(&rep, &b, "cannot be read");
	expect_problem(&rep, &sub, "tree");
	/* c lives only under the damaged tree: it cannot be reached now */
	cr_assert_geq(rep.problem_count, 3);
	grove_fsck_report_dispose(&rep);
	/* gc must refuse to sweep when a reachable tree cannot be read */
	grove_gc_stats st;
	int rc = grove_gc(g, &st);
	cr_assert_eq(rc, GROVE_ECORRUPT, "gc: %s %s", grove_code_name(rc), grove_error_message());
	grove_close(g);
}

static void loose_path(char *out, size_t len, const grove_oid *id)
{
	char hex[41];
	grove_oid_tohex(hex, id);
	snprintf(out, len, "%s/store/objects/%.2s/%s", tmpdir, hex, hex + 2);
}

Test(fsck, git_wrong_loose_content_is_reported)
{
	grove *g = open_kind("git");
	build_history(g);
	grove_oid a = id_of(g, "main", "a");
	grove_close(g);

	/* a valid zlib stream of a different blob under a's name */
	char path[400];
	struct stat st;
	static const char other[] = "blob 5\0wrong";
	grove_buf z = { 0 };
	loose_path(path, sizeof(path), &a);
	cr_assert_eq(stat(path, &st), 0, "loose object %s", path);
	cr_assert_eq(grove__zlib_compress(other, sizeof(other) - 1, 6, &z), 0);
	cr_assert_eq(unlink(path), 0);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(z.data, 1, z.size, f), z.size);
	fclose(f);
	grove_buf_dispose(&z);

	g = reopen();
	grove_fsck_report rep = fsck_run(g);
	/* libgit2 may refuse the read (hash check) or return the content,
	 * which then hashes wrong: either way a problem about a. */
	expect_problem(&rep, &a, "blob");
	cr_assert_eq(rep.problem_count, 1);
	grove_fsck_report_dispose(&rep);
	grove_close(g);
}

/*
 * KNOWN FAILURE with libgit2 <= 1.9: git_odb_read loops forever on a
 * truncated loose object (libgit2 issue #7342, fixed by PR #7346).  The
 * timeout turns the hang into a failure; the fix belongs in backend_git.c
 * (inflate loose objects itself, or check the stream before libgit2 does).
 */
Test(fsck, git_truncated_loose_object_is_reported, .timeout = 15)
{
	grove *g = open_kind("git");
	build_history(g);
	grove_oid b = id_of(g, "main", "dir/b");
	grove_close(g);

	char path[400];
	struct stat st;
	loose_path(path, sizeof(path), &b);
	cr_assert_eq(stat(path, &st), 0, "loose object %s", path);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(truncate(path, st.st_size / 2), 0);

	g = reopen();
	grove_fsck_report rep = fsck_run(g);
	expect_problem(&rep, &b, "cannot be read");
	cr_assert_eq(rep.problem_count, 1);
	grove_fsck_report_dispose(&rep);
	grove_close(g);
}

static int keep_all_but(const grove_oid *id, void *payload)
{
	return !grove__oid_equal(id, payload);
}

static void remove_object(grove *g, const grove_oid *id)
{
	size_t removed = 0;
	if (!strcmp(grove_backend_name(g), "git")) {
		char path[400];
		loose_path(path, sizeof(path), id);
		cr_assert_eq(unlink(path), 0, "unlink %s", path);
		return;
	}
	cr_assert_eq(g->be->ops->remove_unreachable(g->be, keep_all_but, (void *)id, &removed), 0);
	cr_assert_eq(removed, 1);
}

static void missing_object(const char *kind)
{
	grove *g = open_kind(kind);
	build_history(g);
	grove_oid c = id_of(g, "main", "dir/sub/c"), sub = id_of(g, "main", "dir/sub");
	if (!strcmp(kind, "git")) {
		grove_close(g);
		g = NULL;
	}
	if (!g) {
		grove *tmp = reopen();
		remove_object(tmp, &c);
		grove_close(tmp);
		g = reopen();
	} else {
		remove_object(g, &c);
	}
	grove_fsck_report rep = fsck_run(g);
	char want[200], hex[41], shex[41];
	snprintf(want, sizeof(want), "missing blob %s (referenced by %s)",
		grove_oid_tohex(hex, &c), grove_oid_tohex(shex, &sub));
	expect_problem(&rep, &c, want);
	cr_assert_eq(rep.problem_count, 1, "reported once though many commits share the tree");
	grove_fsck_report_dispose(&rep);
	grove_close(g);
}

Test(fsck, missing_object_mem) { missing_object("mem"); }
Test(fsck, missing_object_lmdb) { missing_object("lmdb"); }
Test(fsck, missing_object_git) { missing_object("git"); }

static void dangling_ref(const char *kind)
{
	grove *g = open_kind(kind);
	build_history(g);
	grove_oid nowhere, blob = id_of(g, "main", "a");
	memset(nowhere.id, 0x5a, 20);
	/* Under the library, which refuses refs to absent objects. */
	grove_ref_update u[2] = {
		{ "refs/heads/lost", { { 0 } }, nowhere, 0 },
		{ "refs/heads/notacommit", { { 0 } }, blob, 0 },
	};
	grove__write_set ws = { NULL, 0, u, 2 };
	cr_assert_eq(g->be->ops->write(g->be, &ws), 0, "%s", grove_error_message());
	grove_fsck_report rep = fsck_run(g);
	expect_problem(&rep, &nowhere, "missing commit");
	expect_problem(&rep, &nowhere, "refs/heads/lost");
	expect_problem(&rep, &blob, "expected a commit");
	cr_assert_eq(rep.refs_checked, 6);
	cr_assert_eq(rep.problem_count, 2);
	grove_fsck_report_dispose(&rep);
	grove_close(g);
}

Test(fsck, dangling_ref_mem) { dangling_ref("mem"); }
Test(fsck, dangling_ref_lmdb) { dangling_ref("lmdb"); }
Test(fsck, dangling_ref_git) { dangling_ref("git"); }

/* --- gc -------------------------------------------------------------- */

static void gc_removes_unreachable(const char *kind)
{
	grove *g = open_kind(kind);
	build_history(g);
	grove_oid keep_blob = id_of(g, "main", "dir/b");
	grove_oid tmp_commit = set1(g, "tmp", "only/here", "temporary value");
	grove_oid tmp_blob = id_of(g, "tmp", "only/here"), tmp_tree = id_of(g, "tmp", "only");
	grove_oid tmp_root = id_of(g, "tmp", "");
	cr_assert_eq(grove_branch_delete(g, "tmp"), 0);

	grove_gc_stats st = { 0 };
	cr_assert_eq(grove_gc(g, &st), 0, "gc: %s", grove_error_message());
	cr_assert_eq(st.objects_removed, 4, "commit, root tree, tree, blob: %zu", st.objects_removed);
	cr_assert_gt(st.objects_before, st.objects_removed);
	cr_assert_eq(grove_object_exists(g, &tmp_commit), 0);
	cr_assert_eq(grove_object_exists(g, &tmp_blob), 0);
	cr_assert_eq(grove_object_exists(g, &tmp_tree), 0);
	cr_assert_eq(grove_object_exists(g, &tmp_root), 0);
	cr_assert_eq(grove_object_exists(g, &keep_blob), 1);
	fsck_ok(g, 4);

	/* a second run finds nothing; history and values still read */
	cr_assert_eq(grove_gc(g, &st), 0);
	cr_assert_eq(st.objects_removed, 0);
	grove_buf v = { 0 };
	cr_assert_eq(grove_get(g, "feature", "dir/x", &v), 0);
	grove_buf_dispose(&v);

	/* the removed value can be written again */
	set1(g, "main", "only/here", "temporary value");
	fsck_ok(g, 4);
	grove_close(g);
}

Test(gc, removes_unreachable_mem) { gc_removes_unreachable("mem"); }
Test(gc, removes_unreachable_lmdb) { gc_removes_unreachable("lmdb"); }

Test(gc, git_is_unsupported)
{
	grove *g = open_kind("git");
	build_history(g);
	grove_gc_stats st = { 0 };
	cr_assert_eq(grove_gc(g, &st), GROVE_EUNSUPPORTED);
	cr_assert(strstr(grove_error_message(), "git gc") != NULL, "%s", grove_error_message());
	grove_close(g);
}

Test(gc, read_only_is_refused)
{
	grove *g = open_kind("lmdb");
	set1(g, "main", "a", "1");
	grove_close(g);
	grove_options o = GROVE_OPTIONS_INIT;
	o.read_only = 1;
	cr_assert_eq(grove_open(&g, loc, &o), 0, "%s", grove_error_message());
	cr_assert_eq(grove_gc(g, NULL), GROVE_EREADONLY);
	grove_close(g);
}

/* A reachable object stored as a delta against an object that nothing
 * references: the base must survive gc or the object becomes unreadable. */
Test(gc, keeps_delta_bases_lmdb)
{
	grove *g = open_kind("lmdb");
	static const char base_txt[] = "a base text of twenty-nine b\n";   /* 29 bytes */
	static const char target_txt[] = "a base text of twenty-nine b\nmore\n";
	unsigned char delta[16];
	size_t n = 0;
	delta[n++] = 29;          /* source size */
	delta[n++] = 34;          /* target size */
	delta[n++] = 0x90;        /* copy, one size byte, offset 0 */
	delta[n++] = 29;
	delta[n++] = 5;           /* insert 5 bytes */
	memcpy(delta + n, "more\n", 5), n += 5;

	grove__object recs[2];
	grove_buf z = { 0 };
	memset(recs, 0, sizeof(recs));
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, base_txt, 29, &recs[0].id), 0);
	recs[0].type = GROVE_OBJ_BLOB;
	recs[0].size = 29;
	recs[0].encoding = GROVE__ENC_PLAIN;
	recs[0].data = base_txt;
	recs[0].data_len = 29;
	cr_assert_eq(grove__zlib_compress(delta, n, 6, &z), 0);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, target_txt, 34, &recs[1].id), 0);
	recs[1].type = GROVE_OBJ_BLOB;
	recs[1].size = 34;
	recs[1].encoding = GROVE__ENC_DELTA;
	recs[1].data = z.data;
	recs[1].data_len = z.size;
	recs[1].base = recs[0].id;
	grove__write_set ws = { recs, 2, NULL, 0 };
	cr_assert_eq(g->be->ops->write(g->be, &ws), 0, "%s", grove_error_message());
	grove_buf_dispose(&z);

	/* main references the delta object only (its blob is already stored) */
	set1(g, "main", "k", target_txt);
	grove_gc_stats st = { 0 };
	cr_assert_eq(grove_gc(g, &st), 0, "gc: %s", grove_error_message());
	cr_assert_eq(st.objects_removed, 0);
	cr_assert_eq(grove_object_exists(g, &recs[0].id), 1, "delta base kept");
	grove_buf v = { 0 };
	cr_assert_eq(grove_get(g, "main", "k", &v), 0, "%s", grove_error_message());
	cr_assert_eq(v.size, 34);
	grove_buf_dispose(&v);
	fsck_ok(g, 1);

	/* once nothing needs the delta, both go */
	set1(g, "main", "k", "other");
	grove_oid first;
	cr_assert_eq(grove_branch_head(g, "main", &first), 0);
	grove_txn *x = NULL;
	cr_assert_eq(grove_txn_begin_at(&x, g, NULL, NULL), 0);
	cr_assert_eq(grove_txn_set(x, "k", "other", 5), 0);
	grove_oid lone;
	cr_assert_eq(grove_txn_commit(x, &copts, &lone), 0);
	grove_txn_free(x);
	cr_assert_eq(grove_branch_set_head(g, "main", NULL, &lone), 0);
	cr_assert_eq(grove_gc(g, &st), 0, "gc: %s", grove_error_message());
	cr_assert_eq(grove_object_exists(g, &recs[0].id), 0);
	cr_assert_eq(grove_object_exists(g, &recs[1].id), 0);
	fsck_ok(g, 1);
	grove_close(g);
}

/*
 * The race: a writer re-adds a value whose blob exists but is unreachable
 * (its branch was deleted) while gc runs.  The writer skips the existing
 * blob; gc must not delete it under the new commit.
 */
typedef struct {
	grove *g;
	int iterations;
	int failures;
} racer;

static void *race_writer(void *arg)
{
	racer *r = arg;
	char val[64], branch[32];
	grove_oid id;
	for (int i = 0; i < r->iterations; i++) {
		snprintf(val, sizeof(val), "value %d of the racing writer", i);
		snprintf(branch, sizeof(branch), "tmp%d", i);
		if (grove_set(r->g, branch, "v", val, strlen(val), &copts, &id) < 0 ||
		    grove_branch_delete(r->g, branch) < 0 ||
		    grove_set(r->g, "main", "v", val, strlen(val), &copts, &id) < 0)
			r->failures++;
	}
	return NULL;
}

static void gc_races_writer(const char *kind, int second_handle)
{
	grove *g = open_kind(kind), *w = g;
	char key[32];
	/* enough objects that the mark phase takes a while */
	grove_txn *x = NULL;
	cr_assert_eq(grove_txn_begin(&x, g, "main"), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "d%d/k%d", i % 40, i);
		cr_assert_eq(grove_txn_set(x, key, key, strlen(key)), 0);
	}
	cr_assert_eq(grove_txn_commit(x, &copts, NULL), 0, "%s", grove_error_message());
	grove_txn_free(x);
	if (second_handle)
		w = reopen();

	racer r = { w, 300, 0 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, race_writer, &r), 0);
	int runs = 0, gc_rc = 0;
	char gc_msg[512] = "";
	for (;;) {
		grove_gc_stats st;
		/* no assertion while the writer runs: it would use a closed store */
		if ((gc_rc = grove_gc(g, &st)) < 0) {
			snprintf(gc_msg, sizeof(gc_msg), "%s", grove_error_message());
			break;
		}
		runs++;
		/* stop once the writer is done */
		grove_buf v = { 0 };
		if (grove_get(g, "main", "v", &v) == 0) {
			int done = strstr((char *)v.data, "value 299 ") == v.data;
			grove_buf_dispose(&v);
			if (done)
				break;
		}
	}
	pthread_join(t, NULL);
	cr_assert_eq(gc_rc, 0, "gc: %s", gc_msg);
	cr_assert_eq(r.failures, 0);
	cr_log_info("%s: %d gc runs during 300 writer rounds", kind, runs);
	grove_fsck_report rep = fsck_run(w);
	cr_assert_eq(rep.problem_count, 0, "gc deleted objects a concurrent commit needs");
	grove_fsck_report_dispose(&rep);
	if (w != g)
		grove_close(w);
	grove_close(g);
}

Test(gc, races_writer_mem) { gc_races_writer("mem", 0); }
Test(gc, races_writer_lmdb_same_handle) { gc_races_writer("lmdb", 0); }
Test(gc, races_writer_lmdb_other_handle) { gc_races_writer("lmdb", 1); }

/* The same race with the writer in another process: only the LMDB write
 * transaction separates it from the sweep. */
Test(gc, races_writer_in_another_process_lmdb)
{
	grove *g = open_kind("lmdb");
	char key[32];
	grove_txn *x = NULL;
	cr_assert_eq(grove_txn_begin(&x, g, "main"), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "d%d/k%d", i % 40, i);
		cr_assert_eq(grove_txn_set(x, key, key, strlen(key)), 0);
	}
	cr_assert_eq(grove_txn_commit(x, &copts, NULL), 0, "%s", grove_error_message());
	grove_txn_free(x);
	/* No handle may be open across fork: LMDB environments do not survive it. */
	grove_close(g);

	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		grove *w = NULL;
		if (grove_open(&w, loc, NULL) < 0)
			_exit(3);
		racer r = { w, 300, 0 };
		race_writer(&r);
		grove_close(w);
		_exit(r.failures ? 1 : 0);
	}
	g = reopen();
	int status = 0, runs = 0, gc_rc = 0;
	char gc_msg[512] = "";
	while (waitpid(pid, &status, WNOHANG) == 0) {
		grove_gc_stats st;
		if ((gc_rc = grove_gc(g, &st)) < 0) {
			snprintf(gc_msg, sizeof(gc_msg), "%s", grove_error_message());
			waitpid(pid, &status, 0);
			break;
		}
		runs++;
	}
	cr_assert_eq(gc_rc, 0, "gc: %s", gc_msg);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer process failed: %d", status);
	cr_assert_gt(runs, 1);
	cr_log_info("%d gc runs during the writer process", runs);
	grove_fsck_report rep = fsck_run(g);
	cr_assert_eq(rep.problem_count, 0, "gc deleted objects a concurrent commit needs");
	grove_fsck_report_dispose(&rep);
	grove_close(g);
}
