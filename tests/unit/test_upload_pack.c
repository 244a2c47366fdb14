/* upload-pack engine fed byte strings: advertisement, fetch, errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../git/pktline.h"
#include "../../git/upload_pack.h"
#include "error.h"
#include "pack.h"
#include "sbuf.h"
#include "sideband_pack.h"

static grove__sbuf out;

static int capture(void *payload, const void *data, size_t len)
{
	(void)payload;
	return grove__sbuf_put(&out, data, len);
}

static grove *g;
static grove_oid c1, c2;

static void setup_store(void)
{
	grove_ref_update u;
	char tag[256];
	grove_oid tag_id;
	char hex[41];
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0);
	cr_assert_eq(grove_set(g, "main", "a/b", "one", 3, NULL, &c1), 0);
	cr_assert_eq(grove_set(g, "main", "c", "two", 3, NULL, &c2), 0);
	snprintf(tag, sizeof(tag), "object %s\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nrelease\n",
		grove_oid_tohex(hex, &c1));
	cr_assert_eq(grove_object_write(g, GROVE_OBJ_TAG, tag, strlen(tag), &tag_id), 0);
	memset(&u, 0, sizeof(u));
	u.refname = "refs/tags/v1";
	u.new_id = tag_id;
	cr_assert_eq(grove_ref_update_batch(g, &u, 1), 0);
	grove__sbuf_reset(&out);
}

static void teardown_store(void)
{
	grove_close(g);
	grove__sbuf_dispose(&out);
}

static void pkt(grove__sbuf *b, const char *s)
{
	cr_assert_eq(grove__pkt_write(b, s, strlen(s)), 0);
}

static grove__upload_pack *session(grove__protocol_version v, int stateless)
{
	grove__upload_pack_opts o = GROVE__UPLOAD_PACK_OPTS_INIT;
	grove__upload_pack *up;
	o.version = v;
	o.stateless = stateless;
	cr_assert_eq(grove__upload_pack_new(&up, g, &o, capture, NULL), 0);
	return up;
}

static int contains(const char *needle)
{
	return memmem(out.data, out.len, needle, strlen(needle)) != NULL;
}

TestSuite(upload_pack, .init = setup_store, .fini = teardown_store);

Test(upload_pack, v0_advertisement)
{
	grove__upload_pack *up = session(GROVE__PROTOCOL_V0, 0);
	char hex[41], line[128];
	cr_assert_eq(grove__upload_pack_start(up), 0);
	/* HEAD first, capabilities after a NUL, symref, then sorted refs. */
	snprintf(line, sizeof(line), "%s HEAD", grove_oid_tohex(hex, &c2));
	cr_assert_eq(memcmp(out.data + 4, line, strlen(line)), 0);
	cr_assert_eq(out.data[4 + strlen(line)], '\0');
	cr_assert(contains("symref=HEAD:refs/heads/main"));
	cr_assert(contains("multi_ack_detailed"));
	cr_assert(contains("agent=grove/"));
	snprintf(line, sizeof(line), "%s refs/tags/v1^{}\n", grove_oid_tohex(hex, &c1));
	cr_assert(contains(line));
	cr_assert(contains(" refs/heads/main\n"));
	cr_assert((char *)memmem(out.data, out.len, "refs/heads/main\n", 16) <
		(char *)memmem(out.data, out.len, "refs/tags/v1", 12));
	cr_assert_eq(memcmp(out.data + out.len - 4, "0000", 4), 0);
	grove__upload_pack_free(up);
}

Test(upload_pack, v0_empty_store_advertises_capabilities)
{
	grove *e;
	grove__upload_pack *up;
	cr_assert_eq(grove_open(&e, "mem:", NULL), 0);
	cr_assert_eq(grove__upload_pack_new(&up, e, NULL, capture, NULL), 0);
	cr_assert_eq(grove__upload_pack_start(up), 0);
	cr_assert(contains("0000000000000000000000000000000000000000 capabilities^{}"));
	cr_assert_not(contains("symref="));
	grove__upload_pack_free(up);
	grove_close(e);
}

/* Checks that the bytes after `from` hold a side-band pack git would
 * accept; returns its object count. */
static size_t pack_objects_in(const char *from)
{
	grove__sbuf pack = GROVE_SBUF_INIT;
	grove__pack_index_stats st;
	sideband_pack(&out, from, &pack);
	cr_assert_eq(grove__pack_index(pack.data, pack.len, NULL, &st), 0, "%s", grove_error_message());
	grove__sbuf_dispose(&pack);
	return st.object_count;
}

