/* grove clone, fetch, pull, push and sync status: the store replicated
 * through git remotes (library: sync/). */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- progress and cancellation ---------------------------------------------- */

static volatile int interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

typedef struct {
	int last_stage;
	time_t last_print;
	int pct;
} progress_state;

static const char *stage_name(grove_sync_stage s)
{
	switch (s) {
	case GROVE_SYNC_CONNECTING: return "Connecting";
	case GROVE_SYNC_RECEIVING: return "Receiving objects";
	case GROVE_SYNC_INDEXING: return "Indexing objects";
	case GROVE_SYNC_COUNTING: return "Counting objects";
	case GROVE_SYNC_COMPRESSING: return "Compressing objects";
	case GROVE_SYNC_WRITING: return "Writing objects";
	}
	return "Working";
}

/* Like git: "Receiving objects: 45% (450/1000), 1.20 MiB", redrawn with \r. */
static int show_progress(const grove_sync_progress *p, void *payload)
{
	progress_state *s = payload;
	time_t now = time(NULL);
	int pct = p->total ? (int)(p->current * 100 / p->total) : -1;
	int changed = (int)p->stage != s->last_stage;
	if (changed && s->last_stage)
		fputs(", done.\n", stderr);
	if (!changed && now == s->last_print && pct == s->pct && !(p->total && p->current == p->total))
		return 0;
	s->last_stage = (int)p->stage;
	s->last_print = now;
	s->pct = pct;
	if (p->stage == GROVE_SYNC_CONNECTING) {
		fputs("\rConnecting", stderr);
		return 0;
	}
	fprintf(stderr, "\r%s: ", stage_name(p->stage));
	if (pct >= 0)
		fprintf(stderr, "%3d%% (%llu/%llu)", pct, (unsigned long long)p->current, (unsigned long long)p->total);
	else if (p->total)
		fprintf(stderr, "%llu objects", (unsigned long long)p->total);
	else
		fprintf(stderr, "%llu", (unsigned long long)p->current);
	if (p->bytes)
		fprintf(stderr, ", %.2f MiB", (double)p->bytes / (1024.0 * 1024.0));
	fputs("   ", stderr);
	return 0;
}

typedef struct {
	grove_sync_opts opts;
	progress_state ps;
	int tty;
	const char *timeout;     /* --timeout SECONDS, NULL: not given */
} sync_ctx;

