/* A connection for the native client (native.h): TCP to a git:// server,
 * git's own programs for file://, the OpenSSH client for ssh; buffered
 * writes, pkt-line reads, the inactivity timeout, cancellation. */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "oid.h"
#include "sync_internal.h"

/* Output is sent in pieces of about this size (one send() each). */
#define NCONN_FLUSH_AT (256 * 1024)
/* How often a blocked read wakes up to look at the cancel flag. */
#define NCONN_POLL_MS 200

/* The repository path of a file:// URL we can hand to git, or NULL. */
static const char *file_url_path(const char *url)
{
	const char *p;
	if (strncasecmp(url, "file://", 7))
		return NULL;
	p = url + 7;
	if (!strncasecmp(p, "localhost/", 10))
		p += 9;
	return *p == '/' ? p : NULL;
}

/* A remote given as a path rather than a URL: an absolute path, or one
 * that exists here (so "dir:repo.git" in the current directory is that
 * directory, as git reads it, never an ssh host). */
static const char *plain_local_path(const char *url)
{
	if (strstr(url, "://"))
		return NULL;
	return url[0] == '/' || access(url, F_OK) == 0 ? url : NULL;
}

/* The local repository path of a file:// URL or a plain path. */
static const char *local_path(const char *url)
{
	const char *p = file_url_path(url);
	return p ? p : plain_local_path(url);
}

/* 1 if an executable "git" is on PATH (file:// runs git's own programs). */
static int have_git(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	while (path && *path) {
		size_t len = strcspn(path, ":");
		if (len && len + 5 < sizeof(buf)) {
			memcpy(buf, path, len);
			memcpy(buf + len, "/git", 5);
			if (access(buf, X_OK) == 0)
				return 1;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return 0;
}

int grove__native_handles(const char *url)
{
	const char *e = getenv("GROVE_SYNC_LIBGIT2");
	if (!url)
		return 0;
	/* ssh is always ours: libgit2's (libssh2) checked no host key and
	 * could not time out a silent session.  A local path that exists is
	 * local, even with a ':' in its name. */
	if (grove__ssh_is_url(url) && !plain_local_path(url))
		return 1;
	/* An escape hatch for comparisons and bug hunts. */
	if (e && *e && strcmp(e, "0"))
		return 0;
	if (!strncasecmp(url, "git://", 6))
		return 1;
	return local_path(url) && have_git();
}

int grove__nconn_fail(grove__nconn *c, int code, const char *fmt, ...)
{
	char msg[1024], *clean;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clean = grove__redact_text(msg, NULL, 0);
	grove__error_set(code, "%s (%s): %s", c->what, c->shown_url ? c->shown_url : "?", clean ? clean : msg);
	free(clean);
	return code;
}

int grove__nconn_check_cancel(grove__nconn *c)
{
	if (c->opts && c->opts->cancel && *c->opts->cancel) {
		c->abort_child = 1;
		return grove__nconn_fail(c, GROVE_ERROR, "cancelled");
	}
	return 0;
}

/* "git://[user@]host[:port]/path" -> host, port, path (from malloc). */
static int parse_url(const char *url, char **host, char **port, char **path)
{
	const char *a = url + 6, *slash = strchr(a, '/'), *at, *h, *hend, *p = NULL;
	*host = *port = *path = NULL;
	if (!slash || slash == a)
		return grove__error_set(GROVE_EINVALID, "invalid git:// URL (no host or path)");
	at = memchr(a, '@', (size_t)(slash - a));
	h = at ? at + 1 : a;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(slash - h));
		if (!close)
			return grove__error_set(GROVE_EINVALID, "invalid git:// URL (bad [address])");
		hend = close + 1;
		if (*hend == ':')
			p = hend + 1;
		h++;
		hend = close;
	} else {
		const char *colon = memchr(h, ':', (size_t)(slash - h));
		hend = colon ? colon : slash;
		if (colon)
			p = colon + 1;
	}
	if (hend == h)
		return grove__error_set(GROVE_EINVALID, "invalid git:// URL (no host)");
	if (!(*host = grove__strndup(h, (size_t)(hend - h))) ||
	    !(*port = p && p < slash ? grove__strndup(p, (size_t)(slash - p)) : grove__strdup("9418")) ||
	    !(*path = grove__strdup(slash)))
		return GROVE_ENOMEM;
	return 0;
}

