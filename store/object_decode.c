/* Turning a stored object record (plain, zlib or delta) into its content. */
#include "backend.h"
#include "cache_budget.h"
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "oid.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Longest delta chain we follow.  Decoding recurses through be->ops->read,
 * so a cycle or an absurd chain in a damaged store would otherwise blow
 * the stack. */
/* git caps pack.depth at 4095; each level costs stack frames in decode -> read. */
#define MAX_DELTA_DEPTH 4095

/* Chain depth of the decode in progress on this thread. */
static _Thread_local unsigned decode_depth;

/*
 * Delta bases recently resolved, as git's delta base cache: reading a chain
 * of N deltas one object at a time would otherwise cost O(N^2) delta
 * applications.  Keyed by backend and object id; the content of an id never
 * changes, so an entry can only be missing, never wrong.  Direct-mapped,
 * bounded by BASE_CACHE_BUDGET bytes.
 */
#define BASE_CACHE_SLOTS 4096
#define BASE_CACHE_STRIPES 16
#define BASE_CACHE_BUDGET ((size_t)16 << 20)
#define BASE_CACHE_MAX_ENTRY ((size_t)4 << 20)

typedef struct {
	const grove_backend *be;
	grove_oid id;
	grove_otype type;
	size_t size;
	unsigned char data[];
} base_entry;

static base_entry *base_slots[BASE_CACHE_SLOTS];
static pthread_mutex_t base_locks[BASE_CACHE_STRIPES] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
};
static size_t base_bytes; /* atomic */
static size_t base_budget = BASE_CACHE_BUDGET; /* atomic */

static size_t base_slot(const grove_oid *id)
{
	uint32_t h;
	memcpy(&h, id->id + 12, sizeof(h));
	return h % BASE_CACHE_SLOTS;
}

static int base_cache_get(const grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	size_t s = base_slot(id);
	base_entry *e;
	int hit = 0;
	pthread_mutex_lock(&base_locks[s % BASE_CACHE_STRIPES]);
	e = base_slots[s];
	if (e && e->be == be && grove__oid_equal(&e->id, id)) {
		unsigned char *copy = malloc(e->size + 1);
		if (copy) {
			memcpy(copy, e->data, e->size);
			copy[e->size] = '\0';
			out->data = copy;
			out->size = e->size;
			*type = e->type;
			hit = 1;
		}
	}
	pthread_mutex_unlock(&base_locks[s % BASE_CACHE_STRIPES]);
	return hit;
}

static void base_cache_put(const grove_backend *be, const grove_oid *id, grove_otype type,
	const void *data, size_t size)
{
	size_t s = base_slot(id);
	base_entry *e, *old;
	if (size > BASE_CACHE_MAX_ENTRY)
		return;
	e = malloc(sizeof(*e) + size);
	if (!e)
		return; /* a cache may decline */
	e->be = be;
	e->id = *id;
	e->type = type;
	e->size = size;
	memcpy(e->data, data, size);
	pthread_mutex_lock(&base_locks[s % BASE_CACHE_STRIPES]);
	old = base_slots[s];
	if (!old && __atomic_load_n(&base_bytes, __ATOMIC_RELAXED) + size >
			    __atomic_load_n(&base_budget, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&base_locks[s % BASE_CACHE_STRIPES]);
		free(e);
		return;
	}
	base_slots[s] = e;
	__atomic_add_fetch(&base_bytes, size, __ATOMIC_RELAXED);
	if (old)
		__atomic_sub_fetch(&base_bytes, old->size, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&base_locks[s % BASE_CACHE_STRIPES]);
	free(old);
}

/* Drops every entry of a backend being closed, so a later backend at the
 * same address cannot see them. */
void grove__object_decode_forget(const grove_backend *be)
{
	for (size_t s = 0; s < BASE_CACHE_SLOTS; s++) {
		base_entry *e;
		pthread_mutex_lock(&base_locks[s % BASE_CACHE_STRIPES]);
		e = base_slots[s];
		if (e && e->be == be) {
			base_slots[s] = NULL;
			__atomic_sub_fetch(&base_bytes, e->size, __ATOMIC_RELAXED);
		} else {
			e = NULL;
		}
		pthread_mutex_unlock(&base_locks[s % BASE_CACHE_STRIPES]);
		free(e);
	}
}

