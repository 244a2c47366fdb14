/*
 * grove_import: copies a git repository's objects, refs and HEAD into a
 * store of any backend.
 *
 * Which objects: every object in the source's object database, not only
 * those reachable from its refs.  The fast path hands each pack file
 * whole to grove's pack indexer, which keeps the pack's compressed form
 * and deltas (so an lmdb: store stays about the size of the pack and the
 * import runs at index-pack speed); finding the reachable subset would
 * mean inflating and parsing every tree first.  Unreachable extras (rare
 * after `git gc`) are what grove_gc removes on lmdb: and mem: stores.
 *
 * Order: packs (bases before deltas, as the indexer delivers them), then
 * a pass over the whole object database through libgit2 that copies
 * whatever is still missing (loose objects, alternates), then all refs in
 * one write, then HEAD.  Objects are written in batches, each a write set
 * without refs, so an interrupted import leaves only unreferenced objects.
 */
#include "backend.h"
#include "error.h"
#include "reach_index.h"
#include "pack.h"
#include "all_refs.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records per write of the pack path (the indexer's batches). */
#define IMPORT_PACK_BATCH 8192
/* Whole objects per write of the libgit2 path. */
#define IMPORT_LOOSE_BATCH 1000

/* ------------------------------------------------------------------ */
/* Pack files                                                          */
/* ------------------------------------------------------------------ */

static int deliver_records(void *payload, const grove__object *records, size_t count)
{
	grove *g = payload;
	grove__write_set ws = { records, count, NULL, 0 };
	return grove__write(g, &ws);
}

