/*
 * History walks: commits newest first (git log's default order), optionally
 * limited to the commits that changed one key or directory.
 *
 * The walk keeps a binary max-heap of commits ordered by committer time
 * (ties: the one queued first), and a hash set of the commits already
 * queued so each is visited once.  A commit's raw bytes are read once, when
 * it is queued; only its tree, parents and committer time are parsed then.
 * The full parse (names, message) happens only for commits that are
 * returned, so walking past commits a path filter rejects stays cheap.
 *
 * Path filtering follows git's default history simplification: a commit is
 * shown when the path's id differs from every parent; a merge that agrees
 * with some parent ("TREESAME") is hidden and only that parent is followed.
 */
#include "error.h"
#include "oid.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

/* A queued commit: the header fields the walk needs, and its bytes. */
typedef struct {
	grove_oid id;
	grove_oid tree;
	int64_t time;
	uint64_t seq;       /* queue order, for ties */
	grove_oid *parents; /* points at inline_parents or an allocation */
	size_t parent_count;
	grove_oid inline_parents[2];
	grove_buf raw;
} log_node;

/* What the walk knows about one commit. */
enum { SEEN_USED = 1, SEEN_QUEUED = 2, SEEN_PATH = 4 };

typedef struct {
	grove_oid id;
	unsigned flags;     /* 0 = empty slot */
	uint32_t path_mode; /* 0 = path absent */
	grove_oid path_id;
} seen_slot;

struct grove_log {
	grove *g;
	log_node **heap;
	size_t heap_len, heap_cap;
	uint64_t next_seq;
	seen_slot *seen;
	size_t seen_len, seen_cap;
	char *path;         /* NULL = every commit */
	int first_parent;
	size_t skip;        /* still to pass over */
	size_t limit;       /* 0 = none */
	size_t returned;
};

/* --- commit headers -------------------------------------------------- */

static void node_free(log_node *n)
{
	if (!n)
		return;
	if (n->parents != n->inline_parents)
		free(n->parents);
	grove_buf_dispose(&n->raw);
	free(n);
}

static int corrupt(const grove_oid *id, const char *what)
{
	char hex[GROVE_OID_HEXSZ + 1];
	return grove__error_set(GROVE_ECORRUPT, "commit %s: %s", grove_oid_tohex(hex, id), what);
}

/* Hex digit values, -1 for anything else.  This is the hottest loop of a
 * walk, so it avoids grove_oid_fromhex's per-call error bookkeeping. */
static const signed char hexval[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
	['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* 0 on success, -1 if the 40 characters are not all hex digits. */
static int hex_to_oid(grove_oid *out, const char *hex)
{
	int bad = 0;
	for (int i = 0; i < GROVE_OID_RAWSZ; i++) {
		/* The table holds value + 1 so that 0 can mean "not hex". */
		int hi = hexval[(unsigned char)hex[2 * i]], lo = hexval[(unsigned char)hex[2 * i + 1]];
		bad |= !hi | !lo;
		out->id[i] = (unsigned char)((hi - 1) << 4 | ((lo - 1) & 15));
	}
	return bad ? -1 : 0;
}

/*
 * Parses tree, parents and committer time from the raw header.  git
 * writes them in this order (tree, parent*, author, committer), and fsck
 * rejects any other order, so the scan stops at the committer line.
 */
static int parse_header(log_node *n)
{
	const char *p = n->raw.data, *end = p + n->raw.size;
	size_t cap = 2;

	if (n->raw.size < 46 || memcmp(p, "tree ", 5) || p[45] != '\n' ||
	    hex_to_oid(&n->tree, p + 5) < 0)
		return corrupt(&n->id, "no valid tree line");
	p += 46;
	n->parents = n->inline_parents;
	while (end - p >= 48 && !memcmp(p, "parent ", 7) && p[47] == '\n') {
		if (n->parent_count == cap) {
			grove_oid *np;
			cap *= 2;
			if (n->parents == n->inline_parents) {
				np = grove__malloc(cap * sizeof(*np));
				if (np)
					memcpy(np, n->inline_parents, sizeof(n->inline_parents));
			} else {
				np = grove__realloc(n->parents, cap * sizeof(*np));
			}
			if (!np)
				return GROVE_ENOMEM;
			n->parents = np;
		}
		if (hex_to_oid(&n->parents[n->parent_count], p + 7) < 0)
			return corrupt(&n->id, "bad parent line");
		n->parent_count++;
		p += 48;
	}
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if (eol - p > 10 && !memcmp(p, "committer ", 10)) {
			const char *gt = eol;
			int64_t t = 0;
			while (gt > p && *gt != '>')
				gt--;
			if (*gt != '>')
				return corrupt(&n->id, "bad committer line");
			for (gt++; gt < eol && *gt == ' '; gt++)
				;
			if (gt == eol || *gt < '0' || *gt > '9')
				return corrupt(&n->id, "bad committer time");
			for (; gt < eol && *gt >= '0' && *gt <= '9'; gt++)
				t = t * 10 + (*gt - '0');
			n->time = t;
			return 0;
		}
		p = eol + 1;
	}
	return corrupt(&n->id, "no committer line");
}

static int node_load(grove *g, const grove_oid *id, log_node **out)
{
	log_node *n = grove__calloc(1, sizeof(*n));
	int err;
	if (!n)
		return GROVE_ENOMEM;
	n->id = *id;
	n->parents = n->inline_parents;
	if ((err = grove__read(g, id, GROVE_OBJ_COMMIT, &n->raw)) < 0 || (err = parse_header(n)) < 0) {
		node_free(n);
		return err;
	}
	*out = n;
	return 0;
}

/* --- the seen set ---------------------------------------------------- */

static size_t oid_hash(const grove_oid *id)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return (size_t)h;
}

