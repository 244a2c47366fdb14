/*
 * The git: backend: objects and refs live in a git repository through
 * libgit2, so the git CLI can read and write the same store at any time.
 *
 * Concurrency: one mutex serialises this handle's libgit2 calls (libgit2
 * does not promise that a git_repository may be used from several threads
 * at once).  It is never held while a caller's callback runs, so callbacks
 * may use the backend again.  Against other processes (git CLI included),
 * ref updates take git's own lock files (refs/heads/x.lock), so a ref
 * locked by `git` is reported as GROVE_ELOCKED and left alone.
 *
 * Atomicity: a write set's ref updates are applied through a libgit2
 * transaction: every ref is locked, every expected old value verified
 * under the locks, then all are written.  Readers that take no locks
 * (git CLI reads) may observe the refs of a batch changing one by one;
 * writers never interleave with it.
 *
 * Durability: libgit2 only offers process-wide fsync
 * (GIT_OPT_ENABLE_FSYNC_GITDIR).  Opening a git: store with GROVE_DURABLE
 * switches it on for the rest of the process and it is never switched off,
 * so a GROVE_RELAXED git: store in the same process is then fsynced too
 * (safe, only slower).  A process that only opens RELAXED stores never
 * fsyncs its git: writes; flush is a no-op either way.
 */
#include "backend.h"
#include "error.h"
#include "oid.h"

#include <dirent.h>
#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "git_loose.h"

/* Write sets with at least this many encoded (pack-form) records are
 * streamed into the repository as one pack instead of loose objects. */
#define GIT_PACK_MIN_OBJECTS 64

typedef struct {
	grove_backend base;
	git_repository *repo;
	git_odb *odb;
	int read_only;
	pthread_mutex_t lock;
	char *objects_dir;
} git_backend;

static git_backend *as_git(grove_backend *be)
{
	return (git_backend *)be;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static int map_git_code(int gerr, int klass)
{
	switch (gerr) {
	case GIT_ENOTFOUND:
		return GROVE_ENOTFOUND;
	case GIT_EEXISTS:
		return GROVE_EEXISTS;
	case GIT_EINVALIDSPEC:
	case GIT_EINVALID:
	case GIT_EAMBIGUOUS:
		return GROVE_EINVALID;
	case GIT_ELOCKED:
		return GROVE_ELOCKED;
	case GIT_EMODIFIED:
		return GROVE_EHEADMOVED;
	case GIT_EMISMATCH:
		return GROVE_ECORRUPT;
	default:
		break;
	}
	switch (klass) {
	case GIT_ERROR_NOMEMORY:
		return GROVE_ENOMEM;
	case GIT_ERROR_ZLIB:
		return GROVE_ECORRUPT;
	case GIT_ERROR_OS:
		return GROVE_EIO;
	default:
		return GROVE_ERROR;
	}
}

/* Records libgit2's last error as a grove error: "git: <what>: <libgit2 message>". */
static int git_fail(int gerr, const char *what)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : 0;
	const char *msg = e && e->message ? e->message : "unknown libgit2 error";
	return grove__error_set(map_git_code(gerr, klass), "git: %s: %s", what, msg);
}

static int git_fail_oid(int gerr, const char *what, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];
	char buf[256];
	git_oid_tostr(hex, sizeof(hex), id);
	snprintf(buf, sizeof(buf), "%s %s", what, hex);
	return git_fail(gerr, buf);
}

static int refuse_read_only(void)
{
	return grove__error_set(GROVE_EREADONLY, "git: store is opened read-only");
}

static void to_git_oid(git_oid *out, const grove_oid *id)
{
	memcpy(out->id, id->id, GROVE_OID_RAWSZ);
}

static void from_git_oid(grove_oid *out, const git_oid *id)
{
	memcpy(out->id, id->id, GROVE_OID_RAWSZ);
}

