/* Property values of DAV resources: the live properties computed from the
 * store (RFC 4918, 4791, 6352, 5397, 4331, 6578, getctag) and the stored
 * ones read from a collection's .props. */
#include "dav_files.h"
#include "dav_internal.h"
#include "error.h"
#include "store.h" /* the backend's read_header: an object's size without its bytes */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_COMPONENTS "VEVENT VTODO VJOURNAL"

static void href(grove__dav_xw *w, grove__dav_ctx *c, const char *suffix)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	if (grove__sbuf_printf(&b, "%s/", c->srv->prefix) < 0 ||
	    (c->user && grove__dav_href_segment(&b, c->user) < 0) ||
	    grove__sbuf_puts(&b, suffix) < 0) {
		w->rc = GROVE_ENOMEM;
		grove__sbuf_dispose(&b);
		return;
	}
	grove__dav_xw_leaf(w, DAV_NS_DAV, "href", b.data);
	grove__sbuf_dispose(&b);
}

/* Sum of the value sizes below key. */
static int used_bytes(grove_view *v, const char *key, uint64_t *out)
{
	grove_item_list items = { 0 };
	int rc = grove_view_read_tree(v, key, &items);
	if (rc == GROVE_ENOTFOUND) {
		*out = 0;
		return 0;
	}
	if (rc < 0)
		return rc;
	uint64_t sum = 0;
	for (size_t i = 0; i < items.count; i++)
		sum += items.items[i].size;
	grove_item_list_dispose(&items);
	*out = sum;
	return 0;
}

static int privileges(grove__dav_xw *w, grove__dav_res *r)
{
	static const char *const all[] = { "read", "write", "write-properties", "write-content",
				     "bind", "unbind", "read-current-user-privilege-set" };
	size_t n = r->type == DAV_R_ROOT ? 1 : sizeof(all) / sizeof(all[0]);
	grove__dav_xw_open(w, DAV_NS_DAV, "current-user-privilege-set");
	for (size_t i = 0; i < n; i++) {
		grove__dav_xw_open(w, DAV_NS_DAV, "privilege");
		grove__dav_xw_empty(w, DAV_NS_DAV, all[i]);
		grove__dav_xw_close(w);
	}
	grove__dav_xw_close(w);
	return 1;
}

static void component_set(grove__dav_xw *w, const char *list)
{
	grove__dav_xw_open(w, DAV_NS_CALDAV, "supported-calendar-component-set");
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p) {
			grove__dav_xw_raw(w, "<C:comp name=\"", 14);
			grove__dav_xw_text(w, p, (size_t)(e - p));
			grove__dav_xw_raw(w, "\"/>", 3);
		}
		p = e;
	}
	grove__dav_xw_close(w);
}

static int is(const char *ns, const char *name, const char *want_ns, const char *want)
{
	return strcmp(ns, want_ns) == 0 && strcmp(name, want) == 0;
}

int grove__dav_prop_write_length(grove__dav_ctx *c, const grove__dav_res *r, const char *ns,
				 const char *name, grove__dav_xw *w)
{
	/* the size from the object's record header: no inflate, no copy */
	grove *g = c->srv->st.g;
	grove_otype t;
	size_t size;
	if (g->be->ops->read_header(g->be, &r->id, &t, &size) < 0)
		return -1;
	char num[32];
	snprintf(num, sizeof(num), "%zu", size);
	grove__dav_xw_leaf(w, ns, name, num);
	return 1;
}

/*
 * The Last-Modified of every resource at head is the head commit's time
 * (grove__dav_last_modified); a PROPFIND of 10,000 members asks for it
 * 10,000 times, so the last answer is kept per thread, keyed by the store
 * handle and the head commit.
 */
static _Thread_local struct {
	const grove *g;
	grove_oid head;
	char text[64];
	int valid;
} last_modified_memo;

static int last_modified(grove__dav_ctx *c, const grove_oid *head, const char *key,
			 char out[64])
{
	if (last_modified_memo.valid && last_modified_memo.g == c->srv->st.g &&
	    grove_oid_cmp(&last_modified_memo.head, head) == 0) {
		memcpy(out, last_modified_memo.text, 64);
		return 0;
	}
	if (grove__dav_last_modified(c, head, key, out) < 0)
		return -1;
	last_modified_memo.g = c->srv->st.g;
	last_modified_memo.head = *head;
	memcpy(last_modified_memo.text, out, 64);
	last_modified_memo.valid = 1;
	return 0;
}

