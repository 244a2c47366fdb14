/* git_http.c - smart HTTP handlers (see git_http.h). */
#include "git_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/protocol.h"
#include "../git/receive_pack.h"
#include "../git/upload_pack.h"
#include "error.h"
#include "git_pipe.h"
#include "sbuf.h"

struct grove__git_http {
	grove__http_server *srv;
	grove__git_http_config cfg;
	char *prefix;
	size_t prefix_len;
};

typedef enum { EP_INFO_REFS, EP_RPC } endpoint;

/* One request from routing to the end of its response. */
typedef struct {
	grove__git_http *gh;
	grove__http_request *req;
	grove__http_response *res;
	endpoint ep;
	int receive;              /* git-receive-pack, else git-upload-pack */
	char *name;
	grove *g;
	grove__protocol_version version;
	/* the password check on a worker */
	char *user, *password;
	int auth_ok;
	/* the RPC session */
	grove__git_pipe *pipe;
	grove__upload_pack *up;
	grove__receive *rp;
	int input_ended;
	int started;
} exchange;

static void exchange_free(exchange *x)
{
	if (!x)
		return;
	grove__upload_pack_free(x->up);
	grove__receive_free(x->rp);
	grove__git_pipe_free(x->pipe);
	free(x->name);
	free(x->user);
	if (x->password) {
		memset(x->password, 0, strlen(x->password));
		free(x->password);
	}
	free(x);
}

static void no_cache(grove__http_response *res)
{
	grove__http_res_header(res, "Cache-Control", "no-cache, max-age=0, must-revalidate");
	grove__http_res_header(res, "Pragma", "no-cache");
	grove__http_res_header(res, "Expires", "Fri, 01 Jan 1980 00:00:00 GMT");
}

/* Ends the exchange with a short text error. */
static void fail(exchange *x, int status)
{
	grove__http_res_error(x->res, status);
	exchange_free(x);
}

static void fail_auth(exchange *x)
{
	char v[160];
	snprintf(v, sizeof(v), "Basic realm=\"%s\"", x->gh->cfg.realm ? x->gh->cfg.realm : "grove");
	grove__http_res_header(x->res, "WWW-Authenticate", v);
	fail(x, 401);
}

/* Status for a failed store lookup. */
static int open_status(int code)
{
	return code == GROVE_ENOTFOUND ? 404 : code == GROVE_EINVALID ? 400 : 500;
}

/* ---- GET info/refs ------------------------------------------------------ */

static int collect(void *payload, const void *data, size_t len)
{
	return grove__sbuf_put(payload, data, len);
}

static void serve_info_refs(exchange *x)
{
	grove__sbuf body = GROVE_SBUF_INIT;
	int rc = 0;
	int v2 = !x->receive && x->version == GROVE__PROTOCOL_V2;

	/* git http-backend leaves the service header out for v2. */
	if (!v2)
		rc = grove__protocol_service_header(&body,
			x->receive ? GROVE__SERVICE_RECEIVE_PACK : GROVE__SERVICE_UPLOAD_PACK);
	if (rc == 0 && x->receive) {
		grove__receive_opts ro = { 0 };
		ro.allow_non_ff = x->gh->cfg.allow_non_ff;
		if ((rc = grove__receive_new(&x->rp, x->g, &ro, collect, &body)) == 0)
			rc = grove__receive_advertise(x->rp);
	} else if (rc == 0) {
		grove__upload_pack_opts uo = GROVE__UPLOAD_PACK_OPTS_INIT;
		uo.version = x->version;
		uo.stateless = 1;
		uo.advertise_only = 1;
		if ((rc = grove__upload_pack_new(&x->up, x->g, &uo, collect, &body)) == 0)
			rc = grove__upload_pack_start(x->up);
	}
	if (rc < 0) {
		grove__sbuf_dispose(&body);
		fail(x, 500);
		return;
	}
	no_cache(x->res);
	grove__http_res_send(x->res, 200,
		x->receive ? GROVE__CT_RECEIVE_PACK_ADV : GROVE__CT_UPLOAD_PACK_ADV, body.data,
		body.len);
	grove__sbuf_dispose(&body);
	exchange_free(x);
}

/* ---- POST git-upload-pack / git-receive-pack ----------------------------- */

static void start_response(exchange *x)
{
	if (x->started)
		return;
	x->started = 1;
	grove__http_res_header(x->res, "Content-Type",
		x->receive ? GROVE__CT_RECEIVE_PACK_RESULT : GROVE__CT_UPLOAD_PACK_RESULT);
	no_cache(x->res);
	grove__http_res_start(x->res, 200, -1);
}

static int sink_write(void *arg, const void *data, size_t len)
{
	exchange *x = arg;
	start_response(x);
	return grove__http_res_write(x->res, data, len);
}

static size_t sink_backlog(void *arg)
{
	exchange *x = arg;
	return grove__http_res_backlog(x->res);
}

static int sink_alive(void *arg)
{
	exchange *x = arg;
	return grove__http_res_alive(x->res);
}

static const grove__git_sink http_sink = { sink_write, sink_backlog, sink_alive };

