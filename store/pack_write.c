/*
 * Writing a pack from a backend, streaming.  Stored encodings are reused:
 * zlib records are copied verbatim and stored deltas are sent as OFS_DELTA
 * (base already in this pack) or REF_DELTA (thin pack, receiver has the
 * base); only a delta whose base is unavailable is inflated and sent whole.
 * Each record is read once (bases found on the way are written first).
 */
#include "pack.h"
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "oid.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>

#define OUT_CHUNK 65536
#define NONE SIZE_MAX
/* The largest stored delta measured (a delta is at most a few times its
 * result; objects are limited to 1 GiB elsewhere). */
#define MAX_DELTA_LEN ((size_t)4 << 30)
/* Longest delta chain resolved (git caps pack.depth at 4095). */
#define MAX_CHAIN 4095

enum { UNSEEN = 0, IN_PROGRESS = 1, WRITTEN = 2 };

typedef struct {
	grove_oid id;
	size_t offset;   /* pack offset once written */
	unsigned char state;
} item;

typedef struct {
	grove_backend *be;
	grove__pack_write_opts o;
	grove__pack_write_stats st;
	grove__hasher *h;
	item *items; /* the caller's ids in its order, without duplicates */
	size_t n;
	uint32_t *slots; /* hash index of items (index + 1, 0 = empty) */
	size_t mask;
	unsigned char *out;
	size_t out_len;
	size_t offset; /* bytes of pack produced so far */
	struct pending *chain; /* records waiting for their bases */
	size_t chain_cap;
	/* Measuring stored deltas (delta_inflated_len). */
	struct libdeflate_decompressor *dd;
	void *scratch;
	size_t scratch_cap;
	int scratch_full;
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

/* Slot of id in the hash index: the id's first bytes are uniform. */
static size_t id_hash(const grove_oid *id, size_t mask)
{
	uint32_t h;
	memcpy(&h, id->id, sizeof(h));
	return h & mask;
}

/* The item holding id, or NONE.  Linear probing; slots hold index + 1. */
static size_t find_item(const wctx *w, const grove_oid *id)
{
	for (size_t s = id_hash(id, w->mask);; s = (s + 1) & w->mask) {
		uint32_t v = w->slots[s];
		if (!v)
			return NONE;
		if (grove__oid_equal(&w->items[v - 1].id, id))
			return v - 1;
	}
}

/* Adds ids[] to the items in their order, the first of duplicates kept. */
static int index_items(wctx *w, const grove_oid *ids, size_t count)
{
	size_t cap = 16;
	while (cap < count * 2)
		cap *= 2;
	if (!(w->slots = grove__calloc(cap, sizeof(*w->slots))))
		return GROVE_ENOMEM;
	w->mask = cap - 1;
	for (size_t i = 0; i < count; i++) {
		size_t s = id_hash(&ids[i], w->mask);
		for (; w->slots[s]; s = (s + 1) & w->mask)
			if (grove__oid_equal(&w->items[w->slots[s] - 1].id, &ids[i]))
				break;
		if (w->slots[s])
			continue; /* a duplicate */
		w->items[w->n].id = ids[i];
		w->slots[s] = (uint32_t)(++w->n);
	}
	return 0;
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

/*
 * Inflates a stored delta into the scratch buffer kept across deltas
 * (grown on demand) with libdeflate; *out is its length.
 */
static int inflate_to_scratch(wctx *w, const grove__object *rec, size_t *out)
{
	char hex[GROVE_OID_HEXSZ + 1];

	if (!w->dd && !(w->dd = libdeflate_alloc_decompressor()))
		return grove__error_oom();
	if (rec->data_size && rec->data_size > w->scratch_cap && rec->data_size <= MAX_DELTA_LEN) {
		void *s = grove__realloc(w->scratch, rec->data_size);
		if (!s)
			return GROVE_ENOMEM;
		w->scratch = s;
		w->scratch_cap = rec->data_size;
		w->scratch_full = 0;
	}
	for (;;) {
		size_t in_used = 0, n = 0;
		enum libdeflate_result r;
		if (!w->scratch_cap || w->scratch_full) {
			size_t cap = w->scratch_cap ? w->scratch_cap * 2 : 65536;
			void *s = cap > MAX_DELTA_LEN ? NULL : grove__realloc(w->scratch, cap);
			if (!s) {
				if (cap > MAX_DELTA_LEN)
					return grove__error_set(GROVE_EUNSUPPORTED,
						"stored delta %s inflates past %zu bytes",
						grove_oid_tohex(hex, &rec->id), (size_t)MAX_DELTA_LEN);
				return GROVE_ENOMEM;
			}
			w->scratch = s;
			w->scratch_cap = cap;
			w->scratch_full = 0;
		}
		r = libdeflate_zlib_decompress_ex(w->dd, rec->data, rec->data_len, w->scratch,
			w->scratch_cap, &in_used, &n);
		if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
			w->scratch_full = 1;
			continue;
		}
		if (r != LIBDEFLATE_SUCCESS || in_used != rec->data_len ||
		    (rec->data_size && n != rec->data_size))
			return grove__error_set(GROVE_ECORRUPT, "stored delta %s: damaged zlib stream",
				grove_oid_tohex(hex, &rec->id));
		*out = n;
		return 0;
	}
}

/*
 * A stored delta's inflated length, which its pack entry header needs when
 * the record does not carry it (data_size 0): the stream is inflated into
 * the scratch buffer and thrown away.
 */
static int delta_inflated_len(wctx *w, const grove__object *rec, size_t *out)
{
	if (rec->data_size) {
		*out = rec->data_size;
		return 0;
	}
	return inflate_to_scratch(w, rec, out);
}

/* One delta of a chain being resolved, nearest the object first. */
typedef struct {
	grove__object rec;
	grove_buf raw;
} chain_link;

static void links_dispose(chain_link *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		grove_buf_dispose(&l[i].raw);
	free(l);
}

/*
 * The content of a stored delta whose base this pack does not send.  The
 * records of its chain are read first (compressed, usually small), then
 * applied from the chain's whole object upwards, one intermediate result
 * held at a time.  This does not go through be->ops->read: that keeps
 * every base it resolves in the process-wide delta base cache, and the
 * objects a pack sends whole (tips whose older versions stay behind) are
 * seldom the base of the next one, so a small fetch left up to the cache's
 * whole budget (16 MiB) resident for nothing.
 */
static int resolve_delta(wctx *w, const grove__object *top, grove_buf *out)
{
	chain_link *links = NULL;
	size_t n = 0, cap = 0;
	grove__object root_rec;
	grove_buf root_raw = { 0 }, cur = { 0 };
	const grove__object *d;
	char hex[GROVE_OID_HEXSZ + 1], hex2[GROVE_OID_HEXSZ + 1];
	grove_oid base = top->base;
	int rc;

	/* Read down to a whole object. */
	for (;;) {
		if (n == MAX_CHAIN) {
			rc = grove__error_set(GROVE_ECORRUPT, "delta chain of %s deeper than %d",
				grove_oid_tohex(hex, &top->id), MAX_CHAIN);
			goto done;
		}
		rc = w->be->ops->read_raw(w->be, &base, &root_rec, &root_raw);
		if (rc < 0) {
			if (rc == GROVE_ENOTFOUND)
				rc = grove__error_set(GROVE_ECORRUPT, "delta base %s of %s is missing",
					grove_oid_tohex(hex, &base), grove_oid_tohex(hex2, &top->id));
			goto done;
		}
		if (root_rec.type != top->type) {
			rc = grove__error_set(GROVE_ECORRUPT, "delta %s has type %s but its base %s is a %s",
				grove_oid_tohex(hex, &top->id), grove_otype_name(top->type),
				grove_oid_tohex(hex2, &base), grove_otype_name(root_rec.type));
			goto done;
		}
		if (root_rec.encoding != GROVE__ENC_DELTA)
			break;
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 8;
			chain_link *l = grove__realloc(links, c2 * sizeof(*l));
			if (!l) {
				rc = GROVE_ENOMEM;
				goto done;
			}
			links = l;
			cap = c2;
		}
		links[n].rec = root_rec;
		links[n].raw = root_raw;
		n++;
		memset(&root_raw, 0, sizeof(root_raw));
		base = root_rec.base;
	}
	if ((rc = grove__object_decode(w->be, &root_rec, &cur)) < 0)
		goto done;
	/* Apply the deltas, the one nearest the root first, top last. */
	for (size_t k = n + 1; k-- > 0;) {
		grove_buf next = { 0 };
		size_t dlen = 0;
		d = k == 0 ? top : &links[k - 1].rec;
		if ((rc = inflate_to_scratch(w, d, &dlen)) < 0)
			goto done;
		if ((rc = grove__delta_apply(cur.data, cur.size, w->scratch, dlen, &next)) < 0) {
			grove__error_wrap(rc, "applying delta %s", grove_oid_tohex(hex, &d->id));
			goto done;
		}
		grove_buf_dispose(&cur);
		cur = next;
		if (cur.size != d->size) {
			rc = grove__error_set(GROVE_ECORRUPT, "delta %s yields %zu bytes, record says %zu",
				grove_oid_tohex(hex, &d->id), cur.size, d->size);
			goto done;
		}
	}
	*out = cur;
	memset(&cur, 0, sizeof(cur));
done:
	grove_buf_dispose(&cur);
	grove_buf_dispose(&root_raw);
	links_dispose(links, n);
	return rc;
}