static int fail_silent(grove__nconn *c)
{
	char t[32];
	c->abort_child = 1; /* a silent ssh session would keep its child */
	return grove__nconn_fail(c, GROVE_EIO, "the remote did not answer for %s",
		grove__sync_timeout_text(c->timeout_ms, t, sizeof(t)));
}

/* 1 once timeout_ms have passed since since_ms (never without a timeout). */
static int silent_too_long(const grove__nconn *c, uint64_t since_ms)
{
	return c->timeout_ms && grove__sync_now_ms() - since_ms >= c->timeout_ms;
}

/* Sends without blocking for good: a remote that stops reading (its
 * window full) leaves send() waiting forever, so wait in poll() ticks,
 * watching the cancel flag and the timeout (restarted by each byte that
 * goes out). */
static int send_all(grove__nconn *c, const char *p, size_t len)
{
	uint64_t since = grove__sync_now_ms();
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			struct pollfd pfd = { c->fd, POLLOUT, 0 };
			int rc;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return grove__nconn_fail(c, GROVE_EIO, "cannot send to the remote: %s", strerror(errno));
			poll(&pfd, 1, NCONN_POLL_MS);
			if ((rc = grove__nconn_check_cancel(c)) < 0)
				return rc;
			if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)) && silent_too_long(c, since))
				return fail_silent(c);
			continue;
		}
		p += n;
		len -= (size_t)n;
		c->sent += (uint64_t)n;
		since = grove__sync_now_ms();
	}
	return 0;
}

int grove__nconn_flush(grove__nconn *c)
{
	int rc;
	if (!c->out.len)
		return 0;
	if ((rc = grove__nconn_check_cancel(c)) < 0)
		return rc;
	rc = send_all(c, c->out.data, c->out.len);
	c->out.len = 0;
	return rc;
}

int grove__nconn_put(grove__nconn *c, const void *data, size_t len)
{
	int rc;
	if ((rc = grove__sbuf_put(&c->out, data, len)) < 0)
		return rc;
	return c->out.len >= NCONN_FLUSH_AT ? grove__nconn_flush(c) : 0;
}

/* Keeps the tail of the child's stderr (for messages) so it never blocks
 * on a full pipe, and nothing of it reaches the caller's stderr. */
static void drain_stderr(grove__nconn *c)
{
	char buf[1024];
	ssize_t n;
	while (c->errfd >= 0 && (n = read(c->errfd, buf, sizeof(buf))) != 0) {
		size_t keep;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN: nothing more for now */
		}
		if ((size_t)n >= sizeof(c->errtxt) - 1) {
			memcpy(c->errtxt, buf + n - (sizeof(c->errtxt) - 1), sizeof(c->errtxt) - 1);
			c->errlen = sizeof(c->errtxt) - 1;
			continue;
		}
		keep = sizeof(c->errtxt) - 1 - (size_t)n;
		if (c->errlen > keep) {
			memmove(c->errtxt, c->errtxt + c->errlen - keep, keep);
			c->errlen = keep;
		}
		memcpy(c->errtxt + c->errlen, buf, (size_t)n);
		c->errlen += (size_t)n;
	}
	if (c->errfd >= 0) {
		close(c->errfd); /* end of file */
		c->errfd = -1;
	}
}

