/* grove - command-line access to a grove store: global options, the command
 * table, error reporting and exit codes. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STORE "./grove-data"

static const cli_command commands[] = {
	{ "init", cmd_init, "grove init [LOCATION]",
	  "Create a store (lmdb:PATH, git:PATH or a bare PATH)" },
	{ "get", cmd_get, "grove get [--rev REV] KEY\n\n"
	  "Writes the value of KEY to stdout, byte for byte.\n\n"
	  "  --rev REV   read at a commit, branch or tag instead of the branch head",
	  "Print the value of a key" },
	{ "set", cmd_set, "grove set [-m MESSAGE] KEY [VALUE]\n\n"
	  "Stores VALUE under KEY and commits it on the branch.  Without VALUE, or\n"
	  "with VALUE \"-\", the value is read from stdin.\n\n"
	  "  -m, --message MESSAGE   commit message (default \"set KEY\")\n\n"
	  "The author comes from $GROVE_AUTHOR_NAME/$GROVE_AUTHOR_EMAIL, else\n"
	  "$GIT_AUTHOR_NAME/$GIT_AUTHOR_EMAIL, else the user name; dates from\n"
	  "$GIT_AUTHOR_DATE/$GIT_COMMITTER_DATE (\"@SECONDS +HHMM\" or ISO 8601).",
	  "Set a key and commit" },
	{ "rm", cmd_rm, "grove rm [-m MESSAGE] KEY\n\n"
	  "Removes a value or a whole directory and commits.\n\n"
	  "  -m, --message MESSAGE   commit message (default \"rm KEY\")",
	  "Remove a key or directory and commit" },
	{ "ls", cmd_ls, "grove ls [-r] [--rev REV] [DIR]\n\n"
	  "Lists a directory (default: the root); directories end in '/'.\n\n"
	  "  -r, --recursive   list every key below DIR\n"
	  "  --rev REV         list at a commit, branch or tag",
	  "List keys" },
	{ "tree", cmd_tree, "grove tree [--rev REV] [DIR]\n\n"
	  "Prints the keys below DIR as an indented tree.\n\n"
	  "  --rev REV   show the tree at a commit, branch or tag",
	  "Show keys as a tree" },
	{ "log", cmd_log, "grove log [-n N] [--skip N] [--oneline] [--first-parent] [REV] [-- PATH]\n\n"
	  "Shows the history of the branch (or REV), newest first.  With PATH, only\n"
	  "the commits that changed that key or directory.  A lone argument that is\n"
	  "not a revision is taken as PATH.\n\n"
	  "  -n, --max-count N   show at most N commits\n"
	  "  --skip N            skip the first N commits\n"
	  "  --oneline           \"<short id> <subject>\" per commit\n"
	  "  --first-parent      follow only the first parent of merges",
	  "Show commit history" },
	{ "show", cmd_show, "grove show [COMMIT]\n\n"
	  "Prints the commit header and its changes against the first parent\n"
	  "(\"A path\", \"M path\", \"D path\").  COMMIT defaults to the branch head.",
	  "Show a commit and its changes" },
	{ "diff", cmd_diff, "grove diff [--prefix DIR] A [B]\n\n"
	  "Lists the keys that differ between revisions A and B (default: the branch\n"
	  "head) as \"A path\", \"M path\" or \"D path\".\n\n"
	  "  --prefix DIR   only keys below DIR",
	  "Compare two revisions" },
	{ "branch", cmd_branch, "grove branch [-v]\n"
	  "       grove branch [-f] NAME [START]\n"
	  "       grove branch -d NAME\n\n"
	  "Without arguments, lists branches with '*' before HEAD's branch.\n\n"
	  "  -f, --force     create NAME even if it exists (moves it to START)\n"
	  "  -d, --delete    delete NAME\n"
	  "  -v, --verbose   show each branch's head commit",
	  "List, create or delete branches" },
	{ "switch", cmd_switch, "grove switch BRANCH\n\n"
	  "Makes BRANCH the store's HEAD branch (the default for --branch).",
	  "Change the store's HEAD branch" },
	{ "merge", cmd_merge, "grove merge [--no-ff] [-m MESSAGE] REV\n\n"
	  "Merges REV into the branch.  Prints the new commit, \"Fast-forward\" or\n"
	  "\"Already up to date\".  On conflict, prints one line per conflict,\n"
	  "\"CONFLICT (content|add/add|modify/delete|file/directory): path\", to\n"
	  "stderr, leaves the branch unchanged and exits 1.\n\n"
	  "  --no-ff                 always create a merge commit\n"
	  "  -m, --message MESSAGE   merge commit message",
	  "Merge a revision into the branch" },
	{ "export", cmd_export, "grove export GITDIR\n\n"
	  "Writes every object and ref into the bare git repository GITDIR\n"
	  "(created if missing).",
	  "Copy the store into a git repository" },
	{ "import", cmd_import, "grove import GITDIR\n\n"
	  "Reads every ref of the git repository GITDIR and the objects they reach.",
	  "Copy a git repository into the store" },
	{ "fsck", cmd_fsck, "grove fsck\n\n"
	  "Checks every object reachable from a ref; prints problems, exits 1 if any.",
	  "Verify the store" },
	{ "gc", cmd_gc, "grove gc\n\n"
	  "Removes objects no ref reaches and prints how many.",
	  "Remove unreachable objects" },
	{ "stats", cmd_stats, "grove stats\n\n"
	  "Prints object count, object bytes, disk bytes, refs and deltas.",
	  "Show store statistics" },
	{ "receive-pack", cmd_receive_pack,
	  "grove receive-pack [--stateless-rpc] [--advertise-refs] [--allow-non-ff] LOCATION\n\n"
	  "Serves `git push` on stdin/stdout: git push --receive-pack='grove receive-pack' LOCATION.\n\n"
	  "  --stateless-rpc      one request in, one response out (smart HTTP)\n"
	  "  --advertise-refs     only print the ref advertisement\n"
	  "  --allow-non-ff       accept non-fast-forward updates (also GROVE_ALLOW_NON_FF=1)\n"
	  "  --max-pack-size N, --max-objects N, --max-commands N   limits",
	  "Receive a git push (server side)" },
	{ "upload-pack", cmd_upload_pack,
	  "grove upload-pack [--stateless-rpc] [--advertise-refs] LOCATION\n\n"
	  "Serves `git fetch`/`git clone` on stdin/stdout: git clone -u 'grove upload-pack' LOCATION DIR.\n"
	  "Protocol v2 when GIT_PROTOCOL contains version=2.\n\n"
	  "  --stateless-rpc      one request in, one response out (smart HTTP)\n"
	  "  --advertise-refs     only print the ref advertisement",
	  "Serve a git fetch or clone (server side)" },
	{ "daemon", cmd_daemon,
	  "grove daemon [--listen ADDR] [--port PORT] [--base-path DIR] [--enable-receive-pack]\n"
	  "             [--allow-non-ff] [--max-connections N] [--workers N]\n\n"
	  "Serves the stores under DIR over git:// (git clone git://HOST/NAME).  NAME is\n"
	  "DIR/NAME: an lmdb store directory, or a bare git repository (also DIR/NAME.git).\n"
	  "Read-only unless --enable-receive-pack.  Protocol v2 when the client asks.\n"
	  "One log line per connection on stderr; SIGTERM/SIGINT stop it gracefully.\n\n"
	  "  --listen ADDR           address to listen on (default: all)\n"
	  "  --port PORT             TCP port (default 9418; 0 picks one, printed on stderr)\n"
	  "  --base-path DIR         directory holding the stores (default .)\n"
	  "  --enable-receive-pack   allow git push\n"
	  "  --allow-non-ff          accept non-fast-forward pushes\n"
	  "  --max-connections N     refuse connections beyond N (default 1024)\n"
	  "  --workers N             threads building packs (default: CPUs, 2 to 8)",
	  "Serve stores over git://" },
	{ "serve", cmd_serve,
	  "grove serve [--store LOCATION] [--listen ADDR:PORT] [--htpasswd FILE] [--git-admin USER]...\n"
	  "       grove serve --stores DIR [--listen ADDR:PORT] [--htpasswd FILE] [--anonymous-read]\n"
	  "            [--allow-non-ff] [--max-connections N] [--workers N] [--max-request-mb N]\n"
	  "            [--upstream URL [--upstream-branch B] [--push-delay-ms N] [--fetch-interval S]\n"
	  "             [--hook-token-file FILE]]\n\n"
	  "HTTP server.  Main mode: one store (default lmdb:./grove-data/store, created\n"
	  "if missing) served as CalDAV and CardDAV under /dav/ (and /.well-known/caldav,\n"
	  "/.well-known/carddav) to the users of FILE (default ./grove-data/htpasswd, see\n"
	  "grove user); each user sees only /dav/USER/.  Git smart HTTP: each user's own\n"
	  "data at /git/users/USER.git (branch main: calendars/..., addressbooks/...; a\n"
	  "projection of the store's history; fast-forward pushes land in the store at\n"
	  "once; anyone else gets 404), and the whole store at /git/store for the\n"
	  "--git-admin users only (other users get 403).  Pushes must carry valid\n"
	  "iCalendar/vCard.\n\n"
	  "Stores mode (--stores DIR): git smart HTTP only, for the stores under DIR at\n"
	  "/git/NAME (NAME resolves as for grove daemon).  Push needs HTTP Basic\n"
	  "credentials from FILE (htpasswd lines user:hash, bcrypt or sha-crypt); so does\n"
	  "fetch unless --anonymous-read.  One access-log line per request on stderr;\n"
	  "SIGTERM/SIGINT stop it gracefully.\n\n"
	  "  --store LOCATION        main mode: the store (default lmdb:./grove-data/store)\n"
	  "  --git-admin USER        main mode: USER may use git on the whole store (repeatable)\n"
	  "  --listen ADDR:PORT      default 127.0.0.1:8080 (port 0 picks one, printed on stderr)\n"
	  "  --stores DIR            stores mode: directory holding the stores\n"
	  "  --htpasswd FILE         the users (default ./grove-data/htpasswd in main mode)\n"
	  "  --anonymous-read        stores mode: clone and fetch without credentials\n"
	  "  --allow-non-ff          accept non-fast-forward pushes\n"
	  "  --max-connections N     refuse connections beyond N (default 1024)\n"
	  "  --workers N             threads building packs (default: CPUs, 2 to 8)\n"
	  "  --max-request-mb N      largest request body, i.e. push (default 512)\n"
	  "  --upstream URL          main mode: sync the store's HEAD branch with this git\n"
	  "                          remote (\"origin\"): fetched and merged at start, every\n"
	  "                          write pushed (coalesced), retried with backoff when down\n"
	  "  --upstream-branch B     the remote's branch (default: the same name)\n"
	  "  --push-delay-ms N       at most one push every N ms (default 500)\n"
	  "  --fetch-interval S      fetch every S seconds (default: only on the webhook)\n"
	  "  --hook-token-file FILE  POST /hooks/sync (fetch now) and GET (state, JSON) accept\n"
	  "                          the header X-Grove-Token with this file's first line;\n"
	  "                          --git-admin users' Basic credentials always work",
	  "Serve CalDAV, CardDAV and git over HTTP" },
	{ "user", cmd_user,
	  "grove user [--htpasswd FILE] add|passwd NAME [--password-stdin]\n"
	  "       grove user [--htpasswd FILE] remove NAME\n"
	  "       grove user [--htpasswd FILE] list\n\n"
	  "Manage the accounts of grove serve in an htpasswd file (default\n"
	  "./grove-data/htpasswd).  Passwords are hashed with bcrypt ($2b$, cost 10;\n"
	  "sha512-crypt where bcrypt is missing), read from the terminal without echo\n"
	  "or, with --password-stdin, from the first line of stdin.  The file is\n"
	  "replaced atomically (mode 0600).  Names: letters, digits and ._- only.",
	  "Manage grove serve's users (htpasswd)" },
	{ "remote", cmd_remote,
	  "grove remote [-v] [list]\n"
	  "       grove remote add|set-url NAME URL\n"
	  "       grove remote remove NAME\n\n"
	  "Remotes are git URLs (file://, a path, git://, http(s)://, ssh://, user@host:path)\n"
	  "kept in the store itself (ref refs/grove/config).  A password in URL is not\n"
	  "stored: use $GROVE_REMOTE_USER with $GROVE_REMOTE_PASSWORD or $GROVE_REMOTE_TOKEN.\n\n"
	  "  -v, --verbose   list URLs too",
	  "Manage the store's remotes" },
	{ "clone", cmd_clone, "grove clone [--ca-file FILE] [--ssh-key FILE] [--timeout SECONDS] URL LOCATION\n\n"
	  "Creates the store LOCATION from the git repository at URL: remote \"origin\",\n"
	  "a local branch for each remote branch (with it as upstream), the remote's\n"
	  "HEAD branch as the store's.  Progress on a terminal unless -q.\n\n"
	  "  --ca-file FILE   also trust the CA certificates in FILE for https\n"
	  "  --ssh-key FILE   ssh private key (default: $GROVE_SSH_KEY, else the ssh agent)\n"
  "  --timeout SECONDS   give up on a remote silent this long (default\n"
	  "                      $GROVE_SYNC_TIMEOUT, else 60; 0: wait forever)",
	  "Create a store from a git remote" },
	{ "fetch", cmd_fetch, "grove fetch [--ca-file FILE] [--ssh-key FILE] [--timeout SECONDS] [REMOTE]\n\n"
	  "Downloads the branches and new tags of REMOTE (default origin) into\n"
	  "refs/remotes/REMOTE/ and refs/tags/; the store's branches do not move.\n\n"
  "  --timeout SECONDS   give up on a remote silent this long (default\n"
	  "                      $GROVE_SYNC_TIMEOUT, else 60; 0: wait forever)",
	  "Download from a remote" },
	{ "pull", cmd_pull, "grove pull [-m MESSAGE] [--ca-file FILE] [--ssh-key FILE] [--timeout SECONDS] [REMOTE] [BRANCH]\n\n"
	  "Fetches, then merges the upstream of the branch (or REMOTE's branch of the\n"
	  "same name) into it, like grove merge; conflicts leave the branch unchanged\n"
	  "and exit 1.\n\n"
	  "  -m, --message MESSAGE   merge commit message\n"
  "  --timeout SECONDS   give up on a remote silent this long (default\n"
	  "                      $GROVE_SYNC_TIMEOUT, else 60; 0: wait forever)",
	  "Fetch and merge from a remote" },
	{ "push", cmd_push, "grove push [-f] [--ca-file FILE] [--ssh-key FILE] [--timeout SECONDS] [REMOTE] [REFSPEC...]\n\n"
	  "Sends branches to REMOTE (default origin).  REFSPEC: BRANCH, SRC:DST or\n"
	  "+SRC:DST; default the branch (--branch or HEAD's).  A non-fast-forward\n"
	  "update is refused with exit 1 (pull first) unless forced.\n\n"
	  "  -f, --force   allow non-fast-forward updates\n"
  "  --timeout SECONDS   give up on a remote silent this long (default\n"
	  "                      $GROVE_SYNC_TIMEOUT, else 60; 0: wait forever)",
	  "Send branches to a remote" },
	{ "sync", cmd_sync, "grove sync status\n\n"
	  "Per remote: URL, last fetch, last push, last error.  Per branch: its\n"
	  "upstream and how many commits it is ahead and behind (as of the last fetch).",
	  "Show the replication state" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_code_help[] =
	"Exit status:\n"
	"  0  success\n"
	"  1  not found, already exists, merge conflict, not a fast-forward, fsck problems\n"
	"  2  usage error (unknown command or option, missing argument)\n"
	"  3  invalid input (bad key or ref name)\n"
	"  4  the branch head moved during the command, or a lock is held\n"
	"  5  store error (corrupt, I/O error, disk full, read-only)\n";

static void print_main_usage(FILE *out)
{
	fputs("usage: grove [-C LOCATION] [--branch NAME] [--json] [-q] [--read-only]\n"
	      "             COMMAND [ARGS]\n\n"
	      "Global options:\n"
	      "  -C, --store LOCATION  the store: lmdb:PATH, git:PATH, mem: or PATH\n"
	      "                        (default: $GROVE_STORE, else " DEFAULT_STORE ")\n"
	      "  --branch NAME         branch to act on (default: the store's HEAD branch)\n"
	      "  --json                machine-readable output: one JSON document on stdout\n"
	      "  -q, --quiet           print less\n"
	      "  --read-only           open the store read-only; writes fail with status 5\n"
	      "  -h, --help            this help; `grove COMMAND --help` for a command\n"
	      "  --version             print the version\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputc('\n', out);
	fputs(exit_code_help, out);
}

void cli_print_usage(const cli_command *cmd, FILE *out)
{
	fprintf(out, "usage: %s\n\n", cmd->usage);
	fputs(exit_code_help, out);
}

const cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int cli_exit_code(int code)
{
	switch (code) {
	case GROVE_OK:
		return EXIT_OK;
	case GROVE_ENOTFOUND:
	case GROVE_EEXISTS:
	case GROVE_ECONFLICT:
	case GROVE_ENOTFF:
		return EXIT_FAIL;
	case GROVE_EINVALID:
		return EXIT_INVALID;
	case GROVE_EHEADMOVED:
	case GROVE_ELOCKED:
		return EXIT_MOVED;
	default:
		return EXIT_STORE;
	}
}

/* Remembered for the --json error document. */
static char last_error[1024];
static const char *last_error_code;

