/*
 * The reachability index (store/reach_index.c) and its use by upload-pack:
 * the index lists exactly what HEAD reaches, follows HEAD through update
 * and gc, and a fetch served with it sends the same objects as one served
 * without it, whatever the wants, filters and the index's state.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../git/pktline.h"
#include "../../git/upload_pack.h"
#include "error.h"
#include "pack.h"
#include "reach_index.h"
#include "sbuf.h"
#include "sideband_pack.h"
#include "store.h"

static grove *g;
static char tmp_root[64];
static grove_oid c1, c2, c3, side_tip, feat_tip, merged, tag_id;

/* ---- the store ----------------------------------------------------------- */

static int64_t clock_s = 1000000000;

/* Commits one file, each commit a minute after the one before. */
static void commit_file(const char *branch, const char *key, const char *value, grove_oid *out)
{
	grove_signature sig = { "T", "t@x", 0, 0 };
	grove_commit_opts o = { &sig, NULL, NULL };
	sig.time = clock_s += 60;
	cr_assert_eq(grove_set(g, branch, key, value, strlen(value), &o, out), 0, "%s",
		grove_error_message());
}

static int eq(grove_oid a, const grove_oid *b)
{
	return memcmp(a.id, b->id, sizeof(a.id)) == 0;
}

/* main: c1 c2 c3, then a merge of "feat" (forked at c2); side forked at c2
 * and never merged; an annotated tag v1 on c2; HEAD is main. */
static void build_history(void)
{
	grove_ref_update u;
	char tag[256], hex[41];

	commit_file("main", "docs/readme", "hello", &c1);
	commit_file("main", "src/a.c", "int a;", &c2);
	cr_assert_eq(grove_branch_create(g, "side", "main", 0), 0);
	cr_assert_eq(grove_branch_create(g, "feat", "main", 0), 0);
	commit_file("main", "src/b.c", "int b;", &c3);
	commit_file("side", "src/side.c", "int s;", &side_tip);
	commit_file("side", "docs/readme", "side readme", &side_tip);
	commit_file("feat", "src/feat/x.c", "int x;", &feat_tip);
	{
		grove_signature sig = { "T", "t@x", clock_s += 60, 0 };
		grove_commit_opts co = { &sig, NULL, "merge feat" };
		grove_merge_opts mo;
		memset(&mo, 0, sizeof(mo));
		mo.commit = &co;
		cr_assert_eq(grove_merge(g, "main", "feat", &mo, &merged, NULL), 0, "%s",
			grove_error_message());
	}
	snprintf(tag, sizeof(tag), "object %s\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nrelease\n",
		grove_oid_tohex(hex, &c2));
	cr_assert_eq(grove_object_write(g, GROVE_OBJ_TAG, tag, strlen(tag), &tag_id), 0);
	memset(&u, 0, sizeof(u));
	u.refname = "refs/tags/v1";
	u.new_id = tag_id;
	cr_assert_eq(grove_ref_update_batch(g, &u, 1), 0);
}

static void open_mem(void)
{
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0);
	build_history();
}

