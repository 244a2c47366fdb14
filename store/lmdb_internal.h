/*
 * Internals of the LMDB backend, shared by backend_lmdb.c (the vtable),
 * lmdb_env.c (environments, read transactions, map growth, flushing),
 * lmdb_record.c (the stored record format), lmdb_write.c (writes) and
 * lmdb_gc.c (the garbage sweep).
 *
 * Layout (format 4; format 3 added the inflated delta length to DELTA
 * records, see lmdb_record.c; format 4 the peeled-ref cache, lmdb_peel.c).  The "objects" DB maps a 20-byte id either to the
 * record itself (records of small writes: one lookup, and LMDB gives one
 * of more than ~2 KB overflow pages of its own) or to a pointer
 * (segment, offset, length) into the "segments" DB, whose values
 * are records packed back to back into chunks of up to
 * GROVE__LMDB_SEGMENT_TARGET bytes under sequential 8-byte big-endian
 * keys, appended with MDB_APPEND.  Why: a record of more than ~2 KB in a
 * B-tree takes whole overflow pages (half a page lost on average) and
 * random ids leave leaf pages a third empty, and every batch of random
 * inserts copies most leaf pages, so the DB holding bytes must be small
 * or sequential.  A pack received whole therefore goes entirely into
 * segments (a write set of GROVE__LMDB_BULK_MIN objects or more), with
 * the objects DB as a compact index.  A single commit (a few objects)
 * stays inline: packing its one or two large trees into a segment saved
 * no space and cost ~9% of W1's commit rate (measured).
 */
#ifndef GROVE_LMDB_INTERNAL_H
#define GROVE_LMDB_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"

/* The on-disk format version kept in the meta DB. */
#define GROVE__LMDB_FORMAT 5u
#define GROVE__LMDB_DEFAULT_MAP ((size_t)64 << 20)
#define GROVE__LMDB_DEFAULT_HEAD "refs/heads/main"

/* Write sets with at least this many objects put every record into
 * segments (imports, received packs, large commits); smaller ones keep
 * their records inline. */
#define GROVE__LMDB_BULK_MIN 64
/* Size a segment is filled up to; a larger record gets one of its own. */
#define GROVE__LMDB_SEGMENT_TARGET ((size_t)512 << 10)

/* Reset read transactions kept for reuse.  Each holds a reader slot in
 * the lock file, so this stays well below the reader table size. */
#define GROVE__LMDB_SLOTS 32
#define GROVE__LMDB_MAX_READERS 1024

/* A segment as seen in one snapshot: where its value lies in the map. */
typedef struct {
	uint64_t seg; /* 0: empty */
	const void *data;
	size_t size;
} grove__lmdb_segref;

#define GROVE__LMDB_SEGCACHE 8

typedef struct {
	_Alignas(64) atomic_int busy;
	MDB_txn *txn; /* NULL until first used, then reset between uses */
	/*
	 * Segments this slot's txn looked up, so a read of a segment record
	 * costs one B-tree lookup, not two.  Valid while a renewed txn has the
	 * same id (the same snapshot: no commit since, so no page of it was
	 * freed) and the map was not moved (map_gen).
	 */
	size_t cache_txnid;
	unsigned cache_gen;
	grove__lmdb_segref cache[GROVE__LMDB_SEGCACHE];
} grove__lmdb_slot;

/*
 * One LMDB environment.  LMDB forbids opening the same environment twice in
 * one process (its fcntl locks are per process), so every handle on the
 * same directory shares one of these through a process-wide registry.
 */
typedef struct grove__lmdb_jindex grove__lmdb_jindex;

typedef struct grove__lmdb_env {
	struct grove__lmdb_env *next; /* registry list */
	dev_t dev;
	ino_t ino;
	pid_t pid;    /* the opening process: a forked child must not reuse it */
	int refcount; /* guarded by the registry mutex */

	char *path;
	MDB_env *env;
	MDB_dbi objects, refs, meta, segments;
	int read_only; /* opened MDB_RDONLY */
	int nosync;    /* opened MDB_NOSYNC (GROVE_RELAXED); the flusher runs */
	int writemap;  /* opened MDB_WRITEMAP, the whole map's file space reserved */

	/*
	 * LMDB may change the map size only while no transaction of the
	 * process is active.  A cheap "big reader" lock guards that: a thread
	 * with a transaction is registered either by its busy pool slot or in
	 * `active_other` (unpooled read txns, write txns).  A resize takes
	 * resize_mu, raises `resizing` (new transactions then wait on
	 * resize_mu) and waits until nothing is registered.  Readers touch
	 * only their own slot's cache line, so they scale across cores.
	 */
	atomic_int resizing;
	atomic_int active_other;
	atomic_uint map_gen; /* bumped when the map may have moved */
	pthread_mutex_t resize_mu;
	grove__lmdb_slot slots[GROVE__LMDB_SLOTS];

	/* Background flusher (nosync only). */
	pthread_t flusher;
	int flusher_running;
	pthread_mutex_t flush_mu;
	pthread_cond_t flush_cv;
	int flush_stop;
	unsigned sync_interval_ms;
	atomic_uint_fast64_t commits; /* commits since open */
	atomic_uint_fast64_t synced;  /* value of commits at the last sync */
	atomic_int sync_error;        /* errno of the last failed background sync */

	grove__lmdb_jindex *jindex; /* pending journal entries seen (lmdb_journal.c) */

	/* Dropping the map's resident pages now and then (lmdb_env.c). */
	pthread_mutex_t drop_mu;
	void *map_addr;        /* where data.mdb is mapped; NULL: not found yet */
	size_t map_len;
	unsigned map_addr_gen; /* map_gen when map_addr was read */
	atomic_uint_fast64_t txns_since_drop;
	atomic_uint_fast64_t last_drop_ms;
} grove__lmdb_env;

