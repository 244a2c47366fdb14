/*
 * Finding the end of a pack that arrives on a stream (see
 * grove__pack_scan in receive_pack_internal.h).  Each entry's zlib stream
 * is inflated into a small sink only to learn where it ends; the indexer
 * later does the real work on the buffered bytes.
 */
#include "receive_pack_internal.h"

#include "error.h"
#include "pack.h"

#include <limits.h>
#include <string.h>

enum { S_HEADER, S_ENTRY, S_OFS, S_REF, S_ZLIB, S_TRAILER, S_DONE };

void grove__pack_scan_init(grove__pack_scan *s, size_t max_pack_size, size_t max_objects,
	size_t max_object_size)
{
	memset(s, 0, sizeof(*s));
	s->state = S_HEADER;
	s->max_pack_size = max_pack_size;
	s->max_objects = max_objects;
	s->max_object_size = max_object_size;
}

void grove__pack_scan_dispose(grove__pack_scan *s)
{
	if (s->zs_ready)
		inflateEnd(&s->zs);
	s->zs_ready = 0;
}

static int check_header(grove__pack_scan *s)
{
	const unsigned char *p = s->hdr;
	uint32_t version, count;
	if (memcmp(p, "PACK", 4) != 0)
		return grove__error_set(GROVE_ECORRUPT, "not a pack: bad signature");
	version = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	count = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	if (version != 2 && version != 3)
		return grove__error_set(GROVE_ECORRUPT, "unsupported pack version %u", version);
	if (count > s->max_objects)
		return grove__error_set(GROVE_EINVALID, "pack holds %u objects, over the limit of %zu",
			count, s->max_objects);
	s->remaining = count;
	s->hdr_have = 0;
	s->state = count ? S_ENTRY : S_TRAILER;
	return 0;
}

static int start_zlib(grove__pack_scan *s)
{
	if (!s->zs_ready) {
		memset(&s->zs, 0, sizeof(s->zs));
		if (inflateInit(&s->zs) != Z_OK)
			return grove__error_oom();
		s->zs_ready = 1;
	} else if (inflateReset(&s->zs) != Z_OK) {
		return grove__error_set(GROVE_ERROR, "zlib reset failed");
	}
	s->state = S_ZLIB;
	return 0;
}

/* The entry header's first byte and size varint, one byte at a time. */
static int entry_byte(grove__pack_scan *s, unsigned char b)
{
	if (s->shift == 0) {
		s->entry_offset = s->total;
		s->type = (b >> 4) & 7;
		s->declared = b & 15;
		s->shift = 4;
		if (s->type == 0 || s->type == 5)
			return grove__error_set(GROVE_ECORRUPT, "pack entry at offset %zu: bad type %d",
				s->entry_offset, s->type);
	} else {
		if (s->shift > sizeof(size_t) * 8 - 7)
			return grove__error_set(GROVE_ECORRUPT, "pack entry at offset %zu: size overflows",
				s->entry_offset);
		s->declared |= (size_t)(b & 0x7f) << s->shift;
		s->shift += 7;
	}
	if (b & 0x80)
		return 0;
	s->shift = 0;
	if (s->declared > s->max_object_size)
		return grove__error_set(GROVE_EINVALID,
			"pack entry at offset %zu declares %zu bytes, over the limit of %zu",
			s->entry_offset, s->declared, s->max_object_size);
	if (s->type == GROVE__PACK_OFS_DELTA) {
		s->state = S_OFS;
		return 0;
	}
	if (s->type == GROVE__PACK_REF_DELTA) {
		s->state = S_REF;
		s->base_left = GROVE_OID_RAWSZ;
		return 0;
	}
	return start_zlib(s);
}

/* Inflates from data into the sink; *used gets the input consumed.
 * Returns 1 at the end of the stream. */
static int zlib_step(grove__pack_scan *s, const unsigned char *data, size_t len, size_t *used)
{
	unsigned in = len > UINT_MAX ? UINT_MAX : (unsigned)len;
	size_t before = s->zs.total_in;
	int zr;

	s->zs.next_in = (unsigned char *)data;
	s->zs.avail_in = in;
	for (;;) {
		s->zs.next_out = s->sink;
		s->zs.avail_out = sizeof(s->sink);
		zr = inflate(&s->zs, Z_NO_FLUSH);
		if (s->zs.total_out > s->declared) {
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu inflates past its declared %zu bytes",
				s->entry_offset, s->declared);
		}
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR || (zr == Z_OK && s->zs.avail_in == 0 && s->zs.avail_out != 0)) {
			*used = s->zs.total_in - before;
			return 0; /* needs more input */
		}
		if (zr != Z_OK)
			return grove__error_set(GROVE_ECORRUPT,
				"pack entry at offset %zu: damaged compressed data (%s)", s->entry_offset,
				s->zs.msg ? s->zs.msg : "zlib error");
	}
	*used = s->zs.total_in - before;
	if (s->zs.total_out != s->declared)
		return grove__error_set(GROVE_ECORRUPT,
			"pack entry at offset %zu: inflates to %lu bytes, header says %zu",
			s->entry_offset, s->zs.total_out, s->declared);
	return 1;
}

int grove__pack_scan_feed(grove__pack_scan *s, const unsigned char *data, size_t len, size_t *used)
{
	size_t pos = 0;
	int rc = 0;

	while (pos < len && s->state != S_DONE) {
		size_t step = 0;
		switch (s->state) {
		case S_HEADER:
		case S_TRAILER: {
			size_t want = (s->state == S_HEADER ? GROVE__PACK_HEADER_LEN
							 : GROVE__PACK_TRAILER_LEN) - s->hdr_have;
			step = len - pos < want ? len - pos : want;
			memcpy(s->hdr + s->hdr_have, data + pos, step);
			s->hdr_have += step;
			if (s->hdr_have == (s->state == S_HEADER ? GROVE__PACK_HEADER_LEN
								   : GROVE__PACK_TRAILER_LEN)) {
				if (s->state == S_HEADER)
					rc = check_header(s);
				else
					s->state = S_DONE;
			}
			break;
		}
		case S_ENTRY:
			step = 1;
			rc = entry_byte(s, data[pos]);
			break;
		case S_OFS:
			step = 1;
			if (!(data[pos] & 0x80))
				rc = start_zlib(s);
			break;
		case S_REF:
			step = len - pos < s->base_left ? len - pos : s->base_left;
			s->base_left -= step;
			if (!s->base_left)
				rc = start_zlib(s);
			break;
		case S_ZLIB:
			rc = zlib_step(s, data + pos, len - pos, &step);
			if (rc == 1) {
				rc = 0;
				s->remaining--;
				s->state = s->remaining ? S_ENTRY : S_TRAILER;
			} else if (rc == 0 && step == 0) {
				/* zlib took nothing though input is there: it never will. */
				rc = grove__error_set(GROVE_ECORRUPT,
					"pack entry at offset %zu: compressed data stalls", s->entry_offset);
			}
			break;
		}
		if (rc < 0)
			return rc;
		pos += step;
		s->total += step;
		if (s->total > s->max_pack_size)
			return grove__error_set(GROVE_EINVALID, "pack is over the limit of %zu bytes",
				s->max_pack_size);
	}
	*used = pos;
	return s->state == S_DONE;
}
