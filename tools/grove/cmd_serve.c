/*
 * grove serve: the HTTP server, in one of two modes.
 *
 * Main mode (the default): one store (--store, default
 * lmdb:./grove-data/store) served on one port as CalDAV and CardDAV under
 * /dav/ and /.well-known/, and as git smart HTTP: /git/store (the whole
 * DAV branch) for the users named by --git-admin, and /git/users/<name>.git
 * (that user's own calendars and address books) for each user (see
 * net/dav_git.h and net/dav_git_user.h).  Every
 * request needs Basic credentials from --htpasswd (default
 * ./grove-data/htpasswd, managed with `grove user`).
 *
 * Stores mode (--stores DIR): git smart HTTP only, for the stores under
 * DIR at /git/<name>, as before.
 *
 * The protocols live in net/; this file parses options, wires them up,
 * runs the loop and prints the access log.
 */
#include "cli.h"
#include "server_common.h"
#include "serve_sync.h"

#include "../../net/dav_git.h"
#include "../../net/dav_server.h"
#include "../../net/git_http.h"
#include "../../net/git_repos.h"
#include "../../net/http.h"
#include "../../runtime/platform.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define DEFAULT_MAX_REQUEST_MB 512
#define DEFAULT_STORE "lmdb:./grove-data/store"
#define DEFAULT_HTPASSWD "./grove-data/htpasswd"
#define MAX_ADMINS 32

/* "lmdb:./grove-data/store": makes ./grove-data so that a first run can
 * create the store in it. */
static void make_store_parent(const char *location)
{
	const char *colon = strchr(location, ':');
	const char *path = colon ? colon + 1 : location;
	char *dir = strdup(path);
	if (!dir)
		return;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			fprintf(stderr, "grove serve: cannot create %s: %s\n", dir, strerror(errno));
	}
	free(dir);
}

/* The DAV handlers check passwords against the loaded entries; this
 * picks up `grove user` changes within a second (git_http also reloads
 * per request). */
static void reload_htpasswd(void *arg)
{
	grove__htpasswd_reload(arg);
}

/* The server root, for clients that are given just http://host:port/ and
 * discover from there (RFC 6764 section 5: a PROPFIND on the root may be
 * redirected): "/" itself goes to /dav/;
 * anything else no other route takes is 404. */
static void root_handler(grove__http_request *req, grove__http_response *res, void *arg)
{
	(void)arg;
	if (strcmp(grove__http_req_path(req), "/") != 0) {
		grove__http_res_error(res, 404);
		return;
	}
	grove__http_res_header(res, "Location", "/dav/");
	/* 308, not 301: clients (python-requests) drop a PROPFIND's body when
	 * they follow a 301, and the body says which properties they want. */
	grove__http_res_send(res, 308, NULL, NULL, 0);
}

/*
 * glibc raises its mmap threshold to the size of the largest block freed
 * (up to 32 MiB), so once a 100,000-entry collection tree (~8 MiB of
 * entries) has been freed, every later tree lands on the main heap.  Its
 * free chunks then lie across hundreds of MiB, and the small allocations
 * of each request (the XML parser's names, node records) paid a cache
 * miss per chunk unlinked: at 100,000 members a third of a multiget went
 * to malloc, against a tenth at 1,000.  A fixed threshold of 1 MiB keeps
 * big blocks in their own mappings (returned to the system when freed) and
 * the heap small.  This is process-wide and must hold before the first
 * big block is freed, so `grove serve` sets it first thing (a program's
 * choice, not the library's).
 * The price is paid by writes into huge collections: their multi-MiB tree
 * buffers become fresh mappings (page faults), measured at 100,000 members
 * as ~17 -> ~30 ms CPU per PUT; at 10,000 (trees under 1 MiB) no change.
 */
#define SERVE_MMAP_THRESHOLD ((int)1 << 20)

