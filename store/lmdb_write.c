/*
 * The writing side of the LMDB backend: object and ref writes in one
 * transaction, HEAD, and the garbage sweep.
 */
#include "lmdb_internal.h"
#include "error.h"
#include "oid.h"

#include <string.h>

int grove__lmdb_write(grove_backend *be, const grove__write_set *ws);
int grove__lmdb_head_write(grove_backend *be, const char *target);
int grove__lmdb_remove_unreachable(grove_backend *be,
	int (*keep)(const grove_oid *id, void *payload), void *payload, size_t *removed);

static int check_object(const grove__object *o)
{
	char hex[GROVE_OID_HEXSZ + 1];

	if (o->type < GROVE_OBJ_COMMIT || o->type > GROVE_OBJ_TAG)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s has invalid type %d",
			grove_oid_tohex(hex, &o->id), (int)o->type);
	if (o->encoding > GROVE__ENC_DELTA)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s has invalid encoding %d",
			grove_oid_tohex(hex, &o->id), (int)o->encoding);
	if (o->data_len && !o->data)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s has no data",
			grove_oid_tohex(hex, &o->id));
	if (o->encoding == GROVE__ENC_PLAIN && o->data_len != o->size)
		return grove__error_set(GROVE_EINVALID, "lmdb: plain object %s: %zu bytes, size says %zu",
			grove_oid_tohex(hex, &o->id), o->data_len, o->size);
	if (o->encoding != GROVE__ENC_PLAIN && o->data_len < 2)
		return grove__error_set(GROVE_EINVALID, "lmdb: object %s: empty compressed record",
			grove_oid_tohex(hex, &o->id));
	return 0;
}

static int put_object(grove__lmdb_env *e, MDB_txn *txn, const grove__object *o)
{
	unsigned char hdr[GROVE__LMDB_HDR_MAX];
	size_t hlen = grove__lmdb_rec_header(hdr, o);
	MDB_val k = { GROVE_OID_RAWSZ, (void *)o->id.id };
	MDB_val v = { hlen + o->data_len, NULL };
	/* Reserve the value and fill it in place: no staging buffer. */
	int rc = mdb_put(txn, e->objects, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);

	if (rc == MDB_KEYEXIST)
		return 0;
	if (rc)
		return rc;
	memcpy(v.mv_data, hdr, hlen);
	if (o->data_len)
		memcpy((char *)v.mv_data + hlen, o->data, o->data_len);
	return 0;
}

static int apply_ref(grove__lmdb_env *e, MDB_txn *txn, const grove_ref_update *u)
{
	size_t len = strlen(u->refname);
	MDB_val k = { len, (void *)u->refname }, v;
	char want[GROVE_OID_HEXSZ + 1], have[GROVE_OID_HEXSZ + 1];
	int rc;

	if (u->check_old) {
		rc = mdb_get(txn, e->refs, &k, &v);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (grove_oid_is_zero(&u->old_id)) {
			if (rc == 0)
				return grove__error_set(GROVE_EHEADMOVED, "ref %s already exists", u->refname);
		} else if (rc == MDB_NOTFOUND) {
			return grove__error_set(GROVE_EHEADMOVED, "ref %s does not exist (expected %s)",
				u->refname, grove_oid_tohex(want, &u->old_id));
		} else if (v.mv_size != GROVE_OID_RAWSZ) {
			return grove__error_set(GROVE_ECORRUPT, "lmdb: ref %s in %s holds %zu bytes",
				u->refname, e->path, v.mv_size);
		} else if (memcmp(v.mv_data, u->old_id.id, GROVE_OID_RAWSZ) != 0) {
			grove_oid cur;
			memcpy(cur.id, v.mv_data, GROVE_OID_RAWSZ);
			return grove__error_set(GROVE_EHEADMOVED, "ref %s moved: expected %s, found %s",
				u->refname, grove_oid_tohex(want, &u->old_id), grove_oid_tohex(have, &cur));
		}
	}
	if (grove_oid_is_zero(&u->new_id)) {
		rc = mdb_del(txn, e->refs, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	v.mv_size = GROVE_OID_RAWSZ;
	v.mv_data = (void *)u->new_id.id;
	return mdb_put(txn, e->refs, &k, &v, 0);
}

static int write_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	const grove__write_set *ws = arg;
	int rc;

	for (size_t i = 0; i < ws->object_count; i++)
		if ((rc = put_object(e, txn, &ws->objects[i])))
			return rc;
	for (size_t i = 0; i < ws->ref_count; i++)
		if ((rc = apply_ref(e, txn, &ws->refs[i])))
			return rc;
	return 0;
}

int grove__lmdb_write(grove_backend *be, const grove__write_set *ws)
{
	grove__lmdb *h = (grove__lmdb *)be;
	size_t maxkey = (size_t)mdb_env_get_maxkeysize(h->e->env);
	int rc;

	if (ws->object_count == 0 && ws->ref_count == 0)
		return 0;
	for (size_t i = 0; i < ws->object_count; i++)
		if ((rc = check_object(&ws->objects[i])) < 0)
			return rc;
	for (size_t i = 0; i < ws->ref_count; i++) {
		const char *name = ws->refs[i].refname;
		if (!name || !*name || strlen(name) > maxkey)
			return grove__error_set(GROVE_EINVALID, "lmdb: invalid ref name %s",
				name ? name : "(null)");
	}
	return grove__lmdb_write_txn(h, write_fn, (void *)ws, "writing");
}

static int head_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	const char *target = arg;
	MDB_val k = { 4, "HEAD" }, v = { strlen(target), (void *)target };
	return mdb_put(txn, e->meta, &k, &v, 0);
}

