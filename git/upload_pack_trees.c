/*
 * Tree reads for upload-pack enumeration, with a cache of recently
 * resolved object contents.  A history imported from a pack keeps git's
 * deltas: each tree is a delta against a newer version of itself, often
 * dozens deep.  Reading every tree through grove__read resolves its whole
 * chain from the start each time; the walk goes newest first, so the base
 * a tree needs was usually resolved moments ago and is found here.
 */
#include "upload_pack_internal.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "delta.h"
#include "error.h"
#include "object.h"
#include "oid.h"

#define SLOTS 4096               /* direct-mapped, power of two */
#define MAX_CACHED (1u << 20)    /* bigger contents are not kept */
#define MAX_DEPTH 64             /* deeper chains: grove__read resolves them */

typedef struct {
	grove_oid id;
	grove_otype type;
	char *data;
	size_t size;
} slot;

struct grove__up_trees {
	grove *g;
	slot *slots;
	size_t bytes, budget;
	struct libdeflate_decompressor *dd;
	void *scratch; /* inflated deltas */
	size_t scratch_cap;
};

int grove__up_trees_new(grove__up_trees **out, grove *g, size_t budget)
{
	grove__up_trees *t = grove__calloc(1, sizeof(*t));
	if (!t)
		return GROVE_ENOMEM;
	t->slots = grove__calloc(SLOTS, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return GROVE_ENOMEM;
	}
	t->g = g;
	t->budget = budget;
	*out = t;
	return 0;
}

void grove__up_trees_free(grove__up_trees *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		free(t->slots[i].data);
	free(t->slots);
	if (t->dd)
		libdeflate_free_decompressor(t->dd);
	free(t->scratch);
	free(t);
}

static slot *slot_for(grove__up_trees *t, const grove_oid *id)
{
	size_t h;
	memcpy(&h, id->id + 4, sizeof(h));
	return &t->slots[h & (SLOTS - 1)];
}

/* Keeps a copy of content (best effort: no room or no memory is fine). */
static void remember(grove__up_trees *t, const grove_oid *id, grove_otype type, const grove_buf *b)
{
	slot *s = slot_for(t, id);
	char *copy;
	if (b->size > MAX_CACHED)
		return;
	if (s->data) {
		t->bytes -= s->size;
		free(s->data);
		s->data = NULL;
	}
	if (t->bytes + b->size > t->budget || !(copy = malloc(b->size + 1)))
		return;
	memcpy(copy, b->data, b->size);
	copy[b->size] = '\0';
	s->id = *id;
	s->type = type;
	s->data = copy;
	s->size = b->size;
	t->bytes += b->size;
}

/* A stored delta inflated into the scratch buffer. */
static int inflate_delta(grove__up_trees *t, const grove__object *rec, size_t *len)
{
	if (!t->dd && !(t->dd = libdeflate_alloc_decompressor()))
		return grove__error_oom();
	for (;;) {
		size_t used = 0;
		enum libdeflate_result r = LIBDEFLATE_INSUFFICIENT_SPACE;
		if (t->scratch_cap)
			r = libdeflate_zlib_decompress_ex(t->dd, rec->data, rec->data_len, t->scratch,
				t->scratch_cap, &used, len);
		if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
			size_t cap = t->scratch_cap ? t->scratch_cap * 2 : 65536;
			void *n;
			if (cap > ((size_t)1 << 31))
				return grove__error_set(GROVE_EUNSUPPORTED, "stored delta too large");
			if (!(n = grove__realloc(t->scratch, cap)))
				return GROVE_ENOMEM;
			t->scratch = n;
			t->scratch_cap = cap;
			continue;
		}
		if (r != LIBDEFLATE_SUCCESS || used != rec->data_len)
			return grove__error_set(GROVE_ECORRUPT, "stored delta is damaged");
		return 0;
	}
}

/* Full content of id, resolving deltas through the cache. */
static int read_content(grove__up_trees *t, const grove_oid *id, unsigned depth, grove_otype *type,
	grove_buf *out)
{
	grove_backend *be = t->g->be;
	slot *s = slot_for(t, id);
	grove__object rec;
	grove_buf raw = { 0 }, base = { 0 };
	grove_otype base_type;
	size_t dlen = 0;
	char hex[GROVE_OID_HEXSZ + 1];
	int rc;

	if (s->data && grove__oid_equal(&s->id, id)) {
		if (!(out->data = grove__malloc(s->size + 1)))
			return GROVE_ENOMEM;
		memcpy(out->data, s->data, s->size + 1);
		out->size = s->size;
		*type = s->type;
		return 0;
	}
	if (!be->ops->read_raw || depth >= MAX_DEPTH)
		return be->ops->read(be, id, type, out);
	if ((rc = be->ops->read_raw(be, id, &rec, &raw)) < 0)
		return rc;
	if (rec.encoding != GROVE__ENC_DELTA) {
		rc = grove__object_decode(be, &rec, out);
		goto done;
	}
	if (grove__oid_equal(&rec.base, id)) {
		rc = grove__error_set(GROVE_ECORRUPT, "object %s is a delta against itself",
			grove_oid_tohex(hex, id));
		goto done;
	}
	if ((rc = read_content(t, &rec.base, depth + 1, &base_type, &base)) < 0) {
		if (rc == GROVE_ENOTFOUND)
			rc = GROVE_ECORRUPT;
		if (depth == 0)
			grove__error_wrap(rc, "delta base of %s", grove_oid_tohex(hex, id));
		goto done;
	}
	if (base_type != rec.type) {
		rc = grove__error_set(GROVE_ECORRUPT, "delta %s and its base differ in type",
			grove_oid_tohex(hex, id));
		goto done;
	}
	if ((rc = inflate_delta(t, &rec, &dlen)) < 0 ||
	    (rc = grove__delta_apply(base.data, base.size, t->scratch, dlen, out)) < 0)
		goto done;
	if (out->size != rec.size) {
		grove_buf_dispose(out);
		rc = grove__error_set(GROVE_ECORRUPT, "delta %s yields %zu bytes, record says %zu",
			grove_oid_tohex(hex, id), out->size, rec.size);
	}
done:
	if (rc == 0) {
		*type = rec.type;
		remember(t, id, rec.type, out);
	}
	grove_buf_dispose(&raw);
	grove_buf_dispose(&base);
	return rc;
}

int grove__up_trees_get(grove__up_trees *t, const grove_oid *id, grove__tree **out)
{
	grove_buf buf = { 0 };
	grove_otype type = GROVE_OBJ_BAD;
	char hex[GROVE_OID_HEXSZ + 1];
	int rc = read_content(t, id, 0, &type, &buf);
	if (rc < 0)
		return rc;
	if (type != GROVE_OBJ_TREE)
		rc = grove__error_set(GROVE_ECORRUPT, "object %s is a %s, expected a tree",
			grove_oid_tohex(hex, id), grove_otype_name(type));
	else if ((rc = grove__tree_parse(id, buf.data, buf.size, out)) < 0)
		grove__error_wrap(rc, "tree %s", grove_oid_tohex(hex, id));
	grove_buf_dispose(&buf);
	return rc;
}
