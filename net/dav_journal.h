/*
 * dav_journal.h - what each commit changed, for sync-collection (internal).
 *
 * A sync-collection from token T (a commit) reports the members of one
 * collection that differ between T and the head.  Diffing the two trees
 * costs the size of the collection (its tree is flat: 10,000-100,000
 * entries).  The journal instead remembers, per commit, the leaf changes
 * against its first parent, and answers a sync by walking first parents
 * from the head back to T and uniting the per-commit changes: the cost
 * follows the number of commits and changes since T.
 *
 * A commit's changes are a pure function of its id (objects are
 * immutable), so the journal is one per process, keyed by commit id,
 * shared by every store handle and thread, bounded in memory (oldest
 * commits are forgotten first).  The server's own writes record their
 * commit right after committing (grove__dav_journal_record, while the
 * trees are in the cache); commits from elsewhere (git push, sync) are
 * diffed against their first parent once, when a sync first crosses them.
 *
 * When T is not a first-parent ancestor of the head within
 * DAV_JOURNAL_MAX_WALK commits, or too many commits on the way are
 * unknown, the journal declines and the caller diffs the trees
 * (grove__dav_sync_full).  Both give the same answer.
 */
#ifndef GROVE_NET_DAV_JOURNAL_H
#define GROVE_NET_DAV_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "grove.h"

/* Commits walked back from the head looking for the token's commit. */
#define DAV_JOURNAL_MAX_WALK 1024
/* Commits a single sync may diff to fill the journal before declining. */
#define DAV_JOURNAL_MAX_COMPUTE 64
/* A commit changing more leaves than this keeps no list (a sync crossing it
 * diffs that one commit below the collection instead). */
#define DAV_JOURNAL_MAX_CHANGES 1024
/* Bounds of the whole journal. */
#define DAV_JOURNAL_MAX_COMMITS 4096
#define DAV_JOURNAL_MAX_TOTAL 32768

/* One changed member of a collection. */
typedef struct {
	char *name;            /* the member's name (no '/', never hidden) */
	grove_diff_kind kind;  /* ADDED, REMOVED, MODIFIED */
	grove_oid new_id;      /* zeros when REMOVED */
	uint32_t new_mode;     /* 0 when REMOVED */
} grove__dav_sync_change;

typedef struct {
	grove__dav_sync_change *items;  /* sorted by name (strcmp) */
	size_t count;
} grove__dav_sync_changes;

void grove__dav_sync_changes_dispose(grove__dav_sync_changes *c);

/*
 * The members of the collection at key (its direct, non-hidden leaves)
 * that differ between the commits since and head, from the journal.
 * Returns 0 with *out filled, 1 when the journal cannot answer (the caller
 * falls back to grove__dav_sync_full), < 0 on error.
 */
int grove__dav_journal_changes(grove *g, const grove_oid *since, const grove_oid *head,
			       const char *key, grove__dav_sync_changes *out);

/* The same answer by diffing the two commits' trees below key. */
int grove__dav_sync_full(grove *g, const grove_oid *since, const grove_oid *head,
			 const char *key, grove__dav_sync_changes *out);

/* Remembers what commit changed against its first parent (a no-op when
 * known).  0 or < 0; failures only cost a later sync a diff. */
int grove__dav_journal_record(grove *g, const grove_oid *commit);

/* Forgets everything (tests). */
void grove__dav_journal_clear(void);
/* Commits currently remembered (tests). */
size_t grove__dav_journal_size(void);

#endif
