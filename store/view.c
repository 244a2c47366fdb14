/* Read-only views of one commit's tree. */
#include "error.h"
#include "oid.h"
#include "store.h"
#include "view.h"

#include <stdlib.h>
#include <string.h>

struct grove_view {
	grove *g;
	grove_oid commit;
	grove_oid tree;
	int empty; /* unborn branch: no tree at all */
};

static int view_new(grove_view **out, grove *g, const grove_oid *commit)
{
	grove_view *v = grove__calloc(1, sizeof(*v));
	int err;
	if (!v)
		return GROVE_ENOMEM;
	v->g = g;
	if (commit) {
		v->commit = *commit;
		if ((err = grove__commit_tree(g, commit, &v->tree)) < 0) {
			free(v);
			return err;
		}
	} else {
		v->empty = 1;
	}
	*out = v;
	return 0;
}

int grove_view_open_commit(grove_view **out, grove *g, const grove_oid *commit)
{
	if (!out || !g || !commit)
		return grove__error_set(GROVE_EINVALID, "grove_view_open_commit: NULL argument");
	return view_new(out, g, commit);
}

int grove_view_open(grove_view **out, grove *g, const char *rev)
{
	grove_oid id;
	int err;
	if (!out || !g || !rev)
		return grove__error_set(GROVE_EINVALID, "grove_view_open: NULL argument");
	err = grove_rev_resolve(g, rev, &id);
	if (err == GROVE_ENOTFOUND && strlen(rev) != GROVE_OID_HEXSZ) {
		/* An unborn branch reads as empty, like a fresh repository. */
		char ref[1100];
		if (grove__branch_ref(strcmp(rev, "HEAD") ? rev : "main", ref, sizeof(ref)) == 0) {
			grove_error_clear();
			return view_new(out, g, NULL);
		}
	}
	if (err < 0)
		return err;
	return view_new(out, g, &id);
}

void grove_view_free(grove_view *v)
{
	free(v);
}

const grove_oid *grove_view_commit(const grove_view *v)
{
	return &v->commit;
}

const grove_oid *grove_view_tree(const grove_view *v)
{
	return &v->tree;
}

int grove__path_lookup(grove *g, const grove_oid *root, const char *path,
	grove_oid *id, uint32_t *mode)
{
	grove_oid cur = *root;
	uint32_t cur_mode = GROVE_MODE_TREE;
	const char *seg = path;

	if (!path || !*path) {
		*id = cur;
		*mode = cur_mode;
		return 0;
	}
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		grove__tree *t;
		long i;
		int err;
		if (cur_mode != GROVE_MODE_TREE)
			return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", path);
		if ((err = grove__tree_get(g, &cur, &t)) < 0)
			return err;
		i = grove__tree_find(t, seg, len);
		if (i < 0) {
			grove__tree_release(t);
			return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", path);
		}
		cur = t->entries[i].id;
		cur_mode = t->entries[i].mode;
		grove__tree_release(t);
		if (!slash)
			break;
		seg = slash + 1;
	}
	*id = cur;
	*mode = cur_mode;
	return 0;
}

static int check_key(const char *key)
{
	return grove_key_validate(key);
}

/* Directories may be "" or NULL for the root; otherwise they are keys. */
static int check_dir(const char *dir)
{
	if (!dir || !*dir)
		return 0;
	return grove_key_validate(dir);
}

int grove_view_get(grove_view *v, const char *key, grove_buf *out)
{
	grove_oid id;
	uint32_t mode;
	int err;
	if ((err = check_key(key)) < 0)
		return err;
	if (v->empty)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", key);
	if ((err = grove__path_lookup(v->g, &v->tree, key, &id, &mode)) < 0)
		return err;
	if (mode == GROVE_MODE_TREE || mode == GROVE_MODE_GITLINK)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' is a directory, not a value", key);
	return grove__read(v->g, &id, GROVE_OBJ_BLOB, out);
}

int grove_view_exists(grove_view *v, const char *key)
{
	grove_oid id;
	uint32_t mode;
	int err;
	if ((err = check_key(key)) < 0)
		return err;
	if (v->empty)
		return 0;
	err = grove__path_lookup(v->g, &v->tree, key, &id, &mode);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		return 0;
	}
	if (err < 0)
		return err;
	return mode != GROVE_MODE_TREE && mode != GROVE_MODE_GITLINK;
}

int grove__list_tree(grove *g, const grove_oid *tree_id, grove_entry_list *out)
{
	grove__tree *t;
	grove_entry_list list = { 0 };
	int err = grove__tree_get(g, tree_id, &t);
	if (err < 0)
		return err;
	list.entries = grove__calloc(t->count + 1, sizeof(grove_entry));
	if (!list.entries) {
		grove__tree_release(t);
		return GROVE_ENOMEM;
	}
	for (size_t i = 0; i < t->count; i++) {
		grove_entry *e = &list.entries[i];
		if (!(e->name = grove__strndup(t->entries[i].name, t->entries[i].name_len))) {
			grove__tree_release(t);
			grove_entry_list_dispose(&list);
			return GROVE_ENOMEM;
		}
		e->mode = t->entries[i].mode;
		e->kind = grove__mode_kind(e->mode);
		e->id = t->entries[i].id;
		list.count++;
	}
	grove__tree_release(t);
	*out = list;
	return 0;
}

