/*
 * upload-pack session: input parsing for protocol v0/v1 and v2, the
 * negotiation replies, and the hand-over to the pack step.
 */
#include "upload_pack_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "oid.h"

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static void free_strings(char **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

static int push_string(char ***arr, size_t *count, const char *s, size_t len)
{
	char **n = grove__realloc(*arr, (*count + 1) * sizeof(*n));
	if (!n)
		return GROVE_ENOMEM;
	*arr = n;
	if (!(n[*count] = grove__strndup(s, len)))
		return GROVE_ENOMEM;
	(*count)++;
	return 0;
}

static void request_reset(up_request *r)
{
	grove__oidvec_dispose(&r->wants);
	grove__oidvec_dispose(&r->common);
	grove__oidvec_dispose(&r->client_shallow);
	grove__oidvec_dispose(&r->want_ref_ids);
	grove__oidvec_dispose(&r->new_shallow);
	grove__oidvec_dispose(&r->unshallow);
	grove__oidset_dispose(&r->deepen_set);
	grove__oidset_dispose(&r->common_set);
	free_strings(r->deepen_not, r->deepen_not_count);
	free_strings(r->want_refs, r->want_ref_count);
	memset(r, 0, sizeof(*r));
}

int grove__up_flush_out(grove__upload_pack *up)
{
	int rc;
	if (!up->out.len)
		return 0;
	rc = up->write(up->write_payload, up->out.data, up->out.len);
	grove__sbuf_reset(&up->out);
	if (rc != 0)
		return rc < 0 ? rc : grove__error_set(GROVE_EIO, "upload-pack: output closed (%d)", rc);
	return 0;
}

int grove__up_sideband_on(const grove__upload_pack *up)
{
	return up->o.version == GROVE__PROTOCOL_V2 ||
		(up->r.caps & (UP_SIDE_BAND | UP_SIDE_BAND_64K));
}

static size_t band_max(const grove__upload_pack *up)
{
	if (up->o.version != GROVE__PROTOCOL_V2 && !(up->r.caps & UP_SIDE_BAND_64K))
		return GROVE__SIDEBAND_DATA_MAX;
	return GROVE__SIDEBAND64K_DATA_MAX;
}

int grove__up_progress(grove__upload_pack *up, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;
	if (!up->o.progress || (up->r.caps & UP_NO_PROGRESS) || !grove__up_sideband_on(up))
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	n = grove__pkt_sideband(&up->out, 2, msg, (size_t)n, band_max(up));
	return n < 0 ? n : grove__up_flush_out(up);
}

/*
 * Tells the client what went wrong (ERR packet, or band 3 once the pack
 * is streaming), ends the session and returns code with the message set.
 */
int grove__up_fail(grove__upload_pack *up, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (up->state != GROVE__UPLOAD_PACK_DONE) {
		if (up->sideband_live) {
			char line[520];
			int n = snprintf(line, sizeof(line), "%s\n", msg);
			grove__pkt_sideband(&up->out, 3, line, (size_t)n, band_max(up));
		} else {
			grove__pkt_error(&up->out, "%s", msg);
		}
		grove__up_flush_out(up);
	}
	up->state = GROVE__UPLOAD_PACK_DONE;
	up->phase = UP_PH_DONE;
	return grove__error_set(code, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* session                                                              */

int grove__upload_pack_new(grove__upload_pack **out, grove *g, const grove__upload_pack_opts *opts,
	grove__git_write_fn write, void *write_payload)
{
	static const grove__upload_pack_opts defaults = GROVE__UPLOAD_PACK_OPTS_INIT;
	grove__upload_pack *up;
	if (!g || !write)
		return grove__error_set(GROVE_EINVALID, "upload-pack needs a store and a write callback");
	up = grove__calloc(1, sizeof(*up));
	if (!up)
		return GROVE_ENOMEM;
	up->g = g;
	up->o = opts ? *opts : defaults;
	if (up->o.version == GROVE__PROTOCOL_V1)
		up->o.version = GROVE__PROTOCOL_V0; /* same wire format after the version line */
	up->write = write;
	up->write_payload = write_payload;
	up->state = GROVE__UPLOAD_PACK_NEED_INPUT;
	up->phase = up->o.version == GROVE__PROTOCOL_V2 ? UP_PH_V2_COMMAND : UP_PH_WANTS;
	*out = up;
	return 0;
}

static void v2_args_reset(grove__upload_pack *up)
{
	up->command = UP_CMD_NONE;
	up->ls_symrefs = up->ls_peel = up->ls_unborn = 0;
	free_strings(up->ls_prefixes, up->ls_prefix_count);
	up->ls_prefixes = NULL;
	up->ls_prefix_count = 0;
	up->oi_size = 0;
	grove__oidvec_dispose(&up->oi_ids);
	request_reset(&up->r);
}

void grove__upload_pack_free(grove__upload_pack *up)
{
	if (!up)
		return;
	v2_args_reset(up);
	grove__up_refs_dispose(up);
	grove__pkt_reader_dispose(&up->rd);
	grove__sbuf_dispose(&up->out);
	grove__sbuf_dispose(&up->kept);
	free(up);
}

grove__upload_pack_state grove__upload_pack_state_get(const grove__upload_pack *up)
{
	return up->state;
}

void grove__upload_pack_summary_get(const grove__upload_pack *up, grove__upload_pack_summary *out)
{
	*out = up->sum;
}

int grove__upload_pack_start(grove__upload_pack *up)
{
	int rc;
	if (up->o.version == GROVE__PROTOCOL_V2)
		rc = grove__up_advertise_v2(up);
	else
		rc = grove__up_advertise_v0(up);
	if (rc == 0)
		rc = grove__up_flush_out(up);
	if (rc < 0)
		return rc;
	if (up->o.advertise_only) {
		up->state = GROVE__UPLOAD_PACK_DONE;
		up->phase = UP_PH_DONE;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* parsing helpers                                                      */

/* "<prefix><40 hex>" (then end, space, or NUL); *rest after the id. */
static int parse_id_arg(const char *line, size_t len, const char *prefix, grove_oid *id,
	const char **rest)
{
	size_t pl = strlen(prefix);
	if (len < pl + GROVE_OID_HEXSZ || memcmp(line, prefix, pl))
		return 0;
	for (size_t i = 0; i < GROVE_OID_HEXSZ; i++) {
		char c = line[pl + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	if (grove_oid_fromhex(id, line + pl) < 0)
		return -1;
	if (rest)
		*rest = line + pl + GROVE_OID_HEXSZ;
	return 1;
}

static int starts(const char *line, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	return len >= pl && !memcmp(line, prefix, pl);
}

/* A decimal number filling line[off..len). */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_filter(grove__upload_pack *up, const char *spec, size_t len)
{
	uint64_t n;
	if (len == 9 && !memcmp(spec, "blob:none", 9)) {
		up->r.filter = UP_FILTER_BLOB_NONE;
		return 0;
	}
	if (len == 6 && !memcmp(spec, "tree:0", 6)) {
		up->r.filter = UP_FILTER_TREE0;
		return 0;
	}
	if (len > 11 && !memcmp(spec, "blob:limit=", 11)) {
		const char *v = spec + 11;
		size_t vl = len - 11;
		uint64_t mul = 1;
		char last = v[vl - 1];
		if (last == 'k' || last == 'K')
			mul = 1024;
		else if (last == 'm' || last == 'M')
			mul = 1024 * 1024;
		else if (last == 'g' || last == 'G')
			mul = 1024 * 1024 * 1024;
		if (mul > 1)
			vl--;
		if (parse_u64(v, vl, &n) == 0 && n <= UINT64_MAX / mul) {
			up->r.filter = UP_FILTER_BLOB_LIMIT;
			up->r.blob_limit = n * mul;
			return 0;
		}
	}
	return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unsupported filter '%.*s'",
		(int)(len > 200 ? 200 : len), spec);
}

/* The capabilities of a v0 first want line (space separated). */
static int parse_v0_caps(grove__upload_pack *up, const char *s, size_t len)
{
	static const struct { const char *name; unsigned flag; } known[] = {
		{ "multi_ack_detailed", UP_MULTI_ACK_DETAILED }, { "no-done", UP_NO_DONE },
		{ "side-band-64k", UP_SIDE_BAND_64K }, { "side-band", UP_SIDE_BAND },
		{ "ofs-delta", UP_OFS_DELTA }, { "thin-pack", UP_THIN_PACK },
		{ "include-tag", UP_INCLUDE_TAG }, { "no-progress", UP_NO_PROGRESS },
		{ "shallow", UP_SHALLOW }, { "deepen-since", UP_DEEPEN_SINCE },
		{ "deepen-not", UP_DEEPEN_NOT }, { "deepen-relative", UP_DEEPEN_RELATIVE },
		{ "filter", UP_FILTER }, { "allow-tip-sha1-in-want", UP_ALLOW_TIP },
		{ "allow-reachable-sha1-in-want", UP_ALLOW_REACHABLE },
	};
	const char *end = s + len;
	while (s < end) {
		const char *word;
		size_t wl, i;
		while (s < end && *s == ' ')
			s++;
		word = s;
		while (s < end && *s != ' ')
			s++;
		wl = (size_t)(s - word);
		if (!wl)
			continue;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strlen(known[i].name) == wl && !memcmp(known[i].name, word, wl))
				break;
		if (i < sizeof(known) / sizeof(known[0])) {
			up->r.caps |= known[i].flag;
			continue;
		}
		/* Values we accept without acting on them. */
		if (starts(word, wl, "agent=") || starts(word, wl, "session-id=") ||
		    (wl == 18 && !memcmp(word, "object-format=sha1", 18)))
			continue;
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unknown capability '%.*s'",
			(int)(wl > 100 ? 100 : wl), word);
	}
	return 0;
}

/* Lines shared by v0 want sections and v2 fetch arguments. */
static int parse_shallow_args(grove__upload_pack *up, const char *line, size_t len, int *handled)
{
	grove_oid id;
	uint64_t n;
	int rc;
	*handled = 1;
	if ((rc = parse_id_arg(line, len, "shallow ", &id, NULL)) != 0) {
		if (rc < 0 || len != 8 + GROVE_OID_HEXSZ)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: invalid shallow line '%.*s'",
				(int)(len > 100 ? 100 : len), line);
		return grove__oidvec_push(&up->r.client_shallow, &id);
	}
	if (starts(line, len, "deepen ")) {
		if (parse_u64(line + 7, len - 7, &n) < 0 || n == 0)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: invalid deepen '%.*s'",
				(int)(len > 100 ? 100 : len), line);
		up->r.depth = n > 0x7fffffff ? 0x7fffffff : (unsigned)n;
		return 0;
	}
	if (starts(line, len, "deepen-since ")) {
		if (parse_u64(line + 13, len - 13, &n) < 0 || n > INT64_MAX)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: invalid deepen-since '%.*s'",
				(int)(len > 100 ? 100 : len), line);
		up->r.since = n ? (int64_t)n : 1;
		return 0;
	}
	if (starts(line, len, "deepen-not ")) {
		if (len == 11)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: empty deepen-not");
		return push_string(&up->r.deepen_not, &up->r.deepen_not_count, line + 11, len - 11);
	}
	if (len == 15 && !memcmp(line, "deepen-relative", 15)) {
		up->r.caps |= UP_DEEPEN_RELATIVE;
		return 0;
	}
	if (starts(line, len, "filter ")) {
		return parse_filter(up, line + 7, len - 7);
	}
	*handled = 0;
	return 0;
}

/* v0 "shallow"/"unshallow" lines and the flush that ends them. */
static int write_shallow_lines(grove__upload_pack *up)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < up->r.new_shallow.count; i++)
		rc = grove__pkt_printf(&up->out, "shallow %s\n", grove_oid_tohex(hex, &up->r.new_shallow.ids[i]));
	for (size_t i = 0; rc == 0 && i < up->r.unshallow.count; i++)
		rc = grove__pkt_printf(&up->out, "unshallow %s\n", grove_oid_tohex(hex, &up->r.unshallow.ids[i]));
	return rc;
}

