/*
 * The peeled-ref cache of the LMDB backend.  A refs DB value is the ref's
 * 20-byte id, then optionally what that id peels to, worked out when the
 * ref is written:
 *
 *   id                      (20 bytes)  not known: readers peel by reading
 *   id 0x00                 (21 bytes)  id is not an annotated tag
 *   id 0x01 peeled-id       (41 bytes)  id is an annotated tag leading to peeled-id
 *
 * Why: an upload-pack advertisement peels every ref; without the cache it
 * reads the header of every ref's target and every tag (7,007 refs in
 * libgit2's history), touching object pages all over the map, where git
 * keeps peeled ids in packed-refs.  Objects never change, so the peel of an
 * id computed once stays true.
 */
#include "lmdb_internal.h"
#include "compress.h"
#include "error.h"
#include "object.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TAG_CHAIN 64

size_t grove__lmdb_ref_encode(unsigned char *buf, const grove_oid *id, int state,
	const grove_oid *peeled)
{
	memcpy(buf, id->id, GROVE_OID_RAWSZ);
	if (state == GROVE__LMDB_PEEL_UNKNOWN)
		return GROVE_OID_RAWSZ;
	if (state == GROVE__LMDB_PEEL_NONE) {
		buf[GROVE_OID_RAWSZ] = 0;
		return GROVE_OID_RAWSZ + 1;
	}
	buf[GROVE_OID_RAWSZ] = 1;
	memcpy(buf + GROVE_OID_RAWSZ + 1, peeled->id, GROVE_OID_RAWSZ);
	return GROVE__LMDB_REF_MAX;
}

const char *grove__lmdb_ref_parse(const void *val, size_t len, grove_oid *id, int *state,
	grove_oid *peeled)
{
	const unsigned char *p = val;

	if (len != GROVE_OID_RAWSZ && len != GROVE_OID_RAWSZ + 1 && len != GROVE__LMDB_REF_MAX)
		return "wrong length";
	memcpy(id->id, p, GROVE_OID_RAWSZ);
	if (len == GROVE_OID_RAWSZ) {
		*state = GROVE__LMDB_PEEL_UNKNOWN;
		return NULL;
	}
	if (len == GROVE_OID_RAWSZ + 1) {
		if (p[GROVE_OID_RAWSZ] != 0)
			return "bad peel marker";
		*state = GROVE__LMDB_PEEL_NONE;
		return NULL;
	}
	if (p[GROVE_OID_RAWSZ] != 1)
		return "bad peel marker";
	*state = GROVE__LMDB_PEEL_TAG;
	if (peeled)
		memcpy(peeled->id, p + GROVE_OID_RAWSZ + 1, GROVE_OID_RAWSZ);
	return NULL;
}

/* --- working out the peel of ref targets at write time ------------------ */

typedef struct {
	grove_backend *be;
	const grove__write_set *ws;
	size_t *order; /* indices of ws->objects sorted by id; NULL if none */
} peel_ctx;

static int cmp_index(const void *a, const void *b, void *arg)
{
	const grove__write_set *ws = arg;
	return memcmp(ws->objects[*(const size_t *)a].id.id, ws->objects[*(const size_t *)b].id.id,
		GROVE_OID_RAWSZ);
}

static const grove__object *find_in_set(const peel_ctx *c, const grove_oid *id)
{
	size_t lo = 0, hi = c->order ? c->ws->object_count : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const grove__object *o = &c->ws->objects[c->order[mid]];
		int d = memcmp(id->id, o->id.id, GROVE_OID_RAWSZ);
		if (d == 0)
			return o;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The object's type, and its content when it is a tag (*content filled). */
static int type_and_tag(const peel_ctx *c, const grove_oid *id, grove_otype *type, grove_buf *content)
{
	const grove__object *o = find_in_set(c, id);
	size_t size;
	int rc;

	if (!o) {
		if ((rc = c->be->ops->read_header(c->be, id, type, &size)) < 0)
			return rc;
		if (*type != GROVE_OBJ_TAG)
			return 0;
		return c->be->ops->read(c->be, id, type, content);
	}
	*type = o->type;
	if (o->type != GROVE_OBJ_TAG)
		return 0;
	switch (o->encoding) {
	case GROVE__ENC_PLAIN:
		if (!(content->data = grove__malloc(o->data_len + 1)))
			return GROVE_ENOMEM;
		memcpy(content->data, o->data, o->data_len);
		content->size = o->data_len;
		return 0;
	case GROVE__ENC_ZLIB:
		return grove__zlib_inflate(o->data, o->data_len, o->size, content);
	default:
		/* Its base may be in this very set, not yet readable: say unknown. */
		return grove__object_decode(c->be, o, content);
	}
}

/* GROVE__LMDB_PEEL_*, or GROVE_ENOMEM; other failures make it unknown. */
static int peel_one(const peel_ctx *c, const grove_oid *id, grove_oid *peeled)
{
	grove_oid cur = *id;

	for (int depth = 0; depth < MAX_TAG_CHAIN; depth++) {
		grove_buf content = { 0 };
		grove_otype type = GROVE_OBJ_BAD;
		grove__tag tag;
		int rc = type_and_tag(c, &cur, &type, &content);
		if (rc == 0 && type != GROVE_OBJ_TAG) {
			grove_buf_dispose(&content);
			*peeled = cur;
			return depth ? GROVE__LMDB_PEEL_TAG : GROVE__LMDB_PEEL_NONE;
		}
		if (rc == 0)
			rc = grove__tag_parse(content.data, content.size, &tag);
		grove_buf_dispose(&content);
		if (rc == GROVE_ENOMEM)
			return rc;
		if (rc < 0) {
			grove_error_clear();
			return GROVE__LMDB_PEEL_UNKNOWN;
		}
		cur = tag.target;
		grove__tag_dispose(&tag);
	}
	return GROVE__LMDB_PEEL_UNKNOWN;
}

int grove__lmdb_peel_refs(grove_backend *be, const grove__write_set *ws, unsigned char *states,
	grove_oid *peeled)
{
	peel_ctx c = { be, ws, NULL };
	int rc = 0;

	if (ws->object_count) {
		if (!(c.order = grove__malloc(ws->object_count * sizeof(*c.order))))
			return GROVE_ENOMEM;
		for (size_t i = 0; i < ws->object_count; i++)
			c.order[i] = i;
		qsort_r(c.order, ws->object_count, sizeof(*c.order), cmp_index, (void *)ws);
	}
	for (size_t i = 0; i < ws->ref_count; i++) {
		states[i] = GROVE__LMDB_PEEL_UNKNOWN;
		if (grove_oid_is_zero(&ws->refs[i].new_id))
			continue;
		if ((rc = peel_one(&c, &ws->refs[i].new_id, &peeled[i])) < 0)
			break;
		states[i] = (unsigned char)rc;
		rc = 0;
	}
	free(c.order);
	return rc;
}
