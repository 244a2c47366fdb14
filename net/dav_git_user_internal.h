/* dav_git_user_internal.h - what the per-user git view files share:
 * the push checks (dav_git.c, dav_git_user_check.c) and a ref helper. */
#ifndef GROVE_NET_DAV_GIT_USER_INTERNAL_H
#define GROVE_NET_DAV_GIT_USER_INTERNAL_H

#include "dav_git_user.h"

struct grove__receive;

/* A ref's value in g; zeros when it does not exist (dav_git_user_project.c). */
int grove__dav_user_ref_or_zero(grove *g, const char *ref, grove_oid *out);

/*
 * 0 when everything new_tip reaches is either in the push or reachable
 * from old_head (the user's projection, zeros/NULL for none) in store;
 * 1 when the push refers to anything else (another user's objects); < 0
 * on error.  *fast_forward: whether new_tip descends from old_head (an
 * ancestor of new_tip reached only through objects already in the store
 * would be one of them, and so reachable from old_head: that is old_head).
 */
int grove__dav_user_push_closed(struct grove__receive *rp, grove *store, const grove_oid *old_head,
	const grove_oid *new_tip, int *fast_forward);

#endif
