/*
 * receive-pack sessions fed byte strings against mem: stores.  Packs come
 * from the real `git pack-objects` or are built by hand for the hostile
 * cases; every refused push is checked to leave refs and objects as they
 * were.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../git/receive_pack.h"
#include "git_fixture.h"
#include "grove.h"
#include "oid.h"
#include "sbuf.h"

#define ZERO_HEX "0000000000000000000000000000000000000000"

/* --- byte helpers ------------------------------------------------------ */

static void put(grove__sbuf *b, const void *d, size_t n)
{
	cr_assert_eq(grove__sbuf_put(b, d, n), 0);
}

/* One pkt-line, framed by hand (the test does not trust the writer it tests). */
static void pkt(grove__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pkt(grove__sbuf *b, const char *fmt, ...)
{
	char data[70000], hdr[5];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(data, sizeof(data), fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && n < 65516);
	/* "%c" with '\0' is counted by vsnprintf: n is the real length. */
	snprintf(hdr, sizeof(hdr), "%04x", n + 4);
	put(b, hdr, 4);
	put(b, data, (size_t)n);
}

static void flush_pkt(grove__sbuf *b)
{
	put(b, "0000", 4);
}

/* Splits pkt-lines: DATA payloads are appended to text as is, a flush as
 * "<flush>\n".  With sideband, band 1 payloads are decoded again as
 * pkt-lines and band 2/3 go to *progress. */
static char *decode(const char *data, size_t len, int sideband, char **progress)
{
	grove__sbuf text = GROVE_SBUF_INIT, inner = GROVE_SBUF_INIT, prog = GROVE_SBUF_INIT;
	size_t pos = 0;
	while (pos + 4 <= len) {
		char hdr[5];
		memcpy(hdr, data + pos, 4);
		hdr[4] = 0;
		long n = strtol(hdr, NULL, 16);
		pos += 4;
		if (n == 0) {
			if (!sideband)
				grove__sbuf_puts(&text, "<flush>\n");
			continue;
		}
		cr_assert(n >= 4 && pos + (size_t)n - 4 <= len, "bad pkt in output");
		const char *p = data + pos;
		size_t plen = (size_t)n - 4;
		pos += plen;
		if (!sideband) {
			grove__sbuf_put(&text, p, plen);
		} else if (p[0] == 1) {
			grove__sbuf_put(&inner, p + 1, plen - 1);
		} else {
			grove__sbuf_put(&prog, p + 1, plen - 1);
		}
	}
	cr_assert_eq(pos, len, "trailing bytes in output");
	if (sideband) {
		char *t = decode(inner.data ? inner.data : "", inner.len, 0, NULL);
		grove__sbuf_puts(&text, t);
		free(t);
	}
	if (progress)
		*progress = grove__sbuf_detach(&prog, NULL);
	grove__sbuf_dispose(&prog);
	grove__sbuf_dispose(&inner);
	return grove__sbuf_detach(&text, NULL);
}

/* --- sessions ------------------------------------------------------------ */

static int sink_write(void *payload, const void *data, size_t len)
{
	return grove__sbuf_put(payload, data, len);
}

typedef struct {
	int rc;           /* first error of feed / input_end / run */
	char *out;        /* decoded output */
	char *progress;
	grove__receive_summary sum;
	grove__receive_state state;
} push_result;

/*
 * Feeds req in chunks of `chunk` bytes (0 = all at once), running the work
 * when the session asks for it.  end: call input_end after the bytes (a
 * stateless request, or a client that hung up).
 */
static push_result push_opts(grove *g, const grove__receive_opts *o, const grove__sbuf *req,
	size_t chunk, int end, int sideband)
{
	grove__receive *rp;
	grove__sbuf out = GROVE_SBUF_INIT;
	push_result r = { 0 };
	cr_assert_eq(grove__receive_new(&rp, g, o, sink_write, &out), 0);
	size_t pos = 0;
	while (pos < req->len) {
		size_t n = chunk && chunk < req->len - pos ? chunk : req->len - pos;
		int rc = grove__receive_feed(rp, req->data + pos, n);
		if (rc < 0 && !r.rc)
			r.rc = rc;
		pos += n;
		if (grove__receive_state_get(rp) == GROVE__RECEIVE_NEED_WORK) {
			rc = grove__receive_run(rp);
			if (rc < 0 && !r.rc)
				r.rc = rc;
		}
	}
	if (end) {
		int rc = grove__receive_input_end(rp);
		if (rc < 0 && !r.rc)
			r.rc = rc;
		if (grove__receive_state_get(rp) == GROVE__RECEIVE_NEED_WORK) {
			rc = grove__receive_run(rp);
			if (rc < 0 && !r.rc)
				r.rc = rc;
		}
	}
	r.state = grove__receive_state_get(rp);
	grove__receive_summary_get(rp, &r.sum);
	r.out = decode(out.data ? out.data : "", out.len, sideband, &r.progress);
	grove__receive_free(rp);
	grove__sbuf_dispose(&out);
	return r;
}

static push_result push(grove *g, const grove__sbuf *req)
{
	return push_opts(g, NULL, req, 0, 0, 0);
}

static void result_dispose(push_result *r)
{
	free(r->out);
	free(r->progress);
}

static int has(const char *text, const char *needle)
{
	return strstr(text, needle) != NULL;
}

/* --- the store before and after ---------------------------------------------- */

static int snap_ref(const char *refname, const grove_oid *id, void *payload)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove__sbuf_printf(payload, "%s %s\n", grove_oid_tohex(hex, id), refname);
	return 0;
}