static int deepen_requested(const up_request *r)
{
	return r->depth || r->since || r->deepen_not_count;
}

/* ------------------------------------------------------------------ */
/* protocol v0/v1                                                       */

static int v0_wants_done(grove__upload_pack *up)
{
	int rc;
	if (!up->r.wants.count) {
		/* ls-remote, or a fetch with nothing to do: a clean end. */
		up->state = GROVE__UPLOAD_PACK_DONE;
		up->phase = UP_PH_DONE;
		return 0;
	}
	if ((rc = grove__up_check_wants(up)) < 0)
		return rc;
	if (deepen_requested(&up->r)) {
		if ((rc = grove__up_compute_shallow(up)) < 0)
			return rc;
		if ((rc = write_shallow_lines(up)) < 0 || (rc = grove__pkt_flush(&up->out)) < 0)
			return rc;
	}
	up->phase = UP_PH_HAVES;
	return 0;
}

static int v0_want_line(grove__upload_pack *up, const char *line, size_t len)
{
	grove_oid id;
	const char *rest;
	int rc, handled;
	if ((rc = parse_id_arg(line, len, "want ", &id, &rest)) != 0) {
		size_t rl = len - (size_t)(rest - line);
		if (rc < 0 || (rl && *rest != ' '))
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: invalid want line '%.*s'",
				(int)(len > 100 ? 100 : len), line);
		if (up->o.max_wants && up->r.wants.count >= up->o.max_wants)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: too many wants");
		if (up->r.wants.count == 0 && rl && (rc = parse_v0_caps(up, rest, rl)) < 0)
			return rc;
		return grove__oidvec_push(&up->r.wants, &id);
	}
	if ((rc = parse_shallow_args(up, line, len, &handled)) < 0 || handled)
		return rc;
	return grove__up_fail(up, GROVE_EINVALID, "upload-pack: protocol error, expected want, got '%.*s'",
		(int)(len > 100 ? 100 : len), line);
}

