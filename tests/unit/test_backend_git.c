/* The git: backend against real repositories and the real git CLI. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "compress.h"
#include "error.h"
#include "git_fixture.h"
#include "oid.h"

static char *tmp;
static char repo[4096];

static void setup(void)
{
	tmp = fx_tmpdir();
	snprintf(repo, sizeof(repo), "%s/store.git", tmp);
}

static void teardown(void)
{
	fx_rmrf(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(backend_git, .init = setup, .fini = teardown, .timeout = 120);

static grove_backend *open_at(const char *path, int create, int read_only)
{
	grove_options o = GROVE_OPTIONS_INIT;
	grove_backend *be = NULL;
	o.create = create;
	o.read_only = read_only;
	o.durability = GROVE_RELAXED;
	int rc = grove__backend_git_open(&be, path, &o);
	cr_assert_eq(rc, 0, "open %s: %s", path, grove_error_message());
	return be;
}

static grove__object plain(grove_otype type, const void *data, size_t len)
{
	grove__object o;
	memset(&o, 0, sizeof(o));
	cr_assert_eq(grove__object_hash(type, data, len, &o.id), 0);
	o.type = type;
	o.size = len;
	o.encoding = GROVE__ENC_PLAIN;
	o.data = data;
	o.data_len = len;
	return o;
}

static int write_objects(grove_backend *be, const grove__object *objs, size_t n)
{
	grove__write_set ws = { objs, n, NULL, 0 };
	return be->ops->write(be, &ws);
}

static int write_refs(grove_backend *be, const grove_ref_update *u, size_t n)
{
	grove__write_set ws = { NULL, 0, u, n };
	return be->ops->write(be, &ws);
}

static grove_ref_update update(const char *name, const grove_oid *old, const grove_oid *new_id,
	int check)
{
	grove_ref_update u;
	memset(&u, 0, sizeof(u));
	u.refname = name;
	if (old)
		u.old_id = *old;
	if (new_id)
		u.new_id = *new_id;
	u.check_old = check;
	return u;
}

/* Tree with one blob entry, then a commit of it; returns the commit id.
 * Storage for the encoded objects is the caller's. */
typedef struct {
	char tree[64];
	size_t tree_len;
	char commit[512];
	size_t commit_len;
	grove_oid blob_id, tree_id, commit_id;
} small_history;

static void make_commit(small_history *h, const char *content, const char *msg,
	const grove_oid *parent)
{
	char hex[41], phex[41];
	cr_assert_eq(grove__object_hash(GROVE_OBJ_BLOB, content, strlen(content), &h->blob_id), 0);
	int n = snprintf(h->tree, sizeof(h->tree), "100644 file.txt");
	h->tree[n] = '\0';
	memcpy(h->tree + n + 1, h->blob_id.id, 20);
	h->tree_len = (size_t)n + 1 + 20;
	cr_assert_eq(grove__object_hash(GROVE_OBJ_TREE, h->tree, h->tree_len, &h->tree_id), 0);
	grove_oid_tohex(hex, &h->tree_id);
	char parent_line[64] = "";
	if (parent)
		snprintf(parent_line, sizeof(parent_line), "parent %s\n", grove_oid_tohex(phex, parent));
	h->commit_len = (size_t)snprintf(h->commit, sizeof(h->commit),
		"tree %s\n%sauthor A <a@example.com> 1700000000 +0000\n"
		"committer A <a@example.com> 1700000000 +0000\n\n%s\n", hex, parent_line, msg);
	cr_assert_eq(grove__object_hash(GROVE_OBJ_COMMIT, h->commit, h->commit_len, &h->commit_id), 0);
}

