/* Keys, views, transactions, branches and CAS on every backend kind that
 * needs no fixture (mem:) and on lmdb: in a temporary directory. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grove.h"

static char tmpdir[256];
static const char *kind_names[] = { "mem", "lmdb", "git" };

static grove *open_store(const char *kind)
{
	grove *g = NULL;
	char loc[400];
	if (!strcmp(kind, "mem")) {
		snprintf(loc, sizeof(loc), "mem:");
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/grove-core-XXXXXX");
		cr_assert_not_null(mkdtemp(tmpdir));
		snprintf(loc, sizeof(loc), "%s:%s/store", kind, tmpdir);
	}
	cr_assert_eq(grove_open(&g, loc, NULL), 0, "open %s: %s", loc, grove_error_message());
	return g;
}

static void cleanup_dir(void)
{
	if (tmpdir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		cr_assert_eq(system(cmd), 0);
		tmpdir[0] = '\0';
	}
}

static const grove_signature alice = { "Alice", "alice@example.org", 1700000000, 60 };
static const grove_commit_opts copts = { &alice, &alice, "test commit" };

static void set1(grove *g, const char *branch, const char *key, const char *val)
{
	grove_oid id;
	cr_assert_eq(grove_set(g, branch, key, val, strlen(val), &copts, &id), 0, "set %s: %s", key, grove_error_message());
}

static void expect_value(grove *g, const char *rev, const char *key, const char *val)
{
	grove_buf b = { 0 };
	cr_assert_eq(grove_get(g, rev, key, &b), 0, "get %s: %s", key, grove_error_message());
	cr_assert_eq(b.size, strlen(val));
	cr_assert_eq(memcmp(b.data, val, b.size), 0);
	grove_buf_dispose(&b);
}

Test(keys, invalid_keys_rejected)
{
	const char *bad[] = { "", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", ".git", "x/.GIT/y", NULL };
	for (int i = 0; bad[i]; i++) {
		cr_expect_eq(grove_key_validate(bad[i]), GROVE_EINVALID, "key '%s' accepted", bad[i]);
		cr_expect_neq(grove_error_message()[0], '\0');
	}
	cr_expect_eq(grove_key_validate_n("a\0b", 3), GROVE_EINVALID);
	char *big = malloc(GROVE_KEY_MAX + 2);
	memset(big, 'k', GROVE_KEY_MAX + 1);
	big[GROVE_KEY_MAX + 1] = '\0';
	cr_expect_eq(grove_key_validate(big), GROVE_EINVALID);
	big[GROVE_KEY_MAX] = '\0';
	cr_expect_eq(grove_key_validate(big), 0);
	free(big);
	cr_expect_eq(grove_key_validate("a/b.c/.gitignore"), 0);
}

Test(keys, ref_names)
{
	cr_expect_eq(grove_ref_name_validate("refs/heads/main"), 0);
	cr_expect_eq(grove_ref_name_validate("refs/heads/a..b"), GROVE_EINVALID);
	cr_expect_eq(grove_ref_name_validate("refs/heads/x.lock"), GROVE_EINVALID);
	cr_expect_eq(grove_ref_name_validate("refs/heads/a b"), GROVE_EINVALID);
	cr_expect_eq(grove_ref_name_validate("refs/heads/.hidden"), GROVE_EINVALID);
	cr_expect_eq(grove_ref_name_validate("refs/heads/x@{1}"), GROVE_EINVALID);
	cr_expect_eq(grove_branch_name_validate("-x"), GROVE_EINVALID);
	cr_expect_eq(grove_branch_name_validate("feature/one"), 0);
}

Test(oid, hex_roundtrip_and_blob_hash)
{
	grove_oid id;
	char hex[41];
	/* git hash-object of "hello\n" */
	cr_assert_eq(grove_object_hash(GROVE_OBJ_BLOB, "hello\n", 6, &id), 0);
	cr_expect_str_eq(grove_oid_tohex(hex, &id), "ce013625030ba8dba906f756967f9e9ca394464a");
	cr_assert_eq(grove_oid_fromhex(&id, "ce013625030ba8dba906f756967f9e9ca394464a"), 0);
	cr_expect_eq(grove_oid_fromhex(&id, "zz013625030ba8dba906f756967f9e9ca394464a"), GROVE_EINVALID);
	cr_expect_eq(grove_oid_fromhex(&id, "ce01"), GROVE_EINVALID);
}

