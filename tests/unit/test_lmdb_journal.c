/* The LMDB backend's journal (store/lmdb_journal.c): small writes appended
 * as one segment each, indexed in batches, readable all along. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "error.h"
#include "grove.h"
#include "lmdb_internal.h"
#include "oid.h"

static char tmp_root[64];
static char store_path[256];

static void make_tmp(void)
{
	strcpy(tmp_root, "/tmp/grove-journal-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_root));
	snprintf(store_path, sizeof(store_path), "%s/store", tmp_root);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static void remove_tmp(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(journal, .init = make_tmp, .fini = remove_tmp);

static grove_backend *open_be(int read_only)
{
	grove_options o = GROVE_OPTIONS_INIT;
	grove_backend *be = NULL;
	o.read_only = read_only;
	o.create = !read_only;
	int rc = grove__backend_lmdb_open(&be, store_path, &o);
	cr_assert_eq(rc, 0, "open: %s", grove_error_message());
	return be;
}

/* Blob number n: distinct, deterministic content. */
static size_t blob_text(char *buf, size_t cap, unsigned n)
{
	return (size_t)snprintf(buf, cap, "blob number %u of the journal test\n", n);
}

static void blob_id(unsigned n, grove_oid *id)
{
	char buf[80];
	size_t len = blob_text(buf, sizeof(buf), n);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, buf, len, id), 0);
}

/* One small write set holding blobs first..first+count-1. */
static void write_blobs(grove_backend *be, unsigned first, unsigned count)
{
	grove__object objs[8];
	char bufs[8][80];
	cr_assert(count <= 8);
	memset(objs, 0, sizeof(objs));
	for (unsigned i = 0; i < count; i++) {
		size_t len = blob_text(bufs[i], sizeof(bufs[i]), first + i);
		blob_id(first + i, &objs[i].id);
		objs[i].type = GROVE_OBJ_BLOB;
		objs[i].size = len;
		objs[i].encoding = GROVE__ENC_PLAIN;
		objs[i].data = bufs[i];
		objs[i].data_len = len;
	}
	grove__write_set ws = { objs, count, NULL, 0 };
	cr_assert_eq(be->ops->write(be, &ws), 0, "write: %s", grove_error_message());
}

/* For child processes, which report by exit status, not by assertions. */
static int write_one_blob(grove_backend *be, unsigned n)
{
	grove__object obj = { 0 };
	char buf[80];
	size_t len = blob_text(buf, sizeof(buf), n);
	if (grove__object_hash(GROVE_OBJ_BLOB, buf, len, &obj.id) < 0)
		return -1;
	obj.type = GROVE_OBJ_BLOB;
	obj.size = obj.data_len = len;
	obj.data = buf;
	grove__write_set ws = { &obj, 1, NULL, 0 };
	return be->ops->write(be, &ws);
}

static void expect_blob(grove_backend *be, unsigned n)
{
	char want[80];
	size_t len = blob_text(want, sizeof(want), n);
	grove_oid id;
	grove_buf out = { 0 };
	grove_otype t;
	blob_id(n, &id);
	int rc = be->ops->read(be, &id, &t, &out);
	cr_assert_eq(rc, 0, "blob %u: %s", n, grove_error_message());
	cr_assert_eq(t, GROVE_OBJ_BLOB);
	cr_assert_eq(out.size, len);
	cr_assert(memcmp(out.data, want, len) == 0);
	grove_buf_dispose(&out);
	cr_assert_eq(be->ops->exists(be, &id), 1);
}

