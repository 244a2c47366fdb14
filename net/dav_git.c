/* dav_git.c - who may use git on the DAV store, and what a push may bring
 * into it (see dav_git.h). */
#include "dav_git.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/receive_pack_internal.h"
#include "dav_git_user_internal.h"
#include "dav_internal.h"
#include "error.h"
#include "object.h"

struct grove__dav_git_views {
	struct grove__dav_git_views *next;
	char *user;
	grove *view;
};

void grove__dav_git_dispose(grove__dav_git *dg)
{
	while (dg && dg->views) {
		struct grove__dav_git_views *v = dg->views;
		dg->views = v->next;
		grove__dav_user_view_close(v->view);
		free(v->user);
		free(v);
	}
}

/* The view of user's data, made once and kept (loop thread only). */
static int user_view(grove__dav_git *dg, const char *user, grove **out)
{
	struct grove__dav_git_views *v;
	for (v = dg->views; v; v = v->next) {
		if (!strcmp(v->user, user)) {
			*out = v->view;
			return 0;
		}
	}
	if (!(v = calloc(1, sizeof(*v))) || !(v->user = strdup(user))) {
		free(v);
		return 500;
	}
	if (grove__dav_user_view_open(&v->view, dg->g, dg->branch, user) < 0) {
		free(v->user);
		free(v);
		return 404; /* a name that cannot be served is no repository */
	}
	v->next = dg->views;
	dg->views = v;
	*out = v->view;
	return 0;
}

/* "users/<name>" or "users/<name>.git" names user's repository? */
static int names_user(const char *name, const char *user)
{
	size_t dl = strlen(DAV_GIT_USERS_DIR), ul = strlen(user);
	if (strncmp(name, DAV_GIT_USERS_DIR, dl) != 0)
		return 0;
	name += dl;
	if (strncmp(name, user, ul) != 0)
		return 0;
	return !name[ul] || !strcmp(name + ul, ".git");
}

int grove__dav_git_open(void *arg, const char *name, const char *user, int receive,
	grove **out)
{
	grove__dav_git *dg = arg;
	(void)receive;
	if (!strncmp(name, DAV_GIT_USERS_DIR, strlen(DAV_GIT_USERS_DIR))) {
		if (!user)
			return 401;
		/* Another user's repository does not exist for you (404, not
		 * 403: not even whether that user has one is told). */
		if (!names_user(name, user))
			return 404;
		return user_view(dg, user, out);
	}
	if (strcmp(name, DAV_GIT_STORE_NAME) != 0 && strcmp(name, DAV_GIT_STORE_NAME ".git") != 0)
		return 404;
	if (!user)
		return 401;
	for (size_t i = 0; i < dg->admin_count; i++) {
		if (!strcmp(dg->admins[i], user)) {
			*out = dg->g;
			return 0;
		}
	}
	/* The branch holds everyone's data: not for a single user. */
	return 403;
}

/* ---- validating a pushed tree ---------------------------------------------- */

typedef struct {
	grove__receive *rp;
	char *reason;      /* set on the first invalid file */
	char path[1024];
} check_ctx;

static int read_tree(check_ctx *cx, const grove_oid *id, grove__tree **out)
{
	grove_buf b = { 0 };
	grove_otype type;
	int rc = grove__receive_read_object(cx->rp, id, &type, &b);
	if (rc < 0)
		return rc;
	if (type != GROVE_OBJ_TREE)
		rc = grove__error_set(GROVE_ECORRUPT, "expected a tree");
	else
		rc = grove__tree_parse(id, b.data, b.size, out);
	grove_buf_dispose(&b);
	return rc;
}

static int refuse(check_ctx *cx, const char *what, const char *msg)
{
	size_t n = strlen(cx->path) + strlen(what) + strlen(msg) + 32;
	cx->reason = malloc(n);
	if (!cx->reason)
		return grove__error_set(GROVE_ENOMEM, "out of memory");
	snprintf(cx->reason, n, "invalid %s in %s: %s", what, cx->path, msg);
	return 1;
}

/* One new or changed object of a collection. */
static int check_object(check_ctx *cx, grove__dav_family fam, const grove__tree_entry *e)
{
	grove_buf b = { 0 };
	grove_otype type;
	const char *cond = NULL;
	int rc;
	if ((rc = grove__receive_read_object(cx->rp, &e->id, &type, &b)) < 0)
		return rc;
	if (type != GROVE_OBJ_BLOB)
		rc = refuse(cx, fam == DAV_CAL ? "calendar object" : "vCard", "not a file");
	else if (fam == DAV_CAL)
		rc = grove__caldav_validate(b.data, b.size, NULL, &cond, NULL) < 0
			? refuse(cx, "iCalendar", grove_error_message()) : 0;
	else
		rc = grove__carddav_validate(b.data, b.size, &cond) < 0
			? refuse(cx, "vCard", grove_error_message()) : 0;
	grove_buf_dispose(&b);
	return rc;
}

/*
 * Walks the new tree at depth (0 root: users, 1 user: calendars /
 * addressbooks, 2 home: collections, 3 collection: objects), skipping
 * entries whose id is the same as in the old tree.  Returns 0, 1 (refused,
 * cx->reason set) or a negative code.
 */
