/* A libgit2 object database backend over a grove store (see transport.h). */
#ifndef GROVE_SYNC_LG2_ODB_H
#define GROVE_SYNC_LG2_ODB_H

#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/refdb_backend.h>

#include "backend.h"
#include "grove.h"
#include "pack.h"

/* Where a received pack goes: indexed into records (deltas kept) that
 * stay here until grove__lg2_sink_dispose. */
typedef struct {
	grove *g;
	grove__pack_indexer *ix;
	grove__object *recs;
	size_t n, cap;
	uint64_t bytes;
	unsigned char header[12];
	uint32_t total_objects;
	/* Progress and cancellation: a non-zero return stops the transfer. */
	int (*progress)(void *payload, grove_sync_stage stage, uint64_t current, uint64_t total,
		uint64_t bytes);
	void *payload;
	/* A failure of our own (indexing, limits), kept with grove's code and
	 * message, because libgit2 reports only its own. */
	int failed_code;
	char *failed_msg;
} grove__lg2_sink;

/* A backend reading from g; packs libgit2 writes go into sink. */
int grove__lg2_odb_backend_new(git_odb_backend **out, grove *g, grove__lg2_sink *sink);

void grove__lg2_sink_dispose(grove__lg2_sink *sink);

/* An in-memory ref database (lg2_refdb.c): g's branches, tracking refs and
 * tags (none when g is NULL), plus whatever libgit2 writes. */
int grove__lg2_refdb_backend_new(git_refdb_backend **out, grove *g);

/* Feeds received pack bytes to the sink's indexer (created on first use),
 * then finishes it: records in sink->recs.  grove error codes; the native
 * git:// client uses these directly, libgit2 through writepack. */
int grove__lg2_sink_append(grove__lg2_sink *sink, const void *data, size_t size);
int grove__lg2_sink_finish(grove__lg2_sink *sink, grove__pack_index_stats *stats);

#endif
