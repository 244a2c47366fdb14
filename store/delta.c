/* Applying git deltas with full bounds checking. */
#include "delta.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A delta size varint: 7 bits per byte, least significant first. */
static int read_varint(const unsigned char **p, const unsigned char *end, size_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (*p >= end)
			return grove__error_set(GROVE_ECORRUPT, "delta header truncated");
		if (shift > 63)
			return grove__error_set(GROVE_ECORRUPT, "delta header size overflows");
		c = *(*p)++;
		if (shift == 63 && (c & 0x7e))
			return grove__error_set(GROVE_ECORRUPT, "delta header size overflows");
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	if (v > SIZE_MAX)
		return grove__error_set(GROVE_ECORRUPT, "delta header size overflows");
	*out = (size_t)v;
	return 0;
}

int grove__delta_header(const void *delta, size_t len, size_t *base_size, size_t *result_size)
{
	const unsigned char *p = delta, *end = p + len;
	int rc;

	if ((rc = read_varint(&p, end, base_size)) < 0)
		return rc;
	return read_varint(&p, end, result_size);
}

int grove__delta_apply_limit(const void *base, size_t base_len, const void *delta,
	size_t delta_len, size_t max_result, grove_buf *out)
{
	const unsigned char *p = delta, *end = p + delta_len;
	const unsigned char *src = base;
	size_t want_base, result_len, pos = 0;
	unsigned char *dst;
	int rc;

	if ((rc = read_varint(&p, end, &want_base)) < 0 ||
	    (rc = read_varint(&p, end, &result_len)) < 0)
		return rc;
	if (want_base != base_len)
		return grove__error_set(GROVE_ECORRUPT,
			"delta expects a base of %zu bytes, base has %zu", want_base, base_len);
	if (result_len > max_result)
		return grove__error_set(GROVE_ECORRUPT,
			"delta declares a result of %zu bytes, over the limit of %zu", result_len,
			max_result);
	dst = grove__malloc(result_len + 1);
	if (!dst)
		return GROVE_ENOMEM;

	while (p < end) {
		unsigned char op = *p++;
		if (op & 0x80) {
			/* Copy: bits 0-3 select offset bytes, bits 4-6 size bytes. */
			size_t off = 0, n = 0;
			for (unsigned i = 0; i < 4; i++) {
				if (!(op & (1u << i)))
					continue;
				if (p >= end)
					goto truncated;
				off |= (size_t)*p++ << (8 * i);
			}
			for (unsigned i = 0; i < 3; i++) {
				if (!(op & (0x10u << i)))
					continue;
				if (p >= end)
					goto truncated;
				n |= (size_t)*p++ << (8 * i);
			}
			if (n == 0)
				n = 0x10000;
			if (off > base_len || n > base_len - off) {
				free(dst);
				return grove__error_set(GROVE_ECORRUPT,
					"delta copies %zu bytes at offset %zu from a base of %zu bytes",
					n, off, base_len);
			}
			if (n > result_len - pos)
				goto too_long;
			memcpy(dst + pos, src + off, n);
			pos += n;
		} else if (op) {
			size_t n = op;
			if (n > (size_t)(end - p))
				goto truncated;
			if (n > result_len - pos)
				goto too_long;
			memcpy(dst + pos, p, n);
			p += n;
			pos += n;
		} else {
			free(dst);
			return grove__error_set(GROVE_ECORRUPT, "delta has reserved opcode 0");
		}
	}
	if (pos != result_len) {
		free(dst);
		return grove__error_set(GROVE_ECORRUPT,
			"delta produced %zu bytes but declares %zu", pos, result_len);
	}
	dst[result_len] = '\0';
	out->data = dst;
	out->size = result_len;
	return 0;

truncated:
	free(dst);
	return grove__error_set(GROVE_ECORRUPT, "delta opcode truncated");
too_long:
	free(dst);
	return grove__error_set(GROVE_ECORRUPT, "delta produces more than its declared %zu bytes",
		result_len);
}

int grove__delta_apply(const void *base, size_t base_len, const void *delta, size_t delta_len,
	grove_buf *out)
{
	return grove__delta_apply_limit(base, base_len, delta, delta_len, GROVE__DELTA_MAX_RESULT,
		out);
}
