/*
 * upload-pack's graph work: checking wants, recognising haves, the
 * shallow boundary for deepen requests, and enumerating the objects to
 * send (reachable from the wants, not from what the client has).
 */
#include "upload_pack_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commit_walk.h"
#include "error.h"
#include "object.h"
#include "oid.h"

/* ------------------------------------------------------------------ */
/* reachability of wants                                                */

static int read_type(grove *g, const grove_oid *id, grove_otype *type)
{
	size_t size;
	return g->be->ops->read_header(g->be, id, type, &size);
}


/*
 * Walks the trees below root; every tree and blob not yet in seen is added
 * to seen and passed to visit (NULL: just mark).  Subtrees are skipped when
 * descend is 0.  filter decides which blobs visit is told about.
 */
typedef int (*tree_visit_fn)(void *payload, const grove_oid *id, grove_otype type);

static int walk_tree(grove *g, const grove_oid *root, grove__oidset *seen, tree_visit_fn visit,
	void *payload)
{
	grove__oidvec st = { 0 };
	int rc;
	if ((rc = grove__oidset_add(seen, root)) <= 0)
		return rc;
	if ((rc = grove__oidvec_push(&st, root)) < 0)
		return rc;
	while (st.count) {
		grove_oid id = st.ids[--st.count];
		grove__tree *t;
		if (visit && (rc = visit(payload, &id, GROVE_OBJ_TREE)) < 0)
			break;
		if ((rc = grove__tree_get(g, &id, &t)) < 0)
			break;
		/* Reverse order on the stack keeps git's tree order in the pack. */
		for (size_t i = t->count; i-- > 0 && rc >= 0;) {
			const grove__tree_entry *e = &t->entries[i];
			if (e->mode == GROVE_MODE_GITLINK)
				continue;
			if ((rc = grove__oidset_add(seen, &e->id)) <= 0)
				continue;
			if (e->mode == GROVE_MODE_TREE)
				rc = grove__oidvec_push(&st, &e->id);
			else if (visit)
				rc = visit(payload, &e->id, GROVE_OBJ_BLOB);
		}
		grove__tree_release(t);
		if (rc < 0)
			break;
		rc = 0;
	}
	grove__oidvec_dispose(&st);
	return rc < 0 ? rc : 0;
}

typedef struct {
	grove__oidset *targets; /* non-commit wants still unproven */
	size_t left;
} find_ctx;

static int find_visit(void *payload, const grove_oid *id, grove_otype type)
{
	find_ctx *f = payload;
	(void)type;
	if (grove__oidset_contains(f->targets, id) && f->left)
		f->left--;
	return f->left ? 0 : 1;
}

/* Every id in `need` (count of them) reachable from the ref tips? */
static int reachable_from_refs(grove__upload_pack *up, const up_oids *need, int *all_found)
{
	grove__cwalk w;
	grove__oidset targets = GROVE__OIDSET_INIT, seen = GROVE__OIDSET_INIT;
	find_ctx f;
	grove__cnode *c;
	int rc = 0;
	enum { QUEUED = 1 };

	*all_found = 0;
	grove__cwalk_init(&w, up->g);
	for (size_t i = 0; i < need->count; i++)
		if ((rc = grove__oidset_add(&targets, &need->ids[i])) < 0)
			goto done;
	f.targets = &targets;
	f.left = targets.count + (size_t)targets.has_zero;
	/* Tags and their peeled objects are tips themselves. */
	for (size_t i = 0; i < up->nrefs; i++) {
		const grove_oid *tip = up->refs[i].has_peeled ? &up->refs[i].peeled : &up->refs[i].id;
		grove_otype type;
		if ((rc = read_type(up->g, tip, &type)) < 0)
			goto done;
		if (type == GROVE_OBJ_COMMIT) {
			if ((rc = grove__cwalk_get(&w, tip, 1, &c)) < 0)
				goto done;
			if (!(c->flags & QUEUED)) {
				c->flags |= QUEUED;
				if ((rc = grove__cwalk_push(&w, c)) < 0)
					goto done;
			}
		} else if (type == GROVE_OBJ_TREE) {
			if ((rc = walk_tree(up->g, tip, &seen, find_visit, &f)) < 0)
				goto done;
		}
	}
	while (f.left && (c = grove__cwalk_pop(&w))) {
		grove_oid tree;
		if (grove__oidset_contains(&targets, &c->id))
			f.left--;
		if ((rc = grove__commit_tree(up->g, &c->id, &tree)) < 0)
			goto done;
		if (grove__oidset_contains(&targets, &tree) && !grove__oidset_contains(&seen, &tree) && f.left)
			f.left--;
		if (f.left && (rc = walk_tree(up->g, &tree, &seen, find_visit, &f)) < 0)
			goto done;
		for (size_t i = 0; i < c->parent_count; i++) {
			grove__cnode *p;
			if ((rc = grove__cwalk_get(&w, &c->parents[i], 1, &p)) < 0)
				goto done;
			if (!(p->flags & QUEUED)) {
				p->flags |= QUEUED;
				if ((rc = grove__cwalk_push(&w, p)) < 0)
					goto done;
			}
		}
	}
	*all_found = f.left == 0;
	rc = 0;
done:
	grove__cwalk_dispose(&w);
	grove__oidset_dispose(&targets);
	grove__oidset_dispose(&seen);
	return rc;
}

