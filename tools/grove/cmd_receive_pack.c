/*
 * grove receive-pack: the server side of `git push` over stdin/stdout, so
 * that `git push --receive-pack='grove receive-pack' STORE` works (git runs
 * the command with the repository path as its last argument).  The protocol
 * itself lives in git/receive_pack.c; this file only moves bytes.
 */
#include "cli.h"

#include "../../git/protocol.h"
#include "../../git/receive_pack.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

int cmd_receive_pack(cli *c, int argc, char **argv)
{
	enum { STATELESS = 0x100, ADVERTISE, ALLOW_NON_FF, MAX_PACK, MAX_OBJECTS, MAX_COMMANDS };
	static const struct option longopts[] = {
		{ "stateless-rpc", no_argument, NULL, STATELESS },
		{ "advertise-refs", no_argument, NULL, ADVERTISE },
		{ "allow-non-ff", no_argument, NULL, ALLOW_NON_FF },
		{ "max-pack-size", required_argument, NULL, MAX_PACK },
		{ "max-objects", required_argument, NULL, MAX_OBJECTS },
		{ "max-commands", required_argument, NULL, MAX_COMMANDS },
		{ NULL, 0, NULL, 0 },
	};
	const cli_command *cmd = cli_find_command("receive-pack");
	grove__receive_opts o;
	grove__receive *rp = NULL;
	int opt, rc = 0, stateless = 0, advertise_only = 0, err = 0;
	static char buf[65536];

	memset(&o, 0, sizeof(o));
	o.allow_non_ff = env_flag("GROVE_ALLOW_NON_FF");
	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		size_t *target = NULL;
		switch (opt) {
		case -2:
			return rc;
		case STATELESS:
			stateless = 1;
			break;
		case ADVERTISE:
			advertise_only = 1;
			break;
		case ALLOW_NON_FF:
			o.allow_non_ff = 1;
			break;
		case MAX_PACK:
			target = &o.max_pack_size;
			break;
		case MAX_OBJECTS:
			target = &o.max_objects;
			break;
		case MAX_COMMANDS:
			target = &o.max_commands;
			break;
		}
		if (target && parse_size(optarg, target) < 0)
			return cli_usage_error(c, cmd, "receive-pack: bad number '%s'", optarg);
	}
	if (argc - optind > 1)
		return cli_usage_error(c, cmd, "receive-pack: too many arguments");
	if (argc - optind == 1)
		c->location = argv[optind];
	o.protocol_v1 = grove__protocol_parse(getenv("GIT_PROTOCOL")) == GROVE__PROTOCOL_V1;

	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if ((err = grove__receive_new(&rp, c->g, &o, out_write_stdout_unbuffered, NULL)) < 0)
		return cli_fail(c, err);
	if (!stateless || advertise_only)
		err = grove__receive_advertise(rp);
	if (err < 0 || advertise_only)
		goto out;

	for (;;) {
		grove__receive_state st = grove__receive_state_get(rp);
		ssize_t n;
		if (st == GROVE__RECEIVE_NEED_WORK || st == GROVE__RECEIVE_NEED_FINISH) {
			err = grove__receive_run(rp);
			continue;
		}
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = cli_error(c, EXIT_STORE, "receive-pack: reading stdin: %s", strerror(errno));
			goto out;
		}
		if (n == 0) {
			int e = grove__receive_input_end(rp);
			if (e < 0 && err == 0)
				err = e;
			if (grove__receive_state_get(rp) != GROVE__RECEIVE_DONE)
				continue; /* work left: run it */
			break;
		}
		/* After DONE the input is drained until the client hangs up, so
		 * a client still writing a refused pack is not cut off. */
		if (st == GROVE__RECEIVE_DONE)
			continue;
		{
			int e = grove__receive_feed(rp, buf, (size_t)n);
			if (e < 0 && err == 0)
				err = e;
		}
	}
out:
	if (err < 0 && !rc) {
		fprintf(stderr, "grove: %s\n", grove_error_message());
		rc = EXIT_FAIL;
	} else if (err > 0) {
		rc = err;
	}
	grove__receive_free(rp);
	return rc;
}
