/* A growable byte buffer for building objects and messages. */
#ifndef GROVE_SBUF_H
#define GROVE_SBUF_H

#include <stddef.h>

typedef struct {
	char *data;
	size_t len;
	size_t cap;
} grove__sbuf;

#define GROVE_SBUF_INIT { NULL, 0, 0 }

int grove__sbuf_grow(grove__sbuf *b, size_t extra);
int grove__sbuf_put(grove__sbuf *b, const void *data, size_t len);
int grove__sbuf_puts(grove__sbuf *b, const char *s);
int grove__sbuf_putc(grove__sbuf *b, char c);
int grove__sbuf_printf(grove__sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (NUL-terminated); the buffer is reset. */
char *grove__sbuf_detach(grove__sbuf *b, size_t *len);
void grove__sbuf_reset(grove__sbuf *b);
void grove__sbuf_dispose(grove__sbuf *b);

#endif
