/* Run-time budgets of the store's caches (store/cache_budget.h): what a
 * setter changes is visible through the caches themselves. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cache_budget.h"
#include "grove.h"
#include "store.h"

static grove *G;

static void setup(void)
{
	cr_assert_eq(grove_open(&G, "mem:", NULL), 0);
}

static void teardown(void)
{
	grove_close(G);
}

TestSuite(cache_budget, .init = setup, .fini = teardown);

/* The root tree of main after writing n keys under dir/. */
static void root_tree(int n, grove_oid *out)
{
	char key[64];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "dir/k%04d", i);
		cr_assert_eq(grove_set(G, "main", key, "v", 1, NULL, NULL), 0);
	}
	grove_view *v;
	grove_kind kind;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	cr_assert_eq(grove_view_id(v, "dir", out, &kind), 0);
	cr_assert_eq(kind, GROVE_KIND_DIR);
	grove_view_free(v);
}

Test(cache_budget, getters_report_what_was_set)
{
	grove__tree_cache_set_budget(G, 3u << 20);
	cr_assert_eq(grove__tree_cache_budget(G), 3u << 20);
	grove__obj_cache_set_budget(G, 123456);
	cr_assert_eq(grove__obj_cache_budget(G), 123456);
	size_t was = grove__delta_base_cache_budget();
	grove__delta_base_cache_set_budget(5u << 20);
	cr_assert_eq(grove__delta_base_cache_budget(), 5u << 20);
	grove__delta_base_cache_set_budget(was);
	cr_assert_eq(grove__delta_base_cache_budget(), was);
}

Test(cache_budget, object_cache_budget_zero_keeps_nothing_new)
{
	grove_oid id;
	memset(&id, 0, sizeof(id));
	id.id[8] = 7;
	grove_buf out = { 0 };
	grove_otype type;
	grove__obj_cache_put(G->objects, &id, GROVE_OBJ_BLOB, "hello", 5);
	cr_assert_eq(grove__obj_cache_get(G->objects, &id, &type, &out), 1);
	cr_assert_eq(out.size, 5);
	grove_buf_dispose(&out);
	/* lowering the budget below what the cache holds empties it */
	grove__obj_cache_set_budget(G, 0);
	cr_assert_eq(grove__obj_cache_get(G->objects, &id, &type, &out), 0);
	grove__obj_cache_put(G->objects, &id, GROVE_OBJ_BLOB, "hello", 5);
	cr_assert_eq(grove__obj_cache_get(G->objects, &id, &type, &out), 0);
	/* and raising it lets entries in again */
	grove__obj_cache_set_budget(G, 1u << 20);
	grove__obj_cache_put(G->objects, &id, GROVE_OBJ_BLOB, "hello", 5);
	cr_assert_eq(grove__obj_cache_get(G->objects, &id, &type, &out), 1);
	cr_assert_eq(memcmp(out.data, "hello", 5), 0);
	grove_buf_dispose(&out);
}

Test(cache_budget, tree_cache_lowered_budget_empties_it)
{
	grove_oid dir;
	root_tree(50, &dir);
	grove__tree *a, *b, *c;
	cr_assert_eq(grove__tree_get(G, &dir, &a), 0);
	cr_assert_eq(grove__tree_get(G, &dir, &b), 0);
	cr_assert_eq(a, b, "a cached tree is shared");
	grove__tree_release(b);
	/* a budget of 1 byte, below the trees held (but the cache never goes
	 * below three of its largest trees: several small ones are there) */
	grove__tree_cache_set_budget(G, 1);
	cr_assert_eq(grove__tree_get(G, &dir, &c), 0);
	/* a is still referenced, so a parse made a new tree */
	cr_assert_neq(a, c, "the cache was emptied");
	cr_assert_eq(c->count, 50);
	grove__tree_release(a);
	grove__tree_release(c);
}

Test(cache_budget, tree_over_the_budget_stays_cached)
{
	grove_oid dir;
	root_tree(400, &dir);
	grove__tree_cache_set_budget(G, 1);
	grove__tree *a, *b;
	cr_assert_eq(grove__tree_get(G, &dir, &a), 0);
	/* other, smaller trees come and go; the big one is kept (three
	 * times the largest tree is the floor of the bound) */
	char key[64];
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "other%d/x", i);
		cr_assert_eq(grove_set(G, "main", key, "v", 1, NULL, NULL), 0);
	}
	grove_view *v;
	grove_oid small;
	grove_kind kind;
	cr_assert_eq(grove_view_open(&v, G, "main"), 0);
	cr_assert_eq(grove_view_id(v, "other0", &small, &kind), 0);
	grove_view_free(v);
	grove__tree *s;
	cr_assert_eq(grove__tree_get(G, &small, &s), 0);
	grove__tree_release(s);
	cr_assert_eq(grove__tree_get(G, &dir, &b), 0);
	cr_assert_eq(a, b, "the big tree was not evicted by small ones");
	grove__tree_release(a);
	grove__tree_release(b);
}
