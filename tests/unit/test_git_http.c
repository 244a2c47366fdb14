/* The pieces under the git network transports: store name resolution
 * (git_repos), the worker-to-loop output pipe with its backpressure and
 * cancellation (git_pipe), and the git:// request line over a real socket
 * (git_daemon).  End-to-end tests with the git client are in
 * tests/shell/git_daemon.sh and git_http.sh. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "grove.h"
#include "../../net/git_daemon.h"
#include "../../net/git_pipe.h"
#include "../../net/git_repos.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_git_http.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static void make_store(const char *location)
{
	grove *g;
	grove_options o = GROVE_OPTIONS_INIT;
	cr_assert_eq(grove_open(&g, location, &o), 0, "%s", grove_error_message());
	grove_close(g);
}

/* ---- git_repos ------------------------------------------------------------ */

TestSuite(git_repos, .init = make_tmpdir, .fini = remove_tmpdir);

Test(git_repos, name_rules)
{
	const char *good[] = { "a", "a/b", "x.git", "a-b_c+d", "A1/b.c/d" };
	const char *bad[] = { "", ".x", "a/../b", "a//b", "a/", "/a", "a b", "a/.git", "..",
		"a\\b", "a%2f", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		cr_expect_eq(grove__git_repos_name_check(good[i], strlen(good[i])), 0, "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_expect_eq(grove__git_repos_name_check(bad[i], strlen(bad[i])), GROVE_EINVALID,
			"%s", bad[i]);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	cr_expect_eq(grove__git_repos_name_check(longname, sizeof(longname)), GROVE_EINVALID);
}

Test(git_repos, resolves_lmdb_git_and_dot_git)
{
	char loc[400];
	grove__git_repos *r;
	grove *a, *b, *c, *d;

	snprintf(loc, sizeof(loc), "lmdb:%s/kv", tmpdir);
	make_store(loc);
	snprintf(loc, sizeof(loc), "git:%s/proj.git", tmpdir);
	make_store(loc);
	snprintf(loc, sizeof(loc), "%s/notastore", tmpdir);
	cr_assert_eq(mkdir(loc, 0755), 0);

	cr_assert_eq(grove__git_repos_new(&r, tmpdir, 0), 0);
	cr_assert_eq(grove__git_repos_open(r, "/kv", &a), 0, "%s", grove_error_message());
	cr_expect_str_eq(grove_backend_name(a), "lmdb");
	/* the same store again: the same handle (one LMDB env per process) */
	cr_assert_eq(grove__git_repos_open(r, "kv/", &b), 0);
	cr_expect_eq(a, b);
	cr_assert_eq(grove__git_repos_open(r, "proj.git", &c), 0, "%s", grove_error_message());
	cr_expect_str_eq(grove_backend_name(c), "git");
	cr_assert_eq(grove__git_repos_open(r, "/proj", &d), 0, "%s", grove_error_message());
	cr_expect_eq(c, d);

	cr_expect_eq(grove__git_repos_open(r, "nothere", &a), GROVE_ENOTFOUND);
	cr_expect_eq(grove__git_repos_open(r, "notastore", &a), GROVE_ENOTFOUND);
	cr_expect_eq(grove__git_repos_open(r, "../kv", &a), GROVE_EINVALID);
	cr_expect_eq(grove__git_repos_open(r, "", &a), GROVE_EINVALID);
	grove__git_repos_free(r);

	cr_expect_eq(grove__git_repos_new(&r, "/nonexistent/dir", 0), GROVE_ENOTFOUND);
}

Test(git_repos, read_only_stores_refuse_writes)
{
	char loc[400];
	grove__git_repos *r;
	grove *g;
	snprintf(loc, sizeof(loc), "lmdb:%s/kv", tmpdir);
	make_store(loc);
	cr_assert_eq(grove__git_repos_new(&r, tmpdir, 1), 0);
	cr_assert_eq(grove__git_repos_open(r, "kv", &g), 0);
	grove_oid id;
	cr_expect_eq(grove_object_write(g, GROVE_OBJ_BLOB, "x", 1, &id), GROVE_EREADONLY, "%s",
		grove_error_message());
	grove__git_repos_free(r);
}

/* ---- git_pipe ------------------------------------------------------------- */

#define PIPE_TOTAL 8000000u
#define PIPE_PIECE 1000u

typedef struct {
	grove__loop *loop;
	grove__git_pipe *pipe;
	unsigned char *got;
	size_t got_len;
	int stalled;           /* the sink reports a huge backlog */
	size_t alive_until;    /* the client "goes away" after this many bytes */
	atomic_size_t produced;/* bytes the job has handed to the pipe */
	size_t produced_at_unstall;
	int job_rc;
	int done_calls;
} pipe_fixture;

static int fx_write(void *arg, const void *data, size_t len)
{
	pipe_fixture *f = arg;
	memcpy(f->got + f->got_len, data, len);
	f->got_len += len;
	return 0;
}

static size_t fx_backlog(void *arg)
{
	pipe_fixture *f = arg;
	return f->stalled ? (size_t)1 << 30 : 0;
}

static int fx_alive(void *arg)
{
	pipe_fixture *f = arg;
	return f->got_len < f->alive_until;
}

static const grove__git_sink fx_sink = { fx_write, fx_backlog, fx_alive };

static void fx_job(void *arg)
{
	pipe_fixture *f = arg;
	unsigned char piece[PIPE_PIECE];
	for (size_t off = 0; off < PIPE_TOTAL; off += PIPE_PIECE) {
		for (size_t i = 0; i < PIPE_PIECE; i++)
			piece[i] = (unsigned char)((off + i) * 7 / 3);
		int rc = grove__git_pipe_write(f->pipe, piece, PIPE_PIECE);
		if (rc != 0) {
			f->job_rc = rc;
			return;
		}
		atomic_fetch_add(&f->produced, PIPE_PIECE);
	}
}

static void fx_done(void *arg)
{
	pipe_fixture *f = arg;
	f->done_calls++;
	grove__loop_stop(f->loop);
}

static void fx_unstall(void *arg)
{
	pipe_fixture *f = arg;
	f->produced_at_unstall = atomic_load(&f->produced);
	f->stalled = 0;
	grove__git_pipe_pump(f->pipe);
}

static void fx_setup(pipe_fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->got = malloc(PIPE_TOTAL + 16);
	cr_assert_not_null(f->got);
	f->alive_until = (size_t)-1;
	cr_assert_eq(grove__loop_new(&f->loop, NULL), 0);
	cr_assert_eq(grove__git_pipe_new(&f->pipe, f->loop, &fx_sink, f), 0);
}

static void fx_teardown(pipe_fixture *f)
{
	grove__git_pipe_free(f->pipe);
	grove__loop_free(f->loop);
	free(f->got);
}

Test(git_pipe, streams_everything_in_order_with_backpressure)
{
	pipe_fixture f;
	grove__timer *t;
	fx_setup(&f);
	/* A client that reads nothing for 300 ms: the job must wait. */
	f.stalled = 1;
	cr_assert_eq(grove__timer_start(&t, f.loop, 300, 0, fx_unstall, &f), 0);
	cr_assert_eq(grove__git_pipe_run(f.pipe, fx_job, fx_done, &f), 0);
	cr_expect(grove__git_pipe_busy(f.pipe));
	cr_assert_eq(grove__loop_run(f.loop), 0);

	cr_expect_eq(f.done_calls, 1);
	cr_expect_eq(f.job_rc, 0);
	cr_expect_lt(f.produced_at_unstall, (size_t)3 << 20,
		"the job ran %zu bytes ahead of a stalled client", f.produced_at_unstall);
	cr_assert_eq(f.got_len, PIPE_TOTAL);
	for (size_t i = 0; i < PIPE_TOTAL; i++)
		if (f.got[i] != (unsigned char)(i * 7 / 3))
			cr_assert_fail("byte %zu out of order", i);
	cr_expect_eq(grove__git_pipe_bytes(f.pipe), PIPE_TOTAL);
	cr_expect_not(grove__git_pipe_busy(f.pipe));
	fx_teardown(&f);
}

Test(git_pipe, client_gone_cancels_the_job)
{
	pipe_fixture f;
	fx_setup(&f);
	f.alive_until = 1u << 20;
	cr_assert_eq(grove__git_pipe_run(f.pipe, fx_job, fx_done, &f), 0);
	cr_assert_eq(grove__loop_run(f.loop), 0);
	cr_expect_eq(f.done_calls, 1);
	cr_expect_eq(f.job_rc, GROVE_EIO, "the job's write did not fail (%d)", f.job_rc);
	cr_expect_lt(f.got_len, PIPE_TOTAL);
	/* after cancellation, loop-thread writes fail too */
	cr_expect_lt(grove__git_pipe_write(f.pipe, "x", 1), 0);
	fx_teardown(&f);
}

Test(git_pipe, writes_through_outside_a_job)
{
	pipe_fixture f;
	fx_setup(&f);
	cr_assert_eq(grove__git_pipe_write(f.pipe, "hello", 5), 0);
	cr_expect_eq(f.got_len, 5);
	cr_expect_eq(memcmp(f.got, "hello", 5), 0);
	cr_expect_not(grove__git_pipe_busy(f.pipe));
	/* one job at a time */
	cr_assert_eq(grove__git_pipe_run(f.pipe, fx_job, fx_done, &f), 0);
	cr_expect_eq(grove__git_pipe_run(f.pipe, fx_job, fx_done, &f), GROVE_EINVALID);
	cr_assert_eq(grove__loop_run(f.loop), 0);
	cr_expect_eq(f.got_len, 5 + PIPE_TOTAL);
	fx_teardown(&f);
}

/* ---- git_daemon: the request line over a socket ------------------------------ */

typedef struct {
	grove__loop *loop;
	grove__git_repos *repos;
	grove__git_daemon *d;
	grove__listener *lis;
	pthread_t thread;
	int port;
	pthread_mutex_t mu;
	char log[4096];
} daemon_fixture;

static daemon_fixture D;

static void d_log(void *arg, const char *line)
{
	daemon_fixture *f = arg;
	pthread_mutex_lock(&f->mu);
	strncat(f->log, line, sizeof(f->log) - strlen(f->log) - 2);
	strcat(f->log, "\n");
	pthread_mutex_unlock(&f->mu);
}

static void *d_thread(void *arg)
{
	daemon_fixture *f = arg;
	grove__loop_run(f->loop);
	return NULL;
}

static void daemon_start(void)
{
	char loc[400];
	make_tmpdir();
	snprintf(loc, sizeof(loc), "lmdb:%s/kv", tmpdir);
	make_store(loc);
	memset(&D, 0, sizeof(D));
	pthread_mutex_init(&D.mu, NULL);
	cr_assert_eq(grove__loop_new(&D.loop, NULL), 0);
	cr_assert_eq(grove__git_repos_new(&D.repos, tmpdir, 1), 0);
	grove__git_daemon_config cfg = { 0 };
	cfg.repos = D.repos;
	cfg.request_timeout_ms = 500;
	cfg.log = d_log;
	cfg.log_arg = &D;
	cr_assert_eq(grove__git_daemon_new(&D.d, D.loop, &cfg), 0);
	cr_assert_eq(grove__git_daemon_listen(D.d, "127.0.0.1", 0, &D.lis), 0);
	D.port = grove__listener_port(D.lis);
	cr_assert_eq(pthread_create(&D.thread, NULL, d_thread, &D), 0);
}

static void daemon_stop(void)
{
	grove__loop_stop(D.loop);
	pthread_join(D.thread, NULL);
	grove__loop_free(D.loop);
	grove__git_daemon_free(D.d);
	grove__git_repos_free(D.repos);
	pthread_mutex_destroy(&D.mu);
	remove_tmpdir();
}

/* Sends bytes, half-closes, returns what came back (NUL-terminated). */
static size_t exchange(const void *req, size_t len, char *out, size_t out_size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { 0 };
	struct timeval tv = { 5, 0 };
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)D.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (len)
		cr_assert_eq(write(fd, req, len), (ssize_t)len);
	shutdown(fd, SHUT_WR);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, out + got, out_size - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	return got;
}

