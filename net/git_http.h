/*
 * git_http.h - git's smart HTTP protocol (gitprotocol-http) on the HTTP
 * engine, for the stores under one directory.
 *
 * Routes, for a prefix such as "/git/":
 *   GET  PREFIX<name>/info/refs?service=git-upload-pack|git-receive-pack
 *   POST PREFIX<name>/git-upload-pack     (stateless-rpc, v0/v1 and v2)
 *   POST PREFIX<name>/git-receive-pack
 * <name> resolves to a store as described in git_repos.h.  Protocol v2 is
 * chosen by the Git-Protocol request header.  Request bodies may be
 * gzip-compressed (the engine inflates them).
 *
 * Access: receive-pack always needs HTTP Basic credentials that check out
 * against the htpasswd file (403 without one); reads need them too unless
 * anonymous_read is set.  Missing or wrong credentials: 401 with
 * WWW-Authenticate.  Password checks (bcrypt is slow by design) and pack
 * building run on worker threads; pack output streams back to the client
 * as a chunked response while it is produced, so the loop keeps answering
 * other requests.
 */
#ifndef GROVE_NET_GIT_HTTP_H
#define GROVE_NET_GIT_HTTP_H

#include "git_repos.h"
#include "http.h"

typedef struct grove__git_http grove__git_http;
struct grove__receive;

typedef struct {
	grove__git_repos *repos;     /* where names resolve (not owned) */
	grove__htpasswd *htpasswd;   /* NULL: nobody can push (not owned) */
	int anonymous_read;          /* fetch/clone without credentials */
	int allow_non_ff;            /* accept non-fast-forward pushes */
	const char *realm;           /* Basic realm; NULL: "grove" */
	/* Optional, instead of repos: the store a request names, for an
	 * authenticated user (NULL when anonymous), receive = a push.  Returns
	 * 0 with *out (borrowed, must outlive the request) or the HTTP status
	 * to answer (403, 404...).  Runs on the loop thread. */
	int (*open_store)(void *arg, const char *name, const char *user, int receive,
		grove **out);
	void *open_arg;
	/* Optional: passed to receive-pack (grove__receive_opts.check_update). */
	int (*check_update)(void *arg, struct grove__receive *rp, const char *refname,
		const grove_oid *old_id, const grove_oid *new_id, char **reason);
	void *check_arg;
} grove__git_http_config;

/* Registers the routes under prefix (e.g. "/git/", must end in '/').
 * The configuration's objects must outlive the server. */
int grove__git_http_new(grove__git_http **out, grove__http_server *srv, const char *prefix,
	const grove__git_http_config *cfg);
/* After the loop finished (no request in flight). */
void grove__git_http_free(grove__git_http *gh);

#endif
