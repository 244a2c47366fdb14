/* PROPPATCH (RFC 4918 9.2, all or nothing), MKCOL with RFC 5689's
 * extended body, and MKCALENDAR (RFC 4791 5.3.1). */
#include "dav_files.h"
#include "dav_internal.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
	const grove__dav_xnode *prop;
	int remove;
	int status;
	const char *cond;
} instr;

typedef struct {
	grove__dav_ctx *c;
	const grove__dav_xnode *update;  /* propertyupdate / mkcol / mkcalendar */
	int creating;
	instr *list;
	size_t count;
	int failed;
} patch_op;

/* Collects set/remove instructions in document order. */
static int collect(patch_op *op)
{
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		for (grove__dav_xnode *sr = grove__dav_xml_first_element(op->update); sr;
		     sr = grove__dav_xml_next_element(sr)) {
			int rem = grove__dav_xml_is(sr, DAV_NS_DAV, "remove");
			if (!rem && !grove__dav_xml_is(sr, DAV_NS_DAV, "set"))
				return -1;
			if (rem && op->creating)
				return -1;
			grove__dav_xnode *prop = grove__dav_xml_child(sr, DAV_NS_DAV, "prop");
			if (!prop)
				return -1;
			for (grove__dav_xnode *p = grove__dav_xml_first_element(prop); p;
			     p = grove__dav_xml_next_element(p)) {
				if (pass == 1) {
					op->list[n].prop = p;
					op->list[n].remove = rem;
				}
				n++;
			}
		}
		if (pass == 0) {
			op->list = grove__calloc(n ? n : 1, sizeof(*op->list));
			if (!op->list)
				return -1;
		}
	}
	op->count = n;
	return 0;
}

/* Applies every instruction to props; any failure marks the rest 424. */
static void apply_all(patch_op *op, grove__dav_props *props, grove__dav_family fam)
{
	op->failed = 0;
	for (size_t i = 0; i < op->count; i++) {
		instr *in = &op->list[i];
		if (op->creating && grove__dav_xml_is(in->prop, DAV_NS_DAV, "resourcetype")) {
			/* checked by MKCOL itself */
			in->status = 200;
			continue;
		}
		in->status = grove__dav_prop_apply(props, fam, in->prop, in->remove, op->creating,
						   &in->cond);
		if (in->status == 0)
			in->status = 200;
		else
			op->failed = 1;
	}
	if (op->failed)
		for (size_t i = 0; i < op->count; i++)
			if (op->list[i].status == 200)
				op->list[i].status = 424; /* failed dependency */
}

static int props_key(grove__dav_ctx *c, grove__sbuf *key)
{
	return grove__sbuf_printf(key, "%s/%s", c->path.key, DAV_PROPS_FILE);
}

static int write_props(grove__dav_ctx *c, grove_txn *txn, const grove__dav_props *props)
{
	grove__sbuf key = GROVE_SBUF_INIT, data = GROVE_SBUF_INIT;
	int rc = props_key(c, &key);
	if (rc == 0)
		rc = grove__dav_props_format(props, &data);
	if (rc == 0)
		rc = grove_txn_set(txn, key.data, data.data, data.len);
	grove__sbuf_dispose(&key);
	grove__sbuf_dispose(&data);
	return rc < 0 ? 500 : 0;
}

/* PROPPATCH in the files area: resources keep dead properties too. */
static int patch_files(patch_op *op, grove_txn *txn, grove_view *base)
{
	grove__dav_res r;
	int status = grove__dav_res_load(op->c, base, &op->c->path, &r);
	if (status)
		return status;
	if (!r.exists) {
		grove__dav_res_dispose(&r);
		return 404;
	}
	apply_all(op, &r.props, DAV_FILES);
	status = op->failed ? -1 : grove__dav_files_write_props(txn, &r, &r.props);
	grove__dav_res_dispose(&r);
	return status;
}

static int patch_build(void *arg, grove_txn *txn, grove_view *base)
{
	patch_op *op = arg;
	grove__dav_props props;
	int exists;
	if (op->c->path.family == DAV_FILES)
		return patch_files(op, txn, base);
	int status = grove__dav_props_load(base, op->c->path.key, &props, &exists);
	if (status)
		return status;
	if (!exists) {
		grove__dav_props_dispose(&props);
		return 404;
	}
	apply_all(op, &props, op->c->path.family);
	if (op->failed) {
		grove__dav_props_dispose(&props);
		return -1; /* answered as a multistatus, nothing committed */
	}
	status = write_props(op->c, txn, &props);
	grove__dav_props_dispose(&props);
	return status;
}