/* A backend handle: a view on a shared environment with its own options. */
typedef struct {
	grove_backend base;
	grove__lmdb_env *e;
	int read_only;
	int durable; /* sync after each commit even when the env is nosync */
} grove__lmdb;

/* --- environments (lmdb_env.c) ------------------------------------- */

int grove__lmdb_env_acquire(grove__lmdb_env **out, const char *path, const grove_options *opts);
void grove__lmdb_env_release(grove__lmdb_env *e);

/* Maps an LMDB or errno code to a grove code, setting "lmdb: what: msg". */
int grove__lmdb_error(const grove__lmdb_env *e, int rc, const char *what);

/* A read transaction borrowed from the pool (or fresh when it is empty). */
typedef struct {
	MDB_txn *txn;
	grove__lmdb_slot *slot; /* NULL for a fresh transaction */
	int registered;         /* how the thread was registered, for read_end */
	grove__lmdb_segref *segcache; /* the slot's, valid for txn; NULL if none */
} grove__lmdb_rtxn;

int grove__lmdb_read_begin(grove__lmdb_env *e, grove__lmdb_rtxn *rt);
void grove__lmdb_read_end(grove__lmdb_env *e, grove__lmdb_rtxn *rt);

/*
 * Runs fn inside one write transaction and commits it.  fn returns 0, an
 * LMDB code (the transaction is aborted and, for MDB_MAP_FULL, the map is
 * grown and fn run again from scratch) or a grove code with its message
 * already set (aborted, returned as is).  Syncs as the durability asks.
 */
typedef int (*grove__lmdb_write_fn)(grove__lmdb_env *e, MDB_txn *txn, void *arg);
int grove__lmdb_write_txn(grove__lmdb *h, grove__lmdb_write_fn fn, void *arg, const char *what);

/* Auxiliary data in the meta DB (lmdb_aux.c): the backend's aux_get/aux_put. */
int grove__lmdb_aux_get(grove_backend *be, const char *name, grove_buf *out);
int grove__lmdb_aux_put(grove_backend *be, const char *name, const void *data, size_t len);

/* Syncs the data file now (no-op on a read-only env). */
int grove__lmdb_sync(grove__lmdb_env *e);

/* --- records (lmdb_record.c) --------------------------------------- */

/*
 * A stored object: one header byte (encoding << 4 | type), the full size as
 * a LEB128 varint, for deltas the 20-byte base id and the inflated length
 * of the delta stream (LEB128, never 0: a pack writer sending the delta as
 * is needs it for the entry header and would otherwise inflate the stream
 * just to measure it), then the record bytes.
 */
#define GROVE__LMDB_HDR_MAX (1 + 10 + GROVE_OID_RAWSZ + 10)

typedef struct {
	grove__encoding encoding;
	grove_otype type;
	size_t size;
	const unsigned char *base; /* GROVE__ENC_DELTA only */
	const unsigned char *data;
	size_t data_len;
	size_t data_size; /* inflated length of data: ZLIB (= size), DELTA; 0 for PLAIN */
} grove__lmdb_rec;

/* Writes the header for obj into buf, returns its length.  A DELTA needs
 * obj->data_size set (the writer computes it when the caller left it 0). */
size_t grove__lmdb_rec_header(unsigned char *buf, const grove__object *obj);
/* Parses a stored value; NULL on success, else what is wrong with it. */
const char *grove__lmdb_rec_parse(const void *val, size_t len, grove__lmdb_rec *out);

/*
 * A segment pointer in the objects DB: the tag byte (an encoding no record
 * has), then segment number, offset and length as LEB128 varints.
 */
#define GROVE__LMDB_PTR_TAG 0xf0u
#define GROVE__LMDB_PTR_MAX (1 + 3 * 10)

typedef struct {
	uint64_t seg;
	uint64_t off;
	uint64_t len;
} grove__lmdb_ptr;

static inline int grove__lmdb_is_ptr(const void *val, size_t len)
{
	return len > 0 && *(const unsigned char *)val == GROVE__LMDB_PTR_TAG;
}

/* LEB128 numbers as the records and pointers use them: put returns the
 * bytes written (at most 10); get returns NULL or what is wrong, and
 * advances *p. */
