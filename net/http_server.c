/* The HTTP server: configuration, the router, and the binding of sessions to
 * runtime connections (the only place where net/ meets the platform's
 * connections). */
#include "http_internal.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

int grove__http_server_new(grove__http_server **out, grove__loop *loop,
			   const grove__http_config *cfg)
{
	grove__http_server *srv = grove__calloc(1, sizeof(*srv));
	if (!srv)
		return GROVE_ENOMEM;
	srv->loop = loop;
	if (cfg)
		srv->cfg = *cfg;
	if (!srv->cfg.max_body)
		srv->cfg.max_body = 16u << 20;
	if (!srv->cfg.max_uri)
		srv->cfg.max_uri = 8192;
	if (!srv->cfg.max_header_bytes)
		srv->cfg.max_header_bytes = 32768;
	if (!srv->cfg.request_timeout_ms)
		srv->cfg.request_timeout_ms = 30000;
	*out = srv;
	return 0;
}

void grove__http_server_free(grove__http_server *srv)
{
	if (!srv)
		return;
	while (srv->routes) {
		http_route *r = srv->routes;
		srv->routes = r->next;
		free(r->prefix);
		free(r);
	}
	free(srv);
}

grove__loop *grove__http_server_loop(const grove__http_server *srv)
{
	return srv->loop;
}

int grove__http_route(grove__http_server *srv, uint64_t methods,
		      const char *prefix, grove__http_handler fn, void *arg)
{
	if (!prefix || prefix[0] != '/' || !fn || !methods)
		return grove__error_set(GROVE_EINVALID, "route needs a /prefix, methods and a handler");
	http_route *r = grove__calloc(1, sizeof(*r));
	if (!r)
		return GROVE_ENOMEM;
	r->prefix = grove__strdup(prefix);
	if (!r->prefix) {
		free(r);
		return GROVE_ENOMEM;
	}
	r->prefix_len = strlen(prefix);
	r->methods = methods;
	r->fn = fn;
	r->arg = arg;
	r->next = srv->routes;
	srv->routes = r;
	srv->all_methods |= methods;
	if (methods & GROVE_HTTP_M(HTTP_GET))
		srv->all_methods |= GROVE_HTTP_M(HTTP_HEAD);
	return 0;
}

static uint64_t effective(uint64_t methods)
{
	/* a GET route answers HEAD too */
	if (methods & GROVE_HTTP_M(HTTP_GET))
		methods |= GROVE_HTTP_M(HTTP_HEAD);
	return methods;
}

static int allow_header(grove__http_response *res, uint64_t methods)
{
	char buf[512];
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned m = 0; m < 64; m++) {
		if (!(methods & GROVE_HTTP_M(m)))
			continue;
		const char *name = http_method_str((enum http_method)m);
		if (!name || name[0] == '<')
			continue;
		size_t len = strlen(name);
		if (n + len + 3 >= sizeof(buf))
			break;
		if (n) {
			memcpy(buf + n, ", ", 2);
			n += 2;
		}
		memcpy(buf + n, name, len + 1);
		n += len;
	}
	return grove__http_res_header(res, "Allow", buf);
}

void grove__http_dispatch(grove__http_server *srv, grove__http_request *req,
			  grove__http_response *res)
{
	int m = req->method;
	if (m < 0 || m >= 64 || !(srv->all_methods & GROVE_HTTP_M(m))) {
		grove__http_res_error(res, 501);
		return;
	}
	const http_route *best = NULL;
	uint64_t path_methods = 0;
	for (const http_route *r = srv->routes; r; r = r->next) {
		if (strncmp(grove__http_req_path(req), r->prefix, r->prefix_len) != 0)
			continue;
		uint64_t eff = effective(r->methods);
		path_methods |= eff;
		if ((eff & GROVE_HTTP_M(m)) && (!best || r->prefix_len > best->prefix_len))
			best = r;
	}
	if (!best) {
		if (path_methods) {
			allow_header(res, path_methods);
			grove__http_res_error(res, 405);
		} else {
			grove__http_res_error(res, 404);
		}
		return;
	}
	best->fn(req, res, best->arg);
}

/* ---- sessions on runtime connections ------------------------------------ */

static int io_write(void *io, const void *data, size_t len)
{
	return grove__conn_write(io, data, len);
}

static size_t io_queued(void *io)
{
	return grove__conn_queued(io);
}

static void io_pause_read(void *io, int paused)
{
	grove__conn_pause_read(io, paused);
}

static void io_set_busy(void *io, int busy)
{
	grove__conn_set_busy(io, busy);
}

static void io_set_deadline(void *io, unsigned ms)
{
	grove__conn_set_deadline(io, ms);
}

static void io_close(void *io)
{
	grove__conn_close(io);
}

static const grove__http_io conn_io = {
	.write = io_write,
	.queued = io_queued,
	.pause_read = io_pause_read,
	.set_busy = io_set_busy,
	.set_deadline = io_set_deadline,
	.close = io_close,
};

static void on_open(grove__conn *c, void *arg)
{
	grove__http_session *s;
	if (grove__http_session_new(&s, arg, &conn_io, c, grove__conn_peer(c)) < 0) {
		grove__conn_abort(c);
		return;
	}
	grove__conn_set_data(c, s);
}

static void on_read(grove__conn *c, const char *data, size_t len)
{
	grove__http_session *s = grove__conn_data(c);
	if (s)
		grove__http_session_feed(s, data, len);
}

static void on_drain(grove__conn *c)
{
	grove__http_session *s = grove__conn_data(c);
	if (s)
		grove__http_session_drained(s);
}

static void on_deadline(grove__conn *c)
{
	grove__http_session *s = grove__conn_data(c);
	if (s)
		grove__http_session_deadline(s);
	else
		grove__conn_abort(c);
}

static void on_close(grove__conn *c)
{
	grove__http_session *s = grove__conn_data(c);
	grove__conn_set_data(c, NULL);
	if (s)
		grove__http_session_closed(s);
}

static const grove__conn_handler http_conn_handler = {
	.on_open = on_open,
	.on_read = on_read,
	.on_drain = on_drain,
	.on_deadline = on_deadline,
	.on_close = on_close,
};

int grove__http_listen(grove__http_server *srv, const char *host, int port,
		       grove__listener **out)
{
	if (!srv->loop)
		return grove__error_set(GROVE_EINVALID, "HTTP server has no loop");
	return grove__listen(out, srv->loop, host, port, &http_conn_handler, srv);
}