/* Writes the history's three objects and points ref at the commit. */
static void store_commit(grove_backend *be, small_history *h, const char *content,
	const char *msg, const grove_oid *parent)
{
	make_commit(h, content, msg, parent);
	grove__object objs[3] = {
		plain(GROVE_OBJ_BLOB, content, strlen(content)),
		plain(GROVE_OBJ_TREE, h->tree, h->tree_len),
		plain(GROVE_OBJ_COMMIT, h->commit, h->commit_len),
	};
	cr_assert_eq(write_objects(be, objs, 3), 0, "%s", grove_error_message());
}

static char *hex_of(const grove_oid *id)
{
	static _Thread_local char buf[41];
	return grove_oid_tohex(buf, id);
}

/* ------------------------------------------------------------------ */

Test(backend_git, create_makes_bare_repo_with_main_head)
{
	grove_backend *be = open_at(repo, 1, 0);
	cr_assert_str_eq(be->ops->name, "git");
	char *bare = fx_line("git -C '%s' rev-parse --is-bare-repository", repo);
	cr_assert_str_eq(bare, "true");
	char *head = fx_line("git -C '%s' symbolic-ref HEAD", repo);
	cr_assert_str_eq(head, "refs/heads/main");
	char *target = NULL;
	cr_assert_eq(be->ops->head_read(be, &target), 0);
	cr_assert_str_eq(target, "refs/heads/main");
	free(target);
	free(bare);
	free(head);
	be->ops->close(be);

	/* Reopening an existing repository works without create. */
	be = open_at(repo, 0, 0);
	be->ops->close(be);
}

Test(backend_git, open_missing_without_create_is_not_found)
{
	grove_options o = GROVE_OPTIONS_INIT;
	grove_backend *be = NULL;
	o.create = 0;
	cr_assert_eq(grove__backend_git_open(&be, repo, &o), GROVE_ENOTFOUND);
	cr_assert_null(be);
	cr_assert(strstr(grove_error_message(), "git: ") == grove_error_message());
	cr_assert_neq(access(repo, F_OK), 0, "nothing was created");
	/* A plain directory is not a repository either. */
	cr_assert_eq(grove__backend_git_open(&be, tmp, &o), GROVE_ENOTFOUND);
	cr_assert_eq(grove__backend_git_open(&be, "", &o), GROVE_EINVALID);
}

Test(backend_git, written_objects_are_git_objects)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history h;
	store_commit(be, &h, "hello\n", "first", NULL);
	grove_ref_update u = update("refs/heads/main", &grove__oid_zero, &h.commit_id, 1);
	cr_assert_eq(write_refs(be, &u, 1), 0, "%s", grove_error_message());

	/* The git CLI sees the same objects and a clean repository. */
	cr_assert_eq(fx_sh("git -C '%s' fsck --strict --no-dangling >/dev/null 2>&1", repo), 0);
	char *blob = fx_capture(NULL, "git -C '%s' cat-file blob main:file.txt", repo);
	cr_assert_str_eq(blob, "hello\n");
	char *subject = fx_line("git -C '%s' log --format=%%s main", repo);
	cr_assert_str_eq(subject, "first");
	char *rev = fx_line("git -C '%s' rev-parse main", repo);
	cr_assert_str_eq(rev, hex_of(&h.commit_id));
	free(blob);
	free(subject);
	free(rev);

	/* And the backend reads them back. */
	grove_buf buf = { 0 };
	grove_otype type;
	cr_assert_eq(be->ops->read(be, &h.commit_id, &type, &buf), 0);
	cr_assert_eq(type, GROVE_OBJ_COMMIT);
	cr_assert_eq(buf.size, h.commit_len);
	cr_assert_eq(memcmp(buf.data, h.commit, h.commit_len), 0);
	cr_assert_eq(((char *)buf.data)[buf.size], '\0', "content is NUL-terminated");
	grove_buf_dispose(&buf);
	size_t size;
	cr_assert_eq(be->ops->read_header(be, &h.tree_id, &type, &size), 0);
	cr_assert_eq(type, GROVE_OBJ_TREE);
	cr_assert_eq(size, h.tree_len);
	cr_assert_eq(be->ops->exists(be, &h.blob_id), 1);

	grove_oid ref;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &ref), 0);
	cr_assert(grove__oid_equal(&ref, &h.commit_id));

	/* Writing present objects again is harmless. */
	store_commit(be, &h, "hello\n", "first", NULL);
	be->ops->close(be);
}

