/*
 * libgit2 sees the grove store through this odb backend: reads and
 * existence checks go straight to the store, and a pack libgit2 receives is
 * streamed into grove__pack_indexer instead of a .pack file, so it is
 * indexed once and its deltas are kept.  Nothing is written to the store
 * here: the caller writes the records together with the ref updates.
 */
#include "lg2_odb.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"

typedef struct {
	git_odb_backend parent;
	grove *g;
	grove__lg2_sink *sink;
} grove_lg2_backend;

typedef struct {
	git_odb_writepack parent;
	grove__lg2_sink *sink;
} grove_lg2_writepack;

static void to_grove_oid(grove_oid *out, const git_oid *id)
{
	memcpy(out->id, id->id, GROVE_OID_RAWSZ);
}

static int lg2_read(void **data, size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *id)
{
	grove_lg2_backend *b = (grove_lg2_backend *)be;
	grove_oid oid;
	grove_otype t;
	grove_buf buf = { 0 };
	int rc;
	to_grove_oid(&oid, id);
	if ((rc = b->g->be->ops->read(b->g->be, &oid, &t, &buf)) < 0) {
		if (rc == GROVE_ENOTFOUND) {
			grove_error_clear();
			return GIT_ENOTFOUND;
		}
		git_error_set_str(GIT_ERROR_ODB, grove_error_message());
		return -1;
	}
	*data = git_odb_backend_data_alloc(be, buf.size ? buf.size : 1);
	if (!*data) {
		grove_buf_dispose(&buf);
		return -1;
	}
	if (buf.size)
		memcpy(*data, buf.data, buf.size);
	*len = buf.size;
	*type = (git_object_t)t; /* same numbering as git's */
	grove_buf_dispose(&buf);
	return 0;
}

static int lg2_read_header(size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *id)
{
	grove_lg2_backend *b = (grove_lg2_backend *)be;
	grove_oid oid;
	grove_otype t;
	int rc;
	to_grove_oid(&oid, id);
	if ((rc = b->g->be->ops->read_header(b->g->be, &oid, &t, len)) < 0) {
		if (rc == GROVE_ENOTFOUND) {
			grove_error_clear();
			return GIT_ENOTFOUND;
		}
		git_error_set_str(GIT_ERROR_ODB, grove_error_message());
		return -1;
	}
	*type = (git_object_t)t;
	return 0;
}

static int lg2_exists(git_odb_backend *be, const git_oid *id)
{
	grove_lg2_backend *b = (grove_lg2_backend *)be;
	grove_oid oid;
	int rc;
	to_grove_oid(&oid, id);
	rc = b->g->be->ops->exists(b->g->be, &oid);
	if (rc < 0) {
		grove_error_clear();
		return 0;
	}
	return rc;
}

/* --- receiving a pack ---------------------------------------------------- */

static int collect(void *payload, const grove__object *records, size_t count)
{
	grove__lg2_sink *s = payload;
	if (s->n + count > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		grove__object *n;
		while (cap < s->n + count)
			cap *= 2;
		if (!(n = grove__realloc(s->recs, cap * sizeof(*n))))
			return GROVE_ENOMEM;
		s->recs = n;
		s->cap = cap;
	}
	memcpy(s->recs + s->n, records, count * sizeof(*records));
	s->n += count;
	if (s->progress && s->progress(s->payload, GROVE_SYNC_INDEXING, s->n, s->total_objects, s->bytes))
		return grove__error_set(GROVE_ERROR, "cancelled");
	return 0;
}

static int lookup_base(void *payload, const grove_oid *id, grove_otype *type, grove_buf *content)
{
	grove *g = payload;
	return g->be->ops->read(g->be, id, type, content);
}

/* Keeps grove's error for the caller and gives libgit2 a plain one. */
static int sink_fail(grove__lg2_sink *s, int rc)
{
	if (!s->failed_code) {
		s->failed_code = rc;
		free(s->failed_msg);
		s->failed_msg = strdup(grove_error_message());
	}
	git_error_set_str(GIT_ERROR_ODB, grove_error_message());
	return rc == GROVE_ERROR ? GIT_EUSER : -1;
}