ParameterizedTestParameters(core, basic)
{
	/* Indexes, not pointers: Criterion may run each test in a new process. */
	static int kinds[] = { 0, 1, 2 };
	return cr_make_param_array(int, kinds, 3);
}

ParameterizedTest(int *kind, core, basic)
{
	grove *g = open_store(kind_names[*kind]);
	grove_entry_list list = { 0 };
	grove_buf b = { 0 };
	grove_oid c1, c2;

	/* An unborn branch reads as empty. */
	cr_expect_eq(grove_exists(g, "main", "a/b"), 0);
	cr_expect_eq(grove_get(g, "main", "a/b", &b), GROVE_ENOTFOUND);

	set1(g, "main", "a/b", "one");
	set1(g, "main", "a/c", "two");
	set1(g, "main", "top", "three");
	expect_value(g, "main", "a/b", "one");
	expect_value(g, "HEAD", "a/c", "two");
	cr_expect_eq(grove_exists(g, "main", "a"), 0, "a directory is not a value");
	cr_expect_eq(grove_get(g, "main", "a", &b), GROVE_ENOTFOUND);
	cr_expect_eq(grove_get(g, "main", "nope", &b), GROVE_ENOTFOUND);
	cr_expect_eq(grove_get(g, "main", "../x", &b), GROVE_EINVALID);
	cr_expect_eq(grove_get(g, "nobranch-x", "a/b", &b), GROVE_ENOTFOUND);

	cr_assert_eq(grove_list(g, "main", "", &list), 0);
	cr_expect_eq(list.count, 2);
	cr_expect_str_eq(list.entries[0].name, "a");
	cr_expect_eq(list.entries[0].kind, GROVE_KIND_DIR);
	cr_expect_str_eq(list.entries[1].name, "top");
	grove_entry_list_dispose(&list);

	cr_assert_eq(grove_branch_head(g, "main", &c1), 0);
	cr_assert_eq(grove_remove(g, "main", "a", &copts, &c2), 0);
	cr_expect_eq(grove_exists(g, "main", "a/b"), 0);
	cr_expect_eq(grove_remove(g, "main", "a", &copts, &c2), GROVE_ENOTFOUND);
	/* The old commit still reads as it was. */
	{
		char hex[41];
		grove_oid_tohex(hex, &c1);
		expect_value(g, hex, "a/b", "one");
	}
	grove_close(g);
	cleanup_dir();
}

ParameterizedTestParameters(core, txn)
{
	/* Indexes, not pointers: Criterion may run each test in a new process. */
	static int kinds[] = { 0, 1, 2 };
	return cr_make_param_array(int, kinds, 3);
}