/* The final ACK/NAK before the pack (after "done", or ready + no-done). */
static int v0_start_pack(grove__upload_pack *up)
{
	up->state = GROVE__UPLOAD_PACK_NEED_PACK;
	return 0;
}

static int v0_have_line(grove__upload_pack *up, const char *line, size_t len)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid id;
	int rc = parse_id_arg(line, len, "have ", &id, NULL);
	int multi = (up->r.caps & UP_MULTI_ACK_DETAILED) != 0;
	if (rc > 0 && len == 5 + GROVE_OID_HEXSZ) {
		up->r.haves++;
		if (up->o.max_haves && up->r.haves > up->o.max_haves)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: too many haves");
		if ((rc = grove__up_have(up, &id)) < 0)
			return rc;
		if (rc == 1) {
			up->r.last_common = id;
			up->r.got_common_round = 1;
			if (multi)
				return grove__pkt_printf(&up->out, "ACK %s common\n", grove_oid_tohex(hex, &id));
			if (up->r.common.count == 1)
				return grove__pkt_printf(&up->out, "ACK %s\n", grove_oid_tohex(hex, &id));
			return 0;
		}
		/* They have something we do not: maybe we know enough already. */
		if (multi && !up->r.sent_ready && up->r.common.count && (rc = grove__up_ready(up)) != 0) {
			if (rc < 0)
				return rc;
			up->r.sent_ready = 1;
			return grove__pkt_printf(&up->out, "ACK %s ready\n", grove_oid_tohex(hex, &id));
		}
		return 0;
	}
	if (len == 4 && !memcmp(line, "done", 4)) {
		up->r.done = 1;
		if (up->r.common.count && multi)
			rc = grove__pkt_printf(&up->out, "ACK %s\n", grove_oid_tohex(hex, &up->r.last_common));
		else if (up->r.common.count)
			rc = grove__pkt_printf(&up->out, "ACK %s\n", grove_oid_tohex(hex, &up->r.last_common));
		else
			rc = grove__pkt_puts(&up->out, "NAK\n");
		return rc < 0 ? rc : v0_start_pack(up);
	}
	return grove__up_fail(up, GROVE_EINVALID, "upload-pack: protocol error, expected have or done, got '%.*s'",
		(int)(len > 100 ? 100 : len), line);
}

