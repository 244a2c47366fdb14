/*
 * dav_git.h - git smart HTTP on the CalDAV/CardDAV store (internal).
 *
 * `grove serve` puts DAV and git on one store.  A git clone carries every
 * object its commits reach, and the DAV branch's tree holds every user's
 * data (<user>/calendars/..., <user>/addressbooks/...), so a per-user git
 * URL on that branch would leak other users' events.  The rule is
 * therefore: the store is served at PREFIX"store" (or "store.git") to the
 * administrators named at start-up only; any other authenticated user gets
 * 403, any other name 404.  DAV keeps its per-user isolation.
 *
 * Pushes to the DAV branch are checked before anything is written: every
 * calendar object (<user>/calendars/<cal>/<name>) and vCard
 * (<user>/addressbooks/<book>/<name>) that is new or changed must pass the
 * same validation as a DAV PUT; the refusal names the file.  Since the DAV
 * server reads the branch head on every request, an accepted push is what
 * the next DAV request sees.
 */
#ifndef GROVE_NET_DAV_GIT_H
#define GROVE_NET_DAV_GIT_H

#include <stddef.h>

#include "grove.h"

struct grove__receive;

#define DAV_GIT_STORE_NAME "store"

typedef struct {
	grove *g;                    /* the DAV store (borrowed) */
	const char *branch;          /* the DAV branch; NULL: "main" */
	const char *const *admins;   /* users with git access (borrowed) */
	size_t admin_count;
} grove__dav_git;

/* grove__git_http_config.open_store with arg = grove__dav_git *. */
int grove__dav_git_open(void *arg, const char *name, const char *user, int receive,
	grove **out);
/* grove__git_http_config.check_update with arg = grove__dav_git *. */
int grove__dav_git_check(void *arg, struct grove__receive *rp, const char *refname,
	const grove_oid *old_id, const grove_oid *new_id, char **reason);

#endif
