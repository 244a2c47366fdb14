/*
 * The store's configuration, kept inside the store so that it works on
 * every backend: refs/grove/config names a parentless commit whose tree
 * holds one value per key.  Updates are compare-and-swap on that ref.
 */
#include "sync_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "object.h"
#include "oid.h"
#include "store.h"

/* The config commit, or GROVE_ENOTFOUND when there is no config yet. */
static int config_commit(grove *g, grove_oid *out)
{
	return grove_ref_read(g, GROVE__CONFIG_REF, out);
}

int grove__config_get(grove *g, const char *key, char **out)
{
	grove_view *view = NULL;
	grove_buf buf = { 0 };
	grove_oid commit;
	char *s;
	int rc;
	if ((rc = config_commit(g, &commit)) < 0) {
		if (rc == GROVE_ENOTFOUND)
			grove__error_set(rc, "no config value %s", key);
		return rc;
	}
	if ((rc = grove_view_open_commit(&view, g, &commit)) < 0)
		return rc;
	rc = grove_view_get(view, key, &buf);
	grove_view_free(view);
	if (rc < 0)
		return rc;
	s = grove__malloc(buf.size + 1);
	if (!s) {
		grove_buf_dispose(&buf);
		return GROVE_ENOMEM;
	}
	memcpy(s, buf.data, buf.size);
	s[buf.size] = '\0';
	grove_buf_dispose(&buf);
	*out = s;
	return 0;
}

