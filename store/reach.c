/* The reachability walk of fsck and gc; see reach.h. */
#include "reach.h"
#include "error.h"
#include "oid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void grove__reach_init(grove__reach *r, grove *g)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
}

void grove__reach_dispose(grove__reach *r)
{
	grove__oidset_dispose(&r->seen);
	grove__oidset_dispose(&r->bases);
	free(r->stack);
	r->stack = NULL;
	r->depth = r->cap = 0;
}

static int push(grove__reach *r, const grove_oid *id, const grove_oid *from,
	grove_otype want, int base_only)
{
	int added;

	if (base_only) {
		if (grove__oidset_contains(&r->seen, id))
			return 0; /* walked in full already */
		added = grove__oidset_add(&r->bases, id);
	} else {
		added = grove__oidset_add(&r->seen, id);
	}
	if (added <= 0)
		return added;
	if (r->depth == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		grove__reach_item *s = grove__realloc(r->stack, cap * sizeof(*s));
		if (!s)
			return GROVE_ENOMEM;
		r->stack = s;
		r->cap = cap;
	}
	r->stack[r->depth].id = *id;
	r->stack[r->depth].from = from ? *from : grove__oid_zero;
	r->stack[r->depth].want = (unsigned char)want;
	r->stack[r->depth].base_only = (unsigned char)base_only;
	r->depth++;
	return 0;
}

static const char *type_word(grove_otype t)
{
	return t == GROVE_OBJ_BAD ? "object" : grove_otype_name(t);
}

/* "(referenced by <id>)" or "(ref refs/heads/x)" */
static void referrer(const grove__reach *r, const grove__reach_item *it, char *buf, size_t len)
{
	char hex[GROVE_OID_HEXSZ + 1];

	if (grove_oid_is_zero(&it->from))
		snprintf(buf, len, "(ref %s)", r->root_name ? r->root_name : "?");
	else
		snprintf(buf, len, "(referenced by %s)", grove_oid_tohex(hex, &it->from));
}

static int problem(grove__reach *r, const grove_oid *id, const char *fmt, ...) GROVE_PRINTF(3, 4);
static int problem(grove__reach *r, const grove_oid *id, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!r->problem)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return r->problem(id, msg, r->payload);
}

/* Queues what an object references.  Returns 1 if it does not parse as
 * its type (the caller decides whether that is a problem or an error). */
static int descend(grove__reach *r, const grove_oid *id, grove_otype type, const void *data, size_t size)
{
	int err = 0;

	switch (type) {
	case GROVE_OBJ_COMMIT: {
		grove_commit *c = NULL;
		if ((err = grove__commit_parse(id, data, size, &c)) < 0)
			return err == GROVE_ENOMEM ? err : 1;
		err = push(r, &c->tree, id, GROVE_OBJ_TREE, 0);
		for (size_t i = 0; i < c->parent_count && !err; i++)
			err = push(r, &c->parents[i], id, GROVE_OBJ_COMMIT, 0);
		grove_commit_free(c);
		return err;
	}
	case GROVE_OBJ_TREE: {
		grove__tree *t = NULL;
		if ((err = grove__tree_parse(id, data, size, &t)) < 0)
			return err == GROVE_ENOMEM ? err : 1;
		for (size_t i = 0; i < t->count && !err; i++) {
			const grove__tree_entry *e = &t->entries[i];
			if (e->mode == GROVE_MODE_GITLINK)
				continue; /* a commit of another repository */
			err = push(r, &e->id, id,
				e->mode == GROVE_MODE_TREE ? GROVE_OBJ_TREE : GROVE_OBJ_BLOB, 0);
		}
		grove__tree_free(t);
		return err;
	}
	case GROVE_OBJ_TAG: {
		grove__tag tag;
		memset(&tag, 0, sizeof(tag));
		if ((err = grove__tag_parse(data, size, &tag)) < 0)
			return err == GROVE_ENOMEM ? err : 1;
		err = push(r, &tag.target, id, tag.target_type, 0);
		grove__tag_dispose(&tag);
		return err;
	}
	default:
		return 0;
	}
}

/* Marks the delta base of it, if the backend stores it as a delta. */
static int mark_base(grove__reach *r, const grove__reach_item *it)
{
	grove_backend *be = r->g->be;
	grove__object rec;
	grove_buf raw = { 0 };
	int err;

	memset(&rec, 0, sizeof(rec));
	err = be->ops->read_raw(be, &it->id, &rec, &raw);
	if (err == GROVE_ENOTFOUND && it->want == GROVE_OBJ_BLOB && !it->base_only)
		return 0; /* a missing blob references nothing */
	if (err < 0) {
		char hex[GROVE_OID_HEXSZ + 1];
		return grove__error_wrap(err, "reading the record of %s %s",
			type_word((grove_otype)it->want), grove_oid_tohex(hex, &it->id));
	}
	if (rec.encoding == GROVE__ENC_DELTA)
		err = push(r, &rec.base, &it->id, GROVE_OBJ_BAD, 1);
	grove_buf_dispose(&raw);
	return err;
}