static int v0_have_flush(grove__upload_pack *up)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int rc;
	if (!up->r.common.count || (up->r.caps & UP_MULTI_ACK_DETAILED)) {
		if ((rc = grove__pkt_puts(&up->out, "NAK\n")) < 0)
			return rc;
	}
	if ((up->r.caps & UP_NO_DONE) && up->r.sent_ready) {
		if ((rc = grove__pkt_printf(&up->out, "ACK %s\n", grove_oid_tohex(hex, &up->r.last_common))) < 0)
			return rc;
		return v0_start_pack(up);
	}
	if (up->o.stateless) {
		up->state = GROVE__UPLOAD_PACK_DONE;
		up->phase = UP_PH_DONE;
	}
	up->r.got_common_round = 0;
	return 0;
}

static int v0_packet(grove__upload_pack *up, const grove__pkt *pkt)
{
	size_t len = pkt->kind == GROVE__PKT_DATA ? grove__pkt_chomp(pkt->data, pkt->len) : 0;
	if (pkt->kind == GROVE__PKT_DELIM || pkt->kind == GROVE__PKT_RESPONSE_END)
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unexpected %s packet",
			pkt->kind == GROVE__PKT_DELIM ? "delim" : "response-end");
	if (up->phase == UP_PH_WANTS) {
		if (pkt->kind == GROVE__PKT_FLUSH)
			return v0_wants_done(up);
		return v0_want_line(up, pkt->data, len);
	}
	if (pkt->kind == GROVE__PKT_FLUSH)
		return v0_have_flush(up);
	return v0_have_line(up, pkt->data, len);
}

