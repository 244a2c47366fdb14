/* PROPFIND (RFC 4918 section 9.1): allprop, propname and prop, Depth 0
 * and 1; Depth infinity is refused (propfind-finite-depth). */
#include "dav_internal.h"
#include "error.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
	const char *ns, *name;
} pname;

/* Live properties returned by allprop (RFC 4918 9.1: those it defines). */
static const pname allprop_live[] = {
	{ DAV_NS_DAV, "resourcetype" }, { DAV_NS_DAV, "displayname" },
	{ DAV_NS_DAV, "getetag" }, { DAV_NS_DAV, "getlastmodified" },
	{ DAV_NS_DAV, "getcontenttype" }, { DAV_NS_DAV, "getcontentlength" },
	{ DAV_NS_DAV, "creationdate" },
};

/* Every live property, for propname. */
static const pname all_live[] = {
	{ DAV_NS_DAV, "resourcetype" }, { DAV_NS_DAV, "displayname" },
	{ DAV_NS_DAV, "getetag" }, { DAV_NS_DAV, "getlastmodified" },
	{ DAV_NS_DAV, "getcontenttype" }, { DAV_NS_DAV, "getcontentlength" },
	{ DAV_NS_DAV, "creationdate" }, { DAV_NS_DAV, "supported-report-set" },
	{ DAV_NS_DAV, "owner" }, { DAV_NS_DAV, "current-user-privilege-set" },
	{ DAV_NS_DAV, "quota-available-bytes" }, { DAV_NS_DAV, "quota-used-bytes" },
	{ DAV_NS_CS, "getctag" }, { DAV_NS_DAV, "sync-token" },
	{ DAV_NS_DAV, "current-user-principal" }, { DAV_NS_DAV, "principal-URL" },
	{ DAV_NS_DAV, "principal-collection-set" },
	{ DAV_NS_CALDAV, "calendar-home-set" }, { DAV_NS_CARDDAV, "addressbook-home-set" },
	{ DAV_NS_CALDAV, "supported-calendar-component-set" },
	{ DAV_NS_CALDAV, "supported-calendar-data" }, { DAV_NS_CARDDAV, "supported-address-data" },
};

typedef enum { PF_ALLPROP, PF_PROPNAME, PF_PROP } pf_mode;

typedef struct {
	pf_mode mode;
	const grove__dav_xnode *props;    /* <prop> (PF_PROP) */
	const grove__dav_xnode *include;  /* <include> with allprop */
} pf_request;

/* Splits "{ns}local" in place-free fashion into pointers into a copy. */
static int split_clark(const char *clark, char **ns, const char **local)
{
	const char *close = strchr(clark, '}');
	if (clark[0] != '{' || !close)
		return -1;
	*ns = grove__strndup(clark + 1, (size_t)(close - clark - 1));
	*local = close + 1;
	return *ns ? 0 : -1;
}

/* Writes the value of one property straight into found (no per-property
 * buffer); a property the resource lacks leaves found as it was and is
 * named in missing.  Returns 1 found, 0 missing, -1 error. */
static int value(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, const char *ns,
		 const char *name, grove__dav_xw *found)
{
	size_t len = found->buf.len;
	int depth = found->depth;
	int rc = grove__dav_prop_get(c, v, r, ns, name, found);
	if (rc < 0 || found->rc < 0)
		return -1;
	if (rc == 0) {
		/* anything half-written by a getter that gave up */
		found->buf.len = len;
		if (found->buf.data)
			found->buf.data[len] = '\0';
		found->depth = depth;
	}
	return rc > 0;
}

/* One property into found or missing. */
static int one(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, const char *ns,
	       const char *name, grove__dav_xw *found, grove__dav_xw *missing, int names_only)
{
	if (names_only) {
		grove__dav_xw_empty(found, ns, name);
		return 0;
	}
	int rc = value(c, v, r, ns, name, found);
	if (rc < 0)
		return -1;
	if (rc == 0)
		grove__dav_xw_empty(missing, ns, name);
	return 0;
}

