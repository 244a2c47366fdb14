/* pkt-line framing: an incremental reader and writers into a buffer. */
#include "pktline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long grove__pkt_parse_len(const char hdr[4])
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hexval(hdr[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int bad_header(grove__pkt_reader *r, const char *why)
{
	char shown[16];
	size_t n = 0;
	/* Show the header bytes readably: they are often binary junk. */
	for (size_t i = 0; i < 4 && n + 4 < sizeof(shown); i++) {
		unsigned char c = (unsigned char)r->hdr[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			shown[n++] = (char)c;
		else
			n += (size_t)snprintf(shown + n, sizeof(shown) - n, "\\x%02x", c);
	}
	shown[n < sizeof(shown) ? n : sizeof(shown) - 1] = '\0';
	return grove__error_set(GROVE_EINVALID, "pkt-line: %s (header \"%s\")", why, shown);
}

int grove__pkt_read(grove__pkt_reader *r, const void *data, size_t len, size_t *consumed,
	grove__pkt *out)
{
	const char *p = data;
	size_t used = 0;

	if (r->hdr_have < 4) {
		size_t take = 4 - r->hdr_have;
		long plen;
		if (take > len)
			take = len;
		memcpy(r->hdr + r->hdr_have, p, take);
		r->hdr_have += take;
		used += take;
		if (r->hdr_have < 4) {
			*consumed = used;
			return 0;
		}
		plen = grove__pkt_parse_len(r->hdr);
		if (plen < 0)
			return bad_header(r, "invalid length, not 4 hex digits");
		if (plen == 0 || plen == 1 || plen == 2) {
			out->kind = plen == 0 ? GROVE__PKT_FLUSH :
				plen == 1 ? GROVE__PKT_DELIM : GROVE__PKT_RESPONSE_END;
			out->data = NULL;
			out->len = 0;
			r->hdr_have = 0;
			*consumed = used;
			return 1;
		}
		if (plen == 3)
			return bad_header(r, "invalid length 3");
		if (plen > GROVE__PKT_MAX)
			return bad_header(r, "packet longer than 65520 bytes");
		r->want = (size_t)plen - 4;
		r->have = 0;
		/* The whole payload is in this input: hand it out in place. */
		if (len - used >= r->want && r->want > 0) {
			out->kind = GROVE__PKT_DATA;
			out->data = p + used;
			out->len = r->want;
			used += r->want;
			r->hdr_have = 0;
			*consumed = used;
			return 1;
		}
		if (!r->buf) {
			r->buf = grove__malloc(GROVE__PKT_DATA_MAX + 1);
			if (!r->buf)
				return GROVE_ENOMEM;
		}
	}
	{
		size_t take = r->want - r->have;
		if (take > len - used)
			take = len - used;
		memcpy(r->buf + r->have, p + used, take);
		r->have += take;
		used += take;
	}
	*consumed = used;
	if (r->have < r->want)
		return 0;
	r->buf[r->want] = '\0';
	out->kind = GROVE__PKT_DATA;
	out->data = r->buf;
	out->len = r->want;
	r->hdr_have = 0;
	return 1;
}

int grove__pkt_reader_pending(const grove__pkt_reader *r)
{
	return r->hdr_have > 0;
}

void grove__pkt_reader_reset(grove__pkt_reader *r)
{
	r->hdr_have = 0;
	r->want = r->have = 0;
}

void grove__pkt_reader_dispose(grove__pkt_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	grove__pkt_reader_reset(r);
}

static int put_header(grove__sbuf *b, size_t total)
{
	static const char digits[] = "0123456789abcdef";
	char hdr[4];
	hdr[0] = digits[(total >> 12) & 15];
	hdr[1] = digits[(total >> 8) & 15];
	hdr[2] = digits[(total >> 4) & 15];
	hdr[3] = digits[total & 15];
	return grove__sbuf_put(b, hdr, 4);
}

int grove__pkt_write(grove__sbuf *b, const void *data, size_t len)
{
	int err;
	if (len > GROVE__PKT_DATA_MAX)
		return grove__error_set(GROVE_EINVALID,
			"pkt-line: payload of %zu bytes exceeds %d", len, GROVE__PKT_DATA_MAX);
	if ((err = grove__sbuf_grow(b, len + 4)) < 0)
		return err;
	if ((err = put_header(b, len + 4)) < 0)
		return err;
	return grove__sbuf_put(b, data, len);
}

int grove__pkt_puts(grove__sbuf *b, const char *s)
{
	return grove__pkt_write(b, s, strlen(s));
}

static int vprint(grove__sbuf *b, const char *prefix, const char *fmt, va_list ap)
{
	char small[512];
	char *text = small;
	size_t plen = strlen(prefix);
	int n, err;
	va_list ap2;

	va_copy(ap2, ap);
	memcpy(small, prefix, plen);
	n = vsnprintf(small + plen, sizeof(small) - plen, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return grove__error_set(GROVE_EINVALID, "pkt-line: bad format");
	}
	if ((size_t)n >= sizeof(small) - plen) {
		text = grove__malloc(plen + (size_t)n + 1);
		if (!text) {
			va_end(ap2);
			return GROVE_ENOMEM;
		}
		memcpy(text, prefix, plen);
		vsnprintf(text + plen, (size_t)n + 1, fmt, ap2);
	}
	va_end(ap2);
	err = grove__pkt_write(b, text, plen + (size_t)n);
	if (text != small)
		free(text);
	return err;
}

int grove__pkt_printf(grove__sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int err;
	va_start(ap, fmt);
	err = vprint(b, "", fmt, ap);
	va_end(ap);
	return err;
}

int grove__pkt_error(grove__sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int err;
	grove__sbuf msg = GROVE_SBUF_INIT;
	va_start(ap, fmt);
	err = vprint(&msg, "ERR ", fmt, ap);
	va_end(ap);
	if (err < 0) {
		grove__sbuf_dispose(&msg);
		return err;
	}
	/* vprint framed it; add the newline inside the frame by re-framing. */
	err = grove__sbuf_grow(b, msg.len + 1);
	if (err == 0) {
		size_t payload = msg.len - 4;
		err = put_header(b, payload + 1 + 4);
		if (err == 0)
			err = grove__sbuf_put(b, msg.data + 4, payload);
		if (err == 0)
			err = grove__sbuf_putc(b, '\n');
	}
	grove__sbuf_dispose(&msg);
	return err;
}

int grove__pkt_flush(grove__sbuf *b)
{
	return grove__sbuf_put(b, "0000", 4);
}

int grove__pkt_delim(grove__sbuf *b)
{
	return grove__sbuf_put(b, "0001", 4);
}

int grove__pkt_response_end(grove__sbuf *b)
{
	return grove__sbuf_put(b, "0002", 4);
}

int grove__pkt_sideband(grove__sbuf *b, int band, const void *data, size_t len, size_t max_data)
{
	const char *p = data;
	int err;
	if (band < 1 || band > 3)
		return grove__error_set(GROVE_EINVALID, "pkt-line: side-band %d does not exist", band);
	if (max_data == 0 || max_data > GROVE__SIDEBAND64K_DATA_MAX)
		max_data = GROVE__SIDEBAND64K_DATA_MAX;
	while (len > 0) {
		size_t n = len < max_data ? len : max_data;
		char c = (char)band;
		if ((err = grove__sbuf_grow(b, n + 5)) < 0)
			return err;
		if ((err = put_header(b, n + 5)) < 0 || (err = grove__sbuf_put(b, &c, 1)) < 0 ||
		    (err = grove__sbuf_put(b, p, n)) < 0)
			return err;
		p += n;
		len -= n;
	}
	return 0;
}

size_t grove__pkt_chomp(const char *data, size_t len)
{
	if (len > 0 && data[len - 1] == '\n')
		return len - 1;
	return len;
}
