/*
 * libFuzzer target: the pack indexer (the receive path of a push) on
 * arbitrary bytes, with small limits so that bombs are caught quickly.
 *   make fuzz && build/fuzz/fuzz_pack -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>

#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_records(void *payload, const grove__object *records, size_t count)
{
	(void)records;
	*(size_t *)payload += count;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grove__pack_index_opts opts = { 0 };
	size_t delivered = 0;
	opts.max_objects = 1000;
	opts.max_object_size = 1 << 20;
	opts.max_delta_depth = 50;
	opts.max_chain_memory = 8 << 20;
	opts.strict = 1;
	opts.deliver = count_records;
	opts.deliver_payload = &delivered;
	(void)grove__pack_index(data, size, &opts, NULL);
	return 0;
}