static int seen_grow(grove_log *log)
{
	size_t cap = log->seen_cap ? log->seen_cap * 2 : 256;
	seen_slot *ns = grove__calloc(cap, sizeof(*ns));
	if (!ns)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < log->seen_cap; i++) {
		seen_slot *s = &log->seen[i];
		size_t h;
		if (!s->flags)
			continue;
		h = oid_hash(&s->id) & (cap - 1);
		while (ns[h].flags)
			h = (h + 1) & (cap - 1);
		ns[h] = *s;
	}
	free(log->seen);
	log->seen = ns;
	log->seen_cap = cap;
	return 0;
}

/* The slot for id, created when missing (NULL only when out of memory
 * or, without create, when absent). */
static seen_slot *seen_get(grove_log *log, const grove_oid *id, int create)
{
	size_t h, mask;
	if (log->seen_cap) {
		mask = log->seen_cap - 1;
		for (h = oid_hash(id) & mask; log->seen[h].flags; h = (h + 1) & mask)
			if (grove__oid_equal(&log->seen[h].id, id))
				return &log->seen[h];
	}
	if (!create)
		return NULL;
	if ((log->seen_len + 1) * 2 > log->seen_cap && seen_grow(log) < 0)
		return NULL;
	mask = log->seen_cap - 1;
	for (h = oid_hash(id) & mask; log->seen[h].flags; h = (h + 1) & mask)
		;
	log->seen[h].id = *id;
	log->seen[h].flags = SEEN_USED;
	log->seen_len++;
	return &log->seen[h];
}

/* --- the heap -------------------------------------------------------- */

/* 1 when a comes out before b: later commit time, then queued earlier. */
static int before(const log_node *a, const log_node *b)
{
	if (a->time != b->time)
		return a->time > b->time;
	return a->seq < b->seq;
}

static int heap_push(grove_log *log, log_node *n)
{
	size_t i;
	if (log->heap_len == log->heap_cap) {
		size_t cap = log->heap_cap ? log->heap_cap * 2 : 64;
		log_node **nh = grove__realloc(log->heap, cap * sizeof(*nh));
		if (!nh)
			return GROVE_ENOMEM;
		log->heap = nh;
		log->heap_cap = cap;
	}
	n->seq = log->next_seq++;
	i = log->heap_len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(n, log->heap[parent]))
			break;
		log->heap[i] = log->heap[parent];
		i = parent;
	}
	log->heap[i] = n;
	return 0;
}

static log_node *heap_pop(grove_log *log)
{
	log_node *top, *last;
	size_t i = 0;
	if (!log->heap_len)
		return NULL;
	top = log->heap[0];
	last = log->heap[--log->heap_len];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= log->heap_len)
			break;
		if (c + 1 < log->heap_len && before(log->heap[c + 1], log->heap[c]))
			c++;
		if (!before(log->heap[c], last))
			break;
		log->heap[i] = log->heap[c];
		i = c;
	}
	if (log->heap_len)
		log->heap[i] = last;
	return top;
}

