/* git_daemon.c - the git:// transport (see git_daemon.h). */
#include "git_daemon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/pktline.h"
#include "../git/protocol.h"
#include "../git/receive_pack.h"
#include "../git/upload_pack.h"
#include "error.h"
#include "git_pipe.h"
#include "sbuf.h"

#define REQUEST_TIMEOUT_MS 10000
#define IDLE_TIMEOUT_MS (5 * 60 * 1000)

struct grove__git_daemon {
	grove__loop *loop;
	grove__git_daemon_config cfg;
};

typedef enum { PH_REQUEST, PH_SESSION, PH_OVER } phase;

typedef struct {
	grove__git_daemon *d;
	grove__conn *c;
	phase ph;
	grove__pkt_reader rd;     /* the request line */
	char service[24];
	char path[256];
	grove__protocol_version version;
	grove__git_pipe *pipe;
	grove__upload_pack *up;
	grove__receive *rp;
	grove__sbuf held;         /* input that arrived while a job ran */
	int eof;                  /* the client finished sending */
	int closed;               /* on_close ran: free once no job is left */
	int logged;
	char result[160];         /* "ok" or the error, for the log */
	uint64_t start_ms;
} dconn;

static void dconn_free(dconn *dc)
{
	grove__upload_pack_free(dc->up);
	grove__receive_free(dc->rp);
	grove__git_pipe_free(dc->pipe);
	grove__pkt_reader_dispose(&dc->rd);
	grove__sbuf_dispose(&dc->held);
	free(dc);
}

static void log_once(dconn *dc)
{
	if (dc->logged || !dc->d->cfg.log)
		return;
	dc->logged = 1;
	char line[768];
	uint64_t ms = grove__loop_now_ms(dc->d->loop) - dc->start_ms;
	/* The path is the client's: keep the line printable. */
	char path[sizeof(dc->path)];
	snprintf(path, sizeof(path), "%s", dc->path[0] ? dc->path : "-");
	for (char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == ' ')
			*p = '?';
	snprintf(line, sizeof(line), "%s %s %s v%d %s %llu %" PRIu64 "ms",
		grove__conn_peer(dc->c), dc->service[0] ? dc->service : "-", path, (int)dc->version,
		dc->result[0] ? dc->result : "ok",
		dc->pipe ? grove__git_pipe_bytes(dc->pipe) : 0ULL, ms);
	dc->d->cfg.log(dc->d->cfg.log_arg, line);
}

/* The conversation is over: flush what was written, then close. */
static void finish(dconn *dc)
{
	if (dc->ph == PH_OVER)
		return;
	dc->ph = PH_OVER;
	log_once(dc);
	grove__conn_set_busy(dc->c, 0);
	grove__conn_set_deadline(dc->c, 0);
	grove__conn_close(dc->c);
}

static void note_error(dconn *dc, const char *what)
{
	if (!dc->result[0])
		snprintf(dc->result, sizeof(dc->result), "error: %s", what);
}

/* Refuses the request line with an ERR packet. */
static void refuse(dconn *dc, const char *msg)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	note_error(dc, msg);
	if (grove__pkt_error(&b, "%s", msg) == 0)
		grove__conn_write(dc->c, b.data, b.len);
	grove__sbuf_dispose(&b);
	finish(dc);
}

/* ---- the session --------------------------------------------------------- */

static int sink_write(void *arg, const void *data, size_t len)
{
	dconn *dc = arg;
	return grove__conn_write(dc->c, data, len);
}

static size_t sink_backlog(void *arg)
{
	dconn *dc = arg;
	return grove__conn_queued(dc->c);
}

static int sink_alive(void *arg)
{
	dconn *dc = arg;
	return !dc->closed;
}

static const grove__git_sink conn_sink = { sink_write, sink_backlog, sink_alive };

static void drive(dconn *dc);
static void feed(dconn *dc, const char *data, size_t len);

static void job_pack(void *arg)
{
	dconn *dc = arg;
	if (grove__upload_pack_run_pack(dc->up) < 0)
		note_error(dc, grove_error_message());
}

static void job_receive(void *arg)
{
	dconn *dc = arg;
	if (grove__receive_run(dc->rp) < 0)
		note_error(dc, grove_error_message());
}

static void job_done(void *arg)
{
	dconn *dc = arg;
	if (dc->closed) {
		log_once(dc);
		dconn_free(dc);
		return;
	}
	grove__conn_pause_read(dc->c, 0);
	/* Input kept by the session or held here while the job ran is
	 * parsed now. */
	if (dc->held.len) {
		grove__sbuf held = dc->held;
		dc->held = (grove__sbuf)GROVE_SBUF_INIT;
		feed(dc, held.data, held.len);
		grove__sbuf_dispose(&held);
		return;
	}
	feed(dc, NULL, 0);
}