static int import_pack_file(grove *g, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map;
	int err;

	if (fd < 0)
		return grove__error_set(grove__error_from_errno(errno), "import: cannot open %s: %s",
			path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		err = grove__error_set(grove__error_from_errno(errno), "import: %s: %s", path,
			strerror(errno));
		close(fd);
		return err;
	}
	if (st.st_size == 0) {
		close(fd);
		return grove__error_set(GROVE_ECORRUPT, "import: %s is empty", path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return grove__error_set(grove__error_from_errno(errno), "import: cannot map %s: %s",
			path, strerror(errno));
	madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);

	grove__pack_index_opts o;
	memset(&o, 0, sizeof(o));
	o.deliver = deliver_records;
	o.deliver_payload = g;
	o.batch_size = IMPORT_PACK_BATCH;
	err = grove__pack_index(map, (size_t)st.st_size, &o, NULL);
	if (err < 0)
		grove__error_wrap(err, "import: pack %s", path);
	munmap(map, (size_t)st.st_size);
	return err;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Feeds every objects/pack/pack-*.pack of the repository's common dir
 * (where a linked worktree's objects live) to the pack indexer. */
static int import_packs(grove *g, const char *git_path)
{
	git_repository *repo = NULL;
	char *pack_dir = NULL;
	DIR *d = NULL;
	struct dirent *e;
	int err;

	if ((err = git_repository_open_ext(&repo, git_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) < 0) {
		const git_error *ge = git_error_last();
		return grove__error_set(err == GIT_ENOTFOUND ? GROVE_ENOTFOUND : GROVE_ERROR,
			"git: %s: %s", git_path, ge && ge->message ? ge->message : "cannot open");
	}
	const char *common = git_repository_commondir(repo); /* ends in '/' */
	size_t len = strlen(common) + sizeof("objects/pack");
	if (!(pack_dir = grove__malloc(len))) {
		err = GROVE_ENOMEM;
		goto out;
	}
	snprintf(pack_dir, len, "%sobjects/pack", common);
	if (!(d = opendir(pack_dir))) {
		err = 0; /* no packs: everything is loose */
		goto out;
	}
	err = 0;
	while (err == 0 && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "pack-", 5) != 0 || !ends_with(e->d_name, ".pack"))
			continue;
		size_t plen = strlen(pack_dir) + strlen(e->d_name) + 2;
		char *path = grove__malloc(plen);
		if (!path) {
			err = GROVE_ENOMEM;
			break;
		}
		snprintf(path, plen, "%s/%s", pack_dir, e->d_name);
		err = import_pack_file(g, path);
		free(path);
	}
out:
	if (d)
		closedir(d);
	free(pack_dir);
	git_repository_free(repo);
	return err;
}

/* ------------------------------------------------------------------ */
/* Whatever the packs did not hold, through libgit2                     */
/* ------------------------------------------------------------------ */

typedef struct {
	grove *g;
	grove_backend *src;
	grove__object recs[IMPORT_LOOSE_BATCH];
	grove_buf bufs[IMPORT_LOOSE_BATCH];
	size_t n;
	size_t copied;
} loose_batch;

static int flush_batch(loose_batch *b)
{
	int err = 0;
	if (b->n > 0) {
		grove__write_set ws = { b->recs, b->n, NULL, 0 };
		err = grove__write(b->g, &ws);
	}
	for (size_t i = 0; i < b->n; i++)
		grove_buf_dispose(&b->bufs[i]);
	b->copied += b->n;
	b->n = 0;
	return err;
}

static int copy_if_missing(const grove_oid *id, void *payload)
{
	loose_batch *b = payload;
	grove_backend *dst = b->g->be;
	int r = dst->ops->exists(dst, id);
	if (r < 0)
		return r;
	if (r)
		return 0;

	grove_otype type;
	grove_buf *buf = &b->bufs[b->n];
	int err = b->src->ops->read(b->src, id, &type, buf);
	if (err < 0)
		return err;
	grove__object *o = &b->recs[b->n++];
	memset(o, 0, sizeof(*o));
	o->id = *id;
	o->type = type;
	o->size = buf->size;
	o->encoding = GROVE__ENC_PLAIN;
	o->data = buf->data;
	o->data_len = buf->size;
	if (b->n == IMPORT_LOOSE_BATCH)
		return flush_batch(b);
	return 0;
}

static int import_remaining_objects(grove *g, grove_backend *src)
{
	loose_batch *b = grove__calloc(1, sizeof(*b));
	int err;
	if (!b)
		return GROVE_ENOMEM;
	b->g = g;
	b->src = src;
	err = src->ops->foreach_object(src, copy_if_missing, b);
	if (err == 0)
		err = flush_batch(b);
	else
		for (size_t i = 0; i < b->n; i++)
			grove_buf_dispose(&b->bufs[i]);
	free(b);
	return err;
}

/* ------------------------------------------------------------------ */
/* Refs and HEAD                                                       */
/* ------------------------------------------------------------------ */

static int import_refs(grove *g, grove_backend *src)
{
	grove__all_refs l = { 0 };
	int err = grove__all_refs_collect(src, &l);
	if (err == 0 && l.n > 0) {
		grove__write_set ws = { NULL, 0, l.u, l.n };
		err = grove__write(g, &ws);
	}
	grove__all_refs_dispose(&l);
	if (err < 0)
		return err;

	/* HEAD follows the source's; a detached source HEAD is left out (a
	 * grove HEAD always names a branch). */
	char *target = NULL;
	err = src->ops->head_read(src, &target);
	if (err == GROVE_EINVALID || err == GROVE_ENOTFOUND) {
		grove_error_clear();
		return 0;
	}
	if (err < 0)
		return err;
	err = g->be->ops->head_write(g->be, target);
	free(target);
	return err;
}

int grove_import(grove *g, const char *git_path)
{
	grove_options ro = GROVE_OPTIONS_INIT;
	grove_backend *src = NULL;
	int err;

	if (!g || !git_path || !*git_path)
		return grove__error_set(GROVE_EINVALID, "grove_import: missing store or path");
	if (g->opts.read_only)
		return grove__error_set(GROVE_EREADONLY, "import: store '%s' is open read-only",
			g->location ? g->location : "");

	ro.create = 0;
	ro.read_only = 1;
	ro.durability = GROVE_RELAXED;
	if ((err = grove__backend_git_open(&src, git_path, &ro)) < 0)
		return grove__error_wrap(err, "import from %s", git_path);
	/* The git backend holds a libgit2 reference, so libgit2 is
	 * initialised for the pack listing below. */
	if ((err = import_packs(g, git_path)) < 0 ||
		(err = import_remaining_objects(g, src)) < 0 ||
		(err = import_refs(g, src)) < 0)
		grove__error_wrap(err, "import from %s", git_path);
	src->ops->close(src);
	/* The index only saves work for later clones: serving works without
	 * one, so failing to build it does not fail the import. */
	if (err == 0)
		(void)grove__reach_index_update(g);
	return err;
}
