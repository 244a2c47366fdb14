/*
 * Indexing a received pack: validating every entry and resolving every
 * delta to learn each object's id, type and size, while keeping the pack's
 * own encoding for storage (no recompression).
 *
 * Pass 1 walks the entries in order: parses headers, inflates each zlib
 * stream once to find where it ends, and hashes whole objects.  Pass 2
 * resolves deltas depth-first from each base (children found through an
 * offset-indexed list for OFS_DELTA and a sorted base-id list for
 * REF_DELTA), so every base is inflated once and held only while its
 * descendants are being resolved.  Records are delivered only after the
 * whole pack has checked out, in the pack's order with bases before
 * deltas (see delivery_order).
 */
#include "pack.h"
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "object.h"
#include "oid.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DEFAULT_MAX_OBJECTS ((size_t)10000000)
#define DEFAULT_MAX_OBJECT_SIZE ((size_t)1 << 30)
#define DEFAULT_MAX_DEPTH 10000u
#define DEFAULT_MAX_PACK_SIZE (SIZE_MAX > 0xffffffffu ? (size_t)8 << 30 : (size_t)0xffffffffu)
#define DEFAULT_MAX_CHAIN_MEMORY (SIZE_MAX > 0xffffffffu ? (size_t)2 << 30 : (size_t)1 << 30)
#define DEFAULT_BATCH 1024
/* deflate cannot expand data more than about 1032:1; a declared size
 * beyond that for the bytes left is a lie, refused before allocating. */
#define MAX_DEFLATE_RATIO 1032

#define NONE SIZE_MAX

typedef struct {
	size_t offset;   /* entry start */
	size_t data_off; /* start of the zlib stream */
	size_t data_len; /* its compressed length */
	size_t inflated; /* size in the entry header (the delta's size for deltas) */
	size_t base;     /* OFS_DELTA: base entry index; REF_DELTA: index into refs */
	size_t parent;   /* deltas, once resolved: the base's entry, NONE if outside */
	size_t size;     /* full object size, once resolved */
	grove_oid id;    /* once resolved */
	unsigned depth;
	unsigned char kind;     /* GROVE__PACK_* */
	unsigned char type;     /* grove_otype, once resolved */
	unsigned char resolved;
} entry;

typedef struct {
	grove_oid base;
	size_t child;
} ref_child;

typedef struct {
	size_t idx;          /* entry index, or NONE for a thin-pack base */
	grove_oid id;
	grove_otype type;
	unsigned depth;
	grove_buf content;
	size_t next_ofs;     /* position in ofs_list */
	size_t next_ref, ref_end;
} frame;

typedef struct {
	const unsigned char *pack;
	size_t len, end; /* end: start of the trailer */
	grove__pack_index_opts o;
	grove__pack_index_stats st;

	entry *e;
	size_t n;
	ref_child *refs;
	size_t nrefs;
	size_t *ofs_start; /* n + 1 */
	size_t *ofs_list;
	size_t *order;     /* entries in resolution order */
	size_t norder;

	z_stream zs;
	int zs_ready;
	unsigned char *scratch;
	size_t scratch_cap;

	frame *stack;
	size_t sp, stack_cap;
	size_t held; /* bytes of base content on the stack */
} ctx;

static int scratch_reserve(ctx *c, size_t n)
{
	unsigned char *p;
	if (n <= c->scratch_cap)
		return 0;
	p = grove__realloc(c->scratch, n);
	if (!p)
		return GROVE_ENOMEM;
	c->scratch = p;
	c->scratch_cap = n;
	return 0;
}

/* Inflates the stream at pos, which must produce exactly `expected` bytes,
 * into c->scratch; *consumed gets its compressed length. */
