/*
 * receive-pack sessions: the advertisement, the command list, push options
 * and the pack as bytes arrive, and the report.  The checks and the store
 * writes live in receive_pack_check.c; finding the pack's end in
 * receive_pack_stream.c.
 */
#include "receive_pack_internal.h"

#include "error.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_PACK_SIZE ((size_t)2 << 30)
#define DEFAULT_MAX_OBJECTS ((size_t)10000000)
#define DEFAULT_MAX_OBJECT_SIZE ((size_t)512 << 20)
#define DEFAULT_MAX_DELTA_DEPTH 4095u
#define DEFAULT_MAX_COMMANDS ((size_t)100000)
/* Push options are accepted and ignored; a bound keeps them cheap. */
#define MAX_PUSH_OPTIONS 1000
/* Longest reason we put on a report line. */
#define MAX_REASON 400

static const char capabilities[] =
	"report-status report-status-v2 delete-refs side-band-64k quiet atomic ofs-delta "
	"push-options object-format=sha1 agent=grove/" GROVE_VERSION_STRING;

/* ------------------------------------------------------------------ */

int grove__receive_new(grove__receive **out, grove *g, const grove__receive_opts *opts,
	grove__receive_write_fn write, void *write_payload)
{
	grove__receive *rp;
	if (!g || !write)
		return grove__error_set(GROVE_EINVALID, "receive-pack: store and write callback needed");
	rp = grove__calloc(1, sizeof(*rp));
	if (!rp)
		return GROVE_ENOMEM;
	if (opts)
		rp->o = *opts;
	if (!rp->o.max_pack_size)
		rp->o.max_pack_size = DEFAULT_MAX_PACK_SIZE;
	if (!rp->o.max_objects)
		rp->o.max_objects = DEFAULT_MAX_OBJECTS;
	if (!rp->o.max_object_size)
		rp->o.max_object_size = DEFAULT_MAX_OBJECT_SIZE;
	if (!rp->o.max_delta_depth)
		rp->o.max_delta_depth = DEFAULT_MAX_DELTA_DEPTH;
	if (!rp->o.max_commands)
		rp->o.max_commands = DEFAULT_MAX_COMMANDS;
	rp->g = g;
	rp->write = write;
	rp->write_payload = write_payload;
	rp->state = GROVE__RP_COMMANDS;
	grove__pkt_reader_reset(&rp->pkt);
	grove__pack_scan_init(&rp->scan, rp->o.max_pack_size, rp->o.max_objects,
		rp->o.max_object_size);
	grove__rp_quarantine_init(&rp->q, g);
	*out = rp;
	return 0;
}

void grove__receive_free(grove__receive *rp)
{
	if (!rp)
		return;
	for (size_t i = 0; i < rp->ncmds; i++) {
		free(rp->cmds[i].refname);
		free(rp->cmds[i].err_owned);
	}
	free(rp->cmds);
	grove__pkt_reader_dispose(&rp->pkt);
	grove__pack_scan_dispose(&rp->scan);
	grove__rp_quarantine_dispose(&rp->q);
	grove__sbuf_dispose(&rp->pack);
	free(rp->unpack_error);
	free(rp);
}

grove__receive_state grove__receive_state_get(const grove__receive *rp)
{
	switch (rp->state) {
	case GROVE__RP_WORK:
		return GROVE__RECEIVE_NEED_WORK;
	case GROVE__RP_FINISH:
		return GROVE__RECEIVE_NEED_FINISH;
	case GROVE__RP_DONE:
		return GROVE__RECEIVE_DONE;
	default:
		return GROVE__RECEIVE_NEED_INPUT;
	}
}

void grove__receive_summary_get(const grove__receive *rp, grove__receive_summary *out)
{
	out->updated = rp->updated;
	out->refused = rp->refused;
	out->objects = rp->pack_objects;
	out->unpack_ok = rp->unpack_error == NULL;
}

/* ------------------------------------------------------------------ */
/* Output                                                               */

static int emit(grove__receive *rp, const grove__sbuf *b)
{
	int rc;
	if (!b->len)
		return 0;
	rc = rp->write(rp->write_payload, b->data, b->len);
	if (rc != 0)
		return rc < 0 ? rc : grove__error_set(GROVE_EIO, "receive-pack: output failed");
	return 0;
}

