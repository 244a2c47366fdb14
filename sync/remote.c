/* Remotes and upstream settings, stored in the store's config (config.c). */
#include "sync_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "sbuf.h"

static char *keyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *keyf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		grove__error_oom();
		return NULL;
	}
	return s;
}

int grove_remote_name_validate(const char *name)
{
	if (!name || !*name)
		return grove__error_set(GROVE_EINVALID, "empty remote name");
	if (strchr(name, '/'))
		return grove__error_set(GROVE_EINVALID, "invalid remote name '%s': no '/' allowed", name);
	if (grove_branch_name_validate(name) < 0)
		return grove__error_set(GROVE_EINVALID, "invalid remote name '%s'", name);
	return 0;
}

void grove_remote_array_dispose(grove_remote_array *array)
{
	if (!array)
		return;
	for (size_t i = 0; i < array->count; i++) {
		free(array->items[i].name);
		free(array->items[i].url);
	}
	free(array->items);
	array->items = NULL;
	array->count = 0;
}

int grove_remote_url(grove *g, const char *name, char **out)
{
	char *key;
	int rc;
	if ((rc = grove_remote_name_validate(name)) < 0)
		return rc;
	if (!(key = keyf("remotes/%s/url", name)))
		return GROVE_ENOMEM;
	rc = grove__config_get(g, key, out);
	free(key);
	if (rc == GROVE_ENOTFOUND)
		return grove__error_set(rc, "no remote named '%s'", name);
	return rc;
}

static int set_url(grove *g, const char *name, const char *url, int must_exist)
{
	char *key = NULL, *stored = NULL, *cur = NULL;
	grove__config_change ch;
	int rc;
	if ((rc = grove_remote_name_validate(name)) < 0)
		return rc;
	if (!url || !*url)
		return grove__error_set(GROVE_EINVALID, "empty URL for remote '%s'", name);
	if (strchr(url, '\n'))
		return grove__error_set(GROVE_EINVALID, "URL for remote '%s' has a newline", name);
	rc = grove_remote_url(g, name, &cur);
	free(cur);
	if (rc == 0 && !must_exist)
		return grove__error_set(GROVE_EEXISTS, "remote '%s' already exists", name);
	if (rc < 0 && (rc != GROVE_ENOTFOUND || must_exist))
		return rc;
	grove_error_clear();
	if ((rc = grove_url_redact(url, &stored)) < 0)
		return rc;
	if (!(key = keyf("remotes/%s/url", name))) {
		free(stored);
		return GROVE_ENOMEM;
	}
	ch.key = key;
	ch.value = stored;
	rc = grove__config_update(g, &ch, 1);
	free(key);
	free(stored);
	return rc;
}

int grove_remote_add(grove *g, const char *name, const char *url)
{
	return set_url(g, name, url, 0);
}

int grove_remote_set_url(grove *g, const char *name, const char *url)
{
	return set_url(g, name, url, 1);
}

int grove_remote_list(grove *g, grove_remote_array *out)
{
	grove_strarray names = { 0 };
	grove_remote_array a = { 0 };
	int rc;
	if ((rc = grove__config_names(g, "remotes", &names)) < 0)
		return rc;
	if (names.count && !(a.items = grove__calloc(names.count, sizeof(*a.items)))) {
		grove_strarray_dispose(&names);
		return GROVE_ENOMEM;
	}
	for (size_t i = 0; i < names.count; i++) {
		char *url = NULL;
		rc = grove_remote_url(g, names.strings[i], &url);
		if (rc == GROVE_ENOTFOUND || rc == GROVE_EINVALID) { /* not a remote */
			grove_error_clear();
			continue;
		}
		if (rc < 0)
			goto fail;
		a.items[a.count].name = names.strings[i];
		a.items[a.count].url = url;
		names.strings[i] = NULL;
		a.count++;
	}
	grove_strarray_dispose(&names);
	*out = a;
	return 0;
fail:
	grove_strarray_dispose(&names);
	grove_remote_array_dispose(&a);
	return rc;
}

/* Collects refs under a prefix, for deletion. */
typedef struct {
	grove_ref_update *ups;
	size_t n, cap;
} ref_dels;

static int collect_del(const char *refname, const grove_oid *id, void *payload)
{
	ref_dels *d = payload;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		grove_ref_update *n = grove__realloc(d->ups, cap * sizeof(*n));
		if (!n)
			return GROVE_ENOMEM;
		d->ups = n;
		d->cap = cap;
	}
	memset(&d->ups[d->n], 0, sizeof(d->ups[0]));
	if (!(d->ups[d->n].refname = grove__strdup(refname)))
		return GROVE_ENOMEM;
	d->ups[d->n].old_id = *id;
	d->ups[d->n].check_old = 1;
	d->n++;
	return 0;
}

