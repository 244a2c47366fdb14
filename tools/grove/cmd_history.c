/* History commands: log, show, diff. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* Parses a non-negative count option. */
static int parse_count(cli *c, const cli_command *cmd, const char *opt, const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return cli_usage_error(c, cmd, "%s: %s needs a non-negative number, not '%s'", cmd->name, opt, s);
	*out = (size_t)v;
	return 0;
}

/* The branch head, or found = 0 when the branch is unborn. */
static int branch_head(cli *c, grove_oid *out, int *found)
{
	const char *branch;
	int rc, err;
	if ((rc = cli_branch(c, &branch)) != 0)
		return rc;
	err = grove_branch_head(c->g, branch, out);
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		*found = 0;
		return 0;
	}
	if (err < 0)
		return cli_fail(c, err);
	*found = 1;
	return 0;
}

static void print_subject(const grove_commit *commit)
{
	char hex[GROVE_OID_HEXSZ + 1];
	const char *m = commit->message ? commit->message : "";
	printf("%.7s %.*s\n", grove_oid_tohex(hex, &commit->id), (int)strcspn(m, "\n"), m);
}

int cmd_log(cli *c, int argc, char **argv)
{
	enum { SKIP = 0x100, ONELINE, FIRST_PARENT };
	static const struct option longopts[] = {
		{ "max-count", required_argument, NULL, 'n' },
		{ "skip", required_argument, NULL, SKIP },
		{ "oneline", no_argument, NULL, ONELINE },
		{ "first-parent", no_argument, NULL, FIRST_PARENT },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command("log");
	grove_log_opts lopts = { 0 };
	const char *rev = NULL, *path = NULL;
	int opt, rc = 0, err, oneline = 0, nargs, dashdash = -1, found = 1, guessed_path = 0;
	grove_oid start;
	grove_log *log = NULL;
	grove_commit *commit;
	json_writer *w = NULL;
	size_t shown = 0;

	/* Arguments after "--" are paths; getopt would hide where it was. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dashdash = i;
			break;
		}
	optind = 0;
	while ((opt = cli_getopt(c, cmd, dashdash >= 0 ? dashdash : argc, argv, "n:", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'n' && (rc = parse_count(c, cmd, "-n", optarg, &lopts.limit)) != 0)
			return rc;
		if (opt == 'n' && lopts.limit == 0)
			return 0; /* git log -n 0 shows nothing */
		if (opt == SKIP && (rc = parse_count(c, cmd, "--skip", optarg, &lopts.skip)) != 0)
			return rc;
		if (opt == ONELINE)
			oneline = 1;
		if (opt == FIRST_PARENT)
			lopts.first_parent = 1;
	}
	nargs = (dashdash >= 0 ? dashdash : argc) - optind;
	if (dashdash >= 0) {
		if (nargs > 1 || argc - dashdash - 1 > 1)
			return cli_usage_error(c, cmd, "log: takes at most one REV and one PATH");
		rev = nargs ? argv[optind] : NULL;
		path = argc - dashdash - 1 ? argv[dashdash + 1] : NULL;
	} else if (nargs > 2) {
		return cli_usage_error(c, cmd, "log: too many arguments");
	} else if (nargs == 2) {
		rev = argv[optind];
		path = argv[optind + 1];
	} else if (nargs == 1) {
		rev = argv[optind];
	}
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if (rev && nargs == 1 && dashdash < 0) {
		/* One argument: a revision if it resolves, else a path. */
		size_t n = strlen(rev), hex = strspn(rev, "0123456789abcdefABCDEF");
		int revish = strpbrk(rev, "~^") || (hex == n && n >= 4 && n < GROVE_OID_HEXSZ);
		if (!revish && grove_rev_resolve(c->g, rev, &start) < 0) {
			grove_error_clear();
			path = rev;
			rev = NULL;
			guessed_path = 1;
		}
	}
	if (path) {
		char *p = (char *)path;
		path = cli_dir_arg(p);
		if (*path && (err = grove_key_validate(path)) < 0)
			return cli_fail(c, err);
		lopts.path = *path ? path : NULL;
	}
	if (rev)
		rc = cli_rev_resolve(c, rev, &start);
	else
		rc = branch_head(c, &start, &found);
	if (rc)
		return rc;
	/* Like git: a lone argument that is neither a revision nor a key or
	 * directory at the start commit is an error (a typo), not an empty
	 * history.  "-- PATH" asks for a path that no longer exists. */
	if (guessed_path && lopts.path) {
		grove_view *view = NULL;
		grove_oid id;
		int exists = found && grove_view_open_commit(&view, c->g, &start) == 0 &&
			grove_view_id(view, lopts.path, &id, NULL) == 0;
		grove_view_free(view);
		grove_error_clear();
		if (!exists)
			return cli_error(c, EXIT_FAIL, "'%s' is neither a revision nor a key in the branch; "
				"use 'grove log -- %s' for a path that no longer exists", path, path);
	}
	if (c->json) {
		w = cli_json(c);
		json_object_begin(w);
		json_key(w, "commits");
		json_array_begin(w);
	}
	if (found) {
		if ((err = grove_log_open_at(&log, c->g, &start, &lopts)) < 0)
			return cli_fail(c, err);
		while ((err = grove_log_next(log, &commit)) == 0) {
			if (w) {
				json_object_begin(w);
				out_json_commit(w, commit);
				json_object_end(w);
			} else if (oneline) {
				print_subject(commit);
			} else {
				if (shown)
					fputc('\n', stdout);
				out_commit_header(commit);
			}
			shown++;
			grove_commit_free(commit);
		}
		grove_log_free(log);
		if (err != GROVE_ITEROVER)
			return cli_fail(c, err);
		grove_error_clear();
	}
	if (w) {
		json_array_end(w);
		json_object_end(w);
	}
	return 0;
}

