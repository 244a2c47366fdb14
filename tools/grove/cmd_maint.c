/* Store-wide commands: export, import, stats. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

/* Parses "CMD GITDIR".  Returns 1 when the command is finished (help or a
 * usage error) with its exit code in *rc. */
static int one_path_command(cli *c, int argc, char **argv, const char *name, const char **path, int *rc)
{
	const cli_command *cmd = cli_find_command(name);
	int opt;
	optind = 0;
	*rc = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, rc)) != -1)
		if (opt == -2)
			return 1;
	if (argc - optind != 1) {
		*rc = cli_usage_error(c, cmd, argc - optind ? "%s: too many arguments" : "%s: missing GITDIR", name);
		return 1;
	}
	*path = argv[optind];
	if (!**path) {
		*rc = cli_usage_error(c, cmd, "%s: empty GITDIR", name);
		return 1;
	}
	return (*rc = cli_open(c, 0)) != 0;
}

static void report_path(cli *c, const char *verb, const char *path)
{
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, verb, path);
		json_object_end(w);
	} else if (!c->quiet) {
		printf("%s %s\n", !strcmp(verb, "exported") ? "Exported to" : "Imported from", path);
	}
}

int cmd_export(cli *c, int argc, char **argv)
{
	const char *path;
	int rc, err;
	if (one_path_command(c, argc, argv, "export", &path, &rc))
		return rc;
	if ((err = grove_export(c->g, path)) < 0)
		return cli_fail(c, err);
	report_path(c, "exported", path);
	return 0;
}

int cmd_import(cli *c, int argc, char **argv)
{
	const char *path;
	int rc, err;
	if (one_path_command(c, argc, argv, "import", &path, &rc))
		return rc;
	if ((err = grove_import(c->g, path)) < 0)
		return cli_fail(c, err);
	report_path(c, "imported", path);
	return 0;
}

int cmd_stats(cli *c, int argc, char **argv)
{
	const cli_command *cmd = cli_find_command("stats");
	grove_stats st;
	int opt, rc = 0, err;
	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, &rc)) != -1)
		if (opt == -2)
			return rc;
	if (argc - optind)
		return cli_usage_error(c, cmd, "stats: too many arguments");
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if ((err = grove_stats_get(c->g, &st)) < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "backend", grove_backend_name(c->g));
		json_kv_uint(w, "objects", st.objects);
		json_kv_uint(w, "object_bytes", st.object_bytes);
		json_kv_uint(w, "disk_bytes", st.disk_bytes);
		json_kv_uint(w, "refs", st.refs);
		json_kv_uint(w, "deltas", st.deltas);
		json_object_end(w);
	} else {
		printf("backend:      %s\n", grove_backend_name(c->g));
		printf("objects:      %" PRIu64 "\n", st.objects);
		printf("object bytes: %" PRIu64 "\n", st.object_bytes);
		printf("disk bytes:   %" PRIu64 "\n", st.disk_bytes);
		printf("refs:         %" PRIu64 "\n", st.refs);
		printf("deltas:       %" PRIu64 "\n", st.deltas);
	}
	return 0;
}
