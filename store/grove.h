/*
 * grove.h - the one public header of libgrove.
 *
 * Grove is a content-addressed, branchable key-value store whose objects are
 * real git objects.  Keys are paths ("a/b/c"), values are bytes; every commit
 * is a git commit, every directory a git tree, every value a git blob.
 *
 * Conventions (modelled on libgit2):
 *  - Every function that can fail returns an int: 0 (GROVE_OK) or a negative
 *    grove_code.  The message of the last failure on the calling thread is
 *    available from grove_error_message().
 *  - Out-parameters are written only on success.
 *  - Anything the library allocates for the caller has a matching _free or
 *    _dispose function.
 *  - The library never aborts, exits or prints.
 *
 * Thread-safety: a grove handle may be shared by any number of threads for
 * reads (views, gets, logs, diffs).  Writes (transactions, branch updates,
 * merges) are serialised inside the handle and are safe from any thread.
 * A grove_view, grove_txn or grove_log object belongs to one thread at a
 * time.  Several processes may open the same lmdb: or git: store at once.
 */
#ifndef GROVE_H
#define GROVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GROVE_VERSION_MAJOR 0
#define GROVE_VERSION_MINOR 1
#define GROVE_VERSION_PATCH 0
#define GROVE_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef enum {
	GROVE_OK = 0,
	GROVE_ERROR = -1,        /* generic failure */
	GROVE_ENOTFOUND = -3,    /* key, object, ref or branch does not exist */
	GROVE_EEXISTS = -4,      /* something that must not exist does */
	GROVE_EINVALID = -5,     /* invalid argument: key, ref name, location */
	GROVE_EHEADMOVED = -6,   /* compare-and-swap on a branch head failed */
	GROVE_ECONFLICT = -7,    /* merge conflict */
	GROVE_ECORRUPT = -8,     /* an object or the store is damaged */
	GROVE_EIO = -9,          /* the operating system reported an I/O error */
	GROVE_ENOSPC = -10,      /* the disk is full */
	GROVE_EREADONLY = -11,   /* store opened read-only, or not writable */
	GROVE_ENOMEM = -12,      /* out of memory */
	GROVE_EUNSUPPORTED = -13,/* operation not supported by this backend */
	GROVE_ELOCKED = -14,     /* a lock is held by someone else */
	GROVE_ENOTFF = -15,      /* update is not a fast-forward */
	GROVE_ITEROVER = -30     /* iteration finished (not an error) */
} grove_code;

/* Message of the last error on this thread, "" when none. */
const char *grove_error_message(void);
/* Code of the last error on this thread, 0 when none. */
int grove_error_code(void);
void grove_error_clear(void);
/* Symbolic name of a code: "GROVE_ENOTFOUND", ... */
const char *grove_code_name(int code);

/* ------------------------------------------------------------------ */
/* Object ids, buffers, string arrays                                  */
/* ------------------------------------------------------------------ */

#define GROVE_OID_RAWSZ 20
#define GROVE_OID_HEXSZ 40

typedef struct {
	unsigned char id[GROVE_OID_RAWSZ];
} grove_oid;

/* Parses exactly 40 hex digits (a trailing NUL or not: only 40 are read). */
int grove_oid_fromhex(grove_oid *out, const char *hex);
/* Writes 40 hex digits and a NUL into out; returns out. */
char *grove_oid_tohex(char out[GROVE_OID_HEXSZ + 1], const grove_oid *id);
int grove_oid_cmp(const grove_oid *a, const grove_oid *b);
int grove_oid_is_zero(const grove_oid *id);

/* The git object types, numbered as in git's pack format. */
typedef enum {
	GROVE_OBJ_BAD = 0,
	GROVE_OBJ_COMMIT = 1,
	GROVE_OBJ_TREE = 2,
	GROVE_OBJ_BLOB = 3,
	GROVE_OBJ_TAG = 4
} grove_otype;

const char *grove_otype_name(grove_otype type); /* "commit", "tree", ... */

/* Bytes allocated by the library; free with grove_buf_dispose. */
typedef struct {
	void *data;
	size_t size;
} grove_buf;
void grove_buf_dispose(grove_buf *buf);

typedef struct {
	char **strings;
	size_t count;
} grove_strarray;
void grove_strarray_dispose(grove_strarray *array);

/* ------------------------------------------------------------------ */
/* Opening a store                                                     */
/* ------------------------------------------------------------------ */

typedef struct grove grove;

