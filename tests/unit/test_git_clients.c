/*
 * libgit2 (the library git-based applications use) as a client of grove's
 * git servers: `grove daemon` (git://) and `grove serve` (smart HTTP with
 * Basic credentials), both run as the real CLI (build/test/grove, found
 * next to this binary or through $GROVE) on ephemeral ports, serving an lmdb
 * store imported from a git-made repository.
 *
 * Covered per transport: clone (HEAD and every ref equal the source's, the
 * clone passes `git fsck --strict`), fetch after the git CLI pushed new
 * commits, push of a new branch and a fast-forward (read back with
 * libgrove), a forced non-fast-forward the server refuses (status string in
 * push_update_reference, the store unchanged), and over HTTP: no or wrong
 * credentials (clone and push fail, nothing changes).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "git_fixture.h"
#include "grove.h"

/* libgit2 1.5 leaks the pcre2 match data of a config regexp on every
 * git_remote_create (clone); not ours, so LeakSanitizer is told (by module:
 * without frame pointers in pcre2 the fast unwinder sees no libgit2 frame). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}

#define USER "alice"
#define PASS "s3cret"

/* ---- servers as child processes ------------------------------------------- */

typedef struct {
	pid_t pid;
	int port;
	char log[PATH_MAX];
} server;

static char *tmp;          /* everything of one test lives here */
static char grove_cli[PATH_MAX];
static char store_loc[PATH_MAX]; /* lmdb:<tmp>/stores/s */
static server daemon_srv, http_srv;

/* The ASan CLI is build/test/grove and this binary build/test/unit/... */
static void find_cli(void)
{
	const char *env = getenv("GROVE");
	if (env && *env) {
		snprintf(grove_cli, sizeof(grove_cli), "%s", env);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		cr_assert_gt(n, 0, "readlink /proc/self/exe");
		self[n] = '\0';
		snprintf(grove_cli, sizeof(grove_cli), "%s/../grove", dirname(self));
	}
	cr_assert_eq(access(grove_cli, X_OK), 0,
		"no grove CLI at %s (make build/test/grove, or set GROVE)", grove_cli);
}

