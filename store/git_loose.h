/*
 * Reading git's loose objects directly.  libgit2 1.5 can loop forever on a
 * truncated loose object (libgit2 issue #7342), so the git: backend reads
 * loose objects itself, with bounded inflation, and leaves packs to libgit2.
 */
#ifndef GROVE_GIT_LOOSE_H
#define GROVE_GIT_LOOSE_H

#include "grove.h"

/*
 * Reads objects_dir/xx/yyyy...  Returns 1 when there is no such loose
 * object (the caller should look in packs), 0 with the object, or < 0
 * (GROVE_ECORRUPT for a damaged file).  With header_only, out may be NULL.
 */
int grove__git_loose_read(const char *objects_dir, const grove_oid *id, grove_otype *type,
	size_t *size, grove_buf *out);

#endif
