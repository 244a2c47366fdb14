/* grove_sync_status_get: ahead/behind per branch and each remote's state. */
#include "sync_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "oid.h"
#include "oidset.h"

/* Every commit reachable from start into set. */
static int ancestors(grove *g, const grove_oid *start, grove__oidset *set)
{
	grove_oid *stack = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	if ((rc = grove__oidset_add(set, start)) <= 0)
		return rc;
	if (!(stack = grove__malloc(64 * sizeof(*stack))))
		return GROVE_ENOMEM;
	cap = 64;
	stack[n++] = *start;
	while (n) {
		grove_commit *c = NULL;
		grove_oid id = stack[--n];
		if ((rc = grove_commit_read(g, &id, &c)) < 0)
			break;
		for (size_t i = 0; i < c->parent_count; i++) {
			int added = grove__oidset_add(set, &c->parents[i]);
			if (added < 0) {
				rc = added;
				break;
			}
			if (!added)
				continue;
			if (n == cap) {
				grove_oid *s = grove__realloc(stack, cap * 2 * sizeof(*s));
				if (!s) {
					rc = GROVE_ENOMEM;
					break;
				}
				stack = s;
				cap *= 2;
			}
			stack[n++] = c->parents[i];
		}
		grove_commit_free(c);
		if (rc < 0)
			break;
	}
	free(stack);
	return rc < 0 ? rc : 0;
}

static size_t count_missing(const grove__oidset *a, const grove__oidset *b)
{
	size_t n = 0;
	for (size_t i = 0; i < a->cap; i++)
		if (!grove_oid_is_zero(&a->slots[i]) && !grove__oidset_contains(b, &a->slots[i]))
			n++;
	return n;
}

static int ahead_behind(grove *g, const grove_oid *local, const grove_oid *up, size_t *ahead, size_t *behind)
{
	grove__oidset a = GROVE__OIDSET_INIT, b = GROVE__OIDSET_INIT;
	int rc;
	*ahead = *behind = 0;
	if (grove__oid_equal(local, up))
		return 0;
	if ((rc = ancestors(g, local, &a)) == 0 && (rc = ancestors(g, up, &b)) == 0) {
		*ahead = count_missing(&a, &b);
		*behind = count_missing(&b, &a);
	}
	grove__oidset_dispose(&a);
	grove__oidset_dispose(&b);
	return rc;
}

static char *config_or_null(grove *g, const char *fmt, const char *a, const char *b)
{
	char key[1200], *v = NULL;
	snprintf(key, sizeof(key), fmt, a, b);
	if (grove__config_get(g, key, &v) < 0) {
		grove_error_clear();
		return NULL;
	}
	return v;
}

void grove_sync_status_dispose(grove_sync_status *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->branch_count; i++) {
		free(s->branches[i].branch);
		free(s->branches[i].remote);
		free(s->branches[i].remote_branch);
	}
	for (size_t i = 0; i < s->remote_count; i++) {
		free(s->remotes[i].name);
		free(s->remotes[i].url);
		free(s->remotes[i].last_error);
	}
	free(s->branches);
	free(s->remotes);
	memset(s, 0, sizeof(*s));
}

static int fill_branch(grove *g, const char *name, grove_branch_sync *b)
{
	char tracking[1200];
	int rc;
	if (!(b->branch = grove__strdup(name)))
		return GROVE_ENOMEM;
	if ((rc = grove_branch_head(g, name, &b->local)) < 0 && rc != GROVE_ENOTFOUND)
		return rc;
	b->remote = config_or_null(g, "branches/%s/%s", name, "remote");
	if (!b->remote)
		return 0;
	b->remote_branch = config_or_null(g, "branches/%s/%s", name, "merge");
	if (!b->remote_branch && !(b->remote_branch = grove__strdup(name)))
		return GROVE_ENOMEM;
	snprintf(tracking, sizeof(tracking), "refs/remotes/%s/%s", b->remote, b->remote_branch);
	rc = grove_ref_read(g, tracking, &b->upstream);
	if (rc == GROVE_ENOTFOUND) {
		grove_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!grove_oid_is_zero(&b->local))
		return ahead_behind(g, &b->local, &b->upstream, &b->ahead, &b->behind);
	return 0;
}

static int fill_remote(grove *g, const grove_remote *r, grove_remote_sync *s)
{
	char *v;
	int rc;
	if (!(s->name = grove__strdup(r->name)))
		return GROVE_ENOMEM;
	if ((rc = grove_url_redact(r->url, &s->url)) < 0)
		return rc;
	if ((v = config_or_null(g, "remotes/%s/%s", r->name, "last_fetch"))) {
		s->last_fetch = strtoll(v, NULL, 10);
		free(v);
	}
	if ((v = config_or_null(g, "remotes/%s/%s", r->name, "last_push"))) {
		s->last_push = strtoll(v, NULL, 10);
		free(v);
	}
	s->last_error = config_or_null(g, "remotes/%s/%s", r->name, "last_error");
	if (s->last_error && !*s->last_error) {
		free(s->last_error);
		s->last_error = NULL;
	}
	return 0;
}

int grove_sync_status_get(grove *g, grove_sync_status *out)
{
	grove_sync_status s = { 0 };
	grove_strarray branches = { 0 };
	grove_remote_array remotes = { 0 };
	int rc;

	if ((rc = grove_branch_list(g, &branches)) < 0)
		return rc;
	if ((rc = grove_remote_list(g, &remotes)) < 0)
		goto out;
	if ((branches.count && !(s.branches = grove__calloc(branches.count, sizeof(*s.branches)))) ||
	    (remotes.count && !(s.remotes = grove__calloc(remotes.count, sizeof(*s.remotes))))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < branches.count; i++, s.branch_count++)
		if ((rc = fill_branch(g, branches.strings[i], &s.branches[i])) < 0) {
			s.branch_count++;
			goto out;
		}
	for (size_t i = 0; i < remotes.count; i++, s.remote_count++)
		if ((rc = fill_remote(g, &remotes.items[i], &s.remotes[i])) < 0) {
			s.remote_count++;
			goto out;
		}
	*out = s;
	memset(&s, 0, sizeof(s));
out:
	grove_sync_status_dispose(&s);
	grove_strarray_dispose(&branches);
	grove_remote_array_dispose(&remotes);
	return rc;
}
