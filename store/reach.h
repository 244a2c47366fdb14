/*
 * The reachability walk shared by fsck and gc: every object reachable from
 * a set of roots, each once, iteratively (an explicit stack, so histories
 * of any depth are fine).  Commits lead to their tree and parents, trees to
 * their entries (gitlinks, mode 160000, name objects of another repository
 * and are skipped), tags to their target.  Object contents are read one at
 * a time and freed: memory is the seen set plus the pending stack.
 */
#ifndef GROVE_REACH_H
#define GROVE_REACH_H

#include "oidset.h"
#include "store.h"

/* Called for each problem found (fsck mode).  A negative return stops the
 * walk and is returned. */
typedef int (*grove__reach_problem_fn)(const grove_oid *id, const char *message, void *payload);

typedef struct {
	grove_oid id;
	grove_oid from;          /* the object that names this one; zeros for a root */
	unsigned char want;      /* expected grove_otype, GROVE_OBJ_BAD for any */
	unsigned char base_only; /* reached only as a delta base: keep, do not descend */
} grove__reach_item;

typedef struct {
	grove *g;
	grove__oidset seen;  /* objects walked (or queued) as themselves */
	grove__oidset bases; /* objects kept only as delta bases */
	grove__reach_item *stack;
	size_t depth, cap;

	/*
	 * fsck: read every object (blobs too), check that it hashes to its id,
	 * has the expected type and passes git's fsck rules; problems go to
	 * `problem` and the walk goes on.  Otherwise (gc): blobs are not read,
	 * and an unreadable commit, tree or tag stops the walk with an error,
	 * because what it references cannot be known and must not be deleted.
	 */
	int fsck;
	/* Also mark the delta bases of every object (read_raw, recursively). */
	int follow_deltas;
	grove__reach_problem_fn problem;
	void *payload;

	const char *root_name; /* the ref being walked, for messages */
	size_t objects_checked;
} grove__reach;

void grove__reach_init(grove__reach *r, grove *g);
void grove__reach_dispose(grove__reach *r);

/* Walks everything reachable from id that is not yet in r->seen.  want is
 * the expected type (GROVE_OBJ_BAD for any); name names the root in
 * messages (a ref name). */
int grove__reach_walk(grove__reach *r, const grove_oid *id, grove_otype want, const char *name);

/* A snapshot of every ref (name, target), taken before walking so that no
 * backend lock or transaction is held while objects are read. */
typedef struct {
	char **names;
	grove_oid *ids;
	size_t count, cap;
} grove__ref_list;

int grove__ref_list_load(grove *g, grove__ref_list *out);
void grove__ref_list_dispose(grove__ref_list *list);

#endif
