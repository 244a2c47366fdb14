/*
 * git's binary delta format (gitformat-pack "Deltified representation"):
 * two size varints (base, result) followed by copy and insert opcodes.
 */
#ifndef GROVE_DELTA_H
#define GROVE_DELTA_H

#include "grove.h"

/* Largest result a delta may declare: anything bigger is refused as a
 * "delta bomb" (a few bytes that would expand to gigabytes). */
#define GROVE__DELTA_MAX_RESULT ((size_t)1 << 30)

/*
 * Reads the two size varints at the start of a delta.  GROVE_ECORRUPT if
 * they are truncated or overflow.
 */
int grove__delta_header(const void *delta, size_t len, size_t *base_size, size_t *result_size);

/*
 * Applies delta to base into a new buffer (NUL-terminated; out->size is
 * the result size).  Every malformed delta - sizes that disagree with the
 * base or the produced bytes, copies outside the base, truncated or zero
 * opcodes, a declared result over GROVE__DELTA_MAX_RESULT - is
 * GROVE_ECORRUPT, never an out-of-bounds access.
 */
int grove__delta_apply(const void *base, size_t base_len, const void *delta, size_t delta_len,
	grove_buf *out);
/* The same with an explicit limit on the result size. */
int grove__delta_apply_limit(const void *base, size_t base_len, const void *delta,
	size_t delta_len, size_t max_result, grove_buf *out);

/*
 * Inflates a stored (zlib-compressed) delta whose inflated length is not
 * recorded, bounded by what its header's result size can need.  Defined
 * in object_decode.c.
 */
int grove__delta_inflate(const void *src, size_t len, grove_buf *out);

/*
 * Builds a delta turning base into target.  GROVE_ENOTFOUND when no delta
 * of at most max_delta_len bytes was found (the caller then stores the
 * target whole).
 */
int grove__delta_create(const void *base, size_t base_len, const void *target,
	size_t target_len, size_t max_delta_len, grove_buf *out);

/*
 * The delta of an edit (delta_edit.c): copy the common prefix, insert what
 * differs, copy the common suffix, into out (reset first).
 * GROVE_ENOTFOUND when that would take more than max_delta_len bytes.
 */
#include "sbuf.h"
int grove__delta_edit(const void *base, size_t base_len, const void *target, size_t target_len,
	size_t max_delta_len, grove__sbuf *out);
/* The same when the caller knows the spans: the first pre and the last suf
 * bytes of target equal those of a base of base_len bytes. */
int grove__delta_edit_spans(size_t base_len, const void *target, size_t target_len, size_t pre,
	size_t suf, size_t max_delta_len, grove__sbuf *out);

#endif