/* Finds the directory dir ("" or NULL = the root): 1 with *id set, 0 for
 * the root of an empty view (no tree to read), or an error. */
static int find_dir(grove_view *v, const char *dir, grove_oid *id)
{
	uint32_t mode;
	int err;
	if ((err = check_dir(dir)) < 0)
		return err;
	if (v->empty) {
		if (dir && *dir)
			return grove__error_set(GROVE_ENOTFOUND, "directory '%s' not found", dir);
		return 0;
	}
	if ((err = grove__path_lookup(v->g, &v->tree, dir, id, &mode)) < 0)
		return err;
	if (mode != GROVE_MODE_TREE)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' is a value, not a directory", dir);
	return 1;
}

int grove_view_list(grove_view *v, const char *dir, grove_entry_list *out)
{
	grove_oid id;
	int found = find_dir(v, dir, &id);
	if (found < 0)
		return found;
	if (!found) {
		out->entries = NULL;
		out->count = 0;
		return 0;
	}
	return grove__list_tree(v->g, &id, out);
}

int grove_view_id(grove_view *v, const char *path, grove_oid *id, grove_kind *kind)
{
	uint32_t mode;
	grove_oid tmp;
	int err;
	if ((err = check_dir(path)) < 0)
		return err;
	if (v->empty)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", path ? path : "");
	if ((err = grove__path_lookup(v->g, &v->tree, path, &tmp, &mode)) < 0)
		return err;
	*id = tmp;
	if (kind)
		*kind = grove__mode_kind(mode);
	return 0;
}

/* Appends every value under tree_id to out, keys prefixed with prefix. */
int grove__collect_items(grove *g, const grove_oid *tree_id, grove__sbuf *prefix, grove_item_list *out, size_t *cap)
{
	grove__tree *t;
	int err = grove__tree_get(g, tree_id, &t);
	if (err < 0)
		return err;
	for (size_t i = 0; i < t->count && !err; i++) {
		const grove__tree_entry *e = &t->entries[i];
		size_t mark = prefix->len;
		if ((err = grove__sbuf_put(prefix, e->name, e->name_len)) < 0)
			break;
		if (e->mode == GROVE_MODE_TREE) {
			if ((err = grove__sbuf_putc(prefix, '/')) == 0)
				err = grove__collect_items(g, &e->id, prefix, out, cap);
		} else if (e->mode != GROVE_MODE_GITLINK) {
			grove_buf buf = { 0 };
			if (out->count == *cap) {
				size_t ncap = *cap ? *cap * 2 : 16;
				grove_item *ni = grove__realloc(out->items, ncap * sizeof(*ni));
				if (!ni) {
					err = GROVE_ENOMEM;
					break;
				}
				out->items = ni;
				*cap = ncap;
			}
			if ((err = grove__read(g, &e->id, GROVE_OBJ_BLOB, &buf)) == 0) {
				grove_item *it = &out->items[out->count];
				it->key = grove__strndup(prefix->data, prefix->len);
				if (!it->key) {
					grove_buf_dispose(&buf);
					err = GROVE_ENOMEM;
				} else {
					it->data = buf.data;
					it->size = buf.size;
					out->count++;
				}
			}
		}
		prefix->len = mark;
		prefix->data[mark] = '\0';
	}
	grove__tree_release(t);
	return err;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const grove_item *)a)->key, ((const grove_item *)b)->key);
}

int grove_view_read_tree(grove_view *v, const char *prefix, grove_item_list *out)
{
	grove_item_list list = { 0 };
	grove__sbuf keybuf = GROVE_SBUF_INIT;
	grove_oid id;
	size_t cap = 0;
	int err = find_dir(v, prefix, &id);
	if (err < 0)
		return err;
	if (!err) {
		*out = list;
		return 0;
	}
	if ((err = grove__sbuf_grow(&keybuf, 64)) == 0)
		err = grove__collect_items(v->g, &id, &keybuf, &list, &cap);
	grove__sbuf_dispose(&keybuf);
	if (err < 0) {
		grove_item_list_dispose(&list);
		return err;
	}
	qsort(list.items, list.count, sizeof(grove_item), item_cmp);
	*out = list;
	return 0;
}

int grove_get(grove *g, const char *rev, const char *key, grove_buf *out)
{
	grove_view *v;
	int err = grove_view_open(&v, g, rev);
	if (err < 0)
		return err;
	err = grove_view_get(v, key, out);
	grove_view_free(v);
	return err;
}

int grove_exists(grove *g, const char *rev, const char *key)
{
	grove_view *v;
	int err = grove_view_open(&v, g, rev);
	if (err < 0)
		return err;
	err = grove_view_exists(v, key);
	grove_view_free(v);
	return err;
}

int grove_list(grove *g, const char *rev, const char *dir, grove_entry_list *out)
{
	grove_view *v;
	int err = grove_view_open(&v, g, rev);
	if (err < 0)
		return err;
	err = grove_view_list(v, dir, out);
	grove_view_free(v);
	return err;
}