/* One line of text fit for a report or ERR packet. */
static void one_line(char *s)
{
	size_t n = 0;
	for (char *p = s; *p; p++, n++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
		if (n == MAX_REASON) {
			*p = '\0';
			break;
		}
	}
}

char *grove__rp_error_text(const char *prefix)
{
	const char *msg = grove_error_message();
	grove__sbuf b = GROVE_SBUF_INIT;
	char *s;
	if (!msg || !*msg)
		msg = "failed";
	if (grove__sbuf_printf(&b, "%s%s", prefix ? prefix : "", msg) < 0)
		return NULL;
	s = grove__sbuf_detach(&b, NULL);
	if (s)
		one_line(s);
	return s;
}

int grove__rp_refuse(grove__rp_command *cmd, const char *reason)
{
	char *copy;
	if (cmd->error)
		return 0; /* the first reason stands */
	copy = grove__strdup(reason);
	if (!copy) {
		cmd->error = "out of memory";
		return GROVE_ENOMEM;
	}
	one_line(copy);
	free(cmd->err_owned);
	cmd->err_owned = copy;
	cmd->error = copy;
	return 0;
}

/*
 * A protocol error: tell the client (an ERR packet, or band 3 once it asked
 * for side-band) and stop.  Returns code, with the message recorded.
 */
static int protocol_error(grove__receive *rp, int code, const char *fmt, const char *arg)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	one_line(msg);
	grove__error_set(code, "receive-pack: %s", msg);
	rp->state = GROVE__RP_DONE;
	if (rp->caps & GROVE__RP_CAP_SIDE_BAND_64K) {
		grove__sbuf t = GROVE_SBUF_INIT;
		if (grove__sbuf_printf(&t, "error: %s\n", msg) == 0 &&
		    grove__pkt_sideband(&b, 3, t.data, t.len, GROVE__SIDEBAND64K_DATA_MAX) == 0)
			grove__pkt_flush(&b);
		grove__sbuf_dispose(&t);
	} else {
		grove__pkt_error(&b, "%s", msg);
	}
	emit(rp, &b);
	grove__sbuf_dispose(&b);
	/* emit may have replaced the message; the protocol error is the story. */
	return grove__error_set(code, "receive-pack: %s", msg);
}

/* ------------------------------------------------------------------ */
/* Advertisement                                                        */

typedef struct {
	grove__sbuf *b;
	int first;
} adv_ctx;

static int advertise_ref(const char *refname, const grove_oid *id, void *payload)
{
	adv_ctx *a = payload;
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid_tohex(hex, id);
	if (a->first) {
		a->first = 0;
		return grove__pkt_printf(a->b, "%s %s%c%s\n", hex, refname, '\0', capabilities);
	}
	return grove__pkt_printf(a->b, "%s %s\n", hex, refname);
}

int grove__receive_advertise(grove__receive *rp)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	adv_ctx a = { &b, 1 };
	int rc = rp->o.protocol_v1 ? grove__pkt_puts(&b, "version 1\n") : 0;
	if (rc == 0)
		rc = grove_ref_foreach(rp->g, "refs/", advertise_ref, &a);
	if (rc == 0 && a.first)
		rc = grove__pkt_printf(&b, "%040d capabilities^{}%c%s\n", 0, '\0', capabilities);
	if (rc == 0)
		rc = grove__pkt_flush(&b);
	if (rc == 0)
		rc = emit(rp, &b);
	grove__sbuf_dispose(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */

static int parse_capabilities(grove__receive *rp, const char *s, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
		{ "report-status", GROVE__RP_CAP_REPORT_STATUS },
		{ "report-status-v2", GROVE__RP_CAP_REPORT_STATUS_V2 },
		{ "delete-refs", GROVE__RP_CAP_DELETE_REFS },
		{ "quiet", GROVE__RP_CAP_QUIET },
		{ "atomic", GROVE__RP_CAP_ATOMIC },
		{ "ofs-delta", GROVE__RP_CAP_OFS_DELTA },
		{ "side-band-64k", GROVE__RP_CAP_SIDE_BAND_64K },
		{ "push-options", GROVE__RP_CAP_PUSH_OPTIONS },
	};
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos, n;
		char word[256];
		int found = 0;
		while (end < len && s[end] != ' ')
			end++;
		n = end - pos;
		if (n) {
			if (n >= sizeof(word))
				n = sizeof(word) - 1;
			memcpy(word, s + pos, n);
			word[n] = '\0';
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (!strcmp(word, known[i].name)) {
					rp->caps |= known[i].bit;
					found = 1;
				}
			if (!found && (!strncmp(word, "agent=", 6) || !strncmp(word, "session-id=", 11)))
				found = 1;
			if (!found && !strncmp(word, "object-format=", 14)) {
				if (strcmp(word + 14, "sha1") != 0)
					return protocol_error(rp, GROVE_EUNSUPPORTED,
						"unsupported object-format '%s'", word + 14);
				found = 1;
			}
			if (!found)
				return protocol_error(rp, GROVE_EINVALID, "unknown capability '%s'", word);
		}
		pos = end + 1;
	}
	return 0;
}

