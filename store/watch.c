/*
 * Watches: callbacks on branch head changes.  Changes made through this
 * handle fire at once (grove__write calls grove__watch_fire); changes made
 * by other handles or processes are found by grove_poll(), which compares
 * the heads with those this handle saw last.
 */
#include "error.h"
#include "oid.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

struct grove__watch {
	uint64_t id;
	char *branch; /* NULL = any */
	char *prefix; /* NULL = anything */
	grove_watch_fn fn;
	void *payload;
	grove__watch *next;
};

struct grove__seen_ref {
	char *name; /* branch name */
	grove_oid id;
};

static long seen_find(grove *g, const char *name)
{
	for (size_t i = 0; i < g->seen_count; i++)
		if (!strcmp(g->seen[i].name, name))
			return (long)i;
	return -1;
}

/* Records the head of branch; a zero id forgets it. */
static int seen_set(grove *g, const char *name, const grove_oid *id)
{
	long i = seen_find(g, name);
	if (grove_oid_is_zero(id)) {
		if (i >= 0) {
			free(g->seen[i].name);
			g->seen[i] = g->seen[--g->seen_count];
		}
		return 0;
	}
	if (i >= 0) {
		g->seen[i].id = *id;
		return 0;
	}
	{
		struct grove__seen_ref *ns = grove__realloc(g->seen, (g->seen_count + 1) * sizeof(*ns));
		char *copy = grove__strdup(name);
		if (!ns || !copy) {
			free(copy);
			if (ns)
				g->seen = ns;
			return GROVE_ENOMEM;
		}
		g->seen = ns;
		g->seen[g->seen_count].name = copy;
		g->seen[g->seen_count].id = *id;
		g->seen_count++;
	}
	return 0;
}

static int snapshot_cb(const char *refname, const grove_oid *id, void *payload)
{
	return seen_set(payload, refname + 11, id);
}

int grove_watch_add(grove *g, const char *branch, const char *prefix,
	grove_watch_fn fn, void *payload, uint64_t *id_out)
{
	grove__watch *w;
	int err = 0;
	if (!g || !fn)
		return grove__error_set(GROVE_EINVALID, "grove_watch_add: NULL argument");
	if (branch && (err = grove_branch_name_validate(branch)) < 0)
		return err;
	if (prefix && *prefix && (err = grove_key_validate(prefix)) < 0)
		return err;
	w = grove__calloc(1, sizeof(*w));
	if (!w)
		return GROVE_ENOMEM;
	w->branch = branch ? grove__strdup(branch) : NULL;
	w->prefix = prefix && *prefix ? grove__strdup(prefix) : NULL;
	if ((branch && !w->branch) || (prefix && *prefix && !w->prefix)) {
		free(w->branch);
		free(w->prefix);
		free(w);
		return GROVE_ENOMEM;
	}
	w->fn = fn;
	w->payload = payload;
	pthread_mutex_lock(&g->watch_lock);
	if (!g->watches && g->seen_count == 0)
		err = g->be->ops->ref_foreach(g->be, "refs/heads/", snapshot_cb, g);
	w->id = g->next_watch_id++;
	w->next = g->watches;
	g->watches = w;
	pthread_mutex_unlock(&g->watch_lock);
	if (id_out)
		*id_out = w->id;
	return err < 0 ? err : 0;
}

int grove_watch_remove(grove *g, uint64_t id)
{
	grove__watch **pp, *w = NULL;
	pthread_mutex_lock(&g->watch_lock);
	for (pp = &g->watches; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			w = *pp;
			*pp = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->watch_lock);
	if (!w)
		return grove__error_set(GROVE_ENOTFOUND, "no watch with id %llu", (unsigned long long)id);
	free(w->branch);
	free(w->prefix);
	free(w);
	return 0;
}

void grove__watch_dispose(grove *g)
{
	grove__watch *w = g->watches;
	while (w) {
		grove__watch *next = w->next;
		free(w->branch);
		free(w->prefix);
		free(w);
		w = next;
	}
	g->watches = NULL;
	for (size_t i = 0; i < g->seen_count; i++)
		free(g->seen[i].name);
	free(g->seen);
	g->seen = NULL;
	g->seen_count = 0;
}

typedef struct {
	grove_watch_fn fn;
	void *payload;
	char *prefix;
} watch_call;

