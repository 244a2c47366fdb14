/* Opening and closing stores, and the object access shared by all modules. */
#include "error.h"
#include "oid.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Budgets keep a server with 10,000-item collections well under 64 MiB. */
#define TREE_CACHE_BUDGET (16u << 20)

static int open_backend(grove_backend **be, const char *location, const grove_options *opts)
{
	if (!strcmp(location, "mem:") || !strncmp(location, "mem:", 4))
		return grove__backend_mem_open(be, opts);
	if (!strncmp(location, "git:", 4)) {
		if (!location[4])
			return grove__error_set(GROVE_EINVALID, "location 'git:' needs a path");
		return grove__backend_git_open(be, location + 4, opts);
	}
	if (!strncmp(location, "lmdb:", 5))
		location += 5;
	if (!*location)
		return grove__error_set(GROVE_EINVALID, "empty store location");
	return grove__backend_lmdb_open(be, location, opts);
}

int grove_open(grove **out, const char *location, const grove_options *opts)
{
	grove_options defaults = GROVE_OPTIONS_INIT;
	grove *g;
	int err;

	if (!out || !location)
		return grove__error_set(GROVE_EINVALID, "grove_open: NULL argument");
	if (opts && opts->version != GROVE_OPTIONS_VERSION)
		return grove__error_set(GROVE_EINVALID, "grove_options version %u is not supported", opts->version);
	g = grove__calloc(1, sizeof(*g));
	if (!g)
		return GROVE_ENOMEM;
	g->opts = opts ? *opts : defaults;
	if (!g->opts.sync_interval_ms)
		g->opts.sync_interval_ms = 100;
	g->location = grove__strdup(location);
	if (!g->location) {
		free(g);
		return GROVE_ENOMEM;
	}
	{
		/* Recursive: a watch callback may write through the same handle. */
		pthread_mutexattr_t attr;
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&g->write_lock, &attr);
		pthread_mutexattr_destroy(&attr);
	}
	pthread_mutex_init(&g->watch_lock, NULL);
	pthread_mutex_init(&g->merge_lock, NULL);
	g->next_watch_id = 1;
	if ((err = grove__tree_cache_new(&g->trees, TREE_CACHE_BUDGET)) < 0 ||
	    (err = grove__obj_cache_new(&g->objects)) < 0 ||
	    (err = open_backend(&g->be, location, &g->opts)) < 0) {
		grove_close(g);
		return err;
	}
	*out = g;
	return 0;
}

void grove_close(grove *g)
{
	if (!g)
		return;
	if (g->be)
		g->be->ops->close(g->be);
	grove__tree_cache_free(g->trees);
	grove__obj_cache_free(g->objects);
	grove__watch_dispose(g);
	grove__merge_dispose(g);
	pthread_mutex_destroy(&g->write_lock);
	pthread_mutex_destroy(&g->watch_lock);
	pthread_mutex_destroy(&g->merge_lock);
	free(g->location);
	free(g);
}

const char *grove_backend_name(const grove *g)
{
	return g->be->ops->name;
}

int grove_flush(grove *g)
{
	return g->be->ops->flush(g->be);
}

int grove__read(grove *g, const grove_oid *id, grove_otype want, grove_buf *out)
{
	grove_otype type;
	grove_buf buf = { 0 };
	int err;
	if (!grove__obj_cache_get(g->objects, id, &type, &buf)) {
		if ((err = g->be->ops->read(g->be, id, &type, &buf)) < 0)
			return err;
		/* Trees have their own cache of parsed trees. */
		if (type != GROVE_OBJ_TREE)
			grove__obj_cache_put(g->objects, id, type, buf.data, buf.size);
	}
	if (want != GROVE_OBJ_BAD && type != want) {
		char hex[41];
		grove_buf_dispose(&buf);
		return grove__error_set(GROVE_ECORRUPT, "object %s is a %s, expected a %s",
			grove_oid_tohex(hex, id), grove_otype_name(type), grove_otype_name(want));
	}
	*out = buf;
	return 0;
}