typedef struct {
	char *refs;
	uint64_t objects;
} snapshot;

static snapshot snap(grove *g)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	grove_stats st;
	snapshot s;
	cr_assert_eq(grove_ref_foreach(g, "", snap_ref, &b), 0);
	cr_assert_eq(grove_stats_get(g, &st), 0);
	s.refs = grove__sbuf_detach(&b, NULL);
	s.objects = st.objects;
	return s;
}

static void assert_unchanged(grove *g, snapshot *before)
{
	snapshot now = snap(g);
	cr_assert_str_eq(now.refs, before->refs, "refs changed");
	cr_expect_eq(now.objects, before->objects, "objects changed: %llu -> %llu",
		(unsigned long long)before->objects, (unsigned long long)now.objects);
	free(now.refs);
	free(before->refs);
}

static grove *mem_store(void)
{
	grove *g;
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0);
	return g;
}

/* --- packs from git -------------------------------------------------------- */

static char *repo;

static void make_repo(void)
{
	repo = fx_tmpdir();
	fx_make_history(repo);
}

static void drop_repo(void)
{
	fx_rmrf(repo);
	free(repo);
	repo = NULL;
}

static char *rev(const char *r)
{
	char *s = fx_line("cd '%s' && git rev-parse '%s'", repo, r);
	cr_assert_not_null(s, "rev-parse %s", r);
	return s;
}

/* A pack of `git pack-objects --revs` for ARGS (e.g. "main" or "main ^main~2"). */
static void git_pack(grove__sbuf *b, const char *args, const char *pack_opts)
{
	size_t len;
	char *data = fx_capture(&len, "cd '%s' && for r in %s; do echo \"$r\"; done | "
		"git pack-objects --revs -q --stdout %s", repo, args, pack_opts ? pack_opts : "");
	cr_assert_not_null(data, "pack-objects");
	put(b, data, len);
	free(data);
}

/* Request: commands (caps on the first), flush, then pack bytes. */
static void cmd_line(grove__sbuf *b, int first, const char *caps, const char *old_hex,
	const char *new_hex, const char *ref)
{
	if (first)
		pkt(b, "%s %s %s%c%s\n", old_hex, new_hex, ref, '\0', caps);
	else
		pkt(b, "%s %s %s\n", old_hex, new_hex, ref);
}

/* Pushes main (the whole history) into g; the store then holds it. */
static void push_main(grove *g)
{
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "main", NULL);
	push_result r = push(g, &req);
	cr_assert_eq(r.rc, 0, "%s", grove_error_message());
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\n<flush>\n");
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(m);
}

/* --- hand-built packs -------------------------------------------------------- */

