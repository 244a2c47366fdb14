/*
 * Three-way merges of trees and branches.
 *
 * Trees are merged through their merge base, directory by directory.  A
 * subtree whose id is the same on two of the three sides is settled without
 * being read, so the cost follows the size of the changes, not of the store.
 * Criss-cross histories (several merge bases) are handled as git's
 * recursive strategy does: the bases are first merged into a virtual base
 * tree, resolving conflicts inside it by taking "ours" so the result is
 * deterministic, and the real merge then runs against that tree.
 *
 * New objects (merged trees, blobs made by merge callbacks) are kept in
 * memory until the merge succeeds, then written in one write set, together
 * with the merge commit and the branch update when there is one.
 */
#include "error.h"
#include "oid.h"
#include "pending.h"
#include "store.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* Criss-cross recursion deeper than this uses the first base as is. */
#define MAX_VIRTUAL_DEPTH 32

struct grove__merge_driver {
	grove__merge_driver *next; /* older registrations */
	char *pattern;
	int has_slash;
	grove_merge_fn fn;
	void *payload;
};

/* --- drivers ----------------------------------------------------------- */

int grove_merge_register(grove *g, const char *pattern, grove_merge_fn fn, void *payload)
{
	grove__merge_driver *d;
	if (!g || !pattern || !fn)
		return grove__error_set(GROVE_EINVALID, "grove_merge_register: NULL argument");
	if (!*pattern)
		return grove__error_set(GROVE_EINVALID, "merge pattern is empty");
	d = grove__calloc(1, sizeof(*d));
	if (!d)
		return GROVE_ENOMEM;
	if (!(d->pattern = grove__strdup(pattern))) {
		free(d);
		return GROVE_ENOMEM;
	}
	d->has_slash = strchr(pattern, '/') != NULL;
	d->fn = fn;
	d->payload = payload;
	/* Newest first, so the first match is the latest registration.  Nodes
	 * are never changed or freed before close, so a merge may walk the
	 * list it saw without holding the lock. */
	pthread_mutex_lock(&g->merge_lock);
	d->next = g->merge_drivers;
	g->merge_drivers = d;
	pthread_mutex_unlock(&g->merge_lock);
	return 0;
}

void grove__merge_dispose(grove *g)
{
	grove__merge_driver *d = g->merge_drivers;
	while (d) {
		grove__merge_driver *next = d->next;
		free(d->pattern);
		free(d);
		d = next;
	}
	g->merge_drivers = NULL;
}

static const grove__merge_driver *find_driver(const grove__merge_driver *d, const char *path)
{
	const char *last = strrchr(path, '/');
	last = last ? last + 1 : path;
	for (; d; d = d->next) {
		if (d->has_slash ? fnmatch(d->pattern, path, FNM_PATHNAME) == 0
				 : fnmatch(d->pattern, last, 0) == 0)
			return d;
	}
	return NULL;
}

void grove_conflict_list_dispose(grove_conflict_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].path);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* --- merge context ----------------------------------------------------- */

/* One side of a path: mode 0 means absent. */
typedef struct {
	uint32_t mode;
	grove_oid id;
} ment;

typedef struct {
	grove *g;
	const grove__merge_driver *drivers;
	grove__pending pending; /* new objects, written when the merge is done */
	grove_conflict *conflicts;
	size_t nconf, cap_conf;
	int virtual_base; /* merging bases: settle conflicts by taking ours */
	grove__sbuf path; /* directory being merged, "" at the root */
} mctx;

static void ctx_init(mctx *c, grove *g)
{
	memset(c, 0, sizeof(*c));
	c->g = g;
	pthread_mutex_lock(&g->merge_lock);
	c->drivers = g->merge_drivers;
	pthread_mutex_unlock(&g->merge_lock);
}

static void ctx_dispose(mctx *c)
{
	grove__pending_dispose(&c->pending);
	for (size_t i = 0; i < c->nconf; i++)
		free(c->conflicts[i].path);
	free(c->conflicts);
	grove__sbuf_dispose(&c->path);
}

static long obj_find(const mctx *c, const grove_oid *id)
{
	return grove__pending_find(&c->pending, id);
}

