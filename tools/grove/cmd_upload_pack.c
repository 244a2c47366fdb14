/*
 * grove upload-pack: the server side of `git fetch` / `git clone` over
 * stdin/stdout, so that `git clone -u 'grove upload-pack' STORE dir` works
 * (git runs the command with the repository path as its last argument and
 * asks for protocol v2 through GIT_PROTOCOL=version=2).  The protocol lives
 * in git/upload_pack*.c; this file only moves bytes, on one thread.
 */
#include "cli.h"

#include "../../git/protocol.h"
#include "../../git/upload_pack.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_upload_pack(cli *c, int argc, char **argv)
{
	enum { STATELESS = 0x100, ADVERTISE, STRICT, TIMEOUT };
	static const struct option longopts[] = {
		{ "stateless-rpc", no_argument, NULL, STATELESS },
		{ "advertise-refs", no_argument, NULL, ADVERTISE },
		{ "http-backend-info-refs", no_argument, NULL, ADVERTISE },
		/* Accepted for git-upload-pack compatibility; no effect. */
		{ "strict", no_argument, NULL, STRICT },
		{ "timeout", required_argument, NULL, TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	const cli_command *cmd = cli_find_command("upload-pack");
	grove__upload_pack_opts o = GROVE__UPLOAD_PACK_OPTS_INIT;
	grove__upload_pack *up = NULL;
	int opt, rc = 0, err = 0;
	static char buf[65536];

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		switch (opt) {
		case -2:
			return rc;
		case STATELESS:
			o.stateless = 1;
			break;
		case ADVERTISE:
			o.advertise_only = 1;
			break;
		default:
			break;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(c, cmd, "upload-pack: too many arguments");
	if (argc - optind == 1)
		c->location = argv[optind];
	o.version = grove__protocol_parse(getenv("GIT_PROTOCOL"));
	c->read_only = 1;

	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if ((err = grove__upload_pack_new(&up, c->g, &o, out_write_stdout_unbuffered, NULL)) < 0)
		return cli_fail(c, err);
	/* A stateless v0 POST has no advertisement; v2 over HTTP neither. */
	if (!o.stateless || o.advertise_only)
		err = grove__upload_pack_start(up);
	while (err == 0 && grove__upload_pack_state_get(up) != GROVE__UPLOAD_PACK_DONE) {
		ssize_t n;
		if (grove__upload_pack_state_get(up) == GROVE__UPLOAD_PACK_NEED_PACK) {
			if ((err = grove__upload_pack_run_pack(up)) == 0)
				err = grove__upload_pack_feed(up, NULL, 0);
			continue;
		}
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = cli_error(c, EXIT_STORE, "upload-pack: reading stdin: %s", strerror(errno));
			rc = err;
			err = 0;
			break;
		}
		if (n == 0)
			err = grove__upload_pack_input_end(up);
		else
			err = grove__upload_pack_feed(up, buf, (size_t)n);
	}
	if (err < 0 && !rc) {
		fprintf(stderr, "grove: %s\n", grove_error_message());
		rc = EXIT_FAIL;
	}
	if (getenv("GROVE_UPLOAD_PACK_STATS")) {
		grove__upload_pack_summary s;
		grove__upload_pack_summary_get(up, &s);
		fprintf(stderr, "grove upload-pack: %zu objects, %zu reused deltas, %zu bytes; "
			"enumerate %.3fs, pack %.3fs\n", s.objects, s.reused_deltas, s.pack_bytes,
			s.enumerate_seconds, s.pack_seconds);
	}
	grove__upload_pack_free(up);
	return rc;
}