int grove__lg2_sink_append(grove__lg2_sink *s, const void *data, size_t size)
{
	int rc;
	if (!s->ix) {
		grove__pack_index_opts o;
		memset(&o, 0, sizeof(o));
		o.lookup_base = lookup_base;
		o.lookup_payload = s->g;
		o.deliver = collect;
		o.deliver_payload = s;
		if ((rc = grove__pack_indexer_new(&s->ix, &o)) < 0)
			return rc;
	}
	if (s->bytes < sizeof(s->header)) {
		size_t take = sizeof(s->header) - (size_t)s->bytes;
		if (take > size)
			take = size;
		memcpy(s->header + s->bytes, data, take);
		if (s->bytes + take == sizeof(s->header))
			s->total_objects = (uint32_t)s->header[8] << 24 | (uint32_t)s->header[9] << 16 |
				(uint32_t)s->header[10] << 8 | s->header[11];
	}
	if ((rc = grove__pack_indexer_append(s->ix, data, size)) < 0)
		return rc;
	s->bytes += size;
	if (s->progress && s->progress(s->payload, GROVE_SYNC_RECEIVING, 0, s->total_objects, s->bytes))
		return grove__error_set(GROVE_ERROR, "cancelled");
	return 0;
}

int grove__lg2_sink_finish(grove__lg2_sink *s, grove__pack_index_stats *st)
{
	if (!s->ix) {
		memset(st, 0, sizeof(*st));
		return 0; /* nothing was sent */
	}
	return grove__pack_indexer_finish(s->ix, st);
}

static int wp_append(git_odb_writepack *w, const void *data, size_t size, git_indexer_progress *stats)
{
	grove__lg2_sink *s = ((grove_lg2_writepack *)w)->sink;
	int rc = grove__lg2_sink_append(s, data, size);
	if (rc < 0)
		return sink_fail(s, rc);
	stats->received_bytes = (size_t)s->bytes;
	stats->total_objects = s->total_objects;
	return 0;
}

static int wp_commit(git_odb_writepack *w, git_indexer_progress *stats)
{
	grove__lg2_sink *s = ((grove_lg2_writepack *)w)->sink;
	grove__pack_index_stats st;
	int rc;
	if (!s->ix)
		return 0;
	if ((rc = grove__lg2_sink_finish(s, &st)) < 0)
		return sink_fail(s, rc);
	stats->total_objects = stats->received_objects = stats->indexed_objects = (unsigned)st.object_count;
	stats->total_deltas = stats->indexed_deltas = (unsigned)st.delta_count;
	return 0;
}

static void wp_free(git_odb_writepack *w)
{
	free(w); /* the indexer and its records belong to the sink */
}

static int lg2_writepack(git_odb_writepack **out, git_odb_backend *be, git_odb *odb,
	git_indexer_progress_cb cb, void *payload)
{
	grove_lg2_backend *b = (grove_lg2_backend *)be;
	grove_lg2_writepack *w;
	(void)odb;
	(void)cb;
	(void)payload;
	if (b->sink->ix) {
		git_error_set_str(GIT_ERROR_ODB, "a second pack in one session");
		return -1;
	}
	if (!(w = calloc(1, sizeof(*w)))) {
		git_error_set_oom();
		return -1;
	}
	w->parent.backend = be;
	w->parent.append = wp_append;
	w->parent.commit = wp_commit;
	w->parent.free = wp_free;
	w->sink = b->sink;
	*out = &w->parent;
	return 0;
}

static void lg2_free(git_odb_backend *be)
{
	free(be);
}

int grove__lg2_odb_backend_new(git_odb_backend **out, grove *g, grove__lg2_sink *sink)
{
	grove_lg2_backend *b = grove__calloc(1, sizeof(*b));
	if (!b)
		return GROVE_ENOMEM;
	if (git_odb_init_backend(&b->parent, GIT_ODB_BACKEND_VERSION) < 0) {
		free(b);
		return grove__error_set(GROVE_ERROR, "libgit2: cannot set up an object database backend");
	}
	b->parent.read = lg2_read;
	b->parent.read_header = lg2_read_header;
	b->parent.exists = lg2_exists;
	b->parent.writepack = lg2_writepack;
	b->parent.free = lg2_free;
	b->g = g;
	b->sink = sink;
	*out = &b->parent;
	return 0;
}

void grove__lg2_sink_dispose(grove__lg2_sink *sink)
{
	grove__pack_indexer_free(sink->ix);
	free(sink->recs);
	free(sink->failed_msg);
	sink->ix = NULL;
	sink->recs = NULL;
	sink->failed_msg = NULL;
	sink->n = sink->cap = 0;
}
