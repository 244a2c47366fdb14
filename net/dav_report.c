/* REPORT: dispatch on the body's root element, and what the reports share
 * (object responses, walking a collection's members, text matching). */
#include "dav_report.h"
#include "dav_report_index.h"
#include "dav_journal.h"
#include "error.h"
#include "object.h"
#include "store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *grove__dav_xml_attr(const grove__dav_xnode *e, const char *name)
{
	for (size_t i = 0; e && i < e->nattrs; i++)
		if (!e->attrs[i].ns[0] && strcmp(e->attrs[i].name, name) == 0)
			return e->attrs[i].value;
	return NULL;
}

/* ---- text matching ------------------------------------------------------------ */

int grove__dav_collation_ok(const char *collation)
{
	return !collation || strcmp(collation, "i;octet") == 0 ||
	       strcmp(collation, "i;ascii-casemap") == 0 ||
	       strcmp(collation, "i;unicode-casemap") == 0;
}

int grove__dav_match_type_ok(const char *t)
{
	return !t || strcmp(t, "equals") == 0 || strcmp(t, "contains") == 0 ||
	       strcmp(t, "starts-with") == 0 || strcmp(t, "ends-with") == 0;
}

/* Decodes one UTF-8 sequence at *s (invalid bytes pass as themselves). */
static unsigned utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	unsigned c = p[0];
	int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
	if (n <= 0) {
		*s = p + 1;
		return c;
	}
	unsigned v = c & (0x3f >> n);
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*s = p + 1;
			return c;
		}
		v = (v << 6) | (p[i] & 0x3f);
	}
	*s = p + n + 1;
	return v;
}

/* A simple case fold: ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic capitals (best effort for i;unicode-casemap). */
static unsigned fold(unsigned c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7))
		return c + 32;
	if (c >= 0x100 && c <= 0x17f && !(c & 1) && c != 0x130 && c != 0x138)
		return c + 1;
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 32;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

