/* Commands on keys and values: init, get, set, rm, ls, tree. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_view_open(cli *c, const char *rev, grove_view **out)
{
	const char *branch;
	grove_oid id;
	int rc, err;
	if (rev) {
		if ((rc = cli_rev_resolve(c, rev, &id)) != 0)
			return rc;
		err = grove_view_open_commit(out, c->g, &id);
	} else {
		if ((rc = cli_branch(c, &branch)) != 0)
			return rc;
		err = grove_view_open(out, c->g, branch);
	}
	return err < 0 ? cli_fail(c, err) : 0;
}

const char *cli_dir_arg(char *arg)
{
	size_t n;
	if (!arg)
		return "";
	n = strlen(arg);
	while (n > 1 && arg[n - 1] == '/')
		arg[--n] = 0;
	if (!strcmp(arg, ".") || !strcmp(arg, "/"))
		return "";
	return arg;
}

/* --- init ----------------------------------------------------------------- */

int cmd_init(cli *c, int argc, char **argv)
{
	const cli_command *cmd = cli_find_command("init");
	int opt, rc = 0, existed, err;
	grove_options opts = GROVE_OPTIONS_INIT;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", NULL, &rc)) != -1)
		if (opt == -2)
			return rc;
	if (argc - optind > 1)
		return cli_usage_error(c, cmd, "init: too many arguments");
	if (optind < argc)
		c->location = argv[optind];
	if (c->read_only)
		return cli_error(c, EXIT_STORE, "init: cannot create a store with --read-only");
	/* Open without create first, to say whether the store was already there. */
	opts.create = 0;
	err = grove_open(&c->g, c->location, &opts);
	existed = err == 0;
	if (err == GROVE_ENOTFOUND) {
		grove_error_clear();
		opts.create = 1;
		err = grove_open(&c->g, c->location, &opts);
	}
	if (err < 0)
		return cli_fail(c, err);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "location", c->location);
		json_kv_string(w, "backend", grove_backend_name(c->g));
		json_kv_bool(w, "created", !existed);
		json_object_end(w);
	} else if (!c->quiet) {
		printf("%s %s grove store in %s\n", existed ? "Reinitialized existing" : "Initialized empty",
			grove_backend_name(c->g), c->location);
	}
	return 0;
}

/* --- get ------------------------------------------------------------------ */

int cmd_get(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = { { "rev", required_argument, NULL, 'r' }, { 0 } };
	const cli_command *cmd = cli_find_command("get");
	const char *rev = NULL, *key;
	grove_view *view = NULL;
	grove_buf value = { 0 };
	int opt, rc = 0, err;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'r')
			rev = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(c, cmd, argc - optind ? "get: too many arguments" : "get: missing KEY");
	key = argv[optind];
	if ((err = grove_key_validate(key)) < 0)
		return cli_fail(c, err);
	if ((rc = cli_open(c, 0)) != 0 || (rc = cli_view_open(c, rev, &view)) != 0)
		return rc;
	err = grove_view_get(view, key, &value);
	if (err < 0) {
		rc = cli_fail(c, err);
	} else if (c->json) {
		char hex[GROVE_OID_HEXSZ + 1];
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "key", key);
		json_kv_uint(w, "size", value.size);
		json_kv_bytes(w, "value", value.data, value.size);
		json_key(w, "commit");
		if (grove_oid_is_zero(grove_view_commit(view)))
			json_null(w);
		else
			json_string(w, grove_oid_tohex(hex, grove_view_commit(view)));
		json_object_end(w);
	} else if (out_write_all(value.data, value.size) < 0) {
		rc = cli_error(c, EXIT_STORE, "cannot write to stdout");
	}
	grove_buf_dispose(&value);
	grove_view_free(view);
	return rc;
}

/* --- set / rm ------------------------------------------------------------- */

/* Reads all of stdin; binary-safe. */
static int read_stdin(cli *c, char **data, size_t *size)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return cli_error(c, EXIT_STORE, "out of memory");
	for (;;) {
		ssize_t n;
		if (len == cap) {
			char *nb;
			if (cap > ((size_t)1 << 40)) {
				free(buf);
				return cli_error(c, EXIT_INVALID, "value on stdin is too large");
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return cli_error(c, EXIT_STORE, "out of memory reading stdin");
			}
			buf = nb;
			cap *= 2;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return cli_error(c, EXIT_STORE, "cannot read stdin: %s", strerror(errno));
		}
		len += (size_t)n;
	}
	*data = buf;
	*size = len;
	return 0;
}