static void pack_begin(grove__sbuf *b, uint32_t count)
{
	unsigned char h[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	h[8] = (unsigned char)(count >> 24);
	h[9] = (unsigned char)(count >> 16);
	h[10] = (unsigned char)(count >> 8);
	h[11] = (unsigned char)count;
	put(b, h, sizeof(h));
}

static void entry_header(grove__sbuf *b, int type, uint64_t size)
{
	unsigned char c = (unsigned char)((type << 4) | (size & 15));
	size >>= 4;
	while (size) {
		put(b, (unsigned char[]){ c | 0x80 }, 1);
		c = size & 0x7f;
		size >>= 7;
	}
	put(b, &c, 1);
}

static void deflated(grove__sbuf *b, const void *data, size_t len)
{
	uLongf cap = compressBound(len);
	unsigned char *z = malloc(cap);
	cr_assert_eq(compress2(z, &cap, data, len, 6), Z_OK);
	put(b, z, cap);
	free(z);
}

/* A whole object entry; declared = 0 uses the real size. */
static void pack_object(grove__sbuf *b, grove_otype type, const void *data, size_t len)
{
	entry_header(b, type, len);
	deflated(b, data, len);
}

/* Appends the trailer over the pack that starts at offset start. */
static void pack_end(grove__sbuf *b, size_t start)
{
	unsigned char sum[20];
	cr_assert_eq(grove__sha1(b->data + start, b->len - start, sum), 0);
	put(b, sum, 20);
}

static void hash(grove_otype type, const void *data, size_t len, grove_oid *id, char hex[41])
{
	cr_assert_eq(grove_object_hash(type, data, len, id), 0);
	grove_oid_tohex(hex, id);
}

/* A tree with one entry, built by hand (no validation on the way). */
static size_t tree_one(char *buf, const char *mode, const char *name, const grove_oid *id)
{
	size_t n = (size_t)sprintf(buf, "%s %s", mode, name) + 1;
	memcpy(buf + n, id->id, 20);
	return n + 20;
}

static size_t commit_text(char *buf, const char *tree_hex, const char *parent_hex)
{
	int n = sprintf(buf, "tree %s\n", tree_hex);
	if (parent_hex)
		n += sprintf(buf + n, "parent %s\n", parent_hex);
	n += sprintf(buf + n, "author A <a@example.com> 1700000000 +0000\n"
			      "committer A <a@example.com> 1700000000 +0000\n\nmsg\n");
	return (size_t)n;
}

/* A request creating ref at a commit over a tree with one entry (mode,
 * name -> blob "hello\n"); include_blob 0 leaves the blob out. */
static void handmade_push(grove__sbuf *req, const char *ref, const char *mode, const char *name,
	int include_blob, char commit_hex_out[41])
{
	grove_oid blob, tree, commit;
	char bhex[41], thex[41], tbuf[256], cbuf[512];
	hash(GROVE_OBJ_BLOB, "hello\n", 6, &blob, bhex);
	size_t tlen = tree_one(tbuf, mode, name, &blob);
	hash(GROVE_OBJ_TREE, tbuf, tlen, &tree, thex);
	size_t clen = commit_text(cbuf, thex, NULL);
	hash(GROVE_OBJ_COMMIT, cbuf, clen, &commit, commit_hex_out);
	cmd_line(req, 1, "report-status", ZERO_HEX, commit_hex_out, ref);
	flush_pkt(req);
	size_t start = req->len;
	pack_begin(req, include_blob ? 3 : 2);
	if (include_blob)
		pack_object(req, GROVE_OBJ_BLOB, "hello\n", 6);
	pack_object(req, GROVE_OBJ_TREE, tbuf, tlen);
	pack_object(req, GROVE_OBJ_COMMIT, cbuf, clen);
	pack_end(req, start);
}

/* ===================================================================== */
/* Advertisement                                                          */

static char *advertise(grove *g)
{
	grove__receive *rp;
	grove__sbuf out = GROVE_SBUF_INIT;
	cr_assert_eq(grove__receive_new(&rp, g, NULL, sink_write, &out), 0);
	cr_assert_eq(grove__receive_advertise(rp), 0);
	grove__receive_free(rp);
	/* Keep the NUL before the capabilities visible as '|'. */
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] == '\0')
			out.data[i] = '|';
	char *s = decode(out.data, out.len, 0, NULL);
	grove__sbuf_dispose(&out);
	return s;
}

Test(receive_pack, advertise_empty_store)
{
	grove *g = mem_store();
	char *s = advertise(g);
	cr_assert(has(s, ZERO_HEX " capabilities^{}|report-status report-status-v2 delete-refs "
			 "side-band-64k quiet atomic ofs-delta push-options object-format=sha1 agent=grove/"),
		"%s", s);
	cr_assert(has(s, "\n<flush>\n"), "%s", s);
	free(s);
	grove_close(g);
}

Test(receive_pack, advertise_sorted_without_head)
{
	grove *g = mem_store();
	grove_oid c1, c2;
	char h1[41], h2[41], want[512];
	cr_assert_eq(grove_set(g, "zeta", "k", "v", 1, NULL, &c1), 0);
	cr_assert_eq(grove_set(g, "alpha", "k", "w", 1, NULL, &c2), 0);
	char *s = advertise(g);
	snprintf(want, sizeof(want), "%s refs/heads/alpha|", grove_oid_tohex(h2, &c2));
	cr_assert(!strncmp(s, want, strlen(want)), "%s", s);
	snprintf(want, sizeof(want), "\n%s refs/heads/zeta\n<flush>\n", grove_oid_tohex(h1, &c1));
	cr_assert(has(s, want), "%s", s);
	cr_assert(!has(s, " HEAD"), "HEAD advertised: %s", s);
	free(s);
	grove_close(g);
}

/* ===================================================================== */
/* Successful pushes                                                      */

Test(receive_pack, push_history_to_empty_store, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove_buf v = { 0 };
	push_main(g);
	grove_oid head;
	char hex[41], *m = rev("main");
	cr_assert_eq(grove_branch_head(g, "main", &head), 0);
	cr_assert_str_eq(grove_oid_tohex(hex, &head), m);
	cr_assert_eq(grove_get(g, "main", "side.txt", &v), 0);
	cr_assert_eq(v.size, 5);
	cr_assert_eq(memcmp(v.data, "side\n", 5), 0);
	grove_buf_dispose(&v);
	grove_fsck_report rep;
	cr_assert_eq(grove_fsck(g, &rep), 0);
	cr_assert_eq(rep.problem_count, 0);
	grove_fsck_report_dispose(&rep);
	free(m);
	grove_close(g);
}

/* The same push fed one byte at a time, with side-band-64k and a
 * push-options section: the session must not care how bytes arrive. */
