/*
 * Transactions: staged edits over a commit's tree, written as new git
 * objects and published with a compare-and-swap of the branch head.
 *
 * Only the directories on the paths being edited are loaded ("materialised")
 * into tnodes; every other subtree stays a reference by id, so a commit costs
 * O(depth x directory size), not O(store size).
 */
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "oid.h"
#include "pending.h"
#include "store.h"
#include "view.h"

#include <stdlib.h>
#include <string.h>

typedef struct tnode tnode;

typedef struct {
	char *name;    /* owned, or borrowed from the tnode's source tree */
	size_t len;
	uint32_t mode;
	int owned;
	grove_oid id;  /* for a dirty child: stale until written */
	tnode *child;  /* materialised directory, or NULL */
} tentry;

struct tnode {
	grove__tree *src; /* the parsed tree the names were borrowed from */
	tentry *e;
	size_t n, cap;
	int sorted;     /* e[] is in git's tree order */
	size_t nsorted; /* when not sorted: e[0..nsorted) still is, the rest was
			 * appended; commit then sorts only the tail and merges */
	int dirty;
	uint32_t *hash; /* open addressing: index + 1, 0 = empty */
	size_t hcap;    /* 0 = no index */
};

enum { OP_SET, OP_REMOVE, OP_GRAFT, OP_CLEAR };

typedef struct {
	int kind;
	char *key;
	grove_oid id;
	uint32_t mode;
} txn_op;

struct grove_txn {
	grove *g;
	char *ref;        /* full ref name, or NULL for a detached commit */
	grove_oid base;   /* zeros when starting from nothing */
	tnode *root;
	grove__pending pending; /* staged objects, written by commit */
	txn_op *ops;
	size_t nops, cap_ops;
};

/* --- tnodes ------------------------------------------------------------ */

static void tnode_free(tnode *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].owned)
			free(t->e[i].name);
		tnode_free(t->e[i].child);
	}
	grove__tree_release(t->src);
	free(t->e);
	free(t->hash);
	free(t);
}

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int hash_insert(tnode *t, size_t idx)
{
	size_t mask = t->hcap - 1, h = name_hash(t->e[idx].name, t->e[idx].len) & mask;
	while (t->hash[h])
		h = (h + 1) & mask;
	t->hash[h] = (uint32_t)idx + 1;
	return 0;
}

static int hash_build(tnode *t)
{
	size_t cap = 64;
	while (cap < t->n * 2 + 2)
		cap *= 2;
	free(t->hash);
	t->hash = grove__calloc(cap, sizeof(uint32_t));
	if (!t->hash) {
		t->hcap = 0;
		return GROVE_ENOMEM;
	}
	t->hcap = cap;
	for (size_t i = 0; i < t->n; i++)
		hash_insert(t, i);
	return 0;
}

static void hash_drop(tnode *t)
{
	free(t->hash);
	t->hash = NULL;
	t->hcap = 0;
}

/* Index of name in t, or -1.  Sets *pos to the insertion point when sorted. */
static long tnode_find(tnode *t, const char *name, size_t len, size_t *pos)
{
	if (t->sorted) {
		static const uint32_t modes[2] = { GROVE_MODE_BLOB, GROVE_MODE_TREE };
		size_t ins = t->n;
		for (int m = 0; m < 2; m++) {
			size_t lo = 0, hi = t->n;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				int c = grove__tree_entry_cmp(name, len, modes[m], t->e[mid].name, t->e[mid].len, t->e[mid].mode);
				if (c == 0)
					return (long)mid;
				if (c < 0)
					hi = mid;
				else
					lo = mid + 1;
			}
			if (m == 0)
				ins = lo;
		}
		if (pos)
			*pos = ins;
		return -1;
	}
	if (t->n <= 16) {
		for (size_t i = 0; i < t->n; i++)
			if (t->e[i].len == len && !memcmp(t->e[i].name, name, len))
				return (long)i;
		return -1;
	}
	if (!t->hcap && hash_build(t) < 0)
		return -2;
	{
		size_t mask = t->hcap - 1, h = name_hash(name, len) & mask;
		while (t->hash[h]) {
			tentry *e = &t->e[t->hash[h] - 1];
			if (e->len == len && !memcmp(e->name, name, len))
				return (long)(t->hash[h] - 1);
			h = (h + 1) & mask;
		}
	}
	return -1;
}

