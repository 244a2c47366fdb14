/*
 * The LMDB backend: objects, refs and meta in named DBs of one LMDB
 * environment.  This file holds the reading side and the vtable; writes
 * live in lmdb_write.c, environments and transactions in lmdb_env.c.
 */
#include "lmdb_internal.h"
#include "compress.h"
#include "error.h"
#include "oid.h"
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int grove__lmdb_write(grove_backend *be, const grove__write_set *ws);
int grove__lmdb_head_write(grove_backend *be, const char *target);
int grove__lmdb_remove_unreachable(grove_backend *be,
	int (*keep)(const grove_oid *id, void *payload), void *payload, size_t *removed);

static grove__lmdb *H(grove_backend *be)
{
	return (grove__lmdb *)be;
}

static int get_record(grove__lmdb_env *e, const grove__lmdb_rtxn *rt, const grove_oid *id,
	grove__lmdb_rec *rec)
{
	return grove__lmdb_get_record(e, rt->txn, rt->segcache, id, rec, NULL);
}

static int lmdb_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	grove__lmdb_rec rec;
	grove__object obj;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	if ((rc = get_record(e, &rt, id, &rec)) < 0) {
		grove__lmdb_read_end(e, &rt);
		return rc;
	}
	if (rec.encoding == GROVE__ENC_PLAIN) {
		char *p = grove__malloc(rec.size + 1);
		if (p) {
			memcpy(p, rec.data, rec.size);
			p[rec.size] = '\0';
		}
		grove__lmdb_read_end(e, &rt);
		if (!p)
			return GROVE_ENOMEM;
		out->data = p;
		out->size = rec.size;
		*type = rec.type;
		return 0;
	}
	if (rec.encoding == GROVE__ENC_ZLIB) {
		/* Inflate straight from the map: no intermediate copy. */
		rc = grove__zlib_inflate(rec.data, rec.data_len, rec.size, out);
		grove__lmdb_read_end(e, &rt);
		if (rc == GROVE_ECORRUPT) {
			char hex[GROVE_OID_HEXSZ + 1];
			return grove__error_wrap(rc, "lmdb: object %s", grove_oid_tohex(hex, id));
		}
		if (rc == 0)
			*type = rec.type;
		return rc;
	}
	/* A delta: copy the record out and leave the txn before decoding, which
	 * reads the base through this backend. */
	void *copy = grove__malloc(rec.data_len);
	if (!copy) {
		grove__lmdb_read_end(e, &rt);
		return GROVE_ENOMEM;
	}
	memcpy(copy, rec.data, rec.data_len);
	memset(&obj, 0, sizeof(obj));
	obj.id = *id;
	obj.type = rec.type;
	obj.size = rec.size;
	obj.encoding = rec.encoding;
	obj.data = copy;
	obj.data_len = rec.data_len;
	memcpy(obj.base.id, rec.base, GROVE_OID_RAWSZ);
	grove__lmdb_read_end(e, &rt);
	rc = grove__object_decode(be, &obj, out);
	free(copy);
	if (rc == 0)
		*type = rec.type;
	return rc;
}

static int lmdb_read_header(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	grove__lmdb_rec rec;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = get_record(e, &rt, id, &rec);
	grove__lmdb_read_end(e, &rt);
	if (rc == 0) {
		*type = rec.type;
		*size = rec.size;
	}
	return rc;
}

static int lmdb_read_raw(grove_backend *be, const grove_oid *id, grove__object *out, grove_buf *buf)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	grove__lmdb_rec rec;
	void *copy;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	if ((rc = get_record(e, &rt, id, &rec)) < 0) {
		grove__lmdb_read_end(e, &rt);
		return rc;
	}
	copy = grove__malloc(rec.data_len + 1);
	if (copy) {
		memcpy(copy, rec.data, rec.data_len);
		((char *)copy)[rec.data_len] = '\0';
		memset(out, 0, sizeof(*out));
		out->id = *id;
		out->type = rec.type;
		out->size = rec.size;
		out->encoding = rec.encoding;
		out->data = copy;
		out->data_len = rec.data_len;
		out->data_size = rec.data_size;
		if (rec.base)
			memcpy(out->base.id, rec.base, GROVE_OID_RAWSZ);
		buf->data = copy;
		buf->size = rec.data_len;
	}
	grove__lmdb_read_end(e, &rt);
	return copy ? 0 : GROVE_ENOMEM;
}

