/*
 * libFuzzer target: the incremental pkt-line reader.  The input is read
 * twice, whole and in chunks whose sizes come from the input, and both
 * reads must see the same packets.
 *   make fuzz && build/fuzz/fuzz_pktline -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../git/pktline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packets rendered as kind, length, then payload bytes into a hash. */
static uint64_t read_all(const uint8_t *data, size_t size, size_t step, int *err)
{
	grove__pkt_reader r = GROVE__PKT_READER_INIT;
	uint64_t h = 1469598103934665603ull;
	size_t off = 0;
	*err = 0;
	while (off < size && !*err) {
		size_t chunk = size - off < step ? size - off : step, pos = 0;
		while (pos < chunk) {
			grove__pkt pkt;
			size_t used = 0;
			int rc = grove__pkt_read(&r, data + off + pos, chunk - pos, &used, &pkt);
			if (rc < 0) {
				*err = 1;
				break;
			}
			pos += used;
			if (rc == 0)
				break;
			h = (h ^ (uint64_t)pkt.kind) * 1099511628211ull;
			h = (h ^ pkt.len) * 1099511628211ull;
			for (size_t i = 0; i < pkt.len; i++)
				h = (h ^ (unsigned char)pkt.data[i]) * 1099511628211ull;
		}
		off += chunk;
	}
	grove__pkt_reader_dispose(&r);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int e1, e2;
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
	uint64_t a = read_all(data, size, size ? size : 1, &e1);
	uint64_t b = read_all(data, size, step, &e2);
	if (e1 != e2 || (!e1 && a != b))
		abort();
	return 0;
}
