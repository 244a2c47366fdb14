/* CARDDAV:addressbook-query (RFC 6352 8.6, filters of 10.5) and the
 * address-data property selection (10.4), on a small vCard line reader:
 * lines are unfolded, then split into group, name, parameters and value. */
#include "dav_report.h"
#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- vCard bytes by blob id ------------------------------------------------------------ */

/* An addressbook-query evaluates its filter on every member, and reading
 * a member means an object-store lookup and an inflate: at 10,000 cards
 * that was nearly all of a query.  vCards are small, so their bytes are
 * kept here, keyed by blob id (immutable: never stale), direct-mapped
 * with a byte budget; a query copies them out under the lock. */
#define CARD_SLOTS 16384
#define CARD_BUDGET (12u << 20)
#define CARD_MAX 16384 /* larger cards are not kept */

typedef struct {
	grove_oid id;
	char *data; /* NULL: empty */
	size_t len;
} card_slot;

static pthread_mutex_t cards_lock = PTHREAD_MUTEX_INITIALIZER;
static card_slot *cards;
static size_t cards_bytes;

static size_t card_slot_of(const grove_oid *id)
{
	return (((size_t)id->id[0] << 16) | ((size_t)id->id[1] << 8) | id->id[2]) % CARD_SLOTS;
}

/* The bytes of blob into *out: from the cache, else read and kept. */
static int card_read(grove__dav_report *r, const grove_oid *blob, grove_buf *out)
{
	size_t at = card_slot_of(blob);
	pthread_mutex_lock(&cards_lock);
	if (!cards)
		cards = grove__calloc(CARD_SLOTS, sizeof(*cards));
	if (cards && cards[at].data && grove_oid_cmp(&cards[at].id, blob) == 0) {
		size_t len = cards[at].len;
		char *copy = malloc(len + 1);
		if (copy) {
			memcpy(copy, cards[at].data, len);
			copy[len] = '\0';
			out->data = copy;
			out->size = len;
		}
		pthread_mutex_unlock(&cards_lock);
		return copy ? 0 : 500;
	}
	pthread_mutex_unlock(&cards_lock);
	int status = grove__dav_report_read(r, blob, out);
	if (status || out->size > CARD_MAX)
		return status;
	char *keep = malloc(out->size ? out->size : 1);
	if (!keep)
		return 0;
	memcpy(keep, out->data, out->size);
	pthread_mutex_lock(&cards_lock);
	card_slot *sl = cards ? &cards[at] : NULL;
	if (sl && cards_bytes - (sl->data ? sl->len : 0) + out->size <= CARD_BUDGET) {
		if (sl->data)
			cards_bytes -= sl->len;
		free(sl->data);
		sl->id = *blob;
		sl->data = keep;
		sl->len = out->size;
		cards_bytes += out->size;
		keep = NULL;
	}
	pthread_mutex_unlock(&cards_lock);
	free(keep);
	return 0;
}

typedef struct {
	char *text;          /* the unfolded line (owned) */
	const char *name;    /* points into a copy: name without group */
	size_t name_len;
	const char *params;  /* after the first ';' of the name part, or NULL */
	size_t params_len;
	const char *value;   /* after the ':' */
} vline;

typedef struct {
	vline *v;
	size_t n;
} vcard;

static void vcard_dispose(vcard *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].text);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* Splits one unfolded line; 0 or -1 when it has no ':'. */
static int split_line(vline *l)
{
	const char *s = l->text;
	int quoted = 0;
	const char *colon = NULL, *semi = NULL;
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ';' && !semi)
			semi = p;
		else if (!quoted && *p == ':') {
			colon = p;
			break;
		}
	}
	if (!colon)
		return -1;
	const char *name_end = semi ? semi : colon;
	const char *name = s;
	for (const char *p = s; p < name_end; p++)
		if (*p == '.')
			name = p + 1;
	l->name = name;
	l->name_len = (size_t)(name_end - name);
	l->params = semi ? semi + 1 : NULL;
	l->params_len = semi ? (size_t)(colon - semi - 1) : 0;
	l->value = colon + 1;
	return 0;
}

/* Appends the logical line in cur (if any) to c. */
static int flush_line(vcard *c, size_t *cap, grove__sbuf *cur)
{
	if (!cur->len)
		return 0;
	if (c->n == *cap) {
		size_t n = *cap ? *cap * 2 : 32;
		vline *v = grove__realloc(c->v, n * sizeof(*v));
		if (!v)
			return GROVE_ENOMEM;
		c->v = v;
		*cap = n;
	}
	vline *l = &c->v[c->n];
	memset(l, 0, sizeof(*l));
	l->text = grove__sbuf_detach(cur, NULL);
	if (!l->text)
		return GROVE_ENOMEM;
	if (split_line(l) < 0)
		free(l->text); /* not a property line: skipped */
	else
		c->n++;
	return 0;
}

