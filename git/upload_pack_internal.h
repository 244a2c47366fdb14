/* upload-pack session state shared by the upload_pack*.c modules. */
#ifndef GROVE_GIT_UPLOAD_PACK_INTERNAL_H
#define GROVE_GIT_UPLOAD_PACK_INTERNAL_H

#include "oidset.h"
#include "pktline.h"
#include "store.h"
#include "upload_pack.h"

/* Capabilities a client may name (v0 want line) or arguments (v2). */
enum {
	UP_MULTI_ACK_DETAILED = 1u << 0,
	UP_NO_DONE = 1u << 1,
	UP_SIDE_BAND = 1u << 2,
	UP_SIDE_BAND_64K = 1u << 3,
	UP_OFS_DELTA = 1u << 4,
	UP_THIN_PACK = 1u << 5,
	UP_INCLUDE_TAG = 1u << 6,
	UP_NO_PROGRESS = 1u << 7,
	UP_SHALLOW = 1u << 8,
	UP_DEEPEN_SINCE = 1u << 9,
	UP_DEEPEN_NOT = 1u << 10,
	UP_DEEPEN_RELATIVE = 1u << 11,
	UP_FILTER = 1u << 12,
	UP_ALLOW_TIP = 1u << 13,
	UP_ALLOW_REACHABLE = 1u << 14,
	UP_WAIT_FOR_DONE = 1u << 15
};

typedef enum { UP_FILTER_NONE = 0, UP_FILTER_BLOB_NONE, UP_FILTER_BLOB_LIMIT, UP_FILTER_TREE0 } up_filter;

typedef struct {
	char *name;
	grove_oid id;
	grove_oid peeled;  /* the non-tag object an annotated tag leads to */
	int has_peeled;
} up_ref;

typedef grove__oidvec up_oids;

/* One fetch request (v0: the whole conversation; v2: one command). */
typedef struct {
	unsigned caps;
	up_oids wants;
	up_oids common;          /* haves we have, in the order received */
	grove__oidset common_set;
	int ready;               /* cached: every want reaches a common commit */
	up_oids client_shallow;  /* "shallow" lines: the client's boundary */
	size_t haves;            /* have lines received */
	size_t round_haves;      /* have lines since the last flush (v0) */
	int got_common_round;
	int sent_ready;
	grove_oid last_common;
	int done;
	unsigned depth;          /* deepen N; 0 = none */
	int64_t since;           /* deepen-since; 0 = none */
	char **deepen_not;
	size_t deepen_not_count;
	up_filter filter;
	uint64_t blob_limit;
	char **want_refs;        /* v2 want-ref names, ids in want_ref_ids */
	up_oids want_ref_ids;
	size_t want_ref_count;
	/* Results of the shallow computation. */
	up_oids new_shallow;     /* commits whose parents are not sent */
	up_oids unshallow;       /* client shallows that are no longer */
	grove__oidset deepen_set;/* deepen: commits within the new boundary */
	int deepen_active;
} up_request;

enum {
	UP_PH_START = 0,
	UP_PH_WANTS,      /* v0: want/shallow/deepen/filter lines */
	UP_PH_HAVES,      /* v0: have lines, flush, done */
	UP_PH_V2_COMMAND, /* v2: waiting for command= */
	UP_PH_V2_CAPS,    /* v2: capability lines before the delim */
	UP_PH_V2_ARGS,    /* v2: arguments until the flush */
	UP_PH_DONE
};

enum { UP_CMD_NONE = 0, UP_CMD_LS_REFS, UP_CMD_FETCH, UP_CMD_OBJECT_INFO };

struct grove__upload_pack {
	grove *g;
	grove__upload_pack_opts o;
	grove__git_write_fn write;
	void *write_payload;

	grove__pkt_reader rd;
	grove__sbuf out;          /* pending output */
	grove__sbuf kept;         /* input held while NEED_PACK */
	size_t kept_off;
	grove__upload_pack_state state;
	int phase;
	int sideband_live;        /* pack streaming: errors go to band 3 */

	/* Refs, loaded once per session (stateless: once per request). */
	int refs_loaded;
	up_ref *refs;
	size_t nrefs;
	char *head_target;        /* HEAD's branch ref, or NULL */
	int head_born;
	grove_oid head_id;
	grove__oidset tips;       /* advertised ids and peeled ids */

	up_request r;
	int command;              /* v2 */
	/* v2 ls-refs / object-info arguments. */
	int ls_symrefs, ls_peel, ls_unborn;
	char **ls_prefixes;
	size_t ls_prefix_count;
	int oi_size;
	up_oids oi_ids;

	grove__upload_pack_summary sum;
};

/* upload_pack.c */
int grove__up_flush_out(grove__upload_pack *up);
int grove__up_fail(grove__upload_pack *up, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int grove__up_sideband_on(const grove__upload_pack *up);
int grove__up_progress(grove__upload_pack *up, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* upload_pack_refs.c */
int grove__up_refs_load(grove__upload_pack *up);
void grove__up_refs_dispose(grove__upload_pack *up);
int grove__up_advertise_v0(grove__upload_pack *up);
int grove__up_advertise_v2(grove__upload_pack *up);
int grove__up_ls_refs(grove__upload_pack *up);
/* Peels a tag chain; *peeled = id for a non-tag; returns 1 if id is a tag. */
int grove__up_peel(grove *g, const grove_oid *id, grove_oid *peeled);

/* upload_pack_walk.c */
/* Every want must be advertised or reachable from a ref: else ERR. */
int grove__up_check_wants(grove__upload_pack *up);
/* 1 if we have the object (a common have), 0 if not. */
int grove__up_have(grove__upload_pack *up, const grove_oid *id);
/* 1 when every want reaches a common commit (the client may stop). */
int grove__up_ready(grove__upload_pack *up);
/* deepen*: computes new_shallow / unshallow / deepen_set. */
int grove__up_compute_shallow(grove__upload_pack *up);
/* The objects to send, in pack order. */
int grove__up_enumerate(grove__upload_pack *up, up_oids *out, grove__oidset *client_has);

/* upload_pack_trees.c: tree reads with a cache of resolved contents
 * (budget in bytes), for one enumeration on one thread. */
typedef struct grove__up_trees grove__up_trees;
int grove__up_trees_new(grove__up_trees **out, grove *g, size_t budget);
void grove__up_trees_free(grove__up_trees *t);
/* A parsed tree; free with grove__tree_release. */
int grove__up_trees_get(grove__up_trees *t, const grove_oid *id, grove__tree **out);

/* upload_pack_send.c */
int grove__up_send_pack(grove__upload_pack *up);

#endif
