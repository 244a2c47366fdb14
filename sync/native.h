/*
 * grove's own client for git://, file:// and ssh remotes
 * (gitprotocol-pack v0), used for fetch and push instead of libgit2.
 *
 * Why: a libgit2 push costs, per invocation, the CA bundle parse of its
 * TLS init (even for git://), a scratch repository on disk for its refs,
 * a pack built by its packbuilder (full objects read back from the store
 * and every delta recomputed) and one send() per pack entry.  Here the
 * pack comes from grove's upload-pack engine (the store's deltas reused,
 * a thin pack against what the remote advertised), written through one
 * buffer; a fetch's pack goes from the socket into the pack indexer.
 * Nothing touches the disk and libgit2 is not initialised.
 *
 * Transports: git:// is a TCP connection; file:// runs git's upload-pack /
 * receive-pack over a socket pair (libgit2's local transport builds every
 * pack itself, recomputing all deltas); ssh (ssh://, git+ssh://,
 * ssh+git://, scp-like [user@]host:path) runs the OpenSSH client over a
 * socket pair, which runs git-upload-pack / git-receive-pack on the remote
 * (native_ssh.c: host keys checked by ssh against known_hosts, and the
 * inactivity timeout and cancellation cover the whole session, which
 * libssh2 inside libgit2 could not).  Only https and http stay on libgit2
 * (transport.h): TLS, proxies, redirects and HTTP auth.
 */
#ifndef GROVE_SYNC_NATIVE_H
#define GROVE_SYNC_NATIVE_H

#include <stdint.h>
#include <sys/types.h>

#include "grove.h"
#include "../git/pktline.h"
#include "sbuf.h"
#include "transport.h"

/* 1 if url is handled here: ssh URLs always; git://host[:port]/path, and
 * file:///path when git is on PATH (git upload-pack / receive-pack run on
 * the repository, as git's own client does), unless the environment says
 * GROVE_SYNC_LIBGIT2=1 (libgit2's ssh is not used any more: it checked no
 * host key). */
int grove__native_handles(const char *url);

/* The inactivity timeout of one transfer in ms (timeout.c): opts->timeout_secs
 * when set, else $GROVE_SYNC_TIMEOUT, else the default (0: none). */
unsigned grove__sync_opts_timeout_ms(const grove_sync_opts *opts);

/* --- ssh (native_ssh.c) ---------------------------------------------------- */

typedef struct {
	char *user;   /* NULL: ssh's default (config, login name) */
	char *host;   /* without [] */
	char *port;   /* NULL: ssh's default */
	char *path;   /* as the remote git program gets it ("~/x", "/srv/r.git") */
} grove__ssh_target;

/* 1 for ssh://, git+ssh://, ssh+git:// and scp-like [user@]host:path (a
 * ':' before any '/', as git reads it). */
int grove__ssh_is_url(const char *url);
/* GROVE_EINVALID with a clear message for a URL without host or path, a
 * host or user starting with '-', a bad port, a path with a single quote
 * or a control character. */
int grove__ssh_parse(const char *url, grove__ssh_target *t);
void grove__ssh_target_dispose(grove__ssh_target *t);
/* "git-upload-pack '/path'" for the remote shell (free()). */
int grove__ssh_remote_command(const char *service, const char *path, char **out);

typedef struct {
	char **argv;  /* NULL-terminated */
	size_t argc;
} grove__ssh_argv;

/*
 * The argv that runs service on t's host: ssh -o BatchMode=yes -T [-p PORT]
 * [-i KEY -o IdentitiesOnly=yes] [-l USER] -- HOST "SERVICE 'PATH'".
 * key: NULL or "" for ssh's defaults (agent, config).  command (the value
 * of $GROVE_SSH_COMMAND or $GIT_SSH_COMMAND, NULL for none) replaces "ssh"
 * and runs through /bin/sh as git runs it, the same arguments after it.
 * askpass: a passphrase comes from an askpass helper that the caller sets
 * up with SSH_ASKPASS_REQUIRE=force (no BatchMode then: it would stop ssh
 * from asking; the forced helper still keeps ssh off the terminal).
 */