/* Prints the result of a commit on the branch: "[main 1234abc] message". */
static void report_commit(cli *c, const char *branch, const grove_oid *id, const char *key,
	const char *message)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid_tohex(hex, id);
	if (c->json) {
		json_writer *w = cli_json(c);
		json_object_begin(w);
		json_kv_string(w, "branch", branch);
		json_kv_string(w, "key", key);
		json_kv_string(w, "commit", hex);
		json_object_end(w);
	} else if (!c->quiet) {
		size_t n = strcspn(message, "\n");
		printf("[%s %.7s] %.*s\n", branch, hex, (int)n, message);
	}
}

static int write_command(cli *c, int argc, char **argv, int remove)
{
	static const struct option longopts[] = { { "message", required_argument, NULL, 'm' }, { 0 } };
	const cli_command *cmd = cli_find_command(remove ? "rm" : "set");
	const char *message = NULL, *branch, *key;
	char *data = NULL, *default_msg = NULL;
	size_t size = 0;
	cli_identity ident;
	grove_commit_opts copts = { 0 };
	grove_oid id;
	int opt, rc = 0, err, nargs;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, "m:", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'm')
			message = optarg;
	}
	nargs = argc - optind;
	if (nargs < 1)
		return cli_usage_error(c, cmd, "%s: missing KEY", cmd->name);
	if (nargs > (remove ? 1 : 2))
		return cli_usage_error(c, cmd, "%s: too many arguments", cmd->name);
	key = argv[optind];
	if ((err = grove_key_validate(key)) < 0)
		return cli_fail(c, err);
	if ((rc = cli_open(c, 0)) != 0 || (rc = cli_branch(c, &branch)) != 0)
		return rc;
	if (!remove) {
		const char *arg = nargs == 2 ? argv[optind + 1] : "-";
		if (!strcmp(arg, "-")) {
			if ((rc = read_stdin(c, &data, &size)) != 0)
				return rc;
		} else {
			size = strlen(arg);
			if (!(data = strdup(arg)))
				return cli_error(c, EXIT_STORE, "out of memory");
		}
	}
	if (!message) {
		default_msg = malloc(strlen(key) + 8);
		if (!default_msg) {
			free(data);
			return cli_error(c, EXIT_STORE, "out of memory");
		}
		sprintf(default_msg, "%s %s", remove ? "rm" : "set", key);
		message = default_msg;
	}
	if ((rc = cli_identity_load(c, &ident)) != 0) {
		free(data);
		free(default_msg);
		return rc;
	}
	copts.author = &ident.author;
	copts.committer = &ident.committer;
	copts.message = message;
	for (int attempt = 0;;) {
		if (remove)
			err = grove_remove(c->g, branch, key, &copts, &id);
		else
			err = grove_set(c->g, branch, key, data ? data : "", size, &copts, &id);
		if (!cli_should_retry(err, &attempt))
			break;
	}
	if (err < 0)
		rc = cli_fail(c, err);
	else
		report_commit(c, branch, &id, key, message);
	cli_identity_dispose(&ident);
	free(data);
	free(default_msg);
	return rc;
}

int cmd_set(cli *c, int argc, char **argv) { return write_command(c, argc, argv, 0); }
int cmd_rm(cli *c, int argc, char **argv) { return write_command(c, argc, argv, 1); }

/* --- ls / tree ------------------------------------------------------------ */

typedef struct {
	cli *c;
	grove_view *view;
	int recursive;
	int tree_style;
	json_writer *w;
	char *path;      /* the directory being listed, grown as we descend */
	size_t path_len, path_cap;
	char prefix[8200]; /* tree drawing: "|   " / "    " per level */
} walker;

static int path_push(walker *wk, const char *name, size_t *saved)
{
	size_t n = strlen(name), need = wk->path_len + n + 2;
	*saved = wk->path_len;
	if (need > wk->path_cap) {
		char *p = realloc(wk->path, need * 2);
		if (!p)
			return -1;
		wk->path = p;
		wk->path_cap = need * 2;
	}
	if (wk->path_len)
		wk->path[wk->path_len++] = '/';
	memcpy(wk->path + wk->path_len, name, n + 1);
	wk->path_len += n;
	return 0;
}

static void path_pop(walker *wk, size_t saved)
{
	wk->path_len = saved;
	wk->path[saved] = 0;
}

static void json_entry(json_writer *w, const grove_entry *e, const char *path)
{
	char hex[GROVE_OID_HEXSZ + 1], mode[16];
	json_kv_string(w, "name", e->name);
	if (path)
		json_kv_string(w, "path", path);
	json_kv_string(w, "type", out_kind_name(e->kind));
	snprintf(mode, sizeof(mode), "%06o", (unsigned)e->mode);
	json_kv_string(w, "mode", mode);
	json_kv_string(w, "id", grove_oid_tohex(hex, &e->id));
}

