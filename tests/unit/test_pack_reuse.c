/*
 * Pack writing that reuses stored deltas: the same pack whether or not a
 * record carries its inflated length (grove__object.data_size), damaged
 * stored deltas and missing bases mid-chain reported cleanly, deltas whose
 * base is not sent resolved along their chain (right content, no
 * whole-object reads that would fill the delta base cache), and the
 * commit walk keeping each commit's tree id.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "commit_walk.h"
#include "error.h"
#include "oid.h"
#include "pack.h"
#include "store.h"

static char tmpdir[64];

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

/* --- a backend over an array, whose read_raw can hide data_size -------- */

typedef struct {
	grove__object rec;
	unsigned char *data;
} rec_t;

typedef struct {
	grove_backend be;
	rec_t *recs;
	size_t n, cap;
	int hide_sizes;        /* read_raw reports data_size 0 */
	const grove_oid *fail; /* read_raw of this id: GROVE_ENOTFOUND */
	size_t raw_reads;
	size_t reads;          /* calls of f_read (whole-object reads) */
} fake;

static rec_t *find(fake *f, const grove_oid *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (grove__oid_equal(&f->recs[i].rec.id, id))
			return &f->recs[i];
	return NULL;
}

static int f_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	rec_t *r = find((fake *)be, id);
	((fake *)be)->reads++;
	if (!r)
		return grove__error_set(GROVE_ENOTFOUND, "object not found");
	*type = r->rec.type;
	return grove__object_decode(be, &r->rec, out);
}

static int f_read_header(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size)
{
	rec_t *r = find((fake *)be, id);
	if (!r)
		return grove__error_set(GROVE_ENOTFOUND, "object not found");
	*type = r->rec.type;
	*size = r->rec.size;
	return 0;
}

static int f_exists(grove_backend *be, const grove_oid *id)
{
	return find((fake *)be, id) != NULL;
}

static int f_read_raw(grove_backend *be, const grove_oid *id, grove__object *out, grove_buf *buf)
{
	fake *f = (fake *)be;
	rec_t *r = find(f, id);
	f->raw_reads++;
	if (!r || (f->fail && grove__oid_equal(f->fail, id)))
		return grove__error_set(GROVE_ENOTFOUND, "object not found");
	buf->data = malloc(r->rec.data_len + 1);
	cr_assert_not_null(buf->data);
	memcpy(buf->data, r->data, r->rec.data_len);
	buf->size = r->rec.data_len;
	*out = r->rec;
	out->data = buf->data;
	if (f->hide_sizes)
		out->data_size = 0;
	return 0;
}

static int f_write(grove_backend *be, const grove__write_set *ws)
{
	fake *f = (fake *)be;
	for (size_t i = 0; i < ws->object_count; i++) {
		const grove__object *o = &ws->objects[i];
		rec_t *r;
		if (find(f, &o->id))
			continue;
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 64;
			f->recs = realloc(f->recs, f->cap * sizeof(*f->recs));
			cr_assert_not_null(f->recs);
		}
		r = &f->recs[f->n++];
		r->rec = *o;
		r->data = malloc(o->data_len + 1);
		cr_assert_not_null(r->data);
		memcpy(r->data, o->data, o->data_len);
		r->rec.data = r->data;
	}
	return 0;
}

static grove__backend_ops fake_ops = {
	.name = "fake", .read = f_read, .read_header = f_read_header,
	.exists = f_exists, .write = f_write, .read_raw = f_read_raw
};

static int deliver(void *payload, const grove__object *recs, size_t count)
{
	grove_backend *be = payload;
	grove__write_set ws = { recs, count, NULL, 0 };
	return be->ops->write(be, &ws);
}

/* A git history with deep deltas, packed by git (fixed dates, one thread:
 * the same pack every time) and indexed into f. */
