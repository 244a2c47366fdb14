/* grove remote: add, list, set-url and remove the store's remotes. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int remote_list(cli *c, int verbose)
{
	grove_remote_array a = { 0 };
	int err = grove_remote_list(c->g, &a);
	if (err < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_array_begin(w);
		for (size_t i = 0; i < a.count; i++) {
			json_object_begin(w);
			json_kv_string(w, "name", a.items[i].name);
			json_kv_string(w, "url", a.items[i].url);
			json_object_end(w);
		}
		json_array_end(w);
	} else {
		for (size_t i = 0; i < a.count; i++) {
			if (verbose)
				printf("%s\t%s\n", a.items[i].name, a.items[i].url);
			else
				printf("%s\n", a.items[i].name);
		}
	}
	grove_remote_array_dispose(&a);
	return EXIT_OK;
}

int cmd_remote(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command("remote");
	const char *sub;
	int opt, rc = 0, err, verbose = 0, nargs;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "+v", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'v')
			verbose = 1;
	}
	sub = optind < argc ? argv[optind++] : "list";
	nargs = argc - optind;
	if (!strcmp(sub, "list")) {
		if (nargs)
			return cli_usage_error(c, cmd, "remote list: too many arguments");
		if ((rc = cli_open(c, 0)) != 0)
			return rc;
		return remote_list(c, verbose);
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "set-url")) {
		if (nargs != 2)
			return cli_usage_error(c, cmd, "remote %s: needs NAME and URL", sub);
		if ((rc = cli_open(c, 0)) != 0)
			return rc;
		err = !strcmp(sub, "add") ? grove_remote_add(c->g, argv[optind], argv[optind + 1])
					  : grove_remote_set_url(c->g, argv[optind], argv[optind + 1]);
		return err < 0 ? cli_fail(c, err) : EXIT_OK;
	}
	if (!strcmp(sub, "remove") || !strcmp(sub, "rm")) {
		if (nargs != 1)
			return cli_usage_error(c, cmd, "remote remove: needs NAME");
		if ((rc = cli_open(c, 0)) != 0)
			return rc;
		err = grove_remote_remove(c->g, argv[optind]);
		return err < 0 ? cli_fail(c, err) : EXIT_OK;
	}
	return cli_usage_error(c, cmd, "remote: unknown subcommand '%s'", sub);
}