Test(backend_git, missing_objects_and_refs)
{
	grove_backend *be = open_at(repo, 1, 0);
	grove_oid id;
	grove_buf buf = { 0 };
	grove_otype type;
	size_t size;
	memset(&id, 0xab, sizeof(id));
	cr_assert_eq(be->ops->exists(be, &id), 0);
	cr_assert_eq(be->ops->read(be, &id, &type, &buf), GROVE_ENOTFOUND);
	cr_assert_null(buf.data);
	cr_assert_eq(be->ops->read_header(be, &id, &type, &size), GROVE_ENOTFOUND);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &id), GROVE_ENOTFOUND);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/nope", &id), GROVE_ENOTFOUND);
	be->ops->close(be);
}

Test(backend_git, object_with_wrong_id_is_refused)
{
	grove_backend *be = open_at(repo, 1, 0);
	grove__object o = plain(GROVE_OBJ_BLOB, "content", 7);
	o.data = "CONTENT";
	cr_assert_eq(write_objects(be, &o, 1), GROVE_ECORRUPT);
	cr_assert(strstr(grove_error_message(), "hashes to") != NULL, "%s", grove_error_message());
	cr_assert_eq(be->ops->exists(be, &o.id), 0);
	char hex[41];
	cr_assert_neq(fx_sh("git -C '%s' cat-file -e %s 2>/dev/null", repo, grove_oid_tohex(hex, &o.id)), 0);

	/* A bad type or encoding is refused too. */
	grove__object bad = plain(GROVE_OBJ_BLOB, "x", 1);
	bad.type = (grove_otype)9;
	cr_assert_eq(write_objects(be, &bad, 1), GROVE_EINVALID);
	bad = plain(GROVE_OBJ_BLOB, "y", 1);
	bad.encoding = (grove__encoding)7;
	cr_assert_eq(write_objects(be, &bad, 1), GROVE_EINVALID);
	cr_assert_eq(be->ops->exists(be, &bad.id), 0);
	be->ops->close(be);
}

Test(backend_git, ref_compare_and_swap)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a, b;
	store_commit(be, &a, "one\n", "one", NULL);
	store_commit(be, &b, "two\n", "two", &a.commit_id);

	grove_ref_update u = update("refs/heads/main", &grove__oid_zero, &a.commit_id, 1);
	cr_assert_eq(write_refs(be, &u, 1), 0, "%s", grove_error_message());
	/* "must not exist" now fails. */
	cr_assert_eq(write_refs(be, &u, 1), GROVE_EHEADMOVED);
	cr_assert(strstr(grove_error_message(), "refs/heads/main") != NULL);

	/* A batch where one check fails changes nothing at all. */
	grove_ref_update batch[2] = {
		update("refs/heads/other", &grove__oid_zero, &b.commit_id, 1),
		update("refs/heads/main", &b.commit_id, &b.commit_id, 1),
	};
	cr_assert_eq(write_refs(be, batch, 2), GROVE_EHEADMOVED);
	cr_assert(strstr(grove_error_message(), "refs/heads/main") != NULL, "%s", grove_error_message());
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/other", &got), GROVE_ENOTFOUND);
	cr_assert_neq(fx_sh("git -C '%s' show-ref --verify -q refs/heads/other", repo), 0);
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &got), 0);
	cr_assert(grove__oid_equal(&got, &a.commit_id));

	/* The right expectation succeeds for both. */
	batch[1] = update("refs/heads/main", &a.commit_id, &b.commit_id, 1);
	cr_assert_eq(write_refs(be, batch, 2), 0, "%s", grove_error_message());
	char *rev = fx_line("git -C '%s' rev-parse main other", repo);
	char want[100];
	snprintf(want, sizeof(want), "%s\n", hex_of(&b.commit_id));
	strcat(want, hex_of(&b.commit_id));
	cr_assert_str_eq(rev, want);
	free(rev);

	/* Unconditional set, then a checked delete. */
	u = update("refs/heads/main", NULL, &a.commit_id, 0);
	cr_assert_eq(write_refs(be, &u, 1), 0);
	u = update("refs/heads/main", &b.commit_id, NULL, 1);
	cr_assert_eq(write_refs(be, &u, 1), GROVE_EHEADMOVED);
	u = update("refs/heads/main", &a.commit_id, NULL, 1);
	cr_assert_eq(write_refs(be, &u, 1), 0, "%s", grove_error_message());
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &got), GROVE_ENOTFOUND);
	cr_assert_neq(fx_sh("git -C '%s' show-ref --verify -q refs/heads/main", repo), 0);
	/* Deleting a ref that does not exist, unchecked, is a no-op. */
	u = update("refs/heads/main", NULL, NULL, 0);
	cr_assert_eq(write_refs(be, &u, 1), 0, "%s", grove_error_message());
	be->ops->close(be);
}

