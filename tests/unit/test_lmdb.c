/* The LMDB backend, exercised directly through its vtable. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "compress.h"
#include "error.h"
#include "lmdb_internal.h"
#include "oid.h"

/* --- fixtures ------------------------------------------------------ */

static char tmp_root[64];
static char store_path[256];

static void make_tmp(void)
{
	strcpy(tmp_root, "/tmp/grove-lmdb-XXXXXX");
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
	char mnt[160];
	snprintf(mnt, sizeof(mnt), "%s/small", tmp_root);
	umount2(mnt, MNT_DETACH); /* the full-disk test's tmpfs, if still there */
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(lmdb, .init = make_tmp, .fini = remove_tmp);

static grove_backend *open_opts(const grove_options *opts)
{
	grove_backend *be = NULL;
	int rc = grove__backend_lmdb_open(&be, store_path, opts);
	cr_assert_eq(rc, 0, "open: %s %s", grove_code_name(rc), grove_error_message());
	return be;
}

static grove_backend *open_store(void)
{
	grove_options o = GROVE_OPTIONS_INIT;
	return open_opts(&o);
}

/* An object record of the given encoding for content data. */
typedef struct {
	grove__object obj;
	grove_buf owned;
} rec;

static void make_rec(rec *r, grove_otype type, const void *data, size_t len, grove__encoding enc)
{
	memset(r, 0, sizeof(*r));
	cr_assert_eq(grove__object_hash(type, data, len, &r->obj.id), 0);
	r->obj.type = type;
	r->obj.size = len;
	r->obj.encoding = enc;
	if (enc == GROVE__ENC_ZLIB) {
		cr_assert_eq(grove__zlib_compress(data, len, 6, &r->owned), 0);
		r->obj.data = r->owned.data;
		r->obj.data_len = r->owned.size;
	} else {
		r->obj.data = data;
		r->obj.data_len = len;
	}
}

static void rec_dispose(rec *r)
{
	grove_buf_dispose(&r->owned);
}

static int write_objects(grove_backend *be, const grove__object *objs, size_t n)
{
	grove__write_set ws = { objs, n, NULL, 0 };
	return be->ops->write(be, &ws);
}

static int update_ref(grove_backend *be, const char *name, const grove_oid *old, const grove_oid *new_id,
	int check)
{
	grove_ref_update u = { name, { { 0 } }, { { 0 } }, check };
	if (old)
		u.old_id = *old;
	if (new_id)
		u.new_id = *new_id;
	grove__write_set ws = { NULL, 0, &u, 1 };
	return be->ops->write(be, &ws);
}

static void oid_n(grove_oid *id, unsigned n)
{
	memset(id, 0, sizeof(*id));
	id->id[0] = 0xab;
	id->id[16] = (unsigned char)(n >> 24);
	id->id[17] = (unsigned char)(n >> 16);
	id->id[18] = (unsigned char)(n >> 8);
	id->id[19] = (unsigned char)n;
}

static void expect_content(grove_backend *be, const grove_oid *id, grove_otype type, const void *data,
	size_t len)
{
	grove_buf out = { 0 };
	grove_otype t = GROVE_OBJ_BAD;
	int rc = be->ops->read(be, id, &t, &out);
	cr_assert_eq(rc, 0, "read: %s", grove_error_message());
	cr_assert_eq(t, type);
	cr_assert_eq(out.size, len);
	cr_assert(memcmp(out.data, data, len) == 0);
	grove_buf_dispose(&out);
}

/* Deterministic pseudo-random bytes (incompressible payloads). */
static void fill_random(unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* --- opening ------------------------------------------------------- */

Test(lmdb, create_write_reopen)
{
	static const char blob[] = "hello grove";
	grove_backend *be = open_store();
	rec r;
	grove_oid got;

	cr_assert_str_eq(be->ops->name, "lmdb");
	make_rec(&r, GROVE_OBJ_BLOB, blob, strlen(blob), GROVE__ENC_PLAIN);
	grove_ref_update u = { "refs/heads/main", { { 0 } }, r.obj.id, 1 };
	grove__write_set ws = { &r.obj, 1, &u, 1 };
	cr_assert_eq(be->ops->write(be, &ws), 0, "%s", grove_error_message());
	be->ops->close(be);

	grove_options o = GROVE_OPTIONS_INIT;
	o.create = 0;
	be = open_opts(&o);
	expect_content(be, &r.obj.id, GROVE_OBJ_BLOB, blob, strlen(blob));
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &got), 0);
	cr_assert(grove__oid_equal(&got, &r.obj.id));
	be->ops->close(be);
}

Test(lmdb, open_missing_without_create)
{
	grove_options o = GROVE_OPTIONS_INIT;
	grove_backend *be = NULL;
	o.create = 0;
	cr_assert_eq(grove__backend_lmdb_open(&be, store_path, &o), GROVE_ENOTFOUND);
	cr_assert_null(be);
	/* An existing empty directory is not a store either. */
	cr_assert_eq(mkdir(store_path, 0755), 0);
	cr_assert_eq(grove__backend_lmdb_open(&be, store_path, &o), GROVE_ENOTFOUND);
	o.read_only = 1;
	cr_assert_eq(grove__backend_lmdb_open(&be, store_path, &o), GROVE_ENOTFOUND);
}

Test(lmdb, open_file_is_invalid)
{
	grove_backend *be = NULL;
	grove_options o = GROVE_OPTIONS_INIT;
	FILE *f = fopen(store_path, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(grove__backend_lmdb_open(&be, store_path, &o), GROVE_EINVALID);
	cr_assert_eq(grove__backend_lmdb_open(&be, "", &o), GROVE_EINVALID);
}

/* --- objects ------------------------------------------------------- */

Test(lmdb, plain_and_zlib_records)
{
	static const char text[] = "some content that compresses: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	grove_backend *be = open_store();
	rec p, z, empty;
	grove_otype t;
	size_t size;

	make_rec(&p, GROVE_OBJ_BLOB, text, strlen(text), GROVE__ENC_PLAIN);
	make_rec(&z, GROVE_OBJ_TREE, text, strlen(text) - 3, GROVE__ENC_ZLIB);
	make_rec(&empty, GROVE_OBJ_BLOB, "", 0, GROVE__ENC_PLAIN);
	grove__object objs[3] = { p.obj, z.obj, empty.obj };
	cr_assert_eq(write_objects(be, objs, 3), 0, "%s", grove_error_message());

	expect_content(be, &p.obj.id, GROVE_OBJ_BLOB, text, strlen(text));
	expect_content(be, &z.obj.id, GROVE_OBJ_TREE, text, strlen(text) - 3);
	expect_content(be, &empty.obj.id, GROVE_OBJ_BLOB, "", 0);

	cr_assert_eq(be->ops->read_header(be, &z.obj.id, &t, &size), 0);
	cr_assert_eq(t, GROVE_OBJ_TREE);
	cr_assert_eq(size, strlen(text) - 3);
	cr_assert_eq(be->ops->exists(be, &p.obj.id), 1);

	grove__object raw;
	grove_buf buf = { 0 };
	cr_assert_eq(be->ops->read_raw(be, &z.obj.id, &raw, &buf), 0);
	cr_assert_eq(raw.encoding, GROVE__ENC_ZLIB);
	cr_assert_eq(raw.type, GROVE_OBJ_TREE);
	cr_assert_eq(raw.size, strlen(text) - 3);
	cr_assert_eq(raw.data_len, z.obj.data_len);
	cr_assert(memcmp(raw.data, z.obj.data, raw.data_len) == 0);
	cr_assert(grove__oid_equal(&raw.id, &z.obj.id));
	grove_buf_dispose(&buf);

	rec_dispose(&z);
	be->ops->close(be);
}

/* A git delta turning base into target: copy the common prefix, insert the
 * rest (enough to exercise decoding; delta creation is tested elsewhere). */
static void make_delta(const char *base, const char *target, grove_buf *out)
{
	size_t blen = strlen(base), tlen = strlen(target), common = 0, n = 0;
	unsigned char *d = malloc(64 + tlen * 2);
	cr_assert_not_null(d);
	while (common < blen && common < tlen && base[common] == target[common])
		common++;
	for (size_t v = blen;; v >>= 7) {
		d[n++] = (v & 0x7f) | (v >> 7 ? 0x80 : 0);
		if (!(v >> 7))
			break;
	}
	for (size_t v = tlen;; v >>= 7) {
		d[n++] = (v & 0x7f) | (v >> 7 ? 0x80 : 0);
		if (!(v >> 7))
			break;
	}
	cr_assert(common > 0 && common < 256);
	d[n++] = 0x80 | 0x10; /* copy: offset 0, one size byte */
	d[n++] = (unsigned char)common;
	for (size_t i = common; i < tlen;) {
		size_t chunk = tlen - i > 127 ? 127 : tlen - i;
		d[n++] = (unsigned char)chunk;
		memcpy(d + n, target + i, chunk);
		n += chunk;
		i += chunk;
	}
	out->data = d;
	out->size = n;
}

Test(lmdb, delta_records)
{
	static const char base[] = "line one\nline two\nline three\nline four\nline five\nline six\n";
	static const char target[] = "line one\nline two\nline 3\nline four\nline five\nline six\nline seven\n";
	grove_backend *be = open_store();
	grove_buf delta = { 0 }, zdelta = { 0 };
	rec b, d;

	make_rec(&b, GROVE_OBJ_BLOB, base, strlen(base), GROVE__ENC_ZLIB);
	make_delta(base, target, &delta);
	cr_assert_eq(grove__zlib_compress(delta.data, delta.size, 6, &zdelta), 0);
	memset(&d, 0, sizeof(d));
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, target, strlen(target), &d.obj.id), 0);
	d.obj.type = GROVE_OBJ_BLOB;
	d.obj.size = strlen(target);
	d.obj.encoding = GROVE__ENC_DELTA;
	d.obj.data = zdelta.data;
	d.obj.data_len = zdelta.size;
	d.obj.base = b.obj.id;
	grove__object objs[2] = { b.obj, d.obj };
	cr_assert_eq(write_objects(be, objs, 2), 0, "%s", grove_error_message());

	expect_content(be, &d.obj.id, GROVE_OBJ_BLOB, target, strlen(target));

	grove_otype t;
	size_t size;
	cr_assert_eq(be->ops->read_header(be, &d.obj.id, &t, &size), 0);
	cr_assert_eq(size, strlen(target));

	grove__object raw;
	grove_buf buf = { 0 };
	cr_assert_eq(be->ops->read_raw(be, &d.obj.id, &raw, &buf), 0);
	cr_assert_eq(raw.encoding, GROVE__ENC_DELTA);
	cr_assert(grove__oid_equal(&raw.base, &b.obj.id));
	cr_assert_eq(raw.data_len, zdelta.size);
	grove_buf_dispose(&buf);

	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.deltas, 1);
	cr_assert_eq(st.objects, 2);

	grove_buf_dispose(&delta);
	grove_buf_dispose(&zdelta);
	rec_dispose(&b);
	be->ops->close(be);
}