int grove__up_check_wants(grove__upload_pack *up)
{
	up_oids other = { 0 };
	char hex[GROVE_OID_HEXSZ + 1];
	int rc, found;
	if ((rc = grove__up_refs_load(up)) < 0)
		return rc;
	for (size_t i = 0; i < up->r.wants.count; i++) {
		const grove_oid *id = &up->r.wants.ids[i];
		if (grove__oidset_contains(&up->tips, id))
			continue;
		rc = grove_object_exists(up->g, id);
		if (rc < 0)
			goto fail_io;
		if (rc == 0) {
			grove__oidvec_dispose(&other);
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: not our ref %s",
				grove_oid_tohex(hex, id));
		}
		if ((rc = grove__oidvec_push(&other, id)) < 0)
			goto fail_io;
	}
	if (!other.count)
		return 0;
	/* allow-reachable-sha1-in-want: any object a ref reaches. */
	if ((rc = reachable_from_refs(up, &other, &found)) < 0)
		goto fail_io;
	if (!found) {
		/* Name the first one that is not reachable. */
		for (size_t i = 0; i < other.count; i++) {
			up_oids one = { &other.ids[i], 1, 1 };
			if ((rc = reachable_from_refs(up, &one, &found)) < 0)
				goto fail_io;
			if (!found) {
				grove_oid_tohex(hex, &other.ids[i]);
				grove__oidvec_dispose(&other);
				return grove__up_fail(up, GROVE_EINVALID, "upload-pack: not our ref %s", hex);
			}
		}
	}
	grove__oidvec_dispose(&other);
	return 0;
fail_io:
	grove__oidvec_dispose(&other);
	{
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", grove_error_message());
		return grove__up_fail(up, rc, "upload-pack: %s", msg);
	}
}

int grove__up_have(grove__upload_pack *up, const grove_oid *id)
{
	int rc;
	if (grove__oidset_contains(&up->r.common_set, id))
		return 1;
	rc = grove_object_exists(up->g, id);
	if (rc <= 0)
		return rc;
	if ((rc = grove__oidset_add(&up->r.common_set, id)) < 0 ||
	    (rc = grove__oidvec_push(&up->r.common, id)) < 0)
		return rc;
	return 1;
}

/* ------------------------------------------------------------------ */
/* ready: every want reaches a common commit                            */

/* Slack for commit times that go backwards (clock skew). */
#define TIME_SLOP (24 * 3600)