static int lmdb_exists(grove_backend *be, const grove_oid *id)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	MDB_val k = { GROVE_OID_RAWSZ, (void *)id->id }, v;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = mdb_get(rt.txn, e->objects, &k, &v);
	if (rc == MDB_NOTFOUND) {
		int jr = grove__lmdb_journal_find(e, rt.txn, rt.segcache, id, &v);
		if (jr != 1)
			rc = jr; /* 0: pending in the journal; else an error */
	}
	grove__lmdb_read_end(e, &rt);
	if (rc == 0)
		return 1;
	if (rc == MDB_NOTFOUND)
		return 0;
	return grove__lmdb_error(e, rc, "looking up an object");
}

/*
 * Walks the objects in batches, leaving the read txn between batches, so
 * the callback may use the backend freely (even write) without holding a
 * snapshot open.
 */
#define OID_BATCH 512

/* The objects still only in the journal (listed after the objects DB). */
static int foreach_pending(grove__lmdb_env *e, grove__oid_cb cb, void *payload)
{
	grove__lmdb_rtxn rt;
	grove_oid *ids;
	size_t n;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = grove__lmdb_journal_pending_ids(e, rt.txn, &ids, &n);
	grove__lmdb_read_end(e, &rt);
	if (rc)
		return grove__lmdb_error(e, rc, "listing the journal");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cb(&ids[i], payload);
	free(ids);
	return rc;
}

static int lmdb_foreach_object(grove_backend *be, grove__oid_cb cb, void *payload)
{
	grove__lmdb_env *e = H(be)->e;
	grove_oid batch[OID_BATCH];
	size_t n;
	int started = 0, done = 0, rc;

	while (!done) {
		grove__lmdb_rtxn rt;
		MDB_cursor *cur;
		MDB_val k, v;
		MDB_cursor_op op;

		if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
			return rc;
		if ((rc = mdb_cursor_open(rt.txn, e->objects, &cur))) {
			grove__lmdb_read_end(e, &rt);
			return grove__lmdb_error(e, rc, "listing objects");
		}
		if (started) {
			/* Resume after the last id of the previous batch. */
			k.mv_size = GROVE_OID_RAWSZ;
			k.mv_data = batch[OID_BATCH - 1].id;
			op = MDB_SET_RANGE;
		} else {
			op = MDB_FIRST;
		}
		n = 0;
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (rc == 0 && started && k.mv_size == GROVE_OID_RAWSZ &&
			memcmp(k.mv_data, batch[OID_BATCH - 1].id, GROVE_OID_RAWSZ) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		while (rc == 0 && n < OID_BATCH) {
			if (k.mv_size != GROVE_OID_RAWSZ) {
				mdb_cursor_close(cur);
				grove__lmdb_read_end(e, &rt);
				return grove__error_set(GROVE_ECORRUPT, "lmdb: object key of %zu bytes in %s",
					k.mv_size, e->path);
			}
			memcpy(batch[n++].id, k.mv_data, GROVE_OID_RAWSZ);
			if (n < OID_BATCH)
				rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		grove__lmdb_read_end(e, &rt);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return grove__lmdb_error(e, rc, "listing objects");
		done = n < OID_BATCH;
		started = 1;
		for (size_t i = 0; i < n; i++)
			if ((rc = cb(&batch[i], payload)) != 0)
				return rc;
	}
	return foreach_pending(e, cb, payload);
}

static int ref_value(const grove__lmdb_env *e, const MDB_val *v, const char *name, size_t name_len,
	grove_oid *out, int *state, grove_oid *peeled)
{
	int st;
	if (grove__lmdb_ref_parse(v->mv_data, v->mv_size, out, state ? state : &st, peeled))
		return grove__error_set(GROVE_ECORRUPT, "lmdb: ref %.*s in %s holds %zu bytes, not an id",
			(int)name_len, name, e->path, v->mv_size);
	return 0;
}

static int lmdb_ref_read(grove_backend *be, const char *refname, grove_oid *out)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	size_t len = strlen(refname);
	MDB_val k = { len, (void *)refname }, v;
	int rc;

	if (len == 0 || len > (size_t)mdb_env_get_maxkeysize(e->env))
		return grove__error_set(GROVE_ENOTFOUND, "ref %s not found", refname);
	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = mdb_get(rt.txn, e->refs, &k, &v);
	if (rc == 0)
		rc = ref_value(e, &v, refname, len, out, NULL, NULL);
	else if (rc == MDB_NOTFOUND)
		rc = grove__error_set(GROVE_ENOTFOUND, "ref %s not found", refname);
	else
		rc = grove__lmdb_error(e, rc, "reading a ref");
	grove__lmdb_read_end(e, &rt);
	return rc;
}

/*
 * Collects the matching refs first (one snapshot), then calls back outside
 * the transaction, so the callback may use the backend.  Entries in the
 * buffer: 20-byte id, then the NUL-terminated name.
 */
static int lmdb_ref_foreach(grove_backend *be, const char *prefix, grove_ref_cb cb, void *payload)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t plen = prefix ? strlen(prefix) : 0;
	grove__sbuf buf = GROVE_SBUF_INIT;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	if ((rc = mdb_cursor_open(rt.txn, e->refs, &cur))) {
		grove__lmdb_read_end(e, &rt);
		return grove__lmdb_error(e, rc, "listing refs");
	}
	if (plen) {
		k.mv_size = plen;
		k.mv_data = (void *)prefix;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		grove_oid id;
		int state;
		if (grove__lmdb_ref_parse(v.mv_data, v.mv_size, &id, &state, NULL) ||
			memchr(k.mv_data, '\0', k.mv_size)) {
			rc = grove__error_set(GROVE_ECORRUPT, "lmdb: damaged ref %.*s in %s",
				(int)k.mv_size, (const char *)k.mv_data, e->path);
			break;
		}
		if ((rc = grove__sbuf_put(&buf, id.id, GROVE_OID_RAWSZ)) < 0 ||
			(rc = grove__sbuf_put(&buf, k.mv_data, k.mv_size)) < 0 ||
			(rc = grove__sbuf_putc(&buf, '\0')) < 0)
			break;
	}
	mdb_cursor_close(cur);
	grove__lmdb_read_end(e, &rt);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (rc)
		rc = grove__lmdb_error(e, rc, "listing refs"); /* grove codes pass through */
	for (size_t off = 0; off < buf.len && rc == 0;) {
		grove_oid id;
		const char *name = buf.data + off + GROVE_OID_RAWSZ;
		memcpy(id.id, buf.data + off, GROVE_OID_RAWSZ);
		off += GROVE_OID_RAWSZ + strlen(name) + 1;
		rc = cb(name, &id, payload);
	}
	grove__sbuf_dispose(&buf);
	return rc;
}