static int type_from_git(git_object_t t, grove_otype *out)
{
	switch (t) {
	case GIT_OBJECT_COMMIT: *out = GROVE_OBJ_COMMIT; return 0;
	case GIT_OBJECT_TREE: *out = GROVE_OBJ_TREE; return 0;
	case GIT_OBJECT_BLOB: *out = GROVE_OBJ_BLOB; return 0;
	case GIT_OBJECT_TAG: *out = GROVE_OBJ_TAG; return 0;
	default:
		return grove__error_set(GROVE_ECORRUPT, "git: object of unknown type %d", (int)t);
	}
}

static int type_to_git(grove_otype t, git_object_t *out)
{
	switch (t) {
	case GROVE_OBJ_COMMIT: *out = GIT_OBJECT_COMMIT; return 0;
	case GROVE_OBJ_TREE: *out = GIT_OBJECT_TREE; return 0;
	case GROVE_OBJ_BLOB: *out = GIT_OBJECT_BLOB; return 0;
	case GROVE_OBJ_TAG: *out = GIT_OBJECT_TAG; return 0;
	default:
		return grove__error_set(GROVE_EINVALID, "git: invalid object type %d", (int)t);
	}
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */
/* ------------------------------------------------------------------ */

static int git_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	git_backend *gb = as_git(be);
	git_odb_object *obj = NULL;
	git_oid gid;
	int err;

	if ((err = grove__git_loose_read(gb->objects_dir, id, type, NULL, out)) <= 0)
		return err;
	to_git_oid(&gid, id);
	pthread_mutex_lock(&gb->lock);
	err = git_odb_read(&obj, gb->odb, &gid);
	if (err < 0) {
		err = git_fail_oid(err, "reading object", &gid);
		pthread_mutex_unlock(&gb->lock);
		return err;
	}
	pthread_mutex_unlock(&gb->lock);

	grove_otype t = GROVE_OBJ_BAD;
	size_t size = git_odb_object_size(obj);
	err = type_from_git(git_odb_object_type(obj), &t);
	if (err == 0) {
		/* One spare byte so the content is NUL-terminated, as parsers like. */
		char *data = grove__malloc(size + 1);
		if (!data) {
			err = GROVE_ENOMEM;
		} else {
			memcpy(data, git_odb_object_data(obj), size);
			data[size] = '\0';
			out->data = data;
			out->size = size;
			if (type)
				*type = t;
		}
	}
	git_odb_object_free(obj);
	return err;
}

static int git_read_header(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size)
{
	git_backend *gb = as_git(be);
	git_object_t gt = GIT_OBJECT_INVALID;
	size_t len;
	git_oid gid;
	int err;

	if ((err = grove__git_loose_read(gb->objects_dir, id, type, size, NULL)) <= 0)
		return err;
	to_git_oid(&gid, id);
	pthread_mutex_lock(&gb->lock);
	err = git_odb_read_header(&len, &gt, gb->odb, &gid);
	if (err < 0)
		err = git_fail_oid(err, "reading object header", &gid);
	pthread_mutex_unlock(&gb->lock);
	if (err < 0)
		return err;
	grove_otype t = GROVE_OBJ_BAD;
	if ((err = type_from_git(gt, &t)) < 0)
		return err;
	if (type)
		*type = t;
	if (size)
		*size = len;
	return 0;
}

static int git_exists(grove_backend *be, const grove_oid *id)
{
	git_backend *gb = as_git(be);
	git_oid gid;
	int r;

	to_git_oid(&gid, id);
	pthread_mutex_lock(&gb->lock);
	r = git_odb_exists(gb->odb, &gid);
	pthread_mutex_unlock(&gb->lock);
	return r ? 1 : 0;
}

typedef struct {
	grove_oid *ids;
	size_t count, cap;
	int err;
} oid_list;