int grove__dav_prop_write_stored(const grove__dav_props *props, const char *ns, const char *name,
				 grove__dav_xw *w)
{
	char *clark = grove__dav_clark(ns, name);
	if (!clark)
		return -1;
	const grove__dav_prop *p = grove__dav_props_get(props, clark);
	free(clark);
	if (!p)
		return 0;
	if (p->is_xml)
		grove__dav_xw_raw(w, p->value, strlen(p->value));
	else
		grove__dav_xw_leaf(w, ns, name, p->value);
	return 1;
}

int grove__dav_prop_get(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, const char *ns,
			const char *name, grove__dav_xw *w)
{
	const int coll = r->type == DAV_R_COLLECTION, obj = r->type == DAV_R_OBJECT;
	const int cal = r->family == DAV_CAL;
	char hex[GROVE_OID_HEXSZ + 1];

	if (r->family == DAV_FILES) {
		int rc = grove__dav_files_prop_get(c, v, r, ns, name, w);
		if (rc != DAV_FILES_PROP_GENERIC)
			return rc;
	}

	if (is(ns, name, DAV_NS_DAV, "resourcetype")) {
		if (obj) {
			grove__dav_xw_empty(w, ns, name);
			return 1;
		}
		grove__dav_xw_open(w, ns, name);
		grove__dav_xw_empty(w, DAV_NS_DAV, "collection");
		if (r->type == DAV_R_PRINCIPAL)
			grove__dav_xw_empty(w, DAV_NS_DAV, "principal");
		if (coll)
			grove__dav_xw_empty(w, cal ? DAV_NS_CALDAV : DAV_NS_CARDDAV,
					    cal ? "calendar" : "addressbook");
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "getetag") && obj) {
		char etag[GROVE_OID_HEXSZ + 3];
		grove__dav_etag(etag, &r->id);
		grove__dav_xw_leaf(w, ns, name, etag);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "getcontenttype") && obj) {
		grove__dav_xw_leaf(w, ns, name, cal ? "text/calendar; charset=utf-8"
						    : "text/vcard; charset=utf-8");
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "getcontentlength") && obj) {
		return grove__dav_prop_write_length(c, r, ns, name, w);
	}
	if (is(ns, name, DAV_NS_DAV, "getlastmodified") && (obj || coll)) {
		char lm[64];
		if (last_modified(c, grove_view_commit(v), r->key, lm) < 0)
			return 0;
		grove__dav_xw_leaf(w, ns, name, lm);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "creationdate") && coll) {
		const grove__dav_prop *p = grove__dav_props_get(&r->props, "created");
		char when[32];
		if (!p || grove__dav_rfc3339(p->value, when) < 0)
			return 0;
		grove__dav_xw_leaf(w, ns, name, when); /* RFC 4918 15.1: RFC 3339 */
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "displayname") && r->type == DAV_R_PRINCIPAL) {
		grove__dav_xw_leaf(w, ns, name, c->user);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "current-user-principal")) {
		grove__dav_xw_open(w, ns, name);
		href(w, c, "/");
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "principal-URL") && r->type == DAV_R_PRINCIPAL) {
		grove__dav_xw_open(w, ns, name);
		href(w, c, "/");
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "principal-collection-set")) {
		grove__dav_xw_open(w, ns, name);
		grove__sbuf b = GROVE_SBUF_INIT;
		if (grove__sbuf_printf(&b, "%s/", c->srv->prefix) == 0)
			grove__dav_xw_leaf(w, DAV_NS_DAV, "href", b.data);
		grove__sbuf_dispose(&b);
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "owner") && r->type != DAV_R_ROOT) {
		grove__dav_xw_open(w, ns, name);
		href(w, c, "/");
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "current-user-privilege-set"))
		return privileges(w, r);
	if (is(ns, name, DAV_NS_CALDAV, "calendar-home-set") &&
	    (r->type == DAV_R_PRINCIPAL || r->type == DAV_R_ROOT)) {
		grove__dav_xw_open(w, ns, name);
		href(w, c, "/calendars/");
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_CARDDAV, "addressbook-home-set") &&
	    (r->type == DAV_R_PRINCIPAL || r->type == DAV_R_ROOT)) {
		grove__dav_xw_open(w, ns, name);
		href(w, c, "/addressbooks/");
		grove__dav_xw_close(w);
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "supported-report-set") && (coll || r->type == DAV_R_HOME)) {
		/* the reports of dav_report.c: collections only */
		static const char *const cal_reports[] = { "calendar-multiget", "calendar-query",
							   "free-busy-query" };
		static const char *const card_reports[] = { "addressbook-multiget",
							    "addressbook-query" };
		if (!coll) {
			grove__dav_xw_empty(w, ns, name);
			return 1;
		}
		grove__dav_xw_open(w, ns, name);
		size_t n = cal ? 3 : 2;
		for (size_t i = 0; i <= n; i++) {
			grove__dav_xw_open(w, DAV_NS_DAV, "supported-report");
			grove__dav_xw_open(w, DAV_NS_DAV, "report");
			if (i == n)
				grove__dav_xw_empty(w, DAV_NS_DAV, "sync-collection");
			else
				grove__dav_xw_empty(w, cal ? DAV_NS_CALDAV : DAV_NS_CARDDAV,
						    cal ? cal_reports[i] : card_reports[i]);
			grove__dav_xw_close(w);
			grove__dav_xw_close(w);
		}
		grove__dav_xw_close(w);
		return 1;
	}
	if ((is(ns, name, DAV_NS_DAV, "quota-used-bytes") ||
	     is(ns, name, DAV_NS_DAV, "quota-available-bytes")) &&
	    (coll || r->type == DAV_R_HOME || r->type == DAV_R_PRINCIPAL)) {
		uint64_t used;
		int avail = strcmp(name, "quota-available-bytes") == 0;
		if (avail && !c->srv->quota_bytes)
			return 0;
		if (used_bytes(v, avail ? c->user : r->key, &used) < 0)
			return -1;
		uint64_t val = used;
		if (avail)
			val = used >= c->srv->quota_bytes ? 0 : c->srv->quota_bytes - used;
		char num[32];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)val);
		grove__dav_xw_leaf(w, ns, name, num);
		return 1;
	}
	if (is(ns, name, DAV_NS_CS, "getctag") && coll) {
		grove__dav_xw_leaf(w, ns, name, grove_oid_tohex(hex, &r->id));
		return 1;
	}
	if (is(ns, name, DAV_NS_DAV, "sync-token") && coll) {
		char tok[sizeof(DAV_SYNC_PREFIX) + GROVE_OID_HEXSZ];
		snprintf(tok, sizeof(tok), "%s%s", DAV_SYNC_PREFIX,
			 grove_oid_tohex(hex, grove_view_commit(v)));
		grove__dav_xw_leaf(w, ns, name, tok);
		return 1;
	}
	if (is(ns, name, DAV_NS_CALDAV, "supported-calendar-component-set") && coll && cal) {
		const grove__dav_prop *p = grove__dav_props_get(&r->props, "components");
		component_set(w, p ? p->value : DEFAULT_COMPONENTS);
		return 1;
	}
	if (is(ns, name, DAV_NS_CALDAV, "supported-calendar-data") && coll && cal) {
		grove__dav_xw_open(w, ns, name);
		grove__dav_xw_raw(w, "<C:calendar-data content-type=\"text/calendar\" version=\"2.0\"/>", 61);
		grove__dav_xw_close(w);
		return 1;
	}
	if (((is(ns, name, DAV_NS_CALDAV, "max-resource-size") && cal) ||
	     (is(ns, name, DAV_NS_CARDDAV, "max-resource-size") && !cal)) && coll) {
		char num[32];
		snprintf(num, sizeof(num), "%u", (unsigned)DAV_MAX_RESOURCE_SIZE);
		grove__dav_xw_leaf(w, ns, name, num);
		return 1;
	}
	if (is(ns, name, DAV_NS_CARDDAV, "supported-address-data") && coll && !cal) {
		static const char x[] =
			"<CARD:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>"
			"<CARD:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>";
		grove__dav_xw_open(w, ns, name);
		grove__dav_xw_raw(w, x, sizeof(x) - 1);
		grove__dav_xw_close(w);
		return 1;
	}
	if (coll) {
		/* stored: displayname, descriptions, timezone, colour, dead ones */
		return grove__dav_prop_write_stored(&r->props, ns, name, w);
	}
	return 0;
}