static void sync_begin(cli *c, sync_ctx *x)
{
	struct sigaction sa;
	grove_sync_opts init = GROVE_SYNC_OPTIONS_INIT;
	memset(x, 0, sizeof(*x));
	x->opts = init;
	x->opts.cancel = &interrupted;
	x->tty = !c->quiet && !c->json && isatty(2);
	if (x->tty) {
		x->opts.progress = show_progress;
		x->opts.progress_payload = &x->ps;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void sync_end(sync_ctx *x)
{
	if (x->tty && x->ps.last_stage)
		fputs(x->ps.last_stage == GROVE_SYNC_CONNECTING ? "\r          \r" : ", done.\n", stderr);
	x->ps.last_stage = 0;
}

/* Options shared by clone, fetch, pull and push. */
enum { OPT_CA_FILE = 0x200, OPT_SSH_KEY, OPT_NO_FF, OPT_TIMEOUT };
#define SYNC_LONGOPTS \
	{ "ca-file", required_argument, NULL, OPT_CA_FILE }, \
	{ "ssh-key", required_argument, NULL, OPT_SSH_KEY }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }

static int sync_opt(sync_ctx *x, int opt)
{
	if (opt == OPT_CA_FILE)
		x->opts.ca_file = optarg;
	else if (opt == OPT_SSH_KEY)
		x->opts.ssh_key = optarg;
	else if (opt == OPT_TIMEOUT)
		x->timeout = optarg;
	else
		return 0;
	return 1;
}

/*
 * Reads the options twice: first for -q/--json (which may come after the
 * command) and --help, then, once sync_begin has set up progress and
 * cancellation with them known, for the sync options.  own_opt (0 for
 * none) is the command's one other option: *own_arg gets its argument, or
 * "" for a flag.  Returns 1 when the command is done (return *rc), else 0.
 */
static int sync_args(cli *c, const cli_command *cmd, int argc, char **argv, const char *shortopts,
	const struct option *longopts, sync_ctx *x, int own_opt, const char **own_arg, int *rc)
{
	int opt;
	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, shortopts, longopts, rc)) != -1)
		if (opt == -2)
			return 1;
	sync_begin(c, x);
	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, shortopts, longopts, rc)) != -1)
		if (!sync_opt(x, opt) && own_opt && opt == own_opt)
			*own_arg = optarg ? optarg : "";
	if (x->timeout) {
		char *end;
		double s = strtod(x->timeout, &end);
		if (end == x->timeout || *end || !(s >= 0) || s > 86400.0 * 365) {
			*rc = cli_usage_error(c, cmd, "--timeout: '%s' is not a number of seconds", x->timeout);
			return 1;
		}
		/* Whole seconds go in the options (opts.timeout_secs); 0 (no
		 * timeout) and fractions, which that field cannot say, through
		 * the environment the library reads when the field is 0 (for
		 * this one command; nothing else runs yet). */
		if (s >= 1 && s == (double)(unsigned)s)
			x->opts.timeout_secs = (unsigned)s;
		else
			setenv("GROVE_SYNC_TIMEOUT", x->timeout, 1);
	}
	return 0;
}

/* --- fetch: what moved ------------------------------------------------------ */

typedef struct {
	char **names;
	grove_oid *ids;
	size_t n, cap;
} ref_snap;

static int snap_ref(const char *refname, const grove_oid *id, void *payload)
{
	ref_snap *s = payload;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **nn = realloc(s->names, cap * sizeof(*nn));
		grove_oid *ni;
		if (!nn)
			return GROVE_ENOMEM;
		s->names = nn;
		if (!(ni = realloc(s->ids, cap * sizeof(*ni))))
			return GROVE_ENOMEM;
		s->ids = ni;
		s->cap = cap;
	}
	if (!(s->names[s->n] = strdup(refname)))
		return GROVE_ENOMEM;
	s->ids[s->n++] = *id;
	return 0;
}