/* Sends a stored delta whole: its base is neither sent nor the client's. */
static int write_resolved(wctx *w, const grove__object *rec)
{
	grove_buf content = { 0 };
	int rc = resolve_delta(w, rec, &content);
	if (rc < 0)
		return rc;
	rc = write_whole(w, rec->type, content.data, content.size);
	grove_buf_dispose(&content);
	w->st.inflated++;
	return rc;
}

/* Writes a record read by read_raw; its base, if in the set, is written. */
static int write_record(wctx *w, item *it, const grove__object *rec)
{
	int rc;

	switch (rec->encoding) {
	case GROVE__ENC_PLAIN:
		return write_whole(w, rec->type, rec->data, rec->data_len);
	case GROVE__ENC_ZLIB:
		if ((rc = emit_header(w, (int)rec->type, rec->size)) == 0)
			rc = emit(w, rec->data, rec->data_len, 1);
		w->st.reused_zlib++;
		return rc;
	case GROVE__ENC_DELTA: {
		size_t b = find_item(w, &rec->base), dsize = 0;
		int ofs = b != NONE && w->items[b].state == WRITTEN;
		int ref = !ofs && w->o.allow_thin && w->o.client_has &&
			w->o.client_has(w->o.client_payload, &rec->base) == 1;
		if (!ofs && !ref)
			return write_resolved(w, rec);
		if ((rc = delta_inflated_len(w, rec, &dsize)) < 0)
			return rc;
		if (ofs) {
			if ((rc = emit_header(w, GROVE__PACK_OFS_DELTA, dsize)) == 0)
				rc = emit_ofs(w, it->offset - w->items[b].offset);
		} else {
			if ((rc = emit_header(w, GROVE__PACK_REF_DELTA, dsize)) == 0)
				rc = emit(w, rec->base.id, GROVE_OID_RAWSZ, 1);
		}
		if (rc == 0)
			rc = emit(w, rec->data, rec->data_len, 1);
		w->st.reused_deltas++;
		return rc;
	}
	default:
		return grove__error_set(GROVE_ECORRUPT, "unknown record encoding %d", (int)rec->encoding);
	}
}