Test(receive_pack, byte_at_a_time_sideband_push_options, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main"), *t = rev("v1.0");
	cmd_line(&req, 1, "report-status-v2 side-band-64k quiet push-options ofs-delta agent=git/2.39",
		ZERO_HEX, m, "refs/heads/main");
	cmd_line(&req, 0, NULL, ZERO_HEX, t, "refs/tags/v1.0");
	flush_pkt(&req);
	pkt(&req, "ci.skip\n");
	flush_pkt(&req);
	git_pack(&req, "main v1.0", NULL);
	push_result r = push_opts(g, NULL, &req, 1, 0, 1);
	cr_assert_eq(r.rc, 0, "%s", grove_error_message());
	cr_assert_eq(r.state, GROVE__RECEIVE_DONE);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\nok refs/tags/v1.0\n<flush>\n");
	grove_oid tag;
	cr_assert_eq(grove_ref_read(g, "refs/tags/v1.0", &tag), 0);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(m);
	free(t);
	grove_close(g);
}

/* Stateless HTTP: one body, input_end, one response. */
Test(receive_pack, stateless_request, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "main", NULL);
	push_result r = push_opts(g, NULL, &req, 0, 1, 0);
	cr_assert_eq(r.rc, 0, "%s", grove_error_message());
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\n<flush>\n");
	cr_assert_eq(r.sum.updated, 1);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

static int watch_calls;
static void on_watch(grove *g, const char *branch, const grove_oid *o, const grove_oid *n,
	const grove_diff *d, void *p)
{
	(void)g; (void)branch; (void)o; (void)n; (void)d; (void)p;
	watch_calls++;
}

/* Fast-forward with a thin pack (deltas against objects the store has),
 * watchers firing; then delete, and a delete of a missing ref. */
Test(receive_pack, fast_forward_thin_pack_delete_and_watch, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *old = rev("main~3"), *m = rev("main");
	uint64_t wid;
	/* The store first gets main~3 only. */
	cmd_line(&req, 1, "report-status", ZERO_HEX, old, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "main~3", NULL);
	push_result r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\n<flush>\n");
	result_dispose(&r);
	grove__sbuf_dispose(&req);

	cr_assert_eq(grove_watch_add(g, NULL, NULL, on_watch, NULL, &wid), 0);
	watch_calls = 0;
	cmd_line(&req, 1, "report-status delete-refs", old, m, "refs/heads/main");
	cmd_line(&req, 0, NULL, ZERO_HEX, old, "refs/heads/old");
	flush_pkt(&req);
	git_pack(&req, "main ^main~3", "--thin");
	r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\nok refs/heads/old\n<flush>\n", "%s", r.out);
	cr_assert_eq(watch_calls, 2);
	result_dispose(&r);
	grove__sbuf_dispose(&req);

	cmd_line(&req, 1, "report-status delete-refs", old, ZERO_HEX, "refs/heads/old");
	cmd_line(&req, 0, NULL, ZERO_HEX, ZERO_HEX, "refs/heads/never-was");
	flush_pkt(&req);
	r = push(g, &req); /* no pack after deletes only */
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/old\nok refs/heads/never-was\n<flush>\n", "%s", r.out);
	grove_oid id;
	cr_assert_eq(grove_ref_read(g, "refs/heads/old", &id), GROVE_ENOTFOUND);
	cr_assert_eq(watch_calls, 3);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(old);
	free(m);
	grove_close(g);
}

/* A flush without commands: nothing to do, no output. */
Test(receive_pack, empty_command_list)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	flush_pkt(&req);
	push_result r = push(g, &req);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.state, GROVE__RECEIVE_DONE);
	cr_assert_str_eq(r.out, "");
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	grove_close(g);
}

/* ===================================================================== */
/* Refused refs                                                            */

Test(receive_pack, non_fast_forward_refused_unless_allowed, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main"), *side = rev("side");
	push_main(g);
	snapshot before = snap(g);
	cmd_line(&req, 1, "report-status", m, side, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "side ^main", NULL);
	push_result r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nng refs/heads/main non-fast-forward\n<flush>\n", "%s", r.out);
	result_dispose(&r);
	assert_unchanged(g, &before);

	grove__receive_opts o = { 0 };
	o.allow_non_ff = 1;
	r = push_opts(g, &o, &req, 0, 0, 0);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\n<flush>\n", "%s", r.out);
	grove_oid head;
	char hex[41];
	cr_assert_eq(grove_branch_head(g, "main", &head), 0);
	cr_assert_str_eq(grove_oid_tohex(hex, &head), side);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(m);
	free(side);
	grove_close(g);
}

Test(receive_pack, stale_old_id, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main"), *p = rev("main~1");
	push_main(g);
	snapshot before = snap(g);
	/* The client believes main is at main~1; and creates a ref that exists. */
	cmd_line(&req, 1, "report-status", p, m, "refs/heads/main");
	cmd_line(&req, 0, NULL, ZERO_HEX, m, "refs/heads/main-copy");
	cmd_line(&req, 0, NULL, ZERO_HEX, p, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "main ^main~1", NULL);
	push_result r = push(g, &req);
	cr_assert(has(r.out, "ng refs/heads/main stale info\n"), "%s", r.out);
	cr_assert(has(r.out, "ok refs/heads/main-copy\n"), "%s", r.out);
	cr_assert(has(r.out, "ng refs/heads/main duplicate ref update\n"), "%s", r.out);
	result_dispose(&r);
	grove_oid id;
	cr_assert_eq(grove_ref_read(g, "refs/heads/main-copy", &id), 0);
	free(before.refs);
	grove__sbuf_dispose(&req);
	free(m);
	free(p);
	grove_close(g);
}

