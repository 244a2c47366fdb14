/*
 * libFuzzer target: git delta application.  The input is split in two at
 * its first byte's value: a base and a delta.
 *   make fuzz && build/fuzz/fuzz_delta -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>

#include "delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grove_buf out = { 0 };
	size_t base_len;
	if (size < 1)
		return 0;
	base_len = data[0];
	data++;
	size--;
	if (base_len > size)
		base_len = size;
	if (grove__delta_apply(data, base_len, data + base_len, size - base_len, &out) == 0)
		grove_buf_dispose(&out);
	return 0;
}