static int walk(check_ctx *cx, const grove_oid *new_id, const grove_oid *old_id, int depth,
	grove__dav_family fam)
{
	grove__tree *nt = NULL, *ot = NULL;
	size_t plen = strlen(cx->path);
	int rc = read_tree(cx, new_id, &nt);
	if (rc == 0 && old_id)
		rc = read_tree(cx, old_id, &ot);
	for (size_t i = 0; rc == 0 && nt && i < nt->count; i++) {
		const grove__tree_entry *e = &nt->entries[i];
		grove__dav_family f = fam;
		long at = ot ? grove__tree_find(ot, e->name, e->name_len) : -1;
		const grove__tree_entry *old = at >= 0 ? &ot->entries[at] : NULL;
		if (old && grove_oid_cmp(&old->id, &e->id) == 0 && old->mode == e->mode)
			continue;
		if (e->name[0] == '.')
			continue; /* .props and other hidden files: never served as objects */
		if (depth == 1) {
			if (!strcmp(e->name, "calendars"))
				f = DAV_CAL;
			else if (!strcmp(e->name, "addressbooks"))
				f = DAV_CARD;
			else
				continue; /* not part of the DAV model */
		}
		if (plen + e->name_len + 2 > sizeof(cx->path)) {
			rc = refuse(cx, "path", "too long");
			break;
		}
		snprintf(cx->path + plen, sizeof(cx->path) - plen, "%s%s", plen ? "/" : "", e->name);
		int is_tree = e->mode == GROVE_MODE_TREE;
		if (depth < 3 && is_tree) {
			const grove__tree_entry *old_tree =
				old && old->mode == GROVE_MODE_TREE ? old : NULL;
			rc = walk(cx, &e->id, old_tree ? &old_tree->id : NULL, depth + 1, f);
		} else if (depth == 3) {
			rc = check_object(cx, fam, e);
		}
		cx->path[plen] = '\0';
	}
	grove__tree_free(nt);
	grove__tree_free(ot);
	return rc;
}

static int commit_tree(grove__receive *rp, const grove_oid *id, grove_oid *tree)
{
	grove_buf b = { 0 };
	grove_otype type;
	grove_commit *c = NULL;
	int rc = grove__receive_read_object(rp, id, &type, &b);
	if (rc < 0)
		return rc;
	if (type != GROVE_OBJ_COMMIT)
		rc = grove__error_set(GROVE_ECORRUPT, "expected a commit");
	else if ((rc = grove__commit_parse(id, b.data, b.size, &c)) == 0)
		*tree = c->tree;
	grove_commit_free(c);
	grove_buf_dispose(&b);
	return rc;
}

/* Checks the new and changed files of a push: walk from the depth the
 * pushed tree starts at (0: the whole store, 1: one user's data). */
static int check_files(grove__receive *rp, const grove_oid *old_id, const grove_oid *new_id,
	int depth, char **reason)
{
	grove_oid new_tree, old_tree;
	int rc, have_old = old_id && !grove_oid_is_zero(old_id);
	check_ctx cx = { rp, NULL, "" };
	if ((rc = commit_tree(rp, new_id, &new_tree)) < 0)
		return rc;
	if (have_old && commit_tree(rp, old_id, &old_tree) < 0)
		have_old = 0; /* old head unreadable: check everything */
	rc = walk(&cx, &new_tree, have_old ? &old_tree : NULL, depth, DAV_CAL);
	if (rc == 1)
		*reason = cx.reason;
	else
		free(cx.reason);
	return rc;
}

static int refuse_with(char **reason, const char *text)
{
	if (!(*reason = strdup(text)))
		return grove__error_set(GROVE_ENOMEM, "out of memory");
	return 1;
}

/* A push to a user's repository (see dav_git_user.h). */
static int check_user_push(grove__receive *rp, const char *refname, const grove_oid *old_id,
	const grove_oid *new_id, char **reason)
{
	int rc, ff = 0;
	if (strcmp(refname, DAV_GIT_USER_BRANCH_REF) != 0)
		return refuse_with(reason, "only refs/heads/main can be pushed to your repository");
	rc = grove__dav_user_push_closed(rp, grove__dav_user_view_store(rp->g), old_id, new_id, &ff);
	if (rc == 0 && !ff) /* even when the server allows forced pushes elsewhere */
		return refuse_with(reason, "non-fast-forward");
	if (rc == 1)
		return refuse_with(reason,
			"the pushed history refers to objects that are not in your repository");
	if (rc < 0)
		return rc;
	return check_files(rp, old_id, new_id, 1, reason);
}

int grove__dav_git_check(void *arg, grove__receive *rp, const char *refname,
	const grove_oid *old_id, const grove_oid *new_id, char **reason)
{
	grove__dav_git *dg = arg;
	const char *branch = dg->branch ? dg->branch : "main";

	if (grove__dav_user_view_user(rp->g))
		return check_user_push(rp, refname, old_id, new_id, reason);
	if (strncmp(refname, "refs/heads/", 11) != 0 || strcmp(refname + 11, branch) != 0)
		return 0; /* only the DAV branch is served as calendars and contacts */
	return check_files(rp, old_id, new_id, 0, reason);
}
