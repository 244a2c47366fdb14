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

/* ------------------------------------------------------------------ */
/* Creating deltas                                                      */

#include "sbuf.h"

/* Base blocks indexed for matching; matches are extended byte by byte, so
 * the block size only bounds the shortest copy found. */
#define BLOCK 16
#define HASH_MULT 0x01000193u
/* git's creator keeps copies at most 64 KiB; older readers expect that. */
#define MAX_COPY 0x10000u
#define MAX_INSERT 127u

static uint32_t block_hash(const unsigned char *p)
{
	uint32_t h = 0;
	for (unsigned i = 0; i < BLOCK; i++)
		h = h * HASH_MULT + p[i];
	return h;
}

static int put_varint(grove__sbuf *b, size_t v)
{
	unsigned char tmp[10];
	size_t n = 0;
	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return grove__sbuf_put(b, tmp, n);
}

static int put_insert(grove__sbuf *b, const unsigned char *p, size_t n)
{
	int rc;
	while (n) {
		size_t k = n > MAX_INSERT ? MAX_INSERT : n;
		if ((rc = grove__sbuf_putc(b, (char)k)) < 0 || (rc = grove__sbuf_put(b, p, k)) < 0)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static int put_copy(grove__sbuf *b, size_t off, size_t n)
{
	while (n) {
		size_t k = n > MAX_COPY ? MAX_COPY : n;
		unsigned char op[8];
		size_t len = 1;
		op[0] = 0x80;
		for (unsigned i = 0; i < 4; i++) {
			unsigned char byte = (unsigned char)(off >> (8 * i));
			if (byte) {
				op[0] |= (unsigned char)(1u << i);
				op[len++] = byte;
			}
		}
		/* A size of 0x10000 is written as no size bytes at all. */
		if (k != 0x10000) {
			for (unsigned i = 0; i < 3; i++) {
				unsigned char byte = (unsigned char)(k >> (8 * i));
				if (byte) {
					op[0] |= (unsigned char)(0x10u << i);
					op[len++] = byte;
				}
			}
		}
		int rc = grove__sbuf_put(b, op, len);
		if (rc < 0)
			return rc;
		off += k;
		n -= k;
	}
	return 0;
}

int grove__delta_create(const void *base, size_t base_len, const void *target,
	size_t target_len, size_t max_delta_len, grove_buf *out)
{
	const unsigned char *src = base, *dst = target;
	grove__sbuf b = GROVE_SBUF_INIT;
	uint32_t *table = NULL, mask, pow = 1;
	size_t slots = 1, pos = 0, pending = 0;
	uint32_t h = 0;
	int rc;

	if (base_len < BLOCK || target_len < BLOCK || base_len > 0xffffffffu)
		return grove__error_set(GROVE_ENOTFOUND, "no useful delta for these sizes");
	while (slots < (base_len / BLOCK) * 2)
		slots <<= 1;
	mask = (uint32_t)(slots - 1);
	table = grove__calloc(slots, sizeof(*table));
	if (!table)
		return GROVE_ENOMEM;
	/* Entries are offset + 1; 0 is empty.  The first block wins. */
	for (size_t off = 0; off + BLOCK <= base_len; off += BLOCK) {
		uint32_t i = block_hash(src + off) & mask;
		while (table[i])
			i = (i + 1) & mask;
		table[i] = (uint32_t)off + 1;
	}
	for (unsigned i = 0; i < BLOCK - 1; i++)
		pow *= HASH_MULT;

	if ((rc = put_varint(&b, base_len)) < 0 || (rc = put_varint(&b, target_len)) < 0)
		goto fail;
	h = block_hash(dst);
	while (pos + BLOCK <= target_len) {
		size_t match_off = 0, match_len = 0;
		uint32_t i = h & mask;
		/* Probe the cluster for a block equal to the window. */
		while (table[i]) {
			size_t off = table[i] - 1;
			if (memcmp(src + off, dst + pos, BLOCK) == 0) {
				size_t n = BLOCK;
				while (off + n < base_len && pos + n < target_len && src[off + n] == dst[pos + n])
					n++;
				if (n > match_len) {
					match_len = n;
					match_off = off;
				}
				break;
			}
			i = (i + 1) & mask;
		}
		if (match_len) {
			/* Grow the match backwards into the pending literals. */
			while (pending && match_off && src[match_off - 1] == dst[pos - 1]) {
				match_off--;
				pos--;
				pending--;
				match_len++;
			}
			if ((rc = put_insert(&b, dst + pos - pending, pending)) < 0 ||
			    (rc = put_copy(&b, match_off, match_len)) < 0)
				goto fail;
			pending = 0;
			pos += match_len;
			if (pos + BLOCK <= target_len)
				h = block_hash(dst + pos);
		} else {
			/* Roll the window one byte on. */
			if (pos + BLOCK < target_len)
				h = (h - dst[pos] * pow) * HASH_MULT + dst[pos + BLOCK];
			pos++;
			pending++;
		}
		if (b.len + pending > max_delta_len) {
			rc = grove__error_set(GROVE_ENOTFOUND, "no delta under %zu bytes", max_delta_len);
			goto fail;
		}
	}
	pending += target_len - pos;
	if ((rc = put_insert(&b, dst + target_len - pending, pending)) < 0)
		goto fail;
	if (b.len > max_delta_len) {
		rc = grove__error_set(GROVE_ENOTFOUND, "no delta under %zu bytes", max_delta_len);
		goto fail;
	}
	free(table);
	out->data = grove__sbuf_detach(&b, &out->size);
	return 0;
fail:
	free(table);
	grove__sbuf_dispose(&b);
	return rc;
}
