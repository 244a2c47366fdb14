/*
 * The decision shared by the *.ics and *.vcf merge callbacks: the newer
 * version of an object wins whole (fields are not mixed: a half-merged
 * event is worse than a clearly older one), a modification wins over a
 * deletion, and every decision is written to the merge log so the losing
 * version can be found (its blob id; it stays in the merged history).
 */
#include "merge_dav.h"
#include "sync_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static _Thread_local grove__sbuf *merge_log;

void grove__merge_log_attach(grove__sbuf *log)
{
	merge_log = log;
}

void grove__merge_log_detach(void)
{
	merge_log = NULL;
}

static void note(const char *fmt, ...) GROVE_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!merge_log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Out of memory here costs a line of the message, not the merge. */
	if (grove__sbuf_puts(merge_log, line) < 0 || grove__sbuf_putc(merge_log, '\n') < 0)
		grove_error_clear();
}

int grove__dav_version_cmp(const grove__dav_version *a, const grove_buf *abuf,
	const grove__dav_version *b, const grove_buf *bbuf, const char **why)
{
	const char *reason;
	int r;
	if (a->sequence != b->sequence) {
		reason = "SEQUENCE";
		r = a->sequence > b->sequence ? 1 : -1;
	} else if (a->modified != b->modified) {
		reason = "LAST-MODIFIED/REV";
		r = a->modified > b->modified ? 1 : -1;
	} else if (a->stamp != b->stamp) {
		reason = "DTSTAMP";
		r = a->stamp > b->stamp ? 1 : -1;
	} else {
		size_t n = abuf->size < bbuf->size ? abuf->size : bbuf->size;
		reason = "tie, greater bytes";
		r = memcmp(abuf->data, bbuf->data, n);
		if (!r)
			r = abuf->size == bbuf->size ? 0 : abuf->size > bbuf->size ? 1 : -1;
		r = r > 0 ? 1 : r < 0 ? -1 : 0;
	}
	if (why)
		*why = reason;
	return r;
}

static int copy_out(const grove_buf *from, grove_buf *result)
{
	void *p = grove__malloc(from->size ? from->size : 1);
	if (!p)
		return GROVE_ENOMEM;
	memcpy(p, from->data, from->size);
	result->data = p;
	result->size = from->size;
	return 0;
}

static const char *blob_hex(const grove_buf *b, char hex[GROVE_OID_HEXSZ + 1])
{
	grove_oid id;
	if (grove_object_hash(GROVE_OBJ_BLOB, b->data, b->size, &id) < 0) {
		grove_error_clear();
		return "?";
	}
	return grove_oid_tohex(hex, &id);
}

typedef int (*version_fn)(const void *data, size_t size, grove__dav_version *out);

static int dav_merge(version_fn parse, const char *path, const grove_buf *ours,
	const grove_buf *theirs, grove_buf *result, int *deleted)
{
	grove__dav_version vo, vt;
	char hex[GROVE_OID_HEXSZ + 1];
	const char *why;
	int r, rc;

	if (!ours || !theirs) {
		/* Modified on one side, deleted on the other: keep the
		 * modification (a deletion can be repeated, lost data cannot be
		 * recovered by the user). */
		const grove_buf *kept = ours ? ours : theirs;
		if (!kept) {
			*deleted = 1;
			return 0;
		}
		note("%s: modified on %s, deleted on %s: the modification is kept", path,
			ours ? "ours" : "theirs", ours ? "theirs" : "ours");
		return copy_out(kept, result);
	}
	if (parse(ours->data, ours->size, &vo) < 0 || parse(theirs->data, theirs->size, &vt) < 0) {
		grove_error_clear();
		note("%s: changed on both sides and not parsable: left as a conflict", path);
		return GROVE_ECONFLICT;
	}
	r = grove__dav_version_cmp(&vo, ours, &vt, theirs, &why);
	if ((rc = copy_out(r >= 0 ? ours : theirs, result)) < 0)
		return rc;
	note("%s: UID %s changed on both sides: %s kept (%s: SEQUENCE %ld/%ld), the other version is blob %s",
		path, vo.uid[0] ? vo.uid : vt.uid, r >= 0 ? "ours" : "theirs", why,
		vo.sequence, vt.sequence, blob_hex(r >= 0 ? theirs : ours, hex));
	return 0;
}

int grove__merge_ical(const char *path, const grove_buf *base, const grove_buf *ours,
	const grove_buf *theirs, grove_buf *result, int *deleted, void *payload)
{
	(void)base;
	(void)payload;
	return dav_merge(grove__ical_version, path, ours, theirs, result, deleted);
}

int grove__merge_vcard(const char *path, const grove_buf *base, const grove_buf *ours,
	const grove_buf *theirs, grove_buf *result, int *deleted, void *payload)
{
	(void)base;
	(void)payload;
	return dav_merge(grove__vcard_version, path, ours, theirs, result, deleted);
}

int grove_merge_register_dav(grove *g)
{
	int rc;
	if (!g)
		return grove__error_set(GROVE_EINVALID, "grove_merge_register_dav: NULL store");
	if ((rc = grove_merge_register(g, "*.ics", grove__merge_ical, NULL)) < 0)
		return rc;
	return grove_merge_register(g, "*.vcf", grove__merge_vcard, NULL);
}
