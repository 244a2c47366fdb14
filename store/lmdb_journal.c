/*
 * The LMDB backend's journal: small writes appended now, indexed later.
 *
 * Why: a commit of a few objects under random 20-byte ids dirties one
 * leaf page of the objects DB per object (plus their branch pages), and
 * copying and writing those pages is most of a small commit's cost.  So a
 * small write set goes into ONE journal segment appended to the segments
 * DB (the rightmost leaf and the value's own pages: sequential), and the
 * objects DB learns of it later, when MERGE_AT journal segments are
 * pending: their pointers are then put in id order, one batch touching
 * each leaf page once instead of once per object.
 *
 * A journal segment is a segment whose value starts with JOURNAL_MAGIC (no
 * record header byte has that value) followed by entries
 *     20-byte id, LEB128 record length, record (header + bytes)
 * so the merge, and a reader, can list what it holds.  The meta DB's
 * "journal_indexed" (u64, little-endian) is the highest segment number
 * whose objects all have pointers; only journal segments above it are
 * pending, and a journal segment always gets a number above it.
 *
 * Readers: an object missing from the objects DB is looked up among the
 * pending segments of the reader's snapshot, through an index in memory
 * shared by the process (id -> segment and offset), filled by scanning
 * segments the index has not seen.  Entries are checked against the
 * snapshot (segment in range, magic, the id stored before the record), so
 * an entry from another snapshot, or for a segment number reused after a
 * gc, is never trusted.
 */
#include "lmdb_internal.h"
#include "error.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

#define JOURNAL_MAGIC 0xe7u
/* Pending journal segments that make the next small write merge them. */
#define MERGE_AT 512
/* What a walk callback returns to stop the walk early. */
#define WALK_STOP 0x7fff0001

static const MDB_val indexed_key = { 15, "journal_indexed" };

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >>= 7)
		n++;
	return n;
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
	return grove__lmdb_get_varint(p, end, out) ? -1 : 0;
}

int grove__lmdb_journal_indexed(grove__lmdb_env *e, MDB_txn *txn, uint64_t *out)
{
	MDB_val v;
	int rc = mdb_get(txn, e->meta, (MDB_val *)&indexed_key, &v);

	*out = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return grove__error_set(GROVE_ECORRUPT, "lmdb: journal_indexed of %zu bytes in %s",
			v.mv_size, e->path);
	for (int i = 7; i >= 0; i--)
		*out = *out << 8 | ((const unsigned char *)v.mv_data)[i];
	return 0;
}

int grove__lmdb_journal_set_indexed(grove__lmdb_env *e, MDB_txn *txn, uint64_t seg)
{
	unsigned char b[8];
	MDB_val v = { sizeof(b), b };
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(seg >> (8 * i));
	return mdb_put(txn, e->meta, (MDB_val *)&indexed_key, &v, 0);
}

/* The number of the last segment (0: none). */
static int last_segment(grove__lmdb_env *e, MDB_txn *txn, uint64_t *out)
{
	uint64_t next;
	int rc = grove__lmdb_next_segment(e, txn, &next);
	if (rc == 0)
		*out = next - 1;
	return rc;
}

/* One entry of a journal segment, as found by walking it. */
typedef struct {
	const unsigned char *id;
	size_t entry_off; /* where the entry (its id) starts */
	size_t rec_off;   /* where its record starts */
	size_t rec_len;
} jent;

/* Walks a journal segment: calls fn for each entry; 1 if seg is not a
 * journal segment, a grove code for a damaged one. */
static int walk(const grove__lmdb_env *e, uint64_t seg, const MDB_val *v,
	int (*fn)(const jent *j, uint64_t seg, void *arg), void *arg)
{
	const unsigned char *base = v->mv_data, *p = base + 1, *end = base + v->mv_size;

	if (v->mv_size < 1 || base[0] != JOURNAL_MAGIC)
		return 1;
	while (p < end) {
		jent j;
		uint64_t len;
		j.entry_off = (size_t)(p - base);
		if ((size_t)(end - p) < GROVE_OID_RAWSZ + 1)
			goto damaged;
		j.id = p;
		p += GROVE_OID_RAWSZ;
		if (get_varint(&p, end, &len) || len < 2 || len > (uint64_t)(end - p))
			goto damaged;
		j.rec_off = (size_t)(p - base);
		j.rec_len = (size_t)len;
		p += len;
		int rc = fn(&j, seg, arg);
		if (rc)
			return rc;
	}
	return 0;
damaged:
	return grove__error_set(GROVE_ECORRUPT, "lmdb: journal segment %llu in %s is damaged",
		(unsigned long long)seg, e->path);
}

