/* A small toolkit for walking commit graphs: a table of commits seen, with
 * flags, and a priority queue ordered by commit time (newest first). */
#ifndef GROVE_COMMIT_WALK_H
#define GROVE_COMMIT_WALK_H

#include "store.h"

typedef struct {
	grove_oid id;
	grove_oid tree;      /* once parsed: the root tree (zero if unreadable) */
	int64_t time;
	grove_oid *parents;
	size_t parent_count;
	unsigned flags;
	int parsed;
} grove__cnode;

typedef struct {
	grove *g;
	grove__cnode **slots; /* open addressing */
	size_t cap, count;
	grove__cnode **heap;
	size_t heap_len, heap_cap;
	uint64_t seq;
} grove__cwalk;

void grove__cwalk_init(grove__cwalk *w, grove *g);
void grove__cwalk_dispose(grove__cwalk *w);
/* The node for id (created on first use); parse loads parents, time and tree. */
int grove__cwalk_get(grove__cwalk *w, const grove_oid *id, int parse, grove__cnode **out);
int grove__cwalk_push(grove__cwalk *w, grove__cnode *c);
grove__cnode *grove__cwalk_pop(grove__cwalk *w);

#endif