Test(lmdb, missing_object)
{
	grove_backend *be = open_store();
	grove_oid id;
	grove_buf out = { 0 };
	grove_otype t;
	size_t size;
	grove__object raw;

	oid_n(&id, 7);
	cr_assert_eq(be->ops->exists(be, &id), 0);
	cr_assert_eq(be->ops->read(be, &id, &t, &out), GROVE_ENOTFOUND);
	cr_assert_null(out.data);
	cr_assert_eq(be->ops->read_header(be, &id, &t, &size), GROVE_ENOTFOUND);
	cr_assert_eq(be->ops->read_raw(be, &id, &raw, &out), GROVE_ENOTFOUND);
	be->ops->close(be);
}

Test(lmdb, existing_objects_are_skipped)
{
	grove_backend *be = open_store();
	rec r;
	make_rec(&r, GROVE_OBJ_BLOB, "abc", 3, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);
	/* Same id, other bytes: the first record stays. */
	grove__object again = r.obj;
	again.data = "xyz";
	cr_assert_eq(write_objects(be, &again, 1), 0);
	expect_content(be, &r.obj.id, GROVE_OBJ_BLOB, "abc", 3);
	be->ops->close(be);
}

Test(lmdb, invalid_objects_refused)
{
	grove_backend *be = open_store();
	rec r;
	make_rec(&r, GROVE_OBJ_BLOB, "abc", 3, GROVE__ENC_PLAIN);

	grove__object bad[2] = { r.obj, r.obj };
	bad[1].type = (grove_otype)9;
	cr_assert_eq(write_objects(be, bad, 2), GROVE_EINVALID);
	bad[1] = r.obj;
	bad[1].size = 4;
	cr_assert_eq(write_objects(be, bad, 2), GROVE_EINVALID);
	bad[1] = r.obj;
	bad[1].encoding = (grove__encoding)7;
	cr_assert_eq(write_objects(be, bad, 2), GROVE_EINVALID);
	/* Nothing of a refused write set was stored. */
	cr_assert_eq(be->ops->exists(be, &r.obj.id), 0);

	grove_ref_update u = { "", { { 0 } }, r.obj.id, 0 };
	grove__write_set ws = { &r.obj, 1, &u, 1 };
	cr_assert_eq(be->ops->write(be, &ws), GROVE_EINVALID);
	cr_assert_eq(be->ops->exists(be, &r.obj.id), 0);
	be->ops->close(be);
}

/* --- refs ---------------------------------------------------------- */

Test(lmdb, ref_compare_and_swap)
{
	grove_backend *be = open_store();
	grove_oid a, b, c, got, zero = { { 0 } };
	rec r;

	oid_n(&a, 1);
	oid_n(&b, 2);
	oid_n(&c, 3);
	/* must-not-exist succeeds on a new ref */
	cr_assert_eq(update_ref(be, "refs/heads/x", &zero, &a, 1), 0);
	/* and fails once it exists */
	cr_assert_eq(update_ref(be, "refs/heads/x", &zero, &b, 1), GROVE_EHEADMOVED);
	cr_assert(strstr(grove_error_message(), "refs/heads/x") != NULL);
	/* expected value matches */
	cr_assert_eq(update_ref(be, "refs/heads/x", &a, &b, 1), 0);
	/* stale expected value: head moved, nothing changes, objects too */
	make_rec(&r, GROVE_OBJ_BLOB, "payload", 7, GROVE__ENC_PLAIN);
	grove_ref_update ups[2] = {
		{ "refs/heads/y", { { 0 } }, c, 0 },
		{ "refs/heads/x", a, c, 1 },
	};
	grove__write_set ws = { &r.obj, 1, ups, 2 };
	cr_assert_eq(be->ops->write(be, &ws), GROVE_EHEADMOVED);
	cr_assert(strstr(grove_error_message(), "refs/heads/x") != NULL, "%s", grove_error_message());
	cr_assert_eq(be->ops->exists(be, &r.obj.id), 0);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/y", &got), GROVE_ENOTFOUND);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/x", &got), 0);
	cr_assert(grove__oid_equal(&got, &b));
	/* expecting a ref that does not exist */
	cr_assert_eq(update_ref(be, "refs/heads/none", &a, &b, 1), GROVE_EHEADMOVED);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/none", &got), GROVE_ENOTFOUND);
	/* checked delete: wrong value refused, right value deletes */
	cr_assert_eq(update_ref(be, "refs/heads/x", &a, NULL, 1), GROVE_EHEADMOVED);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/x", &got), 0);
	cr_assert_eq(update_ref(be, "refs/heads/x", &b, NULL, 1), 0);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/x", &got), GROVE_ENOTFOUND);
	/* unconditional delete of a missing ref is fine, unconditional set too */
	cr_assert_eq(update_ref(be, "refs/heads/x", NULL, NULL, 0), 0);
	cr_assert_eq(update_ref(be, "refs/heads/x", NULL, &c, 0), 0);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/x", &got), 0);
	cr_assert(grove__oid_equal(&got, &c));
	be->ops->close(be);
}

typedef struct {
	char names[16][64];
	int count;
	int stop_at;
} ref_list;

static int collect_ref(const char *name, const grove_oid *id, void *payload)
{
	ref_list *l = payload;
	(void)id;
	if (l->count < 16)
		snprintf(l->names[l->count], 64, "%s", name);
	l->count++;
	if (l->stop_at && l->count == l->stop_at)
		return 42;
	return 0;
}

Test(lmdb, ref_foreach_prefix_and_order)
{
	grove_backend *be = open_store();
	static const char *names[] = { "refs/tags/v1", "refs/heads/main", "refs/heads/b",
		"refs/heads/a/x", "refs/headsx", "refs/heads/c" };
	grove_oid id;
	ref_list l = { 0 };

	for (unsigned i = 0; i < 6; i++) {
		oid_n(&id, i + 1);
		cr_assert_eq(update_ref(be, names[i], NULL, &id, 0), 0);
	}
	cr_assert_eq(be->ops->ref_foreach(be, "refs/heads/", collect_ref, &l), 0);
	cr_assert_eq(l.count, 4);
	cr_assert_str_eq(l.names[0], "refs/heads/a/x");
	cr_assert_str_eq(l.names[1], "refs/heads/b");
	cr_assert_str_eq(l.names[2], "refs/heads/c");
	cr_assert_str_eq(l.names[3], "refs/heads/main");

	memset(&l, 0, sizeof(l));
	cr_assert_eq(be->ops->ref_foreach(be, "", collect_ref, &l), 0);
	cr_assert_eq(l.count, 6);
	cr_assert_str_eq(l.names[4], "refs/headsx");
	cr_assert_str_eq(l.names[5], "refs/tags/v1");

	memset(&l, 0, sizeof(l));
	cr_assert_eq(be->ops->ref_foreach(be, NULL, collect_ref, &l), 0);
	cr_assert_eq(l.count, 6);

	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	cr_assert_eq(be->ops->ref_foreach(be, "refs/", collect_ref, &l), 42);
	cr_assert_eq(l.count, 2);

	memset(&l, 0, sizeof(l));
	cr_assert_eq(be->ops->ref_foreach(be, "refs/remotes/", collect_ref, &l), 0);
	cr_assert_eq(l.count, 0);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(be->ops->ref_foreach(be, "zzz", collect_ref, &l), 0);
	cr_assert_eq(l.count, 0);
	be->ops->close(be);
}