static void snap_dispose(ref_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

static const grove_oid *snap_find(const ref_snap *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return &s->ids[i];
	return NULL;
}

static int snap_take(grove *g, const char *remote, ref_snap *remotes, ref_snap *tags)
{
	char prefix[512];
	int err;
	snprintf(prefix, sizeof(prefix), "refs/remotes/%s/", remote);
	if ((err = grove_ref_foreach(g, prefix, snap_ref, remotes)) < 0)
		return err;
	return grove_ref_foreach(g, "refs/tags/", snap_ref, tags);
}

/* Prints git-like update lines for what a fetch changed. */
static void print_fetch_changes(const ref_snap *b, const ref_snap *a, const char *remote, const char *url)
{
	char h1[GROVE_OID_HEXSZ + 1], h2[GROVE_OID_HEXSZ + 1];
	size_t plen = strlen("refs/remotes/");
	int header = 0;
#define HEADER() do { if (!header++) fprintf(stderr, "From %s\n", url); } while (0)
	for (size_t i = 0; i < a->n; i++) {
		const grove_oid *old = snap_find(b, a->names[i]);
		const char *shortname = !strncmp(a->names[i], "refs/tags/", 10) ? a->names[i] + 10 : a->names[i] + plen;
		int tag = !strncmp(a->names[i], "refs/tags/", 10);
		if (old && !grove_oid_cmp(old, &a->ids[i]))
			continue;
		HEADER();
		if (!old)
			fprintf(stderr, " * [new %s]      %s\n", tag ? "tag" : "branch", shortname);
		else
			fprintf(stderr, "   %.7s..%.7s  %s\n", grove_oid_tohex(h1, old), grove_oid_tohex(h2, &a->ids[i]),
				shortname);
	}
	for (size_t i = 0; i < b->n; i++)
		if (!snap_find(a, b->names[i]) && strncmp(b->names[i], "refs/tags/", 10)) {
			HEADER();
			fprintf(stderr, " - [deleted]         %s\n", b->names[i] + plen);
		}
#undef HEADER
	(void)remote;
}

static int do_fetch(cli *c, sync_ctx *x, const char *remote)
{
	ref_snap rb = { 0 }, tb = { 0 }, ra = { 0 }, ta = { 0 };
	char *url = NULL, *shown = NULL;
	int err, rc = EXIT_OK;

	if ((err = grove_remote_url(c->g, remote, &url)) < 0)
		return cli_fail(c, err);
	if ((err = snap_take(c->g, remote, &rb, &tb)) < 0)
		goto fail;
	err = grove_fetch(c->g, remote, &x->opts);
	sync_end(x);
	if (err < 0)
		goto fail;
	if (!c->quiet && !c->json) {
		if ((err = snap_take(c->g, remote, &ra, &ta)) < 0 || (err = grove_url_redact(url, &shown)) < 0)
			goto fail;
		{
			/* tags: only the new ones count, in the same listing */
			ref_snap all_b = rb, all_a = ra;
			print_fetch_changes(&all_b, &all_a, remote, shown);
			for (size_t i = 0; i < ta.n; i++)
				if (!snap_find(&tb, ta.names[i]))
					fprintf(stderr, " * [new tag]         %s\n", ta.names[i] + 10);
		}
	}
	goto out;
fail:
	rc = cli_fail(c, err);
out:
	snap_dispose(&rb);
	snap_dispose(&tb);
	snap_dispose(&ra);
	snap_dispose(&ta);
	free(url);
	free(shown);
	return rc;
}

/* --- commands ------------------------------------------------------------------ */

int cmd_clone(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { SYNC_LONGOPTS, { 0 } };
	const cli_command *cmd = cli_find_command("clone");
	sync_ctx x;
	char *shown = NULL, *head = NULL;
	grove_strarray branches = { 0 };
	int rc = 0, err;

	if (sync_args(c, cmd, argc, argv, "", longopts, &x, 0, NULL, &rc))
		return rc;
	if (argc - optind != 2)
		return cli_usage_error(c, cmd, "clone: needs URL and LOCATION");
	if (grove_url_redact(argv[optind], &shown) < 0)
		return cli_fail(c, grove_error_code());
	if (!c->quiet && !c->json)
		fprintf(stderr, "Cloning %s into %s...\n", shown, argv[optind + 1]);
	err = grove_clone(argv[optind], argv[optind + 1], &x.opts, &c->g);
	sync_end(&x);
	if (err < 0) {
		free(shown);
		return cli_fail(c, err);
	}
	c->location = argv[optind + 1];
	if ((err = grove_branch_list(c->g, &branches)) < 0 || (err = grove_head_branch(c->g, &head)) < 0) {
		free(shown);
		grove_strarray_dispose(&branches);
		return cli_fail(c, err);
	}
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "url", shown);
		json_kv_string(w, "location", argv[optind + 1]);
		json_kv_string(w, "head", head);
		json_key(w, "branches");
		json_array_begin(w);
		for (size_t i = 0; i < branches.count; i++)
			json_string(w, branches.strings[i]);
		json_array_end(w);
		json_object_end(w);
	} else if (!c->quiet) {
		fprintf(stderr, "Cloned %zu branch%s; HEAD is %s\n", branches.count,
			branches.count == 1 ? "" : "es", head);
	}
	free(head);
	free(shown);
	grove_strarray_dispose(&branches);
	return EXIT_OK;
}