/* The folded code points of s into a new array (*n of them). */
static unsigned *fold_all(const char *s, int unicode, size_t *n)
{
	size_t len = strlen(s);
	unsigned *out = grove__calloc(len + 1, sizeof(*out));
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;
	while (*p) {
		if (unicode) {
			out[k++] = fold(utf8_next(&p));
		} else {
			unsigned c = *p++;
			out[k++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		}
	}
	*n = k;
	return out;
}

int grove__dav_text_match(const char *value, const char *text, const char *collation,
			  const char *match_type)
{
	if (!grove__dav_collation_ok(collation) || !grove__dav_match_type_ok(match_type))
		return -1;
	int octet = collation && strcmp(collation, "i;octet") == 0;
	int unicode = collation && strcmp(collation, "i;unicode-casemap") == 0;
	const char *mt = match_type ? match_type : "contains";
	size_t vn, tn;
	unsigned *v, *t;
	if (octet) {
		vn = strlen(value);
		tn = strlen(text);
		v = grove__calloc(vn + 1, sizeof(*v));
		t = grove__calloc(tn + 1, sizeof(*t));
		for (size_t i = 0; v && i < vn; i++)
			v[i] = (unsigned char)value[i];
		for (size_t i = 0; t && i < tn; i++)
			t[i] = (unsigned char)text[i];
	} else {
		v = fold_all(value, unicode, &vn);
		t = fold_all(text, unicode, &tn);
	}
	int r = 0;
	if (!v || !t) {
		r = -1;
	} else if (strcmp(mt, "equals") == 0) {
		r = vn == tn && memcmp(v, t, vn * sizeof(*v)) == 0;
	} else if (strcmp(mt, "starts-with") == 0) {
		r = tn <= vn && memcmp(v, t, tn * sizeof(*v)) == 0;
	} else if (strcmp(mt, "ends-with") == 0) {
		r = tn <= vn && memcmp(v + vn - tn, t, tn * sizeof(*v)) == 0;
	} else {
		for (size_t i = 0; i + tn <= vn && !r; i++)
			r = memcmp(v + i, t, tn * sizeof(*v)) == 0;
	}
	free(v);
	free(t);
	return r;
}

/* ---- responses ------------------------------------------------------------------ */

void grove__dav_report_status(grove__dav_report *r, const char *href, int status)
{
	grove__dav_xw_open(&r->w, DAV_NS_DAV, "response");
	grove__dav_xw_leaf(&r->w, DAV_NS_DAV, "href", href);
	grove__dav_status_line(&r->w, status);
	grove__dav_xw_close(&r->w);
}

int grove__dav_report_member_href(grove__dav_report *r, const char *name, grove__sbuf *out)
{
	const char *h = r->target.href;
	size_t n = strlen(h);
	if (r->target.type == DAV_R_OBJECT) {
		/* the target itself */
		return grove__sbuf_puts(out, h) < 0 ? 500 : 0;
	}
	if (grove__sbuf_puts(out, h) < 0 || (n && h[n - 1] != '/' && grove__sbuf_putc(out, '/') < 0) ||
	    grove__dav_href_segment(out, name) < 0)
		return 500;
	return 0;
}

int grove__dav_report_read(grove__dav_report *r, const grove_oid *blob, grove_buf *out)
{
	grove_otype t;
	if (grove_object_read(r->c->srv->st.g, blob, &t, out) < 0)
		return 500;
	if (t != GROVE_OBJ_BLOB) {
		grove_buf_dispose(out);
		return 500;
	}
	return 0;
}

/* 1 when every requested property is getetag or the family's data property
 * without a selection (the stored bytes as they are): such a response is
 * written straight into the multistatus, with nothing to report missing. */
static int simple_props(const grove__dav_report *r)
{
	for (const grove__dav_xnode *e = r->prop ? grove__dav_xml_first_element(r->prop) : NULL; e;
	     e = grove__dav_xml_next_element(e)) {
		if (grove__dav_xml_is(e, DAV_NS_DAV, "getetag"))
			continue;
		int data = (r->target.family == DAV_CAL && grove__dav_xml_is(e, DAV_NS_CALDAV, "calendar-data")) ||
			   (r->target.family == DAV_CARD && grove__dav_xml_is(e, DAV_NS_CARDDAV, "address-data"));
		if (!data || grove__dav_xml_first_element(e))
			return 0;
	}
	return 1;
}

/* "\"<hex>\"" without a printf. */
static void etag_of(char out[GROVE_OID_HEXSZ + 3], const grove_oid *blob)
{
	out[0] = '"';
	grove_oid_tohex(out + 1, blob);
	out[GROVE_OID_HEXSZ + 1] = '"';
	out[GROVE_OID_HEXSZ + 2] = '\0';
}

/* ---- object data, escaped, by blob id ----------------------------------------------- */

/*
 * A multiget or sync returns the stored bytes of its objects as XML text.
 * Reading one means an object-store lookup and an inflate (the store's own
 * object cache keeps only objects up to 1 KiB: an event with a VTIMEZONE
 * is larger), and escaping it walks every byte again.  The escaped text is
 * kept here, keyed by blob id (immutable: never stale), direct-mapped with
 * a byte budget; a hit is one copy into the response under the lock.
 */
#define DATA_SETS 4096
#define DATA_WAYS 4 /* 4-way: a hot object is not thrown out by one colliding id */
#define DATA_BUDGET ((size_t)8 << 20)
#define DATA_MAX 16384 /* larger objects are not kept */

typedef struct {
	grove_oid id;
	char *xml; /* NULL: empty */
	size_t len;
} data_slot;

static pthread_mutex_t data_lock = PTHREAD_MUTEX_INITIALIZER;
static data_slot *data_slots; /* DATA_SETS * DATA_WAYS */
static unsigned char data_next[DATA_SETS]; /* the way to replace next */
static size_t data_bytes;

static data_slot *data_set_of(const grove_oid *id)
{
	uint32_t h;
	memcpy(&h, id->id + 4, sizeof(h));
	return data_slots + (size_t)(h % DATA_SETS) * DATA_WAYS;
}

/* Appends the kept text of blob to w: 1, or 0 when not kept. */
static int data_cached(grove__dav_xw *w, const grove_oid *blob)
{
	int hit = 0;
	pthread_mutex_lock(&data_lock);
	data_slot *set = data_slots ? data_set_of(blob) : NULL;
	for (int k = 0; set && k < DATA_WAYS; k++) {
		if (set[k].xml && grove_oid_cmp(&set[k].id, blob) == 0) {
			grove__dav_xw_raw(w, set[k].xml, set[k].len);
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&data_lock);
	return hit;
}

static void data_keep(const grove_oid *blob, const char *xml, size_t len)
{
	if (len > DATA_MAX)
		return;
	char *keep = malloc(len ? len : 1);
	if (!keep)
		return;
	memcpy(keep, xml, len);
	pthread_mutex_lock(&data_lock);
	if (!data_slots)
		data_slots = calloc((size_t)DATA_SETS * DATA_WAYS, sizeof(*data_slots));
	data_slot *sl = NULL;
	if (data_slots) {
		data_slot *set = data_set_of(blob);
		size_t si = (size_t)(set - data_slots) / DATA_WAYS;
		int way = data_next[si];
		for (int k = 0; k < DATA_WAYS; k++)
			if (!set[k].xml || grove_oid_cmp(&set[k].id, blob) == 0) {
				way = k;
				break;
			}
		sl = &set[way];
		if (way == data_next[si])
			data_next[si] = (unsigned char)((way + 1) % DATA_WAYS);
	}
	if (sl && data_bytes - (sl->xml ? sl->len : 0) + len <= DATA_BUDGET) {
		if (sl->xml)
			data_bytes -= sl->len;
		free(sl->xml);
		sl->id = *blob;
		sl->xml = keep;
		sl->len = len;
		data_bytes += len;
		keep = NULL;
	}
	pthread_mutex_unlock(&data_lock);
	free(keep);
}

/* The response of grove__dav_report_object for simple_props requests: the
 * same bytes, without the per-object property writers and their copies. */
static int report_object_simple(grove__dav_report *r, const char *href, const grove_oid *blob,
				const char *data, size_t len)
{
	grove__dav_xw *w = &r->w;
	grove_buf owned = { 0 };
	grove__dav_xw_open(w, DAV_NS_DAV, "response");
	grove__dav_xw_leaf(w, DAV_NS_DAV, "href", href);
	grove__dav_xw_open(w, DAV_NS_DAV, "propstat");
	grove__dav_xw_open(w, DAV_NS_DAV, "prop");
	const grove__dav_xnode *e = r->prop ? grove__dav_xml_first_element(r->prop) : NULL;
	int etag_only = !r->prop, status = 0;
	for (; e || etag_only; e = etag_only ? NULL : grove__dav_xml_next_element(e)) {
		if (etag_only || grove__dav_xml_is(e, DAV_NS_DAV, "getetag")) {
			char etag[GROVE_OID_HEXSZ + 3];
			etag_of(etag, blob);
			grove__dav_xw_leaf(w, DAV_NS_DAV, "getetag", etag);
			if (etag_only)
				break;
			continue;
		}
		grove__dav_xw_open(w, e->ns, e->name);
		if (data) {
			grove__dav_xw_text(w, data, len);
		} else if (!data_cached(w, blob)) {
			status = grove__dav_report_read(r, blob, &owned);
			if (status)
				break;
			data = owned.data;
			len = owned.size;
			size_t mark = w->buf.len;
			grove__dav_xw_text(w, data ? data : "", len);
			if (w->rc == 0)
				data_keep(blob, w->buf.data + mark, w->buf.len - mark);
		}
		grove__dav_xw_close(w);
	}
	grove_buf_dispose(&owned);
	if (status)
		return status; /* the caller answers with the status, not this body */
	grove__dav_xw_close(w);
	grove__dav_xw_leaf(w, DAV_NS_DAV, "status", "HTTP/1.1 200 OK"); /* grove__dav_status_line(w, 200) */
	grove__dav_xw_close(w);
	grove__dav_xw_close(w);
	return w->rc < 0 ? 500 : 0;
}

int grove__dav_report_object(grove__dav_report *r, const char *href, const char *key,
			     const char *name, const grove_oid *blob, const char *data,
			     size_t len)
{
	if (!r->simple)
		r->simple = simple_props(r) ? 1 : 2;
	if (r->simple == 1)
		return report_object_simple(r, href, blob, data, len);
	grove__dav_xw found, missing;
	grove__dav_xw_init(&found);
	grove__dav_xw_init(&missing);
	grove_buf owned = { 0 };
	int status = 0;
	/* a resource record for the generic live properties */
	grove__dav_res res;
	memset(&res, 0, sizeof(res));
	res.type = DAV_R_OBJECT;
	res.family = r->target.family;
	res.href = (char *)href;
	res.key = (char *)key;
	res.name = (char *)name;
	res.id = *blob;
	res.exists = res.coll_exists = 1;

	const grove__dav_xnode *e = r->prop ? grove__dav_xml_first_element(r->prop) : NULL;
	int etag_only = !r->prop;
	for (; (e || etag_only) && status == 0; e = etag_only ? NULL : grove__dav_xml_next_element(e)) {
		if (etag_only || grove__dav_xml_is(e, DAV_NS_DAV, "getetag")) {
			char etag[GROVE_OID_HEXSZ + 3];
			grove__dav_etag(etag, blob);
			grove__dav_xw_leaf(&found, DAV_NS_DAV, "getetag", etag);
			if (etag_only)
				break;
			continue;
		}
		int caldata = grove__dav_xml_is(e, DAV_NS_CALDAV, "calendar-data") &&
			      r->target.family == DAV_CAL;
		int carddata = grove__dav_xml_is(e, DAV_NS_CARDDAV, "address-data") &&
			       r->target.family == DAV_CARD;
		if (caldata || carddata) {
			if (!data) {
				status = grove__dav_report_read(r, blob, &owned);
				if (status)
					break;
				data = owned.data;
				len = owned.size;
			}
			grove__sbuf out = GROVE_SBUF_INIT;
			int rc = caldata ? grove__caldav_data_render(e, data, len, r->floating, &out)
					 : grove__carddav_data_render(e, data, len, &out);
			if (rc < 0) {
				/* stored data that no longer parses: report it missing */
				grove__dav_xw_empty(&missing, e->ns, e->name);
			} else {
				grove__dav_xw_open(&found, e->ns, e->name);
				grove__dav_xw_text(&found, out.data ? out.data : "", out.len);
				grove__dav_xw_close(&found);
			}
			grove__sbuf_dispose(&out);
			continue;
		}
		grove__dav_xw tmp;
		grove__dav_xw_init(&tmp);
		int rc = grove__dav_prop_get(r->c, r->v, &res, e->ns, e->name, &tmp);
		if (rc < 0 || tmp.rc < 0)
			status = 500;
		else if (rc > 0)
			grove__dav_xw_raw(&found, tmp.buf.data, tmp.buf.len);
		else
			grove__dav_xw_empty(&missing, e->ns, e->name);
		grove__dav_xw_dispose(&tmp);
	}
	if (status == 0 && (found.rc < 0 || missing.rc < 0))
		status = 500;
	if (status == 0) {
		grove__dav_propstat_response(&r->w, href, &found, &missing);
	}
	grove_buf_dispose(&owned);
	grove__dav_xw_dispose(&found);
	grove__dav_xw_dispose(&missing);
	return status;
}

int grove__dav_report_members(grove__dav_report *r, grove__dav_member_fn fn, void *arg)
{
	if (r->target.type == DAV_R_OBJECT)
		return fn(r, r->target.name, r->target.key, &r->target.id, arg);
	if (r->target.type != DAV_R_COLLECTION || r->depth == 0)
		return 0;
	grove_entry_list list = { 0 };
	int rc = grove_view_list(r->v, r->target.key, &list);
	if (rc == GROVE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return 500;
	grove__sbuf key = GROVE_SBUF_INIT;
	int status = 0;
	size_t klen = strlen(r->target.key);
	for (size_t i = 0; i < list.count && status == 0; i++) {
		const grove_entry *en = &list.entries[i];
		/* A member's summary a few steps ahead: its index lines are then
		 * in the cache when a query asks (10,000 scattered probes). */
		if (i + 8 < list.count)
			grove__dav_summary_prefetch(&list.entries[i + 8].id);
		if (en->kind == GROVE_KIND_DIR || en->kind == GROVE_KIND_SUBMODULE ||
		    en->name[0] == '.')
			continue;
		key.len = 0;
		if (grove__sbuf_put(&key, r->target.key, klen) < 0 ||
			grove__sbuf_putc(&key, '/') < 0 ||
			grove__sbuf_put(&key, en->name, strlen(en->name) + 1) < 0) {
			status = 500;
			break;
		}
		status = fn(r, en->name, key.data, &en->id, arg);
	}
	grove__sbuf_dispose(&key);
	grove_entry_list_dispose(&list);
	return status;
}

/* ---- multiget --------------------------------------------------------------------- */

/* The path part of an href ("http://host/dav/x" or "/dav/x"), decoded. */
static char *href_path(const char *href, const char **raw_out)
{
	const char *p = href;
	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "//") + 2;
		p = strchr(p, '/');
		if (!p)
			return NULL;
	}
	*raw_out = p;
	size_t n = strcspn(p, "?#");
	char *out = NULL;
	if (grove__http_percent_decode(&out, p, n) < 0)
		return NULL;
	return out;
}

static char *trimmed(const grove__dav_xnode *e)
{
	char *t = grove__dav_xml_text(e);
	if (!t)
		return NULL;
	char *s = t;
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	memmove(t, s, n);
	t[n] = '\0';
	return t;
}

int grove__dav_report_check_specs(grove__dav_report *r)
{
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(r->prop); e;
	     e = grove__dav_xml_next_element(e)) {
		const char *cond = NULL;
		int st = 0;
		if (grove__dav_xml_is(e, DAV_NS_CALDAV, "calendar-data") && r->target.family == DAV_CAL) {
			st = grove__caldav_data_check(e, &cond);
			r->cond_ns = DAV_NS_CALDAV;
		} else if (grove__dav_xml_is(e, DAV_NS_CARDDAV, "address-data") &&
			   r->target.family == DAV_CARD) {
			st = grove__carddav_data_check(e, &cond);
			r->cond_ns = DAV_NS_CARDDAV;
		}
		if (st) {
			r->cond = cond;
			return st;
		}
	}
	return 0;
}