/* Where an entry of this name and mode belongs in a sorted tnode. */
static size_t tnode_insert_pos(const tnode *t, const char *name, size_t len, uint32_t mode)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (grove__tree_entry_cmp(name, len, mode, t->e[mid].name, t->e[mid].len, t->e[mid].mode) < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static tnode *tnode_new(void)
{
	tnode *t = grove__calloc(1, sizeof(*t));
	if (t)
		t->sorted = 1;
	return t;
}

static int tnode_reserve(tnode *t, size_t extra)
{
	if (t->n + extra > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		tentry *ne;
		while (cap < t->n + extra)
			cap *= 2;
		ne = grove__realloc(t->e, cap * sizeof(*ne));
		if (!ne)
			return GROVE_ENOMEM;
		t->e = ne;
		t->cap = cap;
	}
	return 0;
}

/* Adds an entry (name must not be present); takes ownership of nothing. */
static tentry *tnode_add(tnode *t, const char *name, size_t len, size_t pos)
{
	char *copy;
	tentry *e;
	if (tnode_reserve(t, 1) < 0)
		return NULL;
	copy = grove__strndup(name, len);
	if (!copy)
		return NULL;
	if (t->sorted && t->n < 512) {
		memmove(&t->e[pos + 1], &t->e[pos], (t->n - pos) * sizeof(tentry));
		e = &t->e[pos];
		hash_drop(t);
	} else {
		e = &t->e[t->n];
		if (t->sorted)
			t->nsorted = t->n;
		t->sorted = 0;
	}
	memset(e, 0, sizeof(*e));
	e->name = copy;
	e->owned = 1;
	e->len = len;
	t->n++;
	if (!t->sorted) {
		if (t->hcap && t->n * 2 + 2 > t->hcap)
			hash_drop(t);
		else if (t->hcap)
			hash_insert(t, (size_t)(e - t->e));
	}
	return e;
}

static void tnode_remove_at(tnode *t, size_t i)
{
	if (t->e[i].owned)
		free(t->e[i].name);
	tnode_free(t->e[i].child);
	memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(tentry));
	t->n--;
	if (!t->sorted && i < t->nsorted)
		t->nsorted--;
	hash_drop(t);
}

/* Loads a directory for editing.  Names are borrowed from the cached parsed
 * tree, which the tnode keeps a reference to: no copies on the commit path. */
static int tnode_load(grove *g, const grove_oid *tree_id, tnode **out)
{
	grove__tree *tree;
	tnode *t;
	int err = grove__tree_get(g, tree_id, &tree);
	if (err < 0)
		return err;
	t = tnode_new();
	if (!t || tnode_reserve(t, tree->count) < 0) {
		tnode_free(t);
		grove__tree_release(tree);
		return GROVE_ENOMEM;
	}
	for (size_t i = 0; i < tree->count; i++) {
		tentry *e = &t->e[i];
		e->name = (char *)tree->entries[i].name;
		e->owned = 0;
		e->len = tree->entries[i].name_len;
		e->mode = tree->entries[i].mode;
		e->id = tree->entries[i].id;
		e->child = NULL;
	}
	t->n = tree->count;
	t->src = tree;
	*out = t;
	return 0;
}

/* --- pending objects ----------------------------------------------------- */

static long pobj_find(grove_txn *x, const grove_oid *id)
{
	return grove__pending_find(&x->pending, id);
}

/* Stages an object; takes ownership of data (freed on failure too). */
static int pobj_add(grove_txn *x, grove_otype type, void *data, size_t size, grove_oid *id_out)
{
	return grove__pending_add(&x->pending, type, data, size, id_out);
}

/* --- op log, for rebase ------------------------------------------------ */

static int log_op(grove_txn *x, int kind, const char *key, const grove_oid *id, uint32_t mode)
{
	txn_op *op;
	if (x->nops == x->cap_ops) {
		size_t cap = x->cap_ops ? x->cap_ops * 2 : 8;
		txn_op *no = grove__realloc(x->ops, cap * sizeof(*no));
		if (!no)
			return GROVE_ENOMEM;
		x->ops = no;
		x->cap_ops = cap;
	}
	op = &x->ops[x->nops];
	op->key = grove__strdup(key ? key : "");
	if (!op->key)
		return GROVE_ENOMEM;
	op->kind = kind;
	op->mode = mode;
	if (id)
		op->id = *id;
	else
		memset(&op->id, 0, sizeof(op->id));
	x->nops++;
	return 0;
}

static void ops_clear(grove_txn *x)
{
	for (size_t i = 0; i < x->nops; i++)
		free(x->ops[i].key);
	x->nops = 0;
}

/* --- begin / free ------------------------------------------------------ */

