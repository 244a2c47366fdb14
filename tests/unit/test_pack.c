/* Pack indexing and writing, checked against the real git. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "oid.h"
#include "pack.h"
#include "sbuf.h"

/* --- helpers ---------------------------------------------------------- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/grove-pack-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;
	cr_assert_not_null(f, "open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n ? (size_t)n : 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A repository whose history has many similar versions, so git deltifies. */
static void make_repo(void)
{
	sh("cd %s && git init -q -b main repo && cd repo && "
	   "git config user.name t && git config user.email t@example.com && "
	   "for i in $(seq 1 25); do "
	   "  seq 1 $((i * 40)) > a.txt; seq 5 $((i * 30)) | sed s/5/five/ > b.txt; "
	   "  mkdir -p d$((i %% 3)); echo $i >> d$((i %% 3))/c.txt; "
	   "  git add -A && git commit -q -m \"commit $i\"; "
	   "done && git tag -a -m tagged v1 HEAD~3", tmpdir);
}

/* Recomputes a pack's trailer after a test damaged its body. */
static void fix_checksum(unsigned char *pack, size_t len)
{
	cr_assert_eq(grove__sha1(pack, len - 20, pack + len - 20), 0);
}

/* --- an array-backed backend (with read_raw, unlike mem) -------------- */

typedef struct {
	grove__object rec;
	unsigned char *data;
} fake_rec;

typedef struct {
	grove_backend be;
	fake_rec *recs;
	size_t n, cap;
} fake_backend;

static fake_rec *fake_find(fake_backend *f, const grove_oid *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (grove__oid_equal(&f->recs[i].rec.id, id))
			return &f->recs[i];
	return NULL;
}

static int fake_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	fake_rec *r = fake_find((fake_backend *)be, id);
	if (!r)
		return grove__error_set(GROVE_ENOTFOUND, "object not found");
	*type = r->rec.type;
	return grove__object_decode(be, &r->rec, out);
}

static int fake_read_header(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size)
{
	fake_rec *r = fake_find((fake_backend *)be, id);
	if (!r)
		return grove__error_set(GROVE_ENOTFOUND, "object not found");
	*type = r->rec.type;
	*size = r->rec.size;
	return 0;
}

static int fake_exists(grove_backend *be, const grove_oid *id)
{
	return fake_find((fake_backend *)be, id) != NULL;
}

static int fake_read_raw(grove_backend *be, const grove_oid *id, grove__object *out, grove_buf *buf)
{
	fake_rec *r = fake_find((fake_backend *)be, id);
	if (!r)
		return grove__error_set(GROVE_ENOTFOUND, "object not found");
	buf->data = malloc(r->rec.data_len + 1);
	cr_assert_not_null(buf->data);
	memcpy(buf->data, r->data, r->rec.data_len);
	buf->size = r->rec.data_len;
	*out = r->rec;
	out->data = buf->data;
	return 0;
}

static int fake_write(grove_backend *be, const grove__write_set *ws)
{
	fake_backend *f = (fake_backend *)be;
	for (size_t i = 0; i < ws->object_count; i++) {
		const grove__object *o = &ws->objects[i];
		if (fake_find(f, &o->id))
			continue;
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 64;
			f->recs = realloc(f->recs, f->cap * sizeof(*f->recs));
			cr_assert_not_null(f->recs);
		}
		fake_rec *r = &f->recs[f->n++];
		r->rec = *o;
		r->data = malloc(o->data_len + 1);
		cr_assert_not_null(r->data);
		memcpy(r->data, o->data, o->data_len);
		r->rec.data = r->data;
	}
	return 0;
}

static grove__backend_ops fake_ops = {
	.name = "fake", .read = fake_read, .read_header = fake_read_header,
	.exists = fake_exists, .write = fake_write, .read_raw = fake_read_raw
};

static void fake_init(fake_backend *f)
{
	memset(f, 0, sizeof(*f));
	f->be.ops = &fake_ops;
}

static void fake_dispose(fake_backend *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->recs[i].data);
	free(f->recs);
}

/* Deliver callback: writes each batch into a fake backend. */
static int store_batch(void *payload, const grove__object *recs, size_t count)
{
	grove_backend *be = payload;
	grove__write_set ws = { recs, count, NULL, 0 };
	return be->ops->write(be, &ws);
}

/* Thin-pack base lookup through a backend. */
static int lookup_in(void *payload, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	grove_backend *be = payload;
	return be->ops->read(be, id, type, out);
}

/* Indexes the pack file at path into f; returns the indexer's rc. */
static int index_file(const char *path, fake_backend *f, grove__pack_index_opts *opts,
	grove__pack_index_stats *st, unsigned char **pack_out)
{
	size_t len;
	unsigned char *pack = read_file(path, &len);
	grove__pack_index_opts o = { 0 };
	int rc;
	if (opts)
		o = *opts;
	o.deliver = store_batch;
	o.deliver_payload = &f->be;
	o.batch_size = o.batch_size ? o.batch_size : 7;
	rc = grove__pack_index(pack, len, &o, st);
	if (pack_out)
		*pack_out = pack;
	else
		free(pack);
	return rc;
}

