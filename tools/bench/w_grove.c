/* The grove workloads W1-W5 (see tools/bench/RESULTS.md for what each measures). */
#include "bench.h"

#include <grove.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The store W1 (lmdb relaxed) leaves behind for W3 and W4. */
#define W1_SHARED_STORE "w1-lmdb-relaxed"

static int fail_grove(bench_result *r, const char *what, int rc)
{
	return bench_fail(r, "%s: %s (%s)", what, grove_error_message(), grove_code_name(rc));
}

static int open_store(bench_result *r, grove **g, const char *location, int relaxed)
{
	grove_options o = GROVE_OPTIONS_INIT;
	int rc;
	o.durability = relaxed ? GROVE_RELAXED : GROVE_DURABLE;
	if ((rc = grove_open(g, location, &o)) < 0)
		return fail_grove(r, location, rc);
	return 0;
}

/* One commit holding `keys` keys, each at version 0. */
static int populate(bench_result *r, grove *g, size_t keys)
{
	grove_txn *txn;
	char key[48], value[BENCH_VALUE_SIZE];
	int rc;
	if ((rc = grove_txn_begin(&txn, g, "main")) < 0)
		return fail_grove(r, "txn_begin", rc);
	for (size_t i = 0; i < keys; i++) {
		bench_key(key, i);
		bench_value(value, i, 0);
		if ((rc = grove_txn_set(txn, key, value, sizeof(value))) < 0) {
			grove_txn_free(txn);
			return fail_grove(r, "txn_set", rc);
		}
	}
	rc = grove_txn_commit(txn, NULL, NULL);
	grove_txn_free(txn);
	if (rc < 0)
		return fail_grove(r, "txn_commit", rc);
	return 0;
}

int w1_grove(const bench_env *e, bench_result *r, const char *backend, int relaxed,
	double min_secs, uint64_t min_n)
{
	char location[8200], dir[4096], key[48], value[BENCH_VALUE_SIZE];
	uint64_t seed = 0x9E3779B97F4A7C15ULL, n = 0;
	grove *g;
	double t0, t1;
	int rc;

	if (strcmp(backend, "mem") == 0) {
		snprintf(location, sizeof(location), "mem:");
		dir[0] = '\0';
	} else {
		snprintf(dir, sizeof(dir), "%s/%s", e->tmp,
			strcmp(backend, "lmdb") ? (relaxed ? "w1-git-relaxed" : "w1-git")
			: relaxed ? W1_SHARED_STORE : "w1-lmdb-durable");
		bench_rmrf(dir);
		snprintf(location, sizeof(location), "%s:%s", backend, dir);
	}
	/* Populate through a relaxed handle (one commit; on git: a durable
	 * handle would fsync 10,000 loose objects), then reopen as measured. */
	double p0 = bench_now();
	if (open_store(r, &g, location, 1) < 0)
		return -1;
	if (populate(r, g, BENCH_KEYS) < 0)
		goto fail;
	if (dir[0]) {
		grove_close(g);
		if (open_store(r, &g, location, relaxed) < 0)
			return -1;
	}
	double p1 = bench_now();

	bench_cpu_start(r);
	t0 = bench_now();
	for (;;) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		bench_key(key, i);
		bench_value(value, i, n + 1);
		if ((rc = grove_set(g, "main", key, value, sizeof(value), NULL, NULL)) < 0) {
			fail_grove(r, "grove_set", rc);
			goto fail;
		}
		n++;
		t1 = bench_now();
		if (t1 - t0 >= min_secs && n >= min_n)
			break;
	}
	r->n = n;
	bench_cpu_stop(r);
	r->secs = t1 - t0;
	r->value = (double)n / r->secs;
	snprintf(r->unit, sizeof(r->unit), "commits/s");
	bench_note(r, "%llu grove_set commits of random keys in %.2f s (%s)",
		(unsigned long long)n, r->secs, dir[0] ? (relaxed ? "GROVE_RELAXED" : "GROVE_DURABLE")
		: "in memory");
	double c0 = bench_now();
	grove_close(g);
	bench_note(r, "; populate %.2f s, close %.2f s", p1 - p0, bench_now() - c0);
	if (dir[0]) {
		r->extra[0] = (double)bench_du(dir);
		bench_note(r, "; store %.1f MB on disk after", r->extra[0] / 1048576.0);
	}
	return 0;
fail:
	grove_close(g);
	return -1;
}

