/* ssh remotes (sync/native_ssh.c, sync/native_conn.c): which URLs are ssh,
 * how they are taken apart, the remote command's quoting and the argv of
 * the OpenSSH client; bad input (option injection through the host or
 * user, quotes or control characters in the path, no path, bad port) gives
 * a clear error and nothing.  Then the session itself with a real shell in
 * place of ssh ($GROVE_SSH_COMMAND runs a script that drops ssh's options
 * and runs the remote command with sh, as sshd would) and git's own
 * upload-pack / receive-pack: push and fetch through a path that needs the
 * quoting; a "remote" that goes silent is timed out (opts.timeout_secs over
 * $GROVE_SYNC_TIMEOUT) or cancelled, its process killed and reaped; ssh's
 * refusal on stderr becomes the message.  (Real sshd, host keys and keys:
 * tests/shell/sync_http_ssh.sh.) */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "../../sync/native.h"

TestSuite(sync_ssh, .timeout = 60);

/* --- URLs ------------------------------------------------------------------ */

Test(sync_ssh, which_urls_are_ssh)
{
	static const char *const yes[] = { "ssh://h/r", "SSH://h/r", "git+ssh://h/r", "ssh+git://h/r",
		"git@github.com:me/r.git", "host:r", "[::1]:r", "u@[::1]:r", "host:/abs/r" };
	static const char *const no[] = { "/srv/r.git", "./a:b", "a/b:c", "file:///x", "https://h/r",
		"http://h/r", "git://h/r", "r.git", "" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_expect(grove__ssh_is_url(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_expect(!grove__ssh_is_url(no[i]), "%s", no[i]);
	cr_expect(!grove__ssh_is_url(NULL));
}

static void expect_target(const char *url, const char *user, const char *host, const char *port, const char *path)
{
	grove__ssh_target t;
	cr_assert_eq(grove__ssh_parse(url, &t), 0, "%s: %s", url, grove_error_message());
	cr_expect(user ? t.user && !strcmp(t.user, user) : !t.user, "%s: user %s", url, t.user ? t.user : "(none)");
	cr_expect_str_eq(t.host, host, "%s", url);
	cr_expect(port ? t.port && !strcmp(t.port, port) : !t.port, "%s: port %s", url, t.port ? t.port : "(none)");
	cr_expect_str_eq(t.path, path, "%s", url);
	grove__ssh_target_dispose(&t);
}

Test(sync_ssh, parse)
{
	expect_target("ssh://git@example.org:2222/srv/r.git", "git", "example.org", "2222", "/srv/r.git");
	expect_target("ssh://example.org/srv/r.git", NULL, "example.org", NULL, "/srv/r.git");
	expect_target("git+ssh://h/x", NULL, "h", NULL, "/x");
	expect_target("ssh://h:/x", NULL, "h", NULL, "/x"); /* empty port: ssh's */
	/* ~ paths go to the remote as git sends them. */
	expect_target("ssh://h/~alice/r.git", NULL, "h", NULL, "~alice/r.git");
	expect_target("ssh://[::1]:22/r", NULL, "::1", "22", "/r");
	expect_target("ssh://u@[fe80::1]/r", "u", "fe80::1", NULL, "/r");
	/* A password in the URL is never used (nor kept). */
	expect_target("ssh://u:secret@h/r", "u", "h", NULL, "/r");
	expect_target("git@github.com:me/r.git", "git", "github.com", NULL, "me/r.git");
	expect_target("host:r", NULL, "host", NULL, "r");
	expect_target("host:/srv/a b!.git", NULL, "host", NULL, "/srv/a b!.git");
	expect_target("u@[::1]:r", "u", "::1", NULL, "r");
}

static void expect_bad(const char *url, const char *why)
{
	grove__ssh_target t;
	memset(&t, 0x5a, sizeof(t));
	grove_error_clear();
	cr_expect_eq(grove__ssh_parse(url, &t), GROVE_EINVALID, "%s", url);
	cr_expect(strstr(grove_error_message(), why) != NULL, "%s: %s", url, grove_error_message());
	/* Nothing to free, nothing half-made. */
	cr_expect(!t.user && !t.host && !t.port && !t.path, "%s", url);
}

Test(sync_ssh, bad_urls)
{
	expect_bad("ssh://-oProxyCommand=x/r", "the host may not start with '-'");
	expect_bad("ssh://-oProxyCommand=touch${IFS}/tmp/x:22/r", "the host may not start with '-'");
	expect_bad("-oProxyCommand=x:r", "the host may not start with '-'");
	expect_bad("ssh://-lroot@h/r", "the user may not start with '-'");
	expect_bad("ssh://h/it's.git", "single quote");
	expect_bad("h:it's", "single quote");
	expect_bad("ssh://h", "no repository path");
	expect_bad("ssh://h/", "no repository path");
	expect_bad("h:", "no repository path");
	expect_bad("ssh:///r", "no host");
	expect_bad("ssh://u@/r", "no host");
	expect_bad("ssh://h:99999/r", "bad port");
	expect_bad("ssh://h:0/r", "bad port");
	expect_bad("ssh://h:-1/r", "bad port");
	expect_bad("ssh://h:2x/r", "bad port");
	expect_bad("ssh://[::1/r", "unclosed '['");
	expect_bad("ssh://h/a\nb", "control character");
	expect_bad("ssh://h\tx/r", "white space");
	expect_bad("https://h/r", "not an ssh URL");
	expect_bad(NULL, "none given");
}

Test(sync_ssh, remote_command_quoting)
{
	char *cmd;
	cr_assert_eq(grove__ssh_remote_command("git-upload-pack", "/srv/r.git", &cmd), 0);
	cr_expect_str_eq(cmd, "git-upload-pack '/srv/r.git'");
	free(cmd);
	/* Spaces, $ and ; stay literal in single quotes; ! is closed out
	 * (csh), as git quotes it. */
	cr_assert_eq(grove__ssh_remote_command("git-receive-pack", "a b;$(x)!c", &cmd), 0);
	cr_expect_str_eq(cmd, "git-receive-pack 'a b;$(x)'\\!'c'");
	free(cmd);
	cr_expect_eq(grove__ssh_remote_command("git-upload-pack", "it's", &cmd), GROVE_EINVALID);
	cr_expect_null(cmd);
	cr_expect_eq(grove__ssh_remote_command("git-upload-pack", "a\rb", &cmd), GROVE_EINVALID);
	cr_expect_null(cmd);
}

/* argv joined with '|' for comparison. */
static char *joined(const grove__ssh_argv *a)
{
	size_t len = 1;
	char *s;
	cr_assert_null(a->argv[a->argc]);
	for (size_t i = 0; i < a->argc; i++)
		len += strlen(a->argv[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; i < a->argc; i++) {
		if (i)
			strcat(s, "|");
		strcat(s, a->argv[i]);
	}
	return s;
}

static void expect_argv(const char *url, const char *key, const char *command, int askpass, const char *want)
{
	grove__ssh_target t;
	grove__ssh_argv a;
	char *got;
	cr_assert_eq(grove__ssh_parse(url, &t), 0, "%s", grove_error_message());
	cr_assert_eq(grove__ssh_build_argv(&t, "git-upload-pack", key, command, askpass, &a), 0, "%s",
		grove_error_message());
	got = joined(&a);
	cr_expect_str_eq(got, want, "%s", url);
	free(got);
	grove__ssh_argv_dispose(&a);
	grove__ssh_target_dispose(&t);
}

Test(sync_ssh, argv)
{
	expect_argv("ssh://h/r.git", NULL, NULL, 0, "ssh|-o|BatchMode=yes|-T|--|h|git-upload-pack '/r.git'");
	expect_argv("ssh://git@h:2222/srv/r.git", "/k/id", NULL, 0,
		"ssh|-o|BatchMode=yes|-T|-p|2222|-i|/k/id|-o|IdentitiesOnly=yes|-l|git|--|h|git-upload-pack '/srv/r.git'");
	expect_argv("git@[::1]:r", "", NULL, 0, "ssh|-o|BatchMode=yes|-T|-l|git|--|::1|git-upload-pack 'r'");
	/* A passphrase through askpass: no BatchMode (it would stop ssh asking). */
	expect_argv("ssh://h/r", "/k/id", NULL, 1, "ssh|-T|-i|/k/id|-o|IdentitiesOnly=yes|--|h|git-upload-pack '/r'");
	/* $GROVE_SSH_COMMAND / $GIT_SSH_COMMAND: through sh, our arguments after it. */
	expect_argv("ssh://h:22/r", NULL, "ssh -F /dev/null", 0,
		"/bin/sh|-c|ssh -F /dev/null \"$@\"|ssh -F /dev/null|-o|BatchMode=yes|-T|-p|22|--|h|git-upload-pack '/r'");
}

Test(sync_ssh, argv_refuses_an_option_for_a_key)
{
	grove__ssh_target t;
	grove__ssh_argv a;
	cr_assert_eq(grove__ssh_parse("ssh://h/r", &t), 0);
	cr_expect_eq(grove__ssh_build_argv(&t, "git-upload-pack", "-oProxyCommand=x", NULL, 0, &a), GROVE_EINVALID);
	cr_expect(strstr(grove_error_message(), "starting with '-'") != NULL, "%s", grove_error_message());
	cr_expect_null(a.argv);
	grove__ssh_target_dispose(&t);
}

Test(sync_ssh, timeout_setting)
{
	grove_sync_opts o = GROVE_SYNC_OPTIONS_INIT;
	setenv("GROVE_SYNC_TIMEOUT", "7", 1);
	cr_expect_eq(grove__sync_opts_timeout_ms(NULL), 7000);
	cr_expect_eq(grove__sync_opts_timeout_ms(&o), 7000);
	o.timeout_secs = 3;
	cr_expect_eq(grove__sync_opts_timeout_ms(&o), 3000);
	setenv("GROVE_SYNC_TIMEOUT", "0", 1);
	cr_expect_eq(grove__sync_opts_timeout_ms(&o), 3000);
	o.timeout_secs = UINT_MAX;
	cr_expect_geq(grove__sync_opts_timeout_ms(&o), 4000000000u);
	unsetenv("GROVE_SYNC_TIMEOUT");
	o.timeout_secs = 0;
	cr_expect_eq(grove__sync_opts_timeout_ms(&o), 60000);
}

/* --- sessions with a shell in place of ssh ---------------------------------- */

static char dir[256];

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* A directory with "fakessh": drops ssh's options up to "--" and the host,
 * then runs the remote command with sh (the quoting is sh's to undo), and
 * $GROVE_SSH_COMMAND pointing at it. */
static void setup_fakessh(const char *body)
{
	char path[512];
	FILE *f;
	snprintf(dir, sizeof(dir), "/tmp/grove-test-ssh-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fakessh", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done\nshift 2\n%s\n", body);
	fclose(f);
	chmod(path, 0700);
	setenv("GROVE_SSH_COMMAND", path, 1);
	unsetenv("GIT_SSH_COMMAND");
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("HOME", dir, 1);
}

static void teardown_fakessh(void)
{
	run("rm -rf '%s'", dir);
}

static void expect_no_children(void)
{
	int st;
	errno = 0;
	cr_expect_eq(waitpid(-1, &st, WNOHANG), -1, "a child process is left over");
	cr_expect_eq(errno, ECHILD);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Push a commit over "ssh" into a bare git repository whose path needs the
 * quoting (space, !, $, ;), then fetch it into a second store. */
Test(sync_ssh, push_and_fetch_through_the_remote_shell, .fini = teardown_fakessh)
{
	grove *g = NULL, *h = NULL;
	grove_oid head, got;
	char url[512], out[64] = "";
	FILE *p;
	setup_fakessh("exec sh -c \"$1\"");
	run("git init -q --bare '%s/a b!$x;y.git'", dir);
	snprintf(url, sizeof(url), "ssh://localhost%s/a b!$x;y.git", dir);
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, &head), 0, "%s", grove_error_message());
	cr_assert_eq(grove_remote_add(g, "origin", url), 0, "%s", grove_error_message());
	cr_assert_eq(grove_push(g, "origin", NULL, 0, NULL), 0, "%s", grove_error_message());
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "git --git-dir='%s/a b!$x;y.git' rev-parse main", dir);
		p = popen(cmd, "r");
		cr_assert_not_null(p);
		cr_assert_not_null(fgets(out, sizeof(out), p));
		pclose(p);
	}
	{
		char hex[GROVE_OID_HEXSZ + 1];
		grove_oid_tohex(hex, &head);
		cr_expect(!strncmp(out, hex, GROVE_OID_HEXSZ), "remote main %s, pushed %s", out, hex);
	}
	cr_assert_eq(grove_open(&h, "mem:", NULL), 0);
	cr_assert_eq(grove_remote_add(h, "origin", url), 0);
	cr_assert_eq(grove_fetch(h, "origin", NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_ref_read(h, "refs/remotes/origin/main", &got), 0);
	cr_expect(grove_oid_cmp(&got, &head) == 0);
	grove_close(g);
	grove_close(h);
	expect_no_children();
}

static grove *store_with_origin(void)
{
	grove *g = NULL;
	grove_oid head;
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, &head), 0);
	cr_assert_eq(grove_remote_add(g, "origin", "git@example.invalid:r.git"), 0);
	return g;
}

static void expect_unchanged(grove *g)
{
	grove_oid id;
	cr_expect_eq(grove_ref_read(g, "refs/remotes/origin/main", &id), GROVE_ENOTFOUND);
	grove_error_clear();
}

/* A remote that says nothing: opts.timeout_secs (over an environment that
 * says "no timeout") ends fetch and push; the "ssh" is killed and reaped. */
Test(sync_ssh, silent_remote_times_out, .fini = teardown_fakessh)
{
	grove_sync_opts o = GROVE_SYNC_OPTIONS_INIT;
	grove *g;
	setup_fakessh("exec sleep 30");
	setenv("GROVE_SYNC_TIMEOUT", "0", 1);
	g = store_with_origin();
	o.timeout_secs = 1;
	for (int push = 0; push < 2; push++) {
		double t0 = now_s(), t;
		int rc = push ? grove_push(g, "origin", NULL, 0, &o) : grove_fetch(g, "origin", &o);
		t = now_s() - t0;
		cr_expect_eq(rc, GROVE_EIO, "%s", grove_error_message());
		cr_expect(strstr(grove_error_message(), "the remote did not answer for 1 s") != NULL, "%s",
			grove_error_message());
		cr_expect(t >= 0.9 && t < 4.0, "took %.2f s", t);
		expect_unchanged(g);
		expect_no_children();
	}
	grove_close(g);
	unsetenv("GROVE_SYNC_TIMEOUT");
}

static volatile int cancel_flag;

static void *cancel_later(void *arg)
{
	(void)arg;
	usleep(400 * 1000);
	cancel_flag = 1;
	return NULL;
}

Test(sync_ssh, cancel_ends_a_silent_remote, .fini = teardown_fakessh)
{
	grove_sync_opts o = GROVE_SYNC_OPTIONS_INIT;
	pthread_t th;
	grove *g;
	double t0, t;
	setup_fakessh("exec sleep 30");
	setenv("GROVE_SYNC_TIMEOUT", "0", 1);
	g = store_with_origin();
	cancel_flag = 0;
	o.cancel = &cancel_flag;
	cr_assert_eq(pthread_create(&th, NULL, cancel_later, NULL), 0);
	t0 = now_s();
	cr_expect_eq(grove_fetch(g, "origin", &o), GROVE_ERROR, "%s", grove_error_message());
	t = now_s() - t0;
	pthread_join(th, NULL);
	cr_expect(strstr(grove_error_message(), "cancelled") != NULL, "%s", grove_error_message());
	cr_expect(t < 3.0, "took %.2f s", t);
	expect_unchanged(g);
	expect_no_children();
	grove_close(g);
	unsetenv("GROVE_SYNC_TIMEOUT");
}

/* What ssh says when it refuses is the message (the remote named, the
 * store unchanged). */
Test(sync_ssh, ssh_refusals_become_the_message, .fini = teardown_fakessh)
{
	grove *g;
	setup_fakessh("echo 'No ED25519 host key is known for example.invalid and you have requested strict checking.' >&2\n"
		"echo 'Host key verification failed.' >&2\nexit 255");
	g = store_with_origin();
	cr_expect_eq(grove_fetch(g, "origin", NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "host key verification failed") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "Host key verification failed.") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "git@example.invalid:r.git") != NULL, "%s", grove_error_message());
	expect_unchanged(g);
	expect_no_children();
	grove_close(g);
	teardown_fakessh();
	setup_fakessh("echo 'git@example.invalid: Permission denied (publickey).' >&2\nexit 255");
	g = store_with_origin();
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "authentication failed") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "Permission denied (publickey)") != NULL, "%s", grove_error_message());
	expect_no_children();
	grove_close(g);
}

/* A bad URL never starts a program. */
Test(sync_ssh, bad_url_runs_nothing, .fini = teardown_fakessh)
{
	grove *g = NULL;
	grove_oid head;
	char mark[128], body[200];
	snprintf(mark, sizeof(mark), "/tmp/grove-test-ssh-ran-%d", (int)getpid());
	unlink(mark);
	snprintf(body, sizeof(body), "touch '%s'", mark);
	setup_fakessh(body);
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0);
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, &head), 0);
	cr_assert_eq(grove_remote_add(g, "origin", "ssh://-oProxyCommand=x/r"), 0, "%s", grove_error_message());
	cr_expect_eq(grove_fetch(g, "origin", NULL), GROVE_EINVALID);
	cr_expect(strstr(grove_error_message(), "the host may not start with '-'") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "fetch from 'origin'") != NULL, "%s", grove_error_message());
	cr_assert_eq(grove_remote_set_url(g, "origin", "ssh://h/it's"), 0);
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_EINVALID);
	cr_expect(strstr(grove_error_message(), "single quote") != NULL, "%s", grove_error_message());
	cr_expect_neq(access(mark, F_OK), 0, "the \"ssh\" ran for a bad URL");
	unlink(mark);
	expect_no_children();
	grove_close(g);
}
