/* sync/merge_*.c: the calendar and contact merge rules, on the callbacks
 * directly and through grove_merge on a mem: store. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sbuf.h"
#include "../../sync/merge_dav.h"

static char *ics(const char *uid, int seq, const char *lastmod, const char *dtstamp, const char *summary)
{
	char *s = NULL, seqline[64] = "", lm[80] = "";
	if (seq >= 0)
		snprintf(seqline, sizeof(seqline), "SEQUENCE:%d\r\n", seq);
	if (lastmod)
		snprintf(lm, sizeof(lm), "LAST-MODIFIED:%s\r\n", lastmod);
	cr_assert(asprintf(&s,
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
		"UID:%s\r\nDTSTAMP:%s\r\n%s%sDTSTART:20240101T100000Z\r\nSUMMARY:%s\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", uid, dtstamp, seqline, lm, summary) > 0);
	return s;
}

static char *vcf(const char *uid, const char *rev, const char *fn)
{
	char *s = NULL, revline[80] = "";
	if (rev)
		snprintf(revline, sizeof(revline), "REV:%s\r\n", rev);
	cr_assert(asprintf(&s, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\n%sFN:%s\r\nEND:VCARD\r\n", uid,
		revline, fn) > 0);
	return s;
}

static grove_buf B(char *s)
{
	grove_buf b = { s, strlen(s) };
	return b;
}

/* Runs the callback; returns 0 for ours, 1 for theirs, 2 deleted, or the
 * error code; checks that the result is exactly one of the inputs. */
static int run(grove_merge_fn fn, char *base, char *ours, char *theirs, char **log_out)
{
	grove_buf b = base ? B(base) : (grove_buf){ 0 }, o = ours ? B(ours) : (grove_buf){ 0 },
		  t = theirs ? B(theirs) : (grove_buf){ 0 }, res = { 0 };
	grove__sbuf log = GROVE_SBUF_INIT;
	int deleted = 0, rc, which;
	grove__merge_log_attach(&log);
	rc = fn("cal/x.ics", base ? &b : NULL, ours ? &o : NULL, theirs ? &t : NULL, &res, &deleted, NULL);
	grove__merge_log_detach();
	if (log_out)
		*log_out = log.data ? grove__sbuf_detach(&log, NULL) : strdup("");
	grove__sbuf_dispose(&log);
	if (rc)
		return rc;
	if (deleted)
		return 2;
	if (ours && res.size == o.size && !memcmp(res.data, o.data, o.size))
		which = 0;
	else if (theirs && res.size == t.size && !memcmp(res.data, t.data, t.size))
		which = 1;
	else
		cr_assert_fail("result is neither side");
	free(res.data);
	return which;
}

Test(sync_merge, ical_sequence_decides_first)
{
	char *base = ics("u1", 1, NULL, "20240101T000000Z", "base");
	/* ours has the later timestamps but theirs the higher SEQUENCE */
	char *ours = ics("u1", 2, "20240301T000000Z", "20240301T000000Z", "ours");
	char *theirs = ics("u1", 3, "20240201T000000Z", "20240201T000000Z", "theirs");
	char *log = NULL;
	cr_assert_eq(run(grove__merge_ical, base, ours, theirs, &log), 1);
	cr_assert(strstr(log, "theirs kept (SEQUENCE"), "%s", log);
	cr_assert(strstr(log, "UID u1"), "%s", log);
	/* the loser's blob id is in the log */
	grove_oid id;
	char hex[41];
	cr_assert_eq(grove_object_hash(GROVE_OBJ_BLOB, ours, strlen(ours), &id), 0);
	cr_assert(strstr(log, grove_oid_tohex(hex, &id)), "%s", log);
	/* symmetric: swapping the sides picks the same version */
	cr_assert_eq(run(grove__merge_ical, base, theirs, ours, NULL), 0);
	free(log);
	free(base);
	free(ours);
	free(theirs);
}

Test(sync_merge, ical_last_modified_then_dtstamp)
{
	char *a = ics("u1", 2, "20240301T000000Z", "20240101T000000Z", "a");
	char *b = ics("u1", 2, "20240201T000000Z", "20240501T000000Z", "b");
	cr_assert_eq(run(grove__merge_ical, NULL, a, b, NULL), 0, "LAST-MODIFIED beats DTSTAMP");
	cr_assert_eq(run(grove__merge_ical, NULL, b, a, NULL), 1);
	char *c = ics("u1", 2, NULL, "20240101T000000Z", "c");
	char *d = ics("u1", 2, NULL, "20240102T000000Z", "d");
	cr_assert_eq(run(grove__merge_ical, NULL, c, d, NULL), 1, "DTSTAMP when no LAST-MODIFIED");
	/* absent SEQUENCE counts as lower than SEQUENCE:0 */
	char *e = ics("u1", -1, NULL, "20250101T000000Z", "e");
	char *f = ics("u1", 0, NULL, "20240101T000000Z", "f");
	cr_assert_eq(run(grove__merge_ical, NULL, e, f, NULL), 1);
	free(a), free(b), free(c), free(d), free(e), free(f);
}

Test(sync_merge, ical_full_tie_is_deterministic)
{
	char *a = ics("u1", 1, NULL, "20240101T000000Z", "alpha");
	char *b = ics("u1", 1, NULL, "20240101T000000Z", "beta");
	int r1 = run(grove__merge_ical, NULL, a, b, NULL);
	int r2 = run(grove__merge_ical, NULL, b, a, NULL);
	cr_assert(r1 == 0 || r1 == 1);
	cr_assert_eq(r1, 1 - r2, "both orders must keep the same bytes");
	cr_assert_eq(r1, 1, "the bytewise greater text ('beta') wins");
	free(a), free(b);
}

