/*
 * grove daemon: serves the stores under a directory over git:// (the
 * protocol of `git daemon`): clone and fetch, and push with
 * --enable-receive-pack.  The protocol lives in net/git_daemon.c; this
 * file parses options, runs the loop and prints the access log.
 */
#include "cli.h"
#include "server_common.h"

#include "../../net/git_daemon.h"
#include "../../net/git_repos.h"
#include "../../runtime/platform.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cmd_daemon(cli *c, int argc, char **argv)
{
	enum { O_LISTEN = 0x100, O_PORT, O_BASE, O_RECEIVE, O_NON_FF, O_MAXCONN, O_WORKERS };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "port", required_argument, NULL, O_PORT },
		{ "base-path", required_argument, NULL, O_BASE },
		{ "enable-receive-pack", no_argument, NULL, O_RECEIVE },
		{ "allow-non-ff", no_argument, NULL, O_NON_FF },
		{ "max-connections", required_argument, NULL, O_MAXCONN },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ NULL, 0, NULL, 0 },
	};
	const cli_command *cmd = cli_find_command("daemon");
	const char *listen_host = NULL, *base = ".";
	long port = 9418, max_conns = 0, workers = 0;
	int receive = 0, non_ff = 0, opt, rc = 0;

	optind = 1;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		switch (opt) {
		case -2:
			return rc;
		case O_LISTEN:
			listen_host = optarg;
			break;
		case O_PORT:
			if (server_parse_int(optarg, 65535, &port) < 0)
				return cli_usage_error(c, cmd, "daemon: bad port '%s'", optarg);
			break;
		case O_BASE:
			base = optarg;
			break;
		case O_RECEIVE:
			receive = 1;
			break;
		case O_NON_FF:
			non_ff = 1;
			break;
		case O_MAXCONN:
			if (server_parse_int(optarg, 1000000, &max_conns) < 0 || max_conns == 0)
				return cli_usage_error(c, cmd, "daemon: bad connection limit '%s'", optarg);
			break;
		case O_WORKERS:
			if (server_parse_int(optarg, 256, &workers) < 0 || workers == 0)
				return cli_usage_error(c, cmd, "daemon: bad worker count '%s'", optarg);
			break;
		default:
			return cli_usage_error(c, cmd, "daemon: unexpected option");
		}
	}
	if (optind < argc)
		return cli_usage_error(c, cmd, "daemon: unexpected argument '%s'", argv[optind]);

	grove__loop_config lc = { 0 };
	lc.max_conns = (int)max_conns;
	lc.workers = workers ? (int)workers : server_default_workers();
	lc.handle_signals = 1;
	grove__loop *loop = NULL;
	grove__git_repos *repos = NULL;
	grove__git_daemon *d = NULL;
	grove__listener *lis = NULL;
	int err;

	if ((err = grove__git_repos_new(&repos, base, !receive)) < 0)
		return cli_fail(c, err);
	if ((err = grove__loop_new(&loop, &lc)) < 0) {
		grove__git_repos_free(repos);
		return cli_fail(c, err);
	}
	grove__git_daemon_config dcfg = { 0 };
	dcfg.repos = repos;
	dcfg.enable_receive_pack = receive;
	dcfg.allow_non_ff = non_ff;
	dcfg.log = server_log_line;
	if ((err = grove__git_daemon_new(&d, loop, &dcfg)) < 0 ||
	    (err = grove__git_daemon_listen(d, listen_host, (int)port, &lis)) < 0) {
		rc = cli_fail(c, err);
		goto out;
	}
	fprintf(stderr, "grove daemon: listening on %s port %d, stores in %s%s\n",
		listen_host ? listen_host : "*", grove__listener_port(lis), base,
		receive ? ", receive-pack enabled" : "");
	if ((err = grove__loop_run(loop)) < 0)
		rc = cli_fail(c, err);
	else
		fprintf(stderr, "grove daemon: stopped\n");
out:
	grove__loop_free(loop);
	grove__git_daemon_free(d);
	grove__git_repos_free(repos);
	return rc;
}
