/* Maintenance commands that walk the whole store: fsck and gc. */
#include "cli.h"

#include <getopt.h>

/* Parses a command without arguments and opens the store.  Returns 1 when
 * the command is finished (help, usage error, no store), exit code in *rc. */
static int no_args(cli *c, const char *name, int argc, char **argv, int *rc)
{
	const cli_command *cmd = cli_find_command(name);
	int opt;
	optind = 0;
	*rc = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, rc)) != -1)
		if (opt == -2)
			return 1;
	if (argc - optind) {
		*rc = cli_usage_error(c, cmd, "%s: too many arguments", name);
		return 1;
	}
	return (*rc = cli_open(c, 0)) != 0;
}

int cmd_fsck(cli *c, int argc, char **argv)
{
	grove_fsck_report report = { 0 };
	char hex[GROVE_OID_HEXSZ + 1];
	int rc, err;
	if (no_args(c, "fsck", argc, argv, &rc))
		return rc;
	if ((err = grove_fsck(c->g, &report)) < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_uint(w, "objects_checked", report.objects_checked);
		json_kv_uint(w, "refs_checked", report.refs_checked);
		json_key(w, "problems");
		json_array_begin(w);
		for (size_t i = 0; i < report.problem_count; i++) {
			json_object_begin(w);
			json_kv_string(w, "id", grove_oid_tohex(hex, &report.problems[i].id));
			json_kv_string(w, "message", report.problems[i].message);
			json_object_end(w);
		}
		json_array_end(w);
		json_object_end(w);
	} else {
		for (size_t i = 0; i < report.problem_count; i++)
			printf("%s %s\n", grove_oid_tohex(hex, &report.problems[i].id), report.problems[i].message);
		if (!c->quiet)
			fprintf(report.problem_count ? stderr : stdout,
				"checked %zu objects and %zu refs: %zu problem%s\n", report.objects_checked,
				report.refs_checked, report.problem_count, report.problem_count == 1 ? "" : "s");
	}
	rc = report.problem_count ? EXIT_FAIL : 0;
	grove_fsck_report_dispose(&report);
	return rc;
}

int cmd_gc(cli *c, int argc, char **argv)
{
	grove_gc_stats st = { 0 };
	int rc, err;
	if (no_args(c, "gc", argc, argv, &rc))
		return rc;
	if ((err = grove_gc(c->g, &st)) < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_uint(w, "objects_before", st.objects_before);
		json_kv_uint(w, "objects_removed", st.objects_removed);
		json_object_end(w);
	} else {
		printf("%zu objects removed (of %zu)\n", st.objects_removed, st.objects_before);
	}
	return 0;
}