/* Checks f holds exactly the objects `git cat-file --batch-all-objects`
 * lists for repo, with the same type and size, and that every record
 * decodes to content hashing to its id. */
static void check_against_git(fake_backend *f, const char *repo, size_t *count_out)
{
	char cmd[512], line[256];
	size_t count = 0;
	FILE *p;
	snprintf(cmd, sizeof(cmd),
		"git -C %s cat-file --batch-all-objects --batch-check='%%(objectname) %%(objecttype) %%(objectsize)'",
		repo);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char hex[41], type[16];
		size_t size;
		grove_oid id;
		cr_assert_eq(sscanf(line, "%40s %15s %zu", hex, type, &size), 3);
		cr_assert_eq(grove_oid_fromhex(&id, hex), 0);
		fake_rec *r = fake_find(f, &id);
		cr_assert_not_null(r, "object %s missing", hex);
		cr_assert_str_eq(grove_otype_name(r->rec.type), type, "%s", hex);
		cr_assert_eq(r->rec.size, size, "%s", hex);

		grove_buf content = { 0 };
		grove_otype t;
		grove_oid again;
		cr_assert_eq(fake_read(&f->be, &id, &t, &content), 0, "%s: %s", hex, grove_error_message());
		cr_assert_eq(content.size, size);
		cr_assert_eq(grove__object_hash(t, content.data, content.size, &again), 0);
		cr_assert(grove__oid_equal(&again, &id), "content of %s hashes differently", hex);
		grove_buf_dispose(&content);
		count++;
	}
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(count, f->n, "git has %zu objects, we indexed %zu", count, f->n);
	if (count_out)
		*count_out = count;
}

/* --- indexing packs git made ---------------------------------------- */

static char repo[128];

static void setup_repo(void)
{
	make_tmpdir();
	make_repo();
	snprintf(repo, sizeof(repo), "%s/repo", tmpdir);
}

/* Packs everything in the repo (OFS_DELTA or REF_DELTA) into path. */
static void git_pack_all(const char *path, int ofs)
{
	sh("cd %s && git pack-objects --revs --all %s --stdout -q </dev/null > %s", repo,
		ofs ? "--delta-base-offset" : "", path);
}

Test(pack_index, ofs_delta_pack_from_git)
{
	fake_backend f;
	grove__pack_index_stats st;
	char path[160];
	size_t count;

	setup_repo();
	snprintf(path, sizeof(path), "%s/ofs.pack", tmpdir);
	git_pack_all(path, 1);
	fake_init(&f);
	cr_assert_eq(index_file(path, &f, NULL, &st, NULL), 0, "%s", grove_error_message());
	cr_assert_gt(st.delta_count, 10, "git made only %zu deltas", st.delta_count);
	cr_assert_gt(st.max_depth, 1);
	cr_assert_eq(st.thin_bases, 0);
	check_against_git(&f, repo, &count);
	cr_assert_eq(count, st.object_count);
	fake_dispose(&f);
	remove_tmpdir();
}

Test(pack_index, ref_delta_pack_from_git_strict)
{
	fake_backend f;
	grove__pack_index_stats st;
	grove__pack_index_opts o = { .strict = 1 };
	char path[160];

	setup_repo();
	snprintf(path, sizeof(path), "%s/ref.pack", tmpdir);
	git_pack_all(path, 0);
	fake_init(&f);
	cr_assert_eq(index_file(path, &f, &o, &st, NULL), 0, "%s", grove_error_message());
	cr_assert_gt(st.delta_count, 10);
	check_against_git(&f, repo, NULL);
	fake_dispose(&f);
	remove_tmpdir();
}

Test(pack_index, thin_pack_resolves_through_callback)
{
	fake_backend full, thin;
	grove__pack_index_stats st;
	grove__pack_index_opts o = { 0 };
	char path[160], old[160];
	size_t len;

	setup_repo();
	snprintf(old, sizeof(old), "%s/old.pack", tmpdir);
	snprintf(path, sizeof(path), "%s/thin.pack", tmpdir);
	sh("cd %s && echo HEAD~10 | git pack-objects --revs --stdout -q > %s", repo, old);
	sh("cd %s && echo ^HEAD~10 | git pack-objects --revs --all --thin --stdout -q > %s",
		repo, path);

	/* Without a lookup the thin pack is refused, naming the offset. */
	fake_init(&thin);
	cr_assert_eq(index_file(path, &thin, NULL, NULL, NULL), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "offset"), "%s", grove_error_message());
	cr_assert_eq(thin.n, 0, "nothing delivered on failure");

	/* The receiver's store holds the old history. */
	fake_init(&full);
	cr_assert_eq(index_file(old, &full, NULL, NULL, NULL), 0, "%s", grove_error_message());
	o.lookup_base = lookup_in;
	o.lookup_payload = &full.be;
	cr_assert_eq(index_file(path, &thin, &o, &st, NULL), 0, "%s", grove_error_message());
	cr_assert_gt(st.thin_bases, 0, "git made no thin deltas");
	/* Records against outside bases stay deltas; decode them via the union. */
	{
		grove__write_set ws;
		size_t n = thin.n;
		for (size_t i = 0; i < n; i++) {
			ws = (grove__write_set){ &thin.recs[i].rec, 1, NULL, 0 };
			full.be.ops->write(&full.be, &ws);
		}
	}
	check_against_git(&full, repo, &len);
	fake_dispose(&thin);
	fake_dispose(&full);
	remove_tmpdir();
}

