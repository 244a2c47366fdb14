/* The change journal of sync-collection: per commit, the leaf changes
 * against its first parent; a sync unites them along the first-parent
 * chain (see dav_journal.h). */
#include "dav_journal.h"
#include "error.h"
#include "oid.h"
#include "sbuf.h"
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One leaf change of a commit; path points into the entry's storage. */
typedef struct {
	const char *path;
	uint32_t old_mode, new_mode;  /* 0: absent */
	grove_oid old_id, new_id;
} jchange;

typedef struct {
	grove_oid commit, parent;
	int used, has_parent;
	int overflow;      /* too many changes (or an odd tree): no list kept */
	size_t count;
	jchange *changes;  /* one allocation: the array, then the paths */
	size_t next;       /* bucket chain: index + 1, 0 ends */
} jentry;

#define BUCKETS 8192 /* power of two, >= 2 * DAV_JOURNAL_MAX_COMMITS */

/* The journal: a ring of entries in insertion order (the slot at `ring` is
 * the oldest) and a chained hash index on the commit id. */
static pthread_mutex_t J_lock = PTHREAD_MUTEX_INITIALIZER;
static jentry J_ent[DAV_JOURNAL_MAX_COMMITS];
static size_t J_bucket[BUCKETS]; /* index + 1, 0 = empty */
static size_t J_ring, J_total, J_used;

static size_t bucket_of(const grove_oid *id)
{
	uint32_t h;
	memcpy(&h, id->id, sizeof(h));
	return h & (BUCKETS - 1);
}

static jentry *find_locked(const grove_oid *id)
{
	for (size_t i = J_bucket[bucket_of(id)]; i; i = J_ent[i - 1].next)
		if (grove__oid_equal(&J_ent[i - 1].commit, id))
			return &J_ent[i - 1];
	return NULL;
}

static void evict_locked(size_t slot)
{
	jentry *e = &J_ent[slot];
	if (!e->used)
		return;
	size_t *pp = &J_bucket[bucket_of(&e->commit)];
	while (*pp && *pp != slot + 1)
		pp = &J_ent[*pp - 1].next;
	if (*pp)
		*pp = e->next;
	J_total -= e->count;
	J_used--;
	free(e->changes);
	memset(e, 0, sizeof(*e));
}

/* Takes ownership of e->changes. */
static void insert_locked(jentry *e)
{
	if (find_locked(&e->commit)) {
		free(e->changes);
		return;
	}
	size_t slot = J_ring;
	evict_locked(slot);
	J_ring = (J_ring + 1) % DAV_JOURNAL_MAX_COMMITS;
	/* the oldest go first until the changes fit the budget */
	for (size_t k = J_ring; J_total + e->count > DAV_JOURNAL_MAX_TOTAL && k != slot;
	     k = (k + 1) % DAV_JOURNAL_MAX_COMMITS)
		evict_locked(k);
	J_ent[slot] = *e;
	J_ent[slot].used = 1;
	size_t b = bucket_of(&e->commit);
	J_ent[slot].next = J_bucket[b];
	J_bucket[b] = slot + 1;
	J_total += e->count;
	J_used++;
}

/*
 * Pinned trees: the changed trees of the last commits walked (new side).
 * The next write's commit has them as its parent's trees, but the store's
 * tree cache may have dropped them meanwhile (it starts afresh when full:
 * at 100,000 members a collection tree is ~8 MiB), and reading one back
 * means inflating megabytes from the store and faulting in its pages.
 * Holding a reference here keeps the previous version of a collection
 * alive for one more write (bounded in count and bytes: at 100,000 members
 * the newest collection version only).
 */
#define PIN_MAX 8
#define PIN_BYTES ((size_t)10 << 20)
static grove__tree *J_pin[PIN_MAX]; /* oldest first */
static size_t J_pin_n, J_pin_bytes;

static void unpin_oldest_locked(void)
{
	grove__tree *t = J_pin[0];
	J_pin_bytes -= t->bytes;
	memmove(J_pin, J_pin + 1, (J_pin_n - 1) * sizeof(*J_pin));
	J_pin_n--;
	grove__tree_release(t);
}

