/*
 * dav_git_user.h - per-user git access to the DAV store (internal).
 *
 * The DAV branch holds every user's data under <user>/, so it cannot be
 * cloned by a single user.  Each user gets a projection instead, in the
 * spirit of `git subtree split`:
 *
 *   refs/grove/users/<U>/head    the projected history: one commit per
 *                                first-parent DAV commit in which <U>/
 *                                changed, whose tree is that commit's <U>/
 *                                tree, whose parent is the previous
 *                                projected commit, and whose author,
 *                                committer and message are the source
 *                                commit's (so the ids depend only on the
 *                                DAV history: deriving twice, or afresh,
 *                                gives the same commits);
 *   refs/grove/users/<U>/source  the DAV commit derived up to.
 *
 * Deriving is lazy and incremental: whenever the user's git view reads its
 * refs, the DAV commits after `source` are projected.  Both refs move
 * together by compare-and-swap, so concurrent derivations (or a push) can
 * never interleave.  If `source` is no longer on the branch's first-parent
 * history (the branch was rewritten), the projection starts afresh.
 *
 * The user's view (grove__dav_user_view_open) is a store handle that shares
 * the DAV store's objects and shows exactly one ref, refs/heads/main (HEAD
 * points at it), the projection.  git's upload-pack on it refuses wants
 * not reachable from that ref.  A push to it (fast-forward only, checked
 * by dav_git.c) is applied to the DAV branch as one commit that sets <U>/
 * to the pushed tree; the projection ref then points at the pushed commit
 * and `source` at the new DAV commit, all in one atomic ref update.  If
 * the DAV branch moved meanwhile, the commit is rebuilt on the new head,
 * unless <U>/ itself changed (then the push is refused as stale): other
 * users' data is never touched.
 *
 * What the view does not hide: objects are shared, so a client that
 * already knows an object id (i.e. knows the content) can learn whether
 * the store has it (an ACK to a "have", v2 object-info's size), as with
 * any git server whose repositories share one object store.  It can never
 * fetch it, nor make it reachable from its projection by naming it in a
 * push (dav_git_user_check.c).
 */
#ifndef GROVE_NET_DAV_GIT_USER_H
#define GROVE_NET_DAV_GIT_USER_H

#include <stddef.h>

#include "grove.h"

#define DAV_GIT_USER_HEAD_FMT "refs/grove/users/%s/head"
#define DAV_GIT_USER_SOURCE_FMT "refs/grove/users/%s/source"
/* The one branch a user's view shows. */
#define DAV_GIT_USER_BRANCH_REF "refs/heads/main"

/* The two refs of user's projection; GROVE_EINVALID when the user name
 * does not make valid ref names. */
int grove__dav_user_refs(const char *user, char *head, char *source, size_t size);

/*
 * Brings user's projection of branch (NULL: "main") up to date.  *head is
 * the projection's tip, all zeros while the user has no data.  Thread-safe
 * (compare-and-swap on the refs).
 */
int grove__dav_user_project(grove *g, const char *branch, const char *user, grove_oid *head);

/* The commit a projection makes of source commit `src` (tree and parent
 * given; parent NULL for none): exposed for tests. */
int grove__dav_user_project_commit(grove *g, const grove_oid *src, const grove_oid *tree,
	const grove_oid *parent, grove_oid *out);

/*
 * A store handle showing user's projection of g's branch as refs/heads/main
 * (see above).  It shares g's object and tree caches (same objects, so no
 * second cache budget per user).  g must outlive it; close it with
 * grove__dav_user_view_close, never grove_close.
 */
int grove__dav_user_view_open(grove **out, grove *g, const char *branch, const char *user);
void grove__dav_user_view_close(grove *view);
/* The user a handle from grove__dav_user_view_open serves; NULL for any
 * other handle. */
const char *grove__dav_user_view_user(grove *view);
/* The DAV store behind a view (NULL for any other handle). */
grove *grove__dav_user_view_store(grove *view);

#endif