static int report(cli *c, int exit_code, const char *code_name, const char *msg)
{
	(void)c;
	fprintf(stderr, "grove: %s\n", msg);
	snprintf(last_error, sizeof(last_error), "%s", msg);
	last_error_code = code_name;
	return exit_code;
}

int cli_fail(cli *c, int code)
{
	const char *msg = grove_error_message();
	char fallback[64];
	if (!msg || !*msg) {
		snprintf(fallback, sizeof(fallback), "failed (%s)", grove_code_name(code));
		msg = fallback;
	}
	return report(c, cli_exit_code(code), grove_code_name(code), msg);
}

int cli_error(cli *c, int exit_code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return report(c, exit_code, exit_code == EXIT_USAGE ? "usage" : "error", msg);
}

int cli_usage_error(cli *c, const cli_command *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(c, EXIT_USAGE, "usage", msg);
	if (cmd)
		fprintf(stderr, "usage: %.*s\n(see 'grove %s --help')\n", (int)strcspn(cmd->usage, "\n"),
			cmd->usage, cmd->name);
	return EXIT_USAGE;
}

int cli_getopt(cli *c, const cli_command *cmd, int argc, char **argv, const char *shortopts,
	const struct option *longopts, int *exit_code)
{
	enum { HELP = 0x1000, QUIET = 0x1001 };
	struct option all[25];
	char shorts[64];
	size_t n = 0;
	int opt;

	/* Every command takes --help; the caller's table gets it appended. */
	for (; longopts && longopts[n].name && n < 22; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){ "help", no_argument, NULL, HELP };
	/* -q/--quiet is accepted after the command too, as git does. */
	all[n++] = (struct option){ "quiet", no_argument, NULL, QUIET };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	/* A leading ':' makes a missing argument ':' rather than '?'. */
	snprintf(shorts, sizeof(shorts), ":%s%s", shortopts ? shortopts : "",
		shortopts && strchr(shortopts, 'q') ? "" : "q");
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, all, NULL)) == QUIET ||
	       (opt == 'q' && !(shortopts && strchr(shortopts, 'q'))))
		c->quiet = 1;
	if (opt == HELP) {
		cli_print_usage(cmd, stdout);
		*exit_code = EXIT_OK;
		return -2;
	}
	if (opt == '?') {
		if (optopt)
			cli_usage_error(c, cmd, "%s: unknown option '-%c'", cmd->name, optopt);
		else
			cli_usage_error(c, cmd, "%s: unknown option '%s'", cmd->name, argv[optind - 1]);
		*exit_code = EXIT_USAGE;
		return -2;
	}
	if (opt == ':') {
		cli_usage_error(c, cmd, "%s: option '%s' needs an argument", cmd->name, argv[optind - 1]);
		*exit_code = EXIT_USAGE;
		return -2;
	}
	return opt;
}