int grove__config_names(grove *g, const char *dir, grove_strarray *out)
{
	grove_view *view = NULL;
	grove_entry_list list = { 0 };
	grove_oid commit;
	int rc;
	out->strings = NULL;
	out->count = 0;
	if ((rc = config_commit(g, &commit)) < 0) {
		if (rc == GROVE_ENOTFOUND) {
			grove_error_clear();
			return 0;
		}
		return rc;
	}
	if ((rc = grove_view_open_commit(&view, g, &commit)) < 0)
		return rc;
	rc = grove_view_list(view, dir, &list);
	grove_view_free(view);
	if (rc == GROVE_ENOTFOUND) {
		grove_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if (list.count && !(out->strings = grove__calloc(list.count, sizeof(char *)))) {
		grove_entry_list_dispose(&list);
		return GROVE_ENOMEM;
	}
	/* Entries come in git's tree order; names without '/' in them sort
	 * the same byte-wise except for directories, fine for listing. */
	for (size_t i = 0; i < list.count; i++) {
		out->strings[i] = list.entries[i].name;
		list.entries[i].name = NULL;
	}
	out->count = list.count;
	grove_entry_list_dispose(&list);
	return 0;
}

/* One attempt: a new config commit from the current one; *moved is set
 * when the ref changed under us. */
static int update_once(grove *g, const grove__config_change *changes, size_t count, int *moved)
{
	grove_txn *txn = NULL;
	grove_oid old = { { 0 } }, new_id;
	grove_commit *c = NULL;
	grove_commit_opts copts = { 0 };
	grove_ref_update up;
	int rc, have_old;

	*moved = 0;
	rc = config_commit(g, &old);
	if (rc < 0 && rc != GROVE_ENOTFOUND)
		return rc;
	have_old = rc == 0;
	grove_error_clear();
	if ((rc = grove_txn_begin_at(&txn, g, NULL, NULL)) < 0)
		return rc;
	if (have_old) {
		if ((rc = grove_commit_read(g, &old, &c)) < 0)
			goto out;
		rc = grove_txn_set_tree_id(txn, "", &c->tree);
		grove_commit_free(c);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (changes[i].value) {
			rc = grove_txn_set(txn, changes[i].key, changes[i].value, strlen(changes[i].value));
		} else {
			rc = grove_txn_remove(txn, changes[i].key);
			if (rc == GROVE_ENOTFOUND) {
				grove_error_clear();
				rc = 0;
			}
		}
		if (rc < 0)
			goto out;
	}
	copts.message = "grove config";
	if ((rc = grove_txn_commit(txn, &copts, &new_id)) < 0)
		goto out;
	memset(&up, 0, sizeof(up));
	up.refname = GROVE__CONFIG_REF;
	up.old_id = old; /* zeros when absent: must still be absent */
	up.new_id = new_id;
	up.check_old = 1;
	rc = grove_ref_update_batch(g, &up, 1);
	if (rc == GROVE_EHEADMOVED)
		*moved = 1;
out:
	grove_txn_free(txn);
	return rc;
}

int grove__config_update(grove *g, const grove__config_change *changes, size_t count)
{
	int rc, moved;
	for (int attempt = 0; attempt < 50; attempt++) {
		rc = update_once(g, changes, count, &moved);
		if (!moved)
			return rc;
		grove_error_clear();
	}
	return grove__error_set(GROVE_EHEADMOVED, "%s keeps changing; config not updated", GROVE__CONFIG_REF);
}

/* --- staging a config change in memory ------------------------------------------ */

static int stage_add(grove__config_stage *st, grove_otype type, grove__sbuf *buf, grove_oid *id)
{
	grove__object *o;
	int rc;
	if ((rc = grove__object_hash(type, buf->data ? buf->data : "", buf->len, id)) < 0)
		return rc;
	if (st->count == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		grove__object *no = grove__realloc(st->objects, cap * sizeof(*no));
		char **nb;
		if (!no)
			return GROVE_ENOMEM;
		st->objects = no;
		if (!(nb = grove__realloc(st->bufs, cap * sizeof(*nb))))
			return GROVE_ENOMEM;
		st->bufs = nb;
		st->cap = cap;
	}
	o = &st->objects[st->count];
	memset(o, 0, sizeof(*o));
	o->id = *id;
	o->type = type;
	o->size = buf->len;
	o->encoding = GROVE__ENC_PLAIN;
	o->data_len = buf->len;
	st->bufs[st->count] = grove__sbuf_detach(buf, NULL);
	o->data = st->bufs[st->count];
	st->count++;
	return 0;
}

static int upsert(grove__tree_entry **ents, size_t *n, size_t *cap, const char *name, size_t len,
	uint32_t mode, const grove_oid *id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*ents)[i].name_len == len && !memcmp((*ents)[i].name, name, len)) {
			(*ents)[i].mode = mode;
			(*ents)[i].id = *id;
			return 0;
		}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		grove__tree_entry *e = grove__realloc(*ents, nc * sizeof(*e));
		if (!e)
			return GROVE_ENOMEM;
		*ents = e;
		*cap = nc;
	}
	(*ents)[*n].name = name;
	(*ents)[*n].name_len = len;
	(*ents)[*n].mode = mode;
	(*ents)[*n].id = *id;
	(*n)++;
	return 0;
}

/* The tree tree_id (NULL: none) with keys[i] = values[i] set (keys relative
 * to it), written into st; one new tree per directory touched. */