/* Keeps a new object until the merge is written; takes data (freed on
 * failure too). */
static int obj_add(mctx *c, grove_otype type, char *data, size_t size, grove_oid *id_out)
{
	return grove__pending_add(&c->pending, type, data, size, id_out);
}

/* A tree: from this merge's new objects or from the store.  Zero = empty. */
typedef struct {
	grove__tree *t;
	int owned; /* parsed here (free) rather than from the cache (release) */
} mtree;

static int tree_load(mctx *c, const grove_oid *id, mtree *out)
{
	long k;
	out->t = NULL;
	out->owned = 0;
	if (grove_oid_is_zero(id))
		return 0;
	if ((k = obj_find(c, id)) >= 0) {
		out->owned = 1;
		return grove__tree_parse(id, c->pending.objs[k].data, c->pending.objs[k].size, &out->t);
	}
	return grove__tree_get(c->g, id, &out->t);
}

static void tree_drop(mtree *m)
{
	if (m->owned)
		grove__tree_free(m->t);
	else
		grove__tree_release(m->t);
	m->t = NULL;
}

static ment tree_entry(const mtree *m, const char *name, size_t len)
{
	ment e = { 0 };
	long i = m->t ? grove__tree_find(m->t, name, len) : -1;
	if (i >= 0) {
		e.mode = m->t->entries[i].mode;
		e.id = m->t->entries[i].id;
	}
	return e;
}

/* A blob's bytes; *owned says whether out must be disposed. */
static int blob_read(mctx *c, const ment *e, grove_buf *out, int *owned)
{
	long k = obj_find(c, &e->id);
	if (k >= 0) {
		out->data = c->pending.objs[k].data;
		out->size = c->pending.objs[k].size;
		*owned = 0;
		return 0;
	}
	*owned = 1;
	return grove__read(c->g, &e->id, GROVE_OBJ_BLOB, out);
}

/* --- conflicts ----------------------------------------------------------- */

static int same(const ment *a, const ment *b)
{
	if (a->mode != b->mode)
		return 0;
	return a->mode == 0 || grove__oid_equal(&a->id, &b->id);
}

static int is_tree(const ment *e)
{
	return e->mode == GROVE_MODE_TREE;
}

static int is_value(const ment *e)
{
	return e->mode != 0 && e->mode != GROVE_MODE_TREE;
}

/*
 * Inside a virtual base, a value both sides changed becomes a blob with
 * both versions between conflict markers, as git's recursive strategy
 * does.  It equals neither side, so the real merge still sees the path as
 * changed on both sides and reports (or hands to a callback) the true
 * conflict instead of silently picking whichever side matched a guess.
 */
static int virtual_conflict_blob(mctx *c, const ment *o, const ment *t, ment *res)
{
	grove_buf bufs[2] = { { 0 } };
	int owned[2] = { 0 };
	grove__sbuf out = GROVE_SBUF_INIT;
	const ment *sides[2] = { o, t };
	static const char *marks[3] = { "<<<<<<< virtual base: ours\n", "=======\n",
		">>>>>>> virtual base: theirs\n" };
	int err = 0;
	for (int i = 0; i < 2 && err == 0; i++)
		err = blob_read(c, sides[i], &bufs[i], &owned[i]);
	for (int i = 0; i < 2 && err == 0; i++) {
		const char *d = bufs[i].data;
		err = grove__sbuf_puts(&out, marks[i]);
		if (err == 0)
			err = grove__sbuf_put(&out, d, bufs[i].size);
		if (err == 0 && bufs[i].size && d[bufs[i].size - 1] != '\n')
			err = grove__sbuf_putc(&out, '\n');
	}
	if (err == 0)
		err = grove__sbuf_puts(&out, marks[2]);
	if (err == 0) {
		size_t len;
		char *data = grove__sbuf_detach(&out, &len);
		if (!data)
			err = GROVE_ENOMEM;
		else if ((err = obj_add(c, GROVE_OBJ_BLOB, data, len, &res->id)) == 0)
			res->mode = o->mode;
	}
	grove__sbuf_dispose(&out);
	for (int i = 0; i < 2; i++)
		if (owned[i])
			grove_buf_dispose(&bufs[i]);
	return err;
}

