/* grove_import and grove_export against repositories made by the git CLI. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "git_fixture.h"
#include "store.h"

static char *tmp;
static char work[4096];

static void setup(void)
{
	tmp = fx_tmpdir();
	snprintf(work, sizeof(work), "%s/work", tmp);
	FX_SH("mkdir '%s'", work);
}

static void teardown(void)
{
	fx_rmrf(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(import_export, .init = setup, .fini = teardown, .timeout = 120);

static grove *open_store(const char *location)
{
	grove *g = NULL;
	grove_options o = GROVE_OPTIONS_INIT;
	o.durability = GROVE_RELAXED;
	cr_assert_eq(grove_open(&g, location, &o), 0, "%s: %s", location, grove_error_message());
	return g;
}

static int append_ref(const char *refname, const grove_oid *id, void *payload)
{
	char hex[41], line[512];
	snprintf(line, sizeof(line), "%s %s\n", refname, grove_oid_tohex(hex, id));
	strcat(payload, line);
	return 0;
}

/* "refname id" lines of the store's refs, as for-each-ref prints them. */
static void store_refs(grove *g, char *out)
{
	out[0] = '\0';
	cr_assert_eq(grove_ref_foreach(g, "", append_ref, out), 0, "%s", grove_error_message());
}

#define REFS_FMT "for-each-ref --format='%%(refname) %%(objectname)'"

static size_t git_object_count(const char *dir)
{
	char *n = fx_line("git -C '%s' cat-file --batch-all-objects --batch-check | wc -l", dir);
	cr_assert_not_null(n);
	size_t c = (size_t)atol(n);
	free(n);
	return c;
}

/* Import into a store, export to a new bare repository: same refs, same
 * history, same objects, and git finds nothing wrong.  kind is "mem",
 * "lmdb" or "git". */
static void round_trip(const char *kind)
{
	fx_make_history(work);
	char loc[4300];
	if (strcmp(kind, "mem") == 0)
		snprintf(loc, sizeof(loc), "mem:");
	else
		snprintf(loc, sizeof(loc), "%s:%s/store", kind, tmp);
	grove *g = open_store(loc);
	cr_assert_eq(grove_import(g, work), 0, "%s", grove_error_message());

	char *want = fx_capture(NULL, "git -C '%s' " REFS_FMT, work);
	cr_assert_not_null(want);
	char got[8192];
	store_refs(g, got);
	cr_assert_str_eq(got, want);

	grove_stats st;
	cr_assert_eq(grove_stats_get(g, &st), 0);
	cr_assert_eq(st.objects, git_object_count(work));
	if (strcmp(kind, "lmdb") == 0) {
		/* The packs went in keeping their compressed form. */
		char *sizes = fx_line("git -C '%s' cat-file --batch-all-objects "
			"--batch-check='%%(objectsize)' | awk '{s+=$1} END {print s}'", work);
		cr_assert_lt(st.object_bytes, (uint64_t)atoll(sizes), "objects stored inflated");
		free(sizes);
	}

	char *head = NULL;
	cr_assert_eq(grove_head_branch(g, &head), 0, "%s", grove_error_message());
	cr_assert_str_eq(head, "main");
	free(head);

	/* The values are readable through the store. */
	grove_buf buf = { 0 };
	cr_assert_eq(grove_get(g, "main", "loose.txt", &buf), 0, "%s", grove_error_message());
	cr_assert_eq(buf.size, 6);
	cr_assert_eq(memcmp(buf.data, "loose\n", 6), 0);
	grove_buf_dispose(&buf);
	cr_assert_eq(grove_get(g, "v1.0", "side.txt", &buf), 0, "%s", grove_error_message());
	grove_buf_dispose(&buf);

	char out[4200];
	snprintf(out, sizeof(out), "%s/out.git", tmp);
	cr_assert_eq(grove_export(g, out), 0, "%s", grove_error_message());
	grove_close(g);

	char *exported = fx_capture(NULL, "git -C '%s' " REFS_FMT, out);
	cr_assert_str_eq(exported, want);
	cr_assert_eq(fx_sh("git -C '%s' fsck --strict >/dev/null 2>&1", out), 0, "fsck failed");
	char *bare = fx_line("git -C '%s' rev-parse --is-bare-repository", out);
	cr_assert_str_eq(bare, "true");
	char *sym = fx_line("git -C '%s' symbolic-ref HEAD", out);
	cr_assert_str_eq(sym, "refs/heads/main");
	char *log_a = fx_capture(NULL, "git -C '%s' log --format='%%H %%P %%s' --all", work);
	char *log_b = fx_capture(NULL, "git -C '%s' log --format='%%H %%P %%s' --all", out);
	cr_assert_not_null(log_a);
	cr_assert_str_eq(log_b, log_a);
	cr_assert_eq(git_object_count(out), git_object_count(work));
	free(want);
	free(exported);
	free(bare);
	free(sym);
	free(log_a);
	free(log_b);
}

Test(import_export, round_trip_through_mem)
{
	round_trip("mem");
}

Test(import_export, round_trip_through_lmdb)
{
	round_trip("lmdb");
}

Test(import_export, round_trip_through_git)
{
	round_trip("git");
}