/* --- hand-built packs for failure cases ------------------------------ */

typedef struct {
	grove__sbuf b;
	size_t count;
} pack_builder;

static void pb_begin(pack_builder *pb, uint32_t count)
{
	unsigned char hdr[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	memset(pb, 0, sizeof(*pb));
	hdr[8] = (unsigned char)(count >> 24);
	hdr[9] = (unsigned char)(count >> 16);
	hdr[10] = (unsigned char)(count >> 8);
	hdr[11] = (unsigned char)count;
	cr_assert_eq(grove__sbuf_put(&pb->b, hdr, 12), 0);
}

/* Appends an entry; returns its offset.  size is what the header declares. */
static size_t pb_entry(pack_builder *pb, int kind, uint64_t size, const void *prefix,
	size_t prefix_len, const void *data, size_t len)
{
	size_t off = pb->b.len;
	unsigned char c = (unsigned char)((kind << 4) | (size & 15));
	grove_buf z = { 0 };
	size >>= 4;
	while (size) {
		cr_assert_eq(grove__sbuf_putc(&pb->b, (char)(c | 0x80)), 0);
		c = size & 0x7f;
		size >>= 7;
	}
	cr_assert_eq(grove__sbuf_putc(&pb->b, (char)c), 0);
	if (prefix_len)
		cr_assert_eq(grove__sbuf_put(&pb->b, prefix, prefix_len), 0);
	cr_assert_eq(grove__zlib_compress(data, len, 6, &z), 0);
	cr_assert_eq(grove__sbuf_put(&pb->b, z.data, z.size), 0);
	grove_buf_dispose(&z);
	pb->count++;
	return off;
}

/* OFS_DELTA prefix for a base `rel` bytes back. */
static size_t ofs_prefix(unsigned char *out, size_t rel)
{
	unsigned char tmp[16];
	size_t n = 0;
	tmp[15 - n++] = rel & 0x7f;
	while (rel >>= 7) {
		rel--;
		tmp[15 - n++] = 0x80 | (rel & 0x7f);
	}
	memcpy(out, tmp + 16 - n, n);
	return n;
}

static unsigned char *pb_finish(pack_builder *pb, size_t *len)
{
	unsigned char sum[20];
	cr_assert_eq(grove__sha1(pb->b.data, pb->b.len, sum), 0);
	cr_assert_eq(grove__sbuf_put(&pb->b, sum, 20), 0);
	*len = pb->b.len;
	return (unsigned char *)grove__sbuf_detach(&pb->b, len);
}

static size_t delivered;
static int count_batch(void *payload, const grove__object *recs, size_t count)
{
	(void)payload;
	(void)recs;
	delivered += count;
	return 0;
}

/* Indexes buf and expects rc; nothing may have been delivered on error. */
static void expect_index(const unsigned char *buf, size_t len, int rc, const char *needle)
{
	grove__pack_index_opts o = { .deliver = count_batch };
	delivered = 0;
	int got = grove__pack_index(buf, len, &o, NULL);
	cr_assert_eq(got, rc, "rc %d (%s), expected %d", got, grove_error_message(), rc);
	if (rc < 0) {
		cr_assert_eq(delivered, 0);
		if (needle)
			cr_assert(strstr(grove_error_message(), needle), "message: %s",
				grove_error_message());
	}
}

static const char HELLO[] = "hello, hello, hello world\n";

/* A valid two-entry pack: a blob and an OFS_DELTA of it. */
static unsigned char *small_pack(size_t *len, size_t *delta_off)
{
	pack_builder pb;
	unsigned char pre[16];
	unsigned char delta[] = { sizeof(HELLO) - 1, 5, 0x90, 5 }; /* "hello" */
	size_t base_off, n;
	pb_begin(&pb, 2);
	base_off = pb_entry(&pb, 3, sizeof(HELLO) - 1, NULL, 0, HELLO, sizeof(HELLO) - 1);
	*delta_off = pb.b.len;
	n = ofs_prefix(pre, *delta_off - base_off);
	pb_entry(&pb, 6, sizeof(delta), pre, n, delta, sizeof(delta));
	return pb_finish(&pb, len);
}

Test(pack_index, small_valid_pack)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	expect_index(p, len, 0, NULL);
	cr_assert_eq(delivered, 2);
	free(p);
}