static int is_blob_mode(uint32_t mode)
{
	return mode == GROVE_MODE_BLOB || mode == GROVE_MODE_EXEC || mode == GROVE_MODE_LINK;
}

/*
 * Records a conflict at the current path, or settles it inside a virtual
 * base (conflict markers for values both sides changed, else ours).  *res
 * gets ours for a real conflict: a conflicted merge is never written, so
 * the placeholder only keeps the walk going.
 */
static int conflict(mctx *c, grove_conflict_kind kind, const ment *b, const ment *o, const ment *t, ment *res)
{
	grove_conflict *x;
	*res = *o;
	if (c->virtual_base) {
		if ((kind == GROVE_CONFLICT_CONTENT || kind == GROVE_CONFLICT_ADD_ADD) &&
		    is_blob_mode(o->mode) && is_blob_mode(t->mode))
			return virtual_conflict_blob(c, o, t, res);
		return 0;
	}
	if (c->nconf == c->cap_conf) {
		size_t cap = c->cap_conf ? c->cap_conf * 2 : 8;
		grove_conflict *nc = grove__realloc(c->conflicts, cap * sizeof(*nc));
		if (!nc)
			return GROVE_ENOMEM;
		c->conflicts = nc;
		c->cap_conf = cap;
	}
	x = &c->conflicts[c->nconf];
	if (!(x->path = grove__strdup(c->path.data)))
		return GROVE_ENOMEM;
	x->kind = kind;
	x->base = b->id;
	x->ours = o->id;
	x->theirs = t->id;
	if (!b->mode)
		memset(&x->base, 0, sizeof(x->base));
	if (!o->mode)
		memset(&x->ours, 0, sizeof(x->ours));
	if (!t->mode)
		memset(&x->theirs, 0, sizeof(x->theirs));
	c->nconf++;
	return 0;
}

/*
 * Asks the registered content merge callback, if any.  Returns 1 when it
 * resolved the path (*res set; mode 0 = deleted), 0 when it is still a
 * conflict, < 0 to abort.
 */
static int run_driver(mctx *c, const ment *b, const ment *o, const ment *t, uint32_t mode, ment *res)
{
	const ment *sides[3] = { b, o, t };
	grove_buf bufs[3] = { { 0 } };
	int owned[3] = { 0 }, have[3] = { 0 };
	grove_buf result = { 0 };
	const grove__merge_driver *d;
	int deleted = 0, rc = 0;

	/* Submodule links have no bytes to merge. */
	for (int i = 0; i < 3; i++)
		if (sides[i]->mode == GROVE_MODE_GITLINK)
			return 0;
	if (!(d = find_driver(c->drivers, c->path.data)))
		return 0;
	for (int i = 0; i < 3 && rc == 0; i++) {
		if (!sides[i]->mode)
			continue;
		rc = blob_read(c, sides[i], &bufs[i], &owned[i]);
		have[i] = rc == 0;
	}
	if (rc == 0) {
		rc = d->fn(c->path.data, have[0] ? &bufs[0] : NULL, have[1] ? &bufs[1] : NULL,
			have[2] ? &bufs[2] : NULL, &result, &deleted, d->payload);
		if (rc == GROVE_ECONFLICT) {
			grove_error_clear();
			rc = 0;
		} else if (rc != 0) {
			if (rc > 0)
				rc = GROVE_ERROR;
			if (grove_error_code() != rc)
				grove__error_set(rc, "merge callback for '%s' failed (%s)", c->path.data, grove_code_name(rc));
			free(result.data);
		} else if (deleted) {
			free(result.data);
			memset(res, 0, sizeof(*res));
			rc = 1;
		} else {
			char *data = result.data;
			if (!data && !(data = grove__malloc(1)))
				rc = GROVE_ENOMEM;
			else if ((rc = obj_add(c, GROVE_OBJ_BLOB, data, result.size, &res->id)) == 0) {
				res->mode = mode;
				rc = 1;
			}
		}
	}
	for (int i = 0; i < 3; i++)
		if (owned[i])
			grove_buf_dispose(&bufs[i]);
	return rc;
}

