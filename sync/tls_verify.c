/*
 * libgit2 (built on mbedTLS here) can only replace its whole CA list, and
 * only for the whole process.  To trust one more CA for one operation, its
 * certificate_check callback hands us the server's certificate when the
 * system store rejected it, and we check it against the given CA file with
 * OpenSSL's libcrypto: chain and host name both.
 */
#include "tls_verify.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

int grove__tls_verify_der(const void *der, size_t len, const char *host, const char *ca_file,
	char *why, size_t whylen)
{
	const unsigned char *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int ok = -1;

	if (!cert) {
		snprintf(why, whylen, "the server's certificate cannot be parsed");
		goto out;
	}
	if (!(store = X509_STORE_new()) || !(ctx = X509_STORE_CTX_new())) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (X509_STORE_load_locations(store, ca_file, NULL) != 1) {
		snprintf(why, whylen, "cannot read CA file %s", ca_file);
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		snprintf(why, whylen, "certificate not trusted: %s",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (X509_check_host(cert, host, strlen(host), 0, NULL) != 1 &&
	    X509_check_ip_asc(cert, host, 0) != 1) {
		snprintf(why, whylen, "certificate is not for host %s", host);
		goto out;
	}
	ok = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(cert);
	ERR_clear_error();
	return ok;
}