Test(backend_git, delete_of_packed_ref)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a;
	store_commit(be, &a, "one\n", "one", NULL);
	grove_ref_update u = update("refs/tags/t", NULL, &a.commit_id, 0);
	cr_assert_eq(write_refs(be, &u, 1), 0);
	FX_SH("git -C '%s' pack-refs --all", repo);
	cr_assert_neq(fx_sh("test -f '%s/refs/tags/t'", repo), 0, "ref is only packed");
	u = update("refs/tags/t", &a.commit_id, NULL, 1);
	cr_assert_eq(write_refs(be, &u, 1), 0, "%s", grove_error_message());
	cr_assert_neq(fx_sh("git -C '%s' show-ref --verify -q refs/tags/t", repo), 0);
	be->ops->close(be);
}

Test(backend_git, ref_locked_by_git_is_reported_and_untouched)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a, b;
	store_commit(be, &a, "one\n", "one", NULL);
	store_commit(be, &b, "two\n", "two", &a.commit_id);
	grove_ref_update u = update("refs/heads/main", NULL, &a.commit_id, 0);
	cr_assert_eq(write_refs(be, &u, 1), 0);

	/* What git itself leaves while it updates a ref. */
	FX_SH("touch '%s/refs/heads/main.lock'", repo);
	grove_ref_update batch[2] = {
		update("refs/heads/other", NULL, &b.commit_id, 0),
		update("refs/heads/main", &a.commit_id, &b.commit_id, 1),
	};
	cr_assert_eq(write_refs(be, batch, 2), GROVE_ELOCKED);
	cr_assert(strstr(grove_error_message(), "refs/heads/main") != NULL, "%s", grove_error_message());
	cr_assert(strstr(grove_error_message(), "locked") != NULL, "%s", grove_error_message());

	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &got), 0);
	cr_assert(grove__oid_equal(&got, &a.commit_id));
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/other", &got), GROVE_ENOTFOUND);
	cr_assert_eq(fx_sh("test -f '%s/refs/heads/main.lock'", repo), 0, "git's lock is left alone");
	cr_assert_neq(fx_sh("test -e '%s/refs/heads/other.lock'", repo), 0, "our locks are released");

	/* Once git is done, the update goes through. */
	FX_SH("rm '%s/refs/heads/main.lock'", repo);
	cr_assert_eq(write_refs(be, batch, 2), 0, "%s", grove_error_message());
	be->ops->close(be);
}