/*
 * The member name when href is the target collection's own href followed
 * by one plain segment (RFC 3986 unreserved characters only, so there is
 * nothing to decode and nothing path parsing would refuse), as clients
 * write them; else NULL and the href goes through the general path.
 */
static const char *plain_member(const grove__dav_report *r, const char *href)
{
	const char *base = r->target.href;
	size_t blen = strlen(base);
	if (!blen || base[blen - 1] != '/' || strncmp(href, base, blen) != 0)
		return NULL;
	const char *name = href + blen;
	size_t n = 0;
	for (; name[n]; n++) {
		unsigned char ch = (unsigned char)name[n];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_' && ch != '~')
			return NULL;
	}
	if (n == 0 || n > 255 || name[0] == '.')
		return NULL;
	return name;
}

/* Members of the target collection looked up in its tree directly: the
 * collection exists (it is the target), so an href naming a member needs
 * no path parsing, .props read or key walk from the root. */
typedef struct {
	int state;          /* 0: not loaded, 1: loaded, -1: unusable */
	grove__tree *tree;
} member_index;

/* 1 found (*id set), 0 absent, -1 not answerable here. */
static int member_lookup(grove__dav_report *r, member_index *mi, const char *name, grove_oid *id)
{
	if (mi->state == 0) {
		mi->state = -1;
		grove_oid tid;
		grove_kind kind;
		if (r->target.type == DAV_R_COLLECTION &&
		    (r->target.family == DAV_CAL || r->target.family == DAV_CARD) && r->c->user &&
		    r->c->path.user && strcmp(r->c->path.user, r->c->user) == 0 &&
		    grove_view_id(r->v, r->target.key, &tid, &kind) == 0 && kind == GROVE_KIND_DIR &&
		    grove__tree_get(r->c->srv->st.g, &tid, &mi->tree) == 0)
			mi->state = 1;
		else
			grove_error_clear();
	}
	if (mi->state < 0)
		return -1;
	long i = grove__tree_find(mi->tree, name, strlen(name));
	if (i < 0 || mi->tree->entries[i].mode == GROVE_MODE_TREE)
		return 0;
	*id = mi->tree->entries[i].id;
	return 1;
}