/* ------------------------------------------------------------------ */
/* protocol v2                                                          */

static int v2_fetch_arg(grove__upload_pack *up, const char *line, size_t len)
{
	static const struct { const char *name; unsigned flag; } flags[] = {
		{ "thin-pack", UP_THIN_PACK }, { "no-progress", UP_NO_PROGRESS },
		{ "include-tag", UP_INCLUDE_TAG }, { "ofs-delta", UP_OFS_DELTA },
		{ "wait-for-done", UP_WAIT_FOR_DONE },
	};
	grove_oid id;
	int rc, handled;
	if ((rc = parse_id_arg(line, len, "want ", &id, NULL)) != 0) {
		if (rc < 0 || len != 5 + GROVE_OID_HEXSZ)
			goto bad;
		if (up->o.max_wants && up->r.wants.count >= up->o.max_wants)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: too many wants");
		return grove__oidvec_push(&up->r.wants, &id);
	}
	if ((rc = parse_id_arg(line, len, "have ", &id, NULL)) != 0) {
		if (rc < 0 || len != 5 + GROVE_OID_HEXSZ)
			goto bad;
		up->r.haves++;
		if (up->o.max_haves && up->r.haves > up->o.max_haves)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: too many haves");
		rc = grove__up_have(up, &id);
		return rc < 0 ? rc : 0;
	}
	if (starts(line, len, "want-ref ")) {
		grove_oid rid;
		char *name = grove__strndup(line + 9, len - 9);
		if (!name)
			return GROVE_ENOMEM;
		rc = grove_ref_read(up->g, name, &rid);
		if (rc < 0) {
			rc = grove__up_fail(up, GROVE_ENOTFOUND, "upload-pack: unknown ref %s", name);
			free(name);
			return rc;
		}
		free(name);
		if ((rc = push_string(&up->r.want_refs, &up->r.want_ref_count, line + 9, len - 9)) < 0 ||
		    (rc = grove__oidvec_push(&up->r.want_ref_ids, &rid)) < 0)
			return rc;
		return grove__oidvec_push(&up->r.wants, &rid);
	}
	if (len == 4 && !memcmp(line, "done", 4)) {
		up->r.done = 1;
		return 0;
	}
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (strlen(flags[i].name) == len && !memcmp(flags[i].name, line, len)) {
			up->r.caps |= flags[i].flag;
			return 0;
		}
	}
	if ((rc = parse_shallow_args(up, line, len, &handled)) < 0 || handled)
		return rc;
bad:
	return grove__up_fail(up, GROVE_EINVALID, "upload-pack: fetch: unexpected line '%.*s'",
		(int)(len > 100 ? 100 : len), line);
}