Test(lmdb, head_default_and_write)
{
	grove_backend *be = open_store();
	char *head = NULL;

	cr_assert_eq(be->ops->head_read(be, &head), 0);
	cr_assert_str_eq(head, "refs/heads/main");
	free(head);
	cr_assert_eq(be->ops->head_write(be, "refs/heads/dev"), 0);
	cr_assert_eq(be->ops->head_write(be, ""), GROVE_EINVALID);
	be->ops->close(be);

	be = open_store();
	cr_assert_eq(be->ops->head_read(be, &head), 0);
	cr_assert_str_eq(head, "refs/heads/dev");
	free(head);
	be->ops->close(be);
}

/* --- modes --------------------------------------------------------- */

Test(lmdb, read_only_refuses_writes)
{
	grove_backend *be = open_store();
	rec r;
	grove_oid got;
	make_rec(&r, GROVE_OBJ_BLOB, "abc", 3, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);
	cr_assert_eq(update_ref(be, "refs/heads/main", NULL, &r.obj.id, 0), 0);

	/* A read-only handle while a writable one is open (shared env). */
	grove_options o = GROVE_OPTIONS_INIT;
	o.read_only = 1;
	grove_backend *ro = open_opts(&o);
	cr_assert_eq(update_ref(ro, "refs/heads/x", NULL, &r.obj.id, 0), GROVE_EREADONLY);
	be->ops->close(be);
	ro->ops->close(ro);

	/* A real MDB_RDONLY environment. */
	ro = open_opts(&o);
	expect_content(ro, &r.obj.id, GROVE_OBJ_BLOB, "abc", 3);
	cr_assert_eq(ro->ops->ref_read(ro, "refs/heads/main", &got), 0);
	cr_assert_eq(update_ref(ro, "refs/heads/x", NULL, &r.obj.id, 0), GROVE_EREADONLY);
	cr_assert_eq(write_objects(ro, &r.obj, 1), GROVE_EREADONLY);
	cr_assert_eq(ro->ops->head_write(ro, "refs/heads/x"), GROVE_EREADONLY);
	size_t removed;
	cr_assert_eq(ro->ops->remove_unreachable(ro, NULL, NULL, &removed), GROVE_EREADONLY);
	cr_assert_eq(ro->ops->flush(ro), 0);
	/* A writable open while the env is read-only in this process. */
	grove_backend *rw = NULL;
	grove_options w = GROVE_OPTIONS_INIT;
	cr_assert_eq(grove__backend_lmdb_open(&rw, store_path, &w), GROVE_EREADONLY);
	ro->ops->close(ro);
}

/* Another user: a read-only open works when the lock file is usable, and
 * fails with a clear error when it is not. */
Test(lmdb, unwritable_directory)
{
	grove_backend *be = open_store();
	rec r;
	make_rec(&r, GROVE_OBJ_BLOB, "shared", 6, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);
	be->ops->close(be);
	cr_assert_eq(chmod(tmp_root, 0755), 0);

	for (int usable = 0; usable < 2; usable++) {
		char lock[300];
		snprintf(lock, sizeof(lock), "%s/lock.mdb", store_path);
		cr_assert_eq(chmod(lock, usable ? 0666 : 0644), 0);
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			grove_options o = GROVE_OPTIONS_INIT;
			grove_backend *c = NULL;
			int ok;
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
			/* Writing is refused either way: the directory is root's. */
			ok = grove__backend_lmdb_open(&c, store_path, &o) == GROVE_EREADONLY &&
				strstr(grove_error_message(), store_path) != NULL;
			o.read_only = 1;
			int rc = grove__backend_lmdb_open(&c, store_path, &o);
			if (usable) {
				grove_buf out = { 0 };
				grove_otype t;
				ok = ok && rc == 0 && c->ops->read(c, &r.obj.id, &t, &out) == 0 &&
					out.size == 6;
				grove_buf_dispose(&out);
				if (rc == 0)
					c->ops->close(c);
			} else {
				ok = ok && rc == GROVE_EREADONLY &&
					strstr(grove_error_message(), "lock") != NULL;
			}
			_exit(ok ? 0 : 1);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
			cr_skip_test("cannot switch to another user");
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "usable=%d: child failed", usable);
	}
}

Test(lmdb, relaxed_durability_flushes)
{
	grove_options o = GROVE_OPTIONS_INIT;
	o.durability = GROVE_RELAXED;
	o.sync_interval_ms = 5;
	grove_backend *be = open_opts(&o);
	rec r;
	make_rec(&r, GROVE_OBJ_BLOB, "relaxed", 7, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);
	grove__lmdb_env *e = ((grove__lmdb *)be)->e;
	cr_assert_eq(atomic_load(&e->commits), 1);
	/* The flusher syncs within a few intervals without being asked. */
	for (int i = 0; i < 200 && atomic_load(&e->synced) != 1; i++)
		usleep(5000);
	cr_assert_eq(atomic_load(&e->synced), 1);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0); /* present: still a commit */
	cr_assert_eq(be->ops->flush(be), 0);
	cr_assert_eq(atomic_load(&e->synced), 2);
	be->ops->close(be);
	be = open_store();
	expect_content(be, &r.obj.id, GROVE_OBJ_BLOB, "relaxed", 7);
	be->ops->close(be);
}

/* --- growth and sharing -------------------------------------------- */

#define BIG 100000

Test(lmdb, map_grows_from_one_mib, .timeout = 60)
{
	grove_options o = GROVE_OPTIONS_INIT;
	o.lmdb_map_size = 1 << 20;
	grove_backend *be = open_opts(&o);
	unsigned char *data = malloc(BIG * 50);
	grove__object objs[50];
	rec r;

	cr_assert_not_null(data);
	/* 4 write sets of 5 MB: each outgrows the map by itself. */
	for (unsigned batch = 0; batch < 4; batch++) {
		for (unsigned i = 0; i < 50; i++) {
			fill_random(data + (size_t)i * BIG, BIG, batch * 50 + i);
			make_rec(&r, GROVE_OBJ_BLOB, data + (size_t)i * BIG, BIG, GROVE__ENC_PLAIN);
			objs[i] = r.obj;
		}
		cr_assert_eq(write_objects(be, objs, 50), 0, "%s", grove_error_message());
		for (unsigned i = 0; i < 50; i += 7)
			expect_content(be, &objs[i].id, GROVE_OBJ_BLOB, data + (size_t)i * BIG, BIG);
	}
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, 200);
	cr_assert_eq(st.object_bytes, 200ull * BIG);
	cr_assert_geq(st.disk_bytes, 200ull * BIG);
	be->ops->close(be);

	/* Reopening with the small configured size keeps the grown map. */
	be = open_opts(&o);
	fill_random(data, BIG, 3);
	make_rec(&r, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
	expect_content(be, &r.obj.id, GROVE_OBJ_BLOB, data, BIG);
	be->ops->close(be);
	free(data);
}

typedef struct {
	grove_backend *be;
	grove_oid id;
	const char *data;
	size_t len;
	volatile int *stop;
	int reads;
	int failures;
} reader_arg;

static void *reader_main(void *arg)
{
	reader_arg *a = arg;
	while (!*a->stop) {
		grove_buf out = { 0 };
		grove_otype t;
		if (a->be->ops->read(a->be, &a->id, &t, &out) != 0 || out.size != a->len ||
			memcmp(out.data, a->data, a->len) != 0)
			a->failures++;
		grove_buf_dispose(&out);
		a->reads++;
	}
	return NULL;
}

