/*
 * A set of object ids (open addressing), for walks that must visit each
 * object once: fsck, gc.  20 bytes per id plus the table's slack; no
 * object contents.
 */
#ifndef GROVE_OIDSET_H
#define GROVE_OIDSET_H

#include <stddef.h>

#include "grove.h"

typedef struct {
	grove_oid *slots;   /* zero id = empty slot */
	size_t cap;         /* power of two, or 0 */
	size_t count;
	int has_zero;       /* the all-zero id is kept out of band */
} grove__oidset;

#define GROVE__OIDSET_INIT { NULL, 0, 0, 0 }

/* 1 if id was added, 0 if it was already there, GROVE_ENOMEM. */
int grove__oidset_add(grove__oidset *set, const grove_oid *id);
int grove__oidset_contains(const grove__oidset *set, const grove_oid *id);
void grove__oidset_dispose(grove__oidset *set);

/* A growable array of object ids: a walk's stack, a list in order. */
typedef struct {
	grove_oid *ids;
	size_t count, cap;
} grove__oidvec;

#define GROVE__OIDVEC_INIT { NULL, 0, 0 }

/* Appends id; GROVE_ENOMEM leaves the array as it was. */
int grove__oidvec_push(grove__oidvec *v, const grove_oid *id);
void grove__oidvec_dispose(grove__oidvec *v);

#endif
