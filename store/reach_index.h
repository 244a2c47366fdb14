/*
 * The reachability index: every object reachable from one commit (the
 * HEAD branch's tip when it was built), in the order a pack sends them:
 * commits newest first, then each commit's new trees and blobs.  A full
 * clone of that commit, or of a history containing it, then needs no walk
 * of the trees: git's reachability bitmaps play this part for git's own
 * server.  Objects are immutable, so an index stays true for as long as
 * its commit exists; import and gc rebuild it for the current HEAD (with
 * HEAD unborn: the newest branch head).
 *
 * Kept as the backend's auxiliary entry "reach" (lmdb, mem):
 *   "GRX1", commit id, u32le count, u32le commits,
 *   count type bytes (grove_otype), count ids; the first `commits`
 *   entries are the commits, the first of them the index's commit.
 */
#ifndef GROVE_REACH_INDEX_H
#define GROVE_REACH_INDEX_H

#include <stdint.h>

#include "store.h"

typedef struct {
	grove_oid commit;
	size_t count;               /* objects */
	size_t commits;             /* the first `commits` ids are commits */
	const unsigned char *types; /* grove_otype of each object */
	const grove_oid *ids;       /* send order */
	grove_buf buf;              /* owns types and ids */
} grove__reach_index;

/* The store's index: GROVE_ENOTFOUND if it has none (or its backend keeps
 * none), GROVE_ECORRUPT if the entry is damaged. */
int grove__reach_index_read(grove *g, grove__reach_index *out);
void grove__reach_index_dispose(grove__reach_index *ri);

/* Builds the encoded index of commit into out (exposed for tests). */
int grove__reach_index_build(grove *g, const grove_oid *commit, grove__sbuf *out);

/* Makes the index describe HEAD's commit (the newest branch's when HEAD is
 * unborn; removes it when there is no branch);
 * 0 without doing anything when the backend keeps no auxiliary data or
 * the index is current. */
int grove__reach_index_update(grove *g);

#endif
