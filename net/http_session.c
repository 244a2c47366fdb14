/* One HTTP/1.1 connection: feeds received bytes to http-parser, builds the
 * request, enforces the limits (400, 408, 413, 414, 431), and hands complete
 * requests to the router one at a time.  Pipelined bytes wait in `in` with
 * the parser paused until the current response has ended. */
#include "http_internal.h"
#include "error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Above this much unparsed input, stop reading from the transport. */
#define INPUT_HIGH_WATER (256 * 1024)

static const http_parser_settings *settings(void);

static grove__http_session *session_of(http_parser *p)
{
	return p->data;
}

static void session_free(grove__http_session *s)
{
	grove__http_exchange_free(s->building);
	grove__sbuf_dispose(&s->in);
	grove__sbuf_dispose(&s->field);
	grove__sbuf_dispose(&s->value);
	free(s);
}

int grove__http_session_new(grove__http_session **out, grove__http_server *srv,
			    const grove__http_io *io, void *io_arg, const char *peer)
{
	grove__http_session *s = grove__calloc(1, sizeof(*s));
	if (!s)
		return GROVE_ENOMEM;
	s->srv = srv;
	s->io = io;
	s->io_arg = io_arg;
	snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "-");
	http_parser_init(&s->parser, HTTP_REQUEST);
	s->parser.data = s;
	*out = s;
	return 0;
}

void grove__http_exchange_free(http_exchange *x)
{
	if (!x)
		return;
	grove__http_request *r = &x->req;
	free(r->target);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	grove__sbuf_dispose(&r->body);
	free(r->user);
	grove__sbuf_dispose(&x->res.head);
	free(x);
}

int grove__http_session_write(grove__http_session *s, const void *data, size_t len)
{
	if (s->gone)
		return grove__error_set(GROVE_EIO, "client is gone");
	return s->io->write(s->io_arg, data, len);
}

size_t grove__http_session_queued(const grove__http_session *s)
{
	return s->gone ? 0 : s->io->queued(s->io_arg);
}

static void set_busy(grove__http_session *s, int busy)
{
	if (!s->gone && s->io->set_busy)
		s->io->set_busy(s->io_arg, busy);
}

static void set_deadline(grove__http_session *s, unsigned ms)
{
	if (!s->gone && s->io->set_deadline)
		s->io->set_deadline(s->io_arg, ms);
}

static void set_read_paused(grove__http_session *s, int paused)
{
	if (s->read_paused == paused || s->gone)
		return;
	s->read_paused = paused;
	if (s->io->pause_read)
		s->io->pause_read(s->io_arg, paused);
}

/* Answers a request that never reached a handler and closes. */
static void fail(grove__http_session *s, int status)
{
	if (s->closing)
		return;
	s->closing = 1;
	char buf[256];
	const char *reason = grove__http_reason(status);
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
			 status, reason, strlen(reason) + 1, reason);
	grove__http_session_write(s, buf, (size_t)n);
	grove__http_request *req = s->building ? &s->building->req : NULL;
	grove__http_request blank = { 0 };
	if (!req) {
		blank.method = -1;
		req = &blank;
	}
	grove__http_log(s, req, status, strlen(reason) + 1);
	set_deadline(s, 0);
	set_busy(s, 0);
	if (!s->gone)
		s->io->close(s->io_arg);
}

/* ---- parser callbacks -------------------------------------------------- */

static int stop(grove__http_session *s, int status)
{
	s->error_status = status;
	/* -1, not 1: from on_headers_complete, 1 would mean "no body". */
	return -1;
}

static int on_message_begin(http_parser *p)
{
	grove__http_session *s = session_of(p);
	grove__http_exchange_free(s->building);
	s->building = calloc(1, sizeof(*s->building));
	if (!s->building)
		return stop(s, 500);
	s->building->req.remote = s->peer;
	s->building->req.start_ms = s->srv->loop ? grove__loop_now_ms(s->srv->loop) : 0;
	s->header_bytes = 0;
	s->last_was_value = 0;
	grove__sbuf_reset(&s->field);
	grove__sbuf_reset(&s->value);
	set_busy(s, 1);
	set_deadline(s, s->srv->cfg.request_timeout_ms);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	grove__http_session *s = session_of(p);
	grove__http_request *r = &s->building->req;
	size_t old = r->target ? strlen(r->target) : 0;
	if (old + len > s->srv->cfg.max_uri)
		return stop(s, 414);
	char *t = realloc(r->target, old + len + 1);
	if (!t)
		return stop(s, 500);
	memcpy(t + old, at, len);
	t[old + len] = '\0';
	r->target = t;
	return 0;
}