static void on_drain(void *arg)
{
	exchange *x = arg;
	if (grove__git_pipe_busy(x->pipe))
		grove__git_pipe_pump(x->pipe);
}

static void rpc_finish(exchange *x)
{
	if (!x->started) {
		/* Nothing to say (e.g. git's "0000" probe before a big POST). */
		x->started = 1;
		grove__http_res_header(x->res, "Content-Type",
			x->receive ? GROVE__CT_RECEIVE_PACK_RESULT : GROVE__CT_UPLOAD_PACK_RESULT);
		no_cache(x->res);
		grove__http_res_start(x->res, 200, 0);
	}
	grove__http_res_end(x->res);
	exchange_free(x);
}

static void rpc_step(exchange *x);

static void job_pack(void *arg)
{
	exchange *x = arg;
	grove__upload_pack_run_pack(x->up);
}

static void job_receive(void *arg)
{
	exchange *x = arg;
	grove__receive_run(x->rp);
}

static void job_done(void *arg)
{
	rpc_step(arg);
}

/* Moves the session on until it needs a worker or is over. */
static void rpc_step(exchange *x)
{
	for (;;) {
		if (!grove__http_res_alive(x->res)) {
			rpc_finish(x);
			return;
		}
		if (x->up) {
			grove__upload_pack_state st = grove__upload_pack_state_get(x->up);
			if (st == GROVE__UPLOAD_PACK_NEED_PACK) {
				if (grove__git_pipe_run(x->pipe, job_pack, job_done, x) < 0)
					break;
				return;
			}
			if (st == GROVE__UPLOAD_PACK_NEED_INPUT && !x->input_ended) {
				x->input_ended = 1;
				grove__upload_pack_input_end(x->up);
				continue;
			}
		} else {
			grove__receive_state st = grove__receive_state_get(x->rp);
			if (st == GROVE__RECEIVE_NEED_WORK || st == GROVE__RECEIVE_NEED_FINISH) {
				if (grove__git_pipe_run(x->pipe, job_receive, job_done, x) < 0)
					break;
				return;
			}
			if (st == GROVE__RECEIVE_NEED_INPUT && !x->input_ended) {
				x->input_ended = 1;
				grove__receive_input_end(x->rp);
				continue;
			}
		}
		break;
	}
	rpc_finish(x);
}

static void serve_rpc(exchange *x)
{
	const char *want_ct = x->receive ? GROVE__CT_RECEIVE_PACK_REQUEST : GROVE__CT_UPLOAD_PACK_REQUEST;
	const char *ct = grove__http_req_header(x->req, "Content-Type");
	size_t len;
	const char *body;
	int rc;

	if (!ct || strcmp(ct, want_ct) != 0) {
		fail(x, 415);
		return;
	}
	if (grove__git_pipe_new(&x->pipe, grove__http_server_loop(x->gh->srv), &http_sink, x) < 0) {
		fail(x, 500);
		return;
	}
	if (x->receive) {
		grove__receive_opts ro = { 0 };
		ro.allow_non_ff = x->gh->cfg.allow_non_ff;
		ro.check_update = x->gh->cfg.check_update;
		ro.check_arg = x->gh->cfg.check_arg;
		rc = grove__receive_new(&x->rp, x->g, &ro, grove__git_pipe_write, x->pipe);
	} else {
		grove__upload_pack_opts uo = GROVE__UPLOAD_PACK_OPTS_INIT;
		uo.version = x->version;
		uo.stateless = 1;
		/* A stateless POST carries no advertisement: no _start. */
		rc = grove__upload_pack_new(&x->up, x->g, &uo, grove__git_pipe_write, x->pipe);
	}
	if (rc < 0) {
		fail(x, 500);
		return;
	}
	grove__http_res_on_drain(x->res, on_drain, x);
	body = grove__http_req_body(x->req, &len);
	/* A protocol error was sent to the client as ERR; the state is DONE
	 * and rpc_step ends the response. */
	if (x->up)
		grove__upload_pack_feed(x->up, body, len);
	else
		grove__receive_feed(x->rp, body, len);
	rpc_step(x);
}

/* ---- routing and access ---------------------------------------------------- */

static void serve(exchange *x)
{
	int rc;
	if (x->gh->cfg.open_store) {
		const char *user = x->auth_ok ? x->user : NULL;
		rc = x->gh->cfg.open_store(x->gh->cfg.open_arg, x->name, user, x->receive, &x->g);
		if (rc != 0) {
			fail(x, rc > 0 ? rc : 500);
			return;
		}
	} else if ((rc = grove__git_repos_open(x->gh->cfg.repos, x->name, &x->g)) < 0) {
		fail(x, open_status(rc));
		return;
	}
	if (x->ep == EP_INFO_REFS)
		serve_info_refs(x);
	else
		serve_rpc(x);
}

static void auth_work(void *arg)
{
	exchange *x = arg;
	x->auth_ok = grove__htpasswd_check(x->gh->cfg.htpasswd, x->user, x->password) == 1;
}

