/* The HTTP engine over real sockets on 127.0.0.1: a loop runs in a thread,
 * the tests talk raw HTTP (and curl) to it. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "grove.h"
#include "../../net/http.h"
#include "../../net/http_internal.h"

/* ---- the server under test ------------------------------------------- */

typedef struct {
	grove__loop *loop;
	grove__http_server *srv;
	grove__listener *lis;
	pthread_t thread;
	int port;
	int rc;
	grove__htpasswd *htpasswd;
	pthread_mutex_t log_mu;
	char log[8192];
} server;

static server S;

static void log_line(void *arg, const char *line)
{
	server *s = arg;
	pthread_mutex_lock(&s->log_mu);
	strncat(s->log, line, sizeof(s->log) - strlen(s->log) - 2);
	strcat(s->log, "\n");
	pthread_mutex_unlock(&s->log_mu);
}

static void h_hello(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)req;
	(void)arg;
	grove__http_res_send(res, 200, "text/plain", "hello world", 11);
}

static void h_echo(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)arg;
	size_t len;
	const char *body = grove__http_req_body(req, &len);
	grove__http_res_header(res, "X-Path", grove__http_req_path(req));
	const char *q = grove__http_req_query(req);
	grove__http_res_header(res, "X-Query", q ? q : "(none)");
	grove__http_res_send(res, 200, "application/octet-stream", body, len);
}

typedef struct {
	grove__http_response *res;
} slow_job;

static void slow_work(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
}

static void slow_done(void *arg)
{
	slow_job *j = arg;
	grove__http_res_send(j->res, 200, "text/plain", "slow done", 9);
	free(j);
}

static void h_slow(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)req;
	server *s = arg;
	slow_job *j = calloc(1, sizeof(*j));
	j->res = res;
	if (grove__loop_submit(s->loop, slow_work, slow_done, j) < 0) {
		free(j);
		grove__http_res_error(res, 500);
	}
}

#define STREAM_TOTAL (4u << 20)
typedef struct {
	grove__http_response *res;
	size_t sent;
} streamer;

static void stream_more(void *arg)
{
	streamer *st = arg;
	static char piece[65536];
	memset(piece, 'x', sizeof(piece));
	while (st->sent < STREAM_TOTAL && grove__http_res_alive(st->res)) {
		if (grove__http_res_backlog(st->res) > 256 * 1024)
			return; /* wait for the drain callback */
		grove__http_res_write(st->res, piece, sizeof(piece));
		st->sent += sizeof(piece);
	}
	grove__http_res_end(st->res);
	free(st);
}

static void h_stream(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)req;
	(void)arg;
	streamer *st = calloc(1, sizeof(*st));
	st->res = res;
	grove__http_res_start(res, 200, -1);
	grove__http_res_on_drain(res, stream_more, st);
	stream_more(st);
}

static void h_private(grove__http_request *req, grove__http_response *res, void *arg)
{
	server *s = arg;
	if (!grove__http_require_basic_auth(req, res, s->htpasswd, "grove test"))
		return;
	char body[128];
	int n = snprintf(body, sizeof(body), "hi %s", grove__http_req_user(req));
	grove__http_res_send(res, 200, "text/plain", body, (size_t)n);
}

static void *loop_thread(void *arg)
{
	server *s = arg;
	s->rc = grove__loop_run(s->loop);
	return NULL;
}

