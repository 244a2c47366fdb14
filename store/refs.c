/* Revisions, refs and branches. */
#include "error.h"
#include "oid.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 1100

static int peel_to_commit(grove *g, grove_oid *id, const char *what)
{
	for (int depth = 0; depth < 16; depth++) {
		grove_otype type;
		size_t size;
		grove_buf buf = { 0 };
		grove__tag tag;
		int err = g->be->ops->read_header(g->be, id, &type, &size);
		if (err < 0)
			return err;
		if (type == GROVE_OBJ_COMMIT)
			return 0;
		if (type != GROVE_OBJ_TAG)
			return grove__error_set(GROVE_EINVALID, "'%s' names a %s, not a commit", what, grove_otype_name(type));
		if ((err = grove__read(g, id, GROVE_OBJ_TAG, &buf)) < 0)
			return err;
		err = grove__tag_parse(buf.data, buf.size, &tag);
		grove_buf_dispose(&buf);
		if (err < 0)
			return err;
		*id = tag.target;
		grove__tag_dispose(&tag);
	}
	return grove__error_set(GROVE_ECORRUPT, "'%s': tag chain too deep", what);
}

static int is_hex40(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || (s[n] >= 'A' && s[n] <= 'F')))
			return 0;
	return n == GROVE_OID_HEXSZ;
}

int grove_head_branch(grove *g, char **out)
{
	char *target;
	int err = g->be->ops->head_read(g->be, &target);
	if (err < 0)
		return err;
	if (!strncmp(target, "refs/heads/", 11)) {
		memmove(target, target + 11, strlen(target + 11) + 1);
	}
	*out = target;
	return 0;
}

