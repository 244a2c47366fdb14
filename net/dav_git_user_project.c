/* dav_git_user_project.c - deriving a user's projection of the DAV branch
 * (see dav_git_user.h). */
#include "dav_git_user.h"
#include "dav_git_user_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "oidset.h"
#include "sbuf.h"

/* Concurrent writers make a derivation retry; this many is plenty. */
#define MAX_ATTEMPTS 16
#define REF_MAX 512

int grove__dav_user_refs(const char *user, char *head, char *source, size_t size)
{
	if (!user || !*user || strchr(user, '/'))
		return grove__error_set(GROVE_EINVALID, "bad user name for git");
	if ((size_t)snprintf(head, size, DAV_GIT_USER_HEAD_FMT, user) >= size ||
	    (size_t)snprintf(source, size, DAV_GIT_USER_SOURCE_FMT, user) >= size)
		return grove__error_set(GROVE_EINVALID, "user name too long for git");
	if (grove_ref_name_validate(head) < 0 || grove_ref_name_validate(source) < 0)
		return grove__error_set(GROVE_EINVALID, "user name '%s' cannot name a git ref", user);
	return 0;
}

/* A ref's value; zeros when it does not exist. */
int grove__dav_user_ref_or_zero(grove *g, const char *ref, grove_oid *out)
{
	int rc = grove_ref_read(g, ref, out);
	if (rc == GROVE_ENOTFOUND) {
		memset(out, 0, sizeof(*out));
		grove_error_clear();
		return 0;
	}
	return rc;
}

/* The tree of user/ in a commit; *present 0 (and the empty tree's id)
 * when there is no such directory. */
static int user_tree(grove *g, const grove_oid *commit, const char *user, grove_oid *tree,
	int *present)
{
	grove_view *v;
	grove_kind kind;
	int rc = grove_view_open_commit(&v, g, commit);
	if (rc < 0)
		return rc;
	rc = grove_view_id(v, user, tree, &kind);
	grove_view_free(v);
	if (rc == 0 && kind == GROVE_KIND_DIR) {
		*present = 1;
		return 0;
	}
	if (rc < 0 && rc != GROVE_ENOTFOUND)
		return rc;
	grove_error_clear();
	*present = 0;
	return grove_object_hash(GROVE_OBJ_TREE, "", 0, tree);
}

static int starts(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) >= n && !memcmp(p, word, n);
}

int grove__dav_user_project_commit(grove *g, const grove_oid *src, const grove_oid *tree,
	const grove_oid *parent, grove_oid *out)
{
	grove_buf raw = { 0 };
	grove_otype type;
	grove__sbuf b = GROVE_SBUF_INIT;
	char hex[GROVE_OID_HEXSZ + 1];
	int rc = grove_object_read(g, src, &type, &raw);
	if (rc < 0)
		return rc;
	if (type != GROVE_OBJ_COMMIT) {
		rc = grove__error_set(GROVE_ECORRUPT, "%s is not a commit", grove_oid_tohex(hex, src));
		goto done;
	}
	rc = grove__sbuf_printf(&b, "tree %s\n", grove_oid_tohex(hex, tree));
	if (rc == 0 && parent)
		rc = grove__sbuf_printf(&b, "parent %s\n", grove_oid_tohex(hex, parent));
	/* The identity lines (and the message's encoding) are copied as they
	 * are, so the projection keeps the exact names, times and zones;
	 * signatures and other headers would not hold for the new commit. */
	const char *p = raw.data, *end = p + raw.size;
	while (rc == 0 && p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl + 1 : end;
		if (starts(p, line_end, "author ") || starts(p, line_end, "committer ") ||
		    starts(p, line_end, "encoding ")) {
			rc = grove__sbuf_put(&b, p, (size_t)(line_end - p));
			if (rc == 0 && !nl)
				rc = grove__sbuf_putc(&b, '\n');
		}
		p = line_end;
	}
	if (rc == 0)
		rc = grove__sbuf_putc(&b, '\n');
	if (rc == 0 && p < end) /* p is at the blank line: the message follows */
		rc = grove__sbuf_put(&b, p + 1, (size_t)(end - p - 1));
	if (rc == 0)
		rc = grove_object_write(g, GROVE_OBJ_COMMIT, b.data, b.len, out);
done:
	grove__sbuf_dispose(&b);
	grove_buf_dispose(&raw);
	return rc;
}


/*
 * The branch's first-parent commits after `stop` (exclusive), newest
 * first.  *found says whether stop was met; if not, the list runs back to
 * the root.
 */
