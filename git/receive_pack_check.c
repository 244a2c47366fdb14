/*
 * receive-pack's safety: the quarantine (objects of the pack held in
 * memory, readable together with the store through an overlay backend),
 * the per-command checks, the connectivity walk, and the final write.
 */
#include "receive_pack_internal.h"

#include "error.h"
#include "object.h"
#include "oid.h"
#include "oidset.h"
#include "pack.h"
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Quarantine                                                           */

static size_t slot_of(const grove_oid *id, size_t mask)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return (size_t)h & mask;
}

static const grove__object *q_find(const grove__rp_quarantine *q, const grove_oid *id)
{
	size_t mask, i;
	if (!q->nslots)
		return NULL;
	mask = q->nslots - 1;
	for (i = slot_of(id, mask); q->slots[i]; i = (i + 1) & mask)
		if (grove__oid_equal(&q->recs[q->slots[i] - 1].id, id))
			return &q->recs[q->slots[i] - 1];
	return NULL;
}

static int q_rehash(grove__rp_quarantine *q, size_t nslots)
{
	size_t *slots = grove__calloc(nslots, sizeof(*slots)), mask = nslots - 1;
	if (!slots)
		return GROVE_ENOMEM;
	for (size_t k = 0; k < q->n; k++) {
		size_t i = slot_of(&q->recs[k].id, mask);
		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = k + 1;
	}
	free(q->slots);
	q->slots = slots;
	q->nslots = nslots;
	return 0;
}

static int q_add(grove__rp_quarantine *q, const grove__object *rec)
{
	if (q_find(q, &rec->id))
		return 0; /* a pack may repeat an object */
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		grove__object *n = grove__realloc(q->recs, cap * sizeof(*n));
		if (!n)
			return GROVE_ENOMEM;
		q->recs = n;
		q->cap = cap;
	}
	q->recs[q->n++] = *rec;
	if (q->n * 2 > q->nslots)
		return q_rehash(q, q->nslots ? q->nslots * 2 : 512);
	{
		size_t mask = q->nslots - 1, i = slot_of(&rec->id, mask);
		while (q->slots[i])
			i = (i + 1) & mask;
		q->slots[i] = q->n;
	}
	return 0;
}

/* The overlay backend: what decoding a quarantined delta reads its base
 * through.  Only read is used by grove__object_decode. */
static int overlay_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	grove__rp_quarantine *q = (grove__rp_quarantine *)be;
	const grove__object *rec = q_find(q, id);
	int rc;
	if (!rec)
		return q->g->be->ops->read(q->g->be, id, type, out);
	if ((rc = grove__object_decode(be, rec, out)) < 0)
		return rc;
	*type = rec->type;
	return 0;
}

static int overlay_exists(grove_backend *be, const grove_oid *id)
{
	grove__rp_quarantine *q = (grove__rp_quarantine *)be;
	if (q_find(q, id))
		return 1;
	return q->g->be->ops->exists(q->g->be, id);
}

static const grove__backend_ops overlay_ops = {
	.name = "quarantine",
	.read = overlay_read,
	.exists = overlay_exists,
};

int grove__receive_read_object(grove__receive *rp, const grove_oid *id, grove_otype *type,
	grove_buf *out)
{
	return overlay_read(&rp->q.be, id, type, out);
}

void grove__rp_quarantine_init(grove__rp_quarantine *q, grove *g)
{
	memset(q, 0, sizeof(*q));
	q->be.ops = &overlay_ops;
	q->g = g;
}

void grove__rp_quarantine_dispose(grove__rp_quarantine *q)
{
	free(q->recs);
	free(q->slots);
	q->recs = NULL;
	q->slots = NULL;
	q->n = q->cap = q->nslots = 0;
}

/* ------------------------------------------------------------------ */
/* Indexing                                                             */

