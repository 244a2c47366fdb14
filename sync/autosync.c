/*
 * grove_sync: keeps one branch of a store in step with an upstream, for a
 * served store (see grove.h, "Automatic sync").
 *
 * One thread per grove_sync does all network work.  Writers only touch it
 * through the branch watch, which bumps a change counter and signals a
 * condition variable, so a commit never waits for the network.  The thread
 * wakes up for: a change (pushed at once after a quiet period, else
 * push_delay_ms after the previous push, which coalesces a burst), a fetch
 * request or the periodic fetch, and the end of a backoff.
 *
 * Lock order: s->lock is never held while calling into the store (the
 * store calls the watch, which takes s->lock, possibly with its write lock
 * held).
 */
#include "sync_internal.h"
#include "merge_dav.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "oid.h"
#include "sbuf.h"
#include "store.h"

#define DEFAULT_PUSH_DELAY_MS 500
#define DEFAULT_BACKOFF_MIN_MS 500
#define DEFAULT_BACKOFF_MAX_MS 60000
#define PUSH_ATTEMPTS 4   /* push, refused, fetch+merge, push again ... */
#define MERGE_ATTEMPTS 5  /* a writer moved the branch during the merge */

struct grove_sync {
	grove *g;
	char *remote, *branch, *remote_branch;
	char tracking[1200];   /* refs/remotes/REMOTE/REMOTE_BRANCH */
	char refspec[1100];    /* BRANCH:REMOTE_BRANCH */
	unsigned push_delay_ms, fetch_interval_s, backoff_min_ms, backoff_max_ms;
	grove_sync_opts topts;
	volatile int cancel;   /* polled by transfers; set when stop times out */
	uint64_t watch_id;
	int watching;
	pthread_t thread;
	int thread_started;