Test(backend_git, invalid_ref_updates)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a;
	store_commit(be, &a, "one\n", "one", NULL);
	const char *bad[] = { "refs/heads/a..b", "HEAD", "main", "refs/heads/x.lock", "refs/heads/",
		"refs/heads/a b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		grove_ref_update u = update(bad[i], NULL, &a.commit_id, 0);
		cr_assert_eq(write_refs(be, &u, 1), GROVE_EINVALID, "%s accepted", bad[i]);
	}
	grove_ref_update twice[2] = {
		update("refs/heads/a", NULL, &a.commit_id, 0),
		update("refs/heads/a", NULL, &a.commit_id, 0),
	};
	cr_assert_eq(write_refs(be, twice, 2), GROVE_EINVALID);
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/a", &got), GROVE_ENOTFOUND);
	be->ops->close(be);
}

typedef struct {
	char names[16][64];
	grove_oid ids[16];
	int n;
	int stop_at;
} ref_seen;

static int see_ref(const char *name, const grove_oid *id, void *payload)
{
	ref_seen *s = payload;
	if (s->n == s->stop_at)
		return 42;
	cr_assert_lt(s->n, 16);
	snprintf(s->names[s->n], 64, "%s", name);
	s->ids[s->n++] = *id;
	return 0;
}

Test(backend_git, ref_foreach_sorted_with_prefix)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a;
	store_commit(be, &a, "one\n", "one", NULL);
	const char *names[] = { "refs/tags/z", "refs/heads/b", "refs/heads/a/x", "refs/heads/a-b",
		"refs/heads/a" };
	for (size_t i = 0; i < 5; i++) {
		grove_ref_update u = update(names[i], NULL, &a.commit_id, 0);
		cr_assert_eq(write_refs(be, &u, 1), 0, "%s", grove_error_message());
		/* Half packed, half loose, as git leaves them. */
		if (i == 2)
			FX_SH("git -C '%s' pack-refs --all", repo);
	}
	ref_seen s = { .stop_at = -1 };
	cr_assert_eq(be->ops->ref_foreach(be, "", see_ref, &s), 0);
	cr_assert_eq(s.n, 5);
	const char *sorted[] = { "refs/heads/a", "refs/heads/a-b", "refs/heads/a/x", "refs/heads/b",
		"refs/tags/z" };
	for (int i = 0; i < 5; i++) {
		cr_assert_str_eq(s.names[i], sorted[i]);
		cr_assert(grove__oid_equal(&s.ids[i], &a.commit_id));
	}

	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	cr_assert_eq(be->ops->ref_foreach(be, "refs/heads/a", see_ref, &s), 0);
	cr_assert_eq(s.n, 3);
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	cr_assert_eq(be->ops->ref_foreach(be, "refs/tags/", see_ref, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.names[0], "refs/tags/z");

	/* A non-zero return stops the walk and is passed back. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	cr_assert_eq(be->ops->ref_foreach(be, NULL, see_ref, &s), 42);
	cr_assert_eq(s.n, 2);
	be->ops->close(be);
}

Test(backend_git, head_write_and_read)
{
	grove_backend *be = open_at(repo, 1, 0);
	cr_assert_eq(be->ops->head_write(be, "refs/heads/dev"), 0, "%s", grove_error_message());
	char *head = fx_line("git -C '%s' symbolic-ref HEAD", repo);
	cr_assert_str_eq(head, "refs/heads/dev");
	free(head);
	char *t = NULL;
	cr_assert_eq(be->ops->head_read(be, &t), 0);
	cr_assert_str_eq(t, "refs/heads/dev");
	free(t);
	cr_assert_eq(be->ops->head_write(be, "refs/heads/a..b"), GROVE_EINVALID);
	cr_assert_eq(be->ops->head_write(be, "dev"), GROVE_EINVALID);
	cr_assert_eq(be->ops->head_read(be, &t), 0);
	cr_assert_str_eq(t, "refs/heads/dev", "HEAD unchanged after refusals");
	free(t);

	/* Changed by git, seen by the backend. */
	FX_SH("git -C '%s' symbolic-ref HEAD refs/heads/other", repo);
	cr_assert_eq(be->ops->head_read(be, &t), 0);
	cr_assert_str_eq(t, "refs/heads/other");
	free(t);
	be->ops->close(be);
}

