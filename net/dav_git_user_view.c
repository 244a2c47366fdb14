/* dav_git_user_view.c - a user's git view of the DAV store, and how a push
 * to it lands on the DAV branch (see dav_git_user.h). */
#include "dav_git_user.h"
#include "dav_git_user_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "open_backend.h"
#include "store.h"

#define REF_MAX 512
#define MAX_ATTEMPTS 16

typedef struct {
	grove_backend be; /* first: the handle's backend pointer is this */
	grove *g;         /* the DAV store (borrowed) */
	char *branch;
	char *user;
	char branch_ref[REF_MAX], head_ref[REF_MAX], source_ref[REF_MAX];
} user_view;

static const grove__backend_ops view_ops, view_ops_raw;

static user_view *view_of(grove *h)
{
	if (!h || !h->be || (h->be->ops != &view_ops && h->be->ops != &view_ops_raw))
		return NULL;
	return (user_view *)h->be;
}

const char *grove__dav_user_view_user(grove *view)
{
	user_view *v = view_of(view);
	return v ? v->user : NULL;
}

grove *grove__dav_user_view_store(grove *view)
{
	user_view *v = view_of(view);
	return v ? v->g : NULL;
}

/* ---- objects: the DAV store's ---------------------------------------------- */

static grove_backend *under(grove_backend *be)
{
	return ((user_view *)be)->g->be;
}

static void v_close(grove_backend *be)
{
	user_view *v = (user_view *)be;
	free(v->branch);
	free(v->user);
	free(v);
}

static int v_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	grove_backend *u = under(be);
	return u->ops->read(u, id, type, out);
}

static int v_read_header(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size)
{
	grove_backend *u = under(be);
	return u->ops->read_header(u, id, type, size);
}

static int v_exists(grove_backend *be, const grove_oid *id)
{
	grove_backend *u = under(be);
	return u->ops->exists(u, id);
}

static int v_foreach_object(grove_backend *be, grove__oid_cb cb, void *payload)
{
	grove_backend *u = under(be);
	return u->ops->foreach_object(u, cb, payload);
}

static int v_read_raw(grove_backend *be, const grove_oid *id, grove__object *out, grove_buf *buf)
{
	grove_backend *u = under(be);
	return u->ops->read_raw(u, id, out, buf);
}

static int v_flush(grove_backend *be)
{
	grove_backend *u = under(be);
	return u->ops->flush(u);
}

static int v_stats(grove_backend *be, grove_stats *out)
{
	grove_backend *u = under(be);
	return u->ops->stats(u, out);
}

/* ---- refs: only the projection, as refs/heads/main -------------------------- */

static int v_ref_read(grove_backend *be, const char *refname, grove_oid *out)
{
	user_view *v = (user_view *)be;
	int rc;
	if (strcmp(refname, DAV_GIT_USER_BRANCH_REF) != 0)
		return grove__error_set(GROVE_ENOTFOUND, "no ref %s", refname);
	if ((rc = grove__dav_user_project(v->g, v->branch, v->user, out)) < 0)
		return rc;
	if (grove_oid_is_zero(out))
		return grove__error_set(GROVE_ENOTFOUND, "no ref %s", refname);
	return 0;
}

static int v_ref_foreach(grove_backend *be, const char *prefix, grove_ref_cb cb, void *payload)
{
	user_view *v = (user_view *)be;
	grove_oid head;
	int rc;
	if (strncmp(DAV_GIT_USER_BRANCH_REF, prefix, strlen(prefix)) != 0)
		return 0;
	if ((rc = grove__dav_user_project(v->g, v->branch, v->user, &head)) < 0)
		return rc;
	return grove_oid_is_zero(&head) ? 0 : cb(DAV_GIT_USER_BRANCH_REF, &head, payload);
}

static int v_head_read(grove_backend *be, char **target)
{
	(void)be;
	*target = grove__strdup(DAV_GIT_USER_BRANCH_REF);
	return *target ? 0 : GROVE_ENOMEM;
}