static int collect_oid(const git_oid *id, void *payload)
{
	oid_list *l = payload;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		grove_oid *ids = grove__realloc(l->ids, cap * sizeof(*ids));
		if (!ids) {
			l->err = GROVE_ENOMEM;
			return -1;
		}
		l->ids = ids;
		l->cap = cap;
	}
	from_git_oid(&l->ids[l->count++], id);
	return 0;
}

/* Collects the ids first so that the callback runs without the lock and
 * may read objects; an id present in a pack and loose is reported once. */
static int git_foreach_object(grove_backend *be, grove__oid_cb cb, void *payload)
{
	git_backend *gb = as_git(be);
	oid_list l = { 0 };
	int err;

	pthread_mutex_lock(&gb->lock);
	err = git_odb_foreach(gb->odb, collect_oid, &l);
	if (err < 0 && !l.err)
		err = git_fail(err, "listing objects");
	pthread_mutex_unlock(&gb->lock);
	if (l.err)
		err = l.err;
	if (err < 0) {
		free(l.ids);
		return err;
	}

	if (l.count)
		qsort(l.ids, l.count, sizeof(*l.ids), (int (*)(const void *, const void *))grove_oid_cmp);
	for (size_t i = 0; i < l.count; i++) {
		if (i > 0 && grove__oid_equal(&l.ids[i], &l.ids[i - 1]))
			continue;
		if ((err = cb(&l.ids[i], payload)) != 0)
			break;
	}
	free(l.ids);
	return err;
}

/* Writes one full object as a loose object after checking that its content
 * hashes to the id it claims.  Caller holds the lock. */
