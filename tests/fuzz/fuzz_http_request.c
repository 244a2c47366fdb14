/*
 * libFuzzer target: arbitrary bytes into the HTTP engine through an in-memory
 * transport (no sockets, no loop).  The first input byte picks how the rest
 * is split into feeds, so chunk boundaries are fuzzed too; small limits make
 * the 413/414/431 paths reachable.
 *
 * Build (from the repository root):
 *   clang-14 -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -Istore tests/fuzz/fuzz_http_request.c net/http*.c runtime/loop*.c store/error.c \
 *     store/sbuf.c -lhttp_parser -lz -lcrypt -lpthread -o build/fuzz_http_request
 * Run:
 *   mkdir -p build/fuzz-corpus && build/fuzz_http_request -max_total_time=60 \
 *     build/fuzz-corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../net/http.h"

typedef struct {
	size_t written;
	int closed;
} fake_io;

static int fake_write(void *io, const void *data, size_t len)
{
	fake_io *f = io;
	(void)data;
	f->written += len;
	return 0;
}

static size_t fake_queued(void *io)
{
	(void)io;
	return 0;
}

static void fake_close(void *io)
{
	((fake_io *)io)->closed = 1;
}

static const grove__http_io fake = {
	.write = fake_write,
	.queued = fake_queued,
	.close = fake_close,
};

static void echo(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)arg;
	size_t len;
	const char *body = grove__http_req_body(req, &len);
	grove__http_req_header(req, "Host");
	grove__http_req_query(req);
	grove__http_res_header(res, "X-Path", grove__http_req_path(req));
	grove__http_res_send(res, 200, "application/octet-stream", body, len);
}

static void stream(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)req;
	(void)arg;
	grove__http_res_start(res, 200, -1);
	grove__http_res_write(res, "abc", 3);
	grove__http_res_end(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	grove__http_config cfg = {
		.max_body = 4096, .max_uri = 512, .max_header_bytes = 2048,
	};
	grove__http_server *srv;
	if (grove__http_server_new(&srv, NULL, &cfg) < 0)
		return 0;
	grove__http_route(srv, GROVE_HTTP_M(HTTP_POST) | GROVE_HTTP_M(HTTP_PUT) |
			  GROVE_HTTP_M(HTTP_GET), "/", echo, NULL);
	grove__http_route(srv, GROVE_HTTP_M(HTTP_GET), "/stream", stream, NULL);
	fake_io io = { 0 };
	grove__http_session *s;
	if (grove__http_session_new(&s, srv, &fake, &io, "fuzz") == 0) {
		for (size_t off = 0; off < size && !io.closed; off += step) {
			size_t n = size - off < step ? size - off : step;
			grove__http_session_feed(s, (const char *)data + off, n);
		}
		if (!io.closed)
			grove__http_session_feed(s, NULL, 0);
		grove__http_session_deadline(s);
		grove__http_session_closed(s);
	}
	grove__http_server_free(srv);
	return 0;
}