ParameterizedTest(int *kind, core, txn)
{
	grove *g = open_store(kind_names[*kind]);
	grove_txn *t, *t2;
	grove_buf b = { 0 };
	grove_oid c, head;
	grove_entry_list list = { 0 };

	cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
	cr_assert_eq(grove_txn_set(t, "x/1", "v1", 2), 0);
	cr_assert_eq(grove_txn_set(t, "x/2", "v2", 2), 0);
	cr_assert_eq(grove_txn_set(t, "y", "v3", 2), 0);
	cr_assert_eq(grove_txn_remove(t, "x/2"), 0);
	cr_expect_eq(grove_txn_remove(t, "x/2"), GROVE_ENOTFOUND);
	cr_assert_eq(grove_txn_get(t, "x/1", &b), 0);
	cr_expect_eq(b.size, 2);
	grove_buf_dispose(&b);
	cr_expect_eq(grove_txn_exists(t, "x/2"), 0);
	cr_assert_eq(grove_txn_list(t, "x", &list), 0);
	cr_expect_eq(list.count, 1);
	grove_entry_list_dispose(&list);
	cr_expect_eq(grove_txn_set(t, "bad//key", "v", 1), GROVE_EINVALID);
	/* Nothing visible before commit. */
	cr_expect_eq(grove_exists(g, "main", "y"), 0);
	cr_assert_eq(grove_txn_commit(t, &copts, &c), 0, "%s", grove_error_message());
	cr_assert_eq(grove_branch_head(g, "main", &head), 0);
	cr_expect(grove_oid_cmp(&c, &head) == 0);
	expect_value(g, "main", "x/1", "v1");
	grove_txn_free(t);

	/* CAS: two transactions from the same head; the second one loses. */
	cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
	cr_assert_eq(grove_txn_begin(&t2, g, "main"), 0);
	cr_assert_eq(grove_txn_set(t, "k", "first", 5), 0);
	cr_assert_eq(grove_txn_set(t2, "j", "second", 6), 0);
	cr_assert_eq(grove_txn_commit(t, &copts, NULL), 0);
	cr_assert_eq(grove_branch_head(g, "main", &head), 0);
	cr_expect_eq(grove_txn_commit(t2, &copts, NULL), GROVE_EHEADMOVED);
	cr_expect(strstr(grove_error_message(), "moved") != NULL);
	{
		grove_oid now;
		cr_assert_eq(grove_branch_head(g, "main", &now), 0);
		cr_expect(grove_oid_cmp(&now, &head) == 0, "failed CAS changed the branch");
	}
	cr_expect_eq(grove_exists(g, "main", "j"), 0);
	/* Rebase re-applies and then commits. */
	cr_assert_eq(grove_txn_rebase(t2), 0);
	cr_assert_eq(grove_txn_commit(t2, &copts, NULL), 0);
	expect_value(g, "main", "k", "first");
	expect_value(g, "main", "j", "second");
	grove_txn_free(t);
	grove_txn_free(t2);

	/* set_tree replaces a directory wholesale. */
	{
		grove_item items[2] = { { "p/q", "1", 1 }, { "r", "22", 2 } };
		grove_item_list all = { 0 };
		grove_view *v;
		cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
		cr_assert_eq(grove_txn_set_tree(t, "x", items, 2), 0);
		cr_assert_eq(grove_txn_commit(t, &copts, NULL), 0);
		grove_txn_free(t);
		cr_expect_eq(grove_exists(g, "main", "x/1"), 0);
		expect_value(g, "main", "x/p/q", "1");
		cr_assert_eq(grove_view_open(&v, g, "main"), 0);
		cr_assert_eq(grove_view_read_tree(v, "x", &all), 0);
		cr_expect_eq(all.count, 2);
		cr_expect_str_eq(all.items[0].key, "p/q");
		cr_expect_str_eq(all.items[1].key, "r");
		grove_item_list_dispose(&all);
		{
			grove_oid id;
			grove_kind k;
			cr_assert_eq(grove_view_id(v, "x", &id, &k), 0);
			cr_expect_eq(k, GROVE_KIND_DIR);
			cr_expect_eq(grove_view_id(v, "zzz", &id, &k), GROVE_ENOTFOUND);
		}
		grove_view_free(v);
	}
	grove_close(g);
	cleanup_dir();
}