int w2_grove(const bench_env *e, bench_result *r)
{
	char location[8200], dir[4096], key[48];
	grove *g;
	grove_txn *txn;
	double t0, t1, t2;
	int rc;

	/* Keys and values are made before the clock starts. */
	char (*keys)[16] = malloc(sizeof(*keys) * BENCH_W2_KEYS);
	char *values = malloc((size_t)BENCH_VALUE_SIZE * BENCH_W2_KEYS);
	if (!keys || !values) {
		free(keys);
		free(values);
		return bench_fail(r, "out of memory");
	}
	for (size_t i = 0; i < BENCH_W2_KEYS; i++) {
		snprintf(key, sizeof(key), "d%04zu/k%03zu", i / BENCH_KEYS_PER_DIR,
			i % BENCH_KEYS_PER_DIR);
		memcpy(keys[i], key, sizeof(keys[i]));
		bench_value(values + i * BENCH_VALUE_SIZE, i, 0);
	}
	snprintf(dir, sizeof(dir), "%s/w2-lmdb", e->tmp);
	bench_rmrf(dir);
	snprintf(location, sizeof(location), "lmdb:%s", dir);
	if (open_store(r, &g, location, 0) < 0) {
		free(keys);
		free(values);
		return -1;
	}
	bench_cpu_start(r);
	t0 = bench_now();
	if ((rc = grove_txn_begin(&txn, g, "main")) < 0) {
		fail_grove(r, "txn_begin", rc);
		goto fail;
	}
	for (size_t i = 0; i < BENCH_W2_KEYS; i++) {
		if ((rc = grove_txn_set(txn, keys[i], values + i * BENCH_VALUE_SIZE,
			BENCH_VALUE_SIZE)) < 0) {
			grove_txn_free(txn);
			fail_grove(r, "txn_set", rc);
			goto fail;
		}
	}
	t1 = bench_now();
	rc = grove_txn_commit(txn, NULL, NULL);
	t2 = bench_now();
	grove_txn_free(txn);
	if (rc < 0) {
		fail_grove(r, "txn_commit", rc);
		goto fail;
	}
	r->n = BENCH_W2_KEYS;
	bench_cpu_stop(r);
	r->secs = t2 - t0;
	r->value = r->secs;
	r->extra[0] = t1 - t0;
	r->extra[1] = t2 - t1;
	snprintf(r->unit, sizeof(r->unit), "s");
	bench_note(r, "100,000 txn_set %.3f s + txn_commit %.3f s (durable)", t1 - t0, t2 - t1);
	grove_close(g);
	free(keys);
	free(values);
	return 0;
fail:
	grove_close(g);
	free(keys);
	free(values);
	return -1;
}

/* Key strings of the W1 store, formatted once so the loops time only gets. */
static char (*w1_keys(void))[48]
{
	char (*keys)[48] = malloc(sizeof(*keys) * BENCH_KEYS);
	if (keys)
		for (size_t i = 0; i < BENCH_KEYS; i++)
			bench_key(keys[i], i);
	return keys;
}

static int open_w1_store(const bench_env *e, bench_result *r, grove **g)
{
	char location[4096];
	snprintf(location, sizeof(location), "lmdb:%s/%s", e->tmp, W1_SHARED_STORE);
	return open_store(r, g, location, 1);
}

int w3_grove_view(const bench_env *e, bench_result *r)
{
	char (*keys)[48] = w1_keys();
	double *lat = malloc(sizeof(double) * BENCH_W3_GETS);
	uint64_t seed = 42, bytes = 0;
	grove *g = NULL;
	grove_view *view = NULL;
	grove_buf buf;
	double t0, t1;
	int rc;

	if (!keys || !lat) {
		bench_fail(r, "out of memory");
		goto out;
	}
	if (open_w1_store(e, r, &g) < 0)
		goto out;
	/* The view is opened once at the head; every get reads that snapshot. */
	if ((rc = grove_view_open(&view, g, "main")) < 0) {
		fail_grove(r, "view_open", rc);
		goto out;
	}
	/* Pass 1, throughput: no clock inside the loop. */
	bench_cpu_start(r);
	t0 = bench_now();
	for (size_t k = 0; k < BENCH_W3_GETS; k++) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		if ((rc = grove_view_get(view, keys[i], &buf)) < 0) {
			fail_grove(r, keys[i], rc);
			goto out;
		}
		bytes += buf.size;
		grove_buf_dispose(&buf);
	}
	t1 = bench_now();
	r->n = BENCH_W3_GETS;
	bench_cpu_stop(r);
	r->secs = t1 - t0;
	r->value = (double)BENCH_W3_GETS / r->secs;
	snprintf(r->unit, sizeof(r->unit), "gets/s");
	if (bytes != (uint64_t)BENCH_W3_GETS * BENCH_VALUE_SIZE) {
		bench_fail(r, "read %llu bytes, expected %llu", (unsigned long long)bytes,
			(unsigned long long)BENCH_W3_GETS * BENCH_VALUE_SIZE);
		goto out;
	}
	/* Pass 2, latency: each get timed with two clock_gettime calls. */
	double c0 = bench_now(), cal;
	for (int k = 0; k < 1000000; k++)
		(void)bench_now();
	cal = (bench_now() - c0) / 1000000.0;
	for (size_t k = 0; k < BENCH_W3_GETS; k++) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		double a = bench_now();
		rc = grove_view_get(view, keys[i], &buf);
		lat[k] = (bench_now() - a) * 1e9;
		if (rc < 0) {
			fail_grove(r, keys[i], rc);
			goto out;
		}
		grove_buf_dispose(&buf);
	}
	r->p50_ns = bench_quantile(lat, BENCH_W3_GETS, 0.50);
	r->p99_ns = bench_quantile(lat, BENCH_W3_GETS, 0.99);
	bench_note(r, "one grove_view opened at the head of main, then 1,000,000 grove_view_get "
		"of random keys (%.2f s); p50/p99 from a second pass timing every get with "
		"clock_gettime (one clock read costs ~%.0f ns, included)", r->secs, cal * 1e9);
