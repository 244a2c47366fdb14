/*
 * http.h - the HTTP/1.1 server engine (internal).
 *
 * Layers: a grove__http_session turns bytes into requests with Debian's
 * http-parser and writes responses through a small byte transport
 * (grove__http_io); http_server.c binds sessions to runtime connections, and
 * tests or fuzzers can bind them to anything that moves bytes.
 *
 * A handler gets (request, response) on the loop thread.  It may answer at
 * once (grove__http_res_send) or later, e.g. from the done callback of a
 * worker job; either way it must end every response exactly once
 * (grove__http_res_send or grove__http_res_end).  The request stays valid
 * until then.  Requests on one connection are answered in order: the next
 * pipelined request is parsed only after the current response ended.
 *
 * Request bodies are buffered whole (max_body, else 413), de-chunked and,
 * for Content-Encoding: gzip, inflated (again bounded by max_body).
 */
#ifndef GROVE_NET_HTTP_H
#define GROVE_NET_HTTP_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "../runtime/platform.h"

typedef struct grove__http_server grove__http_server;
typedef struct grove__http_session grove__http_session;
typedef struct grove__http_request grove__http_request;
typedef struct grove__http_response grove__http_response;

typedef struct {
	size_t max_body;             /* request body bytes; 0: 16 MiB (413) */
	size_t max_uri;              /* request target bytes; 0: 8 KiB (414) */
	size_t max_header_bytes;     /* all header lines; 0: 32 KiB (431) */
	unsigned request_timeout_ms; /* a request must arrive whole within
	                              * this (408); 0: 30 s */
	/* One line per request, without newline (optional). */
	void (*log)(void *arg, const char *line);
	void *log_arg;
} grove__http_config;

/* Method sets for routes: GROVE_HTTP_M(HTTP_GET) | GROVE_HTTP_M(HTTP_POST). */
#define GROVE_HTTP_M(m) (UINT64_C(1) << (unsigned)(m))
#define GROVE_HTTP_ANY (~UINT64_C(0))

typedef void (*grove__http_handler)(grove__http_request *req,
				    grove__http_response *res, void *arg);

/* ---- server ----------------------------------------------------------- */

/* loop may be NULL when sessions are driven by hand (tests, fuzzing). */
int grove__http_server_new(grove__http_server **out, grove__loop *loop,
			   const grove__http_config *cfg);
void grove__http_server_free(grove__http_server *srv);
grove__loop *grove__http_server_loop(const grove__http_server *srv);
/*
 * Routes requests whose decoded path starts with prefix and whose method is
 * in methods.  The longest matching prefix wins.  A route with GET also
 * answers HEAD (the body is dropped).  No route for the path: 404; routes
 * for the path but not the method: 405 with Allow; a method that no route
 * takes: 501.
 */
int grove__http_route(grove__http_server *srv, uint64_t methods,
		      const char *prefix, grove__http_handler fn, void *arg);
/* Listens on the server's loop (see grove__listen). */
int grove__http_listen(grove__http_server *srv, const char *host, int port,
		       grove__listener **out);

/* ---- sessions over any byte transport -------------------------------- */

typedef struct {
	int (*write)(void *io, const void *data, size_t len);
	size_t (*queued)(void *io);
	void (*pause_read)(void *io, int paused);
	void (*set_busy)(void *io, int busy);
	void (*set_deadline)(void *io, unsigned ms);
	void (*close)(void *io);   /* graceful: after what was written */
} grove__http_io;

int grove__http_session_new(grove__http_session **out, grove__http_server *srv,
			    const grove__http_io *io, void *io_arg,
			    const char *peer);
/* Bytes from the peer; len 0 means end of input. */
void grove__http_session_feed(grove__http_session *s, const char *data, size_t len);
/* The transport's write queue emptied. */
void grove__http_session_drained(grove__http_session *s);
/* The transport's deadline passed (a slow client: 408). */
void grove__http_session_deadline(grove__http_session *s);
/* The transport is gone; the session frees itself once no response is
 * pending.  s must not be used by the transport afterwards. */