/* Calls fn for every entry of the journal segments numbered from..to. */
static int walk_range(grove__lmdb_env *e, MDB_txn *txn, uint64_t from, uint64_t to,
	int (*fn)(const jent *j, uint64_t seg, void *arg), void *arg)
{
	unsigned char key[GROVE__LMDB_SEGKEY];
	MDB_val k = { sizeof(key), key }, v;
	MDB_cursor *cur;
	int rc;

	if (from > to)
		return 0;
	if ((rc = mdb_cursor_open(txn, e->segments, &cur)))
		return rc;
	grove__lmdb_seg_key(key, from);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t seg;
		if (k.mv_size != GROVE__LMDB_SEGKEY) {
			rc = grove__error_set(GROVE_ECORRUPT, "lmdb: segment key of %zu bytes in %s",
				k.mv_size, e->path);
			break;
		}
		seg = grove__lmdb_seg_id(k.mv_data);
		if (seg > to)
			break;
		rc = walk(e, seg, &v, fn, arg);
		if (rc != 0 && rc != 1)
			break; /* an error, or WALK_STOP */
		rc = 0;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ------------------------------------------------------------------ */
/* The index in memory                                                  */
/* ------------------------------------------------------------------ */

typedef struct {
	unsigned char id[GROVE_OID_RAWSZ];
	uint32_t entry_off;
	uint64_t seg; /* 0: empty slot */
} islot;

struct grove__lmdb_jindex {
	pthread_rwlock_t lock;
	islot *slots;
	size_t cap, count; /* cap: a power of two, or 0 */
	uint64_t floor;    /* the snapshot's journal_indexed the entries were built on */
	uint64_t scanned;  /* highest segment scanned */
};

int grove__lmdb_jindex_new(grove__lmdb_jindex **out)
{
	grove__lmdb_jindex *x = grove__calloc(1, sizeof(*x));
	if (!x)
		return GROVE_ENOMEM;
	if (pthread_rwlock_init(&x->lock, NULL)) {
		free(x);
		return grove__error_set(GROVE_ERROR, "lmdb: cannot create the journal index lock");
	}
	*out = x;
	return 0;
}

void grove__lmdb_jindex_free(grove__lmdb_jindex *x)
{
	if (!x)
		return;
	pthread_rwlock_destroy(&x->lock);
	free(x->slots);
	free(x);
}

static size_t slot_of(const unsigned char *id, size_t cap)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h)); /* ids are uniformly distributed */
	return (size_t)h & (cap - 1);
}

static const islot *index_find(const grove__lmdb_jindex *x, const unsigned char *id)
{
	if (!x->cap)
		return NULL;
	for (size_t i = slot_of(id, x->cap);; i = (i + 1) & (x->cap - 1)) {
		const islot *s = &x->slots[i];
		if (!s->seg)
			return NULL;
		if (!memcmp(s->id, id, GROVE_OID_RAWSZ))
			return s;
	}
}

static int index_grow(grove__lmdb_jindex *x)
{
	size_t ncap = x->cap ? x->cap * 2 : 1024;
	islot *ns = grove__calloc(ncap, sizeof(*ns));
	if (!ns)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < x->cap; i++) {
		const islot *s = &x->slots[i];
		if (!s->seg)
			continue;
		size_t j = slot_of(s->id, ncap);
		while (ns[j].seg)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(x->slots);
	x->slots = ns;
	x->cap = ncap;
	return 0;
}

static int index_add(const jent *j, uint64_t seg, void *arg)
{
	grove__lmdb_jindex *x = arg;
	int rc;

	if ((x->count + 1) * 4 > x->cap * 3 && (rc = index_grow(x)) < 0)
		return rc;
	size_t i = slot_of(j->id, x->cap);
	while (x->slots[i].seg && memcmp(x->slots[i].id, j->id, GROVE_OID_RAWSZ))
		i = (i + 1) & (x->cap - 1);
	if (x->slots[i].seg)
		return 0; /* stored twice: the first copy counts, as in the merge */
	x->count++;
	memcpy(x->slots[i].id, j->id, GROVE_OID_RAWSZ);
	x->slots[i].seg = seg;
	x->slots[i].entry_off = (uint32_t)j->entry_off;
	return 0;
}

static void index_clear(grove__lmdb_jindex *x, uint64_t floor)
{
	if (x->cap)
		memset(x->slots, 0, x->cap * sizeof(*x->slots));
	x->count = 0;
	x->floor = x->scanned = floor;
}

/*
 * Reads the entry of id at entry_off in segment seg of txn: the record
 * bytes when the segment is a journal segment of the snapshot holding id
 * there, else not found (1).
 */
