/* The per-collection UID map of the PUT no-uid-conflict check
 * (grove__dav_uid_map_find in net/dav_report_index.c): it follows the
 * collection from tree to tree (unrelated changes, deletes, renames). */
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

TestSuite(dav_uid_map, .init = setup, .fini = teardown);

static void put_event(const char *coll, const char *name, const char *uid, const char *summary)
{
	char key[256], ics[1024];
	snprintf(key, sizeof(key), "%s/%s", coll, name);
	snprintf(ics, sizeof(ics),
		 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
		 "UID:%s\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n"
		 "SUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		 uid, summary);
	cr_assert_eq(grove_set(G, "main", key, ics, strlen(ics), NULL, NULL), 0);
}

/* 1 and the holder's name in out (or "" and 0) for uid, skipping skip. */
static int lookup(const char *coll, const char *uid, const char *skip, char *out)
{
	grove_view *v;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	char *name = NULL;
	int r = grove__dav_uid_map_find(G, v, DAV_CAL, coll, uid, skip, &name);
	grove_view_free(v);
	cr_assert_geq(r, 0);
	strcpy(out, name ? name : "");
	cr_assert_eq(r, name != NULL);
	free(name);
	return r;
}

Test(dav_uid_map, conflict_found_after_unrelated_change)
{
	const char *coll = "alice/calendars/c1";
	char name[256];
	put_event(coll, "a.ics", "uid-a", "one");
	put_event(coll, "b.ics", "uid-b", "two");
	cr_assert_eq(lookup(coll, "uid-a", "new.ics", name), 1);
	cr_assert_str_eq(name, "a.ics");
	/* an unrelated member changes: the map is derived, uid-a stays */
	put_event(coll, "b.ics", "uid-b", "two, edited");
	cr_assert_eq(lookup(coll, "uid-a", "new.ics", name), 1);
	cr_assert_str_eq(name, "a.ics");
	/* a new member: its UID is found too */
	put_event(coll, "c.ics", "uid-c", "three");
	cr_assert_eq(lookup(coll, "uid-c", "new.ics", name), 1);
	cr_assert_str_eq(name, "c.ics");
	/* the member itself (an update) is no conflict */
	cr_assert_eq(lookup(coll, "uid-a", "a.ics", name), 0);
	/* a member whose UID changed no longer holds the old one */
	put_event(coll, "b.ics", "uid-b2", "two, new uid");
	cr_assert_eq(lookup(coll, "uid-b", "new.ics", name), 0);
	cr_assert_eq(lookup(coll, "uid-b2", "new.ics", name), 1);
	cr_assert_str_eq(name, "b.ics");
}

Test(dav_uid_map, no_false_conflict_after_delete)
{
	const char *coll = "alice/calendars/c2";
	char name[256];
	put_event(coll, "a.ics", "uid-a", "one");
	put_event(coll, "b.ics", "uid-b", "two");
	cr_assert_eq(lookup(coll, "uid-a", "x.ics", name), 1);
	cr_assert_eq(grove_remove(G, "main", "alice/calendars/c2/a.ics", NULL, NULL), 0);
	cr_assert_eq(lookup(coll, "uid-a", "x.ics", name), 0);
	cr_assert_eq(lookup(coll, "uid-b", "x.ics", name), 1);
	cr_assert_str_eq(name, "b.ics");
	/* the UID may be reused under another name now */
	put_event(coll, "a2.ics", "uid-a", "one again");
	cr_assert_eq(lookup(coll, "uid-a", "x.ics", name), 1);
	cr_assert_str_eq(name, "a2.ics");
}

Test(dav_uid_map, collections_do_not_mix_and_missing_is_empty)
{
	char name[256];
	put_event("alice/calendars/c3", "a.ics", "uid-shared", "one");
	put_event("alice/calendars/c4", "z.ics", "uid-other", "two");
	cr_assert_eq(lookup("alice/calendars/c4", "uid-shared", NULL, name), 0);
	cr_assert_eq(lookup("alice/calendars/c3", "uid-shared", NULL, name), 1);
	cr_assert_eq(lookup("alice/calendars/none", "uid-shared", NULL, name), 0);
	/* hidden members and subdirectories are not members */
	put_event("alice/calendars/c5", ".hidden.ics", "uid-h", "h");
	put_event("alice/calendars/c5/sub", "s.ics", "uid-s", "s");
	cr_assert_eq(lookup("alice/calendars/c5", "uid-h", NULL, name), 0);
	cr_assert_eq(lookup("alice/calendars/c5", "uid-s", NULL, name), 0);
}

Test(dav_uid_map, many_collections_evict_and_rebuild)
{
	char coll[64], name[256];
	/* more collections than maps kept: answers stay right */
	for (int i = 0; i < 12; i++) {
		snprintf(coll, sizeof(coll), "bob/calendars/k%d", i);
		char uid[32];
		snprintf(uid, sizeof(uid), "u%d", i);
		put_event(coll, "e.ics", uid, "x");
		cr_assert_eq(lookup(coll, uid, NULL, name), 1);
	}
	for (int i = 0; i < 12; i++) {
		snprintf(coll, sizeof(coll), "bob/calendars/k%d", i);
		char uid[32];
		snprintf(uid, sizeof(uid), "u%d", i);
		cr_assert_eq(lookup(coll, uid, NULL, name), 1);
		snprintf(uid, sizeof(uid), "u%d", (i + 1) % 12);
		cr_assert_eq(lookup(coll, uid, NULL, name), 0);
	}
}
