/*
 * bench.h - shared pieces of store_bench (make bench).
 *
 * Each workload runs in its own forked child (main.c) so that its peak RSS
 * is its own and a crash cannot take the table down.  A child reports
 * through a bench_result that lives in shared memory.
 */
#ifndef GROVE_BENCH_H
#define GROVE_BENCH_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* The W1/W3 store: 100 directories of 100 keys, values of about 200 bytes. */
#define BENCH_DIRS 100
#define BENCH_KEYS_PER_DIR 100
#define BENCH_KEYS (BENCH_DIRS * BENCH_KEYS_PER_DIR)
#define BENCH_VALUE_SIZE 200
/* W2: 1,000 directories of 100 keys. */
#define BENCH_W2_DIRS 1000
#define BENCH_W2_KEYS (BENCH_W2_DIRS * BENCH_KEYS_PER_DIR)
/* W3 gets and W4 commits walked. */
#define BENCH_W3_GETS 1000000
#define BENCH_W4_COMMITS 10000

typedef struct {
	int done;              /* the child filled this in */
	int failed;
	double value;          /* the headline figure, in `unit` */
	double secs;           /* measured wall time */
	uint64_t n;            /* operations measured */
	double p50_ns, p99_ns; /* latency, where measured (0 = not) */
	double cpu_secs;       /* CPU time (user + system, all threads) of the timed part */
	double extra[4];       /* workload-specific figures */
	char unit[24];
	char note[512];        /* method notes or the error message */
} bench_result;

typedef struct {
	const char *tmp;       /* scratch directory of this run */
	const char *repo;      /* W5 source repository */
	double secs;           /* target duration of a timed loop */
} bench_env;

/* Monotonic seconds. */
double bench_now(void);
/* CPU time of the timed part: start sets r->cpu_secs to the process's CPU
 * time, stop turns it into the difference.  On a loaded machine, operations
 * per CPU-second say what an idle one would do. */
void bench_cpu_start(bench_result *r);
void bench_cpu_stop(bench_result *r);
/* xorshift64*: deterministic random numbers, the same on every run. */
uint64_t bench_rand(uint64_t *state);
/* key "dNNN/kNNN" of index i (i < dirs * 100), into buf of >= 48 bytes. */
void bench_key(char *buf, size_t i);
/* A deterministic value of BENCH_VALUE_SIZE bytes for key index i, version v. */
void bench_value(char *buf, size_t i, uint64_t v);
/* Fails the result with a printf-style message; returns -1. */
int bench_fail(bench_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends to r->note. */
void bench_note(bench_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* du -sk of a path, in bytes; 0 when it cannot be measured. */
uint64_t bench_du(const char *path);
/* Removes a directory tree (rm -rf). */
void bench_rmrf(const char *path);
/* Sorts doubles ascending and returns the q-quantile (0..1). */
double bench_quantile(double *v, size_t n, double q);

/* Workloads; each fills r and returns 0 or -1. */
int w1_grove(const bench_env *e, bench_result *r, const char *location, int relaxed,
	double min_secs, uint64_t min_n);
int w2_grove(const bench_env *e, bench_result *r);
int w3_grove_view(const bench_env *e, bench_result *r);
int w3_grove_get(const bench_env *e, bench_result *r);
int w4_grove_log(const bench_env *e, bench_result *r);
int w5_grove_import(const bench_env *e, bench_result *r);
int w5_git_index_pack(const bench_env *e, bench_result *r);

/* Writes a git fast-import stream of a synthetic history (gen_history.c). */
int bench_gen_history(FILE *out, size_t commits);

int w1_libgit2(const bench_env *e, bench_result *r);
int w1_libgit2_fsync(const bench_env *e, bench_result *r);
int w2_libgit2(const bench_env *e, bench_result *r);
int w3_libgit2(const bench_env *e, bench_result *r);

int w1_lmdb_raw(const bench_env *e, bench_result *r);
int w1_lmdb_raw_writemap(const bench_env *e, bench_result *r);
/* The disk of the scratch directory: fdatasync latency, file create+rename. */
int disk_probe(const bench_env *e, bench_result *r);
int w3_lmdb_raw(const bench_env *e, bench_result *r);

#endif