static int read_entry(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache, uint64_t seg,
	size_t entry_off, const grove_oid *id, MDB_val *out)
{
	unsigned char key[GROVE__LMDB_SEGKEY];
	MDB_val k = { sizeof(key), key }, v;
	grove__lmdb_segref *ref = cache ? &cache[seg % GROVE__LMDB_SEGCACHE] : NULL;
	const unsigned char *p, *end;
	uint64_t len;
	int rc;

	if (ref && ref->seg == seg) {
		v.mv_data = (void *)ref->data;
		v.mv_size = ref->size;
	} else {
		grove__lmdb_seg_key(key, seg);
		if ((rc = mdb_get(txn, e->segments, &k, &v)))
			return rc == MDB_NOTFOUND ? 1 : rc;
		if (ref) {
			ref->seg = seg;
			ref->data = v.mv_data;
			ref->size = v.mv_size;
		}
	}
	p = v.mv_data;
	end = p + v.mv_size;
	if (v.mv_size < 1 || p[0] != JOURNAL_MAGIC || entry_off >= v.mv_size ||
		(size_t)(end - (p + entry_off)) < GROVE_OID_RAWSZ + 1)
		return 1;
	p += entry_off;
	if (memcmp(p, id->id, GROVE_OID_RAWSZ))
		return 1;
	p += GROVE_OID_RAWSZ;
	if (get_varint(&p, end, &len) || len > (uint64_t)(end - p))
		return 1;
	out->mv_data = (void *)p;
	out->mv_size = (size_t)len;
	return 0;
}

typedef struct {
	const grove_oid *id;
	uint64_t seg;
	size_t entry_off;
	int found;
} scan_for;

static int match_entry(const jent *j, uint64_t seg, void *arg)
{
	scan_for *s = arg;
	if (memcmp(j->id, s->id->id, GROVE_OID_RAWSZ))
		return 0;
	s->seg = seg;
	s->entry_off = j->entry_off;
	s->found = 1;
	return WALK_STOP;
}

int grove__lmdb_journal_find(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache,
	const grove_oid *id, MDB_val *out)
{
	grove__lmdb_jindex *x = e->jindex;
	uint64_t indexed, last, seg = 0;
	size_t entry_off = 0;
	int rc;

	if ((rc = grove__lmdb_journal_indexed(e, txn, &indexed)) ||
		(rc = last_segment(e, txn, &last)))
		return rc;
	if (last <= indexed)
		return 1; /* nothing pending in this snapshot */

	pthread_rwlock_rdlock(&x->lock);
	int usable = x->floor == indexed && x->scanned >= last;
	if (usable) {
		const islot *s = index_find(x, id->id);
		if (s && s->seg > indexed && s->seg <= last) {
			seg = s->seg;
			entry_off = s->entry_off;
		}
	}
	pthread_rwlock_unlock(&x->lock);

	if (!usable) {
		pthread_rwlock_wrlock(&x->lock);
		if (indexed > x->floor)
			index_clear(x, indexed); /* merged since: the old entries are indexed */
		if (x->floor == indexed && last > x->scanned) {
			rc = walk_range(e, txn, x->scanned + 1, last, index_add, x);
			if (rc == 0)
				x->scanned = last;
			else
				index_clear(x, x->floor); /* half-scanned: start over next time */
		}
		if (rc == 0 && x->floor == indexed && x->scanned >= last) {
			const islot *s = index_find(x, id->id);
			usable = 1;
			if (s && s->seg > indexed && s->seg <= last) {
				seg = s->seg;
				entry_off = s->entry_off;
			}
		}
		pthread_rwlock_unlock(&x->lock);
		if (rc)
			return rc;
	}
	if (!usable) {
		/* A snapshot older than the index: search its pending segments. */
		scan_for s = { id, 0, 0, 0 };
		rc = walk_range(e, txn, indexed + 1, last, match_entry, &s);
		if (rc != 0 && rc != WALK_STOP)
			return rc;
		if (!s.found)
			return 1;
		seg = s.seg;
		entry_off = s.entry_off;
	}
	if (!seg)
		return 1;
	return read_entry(e, txn, cache, seg, entry_off, id, out);
}

/* ------------------------------------------------------------------ */
/* Appending and merging (write transactions)                          */
/* ------------------------------------------------------------------ */

typedef struct {
	grove_oid id;
	grove__lmdb_ptr ptr;
} pending_ptr;

typedef struct {
	pending_ptr *v;
	size_t n, cap;
} ptr_list;

