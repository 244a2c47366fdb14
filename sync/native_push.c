/*
 * Push over git:// without libgit2 (design: native.h).  The conversation
 * (gitprotocol-pack, "Pushing Data To a Server"): read receive-pack's
 * advertisement, check fast-forwards here like git's send-pack, send the
 * commands and the pack, read report-status.
 *
 * The pack: grove's upload-pack engine is asked, as a fetching client
 * would, for the pushed commits ("want") minus what the remote advertised
 * and the store has ("have"), thin and with offset deltas when the remote
 * takes them.  That reuses the store's deltas and zlib streams (no delta
 * search, no inflate/deflate of unchanged records) and the same object
 * enumeration that serves fetches.  Its ACK/NAK lines are dropped; the
 * pack bytes go through the connection's output buffer.
 */
#include "native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/protocol.h"
#include "../git/upload_pack.h"
#include "error.h"
#include "oid.h"
#include "store.h"

/* Progress and cancellation (same contract as transport.c's). */
static int report(grove__nconn *c, grove_sync_stage stage, uint64_t cur, uint64_t total, uint64_t bytes)
{
	grove_sync_progress p;
	int rc;
	if ((rc = grove__nconn_check_cancel(c)) < 0)
		return rc;
	if (!c->opts || !c->opts->progress)
		return 0;
	p.stage = stage;
	p.current = cur;
	p.total = total;
	p.bytes = bytes;
	if (c->opts->progress(&p, c->opts->progress_payload))
		return grove__nconn_fail(c, GROVE_ERROR, "cancelled");
	return 0;
}

/* --- the pack, from the upload-pack engine ---------------------------------- */

typedef struct {
	grove__nconn *c;
	int in_pack;          /* past the engine's ACK/NAK packets */
	grove__sbuf pre;      /* bytes before "PACK" */
	uint64_t bytes, next_report;
	int failed;           /* an error of ours (kept in grove's error) */
} pack_sink;

static int sink_pack_bytes(pack_sink *s, const void *data, size_t len)
{
	int rc;
	s->bytes += len;
	if ((rc = grove__nconn_put(s->c, data, len)) < 0)
		return rc;
	if (s->bytes >= s->next_report) {
		s->next_report = s->bytes + 256 * 1024;
		if ((rc = report(s->c, GROVE_SYNC_WRITING, 0, 0, s->bytes)) < 0)
			return rc;
	}
	return 0;
}

static int sink_write(void *payload, const void *data, size_t len)
{
	pack_sink *s = payload;
	int rc;
	if (s->in_pack)
		rc = sink_pack_bytes(s, data, len);
	else if ((rc = grove__sbuf_put(&s->pre, data, len)) == 0) {
		/* Skip whole pkt-lines until the raw pack starts. */
		size_t off = 0;
		while (s->pre.len - off >= 4) {
			long n;
			if (!memcmp(s->pre.data + off, "PACK", 4)) {
				s->in_pack = 1;
				rc = sink_pack_bytes(s, s->pre.data + off, s->pre.len - off);
				off = s->pre.len;
				break;
			}
			n = grove__pkt_parse_len(s->pre.data + off);
			if (n < 0 || (n > 0 && n < 4)) {
				rc = grove__error_set(GROVE_ERROR, "pack writer: unexpected output");
				break;
			}
			if (n == 0)
				n = 4;
			if (s->pre.len - off < (size_t)n)
				break;
			off += (size_t)n;
		}
		if (off) {
			memmove(s->pre.data, s->pre.data + off, s->pre.len - off);
			s->pre.len -= off;
		}
	}
	if (rc < 0)
		s->failed = 1;
	return rc;
}

static int feed_line(grove__upload_pack *up, grove__sbuf *tmp, const char *fmt, const char *hex, const char *caps)
{
	int rc;
	tmp->len = 0;
	if ((rc = grove__pkt_printf(tmp, fmt, hex, caps)) < 0)
		return rc;
	return grove__upload_pack_feed(up, tmp->data, tmp->len);
}

