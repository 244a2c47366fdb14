/*
 * Calendar- and contact-aware content merges (see grove_merge_register_dav
 * in grove.h): what decides between two versions of one object, and the
 * log that lets grove_sync name every decision in its merge commit.
 */
#ifndef GROVE_SYNC_MERGE_DAV_H
#define GROVE_SYNC_MERGE_DAV_H

#include "grove.h"
#include "sbuf.h"

/* The fields that order two versions of one object. */
typedef struct {
	char uid[256];      /* "" when absent */
	long sequence;      /* SEQUENCE (highest of the object's components); -1 absent */
	int64_t modified;   /* LAST-MODIFIED (vCard: REV), unix seconds; 0 absent */
	int64_t stamp;      /* DTSTAMP, unix seconds; 0 absent */
} grove__dav_version;

/* Parses an iCalendar object (GROVE_EINVALID when it does not parse or has
 * no VEVENT/VTODO/VJOURNAL). */
int grove__ical_version(const void *data, size_t size, grove__dav_version *out);
/* Parses a vCard (GROVE_EINVALID without BEGIN:VCARD). */
int grove__vcard_version(const void *data, size_t size, grove__dav_version *out);

/*
 * > 0 when version a (with bytes abuf) wins, < 0 when b wins, 0 only for
 * identical bytes.  Order: SEQUENCE, then LAST-MODIFIED/REV, then DTSTAMP,
 * then the bytes.  *why (may be NULL) gets a static reason.
 */
int grove__dav_version_cmp(const grove__dav_version *a, const grove_buf *abuf,
	const grove__dav_version *b, const grove_buf *bbuf, const char **why);

/* The grove_merge_fn callbacks (payload unused). */
int grove__merge_ical(const char *path, const grove_buf *base, const grove_buf *ours,
	const grove_buf *theirs, grove_buf *result, int *deleted, void *payload);
int grove__merge_vcard(const char *path, const grove_buf *base, const grove_buf *ours,
	const grove_buf *theirs, grove_buf *result, int *deleted, void *payload);

/*
 * The merge log: while a log is attached to the calling thread, the
 * callbacks append one line per decision to it.  Merges run their
 * callbacks on the calling thread, so this needs no lock.
 */
void grove__merge_log_attach(grove__sbuf *log);
void grove__merge_log_detach(void);

#endif
