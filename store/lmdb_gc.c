/*
 * The LMDB backend's garbage sweep (remove_unreachable).
 *
 * What it reclaims: every object keep() rejects is deleted from the
 * objects DB (an inline record frees its bytes there).  Then the segments
 * are accounted: a segment no kept object points into is deleted whole; a
 * segment whose live records fill less than half of it is compacted, its
 * live records copied into new segments appended at the end and their
 * pointers moved, and the old segment deleted.  So after a sweep at most
 * half of any segment is dead.  Freed pages go to LMDB's free list and are
 * reused by later writes; the data file itself does not shrink (LMDB never
 * truncates it; `mdb_copy -c` writes a compact copy).
 *
 * The whole sweep is one write txn: concurrent writers (in any process)
 * wait for it, so an object they reference cannot vanish under them, and
 * readers keep their snapshot (LMDB does not reuse pages a reader sees).
 */
#include "lmdb_internal.h"
#include "error.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

int grove__lmdb_remove_unreachable(grove_backend *be,
	int (*keep)(const grove_oid *id, void *payload), void *payload, size_t *removed);

typedef struct {
	uint64_t id;
	size_t size;
	uint64_t live; /* bytes of kept records in it */
	int compact;
} seg_info;

/* A record to move out of a sparse segment. */
typedef struct {
	grove_oid id;
	grove__lmdb_ptr from;
	uint64_t new_seg, new_off;
} move;

typedef struct {
	int (*keep)(const grove_oid *id, void *payload);
	void *payload;
	size_t removed;
	seg_info *segs; /* in id order */
	size_t nsegs;
	move *moves;
	size_t nmoves, cap_moves;
} sweep;

static void sweep_reset(sweep *s)
{
	free(s->segs);
	free(s->moves);
	s->segs = NULL;
	s->moves = NULL;
	s->nsegs = s->nmoves = s->cap_moves = 0;
	s->removed = 0;
}