static int lmdb_ref_peeled(grove_backend *be, const char *refname, const grove_oid *id,
	grove_oid *peeled)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	size_t len = strlen(refname);
	MDB_val k = { len, (void *)refname }, v;
	grove_oid cur;
	int rc, state = GROVE__LMDB_PEEL_UNKNOWN;

	if (len == 0 || len > (size_t)mdb_env_get_maxkeysize(e->env))
		return grove__error_set(GROVE_ENOTFOUND, "ref %s not found", refname);
	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = mdb_get(rt.txn, e->refs, &k, &v);
	if (rc == 0)
		rc = ref_value(e, &v, refname, len, &cur, &state, peeled);
	else if (rc == MDB_NOTFOUND)
		rc = grove__error_set(GROVE_ENOTFOUND, "ref %s not found", refname);
	else
		rc = grove__lmdb_error(e, rc, "reading a ref");
	grove__lmdb_read_end(e, &rt);
	if (rc < 0)
		return rc;
	if (state == GROVE__LMDB_PEEL_UNKNOWN || !grove__oid_equal(&cur, id))
		return grove__error_set(GROVE_ENOTFOUND, "ref %s: peeled id not cached", refname);
	return state == GROVE__LMDB_PEEL_TAG;
}

static int lmdb_head_read(grove_backend *be, char **target)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	MDB_val k = { 4, "HEAD" }, v;
	char *s;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = mdb_get(rt.txn, e->meta, &k, &v);
	if (rc == 0)
		s = grove__strndup(v.mv_data, v.mv_size);
	else if (rc == MDB_NOTFOUND)
		s = grove__strdup(GROVE__LMDB_DEFAULT_HEAD);
	else
		s = NULL;
	grove__lmdb_read_end(e, &rt);
	if (rc && rc != MDB_NOTFOUND)
		return grove__lmdb_error(e, rc, "reading HEAD");
	if (!s)
		return GROVE_ENOMEM;
	*target = s;
	return 0;
}

static int lmdb_flush(grove_backend *be)
{
	grove__lmdb_env *e = H(be)->e;
	int err = atomic_exchange(&e->sync_error, 0);

	if (e->read_only)
		return 0;
	if (err)
		return grove__lmdb_error(e, err, "background sync");
	return grove__lmdb_sync(e);
}