static int write_plain_locked(git_backend *gb, const grove_oid *id, grove_otype type,
	const void *data, size_t len)
{
	git_object_t gt = GIT_OBJECT_INVALID;
	git_oid want, got;
	int err;

	if ((err = type_to_git(type, &gt)) < 0)
		return err;
	to_git_oid(&want, id);
	if ((err = git_odb_hash(&got, data, len, gt)) < 0)
		return git_fail(err, "hashing object");
	if (!git_oid_equal(&want, &got)) {
		char a[GIT_OID_HEXSZ + 1], b[GIT_OID_HEXSZ + 1];
		git_oid_tostr(a, sizeof(a), &want);
		git_oid_tostr(b, sizeof(b), &got);
		return grove__error_set(GROVE_ECORRUPT,
			"git: object %s: content hashes to %s", a, b);
	}
	if ((err = git_odb_write(&got, gb->odb, data, len, gt)) < 0)
		return git_fail_oid(err, "writing object", &want);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Pack form: encoded records streamed into git's indexer               */
/* ------------------------------------------------------------------ */

/* A growable byte buffer for the pack being built. */
typedef struct {
	unsigned char *data;
	size_t len, cap;
} bytes;

static int bytes_put(bytes *b, const void *p, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap - b->len < n)
			cap *= 2;
		unsigned char *d = grove__realloc(b->data, cap);
		if (!d)
			return GROVE_ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Pack entry header: type and inflated size as git's varint. */
static int put_entry_header(bytes *b, unsigned type, size_t size)
{
	unsigned char h[16];
	size_t n = 0;
	unsigned char c = (unsigned char)((type << 4) | (size & 15));
	size >>= 4;
	while (size) {
		h[n++] = c | 0x80;
		c = size & 0x7f;
		size >>= 7;
	}
	h[n++] = c;
	return bytes_put(b, h, n);
}

/*
 * Builds a pack of zlib records (their compressed bytes reused as is) and
 * hands it to libgit2's indexer, which checks every object's hash and
 * installs pack and index.  Caller holds the lock.
 */
static int write_pack_locked(git_backend *gb, const grove__object **recs, size_t count)
{
	bytes p = { 0 };
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	unsigned char hdr[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	int err;

	if (count > 0xffffffffu)
		return grove__error_set(GROVE_EINVALID, "git: too many objects for one pack");
	hdr[8] = (unsigned char)(count >> 24);
	hdr[9] = (unsigned char)(count >> 16);
	hdr[10] = (unsigned char)(count >> 8);
	hdr[11] = (unsigned char)count;
	if ((err = bytes_put(&p, hdr, sizeof(hdr))) < 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		const grove__object *r = recs[i];
		if (r->encoding != GROVE__ENC_ZLIB) {
			/* A REF_DELTA entry's header needs the delta's inflated
			 * size, which a record does not carry: deltas are decoded
			 * and written whole by the caller instead. */
			err = grove__error_set(GROVE_EINVALID, "git: only zlib records go into packs");
			goto out;
		}
		if ((err = put_entry_header(&p, (unsigned)r->type, r->size)) < 0 ||
			(err = bytes_put(&p, r->data, r->data_len)) < 0)
			goto out;
	}
	unsigned char trailer[20];
	if ((err = grove__sha1(p.data, p.len, trailer)) < 0 ||
		(err = bytes_put(&p, trailer, sizeof(trailer))) < 0)
		goto out;

	memset(&stats, 0, sizeof(stats));
	if ((err = git_odb_write_pack(&wp, gb->odb, NULL, NULL)) < 0) {
		err = git_fail(err, "starting pack");
		goto out;
	}
	if ((err = wp->append(wp, p.data, p.len, &stats)) < 0) {
		err = git_fail(err, "writing pack");
		goto out;
	}
	if ((err = wp->commit(wp, &stats)) < 0) {
		err = git_fail(err, "indexing pack");
		goto out;
	}
	err = 0;
out:
	if (wp)
		wp->free(wp);
	free(p.data);
	return err;
}

/* Is the record's object already stored?  Caller holds the lock. */
static int present_locked(git_backend *gb, const grove_oid *id)
{
	git_oid gid;
	to_git_oid(&gid, id);
	return git_odb_exists(gb->odb, &gid);
}

/*
 * Writes the objects of a write set.  Plain records become loose objects.
 * Many zlib records go into one pack (their compressed bytes reused).
 * Delta records are decoded through grove__object_decode (whose base reads
 * come back through this backend, so it runs without the lock) and written
 * whole; a delta whose base comes later in the set is retried after the
 * others.
 */
static int write_objects(git_backend *gb, const grove__write_set *ws)
{
	const grove__object **packable = NULL, **deferred = NULL;
	size_t npack = 0, ndefer = 0;
	int err = 0;

	if (ws->object_count == 0)
		return 0;
	packable = grove__calloc(ws->object_count, sizeof(*packable));
	deferred = grove__calloc(ws->object_count, sizeof(*deferred));
	if (!packable || !deferred) {
		err = GROVE_ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < ws->object_count; i++) {
		const grove__object *r = &ws->objects[i];
		pthread_mutex_lock(&gb->lock);
		int present = present_locked(gb, &r->id);
		if (!present && r->encoding == GROVE__ENC_PLAIN)
			err = write_plain_locked(gb, &r->id, r->type, r->data, r->data_len);
		pthread_mutex_unlock(&gb->lock);
		if (err < 0)
			goto out;
		if (present || r->encoding == GROVE__ENC_PLAIN)
			continue;
		if (r->encoding == GROVE__ENC_ZLIB)
			packable[npack++] = r;
		else if (r->encoding == GROVE__ENC_DELTA)
			deferred[ndefer++] = r;
		else {
			err = grove__error_set(GROVE_EINVALID, "git: unknown record encoding %d",
				(int)r->encoding);
			goto out;
		}
	}

	if (npack >= GIT_PACK_MIN_OBJECTS) {
		pthread_mutex_lock(&gb->lock);
		err = write_pack_locked(gb, packable, npack);
		pthread_mutex_unlock(&gb->lock);
		if (err < 0)
			goto out;
		npack = 0;
	}
	/* Few zlib records: decode them like deltas. */
	for (size_t i = 0; i < npack; i++)
		deferred[ndefer++] = packable[i];

	/* Decode the rest; repeat while progress is made so that deltas on
	 * bases written later in the same set still resolve. */
	while (ndefer > 0) {
		size_t left = 0;
		for (size_t i = 0; i < ndefer; i++) {
			const grove__object *r = deferred[i];
			grove_buf full = { 0 };
			if (r->encoding == GROVE__ENC_DELTA) {
				pthread_mutex_lock(&gb->lock);
				int have_base = present_locked(gb, &r->base);
				pthread_mutex_unlock(&gb->lock);
				if (!have_base) {
					deferred[left++] = r;
					continue;
				}
			}
			if ((err = grove__object_decode(&gb->base, r, &full)) < 0)
				goto out;
			pthread_mutex_lock(&gb->lock);
			err = write_plain_locked(gb, &r->id, r->type, full.data, full.size);
			pthread_mutex_unlock(&gb->lock);
			grove_buf_dispose(&full);
			if (err < 0)
				goto out;
		}
		if (left == ndefer) {
			char hex[GROVE_OID_HEXSZ + 1], bhex[GROVE_OID_HEXSZ + 1];
			grove_oid_tohex(hex, &deferred[0]->id);
			grove_oid_tohex(bhex, &deferred[0]->base);
			err = grove__error_set(GROVE_ENOTFOUND,
				"git: delta %s: base object %s is missing", hex, bhex);
			goto out;
		}
		ndefer = left;
	}
out:
	free(packable);
	free(deferred);
	return err;
}

/* ------------------------------------------------------------------ */
/* Refs                                                                */
/* ------------------------------------------------------------------ */

static int git_ref_read(grove_backend *be, const char *refname, grove_oid *out)
{
	git_backend *gb = as_git(be);
	git_reference *ref = NULL;
	int err;

	pthread_mutex_lock(&gb->lock);
	err = git_reference_lookup(&ref, gb->repo, refname);
	if (err < 0) {
		if (err == GIT_ENOTFOUND)
			err = grove__error_set(GROVE_ENOTFOUND, "git: ref %s not found", refname);
		else
			err = git_fail(err, refname);
	} else if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		err = grove__error_set(GROVE_EINVALID, "git: ref %s is symbolic", refname);
	} else {
		from_git_oid(out, git_reference_target(ref));
	}
	git_reference_free(ref);
	pthread_mutex_unlock(&gb->lock);
	return err;
}

typedef struct {
	char *name;
	grove_oid id;
} ref_entry;

static int ref_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const ref_entry *)a)->name, ((const ref_entry *)b)->name);
}

