/* grove_fetch, grove_clone, grove_pull. */
#include "sync_internal.h"
#include "transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "oid.h"
#include "store.h"

typedef struct {
	grove_ref_update *ups;
	char **names;     /* owned refnames of ups */
	size_t n, cap;
} update_list;

static void updates_dispose(update_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->ups);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

static int updates_add(update_list *l, const char *refname, const grove_oid *old, const grove_oid *new_id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		grove_ref_update *u = grove__realloc(l->ups, cap * sizeof(*u));
		char **nm;
		if (!u)
			return GROVE_ENOMEM;
		l->ups = u;
		if (!(nm = grove__realloc(l->names, cap * sizeof(*nm))))
			return GROVE_ENOMEM;
		l->names = nm;
		l->cap = cap;
	}
	if (!(l->names[l->n] = grove__strdup(refname)))
		return GROVE_ENOMEM;
	memset(&l->ups[l->n], 0, sizeof(l->ups[0]));
	l->ups[l->n].refname = l->names[l->n];
	l->ups[l->n].old_id = *old;
	l->ups[l->n].new_id = *new_id;
	l->ups[l->n].check_old = 1;
	l->n++;
	return 0;
}

typedef struct {
	const grove__remote_ref *refs;
	size_t nrefs;
	const char *remote;
	update_list *l;
} stale_ctx;

/* refs/remotes/NAME/X whose branch is gone from the remote. */
static int drop_stale(const char *refname, const grove_oid *id, void *payload)
{
	stale_ctx *c = payload;
	size_t plen = strlen("refs/remotes/") + strlen(c->remote) + 1;
	static const grove_oid zero;
	for (size_t i = 0; i < c->nrefs; i++)
		if (!strncmp(c->refs[i].name, "refs/heads/", 11) && !strcmp(c->refs[i].name + 11, refname + plen))
			return 0;
	return updates_add(c->l, refname, id, &zero);
}

/* 1 if id is among the received records or in the store. */
static int have_object(grove *g, const grove__object *recs, size_t n, const grove_oid *id)
{
	for (size_t i = 0; i < n; i++)
		if (grove__oid_equal(&recs[i].id, id))
			return 1;
	return g->be->ops->exists(g->be, id);
}

/* The updates that make the store match the advertisement. */
static int plan_updates(grove *g, const char *remote, const grove__remote_ref *refs, size_t nrefs,
	const grove__object *recs, size_t nrecs, update_list *l)
{
	char name[1024], prefix[512];
	stale_ctx sc;
	int rc;
	for (size_t i = 0; i < nrefs; i++) {
		grove_oid cur = { { 0 } };
		int tag = !strncmp(refs[i].name, "refs/tags/", 10);
		if (strncmp(refs[i].name, "refs/heads/", 11) && !tag)
			continue;
		if (tag)
			snprintf(name, sizeof(name), "%s", refs[i].name);
		else if ((size_t)snprintf(name, sizeof(name), "refs/remotes/%s/%s", remote, refs[i].name + 11) >= sizeof(name))
			continue;
		if (grove_ref_name_validate(name) < 0) {
			grove_error_clear();
			continue; /* a name we cannot store: skip it, like git does */
		}
		rc = grove_ref_read(g, name, &cur);
		if (rc < 0 && rc != GROVE_ENOTFOUND)
			return rc;
		grove_error_clear();
		if (rc == 0 && (tag || grove__oid_equal(&cur, &refs[i].id)))
			continue; /* up to date, or an existing tag (never moved) */
		rc = have_object(g, recs, nrecs, &refs[i].id);
		if (rc < 0)
			return rc;
		if (!rc)
			return grove__error_set(GROVE_ECORRUPT, "the remote did not send %s for %s",
				grove_oid_tohex((char[GROVE_OID_HEXSZ + 1]){ 0 }, &refs[i].id), refs[i].name);
		if ((rc = updates_add(l, name, &cur, &refs[i].id)) < 0)
			return rc;
	}
	snprintf(prefix, sizeof(prefix), "refs/remotes/%s/", remote);
	sc.refs = refs;
	sc.nrefs = nrefs;
	sc.remote = remote;
	sc.l = l;
	return grove_ref_foreach(g, prefix, drop_stale, &sc);
}

static int locked_write(grove *g, const grove__write_set *ws)
{
	int rc;
	pthread_mutex_lock(&g->write_lock);
	rc = grove__write(g, ws);
	pthread_mutex_unlock(&g->write_lock);
	return rc;
}