Test(upload_pack, v0_full_fetch_fed_byte_by_byte)
{
	grove__upload_pack *up = session(GROVE__PROTOCOL_V0, 0);
	grove__sbuf req = GROVE_SBUF_INIT;
	char hex[41], line[200];
	cr_assert_eq(grove__upload_pack_start(up), 0);
	snprintf(line, sizeof(line), "want %s multi_ack_detailed side-band-64k ofs-delta include-tag\n",
		grove_oid_tohex(hex, &c2));
	pkt(&req, line);
	grove__pkt_flush(&req);
	pkt(&req, "done\n");
	grove__sbuf_reset(&out);
	for (size_t i = 0; i < req.len; i++) {
		cr_assert_eq(grove__upload_pack_feed(up, req.data + i, 1), 0, "%s", grove_error_message());
		if (i + 1 < req.len)
			cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_NEED_INPUT);
	}
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_NEED_PACK);
	cr_assert_eq(grove__upload_pack_run_pack(up), 0, "%s", grove_error_message());
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_DONE);
	/* 2 commits, 3 trees (root twice + a/), 2 blobs, and the tag. */
	cr_assert_eq(pack_objects_in("0008NAK\n"), 8);
	grove__sbuf_dispose(&req);
	grove__upload_pack_free(up);
}

Test(upload_pack, v0_negotiation_acks_common)
{
	grove__upload_pack *up = session(GROVE__PROTOCOL_V0, 1);
	grove__sbuf req = GROVE_SBUF_INIT;
	char hex[41], hex2[41], line[200];
	snprintf(line, sizeof(line), "want %s multi_ack_detailed\n", grove_oid_tohex(hex, &c2));
	pkt(&req, line);
	grove__pkt_flush(&req);
	snprintf(line, sizeof(line), "have %s\n", grove_oid_tohex(hex2, &c1));
	pkt(&req, line);
	pkt(&req, "have 1111111111111111111111111111111111111111\n");
	grove__pkt_flush(&req);
	cr_assert_eq(grove__upload_pack_feed(up, req.data, req.len), 0, "%s", grove_error_message());
	snprintf(line, sizeof(line), "ACK %s common\n", hex2);
	cr_assert(contains(line));
	cr_assert(contains("ACK 1111111111111111111111111111111111111111 ready\n"));
	cr_assert(contains("NAK\n"));
	/* Stateless: the response ends at the flush. */
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_DONE);
	grove__sbuf_dispose(&req);
	grove__upload_pack_free(up);
}

static void expect_err(grove__protocol_version v, const char *request, size_t len, const char *msg)
{
	grove__upload_pack *up = session(v, 0);
	grove_strarray before, after;
	int rc;
	cr_assert_eq(grove_branch_list(g, &before), 0);
	rc = grove__upload_pack_feed(up, request, len);
	if (rc == 0)
		rc = grove__upload_pack_input_end(up);
	cr_assert_lt(rc, 0);
	cr_assert(strstr(grove_error_message(), msg), "message: %s", grove_error_message());
	cr_assert(contains("ERR "), "no ERR packet");
	cr_assert(contains(msg));
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_DONE);
	/* Further input is ignored. */
	cr_assert_eq(grove__upload_pack_feed(up, "0000", 4), 0);
	cr_assert_eq(grove_branch_list(g, &after), 0);
	cr_assert_eq(before.count, after.count);
	grove_strarray_dispose(&before);
	grove_strarray_dispose(&after);
	grove__upload_pack_free(up);
	grove__sbuf_reset(&out);
}