int cmd_serve(cli *c, int argc, char **argv)
{
	enum { O_LISTEN = 0x100, O_STORES, O_HTPASSWD, O_ANON, O_NON_FF, O_MAXCONN, O_WORKERS,
	       O_MAXREQ, O_STORE, O_ADMIN, O_UPSTREAM, O_UPSTREAM_BRANCH, O_PUSH_DELAY,
	       O_FETCH_INTERVAL, O_HOOK_TOKEN_FILE };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "store", required_argument, NULL, O_STORE },
		{ "stores", required_argument, NULL, O_STORES },
		{ "htpasswd", required_argument, NULL, O_HTPASSWD },
		{ "git-admin", required_argument, NULL, O_ADMIN },
		{ "anonymous-read", no_argument, NULL, O_ANON },
		{ "allow-non-ff", no_argument, NULL, O_NON_FF },
		{ "max-connections", required_argument, NULL, O_MAXCONN },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "max-request-mb", required_argument, NULL, O_MAXREQ },
		{ "upstream", required_argument, NULL, O_UPSTREAM },
		{ "upstream-branch", required_argument, NULL, O_UPSTREAM_BRANCH },
		{ "push-delay-ms", required_argument, NULL, O_PUSH_DELAY },
		{ "fetch-interval", required_argument, NULL, O_FETCH_INTERVAL },
		{ "hook-token-file", required_argument, NULL, O_HOOK_TOKEN_FILE },
		{ NULL, 0, NULL, 0 },
	};

	mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
	const cli_command *cmd = cli_find_command("serve");
	const char *stores = NULL, *store = NULL, *htpasswd_path = NULL;
	const char *admins[MAX_ADMINS];
	size_t n_admins = 0;
	char host[256] = "127.0.0.1";
	int port = DEFAULT_PORT, anonymous = 0, non_ff = 0, opt, rc = 0;
	long max_conns = 0, workers = 0, max_req = DEFAULT_MAX_REQUEST_MB;
	serve_sync_config ssc = { 0 };
	const char *hook_token_file = NULL;
	char hook_token[256] = "";

	optind = 1;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		switch (opt) {
		case -2:
			return rc;
		case O_LISTEN:
			if (server_parse_listen(optarg, host, sizeof(host), &port) < 0)
				return cli_usage_error(c, cmd, "serve: bad listen address '%s'", optarg);
			break;
		case O_STORES:
			stores = optarg;
			break;
		case O_STORE:
			store = optarg;
			break;
		case O_HTPASSWD:
			htpasswd_path = optarg;
			break;
		case O_ADMIN:
			if (n_admins == MAX_ADMINS)
				return cli_usage_error(c, cmd, "serve: at most %d --git-admin", MAX_ADMINS);
			admins[n_admins++] = optarg;
			break;
		case O_ANON:
			anonymous = 1;
			break;
		case O_NON_FF:
			non_ff = 1;
			break;
		case O_MAXCONN:
			if (server_parse_int(optarg, 1000000, &max_conns) < 0 || max_conns == 0)
				return cli_usage_error(c, cmd, "serve: bad connection limit '%s'", optarg);
			break;
		case O_WORKERS:
			if (server_parse_int(optarg, 256, &workers) < 0 || workers == 0)
				return cli_usage_error(c, cmd, "serve: bad worker count '%s'", optarg);
			break;
		case O_MAXREQ:
			if (server_parse_int(optarg, 1L << 20, &max_req) < 0 || max_req == 0)
				return cli_usage_error(c, cmd, "serve: bad request size '%s'", optarg);
			break;
		case O_UPSTREAM:
			ssc.upstream = optarg;
			break;
		case O_UPSTREAM_BRANCH:
			ssc.upstream_branch = optarg;
			break;
		case O_PUSH_DELAY:
			if (server_parse_int(optarg, 3600000, &ssc.push_delay_ms) < 0 || ssc.push_delay_ms == 0)
				return cli_usage_error(c, cmd, "serve: bad push delay '%s'", optarg);
			break;
		case O_FETCH_INTERVAL:
			if (server_parse_int(optarg, 86400 * 7, &ssc.fetch_interval_s) < 0)
				return cli_usage_error(c, cmd, "serve: bad fetch interval '%s'", optarg);
			break;
		case O_HOOK_TOKEN_FILE:
			hook_token_file = optarg;
			break;
		default:
			return cli_usage_error(c, cmd, "serve: unexpected option");
		}
	}
	if (optind < argc)
		return cli_usage_error(c, cmd, "serve: unexpected argument '%s'", argv[optind]);
	int main_mode = stores == NULL;
	if (main_mode) {
		if (anonymous)
			return cli_usage_error(c, cmd,
				"serve: --anonymous-read is for --stores (calendars are private)");
		if (!store)
			store = DEFAULT_STORE;
		if (!htpasswd_path)
			htpasswd_path = DEFAULT_HTPASSWD;
		if (access(htpasswd_path, R_OK) < 0)
			return cli_error(c, EXIT_FAIL,
				"cannot read the password file %s: %s\n"
				"hint: create a user with 'grove user --htpasswd %s add NAME'",
				htpasswd_path, strerror(errno), htpasswd_path);
		if (!ssc.upstream && (ssc.upstream_branch || ssc.push_delay_ms || ssc.fetch_interval_s ||
				hook_token_file))
			return cli_usage_error(c, cmd, "serve: the sync options need --upstream URL");
		if (hook_token_file) {
			FILE *tf = fopen(hook_token_file, "r");
			if (!tf || !fgets(hook_token, sizeof(hook_token), tf)) {
				if (tf)
					fclose(tf);
				return cli_error(c, EXIT_FAIL, "cannot read the hook token from %s", hook_token_file);
			}
			fclose(tf);
			hook_token[strcspn(hook_token, "\r\n")] = '\0';
			if (strlen(hook_token) < 16)
				return cli_error(c, EXIT_FAIL, "the hook token in %s is shorter than 16 characters",
					hook_token_file);
			ssc.hook_token = hook_token;
		}
	} else {
		if (ssc.upstream)
			return cli_usage_error(c, cmd, "serve: --upstream is for main mode (--store)");
		if (store || n_admins)
			return cli_usage_error(c, cmd,
				"serve: --store/--git-admin and --stores are different modes");
		if (!htpasswd_path && !anonymous)
			return cli_usage_error(c, cmd,
				"serve: nobody could read or write: give --htpasswd FILE and/or --anonymous-read");
	}

	grove__loop_config lc = { 0 };
	lc.max_conns = (int)max_conns;
	lc.workers = workers ? (int)workers : server_default_workers();
	lc.idle_timeout_ms = 60000;
	lc.handle_signals = 1;
	grove__http_config hc = { 0 };
	hc.max_body = (size_t)max_req << 20;
	hc.log = server_log_line;
	grove__loop *loop = NULL;
	grove__http_server *srv = NULL;
	grove__git_repos *repos = NULL;
	grove__htpasswd *htpasswd = NULL;
	grove__git_http *gh = NULL;
	grove__dav_server *dav = NULL;
	grove__listener *lis = NULL;
	grove *g = NULL;
	grove__dav_git dg = { 0 };
	serve_sync *sync = NULL;
	int err;

	if (main_mode) {
		grove_options go = GROVE_OPTIONS_INIT;
		go.create = 1;
		make_store_parent(store);
		if ((err = grove_open(&g, store, &go)) < 0)
			return cli_fail(c, err);
	} else if ((err = grove__git_repos_new(&repos, stores, 0)) < 0) {
		return cli_fail(c, err);
	}
	if (htpasswd_path && (err = grove__htpasswd_open(&htpasswd, htpasswd_path)) < 0) {
		rc = cli_fail(c, err);
		goto out;
	}
	if ((err = grove__loop_new(&loop, &lc)) < 0 ||
	    (err = grove__http_server_new(&srv, loop, &hc)) < 0) {
		rc = cli_fail(c, err);
		goto out;
	}
	grove__git_http_config gc = { 0 };
	gc.htpasswd = htpasswd;
	gc.allow_non_ff = non_ff;
	if (main_mode) {
		grove__dav_options dopts = { 0 };
		dopts.htpasswd = htpasswd;
		dg.g = g;
		dg.admins = admins;
		dg.admin_count = n_admins;
		gc.open_store = grove__dav_git_open;
		gc.open_arg = &dg;
		gc.check_update = grove__dav_git_check;
		gc.check_arg = &dg;
		grove__timer *reload_timer;
		if ((err = grove__dav_server_register(&dav, srv, g, &dopts)) < 0 ||
		    (err = grove__http_route(srv, GROVE_HTTP_M(HTTP_GET) | GROVE_HTTP_M(HTTP_OPTIONS) |
				GROVE_HTTP_M(HTTP_PROPFIND), "/", root_handler, NULL)) < 0 ||
		    (err = grove__timer_start(&reload_timer, loop, 1000, 1000, reload_htpasswd,
				htpasswd)) < 0) {
			rc = cli_fail(c, err);
			goto out;
		}
		if (ssc.upstream) {
			char *shown = NULL;
			ssc.htpasswd = htpasswd;
			ssc.admins = admins;
			ssc.admin_count = n_admins;
			if ((err = serve_sync_start(&sync, g, store, srv, &ssc)) < 0) {
				rc = cli_fail(c, err);
				goto out;
			}
			if (grove_url_redact(ssc.upstream, &shown) == 0)
				fprintf(stderr, "grove serve: syncing with %s; webhook POST /hooks/sync\n", shown);
			free(shown);
		}
	} else {
		gc.repos = repos;
		gc.anonymous_read = anonymous;
	}
	if ((err = grove__git_http_new(&gh, srv, "/git/", &gc)) < 0 ||
	    (err = grove__http_listen(srv, host[0] ? host : NULL, port, &lis)) < 0) {
		rc = cli_fail(c, err);
		goto out;
	}
	if (main_mode)
		fprintf(stderr,
			"grove serve: listening on %s port %d, store %s: CalDAV/CardDAV under /dav/, "
			"git at /git/" DAV_GIT_USERS_DIR "<user>.git and /git/" DAV_GIT_STORE_NAME
			" (%zu admin%s)\n",
			host[0] ? host : "*", grove__listener_port(lis), store, n_admins,
			n_admins == 1 ? "" : "s");
	else
		fprintf(stderr, "grove serve: listening on %s port %d, git under /git/, stores in %s\n",
			host[0] ? host : "*", grove__listener_port(lis), stores);
	if ((err = grove__loop_run(loop)) < 0)
		rc = cli_fail(c, err);
	else
		fprintf(stderr, "grove serve: stopped\n");
out:
	grove__loop_free(loop);
	grove__http_server_free(srv);
	grove__dav_server_free(dav);
	grove__git_http_free(gh);
	grove__htpasswd_free(htpasswd);
	grove__git_repos_free(repos);
	serve_sync_stop(sync);
	grove__dav_git_dispose(&dg);
	grove_close(g);
	return rc;
}