/* 3-way choice of one field; -1 when both sides changed it differently. */
static int pick3(int b_eq_o, int b_eq_t, int o_eq_t)
{
	if (o_eq_t || b_eq_t)
		return 0; /* ours */
	if (b_eq_o)
		return 1; /* theirs */
	return -1;
}

/* Merges values (neither side a directory; b, o, t may be absent). */
static int merge_value(mctx *c, const ment *b, const ment *o, const ment *t, ment *res)
{
	grove_conflict_kind kind;
	uint32_t mode = o->mode ? o->mode : t->mode;
	int mode_ok = 1, rc;

	if (same(o, t) || same(b, t)) {
		*res = *o;
		return 0;
	}
	if (same(b, o)) {
		*res = *t;
		return 0;
	}
	if (o->mode && t->mode) {
		int m, i;
		kind = b->mode ? GROVE_CONFLICT_CONTENT : GROVE_CONFLICT_ADD_ADD;
		m = b->mode ? pick3(b->mode == o->mode, b->mode == t->mode, o->mode == t->mode)
			    : (o->mode == t->mode ? 0 : -1);
		if (m < 0)
			mode_ok = 0;
		else
			mode = m ? t->mode : o->mode;
		i = b->mode ? pick3(grove__oid_equal(&b->id, &o->id), grove__oid_equal(&b->id, &t->id),
				       grove__oid_equal(&o->id, &t->id))
			    : (grove__oid_equal(&o->id, &t->id) ? 0 : -1);
		if (i >= 0) {
			/* Only the modes differed. */
			if (!mode_ok)
				return conflict(c, kind, b, o, t, res);
			res->mode = mode;
			res->id = i ? t->id : o->id;
			return 0;
		}
	} else {
		kind = GROVE_CONFLICT_MODIFY_DELETE;
	}
	if (mode_ok && (rc = run_driver(c, b, o, t, mode, res)) != 0)
		return rc < 0 ? rc : 0;
	return conflict(c, kind, b, o, t, res);
}

static int merge_dir(mctx *c, const grove_oid *b, const grove_oid *o, const grove_oid *t, grove_oid *out);

/* Merges one name of a directory. */
static int merge_entry(mctx *c, const ment *b, const ment *o, const ment *t, ment *res)
{
	if (same(o, t) || same(b, t)) {
		*res = *o;
		return 0;
	}
	if (same(b, o)) {
		*res = *t;
		return 0;
	}
	if ((is_tree(o) && is_value(t)) || (is_value(o) && is_tree(t)))
		return conflict(c, GROVE_CONFLICT_FILE_DIRECTORY, b, o, t, res);
	if (is_tree(o) || is_tree(t)) {
		/* Directories (or a directory and nothing): merge inside.  A
		 * value in the base was removed on both sides. */
		static const grove_oid zero;
		grove_oid merged;
		int err = merge_dir(c, is_tree(b) ? &b->id : &zero, is_tree(o) ? &o->id : &zero,
			is_tree(t) ? &t->id : &zero, &merged);
		if (err < 0)
			return err;
		memset(res, 0, sizeof(*res));
		if (!grove_oid_is_zero(&merged)) {
			res->mode = GROVE_MODE_TREE;
			res->id = merged;
		}
		return 0;
	}
	{
		/* Values (or absent).  A directory in the base was removed on
		 * both sides, so it counts as absent here. */
		ment bv = { 0 };
		if (is_value(b))
			bv = *b;
		return merge_value(c, &bv, o, t, res);
	}
}

typedef struct {
	const char *name;
	size_t len;
} mname;

static int mname_cmp(const void *x, const void *y)
{
	const mname *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->name, b->name, n);
	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int write_tree(mctx *c, grove__tree_entry *entries, size_t n, grove_oid *out)
{
	grove__sbuf buf = GROVE_SBUF_INIT;
	char *data;
	size_t len;
	int err;
	grove__tree_sort(entries, n);
	if ((err = grove__tree_write(entries, n, &buf)) < 0) {
		grove__sbuf_dispose(&buf);
		return err;
	}
	if (!(data = grove__sbuf_detach(&buf, &len)))
		return GROVE_ENOMEM;
	return obj_add(c, GROVE_OBJ_TREE, data, len, out);
}