static void pin(grove__tree *t)
{
	pthread_mutex_lock(&J_lock);
	for (size_t i = 0; i < J_pin_n; i++)
		if (J_pin[i] == t || grove__oid_equal(&J_pin[i]->id, &t->id)) {
			pthread_mutex_unlock(&J_lock);
			return;
		}
	if (t->bytes <= PIN_BYTES) {
		while (J_pin_n && (J_pin_n == PIN_MAX || J_pin_bytes + t->bytes > PIN_BYTES))
			unpin_oldest_locked();
		__atomic_add_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL); /* as the tree cache does */
		J_pin[J_pin_n++] = t;
		J_pin_bytes += t->bytes;
	}
	pthread_mutex_unlock(&J_lock);
}

/* A tree: pinned here, else through the store's cache. */
static int tree_get(grove *g, const grove_oid *id, grove__tree **out)
{
	pthread_mutex_lock(&J_lock);
	for (size_t i = J_pin_n; i-- > 0;)
		if (grove__oid_equal(&J_pin[i]->id, id)) {
			__atomic_add_fetch(&J_pin[i]->refcount, 1, __ATOMIC_ACQ_REL);
			*out = J_pin[i];
			pthread_mutex_unlock(&J_lock);
			return 0;
		}
	pthread_mutex_unlock(&J_lock);
	return grove__tree_get(g, id, out);
}

void grove__dav_journal_clear(void)
{
	pthread_mutex_lock(&J_lock);
	for (size_t i = 0; i < DAV_JOURNAL_MAX_COMMITS; i++)
		evict_locked(i);
	J_ring = 0;
	while (J_pin_n)
		unpin_oldest_locked();
	pthread_mutex_unlock(&J_lock);
}

size_t grove__dav_journal_size(void)
{
	pthread_mutex_lock(&J_lock);
	size_t n = J_used;
	pthread_mutex_unlock(&J_lock);
	return n;
}

/* ---- one commit against its first parent ------------------------------------- */

typedef struct {
	size_t path_off;  /* into names */
	uint32_t old_mode, new_mode;
	grove_oid old_id, new_id;
} tchange;

typedef struct {
	grove *g;
	grove__sbuf path;   /* the directory being walked */
	grove__sbuf names;  /* the paths of the changes, NUL-separated */
	tchange *v;
	size_t n, cap;
} dctx;

#define STOP 1 /* overflow: too many changes, or a tree out of git's order */

static int add(dctx *d, const grove__tree_entry *x, const grove__tree_entry *y)
{
	if (d->n == DAV_JOURNAL_MAX_CHANGES)
		return STOP;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		tchange *nv = grove__realloc(d->v, cap * sizeof(*nv));
		if (!nv)
			return GROVE_ENOMEM;
		d->v = nv;
		d->cap = cap;
	}
	tchange *t = &d->v[d->n];
	memset(t, 0, sizeof(*t));
	t->path_off = d->names.len;
	if (grove__sbuf_put(&d->names, d->path.data, d->path.len) < 0 ||
	    grove__sbuf_putc(&d->names, '\0') < 0)
		return GROVE_ENOMEM;
	if (x) {
		t->old_mode = x->mode;
		t->old_id = x->id;
	}
	if (y) {
		t->new_mode = y->mode;
		t->new_id = y->id;
	}
	d->n++;
	return 0;
}

static int walk(dctx *d, const grove_oid *a, const grove_oid *b);

/* The path of the entry below the current directory, then fn, then back. */
static int enter(dctx *d, const grove__tree_entry *e, const grove__tree_entry *x,
		 const grove__tree_entry *y)
{
	size_t mark = d->path.len;
	int rc = 0;
	if (d->path.len)
		rc = grove__sbuf_putc(&d->path, '/');
	if (rc == 0)
		rc = grove__sbuf_put(&d->path, e->name, e->name_len);
	if (rc == 0) {
		int xt = x && x->mode == GROVE_MODE_TREE, yt = y && y->mode == GROVE_MODE_TREE;
		if (xt || yt)
			rc = walk(d, xt ? &x->id : NULL, yt ? &y->id : NULL);
		else
			rc = add(d, x, y);
	}
	d->path.len = mark;
	if (d->path.data)
		d->path.data[mark] = '\0';
	return rc;
}

