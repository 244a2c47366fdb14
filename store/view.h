/* Path lookups shared by views, transactions, diffs and merges. */
#ifndef GROVE_VIEW_H
#define GROVE_VIEW_H

#include "sbuf.h"
#include "store.h"

/* Finds path ("" = root itself) below the tree root. */
int grove__path_lookup(grove *g, const grove_oid *root, const char *path, grove_oid *id, uint32_t *mode);
/* The entries of one tree as a public list. */
int grove__list_tree(grove *g, const grove_oid *tree_id, grove_entry_list *out);
/* Appends every value below tree_id with keys prefixed by prefix. */
int grove__collect_items(grove *g, const grove_oid *tree_id, grove__sbuf *prefix,
	grove_item_list *out, size_t *cap);

#endif