/*
 * Merges three directories (zero ids = empty).  *out is the merged tree,
 * zero when it came out empty (git cannot keep empty directories).
 */
static int merge_dir(mctx *c, const grove_oid *b, const grove_oid *o, const grove_oid *t, grove_oid *out)
{
	mtree trees[3] = { { 0 } };
	mname *names = NULL;
	grove__tree_entry *result = NULL;
	size_t nnames = 0, nres = 0, total = 0, dirlen = c->path.len;
	int err = 0, changed = 0;

	/* The cheap cases: no need to read anything. */
	if (grove__oid_equal(o, t) || grove__oid_equal(b, t)) {
		*out = *o;
		return 0;
	}
	if (grove__oid_equal(b, o)) {
		*out = *t;
		return 0;
	}
	if ((err = tree_load(c, b, &trees[0])) < 0 || (err = tree_load(c, o, &trees[1])) < 0 ||
	    (err = tree_load(c, t, &trees[2])) < 0)
		goto done;
	for (int i = 0; i < 3; i++)
		total += trees[i].t ? trees[i].t->count : 0;
	names = grove__malloc((total + 1) * sizeof(*names));
	result = grove__malloc((total + 1) * sizeof(*result));
	if (!names || !result) {
		err = GROVE_ENOMEM;
		goto done;
	}
	for (int i = 0; i < 3; i++)
		for (size_t k = 0; trees[i].t && k < trees[i].t->count; k++) {
			names[nnames].name = trees[i].t->entries[k].name;
			names[nnames].len = trees[i].t->entries[k].name_len;
			nnames++;
		}
	qsort(names, nnames, sizeof(*names), mname_cmp);
	for (size_t k = 0; k < nnames; k++) {
		ment eb, eo, et, res;
		if (k && !mname_cmp(&names[k - 1], &names[k]))
			continue;
		eb = tree_entry(&trees[0], names[k].name, names[k].len);
		eo = tree_entry(&trees[1], names[k].name, names[k].len);
		et = tree_entry(&trees[2], names[k].name, names[k].len);
		c->path.len = dirlen;
		if ((dirlen && (err = grove__sbuf_putc(&c->path, '/')) < 0) ||
		    (err = grove__sbuf_put(&c->path, names[k].name, names[k].len)) < 0)
			goto done;
		if ((err = merge_entry(c, &eb, &eo, &et, &res)) < 0)
			goto done;
		if (!same(&res, &eo))
			changed = 1;
		if (!res.mode)
			continue;
		result[nres].name = names[k].name;
		result[nres].name_len = names[k].len;
		result[nres].mode = res.mode;
		result[nres].id = res.id;
		nres++;
	}
	if (!changed)
		*out = *o; /* ours already is the result: no new tree */
	else if (!nres)
		memset(out, 0, sizeof(*out));
	else
		err = write_tree(c, result, nres, out);
done:
	c->path.len = dirlen;
	if (c->path.data)
		c->path.data[dirlen] = '\0';
	free(names);
	free(result);
	for (int i = 0; i < 3; i++)
		tree_drop(&trees[i]);
	return err;
}

/* --- merge bases and virtual bases ---------------------------------------- */

static int commit_tree(grove *g, const grove_oid *commit, grove_oid *tree)
{
	return grove__commit_tree(g, commit, tree);
}

/* Adds the merge bases of a and b to *set (no duplicates). */
static int add_bases(grove *g, const grove_oid *a, const grove_oid *b, grove_oid **set, size_t *n, size_t *cap)
{
	grove_oid *bases = NULL;
	size_t count = 0;
	int err = grove_merge_bases(g, a, b, &bases, &count);
	if (err < 0)
		return err;
	for (size_t i = 0; i < count; i++) {
		size_t k;
		for (k = 0; k < *n && !grove__oid_equal(&(*set)[k], &bases[i]); k++)
			;
		if (k < *n)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 4;
			grove_oid *ns = grove__realloc(*set, ncap * sizeof(*ns));
			if (!ns) {
				free(bases);
				return GROVE_ENOMEM;
			}
			*set = ns;
			*cap = ncap;
		}
		(*set)[(*n)++] = bases[i];
	}
	free(bases);
	return 0;
}