Test(lmdb, readers_run_while_the_map_grows, .timeout = 60)
{
	grove_options o = GROVE_OPTIONS_INIT;
	o.lmdb_map_size = 1 << 20;
	o.durability = GROVE_RELAXED;
	grove_backend *be = open_opts(&o);
	static const char small[] = "read me while the map grows";
	unsigned char *data = malloc(BIG);
	volatile int stop = 0;
	pthread_t th[4];
	reader_arg args[4];
	rec r;

	make_rec(&r, GROVE_OBJ_BLOB, small, strlen(small), GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (reader_arg){ be, r.obj.id, small, strlen(small), &stop, 0, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
	}
	for (unsigned i = 0; i < 150; i++) {
		rec big;
		fill_random(data, BIG, 1000 + i);
		make_rec(&big, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
		cr_assert_eq(write_objects(be, &big.obj, 1), 0, "%s", grove_error_message());
	}
	stop = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(args[i].failures, 0);
		cr_assert_gt(args[i].reads, 0);
	}
	be->ops->close(be);
	free(data);
}

Test(lmdb, two_handles_share_writes)
{
	grove_backend *a = open_store(), *b = open_store();
	rec r;
	grove_oid got;

	make_rec(&r, GROVE_OBJ_COMMIT, "tree x\n", 7, GROVE__ENC_PLAIN);
	grove_ref_update u = { "refs/heads/main", { { 0 } }, r.obj.id, 1 };
	grove__write_set ws = { &r.obj, 1, &u, 1 };
	cr_assert_eq(a->ops->write(a, &ws), 0);
	cr_assert_eq(b->ops->exists(b, &r.obj.id), 1);
	cr_assert_eq(b->ops->ref_read(b, "refs/heads/main", &got), 0);
	cr_assert(grove__oid_equal(&got, &r.obj.id));
	/* The CAS sees the other handle's write. */
	cr_assert_eq(b->ops->write(b, &ws), GROVE_EHEADMOVED);
	a->ops->close(a);
	/* b still works after a is gone. */
	expect_content(b, &r.obj.id, GROVE_OBJ_COMMIT, "tree x\n", 7);
	b->ops->close(b);
}

/* Another process grows the map and writes; this one must see it. */
Test(lmdb, another_process_grows_the_map, .timeout = 60)
{
	grove_options o = GROVE_OPTIONS_INIT;
	o.lmdb_map_size = 1 << 20;
	grove_backend *be = open_opts(&o);
	grove_oid got, last = { { 0 } };
	rec r;
	make_rec(&r, GROVE_OBJ_BLOB, "x", 1, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);

	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		grove_backend *c = NULL;
		unsigned char *data = malloc(BIG);
		int bad = grove__backend_lmdb_open(&c, store_path, &o) != 0 || !data;
		for (unsigned i = 0; !bad && i < 60; i++) {
			fill_random(data, BIG, 5000 + i);
			make_rec(&r, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
			grove_ref_update u = { "refs/heads/child", { { 0 } }, r.obj.id, 0 };
			grove__write_set ws = { &r.obj, 1, &u, 1 };
			bad = c->ops->write(c, &ws) != 0;
		}
		if (c)
			c->ops->close(c);
		free(data);
		_exit(bad ? 1 : 0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");

	cr_assert_eq(be->ops->ref_read(be, "refs/heads/child", &got), 0, "%s", grove_error_message());
	/* The read adopted the child's larger map (MDB_MAP_RESIZED handled). */
	MDB_envinfo info;
	mdb_env_info(((grove__lmdb *)be)->e->env, &info);
	cr_assert_gt(info.me_mapsize, (size_t)4 << 20);
	unsigned char *data = malloc(BIG);
	fill_random(data, BIG, 5000 + 59);
	make_rec(&r, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
	last = r.obj.id;
	cr_assert(grove__oid_equal(&got, &last));
	expect_content(be, &last, GROVE_OBJ_BLOB, data, BIG);
	/* And this process can still write after the other grew the map. */
	fill_random(data, BIG, 9);
	make_rec(&r, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0, "%s", grove_error_message());
	free(data);
	be->ops->close(be);
}

/* --- maintenance --------------------------------------------------- */

static int keep_odd(const grove_oid *id, void *payload)
{
	(void)payload;
	return id->id[19] & 1;
}

static int keep_fails(const grove_oid *id, void *payload)
{
	(void)id;
	(void)payload;
	return GROVE_ECORRUPT;
}

static int count_cb(const grove_oid *id, void *payload)
{
	(void)id;
	(*(int *)payload)++;
	return 0;
}

static int stop_cb(const grove_oid *id, void *payload)
{
	(void)id;
	return ++*(int *)payload == 3 ? 7 : 0;
}

Test(lmdb, remove_unreachable_and_foreach)
{
	grove_backend *be = open_store();
	grove__object objs[1200];
	char texts[1200][16];
	size_t removed = 0;
	int count = 0;

	for (unsigned i = 0; i < 1200; i++) {
		rec r;
		snprintf(texts[i], sizeof(texts[i]), "object %u", i);
		make_rec(&r, GROVE_OBJ_BLOB, texts[i], strlen(texts[i]), GROVE__ENC_PLAIN);
		objs[i] = r.obj;
	}
	cr_assert_eq(write_objects(be, objs, 1200), 0);
	/* foreach walks in batches: more than one batch here. */
	cr_assert_eq(be->ops->foreach_object(be, count_cb, &count), 0);
	cr_assert_eq(count, 1200);
	count = 0;
	cr_assert_eq(be->ops->foreach_object(be, stop_cb, &count), 7);

	/* A failing keep() aborts the sweep: nothing removed. */
	cr_assert_eq(be->ops->remove_unreachable(be, keep_fails, NULL, &removed), GROVE_ECORRUPT);
	count = 0;
	cr_assert_eq(be->ops->foreach_object(be, count_cb, &count), 0);
	cr_assert_eq(count, 1200);

	size_t odd = 0;
	for (unsigned i = 0; i < 1200; i++)
		odd += objs[i].id.id[19] & 1;
	cr_assert_eq(be->ops->remove_unreachable(be, keep_odd, NULL, &removed), 0);
	cr_assert_eq(removed, 1200 - odd);
	for (unsigned i = 0; i < 1200; i++)
		cr_assert_eq(be->ops->exists(be, &objs[i].id), objs[i].id.id[19] & 1);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, odd);
	be->ops->close(be);

	/* The gc generation was bumped once (the failed sweep did not). */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = { 13, "gc_generation" }, v;
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	cr_assert_eq(mdb_env_open(env, store_path, MDB_RDONLY, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	cr_assert_eq(mdb_get(txn, meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8);
	cr_assert_eq(((unsigned char *)v.mv_data)[0], 1);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

Test(lmdb, stats_counts)
{
	grove_backend *be = open_store();
	rec a, b;
	grove_stats st;

	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, 0);
	cr_assert_eq(st.refs, 0);
	make_rec(&a, GROVE_OBJ_BLOB, "0123456789", 10, GROVE__ENC_PLAIN);
	make_rec(&b, GROVE_OBJ_BLOB, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 36, GROVE__ENC_ZLIB);
	grove__object objs[2] = { a.obj, b.obj };
	cr_assert_eq(write_objects(be, objs, 2), 0);
	cr_assert_eq(update_ref(be, "refs/heads/main", NULL, &a.obj.id, 0), 0);
	cr_assert_eq(update_ref(be, "refs/tags/t", NULL, &b.obj.id, 0), 0);
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, 2);
	cr_assert_eq(st.refs, 2);
	cr_assert_eq(st.deltas, 0);
	cr_assert_eq(st.object_bytes, 10 + b.obj.data_len);
	cr_assert_gt(st.disk_bytes, 0);
	rec_dispose(&b);
	be->ops->close(be);
}

/* --- damage -------------------------------------------------------- */

/* Writes raw bytes under key into the named DB, behind the backend. */
static void raw_put(const char *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	cr_assert_eq(mdb_env_open(env, store_path, 0, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(lmdb, corrupt_records_are_reported)
{
	grove_backend *be = open_store();
	be->ops->close(be);

	grove_oid ids[6];
	/* garbage header */
	static const unsigned char g1[] = { 0xff, 0xff, 0xff };
	/* plain blob whose size disagrees with its bytes */
	static const unsigned char g2[] = { 0x03, 0x09, 'a', 'b' };
	/* zlib blob with a damaged stream */
	static const unsigned char g3[] = { 0x13, 0x05, 0x78, 0x9c, 0xde, 0xad, 0xbe, 0xef };
	/* size varint that never ends */
	static const unsigned char g4[] = { 0x03, 0x80, 0x80 };
	/* a single byte */
	static const unsigned char g5[] = { 0x03 };
	/* a zlib record claiming a gigantic size */
	static const unsigned char g6[] = { 0x13, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x78, 0x9c, 0x03, 0x00 };
	const void *vals[6] = { g1, g2, g3, g4, g5, g6 };
	size_t lens[6] = { sizeof(g1), sizeof(g2), sizeof(g3), sizeof(g4), sizeof(g5), sizeof(g6) };
	for (unsigned i = 0; i < 6; i++) {
		oid_n(&ids[i], 100 + i);
		raw_put("objects", ids[i].id, 20, vals[i], lens[i]);
	}
	raw_put("refs", "refs/heads/bad", 14, "short", 5);

	be = open_store();
	for (unsigned i = 0; i < 6; i++) {
		grove_buf out = { 0 };
		grove_otype t;
		size_t size;
		int rc = be->ops->read(be, &ids[i], &t, &out);
		cr_assert_eq(rc, GROVE_ECORRUPT, "record %u: %s", i, grove_code_name(rc));
		cr_assert_null(out.data);
		if (i != 2) /* g3's header is fine; only its stream is damaged */
			cr_assert_eq(be->ops->read_header(be, &ids[i], &t, &size), GROVE_ECORRUPT);
		cr_assert_eq(be->ops->exists(be, &ids[i]), 1);
	}
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/bad", &got), GROVE_ECORRUPT);
	ref_list l = { 0 };
	cr_assert_eq(be->ops->ref_foreach(be, "", collect_ref, &l), GROVE_ECORRUPT);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, 6);
	be->ops->close(be);
}

/* --- a full disk --------------------------------------------------- */

/*
 * Writes until the 2 MiB disk is full: a clean GROVE_ENOSPC, the store as
 * it was.  GROVE_RELAXED maps the file writable with its space reserved
 * (lmdb_env.c), so its growth fails at the reservation; a map too big to
 * reserve at all falls back to written pages.
 */
static void full_disk_case(grove_durability durability, size_t map_size)
{
	char mnt[160];
	snprintf(mnt, sizeof(mnt), "%s/small", tmp_root);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0)
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	snprintf(store_path, sizeof(store_path), "%s/store", mnt);

	grove_options o = GROVE_OPTIONS_INIT;
	o.durability = durability;
	o.lmdb_map_size = map_size;
	grove_backend *be = open_opts(&o);
	/* Relaxed: the map is written directly when its space could be reserved. */
	cr_assert_eq(((grove__lmdb *)be)->e->writemap,
		durability == GROVE_RELAXED && map_size <= (1u << 20));
	unsigned char *data = malloc(BIG);
	rec first;
	fill_random(data, 1000, 1);
	make_rec(&first, GROVE_OBJ_BLOB, data, 1000, GROVE__ENC_PLAIN);
	grove_ref_update u = { "refs/heads/main", { { 0 } }, first.obj.id, 0 };
	grove__write_set ws = { &first.obj, 1, &u, 1 };
	cr_assert_eq(be->ops->write(be, &ws), 0);

	int rc = 0;
	unsigned i;
	grove_oid failed_id = { { 0 } };
	for (i = 0; i < 100 && rc == 0; i++) {
		rec r;
		fill_random(data, BIG, 77 + i);
		make_rec(&r, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
		grove_ref_update u2 = { "refs/heads/main", { { 0 } }, r.obj.id, 0 };
		grove__write_set ws2 = { &r.obj, 1, &u2, 1 };
		rc = be->ops->write(be, &ws2);
		failed_id = r.obj.id;
	}
	cr_assert_eq(rc, GROVE_ENOSPC, "after %u writes: %s %s", i, grove_code_name(rc),
		grove_error_message());
	cr_assert(strstr(grove_error_message(), "lmdb") != NULL);
	cr_log_info("after %u writes: %s", i, grove_error_message());
	grove_oid before;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &before), 0);
	cr_assert_eq(be->ops->exists(be, &failed_id), 0);
	be->ops->close(be);

	be = open_opts(&o);
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &got), 0);
	cr_assert(grove__oid_equal(&got, &before));
	cr_assert_eq(be->ops->exists(be, &failed_id), 0);
	fill_random(data, 1000, 1);
	expect_content(be, &first.obj.id, GROVE_OBJ_BLOB, data, 1000);
	be->ops->close(be);
	free(data);
	umount2(mnt, MNT_DETACH);
}

Test(lmdb, full_disk_gives_enospc, .timeout = 60)
{
	full_disk_case(GROVE_DURABLE, 256 << 10);
}

Test(lmdb, full_disk_gives_enospc_relaxed, .timeout = 60)
{
	full_disk_case(GROVE_RELAXED, 256 << 10);
}

Test(lmdb, full_disk_gives_enospc_relaxed_unreservable_map, .timeout = 60)
{
	full_disk_case(GROVE_RELAXED, 8 << 20);
}

/* --- the segment layout (format 2) --------------------------------- */

/* Entries of a named DB and, when key is given, its value (at most *vlen
 * bytes of it; *vlen set to its size), read behind the backend (the store
 * must be closed). */
static size_t raw_entries(const char *db, const void *key, size_t klen, unsigned char *val,
	size_t *vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	cr_assert_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	cr_assert_eq(mdb_env_open(env, store_path, MDB_RDONLY, 0644), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	cr_assert_eq(mdb_stat(txn, dbi, &st), 0);
	if (key) {
		MDB_val k = { klen, (void *)key }, v;
		cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
		memcpy(val, v.mv_data, v.mv_size < *vlen ? v.mv_size : *vlen);
		*vlen = v.mv_size;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return st.ms_entries;
}

static int stored_as_pointer(const grove_oid *id)
{
	unsigned char v[4096];
	size_t n = sizeof(v);
	raw_entries("objects", id->id, GROVE_OID_RAWSZ, v, &n);
	return grove__lmdb_is_ptr(v, n < sizeof(v) ? n : sizeof(v));
}

static size_t segment_count(void)
{
	return raw_entries("segments", NULL, 0, NULL, NULL);
}

/* A small write (a commit) goes to the journal: one segment appended, the
 * pointers put by the merge. */
Test(lmdb, small_write_goes_to_journal)
{
	enum { N = 6 };
	static const size_t sizes[N] = { 10, 1400, 1600, 100000, 700000, 200000 };
	unsigned char *data[N];
	rec r[N];
	grove__object objs[N];
	grove_backend *be = open_store();

	for (unsigned i = 0; i < N; i++) {
		data[i] = malloc(sizes[i]);
		fill_random(data[i], sizes[i], 500 + i);
		make_rec(&r[i], GROVE_OBJ_BLOB, data[i], sizes[i], i == 5 ? GROVE__ENC_ZLIB : GROVE__ENC_PLAIN);
		objs[i] = r[i].obj;
	}
	cr_assert_eq(write_objects(be, objs, N), 0, "%s", grove_error_message());
	/* Writing them again (and a duplicate in one set) adds nothing. */
	grove__object again[2] = { objs[4], objs[4] };
	cr_assert_eq(write_objects(be, again, 2), 0);
	for (unsigned i = 0; i < N; i++) {
		grove_otype t;
		size_t size;
		expect_content(be, &objs[i].id, GROVE_OBJ_BLOB, data[i], sizes[i]);
		cr_assert_eq(be->ops->read_header(be, &objs[i].id, &t, &size), 0);
		cr_assert_eq(size, sizes[i]);
	}
	grove__object raw;
	grove_buf rb = { 0 };
	cr_assert_eq(be->ops->read_raw(be, &objs[5].id, &raw, &rb), 0);
	cr_assert_eq(raw.encoding, GROVE__ENC_ZLIB);
	cr_assert_eq(raw.data_len, objs[5].data_len);
	cr_assert(memcmp(raw.data, objs[5].data, raw.data_len) == 0);
	grove_buf_dispose(&rb);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, N);
	cr_assert_eq(st.object_bytes, 10 + 1400 + 1600 + 100000 + 700000 + objs[5].data_len);
	be->ops->close(be);

	/* The second write (over GROVE__LMDB_JOURNAL_MAX: not journaled)
	 * merged the pending journal first and found its objects there:
	 * a pointer per object into the one journal segment, no copy. */
	for (unsigned i = 0; i < N; i++)
		cr_assert(stored_as_pointer(&objs[i].id), "object %u", i);
	cr_assert_eq(segment_count(), 1);
	cr_assert_eq(raw_entries("objects", NULL, 0, NULL, NULL), N);

	be = open_store();
	for (unsigned i = 0; i < N; i++)
		expect_content(be, &objs[i].id, GROVE_OBJ_BLOB, data[i], sizes[i]);
	cr_assert_eq(grove__lmdb_journal_flush(be), 0); /* nothing pending: a no-op */
	be->ops->close(be);

	/* Pending: a small write is one journal segment, not in the objects
	 * DB until merged. */
	rec small;
	make_rec(&small, GROVE_OBJ_BLOB, "pending", 7, GROVE__ENC_PLAIN);
	be = open_store();
	cr_assert_eq(write_objects(be, &small.obj, 1), 0, "%s", grove_error_message());
	be->ops->close(be);
	cr_assert_eq(raw_entries("objects", NULL, 0, NULL, NULL), N);
	cr_assert_eq(segment_count(), 2);
	be = open_store();
	expect_content(be, &small.obj.id, GROVE_OBJ_BLOB, "pending", 7);
	cr_assert_eq(be->ops->exists(be, &small.obj.id), 1);
	cr_assert_eq(grove__lmdb_journal_flush(be), 0, "%s", grove_error_message());
	expect_content(be, &small.obj.id, GROVE_OBJ_BLOB, "pending", 7);
	be->ops->close(be);
	cr_assert(stored_as_pointer(&small.obj.id));
	cr_assert_eq(raw_entries("objects", NULL, 0, NULL, NULL), N + 1);
	rec_dispose(&small);

	/* A write set of more than GROVE__LMDB_JOURNAL_MAX bytes stays inline
	 * (LMDB gives its records overflow pages of their own). */
	unsigned char *big = malloc(GROVE__LMDB_JOURNAL_MAX + 10);
	rec rb2;
	fill_random(big, GROVE__LMDB_JOURNAL_MAX + 10, 777);
	make_rec(&rb2, GROVE_OBJ_BLOB, big, GROVE__LMDB_JOURNAL_MAX + 10, GROVE__ENC_PLAIN);
	be = open_store();
	cr_assert_eq(write_objects(be, &rb2.obj, 1), 0, "%s", grove_error_message());
	expect_content(be, &rb2.obj.id, GROVE_OBJ_BLOB, big, GROVE__LMDB_JOURNAL_MAX + 10);
	be->ops->close(be);
	cr_assert_not(stored_as_pointer(&rb2.obj.id));
	cr_assert_eq(segment_count(), 2);
	rec_dispose(&rb2);
	free(big);
	for (unsigned i = 0; i < N; i++) {
		rec_dispose(&r[i]);
		free(data[i]);
	}
}

/* A bulk write (a received pack): every record, small or large, plain,
 * zlib or delta, in segments, and deltas still resolve; one over the
 * segment target gets a segment of its own. */
Test(lmdb, bulk_write_goes_to_segments)
{
	enum { N = 300 };
	static unsigned char data[N][3000];
	grove__object objs[N + 1];
	rec r[N];
	grove_buf delta = { 0 }, zdelta = { 0 };
	grove_backend *be = open_store();

	for (unsigned i = 0; i < N; i++) {
		size_t len = 1 + (i * 37) % sizeof(data[i]);
		fill_random(data[i], len, 900 + i);
		make_rec(&r[i], i % 3 == 0 ? GROVE_OBJ_TREE : GROVE_OBJ_BLOB, data[i], len,
			i % 2 ? GROVE__ENC_ZLIB : GROVE__ENC_PLAIN);
		objs[i] = r[i].obj;
	}
	/* A delta whose base is in the same set. */
	const char *base = "the base text of a delta, long enough to copy from";
	const char *target = "the base text of a delta, long enough to copy from, and more";
	rec b;
	make_rec(&b, GROVE_OBJ_BLOB, base, strlen(base), GROVE__ENC_PLAIN);
	objs[0] = b.obj;
	make_delta(base, target, &delta);
	cr_assert_eq(grove__zlib_compress(delta.data, delta.size, 6, &zdelta), 0);
	grove__object d;
	memset(&d, 0, sizeof(d));
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, target, strlen(target), &d.id), 0);
	d.type = GROVE_OBJ_BLOB;
	d.size = strlen(target);
	d.encoding = GROVE__ENC_DELTA;
	d.data = zdelta.data;
	d.data_len = zdelta.size;
	d.base = b.obj.id;
	objs[N] = d;
	/* A record over the segment target in the middle of the set. */
	unsigned char *huge = malloc(700000);
	fill_random(huge, 700000, 31);
	rec hr;
	make_rec(&hr, GROVE_OBJ_BLOB, huge, 700000, GROVE__ENC_PLAIN);
	objs[N / 2] = hr.obj;
	cr_assert_eq(write_objects(be, objs, N + 1), 0, "%s", grove_error_message());
	expect_content(be, &d.id, GROVE_OBJ_BLOB, target, strlen(target));
	expect_content(be, &objs[0].id, GROVE_OBJ_BLOB, base, strlen(base));
	expect_content(be, &hr.obj.id, GROVE_OBJ_BLOB, huge, 700000);
	for (unsigned i = 1; i < N; i++)
		if (i != N / 2)
		expect_content(be, &objs[i].id, objs[i].type, data[i], objs[i].size);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, N + 1);
	cr_assert_eq(st.deltas, 1);
	be->ops->close(be);

	cr_assert(stored_as_pointer(&objs[0].id));
	cr_assert(stored_as_pointer(&d.id));
	cr_assert(stored_as_pointer(&objs[N / 2].id));
	/* ~450 KB of records around the 700 KB one: two or three segments
	 * besides its own, not one per record. */
	size_t segs = segment_count();
	cr_assert(segs >= 3 && segs <= 4, "%zu segments", segs);

	be = open_store();
	cr_assert_eq(write_objects(be, objs, N + 1), 0); /* all present: no new segment */
	expect_content(be, &d.id, GROVE_OBJ_BLOB, target, strlen(target));
	be->ops->close(be);
	cr_assert_eq(segment_count(), segs);
	for (unsigned i = 0; i < N; i++)
		rec_dispose(&r[i]);
	grove_buf_dispose(&delta);
	grove_buf_dispose(&zdelta);
	free(huge);
}

typedef struct {
	grove_oid keep[8];
	size_t n;
} keep_set;

static int keep_listed(const grove_oid *id, void *payload)
{
	keep_set *k = payload;
	for (size_t i = 0; i < k->n; i++)
		if (grove__oid_equal(&k->keep[i], id))
			return 1;
	return 0;
}

Test(lmdb, gc_deletes_dead_segments_and_compacts_sparse_ones)
{
	enum { N = 400, LEN = 8000 };
	unsigned char *data = malloc((size_t)N * LEN);
	grove__object *objs = calloc(N, sizeof(*objs));
	grove_backend *be = open_store();
	size_t removed = 0;

	for (unsigned i = 0; i < N; i++) {
		rec r;
		fill_random(data + (size_t)i * LEN, LEN, 3000 + i);
		make_rec(&r, GROVE_OBJ_BLOB, data + (size_t)i * LEN, LEN, GROVE__ENC_PLAIN);
		objs[i] = r.obj;
	}
	cr_assert_eq(write_objects(be, objs, N), 0);
	/* A large object written on its own (inline, overflow pages). */
	rec solo;
	unsigned char *big = malloc(BIG);
	fill_random(big, BIG, 4242);
	make_rec(&solo, GROVE_OBJ_BLOB, big, BIG, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &solo.obj, 1), 0);
	be->ops->close(be);
	size_t before = segment_count();
	cr_assert_geq(before, (size_t)N * LEN / GROVE__LMDB_SEGMENT_TARGET);

	/* Keep three records of the bulk write (first, middle, last). */
	keep_set k = { { objs[0].id, objs[N / 2].id, objs[N - 1].id }, 3 };
	be = open_store();
	cr_assert_eq(be->ops->remove_unreachable(be, keep_listed, &k, &removed), 0,
		"%s", grove_error_message());
	cr_assert_eq(removed, N + 1 - 3);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(be->ops->exists(be, &objs[i].id), i == 0 || i == N / 2 || i == N - 1);
	cr_assert_eq(be->ops->exists(be, &solo.obj.id), 0);
	expect_content(be, &objs[N / 2].id, GROVE_OBJ_BLOB, data + (size_t)(N / 2) * LEN, LEN);
	be->ops->close(be);
	/* The survivors were copied together into one new segment. */
	cr_assert_eq(segment_count(), 1);

	be = open_store();
	expect_content(be, &objs[0].id, GROVE_OBJ_BLOB, data, LEN);
	expect_content(be, &objs[N - 1].id, GROVE_OBJ_BLOB, data + (size_t)(N - 1) * LEN, LEN);
	/* Nothing kept: no segment left. */
	k.n = 0;
	cr_assert_eq(be->ops->remove_unreachable(be, keep_listed, &k, &removed), 0);
	cr_assert_eq(removed, 3);
	be->ops->close(be);
	cr_assert_eq(segment_count(), 0);
	free(big);
	free(objs);
	free(data);
}