int grove__lmdb_head_write(grove_backend *be, const char *target)
{
	grove__lmdb *h = (grove__lmdb *)be;

	if (!target || !*target || strlen(target) > 1024)
		return grove__error_set(GROVE_EINVALID, "lmdb: invalid HEAD target");
	return grove__lmdb_write_txn(h, head_fn, (void *)target, "writing HEAD");
}

typedef struct {
	int (*keep)(const grove_oid *id, void *payload);
	void *payload;
	size_t removed;
} sweep;

static int bump_gc_generation(grove__lmdb_env *e, MDB_txn *txn)
{
	MDB_val k = { 13, "gc_generation" }, v;
	unsigned char b[8];
	uint64_t gen = 0;
	int rc = mdb_get(txn, e->meta, &k, &v);

	if (rc == 0 && v.mv_size == 8)
		for (int i = 7; i >= 0; i--)
			gen = gen << 8 | ((const unsigned char *)v.mv_data)[i];
	else if (rc && rc != MDB_NOTFOUND)
		return rc;
	gen++;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(gen >> (8 * i));
	v.mv_size = 8;
	v.mv_data = b;
	return mdb_put(txn, e->meta, &k, &v, 0);
}

/* The whole sweep is one write txn: concurrent writers (in any process)
 * wait for it, so an object they reference cannot vanish under them. */
static int sweep_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	sweep *s = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	s->removed = 0; /* a retry after map growth starts over */
	if ((rc = mdb_cursor_open(txn, e->objects, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		grove_oid id;
		int keep;
		if (k.mv_size != GROVE_OID_RAWSZ) {
			rc = grove__error_set(GROVE_ECORRUPT, "lmdb: object key of %zu bytes in %s",
				k.mv_size, e->path);
			break;
		}
		memcpy(id.id, k.mv_data, GROVE_OID_RAWSZ);
		keep = s->keep(&id, s->payload);
		if (keep < 0) {
			rc = keep;
			break;
		}
		if (keep)
			continue;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		s->removed++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc ? rc : GROVE_ERROR;
	return bump_gc_generation(e, txn);
}

int grove__lmdb_remove_unreachable(grove_backend *be,
	int (*keep)(const grove_oid *id, void *payload), void *payload, size_t *removed)
{
	grove__lmdb *h = (grove__lmdb *)be;
	sweep s = { keep, payload, 0 };
	int rc = grove__lmdb_write_txn(h, sweep_fn, &s, "removing unreachable objects");

	if (rc == 0 && removed)
		*removed = s.removed;
	return rc;
}