/* remotes/NAME/last_fetch = now, last_error cleared, staged in memory. */
static int stage_record(grove *g, const char *remote, grove__config_stage *st)
{
	char k1[600], k2[600], now[32];
	grove__config_change ch[2];
	snprintf(k1, sizeof(k1), "remotes/%s/last_fetch", remote);
	snprintf(k2, sizeof(k2), "remotes/%s/last_error", remote);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	ch[0].key = k1;
	ch[0].value = now;
	ch[1].key = k2;
	ch[1].value = "";
	return grove__config_stage_build(g, ch, 2, st);
}

/* Fetch from url into refs/remotes/remote/; *head_out (may be NULL) gets
 * the remote's HEAD branch ref.  Success is recorded (last_fetch) in the
 * same write as the refs; the caller records a failure. */
static int fetch_url(grove *g, const char *remote, const char *url, const grove_sync_opts *opts,
	char **head_out)
{
	grove__transport *t = NULL;
	const grove__remote_ref *refs;
	const grove__object *recs = NULL;
	const char *head;
	size_t nrefs, nrecs = 0;
	char what[300];
	int rc;

	snprintf(what, sizeof(what), "fetch from '%s'", remote);
	if ((rc = grove__transport_connect(&t, g, url, 0, what, opts)) < 0)
		return rc;
	grove__transport_refs(t, &refs, &nrefs, &head);
	if ((rc = grove__transport_download(t, &recs, &nrecs)) < 0)
		goto out;
	for (int attempt = 0; attempt < 50; attempt++) {
		update_list l = { 0 };
		grove__write_set ws;
		grove__config_stage st;
		grove__object *all = NULL;
		if ((rc = plan_updates(g, remote, refs, nrefs, recs, nrecs, &l)) < 0) {
			updates_dispose(&l);
			if (rc == GROVE_ECORRUPT)
				grove__error_wrap(rc, "%s", what);
			goto out;
		}
		/* last_fetch goes in the same write as the refs (one transaction). */
		if ((rc = stage_record(g, remote, &st)) < 0 ||
		    (rc = updates_add(&l, GROVE__CONFIG_REF, &st.update.old_id, &st.update.new_id)) < 0) {
			updates_dispose(&l);
			grove__config_stage_dispose(&st);
			goto out;
		}
		memset(&ws, 0, sizeof(ws));
		ws.objects = st.objects;
		ws.object_count = st.count;
		if (l.n > 1 && nrecs) {
			if (!(all = grove__malloc((nrecs + st.count) * sizeof(*all)))) {
				rc = GROVE_ENOMEM;
				updates_dispose(&l);
				grove__config_stage_dispose(&st);
				goto out;
			}
			memcpy(all, recs, nrecs * sizeof(*all));
			memcpy(all + nrecs, st.objects, st.count * sizeof(*all));
			ws.objects = all;
			ws.object_count = nrecs + st.count;
		}
		ws.refs = l.ups;
		ws.ref_count = l.n;
		rc = locked_write(g, &ws);
		if (rc < 0 && rc != GROVE_EHEADMOVED && l.n == 1) {
			/* Only the bookkeeping failed (e.g. a read-only store): the
			 * fetch itself had nothing to change. */
			grove_error_clear();
			rc = 0;
		}
		free(all);
		updates_dispose(&l);
		grove__config_stage_dispose(&st);
		if (rc != GROVE_EHEADMOVED)
			break;
		grove_error_clear(); /* another fetch moved a ref, or the config moved: plan again */
	}
	if (rc == 0 && head_out && head && !(*head_out = grove__strdup(head)))
		rc = GROVE_ENOMEM;
out:
	grove__transport_close(t);
	return rc;
}

int grove_fetch(grove *g, const char *remote, const grove_sync_opts *opts)
{
	char *url = NULL;
	int rc;
	if (!remote)
		remote = "origin";
	if ((rc = grove_remote_url(g, remote, &url)) < 0)
		return rc;
	rc = fetch_url(g, remote, url, opts, NULL);
	free(url);
	if (rc < 0)
		grove__sync_record(g, remote, "last_fetch", rc);
	return rc;
}

/* --- clone ----------------------------------------------------------------- */

static int any_ref(const char *refname, const grove_oid *id, void *payload)
{
	(void)id;
	(void)payload;
	return strcmp(refname, GROVE__CONFIG_REF) ? 1 : 0;
}

typedef struct {
	grove *g;
	update_list l;
} branch_ctx;

