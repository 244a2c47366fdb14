/* serve_sync.h - `grove serve --upstream`: the store's grove_sync and the
 * webhook /hooks/sync. */
#ifndef GROVE_CLI_SERVE_SYNC_H
#define GROVE_CLI_SERVE_SYNC_H

#include "grove.h"
#include "../../net/http.h"

typedef struct {
	const char *upstream;        /* NULL: no sync */
	const char *upstream_branch; /* NULL: the store's HEAD branch name */
	long push_delay_ms;          /* 0: default */
	long fetch_interval_s;       /* 0: none */
	const char *hook_token;      /* NULL: only admins' Basic credentials */
	grove__htpasswd *htpasswd;   /* checks admins' passwords */
	const char *const *admins;
	size_t admin_count;
} serve_sync_config;

typedef struct serve_sync serve_sync;

/* Starts the sync (first fetch before returning; for a mem: store a failed
 * first fetch is an error, other stores start offline and retry) and
 * routes POST/GET /hooks/sync on srv. */
int serve_sync_start(serve_sync **out, grove *g, const char *location, grove__http_server *srv,
	const serve_sync_config *cfg);
/* One last push (bounded), then stops.  NULL is fine. */
void serve_sync_stop(serve_sync *ss);

#endif