/* Lists wk->path; recurses into directories for -r and tree. */
static int walk_dir(walker *wk, size_t depth)
{
	grove_entry_list list = { 0 };
	int err = grove_view_list(wk->view, wk->path, &list), rc = 0;
	size_t plen = strlen(wk->prefix);
	if (err < 0)
		return cli_fail(wk->c, err);
	for (size_t i = 0; i < list.count && !rc; i++) {
		const grove_entry *e = &list.entries[i];
		int is_dir = e->kind == GROVE_KIND_DIR, last = i + 1 == list.count;
		size_t saved;
		if (path_push(wk, e->name, &saved) < 0) {
			rc = cli_error(wk->c, EXIT_STORE, "out of memory");
			break;
		}
		if (wk->w) {
			json_object_begin(wk->w);
			json_entry(wk->w, e, wk->recursive && !wk->tree_style ? wk->path : NULL);
			if (wk->tree_style && is_dir) {
				json_key(wk->w, "entries");
				json_array_begin(wk->w);
				rc = walk_dir(wk, depth + 1);
				json_array_end(wk->w);
			}
			json_object_end(wk->w);
			if (wk->recursive && !wk->tree_style && is_dir)
				rc = walk_dir(wk, depth + 1);
		} else if (wk->tree_style) {
			printf("%s%s%s%s\n", wk->prefix, last ? "`-- " : "|-- ", e->name, is_dir ? "/" : "");
			if (is_dir && plen + 5 < sizeof(wk->prefix)) {
				strcpy(wk->prefix + plen, last ? "    " : "|   ");
				rc = walk_dir(wk, depth + 1);
				wk->prefix[plen] = 0;
			}
		} else if (wk->recursive) {
			if (is_dir)
				rc = walk_dir(wk, depth + 1);
			else
				printf("%s\n", wk->path);
		} else {
			printf("%s%s\n", e->name, is_dir ? "/" : "");
		}
		path_pop(wk, saved);
	}
	grove_entry_list_dispose(&list);
	return rc;
}

static int list_command(cli *c, int argc, char **argv, int tree_style)
{
	static const struct option longopts[] = {
		{ "rev", required_argument, NULL, 'R' },
		{ "recursive", no_argument, NULL, 'r' },
		{ 0 }
	};
	const cli_command *cmd = cli_find_command(tree_style ? "tree" : "ls");
	const char *rev = NULL, *dir;
	walker wk = { 0 };
	grove_oid id;
	grove_kind kind = GROVE_KIND_DIR;
	int opt, rc = 0, err;

	optind = 0;
	while ((opt = cli_getopt(c, cmd, argc, argv, tree_style ? "" : "r", longopts, &rc)) != -1) {
		if (opt == -2)
			return rc;
		if (opt == 'R')
			rev = optarg;
		else if (opt == 'r' && !tree_style)
			wk.recursive = 1;
		else if (opt == 'r')
			return cli_usage_error(c, cmd, "tree: unknown option '--recursive'");
	}
	if (argc - optind > 1)
		return cli_usage_error(c, cmd, "%s: too many arguments", cmd->name);
	dir = cli_dir_arg(optind < argc ? argv[optind] : NULL);
	if (*dir && (err = grove_key_validate(dir)) < 0)
		return cli_fail(c, err);
	if ((rc = cli_open(c, 0)) != 0 || (rc = cli_view_open(c, rev, &wk.view)) != 0)
		return rc;
	wk.c = c;
	wk.tree_style = tree_style;
	if (tree_style)
		wk.recursive = 1;
	if (!(wk.path = strdup(dir))) {
		grove_view_free(wk.view);
		return cli_error(c, EXIT_STORE, "out of memory");
	}
	wk.path_len = strlen(dir);
	wk.path_cap = wk.path_len + 1;
	/* A value named directly lists as itself, like ls(1) on a file. */
	if (*dir) {
		err = grove_view_id(wk.view, dir, &id, &kind);
		if (err < 0) {
			rc = cli_fail(c, err);
			goto done;
		}
	}
	if (c->json) {
		wk.w = cli_json(c);
		json_object_begin(wk.w);
		json_kv_string(wk.w, "dir", dir);
		json_key(wk.w, "entries");
		json_array_begin(wk.w);
	} else if (tree_style) {
		printf("%s\n", *dir ? dir : ".");
	}
	if (kind == GROVE_KIND_DIR) {
		rc = walk_dir(&wk, 0);
	} else if (wk.w) {
		grove_entry e = { (char *)dir, kind, 0, id };
		json_object_begin(wk.w);
		json_entry(wk.w, &e, NULL);
		json_object_end(wk.w);
	} else {
		printf("%s\n", dir);
	}
	if (wk.w) {
		json_array_end(wk.w);
		json_object_end(wk.w);
	}
done:
	free(wk.path);
	grove_view_free(wk.view);
	return rc;
}

int cmd_ls(cli *c, int argc, char **argv) { return list_command(c, argc, argv, 0); }
int cmd_tree(cli *c, int argc, char **argv) { return list_command(c, argc, argv, 1); }