static int vcard_parse(vcard *out, const char *data, size_t len)
{
	vcard c = { 0 };
	size_t cap = 0, i = 0;
	grove__sbuf cur = GROVE_SBUF_INIT;
	int rc = 0;
	while (i < len && rc == 0) {
		const char *line = data + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + 1;
		if (n && line[n - 1] == '\r')
			n--;
		if (n && (line[0] == ' ' || line[0] == '\t')) {
			/* a folded continuation of the line in cur */
			if (cur.len)
				rc = grove__sbuf_put(&cur, line + 1, n - 1);
			continue;
		}
		rc = flush_line(&c, &cap, &cur);
		if (rc == 0 && n)
			rc = grove__sbuf_put(&cur, line, n);
	}
	if (rc == 0)
		rc = flush_line(&c, &cap, &cur);
	grove__sbuf_dispose(&cur);
	if (rc < 0) {
		vcard_dispose(&c);
		return rc;
	}
	*out = c;
	return 0;
}

static int name_is(const vline *l, const char *name)
{
	return strlen(name) == l->name_len && strncasecmp(l->name, name, l->name_len) == 0;
}

/* The value of parameter name of l (a new string), NULL when absent;
 * *err on allocation failure.  "TYPE=work,voice" gives "work,voice"; a
 * vCard 2.1-style bare parameter "WORK" counts as TYPE=WORK. */
static char *param_of(const vline *l, const char *name, int *err)
{
	*err = 0;
	const char *p = l->params, *end = l->params ? l->params + l->params_len : NULL;
	size_t nl = strlen(name);
	while (p && p < end) {
		const char *q = p;
		int quoted = 0;
		while (q < end && (quoted || *q != ';')) {
			if (*q == '"')
				quoted = !quoted;
			q++;
		}
		const char *eq = memchr(p, '=', (size_t)(q - p));
		const char *pn = p, *pv;
		size_t pnl, pvl;
		if (eq) {
			pnl = (size_t)(eq - p);
			pv = eq + 1;
			pvl = (size_t)(q - pv);
		} else {
			pn = "TYPE";
			pnl = 4;
			pv = p;
			pvl = (size_t)(q - p);
		}
		if (pnl == nl && strncasecmp(pn, name, nl) == 0) {
			if (pvl >= 2 && pv[0] == '"' && pv[pvl - 1] == '"') {
				pv++;
				pvl -= 2;
			}
			char *v = grove__strndup(pv, pvl);
			if (!v)
				*err = 1;
			return v;
		}
		p = q + 1;
	}
	return NULL;
}

/* ---- filter ---------------------------------------------------------------------- */

static int is_card(const grove__dav_xnode *e, const char *name)
{
	return grove__dav_xml_is(e, DAV_NS_CARDDAV, name);
}

static int check_test(const grove__dav_xnode *e)
{
	const char *t = grove__dav_xml_attr(e, "test");
	return !t || strcmp(t, "anyof") == 0 || strcmp(t, "allof") == 0;
}

static int check_tm(const grove__dav_xnode *tm, const char **cond)
{
	const char *neg = grove__dav_xml_attr(tm, "negate-condition");
	if (!grove__dav_collation_ok(grove__dav_xml_attr(tm, "collation"))) {
		*cond = "supported-collation";
		return 403;
	}
	if (!grove__dav_match_type_ok(grove__dav_xml_attr(tm, "match-type")) ||
	    (neg && strcmp(neg, "yes") && strcmp(neg, "no"))) {
		*cond = "supported-filter";
		return 403;
	}
	return 0;
}

static int check_filter(const grove__dav_xnode *f, const char **cond)
{
	*cond = "valid-filter";
	if (!f || !check_test(f))
		return 400;
	for (const grove__dav_xnode *pf = grove__dav_xml_first_element(f); pf;
	     pf = grove__dav_xml_next_element(pf)) {
		if (!is_card(pf, "prop-filter") || !grove__dav_xml_attr(pf, "name") || !check_test(pf))
			return 400;
		for (const grove__dav_xnode *e = grove__dav_xml_first_element(pf); e;
		     e = grove__dav_xml_next_element(e)) {
			int st = 0;
			if (is_card(e, "text-match")) {
				st = check_tm(e, cond);
			} else if (is_card(e, "param-filter")) {
				if (!grove__dav_xml_attr(e, "name"))
					return 400;
				const grove__dav_xnode *x = grove__dav_xml_first_element(e);
				if (x && is_card(x, "text-match"))
					st = check_tm(x, cond);
				else if (x && !is_card(x, "is-not-defined"))
					return 400;
			} else if (!is_card(e, "is-not-defined")) {
				return 400;
			}
			if (st)
				return st;
			*cond = "valid-filter";
		}
	}
	*cond = NULL;
	return 0;
}