int grove_remote_remove(grove *g, const char *name)
{
	grove_strarray branches = { 0 };
	grove__config_change *ch = NULL;
	char **keys = NULL;
	char *url = NULL, *prefix = NULL;
	ref_dels d = { 0 };
	size_t nch = 0;
	int rc;

	if ((rc = grove_remote_url(g, name, &url)) < 0)
		return rc;
	free(url);
	if ((rc = grove__config_names(g, "branches", &branches)) < 0)
		return rc;
	ch = grove__calloc(branches.count + 1, sizeof(*ch));
	keys = grove__calloc(branches.count + 1, sizeof(*keys));
	if (!ch || !keys) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	if (!(keys[nch] = keyf("remotes/%s", name))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	ch[nch].key = keys[nch];
	nch++;
	for (size_t i = 0; i < branches.count; i++) {
		char *k = keyf("branches/%s/remote", branches.strings[i]), *r = NULL;
		if (!k) {
			rc = GROVE_ENOMEM;
			goto out;
		}
		rc = grove__config_get(g, k, &r);
		free(k);
		if (rc == 0 && !strcmp(r, name)) {
			if (!(keys[nch] = keyf("branches/%s", branches.strings[i]))) {
				free(r);
				rc = GROVE_ENOMEM;
				goto out;
			}
			ch[nch].key = keys[nch];
			nch++;
		}
		free(r);
		grove_error_clear();
	}
	/* The remote-tracking refs go first: a failure leaves the remote
	 * configured, so removing it can be tried again. */
	if (!(prefix = keyf("refs/remotes/%s/", name))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	if ((rc = grove_ref_foreach(g, prefix, collect_del, &d)) < 0)
		goto out;
	if (d.n && (rc = grove_ref_update_batch(g, d.ups, d.n)) < 0)
		goto out;
	rc = grove__config_update(g, ch, nch);
out:
	for (size_t i = 0; i < d.n; i++)
		free((char *)d.ups[i].refname);
	free(d.ups);
	free(prefix);
	for (size_t i = 0; keys && i < nch; i++)
		free(keys[i]);
	free(keys);
	free(ch);
	grove_strarray_dispose(&branches);
	return rc;
}

int grove_branch_set_upstream(grove *g, const char *branch, const char *remote, const char *remote_branch)
{
	grove__config_change ch[2];
	char *k1 = NULL, *k2 = NULL;
	int rc;
	if ((rc = grove_branch_name_validate(branch)) < 0)
		return rc;
	if (remote) {
		char *url = NULL;
		if ((rc = grove_remote_url(g, remote, &url)) < 0)
			return rc;
		free(url);
		if (!remote_branch)
			remote_branch = branch;
		if ((rc = grove_branch_name_validate(remote_branch)) < 0)
			return rc;
	}
	k1 = keyf("branches/%s/remote", branch);
	k2 = keyf("branches/%s/merge", branch);
	if (!k1 || !k2) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	ch[0].key = k1;
	ch[0].value = remote; /* NULL: unset */
	ch[1].key = k2;
	ch[1].value = remote ? remote_branch : NULL;
	rc = grove__config_update(g, ch, 2);
out:
	free(k1);
	free(k2);
	return rc;
}

void grove__sync_record(grove *g, const char *remote, const char *what, int rc)
{
	char *msg = NULL, *k1 = NULL, *k2 = NULL;
	char now[32];
	int saved_code = grove_error_code();
	grove__config_change ch[2];
	size_t n = 0;

	if (!remote)
		return;
	if (rc < 0 && !(msg = grove__strdup(grove_error_message())))
		return;
	k1 = keyf("remotes/%s/%s", remote, what);
	k2 = keyf("remotes/%s/last_error", remote);
	if (!k1 || !k2)
		goto out;
	if (rc == 0) {
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		ch[n].key = k1;
		ch[n++].value = now;
		ch[n].key = k2;
		ch[n++].value = "";
	} else {
		ch[n].key = k2;
		ch[n++].value = msg;
	}
	(void)grove__config_update(g, ch, n);
out:
	free(k1);
	free(k2);
	/* The caller returns the operation's error, not the bookkeeping's. */
	if (rc < 0)
		grove__error_set(saved_code ? saved_code : rc, "%s", msg ? msg : "");
	else
		grove_error_clear();
	free(msg);
}