static uint64_t raw_meta_u64(const char *key)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key }, v;
	uint64_t out = 0;
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	cr_assert_eq(mdb_env_open(env, store_path, MDB_RDONLY, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
		for (int i = 7; i >= 0; i--)
			out = out << 8 | ((unsigned char *)v.mv_data)[i];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return out;
}

static int count_ids(const grove_oid *id, void *payload)
{
	(void)id;
	(*(size_t *)payload)++;
	return 0;
}

/* More small writes than make a merge: every object stays readable before,
 * across and after the merges, and listing finds each once. */
Test(journal, merges_keep_every_object_readable)
{
	enum { WRITES = 1300 };
	grove_backend *be = open_be(0);
	for (unsigned w = 0; w < WRITES; w++) {
		write_blobs(be, w * 3, 3);
		if (w % 97 == 0)
			expect_blob(be, w * 3 + 1);
	}
	for (unsigned n = 0; n < WRITES * 3; n++)
		expect_blob(be, n);
	size_t listed = 0;
	cr_assert_eq(be->ops->foreach_object(be, count_ids, &listed), 0);
	cr_assert_eq(listed, WRITES * 3);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, WRITES * 3);
	be->ops->close(be);
	/* Two merges happened (at 512 pending segments each). */
	cr_assert_geq(raw_meta_u64("journal_indexed"), 1024);

	be = open_be(1); /* a fresh process view, read-only */
	for (unsigned n = 0; n < WRITES * 3; n += 7)
		expect_blob(be, n);
	be->ops->close(be);
}

/* A child process sees what the parent wrote to the journal, and the
 * parent what the child wrote: the index follows other processes. */