int grove__up_ready(grove__upload_pack *up)
{
	grove__cwalk w;
	int64_t oldest = INT64_MAX;
	int rc = 0, all = 1;
	if (up->r.ready)
		return 1;
	if (!up->r.common.count)
		return 0;
	grove__cwalk_init(&w, up->g);
	for (size_t i = 0; i < up->r.common.count; i++) {
		grove__cnode *c;
		grove_otype type;
		if ((rc = read_type(up->g, &up->r.common.ids[i], &type)) < 0)
			goto done;
		if (type != GROVE_OBJ_COMMIT)
			continue;
		if ((rc = grove__cwalk_get(&w, &up->r.common.ids[i], 1, &c)) < 0)
			goto done;
		if (c->time < oldest)
			oldest = c->time;
	}
	for (size_t i = 0; all && i < up->r.wants.count; i++) {
		grove__cnode *c;
		grove_otype type;
		unsigned stamp = (unsigned)i + 1;
		int found = 0;
		if ((rc = read_type(up->g, &up->r.wants.ids[i], &type)) < 0)
			goto done;
		if (type != GROVE_OBJ_COMMIT) {
			all = 0;
			break;
		}
		w.heap_len = 0;
		if ((rc = grove__cwalk_get(&w, &up->r.wants.ids[i], 1, &c)) < 0)
			goto done;
		c->flags = stamp;
		if ((rc = grove__cwalk_push(&w, c)) < 0)
			goto done;
		while (!found && (c = grove__cwalk_pop(&w))) {
			if (grove__oidset_contains(&up->r.common_set, &c->id)) {
				found = 1;
				break;
			}
			if (c->time < oldest - TIME_SLOP)
				continue;
			for (size_t k = 0; k < c->parent_count; k++) {
				grove__cnode *p;
				if ((rc = grove__cwalk_get(&w, &c->parents[k], 1, &p)) < 0)
					goto done;
				if (p->flags == stamp)
					continue;
				p->flags = stamp;
				if ((rc = grove__cwalk_push(&w, p)) < 0)
					goto done;
			}
		}
		if (!found)
			all = 0;
	}
	up->r.ready = all;
	rc = all;
done:
	grove__cwalk_dispose(&w);
	return rc;
}

/* ------------------------------------------------------------------ */
/* shallow                                                              */

#define DEPTH_MASK 0x3fffffffu
#define CROSSED 0x40000000u  /* deepen-relative: below the client's boundary */
#define EXCLUDED 0x80000000u /* deepen-not: reachable from an excluded ref */
#define INFINITE_DEPTH 0x7fffffffu

/* Marks everything reachable from the deepen-not refs as EXCLUDED. */
static int mark_deepen_not(grove__upload_pack *up, grove__cwalk *w)
{
	grove__cnode *c;
	int rc;
	for (size_t i = 0; i < up->r.deepen_not_count; i++) {
		grove_oid id;
		const char *name = up->r.deepen_not[i];
		char full[1024];
		rc = grove_ref_read(up->g, name, &id);
		if (rc == GROVE_ENOTFOUND || rc == GROVE_EINVALID) {
			/* git accepts short names: try refs/heads/ and refs/tags/. */
			snprintf(full, sizeof(full), "refs/heads/%s", name);
			rc = grove_ref_read(up->g, full, &id);
			if (rc == GROVE_ENOTFOUND || rc == GROVE_EINVALID) {
				snprintf(full, sizeof(full), "refs/tags/%s", name);
				rc = grove_ref_read(up->g, full, &id);
			}
		}
		if (rc < 0)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: deepen-not: unknown ref %s", name);
		if ((rc = grove__up_peel(up->g, &id, &id)) < 0)
			return rc;
		if ((rc = grove__cwalk_get(w, &id, 1, &c)) < 0)
			return rc;
		if (!(c->flags & EXCLUDED)) {
			c->flags |= EXCLUDED;
			if ((rc = grove__cwalk_push(w, c)) < 0)
				return rc;
		}
	}
	while ((c = grove__cwalk_pop(w))) {
		for (size_t k = 0; k < c->parent_count; k++) {
			grove__cnode *p;
			if ((rc = grove__cwalk_get(w, &c->parents[k], 1, &p)) < 0)
				return rc;
			if (!(p->flags & EXCLUDED)) {
				p->flags |= EXCLUDED;
				if ((rc = grove__cwalk_push(w, p)) < 0)
					return rc;
			}
		}
	}
	return 0;
}