Test(pack_index, truncated_pack)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	/* Cut anywhere: with or without a repaired trailer it is an error. */
	for (size_t n = 0; n < len; n++) {
		unsigned char *cut = malloc(n + 1);
		memcpy(cut, p, n);
		expect_index(cut, n, GROVE_ECORRUPT, NULL);
		if (n >= 32) {
			fix_checksum(cut, n);
			expect_index(cut, n, GROVE_ECORRUPT, NULL);
		}
		free(cut);
	}
	free(p);
}

Test(pack_index, bad_checksum)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	p[len - 1] ^= 1;
	expect_index(p, len, GROVE_ECORRUPT, "checksum");
	p[len - 1] ^= 1;
	p[20] ^= 1; /* body */
	expect_index(p, len, GROVE_ECORRUPT, "checksum");
	free(p);
}

Test(pack_index, bad_header)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	p[3] = 'X';
	fix_checksum(p, len);
	expect_index(p, len, GROVE_ECORRUPT, "signature");
	p[3] = 'K';
	p[7] = 4;
	fix_checksum(p, len);
	expect_index(p, len, GROVE_ECORRUPT, "version");
	p[7] = 3; /* version 3 is accepted */
	fix_checksum(p, len);
	expect_index(p, len, 0, NULL);
	free(p);
}

Test(pack_index, wrong_object_count)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	p[11] = 3;
	fix_checksum(p, len);
	expect_index(p, len, GROVE_ECORRUPT, "missing");
	p[11] = 1;
	fix_checksum(p, len);
	expect_index(p, len, GROVE_ECORRUPT, "garbage");
	/* a huge count in a tiny pack is refused before allocating */
	p[9] = 0x7f; /* ~8 million, under the default limit */
	fix_checksum(p, len);
	expect_index(p, len, GROVE_ECORRUPT, "claims");
	{
		grove__pack_index_opts o = { .max_objects = 1 };
		p[9] = 0;
		p[11] = 2;
		fix_checksum(p, len);
		cr_assert_eq(grove__pack_index(p, len, &o, NULL), GROVE_EINVALID);
	}
	free(p);
}

static void ofs_case(size_t rel, const char *needle)
{
	pack_builder pb;
	unsigned char pre[16], *p;
	unsigned char delta[] = { sizeof(HELLO) - 1, 5, 0x90, 5 };
	size_t len, n;
	pb_begin(&pb, 2);
	pb_entry(&pb, 3, sizeof(HELLO) - 1, NULL, 0, HELLO, sizeof(HELLO) - 1);
	n = ofs_prefix(pre, rel);
	pb_entry(&pb, 6, sizeof(delta), pre, n, delta, sizeof(delta));
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_ECORRUPT, needle);
	free(p);
}

Test(pack_index, ofs_offset_out_of_range)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	free(p);
	ofs_case(0, "out of range");           /* itself */
	ofs_case(doff + 1, "out of range");    /* before the pack start */
	ofs_case(100000, "out of range");
	ofs_case(doff - 13, "not an entry");  /* inside the first entry */
	ofs_case(3, "not an entry");
}

Test(pack_index, ofs_offset_forward)
{
	/* Entry 0 is a delta whose base would be entry 1 (later): impossible to
	 * express as a positive OFS distance, so any distance is out of range. */
	pack_builder pb;
	unsigned char pre[16], *p;
	unsigned char delta[] = { 5, 5, 0x90, 5 };
	size_t len, n = ofs_prefix(pre, 1);
	pb_begin(&pb, 2);
	pb_entry(&pb, 6, sizeof(delta), pre, n, delta, sizeof(delta));
	pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_ECORRUPT, "offset 12");
	free(p);
}

Test(pack_index, missing_ref_base)
{
	pack_builder pb;
	unsigned char *p, base[20];
	unsigned char delta[] = { 5, 5, 0x90, 5 };
	size_t len;
	memset(base, 0xab, sizeof(base));
	pb_begin(&pb, 2);
	pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	pb_entry(&pb, 7, sizeof(delta), base, 20, delta, sizeof(delta));
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_EINVALID, "abababab");
	{
		fake_backend f;
		grove__pack_index_opts o = { .lookup_base = lookup_in, .lookup_payload = &f.be };
		fake_init(&f);
		cr_assert_eq(grove__pack_index(p, len, &o, NULL), GROVE_EINVALID);
		cr_assert(strstr(grove_error_message(), "missing"), "%s", grove_error_message());
	}
	free(p);
}

Test(pack_index, ref_base_inside_pack)
{
	pack_builder pb;
	unsigned char *p;
	grove_oid base;
	unsigned char delta[] = { 5, 4, 0x91, 1, 4 }; /* "ello" */
	size_t len;
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, "hello", 5, &base), 0);
	pb_begin(&pb, 2);
	/* the delta first: its base comes later in the pack */
	pb_entry(&pb, 7, sizeof(delta), base.id, 20, delta, sizeof(delta));
	pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	p = pb_finish(&pb, &len);
	expect_index(p, len, 0, NULL);
	cr_assert_eq(delivered, 2);
	free(p);
}