static int finish_header(grove__http_session *s)
{
	grove__http_request *r = &s->building->req;
	if (!s->field.len)
		return 0;
	if (r->nheaders == r->cap_headers) {
		size_t cap = r->cap_headers ? r->cap_headers * 2 : 16;
		http_header *h = realloc(r->headers, cap * sizeof(*h));
		if (!h)
			return -1;
		r->headers = h;
		r->cap_headers = cap;
	}
	char *name = grove__sbuf_detach(&s->field, NULL);
	char *value = grove__sbuf_detach(&s->value, NULL);
	if (!value)
		value = grove__strdup("");
	if (!name || !value) {
		free(name);
		free(value);
		return -1;
	}
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
	return 0;
}

static int count_header(grove__http_session *s, size_t len)
{
	s->header_bytes += len;
	return s->header_bytes > s->srv->cfg.max_header_bytes;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	grove__http_session *s = session_of(p);
	if (count_header(s, len))
		return stop(s, 431);
	if (s->last_was_value) {
		if (finish_header(s) < 0)
			return stop(s, 500);
		s->last_was_value = 0;
	}
	if (grove__sbuf_put(&s->field, at, len) < 0)
		return stop(s, 500);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	grove__http_session *s = session_of(p);
	if (count_header(s, len))
		return stop(s, 431);
	s->last_was_value = 1;
	/* An empty value still needs a buffer so detach gives "". */
	if (grove__sbuf_put(&s->value, at, len) < 0 || grove__sbuf_grow(&s->value, 1) < 0)
		return stop(s, 500);
	return 0;
}

/* Splits the target into decoded path and raw query. */
static int parse_target(grove__http_request *r)
{
	const char *t = r->target ? r->target : "";
	const char *path = t;
	size_t plen;
	struct http_parser_url u;
	if (t[0] != '/' && t[0] != '*') {
		/* absolute-form (http://host/path): take its path and query */
		http_parser_url_init(&u);
		if (http_parser_parse_url(t, strlen(t), 0, &u) != 0)
			return -1;
		if (!(u.field_set & (1 << UF_PATH))) {
			path = "/";
			plen = 1;
		} else {
			path = t + u.field_data[UF_PATH].off;
			plen = u.field_data[UF_PATH].len;
		}
		if (u.field_set & (1 << UF_QUERY)) {
			r->query = grove__strndup(t + u.field_data[UF_QUERY].off,
						  u.field_data[UF_QUERY].len);
			if (!r->query)
				return -1;
		}
	} else {
		const char *q = strchr(t, '?');
		plen = q ? (size_t)(q - t) : strlen(t);
		if (q) {
			/* a fragment never reaches a server, but drop one anyway */
			r->query = grove__strndup(q + 1, strcspn(q + 1, "#"));
			if (!r->query)
				return -1;
		} else {
			plen = strcspn(t, "#");
		}
	}
	return grove__http_percent_decode(&r->path, path, plen) < 0 ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
	grove__http_session *s = session_of(p);
	grove__http_request *r = &s->building->req;
	if (s->last_was_value && finish_header(s) < 0)
		return stop(s, 500);
	s->last_was_value = 0;
	r->method = p->method;
	r->http_major = p->http_major;
	r->http_minor = p->http_minor;
	r->keep_alive = http_should_keep_alive(p);
	if (!r->target || parse_target(r) < 0)
		return stop(s, 400);
	if (p->http_major != 1)
		return stop(s, 505);
	/* http-parser sets content_length to ULLONG_MAX when absent */
	if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
	    p->content_length > s->srv->cfg.max_body)
		return stop(s, 413);
	const char *expect = grove__http_req_header(r, "Expect");
	if (expect) {
		if (strcasecmp(expect, "100-continue") != 0)
			return stop(s, 417);
		if (p->http_minor >= 1) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			grove__http_session_write(s, cont, sizeof(cont) - 1);
		}
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	grove__http_session *s = session_of(p);
	grove__sbuf *b = &s->building->req.body;
	if (b->len + len > s->srv->cfg.max_body)
		return stop(s, 413);
	if (grove__sbuf_put(b, at, len) < 0)
		return stop(s, 500);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	grove__http_session *s = session_of(p);
	grove__http_request *r = &s->building->req;
	set_deadline(s, 0);
	const char *enc = grove__http_req_header(r, "Content-Encoding");
	if (enc && strcasecmp(enc, "identity") != 0) {
		if (strcasecmp(enc, "gzip") != 0 && strcasecmp(enc, "x-gzip") != 0 &&
		    strcasecmp(enc, "deflate") != 0)
			return stop(s, 415);
		int rc = grove__http_inflate(&r->body, s->srv->cfg.max_body);
		if (rc == GROVE_ENOSPC)
			return stop(s, 413);
		if (rc < 0)
			return stop(s, rc == GROVE_ENOMEM ? 500 : 400);
	}
	s->ready = 1;
	/* Parse no further until this request is answered. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings *settings(void)
{
	static const http_parser_settings st = {
		.on_message_begin = on_message_begin,
		.on_url = on_url,
		.on_header_field = on_header_field,
		.on_header_value = on_header_value,
		.on_headers_complete = on_headers_complete,
		.on_body = on_body,
		.on_message_complete = on_message_complete,
	};
	return &st;
}

/* ---- driving the parser ------------------------------------------------ */

