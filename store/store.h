/* The grove handle and the object access shared by the store's modules. */
#ifndef GROVE_STORE_H
#define GROVE_STORE_H

#include <pthread.h>

#include "backend.h"
#include "grove.h"
#include "object.h"

typedef struct grove__tree_cache grove__tree_cache;
typedef struct grove__obj_cache grove__obj_cache;
typedef struct grove__watch grove__watch;
typedef struct grove__merge_driver grove__merge_driver;

struct grove {
	grove_backend *be;
	grove_options opts;
	char *location;
	/* Serialises this handle's writers; readers never take it. */
	pthread_mutex_t write_lock;
	grove__tree_cache *trees;
	grove__obj_cache *objects;

	/* Watches and the heads they last saw (for grove_poll). */
	pthread_mutex_t watch_lock;
	grove__watch *watches;
	uint64_t next_watch_id;
	struct grove__seen_ref *seen;
	size_t seen_count;

	pthread_mutex_t merge_lock;
	grove__merge_driver *merge_drivers;
};

/* Reads an object; if want != GROVE_OBJ_BAD, any other type is an error. */
int grove__read(grove *g, const grove_oid *id, grove_otype want, grove_buf *out);
/* A parsed tree through the cache; release with grove__tree_release. */
int grove__tree_get(grove *g, const grove_oid *id, grove__tree **out);
void grove__tree_release(grove__tree *tree);
/* Offers a tree just written to the cache (takes a reference of its own). */
void grove__tree_cache_put(grove *g, grove__tree *tree);
/* The tree of a commit. */
int grove__commit_tree(grove *g, const grove_oid *commit, grove_oid *tree);

/*
 * The single write path: backend write, then watches for any refs/heads/
 * that changed.  Checks read_only.
 */
int grove__write(grove *g, const grove__write_set *ws);

/* Resolves a branch name to its full ref ("main" -> "refs/heads/main"). */
int grove__branch_ref(const char *branch, char *out, size_t outlen);

/* 1 if ancestor is desc or one of its ancestors, 0 if not (history module). */
int grove__is_ancestor(grove *g, const grove_oid *ancestor, const grove_oid *desc);

/* Watches: called by grove__write after refs changed. */
void grove__watch_fire(grove *g, const grove_ref_update *updates, const grove_oid *old_ids, size_t count);
void grove__watch_dispose(grove *g);
void grove__merge_dispose(grove *g);

/* Small-object cache in front of the backend (grove__read uses it). */
int grove__obj_cache_new(grove__obj_cache **out);
void grove__obj_cache_free(grove__obj_cache *cache);
/* 1 and a copy in out on a hit, 0 on a miss. */
int grove__obj_cache_get(grove__obj_cache *cache, const grove_oid *id, grove_otype *type, grove_buf *out);
void grove__obj_cache_put(grove__obj_cache *cache, const grove_oid *id, grove_otype type,
	const void *data, size_t size);

/* Tree cache. */
int grove__tree_cache_new(grove__tree_cache **out, size_t budget_bytes);
void grove__tree_cache_free(grove__tree_cache *cache);

#endif