typedef enum {
	/* A commit is on disk when the call returns. */
	GROVE_DURABLE = 0,
	/* Commits are flushed to disk at most every sync_interval_ms by a
	 * background flusher; a process crash loses nothing.  A power loss
	 * or OS crash may lose the last interval and, as LMDB documents for
	 * unflushed commits, may damage the store. */
	GROVE_RELAXED = 1
} grove_durability;

typedef struct {
	unsigned version;          /* GROVE_OPTIONS_VERSION */
	int create;                /* create the store if it does not exist */
	int read_only;             /* refuse every write with GROVE_EREADONLY */
	grove_durability durability;
	unsigned sync_interval_ms; /* GROVE_RELAXED: flush period, default 100 */
	size_t lmdb_map_size;      /* initial LMDB map size, 0 = default; it grows */
} grove_options;

#define GROVE_OPTIONS_VERSION 1
#define GROVE_OPTIONS_INIT { GROVE_OPTIONS_VERSION, 1, 0, GROVE_DURABLE, 100, 0 }

/*
 * location: "lmdb:PATH" (the default for a bare PATH), "git:PATH" (a bare
 * git repository, usable by the git CLI at the same time) or "mem:" (in
 * memory, gone on close).  opts may be NULL for the defaults.
 */
int grove_open(grove **out, const char *location, const grove_options *opts);
void grove_close(grove *g);
/* "lmdb", "git" or "mem". */
const char *grove_backend_name(const grove *g);
/* Flush pending writes to disk now (useful with GROVE_RELAXED). */
int grove_flush(grove *g);

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

#define GROVE_KEY_MAX 4096

/*
 * A key is a '/'-separated path of segments.  Rejected: an empty key or
 * segment (so no leading, trailing or doubled '/'), ".", "..", ".git" (any
 * case), and keys over GROVE_KEY_MAX bytes.  Keys are C strings, so a NUL
 * byte cannot be part of one; grove_key_validate_n checks an explicit length.
 */
int grove_key_validate(const char *key);
int grove_key_validate_n(const char *key, size_t len);

/* ------------------------------------------------------------------ */
/* Revisions                                                           */
/* ------------------------------------------------------------------ */

/*
 * A revision string names a commit: a branch name ("main"), a full ref
 * ("refs/heads/main", "refs/tags/v1"), "HEAD", or 40 hex digits.  Annotated
 * tags are peeled to their commit.
 */
int grove_rev_resolve(grove *g, const char *rev, grove_oid *commit_out);

/* ------------------------------------------------------------------ */
/* Reading: views                                                      */
/* ------------------------------------------------------------------ */

typedef enum {
	GROVE_KIND_VALUE = 1,     /* blob, mode 100644 */
	GROVE_KIND_EXECUTABLE = 2,/* blob, mode 100755 */
	GROVE_KIND_SYMLINK = 3,   /* blob, mode 120000 */
	GROVE_KIND_DIR = 4,       /* tree, mode 40000 */
	GROVE_KIND_SUBMODULE = 5  /* commit, mode 160000 */
} grove_kind;

typedef struct {
	char *name;
	grove_kind kind;
	uint32_t mode;
	grove_oid id;
} grove_entry;

typedef struct {
	grove_entry *entries;
	size_t count;
} grove_entry_list;
void grove_entry_list_dispose(grove_entry_list *list);

typedef struct {
	char *key;
	void *data;
	size_t size;
} grove_item;

typedef struct {
	grove_item *items;
	size_t count;
} grove_item_list;
void grove_item_list_dispose(grove_item_list *list);

/* A read-only snapshot of the tree of one commit. */
typedef struct grove_view grove_view;

/* An unborn branch opens as an empty view whose commit is all zeros. */
int grove_view_open(grove_view **out, grove *g, const char *rev);
int grove_view_open_commit(grove_view **out, grove *g, const grove_oid *commit);
void grove_view_free(grove_view *view);
const grove_oid *grove_view_commit(const grove_view *view);
const grove_oid *grove_view_tree(const grove_view *view);

/* GROVE_ENOTFOUND when the key is absent or names a directory. */
int grove_view_get(grove_view *view, const char *key, grove_buf *out);
/* 1 when the key holds a value, 0 when not, < 0 on error. */
int grove_view_exists(grove_view *view, const char *key);
/* Lists a directory; "" or NULL is the root.  Entries in git's tree order. */
int grove_view_list(grove_view *view, const char *dir, grove_entry_list *out);
/* The object id and kind of a path (value or directory); "" is the root. */
int grove_view_id(grove_view *view, const char *path, grove_oid *id, grove_kind *kind);
/* Every value below prefix ("" = all), keys relative to prefix, sorted. */
int grove_view_read_tree(grove_view *view, const char *prefix, grove_item_list *out);

