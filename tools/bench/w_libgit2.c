/*
 * Baselines on raw libgit2 (an on-disk bare repository, libgit2's default
 * settings: loose objects, no fsync), and `git index-pack` for W5.
 */
#include "bench.h"

#include <git2.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define W1_REPO "w1-libgit2"

static int fail_git(bench_result *r, const char *what)
{
	const git_error *err = git_error_last();
	return bench_fail(r, "%s: %s", what, err ? err->message : "unknown libgit2 error");
}

/* One tree of dirs x 100 keys at version 0, built with tree builders. */
static int build_tree(bench_result *r, git_repository *repo, size_t dirs, git_oid *out)
{
	git_treebuilder *root = NULL, *sub = NULL;
	char name[48], value[BENCH_VALUE_SIZE];
	git_oid blob, tree;
	int ok = 0;

	if (git_treebuilder_new(&root, repo, NULL) < 0)
		return fail_git(r, "treebuilder_new");
	for (size_t d = 0; d < dirs; d++) {
		if (git_treebuilder_new(&sub, repo, NULL) < 0)
			goto fail;
		for (size_t k = 0; k < BENCH_KEYS_PER_DIR; k++) {
			size_t i = d * BENCH_KEYS_PER_DIR + k;
			bench_value(value, i, 0);
			snprintf(name, sizeof(name), "k%03zu", k);
			if (git_blob_create_from_buffer(&blob, repo, value, sizeof(value)) < 0 ||
			    git_treebuilder_insert(NULL, sub, name, &blob, GIT_FILEMODE_BLOB) < 0)
				goto fail;
		}
		if (git_treebuilder_write(&tree, sub) < 0)
			goto fail;
		git_treebuilder_free(sub);
		sub = NULL;
		snprintf(name, sizeof(name), dirs > 100 ? "d%04zu" : "d%03zu", d);
		if (git_treebuilder_insert(NULL, root, name, &tree, GIT_FILEMODE_TREE) < 0)
			goto fail;
	}
	if (git_treebuilder_write(out, root) < 0)
		goto fail;
	ok = 1;
fail:
	if (!ok)
		fail_git(r, "building the tree");
	git_treebuilder_free(sub);
	git_treebuilder_free(root);
	return ok ? 0 : -1;
}

static int commit_tree(bench_result *r, git_repository *repo, const git_oid *tree_id,
	const git_commit *parent, git_oid *out)
{
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	int rc = -1;
	if (git_signature_now(&sig, "grove", "grove@localhost") < 0 ||
	    git_tree_lookup(&tree, repo, tree_id) < 0 ||
	    git_commit_create(out, repo, "refs/heads/main", sig, sig, NULL, "bench commit\n",
		tree, parent ? 1 : 0, parent ? &parent : NULL) < 0)
		fail_git(r, "commit");
	else
		rc = 0;
	git_tree_free(tree);
	git_signature_free(sig);
	return rc;
}

static int init_repo(const bench_env *e, bench_result *r, const char *name, git_repository **repo)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", e->tmp, name);
	bench_rmrf(dir);
	git_libgit2_init();
	if (git_repository_init(repo, dir, 1) < 0)
		return fail_git(r, "repository_init");
	return 0;
}

