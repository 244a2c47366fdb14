/*
 * open_backend.h - a store handle over a backend built by its caller
 * (internal; additive to store.c, which only opens backends by location).
 *
 * For layers that present a filtered or remapped view of another store to
 * code written against a grove handle (e.g. the per-user git view of the
 * DAV store in net/dav_git_user_view.c).
 */
#ifndef GROVE_OPEN_BACKEND_H
#define GROVE_OPEN_BACKEND_H

#include "backend.h"
#include "grove.h"

/*
 * On success the handle owns be (closing the handle calls be->ops->close);
 * on failure be is left to the caller.  opts may be NULL.
 *
 * share_caches (may be NULL): a handle whose objects be serves under the
 * same ids (e.g. the store be wraps).  The new handle then uses its tree
 * and object caches instead of its own (no second cache budget, and both
 * stay warm); it must be closed with grove__close_sharing, before
 * share_caches is closed.  Without it, close with grove_close.
 */
int grove__open_backend(grove **out, grove_backend *be, grove *share_caches,
	const grove_options *opts);
/* Closes a handle opened with share_caches, leaving the caches to their owner. */
void grove__close_sharing(grove *g);

#endif