static void run_job(dconn *dc, grove__loop_fn job)
{
	grove__conn_pause_read(dc->c, 1);
	grove__conn_set_deadline(dc->c, 0);
	if (grove__git_pipe_run(dc->pipe, job, job_done, dc) < 0) {
		note_error(dc, grove_error_message());
		finish(dc);
	}
}

/* Moves the session on until it needs input or a worker, or is over. */
static void drive(dconn *dc)
{
	for (;;) {
		int need_input;
		if (dc->up) {
			grove__upload_pack_state st = grove__upload_pack_state_get(dc->up);
			if (st == GROVE__UPLOAD_PACK_NEED_PACK) {
				run_job(dc, job_pack);
				return;
			}
			need_input = st == GROVE__UPLOAD_PACK_NEED_INPUT;
			if (need_input && dc->eof) {
				if (grove__upload_pack_input_end(dc->up) < 0)
					note_error(dc, grove_error_message());
				continue;
			}
		} else {
			grove__receive_state st = grove__receive_state_get(dc->rp);
			if (st == GROVE__RECEIVE_NEED_WORK || st == GROVE__RECEIVE_NEED_FINISH) {
				run_job(dc, job_receive);
				return;
			}
			need_input = st == GROVE__RECEIVE_NEED_INPUT;
			if (need_input && dc->eof) {
				if (grove__receive_input_end(dc->rp) < 0)
					note_error(dc, grove_error_message());
				continue;
			}
		}
		if (need_input) {
			unsigned idle = dc->d->cfg.idle_timeout_ms ? dc->d->cfg.idle_timeout_ms
				: IDLE_TIMEOUT_MS;
			grove__conn_set_deadline(dc->c, idle);
			return;
		}
		finish(dc);
		return;
	}
}

static void feed(dconn *dc, const char *data, size_t len)
{
	int rc = dc->up ? grove__upload_pack_feed(dc->up, data, len)
			: grove__receive_feed(dc->rp, data, len);
	if (rc < 0)
		note_error(dc, grove_error_message());
	drive(dc);
}

/* ---- the request line ---------------------------------------------------- */

/*
 * "git-upload-pack /name\0host=h\0" [ "\0" "version=2\0" ... ].  Every
 * key=value after the first NUL except host= is an extra parameter; they
 * are joined with ':' the way GIT_PROTOCOL carries them.
 */
static int parse_request(dconn *dc, const char *data, size_t len, char *extra, size_t extra_size)
{
	const char *nul = memchr(data, '\0', len);
	size_t head = nul ? (size_t)(nul - data) : grove__pkt_chomp(data, len);
	const char *sp = memchr(data, ' ', head);
	size_t el = 0;

	if (!sp)
		return grove__error_set(GROVE_EINVALID, "bad request line");
	size_t sl = (size_t)(sp - data), pl = head - sl - 1;
	if (sl >= sizeof(dc->service) || pl == 0 || pl >= sizeof(dc->path))
		return grove__error_set(GROVE_EINVALID, "bad request line");
	memcpy(dc->service, data, sl);
	dc->service[sl] = '\0';
	memcpy(dc->path, sp + 1, pl);
	dc->path[pl] = '\0';
	if (memchr(dc->path, '\0', pl))
		return grove__error_set(GROVE_EINVALID, "bad request line");
	extra[0] = '\0';
	for (size_t i = head + 1; nul && i < len;) {
		const char *item = data + i;
		const char *end = memchr(item, '\0', len - i);
		size_t il = end ? (size_t)(end - item) : len - i;
		if (il && strncmp(item, "host=", 5) != 0 && el + il + 2 < extra_size) {
			if (el)
				extra[el++] = ':';
			memcpy(extra + el, item, il);
			el += il;
			extra[el] = '\0';
		}
		i += il + 1;
	}
	return 0;
}

static void start_session(dconn *dc, const char *data, size_t len)
{
	char extra[512], msg[400];
	grove *g;
	int rc;

	if ((rc = parse_request(dc, data, len, extra, sizeof(extra))) < 0) {
		refuse(dc, grove_error_message());
		return;
	}
	dc->version = grove__protocol_parse(extra);
	int receive = !strcmp(dc->service, GROVE__SERVICE_RECEIVE_PACK);
	if (!receive && strcmp(dc->service, GROVE__SERVICE_UPLOAD_PACK) != 0) {
		snprintf(msg, sizeof(msg), "unknown service '%.64s'", dc->service);
		refuse(dc, msg);
		return;
	}
	if (receive && !dc->d->cfg.enable_receive_pack) {
		refuse(dc, "receive-pack is not enabled on this server");
		return;
	}
	if ((rc = grove__git_repos_open(dc->d->cfg.repos, dc->path, &g)) < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", rc == GROVE_ENOTFOUND ? "repository not found"
			: "cannot open repository", dc->path);
		refuse(dc, msg);
		return;
	}
	if ((rc = grove__git_pipe_new(&dc->pipe, dc->d->loop, &conn_sink, dc)) < 0) {
		refuse(dc, "out of memory");
		return;
	}
	if (receive) {
		grove__receive_opts ro = { 0 };
		ro.allow_non_ff = dc->d->cfg.allow_non_ff;
		dc->version = GROVE__PROTOCOL_V0; /* receive-pack has no v2 */
		rc = grove__receive_new(&dc->rp, g, &ro, grove__git_pipe_write, dc->pipe);
		if (rc == 0)
			rc = grove__receive_advertise(dc->rp);
	} else {
		grove__upload_pack_opts uo = GROVE__UPLOAD_PACK_OPTS_INIT;
		uo.version = dc->version;
		rc = grove__upload_pack_new(&dc->up, g, &uo, grove__git_pipe_write, dc->pipe);
		if (rc == 0)
			rc = grove__upload_pack_start(dc->up);
	}
	if (rc < 0) {
		refuse(dc, grove_error_message());
		return;
	}
	dc->ph = PH_SESSION;
	/* A session in progress is waited for by a graceful shutdown. */
	grove__conn_set_busy(dc->c, 1);
	feed(dc, NULL, 0);
}