Test(core, branches)
{
	grove *g = open_store("mem");
	grove_strarray names = { 0 };
	grove_oid a, b, zero = { { 0 } };
	char *head = NULL;

	set1(g, "main", "k", "1");
	cr_assert_eq(grove_branch_head(g, "main", &a), 0);
	cr_assert_eq(grove_branch_create(g, "dev", "main", 0), 0);
	cr_expect_eq(grove_branch_create(g, "dev", "main", 0), GROVE_EEXISTS);
	cr_expect_eq(grove_branch_create(g, "bad..name", "main", 0), GROVE_EINVALID);
	cr_expect_eq(grove_branch_create(g, "x", "missing", 0), GROVE_ENOTFOUND);
	set1(g, "dev", "k", "2");
	cr_assert_eq(grove_branch_head(g, "dev", &b), 0);
	expect_value(g, "main", "k", "1");
	expect_value(g, "dev", "k", "2");
	cr_assert_eq(grove_branch_list(g, &names), 0);
	cr_expect_eq(names.count, 2);
	cr_expect_str_eq(names.strings[0], "dev");
	grove_strarray_dispose(&names);

	/* Test-and-set. */
	cr_expect_eq(grove_branch_set_head(g, "main", &b, &a), GROVE_EHEADMOVED);
	cr_expect_eq(grove_branch_set_head(g, "main", &zero, &a), GROVE_EHEADMOVED);
	cr_expect_eq(grove_branch_set_head(g, "new", &zero, &a), 0);
	/* Fast-forward main to dev works, the reverse does not. */
	cr_expect_eq(grove_branch_fast_forward(g, "main", &b), 0);
	expect_value(g, "main", "k", "2");
	cr_expect_eq(grove_branch_fast_forward(g, "main", &a), GROVE_ENOTFF);
	cr_expect_eq(grove_branch_delete(g, "dev"), 0);
	cr_expect_eq(grove_branch_delete(g, "dev"), GROVE_ENOTFOUND);
	cr_expect_eq(grove_branch_head(g, "dev", &a), GROVE_ENOTFOUND);

	cr_assert_eq(grove_head_branch(g, &head), 0);
	cr_expect_str_eq(head, "main");
	free(head);
	grove_close(g);
}

Test(core, read_only_store_refuses_writes)
{
	grove *g;
	grove_options o = GROVE_OPTIONS_INIT;
	o.read_only = 1;
	cr_assert_eq(grove_open(&g, "mem:", &o), 0);
	cr_expect_eq(grove_set(g, "main", "k", "v", 1, NULL, NULL), GROVE_EREADONLY);
	cr_expect(strstr(grove_error_message(), "read-only") != NULL);
	grove_close(g);
}

static int watch_calls;
static grove_oid watch_new;
static size_t watch_diff_count;

static void on_change(grove *g, const char *branch, const grove_oid *old_head,
	const grove_oid *new_head, const grove_diff *diff, void *payload)
{
	(void)g; (void)old_head; (void)payload;
	cr_expect_str_eq(branch, "main");
	watch_calls++;
	watch_new = *new_head;
	watch_diff_count = diff->count;
}

Test(core, watches_fire_on_commit_and_poll)
{
	grove *g = open_store("lmdb"), *other;
	char loc[400];
	uint64_t id;
	grove_oid c;
	snprintf(loc, sizeof(loc), "lmdb:%s/store", tmpdir);
	cr_assert_eq(grove_open(&other, loc, NULL), 0, "%s", grove_error_message());

	cr_assert_eq(grove_watch_add(g, "main", "cal", on_change, NULL, &id), 0);
	cr_assert_eq(grove_set(g, "main", "cal/a.ics", "x", 1, &copts, &c), 0);
	cr_expect_eq(watch_calls, 1);
	cr_expect(grove_oid_cmp(&watch_new, &c) == 0);
	cr_expect_eq(watch_diff_count, 1);
	/* Outside the prefix: no call. */
	cr_assert_eq(grove_set(g, "main", "card/b.vcf", "y", 1, &copts, &c), 0);
	cr_expect_eq(watch_calls, 1);
	/* Another handle writes: poll notices. */
	cr_assert_eq(grove_set(other, "main", "cal/c.ics", "z", 1, &copts, &c), 0);
	cr_expect_eq(watch_calls, 1);
	cr_assert_eq(grove_poll(g), 0);
	cr_expect_eq(watch_calls, 2);
	cr_expect(grove_oid_cmp(&watch_new, &c) == 0);
	cr_assert_eq(grove_poll(g), 0);
	cr_expect_eq(watch_calls, 2, "poll fired twice for one change");
	cr_assert_eq(grove_watch_remove(g, id), 0);
	cr_expect_eq(grove_watch_remove(g, id), GROVE_ENOTFOUND);
	grove_close(other);
	grove_close(g);
	cleanup_dir();
}

