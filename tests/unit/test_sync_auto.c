/* sync/autosync.c: grove_sync against a bare repository on disk (file://):
 * start on an empty and a non-empty remote, coalesced pushes, a remote that
 * moved (merge and push), a remote that disappears and comes back (backoff,
 * backlog pushed), a rewritten remote (backup ref), a restarted mem: store
 * gets everything back, bad configs refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "git_fixture.h"

static char *tmp;
static char remote[4200], url[4300];

static void setup(void)
{
	tmp = fx_tmpdir();
	snprintf(remote, sizeof(remote), "%s/remote.git", tmp);
	snprintf(url, sizeof(url), "file://%s", remote);
	FX_SH("git init -q --bare -b main '%s'", remote);
}

static void teardown(void)
{
	fx_rmrf(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(sync_auto, .init = setup, .fini = teardown, .timeout = 120);

static grove *open_mem(void)
{
	grove *g = NULL;
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	return g;
}

static grove_sync *start(grove *g, unsigned delay_ms)
{
	grove_sync_config cfg = GROVE_SYNC_CONFIG_INIT;
	grove_sync *s = NULL;
	cfg.url = url;
	cfg.branch = "main";
	cfg.push_delay_ms = delay_ms;
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 400;
	cr_assert_eq(grove_sync_start(&s, g, &cfg), 0, "%s", grove_error_message());
	return s;
}

static void put(grove *g, const char *key, const char *value)
{
	cr_assert_eq(grove_set(g, "main", key, value, strlen(value), NULL, NULL), 0, "%s", grove_error_message());
}

static long remote_commits(void)
{
	char *n = fx_line("git -C '%s' rev-list --count main 2>/dev/null || echo 0", remote);
	long v = n ? atol(n) : -1;
	free(n);
	return v;
}

static char *remote_file(const char *key)
{
	return fx_line("git -C '%s' show main:%s 2>/dev/null", remote, key);
}

static void head_hex(grove *g, char hex[41])
{
	grove_oid id;
	cr_assert_eq(grove_branch_head(g, "main", &id), 0);
	grove_oid_tohex(hex, &id);
}

Test(sync_auto, burst_is_coalesced_and_all_commits_arrive)
{
	grove *g = open_mem();
	grove_sync *s = start(g, 300);
	grove_sync_state st;
	char key[32], hex[41];
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k/%02d", i);
		put(g, key, key);
	}
	cr_assert_eq(grove_sync_wait_idle(s, 20000), 0, "%s", grove_error_message());
	grove_sync_state_get(s, &st);
	cr_expect_eq(remote_commits(), 50);
	cr_expect_geq(st.pushes, 1);
	cr_expect_leq(st.pushes, 5, "50 quick commits took %llu pushes", (unsigned long long)st.pushes);
	cr_expect_eq(st.backlog, 0);
	cr_expect_eq(st.ahead, 0);
	cr_expect_eq(st.state, GROVE_SYNC_IDLE);
	cr_expect_str_empty(st.last_error);
	head_hex(g, hex);
	char *rh = fx_line("git -C '%s' rev-parse main", remote);
	cr_expect_str_eq(rh, hex);
	free(rh);
	grove_sync_stop(s, 5000);
	grove_close(g);

	/* A restarted mem: store gets everything back from the remote. */
	g = open_mem();
	s = start(g, 100);
	grove_buf v = { 0 };
	cr_assert_eq(grove_get(g, "main", "k/49", &v), 0, "%s", grove_error_message());
	cr_expect_eq(v.size, 4);
	grove_buf_dispose(&v);
	char hex2[41];
	head_hex(g, hex2);
	cr_expect_str_eq(hex2, hex);
	grove_sync_stop(s, 5000);
	grove_close(g);
}

Test(sync_auto, remote_moved_is_merged_and_pushed)
{
	grove *g = open_mem();
	grove_sync *s = start(g, 50);
	char work[4300];
	put(g, "a.txt", "one");
	cr_assert_eq(grove_sync_wait_idle(s, 10000), 0, "%s", grove_error_message());
	/* Someone else pushes with git; then we write without fetching. */
	snprintf(work, sizeof(work), "%s/work", tmp);
	FX_SH("git clone -q '%s' '%s'", url, work);
	FX_SH("cd '%s' && echo other > b.txt && git add b.txt && " GIT_FIXTURE_ENV
		"commit -qm other && git push -q origin main", work);
	put(g, "c.txt", "three");
	cr_assert_eq(grove_sync_wait_idle(s, 10000), 0, "%s", grove_error_message());
	grove_sync_state st;
	grove_sync_state_get(s, &st);
	cr_expect_geq(st.merges, 1);
	char *b = remote_file("b.txt"), *c = remote_file("c.txt"), *a = remote_file("a.txt");
	cr_expect_str_eq(b, "other");
	cr_expect_str_eq(c, "three");
	cr_expect_str_eq(a, "one");
	free(a), free(b), free(c);
	grove_buf v = { 0 };
	cr_assert_eq(grove_get(g, "main", "b.txt", &v), 0);
	grove_buf_dispose(&v);
	grove_sync_stop(s, 5000);
	grove_close(g);
}

