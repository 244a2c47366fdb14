/*
 * grove serve --upstream: keeps the served store's branch in step with a
 * git remote (grove_sync) and answers the webhook:
 *
 *   POST /hooks/sync   a fetch now (a forge calls this after a push);
 *                      202 Accepted, the fetch runs on the sync thread
 *   GET  /hooks/sync   the sync state as JSON
 *
 * Both need either the header "X-Grove-Token: TOKEN" with the token given
 * by --hook-token-file, or HTTP Basic credentials of a --git-admin user
 * (the DAV users may not trigger or inspect sync).  401 otherwise.
 */
#include "serve_sync.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct serve_sync {
	grove_sync *sync;
	serve_sync_config cfg;
};

/* Constant-time comparison: the token must not leak through timing. */
static int token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

static int is_admin(const serve_sync_config *cfg, const char *user)
{
	for (size_t i = 0; i < cfg->admin_count; i++)
		if (!strcmp(cfg->admins[i], user))
			return 1;
	return 0;
}

static int authorized(serve_sync *ss, grove__http_request *req)
{
	const char *tok = grove__http_req_header(req, "X-Grove-Token");
	const char *auth = grove__http_req_header(req, "Authorization");
	char *user = NULL, *password = NULL;
	int ok = 0;
	if (tok && ss->cfg.hook_token && *ss->cfg.hook_token)
		return token_equal(tok, ss->cfg.hook_token);
	if (auth && ss->cfg.htpasswd && grove__http_basic_parse(auth, &user, &password) == 0)
		ok = is_admin(&ss->cfg, user) && grove__htpasswd_check(ss->cfg.htpasswd, user, password) == 1;
	grove_error_clear();
	if (ok)
		grove__http_req_set_user(req, user);
	free(user);
	if (password)
		memset(password, 0, strlen(password));
	free(password);
	return ok;
}

static const char *state_name(grove_sync_run_state s)
{
	switch (s) {
	case GROVE_SYNC_IDLE: return "idle";
	case GROVE_SYNC_FETCHING: return "fetching";
	case GROVE_SYNC_PUSHING: return "pushing";
	case GROVE_SYNC_BACKING_OFF: return "backing-off";
	}
	return "?";
}

static void send_state(serve_sync *ss, grove__http_response *res)
{
	grove_sync_state st;
	json_writer w;
	char *buf = NULL, hex[GROVE_OID_HEXSZ + 1];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		grove__http_res_error(res, 500);
		return;
	}
	grove_sync_state_get(ss->sync, &st);
	json_init(&w, f);
	json_object_begin(&w);
	json_kv_string(&w, "state", state_name(st.state));
	json_kv_string(&w, "local", grove_oid_tohex(hex, &st.local));
	json_kv_string(&w, "pushed", grove_oid_tohex(hex, &st.pushed));
	json_kv_uint(&w, "ahead", st.ahead);
	json_kv_uint(&w, "behind", st.behind);
	json_kv_uint(&w, "backlog", st.backlog);
	json_kv_uint(&w, "pushes", st.pushes);
	json_kv_uint(&w, "fetches", st.fetches);
	json_kv_uint(&w, "merges", st.merges);
	json_kv_uint(&w, "rewrites", st.rewrites);
	json_kv_uint(&w, "failures", st.failures);
	json_kv_int(&w, "last_push", st.last_push);
	json_kv_int(&w, "last_fetch", st.last_fetch);
	json_kv_string(&w, "last_error", st.last_error);
	json_kv_string(&w, "last_backup", st.last_backup);
	json_kv_uint(&w, "retry_in_ms", st.retry_in_ms);
	json_object_end(&w);
	fputc('\n', f);
	fclose(f);
	grove__http_res_send(res, 200, "application/json", buf, len);
	free(buf);
}

static void hook_handler(grove__http_request *req, grove__http_response *res, void *arg)
{
	serve_sync *ss = arg;
	static const char accepted[] = "fetch scheduled\n";
	if (strcmp(grove__http_req_path(req), "/hooks/sync") != 0) {
		grove__http_res_error(res, 404);
		return;
	}
	if (!authorized(ss, req)) {
		grove__http_res_header(res, "WWW-Authenticate", "Basic realm=\"grove sync\"");
		grove__http_res_error(res, 401);
		return;
	}
	if (grove__http_req_method(req) == HTTP_POST) {
		grove_sync_fetch_now(ss->sync);
		grove__http_res_send(res, 202, "text/plain", accepted, sizeof(accepted) - 1);
		return;
	}
	send_state(ss, res);
}

int serve_sync_start(serve_sync **out, grove *g, const char *location, grove__http_server *srv,
	const serve_sync_config *cfg)
{
	grove_sync_config sc = GROVE_SYNC_CONFIG_INIT;
	serve_sync *ss;
	int err;
	if (!(ss = calloc(1, sizeof(*ss))))
		return GROVE_ENOMEM;
	ss->cfg = *cfg;
	sc.url = cfg->upstream;
	sc.remote_branch = cfg->upstream_branch;
	sc.push_delay_ms = (unsigned)cfg->push_delay_ms;
	sc.fetch_interval_s = (unsigned)cfg->fetch_interval_s;
	/* A mem: store has no other persistence: serving it without the
	 * upstream's data would hand out an empty store. */
	sc.start_offline = strncmp(location, "mem:", 4) != 0;
	if ((err = grove_merge_register_dav(g)) < 0 || (err = grove_sync_start(&ss->sync, g, &sc)) < 0) {
		free(ss);
		return err;
	}
	if ((err = grove__http_route(srv, GROVE_HTTP_M(HTTP_POST) | GROVE_HTTP_M(HTTP_GET), "/hooks/sync",
		     hook_handler, ss)) < 0) {
		grove_sync_stop(ss->sync, 0);
		free(ss);
		return err;
	}
	*out = ss;
	return 0;
}

void serve_sync_stop(serve_sync *ss)
{
	if (!ss)
		return;
	grove_sync_stop(ss->sync, 10000);
	free(ss);
}
