/*
 * Writing a pack from a backend, streaming.  Stored encodings are reused:
 * zlib records are copied verbatim and stored deltas are sent as OFS_DELTA
 * (base already in this pack) or REF_DELTA (thin pack, receiver has the
 * base); only a delta whose base is unavailable is inflated and sent whole.
 */
#include "pack.h"
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "oid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OUT_CHUNK 65536
#define NONE SIZE_MAX

enum { UNSEEN = 0, IN_PROGRESS = 1, WRITTEN = 2 };

typedef struct {
	grove_oid id;
	size_t pos;      /* position in the caller's list (first occurrence) */
	size_t base;     /* index of the delta base in this set, or NONE */
	size_t offset;   /* pack offset once written */
	grove_oid base_id;
	unsigned char enc;
	unsigned char state;
} item;

typedef struct {
	grove_backend *be;
	grove__pack_write_opts o;
	grove__pack_write_stats st;
	grove__hasher *h;
	item *items; /* sorted by id */
	size_t n;
	unsigned char *out;
	size_t out_len;
	size_t offset; /* bytes of pack produced so far */
} wctx;

static int flush_out(wctx *w)
{
	int rc;
	if (!w->out_len)
		return 0;
	rc = w->o.write(w->o.write_payload, w->out, w->out_len);
	w->out_len = 0;
	if (rc != 0)
		return rc < 0 ? rc : grove__error_set(GROVE_ERROR, "pack writer callback stopped (%d)", rc);
	return 0;
}

/* Appends pack bytes; hash_it is 0 only for the trailer itself. */
static int emit(wctx *w, const void *data, size_t len, int hash_it)
{
	int rc;
	if (hash_it && (rc = grove__hasher_update(w->h, data, len)) < 0)
		return rc;
	w->offset += len;
	if (len > OUT_CHUNK - w->out_len) {
		if ((rc = flush_out(w)) < 0)
			return rc;
		if (len >= OUT_CHUNK) {
			rc = w->o.write(w->o.write_payload, data, len);
			if (rc != 0)
				return rc < 0 ? rc : grove__error_set(GROVE_ERROR,
					"pack writer callback stopped (%d)", rc);
			return 0;
		}
	}
	memcpy(w->out + w->out_len, data, len);
	w->out_len += len;
	return 0;
}

static int emit_header(wctx *w, int kind, size_t size)
{
	unsigned char hdr[16];
	size_t n = 0;
	unsigned char c = (unsigned char)((kind << 4) | (size & 15));
	size >>= 4;
	while (size) {
		hdr[n++] = c | 0x80;
		c = size & 0x7f;
		size >>= 7;
	}
	hdr[n++] = c;
	return emit(w, hdr, n, 1);
}

/* OFS_DELTA distance: big-endian 7-bit groups, each continuation adding 1. */
static int emit_ofs(wctx *w, size_t rel)
{
	unsigned char tmp[16];
	size_t i = sizeof(tmp) - 1;
	tmp[i] = rel & 0x7f;
	while (rel >>= 7) {
		rel--;
		tmp[--i] = 0x80 | (rel & 0x7f);
	}
	return emit(w, tmp + i, sizeof(tmp) - i, 1);
}

static int cmp_item(const void *a, const void *b)
{
	return memcmp(((const item *)a)->id.id, ((const item *)b)->id.id, GROVE_OID_RAWSZ);
}

static size_t find_item(const wctx *w, const grove_oid *id)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = memcmp(w->items[mid].id.id, id->id, GROVE_OID_RAWSZ);
		if (r == 0)
			return mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

static int not_found(int rc, const grove_oid *id)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid_tohex(hex, id);
	if (rc == GROVE_ENOTFOUND)
		return grove__error_set(GROVE_ENOTFOUND, "object %s not found for the pack", hex);
	return grove__error_wrap(rc, "reading %s for the pack", hex);
}

/* Compresses content and writes it as a whole object. */
static int write_whole(wctx *w, grove_otype type, const void *data, size_t size)
{
	grove_buf z = { 0 };
	int rc;
	if ((rc = grove__zlib_compress(data, size, w->o.compression_level, &z)) < 0)
		return rc;
	if ((rc = emit_header(w, (int)type, size)) == 0)
		rc = emit(w, z.data, z.size, 1);
	grove_buf_dispose(&z);
	return rc;
}