Test(backend_git, read_only_refuses_writes)
{
	grove_backend *be = open_at(repo, 1, 0);
	be->ops->close(be);
	be = open_at(repo, 0, 1);
	grove__object o = plain(GROVE_OBJ_BLOB, "x", 1);
	cr_assert_eq(write_objects(be, &o, 1), GROVE_EREADONLY);
	cr_assert_eq(be->ops->exists(be, &o.id), 0);
	grove_ref_update u = update("refs/heads/main", NULL, &o.id, 0);
	cr_assert_eq(write_refs(be, &u, 1), GROVE_EREADONLY);
	cr_assert_eq(be->ops->head_write(be, "refs/heads/x"), GROVE_EREADONLY);
	char *t = NULL;
	cr_assert_eq(be->ops->head_read(be, &t), 0, "reads still work");
	free(t);
	be->ops->close(be);

	/* read_only with create does not create. */
	grove_options opts = GROVE_OPTIONS_INIT;
	char other[4200];
	snprintf(other, sizeof(other), "%s/never.git", tmp);
	opts.read_only = 1;
	cr_assert_eq(grove__backend_git_open(&be, other, &opts), GROVE_ENOTFOUND);
	cr_assert_neq(access(other, F_OK), 0);
}

static int count_cb(const grove_oid *id, void *payload)
{
	(void)id;
	(*(size_t *)payload)++;
	return 0;
}

/* Every object of a git-made repository (loose, packed, deltified) reads
 * back byte for byte as `git cat-file` gives it. */
Test(backend_git, reads_git_made_repository)
{
	char work[4200];
	snprintf(work, sizeof(work), "%s/work", tmp);
	FX_SH("mkdir '%s'", work);
	fx_make_history(work);

	/* The fixture must really hold deltas, loose objects and merges. */
	char *deltas = fx_line("git -C '%s' cat-file --batch-all-objects "
		"--batch-check='%%(deltabase)' | grep -vc '^0\\{40\\}$'", work);
	cr_assert_not_null(deltas);
	cr_assert_gt(atoi(deltas), 0, "no deltas in the fixture");
	free(deltas);
	cr_assert_eq(fx_sh("test -n \"$(find '%s/.git/objects' -path '*/objects/[0-9a-f][0-9a-f]/*')\"",
		work), 0, "no loose objects in the fixture");

	grove_backend *be = open_at(work, 0, 1);
	size_t len;
	char *list = fx_capture(&len, "git -C '%s' cat-file --batch-all-objects "
		"--batch-check='%%(objectname) %%(objecttype) %%(objectsize)'", work);
	cr_assert_not_null(list);
	size_t count = 0;
	for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
		char hex[41], type[16];
		size_t size;
		cr_assert_eq(sscanf(line, "%40s %15s %zu", hex, type, &size), 3);
		grove_oid id;
		cr_assert_eq(grove_oid_fromhex(&id, hex), 0);
		grove_buf buf = { 0 };
		grove_otype t;
		cr_assert_eq(be->ops->read(be, &id, &t, &buf), 0, "%s: %s", hex, grove_error_message());
		cr_assert_str_eq(grove_otype_name(t), type);
		cr_assert_eq(buf.size, size);
		size_t glen;
		char *want = fx_capture(&glen, "git -C '%s' cat-file %s %s", work, type, hex);
		cr_assert_not_null(want);
		cr_assert_eq(glen, buf.size, "%s", hex);
		cr_assert_eq(memcmp(want, buf.data, glen), 0, "%s differs", hex);
		free(want);
		grove_buf_dispose(&buf);
		size_t hsize;
		cr_assert_eq(be->ops->read_header(be, &id, &t, &hsize), 0);
		cr_assert_eq(hsize, size);
		count++;
	}
	free(list);
	cr_assert_gt(count, 30);
	size_t seen = 0;
	cr_assert_eq(be->ops->foreach_object(be, count_cb, &seen), 0);
	cr_assert_eq(seen, count);

	/* Refs (packed and loose) equal git's own listing, in its order. */
	char *want_refs = fx_capture(NULL, "git -C '%s' for-each-ref --format='%%(refname) %%(objectname)'",
		work);
	cr_assert_not_null(want_refs);
	ref_seen s = { .stop_at = -1 };
	cr_assert_eq(be->ops->ref_foreach(be, "", see_ref, &s), 0);
	char got_refs[4096] = "";
	for (int i = 0; i < s.n; i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s %s\n", s.names[i], hex_of(&s.ids[i]));
		strcat(got_refs, line);
	}
	cr_assert_str_eq(got_refs, want_refs);
	cr_assert(strstr(got_refs, "refs/tags/v1.0 ") != NULL);
	free(want_refs);

	char *t = NULL;
	cr_assert_eq(be->ops->head_read(be, &t), 0);
	cr_assert_str_eq(t, "refs/heads/main");
	free(t);
	be->ops->close(be);
}

