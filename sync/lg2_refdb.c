/*
 * libgit2's refs for a transport session, in memory: a ref database
 * backend over a small table.  It starts with the store's branches,
 * remote-tracking refs and tags (for fetch: libgit2's negotiation walks
 * them to say "have") and takes the refs a push names (refs/grove-push/N).
 * This replaces a throw-away repository that git_repository_init made in
 * $TMPDIR for every fetch or push (~20 ms of directory and file creation,
 * and files left behind if the process died).  No reflogs.
 */
#include "lg2_odb.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <git2/sys/refdb_backend.h>
#include <git2/sys/refs.h>

#include "error.h"

typedef struct {
	char *name;
	git_oid id;
} mem_ref;

typedef struct {
	git_refdb_backend parent;
	mem_ref *refs;
	size_t n, cap;
} mem_refdb;

typedef struct {
	git_reference_iterator parent;
	mem_refdb *db;
	char *glob;
	size_t pos;
} mem_iter;

static mem_ref *find(mem_refdb *db, const char *name)
{
	for (size_t i = 0; i < db->n; i++)
		if (!strcmp(db->refs[i].name, name))
			return &db->refs[i];
	return NULL;
}

static int put(mem_refdb *db, const char *name, const git_oid *id)
{
	mem_ref *r = find(db, name);
	if (r) {
		r->id = *id;
		return 0;
	}
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 16;
		mem_ref *nr = realloc(db->refs, cap * sizeof(*nr));
		if (!nr)
			return -1;
		db->refs = nr;
		db->cap = cap;
	}
	if (!(db->refs[db->n].name = strdup(name)))
		return -1;
	db->refs[db->n].id = *id;
	db->n++;
	return 0;
}

static int mr_exists(int *exists, git_refdb_backend *be, const char *name)
{
	*exists = find((mem_refdb *)be, name) != NULL;
	return 0;
}

static int mr_lookup(git_reference **out, git_refdb_backend *be, const char *name)
{
	mem_ref *r = find((mem_refdb *)be, name);
	if (!r) {
		git_error_set_str(GIT_ERROR_REFERENCE, "reference not found");
		return GIT_ENOTFOUND;
	}
	if (!(*out = git_reference__alloc(r->name, &r->id, NULL))) {
		git_error_set_oom();
		return -1;
	}
	return 0;
}

static int it_match(mem_iter *it, mem_ref **out)
{
	while (it->pos < it->db->n) {
		mem_ref *r = &it->db->refs[it->pos++];
		if (!it->glob || fnmatch(it->glob, r->name, 0) == 0) {
			*out = r;
			return 0;
		}
	}
	return GIT_ITEROVER;
}

static int it_next(git_reference **out, git_reference_iterator *iter)
{
	mem_ref *r;
	int rc = it_match((mem_iter *)iter, &r);
	if (rc)
		return rc;
	if (!(*out = git_reference__alloc(r->name, &r->id, NULL))) {
		git_error_set_oom();
		return -1;
	}
	return 0;
}

static int it_next_name(const char **out, git_reference_iterator *iter)
{
	mem_ref *r;
	int rc = it_match((mem_iter *)iter, &r);
	if (rc)
		return rc;
	*out = r->name;
	return 0;
}

static void it_free(git_reference_iterator *iter)
{
	mem_iter *it = (mem_iter *)iter;
	free(it->glob);
	free(it);
}

static int mr_iterator(git_reference_iterator **out, git_refdb_backend *be, const char *glob)
{
	mem_iter *it = calloc(1, sizeof(*it));
	if (!it || (glob && !(it->glob = strdup(glob)))) {
		free(it);
		git_error_set_oom();
		return -1;
	}
	it->db = (mem_refdb *)be;
	it->parent.next = it_next;
	it->parent.next_name = it_next_name;
	it->parent.free = it_free;
	*out = &it->parent;
	return 0;
}

static int mr_write(git_refdb_backend *be, const git_reference *ref, int force, const git_signature *who,
	const char *message, const git_oid *old, const char *old_target)
{
	mem_refdb *db = (mem_refdb *)be;
	const git_oid *id = git_reference_target(ref);
	mem_ref *cur = find(db, git_reference_name(ref));
	(void)who;
	(void)message;
	(void)old_target;
	if (!id) {
		git_error_set_str(GIT_ERROR_REFERENCE, "symbolic refs are not kept in a transport session");
		return -1;
	}
	if (cur && !force && !old) {
		git_error_set_str(GIT_ERROR_REFERENCE, "reference already exists");
		return GIT_EEXISTS;
	}
	if (old && (!cur || git_oid_cmp(old, &cur->id))) {
		git_error_set_str(GIT_ERROR_REFERENCE, "old reference value does not match");
		return GIT_EMODIFIED;
	}
	if (put(db, git_reference_name(ref), id) < 0) {
		git_error_set_oom();
		return -1;
	}
	return 0;
}