/* A 501 for a well-formed method token http-parser does not know, 400 for
 * anything else it rejects. */
static int status_for_parse_error(grove__http_session *s, size_t start)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
	if (e == HPE_HEADER_OVERFLOW)
		return 431;
	if (e == HPE_INVALID_METHOD) {
		/* the method is the first thing of the message that failed */
		const char *d = s->in.data + start;
		size_t n = s->in.len - start, i = 0;
		while (i < n && d[i] >= 'A' && d[i] <= 'Z')
			i++;
		if (i > 0 && i < n && d[i] == ' ')
			return 501;
	}
	return 400;
}

static void dispatch_ready(grove__http_session *s)
{
	http_exchange *x = s->building;
	s->building = NULL;
	s->ready = 0;
	s->active = x;
	x->res.session = s;
	x->res.req = &x->req;
	x->res.remaining = -1;
	x->res.no_body = x->req.method == HTTP_HEAD;
	grove__http_dispatch(s->srv, &x->req, &x->res);
}

static void process(grove__http_session *s)
{
	if (s->in_process)
		return;
	s->in_process = 1;
	while (!s->gone && !s->closing && !s->active) {
		size_t avail = s->in.len - s->in_off;
		if (avail == 0 && !s->eof)
			break;
		size_t start = s->in_off;
		size_t n = http_parser_execute(&s->parser, settings(),
					       avail ? s->in.data + start : NULL, avail);
		/* At end of input http-parser reports 1 byte read on error. */
		s->in_off += n < avail ? n : avail;
		enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
		if (e == HPE_PAUSED) {
			http_parser_pause(&s->parser, 0);
		} else if (e != HPE_OK) {
			int status = s->error_status ? s->error_status
						     : status_for_parse_error(s, start);
			fail(s, status);
			break;
		}
		if (s->ready) {
			dispatch_ready(s);
			continue;
		}
		if (avail == 0) {
			/* end of input: a half-received request is dropped */
			if (!s->gone)
				s->io->close(s->io_arg);
			s->closing = 1;
			break;
		}
		if (s->in_off == start)
			break; /* no progress without more input */
	}
	/* Compact what was parsed. */
	if (s->in_off > 0) {
		memmove(s->in.data, s->in.data + s->in_off, s->in.len - s->in_off);
		s->in.len -= s->in_off;
		s->in_off = 0;
	}
	set_read_paused(s, s->in.len > INPUT_HIGH_WATER);
	s->in_process = 0;
	if (s->gone && !s->active)
		session_free(s);
}

void grove__http_session_feed(grove__http_session *s, const char *data, size_t len)
{
	if (s->gone || s->closing)
		return;
	if (len == 0)
		s->eof = 1;
	else if (grove__sbuf_put(&s->in, data, len) < 0) {
		fail(s, 500);
		return;
	}
	process(s);
}

void grove__http_session_response_done(grove__http_session *s, int must_close)
{
	grove__http_exchange_free(s->active);
	s->active = NULL;
	set_busy(s, 0);
	if (must_close && !s->closing) {
		s->closing = 1;
		if (!s->gone)
			s->io->close(s->io_arg);
	}
	/* Inside process() the loop there continues with the next request. */
	process(s);
}

void grove__http_session_drained(grove__http_session *s)
{
	if (s->active && s->active->res.drain_fn)
		s->active->res.drain_fn(s->active->res.drain_arg);
}

void grove__http_session_deadline(grove__http_session *s)
{
	/* Only a request still arriving is the client's fault. */
	if (s->building && !s->active)
		fail(s, 408);
}

void grove__http_session_closed(grove__http_session *s)
{
	s->gone = 1;
	if (!s->active && !s->in_process)
		session_free(s);
}