static void start_with(const grove__loop_config *lc, const grove__http_config *hc_in)
{
	memset(&S, 0, sizeof(S));
	pthread_mutex_init(&S.log_mu, NULL);
	grove__http_config hc = { 0 };
	if (hc_in)
		hc = *hc_in;
	hc.log = log_line;
	hc.log_arg = &S;
	cr_assert_eq(grove__loop_new(&S.loop, lc), 0);
	cr_assert_eq(grove__http_server_new(&S.srv, S.loop, &hc), 0);
	uint64_t get = GROVE_HTTP_M(HTTP_GET);
	cr_assert_eq(grove__http_route(S.srv, get, "/hello", h_hello, &S), 0);
	cr_assert_eq(grove__http_route(S.srv, GROVE_HTTP_M(HTTP_POST) | GROVE_HTTP_M(HTTP_PUT),
				       "/echo", h_echo, &S), 0);
	cr_assert_eq(grove__http_route(S.srv, get, "/slow", h_slow, &S), 0);
	cr_assert_eq(grove__http_route(S.srv, get, "/stream", h_stream, &S), 0);
	cr_assert_eq(grove__http_route(S.srv, get, "/private", h_private, &S), 0);
	cr_assert_eq(grove__http_listen(S.srv, "127.0.0.1", 0, &S.lis), 0);
	S.port = grove__listener_port(S.lis);
	cr_assert_gt(S.port, 0);
	cr_assert_eq(pthread_create(&S.thread, NULL, loop_thread, &S), 0);
}

static void start(void)
{
	start_with(NULL, NULL);
}

static void stop(void)
{
	grove__loop_stop(S.loop);
	pthread_join(S.thread, NULL);
	cr_assert_eq(S.rc, 0);
	grove__loop_free(S.loop);
	grove__http_server_free(S.srv);
	grove__htpasswd_free(S.htpasswd);
}

/* ---- a tiny client ------------------------------------------------------ */

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)S.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_str(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		cr_assert_gt(w, 0, "send failed: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}
#define SEND(fd, lit) send_str(fd, lit, strlen(lit))

typedef struct {
	int status;
	char head[8192];
	char *body;
	size_t body_len;
} reply;

/* Bytes received but not consumed by the previous reply (pipelining). */
static char pend[1 << 18];
static size_t pend_len;

static int fill(int fd)
{
	if (pend_len == sizeof(pend))
		return -1;
	ssize_t n = recv(fd, pend + pend_len, sizeof(pend) - pend_len, 0);
	if (n <= 0)
		return -1;
	pend_len += (size_t)n;
	return 0;
}

static void consume(size_t n)
{
	memmove(pend, pend + n, pend_len - n);
	pend_len -= n;
}

static const char *find_header(const reply *r, const char *name)
{
	static char val[512];
	const char *p = r->head;
	size_t nl = strlen(name);
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t len = strcspn(v, "\r");
			snprintf(val, sizeof(val), "%.*s", (int)len, v);
			return val;
		}
	}
	return NULL;
}

/* Reads one response; head_only for HEAD.  Returns 0, -1 on EOF/timeout. */
static int read_reply_ex(int fd, reply *r, int head_only)
{
	memset(r, 0, sizeof(*r));
	char *end;
	for (;;) {
		pend[pend_len < sizeof(pend) ? pend_len : sizeof(pend) - 1] = '\0';
		if ((end = memmem(pend, pend_len, "\r\n\r\n", 4)) != NULL)
			break;
		if (fill(fd) < 0)
			return -1;
	}
	size_t hl = (size_t)(end - pend) + 4;
	cr_assert_lt(hl, sizeof(r->head));
	memcpy(r->head, pend, hl);
	r->head[hl] = '\0';
	consume(hl);
	sscanf(r->head, "HTTP/1.%*d %d", &r->status);
	if (head_only || r->status == 100 || r->status == 204 || r->status == 304)
		return 0;
	const char *cl = find_header(r, "Content-Length");
	const char *te = find_header(r, "Transfer-Encoding");
	if (cl) {
		size_t len = strtoul(cl, NULL, 10);
		r->body = malloc(len + 1);
		while (r->body_len < len) {
			if (pend_len == 0 && fill(fd) < 0)
				return -1;
			size_t take = len - r->body_len < pend_len ? len - r->body_len : pend_len;
			memcpy(r->body + r->body_len, pend, take);
			r->body_len += take;
			consume(take);
		}
		r->body[len] = '\0';
	} else if (te && strcasecmp(te, "chunked") == 0) {
		size_t cap = 1 << 16;
		r->body = malloc(cap);
		for (;;) {
			char *eol;
			while (!(eol = memmem(pend, pend_len, "\r\n", 2)))
				if (fill(fd) < 0)
					return -1;
			size_t sz = strtoul(pend, NULL, 16);
			consume((size_t)(eol - pend) + 2);
			while (pend_len < sz + 2)
				if (fill(fd) < 0) {
					/* large chunk: drain what we have */
					return -1;
				}
			if (r->body_len + sz + 1 > cap) {
				while (r->body_len + sz + 1 > cap)
					cap *= 2;
				r->body = realloc(r->body, cap);
			}
			memcpy(r->body + r->body_len, pend, sz);
			r->body_len += sz;
			consume(sz + 2);
			if (sz == 0)
				break;
		}
		r->body[r->body_len] = '\0';
	} else {
		/* close-delimited */
		while (fill(fd) == 0)
			;
		r->body = malloc(pend_len + 1);
		memcpy(r->body, pend, pend_len);
		r->body_len = pend_len;
		r->body[pend_len] = '\0';
		consume(pend_len);
	}
	return 0;
}