Test(journal, other_processes_see_pending_objects)
{
	grove_backend *be = open_be(0);
	write_blobs(be, 0, 2);
	expect_blob(be, 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		grove_backend *cb = NULL;
		grove_options o = GROVE_OPTIONS_INIT;
		int ok = grove__backend_lmdb_open(&cb, store_path, &o) == 0;
		grove_oid id;
		blob_id(1, &id);
		ok = ok && cb->ops->exists(cb, &id) == 1;
		ok = ok && write_one_blob(cb, 100) == 0;
		if (cb)
			cb->ops->close(cb);
		_exit(ok ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
	expect_blob(be, 100);
	expect_blob(be, 1);
	be->ops->close(be);
}

/* A reader's snapshot taken before a merge still finds what was pending
 * in it, though the shared index has moved on. */
Test(journal, old_snapshot_after_merge)
{
	grove_backend *be = open_be(0);
	grove__lmdb_env *e = ((grove__lmdb *)be)->e;
	grove__lmdb_rtxn rt;
	grove_oid id;
	MDB_val v, k;

	write_blobs(be, 0, 1);
	cr_assert_eq(grove__lmdb_read_begin(e, &rt), 0);
	/* Another thread's view would be the same; this one keeps rt open. */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		grove_backend *cb = NULL;
		grove_options o = GROVE_OPTIONS_INIT;
		int ok = grove__backend_lmdb_open(&cb, store_path, &o) == 0;
		for (unsigned w = 1; ok && w < 600; w++)
			ok = write_one_blob(cb, w) == 0;
		if (cb)
			cb->ops->close(cb);
		_exit(ok ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
	/* The index now reflects the merged state (read in a new snapshot). */
	expect_blob(be, 599);
	expect_blob(be, 0);
	/* The old snapshot: blob 0 pending there, blob 599 absent. */
	blob_id(0, &id);
	k.mv_size = GROVE_OID_RAWSZ;
	k.mv_data = id.id;
	cr_assert_eq(mdb_get(rt.txn, e->objects, &k, &v), MDB_NOTFOUND);
	cr_assert_eq(grove__lmdb_journal_find(e, rt.txn, NULL, &id, &v), 0);
	blob_id(599, &id);
	cr_assert_eq(grove__lmdb_journal_find(e, rt.txn, NULL, &id, &v), 1);
	grove__lmdb_read_end(e, &rt);
	be->ops->close(be);
}

/* gc merges the journal first: unreachable pending objects go, reachable
 * ones stay, fsck is clean. */
Test(journal, gc_with_pending_objects)
{
	char loc[300];
	grove *g;
	grove_oid kept, dropped;
	snprintf(loc, sizeof(loc), "lmdb:%s", store_path);
	cr_assert_eq(grove_open(&g, loc, NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "a/kept", "kept", 4, NULL, &kept), 0);
	cr_assert_eq(grove_object_write(g, GROVE_OBJ_BLOB, "loose", 5, &dropped), 0);
	grove_gc_stats st = { 0 };
	cr_assert_eq(grove_gc(g, &st), 0, "gc: %s", grove_error_message());
	cr_assert_geq(st.objects_removed, 1);
	cr_assert_eq(grove_object_exists(g, &dropped), 0);
	grove_buf out = { 0 };
	cr_assert_eq(grove_get(g, "main", "a/kept", &out), 0, "%s", grove_error_message());
	cr_assert_eq(out.size, 4);
	grove_buf_dispose(&out);
	grove_fsck_report rep;
	cr_assert_eq(grove_fsck(g, &rep), 0);
	cr_assert_eq(rep.problem_count, 0);
	grove_fsck_report_dispose(&rep);
	/* Writes after the sweep go to the journal again and are found. */
	cr_assert_eq(grove_set(g, "main", "a/later", "later", 5, NULL, NULL), 0);
	cr_assert_eq(grove_get(g, "main", "a/later", &out), 0);
	grove_buf_dispose(&out);
	grove_close(g);
}

/* A damaged journal segment is reported, not followed. */
Test(journal, damaged_segment_is_an_error)
{
	grove_backend *be = open_be(0);
	write_blobs(be, 0, 2);
	be->ops->close(be);
	/* Truncate the first entry's length field to run past the end. */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	unsigned char key[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	unsigned char bad[1 + GROVE_OID_RAWSZ + 2];
	grove_oid id;
	blob_id(1, &id);
	bad[0] = 0xe7;
	memcpy(bad + 1, id.id, GROVE_OID_RAWSZ);
	bad[1 + GROVE_OID_RAWSZ] = 0x7f; /* 127 bytes claimed, none there */
	bad[2 + GROVE_OID_RAWSZ] = 0x00;
	MDB_val k = { 8, key }, v = { sizeof(bad), bad };
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	cr_assert_eq(mdb_env_open(env, store_path, 0, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "segments", 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	be = open_be(0);
	grove_buf out = { 0 };
	grove_otype t;
	int rc = be->ops->read(be, &id, &t, &out);
	cr_assert_eq(rc, GROVE_ECORRUPT, "%s", grove_error_message());
	cr_assert(strstr(grove_error_message(), "journal segment 1") != NULL, "%s",
		grove_error_message());
	be->ops->close(be);
}

/* A format-4 store (no journal) is upgraded in place when opened for
 * writing, and read as it is when opened read-only. */
Test(journal, format_4_store_is_upgraded)
{
	grove_backend *be = open_be(0);
	write_blobs(be, 0, 1);
	cr_assert_eq(grove__lmdb_journal_flush(be), 0);
	be->ops->close(be);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	unsigned char four[4] = { 4, 0, 0, 0 };
	MDB_val k = { 6, "format" }, v = { 4, four }, jk = { 15, "journal_indexed" };
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	cr_assert_eq(mdb_env_open(env, store_path, 0, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_del(txn, dbi, &jk, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	be = open_be(1);
	expect_blob(be, 0);
	be->ops->close(be);
	be = open_be(0);
	expect_blob(be, 0);
	write_blobs(be, 1, 1);
	expect_blob(be, 1);
	be->ops->close(be);
	cr_assert_eq(raw_meta_u64("journal_indexed"), 1);
}

/* Trees a transaction rewrites are stored as deltas against the version
 * they replace (short chains), and read back byte for byte: fsck hashes
 * every reachable object, a fresh handle resolves the chains cold. */
Test(journal, trees_stored_as_deltas_read_back)
{
	char loc[300], key[64], val[64];
	grove *g;
	grove_oid head, root;
	snprintf(loc, sizeof(loc), "lmdb:%s", store_path);
	cr_assert_eq(grove_open(&g, loc, NULL), 0, "%s", grove_error_message());
	/* 10 directories of 40 keys, then 300 single-key commits. */
	grove_txn *x;
	cr_assert_eq(grove_txn_begin(&x, g, "main"), 0);
	for (unsigned d = 0; d < 10; d++)
		for (unsigned k = 0; k < 40; k++) {
			snprintf(key, sizeof(key), "dir%02u/key%03u", d, k);
			snprintf(val, sizeof(val), "initial %u %u", d, k);
			cr_assert_eq(grove_txn_set(x, key, val, strlen(val)), 0);
		}
	cr_assert_eq(grove_txn_commit(x, NULL, NULL), 0, "%s", grove_error_message());
	grove_txn_free(x);
	uint32_t r = 12345;
	for (unsigned i = 0; i < 300; i++) {
		r = r * 1103515245u + 12345u;
		snprintf(key, sizeof(key), "dir%02u/key%03u", (r >> 8) % 10, (r >> 16) % 45);
		snprintf(val, sizeof(val), "value %u", i);
		cr_assert_eq(grove_set(g, "main", key, val, strlen(val), NULL, NULL), 0, "%s",
			grove_error_message());
	}
	cr_assert_eq(grove_branch_head(g, "main", &head), 0);
	grove_commit *c;
	cr_assert_eq(grove_commit_read(g, &head, &c), 0);
	root = c->tree;
	grove_commit_free(c);
	grove_close(g);

	/* The head's root tree went in as a delta. */
	grove_backend *be = open_be(1);
	grove__object raw;
	grove_buf rb = { 0 };
	cr_assert_eq(be->ops->read_raw(be, &root, &raw, &rb), 0, "%s", grove_error_message());
	cr_assert_eq(raw.encoding, GROVE__ENC_DELTA);
	grove_buf_dispose(&rb);
	be->ops->close(be);

	cr_assert_eq(grove_open(&g, loc, NULL), 0);
	grove_fsck_report rep;
	cr_assert_eq(grove_fsck(g, &rep), 0, "%s", grove_error_message());
	cr_assert_eq(rep.problem_count, 0);
	grove_fsck_report_dispose(&rep);
	grove_buf out = { 0 };
	cr_assert_eq(grove_get(g, "main", "dir00/key000", &out), 0);
	grove_buf_dispose(&out);
	grove_close(g);
}

/* Readers on other threads while the writer appends and merges: every
 * object written before a reader looks is found, whole. */
typedef struct {
	grove_backend *be;
	volatile unsigned *written; /* blobs 0..*written-1 are committed */
	volatile int stop;
	unsigned reads, failures;
} reader_arg;

static void *reader_main(void *p)
{
	reader_arg *a = p;
	uint32_t r = (uint32_t)(uintptr_t)p;
	while (!a->stop) {
		unsigned have = *a->written;
		if (!have)
			continue;
		r = r * 1103515245u + 12345u;
		unsigned n = (r >> 8) % have;
		char want[80];
		size_t len = blob_text(want, sizeof(want), n);
		grove_oid id;
		grove_buf out = { 0 };
		grove_otype t;
		if (grove__object_hash(GROVE_OBJ_BLOB, want, len, &id) < 0 ||
			a->be->ops->read(a->be, &id, &t, &out) != 0 || out.size != len ||
			memcmp(out.data, want, len) != 0)
			a->failures++;
		grove_buf_dispose(&out);
		a->reads++;
	}
	return NULL;
}

Test(journal, concurrent_readers_during_merges, .timeout = 120)
{
	enum { THREADS = 3, WRITES = 1200 };
	grove_backend *be = open_be(0);
	volatile unsigned written = 0;
	reader_arg args[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (reader_arg){ be, &written, 0, 0, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
	}
	for (unsigned w = 0; w < WRITES; w++) {
		write_blobs(be, w * 2, 2);
		__atomic_store_n(&written, (w + 1) * 2, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < THREADS; i++) {
		args[i].stop = 1;
		pthread_join(th[i], NULL);
		cr_assert_eq(args[i].failures, 0, "thread %d: %u of %u reads failed", i,
			args[i].failures, args[i].reads);
		cr_assert_gt(args[i].reads, 0);
	}
	be->ops->close(be);
}
