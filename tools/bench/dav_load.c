/*
 * dav_load - the HTTP load generator of the DAV benchmark (dav_bench.sh).
 *
 * C threads, each with one keep-alive connection (reconnecting when the
 * server closes, as wsgiref-based servers do after every response), send one
 * kind of request until --requests are done or --seconds have passed, and
 * time each request from the first byte sent to the last byte of the body
 * received.  The client measures its own CPU time (getrusage) so the report
 * can show that it is not the bottleneck.  Prints one JSON line:
 *
 *   {"n":..,"errors":..,"wall_s":..,"rps":..,"p50_ms":..,"p99_ms":..,
 *    "mean_ms":..,"max_ms":..,"client_cpu_s":..,"bytes_in":..,"first_error":".."}
 *
 * Request i (0-based over all threads) uses path number
 * (i * 7919 + --offset) mod (number of paths) of --paths FILE (distinct
 * objects while i < paths, so concurrent If-Match updates do not collide)
 * and body number i mod (number of bodies).  "@SEQ@" in the path and body
 * becomes --seq-start + i (unique names for PUT new), "@NAME@" in the body
 * the path's last segment without extension (the UID of an update).  --if-match first GETs
 * the object (not timed) and sends its ETag as If-Match.
 *
 * The Makefile links every C file of tools/bench into store_bench, which has its
 * own main(): this file is empty unless compiled with -DDAV_LOAD_STANDALONE
 * (dav_bench.sh does that).
 */
#ifndef DAV_LOAD_STANDALONE
typedef int dav_load_is_a_separate_program;
#else

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *data;
	size_t len;
} text;

static struct {
	const char *host;
	int port;
	const char *method;
	char auth[512];
	text *paths, *bodies;
	size_t npaths, nbodies;
	const char *headers[32];
	int nheaders;
	int conns;
	long requests;
	double seconds;
	long seq_start, offset;
	int if_match;
	int expect[16], nexpect;
} cfg;

static atomic_long next_index;
static atomic_long error_count;
static atomic_long bytes_in;
static double deadline;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
	fprintf(stderr, "dav_load: %s\n", msg);
	exit(2);
}

static void note_error(const char *fmt, const char *a, int b)
{
	atomic_fetch_add(&error_count, 1);
	pthread_mutex_lock(&err_lock);
	if (!first_error[0])
		snprintf(first_error, sizeof(first_error), fmt, a, b);
	pthread_mutex_unlock(&err_lock);
}

static text read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open an input file");
	text t = {NULL, 0};
	size_t cap = 0;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (t.len + n + 1 > cap) {
			cap = (t.len + n + 1) * 2;
			t.data = realloc(t.data, cap);
			if (!t.data)
				die("out of memory");
		}
		memcpy(t.data + t.len, buf, n);
		t.len += n;
	}
	fclose(f);
	if (!t.data) {
		t.data = calloc(1, 1);
		if (!t.data)
			die("out of memory");
	}
	t.data[t.len] = 0;
	return t;
}

static void load_paths(const char *file)
{
	text all = read_file(file);
	size_t cap = 0;
	char *save = NULL;
	for (char *line = strtok_r(all.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!*line)
			continue;
		if (cfg.npaths == cap) {
			cap = cap ? cap * 2 : 1024;
			cfg.paths = realloc(cfg.paths, cap * sizeof(*cfg.paths));
			if (!cfg.paths)
				die("out of memory");
		}
		cfg.paths[cfg.npaths++] = (text){line, strlen(line)};
	}
	if (!cfg.npaths)
		die("no paths");
}

static void base64(const char *in, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
}

/* ---- one connection ---------------------------------------------------- */

typedef struct {
	int fd;
	char buf[1 << 16];
	size_t pos, len;
	int eof;
} conn;

