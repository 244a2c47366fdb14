/*
 * The socket under libgit2's http and https transports (and git:// under
 * GROVE_SYNC_LIBGIT2=1), with an inactivity timeout and the caller's
 * cancel flag.
 *
 * Why: libgit2 1.5 has no server timeout (GIT_OPT_SET_SERVER_TIMEOUT came
 * in 1.7); its socket stream does blocking connect/recv/send, so a remote
 * that accepts and then says nothing blocks a fetch, a push and the served
 * store's background sync forever.  libgit2 builds every network stream
 * through git_socket_stream_new, which takes a stream registered for
 * GIT_STREAM_STANDARD: the http transport directly, https through its TLS
 * stream (mbedTLS or OpenSSL wraps the standard stream and does its I/O
 * through our read/write, so certificates are still checked by libgit2).
 * Ours waits in poll() ticks: no byte for timeout_ms -> "the remote did
 * not answer for N s".
 *
 * ssh is not libgit2's: it runs the OpenSSH client under grove's own
 * client (native_ssh.c), whose waits the timeout and cancel flag cover.
 * libgit2 1.5 would still pick its ssh transport for a URL with a ':' and
 * no scheme that native.h leaves to it (an existing local path named
 * "host:path", transport.h), and that transport hands libssh2 the socket
 * it finds after parent, host and port in libgit2's own socket stream,
 * to read and write directly, beyond our timeout and cancel flag.  Our
 * stream keeps that layout with -1 in that place, so libssh2 fails at
 * once and never talks on the connection.
 */
#ifndef GROVE_SYNC_LG2_STREAM_H
#define GROVE_SYNC_LG2_STREAM_H

/* Per operation: what the streams created during it obey, and what
 * happened to them.  Owned by the caller; must outlive the streams. */
typedef struct {
	unsigned timeout_ms;             /* 0: none */
	const volatile int *cancel;      /* may be NULL */
	int timed_out, cancelled;        /* out */
	char message[160];               /* out: the timeout's message */
} grove__lg2_stream_ctx;

/* Registers the stream with libgit2 (after each git_libgit2_init: a full
 * shutdown forgets it). */
int grove__lg2_stream_register(void);

/* Streams created on this thread from now on use ctx (NULL: the default
 * timeout, no cancel flag).  Set it around libgit2 calls that connect. */
void grove__lg2_stream_use(grove__lg2_stream_ctx *ctx);

#endif