static int v_head_write(grove_backend *be, const char *target)
{
	(void)be;
	(void)target;
	return grove__error_set(GROVE_EREADONLY, "HEAD of a user's repository is fixed");
}

/* ---- a push ------------------------------------------------------------------ */

/* The pushed commit's identity and message, for the DAV commit. */
typedef struct {
	grove_commit *c;
	grove_signature author, committer;
	char *message;
	grove_commit_opts opts;
} pushed_meta;

static int meta_load(grove *g, const grove_oid *id, pushed_meta *m)
{
	int rc = grove_commit_read(g, id, &m->c);
	if (rc < 0)
		return rc;
	m->author.name = m->c->author.name;
	m->author.email = m->c->author.email;
	m->author.time = m->c->author.time;
	m->author.tz_offset = m->c->author.tz_offset;
	m->committer.name = m->c->committer.name;
	m->committer.email = m->c->committer.email;
	m->committer.time = m->c->committer.time;
	m->committer.tz_offset = m->c->committer.tz_offset;
	/* grove_txn_commit adds the final newline back. */
	if (!(m->message = grove__strdup(m->c->message ? m->c->message : "")))
		return GROVE_ENOMEM;
	size_t n = strlen(m->message);
	if (n && m->message[n - 1] == '\n')
		m->message[n - 1] = '\0';
	m->opts.author = &m->author;
	m->opts.committer = &m->committer;
	m->opts.message = m->message;
	return 0;
}

static void meta_dispose(pushed_meta *m)
{
	grove_commit_free(m->c);
	free(m->message);
}

/*
 * One attempt at landing pushed commit `pushed` (tree `tree`): 0 done,
 * 1 lost a race with another writer (try again), < 0 error (including
 * GROVE_EHEADMOVED when the user's own data moved: the push is stale).
 */
static int land_once(user_view *v, const grove_oid *expected, int check_old,
	const grove_oid *pushed, const grove_oid *tree, pushed_meta *m)
{
	grove_oid proj, tip, source, empty, dav_commit;
	grove_txn *txn = NULL;
	int rc;

	/* What the pusher should have started from: the projection as of now. */
	if ((rc = grove__dav_user_project(v->g, v->branch, v->user, &proj)) < 0)
		return rc;
	if (check_old && grove_oid_cmp(&proj, expected) != 0)
		return grove__error_set(GROVE_EHEADMOVED,
			"%s changed since it was fetched", DAV_GIT_USER_BRANCH_REF);
	if ((rc = grove__dav_user_ref_or_zero(v->g, v->branch_ref, &tip)) < 0 ||
	    (rc = grove__dav_user_ref_or_zero(v->g, v->source_ref, &source)) < 0)
		return rc;
	if (grove_oid_cmp(&tip, &source) != 0)
		return 1; /* the branch moved after the projection caught up */
	if ((rc = grove_object_hash(GROVE_OBJ_TREE, "", 0, &empty)) < 0)
		return rc;
	if ((rc = grove_txn_begin_at(&txn, v->g, grove_oid_is_zero(&tip) ? NULL : &tip, NULL)) < 0)
		return rc;
	if (!grove_oid_cmp(tree, &empty)) {
		/* Everything deleted: a directory cannot hold an empty tree. */
		rc = grove_txn_remove(txn, v->user);
		if (rc == GROVE_ENOTFOUND) {
			grove_error_clear();
			rc = 0;
		}
	} else {
		rc = grove_txn_set_tree_id(txn, v->user, tree);
	}
	if (rc == 0)
		rc = grove_txn_commit(txn, &m->opts, &dav_commit);
	grove_txn_free(txn);
	if (rc < 0)
		return rc;

	/* The branch, the projection and how far it is derived, all or none. */
	grove_ref_update up[3];
	memset(up, 0, sizeof(up));
	up[0].refname = v->branch_ref;
	up[0].old_id = tip;
	up[0].new_id = dav_commit;
	up[0].check_old = 1;
	up[1].refname = v->head_ref;
	up[1].old_id = proj;
	up[1].new_id = *pushed;
	up[1].check_old = 1;
	up[2].refname = v->source_ref;
	up[2].old_id = source;
	up[2].new_id = dav_commit;
	up[2].check_old = 1;
	rc = grove_ref_update_batch(v->g, up, 3);
	if (rc == GROVE_EHEADMOVED) {
		grove_error_clear();
		return 1;
	}
	return rc;
}