static int write_inflated(wctx *w, const item *it)
{
	grove_buf content = { 0 };
	grove_otype type = GROVE_OBJ_BAD;
	int rc = w->be->ops->read(w->be, &it->id, &type, &content);
	if (rc < 0)
		return not_found(rc, &it->id);
	rc = write_whole(w, type, content.data, content.size);
	grove_buf_dispose(&content);
	w->st.inflated++;
	return rc;
}

static int write_item(wctx *w, size_t i)
{
	item *it = &w->items[i];
	grove__object rec;
	grove_buf raw = { 0 }, delta = { 0 };
	int rc;

	it->offset = w->offset;
	if (!w->be->ops->read_raw) {
		rc = write_inflated(w, it);
		w->st.inflated--; /* nothing was a delta */
		goto done;
	}
	if ((rc = w->be->ops->read_raw(w->be, &it->id, &rec, &raw)) < 0) {
		rc = not_found(rc, &it->id);
		goto done;
	}
	switch (rec.encoding) {
	case GROVE__ENC_PLAIN:
		rc = write_whole(w, rec.type, rec.data, rec.data_len);
		break;
	case GROVE__ENC_ZLIB:
		if ((rc = emit_header(w, (int)rec.type, rec.size)) == 0)
			rc = emit(w, rec.data, rec.data_len, 1);
		w->st.reused_zlib++;
		break;
	case GROVE__ENC_DELTA: {
		size_t b = find_item(w, &rec.base);
		int ofs = b != NONE && w->items[b].state == WRITTEN;
		int ref = !ofs && w->o.allow_thin && w->o.client_has &&
			w->o.client_has(w->o.client_payload, &rec.base) == 1;
		if (!ofs && !ref) {
			rc = write_inflated(w, it);
			break;
		}
		/* The entry header needs the delta's inflated size. */
		if ((rc = grove__delta_inflate(rec.data, rec.data_len, &delta)) < 0) {
			char hex[GROVE_OID_HEXSZ + 1];
			grove__error_wrap(rc, "stored delta %s", grove_oid_tohex(hex, &it->id));
			break;
		}
		if (ofs) {
			if ((rc = emit_header(w, GROVE__PACK_OFS_DELTA, delta.size)) == 0)
				rc = emit_ofs(w, it->offset - w->items[b].offset);
		} else {
			if ((rc = emit_header(w, GROVE__PACK_REF_DELTA, delta.size)) == 0)
				rc = emit(w, rec.base.id, GROVE_OID_RAWSZ, 1);
		}
		if (rc == 0)
			rc = emit(w, rec.data, rec.data_len, 1);
		w->st.reused_deltas++;
		break;
	}
	default:
		rc = grove__error_set(GROVE_ECORRUPT, "unknown record encoding %d", (int)rec.encoding);
	}
done:
	grove_buf_dispose(&raw);
	grove_buf_dispose(&delta);
	if (rc == 0)
		it->state = WRITTEN;
	return rc;
}

/* Writes item i, first writing the chain of bases it needs that are in
 * the set and not yet written (deepest first). */
static int write_with_bases(wctx *w, size_t i, size_t **chain, size_t *chain_cap)
{
	size_t depth = 0, j = i;
	int rc;

	while (w->items[j].state == UNSEEN) {
		if (depth == *chain_cap) {
			size_t cap = *chain_cap ? *chain_cap * 2 : 64;
			size_t *c = grove__realloc(*chain, cap * sizeof(*c));
			if (!c)
				return GROVE_ENOMEM;
			*chain = c;
			*chain_cap = cap;
		}
		(*chain)[depth++] = j;
		w->items[j].state = IN_PROGRESS; /* a cycle stops here */
		if (w->items[j].enc != GROVE__ENC_DELTA || w->items[j].base == NONE)
			break;
		j = w->items[j].base;
	}
	while (depth) {
		if ((rc = write_item(w, (*chain)[--depth])) < 0)
			return rc;
	}
	return 0;
}

