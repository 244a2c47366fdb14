/* The plain WebDAV area /dav/<user>/files/: resources, nested collections
 * and their dead properties (layout in dav_store.h), PUT and DELETE. */
#include "dav_files.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- where things live ------------------------------------------------------- */

/* The parent directory's key of a files-area key (never above the root). */
static char *parent_key(const char *key)
{
	const char *slash = strrchr(key, '/');
	return grove__strndup(key, slash ? (size_t)(slash - key) : 0);
}

int grove__dav_files_props_key(const grove__dav_res *r, grove__sbuf *out)
{
	if (r->type != DAV_R_OBJECT)
		return grove__sbuf_printf(out, "%s/%s", r->key, DAV_PROPS_FILE);
	const char *slash = strrchr(r->key, '/');
	size_t dlen = slash ? (size_t)(slash - r->key) : 0;
	return grove__sbuf_printf(out, "%.*s/%s/%s", (int)dlen, r->key, DAV_PROPS_DIR,
				  slash ? slash + 1 : r->key);
}

/* Reads the properties file at key (absent: empty). */
static int load_props_at(grove_view *v, const char *key, grove__dav_props *out)
{
	grove_buf data = { 0 };
	memset(out, 0, sizeof(*out));
	int rc = grove_view_get(v, key, &data);
	if (rc == GROVE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return 500;
	rc = grove__dav_props_parse(out, data.data, data.size);
	grove_buf_dispose(&data);
	return rc < 0 ? 500 : 0;
}

/* 1 when key names a directory in v, 0 when not, < 0 on error. */
static int is_dir(grove_view *v, const char *key)
{
	grove_oid id;
	grove_kind kind;
	int rc = grove_view_id(v, key, &id, &kind);
	if (rc == GROVE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	return kind == GROVE_KIND_DIR;
}

/* The files root of the key's user: "<user>/files". */
static int is_root_key(const char *key)
{
	const char *slash = strchr(key, '/');
	return slash && strcmp(slash + 1, DAV_FILES_DIR) == 0;
}

/* Makes href end in '/' (want) or not. */
static int fix_href(char **href, int want)
{
	size_t n = strlen(*href);
	int has = n && (*href)[n - 1] == '/';
	if (has == want)
		return 0;
	if (!want) {
		(*href)[n - 1] = '\0';
		return 0;
	}
	char *h = grove__realloc(*href, n + 2);
	if (!h)
		return -1;
	h[n] = '/';
	h[n + 1] = '\0';
	*href = h;
	return 0;
}

int grove__dav_files_res_load(grove__dav_ctx *c, grove_view *v, const grove__dav_path *p,
			      grove__dav_res *out)
{
	(void)c;
	memset(out, 0, sizeof(*out));
	out->type = p->type;
	out->family = DAV_FILES;
	out->href = grove__strdup(p->href);
	out->key = grove__strdup(p->key);
	if (p->name)
		out->name = grove__strdup(p->name);
	if (!out->href || !out->key || (p->name && !out->name)) {
		grove__dav_res_dispose(out);
		return 500;
	}
	int status = 0;
	grove_kind kind = GROVE_KIND_VALUE;
	int rc = grove_view_id(v, out->key, &out->id, &kind);
	if (rc < 0 && rc != GROVE_ENOTFOUND)
		status = 500;
	if (rc < 0)
		memset(&out->id, 0, sizeof(out->id));
	if (status == 0 && p->type == DAV_R_HOME) {
		/* implicit: exists before anything was stored */
		out->exists = out->coll_exists = 1;
	} else if (status == 0) {
		char *parent = parent_key(out->key);
		int pd = !parent ? -1 : is_root_key(parent) ? 1 : is_dir(v, parent);
		free(parent);
		if (pd < 0)
			status = 500;
		out->coll_exists = pd > 0;
		if (rc == 0) {
			out->exists = 1;
			out->type = kind == GROVE_KIND_DIR ? DAV_R_COLLECTION : DAV_R_OBJECT;
			if (fix_href(&out->href, kind == GROVE_KIND_DIR) < 0)
				status = 500;
		}
	}
	if (status == 0 && out->exists) {
		grove__sbuf key = GROVE_SBUF_INIT;
		status = grove__dav_files_props_key(out, &key) < 0 ? 500
								    : load_props_at(v, key.data, &out->props);
		grove__sbuf_dispose(&key);
	}
	if (status)
		grove__dav_res_dispose(out);
	return status;
}

/* ---- staging ------------------------------------------------------------------- */

static int remove_if_present(grove_txn *txn, const char *key)
{
	int rc = grove_txn_remove(txn, key);
	return rc < 0 && rc != GROVE_ENOTFOUND ? 500 : 0;
}

int grove__dav_files_write_props(grove_txn *txn, const grove__dav_res *r,
				 const grove__dav_props *props)
{
	grove__sbuf key = GROVE_SBUF_INIT, data = GROVE_SBUF_INIT;
	int status = grove__dav_files_props_key(r, &key) < 0 ? 500 : 0;
	if (status == 0 && r->type == DAV_R_OBJECT && props->count == 0)
		status = remove_if_present(txn, key.data); /* no clutter for plain files */
	else if (status == 0 &&
		 (grove__dav_props_format(props, &data) < 0 ||
		  grove_txn_set(txn, key.data, data.data, data.len) < 0))
		status = 500;
	grove__sbuf_dispose(&key);
	grove__sbuf_dispose(&data);
	return status;
}

int grove__dav_files_remove(grove_txn *txn, const grove__dav_res *r)
{
	int status = remove_if_present(txn, r->key);
	if (status == 0 && r->type == DAV_R_OBJECT) {
		grove__sbuf key = GROVE_SBUF_INIT;
		status = grove__dav_files_props_key(r, &key) < 0 ? 500
								    : remove_if_present(txn, key.data);
		grove__sbuf_dispose(&key);
	}
	return status;
}

int grove__dav_files_copy(grove_txn *txn, grove_view *base, const grove__dav_res *src,
			  const grove__dav_res *dst, int depth_zero)
{
	grove__dav_res at = *dst; /* dst's key with src's kind, for the props key */
	at.type = src->type;
	if (src->type == DAV_R_OBJECT) {
		grove_buf data = { 0 };
		int status = 0;
		if (grove_view_get(base, src->key, &data) < 0 ||
		    grove_txn_set(txn, dst->key, data.data, data.size) < 0)
			status = 500;
		grove_buf_dispose(&data);
		if (status == 0)
			status = grove__dav_files_write_props(txn, &at, &src->props);
		return status;
	}
	if (!depth_zero)
		return grove_txn_set_tree_id(txn, dst->key, &src->id) < 0 ? 500 : 0;
	/* Depth 0: the collection and its properties, no members */
	grove__dav_props props = { 0 };
	int status = 0;
	for (size_t i = 0; i < src->props.count && status == 0; i++)
		if (grove__dav_props_set(&props, src->props.items[i].name, src->props.items[i].value,
					 src->props.items[i].is_xml) < 0)
			status = 500;
	if (status == 0 && !grove__dav_props_get(&props, "type") &&
	    grove__dav_props_set(&props, "type", "collection", 0) < 0)
		status = 500;
	if (status == 0)
		status = grove__dav_files_write_props(txn, &at, &props);
	grove__dav_props_dispose(&props);
	return status;
}

/* ---- properties ------------------------------------------------------------------- */

const char *grove__dav_files_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "txt", "text/plain; charset=utf-8" }, { "html", "text/html; charset=utf-8" },
		{ "htm", "text/html; charset=utf-8" },  { "css", "text/css" },
		{ "md", "text/markdown; charset=utf-8" }, { "xml", "application/xml" },
		{ "json", "application/json" },           { "js", "text/javascript" },
		{ "ics", "text/calendar; charset=utf-8" }, { "vcf", "text/vcard; charset=utf-8" },
		{ "pdf", "application/pdf" },            { "png", "image/png" },
		{ "jpg", "image/jpeg" },                  { "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },                   { "svg", "image/svg+xml" },
		{ "zip", "application/zip" },
	};
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (dot)
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static int is(const char *ns, const char *name, const char *want)
{
	return strcmp(ns, DAV_NS_DAV) == 0 && strcmp(name, want) == 0;
}

int grove__dav_files_prop_get(grove__dav_ctx *c, grove_view *v, grove__dav_res *r,
			      const char *ns, const char *name, grove__dav_xw *w)
{
	static const char *const shared[] = { "current-user-principal", "principal-collection-set",
					      "owner", "current-user-privilege-set",
					      "quota-used-bytes", "quota-available-bytes" };
	const int obj = r->type == DAV_R_OBJECT;
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (is(ns, name, shared[i]))
			return obj && strncmp(name, "quota", 5) == 0 ? 0 : DAV_FILES_PROP_GENERIC;
	if (is(ns, name, "resourcetype")) {
		if (obj) {
			grove__dav_xw_empty(w, ns, name);
		} else {
			grove__dav_xw_open(w, ns, name);
			grove__dav_xw_empty(w, DAV_NS_DAV, "collection");
			grove__dav_xw_close(w);
		}
		return 1;
	}
	if (is(ns, name, "getetag") && obj) {
		char etag[GROVE_OID_HEXSZ + 3];
		grove__dav_etag(etag, &r->id);
		grove__dav_xw_leaf(w, ns, name, etag);
		return 1;
	}
	if (is(ns, name, "getcontenttype") && obj) {
		grove__dav_xw_leaf(w, ns, name, grove__dav_files_content_type(r->name));
		return 1;
	}
	if (is(ns, name, "getcontentlength") && obj) {
		return grove__dav_prop_write_length(c, r, ns, name, w);
	}
	if (is(ns, name, "getlastmodified")) {
		char lm[64];
		if (grove_oid_is_zero(&r->id) ||
		    grove__dav_last_modified(c, grove_view_commit(v), r->key, lm) < 0)
			return 0;
		grove__dav_xw_leaf(w, ns, name, lm);
		return 1;
	}
	if (is(ns, name, "creationdate")) {
		const grove__dav_prop *p = grove__dav_props_get(&r->props, "created");
		char when[32];
		if (!p || grove__dav_rfc3339(p->value, when) < 0)
			return 0;
		grove__dav_xw_leaf(w, ns, name, when);
		return 1;
	}
	/* dead properties (displayname included); no locks: not class 2 */
	return grove__dav_prop_write_stored(&r->props, ns, name, w);
}

/* ---- PUT ----------------------------------------------------------------------------- */

typedef struct {
	grove__dav_ctx *c;
	const char *data;
	size_t len;
	int created;
} put_op;

static int put_check(void *arg, grove_view *base)
{
	put_op *op = arg;
	grove__dav_res r;
	int status = grove__dav_res_load(op->c, base, &op->c->path, &r);
	if (status)
		return status;
	char etag[GROVE_OID_HEXSZ + 3];
	if (r.exists)
		grove__dav_etag(etag, &r.id);
	if (r.type != DAV_R_OBJECT)
		status = 405; /* a collection has no body to replace */
	else if (!r.coll_exists)
		status = 409; /* RFC 4918 9.7.1: the parent collection is missing */
	else
		status = grove__dav_preconditions(op->c->req, r.exists ? etag : NULL, 0);
	if (status == 0)
		status = grove__dav_date_conditions(op->c, base, r.key, r.exists, 0);
	op->created = !r.exists;
	grove__dav_res_dispose(&r);
	return status;
}

static int put_build(void *arg, grove_txn *txn, grove_view *base)
{
	put_op *op = arg;
	int status = put_check(arg, base);
	if (status)
		return status;
	return grove_txn_set(txn, op->c->path.key, op->data, op->len) < 0 ? 500 : 0;
}

void grove__dav_files_put(grove__dav_ctx *c)
{
	if (c->path.type == DAV_R_HOME) {
		grove__dav_send_status(c, 405);
		return;
	}
	size_t len;
	const char *body = grove__http_req_body(c->req, &len);
	put_op op = { c, body ? body : "", len, 0 };
	grove__dav_write w = { put_build, put_check, &op };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	grove_oid commit;
	int status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	if (status) {
		grove__dav_send_status(c, status);
		return;
	}
	grove__dav_send_put_done(c, op.data, len, op.created);
}

/* ---- DELETE (collections with everything below them) ------------------------------- */

static int del_check(void *arg, grove_view *base)
{
	return grove__dav_delete_check(arg, base);
}

static int del_build(void *arg, grove_txn *txn, grove_view *base)
{
	grove__dav_ctx *c = arg;
	grove__dav_res r;
	int status = del_check(arg, base);
	if (status == 0)
		status = grove__dav_res_load(c, base, &c->path, &r);
	if (status)
		return status;
	status = grove__dav_files_remove(txn, &r);
	grove__dav_res_dispose(&r);
	return status;
}

void grove__dav_files_delete(grove__dav_ctx *c)
{
	if (c->path.type == DAV_R_HOME) {
		grove__dav_send_status(c, 403);
		return;
	}
	grove__dav_write w = { del_build, del_check, c };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	grove_oid commit;
	int status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	if (status)
		grove__dav_send_status(c, status);
	else
		grove__http_res_send(c->res, 204, NULL, NULL, 0);
}
