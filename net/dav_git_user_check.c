/*
 * dav_git_user_check.c - a user's push may only refer to objects that user
 * can already see.
 *
 * All users' objects live in one store, and receive-pack trusts objects
 * that are already in the store to be complete.  So without this check a
 * user could push a commit whose parent, or a tree whose entry, is the id
 * of another user's commit, tree or blob: that object would become
 * reachable from the user's projection and a later fetch would hand it
 * out.  Every object the pushed tip reaches must therefore either come in
 * the push itself or be reachable from the user's current projection (the
 * objects a git client leaves out because the server advertised that tip).
 */
#include "dav_git_user_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../git/receive_pack_internal.h"
#include "error.h"
#include "object.h"
#include "oidset.h"


/* The ids an object refers to (commit: tree and parents; tree: entries but
 * submodule links, which git never follows). */
static int push_links(const grove_oid *id, grove_otype type, const grove_buf *b, grove__oidvec *s)
{
	int rc = 0;
	if (type == GROVE_OBJ_COMMIT) {
		grove_commit *c;
		if ((rc = grove__commit_parse(id, b->data, b->size, &c)) < 0)
			return rc;
		/* Parents first: the tree is looked at before older history. */
		for (size_t i = c->parent_count; rc == 0 && i-- > 0;)
			rc = grove__oidvec_push(s, &c->parents[i]);
		if (rc == 0)
			rc = grove__oidvec_push(s, &c->tree);
		grove_commit_free(c);
	} else if (type == GROVE_OBJ_TREE) {
		grove__tree *t;
		if ((rc = grove__tree_parse(id, b->data, b->size, &t)) < 0)
			return rc;
		for (size_t i = 0; rc == 0 && i < t->count; i++)
			if (t->entries[i].mode != GROVE_MODE_GITLINK)
				rc = grove__oidvec_push(s, &t->entries[i].id);
		grove__tree_free(t);
	}
	return rc;
}

/* Walks what `tip` reaches inside the push; ids outside it go to *outside. */
static int pushed_closure(grove__receive *rp, const grove_oid *tip, grove__oidset *outside,
	const grove_oid *old_head, int *reaches_old)
{
	grove__oidset in_push = GROVE__OIDSET_INIT, seen = GROVE__OIDSET_INIT;
	grove__oidvec st = { 0 };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < rp->q.n; i++)
		rc = grove__oidset_add(&in_push, &rp->q.recs[i].id) < 0 ? GROVE_ENOMEM : 0;
	if (rc == 0)
		rc = grove__oidvec_push(&st, tip);
	while (rc == 0 && st.count) {
		grove_oid id = st.ids[--st.count];
		grove_buf b = { 0 };
		grove_otype type;
		if ((rc = grove__oidset_add(&seen, &id)) <= 0)
			continue; /* seen (0) or out of memory (< 0, ends the loop) */
		rc = 0;
		if (!grove__oidset_contains(&in_push, &id)) {
			rc = grove__oidset_add(outside, &id) < 0 ? GROVE_ENOMEM : 0;
			continue;
		}
		if ((rc = grove__receive_read_object(rp, &id, &type, &b)) == 0)
			rc = push_links(&id, type, &b, &st);
		grove_buf_dispose(&b);
	}
	*reaches_old = old_head && grove__oidset_contains(&seen, old_head);
	grove__oidvec_dispose(&st);
	grove__oidset_dispose(&in_push);
	grove__oidset_dispose(&seen);
	return rc;
}

/* How many of `want` the objects reachable from `from` cover (stops once
 * all are found).  Blobs are matched by id without being read. */
static int visible_covers(grove *g, const grove_oid *from, const grove__oidset *want,
	size_t *found)
{
	grove__oidset seen = GROVE__OIDSET_INIT;
	grove__oidvec st = { 0 };
	size_t need = want->count + (size_t)want->has_zero;
	int rc = grove__oidvec_push(&st, from);
	*found = 0;
	while (rc == 0 && st.count && *found < need) {
		grove_oid id = st.ids[--st.count];
		grove_buf b = { 0 };
		grove_otype type;
		if ((rc = grove__oidset_add(&seen, &id)) <= 0)
			continue;
		rc = 0;
		if (grove__oidset_contains(want, &id))
			++*found;
		if ((rc = grove_object_read(g, &id, &type, &b)) == 0 && type != GROVE_OBJ_BLOB)
			rc = push_links(&id, type, &b, &st);
		grove_buf_dispose(&b);
	}
	grove__oidvec_dispose(&st);
	grove__oidset_dispose(&seen);
	return rc;
}

int grove__dav_user_push_closed(grove__receive *rp, grove *store, const grove_oid *old_head,
	const grove_oid *new_tip, int *fast_forward)
{
	grove__oidset outside = GROVE__OIDSET_INIT;
	size_t found = 0;
	int has_old = old_head && !grove_oid_is_zero(old_head);
	int rc = pushed_closure(rp, new_tip, &outside, has_old ? old_head : NULL, fast_forward);
	if (!has_old)
		*fast_forward = 1; /* a first push */
	if (rc == 0 && outside.count + (size_t)outside.has_zero == 0) {
		grove__oidset_dispose(&outside);
		return 0;
	}
	if (rc == 0 && has_old)
		rc = visible_covers(store, old_head, &outside, &found);
	if (rc == 0)
		rc = found == outside.count + (size_t)outside.has_zero ? 0 : 1;
	grove__oidset_dispose(&outside);
	return rc;
}