static int load_root(grove_txn *x)
{
	grove_oid tree;
	int err;
	tnode_free(x->root);
	x->root = NULL;
	if (grove_oid_is_zero(&x->base)) {
		x->root = tnode_new();
		return x->root ? 0 : GROVE_ENOMEM;
	}
	if ((err = grove__commit_tree(x->g, &x->base, &tree)) < 0)
		return err;
	return tnode_load(x->g, &tree, &x->root);
}

int grove_txn_begin_at(grove_txn **out, grove *g, const grove_oid *commit, const char *branch)
{
	grove_txn *x;
	int err;
	if (!out || !g)
		return grove__error_set(GROVE_EINVALID, "grove_txn_begin: NULL argument");
	x = grove__calloc(1, sizeof(*x));
	if (!x)
		return GROVE_ENOMEM;
	x->g = g;
	if (branch) {
		char ref[1100];
		if ((err = grove__branch_ref(branch, ref, sizeof(ref))) < 0 ||
		    (strncmp(branch, "refs/", 5) && (err = grove_branch_name_validate(branch)) < 0)) {
			free(x);
			return err;
		}
		if (!(x->ref = grove__strdup(ref))) {
			free(x);
			return GROVE_ENOMEM;
		}
	}
	if (commit)
		x->base = *commit;
	if ((err = load_root(x)) < 0) {
		grove_txn_free(x);
		return err;
	}
	*out = x;
	return 0;
}

int grove_txn_begin(grove_txn **out, grove *g, const char *branch)
{
	char ref[1100];
	grove_oid head;
	int err;
	if (!g || !branch)
		return grove__error_set(GROVE_EINVALID, "grove_txn_begin: NULL argument");
	if ((err = grove__branch_ref(branch, ref, sizeof(ref))) < 0)
		return err;
	err = g->be->ops->ref_read(g->be, ref, &head);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		return grove_txn_begin_at(out, g, NULL, branch);
	}
	if (err < 0)
		return err;
	return grove_txn_begin_at(out, g, &head, branch);
}

void grove_txn_free(grove_txn *x)
{
	if (!x)
		return;
	tnode_free(x->root);
	grove__pending_dispose(&x->pending);
	ops_clear(x);
	free(x->ops);
	free(x->ref);
	free(x);
}

const grove_oid *grove_txn_base(const grove_txn *x)
{
	return &x->base;
}

/* --- editing ------------------------------------------------------------ */

static int materialise(grove *g, tentry *e)
{
	if (e->child)
		return 0;
	return tnode_load(g, &e->id, &e->child);
}

/*
 * Walks to the directory holding the last segment of key, creating missing
 * directories (and replacing values in the way) when create is set.  The
 * nodes passed are collected so the caller can mark them dirty on success.
 */
typedef struct {
	tnode **nodes;
	size_t n, cap;
} node_path;

static int path_push(node_path *p, tnode *t)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		tnode **nn = grove__realloc(p->nodes, cap * sizeof(*nn));
		if (!nn)
			return GROVE_ENOMEM;
		p->nodes = nn;
		p->cap = cap;
	}
	p->nodes[p->n++] = t;
	return 0;
}

static int walk(grove_txn *x, const char *key, int create, node_path *path, const char **last)
{
	tnode *t = x->root;
	const char *seg = key;
	int err;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len;
		long i;
		size_t pos = 0;
		tentry *e;
		if ((err = path_push(path, t)) < 0)
			return err;
		if (!slash) {
			*last = seg;
			return 0;
		}
		len = (size_t)(slash - seg);
		i = tnode_find(t, seg, len, &pos);
		if (i == -2)
			return GROVE_ENOMEM;
		if (i < 0) {
			if (!create)
				return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", key);
			/* A directory sorts as "name/", not where a value would. */
			if (t->sorted)
				pos = tnode_insert_pos(t, seg, len, GROVE_MODE_TREE);
			if (!(e = tnode_add(t, seg, len, pos)))
				return GROVE_ENOMEM;
			e->mode = GROVE_MODE_TREE;
			if (!(e->child = tnode_new()))
				return GROVE_ENOMEM;
		} else {
			e = &t->e[i];
			if (e->mode != GROVE_MODE_TREE) {
				if (!create)
					return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", key);
				/* A value in the way becomes a directory. */
				tnode_free(e->child);
				e->mode = GROVE_MODE_TREE;
				if (!(e->child = tnode_new()))
					return GROVE_ENOMEM;
				/* Its sort position changed (name/ vs name). */
				if (t->sorted) {
					t->sorted = 0;
					hash_drop(t);
				}
				t->nsorted = 0;
			} else if ((err = materialise(x->g, e)) < 0) {
				return err;
			}
		}
		t = e->child;
		seg = slash + 1;
	}
}