Test(sync_merge, modification_wins_over_deletion)
{
	char *base = ics("u1", 1, NULL, "20240101T000000Z", "base");
	char *mod = ics("u1", 2, NULL, "20240102T000000Z", "moved");
	char *log = NULL;
	cr_assert_eq(run(grove__merge_ical, base, mod, NULL, &log), 0);
	cr_assert(strstr(log, "modification is kept"), "%s", log);
	free(log);
	cr_assert_eq(run(grove__merge_ical, base, NULL, mod, NULL), 1);
	char *vb = vcf("c1", NULL, "Base"), *vm = vcf("c1", NULL, "Changed");
	cr_assert_eq(run(grove__merge_vcard, vb, NULL, vm, NULL), 1);
	cr_assert_eq(run(grove__merge_vcard, vb, vm, NULL, NULL), 0);
	free(base), free(mod), free(vb), free(vm);
}

Test(sync_merge, unparsable_is_a_conflict)
{
	char *good = ics("u1", 1, NULL, "20240101T000000Z", "ok");
	char bad[] = "this is not a calendar";
	char noevent[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
	cr_assert_eq(run(grove__merge_ical, NULL, good, bad, NULL), GROVE_ECONFLICT);
	cr_assert_eq(run(grove__merge_ical, NULL, noevent, good, NULL), GROVE_ECONFLICT);
	char *card = vcf("c1", NULL, "X");
	cr_assert_eq(run(grove__merge_vcard, NULL, card, bad, NULL), GROVE_ECONFLICT);
	free(good), free(card);
}

Test(sync_merge, vcard_rev_decides)
{
	char *a = vcf("c1", "20240101T101500Z", "Old");
	char *b = vcf("c1", "2024-02-01T10:15:00Z", "New");
	char *log = NULL;
	cr_assert_eq(run(grove__merge_vcard, NULL, a, b, &log), 1);
	cr_assert(strstr(log, "LAST-MODIFIED/REV"), "%s", log);
	cr_assert_eq(run(grove__merge_vcard, NULL, b, a, NULL), 0);
	free(log);
	/* a REV beats none; a date-only REV parses */
	char *c = vcf("c1", NULL, "NoRev"), *d = vcf("c1", "20230101", "DateRev");
	cr_assert_eq(run(grove__merge_vcard, NULL, c, d, NULL), 1);
	free(a), free(b), free(c), free(d);
}

Test(sync_merge, vcard_version_fields)
{
	grove__dav_version v;
	const char card[] = "BEGIN:VCARD\nVERSION:4.0\nitem1.UID;VALUE=text:urn:uuid:\n 1234\n"
		"REV;VALUE=timestamp:19951031T222710Z\nEND:VCARD\n";
	cr_assert_eq(grove__vcard_version(card, strlen(card), &v), 0);
	cr_assert_str_eq(v.uid, "urn:uuid:1234");
	cr_assert_eq(v.modified, 815178430);
	cr_assert_eq(grove__vcard_version("FN:x\n", 5, &v), GROVE_EINVALID);
}

Test(sync_merge, ical_overrides_count)
{
	grove__dav_version v;
	const char cal[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
		"BEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:1\r\nDTSTART:20240101T100000Z\r\n"
		"RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"
		"BEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240102T100000Z\r\n"
		"SEQUENCE:4\r\nDTSTART:20240102T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
	cr_assert_eq(grove__ical_version(cal, strlen(cal), &v), 0);
	cr_assert_str_eq(v.uid, "r");
	cr_assert_eq(v.sequence, 4);
	cr_assert_eq(v.stamp, 1704067200);
}

/* Through grove_merge: a branch each edits the same event; the merge keeps
 * the higher SEQUENCE without a conflict; without the rules it conflicts. */
Test(sync_merge, through_grove_merge)
{
	grove *g = NULL;
	grove_oid id;
	grove_buf got = { 0 };
	grove_conflict_list cl = { 0 };
	char *base = ics("u1", 0, NULL, "20240101T000000Z", "base");
	char *hi = ics("u1", 5, NULL, "20240101T000000Z", "hi");
	char *lo = ics("u1", 1, NULL, "20240301T000000Z", "lo");
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0);
	cr_assert_eq(grove_set(g, "main", "cal/e.ics", base, strlen(base), NULL, &id), 0);
	cr_assert_eq(grove_branch_create(g, "other", "main", 0), 0);
	cr_assert_eq(grove_set(g, "main", "cal/e.ics", lo, strlen(lo), NULL, NULL), 0);
	cr_assert_eq(grove_set(g, "other", "cal/e.ics", hi, strlen(hi), NULL, NULL), 0);
	cr_assert_eq(grove_merge(g, "main", "other", NULL, NULL, &cl), GROVE_ECONFLICT);
	grove_conflict_list_dispose(&cl);
	cr_assert_eq(grove_merge_register_dav(g), 0);
	cr_assert_eq(grove_merge(g, "main", "other", NULL, &id, &cl), 0, "%s", grove_error_message());
	cr_assert_eq(grove_get(g, "main", "cal/e.ics", &got), 0);
	cr_assert_eq(got.size, strlen(hi));
	cr_assert(!memcmp(got.data, hi, got.size));
	grove_buf_dispose(&got);
	cr_assert_eq(grove_merge_register_dav(NULL), GROVE_EINVALID);
	grove_close(g);
	free(base), free(hi), free(lo);
}
