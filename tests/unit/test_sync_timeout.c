/* The inactivity timeout of sync transfers (sync/timeout.c, the native
 * client's waits in sync/native_conn.c, for git:// and for ssh through the
 * OpenSSH client, libgit2's sockets in sync/lg2_stream.c for http) against
 * a loopback server that accepts connections and never answers: fetch and
 * push over git://, http:// and ssh:// fail after GROVE_SYNC_TIMEOUT with
 * "the remote did not answer" (ssh: a server that never sends its banner),
 * the store's refs unchanged and the error recorded; with no timeout the
 * cancel flag still ends the wait; libgit2's own ssh, reached directly,
 * gets no socket from lg2_stream.c and fails at once; the background sync
 * (grove_sync) gives up on a silent upstream, keeps the write, and stops
 * promptly.  (The CLI, real servers and connections cut mid-pack:
 * tests/shell/sync_hang.sh; an ssh session silent after authentication:
 * tests/shell/sync_http_ssh.sh.) */
#include <criterion/criterion.h>
#include <git2.h>
#include <git2/sys/repository.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "../../sync/lg2_stream.h"
#include "../../sync/sync_internal.h"

/* A regression (waiting forever) fails instead of hanging. */
TestSuite(sync_timeout, .timeout = 30);

/* Accepts every connection and holds it open, silent, until stopped. */
typedef struct {
	int lfd, port, stop;
	int held[32];
	int nheld;
	pthread_t th;
} silent_server;

static void *silent_serve(void *arg)
{
	silent_server *s = arg;
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { s->lfd, POLLIN, 0 };
		int c;
		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((c = accept(s->lfd, NULL, NULL)) < 0)
			continue;
		if (s->nheld < 32)
			s->held[s->nheld++] = c;
		else
			close(c);
	}
	for (int i = 0; i < s->nheld; i++)
		close(s->held[i]);
	return NULL;
}

static void silent_start(silent_server *s)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	memset(s, 0, sizeof(*s));
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(s->lfd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->lfd, 16), 0);
	cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&s->th, NULL, silent_serve, s), 0);
}

static void silent_stop(silent_server *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A store with one commit on main and remote "origin" at the server. */
static grove *store_for(const char *scheme, const silent_server *s)
{
	grove *g = NULL;
	grove_oid head;
	char url[128];
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, &head), 0);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/r.git", scheme, s->port);
	cr_assert_eq(grove_remote_add(g, "origin", url), 0);
	return g;
}

static void expect_nothing_fetched(grove *g)
{
	grove_oid id;
	grove_strarray names = { 0 };
	cr_expect_eq(grove_ref_read(g, "refs/remotes/origin/main", &id), GROVE_ENOTFOUND);
	cr_expect_eq(grove_branch_list(g, &names), 0);
	cr_expect_eq(names.count, 1, "branches: %zu", names.count);
	grove_strarray_dispose(&names);
	grove_error_clear();
}

/* The last error recorded for origin (sync status). */
static void expect_recorded(grove *g, const char *what)
{
	grove_sync_status st;
	cr_assert_eq(grove_sync_status_get(g, &st), 0, "%s", grove_error_message());
	cr_assert_eq(st.remote_count, 1);
	cr_expect(st.remotes[0].last_error && strstr(st.remotes[0].last_error, what),
		"last_error: %s", st.remotes[0].last_error ? st.remotes[0].last_error : "(null)");
	grove_sync_status_dispose(&st);
}