int grove_set_head_branch(grove *g, const char *name)
{
	char ref[REF_MAX];
	int err;
	if (g->opts.read_only)
		return grove__error_set(GROVE_EREADONLY, "store is open read-only");
	if ((err = grove_branch_name_validate(name)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	return g->be->ops->head_write(g->be, ref);
}

/* Resolves rev to the ref it names, if it names one ("main" -> refs/heads/main). */
static int rev_to_ref(grove *g, const char *rev, char *ref, size_t reflen)
{
	grove_oid tmp;
	if (!strcmp(rev, "HEAD")) {
		char *target;
		int err = g->be->ops->head_read(g->be, &target);
		if (err < 0)
			return err;
		snprintf(ref, reflen, "%s", target);
		free(target);
		return 0;
	}
	if (!strncmp(rev, "refs/", 5)) {
		snprintf(ref, reflen, "%s", rev);
		return 0;
	}
	snprintf(ref, reflen, "refs/heads/%s", rev);
	if (g->be->ops->ref_read(g->be, ref, &tmp) == 0)
		return 0;
	snprintf(ref, reflen, "refs/tags/%s", rev);
	if (g->be->ops->ref_read(g->be, ref, &tmp) == 0)
		return 0;
	snprintf(ref, reflen, "refs/heads/%s", rev);
	return 0;
}

int grove_rev_resolve(grove *g, const char *rev, grove_oid *out)
{
	char ref[REF_MAX];
	grove_oid id;
	int err;

	if (!rev || !*rev)
		return grove__error_set(GROVE_EINVALID, "empty revision");
	if (strlen(rev) > 1000)
		return grove__error_set(GROVE_EINVALID, "revision too long");
	if (is_hex40(rev)) {
		if ((err = grove_oid_fromhex(&id, rev)) < 0)
			return err;
		if ((err = g->be->ops->exists(g->be, &id)) < 0)
			return err;
		if (!err)
			return grove__error_set(GROVE_ENOTFOUND, "commit %s not found", rev);
	} else {
		if ((err = rev_to_ref(g, rev, ref, sizeof(ref))) < 0)
			return err;
		if ((err = g->be->ops->ref_read(g->be, ref, &id)) < 0) {
			if (err == GROVE_ENOTFOUND)
				return grove__error_set(GROVE_ENOTFOUND, "revision '%s' not found", rev);
			return err;
		}
	}
	if ((err = peel_to_commit(g, &id, rev)) < 0)
		return err;
	*out = id;
	return 0;
}

int grove_ref_read(grove *g, const char *refname, grove_oid *out)
{
	int err = grove_ref_name_validate(refname);
	if (err < 0)
		return err;
	return g->be->ops->ref_read(g->be, refname, out);
}

int grove_ref_foreach(grove *g, const char *prefix, grove_ref_cb cb, void *payload)
{
	return g->be->ops->ref_foreach(g->be, prefix ? prefix : "", cb, payload);
}

int grove_ref_update_batch(grove *g, const grove_ref_update *updates, size_t count)
{
	grove__write_set ws = { 0 };
	int err;
	for (size_t i = 0; i < count; i++)
		if ((err = grove_ref_name_validate(updates[i].refname)) < 0)
			return err;
	ws.refs = updates;
	ws.ref_count = count;
	pthread_mutex_lock(&g->write_lock);
	err = grove__write(g, &ws);
	pthread_mutex_unlock(&g->write_lock);
	return err;
}

/* --- branches ---------------------------------------------------------- */

static int collect_branch(const char *refname, const grove_oid *id, void *payload)
{
	grove_strarray *arr = payload;
	char **n = grove__realloc(arr->strings, (arr->count + 1) * sizeof(char *));
	(void)id;
	if (!n)
		return GROVE_ENOMEM;
	arr->strings = n;
	if (!(arr->strings[arr->count] = grove__strdup(refname + 11)))
		return GROVE_ENOMEM;
	arr->count++;
	return 0;
}

int grove_branch_list(grove *g, grove_strarray *out)
{
	grove_strarray arr = { 0 };
	int err = g->be->ops->ref_foreach(g->be, "refs/heads/", collect_branch, &arr);
	if (err < 0) {
		grove_strarray_dispose(&arr);
		return err;
	}
	*out = arr;
	return 0;
}

static int set_ref(grove *g, const char *ref, int check_old, const grove_oid *old_id, const grove_oid *new_id)
{
	grove_ref_update u = { 0 };
	u.refname = ref;
	u.check_old = check_old;
	if (old_id)
		u.old_id = *old_id;
	u.new_id = *new_id;
	return grove_ref_update_batch(g, &u, 1);
}

int grove_branch_create_at(grove *g, const char *name, const grove_oid *commit, int force)
{
	char ref[REF_MAX];
	grove_otype type;
	size_t size;
	int err;
	if ((err = grove_branch_name_validate(name)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	if ((err = g->be->ops->read_header(g->be, commit, &type, &size)) < 0)
		return err;
	if (type != GROVE_OBJ_COMMIT)
		return grove__error_set(GROVE_EINVALID, "branch '%s' must point at a commit", name);
	err = set_ref(g, ref, !force, &grove__oid_zero, commit);
	if (err == GROVE_EHEADMOVED)
		return grove__error_set(GROVE_EEXISTS, "branch '%s' already exists", name);
	return err;
}

int grove_branch_create(grove *g, const char *name, const char *from_rev, int force)
{
	grove_oid id;
	int err = grove_rev_resolve(g, from_rev, &id);
	if (err < 0)
		return err;
	return grove_branch_create_at(g, name, &id, force);
}

int grove_branch_delete(grove *g, const char *name)
{
	char ref[REF_MAX];
	grove_oid cur;
	int err;
	if ((err = grove_branch_name_validate(name)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	if ((err = g->be->ops->ref_read(g->be, ref, &cur)) < 0)
		return err == GROVE_ENOTFOUND ? grove__error_set(err, "branch '%s' not found", name) : err;
	return set_ref(g, ref, 1, &cur, &grove__oid_zero);
}

int grove_branch_head(grove *g, const char *name, grove_oid *out)
{
	char ref[REF_MAX];
	int err;
	if ((err = grove__branch_ref(name, ref, sizeof(ref))) < 0)
		return err;
	err = g->be->ops->ref_read(g->be, ref, out);
	if (err == GROVE_ENOTFOUND)
		return grove__error_set(err, "branch '%s' not found", name);
	return err;
}

int grove_branch_set_head(grove *g, const char *name, const grove_oid *expected, const grove_oid *new_head)
{
	char ref[REF_MAX];
	int err;
	if ((err = grove_branch_name_validate(name)) < 0)
		return err;
	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	if (grove_oid_is_zero(new_head))
		return grove__error_set(GROVE_EINVALID, "use grove_branch_delete to delete a branch");
	return set_ref(g, ref, expected != NULL, expected, new_head);
}



int grove_branch_fast_forward(grove *g, const char *name, const grove_oid *to)
{
	grove_oid cur;
	int err = grove_branch_head(g, name, &cur);
	if (err == GROVE_ENOTFOUND)
		return grove_branch_set_head(g, name, &grove__oid_zero, to);
	if (err < 0)
		return err;
	if (grove__oid_equal(&cur, to))
		return 0;
	if ((err = grove__is_ancestor(g, &cur, to)) < 0)
		return err;
	if (!err)
		return grove__error_set(GROVE_ENOTFF, "moving '%s' is not a fast-forward", name);
	return grove_branch_set_head(g, name, &cur, to);
}