Test(lmdb, damaged_segment_pointers_are_reported)
{
	grove_backend *be = open_store();
	unsigned char *data = malloc(BIG);
	rec r;
	fill_random(data, BIG, 77);
	make_rec(&r, GROVE_OBJ_BLOB, data, BIG, GROVE__ENC_PLAIN);
	/* First in a bulk write, so at offset 0 of a segment. */
	static char small[GROVE__LMDB_BULK_MIN][16];
	grove__object set[GROVE__LMDB_BULK_MIN];
	set[0] = r.obj;
	for (unsigned i = 1; i < GROVE__LMDB_BULK_MIN; i++) {
		rec s;
		snprintf(small[i], sizeof(small[i]), "small %u", i);
		make_rec(&s, GROVE_OBJ_BLOB, small[i], strlen(small[i]), GROVE__ENC_PLAIN);
		set[i] = s.obj;
	}
	cr_assert_eq(write_objects(be, set, GROVE__LMDB_BULK_MIN), 0);
	be->ops->close(be);

	unsigned char ptr[GROVE__LMDB_PTR_MAX];
	size_t plen = sizeof(ptr);
	raw_entries("objects", r.obj.id.id, GROVE_OID_RAWSZ, ptr, &plen);
	grove__lmdb_ptr p;
	cr_assert_null(grove__lmdb_ptr_parse(ptr, plen, &p));
	cr_assert_eq(p.off, 0);

	grove__lmdb_ptr bad[3] = {
		{ p.seg + 7, 0, p.len },    /* missing segment */
		{ p.seg, 10, p.len },       /* runs past the segment's end */
		{ p.seg, 1u << 30, 100 },   /* starts past it */
	};
	grove_oid ids[6];
	for (unsigned i = 0; i < 3; i++) {
		unsigned char v[GROVE__LMDB_PTR_MAX];
		size_t n = grove__lmdb_ptr_encode(v, &bad[i]);
		oid_n(&ids[i], 200 + i);
		raw_put("objects", ids[i].id, 20, v, n);
	}
	/* a pointer cut short, one with trailing bytes, and one into the
	 * middle of a record (random bytes there: almost surely no header) */
	oid_n(&ids[3], 203);
	raw_put("objects", ids[3].id, 20, ptr, plen - 1);
	unsigned char longer[GROVE__LMDB_PTR_MAX + 1];
	memcpy(longer, ptr, plen);
	longer[plen] = 0;
	oid_n(&ids[4], 204);
	raw_put("objects", ids[4].id, 20, longer, plen + 1);
	grove__lmdb_ptr mid = { p.seg, 5000, 100 };
	unsigned char mv[GROVE__LMDB_PTR_MAX];
	size_t mn = grove__lmdb_ptr_encode(mv, &mid);
	oid_n(&ids[5], 205);
	raw_put("objects", ids[5].id, 20, mv, mn);

	be = open_store();
	for (unsigned i = 0; i < 6; i++) {
		grove_buf out = { 0 };
		grove_otype t;
		size_t size;
		grove__object raw;
		int rc = be->ops->read(be, &ids[i], &t, &out);
		/* ids[5] may by chance parse; all others must not */
		if (i == 5 && rc == 0) {
			grove_buf_dispose(&out);
			continue;
		}
		cr_assert_eq(rc, GROVE_ECORRUPT, "pointer %u: %s", i, grove_code_name(rc));
		cr_assert(strstr(grove_error_message(), "damaged") != NULL, "%s", grove_error_message());
		cr_assert_null(out.data);
		cr_assert_eq(be->ops->read_header(be, &ids[i], &t, &size), GROVE_ECORRUPT);
		cr_assert_eq(be->ops->read_raw(be, &ids[i], &raw, &out), GROVE_ECORRUPT);
		cr_assert_eq(be->ops->exists(be, &ids[i]), 1);
	}
	/* The good object is unaffected, and stats and gc survive the damage. */
	expect_content(be, &r.obj.id, GROVE_OBJ_BLOB, data, BIG);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, GROVE__LMDB_BULK_MIN + 6);
	size_t removed;
	cr_assert_eq(be->ops->remove_unreachable(be, keep_odd, NULL, &removed), 0);
	be->ops->close(be);
	rec_dispose(&r);
	free(data);
}

