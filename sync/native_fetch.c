/*
 * Fetch over git:// without libgit2 (design: native.h).  The conversation
 * (gitprotocol-pack, v0): read upload-pack's advertisement; ask for every
 * branch and tag tip the store lacks ("want", with side-band-64k,
 * ofs-delta, thin-pack); offer what the store has ("have": every local
 * ref tip first, then history newest first, at most NATIVE_MAX_HAVES)
 * and "done" in one go, without multi_ack, so there is one round trip;
 * then the pack arrives on band 1 and goes straight into the pack indexer
 * (lg2_odb.h's sink: records with their deltas kept, thin bases from the
 * store).  Nothing is written to the store here (see fetch.c).
 */
#include "native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/protocol.h"
#include "commit_walk.h"
#include "error.h"
#include "lg2_odb.h"
#include "oid.h"
#include "oidset.h"
#include "store.h"

/* Enough to find the common history after any ordinary divergence; the
 * ref tips, sent first, are what matters in the common case. */
#define NATIVE_MAX_HAVES 256

struct grove__nfetch {
	grove *g;
	grove__nconn c;
	grove__nadv adv;
	char *head;
	grove__lg2_sink sink;
	int sideband;
};

static int report(grove__nfetch *f, grove_sync_stage stage, uint64_t cur, uint64_t total, uint64_t bytes)
{
	grove_sync_progress p;
	int rc;
	if ((rc = grove__nconn_check_cancel(&f->c)) < 0)
		return rc;
	if (!f->c.opts || !f->c.opts->progress)
		return 0;
	p.stage = stage;
	p.current = cur;
	p.total = total;
	p.bytes = bytes;
	if (f->c.opts->progress(&p, f->c.opts->progress_payload))
		return grove__error_set(GROVE_ERROR, "cancelled");
	return 0;
}

static int sink_progress(void *payload, grove_sync_stage stage, uint64_t cur, uint64_t total, uint64_t bytes)
{
	return report(payload, stage, cur, total, bytes) < 0 ? 1 : 0;
}

/* HEAD's branch: the symref capability, else a branch at HEAD's id. */
static int find_head(grove__nfetch *f)
{
	const char *p = f->adv.caps;
	const grove_oid *head_id = NULL;
	while (p && *p) {
		size_t len = strcspn(p, " ");
		if (len > 12 && !strncmp(p, "symref=HEAD:", 12))
			return (f->head = grove__strndup(p + 12, len - 12)) ? 0 : GROVE_ENOMEM;
		p += len;
		p += strspn(p, " ");
	}
	for (size_t i = 0; i < f->adv.count; i++)
		if (!strcmp(f->adv.refs[i].name, "HEAD"))
			head_id = &f->adv.refs[i].id;
	if (!head_id)
		return 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->adv.count; i++) {
			const char *n = f->adv.refs[i].name;
			if (strncmp(n, "refs/heads/", 11) || grove_oid_cmp(&f->adv.refs[i].id, head_id))
				continue;
			if (pass == 1 || !strcmp(n, "refs/heads/main") || !strcmp(n, "refs/heads/master"))
				return (f->head = grove__strdup(n)) ? 0 : GROVE_ENOMEM;
		}
	return 0;
}

