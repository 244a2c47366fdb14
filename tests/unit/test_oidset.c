/* The object-id set of the walks (store/oidset.c): membership across
 * growth, duplicates, the all-zero id kept out of band, ids sharing their
 * first bytes (one probe chain); the id array beside it (grove__oidvec). */
#include <criterion/criterion.h>
#include <string.h>

#include "oid.h"
#include "oidset.h"

static grove_oid make_id(unsigned n, int same_prefix)
{
	grove_oid id;
	memset(&id, 0, sizeof(id));
	if (same_prefix)
		memset(id.id, 0xab, 8); /* every id lands in the same slot */
	else
		memcpy(id.id, &n, sizeof(n));
	memcpy(id.id + 16, &n, sizeof(n));
	id.id[15] = 1; /* never the zero id */
	return id;
}

static void fill_and_check(int same_prefix, unsigned n)
{
	grove__oidset set = GROVE__OIDSET_INIT;
	for (unsigned i = 0; i < n; i++) {
		grove_oid id = make_id(i, same_prefix);
		cr_assert_eq(grove__oidset_add(&set, &id), 1, "id %u new", i);
		cr_assert_eq(grove__oidset_add(&set, &id), 0, "id %u again", i);
	}
	cr_assert_eq(set.count, n);
	for (unsigned i = 0; i < n; i++) {
		grove_oid id = make_id(i, same_prefix);
		cr_assert(grove__oidset_contains(&set, &id), "id %u kept through growth", i);
	}
	for (unsigned i = n; i < n + 100; i++) {
		grove_oid id = make_id(i, same_prefix);
		cr_assert(!grove__oidset_contains(&set, &id), "id %u never added", i);
	}
	grove__oidset_dispose(&set);
	cr_assert_eq(set.count, 0);
}

Test(oidset, many_ids_through_growth)
{
	fill_and_check(0, 50000);
}

Test(oidset, ids_in_one_probe_chain)
{
	fill_and_check(1, 3000);
}

Test(oidset, zero_id_out_of_band)
{
	grove__oidset set = GROVE__OIDSET_INIT;
	grove_oid zero, one = make_id(1, 0);
	memset(&zero, 0, sizeof(zero));
	cr_assert(!grove__oidset_contains(&set, &zero));
	cr_assert(!grove__oidset_contains(&set, &one), "empty set");
	cr_assert_eq(grove__oidset_add(&set, &zero), 1);
	cr_assert_eq(grove__oidset_add(&set, &zero), 0);
	cr_assert(grove__oidset_contains(&set, &zero));
	cr_assert(!grove__oidset_contains(&set, &one));
	cr_assert_eq(grove__oidset_add(&set, &one), 1);
	cr_assert_eq(set.count, 2);
	grove__oidset_dispose(&set);
	cr_assert(!grove__oidset_contains(&set, &zero), "disposed");
}

Test(oidvec, keeps_order_across_growth_and_empties_on_dispose)
{
	grove__oidvec v = GROVE__OIDVEC_INIT;
	for (unsigned i = 0; i < 1000; i++) {
		grove_oid id = make_id(i, 0);
		cr_assert_eq(grove__oidvec_push(&v, &id), 0);
	}
	cr_assert_eq(v.count, 1000);
	cr_assert_geq(v.cap, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		grove_oid id = make_id(i, 0);
		cr_assert_eq(memcmp(&v.ids[i], &id, sizeof(id)), 0, "id %u out of place", i);
	}
	/* As a stack: pop, then push again in place. */
	v.count--;
	{
		grove_oid id = make_id(5000, 0);
		cr_assert_eq(grove__oidvec_push(&v, &id), 0);
		cr_assert_eq(memcmp(&v.ids[999], &id, sizeof(id)), 0);
	}
	grove__oidvec_dispose(&v);
	cr_assert_null(v.ids);
	cr_assert_eq(v.count, 0);
	cr_assert_eq(v.cap, 0);
}
