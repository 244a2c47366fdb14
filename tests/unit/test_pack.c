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
	   "  mkdir -p d$((i % 3)); echo $i >> d$((i % 3))/c.txt; "
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