/* --atomic: one bad ref, nothing applied; without it the good one applies. */
Test(receive_pack, atomic_all_or_nothing, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT, req2 = GROVE_SBUF_INIT;
	char *m = rev("main"), *side = rev("side");
	push_main(g);
	snapshot before = snap(g);
	cmd_line(&req, 1, "report-status atomic", ZERO_HEX, side, "refs/heads/new");
	cmd_line(&req, 0, NULL, m, side, "refs/heads/main"); /* non-ff */
	flush_pkt(&req);
	git_pack(&req, "side ^main", NULL);
	push_result r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nng refs/heads/new atomic push failure\n"
				"ng refs/heads/main non-fast-forward\n<flush>\n", "%s", r.out);
	result_dispose(&r);
	assert_unchanged(g, &before);

	before = snap(g);
	cmd_line(&req2, 1, "report-status", ZERO_HEX, side, "refs/heads/new");
	cmd_line(&req2, 0, NULL, m, side, "refs/heads/main");
	flush_pkt(&req2);
	git_pack(&req2, "side ^main", NULL);
	r = push(g, &req2);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/new\nng refs/heads/main non-fast-forward\n<flush>\n",
		"%s", r.out);
	grove_oid id;
	cr_assert_eq(grove_ref_read(g, "refs/heads/new", &id), 0);
	result_dispose(&r);
	free(before.refs);
	grove__sbuf_dispose(&req);
	grove__sbuf_dispose(&req2);
	free(m);
	free(side);
	grove_close(g);
}

Test(receive_pack, bad_ref_names, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	snapshot before = snap(g);
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/a..b");
	cmd_line(&req, 0, NULL, ZERO_HEX, m, "HEAD");
	cmd_line(&req, 0, NULL, ZERO_HEX, m, "main");
	cmd_line(&req, 0, NULL, ZERO_HEX, m, "refs/heads/x.lock");
	cmd_line(&req, 0, NULL, ZERO_HEX, m, "refs/heads/sp ace");
	flush_pkt(&req);
	git_pack(&req, "main", NULL);
	push_result r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nng refs/heads/a..b funny refname\nng HEAD funny refname\n"
				"ng main funny refname\nng refs/heads/x.lock funny refname\n"
				"ng refs/heads/sp ace funny refname\n<flush>\n", "%s", r.out);
	cr_assert_eq(r.sum.refused, 5);
	result_dispose(&r);
	assert_unchanged(g, &before);
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

/* refs/heads/ must point at commits; tags may point at anything. */
Test(receive_pack, branch_to_non_commit, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *tree = rev("main^{tree}");
	snapshot before = snap(g);
	cmd_line(&req, 1, "report-status", ZERO_HEX, tree, "refs/heads/tree");
	flush_pkt(&req);
	git_pack(&req, "main^{tree}", NULL);
	push_result r = push(g, &req);
	cr_assert(has(r.out, "ng refs/heads/tree not a commit"), "%s", r.out);
	result_dispose(&r);
	assert_unchanged(g, &before);
	grove__sbuf_dispose(&req);
	cmd_line(&req, 1, "report-status", ZERO_HEX, tree, "refs/tags/a-tree");
	flush_pkt(&req);
	git_pack(&req, "main^{tree}", NULL);
	r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/tags/a-tree\n<flush>\n", "%s", r.out);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(tree);
	grove_close(g);
}

/* A tip whose tree refers to a blob that is neither sent nor stored. */
Test(receive_pack, missing_objects_refused)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char c[41];
	snapshot before = snap(g);
	handmade_push(&req, "refs/heads/main", "100644", "file", 0, c);
	push_result r = push(g, &req);
	cr_assert(has(r.out, "unpack ok\nng refs/heads/main missing necessary objects"), "%s", r.out);
	result_dispose(&r);
	assert_unchanged(g, &before);
	grove__sbuf_dispose(&req);
	/* The complete version goes in. */
	handmade_push(&req, "refs/heads/main", "100644", "file", 1, c);
	r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\n<flush>\n", "%s", r.out);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	grove_close(g);
}

/* 10,000 refs in one push are handled; over the configured limit the
 * client gets a clear error and nothing changes. */
Test(receive_pack, ten_thousand_refs, .init = make_repo, .fini = drop_repo, .timeout = 120)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main"), name[64];
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "refs/tags/t%05d", i);
		cmd_line(&req, i == 0, "report-status", ZERO_HEX, m, name);
	}
	flush_pkt(&req);
	git_pack(&req, "main", NULL);

	snapshot before = snap(g);
	grove__receive_opts o = { 0 };
	o.max_commands = 1000;
	push_result r = push_opts(g, &o, &req, 0, 0, 0);
	cr_assert_eq(r.rc, GROVE_EINVALID);
	cr_assert(has(r.out, "ERR ") && has(r.out, "too many ref updates"), "%s", r.out);
	result_dispose(&r);
	assert_unchanged(g, &before);

	r = push(g, &req);
	cr_assert_eq(r.rc, 0, "%s", grove_error_message());
	cr_assert_eq(r.sum.updated, 10000);
	cr_assert(has(r.out, "ok refs/tags/t09999\n<flush>\n"));
	grove_stats st;
	cr_assert_eq(grove_stats_get(g, &st), 0);
	cr_assert_eq(st.refs, 10000);
	result_dispose(&r);
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

