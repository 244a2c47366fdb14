/*
 * The floor: raw LMDB with no hashing, no compression, no git formats.
 * W1: per transaction 4 puts of object-sized values under random 20-byte
 * keys (blob 200 B, two trees ~3.2 KB, commit ~250 B) and 1 ref put, with
 * MDB_NOSYNC.  W3: mdb_get of random keys of a 10,000-key database.
 */
#include "bench.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TREE_SIZE (BENCH_KEYS_PER_DIR * 32)
#define COMMIT_SIZE 250

static int fail_mdb(bench_result *r, const char *what, int rc)
{
	return bench_fail(r, "%s: %s", what, mdb_strerror(rc));
}

static int open_env(const bench_env *e, bench_result *r, const char *name, MDB_env **env,
	unsigned extra_flags)
{
	char dir[4096];
	int rc;
	snprintf(dir, sizeof(dir), "%s/%s", e->tmp, name);
	bench_rmrf(dir);
	mkdir(dir, 0755);
	if ((rc = mdb_env_create(env)) != 0)
		return fail_mdb(r, "env_create", rc);
	mdb_env_set_maxdbs(*env, 4);
	mdb_env_set_mapsize(*env, (size_t)8 << 30);
	if ((rc = mdb_env_open(*env, dir, MDB_NOSYNC | MDB_NOMETASYNC | extra_flags, 0644)) != 0) {
		mdb_env_close(*env);
		return fail_mdb(r, "env_open", rc);
	}
	return 0;
}

static void random_oid(unsigned char *oid, uint64_t *seed)
{
	for (int k = 0; k < 20; k += 4) {
		uint64_t x = bench_rand(seed);
		memcpy(oid + k, &x, 4);
	}
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen, const void *v, size_t vlen)
{
	MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };
	return mdb_put(txn, dbi, &key, &val, 0);
}

static int w1_raw(const bench_env *e, bench_result *r, unsigned extra_flags)
{
	static unsigned char blob[BENCH_VALUE_SIZE], tree[TREE_SIZE], commit[COMMIT_SIZE];
	const char ref[] = "refs/heads/main";
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi objs, refs;
	unsigned char oid[20];
	uint64_t seed = 7, n = 0;
	double t0, t1;
	int rc;

	memset(tree, 't', sizeof(tree));
	memset(commit, 'c', sizeof(commit));
	if (open_env(e, r, "w1-lmdb-raw", &env, extra_flags) < 0)
		return -1;
	/* The pre-populated store: 10,000 blobs, 101 trees, one commit. */
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "objects", MDB_CREATE, &objs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "refs", MDB_CREATE, &refs)) != 0) {
		fail_mdb(r, "setup", rc);
		goto out;
	}
	for (size_t i = 0; i < BENCH_KEYS + BENCH_DIRS + 2; i++) {
		bench_value((char *)blob, i, 0);
		random_oid(oid, &seed);
		if (i < BENCH_KEYS)
			rc = put(txn, objs, oid, 20, blob, sizeof(blob));
		else
			rc = put(txn, objs, oid, 20, tree, sizeof(tree));
		if (rc) {
			mdb_txn_abort(txn);
			fail_mdb(r, "populate", rc);
			goto out;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		fail_mdb(r, "populate commit", rc);
		goto out;
	}

	bench_cpu_start(r);
	t0 = bench_now();
	for (;;) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		bench_value((char *)blob, i, n + 1);
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
			fail_mdb(r, "txn_begin", rc);
			goto out;
		}
		random_oid(oid, &seed);
		rc = put(txn, objs, oid, 20, blob, sizeof(blob));
		random_oid(oid, &seed);
		if (!rc)
			rc = put(txn, objs, oid, 20, tree, sizeof(tree));
		random_oid(oid, &seed);
		if (!rc)
			rc = put(txn, objs, oid, 20, tree, sizeof(tree));
		random_oid(oid, &seed);
		if (!rc)
			rc = put(txn, objs, oid, 20, commit, sizeof(commit));
		if (!rc)
			rc = put(txn, refs, ref, sizeof(ref) - 1, oid, 20);
		if (rc) {
			mdb_txn_abort(txn);
			fail_mdb(r, "put", rc);
			goto out;
		}
		if ((rc = mdb_txn_commit(txn)) != 0) {
			fail_mdb(r, "commit", rc);
			goto out;
		}
		n++;
		t1 = bench_now();
		if (t1 - t0 >= e->secs)
			break;
	}
	r->n = n;
	bench_cpu_stop(r);
	r->secs = t1 - t0;
	r->value = (double)n / r->secs;
	snprintf(r->unit, sizeof(r->unit), "txns/s");
	bench_note(r, "per txn: 4 mdb_put (200 B, 2 x %d B, %d B) under random 20-byte keys + "
		"1 ref put, MDB_NOSYNC%s; %llu txns", TREE_SIZE, COMMIT_SIZE,
		extra_flags & MDB_WRITEMAP ? " | MDB_WRITEMAP" : "", (unsigned long long)n);
