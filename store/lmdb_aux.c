/*
 * Auxiliary data of an LMDB store: derived indexes kept in the meta DB
 * under "aux/<name>", beside the format and HEAD entries.  They are
 * rebuilt from the objects, so a missing entry only costs speed.
 */
#include "lmdb_internal.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

#define AUX_KEY_MAX 96

static int aux_key(const char *name, char *key, MDB_val *k)
{
	int n = snprintf(key, AUX_KEY_MAX, "aux/%s", name ? name : "");
	if (!name || !*name || n <= 0 || n >= AUX_KEY_MAX)
		return grove__error_set(GROVE_EINVALID, "lmdb: bad auxiliary entry name");
	k->mv_size = (size_t)n;
	k->mv_data = key;
	return 0;
}

int grove__lmdb_aux_get(grove_backend *be, const char *name, grove_buf *out)
{
	grove__lmdb_env *e = ((grove__lmdb *)be)->e;
	grove__lmdb_rtxn rt;
	char key[AUX_KEY_MAX];
	MDB_val k, v;
	int rc;

	if ((rc = aux_key(name, key, &k)) < 0 || (rc = grove__lmdb_read_begin(e, &rt)) < 0)
		return rc;
	rc = mdb_get(rt.txn, e->meta, &k, &v);
	if (rc == 0) {
		out->data = grove__malloc(v.mv_size ? v.mv_size : 1);
		if (out->data) {
			memcpy(out->data, v.mv_data, v.mv_size);
			out->size = v.mv_size;
		}
	}
	grove__lmdb_read_end(e, &rt);
	if (rc == MDB_NOTFOUND)
		return grove__error_set(GROVE_ENOTFOUND, "lmdb: no %s", name);
	if (rc)
		return grove__lmdb_error(e, rc, "reading auxiliary data");
	return out->data ? 0 : GROVE_ENOMEM;
}

typedef struct {
	MDB_val k, v;
	int remove;
} aux_put_arg;

static int put_fn(grove__lmdb_env *e, MDB_txn *txn, void *arg)
{
	aux_put_arg *a = arg;
	int rc;
	if (a->remove) {
		rc = mdb_del(txn, e->meta, &a->k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	return mdb_put(txn, e->meta, &a->k, &a->v, 0);
}

int grove__lmdb_aux_put(grove_backend *be, const char *name, const void *data, size_t len)
{
	char key[AUX_KEY_MAX];
	aux_put_arg a;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = aux_key(name, key, &a.k)) < 0)
		return rc;
	a.remove = data == NULL;
	a.v.mv_size = len;
	a.v.mv_data = (void *)data;
	return grove__lmdb_write_txn((grove__lmdb *)be, put_fn, &a, "writing auxiliary data");
}
