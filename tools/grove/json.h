/* json.h - a small streaming JSON writer for the grove CLI's --json output.
 *
 * The writer tracks nesting so callers never place commas by hand.  Strings
 * are escaped per RFC 8259; bytes that are not valid UTF-8 are the caller's
 * business (see json_value_bytes, which falls back to base64). */
#ifndef GROVE_CLI_JSON_H
#define GROVE_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Enough for a tree view of the deepest key: GROVE_KEY_MAX (4096) allows
 * 2048 segments, and the tree output nests two levels per segment. */
#define JSON_MAX_DEPTH 4200

typedef struct {
	FILE *out;
	int depth;
	/* Per level: 1 when the next item needs a comma before it. */
	unsigned char need_comma[JSON_MAX_DEPTH];
	/* 1 right after a key, so the value that follows takes no comma. */
	int after_key;
} json_writer;

void json_init(json_writer *w, FILE *out);
void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s);
/* Escapes len bytes as a JSON string; invalid UTF-8 becomes U+FFFD. */
void json_string_n(json_writer *w, const char *s, size_t len);
void json_int(json_writer *w, int64_t v);
void json_uint(json_writer *w, uint64_t v);
void json_bool(json_writer *w, int v);
void json_null(json_writer *w);

/* Shorthands for "key": value inside an object. */
void json_kv_string(json_writer *w, const char *key, const char *s);
void json_kv_int(json_writer *w, const char *key, int64_t v);
void json_kv_uint(json_writer *w, const char *key, uint64_t v);
void json_kv_bool(json_writer *w, const char *key, int v);

/* 1 when the bytes are valid UTF-8 without NUL bytes. */
int json_is_utf8_text(const void *data, size_t len);
/* Writes "<key>": value and "<key>_encoding": "utf-8" or "base64", choosing
 * base64 when the bytes are not UTF-8 text. */
void json_kv_bytes(json_writer *w, const char *key, const void *data, size_t len);

#endif
