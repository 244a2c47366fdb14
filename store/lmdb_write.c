/*
 * The writing side of the LMDB backend: object and ref writes in one
 * transaction (records of small writes inline, those of bulk writes packed
 * into segments), and HEAD.
 */
#include "lmdb_internal.h"
#include "error.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int grove__lmdb_write(grove_backend *be, const grove__write_set *ws);
int grove__lmdb_head_write(grove_backend *be, const char *target);

static int check_object(const grove__object *o)
{
	char hex[GROVE_OID_HEXSZ + 1];

	if (o->type < GROVE_OBJ_COMMIT || o->type > GROVE_OBJ_TAG)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s has invalid type %d",
			grove_oid_tohex(hex, &o->id), (int)o->type);
	if (o->encoding > GROVE__ENC_DELTA)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s has invalid encoding %d",
			grove_oid_tohex(hex, &o->id), (int)o->encoding);
	if (o->data_len && !o->data)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s has no data",
			grove_oid_tohex(hex, &o->id));
	if (o->encoding == GROVE__ENC_PLAIN && o->data_len != o->size)
		return grove__error_set(GROVE_EINVALID, "lmdb: plain object %s: %zu bytes, size says %zu",
			grove_oid_tohex(hex, &o->id), o->data_len, o->size);
	if (o->encoding != GROVE__ENC_PLAIN && o->data_len < 2)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s: empty compressed record",
			grove_oid_tohex(hex, &o->id));
	return 0;
}

/*
 * The inflated length of a delta's zlib stream, for a caller that did not
 * supply it: inflated in chunks into a scratch buffer and counted, once at
 * write time, so every stored DELTA record carries it.  The stream must
 * end exactly at the end of the data.
 */
static int delta_inflated_len(const grove__object *o, unsigned char *scratch, size_t cap,
	size_t *out)
{
	char hex[GROVE_OID_HEXSZ + 1];
	z_stream z;
	size_t total = 0;
	int zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return grove__error_oom();
	z.next_in = (unsigned char *)o->data;
	z.avail_in = 0;
	size_t left = o->data_len;
	do {
		if (z.avail_in == 0) {
			z.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
			left -= z.avail_in;
		}
		z.next_out = scratch;
		z.avail_out = (uInt)cap;
		zr = inflate(&z, Z_NO_FLUSH);
		total += cap - z.avail_out;
	} while (zr == Z_OK && (z.avail_in || left || z.avail_out == 0));
	size_t rest = z.avail_in + left;
	inflateEnd(&z);
	if (zr != Z_STREAM_END || rest != 0 || total == 0)
		return grove__error_set(GROVE_EINVALID, "lmdb: delta object %s: damaged zlib stream",
			grove_oid_tohex(hex, &o->id));
	*out = total;
	return 0;
}

/*
 * A copy of the objects with data_size filled in for every DELTA that lacks
 * it (*out NULL when none does: the caller's array is used as is).
 */
static int fill_delta_sizes(const grove__write_set *ws, grove__object **out)
{
	enum { SCRATCH = 64 * 1024 };
	grove__object *copy = NULL;
	unsigned char *scratch = NULL;
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; i < ws->object_count && rc == 0; i++) {
		const grove__object *o = &ws->objects[i];
		if (o->encoding != GROVE__ENC_DELTA || o->data_size)
			continue;
		if (!copy) {
			copy = grove__malloc(ws->object_count * sizeof(*copy));
			scratch = grove__malloc(SCRATCH);
			if (!copy || !scratch) {
				rc = GROVE_ENOMEM;
				break;
			}
			memcpy(copy, ws->objects, ws->object_count * sizeof(*copy));
		}
		rc = delta_inflated_len(o, scratch, SCRATCH, &copy[i].data_size);
	}
	free(scratch);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	*out = copy;
	return 0;
}

/* An inline record: reserve the value and fill it in place.  One of more
 * than ~2 KB gets overflow pages of its own: in effect its own segment. */