int cli_open(cli *c, int create)
{
	grove_options opts = GROVE_OPTIONS_INIT;
	int err;
	opts.create = create;
	opts.read_only = c->read_only;
	err = grove_open(&c->g, c->location, &opts);
	if (err == GROVE_ENOTFOUND && !create) {
		cli_fail(c, err);
		fprintf(stderr, "hint: run 'grove -C %s init' to create it\n", c->location);
		return EXIT_FAIL;
	}
	if (err < 0)
		return cli_fail(c, err);
	return 0;
}

int cli_branch(cli *c, const char **out)
{
	int err;
	if (!c->branch) {
		if (c->branch_opt) {
			if ((err = grove_branch_name_validate(c->branch_opt)) < 0)
				return cli_fail(c, err);
			c->branch = strdup(c->branch_opt);
			if (!c->branch)
				return cli_error(c, EXIT_STORE, "out of memory");
		} else if ((err = grove_head_branch(c->g, &c->branch)) < 0) {
			return cli_fail(c, err);
		}
	}
	*out = c->branch;
	return 0;
}

int cli_should_retry(int err, int *attempt)
{
	struct timespec ts;
	if ((err != GROVE_ELOCKED && err != GROVE_EHEADMOVED) || *attempt >= 250)
		return 0;
	(*attempt)++;
	/* 10-30 ms, jittered by pid and attempt so racing writers spread out. */
	ts.tv_sec = 0;
	ts.tv_nsec = (10 + (long)((getpid() * 7 + *attempt * 13) % 21)) * 1000000L;
	nanosleep(&ts, NULL);
	grove_error_clear();
	return 1;
}

