/*
 * git packfiles (gitformat-pack): indexing a received pack into object
 * records, and writing a pack from a backend's records.
 */
#ifndef GROVE_PACK_H
#define GROVE_PACK_H

#include "backend.h"

/* Pack entry types as they appear in an entry header. */
enum {
	GROVE__PACK_COMMIT = 1,
	GROVE__PACK_TREE = 2,
	GROVE__PACK_BLOB = 3,
	GROVE__PACK_TAG = 4,
	GROVE__PACK_OFS_DELTA = 6,
	GROVE__PACK_REF_DELTA = 7
};

#define GROVE__PACK_HEADER_LEN 12
#define GROVE__PACK_TRAILER_LEN 20

/* ------------------------------------------------------------------ */
/* Indexing (the work of `git index-pack`)                             */

/*
 * Receives resolved records in batches.  Records point into the pack
 * bytes (valid while the indexer / the caller's pack buffer lives).  Bases
 * are always delivered before the deltas against them; a delta against a
 * thin-pack base refers to an object the caller's lookup_base supplied.
 * A non-zero return stops indexing and is returned.
 */
typedef int (*grove__pack_records_cb)(void *payload, const grove__object *records, size_t count);

/* Supplies a thin pack's external base: GROVE_ENOTFOUND if unknown. */
typedef int (*grove__pack_base_cb)(void *payload, const grove_oid *id, grove_otype *type,
	grove_buf *content);

typedef struct {
	/* Limits; 0 selects the default given. */
	size_t max_objects;       /* 10,000,000 */
	size_t max_object_size;   /* 1 GiB: declared entry and delta result sizes */
	unsigned max_delta_depth; /* 10,000 */
	size_t max_pack_size;     /* 8 GiB (4 GiB on 32-bit) */
	size_t max_chain_memory;  /* 2 GiB of bases held while resolving one chain */

	int strict;               /* run git fsck's rules on every object */

	grove__pack_base_cb lookup_base; /* NULL: thin packs are refused */
	void *lookup_payload;

	grove__pack_records_cb deliver;  /* may be NULL (validate only) */
	void *deliver_payload;
	size_t batch_size;               /* records per callback; default 1024 */
} grove__pack_index_opts;

typedef struct {
	size_t object_count;   /* entries in the pack */
	size_t delta_count;    /* of which deltas */
	size_t thin_bases;     /* distinct external bases used */
	unsigned max_depth;    /* longest delta chain */
	unsigned char checksum[GROVE__PACK_TRAILER_LEN];
} grove__pack_index_stats;

/*
 * Validates and indexes a complete pack in memory.  Errors:
 * GROVE_ECORRUPT for damaged data (bad header, checksum, entry, zlib,
 * delta) and GROVE_EINVALID for limits exceeded or a missing thin base,
 * with a message naming the entry offset.  stats may be NULL.
 */
int grove__pack_index(const void *pack, size_t len, const grove__pack_index_opts *opts,
	grove__pack_index_stats *stats);

/*
 * The same fed incrementally (e.g. from a socket): append bytes as they
 * arrive, then finish.  The indexer keeps the bytes, so records delivered
 * by finish stay valid until grove__pack_indexer_free.  (Today the work
 * happens in finish; append only checks the size limit.)
 */
typedef struct grove__pack_indexer grove__pack_indexer;
int grove__pack_indexer_new(grove__pack_indexer **out, const grove__pack_index_opts *opts);
int grove__pack_indexer_append(grove__pack_indexer *ix, const void *data, size_t len);
int grove__pack_indexer_finish(grove__pack_indexer *ix, grove__pack_index_stats *stats);
void grove__pack_indexer_free(grove__pack_indexer *ix);

/* ------------------------------------------------------------------ */
/* Writing                                                              */

typedef struct {
	/* Receives the pack as it is produced; non-zero stops and is returned. */
	int (*write)(void *payload, const void *data, size_t len);
	void *write_payload;

	/* Thin packs: deltas against objects the receiver has (1) may be sent
	 * as REF_DELTA without the base.  NULL or allow_thin == 0: never. */
	int allow_thin;
	int (*client_has)(void *payload, const grove_oid *id);
	void *client_payload;

	int compression_level; /* 1..6 for plain records; default 1 */
} grove__pack_write_opts;

typedef struct {
	size_t object_count;
	size_t reused_deltas;  /* stored deltas sent as OFS/REF_DELTA */
	size_t reused_zlib;    /* stored zlib streams copied verbatim */
	size_t inflated;       /* deltas sent whole (base not available) */
	unsigned char checksum[GROVE__PACK_TRAILER_LEN];
} grove__pack_write_stats;

/*
 * Streams a version 2 pack holding the objects ids (duplicates ignored)
 * read from be.  Bases in the set are written before their deltas.
 * GROVE_ENOTFOUND (with the id) if an object is missing.
 */
int grove__pack_write(grove_backend *be, const grove_oid *ids, size_t count,
	const grove__pack_write_opts *opts, grove__pack_write_stats *stats);

#endif