static void mark_dirty(node_path *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->nodes[i]->dirty = 1;
}

static int put_entry(grove_txn *x, const char *key, uint32_t mode, const grove_oid *id)
{
	node_path path = { 0 };
	const char *last;
	int err = walk(x, key, 1, &path, &last);
	if (err == 0) {
		tnode *t = path.nodes[path.n - 1];
		size_t len = strlen(last), pos = 0;
		long i = tnode_find(t, last, len, &pos);
		tentry *e = NULL;
		if (i == -2) {
			err = GROVE_ENOMEM;
		} else if (i >= 0) {
			e = &t->e[i];
			if ((e->mode == GROVE_MODE_TREE) != (mode == GROVE_MODE_TREE)) {
				/* Its sort key changed: the whole node is sorted at commit. */
				t->sorted = 0;
				t->nsorted = 0;
				hash_drop(t);
			}
			tnode_free(e->child);
			e->child = NULL;
		} else {
			if (t->sorted)
				pos = tnode_insert_pos(t, last, len, mode);
			if (!(e = tnode_add(t, last, len, pos)))
				err = GROVE_ENOMEM;
		}
		if (e) {
			e->mode = mode;
			e->id = *id;
			mark_dirty(&path);
		}
	}
	free(path.nodes);
	return err;
}

static int remove_entry(grove_txn *x, const char *key)
{
	node_path path = { 0 };
	const char *last;
	int err = walk(x, key, 0, &path, &last);
	if (err == 0) {
		tnode *t = path.nodes[path.n - 1];
		long i = tnode_find(t, last, strlen(last), NULL);
		if (i == -2)
			err = GROVE_ENOMEM;
		else if (i < 0)
			err = grove__error_set(GROVE_ENOTFOUND, "'%s' not found", key);
		else {
			tnode_remove_at(t, (size_t)i);
			mark_dirty(&path);
		}
	}
	free(path.nodes);
	return err;
}

static int clear_root(grove_txn *x)
{
	tnode *t = tnode_new();
	if (!t)
		return GROVE_ENOMEM;
	tnode_free(x->root);
	x->root = t;
	t->dirty = 1;
	return 0;
}

static int check_writable(grove_txn *x)
{
	if (x->g->opts.read_only)
		return grove__error_set(GROVE_EREADONLY, "store is open read-only");
	return 0;
}

int grove_txn_set(grove_txn *x, const char *key, const void *data, size_t size)
{
	void *copy;
	grove_oid id;
	int err;
	if ((err = grove_key_validate(key)) < 0 || (err = check_writable(x)) < 0)
		return err;
	if (!data && size)
		return grove__error_set(GROVE_EINVALID, "value is NULL");
	copy = grove__malloc(size);
	if (!copy)
		return GROVE_ENOMEM;
	if (size)
		memcpy(copy, data, size);
	if ((err = pobj_add(x, GROVE_OBJ_BLOB, copy, size, &id)) < 0)
		return err;
	if ((err = put_entry(x, key, GROVE_MODE_BLOB, &id)) < 0)
		return err;
	return log_op(x, OP_SET, key, &id, GROVE_MODE_BLOB);
}

int grove_txn_remove(grove_txn *x, const char *key)
{
	int err;
	if ((err = grove_key_validate(key)) < 0 || (err = check_writable(x)) < 0)
		return err;
	if ((err = remove_entry(x, key)) < 0)
		return err;
	return log_op(x, OP_REMOVE, key, NULL, 0);
}

int grove_txn_set_tree_id(grove_txn *x, const char *prefix, const grove_oid *tree)
{
	grove_otype type;
	size_t size;
	int err;
	if ((prefix && *prefix && (err = grove_key_validate(prefix)) < 0) || (err = check_writable(x)) < 0)
		return err;
	if ((err = x->g->be->ops->read_header(x->g->be, tree, &type, &size)) < 0)
		return err;
	if (type != GROVE_OBJ_TREE)
		return grove__error_set(GROVE_EINVALID, "object is a %s, not a tree", grove_otype_name(type));
	if (!prefix || !*prefix) {
		tnode *t;
		if ((err = tnode_load(x->g, tree, &t)) < 0)
			return err;
		tnode_free(x->root);
		x->root = t;
		t->dirty = 1;
	} else if ((err = put_entry(x, prefix, GROVE_MODE_TREE, tree)) < 0) {
		return err;
	}
	return log_op(x, OP_GRAFT, prefix, tree, GROVE_MODE_TREE);
}