/* Streams the pack of wants minus haves to the connection. */
static int send_pack(grove *g, grove__nconn *c, const grove__nadv *adv, const grove_oid *wants, size_t nwants)
{
	grove__upload_pack_opts o = GROVE__UPLOAD_PACK_OPTS_INIT;
	grove__upload_pack *up = NULL;
	grove__upload_pack_summary sum;
	pack_sink sink;
	grove__sbuf tmp = GROVE_SBUF_INIT;
	char hex[GROVE_OID_HEXSZ + 1];
	const char *caps = grove__nadv_has_cap(adv, "ofs-delta") ? " ofs-delta thin-pack" : " thin-pack";
	int rc;

	memset(&sink, 0, sizeof(sink));
	sink.c = c;
	o.progress = 0;
	if ((rc = report(c, GROVE_SYNC_COUNTING, 0, 0, 0)) < 0)
		return rc;
	if ((rc = grove__upload_pack_new(&up, g, &o, sink_write, &sink)) < 0)
		return rc;
	for (size_t i = 0; i < nwants; i++)
		if ((rc = feed_line(up, &tmp, "want %s%s\n", grove_oid_tohex(hex, &wants[i]), i ? "" : caps)) < 0)
			goto out;
	tmp.len = 0;
	if ((rc = grove__pkt_flush(&tmp)) < 0 || (rc = grove__upload_pack_feed(up, tmp.data, tmp.len)) < 0)
		goto out;
	/* What the remote has and we know of: the pack stops there. */
	for (size_t i = 0; i < adv->count; i++) {
		rc = grove_object_exists(g, &adv->refs[i].id);
		if (rc < 0)
			goto out;
		if (rc && (rc = feed_line(up, &tmp, "have %s%s\n", grove_oid_tohex(hex, &adv->refs[i].id), "")) < 0)
			goto out;
	}
	tmp.len = 0;
	if ((rc = grove__pkt_puts(&tmp, "done\n")) < 0 || (rc = grove__upload_pack_feed(up, tmp.data, tmp.len)) < 0)
		goto out;
	if (grove__upload_pack_state_get(up) != GROVE__UPLOAD_PACK_NEED_PACK) {
		rc = grove__error_set(GROVE_ERROR, "pack writer: no pack requested");
		goto out;
	}
	if ((rc = grove__upload_pack_run_pack(up)) < 0)
		goto out;
	if (!sink.in_pack) {
		rc = grove__error_set(GROVE_ERROR, "pack writer: no pack produced");
		goto out;
	}
	grove__upload_pack_summary_get(up, &sum);
	rc = report(c, GROVE_SYNC_WRITING, sum.objects, sum.objects, sink.bytes);
out:
	if (rc < 0 && !sink.failed)
		grove__error_wrap(rc, "%s (%s): building the pack", c->what, c->shown_url);
	grove__upload_pack_free(up);
	grove__sbuf_dispose(&tmp);
	grove__sbuf_dispose(&sink.pre);
	return rc;
}

/* --- report-status ---------------------------------------------------------- */

/* One report-status line: "unpack ok", "ok REF", "ng REF REASON". */
static int status_line(grove__nconn *c, grove__push_cmd *cmds, size_t count, const char *d, size_t len,
	int *unpack_seen)
{
	if (len >= 7 && !memcmp(d, "unpack ", 7)) {
		*unpack_seen = 1;
		if (len == 9 && !memcmp(d + 7, "ok", 2))
			return 0;
		return grove__nconn_fail(c, GROVE_ERROR, "the remote failed to unpack: %.*s",
			(int)(len - 7 > 300 ? 300 : len - 7), d + 7);
	}
	if (len > 3 && (!memcmp(d, "ok ", 3) || !memcmp(d, "ng ", 3))) {
		const char *ref = d + 3, *sp = memchr(ref, ' ', len - 3);
		size_t rlen = sp ? (size_t)(sp - ref) : len - 3;
		for (size_t i = 0; i < count; i++) {
			if (strlen(cmds[i].dst) != rlen || memcmp(cmds[i].dst, ref, rlen))
				continue;
			free(cmds[i].status);
			cmds[i].status = NULL;
			if (d[0] == 'n' && !(cmds[i].status = grove__strndup(sp ? sp + 1 : "rejected",
					sp ? len - (size_t)(sp + 1 - d) : 8)))
				return GROVE_ENOMEM;
		}
	}
	return 0; /* anything else (e.g. "option" lines) is not ours to judge */
}