/* Encoded records: zlib ones (few: written loose; many: as one pack) and
 * deltas whose base comes later in the same write set. */
Test(backend_git, encoded_records)
{
	grove_backend *be = open_at(repo, 1, 0);
	enum { N = 100 };
	char texts[N][64];
	grove_buf z[N];
	grove__object recs[N];
	for (int i = 0; i < N; i++) {
		snprintf(texts[i], sizeof(texts[i]), "blob number %d\n", i);
		recs[i] = plain(GROVE_OBJ_BLOB, texts[i], strlen(texts[i]));
		cr_assert_eq(grove__zlib_compress(texts[i], strlen(texts[i]), 6, &z[i]), 0);
		recs[i].encoding = GROVE__ENC_ZLIB;
		recs[i].data = z[i].data;
		recs[i].data_len = z[i].size;
	}
	/* Three: the loose path. */
	cr_assert_eq(write_objects(be, recs, 3), 0, "%s", grove_error_message());
	cr_assert_neq(fx_sh("ls '%s'/objects/pack/*.pack >/dev/null 2>&1", repo), 0);
	/* The rest: one pack. */
	cr_assert_eq(write_objects(be, recs + 3, N - 3), 0, "%s", grove_error_message());
	cr_assert_eq(fx_sh("ls '%s'/objects/pack/*.pack >/dev/null 2>&1", repo), 0);
	for (int i = 0; i < N; i++) {
		grove_buf buf = { 0 };
		cr_assert_eq(be->ops->read(be, &recs[i].id, NULL, &buf), 0, "%d: %s", i,
			grove_error_message());
		cr_assert_eq(buf.size, strlen(texts[i]));
		cr_assert_eq(memcmp(buf.data, texts[i], buf.size), 0);
		grove_buf_dispose(&buf);
		grove_buf_dispose(&z[i]);
	}
	cr_assert_eq(fx_sh("git -C '%s' fsck --strict >/dev/null 2>&1", repo), 0);

	/* A delta before its base: target = base + "extra\n", written by hand
	 * as copy(0, base) + insert("extra\n"). */
	char base[1601], target[1608];
	for (int i = 0; i < 40; i++)
		snprintf(base + i * 40, 41, "%-39d\n", i * 7);
	size_t blen = 1600, tlen = 1606;
	memcpy(target, base, blen);
	memcpy(target + blen, "extra\n", 6);
	unsigned char d[32];
	size_t dn = 0;
	d[dn++] = 0x80 | (blen & 0x7f);
	d[dn++] = (unsigned char)(blen >> 7);
	d[dn++] = 0x80 | (tlen & 0x7f);
	d[dn++] = (unsigned char)(tlen >> 7);
	d[dn++] = 0x80 | 0x10 | 0x20; /* copy, offset 0, two size bytes */
	d[dn++] = blen & 0xff;
	d[dn++] = (unsigned char)(blen >> 8);
	d[dn++] = 6; /* insert 6 bytes */
	memcpy(d + dn, "extra\n", 6);
	dn += 6;
	grove_buf zdelta = { 0 };
	cr_assert_eq(grove__zlib_compress(d, dn, 6, &zdelta), 0);
	grove__object pair[2];
	pair[0] = plain(GROVE_OBJ_BLOB, target, tlen);
	pair[1] = plain(GROVE_OBJ_BLOB, base, blen);
	pair[0].encoding = GROVE__ENC_DELTA;
	pair[0].base = pair[1].id;
	pair[0].data = zdelta.data;
	pair[0].data_len = zdelta.size;

	/* Without its base anywhere it fails and writes nothing. */
	cr_assert_lt(write_objects(be, pair, 1), 0);
	cr_assert_eq(be->ops->exists(be, &pair[0].id), 0);

	cr_assert_eq(write_objects(be, pair, 2), 0, "%s", grove_error_message());
	grove_buf buf = { 0 };
	cr_assert_eq(be->ops->read(be, &pair[0].id, NULL, &buf), 0);
	cr_assert_eq(buf.size, tlen);
	cr_assert_eq(memcmp(buf.data, target, tlen), 0);
	grove_buf_dispose(&buf);
	char *cat = fx_capture(NULL, "git -C '%s' cat-file blob %s", repo, hex_of(&pair[0].id));
	cr_assert_not_null(cat);
	cr_assert_eq(memcmp(cat, target, tlen), 0);
	free(cat);
	grove_buf_dispose(&zdelta);
	be->ops->close(be);
}