static int conn_open(conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
	inet_pton(AF_INET, cfg.host, &sa.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->pos = c->len = 0;
	c->eof = 0;
	return 0;
}

static void conn_close(conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int fill(conn *c)
{
	if (c->pos == c->len)
		c->pos = c->len = 0;
	if (c->len == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	ssize_t n;
	do
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		c->eof = 1;
		return -1;
	}
	c->len += (size_t)n;
	atomic_fetch_add(&bytes_in, n);
	return 0;
}

/* A header or status line without its CRLF, in out (truncated to cap). */
static int read_line(conn *c, char *out, size_t cap)
{
	size_t o = 0;
	for (;;) {
		while (c->pos < c->len) {
			char ch = c->buf[c->pos++];
			if (ch == '\n') {
				if (o && out[o - 1] == '\r')
					o--;
				out[o] = 0;
				return 0;
			}
			if (o + 1 < cap)
				out[o++] = ch;
		}
		if (fill(c) < 0)
			return -1;
	}
}

static int skip_bytes(conn *c, size_t n)
{
	while (n) {
		if (c->pos == c->len && fill(c) < 0)
			return -1;
		size_t k = c->len - c->pos < n ? c->len - c->pos : n;
		c->pos += k;
		n -= k;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

typedef struct {
	int status;
	int keep_alive;
	char etag[256];
} response;

/* Reads one response; the body is counted and dropped.  -1 when the
 * connection broke before a status line (the caller may retry). */
static int read_response(conn *c, response *r, int head)
{
	char line[8192];
	if (read_line(c, line, sizeof(line)) < 0)
		return -1;
	int minor = 1;
	if (sscanf(line, "HTTP/1.%d %d", &minor, &r->status) != 2)
		return -2;
	r->keep_alive = minor >= 1;
	r->etag[0] = 0;
	long clen = -1;
	int chunked = 0;
	for (;;) {
		if (read_line(c, line, sizeof(line)) < 0)
			return -2;
		if (!line[0])
			break;
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcasecmp(line, "content-length"))
			clen = atol(v);
		else if (!strcasecmp(line, "transfer-encoding") && strcasestr(v, "chunked"))
			chunked = 1;
		else if (!strcasecmp(line, "connection"))
			r->keep_alive = strcasestr(v, "close") ? 0 : (strcasestr(v, "keep-alive") ? 1 : r->keep_alive);
		else if (!strcasecmp(line, "etag"))
			snprintf(r->etag, sizeof(r->etag), "%s", v);
	}
	if (head || r->status == 204 || r->status == 304 || r->status / 100 == 1)
		return 0;
	if (chunked) {
		for (;;) {
			if (read_line(c, line, sizeof(line)) < 0)
				return -2;
			long n = strtol(line, NULL, 16);
			if (n == 0) {
				/* trailers up to the blank line */
				do
					if (read_line(c, line, sizeof(line)) < 0)
						return -2;
				while (line[0]);
				return 0;
			}
			if (skip_bytes(c, (size_t)n) < 0 || read_line(c, line, sizeof(line)) < 0)
				return -2;
		}
	}
	if (clen >= 0)
		return skip_bytes(c, (size_t)clen) < 0 ? -2 : 0;
	/* no length: the body runs to the end of the connection */
	while (fill(c) == 0)
		c->pos = c->len;
	r->keep_alive = 0;
	return 0;
}

/* Copies t into *out (grown as needed) with every "@SEQ@" replaced by seq
 * and every "@NAME@" by name. */
static size_t subst(const text *t, long seq, const char *name, char **out, size_t *cap)
{
	char num[32];
	snprintf(num, sizeof(num), "%ld", seq);
	size_t o = 0;
	const char *p = t->data, *end = t->data + t->len;
	for (;;) {
		const char *m = p < end ? memchr(p, '@', (size_t)(end - p)) : NULL;
		const char *rep = NULL;
		size_t skip = 0;
		if (m && (size_t)(end - m) >= 5 && !memcmp(m, "@SEQ@", 5))
			rep = num, skip = 5;
		else if (m && (size_t)(end - m) >= 6 && !memcmp(m, "@NAME@", 6))
			rep = name, skip = 6;
		size_t k = m ? (size_t)(m - p) + (rep ? 0 : 1) : (size_t)(end - p);
		size_t rl = rep ? strlen(rep) : 0;
		if (o + k + rl + 1 > *cap) {
			*cap = (o + k + rl + 1) * 2 + 256;
			*out = realloc(*out, *cap);
			if (!*out)
				die("out of memory");
		}
		memcpy(*out + o, p, k);
		o += k;
		p += k;
		if (rep) {
			memcpy(*out + o, rep, rl);
			o += rl;
			p += skip;
		}
		if (!m)
			break;
	}
	(*out)[o] = 0;
	return o;
}

/* Sends one request and reads its response, reconnecting once if a kept
 * connection turns out closed.  0, or -1 on a transport failure. */
static int exchange(conn *c, const char *method, const char *path, const char *body,
		    size_t blen, const char *if_match, response *r, char **req, size_t *reqcap)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && conn_open(c) < 0)
			return -1;
		size_t need = strlen(path) + 2048 + blen;
		for (int h = 0; h < cfg.nheaders; h++)
			need += strlen(cfg.headers[h]) + 2;
		if (*reqcap < need) {
			*reqcap = need * 2;
			*req = realloc(*req, *reqcap);
			if (!*req)
				die("out of memory");
		}
		int n = snprintf(*req, *reqcap,
				 "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Basic %s\r\n"
				 "User-Agent: grove-dav-load\r\nContent-Length: %zu\r\n",
				 method, path, cfg.host, cfg.port, cfg.auth, blen);
		size_t o = (size_t)n;
		if (strcmp(method, "GET") && strcmp(method, "HEAD"))
			for (int h = 0; h < cfg.nheaders; h++)
				o += (size_t)sprintf(*req + o, "%s\r\n", cfg.headers[h]);
		if (if_match)
			o += (size_t)sprintf(*req + o, "If-Match: %s\r\n", if_match);
		o += (size_t)sprintf(*req + o, "\r\n");
		memcpy(*req + o, body, blen);
		o += blen;
		if (write_all(c->fd, *req, o) < 0) {
			conn_close(c);
			continue;
		}
		int rc = read_response(c, r, !strcmp(method, "HEAD"));
		if (rc == -1 && attempt == 0) {
			conn_close(c);
			continue;
		}
		if (rc < 0) {
			conn_close(c);
			return -1;
		}
		if (!r->keep_alive)
			conn_close(c);
		return 0;
	}
	return -1;
}

