/* git delta application, creation and record decoding. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "compress.h"
#include "delta.h"
#include "error.h"
#include "oid.h"

static const char BASE[] = "hello, world! this is the base text of the delta tests.";

/* Applies d (len n) to BASE and returns the rc; out filled on success. */
static int apply(const unsigned char *d, size_t n, grove_buf *out)
{
	return grove__delta_apply(BASE, strlen(BASE), d, n, out);
}

Test(delta, header_reads_both_sizes)
{
	const unsigned char d[] = { 0x80 | 0x10, 0x01, 0x05 };
	size_t b, r;
	cr_assert_eq(grove__delta_header(d, sizeof(d), &b, &r), 0);
	cr_assert_eq(b, 0x90);
	cr_assert_eq(r, 5);
}

Test(delta, header_truncated)
{
	const unsigned char d[] = { 0x80 | 0x10, 0x81 };
	size_t b, r;
	cr_assert_eq(grove__delta_header(d, sizeof(d), &b, &r), GROVE_ECORRUPT);
	cr_assert_eq(grove__delta_header(d, 0, &b, &r), GROVE_ECORRUPT);
}

Test(delta, header_overflow)
{
	unsigned char d[12];
	size_t b, r;
	memset(d, 0xff, sizeof(d));
	d[11] = 0x01;
	cr_assert_eq(grove__delta_header(d, sizeof(d), &b, &r), GROVE_ECORRUPT);
}

Test(delta, copy_and_insert)
{
	size_t bl = strlen(BASE);
	/* copy "hello" (off 0, len 5), insert " there", copy "world" (off 7 len 5) */
	unsigned char d[] = { (unsigned char)bl, 16, 0x90, 5, 6, ' ', 't', 'h', 'e', 'r', 'e',
		0x91, 7, 5 };
	grove_buf out = { 0 };
	cr_assert_eq(apply(d, sizeof(d), &out), 0, "%s", grove_error_message());
	cr_assert_eq(out.size, 16);
	cr_assert(memcmp(out.data, "hello thereworld", 16) == 0);
	cr_assert_eq(((char *)out.data)[16], '\0');
	grove_buf_dispose(&out);
}

Test(delta, copy_size_zero_means_64k)
{
	size_t n = 0x10000 + 10;
	char *base = calloc(1, n);
	unsigned char d[] = { 0x8a, 0x80, 0x04, 0x80, 0x80, 0x04, 0x80 };
	grove_buf out = { 0 };
	/* base 65546 = 0x1000a, result 65536 */
	cr_assert_not_null(base);
	base[5] = 'x';
	cr_assert_eq(grove__delta_apply(base, n, d, sizeof(d), &out), 0, "%s", grove_error_message());
	cr_assert_eq(out.size, 0x10000);
	cr_assert_eq(((char *)out.data)[5], 'x');
	grove_buf_dispose(&out);
	free(base);
}

Test(delta, empty_result)
{
	unsigned char d[] = { (unsigned char)strlen(BASE), 0 };
	grove_buf out = { 0 };
	cr_assert_eq(apply(d, sizeof(d), &out), 0);
	cr_assert_eq(out.size, 0);
	grove_buf_dispose(&out);
}

Test(delta, base_size_mismatch)
{
	unsigned char d[] = { (unsigned char)strlen(BASE) + 1, 5, 0x90, 5 };
	grove_buf out = { 0 };
	cr_assert_eq(apply(d, sizeof(d), &out), GROVE_ECORRUPT);
	cr_assert_null(out.data);
}

Test(delta, copy_beyond_base)
{
	size_t bl = strlen(BASE);
	unsigned char d1[] = { (unsigned char)bl, 5, 0x91, (unsigned char)(bl - 2), 5 };
	unsigned char d2[] = { (unsigned char)bl, 5, 0x9f, 0xff, 0xff, 0xff, 0xff, 5 };
	grove_buf out = { 0 };
	cr_assert_eq(apply(d1, sizeof(d1), &out), GROVE_ECORRUPT);
	cr_assert_eq(apply(d2, sizeof(d2), &out), GROVE_ECORRUPT);
	cr_assert_null(out.data);
}

Test(delta, truncated_opcodes)
{
	size_t bl = strlen(BASE);
	unsigned char copy_cut[] = { (unsigned char)bl, 5, 0x91, 0 };   /* size byte missing */
	unsigned char insert_cut[] = { (unsigned char)bl, 5, 5, 'a', 'b' }; /* 3 bytes short */
	grove_buf out = { 0 };
	cr_assert_eq(apply(copy_cut, sizeof(copy_cut), &out), GROVE_ECORRUPT);
	cr_assert_eq(apply(insert_cut, sizeof(insert_cut), &out), GROVE_ECORRUPT);
}

