/*
 * dav_files.h - the plain WebDAV area /dav/<user>/files/ (internal to the
 * DAV server; the layout is described in dav_store.h).
 *
 * Here any bytes may be PUT and collections nest: a directory of the store
 * is a collection, a value is a resource.  Dead properties of a collection
 * are kept in its .props, those of a resource in the sidecar
 * .props.d/<name> beside it.
 */
#ifndef GROVE_NET_DAV_FILES_H
#define GROVE_NET_DAV_FILES_H

#include "dav_internal.h"

/* grove__dav_files_prop_get's answer for the properties shared with the
 * calendar model (principal, owner, privileges, quota). */
#define DAV_FILES_PROP_GENERIC 2

/* grove__dav_res_load for a files-area path: settles COLLECTION versus
 * OBJECT from base, loads the dead properties; coll_exists says whether
 * the parent collection exists.  0 or an HTTP status. */
int grove__dav_files_res_load(grove__dav_ctx *c, grove_view *v, const grove__dav_path *p,
			      grove__dav_res *out);
/* The key of the file holding r's dead properties. */
int grove__dav_files_props_key(const grove__dav_res *r, grove__sbuf *out);
/* Stages r's dead properties (removes the sidecar of a resource that has
 * none left).  0 or 500. */
int grove__dav_files_write_props(grove_txn *txn, const grove__dav_res *r,
				 const grove__dav_props *props);
/* Stages the removal of r with its sidecar.  0 or 500. */
int grove__dav_files_remove(grove_txn *txn, const grove__dav_res *r);
/* Stages a copy of src (read from base) at dst's key: a resource with its
 * dead properties, a collection whole (depth_zero: only its properties). */
int grove__dav_files_copy(grove_txn *txn, grove_view *base, const grove__dav_res *src,
			  const grove__dav_res *dst, int depth_zero);
/* Live and dead properties of files-area resources: 1 found, 0 absent,
 * < 0 error, DAV_FILES_PROP_GENERIC for the shared ones. */
int grove__dav_files_prop_get(grove__dav_ctx *c, grove_view *v, grove__dav_res *r,
			      const char *ns, const char *name, grove__dav_xw *w);
/* A media type from a resource name's extension. */
const char *grove__dav_files_content_type(const char *name);

void grove__dav_files_put(grove__dav_ctx *c);
void grove__dav_files_delete(grove__dav_ctx *c);

#endif