static int tm_match(const grove__dav_xnode *tm, const char *value)
{
	char *text = grove__dav_xml_text(tm);
	if (!text)
		return -1;
	const char *coll = grove__dav_xml_attr(tm, "collation");
	const char *neg = grove__dav_xml_attr(tm, "negate-condition");
	int m = grove__dav_text_match(value, text, coll ? coll : "i;unicode-casemap",
				      grove__dav_xml_attr(tm, "match-type"));
	free(text);
	if (m < 0)
		return -1;
	return (neg && strcmp(neg, "yes") == 0) ? !m : m;
}

static int param_filter(const grove__dav_xnode *pf, const vline *l)
{
	int err;
	char *v = param_of(l, grove__dav_xml_attr(pf, "name"), &err);
	if (err)
		return -1;
	const grove__dav_xnode *x = grove__dav_xml_first_element(pf);
	int r;
	if (x && is_card(x, "is-not-defined"))
		r = v == NULL;
	else if (!v)
		r = 0;
	else
		r = x ? tm_match(x, v) : 1;
	free(v);
	return r;
}

/* One property line against the tests of a prop-filter. */
static int line_match(const grove__dav_xnode *pf, const vline *l, int allof)
{
	int any_test = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(pf); e;
	     e = grove__dav_xml_next_element(e)) {
		int r;
		if (is_card(e, "text-match"))
			r = tm_match(e, l->value);
		else if (is_card(e, "param-filter"))
			r = param_filter(e, l);
		else
			continue;
		any_test = 1;
		if (r < 0)
			return r;
		if (allof && !r)
			return 0;
		if (!allof && r)
			return 1;
	}
	return any_test ? allof : 1;
}

static int prop_filter(const grove__dav_xnode *pf, const vcard *c)
{
	const char *name = grove__dav_xml_attr(pf, "name");
	const char *t = grove__dav_xml_attr(pf, "test");
	int allof = t && strcmp(t, "allof") == 0;
	int undef = grove__dav_xml_child(pf, DAV_NS_CARDDAV, "is-not-defined") != NULL;
	int found = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!name_is(&c->v[i], name))
			continue;
		found = 1;
		if (undef)
			break;
		int r = line_match(pf, &c->v[i], allof);
		if (r != 0)
			return r;
	}
	return undef ? !found : 0;
}

static int filter_match(const grove__dav_xnode *f, const vcard *c)
{
	const char *t = grove__dav_xml_attr(f, "test");
	int allof = t && strcmp(t, "allof") == 0;
	int any = 0;
	for (const grove__dav_xnode *pf = grove__dav_xml_first_element(f); pf;
	     pf = grove__dav_xml_next_element(pf)) {
		int r = prop_filter(pf, c);
		any = 1;
		if (r < 0)
			return r;
		if (allof && !r)
			return 0;
		if (!allof && r)
			return 1;
	}
	return any ? allof : 1;
}

/* ---- address-data ------------------------------------------------------------------- */

int grove__carddav_data_check(const grove__dav_xnode *spec, const char **cond)
{
	*cond = NULL;
	const char *ct = grove__dav_xml_attr(spec, "content-type");
	const char *ver = grove__dav_xml_attr(spec, "version");
	if ((ct && strcasecmp(ct, "text/vcard") != 0) ||
	    (ver && strcmp(ver, "3.0") != 0 && strcmp(ver, "4.0") != 0)) {
		*cond = "supported-address-data";
		return 403;
	}
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(spec); e;
	     e = grove__dav_xml_next_element(e)) {
		if (is_card(e, "prop") ? !grove__dav_xml_attr(e, "name") : !is_card(e, "allprop"))
			return 400;
	}
	return 0;
}

static int selected(const grove__dav_xnode *spec, const vline *l)
{
	if (name_is(l, "BEGIN") || name_is(l, "END") || name_is(l, "VERSION"))
		return 1;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(spec); e;
	     e = grove__dav_xml_next_element(e)) {
		if (is_card(e, "allprop"))
			return 1;
		const char *n = grove__dav_xml_attr(e, "name");
		if (is_card(e, "prop") && n && name_is(l, n))
			return 1;
	}
	return 0;
}