static void load(fake *f)
{
	char path[128];
	FILE *fp;
	unsigned char *pack;
	long n;
	grove__pack_index_opts o = { 0 };

	strcpy(tmpdir, "/tmp/grove-reuse-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	sh("cd %s && git init -q -b main repo && cd repo && "
	   "git config user.name t && git config user.email t@example.com && "
	   "export GIT_AUTHOR_DATE=@1600000000 GIT_COMMITTER_DATE=@1600000000 && "
	   "mkdir d && for i in $(seq 1 30); do seq 1 $((i * 50)) > a.txt; seq 3 $((i * 20)) > d/b.txt; "
	   "git add -A && git commit -q -m c$i; done && "
	   "git pack-objects --revs --all --delta-base-offset --depth=20 --window=20 --threads=1 --stdout -q </dev/null > ../all.pack",
	   tmpdir);
	snprintf(path, sizeof(path), "%s/all.pack", tmpdir);
	fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	pack = malloc((size_t)n);
	cr_assert_eq(fread(pack, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);

	memset(f, 0, sizeof(*f));
	f->be.ops = &fake_ops;
	o.deliver = deliver;
	o.deliver_payload = &f->be;
	cr_assert_eq(grove__pack_index(pack, (size_t)n, &o, NULL), 0, "%s", grove_error_message());
	free(pack);
}

static void unload(fake *f)
{
	char cmd[128];
	for (size_t i = 0; i < f->n; i++)
		free(f->recs[i].data);
	free(f->recs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static int to_sbuf(void *payload, const void *data, size_t len)
{
	grove_buf *b = payload;
	b->data = realloc(b->data, b->size + len);
	cr_assert_not_null(b->data);
	memcpy(b->data + b->size, data, len);
	b->size += len;
	return 0;
}

/* Ids newest-last as stored, reversed so deltas precede their bases. */
static grove_oid *ids_reversed(fake *f)
{
	grove_oid *ids = malloc(f->n * sizeof(*ids));
	cr_assert_not_null(ids);
	for (size_t i = 0; i < f->n; i++)
		ids[i] = f->recs[f->n - 1 - i].rec.id;
	return ids;
}

static int write_pack(fake *f, const grove_oid *ids, size_t n, grove_buf *out,
	grove__pack_write_stats *st)
{
	grove__pack_write_opts o = { 0 };
	o.write = to_sbuf;
	o.write_payload = out;
	return grove__pack_write(&f->be, ids, n, &o, st);
}

Test(pack_reuse, same_pack_with_or_without_stored_sizes)
{
	fake f;
	grove_buf with = { 0 }, without = { 0 };
	grove__pack_write_stats s1, s2;
	grove_oid *ids;
	size_t deltas = 0;

	load(&f);
	for (size_t i = 0; i < f.n; i++) {
		if (f.recs[i].rec.encoding == GROVE__ENC_DELTA) {
			cr_assert_gt(f.recs[i].rec.data_size, 0, "the indexer fills data_size");
			deltas++;
		}
	}
	cr_assert_gt(deltas, 20);
	ids = ids_reversed(&f);

	cr_assert_eq(write_pack(&f, ids, f.n, &with, &s1), 0, "%s", grove_error_message());
	f.raw_reads = 0;
	f.hide_sizes = 1;
	cr_assert_eq(write_pack(&f, ids, f.n, &without, &s2), 0, "%s", grove_error_message());
	/* one read per record: bases found on the way are not read again */
	cr_assert_eq(f.raw_reads, f.n);
	cr_assert_eq(s1.reused_deltas, deltas);
	cr_assert_eq(s2.reused_deltas, deltas);
	cr_assert_eq(s1.inflated, 0);
	cr_assert_eq(with.size, without.size);
	cr_assert(memcmp(with.data, without.data, with.size) == 0);
	cr_assert_eq(grove__pack_index(with.data, with.size, NULL, NULL), 0, "%s", grove_error_message());

	free(with.data);
	free(without.data);
	free(ids);
	unload(&f);
}

Test(pack_reuse, damaged_stored_delta_is_corrupt_when_measured)
{
	fake f;
	grove_buf out = { 0 };
	grove_oid *ids;
	rec_t *victim = NULL;
	char hex[GROVE_OID_HEXSZ + 1];

	load(&f);
	for (size_t i = 0; i < f.n && !victim; i++)
		if (f.recs[i].rec.encoding == GROVE__ENC_DELTA && f.recs[i].rec.data_len > 8)
			victim = &f.recs[i];
	cr_assert_not_null(victim);
	/* a truncated zlib stream */
	victim->rec.data_len -= 4;
	f.hide_sizes = 1;
	ids = ids_reversed(&f);
	cr_assert_eq(write_pack(&f, ids, f.n, &out, NULL), GROVE_ECORRUPT);
	grove_oid_tohex(hex, &victim->rec.id);
	cr_assert_not_null(strstr(grove_error_message(), hex), "%s", grove_error_message());
	free(out.data);
	free(ids);
	unload(&f);
}

Test(pack_reuse, missing_base_in_a_pending_chain)
{
	fake f;
	grove_buf out = { 0 };
	grove_oid *ids;
	const grove_oid *base = NULL;

	load(&f);
	/* a base that is itself a delta: the chain is pending when it fails */
	for (size_t i = 0; i < f.n && !base; i++) {
		rec_t *r = &f.recs[i];
		rec_t *b = r->rec.encoding == GROVE__ENC_DELTA ? find(&f, &r->rec.base) : NULL;
		if (b && b->rec.encoding == GROVE__ENC_DELTA)
			base = &b->rec.id;
	}
	cr_assert_not_null(base);
	f.fail = base;
	ids = ids_reversed(&f);
	cr_assert_eq(write_pack(&f, ids, f.n, &out, NULL), GROVE_ENOTFOUND);
	cr_assert_not_null(strstr(grove_error_message(), "not found"), "%s", grove_error_message());
	free(out.data);
	free(ids);
	unload(&f);
}

/* Every delta record, none of the whole objects: the deltas whose base is
 * whole must be resolved and sent whole. */
static grove_oid *delta_ids(fake *f, size_t *n)
{
	grove_oid *ids = malloc(f->n * sizeof(*ids));
	cr_assert_not_null(ids);
	*n = 0;
	for (size_t i = f->n; i-- > 0;)
		if (f->recs[i].rec.encoding == GROVE__ENC_DELTA)
			ids[(*n)++] = f->recs[i].rec.id;
	return ids;
}

typedef struct {
	grove_oid *ids;
	size_t n;
} id_list;

static int collect_ids(void *payload, const grove__object *recs, size_t count)
{
	id_list *l = payload;
	l->ids = realloc(l->ids, (l->n + count) * sizeof(*l->ids));
	cr_assert_not_null(l->ids);
	for (size_t i = 0; i < count; i++)
		l->ids[l->n++] = recs[i].id;
	return 0;
}

static int cmp_oid(const void *a, const void *b)
{
	return memcmp(a, b, GROVE_OID_RAWSZ);
}

Test(pack_reuse, deltas_without_their_base_are_resolved_along_the_chain)
{
	fake f;
	grove_buf out = { 0 };
	grove__pack_write_stats st;
	grove__pack_index_opts io = { 0 };
	id_list got = { 0 };
	grove_oid *ids;
	size_t n;

	load(&f);
	ids = delta_ids(&f, &n);
	cr_assert_gt(n, 20);
	f.reads = 0;
	cr_assert_eq(write_pack(&f, ids, n, &out, &st), 0, "%s", grove_error_message());
	cr_assert_gt(st.inflated, 0, "some deltas have a whole base that is not sent");
	cr_assert_gt(st.reused_deltas, 0);
	cr_assert_eq(st.inflated + st.reused_deltas, n);
	/* resolved from raw records, never through the whole-object read that
	 * keeps every base in the process-wide delta base cache */
	cr_assert_eq(f.reads, 0);
	/* the indexer hashes every object it resolves: the same ids come back,
	 * so each content sent whole is right */
	io.deliver = collect_ids;
	io.deliver_payload = &got;
	cr_assert_eq(grove__pack_index(out.data, out.size, &io, NULL), 0, "%s", grove_error_message());
	cr_assert_eq(got.n, n);
	qsort(ids, n, sizeof(*ids), cmp_oid);
	qsort(got.ids, got.n, sizeof(*got.ids), cmp_oid);
	cr_assert(memcmp(ids, got.ids, n * sizeof(*ids)) == 0);
	free(got.ids);
	free(out.data);
	free(ids);
	unload(&f);
}

Test(pack_reuse, missing_base_of_a_delta_sent_whole_is_corrupt)
{
	fake f;
	grove_buf out = { 0 };
	grove_oid *ids;
	size_t n;
	const grove_oid *root = NULL;
	char hex[GROVE_OID_HEXSZ + 1];

	load(&f);
	/* a whole object some delta is based on; it is not sent, so that
	 * delta is resolved and finds its base gone */
	for (size_t i = 0; i < f.n && !root; i++) {
		rec_t *r = &f.recs[i];
		rec_t *b = r->rec.encoding == GROVE__ENC_DELTA ? find(&f, &r->rec.base) : NULL;
		if (b && b->rec.encoding != GROVE__ENC_DELTA)
			root = &b->rec.id;
	}
	cr_assert_not_null(root);
	f.fail = root;
	ids = delta_ids(&f, &n);
	cr_assert_eq(write_pack(&f, ids, n, &out, NULL), GROVE_ECORRUPT);
	grove_oid_tohex(hex, root);
	cr_assert_not_null(strstr(grove_error_message(), hex), "%s", grove_error_message());
	cr_assert_not_null(strstr(grove_error_message(), "missing"), "%s", grove_error_message());
	free(out.data);
	free(ids);
	unload(&f);
}

Test(pack_reuse, damaged_delta_in_a_resolved_chain_is_corrupt)
{
	fake f;
	grove_buf out = { 0 };
	grove_oid *ids;
	size_t n;
	rec_t *victim = NULL;

	load(&f);
	/* a delta based on another delta: resolving the top reads it */
	for (size_t i = 0; i < f.n && !victim; i++) {
		rec_t *r = &f.recs[i];
		rec_t *b = r->rec.encoding == GROVE__ENC_DELTA ? find(&f, &r->rec.base) : NULL;
		if (b && b->rec.encoding == GROVE__ENC_DELTA && b->rec.data_len > 8)
			victim = b;
	}
	cr_assert_not_null(victim);
	victim->rec.data_len -= 4; /* a truncated zlib stream */
	ids = delta_ids(&f, &n);
	cr_assert_eq(write_pack(&f, ids, n, &out, NULL), GROVE_ECORRUPT, "%s", grove_error_message());
	free(out.data);
	free(ids);
	unload(&f);
}

static int stop_after(void *payload, const void *data, size_t len)
{
	size_t *left = payload;
	(void)data;
	if (*left < len)
		return 7;
	*left -= len;
	return 0;
}

Test(pack_reuse, writer_stop_mid_chain)
{
	fake f;
	grove_oid *ids;
	grove__pack_write_opts o = { 0 };
	size_t left = 100;

	load(&f);
	ids = ids_reversed(&f);
	o.write = stop_after;
	o.write_payload = &left;
	cr_assert_lt(grove__pack_write(&f.be, ids, f.n, &o, NULL), 0);
	free(ids);
	unload(&f);
}

/* --- the commit walk keeps tree ids ------------------------------------ */

Test(commit_walk, parsed_node_has_the_tree)
{
	grove *g;
	grove_oid c1, c2, tree;
	grove__cwalk w;
	grove__cnode *n;

	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "a", "1", 1, NULL, NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "b", "2", 1, NULL, &c2), 0, "%s", grove_error_message());
	cr_assert_eq(grove_branch_head(g, "main", &c2), 0);
	grove__cwalk_init(&w, g);
	cr_assert_eq(grove__cwalk_get(&w, &c2, 1, &n), 0);
	cr_assert_eq(grove__commit_tree(g, &c2, &tree), 0);
	cr_assert(grove__oid_equal(&n->tree, &tree));
	cr_assert_eq(n->parent_count, 1);
	c1 = n->parents[0];
	cr_assert_eq(grove__cwalk_get(&w, &c1, 1, &n), 0);
	cr_assert_eq(grove__commit_tree(g, &c1, &tree), 0);
	cr_assert(grove__oid_equal(&n->tree, &tree));
	/* unparsed nodes have no tree yet */
	grove__cwalk_dispose(&w);
	grove__cwalk_init(&w, g);
	cr_assert_eq(grove__cwalk_get(&w, &c1, 0, &n), 0);
	cr_assert(grove__oid_equal(&n->tree, &grove__oid_zero));
	grove__cwalk_dispose(&w);
	grove_close(g);
}