/* One-call helpers: open a view at rev, do one read, close it. */
int grove_get(grove *g, const char *rev, const char *key, grove_buf *out);
int grove_exists(grove *g, const char *rev, const char *key);
int grove_list(grove *g, const char *rev, const char *dir, grove_entry_list *out);

/* ------------------------------------------------------------------ */
/* Writing: transactions                                               */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *name;
	const char *email;
	int64_t time;       /* seconds since the epoch; 0 = now */
	int tz_offset;      /* minutes east of UTC */
} grove_signature;

typedef struct {
	const grove_signature *author;    /* NULL = "grove <grove@localhost>", now */
	const grove_signature *committer; /* NULL = author */
	const char *message;              /* NULL = "grove commit"; a final newline is added */
} grove_commit_opts;

typedef struct grove_txn grove_txn;

/*
 * Starts a transaction on a branch (which may be unborn).  It reads the
 * branch head once; the commit advances the branch only if the head is
 * still that commit.
 */
int grove_txn_begin(grove_txn **out, grove *g, const char *branch);
/*
 * Starts from a given commit (NULL = empty tree, no parent).  branch may be
 * NULL: grove_txn_commit then creates a commit that no ref points at.
 * If branch is given, the commit advances it only if its head is `commit`.
 */
int grove_txn_begin_at(grove_txn **out, grove *g, const grove_oid *commit, const char *branch);
int grove_txn_set(grove_txn *txn, const char *key, const void *data, size_t size);
/* Removes a value or a whole directory; GROVE_ENOTFOUND if neither exists. */
int grove_txn_remove(grove_txn *txn, const char *key);
/* Replaces the directory at prefix ("" = root) with exactly these items. */
int grove_txn_set_tree(grove_txn *txn, const char *prefix, const grove_item *items, size_t count);
/* Grafts an existing tree object at prefix. */
int grove_txn_set_tree_id(grove_txn *txn, const char *prefix, const grove_oid *tree);
/* Reads through the staged writes. */
int grove_txn_get(grove_txn *txn, const char *key, grove_buf *out);
int grove_txn_exists(grove_txn *txn, const char *key);
int grove_txn_list(grove_txn *txn, const char *dir, grove_entry_list *out);
/* The commit the transaction started from (zeros for none). */
const grove_oid *grove_txn_base(const grove_txn *txn);
/*
 * Writes the commit and advances the branch.  GROVE_EHEADMOVED when the
 * branch head is no longer the base: nothing was changed, the transaction
 * stays usable, and the caller may grove_txn_rebase() and commit again,
 * merge, or give up.
 */
int grove_txn_commit(grove_txn *txn, const grove_commit_opts *opts, grove_oid *out);
/* Replays the staged operations on the branch's current head. */
int grove_txn_rebase(grove_txn *txn);
void grove_txn_free(grove_txn *txn);

/* One-call helpers: a transaction with one operation, committed. */
int grove_set(grove *g, const char *branch, const char *key, const void *data,
	size_t size, const grove_commit_opts *opts, grove_oid *out);
int grove_remove(grove *g, const char *branch, const char *key,
	const grove_commit_opts *opts, grove_oid *out);

/* ------------------------------------------------------------------ */
/* Branches and refs                                                   */
/* ------------------------------------------------------------------ */

/* Branch names follow git-check-ref-format; they live in refs/heads/. */
int grove_branch_name_validate(const char *name);
int grove_branch_list(grove *g, grove_strarray *out);
/* Creates name at from_rev.  GROVE_EEXISTS unless force. */
int grove_branch_create(grove *g, const char *name, const char *from_rev, int force);
int grove_branch_create_at(grove *g, const char *name, const grove_oid *commit, int force);
int grove_branch_delete(grove *g, const char *name);
/* GROVE_ENOTFOUND for an unborn or missing branch. */
int grove_branch_head(grove *g, const char *name, grove_oid *out);
/*
 * Test-and-set: expected NULL sets unconditionally; an all-zero expected
 * requires that the branch does not exist.  GROVE_EHEADMOVED on mismatch.
 */
int grove_branch_set_head(grove *g, const char *name, const grove_oid *expected, const grove_oid *new_head);
/* Moves the branch to `to` only if that is a fast-forward (GROVE_ENOTFF). */
int grove_branch_fast_forward(grove *g, const char *name, const grove_oid *to);
/* The branch HEAD points at (the store's default branch, "main" when new). */
int grove_head_branch(grove *g, char **out);
int grove_set_head_branch(grove *g, const char *name);