static int add_command(grove__receive *rp, const char *line, size_t len)
{
	const char *nul = memchr(line, '\0', len);
	size_t cmd_len = nul ? (size_t)(nul - line) : len;
	grove__rp_command *c;
	char shown[100];
	int rc;

	if (rp->ncmds >= rp->o.max_commands) {
		char lim[32];
		snprintf(lim, sizeof(lim), "%zu", rp->o.max_commands);
		return protocol_error(rp, GROVE_EINVALID,
			"too many ref updates in one push (the limit is %s)", lim);
	}
	snprintf(shown, sizeof(shown), "%.*s", (int)(cmd_len < 90 ? cmd_len : 90), line);
	if (cmd_len < 2 * GROVE_OID_HEXSZ + 3 || line[GROVE_OID_HEXSZ] != ' ' ||
	    line[2 * GROVE_OID_HEXSZ + 1] != ' ')
		return protocol_error(rp, GROVE_EINVALID, "malformed command '%s'", shown);
	if (rp->ncmds == 0 && nul && (rc = parse_capabilities(rp, nul + 1, len - cmd_len - 1)) < 0)
		return rc;
	if (rp->ncmds == rp->cmds_cap) {
		size_t cap = rp->cmds_cap ? rp->cmds_cap * 2 : 16;
		grove__rp_command *n = grove__realloc(rp->cmds, cap * sizeof(*n));
		if (!n)
			return protocol_error(rp, GROVE_ENOMEM, "out of memory%s", NULL);
		rp->cmds = n;
		rp->cmds_cap = cap;
	}
	c = &rp->cmds[rp->ncmds];
	memset(c, 0, sizeof(*c));
	if (grove_oid_fromhex(&c->old_id, line) < 0 ||
	    grove_oid_fromhex(&c->new_id, line + GROVE_OID_HEXSZ + 1) < 0)
		return protocol_error(rp, GROVE_EINVALID, "malformed object id in '%s'", shown);
	c->refname = grove__strndup(line + 2 * GROVE_OID_HEXSZ + 2,
		cmd_len - 2 * GROVE_OID_HEXSZ - 2);
	if (!c->refname)
		return protocol_error(rp, GROVE_ENOMEM, "out of memory%s", NULL);
	if (strlen(c->refname) != cmd_len - 2 * GROVE_OID_HEXSZ - 2) {
		free(c->refname);
		return protocol_error(rp, GROVE_EINVALID, "malformed command '%s'", shown);
	}
	rp->ncmds++;
	if (!grove_oid_is_zero(&c->new_id))
		rp->want_pack = 1;
	return 0;
}

/* After the command list (and push options): the pack, or straight to work. */
static void commands_done(grove__receive *rp)
{
	rp->state = rp->want_pack ? GROVE__RP_PACK : GROVE__RP_WORK;
}