static int inflate_entry(ctx *c, size_t offset, size_t pos, size_t expected, size_t *consumed)
{
	size_t avail = c->end - pos;
	int zr, rc;

	if ((rc = scratch_reserve(c, expected + 1)) < 0)
		return rc;
	if (!c->zs_ready) {
		if (inflateInit(&c->zs) != Z_OK)
			return grove__error_oom();
		c->zs_ready = 1;
	} else if (inflateReset(&c->zs) != Z_OK) {
		return grove__error_set(GROVE_ERROR, "zlib reset failed");
	}
	c->zs.next_in = (unsigned char *)c->pack + pos;
	c->zs.avail_in = avail > UINT_MAX ? UINT_MAX : (unsigned)avail;
	c->zs.next_out = c->scratch;
	/* One spare byte shows a stream that inflates too long. */
	c->zs.avail_out = (unsigned)expected + 1;
	zr = inflate(&c->zs, Z_FINISH);
	if (zr != Z_STREAM_END || c->zs.total_out != expected) {
		if (zr == Z_BUF_ERROR && c->zs.avail_in == 0)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: compressed data truncated", offset);
		return grove__error_set(GROVE_ECORRUPT,
			"pack entry at offset %zu: damaged compressed data (%s, %lu of %zu bytes)",
			offset, c->zs.msg ? c->zs.msg : "wrong size", c->zs.total_out, expected);
	}
	*consumed = c->zs.total_in;
	return 0;
}

static int object_done(ctx *c, size_t i, grove_otype type, const void *data, size_t size)
{
	entry *e = &c->e[i];
	int rc;

	if (c->o.strict && (rc = grove__object_check(type, data, size)) < 0)
		return grove__error_wrap(GROVE_ECORRUPT, "pack entry at offset %zu", e->offset);
	if ((rc = grove__object_hash(type, data, size, &e->id)) < 0)
		return rc;
	e->type = (unsigned char)type;
	e->size = size;
	e->resolved = 1;
	c->order[c->norder++] = i;
	return 0;
}

static int find_entry(const ctx *c, size_t before, size_t offset, size_t *out)
{
	size_t lo = 0, hi = before;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->e[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < before && c->e[lo].offset == offset) {
		*out = lo;
		return 0;
	}
	return -1;
}

