/*
 * Objects built in memory and not yet written: a transaction's staged
 * blobs and trees, a merge's results.  An array in the order added, with
 * an open-addressing index by id; each object is kept once.
 */
#ifndef GROVE_PENDING_H
#define GROVE_PENDING_H

#include "backend.h"

typedef struct {
	grove_oid id;
	grove_otype type;
	void *data;
	size_t size;
	int live; /* set by the owner: the final write needs this object */
	/* When set, how the object is written: a zlib stream of a git delta
	 * (inflating to delta_size bytes) against base.  data stays whole. */
	void *delta;
	size_t delta_len, delta_size;
	grove_oid base;
} grove__pending_obj;

typedef struct {
	grove__pending_obj *objs;
	size_t n, cap;
	uint32_t *index; /* open addressing, index + 1 into objs; 0 = empty */
	size_t index_cap;
} grove__pending;

/* The position of id in p->objs, or -1. */
long grove__pending_find(const grove__pending *p, const grove_oid *id);
/* Keeps an object (not live) unless one with its id is kept already;
 * takes ownership of data (freed when not kept, and on failure too). */
int grove__pending_add(grove__pending *p, grove_otype type, void *data, size_t size, grove_oid *id_out);
/* Has the object at pos written as a delta (takes ownership of zdelta,
 * freed on failure too). */
void grove__pending_set_delta(grove__pending *p, size_t pos, const grove_oid *base, void *zdelta,
	size_t zlen, size_t delta_size);
/* Drops (and frees) every object from position n on. */
void grove__pending_truncate(grove__pending *p, size_t n);
/* The live objects as plain records pointing at p's data; *out is
 * allocated (free it), *count may be 0. */
int grove__pending_live_records(const grove__pending *p, grove__object **out, size_t *count);
void grove__pending_dispose(grove__pending *p);

#endif