/* --- path lookups ---------------------------------------------------- */

/*
 * The id and mode at log->path below a root tree; mode 0 when absent.
 * Unlike grove__path_lookup, absence is not an error here: it is the
 * common case and must not cost an error message per commit.
 */
static int path_entry(grove *g, const grove_oid *root, const char *path, grove_oid *id, uint32_t *mode)
{
	grove_oid cur = *root;
	const char *seg = path;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		grove__tree *t;
		long i;
		int err = grove__tree_get(g, &cur, &t);
		if (err < 0)
			return err;
		i = grove__tree_find(t, seg, len);
		if (i < 0) {
			grove__tree_release(t);
			*mode = 0;
			memset(id, 0, sizeof(*id));
			return 0;
		}
		cur = t->entries[i].id;
		*mode = t->entries[i].mode;
		grove__tree_release(t);
		if (!slash)
			break;
		if (*mode != GROVE_MODE_TREE) {
			*mode = 0;
			memset(id, 0, sizeof(*id));
			return 0;
		}
		seg = slash + 1;
	}
	*id = cur;
	return 0;
}

/* Records the path's id in n's seen slot (once). */
static int note_path(grove_log *log, const log_node *n, seen_slot **out)
{
	seen_slot *s = seen_get(log, &n->id, 1);
	int err;
	if (!s)
		return GROVE_ENOMEM;
	if (!(s->flags & SEEN_PATH)) {
		grove_oid id;
		uint32_t mode;
		/* path_entry does not touch the table, so s stays valid. */
		if ((err = path_entry(log->g, &n->tree, log->path, &id, &mode)) < 0)
			return err;
		s->path_id = id;
		s->path_mode = mode;
		s->flags |= SEEN_PATH;
	}
	*out = s;
	return 0;
}

/* --- the walk -------------------------------------------------------- */

/* Queues a commit unless it was queued before; takes n (may be NULL to
 * load it from id). */
static int enqueue(grove_log *log, const grove_oid *id, log_node *n)
{
	seen_slot *s = seen_get(log, id, 1);
	int err;
	if (!s) {
		node_free(n);
		return GROVE_ENOMEM;
	}
	if (s->flags & SEEN_QUEUED) {
		node_free(n);
		return 0;
	}
	if (!n && (err = node_load(log->g, id, &n)) < 0)
		return err;
	/* Loading did not touch the table, so s is still valid. */
	s->flags |= SEEN_QUEUED;
	if ((err = heap_push(log, n)) < 0) {
		node_free(n);
		return err;
	}
	return 0;
}

static int same_path(const seen_slot *a, const seen_slot *b)
{
	return a->path_mode == b->path_mode && grove__oid_equal(&a->path_id, &b->path_id);
}

/*
 * Decides whether n is shown under the path filter and queues the parents
 * the simplified history follows.  *show is set to 1 or 0.
 */