int cmd_fetch(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { SYNC_LONGOPTS, { 0 } };
	const cli_command *cmd = cli_find_command("fetch");
	sync_ctx x;
	int rc = 0;

	if (sync_args(c, cmd, argc, argv, "", longopts, &x, 0, NULL, &rc))
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(c, cmd, "fetch: too many arguments");
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	rc = do_fetch(c, &x, optind < argc ? argv[optind] : "origin");
	if (rc == EXIT_OK && c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "remote", optind < argc ? argv[optind] : "origin");
		json_kv_string(w, "result", "fetched");
		json_object_end(w);
	}
	return rc;
}

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

int cmd_pull(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		SYNC_LONGOPTS,
		{ "message", required_argument, NULL, 'm' },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command("pull");
	const char *remote = NULL, *branch = NULL, *message = NULL;
	char hex[GROVE_OID_HEXSZ + 1];
	grove_commit_opts copts = { 0 };
	grove_conflict_list conflicts = { 0 };
	grove_oid before, after;
	cli_identity ident;
	sync_ctx x;
	int rc = 0, err, unborn = 0;

	if (sync_args(c, cmd, argc, argv, "m:", longopts, &x, 'm', &message, &rc))
		return rc;
	if (argc - optind > 2)
		return cli_usage_error(c, cmd, "pull: too many arguments");
	if (optind < argc)
		remote = argv[optind];
	if (optind + 1 < argc)
		branch = argv[optind + 1];
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if (!branch && (rc = cli_branch(c, &branch)) != 0)
		return rc;
	if ((rc = cli_identity_load(c, &ident)) != 0)
		return rc;
	copts.author = &ident.author;
	copts.committer = &ident.committer;
	copts.message = message ? message : "Merge remote-tracking branch";
	x.opts.commit = &copts;
	err = grove_branch_head(c->g, branch, &before);
	if (err == GROVE_ENOTFOUND)
		unborn = 1;
	grove_error_clear();
	err = grove_pull(c->g, remote, branch, &x.opts, &after, &conflicts);
	sync_end(&x);
	cli_identity_dispose(&ident);
	if (err == GROVE_ECONFLICT) {
		for (size_t i = 0; i < conflicts.count; i++)
			fprintf(stderr, "CONFLICT (%s): %s\n", conflict_name(conflicts.items[i].kind),
				conflicts.items[i].path);
		fprintf(stderr, "grove: pull into '%s' failed with %zu conflict%s; branch '%s' is unchanged\n",
			branch, conflicts.count, conflicts.count == 1 ? "" : "s", branch);
		grove_conflict_list_dispose(&conflicts);
		return EXIT_FAIL;
	}
	grove_conflict_list_dispose(&conflicts);
	if (err < 0)
		return cli_fail(c, err);
	{
		const char *result = !unborn && !grove_oid_cmp(&before, &after) ? "up-to-date" : "updated";
		if (c->json) {
			json_writer *w = cli_json(c);
			json_object_begin(w);
			json_kv_string(w, "branch", branch);
			json_kv_string(w, "result", result);
			json_kv_string(w, "head", grove_oid_tohex(hex, &after));
			json_object_end(w);
		} else if (!c->quiet) {
			if (!strcmp(result, "up-to-date"))
				printf("Already up to date\n");
			else
				printf("%s\n", grove_oid_tohex(hex, &after));
		}
	}
	return EXIT_OK;
}