Test(core, diff_between_commits)
{
	grove *g = open_store("mem");
	grove_oid c1, c2;
	grove_diff d = { 0 };
	set1(g, "main", "a", "1");
	set1(g, "main", "d/x", "2");
	cr_assert_eq(grove_branch_head(g, "main", &c1), 0);
	set1(g, "main", "a", "changed");
	set1(g, "main", "d/y", "3");
	cr_assert_eq(grove_remove(g, "main", "d/x", &copts, NULL), 0);
	cr_assert_eq(grove_branch_head(g, "main", &c2), 0);
	cr_assert_eq(grove_diff_commits(g, &c1, &c2, NULL, &d), 0);
	cr_assert_eq(d.count, 3);
	cr_expect_str_eq(d.entries[0].path, "a");
	cr_expect_eq(d.entries[0].kind, GROVE_DIFF_MODIFIED);
	cr_expect_str_eq(d.entries[1].path, "d/x");
	cr_expect_eq(d.entries[1].kind, GROVE_DIFF_REMOVED);
	cr_expect_str_eq(d.entries[2].path, "d/y");
	cr_expect_eq(d.entries[2].kind, GROVE_DIFF_ADDED);
	grove_diff_dispose(&d);
	cr_assert_eq(grove_diff_commits(g, &c1, &c2, "d", &d), 0);
	cr_expect_eq(d.count, 2);
	grove_diff_dispose(&d);
	/* A prefix in neither commit: no difference, no error. */
	cr_assert_eq(grove_diff_commits(g, &c1, &c2, "nowhere/at/all", &d), 0,
		"%s", grove_error_message());
	cr_expect_eq(d.count, 0);
	grove_diff_dispose(&d);
	/* Value replaced by a directory. */
	set1(g, "main", "a/inner", "4");
	cr_assert_eq(grove_branch_head(g, "main", &c1), 0);
	cr_assert_eq(grove_diff_commits(g, &c2, &c1, NULL, &d), 0);
	cr_assert_eq(d.count, 2);
	cr_expect_eq(d.entries[0].kind, GROVE_DIFF_REMOVED);
	cr_expect_str_eq(d.entries[1].path, "a/inner");
	grove_diff_dispose(&d);
	grove_close(g);
}

#include "object.h"

/* "q.b" sorts before the directory "q" ("q/") but after a value "q": the
 * transaction must insert new directories where git's order puts them. */
Test(core, tree_order_of_new_directories)
{
	grove *g = open_store("mem");
	grove_txn *t;
	grove_oid c, tree;
	grove_buf raw = { 0 };
	grove_otype type;
	grove_commit *commit;
	cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
	cr_assert_eq(grove_txn_set(t, "q.b", "1", 1), 0);
	cr_assert_eq(grove_txn_set(t, "q-a", "1", 1), 0);
	cr_assert_eq(grove_txn_set(t, "q/x", "2", 1), 0);
	cr_assert_eq(grove_txn_set(t, "q0", "3", 1), 0);
	cr_assert_eq(grove_txn_commit(t, &copts, &c), 0);
	grove_txn_free(t);
	expect_value(g, "main", "q/x", "2");
	expect_value(g, "main", "q.b", "1");
	cr_assert_eq(grove_commit_read(g, &c, &commit), 0);
	tree = commit->tree;
	grove_commit_free(commit);
	cr_assert_eq(grove_object_read(g, &tree, &type, &raw), 0);
	cr_expect_eq(grove__object_check(GROVE_OBJ_TREE, raw.data, raw.size), 0, "%s", grove_error_message());
	grove_buf_dispose(&raw);
	grove_close(g);
}

/* More values than the small-object cache has slots, read twice: every
 * read must return its own value whatever the cache evicted. */
