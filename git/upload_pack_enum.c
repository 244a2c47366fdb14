/*
 * upload-pack object enumeration: commits reachable from the wants and not
 * from the client's commits (a walk newest first, uninteresting marks
 * flowing down from the haves), then their trees and blobs, each once,
 * minus what the client has (the trees of the edge commits) and what the
 * filter omits; annotated tags for include-tag last.
 */
#include "upload_pack_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit_walk.h"
#include "error.h"
#include "object.h"
#include "oid.h"
#include "reach_index.h"

/* Resolved contents kept while enumerating (bases of the next trees). */
#define TREE_CACHE_BYTES ((size_t)32 << 20)

enum {
	F_QUEUED = 1,
	F_UNINT = 2,     /* the client has it (or it is below a have) */
	F_POPPED = 4,
	F_EMITTED = 8,
	F_INDEXED = 16   /* sent with the reachability index */
};

/* enumerate() asks to be run again without the index. */
#define RETRY_WITHOUT_INDEX 1

typedef struct {
	grove__upload_pack *up;
	grove__cwalk w;
	grove__up_trees *trees;    /* tree reads with resolved bases kept */
	grove__oidset seen;        /* trees, blobs, tags decided on */
	grove__oidset *client_has; /* thin-pack bases the client has */
	grove__oidset client_shallow;
	up_oids *out;
	grove__oidvec stack;       /* trees to read (walk_trees) */
	size_t pending;            /* queued commits not known uninteresting */
	size_t found;              /* objects to send so far (commits, then others) */
	size_t next_check;         /* found count at which to look at the clock */
	struct timespec last;      /* when progress was last sent */
	size_t non_commit_wants;   /* trees and blobs wanted by id (trees: also in roots) */
	/* The store's reachability index, when this request can use it: the
	 * walk stops at its commits, and if it reaches the index's own commit
	 * everything the index lists is sent without reading a tree. */
	grove__reach_index ri;
	int use_ri;
	grove__oidset ri_commits;
	int ri_hit;                /* the walk reached ri.commit */
	int ri_seen_loaded;        /* the index's trees and blobs are in seen */
} enum_ctx;

/*
 * Progress while enumerating, at most once a second: the client hears
 * from the server long before the pack can start (its header needs the
 * final count).  The clock is read every 1024 objects only.
 */
static int progress_tick(enum_ctx *e)
{
	struct timespec now;
	if (++e->found < e->next_check)
		return 0;
	e->next_check = e->found + 1024;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - e->last.tv_sec) * 1000000000L + (now.tv_nsec - e->last.tv_nsec) < 1000000000L)
		return 0;
	e->last = now;
	return grove__up_progress(e->up, "Enumerating objects: %zu\r", e->found);
}

static int blob_wanted(enum_ctx *e, const grove_oid *id)
{
	grove_otype type;
	size_t size;
	int rc;
	switch (e->up->r.filter) {
	case UP_FILTER_BLOB_NONE:
	case UP_FILTER_TREE0:
		return 0;
	case UP_FILTER_BLOB_LIMIT:
		rc = e->up->g->be->ops->read_header(e->up->g->be, id, &type, &size);
		if (rc < 0)
			return rc;
		return size < e->up->r.blob_limit;
	default:
		return 1;
	}
}

/*
 * Trees below root.  send: append new trees and (filtered) blobs to out;
 * otherwise only mark them seen and client_has (an edge commit's tree).
 */