static int read_report(grove__nconn *c, int sideband, grove__push_cmd *cmds, size_t count)
{
	grove__pkt_reader inner = GROVE__PKT_READER_INIT;
	int unpack_seen = 0, report_done = 0, rc = 0;
	while (!report_done) {
		grove__pkt pkt;
		if ((rc = grove__nconn_read_pkt(c, &pkt)) < 0)
			break;
		if (pkt.kind != GROVE__PKT_DATA) {
			if (!sideband)
				report_done = 1;
			else
				break; /* the side-band stream ended */
			continue;
		}
		if (!sideband) {
			rc = status_line(c, cmds, count, pkt.data, grove__pkt_chomp(pkt.data, pkt.len), &unpack_seen);
		} else if (pkt.len && pkt.data[0] == 1) {
			const char *p = pkt.data + 1;
			size_t left = pkt.len - 1;
			while (left && !report_done && rc == 0) {
				grove__pkt ip;
				size_t used = 0;
				int got = grove__pkt_read(&inner, p, left, &used, &ip);
				p += used;
				left -= used;
				if (got < 0)
					rc = grove__nconn_fail(c, GROVE_EIO, "protocol error in the push report: %s",
						grove_error_message());
				else if (got == 0)
					break;
				else if (ip.kind != GROVE__PKT_DATA)
					report_done = 1;
				else
					rc = status_line(c, cmds, count, ip.data, grove__pkt_chomp(ip.data, ip.len), &unpack_seen);
			}
		} else if (pkt.len && pkt.data[0] == 3) {
			size_t len = grove__pkt_chomp(pkt.data + 1, pkt.len - 1);
			rc = grove__nconn_fail(c, GROVE_ERROR, "remote error: %.*s", (int)(len > 300 ? 300 : len), pkt.data + 1);
		} else if ((rc = grove__nconn_check_cancel(c)) == 0 && pkt.len >= 4 && !memcmp(pkt.data, "ERR ", 4)) {
			size_t len = grove__pkt_chomp(pkt.data, pkt.len);
			rc = grove__nconn_fail(c, GROVE_ERROR, "remote error: %.*s", (int)(len - 4 > 300 ? 300 : len - 4),
				pkt.data + 4);
		}
		if (rc < 0)
			break;
	}
	grove__pkt_reader_dispose(&inner);
	if (rc == 0 && !unpack_seen)
		rc = grove__nconn_fail(c, GROVE_EIO, "the remote sent no push report");
	return rc;
}

/* --- the push ------------------------------------------------------------------ */

static const grove_oid *advertised(const grove__nadv *adv, const char *ref)
{
	for (size_t i = 0; i < adv->count; i++)
		if (!strcmp(adv->refs[i].name, ref))
			return &adv->refs[i].id;
	return NULL;
}

/* Like git's send-pack: an update that would lose commits on the remote
 * needs force.  An old id we do not have cannot be checked: not ff. */
static int check_ff(grove *g, const grove_oid *old, const grove_oid *new_id)
{
	int rc = grove_object_exists(g, old);
	if (rc <= 0)
		return rc < 0 ? rc : GROVE_ENOTFF;
	rc = grove__is_ancestor(g, old, new_id);
	if (rc < 0)
		return rc;
	return rc ? 0 : GROVE_ENOTFF;
}

