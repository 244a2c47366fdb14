/* Shared by the sync modules: config storage inside the store, URL and
 * secret handling, state bookkeeping. */
#ifndef GROVE_SYNC_INTERNAL_H
#define GROVE_SYNC_INTERNAL_H

#include "backend.h"
#include "grove.h"

/* The ref holding the store's configuration (see grove.h). */
#define GROVE__CONFIG_REF "refs/grove/config"

/* --- config.c ------------------------------------------------------------ */

/* The value of a config key ("remotes/origin/url"), NUL-terminated, from
 * malloc.  GROVE_ENOTFOUND when unset. */
int grove__config_get(grove *g, const char *key, char **out);

/* One change: value NULL removes key (or a whole directory; absent is
 * fine). */
typedef struct {
	const char *key;
	const char *value;
} grove__config_change;

/* Applies changes in one new config commit (compare-and-swap on the ref,
 * retried when another writer got there first). */
int grove__config_update(grove *g, const grove__config_change *changes, size_t count);

/*
 * The same as a new config commit built in memory, not written: objects
 * (plain records), and the compare-and-swap update of the config ref, for
 * a caller to write together with other changes in one grove__write
 * (GROVE_EHEADMOVED there: build again).  Values only (no removal).
 */
typedef struct {
	grove__object *objects;
	size_t count, cap;
	char **bufs;                /* the objects' bytes */
	grove_oid old_id;
	grove_ref_update update;
} grove__config_stage;

int grove__config_stage_build(grove *g, const grove__config_change *changes, size_t count,
	grove__config_stage *st);
void grove__config_stage_dispose(grove__config_stage *st);

/* Names directly under dir ("remotes"), sorted; empty when none. */
int grove__config_names(grove *g, const char *dir, grove_strarray *out);

/* --- url.c --------------------------------------------------------------- */

/* user and password of a URL's userinfo, percent-decoded (NULL where
 * absent; free() both). */
int grove__url_userinfo(const char *url, char **user, char **password);

/*
 * A copy of msg safe to show: every URL's password (and an http(s) user)
 * removed, every occurrence of each non-empty secret replaced by "***".
 * secrets may hold NULLs.  Returns NULL only when out of memory.
 */
char *grove__redact_text(const char *msg, const char *const *secrets, size_t nsecrets);

/* --- state.c ------------------------------------------------------------- */

/* Records the outcome of a fetch/push on remote: success sets
 * remotes/NAME/<what> to now and clears last_error; failure stores the
 * current (already redacted) error message.  Keeps the thread's error. */
void grove__sync_record(grove *g, const char *remote, const char *what, int rc);

/* --- ahead_behind.c -------------------------------------------------------- */

/* Commits reachable only from a (*ahead) and only from b (*behind); either
 * may be zeros (absent). */
int grove__ahead_behind(grove *g, const grove_oid *a, const grove_oid *b, size_t *ahead, size_t *behind);

/* --- timeout.c ------------------------------------------------------------- */

/* A transfer fails when the remote sends (or, while we send, takes)
 * nothing for this long: "the remote did not answer for N s". */
#define GROVE__SYNC_TIMEOUT_DEFAULT_MS 60000u

/* GROVE_SYNC_TIMEOUT (seconds, fractions allowed; 0: wait forever) or the
 * default; read at the start of each fetch/push/clone. */
unsigned grove__sync_timeout_ms(void);
/* "2 s", "1.5 s" */
const char *grove__sync_timeout_text(unsigned ms, char *buf, size_t size);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t grove__sync_now_ms(void);

#endif
