/* Internals shared by the receive-pack modules (git/receive_pack*.c). */
#ifndef GROVE_GIT_RECEIVE_PACK_INTERNAL_H
#define GROVE_GIT_RECEIVE_PACK_INTERNAL_H

#include <stdint.h>
#include <zlib.h>

#include "backend.h"
#include "pktline.h"
#include "receive_pack.h"
#include "sbuf.h"

/* ------------------------------------------------------------------ */
/* Finding where a pack ends in a stream                               */
/* ------------------------------------------------------------------ */

/*
 * On a stateful connection the client sends the pack and then waits for
 * the report, so the end of the pack is not the end of the input: like
 * `git index-pack --stdin`, the scanner follows entry headers and zlib
 * streams to find it.  It also refuses early what the indexer would refuse
 * later anyway (size limits, an entry inflating past its declared size),
 * so a hostile client cannot make us buffer more than max_pack_size.
 */
typedef struct {
	int state;
	unsigned char hdr[20];     /* pack header, then the trailer */
	size_t hdr_have;
	uint32_t remaining;      /* entries still to come */
	size_t declared;         /* inflated size from the entry header */
	unsigned shift;
	int type;
	size_t base_left;        /* REF_DELTA: id bytes still to skip */
	z_stream zs;
	int zs_ready;
	size_t total;            /* pack bytes so far */
	size_t entry_offset;
	size_t max_pack_size, max_objects, max_object_size;
	unsigned char sink[16384];
} grove__pack_scan;

void grove__pack_scan_init(grove__pack_scan *s, size_t max_pack_size, size_t max_objects,
	size_t max_object_size);
/* Takes bytes; *used says how many belong to the pack.  1 when the pack is
 * complete, 0 when more is needed, < 0 (error message set) when the bytes
 * cannot be a valid pack. */
int grove__pack_scan_feed(grove__pack_scan *s, const unsigned char *data, size_t len, size_t *used);
void grove__pack_scan_dispose(grove__pack_scan *s);

/* ------------------------------------------------------------------ */
/* The session                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
	grove_oid old_id, new_id;
	char *refname;
	const char *error;   /* NULL = accepted so far; static text or err_buf */
	char *err_owned;     /* owned reason text when error points at it */
	int noop;            /* accepted, but nothing to write (delete of a missing ref) */
} grove__rp_command;

/* Objects received in the pack, held until the push is accepted. */
typedef struct {
	grove_backend be;    /* an overlay: quarantine, then the store */
	grove *g;
	grove__object *recs;
	size_t n, cap;
	size_t *slots;       /* record index + 1; 0 = empty */
	size_t nslots;       /* power of two, or 0 */
} grove__rp_quarantine;

enum {
	GROVE__RP_COMMANDS = 0,
	GROVE__RP_PUSH_OPTIONS,
	GROVE__RP_PACK,
	GROVE__RP_WORK,
	GROVE__RP_FINISH,
	GROVE__RP_DONE
};

/* Capabilities the client asked for. */
enum {
	GROVE__RP_CAP_REPORT_STATUS = 1 << 0,
	GROVE__RP_CAP_REPORT_STATUS_V2 = 1 << 1,
	GROVE__RP_CAP_DELETE_REFS = 1 << 2,
	GROVE__RP_CAP_QUIET = 1 << 3,
	GROVE__RP_CAP_ATOMIC = 1 << 4,
	GROVE__RP_CAP_OFS_DELTA = 1 << 5,
	GROVE__RP_CAP_SIDE_BAND_64K = 1 << 6,
	GROVE__RP_CAP_PUSH_OPTIONS = 1 << 7
};

struct grove__receive {
	grove *g;
	grove__receive_opts o;
	grove__receive_write_fn write;
	void *write_payload;

	int state;
	unsigned caps;
	grove__pkt_reader pkt;
	size_t push_options;

	grove__rp_command *cmds;
	size_t ncmds, cmds_cap;

	int want_pack;
	grove__pack_scan scan;
	grove__sbuf pack;

	grove__rp_quarantine q;
	char *unpack_error;  /* NULL = unpack ok */
	size_t pack_objects;
	size_t updated, refused;
};

/* Sets a command's refusal reason (copied, made one line). */
int grove__rp_refuse(grove__rp_command *cmd, const char *reason);
/* A reason from the last library error: one line, bounded. */
char *grove__rp_error_text(const char *prefix);

/* receive_pack_check.c: indexing, checks, applying. */
void grove__rp_quarantine_init(grove__rp_quarantine *q, grove *g);
void grove__rp_quarantine_dispose(grove__rp_quarantine *q);
/* Indexes rp->pack into rp->q; sets rp->unpack_error on failure. */
int grove__rp_index_pack(grove__receive *rp);
/* Checks every command (names, old ids, types, fast-forward, connectivity). */
int grove__rp_check_commands(grove__receive *rp);
/* Writes the accepted updates (and the objects) through grove__write. */
int grove__rp_apply(grove__receive *rp);

#endif
