/* An open-addressing hash set of object ids.  Ids are SHA-1 output, so
 * their first bytes are already uniformly distributed: no hash function. */
#include "oidset.h"
#include "error.h"
#include "oid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(const grove_oid *id, size_t mask)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return (size_t)h & mask;
}

/* Inline and branch-free: this runs on every probe of every walk. */
static inline int is_empty(const grove_oid *slot)
{
	uint64_t a, b;
	uint32_t c;
	memcpy(&a, slot->id, sizeof(a));
	memcpy(&b, slot->id + 8, sizeof(b));
	memcpy(&c, slot->id + 16, sizeof(c));
	return (a | b | c) == 0;
}

static void insert_new(grove_oid *slots, size_t cap, const grove_oid *id)
{
	size_t mask = cap - 1, i = slot_of(id, mask);
	while (!is_empty(&slots[i]))
		i = (i + 1) & mask;
	slots[i] = *id;
}

static int grow(grove__oidset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 1024;
	grove_oid *slots;

	if (cap > SIZE_MAX / sizeof(grove_oid) / 2)
		return grove__error_oom();
	if (!(slots = grove__calloc(cap, sizeof(*slots))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (!is_empty(&set->slots[i]))
			insert_new(slots, cap, &set->slots[i]);
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

int grove__oidset_add(grove__oidset *set, const grove_oid *id)
{
	size_t mask, i;

	if (is_empty(id)) {
		if (set->has_zero)
			return 0;
		set->has_zero = 1;
		set->count++;
		return 1;
	}
	/* Keep the load under 3/4 so probes stay short (checked before the
	 * probe, so one probe both looks for id and finds its slot). */
	if ((set->count + 1) * 4 > set->cap * 3) {
		int err = grow(set);
		if (err < 0)
			return err;
	}
	mask = set->cap - 1;
	for (i = slot_of(id, mask); !is_empty(&set->slots[i]); i = (i + 1) & mask)
		if (grove__oid_equal(&set->slots[i], id))
			return 0;
	set->slots[i] = *id;
	set->count++;
	return 1;
}

int grove__oidset_contains(const grove__oidset *set, const grove_oid *id)
{
	size_t mask, i;

	if (is_empty(id))
		return set->has_zero;
	if (!set->cap)
		return 0;
	mask = set->cap - 1;
	for (i = slot_of(id, mask); !is_empty(&set->slots[i]); i = (i + 1) & mask)
		if (grove__oid_equal(&set->slots[i], id))
			return 1;
	return 0;
}

void grove__oidset_dispose(grove__oidset *set)
{
	free(set->slots);
	set->slots = NULL;
	set->cap = set->count = 0;
	set->has_zero = 0;
}

int grove__oidvec_push(grove__oidvec *v, const grove_oid *id)
{
	if (v->count == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		grove_oid *n = grove__realloc(v->ids, cap * sizeof(*n));
		if (!n)
			return GROVE_ENOMEM;
		v->ids = n;
		v->cap = cap;
	}
	v->ids[v->count++] = *id;
	return 0;
}

void grove__oidvec_dispose(grove__oidvec *v)
{
	free(v->ids);
	v->ids = NULL;
	v->count = v->cap = 0;
}