static int plan_branch(const char *refname, const grove_oid *id, void *payload)
{
	static const grove_oid zero;
	branch_ctx *c = payload;
	char local[1024];
	snprintf(local, sizeof(local), "refs/heads/%s", refname + strlen("refs/remotes/origin/"));
	return updates_add(&c->l, local, &zero, id);
}

static int clone_into(grove *g, const char *url, const grove_sync_opts *opts)
{
	branch_ctx bc = { g, { 0 } };
	char *head = NULL;
	int rc;

	if ((rc = grove_ref_foreach(g, "refs/", any_ref, NULL)) != 0)
		return rc < 0 ? rc : grove__error_set(GROVE_EEXISTS, "clone: the store already holds refs");
	if ((rc = grove_remote_add(g, "origin", url)) < 0)
		return rc;
	rc = fetch_url(g, "origin", url, opts, &head);
	if (rc < 0) {
		grove__sync_record(g, "origin", "last_fetch", rc);
		goto out;
	}
	if ((rc = grove_ref_foreach(g, "refs/remotes/origin/", plan_branch, &bc)) < 0)
		goto out;
	if (bc.l.n && (rc = grove_ref_update_batch(g, bc.l.ups, bc.l.n)) < 0)
		goto out;
	for (size_t i = 0; i < bc.l.n; i++) {
		const char *b = bc.l.names[i] + strlen("refs/heads/");
		if ((rc = grove_branch_set_upstream(g, b, "origin", b)) < 0)
			goto out;
	}
	if (head && !strncmp(head, "refs/heads/", 11))
		rc = grove_set_head_branch(g, head + 11);
out:
	updates_dispose(&bc.l);
	free(head);
	return rc;
}

int grove_clone(const char *url, const char *location, const grove_sync_opts *opts, grove **out)
{
	grove_options gopts = GROVE_OPTIONS_INIT;
	grove *g = NULL;
	int rc;
	if (!url || !*url || !location || !out)
		return grove__error_set(GROVE_EINVALID, "clone: URL and location are required");
	gopts.create = 1;
	if ((rc = grove_open(&g, location, &gopts)) < 0)
		return rc;
	if ((rc = clone_into(g, url, opts)) < 0) {
		grove_close(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* --- pull ------------------------------------------------------------------- */

int grove_pull(grove *g, const char *remote, const char *branch, const grove_sync_opts *opts,
	grove_oid *out, grove_conflict_list *conflicts)
{
	char *head_branch = NULL, *cfg_remote = NULL, *cfg_merge = NULL;
	char key[600], tracking[1200], hex[GROVE_OID_HEXSZ + 1];
	grove_oid theirs, ours, result;
	grove_merge_opts mopts = { 0 };
	int rc;

	if (!branch) {
		if ((rc = grove_head_branch(g, &head_branch)) < 0)
			return rc;
		branch = head_branch;
	}
	if ((rc = grove_branch_name_validate(branch)) < 0)
		goto out;
	snprintf(key, sizeof(key), "branches/%s/remote", branch);
	if (grove__config_get(g, key, &cfg_remote) < 0)
		grove_error_clear();
	snprintf(key, sizeof(key), "branches/%s/merge", branch);
	if (grove__config_get(g, key, &cfg_merge) < 0)
		grove_error_clear();
	if (!remote)
		remote = cfg_remote ? cfg_remote : "origin";
	if ((rc = grove_fetch(g, remote, opts)) < 0)
		goto out;
	/* The configured upstream branch only applies to its own remote. */
	snprintf(tracking, sizeof(tracking), "refs/remotes/%s/%s", remote,
		cfg_merge && cfg_remote && !strcmp(cfg_remote, remote) ? cfg_merge : branch);
	if ((rc = grove_ref_read(g, tracking, &theirs)) < 0) {
		if (rc == GROVE_ENOTFOUND)
			grove__error_set(rc, "pull: remote '%s' has no branch '%s'", remote, tracking + 14 + strlen(remote));
		goto out;
	}
	rc = grove_branch_head(g, branch, &ours);
	if (rc == GROVE_ENOTFOUND) {
		static const grove_oid zero;
		grove_error_clear();
		if ((rc = grove_branch_set_head(g, branch, &zero, &theirs)) == 0 && out)
			*out = theirs;
		goto out;
	}
	if (rc < 0)
		goto out;
	mopts.commit = opts ? opts->commit : NULL;
	if ((rc = grove_merge(g, branch, grove_oid_tohex(hex, &theirs), &mopts, &result, conflicts)) == 0 && out)
		*out = result;
out:
	free(head_branch);
	free(cfg_remote);
	free(cfg_merge);
	return rc;
}
