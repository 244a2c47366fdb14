/* grove__dav_uid_map_note_set: after a PUT the collection's UID map is
 * carried to the new tree in place, with no listing.  The tests check the
 * answers after a note, that a note is really taken (a map moved by a
 * note answers without walking the collection), and that notes it cannot
 * apply safely are ignored. */
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

TestSuite(dav_uid_map_note, .init = setup, .fini = teardown);

static size_t event(char *ics, size_t cap, const char *uid, const char *summary)
{
	int n = snprintf(ics, cap,
			 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
			 "UID:%s\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n"
			 "SUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			 uid, summary);
	return (size_t)n;
}

/* Writes coll/name; *blob the blob id written. */
static void put_event(const char *coll, const char *name, const char *uid, const char *summary,
		      grove_oid *blob)
{
	char key[256], ics[1024];
	snprintf(key, sizeof(key), "%s/%s", coll, name);
	size_t len = event(ics, sizeof(ics), uid, summary);
	cr_assert_eq(grove_set(G, "main", key, ics, len, NULL, NULL), 0);
	if (blob)
		cr_assert_eq(grove_object_hash(GROVE_OBJ_BLOB, ics, len, blob), 0);
}

static void coll_tree(const char *coll, grove_oid *out)
{
	grove_view *v;
	grove_kind kind;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	cr_assert_eq(grove_view_id(v, coll, out, &kind), 0);
	cr_assert_eq(kind, GROVE_KIND_DIR);
	grove_view_free(v);
}

static int lookup(const char *coll, const char *uid, const char *skip, char *out)
{
	grove_view *v;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	char *name = NULL;
	int r = grove__dav_uid_map_find(G, v, DAV_CAL, coll, uid, skip, &name);
	grove_view_free(v);
	cr_assert_geq(r, 0);
	strcpy(out, name ? name : "");
	free(name);
	return r;
}

Test(dav_uid_map_note, update_and_new_member_answer_right)
{
	const char *coll = "alice/calendars/n1";
	char name[256];
	grove_oid t0, t1, t2, blob;
	put_event(coll, "a.ics", "uid-a", "one", NULL);
	put_event(coll, "b.ics", "uid-b", "two", NULL);
	cr_assert_eq(lookup(coll, "uid-a", "x.ics", name), 1); /* builds the map of t0 */
	coll_tree(coll, &t0);
	/* an update keeping its UID */
	put_event(coll, "a.ics", "uid-a", "one, edited", &blob);
	coll_tree(coll, &t1);
	grove__dav_uid_map_note_set(DAV_CAL, coll, &t0, &t1, "a.ics", &blob, "uid-a");
	cr_assert_eq(lookup(coll, "uid-a", "x.ics", name), 1);
	cr_assert_str_eq(name, "a.ics");
	cr_assert_eq(lookup(coll, "uid-a", "a.ics", name), 0);
	/* a new member */
	put_event(coll, "c.ics", "uid-c", "three", &blob);
	coll_tree(coll, &t2);
	grove__dav_uid_map_note_set(DAV_CAL, coll, &t1, &t2, "c.ics", &blob, "uid-c");
	cr_assert_eq(lookup(coll, "uid-c", "x.ics", name), 1);
	cr_assert_str_eq(name, "c.ics");
	cr_assert_eq(lookup(coll, "uid-b", "x.ics", name), 1);
	cr_assert_str_eq(name, "b.ics");
}

/* White box: a note for a tree the map holds is believed, so a false note
 * shows in the answers; that is how the test knows no walk happened. */
Test(dav_uid_map_note, a_note_is_taken_without_a_walk)
{
	const char *coll = "alice/calendars/n2";
	char name[256];
	grove_oid t0, t1, blob;
	put_event(coll, "a.ics", "uid-a", "one", NULL);
	cr_assert_eq(lookup(coll, "uid-a", NULL, name), 1);
	coll_tree(coll, &t0);
	put_event(coll, "b.ics", "uid-b", "two", &blob);
	coll_tree(coll, &t1);
	/* the note claims the new member holds "uid-claimed" */
	grove__dav_uid_map_note_set(DAV_CAL, coll, &t0, &t1, "b.ics", &blob, "uid-claimed");
	cr_assert_eq(lookup(coll, "uid-claimed", NULL, name), 1);
	cr_assert_str_eq(name, "b.ics");
}

Test(dav_uid_map_note, notes_it_cannot_apply_are_ignored)
{
	const char *coll = "alice/calendars/n3";
	char name[256];
	grove_oid t0, t1, t2, blob, other;
	put_event(coll, "a.ics", "uid-a", "one", NULL);
	cr_assert_eq(lookup(coll, "uid-a", NULL, name), 1);
	coll_tree(coll, &t0);
	/* a changed UID: ignored, the next lookup derives the map */
	put_event(coll, "a.ics", "uid-a2", "new uid", &blob);
	coll_tree(coll, &t1);
	grove__dav_uid_map_note_set(DAV_CAL, coll, &t0, &t1, "a.ics", &blob, "uid-a2");
	cr_assert_eq(lookup(coll, "uid-a", NULL, name), 0);
	cr_assert_eq(lookup(coll, "uid-a2", NULL, name), 1);
	cr_assert_str_eq(name, "a.ics");
	/* a note from a tree the map does not hold (another writer came
	 * first): ignored, even when it lies */
	put_event(coll, "b.ics", "uid-b", "two", &blob);
	coll_tree(coll, &t2);
	memset(&other, 0x5a, sizeof(other));
	grove__dav_uid_map_note_set(DAV_CAL, coll, &other, &t2, "b.ics", &blob, "uid-lie");
	cr_assert_eq(lookup(coll, "uid-lie", NULL, name), 0);
	cr_assert_eq(lookup(coll, "uid-b", NULL, name), 1);
	/* hidden names are not members; unknown collections are no-ops */
	grove__dav_uid_map_note_set(DAV_CAL, coll, &t2, &t2, ".props", &blob, "uid-h");
	cr_assert_eq(lookup(coll, "uid-h", NULL, name), 0);
	grove__dav_uid_map_note_set(DAV_CAL, "alice/calendars/none", &t0, &t1, "z.ics", &blob, "u");
	cr_assert_eq(lookup("alice/calendars/none", "u", NULL, name), 0);
}