/* Any ref, for the git protocol layers: name is a full ref name. */
int grove_ref_name_validate(const char *refname);
int grove_ref_read(grove *g, const char *refname, grove_oid *out);
typedef int (*grove_ref_cb)(const char *refname, const grove_oid *id, void *payload);
/* Calls cb for every ref under prefix ("" = all) in byte order; a non-zero
 * return from cb stops the walk and is returned. */
int grove_ref_foreach(grove *g, const char *prefix, grove_ref_cb cb, void *payload);

typedef struct {
	const char *refname;
	grove_oid old_id;   /* expected current value; zeros = must not exist */
	grove_oid new_id;   /* zeros = delete */
	int check_old;      /* 0 = unconditional */
} grove_ref_update;
/* Applies all updates or none (GROVE_EHEADMOVED names the first mismatch). */
int grove_ref_update_batch(grove *g, const grove_ref_update *updates, size_t count);

/* ------------------------------------------------------------------ */
/* Objects                                                             */
/* ------------------------------------------------------------------ */

int grove_object_hash(grove_otype type, const void *data, size_t size, grove_oid *out);
int grove_object_read(grove *g, const grove_oid *id, grove_otype *type, grove_buf *out);
/* 1 if present, 0 if not, < 0 on error. */
int grove_object_exists(grove *g, const grove_oid *id);
/* Writes an object after checking that it parses as its type. */
int grove_object_write(grove *g, grove_otype type, const void *data, size_t size, grove_oid *out);

/* ------------------------------------------------------------------ */
/* Commits and history                                                 */
/* ------------------------------------------------------------------ */

typedef struct {
	char *name;
	char *email;
	int64_t time;
	int tz_offset;
} grove_person;

typedef struct {
	grove_oid id;
	grove_oid tree;
	grove_oid *parents;
	size_t parent_count;
	grove_person author;
	grove_person committer;
	char *message;
} grove_commit;

int grove_commit_read(grove *g, const grove_oid *id, grove_commit **out);
void grove_commit_free(grove_commit *commit);

typedef struct {
	size_t skip;        /* commits to pass over first */
	size_t limit;       /* 0 = no limit */
	const char *path;   /* only commits where this key or directory changed */
	int first_parent;   /* follow only first parents */
} grove_log_opts;

typedef struct grove_log grove_log;
/* Newest first (commit time, parents after children). */
int grove_log_open(grove_log **out, grove *g, const char *rev, const grove_log_opts *opts);
int grove_log_open_at(grove_log **out, grove *g, const grove_oid *start, const grove_log_opts *opts);
/* GROVE_ITEROVER at the end. */
int grove_log_next(grove_log *log, grove_commit **out);
void grove_log_free(grove_log *log);

/* The commit in which path last changed, walking back from rev. */
int grove_last_modified(grove *g, const char *rev, const char *path, grove_oid *out);

typedef enum {
	GROVE_DIFF_ADDED = 1,
	GROVE_DIFF_REMOVED = 2,
	GROVE_DIFF_MODIFIED = 3
} grove_diff_kind;

typedef struct {
	char *path;
	grove_diff_kind kind;
	grove_oid old_id, new_id;     /* zeros where absent */
	uint32_t old_mode, new_mode;  /* 0 where absent */
} grove_diff_entry;

typedef struct {
	grove_diff_entry *entries;
	size_t count;
} grove_diff;
void grove_diff_dispose(grove_diff *diff);

/* Leaf-level differences (values, not directories), sorted by path.
 * Either commit may be NULL for the empty tree.  prefix limits the diff. */
int grove_diff_commits(grove *g, const grove_oid *old_commit, const grove_oid *new_commit,
	const char *prefix, grove_diff *out);
int grove_diff_trees(grove *g, const grove_oid *old_tree, const grove_oid *new_tree,
	const char *prefix, grove_diff *out);

/* ------------------------------------------------------------------ */
/* Merging                                                             */
/* ------------------------------------------------------------------ */

typedef enum {
	GROVE_CONFLICT_CONTENT = 1,        /* both sides changed the value */
	GROVE_CONFLICT_ADD_ADD = 2,        /* both added different values */
	GROVE_CONFLICT_MODIFY_DELETE = 3,  /* one changed it, the other removed it */
	GROVE_CONFLICT_FILE_DIRECTORY = 4  /* a value on one side, a directory on the other */
} grove_conflict_kind;

