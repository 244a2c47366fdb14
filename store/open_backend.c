/* open_backend.c - a store handle over a caller's backend (see open_backend.h). */
#include "open_backend.h"

#include "error.h"
#include "store.h"

int grove__open_backend(grove **out, grove_backend *be, const grove_options *opts)
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
	*out = g;
	return 0;
}