/* One record read and waiting for its base to be written first. */
typedef struct pending {
	size_t i;
	grove__object rec;
	grove_buf raw;
} pending;

/*
 * Writes item i.  Each record is read once: a delta whose base is in the
 * set and not yet written waits on a stack (holding its record) while the
 * base chain is written, deepest first, so bases always precede their
 * deltas and OFS_DELTA can be used.  A base met again while its chain is
 * pending (a cycle) leaves the delta to be written whole.
 */
static int write_chain(wctx *w, size_t i)
{
	size_t depth = 0;
	int rc = 0;

	for (;;) {
		pending *p;
		item *it;
		if (depth == w->chain_cap) {
			size_t cap = w->chain_cap ? w->chain_cap * 2 : 16;
			pending *c = grove__realloc(w->chain, cap * sizeof(*c));
			if (!c) {
				rc = GROVE_ENOMEM;
				break;
			}
			w->chain = c;
			w->chain_cap = cap;
		}
		p = &w->chain[depth++];
		p->i = i;
		memset(&p->raw, 0, sizeof(p->raw));
		it = &w->items[i];
		it->state = IN_PROGRESS;
		if (!w->be->ops->read_raw) {
			memset(&p->rec, 0, sizeof(p->rec));
			p->rec.encoding = GROVE__ENC_PLAIN;
			break;
		}
		if ((rc = w->be->ops->read_raw(w->be, &it->id, &p->rec, &p->raw)) < 0) {
			rc = not_found(rc, &it->id);
			break;
		}
		if (p->rec.encoding != GROVE__ENC_DELTA)
			break;
		i = find_item(w, &p->rec.base);
		if (i == NONE || w->items[i].state != UNSEEN)
			break;
	}
	while (depth) {
		pending *p = &w->chain[--depth];
		item *it = &w->items[p->i];
		if (rc == 0) {
			it->offset = w->offset;
			if (!w->be->ops->read_raw) {
				rc = write_inflated(w, it);
				w->st.inflated--; /* nothing was a delta */
			} else {
				rc = write_record(w, it, &p->rec);
			}
			if (rc == 0)
				it->state = WRITTEN;
		}
		grove_buf_dispose(&p->raw);
	}
	return rc;
}

