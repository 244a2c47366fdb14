/* The hosted platform (runtime/loop_epoll.c): timers, deferred work, the
 * worker pool, connections with write queues and drain, limits, IPv6 and
 * graceful shutdown by SIGTERM. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "grove.h"
#include "../../runtime/platform.h"

TestSuite(runtime, .timeout = 30);

/* ---- timers, deferred work, workers ------------------------------------ */

typedef struct {
	grove__loop *loop;
	char trace[256];
	int periodic_count;
	grove__timer *periodic;
	pthread_t loop_thread;
	int done_on_loop_thread;
	int work_ran;
} tctx;

static void add(tctx *t, const char *s)
{
	strncat(t->trace, s, sizeof(t->trace) - strlen(t->trace) - 1);
}

static void on_periodic(void *arg)
{
	tctx *t = arg;
	add(t, "p");
	if (++t->periodic_count == 3)
		grove__timer_cancel(t->periodic);
}

static void on_deferred(void *arg)
{
	add(arg, "d");
}

static void on_t50(void *arg)
{
	add(arg, "5");
}

static void on_t10(void *arg)
{
	add(arg, "1");
}

static void on_cancelled(void *arg)
{
	add(arg, "X");
}

static void work(void *arg)
{
	tctx *t = arg;
	usleep(50 * 1000);
	t->work_ran = 1;
}

static void work_done(void *arg)
{
	tctx *t = arg;
	t->done_on_loop_thread = pthread_equal(pthread_self(), t->loop_thread) && t->work_ran;
	add(t, "w");
}

static void on_stop(void *arg)
{
	tctx *t = arg;
	grove__loop_stop(t->loop);
}

Test(runtime, timers_deferred_work_and_workers)
{
	tctx t = { 0 };
	cr_assert_eq(grove__loop_new(&t.loop, NULL), 0);
	t.loop_thread = pthread_self();
	grove__timer *cancelled;
	cr_assert_eq(grove__timer_start(NULL, t.loop, 50, 0, on_t50, &t), 0);
	cr_assert_eq(grove__timer_start(NULL, t.loop, 10, 0, on_t10, &t), 0);
	cr_assert_eq(grove__timer_start(&cancelled, t.loop, 20, 0, on_cancelled, &t), 0);
	grove__timer_cancel(cancelled);
	cr_assert_eq(grove__timer_start(&t.periodic, t.loop, 60, 20, on_periodic, &t), 0);
	cr_assert_eq(grove__loop_defer(t.loop, on_deferred, &t), 0);
	cr_assert_eq(grove__loop_submit(t.loop, work, work_done, &t), 0);
	cr_assert_eq(grove__timer_start(NULL, t.loop, 200, 0, on_stop, &t), 0);
	cr_assert_eq(grove__loop_run(t.loop), 0);
	/* deferred first, the 10 ms timer, the 50 ms job and timer around the
	 * same time, then three periodic ticks */
	cr_assert_eq(t.trace[0], 'd', "trace %s", t.trace);
	cr_assert_eq(t.trace[1], '1', "trace %s", t.trace);
	cr_assert(strchr(t.trace, 'w') && strchr(t.trace, '5'), "trace %s", t.trace);
	cr_assert(strstr(t.trace, "ppp") && !strstr(t.trace, "pppp"), "trace %s", t.trace);
	cr_assert_null(strchr(t.trace, 'X'), "cancelled timer fired: %s", t.trace);
	cr_assert(t.done_on_loop_thread);
	grove__loop_free(t.loop);
}

/* ---- connections ------------------------------------------------------- */

/* An echo service: "big\n" answers 8 MiB and closes gracefully after the
 * drain; "bye\n" aborts; anything else is echoed. */
typedef struct {
	int drained;
	int closed;
} srv_state;

static srv_state G;

static void c_open(grove__conn *c, void *arg)
{
	grove__conn_set_data(c, arg);
}

#define BIG (8u << 20)

static void c_read(grove__conn *c, const char *d, size_t n)
{
	if (n == 0) {
		grove__conn_close(c);
		return;
	}
	if (n == 4 && !memcmp(d, "big\n", 4)) {
		char *buf = malloc(BIG);
		memset(buf, 'b', BIG);
		cr_assert_eq(grove__conn_write(c, buf, BIG), 0);
		free(buf);
		cr_assert_gt(grove__conn_queued(c), 0, "8 MiB cannot fit the socket at once");
		grove__conn_close(c);
		cr_assert_neq(grove__conn_write(c, "x", 1), 0, "write after close must fail");
		return;
	}
	if (n == 4 && !memcmp(d, "bye\n", 4)) {
		grove__conn_abort(c);
		return;
	}
	grove__conn_write(c, d, n);
}

static void c_drain(grove__conn *c)
{
	(void)c;
	G.drained++;
}

static void c_close(grove__conn *c)
{
	(void)c;
	G.closed++;
}

static const grove__conn_handler echo_handler = {
	.on_open = c_open, .on_read = c_read, .on_drain = c_drain, .on_close = c_close,
};

typedef struct {
	grove__loop *loop;
	pthread_t th;
	int port;
} running;

static void *run_loop(void *arg)
{
	running *r = arg;
	grove__loop_run(r->loop);
	return NULL;
}

/* r must stay where it is while the loop thread runs. */
static void start(running *r, const grove__loop_config *cfg, const char *host)
{
	memset(r, 0, sizeof(*r));
	memset(&G, 0, sizeof(G));
	cr_assert_eq(grove__loop_new(&r->loop, cfg), 0);
	grove__listener *l;
	int rc = grove__listen(&l, r->loop, host, 0, &echo_handler, NULL);
	cr_assert_eq(rc, 0, "%s", grove_error_message());
	r->port = grove__listener_port(l);
	pthread_create(&r->th, NULL, run_loop, r);
}