static void send_propstats(grove__dav_ctx *c, patch_op *op, int status, const char *root_ns,
			   const char *root)
{
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_root(&w, root_ns, root);
	if (strcmp(root, "multistatus") == 0) {
		grove__dav_xw_open(&w, DAV_NS_DAV, "response");
		grove__dav_xw_leaf(&w, DAV_NS_DAV, "href", c->path.href);
	}
	for (size_t i = 0; i < op->count; i++) {
		instr *in = &op->list[i];
		char line[64];
		grove__dav_xw_open(&w, DAV_NS_DAV, "propstat");
		grove__dav_xw_open(&w, DAV_NS_DAV, "prop");
		grove__dav_xw_empty(&w, in->prop->ns, in->prop->name);
		grove__dav_xw_close(&w);
		snprintf(line, sizeof(line), "HTTP/1.1 %d %s", in->status,
			 grove__dav_reason(in->status));
		grove__dav_xw_leaf(&w, DAV_NS_DAV, "status", line);
		if (in->cond) {
			grove__dav_xw_open(&w, DAV_NS_DAV, "error");
			grove__dav_xw_empty(&w, strcmp(in->cond, "valid-calendar-component-set") == 0
						       ? DAV_NS_CALDAV : DAV_NS_DAV, in->cond);
			grove__dav_xw_close(&w);
		}
		grove__dav_xw_close(&w);
	}
	if (strcmp(root, "multistatus") == 0)
		grove__dav_xw_close(&w);
	grove__dav_xw_close(&w);
	grove__dav_send_xml(c, status, &w);
	grove__dav_xw_dispose(&w);
}

void grove__dav_do_proppatch(grove__dav_ctx *c)
{
	grove__dav_xnode *doc;
	if (grove__dav_body_xml(c, &doc) < 0)
		return;
	if (!doc || !grove__dav_xml_is(doc, DAV_NS_DAV, "propertyupdate")) {
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, 400);
		return;
	}
	patch_op op = { c, doc, 0, NULL, 0, 0 };
	if (collect(&op) < 0) {
		free(op.list);
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, 400);
		return;
	}
	if (c->path.type != DAV_R_COLLECTION && c->path.family != DAV_FILES) {
		/* objects, homes and principals keep no properties of their own */
		grove_view *v;
		grove__dav_res r;
		int status = grove__dav_view(&c->srv->st, &v) < 0 ? 500 : 0;
		if (status == 0) {
			status = grove__dav_res_load(c, v, &c->path, &r);
			if (status == 0) {
				if (!r.exists)
					status = 404;
				grove__dav_res_dispose(&r);
			}
			grove_view_free(v);
		}
		if (status) {
			grove__dav_send_status(c, status);
		} else {
			for (size_t i = 0; i < op.count; i++) {
				op.list[i].status = 403;
				op.list[i].cond = "cannot-modify-protected-property";
			}
			send_propstats(c, &op, 207, DAV_NS_DAV, "multistatus");
		}
		free(op.list);
		grove__dav_xml_free(doc);
		return;
	}
	grove__dav_write w = { patch_build, NULL, &op };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	grove_oid commit;
	int status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	if (status == 0 || status == -1)
		send_propstats(c, &op, 207, DAV_NS_DAV, "multistatus");
	else
		grove__dav_send_status(c, status);
	free(op.list);
	grove__dav_xml_free(doc);
}

/* ---- MKCOL / MKCALENDAR ---------------------------------------------------------- */

typedef struct {
	patch_op patch;
	const char *type;
} mk_op;

static int mk_build(void *arg, grove_txn *txn, grove_view *base)
{
	mk_op *op = arg;
	grove__dav_ctx *c = op->patch.c;
	grove_kind kind;
	grove_oid id;
	int rc = grove_view_id(base, c->path.key, &id, &kind);
	if (rc == 0)
		return 405; /* RFC 4918 9.3.1: the resource exists */
	if (rc != GROVE_ENOTFOUND)
		return 500;
	if (c->path.family == DAV_FILES) {
		grove__dav_res r;
		int status = grove__dav_res_load(c, base, &c->path, &r);
		if (status)
			return status;
		int parent = r.coll_exists;
		grove__dav_res_dispose(&r);
		if (!parent)
			return 409; /* RFC 4918 9.3.1: intermediate collections are missing */
	}
	grove__dav_props props = { 0 };
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (grove__dav_props_set(&props, "type", op->type, 0) < 0 ||
	    grove__dav_props_set(&props, "created", created, 0) < 0) {
		grove__dav_props_dispose(&props);
		return 500;
	}
	apply_all(&op->patch, &props, c->path.family);
	if (op->patch.failed) {
		grove__dav_props_dispose(&props);
		return -1;
	}
	int status = write_props(c, txn, &props);
	grove__dav_props_dispose(&props);
	return status;
}