static void auth_done(void *arg)
{
	exchange *x = arg;
	if (!x->auth_ok) {
		fail_auth(x);
		return;
	}
	if (grove__http_req_set_user(x->req, x->user) < 0) {
		fail(x, 500);
		return;
	}
	serve(x);
}

/* Splits "<name>/info/refs", "<name>/git-upload-pack"... */
static int parse_target(exchange *x, const char *rest)
{
	static const struct {
		const char *suffix;
		endpoint ep;
		int receive; /* -1: from ?service= */
	} eps[] = {
		{ "/info/refs", EP_INFO_REFS, -1 },
		{ "/git-upload-pack", EP_RPC, 0 },
		{ "/git-receive-pack", EP_RPC, 1 },
	};
	size_t n = strlen(rest);
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		size_t sl = strlen(eps[i].suffix);
		if (n <= sl || strcmp(rest + n - sl, eps[i].suffix) != 0)
			continue;
		if (grove__git_repos_name_check(rest, n - sl) < 0)
			return 400;
		x->name = grove__strndup(rest, n - sl);
		if (!x->name)
			return 500;
		x->ep = eps[i].ep;
		x->receive = eps[i].receive;
		return 0;
	}
	return 404;
}

/* The service= parameter of info/refs; 403 for the dumb protocol. */
static int parse_service(exchange *x)
{
	const char *q = grove__http_req_query(x->req);
	while (q && *q) {
		size_t len = strcspn(q, "&");
		if (len > 8 && !strncmp(q, "service=", 8)) {
			const char *v = q + 8;
			size_t vl = len - 8;
			if (vl == strlen(GROVE__SERVICE_UPLOAD_PACK) &&
			    !strncmp(v, GROVE__SERVICE_UPLOAD_PACK, vl)) {
				x->receive = 0;
				return 0;
			}
			if (vl == strlen(GROVE__SERVICE_RECEIVE_PACK) &&
			    !strncmp(v, GROVE__SERVICE_RECEIVE_PACK, vl)) {
				x->receive = 1;
				return 0;
			}
			return 403;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 403; /* no dumb HTTP */
}

static void handle(grove__http_request *req, grove__http_response *res, void *arg)
{
	grove__git_http *gh = arg;
	const char *path = grove__http_req_path(req);
	int method = grove__http_req_method(req);
	int status;
	exchange *x = grove__calloc(1, sizeof(*x));
	if (!x) {
		grove__http_res_error(res, 500);
		return;
	}
	x->gh = gh;
	x->req = req;
	x->res = res;
	if ((status = parse_target(x, path + gh->prefix_len)) != 0) {
		fail(x, status);
		return;
	}
	if (x->ep == EP_INFO_REFS) {
		if (method != HTTP_GET && method != HTTP_HEAD) {
			grove__http_res_header(res, "Allow", "GET, HEAD");
			fail(x, 405);
			return;
		}
		if ((status = parse_service(x)) != 0) {
			fail(x, status);
			return;
		}
	} else if (method != HTTP_POST) {
		grove__http_res_header(res, "Allow", "POST");
		fail(x, 405);
		return;
	}
	x->version = grove__protocol_parse(grove__http_req_header(req, "Git-Protocol"));

	int need_auth = x->receive || !gh->cfg.anonymous_read;
	if (!need_auth) {
		serve(x);
		return;
	}
	if (!gh->cfg.htpasswd) {
		/* No password file: nobody can be let in. */
		fail(x, 403);
		return;
	}
	const char *authz = grove__http_req_header(req, "Authorization");
	if (!authz || grove__http_basic_parse(authz, &x->user, &x->password) < 0) {
		fail_auth(x);
		return;
	}
	grove__htpasswd_reload(gh->cfg.htpasswd);
	/* bcrypt takes a while by design: check on a worker. */
	if (grove__loop_submit(grove__http_server_loop(gh->srv), auth_work, auth_done, x) < 0)
		fail(x, 503);
}

int grove__git_http_new(grove__git_http **out, grove__http_server *srv, const char *prefix,
	const grove__git_http_config *cfg)
{
	size_t pl = strlen(prefix);
	int rc;
	if (!pl || prefix[0] != '/' || prefix[pl - 1] != '/')
		return grove__error_set(GROVE_EINVALID, "git http prefix must start and end with '/'");
	if (!cfg->repos && !cfg->open_store)
		return grove__error_set(GROVE_EINVALID, "git http needs a store directory");
	grove__git_http *gh = grove__calloc(1, sizeof(*gh));
	if (!gh)
		return GROVE_ENOMEM;
	gh->srv = srv;
	gh->cfg = *cfg;
	gh->prefix = grove__strdup(prefix);
	gh->prefix_len = pl;
	if (!gh->prefix) {
		free(gh);
		return GROVE_ENOMEM;
	}
	rc = grove__http_route(srv, GROVE_HTTP_M(HTTP_GET) | GROVE_HTTP_M(HTTP_POST), prefix, handle,
		gh);
	if (rc < 0) {
		grove__git_http_free(gh);
		return rc;
	}
	*out = gh;
	return 0;
}

void grove__git_http_free(grove__git_http *gh)
{
	if (!gh)
		return;
	free(gh->prefix);
	free(gh);
}