int grove__pack_write(grove_backend *be, const grove_oid *ids, size_t count,
	const grove__pack_write_opts *opts, grove__pack_write_stats *stats)
{
	wctx w;
	size_t i;
	unsigned char hdr[GROVE__PACK_HEADER_LEN] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	grove_oid sum;
	int rc;

	if (!opts || !opts->write)
		return grove__error_set(GROVE_EINVALID, "pack writer needs a write callback");
	if (count > UINT32_MAX / 2)
		return grove__error_set(GROVE_EINVALID, "too many objects for one pack (%zu)", count);
	memset(&w, 0, sizeof(w));
	w.be = be;
	w.o = *opts;
	if (w.o.compression_level < 1 || w.o.compression_level > 9)
		w.o.compression_level = 1;

	w.items = grove__calloc(count ? count : 1, sizeof(*w.items));
	w.out = grove__malloc(OUT_CHUNK);
	if (!w.items || !w.out) {
		rc = GROVE_ENOMEM;
		goto done;
	}
	if ((rc = grove__hasher_new(&w.h)) < 0 || (rc = grove__hasher_begin(w.h)) < 0)
		goto done;
	/* Written in the caller's order (usually commits, trees, blobs: good
	 * locality), found by id through a hash index (bases of deltas). */
	if ((rc = index_items(&w, ids, count)) < 0)
		goto done;

	hdr[8] = (unsigned char)(w.n >> 24);
	hdr[9] = (unsigned char)(w.n >> 16);
	hdr[10] = (unsigned char)(w.n >> 8);
	hdr[11] = (unsigned char)w.n;
	if ((rc = emit(&w, hdr, sizeof(hdr), 1)) < 0)
		goto done;
	for (i = 0; i < w.n; i++) {
		if (w.items[i].state != UNSEEN) /* written as a base already */
			continue;
		if ((rc = write_chain(&w, i)) < 0)
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
	free(w.slots);
	free(w.out);
	free(w.chain);
	if (w.dd)
		libdeflate_free_decompressor(w.dd);
	free(w.scratch);
	return rc;
}