static int stage_tree(grove *g, grove__config_stage *st, const grove_oid *tree_id, const char **keys,
	const char **values, size_t n, grove_oid *out)
{
	grove__tree *old = NULL;
	grove__tree_entry *ents = NULL;
	size_t nents = 0, cap = 0;
	grove__sbuf buf = GROVE_SBUF_INIT;
	unsigned char *done = NULL;
	const char **sub = NULL;
	int rc = 0;

	if (tree_id && (rc = grove__tree_get(g, tree_id, &old)) < 0)
		return rc;
	if (!(done = grove__calloc(n, 1)) || !(sub = grove__calloc(2 * n, sizeof(*sub)))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	if (old && old->count) {
		if (!(ents = grove__calloc(old->count, sizeof(*ents)))) {
			rc = GROVE_ENOMEM;
			goto out;
		}
		memcpy(ents, old->entries, old->count * sizeof(*ents));
		nents = cap = old->count;
	}
	for (size_t i = 0; i < n; i++) {
		const char *slash = strchr(keys[i], '/');
		size_t len = slash ? (size_t)(slash - keys[i]) : strlen(keys[i]);
		grove_oid id;
		if (done[i])
			continue;
		if (!len) {
			rc = grove__error_set(GROVE_EINVALID, "config: invalid key '%s'", keys[i]);
			goto out;
		}
		if (!slash) {
			buf.len = 0;
			if ((rc = grove__sbuf_puts(&buf, values[i])) < 0 || (rc = stage_add(st, GROVE_OBJ_BLOB, &buf, &id)) < 0 ||
			    (rc = upsert(&ents, &nents, &cap, keys[i], len, GROVE_MODE_BLOB, &id)) < 0)
				goto out;
		} else {
			/* Every key under this directory, in one subtree. */
			const grove_oid *child = NULL;
			size_t m = 0;
			for (size_t j = i; j < n; j++)
				if (!done[j] && !strncmp(keys[j], keys[i], len) && keys[j][len] == '/') {
					sub[m] = keys[j] + len + 1;
					sub[n + m] = values[j];
					m++;
					done[j] = 1;
				}
			for (size_t k = 0; k < nents; k++)
				if (ents[k].name_len == len && !memcmp(ents[k].name, keys[i], len) && ents[k].mode == GROVE_MODE_TREE)
					child = &ents[k].id;
			if ((rc = stage_tree(g, st, child, sub, sub + n, m, &id)) < 0 ||
			    (rc = upsert(&ents, &nents, &cap, keys[i], len, GROVE_MODE_TREE, &id)) < 0)
				goto out;
		}
		done[i] = 1;
	}
	grove__tree_sort(ents, nents);
	buf.len = 0;
	if ((rc = grove__tree_write(ents, nents, &buf)) < 0 || (rc = stage_add(st, GROVE_OBJ_TREE, &buf, out)) < 0)
		goto out;
out:
	if (old)
		grove__tree_release(old);
	grove__sbuf_dispose(&buf);
	free(ents);
	free(done);
	free(sub);
	return rc;
}

int grove__config_stage_build(grove *g, const grove__config_change *changes, size_t count,
	grove__config_stage *st)
{
	const char **keys = NULL, **values = NULL;
	grove_oid root = { { 0 } }, tree, commit_id;
	grove_commit *c = NULL;
	grove_signature sig;
	grove__sbuf buf = GROVE_SBUF_INIT;
	int rc, have_old;

	memset(st, 0, sizeof(*st));
	rc = config_commit(g, &st->old_id);
	if (rc < 0 && rc != GROVE_ENOTFOUND)
		return rc;
	have_old = rc == 0;
	grove_error_clear();
	if (have_old) {
		if ((rc = grove_commit_read(g, &st->old_id, &c)) < 0)
			return rc;
		root = c->tree;
		grove_commit_free(c);
	}
	if (!(keys = grove__calloc(count ? count : 1, sizeof(*keys))) ||
	    !(values = grove__calloc(count ? count : 1, sizeof(*values)))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (!changes[i].value) {
			rc = grove__error_set(GROVE_EINVALID, "config: staging cannot remove keys");
			goto out;
		}
		keys[i] = changes[i].key;
		values[i] = changes[i].value;
	}
	if ((rc = stage_tree(g, st, have_old ? &root : NULL, keys, values, count, &tree)) < 0)
		goto out;
	grove__signature_defaults(&sig, NULL);
	if ((rc = grove__commit_write(&tree, NULL, 0, &sig, &sig, "grove config", &buf)) < 0 ||
	    (rc = stage_add(st, GROVE_OBJ_COMMIT, &buf, &commit_id)) < 0)
		goto out;
	st->update.refname = GROVE__CONFIG_REF;
	st->update.old_id = st->old_id; /* zeros when absent: must still be absent */
	st->update.new_id = commit_id;
	st->update.check_old = 1;
out:
	if (rc < 0)
		grove__config_stage_dispose(st);
	grove__sbuf_dispose(&buf);
	free(keys);
	free(values);
	return rc;
}

void grove__config_stage_dispose(grove__config_stage *st)
{
	for (size_t i = 0; i < st->count; i++)
		free(st->bufs[i]);
	free(st->bufs);
	free(st->objects);
	memset(st, 0, sizeof(*st));
}
