/*
 * dav_git.h - git smart HTTP on the CalDAV/CardDAV store (internal).
 *
 * `grove serve` puts DAV and git on one store.  A git clone carries every
 * object its commits reach, and the DAV branch's tree holds every user's
 * data (<user>/calendars/..., <user>/addressbooks/...).  Two kinds of URL:
 *
 *   PREFIX"store" (or "store.git"): the whole branch, for the
 *     administrators named at start-up only; any other authenticated user
 *     gets 403.
 *   PREFIX"users/<U>" (or "users/<U>.git"): user U's own data, for U only
 *     (anyone else: 404).  It shows one branch, main (HEAD), whose commits
 *     have the tree of <U>/ (calendars/..., addressbooks/...): U's
 *     projection of the DAV branch, derived lazily (dav_git_user.h).
 *     Pushes are fast-forward only, must refer only to objects U can see,
 *     and are applied to the DAV branch as one commit replacing <U>/.
 *
 * Any other name is 404.  Pushes are checked before anything is written:
 * every calendar object (calendars/<cal>/<name>) and vCard
 * (addressbooks/<book>/<name>) that is new or changed must pass the same
 * validation as a DAV PUT; the refusal names the file.  Since the DAV
 * server reads the branch head on every request, an accepted push is what
 * the next DAV request sees.
 */
#ifndef GROVE_NET_DAV_GIT_H
#define GROVE_NET_DAV_GIT_H

#include <stddef.h>

#include "grove.h"

struct grove__receive;

#define DAV_GIT_STORE_NAME "store"
#define DAV_GIT_USERS_DIR "users/"

struct grove__dav_git_views;

typedef struct {
	grove *g;                    /* the DAV store (borrowed) */
	const char *branch;          /* the DAV branch; NULL: "main" */
	const char *const *admins;   /* users with git access (borrowed) */
	size_t admin_count;
	struct grove__dav_git_views *views; /* per-user views, made on demand */
} grove__dav_git;

/* Closes the per-user views (after the server stopped). */
void grove__dav_git_dispose(grove__dav_git *dg);

/* grove__git_http_config.open_store with arg = grove__dav_git *. */
int grove__dav_git_open(void *arg, const char *name, const char *user, int receive,
	grove **out);
/* grove__git_http_config.check_update with arg = grove__dav_git *. */
int grove__dav_git_check(void *arg, struct grove__receive *rp, const char *refname,
	const grove_oid *old_id, const grove_oid *new_id, char **reason);

#endif