/* Fires every watch interested in branch moving from old to new. */
static void fire_one(grove *g, const char *branch, const grove_oid *old_id, const grove_oid *new_id)
{
	watch_call *calls = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&g->watch_lock);
	for (grove__watch *w = g->watches; w; w = w->next) {
		if (w->branch && strcmp(w->branch, branch))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			watch_call *nc = realloc(calls, ncap * sizeof(*nc));
			if (!nc)
				break;
			calls = nc;
			cap = ncap;
		}
		calls[n].fn = w->fn;
		calls[n].payload = w->payload;
		calls[n].prefix = w->prefix ? strdup(w->prefix) : NULL;
		n++;
	}
	pthread_mutex_unlock(&g->watch_lock);

	/* Callbacks run without the lock so they may use the store freely. */
	for (size_t i = 0; i < n; i++) {
		grove_diff diff = { 0 };
		if (grove_diff_commits(g, old_id, new_id, calls[i].prefix, &diff) == 0 &&
		    (!calls[i].prefix || diff.count > 0))
			calls[i].fn(g, branch, old_id, new_id, &diff, calls[i].payload);
		grove_diff_dispose(&diff);
		free(calls[i].prefix);
	}
	free(calls);
	grove_error_clear();
}

void grove__watch_fire(grove *g, const grove_ref_update *updates, const grove_oid *old_ids, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *ref = updates[i].refname;
		if (strncmp(ref, "refs/heads/", 11))
			continue;
		if (grove__oid_equal(&old_ids[i], &updates[i].new_id))
			continue;
		pthread_mutex_lock(&g->watch_lock);
		seen_set(g, ref + 11, &updates[i].new_id);
		pthread_mutex_unlock(&g->watch_lock);
		fire_one(g, ref + 11, &old_ids[i], &updates[i].new_id);
	}
}

typedef struct {
	char **names;
	grove_oid *ids;
	size_t n, cap;
} head_list;

static int collect_heads(const char *refname, const grove_oid *id, void *payload)
{
	head_list *h = payload;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		char **nn = grove__realloc(h->names, cap * sizeof(*nn));
		grove_oid *ni;
		if (!nn)
			return GROVE_ENOMEM;
		h->names = nn;
		ni = grove__realloc(h->ids, cap * sizeof(*ni));
		if (!ni)
			return GROVE_ENOMEM;
		h->ids = ni;
		h->cap = cap;
	}
	if (!(h->names[h->n] = grove__strdup(refname + 11)))
		return GROVE_ENOMEM;
	h->ids[h->n++] = *id;
	return 0;
}

int grove_poll(grove *g)
{
	head_list now = { 0 };
	char **gone = NULL;
	grove_oid *gone_ids = NULL;
	size_t ngone = 0;
	int err = g->be->ops->ref_foreach(g->be, "refs/heads/", collect_heads, &now);

	if (err == 0) {
		/* Branches that disappeared. */
		pthread_mutex_lock(&g->watch_lock);
		gone = calloc(g->seen_count + 1, sizeof(*gone));
		gone_ids = calloc(g->seen_count + 1, sizeof(*gone_ids));
		if (!gone || !gone_ids) {
			err = grove__error_oom();
		} else {
			for (size_t i = 0; i < g->seen_count; i++) {
				int found = 0;
				for (size_t j = 0; j < now.n && !found; j++)
					found = !strcmp(now.names[j], g->seen[i].name);
				if (!found) {
					gone[ngone] = strdup(g->seen[i].name);
					gone_ids[ngone++] = g->seen[i].id;
				}
			}
		}
		pthread_mutex_unlock(&g->watch_lock);
	}
	for (size_t i = 0; i < now.n && err == 0; i++) {
		grove_oid old;
		long k;
		pthread_mutex_lock(&g->watch_lock);
		k = seen_find(g, now.names[i]);
		if (k >= 0)
			old = g->seen[k].id;
		else
			memset(&old, 0, sizeof(old));
		if (!grove__oid_equal(&old, &now.ids[i]))
			err = seen_set(g, now.names[i], &now.ids[i]);
		pthread_mutex_unlock(&g->watch_lock);
		if (err == 0 && !grove__oid_equal(&old, &now.ids[i]))
			fire_one(g, now.names[i], &old, &now.ids[i]);
	}
	for (size_t i = 0; i < ngone; i++) {
		if (err == 0 && gone[i]) {
			pthread_mutex_lock(&g->watch_lock);
			seen_set(g, gone[i], &grove__oid_zero);
			pthread_mutex_unlock(&g->watch_lock);
			fire_one(g, gone[i], &gone_ids[i], &grove__oid_zero);
		}
		free(gone[i]);
	}
	free(gone);
	free(gone_ids);
	for (size_t i = 0; i < now.n; i++)
		free(now.names[i]);
	free(now.names);
	free(now.ids);
	return err;
}
