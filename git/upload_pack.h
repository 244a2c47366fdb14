/*
 * upload-pack: the server side of `git fetch` / `git clone`
 * (gitprotocol-pack for v0/v1, gitprotocol-v2), as a transport-agnostic
 * session: bytes in through grove__upload_pack_feed, bytes out through the
 * write callback.  Works over
 *   - a stateful stream (stdio, git://): start, then feed until DONE;
 *   - stateless HTTP: start with advertise_only for GET info/refs; for a
 *     POST a session with stateless set is fed one request body, then
 *     input_end; the response is everything written;
 *   - an event loop: when the state becomes NEED_PACK the transport calls
 *     grove__upload_pack_run_pack, possibly on a worker thread (it only
 *     reads the store and writes through the callback), then feeds on.
 *
 * Lifecycle:
 *   grove__upload_pack_new
 *   grove__upload_pack_start          advertisement (v0 refs / v2 caps);
 *                                     nothing for a stateless POST
 *   grove__upload_pack_feed ...       while NEED_INPUT
 *   NEED_PACK: grove__upload_pack_run_pack   streams the pack; then back
 *                                     to NEED_INPUT (v2 stateful) or DONE
 *   grove__upload_pack_input_end      at EOF / end of the request body
 *
 * Errors: protocol errors (bad pkt-line, unknown capability, want of an
 * object we did not advertise...) are reported to the client as an
 * "ERR <message>" packet (band 3 once a side-band is active) and returned
 * as a negative code with the same message in grove_error_message(); the
 * state is then DONE.  The store is only read, never written.
 */
#ifndef GROVE_GIT_UPLOAD_PACK_H
#define GROVE_GIT_UPLOAD_PACK_H

#include <stddef.h>

#include "grove.h"
#include "protocol.h"

typedef struct grove__upload_pack grove__upload_pack;

typedef struct {
	grove__protocol_version version; /* V0/V1 (same wire format) or V2 */
	/* One request in, one response out (smart HTTP, --stateless-rpc). */
	int stateless;
	/* Only the advertisement (HTTP GET info/refs, --advertise-refs). */
	int advertise_only;
	/*
	 * v2 stateless: end each response with a response-end packet (0002).
	 * git's own HTTP client (remote-curl) inserts that packet itself, so
	 * a server talking to it must leave this off; it is for transports
	 * that frame responses inside one stream.
	 */
	int response_end;
	/* Progress on band 2 unless the client said no-progress. */
	int progress;
	/* Pack limits: 0 = no limit. */
	size_t max_wants;
	size_t max_haves;
} grove__upload_pack_opts;

#define GROVE__UPLOAD_PACK_OPTS_INIT { GROVE__PROTOCOL_V0, 0, 0, 0, 1, 0, 0 }

typedef enum {
	GROVE__UPLOAD_PACK_NEED_INPUT = 0, /* feed more bytes, or input_end */
	GROVE__UPLOAD_PACK_NEED_PACK = 1,  /* call grove__upload_pack_run_pack */
	GROVE__UPLOAD_PACK_DONE = 2        /* the conversation is over */
} grove__upload_pack_state;

/* opts may be NULL (v0, stateful).  The store must outlive the session. */
int grove__upload_pack_new(grove__upload_pack **out, grove *g, const grove__upload_pack_opts *opts,
	grove__git_write_fn write, void *write_payload);
void grove__upload_pack_free(grove__upload_pack *up);

/* Writes the advertisement: v0 refs with capabilities, or the v2
 * capability list.  With advertise_only the state becomes DONE. */
int grove__upload_pack_start(grove__upload_pack *up);

/*
 * Takes input bytes (any split).  Returns 0 (see the state) or a negative
 * code (the client was sent ERR, the state is DONE).  Bytes fed while the
 * state is NEED_PACK are kept and parsed after run_pack; in state DONE
 * they are ignored.  feed(up, NULL, 0) resumes parsing kept bytes.
 */
int grove__upload_pack_feed(grove__upload_pack *up, const void *data, size_t len);

/* The input ended: an error if it ended inside a packet or a request
 * (nothing more can come), else DONE. */
int grove__upload_pack_input_end(grove__upload_pack *up);

/* Enumerates the objects and streams the pack (NEED_PACK ->
 * NEED_INPUT or DONE).  Long CPU work; writes only through the callback. */
int grove__upload_pack_run_pack(grove__upload_pack *up);

grove__upload_pack_state grove__upload_pack_state_get(const grove__upload_pack *up);

/* Counters for logs, tests and benchmarks. */
typedef struct {
	size_t wants, haves, common;
	size_t objects;        /* objects in the pack */
	size_t reused_deltas;  /* stored deltas sent as such */
	size_t pack_bytes;
	double enumerate_seconds, pack_seconds;
} grove__upload_pack_summary;
void grove__upload_pack_summary_get(const grove__upload_pack *up, grove__upload_pack_summary *out);

#endif
