/* cli.h - shared state and helpers of the grove command-line tool. */
#ifndef GROVE_CLI_H
#define GROVE_CLI_H

#include "grove.h"
#include "json.h"

#include <stdio.h>

/* Exit codes (documented in --help and grove(1)). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,      /* not found, conflict, fsck problems, exists */
	EXIT_USAGE = 2,     /* unknown command or option, missing argument */
	EXIT_INVALID = 3,   /* invalid key, ref name or other input */
	EXIT_MOVED = 4,     /* branch head moved, lock held */
	EXIT_STORE = 5      /* store error: corrupt, I/O, disk full, read-only */
};

typedef struct cli {
	const char *location;  /* -C/--store, $GROVE_STORE or ./grove-data */
	const char *branch_opt;/* --branch, NULL = HEAD's branch */
	int json;
	int quiet;
	int read_only;
	grove *g;              /* opened by cli_open */
	char *branch;          /* resolved by cli_branch */
	/* --json output is collected here and written only on success, so a
	 * failure never leaves half a document on stdout. */
	char *json_buf;
	size_t json_len;
	FILE *json_mem;
	int json_direct;       /* open_memstream failed: writing to stdout */
	json_writer jw;
} cli;

typedef struct {
	const char *name;
	int (*run)(cli *c, int argc, char **argv);
	const char *usage;     /* first line: "grove get [--rev REV] KEY" */
	const char *summary;   /* one line for the command list */
} cli_command;

/* --- main.c --------------------------------------------------------------- */
/* Opens the store (create: for init).  Returns an exit code, 0 on success. */
int cli_open(cli *c, int create);
/* The branch commands act on: --branch or HEAD's branch. */
int cli_branch(cli *c, const char **out);
/* Prints "grove: <library message>" and maps a grove code to an exit code. */
int cli_fail(cli *c, int code);
/* Prints "grove: <message>" and returns code (an exit code). */
int cli_error(cli *c, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Usage error for a command: message, a hint, exit 2. */
int cli_usage_error(cli *c, const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Maps a grove_code to an exit code. */
int cli_exit_code(int code);
/* For writes that may simply be tried again: when err is GROVE_ELOCKED or
 * GROVE_EHEADMOVED (another writer was busy), sleeps a little and returns 1
 * while *attempt stays under the limit (about five seconds in all). */
int cli_should_retry(int err, int *attempt);
/* The --json writer (never NULL); the command writes one document. */
json_writer *cli_json(cli *c);
/* Looks up a command by name (for help). */
const cli_command *cli_find_command(const char *name);

/*
 * Parses a command's options with getopt_long.  Handles --help (prints the
 * usage, returns -1 with *exit_code 0) and unknown options (returns -1 with
 * *exit_code 2).  Otherwise returns like getopt_long.
 */
struct option;
int cli_getopt(cli *c, const cli_command *cmd, int argc, char **argv, const char *shortopts,
	const struct option *longopts, int *exit_code);
void cli_print_usage(const cli_command *cmd, FILE *out);

/* --- output.c ------------------------------------------------------------- */
/* "Mon Jan 2 15:04:05 2006 +0100", in the commit's own time zone, like git. */
void out_format_date(char *buf, size_t len, int64_t time, int tz_offset);
void out_commit_header(const grove_commit *commit);
void out_json_commit(json_writer *w, const grove_commit *commit);
void out_json_person(json_writer *w, const char *key, const grove_person *p);
const char *out_kind_name(grove_kind kind);
/* "A", "M" or "D". */
const char *out_diff_status(grove_diff_kind kind);
void out_json_diff(json_writer *w, const grove_diff *diff);
/* Writes the whole buffer to stdout; returns 0 or -1 (errno set). */
int out_write_all(const void *data, size_t len);
/* Writes the whole buffer to file descriptor 1, past stdio (the protocol
 * engines' output callback for receive-pack and upload-pack; payload is
 * unused); returns 0 or -1. */
int out_write_stdout_unbuffered(void *payload, const void *data, size_t len);

/* --- signature.c ------------------------------------------------------------ */
/* Author and committer from the environment ($GROVE_AUTHOR_NAME, $GIT_AUTHOR_*,
 * the user name...).  Returns an exit code. */
typedef struct {
	grove_signature author, committer;
	char *author_name, *author_email, *committer_name, *committer_email;
} cli_identity;
int cli_identity_load(cli *c, cli_identity *id);
void cli_identity_dispose(cli_identity *id);
/* Parses "@1700000000 +0100", "1700000000 +0100" or ISO 8601.  0 or -1. */
int cli_parse_date(const char *s, int64_t *time, int *tz_offset);

/* --- rev.c ------------------------------------------------------------------ */
/* Resolves a revision: anything grove_rev_resolve takes, plus an abbreviated
 * commit id (4+ hex digits, unique among commits reachable from refs) and
 * the suffixes ~N, ^ and ^N.  Returns a grove code. */
int cli_rev_resolve(cli *c, const char *rev, grove_oid *out);

/* --- cmd_kv.c ---------------------------------------------------------------- */
/* A view at rev (cli_rev_resolve syntax), or at the branch head when rev is
 * NULL (an unborn branch gives an empty view).  Returns an exit code. */
int cli_view_open(cli *c, const char *rev, grove_view **out);
/* A directory argument without trailing '/' ("", "." and "/" are the root);
 * points into arg or at "". */
const char *cli_dir_arg(char *arg);

/* --- commands ------------------------------------------------------------- */
int cmd_init(cli *c, int argc, char **argv);
int cmd_get(cli *c, int argc, char **argv);
int cmd_set(cli *c, int argc, char **argv);
int cmd_rm(cli *c, int argc, char **argv);
int cmd_ls(cli *c, int argc, char **argv);
int cmd_tree(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_diff(cli *c, int argc, char **argv);
int cmd_branch(cli *c, int argc, char **argv);
int cmd_switch(cli *c, int argc, char **argv);
int cmd_merge(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_fsck(cli *c, int argc, char **argv);
int cmd_gc(cli *c, int argc, char **argv);
int cmd_stats(cli *c, int argc, char **argv);
int cmd_receive_pack(cli *c, int argc, char **argv);
int cmd_upload_pack(cli *c, int argc, char **argv);
int cmd_daemon(cli *c, int argc, char **argv);
int cmd_serve(cli *c, int argc, char **argv);
int cmd_user(cli *c, int argc, char **argv);
int cmd_remote(cli *c, int argc, char **argv);
int cmd_clone(cli *c, int argc, char **argv);
int cmd_fetch(cli *c, int argc, char **argv);
int cmd_pull(cli *c, int argc, char **argv);
int cmd_push(cli *c, int argc, char **argv);
int cmd_sync(cli *c, int argc, char **argv);

#endif