static int v2_ls_refs_arg(grove__upload_pack *up, const char *line, size_t len)
{
	if (len == 7 && !memcmp(line, "symrefs", 7))
		up->ls_symrefs = 1;
	else if (len == 4 && !memcmp(line, "peel", 4))
		up->ls_peel = 1;
	else if (len == 6 && !memcmp(line, "unborn", 6))
		up->ls_unborn = 1;
	else if (starts(line, len, "ref-prefix ")) {
		/* git caps the prefix list; past that, everything matches. */
		if (up->ls_prefix_count < 65536)
			return push_string(&up->ls_prefixes, &up->ls_prefix_count, line + 11, len - 11);
	} else
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: ls-refs: unexpected line '%.*s'",
			(int)(len > 100 ? 100 : len), line);
	return 0;
}

static int v2_object_info_arg(grove__upload_pack *up, const char *line, size_t len)
{
	grove_oid id;
	int rc;
	if (len == 4 && !memcmp(line, "size", 4)) {
		up->oi_size = 1;
		return 0;
	}
	if ((rc = parse_id_arg(line, len, "oid ", &id, NULL)) > 0 && len == 4 + GROVE_OID_HEXSZ)
		return grove__oidvec_push(&up->oi_ids, &id);
	return grove__up_fail(up, GROVE_EINVALID, "upload-pack: object-info: unexpected line '%.*s'",
		(int)(len > 100 ? 100 : len), line);
}

static int v2_object_info(grove__upload_pack *up)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int rc;
	if (up->oi_size && (rc = grove__pkt_puts(&up->out, "size\n")) < 0)
		return rc;
	for (size_t i = 0; i < up->oi_ids.count; i++) {
		grove_otype type;
		size_t size;
		grove_oid_tohex(hex, &up->oi_ids.ids[i]);
		rc = up->g->be->ops->read_header(up->g->be, &up->oi_ids.ids[i], &type, &size);
		if (rc == GROVE_ENOTFOUND)
			rc = grove__pkt_printf(&up->out, "%s \n", hex);
		else if (rc < 0)
			return grove__up_fail(up, rc, "upload-pack: object-info %s: %s", hex, grove_error_message());
		else if (up->oi_size)
			rc = grove__pkt_printf(&up->out, "%s %zu\n", hex, size);
		else
			rc = grove__pkt_printf(&up->out, "%s\n", hex);
		if (rc < 0)
			return rc;
	}
	return grove__pkt_flush(&up->out);
}

/* The end of a v2 command's response (stateless: the conversation). */
static int v2_response_done(grove__upload_pack *up)
{
	int rc = 0;
	if (up->o.stateless && up->o.response_end)
		rc = grove__pkt_response_end(&up->out);
	if (up->o.stateless) {
		up->state = GROVE__UPLOAD_PACK_DONE;
		up->phase = UP_PH_DONE;
	} else {
		up->phase = UP_PH_V2_COMMAND;
	}
	return rc;
}

static int v2_fetch(grove__upload_pack *up)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int rc, ready = 0;
	if (!up->r.wants.count && !up->r.done)
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: fetch without a want");
	if ((rc = grove__up_check_wants(up)) < 0)
		return rc;
	if (!up->r.done) {
		if ((rc = grove__pkt_puts(&up->out, "acknowledgments\n")) < 0)
			return rc;
		if (!up->r.common.count)
			rc = grove__pkt_puts(&up->out, "NAK\n");
		for (size_t i = 0; rc == 0 && i < up->r.common.count; i++)
			rc = grove__pkt_printf(&up->out, "ACK %s\n", grove_oid_tohex(hex, &up->r.common.ids[i]));
		if (rc < 0)
			return rc;
		if (!(up->r.caps & UP_WAIT_FOR_DONE) && up->r.common.count &&
		    (ready = grove__up_ready(up)) < 0)
			return ready;
		if (!ready) {
			if ((rc = grove__pkt_flush(&up->out)) < 0)
				return rc;
			return v2_response_done(up);
		}
		if ((rc = grove__pkt_puts(&up->out, "ready\n")) < 0 || (rc = grove__pkt_delim(&up->out)) < 0)
			return rc;
	}
	if (deepen_requested(&up->r) || up->r.client_shallow.count) {
		if (deepen_requested(&up->r) && (rc = grove__up_compute_shallow(up)) < 0)
			return rc;
		if ((rc = grove__pkt_puts(&up->out, "shallow-info\n")) < 0 ||
		    (rc = write_shallow_lines(up)) < 0 || (rc = grove__pkt_delim(&up->out)) < 0)
			return rc;
	}
	if (up->r.want_ref_count) {
		if ((rc = grove__pkt_puts(&up->out, "wanted-refs\n")) < 0)
			return rc;
		for (size_t i = 0; i < up->r.want_ref_count; i++)
			if ((rc = grove__pkt_printf(&up->out, "%s %s\n",
				grove_oid_tohex(hex, &up->r.want_ref_ids.ids[i]), up->r.want_refs[i])) < 0)
				return rc;
		if ((rc = grove__pkt_delim(&up->out)) < 0)
			return rc;
	}
	if ((rc = grove__pkt_puts(&up->out, "packfile\n")) < 0)
		return rc;
	up->state = GROVE__UPLOAD_PACK_NEED_PACK;
	return 0;
}

