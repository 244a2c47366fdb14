/*
 * The LMDB backend's stored object record (a compact header and the
 * bytes), segment pointers, and the lookup that follows them.
 */
#include "lmdb_internal.h"
#include "error.h"
#include "oid.h"

#include <stdint.h>
#include <string.h>

size_t grove__lmdb_rec_header(unsigned char *buf, const grove__object *obj)
{
	size_t n = 0;
	uint64_t size = obj->size;

	buf[n++] = (unsigned char)(((unsigned)obj->encoding << 4) | (unsigned)obj->type);
	do {
		unsigned char b = size & 0x7f;
		size >>= 7;
		buf[n++] = b | (size ? 0x80 : 0);
	} while (size);
	if (obj->encoding == GROVE__ENC_DELTA) {
		uint64_t dsize = obj->data_size;
		memcpy(buf + n, obj->base.id, GROVE_OID_RAWSZ);
		n += GROVE_OID_RAWSZ;
		do {
			unsigned char b = dsize & 0x7f;
			dsize >>= 7;
			buf[n++] = b | (dsize ? 0x80 : 0);
		} while (dsize);
	}
	return n;
}

const char *grove__lmdb_rec_parse(const void *val, size_t len, grove__lmdb_rec *out)
{
	const unsigned char *p = val, *end = p + len;
	unsigned enc, type, shift = 0;
	uint64_t size = 0;

	if (len < 2)
		return "record too short";
	enc = p[0] >> 4;
	type = p[0] & 0x0f;
	if (enc > GROVE__ENC_DELTA)
		return "unknown encoding";
	if (type < GROVE_OBJ_COMMIT || type > GROVE_OBJ_TAG)
		return "unknown object type";
	p++;
	for (;;) {
		if (p == end)
			return "truncated size";
		if (shift > 63 || (shift == 63 && (*p & 0x7e)))
			return "size overflows";
		size |= (uint64_t)(*p & 0x7f) << shift;
		shift += 7;
		if (!(*p++ & 0x80))
			break;
	}
	if (size > SIZE_MAX / 2)
		return "size out of range";
	out->base = NULL;
	out->data_size = 0;
	if (enc == GROVE__ENC_DELTA) {
		uint64_t dsize = 0;
		if ((size_t)(end - p) < GROVE_OID_RAWSZ)
			return "truncated base id";
		out->base = p;
		p += GROVE_OID_RAWSZ;
		for (shift = 0;;) {
			if (p == end)
				return "truncated delta length";
			if (shift > 63 || (shift == 63 && (*p & 0x7e)))
				return "delta length overflows";
			dsize |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
			if (!(*p++ & 0x80))
				break;
		}
		if (dsize == 0 || dsize > SIZE_MAX / 2)
			return "delta length out of range";
		out->data_size = (size_t)dsize;
	}
	out->encoding = (grove__encoding)enc;
	out->type = (grove_otype)type;
	out->size = (size_t)size;
	out->data = p;
	out->data_len = (size_t)(end - p);
	if (enc == GROVE__ENC_PLAIN && out->data_len != out->size)
		return "plain record length differs from object size";
	/* zlib cannot expand by more than about 1032:1; a larger claim is damage
	 * and must not make us allocate gigabytes. */
	if (enc == GROVE__ENC_ZLIB && (out->data_len < 2 || out->size / 1100 > out->data_len))
		return "compressed record length implausible for object size";
	if (enc == GROVE__ENC_DELTA && (out->data_len < 2 || out->data_size / 1100 > out->data_len))
		return "delta record length implausible for its inflated length";
	if (enc == GROVE__ENC_ZLIB)
		out->data_size = out->size;
	return NULL;
}

size_t grove__lmdb_put_varint(unsigned char *buf, uint64_t v)
{
	size_t n = 0;
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		buf[n++] = b | (v ? 0x80 : 0);
	} while (v);
	return n;
}

const char *grove__lmdb_get_varint(const unsigned char **p, const unsigned char *end,
	uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		if (*p == end)
			return "truncated number";
		if (shift > 63 || (shift == 63 && (**p & 0x7e)))
			return "number overflows";
		v |= (uint64_t)(**p & 0x7f) << shift;
		shift += 7;
		if (!(*(*p)++ & 0x80))
			break;
	}
	*out = v;
	return NULL;
}

size_t grove__lmdb_ptr_encode(unsigned char *buf, const grove__lmdb_ptr *p)
{
	size_t n = 0;
	buf[n++] = GROVE__LMDB_PTR_TAG;
	n += grove__lmdb_put_varint(buf + n, p->seg);
	n += grove__lmdb_put_varint(buf + n, p->off);
	n += grove__lmdb_put_varint(buf + n, p->len);
	return n;
}