/* Drops every commit of set that is an ancestor of another one. */
static int reduce_bases(grove *g, grove_oid *set, size_t *n)
{
	for (size_t i = 0; i < *n;) {
		int dominated = 0;
		for (size_t k = 0; k < *n && !dominated; k++) {
			int r;
			if (k == i)
				continue;
			if ((r = grove__is_ancestor(g, &set[i], &set[k])) < 0)
				return r;
			dominated = r;
		}
		if (dominated) {
			memmove(&set[i], &set[i + 1], (*n - i - 1) * sizeof(*set));
			(*n)--;
		} else {
			i++;
		}
	}
	return 0;
}

/*
 * The tree to use as the base when merging over these merge bases: none =
 * empty, one = its tree, several = their recursive merge.  Merging the
 * bases one by one, the merge bases of "the bases merged so far" and the
 * next one are the best of the merge bases of each with it.
 */
static int virtual_base(mctx *c, const grove_oid *bases, size_t n, int depth, grove_oid *out)
{
	grove_oid acc;
	int err, saved = c->virtual_base;
	if (n == 0) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if ((err = commit_tree(c->g, &bases[0], &acc)) < 0)
		return err;
	if (n == 1 || depth >= MAX_VIRTUAL_DEPTH) {
		*out = acc;
		return 0;
	}
	c->virtual_base = 1;
	for (size_t i = 1; i < n && err == 0; i++) {
		grove_oid *inner = NULL, inner_tree, next_tree;
		size_t ninner = 0, cap = 0;
		for (size_t k = 0; k < i && err == 0; k++)
			err = add_bases(c->g, &bases[k], &bases[i], &inner, &ninner, &cap);
		if (err == 0)
			err = reduce_bases(c->g, inner, &ninner);
		if (err == 0)
			err = virtual_base(c, inner, ninner, depth + 1, &inner_tree);
		free(inner);
		if (err == 0)
			err = commit_tree(c->g, &bases[i], &next_tree);
		if (err == 0)
			err = merge_dir(c, &inner_tree, &acc, &next_tree, &acc);
	}
	c->virtual_base = saved;
	if (err == 0)
		*out = acc;
	return err;
}

/* Merges the trees of two commits; conflicts are collected in c. */
static int merge_commits(mctx *c, const grove_oid *ours, const grove_oid *theirs, grove_oid *tree_out)
{
	grove_oid *bases = NULL, base_tree, ours_tree, theirs_tree;
	size_t nbases = 0;
	int err;
	/* The path buffer must hold a string ("" at the root) from the start:
	 * callbacks and conflicts read it, in virtual bases too. */
	if ((err = grove__sbuf_put(&c->path, "", 0)) < 0)
		return err;
	if ((err = grove_merge_bases(c->g, ours, theirs, &bases, &nbases)) < 0)
		return err;
	err = virtual_base(c, bases, nbases, 0, &base_tree);
	free(bases);
	if (err < 0 || (err = commit_tree(c->g, ours, &ours_tree)) < 0 ||
	    (err = commit_tree(c->g, theirs, &theirs_tree)) < 0)
		return err;
	if ((err = merge_dir(c, &base_tree, &ours_tree, &theirs_tree, tree_out)) < 0)
		return err;
	if (grove_oid_is_zero(tree_out)) {
		/* Everything was removed: the result is git's empty tree. */
		char *empty = grove__malloc(1);
		if (!empty)
			return GROVE_ENOMEM;
		return obj_add(c, GROVE_OBJ_TREE, empty, 0, tree_out);
	}
	return 0;
}

/* --- results ------------------------------------------------------------- */

static int conflict_cmp(const void *x, const void *y)
{
	const grove_conflict *a = x, *b = y;
	return strcmp(a->path, b->path);
}

