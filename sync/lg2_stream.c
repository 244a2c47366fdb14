/* A socket stream for libgit2 with an inactivity timeout (lg2_stream.h). */
#include "lg2_stream.h"

#include <errno.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sync_internal.h"

/* How often a wait wakes up to look at the cancel flag. */
#define POLL_MS 200

typedef struct {
	/* The layout of libgit2's own socket stream up to its socket, which
	 * libgit2's ssh transport takes from here and hands to libssh2: always
	 * -1, so that libssh2 fails at once instead of talking on our socket
	 * (lg2_stream.h). */
	git_stream parent;
	char *host;
	char *port;
	int not_for_libssh2;
	/* ours */
	int s;
	unsigned timeout_ms;
	const volatile int *cancel;
	grove__lg2_stream_ctx *ctx;
} lg2_stream;

static _Thread_local grove__lg2_stream_ctx *current_ctx;

void grove__lg2_stream_use(grove__lg2_stream_ctx *ctx)
{
	current_ctx = ctx;
}

static int cancelled(lg2_stream *st)
{
	if (!st->cancel || !*st->cancel)
		return 0;
	if (st->ctx)
		__atomic_store_n(&st->ctx->cancelled, 1, __ATOMIC_RELEASE);
	git_error_set_str(GIT_ERROR_NET, "cancelled");
	return 1;
}

static int timed_out(lg2_stream *st, uint64_t since_ms, const char *doing)
{
	char t[32], msg[160];
	if (!st->timeout_ms || grove__sync_now_ms() - since_ms < st->timeout_ms)
		return 0;
	grove__sync_timeout_text(st->timeout_ms, t, sizeof(t));
	if (doing)
		snprintf(msg, sizeof(msg), "%s: no answer for %s", doing, t);
	else
		snprintf(msg, sizeof(msg), "the remote did not answer for %s", t);
	if (st->ctx && !__atomic_load_n(&st->ctx->timed_out, __ATOMIC_ACQUIRE)) {
		snprintf(st->ctx->message, sizeof(st->ctx->message), "%s", msg);
		__atomic_store_n(&st->ctx->timed_out, 1, __ATOMIC_RELEASE);
	}
	git_error_set_str(GIT_ERROR_NET, msg);
	return 1;
}

/* Waits until fd is ready for events: 0, or -1 with libgit2's error set
 * (timeout counted from since_ms, cancel). */
static int wait_fd(lg2_stream *st, short events, uint64_t since_ms, const char *doing)
{
	for (;;) {
		struct pollfd pfd = { st->s, events, 0 };
		int ready = poll(&pfd, 1, POLL_MS);
		if (ready > 0)
			return 0;
		if (ready < 0 && errno != EINTR) {
			git_error_set(GIT_ERROR_NET, "poll failed: %s", strerror(errno));
			return -1;
		}
		if (cancelled(st) || timed_out(st, since_ms, doing))
			return -1;
	}
}

/* A peer that is gone (not one that is silent) is noticed by the kernel
 * too: keepalives, and unacknowledged data for the timeout ends the
 * connection (our own waits bound it anyway). */
static void keepalive(int fd, unsigned timeout_ms)
{
	int on = 1, idle, intvl = 5, cnt = 3;
	unsigned user = timeout_ms;
	if (!timeout_ms)
		return;
	idle = timeout_ms / 1000 > 1 ? (int)(timeout_ms / 1000) : 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user));
}

static int stream_connect(git_stream *stream)
{
	lg2_stream *st = (lg2_stream *)stream;
	struct addrinfo hints, *res = NULL, *ai;
	int gai, err = ECONNREFUSED;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(st->host, st->port, &hints, &res)) != 0) {
		git_error_set(GIT_ERROR_NET, "failed to resolve address for %s: %s", st->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		uint64_t since = grove__sync_now_ms();
		socklen_t len = sizeof(err);
		st->s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (st->s < 0) {
			err = errno;
			continue;
		}
		if (connect(st->s, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			err = errno;
		} else {
			char doing[300];
			snprintf(doing, sizeof(doing), "cannot connect to %s port %s", st->host, st->port);
			if (wait_fd(st, POLLOUT, since, doing) < 0) {
				close(st->s);
				st->s = -1;
				freeaddrinfo(res);
				return -1;
			}
			if (getsockopt(st->s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (!err)
				break;
		}
		close(st->s);
		st->s = -1;
	}
	freeaddrinfo(res);
	if (st->s < 0) {
		git_error_set(GIT_ERROR_NET, "cannot connect to %s port %s: %s", st->host, st->port, strerror(err));
		return -1;
	}
	/* The socket stays non-blocking: our reads and writes wait in poll()
	 * and use MSG_DONTWAIT; TLS does its I/O through them. */
	keepalive(st->s, st->timeout_ms);
	return 0;
}

static ssize_t stream_read(git_stream *stream, void *data, size_t len)
{
	lg2_stream *st = (lg2_stream *)stream;
	uint64_t since = grove__sync_now_ms();
	for (;;) {
		ssize_t n;
		if (wait_fd(st, POLLIN, since, NULL) < 0)
			return -1;
		n = recv(st->s, data, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			git_error_set(GIT_ERROR_NET, "error receiving data from the remote: %s", strerror(errno));
			return -1;
		}
	}
}

static ssize_t stream_write(git_stream *stream, const char *data, size_t len, int flags)
{
	lg2_stream *st = (lg2_stream *)stream;
	uint64_t since = grove__sync_now_ms();
	size_t done = 0;
	(void)flags;
	while (done < len) {
		ssize_t n = send(st->s, data + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			done += (size_t)n;
			since = grove__sync_now_ms();
			continue;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			git_error_set(GIT_ERROR_NET, "error sending data to the remote: %s", strerror(errno));
			return -1;
		}
		/* The remote takes nothing: its window is full. */
		if (errno != EINTR && wait_fd(st, POLLOUT, since, NULL) < 0)
			return -1;
	}
	return (ssize_t)len;
}

static int stream_close(git_stream *stream)
{
	lg2_stream *st = (lg2_stream *)stream;
	if (st->s >= 0)
		close(st->s);
	st->s = -1;
	return 0;
}

static void stream_free(git_stream *stream)
{
	lg2_stream *st = (lg2_stream *)stream;
	if (st->s >= 0)
		close(st->s);
	free(st->host);
	free(st->port);
	free(st);
}

static int stream_new(git_stream **out, const char *host, const char *port)
{
	lg2_stream *st = calloc(1, sizeof(*st));
	if (!st || !(st->host = strdup(host)) || !(st->port = strdup(port))) {
		if (st)
			free(st->host);
		free(st);
		git_error_set_oom();
		return -1;
	}
	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = stream_connect;
	st->parent.read = stream_read;
	st->parent.write = stream_write;
	st->parent.close = stream_close;
	st->parent.free = stream_free;
	st->not_for_libssh2 = -1;
	st->s = -1;
	st->ctx = current_ctx;
	st->timeout_ms = current_ctx ? current_ctx->timeout_ms : grove__sync_timeout_ms();
	st->cancel = current_ctx ? current_ctx->cancel : NULL;
	*out = &st->parent;
	return 0;
}

int grove__lg2_stream_register(void)
{
	git_stream_registration reg;
	memset(&reg, 0, sizeof(reg));
	reg.version = GIT_STREAM_VERSION;
	reg.init = stream_new;
	return git_stream_register(GIT_STREAM_STANDARD, &reg);
}
