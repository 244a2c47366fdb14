/* Structures shared by the files of the HTTP engine (not for handlers). */
#ifndef GROVE_NET_HTTP_INTERNAL_H
#define GROVE_NET_HTTP_INTERNAL_H

#include "http.h"
#include "sbuf.h"

typedef struct {
	char *name, *value;
} http_header;

typedef struct http_route {
	struct http_route *next;
	uint64_t methods;
	char *prefix;
	size_t prefix_len;
	grove__http_handler fn;
	void *arg;
} http_route;

struct grove__http_server {
	grove__loop *loop;
	grove__http_config cfg;
	http_route *routes;
	uint64_t all_methods;
};

struct grove__http_request {
	int method;
	unsigned short http_major, http_minor;
	char *target;       /* raw request target */
	char *path;         /* decoded */
	char *query;        /* raw, or NULL */
	http_header *headers;
	size_t nheaders, cap_headers;
	grove__sbuf body;
	char *user;
	const char *remote;
	int keep_alive;
	uint64_t start_ms;
};

struct grove__http_response {
	grove__http_session *session;
	grove__http_request *req;
	grove__sbuf head;         /* extra header lines */
	int status;
	int started, ended;
	int chunked, close_delimited, no_body;
	long long remaining;      /* fixed length left, -1 when not fixed */
	uint64_t body_bytes;
	grove__loop_fn drain_fn;
	void *drain_arg;
};

/* What the session is building and answering: one request at a time. */
typedef struct {
	grove__http_request req;
	grove__http_response res;
} http_exchange;

struct grove__http_session {
	grove__http_server *srv;
	const grove__http_io *io;
	void *io_arg;
	char peer[64];
	http_parser parser;
	grove__sbuf in;          /* received, not yet parsed */
	size_t in_off;
	http_exchange *building; /* request being parsed */
	http_exchange *active;   /* request dispatched, response pending */
	int ready;               /* building holds a complete request */
	grove__sbuf field, value;
	int last_was_value;
	size_t header_bytes;
	int error_status;        /* set by a callback that stopped the parser */
	int in_process;
	int eof, gone, closing, read_paused;
};

void grove__http_exchange_free(http_exchange *x);
/* Runs the router for the active exchange. */
void grove__http_dispatch(grove__http_server *srv, grove__http_request *req,
			  grove__http_response *res);
/* Called by grove__http_res_end: the session may parse the next request. */
void grove__http_session_response_done(grove__http_session *s, int must_close);
/* Writes to the session's transport (dropped once it is gone). */
int grove__http_session_write(grove__http_session *s, const void *data, size_t len);
size_t grove__http_session_queued(const grove__http_session *s);
/* Formats and emits the access-log line for an ended response. */
void grove__http_log(grove__http_session *s, const grove__http_request *req,
		     int status, uint64_t bytes);
/* Inflates a gzip or zlib body in place, bounded by max:
 * GROVE_EINVALID corrupt, GROVE_ENOSPC too large. */
int grove__http_inflate(grove__sbuf *body, size_t max);

#endif