Test(backend_git, sees_changes_made_by_git)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a, b;
	store_commit(be, &a, "one\n", "one", NULL);
	store_commit(be, &b, "two\n", "two", &a.commit_id);
	grove_ref_update u = update("refs/heads/main", NULL, &a.commit_id, 0);
	cr_assert_eq(write_refs(be, &u, 1), 0);

	FX_SH("git -C '%s' update-ref refs/heads/main %s", repo, hex_of(&b.commit_id));
	grove_oid got;
	cr_assert_eq(be->ops->ref_read(be, "refs/heads/main", &got), 0);
	cr_assert(grove__oid_equal(&got, &b.commit_id));
	/* Our stale expectation now fails. */
	u = update("refs/heads/main", &a.commit_id, &a.commit_id, 1);
	cr_assert_eq(write_refs(be, &u, 1), GROVE_EHEADMOVED);

	/* An object written by git, then repacked by git, stays readable. */
	char *hex = fx_line("echo 'from git' | git -C '%s' hash-object -w --stdin", repo);
	grove_oid id;
	cr_assert_eq(grove_oid_fromhex(&id, hex), 0);
	cr_assert_eq(be->ops->exists(be, &id), 1);
	FX_SH("git -C '%s' repack -adq", repo);
	grove_buf buf = { 0 };
	cr_assert_eq(be->ops->read(be, &id, NULL, &buf), 0, "%s", grove_error_message());
	cr_assert_eq(buf.size, 9);
	grove_buf_dispose(&buf);
	free(hex);
	be->ops->close(be);
}

Test(backend_git, stats_count_objects_and_refs)
{
	grove_backend *be = open_at(repo, 1, 0);
	small_history a;
	store_commit(be, &a, "one\n", "one", NULL);
	grove_ref_update u[2] = {
		update("refs/heads/main", NULL, &a.commit_id, 0),
		update("refs/tags/v1", NULL, &a.commit_id, 0),
	};
	cr_assert_eq(write_refs(be, u, 2), 0);
	grove_stats st;
	cr_assert_eq(be->ops->stats(be, &st), 0);
	cr_assert_eq(st.objects, 3);
	cr_assert_eq(st.refs, 2);
	cr_assert_gt(st.disk_bytes, 0);
	cr_assert_eq(be->ops->flush(be), 0);
	be->ops->close(be);
}