/* Pass 1: one entry at *pos. */
static int parse_entry(ctx *c, size_t i, size_t *pos)
{
	const unsigned char *p = c->pack;
	size_t off = *pos, at = *pos, consumed = 0;
	entry *e = &c->e[i];
	uint64_t size;
	unsigned shift = 4;
	unsigned char b;
	int rc;

	if (at >= c->end)
		return grove__error_set(GROVE_ECORRUPT,
			"pack truncated: entry %zu of %zu at offset %zu is missing", i + 1, c->n, off);
	b = p[at++];
	e->offset = off;
	e->kind = (b >> 4) & 7;
	size = b & 15;
	while (b & 0x80) {
		if (at >= c->end)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: header truncated", off);
		b = p[at++];
		if (shift > 63 || (shift > 0 && ((uint64_t)(b & 0x7f) >> (64 - shift)) != 0))
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: size overflows", off);
		size |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	}
	switch (e->kind) {
	case GROVE__PACK_COMMIT: case GROVE__PACK_TREE: case GROVE__PACK_BLOB: case GROVE__PACK_TAG:
	case GROVE__PACK_OFS_DELTA: case GROVE__PACK_REF_DELTA:
		break;
	default:
		return grove__error_set(GROVE_ECORRUPT, "pack entry at offset %zu: invalid type %u",
			off, e->kind);
	}
	if (size > c->o.max_object_size)
		return grove__error_set(GROVE_EINVALID,
			"pack entry at offset %zu declares %llu bytes, over the limit of %zu", off,
			(unsigned long long)size, c->o.max_object_size);

	if (e->kind == GROVE__PACK_OFS_DELTA) {
		size_t rel, base_off;
		if (at >= c->end)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: delta offset truncated", off);
		b = p[at++];
		rel = b & 0x7f;
		while (b & 0x80) {
			if (at >= c->end)
				return grove__error_set(GROVE_ECORRUPT,
					"pack entry at offset %zu: delta offset truncated", off);
			if (rel >= (SIZE_MAX >> 7) - 1)
				return grove__error_set(GROVE_ECORRUPT,
					"pack entry at offset %zu: delta offset overflows", off);
			b = p[at++];
			rel = ((rel + 1) << 7) | (b & 0x7f);
		}
		if (rel == 0 || rel > off)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: OFS_DELTA base offset -%zu is out of range", off, rel);
		base_off = off - rel;
		if (find_entry(c, i, base_off, &e->base) < 0)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: OFS_DELTA base offset %zu is not an entry start",
				off, base_off);
	} else if (e->kind == GROVE__PACK_REF_DELTA) {
		if (c->end - at < GROVE_OID_RAWSZ)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: delta base id truncated", off);
		e->base = c->nrefs;
		memcpy(c->refs[c->nrefs].base.id, p + at, GROVE_OID_RAWSZ);
		c->refs[c->nrefs].child = i;
		c->nrefs++;
		at += GROVE_OID_RAWSZ;
	}

	/* deflate's ratio bounds what the remaining bytes can inflate to. */
	if ((size - 64) / MAX_DEFLATE_RATIO > c->end - at && size > 64)
		return grove__error_set(GROVE_ECORRUPT,
			"pack entry at offset %zu declares %llu bytes, more than its data can hold", off,
			(unsigned long long)size);
	e->inflated = (size_t)size;
	e->data_off = at;
	if ((rc = inflate_entry(c, off, at, e->inflated, &consumed)) < 0)
		return rc;
	e->data_len = consumed;
	*pos = at + consumed;

	if (e->kind <= GROVE__PACK_TAG)
		return object_done(c, i, (grove_otype)e->kind, c->scratch, e->inflated);

	/* A delta: check its declared result now, before anyone allocates. */
	c->st.delta_count++;
	{
		size_t bsize, rsize;
		if ((rc = grove__delta_header(c->scratch, e->inflated, &bsize, &rsize)) < 0)
			return grove__error_wrap(rc, "pack entry at offset %zu", off);
		if (rsize > c->o.max_object_size)
			return grove__error_set(GROVE_EINVALID,
				"pack entry at offset %zu: delta result of %zu bytes is over the limit of %zu",
				off, rsize, c->o.max_object_size);
	}
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	const ref_child *x = a, *y = b;
	int r = memcmp(x->base.id, y->base.id, GROVE_OID_RAWSZ);
	if (r)
		return r;
	return x->child < y->child ? -1 : x->child > y->child;
}