static int same_name(const grove__tree_entry *x, const grove__tree_entry *y)
{
	return x->name_len == y->name_len && x->mode == y->mode &&
	       memcmp(x->name, y->name, x->name_len) == 0;
}

/* 1 when e sorts strictly after prev (git's order). */
static int after(const grove__tree_entry *prev, const grove__tree_entry *e)
{
	return grove__tree_entry_cmp(prev->name, prev->name_len, prev->mode, e->name, e->name_len,
				     e->mode) < 0;
}

/*
 * A merge walk of two trees in git's order: entries that compare equal
 * have the same name and are both trees or both not.  A flat collection
 * of 100,000 members is walked on every write, so the common step (the
 * same name on both sides) costs one name compare, one id compare and one
 * order check.
 */
static int walk(dctx *d, const grove_oid *a, const grove_oid *b)
{
	grove__tree *ta = NULL, *tb = NULL;
	int rc = 0;
	if (a && b && grove__oid_equal(a, b))
		return 0;
	if (a && (rc = tree_get(d->g, a, &ta)) < 0)
		return rc;
	if (b && (rc = tree_get(d->g, b, &tb)) < 0) {
		grove__tree_release(ta);
		return rc;
	}
	if (tb)
		pin(tb);
	size_t na = ta ? ta->count : 0, nb = tb ? tb->count : 0, i = 0, j = 0;
	int paired = 0; /* the previous step paired equal names */
	while (rc == 0 && (i < na || j < nb)) {
		const grove__tree_entry *x = i < na ? &ta->entries[i] : NULL;
		const grove__tree_entry *y = j < nb ? &tb->entries[j] : NULL;
		int c = !x ? 1 : !y ? -1 : same_name(x, y) ? 0 :
			grove__tree_entry_cmp(x->name, x->name_len, x->mode, y->name, y->name_len, y->mode);
		/* the walk is only right on sorted trees; anything else goes to the
		 * store's diff, which pairs entries by name.  After a paired step,
		 * another pair is in order on both sides iff it is on one. */
		if ((c <= 0 && i > 0 && !after(&ta->entries[i - 1], x)) ||
		    (c >= 0 && j > 0 && !(c == 0 && paired) && !after(&tb->entries[j - 1], y))) {
			rc = STOP;
			break;
		}
		paired = c == 0;
		if (c < 0) {
			rc = enter(d, x, x, NULL);
			i++;
		} else if (c > 0) {
			rc = enter(d, y, NULL, y);
			j++;
		} else {
			if (!grove__oid_equal(&x->id, &y->id) || x->mode != y->mode)
				rc = enter(d, x, x, y);
			i++;
			j++;
		}
	}
	grove__tree_release(ta);
	grove__tree_release(tb);
	return rc;
}

/* The entry of commit (not yet inserted). */
static int compute(grove *g, const grove_oid *commit, jentry *out)
{
	memset(out, 0, sizeof(*out));
	grove_commit *cm = NULL;
	int rc = grove_commit_read(g, commit, &cm);
	if (rc < 0)
		return rc;
	grove_oid ptree;
	out->commit = *commit;
	if (cm->parent_count) {
		out->has_parent = 1;
		out->parent = cm->parents[0];
		rc = grove__commit_tree(g, &out->parent, &ptree);
	}
	dctx d = { 0 };
	d.g = g;
	if (rc == 0)
		rc = walk(&d, out->has_parent ? &ptree : NULL, &cm->tree);
	grove_commit_free(cm);
	if (rc == STOP) {
		out->overflow = 1;
		rc = 0;
	} else if (rc == 0 && d.n) {
		/* one block: the array, then the paths */
		size_t arr = d.n * sizeof(jchange);
		out->changes = grove__malloc(arr + d.names.len);
		if (!out->changes) {
			rc = GROVE_ENOMEM;
		} else {
			char *names = (char *)out->changes + arr;
			memcpy(names, d.names.data, d.names.len);
			for (size_t k = 0; k < d.n; k++) {
				jchange *c = &out->changes[k];
				c->path = names + d.v[k].path_off;
				c->old_mode = d.v[k].old_mode;
				c->new_mode = d.v[k].new_mode;
				c->old_id = d.v[k].old_id;
				c->new_id = d.v[k].new_id;
			}
			out->count = d.n;
		}
	}
	free(d.v);
	grove__sbuf_dispose(&d.path);
	grove__sbuf_dispose(&d.names);
	return rc;
}