/* RFC 5689: the requested resourcetype must be the family's collection. */
static int resourcetype_ok(const grove__dav_xnode *update, grove__dav_family fam)
{
	for (grove__dav_xnode *set = grove__dav_xml_first_element(update); set;
	     set = grove__dav_xml_next_element(set)) {
		grove__dav_xnode *prop = grove__dav_xml_child(set, DAV_NS_DAV, "prop");
		grove__dav_xnode *rt = grove__dav_xml_child(prop, DAV_NS_DAV, "resourcetype");
		if (!rt)
			continue;
		int coll = 0, special = fam == DAV_FILES; /* files: a plain collection */
		for (grove__dav_xnode *e = grove__dav_xml_first_element(rt); e;
		     e = grove__dav_xml_next_element(e)) {
			if (grove__dav_xml_is(e, DAV_NS_DAV, "collection"))
				coll = 1;
			else if (fam == DAV_CAL && grove__dav_xml_is(e, DAV_NS_CALDAV, "calendar"))
				special = 1;
			else if (fam == DAV_CARD && grove__dav_xml_is(e, DAV_NS_CARDDAV, "addressbook"))
				special = 1;
			else
				return 0;
		}
		if (!coll || !special)
			return 0;
	}
	return 1;
}

/* 1 when a request body of this Content-Type may be XML (absent: yes). */
static int xml_type(const char *ct)
{
	if (!ct)
		return 1;
	size_t n = strcspn(ct, "; \t");
	return (n >= 4 && strncasecmp(ct + n - 4, "/xml", 4) == 0) ||
	       (n >= 4 && strncasecmp(ct + n - 4, "+xml", 4) == 0);
}

void grove__dav_do_mkcol(grove__dav_ctx *c)
{
	int mkcal = grove__http_req_method(c->req) == HTTP_MKCALENDAR;
	int files = c->path.family == DAV_FILES;
	if (files && (mkcal || c->path.type == DAV_R_HOME)) {
		grove__dav_send_status(c, mkcal ? 403 : 405);
		return;
	}
	if (!files && (c->path.type != DAV_R_COLLECTION || (mkcal && c->path.family != DAV_CAL))) {
		grove__dav_send_status(c, c->path.type == DAV_R_OBJECT ? 403 : 405);
		return;
	}
	const char *root_ns = mkcal ? DAV_NS_CALDAV : DAV_NS_DAV;
	const char *root = mkcal ? "mkcalendar" : "mkcol";
	grove__dav_xnode *doc = NULL;
	size_t len;
	const char *body = grove__http_req_body(c->req, &len);
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i < len && !xml_type(grove__http_req_header(c->req, "Content-Type"))) {
		grove__dav_send_status(c, 415); /* RFC 4918 9.3: a body we do not understand */
		return;
	}
	if (i < len && grove__dav_xml_parse(&doc, body, len, &c->srv->xml_limits) < 0) {
		const char *msg = grove_error_message();
		grove__http_res_send(c->res, 400, "text/plain; charset=utf-8", msg, strlen(msg));
		return;
	}
	if (doc && !grove__dav_xml_is(doc, root_ns, root)) {
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, 415); /* XML, but not a body we know */
		return;
	}
	mk_op op = { { c, doc, 1, NULL, 0, 0 },
		     files ? "collection" : c->path.family == DAV_CAL ? "calendar" : "addressbook" };
	if (doc && collect(&op.patch) < 0) {
		free(op.patch.list);
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, 400);
		return;
	}
	if (doc && !mkcal && !resourcetype_ok(doc, c->path.family)) {
		free(op.patch.list);
		grove__dav_xml_free(doc);
		grove__dav_send_cond(c, 403, DAV_NS_DAV, "valid-resourcetype");
		return;
	}
	grove__dav_write w = { mk_build, NULL, &op };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	grove_oid commit;
	int status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	if (status == -1)
		send_propstats(c, &op.patch, 403, root_ns, mkcal ? "mkcalendar-response" : "mkcol-response");
	else if (status)
		grove__dav_send_status(c, status);
	else
		grove__http_res_send(c->res, 201, NULL, NULL, 0);
	free(op.patch.list);
	grove__dav_xml_free(doc);
}