static seg_info *find_seg(const sweep *s, uint64_t id)
{
	size_t lo = 0, hi = s->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->segs[mid].id == id)
			return &s->segs[mid];
		if (s->segs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int corrupt_key(const grove__lmdb_env *e, const char *what, size_t len)
{
	return grove__error_set(GROVE_ECORRUPT, "lmdb: %s key of %zu bytes in %s", what, len, e->path);
}

static int load_segments(grove__lmdb_env *e, MDB_txn *txn, sweep *s)
{
	MDB_stat st;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_stat(txn, e->segments, &st)))
		return rc;
	if (st.ms_entries == 0)
		return 0;
	if (!(s->segs = grove__calloc(st.ms_entries, sizeof(*s->segs))))
		return GROVE_ENOMEM;
	if ((rc = mdb_cursor_open(txn, e->segments, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && s->nsegs < st.ms_entries;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != GROVE__LMDB_SEGKEY) {
			rc = corrupt_key(e, "segment", k.mv_size);
			break;
		}
		s->segs[s->nsegs].id = grove__lmdb_seg_id(k.mv_data);
		s->segs[s->nsegs].size = v.mv_size;
		s->nsegs++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* Pass 1: deletes what keep() rejects and counts the live bytes of each
 * segment.  A pointer that does not parse is left for fsck to report. */
static int remove_pass(grove__lmdb_env *e, MDB_txn *txn, sweep *s)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, e->objects, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		grove__lmdb_ptr ptr;
		seg_info *si;
		grove_oid id;
		int keep;
		if (k.mv_size != GROVE_OID_RAWSZ) {
			rc = corrupt_key(e, "object", k.mv_size);
			break;
		}
		memcpy(id.id, k.mv_data, GROVE_OID_RAWSZ);
		keep = s->keep(&id, s->payload);
		if (keep < 0) {
			rc = keep;
			break;
		}
		if (!keep) {
			if ((rc = mdb_cursor_del(cur, 0)))
				break;
			s->removed++;
			continue;
		}
		if (grove__lmdb_is_ptr(v.mv_data, v.mv_size) &&
			!grove__lmdb_ptr_parse(v.mv_data, v.mv_size, &ptr) &&
			(si = find_seg(s, ptr.seg)) != NULL)
			si->live += ptr.len;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc ? rc : GROVE_ERROR;
}

static int add_move(sweep *s, const grove_oid *id, const grove__lmdb_ptr *from)
{
	if (s->nmoves == s->cap_moves) {
		size_t cap = s->cap_moves ? s->cap_moves * 2 : 256;
		move *m = grove__realloc(s->moves, cap * sizeof(*m));
		if (!m)
			return GROVE_ENOMEM;
		s->moves = m;
		s->cap_moves = cap;
	}
	s->moves[s->nmoves].id = *id;
	s->moves[s->nmoves].from = *from;
	s->nmoves++;
	return 0;
}

/* Pass 2: the kept records that live in segments being compacted. */
static int collect_moves(grove__lmdb_env *e, MDB_txn *txn, sweep *s)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, e->objects, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		grove__lmdb_ptr ptr;
		seg_info *si;
		grove_oid id;
		if (!grove__lmdb_is_ptr(v.mv_data, v.mv_size) ||
			grove__lmdb_ptr_parse(v.mv_data, v.mv_size, &ptr) ||
			!(si = find_seg(s, ptr.seg)) || !si->compact)
			continue;
		if (ptr.off > si->size || ptr.len > si->size - ptr.off)
			continue; /* damaged: left where it is, for fsck */
		memcpy(id.id, k.mv_data, GROVE_OID_RAWSZ);
		if ((rc = add_move(s, &id, &ptr)) < 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc ? rc : GROVE_ERROR;
}

static int by_source(const void *a, const void *b)
{
	const move *x = a, *y = b;
	if (x->from.seg != y->from.seg)
		return x->from.seg < y->from.seg ? -1 : 1;
	return x->from.off < y->from.off ? -1 : x->from.off > y->from.off;
}

/* Copies moves[first..last) into one new segment. */
static int write_moved(grove__lmdb_env *e, MDB_txn *txn, sweep *s, size_t first, size_t last,
	uint64_t seg, size_t len)
{
	unsigned char key[GROVE__LMDB_SEGKEY];
	MDB_val k = { sizeof(key), key }, v = { len, NULL };
	unsigned char *dst;
	int rc;

	grove__lmdb_seg_key(key, seg);
	if ((rc = mdb_put(txn, e->segments, &k, &v, MDB_APPEND | MDB_RESERVE)))
		return rc;
	dst = v.mv_data;
	for (size_t i = first; i < last; i++) {
		move *m = &s->moves[i];
		unsigned char skey[GROVE__LMDB_SEGKEY];
		MDB_val sk = { sizeof(skey), skey }, sv;
		/* Old segments are not written in this txn: their data stays put. */
		grove__lmdb_seg_key(skey, m->from.seg);
		if ((rc = mdb_get(txn, e->segments, &sk, &sv)))
			return rc;
		memcpy(dst + m->new_off, (const char *)sv.mv_data + m->from.off, (size_t)m->from.len);
	}
	return 0;
}

/* Pass 3: moves the live records of sparse segments into new ones. */
static int compact(grove__lmdb_env *e, MDB_txn *txn, sweep *s)
{
	uint64_t next;
	size_t first = 0, len = 0;
	int rc;

	if ((rc = collect_moves(e, txn, s)) < 0)
		return rc;
	if (s->nmoves == 0)
		return 0;
	qsort(s->moves, s->nmoves, sizeof(*s->moves), by_source);
	if ((rc = grove__lmdb_next_segment(e, txn, &next)))
		return rc;
	for (size_t i = 0; i <= s->nmoves; i++) {
		if (i < s->nmoves && (len == 0 || len + s->moves[i].from.len <= GROVE__LMDB_SEGMENT_TARGET)) {
			s->moves[i].new_seg = next;
			s->moves[i].new_off = len;
			len += (size_t)s->moves[i].from.len;
			continue;
		}
		if ((rc = write_moved(e, txn, s, first, i, next, len)))
			return rc;
		next++;
		first = i;
		len = 0;
		if (i < s->nmoves)
			i--; /* place this one in the next segment */
	}
	/* Only now the pointers: the copies above must be complete first. */
	for (size_t i = 0; i < s->nmoves; i++) {
		move *m = &s->moves[i];
		grove__lmdb_ptr p = { m->new_seg, m->new_off, m->from.len };
		unsigned char buf[GROVE__LMDB_PTR_MAX];
		MDB_val k = { GROVE_OID_RAWSZ, m->id.id }, v = { 0, buf };
		v.mv_size = grove__lmdb_ptr_encode(buf, &p);
		if ((rc = mdb_put(txn, e->objects, &k, &v, 0)))
			return rc;
	}
	return 0;
}

static int bump_gc_generation(grove__lmdb_env *e, MDB_txn *txn)
{
	MDB_val k = { 13, "gc_generation" }, v;
	unsigned char b[8];
	uint64_t gen = 0;
	int rc = mdb_get(txn, e->meta, &k, &v);

	if (rc == 0 && v.mv_size == 8)
		for (int i = 7; i >= 0; i--)
			gen = gen << 8 | ((const unsigned char *)v.mv_data)[i];
	else if (rc && rc != MDB_NOTFOUND)
		return rc;
	gen++;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(gen >> (8 * i));
	v.mv_size = 8;
	v.mv_data = b;
	return mdb_put(txn, e->meta, &k, &v, 0);
}

static int sweep_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	sweep *s = arg;
	int rc, any_compact = 0;

	sweep_reset(s); /* a retry after map growth starts over */
	/* Pending journal entries get their pointers first: the sweep
	 * accounts segments by the pointers into them. */
	if ((rc = grove__lmdb_journal_merge(e, txn, NULL)))
		return rc;
	if ((rc = load_segments(e, txn, s)) || (rc = remove_pass(e, txn, s)))
		return rc;
	for (size_t i = 0; i < s->nsegs; i++) {
		seg_info *si = &s->segs[i];
		si->compact = si->live > 0 && si->live * 2 < si->size;
		any_compact |= si->compact;
	}
	if (any_compact && (rc = compact(e, txn, s)))
		return rc;
	for (size_t i = 0; i < s->nsegs; i++) {
		seg_info *si = &s->segs[i];
		unsigned char key[GROVE__LMDB_SEGKEY];
		MDB_val k = { sizeof(key), key };
		if (si->live > 0 && !si->compact)
			continue;
		grove__lmdb_seg_key(key, si->id);
		if ((rc = mdb_del(txn, e->segments, &k, NULL)) && rc != MDB_NOTFOUND)
			return rc;
	}
	/* Segments the compaction appended have their pointers too. */
	uint64_t next;
	if ((rc = grove__lmdb_next_segment(e, txn, &next)))
		return rc;
	uint64_t indexed;
	if ((rc = grove__lmdb_journal_indexed(e, txn, &indexed)))
		return rc;
	if (next - 1 > indexed && (rc = grove__lmdb_journal_set_indexed(e, txn, next - 1)))
		return rc;
	return bump_gc_generation(e, txn);
}

int grove__lmdb_remove_unreachable(grove_backend *be,
	int (*keep)(const grove_oid *id, void *payload), void *payload, size_t *removed)
{
	grove__lmdb *h = (grove__lmdb *)be;
	sweep s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.keep = keep;
	s.payload = payload;
	rc = grove__lmdb_write_txn(h, sweep_fn, &s, "removing unreachable objects");
	if (rc == 0 && removed)
		*removed = s.removed;
	sweep_reset(&s);
	return rc;
}
