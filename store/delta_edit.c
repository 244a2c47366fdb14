/*
 * A git delta for an edit: target = base with one span replaced.
 *
 * A commit rewrites each directory it touches, and the new tree differs
 * from the one it replaces in a few adjacent entries.  The common prefix
 * and suffix of the two serialisations find that span in two memcmp-speed
 * passes, where a general delta search (grove__delta_create) indexes the
 * whole base first.  The result: copy the prefix, insert the middle, copy
 * the suffix.
 */
#include "delta.h"
#include "error.h"
#include "sbuf.h"

#include <string.h>

static int put_size(grove__sbuf *out, size_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		b[n++] = c | (v ? 0x80 : 0);
	} while (v);
	return grove__sbuf_put(out, b, n);
}

/* Copy ops take at most 0xffffff bytes each (three size bytes). */
static int put_copy(grove__sbuf *out, size_t off, size_t len)
{
	while (len) {
		size_t n = len > 0xffffff ? 0xffffff : len;
		unsigned char op[8];
		size_t k = 1;
		op[0] = 0x80;
		for (int i = 0; i < 4; i++)
			if ((off >> (8 * i)) & 0xff) {
				op[0] |= (unsigned char)(1u << i);
				op[k++] = (unsigned char)(off >> (8 * i));
			}
		for (int i = 0; i < 3; i++)
			if ((n >> (8 * i)) & 0xff) {
				op[0] |= (unsigned char)(0x10u << i);
				op[k++] = (unsigned char)(n >> (8 * i));
			}
		int err = grove__sbuf_put(out, op, k);
		if (err < 0)
			return err;
		off += n;
		len -= n;
	}
	return 0;
}

static int put_insert(grove__sbuf *out, const unsigned char *p, size_t len)
{
	while (len) {
		size_t n = len > 127 ? 127 : len;
		unsigned char op = (unsigned char)n;
		int err;
		if ((err = grove__sbuf_put(out, &op, 1)) < 0 || (err = grove__sbuf_put(out, p, n)) < 0)
			return err;
		p += n;
		len -= n;
	}
	return 0;
}

int grove__delta_edit(const void *base, size_t base_len, const void *target, size_t target_len,
	size_t max_delta_len, grove__sbuf *out)
{
	const unsigned char *b = base, *t = target;
	size_t pre = 0, suf = 0, lim = base_len < target_len ? base_len : target_len;

	while (pre < lim && b[pre] == t[pre])
		pre++;
	while (suf < lim - pre && b[base_len - 1 - suf] == t[target_len - 1 - suf])
		suf++;
	return grove__delta_edit_spans(base_len, target, target_len, pre, suf, max_delta_len, out);
}

int grove__delta_edit_spans(size_t base_len, const void *target, size_t target_len, size_t pre,
	size_t suf, size_t max_delta_len, grove__sbuf *out)
{
	const unsigned char *t = target;
	int err;

	/* Copy offsets are 32-bit in git's format. */
	if (base_len > 0xffffffffu || pre + suf > target_len || pre + suf > base_len)
		return GROVE_ENOTFOUND;
	size_t mid = target_len - pre - suf;
	/* Roughly what the ops below take; a delta no smaller than that is not
	 * worth a chain step. */
	if (mid + mid / 127 + 40 > max_delta_len)
		return GROVE_ENOTFOUND;
	out->len = 0;
	if ((err = put_size(out, base_len)) < 0 || (err = put_size(out, target_len)) < 0 ||
		(pre && (err = put_copy(out, 0, pre)) < 0) ||
		(err = put_insert(out, t + pre, mid)) < 0 ||
		(suf && (err = put_copy(out, base_len - suf, suf)) < 0))
		return err;
	return 0;
}
