/*
 * Ahead/behind counts for grove_sync's status, without walking whole
 * histories: both sides are painted down in commit-time order and the
 * walk stops once every commit still queued is reachable from both.  Cost
 * is proportional to the commits since the merge base, not to the history.
 * Commit dates that go backwards can make the counts approximate; they are
 * a status display, never a decision.
 */
#include "sync_internal.h"

#include "commit_walk.h"
#include "error.h"
#include "oid.h"

#define FROM_A 1u
#define FROM_B 2u

static int all_common(const grove__cwalk *w)
{
	for (size_t i = 0; i < w->heap_len; i++)
		if ((w->heap[i]->flags & (FROM_A | FROM_B)) != (FROM_A | FROM_B))
			return 0;
	return 1;
}

static int seed(grove__cwalk *w, const grove_oid *id, unsigned flag)
{
	grove__cnode *c;
	int rc;
	if (grove_oid_is_zero(id))
		return 0;
	if ((rc = grove__cwalk_get(w, id, 1, &c)) < 0)
		return rc;
	c->flags |= flag;
	return grove__cwalk_push(w, c);
}

int grove__ahead_behind(grove *g, const grove_oid *a, const grove_oid *b, size_t *ahead, size_t *behind)
{
	grove__cwalk w;
	grove__cnode *c;
	int rc;

	*ahead = *behind = 0;
	if (grove__oid_equal(a, b))
		return 0;
	grove__cwalk_init(&w, g);
	if ((rc = seed(&w, a, FROM_A)) < 0 || (rc = seed(&w, b, FROM_B)) < 0)
		goto out;
	while (!all_common(&w) && (c = grove__cwalk_pop(&w))) {
		for (size_t i = 0; i < c->parent_count; i++) {
			grove__cnode *p;
			if ((rc = grove__cwalk_get(&w, &c->parents[i], 1, &p)) < 0)
				goto out;
			if ((p->flags | c->flags) == p->flags)
				continue;
			p->flags |= c->flags;
			if ((rc = grove__cwalk_push(&w, p)) < 0)
				goto out;
		}
	}
	for (size_t i = 0; i < w.cap; i++) {
		grove__cnode *n = w.slots[i];
		if (!n)
			continue;
		if (n->flags == FROM_A)
			(*ahead)++;
		else if (n->flags == FROM_B)
			(*behind)++;
	}
	rc = 0;
out:
	grove__cwalk_dispose(&w);
	return rc;
}