int grove__nconn_fill(grove__nconn *c)
{
	/* Only the wait for the remote counts, not our own work before it. */
	uint64_t since = grove__sync_now_ms();
	for (;;) {
		struct pollfd pfd[2] = { { c->fd, POLLIN, 0 }, { c->errfd, POLLIN, 0 } };
		ssize_t n;
		int ready = poll(pfd, c->errfd >= 0 ? 2 : 1, NCONN_POLL_MS), rc;
		if ((rc = grove__nconn_check_cancel(c)) < 0)
			return rc;
		if (ready > 0 && c->errfd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			drain_stderr(c);
		if (ready <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			/* A tick (look at cancel again), EINTR or only stderr: */
			if (silent_too_long(c, since))
				return fail_silent(c);
			continue;
		}
		n = recv(c->fd, c->in, sizeof(c->in), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return grove__nconn_fail(c, GROVE_EIO, "cannot read from the remote: %s", strerror(errno));
		}
		c->in_off = 0;
		c->in_len = (size_t)n;
		if (n == 0)
			c->eof = 1;
		return 0;
	}
}

/* The remote closed the stream before the protocol was done: what the
 * child said on stderr, last line, says why (file://: git; ssh: ssh's own
 * refusal or the remote git's message).  ssh's host key and authentication
 * refusals get a plain explanation in front. */
static int hung_up(grove__nconn *c)
{
	const char *line;
	size_t len;
	drain_stderr(c);
	len = c->errlen;
	while (len && (c->errtxt[len - 1] == '\n' || c->errtxt[len - 1] == '\r'))
		len--;
	c->errtxt[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (c->errtxt[i] == '\r')
			c->errtxt[i] = ' ';
	line = strrchr(c->errtxt, '\n');
	line = line ? line + 1 : c->errtxt;
	if (c->ssh && (strstr(c->errtxt, "Host key verification failed") ||
		strstr(c->errtxt, "REMOTE HOST IDENTIFICATION HAS CHANGED")))
		return grove__nconn_fail(c, GROVE_EIO, "ssh: host key verification failed (the host's key is not in "
			"known_hosts or has changed; check it, then add it with ssh once): %s", line);
	if (c->ssh && strstr(c->errtxt, "Permission denied"))
		return grove__nconn_fail(c, GROVE_EIO, "ssh: authentication failed (key refused): %s", line);
	if (*line)
		return grove__nconn_fail(c, GROVE_EIO, "%sthe remote end hung up unexpectedly: %s", c->ssh ? "ssh: " : "",
			line);
	return grove__nconn_fail(c, GROVE_EIO, "%sthe remote end hung up unexpectedly", c->ssh ? "ssh: " : "");
}

int grove__nconn_read_pkt(grove__nconn *c, grove__pkt *out)
{
	int rc;
	if ((rc = grove__nconn_flush(c)) < 0)
		return rc;
	for (;;) {
		size_t used = 0;
		if (c->in_off < c->in_len) {
			rc = grove__pkt_read(&c->rd, c->in + c->in_off, c->in_len - c->in_off, &used, out);
			c->in_off += used;
			if (rc < 0)
				return grove__nconn_fail(c, GROVE_EIO, "protocol error: %s", grove_error_message());
			if (rc == 1)
				return 0;
			continue;
		}
		if (c->eof)
			return hung_up(c);
		if ((rc = grove__nconn_fill(c)) < 0)
			return rc;
	}
}

extern char **environ;

/* Starts argv with its stdin and stdout one end of a socket pair (so the
 * rest of the client is the same as over TCP) and its stderr a pipe we
 * keep the tail of.  own_group: in a process group of its own (ssh: a
 * terminal's ^C reaches grove, which cancels and kills the whole group,
 * also the ssh under a $GROVE_SSH_COMMAND shell).  Signal dispositions
 * and mask are the defaults whatever the calling thread has. */
static int spawn_child(grove__nconn *c, char *const argv[], char *const envp[], int own_group)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int sv[2], ep[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return grove__nconn_fail(c, GROVE_EIO, "cannot create a socket pair: %s", strerror(errno));
	if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(sv[0]);
		close(sv[1]);
		return grove__nconn_fail(c, GROVE_EIO, "cannot create a pipe: %s", strerror(errno));
	}
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		(own_group ? POSIX_SPAWN_SETPGROUP : 0));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	rc = posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	close(ep[1]);
	if (rc != 0) {
		close(sv[0]);
		close(ep[0]);
		c->pid = 0;
		return grove__nconn_fail(c, GROVE_EIO, "cannot run %s: %s", argv[0], strerror(rc));
	}
	c->fd = sv[0];
	c->errfd = ep[0];
	return 0;
}