const char *grove__lmdb_ptr_parse(const void *val, size_t len, grove__lmdb_ptr *out)
{
	const unsigned char *p = val, *end = p + len;
	const char *why;

	if (len < 4 || *p++ != GROVE__LMDB_PTR_TAG)
		return "segment pointer too short";
	if ((why = grove__lmdb_get_varint(&p, end, &out->seg)) || (why = grove__lmdb_get_varint(&p, end, &out->off)) ||
		(why = grove__lmdb_get_varint(&p, end, &out->len)))
		return why;
	if (p != end)
		return "trailing bytes after segment pointer";
	if (out->seg == 0 || out->len < 2)
		return "invalid segment pointer";
	return NULL;
}

void grove__lmdb_seg_key(unsigned char key[GROVE__LMDB_SEGKEY], uint64_t seg)
{
	for (int i = GROVE__LMDB_SEGKEY - 1; i >= 0; i--, seg >>= 8)
		key[i] = (unsigned char)seg;
}

uint64_t grove__lmdb_seg_id(const unsigned char key[GROVE__LMDB_SEGKEY])
{
	uint64_t v = 0;
	for (int i = 0; i < GROVE__LMDB_SEGKEY; i++)
		v = v << 8 | key[i];
	return v;
}

static int corrupt(const grove__lmdb_env *e, const grove_oid *id, const char *why)
{
	char hex[GROVE_OID_HEXSZ + 1];
	return grove__error_set(GROVE_ECORRUPT, "lmdb: object %s in %s: damaged record: %s",
		grove_oid_tohex(hex, id), e->path, why);
}

int grove__lmdb_resolve(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache,
	const grove_oid *id, const MDB_val *val, MDB_val *out)
{
	grove__lmdb_segref *ref = NULL;
	unsigned char key[GROVE__LMDB_SEGKEY];
	grove__lmdb_ptr ptr;
	MDB_val k = { sizeof(key), key }, seg;
	const char *why;
	int rc;

	if (!grove__lmdb_is_ptr(val->mv_data, val->mv_size)) {
		*out = *val;
		return 0;
	}
	if ((why = grove__lmdb_ptr_parse(val->mv_data, val->mv_size, &ptr)))
		return corrupt(e, id, why);
	if (cache) {
		ref = &cache[ptr.seg % GROVE__LMDB_SEGCACHE];
		if (ref->seg == ptr.seg) {
			seg.mv_data = (void *)ref->data;
			seg.mv_size = ref->size;
			goto found;
		}
	}
	grove__lmdb_seg_key(key, ptr.seg);
	rc = mdb_get(txn, e->segments, &k, &seg);
	if (rc == MDB_NOTFOUND) {
		char hex[GROVE_OID_HEXSZ + 1];
		return grove__error_set(GROVE_ECORRUPT,
			"lmdb: object %s in %s: damaged record: segment %llu is missing",
			grove_oid_tohex(hex, id), e->path, (unsigned long long)ptr.seg);
	}
	if (rc)
		return grove__lmdb_error(e, rc, "reading a segment");
	if (ref) {
		ref->seg = ptr.seg;
		ref->data = seg.mv_data;
		ref->size = seg.mv_size;
	}
found:
	if (ptr.off > seg.mv_size || ptr.len > seg.mv_size - ptr.off)
		return corrupt(e, id, "segment pointer beyond the segment");
	out->mv_data = (char *)seg.mv_data + ptr.off;
	out->mv_size = (size_t)ptr.len;
	return 0;
}

int grove__lmdb_get_record(grove__lmdb_env *e, MDB_txn *txn, grove__lmdb_segref *cache,
	const grove_oid *id, grove__lmdb_rec *rec, MDB_val *raw)
{
	MDB_val k = { GROVE_OID_RAWSZ, (void *)id->id }, v, r;
	const char *why;
	int rc = mdb_get(txn, e->objects, &k, &v);

	if (rc == MDB_NOTFOUND) {
		rc = grove__lmdb_journal_find(e, txn, cache, id, &r);
		if (rc == 1) {
			char hex[GROVE_OID_HEXSZ + 1];
			return grove__error_set(GROVE_ENOTFOUND, "object %s not found",
				grove_oid_tohex(hex, id));
		}
		if (rc)
			return grove__lmdb_error(e, rc, "reading the journal");
		if (raw)
			*raw = r;
	} else if (rc) {
		return grove__lmdb_error(e, rc, "reading an object");
	} else {
		if (raw)
			*raw = v;
		if ((rc = grove__lmdb_resolve(e, txn, cache, id, &v, &r)) < 0)
			return rc;
	}
	if ((why = grove__lmdb_rec_parse(r.mv_data, r.mv_size, rec)))
		return corrupt(e, id, why);
	return 0;
}