static int read_reply(int fd, reply *r)
{
	return read_reply_ex(fd, r, 0);
}

/* 1 when the server closed the connection (EOF or reset). */
static int closed_by_peer(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void new_conn_works(void)
{
	pend_len = 0;
	int fd = dial();
	SEND(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello world");
	free(r.body);
	close(fd);
}

static void init(void)
{
	pend_len = 0;
}

TestSuite(http, .init = init, .timeout = 30);

/* ---- tests -------------------------------------------------------------- */

Test(http, keep_alive_serves_two_requests_on_one_connection)
{
	start();
	int fd = dial();
	reply r;
	SEND(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello world");
	free(r.body);
	SEND(fd, "POST /echo/a%20b?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "abc");
	cr_assert_str_eq(find_header(&r, "X-Path"), "/echo/a b");
	cr_assert_str_eq(find_header(&r, "X-Query"), "x=1");
	free(r.body);
	close(fd);
	stop();
	cr_assert(strstr(S.log, "\"GET /hello HTTP/1.1\" 200 11"), "log: %s", S.log);
	cr_assert(strstr(S.log, "\"POST /echo/a%20b?x=1 HTTP/1.1\" 200 3"), "log: %s", S.log);
}

Test(http, pipelined_requests_are_answered_in_order)
{
	start();
	int fd = dial();
	SEND(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
		 "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
		 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_str_eq(r.body, "first");
	free(r.body);
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_str_eq(r.body, "slow done");
	free(r.body);
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_str_eq(r.body, "third");
	free(r.body);
	close(fd);
	stop();
}

Test(http, chunked_request_body_is_decoded)
{
	start();
	int fd = dial();
	SEND(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello, world");
	free(r.body);
	close(fd);
	stop();
}

static size_t gzip_bytes(const char *in, size_t n, unsigned char *out, size_t cap)
{
	z_stream z = { 0 };
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t len = cap - z.avail_out;
	deflateEnd(&z);
	return len;
}

Test(http, gzip_request_body_is_inflated)
{
	start();
	char plain[5000];
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (char)('a' + i % 26);
	unsigned char gz[6000];
	size_t gzlen = gzip_bytes(plain, sizeof(plain), gz, sizeof(gz));
	int fd = dial();
	char head[256];
	snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
		 "Content-Length: %zu\r\n\r\n", gzlen);
	SEND(fd, head);
	send_str(fd, (const char *)gz, gzlen);
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, sizeof(plain));
	cr_assert_eq(memcmp(r.body, plain, sizeof(plain)), 0);
	free(r.body);
	/* corrupt gzip: 400 */
	gz[12] ^= 0xff;
	gz[13] ^= 0xff;
	SEND(fd, head);
	send_str(fd, (const char *)gz, gzlen);
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 400);
	free(r.body);
	close(fd);
	stop();
}

Test(http, gzip_bomb_is_bounded_by_max_body)
{
	grove__http_config hc = { .max_body = 64 * 1024 };
	start_with(NULL, &hc);
	static char zeros[1 << 20];
	static unsigned char gz[1 << 16];
	size_t gzlen = gzip_bytes(zeros, sizeof(zeros), gz, sizeof(gz));
	cr_assert_lt(gzlen, hc.max_body);
	int fd = dial();
	char head[256];
	snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
		 "Content-Length: %zu\r\n\r\n", gzlen);
	SEND(fd, head);
	send_str(fd, (const char *)gz, gzlen);
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 413);
	free(r.body);
	close(fd);
	stop();
}

Test(http, expect_100_continue)
{
	start();
	int fd = dial();
	SEND(fd, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 100);
	SEND(fd, "data");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "data");
	free(r.body);
	close(fd);
	stop();
}

