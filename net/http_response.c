/* Writing responses: status line and headers, fixed-length, chunked or
 * close-delimited bodies, HEAD (headers only), and the access-log line. */
#include "http_internal.h"
#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int status_has_body(int status)
{
	return !(status < 200 || status == 204 || status == 304);
}

static int header_ok(const char *s)
{
	/* No CR/LF smuggling into the header block. */
	return s && !strpbrk(s, "\r\n");
}

int grove__http_res_header(grove__http_response *res, const char *name,
			   const char *value)
{
	if (res->started || res->ended)
		return grove__error_set(GROVE_EINVALID, "response already started");
	if (!header_ok(name) || !header_ok(value) || !*name)
		return grove__error_set(GROVE_EINVALID, "bad header");
	return grove__sbuf_printf(&res->head, "%s: %s\r\n", name, value);
}

int grove__http_res_start(grove__http_response *res, int status,
			  long long content_length)
{
	if (res->started || res->ended)
		return grove__error_set(GROVE_EINVALID, "response already started");
	grove__http_request *req = res->req;
	res->started = 1;
	res->status = status;
	if (!status_has_body(status)) {
		res->no_body = 1;
		content_length = -2; /* no length header at all */
	}
	grove__sbuf h = GROVE_SBUF_INIT;
	int rc = grove__sbuf_printf(&h, "HTTP/1.1 %d %s\r\n", status,
				    grove__http_reason(status));
	if (rc == 0 && res->head.len)
		rc = grove__sbuf_put(&h, res->head.data, res->head.len);
	if (content_length >= 0) {
		res->remaining = content_length;
		if (rc == 0)
			rc = grove__sbuf_printf(&h, "Content-Length: %lld\r\n", content_length);
	} else if (content_length == -1) {
		if (req->http_minor >= 1) {
			res->chunked = 1;
			if (rc == 0 && !res->no_body)
				rc = grove__sbuf_puts(&h, "Transfer-Encoding: chunked\r\n");
		} else {
			res->close_delimited = 1;
			req->keep_alive = 0;
		}
	}
	if (res->session->closing)
		req->keep_alive = 0;
	if (rc == 0) {
		if (!req->keep_alive)
			rc = grove__sbuf_puts(&h, "Connection: close\r\n");
		else if (req->http_minor == 0)
			rc = grove__sbuf_puts(&h, "Connection: keep-alive\r\n");
	}
	if (rc == 0)
		rc = grove__sbuf_puts(&h, "\r\n");
	if (rc == 0)
		grove__http_session_write(res->session, h.data, h.len);
	grove__sbuf_dispose(&h);
	return rc;
}

int grove__http_res_write(grove__http_response *res, const void *data, size_t len)
{
	if (!res->started || res->ended)
		return grove__error_set(GROVE_EINVALID, "response not started or ended");
	if (len == 0 || res->no_body)
		return 0;
	if (res->remaining >= 0) {
		if ((unsigned long long)len > (unsigned long long)res->remaining)
			return grove__error_set(GROVE_EINVALID,
						"body longer than its Content-Length");
		res->remaining -= (long long)len;
	}
	res->body_bytes += len;
	if (!grove__http_res_alive(res))
		return grove__error_set(GROVE_EIO, "client is gone");
	if (res->chunked) {
		char size[32];
		int n = snprintf(size, sizeof(size), "%zx\r\n", len);
		int rc = grove__http_session_write(res->session, size, (size_t)n);
		if (rc == 0)
			rc = grove__http_session_write(res->session, data, len);
		if (rc == 0)
			rc = grove__http_session_write(res->session, "\r\n", 2);
		return rc;
	}
	return grove__http_session_write(res->session, data, len);
}

int grove__http_res_send(grove__http_response *res, int status,
			 const char *content_type, const void *body, size_t len)
{
	int rc = 0;
	if (content_type)
		rc = grove__http_res_header(res, "Content-Type", content_type);
	if (rc == 0)
		rc = grove__http_res_start(res, status, (long long)len);
	if (rc == 0 && len)
		grove__http_res_write(res, body, len);
	if (rc < 0 && !res->started) {
		/* could not even start: still answer and end the exchange */
		grove__http_res_start(res, 500, 0);
	}
	grove__http_res_end(res);
	return rc;
}

int grove__http_res_error(grove__http_response *res, int status)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", grove__http_reason(status));
	return grove__http_res_send(res, status, "text/plain", body, (size_t)n);
}

size_t grove__http_res_backlog(const grove__http_response *res)
{
	return grove__http_session_queued(res->session);
}

void grove__http_res_on_drain(grove__http_response *res, grove__loop_fn fn, void *arg)
{
	res->drain_fn = fn;
	res->drain_arg = arg;
}

int grove__http_res_alive(const grove__http_response *res)
{
	return !res->session->gone && !res->ended;
}

int grove__http_res_end(grove__http_response *res)
{
	if (res->ended)
		return grove__error_set(GROVE_EINVALID, "response already ended");
	if (!res->started)
		grove__http_res_start(res, 204, 0);
	res->ended = 1;
	int must_close = !res->req->keep_alive || res->close_delimited;
	if (res->chunked && !res->no_body)
		grove__http_session_write(res->session, "0\r\n\r\n", 5);
	if (res->remaining > 0 && !res->no_body)
		must_close = 1; /* promised bytes never came: the framing is lost */
	grove__http_log(res->session, res->req, res->status, res->body_bytes);
	grove__http_session_response_done(res->session, must_close);
	return 0;
}

void grove__http_log(grove__http_session *s, const grove__http_request *req,
		     int status, uint64_t bytes)
{
	const grove__http_config *cfg = &s->srv->cfg;
	if (!cfg->log)
		return;
	char when[64] = "-";
	time_t t = time(NULL);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	uint64_t ms = 0;
	if (s->srv->loop && req->start_ms)
		ms = grove__loop_now_ms(s->srv->loop) - req->start_ms;
	const char *method = req->method >= 0 && req->target
		? http_method_str((enum http_method)req->method) : "-";
	char line[1024];
	/* The target is the client's: cut it and keep quotes balanced. */
	char target[512];
	snprintf(target, sizeof(target), "%s", req->target ? req->target : "-");
	for (char *p = target; *p; p++)
		if (*p == '"' || (unsigned char)*p < 0x20)
			*p = '?';
	snprintf(line, sizeof(line),
		 "%s - %s [%s] \"%s %s HTTP/%u.%u\" %d %" PRIu64 " %" PRIu64 "ms",
		 s->peer, req->user ? req->user : "-", when, method, target,
		 req->http_major ? req->http_major : 1u, req->http_minor, status,
		 bytes, ms);
	cfg->log(cfg->log_arg, line);
}