static int put_inline(grove__lmdb_env *e, MDB_txn *txn, const grove__object *o)
{
	unsigned char hdr[GROVE__LMDB_HDR_MAX];
	size_t hlen = grove__lmdb_rec_header(hdr, o);
	MDB_val k = { GROVE_OID_RAWSZ, (void *)o->id.id };
	MDB_val v = { hlen + o->data_len, NULL };
	int rc = mdb_put(txn, e->objects, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);

	if (rc == MDB_KEYEXIST)
		return 0;
	if (rc)
		return rc;
	memcpy(v.mv_data, hdr, hlen);
	if (o->data_len)
		memcpy((char *)v.mv_data + hlen, o->data, o->data_len);
	return 0;
}

#define NO_SEGMENT UINT32_MAX

/* A segment being planned: the objects ws->objects[first..last] whose
 * seg_of names it, back to back in that order. */
typedef struct {
	uint64_t id;
	size_t len;
	size_t first, last;
} seg_plan;

typedef struct {
	const grove__write_set *ws;
	int bulk;          /* records go to segments (else all inline) */
	uint32_t *seg_of;  /* per object: index into segs or NO_SEGMENT; NULL unless bulk */
	size_t *off_of;    /* per object: offset in its segment */
	seg_plan *segs;    /* at most one per object */
	size_t nsegs;
	int journal;       /* the objects go to the journal (a small write set) */
	unsigned char *peel_state; /* per ref update: GROVE__LMDB_PEEL_* */
	grove_oid *peeled;         /* per ref update, for GROVE__LMDB_PEEL_TAG */
} write_ctx;

static size_t record_len(const grove__object *o)
{
	unsigned char hdr[GROVE__LMDB_HDR_MAX];
	return grove__lmdb_rec_header(hdr, o) + o->data_len;
}

/* The number after the last segment's. */
int grove__lmdb_next_segment(grove__lmdb_env *e, MDB_txn *txn, uint64_t *out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, e->segments, &cur)))
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		*out = 1;
		return 0;
	}
	if (rc)
		return rc;
	if (k.mv_size != GROVE__LMDB_SEGKEY)
		return grove__error_set(GROVE_ECORRUPT, "lmdb: segment key of %zu bytes in %s",
			k.mv_size, e->path);
	*out = grove__lmdb_seg_id(k.mv_data) + 1;
	if (*out == 0)
		return grove__error_set(GROVE_ECORRUPT, "lmdb: segment numbers exhausted in %s", e->path);
	return 0;
}

/*
 * Assigns a segment record its place and stores the pointer; an object
 * already present (MDB_KEYEXIST, also a duplicate within the set) takes
 * no space.
 */