static void timeout_case(const char *scheme, int push)
{
	silent_server s;
	grove *g;
	double t0, t;
	int rc;
	setenv("GROVE_SYNC_TIMEOUT", "1", 1);
	silent_start(&s);
	g = store_for(scheme, &s);
	t0 = now_s();
	rc = push ? grove_push(g, "origin", NULL, 0, NULL) : grove_fetch(g, "origin", NULL);
	t = now_s() - t0;
	cr_expect_eq(rc, GROVE_EIO, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "the remote did not answer for 1 s") != NULL, "%s",
		grove_error_message());
	cr_expect(strstr(grove_error_message(), push ? "push to 'origin'" : "fetch from 'origin'") != NULL, "%s",
		grove_error_message());
	cr_expect(t >= 0.9 && t < 5.0, "took %.2f s", t);
	expect_nothing_fetched(g);
	expect_recorded(g, "did not answer");
	grove_close(g);
	silent_stop(&s);
}

Test(sync_timeout, fetch_git_silent) { timeout_case("git", 0); }
Test(sync_timeout, push_git_silent) { timeout_case("git", 1); }
Test(sync_timeout, fetch_http_silent) { timeout_case("http", 0); }
Test(sync_timeout, push_http_silent) { timeout_case("http", 1); }
/* ssh: grove's own client runs the OpenSSH client, which waits for a
 * banner that never comes until the timeout kills it. */
Test(sync_timeout, fetch_ssh_silent) { timeout_case("ssh", 0); }
Test(sync_timeout, push_ssh_silent) { timeout_case("ssh", 1); }

static volatile int cancel_flag;

static void *cancel_later(void *arg)
{
	(void)arg;
	usleep(400 * 1000);
	cancel_flag = 1;
	return NULL;
}

/* GROVE_SYNC_TIMEOUT=0: no timeout, but a blocked read still sees the
 * cancel flag (libgit2's own socket never did). */
static void cancel_case(const char *scheme)
{
	silent_server s;
	grove_sync_opts o = GROVE_SYNC_OPTIONS_INIT;
	pthread_t th;
	grove *g;
	double t0, t;
	int rc;
	setenv("GROVE_SYNC_TIMEOUT", "0", 1);
	silent_start(&s);
	g = store_for(scheme, &s);
	cancel_flag = 0;
	o.cancel = &cancel_flag;
	cr_assert_eq(pthread_create(&th, NULL, cancel_later, NULL), 0);
	t0 = now_s();
	rc = grove_fetch(g, "origin", &o);
	t = now_s() - t0;
	pthread_join(th, NULL);
	cr_expect_eq(rc, GROVE_ERROR, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "cancelled") != NULL, "%s", grove_error_message());
	cr_expect(t >= 0.3 && t < 3.0, "took %.2f s", t);
	expect_nothing_fetched(g);
	grove_close(g);
	silent_stop(&s);
}

Test(sync_timeout, cancel_git_without_timeout) { cancel_case("git"); }
Test(sync_timeout, cancel_http_without_timeout) { cancel_case("http"); }
Test(sync_timeout, cancel_ssh_without_timeout) { cancel_case("ssh"); }

/* libgit2's ssh transport, reached directly (grove sends every ssh URL it
 * recognises to OpenSSH; transport.h says which URLs libgit2 would still
 * read as ssh): libssh2 takes the socket from the place libgit2's own
 * stream keeps it, where ours keeps -1, so the session fails at once.  It
 * never waits on the silent server, even with no timeout and no cancel
 * flag (before, libssh2 read the real socket there and waited forever). */
