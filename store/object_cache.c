/*
 * A small cache of recently read small objects (values, mostly), keyed by
 * object id.  Objects are immutable, so entries never go stale.  It sits in
 * front of the backend because a B-tree lookup costs more than everything
 * else in a key lookup; it is direct-mapped (no bookkeeping on a hit) and
 * holds at most BUDGET bytes, so memory stays predictable.
 */
#include "cache_budget.h"
#include "error.h"
#include "oid.h"
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 65536
#define MAX_OBJECT 1024
#define BUDGET ((size_t)8 << 20)
#define STRIPES 16

typedef struct {
	grove_oid id;
	grove_otype type;
	size_t size;
	unsigned char data[];
} cached_obj;

struct grove__obj_cache {
	pthread_mutex_t locks[STRIPES];
	size_t bytes; /* atomic */
	size_t budget; /* atomic; BUDGET unless a server set its own */
	cached_obj *slots[SLOTS];
};

int grove__obj_cache_new(grove__obj_cache **out)
{
	grove__obj_cache *c = grove__calloc(1, sizeof(*c));
	if (!c)
		return GROVE_ENOMEM;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	c->budget = BUDGET;
	*out = c;
	return 0;
}

void grove__obj_cache_free(grove__obj_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		free(c->slots[i]);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c);
}

/* The first slot of id's bucket: two slots, the more recently used first
 * (two-way set associative, so two hot objects sharing a bucket do not
 * evict each other on every use), under one lock. */
static size_t slot_of(const grove_oid *id)
{
	uint32_t h;
	memcpy(&h, id->id + 8, sizeof(h));
	return (h % SLOTS) & ~(size_t)1;
}

static pthread_mutex_t *lock_of(grove__obj_cache *c, size_t s)
{
	return &c->locks[(s >> 1) % STRIPES];
}

int grove__obj_cache_get(grove__obj_cache *c, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	size_t s = slot_of(id);
	pthread_mutex_t *lock = lock_of(c, s);
	cached_obj *o;
	int hit = 0;
	pthread_mutex_lock(lock);
	o = c->slots[s];
	if ((!o || !grove__oid_equal(&o->id, id)) && (o = c->slots[s + 1]) &&
		grove__oid_equal(&o->id, id)) {
		c->slots[s + 1] = c->slots[s];
		c->slots[s] = o;
	}
	if (o && grove__oid_equal(&o->id, id)) {
		unsigned char *copy = malloc(o->size + 1);
		if (copy) {
			memcpy(copy, o->data, o->size);
			copy[o->size] = '\0';
			out->data = copy;
			out->size = o->size;
			*type = o->type;
			hit = 1;
		}
	}
	pthread_mutex_unlock(lock);
	return hit;
}

void grove__obj_cache_put(grove__obj_cache *c, const grove_oid *id, grove_otype type,
	const void *data, size_t size)
{
	size_t s;
	cached_obj *o, *old;
	if (size > MAX_OBJECT)
		return;
	o = malloc(sizeof(*o) + size);
	if (!o)
		return; /* a cache may always decline */
	o->id = *id;
	o->type = type;
	o->size = size;
	memcpy(o->data, data, size);
	s = slot_of(id);
	pthread_mutex_lock(lock_of(c, s));
	/* The same id replaces itself; else the bucket's older entry goes
	 * (none while a slot is free).  The new one goes first. */
	cached_obj *first = c->slots[s], *second = c->slots[s + 1], *keep;
	if (first && grove__oid_equal(&first->id, id)) {
		old = first;
		keep = second;
	} else if (second && grove__oid_equal(&second->id, id)) {
		old = second;
		keep = first;
	} else if (!first) {
		old = NULL;
		keep = second;
	} else {
		old = second;
		keep = first;
	}
	/* Over budget, only replacing an entry is allowed: the total stays put. */
	if (!old && __atomic_load_n(&c->bytes, __ATOMIC_RELAXED) + size >
			    __atomic_load_n(&c->budget, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(lock_of(c, s));
		free(o);
		return;
	}
	c->slots[s] = o;
	c->slots[s + 1] = keep;
	__atomic_add_fetch(&c->bytes, size, __ATOMIC_RELAXED);
	if (old)
		__atomic_sub_fetch(&c->bytes, old->size, __ATOMIC_RELAXED);
	pthread_mutex_unlock(lock_of(c, s));
	free(old);
}

void grove__obj_cache_set_budget(grove *g, size_t bytes)
{
	grove__obj_cache *c = g->objects;
	__atomic_store_n(&c->budget, bytes, __ATOMIC_RELAXED);
	if (__atomic_load_n(&c->bytes, __ATOMIC_RELAXED) <= bytes)
		return;
	/* over the new bound: empty it, stripe by stripe */
	for (size_t s = 0; s < SLOTS; s++) {
		pthread_mutex_lock(lock_of(c, s & ~(size_t)1));
		cached_obj *o = c->slots[s];
		c->slots[s] = NULL;
		if (o)
			__atomic_sub_fetch(&c->bytes, o->size, __ATOMIC_RELAXED);
		pthread_mutex_unlock(lock_of(c, s & ~(size_t)1));
		free(o);
	}
}

size_t grove__obj_cache_budget(grove *g)
{
	return __atomic_load_n(&g->objects->budget, __ATOMIC_RELAXED);
}