static int collect_ptr(const jent *j, uint64_t seg, void *arg)
{
	ptr_list *l = arg;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 4096;
		pending_ptr *nv = grove__realloc(l->v, ncap * sizeof(*nv));
		if (!nv)
			return GROVE_ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	pending_ptr *p = &l->v[l->n++];
	memcpy(p->id.id, j->id, GROVE_OID_RAWSZ);
	p->ptr.seg = seg;
	p->ptr.off = j->rec_off;
	p->ptr.len = j->rec_len;
	return 0;
}

/* By id, then by position: of an id stored twice the first copy gets the
 * pointer, as readers of the journal see it. */
static int by_id(const void *a, const void *b)
{
	const pending_ptr *x = a, *y = b;
	int c = memcmp(x->id.id, y->id.id, GROVE_OID_RAWSZ);
	if (c)
		return c;
	if (x->ptr.seg != y->ptr.seg)
		return x->ptr.seg < y->ptr.seg ? -1 : 1;
	return x->ptr.off < y->ptr.off ? -1 : x->ptr.off > y->ptr.off;
}

static int oid_order(const void *a, const void *b)
{
	return memcmp(((const grove_oid *)a)->id, ((const grove_oid *)b)->id, GROVE_OID_RAWSZ);
}

int grove__lmdb_journal_merge(grove__lmdb_env *e, MDB_txn *txn, uint64_t *indexed_out)
{
	uint64_t indexed, last;
	ptr_list l = { 0 };
	int rc;

	if ((rc = grove__lmdb_journal_indexed(e, txn, &indexed)) ||
		(rc = last_segment(e, txn, &last)))
		return rc;
	if (last <= indexed) {
		if (indexed_out)
			*indexed_out = indexed;
		return 0;
	}
	/* Everything is collected before the first put: the puts may move
	 * pages, and the entries are read from the map. */
	if ((rc = walk_range(e, txn, indexed + 1, last, collect_ptr, &l)) == 0) {
		qsort(l.v, l.n, sizeof(*l.v), by_id);
		for (size_t i = 0; i < l.n && rc == 0; i++) {
			unsigned char buf[GROVE__LMDB_PTR_MAX];
			MDB_val k = { GROVE_OID_RAWSZ, l.v[i].id.id };
			MDB_val v = { grove__lmdb_ptr_encode(buf, &l.v[i].ptr), buf };
			rc = mdb_put(txn, e->objects, &k, &v, MDB_NOOVERWRITE);
			if (rc == MDB_KEYEXIST)
				rc = 0; /* stored twice; the other copy is garbage for gc */
		}
	}
	free(l.v);
	if (rc == 0)
		rc = grove__lmdb_journal_set_indexed(e, txn, last);
	if (rc == 0 && indexed_out)
		*indexed_out = last;
	return rc;
}

/* Whether the index (as far as it goes) lists id among the committed
 * pending segments indexed+1..last: a hint to skip a second copy. */
static int journal_has(grove__lmdb_env *e, const unsigned char *id, uint64_t indexed,
	uint64_t last)
{
	grove__lmdb_jindex *x = e->jindex;
	int has = 0;
	pthread_rwlock_rdlock(&x->lock);
	if (x->floor == indexed) {
		const islot *s = index_find(x, id);
		has = s && s->seg > indexed && s->seg <= last;
	}
	pthread_rwlock_unlock(&x->lock);
	return has;
}

