/* grove merge: merges a revision into the branch. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *conflict_name(grove_conflict_kind kind)
{
	switch (kind) {
	case GROVE_CONFLICT_CONTENT: return "content";
	case GROVE_CONFLICT_ADD_ADD: return "add/add";
	case GROVE_CONFLICT_MODIFY_DELETE: return "modify/delete";
	case GROVE_CONFLICT_FILE_DIRECTORY: return "file/directory";
	}
	return "unknown";
}

static void json_oid_or_null(json_writer *w, const char *key, const grove_oid *id)
{
	char hex[GROVE_OID_HEXSZ + 1];
	json_key(w, key);
	if (grove_oid_is_zero(id))
		json_null(w);
	else
		json_string(w, grove_oid_tohex(hex, id));
}

static int report_conflicts(cli *c, const char *branch, const char *rev, const grove_conflict_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		fprintf(stderr, "CONFLICT (%s): %s\n", conflict_name(list->items[i].kind), list->items[i].path);
	fprintf(stderr, "grove: merge of '%s' into '%s' failed with %zu conflict%s; branch '%s' is unchanged\n",
		rev, branch, list->count, list->count == 1 ? "" : "s", branch);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "result", "conflict");
		json_kv_string(w, "branch", branch);
		json_key(w, "conflicts");
		json_array_begin(w);
		for (size_t i = 0; i < list->count; i++) {
			json_object_begin(w);
			json_kv_string(w, "path", list->items[i].path);
			json_kv_string(w, "kind", conflict_name(list->items[i].kind));
			json_oid_or_null(w, "base", &list->items[i].base);
			json_oid_or_null(w, "ours", &list->items[i].ours);
			json_oid_or_null(w, "theirs", &list->items[i].theirs);
			json_object_end(w);
		}
		json_array_end(w);
		json_object_end(w);
	}
	return EXIT_FAIL;
}

int cmd_merge(cli *c, int argc, char **argv)
{
	enum { NO_FF = 0x100 };
	static const struct option longopts[] = {
		{ "no-ff", no_argument, NULL, NO_FF },
		{ "message", required_argument, NULL, 'm' },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command("merge");
	const char *branch, *rev, *message = NULL, *result;
	char *default_msg = NULL;
	char hex[GROVE_OID_HEXSZ + 1], from_hex[GROVE_OID_HEXSZ + 1];
	grove_oid before, theirs, out;
	grove_merge_opts mopts = { 0 };
	grove_commit_opts copts = { 0 };
	grove_conflict_list conflicts = { 0 };
	cli_identity ident;
	int opt, rc = 0, err, unborn = 0;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "m:", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == NO_FF)
			mopts.no_fast_forward = 1;
		else if (opt == 'm')
			message = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, cmd, argc - optind ? "merge: too many arguments" : "merge: missing REV");
	rev = argv[optind];
	if ((rc = cli_open(c, 0)) != 0 || (rc = cli_branch(c, &branch)) != 0 ||
	    (rc = cli_rev_resolve(c, rev, &theirs)) != 0)
		return rc;
	err = grove_branch_head(c->g, branch, &before);
	if (err == GROVE_ENOTFOUND) {
		unborn = 1;
		grove_error_clear();
	} else if (err < 0) {
		return cli_fail(c, err);
	}
	if (!message) {
		default_msg = malloc(strlen(rev) + strlen(branch) + 40);
		if (!default_msg)
			return cli_error(c, EXIT_STORE, "out of memory");
		sprintf(default_msg, "Merge '%s' into %s", rev, branch);
		message = default_msg;
	}
	if ((rc = cli_identity_load(c, &ident)) != 0) {
		free(default_msg);
		return rc;
	}
	copts.author = &ident.author;
	copts.committer = &ident.committer;
	copts.message = message;
	mopts.commit = &copts;
	/* The library takes a revision string; hand it the resolved id so the
	 * CLI's extra syntax (abbreviations, ~N) works too. */
	for (int attempt = 0;;) {
		/* A merge that lost a race is recomputed against the new head. */
		err = grove_merge(c->g, branch, grove_oid_tohex(from_hex, &theirs), &mopts, &out, &conflicts);
		if (!cli_should_retry(err, &attempt))
			break;
		grove_conflict_list_dispose(&conflicts);
		if (grove_branch_head(c->g, branch, &before) == 0)
			unborn = 0;
		grove_error_clear();
	}
	cli_identity_dispose(&ident);
	free(default_msg);
	if (err == GROVE_ECONFLICT) {
		rc = report_conflicts(c, branch, rev, &conflicts);
		grove_conflict_list_dispose(&conflicts);
		return rc;
	}
	grove_conflict_list_dispose(&conflicts);
	if (err < 0)
		return cli_fail(c, err);
	if (!unborn && !grove_oid_cmp(&out, &before))
		result = "up-to-date";
	else if (!grove_oid_cmp(&out, &theirs))
		result = "fast-forward";
	else
		result = "merge";
	grove_oid_tohex(hex, &out);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "result", result);
		json_kv_string(w, "branch", branch);
		json_kv_string(w, "commit", hex);
		json_object_end(w);
	} else if (!c->quiet) {
		if (!strcmp(result, "up-to-date"))
			printf("Already up to date\n");
		else if (!strcmp(result, "fast-forward"))
			printf("Fast-forward %s to %s\n", branch, hex);
		else
			printf("Merge made: %s\n", hex);
	}
	return 0;
}