static int place_in_segment(grove__lmdb_env *e, MDB_txn *txn, write_ctx *c, size_t i,
	uint64_t *next_id)
{
	const grove__object *o = &c->ws->objects[i];
	size_t rlen = record_len(o);
	seg_plan *s = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
	int fresh = !s || s->len + rlen > GROVE__LMDB_SEGMENT_TARGET;
	unsigned char buf[GROVE__LMDB_PTR_MAX];
	grove__lmdb_ptr ptr;
	MDB_val k = { GROVE_OID_RAWSZ, (void *)o->id.id }, v;
	int rc;

	if (fresh && *next_id == 0 && (rc = grove__lmdb_next_segment(e, txn, next_id)))
		return rc;
	ptr.seg = fresh ? *next_id : s->id;
	ptr.off = fresh ? 0 : s->len;
	ptr.len = rlen;
	v.mv_size = grove__lmdb_ptr_encode(buf, &ptr);
	v.mv_data = buf;
	rc = mdb_put(txn, e->objects, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 0;
	if (rc)
		return rc;
	if (fresh) {
		s = &c->segs[c->nsegs++];
		s->id = (*next_id)++;
		s->len = 0;
		s->first = i;
	}
	c->seg_of[i] = (uint32_t)(s - c->segs);
	c->off_of[i] = s->len;
	s->len += rlen;
	s->last = i;
	return 0;
}

/* Appends a planned segment, filling the reserved value in place. */
static int write_segment(grove__lmdb_env *e, MDB_txn *txn, const write_ctx *c, size_t si)
{
	const seg_plan *s = &c->segs[si];
	unsigned char key[GROVE__LMDB_SEGKEY];
	MDB_val k = { sizeof(key), key }, v = { s->len, NULL };
	int rc;

	grove__lmdb_seg_key(key, s->id);
	if ((rc = mdb_put(txn, e->segments, &k, &v, MDB_APPEND | MDB_RESERVE)))
		return rc;
	for (size_t i = s->first; i <= s->last; i++) {
		const grove__object *o = &c->ws->objects[i];
		unsigned char *dst;
		size_t hlen;
		if (c->seg_of[i] != si)
			continue;
		dst = (unsigned char *)v.mv_data + c->off_of[i];
		hlen = grove__lmdb_rec_header(dst, o);
		if (o->data_len)
			memcpy(dst + hlen, o->data, o->data_len);
	}
	return 0;
}

static int apply_ref(grove__lmdb_env *e, MDB_txn *txn, const grove_ref_update *u, int peel_state,
	const grove_oid *peeled)
{
	size_t len = strlen(u->refname);
	MDB_val k = { len, (void *)u->refname }, v;
	unsigned char val[GROVE__LMDB_REF_MAX];
	char want[GROVE_OID_HEXSZ + 1], have[GROVE_OID_HEXSZ + 1];
	int rc;

	if (u->check_old) {
		rc = mdb_get(txn, e->refs, &k, &v);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (grove_oid_is_zero(&u->old_id)) {
			if (rc == 0)
				return grove__error_set(GROVE_EHEADMOVED, "ref %s already exists", u->refname);
		} else if (rc == MDB_NOTFOUND) {
			return grove__error_set(GROVE_EHEADMOVED, "ref %s does not exist (expected %s)",
				u->refname, grove_oid_tohex(want, &u->old_id));
		} else {
			grove_oid cur;
			int state;
			if (grove__lmdb_ref_parse(v.mv_data, v.mv_size, &cur, &state, NULL))
				return grove__error_set(GROVE_ECORRUPT, "lmdb: ref %s in %s holds %zu bytes",
					u->refname, e->path, v.mv_size);
			if (!grove__oid_equal(&cur, &u->old_id))
				return grove__error_set(GROVE_EHEADMOVED, "ref %s moved: expected %s, found %s",
					u->refname, grove_oid_tohex(want, &u->old_id), grove_oid_tohex(have, &cur));
		}
	}
	if (grove_oid_is_zero(&u->new_id)) {
		rc = mdb_del(txn, e->refs, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	v.mv_size = grove__lmdb_ref_encode(val, &u->new_id, peel_state, peeled);
	v.mv_data = val;
	return mdb_put(txn, e->refs, &k, &v, 0);
}

static int write_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	write_ctx *c = arg;
	const grove__write_set *ws = c->ws;
	uint64_t next_id = 0; /* looked up when the first segment is opened */
	int rc;

	c->nsegs = 0; /* a retry after map growth starts over */
	if (c->journal) {
		if ((rc = grove__lmdb_journal_append(e, txn, ws)))
			return rc;
		goto refs;
	}
	/* Merge what is pending first: bulk segments are indexed as written
	 * (journal_indexed moves past them), and objects already pending are
	 * then found by MDB_NOOVERWRITE instead of being stored twice. */
	if ((rc = grove__lmdb_journal_merge(e, txn, NULL)))
		return rc;
	for (size_t i = 0; i < ws->object_count; i++) {
		const grove__object *o = &ws->objects[i];
		if (c->seg_of)
			c->seg_of[i] = NO_SEGMENT;
		if (c->seg_of)
			rc = place_in_segment(e, txn, c, i, &next_id);
		else
			rc = put_inline(e, txn, o);
		if (rc)
			return rc;
	}
	/* Each segment is filled right after it is reserved: a later put may
	 * spill dirty pages and move what a reservation pointed to. */
	for (size_t si = 0; si < c->nsegs; si++)
		if ((rc = write_segment(e, txn, c, si)))
			return rc;
	if (c->nsegs &&
		(rc = grove__lmdb_journal_set_indexed(e, txn, c->segs[c->nsegs - 1].id)))
		return rc;
refs:
	for (size_t i = 0; i < ws->ref_count; i++)
		if ((rc = apply_ref(e, txn, &ws->refs[i], c->peel_state[i], &c->peeled[i])))
			return rc;
	return 0;
}

int grove__lmdb_write(grove_backend *be, const grove__write_set *ws)
{
	grove__lmdb *h = (grove__lmdb *)be;
	size_t maxkey = (size_t)mdb_env_get_maxkeysize(h->e->env);
	grove__write_set filled;
	grove__object *sized = NULL;
	write_ctx c;
	int rc;

	if (ws->object_count == 0 && ws->ref_count == 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.ws = ws;
	c.bulk = ws->object_count >= GROVE__LMDB_BULK_MIN;
	for (size_t i = 0; i < ws->object_count; i++)
		if ((rc = check_object(&ws->objects[i])) < 0)
			return rc;
	for (size_t i = 0; i < ws->ref_count; i++) {
		const char *name = ws->refs[i].refname;
		if (!name || !*name || strlen(name) > maxkey)
			return grove__error_set(GROVE_EINVALID, "lmdb: invalid ref name %s",
				name ? name : "(null)");
	}
	if (ws->object_count >= NO_SEGMENT)
		return grove__error_set(GROVE_EINVALID, "lmdb: too many objects in one write");
	if ((rc = fill_delta_sizes(ws, &sized)) < 0)
		return rc;
	if (sized) {
		filled = *ws;
		filled.objects = sized;
		c.ws = &filled;
	}
	if (!c.bulk && ws->object_count) {
		size_t total = 0;
		for (size_t i = 0; i < ws->object_count && total <= GROVE__LMDB_JOURNAL_MAX; i++)
			total += record_len(&c.ws->objects[i]);
		c.journal = total <= GROVE__LMDB_JOURNAL_MAX;
	}
	if (ws->ref_count) {
		c.peel_state = grove__malloc(ws->ref_count);
		c.peeled = grove__calloc(ws->ref_count, sizeof(*c.peeled));
		if (!c.peel_state || !c.peeled ||
			(rc = grove__lmdb_peel_refs(be, c.ws, c.peel_state, c.peeled)) < 0) {
			free(c.peel_state);
			free(c.peeled);
			free(sized);
			return c.peel_state && c.peeled ? rc : GROVE_ENOMEM;
		}
	}
	if (c.bulk) {
		c.seg_of = grove__malloc(ws->object_count * sizeof(*c.seg_of));
		c.off_of = grove__malloc(ws->object_count * sizeof(*c.off_of));
		c.segs = grove__malloc(ws->object_count * sizeof(*c.segs));
		if (!c.seg_of || !c.off_of || !c.segs) {
			free(c.seg_of);
			free(c.off_of);
			free(c.segs);
			free(sized);
			free(c.peel_state);
			free(c.peeled);
			return GROVE_ENOMEM;
		}
	}
	rc = grove__lmdb_write_txn(h, write_fn, &c, "writing");
	free(c.seg_of);
	free(c.off_of);
	free(c.segs);
	free(sized);
	free(c.peel_state);
	free(c.peeled);
	return rc;
}

static int head_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	const char *target = arg;
	MDB_val k = { 4, "HEAD" }, v = { strlen(target), (void *)target };
	return mdb_put(txn, e->meta, &k, &v, 0);
}

int grove__lmdb_head_write(grove_backend *be, const char *target)
{
	grove__lmdb *h = (grove__lmdb *)be;

	if (!target || !*target || strlen(target) > 1024)
		return grove__error_set(GROVE_EINVALID, "lmdb: invalid HEAD target");
	return grove__lmdb_write_txn(h, head_fn, (void *)target, "writing HEAD");
}
