/* The UID map updated in place (uid_map_update in net/dav_report_index.c):
 * a collection growing one member per step past every table size, and
 * one step that adds, deletes and changes members at once. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grove.h"
#include "../../net/dav_report_index.h"

static grove *G;

static void setup(void)
{
	cr_assert_eq(grove_open(&G, "mem:", NULL), 0);
}

static void teardown(void)
{
	grove_close(G);
}

TestSuite(dav_uid_map_grow, .init = setup, .fini = teardown);

static void event_text(char *ics, size_t n, const char *uid)
{
	snprintf(ics, n,
		 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
		 "UID:%s\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n"
		 "END:VEVENT\r\nEND:VCALENDAR\r\n", uid);
}

static void put_event(const char *coll, const char *name, const char *uid)
{
	char key[256], ics[1024];
	snprintf(key, sizeof(key), "%s/%s", coll, name);
	event_text(ics, sizeof(ics), uid);
	cr_assert_eq(grove_set(G, "main", key, ics, strlen(ics), NULL, NULL), 0);
}

static int lookup(const char *coll, const char *uid, char *out)
{
	grove_view *v;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	char *name = NULL;
	int r = grove__dav_uid_map_find(G, v, DAV_CAL, coll, uid, "probe.ics", &name);
	grove_view_free(v);
	cr_assert_geq(r, 0);
	strcpy(out, name ? name : "");
	free(name);
	return r;
}

Test(dav_uid_map_grow, one_member_per_step)
{
	const char *coll = "alice/calendars/grow";
	char name[256], want[64], uid[64];
	for (int i = 0; i < 150; i++) {
		snprintf(want, sizeof(want), "m%03d.ics", i);
		snprintf(uid, sizeof(uid), "uid-%d", i);
		put_event(coll, want, uid);
		/* the newest and the first member, every step */
		cr_assert_eq(lookup(coll, uid, name), 1, "step %d", i);
		cr_assert_str_eq(name, want);
		cr_assert_eq(lookup(coll, "uid-0", name), 1, "step %d", i);
		cr_assert_str_eq(name, "m000.ics");
		cr_assert_eq(lookup(coll, "uid-none", name), 0);
	}
}

Test(dav_uid_map_grow, add_delete_change_in_one_step)
{
	const char *coll = "alice/calendars/mix";
	char name[256];
	put_event(coll, "a.ics", "uid-a");
	put_event(coll, "b.ics", "uid-b");
	put_event(coll, "c.ics", "uid-c");
	cr_assert_eq(lookup(coll, "uid-b", name), 1);
	/* one commit: b deleted, c changed, d added */
	grove_txn *t;
	cr_assert_eq(grove_txn_begin(&t, G, "main"), 0);
	char ics[1024];
	cr_assert_eq(grove_txn_remove(t, "alice/calendars/mix/b.ics"), 0);
	event_text(ics, sizeof(ics), "uid-c2");
	cr_assert_eq(grove_txn_set(t, "alice/calendars/mix/c.ics", ics, strlen(ics)), 0);
	event_text(ics, sizeof(ics), "uid-d");
	cr_assert_eq(grove_txn_set(t, "alice/calendars/mix/d.ics", ics, strlen(ics)), 0);
	cr_assert_eq(grove_txn_commit(t, NULL, NULL), 0);
	grove_txn_free(t);
	cr_assert_eq(lookup(coll, "uid-a", name), 1);
	cr_assert_str_eq(name, "a.ics");
	cr_assert_eq(lookup(coll, "uid-b", name), 0, "deleted member still found: %s", name);
	cr_assert_eq(lookup(coll, "uid-c", name), 0, "old UID of a changed member: %s", name);
	cr_assert_eq(lookup(coll, "uid-c2", name), 1);
	cr_assert_str_eq(name, "c.ics");
	cr_assert_eq(lookup(coll, "uid-d", name), 1);
	cr_assert_str_eq(name, "d.ics");
}