void grove__http_session_closed(grove__http_session *s);

/* ---- requests ---------------------------------------------------------- */

int grove__http_req_method(const grove__http_request *req);  /* HTTP_GET... */
const char *grove__http_req_method_name(const grove__http_request *req);
const char *grove__http_req_raw_target(const grove__http_request *req);
/* Percent-decoded path ("/a b"), never NULL. */
const char *grove__http_req_path(const grove__http_request *req);
/* Raw query after '?', NULL when absent. */
const char *grove__http_req_query(const grove__http_request *req);
/* First value of a header, case-insensitive name; NULL when absent. */
const char *grove__http_req_header(const grove__http_request *req, const char *name);
const char *grove__http_req_body(const grove__http_request *req, size_t *len);
/* "127.0.0.1:5555" */
const char *grove__http_req_remote(const grove__http_request *req);
/* The user set by grove__http_require_basic_auth, or NULL. */
const char *grove__http_req_user(const grove__http_request *req);
int grove__http_req_set_user(grove__http_request *req, const char *user);

/* ---- responses --------------------------------------------------------- */

/* Adds a header line before the response starts. */
int grove__http_res_header(grove__http_response *res, const char *name,
			   const char *value);
/* Complete response with a fixed-length body; ends the response. */
int grove__http_res_send(grove__http_response *res, int status,
			 const char *content_type, const void *body, size_t len);
/* Short text/plain response with the reason phrase as body; ends it. */
int grove__http_res_error(grove__http_response *res, int status);
/* Starts a streamed response: content_length >= 0 for a fixed length,
 * -1 for chunked (close-delimited for HTTP/1.0 clients). */
int grove__http_res_start(grove__http_response *res, int status,
			  long long content_length);
int grove__http_res_write(grove__http_response *res, const void *data, size_t len);
/* Bytes written but not yet taken by the transport: stop producing above
 * some bound and continue from the drain callback. */
size_t grove__http_res_backlog(const grove__http_response *res);
void grove__http_res_on_drain(grove__http_response *res, grove__loop_fn fn, void *arg);
/* 0 once the client is gone (writes are then dropped). */
int grove__http_res_alive(const grove__http_response *res);
int grove__http_res_end(grove__http_response *res);

/* ---- helpers ----------------------------------------------------------- */

const char *grove__http_reason(int status);
/* Percent-decodes n bytes of in into a new string; GROVE_EINVALID on a bad
 * escape or an encoded NUL. */
int grove__http_percent_decode(char **out, const char *in, size_t n);

/* ---- Basic authentication against an htpasswd file -------------------- */

typedef struct grove__htpasswd grove__htpasswd;

/* Loads user:hash lines; hashes are crypt(3) strings ($2y$/$2b$ bcrypt,
 * $5$/$6$ sha-crypt). */
int grove__htpasswd_open(grove__htpasswd **out, const char *path);
/* Reloads when the file's mtime or size changed: 1 reloaded, 0 unchanged,
 * negative on error (the old entries stay). */
int grove__htpasswd_reload(grove__htpasswd *h);
/* 1 when user and password match, else 0.  Thread-safe (may run on a
 * worker: bcrypt is slow by design). */
int grove__htpasswd_check(grove__htpasswd *h, const char *user, const char *password);
void grove__htpasswd_free(grove__htpasswd *h);
/* Splits "Basic base64(user:pass)"; GROVE_EINVALID when malformed. */
int grove__http_basic_parse(const char *authorization, char **user, char **password);
/* 1 and the request's user set when the credentials check out; otherwise
 * answers 401 with WWW-Authenticate: Basic realm="realm" and returns 0. */
int grove__http_require_basic_auth(grove__http_request *req, grove__http_response *res,
				   grove__htpasswd *h, const char *realm);

#endif