static void ref_entries_free(ref_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Direct refs under prefix, sorted by name (libgit2's iterator yields loose
 * refs in directory order and packed ones after).  Symbolic refs such as
 * refs/remotes/origin/HEAD are skipped.  Caller holds the lock. */
static int collect_refs_locked(git_backend *gb, const char *prefix, ref_entry **out, size_t *count)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	ref_entry *v = NULL;
	size_t n = 0, cap = 0, plen = prefix ? strlen(prefix) : 0;
	int err;

	if ((err = git_reference_iterator_new(&it, gb->repo)) < 0)
		return git_fail(err, "listing refs");
	while ((err = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
			strncmp(name, prefix ? prefix : "", plen) == 0) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				ref_entry *nv = grove__realloc(v, ncap * sizeof(*nv));
				if (!nv) {
					git_reference_free(ref);
					err = GROVE_ENOMEM;
					break;
				}
				v = nv;
				cap = ncap;
			}
			v[n].name = grove__strdup(name);
			if (!v[n].name) {
				git_reference_free(ref);
				err = GROVE_ENOMEM;
				break;
			}
			from_git_oid(&v[n].id, git_reference_target(ref));
			n++;
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (err == GIT_ITEROVER)
		err = 0;
	else if (err < 0 && err != GROVE_ENOMEM)
		err = git_fail(err, "listing refs");
	if (err < 0) {
		ref_entries_free(v, n);
		return err;
	}
	if (n)
		qsort(v, n, sizeof(*v), ref_entry_cmp);
	*out = v;
	*count = n;
	return 0;
}

