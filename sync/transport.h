/*
 * The client side of the git protocol, for fetch and push.
 *
 * Decision: libgit2 (1.5) is the client for http:// and https:// (and for
 * file:// when git is not on PATH, local paths, and every URL but ssh
 * under GROVE_SYNC_LIBGIT2=1), rather than our own client over
 * git/pktline: https (TLS, proxies, redirects, Basic/Negotiate auth) is a
 * project of its own, and libgit2 is already a dependency with all of it.
 * What libgit2 lacks is a way to work on a grove store, so a session gives
 * it one, cheaply:
 *
 *  - an object database whose only backend is the grove store (lg2_odb.c):
 *    reads and existence checks go to the store, so negotiation ("have"
 *    lines), the fast-forward checks of push and the pack builder see
 *    exactly the store's objects, and nothing is copied;
 *  - the backend's writepack takes the pack libgit2 receives and streams it
 *    into grove__pack_indexer, so a fetched history is stored as the pack's
 *    records with their deltas kept (thin packs resolve bases from the
 *    store).  No .pack/.idx file is written and objects are not indexed
 *    twice;
 *  - refs: an in-memory ref database (lg2_refdb.c) holding the store's
 *    branches, tracking refs and tags (libgit2 walks them to say "have")
 *    and the refs a push names; the repository itself is
 *    git_repository_new's, so nothing is created on disk;
 *  - its sockets are grove's (lg2_stream.c), for the inactivity timeout
 *    and the cancel flag that libgit2 1.5 lacks.
 *
 * git://, file:// and ssh use grove's own client instead (native.h): pushed
 * packs reuse the store's deltas, and it needs neither libgit2's TLS init
 * nor its pack builder.  file:// talks to git's upload-pack/receive-pack;
 * ssh runs the OpenSSH client (native_ssh.c), because libgit2's ssh
 * (libssh2) checked no host key and, reading its socket itself, could not
 * time out a server that went silent mid-session.  libgit2 still picks its
 * ssh for a URL native.h leaves to it that has a ':' and no scheme (an
 * existing local path named "host:path"); such a session fails at once
 * (lg2_stream.c gives libssh2 no socket; transport.c would also refuse
 * any ssh host key).
 *
 * Costs over libgit2: push builds its pack with libgit2's pack builder,
 * which reads full objects from the store and recomputes deltas
 * (grove__pack_write's reuse of stored deltas is not used there); fetch is
 * one pass of grove__pack_index over the received pack.
 *
 * Measured when libgit2 still carried every transport, on libgit2's own
 * history (16k commits on main, 135k objects, 417 refs; release build, one
 * machine):
 *   clone over git:// from `git daemon`   10.0 s, 186 MB peak; store 82 MB
 *     with 95,886 objects kept as deltas (git clone --bare: 21.9 s, 76 MB)
 *   no-op fetch                            0.4 s
 *   push of main to an empty bare repo    37.8 s, 261 MB (libgit2 packbuilder)
 *   push of 100 new commits                0.2 s
 *   clone over file://                   179 s, 462 MB: libgit2's local
 *     transport builds the pack itself and recomputes every delta (this is
 *     why file:// now goes through git upload-pack, native.h).
 */
#ifndef GROVE_SYNC_TRANSPORT_H
#define GROVE_SYNC_TRANSPORT_H

#include "backend.h"
#include "grove.h"

typedef struct {
	char *name;     /* "refs/heads/main", "HEAD", "refs/tags/v1" */
	grove_oid id;
} grove__remote_ref;

typedef struct grove__transport grove__transport;

/*
 * Connects to url for fetching (push 0) or pushing (1).  what names the
 * operation in messages ("fetch from 'origin'").  Errors are redacted:
 * no password, token or URL userinfo in any message.
 */
int grove__transport_connect(grove__transport **out, grove *g, const char *url, int push,
	const char *what, const grove_sync_opts *opts);

/* The remote's refs (peeled "^{}" entries left out) and the branch its
 * HEAD names ("refs/heads/main") or NULL.  Valid until close. */
int grove__transport_refs(grove__transport *t, const grove__remote_ref **refs, size_t *count,
	const char **head);

/*
 * Downloads what the store lacks of the remote's branches and tags.  The
 * records (deltas kept) stay owned by the transport until close; nothing
 * is written to the store.
 */
int grove__transport_download(grove__transport *t, const grove__object **objects, size_t *count);

typedef struct {
	grove_oid src;       /* zeros: delete dst */
	const char *dst;     /* full ref on the remote */
	int force;
	char *status;        /* out: NULL accepted, else the remote's reason (free()) */
} grove__push_cmd;

/* Sends the updates; per-command outcome in status.  GROVE_ENOTFF when
 * the client-side fast-forward check fails. */
int grove__transport_push(grove__transport *t, grove__push_cmd *cmds, size_t count);

void grove__transport_close(grove__transport *t);

#endif