static int v2_command_end(grove__upload_pack *up)
{
	int rc;
	if (up->command != UP_CMD_FETCH && !up->refs_loaded && (rc = grove__up_refs_load(up)) < 0)
		return rc;
	switch (up->command) {
	case UP_CMD_LS_REFS:
		rc = grove__up_ls_refs(up);
		return rc < 0 ? rc : v2_response_done(up);
	case UP_CMD_OBJECT_INFO:
		rc = v2_object_info(up);
		return rc < 0 ? rc : v2_response_done(up);
	default:
		return v2_fetch(up);
	}
}

static int v2_packet(grove__upload_pack *up, const grove__pkt *pkt)
{
	size_t len = pkt->kind == GROVE__PKT_DATA ? grove__pkt_chomp(pkt->data, pkt->len) : 0;
	const char *line = pkt->data;

	if (pkt->kind == GROVE__PKT_RESPONSE_END)
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unexpected response-end packet");
	switch (up->phase) {
	case UP_PH_V2_COMMAND:
		if (pkt->kind == GROVE__PKT_FLUSH) {
			/* A flush instead of a command: the client is done. */
			up->state = GROVE__UPLOAD_PACK_DONE;
			up->phase = UP_PH_DONE;
			return 0;
		}
		if (pkt->kind != GROVE__PKT_DATA || !starts(line, len, "command="))
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: expected a command, got '%.*s'",
				(int)(len > 100 ? 100 : len), line ? line : "");
		v2_args_reset(up);
		if (len == 15 && !memcmp(line + 8, "ls-refs", 7))
			up->command = UP_CMD_LS_REFS;
		else if (len == 13 && !memcmp(line + 8, "fetch", 5))
			up->command = UP_CMD_FETCH;
		else if (len == 19 && !memcmp(line + 8, "object-info", 11))
			up->command = UP_CMD_OBJECT_INFO;
		else
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unknown command '%.*s'",
				(int)(len - 8 > 100 ? 100 : len - 8), line + 8);
		up->phase = UP_PH_V2_CAPS;
		return 0;
	case UP_PH_V2_CAPS:
		if (pkt->kind == GROVE__PKT_DELIM) {
			up->phase = UP_PH_V2_ARGS;
			return 0;
		}
		if (pkt->kind == GROVE__PKT_FLUSH)
			return v2_command_end(up);
		if (starts(line, len, "agent=") || starts(line, len, "server-option=") ||
		    starts(line, len, "session-id=") || (len == 18 && !memcmp(line, "object-format=sha1", 18)))
			return 0;
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unknown capability '%.*s'",
			(int)(len > 100 ? 100 : len), line);
	case UP_PH_V2_ARGS:
		if (pkt->kind == GROVE__PKT_FLUSH)
			return v2_command_end(up);
		if (pkt->kind != GROVE__PKT_DATA)
			return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unexpected delim packet");
		if (up->command == UP_CMD_LS_REFS)
			return v2_ls_refs_arg(up, line, len);
		if (up->command == UP_CMD_OBJECT_INFO)
			return v2_object_info_arg(up, line, len);
		return v2_fetch_arg(up, line, len);
	default:
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: unexpected input");
	}
}

/* ------------------------------------------------------------------ */
/* feeding                                                              */

