/* GET, HEAD, PUT and DELETE of calendar objects and vCards. */
#include "dav_files.h"
#include "dav_internal.h"
#include "dav_report_index.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *content_type(grove__dav_family f)
{
	return f == DAV_CARD ? "text/vcard; charset=utf-8" : "text/calendar; charset=utf-8";
}

void grove__dav_do_get(grove__dav_ctx *c)
{
	grove_view *v;
	grove__dav_res r;
	if (grove__dav_view(&c->srv->st, &v) < 0) {
		grove__dav_send_status(c, 500);
		return;
	}
	int status = grove__dav_res_load(c, v, &c->path, &r);
	if (status) {
		grove_view_free(v);
		grove__dav_send_status(c, status);
		return;
	}
	if (!r.exists) {
		grove__dav_send_status(c, 404);
	} else if (r.type != DAV_R_OBJECT) {
		/* collections have no body of their own */
		const char *msg = "a DAV collection: use PROPFIND\n";
		grove__http_res_send(c->res, 200, "text/plain; charset=utf-8", msg, strlen(msg));
	} else {
		char etag[GROVE_OID_HEXSZ + 3], lm[64];
		grove__dav_etag(etag, &r.id);
		grove_buf data = { 0 };
		status = grove__dav_preconditions(c->req, etag, 1);
		if (status == 0)
			status = grove__dav_date_conditions(c, v, r.key, 1, 1);
		if (status == 0 && grove_view_get(v, r.key, &data) < 0)
			status = 500;
		grove__http_res_header(c->res, "ETag", etag);
		if (grove__dav_last_modified(c, grove_view_commit(v), r.key, lm) == 0)
			grove__http_res_header(c->res, "Last-Modified", lm);
		if (status == 304)
			grove__http_res_send(c->res, 304, NULL, NULL, 0);
		else if (status)
			grove__dav_send_status(c, status);
		else
			grove__http_res_send(c->res, 200,
					     r.family == DAV_FILES ? grove__dav_files_content_type(r.name)
								   : content_type(r.family),
					     data.data, data.size);
		grove_buf_dispose(&data);
	}
	grove__dav_res_dispose(&r);
	grove_view_free(v);
}

/* ---- PUT ----------------------------------------------------------------------- */

typedef struct {
	grove__dav_ctx *c;
	const char *data;
	size_t len;
	int created;         /* the resource did not exist in the base */
	char *conflict;      /* no-uid-conflict: the member holding the UID */
	const char *coll;    /* the collection's key, "user/calendars/name" */
	grove_oid coll_tree; /* its tree in the base last checked */
	int have_coll_tree;
} put_op;

/* Preconditions against one base: the collection exists, If-Match and
 * If-None-Match hold. */
static int put_check(void *arg, grove_view *base)
{
	put_op *op = arg;
	grove__dav_res r;
	int status = grove__dav_res_load(op->c, base, &op->c->path, &r);
	if (status)
		return status;
	int coll_exists = r.coll_exists;
	char etag[GROVE_OID_HEXSZ + 3];
	if (r.exists)
		grove__dav_etag(etag, &r.id);
	if (!coll_exists)
		status = 409; /* RFC 4918 9.7.1: the parent collection is missing */
	else
		status = grove__dav_preconditions(op->c->req, r.exists ? etag : NULL, 0);
	if (status == 0)
		status = grove__dav_date_conditions(op->c, base, r.key, r.exists, 0);
	if (status == 0) {
		free(op->conflict);
		status = grove__dav_put_uid_check(op->c, base, op->data, op->len, &op->conflict);
	}
	op->have_coll_tree = 0;
	if (status == 0) {
		/* the tree this write changes, for put_note_uid_map */
		grove_kind kind;
		op->have_coll_tree = grove_view_id(base, op->coll, &op->coll_tree, &kind) == 0 &&
				     kind == GROVE_KIND_DIR;
	}
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
	if (grove_txn_set(txn, op->c->path.key, op->data, op->len) < 0)
		return 500;
	return 0;
}

/* After the commit: the collection's UID map follows the one member this
 * PUT set, so the next PUT's UID check is one probe instead of a walk of
 * the whole collection.  Best effort: when anything is missing the map is
 * derived from the listing on the next check, as before. */
static void put_note_uid_map(const put_op *op, const grove_oid *commit)
{
	grove__dav_ctx *c = op->c;
	grove *g = c->srv->st.g;
	grove_view *v;
	grove_oid tree, blob;
	grove_kind kind;
	if (!op->have_coll_tree || grove_view_open_commit(&v, g, commit) < 0)
		return;
	int rc = grove_view_id(v, op->coll, &tree, &kind);
	grove_view_free(v);
	if (rc < 0 || kind != GROVE_KIND_DIR ||
	    grove_object_hash(GROVE_OBJ_BLOB, op->data, op->len, &blob) < 0)
		return;
	grove__dav_summary s;
	if (grove__dav_summary_get(g, &blob, c->path.family, op->data, op->len, &s) < 0)
		return;
	if (!s.bad)
		grove__dav_uid_map_note_set(c->path.family, op->coll, &op->coll_tree, &tree,
					    c->path.name, &blob, s.uid);
	grove__dav_summary_dispose(&s);
}