static void open_lmdb(void)
{
	grove_options o = GROVE_OPTIONS_INIT;
	char loc[128];
	strcpy(tmp_root, "/tmp/grove-reach-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_root));
	snprintf(loc, sizeof(loc), "lmdb:%s/store", tmp_root);
	o.create = 1;
	cr_assert_eq(grove_open(&g, loc, &o), 0, "%s", grove_error_message());
	build_history();
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static void close_store(void)
{
	grove_close(g);
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmp_root[0] = 0;
}

/* ---- fetching through the upload-pack engine ------------------------------ */

typedef struct {
	grove_oid *ids;
	size_t count, cap;
} id_list;

static int collect(void *payload, const grove__object *records, size_t count)
{
	id_list *l = payload;
	for (size_t i = 0; i < count; i++) {
		if (l->count == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 64;
			l->ids = realloc(l->ids, l->cap * sizeof(*l->ids));
			cr_assert_not_null(l->ids);
		}
		l->ids[l->count++] = records[i].id;
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(grove_oid));
}

static int capture(void *payload, const void *data, size_t len)
{
	return grove__sbuf_put(payload, data, len);
}

static void pkt(grove__sbuf *b, const char *s)
{
	cr_assert_eq(grove__pkt_write(b, s, strlen(s)), 0);
}

/* A v2 fetch of wants (NULL-terminated "want ..."/"filter ..." lines, ids
 * given as commits), with done: the ids of the pack's objects, sorted. */
static id_list fetch(const char *const *lines)
{
	grove__upload_pack_opts o = GROVE__UPLOAD_PACK_OPTS_INIT;
	grove__upload_pack *up;
	grove__sbuf out = GROVE_SBUF_INIT, req = GROVE_SBUF_INIT, pack = GROVE_SBUF_INIT;
	grove__pack_index_opts io = { 0 };
	id_list ids = { 0 };

	o.version = GROVE__PROTOCOL_V2;
	cr_assert_eq(grove__upload_pack_new(&up, g, &o, capture, &out), 0);
	cr_assert_eq(grove__upload_pack_start(up), 0);
	pkt(&req, "command=fetch\n");
	grove__pkt_delim(&req);
	for (size_t i = 0; lines[i]; i++)
		pkt(&req, lines[i]);
	pkt(&req, "ofs-delta\n");
	pkt(&req, "no-progress\n");
	pkt(&req, "done\n");
	grove__pkt_flush(&req);
	grove__sbuf_reset(&out);
	cr_assert_eq(grove__upload_pack_feed(up, req.data, req.len), 0, "%s", grove_error_message());
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_NEED_PACK);
	cr_assert_eq(grove__upload_pack_run_pack(up), 0, "%s", grove_error_message());

	sideband_pack(&out, "packfile\n", &pack);
	io.deliver = collect;
	io.deliver_payload = &ids;
	cr_assert_eq(grove__pack_index(pack.data, pack.len, &io, NULL), 0, "%s", grove_error_message());
	qsort(ids.ids, ids.count, sizeof(grove_oid), by_id);
	for (size_t i = 1; i < ids.count; i++)
		cr_assert_neq(by_id(&ids.ids[i - 1], &ids.ids[i]), 0, "an object sent twice");
	grove__sbuf_dispose(&pack);
	grove__sbuf_dispose(&req);
	grove__sbuf_dispose(&out);
	grove__upload_pack_free(up);
	return ids;
}

static const char *want_line(const grove_oid *id)
{
	static char lines[8][64];
	static int next;
	char hex[41];
	char *l = lines[next++ % 8];
	snprintf(l, 64, "want %s\n", grove_oid_tohex(hex, id));
	return l;
}

static void drop_index(void)
{
	cr_assert_eq(g->be->ops->aux_put(g->be, "reach", NULL, 0), 0);
}

static void update_index(void)
{
	cr_assert_eq(grove__reach_index_update(g), 0, "%s", grove_error_message());
}

static grove_oid index_commit(void)
{
	grove__reach_index ri;
	grove_oid id;
	cr_assert_eq(grove__reach_index_read(g, &ri), 0, "%s", grove_error_message());
	id = ri.commit;
	grove__reach_index_dispose(&ri);
	return id;
}

/* The same fetch with the index and without it sends the same objects. */
static size_t same_with_and_without(const char *const *lines)
{
	id_list with, without;
	size_t n;
	with = fetch(lines);
	drop_index();
	without = fetch(lines);
	update_index();
	cr_assert_eq(with.count, without.count, "%zu objects with the index, %zu without",
		with.count, without.count);
	cr_assert_eq(memcmp(with.ids, without.ids, with.count * sizeof(grove_oid)), 0);
	n = with.count;
	free(with.ids);
	free(without.ids);
	return n;
}

static grove_oid head_of(const char *branch)
{
	grove_oid id;
	cr_assert_eq(grove_branch_head(g, branch, &id), 0);
	return id;
}

/* ---- the index itself ------------------------------------------------------ */

static void check_index_is_head_closure(void)
{
	grove__reach_index ri;
	grove_oid head = head_of("main");
	const char *lines[] = { want_line(&head), NULL };
	id_list sent;
	grove_oid *sorted;

	update_index();
	cr_assert_eq(grove__reach_index_read(g, &ri), 0, "%s", grove_error_message());
	cr_assert(eq(ri.commit, &head));
	cr_assert(eq(ri.ids[0], &head), "the index starts with its commit");
	/* c1 c2 c3, feat's commit and the merge. */
	cr_assert_eq(ri.commits, 5);
	drop_index();
	sent = fetch(lines);
	cr_assert_eq(sent.count, ri.count);
	sorted = malloc(ri.count * sizeof(*sorted));
	cr_assert_not_null(sorted);
	memcpy(sorted, ri.ids, ri.count * sizeof(*sorted));
	qsort(sorted, ri.count, sizeof(*sorted), by_id);
	cr_assert_eq(memcmp(sorted, sent.ids, ri.count * sizeof(*sorted)), 0,
		"the index lists exactly what a walk from HEAD finds");
	for (size_t i = 0; i < ri.count; i++) {
		grove_otype type;
		size_t size;
		cr_assert_eq(g->be->ops->read_header(g->be, &ri.ids[i], &type, &size), 0);
		cr_assert_eq(type, (grove_otype)ri.types[i]);
	}
	free(sorted);
	free(sent.ids);
	grove__reach_index_dispose(&ri);
}

Test(reach_index, lists_what_head_reaches_mem, .init = open_mem, .fini = close_store)
{
	check_index_is_head_closure();
}

Test(reach_index, lists_what_head_reaches_lmdb, .init = open_lmdb, .fini = close_store)
{
	check_index_is_head_closure();
}

Test(reach_index, follows_head_and_is_kept_when_current, .init = open_lmdb, .fini = close_store)
{
	grove_oid c4, head;
	update_index();
	head = head_of("main");
	cr_assert(eq(index_commit(), &head));
	/* Current: nothing rebuilt (a damaged copy would be replaced). */
	update_index();
	cr_assert(eq(index_commit(), &head));
	commit_file("main", "later", "x", &c4);
	cr_assert(eq(index_commit(), &head), "commits do not touch it");
	update_index();
	cr_assert(eq(index_commit(), &c4));
}

Test(reach_index, unborn_head_takes_the_newest_branch, .init = open_mem, .fini = close_store)
{
	grove_ref_update u[2];
	grove__reach_index ri;
	cr_assert_eq(g->be->ops->head_write(g->be, "refs/heads/nothing"), 0);
	update_index();
	cr_assert(eq(index_commit(), &merged), "the merge is the newest commit");
	/* Without main: feat, committed after side. */
	memset(u, 0, sizeof(u));
	u[0].refname = "refs/heads/main";
	cr_assert_eq(grove_ref_update_batch(g, u, 1), 0);
	update_index();
	cr_assert(eq(index_commit(), &feat_tip));
	/* No branch at all: the index goes. */
	u[0].refname = "refs/heads/side";
	u[1].refname = "refs/heads/feat";
	cr_assert_eq(grove_ref_update_batch(g, u, 2), 0);
	update_index();
	cr_assert_eq(grove__reach_index_read(g, &ri), GROVE_ENOTFOUND);
}

Test(reach_index, damaged_entry_is_reported_not_used, .init = open_mem, .fini = close_store)
{
	grove__reach_index ri;
	static const char junk[] = "GRX1 not an index";
	grove_oid head = head_of("main");
	const char *lines[] = { want_line(&head), NULL };
	id_list sent, expect;
	cr_assert_eq(g->be->ops->aux_put(g->be, "reach", junk, sizeof(junk)), 0);
	cr_assert_eq(grove__reach_index_read(g, &ri), GROVE_ECORRUPT);
	sent = fetch(lines);
	drop_index();
	expect = fetch(lines);
	cr_assert_eq(sent.count, expect.count);
	free(sent.ids);
	free(expect.ids);
	/* update replaces a damaged index. */
	update_index();
	cr_assert(eq(index_commit(), &head));
}

Test(reach_index, gc_moves_it_to_the_new_head, .init = open_lmdb, .fini = close_store)
{
	grove_ref_update u;
	update_index();
	/* main back to c1: c2.. stay reachable through side/feat/v1, the merge
	 * and c3 do not. */
	memset(&u, 0, sizeof(u));
	u.refname = "refs/heads/main";
	u.new_id = c1;
	cr_assert_eq(grove_ref_update_batch(g, &u, 1), 0);
	cr_assert_eq(grove_gc(g, NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_object_exists(g, &merged), 0);
	cr_assert(eq(index_commit(), &c1));
}

Test(reach_index, read_only_store_is_not_written, .init = open_lmdb, .fini = close_store)
{
	grove_options o = GROVE_OPTIONS_INIT;
	grove *ro;
	char loc[128];
	grove__reach_index ri;
	drop_index();
	snprintf(loc, sizeof(loc), "lmdb:%s/store", tmp_root);
	o.read_only = 1;
	cr_assert_eq(grove_open(&ro, loc, &o), 0, "%s", grove_error_message());
	cr_assert_eq(grove__reach_index_update(ro), 0);
	cr_assert_eq(grove__reach_index_read(ro, &ri), GROVE_ENOTFOUND);
	grove_close(ro);
}

/* ---- upload-pack with the index ------------------------------------------ */

Test(reach_index_fetch, clone_of_head, .init = open_lmdb, .fini = close_store)
{
	grove_oid head = head_of("main");
	const char *lines[] = { want_line(&head), NULL };
	update_index();
	cr_assert_gt(same_with_and_without(lines), 10);
}

Test(reach_index_fetch, clone_of_every_ref_with_tags, .init = open_mem, .fini = close_store)
{
	grove_oid head = head_of("main");
	const char *lines[] = { want_line(&head), want_line(&side_tip), want_line(&tag_id),
		"include-tag\n", NULL };
	update_index();
	cr_assert_gt(same_with_and_without(lines), 10);
}

Test(reach_index_fetch, include_tag_sends_the_tag_of_an_indexed_commit, .init = open_mem,
	.fini = close_store)
{
	grove_oid head = head_of("main");
	const char *lines[] = { want_line(&head), "include-tag\n", NULL };
	id_list sent;
	update_index();
	sent = fetch(lines);
	cr_assert_not_null(bsearch(&tag_id, sent.ids, sent.count, sizeof(grove_oid), by_id),
		"v1 points at c2, which the index sends");
	free(sent.ids);
}

Test(reach_index, branch_outside_the_index_falls_back, .init = open_mem, .fini = close_store)
{
	const char *lines[] = { want_line(&side_tip), NULL };
	update_index();
	/* side does not contain main's head: the index would send too much. */
	cr_assert_gt(same_with_and_without(lines), 3);
}

Test(reach_index_fetch, commits_made_after_the_index, .init = open_lmdb, .fini = close_store)
{
	grove_oid c4, c5;
	update_index();
	commit_file("main", "src/new.c", "int n;", &c4);
	commit_file("main", "docs/readme", "hello", &c5); /* back to an old blob */
	{
		const char *lines[] = { want_line(&c5), want_line(&side_tip), NULL };
		id_list with, without;
		/* The index still describes the merge, below c4 and c5. */
		cr_assert(eq(index_commit(), &merged));
		with = fetch(lines);
		drop_index();
		without = fetch(lines);
		cr_assert_eq(with.count, without.count);
		cr_assert_eq(memcmp(with.ids, without.ids, with.count * sizeof(grove_oid)), 0);
		free(with.ids);
		free(without.ids);
	}
}

Test(reach_index_fetch, filters, .init = open_lmdb, .fini = close_store)
{
	grove_oid head = head_of("main");
	const char *blob_none[] = { want_line(&head), "filter blob:none\n", NULL };
	const char *tree0[] = { want_line(&head), "filter tree:0\n", NULL };
	const char *limit[] = { want_line(&head), "filter blob:limit=3\n", NULL };
	update_index();
	cr_assert_gt(same_with_and_without(blob_none), 5);
	cr_assert_eq(same_with_and_without(tree0), 5, "the five commits only");
	cr_assert_gt(same_with_and_without(limit), 5);
}

Test(reach_index_fetch, fetch_with_haves_sends_only_the_new_objects, .init = open_mem,
	.fini = close_store)
{
	grove_oid head = head_of("main"), c4;
	char have[64], hex[41];
	update_index();
	commit_file("main", "src/c.c", "int c;", &c4);
	snprintf(have, sizeof(have), "have %s\n", grove_oid_tohex(hex, &head));
	{
		const char *lines[] = { want_line(&c4), have, NULL };
		id_list sent = fetch(lines);
		/* The commit, its root tree, src/ and the blob. */
		cr_assert_eq(sent.count, 4);
		free(sent.ids);
	}
}

/* White box: a clone of the index's commit takes the list from the index
 * (an index that leaves a blob out yields a pack without it). */
Test(reach_index_fetch, clone_uses_the_index, .init = open_mem, .fini = close_store)
{
	grove__reach_index ri;
	grove_oid head = head_of("main");
	const char *lines[] = { want_line(&head), NULL };
	unsigned char *copy;
	size_t last, full;
	id_list sent;

	update_index();
	cr_assert_eq(grove__reach_index_read(g, &ri), 0);
	full = ri.count;
	for (last = ri.count - 1; ri.types[last] != GROVE_OBJ_BLOB; last--)
		cr_assert_gt(last, ri.commits);
	/* The same index without that entry: count - 1, its type byte and id
	 * cut out. */
	copy = malloc(ri.buf.size);
	cr_assert_not_null(copy);
	{
		const unsigned char *b = ri.buf.data;
		size_t hdr = 4 + 20 + 8, n = ri.count, len = hdr;
		uint32_t nc = (uint32_t)(n - 1);
		memcpy(copy, b, hdr);
		memcpy(copy + 24, &nc, 4); /* little-endian machine */
		for (size_t i = 0; i < n; i++)
			if (i != last)
				copy[len++] = b[hdr + i];
		for (size_t i = 0; i < n; i++)
			if (i != last) {
				memcpy(copy + len, b + hdr + n + i * 20, 20);
				len += 20;
			}
		cr_assert_eq(g->be->ops->aux_put(g->be, "reach", copy, len), 0);
	}
	sent = fetch(lines);
	cr_assert_eq(sent.count, full - 1);
	cr_assert_null(bsearch(&ri.ids[last], sent.ids, sent.count, sizeof(grove_oid), by_id));
	free(sent.ids);
	free(copy);
	grove__reach_index_dispose(&ri);
}