/* FNV-1a, the hash of the store's tree name index (store/object_tree.c):
 * used only to prefetch, so a mismatch costs speed, never correctness. */
static uint32_t name_hash_hint(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

typedef struct {
	char *href;        /* as sent, trimmed */
	const char *name;  /* plain member name (into href), or NULL */
	size_t slot;       /* its name-index slot */
} mg_item;

/*
 * The hrefs of one multiget are known up front, so their lookups in a
 * large collection tree (100,000 entries: index, entry and name each a
 * cache miss) are started together: index slots, then entries, then
 * names are prefetched in three passes, and the misses overlap instead of
 * following one another.
 */
static void prefetch_members(grove__tree *t, mg_item *it, size_t n)
{
	uint32_t *idx = __atomic_load_n(&t->index, __ATOMIC_ACQUIRE);
	if (!idx)
		return;
	size_t mask = t->index_mask;
	for (size_t i = 0; i < n; i++)
		if (it[i].name) {
			it[i].slot = name_hash_hint(it[i].name, strlen(it[i].name)) & mask;
			__builtin_prefetch(&idx[it[i].slot]);
		}
	for (size_t i = 0; i < n; i++) {
		uint32_t v = it[i].name ? idx[it[i].slot] : 0;
		if (v && v <= t->count)
			__builtin_prefetch(&t->entries[v - 1]);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t v = it[i].name ? idx[it[i].slot] : 0;
		if (v && v <= t->count)
			__builtin_prefetch(t->entries[v - 1].name);
	}
}

/* One href through URL parsing and the resource loader (any object of the
 * user in the same family). */
static int multiget_general(grove__dav_report *r, const char *href)
{
	int status = 0;
	const char *raw = NULL;
	char *path = href_path(href, &raw);
	grove__dav_path p;
	int st = path ? grove__dav_path_parse(&p, r->c->srv->prefix, path, raw) : 404;
	free(path);
	if (st == 0) {
		grove__dav_res res;
		if (p.type != DAV_R_OBJECT || p.family != r->target.family ||
		    strcmp(p.user, r->c->user) != 0) {
			st = 404;
		} else if ((st = grove__dav_res_load(r->c, r->v, &p, &res)) == 0) {
			if (!res.exists)
				st = 404;
			else
				status = grove__dav_report_object(r, href, res.key, res.name, &res.id,
								  NULL, 0);
			grove__dav_res_dispose(&res);
		}
		grove__dav_path_dispose(&p);
	}
	if (st == 500)
		status = 500;
	else if (st)
		grove__dav_report_status(r, href, 404);
	return status;
}

int grove__dav_report_multiget(grove__dav_report *r)
{
	int status = grove__dav_report_check_specs(r);
	if (status)
		return status;
	size_t n = 0, plain = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(r->doc); e;
	     e = grove__dav_xml_next_element(e))
		n += grove__dav_xml_is(e, DAV_NS_DAV, "href");
	mg_item *it = n ? grove__calloc(n, sizeof(*it)) : NULL;
	if (n && !it)
		return 500;
	size_t k = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(r->doc); e && status == 0;
	     e = grove__dav_xml_next_element(e)) {
		if (!grove__dav_xml_is(e, DAV_NS_DAV, "href"))
			continue;
		if (!(it[k].href = trimmed(e))) {
			status = 500;
			break;
		}
		it[k].name = plain_member(r, it[k].href);
		plain += it[k].name != NULL;
		k++;
	}
	member_index mi = { 0, NULL };
	grove_oid id;
	if (status == 0 && plain && member_lookup(r, &mi, ".", &id) >= 0)
		prefetch_members(mi.tree, it, n);
	/* room for the answer at once, not by doubling (objects are ~1 KiB) */
	if (status == 0 && r->w.rc == 0 && n)
		r->w.rc = grove__sbuf_grow(&r->w.buf, (n < 4096 ? n : 4096) * 1536);
	grove__sbuf key = GROVE_SBUF_INIT;
	for (size_t i = 0; i < n && status == 0; i++) {
		const char *href = it[i].href, *name = it[i].name;
		int found = name ? member_lookup(r, &mi, name, &id) : -1;
		if (found == 0) {
			grove__dav_report_status(r, href, 404);
		} else if (found == 1) {
			grove__sbuf_reset(&key);
			if (grove__sbuf_puts(&key, r->target.key) < 0 || grove__sbuf_putc(&key, '/') < 0 ||
			    grove__sbuf_puts(&key, name) < 0)
				status = 500;
			else
				status = grove__dav_report_object(r, href, key.data, name, &id, NULL, 0);
		} else {
			status = multiget_general(r, href);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(it[i].href);
	free(it);
	grove__sbuf_dispose(&key);
	grove__tree_release(mi.tree);
	return status;
}

/* ---- sync-collection (RFC 6578) ------------------------------------------------------ */

static int sync_member(grove__dav_report *r, const char *name, const char *key,
		       const grove_oid *blob, void *arg)
{
	(void)arg;
	grove__sbuf href = GROVE_SBUF_INIT;
	int status = grove__dav_report_member_href(r, name, &href);
	if (status == 0)
		status = grove__dav_report_object(r, href.data, key, name, blob, NULL, 0);
	grove__sbuf_dispose(&href);
	return status;
}

/* 1 when the nresults limit of the request (if any) is below n; -1 when
 * the limit is malformed. */
static int over_limit(const grove__dav_xnode *doc, const char *ns, size_t n)
{
	const grove__dav_xnode *lim = grove__dav_xml_child(doc, DAV_NS_DAV, "limit");
	if (!lim)
		lim = grove__dav_xml_child(doc, ns, "limit");
	if (!lim)
		return 0;
	const grove__dav_xnode *nr = grove__dav_xml_child(lim, DAV_NS_DAV, "nresults");
	if (!nr)
		nr = grove__dav_xml_child(lim, ns, "nresults");
	char *t = nr ? trimmed(nr) : NULL;
	if (!t)
		return -1;
	char *end;
	unsigned long v = strtoul(t, &end, 10);
	int bad = !*t || *end || t[0] == '-';
	free(t);
	if (bad)
		return -1;
	return n > v;
}

int grove__dav_report_sync(grove__dav_report *r)
{
	if (r->target.type != DAV_R_COLLECTION) {
		/* RFC 6578 3.2: only collections report their changes */
		r->cond_ns = DAV_NS_DAV;
		r->cond = "supported-report";
		return 403;
	}
	const grove__dav_xnode *tok = grove__dav_xml_child(r->doc, DAV_NS_DAV, "sync-token");
	const grove__dav_xnode *lvl = grove__dav_xml_child(r->doc, DAV_NS_DAV, "sync-level");
	char *token = tok ? trimmed(tok) : grove__strdup("");
	char *level = lvl ? trimmed(lvl) : NULL;
	int status = 0;
	if (!token || (lvl && !level)) {
		status = 500;
	} else if (level && strcmp(level, "1") != 0 && strcmp(level, "infinite") != 0) {
		status = 400;
	}
	grove_oid since;
	int have_since = 0;
	if (status == 0 && token[0]) {
		size_t pl = strlen(DAV_SYNC_PREFIX);
		grove_commit *cm = NULL;
		if (strncmp(token, DAV_SYNC_PREFIX, pl) != 0 || strlen(token) != pl + GROVE_OID_HEXSZ ||
		    grove_oid_fromhex(&since, token + pl) < 0 ||
		    grove_commit_read(r->c->srv->st.g, &since, &cm) < 0) {
			r->cond_ns = DAV_NS_DAV;
			r->cond = "valid-sync-token";
			status = 403;
		} else {
			have_since = 1;
		}
		grove_commit_free(cm);
	}
	free(level);
	free(token);
	if (status)
		return status;
	const grove_oid *head = grove_view_commit(r->v);
	if (!have_since) {
		/* initial sync: every member */
		grove_entry_list list = { 0 };
		int rc = grove_view_list(r->v, r->target.key, &list);
		if (rc < 0 && rc != GROVE_ENOTFOUND)
			return 500;
		size_t n = 0;
		for (size_t i = 0; i < list.count; i++)
			if (list.entries[i].kind != GROVE_KIND_DIR && list.entries[i].name[0] != '.')
				n++;
		grove_entry_list_dispose(&list);
		int over = over_limit(r->doc, DAV_NS_DAV, n);
		if (over) {
			r->cond_ns = DAV_NS_DAV;
			r->cond = "number-of-matches-within-limits";
			return over < 0 ? 400 : 507;
		}
		int saved = r->depth;
		r->depth = 1;
		status = grove__dav_report_members(r, sync_member, NULL);
		r->depth = saved;
	} else {
		/* the changes between the token's commit and the head, below the
		 * collection only: from the change journal (cost follows the commits
		 * and changes since the token), else by diffing the two trees */
		grove *g = r->c->srv->st.g;
		grove__dav_sync_changes ch = { 0 };
		int rc = grove__dav_journal_changes(g, &since, head, r->target.key, &ch);
		if (rc == 1)
			rc = grove__dav_sync_full(g, &since, head, r->target.key, &ch);
		if (rc < 0)
			return 500;
		int over = over_limit(r->doc, DAV_NS_DAV, ch.count);
		if (over) {
			grove__dav_sync_changes_dispose(&ch);
			r->cond_ns = DAV_NS_DAV;
			r->cond = "number-of-matches-within-limits";
			return over < 0 ? 400 : 507;
		}
		grove__sbuf href = GROVE_SBUF_INIT, key = GROVE_SBUF_INIT;
		for (size_t i = 0; i < ch.count && status == 0; i++) {
			const grove__dav_sync_change *d = &ch.items[i];
			grove__sbuf_reset(&href);
			grove__sbuf_reset(&key);
			status = grove__dav_report_member_href(r, d->name, &href);
			if (status == 0 && grove__sbuf_printf(&key, "%s/%s", r->target.key, d->name) < 0)
				status = 500;
			if (status)
				break;
			if (d->kind == GROVE_DIFF_REMOVED)
				grove__dav_report_status(r, href.data, 404);
			else
				status = grove__dav_report_object(r, href.data, key.data, d->name,
								  &d->new_id, NULL, 0);
		}
		grove__sbuf_dispose(&href);
		grove__sbuf_dispose(&key);
		grove__dav_sync_changes_dispose(&ch);
	}
	if (status)
		return status;
	char hex[GROVE_OID_HEXSZ + 1];
	char newtok[sizeof(DAV_SYNC_PREFIX) + GROVE_OID_HEXSZ];
	snprintf(newtok, sizeof(newtok), "%s%s", DAV_SYNC_PREFIX, grove_oid_tohex(hex, head));
	grove__dav_xw_leaf(&r->w, DAV_NS_DAV, "sync-token", newtok);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------------- */

static const struct {
	const char *ns, *name;
	int family;  /* 0: any */
	grove__dav_report_fn fn;
} reports[] = {
	{ DAV_NS_DAV, "sync-collection", 0, grove__dav_report_sync },
	{ DAV_NS_CALDAV, "calendar-multiget", DAV_CAL, grove__dav_report_multiget },
	{ DAV_NS_CALDAV, "calendar-query", DAV_CAL, grove__caldav_report_query },
	{ DAV_NS_CALDAV, "free-busy-query", DAV_CAL, grove__caldav_report_freebusy },
	{ DAV_NS_CARDDAV, "addressbook-multiget", DAV_CARD, grove__dav_report_multiget },
	{ DAV_NS_CARDDAV, "addressbook-query", DAV_CARD, grove__carddav_report_query },
};

/* The collection's calendar-timezone as the zone of floating times. */
static void load_floating(grove__dav_report *r)
{
	if (r->target.family != DAV_CAL)
		return;
	const grove__dav_xnode *tz = grove__dav_xml_child(r->doc, DAV_NS_CALDAV, "timezone");
	if (tz) {
		char *t = grove__dav_xml_text(tz);
		if (t)
			r->floating = grove__caldav_tz_from_text(t);
		free(t);
		if (r->floating)
			return;
	}
	char *clark = grove__dav_clark(DAV_NS_CALDAV, "calendar-timezone");
	const grove__dav_prop *p = clark ? grove__dav_props_get(&r->target.props, clark) : NULL;
	free(clark);
	if (p && !p->is_xml)
		r->floating = grove__caldav_tz_from_text(p->value);
}

void grove__dav_do_report(grove__dav_ctx *c)
{
	grove__dav_xnode *doc;
	if (grove__dav_body_xml(c, &doc) < 0)
		return;
	if (!doc) {
		grove__dav_send_status(c, 400);
		return;
	}
	grove__dav_report_fn fn = NULL;
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		if (grove__dav_xml_is(doc, reports[i].ns, reports[i].name) &&
		    (!reports[i].family || (int)c->path.family == reports[i].family))
			fn = reports[i].fn;
	}
	if (!fn || c->path.type < DAV_R_COLLECTION) {
		grove__dav_xml_free(doc);
		grove__dav_send_cond(c, 403, DAV_NS_DAV, "supported-report");
		return;
	}
	grove__dav_report r;
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.doc = doc;
	r.prop = grove__dav_xml_child(doc, DAV_NS_DAV, "prop");
	const char *depth = grove__http_req_header(c->req, "Depth");
	r.depth = (!depth || strcmp(depth, "0") == 0) ? 0 : 1;
	if (depth && strcmp(depth, "0") && strcmp(depth, "1") && strcasecmp(depth, "infinity")) {
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, 400);
		return;
	}
	int status = grove__dav_view(&c->srv->st, &r.v) < 0 ? 500 : 0;
	if (status == 0) {
		status = grove__dav_res_load(c, r.v, &c->path, &r.target);
		if (status == 0 && !r.target.exists) {
			grove__dav_res_dispose(&r.target);
			status = 404;
		}
		if (status) {
			grove_view_free(r.v);
			r.v = NULL;
		}
	}
	if (status) {
		grove__dav_xml_free(doc);
		grove__dav_send_status(c, status);
		return;
	}
	load_floating(&r);
	grove__dav_xw_init(&r.w);
	grove__dav_xw_root(&r.w, DAV_NS_DAV, "multistatus");
	status = fn(&r);
	if (status == 0) {
		grove__dav_xw_close(&r.w);
		grove__dav_send_xml(c, 207, &r.w);
	} else if (status == -207) {
		/* the report sent its own answer */
	} else if (r.cond) {
		grove__dav_xw e;
		grove__dav_xw_init(&e);
		grove__dav_xw_root(&e, DAV_NS_DAV, "error");
		if (r.cond_body) {
			grove__dav_xw_open(&e, r.cond_ns, r.cond);
			grove__dav_xw_raw(&e, r.cond_body, strlen(r.cond_body));
			grove__dav_xw_close(&e);
		} else {
			grove__dav_xw_empty(&e, r.cond_ns, r.cond);
		}
		grove__dav_xw_close(&e);
		grove__dav_send_xml(c, status, &e);
		grove__dav_xw_dispose(&e);
	} else {
		grove__dav_send_status(c, status);
	}
	free(r.cond_body);
	grove__dav_xw_dispose(&r.w);
	grove__caldav_tz_free(r.floating);
	grove__dav_res_dispose(&r.target);
	grove_view_free(r.v);
	grove__dav_xml_free(doc);
}
