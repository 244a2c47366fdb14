/*
 * dav_report_index.h - what the REPORTs and PUT preconditions know about a
 * calendar or address object without parsing it again (internal).
 *
 * Entries are keyed by blob id, so they never go stale: a changed object
 * is a new blob.  The cache is bounded (a fixed number of slots, entries
 * replaced on collision) and safe to use from any thread.
 */
#ifndef GROVE_NET_DAV_REPORT_INDEX_H
#define GROVE_NET_DAV_REPORT_INDEX_H

#include <stdint.h>

#include "dav_report.h"

#define DAV_SUM_VEVENT 1u
#define DAV_SUM_VTODO 2u
#define DAV_SUM_VJOURNAL 4u
#define DAV_SUM_VFREEBUSY 8u

#define DAV_SUM_MAX_SPANS 64

typedef struct {
	grove__dav_family family;
	char *uid;         /* the object's UID, or NULL */
	int uid_mixed;     /* some component lacks uid or has another UID */
	unsigned kinds;    /* DAV_SUM_* of the components present */
	int bounded;       /* [start, end] covers every instance */
	int floating;      /* span computed with floating times in UTC */
	time_t start, end;
	/* VEVENTs only, bounded, every instance with a start, at most
	 * DAV_SUM_MAX_SPANS of them: the instances as (start, end) pairs,
	 * so a plain time-range query decides without parsing; else NULL */
	time_t *spans;
	size_t nspans;
	int bad;           /* the data does not parse */
} grove__dav_summary;

/* The summary of the object stored as blob (data: its bytes if at hand,
 * else NULL to read them).  Returns 0 or a grove error code. */
int grove__dav_summary_get(grove *g, const grove_oid *blob, grove__dav_family fam,
			   const char *data, size_t len, grove__dav_summary *out);
void grove__dav_summary_dispose(grove__dav_summary *s);
/* A hint that blob's summary is about to be asked for. */
void grove__dav_summary_prefetch(const grove_oid *blob);
/* Calls fn with the summary of blob, without copying it: under the index's
 * lock when it is cached, so fn must be quick and take no locks (a query's
 * per-member test).  Returns fn's result or a grove error code. */
int grove__dav_summary_visit(grove *g, const grove_oid *blob, grove__dav_family fam,
	int (*fn)(const grove__dav_summary *s, void *arg), void *arg);
/* 1 when the object's UID is uid, 0 when not, or a grove error code (no
 * copy is made on a cache hit). */
int grove__dav_summary_has_uid(grove *g, const grove_oid *blob, grove__dav_family fam,
			       const char *uid);
/* Looks for a member whose UID is uid among entries (a collection
 * listing; directories, hidden names and skip are left out): 1 with its
 * index in *index_out, 0 when none, or a grove error code. */
int grove__dav_summary_find_uid(grove *g, grove__dav_family fam, const grove_entry *entries,
				size_t count, const char *uid, const char *skip, size_t *index_out);
/* Looks for a member of the collection coll ("user/calendars/name") of
 * view whose UID is uid, leaving out the member named skip: 1 with its
 * name in *name_out (free() it), 0 when none, or a grove error code.
 * Answers from a per-collection UID map valid for the collection's tree
 * id; a changed tree derives its map from the previous one, summarising
 * only the members whose blob changed. */
int grove__dav_uid_map_find(grove *g, grove_view *view, grove__dav_family fam, const char *coll,
			    const char *uid, const char *skip, char **name_out);
/* After a write that set the one member name of the collection coll to
 * blob (whose UID is uid, NULL when none) and so moved the collection
 * tree from old_tree to new_tree: brings a cached map of old_tree forward
 * to new_tree in place, with no listing of the collection (a PUT into a
 * 10,000-member collection otherwise walks all of them on the next UID
 * check).  Does nothing when no map of old_tree is cached or the change
 * is not that simple (the member's UID changed; the tables are full):
 * the next grove__dav_uid_map_find then derives the map as before. */
void grove__dav_uid_map_note_set(grove__dav_family fam, const char *coll,
				 const grove_oid *old_tree, const grove_oid *new_tree,
				 const char *name, const grove_oid *blob, const char *uid);
/* 0 when the object certainly fails a filter that needs every kind in
 * need_kinds and (has_range) an instance in [lo, hi); 1 when it may match. */
int grove__dav_summary_may_match(const grove__dav_summary *s, unsigned need_kinds,
				 int has_range, time_t lo, time_t hi);

#endif