/* Media type of a Content-Type value, without parameters: 1 when it is
 * one of the accepted ones. */
static int type_ok(const char *ct, grove__dav_family f)
{
	if (!ct)
		return 1;
	size_t n = strcspn(ct, "; \t");
	if (f == DAV_CAL)
		return n == 13 && strncasecmp(ct, "text/calendar", n) == 0;
	return (n == 10 && strncasecmp(ct, "text/vcard", n) == 0) ||
	       (n == 12 && strncasecmp(ct, "text/x-vcard", n) == 0);
}

void grove__dav_do_put(grove__dav_ctx *c)
{
	if (c->path.family == DAV_FILES) {
		grove__dav_files_put(c); /* any bytes: dav_files.c */
		return;
	}
	if (c->path.type != DAV_R_OBJECT) {
		grove__dav_send_status(c, 405);
		return;
	}
	size_t len;
	const char *body = grove__http_req_body(c->req, &len);
	const char *ns = c->path.family == DAV_CAL ? DAV_NS_CALDAV : DAV_NS_CARDDAV;
	if (!type_ok(grove__http_req_header(c->req, "Content-Type"), c->path.family)) {
		grove__dav_send_cond(c, 403, ns, c->path.family == DAV_CAL ? "supported-calendar-data"
									      : "supported-address-data");
		return;
	}
	if (grove__dav_put_size_check(len)) {
		grove__dav_send_cond(c, 403, ns, "max-resource-size");
		return;
	}
	/* the collection's accepted components, from the current head */
	grove_view *v;
	grove__dav_props props = { 0 };
	int exists = 0;
	if (grove__dav_view(&c->srv->st, &v) < 0) {
		grove__dav_send_status(c, 500);
		return;
	}
	grove__sbuf ck = GROVE_SBUF_INIT;
	int status = grove__sbuf_printf(&ck, "%s/%s/%s", c->path.user,
					grove__dav_family_dir(c->path.family), c->path.coll) < 0
			     ? 500
			     : grove__dav_props_load(v, ck.data, &props, &exists);
	grove_view_free(v);
	if (status == 0 && !exists)
		status = 409;
	if (status) {
		grove__dav_props_dispose(&props);
		grove__sbuf_dispose(&ck);
		grove__dav_send_status(c, status);
		return;
	}
	const char *cond = NULL;
	char *component = NULL;
	int bad;
	if (c->path.family == DAV_CAL) {
		const grove__dav_prop *comps = grove__dav_props_get(&props, "components");
		bad = grove__caldav_validate(body, len, comps ? comps->value : NULL, &cond, &component);
	} else {
		bad = grove__carddav_validate(body, len, &cond);
	}
	grove__dav_props_dispose(&props);
	if (bad) {
		grove__sbuf_dispose(&ck);
		grove__dav_send_cond(c, 403, ns, cond);
		return;
	}
	put_op op = { c, body, len, 0, NULL, ck.data, { { 0 } }, 0 };
	grove__dav_write w = { put_build, put_check, &op };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	char detail[96] = "";
	if (component) {
		snprintf(detail, sizeof(detail), "Component: %s", component);
		ch.detail = detail;
	}
	grove_oid commit;
	status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	free(component);
	if (status == 0)
		put_note_uid_map(&op, &commit);
	grove__sbuf_dispose(&ck);
	if (status == 403 && op.conflict)
		grove__dav_send_uid_conflict(c, op.conflict);
	else if (status)
		grove__dav_send_status(c, status);
	free(op.conflict);
	if (status)
		return;
	grove__dav_send_put_done(c, body, len, op.created);
}

/* ---- DELETE --------------------------------------------------------------------- */

static int del_check(void *arg, grove_view *base)
{
	return grove__dav_delete_check(arg, base);
}

static int del_build(void *arg, grove_txn *txn, grove_view *base)
{
	grove__dav_ctx *c = arg;
	int status = grove__dav_delete_check(c, base);
	if (status)
		return status;
	return grove_txn_remove(txn, c->path.key) < 0 ? 500 : 0;
}

void grove__dav_do_delete(grove__dav_ctx *c)
{
	if (c->path.family == DAV_FILES) {
		grove__dav_files_delete(c);
		return;
	}
	if (c->path.type != DAV_R_OBJECT && c->path.type != DAV_R_COLLECTION) {
		grove__dav_send_status(c, 403);
		return;
	}
	grove__dav_write w = { del_build, del_check, c };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	grove_oid commit;
	int status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	if (status) {
		grove__dav_send_status(c, status);
		return;
	}
	grove__http_res_send(c->res, 204, NULL, NULL, 0);
}