static int step_path(grove_log *log, log_node *n, int *show)
{
	size_t np = log->first_parent && n->parent_count > 1 ? 1 : n->parent_count;
	log_node *stack[4] = { NULL }, **loaded = stack;
	seen_slot mine = { 0 }, *self;
	long same = -1;
	int err;

	if ((err = note_path(log, n, &self)) < 0)
		return err;
	/* Copied: loading parents may grow the table and move the slot. */
	mine = *self;
	if (np == 0) {
		*show = mine.path_mode != 0;
		return 0;
	}
	if (np > 4 && !(loaded = grove__calloc(np, sizeof(*loaded))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < np && same < 0; i++) {
		seen_slot *ps = seen_get(log, &n->parents[i], 0);
		if (!ps || !(ps->flags & SEEN_PATH)) {
			if ((err = node_load(log->g, &n->parents[i], &loaded[i])) < 0 ||
			    (err = note_path(log, loaded[i], &ps)) < 0)
				goto done;
		}
		if (same_path(&mine, ps))
			same = (long)i;
	}
	if (same >= 0) {
		/* TREESAME to this parent: hide n, follow only that parent. */
		*show = 0;
		err = enqueue(log, &n->parents[same], loaded[same]);
		loaded[same] = NULL;
	} else {
		/* Differs from every parent: shown, all parents followed. */
		*show = 1;
		for (size_t i = 0; i < np && !err; i++) {
			err = enqueue(log, &n->parents[i], loaded[i]);
			loaded[i] = NULL;
		}
	}
done:
	for (size_t i = 0; i < np; i++)
		node_free(loaded[i]);
	if (loaded != stack)
		free(loaded);
	return err;
}

static int step_all(grove_log *log, log_node *n)
{
	size_t np = log->first_parent && n->parent_count > 1 ? 1 : n->parent_count;
	int err;
	for (size_t i = 0; i < np; i++)
		if ((err = enqueue(log, &n->parents[i], NULL)) < 0)
			return err;
	return 0;
}

int grove_log_next(grove_log *log, grove_commit **out)
{
	if (!log || !out)
		return grove__error_set(GROVE_EINVALID, "grove_log_next: NULL argument");
	for (;;) {
		log_node *n;
		int show = 1, err;
		if (log->limit && log->returned >= log->limit)
			return GROVE_ITEROVER;
		if (!(n = heap_pop(log)))
			return GROVE_ITEROVER;
		err = log->path ? step_path(log, n, &show) : step_all(log, n);
		if (err < 0) {
			/* Put it back so the walk is not silently truncated. */
			if (heap_push(log, n) < 0)
				node_free(n);
			return err;
		}
		if (show && log->skip) {
			log->skip--;
			show = 0;
		}
		if (show) {
			grove_commit *c;
			err = grove__commit_parse(&n->id, n->raw.data, n->raw.size, &c);
			node_free(n);
			if (err < 0)
				return err;
			log->returned++;
			*out = c;
			return 0;
		}
		node_free(n);
	}
}

void grove_log_free(grove_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->heap_len; i++)
		node_free(log->heap[i]);
	free(log->heap);
	free(log->seen);
	free(log->path);
	free(log);
}

int grove_log_open_at(grove_log **out, grove *g, const grove_oid *start, const grove_log_opts *opts)
{
	grove_log *log;
	int err;
	if (!out || !g || !start)
		return grove__error_set(GROVE_EINVALID, "grove_log_open: NULL argument");
	if (opts && opts->path && *opts->path && (err = grove_key_validate(opts->path)) < 0)
		return err;
	log = grove__calloc(1, sizeof(*log));
	if (!log)
		return GROVE_ENOMEM;
	log->g = g;
	if (opts) {
		log->skip = opts->skip;
		log->limit = opts->limit;
		log->first_parent = opts->first_parent;
		if (opts->path && *opts->path && !(log->path = grove__strdup(opts->path))) {
			free(log);
			return GROVE_ENOMEM;
		}
	}
	/* Loading the start now reports a missing or bad commit at open. */
	if ((err = enqueue(log, start, NULL)) < 0) {
		grove_log_free(log);
		return err;
	}
	*out = log;
	return 0;
}

int grove_log_open(grove_log **out, grove *g, const char *rev, const grove_log_opts *opts)
{
	grove_oid start;
	int err;
	if (!out || !g || !rev)
		return grove__error_set(GROVE_EINVALID, "grove_log_open: NULL argument");
	if ((err = grove_rev_resolve(g, rev, &start)) < 0)
		return err;
	return grove_log_open_at(out, g, &start, opts);
}

int grove_last_modified(grove *g, const char *rev, const char *path, grove_oid *out)
{
	grove_log_opts opts = { 0 };
	grove_log *log;
	grove_commit *c;
	int err;
	if (!g || !rev || !path || !out)
		return grove__error_set(GROVE_EINVALID, "grove_last_modified: NULL argument");
	if ((err = grove_key_validate(path)) < 0)
		return err;
	opts.path = path;
	opts.limit = 1;
	if ((err = grove_log_open(&log, g, rev, &opts)) < 0)
		return err;
	err = grove_log_next(log, &c);
	grove_log_free(log);
	if (err == GROVE_ITEROVER)
		return grove__error_set(GROVE_ENOTFOUND, "'%s' never existed in the history of '%s'", path, rev);
	if (err < 0)
		return err;
	*out = c->id;
	grove_commit_free(c);
	return 0;
}