out:
	mdb_env_close(env);
	return r->failed ? -1 : 0;
}

int w1_lmdb_raw(const bench_env *e, bench_result *r)
{
	return w1_raw(e, r, 0);
}

/* The same with MDB_WRITEMAP: dirty pages live in the map, no pwrite at commit. */
int w1_lmdb_raw_writemap(const bench_env *e, bench_result *r)
{
	return w1_raw(e, r, MDB_WRITEMAP);
}

int w3_lmdb_raw(const bench_env *e, bench_result *r)
{
	static char keys[BENCH_KEYS][48];
	char value[BENCH_VALUE_SIZE];
	double *lat = malloc(sizeof(double) * BENCH_W3_GETS);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint64_t seed = 42, bytes = 0;
	double t0, t1;
	int rc;

	if (!lat)
		return bench_fail(r, "out of memory");
	if (open_env(e, r, "w3-lmdb-raw", &env, 0) < 0) {
		free(lat);
		return -1;
	}
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "kv", MDB_CREATE, &dbi)) != 0) {
		fail_mdb(r, "setup", rc);
		goto out;
	}
	for (size_t i = 0; i < BENCH_KEYS; i++) {
		bench_key(keys[i], i);
		bench_value(value, i, 0);
		if ((rc = put(txn, dbi, keys[i], strlen(keys[i]), value, sizeof(value))) != 0) {
			mdb_txn_abort(txn);
			fail_mdb(r, "populate", rc);
			goto out;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		fail_mdb(r, "populate commit", rc);
		goto out;
	}
	bench_cpu_start(r);
	t0 = bench_now();
	for (size_t k = 0; k < BENCH_W3_GETS; k++) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		MDB_val key = { strlen(keys[i]), keys[i] }, val;
		if ((rc = mdb_get(txn, dbi, &key, &val)) != 0) {
			fail_mdb(r, keys[i], rc);
			break;
		}
		bytes += val.mv_size;
	}
	t1 = bench_now();
	bench_cpu_stop(r);
	for (size_t k = 0; k < BENCH_W3_GETS && !rc; k++) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		MDB_val key = { strlen(keys[i]), keys[i] }, val;
		double a = bench_now();
		rc = mdb_get(txn, dbi, &key, &val);
		lat[k] = (bench_now() - a) * 1e9;
	}
	mdb_txn_abort(txn);
	if (rc) {
		if (!r->failed)
			fail_mdb(r, "get", rc);
		goto out;
	}
	r->n = BENCH_W3_GETS;
	r->secs = t1 - t0;
	r->value = (double)BENCH_W3_GETS / r->secs;
	r->p50_ns = bench_quantile(lat, BENCH_W3_GETS, 0.50);
	r->p99_ns = bench_quantile(lat, BENCH_W3_GETS, 0.99);
	snprintf(r->unit, sizeof(r->unit), "gets/s");
	bench_note(r, "1,000,000 mdb_get of random keys in one read txn (%llu bytes); latency "
		"from a second, clock-timed pass", (unsigned long long)bytes);
out:
	mdb_env_close(env);
	free(lat);
	return r->failed ? -1 : 0;
}