int grove__native_push(grove *g, const char *url, const char *what, const grove_sync_opts *opts,
	grove__push_cmd *cmds, size_t count)
{
	grove__nconn c;
	grove__nadv adv;
	grove__sbuf cmd = GROVE_SBUF_INIT, capbuf = GROVE_SBUF_INIT;
	grove_oid *wants = NULL;
	size_t nsent = 0, nwants = 0;
	char oldhex[GROVE_OID_HEXSZ + 1], newhex[GROVE_OID_HEXSZ + 1];
	int rc, sideband, report_status;

	memset(&adv, 0, sizeof(adv));
	if ((rc = grove__nconn_open(&c, url, GROVE__SERVICE_RECEIVE_PACK, what, opts)) < 0)
		goto out;
	if ((rc = report(&c, GROVE_SYNC_CONNECTING, 0, 0, 0)) < 0 || (rc = grove__nadv_read(&c, &adv)) < 0)
		goto out;
	sideband = grove__nadv_has_cap(&adv, "side-band-64k");
	report_status = grove__nadv_has_cap(&adv, "report-status");
	if ((report_status && (rc = grove__sbuf_puts(&capbuf, " report-status")) < 0) ||
	    (sideband && (rc = grove__sbuf_puts(&capbuf, " side-band-64k")) < 0) ||
	    (grove__nadv_has_cap(&adv, "quiet") && (rc = grove__sbuf_puts(&capbuf, " quiet")) < 0) ||
	    (grove__nadv_has_cap(&adv, "agent") && (rc = grove__sbuf_puts(&capbuf, " agent=" GROVE__GIT_AGENT)) < 0))
		goto out;
	if (!(wants = grove__calloc(count ? count : 1, sizeof(*wants)))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		static const grove_oid zero;
		const grove_oid *old = advertised(&adv, cmds[i].dst);
		int del = grove_oid_is_zero(&cmds[i].src);
		free(cmds[i].status);
		cmds[i].status = NULL;
		/* Up to date: like git, send nothing for it. */
		if (!del && old && grove_oid_cmp(old, &cmds[i].src) == 0)
			continue;
		if (del && !grove__nadv_has_cap(&adv, "delete-refs")) {
			rc = grove__nconn_fail(&c, GROVE_ERROR, "the remote does not allow deleting refs");
			goto out;
		}
		if (!del && old && !cmds[i].force && (rc = check_ff(g, old, &cmds[i].src)) < 0) {
			if (rc == GROVE_ENOTFF)
				grove__nconn_fail(&c, rc, "%s: not a fast-forward", cmds[i].dst);
			goto out;
		}
		if (!del) {
			size_t k = 0;
			while (k < nwants && grove_oid_cmp(&wants[k], &cmds[i].src))
				k++;
			if (k == nwants)
				wants[nwants++] = cmds[i].src;
		}
		cmd.len = 0;
		if ((rc = grove__sbuf_printf(&cmd, "%s %s %s", grove_oid_tohex(oldhex, old ? old : &zero),
				grove_oid_tohex(newhex, &cmds[i].src), cmds[i].dst)) < 0)
			goto out;
		if (!nsent && ((rc = grove__sbuf_putc(&cmd, '\0')) < 0 ||
				(rc = grove__sbuf_put(&cmd, capbuf.data ? capbuf.data + 1 : "", capbuf.len ? capbuf.len - 1 : 0)) < 0))
			goto out;
		if ((rc = grove__sbuf_putc(&cmd, '\n')) < 0 || (rc = grove__pkt_write(&c.out, cmd.data, cmd.len)) < 0)
			goto out;
		nsent++;
	}
	if ((rc = grove__pkt_flush(&c.out)) < 0)
		goto out;
	if (!nsent) {
		rc = grove__nconn_flush(&c); /* a flush alone: nothing to update */
		goto out;
	}
	/* A pack follows unless every command is a delete. */
	if (nwants && (rc = send_pack(g, &c, &adv, wants, nwants)) < 0)
		goto out;
	if ((rc = grove__nconn_flush(&c)) < 0)
		goto out;
	if (report_status)
		rc = read_report(&c, sideband, cmds, count);
out:
	grove__nadv_dispose(&adv);
	grove__nconn_close(&c);
	grove__sbuf_dispose(&cmd);
	grove__sbuf_dispose(&capbuf);
	free(wants);
	return rc;
}
