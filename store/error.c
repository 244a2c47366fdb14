#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROVE_ERROR_MAX 1024

static _Thread_local int last_code;
static _Thread_local char last_message[GROVE_ERROR_MAX];

const char *grove_error_message(void)
{
	return last_message;
}

int grove_error_code(void)
{
	return last_code;
}

void grove_error_clear(void)
{
	last_code = 0;
	last_message[0] = '\0';
}

int grove__error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	last_code = code;
	return code;
}

int grove__error_wrap(int code, const char *fmt, ...)
{
	char prefix[GROVE_ERROR_MAX];
	char old[GROVE_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last_message, sizeof(old));
	/* Truncation of very long messages is acceptable. */
	size_t plen = strnlen(prefix, sizeof(last_message) - 1);
	memcpy(last_message, prefix, plen);
	size_t rest = sizeof(last_message) - plen - 1;
	if (rest >= 2) {
		memcpy(last_message + plen, ": ", 2);
		plen += 2;
		rest -= 2;
		size_t olen = strnlen(old, rest);
		memcpy(last_message + plen, old, olen);
		plen += olen;
	}
	last_message[plen] = '\0';
	last_code = code;
	return code;
}

int grove__error_oom(void)
{
	return grove__error_set(GROVE_ENOMEM, "out of memory");
}

int grove__error_from_errno(int errnum)
{
	switch (errnum) {
	case ENOSPC:
#ifdef EDQUOT
	case EDQUOT:
#endif
		return GROVE_ENOSPC;
	case ENOENT:
		return GROVE_ENOTFOUND;
	case EEXIST:
		return GROVE_EEXISTS;
	case EROFS:
	case EACCES:
	case EPERM:
		return GROVE_EREADONLY;
	case ENOMEM:
		return GROVE_ENOMEM;
	case EINVAL:
		return GROVE_EINVALID;
	default:
		return GROVE_EIO;
	}
}

const char *grove_code_name(int code)
{
	switch (code) {
	case GROVE_OK: return "GROVE_OK";
	case GROVE_ERROR: return "GROVE_ERROR";
	case GROVE_ENOTFOUND: return "GROVE_ENOTFOUND";
	case GROVE_EEXISTS: return "GROVE_EEXISTS";
	case GROVE_EINVALID: return "GROVE_EINVALID";
	case GROVE_EHEADMOVED: return "GROVE_EHEADMOVED";
	case GROVE_ECONFLICT: return "GROVE_ECONFLICT";
	case GROVE_ECORRUPT: return "GROVE_ECORRUPT";
	case GROVE_EIO: return "GROVE_EIO";
	case GROVE_ENOSPC: return "GROVE_ENOSPC";
	case GROVE_EREADONLY: return "GROVE_EREADONLY";
	case GROVE_ENOMEM: return "GROVE_ENOMEM";
	case GROVE_EUNSUPPORTED: return "GROVE_EUNSUPPORTED";
	case GROVE_ELOCKED: return "GROVE_ELOCKED";
	case GROVE_ENOTFF: return "GROVE_ENOTFF";
	case GROVE_ITEROVER: return "GROVE_ITEROVER";
	default: return "GROVE_UNKNOWN";
	}
}

void *grove__malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		grove__error_oom();
	return p;
}

void *grove__calloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		grove__error_oom();
	return p;
}

void *grove__realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		grove__error_oom();
	return p;
}

char *grove__strndup(const char *s, size_t n)
{
	char *p = grove__malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *grove__strdup(const char *s)
{
	return grove__strndup(s, strlen(s));
}