static int w1_git(const bench_env *e, bench_result *r, int fsync_on)
{
	git_repository *repo;
	git_commit *head = NULL;
	git_tree *base = NULL;
	git_oid tree_id, commit_id, blob;
	char key[48], value[BENCH_VALUE_SIZE];
	uint64_t seed = 0x9E3779B97F4A7C15ULL, n = 0;
	double t0, t1;

	if (init_repo(e, r, fsync_on ? "w1-libgit2-fsync" : W1_REPO, &repo) < 0)
		return -1;
	if (build_tree(r, repo, BENCH_DIRS, &tree_id) < 0 ||
	    commit_tree(r, repo, &tree_id, NULL, &commit_id) < 0)
		goto out;
	if (git_commit_lookup(&head, repo, &commit_id) < 0 || git_commit_tree(&base, head) < 0) {
		fail_git(r, "lookup");
		goto out;
	}
	/* After populating: the timed commits fsync objects and refs. */
	if (fsync_on)
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	bench_cpu_start(r);
	t0 = bench_now();
	for (;;) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		git_tree_update up;
		bench_key(key, i);
		bench_value(value, i, n + 1);
		if (git_blob_create_from_buffer(&blob, repo, value, sizeof(value)) < 0) {
			fail_git(r, "blob_create");
			goto out;
		}
		memset(&up, 0, sizeof(up));
		up.action = GIT_TREE_UPDATE_UPSERT;
		up.id = blob;
		up.filemode = GIT_FILEMODE_BLOB;
		up.path = key;
		if (git_tree_create_updated(&tree_id, repo, base, 1, &up) < 0) {
			fail_git(r, "tree_create_updated");
			goto out;
		}
		if (commit_tree(r, repo, &tree_id, head, &commit_id) < 0)
			goto out;
		git_tree_free(base);
		git_commit_free(head);
		base = NULL;
		if (git_commit_lookup(&head, repo, &commit_id) < 0 || git_commit_tree(&base, head) < 0) {
			fail_git(r, "lookup");
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
	snprintf(r->unit, sizeof(r->unit), "commits/s");
	bench_note(r, "per commit: git_blob_create_from_buffer + git_tree_create_updated + "
		"git_commit_create updating refs/heads/main (loose objects, %s); "
		"%llu commits", fsync_on ? "GIT_OPT_ENABLE_FSYNC_GITDIR" : "libgit2 defaults: no fsync",
		(unsigned long long)n);
out:
	git_tree_free(base);
	git_commit_free(head);
	git_repository_free(repo);
	return r->failed ? -1 : 0;
}

int w1_libgit2(const bench_env *e, bench_result *r)
{
	return w1_git(e, r, 0);
}

int w1_libgit2_fsync(const bench_env *e, bench_result *r)
{
	return w1_git(e, r, 1);
}

int w2_libgit2(const bench_env *e, bench_result *r)
{
	git_repository *repo;
	git_oid tree_id, commit_id;
	double t0, t1;

	if (init_repo(e, r, "w2-libgit2", &repo) < 0)
		return -1;
	bench_cpu_start(r);
	t0 = bench_now();
	if (build_tree(r, repo, BENCH_W2_DIRS, &tree_id) == 0 &&
	    commit_tree(r, repo, &tree_id, NULL, &commit_id) == 0) {
		t1 = bench_now();
		r->n = BENCH_W2_KEYS;
		bench_cpu_stop(r);
		r->secs = t1 - t0;
		r->value = r->secs;
		snprintf(r->unit, sizeof(r->unit), "s");
		bench_note(r, "100,000 git_blob_create_from_buffer into 1,000 tree builders, "
			"one commit (loose objects, no fsync)");
	}
	git_repository_free(repo);
	return r->failed ? -1 : 0;
}

int w3_libgit2(const bench_env *e, bench_result *r)
{
	char dir[4096], key[48];
	git_repository *repo = NULL;
	git_commit *head = NULL;
	git_tree *tree = NULL;
	git_oid id;
	double *lat = malloc(sizeof(double) * BENCH_W3_GETS);
	uint64_t seed = 42, n = 0, bytes = 0;
	double t0, t1 = 0;

	git_libgit2_init();
	snprintf(dir, sizeof(dir), "%s/%s", e->tmp, W1_REPO);
	if (!lat) {
		bench_fail(r, "out of memory");
		goto out;
	}
	if (git_repository_open(&repo, dir) < 0 ||
	    git_reference_name_to_id(&id, repo, "refs/heads/main") < 0 ||
	    git_commit_lookup(&head, repo, &id) < 0 || git_commit_tree(&tree, head) < 0) {
		fail_git(r, "opening the W1 libgit2 repository");
		goto out;
	}
	bench_cpu_start(r);
	t0 = bench_now();
	while (n < BENCH_W3_GETS) {
		size_t i = (size_t)(bench_rand(&seed) % BENCH_KEYS);
		git_tree_entry *ent;
		git_blob *blob;
		bench_key(key, i);
		double a = bench_now();
		if (git_tree_entry_bypath(&ent, tree, key) < 0 ||
		    git_blob_lookup(&blob, repo, git_tree_entry_id(ent)) < 0) {
			fail_git(r, key);
			goto out;
		}
		bytes += (uint64_t)git_blob_rawsize(blob);
		git_blob_free(blob);
		git_tree_entry_free(ent);
		t1 = bench_now();
		lat[n++] = (t1 - a) * 1e9;
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
	bench_note(r, "head tree looked up once, then per get git_tree_entry_bypath + "
		"git_blob_lookup on the W1 libgit2 repository; %llu gets, each timed",
		(unsigned long long)n);
out:
	git_tree_free(tree);
	git_commit_free(head);
	git_repository_free(repo);
	free(lat);
	return r->failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* git index-pack on the W5 repository's packs                         */
/* ------------------------------------------------------------------ */

static int copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	ssize_t got;
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((got = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)got) != got) {
			got = -1;
			break;
		}
	close(in);
	close(out);
	return got < 0 ? -1 : 0;
}

/* Runs argv with output discarded; *cpu = its user + system CPU seconds. */
static int run_quiet(char *const argv[], double *cpu)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return -1;
	*cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int w5_git_index_pack(const bench_env *e, bench_result *r)
{
	char packdir[4096], work[4096], from[8192], to[8192], idx[8192];
	struct stat st;
	DIR *d;
	struct dirent *de;
	double total = 0;
	uint64_t bytes = 0, packs = 0;

	snprintf(packdir, sizeof(packdir), "%s/objects/pack", e->repo);
	if (stat(packdir, &st) < 0)
		snprintf(packdir, sizeof(packdir), "%s/.git/objects/pack", e->repo);
	if (!(d = opendir(packdir)))
		return bench_fail(r, "cannot open %s", packdir);
	snprintf(work, sizeof(work), "%s/w5-index-pack", e->tmp);
	bench_rmrf(work);
	mkdir(work, 0755);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".pack") != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", packdir, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", work, de->d_name);
		snprintf(idx, sizeof(idx), "%s/x.idx", work);
		if (copy_file(from, to) < 0 || stat(to, &st) < 0) {
			closedir(d);
			return bench_fail(r, "cannot copy %s", from);
		}
		char *argv[] = { "git", "index-pack", "-o", idx, to, NULL };
		double t0 = bench_now(), cpu = 0;
		int rc = run_quiet(argv, &cpu);
		total += bench_now() - t0;
		r->cpu_secs += cpu;
		if (rc != 0) {
			closedir(d);
			return bench_fail(r, "git index-pack %s exited %d", to, rc);
		}
		bytes += (uint64_t)st.st_size;
		packs++;
		unlink(to);
		unlink(idx);
	}
	closedir(d);
	if (packs == 0)
		return bench_fail(r, "no pack in %s", packdir);
	r->n = packs;
	r->secs = total;
	r->value = total;
	r->extra[0] = (double)bytes;
	snprintf(r->unit, sizeof(r->unit), "s");
	bench_note(r, "git index-pack -o x.idx on a copy of %llu pack(s), %.1f MB (git's default "
		"threads: one per CPU)", (unsigned long long)packs, (double)bytes / 1048576.0);
	return 0;
}
