/* Timing, deterministic data and file helpers for store_bench. */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double process_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void bench_cpu_start(bench_result *r)
{
	r->cpu_secs = process_cpu();
}

void bench_cpu_stop(bench_result *r)
{
	r->cpu_secs = process_cpu() - r->cpu_secs;
}

uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void bench_key(char *buf, size_t i)
{
	snprintf(buf, 48, "d%03zu/k%03zu", i / BENCH_KEYS_PER_DIR, i % BENCH_KEYS_PER_DIR);
}

void bench_value(char *buf, size_t i, uint64_t v)
{
	/* Text-like and different for every (key, version), so every update
	 * writes a new blob. */
	static const char words[] = "grove stores values as git blobs in trees of commits ";
	int head = snprintf(buf, BENCH_VALUE_SIZE, "key %zu version %llu: ", i,
		(unsigned long long)v);
	for (size_t k = (size_t)head; k < BENCH_VALUE_SIZE; k++)
		buf[k] = words[(k + i) % (sizeof(words) - 1)];
	buf[BENCH_VALUE_SIZE - 1] = '\n';
}

int bench_fail(bench_result *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	r->failed = 1;
	return -1;
}

void bench_note(bench_result *r, const char *fmt, ...)
{
	size_t len = strlen(r->note);
	va_list ap;
	if (len + 1 >= sizeof(r->note))
		return;
	va_start(ap, fmt);
	vsnprintf(r->note + len, sizeof(r->note) - len, fmt, ap);
	va_end(ap);
}

/* Runs argv, returns its stdout's first line in out (may be NULL). */
static int run_capture(char *const argv[], char *out, size_t outlen)
{
	int fds[2];
	pid_t pid;
	int status;
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	char line[4096];
	if (out && outlen)
		out[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (out && out[0] == '\0')
			snprintf(out, outlen, "%s", line);
	if (f)
		fclose(f);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t bench_du(const char *path)
{
	char line[4096];
	char *argv[] = { "du", "-sk", (char *)path, NULL };
	if (run_capture(argv, line, sizeof(line)) != 0)
		return 0;
	return strtoull(line, NULL, 10) * 1024;
}

void bench_rmrf(const char *path)
{
	char *argv[] = { "rm", "-rf", (char *)path, NULL };
	run_capture(argv, NULL, 0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/*
 * What this disk costs, measured in the same run: durable commits are
 * bounded by fdatasync latency and libgit2's loose objects by file
 * creation, and both vary a lot between machines (and between minutes on
 * a shared VM).  value = median fdatasync of a 4 KiB write in µs;
 * extra[0] = median create+write+rename of a 200-byte file in µs.
 */
int disk_probe(const bench_env *e, bench_result *r)
{
	enum { ROUNDS = 200 };
	static double sync_us[ROUNDS], create_us[ROUNDS];
	char path[4200], tmp[4300], buf[4096];
	int fd;

	memset(buf, 'x', sizeof(buf));
	snprintf(path, sizeof(path), "%s/disk-probe", e->tmp);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return bench_fail(r, "cannot create %s", path);
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = bench_now();
		if (pwrite(fd, buf, sizeof(buf), (off_t)(i % 16) * 4096) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) < 0) {
			close(fd);
			return bench_fail(r, "write/fdatasync failed");
		}
		sync_us[i] = (bench_now() - t0) * 1e6;
	}
	close(fd);
	unlink(path);
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(tmp, sizeof(tmp), "%s.%d", path, i);
		double t0 = bench_now();
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
			return bench_fail(r, "cannot create %s", tmp);
		if (write(fd, buf, 200) != 200) {
			close(fd);
			return bench_fail(r, "write failed");
		}
		close(fd);
		if (rename(tmp, path) < 0)
			return bench_fail(r, "rename failed");
		create_us[i] = (bench_now() - t0) * 1e6;
	}
	unlink(path);
	r->value = bench_quantile(sync_us, ROUNDS, 0.5);
	r->extra[0] = bench_quantile(create_us, ROUNDS, 0.5);
	r->p99_ns = bench_quantile(sync_us, ROUNDS, 0.99) * 1000;
	r->n = ROUNDS;
	snprintf(r->unit, sizeof(r->unit), "us");
	bench_note(r, "median of %d: 4 KiB pwrite + fdatasync %.0f us (p99 %.0f us); "
		"create + 200-byte write + close + rename %.0f us", ROUNDS, r->value,
		r->p99_ns / 1000, r->extra[0]);
	return 0;
}