static int first_parent_chain(grove *g, const grove_oid *tip, const grove_oid *stop,
	grove__oidvec *out, int *found)
{
	grove_oid at = *tip;
	int rc = 0;
	*found = 0;
	while (!grove_oid_is_zero(&at)) {
		grove_commit *c;
		if (!grove_oid_is_zero(stop) && !grove_oid_cmp(&at, stop)) {
			*found = 1;
			return 0;
		}
		if ((rc = grove__oidvec_push(out, &at)) < 0 || (rc = grove_commit_read(g, &at, &c)) < 0)
			return rc;
		if (c->parent_count)
			at = c->parents[0];
		else
			memset(&at, 0, sizeof(at));
		grove_commit_free(c);
	}
	return 0;
}

/* One attempt: 0 done (*head set), 1 lost a race (retry), < 0 error. */
static int project_once(grove *g, const char *branch_ref, const char *head_ref,
	const char *source_ref, const char *user, grove_oid *head)
{
	grove_oid tip, proj, source, prev_tree, new_head;
	grove__oidvec chain = { 0 };
	int rc, found, have_prev = 0;

	if ((rc = grove__dav_user_ref_or_zero(g, branch_ref, &tip)) < 0 ||
	    (rc = grove__dav_user_ref_or_zero(g, head_ref, &proj)) < 0 ||
	    (rc = grove__dav_user_ref_or_zero(g, source_ref, &source)) < 0)
		return rc;
	*head = proj;
	if (!grove_oid_cmp(&tip, &source) || grove_oid_is_zero(&tip))
		return 0; /* up to date (or nothing to derive from) */
	if ((rc = first_parent_chain(g, &tip, &source, &chain, &found)) < 0)
		goto done;
	new_head = proj;
	if (!found) {
		/* History was rewritten under us: derive afresh. */
		memset(&new_head, 0, sizeof(new_head));
	} else if (!grove_oid_is_zero(&proj)) {
		grove_commit *c;
		if ((rc = grove_commit_read(g, &proj, &c)) < 0)
			goto done;
		prev_tree = c->tree;
		have_prev = 1;
		grove_commit_free(c);
	}
	for (size_t i = chain.count; i-- > 0;) {
		grove_oid tree;
		int present;
		if ((rc = user_tree(g, &chain.ids[i], user, &tree, &present)) < 0)
			goto done;
		if (have_prev ? !grove_oid_cmp(&tree, &prev_tree) : !present)
			continue;
		if (!present) {
			/* The user's data went away: an empty tree says so. */
			grove_oid empty;
			if ((rc = grove_object_write(g, GROVE_OBJ_TREE, "", 0, &empty)) < 0)
				goto done;
		}
		if ((rc = grove__dav_user_project_commit(g, &chain.ids[i], &tree,
			     grove_oid_is_zero(&new_head) ? NULL : &new_head, &new_head)) < 0)
			goto done;
		prev_tree = tree;
		have_prev = 1;
	}
	{
		grove_ref_update up[2];
		size_t n = 0;
		memset(up, 0, sizeof(up));
		up[n].refname = source_ref;
		up[n].old_id = source;
		up[n].new_id = tip;
		up[n++].check_old = 1;
		if (grove_oid_cmp(&new_head, &proj) || !grove_oid_is_zero(&proj)) {
			/* Checked even when unchanged, so a push in between is seen. */
			up[n].refname = head_ref;
			up[n].old_id = proj;
			up[n].new_id = new_head;
			up[n++].check_old = 1;
		}
		rc = grove_ref_update_batch(g, up, n);
		if (rc == GROVE_EHEADMOVED) {
			grove_error_clear();
			rc = 1;
		} else if (rc == 0) {
			*head = new_head;
		}
	}
done:
	grove__oidvec_dispose(&chain);
	return rc;
}

int grove__dav_user_project(grove *g, const char *branch, const char *user, grove_oid *head)
{
	char branch_ref[REF_MAX], head_ref[REF_MAX], source_ref[REF_MAX];
	int rc;
	if ((rc = grove__dav_user_refs(user, head_ref, source_ref, sizeof(head_ref))) < 0)
		return rc;
	if ((size_t)snprintf(branch_ref, sizeof(branch_ref), "refs/heads/%s",
		    branch ? branch : "main") >= sizeof(branch_ref))
		return grove__error_set(GROVE_EINVALID, "branch name too long");
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		rc = project_once(g, branch_ref, head_ref, source_ref, user, head);
		if (rc <= 0)
			return rc;
	}
	return grove__error_set(GROVE_EHEADMOVED, "the projection of %s kept moving", user);
}