Test(lmdb, old_format_store_is_refused)
{
	grove_backend *be = open_store();
	rec r;
	make_rec(&r, GROVE_OBJ_BLOB, "x", 1, GROVE__ENC_PLAIN);
	cr_assert_eq(write_objects(be, &r.obj, 1), 0);
	be->ops->close(be);
	static const unsigned char one[4] = { 1, 0, 0, 0 };
	raw_put("meta", "format", 6, one, 4);

	grove_options o = GROVE_OPTIONS_INIT;
	for (int ro = 0; ro < 2; ro++) {
		o.read_only = ro;
		cr_assert_eq(grove__backend_lmdb_open(&be, store_path, &o), GROVE_EUNSUPPORTED);
		cr_assert(strstr(grove_error_message(), "format 1") != NULL, "%s", grove_error_message());
		char cur[32];
		snprintf(cur, sizeof(cur), "format %u", GROVE__LMDB_FORMAT);
		cr_assert(strstr(grove_error_message(), cur) != NULL, "%s", grove_error_message());
	}
	/* Refused untouched: the format is still 1. */
	unsigned char v[8];
	size_t n = sizeof(v);
	raw_entries("meta", "format", 6, v, &n);
	cr_assert_eq(n, 4);
	cr_assert_eq(v[0], 1);
}

