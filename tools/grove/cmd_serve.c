/*
 * grove serve: the HTTP server.  Serves the stores under --stores with git's
 * smart HTTP protocol under /git/<name> (clone, fetch and, with Basic auth
 * against --htpasswd, push).  The protocol lives in net/git_http.c; this
 * file parses options, runs the loop and prints the access log.
 */
#include "cli.h"
#include "server_common.h"

#include "../../net/git_http.h"
#include "../../net/git_repos.h"
#include "../../net/http.h"
#include "../../runtime/platform.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_PORT 8080
#define DEFAULT_MAX_REQUEST_MB 512

int cmd_serve(cli *c, int argc, char **argv)
{
	enum { O_LISTEN = 0x100, O_STORES, O_HTPASSWD, O_ANON, O_NON_FF, O_MAXCONN, O_WORKERS,
	       O_MAXREQ };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "stores", required_argument, NULL, O_STORES },
		{ "htpasswd", required_argument, NULL, O_HTPASSWD },
		{ "anonymous-read", no_argument, NULL, O_ANON },
		{ "allow-non-ff", no_argument, NULL, O_NON_FF },
		{ "max-connections", required_argument, NULL, O_MAXCONN },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "max-request-mb", required_argument, NULL, O_MAXREQ },
		{ NULL, 0, NULL, 0 },
	};
	const cli_command *cmd = cli_find_command("serve");
	const char *stores = ".", *htpasswd_path = NULL;
	char host[256] = "127.0.0.1";
	int port = DEFAULT_PORT, anonymous = 0, non_ff = 0, opt, rc = 0;
	long max_conns = 0, workers = 0, max_req = DEFAULT_MAX_REQUEST_MB;

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
		case O_HTPASSWD:
			htpasswd_path = optarg;
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
		default:
			return cli_usage_error(c, cmd, "serve: unexpected option");
		}
	}
	if (optind < argc)
		return cli_usage_error(c, cmd, "serve: unexpected argument '%s'", argv[optind]);
	if (!htpasswd_path && !anonymous)
		return cli_usage_error(c, cmd,
			"serve: nobody could read or write: give --htpasswd FILE and/or --anonymous-read");

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
	grove__listener *lis = NULL;
	int err;

	if ((err = grove__git_repos_new(&repos, stores, 0)) < 0)
		return cli_fail(c, err);
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
	gc.repos = repos;
	gc.htpasswd = htpasswd;
	gc.anonymous_read = anonymous;
	gc.allow_non_ff = non_ff;
	if ((err = grove__git_http_new(&gh, srv, "/git/", &gc)) < 0 ||
	    (err = grove__http_listen(srv, host[0] ? host : NULL, port, &lis)) < 0) {
		rc = cli_fail(c, err);
		goto out;
	}
	fprintf(stderr, "grove serve: listening on %s port %d, git under /git/, stores in %s\n",
		host[0] ? host : "*", grove__listener_port(lis), stores);
	if ((err = grove__loop_run(loop)) < 0)
		rc = cli_fail(c, err);
	else
		fprintf(stderr, "grove serve: stopped\n");
out:
	grove__loop_free(loop);
	grove__http_server_free(srv);
	grove__git_http_free(gh);
	grove__htpasswd_free(htpasswd);
	grove__git_repos_free(repos);
	return rc;
}