/* A bare clone holds only packs and packed refs. */
Test(import_export, import_bare_clone_into_git_store)
{
	fx_make_history(work);
	char clone[4200], store[4200], loc[4300];
	snprintf(clone, sizeof(clone), "%s/clone.git", tmp);
	snprintf(store, sizeof(store), "%s/store.git", tmp);
	FX_SH("git clone -q --bare '%s' '%s'", work, clone);
	snprintf(loc, sizeof(loc), "git:%s", store);
	grove *g = open_store(loc);
	cr_assert_eq(grove_import(g, clone), 0, "%s", grove_error_message());
	grove_close(g);

	char *a = fx_capture(NULL, "git -C '%s' " REFS_FMT, clone);
	char *b = fx_capture(NULL, "git -C '%s' " REFS_FMT, store);
	cr_assert_not_null(a);
	cr_assert_str_eq(b, a);
	cr_assert_eq(fx_sh("git -C '%s' fsck --strict >/dev/null 2>&1", store), 0);
	cr_assert_eq(git_object_count(store), git_object_count(clone));
	free(a);
	free(b);
}

Test(import_export, import_missing_repository_changes_nothing)
{
	grove *g = open_store("mem:");
	char missing[4200];
	snprintf(missing, sizeof(missing), "%s/nope", tmp);
	cr_assert_eq(grove_import(g, missing), GROVE_ENOTFOUND);
	cr_assert(strstr(grove_error_message(), missing) != NULL, "%s", grove_error_message());
	cr_assert_eq(grove_import(g, work), GROVE_ENOTFOUND, "an empty directory is no repository");
	cr_assert_eq(grove_import(g, ""), GROVE_EINVALID);
	grove_stats st;
	cr_assert_eq(grove_stats_get(g, &st), 0);
	cr_assert_eq(st.objects, 0);
	cr_assert_eq(st.refs, 0);
	grove_close(g);
}

/* A damaged pack is reported and no ref is set. */
Test(import_export, import_corrupt_pack_fails_without_refs)
{
	fx_make_history(work);
	char clone[4200];
	snprintf(clone, sizeof(clone), "%s/clone.git", tmp);
	FX_SH("git clone -q --bare '%s' '%s'", work, clone);
	/* Flip a byte in the middle of the pack. */
	FX_SH("cd '%s'/objects/pack && p=$(ls pack-*.pack) && chmod u+w $p && "
		"size=$(stat -c %%s $p) && printf '\\377' | "
		"dd of=$p bs=1 seek=$((size / 2)) conv=notrunc status=none", clone);
	grove *g = open_store("mem:");
	int rc = grove_import(g, clone);
	cr_assert_eq(rc, GROVE_ECORRUPT, "rc %d: %s", rc, grove_error_message());
	cr_assert(strstr(grove_error_message(), "pack") != NULL, "%s", grove_error_message());
	grove_stats st;
	cr_assert_eq(grove_stats_get(g, &st), 0);
	cr_assert_eq(st.refs, 0);
	grove_close(g);
}

Test(import_export, import_refused_by_read_only_store)
{
	fx_make_history(work);
	char store[4200], loc[4300];
	snprintf(store, sizeof(store), "%s/store.git", tmp);
	snprintf(loc, sizeof(loc), "git:%s", store);
	grove *g = open_store(loc);
	grove_close(g);
	grove_options o = GROVE_OPTIONS_INIT;
	o.read_only = 1;
	cr_assert_eq(grove_open(&g, loc, &o), 0, "%s", grove_error_message());
	cr_assert_eq(grove_import(g, work), GROVE_EREADONLY);
	grove_close(g);
	cr_assert_eq(git_object_count(store), 0);
}

/* A detached HEAD in the source leaves the store's HEAD alone. */
Test(import_export, detached_source_head)
{
	fx_make_history(work);
	FX_GIT(work, "checkout -q --detach HEAD~1");
	char loc[4300];
	snprintf(loc, sizeof(loc), "lmdb:%s/store", tmp);
	grove *g = open_store(loc);
	cr_assert_eq(grove_import(g, work), 0, "%s", grove_error_message());
	char *head = NULL;
	cr_assert_eq(grove_head_branch(g, &head), 0);
	cr_assert_str_eq(head, "main");
	free(head);
	grove_close(g);
}

/* Export into a repository that already has refs: ours win, theirs stay. */
Test(import_export, export_overwrites_existing_refs)
{
	fx_make_history(work);
	char loc[4300];
	snprintf(loc, sizeof(loc), "lmdb:%s/store", tmp);
	grove *g = open_store(loc);
	cr_assert_eq(grove_import(g, work), 0, "%s", grove_error_message());

	char out[4200];
	snprintf(out, sizeof(out), "%s/out.git", tmp);
	FX_SH("git init -q --bare -b main '%s'", out);
	FX_SH("cd '%s' && echo other | " GIT_FIXTURE_ENV "hash-object -w --stdin >/dev/null", out);
	char *other = fx_line("cd '%s' && echo other | git hash-object --stdin", out);
	char *tree = fx_line("git -C '%s' mktree </dev/null", out);
	char *commit = fx_line("cd '%s' && " GIT_FIXTURE_ENV "commit-tree -m x %s", out, tree);
	FX_SH("git -C '%s' update-ref refs/heads/main %s", out, commit);
	FX_SH("git -C '%s' update-ref refs/heads/theirs %s", out, commit);

	cr_assert_eq(grove_export(g, out), 0, "%s", grove_error_message());
	char *main_a = fx_line("git -C '%s' rev-parse main", work);
	char *main_b = fx_line("git -C '%s' rev-parse main", out);
	cr_assert_str_eq(main_b, main_a);
	char *theirs = fx_line("git -C '%s' rev-parse theirs", out);
	cr_assert_str_eq(theirs, commit);
	cr_assert_eq(fx_sh("git -C '%s' fsck --strict >/dev/null 2>&1", out), 0);
	/* Exporting again is a no-op that still succeeds. */
	cr_assert_eq(grove_export(g, out), 0, "%s", grove_error_message());
	grove_close(g);
	free(other);
	free(tree);
	free(commit);
	free(main_a);
	free(main_b);
	free(theirs);
}