int grove__up_compute_shallow(grove__upload_pack *up)
{
	grove__cwalk w;
	grove__cnode **queue = NULL;
	size_t qlen = 0, qcap = 0, qhead = 0;
	grove__oidset client = GROVE__OIDSET_INIT, boundary = GROVE__OIDSET_INIT;
	unsigned limit = up->r.depth ? up->r.depth : INFINITE_DEPTH;
	int relative = (up->r.caps & UP_DEEPEN_RELATIVE) && up->r.depth;
	int rc = 0;

	grove__cwalk_init(&w, up->g);
	up->r.deepen_active = 1;
	for (size_t i = 0; i < up->r.client_shallow.count; i++)
		if ((rc = grove__oidset_add(&client, &up->r.client_shallow.ids[i])) < 0)
			goto done;
	if (up->r.deepen_not_count && (rc = mark_deepen_not(up, &w)) < 0)
		goto done;

	/* Breadth first from the wants: depth 1 is the wanted commit. */
	for (size_t i = 0; i < up->r.wants.count; i++) {
		grove_oid id;
		grove_otype type;
		grove__cnode *c;
		if ((rc = grove__up_peel(up->g, &up->r.wants.ids[i], &id)) < 0 ||
		    (rc = read_type(up->g, &id, &type)) < 0)
			goto done;
		if (type != GROVE_OBJ_COMMIT)
			continue;
		if ((rc = grove__cwalk_get(&w, &id, 1, &c)) < 0)
			goto done;
		if (c->flags & DEPTH_MASK)
			continue;
		/* Wants are never excluded; relative depth starts counting at
		 * the client's boundary (CROSSED). */
		c->flags = 1;
		if (relative && grove__oidset_contains(&client, &c->id))
			c->flags |= CROSSED;
		if (qlen == qcap) {
			size_t cap = qcap ? qcap * 2 : 64;
			grove__cnode **nq = grove__realloc(queue, cap * sizeof(*nq));
			if (!nq) {
				rc = GROVE_ENOMEM;
				goto done;
			}
			queue = nq;
			qcap = cap;
		}
		queue[qlen++] = c;
	}
	while (qhead < qlen) {
		grove__cnode *c = queue[qhead++];
		unsigned d = c->flags & DEPTH_MASK;
		int cut = 0;
		if ((rc = grove__oidset_add(&up->r.deepen_set, &c->id)) < 0)
			goto done;
		/* Relative: the old boundary has depth 1, its parents 2... */
		if (relative ? ((c->flags & CROSSED) && d >= limit + 1) : d >= limit)
			cut = 1;
		if (!cut) {
			for (size_t k = 0; k < c->parent_count; k++) {
				grove__cnode *p;
				if ((rc = grove__cwalk_get(&w, &c->parents[k], 1, &p)) < 0)
					goto done;
				if ((p->flags & EXCLUDED) || (up->r.since && p->time < up->r.since)) {
					cut = 1; /* this parent is not sent: c is a boundary */
					continue;
				}
				if (p->flags & DEPTH_MASK)
					continue;
				if (relative && !(c->flags & CROSSED)) {
					p->flags |= 1;
					if (grove__oidset_contains(&client, &p->id))
						p->flags |= CROSSED;
				} else {
					p->flags |= (d + 1 > DEPTH_MASK ? DEPTH_MASK : d + 1) | (c->flags & CROSSED);
				}
				if (qlen == qcap) {
					size_t cap = qcap * 2;
					grove__cnode **nq = grove__realloc(queue, cap * sizeof(*nq));
					if (!nq) {
						rc = GROVE_ENOMEM;
						goto done;
					}
					queue = nq;
					qcap = cap;
				}
				queue[qlen++] = p;
			}
		}
		if (cut && c->parent_count) {
			if ((rc = grove__oidset_add(&boundary, &c->id)) < 0 ||
			    (rc = grove__oidvec_push(&up->r.new_shallow, &c->id)) < 0)
				goto done;
		}
	}
	/* Client shallows inside the new history, not on its edge: unshallow. */
	for (size_t i = 0; i < up->r.client_shallow.count; i++) {
		const grove_oid *id = &up->r.client_shallow.ids[i];
		if (grove__oidset_contains(&up->r.deepen_set, id) && !grove__oidset_contains(&boundary, id))
			if ((rc = grove__oidvec_push(&up->r.unshallow, id)) < 0)
				goto done;
	}
	/* The client knows its own boundary already. */
	{
		size_t k = 0;
		for (size_t i = 0; i < up->r.new_shallow.count; i++)
			if (!grove__oidset_contains(&client, &up->r.new_shallow.ids[i]))
				up->r.new_shallow.ids[k++] = up->r.new_shallow.ids[i];
		/* Keep the full boundary for enumeration in the set. */
		up->r.new_shallow.count = k;
	}
	grove__oidset_dispose(&up->r.deepen_set);
	/* deepen_set now holds the boundary: commits whose parents are cut. */
	up->r.deepen_set = boundary;
	boundary = (grove__oidset)GROVE__OIDSET_INIT;
	rc = 0;
done:
	free(queue);
	grove__cwalk_dispose(&w);
	grove__oidset_dispose(&client);
	grove__oidset_dispose(&boundary);
	if (rc < 0 && up->state != GROVE__UPLOAD_PACK_DONE) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", grove_error_message());
		return grove__up_fail(up, rc, "upload-pack: computing the shallow boundary: %s", msg);
	}
	return rc;
}