typedef struct {
	char *path;
	grove_conflict_kind kind;
	grove_oid base, ours, theirs; /* zeros where absent */
} grove_conflict;

typedef struct {
	grove_conflict *items;
	size_t count;
} grove_conflict_list;
void grove_conflict_list_dispose(grove_conflict_list *list);

/*
 * A content merge callback.  base, ours, theirs are NULL where that side
 * has no value.  To resolve, return 0 and either fill *result (data from
 * malloc; the library frees it) or set *deleted = 1 to remove the path.
 * Return GROVE_ECONFLICT to leave the conflict, or another negative code to
 * abort the merge.
 */
typedef int (*grove_merge_fn)(const char *path, const grove_buf *base,
	const grove_buf *ours, const grove_buf *theirs,
	grove_buf *result, int *deleted, void *payload);

/* Registers fn for paths matching pattern (fnmatch(3); a pattern without
 * '/' matches the last segment).  Later registrations take precedence. */
int grove_merge_register(grove *g, const char *pattern, grove_merge_fn fn, void *payload);

typedef struct {
	const grove_commit_opts *commit;
	int no_fast_forward;  /* always create a merge commit */
} grove_merge_opts;

/* Merge bases of two commits (all best common ancestors). */
int grove_merge_bases(grove *g, const grove_oid *a, const grove_oid *b, grove_oid **out, size_t *count);

/*
 * Merges the trees of two commits through their merge base(s) (recursive
 * for criss-cross histories).  On success *tree_out is the merged tree.
 * GROVE_ECONFLICT with conflicts filled when it cannot; nothing is changed.
 * conflicts may be NULL.
 */
int grove_merge_trees(grove *g, const grove_oid *ours, const grove_oid *theirs,
	grove_oid *tree_out, grove_conflict_list *conflicts);

/*
 * Merges from_rev into branch: a fast-forward when possible (unless
 * no_fast_forward), else a merge commit with two parents (ours first).
 * GROVE_ECONFLICT with conflicts filled; the branch is unchanged.
 */
int grove_merge(grove *g, const char *branch, const char *from_rev,
	const grove_merge_opts *opts, grove_oid *out, grove_conflict_list *conflicts);

/* ------------------------------------------------------------------ */
/* Watches                                                             */
/* ------------------------------------------------------------------ */

/* old is zeros for a new branch, new is zeros for a deleted one.  The diff
 * is limited to the watch's prefix and is non-empty for prefix watches. */
typedef void (*grove_watch_fn)(grove *g, const char *branch, const grove_oid *old_head,
	const grove_oid *new_head, const grove_diff *diff, void *payload);

/*
 * Calls fn after each change of a branch head (branch NULL = any branch)
 * that touches prefix (NULL or "" = anything).  Watches fire synchronously,
 * on the thread that made the change, after it is committed.  Changes by
 * other handles or processes are noticed by grove_poll().
 */
int grove_watch_add(grove *g, const char *branch, const char *prefix,
	grove_watch_fn fn, void *payload, uint64_t *id_out);
int grove_watch_remove(grove *g, uint64_t id);
/* Compares the branch heads with those last seen by this handle and fires
 * the watches for every difference.  Cheap: call it from a timer. */
int grove_poll(grove *g);

/* ------------------------------------------------------------------ */
/* Maintenance                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
	grove_oid id;
	char *message;
} grove_fsck_problem;

typedef struct {
	size_t objects_checked;
	size_t refs_checked;
	grove_fsck_problem *problems;
	size_t problem_count;
} grove_fsck_report;
void grove_fsck_report_dispose(grove_fsck_report *report);

/* Checks that every object reachable from a ref exists, parses and hashes
 * to its id.  Returns 0 even when problems are found; see problem_count. */
int grove_fsck(grove *g, grove_fsck_report *out);

typedef struct {
	size_t objects_before;
	size_t objects_removed;
} grove_gc_stats;
/* Removes objects not reachable from any ref (LMDB, mem).  Readers are not
 * blocked. */
int grove_gc(grove *g, grove_gc_stats *out);

typedef struct {
	uint64_t objects;
	uint64_t object_bytes;   /* bytes of object records as stored */
	uint64_t disk_bytes;     /* bytes the store occupies on disk, 0 for mem: */
	uint64_t refs;
	uint64_t deltas;         /* objects stored as deltas */
} grove_stats;
int grove_stats_get(grove *g, grove_stats *out);

/* Writes every object and ref into a bare git repository at path (created
 * if missing).  Existing refs there are overwritten. */