static grove_oid order_seen[8];
static size_t order_n;
static int record_order(void *payload, const grove__object *recs, size_t count)
{
	(void)payload;
	for (size_t i = 0; i < count && order_n < 8; i++)
		order_seen[order_n++] = recs[i].id;
	return 0;
}

/* Records come in the pack's order (a store appending them keeps git's
 * layout), except that a delta waits for its base: a REF_DELTA before its
 * base, and a delta against such a waiting delta, follow it. */
Test(pack_index, delivery_keeps_pack_order_with_bases_first)
{
	pack_builder pb;
	unsigned char *p, pre[16];
	unsigned char d2[] = { sizeof(HELLO) - 1, 7, 0x90, 7 }; /* A -> "hello, " */
	unsigned char d1[] = { 5, 4, 0x91, 1, 4 };               /* B -> "ello" */
	unsigned char d3[] = { 4, 2, 0x91, 1, 2 };               /* D1 -> "ll" */
	grove_oid a, b, id1, id2, id3;
	size_t len, off_a, off_d1, off_d3, n;
	grove__pack_index_opts o = { .deliver = record_order, .batch_size = 2 };

	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, HELLO, sizeof(HELLO) - 1, &a), 0);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, "hello", 5, &b), 0);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, "ello", 4, &id1), 0);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, "hello, ", 7, &id2), 0);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, "ll", 2, &id3), 0);
	pb_begin(&pb, 5);
	off_a = pb_entry(&pb, 3, sizeof(HELLO) - 1, NULL, 0, HELLO, sizeof(HELLO) - 1);
	off_d1 = pb_entry(&pb, 7, sizeof(d1), b.id, 20, d1, sizeof(d1));
	n = ofs_prefix(pre, pb.b.len - off_a);
	pb_entry(&pb, 6, sizeof(d2), pre, n, d2, sizeof(d2));
	pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	off_d3 = pb.b.len;
	n = ofs_prefix(pre, off_d3 - off_d1);
	pb_entry(&pb, 6, sizeof(d3), pre, n, d3, sizeof(d3));
	p = pb_finish(&pb, &len);

	order_n = 0;
	cr_assert_eq(grove__pack_index(p, len, &o, NULL), 0, "%s", grove_error_message());
	cr_assert_eq(order_n, 5);
	/* A, its delta D2 (pack order: before B), B, then the waiting D1, D3 */
	cr_assert(grove__oid_equal(&order_seen[0], &a));
	cr_assert(grove__oid_equal(&order_seen[1], &id2));
	cr_assert(grove__oid_equal(&order_seen[2], &b));
	cr_assert(grove__oid_equal(&order_seen[3], &id1));
	cr_assert(grove__oid_equal(&order_seen[4], &id3));
	free(p);
}

Test(pack_index, corrupt_zlib)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	p[12 + 4] ^= 0x55; /* inside the blob's deflate data */
	fix_checksum(p, len);
	expect_index(p, len, GROVE_ECORRUPT, "offset 12");
	free(p);
}

Test(pack_index, declared_size_mismatch)
{
	pack_builder pb;
	unsigned char *p;
	size_t len;
	pb_begin(&pb, 1);
	pb_entry(&pb, 3, 6, NULL, 0, "hello", 5);
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_ECORRUPT, "offset 12");
	free(p);
}

Test(pack_index, bad_entry_type)
{
	pack_builder pb;
	unsigned char *p;
	size_t len;
	pb_begin(&pb, 1);
	pb_entry(&pb, 5, 5, NULL, 0, "hello", 5);
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_ECORRUPT, "invalid type");
	free(p);
}

Test(pack_index, delta_bomb_entry_size)
{
	/* A blob declaring 2^40 bytes in a pack of a few dozen. */
	pack_builder pb;
	unsigned char *p;
	size_t len;
	pb_begin(&pb, 1);
	pb_entry(&pb, 3, (uint64_t)1 << 40, NULL, 0, "hello", 5);
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_EINVALID, "limit");
	free(p);
	/* under the size limit but beyond what the data can inflate to */
	pb_begin(&pb, 1);
	pb_entry(&pb, 3, (uint64_t)1 << 29, NULL, 0, "hello", 5);
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_ECORRUPT, "more than its data");
	free(p);
}

Test(pack_index, delta_bomb_result_size)
{
	/* A tiny delta whose header declares a 2^40-byte result. */
	pack_builder pb;
	unsigned char pre[16], *p;
	unsigned char delta[] = { 5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x90, 5 };
	size_t len, off, n;
	pb_begin(&pb, 2);
	off = pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	n = ofs_prefix(pre, pb.b.len - off);
	pb_entry(&pb, 6, sizeof(delta), pre, n, delta, sizeof(delta));
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_EINVALID, "limit");
	free(p);
}

