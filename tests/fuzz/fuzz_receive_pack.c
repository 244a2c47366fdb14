/*
 * libFuzzer target: a receive-pack session (the server side of a push) fed
 * arbitrary bytes against a fresh mem: store holding one commit.
 *
 * The first input byte picks how the rest is used:
 *   bit 0      0: the rest is the whole request (commands, options, pack);
 *              1: the harness sends a valid command list with side-band and
 *                 atomic and the rest is the pack, to reach the pack path
 *   bits 1-3   feed chunk size (1 << n bytes; 0 = all at once)
 *   bit 4      call input_end afterwards (stateless request / hang-up)
 *   bit 5      allow non-fast-forward
 * Whatever the input, the session must end without crashing, and a push
 * that reports failure must leave the refs as they were.
 *   make fuzz && build/fuzz/fuzz_receive_pack -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../git/receive_pack.h"
#include "sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int discard(void *payload, const void *d, size_t len)
{
	(void)d;
	*(size_t *)payload += len;
	return 0;
}

static int count_refs(const char *refname, const grove_oid *id, void *payload)
{
	(void)refname;
	(void)id;
	(*(size_t *)payload)++;
	return 0;
}

static void feed(grove__receive *rp, const uint8_t *p, size_t len, size_t chunk)
{
	while (len) {
		size_t n = chunk && chunk < len ? chunk : len;
		grove__receive_feed(rp, p, n);
		p += n;
		len -= n;
		if (grove__receive_state_get(rp) == GROVE__RECEIVE_NEED_WORK)
			grove__receive_run(rp);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grove *g = NULL;
	grove__receive *rp = NULL;
	grove__receive_opts o = { 0 };
	grove__receive_summary sum;
	grove_oid head, head_after;
	size_t out = 0, chunk, refs = 0;
	unsigned flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (grove_open(&g, "mem:", NULL) < 0)
		abort();
	if (grove_set(g, "main", "key", "value", 5, NULL, &head) < 0)
		abort();

	o.max_pack_size = 1 << 20;
	o.max_objects = 1000;
	o.max_object_size = 1 << 20;
	o.max_delta_depth = 50;
	o.max_commands = 100;
	o.allow_non_ff = (flags >> 5) & 1;
	chunk = (flags >> 1) & 7 ? (size_t)1 << ((flags >> 1) & 7) : 0;
	if (grove__receive_new(&rp, g, &o, discard, &out) < 0)
		abort();
	grove__receive_advertise(rp);

	if (flags & 1) {
		grove__sbuf req = GROVE_SBUF_INIT;
		char hex[GROVE_OID_HEXSZ + 1], line[200], len[5];
		int n;
		grove_oid_tohex(hex, &head);
		n = snprintf(line, sizeof(line), "%s 1111111111111111111111111111111111111111 "
			"refs/heads/main%creport-status side-band-64k atomic\n", hex, '\0');
		snprintf(len, sizeof(len), "%04x", n + 4);
		grove__sbuf_put(&req, len, 4);
		grove__sbuf_put(&req, line, (size_t)n);
		grove__sbuf_put(&req, "0000", 4);
		grove__sbuf_put(&req, data, size);
		feed(rp, (const uint8_t *)req.data, req.len, chunk);
		grove__sbuf_dispose(&req);
	} else {
		feed(rp, data, size, chunk);
	}
	if (flags & 0x10) {
		grove__receive_input_end(rp);
		if (grove__receive_state_get(rp) == GROVE__RECEIVE_NEED_WORK)
			grove__receive_run(rp);
	}
	grove__receive_summary_get(rp, &sum);
	grove__receive_free(rp);

	/* Nothing accepted: main must be where it was, and no ref added. */
	if (sum.updated == 0) {
		if (grove_branch_head(g, "main", &head_after) < 0 ||
		    memcmp(head.id, head_after.id, sizeof(head.id)) != 0)
			abort();
		if (grove_ref_foreach(g, "", count_refs, &refs) < 0 || refs != 1)
			abort();
	}
	grove_close(g);
	return 0;
}
