/*
 * The pack an upload-pack response carries: the side-band packets after a
 * marker ("0008NAK\n", "packfile\n"), band 1 collected, band 2 (progress)
 * skipped, band 3 (an error) failing the test.  Header-only, for the tests
 * that read what upload-pack sent.
 */
#ifndef GROVE_TEST_SIDEBAND_PACK_H
#define GROVE_TEST_SIDEBAND_PACK_H

#include <criterion/criterion.h>
#include <string.h>

#include "../../git/pktline.h"
#include "sbuf.h"

static inline void sideband_pack(const grove__sbuf *response, const char *from, grove__sbuf *pack)
{
	grove__pkt_reader r = GROVE__PKT_READER_INIT;
	const char *p = memmem(response->data, response->len, from, strlen(from));
	size_t left;
	cr_assert_not_null(p, "no '%s' in the response", from);
	p += strlen(from);
	left = response->len - (size_t)(p - response->data);
	while (left) {
		grove__pkt k;
		size_t used;
		cr_assert_eq(grove__pkt_read(&r, p, left, &used, &k), 1);
		p += used;
		left -= used;
		if (k.kind == GROVE__PKT_FLUSH)
			break;
		cr_assert_neq(k.data[0], 3, "error band: %.*s", (int)k.len - 1, k.data + 1);
		if (k.data[0] == 1)
			grove__sbuf_put(pack, k.data + 1, k.len - 1);
	}
	grove__pkt_reader_dispose(&r);
}

#endif
