/* Parsing and writing git's object formats: trees, commits, tags. */
#ifndef GROVE_OBJECT_H
#define GROVE_OBJECT_H

#include "grove.h"
#include "sbuf.h"

#define GROVE_MODE_BLOB 0100644u
#define GROVE_MODE_EXEC 0100755u
#define GROVE_MODE_LINK 0120000u
#define GROVE_MODE_TREE 0040000u
#define GROVE_MODE_GITLINK 0160000u

typedef struct {
	const char *name; /* points into the tree's name storage; NUL-terminated */
	size_t name_len;
	uint32_t mode;
	grove_oid id;
} grove__tree_entry;

/* A parsed tree.  Immutable once parsed; shared through the tree cache and
 * reference counted. */
typedef struct {
	grove__tree_entry *entries;
	size_t count;
	grove_oid id;
	int refcount; /* atomic */
	size_t bytes; /* approximate memory, for the cache budget */
	/* Length of the delta chain this tree is stored with, when this
	 * process wrote it (0: whole); -1 when not known. */
	int chain;
	/* Name index built on the first lookup in a large tree (index + 1,
	 * 0 = empty; mask + 1 slots), published atomically. */
	uint32_t *index;
	size_t index_mask;
} grove__tree;

/* Parses a tree object.  Rejects malformed entries (bad mode, empty name,
 * '/' or NUL in a name, truncated id) with GROVE_ECORRUPT. */
int grove__tree_parse(const grove_oid *id, const void *data, size_t size, grove__tree **out);
void grove__tree_free(grove__tree *tree);
/* Builds a parsed tree from entries already in git's order (as written by
 * a transaction), without serialising and re-parsing. */
int grove__tree_from_entries(const grove_oid *id, const grove__tree_entry *entries, size_t count,
	grove__tree **out);
/* Index of the entry called name, or -1. */
long grove__tree_find(const grove__tree *tree, const char *name, size_t name_len);

/* git's tree order: names compared bytewise, a tree's name as if it ended
 * in '/'. */
int grove__tree_entry_cmp(const char *a, size_t alen, uint32_t amode,
	const char *b, size_t blen, uint32_t bmode);
/* Serialises entries (which must already be in git's order) as a tree. */
int grove__tree_write(const grove__tree_entry *entries, size_t count, grove__sbuf *out);
/* Bytes one entry takes in a tree object: "<octal mode> <name>\0<id>". */
size_t grove__tree_entry_size(const grove__tree_entry *e);
/* Sorts entries into git's order. */
void grove__tree_sort(grove__tree_entry *entries, size_t count);

int grove__mode_valid(uint32_t mode);
grove_kind grove__mode_kind(uint32_t mode);
uint32_t grove__kind_mode(grove_kind kind);

/* Commits.  The parsed commit owns all its strings. */
int grove__commit_parse(const grove_oid *id, const void *data, size_t size, grove_commit **out);
int grove__commit_write(const grove_oid *tree, const grove_oid *parents, size_t parent_count,
	const grove_signature *author, const grove_signature *committer,
	const char *message, grove__sbuf *out);
/* Fills in the defaults documented in grove.h (name, email, time now). */
void grove__signature_defaults(grove_signature *sig, const grove_signature *given);

/* "commit" -> GROVE_OBJ_COMMIT ...; GROVE_OBJ_BAD for anything else. */
grove_otype grove__otype_from_name(const char *name, size_t len);

/* Annotated tags. */
typedef struct {
	grove_oid target;
	grove_otype target_type;
	char *name;
} grove__tag;
int grove__tag_parse(const void *data, size_t size, grove__tag *out);
void grove__tag_dispose(grove__tag *tag);

/*
 * git fsck's rules for one object (strict mode): tree entry order, modes and
 * names (no "", ".", "..", ".git"), commit and tag header formats.  Returns
 * GROVE_ECORRUPT with a message naming the problem.
 */
int grove__object_check(grove_otype type, const void *data, size_t size);

#endif