int grove__dav_journal_record(grove *g, const grove_oid *commit)
{
	pthread_mutex_lock(&J_lock);
	int known = find_locked(commit) != NULL;
	pthread_mutex_unlock(&J_lock);
	if (known)
		return 0;
	jentry e;
	int rc = compute(g, commit, &e);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&J_lock);
	insert_locked(&e);
	pthread_mutex_unlock(&J_lock);
	return 0;
}

/* ---- answering a sync ------------------------------------------------------------ */

/* A member's change in one commit; seq orders commits newest first. */
typedef struct {
	char *name;
	size_t seq;
	uint32_t old_mode, new_mode;
	grove_oid old_id, new_id;
} acc_item;

typedef struct {
	acc_item *v;
	size_t n, cap;
} acc;

static void acc_dispose(acc *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].name);
	free(a->v);
}

/* The member name of path in the collection at key (klen bytes), or NULL
 * when path is not a direct, visible member. */
static const char *member_of(const char *path, const char *key, size_t klen)
{
	if (strncmp(path, key, klen) != 0 || path[klen] != '/')
		return NULL;
	const char *name = path + klen + 1;
	if (!name[0] || name[0] == '.' || strchr(name, '/'))
		return NULL;
	return name;
}

static int acc_add(acc *a, const char *name, size_t seq, uint32_t old_mode, const grove_oid *old_id,
		   uint32_t new_mode, const grove_oid *new_id)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		acc_item *nv = grove__realloc(a->v, cap * sizeof(*nv));
		if (!nv)
			return GROVE_ENOMEM;
		a->v = nv;
		a->cap = cap;
	}
	acc_item *it = &a->v[a->n];
	if (!(it->name = grove__strdup(name)))
		return GROVE_ENOMEM;
	it->seq = seq;
	it->old_mode = old_mode;
	it->new_mode = new_mode;
	it->old_id = *old_id;
	it->new_id = *new_id;
	a->n++;
	return 0;
}

static int acc_cmp(const void *x, const void *y)
{
	const acc_item *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static grove_diff_kind kind_of(uint32_t old_mode, uint32_t new_mode)
{
	return !old_mode ? GROVE_DIFF_ADDED : !new_mode ? GROVE_DIFF_REMOVED : GROVE_DIFF_MODIFIED;
}

/* Per member: its state before the oldest commit against its state after
 * the newest; equal states (changed and changed back) drop out. */
static int acc_finish(acc *a, grove__dav_sync_changes *out)
{
	memset(out, 0, sizeof(*out));
	if (a->n)
		qsort(a->v, a->n, sizeof(*a->v), acc_cmp);
	if (a->n && !(out->items = grove__calloc(a->n, sizeof(*out->items))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < a->n;) {
		size_t j = i;
		while (j + 1 < a->n && strcmp(a->v[j + 1].name, a->v[i].name) == 0)
			j++;
		const acc_item *newest = &a->v[i], *oldest = &a->v[j];
		if (oldest->old_mode != newest->new_mode ||
		    !grove__oid_equal(&oldest->old_id, &newest->new_id)) {
			grove__dav_sync_change *c = &out->items[out->count++];
			c->name = a->v[i].name;
			a->v[i].name = NULL; /* moved */
			c->kind = kind_of(oldest->old_mode, newest->new_mode);
			c->new_id = newest->new_id;
			c->new_mode = newest->new_mode;
		}
		i = j + 1;
	}
	return 0;
}

/* Adds the member changes of one commit's tree diff (below key). */
static int acc_add_diff(acc *a, const grove_diff *diff, const char *key, size_t seq)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < diff->count; i++) {
		const grove_diff_entry *d = &diff->entries[i];
		const char *name = member_of(d->path, key, klen);
		if (name && acc_add(a, name, seq, d->old_mode, &d->old_id, d->new_mode, &d->new_id) < 0)
			return GROVE_ENOMEM;
	}
	return 0;
}