void grove__delta_base_cache_set_budget(size_t bytes)
{
	__atomic_store_n(&base_budget, bytes, __ATOMIC_RELAXED);
	if (__atomic_load_n(&base_bytes, __ATOMIC_RELAXED) <= bytes)
		return;
	for (size_t s = 0; s < BASE_CACHE_SLOTS; s++) {
		pthread_mutex_lock(&base_locks[s % BASE_CACHE_STRIPES]);
		base_entry *e = base_slots[s];
		base_slots[s] = NULL;
		if (e)
			__atomic_sub_fetch(&base_bytes, e->size, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&base_locks[s % BASE_CACHE_STRIPES]);
		free(e);
	}
}

size_t grove__delta_base_cache_budget(void)
{
	return __atomic_load_n(&base_budget, __ATOMIC_RELAXED);
}

/*
 * Inflates a zlib stream whose inflated length is not recorded (a stored
 * delta).  The buffer grows as needed; once the delta header is visible
 * the output is bounded by what a delta of that result size can sensibly
 * need (each result byte costs at most 8 opcode bytes), and by the
 * delta-bomb limit.
 */
int grove__delta_inflate(const void *src, size_t len, grove_buf *out)
{
	z_stream zs = { 0 };
	unsigned char *dst = NULL, *tmp;
	size_t cap = len * 4 + 64, bound = SIZE_MAX;
	int zr, rc;

	if (len > UINT_MAX)
		return grove__error_set(GROVE_EUNSUPPORTED, "stored delta too large (%zu bytes)", len);
	if (inflateInit(&zs) != Z_OK)
		return grove__error_oom();
	zs.next_in = (unsigned char *)src;
	zs.avail_in = (unsigned)len;
	for (;;) {
		size_t have = zs.total_out;
		if (!dst || have == cap) {
			size_t want = dst ? cap * 2 : cap;
			if (bound != SIZE_MAX && want > bound + 1)
				want = bound + 1;
			if (want > (size_t)UINT_MAX)
				want = UINT_MAX;
			if (want <= have) {
				rc = grove__error_set(GROVE_ECORRUPT, "stored delta inflates too long");
				goto fail;
			}
			tmp = grove__realloc(dst, want + 1);
			if (!tmp) {
				rc = GROVE_ENOMEM;
				goto fail;
			}
			dst = tmp;
			cap = want;
		}
		zs.next_out = dst + have;
		zs.avail_out = (unsigned)(cap - have);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (bound == SIZE_MAX && zs.total_out > 0) {
			size_t bsize, rsize;
			const unsigned char *p = dst;
			/* The header is complete once a byte without the
			 * continuation bit has ended the second varint. */
			unsigned ends = 0;
			for (size_t i = 0; i < zs.total_out && ends < 2; i++)
				if (!(p[i] & 0x80))
					ends++;
			if (ends == 2) {
				if ((rc = grove__delta_header(dst, zs.total_out, &bsize, &rsize)) < 0)
					goto fail;
				if (rsize > GROVE__DELTA_MAX_RESULT) {
					rc = grove__error_set(GROVE_ECORRUPT,
						"delta declares a result of %zu bytes, over the limit", rsize);
					goto fail;
				}
				bound = rsize * 8 + 64;
			}
		}
		if (zs.total_out > bound) {
			rc = grove__error_set(GROVE_ECORRUPT, "stored delta inflates too long");
			goto fail;
		}
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK && zs.avail_out == 0)
			continue;
		if (zr == Z_OK || zr == Z_BUF_ERROR) {
			if (zs.avail_in == 0) {
				rc = grove__error_set(GROVE_ECORRUPT, "stored delta truncated");
				goto fail;
			}
			continue;
		}
		rc = grove__error_set(GROVE_ECORRUPT, "stored delta is damaged (%s)",
			zs.msg ? zs.msg : "zlib error");
		goto fail;
	}
	if (zs.avail_in != 0) {
		rc = grove__error_set(GROVE_ECORRUPT, "trailing bytes after stored delta");
		goto fail;
	}
	out->size = zs.total_out;
	dst[out->size] = '\0';
	out->data = dst;
	inflateEnd(&zs);
	return 0;
