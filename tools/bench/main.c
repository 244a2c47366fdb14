/*
 * store_bench: the store benchmarks of `make bench` (tools/bench/run.sh).
 *
 *   store_bench --tmp DIR [--repo GITDIR] [--secs S] [--only id,id,...]
 *   store_bench --gen-history N      (fast-import stream on stdout)
 *
 * Every workload runs in a forked child: its peak RSS (ru_maxrss from
 * wait4) is its own, and a crash or a timeout fails one row, not the run.
 * Results come back through a shared anonymous mapping.  The baselines
 * (raw libgit2, raw LMDB, git index-pack) run in the same process tree on
 * the same data, and the table prints grove's figures as ratios of them.
 */
#include "bench.h"

#include <errno.h>
#include <git2.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
	const char *id;
	const char *label;
	int (*fn)(const bench_env *e, bench_result *r);
	unsigned timeout_s;
	int needs_repo;
} workload;

static int w1_durable(const bench_env *e, bench_result *r)
{
	return w1_grove(e, r, "lmdb", 0, e->secs, 1);
}
/* At least BENCH_W4_COMMITS commits: W4 walks this history. */
static int w1_relaxed(const bench_env *e, bench_result *r)
{
	return w1_grove(e, r, "lmdb", 1, e->secs, BENCH_W4_COMMITS);
}
static int w1_git(const bench_env *e, bench_result *r)
{
	return w1_grove(e, r, "git", 0, e->secs, 1);
}
static int w1_git_relaxed(const bench_env *e, bench_result *r)
{
	return w1_grove(e, r, "git", 1, e->secs, 1);
}
static int w1_mem(const bench_env *e, bench_result *r)
{
	return w1_grove(e, r, "mem", 0, e->secs, 1);
}

static const workload workloads[] = {
	{ "disk.start", "disk probe before", disk_probe, 60, 0 },
	{ "w1.libgit2", "libgit2 on disk (baseline)", w1_libgit2, 60, 0 },
	{ "w1.libgit2.fsync", "libgit2 on disk, fsync", w1_libgit2_fsync, 120, 0 },
	{ "w1.lmdbraw", "raw LMDB floor (baseline)", w1_lmdb_raw, 60, 0 },
	{ "w1.lmdbraw.wm", "raw LMDB floor, WRITEMAP", w1_lmdb_raw_writemap, 60, 0 },
	{ "w1.durable", "lmdb: durable", w1_durable, 120, 0 },
	{ "w1.relaxed", "lmdb: relaxed", w1_relaxed, 180, 0 },
	{ "w1.git", "git: durable", w1_git, 120, 0 },
	{ "w1.git.relaxed", "git: relaxed", w1_git_relaxed, 120, 0 },
	{ "w1.mem", "mem:", w1_mem, 60, 0 },
	{ "w2.libgit2", "libgit2 on disk (baseline)", w2_libgit2, 120, 0 },
	{ "w2.lmdb", "lmdb: durable, one txn", w2_grove, 120, 0 },
	{ "w3.libgit2", "libgit2 on disk (baseline)", w3_libgit2, 60, 0 },
	{ "w3.lmdbraw", "raw LMDB mdb_get (floor)", w3_lmdb_raw, 60, 0 },
	{ "w3.view", "lmdb: grove_view_get", w3_grove_view, 120, 0 },
	{ "w3.get", "lmdb: grove_get (one-call)", w3_grove_get, 60, 0 },
	{ "w4.log", "lmdb: grove_log", w4_grove_log, 60, 0 },
	{ "w5.indexpack", "git index-pack (baseline)", w5_git_index_pack, 300, 1 },
	{ "w5.import", "lmdb: grove_import", w5_grove_import, 600, 1 },
	{ "disk.end", "disk probe after", disk_probe, 60, 0 },
};
#define NWORK (sizeof(workloads) / sizeof(workloads[0]))

static bench_result *results;
static long rss_kb[NWORK];
static int ran[NWORK];

static const bench_result *find(const char *id)
{
	for (size_t i = 0; i < NWORK; i++)
		if (strcmp(workloads[i].id, id) == 0)
			return ran[i] && results[i].done && !results[i].failed ? &results[i] : NULL;
	return NULL;
}