Test(delta, opcode_zero)
{
	unsigned char d[] = { (unsigned char)strlen(BASE), 1, 0, 1, 'a' };
	grove_buf out = { 0 };
	cr_assert_eq(apply(d, sizeof(d), &out), GROVE_ECORRUPT);
	cr_assert(strstr(grove_error_message(), "opcode 0"));
}

Test(delta, result_too_short_or_long)
{
	size_t bl = strlen(BASE);
	unsigned char shortd[] = { (unsigned char)bl, 6, 0x90, 5 };
	unsigned char longd[] = { (unsigned char)bl, 4, 0x90, 5 };
	unsigned char longi[] = { (unsigned char)bl, 1, 2, 'a', 'b' };
	grove_buf out = { 0 };
	cr_assert_eq(apply(shortd, sizeof(shortd), &out), GROVE_ECORRUPT);
	cr_assert_eq(apply(longd, sizeof(longd), &out), GROVE_ECORRUPT);
	cr_assert_eq(apply(longi, sizeof(longi), &out), GROVE_ECORRUPT);
}

Test(delta, bomb_refused_before_allocation)
{
	/* declares a 2^40-byte result */
	unsigned char d[] = { (unsigned char)strlen(BASE), 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
		0x90, 5 };
	grove_buf out = { 0 };
	cr_assert_eq(apply(d, sizeof(d), &out), GROVE_ECORRUPT);
	cr_assert(strstr(grove_error_message(), "limit"));
	/* an explicit smaller limit */
	unsigned char ok[] = { (unsigned char)strlen(BASE), 5, 0x90, 5 };
	cr_assert_eq(grove__delta_apply_limit(BASE, strlen(BASE), ok, sizeof(ok), 4, &out),
		GROVE_ECORRUPT);
	cr_assert_eq(grove__delta_apply_limit(BASE, strlen(BASE), ok, sizeof(ok), 5, &out), 0);
	grove_buf_dispose(&out);
}

/* Every prefix of a valid delta is rejected or, if it happens to be
 * self-consistent, decodes; never a crash (ASan checks over-reads). */
Test(delta, every_truncation_is_safe)
{
	size_t bl = strlen(BASE);
	unsigned char d[] = { (unsigned char)bl, 16, 0x90, 5, 6, ' ', 't', 'h', 'e', 'r', 'e',
		0x91, 7, 5 };
	for (size_t n = 0; n < sizeof(d); n++) {
		unsigned char *cut = malloc(n ? n : 1);
		grove_buf out = { 0 };
		memcpy(cut, d, n);
		cr_assert_eq(grove__delta_apply(BASE, bl, cut, n, &out), GROVE_ECORRUPT, "n=%zu", n);
		free(cut);
	}
}

/* --- grove__object_decode with a tiny array backend ---------------- */

typedef struct {
	grove_backend be;
	grove__object recs[8];
	size_t n;
} fake_backend;

static int fake_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	fake_backend *f = (fake_backend *)be;
	for (size_t i = 0; i < f->n; i++) {
		if (grove__oid_equal(&f->recs[i].id, id)) {
			*type = f->recs[i].type;
			return grove__object_decode(be, &f->recs[i], out);
		}
	}
	return grove__error_set(GROVE_ENOTFOUND, "no such object");
}

static const grove__backend_ops fake_ops = { .name = "fake", .read = fake_read };

static void fake_init(fake_backend *f)
{
	memset(f, 0, sizeof(*f));
	f->be.ops = &fake_ops;
}

static grove__object *fake_add(fake_backend *f, grove_otype type, grove__encoding enc,
	const void *data, size_t len, size_t size, const char *idhex)
{
	grove__object *r = &f->recs[f->n++];
	r->type = type;
	r->encoding = enc;
	r->data = data;
	r->data_len = len;
	r->size = size;
	cr_assert_eq(grove_oid_fromhex(&r->id, idhex), 0);
	return r;
}

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccc"