int grove__native_fetch_connect(grove__nfetch **out, grove *g, const char *url, const char *what,
	const grove_sync_opts *opts)
{
	grove__nfetch *f = grove__calloc(1, sizeof(*f));
	int rc;
	if (!f)
		return GROVE_ENOMEM;
	f->g = g;
	f->sink.g = g;
	f->sink.progress = sink_progress;
	f->sink.payload = f;
	if ((rc = grove__nconn_open(&f->c, url, GROVE__SERVICE_UPLOAD_PACK, what, opts)) < 0 ||
	    (rc = report(f, GROVE_SYNC_CONNECTING, 0, 0, 0)) < 0 || (rc = grove__nadv_read(&f->c, &f->adv)) < 0 ||
	    (rc = find_head(f)) < 0) {
		grove__native_fetch_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

void grove__native_fetch_refs(grove__nfetch *f, const grove__remote_ref **refs, size_t *count, const char **head)
{
	*refs = f->adv.refs;
	*count = f->adv.count;
	*head = f->head;
}

void grove__native_fetch_close(grove__nfetch *f)
{
	if (!f)
		return;
	grove__nconn_close(&f->c);
	grove__nadv_dispose(&f->adv);
	grove__lg2_sink_dispose(&f->sink);
	free(f->head);
	free(f);
}

/* --- haves ------------------------------------------------------------------- */

typedef struct {
	grove__nfetch *f;
	grove__cwalk walk;
	grove__oidset sent;
	size_t count;
	int rc;
} have_ctx;

static int send_have(have_ctx *h, const grove_oid *id)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int added = grove__oidset_add(&h->sent, id);
	if (added <= 0)
		return added;
	h->count++;
	return grove__pkt_printf(&h->f->c.out, "have %s\n", grove_oid_tohex(hex, id));
}

/* Every local tip is offered; commit tips also seed the history walk. */
static int have_tip(const char *refname, const grove_oid *id, void *payload)
{
	have_ctx *h = payload;
	grove__cnode *c;
	grove_otype type;
	size_t size;
	int rc;
	if (strncmp(refname, "refs/heads/", 11) && strncmp(refname, "refs/remotes/", 13) &&
	    strncmp(refname, "refs/tags/", 10))
		return 0;
	if (h->count >= NATIVE_MAX_HAVES)
		return 0;
	if ((rc = h->f->g->be->ops->read_header(h->f->g->be, id, &type, &size)) < 0) {
		grove_error_clear(); /* a dangling ref offers nothing */
		return 0;
	}
	if ((rc = send_have(h, id)) < 0)
		return rc;
	if (type != GROVE_OBJ_COMMIT)
		return 0;
	if ((rc = grove__cwalk_get(&h->walk, id, 1, &c)) < 0) {
		grove_error_clear();
		return 0;
	}
	return grove__cwalk_push(&h->walk, c);
}

static int send_haves(grove__nfetch *f)
{
	have_ctx h;
	grove__cnode *c;
	int rc;
	memset(&h, 0, sizeof(h));
	h.f = f;
	grove__cwalk_init(&h.walk, f->g);
	if ((rc = grove_ref_foreach(f->g, "refs/", have_tip, &h)) < 0)
		goto out;
	while (h.count < NATIVE_MAX_HAVES && (c = grove__cwalk_pop(&h.walk))) {
		if ((rc = send_have(&h, &c->id)) < 0)
			goto out;
		for (size_t i = 0; i < c->parent_count; i++) {
			grove__cnode *p;
			if (grove__cwalk_get(&h.walk, &c->parents[i], 1, &p) < 0) {
				grove_error_clear(); /* history we lack (shallow): stop there */
				continue;
			}
			if ((rc = grove__cwalk_push(&h.walk, p)) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	grove__cwalk_dispose(&h.walk);
	grove__oidset_dispose(&h.sent);
	return rc;
}

/* --- download ------------------------------------------------------------------- */

static int band_error(grove__nfetch *f, const char *d, size_t len)
{
	len = grove__pkt_chomp(d, len);
	return grove__nconn_fail(&f->c, GROVE_EIO, "remote error: %.*s", (int)(len > 300 ? 300 : len), d);
}

/* The pack on band 1 (or raw without side-band) into the sink. */
static int receive_pack(grove__nfetch *f)
{
	int rc;
	for (;;) {
		grove__pkt pkt;
		if (!f->sideband) {
			/* Raw pack bytes until the remote closes. */
			if ((rc = grove__nconn_flush(&f->c)) < 0)
				return rc;
			while (f->c.in_off < f->c.in_len || !f->c.eof) {
				if (f->c.in_off < f->c.in_len) {
					if ((rc = grove__lg2_sink_append(&f->sink, f->c.in + f->c.in_off,
							f->c.in_len - f->c.in_off)) < 0)
						return rc;
					f->c.in_off = f->c.in_len;
				} else if ((rc = grove__nconn_fill(&f->c)) < 0) {
					return rc;
				}
			}
			return 0;
		}
		if ((rc = grove__nconn_read_pkt(&f->c, &pkt)) < 0)
			return rc;
		if (pkt.kind != GROVE__PKT_DATA)
			return 0; /* the end of the side-band stream */
		if (!pkt.len)
			continue;
		switch (pkt.data[0]) {
		case 1:
			if ((rc = grove__lg2_sink_append(&f->sink, pkt.data + 1, pkt.len - 1)) < 0)
				return rc;
			break;
		case 2:
			if ((rc = grove__nconn_check_cancel(&f->c)) < 0)
				return rc;
			break;
		case 3:
			return band_error(f, pkt.data + 1, pkt.len - 1);
		default:
			if (pkt.len >= 4 && !memcmp(pkt.data, "ERR ", 4))
				return band_error(f, pkt.data + 4, pkt.len - 4);
			return grove__nconn_fail(&f->c, GROVE_EIO, "protocol error: bad side-band packet");
		}
	}
}

int grove__native_fetch_download(grove__nfetch *f, const grove__object **objects, size_t *count)
{
	grove__pack_index_stats st;
	grove__sbuf caps = GROVE_SBUF_INIT;
	char hex[GROVE_OID_HEXSZ + 1];
	size_t nwants = 0;
	int rc = 0;

	*objects = NULL;
	*count = 0;
	f->sideband = grove__nadv_has_cap(&f->adv, "side-band-64k");
	if ((f->sideband && (rc = grove__sbuf_puts(&caps, " side-band-64k")) < 0) ||
	    (grove__nadv_has_cap(&f->adv, "ofs-delta") && (rc = grove__sbuf_puts(&caps, " ofs-delta")) < 0) ||
	    (grove__nadv_has_cap(&f->adv, "thin-pack") && (rc = grove__sbuf_puts(&caps, " thin-pack")) < 0) ||
	    (grove__nadv_has_cap(&f->adv, "no-progress") && (rc = grove__sbuf_puts(&caps, " no-progress")) < 0) ||
	    (grove__nadv_has_cap(&f->adv, "agent") && (rc = grove__sbuf_puts(&caps, " agent=" GROVE__GIT_AGENT)) < 0))
		goto out;
	for (size_t i = 0; i < f->adv.count; i++) {
		const grove__remote_ref *r = &f->adv.refs[i];
		int dup = 0;
		if (strncmp(r->name, "refs/heads/", 11) && strncmp(r->name, "refs/tags/", 10))
			continue;
		for (size_t k = 0; k < i && !dup; k++)
			dup = grove_oid_cmp(&f->adv.refs[k].id, &r->id) == 0 &&
				(!strncmp(f->adv.refs[k].name, "refs/heads/", 11) || !strncmp(f->adv.refs[k].name, "refs/tags/", 10));
		if (dup)
			continue;
		if ((rc = grove_object_exists(f->g, &r->id)) < 0)
			goto out;
		if (rc)
			continue;
		if ((rc = grove__pkt_printf(&f->c.out, "want %s%s\n", grove_oid_tohex(hex, &r->id),
				nwants ? "" : caps.data ? caps.data : "")) < 0)
			goto out;
		nwants++;
	}
	if ((rc = grove__pkt_flush(&f->c.out)) < 0)
		goto out;
	if (!nwants) {
		rc = grove__nconn_flush(&f->c); /* up to date: a flush ends the conversation */
		goto out;
	}
	if ((rc = send_haves(f)) < 0 || (rc = grove__pkt_puts(&f->c.out, "done\n")) < 0)
		goto out;
	/* ACK/NAK lines (one from git, maybe two from other servers), then
	 * the pack.  Without side-band the pack follows the first one. */
	for (;;) {
		grove__pkt pkt;
		if ((rc = grove__nconn_read_pkt(&f->c, &pkt)) < 0)
			goto out;
		if (pkt.kind == GROVE__PKT_DATA && pkt.len >= 3 &&
		    (!memcmp(pkt.data, "NAK", 3) || (pkt.len >= 4 && !memcmp(pkt.data, "ACK ", 4)))) {
			if (!f->sideband)
				break;
			continue;
		}
		if (pkt.kind == GROVE__PKT_DATA && pkt.len >= 4 && !memcmp(pkt.data, "ERR ", 4)) {
			rc = band_error(f, pkt.data + 4, pkt.len - 4);
			goto out;
		}
		if (pkt.kind == GROVE__PKT_FLUSH) {
			rc = grove__nconn_fail(&f->c, GROVE_EIO, "the remote sent no pack");
			goto out;
		}
		if (pkt.kind != GROVE__PKT_DATA || !f->sideband) {
			rc = grove__nconn_fail(&f->c, GROVE_EIO, "protocol error: unexpected reply to the fetch request");
			goto out;
		}
		/* The first side-band packet: handle it, then the rest. */
		if (pkt.len && pkt.data[0] == 1)
			rc = grove__lg2_sink_append(&f->sink, pkt.data + 1, pkt.len - 1);
		else if (pkt.len && pkt.data[0] == 3)
			rc = band_error(f, pkt.data + 1, pkt.len - 1);
		if (rc < 0)
			goto out;
		break;
	}
	if ((rc = receive_pack(f)) < 0 || (rc = grove__lg2_sink_finish(&f->sink, &st)) < 0)
		goto out;
	if (!f->sink.ix) {
		rc = grove__nconn_fail(&f->c, GROVE_EIO, "the remote sent no pack");
		goto out;
	}
	*objects = f->sink.recs;
	*count = f->sink.n;
out:
	if (rc < 0 && strncmp(grove_error_message(), f->c.what, strlen(f->c.what))) {
		/* Errors of the indexer or the store: say which fetch. */
		grove__error_wrap(rc, "%s (%s)", f->c.what, f->c.shown_url);
	}
	grove__sbuf_dispose(&caps);
	return rc;
}
