/*
 * grove_gc: removes every object that no ref reaches.
 *
 * Mark: the reachability walk of fsck (reach.c) from every ref, plus the
 * delta bases of marked objects (a delta cannot be read without its base,
 * which need not be reachable itself).  Sweep: the backend's
 * remove_unreachable, which deletes what keep() rejects.
 *
 * The race.  Between the mark and the sweep another writer (a thread of this
 * handle, another handle, another process) may commit a tree that names an
 * object which exists but was unreachable when we marked: a value re-added,
 * or a subtree grafted by id.  Writers skip objects that already exist, so
 * the sweep would delete an object that the new commit needs.  How each
 * backend is protected:
 *
 *  - lmdb: the sweep is one LMDB write transaction, so no other writer in
 *    any process commits while it runs.  The first keep() call of a sweep
 *    (and of a sweep restarted after map growth: keys come in ascending
 *    order, so a key not above the previous one means a new attempt) runs
 *    inside that transaction, after the writer lock is taken; it re-reads
 *    every ref and marks whatever commits landed since the mark phase.
 *    Those reads see the last committed state, which cannot change until
 *    the sweep commits.  Mark + catch-up + sweep are thus atomic against
 *    committed writers.
 *  - mem: exists in one handle only; holding the handle's write lock across
 *    mark and sweep keeps every writer out.  (mem's sweep calls keep()
 *    under its own lock, so reading from keep() is not possible there.)
 *  - git: not supported (GROVE_EUNSUPPORTED); git's own gc keeps recent
 *    loose objects for two weeks for exactly this race.
 *
 * Not covered: a writer that stores objects in one write and points a ref
 * at them in a later one (grove_import's batches, grove_object_write then
 * grove_ref_update_batch).  Objects written but not yet referenced are
 * unreachable and a sweep in between removes them; run gc when no import
 * or push is in progress.
 */
#include "reach.h"
#include "error.h"
#include "reach_index.h"
#include "oid.h"

#include <string.h>

typedef struct {
	grove__reach r;
	int catch_up; /* re-mark from the refs at the start of each sweep */
	int started;
	grove_oid last;
	size_t objects; /* objects offered to keep() in the current attempt */
} gc_state;

static int mark_refs(gc_state *s)
{
	grove__ref_list refs;
	int err;

	if ((err = grove__ref_list_load(s->r.g, &refs)) < 0)
		return grove__error_wrap(err, "gc: listing refs");
	for (size_t i = 0; i < refs.count && err >= 0; i++)
		err = grove__reach_walk(&s->r, &refs.ids[i], GROVE_OBJ_BAD, refs.names[i]);
	grove__ref_list_dispose(&refs);
	return err < 0 ? grove__error_wrap(err, "gc") : 0;
}

static int keep(const grove_oid *id, void *payload)
{
	gc_state *s = payload;

	if (s->catch_up && (!s->started || memcmp(id->id, s->last.id, GROVE_OID_RAWSZ) <= 0)) {
		/* A sweep (re)starts: commits since the mark phase are now
		 * visible and no new ones can land until it ends. */
		int err = mark_refs(s);
		if (err < 0)
			return err;
		s->objects = 0;
	}
	s->started = 1;
	s->last = *id;
	s->objects++;
	return grove__oidset_contains(&s->r.seen, id) || grove__oidset_contains(&s->r.bases, id);
}

int grove_gc(grove *g, grove_gc_stats *out)
{
	grove_backend *be;
	gc_state s;
	size_t removed = 0;
	int err, locked;

	if (!g)
		return grove__error_set(GROVE_EINVALID, "gc: no store");
	be = g->be;
	if (!be->ops->remove_unreachable) {
		if (strcmp(be->ops->name, "git") == 0)
			return grove__error_set(GROVE_EUNSUPPORTED,
				"gc: not supported on git: stores; use git gc");
		return grove__error_set(GROVE_EUNSUPPORTED, "gc: not supported by the %s backend",
			be->ops->name);
	}
	if (g->opts.read_only)
		return grove__error_set(GROVE_EREADONLY, "gc: store opened read-only");

	memset(&s, 0, sizeof(s));
	grove__reach_init(&s.r, g);
	s.r.follow_deltas = 1;
	/* Only the lmdb sweep calls keep() where reads see the committed state
	 * and no writer can commit; see the comment at the top. */
	s.catch_up = strcmp(be->ops->name, "lmdb") == 0;
	locked = !s.catch_up;
	if (locked)
		pthread_mutex_lock(&g->write_lock);
	err = mark_refs(&s);
	if (err == 0)
		err = be->ops->remove_unreachable(be, keep, &s, &removed);
	if (locked)
		pthread_mutex_unlock(&g->write_lock);
	grove__reach_dispose(&s.r);
	if (err < 0)
		return err;
	if (out) {
		out->objects_before = s.objects;
		out->objects_removed = removed;
	}
	/* An index whose commit was swept is never used again (no walk can
	 * reach a removed commit); bring it to HEAD's current commit.  It only
	 * saves work for later clones, so failing to build it fails no gc. */
	(void)grove__reach_index_update(g);
	return 0;
}
