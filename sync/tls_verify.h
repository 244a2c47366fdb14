/* Verifying an https server certificate against an extra CA file. */
#ifndef GROVE_SYNC_TLS_VERIFY_H
#define GROVE_SYNC_TLS_VERIFY_H

#include <stddef.h>

/* 0 when the DER certificate chains to a CA in ca_file and names host;
 * otherwise -1 with a reason in why. */
int grove__tls_verify_der(const void *der, size_t len, const char *host, const char *ca_file,
	char *why, size_t whylen);

#endif