int grove_txn_set_tree(grove_txn *x, const char *prefix, const grove_item *items, size_t count)
{
	grove__sbuf key = GROVE_SBUF_INIT;
	int err;
	if ((prefix && *prefix && (err = grove_key_validate(prefix)) < 0) || (err = check_writable(x)) < 0)
		return err;
	for (size_t i = 0; i < count; i++)
		if ((err = grove_key_validate(items[i].key)) < 0)
			return err;
	if (!prefix || !*prefix) {
		if ((err = clear_root(x)) < 0)
			return err;
	} else {
		err = remove_entry(x, prefix);
		if (err == GROVE_ENOTFOUND)
			grove_error_clear();
		else if (err < 0)
			return err;
	}
	if ((err = log_op(x, OP_CLEAR, prefix, NULL, 0)) < 0)
		return err;
	for (size_t i = 0; i < count && !err; i++) {
		grove__sbuf_reset(&key);
		if (prefix && *prefix)
			err = grove__sbuf_printf(&key, "%s/%s", prefix, items[i].key);
		else
			err = grove__sbuf_puts(&key, items[i].key);
		if (!err)
			err = grove_txn_set(x, key.data, items[i].data, items[i].size);
	}
	grove__sbuf_dispose(&key);
	return err;
}

/* --- reading through the staged writes --------------------------------- */

static int txn_lookup(grove_txn *x, const char *path, grove_oid *id, uint32_t *mode, tnode **node)
{
	tnode *t = x->root;
	const char *seg = path;
	*node = NULL;
	if (!path || !*path) {
		*mode = GROVE_MODE_TREE;
		*node = t;
		return 0;
	}
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		long i = tnode_find(t, seg, len, NULL);
		tentry *e;
		if (i == -2)
			return GROVE_ENOMEM;
		if (i < 0)
			return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", path);
		e = &t->e[i];
		if (!slash) {
			*id = e->id;
			*mode = e->mode;
			*node = e->child;
			return 0;
		}
		if (e->mode != GROVE_MODE_TREE)
			return grove__error_set(GROVE_ENOTFOUND, "'%s' not found", path);
		if (!e->child)
			return grove__path_lookup(x->g, &e->id, slash + 1, id, mode);
		t = e->child;
		seg = slash + 1;
	}
}

int grove_txn_get(grove_txn *x, const char *key, grove_buf *out)
{
	grove_oid id;
	uint32_t mode;
	tnode *node;
	long i;
	int err;
	if ((err = grove_key_validate(key)) < 0)
		return err;
	if ((err = txn_lookup(x, key, &id, &mode, &node)) < 0)
		return err;
	if (mode == GROVE_MODE_TREE || mode == GROVE_MODE_GITLINK)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' is a directory, not a value", key);
	if ((i = pobj_find(x, &id)) >= 0) {
		grove__pending_obj *o = &x->pending.objs[i];
		out->data = grove__malloc(o->size + 1);
		if (!out->data)
			return GROVE_ENOMEM;
		memcpy(out->data, o->data, o->size);
		((char *)out->data)[o->size] = '\0';
		out->size = o->size;
		return 0;
	}
	return grove__read(x->g, &id, GROVE_OBJ_BLOB, out);
}

int grove_txn_exists(grove_txn *x, const char *key)
{
	grove_oid id;
	uint32_t mode;
	tnode *node;
	int err;
	if ((err = grove_key_validate(key)) < 0)
		return err;
	err = txn_lookup(x, key, &id, &mode, &node);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		return 0;
	}
	if (err < 0)
		return err;
	return mode != GROVE_MODE_TREE && mode != GROVE_MODE_GITLINK;
}

static int entry_list_cmp(const void *a, const void *b)
{
	const grove_entry *x = a, *y = b;
	return grove__tree_entry_cmp(x->name, strlen(x->name), x->mode, y->name, strlen(y->name), y->mode);
}