int cmd_push(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		SYNC_LONGOPTS,
		{ "force", no_argument, NULL, 'f' },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command("push");
	const char *remote = "origin";
	const char *force = NULL;
	sync_ctx x;
	int rc = 0, err;

	if (sync_args(c, cmd, argc, argv, "f", longopts, &x, 'f', &force, &rc))
		return rc;
	x.opts.force = force != NULL;
	if (optind < argc)
		remote = argv[optind++];
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if (optind == argc && c->branch_opt) {
		const char *b;
		if ((rc = cli_branch(c, &b)) != 0)
			return rc;
		err = grove_push(c->g, remote, &b, 1, &x.opts);
	} else {
		err = grove_push(c->g, remote, (const char *const *)(argv + optind), (size_t)(argc - optind), &x.opts);
	}
	sync_end(&x);
	if (err < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "remote", remote);
		json_kv_string(w, "result", "pushed");
		json_object_end(w);
	}
	return EXIT_OK;
}

static void print_time(const char *label, int64_t t)
{
	char buf[64];
	if (!t) {
		printf("  %s: never\n", label);
		return;
	}
	out_format_date(buf, sizeof(buf), t, 0);
	printf("  %s: %s\n", label, buf);
}

int cmd_sync(cli *c, int argc, char **argv)
{
	const cli_command *cmd = cli_find_command("sync");
	char hex[GROVE_OID_HEXSZ + 1];
	grove_sync_status st = { 0 };
	int opt, rc = 0, err;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, &rc)) != -1)
		if (opt == -2)
			return rc;
	if (optind >= argc || strcmp(argv[optind], "status") || argc - optind != 1)
		return cli_usage_error(c, cmd, optind >= argc ? "sync: missing subcommand (status)" :
			"sync: unknown subcommand or extra arguments");
	if ((rc = cli_open(c, 0)) != 0)
		return rc;
	if ((err = grove_sync_status_get(c->g, &st)) < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_key(w, "remotes");
		json_array_begin(w);
		for (size_t i = 0; i < st.remote_count; i++) {
			grove_remote_sync *r = &st.remotes[i];
			json_object_begin(w);
			json_kv_string(w, "name", r->name);
			json_kv_string(w, "url", r->url);
			json_kv_int(w, "last_fetch", r->last_fetch);
			json_kv_int(w, "last_push", r->last_push);
			json_key(w, "last_error");
			if (r->last_error)
				json_string(w, r->last_error);
			else
				json_null(w);
			json_object_end(w);
		}
		json_array_end(w);
		json_key(w, "branches");
		json_array_begin(w);
		for (size_t i = 0; i < st.branch_count; i++) {
			grove_branch_sync *b = &st.branches[i];
			json_object_begin(w);
			json_kv_string(w, "branch", b->branch);
			json_key(w, "upstream");
			if (b->remote) {
				char up[1024];
				snprintf(up, sizeof(up), "%s/%s", b->remote, b->remote_branch);
				json_string(w, up);
			} else {
				json_null(w);
			}
			json_key(w, "upstream_head");
			if (grove_oid_is_zero(&b->upstream))
				json_null(w);
			else
				json_string(w, grove_oid_tohex(hex, &b->upstream));
			json_kv_uint(w, "ahead", b->ahead);
			json_kv_uint(w, "behind", b->behind);
			json_object_end(w);
		}
		json_array_end(w);
		json_object_end(w);
	} else {
		for (size_t i = 0; i < st.remote_count; i++) {
			grove_remote_sync *r = &st.remotes[i];
			printf("remote %s %s\n", r->name, r->url);
			print_time("last fetch", r->last_fetch);
			print_time("last push", r->last_push);
			if (r->last_error)
				printf("  last error: %s\n", r->last_error);
		}
		for (size_t i = 0; i < st.branch_count; i++) {
			grove_branch_sync *b = &st.branches[i];
			if (!b->remote)
				printf("branch %s: no upstream\n", b->branch);
			else if (grove_oid_is_zero(&b->upstream))
				printf("branch %s -> %s/%s: not fetched yet\n", b->branch, b->remote, b->remote_branch);
			else
				printf("branch %s -> %s/%s: ahead %zu, behind %zu\n", b->branch, b->remote,
					b->remote_branch, b->ahead, b->behind);
		}
	}
	grove_sync_status_dispose(&st);
	return EXIT_OK;
}