int grove_export(grove *g, const char *git_path);
/* Reads every ref and the objects reachable from them from a git
 * repository (bare or not) into this store. */
int grove_import(grove *g, const char *git_path);

/* ------------------------------------------------------------------ */
/* Remotes and sync                                                    */
/* ------------------------------------------------------------------ */

/*
 * A remote is a named git URL the store is fetched from and pushed to:
 * file:///path or /path, git://, http://, https://, ssh:// or user@host:path.
 * The transports are libgit2's; fetched packs are indexed into the store
 * with their deltas kept.
 *
 * Configuration lives inside the store (every backend, nothing outside it):
 * the ref refs/grove/config names a commit without parents (config is state,
 * not history) whose tree holds one value per setting:
 *   remotes/NAME/url          the URL, never with a password
 *   remotes/NAME/last_fetch   "SECONDS" (unix time) of the last good fetch
 *   remotes/NAME/last_push    likewise for push
 *   remotes/NAME/last_error   the last failed fetch/push ("" after a success)
 *   branches/BRANCH/remote    the branch's upstream remote
 *   branches/BRANCH/merge     the upstream's branch name on that remote
 * Fetch stores the remote's branches as refs/remotes/NAME/BRANCH and adds
 * tags it does not have yet (an existing tag is never moved).
 *
 * Credentials, first match wins: grove_sync_opts, the URL given to
 * grove_clone (user:password@, used for that clone and never stored), then
 * $GROVE_REMOTE_USER with $GROVE_REMOTE_PASSWORD or $GROVE_REMOTE_TOKEN (a
 * token is sent as the HTTP Basic password; the user defaults to
 * "x-access-token").  ssh: the key file opts->ssh_key or $GROVE_SSH_KEY,
 * else the ssh agent.  Error messages never contain a password or token.
 */

/* Remote names: a valid branch name without '/'. */
int grove_remote_name_validate(const char *name);

typedef struct {
	char *name;
	char *url;
} grove_remote;

typedef struct {
	grove_remote *items;
	size_t count;
} grove_remote_array;
void grove_remote_array_dispose(grove_remote_array *array);

/* Adds a remote.  GROVE_EEXISTS if the name is taken.  A password (or a
 * lone token in an http(s) URL) is dropped from the stored URL. */
int grove_remote_add(grove *g, const char *name, const char *url);
/* Changes the URL of an existing remote (GROVE_ENOTFOUND). */
int grove_remote_set_url(grove *g, const char *name, const char *url);
/* Every remote, sorted by name. */
int grove_remote_list(grove *g, grove_remote_array *out);
/* The URL of one remote (free() it); GROVE_ENOTFOUND. */
int grove_remote_url(grove *g, const char *name, char **out);
/* Removes a remote, its refs/remotes/NAME/ refs and the upstream settings
 * that name it. */
int grove_remote_remove(grove *g, const char *name);

/* A URL fit for messages: "https://user:secret@host/x" -> "https://host/x"
 * (an http(s) user alone may be a token and goes too; "git@host:x" stays).
 * *out is from malloc. */
int grove_url_redact(const char *url, char **out);

typedef enum {
	GROVE_SYNC_CONNECTING = 1, /* no counts */
	GROVE_SYNC_RECEIVING = 2,  /* total: objects in the pack; bytes so far */
	GROVE_SYNC_INDEXING = 3,   /* objects indexed into the store of total */
	GROVE_SYNC_COUNTING = 4,   /* push: objects found to send */
	GROVE_SYNC_COMPRESSING = 5,/* push: deltas computed, current of total */
	GROVE_SYNC_WRITING = 6     /* push: objects sent, current of total; bytes */
} grove_sync_stage;

typedef struct {
	grove_sync_stage stage;
	uint64_t current;
	uint64_t total;   /* 0 when unknown */
	uint64_t bytes;   /* bytes transferred so far, where known */
} grove_sync_progress;

/* Progress report; a non-zero return cancels the operation. */
typedef int (*grove_sync_progress_fn)(const grove_sync_progress *progress, void *payload);