/* ===================================================================== */
/* Protocol errors: an ERR packet, nothing changed                         */

static void expect_protocol_error(const char *bytes, size_t len, int end, const char *needle)
{
	grove *g = mem_store();
	grove_oid c;
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, &c), 0);
	snapshot before = snap(g);
	grove__sbuf req = GROVE_SBUF_INIT;
	put(&req, bytes, len);
	push_result r = push_opts(g, NULL, &req, 0, end, 0);
	cr_assert_lt(r.rc, 0, "no error for %s", needle);
	cr_assert_eq(r.state, GROVE__RECEIVE_DONE);
	cr_assert(!strncmp(r.out, "ERR ", 4), "no ERR packet: '%s'", r.out);
	cr_assert(has(r.out, needle), "'%s' lacks '%s'", r.out, needle);
	result_dispose(&r);
	assert_unchanged(g, &before);
	grove__sbuf_dispose(&req);
	grove_close(g);
}

Test(receive_pack, truncated_pkt_line)
{
	const char s[] = "00a0" ZERO_HEX " 1111111111111111111111111111111111111111 refs/heads/x";
	expect_protocol_error(s, sizeof(s) - 1, 1, "input ended inside the pkt-line");
}

Test(receive_pack, oversized_pkt_line)
{
	expect_protocol_error("ffff" ZERO_HEX, 44, 0, "bad pkt-line");
}

Test(receive_pack, invalid_hex_length)
{
	expect_protocol_error("00zzjunk", 8, 0, "bad pkt-line");
	expect_protocol_error("0003", 4, 0, "bad pkt-line");
}

Test(receive_pack, unknown_capability)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	cmd_line(&b, 1, "report-status frobnicate", ZERO_HEX, "1111111111111111111111111111111111111111",
		"refs/heads/x");
	flush_pkt(&b);
	expect_protocol_error(b.data, b.len, 0, "unknown capability 'frobnicate'");
	grove__sbuf_dispose(&b);
}

Test(receive_pack, malformed_commands)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	pkt(&b, "%s %s\n", ZERO_HEX, "refs/heads/x"); /* no new id */
	expect_protocol_error(b.data, b.len, 0, "malformed command");
	grove__sbuf_dispose(&b);
	cmd_line(&b, 1, "report-status", ZERO_HEX, "zz11111111111111111111111111111111111111", "refs/heads/x");
	expect_protocol_error(b.data, b.len, 0, "malformed object id");
	grove__sbuf_dispose(&b);
	cmd_line(&b, 1, "report-status", ZERO_HEX, "1111111111111111111111111111111111111111", "refs/heads/x");
	expect_protocol_error(b.data, b.len, 1, "input ended inside the command list");
	grove__sbuf_dispose(&b);
	put(&b, "0001", 4);
	expect_protocol_error(b.data, b.len, 0, "unexpected delim");
	grove__sbuf_dispose(&b);
}

/* ===================================================================== */
/* Bad packs: "unpack <reason>", every ref refused, nothing changed        */

static void expect_unpack_error(grove *g, const grove__sbuf *req, int end, const char *needle)
{
	snapshot before = snap(g);
	push_result r = push_opts(g, NULL, req, 0, end, 0);
	cr_assert_eq(r.state, GROVE__RECEIVE_DONE, "session not done");
	cr_assert(!strncmp(r.out, "unpack ", 7) && strncmp(r.out, "unpack ok", 9), "%s", r.out);
	cr_assert(has(r.out, needle), "'%s' lacks '%s'", r.out, needle);
	cr_assert(has(r.out, " unpacker error\n<flush>\n"), "%s", r.out);
	cr_assert_eq(r.sum.unpack_ok, 0);
	cr_assert_eq(r.sum.updated, 0);
	result_dispose(&r);
	assert_unchanged(g, &before);
}