/* ---- PROPPATCH / MKCOL property updates -------------------------------------- */

/* Properties the server computes: never set by clients. */
static const struct {
	const char *ns, *name;
} protected_props[] = {
	{ DAV_NS_DAV, "resourcetype" }, { DAV_NS_DAV, "getetag" },
	{ DAV_NS_DAV, "getcontenttype" }, { DAV_NS_DAV, "getcontentlength" },
	{ DAV_NS_DAV, "getlastmodified" }, { DAV_NS_DAV, "creationdate" },
	{ DAV_NS_DAV, "current-user-principal" }, { DAV_NS_DAV, "principal-URL" },
	{ DAV_NS_DAV, "principal-collection-set" }, { DAV_NS_DAV, "owner" },
	{ DAV_NS_DAV, "current-user-privilege-set" }, { DAV_NS_DAV, "supported-report-set" },
	{ DAV_NS_DAV, "quota-used-bytes" }, { DAV_NS_DAV, "quota-available-bytes" },
	{ DAV_NS_DAV, "sync-token" }, { DAV_NS_DAV, "lockdiscovery" },
	{ DAV_NS_DAV, "supportedlock" }, { DAV_NS_CS, "getctag" },
	{ DAV_NS_CALDAV, "calendar-home-set" }, { DAV_NS_CARDDAV, "addressbook-home-set" },
	{ DAV_NS_CALDAV, "supported-calendar-data" }, { DAV_NS_CARDDAV, "supported-address-data" },
	{ DAV_NS_CALDAV, "supported-calendar-component-set" },
	{ DAV_NS_CALDAV, "max-resource-size" }, { DAV_NS_CARDDAV, "max-resource-size" },
};

