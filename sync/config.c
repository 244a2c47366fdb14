/*
 * The store's configuration, kept inside the store so that it works on
 * every backend: refs/grove/config names a parentless commit whose tree
 * holds one value per key.  Updates are compare-and-swap on that ref.
 */
#include "sync_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

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