static int feed_bytes(grove__upload_pack *up, const char *p, size_t len, size_t *used_out)
{
	size_t used = 0;
	int rc = 0;
	while (used < len && up->state == GROVE__UPLOAD_PACK_NEED_INPUT) {
		grove__pkt pkt;
		size_t n = 0;
		rc = grove__pkt_read(&up->rd, p + used, len - used, &n, &pkt);
		used += n;
		if (rc < 0) {
			char msg[300];
			snprintf(msg, sizeof(msg), "%s", grove_error_message());
			rc = grove__up_fail(up, GROVE_EINVALID, "upload-pack: %s", msg);
			break;
		}
		if (rc == 0)
			break;
		if (!up->refs_loaded && up->phase != UP_PH_V2_COMMAND && up->phase != UP_PH_V2_CAPS &&
		    up->phase != UP_PH_V2_ARGS && (rc = grove__up_refs_load(up)) < 0)
			break;
		rc = up->o.version == GROVE__PROTOCOL_V2 ? v2_packet(up, &pkt) : v0_packet(up, &pkt);
		if (rc < 0)
			break;
	}
	*used_out = used;
	return rc < 0 ? rc : 0;
}

int grove__upload_pack_feed(grove__upload_pack *up, const void *data, size_t len)
{
	size_t used = 0;
	int rc;
	if (up->state == GROVE__UPLOAD_PACK_DONE)
		return 0;
	if (up->state == GROVE__UPLOAD_PACK_NEED_PACK)
		return len ? grove__sbuf_put(&up->kept, data, len) : 0;
	/* Bytes kept while the pack was built go first. */
	if (up->kept_off < up->kept.len) {
		if (len && (rc = grove__sbuf_put(&up->kept, data, len)) < 0)
			return rc;
		rc = feed_bytes(up, up->kept.data + up->kept_off, up->kept.len - up->kept_off, &used);
		up->kept_off += used;
		if (up->kept_off == up->kept.len) {
			grove__sbuf_reset(&up->kept);
			up->kept_off = 0;
		}
	} else {
		rc = feed_bytes(up, data, len, &used);
		if (rc == 0 && used < len && up->state == GROVE__UPLOAD_PACK_NEED_PACK)
			rc = grove__sbuf_put(&up->kept, (const char *)data + used, len - used);
	}
	if (rc < 0) {
		grove__up_flush_out(up);
		return rc;
	}
	return grove__up_flush_out(up);
}

int grove__upload_pack_input_end(grove__upload_pack *up)
{
	if (up->state != GROVE__UPLOAD_PACK_NEED_INPUT)
		return 0;
	if (grove__pkt_reader_pending(&up->rd))
		return grove__up_fail(up, GROVE_EINVALID, "upload-pack: input ended inside a pkt-line");
	/* Ending between requests is fine; inside one it is not. */
	if ((up->phase == UP_PH_WANTS && up->r.wants.count == 0) ||
	    (up->phase == UP_PH_V2_COMMAND) || up->phase == UP_PH_DONE) {
		up->state = GROVE__UPLOAD_PACK_DONE;
		up->phase = UP_PH_DONE;
		return 0;
	}
	if (up->phase == UP_PH_HAVES && up->o.stateless) {
		up->state = GROVE__UPLOAD_PACK_DONE;
		return 0;
	}
	return grove__up_fail(up, GROVE_EINVALID, "upload-pack: the client hung up in the middle of a request");
}

int grove__upload_pack_run_pack(grove__upload_pack *up)
{
	int rc;
	if (up->state != GROVE__UPLOAD_PACK_NEED_PACK)
		return grove__error_set(GROVE_EINVALID, "upload-pack: no pack to build");
	rc = grove__up_send_pack(up);
	if (rc < 0)
		return rc;
	if (up->o.version == GROVE__PROTOCOL_V2) {
		up->state = GROVE__UPLOAD_PACK_NEED_INPUT;
		if ((rc = grove__pkt_flush(&up->out)) < 0 || (rc = v2_response_done(up)) < 0)
			return rc;
	} else {
		/* The side-band stream ends with a flush. */
		if (grove__up_sideband_on(up) && (rc = grove__pkt_flush(&up->out)) < 0)
			return rc;
		up->state = GROVE__UPLOAD_PACK_DONE;
		up->phase = UP_PH_DONE;
	}
	up->sideband_live = 0;
	return grove__up_flush_out(up);
}
