/* Object ids and git's object hash: SHA-1 over "<type> <size>\0<content>". */
#ifndef GROVE_OID_H
#define GROVE_OID_H

#include "grove.h"

typedef struct grove__hasher grove__hasher;

/* A streaming SHA-1; the hasher is reusable after final. */
int grove__hasher_new(grove__hasher **out);
void grove__hasher_free(grove__hasher *h);
int grove__hasher_begin(grove__hasher *h);
int grove__hasher_update(grove__hasher *h, const void *data, size_t len);
int grove__hasher_final(grove__hasher *h, grove_oid *out);

/* Hashes an object header and content on a per-thread hasher. */
int grove__object_hash(grove_otype type, const void *data, size_t size, grove_oid *out);
/* Writes "<type> <size>" and a NUL into buf (at least 32 bytes); returns the
 * length including the NUL. */
size_t grove__object_header(char *buf, grove_otype type, size_t size);

/* Plain SHA-1 of bytes (used for pack trailers). */
int grove__sha1(const void *data, size_t len, unsigned char out[20]);

static inline int grove__oid_equal(const grove_oid *a, const grove_oid *b)
{
	return __builtin_memcmp(a->id, b->id, GROVE_OID_RAWSZ) == 0;
}

extern const grove_oid grove__oid_zero;

#endif