static int land_push(user_view *v, const grove_ref_update *u)
{
	pushed_meta m = { 0 };
	int rc;
	if ((rc = meta_load(v->g, &u->new_id, &m)) < 0)
		goto done;
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		rc = land_once(v, &u->old_id, u->check_old, &u->new_id, &m.c->tree, &m);
		if (rc <= 0)
			goto done;
	}
	rc = grove__error_set(GROVE_EHEADMOVED, "the calendar store kept moving; try again");
done:
	meta_dispose(&m);
	return rc;
}

/* receive-pack's write: the objects go to the DAV store; the one allowed
 * ref update becomes a DAV commit (see dav_git_user.h). */
static int v_write(grove_backend *be, const grove__write_set *ws)
{
	user_view *v = (user_view *)be;
	int rc;
	for (size_t i = 0; i < ws->ref_count; i++) {
		if (strcmp(ws->refs[i].refname, DAV_GIT_USER_BRANCH_REF) != 0 || ws->ref_count != 1)
			return grove__error_set(GROVE_EINVALID, "only %s can be pushed here",
				DAV_GIT_USER_BRANCH_REF);
		if (grove_oid_is_zero(&ws->refs[i].new_id))
			return grove__error_set(GROVE_EINVALID, "%s cannot be deleted",
				DAV_GIT_USER_BRANCH_REF);
	}
	if (ws->object_count) {
		/* Unreferenced until the refs move: harmless if we stop here. */
		grove__write_set objs = { ws->objects, ws->object_count, NULL, 0 };
		pthread_mutex_lock(&v->g->write_lock);
		rc = grove__write(v->g, &objs);
		pthread_mutex_unlock(&v->g->write_lock);
		if (rc < 0)
			return rc;
	}
	return ws->ref_count ? land_push(v, &ws->refs[0]) : 0;
}

#define VIEW_OPS_FIELDS                                                                \
	.name = "dav-user", .close = v_close, .read = v_read, .read_header = v_read_header, \
	.exists = v_exists, .foreach_object = v_foreach_object, .ref_read = v_ref_read,    \
	.ref_foreach = v_ref_foreach, .head_read = v_head_read, .head_write = v_head_write, \
	.write = v_write, .flush = v_flush, .stats = v_stats

/* read_raw is optional: offered only when the DAV store has it. */
static const grove__backend_ops view_ops = { VIEW_OPS_FIELDS };
static const grove__backend_ops view_ops_raw = { VIEW_OPS_FIELDS, .read_raw = v_read_raw };

int grove__dav_user_view_open(grove **out, grove *g, const char *branch, const char *user)
{
	user_view *v = grove__calloc(1, sizeof(*v));
	grove_options opts = GROVE_OPTIONS_INIT;
	int rc;
	if (!v)
		return GROVE_ENOMEM;
	v->be.ops = g->be->ops->read_raw ? &view_ops_raw : &view_ops;
	v->g = g;
	if (!(v->branch = grove__strdup(branch ? branch : "main")) || !(v->user = grove__strdup(user))) {
		v_close(&v->be);
		return GROVE_ENOMEM;
	}
	if ((size_t)snprintf(v->branch_ref, sizeof(v->branch_ref), "refs/heads/%s", v->branch) >=
		    sizeof(v->branch_ref) ||
	    (rc = grove__dav_user_refs(user, v->head_ref, v->source_ref, sizeof(v->head_ref))) < 0) {
		v_close(&v->be);
		return grove__error_set(GROVE_EINVALID, "cannot serve git for user '%s'", user);
	}
	if ((rc = grove__open_backend(out, &v->be, g, &opts)) < 0) {
		v_close(&v->be);
		return rc;
	}
	return 0;
}

void grove__dav_user_view_close(grove *view)
{
	grove__close_sharing(view);
}