Test(pack_index, delta_copy_out_of_range)
{
	pack_builder pb;
	unsigned char pre[16], *p;
	unsigned char delta[] = { 5, 5, 0x91, 3, 5 }; /* 5 bytes from offset 3 of 5 */
	size_t len, off, n;
	pb_begin(&pb, 2);
	off = pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	n = ofs_prefix(pre, pb.b.len - off);
	pb_entry(&pb, 6, sizeof(delta), pre, n, delta, sizeof(delta));
	p = pb_finish(&pb, &len);
	expect_index(p, len, GROVE_ECORRUPT, "copies");
	free(p);
}

Test(pack_index, delta_depth_limit)
{
	/* blob <- d1 <- d2 <- d3, each an OFS_DELTA of the previous entry */
	pack_builder pb;
	unsigned char pre[16], *p;
	unsigned char delta[] = { 5, 5, 0x90, 5 };
	size_t len, prev, n;
	grove__pack_index_opts o = { .max_delta_depth = 2 };
	pb_begin(&pb, 4);
	prev = pb_entry(&pb, 3, 5, NULL, 0, "hello", 5);
	for (int i = 0; i < 3; i++) {
		size_t here = pb.b.len;
		n = ofs_prefix(pre, here - prev);
		pb_entry(&pb, 6, sizeof(delta), pre, n, delta, sizeof(delta));
		prev = here;
	}
	p = pb_finish(&pb, &len);
	cr_assert_eq(grove__pack_index(p, len, &o, NULL), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "longer than 2"), "%s", grove_error_message());
	o.max_delta_depth = 3;
	cr_assert_eq(grove__pack_index(p, len, &o, NULL), 0, "%s", grove_error_message());
	free(p);
}

Test(pack_index, strict_rejects_bad_tree)
{
	pack_builder pb;
	unsigned char *p;
	size_t len;
	/* a tree entry with an invalid mode */
	static const char tree[] = "1234 x\0aaaaaaaaaaaaaaaaaaaa";
	grove__pack_index_opts o = { .strict = 1 };
	pb_begin(&pb, 1);
	pb_entry(&pb, 2, sizeof(tree) - 1, NULL, 0, tree, sizeof(tree) - 1);
	p = pb_finish(&pb, &len);
	cr_assert_eq(grove__pack_index(p, len, NULL, NULL), 0);
	cr_assert_eq(grove__pack_index(p, len, &o, NULL), GROVE_ECORRUPT);
	free(p);
}

Test(pack_index, streaming_indexer_and_pack_size_limit)
{
	size_t len, doff;
	unsigned char *p = small_pack(&len, &doff);
	grove__pack_indexer *ix;
	grove__pack_index_opts o = { .max_pack_size = len };
	grove__pack_index_stats st;
	cr_assert_eq(grove__pack_indexer_new(&ix, &o), 0);
	for (size_t i = 0; i < len; i += 7)
		cr_assert_eq(grove__pack_indexer_append(ix, p + i, len - i < 7 ? len - i : 7), 0);
	cr_assert_eq(grove__pack_indexer_append(ix, "x", 1), GROVE_EINVALID);
	cr_assert_eq(grove__pack_indexer_finish(ix, &st), 0, "%s", grove_error_message());
	cr_assert_eq(st.object_count, 2);
	cr_assert_eq(st.delta_count, 1);
	grove__pack_indexer_free(ix);
	o.max_pack_size = len - 1;
	cr_assert_eq(grove__pack_index(p, len, &o, NULL), GROVE_EINVALID);
	free(p);
}

/* --- writing ---------------------------------------------------------- */

static int write_to_file(void *payload, const void *data, size_t len)
{
	return fwrite(data, 1, len, payload) == len ? 0 : -1;
}

/* Every object id in the fake backend. */
static grove_oid *all_ids(fake_backend *f)
{
	grove_oid *ids = malloc((f->n + 1) * sizeof(*ids));
	cr_assert_not_null(ids);
	for (size_t i = 0; i < f->n; i++)
		ids[i] = f->recs[i].rec.id;
	return ids;
}

static void write_pack_file(fake_backend *f, const grove_oid *ids, size_t n,
	grove__pack_write_opts *o, const char *path, grove__pack_write_stats *st)
{
	FILE *out = fopen(path, "wb");
	cr_assert_not_null(out);
	o->write = write_to_file;
	o->write_payload = out;
	cr_assert_eq(grove__pack_write(&f->be, ids, n, o, st), 0, "%s", grove_error_message());
	cr_assert_eq(fclose(out), 0);
}

/* `git verify-pack -v` object ids, sorted, into a file; checks index-pack. */
static void git_index_and_list(const char *pack, const char *list_out)
{
	sh("cd %s && git index-pack --strict %s >/dev/null && "
	   "git verify-pack -v %s | grep -E '^[0-9a-f]{40} ' | cut -c1-40 | sort > %s",
		repo, pack, pack, list_out);
}