Test(sync_timeout, libgit2_ssh_gets_no_socket)
{
	silent_server s;
	grove__lg2_stream_ctx ctx;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_remote_create_options ro;
	const git_error *e;
	char url[128];
	double t0, t;
	int err;
	memset(&ctx, 0, sizeof(ctx));
	silent_start(&s);
	cr_assert_geq(git_libgit2_init(), 1);
	cr_assert_eq(grove__lg2_stream_register(), 0);
	cr_assert_eq(git_repository_new(&repo), 0);
	snprintf(url, sizeof(url), "ssh://git@127.0.0.1:%d/r.git", s.port);
	/* As transport.c: insteadOf skipped (libgit2 1.5 leaks on that path). */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	cr_assert_eq(git_remote_create_with_opts(&remote, url, &ro), 0);
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	grove__lg2_stream_use(&ctx);
	t0 = now_s();
	/* libgit2 1.5's ssh transport leaks a few strings when the session
	 * fails to start; not ours.  (Our stream's own allocations are checked
	 * by the http cases.) */
#if defined(__SANITIZE_ADDRESS__)
	__lsan_disable();
#endif
	err = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
#if defined(__SANITIZE_ADDRESS__)
	__lsan_enable();
#endif
	t = now_s() - t0;
	grove__lg2_stream_use(NULL);
	e = git_error_last();
	cr_expect_lt(err, 0);
	/* Connected through our stream, then refused by libssh2 for the socket. */
	cr_expect(e && strstr(e->message, "SSH session"), "%s", e ? e->message : "(no error)");
	cr_expect(t < 3.0, "took %.2f s", t);
	cr_expect_eq(ctx.timed_out, 0);
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	silent_stop(&s);
}

Test(sync_timeout, setting)
{
	static const struct { const char *env; unsigned ms; } cases[] = {
		{ NULL, 60000 }, { "", 60000 }, { "2", 2000 }, { "0.5", 500 }, { "0", 0 },
		{ "abc", 60000 }, { "-1", 60000 }, { "5s", 60000 }, { "nan", 60000 }, { "1e99", 60000 },
	};
	char buf[32];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].env)
			setenv("GROVE_SYNC_TIMEOUT", cases[i].env, 1);
		else
			unsetenv("GROVE_SYNC_TIMEOUT");
		cr_expect_eq(grove__sync_timeout_ms(), cases[i].ms, "GROVE_SYNC_TIMEOUT=%s: %u", cases[i].env ?
			cases[i].env : "(unset)", grove__sync_timeout_ms());
	}
	cr_expect_str_eq(grove__sync_timeout_text(60000, buf, sizeof(buf)), "60 s");
	cr_expect_str_eq(grove__sync_timeout_text(1500, buf, sizeof(buf)), "1.5 s");
}

/* The served store's background sync: a silent upstream costs a timeout per
 * attempt, not the thread; the write stays, is counted as backlog, and
 * stop returns promptly. */
Test(sync_timeout, autosync_silent_upstream)
{
	silent_server s;
	grove_sync_config cfg = GROVE_SYNC_CONFIG_INIT;
	grove_sync_state st;
	grove_sync *sy = NULL;
	grove *g;
	grove_oid head;
	double t0;
	char url[128];
	setenv("GROVE_SYNC_TIMEOUT", "0.5", 1);
	silent_start(&s);
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/r.git", s.port);
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0);
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, &head), 0);
	cfg.url = url;
	cfg.branch = "main";
	cfg.start_offline = 1;
	cfg.push_delay_ms = 50;
	cfg.backoff_min_ms = 100;
	cfg.backoff_max_ms = 200;
	t0 = now_s();
	cr_assert_eq(grove_sync_start(&sy, g, &cfg), 0, "%s", grove_error_message());
	cr_expect(now_s() - t0 < 3.0, "start took %.2f s", now_s() - t0);
	cr_assert_eq(grove_set(g, "main", "k2", "v2", 2, NULL, &head), 0);
	usleep(1500 * 1000);
	grove_sync_state_get(sy, &st);
	cr_expect_geq(st.failures, 2, "failures: %llu", (unsigned long long)st.failures);
	cr_expect(strstr(st.last_error, "did not answer") != NULL, "last_error: %s", st.last_error);
	cr_expect_eq(st.pushes, 0);
	t0 = now_s();
	grove_sync_stop(sy, 200);
	cr_expect(now_s() - t0 < 3.0, "stop took %.2f s", now_s() - t0);
	{
		grove_buf v = { 0 };
		cr_expect_eq(grove_get(g, "main", "k2", &v), 0, "%s", grove_error_message());
		grove_buf_dispose(&v);
	}
	grove_close(g);
	silent_stop(&s);
}
