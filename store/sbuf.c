#include "sbuf.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int grove__sbuf_grow(grove__sbuf *b, size_t extra)
{
	size_t need, cap;
	char *p;
	if (extra > SIZE_MAX - b->len - 1)
		return grove__error_oom();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = grove__realloc(b->data, cap);
	if (!p)
		return GROVE_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int grove__sbuf_put(grove__sbuf *b, const void *data, size_t len)
{
	int err = grove__sbuf_grow(b, len);
	if (err < 0)
		return err;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int grove__sbuf_puts(grove__sbuf *b, const char *s)
{
	return grove__sbuf_put(b, s, strlen(s));
}

int grove__sbuf_putc(grove__sbuf *b, char c)
{
	return grove__sbuf_put(b, &c, 1);
}

int grove__sbuf_printf(grove__sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return grove__error_set(GROVE_ERROR, "formatting failed");
	if ((err = grove__sbuf_grow(b, (size_t)n)) < 0)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *grove__sbuf_detach(grove__sbuf *b, size_t *len)
{
	char *p = b->data;
	if (!p) {
		p = grove__malloc(1);
		if (p)
			p[0] = '\0';
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void grove__sbuf_reset(grove__sbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void grove__sbuf_dispose(grove__sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