typedef struct {
	unsigned version;                /* GROVE_SYNC_OPTIONS_VERSION */
	grove_sync_progress_fn progress; /* NULL: none */
	void *progress_payload;
	/* Polled during transfers: once non-zero, the operation stops with
	 * GROVE_ERROR, "cancelled", and the store is unchanged. */
	const volatile int *cancel;
	const char *username;            /* NULL: see "Credentials" above */
	const char *password;
	const char *token;
	const char *ssh_key;             /* private key file; public key: KEY.pub */
	const char *ssh_passphrase;
	/* A PEM file of CA certificates trusted for https in addition to the
	 * system's (certificates are always verified).  Note: libgit2 keeps
	 * it trusted for the rest of the process. */
	const char *ca_file;
	int force;                       /* push: allow non-fast-forward updates */
	const grove_commit_opts *commit; /* pull: the merge commit's author/message */
	/* Inactivity timeout in seconds: a transfer fails ("the remote did not
	 * answer for N s", the store unchanged) when the remote sends nothing,
	 * or takes nothing we send, for this long.  0: $GROVE_SYNC_TIMEOUT
	 * (seconds, fractions allowed, 0 = none), else 60 s. */
	unsigned timeout_secs;
} grove_sync_opts;

#define GROVE_SYNC_OPTIONS_VERSION 1
#define GROVE_SYNC_OPTIONS_INIT { GROVE_SYNC_OPTIONS_VERSION }

/*
 * Creates the store at location (as grove_open with create; it must not
 * hold any ref yet), adds the remote "origin" and fetches it, then creates
 * a local branch for every remote branch (upstream: the same name) and
 * makes the remote's HEAD branch the store's.  opts may be NULL.  On
 * failure the store may exist but holds no refs from the remote.
 */
int grove_clone(const char *url, const char *location, const grove_sync_opts *opts, grove **out);

/*
 * Fetches every branch and tag of remote: objects, then refs/remotes/REMOTE/
 * (branches gone from the remote are removed there) and new tags, all in
 * one atomic write.  A damaged pack, a failed connection or authentication
 * leaves the store unchanged.  Records last_fetch or last_error.
 */
int grove_fetch(grove *g, const char *remote, const grove_sync_opts *opts);

/*
 * Fetches remote, then merges its branch into the local branch with
 * grove_merge (content-merge callbacks included).  branch NULL: the HEAD
 * branch.  remote NULL: the branch's upstream remote, else "origin".  The
 * remote's branch is the upstream's merge setting, else the same name.  An
 * unborn local branch is set to the remote's.  GROVE_ECONFLICT with
 * conflicts filled (may be NULL): the local branch is unchanged.  out (may
 * be NULL) receives the branch's new head.
 */
int grove_pull(grove *g, const char *remote, const char *branch, const grove_sync_opts *opts,
	grove_oid *out, grove_conflict_list *conflicts);

/*
 * Pushes to remote.  refspecs are "BRANCH", "SRC:DST" (SRC a branch or any
 * revision, DST a branch or full ref) or with a leading '+' to force; none
 * (count 0): the HEAD branch to the same name.  GROVE_ENOTFF when the remote
 * refused a non-fast-forward update (fetch and merge first), GROVE_ERROR
 * naming the ref when it refused for another reason.  On success the
 * pushed branches' refs/remotes/REMOTE/ refs are updated, last_push is set,
 * and a branch without upstream gets this one.
 */
int grove_push(grove *g, const char *remote, const char *const *refspecs, size_t count,
	const grove_sync_opts *opts);

/* Upstream settings of a branch (what grove_pull and status use). */
int grove_branch_set_upstream(grove *g, const char *branch, const char *remote, const char *remote_branch);

/* One local branch compared with its upstream's remote-tracking ref. */
typedef struct {
	char *branch;
	char *remote;          /* NULL when the branch has no upstream */
	char *remote_branch;
	grove_oid local, upstream; /* zeros where absent (not fetched yet) */
	size_t ahead, behind;  /* commits only on local / only on upstream */
} grove_branch_sync;

typedef struct {
	char *name;
	char *url;             /* redacted */
	int64_t last_fetch, last_push; /* 0 = never */
	char *last_error;      /* NULL when the last operation succeeded */
} grove_remote_sync;

typedef struct {
	grove_branch_sync *branches;
	size_t branch_count;
	grove_remote_sync *remotes;
	size_t remote_count;
} grove_sync_status;
void grove_sync_status_dispose(grove_sync_status *status);

/* Ahead/behind for every local branch, and each remote's state.  Reads
 * only the store (run grove_fetch first for fresh counts). */
int grove_sync_status_get(grove *g, grove_sync_status *out);

/*
 * Merge rules for calendars and contacts, for grove_merge and grove_pull:
 * "*.ics" (iCalendar, parsed with libical) and "*.vcf" (vCard).  When both
 * sides changed one object, the newer version wins whole: the higher
 * SEQUENCE, then the later LAST-MODIFIED, then DTSTAMP (vCard: REV); on a
 * tie the bytewise greater text, so that every store picks the same one.
 * A modification wins over a deletion (no data is lost).  The losing
 * version stays in history (the merged commit's other parent); grove_sync
 * names it in the merge commit's message.  Unparsable data: a conflict.
 */