int grove_txn_list(grove_txn *x, const char *dir, grove_entry_list *out)
{
	grove_oid id;
	uint32_t mode;
	tnode *node;
	grove_entry_list list = { 0 };
	int err;
	if (dir && *dir && (err = grove_key_validate(dir)) < 0)
		return err;
	if ((err = txn_lookup(x, dir, &id, &mode, &node)) < 0)
		return err;
	if (mode != GROVE_MODE_TREE)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' is a value, not a directory", dir);
	if (!node)
		return grove__list_tree(x->g, &id, out);
	list.entries = grove__calloc(node->n + 1, sizeof(grove_entry));
	if (!list.entries)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < node->n; i++) {
		grove_entry *e = &list.entries[i];
		/* An emptied directory disappears at commit; hide it now too. */
		if (node->e[i].child && node->e[i].child->n == 0)
			continue;
		if (!(e->name = grove__strndup(node->e[i].name, node->e[i].len))) {
			grove_entry_list_dispose(&list);
			return GROVE_ENOMEM;
		}
		e->mode = node->e[i].mode;
		e->kind = grove__mode_kind(e->mode);
		e->id = node->e[i].id;
		list.count++;
		if (e != &list.entries[list.count - 1])
			list.entries[list.count - 1] = *e;
	}
	qsort(list.entries, list.count, sizeof(grove_entry), entry_list_cmp);
	*out = list;
	return 0;
}

/* --- committing -------------------------------------------------------- */

static int tentry_qsort_cmp(const void *a, const void *b)
{
	const tentry *x = a, *y = b;
	return grove__tree_entry_cmp(x->name, x->len, x->mode, y->name, y->len, y->mode);
}

/*
 * Puts t's entries in git's order.  A directory loaded from the store is
 * sorted and edits append to it, so only the appended tail needs sorting,
 * then one merge: a PUT into a 10,000-entry collection sorts one entry,
 * not 10,000.
 */
static int sort_node(tnode *t)
{
	size_t head = t->nsorted, tail = t->n - head;
	tentry *merged;
	size_t i = 0, j = head, k = 0;
	if (head == 0 || head > t->n) {
		qsort(t->e, t->n, sizeof(tentry), tentry_qsort_cmp);
		return 0;
	}
	if (tail == 0)
		return 0;
	qsort(t->e + head, tail, sizeof(tentry), tentry_qsort_cmp);
	merged = grove__malloc(t->n * sizeof(tentry));
	if (!merged)
		return GROVE_ENOMEM;
	while (i < head && j < t->n)
		merged[k++] = tentry_qsort_cmp(&t->e[i], &t->e[j]) <= 0 ? t->e[i++] : t->e[j++];
	while (i < head)
		merged[k++] = t->e[i++];
	while (j < t->n)
		merged[k++] = t->e[j++];
	memcpy(t->e, merged, t->n * sizeof(tentry));
	free(merged);
	return 0;
}

/*
 * Trees written as deltas against the version they replace: a commit
 * changes a few entries of each directory it touches, so the delta is a
 * few dozen bytes where the tree is kilobytes (3.3 KB for 100 entries,
 * 400 KB for a 10,000-member collection), and writing those bytes is most
 * of what a small commit costs.  Chains stay short for readers, and only
 * grow from trees this process wrote (whose chain it knows).
 */
#define MAX_TREE_CHAIN 10
#define MIN_DELTA_TREE 256

static int same_entry(const grove__tree_entry *a, const grove__tree_entry *b)
{
	return a->mode == b->mode && a->name_len == b->name_len &&
		grove__oid_equal(&a->id, &b->id) &&
		(a->name == b->name || memcmp(a->name, b->name, a->name_len) == 0);
}

/*
 * Stages the new tree id (entries flat[0..n)) as a delta against src when
 * that pays; returns the chain length the tree is written with (0: whole).
 * The unchanged entries at both ends give the spans to copy, so the base
 * is never serialised again.
 */
static int tree_delta(grove_txn *x, const grove__tree *src, const grove__tree_entry *flat,
	size_t n, const grove_oid *id)
{
	grove__sbuf delta = GROVE_SBUF_INIT;
	grove_buf z = { 0 };
	long pos = pobj_find(x, id);
	const grove__pending_obj *o;
	size_t pre = 0, suf = 0, lim, base_len = 0, pre_bytes = 0, suf_bytes = 0;
	int chain = 0;

	if (pos < 0 || !src || src->chain < 0 || src->chain >= MAX_TREE_CHAIN ||
		grove__oid_equal(&src->id, id) || !x->g->be->ops->keeps_deltas)
		return 0;
	o = &x->pending.objs[pos];
	if (o->size < MIN_DELTA_TREE)
		return 0;
	lim = src->count < n ? src->count : n;
	while (pre < lim && same_entry(&src->entries[pre], &flat[pre]))
		pre++;
	while (suf < lim - pre && same_entry(&src->entries[src->count - 1 - suf], &flat[n - 1 - suf]))
		suf++;
	for (size_t i = 0; i < src->count; i++) {
		size_t b = grove__tree_entry_size(&src->entries[i]);
		base_len += b;
		if (i < pre)
			pre_bytes += b;
		else if (i >= src->count - suf)
			suf_bytes += b;
	}
	if (grove__delta_edit_spans(base_len, o->data, o->size, pre_bytes, suf_bytes, o->size / 4,
		    &delta) == 0 &&
		grove__zlib_compress(delta.data, delta.len, 1, &z) == 0) {
		grove__pending_set_delta(&x->pending, (size_t)pos, &src->id, z.data, z.size, delta.len);
		chain = src->chain + 1;
	} else {
		grove_buf_dispose(&z);
		grove_error_clear(); /* no delta: the tree is written whole */
	}
	grove__sbuf_dispose(&delta);
	return chain;
}