static int git_ref_foreach(grove_backend *be, const char *prefix, grove_ref_cb cb, void *payload)
{
	git_backend *gb = as_git(be);
	ref_entry *v = NULL;
	size_t n = 0;
	int err;

	pthread_mutex_lock(&gb->lock);
	err = collect_refs_locked(gb, prefix, &v, &n);
	pthread_mutex_unlock(&gb->lock);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++)
		if ((err = cb(v[i].name, &v[i].id, payload)) != 0)
			break;
	ref_entries_free(v, n);
	return err;
}

static int git_head_read(grove_backend *be, char **target)
{
	git_backend *gb = as_git(be);
	git_reference *head = NULL;
	int err;

	pthread_mutex_lock(&gb->lock);
	err = git_reference_lookup(&head, gb->repo, "HEAD");
	if (err < 0) {
		err = git_fail(err, "reading HEAD");
	} else if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
		err = grove__error_set(GROVE_EINVALID, "git: HEAD is detached (not a symbolic ref)");
	} else {
		char *t = grove__strdup(git_reference_symbolic_target(head));
		if (!t)
			err = GROVE_ENOMEM;
		else
			*target = t;
	}
	git_reference_free(head);
	pthread_mutex_unlock(&gb->lock);
	return err;
}

static int git_head_write(grove_backend *be, const char *target)
{
	git_backend *gb = as_git(be);
	git_reference *head = NULL;
	int err;

	if (gb->read_only)
		return refuse_read_only();
	if (!git_reference_is_valid_name(target) || strncmp(target, "refs/", 5) != 0)
		return grove__error_set(GROVE_EINVALID, "git: invalid HEAD target '%s'", target);
	pthread_mutex_lock(&gb->lock);
	err = git_reference_symbolic_create(&head, gb->repo, "HEAD", target, 1, "grove: set HEAD");
	if (err < 0)
		err = git_fail(err, "writing HEAD");
	git_reference_free(head);
	pthread_mutex_unlock(&gb->lock);
	return err;
}

/* The current direct target of refname, zeros when it does not exist.
 * Caller holds the lock. */
static int current_target_locked(git_backend *gb, const char *refname, grove_oid *out, int *exists)
{
	git_reference *ref = NULL;
	int err = git_reference_lookup(&ref, gb->repo, refname);
	if (err == GIT_ENOTFOUND) {
		*out = grove__oid_zero;
		*exists = 0;
		return 0;
	}
	if (err < 0)
		return git_fail(err, refname);
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		git_reference_free(ref);
		return grove__error_set(GROVE_EINVALID, "git: ref %s is symbolic", refname);
	}
	from_git_oid(out, git_reference_target(ref));
	*exists = 1;
	git_reference_free(ref);
	return 0;
}

static int validate_updates(const grove_ref_update *refs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *name = refs[i].refname;
		if (!name || strncmp(name, "refs/", 5) != 0 || !git_reference_is_valid_name(name))
			return grove__error_set(GROVE_EINVALID, "git: invalid ref name '%s'",
				name ? name : "(null)");
		for (size_t j = 0; j < i; j++)
			if (strcmp(refs[j].refname, name) == 0)
				return grove__error_set(GROVE_EINVALID,
					"git: ref %s updated twice in one batch", name);
	}
	return 0;
}

/*
 * Locks every ref (git's lock files), checks the expected old values under
 * the locks, then writes all of them.  Freeing the transaction releases
 * the locks of a batch that failed part-way, leaving every ref unchanged.
 */
