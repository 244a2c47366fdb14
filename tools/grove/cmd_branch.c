/* Branch commands: branch (list, create, delete) and switch. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int list_branches(cli *c, int verbose)
{
	grove_strarray names = { 0 };
	char *head = NULL;
	int err, rc = 0;
	json_writer *w = NULL;

	if ((err = grove_branch_list(c->g, &names)) < 0)
		return cli_fail(c, err);
	if ((err = grove_head_branch(c->g, &head)) < 0) {
		grove_strarray_dispose(&names);
		return cli_fail(c, err);
	}
	if (c->json) {
		w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "head", head);
		json_key(w, "branches");
		json_array_begin(w);
	}
	for (size_t i = 0; i < names.count; i++) {
		const char *name = names.strings[i];
		char hex[GROVE_OID_HEXSZ + 1] = "";
		grove_oid id;
		int is_head = !strcmp(name, head);
		if (grove_branch_head(c->g, name, &id) == 0)
			grove_oid_tohex(hex, &id);
		else
			grove_error_clear();
		if (w) {
			json_object_begin(w);
			json_kv_string(w, "name", name);
			json_key(w, "commit");
			if (*hex)
				json_string(w, hex);
			else
				json_null(w);
			json_kv_bool(w, "head", is_head);
			json_object_end(w);
		} else if (verbose) {
			grove_commit *commit = NULL;
			const char *m = "";
			if (*hex && grove_commit_read(c->g, &id, &commit) == 0 && commit->message)
				m = commit->message;
			printf("%c %s %.7s %.*s\n", is_head ? '*' : ' ', name, hex, (int)strcspn(m, "\n"), m);
			grove_commit_free(commit);
		} else {
			printf("%c %s\n", is_head ? '*' : ' ', name);
		}
	}
	if (w) {
		json_array_end(w);
		json_object_end(w);
	}
	free(head);
	grove_strarray_dispose(&names);
	return rc;
}

/* Reports a created or deleted branch: {"<key>": name, "commit": hex} with
 * --json, else text_fmt with the name and the abbreviated commit. */
static void report_branch(cli *c, const char *key, const char *name, const grove_oid *commit,
	const char *text_fmt) __attribute__((format(printf, 5, 0)));
static void report_branch(cli *c, const char *key, const char *name, const grove_oid *commit,
	const char *text_fmt)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid_tohex(hex, commit);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, key, name);
		json_kv_string(w, "commit", hex);
		json_object_end(w);
	} else if (!c->quiet) {
		printf(text_fmt, name, hex);
	}
}

int cmd_branch(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "delete", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command("branch");
	int opt, rc = 0, err, del = 0, force = 0, verbose = 0, nargs;
	const char *name, *from;
	grove_oid start;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "dDfv", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'd')
			del = 1;
		else if (opt == 'D')
			del = force = 1;
		else if (opt == 'f')
			force = 1;
		else if (opt == 'v')
			verbose = 1;
	}
	nargs = argc - optind;
	if (nargs == 0) {
		if (del)
			return cli_usage_error(c, cmd, "branch: -d needs a branch name");
		if ((rc = cli_open(c, 0)) != 0)
			return rc;
		return list_branches(c, verbose);
	}
	name = argv[optind];
	if (nargs > (del ? 1 : 2))
		return cli_usage_error(c, cmd, "branch: too many arguments");
	if ((err = grove_branch_name_validate(name)) < 0)
		return cli_fail(c, err);
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if (del) {
		char *head = NULL;
		/* Like git, keep the branch HEAD points at. */
		if (grove_head_branch(c->g, &head) == 0 && !strcmp(head, name)) {
			free(head);
			return cli_error(c, EXIT_FAIL, "cannot delete branch '%s': it is the store's HEAD branch", name);
		}
		free(head);
		grove_error_clear();
		if ((err = grove_branch_head(c->g, name, &start)) < 0)
			return cli_fail(c, err);
		for (int attempt = 0;;) {
			err = grove_branch_delete(c->g, name);
			if (err != GROVE_ELOCKED || !cli_should_retry(err, &attempt))
				break;
		}
		if (err < 0)
			return cli_fail(c, err);
		report_branch(c, "deleted", name, &start, "Deleted branch %s (was %.7s).\n");
		return 0;
	}
	if (nargs == 2) {
		if ((rc = cli_rev_resolve(c, argv[optind + 1], &start)) != 0)
			return rc;
	} else {
		if ((rc = cli_branch(c, &from)) != 0)
			return rc;
		if ((err = grove_branch_head(c->g, from, &start)) < 0) {
			if (err == GROVE_ENOTFOUND)
				return cli_error(c, EXIT_FAIL, "branch '%s' has no commits yet; give a START", from);
			return cli_fail(c, err);
		}
	}
	for (int attempt = 0;;) {
		err = grove_branch_create_at(c->g, name, &start, force);
		if (err != GROVE_ELOCKED || !cli_should_retry(err, &attempt))
			break;
	}
	if (err < 0)
		return cli_fail(c, err);
	report_branch(c, "created", name, &start, "Created branch %s at %.7s\n");
	return 0;
}

int cmd_switch(cli *c, int argc, char **argv)
{
	const cli_command *cmd = cli_find_command("switch");
	int opt, rc = 0, err;
	const char *name;
	grove_oid id;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, &rc)) != -1)
		if (opt == -2)
			return rc;
	if (argc - optind != 1)
		return cli_usage_error(c, cmd, argc - optind ? "switch: too many arguments" : "switch: missing BRANCH");
	name = argv[optind];
	if ((err = grove_branch_name_validate(name)) < 0)
		return cli_fail(c, err);
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if ((err = grove_branch_head(c->g, name, &id)) < 0)
		return cli_fail(c, err);
	if ((err = grove_set_head_branch(c->g, name)) < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "head", name);
		json_object_end(w);
	} else if (!c->quiet) {
		printf("Switched to branch '%s'\n", name);
	}
	return 0;
}
