/* grove_push: refspecs resolved against the store, sent with grove's own
 * git:// client (native.h) or libgit2 (transport.h). */
#include "sync_internal.h"
#include "native.h"
#include "transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store.h"

typedef struct {
	grove__push_cmd cmd;
	char *dst;
	char *src_branch; /* the local branch pushed, for upstream and tracking */
} push_item;

/* "[+]SRC[:DST]" -> item.  DST defaults to SRC (which must be a branch). */
static int parse_spec(grove *g, const char *spec, push_item *it)
{
	const char *colon, *src, *dst;
	size_t srclen;
	char *srcs = NULL;
	int rc;

	memset(it, 0, sizeof(*it));
	if (*spec == '+') {
		it->cmd.force = 1;
		spec++;
	}
	colon = strchr(spec, ':');
	srclen = colon ? (size_t)(colon - spec) : strlen(spec);
	dst = colon ? colon + 1 : spec;
	if (!*dst || (!colon && !srclen))
		return grove__error_set(GROVE_EINVALID, "push: invalid refspec '%s'", spec);
	if (!(srcs = grove__strndup(spec, srclen)))
		return GROVE_ENOMEM;
	src = srcs;
	if (*src) {
		if ((rc = grove_rev_resolve(g, src, &it->cmd.src)) < 0) {
			grove__error_wrap(rc, "push");
			goto out;
		}
		if (grove_branch_name_validate(src) == 0) {
			if (!(it->src_branch = grove__strdup(src))) {
				rc = GROVE_ENOMEM;
				goto out;
			}
		} else if (!strncmp(src, "refs/heads/", 11) && !(it->src_branch = grove__strdup(src + 11))) {
			rc = GROVE_ENOMEM;
			goto out;
		}
		grove_error_clear();
	}
	if (!strncmp(dst, "refs/", 5))
		rc = asprintf(&it->dst, "%s", dst);
	else
		rc = asprintf(&it->dst, "refs/heads/%s", dst);
	if (rc < 0) {
		it->dst = NULL;
		rc = grove__error_oom();
		goto out;
	}
	if ((rc = grove_ref_name_validate(it->dst)) < 0)
		goto out;
	it->cmd.dst = it->dst;
	rc = 0;
out:
	free(srcs);
	return rc;
}

static void items_dispose(push_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++) {
		free(items[i].dst);
		free(items[i].src_branch);
		free(items[i].cmd.status);
	}
	free(items);
}

/* The remote moved: a non-fast-forward, or another push updating the
 * ref between our reading it and our update landing (git says "failed
 * to update ref" or "failed to lock", grove "stale info").  Fetching,
 * merging and pushing again is the answer to all of them. */
static int is_nonff_status(const char *s)
{
	return strstr(s, "non-fast-forward") || strstr(s, "fetch first") || strstr(s, "not a fast-forward") ||
		strstr(s, "failed to update ref") || strstr(s, "failed to lock") || strstr(s, "cannot lock ref") ||
		strstr(s, "stale info");
}

/*
 * After a successful push, in one store write (one transaction, one
 * fdatasync): the tracking refs, upstreams for branches that had none, and
 * the remote's last_push (last_error cleared).  Retried when another
 * writer moved the config ref in between.
 */