int grove__ssh_build_argv(const grove__ssh_target *t, const char *service, const char *key,
	const char *command, int askpass, grove__ssh_argv *out);
void grove__ssh_argv_dispose(grove__ssh_argv *a);

/* --- connection (native_conn.c) ------------------------------------------ */

typedef struct {
	int fd;
	pid_t pid;               /* file://, ssh: the program at the other end, */
	int errfd;               /* its stderr (-1: none), */
	char errtxt[512];        /* and the last of what it said there */
	size_t errlen;
	const grove_sync_opts *opts;
	const char *what;        /* "push to 'origin'" */
	char *shown_url;         /* redacted, for messages */
	grove__sbuf out;         /* buffered output, sent by conn_flush */
	char in[65536];
	size_t in_len, in_off;
	int eof;
	grove__pkt_reader rd;
	uint64_t sent;           /* bytes written to the socket */
	unsigned timeout_ms;     /* silence from the remote we accept (0: none) */
	int ssh;                 /* the child is ssh (its own process group) */
	int abort_child;         /* timed out / cancelled: kill, do not wait */
	char *askpass_dir;       /* ssh with a passphrase: the helper's directory */
} grove__nconn;

/* Connects to a git:// URL and sends the service request
 * ("git-receive-pack /path\0host=HOST\0"), or starts the program that
 * speaks the service for a file:// or ssh URL. */
int grove__nconn_open(grove__nconn *c, const char *url, const char *service, const char *what,
	const grove_sync_opts *opts);
void grove__nconn_close(grove__nconn *c);

/* Sets "WHAT (URL): message" and returns code. */
int grove__nconn_fail(grove__nconn *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Buffered output: put appends (flushing when the buffer is large),
 * flush sends everything. */
int grove__nconn_put(grove__nconn *c, const void *data, size_t len);
int grove__nconn_flush(grove__nconn *c);

/* The next packet (flushes pending output first).  EOF before a packet is
 * an error ("the remote hung up"). */
int grove__nconn_read_pkt(grove__nconn *c, grove__pkt *out);

/* Reads what the socket has into in[] (waits; sets eof at the end).
 * Waiting longer than timeout_ms fails with GROVE_EIO, "the remote did not
 * answer for N s"; sending likewise when the remote stops reading. */
int grove__nconn_fill(grove__nconn *c);

/* Polls the cancel flag: GROVE_ERROR "cancelled" once it is set. */
int grove__nconn_check_cancel(grove__nconn *c);

/* --- the remote's advertisement (v0) --------------------------------------- */

typedef struct {
	grove__remote_ref *refs;
	size_t count;
	char *caps;              /* the capability list of the first line */
} grove__nadv;

int grove__nadv_read(grove__nconn *c, grove__nadv *adv);
/* 1 if the advertisement names capability cap (exactly, or "cap=..."). */
int grove__nadv_has_cap(const grove__nadv *adv, const char *cap);
void grove__nadv_dispose(grove__nadv *adv);

/* --- push (native_push.c) ------------------------------------------------- */

/*
 * Sends cmds to url (git://) as grove__transport_push does: per-command
 * outcome in status, GROVE_ENOTFF (nothing sent) when an update is not a
 * fast-forward and not forced.
 */
int grove__native_push(grove *g, const char *url, const char *what, const grove_sync_opts *opts,
	grove__push_cmd *cmds, size_t count);

/* --- fetch (native_fetch.c), behind grove__transport_* ---------------------- */

typedef struct grove__nfetch grove__nfetch;

int grove__native_fetch_connect(grove__nfetch **out, grove *g, const char *url, const char *what,
	const grove_sync_opts *opts);
void grove__native_fetch_refs(grove__nfetch *f, const grove__remote_ref **refs, size_t *count,
	const char **head);
/* Records owned by f until close; nothing written to the store. */
int grove__native_fetch_download(grove__nfetch *f, const grove__object **objects, size_t *count);
void grove__native_fetch_close(grove__nfetch *f);

#endif