static int write_result(mctx *c, const grove_oid *root, const grove_ref_update *ref);
static int mark_live(mctx *c, const grove_oid *id);

/*
 * Hands the collected conflicts to the caller and reports them.  After a
 * criss-cross, a conflict's base may be an object of the virtual base;
 * those are written (no ref moves) so the caller can read every id it is
 * given.  That is best effort: failing to write them leaves the conflict
 * report intact.
 */
static int report_conflicts(mctx *c, grove_conflict_list *out)
{
	size_t n = c->nconf;
	int keep = 0;
	for (size_t i = 0; i < n; i++) {
		if (mark_live(c, &c->conflicts[i].base) < 0)
			break;
		keep = 1;
	}
	if (keep) {
		static const grove_oid zero;
		write_result(c, &zero, NULL);
	}
	qsort(c->conflicts, c->nconf, sizeof(*c->conflicts), conflict_cmp);
	grove__error_set(GROVE_ECONFLICT, "merge has %zu conflict%s, the first at '%s'", n,
		n == 1 ? "" : "s", c->conflicts[0].path);
	if (out) {
		out->items = c->conflicts;
		out->count = c->nconf;
		c->conflicts = NULL;
		c->nconf = c->cap_conf = 0;
	}
	return GROVE_ECONFLICT;
}

/* Marks the new objects the tree (or commit's tree) id needs. */
static int mark_live(mctx *c, const grove_oid *id)
{
	long k = obj_find(c, id);
	grove__tree *t;
	int err;
	if (k < 0 || c->pending.objs[k].live)
		return 0;
	c->pending.objs[k].live = 1;
	if (c->pending.objs[k].type != GROVE_OBJ_TREE)
		return 0;
	if ((err = grove__tree_parse(id, c->pending.objs[k].data, c->pending.objs[k].size, &t)) < 0)
		return err;
	for (size_t i = 0; i < t->count && err == 0; i++)
		err = mark_live(c, &t->entries[i].id);
	grove__tree_free(t);
	return err;
}

/*
 * Writes the new objects reachable from root (objects of virtual bases are
 * left out), plus an optional ref update, in one write set.
 */
static int write_result(mctx *c, const grove_oid *root, const grove_ref_update *ref)
{
	grove__object *recs;
	grove__write_set ws = { 0 };
	size_t n = 0;
	int err;
	if ((err = mark_live(c, root)) < 0)
		return err;
	if ((err = grove__pending_live_records(&c->pending, &recs, &n)) < 0)
		return err;
	ws.objects = recs;
	ws.object_count = n;
	ws.refs = ref;
	ws.ref_count = ref ? 1 : 0;
	if (n || ref) {
		pthread_mutex_lock(&c->g->write_lock);
		err = grove__write(c->g, &ws);
		pthread_mutex_unlock(&c->g->write_lock);
	}
	free(recs);
	return err;
}

int grove_merge_trees(grove *g, const grove_oid *ours, const grove_oid *theirs,
	grove_oid *tree_out, grove_conflict_list *conflicts)
{
	mctx c;
	grove_oid tree;
	int err;
	if (!g || !ours || !theirs || !tree_out)
		return grove__error_set(GROVE_EINVALID, "grove_merge_trees: NULL argument");
	if (conflicts)
		memset(conflicts, 0, sizeof(*conflicts));
	ctx_init(&c, g);
	err = merge_commits(&c, ours, theirs, &tree);
	if (err == 0 && c.nconf)
		err = report_conflicts(&c, conflicts);
	if (err == 0 && (err = write_result(&c, &tree, NULL)) == 0)
		*tree_out = tree;
	ctx_dispose(&c);
	return err;
}

/* --- branches ------------------------------------------------------------ */

static int move_branch(grove *g, const char *ref, const grove_oid *old_head, const grove_oid *new_head)
{
	grove_ref_update up = { 0 };
	grove__write_set ws = { 0 };
	int err;
	up.refname = ref;
	up.old_id = *old_head;
	up.new_id = *new_head;
	up.check_old = 1;
	ws.refs = &up;
	ws.ref_count = 1;
	pthread_mutex_lock(&g->write_lock);
	err = grove__write(g, &ws);
	pthread_mutex_unlock(&g->write_lock);
	return err;
}