Test(pack_write, roundtrip_through_git)
{
	fake_backend f;
	grove__pack_write_stats st;
	grove__pack_write_opts o = { 0 };
	char in[160], out[160], want[160], got[160];
	grove_oid *ids;

	setup_repo();
	snprintf(in, sizeof(in), "%s/in.pack", tmpdir);
	snprintf(out, sizeof(out), "%s/out.pack", tmpdir);
	snprintf(want, sizeof(want), "%s/want.txt", tmpdir);
	snprintf(got, sizeof(got), "%s/got.txt", tmpdir);
	git_pack_all(in, 1);
	fake_init(&f);
	cr_assert_eq(index_file(in, &f, NULL, NULL, NULL), 0, "%s", grove_error_message());
	ids = all_ids(&f);
	/* reversed: deltas come before their bases in the caller's list */
	for (size_t i = 0; i < f.n / 2; i++) {
		grove_oid t = ids[i];
		ids[i] = ids[f.n - 1 - i];
		ids[f.n - 1 - i] = t;
	}
	/* and a duplicate */
	ids[f.n] = ids[0];
	write_pack_file(&f, ids, f.n + 1, &o, out, &st);
	cr_assert_eq(st.object_count, f.n);
	cr_assert_gt(st.reused_deltas, 10);
	cr_assert_gt(st.reused_zlib, 0);
	cr_assert_eq(st.inflated, 0);
	git_index_and_list(out, got);
	sh("cd %s && git cat-file --batch-all-objects --batch-check='%%(objectname)' | sort > %s",
		repo, want);
	sh("cmp -s %s %s", want, got);
	/* the checksum in stats is the pack's trailer */
	{
		size_t len;
		unsigned char *p = read_file(out, &len);
		cr_assert(memcmp(p + len - 20, st.checksum, 20) == 0);
		/* and our own indexer accepts what we wrote */
		cr_assert_eq(grove__pack_index(p, len, NULL, NULL), 0, "%s", grove_error_message());
		free(p);
	}
	free(ids);
	fake_dispose(&f);
	remove_tmpdir();
}

static int has_in(void *payload, const grove_oid *id)
{
	return fake_exists(payload, id);
}

/* Ids listed by a git command (one hex id at the start of each line). */
static grove_oid *git_ids(const char *cmd, size_t *n)
{
	grove_oid *ids = NULL;
	size_t cap = 0;
	char line[512];
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	*n = 0;
	while (fgets(line, sizeof(line), p)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = realloc(ids, cap * sizeof(*ids));
		}
		line[40] = '\0';
		cr_assert_eq(grove_oid_fromhex(&ids[(*n)++], line), 0);
	}
	cr_assert_eq(pclose(p), 0);
	return ids;
}

Test(pack_write, thin_and_self_contained_subsets)
{
	fake_backend f, old;
	grove__pack_write_stats st;
	grove__pack_write_opts o = { 0 };
	char in[160], oldp[160], out[160], cmd[512], list[160];
	grove_oid *ids;
	size_t n;

	setup_repo();
	snprintf(in, sizeof(in), "%s/in.pack", tmpdir);
	snprintf(oldp, sizeof(oldp), "%s/old.pack", tmpdir);
	snprintf(out, sizeof(out), "%s/out.pack", tmpdir);
	snprintf(list, sizeof(list), "%s/list.txt", tmpdir);
	git_pack_all(in, 1);
	sh("cd %s && echo HEAD~10 | git pack-objects --revs --stdout -q > %s", repo, oldp);
	fake_init(&f);
	fake_init(&old);
	cr_assert_eq(index_file(in, &f, NULL, NULL, NULL), 0, "%s", grove_error_message());
	cr_assert_eq(index_file(oldp, &old, NULL, NULL, NULL), 0, "%s", grove_error_message());
	snprintf(cmd, sizeof(cmd), "git -C %s rev-list --objects HEAD ^HEAD~10", repo);
	ids = git_ids(cmd, &n);
	cr_assert_gt(n, 10);

	/* Self-contained: deltas on bases outside the set are sent whole. */
	write_pack_file(&f, ids, n, &o, out, &st);
	cr_assert_eq(st.object_count, n);
	git_index_and_list(out, list);
	sh("test $(wc -l < %s) -eq %zu", list, n);

	/* Thin: the client has HEAD~10's objects, so REF_DELTAs against them
	 * are allowed; git completes the pack with --fix-thin in a repo that
	 * has the old history. */
	o.allow_thin = 1;
	o.client_has = has_in;
	o.client_payload = &old.be;
	write_pack_file(&f, ids, n, &o, out, &st);
	cr_assert_eq(st.object_count, n);
	sh("cd %s && git init -q --bare client.git && git -C client.git index-pack --stdin < %s "
	   ">/dev/null && git -C client.git index-pack --stdin --fix-thin < %s >/dev/null && "
	   "git -C client.git cat-file --batch-all-objects --batch-check | wc -l > n.txt && "
	   "test $(cat n.txt) -eq $(git -C repo rev-list --objects HEAD | wc -l)",
		tmpdir, oldp, out);
	free(ids);
	fake_dispose(&f);
	fake_dispose(&old);
	remove_tmpdir();
}

