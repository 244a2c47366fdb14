/*
 * A cache of parsed trees keyed by object id.  Trees are immutable, so an
 * entry can never go stale; the cache only bounds memory.  It is two-way
 * set associative (a bucket of two slots, the more recently used first):
 * lookups stay O(1), and two hot trees whose ids share a bucket no longer
 * evict each other on every use, which a direct-mapped cache does to about
 * one pair in a working set of a hundred directories.
 */
#include "cache_budget.h"
#include "error.h"
#include "oid.h"
#include "store.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192
#define TRIM_MIN_BYTES ((size_t)8 << 20)

struct grove__tree_cache {
	pthread_mutex_t lock;
	grove__tree *slots[SLOTS];
	size_t bytes, budget;
	/* The largest tree inserted so far.  With a budget set at run time
	 * (grove__tree_cache_set_budget: a small one, for a server) the bound
	 * applied is at least three of them: with a budget below one big tree
	 * (a collection of 100,000 members) every insert would empty the
	 * cache, and the big tree would be parsed again on every lookup.  The
	 * compiled-in budget keeps its old meaning. */
	size_t largest;
	int floor_largest;
};

int grove__tree_cache_new(grove__tree_cache **out, size_t budget)
{
	grove__tree_cache *c = grove__calloc(1, sizeof(*c));
	if (!c)
		return GROVE_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->budget = budget;
	*out = c;
	return 0;
}

void grove__tree_release(grove__tree *tree)
{
	if (tree && __atomic_sub_fetch(&tree->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		grove__tree_free(tree);
}

void grove__tree_cache_free(grove__tree_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		grove__tree_release(c->slots[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void grove__tree_cache_set_budget(grove *g, size_t bytes)
{
	grove__tree_cache *c = g->trees;
	int trimmed = 0;
	pthread_mutex_lock(&c->lock);
	c->budget = bytes;
	c->floor_largest = 1;
	if (c->bytes > bytes && c->bytes > 3 * c->largest) {
		/* as cache_insert over budget: start afresh */
		for (size_t i = 0; i < SLOTS; i++) {
			grove__tree_release(c->slots[i]);
			c->slots[i] = NULL;
		}
		c->bytes = 0;
		trimmed = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (trimmed)
		malloc_trim(0);
}

size_t grove__tree_cache_budget(grove *g)
{
	grove__tree_cache *c = g->trees;
	pthread_mutex_lock(&c->lock);
	size_t b = c->budget;
	pthread_mutex_unlock(&c->lock);
	return b;
}

static size_t slot_of(const grove_oid *id)
{
	uint32_t h;
	memcpy(&h, id->id + 4, sizeof(h));
	return h % SLOTS;
}

static grove__tree *cache_lookup(grove__tree_cache *c, const grove_oid *id)
{
	grove__tree *t;
	size_t s = slot_of(id) & ~(size_t)1;
	pthread_mutex_lock(&c->lock);
	t = c->slots[s];
	if (!t || !grove__oid_equal(&t->id, id)) {
		t = c->slots[s + 1];
		if (t && grove__oid_equal(&t->id, id)) {
			/* the most recently used goes first */
			c->slots[s + 1] = c->slots[s];
			c->slots[s] = t;
		} else {
			t = NULL;
		}
	}
	if (t)
		__atomic_add_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&c->lock);
	return t;
}

static void cache_insert(grove__tree_cache *c, grove__tree *t)
{
	size_t s = slot_of(&t->id) & ~(size_t)1;
	grove__tree *old;
	int trimmed = 0;
	pthread_mutex_lock(&c->lock);
	if (t->bytes > c->largest)
		c->largest = t->bytes;
	size_t bound = c->budget;
	if (c->floor_largest && c->largest > bound / 3)
		bound = 3 * c->largest;
	if (c->bytes + t->bytes > bound) {
		/* Over budget: start afresh rather than track recency, and give
		 * the freed memory back so a server's footprint stays flat. */
		for (size_t i = 0; i < SLOTS; i++) {
			grove__tree_release(c->slots[i]);
			c->slots[i] = NULL;
		}
		/* malloc_trim walks the whole heap (~0.5 ms in a DAV server, a
		 * few percent of a PUT when a small cache empties every few
		 * writes): worth it after a big cache, while the memory of a
		 * small one is taken again at once by the next trees. */
		trimmed = c->bytes >= TRIM_MIN_BYTES;
		c->bytes = 0;
	}
	/* The same id replaces itself; otherwise the bucket's older entry
	 * goes and the newer moves to second place. */
	if (c->slots[s + 1] && grove__oid_equal(&c->slots[s + 1]->id, &t->id)) {
		old = c->slots[s + 1];
		c->slots[s + 1] = c->slots[s];
	} else if (c->slots[s] && grove__oid_equal(&c->slots[s]->id, &t->id)) {
		old = c->slots[s];
	} else {
		old = c->slots[s + 1];
		c->slots[s + 1] = c->slots[s];
	}
	if (old)
		c->bytes -= old->bytes;
	__atomic_add_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL);
	c->slots[s] = t;
	c->bytes += t->bytes;
	pthread_mutex_unlock(&c->lock);
	grove__tree_release(old);
	if (trimmed)
		malloc_trim(0);
}

void grove__tree_cache_put(grove *g, grove__tree *tree)
{
	cache_insert(g->trees, tree);
}

int grove__tree_get(grove *g, const grove_oid *id, grove__tree **out)
{
	grove__tree *t = cache_lookup(g->trees, id);
	grove_buf buf = { 0 };
	int err;
	if (t) {
		*out = t;
		return 0;
	}
	if ((err = grove__read(g, id, GROVE_OBJ_TREE, &buf)) < 0)
		return err;
	err = grove__tree_parse(id, buf.data, buf.size, &t);
	grove_buf_dispose(&buf);
	if (err < 0) {
		char hex[41];
		return grove__error_wrap(err, "tree %s", grove_oid_tohex(hex, id));
	}
	cache_insert(g->trees, t);
	*out = t;
	return 0;
}