/* Writes the dirty directories below t, then t itself. */
static int write_node(grove_txn *x, tnode *t, grove_oid *out)
{
	grove__sbuf buf = GROVE_SBUF_INIT;
	grove__tree_entry *flat;
	size_t n = 0;
	int err = 0, chain = 0;

	for (size_t i = 0; i < t->n; i++) {
		tentry *e = &t->e[i];
		if (e->child && e->child->dirty) {
			if ((err = write_node(x, e->child, &e->id)) < 0)
				return err;
		}
	}
	/* Empty directories are dropped, as git cannot check them out. */
	for (size_t i = t->n; i-- > 0;)
		if (t->e[i].child && t->e[i].child->n == 0)
			tnode_remove_at(t, i);
	if (!t->sorted) {
		if ((err = sort_node(t)) < 0)
			return err;
		t->sorted = 1;
		hash_drop(t);
	}
	flat = grove__malloc((t->n + 1) * sizeof(*flat));
	if (!flat)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < t->n; i++, n++) {
		flat[n].name = t->e[i].name;
		flat[n].name_len = t->e[i].len;
		flat[n].mode = t->e[i].mode;
		flat[n].id = t->e[i].id;
	}
	err = grove__tree_write(flat, n, &buf);
	if (err < 0) {
		free(flat);
		grove__sbuf_dispose(&buf);
		return err;
	}
	{
		size_t len;
		char *data = grove__sbuf_detach(&buf, &len);
		grove__tree *parsed;
		if (!data) {
			free(flat);
			return GROVE_ENOMEM;
		}
		if ((err = pobj_add(x, GROVE_OBJ_TREE, data, len, out)) < 0) {
			free(flat);
			return err;
		}
		chain = tree_delta(x, t->src, flat, n, out);
		/* The next transaction on this branch starts from this tree: hand
		 * it to the cache now rather than read and parse it back. */
		if (grove__tree_from_entries(out, flat, n, &parsed) == 0) {
			parsed->chain = chain;
			grove__tree_cache_put(x->g, parsed);
			grove__tree_release(parsed);
		} else {
			grove_error_clear();
		}
	}
	free(flat);
	t->dirty = 0;
	return 0;
}

/* Which staged objects the new tree still needs: blobs that were staged and
 * then overwritten in the same transaction are not written. */
static void mark_live(grove_txn *x, tnode *t)
{
	for (size_t i = 0; i < t->n; i++) {
		long k = pobj_find(x, &t->e[i].id);
		if (k >= 0)
			x->pending.objs[k].live = 1;
		if (t->e[i].child)
			mark_live(x, t->e[i].child);
	}
}