/* environ without the entries that start with one of drop[] (each
 * "NAME="), room for extra more at the end.  The strings are shared. */
static char **env_without(const char *const *drop, size_t ndrop, size_t extra)
{
	size_t n = 0, k = 0;
	char **envp;
	while (environ && environ[n])
		n++;
	if (!(envp = grove__calloc(n + extra + 1, sizeof(*envp))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int skip = 0;
		for (size_t d = 0; d < ndrop && !skip; d++)
			skip = !strncmp(environ[i], drop[d], strlen(drop[d]));
		if (!skip)
			envp[k++] = environ[i];
	}
	return envp;
}

/* file://: git's own upload-pack / receive-pack on the repository.  The
 * git:// request line is not sent. */
static int open_local(grove__nconn *c, const char *path, const char *service)
{
	/* What git's local transport clears, so the child sees only PATH's repo. */
	static const char *const drop[] = { "GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=",
		"GIT_OBJECT_DIRECTORY=", "GIT_ALTERNATE_OBJECT_DIRECTORIES=", "GIT_NAMESPACE=",
		"GIT_COMMON_DIR=", "GIT_PROTOCOL=", "GIT_CONFIG_PARAMETERS=", "GIT_CONFIG_COUNT=" };
	char *argv[4], **envp;
	int rc;

	if (!(envp = env_without(drop, sizeof(drop) / sizeof(drop[0]), 0)))
		return GROVE_ENOMEM;
	argv[0] = "git";
	argv[1] = (char *)service + 4; /* "git-upload-pack" -> "upload-pack" */
	argv[2] = (char *)path;
	argv[3] = NULL;
	rc = spawn_child(c, argv, envp, 0);
	free(envp);
	return rc;
}

/* The askpass helper for a passphrase-protected key: a script in a fresh
 * 0700 directory that prints $GROVE_SSH_ASKPASS_SECRET (set only in ssh's
 * environment) when ssh asks for a key's passphrase ("Enter passphrase
 * for ...", matched at the start: a host name in another prompt cannot
 * match), and refuses every other question (a host key confirmation is
 * then a "no", a password prompt fails).  The passphrase itself is never
 * written to a file. */
static int make_askpass(grove__nconn *c, char **helper)
{
	static const char script[] = "#!/bin/sh\n"
		"case \"$1\" in\n"
		"'Enter passphrase for '*) printf '%s\\n' \"$GROVE_SSH_ASKPASS_SECRET\" ;;\n"
		"*) exit 1 ;;\n"
		"esac\n";
	const char *tmp = getenv("TMPDIR");
	grove__sbuf b = GROVE_SBUF_INIT;
	int fd, ok;
	*helper = NULL;
	if (!tmp || *tmp != '/')
		tmp = "/tmp";
	if (grove__sbuf_printf(&b, "%s/grove-askpass-XXXXXX", tmp) < 0 || grove__sbuf_putc(&b, '\0') < 0) {
		grove__sbuf_dispose(&b);
		return grove__error_oom();
	}
	if (!mkdtemp(b.data)) {
		int err = errno;
		grove__sbuf_dispose(&b);
		return grove__nconn_fail(c, GROVE_EIO, "cannot create the ssh passphrase helper in %s: %s", tmp,
			strerror(err));
	}
	c->askpass_dir = b.data;
	if (asprintf(helper, "%s/askpass", c->askpass_dir) < 0) {
		*helper = NULL;
		return grove__error_oom();
	}
	if ((fd = open(*helper, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700)) < 0)
		return grove__nconn_fail(c, GROVE_EIO, "cannot create the ssh passphrase helper: %s", strerror(errno));
	ok = write(fd, script, sizeof(script) - 1) == (ssize_t)(sizeof(script) - 1);
	if (close(fd) < 0 || !ok)
		return grove__nconn_fail(c, GROVE_EIO, "cannot write the ssh passphrase helper");
	return 0;
}

static void remove_askpass(grove__nconn *c)
{
	char path[4096];
	if (!c->askpass_dir)
		return;
	if (snprintf(path, sizeof(path), "%s/askpass", c->askpass_dir) < (int)sizeof(path))
		unlink(path);
	rmdir(c->askpass_dir);
	free(c->askpass_dir);
	c->askpass_dir = NULL;
}

/* ssh: the OpenSSH client (or $GROVE_SSH_COMMAND, else $GIT_SSH_COMMAND)
 * runs the service on the remote host (native_ssh.c builds its argv). */
static int open_ssh(grove__nconn *c, const char *url, const char *service)
{
	/* Our secrets are not ssh's business (the passphrase goes back in
	 * under its own name when there is one); a caller's askpass setup is
	 * replaced by ours then. */
	static const char *const drop[] = { "GROVE_SSH_PASSPHRASE=", "GROVE_REMOTE_PASSWORD=", "GROVE_REMOTE_TOKEN=",
		"GROVE_SSH_ASKPASS_SECRET=", "SSH_ASKPASS=", "SSH_ASKPASS_REQUIRE=" };
	const grove_sync_opts *o = c->opts;
	const char *key = o && o->ssh_key ? o->ssh_key : getenv("GROVE_SSH_KEY");
	const char *cmd = getenv("GROVE_SSH_COMMAND");
	const char *pass = o && o->ssh_passphrase ? o->ssh_passphrase : getenv("GROVE_SSH_PASSPHRASE");
	grove__ssh_target t;
	grove__ssh_argv a;
	char **envp = NULL, *helper = NULL, *env_helper = NULL, *env_secret = NULL;
	int rc;

	if (!cmd || !*cmd)
		cmd = getenv("GIT_SSH_COMMAND");
	if ((rc = grove__ssh_parse(url, &t)) < 0)
		return grove__error_wrap(rc, "%s (%s)", c->what, c->shown_url);
	rc = grove__ssh_build_argv(&t, service, key, cmd, pass && *pass, &a);
	grove__ssh_target_dispose(&t);
	if (rc < 0)
		return grove__error_wrap(rc, "%s (%s)", c->what, c->shown_url);
	c->ssh = 1;
	if (pass && *pass) {
		if ((rc = make_askpass(c, &helper)) < 0)
			goto out;
		if (asprintf(&env_helper, "SSH_ASKPASS=%s", helper) < 0) {
			env_helper = NULL;
			rc = grove__error_oom();
			goto out;
		}
		if (asprintf(&env_secret, "GROVE_SSH_ASKPASS_SECRET=%s", pass) < 0) {
			env_secret = NULL;
			rc = grove__error_oom();
			goto out;
		}
	}
	if (!(envp = env_without(drop, sizeof(drop) / sizeof(drop[0]) - (pass && *pass ? 0 : 2), 3))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	if (env_helper) {
		size_t n = 0;
		while (envp[n])
			n++;
		envp[n++] = env_helper;
		envp[n++] = "SSH_ASKPASS_REQUIRE=force";
		envp[n++] = env_secret;
	}
	rc = spawn_child(c, a.argv, envp, 1);
out:
	free(envp);
	free(helper);
	free(env_helper);
	if (env_secret) {
		/* No copy of the passphrase left behind in our heap. */
		memset(env_secret, 0, strlen(env_secret));
		free(env_secret);
	}
	grove__ssh_argv_dispose(&a);
	return rc;
}

/* Connects c->fd to one address, waiting at most the timeout (a
 * blackholed address would otherwise take the kernel's ~2 minutes) and
 * watching the cancel flag.  0, or the errno (ETIMEDOUT, ECANCELED: the
 * cancel flag). */
static int connect_one(grove__nconn *c, const struct addrinfo *ai)
{
	uint64_t since = grove__sync_now_ms();
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol), err = 0;
	socklen_t len = sizeof(err);
	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			return err;
		}
		for (;;) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			int ready = poll(&pfd, 1, NCONN_POLL_MS);
			if (ready > 0)
				break;
			if (c->opts && c->opts->cancel && *c->opts->cancel) {
				close(fd);
				return ECANCELED;
			}
			if (silent_too_long(c, since)) {
				close(fd);
				return ETIMEDOUT;
			}
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			close(fd);
			return err;
		}
	}
	/* Reads stay blocking behind poll(); sends use MSG_DONTWAIT. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	c->fd = fd;
	return 0;
}

int grove__nconn_open(grove__nconn *c, const char *url, const char *service, const char *what,
	const grove_sync_opts *opts)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *host = NULL, *port = NULL, *path = NULL;
	const char *local;
	grove__sbuf req = GROVE_SBUF_INIT;
	int rc, gai, err = 0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->errfd = -1;
	c->opts = opts;
	c->what = what;
	c->timeout_ms = grove__sync_opts_timeout_ms(opts);
	grove__pkt_reader_reset(&c->rd);
	if ((rc = grove_url_redact(url, &c->shown_url)) < 0)
		return rc;
	if ((local = local_path(url)))
		return open_local(c, local, service);
	if (grove__ssh_is_url(url))
		return open_ssh(c, url, service);
	if ((rc = parse_url(url, &host, &port, &path)) < 0) {
		grove__error_wrap(rc, "%s (%s)", what, c->shown_url);
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		rc = grove__nconn_fail(c, GROVE_EIO, "cannot resolve %s: %s", host, gai_strerror(gai));
		goto out;
	}
	for (ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		if ((err = connect_one(c, ai)) == ETIMEDOUT || err == ECANCELED)
			break; /* the whole timeout is spent (or the caller gave up) */
	}
	if (c->fd < 0 && err == ECANCELED) {
		rc = grove__nconn_check_cancel(c);
		goto out;
	}
	if (c->fd < 0 && err == ETIMEDOUT) {
		char t[32];
		rc = grove__nconn_fail(c, GROVE_EIO, "cannot connect to %s port %s: no answer for %s", host, port,
			grove__sync_timeout_text(c->timeout_ms, t, sizeof(t)));
		goto out;
	}
	if (c->fd < 0) {
		rc = grove__nconn_fail(c, GROVE_EIO, "cannot connect to %s port %s: %s", host, port,
			strerror(err ? err : ECONNREFUSED));
		goto out;
	}
	/* "git-receive-pack /path\0host=HOST[:PORT]\0" */
	if ((rc = grove__sbuf_printf(&req, "%s %s", service, path)) < 0 || (rc = grove__sbuf_putc(&req, '\0')) < 0 ||
	    (rc = grove__sbuf_printf(&req, "host=%s%s%s", host, strcmp(port, "9418") ? ":" : "",
			strcmp(port, "9418") ? port : "")) < 0 ||
	    (rc = grove__sbuf_putc(&req, '\0')) < 0 || (rc = grove__pkt_write(&c->out, req.data, req.len)) < 0)
		goto out;
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	grove__sbuf_dispose(&req);
	free(host);
	free(port);
	free(path);
	return rc;
}