Test(sync_auto, remote_down_backs_off_then_backlog_pushed)
{
	grove *g = open_mem();
	grove_sync *s = start(g, 20);
	grove_sync_state st;
	char away[4400];
	put(g, "first", "1");
	cr_assert_eq(grove_sync_wait_idle(s, 10000), 0, "%s", grove_error_message());
	snprintf(away, sizeof(away), "%s.away", remote);
	cr_assert_eq(rename(remote, away), 0);
	for (int i = 0; i < 10; i++) {
		char k[32];
		snprintf(k, sizeof(k), "down/%d", i);
		put(g, k, k); /* writes go on */
	}
	cr_expect_neq(grove_sync_wait_idle(s, 1500), 0);
	/* Between two retries (a retry may be running right now). */
	for (int i = 0; i < 100; i++) {
		grove_sync_state_get(s, &st);
		if (st.state == GROVE_SYNC_BACKING_OFF)
			break;
		usleep(10000);
	}
	cr_expect_eq(st.state, GROVE_SYNC_BACKING_OFF, "state %d", st.state);
	cr_expect_geq(st.failures, 2);
	cr_expect_eq(st.backlog, 10);
	cr_expect_str_neq(st.last_error, "");
	cr_expect_leq(st.retry_in_ms, 400, "backoff is capped");
	cr_assert_eq(rename(away, remote), 0);
	cr_assert_eq(grove_sync_wait_idle(s, 10000), 0, "%s", grove_error_message());
	cr_expect_eq(remote_commits(), 11);
	grove_sync_state_get(s, &st);
	cr_expect_eq(st.state, GROVE_SYNC_IDLE);
	cr_expect_str_empty(st.last_error);
	grove_sync_stop(s, 5000);
	grove_close(g);
}

Test(sync_auto, rewritten_remote_keeps_a_backup)
{
	grove *g = open_mem();
	grove_sync *s = start(g, 20);
	grove_sync_state st;
	char hex[41], work[4300];
	put(g, "a.txt", "ours 1");
	put(g, "b.txt", "ours 2");
	cr_assert_eq(grove_sync_wait_idle(s, 10000), 0, "%s", grove_error_message());
	head_hex(g, hex);
	/* The remote's history is replaced by an unrelated one. */
	snprintf(work, sizeof(work), "%s/other", tmp);
	FX_SH("git init -q -b main '%s' && cd '%s' && echo theirs > t.txt && git add t.txt && "
		GIT_FIXTURE_ENV "commit -qm rewrite && git push -q -f '%s' main", work, work, url);
	grove_sync_fetch_now(s);
	cr_assert_eq(grove_sync_wait_idle(s, 10000), 0, "%s", grove_error_message());
	grove_sync_state_get(s, &st);
	cr_expect_eq(st.rewrites, 1);
	cr_assert_str_neq(st.last_backup, "");
	cr_expect_eq(strncmp(st.last_backup, "refs/grove/backup/main/", 23), 0, "%s", st.last_backup);
	grove_oid b;
	char bhex[41];
	cr_assert_eq(grove_ref_read(g, st.last_backup, &b), 0);
	cr_expect_str_eq(grove_oid_tohex(bhex, &b), hex);
	/* Nothing lost: the merge holds both sides, and so does the remote. */
	char *a = remote_file("a.txt"), *t = remote_file("t.txt");
	cr_expect_str_eq(a, "ours 1");
	cr_expect_str_eq(t, "theirs");
	free(a), free(t);
	grove_sync_stop(s, 5000);
	grove_close(g);
}

Test(sync_auto, start_failures)
{
	grove *g = open_mem();
	grove_sync *s = NULL;
	grove_sync_config cfg = GROVE_SYNC_CONFIG_INIT;
	cr_expect_eq(grove_sync_start(&s, g, NULL), GROVE_EINVALID);
	cfg.version = 99;
	cr_expect_eq(grove_sync_start(&s, g, &cfg), GROVE_EINVALID);
	cfg.version = GROVE_SYNC_CONFIG_VERSION;
	cfg.url = "file:///nonexistent/grove-test/remote.git";
	cfg.branch = "main";
	cr_expect_lt(grove_sync_start(&s, g, &cfg), 0, "an unreachable remote fails the start");
	cr_expect_null(s);
	cfg.branch = "bad..name";
	cr_expect_eq(grove_sync_start(&s, g, &cfg), GROVE_EINVALID);
	cfg.branch = "main";
	cfg.start_offline = 1;
	cfg.backoff_min_ms = 10;
	cr_assert_eq(grove_sync_start(&s, g, &cfg), 0, "%s", grove_error_message());
	grove_sync_state st;
	grove_sync_state_get(s, &st);
	cr_expect_eq(st.state, GROVE_SYNC_BACKING_OFF);
	put(g, "x", "y"); /* writes work while offline */
	grove_sync_stop(s, 200);
	grove_close(g);
}
