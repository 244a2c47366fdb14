/* The DAV server: routes, authentication, path checks and dispatch to the
 * method handlers, plus the helpers they share. */
#include "dav_files.h"
#include "dav_internal.h"
#include "cache_budget.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DAV_METHODS                                                                     \
	(GROVE_HTTP_M(HTTP_OPTIONS) | GROVE_HTTP_M(HTTP_GET) | GROVE_HTTP_M(HTTP_HEAD) |    \
	 GROVE_HTTP_M(HTTP_PUT) | GROVE_HTTP_M(HTTP_DELETE) | GROVE_HTTP_M(HTTP_PROPFIND) | \
	 GROVE_HTTP_M(HTTP_PROPPATCH) | GROVE_HTTP_M(HTTP_MKCOL) |                          \
	 GROVE_HTTP_M(HTTP_MKCALENDAR) | GROVE_HTTP_M(HTTP_COPY) | GROVE_HTTP_M(HTTP_MOVE) |     \
	 GROVE_HTTP_M(HTTP_REPORT))

static const char allow_list[] =
	"OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, "
	"REPORT";

/* ---- shared helpers -------------------------------------------------------- */

const char *grove__dav_reason(int status)
{
	switch (status) {
	case 207: return "Multi-Status";
	case 422: return "Unprocessable Entity";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 507: return "Insufficient Storage";
	default: return grove__http_reason(status);
	}
}

void grove__dav_send_status(grove__dav_ctx *c, int status)
{
	grove__http_res_error(c->res, status);
}

void grove__dav_status_line(grove__dav_xw *w, int status)
{
	char line[64];
	snprintf(line, sizeof(line), "HTTP/1.1 %d %s", status, grove__dav_reason(status));
	grove__dav_xw_leaf(w, DAV_NS_DAV, "status", line);
}

void grove__dav_propstat_response(grove__dav_xw *w, const char *href, const grove__dav_xw *found,
				  const grove__dav_xw *missing)
{
	grove__dav_xw_open(w, DAV_NS_DAV, "response");
	grove__dav_xw_leaf(w, DAV_NS_DAV, "href", href);
	if (found->buf.len || !missing->buf.len) {
		grove__dav_xw_open(w, DAV_NS_DAV, "propstat");
		grove__dav_xw_open(w, DAV_NS_DAV, "prop");
		grove__dav_xw_raw(w, found->buf.data ? found->buf.data : "", found->buf.len);
		grove__dav_xw_close(w);
		grove__dav_status_line(w, 200);
		grove__dav_xw_close(w);
	}
	if (missing->buf.len) {
		grove__dav_xw_open(w, DAV_NS_DAV, "propstat");
		grove__dav_xw_open(w, DAV_NS_DAV, "prop");
		grove__dav_xw_raw(w, missing->buf.data, missing->buf.len);
		grove__dav_xw_close(w);
		grove__dav_status_line(w, 404);
		grove__dav_xw_close(w);
	}
	grove__dav_xw_close(w);
}

void grove__dav_send_xml(grove__dav_ctx *c, int status, grove__dav_xw *w)
{
	if (w->rc < 0) {
		grove__http_res_error(c->res, 500);
		return;
	}
	grove__http_res_send(c->res, status, "application/xml; charset=utf-8", w->buf.data,
			     w->buf.len);
}

void grove__dav_send_cond(grove__dav_ctx *c, int status, const char *ns, const char *cond)
{
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_root(&w, DAV_NS_DAV, "error");
	grove__dav_xw_empty(&w, ns, cond);
	grove__dav_xw_close(&w);
	grove__dav_send_xml(c, status, &w);
	grove__dav_xw_dispose(&w);
}

/* 1 when the comma-separated entity-tag list contains etag (weak
 * comparison is not used: our ETags are strong). */
