/*
 * grove user: the accounts of `grove serve`, kept in an htpasswd file
 * (one "name:hash" line per user, the format grove serve and Apache read).
 *
 *   grove user add NAME [--password-stdin]
 *   grove user passwd NAME [--password-stdin]
 *   grove user remove NAME
 *   grove user list
 *
 * Hashes are bcrypt ("$2b$", cost 10) made with crypt_r, or sha512-crypt
 * ("$6$") where libcrypt has no bcrypt.  The file is rewritten whole into
 * a temporary file next to it and renamed over it (mode 0600), so a reader
 * (the server reloads on change) never sees half a file.  Lines this tool
 * does not understand (comments) are kept as they are.
 */
#include "cli.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_HTPASSWD "./grove-data/htpasswd"
#define MAX_PASSWORD 1024
#define MAX_NAME 64

typedef struct {
	char **lines;
	size_t n, cap;
} lines;

static void lines_free(lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->lines[i]);
	free(l->lines);
	l->lines = NULL;
	l->n = l->cap = 0;
}

static int lines_add(lines *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->lines, cap * sizeof(*p));
		if (!p)
			return -1;
		l->lines = p;
		l->cap = cap;
	}
	if (!(l->lines[l->n] = strdup(s)))
		return -1;
	l->n++;
	return 0;
}

/* Letters, digits and "._-", not starting with '.' (the name is also a
 * directory in the store and a URL segment). */
static int name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MAX_NAME || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* 1 when line is "name:..." */
static int line_is_user(const char *line, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(line, name, n) && line[n] == ':';
}

/* Reads the file; a missing file is an empty one.  Returns an exit code. */
static int load(cli *c, const char *path, lines *out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return cli_error(c, EXIT_STORE, "cannot read %s: %s", path, strerror(errno));
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&buf, &cap, f)) >= 0) {
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (len == 0)
			continue;
		if (lines_add(out, buf) < 0) {
			free(buf);
			fclose(f);
			return cli_error(c, EXIT_STORE, "out of memory");
		}
	}
	free(buf);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return cli_error(c, EXIT_STORE, "cannot read %s", path);
	return 0;
}

/* Writes the lines to a temporary file beside path and renames it over
 * path.  Returns an exit code. */
static int save(cli *c, const char *path, const lines *l)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + 16);
	if (!tmp)
		return cli_error(c, EXIT_STORE, "out of memory");
	snprintf(tmp, pl + 16, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return cli_error(c, EXIT_STORE, "cannot write next to %s: %s", path, strerror(e));
	}
	fchmod(fd, 0600);
	FILE *f = fdopen(fd, "w");
	int ok = f != NULL;
	for (size_t i = 0; ok && i < l->n; i++)
		ok = fprintf(f, "%s\n", l->lines[i]) >= 0;
	if (ok)
		ok = fflush(f) == 0 && fsync(fd) == 0;
	if (f)
		ok = (fclose(f) == 0) && ok;
	else
		close(fd);
	if (!ok || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return cli_error(c, EXIT_STORE, "cannot write %s: %s", path, strerror(e));
	}
	free(tmp);
	return 0;
}

/* Creates the file's directory (one level, like ./grove-data) if missing. */
static void make_parent(const char *path)
{
	char *dir = strdup(path);
	if (!dir)
		return;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	free(dir);
}

static int read_line_fd(FILE *in, char *buf, size_t size)
{
	if (!fgets(buf, (int)size, in))
		return -1;
	size_t n = strlen(buf);
	if (n == size - 1 && buf[n - 1] != '\n')
		return -2; /* too long */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

/* Prompts on the terminal without echo. */
static int prompt(const char *text, char *buf, size_t size)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return -1;
	struct termios old, quiet;
	int have = tcgetattr(fileno(tty), &old) == 0;
	if (have) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	fputs(text, tty);
	fflush(tty);
	int rc = read_line_fd(tty, buf, size);
	if (have)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	return rc;
}

/* The new password: the first line of stdin, or asked twice on the
 * terminal.  Returns an exit code. */
static int get_password(cli *c, int from_stdin, char *buf, size_t size)
{
	if (from_stdin) {
		int rc = read_line_fd(stdin, buf, size);
		if (rc == -2)
			return cli_error(c, EXIT_INVALID, "password too long");
		if (rc < 0)
			return cli_error(c, EXIT_INVALID, "no password on stdin");
	} else {
		char again[MAX_PASSWORD + 2];
		if (prompt("New password: ", buf, size) < 0)
			return cli_error(c, EXIT_USAGE,
				"cannot ask for a password without a terminal (use --password-stdin)");
		if (prompt("Repeat password: ", again, sizeof(again)) < 0 || strcmp(buf, again)) {
			memset(again, 0, sizeof(again));
			return cli_error(c, EXIT_INVALID, "the passwords do not match");
		}
		memset(again, 0, sizeof(again));
	}
	if (!buf[0])
		return cli_error(c, EXIT_INVALID, "empty password");
	return 0;
}