void grove__nconn_close(grove__nconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->pid > 0) {
		/* With our end closed the child sees EOF or EPIPE and exits (after
		 * its hooks or an automatic gc, which git's client waits for too);
		 * one still running after 30 s (ssh: or the timeout, if shorter),
		 * or at once after a timeout or cancel, is killed.  Always reaped. */
		int st, waited_ms = 0, limit = 30000;
		pid_t r = 0;
		if (c->ssh && c->timeout_ms && c->timeout_ms < (unsigned)limit)
			limit = (int)c->timeout_ms;
		while (!c->abort_child && (r = waitpid(c->pid, &st, WNOHANG)) == 0 && waited_ms < limit) {
			int step = waited_ms < 50 ? 1 : 20;
			if (c->opts && c->opts->cancel && *c->opts->cancel)
				break;
			drain_stderr(c); /* never let it block on a full pipe */
			usleep((useconds_t)step * 1000);
			waited_ms += step;
		}
		if (r == 0) {
			if (c->ssh)
				kill(-c->pid, SIGKILL); /* its group: a shell's ssh too */
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
				;
		}
		c->pid = 0;
	}
	remove_askpass(c);
	if (c->errfd >= 0)
		close(c->errfd);
	c->errfd = -1;
	grove__sbuf_dispose(&c->out);
	grove__pkt_reader_dispose(&c->rd);
	free(c->shown_url);
	c->shown_url = NULL;
}

