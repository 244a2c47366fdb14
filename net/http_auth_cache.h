/*
 * http_auth_cache.h - observing the htpasswd credential cache (internal;
 * for tests and diagnostics).
 */
#ifndef GROVE_NET_HTTP_AUTH_CACHE_H
#define GROVE_NET_HTTP_AUTH_CACHE_H

#include "http.h"

/* How many times grove__htpasswd_check ran crypt(3) on h (a check that
 * the credential cache answered does not count). */
unsigned long grove__htpasswd_crypt_calls(grove__htpasswd *h);

#endif
