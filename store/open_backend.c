/* open_backend.c - a store handle over a caller's backend (see open_backend.h). */
#include "open_backend.h"

#include "error.h"
#include "store.h"

int grove__open_backend(grove **out, grove_backend *be, grove *share_caches,
	const grove_options *opts)
{
	grove *g;
	int rc;
	if (!out || !be)
		return grove__error_set(GROVE_EINVALID, "grove__open_backend: NULL argument");
	/* grove_open sets up locks and caches exactly as for any store; an
	 * in-memory backend is the cheapest placeholder to swap out, and this
	 * way the handle can never miss a field grove_open learns to set. */
	if ((rc = grove_open(&g, "mem:", opts)) < 0)
		return rc;
	g->be->ops->close(g->be);
	g->be = be;
	if (share_caches) {
		/* Content-addressed: an id means the same bytes in both handles,
		 * and the caches are already safe for concurrent readers. */
		grove__tree_cache_free(g->trees);
		grove__obj_cache_free(g->objects);
		g->trees = share_caches->trees;
		g->objects = share_caches->objects;
	}
	*out = g;
	return 0;
}

void grove__close_sharing(grove *g)
{
	if (!g)
		return;
	g->trees = NULL;
	g->objects = NULL;
	grove_close(g);
}