/* First index in refs whose base is >= id. */
static size_t refs_lower(const ctx *c, const grove_oid *id)
{
	size_t lo = 0, hi = c->nrefs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(c->refs[mid].base.id, id->id, GROVE_OID_RAWSZ) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int build_children(ctx *c)
{
	size_t i;

	qsort(c->refs, c->nrefs, sizeof(*c->refs), cmp_ref);
	for (i = 0; i < c->nrefs; i++)
		c->e[c->refs[i].child].base = i;

	c->ofs_start = grove__calloc(c->n + 1, sizeof(size_t));
	if (!c->ofs_start)
		return GROVE_ENOMEM;
	for (i = 0; i < c->n; i++)
		if (c->e[i].kind == GROVE__PACK_OFS_DELTA)
			c->ofs_start[c->e[i].base + 1]++;
	for (i = 0; i < c->n; i++)
		c->ofs_start[i + 1] += c->ofs_start[i];
	c->ofs_list = grove__malloc((c->ofs_start[c->n] + 1) * sizeof(size_t));
	if (!c->ofs_list)
		return GROVE_ENOMEM;
	{
		size_t *fill = grove__malloc((c->n + 1) * sizeof(size_t));
		if (!fill)
			return GROVE_ENOMEM;
		memcpy(fill, c->ofs_start, (c->n + 1) * sizeof(size_t));
		/* Children in pack order, as they are discovered in pass 1. */
		for (i = 0; i < c->n; i++)
			if (c->e[i].kind == GROVE__PACK_OFS_DELTA)
				c->ofs_list[fill[c->e[i].base]++] = i;
		free(fill);
	}
	return 0;
}

static int push_frame(ctx *c, size_t idx, const grove_oid *id, grove_otype type, unsigned depth,
	grove_buf *content)
{
	frame *f;
	size_t lo;

	if (c->held + content->size > c->o.max_chain_memory) {
		grove_buf_dispose(content);
		return grove__error_set(GROVE_EINVALID,
			"resolving deltas needs more than %zu bytes of bases at once", c->o.max_chain_memory);
	}
	if (c->sp == c->stack_cap) {
		size_t cap = c->stack_cap ? c->stack_cap * 2 : 16;
		frame *s = grove__realloc(c->stack, cap * sizeof(*s));
		if (!s) {
			grove_buf_dispose(content);
			return GROVE_ENOMEM;
		}
		c->stack = s;
		c->stack_cap = cap;
	}
	f = &c->stack[c->sp++];
	f->idx = idx;
	f->id = *id;
	f->type = type;
	f->depth = depth;
	f->content = *content;
	content->data = NULL;
	content->size = 0;
	c->held += f->content.size;
	f->next_ofs = idx == NONE ? 0 : c->ofs_start[idx];
	lo = refs_lower(c, id);
	f->next_ref = lo;
	while (lo < c->nrefs && grove__oid_equal(&c->refs[lo].base, id))
		lo++;
	f->ref_end = lo;
	return 0;
}

static void pop_frame(ctx *c)
{
	frame *f = &c->stack[--c->sp];
	c->held -= f->content.size;
	grove_buf_dispose(&f->content);
}

static int has_children(const ctx *c, size_t idx)
{
	size_t lo;
	if (c->ofs_start[idx + 1] > c->ofs_start[idx])
		return 1;
	lo = refs_lower(c, &c->e[idx].id);
	return lo < c->nrefs && grove__oid_equal(&c->refs[lo].base, &c->e[idx].id);
}

/* Resolves everything below the frame on top of the stack. */
static int resolve_from_stack(ctx *c)
{
	while (c->sp) {
		frame *f = &c->stack[c->sp - 1];
		size_t child = NONE;
		grove_buf delta = { 0 }, result = { 0 };
		entry *e;
		int rc;

		if (f->idx != NONE && f->next_ofs < c->ofs_start[f->idx + 1])
			child = c->ofs_list[f->next_ofs++];
		else
			while (f->next_ref < f->ref_end) {
				size_t k = c->refs[f->next_ref++].child;
				/* A duplicate base object in the pack reaches the
				 * same REF children twice. */
				if (!c->e[k].resolved) {
					child = k;
					break;
				}
			}
		if (child == NONE) {
			pop_frame(c);
			continue;
		}
		e = &c->e[child];
		if (f->depth + 1 > c->o.max_delta_depth)
			return grove__error_set(GROVE_EINVALID,
				"pack entry at offset %zu: delta chain longer than %u", e->offset,
				c->o.max_delta_depth);
		if ((rc = grove__zlib_inflate(c->pack + e->data_off, e->data_len, e->inflated, &delta)) < 0)
			return grove__error_wrap(rc, "pack entry at offset %zu", e->offset);
		rc = grove__delta_apply_limit(f->content.data, f->content.size, delta.data, delta.size,
			c->o.max_object_size, &result);
		grove_buf_dispose(&delta);
		if (rc < 0)
			return grove__error_wrap(rc, "pack entry at offset %zu", e->offset);
		e->depth = f->depth + 1;
		e->parent = f->idx;
		if (e->depth > c->st.max_depth)
			c->st.max_depth = e->depth;
		/* f may move when the stack grows: copy what we need first. */
		if ((rc = object_done(c, child, f->type, result.data, result.size)) < 0) {
			grove_buf_dispose(&result);
			return rc;
		}
		if (has_children(c, child)) {
			if ((rc = push_frame(c, child, &e->id, (grove_otype)e->type, e->depth, &result)) < 0)
				return rc;
		} else {
			grove_buf_dispose(&result);
		}
	}
	return 0;
}

static int resolve_all(ctx *c)
{
	size_t i, k;
	int rc;

	for (i = 0; i < c->n; i++) {
		entry *e = &c->e[i];
		grove_buf content = { 0 };
		if (e->kind > GROVE__PACK_TAG || !has_children(c, i))
			continue;
		if ((rc = grove__zlib_inflate(c->pack + e->data_off, e->data_len, e->inflated,
				&content)) < 0)
			return grove__error_wrap(rc, "pack entry at offset %zu", e->offset);
		if ((rc = push_frame(c, i, &e->id, (grove_otype)e->type, 0, &content)) < 0 ||
		    (rc = resolve_from_stack(c)) < 0)
			return rc;
	}

	/* What is left hangs off bases outside the pack (a thin pack). */
	for (k = 0; k < c->nrefs; k++) {
		grove_buf content = { 0 };
		grove_otype type = GROVE_OBJ_BAD;
		const ref_child *r = &c->refs[k];
		char hex[GROVE_OID_HEXSZ + 1];

		if (c->e[r->child].resolved)
			continue;
		if (k > 0 && grove__oid_equal(&c->refs[k - 1].base, &r->base) &&
		    c->e[c->refs[k - 1].child].resolved)
			continue; /* already looked up: the group resolved */
		/* A base that is not found may still be in the pack as a delta
		 * against a later external base; its children are then resolved
		 * with it.  Whatever stays unresolved is reported below. */
		if (!c->o.lookup_base)
			continue;
		rc = c->o.lookup_base(c->o.lookup_payload, &r->base, &type, &content);
		if (rc == GROVE_ENOTFOUND)
			continue;
		grove_oid_tohex(hex, &r->base);
		if (rc < 0)
			return grove__error_wrap(rc, "pack entry at offset %zu: looking up base %s",
				c->e[r->child].offset, hex);
		if (type < GROVE_OBJ_COMMIT || type > GROVE_OBJ_TAG) {
			grove_buf_dispose(&content);
			return grove__error_set(GROVE_EINVALID, "thin-pack base %s has no valid type", hex);
		}
		c->st.thin_bases++;
		if ((rc = push_frame(c, NONE, &r->base, type, 0, &content)) < 0 ||
		    (rc = resolve_from_stack(c)) < 0)
			return rc;
	}

	for (i = 0; i < c->n; i++) {
		const entry *e = &c->e[i];
		char hex[GROVE_OID_HEXSZ + 1];
		if (e->resolved)
			continue;
		if (e->kind == GROVE__PACK_REF_DELTA)
			return grove__error_set(GROVE_EINVALID,
				"pack entry at offset %zu: delta base %s is %s", e->offset,
				grove_oid_tohex(hex, &c->refs[e->base].base),
				c->o.lookup_base ? "missing" : "not in the pack (thin packs not allowed)");
		/* An OFS_DELTA hanging off an unresolved REF_DELTA: report that. */
	}
	for (i = 0; i < c->n; i++)
		if (!c->e[i].resolved)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: delta base never resolves", c->e[i].offset);
	return 0;
}

/*
 * The order records are delivered in: the pack's own, except that a delta
 * never precedes its base.  Why the pack's: a store that appends records
 * as delivered (lmdb segments) then keeps git's layout, which writes the
 * newest objects first and each delta family together, so what one
 * request reads (a shallow clone's tip tree, a fetch's recent history)
 * lies in few pages, as in git's own pack.  Resolution order instead put
 * every whole object first and each delta far away, beside its family.
 * An entry whose base is not delivered yet (a REF_DELTA against a later
 * entry, or a delta below such an entry) waits; the waiting ones follow in
 * resolution order, which has every base before its deltas.
 */
static int delivery_order(ctx *c)
{
	unsigned char *done = grove__calloc(c->n ? c->n : 1, 1);
	size_t *order = grove__malloc((c->n ? c->n : 1) * sizeof(*order));
	size_t i, k = 0, waiting = 0;

	if (!done || !order) {
		free(done);
		free(order);
		return GROVE_ENOMEM;
	}
	for (i = 0; i < c->n; i++) {
		const entry *e = &c->e[i];
		int delta = e->kind == GROVE__PACK_OFS_DELTA || e->kind == GROVE__PACK_REF_DELTA;
		if (!delta || e->parent == NONE || done[e->parent]) {
			order[k++] = i;
			done[i] = 1;
		} else {
			waiting++;
		}
	}
	for (i = 0; waiting && i < c->norder; i++)
		if (!done[c->order[i]]) {
			order[k++] = c->order[i];
			done[c->order[i]] = 1;
			waiting--;
		}
	free(done);
	free(c->order);
	c->order = order;
	c->norder = k;
	return 0;
}

static int deliver(ctx *c)
{
	grove__object *batch;
	size_t bn = 0, i;
	int rc = 0;

	if (!c->o.deliver)
		return 0;
	batch = grove__malloc(c->o.batch_size * sizeof(*batch));
	if (!batch)
		return GROVE_ENOMEM;
	for (i = 0; i < c->norder; i++) {
		const entry *e = &c->e[c->order[i]];
		grove__object *r = &batch[bn++];
		memset(r, 0, sizeof(*r));
		r->id = e->id;
		r->type = (grove_otype)e->type;
		r->size = e->size;
		r->data = c->pack + e->data_off;
		r->data_len = e->data_len;
		r->data_size = e->inflated; /* checked against the stream */
		if (e->kind == GROVE__PACK_OFS_DELTA) {
			r->encoding = GROVE__ENC_DELTA;
			r->base = c->e[e->base].id;
		} else if (e->kind == GROVE__PACK_REF_DELTA) {
			r->encoding = GROVE__ENC_DELTA;
			r->base = c->refs[e->base].base;
		} else {
			r->encoding = GROVE__ENC_ZLIB;
		}
		if (bn == c->o.batch_size || i + 1 == c->norder) {
			if ((rc = c->o.deliver(c->o.deliver_payload, batch, bn)) != 0)
				break;
			bn = 0;
		}
	}
	free(batch);
	return rc;
}

static void fill_defaults(grove__pack_index_opts *o, const grove__pack_index_opts *given)
{
	if (given)
		*o = *given;
	else
		memset(o, 0, sizeof(*o));
	if (!o->max_objects)
		o->max_objects = DEFAULT_MAX_OBJECTS;
	if (!o->max_object_size)
		o->max_object_size = DEFAULT_MAX_OBJECT_SIZE;
	/* zlib's counters are 32-bit and we need one spare byte. */
	if (o->max_object_size > (size_t)UINT_MAX - 1)
		o->max_object_size = (size_t)UINT_MAX - 1;
	if (!o->max_delta_depth)
		o->max_delta_depth = DEFAULT_MAX_DEPTH;
	if (!o->max_pack_size)
		o->max_pack_size = DEFAULT_MAX_PACK_SIZE;
	if (!o->max_chain_memory)
		o->max_chain_memory = DEFAULT_MAX_CHAIN_MEMORY;
	if (!o->batch_size)
		o->batch_size = DEFAULT_BATCH;
}

static int check_header(ctx *c)
{
	const unsigned char *p = c->pack;
	unsigned char sum[GROVE__PACK_TRAILER_LEN];
	uint32_t version, count;
	int rc;

	if (c->len > c->o.max_pack_size)
		return grove__error_set(GROVE_EINVALID, "pack of %zu bytes is over the limit of %zu",
			c->len, c->o.max_pack_size);
	if (c->len < GROVE__PACK_HEADER_LEN + GROVE__PACK_TRAILER_LEN)
		return grove__error_set(GROVE_ECORRUPT, "pack truncated (%zu bytes)", c->len);
	if (memcmp(p, "PACK", 4) != 0)
		return grove__error_set(GROVE_ECORRUPT, "not a pack: bad signature");
	version = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	count = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	if (version != 2 && version != 3)
		return grove__error_set(GROVE_ECORRUPT, "unsupported pack version %u", version);
	if (count > c->o.max_objects)
		return grove__error_set(GROVE_EINVALID, "pack holds %u objects, over the limit of %zu",
			count, c->o.max_objects);
	c->end = c->len - GROVE__PACK_TRAILER_LEN;
	/* The smallest entry is a header byte and an 8-byte zlib stream. */
	if (count > (c->end - GROVE__PACK_HEADER_LEN) / 9 + 1)
		return grove__error_set(GROVE_ECORRUPT,
			"pack claims %u objects but has only %zu bytes", count, c->len);
	if ((rc = grove__sha1(p, c->end, sum)) < 0)
		return rc;
	if (memcmp(sum, p + c->end, GROVE__PACK_TRAILER_LEN) != 0)
		return grove__error_set(GROVE_ECORRUPT, "pack checksum mismatch");
	memcpy(c->st.checksum, sum, sizeof(sum));
	c->n = count;
	return 0;
}

static int index_pack(ctx *c)
{
	size_t pos = GROVE__PACK_HEADER_LEN, i;
	int rc;

	if ((rc = check_header(c)) < 0)
		return rc;
	c->st.object_count = c->n;
	c->e = grove__calloc(c->n ? c->n : 1, sizeof(*c->e));
	c->refs = grove__calloc(c->n ? c->n : 1, sizeof(*c->refs));
	c->order = grove__calloc(c->n ? c->n : 1, sizeof(*c->order));
	if (!c->e || !c->refs || !c->order)
		return GROVE_ENOMEM;
	for (i = 0; i < c->n; i++)
		if ((rc = parse_entry(c, i, &pos)) < 0)
			return rc;
	if (pos != c->end)
		return grove__error_set(GROVE_ECORRUPT,
			"pack has %zu bytes of garbage after its %zu objects", c->end - pos, c->n);
	/* The scratch buffer held the largest object; give it back. */
	free(c->scratch);
	c->scratch = NULL;
	c->scratch_cap = 0;
	if ((rc = build_children(c)) < 0 || (rc = resolve_all(c)) < 0 ||
	    (c->o.deliver && (rc = delivery_order(c)) < 0))
		return rc;
	return deliver(c);
}

int grove__pack_index(const void *pack, size_t len, const grove__pack_index_opts *opts,
	grove__pack_index_stats *stats)
{
	ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.pack = pack;
	c.len = len;
	fill_defaults(&c.o, opts);
	rc = index_pack(&c);
	if (rc == 0 && stats)
		*stats = c.st;
	while (c.sp)
		pop_frame(&c);
	free(c.stack);
	if (c.zs_ready)
		inflateEnd(&c.zs);
	free(c.scratch);
	free(c.e);
	free(c.refs);
	free(c.order);
	free(c.ofs_start);
	free(c.ofs_list);
	return rc;
}

/* ------------------------------------------------------------------ */

struct grove__pack_indexer {
	grove__pack_index_opts opts;
	unsigned char *data;
	size_t len, cap;
};

int grove__pack_indexer_new(grove__pack_indexer **out, const grove__pack_index_opts *opts)
{
	grove__pack_indexer *ix = grove__calloc(1, sizeof(*ix));
	if (!ix)
		return GROVE_ENOMEM;
	fill_defaults(&ix->opts, opts);
	*out = ix;
	return 0;
}

int grove__pack_indexer_append(grove__pack_indexer *ix, const void *data, size_t len)
{
	if (len > ix->opts.max_pack_size - ix->len)
		return grove__error_set(GROVE_EINVALID, "pack is over the limit of %zu bytes",
			ix->opts.max_pack_size);
	if (len > ix->cap - ix->len) {
		size_t cap = ix->cap ? ix->cap : 65536;
		unsigned char *p;
		while (cap - ix->len < len)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		p = grove__realloc(ix->data, cap);
		if (!p)
			return GROVE_ENOMEM;
		ix->data = p;
		ix->cap = cap;
	}
	if (len)
		memcpy(ix->data + ix->len, data, len);
	ix->len += len;
	return 0;
}

int grove__pack_indexer_finish(grove__pack_indexer *ix, grove__pack_index_stats *stats)
{
	return grove__pack_index(ix->data, ix->len, &ix->opts, stats);
}

void grove__pack_indexer_free(grove__pack_indexer *ix)
{
	if (!ix)
		return;
	free(ix->data);
	free(ix);
}
