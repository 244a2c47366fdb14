/*
 * Test fixtures built with the real git CLI: temporary directories,
 * commands run with a fixed identity and dates, and captured output.
 * Header-only so that only the tests that include it carry it.
 */
#ifndef GROVE_TEST_GIT_FIXTURE_H
#define GROVE_TEST_GIT_FIXTURE_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Fixed identities and dates, no user or system config: every run makes
 * byte-identical repositories. */
#define GIT_FIXTURE_ENV \
	"GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent XDG_CONFIG_HOME=/nonexistent " \
	"GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL=author@example.com " \
	"GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL=committer@example.com " \
	"GIT_AUTHOR_DATE='1700000000 +0100' GIT_COMMITTER_DATE='1700000000 +0100' " \
	"git -c init.defaultBranch=main -c gc.auto=0 "

/* A new empty directory under /tmp; the caller frees the string. */
static inline char *fx_tmpdir(void)
{
	char tmpl[] = "/tmp/grove-git-XXXXXX";
	char *d = mkdtemp(tmpl);
	cr_assert_not_null(d, "mkdtemp");
	return strdup(d);
}

static inline void fx_rmrf(const char *dir)
{
	char cmd[4096];
	if (!dir)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

/* Runs a shell command; returns its exit status. */
static inline int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int fx_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

/* Runs a command that must succeed. */
#define FX_SH(...) cr_assert_eq(fx_sh(__VA_ARGS__), 0, "command failed")

/* A git command in dir with the fixture environment (a format string
 * continues after the directory). */
#define FX_GIT(dir, fmt, ...) \
	FX_SH("cd '%s' && " GIT_FIXTURE_ENV fmt " >/dev/null 2>&1", dir, ##__VA_ARGS__)

/* Captures a command's whole stdout; *len gets its length.  The string is
 * NUL-terminated; the caller frees it.  NULL when the command fails. */
static inline char *fx_capture(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline char *fx_capture(size_t *len, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, p)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	int st = pclose(p);
	if (!buf)
		return NULL;
	if (st != 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* One line of output with the newline stripped (e.g. a rev-parse). */
static inline char *fx_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *fx_line(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *s = fx_capture(NULL, "%s", cmd);
	if (s) {
		size_t n = strlen(s);
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			s[--n] = '\0';
	}
	return s;
}

/*
 * A repository with history worth reading: several commits with files and
 * directories, a branch merged back (a merge commit), a lightweight and an
 * annotated tag, a tag of a tag, an executable and a symlink, then
 * `git gc --aggressive` (packed objects with delta chains, packed refs)
 * followed by more commits (loose objects, loose refs).  Non-bare at dir.
 */
static inline void fx_make_history(const char *dir)
{
	FX_GIT(dir, "init -q .");
	FX_SH("cd '%s' && mkdir -p docs/deep && for i in 1 2 3 4 5 6 7 8 9 10; do "
		"echo \"line $i of a fairly long text that deltas well against its neighbours\"; "
		"done > docs/deep/text.txt && printf 'x' > a.txt && chmod +x a.txt && "
		"ln -s a.txt link", dir);
	FX_GIT(dir, "add -A");
	FX_GIT(dir, "commit -q -m 'first commit'");
	for (int i = 0; i < 6; i++) {
		FX_SH("cd '%s' && echo 'more line %d that makes the file grow a little' >> docs/deep/text.txt",
			dir, i);
		FX_GIT(dir, "commit -q -am 'grow %d'", i);
	}
	FX_GIT(dir, "checkout -q -b side HEAD~2");
	FX_SH("cd '%s' && echo side > side.txt", dir);
	FX_GIT(dir, "add side.txt");
	FX_GIT(dir, "commit -q -m 'on the side'");
	FX_GIT(dir, "checkout -q main");
	FX_GIT(dir, "merge -q --no-ff -m 'merge side' side");
	FX_GIT(dir, "tag light");
	FX_GIT(dir, "tag -a -m 'annotated tag' v1.0");
	FX_GIT(dir, "tag -a -m 'tag of a tag' v1.0-signed v1.0");
	FX_GIT(dir, "gc -q --aggressive");
	FX_SH("cd '%s' && echo loose > loose.txt", dir);
	FX_GIT(dir, "add loose.txt");
	FX_GIT(dir, "commit -q -m 'after gc'");
	FX_GIT(dir, "branch feature/x");
}

#endif