/* Adds a stored record's bytes (damaged: raw_size) and delta-ness to st. */
static void count_record(grove_stats *st, const MDB_val *r, size_t raw_size)
{
	grove__lmdb_rec rec;
	if (grove__lmdb_rec_parse(r->mv_data, r->mv_size, &rec) == NULL) {
		st->object_bytes += rec.data_len;
		if (rec.encoding == GROVE__ENC_DELTA)
			st->deltas++;
	} else {
		st->object_bytes += raw_size;
	}
}

static int lmdb_stats(grove_backend *be, grove_stats *out)
{
	grove__lmdb_env *e = H(be)->e;
	grove__lmdb_rtxn rt;
	grove_stats st = { 0 };
	MDB_stat ms;
	MDB_cursor *cur;
	MDB_val k, v;
	char data_path[4096];
	struct stat fst;
	int rc;

	if ((rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	if ((rc = mdb_stat(rt.txn, e->refs, &ms)) == 0) {
		st.refs = ms.ms_entries;
		rc = mdb_cursor_open(rt.txn, e->objects, &cur);
	}
	if (rc) {
		grove__lmdb_read_end(e, &rt);
		return grove__lmdb_error(e, rc, "reading statistics");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		grove_oid id;
		MDB_val r;
		st.objects++;
		memset(&id, 0, sizeof(id));
		memcpy(id.id, k.mv_data, k.mv_size < GROVE_OID_RAWSZ ? k.mv_size : GROVE_OID_RAWSZ);
		if (grove__lmdb_resolve(e, rt.txn, rt.segcache, &id, &v, &r) < 0) {
			grove_error_clear(); /* stats count damaged records as they are */
			r = v;
		}
		count_record(&st, &r, v.mv_size);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		grove_oid *ids;
		size_t n;
		rc = grove__lmdb_journal_pending_ids(e, rt.txn, &ids, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			MDB_val r;
			if (grove__lmdb_journal_find(e, rt.txn, rt.segcache, &ids[i], &r) != 0) {
				grove_error_clear();
				continue;
			}
			st.objects++;
			count_record(&st, &r, r.mv_size);
		}
		if (rc == 0) {
			free(ids);
			rc = MDB_NOTFOUND;
		}
	}
	grove__lmdb_read_end(e, &rt);
	if (rc != MDB_NOTFOUND)
		return grove__lmdb_error(e, rc, "reading statistics");
	snprintf(data_path, sizeof(data_path), "%s/data.mdb", e->path);
	if (stat(data_path, &fst) == 0)
		st.disk_bytes = (uint64_t)fst.st_blocks * 512;
	*out = st;
	return 0;
}

static void lmdb_close(grove_backend *be)
{
	grove__lmdb *h = H(be);
	if (!h)
		return;
	grove__object_decode_forget(be);
	if (h->e->nosync && !h->read_only)
		grove__lmdb_sync(h->e);
	grove__lmdb_env_release(h->e);
	free(h);
}

static const grove__backend_ops lmdb_ops = {
	.name = "lmdb",
	.keeps_deltas = 1,
	.close = lmdb_close,
	.read = lmdb_read,
	.read_header = lmdb_read_header,
	.exists = lmdb_exists,
	.foreach_object = lmdb_foreach_object,
	.ref_read = lmdb_ref_read,
	.ref_foreach = lmdb_ref_foreach,
	.head_read = lmdb_head_read,
	.head_write = grove__lmdb_head_write,
	.write = grove__lmdb_write,
	.flush = lmdb_flush,
	.stats = lmdb_stats,
	.read_raw = lmdb_read_raw,
	.remove_unreachable = grove__lmdb_remove_unreachable,
	.ref_peeled = lmdb_ref_peeled,
	.aux_get = grove__lmdb_aux_get,
	.aux_put = grove__lmdb_aux_put,
};

int grove__backend_lmdb_open(grove_backend **out, const char *path, const grove_options *opts)
{
	grove_options defaults = GROVE_OPTIONS_INIT;
	grove__lmdb *h;
	int rc;

	if (!path || !*path)
		return grove__error_set(GROVE_EINVALID, "lmdb: empty path");
	if (!opts)
		opts = &defaults;
	h = grove__calloc(1, sizeof(*h));
	if (!h)
		return GROVE_ENOMEM;
	if ((rc = grove__lmdb_env_acquire(&h->e, path, opts)) < 0) {
		free(h);
		return rc;
	}
	h->base.ops = &lmdb_ops;
	h->read_only = opts->read_only || h->e->read_only;
	h->durable = opts->durability != GROVE_RELAXED;
	*out = &h->base;
	return 0;
}