out:
	if (view)
		grove_view_free(view);
	if (g)
		grove_close(g);
	free(keys);
	free(lat);
	return r->failed ? -1 : 0;
}

int w3_grove_get(const bench_env *e, bench_result *r)
{
	char (*keys)[48] = w1_keys();
	double *lat = malloc(sizeof(double) * BENCH_W3_GETS);
	uint64_t seed = 42, n = 0;
	grove *g = NULL;
	grove_buf buf;
	double t0, t1 = 0;
	int rc;

	if (!keys || !lat) {
		bench_fail(r, "out of memory");
		goto out;
	}
	if (open_w1_store(e, r, &g) < 0)
		goto out;
	bench_cpu_start(r);
	t0 = bench_now();
	while (n < BENCH_W3_GETS) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		double a = bench_now();
		if ((rc = grove_get(g, "main", keys[i], &buf)) < 0) {
			fail_grove(r, keys[i], rc);
			goto out;
		}
		t1 = bench_now();
		lat[n++] = (t1 - a) * 1e9;
		grove_buf_dispose(&buf);
		if (t1 - t0 >= e->secs)
			break;
	}
	r->n = n;
	bench_cpu_stop(r);
	r->secs = t1 - t0;
	r->value = (double)n / r->secs;
	r->p50_ns = bench_quantile(lat, n, 0.50);
	r->p99_ns = bench_quantile(lat, n, 0.99);
	snprintf(r->unit, sizeof(r->unit), "gets/s");
	bench_note(r, "%llu grove_get(g, \"main\", key) calls (each resolves main and opens a view); "
		"every call timed with clock_gettime", (unsigned long long)n);
out:
	if (g)
		grove_close(g);
	free(keys);
	free(lat);
	return r->failed ? -1 : 0;
}

int w4_grove_log(const bench_env *e, bench_result *r)
{
	grove *g = NULL;
	grove_log *log = NULL;
	grove_commit *c;
	uint64_t n = 0;
	double t0, t1;
	int rc;

	if (open_w1_store(e, r, &g) < 0)
		return -1;
	bench_cpu_start(r);
	t0 = bench_now();
	if ((rc = grove_log_open(&log, g, "main", NULL)) < 0) {
		fail_grove(r, "log_open", rc);
		goto out;
	}
	while (n < BENCH_W4_COMMITS && (rc = grove_log_next(log, &c)) == 0) {
		n++;
		grove_commit_free(c);
	}
	t1 = bench_now();
	if (rc < 0 && rc != GROVE_ITEROVER) {
		fail_grove(r, "log_next", rc);
		goto out;
	}
	if (n < BENCH_W4_COMMITS)
		bench_note(r, "ONLY %llu commits in the history; ", (unsigned long long)n);
	r->n = n;
	bench_cpu_stop(r);
	r->secs = t1 - t0;
	r->value = (double)n / r->secs;
	snprintf(r->unit, sizeof(r->unit), "commits/s");
	bench_note(r, "grove_log over main of the W1 lmdb store, %llu commits parsed in %.3f s",
		(unsigned long long)n, r->secs);
out:
	if (log)
		grove_log_free(log);
	grove_close(g);
	return r->failed ? -1 : 0;
}

int w5_grove_import(const bench_env *e, bench_result *r)
{
	char dir[4096], location[4200];
	grove *g;
	grove_stats st;
	double t0, t1;
	int rc;

	snprintf(dir, sizeof(dir), "%s/w5-import", e->tmp);
	bench_rmrf(dir);
	snprintf(location, sizeof(location), "lmdb:%s", dir);
	if (open_store(r, &g, location, 0) < 0)
		return -1;
	bench_cpu_start(r);
	t0 = bench_now();
	rc = grove_import(g, e->repo);
	t1 = bench_now();
	if (rc < 0) {
		fail_grove(r, "grove_import", rc);
		grove_close(g);
		return -1;
	}
	bench_cpu_stop(r);
	r->secs = t1 - t0;
	r->value = r->secs;
	snprintf(r->unit, sizeof(r->unit), "s");
	if ((rc = grove_stats_get(g, &st)) < 0) {
		fail_grove(r, "stats_get", rc);
		grove_close(g);
		return -1;
	}
	grove_close(g);
	r->n = st.objects;
	r->extra[0] = (double)st.disk_bytes;
	r->extra[1] = (double)bench_du(dir);
	r->extra[2] = (double)st.deltas;
	r->extra[3] = (double)st.object_bytes;
	bench_note(r, "grove_import into a fresh lmdb: store (durable): %llu objects "
		"(%llu deltas), %llu refs, object records %.1f MB, disk_bytes %.1f MB, du %.1f MB",
		(unsigned long long)st.objects, (unsigned long long)st.deltas,
		(unsigned long long)st.refs,
		r->extra[3] / 1048576.0, r->extra[0] / 1048576.0, r->extra[1] / 1048576.0);
	return 0;
}