static int merge_commit(grove *g, const char *ref, const char *branch, const char *from_rev,
	const grove_oid *head, const grove_oid *from, const grove_merge_opts *opts,
	grove_oid *out, grove_conflict_list *conflicts)
{
	grove_signature author, committer;
	const grove_commit_opts *co = opts ? opts->commit : NULL;
	grove__sbuf msg = GROVE_SBUF_INIT, cbuf = GROVE_SBUF_INIT;
	grove_oid tree, parents[2], commit;
	grove_ref_update up = { 0 };
	mctx c;
	int err;

	ctx_init(&c, g);
	if ((err = merge_commits(&c, head, from, &tree)) < 0)
		goto done;
	if (c.nconf) {
		err = report_conflicts(&c, conflicts);
		goto done;
	}
	parents[0] = *head;
	parents[1] = *from;
	grove__signature_defaults(&author, co ? co->author : NULL);
	grove__signature_defaults(&committer, co && co->committer ? co->committer : &author);
	if (!(co && co->message) && (err = grove__sbuf_printf(&msg, "Merge %s into %s", from_rev, branch)) < 0)
		goto done;
	if ((err = grove__commit_write(&tree, parents, 2, &author, &committer,
		     co && co->message ? co->message : msg.data, &cbuf)) < 0)
		goto done;
	{
		size_t len;
		char *data = grove__sbuf_detach(&cbuf, &len);
		if (!data) {
			err = GROVE_ENOMEM;
			goto done;
		}
		if ((err = obj_add(&c, GROVE_OBJ_COMMIT, data, len, &commit)) < 0)
			goto done;
	}
	/* The commit is live too: mark it, then everything its tree needs. */
	{
		long k = obj_find(&c, &commit);
		c.pending.objs[k].live = 1;
	}
	up.refname = ref;
	up.old_id = *head;
	up.new_id = commit;
	up.check_old = 1;
	if ((err = write_result(&c, &tree, &up)) == 0)
		*out = commit;
done:
	grove__sbuf_dispose(&msg);
	grove__sbuf_dispose(&cbuf);
	ctx_dispose(&c);
	return err;
}

int grove_merge(grove *g, const char *branch, const char *from_rev,
	const grove_merge_opts *opts, grove_oid *out, grove_conflict_list *conflicts)
{
	char ref[1100];
	grove_oid head, from, result;
	int err, r;

	if (!g || !branch || !from_rev)
		return grove__error_set(GROVE_EINVALID, "grove_merge: NULL argument");
	if (conflicts)
		memset(conflicts, 0, sizeof(*conflicts));
	if ((err = grove__branch_ref(branch, ref, sizeof(ref))) < 0 ||
	    (strncmp(branch, "refs/", 5) && (err = grove_branch_name_validate(branch)) < 0))
		return err;
	if ((err = grove_rev_resolve(g, from_rev, &from)) < 0)
		return err;
	err = g->be->ops->ref_read(g->be, ref, &head);
	if (err == GROVE_ENOTFOUND) {
		/* Unborn branch: it simply starts at from. */
		grove_error_clear();
		memset(&head, 0, sizeof(head));
		result = from;
		err = move_branch(g, ref, &head, &from);
		goto moved;
	}
	if (err < 0)
		return err;
	if ((r = grove__is_ancestor(g, &from, &head)) < 0)
		return r;
	if (r) {
		/* Already merged. */
		if (out)
			*out = head;
		return 0;
	}
	if (!(opts && opts->no_fast_forward)) {
		if ((r = grove__is_ancestor(g, &head, &from)) < 0)
			return r;
		if (r) {
			result = from;
			err = move_branch(g, ref, &head, &from);
			goto moved;
		}
	}
	err = merge_commit(g, ref, branch, from_rev, &head, &from, opts, &result, conflicts);
moved:
	if (err == GROVE_EHEADMOVED)
		return grove__error_set(err, "branch '%s' moved during the merge", branch);
	if (err < 0)
		return err;
	if (out)
		*out = result;
	return 0;
}