static char *fmt_num(char *buf, size_t len, double v)
{
	char digits[64];
	if (v >= 100) {
		snprintf(digits, sizeof(digits), "%.0f", v);
		size_t n = strlen(digits), o = 0;
		for (size_t k = 0; k < n && o + 2 < len; k++) {
			if (k && (n - k) % 3 == 0)
				buf[o++] = ',';
			buf[o++] = digits[k];
		}
		buf[o] = '\0';
	} else if (v >= 10) {
		snprintf(buf, len, "%.1f", v);
	} else {
		snprintf(buf, len, "%.3g", v);
	}
	return buf;
}

static int in_list(const char *list, const char *id)
{
	size_t n = strlen(id);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, id, n) == 0)
			return 1;
		if ((len > 0 && p[len - 1] == '*' && strncmp(p, id, len - 1) == 0))
			return 1;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static void run_one(const bench_env *e, size_t i)
{
	const workload *w = &workloads[i];
	bench_result *r = &results[i];
	struct rusage ru;
	int status;
	double t0 = bench_now();
	pid_t pid;

	fprintf(stderr, "  %-13s %-30s ", w->id, w->label);
	fflush(stderr);
	ran[i] = 1;
	pid = fork();
	if (pid < 0) {
		bench_fail(r, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		alarm(w->timeout_s);
		int rc = w->fn(e, r);
		r->done = 1;
		fflush(NULL);
		_exit(rc < 0 ? 1 : 0);
	}
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	rss_kb[i] = ru.ru_maxrss;
	if (WIFSIGNALED(status)) {
		r->failed = 1;
		r->done = 1;
		snprintf(r->note, sizeof(r->note), "child killed by signal %d (%s)%s",
			WTERMSIG(status), strsignal(WTERMSIG(status)),
			WTERMSIG(status) == SIGALRM ? ", the workload's timeout" : "");
	} else if (!r->done) {
		r->failed = 1;
		r->done = 1;
		snprintf(r->note, sizeof(r->note), "child exited %d without a result",
			WEXITSTATUS(status));
	}
	fprintf(stderr, "%6.1f s%s\n", bench_now() - t0, r->failed ? "  FAILED" : "");
}

/* "target >= 300: MET" */
static void target(char *buf, size_t len, double v, double want, int higher_better,
	const char *unit)
{
	char a[32];
	int met = higher_better ? v >= want : v <= want;
	snprintf(buf, len, "target %s %s%s: %s", higher_better ? ">=" : "<=",
		fmt_num(a, sizeof(a), want), unit, met ? "MET" : "MISSED");
}

static void row(size_t i, const char *tgt, const char *vs)
{
	const bench_result *r = &results[i];
	char v[32], lat[64] = "", cpu[48] = "";
	if (!ran[i])
		return;
	if (!r->done || r->failed) {
		printf("  %-28s FAILED: %s\n", workloads[i].label, r->note);
		return;
	}
	if (r->p99_ns > 0)
		snprintf(lat, sizeof(lat), "  p50 %.0f ns p99 %.0f ns", r->p50_ns, r->p99_ns);
	if (r->cpu_secs > 0 && strcmp(r->unit, "s") == 0) {
		snprintf(cpu, sizeof(cpu), "CPU %.2f s", r->cpu_secs);
	} else if (r->cpu_secs > 0 && r->n > 0) {
		char c[32];
		snprintf(cpu, sizeof(cpu), "%s/CPU-s", fmt_num(c, sizeof(c), (double)r->n / r->cpu_secs));
	}
	printf("  %-28s %12s %-9s %20s  RSS %4ld MB%s\n", workloads[i].label,
		fmt_num(v, sizeof(v), r->value), r->unit, cpu, rss_kb[i] / 1024, lat);
	if (tgt && *tgt)
		printf("  %-28s   %s\n", "", tgt);
	if (vs && *vs)
		printf("  %-28s   %s\n", "", vs);
}

static size_t idx(const char *id)
{
	for (size_t i = 0; i < NWORK; i++)
		if (strcmp(workloads[i].id, id) == 0)
			return i;
	return 0;
}

/* "= 24.1x libgit2 on disk" for rates (higher is better). */
static void ratio_rate(char *buf, size_t len, const bench_result *r, const char *base_id,
	const char *base_name)
{
	const bench_result *b = find(base_id);
	size_t o = strlen(buf);
	if (!r || !b || b->value <= 0)
		return;
	snprintf(buf + o, len - o, "%s%.2fx %s", o ? ", " : "= ", r->value / b->value, base_name);
}

static void print_table(const bench_env *e)
{
	char tgt[128], vs[256], a[32], b[32];
	const bench_result *r;

	static const char *const probes[] = { "disk.start", "disk.end" };
	for (size_t k = 0; k < 2; k++)
		if ((r = find(probes[k])))
			printf("%s: 4 KiB write + fdatasync median %.0f us (p99 %.0f us); "
				"small-file create + rename median %.0f us\n", workloads[idx(probes[k])].label,
				r->value, r->p99_ns / 1000, r->extra[0]);

	printf("\nColumns: wall-clock figure, the same per CPU-second of the timed part (user +\n"
		"system, all threads; on a loaded machine closer to what an idle one does), peak RSS.\n");
	printf("\nW1  single-key commits into 10,000 keys (100 dirs x 100 keys, %d-byte values)\n",
		BENCH_VALUE_SIZE);
	row(idx("w1.libgit2"), NULL, NULL);
	row(idx("w1.libgit2.fsync"), NULL, NULL);
	row(idx("w1.lmdbraw"), NULL, NULL);
	row(idx("w1.lmdbraw.wm"), NULL, NULL);
	static const char *const w1[] = { "w1.durable", "w1.relaxed", "w1.git", "w1.git.relaxed",
		"w1.mem" };
	for (size_t k = 0; k < 5; k++) {
		r = find(w1[k]);
		tgt[0] = vs[0] = '\0';
		if (r && strcmp(w1[k], "w1.durable") == 0)
			target(tgt, sizeof(tgt), r->value, 300, 1, "/s");
		if (r && strcmp(w1[k], "w1.relaxed") == 0)
			target(tgt, sizeof(tgt), r->value, 20000, 1, "/s");
		ratio_rate(vs, sizeof(vs), r, "w1.libgit2", "libgit2 on disk");
		if (r && (strcmp(w1[k], "w1.durable") == 0 || strcmp(w1[k], "w1.git") == 0))
			ratio_rate(vs, sizeof(vs), r, "w1.libgit2.fsync", "libgit2 with fsync");
		else
			ratio_rate(vs, sizeof(vs), r, "w1.lmdbraw", "the raw LMDB floor");
		row(idx(w1[k]), tgt, vs);
	}

	printf("\nW2  one commit adding 100,000 keys (1,000 dirs x 100) to an empty store\n");
	row(idx("w2.libgit2"), NULL, NULL);
	r = find("w2.lmdb");
	tgt[0] = vs[0] = '\0';
	if (r) {
		const bench_result *base = find("w2.libgit2");
		target(tgt, sizeof(tgt), r->value, 0.5, 0, " s");
		if (base)
			snprintf(vs, sizeof(vs), "= %.2fx the speed of libgit2 on disk", base->value / r->value);
	}
	row(idx("w2.lmdb"), tgt, vs);

	printf("\nW3  random gets at the head of the W1 store\n");
	row(idx("w3.libgit2"), NULL, NULL);
	row(idx("w3.lmdbraw"), NULL, NULL);
	static const char *const w3[] = { "w3.view", "w3.get" };
	for (size_t k = 0; k < 2; k++) {
		r = find(w3[k]);
		tgt[0] = vs[0] = '\0';
		if (r && k == 0)
			target(tgt, sizeof(tgt), r->value, 2000000, 1, "/s");
		ratio_rate(vs, sizeof(vs), r, "w3.libgit2", "libgit2 on disk");
		ratio_rate(vs, sizeof(vs), r, "w3.lmdbraw", "raw mdb_get");
		row(idx(w3[k]), tgt, vs);
	}

	printf("\nW4  walking 10,000 commits of history (W1 lmdb store)\n");
	row(idx("w4.log"), NULL, NULL);

	if (e->repo) {
		printf("\nW5  grove_import of %s into a fresh lmdb store\n", e->repo);
		row(idx("w5.indexpack"), NULL, NULL);
		r = find("w5.import");
		const bench_result *ip = find("w5.indexpack");
		tgt[0] = vs[0] = '\0';
		if (r && ip) {
			double tr = r->value / ip->value;
			snprintf(tgt, sizeof(tgt), "time = %.2fx git index-pack (target <= 2x: %s)", tr,
				tr <= 2 ? "MET" : "MISSED");
			double sr = r->extra[0] / ip->extra[0], dr = r->extra[1] / ip->extra[0];
			snprintf(vs, sizeof(vs), "size: disk_bytes %s MB = %.2fx git's pack (%s MB), "
				"du %.2fx (target <= 1.5x: %s)", fmt_num(a, sizeof(a), r->extra[0] / 1048576.0),
				sr, fmt_num(b, sizeof(b), ip->extra[0] / 1048576.0), dr,
				sr <= 1.5 && dr <= 1.5 ? "MET" : "MISSED");
		}
		row(idx("w5.import"), tgt, vs);
	}

	printf("\nSummary\n");
	struct { const char *id, *name; double want; int higher; } sum[] = {
		{ "w1.relaxed", "lmdb relaxed W1", 20000, 1 },
		{ "w1.durable", "lmdb durable W1", 300, 1 },
		{ "w1.git", "git: durable W1", 0, 1 },
		{ "w1.git.relaxed", "git: relaxed W1", 0, 1 },
		{ "w1.mem", "mem: W1", 0, 1 },
		{ "w3.view", "lmdb W3 (view)", 2000000, 1 },
		{ "w3.get", "lmdb W3 (grove_get)", 0, 1 },
	};
	for (size_t k = 0; k < sizeof(sum) / sizeof(sum[0]); k++) {
		const char *base = sum[k].id[1] == '1' ? "w1.libgit2" : "w3.libgit2";
		const bench_result *bb = find(base);
		if (!(r = find(sum[k].id)))
			continue;
		printf("  %s: %s %s", sum[k].name, fmt_num(a, sizeof(a), r->value), r->unit);
		if (bb)
			printf(" = %.1fx libgit2 on disk", r->value / bb->value);
		if (r->cpu_secs > 0)
			printf(" (%s per CPU-second)", fmt_num(b, sizeof(b), (double)r->n / r->cpu_secs));
		if (sum[k].want > 0)
			printf("  [target >= %s: %s]", fmt_num(b, sizeof(b), sum[k].want),
				r->value >= sum[k].want ? "met" : "MISSED");
		printf("\n");
	}
	if ((r = find("w2.lmdb"))) {
		const bench_result *bb = find("w2.libgit2");
		printf("  lmdb W2: %.3f s", r->value);
		if (bb)
			printf(" = %.1fx libgit2 on disk (%.3f s)", bb->value / r->value, bb->value);
		printf("  [target <= 0.5 s: %s]\n", r->value <= 0.5 ? "met" : "MISSED");
	}
	if ((r = find("w4.log")))
		printf("  lmdb W4: %s commits/s\n", fmt_num(a, sizeof(a), r->value));
	if ((r = find("w5.import"))) {
		const bench_result *ip = find("w5.indexpack");
		printf("  lmdb W5: import %.1f s", r->value);
		if (ip)
			printf(" = %.2fx git index-pack (%.1f s) [target <= 2x: %s]; store %.2fx git's pack "
				"[target <= 1.5x: %s]", r->value / ip->value, ip->value,
				r->value <= 2 * ip->value ? "met" : "MISSED", r->extra[0] / ip->extra[0],
				r->extra[0] <= 1.5 * ip->extra[0] ? "met" : "MISSED");
		printf("\n");
	}

	printf("\nHow each figure was measured\n");
	for (size_t i = 0; i < NWORK; i++)
		if (ran[i])
			printf("  %-13s %s\n", workloads[i].id, results[i].note);
}

static void usage(void)
{
	fprintf(stderr, "usage: store_bench --tmp DIR [--repo GITDIR] [--secs S] [--only id,...]\n"
		"       store_bench --gen-history N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bench_env e = { NULL, NULL, 2.0 };
	const char *only = NULL;
	int major, minor, rev;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--gen-history") == 0 && i + 1 < argc)
			return bench_gen_history(stdout, strtoul(argv[i + 1], NULL, 10)) < 0 ? 1 : 0;
		else if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc)
			e.tmp = argv[++i];
		else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc)
			e.repo = argv[++i];
		else if (strcmp(argv[i], "--secs") == 0 && i + 1 < argc)
			e.secs = atof(argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else
			usage();
	}
	if (!e.tmp)
		usage();
	mkdir(e.tmp, 0755);
	results = mmap(NULL, sizeof(bench_result) * NWORK, PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(results, 0, sizeof(bench_result) * NWORK);
	git_libgit2_version(&major, &minor, &rev);
	printf("grove store_bench: libgit2 %d.%d.%d, %s, timed loops ~%.1f s\n", major, minor, rev,
		MDB_VERSION_STRING, e.secs);
	fflush(stdout);
	fprintf(stderr, "running workloads (each in its own process):\n");
	for (size_t i = 0; i < NWORK; i++) {
		if (only && !in_list(only, workloads[i].id))
			continue;
		if (workloads[i].needs_repo && !e.repo)
			continue;
		run_one(&e, i);
	}
	print_table(&e);
	return 0;
}