static void finish(running *r)
{
	grove__loop_stop(r->loop);
	pthread_join(r->th, NULL);
	grove__loop_free(r->loop);
}

static int dial4(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + got, cap - got, 0);
		if (n <= 0)
			return n < 0 && errno != ECONNRESET ? -1 : (ssize_t)got;
		got += (size_t)n;
		if (got == cap)
			return (ssize_t)got;
	}
}

Test(runtime, echo_and_large_write_drains_then_closes)
{
	running r;
	start(&r, NULL, "127.0.0.1");
	int fd = dial4(r.port);
	send(fd, "hi", 2, 0);
	char buf[16];
	cr_assert_eq(recv(fd, buf, sizeof(buf), 0), 2);
	cr_assert_eq(memcmp(buf, "hi", 2), 0);
	send(fd, "big\n", 4, 0);
	usleep(100 * 1000); /* let the server's queue fill */
	char *big = malloc(BIG + 1);
	cr_assert_eq(read_all(fd, big, BIG + 1), (ssize_t)BIG, "graceful close delivers all");
	free(big);
	close(fd);
	finish(&r);
	cr_assert_eq(G.closed, 1);
}

Test(runtime, abort_resets_and_peer_close_is_seen)
{
	running r;
	start(&r, NULL, "127.0.0.1");
	int fd = dial4(r.port);
	send(fd, "bye\n", 4, 0);
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	cr_assert(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
	fd = dial4(r.port);
	shutdown(fd, SHUT_WR); /* server sees EOF and closes */
	cr_assert_eq(recv(fd, &c, 1, 0), 0);
	close(fd);
	finish(&r);
	cr_assert_eq(G.closed, 2);
}

Test(runtime, ipv6_loopback_listener)
{
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	if (probe < 0)
		cr_skip_test("no IPv6");
	close(probe);
	grove__loop *loop;
	cr_assert_eq(grove__loop_new(&loop, NULL), 0);
	grove__listener *l;
	if (grove__listen(&l, loop, "::1", 0, &echo_handler, NULL) < 0) {
		grove__loop_free(loop);
		cr_skip_test("cannot bind ::1");
	}
	running r = { .loop = loop, .port = grove__listener_port(l) };
	pthread_create(&r.th, NULL, run_loop, &r);
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)r.port) };
	a.sin6_addr = in6addr_loopback;
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	send(fd, "v6", 2, 0);
	char buf[4];
	cr_assert_eq(recv(fd, buf, sizeof(buf), 0), 2);
	close(fd);
	finish(&r);
}

Test(runtime, bad_listen_address_is_an_error)
{
	grove__loop *loop;
	cr_assert_eq(grove__loop_new(&loop, NULL), 0);
	grove__listener *l;
	cr_assert_lt(grove__listen(&l, loop, "no.such.host.invalid", 0, &echo_handler, NULL), 0);
	cr_assert_neq(grove_error_message()[0], '\0');
	cr_assert_lt(grove__listen(&l, loop, "192.0.2.1", 0, &echo_handler, NULL), 0,
		     "an address this machine does not have");
	grove__loop_free(loop);
}

Test(runtime, max_conns_and_idle_timeout)
{
	grove__loop_config cfg = { .max_conns = 1, .idle_timeout_ms = 300 };
	running r;
	start(&r, &cfg, "127.0.0.1");
	int a = dial4(r.port);
	send(a, "x", 1, 0);
	char c;
	cr_assert_eq(recv(a, &c, 1, 0), 1);
	int b = dial4(r.port);
	cr_assert_eq(recv(b, &c, 1, 0), 0, "second connection refused");
	close(b);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(recv(a, &c, 1, 0), 0, "idle connection closed");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 200);
	cr_assert_lt(ms, 2000);
	close(a);
	finish(&r);
}

/* ---- SIGTERM: graceful shutdown in a child process ------------------------- */

static void answer(void *arg)
{
	grove__conn *c = arg;
	grove__conn_write(c, "done", 4);
	grove__conn_set_busy(c, 0);
}

static void slow_read(grove__conn *c, const char *d, size_t n)
{
	(void)d;
	if (n == 0)
		return;
	grove__conn_set_busy(c, 1);
	grove__timer_start(NULL, grove__conn_loop(c), 300, 0, answer, c);
}

static const grove__conn_handler slow_handler = { .on_read = slow_read };

Test(runtime, sigterm_lets_the_request_in_flight_finish)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		grove__loop_config cfg = { .handle_signals = 1 };
		grove__loop *loop;
		grove__listener *l;
		if (grove__loop_new(&loop, &cfg) < 0 ||
		    grove__listen(&l, loop, "127.0.0.1", 0, &slow_handler, NULL) < 0)
			_exit(2);
		int port = grove__listener_port(l);
		if (write(pfd[1], &port, sizeof(port)) != sizeof(port))
			_exit(3);
		int rc = grove__loop_run(loop);
		grove__loop_free(loop);
		_exit(rc == 0 ? 0 : 4);
	}
	close(pfd[1]);
	int port;
	cr_assert_eq(read(pfd[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	close(pfd[0]);
	int fd = dial4(port);
	int idle = dial4(port);
	send(fd, "go", 2, 0);
	usleep(50 * 1000);
	kill(pid, SIGTERM);
	char buf[8];
	cr_assert_eq(read_all(fd, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "done", 4), 0);
	char c;
	cr_assert_eq(recv(idle, &c, 1, 0), 0, "idle connection closed by shutdown");
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	close(fd);
	close(idle);
}
