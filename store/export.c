/*
 * grove_export: writes every object, ref and HEAD of a store into a bare
 * git repository (created if missing).
 *
 * Objects the repository lacks are streamed as one pack by grove's pack
 * writer (stored zlib streams and deltas reused as they are) straight
 * into libgit2's indexer (git_odb_write_pack), which checks every object
 * and installs pack and index: the result is about the size of the pack
 * the history came from, with no loose objects.  Refs and HEAD then go
 * through the git: backend (git's lock files).  Refs already in the
 * repository are overwritten (not compared); refs only it has are kept.
 */
#include "backend.h"
#include "error.h"
#include "pack.h"
#include "all_refs.h"
#include "store.h"

#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <stdlib.h>
#include <string.h>

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

/* libgit2's indexer keeps its counts in the progress struct: append and
 * commit must be given the same one. */
typedef struct {
	git_odb_writepack *wp;
	git_indexer_progress progress;
} pack_sink;

/* Hands pack bytes to libgit2's indexer as they are produced. */
static int append_to_indexer(void *payload, const void *data, size_t len)
{
	pack_sink *sink = payload;
	int err = sink->wp->append(sink->wp, data, len, &sink->progress);
	if (err < 0) {
		const git_error *e = git_error_last();
		return grove__error_set(GROVE_ERROR, "git: indexing exported pack: %s",
			e && e->message ? e->message : "failed");
	}
	return 0;
}

static int stream_pack(grove_backend *src, const char *git_path, const grove_oid *ids, size_t n)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_writepack *wp = NULL;
	const git_error *e;
	int err;

	/* The git backend that created the repository holds a libgit2
	 * reference, so libgit2 is initialised here. */
	if ((err = git_repository_open_ext(&repo, git_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) < 0 ||
		(err = git_repository_odb(&odb, repo)) < 0 ||
		(err = git_odb_write_pack(&wp, odb, NULL, NULL)) < 0) {
		e = git_error_last();
		err = grove__error_set(GROVE_ERROR, "git: %s: %s", git_path,
			e && e->message ? e->message : "cannot write a pack");
		goto out;
	}
	pack_sink sink;
	memset(&sink, 0, sizeof(sink));
	sink.wp = wp;
	grove__pack_write_opts o;
	memset(&o, 0, sizeof(o));
	o.write = append_to_indexer;
	o.write_payload = &sink;
	o.allow_thin = 0;
	if ((err = grove__pack_write(src, ids, n, &o, NULL)) < 0)
		goto out;
	if ((err = wp->commit(wp, &sink.progress)) < 0) {
		e = git_error_last();
		err = grove__error_set(GROVE_ECORRUPT, "git: indexing exported pack: %s",
			e && e->message ? e->message : "failed");
	}
out:
	if (wp)
		wp->free(wp);
	git_odb_free(odb);
	git_repository_free(repo);
	return err;
}

/* Every object of src that dst lacks, as one pack. */
static int export_objects_as_pack(grove_backend *src, grove_backend *dst, const char *git_path)
{
	id_list l = { 0 };
	size_t keep = 0;
	int err;

	if ((err = src->ops->foreach_object(src, collect_id, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		int r = dst->ops->exists(dst, &l.ids[i]);
		if (r < 0) {
			err = r;
			goto out;
		}
		if (!r)
			l.ids[keep++] = l.ids[i];
	}
	if (keep > 0)
		err = stream_pack(src, git_path, l.ids, keep);
out:
	free(l.ids);
	return err;
}

static int export_refs(grove_backend *src, grove_backend *dst)
{
	grove__all_refs l = { 0 };
	int err = grove__all_refs_collect(src, &l);
	if (err == 0 && l.n > 0) {
		grove__write_set ws = { NULL, 0, l.u, l.n };
		err = dst->ops->write(dst, &ws);
	}
	grove__all_refs_dispose(&l);
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
	if ((err = export_objects_as_pack(g->be, dst, git_path)) < 0 || (err = export_refs(g->be, dst)) < 0)
		grove__error_wrap(err, "export to %s", git_path);
	dst->ops->close(dst);
	return err;
}
