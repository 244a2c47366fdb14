/*
 * grove_export: writes every object, ref and HEAD of a store into a bare
 * git repository (created if missing), through the git: backend.
 *
 * Objects go over in batches of full content; the git backend stores a
 * large batch as one pack (zlib, no deltas) and a small one as loose
 * objects, so `git gc` may later shrink the result.  Refs already in the
 * repository are overwritten (not compared); refs only the repository has
 * are kept.
 */
#include "backend.h"
#include "error.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

#define EXPORT_BATCH 1000

typedef struct {
	grove_oid *ids;
	size_t n, cap;
} id_list;

static int collect_id(const grove_oid *id, void *payload)
{
	id_list *l = payload;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		grove_oid *ids = grove__realloc(l->ids, cap * sizeof(*ids));
		if (!ids)
			return GROVE_ENOMEM;
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = *id;
	return 0;
}

static int export_objects(grove_backend *src, grove_backend *dst)
{
	id_list l = { 0 };
	grove__object *recs = NULL;
	grove_buf *bufs = NULL;
	int err;

	if ((err = src->ops->foreach_object(src, collect_id, &l)) < 0)
		goto out;
	recs = grove__calloc(EXPORT_BATCH, sizeof(*recs));
	bufs = grove__calloc(EXPORT_BATCH, sizeof(*bufs));
	if (!recs || !bufs) {
		err = GROVE_ENOMEM;
		goto out;
	}
	for (size_t start = 0; start < l.n && err == 0; start += EXPORT_BATCH) {
		size_t n = l.n - start < EXPORT_BATCH ? l.n - start : EXPORT_BATCH, got = 0;
		for (size_t i = 0; i < n; i++) {
			const grove_oid *id = &l.ids[start + i];
			int r = dst->ops->exists(dst, id);
			if (r < 0) {
				err = r;
				break;
			}
			if (r)
				continue;
			grove_otype type;
			if ((err = src->ops->read(src, id, &type, &bufs[got])) < 0)
				break;
			grove__object *o = &recs[got];
			memset(o, 0, sizeof(*o));
			o->id = *id;
			o->type = type;
			o->size = bufs[got].size;
			o->encoding = GROVE__ENC_PLAIN;
			o->data = bufs[got].data;
			o->data_len = bufs[got].size;
			got++;
		}
		if (err == 0 && got > 0) {
			grove__write_set ws = { recs, got, NULL, 0 };
			err = dst->ops->write(dst, &ws);
		}
		for (size_t i = 0; i < got; i++)
			grove_buf_dispose(&bufs[i]);
	}
out:
	free(l.ids);
	free(recs);
	free(bufs);
	return err;
}

typedef struct {
	grove_ref_update *u;
	size_t n, cap;
} ref_list;

static int collect_ref(const char *refname, const grove_oid *id, void *payload)
{
	ref_list *l = payload;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		grove_ref_update *u = grove__realloc(l->u, cap * sizeof(*u));
		if (!u)
			return GROVE_ENOMEM;
		l->u = u;
		l->cap = cap;
	}
	grove_ref_update *u = &l->u[l->n];
	memset(u, 0, sizeof(*u));
	if (!(u->refname = grove__strdup(refname)))
		return GROVE_ENOMEM;
	u->new_id = *id;
	l->n++;
	return 0;
}

static int export_refs(grove_backend *src, grove_backend *dst)
{
	ref_list l = { 0 };
	int err = src->ops->ref_foreach(src, "", collect_ref, &l);
	if (err == 0 && l.n > 0) {
		grove__write_set ws = { NULL, 0, l.u, l.n };
		err = dst->ops->write(dst, &ws);
	}
	for (size_t i = 0; i < l.n; i++)
		free((char *)l.u[i].refname);
	free(l.u);
	if (err < 0)
		return err;

	char *target = NULL;
	err = src->ops->head_read(src, &target);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		return 0;
	}
	if (err < 0)
		return err;
	err = dst->ops->head_write(dst, target);
	free(target);
	return err;
}

int grove_export(grove *g, const char *git_path)
{
	grove_options o = GROVE_OPTIONS_INIT;
	grove_backend *dst = NULL;
	int err;

	if (!g || !git_path || !*git_path)
		return grove__error_set(GROVE_EINVALID, "grove_export: missing store or path");
	o.create = 1;
	o.read_only = 0;
	o.durability = g->opts.durability;
	if ((err = grove__backend_git_open(&dst, git_path, &o)) < 0)
		return grove__error_wrap(err, "export to %s", git_path);
	if ((err = export_objects(g->be, dst)) < 0 || (err = export_refs(g->be, dst)) < 0)
		grove__error_wrap(err, "export to %s", git_path);
	dst->ops->close(dst);
	return err;
}