static int etag_in_list(const char *list, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		if (*e == '"') {
			const char *q = strchr(e + 1, '"');
			e = q ? q + 1 : e + strlen(e);
		} else {
			while (*e && *e != ',')
				e++;
		}
		if ((size_t)(e - p) == n && memcmp(p, etag, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

static int is_star(const char *v)
{
	while (*v == ' ')
		v++;
	return v[0] == '*' && (v[1] == '\0' || v[1] == ' ');
}

int grove__dav_preconditions(grove__http_request *req, const char *etag, int is_read)
{
	const char *im = grove__http_req_header(req, "If-Match");
	const char *inm = grove__http_req_header(req, "If-None-Match");
	if (im) {
		if (!etag)
			return 412;
		if (!is_star(im) && !etag_in_list(im, etag))
			return 412;
	}
	if (inm && etag && (is_star(inm) || etag_in_list(inm, etag)))
		return is_read ? 304 : 412;
	return 0;
}

/* An HTTP-date (RFC 7231 7.1.1.1, IMF-fixdate); -1 when it is not one,
 * and an invalid date makes the condition be ignored (RFC 7232 3.3, 3.4). */
static int64_t parse_http_date(const char *v)
{
	struct tm tm;
	const char *end;
	memset(&tm, 0, sizeof(tm));
	while (*v == ' ')
		v++;
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	return (int64_t)timegm(&tm);
}

/* When key last changed at or before head: the commit time found by
 * walking history, which is exact but costs a walk, so it is only done when
 * a request carries a date condition. */
static int modified_time(grove__dav_ctx *c, grove_view *v, const char *key, int64_t *out)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid at;
	grove_commit *cm;
	const grove_oid *head = grove_view_commit(v);
	if (grove_oid_is_zero(head))
		return -1;
	grove_oid_tohex(hex, head);
	if (grove_last_modified(c->srv->st.g, hex, key, &at) < 0 ||
	    grove_commit_read(c->srv->st.g, &at, &cm) < 0) {
		grove_error_clear();
		return -1;
	}
	*out = cm->committer.time;
	grove_commit_free(cm);
	return 0;
}

int grove__dav_date_conditions(grove__dav_ctx *c, grove_view *v, const char *key, int exists, int is_read)
{
	const char *ius = grove__http_req_header(c->req, "If-Unmodified-Since");
	const char *ims = grove__http_req_header(c->req, "If-Modified-Since");
	int64_t when, changed;
	/* RFC 7232 6: a date condition is ignored when its ETag twin is present. */
	if (ius && !grove__http_req_header(c->req, "If-Match") && (when = parse_http_date(ius)) >= 0) {
		if (!exists || (modified_time(c, v, key, &changed) == 0 && changed > when))
			return 412;
	}
	if (is_read && exists && ims && !grove__http_req_header(c->req, "If-None-Match") &&
	    (when = parse_http_date(ims)) >= 0 && modified_time(c, v, key, &changed) == 0 &&
	    changed <= when)
		return 304;
	return 0;
}

int grove__dav_delete_check(grove__dav_ctx *c, grove_view *base)
{
	grove__dav_res r;
	int status = grove__dav_res_load(c, base, &c->path, &r);
	if (status)
		return status;
	if (!r.exists) {
		status = 404;
	} else {
		/* an object's ETag is its blob id, a collection's its tree id */
		char etag[GROVE_OID_HEXSZ + 3];
		grove__dav_etag(etag, &r.id);
		status = grove__dav_preconditions(c->req, etag, 0);
		if (status == 0)
			status = grove__dav_date_conditions(c, base, r.key, 1, 0);
	}
	grove__dav_res_dispose(&r);
	return status;
}

void grove__dav_send_put_done(grove__dav_ctx *c, const void *body, size_t len, int created)
{
	grove_oid blob;
	char etag[GROVE_OID_HEXSZ + 3];
	grove_object_hash(GROVE_OBJ_BLOB, body, len, &blob);
	grove__dav_etag(etag, &blob);
	grove__http_res_header(c->res, "ETag", etag);
	grove__http_res_send(c->res, created ? 201 : 204, NULL, NULL, 0);
}

void grove__dav_change_init(grove__dav_ctx *c, grove__dav_change *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->user = c->user;
	ch->method = c->method;
	ch->resource = c->path.href;
	ch->user_agent = grove__http_req_header(c->req, "User-Agent");
}

int grove__dav_body_xml(grove__dav_ctx *c, grove__dav_xnode **out)
{
	size_t len;
	const char *body = grove__http_req_body(c->req, &len);
	*out = NULL;
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i == len)
		return 0;
	if (grove__dav_xml_parse(out, body, len, &c->srv->xml_limits) < 0) {
		const char *msg = grove_error_message();
		grove__http_res_send(c->res, 400, "text/plain; charset=utf-8", msg, strlen(msg));
		return -1;
	}
	return 0;
}

void grove__dav_res_dispose(grove__dav_res *r)
{
	free(r->href);
	free(r->key);
	free(r->name);
	grove__dav_props_dispose(&r->props);
	memset(r, 0, sizeof(*r));
}

int grove__dav_props_load(grove_view *v, const char *coll_key, grove__dav_props *out,
			  int *exists)
{
	grove__sbuf key = GROVE_SBUF_INIT;
	grove_buf data = { 0 };
	memset(out, 0, sizeof(*out));
	*exists = 0;
	if (grove__sbuf_printf(&key, "%s/%s", coll_key, DAV_PROPS_FILE) < 0)
		return 500;
	int rc = grove_view_get(v, key.data, &data);
	grove__sbuf_dispose(&key);
	if (rc == GROVE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return 500;
	rc = grove__dav_props_parse(out, data.data, data.size);
	grove_buf_dispose(&data);
	if (rc < 0)
		return 500;
	*exists = 1;
	return 0;
}

int grove__dav_res_load(grove__dav_ctx *c, grove_view *v, const grove__dav_path *p,
			grove__dav_res *out)
{
	if (p->family == DAV_FILES)
		return grove__dav_files_res_load(c, v, p, out); /* plain WebDAV: dav_files.c */
	memset(out, 0, sizeof(*out));
	out->type = p->type;
	out->family = p->family;
	out->href = grove__strdup(p->href);
	out->key = grove__strdup(p->key);
	if (p->name || p->coll)
		out->name = grove__strdup(p->name ? p->name : p->coll);
	if (!out->href || !out->key || ((p->name || p->coll) && !out->name)) {
		grove__dav_res_dispose(out);
		return 500;
	}
	(void)c;
	int status = 0;
	switch (p->type) {
	case DAV_R_ROOT:
	case DAV_R_PRINCIPAL:
	case DAV_R_HOME:
		out->exists = 1;
		break;
	case DAV_R_COLLECTION:
	case DAV_R_OBJECT: {
		grove__sbuf ck = GROVE_SBUF_INIT;
		int e = grove__sbuf_printf(&ck, "%s/%s/%s", p->user,
					   grove__dav_family_dir(p->family), p->coll);
		if (e == 0)
			status = grove__dav_props_load(v, ck.data, &out->props, &out->exists);
		else
			status = 500;
		out->coll_exists = out->exists;
		if (status == 0 && out->exists) {
			grove_kind kind;
			int rc = grove_view_id(v, out->key, &out->id, &kind);
			if (p->type == DAV_R_OBJECT) {
				if (rc == 0 && kind != GROVE_KIND_DIR) {
					out->exists = 1;
				} else if (rc == 0 || rc == GROVE_ENOTFOUND) {
					out->exists = 0;
					memset(&out->id, 0, sizeof(out->id));
				} else {
					status = 500;
				}
			} else if (rc < 0) {
				status = 500;
			}
		}
		grove__sbuf_dispose(&ck);
		break;
	}
	}
	if (status)
		grove__dav_res_dispose(out);
	return status;
}

int grove__dav_res_child(grove__dav_ctx *c, grove_view *v, const grove__dav_res *parent,
			 const char *name, grove__dav_res *out)
{
	grove__sbuf path = GROVE_SBUF_INIT;
	grove__dav_path p;
	/* rebuild the child's URL path and parse it like a request path */
	int rc;
	if (parent->type == DAV_R_ROOT)
		rc = grove__sbuf_printf(&path, "%s/%s", c->srv->prefix, name);
	else
		rc = grove__sbuf_printf(&path, "%s/%s/%s", c->srv->prefix, parent->key, name);
	if (rc < 0) {
		grove__sbuf_dispose(&path);
		return 500;
	}
	int status = grove__dav_path_parse(&p, c->srv->prefix, path.data, NULL);
	grove__sbuf_dispose(&path);
	if (status)
		return status;
	status = grove__dav_res_load(c, v, &p, out);
	grove__dav_path_dispose(&p);
	return status;
}

/*
 * "Sun, 06 Nov 1994 08:49:37 GMT" for a resource at head: the time of the
 * head commit.  That is never earlier than the resource's real last change,
 * so caches stay correct (at worst they revalidate more often), and it costs
 * one commit read.  Walking history for the exact commit (grove_last_modified)
 * costs a tree lookup per commit and made every GET and PROPFIND grow with
 * the length of the history; clients use ETags, which are exact, anyway.
 */
int grove__dav_last_modified(grove__dav_ctx *c, const grove_oid *head, const char *key,
			 char out[64])
{
	grove_commit *cm;
	(void)key;
	if (grove_oid_is_zero(head))
		return -1;
	if (grove_commit_read(c->srv->st.g, head, &cm) < 0)
		return -1;
	time_t t = (time_t)cm->committer.time;
	grove_commit_free(cm);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -1;
	strftime(out, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return 0;
}

/* ---- OPTIONS and discovery --------------------------------------------------- */

static void add_dav_headers(grove__http_response *res)
{
	grove__http_res_header(res, "DAV", "1, 3, calendar-access, addressbook, extended-mkcol");
	grove__http_res_header(res, "Allow", allow_list);
}

void grove__dav_do_options(grove__dav_ctx *c)
{
	add_dav_headers(c->res);
	grove__http_res_send(c->res, 200, NULL, NULL, 0);
}

static void well_known(grove__http_request *req, grove__http_response *res, void *arg)
{
	grove__dav_server *srv = arg;
	(void)req;
	grove__sbuf loc = GROVE_SBUF_INIT;
	if (grove__sbuf_printf(&loc, "%s/", srv->prefix) < 0) {
		grove__http_res_error(res, 500);
		return;
	}
	grove__http_res_header(res, "Location", loc.data);
	grove__sbuf_dispose(&loc);
	grove__http_res_send(res, 301, NULL, NULL, 0);
}

/* ---- dispatch ----------------------------------------------------------------- */

static void dav_handler(grove__http_request *req, grove__http_response *res, void *arg)
{
	grove__dav_server *srv = arg;
	grove__dav_ctx c;
	memset(&c, 0, sizeof(c));
	c.srv = srv;
	c.req = req;
	c.res = res;
	c.method = grove__http_req_method_name(req);
	int m = grove__http_req_method(req);
	/* the route prefix also matches "/davfoo": only the prefix or below */
	const char *path = grove__http_req_path(req);
	size_t plen = strlen(srv->prefix);
	if (path[plen] && path[plen] != '/') {
		grove__http_res_error(res, 404);
		return;
	}
	int status = grove__dav_path_parse(&c.path, srv->prefix, path,
					   grove__http_req_raw_target(req));
	if (status) {
		grove__http_res_error(res, status);
		return;
	}
	if (m == HTTP_OPTIONS) {
		/* clients probe capabilities before authenticating */
		grove__dav_do_options(&c);
		goto out;
	}
	if (!grove__http_require_basic_auth(req, res, srv->htpasswd, srv->realm))
		goto out;
	c.user = grove__http_req_user(req);
	if (c.path.user && strcmp(c.path.user, c.user) != 0) {
		/* another user's tree does not exist for this user */
		grove__http_res_error(res, 404);
		goto out;
	}
	switch (m) {
	case HTTP_GET:
	case HTTP_HEAD: grove__dav_do_get(&c); break;
	case HTTP_PUT: grove__dav_do_put(&c); break;
	case HTTP_DELETE: grove__dav_do_delete(&c); break;
	case HTTP_PROPFIND: grove__dav_do_propfind(&c); break;
	case HTTP_PROPPATCH: grove__dav_do_proppatch(&c); break;
	case HTTP_MKCOL:
	case HTTP_MKCALENDAR: grove__dav_do_mkcol(&c); break;
	case HTTP_COPY: grove__dav_do_copymove(&c, 0); break;
	case HTTP_MOVE: grove__dav_do_copymove(&c, 1); break;
	case HTTP_REPORT: grove__dav_do_report(&c); break;
	default:
		grove__http_res_header(res, "Allow", allow_list);
		grove__http_res_error(res, 405);
		break;
	}
out:
	grove__dav_path_dispose(&c.path);
}

/*
 * Memory of a DAV server (issue 4: peak RSS <= 64 MiB at 10,000 events +
 * 10,000 contacts).  The store's default cache budgets suit a library
 * user; what a DAV server reads is different:
 * - trees: every write makes a new version of a big collection tree
 *   (~550 KB parsed at 10,000 members) and only the newest is read again,
 *   so a 16 MiB cache mostly held ~25 dead versions (the tree cache keeps
 *   at least three of its largest trees whatever the budget, so a
 *   100,000-member collection still stays cached);
 * - objects (values up to 1 KiB: events, cards, commits, small trees):
 *   4 MiB holds ~6,000 events; a miss costs one B-tree lookup more
 *   (addressbook-query keeps its own vCard cache, carddav_report.c).
 * The delta base cache is left as it is: a DAV-filled store has no deltas
 * (it costs nothing here), and git clients of the same process use it.
 */
#define DAV_TREE_CACHE_BYTES ((size_t)4 << 20)
#define DAV_OBJECT_CACHE_BYTES ((size_t)4 << 20)

static void dav_cache_budgets(grove *g)
{
	grove__tree_cache_set_budget(g, DAV_TREE_CACHE_BYTES);
	grove__obj_cache_set_budget(g, DAV_OBJECT_CACHE_BYTES);
}

int grove__dav_server_register(grove__dav_server **out, grove__http_server *http,
			       grove *g, const grove__dav_options *opts)
{
	if (!out || !http || !g || !opts || !opts->htpasswd)
		return grove__error_set(GROVE_EINVALID, "DAV server needs an HTTP server, a store and an htpasswd file");
	const char *prefix = opts->prefix ? opts->prefix : "/dav";
	size_t plen = strlen(prefix);
	if (plen < 2 || prefix[0] != '/' || prefix[plen - 1] == '/')
		return grove__error_set(GROVE_EINVALID, "DAV prefix must look like /dav");
	grove__dav_server *srv = grove__calloc(1, sizeof(*srv));
	if (!srv)
		return GROVE_ENOMEM;
	srv->st.g = g;
	dav_cache_budgets(g);
	srv->st.branch = grove__strdup(opts->branch ? opts->branch : "main");
	srv->st.mail_domain = grove__strdup(opts->mail_domain ? opts->mail_domain : "localhost");
	srv->prefix = grove__strdup(prefix);
	srv->realm = grove__strdup(opts->realm ? opts->realm : "grove");
	srv->htpasswd = opts->htpasswd;
	srv->quota_bytes = opts->quota_bytes;
	int rc = 0;
	if (!srv->st.branch || !srv->st.mail_domain || !srv->prefix || !srv->realm)
		rc = GROVE_ENOMEM;
	if (rc == 0 && grove_branch_name_validate(srv->st.branch) < 0)
		rc = GROVE_EINVALID;
	if (rc == 0)
		rc = grove__http_route(http, DAV_METHODS, srv->prefix, dav_handler, srv);
	if (rc == 0)
		rc = grove__http_route(http, DAV_METHODS, "/.well-known/caldav", well_known, srv);
	if (rc == 0)
		rc = grove__http_route(http, DAV_METHODS, "/.well-known/carddav", well_known, srv);
	if (rc < 0) {
		grove__dav_server_free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

void grove__dav_server_free(grove__dav_server *dav)
{
	if (!dav)
		return;
	free(dav->st.branch);
	free(dav->st.mail_domain);
	free(dav->prefix);
	free(dav->realm);
	free(dav);
}