int grove__commit_tree(grove *g, const grove_oid *commit, grove_oid *tree)
{
	grove_buf buf = { 0 };
	int err = grove__read(g, commit, GROVE_OBJ_COMMIT, &buf);
	if (err < 0)
		return err;
	/* The tree line is always first; no need for a full parse. */
	if (buf.size < 46 || memcmp(buf.data, "tree ", 5) || ((char *)buf.data)[45] != '\n' ||
	    grove_oid_fromhex(tree, (char *)buf.data + 5) < 0) {
		char hex[41];
		grove_buf_dispose(&buf);
		return grove__error_set(GROVE_ECORRUPT, "commit %s has no valid tree line", grove_oid_tohex(hex, commit));
	}
	grove_buf_dispose(&buf);
	return 0;
}

int grove__write(grove *g, const grove__write_set *ws)
{
	grove_oid *old_ids = NULL;
	int err, watched = 0;

	if (g->opts.read_only)
		return grove__error_set(GROVE_EREADONLY, "store '%s' is open read-only", g->location);
	pthread_mutex_lock(&g->watch_lock);
	watched = g->watches != NULL;
	pthread_mutex_unlock(&g->watch_lock);
	if (watched && ws->ref_count) {
		old_ids = grove__calloc(ws->ref_count, sizeof(*old_ids));
		if (!old_ids)
			return GROVE_ENOMEM;
		for (size_t i = 0; i < ws->ref_count; i++) {
			if (ws->refs[i].check_old)
				old_ids[i] = ws->refs[i].old_id;
			else if (g->be->ops->ref_read(g->be, ws->refs[i].refname, &old_ids[i]) < 0)
				memset(&old_ids[i], 0, sizeof(old_ids[i]));
		}
		grove_error_clear();
	}
	err = g->be->ops->write(g->be, ws);
	if (err == 0 && old_ids)
		grove__watch_fire(g, ws->refs, old_ids, ws->ref_count);
	free(old_ids);
	return err;
}

int grove__branch_ref(const char *branch, char *out, size_t outlen)
{
	int n;
	if (!branch)
		return grove__error_set(GROVE_EINVALID, "branch name is NULL");
	if (!strncmp(branch, "refs/", 5))
		n = snprintf(out, outlen, "%s", branch);
	else
		n = snprintf(out, outlen, "refs/heads/%s", branch);
	if (n < 0 || (size_t)n >= outlen)
		return grove__error_set(GROVE_EINVALID, "branch name too long");
	return grove_ref_name_validate(out);
}

/* --- objects ------------------------------------------------------------- */

int grove_object_read(grove *g, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	return g->be->ops->read(g->be, id, type, out);
}

int grove_object_exists(grove *g, const grove_oid *id)
{
	return g->be->ops->exists(g->be, id);
}

int grove_object_write(grove *g, grove_otype type, const void *data, size_t size, grove_oid *out)
{
	grove__object rec = { 0 };
	grove__write_set ws = { 0 };
	int err;
	if ((err = grove__object_check(type, data, size)) < 0)
		return err;
	if ((err = grove__object_hash(type, data, size, &rec.id)) < 0)
		return err;
	rec.type = type;
	rec.size = size;
	rec.encoding = GROVE__ENC_PLAIN;
	rec.data = data;
	rec.data_len = size;
	ws.objects = &rec;
	ws.object_count = 1;
	if ((err = grove__write(g, &ws)) < 0)
		return err;
	*out = rec.id;
	return 0;
}

int grove_commit_read(grove *g, const grove_oid *id, grove_commit **out)
{
	grove_buf buf = { 0 };
	int err = grove__read(g, id, GROVE_OBJ_COMMIT, &buf);
	if (err < 0)
		return err;
	err = grove__commit_parse(id, buf.data, buf.size, out);
	grove_buf_dispose(&buf);
	return err;
}

int grove_stats_get(grove *g, grove_stats *out)
{
	return g->be->ops->stats(g->be, out);
}