#define REQ(s) s, sizeof(s) - 1

/* Frames payload as one pkt-line and exchanges it. */
static size_t exchange_pkt(const char *payload, size_t len, char *out, size_t out_size)
{
	char buf[1024];
	cr_assert_lt(len + 4, sizeof(buf));
	snprintf(buf, sizeof(buf), "%04zx", len + 4);
	memcpy(buf + 4, payload, len);
	return exchange(buf, len + 4, out, out_size);
}

TestSuite(git_daemon, .init = daemon_start, .fini = daemon_stop);

Test(git_daemon, v0_request_gets_the_advertisement)
{
	char out[8192];
	size_t n = exchange_pkt(REQ("git-upload-pack /kv\0host=localhost\0"), out, sizeof(out));
	cr_assert_gt(n, 8);
	/* an empty store: capabilities^{} with a zero id */
	cr_expect_not_null(memmem(out, n, "capabilities^{}", 15), "%s", out);
	cr_expect_null(memmem(out, n, "ERR", 3));
}

Test(git_daemon, version_2_extra_parameter)
{
	char out[8192];
	size_t n = exchange_pkt(REQ("git-upload-pack /kv\0host=localhost\0\0version=2\0"), out,
		sizeof(out));
	cr_expect_eq(strncmp(out, "000eversion 2\n", 14), 0, "%.*s", (int)n, out);
}