int grove__lmdb_journal_append(grove__lmdb_env *e, MDB_txn *txn, const grove__write_set *ws)
{
	uint64_t indexed, last, seg;
	unsigned char key[GROVE__LMDB_SEGKEY];
	MDB_val k = { sizeof(key), key }, v;
	unsigned char *keep, *dst;
	size_t total = 1;
	int rc;

	if ((rc = grove__lmdb_journal_indexed(e, txn, &indexed)) ||
		(rc = last_segment(e, txn, &last)))
		return rc;
	if (last > indexed && last - indexed >= MERGE_AT &&
		(rc = grove__lmdb_journal_merge(e, txn, &indexed)))
		return rc;
	keep = grove__calloc(ws->object_count ? ws->object_count : 1, 1);
	if (!keep)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < ws->object_count; i++) {
		const grove__object *o = &ws->objects[i];
		MDB_val ok = { GROVE_OID_RAWSZ, (void *)o->id.id }, ov;
		size_t rlen;
		rc = mdb_get(txn, e->objects, &ok, &ov);
		if (rc == 0)
			continue; /* present already (a pending copy is merely kept twice) */
		if (rc != MDB_NOTFOUND) {
			free(keep);
			return rc;
		}
		rc = 0;
		if (journal_has(e, o->id.id, indexed, last))
			continue;
		int dup = 0;
		for (size_t j = 0; j < i && !dup; j++)
			dup = keep[j] && grove__oid_equal(&ws->objects[j].id, &o->id);
		if (dup)
			continue;
		unsigned char hdr[GROVE__LMDB_HDR_MAX];
		keep[i] = 1;
		rlen = grove__lmdb_rec_header(hdr, o) + o->data_len;
		total += GROVE_OID_RAWSZ + varint_len(rlen) + rlen;
	}
	if (total == 1) {
		free(keep);
		return 0;
	}
	seg = (last > indexed ? last : indexed) + 1;
	grove__lmdb_seg_key(key, seg);
	v.mv_size = total;
	if ((rc = mdb_put(txn, e->segments, &k, &v, MDB_APPEND | MDB_RESERVE))) {
		free(keep);
		return rc;
	}
	dst = v.mv_data;
	*dst++ = JOURNAL_MAGIC;
	for (size_t i = 0; i < ws->object_count; i++) {
		const grove__object *o = &ws->objects[i];
		unsigned char hdr[GROVE__LMDB_HDR_MAX];
		size_t hlen;
		if (!keep[i])
			continue;
		hlen = grove__lmdb_rec_header(hdr, o);
		memcpy(dst, o->id.id, GROVE_OID_RAWSZ);
		dst += GROVE_OID_RAWSZ;
		dst += grove__lmdb_put_varint(dst, hlen + o->data_len);
		memcpy(dst, hdr, hlen);
		dst += hlen;
		if (o->data_len)
			memcpy(dst, o->data, o->data_len);
		dst += o->data_len;
	}
	free(keep);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Listing                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
	grove__lmdb_env *e;
	MDB_txn *txn;
	grove_oid *ids;
	size_t n, cap;
} id_list;

static int collect_pending_id(const jent *j, uint64_t seg, void *arg)
{
	id_list *l = arg;
	MDB_val k = { GROVE_OID_RAWSZ, (void *)j->id }, v;
	int rc;

	(void)seg;
	rc = mdb_get(l->txn, l->e->objects, &k, &v);
	if (rc == 0)
		return 0; /* listed with the objects DB */
	if (rc != MDB_NOTFOUND)
		return rc;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;
		grove_oid *nv = grove__realloc(l->ids, ncap * sizeof(*nv));
		if (!nv)
			return GROVE_ENOMEM;
		l->ids = nv;
		l->cap = ncap;
	}
	memcpy(l->ids[l->n++].id, j->id, GROVE_OID_RAWSZ);
	return 0;
}

int grove__lmdb_journal_pending_ids(grove__lmdb_env *e, MDB_txn *txn, grove_oid **ids,
	size_t *count)
{
	id_list l = { e, txn, NULL, 0, 0 };
	uint64_t indexed, last;
	int rc;

	*ids = NULL;
	*count = 0;
	if ((rc = grove__lmdb_journal_indexed(e, txn, &indexed)) ||
		(rc = last_segment(e, txn, &last)))
		return rc;
	rc = walk_range(e, txn, indexed + 1, last, collect_pending_id, &l);
	if (rc) {
		free(l.ids);
		return rc;
	}
	/* An id stored twice in the journal is listed once. */
	if (l.n > 1) {
		size_t w = 1;
		qsort(l.ids, l.n, sizeof(*l.ids), oid_order);
		for (size_t i = 1; i < l.n; i++)
			if (!grove__oid_equal(&l.ids[i], &l.ids[w - 1]))
				l.ids[w++] = l.ids[i];
		l.n = w;
	}
	*ids = l.ids;
	*count = l.n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Merging on demand                                                    */
/* ------------------------------------------------------------------ */

static int merge_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	(void)arg;
	return grove__lmdb_journal_merge(e, txn, NULL);
}

int grove__lmdb_journal_flush(grove_backend *be)
{
	grove__lmdb *h = (grove__lmdb *)be;
	grove__lmdb_rtxn rt;
	uint64_t indexed, last;
	int rc;

	if (h->read_only)
		return 0;
	/* Nothing pending: no write txn (and no sync). */
	if ((rc = grove__lmdb_read_begin(h->e, &rt)) < 0)
		return rc;
	rc = grove__lmdb_journal_indexed(h->e, rt.txn, &indexed);
	if (rc == 0)
		rc = last_segment(h->e, rt.txn, &last);
	grove__lmdb_read_end(h->e, &rt);
	if (rc)
		return grove__lmdb_error(h->e, rc, "reading the journal");
	if (last <= indexed)
		return 0;
	return grove__lmdb_write_txn(h, merge_fn, NULL, "indexing the journal");
}