Test(upload_pack, errors_are_reported_as_err_packets)
{
	grove__sbuf req = GROVE_SBUF_INIT;
	char hex[41], line[200];
	pkt(&req, "want 1234567890123456789012345678901234567890 side-band-64k\n");
	grove__pkt_flush(&req);
	expect_err(GROVE__PROTOCOL_V0, req.data, req.len,
		"upload-pack: not our ref 1234567890123456789012345678901234567890");
	grove__sbuf_reset(&req);
	snprintf(line, sizeof(line), "want %s frobnicate\n", grove_oid_tohex(hex, &c2));
	pkt(&req, line);
	expect_err(GROVE__PROTOCOL_V0, req.data, req.len, "unknown capability 'frobnicate'");
	expect_err(GROVE__PROTOCOL_V0, "00zzwant", 8, "invalid length");
	expect_err(GROVE__PROTOCOL_V0, "ffffxxxx", 8, "longer than 65520");
	expect_err(GROVE__PROTOCOL_V0, "0032want 12", 11, "inside a pkt-line");
	expect_err(GROVE__PROTOCOL_V0, "000ahello\n", 10, "expected want");
	grove__sbuf_reset(&req);
	pkt(&req, "command=frob\n");
	expect_err(GROVE__PROTOCOL_V2, req.data, req.len, "unknown command 'frob'");
	grove__sbuf_reset(&req);
	pkt(&req, "command=fetch\n");
	grove__pkt_delim(&req);
	pkt(&req, "want 1234567890123456789012345678901234567890\n");
	pkt(&req, "done\n");
	grove__pkt_flush(&req);
	expect_err(GROVE__PROTOCOL_V2, req.data, req.len, "not our ref");
	grove__sbuf_reset(&req);
	pkt(&req, "command=fetch\n");
	grove__pkt_delim(&req);
	pkt(&req, "filter sparse:oid=x\n");
	expect_err(GROVE__PROTOCOL_V2, req.data, req.len, "unsupported filter");
	grove__sbuf_dispose(&req);
}

Test(upload_pack, v2_ls_refs_and_fetch)
{
	grove__upload_pack *up = session(GROVE__PROTOCOL_V2, 0);
	grove__sbuf req = GROVE_SBUF_INIT;
	char hex[41], hex1[41], line[200];
	cr_assert_eq(grove__upload_pack_start(up), 0);
	cr_assert(contains("version 2\n"));
	cr_assert(contains("fetch=shallow filter wait-for-done\n"));
	grove__sbuf_reset(&out);
	pkt(&req, "command=ls-refs\n");
	pkt(&req, "agent=git/2.39\n");
	grove__pkt_delim(&req);
	pkt(&req, "symrefs\n");
	pkt(&req, "peel\n");
	pkt(&req, "ref-prefix refs/tags/\n");
	pkt(&req, "ref-prefix HEAD\n");
	grove__pkt_flush(&req);
	cr_assert_eq(grove__upload_pack_feed(up, req.data, req.len), 0, "%s", grove_error_message());
	snprintf(line, sizeof(line), "%s HEAD symref-target:refs/heads/main\n", grove_oid_tohex(hex, &c2));
	cr_assert(contains(line));
	snprintf(line, sizeof(line), " refs/tags/v1 peeled:%s\n", grove_oid_tohex(hex1, &c1));
	cr_assert(contains(line));
	cr_assert_not(contains(" refs/heads/main\n")); /* filtered by ref-prefix */
	/* fetch, depth 1, no done: acknowledgments only. */
	grove__sbuf_reset(&out);
	grove__sbuf_reset(&req);
	pkt(&req, "command=fetch\n");
	grove__pkt_delim(&req);
	snprintf(line, sizeof(line), "want %s\n", hex);
	pkt(&req, line);
	snprintf(line, sizeof(line), "have %s\n", hex1);
	pkt(&req, line);
	pkt(&req, "wait-for-done\n");
	grove__pkt_flush(&req);
	cr_assert_eq(grove__upload_pack_feed(up, req.data, req.len), 0, "%s", grove_error_message());
	snprintf(line, sizeof(line), "0031ACK %s\n", hex1);
	cr_assert(contains("0014acknowledgments\n"));
	cr_assert(contains(line));
	cr_assert_not(contains("ready"));
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_NEED_INPUT);
	/* Then done with deepen 1: shallow-info, packfile. */
	grove__sbuf_reset(&out);
	grove__sbuf_reset(&req);
	pkt(&req, "command=fetch\n");
	grove__pkt_delim(&req);
	snprintf(line, sizeof(line), "want %s\n", hex);
	pkt(&req, line);
	pkt(&req, "deepen 1\n");
	pkt(&req, "done\n");
	grove__pkt_flush(&req);
	cr_assert_eq(grove__upload_pack_feed(up, req.data, req.len), 0, "%s", grove_error_message());
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_NEED_PACK);
	cr_assert_eq(grove__upload_pack_run_pack(up), 0, "%s", grove_error_message());
	snprintf(line, sizeof(line), "shallow %s\n", hex);
	cr_assert(contains("shallow-info\n"));
	cr_assert(contains(line));
	/* One commit, its root tree and a/, two blobs. */
	cr_assert_eq(pack_objects_in("000dpackfile\n"), 5);
	cr_assert_eq(grove__upload_pack_state_get(up), GROVE__UPLOAD_PACK_NEED_INPUT);
	grove__sbuf_dispose(&req);
	grove__upload_pack_free(up);
}