Test(core, many_values_read_back_through_the_cache)
{
	grove *g = open_store("lmdb");
	grove_txn *t;
	grove_view *v;
	enum { N = 20000 };
	char key[32], val[64];
	cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "d%02d/k%05d", i % 50, i);
		snprintf(val, sizeof(val), "value-%d", i);
		cr_assert_eq(grove_txn_set(t, key, val, strlen(val)), 0);
	}
	cr_assert_eq(grove_txn_commit(t, &copts, NULL), 0);
	grove_txn_free(t);
	cr_assert_eq(grove_view_open(&v, g, "main"), 0);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < N; i += (pass ? 7 : 1)) {
			grove_buf b = { 0 };
			snprintf(key, sizeof(key), "d%02d/k%05d", i % 50, i);
			snprintf(val, sizeof(val), "value-%d", i);
			cr_assert_eq(grove_view_get(v, key, &b), 0, "%s", grove_error_message());
			cr_assert_eq(b.size, strlen(val));
			cr_assert_eq(memcmp(b.data, val, b.size), 0, "wrong value for %s", key);
			grove_buf_dispose(&b);
		}
	}
	grove_view_free(v);
	grove_close(g);
	cleanup_dir();
}

/* A large directory read from the store gets new entries appended and
 * merged at commit: the written tree must be in git's order with every
 * entry present, including a new directory that sorts as "name/". */
Test(core, large_directory_edits_stay_in_tree_order)
{
	grove *g = open_store("mem");
	grove_txn *t;
	grove_oid c;
	grove_commit *commit;
	grove_buf raw = { 0 };
	grove_otype type;
	grove_entry_list list = { 0 };
	char key[64];
	cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
	for (int i = 0; i < 1000; i += 2) {
		snprintf(key, sizeof(key), "big/e%04d.ics", i);
		cr_assert_eq(grove_txn_set(t, key, "x", 1), 0);
	}
	cr_assert_eq(grove_txn_set(t, "big/q.b", "x", 1), 0);
	cr_assert_eq(grove_txn_commit(t, &copts, NULL), 0);
	grove_txn_free(t);

	cr_assert_eq(grove_txn_begin(&t, g, "main"), 0);
	for (int i = 999; i > 0; i -= 50) {
		snprintf(key, sizeof(key), "big/e%04d.ics", i);
		cr_assert_eq(grove_txn_set(t, key, "y", 1), 0);
	}
	cr_assert_eq(grove_txn_set(t, "big/q/inner", "z", 1), 0);
	cr_assert_eq(grove_txn_set(t, "big/a-first", "z", 1), 0);
	cr_assert_eq(grove_txn_remove(t, "big/e0010.ics"), 0);
	cr_assert_eq(grove_txn_commit(t, &copts, &c), 0, "%s", grove_error_message());
	grove_txn_free(t);

	cr_assert_eq(grove_list(g, "main", "big", &list), 0);
	cr_expect_eq(list.count, 500 + 1 + 20 + 2 - 1);
	grove_entry_list_dispose(&list);
	expect_value(g, "main", "big/e0999.ics", "y");
	expect_value(g, "main", "big/q/inner", "z");
	expect_value(g, "main", "big/q.b", "x");
	cr_expect_eq(grove_exists(g, "main", "big/e0010.ics"), 0);
	{
		grove_oid big;
		grove_kind kind;
		grove_view *v;
		cr_assert_eq(grove_view_open(&v, g, "main"), 0);
		cr_assert_eq(grove_view_id(v, "big", &big, &kind), 0);
		grove_view_free(v);
		cr_assert_eq(grove_object_read(g, &big, &type, &raw), 0);
		cr_expect_eq(grove__object_check(GROVE_OBJ_TREE, raw.data, raw.size), 0, "%s",
			grove_error_message());
		grove_buf_dispose(&raw);
	}
	cr_assert_eq(grove_commit_read(g, &c, &commit), 0);
	grove_commit_free(commit);
	grove_close(g);
}
