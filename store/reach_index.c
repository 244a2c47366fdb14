/* The reachability index (reach_index.h): building, storing, reading. */
#include "reach_index.h"

#include <stdlib.h>
#include <string.h>

#include "commit_walk.h"
#include "error.h"
#include "oid.h"
#include "oidset.h"

#define AUX_NAME "reach"
#define MAGIC "GRX1"
#define HEADER_LEN (4 + GROVE_OID_RAWSZ + 4 + 4)
#define F_QUEUED 1u

typedef struct {
	grove *g;
	grove__sbuf types, ids;
	size_t count;
	grove__oidset seen;
	grove__oidvec stack;
} builder;

static int add(builder *b, grove_otype type, const grove_oid *id)
{
	unsigned char t = (unsigned char)type;
	int rc;
	if ((rc = grove__sbuf_put(&b->types, &t, 1)) < 0 ||
	    (rc = grove__sbuf_put(&b->ids, id->id, GROVE_OID_RAWSZ)) < 0)
		return rc;
	b->count++;
	return 0;
}

/* The trees and blobs below root not added yet: a tree when it is taken
 * off the stack, a blob when its tree is read (upload-pack's order). */
static int add_trees(builder *b, const grove_oid *root)
{
	int rc;
	if ((rc = grove__oidset_add(&b->seen, root)) <= 0)
		return rc;
	b->stack.count = 0;
	if ((rc = grove__oidvec_push(&b->stack, root)) < 0)
		return rc;
	while (b->stack.count) {
		grove_oid id = b->stack.ids[--b->stack.count];
		grove__tree *t;
		if ((rc = add(b, GROVE_OBJ_TREE, &id)) < 0 || (rc = grove__tree_get(b->g, &id, &t)) < 0)
			return rc;
		for (size_t i = t->count; i-- > 0 && rc >= 0;) {
			const grove__tree_entry *en = &t->entries[i];
			if (en->mode == GROVE_MODE_GITLINK)
				continue;
			if ((rc = grove__oidset_add(&b->seen, &en->id)) <= 0)
				continue;
			rc = en->mode == GROVE_MODE_TREE ? grove__oidvec_push(&b->stack, &en->id) : add(b, GROVE_OBJ_BLOB, &en->id);
		}
		grove__tree_release(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int grove__reach_index_build(grove *g, const grove_oid *commit, grove__sbuf *out)
{
	builder b;
	grove__cwalk w;
	grove__cnode *c;
	size_t commits;
	unsigned char hdr[HEADER_LEN];
	int rc;

	memset(&b, 0, sizeof(b));
	b.g = g;
	grove__cwalk_init(&w, g);
	if ((rc = grove__cwalk_get(&w, commit, 1, &c)) < 0)
		goto done;
	c->flags |= F_QUEUED;
	if ((rc = grove__cwalk_push(&w, c)) < 0)
		goto done;
	while ((c = grove__cwalk_pop(&w))) {
		if ((rc = add(&b, GROVE_OBJ_COMMIT, &c->id)) < 0)
			goto done;
		for (size_t k = 0; k < c->parent_count; k++) {
			grove__cnode *p;
			if ((rc = grove__cwalk_get(&w, &c->parents[k], 1, &p)) < 0)
				goto done;
			if (p->flags & F_QUEUED)
				continue;
			p->flags |= F_QUEUED;
			if ((rc = grove__cwalk_push(&w, p)) < 0)
				goto done;
		}
	}
	commits = b.count;
	for (size_t i = 0; i < commits; i++) {
		grove_oid id, tree;
		memcpy(id.id, b.ids.data + i * GROVE_OID_RAWSZ, GROVE_OID_RAWSZ);
		if ((rc = grove__cwalk_get(&w, &id, 1, &c)) < 0)
			goto done;
		tree = c->tree;
		if (grove__oid_equal(&tree, &grove__oid_zero) &&
		    (rc = grove__commit_tree(g, &id, &tree)) < 0)
			goto done;
		if ((rc = add_trees(&b, &tree)) < 0)
			goto done;
	}
	if (b.count > UINT32_MAX) {
		rc = grove__error_set(GROVE_ERROR, "reachability index: too many objects");
		goto done;
	}
	memcpy(hdr, MAGIC, 4);
	memcpy(hdr + 4, commit->id, GROVE_OID_RAWSZ);
	put_u32(hdr + 4 + GROVE_OID_RAWSZ, (uint32_t)b.count);
	put_u32(hdr + 8 + GROVE_OID_RAWSZ, (uint32_t)commits);
	grove__sbuf_reset(out);
	if ((rc = grove__sbuf_grow(out, HEADER_LEN + b.types.len + b.ids.len)) < 0 ||
	    (rc = grove__sbuf_put(out, hdr, HEADER_LEN)) < 0 ||
	    (rc = grove__sbuf_put(out, b.types.data, b.types.len)) < 0 ||
	    (rc = grove__sbuf_put(out, b.ids.data, b.ids.len)) < 0)
		goto done;
	rc = 0;
done:
	grove__cwalk_dispose(&w);
	grove__oidset_dispose(&b.seen);
	grove__sbuf_dispose(&b.types);
	grove__sbuf_dispose(&b.ids);
	grove__oidvec_dispose(&b.stack);
	return rc;
}

int grove__reach_index_read(grove *g, grove__reach_index *out)
{
	grove_backend *be = g->be;
	const unsigned char *p;
	uint64_t count, commits;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!be->ops->aux_get)
		return grove__error_set(GROVE_ENOTFOUND, "%s stores keep no reachability index",
			be->ops->name);
	if ((rc = be->ops->aux_get(be, AUX_NAME, &out->buf)) < 0)
		return rc;
	p = out->buf.data;
	if (out->buf.size < HEADER_LEN || memcmp(p, MAGIC, 4))
		goto corrupt;
	count = get_u32(p + 4 + GROVE_OID_RAWSZ);
	commits = get_u32(p + 8 + GROVE_OID_RAWSZ);
	if (commits == 0 || commits > count ||
	    out->buf.size != HEADER_LEN + count * (1 + GROVE_OID_RAWSZ))
		goto corrupt;
	memcpy(out->commit.id, p + 4, GROVE_OID_RAWSZ);
	out->count = (size_t)count;
	out->commits = (size_t)commits;
	out->types = p + HEADER_LEN;
	out->ids = (const grove_oid *)(p + HEADER_LEN + count);
	if (!grove__oid_equal(&out->ids[0], &out->commit))
		goto corrupt;
	for (size_t i = 0; i < out->count; i++)
		if (out->types[i] != (i < out->commits ? GROVE_OBJ_COMMIT : GROVE_OBJ_TREE) &&
		    (i < out->commits || out->types[i] != GROVE_OBJ_BLOB))
			goto corrupt;
	return 0;
corrupt:
	grove__reach_index_dispose(out);
	return grove__error_set(GROVE_ECORRUPT, "reachability index damaged");
}

void grove__reach_index_dispose(grove__reach_index *ri)
{
	grove_buf_dispose(&ri->buf);
	memset(ri, 0, sizeof(*ri));
}

typedef struct {
	grove__cwalk w;
	grove_oid best;
	int64_t best_time;
	int found;
} newest_branch;

static int consider_branch(const char *refname, const grove_oid *id, void *payload)
{
	newest_branch *nb = payload;
	grove__cnode *c;
	(void)refname;
	/* A branch that is not a readable commit is not a clone's target. */
	if (grove__cwalk_get(&nb->w, id, 1, &c) < 0 || !c->parsed)
		return 0;
	if (!nb->found || c->time > nb->best_time) {
		nb->best = *id;
		nb->best_time = c->time;
		nb->found = 1;
	}
	return 0;
}

/*
 * The commit most clones will want: HEAD's, or with HEAD unborn (a
 * repository whose HEAD names a branch it lacks) the newest branch head.
 * 1 and *out, 0 when there is none.
 */
static int clone_target(grove *g, grove_oid *out)
{
	newest_branch nb;
	char *target = NULL;
	int rc = g->be->ops->head_read(g->be, &target);
	if (rc < 0)
		return rc;
	rc = g->be->ops->ref_read(g->be, target, out);
	free(target);
	if (rc != GROVE_ENOTFOUND)
		return rc < 0 ? rc : 1;
	memset(&nb, 0, sizeof(nb));
	grove__cwalk_init(&nb.w, g);
	rc = g->be->ops->ref_foreach(g->be, "refs/heads/", consider_branch, &nb);
	grove__cwalk_dispose(&nb.w);
	if (rc < 0)
		return rc;
	*out = nb.best;
	return nb.found;
}

int grove__reach_index_update(grove *g)
{
	grove_backend *be = g->be;
	grove__reach_index cur;
	grove__sbuf enc = GROVE_SBUF_INIT;
	grove_oid head;
	grove_otype type;
	size_t size;
	int rc;

	if (!be->ops->aux_get || !be->ops->aux_put || g->opts.read_only)
		return 0;
	if ((rc = clone_target(g, &head)) < 0)
		return rc;
	if (rc == 0)
		return be->ops->aux_put(be, AUX_NAME, NULL, 0);
	if ((rc = be->ops->read_header(be, &head, &type, &size)) < 0)
		return rc;
	if (type != GROVE_OBJ_COMMIT)
		return be->ops->aux_put(be, AUX_NAME, NULL, 0);
	rc = grove__reach_index_read(g, &cur);
	if (rc == 0) {
		int same = grove__oid_equal(&cur.commit, &head);
		grove__reach_index_dispose(&cur);
		if (same)
			return 0;
	}
	if ((rc = grove__reach_index_build(g, &head, &enc)) == 0)
		rc = be->ops->aux_put(be, AUX_NAME, enc.data, enc.len);
	grove__sbuf_dispose(&enc);
	return rc;
}