typedef struct {
	double *lat;
	size_t n, cap;
} worker;

static int expected(int status)
{
	for (int i = 0; i < cfg.nexpect; i++)
		if (cfg.expect[i] == status)
			return 1;
	return cfg.nexpect == 0 && status / 100 == 2;
}

static void *run_worker(void *arg)
{
	worker *w = arg;
	conn *c = malloc(sizeof(*c));
	if (!c)
		die("out of memory");
	c->fd = -1;
	char *req = NULL, *path = NULL, *body = NULL;
	size_t reqcap = 0, pathcap = 0, bodycap = 0;
	char etag[256], name[256];
	for (;;) {
		long i = atomic_fetch_add(&next_index, 1);
		if ((cfg.requests > 0 && i >= cfg.requests) || (cfg.seconds > 0 && now() >= deadline))
			break;
		const text *pt = &cfg.paths[(size_t)((unsigned long)i * 7919u + (unsigned long)cfg.offset) % cfg.npaths];
		long seq = cfg.seq_start + i;
		subst(pt, seq, "", &path, &pathcap);
		/* @NAME@: the last path segment without its extension (the UID
		 * of the object an update replaces) */
		const char *slash = strrchr(path, '/');
		snprintf(name, sizeof(name), "%s", slash ? slash + 1 : path);
		char *dot = strrchr(name, '.');
		if (dot)
			*dot = 0;
		size_t blen = 0;
		if (cfg.nbodies)
			blen = subst(&cfg.bodies[(size_t)i % cfg.nbodies], seq, name, &body, &bodycap);
		response r;
		const char *im = NULL;
		if (cfg.if_match) {
			if (exchange(c, "GET", path, "", 0, NULL, &r, &req, &reqcap) < 0 || r.status != 200 ||
			    !r.etag[0]) {
				note_error("ETag GET of %s: status %d", path, r.status);
				continue;
			}
			snprintf(etag, sizeof(etag), "%s", r.etag);
			im = etag;
		}
		double t0 = now();
		int rc = exchange(c, cfg.method, path, body ? body : "", blen, im, &r, &req, &reqcap);
		double dt = now() - t0;
		if (rc < 0) {
			note_error("%s: connection failed (%d)", path, errno);
			continue;
		}
		if (!expected(r.status))
			note_error("%s: status %d", path, r.status);
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
			if (!w->lat)
				die("out of memory");
		}
		w->lat[w->n++] = dt;
	}
	conn_close(c);
	free(c);
	free(req);
	free(path);
	free(body);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dav_load --port N --paths FILE [--host A] [--method M] [--auth U:P]\n"
		"       [--body FILE]... [--header 'Name: value']... [--conns N] [--requests N]\n"
		"       [--seconds S] [--seq-start K] [--offset K] [--if-match] [--expect 200,207]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	cfg.host = "127.0.0.1";
	cfg.method = "GET";
	cfg.conns = 2;
	const char *auth = "bench:bench";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--if-match")) {
			cfg.if_match = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--host"))
			cfg.host = v;
		else if (!strcmp(a, "--port"))
			cfg.port = atoi(v);
		else if (!strcmp(a, "--method"))
			cfg.method = v;
		else if (!strcmp(a, "--auth"))
			auth = v;
		else if (!strcmp(a, "--paths"))
			load_paths(v);
		else if (!strcmp(a, "--body")) {
			cfg.bodies = realloc(cfg.bodies, (cfg.nbodies + 1) * sizeof(text));
			if (!cfg.bodies)
				die("out of memory");
			cfg.bodies[cfg.nbodies++] = read_file(v);
		} else if (!strcmp(a, "--header")) {
			if (cfg.nheaders == 32)
				die("too many headers");
			cfg.headers[cfg.nheaders++] = v;
		} else if (!strcmp(a, "--conns"))
			cfg.conns = atoi(v);
		else if (!strcmp(a, "--requests"))
			cfg.requests = atol(v);
		else if (!strcmp(a, "--seconds"))
			cfg.seconds = atof(v);
		else if (!strcmp(a, "--seq-start"))
			cfg.seq_start = atol(v);
		else if (!strcmp(a, "--offset"))
			cfg.offset = atol(v);
		else if (!strcmp(a, "--expect")) {
			char *copy = strdup(v), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t && cfg.nexpect < 16; t = strtok_r(NULL, ",", &save))
				cfg.expect[cfg.nexpect++] = atoi(t);
			free(copy);
		} else
			usage();
	}
	if (!cfg.port || !cfg.npaths || cfg.conns < 1 || (cfg.requests <= 0 && cfg.seconds <= 0))
		usage();
	if (strlen(auth) > 300)
		die("--auth too long");
	base64(auth, cfg.auth);

	worker *ws = calloc((size_t)cfg.conns, sizeof(*ws));
	pthread_t *th = calloc((size_t)cfg.conns, sizeof(*th));
	if (!ws || !th)
		die("out of memory");
	double cpu0 = cpu_seconds(), t0 = now();
	deadline = t0 + cfg.seconds;
	for (int i = 0; i < cfg.conns; i++)
		if (pthread_create(&th[i], NULL, run_worker, &ws[i]))
			die("pthread_create failed");
	for (int i = 0; i < cfg.conns; i++)
		pthread_join(th[i], NULL);
	double wall = now() - t0, cpu = cpu_seconds() - cpu0;

	size_t n = 0;
	for (int i = 0; i < cfg.conns; i++)
		n += ws[i].n;
	double *all = malloc((n ? n : 1) * sizeof(double)), sum = 0;
	if (!all)
		die("out of memory");
	size_t k = 0;
	for (int i = 0; i < cfg.conns; i++)
		for (size_t j = 0; j < ws[i].n; j++) {
			all[k++] = ws[i].lat[j];
			sum += ws[i].lat[j];
		}
	qsort(all, n, sizeof(double), cmp_double);
	double p50 = n ? all[(n - 1) / 2] : 0;
	double p99 = n ? all[(size_t)((double)(n - 1) * 0.99 + 0.5)] : 0;
	char err[512];
	size_t e = 0;
	for (const char *p = first_error; *p && e + 2 < sizeof(err); p++) {
		if (*p == '"' || *p == '\\')
			err[e++] = '\\';
		err[e++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	}
	err[e] = 0;
	printf("{\"n\":%zu,\"errors\":%ld,\"wall_s\":%.4f,\"rps\":%.2f,\"p50_ms\":%.4f,"
	       "\"p99_ms\":%.4f,\"mean_ms\":%.4f,\"max_ms\":%.4f,\"client_cpu_s\":%.4f,"
	       "\"bytes_in\":%ld,\"first_error\":\"%s\"}\n",
	       n, (long)atomic_load(&error_count), wall, n ? (double)n / wall : 0.0, p50 * 1e3,
	       p99 * 1e3, n ? sum / (double)n * 1e3 : 0.0, n ? all[n - 1] * 1e3 : 0.0, cpu,
	       (long)atomic_load(&bytes_in), err);
	return 0;
}

#endif /* DAV_LOAD_STANDALONE */