Test(git_daemon, bad_requests_get_err)
{
	static const struct {
		int framed;
		const char *req;
		size_t len;
		const char *msg;
	} cases[] = {
		{ 0, REQ("GET / HTTP/1.1\r\n\r\n"), "bad pkt-line" },
		{ 0, REQ("0000"), "expected a request line" },
		{ 0, REQ("0003"), "bad pkt-line" },
		{ 0, REQ("ffff"), "bad pkt-line" },
		{ 1, REQ("git-frob /kv\0host=localhost\0"), "unknown service" },
		{ 1, REQ("git-receive-pack /kv\0host=localhost\0"), "not enabled" },
		{ 1, REQ("git-upload-pack /no\0host=localhost\0"), "not found" },
		{ 1, REQ("git-upload-pack /..\0host=localhost\0"), "cannot open" },
		{ 1, REQ("git-upload-pack/kv\0"), "bad request line" },
		{ 1, REQ("git-upload-pack \0"), "bad request line" },
	};
	char out[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		size_t n = cases[i].framed ? exchange_pkt(cases[i].req, cases[i].len, out, sizeof(out))
			: exchange(cases[i].req, cases[i].len, out, sizeof(out));
		cr_expect_not_null(memmem(out, n, "ERR ", 4), "case %zu: %s", i, out);
		cr_expect_not_null(strstr(out, cases[i].msg), "case %zu: %s", i, out);
	}
	/* still serving */
	size_t n = exchange_pkt(REQ("git-upload-pack /kv\0host=localhost\0"), out, sizeof(out));
	cr_expect_not_null(memmem(out, n, "capabilities^{}", 15));
}

Test(git_daemon, silent_client_times_out_and_is_logged)
{
	char out[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { 0 };
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)D.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, "00", 2), 2);
	/* the request timeout is 500 ms: the server closes on us */
	ssize_t r = read(fd, out, sizeof(out));
	cr_expect_leq(r, 0);
	close(fd);
	usleep(50 * 1000);
	pthread_mutex_lock(&D.mu);
	cr_expect_not_null(strstr(D.log, "no request in time"), "%s", D.log);
	pthread_mutex_unlock(&D.mu);
}