static int walk_trees(enum_ctx *e, const grove_oid *root, int send)
{
	int rc;
	if (send && e->up->r.filter == UP_FILTER_TREE0)
		return 0;
	if ((rc = grove__oidset_add(&e->seen, root)) <= 0)
		return rc;
	if (!send && e->client_has && (rc = grove__oidset_add(e->client_has, root)) < 0)
		return rc;
	e->stack.count = 0;
	if ((rc = grove__oidvec_push(&e->stack, root)) < 0)
		return rc;
	while (e->stack.count) {
		grove_oid id = e->stack.ids[--e->stack.count];
		grove__tree *t;
		if (send && ((rc = grove__oidvec_push(e->out, &id)) < 0 || (rc = progress_tick(e)) < 0))
			return rc;
		if ((rc = grove__up_trees_get(e->trees, &id, &t)) < 0)
			return rc;
		for (size_t i = t->count; i-- > 0;) {
			const grove__tree_entry *en = &t->entries[i];
			if (en->mode == GROVE_MODE_GITLINK)
				continue;
			if ((rc = grove__oidset_add(&e->seen, &en->id)) < 0)
				break;
			if (rc == 0)
				continue;
			rc = 0;
			if (!send) {
				if (e->client_has && (rc = grove__oidset_add(e->client_has, &en->id)) < 0)
					break;
				if (en->mode == GROVE_MODE_TREE && (rc = grove__oidvec_push(&e->stack, &en->id)) < 0)
					break;
				continue;
			}
			if (en->mode == GROVE_MODE_TREE) {
				rc = grove__oidvec_push(&e->stack, &en->id);
			} else {
				rc = blob_wanted(e, &en->id);
				if (rc == 1 && (rc = grove__oidvec_push(e->out, &en->id)) == 0)
					rc = progress_tick(e);
			}
			if (rc < 0)
				break;
		}
		grove__tree_release(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int queue_commit(enum_ctx *e, grove__cnode *c, int unint)
{
	int rc;
	if (c->flags & F_QUEUED) {
		/* Already queued: it may become uninteresting before its turn. */
		if (unint && !(c->flags & F_UNINT)) {
			c->flags |= F_UNINT;
			if (!(c->flags & F_POPPED) && e->pending)
				e->pending--;
		}
		return 0;
	}
	c->flags |= F_QUEUED | (unint ? F_UNINT : 0);
	if (!unint)
		e->pending++;
	rc = grove__cwalk_push(&e->w, c);
	return rc;
}

/* A have or a client shallow commit: the client has it. */
static int add_client_commit(enum_ctx *e, const grove_oid *id)
{
	grove__cnode *c;
	grove_otype type;
	size_t size;
	int rc = e->up->g->be->ops->read_header(e->up->g->be, id, &type, &size);
	if (rc == GROVE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (e->client_has && (rc = grove__oidset_add(e->client_has, id)) < 0)
		return rc;
	if (type != GROVE_OBJ_COMMIT)
		return 0;
	if ((rc = grove__cwalk_get(&e->w, id, 1, &c)) < 0)
		return rc;
	return queue_commit(e, c, 1);
}

/* A want: tags are sent along with what they point at. */
static int add_want(enum_ctx *e, const grove_oid *want, up_oids *tree_roots)
{
	grove_oid id = *want;
	for (int hops = 0; hops < 64; hops++) {
		grove_otype type;
		size_t size;
		grove__cnode *c;
		int rc = e->up->g->be->ops->read_header(e->up->g->be, &id, &type, &size);
		if (rc < 0)
			return rc;
		switch (type) {
		case GROVE_OBJ_COMMIT:
			if ((rc = grove__cwalk_get(&e->w, &id, 1, &c)) < 0)
				return rc;
			return queue_commit(e, c, 0);
		case GROVE_OBJ_TREE:
			e->non_commit_wants++;
			return grove__oidvec_push(tree_roots, &id);
		case GROVE_OBJ_BLOB:
			e->non_commit_wants++;
			/* Explicitly wanted blobs are sent whatever the filter. */
			if ((rc = grove__oidset_add(&e->seen, &id)) <= 0)
				return rc;
			return grove__oidvec_push(e->out, &id);
		case GROVE_OBJ_TAG: {
			grove_buf buf = { 0 };
			grove__tag tag;
			if ((rc = grove__oidset_add(&e->seen, &id)) < 0)
				return rc;
			if (rc == 1 && (rc = grove__oidvec_push(e->out, &id)) < 0)
				return rc;
			if ((rc = grove__read(e->up->g, &id, GROVE_OBJ_TAG, &buf)) < 0)
				return rc;
			rc = grove__tag_parse(buf.data, buf.size, &tag);
			grove_buf_dispose(&buf);
			if (rc < 0)
				return rc;
			id = tag.target;
			grove__tag_dispose(&tag);
			break;
		}
		default:
			return grove__error_set(GROVE_ECORRUPT, "object of unknown type");
		}
	}
	return grove__error_set(GROVE_ECORRUPT, "tag chain too long");
}

static int parents_cut(enum_ctx *e, const grove__cnode *c)
{
	if (e->up->r.deepen_active)
		return grove__oidset_contains(&e->up->r.deepen_set, &c->id);
	return grove__oidset_contains(&e->client_shallow, &c->id);
}

/* Client shallow commits this fetch deepens: their parents are new to
 * the client (unless the new boundary cuts them again). */
static int queue_unshallowed(enum_ctx *e)
{
	int rc;
	for (size_t i = 0; i < e->up->r.unshallow.count; i++) {
		grove__cnode *c;
		if ((rc = grove__cwalk_get(&e->w, &e->up->r.unshallow.ids[i], 1, &c)) < 0)
			return rc;
		if (parents_cut(e, c))
			continue;
		for (size_t k = 0; k < c->parent_count; k++) {
			grove__cnode *p;
			if ((rc = grove__cwalk_get(&e->w, &c->parents[k], 1, &p)) < 0)
				return rc;
			if ((rc = queue_commit(e, p, 0)) < 0)
				return rc;
		}
	}
	return 0;
}

/* A walked commit's root tree, kept by the walk (read again only if the
 * walk could not parse it). */
static int cnode_tree(enum_ctx *e, const grove__cnode *c, grove_oid *tree)
{
	if (c->parsed && !grove__oid_equal(&c->tree, &grove__oid_zero)) {
		*tree = c->tree;
		return 0;
	}
	return grove__commit_tree(e->up->g, &c->id, tree);
}

/* The commit walk; emitted commits are appended to commits. */
static int walk_commits(enum_ctx *e, up_oids *commits)
{
	grove__cnode *c;
	int rc;
	while (e->pending && (c = grove__cwalk_pop(&e->w))) {
		int unint = (c->flags & F_UNINT) != 0;
		c->flags |= F_POPPED;
		if (!unint) {
			e->pending--;
			if (e->use_ri && grove__oidset_contains(&e->ri_commits, &c->id)) {
				/* The index sends it and everything below it, if
				 * the walk reaches the index's commit at all. */
				c->flags |= F_INDEXED;
				if (grove__oid_equal(&c->id, &e->ri.commit))
					e->ri_hit = 1;
				continue;
			}
			c->flags |= F_EMITTED;
			if ((rc = grove__oidvec_push(commits, &c->id)) < 0 || (rc = progress_tick(e)) < 0)
				return rc;
		}
		/* A client's shallow commit stops the client's history (its
		 * parents, if now wanted, were queued by queue_unshallowed). */
		if (unint && grove__oidset_contains(&e->client_shallow, &c->id))
			continue;
		if (!unint && parents_cut(e, c))
			continue;
		for (size_t k = 0; k < c->parent_count; k++) {
			grove__cnode *p;
			if ((rc = grove__cwalk_get(&e->w, &c->parents[k], 1, &p)) < 0)
				return rc;
			if ((rc = queue_commit(e, p, unint)) < 0)
				return rc;
		}
	}
	return 0;
}

/* The index's trees and blobs into seen: what the walk of trees must not
 * send again, and what include-tag sees as sent. */
static int ri_load_seen(enum_ctx *e)
{
	int rc;
	if (!e->use_ri || e->ri_seen_loaded)
		return 0;
	e->ri_seen_loaded = 1;
	for (size_t i = e->ri.commits; i < e->ri.count; i++)
		if ((rc = grove__oidset_add(&e->seen, &e->ri.ids[i])) < 0)
			return rc;
	return 0;
}

/* The index can stand in for the walk of a request that has nothing
 * (no haves, no shallow boundary) and wants whole commits: a clone. */
static int ri_applies(const enum_ctx *e)
{
	const up_request *r = &e->up->r;
	return r->common.count == 0 && r->client_shallow.count == 0 && !r->deepen_active &&
		r->unshallow.count == 0 && r->depth == 0 && r->since == 0 && r->deepen_not_count == 0 &&
		(r->filter == UP_FILTER_NONE || r->filter == UP_FILTER_BLOB_NONE ||
		 r->filter == UP_FILTER_TREE0) &&
		e->non_commit_wants == 0 && e->pending > 0;
}

static int ri_open(enum_ctx *e)
{
	int rc;
	if (grove__reach_index_read(e->up->g, &e->ri) < 0)
		return 0; /* none, or unreadable: walk as without one */
	e->use_ri = 1;
	for (size_t i = 0; i < e->ri.commits; i++)
		if ((rc = grove__oidset_add(&e->ri_commits, &e->ri.ids[i])) < 0)
			return rc;
	return 0;
}

/* Everything the index lists, as the filter allows, after the commits
 * the walk found above it. */
static int ri_emit(enum_ctx *e, up_oids *out, size_t walked_commits)
{
	int rc;
	for (size_t i = 0; i < e->ri.commits; i++)
		if ((rc = grove__oidvec_push(out, &e->ri.ids[i])) < 0)
			return rc;
	if (e->up->r.filter == UP_FILTER_TREE0)
		return 0;
	for (size_t i = e->ri.commits; i < e->ri.count; i++)
		if ((e->up->r.filter == UP_FILTER_NONE || e->ri.types[i] == GROVE_OBJ_TREE) &&
		    (rc = grove__oidvec_push(out, &e->ri.ids[i])) < 0)
			return rc;
	return walked_commits ? ri_load_seen(e) : 0;
}

/* include-tag: annotated tags whose target is being sent. */
static int include_tags(enum_ctx *e)
{
	grove__upload_pack *up = e->up;
	int rc;
	for (size_t i = 0; i < up->nrefs; i++) {
		const up_ref *r = &up->refs[i];
		grove__cnode *c;
		int sent;
		if (!r->has_peeled || strncmp(r->name, "refs/tags/", 10))
			continue;
		if (grove__oidset_contains(&e->seen, &r->id))
			continue;
		if (e->client_has && grove__oidset_contains(e->client_has, &r->id))
			continue;
		if ((rc = grove__cwalk_get(&e->w, &r->peeled, 0, &c)) < 0)
			return rc;
		sent = ((c->flags & F_EMITTED) && !(c->flags & F_UNINT)) ||
			(e->use_ri && grove__oidset_contains(&e->ri_commits, &r->peeled));
		if (!sent && (rc = ri_load_seen(e)) < 0)
			return rc;
		if (!sent && grove__oidset_contains(&e->seen, &r->peeled) &&
		    !(e->client_has && grove__oidset_contains(e->client_has, &r->peeled)))
			sent = 1;
		if (!sent)
			continue;
		/* The tag and any tags between it and the target. */
		{
			grove_oid id = r->id;
			for (int hops = 0; hops < 64 && !grove__oid_equal(&id, &r->peeled); hops++) {
				grove_buf buf = { 0 };
				grove__tag tag;
				if ((rc = grove__oidset_add(&e->seen, &id)) < 0)
					return rc;
				if (rc == 1 && (rc = grove__oidvec_push(e->out, &id)) < 0)
					return rc;
				if ((rc = grove__read(up->g, &id, GROVE_OBJ_TAG, &buf)) < 0)
					return rc;
				rc = grove__tag_parse(buf.data, buf.size, &tag);
				grove_buf_dispose(&buf);
				if (rc < 0)
					return rc;
				id = tag.target;
				grove__tag_dispose(&tag);
			}
		}
	}
	return 0;
}

static int enumerate(grove__upload_pack *up, up_oids *out, grove__oidset *client_has,
	int allow_index)
{
	enum_ctx e;
	up_oids commits = { 0 }, roots = { 0 };
	int rc = 0;

	memset(&e, 0, sizeof(e));
	e.up = up;
	e.out = out;
	e.client_has = client_has;
	e.next_check = 1024;
	clock_gettime(CLOCK_MONOTONIC, &e.last);
	grove__cwalk_init(&e.w, up->g);
	if ((rc = grove__up_trees_new(&e.trees, up->g, TREE_CACHE_BYTES)) < 0)
		goto done;

	for (size_t i = 0; i < up->r.client_shallow.count; i++)
		if ((rc = grove__oidset_add(&e.client_shallow, &up->r.client_shallow.ids[i])) < 0)
			goto done;
	/* What the client has first, so wants it has are not sent. */
	for (size_t i = 0; i < up->r.common.count; i++)
		if ((rc = add_client_commit(&e, &up->r.common.ids[i])) < 0)
			goto done;
	for (size_t i = 0; i < up->r.client_shallow.count; i++)
		if ((rc = add_client_commit(&e, &up->r.client_shallow.ids[i])) < 0)
			goto done;
	for (size_t i = 0; i < up->r.wants.count; i++)
		if ((rc = add_want(&e, &up->r.wants.ids[i], &roots)) < 0)
			goto done;
	if (allow_index && ri_applies(&e) && (rc = ri_open(&e)) < 0)
		goto done;
	if ((rc = queue_unshallowed(&e)) < 0 || (rc = walk_commits(&e, &commits)) < 0)
		goto done;
	if (e.use_ri && !e.ri_hit) {
		/* The wants do not contain the index's commit: the index
		 * would send too much. */
		rc = RETRY_WITHOUT_INDEX;
		goto done;
	}

	/* Commits first, in walk order (newest first), like git. */
	for (size_t i = 0; i < commits.count; i++) {
		grove__cnode *c;
		if ((rc = grove__cwalk_get(&e.w, &commits.ids[i], 0, &c)) < 0)
			goto done;
		if (c->flags & F_UNINT) /* found to be the client's after all */
			continue;
		if ((rc = grove__oidvec_push(out, &c->id)) < 0)
			goto done;
	}
	if (e.use_ri && (rc = ri_emit(&e, out, commits.count)) < 0)
		goto done;
	/* The client has the trees of the uninteresting parents at the edge. */
	if (up->r.filter != UP_FILTER_TREE0) {
		for (size_t i = 0; i < commits.count; i++) {
			grove__cnode *c;
			if ((rc = grove__cwalk_get(&e.w, &commits.ids[i], 0, &c)) < 0)
				goto done;
			if ((c->flags & F_UNINT) || parents_cut(&e, c))
				continue;
			for (size_t k = 0; k < c->parent_count; k++) {
				grove__cnode *p;
				grove_oid tree;
				if ((rc = grove__cwalk_get(&e.w, &c->parents[k], 0, &p)) < 0)
					goto done;
				if (!(p->flags & F_UNINT))
					continue;
				if (client_has && (rc = grove__oidset_add(client_has, &p->id)) < 0)
					goto done;
				if ((rc = cnode_tree(&e, p, &tree)) < 0 ||
				    (rc = walk_trees(&e, &tree, 0)) < 0)
					goto done;
			}
		}
	}
	for (size_t i = 0; i < commits.count; i++) {
		grove__cnode *c;
		grove_oid tree;
		if ((rc = grove__cwalk_get(&e.w, &commits.ids[i], 0, &c)) < 0)
			goto done;
		if (c->flags & F_UNINT)
			continue;
		if ((rc = cnode_tree(&e, c, &tree)) < 0 || (rc = walk_trees(&e, &tree, 1)) < 0)
			goto done;
	}
	/* Wanted trees: themselves even under tree:0. */
	for (size_t i = 0; i < roots.count; i++) {
		if (up->r.filter == UP_FILTER_TREE0) {
			if ((rc = grove__oidset_add(&e.seen, &roots.ids[i])) == 1)
				rc = grove__oidvec_push(out, &roots.ids[i]);
		} else {
			rc = walk_trees(&e, &roots.ids[i], 1);
		}
		if (rc < 0)
			goto done;
	}
	if ((up->r.caps & UP_INCLUDE_TAG) && (rc = include_tags(&e)) < 0)
		goto done;
	rc = 0;
done:
	grove__cwalk_dispose(&e.w);
	grove__up_trees_free(e.trees);
	grove__oidset_dispose(&e.seen);
	grove__oidset_dispose(&e.client_shallow);
	grove__oidvec_dispose(&commits);
	grove__oidvec_dispose(&roots);
	grove__oidset_dispose(&e.ri_commits);
	grove__reach_index_dispose(&e.ri);
	grove__oidvec_dispose(&e.stack);
	return rc;
}

int grove__up_enumerate(grove__upload_pack *up, up_oids *out, grove__oidset *client_has)
{
	size_t start = out->count;
	int rc = enumerate(up, out, client_has, 1);
	if (rc == RETRY_WITHOUT_INDEX) {
		out->count = start;
		rc = enumerate(up, out, client_has, 0);
	}
	return rc;
}