/* "VEVENT VTODO" from <C:supported-calendar-component-set><C:comp name=../>. */
static int components_of(const grove__dav_xnode *set, grove__sbuf *out)
{
	for (grove__dav_xnode *e = grove__dav_xml_first_element(set); e;
	     e = grove__dav_xml_next_element(e)) {
		if (!grove__dav_xml_is(e, DAV_NS_CALDAV, "comp"))
			return -1;
		const char *n = NULL;
		for (size_t i = 0; i < e->nattrs; i++)
			if (!e->attrs[i].ns[0] && strcmp(e->attrs[i].name, "name") == 0)
				n = e->attrs[i].value;
		if (!n || (strcmp(n, "VEVENT") && strcmp(n, "VTODO") && strcmp(n, "VJOURNAL") &&
			   strcmp(n, "VFREEBUSY")))
			return -1;
		if ((out->len && grove__sbuf_putc(out, ' ') < 0) || grove__sbuf_puts(out, n) < 0)
			return -1;
	}
	return out->len ? 0 : -1;
}

int grove__dav_prop_apply(grove__dav_props *props, grove__dav_family fam,
			  const grove__dav_xnode *prop, int remove, int creating,
			  const char **cond)
{
	*cond = NULL;
	if (creating && fam == DAV_CAL &&
	    grove__dav_xml_is(prop, DAV_NS_CALDAV, "supported-calendar-component-set")) {
		grove__sbuf comps = GROVE_SBUF_INIT;
		int bad = remove || components_of(prop, &comps) < 0;
		int rc = bad ? 0 : grove__dav_props_set(props, "components", comps.data, 0);
		grove__sbuf_dispose(&comps);
		if (bad) {
			*cond = "valid-calendar-component-set";
			return 403;
		}
		return rc < 0 ? 500 : 0;
	}
	for (size_t i = 0; i < sizeof(protected_props) / sizeof(protected_props[0]); i++) {
		if (grove__dav_xml_is(prop, protected_props[i].ns, protected_props[i].name)) {
			*cond = "cannot-modify-protected-property";
			return 403;
		}
	}
	if (!grove__dav_clark_storable(prop->ns))
		return 409; /* a namespace the .props format cannot name */
	char *clark = grove__dav_clark(prop->ns, prop->name);
	if (!clark)
		return 500;
	int rc;
	if (remove) {
		grove__dav_props_remove(props, clark);
		rc = 0;
	} else if (grove__dav_xml_is_text_only(prop) && !grove__dav_prop_lang(prop)) {
		char *text = grove__dav_xml_text(prop);
		rc = text ? grove__dav_props_set(props, clark, text, 0) : GROVE_ENOMEM;
		free(text);
	} else {
		grove__sbuf xml = GROVE_SBUF_INIT;
		rc = grove__dav_prop_serialize(&xml, prop);
		if (rc == 0)
			rc = grove__dav_props_set(props, clark, xml.data, 1);
		grove__sbuf_dispose(&xml);
	}
	free(clark);
	return rc < 0 ? 500 : 0;
}
