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

/* On success the handle owns be (grove_close calls be->ops->close); on
 * failure be is left to the caller.  opts may be NULL. */
int grove__open_backend(grove **out, grove_backend *be, const grove_options *opts);

#endif