int grove_merge_register_dav(grove *g);

/*
 * Automatic sync of one branch with an upstream (remote + branch), for a
 * served store.  A thread of its own does the network work; writers never
 * wait for it.
 *  - start: fetch the upstream and merge it into the branch (an unborn
 *    branch simply takes it; an empty remote is pushed to), before
 *    grove_sync_start returns;
 *  - every change of the branch (grove_watch_add) schedules a push: the
 *    first one after a quiet period goes at once, the following ones at most
 *    every push_delay_ms, so a burst of commits is one or a few pushes;
 *  - a non-fast-forward refusal: fetch, merge (content-merge callbacks
 *    included), push again;
 *  - remote unreachable or failing: writes go on locally; retries back off
 *    exponentially from backoff_min_ms to backoff_max_ms; the backlog is
 *    pushed when the remote answers again;
 *  - remote history rewritten (the remote branch no longer contains what
 *    we last saw there): the local head is kept as
 *    refs/grove/backup/BRANCH/UNIXTIME, then merged and pushed, and
 *    grove_sync_state.rewrites counts the event;
 *  - a fetch every fetch_interval_s and on grove_sync_fetch_now.
 * Merges that cannot be resolved leave the branch as it is: the state
 * reports the error and retries with backoff.
 */
typedef struct grove_sync grove_sync;

typedef struct {
	unsigned version;           /* GROVE_SYNC_CONFIG_VERSION */
	const char *url;            /* NULL: the remote must exist already */
	const char *remote;         /* NULL: "origin" (added or its URL updated) */
	const char *branch;         /* NULL: the HEAD branch */
	const char *remote_branch;  /* NULL: the same name as branch */
	unsigned push_delay_ms;     /* 0: 500 */
	unsigned fetch_interval_s;  /* 0: no periodic fetch */
	unsigned backoff_min_ms;    /* 0: 500 */
	unsigned backoff_max_ms;    /* 0: 60000 */
	int start_offline;          /* start even when the first fetch fails */
	const grove_sync_opts *transport; /* credentials etc.; may be NULL */
} grove_sync_config;

#define GROVE_SYNC_CONFIG_VERSION 1
#define GROVE_SYNC_CONFIG_INIT { GROVE_SYNC_CONFIG_VERSION }

typedef enum {
	GROVE_SYNC_IDLE = 0,       /* nothing to do (or waiting for the delay) */
	GROVE_SYNC_FETCHING = 1,
	GROVE_SYNC_PUSHING = 2,
	GROVE_SYNC_BACKING_OFF = 3 /* the last attempt failed; retry pending */
} grove_sync_run_state;

typedef struct {
	grove_sync_run_state state;
	grove_oid local;           /* branch head */
	grove_oid pushed;          /* the upstream as last seen (pushed/fetched) */
	size_t ahead, behind;      /* as of the last attempt */
	size_t backlog;            /* branch changes not pushed yet */
	uint64_t pushes, fetches, merges, rewrites, failures; /* since start */
	int64_t last_push, last_fetch; /* unix seconds; 0 = never */
	char last_error[512];      /* "" after a success */
	char last_backup[256];     /* ref of the last rewrite backup, or "" */
	unsigned retry_in_ms;      /* BACKING_OFF: time to the next attempt */
} grove_sync_state;

/* Starts syncing; the caller keeps g open until grove_sync_stop.  With
 * start_offline 0 a failed first fetch fails the call. */
int grove_sync_start(grove_sync **out, grove *g, const grove_sync_config *cfg);
/* Asks for a fetch (and merge, and push if needed) now; never blocks on the
 * network. */
void grove_sync_fetch_now(grove_sync *s);
/* A consistent snapshot of the state; any thread, any time. */
void grove_sync_state_get(grove_sync *s, grove_sync_state *out);
/* Waits until nothing is left to push and no work is pending (0), or
 * timeout_ms passed (GROVE_ERROR) - for tests and shutdown. */
int grove_sync_wait_idle(grove_sync *s, unsigned timeout_ms);
/* Makes one last push attempt when work is pending (bounded by
 * flush_timeout_ms), stops the thread, removes the watch and frees s. */
void grove_sync_stop(grove_sync *s, unsigned flush_timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* GROVE_H */
