/* The tree and object caches are two-way set associative: two entries
 * whose ids share a bucket are both kept, the least recently used of a
 * bucket is the one replaced, and an id put twice is kept once. */
#include <criterion/criterion.h>
#include <string.h>

#include "grove.h"
#include "object.h"
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

TestSuite(cache_assoc, .init = setup, .fini = teardown);

/* Ids equal in every byte either cache hashes, told apart by the last. */
static grove_oid colliding(unsigned char last)
{
	grove_oid id;
	memset(&id, 0x5a, sizeof(id));
	id.id[GROVE_OID_RAWSZ - 1] = last;
	return id;
}

static void put_tree(const grove_oid *id)
{
	grove__tree_entry e = { "f", 1, GROVE_MODE_BLOB, colliding(0) };
	grove__tree *t;
	cr_assert_eq(grove__tree_from_entries(id, &e, 1, &t), 0);
	grove__tree_cache_put(G, t);
	grove__tree_release(t);
}

/* A hit never reads the store; these ids are in no store, so a miss is
 * GROVE_ENOTFOUND. */
static int tree_cached(const grove_oid *id)
{
	grove__tree *t;
	int rc = grove__tree_get(G, id, &t);
	if (rc == 0)
		grove__tree_release(t);
	else
		grove_error_clear();
	return rc == 0;
}

Test(cache_assoc, trees_sharing_a_bucket)
{
	grove_oid a = colliding(1), b = colliding(2), c = colliding(3);
	put_tree(&a);
	put_tree(&b);
	cr_assert(tree_cached(&a) && tree_cached(&b), "both kept");
	/* b was used last: c replaces a. */
	cr_assert(tree_cached(&b));
	put_tree(&c);
	cr_assert(tree_cached(&c));
	cr_assert(tree_cached(&b), "the more recently used stays");
	cr_assert_not(tree_cached(&a), "the least recently used goes");
	/* Putting a cached id again keeps one copy and evicts nothing. */
	put_tree(&c);
	cr_assert(tree_cached(&b) && tree_cached(&c));
}

static int obj_cached(const grove_oid *id, const char *want)
{
	grove_buf out = { 0 };
	grove_otype t;
	int hit = grove__obj_cache_get(G->objects, id, &t, &out);
	if (hit) {
		cr_assert_eq(t, GROVE_OBJ_BLOB);
		cr_assert_str_eq(out.data, want);
		grove_buf_dispose(&out);
	}
	return hit;
}

Test(cache_assoc, objects_sharing_a_bucket)
{
	grove_oid a = colliding(1), b = colliding(2), c = colliding(3);
	grove__obj_cache_put(G->objects, &a, GROVE_OBJ_BLOB, "aaa", 3);
	grove__obj_cache_put(G->objects, &b, GROVE_OBJ_BLOB, "bbb", 3);
	cr_assert(obj_cached(&a, "aaa") && obj_cached(&b, "bbb"), "both kept");
	cr_assert(obj_cached(&a, "aaa"));
	grove__obj_cache_put(G->objects, &c, GROVE_OBJ_BLOB, "ccc", 3);
	cr_assert(obj_cached(&c, "ccc"));
	cr_assert(obj_cached(&a, "aaa"), "the more recently used stays");
	cr_assert_not(obj_cached(&b, "bbb"), "the least recently used goes");
	/* The same id put again replaces its bytes, in place. */
	grove__obj_cache_put(G->objects, &c, GROVE_OBJ_BLOB, "CCC", 3);
	cr_assert(obj_cached(&c, "CCC"));
	cr_assert(obj_cached(&a, "aaa"));
}
