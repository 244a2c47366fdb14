/*
 * The backend interface: the only code that touches files.  A backend
 * stores objects and refs; everything above it (trees, transactions,
 * history, merges) is written once in terms of these operations.
 */
#ifndef GROVE_BACKEND_H
#define GROVE_BACKEND_H

#include "grove.h"

typedef struct grove_backend grove_backend;

/* How an object record's bytes are encoded. */
typedef enum {
	GROVE__ENC_PLAIN = 0, /* data is the object content itself */
	GROVE__ENC_ZLIB = 1,  /* data is a zlib stream of the content, as in a pack */
	GROVE__ENC_DELTA = 2  /* data is a zlib stream of a git delta against base */
} grove__encoding;

/*
 * One object to store.  `type` and `size` always describe the full object
 * (for a delta: the result of applying it).  Keeping pack entries in their
 * encoded form lets a history received as a pack stay as small as the pack
 * and lets pack writers stream stored deltas without recomputing them.
 */
typedef struct {
	grove_oid id;
	grove_otype type;
	size_t size;
	grove__encoding encoding;
	const void *data;
	size_t data_len;
	grove_oid base; /* GROVE__ENC_DELTA only */
	/* Inflated length of data for ZLIB/DELTA records, 0 = unknown: a pack
	 * writer needs a delta's length for the entry header and inflates the
	 * stream to learn it unless the record carries it. */
	size_t data_size;
} grove__object;

/* An atomic unit of change: objects (already-present ones are skipped),
 * then ref updates checked and applied all or none. */
typedef struct {
	const grove__object *objects;
	size_t object_count;
	const grove_ref_update *refs;
	size_t ref_count;
} grove__write_set;

typedef int (*grove__oid_cb)(const grove_oid *id, void *payload);

typedef struct {
	const char *name; /* "lmdb", "git", "mem" */
	/* Written records may be deltas (GROVE__ENC_DELTA) and are kept so;
	 * a transaction then stores rewritten trees as deltas. */
	int keeps_deltas;

	void (*close)(grove_backend *be);

	/* Full object content, deltas resolved.  GROVE_ENOTFOUND if absent,
	 * GROVE_ECORRUPT if the stored record is damaged. */
	int (*read)(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out);
	/* Type and size without necessarily reading the content. */
	int (*read_header)(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size);
	/* 1 present, 0 absent, < 0 error. */
	int (*exists)(grove_backend *be, const grove_oid *id);
	int (*foreach_object)(grove_backend *be, grove__oid_cb cb, void *payload);

	/* GROVE_ENOTFOUND if the ref does not exist. */
	int (*ref_read)(grove_backend *be, const char *refname, grove_oid *out);
	/* Byte order of ref names; a non-zero cb return stops and is returned. */
	int (*ref_foreach)(grove_backend *be, const char *prefix, grove_ref_cb cb, void *payload);
	/* HEAD is the only symbolic ref: its target, e.g. "refs/heads/main". */
	int (*head_read)(grove_backend *be, char **target);
	int (*head_write)(grove_backend *be, const char *target);

	/*
	 * Stores the objects, then applies the ref updates.  A ref update
	 * whose check fails makes the whole call fail with GROVE_EHEADMOVED
	 * and no ref changes.  Backends that can (lmdb, mem) make objects and
	 * refs durable together or not at all.
	 */
	int (*write)(grove_backend *be, const grove__write_set *ws);
	int (*flush)(grove_backend *be);
	int (*stats)(grove_backend *be, grove_stats *out);

	/* Optional (NULL when unsupported). */

	/* The stored record as is, for pack writers that reuse deltas.
	 * data/base filled like grove__object; out->data owned by *buf. */
	int (*read_raw)(grove_backend *be, const grove_oid *id, grove__object *out, grove_buf *buf);
	/* Removes every object for which keep() returns 0, atomically against
	 * concurrent writers of this store. */
	int (*remove_unreachable)(grove_backend *be, int (*keep)(const grove_oid *id, void *payload),
		void *payload, size_t *removed);
	/* What ref `refname`, seen pointing at `id`, peels to, as cached when
	 * the ref was written: 1 and *peeled set if id is an annotated tag, 0
	 * if it is not a tag, GROVE_ENOTFOUND if not known (no cache entry, or
	 * the ref has moved): the caller then peels by reading the objects. */
	int (*ref_peeled)(grove_backend *be, const char *refname, const grove_oid *id,
		grove_oid *peeled);
	/* Named data derived from the objects and kept beside them (the
	 * reachability index, reach_index.c), written in a transaction of its
	 * own.  get: a copy in out, GROVE_ENOTFOUND if absent.  put: data NULL
	 * removes the entry. */
	int (*aux_get)(grove_backend *be, const char *name, grove_buf *out);
	int (*aux_put)(grove_backend *be, const char *name, const void *data, size_t len);
} grove__backend_ops;

struct grove_backend {
	const grove__backend_ops *ops;
};

int grove__backend_mem_open(grove_backend **out, const grove_options *opts);
int grove__backend_lmdb_open(grove_backend **out, const char *path, const grove_options *opts);
int grove__backend_git_open(grove_backend **out, const char *path, const grove_options *opts);

/* Resolves an object record into full content (inflating, applying deltas
 * via read on `be` for bases).  Shared by backends storing encoded records. */
int grove__object_decode(grove_backend *be, const grove__object *rec, grove_buf *out);
/* Forgets the delta bases cached for a backend; backends call it on close. */
void grove__object_decode_forget(const grove_backend *be);

#endif