Test(receive_pack, corrupt_pack, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/main");
	flush_pkt(&req);
	size_t start = req.len;
	git_pack(&req, "main", NULL);
	/* Damage a byte in the last entry's data: the checksum or zlib catches it. */
	req.data[req.len - 25] ^= 0x55;
	expect_unpack_error(g, &req, 1, "unpack ");
	/* With side-band-64k the reason also goes to band 2 for the terminal. */
	{
		grove__sbuf sb = GROVE_SBUF_INIT;
		cmd_line(&sb, 1, "report-status side-band-64k", ZERO_HEX, m, "refs/heads/main");
		flush_pkt(&sb);
		put(&sb, req.data + start, req.len - start);
		snapshot before = snap(g);
		push_result r = push_opts(g, NULL, &sb, 0, 1, 1);
		cr_assert(!strncmp(r.out, "unpack ", 7) && strncmp(r.out, "unpack ok", 9), "%s", r.out);
		cr_assert(!strncmp(r.progress, "error: ", 7), "band 2: '%s'", r.progress);
		result_dispose(&r);
		assert_unchanged(g, &before);
		grove__sbuf_dispose(&sb);
	}
	/* A bad signature is refused at once, before the rest arrives. */
	req.data[start] = 'J';
	expect_unpack_error(g, &req, 0, "not a pack");
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

/* A thin pack whose base the store does not have. */
Test(receive_pack, missing_delta_base, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "main ^main~3", "--thin");
	expect_unpack_error(g, &req, 0, "missing");
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

/* Tiny packs declaring huge objects: an entry header, and a delta result. */
Test(receive_pack, delta_bomb)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	cmd_line(&req, 1, "report-status", ZERO_HEX, "1111111111111111111111111111111111111111",
		"refs/heads/main");
	flush_pkt(&req);
	size_t start = req.len;
	pack_begin(&req, 1);
	entry_header(&req, GROVE_OBJ_BLOB, (uint64_t)1 << 40);
	deflated(&req, "x", 1);
	pack_end(&req, start);
	expect_unpack_error(g, &req, 0, "over the limit");
	grove__sbuf_dispose(&req);

	/* A blob and a REF_DELTA against it whose result claims 16 GiB. */
	grove_oid base;
	char bhex[41];
	hash(GROVE_OBJ_BLOB, "x\n", 2, &base, bhex);
	cmd_line(&req, 1, "report-status", ZERO_HEX, "1111111111111111111111111111111111111111",
		"refs/heads/main");
	flush_pkt(&req);
	start = req.len;
	pack_begin(&req, 2);
	pack_object(&req, GROVE_OBJ_BLOB, "x\n", 2);
	unsigned char delta[16];
	size_t dn = 0;
	delta[dn++] = 2; /* base size */
	uint64_t big = (uint64_t)1 << 34;
	while (big >= 0x80) {
		delta[dn++] = (unsigned char)(big | 0x80);
		big >>= 7;
	}
	delta[dn++] = (unsigned char)big;
	delta[dn++] = 0x91; /* copy offset 0, size 1 */
	delta[dn++] = 0;
	delta[dn++] = 1;
	entry_header(&req, 7, dn);
	put(&req, base.id, 20);
	deflated(&req, delta, dn);
	pack_end(&req, start);
	expect_unpack_error(g, &req, 0, "unpack ");
	grove__sbuf_dispose(&req);
	grove_close(g);
}

/* git fsck's rules: a tree with ".git" (any case) or "..", a bad mode. */
Test(receive_pack, tree_with_dot_git)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char c[41];
	handmade_push(&req, "refs/heads/main", "100644", ".git", 1, c);
	expect_unpack_error(g, &req, 0, "unpack ");
	grove__sbuf_dispose(&req);
	handmade_push(&req, "refs/heads/main", "100644", ".GIT", 1, c);
	expect_unpack_error(g, &req, 0, "unpack ");
	grove__sbuf_dispose(&req);
	handmade_push(&req, "refs/heads/main", "100644", "..", 1, c);
	expect_unpack_error(g, &req, 0, "unpack ");
	grove__sbuf_dispose(&req);
	handmade_push(&req, "refs/heads/main", "100600", "file", 1, c);
	expect_unpack_error(g, &req, 0, "unpack ");
	grove__sbuf_dispose(&req);
	grove_close(g);
}