json_writer *cli_json(cli *c)
{
	if (!c->json_mem && !c->json_direct) {
		c->json_mem = open_memstream(&c->json_buf, &c->json_len);
		/* Out of memory already: write straight to stdout instead. */
		json_init(&c->jw, c->json_mem ? c->json_mem : stdout);
		c->json_direct = !c->json_mem;
	}
	return &c->jw;
}

/* Finishes --json output: the command's document, or an error document. */
static int finish_json(cli *c, int rc)
{
	if (c->json_mem) {
		fclose(c->json_mem);
		c->json_mem = NULL;
	}
	if (last_error_code) {
		json_writer w;
		json_init(&w, stdout);
		json_object_begin(&w);
		json_key(&w, "error");
		json_object_begin(&w);
		json_kv_string(&w, "code", last_error_code);
		json_kv_string(&w, "message", last_error);
		json_kv_int(&w, "exit", rc);
		json_object_end(&w);
		json_object_end(&w);
		fputc('\n', stdout);
	} else if (c->json_direct) {
		fputc('\n', stdout);
	} else if (c->json_buf && c->json_len) {
		fwrite(c->json_buf, 1, c->json_len, stdout);
		fputc('\n', stdout);
	}
	free(c->json_buf);
	c->json_buf = NULL;
	return rc;
}