static int collect(void *payload, const grove__object *records, size_t count)
{
	grove__rp_quarantine *q = payload;
	for (size_t i = 0; i < count; i++) {
		int rc = q_add(q, &records[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Thin packs: deltas against objects the client knows we have. */
static int lookup_base(void *payload, const grove_oid *id, grove_otype *type, grove_buf *content)
{
	grove *g = payload;
	return g->be->ops->read(g->be, id, type, content);
}

int grove__rp_index_pack(grove__receive *rp)
{
	grove__pack_index_opts o;
	grove__pack_index_stats st;
	int rc;

	memset(&o, 0, sizeof(o));
	o.max_objects = rp->o.max_objects;
	o.max_object_size = rp->o.max_object_size;
	o.max_delta_depth = rp->o.max_delta_depth;
	o.max_pack_size = rp->o.max_pack_size;
	o.strict = 1;
	o.lookup_base = lookup_base;
	o.lookup_payload = rp->g;
	o.deliver = collect;
	o.deliver_payload = &rp->q;
	rc = grove__pack_index(rp->pack.data, rp->pack.len, &o, &st);
	if (rc < 0) {
		rp->unpack_error = grove__rp_error_text(NULL);
		grove__rp_quarantine_dispose(&rp->q);
		return rp->unpack_error ? 0 : GROVE_ENOMEM;
	}
	rp->pack_objects = st.object_count;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Object graph helpers                                                 */

/* Type of an object in the quarantine or the store; GROVE_ENOTFOUND. */
static int object_type(grove__rp_quarantine *q, const grove_oid *id, grove_otype *type)
{
	const grove__object *rec = q_find(q, id);
	size_t size;
	if (rec) {
		*type = rec->type;
		return 0;
	}
	return q->g->be->ops->read_header(q->g->be, id, type, &size);
}

/* Pushes the objects a quarantined object refers to. */
static int push_links(grove__rp_quarantine *q, const grove__object *rec, grove__oidvec *s)
{
	grove_buf buf = { 0 };
	int rc;
	if (rec->type == GROVE_OBJ_BLOB)
		return 0;
	if ((rc = grove__object_decode(&q->be, rec, &buf)) < 0)
		return rc;
	if (rec->type == GROVE_OBJ_COMMIT) {
		grove_commit *c = NULL;
		if ((rc = grove__commit_parse(&rec->id, buf.data, buf.size, &c)) == 0) {
			rc = grove__oidvec_push(s, &c->tree);
			for (size_t i = 0; rc == 0 && i < c->parent_count; i++)
				rc = grove__oidvec_push(s, &c->parents[i]);
			grove_commit_free(c);
		}
	} else if (rec->type == GROVE_OBJ_TREE) {
		grove__tree *t = NULL;
		if ((rc = grove__tree_parse(&rec->id, buf.data, buf.size, &t)) == 0) {
			for (size_t i = 0; rc == 0 && i < t->count; i++)
				if (t->entries[i].mode != GROVE_MODE_GITLINK)
					rc = grove__oidvec_push(s, &t->entries[i].id);
			grove__tree_free(t);
		}
	} else if (rec->type == GROVE_OBJ_TAG) {
		grove__tag tag;
		memset(&tag, 0, sizeof(tag));
		if ((rc = grove__tag_parse(buf.data, buf.size, &tag)) == 0) {
			rc = grove__oidvec_push(s, &tag.target);
			grove__tag_dispose(&tag);
		}
	}
	grove_buf_dispose(&buf);
	return rc;
}

/*
 * Everything reachable from tip that is not in the store must be in the
 * quarantine.  Objects in the store are trusted to be complete (they got
 * there through a checked push or the store's own writes), so the walk
 * covers only the new objects.  Returns 0, GROVE_ENOTFOUND (message names
 * the missing object) or another error.
 */
static int walk_new(grove__rp_quarantine *q, const grove_oid *tip, grove__oidset *seen)
{
	grove__oidvec s = { 0 };
	grove_oid id;
	int rc;

	if ((rc = grove__oidvec_push(&s, tip)) < 0)
		return rc;
	while (s.count) {
		const grove__object *rec;
		id = s.ids[--s.count];
		if ((rc = grove__oidset_add(seen, &id)) < 0)
			break;
		if (rc == 0)
			continue;
		rc = 0;
		if ((rec = q_find(q, &id)) == NULL) {
			char hex[GROVE_OID_HEXSZ + 1];
			if ((rc = q->g->be->ops->exists(q->g->be, &id)) < 0)
				break;
			if (rc == 1) {
				rc = 0;
				continue;
			}
			rc = grove__error_set(GROVE_ENOTFOUND, "missing object %s",
				grove_oid_tohex(hex, &id));
			break;
		}
		if ((rc = push_links(q, rec, &s)) < 0)
			break;
	}
	grove__oidvec_dispose(&s);
	return rc;
}

/* 1 if old is new or one of its ancestors, 0 if not.  New commits are
 * walked in the quarantine; where the walk reaches the store, the store's
 * own ancestry walk takes over. */
static int is_fast_forward(grove__rp_quarantine *q, const grove_oid *old, const grove_oid *new_id)
{
	grove__oidset seen = GROVE__OIDSET_INIT;
	grove__oidvec s = { 0 }, boundary = { 0 };
	int rc = 0, found = 0;

	if ((rc = grove__oidvec_push(&s, new_id)) < 0)
		return rc;
	while (s.count && !found) {
		grove_oid id = s.ids[--s.count];
		const grove__object *rec;
		grove_buf buf = { 0 };
		grove_commit *c = NULL;
		if (grove__oid_equal(&id, old)) {
			found = 1;
			break;
		}
		if ((rc = grove__oidset_add(&seen, &id)) < 0)
			goto out;
		if (rc == 0)
			continue;
		rc = 0;
		if (!(rec = q_find(q, &id))) {
			if ((rc = grove__oidvec_push(&boundary, &id)) < 0)
				goto out;
			continue;
		}
		if (rec->type != GROVE_OBJ_COMMIT)
			continue;
		if ((rc = grove__object_decode(&q->be, rec, &buf)) < 0)
			goto out;
		rc = grove__commit_parse(&rec->id, buf.data, buf.size, &c);
		grove_buf_dispose(&buf);
		if (rc < 0)
			goto out;
		for (size_t i = 0; rc == 0 && i < c->parent_count; i++)
			rc = grove__oidvec_push(&s, &c->parents[i]);
		grove_commit_free(c);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; !found && i < boundary.count; i++) {
		grove_otype type;
		size_t size;
		if (q->g->be->ops->read_header(q->g->be, &boundary.ids[i], &type, &size) < 0 ||
		    type != GROVE_OBJ_COMMIT)
			continue;
		if ((rc = grove__is_ancestor(q->g, old, &boundary.ids[i])) < 0)
			goto out;
		found = rc;
		rc = 0;
	}
out:
	grove__oidset_dispose(&seen);
	grove__oidvec_dispose(&s);
	grove__oidvec_dispose(&boundary);
	grove_error_clear();
	return rc < 0 ? rc : found;
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */

static int cmp_cmd_name(const void *a, const void *b, void *arg)
{
	const grove__rp_command *cmds = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(cmds[ia].refname, cmds[ib].refname);
	return c ? c : (ia < ib ? -1 : ia > ib);
}

static int refuse_duplicates(grove__receive *rp)
{
	size_t *order;
	int rc = 0;
	if (rp->ncmds < 2)
		return 0;
	if (!(order = grove__malloc(rp->ncmds * sizeof(*order))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < rp->ncmds; i++)
		order[i] = i;
	qsort_r(order, rp->ncmds, sizeof(*order), cmp_cmd_name, rp->cmds);
	for (size_t i = 1; rc == 0 && i < rp->ncmds; i++)
		if (!strcmp(rp->cmds[order[i - 1]].refname, rp->cmds[order[i]].refname))
			rc = grove__rp_refuse(&rp->cmds[order[i]], "duplicate ref update");
	free(order);
	return rc;
}

static int is_branch(const char *refname)
{
	return !strncmp(refname, "refs/heads/", 11);
}

/* The checks that need only the command and the store's current refs. */
static int check_one(grove__receive *rp, grove__rp_command *c)
{
	grove_oid cur;
	grove_otype type;
	int rc, exists, del = grove_oid_is_zero(&c->new_id);

	if (strncmp(c->refname, "refs/", 5) != 0 || grove_ref_name_validate(c->refname) < 0)
		return grove__rp_refuse(c, "funny refname");
	rc = rp->g->be->ops->ref_read(rp->g->be, c->refname, &cur);
	if (rc < 0 && rc != GROVE_ENOTFOUND)
		return rc;
	exists = rc == 0;
	if (exists ? !grove__oid_equal(&cur, &c->old_id) : !grove_oid_is_zero(&c->old_id))
		return grove__rp_refuse(c, "stale info");
	if (del) {
		if (!exists)
			c->noop = 1; /* deleting what is not there: nothing to do */
		return 0;
	}
	rc = object_type(&rp->q, &c->new_id, &type);
	if (rc == GROVE_ENOTFOUND)
		return grove__rp_refuse(c, "missing necessary objects");
	if (rc < 0)
		return rc;
	if (is_branch(c->refname) && type != GROVE_OBJ_COMMIT)
		return grove__rp_refuse(c, "not a commit (refs/heads/ must point at commits)");
	return 0;
}

int grove__rp_check_commands(grove__receive *rp)
{
	grove__oidset seen = GROVE__OIDSET_INIT;
	int rc = 0, any_missing = 0;
	size_t i;

	if ((rc = refuse_duplicates(rp)) < 0)
		goto fail;
	for (i = 0; i < rp->ncmds; i++) {
		grove__rp_command *c = &rp->cmds[i];
		if (!c->error && (rc = check_one(rp, c)) < 0)
			goto fail;
	}

	/* Connectivity: one walk over all new tips; if something is missing,
	 * walk each tip alone to find which refs it breaks. */
	for (i = 0; i < rp->ncmds && !any_missing; i++) {
		grove__rp_command *c = &rp->cmds[i];
		if (c->error || grove_oid_is_zero(&c->new_id))
			continue;
		rc = walk_new(&rp->q, &c->new_id, &seen);
		if (rc == GROVE_ENOTFOUND)
			any_missing = 1;
		else if (rc < 0)
			goto fail;
	}
	grove__oidset_dispose(&seen);
	if (any_missing) {
		for (i = 0; i < rp->ncmds; i++) {
			grove__rp_command *c = &rp->cmds[i];
			grove__oidset one = GROVE__OIDSET_INIT;
			if (c->error || grove_oid_is_zero(&c->new_id))
				continue;
			rc = walk_new(&rp->q, &c->new_id, &one);
			grove__oidset_dispose(&one);
			if (rc == GROVE_ENOTFOUND) {
				char *why = grove__rp_error_text("missing necessary objects: ");
				rc = grove__rp_refuse(c, why ? why : "missing necessary objects");
				free(why);
			}
			if (rc < 0)
				goto fail;
		}
	}

	/* Fast-forward, once the new history is known to be complete. */
	for (i = 0; i < rp->ncmds; i++) {
		grove__rp_command *c = &rp->cmds[i];
		if (c->error || rp->o.allow_non_ff || !is_branch(c->refname) ||
		    grove_oid_is_zero(&c->old_id) || grove_oid_is_zero(&c->new_id))
			continue;
		rc = is_fast_forward(&rp->q, &c->old_id, &c->new_id);
		if (rc < 0)
			goto fail;
		if (rc == 0 && (rc = grove__rp_refuse(c, "non-fast-forward")) < 0)
			goto fail;
	}

	/* The caller's own check, last: it may read the new trees. */
	for (i = 0; rp->o.check_update && i < rp->ncmds; i++) {
		grove__rp_command *c = &rp->cmds[i];
		char *reason = NULL;
		if (c->error || grove_oid_is_zero(&c->new_id))
			continue;
		rc = rp->o.check_update(rp->o.check_arg, rp, c->refname, &c->old_id, &c->new_id,
			&reason);
		if (rc > 0)
			rc = grove__rp_refuse(c, reason ? reason : "refused by the server");
		free(reason);
		if (rc < 0)
			goto fail;
	}
	return 0;

fail:
	grove__oidset_dispose(&seen);
	{
		char *why = grove__rp_error_text("cannot check: ");
		for (i = 0; i < rp->ncmds; i++)
			grove__rp_refuse(&rp->cmds[i], why ? why : "cannot check");
		free(why);
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Applying                                                             */

static int locked_write(grove *g, const grove__write_set *ws)
{
	int rc;
	pthread_mutex_lock(&g->write_lock);
	rc = grove__write(g, ws);
	pthread_mutex_unlock(&g->write_lock);
	return rc;
}

/* After a failed compare-and-swap: refuse the commands whose ref moved.
 * Returns how many were refused. */
static size_t refuse_moved(grove__receive *rp, size_t *idx, size_t n)
{
	size_t moved = 0;
	for (size_t k = 0; k < n; k++) {
		grove__rp_command *c = &rp->cmds[idx[k]];
		grove_oid cur;
		int rc = rp->g->be->ops->ref_read(rp->g->be, c->refname, &cur);
		int ok = rc == 0 ? grove__oid_equal(&cur, &c->old_id)
				 : rc == GROVE_ENOTFOUND && grove_oid_is_zero(&c->old_id);
		if (!ok && grove_oid_is_zero(&c->old_id) && grove_oid_is_zero(&c->new_id))
			ok = 1; /* an unconditional delete */
		if (!ok) {
			grove__rp_refuse(c, "stale info");
			moved++;
		}
	}
	grove_error_clear();
	return moved;
}

int grove__rp_apply(grove__receive *rp)
{
	int atomic = (rp->caps & GROVE__RP_CAP_ATOMIC) != 0;
	grove_ref_update *ups = NULL;
	size_t *idx = NULL, n = 0, i, attempts = 0;
	int rc = 0;

	if (atomic) {
		for (i = 0; i < rp->ncmds; i++)
			if (rp->cmds[i].error)
				break;
		if (i < rp->ncmds) {
			for (i = 0; i < rp->ncmds; i++)
				grove__rp_refuse(&rp->cmds[i], "atomic push failure");
			return 0;
		}
	}
	if (rp->ncmds) {
		ups = grove__calloc(rp->ncmds, sizeof(*ups));
		idx = grove__calloc(rp->ncmds, sizeof(*idx));
		if (!ups || !idx) {
			rc = GROVE_ENOMEM;
			goto out;
		}
	}
	for (;;) {
		grove__write_set ws = { 0 };
		int need_objects = 0;
		n = 0;
		for (i = 0; i < rp->ncmds; i++) {
			grove__rp_command *c = &rp->cmds[i];
			if (c->error || c->noop)
				continue;
			ups[n].refname = c->refname;
			ups[n].old_id = c->old_id;
			ups[n].new_id = c->new_id;
			/* A delete sent with a zero old id deletes whatever is there. */
			ups[n].check_old = !(grove_oid_is_zero(&c->new_id) && grove_oid_is_zero(&c->old_id));
			if (!grove_oid_is_zero(&c->new_id))
				need_objects = 1;
			idx[n++] = i;
		}
		if (!n)
			break;
		/* The objects go in with the refs: if no ref moves, no object
		 * becomes visible. */
		if (need_objects) {
			ws.objects = rp->q.recs;
			ws.object_count = rp->q.n;
		}
		ws.refs = ups;
		ws.ref_count = n;
		rc = locked_write(rp->g, &ws);
		if (rc == 0)
			break;
		if (rc == GROVE_EHEADMOVED && !atomic && ++attempts <= 3) {
			refuse_moved(rp, idx, n);
			continue; /* the others still apply */
		}
		{
			char *why = rc == GROVE_EHEADMOVED ? NULL : grove__rp_error_text("failed to write: ");
			if (rc == GROVE_EHEADMOVED)
				refuse_moved(rp, idx, n);
			for (size_t k = 0; k < n; k++)
				grove__rp_refuse(&rp->cmds[idx[k]],
					rc == GROVE_EHEADMOVED ? (atomic ? "atomic push failure" : "stale info")
							       : why ? why : "failed to write");
			free(why);
		}
		rc = 0;
		break;
	}
out:
	free(ups);
	free(idx);
	return rc;
}