static int mr_rename(git_reference **out, git_refdb_backend *be, const char *old_name, const char *new_name,
	int force, const git_signature *who, const char *message)
{
	(void)out;
	(void)be;
	(void)old_name;
	(void)new_name;
	(void)force;
	(void)who;
	(void)message;
	git_error_set_str(GIT_ERROR_REFERENCE, "renaming refs is not supported in a transport session");
	return -1;
}

static int mr_del(git_refdb_backend *be, const char *name, const git_oid *old_id, const char *old_target)
{
	mem_refdb *db = (mem_refdb *)be;
	mem_ref *r = find(db, name);
	(void)old_target;
	if (!r)
		return GIT_ENOTFOUND;
	if (old_id && git_oid_cmp(old_id, &r->id)) {
		git_error_set_str(GIT_ERROR_REFERENCE, "old reference value does not match");
		return GIT_EMODIFIED;
	}
	free(r->name);
	*r = db->refs[--db->n];
	return 0;
}

static int mr_has_log(git_refdb_backend *be, const char *name)
{
	(void)be;
	(void)name;
	return 0;
}

static int mr_ensure_log(git_refdb_backend *be, const char *name)
{
	(void)be;
	(void)name;
	return 0;
}

static int mr_reflog_read(git_reflog **out, git_refdb_backend *be, const char *name)
{
	(void)out;
	(void)be;
	(void)name;
	git_error_set_str(GIT_ERROR_REFERENCE, "no reflogs in a transport session");
	return -1;
}

static int mr_reflog_write(git_refdb_backend *be, git_reflog *reflog)
{
	(void)be;
	(void)reflog;
	return 0;
}

static int mr_reflog_rename(git_refdb_backend *be, const char *old_name, const char *new_name)
{
	(void)be;
	(void)old_name;
	(void)new_name;
	return 0;
}

static int mr_reflog_delete(git_refdb_backend *be, const char *name)
{
	(void)be;
	(void)name;
	return 0;
}

static void mr_free(git_refdb_backend *be)
{
	mem_refdb *db = (mem_refdb *)be;
	for (size_t i = 0; i < db->n; i++)
		free(db->refs[i].name);
	free(db->refs);
	free(db);
}

/* The store's refs that say "have": branches, tracking refs, tags. */
static int load_ref(const char *refname, const grove_oid *id, void *payload)
{
	git_oid oid;
	if (strncmp(refname, "refs/heads/", 11) && strncmp(refname, "refs/remotes/", 13) &&
	    strncmp(refname, "refs/tags/", 10))
		return 0;
	memcpy(oid.id, id->id, GROVE_OID_RAWSZ);
	return put(payload, refname, &oid) < 0 ? GROVE_ENOMEM : 0;
}

int grove__lg2_refdb_backend_new(git_refdb_backend **out, grove *g)
{
	mem_refdb *db = calloc(1, sizeof(*db));
	int rc;
	if (!db)
		return grove__error_oom();
	if (git_refdb_init_backend(&db->parent, GIT_REFDB_BACKEND_VERSION) < 0) {
		free(db);
		return grove__error_set(GROVE_ERROR, "libgit2: cannot set up a ref database backend");
	}
	db->parent.exists = mr_exists;
	db->parent.lookup = mr_lookup;
	db->parent.iterator = mr_iterator;
	db->parent.write = mr_write;
	db->parent.rename = mr_rename;
	db->parent.del = mr_del;
	db->parent.has_log = mr_has_log;
	db->parent.ensure_log = mr_ensure_log;
	db->parent.free = mr_free;
	db->parent.reflog_read = mr_reflog_read;
	db->parent.reflog_write = mr_reflog_write;
	db->parent.reflog_rename = mr_reflog_rename;
	db->parent.reflog_delete = mr_reflog_delete;
	if (g && (rc = grove_ref_foreach(g, "refs/", load_ref, db)) < 0) {
		mr_free(&db->parent);
		return rc == GROVE_ENOMEM ? grove__error_oom() : rc;
	}
	*out = &db->parent;
	return 0;
}
