/*
 * receive-pack: the server side of `git push` (gitprotocol-pack), as a
 * transport-agnostic session.  Bytes go in through grove__receive_feed as
 * they arrive; everything the client should see goes out through the write
 * callback.  The same session serves a stateful stream (stdio, git://:
 * advertise, then feed) and stateless HTTP (advertise in one request;
 * feed one request body, then input_end, in another).
 *
 * Lifecycle:
 *
 *   grove__receive_new                    (any thread)
 *   grove__receive_advertise              (not for a stateless POST)
 *   grove__receive_feed ... / input_end   until the state is not NEED_INPUT
 *   NEED_WORK: grove__receive_work        long CPU work, no output, reads
 *                                         the store only: may run on a worker
 *   then grove__receive_finish            writes objects and refs, reports
 *   DONE: further input is ignored (a transport may drain until EOF)
 *
 * Safety: nothing becomes visible in the store until the whole push has
 * checked out.  The pack is held in memory (quarantine), indexed with git's
 * fsck rules, thin bases resolved from the store, and every new ref tip
 * checked for connectivity; only then do objects and ref updates go through
 * grove__write (so the store's watchers fire), with compare-and-swap on the
 * old ids the client sent.
 */
#ifndef GROVE_GIT_RECEIVE_PACK_H
#define GROVE_GIT_RECEIVE_PACK_H

#include <stddef.h>

#include "grove.h"

typedef struct grove__receive grove__receive;

/* Receives output bytes; a non-zero return stops the session (returned by
 * the call that was writing). */
typedef int (*grove__receive_write_fn)(void *payload, const void *data, size_t len);

typedef struct {
	/* Limits; 0 selects the default. */
	size_t max_pack_size;      /* bytes; default 2 GiB */
	size_t max_objects;        /* objects in the pack; default 10,000,000 */
	size_t max_object_size;    /* bytes of one object; default 512 MiB */
	unsigned max_delta_depth;  /* default 4095 (git's own maximum) */
	size_t max_commands;       /* ref updates in one push; default 100,000 */
	/* Allow non-fast-forward updates of refs/heads/ (git push --force). */
	int allow_non_ff;
	/* Protocol version 1 (GIT_PROTOCOL "version=1"): the advertisement
	 * starts with "version 1".  Version 2 has no push: use 0 for it. */
	int protocol_v1;
	/*
	 * Optional: a last check of each ref update that passed the built-in
	 * ones (name, old id, connectivity, fast-forward), e.g. to validate the
	 * files of a new tree.  Runs during grove__receive_work (possibly on a
	 * worker thread), before anything is written; the pushed objects are
	 * read with grove__receive_read_object.  Return 0 to accept, 1 to
	 * refuse the update with *reason (malloc'd text, taken by the session,
	 * shown to the client as "[remote rejected] (reason)"), or a negative
	 * grove code to fail the whole check.  old_id is zero for a new ref;
	 * deletes are not passed.
	 */
	int (*check_update)(void *arg, grove__receive *rp, const char *refname,
		const grove_oid *old_id, const grove_oid *new_id, char **reason);
	void *check_arg;
} grove__receive_opts;

typedef enum {
	GROVE__RECEIVE_NEED_INPUT = 0, /* feed more bytes, or input_end */
	GROVE__RECEIVE_NEED_WORK = 1,  /* call grove__receive_work, then finish */
	GROVE__RECEIVE_NEED_FINISH = 2,/* grove__receive_work done: call finish */
	GROVE__RECEIVE_DONE = 3        /* output complete; close when convenient */
} grove__receive_state;

/* opts may be NULL.  The store must outlive the session. */
int grove__receive_new(grove__receive **out, grove *g, const grove__receive_opts *opts,
	grove__receive_write_fn write, void *write_payload);
void grove__receive_free(grove__receive *rp);

/* The ref advertisement: refs sorted, HEAD not advertised, capabilities on
 * the first line (capabilities^{} with a zero id for an empty store), then
 * a flush packet.  A transport adds any service header it needs. */
int grove__receive_advertise(grove__receive *rp);

/*
 * Takes input bytes.  Returns 0 (check grove__receive_state), or a negative
 * code when the session failed; the client has then been told (an ERR
 * packet for protocol errors, report-status for a bad pack) and the state
 * is DONE.  Input fed in state DONE is ignored.
 */
int grove__receive_feed(grove__receive *rp, const void *data, size_t len);
/*
 * The input ended (EOF, end of the request body).  A client that hung up
 * before sending any command is not an error (DONE, no output).  Input that
 * ends inside the commands or the pack fails the push: nothing is stored.
 */
int grove__receive_input_end(grove__receive *rp);

grove__receive_state grove__receive_state_get(const grove__receive *rp);

/* Reads an object as the push sees it: from the received pack, else from
 * the store.  For check_update; out is freed with grove_buf_dispose. */
int grove__receive_read_object(grove__receive *rp, const grove_oid *id, grove_otype *type,
	grove_buf *out);

/* Indexes the pack and checks every command (NEED_WORK -> NEED_FINISH).
 * Never writes output or changes the store. */
int grove__receive_work(grove__receive *rp);
/* Applies the accepted updates and writes the report (NEED_FINISH -> DONE).
 * Returns 0 even when refs were refused; those are in the report. */
int grove__receive_finish(grove__receive *rp);
/* work then finish, for transports without a worker pool. */
int grove__receive_run(grove__receive *rp);

/* Results, for logs and tests: refs updated and refused by the push. */
typedef struct {
	size_t updated;
	size_t refused;
	size_t objects;      /* objects in the pack */
	int unpack_ok;       /* 1 if the pack (or its absence) was accepted */
} grove__receive_summary;
void grove__receive_summary_get(const grove__receive *rp, grove__receive_summary *out);

#endif
