/* The DAV server driven in memory for the DAV and REPORT tests: requests
 * are fed to an HTTP session whose transport is a buffer, against a mem:
 * store. */
#ifndef GROVE_TEST_DAV_HARNESS_H
#define GROVE_TEST_DAV_HARNESS_H

#include <criterion/criterion.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grove.h"
#include "../../net/http.h"
#include "../../net/dav_server.h"
#include "../../net/dav_internal.h"

/* not every test file uses every helper */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct {
	char *out;
	size_t len, cap;
	int closed;
} mem_io;

static int io_write(void *io, const void *d, size_t n)
{
	mem_io *m = io;
	if (m->len + n + 1 > m->cap) {
		m->cap = (m->len + n + 1) * 2;
		m->out = realloc(m->out, m->cap);
	}
	memcpy(m->out + m->len, d, n);
	m->len += n;
	m->out[m->len] = '\0';
	return 0;
}

static size_t io_queued(void *io)
{
	(void)io;
	return 0;
}

static void io_close(void *io)
{
	((mem_io *)io)->closed = 1;
}

static const grove__http_io IO = { .write = io_write, .queued = io_queued, .close = io_close };

static grove *G;
static grove__http_server *HTTP;
static grove__dav_server *DAV;
static grove__htpasswd *PW;
static char PWFILE[64];

static void setup(void)
{
	strcpy(PWFILE, "/tmp/grove-dav-XXXXXX");
	int fd = mkstemp(PWFILE);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "alice:%s\n", crypt("secret", "$6$saltsalt$"));
	fprintf(f, "bob:%s\n", crypt("hunter2", "$6$saltsalt$"));
	fclose(f);
	cr_assert_eq(grove__htpasswd_open(&PW, PWFILE), 0);
	cr_assert_eq(grove_open(&G, "mem:", NULL), 0);
	cr_assert_eq(grove__http_server_new(&HTTP, NULL, NULL), 0);
	grove__dav_options o = { .htpasswd = PW, .quota_bytes = 1000000 };
	cr_assert_eq(grove__dav_server_register(&DAV, HTTP, G, &o), 0, "%s", grove_error_message());
}

static void teardown(void)
{
	grove__http_server_free(HTTP);
	grove__dav_server_free(DAV);
	grove__htpasswd_free(PW);
	grove_close(G);
	unlink(PWFILE);
}


#define ALICE "Authorization: Basic YWxpY2U6c2VjcmV0\r\n" /* alice:secret */
#define BOB "Authorization: Basic Ym9iOmh1bnRlcjI=\r\n"   /* bob:hunter2 */

typedef struct {
	int status;
	char *raw;     /* the whole response */
	char *body;
} reply;

/* One request: method, path, extra header lines, body. */
static reply req(const char *method, const char *path, const char *headers, const char *body)
{
	mem_io m = { 0 };
	grove__http_session *s;
	cr_assert_eq(grove__http_session_new(&s, HTTP, &IO, &m, "test"), 0);
	char head[4096];
	size_t blen = body ? strlen(body) : 0;
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: x\r\nUser-Agent: test-agent\r\n"
		 "Content-Length: %zu\r\n%s\r\n", method, path, blen, headers ? headers : "");
	grove__http_session_feed(s, head, strlen(head));
	if (blen)
		grove__http_session_feed(s, body, blen);
	grove__http_session_closed(s);
	reply r = { 0, m.out, NULL };
	cr_assert_not_null(m.out, "no response to %s %s", method, path);
	cr_assert_eq(sscanf(m.out, "HTTP/1.1 %d", &r.status), 1);
	char *b = strstr(m.out, "\r\n\r\n");
	r.body = b ? b + 4 : m.out + m.len;
	return r;
}

static const char *header(reply *r, const char *name)
{
	static char val[256];
	char pat[64];
	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	char *p = strstr(r->raw, pat);
	if (!p || p > r->body)
		return NULL;
	p += strlen(pat);
	size_t n = strcspn(p, "\r");
	snprintf(val, sizeof(val), "%.*s", (int)n, p);
	return val;
}

static void expect(const char *method, const char *path, const char *headers, const char *body,
		   int status)
{
	reply r = req(method, path, headers, body);
	cr_assert_eq(r.status, status, "%s %s: %d, want %d\n%s", method, path, r.status, status,
		     r.raw);
	free(r.raw);
}


/* Counts the occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#endif