static int apply_ref_updates_locked(git_backend *gb, const grove_ref_update *refs, size_t count)
{
	git_transaction *tx = NULL;
	git_signature *sig = NULL;
	int err;

	if ((err = git_transaction_new(&tx, gb->repo)) < 0)
		return git_fail(err, "starting ref transaction");
	/* An explicit identity: reflogs (non-bare repositories) must not depend
	 * on user.name being configured. */
	if ((err = git_signature_now(&sig, "grove", "grove@localhost")) < 0) {
		err = git_fail(err, "signature");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const char *name = refs[i].refname;
		if ((err = git_transaction_lock_ref(tx, name)) < 0) {
			if (err == GIT_ELOCKED)
				err = grove__error_set(GROVE_ELOCKED,
					"git: ref %s is locked by another process (%s.lock exists)",
					name, name);
			else
				err = git_fail(err, name);
			goto out;
		}
	}
	for (size_t i = 0; i < count; i++) {
		const grove_ref_update *u = &refs[i];
		grove_oid cur;
		int exists = 0;
		if ((err = current_target_locked(gb, u->refname, &cur, &exists)) < 0)
			goto out;
		if (u->check_old && !grove__oid_equal(&cur, &u->old_id)) {
			char want[GROVE_OID_HEXSZ + 1], have[GROVE_OID_HEXSZ + 1];
			grove_oid_tohex(want, &u->old_id);
			grove_oid_tohex(have, &cur);
			err = grove__error_set(GROVE_EHEADMOVED,
				"git: ref %s moved: expected %s, found %s", u->refname,
				grove_oid_is_zero(&u->old_id) ? "no ref" : want,
				exists ? have : "no ref");
			goto out;
		}
		if (grove_oid_is_zero(&u->new_id)) {
			if (exists && (err = git_transaction_remove(tx, u->refname)) < 0) {
				err = git_fail(err, u->refname);
				goto out;
			}
		} else {
			git_oid target;
			to_git_oid(&target, &u->new_id);
			if ((err = git_transaction_set_target(tx, u->refname, &target, sig,
				"grove: update")) < 0) {
				err = git_fail(err, u->refname);
				goto out;
			}
		}
	}
	if ((err = git_transaction_commit(tx)) < 0)
		err = git_fail(err, "committing ref updates");
out:
	git_transaction_free(tx);
	git_signature_free(sig);
	return err;
}

static int git_write(grove_backend *be, const grove__write_set *ws)
{
	git_backend *gb = as_git(be);
	int err;

	if (gb->read_only)
		return refuse_read_only();
	if ((err = validate_updates(ws->refs, ws->ref_count)) < 0)
		return err;
	if ((err = write_objects(gb, ws)) < 0)
		return err;
	if (ws->ref_count == 0)
		return 0;
	pthread_mutex_lock(&gb->lock);
	err = apply_ref_updates_locked(gb, ws->refs, ws->ref_count);
	pthread_mutex_unlock(&gb->lock);
	return err;
}