/* Starts argv with stderr to a log file and waits for "port N" in it. */
static void server_start(server *s, const char *name, char *const argv[])
{
	snprintf(s->log, sizeof(s->log), "%s/%s.log", tmp, name);
	int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	s->pid = fork();
	cr_assert_geq(s->pid, 0, "fork");
	if (s->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	s->port = 0;
	for (int i = 0; i < 400 && !s->port; i++) {
		char *text = fx_capture(NULL, "cat '%s'", s->log);
		const char *p = text ? strstr(text, " port ") : NULL;
		if (p)
			s->port = atoi(p + 6);
		free(text);
		if (s->port)
			break;
		int st;
		cr_assert_eq(waitpid(s->pid, &st, WNOHANG), 0, "%s exited at start (see %s)", name, s->log);
		struct timespec ts = { 0, 25 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_gt(s->port, 0, "%s did not print its port", name);
}

/* SIGTERM; the server must stop gracefully (exit 0, so no ASan report)
 * within 10 s, else it is killed and the test fails. */
static void server_stop(server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	int st = 0;
	pid_t got = 0;
	for (int i = 0; i < 400 && got == 0; i++) {
		got = waitpid(s->pid, &st, WNOHANG);
		if (got == 0) {
			struct timespec ts = { 0, 25 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (got == 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &st, 0);
	}
	s->pid = 0;
	cr_expect(got == s->pid || got > 0, "server did not stop on SIGTERM");
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		char *text = fx_capture(NULL, "tail -40 '%s'", s->log);
		cr_expect_fail("server exit status %d; log:\n%s", st, text ? text : "");
		free(text);
	}
}

static void setup(void)
{
	find_cli();
	cr_assert_geq(git_libgit2_init(), 1);
	tmp = fx_tmpdir();
	char src[PATH_MAX];
	snprintf(src, sizeof(src), "%s/src", tmp);
	FX_SH("mkdir '%s' '%s/stores'", src, tmp);
	fx_make_history(src);
	FX_GIT(tmp, "clone -q --bare src src.git");
	snprintf(store_loc, sizeof(store_loc), "lmdb:%s/stores/s", tmp);
	FX_SH("'%s' -q init '%s' && '%s' -C '%s' import '%s/src.git' >/dev/null",
		grove_cli, store_loc, grove_cli, store_loc, tmp);
	FX_SH("'%s' -q init 'lmdb:%s/stores/empty'", grove_cli, tmp);
	FX_SH("printf '%s:%%s\\n' \"$(openssl passwd -6 -salt abcdefgh '%s')\" >'%s/htpasswd'",
		USER, PASS, tmp);

	char base[PATH_MAX], htpasswd[PATH_MAX];
	snprintf(base, sizeof(base), "%s/stores", tmp);
	snprintf(htpasswd, sizeof(htpasswd), "%s/htpasswd", tmp);
	char *dargv[] = { grove_cli, "daemon", "--listen", "127.0.0.1", "--port", "0",
		"--base-path", base, "--enable-receive-pack", NULL };
	server_start(&daemon_srv, "daemon", dargv);
	char *hargv[] = { grove_cli, "serve", "--listen", "127.0.0.1:0", "--stores", base,
		"--htpasswd", htpasswd, NULL };
	server_start(&http_srv, "serve", hargv);
}

static void teardown(void)
{
	server_stop(&daemon_srv);
	server_stop(&http_srv);
	if (!getenv("KEEP"))
		fx_rmrf(tmp);
	free(tmp);
	tmp = NULL;
	git_libgit2_shutdown();
}

/* ---- libgit2 helpers ------------------------------------------------------- */

#define GIT_OK(expr) do { \
		int rc_ = (expr); \
		const git_error *e_ = git_error_last(); \
		cr_assert_eq(rc_, 0, "%s: %d %s", #expr, rc_, e_ ? e_->message : ""); \
	} while (0)

/* What the callbacks get: credentials to give, and what push_update_reference
 * was told. */
typedef struct {
	const char *user, *pass; /* NULL: no credentials */
	int cred_calls;
	char ref[256];
	char status[256]; /* "" when the server accepted the update */
	int ref_calls;
} client_ctx;

/* Gives user/pass for HTTP Basic; gives up after 3 tries so that a wrong
 * password ends in an error instead of libgit2 asking forever. */
static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
	unsigned int allowed, void *payload)
{
	(void)url;
	(void)user_from_url;
	client_ctx *c = payload;
	c->cred_calls++;
	if (!c->user || c->cred_calls > 3 || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_EUSER;
	return git_credential_userpass_plaintext_new(out, c->user, c->pass);
}

static int push_ref_cb(const char *refname, const char *status, void *payload)
{
	client_ctx *c = payload;
	c->ref_calls++;
	snprintf(c->ref, sizeof(c->ref), "%s", refname);
	snprintf(c->status, sizeof(c->status), "%s", status ? status : "");
	return 0;
}

static void callbacks(git_remote_callbacks *cb, client_ctx *c)
{
	c->cred_calls = 0;
	c->ref_calls = 0;
	c->ref[0] = c->status[0] = '\0';
	cb->credentials = cred_cb;
	cb->push_update_reference = push_ref_cb;
	cb->payload = c;
}

enum transport { T_GIT, T_HTTP };

static void url_of_store(char *out, size_t n, enum transport t, const char *store)
{
	if (t == T_GIT)
		snprintf(out, n, "git://127.0.0.1:%d/%s", daemon_srv.port, store);
	else
		snprintf(out, n, "http://127.0.0.1:%d/git/%s", http_srv.port, store);
}

static void url_of(char *out, size_t n, enum transport t)
{
	url_of_store(out, n, t, "s");
}

/* Clones over t into <tmp>/<name>; returns the libgit2 error code. */
static int clone_into(git_repository **out, enum transport t, const char *name, client_ctx *c)
{
	char url[256], path[PATH_MAX];
	url_of(url, sizeof(url), t);
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	git_clone_options o = GIT_CLONE_OPTIONS_INIT;
	callbacks(&o.fetch_opts.callbacks, c);
	return git_clone(out, url, path, &o);
}

/* Pushes one refspec to origin; returns the libgit2 error code. */
static int push(git_repository *repo, const char *refspec, client_ctx *c)
{
	git_remote *remote;
	GIT_OK(git_remote_lookup(&remote, repo, "origin"));
	git_push_options o = GIT_PUSH_OPTIONS_INIT;
	callbacks(&o.callbacks, c);
	char *specs[] = { (char *)refspec };
	git_strarray arr = { specs, 1 };
	int rc = git_remote_push(remote, &arr, &o);
	git_remote_free(remote);
	return rc;
}

/* Fetches origin's default refspecs; returns the libgit2 error code. */
static int fetch(git_repository *repo, client_ctx *c)
{
	git_remote *remote;
	GIT_OK(git_remote_lookup(&remote, repo, "origin"));
	git_fetch_options o = GIT_FETCH_OPTIONS_INIT;
	callbacks(&o.callbacks, c);
	int rc = git_remote_fetch(remote, NULL, &o, NULL);
	git_remote_free(remote);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "id name\n" lines, sorted, of the refs a repository holds; for a clone,
 * refs/remotes/origin/X is named refs/heads/X (its symbolic HEAD skipped),
 * so that a clone's listing equals its source's. */
static char *ref_listing(git_repository *repo, int is_clone)
{
	git_reference_iterator *it;
	git_reference *ref;
	char *lines[256];
	size_t n = 0, total = 1;
	GIT_OK(git_reference_iterator_new(&it, repo));
	while (git_reference_next(&ref, it) == 0) {
		const char *name = git_reference_name(ref);
		char shown[512];
		git_reference *resolved = NULL;
		if (is_clone && strncmp(name, "refs/remotes/origin/", 20) == 0) {
			if (strcmp(name + 20, "HEAD") == 0) {
				git_reference_free(ref);
				continue;
			}
			snprintf(shown, sizeof(shown), "refs/heads/%s", name + 20);
		} else if (is_clone && strncmp(name, "refs/tags/", 10) != 0) {
			git_reference_free(ref); /* the clone's own branches */
			continue;
		} else {
			snprintf(shown, sizeof(shown), "%s", name);
		}
		GIT_OK(git_reference_resolve(&resolved, ref));
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), git_reference_target(resolved));
		cr_assert_lt(n, 256);
		lines[n] = malloc(strlen(shown) + GIT_OID_HEXSZ + 3);
		cr_assert_not_null(lines[n]);
		sprintf(lines[n], "%s %s\n", hex, shown);
		total += strlen(lines[n]);
		n++;
		git_reference_free(resolved);
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	qsort(lines, n, sizeof(*lines), cmp_str);
	char *s = malloc(total);
	cr_assert_not_null(s);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(s, lines[i]);
		free(lines[i]);
	}
	return s;
}

static char *src_listing(void)
{
	char path[PATH_MAX];
	git_repository *src;
	snprintf(path, sizeof(path), "%s/src.git", tmp);
	GIT_OK(git_repository_open(&src, path));
	char *s = ref_listing(src, 0);
	git_repository_free(src);
	return s;
}

/* The id a ref of a repository resolves to, as hex. */
static void ref_hex(git_repository *repo, const char *name, char out[GIT_OID_HEXSZ + 1])
{
	git_oid id;
	GIT_OK(git_reference_name_to_id(&id, repo, name));
	git_oid_tostr(out, GIT_OID_HEXSZ + 1, &id);
}

/* A branch of the served store, read with libgrove ("" when missing). */
static void store_branch(const char *branch, char out[GROVE_OID_HEXSZ + 1])
{
	grove *g;
	grove_options o = GROVE_OPTIONS_INIT;
	o.create = 0;
	o.read_only = 1;
	cr_assert_eq(grove_open(&g, store_loc, &o), 0, "%s", grove_error_message());
	grove_oid id;
	int rc = grove_branch_head(g, branch, &id);
	if (rc == GROVE_ENOTFOUND)
		out[0] = '\0';
	else {
		cr_assert_eq(rc, 0, "%s", grove_error_message());
		grove_oid_tohex(out, &id);
	}
	grove_close(g);
}

static void check_clone(git_repository *repo, const char *name)
{
	/* HEAD is the source's branch and commit */
	git_reference *head;
	GIT_OK(git_reference_lookup(&head, repo, "HEAD"));
	cr_assert_eq(git_reference_type(head), GIT_REFERENCE_SYMBOLIC);
	cr_assert_str_eq(git_reference_symbolic_target(head), "refs/heads/main");
	git_reference_free(head);
	char *src_head = fx_line("git -C '%s/src.git' rev-parse HEAD", tmp);
	char got[GIT_OID_HEXSZ + 1];
	ref_hex(repo, "HEAD", got);
	cr_assert_str_eq(got, src_head);
	free(src_head);

	char *want = src_listing(), *have = ref_listing(repo, 1);
	cr_assert_str_eq(have, want, "clone refs:\n%s\nsource refs:\n%s", have, want);
	free(want);
	free(have);
	cr_assert_eq(fx_sh("git -C '%s/%s' fsck --strict >'%s/fsck.out' 2>&1", tmp, name, tmp), 0,
		"git fsck --strict of the libgit2 clone failed");
}

/* A commit on the current branch of the work tree <tmp>/<dir>, made with
 * the git CLI: a text file of ~30 kB that changes a little each time, so
 * that libgit2's pack builder finds deltas when several are pushed. */
static void cli_commit(const char *dir, const char *msg)
{
	FX_SH("cd '%s/%s' && for i in $(seq 1 600); do echo \"row $i of a file that is worth a delta\"; done >big.txt"
		" && echo '%s' >>big.txt", tmp, dir, msg);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", tmp, dir);
	FX_GIT(path, "add big.txt");
	FX_GIT(path, "commit -q -m '%s'", msg);
}

static client_ctx good = { USER, PASS, 0, "", "", 0 };

/* ---- scenarios, run over each transport ------------------------------------------ */

static void scenario_clone(enum transport t)
{
	git_repository *repo;
	client_ctx c = good;
	GIT_OK(clone_into(&repo, t, "clone", &c));
	check_clone(repo, "clone");
	git_repository_free(repo);
}

static void scenario_fetch(enum transport t)
{
	git_repository *repo;
	client_ctx c = good;
	GIT_OK(clone_into(&repo, t, "clone", &c));

	/* the git CLI pushes new commits, a new branch and a new tag to the
	 * store (and to src.git, the reference) */
	cli_commit("src", "new on main");
	char src[PATH_MAX];
	snprintf(src, sizeof(src), "%s/src", tmp);
	FX_GIT(src, "branch newb HEAD~1");
	FX_GIT(src, "tag -a -m 'tag two' v2");
	FX_GIT(src, "push -q ../src.git main newb v2");
	FX_GIT(src, "push -q git://127.0.0.1:%d/s main newb v2", daemon_srv.port);

	GIT_OK(fetch(repo, &c));
	char *want = src_listing(), *have = ref_listing(repo, 1);
	cr_assert_str_eq(have, want, "after fetch:\n%s\nsource:\n%s", have, want);
	free(want);
	free(have);
	/* a second fetch has nothing to do */
	GIT_OK(fetch(repo, &c));
	git_repository_free(repo);
	cr_assert_eq(fx_sh("git -C '%s/clone' fsck --strict >/dev/null 2>&1", tmp), 0, "fsck after fetch");
}

static void scenario_push(enum transport t)
{
	git_repository *repo;
	client_ctx c = good;
	char local[GIT_OID_HEXSZ + 1], stored[GROVE_OID_HEXSZ + 1], tracking[GIT_OID_HEXSZ + 1];
	GIT_OK(clone_into(&repo, t, "clone", &c));

	/* a new branch with two commits */
	cli_commit("clone", "first from libgit2");
	cli_commit("clone", "second from libgit2");
	GIT_OK(push(repo, "refs/heads/main:refs/heads/from-libgit2", &c));
	cr_assert_eq(c.ref_calls, 1);
	cr_assert_str_eq(c.ref, "refs/heads/from-libgit2");
	cr_assert_str_eq(c.status, "", "refused: %s", c.status);
	ref_hex(repo, "refs/heads/main", local);
	store_branch("from-libgit2", stored);
	cr_assert_str_eq(stored, local);
	ref_hex(repo, "refs/remotes/origin/from-libgit2", tracking);
	cr_assert_str_eq(tracking, local);

	/* a fast-forward of main */
	cli_commit("clone", "third from libgit2");
	GIT_OK(push(repo, "refs/heads/main:refs/heads/main", &c));
	cr_assert_str_eq(c.ref, "refs/heads/main");
	cr_assert_str_eq(c.status, "", "refused: %s", c.status);
	ref_hex(repo, "refs/heads/main", local);
	store_branch("main", stored);
	cr_assert_str_eq(stored, local);

	/* the store is whole, and a git clone of it agrees */
	FX_SH("'%s' -C '%s' fsck >/dev/null", grove_cli, store_loc);
	FX_GIT(tmp, "clone -q git://127.0.0.1:%d/s check", daemon_srv.port);
	char *head = fx_line("git -C '%s/check' rev-parse HEAD", tmp);
	cr_assert_str_eq(head, local);
	free(head);
	cr_assert_eq(fx_sh("git -C '%s/check' fsck --strict >/dev/null 2>&1", tmp), 0);
	git_repository_free(repo);
}

static void scenario_non_ff(enum transport t)
{
	git_repository *repo;
	client_ctx c = good;
	char before[GROVE_OID_HEXSZ + 1], after[GROVE_OID_HEXSZ + 1];
	GIT_OK(clone_into(&repo, t, "clone", &c));
	char clone[PATH_MAX];
	snprintf(clone, sizeof(clone), "%s/clone", tmp);
	FX_GIT(clone, "checkout -q -b other HEAD~1");
	cli_commit("clone", "diverged");
	store_branch("main", before);

	/* libgit2 itself refuses a non-forced non-fast-forward */
	cr_assert_eq(push(repo, "refs/heads/other:refs/heads/main", &c), GIT_ENONFASTFORWARD);

	/* forced, it reaches the server, which refuses it */
	int rc = push(repo, "+refs/heads/other:refs/heads/main", &c);
	const git_error *e = git_error_last();
	cr_assert_eq(rc, 0, "%d %s", rc, e ? e->message : "");
	cr_assert_eq(c.ref_calls, 1);
	cr_assert_str_eq(c.ref, "refs/heads/main");
	cr_assert_str_eq(c.status, "non-fast-forward");
	store_branch("main", after);
	cr_assert_str_eq(after, before);
	char tracking[GIT_OID_HEXSZ + 1];
	ref_hex(repo, "refs/remotes/origin/main", tracking);
	cr_assert_str_eq(tracking, before, "tracking ref moved after a refused push");
	git_repository_free(repo);
}

/* An empty store: libgit2 clones it (an empty repository, no HEAD commit),
 * pushes the first branch into it, then deletes a branch. */
static void scenario_empty_store(enum transport t)
{
	git_repository *repo;
	client_ctx c = good;
	char url[256], path[PATH_MAX], local[GIT_OID_HEXSZ + 1];
	url_of_store(url, sizeof(url), t, "empty");
	snprintf(path, sizeof(path), "%s/clone", tmp);
	git_clone_options o = GIT_CLONE_OPTIONS_INIT;
	callbacks(&o.fetch_opts.callbacks, &c);
	GIT_OK(git_clone(&repo, url, path, &o));
	cr_assert_eq(git_repository_is_empty(repo), 1);

	/* (the empty store names no HEAD branch, so the clone's HEAD is
	 * libgit2's default: push HEAD) */
	cli_commit("clone", "first commit of an empty store");
	GIT_OK(push(repo, "HEAD:refs/heads/main", &c));
	cr_assert_str_eq(c.ref, "refs/heads/main");
	cr_assert_str_eq(c.status, "", "refused: %s", c.status);
	GIT_OK(push(repo, "HEAD:refs/heads/doomed", &c));
	cr_assert_str_eq(c.status, "", "refused: %s", c.status);
	ref_hex(repo, "HEAD", local);

	grove *g;
	grove_options go = GROVE_OPTIONS_INIT;
	go.create = 0;
	go.read_only = 1;
	char loc[PATH_MAX];
	snprintf(loc, sizeof(loc), "lmdb:%s/stores/empty", tmp);
	grove_oid id;
	char hex[GROVE_OID_HEXSZ + 1];
	cr_assert_eq(grove_open(&g, loc, &go), 0, "%s", grove_error_message());
	cr_assert_eq(grove_branch_head(g, "main", &id), 0, "%s", grove_error_message());
	cr_assert_str_eq(grove_oid_tohex(hex, &id), local);
	cr_assert_eq(grove_branch_head(g, "doomed", &id), 0);
	grove_close(g);

	/* a deletion */
	GIT_OK(push(repo, ":refs/heads/doomed", &c));
	cr_assert_str_eq(c.ref, "refs/heads/doomed");
	cr_assert_str_eq(c.status, "", "refused: %s", c.status);
	cr_assert_eq(grove_open(&g, loc, &go), 0, "%s", grove_error_message());
	cr_assert_eq(grove_branch_head(g, "doomed", &id), GROVE_ENOTFOUND);
	cr_assert_eq(grove_branch_head(g, "main", &id), 0);
	grove_close(g);
	git_repository_free(repo);
}

TestSuite(libgit2_git, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(libgit2_http, .init = setup, .fini = teardown, .timeout = 120);

Test(libgit2_git, clone) { scenario_clone(T_GIT); }
Test(libgit2_git, fetch_after_cli_push) { scenario_fetch(T_GIT); }
Test(libgit2_git, push_new_branch_and_fast_forward) { scenario_push(T_GIT); }
Test(libgit2_git, non_fast_forward_refused) { scenario_non_ff(T_GIT); }

Test(libgit2_git, empty_store_clone_first_push_delete) { scenario_empty_store(T_GIT); }

Test(libgit2_http, clone) { scenario_clone(T_HTTP); }
Test(libgit2_http, fetch_after_cli_push) { scenario_fetch(T_HTTP); }
Test(libgit2_http, push_new_branch_and_fast_forward) { scenario_push(T_HTTP); }
Test(libgit2_http, non_fast_forward_refused) { scenario_non_ff(T_HTTP); }
Test(libgit2_http, empty_store_clone_first_push_delete) { scenario_empty_store(T_HTTP); }

/* ---- HTTP credentials ---------------------------------------------------------------- */

Test(libgit2_http, clone_without_credentials_fails)
{
	git_repository *repo = NULL;
	client_ctx none = { NULL, NULL, 0, "", "", 0 };
	cr_assert_neq(clone_into(&repo, T_HTTP, "clone", &none), 0);
	cr_assert_null(repo);
	cr_assert_eq(none.cred_calls, 1, "the 401 must ask for credentials");
}

Test(libgit2_http, wrong_password_fails_and_changes_nothing)
{
	git_repository *repo = NULL;
	client_ctx bad = { USER, "wrong", 0, "", "", 0 };
	cr_assert_neq(clone_into(&repo, T_HTTP, "bad", &bad), 0);
	cr_assert_null(repo);
	cr_assert_gt(bad.cred_calls, 1, "a wrong password must be asked again");

	client_ctx c = good;
	GIT_OK(clone_into(&repo, T_HTTP, "clone", &c));
	cli_commit("clone", "not to be pushed");
	char before[GROVE_OID_HEXSZ + 1], after[GROVE_OID_HEXSZ + 1];
	store_branch("main", before);
	cr_assert_neq(push(repo, "refs/heads/main:refs/heads/main", &bad), 0);
	cr_assert_eq(bad.ref_calls, 0);
	store_branch("main", after);
	cr_assert_str_eq(after, before);
	git_repository_free(repo);
}
