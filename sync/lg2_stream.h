/*
 * The socket under libgit2's http, https, ssh (and git://) transports,
 * with an inactivity timeout and the caller's cancel flag.
 *
 * Why: libgit2 1.5 has no server timeout (GIT_OPT_SET_SERVER_TIMEOUT came
 * in 1.7); its socket stream does blocking connect/recv/send, so a remote
 * that accepts and then says nothing blocks a fetch, a push and the served
 * store's background sync forever.  libgit2 builds every network stream
 * through git_socket_stream_new, which takes a stream registered for
 * GIT_STREAM_STANDARD: the http transport directly, https through its TLS
 * stream (OpenSSL wraps the standard stream and does its I/O through our
 * read/write, so certificates are still checked by libgit2), ssh for its
 * TCP connection.  Ours waits in poll() ticks: no byte for timeout_ms ->
 * "the remote did not answer for N s".
 *
 * ssh: libgit2 1.5 hands the socket itself to libssh2 (it reads the field
 * after parent, host and port, which is why our stream keeps that layout)
 * and libssh2 then reads and writes it directly, waiting without limit
 * (libssh2_session_set_timeout is not reachable through libgit2 1.5).  A
 * watchdog thread per such socket shuts it down when the cancel flag is
 * set, or when the server has sent nothing at all for the timeout (an ssh
 * server's banner comes at once).  Silence later in an ssh session is not
 * judged (the client may be busy building a pack while the server waits);
 * TCP_USER_TIMEOUT and keepalives catch a peer that is gone.
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
