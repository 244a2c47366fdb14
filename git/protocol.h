/*
 * Declarations shared by the git protocol engine (git/) and the transports
 * that carry it (stdio, git://, smart HTTP in net/ and runtime/).
 */
#ifndef GROVE_GIT_PROTOCOL_H
#define GROVE_GIT_PROTOCOL_H

#include <stddef.h>

#include "grove.h"
#include "sbuf.h"

/* The agent= capability value both services announce. */
#define GROVE__GIT_AGENT "grove/" GROVE_VERSION_STRING

/* Service names, as in "git-upload-pack" and ?service=git-upload-pack. */
#define GROVE__SERVICE_UPLOAD_PACK "git-upload-pack"
#define GROVE__SERVICE_RECEIVE_PACK "git-receive-pack"

/* Smart HTTP content types (gitprotocol-http). */
#define GROVE__CT_UPLOAD_PACK_ADV "application/x-git-upload-pack-advertisement"
#define GROVE__CT_UPLOAD_PACK_REQUEST "application/x-git-upload-pack-request"
#define GROVE__CT_UPLOAD_PACK_RESULT "application/x-git-upload-pack-result"
#define GROVE__CT_RECEIVE_PACK_ADV "application/x-git-receive-pack-advertisement"
#define GROVE__CT_RECEIVE_PACK_REQUEST "application/x-git-receive-pack-request"
#define GROVE__CT_RECEIVE_PACK_RESULT "application/x-git-receive-pack-result"

/* Protocol versions a client may ask for. */
typedef enum {
	GROVE__PROTOCOL_V0 = 0,
	GROVE__PROTOCOL_V1 = 1,
	GROVE__PROTOCOL_V2 = 2
} grove__protocol_version;

/*
 * The version requested by a GIT_PROTOCOL value (env var for stdio/ssh,
 * the Git-Protocol HTTP header, the extra parameters of a git:// request):
 * colon-separated key[=value] items; the highest "version=N" we know wins.
 * NULL or nothing recognised -> V0.
 */
grove__protocol_version grove__protocol_parse(const char *git_protocol);

/*
 * Smart HTTP's first lines of an info/refs response for protocol v0/v1:
 * "# service=git-upload-pack\n" as a pkt-line, then a flush.
 */
int grove__protocol_service_header(grove__sbuf *out, const char *service);

/* Output callback of the protocol sessions: a non-zero return stops the
 * session and is returned by the call that was writing. */
typedef int (*grove__git_write_fn)(void *payload, const void *data, size_t len);

#endif
