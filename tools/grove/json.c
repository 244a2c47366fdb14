/* A streaming JSON writer: RFC 8259 escaping, comma bookkeeping, base64
 * for values that are not text. */
#include "json.h"

#include <inttypes.h>
#include <string.h>

void json_init(json_writer *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

/* Emits the separator a new item at the current level needs. */
static void before_item(json_writer *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->need_comma[w->depth])
		fputc(',', w->out);
	w->need_comma[w->depth] = 1;
}

static void open_level(json_writer *w, char c)
{
	before_item(w);
	fputc(c, w->out);
	/* Past the limit (not reachable from the CLI) commas would go wrong
	 * but nothing overflows. */
	if (w->depth < JSON_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = 0;
}

static void close_level(json_writer *w, char c)
{
	fputc(c, w->out);
	if (w->depth > 0)
		w->depth--;
}

void json_object_begin(json_writer *w) { open_level(w, '{'); }
void json_object_end(json_writer *w) { close_level(w, '}'); }
void json_array_begin(json_writer *w) { open_level(w, '['); }
void json_array_end(json_writer *w) { close_level(w, ']'); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
	else return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int json_is_utf8_text(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t i = 0;
	while (i < len) {
		size_t n;
		if (s[i] == 0)
			return 0;
		n = utf8_seq(s + i, len - i);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

static void write_escaped(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	fputc('"', out);
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		switch (c) {
		case '"': fputs("\\\"", out); i++; continue;
		case '\\': fputs("\\\\", out); i++; continue;
		case '\n': fputs("\\n", out); i++; continue;
		case '\r': fputs("\\r", out); i++; continue;
		case '\t': fputs("\\t", out); i++; continue;
		case '\b': fputs("\\b", out); i++; continue;
		case '\f': fputs("\\f", out); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq(s + i, len - i);
		if (!n) {
			fputs("\\ufffd", out);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
	fputc('"', out);
}

void json_key(json_writer *w, const char *key)
{
	before_item(w);
	write_escaped(w->out, key, strlen(key));
	fputc(':', w->out);
	w->after_key = 1;
}

void json_string_n(json_writer *w, const char *s, size_t len)
{
	before_item(w);
	write_escaped(w->out, s, len);
}

void json_string(json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_string_n(w, s, strlen(s));
}

void json_int(json_writer *w, int64_t v)
{
	before_item(w);
	fprintf(w->out, "%" PRId64, v);
}

void json_uint(json_writer *w, uint64_t v)
{
	before_item(w);
	fprintf(w->out, "%" PRIu64, v);
}

void json_bool(json_writer *w, int v)
{
	before_item(w);
	fputs(v ? "true" : "false", w->out);
}

void json_null(json_writer *w)
{
	before_item(w);
	fputs("null", w->out);
}

void json_kv_string(json_writer *w, const char *key, const char *s) { json_key(w, key); json_string(w, s); }
void json_kv_int(json_writer *w, const char *key, int64_t v) { json_key(w, key); json_int(w, v); }
void json_kv_uint(json_writer *w, const char *key, uint64_t v) { json_key(w, key); json_uint(w, v); }
void json_kv_bool(json_writer *w, const char *key, int v) { json_key(w, key); json_bool(w, v); }

static void write_base64(FILE *out, const unsigned char *s, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	fputc('"', out);
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		fputc(tab[v >> 18], out);
		fputc(tab[(v >> 12) & 63], out);
		fputc(tab[(v >> 6) & 63], out);
		fputc(tab[v & 63], out);
	}
	if (i < len) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
		fputc(tab[v >> 18], out);
		fputc(tab[(v >> 12) & 63], out);
		fputc(i + 1 < len ? tab[(v >> 6) & 63] : '=', out);
		fputc('=', out);
	}
	fputc('"', out);
}

void json_kv_bytes(json_writer *w, const char *key, const void *data, size_t len)
{
	char enc_key[128];
	int text = json_is_utf8_text(data, len);
	json_key(w, key);
	if (text) {
		json_string_n(w, data, len);
	} else {
		before_item(w);
		write_base64(w->out, data, len);
	}
	snprintf(enc_key, sizeof(enc_key), "%s_encoding", key);
	json_kv_string(w, enc_key, text ? "utf-8" : "base64");
}