Test(http, head_sends_headers_without_body)
{
	start();
	int fd = dial();
	SEND(fd, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply_ex(fd, &r, 1), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(find_header(&r, "Content-Length"), "11");
	/* the next bytes must be the second response, not a body */
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello world");
	free(r.body);
	close(fd);
	stop();
}

Test(http, body_too_large_gets_413)
{
	grove__http_config hc = { .max_body = 100 };
	start_with(NULL, &hc);
	int fd = dial();
	SEND(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 413);
	free(r.body);
	close(fd);
	/* chunked bodies are counted as they arrive */
	pend_len = 0;
	fd = dial();
	SEND(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	char chunk[80];
	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 2; i++) {
		SEND(fd, "50\r\n");
		send_str(fd, chunk, sizeof(chunk));
		SEND(fd, "\r\n");
	}
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 413);
	free(r.body);
	close(fd);
	new_conn_works();
	stop();
}

Test(http, header_too_large_gets_431)
{
	grove__http_config hc = { .max_header_bytes = 1024 };
	start_with(NULL, &hc);
	int fd = dial();
	SEND(fd, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
	char big[2000];
	memset(big, 'b', sizeof(big));
	send_str(fd, big, sizeof(big));
	SEND(fd, "\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 431);
	free(r.body);
	close(fd);
	stop();
}

Test(http, uri_too_long_gets_414)
{
	grove__http_config hc = { .max_uri = 100 };
	start_with(NULL, &hc);
	int fd = dial();
	char req[400];
	snprintf(req, sizeof(req), "GET /hello/%0200d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
	SEND(fd, req);
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 414);
	free(r.body);
	close(fd);
	stop();
}

Test(http, malformed_request_gets_400_and_server_keeps_serving)
{
	start();
	const char *bad[] = {
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
		"\x01\x02garbage\r\n\r\n",
		"GET /hello HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pend_len = 0;
		int fd = dial();
		SEND(fd, bad[i]);
		reply r;
		cr_assert_eq(read_reply(fd, &r), 0, "case %zu", i);
		cr_assert_eq(r.status, 400, "case %zu: %d", i, r.status);
		cr_assert_str_eq(find_header(&r, "Connection"), "close");
		free(r.body);
		cr_assert(closed_by_peer(fd));
		close(fd);
	}
	new_conn_works();
	stop();
}

Test(http, router_answers_404_405_501)
{
	start();
	int fd = dial();
	reply r;
	SEND(fd, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 404);
	free(r.body);
	SEND(fd, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 405);
	cr_assert_str_eq(find_header(&r, "Allow"), "GET, HEAD");
	free(r.body);
	SEND(fd, "PROPFIND /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 501);
	free(r.body);
	close(fd);
	pend_len = 0;
	fd = dial();
	SEND(fd, "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 501);
	free(r.body);
	close(fd);
	stop();
}

Test(http, idle_connection_is_closed)
{
	grove__loop_config lc = { .idle_timeout_ms = 200 };
	start_with(&lc, NULL);
	int fd = dial();
	SEND(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	free(r.body);
	uint64_t t0 = ms_now();
	cr_assert(closed_by_peer(fd));
	uint64_t waited = ms_now() - t0;
	cr_assert_geq(waited, 150);
	cr_assert_lt(waited, 2000);
	close(fd);
	stop();
}

Test(http, slow_client_gets_408)
{
	grove__http_config hc = { .request_timeout_ms = 200 };
	start_with(NULL, &hc);
	int fd = dial();
	SEND(fd, "GET /hello HTTP/1.1\r\nHo");
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 408);
	free(r.body);
	close(fd);
	stop();
}

Test(http, worker_job_does_not_block_other_connections)
{
	start();
	int slow = dial();
	SEND(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(20 * 1000);
	uint64_t t0 = ms_now();
	int fast = dial();
	SEND(fast, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	reply r;
	cr_assert_eq(read_reply(fast, &r), 0);
	cr_assert_eq(r.status, 200);
	free(r.body);
	cr_assert_lt(ms_now() - t0, 150, "fast request waited for the slow job");
	pend_len = 0;
	cr_assert_eq(read_reply(slow, &r), 0);
	cr_assert_str_eq(r.body, "slow done");
	cr_assert_geq(ms_now() - t0, 200);
	free(r.body);
	close(fast);
	close(slow);
	stop();
}

Test(http, connections_beyond_the_limit_are_refused)
{
	grove__loop_config lc = { .max_conns = 2 };
	start_with(&lc, NULL);
	int a = dial(), b = dial();
	reply r;
	SEND(a, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply(a, &r), 0);
	free(r.body);
	SEND(b, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply(b, &r), 0);
	free(r.body);
	int c = dial();
	send(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 33, MSG_NOSIGNAL);
	cr_assert(closed_by_peer(c));
	close(c);
	close(a);
	usleep(100 * 1000);
	new_conn_works();
	close(b);
	stop();
}

Test(http, graceful_shutdown_finishes_the_request_in_flight)
{
	start();
	int fd = dial();
	SEND(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	int idle = dial();
	usleep(50 * 1000);
	grove__loop_stop(S.loop);
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "slow done");
	free(r.body);
	cr_assert(closed_by_peer(idle));
	pthread_join(S.thread, NULL);
	cr_assert_eq(S.rc, 0);
	close(fd);
	close(idle);
	grove__loop_free(S.loop);
	grove__http_server_free(S.srv);
}

Test(http, streamed_response_with_backpressure)
{
	start();
	int fd = dial();
	SEND(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	/* let the server hit its high-water mark before reading */
	usleep(100 * 1000);
	reply r;
	cr_assert_eq(read_reply(fd, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, STREAM_TOTAL);
	free(r.body);
	SEND(fd, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_reply_ex(fd, &r, 1), 0);
	cr_assert_eq(r.status, 200);
	new_conn_works();
	close(fd);
	stop();
}

/* ---- Basic auth --------------------------------------------------------- */

static char *make_hash(const char *prefix, unsigned long rounds, const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char rnd[16];
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (char)(rand() & 0xff);
	cr_assert_not_null(crypt_gensalt_rn(prefix, rounds, rnd, sizeof(rnd), salt, sizeof(salt)));
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(pw, salt, &cd);
	cr_assert(h && h[0] == '$');
	return strdup(h);
}

static char *basic(const char *user, const char *pw)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char in[256];
	int n = snprintf(in, sizeof(in), "%s:%s", user, pw);
	char *out = malloc(512);
	size_t j = 0;
	for (int i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n) v |= (unsigned char)in[i + 2];
		out[j++] = tbl[v >> 18 & 63];
		out[j++] = tbl[v >> 12 & 63];
		out[j++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		out[j++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[j] = '\0';
	return out;
}

static int auth_status(const char *user, const char *pw, reply *r)
{
	pend_len = 0;
	int fd = dial();
	char req[1024];
	if (user) {
		char *b = basic(user, pw);
		snprintf(req, sizeof(req), "GET /private HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: Basic %s\r\n\r\n", b);
		free(b);
	} else {
		snprintf(req, sizeof(req), "GET /private HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	SEND(fd, req);
	cr_assert_eq(read_reply(fd, r), 0);
	close(fd);
	return r->status;
}

Test(http, basic_auth_with_bcrypt_and_sha512_crypt)
{
	char path[] = "/tmp/grove-htpasswd-XXXXXX";
	int tfd = mkstemp(path);
	cr_assert_geq(tfd, 0);
	char *bc = make_hash("$2b$", 5, "secret1");
	char *sha = make_hash("$6$", 5000, "secret2");
	FILE *f = fdopen(tfd, "w");
	fprintf(f, "# users\nalice:%s\nbob:%s\ncarol:plaintext-not-accepted\n", bc, sha);
	fclose(f);
	start();
	cr_assert_eq(grove__htpasswd_open(&S.htpasswd, path), 0);
	reply r;
	cr_assert_eq(auth_status("alice", "secret1", &r), 200);
	cr_assert_str_eq(r.body, "hi alice");
	free(r.body);
	cr_assert_eq(auth_status("bob", "secret2", &r), 200);
	free(r.body);
	cr_assert_eq(auth_status("alice", "secret2", &r), 401);
	cr_assert_str_eq(find_header(&r, "WWW-Authenticate"), "Basic realm=\"grove test\"");
	free(r.body);
	cr_assert_eq(auth_status("carol", "plaintext-not-accepted", &r), 401);
	free(r.body);
	cr_assert_eq(auth_status("nobody", "x", &r), 401);
	free(r.body);
	cr_assert_eq(auth_status(NULL, NULL, &r), 401);
	free(r.body);
	/* the check is thread-safe and reload picks up a changed file */
	cr_assert_eq(grove__htpasswd_reload(S.htpasswd), 0);
	f = fopen(path, "w");
	fprintf(f, "alice:%s\n", sha);
	fclose(f);
	struct timespec ts[2] = { { 0, UTIME_NOW }, { time(NULL) + 5, 0 } };
	utimensat(AT_FDCWD, path, ts, 0);
	cr_assert_eq(grove__htpasswd_reload(S.htpasswd), 1);
	cr_assert_eq(grove__htpasswd_check(S.htpasswd, "alice", "secret2"), 1);
	cr_assert_eq(grove__htpasswd_check(S.htpasswd, "bob", "secret2"), 0);
	stop();
	unlink(path);
	free(bc);
	free(sha);
}

Test(http, basic_header_parsing_rejects_garbage)
{
	char *u, *p;
	cr_assert_eq(grove__http_basic_parse("Basic YWxpY2U6cHc=", &u, &p), 0);
	cr_assert_str_eq(u, "alice");
	cr_assert_str_eq(p, "pw");
	free(u);
	free(p);
	cr_assert_eq(grove__http_basic_parse("Bearer abc", &u, &p), GROVE_EINVALID);
	cr_assert_eq(grove__http_basic_parse("Basic !!!!", &u, &p), GROVE_EINVALID);
	cr_assert_eq(grove__http_basic_parse("Basic YWxpY2U=", &u, &p), GROVE_EINVALID); /* no colon */
	cr_assert_eq(grove__http_basic_parse("Basic YWx", &u, &p), GROVE_EINVALID);
	cr_assert_eq(grove__http_basic_parse("Basic =AAA", &u, &p), GROVE_EINVALID);
	cr_assert_eq(grove__http_basic_parse(NULL, &u, &p), GROVE_EINVALID);
}

Test(http, percent_decoding)
{
	char *s;
	cr_assert_eq(grove__http_percent_decode(&s, "/a%20b%2Fc", 10), 0);
	cr_assert_str_eq(s, "/a b/c");
	free(s);
	cr_assert_eq(grove__http_percent_decode(&s, "/a%2", 4), GROVE_EINVALID);
	cr_assert_eq(grove__http_percent_decode(&s, "/a%g0", 5), GROVE_EINVALID);
	cr_assert_eq(grove__http_percent_decode(&s, "%00", 3), GROVE_EINVALID);
}

/* ---- curl --------------------------------------------------------------- */

static char *run_curl(const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 10 %s", args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char *out = calloc(1, 1 << 20);
	size_t n = fread(out, 1, (1 << 20) - 1, p);
	out[n] = '\0';
	cr_assert_eq(pclose(p), 0, "curl failed: %s", cmd);
	return out;
}

Test(http, curl_chunked_upload_and_gzip_body)
{
	start();
	char path[] = "/tmp/grove-body-XXXXXX";
	int tfd = mkstemp(path);
	char *content = malloc(100000);
	for (int i = 0; i < 100000; i++)
		content[i] = (char)('A' + i % 23);
	cr_assert_eq(write(tfd, content, 100000), 100000);
	close(tfd);
	char args[512];
	snprintf(args, sizeof(args), "-H 'Transfer-Encoding: chunked' --data-binary @%s "
		 "http://127.0.0.1:%d/echo", path, S.port);
	char *out = run_curl(args);
	cr_assert_eq(strlen(out), 100000);
	cr_assert_eq(memcmp(out, content, 100000), 0);
	free(out);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "gzip -c %s > %s.gz", path, path);
	cr_assert_eq(system(cmd), 0);
	snprintf(args, sizeof(args), "-H 'Content-Encoding: gzip' --data-binary @%s.gz "
		 "http://127.0.0.1:%d/echo", path, S.port);
	out = run_curl(args);
	cr_assert_eq(strlen(out), 100000);
	cr_assert_eq(memcmp(out, content, 100000), 0);
	free(out);
	snprintf(args, sizeof(args), "-o /dev/null -w '%%{http_code}' -X PUT -H 'Expect: 100-continue' "
		 "--data-binary @%s http://127.0.0.1:%d/echo", path, S.port);
	out = run_curl(args);
	cr_assert_str_eq(out, "200");
	free(out);
	snprintf(cmd, sizeof(cmd), "%s.gz", path);
	unlink(cmd);
	unlink(path);
	free(content);
	stop();
}

/* ---- sessions without sockets --------------------------------------------- */

typedef struct {
	char out[65536];
	size_t len;
	int closed;
} fake_io;

static int fake_write(void *io, const void *d, size_t n)
{
	fake_io *f = io;
	if (f->len + n < sizeof(f->out)) {
		memcpy(f->out + f->len, d, n);
		f->len += n;
	}
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

Test(http, session_fed_one_byte_at_a_time)
{
	grove__http_server *srv;
	cr_assert_eq(grove__http_server_new(&srv, NULL, NULL), 0);
	cr_assert_eq(grove__http_route(srv, GROVE_HTTP_M(HTTP_POST), "/echo", h_echo, NULL), 0);
	static const grove__http_io io = { .write = fake_write, .queued = fake_queued,
					   .close = fake_close };
	fake_io f = { 0 };
	grove__http_session *s;
	cr_assert_eq(grove__http_session_new(&s, srv, &io, &f, "test"), 0);
	const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "3\r\nabc\r\n0\r\n\r\n"
			  "POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nde";
	for (const char *p = req; *p; p++)
		grove__http_session_feed(s, p, 1);
	f.out[f.len] = '\0';
	cr_assert(strstr(f.out, "HTTP/1.1 200 OK"));
	cr_assert(strstr(f.out, "\r\n\r\nabc"));
	cr_assert(strstr(f.out, "\r\n\r\nde"));
	cr_assert(f.closed, "an HTTP/1.0 request without keep-alive closes");
	grove__http_session_closed(s);
	grove__http_server_free(srv);
}

Test(http, session_end_of_input_inside_a_request)
{
	/* found by the fuzzer: http-parser reports 1 byte read at EOF */
	grove__http_server *srv;
	cr_assert_eq(grove__http_server_new(&srv, NULL, NULL), 0);
	static const grove__http_io io = { .write = fake_write, .queued = fake_queued,
					   .close = fake_close };
	fake_io f = { 0 };
	grove__http_session *s;
	cr_assert_eq(grove__http_session_new(&s, srv, &io, &f, "test"), 0);
	grove__http_session_feed(s, "P", 1);
	grove__http_session_feed(s, NULL, 0);
	f.out[f.len] = '\0';
	cr_assert(strstr(f.out, "HTTP/1.1 400 "), "%s", f.out);
	cr_assert(f.closed);
	grove__http_session_closed(s);
	grove__http_server_free(srv);
}
