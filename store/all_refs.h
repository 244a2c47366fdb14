/* Every ref of a backend, gathered as one write set's ref updates (used
 * by grove_import and grove_export, which copy all refs in one write). */
#ifndef GROVE_ALL_REFS_H
#define GROVE_ALL_REFS_H

#include "backend.h"

typedef struct {
	grove_ref_update *u;
	size_t n, cap;
} grove__all_refs;

/* Appends every ref of be to l as an unconditional update (check_old 0).
 * On failure l keeps what was gathered: dispose it either way. */
int grove__all_refs_collect(grove_backend *be, grove__all_refs *l);
void grove__all_refs_dispose(grove__all_refs *l);

#endif