static int on_packet(grove__receive *rp, const grove__pkt *p)
{
	size_t len;
	if (p->kind == GROVE__PKT_DELIM || p->kind == GROVE__PKT_RESPONSE_END)
		return protocol_error(rp, GROVE_EINVALID, "unexpected %s packet",
			p->kind == GROVE__PKT_DELIM ? "delim" : "response-end");
	if (rp->state == GROVE__RP_PUSH_OPTIONS) {
		if (p->kind == GROVE__PKT_FLUSH) {
			commands_done(rp);
			return 0;
		}
		if (++rp->push_options > MAX_PUSH_OPTIONS)
			return protocol_error(rp, GROVE_EINVALID, "too many push options%s", NULL);
		return 0;
	}
	if (p->kind == GROVE__PKT_FLUSH) {
		if (rp->ncmds == 0) {
			/* Nothing to update: git ends the session silently. */
			rp->state = GROVE__RP_DONE;
			return 0;
		}
		if (rp->caps & GROVE__RP_CAP_PUSH_OPTIONS)
			rp->state = GROVE__RP_PUSH_OPTIONS;
		else
			commands_done(rp);
		return 0;
	}
	len = grove__pkt_chomp(p->data, p->len);
	if (len >= 8 && (!memcmp(p->data, "shallow ", 8) || !memcmp(p->data, "push-cert", 9)))
		return protocol_error(rp, GROVE_EUNSUPPORTED, "%s is not supported",
			p->data[0] == 's' ? "pushing from a shallow repository" : "push-cert");
	return add_command(rp, p->data, len);
}

static int feed_pack(grove__receive *rp, const unsigned char *data, size_t len)
{
	size_t used = 0;
	int rc = grove__pack_scan_feed(&rp->scan, data, len, &used);
	if (rc >= 0 && used && grove__sbuf_put(&rp->pack, data, used) < 0)
		rc = GROVE_ENOMEM;
	if (rc < 0) {
		/* A pack we cannot take: report it now, as git does for a failed
		 * index-pack, and ignore whatever else arrives. */
		rp->unpack_error = grove__rp_error_text(NULL);
		grove__sbuf_dispose(&rp->pack);
		rp->state = GROVE__RP_FINISH;
		grove__receive_finish(rp);
		return rc;
	}
	if (rc == 1)
		rp->state = GROVE__RP_WORK;
	/* Bytes after the pack are not part of the protocol: ignored. */
	return 0;
}

int grove__receive_feed(grove__receive *rp, const void *data, size_t len)
{
	const unsigned char *p = data;
	int rc;

	while (len && (rp->state == GROVE__RP_COMMANDS || rp->state == GROVE__RP_PUSH_OPTIONS)) {
		grove__pkt pkt;
		size_t consumed = 0;
		rc = grove__pkt_read(&rp->pkt, p, len, &consumed, &pkt);
		if (rc < 0)
			return protocol_error(rp, rc, "bad pkt-line: %s", grove_error_message());
		p += consumed;
		len -= consumed;
		if (rc == 0)
			break;
		if ((rc = on_packet(rp, &pkt)) < 0)
			return rc;
	}
	if (len && rp->state == GROVE__RP_PACK)
		return feed_pack(rp, p, len);
	return 0;
}

