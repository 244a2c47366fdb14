/*
 * libFuzzer target: an upload-pack session (v0 or v2, chosen by the first
 * byte) fed arbitrary request bytes against a small in-memory store, with
 * any pack it asks for built and discarded.
 *   make fuzz && build/fuzz/fuzz_upload_request -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "grove.h"
#include "../../git/upload_pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static grove *store;

static int discard(void *payload, const void *data, size_t len)
{
	(void)payload;
	(void)data;
	(void)len;
	return 0;
}

static grove *make_store(void)
{
	grove *g = NULL;
	if (grove_open(&g, "mem:", NULL) < 0)
		abort();
	if (grove_set(g, "main", "a/b", "one", 3, NULL, NULL) < 0 ||
	    grove_set(g, "main", "c", "two", 3, NULL, NULL) < 0 ||
	    grove_branch_create(g, "side", "main", 0) < 0 ||
	    grove_set(g, "side", "d", "three", 5, NULL, NULL) < 0)
		abort();
	return g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grove__upload_pack_opts o = GROVE__UPLOAD_PACK_OPTS_INIT;
	grove__upload_pack *up;
	size_t off = 1;
	if (!store)
		store = make_store();
	if (size < 1)
		return 0;
	o.version = (data[0] & 1) ? GROVE__PROTOCOL_V2 : GROVE__PROTOCOL_V0;
	o.stateless = (data[0] & 2) != 0;
	if (grove__upload_pack_new(&up, store, &o, discard, NULL) < 0)
		abort();
	if (!o.stateless)
		grove__upload_pack_start(up);
	/* Feed in pieces of up to 64 bytes; build packs when asked. */
	while (grove__upload_pack_state_get(up) != GROVE__UPLOAD_PACK_DONE) {
		if (grove__upload_pack_state_get(up) == GROVE__UPLOAD_PACK_NEED_PACK) {
			if (grove__upload_pack_run_pack(up) < 0)
				break;
			grove__upload_pack_feed(up, NULL, 0);
			continue;
		}
		if (off >= size) {
			grove__upload_pack_input_end(up);
			break;
		}
		{
			size_t n = size - off < 64 ? size - off : 64;
			if (grove__upload_pack_feed(up, data + off, n) < 0)
				break;
			off += n;
		}
	}
	grove__upload_pack_free(up);
	return 0;
}