/* Learns each object's encoding and base, so bases can go first. */
static int survey(wctx *w)
{
	for (size_t i = 0; i < w->n; i++) {
		item *it = &w->items[i];
		grove__object rec;
		grove_buf raw = { 0 };
		int rc;

		it->base = NONE;
		if (!w->be->ops->read_raw) {
			rc = w->be->ops->exists(w->be, &it->id);
			if (rc < 0)
				return rc;
			if (rc == 0)
				return not_found(GROVE_ENOTFOUND, &it->id);
			it->enc = GROVE__ENC_PLAIN;
			continue;
		}
		if ((rc = w->be->ops->read_raw(w->be, &it->id, &rec, &raw)) < 0)
			return not_found(rc, &it->id);
		it->enc = (unsigned char)rec.encoding;
		if (rec.encoding == GROVE__ENC_DELTA) {
			it->base_id = rec.base;
			it->base = find_item(w, &rec.base);
		}
		grove_buf_dispose(&raw);
	}
	return 0;
}

int grove__pack_write(grove_backend *be, const grove_oid *ids, size_t count,
	const grove__pack_write_opts *opts, grove__pack_write_stats *stats)
{
	wctx w;
	size_t i, k, *order = NULL, *chain = NULL, chain_cap = 0;
	unsigned char hdr[GROVE__PACK_HEADER_LEN] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	grove_oid sum;
	int rc;

	if (!opts || !opts->write)
		return grove__error_set(GROVE_EINVALID, "pack writer needs a write callback");
	if (count > UINT32_MAX)
		return grove__error_set(GROVE_EINVALID, "too many objects for one pack (%zu)", count);
	memset(&w, 0, sizeof(w));
	w.be = be;
	w.o = *opts;
	if (w.o.compression_level < 1 || w.o.compression_level > 9)
		w.o.compression_level = 1;

	w.items = grove__calloc(count ? count : 1, sizeof(*w.items));
	w.out = grove__malloc(OUT_CHUNK);
	order = grove__malloc((count ? count : 1) * sizeof(*order));
	if (!w.items || !w.out || !order) {
		rc = GROVE_ENOMEM;
		goto done;
	}
	if ((rc = grove__hasher_new(&w.h)) < 0 || (rc = grove__hasher_begin(w.h)) < 0)
		goto done;

	/* Sorted and deduplicated for lookups; order[] keeps the caller's
	 * sequence (usually commits, trees, blobs: good locality). */
	for (i = 0; i < count; i++) {
		w.items[i].id = ids[i];
		w.items[i].pos = i;
	}
	qsort(w.items, count, sizeof(*w.items), cmp_item);
	for (i = 0, k = 0; i < count; i++) {
		if (k && grove__oid_equal(&w.items[k - 1].id, &w.items[i].id)) {
			if (w.items[i].pos < w.items[k - 1].pos)
				w.items[k - 1].pos = w.items[i].pos;
			continue;
		}
		w.items[k++] = w.items[i];
	}
	w.n = k;
	for (i = 0; i < count; i++)
		order[i] = NONE;
	for (i = 0; i < w.n; i++)
		order[w.items[i].pos] = i;

	if ((rc = survey(&w)) < 0)
		goto done;

	hdr[8] = (unsigned char)(w.n >> 24);
	hdr[9] = (unsigned char)(w.n >> 16);
	hdr[10] = (unsigned char)(w.n >> 8);
	hdr[11] = (unsigned char)w.n;
	if ((rc = emit(&w, hdr, sizeof(hdr), 1)) < 0)
		goto done;
	for (i = 0; i < count; i++) {
		if (order[i] == NONE)
			continue;
		if ((rc = write_with_bases(&w, order[i], &chain, &chain_cap)) < 0)
			goto done;
	}
	if ((rc = grove__hasher_final(w.h, &sum)) < 0 ||
	    (rc = emit(&w, sum.id, GROVE_OID_RAWSZ, 0)) < 0 || (rc = flush_out(&w)) < 0)
		goto done;
	w.st.object_count = w.n;
	memcpy(w.st.checksum, sum.id, GROVE_OID_RAWSZ);
	if (stats)
		*stats = w.st;
done:
	grove__hasher_free(w.h);
	free(w.items);
	free(w.out);
	free(order);
	free(chain);
	return rc;
}