static int git_flush(grove_backend *be)
{
	(void)be;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static int count_object(const git_oid *id, void *payload)
{
	(void)id;
	(*(uint64_t *)payload)++;
	return 0;
}

/* Bytes of the regular files below dir (unreadable parts are skipped:
 * the figure is an estimate for statistics). */
static uint64_t dir_bytes(const char *dir, int depth)
{
	uint64_t total = 0;
	DIR *d;
	struct dirent *e;

	if (depth > 8 || !(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		char *path = malloc(len);
		if (!path)
			break;
		snprintf(path, len, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				total += dir_bytes(path, depth + 1);
			else if (S_ISREG(st.st_mode))
				total += (uint64_t)st.st_size;
		}
		free(path);
	}
	closedir(d);
	return total;
}

static int git_stats(grove_backend *be, grove_stats *out)
{
	git_backend *gb = as_git(be);
	grove_stats s;
	ref_entry *refs = NULL;
	size_t nrefs = 0;
	int err;

	memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&gb->lock);
	err = git_odb_foreach(gb->odb, count_object, &s.objects);
	if (err < 0)
		err = git_fail(err, "counting objects");
	else
		err = collect_refs_locked(gb, "", &refs, &nrefs);
	pthread_mutex_unlock(&gb->lock);
	if (err < 0)
		return err;
	ref_entries_free(refs, nrefs);
	s.refs = nrefs;
	/* Loose objects and packs as they lie on disk; how many pack entries
	 * are deltas is not cheaply known, so deltas stays 0. */
	s.disk_bytes = dir_bytes(gb->objects_dir, 0);
	s.object_bytes = s.disk_bytes;
	*out = s;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static void git_close(grove_backend *be)
{
	git_backend *gb = as_git(be);
	if (!gb)
		return;
	grove__object_decode_forget(be);
	git_odb_free(gb->odb);
	git_repository_free(gb->repo);
	pthread_mutex_destroy(&gb->lock);
	free(gb->objects_dir);
	free(gb);
	git_libgit2_shutdown();
}

static const grove__backend_ops git_ops = {
	.name = "git",
	.close = git_close,
	.read = git_read,
	.read_header = git_read_header,
	.exists = git_exists,
	.foreach_object = git_foreach_object,
	.ref_read = git_ref_read,
	.ref_foreach = git_ref_foreach,
	.head_read = git_head_read,
	.head_write = git_head_write,
	.write = git_write,
	.flush = git_flush,
	.stats = git_stats,
	.read_raw = NULL,
	.remove_unreachable = NULL,
};

/* A new bare repository whose HEAD names refs/heads/main, as
 * `git init --bare -b main` makes. */
static int create_bare(git_repository **repo, const char *path)
{
	git_repository_init_options io = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	io.initial_head = "main";
	int err = git_repository_init_ext(repo, path, &io);
	if (err < 0)
		return git_fail(err, path);
	return 0;
}

int grove__backend_git_open(grove_backend **out, const char *path, const grove_options *opts)
{
	grove_options defaults = GROVE_OPTIONS_INIT;
	git_backend *gb = NULL;
	int err;

	if (!opts)
		opts = &defaults;
	if (!path || !*path)
		return grove__error_set(GROVE_EINVALID, "git: empty repository path");
	if ((err = git_libgit2_init()) < 0)
		return grove__error_set(GROVE_ERROR, "git: libgit2 failed to initialise");

	gb = grove__calloc(1, sizeof(*gb));
	if (!gb) {
		git_libgit2_shutdown();
		return GROVE_ENOMEM;
	}
	gb->base.ops = &git_ops;
	gb->read_only = opts->read_only;
	if (pthread_mutex_init(&gb->lock, NULL) != 0) {
		free(gb);
		git_libgit2_shutdown();
		return grove__error_set(GROVE_ERROR, "git: cannot create mutex");
	}

	if (opts->durability == GROVE_DURABLE)
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);

	/* NO_SEARCH: the path must be the repository (or its work tree), never
	 * a directory inside some enclosing repository. */
	err = git_repository_open_ext(&gb->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (err == GIT_ENOTFOUND && opts->create && !opts->read_only) {
		err = create_bare(&gb->repo, path);
	} else if (err == GIT_ENOTFOUND) {
		err = grove__error_set(GROVE_ENOTFOUND, "git: no git repository at %s", path);
	} else if (err < 0) {
		err = git_fail(err, path);
	}
	if (err < 0)
		goto fail;

	if ((err = git_repository_odb(&gb->odb, gb->repo)) < 0) {
		err = git_fail(err, "opening object database");
		goto fail;
	}
	const char *gitdir = git_repository_path(gb->repo); /* ends in '/' */
	size_t len = strlen(gitdir) + sizeof("objects");
	gb->objects_dir = grove__malloc(len);
	if (!gb->objects_dir) {
		err = GROVE_ENOMEM;
		goto fail;
	}
	snprintf(gb->objects_dir, len, "%sobjects", gitdir);

	*out = &gb->base;
	return 0;
fail:
	git_close(&gb->base);
	return err;
}