Test(pack_write, plain_records_and_errors)
{
	fake_backend f;
	grove__pack_write_stats st;
	grove__pack_write_opts o = { .compression_level = 6 };
	grove__object recs[2];
	grove_oid ids[3];
	char out[160], list[160];

	setup_repo();
	snprintf(out, sizeof(out), "%s/plain.pack", tmpdir);
	snprintf(list, sizeof(list), "%s/list.txt", tmpdir);
	fake_init(&f);
	memset(recs, 0, sizeof(recs));
	recs[0].type = GROVE_OBJ_BLOB;
	recs[0].data = "plain one\n";
	recs[0].size = recs[0].data_len = 10;
	recs[1].type = GROVE_OBJ_BLOB;
	recs[1].data = "plain two\n";
	recs[1].size = recs[1].data_len = 10;
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(grove__object_hash(recs[i].type, recs[i].data, 10, &recs[i].id), 0);
		ids[i] = recs[i].id;
	}
	grove__write_set ws = { recs, 2, NULL, 0 };
	fake_write(&f.be, &ws);
	write_pack_file(&f, ids, 2, &o, out, &st);
	git_index_and_list(out, list);
	sh("test $(wc -l < %s) -eq 2", list);

	/* a missing object */
	memset(&ids[2], 0x42, sizeof(ids[2]));
	{
		FILE *devnull = fopen("/dev/null", "wb");
		o.write = write_to_file;
		o.write_payload = devnull;
		cr_assert_eq(grove__pack_write(&f.be, ids, 3, &o, NULL), GROVE_ENOTFOUND);
		cr_assert(strstr(grove_error_message(), "4242424242"), "%s", grove_error_message());
		fclose(devnull);
	}
	/* no callback */
	o.write = NULL;
	cr_assert_eq(grove__pack_write(&f.be, ids, 2, &o, NULL), GROVE_EINVALID);
	fake_dispose(&f);
	remove_tmpdir();
}

static int failing_write(void *payload, const void *data, size_t len)
{
	(void)payload;
	(void)data;
	(void)len;
	return grove__error_set(GROVE_EIO, "disk on fire");
}

Test(pack_write, write_error_stops)
{
	fake_backend f;
	grove__pack_write_opts o = { .write = failing_write };
	grove__object rec = { .type = GROVE_OBJ_BLOB, .data = "x", .size = 1, .data_len = 1 };
	fake_init(&f);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, "x", 1, &rec.id), 0);
	grove__write_set ws = { &rec, 1, NULL, 0 };
	fake_write(&f.be, &ws);
	cr_assert_eq(grove__pack_write(&f.be, &rec.id, 1, &o, NULL), GROVE_EIO);
	fake_dispose(&f);
}

/* Deltas from grove__delta_create are accepted by git itself. */
Test(pack_write, git_accepts_our_deltas)
{
	pack_builder pb;
	grove__sbuf base = GROVE_SBUF_INIT, target = GROVE_SBUF_INIT;
	grove_buf d = { 0 };
	unsigned char pre[16], *p;
	size_t len, off, n;
	char path[160], list[160];
	FILE *f;

	setup_repo();
	for (int i = 0; i < 3000; i++)
		grove__sbuf_printf(&base, "line %d of the base text\n", i);
	for (int i = 0; i < 3000; i++)
		grove__sbuf_printf(&target, i % 500 == 7 ? "changed %d\n" : "line %d of the base text\n", i);
	cr_assert_eq(grove__delta_create(base.data, base.len, target.data, target.len, target.len / 4,
		&d), 0, "%s", grove_error_message());
	pb_begin(&pb, 2);
	off = pb_entry(&pb, 3, base.len, NULL, 0, base.data, base.len);
	n = ofs_prefix(pre, pb.b.len - off);
	pb_entry(&pb, 6, d.size, pre, n, d.data, d.size);
	p = pb_finish(&pb, &len);
	snprintf(path, sizeof(path), "%s/ours.pack", tmpdir);
	snprintf(list, sizeof(list), "%s/list.txt", tmpdir);
	f = fopen(path, "wb");
	cr_assert_eq(fwrite(p, 1, len, f), len);
	fclose(f);
	git_index_and_list(path, list);
	{
		grove_oid id;
		char hex[41];
		grove__object_hash(GROVE_OBJ_BLOB, target.data, target.len, &id);
		sh("grep -q %s %s", grove_oid_tohex(hex, &id), list);
	}
	free(p);
	grove_buf_dispose(&d);
	grove__sbuf_dispose(&base);
	grove__sbuf_dispose(&target);
	remove_tmpdir();
}
