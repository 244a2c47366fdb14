/*
 * cache_budget.h - run-time memory budgets of the store's caches (internal).
 *
 * The compiled-in budgets (tree cache 16 MiB, small-object cache 8 MiB,
 * delta base cache 16 MiB) suit a library user that does not know its
 * workload.  A server that does (the DAV server: a few big collection
 * trees that every write replaces, objects under 1 KiB, no deltas) sets
 * its own.  Lowering a budget below what a cache holds empties it, so the
 * new bound holds at once.  Each setter is safe to call at any time from
 * any thread.  Once its budget is set, the tree cache never bounds itself
 * below three of the largest trees it has held (else one tree over the
 * budget would empty the cache on every insert and be parsed again on
 * every lookup); the object caches keep nothing new with a budget of 0.
 */
#ifndef GROVE_STORE_CACHE_BUDGET_H
#define GROVE_STORE_CACHE_BUDGET_H

#include <stddef.h>

#include "grove.h"

/* Parsed trees of g (store/tree_cache.c). */
void grove__tree_cache_set_budget(grove *g, size_t bytes);
size_t grove__tree_cache_budget(grove *g);
/* Small objects (values) of g (store/object_cache.c). */
void grove__obj_cache_set_budget(grove *g, size_t bytes);
size_t grove__obj_cache_budget(grove *g);
/* Resolved delta bases, shared by every store in the process
 * (store/object_decode.c). */
void grove__delta_base_cache_set_budget(size_t bytes);
size_t grove__delta_base_cache_budget(void);

#endif