/* --- advertisement ----------------------------------------------------------- */

void grove__nadv_dispose(grove__nadv *adv)
{
	for (size_t i = 0; i < adv->count; i++)
		free(adv->refs[i].name);
	free(adv->refs);
	free(adv->caps);
	memset(adv, 0, sizeof(*adv));
}

int grove__nadv_has_cap(const grove__nadv *adv, const char *cap)
{
	size_t n = strlen(cap);
	const char *p = adv->caps;
	while (p && *p) {
		size_t len = strcspn(p, " ");
		if (len >= n && !strncmp(p, cap, n) && (len == n || p[n] == '='))
			return 1;
		p += len;
		p += strspn(p, " ");
	}
	return 0;
}

static int adv_add(grove__nadv *adv, size_t *cap, const grove_oid *id, const char *name, size_t len)
{
	if (adv->count == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		grove__remote_ref *r = grove__realloc(adv->refs, nc * sizeof(*r));
		if (!r)
			return GROVE_ENOMEM;
		adv->refs = r;
		*cap = nc;
	}
	if (!(adv->refs[adv->count].name = grove__strndup(name, len)))
		return GROVE_ENOMEM;
	adv->refs[adv->count].id = *id;
	adv->count++;
	return 0;
}

int grove__nadv_read(grove__nconn *c, grove__nadv *adv)
{
	size_t cap = 0;
	int first = 1, rc;
	memset(adv, 0, sizeof(*adv));
	for (;;) {
		grove__pkt pkt;
		size_t len;
		const char *d, *nul, *sp;
		grove_oid id;
		if ((rc = grove__nconn_read_pkt(c, &pkt)) < 0)
			return rc;
		if (pkt.kind == GROVE__PKT_FLUSH)
			return 0;
		if (pkt.kind != GROVE__PKT_DATA)
			return grove__nconn_fail(c, GROVE_EIO, "protocol error: unexpected packet in the advertisement");
		d = pkt.data;
		len = grove__pkt_chomp(d, pkt.len);
		if (len >= 4 && !memcmp(d, "ERR ", 4))
			return grove__nconn_fail(c, GROVE_EIO, "remote error: %.*s", (int)(len - 4 > 300 ? 300 : len - 4), d + 4);
		if (first && len >= 7 && !memcmp(d, "version", 7))
			continue; /* "version 1": same format follows */
		if (len < GROVE_OID_HEXSZ + 2 || d[GROVE_OID_HEXSZ] != ' ' ||
		    grove_oid_fromhex(&id, d) < 0) {
			grove_error_clear();
			return grove__nconn_fail(c, GROVE_EIO, "protocol error: bad advertisement line");
		}
		nul = memchr(d, '\0', len);
		if (first && nul && !(adv->caps = grove__strndup(nul + 1, len - (size_t)(nul + 1 - d))))
			return GROVE_ENOMEM;
		first = 0;
		sp = d + GROVE_OID_HEXSZ + 1;
		len = (size_t)((nul ? nul : d + len) - sp);
		if (len >= 15 && !memcmp(sp, "capabilities^{}", 15))
			continue; /* an empty repository */
		if (len > 3 && !memcmp(sp + len - 3, "^{}", 3))
			continue;
		if ((rc = adv_add(adv, &cap, &id, sp, len)) < 0)
			return rc;
	}
}