int cmd_show(cli *c, int argc, char **argv)
{
	const cli_command *cmd = cli_find_command("show");
	grove_oid id;
	grove_commit *commit;
	grove_diff diff = { 0 };
	int opt, rc = 0, err, found = 1;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, &rc)) != -1)
		if (opt == -2)
			return rc;
	if (argc - optind > 1)
		return cli_usage_error(c, cmd, "show: too many arguments");
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if (optind < argc)
		rc = cli_rev_resolve(c, argv[optind], &id);
	else
		rc = branch_head(c, &id, &found);
	if (rc)
		return rc;
	if (!found)
		return cli_error(c, EXIT_FAIL, "branch '%s' has no commits yet", c->branch);
	if ((err = grove_commit_read(c->g, &id, &commit)) < 0)
		return cli_fail(c, err);
	err = grove_diff_commits(c->g, commit->parent_count ? &commit->parents[0] : NULL, &commit->id, NULL, &diff);
	if (err < 0) {
		grove_commit_free(commit);
		return cli_fail(c, err);
	}
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		out_json_commit(w, commit);
		out_json_diff(w, &diff);
		json_object_end(w);
	} else {
		out_commit_header(commit);
		if (diff.count)
			fputc('\n', stdout);
		for (size_t i = 0; i < diff.count; i++)
			printf("%s %s\n", out_diff_status(diff.entries[i].kind), diff.entries[i].path);
	}
	grove_diff_dispose(&diff);
	grove_commit_free(commit);
	return 0;
}

int cmd_diff(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { { "prefix", required_argument, NULL, 'p' }, { 0 } };
	const cli_command *cmd = cli_find_command("diff");
	const char *prefix = NULL;
	grove_oid a, b;
	grove_diff diff = { 0 };
	int opt, rc = 0, err, found = 1;
	char hex[GROVE_OID_HEXSZ + 1];

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'p')
			prefix = cli_dir_arg(optarg);
	}
	if (argc - optind < 1)
		return cli_usage_error(c, cmd, "diff: missing revision A");
	if (argc - optind > 2)
		return cli_usage_error(c, cmd, "diff: too many arguments");
	if (prefix && *prefix && (err = grove_key_validate(prefix)) < 0)
		return cli_fail(c, err);
	if ((rc = cli_open(c, 0)) != 0 || (rc = cli_rev_resolve(c, argv[optind], &a)) != 0)
		return rc;
	if (argc - optind == 2)
		rc = cli_rev_resolve(c, argv[optind + 1], &b);
	else
		rc = branch_head(c, &b, &found);
	if (rc)
		return rc;
	if ((err = grove_diff_commits(c->g, &a, found ? &b : NULL, prefix && *prefix ? prefix : NULL, &diff)) < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "old", grove_oid_tohex(hex, &a));
		json_key(w, "new");
		if (found)
			json_string(w, grove_oid_tohex(hex, &b));
		else
			json_null(w);
		out_json_diff(w, &diff);
		json_object_end(w);
	} else {
		for (size_t i = 0; i < diff.count; i++)
			printf("%s %s\n", out_diff_status(diff.entries[i].kind), diff.entries[i].path);
	}
	grove_diff_dispose(&diff);
	return 0;
}