static int stored(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, grove__dav_xw *found,
		  grove__dav_xw *missing, int names_only)
{
	if (r->type != DAV_R_COLLECTION && r->family != DAV_FILES)
		return 0; /* files-area resources and the files root have dead ones too */
	for (size_t i = 0; i < r->props.count; i++) {
		char *ns;
		const char *local;
		if (split_clark(r->props.items[i].name, &ns, &local) < 0)
			continue; /* grove's own fields: type, created, components */
		int rc = 0;
		if (!(strcmp(ns, DAV_NS_DAV) == 0 && strcmp(local, "displayname") == 0))
			rc = one(c, v, r, ns, local, found, missing, names_only);
		free(ns);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* found and missing are scratch writers reused from member to member. */
static int response_into(grove__dav_ctx *c, grove_view *v, grove__dav_res *r,
			 const pf_request *q, grove__dav_xw *w, grove__dav_xw *found,
			 grove__dav_xw *missing)
{
	grove__sbuf_reset(&found->buf);
	grove__sbuf_reset(&missing->buf);
	found->rc = missing->rc = 0;
	found->depth = missing->depth = 0;
	int rc = 0;
	if (q->mode == PF_PROP) {
		for (grove__dav_xnode *e = grove__dav_xml_first_element(q->props); e && rc == 0;
		     e = grove__dav_xml_next_element(e))
			rc = one(c, v, r, e->ns, e->name, found, missing, 0);
	} else {
		int names = q->mode == PF_PROPNAME;
		const pname *list = names ? all_live : allprop_live;
		size_t n = names ? sizeof(all_live) / sizeof(all_live[0])
				 : sizeof(allprop_live) / sizeof(allprop_live[0]);
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (names) {
				/* only the properties this resource has */
				grove__dav_xw tmp;
				grove__dav_xw_init(&tmp);
				rc = grove__dav_prop_get(c, v, r, list[i].ns, list[i].name, &tmp);
				grove__dav_xw_dispose(&tmp);
				if (rc > 0)
					grove__dav_xw_empty(found, list[i].ns, list[i].name);
				rc = rc < 0 ? -1 : 0;
			} else {
				rc = value(c, v, r, list[i].ns, list[i].name, found) < 0 ? -1 : 0;
			}
		}
		if (rc == 0)
			rc = stored(c, v, r, found, missing, names);
		for (grove__dav_xnode *e = grove__dav_xml_first_element(q->include);
		     e && rc == 0; e = grove__dav_xml_next_element(e))
			rc = one(c, v, r, e->ns, e->name, found, missing, 0);
	}
	if (rc == 0 && (found->rc < 0 || missing->rc < 0))
		rc = -1;
	if (rc == 0)
		grove__dav_propstat_response(w, r->href, found, missing);
	return rc;
}

static int response(grove__dav_ctx *c, grove_view *v, grove__dav_res *r,
		    const pf_request *q, grove__dav_xw *w)
{
	grove__dav_xw found, missing;
	grove__dav_xw_init(&found);
	grove__dav_xw_init(&missing);
	int rc = response_into(c, v, r, q, w, &found, &missing);
	grove__dav_xw_dispose(&found);
	grove__dav_xw_dispose(&missing);
	return rc;
}

/*
 * The members of a calendar or address book collection, without going
 * through grove__dav_res_child: that re-parses a URL, re-reads and parses
 * the collection's .props and looks the member up in the tree again, for
 * every one of 10,000 members.  The listing already has the blob id; the
 * names are checked as grove__dav_path_parse would (hidden names and ones
 * no URL can reach are left out).
 */
static int members(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, const pf_request *q,
		   grove__dav_xw *w, const grove_entry_list *list)
{
	grove__sbuf href = GROVE_SBUF_INIT, key = GROVE_SBUF_INIT;
	grove__dav_xw found, missing;
	grove__dav_xw_init(&found);
	grove__dav_xw_init(&missing);
	grove__dav_res child;
	memset(&child, 0, sizeof(child));
	child.type = DAV_R_OBJECT;
	child.family = r->family;
	child.exists = 1;
	child.coll_exists = 1;
	size_t hlen = strlen(r->href), klen = strlen(r->key);
	int rc = grove__sbuf_put(&href, r->href, hlen);
	if (rc == 0)
		rc = grove__sbuf_put(&key, r->key, klen);
	if (rc == 0)
		rc = grove__sbuf_putc(&key, '/');
	klen++;
	/* about 330 bytes per member for a typical getetag+getcontenttype
	 * +resourcetype PROPFIND: one allocation instead of ~20 doublings */
	if (rc == 0 && w->rc == 0)
		w->rc = grove__sbuf_grow(&w->buf, list->count * 384);
	for (size_t i = 0; i < list->count && rc == 0; i++) {
		const grove_entry *en = &list->entries[i];
		if (en->kind == GROVE_KIND_DIR || en->kind == GROVE_KIND_SUBMODULE ||
		    en->name[0] == '.' || strchr(en->name, '\\') ||
		    grove_key_validate(en->name) < 0)
			continue;
		href.len = hlen;
		key.len = klen;
		if (grove__dav_href_segment(&href, en->name) < 0 ||
		    grove__sbuf_puts(&key, en->name) < 0) {
			rc = -1;
			break;
		}
		child.href = href.data;
		child.key = key.data;
		child.name = en->name;
		child.id = en->id;
		rc = response_into(c, v, &child, q, w, &found, &missing);
	}
	grove__dav_xw_dispose(&found);
	grove__dav_xw_dispose(&missing);
	grove__sbuf_dispose(&href);
	grove__sbuf_dispose(&key);
	return rc < 0 ? -1 : 0;
}

/* The children of r for Depth 1. */
static int children(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, const pf_request *q,
		    grove__dav_xw *w)
{
	static const char *const homes[] = { "calendars", "addressbooks", DAV_FILES_DIR };
	if (r->type == DAV_R_OBJECT)
		return 0;
	if (r->type == DAV_R_ROOT || r->type == DAV_R_PRINCIPAL) {
		size_t n = r->type == DAV_R_ROOT ? 1 : 3;
		for (size_t i = 0; i < n; i++) {
			grove__dav_res child;
			const char *name = r->type == DAV_R_ROOT ? c->user : homes[i];
			if (grove__dav_res_child(c, v, r, name, &child))
				continue; /* a user name that cannot be a path */
			int rc = response(c, v, &child, q, w);
			grove__dav_res_dispose(&child);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	grove_entry_list list = { 0 };
	int rc = grove_view_list(v, r->key, &list);
	if (rc == GROVE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (r->type == DAV_R_COLLECTION && r->family != DAV_FILES) {
		rc = members(c, v, r, q, w, &list);
		grove_entry_list_dispose(&list);
		return rc;
	}
	for (size_t i = 0; i < list.count && rc == 0; i++) {
		grove__dav_res child;
		/* calendar homes hold collections, collections objects; the
		 * files area both */
		int want_dir = r->type == DAV_R_HOME;
		if (r->family != DAV_FILES && (list.entries[i].kind == GROVE_KIND_DIR) != want_dir)
			continue;
		if (grove__dav_res_child(c, v, r, list.entries[i].name, &child))
			continue; /* hidden (.props) or not a DAV name */
		if (child.exists)
			rc = response(c, v, &child, q, w);
		grove__dav_res_dispose(&child);
	}
	grove_entry_list_dispose(&list);
	return rc;
}

void grove__dav_do_propfind(grove__dav_ctx *c)
{
	const char *depth = grove__http_req_header(c->req, "Depth");
	int d;
	if (depth && strcmp(depth, "0") == 0) {
		d = 0;
	} else if (depth && strcmp(depth, "1") == 0) {
		d = 1;
	} else if (!depth || strcasecmp(depth, "infinity") == 0) {
		/* RFC 4918 9.1: no Depth means infinity, which we do not serve */
		grove__dav_send_cond(c, 403, DAV_NS_DAV, "propfind-finite-depth");
		return;
	} else {
		grove__dav_send_status(c, 400);
		return;
	}
	grove__dav_xnode *doc;
	if (grove__dav_body_xml(c, &doc) < 0)
		return;
	pf_request q = { PF_ALLPROP, NULL, NULL };
	if (doc) {
		const grove__dav_xnode *e = grove__dav_xml_first_element(doc);
		if (!grove__dav_xml_is(doc, DAV_NS_DAV, "propfind") || !e) {
			grove__dav_xml_free(doc);
			grove__dav_send_status(c, 400);
			return;
		}
		if (grove__dav_xml_is(e, DAV_NS_DAV, "prop")) {
			q.mode = PF_PROP;
			q.props = e;
		} else if (grove__dav_xml_is(e, DAV_NS_DAV, "propname")) {
			q.mode = PF_PROPNAME;
		} else if (grove__dav_xml_is(e, DAV_NS_DAV, "allprop")) {
			q.include = grove__dav_xml_child(doc, DAV_NS_DAV, "include");
		} else {
			grove__dav_xml_free(doc);
			grove__dav_send_status(c, 400);
			return;
		}
	}
	grove_view *v;
	grove__dav_res r;
	int status = grove__dav_view(&c->srv->st, &v) < 0 ? 500 : 0;
	if (status == 0) {
		status = grove__dav_res_load(c, v, &c->path, &r);
		if (status == 0 && !r.exists) {
			grove__dav_res_dispose(&r);
			status = 404;
		}
		if (status)
			grove_view_free(v);
	}
	if (status) {
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, status);
		return;
	}
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_root(&w, DAV_NS_DAV, "multistatus");
	int rc = response(c, v, &r, &q, &w);
	if (rc == 0 && d == 1)
		rc = children(c, v, &r, &q, &w);
	grove__dav_xw_close(&w);
	if (rc < 0)
		grove__dav_send_status(c, 500);
	else
		grove__dav_send_xml(c, 207, &w);
	grove__dav_xw_dispose(&w);
	grove__dav_res_dispose(&r);
	grove_view_free(v);
	grove__dav_xml_free(doc);
}
