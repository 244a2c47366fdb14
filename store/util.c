/* Dispose functions for the public containers. */
#include "grove.h"

#include <stdlib.h>

void grove_buf_dispose(grove_buf *buf)
{
	if (!buf)
		return;
	free(buf->data);
	buf->data = NULL;
	buf->size = 0;
}

void grove_strarray_dispose(grove_strarray *array)
{
	if (!array)
		return;
	for (size_t i = 0; i < array->count; i++)
		free(array->strings[i]);
	free(array->strings);
	array->strings = NULL;
	array->count = 0;
}

void grove_entry_list_dispose(grove_entry_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		free(list->entries[i].name);
	free(list->entries);
	list->entries = NULL;
	list->count = 0;
}

void grove_item_list_dispose(grove_item_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].key);
		free(list->items[i].data);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void grove_diff_dispose(grove_diff *diff)
{
	if (!diff)
		return;
	for (size_t i = 0; i < diff->count; i++)
		free(diff->entries[i].path);
	free(diff->entries);
	diff->entries = NULL;
	diff->count = 0;
}

void grove_fsck_report_dispose(grove_fsck_report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->problem_count; i++)
		free(report->problems[i].message);
	free(report->problems);
	report->problems = NULL;
	report->problem_count = 0;
}