/* The client hangs up inside the pack: nothing becomes visible. */
Test(receive_pack, input_ends_mid_pack, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/main");
	flush_pkt(&req);
	size_t start = req.len;
	git_pack(&req, "main", NULL);
	req.len = start + (req.len - start) / 2;
	expect_unpack_error(g, &req, 1, "pack truncated");
	req.len = start + 5; /* inside the header */
	expect_unpack_error(g, &req, 1, "pack truncated");
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

Test(receive_pack, pack_limits, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT;
	char *m = rev("main");
	cmd_line(&req, 1, "report-status", ZERO_HEX, m, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "main", NULL);
	snapshot before = snap(g);
	grove__receive_opts o = { 0 };
	o.max_objects = 3;
	push_result r = push_opts(g, &o, &req, 0, 0, 0);
	cr_assert(has(r.out, "unpack pack holds") && has(r.out, "over the limit of 3"), "%s", r.out);
	result_dispose(&r);
	memset(&o, 0, sizeof(o));
	o.max_pack_size = 200;
	r = push_opts(g, &o, &req, 0, 0, 0);
	cr_assert(has(r.out, "unpack pack is over the limit of 200 bytes"), "%s", r.out);
	result_dispose(&r);
	memset(&o, 0, sizeof(o));
	o.max_object_size = 40;
	r = push_opts(g, &o, &req, 0, 0, 0);
	cr_assert(has(r.out, "over the limit of 40"), "%s", r.out);
	result_dispose(&r);
	memset(&o, 0, sizeof(o));
	o.max_delta_depth = 1;
	r = push_opts(g, &o, &req, 0, 0, 0);
	cr_assert(!strncmp(r.out, "unpack ", 7), "%s", r.out);
	result_dispose(&r);
	assert_unchanged(g, &before);
	grove__sbuf_dispose(&req);
	free(m);
	grove_close(g);
}

/* ===================================================================== */
/* The work step on a worker thread, and refs moving meanwhile             */

static void *work_thread(void *arg)
{
	return (void *)(intptr_t)grove__receive_work(arg);
}

/* Feeds req and runs the work on another thread; returns the session in
 * state NEED_FINISH. */
static grove__receive *fed_and_worked(grove *g, const grove__sbuf *req, grove__sbuf *out)
{
	grove__receive *rp;
	pthread_t t;
	void *ret;
	cr_assert_eq(grove__receive_new(&rp, g, NULL, sink_write, out), 0);
	cr_assert_eq(grove__receive_feed(rp, req->data, req->len), 0);
	cr_assert_eq(grove__receive_state_get(rp), GROVE__RECEIVE_NEED_WORK);
	cr_assert_eq(pthread_create(&t, NULL, work_thread, rp), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq((intptr_t)ret, 0);
	cr_assert_eq(grove__receive_state_get(rp), GROVE__RECEIVE_NEED_FINISH);
	cr_assert_eq(out->len, 0, "work wrote output");
	return rp;
}

Test(receive_pack, ref_moves_between_work_and_finish, .init = make_repo, .fini = drop_repo)
{
	grove *g = mem_store();
	grove__sbuf req = GROVE_SBUF_INIT, out = GROVE_SBUF_INIT;
	char *m = rev("main"), *p = rev("main~1"), *side = rev("side");
	grove_oid pid, mid;
	cr_assert_eq(grove_oid_fromhex(&pid, p), 0);
	cr_assert_eq(grove_oid_fromhex(&mid, m), 0);

	/* The store has main~1 on main and on other. */
	cmd_line(&req, 1, "report-status", ZERO_HEX, p, "refs/heads/main");
	cmd_line(&req, 0, NULL, ZERO_HEX, p, "refs/heads/other");
	flush_pkt(&req);
	git_pack(&req, "main~1", NULL);
	push_result r = push(g, &req);
	cr_assert_str_eq(r.out, "unpack ok\nok refs/heads/main\nok refs/heads/other\n<flush>\n", "%s", r.out);
	result_dispose(&r);
	grove__sbuf_dispose(&req);

	/* Non-atomic: main moves under the push; other still applies. */
	cmd_line(&req, 1, "report-status", p, m, "refs/heads/main");
	cmd_line(&req, 0, NULL, p, m, "refs/heads/other");
	flush_pkt(&req);
	git_pack(&req, "main ^main~1", NULL);
	grove__receive *rp = fed_and_worked(g, &req, &out);
	cr_assert_eq(grove_branch_set_head(g, "main", &pid, &pid), 0); /* same value: no move */
	cr_assert_eq(grove_branch_delete(g, "main"), 0);
	cr_assert_eq(grove__receive_finish(rp), 0);
	char *text = decode(out.data, out.len, 0, NULL);
	cr_assert_str_eq(text, "unpack ok\nng refs/heads/main stale info\nok refs/heads/other\n<flush>\n", "%s", text);
	free(text);
	grove__receive_free(rp);
	grove_oid id;
	cr_assert_eq(grove_ref_read(g, "refs/heads/main", &id), GROVE_ENOTFOUND);
	cr_assert_eq(grove_ref_read(g, "refs/heads/other", &id), 0);
	cr_assert(grove__oid_equal(&id, &mid));
	grove__sbuf_dispose(&out);
	grove__sbuf_dispose(&req);

	/* Atomic: restore main at main~1, move it during the push: nothing
	 * applies and the objects of the push stay invisible. */
	cr_assert_eq(grove_branch_create_at(g, "main", &pid, 0), 0);
	grove_ref_update tu = { "refs/tags/third", { { 0 } }, pid, 1 };
	cr_assert_eq(grove_ref_update_batch(g, &tu, 1), 0);
	cmd_line(&req, 1, "report-status atomic", p, side, "refs/tags/third");
	cmd_line(&req, 0, NULL, p, m, "refs/heads/main");
	flush_pkt(&req);
	git_pack(&req, "side main ^main~1", NULL);
	snapshot before = snap(g);
	rp = fed_and_worked(g, &req, &out);
	free(before.refs);
	tu.old_id = pid;
	tu.new_id = mid;
	cr_assert_eq(grove_ref_update_batch(g, &tu, 1), 0);
	before = snap(g);
	cr_assert_eq(grove__receive_finish(rp), 0);
	text = decode(out.data, out.len, 0, NULL);
	cr_assert(has(text, "ng refs/tags/third stale info\n"), "%s", text);
	cr_assert(has(text, "ng refs/heads/main atomic push failure\n"), "%s", text);
	free(text);
	grove__receive_free(rp);
	assert_unchanged(g, &before);
	grove__sbuf_dispose(&out);
	grove__sbuf_dispose(&req);
	free(m);
	free(p);
	free(side);
	grove_close(g);
}