/* A segment number freed by gc and used again holds new records: reads
 * must not reuse what an earlier snapshot's lookup found. */
Test(lmdb, reused_segment_number_reads_new_records)
{
	enum { N = 100 };
	static char a[N][64], b[N][64];
	grove__object oa[N], ob[N];
	grove_backend *be = open_store();
	keep_set none = { .n = 0 };
	size_t removed;

	for (unsigned i = 0; i < N; i++) {
		rec r;
		snprintf(a[i], sizeof(a[i]), "first generation %u", i);
		make_rec(&r, GROVE_OBJ_BLOB, a[i], strlen(a[i]), GROVE__ENC_PLAIN);
		oa[i] = r.obj;
		snprintf(b[i], sizeof(b[i]), "second generation, longer: %u", i * 7);
		make_rec(&r, GROVE_OBJ_BLOB, b[i], strlen(b[i]), GROVE__ENC_PLAIN);
		ob[i] = r.obj;
	}
	cr_assert_eq(write_objects(be, oa, N), 0);
	for (unsigned i = 0; i < N; i++)
		expect_content(be, &oa[i].id, GROVE_OBJ_BLOB, a[i], strlen(a[i]));
	cr_assert_eq(be->ops->remove_unreachable(be, keep_listed, &none, &removed), 0);
	cr_assert_eq(removed, N);
	cr_assert_eq(write_objects(be, ob, N), 0);
	for (unsigned i = 0; i < N; i++) {
		expect_content(be, &ob[i].id, GROVE_OBJ_BLOB, b[i], strlen(b[i]));
		cr_assert_eq(be->ops->exists(be, &oa[i].id), 0);
	}
	be->ops->close(be);
}

/* --- the inflated delta length in DELTA records (format 3) ---------- */

typedef struct {
	rec base;
	grove__object d;
	grove_buf delta, zdelta;
} delta_fixture;

static void make_delta_fixture(delta_fixture *f, size_t data_size)
{
	static const char base[] = "alpha beta gamma delta epsilon zeta eta theta iota kappa\n";
	static const char target[] = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda\n";
	memset(f, 0, sizeof(*f));
	make_rec(&f->base, GROVE_OBJ_BLOB, base, strlen(base), GROVE__ENC_PLAIN);
	make_delta(base, target, &f->delta);
	cr_assert_eq(grove__zlib_compress(f->delta.data, f->delta.size, 6, &f->zdelta), 0);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, target, strlen(target), &f->d.id), 0);
	f->d.type = GROVE_OBJ_BLOB;
	f->d.size = strlen(target);
	f->d.encoding = GROVE__ENC_DELTA;
	f->d.data = f->zdelta.data;
	f->d.data_len = f->zdelta.size;
	f->d.base = f->base.obj.id;
	f->d.data_size = data_size;
}

static void delta_fixture_dispose(delta_fixture *f)
{
	rec_dispose(&f->base);
	grove_buf_dispose(&f->delta);
	grove_buf_dispose(&f->zdelta);
}

static size_t raw_data_size(grove_backend *be, const grove_oid *id, grove__encoding *enc)
{
	grove__object raw;
	grove_buf buf = { 0 };
	cr_assert_eq(be->ops->read_raw(be, id, &raw, &buf), 0, "%s", grove_error_message());
	grove_buf_dispose(&buf);
	*enc = raw.encoding;
	return raw.data_size;
}

Test(lmdb, delta_length_given_round_trips)
{
	delta_fixture f;
	grove__encoding enc;
	make_delta_fixture(&f, 0);
	f.d.data_size = f.delta.size;
	/* In the journal (a small write) and in a segment (a bulk write). */
	for (int bulk = 0; bulk < 2; bulk++) {
		grove_backend *be = open_store();
		enum { N = GROVE__LMDB_BULK_MIN };
		grove__object objs[N];
		static unsigned char fill[N][8];
		rec r[N];
		size_t n = 2;
		objs[0] = f.base.obj;
		objs[1] = f.d;
		if (bulk) {
			for (unsigned i = 2; i < N; i++) {
				fill_random(fill[i], sizeof(fill[i]), 4000 + i);
				make_rec(&r[i], GROVE_OBJ_BLOB, fill[i], sizeof(fill[i]), GROVE__ENC_PLAIN);
				objs[i] = r[i].obj;
			}
			n = N;
		}
		cr_assert_eq(write_objects(be, objs, n), 0, "%s", grove_error_message());
		cr_assert_eq(raw_data_size(be, &f.d.id, &enc), f.delta.size);
		cr_assert_eq(enc, GROVE__ENC_DELTA);
		expect_content(be, &f.d.id, GROVE_OBJ_BLOB, "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda\n",
			f.d.size);
		/* A small write is pending in the journal until merged; both end
		 * as segment pointers. */
		cr_assert_eq(grove__lmdb_journal_flush(be), 0, "%s", grove_error_message());
		be->ops->close(be);
		cr_assert(stored_as_pointer(&f.d.id));
		/* Survives reopening. */
		be = open_store();
		cr_assert_eq(raw_data_size(be, &f.d.id, &enc), f.delta.size);
		be->ops->close(be);
		remove_tmp();
		make_tmp();
	}
	delta_fixture_dispose(&f);
}

Test(lmdb, delta_length_computed_when_unknown)
{
	delta_fixture f;
	grove__encoding enc;
	grove_backend *be = open_store();
	make_delta_fixture(&f, 0);
	grove__object objs[2] = { f.base.obj, f.d };
	cr_assert_eq(write_objects(be, objs, 2), 0, "%s", grove_error_message());
	cr_assert_eq(objs[1].data_size, 0); /* the caller's array is left alone */
	cr_assert_eq(raw_data_size(be, &f.d.id, &enc), f.delta.size);
	cr_assert_eq(enc, GROVE__ENC_DELTA);
	/* ZLIB records report their inflated length (the object size), plain 0. */
	rec z;
	make_rec(&z, GROVE_OBJ_BLOB, "zlib content here", 17, GROVE__ENC_ZLIB);
	cr_assert_eq(write_objects(be, &z.obj, 1), 0);
	cr_assert_eq(raw_data_size(be, &z.obj.id, &enc), 17);
	cr_assert_eq(raw_data_size(be, &f.base.obj.id, &enc), 0);
	cr_assert_eq(enc, GROVE__ENC_PLAIN);
	rec_dispose(&z);
	be->ops->close(be);
	delta_fixture_dispose(&f);
}

Test(lmdb, delta_with_damaged_stream_is_refused)
{
	delta_fixture f;
	grove_backend *be = open_store();
	make_delta_fixture(&f, 0);
	/* Truncated stream: the length cannot be measured. */
	f.d.data_len = f.zdelta.size - 3;
	cr_assert_eq(write_objects(be, &f.d, 1), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "damaged zlib stream") != NULL, "%s",
		grove_error_message());
	/* Trailing bytes after the stream. */
	unsigned char *longer = malloc(f.zdelta.size + 4);
	memcpy(longer, f.zdelta.data, f.zdelta.size);
	memset(longer + f.zdelta.size, 0, 4);
	f.d.data = longer;
	f.d.data_len = f.zdelta.size + 4;
	cr_assert_eq(write_objects(be, &f.d, 1), GROVE_EINVALID);
	cr_assert_eq(be->ops->exists(be, &f.d.id), 0); /* nothing stored */
	free(longer);
	be->ops->close(be);
	delta_fixture_dispose(&f);
}