int grove_txn_commit(grove_txn *x, const grove_commit_opts *opts, grove_oid *out)
{
	grove_signature author, committer;
	grove__sbuf cbuf = GROVE_SBUF_INIT;
	grove_oid tree, commit;
	grove__object *recs = NULL;
	grove_ref_update up = { 0 };
	grove__write_set ws = { 0 };
	size_t nrec = 0, mark = x->pending.n;
	int err;

	if ((err = check_writable(x)) < 0)
		return err;
	x->root->dirty = 1;
	if ((err = write_node(x, x->root, &tree)) < 0)
		goto done;
	grove__signature_defaults(&author, opts ? opts->author : NULL);
	grove__signature_defaults(&committer, opts && opts->committer ? opts->committer : &author);
	if ((err = grove__commit_write(&tree, &x->base, grove_oid_is_zero(&x->base) ? 0 : 1,
		     &author, &committer, opts ? opts->message : NULL, &cbuf)) < 0)
		goto done;
	{
		size_t len;
		char *data = grove__sbuf_detach(&cbuf, &len);
		if (!data) {
			err = GROVE_ENOMEM;
			goto done;
		}
		if ((err = pobj_add(x, GROVE_OBJ_COMMIT, data, len, &commit)) < 0)
			goto done;
	}

	/* Marks left by an earlier commit that failed do not count. */
	for (size_t i = 0; i < x->pending.n; i++)
		x->pending.objs[i].live = 0;
	mark_live(x, x->root);
	/* Trees and the commit written just now are all live. */
	for (size_t i = mark; i < x->pending.n; i++)
		x->pending.objs[i].live = 1;
	{
		long k = pobj_find(x, &tree);
		if (k >= 0)
			x->pending.objs[k].live = 1;
	}
	if ((err = grove__pending_live_records(&x->pending, &recs, &nrec)) < 0)
		goto done;
	ws.objects = recs;
	ws.object_count = nrec;
	if (x->ref) {
		up.refname = x->ref;
		up.check_old = 1;
		up.old_id = x->base;
		up.new_id = commit;
		ws.refs = &up;
		ws.ref_count = 1;
	}
	pthread_mutex_lock(&x->g->write_lock);
	err = grove__write(x->g, &ws);
	pthread_mutex_unlock(&x->g->write_lock);
	if (err == GROVE_EHEADMOVED)
		grove__error_set(err, "branch '%s' moved since the transaction began", x->ref + 11);
done:
	free(recs);
	grove__sbuf_dispose(&cbuf);
	if (err < 0) {
		/* Keep the staged edits usable: drop only what commit added. */
		grove__pending_truncate(&x->pending, mark);
		x->root->dirty = 1;
		return err;
	}
	/* The transaction continues from the new commit. */
	x->base = commit;
	grove__pending_truncate(&x->pending, 0);
	ops_clear(x);
	if (out)
		*out = commit;
	return 0;
}

static int replay(grove_txn *x, const txn_op *op)
{
	int err = 0;
	switch (op->kind) {
	case OP_SET:
		return put_entry(x, op->key, op->mode, &op->id);
	case OP_GRAFT:
		if (!*op->key) {
			tnode *t;
			if ((err = tnode_load(x->g, &op->id, &t)) < 0)
				return err;
			tnode_free(x->root);
			x->root = t;
			t->dirty = 1;
			return 0;
		}
		return put_entry(x, op->key, op->mode, &op->id);
	case OP_CLEAR:
		if (!*op->key)
			return clear_root(x);
		/* fallthrough */
	case OP_REMOVE:
		err = remove_entry(x, op->key);
		if (err == GROVE_ENOTFOUND) {
			/* Removed on the other side too: nothing left to do. */
			grove_error_clear();
			err = 0;
		}
		return err;
	}
	return 0;
}

int grove_txn_rebase(grove_txn *x)
{
	grove_oid head;
	int err;
	if (!x->ref)
		return grove__error_set(GROVE_EINVALID, "a detached transaction cannot be rebased");
	err = x->g->be->ops->ref_read(x->g->be, x->ref, &head);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		memset(&head, 0, sizeof(head));
	} else if (err < 0) {
		return err;
	}
	x->base = head;
	if ((err = load_root(x)) < 0)
		return err;
	for (size_t i = 0; i < x->nops && !err; i++)
		err = replay(x, &x->ops[i]);
	return err;
}

static int one_shot(grove *g, const char *branch, const char *key, const void *data, size_t size,
	int remove, const grove_commit_opts *opts, grove_oid *out)
{
	grove_txn *x;
	int err, tries = 0;
	if ((err = grove_txn_begin(&x, g, branch)) < 0)
		return err;
	err = remove ? grove_txn_remove(x, key) : grove_txn_set(x, key, data, size);
	/* A one-call write has nothing to lose by re-applying on a moved head. */
	while (err == 0) {
		err = grove_txn_commit(x, opts, out);
		if (err != GROVE_EHEADMOVED || ++tries > 100)
			break;
		err = grove_txn_rebase(x);
	}
	grove_txn_free(x);
	return err;
}

int grove_set(grove *g, const char *branch, const char *key, const void *data,
	size_t size, const grove_commit_opts *opts, grove_oid *out)
{
	return one_shot(g, branch, key, data, size, 0, opts, out);
}

int grove_remove(grove *g, const char *branch, const char *key,
	const grove_commit_opts *opts, grove_oid *out)
{
	return one_shot(g, branch, key, NULL, 0, 1, opts, out);
}