int grove__receive_input_end(grove__receive *rp)
{
	char got[32];
	switch (rp->state) {
	case GROVE__RP_COMMANDS:
		if (rp->ncmds == 0 && !grove__pkt_reader_pending(&rp->pkt)) {
			rp->state = GROVE__RP_DONE; /* the client only looked */
			return 0;
		}
		/* fallthrough */
	case GROVE__RP_PUSH_OPTIONS:
		return protocol_error(rp, GROVE_EINVALID, "input ended inside the %s",
			grove__pkt_reader_pending(&rp->pkt) ? "pkt-line" :
			rp->state == GROVE__RP_COMMANDS ? "command list" : "push options");
	case GROVE__RP_PACK:
		snprintf(got, sizeof(got), "%zu", rp->scan.total);
		grove__error_set(GROVE_ECORRUPT, "pack truncated: input ended after %s bytes", got);
		rp->unpack_error = grove__rp_error_text(NULL);
		grove__sbuf_dispose(&rp->pack);
		rp->state = GROVE__RP_FINISH;
		grove__receive_finish(rp);
		return grove__error_set(GROVE_ECORRUPT, "receive-pack: pack truncated after %s bytes", got);
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Work, apply, report                                                  */

int grove__receive_work(grove__receive *rp)
{
	int rc = 0;
	if (rp->state != GROVE__RP_WORK)
		return grove__error_set(GROVE_EINVALID, "receive-pack: no work to do in this state");
	if (rp->want_pack)
		rc = grove__rp_index_pack(rp);
	if (rc == 0 && !rp->unpack_error)
		rc = grove__rp_check_commands(rp);
	rp->state = GROVE__RP_FINISH;
	return rc;
}

static int write_report(grove__receive *rp)
{
	grove__sbuf rep = GROVE_SBUF_INIT, out = GROVE_SBUF_INIT;
	int rc = 0;

	if (!(rp->caps & (GROVE__RP_CAP_REPORT_STATUS | GROVE__RP_CAP_REPORT_STATUS_V2)))
		return 0;
	if (rp->unpack_error)
		rc = grove__pkt_printf(&rep, "unpack %s\n", rp->unpack_error);
	else
		rc = grove__pkt_puts(&rep, "unpack ok\n");
	for (size_t i = 0; rc == 0 && i < rp->ncmds; i++) {
		const grove__rp_command *c = &rp->cmds[i];
		if (c->error)
			rc = grove__pkt_printf(&rep, "ng %s %s\n", c->refname, c->error);
		else
			rc = grove__pkt_printf(&rep, "ok %s\n", c->refname);
	}
	if (rc == 0)
		rc = grove__pkt_flush(&rep);
	if (rc == 0 && (rp->caps & GROVE__RP_CAP_SIDE_BAND_64K)) {
		/* The reason a pack was refused also goes to the user's terminal
		 * ("remote: error: ..."), as git's receive-pack does. */
		if (rp->unpack_error && !(rp->caps & GROVE__RP_CAP_QUIET)) {
			grove__sbuf msg = GROVE_SBUF_INIT;
			rc = grove__sbuf_printf(&msg, "error: %s\n", rp->unpack_error);
			if (rc == 0)
				rc = grove__pkt_sideband(&out, 2, msg.data, msg.len,
					GROVE__SIDEBAND64K_DATA_MAX);
			grove__sbuf_dispose(&msg);
		}
		if (rc == 0)
			rc = grove__pkt_sideband(&out, 1, rep.data, rep.len, GROVE__SIDEBAND64K_DATA_MAX);
		if (rc == 0)
			rc = grove__pkt_flush(&out);
		if (rc == 0)
			rc = emit(rp, &out);
	} else if (rc == 0) {
		rc = emit(rp, &rep);
	}
	grove__sbuf_dispose(&rep);
	grove__sbuf_dispose(&out);
	return rc;
}

int grove__receive_finish(grove__receive *rp)
{
	int rc = 0;
	if (rp->state != GROVE__RP_FINISH)
		return grove__error_set(GROVE_EINVALID, "receive-pack: nothing to finish in this state");
	if (rp->unpack_error) {
		for (size_t i = 0; i < rp->ncmds; i++)
			if (grove__rp_refuse(&rp->cmds[i], "unpacker error") < 0)
				rc = GROVE_ENOMEM;
	} else {
		rc = grove__rp_apply(rp);
	}
	rp->updated = rp->refused = 0;
	for (size_t i = 0; i < rp->ncmds; i++) {
		if (rp->cmds[i].error)
			rp->refused++;
		else
			rp->updated++;
	}
	rp->state = GROVE__RP_DONE;
	{
		int wrc = write_report(rp);
		if (rc == 0)
			rc = wrc;
	}
	/* The pack and the quarantine are not needed any more. */
	grove__rp_quarantine_dispose(&rp->q);
	grove__sbuf_dispose(&rp->pack);
	return rc;
}

int grove__receive_run(grove__receive *rp)
{
	int rc = 0;
	if (rp->state == GROVE__RP_WORK)
		rc = grove__receive_work(rp);
	if (rp->state == GROVE__RP_FINISH) {
		int frc = grove__receive_finish(rp);
		if (rc == 0)
			rc = frc;
	}
	return rc;
}
