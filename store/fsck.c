/*
 * grove_fsck: checks every ref and every object reachable from one.  Each
 * object is read once, hashed, type-checked against what references it and
 * put through git's fsck rules.  Problems are collected, never printed; the
 * walk goes on past them so one run lists them all.
 */
#include "reach.h"
#include "error.h"
#include "oid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_problem(const grove_oid *id, const char *message, void *payload)
{
	grove_fsck_report *rep = payload;
	grove_fsck_problem *p;
	char *msg;

	/* Grow by doubling: problem_count doubles as the capacity marker
	 * (capacity is the next power of two at or above the count). */
	if ((rep->problem_count & (rep->problem_count - 1)) == 0) {
		size_t cap = rep->problem_count ? rep->problem_count * 2 : 1;
		p = grove__realloc(rep->problems, cap * sizeof(*p));
		if (!p)
			return GROVE_ENOMEM;
		rep->problems = p;
	}
	if (!(msg = grove__strdup(message)))
		return GROVE_ENOMEM;
	rep->problems[rep->problem_count].id = id ? *id : grove__oid_zero;
	rep->problems[rep->problem_count].message = msg;
	rep->problem_count++;
	return 0;
}

static int is_branch(const char *refname)
{
	return strncmp(refname, "refs/heads/", 11) == 0;
}

static int check_ref_type(grove *g, const char *name, const grove_oid *id, grove_fsck_report *rep)
{
	char hex[GROVE_OID_HEXSZ + 1], msg[1200];
	grove_otype type;
	size_t size;

	if (g->be->ops->read_header(g->be, id, &type, &size) < 0 || type == GROVE_OBJ_COMMIT)
		return 0; /* unreadable objects were reported by the walk */
	snprintf(msg, sizeof(msg), "object %s is a %s, expected a commit (ref %s)",
		grove_oid_tohex(hex, id), grove_otype_name(type), name);
	return add_problem(id, msg, rep);
}

int grove_fsck(grove *g, grove_fsck_report *out)
{
	grove_fsck_report rep;
	grove__ref_list refs;
	grove__reach r;
	int err;

	if (!g || !out)
		return grove__error_set(GROVE_EINVALID, "fsck: no store or report");
	memset(&rep, 0, sizeof(rep));
	if ((err = grove__ref_list_load(g, &refs)) < 0)
		return grove__error_wrap(err, "fsck: listing refs");
	grove__reach_init(&r, g);
	r.fsck = 1;
	r.problem = add_problem;
	r.payload = &rep;
	for (size_t i = 0; i < refs.count; i++) {
		const char *name = refs.names[i];
		/* Branches must name commits; other refs (tags) may name anything. */
		grove_otype want = is_branch(name) ? GROVE_OBJ_COMMIT : GROVE_OBJ_BAD;

		rep.refs_checked++;
		if (grove__oidset_contains(&r.seen, &refs.ids[i])) {
			/* Walked from another ref already (and a missing object
			 * reported); only this ref's type rule is left. */
			if (want != GROVE_OBJ_BAD && (err = check_ref_type(g, name, &refs.ids[i], &rep)) < 0)
				goto fail;
			continue;
		}
		if ((err = grove__reach_walk(&r, &refs.ids[i], want, name)) < 0)
			goto fail;
	}
	rep.objects_checked = r.objects_checked;
	grove__reach_dispose(&r);
	grove__ref_list_dispose(&refs);
	grove_error_clear(); /* problems were collected, not failures */
	*out = rep;
	return 0;
fail:
	grove__reach_dispose(&r);
	grove__ref_list_dispose(&refs);
	grove_fsck_report_dispose(&rep);
	return grove__error_wrap(err, "fsck");
}
