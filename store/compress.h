/* zlib-format compression (libdeflate), the encoding git uses in packs and
 * loose objects. */
#ifndef GROVE_COMPRESS_H
#define GROVE_COMPRESS_H

#include "grove.h"

/* Compresses into a new buffer at the given level (1..12). */
int grove__zlib_compress(const void *src, size_t len, int level, grove_buf *out);
/* Inflates a zlib stream whose inflated size is known exactly; anything
 * else (short, long, damaged) is GROVE_ECORRUPT. */
int grove__zlib_inflate(const void *src, size_t len, size_t expected, grove_buf *out);
/* Inflates a zlib stream at the start of src whose end is not known (as in
 * a pack): *consumed gets the bytes of src the stream occupied.  The
 * inflated size must be exactly `expected`.  Uses zlib's streaming API. */
int grove__zlib_inflate_prefix(const void *src, size_t len, size_t expected,
	grove_buf *out, size_t *consumed);

#endif
