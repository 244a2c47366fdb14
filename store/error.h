/* Internal error reporting: every failure path records a code and message
 * for grove_error_message() and returns the code. */
#ifndef GROVE_ERROR_H
#define GROVE_ERROR_H

#include "grove.h"

#if defined(__GNUC__)
#define GROVE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GROVE_PRINTF(a, b)
#endif

/* Records code and message on this thread and returns code. */
int grove__error_set(int code, const char *fmt, ...) GROVE_PRINTF(2, 3);
/* Shorthand for the out-of-memory case. */
int grove__error_oom(void);
/* Prefixes the current message with context ("reading tree 1234: ..."). */
int grove__error_wrap(int code, const char *fmt, ...) GROVE_PRINTF(2, 3);
/* Maps an errno value to a grove code (ENOSPC -> GROVE_ENOSPC, ...). */
int grove__error_from_errno(int errnum);

/* Checked allocation helpers: they record GROVE_ENOMEM on failure. */
void *grove__malloc(size_t size);
void *grove__calloc(size_t count, size_t size);
void *grove__realloc(void *ptr, size_t size);
char *grove__strdup(const char *s);
char *grove__strndup(const char *s, size_t n);

#endif