/* fsck: read, verify, descend; problems are reported, not fatal. */
static int check_one(grove__reach *r, const grove__reach_item *it)
{
	char hex[GROVE_OID_HEXSZ + 1], hex2[GROVE_OID_HEXSZ + 1], ref[128];
	grove_otype want = (grove_otype)it->want, type;
	grove_buf buf = { 0 };
	grove_oid actual;
	int err, bad = 0;

	referrer(r, it, ref, sizeof(ref));
	grove_oid_tohex(hex, &it->id);
	err = r->g->be->ops->read(r->g->be, &it->id, &type, &buf);
	if (err == GROVE_ENOMEM)
		return err;
	if (err == GROVE_ENOTFOUND)
		return problem(r, &it->id, "missing %s %s %s", type_word(want), hex, ref);
	if (err < 0)
		return problem(r, &it->id, "%s %s %s cannot be read: %s", type_word(want), hex, ref,
			grove_error_message());
	r->objects_checked++;
	if ((err = grove__object_hash(type, buf.data, buf.size, &actual)) < 0)
		goto done;
	if (!grove__oid_equal(&actual, &it->id)) {
		bad = 1;
		if ((err = problem(r, &it->id, "%s %s: content hashes to %s", grove_otype_name(type),
			     hex, grove_oid_tohex(hex2, &actual))) < 0)
			goto done;
	}
	if (want != GROVE_OBJ_BAD && type != want) {
		bad = 1;
		if ((err = problem(r, &it->id, "object %s is a %s, expected a %s %s", hex,
			     grove_otype_name(type), grove_otype_name(want), ref)) < 0)
			goto done;
	}
	if (grove__object_check(type, buf.data, buf.size) < 0) {
		bad = 1;
		if ((err = problem(r, &it->id, "%s %s: %s", grove_otype_name(type), hex,
			     grove_error_message())) < 0)
			goto done;
	}
	/* Whatever a damaged object still names is worth checking too. */
	err = descend(r, &it->id, type, buf.data, buf.size);
	if (err == 1)
		err = bad ? 0 : problem(r, &it->id, "%s %s does not parse: %s", grove_otype_name(type),
			hex, grove_error_message());
done:
	grove_buf_dispose(&buf);
	return err;
}

/* gc: mark; anything unreadable that might reference objects is fatal. */
static int mark_one(grove__reach *r, const grove__reach_item *it)
{
	char hex[GROVE_OID_HEXSZ + 1], ref[128];
	grove_otype type;
	grove_buf buf = { 0 };
	int err;

	if (r->follow_deltas && r->g->be->ops->read_raw && (err = mark_base(r, it)) < 0)
		return err;
	if (it->base_only || it->want == GROVE_OBJ_BLOB)
		return 0;
	referrer(r, it, ref, sizeof(ref));
	grove_oid_tohex(hex, &it->id);
	if ((err = r->g->be->ops->read(r->g->be, &it->id, &type, &buf)) < 0)
		return grove__error_wrap(err == GROVE_ENOMEM ? err : GROVE_ECORRUPT,
			"cannot read reachable %s %s %s (run fsck)", type_word((grove_otype)it->want), hex, ref);
	r->objects_checked++;
	err = descend(r, &it->id, type, buf.data, buf.size);
	grove_buf_dispose(&buf);
	if (err == 1)
		return grove__error_wrap(GROVE_ECORRUPT, "reachable %s %s %s does not parse (run fsck)",
			grove_otype_name(type), hex, ref);
	return err;
}

int grove__reach_walk(grove__reach *r, const grove_oid *id, grove_otype want, const char *name)
{
	int err;

	r->root_name = name;
	if ((err = push(r, id, NULL, want, 0)) < 0)
		return err;
	while (r->depth > 0) {
		grove__reach_item it = r->stack[--r->depth];
		if ((err = r->fsck ? check_one(r, &it) : mark_one(r, &it)) < 0) {
			r->depth = 0;
			return err;
		}
	}
	return 0;
}

static int collect_ref(const char *refname, const grove_oid *id, void *payload)
{
	grove__ref_list *l = payload;

	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **names = grove__realloc(l->names, cap * sizeof(*names));
		if (!names)
			return GROVE_ENOMEM;
		l->names = names;
		grove_oid *ids = grove__realloc(l->ids, cap * sizeof(*ids));
		if (!ids)
			return GROVE_ENOMEM;
		l->ids = ids;
		l->cap = cap;
	}
	if (!(l->names[l->count] = grove__strdup(refname)))
		return GROVE_ENOMEM;
	l->ids[l->count++] = *id;
	return 0;
}

int grove__ref_list_load(grove *g, grove__ref_list *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = g->be->ops->ref_foreach(g->be, "", collect_ref, out)) < 0) {
		grove__ref_list_dispose(out);
		return err;
	}
	return 0;
}

void grove__ref_list_dispose(grove__ref_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->names[i]);
	free(list->names);
	free(list->ids);
	memset(list, 0, sizeof(*list));
}
