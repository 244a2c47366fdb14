#include "all_refs.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

static int collect_ref(const char *refname, const grove_oid *id, void *payload)
{
	grove__all_refs *l = payload;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		grove_ref_update *u = grove__realloc(l->u, cap * sizeof(*u));
		if (!u)
			return GROVE_ENOMEM;
		l->u = u;
		l->cap = cap;
	}
	grove_ref_update *u = &l->u[l->n];
	memset(u, 0, sizeof(*u));
	if (!(u->refname = grove__strdup(refname)))
		return GROVE_ENOMEM;
	u->new_id = *id;
	l->n++;
	return 0;
}

int grove__all_refs_collect(grove_backend *be, grove__all_refs *l)
{
	return be->ops->ref_foreach(be, "", collect_ref, l);
}

void grove__all_refs_dispose(grove__all_refs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->u[i].refname);
	free(l->u);
	l->u = NULL;
	l->n = l->cap = 0;
}
