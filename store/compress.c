#include "compress.h"
#include "error.h"

#include <libdeflate.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>

/* libdeflate objects are not thread-safe; keep one of each per thread,
 * freed at thread exit through a key destructor. */
typedef struct {
	struct libdeflate_compressor *compressors[13];
	struct libdeflate_decompressor *decompressor;
} codec_set;

static _Thread_local codec_set *codecs;
static pthread_key_t codec_key;
static pthread_once_t codec_once = PTHREAD_ONCE_INIT;

static void codec_free(void *p)
{
	codec_set *c = p;
	for (int i = 0; i < 13; i++)
		if (c->compressors[i])
			libdeflate_free_compressor(c->compressors[i]);
	if (c->decompressor)
		libdeflate_free_decompressor(c->decompressor);
	free(c);
}

static void codec_key_make(void)
{
	pthread_key_create(&codec_key, codec_free);
}

static codec_set *thread_codecs(void)
{
	if (codecs)
		return codecs;
	codecs = calloc(1, sizeof(*codecs));
	if (!codecs)
		return NULL;
	pthread_once(&codec_once, codec_key_make);
	pthread_setspecific(codec_key, codecs);
	return codecs;
}

int grove__zlib_compress(const void *src, size_t len, int level, grove_buf *out)
{
	struct libdeflate_compressor *c;
	size_t bound, n;
	void *dst;

	codec_set *set = thread_codecs();
	if (!set)
		return grove__error_oom();
	if (level < 1 || level > 12)
		level = 1;
	c = set->compressors[level];
	if (!c) {
		c = libdeflate_alloc_compressor(level);
		if (!c)
			return grove__error_oom();
		set->compressors[level] = c;
	}
	bound = libdeflate_zlib_compress_bound(c, len);
	dst = grove__malloc(bound);
	if (!dst)
		return GROVE_ENOMEM;
	n = libdeflate_zlib_compress(c, src, len, dst, bound);
	if (n == 0) {
		free(dst);
		return grove__error_set(GROVE_ERROR, "compression failed");
	}
	out->data = dst;
	out->size = n;
	return 0;
}

int grove__zlib_inflate(const void *src, size_t len, size_t expected, grove_buf *out)
{
	size_t actual = 0;
	enum libdeflate_result r;
	void *dst;

	codec_set *set = thread_codecs();
	if (!set)
		return grove__error_oom();
	if (!set->decompressor) {
		set->decompressor = libdeflate_alloc_decompressor();
		if (!set->decompressor)
			return grove__error_oom();
	}
	dst = grove__malloc(expected + 1);
	if (!dst)
		return GROVE_ENOMEM;
	r = libdeflate_zlib_decompress(set->decompressor, src, len, dst, expected, &actual);
	if (r != LIBDEFLATE_SUCCESS || actual != expected) {
		free(dst);
		return grove__error_set(GROVE_ECORRUPT, "damaged compressed data (inflated %zu of %zu bytes)",
			actual, expected);
	}
	((char *)dst)[expected] = '\0';
	out->data = dst;
	out->size = expected;
	return 0;
}

int grove__zlib_inflate_prefix(const void *src, size_t len, size_t expected,
	grove_buf *out, size_t *consumed)
{
	z_stream zs = { 0 };
	unsigned char *dst;
	int zr;

	/* zlib's avail counters are 32-bit. */
	if (len > UINT_MAX || expected > UINT_MAX - 1)
		return grove__error_set(GROVE_EUNSUPPORTED, "object too large (%zu bytes)", expected);
	dst = grove__malloc(expected + 1);
	if (!dst)
		return GROVE_ENOMEM;
	if (inflateInit(&zs) != Z_OK) {
		free(dst);
		return grove__error_oom();
	}
	zs.next_in = (unsigned char *)src;
	zs.avail_in = (unsigned)len;
	zs.next_out = dst;
	/* One spare byte lets us detect a stream that inflates too long. */
	zs.avail_out = (unsigned)expected + 1;
	zr = inflate(&zs, Z_FINISH);
	if (zr != Z_STREAM_END || zs.total_out != expected) {
		inflateEnd(&zs);
		free(dst);
		if (zr == Z_BUF_ERROR && zs.avail_in == 0)
			return grove__error_set(GROVE_ECORRUPT, "truncated compressed data");
		return grove__error_set(GROVE_ECORRUPT, "damaged compressed data (inflated %lu, expected %zu)",
			zs.total_out, expected);
	}
	*consumed = len - zs.avail_in;
	inflateEnd(&zs);
	dst[expected] = '\0';
	out->data = dst;
	out->size = expected;
	return 0;
}
