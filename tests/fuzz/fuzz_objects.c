/*
 * libFuzzer target: git object parsers (trees, commits, tags) and the fsck
 * rules, on arbitrary bytes.  The first byte picks the object type.
 *   make fuzz && build/fuzz/fuzz_objects -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>

#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grove__tree *tree;
	grove_commit *commit;
	grove__tag tag;
	grove_otype type;

	if (size < 1)
		return 0;
	type = (grove_otype)(1 + data[0] % 4);
	data++;
	size--;
	(void)grove__object_check(type, data, size);
	if (grove__tree_parse(NULL, data, size, &tree) == 0) {
		for (size_t i = 0; i < tree->count; i++)
			(void)grove__tree_find(tree, tree->entries[i].name, tree->entries[i].name_len);
		grove__tree_free(tree);
	}
	if (grove__commit_parse(NULL, data, size, &commit) == 0)
		grove_commit_free(commit);
	if (grove__tag_parse(data, size, &tag) == 0)
		grove__tag_dispose(&tag);
	return 0;
}
