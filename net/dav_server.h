/*
 * dav_server.h - the CalDAV/CardDAV server on the HTTP engine (internal).
 *
 * grove__dav_server_register adds routes for prefix (default "/dav") and
 * for /.well-known/caldav and /.well-known/carddav to an HTTP server.
 * Requests run on the HTTP engine's loop thread.  Every request below the
 * prefix except OPTIONS needs HTTP Basic credentials from the htpasswd
 * file; a user sees only /dav/<user>/... (see dav_store.h for the model).
 */
#ifndef GROVE_NET_DAV_SERVER_H
#define GROVE_NET_DAV_SERVER_H

#include <stdint.h>

#include "grove.h"
#include "http.h"

typedef struct grove__dav_server grove__dav_server;

typedef struct {
	const char *prefix;         /* URL prefix without trailing '/'; NULL: "/dav" */
	const char *branch;         /* NULL: "main" */
	grove__htpasswd *htpasswd;  /* required; borrowed */
	const char *realm;          /* NULL: "grove" */
	const char *mail_domain;    /* commit author e-mail domain; NULL: "localhost" */
	uint64_t quota_bytes;       /* per user, reported as quota-available-bytes; 0: none */
} grove__dav_options;

/* The DAV server borrows http, g and opts->htpasswd; free it after http. */
int grove__dav_server_register(grove__dav_server **out, grove__http_server *http,
			       grove *g, const grove__dav_options *opts);
void grove__dav_server_free(grove__dav_server *dav);

#endif