/* ---- connection callbacks ------------------------------------------------- */

static void on_open(grove__conn *c, void *arg)
{
	grove__git_daemon *d = arg;
	dconn *dc = grove__calloc(1, sizeof(*dc));
	if (!dc) {
		grove__conn_abort(c);
		return;
	}
	dc->d = d;
	dc->c = c;
	dc->start_ms = grove__loop_now_ms(d->loop);
	grove__pkt_reader_reset(&dc->rd);
	grove__conn_set_data(c, dc);
	grove__conn_set_deadline(c, d->cfg.request_timeout_ms ? d->cfg.request_timeout_ms
		: REQUEST_TIMEOUT_MS);
}

static void on_read(grove__conn *c, const char *data, size_t len)
{
	dconn *dc = grove__conn_data(c);
	if (!dc || dc->ph == PH_OVER)
		return;
	if (dc->ph == PH_SESSION) {
		if (len == 0) {
			dc->eof = 1;
			if (!grove__git_pipe_busy(dc->pipe))
				drive(dc);
			return;
		}
		/* Reading is paused during a job, but never feed the session
		 * while a worker uses it. */
		if (grove__git_pipe_busy(dc->pipe)) {
			if (grove__sbuf_put(&dc->held, data, len) < 0) {
				note_error(dc, "out of memory");
				grove__conn_abort(c);
			}
			return;
		}
		feed(dc, data, len);
		return;
	}
	if (len == 0) {
		note_error(dc, "no request");
		finish(dc);
		return;
	}
	grove__pkt pkt;
	size_t used = 0;
	int rc = grove__pkt_read(&dc->rd, data, len, &used, &pkt);
	if (rc < 0) {
		refuse(dc, "bad pkt-line in request");
		return;
	}
	if (rc == 0)
		return;
	if (pkt.kind != GROVE__PKT_DATA) {
		refuse(dc, "expected a request line");
		return;
	}
	start_session(dc, pkt.data, pkt.len);
	if (dc->ph == PH_SESSION && used < len)
		feed(dc, data + used, len - used);
}

static void on_drain(grove__conn *c)
{
	dconn *dc = grove__conn_data(c);
	if (dc && dc->pipe && grove__git_pipe_busy(dc->pipe))
		grove__git_pipe_pump(dc->pipe);
}

static void on_deadline(grove__conn *c)
{
	dconn *dc = grove__conn_data(c);
	if (dc) {
		note_error(dc, dc->ph == PH_REQUEST ? "no request in time" : "idle timeout");
		log_once(dc);
	}
	grove__conn_abort(c);
}

static void on_close(grove__conn *c)
{
	dconn *dc = grove__conn_data(c);
	if (!dc)
		return;
	dc->closed = 1;
	if (dc->ph != PH_OVER)
		note_error(dc, "connection lost");
	if (dc->pipe && grove__git_pipe_busy(dc->pipe)) {
		/* The worker's writes fail from now; job_done frees. */
		grove__git_pipe_cancel(dc->pipe);
		return;
	}
	log_once(dc);
	dconn_free(dc);
}

static const grove__conn_handler daemon_handler = {
	on_open, on_read, on_drain, on_deadline, on_close
};

int grove__git_daemon_new(grove__git_daemon **out, grove__loop *loop,
	const grove__git_daemon_config *cfg)
{
	if (!cfg->repos)
		return grove__error_set(GROVE_EINVALID, "git daemon needs a store directory");
	grove__git_daemon *d = grove__calloc(1, sizeof(*d));
	if (!d)
		return GROVE_ENOMEM;
	d->loop = loop;
	d->cfg = *cfg;
	*out = d;
	return 0;
}

int grove__git_daemon_listen(grove__git_daemon *d, const char *host, int port,
	grove__listener **out)
{
	return grove__listen(out, d->loop, host, port, &daemon_handler, d);
}

void grove__git_daemon_free(grove__git_daemon *d)
{
	free(d);
}