int grove__carddav_data_render(const grove__dav_xnode *spec, const char *data, size_t len,
			       grove__sbuf *out)
{
	if (!grove__dav_xml_first_element(spec))
		return grove__sbuf_put(out, data, len);
	vcard c;
	int rc = vcard_parse(&c, data, len);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c.n && rc == 0; i++) {
		if (!selected(spec, &c.v[i]))
			continue;
		/* novalue="yes": the property with an empty value */
		const grove__dav_xnode *want = NULL;
		for (const grove__dav_xnode *e = grove__dav_xml_first_element(spec); e;
		     e = grove__dav_xml_next_element(e)) {
			const char *n = grove__dav_xml_attr(e, "name");
			if (is_card(e, "prop") && n && name_is(&c.v[i], n))
				want = e;
		}
		const char *nv = want ? grove__dav_xml_attr(want, "novalue") : NULL;
		if (nv && strcmp(nv, "yes") == 0)
			rc = grove__sbuf_put(out, c.v[i].text, (size_t)(c.v[i].value - c.v[i].text));
		else
			rc = grove__sbuf_puts(out, c.v[i].text);
		if (rc == 0)
			rc = grove__sbuf_puts(out, "\r\n");
	}
	vcard_dispose(&c);
	return rc;
}

/* ---- the report ---------------------------------------------------------------------- */

typedef struct {
	const grove__dav_xnode *filter;
	size_t limit, matched;
	int has_limit, truncated;
	grove__dav_xw hits;   /* the matching responses, written after the 507 one */
} aq_arg;

static int aq_member(grove__dav_report *r, const char *name, const char *key,
		     const grove_oid *blob, void *arg)
{
	aq_arg *q = arg;
	grove_buf b = { 0 };
	int status = card_read(r, blob, &b);
	if (status)
		return status;
	vcard c;
	if (vcard_parse(&c, b.data, b.size) < 0) {
		grove_buf_dispose(&b);
		return 500;
	}
	int m = filter_match(q->filter, &c);
	vcard_dispose(&c);
	if (m < 0)
		status = 500;
	if (m > 0 && q->has_limit && q->matched >= q->limit) {
		q->truncated = 1;
		m = 0;
	}
	if (m > 0) {
		q->matched++;
		grove__sbuf href = GROVE_SBUF_INIT;
		status = grove__dav_report_member_href(r, name, &href);
		if (status == 0)
			status = grove__dav_report_object(r, href.data, key, name, blob, b.data, b.size);
		grove__sbuf_dispose(&href);
	}
	grove_buf_dispose(&b);
	return status;
}

int grove__carddav_report_query(grove__dav_report *r)
{
	aq_arg q;
	memset(&q, 0, sizeof(q));
	q.filter = grove__dav_xml_child(r->doc, DAV_NS_CARDDAV, "filter");
	const char *cond;
	int st = check_filter(q.filter, &cond);
	if (st) {
		r->cond_ns = DAV_NS_CARDDAV;
		r->cond = cond;
		return st;
	}
	if ((st = grove__dav_report_check_specs(r)))
		return st;
	const grove__dav_xnode *lim = grove__dav_xml_child(r->doc, DAV_NS_CARDDAV, "limit");
	if (lim) {
		const grove__dav_xnode *nr = grove__dav_xml_child(lim, DAV_NS_CARDDAV, "nresults");
		char *t = nr ? grove__dav_xml_text(nr) : NULL;
		char *end = NULL;
		unsigned long v = t ? strtoul(t, &end, 10) : 0;
		int ok = t && end != t && (*end == '\0' || *end == ' ' || *end == '\n') && t[0] != '-';
		free(t);
		if (!ok)
			return 400;
		q.has_limit = 1;
		q.limit = v;
	}
	/* the matches go to a side buffer so the 507 response can come first */
	grove__dav_xw main = r->w;
	grove__dav_xw_init(&r->w);
	r->w.depth = main.depth;
	for (int i = 0; i < main.depth && i < 64; i++) {
		r->w.stack_ns[i] = main.stack_ns[i];
		r->w.stack_name[i] = main.stack_name[i];
	}
	st = grove__dav_report_members(r, aq_member, &q);
	grove__dav_xw hits = r->w;
	r->w = main;
	if (st == 0 && hits.rc < 0)
		st = 500;
	if (st == 0 && q.truncated) {
		grove__dav_xw_open(&r->w, DAV_NS_DAV, "response");
		grove__dav_xw_leaf(&r->w, DAV_NS_DAV, "href", r->target.href);
		grove__dav_xw_leaf(&r->w, DAV_NS_DAV, "status", "HTTP/1.1 507 Insufficient Storage");
		grove__dav_xw_open(&r->w, DAV_NS_DAV, "error");
		grove__dav_xw_empty(&r->w, DAV_NS_DAV, "number-of-matches-within-limits");
		grove__dav_xw_close(&r->w);
		grove__dav_xw_close(&r->w);
	}
	if (st == 0)
		grove__dav_xw_raw(&r->w, hits.buf.data ? hits.buf.data : "", hits.buf.len);
	grove__dav_xw_dispose(&hits);
	return st;
}