static int after_push(grove *g, const char *remote, push_item *items, size_t n)
{
	grove_ref_update *ups = NULL;
	char **names = NULL, **keys = NULL;
	grove__config_change *ch = NULL;
	char now[32];
	int rc = 0;

	if (!(ups = grove__calloc(n + 1, sizeof(*ups))) || !(names = grove__calloc(n, sizeof(*names))) ||
	    !(keys = grove__calloc(2 * n + 2, sizeof(*keys))) || !(ch = grove__calloc(2 * n + 2, sizeof(*ch)))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	for (int attempt = 0; attempt < 50; attempt++) {
		grove__config_stage st;
		grove__write_set ws;
		size_t nups = 0, nch = 0, nkeys = 0;
		for (size_t i = 0; i < n; i++) {
			char *cur = NULL;
			if (strncmp(items[i].dst, "refs/heads/", 11))
				continue;
			free(names[i]);
			if (asprintf(&names[i], "refs/remotes/%s/%s", remote, items[i].dst + 11) < 0) {
				names[i] = NULL;
				rc = grove__error_oom();
				goto out;
			}
			if ((rc = grove_ref_name_validate(names[i])) < 0)
				goto out;
			memset(&ups[nups], 0, sizeof(ups[nups]));
			ups[nups].refname = names[i];
			ups[nups].new_id = items[i].cmd.src;
			nups++;
			if (!items[i].src_branch || grove_oid_is_zero(&items[i].cmd.src))
				continue;
			free(keys[nkeys]);
			if (asprintf(&keys[nkeys], "branches/%s/remote", items[i].src_branch) < 0) {
				keys[nkeys] = NULL;
				rc = grove__error_oom();
				goto out;
			}
			if (grove__config_get(g, keys[nkeys], &cur) == 0) {
				free(cur);
				continue; /* has an upstream already */
			}
			grove_error_clear();
			ch[nch].key = keys[nkeys++];
			ch[nch++].value = remote;
			free(keys[nkeys]);
			if (asprintf(&keys[nkeys], "branches/%s/merge", items[i].src_branch) < 0) {
				keys[nkeys] = NULL;
				rc = grove__error_oom();
				goto out;
			}
			ch[nch].key = keys[nkeys++];
			ch[nch++].value = items[i].dst + 11;
		}
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		for (int k = 0; k < 2; k++) {
			free(keys[nkeys]);
			if (asprintf(&keys[nkeys], "remotes/%s/%s", remote, k ? "last_error" : "last_push") < 0) {
				keys[nkeys] = NULL;
				rc = grove__error_oom();
				goto out;
			}
			ch[nch].key = keys[nkeys++];
			ch[nch++].value = k ? "" : now;
		}
		if ((rc = grove__config_stage_build(g, ch, nch, &st)) < 0)
			goto out;
		ups[nups++] = st.update;
		memset(&ws, 0, sizeof(ws));
		ws.objects = st.objects;
		ws.object_count = st.count;
		ws.refs = ups;
		ws.ref_count = nups;
		pthread_mutex_lock(&g->write_lock);
		rc = grove__write(g, &ws);
		pthread_mutex_unlock(&g->write_lock);
		grove__config_stage_dispose(&st);
		if (rc != GROVE_EHEADMOVED)
			break;
		grove_error_clear(); /* the config moved: stage again */
	}
out:
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	for (size_t i = 0; keys && i < 2 * n + 2; i++)
		free(keys[i]);
	free(names);
	free(keys);
	free(ch);
	free(ups);
	return rc;
}

static int push_items(grove *g, const char *remote, const char *url, push_item *items, size_t n,
	const grove_sync_opts *opts)
{
	grove__transport *t = NULL;
	grove__push_cmd *cmds;
	char what[300];
	int rc;

	snprintf(what, sizeof(what), "push to '%s'", remote);
	if (!(cmds = grove__calloc(n, sizeof(*cmds))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cmds[i] = items[i].cmd;
		if (opts && opts->force)
			cmds[i].force = 1;
	}
	if (grove__native_handles(url))
		rc = grove__native_push(g, url, what, opts, cmds, n);
	else if ((rc = grove__transport_connect(&t, g, url, 1, what, opts)) == 0)
		rc = grove__transport_push(t, cmds, n);
	if (rc < 0) {
		if (rc == GROVE_ENOTFF)
			grove__error_set(rc, "%s: the remote has commits the store lacks: "
				"not a fast-forward (pull, then push again)", what);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *clean;
		if (!cmds[i].status)
			continue;
		clean = grove__redact_text(cmds[i].status, NULL, 0);
		rc = grove__error_set(is_nonff_status(cmds[i].status) ? GROVE_ENOTFF : GROVE_ERROR,
			"%s: %s rejected by the remote: %s%s", what, cmds[i].dst, clean ? clean : "",
			is_nonff_status(cmds[i].status) ? " (pull, then push again)" : "");
		free(clean);
		goto out;
	}
	rc = after_push(g, remote, items, n);
out:
	grove__transport_close(t);
	for (size_t i = 0; i < n; i++) {
		free(items[i].cmd.status);
		items[i].cmd.status = cmds[i].status;
	}
	free(cmds);
	return rc;
}

int grove_push(grove *g, const char *remote, const char *const *refspecs, size_t count,
	const grove_sync_opts *opts)
{
	push_item *items = NULL;
	char *url = NULL, *head = NULL;
	size_t n = 0;
	int rc;

	if (!remote)
		remote = "origin";
	if ((rc = grove_remote_url(g, remote, &url)) < 0)
		return rc;
	if (!count) {
		if ((rc = grove_head_branch(g, &head)) < 0)
			goto out;
	}
	if (!(items = grove__calloc(count ? count : 1, sizeof(*items)))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	for (n = 0; n < (count ? count : 1); n++)
		if ((rc = parse_spec(g, count ? refspecs[n] : head, &items[n])) < 0)
			goto out;
	/* Success is recorded by after_push, in the same write as the refs. */
	if ((rc = push_items(g, remote, url, items, n, opts)) < 0)
		grove__sync_record(g, remote, "last_push", rc);
out:
	items_dispose(items, count ? count : 1);
	free(url);
	free(head);
	return rc;
}