Test(lmdb, delta_record_without_length_is_corrupt)
{
	grove_backend *be = open_store();
	be->ops->close(be);
	/* A format-2 style DELTA record: header, size, base id, no length. */
	unsigned char v[1 + 1 + GROVE_OID_RAWSZ];
	v[0] = (unsigned char)(GROVE__ENC_DELTA << 4 | GROVE_OBJ_BLOB);
	v[1] = 5;
	memset(v + 2, 0x11, GROVE_OID_RAWSZ);
	/* A length claiming far more than the stream could inflate to. */
	unsigned char w[1 + 1 + GROVE_OID_RAWSZ + 4 + 2];
	memcpy(w, v, sizeof(v));
	w[sizeof(v)] = 0xff;
	w[sizeof(v) + 1] = 0xff;
	w[sizeof(v) + 2] = 0xff;
	w[sizeof(v) + 3] = 0x0f;
	w[sizeof(v) + 4] = 0x78;
	w[sizeof(v) + 5] = 0x9c;
	grove_oid ids[2];
	oid_n(&ids[0], 700);
	oid_n(&ids[1], 701);
	raw_put("objects", ids[0].id, 20, v, sizeof(v));
	raw_put("objects", ids[1].id, 20, w, sizeof(w));
	be = open_store();
	for (int i = 0; i < 2; i++) {
		grove__object raw;
		grove_buf buf = { 0 };
		cr_assert_eq(be->ops->read_raw(be, &ids[i], &raw, &buf), GROVE_ECORRUPT);
		cr_assert_null(buf.data);
	}
	be->ops->close(be);
}

/* --- the peeled-ref cache (format 4) ------------------------------------ */

static void make_tag(rec *r, char *text, size_t cap, const grove_oid *target, const char *type,
	grove__encoding enc)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int n = snprintf(text, cap,
		"object %s\ntype %s\ntag t\ntagger A U Thor <a@example.com> 1700000000 +0000\n\nmsg\n",
		grove_oid_tohex(hex, target), type);
	make_rec(r, GROVE_OBJ_TAG, text, (size_t)n, enc);
}

static size_t ref_value_len(const char *name)
{
	unsigned char v[64];
	size_t n = sizeof(v);
	raw_entries("refs", name, strlen(name), v, &n);
	return n;
}

static grove_ref_update ref_set(const char *name, const grove_oid *id)
{
	grove_ref_update u;
	memset(&u, 0, sizeof(u));
	u.refname = name;
	u.new_id = *id;
	return u;
}

Test(lmdb, peeled_refs_cached_at_write)
{
	grove_backend *be = open_store();
	char t1text[256], t2text[256];
	rec blob, t1, t2;
	grove_oid p, missing;

	make_rec(&blob, GROVE_OBJ_BLOB, "tagged", 6, GROVE__ENC_PLAIN);
	make_tag(&t1, t1text, sizeof(t1text), &blob.obj.id, "blob", GROVE__ENC_ZLIB);
	make_tag(&t2, t2text, sizeof(t2text), &t1.obj.id, "tag", GROVE__ENC_PLAIN);
	oid_n(&missing, 77);
	/* Objects and refs in one write: the tags are peeled from the set. */
	grove__object objs[3] = { t2.obj, blob.obj, t1.obj };
	grove_ref_update u[4] = { ref_set("refs/tags/t1", &t1.obj.id), ref_set("refs/tags/t2", &t2.obj.id),
		ref_set("refs/heads/b", &blob.obj.id), ref_set("refs/heads/gone", &missing) };
	grove__write_set ws = { objs, 3, u, 4 };
	cr_assert_eq(be->ops->write(be, &ws), 0, "%s", grove_error_message());

	cr_assert_eq(be->ops->ref_peeled(be, "refs/tags/t1", &t1.obj.id, &p), 1);
	cr_assert(grove__oid_equal(&p, &blob.obj.id));
	cr_assert_eq(be->ops->ref_peeled(be, "refs/tags/t2", &t2.obj.id, &p), 1);
	cr_assert(grove__oid_equal(&p, &blob.obj.id));
	cr_assert_eq(be->ops->ref_peeled(be, "refs/heads/b", &blob.obj.id, &p), 0);
	/* A ref to an absent object: not known, the caller reads. */
	cr_assert_eq(be->ops->ref_peeled(be, "refs/heads/gone", &missing, &p), GROVE_ENOTFOUND);
	/* Asked about an id the ref no longer holds: not known. */
	cr_assert_eq(be->ops->ref_peeled(be, "refs/tags/t1", &t2.obj.id, &p), GROVE_ENOTFOUND);
	cr_assert_eq(be->ops->ref_peeled(be, "refs/tags/none", &t1.obj.id, &p), GROVE_ENOTFOUND);

	/* Reading refs sees just the ids. */
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/tags/t2", &got), 0);
	cr_assert(grove__oid_equal(&got, &t2.obj.id));
	ref_list l = { 0 };
	cr_assert_eq(be->ops->ref_foreach(be, "refs/", collect_ref, &l), 0);
	cr_assert_eq(l.count, 4);

	/* Compare-and-swap against a ref holding a peeled id; a later write
	 * peels from the store. */
	grove_ref_update mv = ref_set("refs/heads/b", &t2.obj.id);
	mv.check_old = 1;
	mv.old_id = blob.obj.id;
	grove__write_set ws2 = { NULL, 0, &mv, 1 };
	cr_assert_eq(be->ops->write(be, &ws2), 0, "%s", grove_error_message());
	cr_assert_eq(be->ops->ref_peeled(be, "refs/heads/b", &t2.obj.id, &p), 1);
	cr_assert(grove__oid_equal(&p, &blob.obj.id));
	mv.old_id = blob.obj.id; /* stale: the ref moved */
	cr_assert_eq(be->ops->write(be, &ws2), GROVE_EHEADMOVED);
	be->ops->close(be);

	cr_assert_eq(ref_value_len("refs/tags/t1"), 41);
	cr_assert_eq(ref_value_len("refs/heads/b"), 41);
	cr_assert_eq(ref_value_len("refs/heads/gone"), 20);
	rec_dispose(&blob);
	rec_dispose(&t1);
	rec_dispose(&t2);
}

Test(lmdb, peeled_ref_values_checked)
{
	grove_backend *be = open_store();
	be->ops->close(be);
	grove_oid id, p;
	oid_n(&id, 5);
	unsigned char plain[21], bad[21], badtag[41];
	memcpy(plain, id.id, 20);
	plain[20] = 0;
	memcpy(bad, id.id, 20);
	bad[20] = 7;
	memset(badtag, 0x22, sizeof(badtag));
	raw_put("refs", "refs/heads/bare", 15, id.id, 20);
	raw_put("refs", "refs/heads/plain", 16, plain, 21);
	raw_put("refs", "refs/heads/bad", 14, bad, 21);
	raw_put("refs", "refs/heads/badtag", 17, badtag, 41);
	be = open_store();
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/bare", &got), 0);
	cr_assert(grove__oid_equal(&got, &id));
	cr_assert_eq(be->ops->ref_peeled(be, "refs/heads/bare", &id, &p), GROVE_ENOTFOUND);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/plain", &got), 0);
	cr_assert_eq(be->ops->ref_peeled(be, "refs/heads/plain", &id, &p), 0);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/bad", &got), GROVE_ECORRUPT);
	cr_assert_eq(be->ops->ref_peeled(be, "refs/heads/bad", &id, &p), GROVE_ECORRUPT);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/badtag", &got), GROVE_ECORRUPT);
	ref_list l = { 0 };
	cr_assert_eq(be->ops->ref_foreach(be, "refs/heads/bad", collect_ref, &l), GROVE_ECORRUPT);
	be->ops->close(be);
}

/* --- the map's resident pages ------------------------------------------ */

/* Rss of this process's mapping of the store's data.mdb, in KiB. */
static long data_map_rss_kb(void)
{
	char want[300], line[4608];
	long rss = -1;
	int in_map = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	cr_assert_not_null(f);
	snprintf(want, sizeof(want), "%s/data.mdb", store_path);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
			line[strcspn(line, "\n")] = '\0';
			in_map = strstr(line, want) != NULL;
		} else if (in_map && !strncmp(line, "Rss:", 4)) {
			rss = strtol(line + 4, NULL, 10);
			in_map = 0;
		}
	}
	fclose(f);
	return rss;
}

/* After reading a whole store, its pages do not stay mapped: a later
 * stretch of transactions drops them (the page cache keeps them). */
Test(lmdb, map_pages_are_dropped)
{
	enum { N = 200, SIZE = 20000 };
	static unsigned char data[N][SIZE];
	grove__object objs[N];
	rec r[N];
	grove_backend *be = open_store();
	for (unsigned i = 0; i < N; i++) {
		fill_random(data[i], SIZE, 3000 + i);
		make_rec(&r[i], GROVE_OBJ_BLOB, data[i], SIZE, GROVE__ENC_PLAIN);
		objs[i] = r[i].obj;
	}
	cr_assert_eq(write_objects(be, objs, N), 0, "%s", grove_error_message());
	for (unsigned i = 0; i < N; i++)
		expect_content(be, &objs[i].id, GROVE_OBJ_BLOB, data[i], SIZE);
	long before = data_map_rss_kb();
	usleep(150 * 1000);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(be->ops->exists(be, &objs[i % N].id), 1);
	long after = data_map_rss_kb();
	cr_assert_geq(before, 0, "data.mdb mapping not found");
	cr_log_info("data.mdb mapped: %ld KiB after reading, %ld KiB later", before, after);
	cr_assert_gt(before, 2000, "reading 4 MB mapped only %ld KiB", before);
	cr_assert_lt(after, before / 4, "still %ld of %ld KiB mapped", after, before);
	/* Everything still reads back. */
	for (unsigned i = 0; i < N; i++)
		expect_content(be, &objs[i].id, GROVE_OBJ_BLOB, data[i], SIZE);
	be->ops->close(be);
	for (unsigned i = 0; i < N; i++)
		rec_dispose(&r[i]);
}
