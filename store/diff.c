/* Leaf-level differences between two trees. */
#include "error.h"
#include "oid.h"
#include "store.h"
#include "view.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	grove *g;
	grove_diff out;
	size_t cap;
	grove__sbuf path;
} diff_ctx;

static int emit(diff_ctx *d, grove_diff_kind kind, const grove_oid *old_id, uint32_t old_mode,
	const grove_oid *new_id, uint32_t new_mode)
{
	grove_diff_entry *e;
	if (d->out.count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		grove_diff_entry *ne = grove__realloc(d->out.entries, cap * sizeof(*ne));
		if (!ne)
			return GROVE_ENOMEM;
		d->out.entries = ne;
		d->cap = cap;
	}
	e = &d->out.entries[d->out.count];
	memset(e, 0, sizeof(*e));
	if (!(e->path = grove__strndup(d->path.data, d->path.len)))
		return GROVE_ENOMEM;
	e->kind = kind;
	if (old_id)
		e->old_id = *old_id;
	if (new_id)
		e->new_id = *new_id;
	e->old_mode = old_mode;
	e->new_mode = new_mode;
	d->out.count++;
	return 0;
}

static int push_name(diff_ctx *d, const char *name, size_t len)
{
	int err;
	if (d->path.len && (err = grove__sbuf_putc(&d->path, '/')) < 0)
		return err;
	return grove__sbuf_put(&d->path, name, len);
}

static void pop_to(diff_ctx *d, size_t mark)
{
	d->path.len = mark;
	if (d->path.data)
		d->path.data[mark] = '\0';
}

static int diff_tree(diff_ctx *d, const grove_oid *a, const grove_oid *b);

/* Every leaf under tree_id reported as added (side 1) or removed (side 0). */
static int whole_tree(diff_ctx *d, const grove_oid *tree_id, int added)
{
	return added ? diff_tree(d, NULL, tree_id) : diff_tree(d, tree_id, NULL);
}

static int leaf_or_tree(diff_ctx *d, const grove__tree_entry *e, int added)
{
	if (e->mode == GROVE_MODE_TREE)
		return whole_tree(d, &e->id, added);
	return added ? emit(d, GROVE_DIFF_ADDED, NULL, 0, &e->id, e->mode)
		     : emit(d, GROVE_DIFF_REMOVED, &e->id, e->mode, NULL, 0);
}

static int diff_entries(diff_ctx *d, const grove__tree_entry *x, const grove__tree_entry *y)
{
	int xt, yt;
	if (!x)
		return leaf_or_tree(d, y, 1);
	if (!y)
		return leaf_or_tree(d, x, 0);
	if (x->mode == y->mode && grove__oid_equal(&x->id, &y->id))
		return 0;
	xt = x->mode == GROVE_MODE_TREE;
	yt = y->mode == GROVE_MODE_TREE;
	if (xt && yt)
		return diff_tree(d, &x->id, &y->id);
	if (!xt && !yt)
		return emit(d, GROVE_DIFF_MODIFIED, &x->id, x->mode, &y->id, y->mode);
	/* A value replaced by a directory, or the reverse. */
	{
		int err = leaf_or_tree(d, x, 0);
		return err < 0 ? err : leaf_or_tree(d, y, 1);
	}
}

static int diff_tree(diff_ctx *d, const grove_oid *a, const grove_oid *b)
{
	grove__tree *ta = NULL, *tb = NULL;
	int err = 0;
	if (a && b && grove__oid_equal(a, b))
		return 0;
	if (a && (err = grove__tree_get(d->g, a, &ta)) < 0)
		return err;
	if (b && (err = grove__tree_get(d->g, b, &tb)) < 0) {
		grove__tree_release(ta);
		return err;
	}
	for (size_t i = 0; ta && i < ta->count && !err; i++) {
		const grove__tree_entry *x = &ta->entries[i];
		long j = tb ? grove__tree_find(tb, x->name, x->name_len) : -1;
		size_t mark = d->path.len;
		if ((err = push_name(d, x->name, x->name_len)) == 0)
			err = diff_entries(d, x, j >= 0 ? &tb->entries[j] : NULL);
		pop_to(d, mark);
	}
	for (size_t j = 0; tb && j < tb->count && !err; j++) {
		const grove__tree_entry *y = &tb->entries[j];
		size_t mark = d->path.len;
		if (ta && grove__tree_find(ta, y->name, y->name_len) >= 0)
			continue;
		if ((err = push_name(d, y->name, y->name_len)) == 0)
			err = diff_entries(d, NULL, y);
		pop_to(d, mark);
	}
	grove__tree_release(ta);
	grove__tree_release(tb);
	return err;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const grove_diff_entry *)a)->path, ((const grove_diff_entry *)b)->path);
}

/* The id and mode at prefix in a tree; absent gives a zero id. */
static int at_prefix(grove *g, const grove_oid *tree, const char *prefix, grove_oid *id, uint32_t *mode)
{
	int err;
	*mode = 0;
	memset(id, 0, sizeof(*id));
	if (!tree)
		return 0;
	err = grove__path_lookup(g, tree, prefix, id, mode);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		memset(id, 0, sizeof(*id));
		*mode = 0;
		return 0;
	}
	return err;
}

int grove_diff_trees(grove *g, const grove_oid *old_tree, const grove_oid *new_tree,
	const char *prefix, grove_diff *out)
{
	diff_ctx d = { 0 };
	int err;
	d.g = g;
	if (prefix && *prefix) {
		grove__tree_entry x = { 0 }, y = { 0 };
		if ((err = grove_key_validate(prefix)) < 0)
			return err;
		if ((err = at_prefix(g, old_tree, prefix, &x.id, &x.mode)) < 0 ||
		    (err = at_prefix(g, new_tree, prefix, &y.id, &y.mode)) < 0)
			return err;
		/* Both absent: no difference (diff_entries needs one side). */
		if ((x.mode || y.mode) && (err = grove__sbuf_puts(&d.path, prefix)) == 0)
			err = diff_entries(&d, x.mode ? &x : NULL, y.mode ? &y : NULL);
	} else {
		err = diff_tree(&d, old_tree, new_tree);
	}
	grove__sbuf_dispose(&d.path);
	if (err < 0) {
		grove_diff_dispose(&d.out);
		return err;
	}
	if (d.out.count)
		qsort(d.out.entries, d.out.count, sizeof(grove_diff_entry), entry_cmp);
	*out = d.out;
	return 0;
}

int grove_diff_commits(grove *g, const grove_oid *old_commit, const grove_oid *new_commit,
	const char *prefix, grove_diff *out)
{
	grove_oid a, b;
	int err;
	if (old_commit && !grove_oid_is_zero(old_commit) && (err = grove__commit_tree(g, old_commit, &a)) < 0)
		return err;
	if (new_commit && !grove_oid_is_zero(new_commit) && (err = grove__commit_tree(g, new_commit, &b)) < 0)
		return err;
	return grove_diff_trees(g, old_commit && !grove_oid_is_zero(old_commit) ? &a : NULL,
		new_commit && !grove_oid_is_zero(new_commit) ? &b : NULL, prefix, out);
}