size_t grove__lmdb_put_varint(unsigned char *buf, uint64_t v);
const char *grove__lmdb_get_varint(const unsigned char **p, const unsigned char *end,
	uint64_t *out);

size_t grove__lmdb_ptr_encode(unsigned char *buf, const grove__lmdb_ptr *p);
/* NULL on success, else what is wrong with the value. */
const char *grove__lmdb_ptr_parse(const void *val, size_t len, grove__lmdb_ptr *out);

/* Segment keys: 8 bytes big-endian, so byte order is numeric order. */
#define GROVE__LMDB_SEGKEY 8
void grove__lmdb_seg_key(unsigned char key[GROVE__LMDB_SEGKEY], uint64_t seg);
uint64_t grove__lmdb_seg_id(const unsigned char key[GROVE__LMDB_SEGKEY]);

/*
 * Looks up id in txn and parses its record, following a segment pointer.
 * rec points into the map (valid while txn is).  GROVE_ENOTFOUND, or
 * GROVE_ECORRUPT for a damaged record or pointer, with the message set.
 * raw, when not NULL, receives the value in the objects DB.  cache: the
 * read txn's segment cache (NULL: none).
 */
int grove__lmdb_get_record(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache,
	const grove_oid *id, grove__lmdb_rec *rec, MDB_val *raw);
/* Resolves an objects DB value (record or pointer) to the record bytes. */
int grove__lmdb_resolve(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache,
	const grove_oid *id, const MDB_val *val, MDB_val *out);
/* --- the peeled-ref cache (lmdb_peel.c) ----------------------------- */

/* What a refs DB value says about the peel of the ref's id. */
#define GROVE__LMDB_PEEL_UNKNOWN 0 /* 20-byte value: readers peel by reading */
#define GROVE__LMDB_PEEL_NONE 1    /* not an annotated tag */
#define GROVE__LMDB_PEEL_TAG 2     /* an annotated tag; the peeled id follows */
#define GROVE__LMDB_REF_MAX (2 * GROVE_OID_RAWSZ + 1)

/* Encodes a refs DB value into buf (GROVE__LMDB_REF_MAX bytes), returns its length. */
size_t grove__lmdb_ref_encode(unsigned char *buf, const grove_oid *id, int state,
	const grove_oid *peeled);
/* Parses a refs DB value; NULL on success, else what is wrong.  peeled may be NULL. */
const char *grove__lmdb_ref_parse(const void *val, size_t len, grove_oid *id, int *state,
	grove_oid *peeled);
/* Works out, before the write transaction, the peel state of each ref
 * update's new id (objects in ws count as present).  Failures to read
 * make a state unknown; only GROVE_ENOMEM is returned. */
int grove__lmdb_peel_refs(grove_backend *be, const grove__write_set *ws, unsigned char *states,
	grove_oid *peeled);

/* --- the journal (lmdb_journal.c) ------------------------------------ */

/* Write sets whose records total at most this go to the journal. */
#define GROVE__LMDB_JOURNAL_MAX ((size_t)1 << 20)

int grove__lmdb_jindex_new(grove__lmdb_jindex **out);
void grove__lmdb_jindex_free(grove__lmdb_jindex *x);
/* The highest segment number whose objects have pointers (meta DB). */
int grove__lmdb_journal_indexed(grove__lmdb_env *e, MDB_txn *txn, uint64_t *out);
int grove__lmdb_journal_set_indexed(grove__lmdb_env *e, MDB_txn *txn, uint64_t seg);
/* Appends the absent objects of ws as one journal segment (merging the
 * pending ones first when there are many).  Write txns only. */
int grove__lmdb_journal_append(grove__lmdb_env *e, MDB_txn *txn, const grove__write_set *ws);
/* Puts the pointers of every pending journal entry; indexed_out (may be
 * NULL) receives the new journal_indexed.  Write txns only. */
int grove__lmdb_journal_merge(grove__lmdb_env *e, MDB_txn *txn, uint64_t *indexed_out);
/* Looks id up among the pending journal entries of a read txn's snapshot:
 * 0 with the record bytes in out, 1 when absent, else an error code
 * (LMDB's or grove's).  cache: the txn's segment cache or NULL. */
int grove__lmdb_journal_find(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache,
	const grove_oid *id, MDB_val *out);
/* The pending ids of txn's snapshot that the objects DB lacks, sorted and
 * unique (malloc'd; the caller frees *ids). */
int grove__lmdb_journal_pending_ids(grove__lmdb_env *e, MDB_txn *txn, grove_oid **ids,
	size_t *count);

/* Indexes every pending journal entry now (its own write txn; a no-op
 * when nothing is pending or the store is read-only). */
int grove__lmdb_journal_flush(grove_backend *be);

/* The number the next appended segment gets (lmdb_write.c). */
int grove__lmdb_next_segment(grove__lmdb_env *e, MDB_txn *txn, uint64_t *out);

#endif