Test(object_decode, plain_zlib_and_delta_chain)
{
	fake_backend f;
	grove_buf z = { 0 }, zd1 = { 0 }, zd2 = { 0 }, out = { 0 };
	size_t bl = strlen(BASE);
	unsigned char d1[] = { (unsigned char)bl, 16, 0x90, 5, 6, ' ', 't', 'h', 'e', 'r', 'e',
		0x91, 7, 5 };
	unsigned char d2[] = { 16, 5, 0x91, 6, 5 }; /* "there" */

	fake_init(&f);
	cr_assert_eq(grove__zlib_compress(BASE, bl, 6, &z), 0);
	cr_assert_eq(grove__zlib_compress(d1, sizeof(d1), 6, &zd1), 0);
	cr_assert_eq(grove__zlib_compress(d2, sizeof(d2), 6, &zd2), 0);
	fake_add(&f, GROVE_OBJ_BLOB, GROVE__ENC_ZLIB, z.data, z.size, bl, ID_A);
	grove__object *b = fake_add(&f, GROVE_OBJ_BLOB, GROVE__ENC_DELTA, zd1.data, zd1.size, 16, ID_B);
	grove_oid_fromhex(&b->base, ID_A);
	grove__object *c = fake_add(&f, GROVE_OBJ_BLOB, GROVE__ENC_DELTA, zd2.data, zd2.size, 5, ID_C);
	grove_oid_fromhex(&c->base, ID_B);

	cr_assert_eq(grove__object_decode(&f.be, &f.recs[0], &out), 0);
	cr_assert_eq(out.size, bl);
	cr_assert(memcmp(out.data, BASE, bl) == 0);
	grove_buf_dispose(&out);

	cr_assert_eq(grove__object_decode(&f.be, c, &out), 0, "%s", grove_error_message());
	cr_assert_eq(out.size, 5);
	cr_assert(memcmp(out.data, "there", 5) == 0);
	grove_buf_dispose(&out);

	/* wrong recorded size */
	c->size = 6;
	cr_assert_eq(grove__object_decode(&f.be, c, &out), GROVE_ECORRUPT);
	cr_assert_null(out.data);
	c->size = 5;

	/* missing base */
	grove_oid_fromhex(&c->base, "dddddddddddddddddddddddddddddddddddddddd");
	cr_assert_eq(grove__object_decode(&f.be, c, &out), GROVE_ECORRUPT);

	/* cycle: B against C, C against B -> depth limit, no stack overflow.
	 * Rewriting B under the same id cannot happen in a real store, so the
	 * delta base cache (which relies on that) is told to forget it. */
	grove_oid_fromhex(&c->base, ID_B);
	grove_oid_fromhex(&b->base, ID_C);
	grove__object_decode_forget(&f.be);
	cr_assert_eq(grove__object_decode(&f.be, c, &out), GROVE_ECORRUPT);
	cr_assert(strstr(grove_error_message(), "deeper"), "%s", grove_error_message());

	/* corrupt zlib */
	((unsigned char *)zd2.data)[zd2.size / 2] ^= 0xff;
	grove_oid_fromhex(&b->base, ID_A);
	cr_assert_eq(grove__object_decode(&f.be, c, &out), GROVE_ECORRUPT);

	grove_buf_dispose(&z);
	grove_buf_dispose(&zd1);
	grove_buf_dispose(&zd2);
}

Test(object_decode, plain_and_bad_zlib)
{
	fake_backend f;
	grove_buf out = { 0 };
	fake_init(&f);
	grove__object *r = fake_add(&f, GROVE_OBJ_BLOB, GROVE__ENC_PLAIN, "abc", 3, 3, ID_A);
	cr_assert_eq(grove__object_decode(&f.be, r, &out), 0);
	cr_assert_eq(out.size, 3);
	grove_buf_dispose(&out);
	r->size = 4;
	cr_assert_eq(grove__object_decode(&f.be, r, &out), GROVE_ECORRUPT);
	r->encoding = GROVE__ENC_ZLIB;
	cr_assert_eq(grove__object_decode(&f.be, r, &out), GROVE_ECORRUPT);
}

Test(object_decode, delta_type_mismatch)
{
	fake_backend f;
	grove_buf zd = { 0 }, out = { 0 };
	unsigned char d[] = { 3, 3, 0x90, 3 };
	fake_init(&f);
	fake_add(&f, GROVE_OBJ_TREE, GROVE__ENC_PLAIN, "abc", 3, 3, ID_A);
	cr_assert_eq(grove__zlib_compress(d, sizeof(d), 6, &zd), 0);
	grove__object *r = fake_add(&f, GROVE_OBJ_BLOB, GROVE__ENC_DELTA, zd.data, zd.size, 3, ID_B);
	grove_oid_fromhex(&r->base, ID_A);
	cr_assert_eq(grove__object_decode(&f.be, r, &out), GROVE_ECORRUPT);
	r->type = GROVE_OBJ_TREE;
	cr_assert_eq(grove__object_decode(&f.be, r, &out), 0, "%s", grove_error_message());
	grove_buf_dispose(&out);
	grove_buf_dispose(&zd);
}

/* --- delta creation --------------------------------------------------- */

static unsigned char *pseudo_random(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
	return p;
}

static void roundtrip(const unsigned char *base, size_t bl, const unsigned char *target,
	size_t tl, size_t max)
{
	grove_buf d = { 0 }, back = { 0 };
	cr_assert_eq(grove__delta_create(base, bl, target, tl, max, &d), 0, "%s", grove_error_message());
	cr_assert_leq(d.size, max);
	cr_assert_eq(grove__delta_apply(base, bl, d.data, d.size, &back), 0, "%s",
		grove_error_message());
	cr_assert_eq(back.size, tl);
	cr_assert(memcmp(back.data, target, tl) == 0);
	grove_buf_dispose(&d);
	grove_buf_dispose(&back);
}