fail:
	inflateEnd(&zs);
	free(dst);
	return rc;
}

static int decode_delta(grove_backend *be, const grove__object *rec, grove_buf *out)
{
	grove_buf delta = { 0 }, base = { 0 };
	grove_otype base_type = GROVE_OBJ_BAD;
	char hex[GROVE_OID_HEXSZ + 1], hex2[GROVE_OID_HEXSZ + 1];
	int rc;

	if (decode_depth >= MAX_DELTA_DEPTH)
		return grove__error_set(GROVE_ECORRUPT, "delta chain deeper than %d at %s",
			MAX_DELTA_DEPTH, grove_oid_tohex(hex, &rec->id));
	if (grove__oid_equal(&rec->base, &rec->id))
		return grove__error_set(GROVE_ECORRUPT, "object %s is a delta against itself",
			grove_oid_tohex(hex, &rec->id));
	if ((rc = grove__delta_inflate(rec->data, rec->data_len, &delta)) < 0)
		goto done;
	if (!base_cache_get(be, &rec->base, &base_type, &base)) {
		decode_depth++;
		rc = be->ops->read(be, &rec->base, &base_type, &base);
		decode_depth--;
		if (rc == 0)
			base_cache_put(be, &rec->base, base_type, base.data, base.size);
	}
	if (rc < 0) {
		if (rc == GROVE_ENOTFOUND)
			rc = GROVE_ECORRUPT;
		/* Only the outermost level adds context, so a long chain does
		 * not bury the real cause under thousands of prefixes. */
		if (decode_depth == 0)
			grove__error_wrap(rc, "delta base %s of %s", grove_oid_tohex(hex, &rec->base),
				grove_oid_tohex(hex2, &rec->id));
		goto done;
	}
	if (base_type != rec->type) {
		rc = grove__error_set(GROVE_ECORRUPT, "delta %s has type %s but its base is a %s",
			grove_oid_tohex(hex, &rec->id), grove_otype_name(rec->type),
			grove_otype_name(base_type));
		goto done;
	}
	if ((rc = grove__delta_apply(base.data, base.size, delta.data, delta.size, out)) < 0) {
		grove__error_wrap(rc, "applying delta %s", grove_oid_tohex(hex, &rec->id));
		goto done;
	}
	if (out->size != rec->size) {
		grove_buf_dispose(out);
		rc = grove__error_set(GROVE_ECORRUPT, "delta %s yields %zu bytes, record says %zu",
			grove_oid_tohex(hex, &rec->id), out->size, rec->size);
	}
done:
	grove_buf_dispose(&delta);
	grove_buf_dispose(&base);
	return rc;
}

int grove__object_decode(grove_backend *be, const grove__object *rec, grove_buf *out)
{
	char *copy;

	out->data = NULL;
	out->size = 0;
	switch (rec->encoding) {
	case GROVE__ENC_PLAIN:
		if (rec->data_len != rec->size)
			return grove__error_set(GROVE_ECORRUPT, "plain record of %zu bytes says %zu",
				rec->data_len, rec->size);
		copy = grove__malloc(rec->size + 1);
		if (!copy)
			return GROVE_ENOMEM;
		if (rec->size)
			memcpy(copy, rec->data, rec->size);
		copy[rec->size] = '\0';
		out->data = copy;
		out->size = rec->size;
		return 0;
	case GROVE__ENC_ZLIB:
		return grove__zlib_inflate(rec->data, rec->data_len, rec->size, out);
	case GROVE__ENC_DELTA:
		return decode_delta(be, rec, out);
	}
	return grove__error_set(GROVE_ECORRUPT, "unknown record encoding %d", (int)rec->encoding);
}