int grove__dav_journal_changes(grove *g, const grove_oid *since, const grove_oid *head,
			       const char *key, grove__dav_sync_changes *out)
{
	memset(out, 0, sizeof(*out));
	if (grove__oid_equal(since, head))
		return 0;
	if (grove_oid_is_zero(head) || grove_oid_is_zero(since))
		return 1;
	size_t klen = strlen(key);
	acc a = { 0 };
	grove_oid cur = *head;
	int rc = 1, computed = 0;
	for (size_t seq = 0; seq < DAV_JOURNAL_MAX_WALK; seq++) {
		pthread_mutex_lock(&J_lock);
		jentry *e = find_locked(&cur);
		if (!e) {
			pthread_mutex_unlock(&J_lock);
			if (++computed > DAV_JOURNAL_MAX_COMPUTE || grove__dav_journal_record(g, &cur) < 0)
				break; /* decline: the full diff answers (or reports) */
			pthread_mutex_lock(&J_lock);
			if (!(e = find_locked(&cur))) {
				pthread_mutex_unlock(&J_lock);
				break;
			}
		}
		int has_parent = e->has_parent, overflow = e->overflow;
		grove_oid parent = e->parent;
		int err = 0;
		for (size_t k = 0; !overflow && k < e->count && err == 0; k++) {
			const jchange *c = &e->changes[k];
			const char *name = member_of(c->path, key, klen);
			if (name)
				err = acc_add(&a, name, seq, c->old_mode, &c->old_id, c->new_mode, &c->new_id);
		}
		pthread_mutex_unlock(&J_lock);
		if (err == 0 && overflow) {
			/* a big commit: its diff below this collection only */
			grove_diff diff = { 0 };
			err = grove_diff_commits(g, has_parent ? &parent : NULL, &cur, key, &diff);
			if (err == 0)
				err = acc_add_diff(&a, &diff, key, seq);
			grove_diff_dispose(&diff);
		}
		if (err < 0) {
			rc = err;
			break;
		}
		if (!has_parent)
			break;
		if (grove__oid_equal(&parent, since)) {
			rc = 0;
			break;
		}
		cur = parent;
	}
	if (rc == 0)
		rc = acc_finish(&a, out);
	if (rc != 0)
		grove__dav_sync_changes_dispose(out);
	acc_dispose(&a);
	return rc;
}

int grove__dav_sync_full(grove *g, const grove_oid *since, const grove_oid *head,
			 const char *key, grove__dav_sync_changes *out)
{
	memset(out, 0, sizeof(*out));
	grove_diff diff = { 0 };
	int rc = grove_diff_commits(g, since, head, key, &diff);
	if (rc < 0)
		return rc;
	size_t klen = strlen(key);
	if (diff.count && !(out->items = grove__calloc(diff.count, sizeof(*out->items))))
		rc = GROVE_ENOMEM;
	for (size_t i = 0; rc == 0 && i < diff.count; i++) {
		const grove_diff_entry *d = &diff.entries[i];
		const char *name = member_of(d->path, key, klen);
		if (!name)
			continue;
		grove__dav_sync_change *c = &out->items[out->count];
		if (!(c->name = grove__strdup(name))) {
			rc = GROVE_ENOMEM;
			break;
		}
		c->kind = d->kind;
		c->new_id = d->new_id;
		c->new_mode = d->new_mode;
		out->count++;
	}
	grove_diff_dispose(&diff);
	if (rc < 0)
		grove__dav_sync_changes_dispose(out);
	return rc;
}

void grove__dav_sync_changes_dispose(grove__dav_sync_changes *c)
{
	for (size_t i = 0; c->items && i < c->count; i++)
		free(c->items[i].name);
	free(c->items);
	c->items = NULL;
	c->count = 0;
}
