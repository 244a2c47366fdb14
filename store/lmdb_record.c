/* The LMDB backend's stored object record: a compact header and the bytes. */
#include "lmdb_internal.h"

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
		memcpy(buf + n, obj->base.id, GROVE_OID_RAWSZ);
		n += GROVE_OID_RAWSZ;
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
	if (enc == GROVE__ENC_DELTA) {
		if ((size_t)(end - p) < GROVE_OID_RAWSZ)
			return "truncated base id";
		out->base = p;
		p += GROVE_OID_RAWSZ;
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
	return NULL;
}
