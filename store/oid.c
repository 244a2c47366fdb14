#include "oid.h"
#include "error.h"

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const grove_oid grove__oid_zero;

/*
 * OpenSSL's low-level SHA-1 (deprecated in 3.0 but kept) avoids the EVP
 * layer's per-call provider dispatch, which costs more than hashing a small
 * object, and needs no allocation.
 */
struct grove__hasher {
	SHA_CTX ctx;
};

int grove__hasher_new(grove__hasher **out)
{
	grove__hasher *h = grove__calloc(1, sizeof(*h));
	if (!h)
		return GROVE_ENOMEM;
	*out = h;
	return 0;
}

void grove__hasher_free(grove__hasher *h)
{
	free(h);
}

int grove__hasher_begin(grove__hasher *h)
{
	if (SHA1_Init(&h->ctx) != 1)
		return grove__error_set(GROVE_ERROR, "SHA-1 initialisation failed");
	return 0;
}

int grove__hasher_update(grove__hasher *h, const void *data, size_t len)
{
	if (len && SHA1_Update(&h->ctx, data, len) != 1)
		return grove__error_set(GROVE_ERROR, "SHA-1 update failed");
	return 0;
}

int grove__hasher_final(grove__hasher *h, grove_oid *out)
{
	if (SHA1_Final(out->id, &h->ctx) != 1)
		return grove__error_set(GROVE_ERROR, "SHA-1 finalisation failed");
	return 0;
}

size_t grove__object_header(char *buf, grove_otype type, size_t size)
{
	/* Hand-formatted: this runs for every object hashed. */
	const char *name = grove_otype_name(type);
	size_t n = strlen(name), k = 0;
	char digits[24];
	memcpy(buf, name, n);
	buf[n++] = ' ';
	do {
		digits[k++] = (char)('0' + size % 10);
		size /= 10;
	} while (size);
	while (k)
		buf[n++] = digits[--k];
	buf[n++] = '\0';
	return n;
}

int grove__object_hash(grove_otype type, const void *data, size_t size, grove_oid *out)
{
	char hdr[32];
	size_t hlen;
	grove__hasher h;
	int err;

	if (type < GROVE_OBJ_COMMIT || type > GROVE_OBJ_TAG)
		return grove__error_set(GROVE_EINVALID, "invalid object type %d", (int)type);
	hlen = grove__object_header(hdr, type, size);
	if ((err = grove__hasher_begin(&h)) < 0 ||
	    (err = grove__hasher_update(&h, hdr, hlen)) < 0 ||
	    (err = grove__hasher_update(&h, data, size)) < 0)
		return err;
	return grove__hasher_final(&h, out);
}

int grove_object_hash(grove_otype type, const void *data, size_t size, grove_oid *out)
{
	return grove__object_hash(type, data, size, out);
}

int grove__sha1(const void *data, size_t len, unsigned char out[20])
{
	grove__hasher h;
	grove_oid id;
	int err;
	if ((err = grove__hasher_begin(&h)) < 0 || (err = grove__hasher_update(&h, data, len)) < 0 ||
	    (err = grove__hasher_final(&h, &id)) < 0)
		return err;
	memcpy(out, id.id, 20);
	return 0;
}

/* Hex digit values, -1 for anything else: history walks parse many ids. */
static const signed char hex_table[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
	['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int grove_oid_fromhex(grove_oid *out, const char *hex)
{
	grove_oid tmp;
	if (!hex)
		return grove__error_set(GROVE_EINVALID, "object id is NULL");
	for (int i = 0; i < GROVE_OID_RAWSZ; i++) {
		/* Stored off by one so that 0 means "not a digit". */
		int hi = hex_table[(unsigned char)hex[2 * i]] - 1;
		int lo = hi < 0 ? -1 : hex_table[(unsigned char)hex[2 * i + 1]] - 1;
		if (hi < 0 || lo < 0)
			return grove__error_set(GROVE_EINVALID, "invalid object id '%.40s'", hex);
		tmp.id[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = tmp;
	return 0;
}

char *grove_oid_tohex(char out[GROVE_OID_HEXSZ + 1], const grove_oid *id)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < GROVE_OID_RAWSZ; i++) {
		out[2 * i] = digits[id->id[i] >> 4];
		out[2 * i + 1] = digits[id->id[i] & 15];
	}
	out[GROVE_OID_HEXSZ] = '\0';
	return out;
}

int grove_oid_cmp(const grove_oid *a, const grove_oid *b)
{
	return memcmp(a->id, b->id, GROVE_OID_RAWSZ);
}

int grove_oid_is_zero(const grove_oid *id)
{
	return memcmp(id->id, grove__oid_zero.id, GROVE_OID_RAWSZ) == 0;
}

const char *grove_otype_name(grove_otype type)
{
	switch (type) {
	case GROVE_OBJ_COMMIT: return "commit";
	case GROVE_OBJ_TREE: return "tree";
	case GROVE_OBJ_BLOB: return "blob";
	case GROVE_OBJ_TAG: return "tag";
	default: return "bad";
	}
}