/* Matches "--name VALUE" and "--name=VALUE" (and -X VALUE for short). */
static int take_value(int argc, char **argv, int *i, const char *shortname, const char *longname,
	const char **value, int *missing)
{
	const char *a = argv[*i];
	size_t n = strlen(longname);
	if ((shortname && !strcmp(a, shortname)) || !strcmp(a, longname)) {
		if (*i + 1 >= argc) {
			*missing = 1;
			return 1;
		}
		*value = argv[++*i];
		return 1;
	}
	if (!strncmp(a, longname, n) && a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	return 0;
}

/* With stdin, stdout or stderr closed, the store's files would get those
 * descriptors: `set` would read a data file as the value, and messages
 * would be written into it.  Park /dev/null on any closed one. */
static void sanitize_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			int nfd = open("/dev/null", O_RDWR);
			if (nfd < 0)
				exit(EXIT_STORE);
			if (nfd > 2)
				close(nfd); /* cannot happen: fd was free and is the lowest */
		}
	}
}

int main(int argc, char **argv)
{
	cli c = { 0 };
	const cli_command *cmd;
	int i, rc, missing = 0;

	sanitize_std_fds();
	c.location = getenv("GROVE_STORE");
	if (!c.location || !*c.location)
		c.location = DEFAULT_STORE;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (take_value(argc, argv, &i, "-C", "--store", &c.location, &missing) ||
		    take_value(argc, argv, &i, NULL, "--branch", &c.branch_opt, &missing)) {
			if (missing) {
				fprintf(stderr, "grove: option '%s' needs an argument\n", a);
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--json")) {
			c.json = 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			c.quiet = 1;
		} else if (!strcmp(a, "--read-only")) {
			c.read_only = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_main_usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "--version")) {
			printf("grove version %s\n", GROVE_VERSION_STRING);
			return EXIT_OK;
		} else {
			fprintf(stderr, "grove: unknown option '%s'\n", a);
			fprintf(stderr, "usage: grove [GLOBAL OPTIONS] COMMAND [ARGS]; see grove --help\n");
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 < argc) {
			cmd = cli_find_command(argv[i + 1]);
			if (!cmd) {
				fprintf(stderr, "grove: '%s' is not a grove command\n", argv[i + 1]);
				return EXIT_USAGE;
			}
			cli_print_usage(cmd, stdout);
		} else {
			print_main_usage(stdout);
		}
		return EXIT_OK;
	}
	cmd = cli_find_command(argv[i]);
	if (!cmd) {
		fprintf(stderr, "grove: '%s' is not a grove command; see 'grove --help'\n", argv[i]);
		return EXIT_USAGE;
	}
	rc = cmd->run(&c, argc - i, argv + i);
	if (c.json)
		rc = finish_json(&c, rc);
	else if (c.json_mem) {
		fclose(c.json_mem);
		free(c.json_buf);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "grove: cannot write to stdout\n");
		if (!rc)
			rc = EXIT_STORE;
	}
	grove_close(c.g);
	free(c.branch);
	return rc;
}