	pthread_mutex_t lock;
	pthread_cond_t cond;   /* wakes the thread, and the waiters on it */
	/* Everything below is guarded by lock. */
	int stopping, exited, busy;
	uint64_t change_gen;   /* watch events seen */
	uint64_t handled_gen;  /* events whose head is on the remote */
	int fetch_wanted;
	uint64_t last_push_ms; /* monotonic start of the last push attempt */
	uint64_t next_fetch_ms;
	uint64_t retry_at_ms;  /* 0: not backing off */
	unsigned backoff_ms;
	uint32_t jitter;       /* xorshift state: spreads the retries of rival stores */
	grove_sync_state st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_state(grove_sync *s, grove_sync_run_state state)
{
	pthread_mutex_lock(&s->lock);
	s->st.state = state;
	pthread_mutex_unlock(&s->lock);
}

static void on_change(grove *g, const char *branch, const grove_oid *old_head,
	const grove_oid *new_head, const grove_diff *diff, void *payload)
{
	grove_sync *s = payload;
	(void)g, (void)branch, (void)old_head, (void)diff;
	pthread_mutex_lock(&s->lock);
	s->change_gen++;
	s->st.local = *new_head;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* 0 with *out zeros when the ref does not exist. */
static int read_ref_or_zero(grove *g, const char *ref, grove_oid *out)
{
	int rc = grove_ref_read(g, ref, out);
	if (rc == GROVE_ENOTFOUND) {
		grove_error_clear();
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return rc;
}

static int branch_head_or_zero(grove_sync *s, grove_oid *out)
{
	char ref[1100];
	snprintf(ref, sizeof(ref), "refs/heads/%s", s->branch);
	return read_ref_or_zero(s->g, ref, out);
}

/* Keeps the local head under refs/grove/backup/BRANCH/UNIXTIME[-N]. */
static int backup_head(grove_sync *s, const grove_oid *head)
{
	grove_ref_update up;
	char ref[1300];
	long now = (long)time(NULL);
	int rc = GROVE_EEXISTS;
	for (int n = 0; n < 100 && rc == GROVE_EEXISTS; n++) {
		grove_oid cur;
		if (n)
			snprintf(ref, sizeof(ref), "refs/grove/backup/%s/%ld-%d", s->branch, now, n);
		else
			snprintf(ref, sizeof(ref), "refs/grove/backup/%s/%ld", s->branch, now);
		if ((rc = read_ref_or_zero(s->g, ref, &cur)) < 0)
			return rc;
		if (!grove_oid_is_zero(&cur)) {
			rc = GROVE_EEXISTS;
			continue;
		}
		memset(&up, 0, sizeof(up));
		up.refname = ref;
		up.new_id = *head;
		up.check_old = 1; /* must not exist */
		rc = grove_ref_update_batch(s->g, &up, 1);
		if (rc == GROVE_EHEADMOVED) {
			grove_error_clear();
			rc = GROVE_EEXISTS;
		}
	}
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	s->st.rewrites++;
	if (strlen(ref) < sizeof(s->st.last_backup))
		memcpy(s->st.last_backup, ref, strlen(ref) + 1);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Merges the upstream commit into the branch; the message names every
 * decision the content-merge callbacks made. */
static int merge_upstream(grove_sync *s, const grove_oid *up)
{
	char hex[GROVE_OID_HEXSZ + 1];
	int rc = 0;
	grove_oid_tohex(hex, up);
	for (int attempt = 0; attempt < MERGE_ATTEMPTS; attempt++) {
		grove__sbuf log = GROVE_SBUF_INIT, msg = GROVE_SBUF_INIT;
		grove_conflict_list cl = { 0 };
		grove_commit_opts co = { 0 };
		grove_merge_opts mo = { 0 };
		grove_oid local, tree, result;
		static const grove_oid zero;
		int r;

		if ((rc = branch_head_or_zero(s, &local)) < 0)
			return rc;
		if (grove_oid_is_zero(&local)) {
			rc = grove_branch_set_head(s->g, s->branch, &zero, up);
			goto next;
		}
		if ((r = grove__is_ancestor(s->g, up, &local)) != 0)
			return r < 0 ? r : 0;
		if ((r = grove__is_ancestor(s->g, &local, up)) < 0)
			return r;
		if (r) {
			rc = grove_branch_set_head(s->g, s->branch, &local, up);
			goto next;
		}
		/* A dry run to learn the callbacks' decisions, then the merge
		 * itself with them in the message (both are deterministic). */
		grove__merge_log_attach(&log);
		rc = grove_merge_trees(s->g, &local, up, &tree, &cl);
		grove__merge_log_detach();
		if (rc == GROVE_ECONFLICT) {
			rc = grove__error_set(GROVE_ECONFLICT,
				"merging %s/%s into %s: %zu conflict%s, first at '%s'; the branch is unchanged",
				s->remote, s->remote_branch, s->branch, cl.count, cl.count == 1 ? "" : "s",
				cl.count ? cl.items[0].path : "?");
			grove_conflict_list_dispose(&cl);
			grove__sbuf_dispose(&log);
			return rc;
		}
		grove_conflict_list_dispose(&cl);
		if (rc == 0)
			rc = grove__sbuf_printf(&msg, "Merge %s/%s into %s (grove sync)\n%s%s", s->remote,
				s->remote_branch, s->branch, log.len ? "\n" : "", log.len ? log.data : "");
		grove__sbuf_dispose(&log);
		if (rc < 0) {
			grove__sbuf_dispose(&msg);
			return rc;
		}
		co.message = msg.data;
		mo.commit = &co;
		rc = grove_merge(s->g, s->branch, hex, &mo, &result, NULL);
		grove__sbuf_dispose(&msg);
		if (rc == 0) {
			pthread_mutex_lock(&s->lock);
			s->st.merges++;
			pthread_mutex_unlock(&s->lock);
		}
next:
		if (rc != GROVE_EHEADMOVED)
			return rc;
		if (attempt + 1 < MERGE_ATTEMPTS)
			grove_error_clear(); /* a writer committed meanwhile: again */
	}
	return grove__error_set(GROVE_EHEADMOVED,
		"merging %s/%s into %s: local commits moved the branch during %d attempts; retrying soon",
		s->remote, s->remote_branch, s->branch, MERGE_ATTEMPTS);
}

/* Fetch, detect a rewritten upstream, merge. */
static int fetch_and_merge(grove_sync *s)
{
	grove_oid before, after, local;
	int rc, r;

	set_state(s, GROVE_SYNC_FETCHING);
	if ((rc = read_ref_or_zero(s->g, s->tracking, &before)) < 0)
		return rc;
	if ((rc = grove_fetch(s->g, s->remote, &s->topts)) < 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	s->st.fetches++;
	s->st.last_fetch = (int64_t)time(NULL);
	pthread_mutex_unlock(&s->lock);
	if ((rc = read_ref_or_zero(s->g, s->tracking, &after)) < 0)
		return rc;
	if (grove_oid_is_zero(&after))
		return 0; /* the remote lacks the branch: the push creates it */
	if (!grove_oid_is_zero(&before) && !grove__oid_equal(&before, &after)) {
		if ((r = grove__is_ancestor(s->g, &before, &after)) < 0)
			return r;
		if (!r) {
			/* History rewritten upstream: what we had seen there is
			 * gone.  Keep the local head, then merge as usual. */
			if ((rc = branch_head_or_zero(s, &local)) < 0)
				return rc;
			if (!grove_oid_is_zero(&local) && (rc = backup_head(s, &local)) < 0)
				return rc;
		}
	}
	return merge_upstream(s, &after);
}

/* Pushes the branch if the upstream lacks some of it.  *gen_out: the
 * change count whose head is covered. */
static int push_if_ahead(grove_sync *s, uint64_t *gen_out)
{
	const char *spec = s->refspec;
	grove_oid local, up;
	int rc, r;

	pthread_mutex_lock(&s->lock);
	*gen_out = s->change_gen; /* the head read below includes these */
	pthread_mutex_unlock(&s->lock);
	if ((rc = branch_head_or_zero(s, &local)) < 0 || (rc = read_ref_or_zero(s->g, s->tracking, &up)) < 0)
		return rc;
	if (grove_oid_is_zero(&local))
		return 0;
	if (!grove_oid_is_zero(&up)) {
		if (grove__oid_equal(&local, &up))
			return 0;
		if ((r = grove__is_ancestor(s->g, &local, &up)) != 0)
			return r < 0 ? r : 0;
	}
	pthread_mutex_lock(&s->lock);
	s->st.state = GROVE_SYNC_PUSHING;
	s->last_push_ms = now_ms();
	pthread_mutex_unlock(&s->lock);
	if ((rc = grove_push(s->g, s->remote, &spec, 1, &s->topts)) < 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	s->st.pushes++;
	s->st.last_push = (int64_t)time(NULL);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* One round: fetch and merge when asked, then push what is missing
 * upstream, merging and pushing again when the remote moved meanwhile. */
static int cycle(grove_sync *s, int do_fetch)
{
	uint64_t gen = 0;
	grove_oid local = { { 0 } }, up = { { 0 } };
	size_t ahead = 0, behind = 0;
	char why[512] = "";
	int rc = 0;

	if (do_fetch)
		rc = fetch_and_merge(s);
	for (int attempt = 0; rc == 0 && attempt < PUSH_ATTEMPTS; attempt++) {
		rc = push_if_ahead(s, &gen);
		if (rc != GROVE_ENOTFF)
			break;
		grove_error_clear();
		rc = fetch_and_merge(s);
		if (rc == 0)
			rc = GROVE_ENOTFF; /* unless the next push succeeds */
	}
	if (rc == GROVE_ENOTFF)
		grove__error_set(GROVE_ENOTFF, "push to '%s': the remote's %s moved %d times while we merged "
			"(another writer); trying again shortly", s->remote, s->remote_branch, PUSH_ATTEMPTS);
	/* The failure's message, before the reads below reset the thread's
	 * error (the state said "GROVE_EIO" instead of why). */
	if (rc < 0) {
		const char *m = grove_error_message();
		snprintf(why, sizeof(why), "%s", m && *m ? m : grove_code_name(rc));
	}
	if (branch_head_or_zero(s, &local) < 0 || read_ref_or_zero(s->g, s->tracking, &up) < 0 ||
	    grove__ahead_behind(s->g, &local, &up, &ahead, &behind) < 0) {
		if (rc == 0) {
			const char *m = grove_error_message();
			rc = grove_error_code() ? grove_error_code() : GROVE_ERROR;
			snprintf(why, sizeof(why), "%s", m && *m ? m : grove_code_name(rc));
		}
	}

	pthread_mutex_lock(&s->lock);
	s->st.local = local;
	s->st.pushed = up;
	s->st.ahead = ahead;
	s->st.behind = behind;
	if (rc == 0) {
		if (gen > s->handled_gen)
			s->handled_gen = gen;
		s->backoff_ms = 0;
		s->retry_at_ms = 0;
		s->st.last_error[0] = '\0';
		s->st.state = GROVE_SYNC_IDLE;
	} else if (rc == GROVE_ENOTFF || rc == GROVE_EHEADMOVED) {
		/* Contention, not a remote that is down: another store pushed
		 * first every time, or local writes kept moving the branch.
		 * Try again soon, after a random part of the push delay, so two
		 * stores racing for one remote stop colliding; the backoff for
		 * failures stays where it was. */
		s->jitter ^= s->jitter << 13;
		s->jitter ^= s->jitter >> 17;
		s->jitter ^= s->jitter << 5;
		s->retry_at_ms = now_ms() + 10 + s->jitter % (s->push_delay_ms + 50u);
		s->st.failures++;
		snprintf(s->st.last_error, sizeof(s->st.last_error), "%s", why);
		s->st.state = GROVE_SYNC_BACKING_OFF;
	} else {
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : s->backoff_min_ms;
		if (s->backoff_ms > s->backoff_max_ms)
			s->backoff_ms = s->backoff_max_ms;
		s->retry_at_ms = now_ms() + s->backoff_ms;
		s->st.failures++;
		snprintf(s->st.last_error, sizeof(s->st.last_error), "%s", why);
		s->st.state = GROVE_SYNC_BACKING_OFF;
	}
	s->st.backlog = (size_t)(s->change_gen - s->handled_gen);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static struct timespec abs_monotonic(uint64_t ms)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	return ts;
}

static void *run(void *arg)
{
	grove_sync *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		uint64_t now = now_ms(), wake = UINT64_MAX;
		int dirty = s->change_gen != s->handled_gen;
		int fetch = s->fetch_wanted || (s->fetch_interval_s && now >= s->next_fetch_ms);
		int retry_ok = !s->retry_at_ms || now >= s->retry_at_ms;
		uint64_t push_at = s->last_push_ms + s->push_delay_ms;

		if (s->retry_at_ms && !retry_ok)
			wake = s->retry_at_ms; /* backing off: only a fetch request goes first */
		else if (dirty && now < push_at)
			wake = push_at;
		/* A periodic fetch waits out a backoff too (or this would spin). */
		if (s->fetch_interval_s && retry_ok && s->next_fetch_ms < wake)
			wake = s->next_fetch_ms;
		if (s->fetch_wanted || (retry_ok && (fetch || (dirty && now >= push_at) ||
				s->retry_at_ms))) {
			/* After a failure the retry repeats the whole round. */
			int do_fetch = fetch || s->retry_at_ms;
			s->fetch_wanted = 0;
			if (fetch && s->fetch_interval_s)
				s->next_fetch_ms = now + (uint64_t)s->fetch_interval_s * 1000;
			s->busy = 1;
			pthread_mutex_unlock(&s->lock);
			cycle(s, do_fetch);
			pthread_mutex_lock(&s->lock);
			s->busy = 0;
			pthread_cond_broadcast(&s->cond);
			continue;
		}
		if (wake == UINT64_MAX) {
			pthread_cond_wait(&s->cond, &s->lock);
		} else {
			struct timespec ts = abs_monotonic(wake);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
	}
	/* Last push of what is pending, unless the remote is known down. */
	if (s->change_gen != s->handled_gen && !s->retry_at_ms) {
		s->busy = 1;
		pthread_mutex_unlock(&s->lock);
		cycle(s, 0);
		pthread_mutex_lock(&s->lock);
		s->busy = 0;
	}
	s->exited = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void sync_free(grove_sync *s)
{
	if (!s)
		return;
	if (s->watching)
		grove_watch_remove(s->g, s->watch_id);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->remote);
	free(s->branch);
	free(s->remote_branch);
	free(s);
}

/* Adds the remote or points it at url; sets the branch's upstream. */
static int configure(grove_sync *s, const char *url)
{
	char *cur = NULL;
	int rc;
	if (url) {
		rc = grove_remote_url(s->g, s->remote, &cur);
		if (rc == GROVE_ENOTFOUND) {
			grove_error_clear();
			rc = grove_remote_add(s->g, s->remote, url);
		} else if (rc == 0 && strcmp(cur, url)) {
			rc = grove_remote_set_url(s->g, s->remote, url);
		}
		free(cur);
		if (rc < 0)
			return rc;
	} else if ((rc = grove_remote_url(s->g, s->remote, &cur)) < 0) {
		return rc;
	} else {
		free(cur);
	}
	return grove_branch_set_upstream(s->g, s->branch, s->remote, s->remote_branch);
}

int grove_sync_start(grove_sync **out, grove *g, const grove_sync_config *cfg)
{
	pthread_condattr_t ca;
	grove_sync *s;
	int rc;

	if (!out || !g || !cfg)
		return grove__error_set(GROVE_EINVALID, "grove_sync_start: NULL argument");
	if (cfg->version != GROVE_SYNC_CONFIG_VERSION)
		return grove__error_set(GROVE_EINVALID, "grove_sync_start: unknown config version %u", cfg->version);
	if (!(s = grove__calloc(1, sizeof(*s))))
		return GROVE_ENOMEM;
	s->g = g;
	s->jitter = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)now_ms() ^ (uint32_t)(uintptr_t)s;
	if (!s->jitter)
		s->jitter = 1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->push_delay_ms = cfg->push_delay_ms ? cfg->push_delay_ms : DEFAULT_PUSH_DELAY_MS;
	s->fetch_interval_s = cfg->fetch_interval_s;
	s->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
	s->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
	if (s->backoff_max_ms < s->backoff_min_ms)
		s->backoff_max_ms = s->backoff_min_ms;
	if (cfg->transport)
		s->topts = *cfg->transport;
	else
		s->topts = (grove_sync_opts)GROVE_SYNC_OPTIONS_INIT;
	s->topts.force = 0;
	s->topts.cancel = &s->cancel;
	s->topts.progress = NULL;

	if (!(s->remote = grove__strdup(cfg->remote ? cfg->remote : "origin"))) {
		rc = GROVE_ENOMEM;
		goto fail;
	}
	if (cfg->branch) {
		if (!(s->branch = grove__strdup(cfg->branch))) {
			rc = GROVE_ENOMEM;
			goto fail;
		}
	} else if ((rc = grove_head_branch(g, &s->branch)) < 0) {
		goto fail;
	}
	if (!(s->remote_branch = grove__strdup(cfg->remote_branch ? cfg->remote_branch : s->branch))) {
		rc = GROVE_ENOMEM;
		goto fail;
	}
	if ((rc = grove_remote_name_validate(s->remote)) < 0 || (rc = grove_branch_name_validate(s->branch)) < 0 ||
	    (rc = grove_branch_name_validate(s->remote_branch)) < 0)
		goto fail;
	snprintf(s->tracking, sizeof(s->tracking), "refs/remotes/%s/%s", s->remote, s->remote_branch);
	snprintf(s->refspec, sizeof(s->refspec), "%s:%s", s->branch, s->remote_branch);
	if ((rc = configure(s, cfg->url)) < 0)
		goto fail;
	if ((rc = grove_watch_add(g, s->branch, NULL, on_change, s, &s->watch_id)) < 0)
		goto fail;
	s->watching = 1;

	/* The first round on the caller's thread: a served mem: store must
	 * hold the upstream before it answers any request. */
	rc = cycle(s, 1);
	if (rc < 0 && !cfg->start_offline) {
		/* The message was kept in the state (later reads clear the
		 * thread's error). */
		grove__error_set(rc, "first sync with '%s' failed: %s", s->remote, s->st.last_error);
		goto fail;
	}
	grove_error_clear();
	pthread_mutex_lock(&s->lock);
	if (s->fetch_interval_s)
		s->next_fetch_ms = now_ms() + (uint64_t)s->fetch_interval_s * 1000;
	pthread_mutex_unlock(&s->lock);
	if ((rc = pthread_create(&s->thread, NULL, run, s)) != 0) {
		rc = grove__error_set(GROVE_ERROR, "grove_sync_start: cannot start the sync thread");
		goto fail;
	}
	s->thread_started = 1;
	*out = s;
	return 0;
fail:
	if (rc < 0 && grove_error_code() != rc)
		grove__error_set(rc, "grove_sync_start: %s", grove_code_name(rc));
	sync_free(s);
	return rc;
}

void grove_sync_fetch_now(grove_sync *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->fetch_wanted = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void grove_sync_state_get(grove_sync *s, grove_sync_state *out)
{
	uint64_t now;
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->backlog = (size_t)(s->change_gen - s->handled_gen);
	now = now_ms();
	out->retry_in_ms = s->retry_at_ms > now ? (unsigned)(s->retry_at_ms - now) : 0;
	pthread_mutex_unlock(&s->lock);
}

int grove_sync_wait_idle(grove_sync *s, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	while (s->change_gen != s->handled_gen || s->fetch_wanted || s->busy) {
		struct timespec ts = abs_monotonic(deadline);
		if (now_ms() >= deadline || s->exited) {
			rc = grove__error_set(GROVE_ERROR, "sync: %llu change%s not pushed yet%s%s",
				(unsigned long long)(s->change_gen - s->handled_gen),
				s->change_gen - s->handled_gen == 1 ? "" : "s", s->st.last_error[0] ? ": " : "",
				s->st.last_error);
			break;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void grove_sync_stop(grove_sync *s, unsigned flush_timeout_ms)
{
	uint64_t deadline;
	if (!s)
		return;
	/* No new events: the watch goes first. */
	if (s->watching) {
		grove_watch_remove(s->g, s->watch_id);
		s->watching = 0;
	}
	if (s->thread_started) {
		deadline = now_ms() + flush_timeout_ms;
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_broadcast(&s->cond);
		while (!s->exited && now_ms() < deadline) {
			struct timespec ts = abs_monotonic(deadline);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		if (!s->exited)
			s->cancel = 1; /* the transfer in progress stops */
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	sync_free(s);
}