/* "name:hash" into line.  Returns an exit code. */
static int make_entry(cli *c, const char *name, const char *password, char *line, size_t size)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return cli_error(c, EXIT_STORE, "out of memory");
	const char *hash = NULL;
	if (crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof(salt)))
		hash = crypt_r(password, salt, cd);
	if ((!hash || hash[0] == '*') && crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)))
		hash = crypt_r(password, salt, cd);
	int rc = 0;
	if (!hash || hash[0] == '*')
		rc = cli_error(c, EXIT_STORE, "cannot hash the password (libcrypt: %s)", strerror(errno));
	else
		snprintf(line, size, "%s:%s", name, hash);
	memset(cd, 0, sizeof(*cd));
	free(cd);
	return rc;
}

static long find_user(const lines *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (line_is_user(l->lines[i], name))
			return (long)i;
	return -1;
}

int cmd_user(cli *c, int argc, char **argv)
{
	enum { O_HTPASSWD = 0x100, O_STDIN };
	static const struct option longopts[] = {
		{ "htpasswd", required_argument, NULL, O_HTPASSWD },
		{ "password-stdin", no_argument, NULL, O_STDIN },
		{ NULL, 0, NULL, 0 },
	};
	const cli_command *cmd = cli_find_command("user");
	const char *path = DEFAULT_HTPASSWD;
	int from_stdin = 0, opt, rc = 0;

	optind = 1;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		switch (opt) {
		case -2:
			return rc;
		case O_HTPASSWD:
			path = optarg;
			break;
		case O_STDIN:
			from_stdin = 1;
			break;
		default:
			return cli_usage_error(c, cmd, "user: unexpected option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(c, cmd, "user: missing subcommand (add, passwd, remove, list)");
	const char *sub = argv[optind++];
	int is_list = !strcmp(sub, "list"), is_add = !strcmp(sub, "add");
	int is_passwd = !strcmp(sub, "passwd"), is_remove = !strcmp(sub, "remove");
	if (!is_list && !is_add && !is_passwd && !is_remove)
		return cli_usage_error(c, cmd, "user: unknown subcommand '%s'", sub);
	const char *name = NULL;
	if (!is_list) {
		if (optind >= argc)
			return cli_usage_error(c, cmd, "user %s: missing user name", sub);
		name = argv[optind++];
		if (!name_ok(name))
			return cli_error(c, EXIT_INVALID,
				"invalid user name '%s' (letters, digits and ._- only, not starting with '.', at most %d)",
				name, MAX_NAME);
	}
	if (optind < argc)
		return cli_usage_error(c, cmd, "user: unexpected argument '%s'", argv[optind]);
	if (from_stdin && !is_add && !is_passwd)
		return cli_usage_error(c, cmd, "user %s: --password-stdin is for add and passwd", sub);

	lines l = { 0 };
	if ((rc = load(c, path, &l)) != 0)
		goto out;
	if (is_list) {
		for (size_t i = 0; i < l.n; i++) {
			const char *colon = strchr(l.lines[i], ':');
			if (l.lines[i][0] == '#' || !colon)
				continue;
			printf("%.*s\n", (int)(colon - l.lines[i]), l.lines[i]);
		}
		goto out;
	}
	long at = find_user(&l, name);
	if (is_add && at >= 0) {
		rc = cli_error(c, EXIT_FAIL, "user '%s' already exists in %s", name, path);
		goto out;
	}
	if (!is_add && at < 0) {
		rc = cli_error(c, EXIT_FAIL, "no user '%s' in %s", name, path);
		goto out;
	}
	if (is_remove) {
		free(l.lines[at]);
		memmove(&l.lines[at], &l.lines[at + 1], (l.n - (size_t)at - 1) * sizeof(char *));
		l.n--;
	} else {
		char password[MAX_PASSWORD + 2], entry[MAX_NAME + 256];
		rc = get_password(c, from_stdin, password, sizeof(password));
		if (rc == 0)
			rc = make_entry(c, name, password, entry, sizeof(entry));
		memset(password, 0, sizeof(password));
		if (rc != 0)
			goto out;
		if (at >= 0) {
			char *dup = strdup(entry);
			if (!dup) {
				rc = cli_error(c, EXIT_STORE, "out of memory");
				goto out;
			}
			free(l.lines[at]);
			l.lines[at] = dup;
		} else if (lines_add(&l, entry) < 0) {
			rc = cli_error(c, EXIT_STORE, "out of memory");
			goto out;
		}
	}
	if (is_add)
		make_parent(path);
	if ((rc = save(c, path, &l)) != 0)
		goto out;
	if (!c->quiet)
		fprintf(stderr, "grove: user '%s' %s in %s\n", name,
			is_add ? "added" : is_remove ? "removed" : "password changed", path);
out:
	lines_free(&l);
	return rc;
}