Test(delta_create, edits_of_a_large_base)
{
	size_t bl = 300000;
	unsigned char *base = pseudo_random(bl, 7);
	unsigned char *t = malloc(bl + 1000);
	/* target: insert 1000 new bytes in the middle, change a few bytes,
	 * drop the tail, move a block to the front */
	memcpy(t, base + 200000, 50000);
	memcpy(t + 50000, base, 100000);
	memset(t + 150000, 'x', 1000);
	memcpy(t + 151000, base + 100000, 90000);
	t[160000] ^= 1;
	t[170000] ^= 1;
	roundtrip(base, bl, t, 241000, 5000);
	free(base);
	free(t);
}

Test(delta_create, unrelated_data_gives_enotfound)
{
	unsigned char *a = pseudo_random(10000, 1), *b = pseudo_random(10000, 2);
	grove_buf d = { 0 };
	cr_assert_eq(grove__delta_create(a, 10000, b, 10000, 5000, &d), GROVE_ENOTFOUND);
	cr_assert_null(d.data);
	/* with room for it, a delta (all inserts) is still correct */
	roundtrip(a, 10000, b, 10000, 20000);
	/* tiny inputs */
	cr_assert_eq(grove__delta_create("abc", 3, "abd", 3, 100, &d), GROVE_ENOTFOUND);
	free(a);
	free(b);
}

Test(delta_create, identical_and_repetitive)
{
	unsigned char *a = pseudo_random(200000, 3);
	unsigned char *z = calloc(1, 100000);
	roundtrip(a, 200000, a, 200000, 100);
	roundtrip(z, 100000, z, 100000, 100);
	/* target of repeated base blocks */
	unsigned char *r = malloc(64 * 100);
	for (int i = 0; i < 100; i++)
		memcpy(r + i * 64, a + (i % 7) * 64, 64);
	roundtrip(a, 200000, r, 6400, 1000);
	free(a);
	free(z);
	free(r);
}

/* delta_edit: insertions, deletions and replacements anywhere, including
 * copies over 64 KiB and edits at either end, apply back exactly. */
Test(delta, edit_round_trips)
{
	enum { EDIT_BASE = 200000 };
	unsigned char *base = malloc(EDIT_BASE), *target = malloc(EDIT_BASE + 1000);
	uint32_t x = 99;
	for (size_t i = 0; i < EDIT_BASE; i++) {
		x = x * 1664525u + 1013904223u;
		base[i] = (unsigned char)(x >> 24);
	}
	struct { size_t at, del, ins; } cases[] = {
		{ 0, 0, 10 }, { 0, 5, 0 }, { EDIT_BASE - 3, 3, 0 }, { EDIT_BASE, 0, 300 }, { 70000, 20, 40 },
		{ 12345, 0, 1 }, { 100, 50, 50 }, { 65535, 1, 1 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t at = cases[c].at, del = cases[c].del, ins = cases[c].ins, tlen = 0;
		memcpy(target, base, at);
		tlen = at;
		for (size_t i = 0; i < ins; i++)
			target[tlen++] = (unsigned char)(i * 7 + c);
		memcpy(target + tlen, base + at + del, EDIT_BASE - at - del);
		tlen += EDIT_BASE - at - del;
		grove__sbuf d = GROVE_SBUF_INIT;
		cr_assert_eq(grove__delta_edit(base, EDIT_BASE, target, tlen, 4096, &d), 0, "case %zu", c);
		cr_assert_lt(d.len, 600, "case %zu: %zu bytes", c, d.len);
		grove_buf out = { 0 };
		cr_assert_eq(grove__delta_apply(base, EDIT_BASE, d.data, d.len, &out), 0, "case %zu: %s", c,
			grove_error_message());
		cr_assert_eq(out.size, tlen);
		cr_assert(memcmp(out.data, target, tlen) == 0, "case %zu", c);
		grove_buf_dispose(&out);
		grove__sbuf_dispose(&d);
	}
	/* Too different: no delta. */
	grove__sbuf d = GROVE_SBUF_INIT;
	memset(target, 0xaa, 5000);
	cr_assert_eq(grove__delta_edit(base, 5000, target, 5000, 1000, &d), GROVE_ENOTFOUND);
	/* Spans that do not fit the sizes are refused, not trusted. */
	cr_assert_eq(grove__delta_edit_spans(10, target, 20, 15, 10, 1000, &d), GROVE_ENOTFOUND);
	grove__sbuf_dispose(&d);
	free(base);
	free(target);
}
