/* CALDAV:calendar-query (RFC 4791 7.8) and CALDAV:free-busy-query (7.10). */
#include "dav_report.h"
#include "dav_report_index.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static icalcomponent *parse(const grove_buf *b)
{
	char *text = grove__strndup(b->data, b->size);
	if (!text)
		return NULL;
	icalcomponent *cal = icalparser_parse_string(text);
	free(text);
	return cal;
}

typedef struct {
	const grove__dav_xnode *filter;
	/* a necessary condition drawn from the filter, checked on the cached
	 * summary before parsing: components needed, one time range */
	unsigned need;
	int has_range;
	time_t lo, hi;
	const grove__dav_xnode *uid_match; /* a text-match on UID, or NULL */
	/* the filter is only VCALENDAR > VEVENT > time-range: an object whose
	 * summary holds its single instance is decided without parsing */
	int vevent_range_only;
} query_arg;

/* The element children of e, counted. */
static size_t elements(const grove__dav_xnode *e)
{
	size_t n = 0;
	for (const grove__dav_xnode *c = grove__dav_xml_first_element(e); c;
	     c = grove__dav_xml_next_element(c))
		n++;
	return n;
}

/* 1 when filter is exactly <comp-filter name=VCALENDAR><comp-filter
 * name=VEVENT><time-range .../></comp-filter></comp-filter>. */
static int is_vevent_range_only(const grove__dav_xnode *filter)
{
	const grove__dav_xnode *top = grove__dav_xml_first_element(filter);
	if (!top || elements(filter) != 1 || elements(top) != 1)
		return 0;
	const grove__dav_xnode *ev = grove__dav_xml_first_element(top);
	const char *name = grove__dav_xml_attr(ev, "name");
	if (!grove__dav_xml_is(ev, DAV_NS_CALDAV, "comp-filter") || !name ||
	    strcasecmp(name, "VEVENT") != 0 || elements(ev) != 1)
		return 0;
	return grove__dav_xml_is(grove__dav_xml_first_element(ev), DAV_NS_CALDAV, "time-range");
}

static void plan(query_arg *q)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kinds[] = { { "VEVENT", DAV_SUM_VEVENT }, { "VTODO", DAV_SUM_VTODO },
		      { "VJOURNAL", DAV_SUM_VJOURNAL }, { "VFREEBUSY", DAV_SUM_VFREEBUSY } };
	const grove__dav_xnode *top = grove__dav_xml_first_element(q->filter);
	q->vevent_range_only = is_vevent_range_only(q->filter);
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(top); e;
	     e = grove__dav_xml_next_element(e)) {
		const char *name = grove__dav_xml_attr(e, "name");
		if (!grove__dav_xml_is(e, DAV_NS_CALDAV, "comp-filter") || !name ||
		    grove__dav_xml_child(e, DAV_NS_CALDAV, "is-not-defined"))
			continue;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (strcasecmp(name, kinds[i].name) != 0)
				continue;
			q->need |= kinds[i].bit;
			/* a UID lookup: every component of an object shares the UID
			 * (unless the summary says otherwise), so a text-match on it
			 * decides for the whole object */
			for (const grove__dav_xnode *pf = grove__dav_xml_first_element(e);
			     pf && !q->uid_match; pf = grove__dav_xml_next_element(pf)) {
				const char *pn = grove__dav_xml_attr(pf, "name");
				if (grove__dav_xml_is(pf, DAV_NS_CALDAV, "prop-filter") && pn &&
				    strcasecmp(pn, "UID") == 0)
					q->uid_match = grove__dav_xml_child(pf, DAV_NS_CALDAV, "text-match");
			}
			const grove__dav_xnode *tr = grove__dav_xml_child(e, DAV_NS_CALDAV, "time-range");
			if (tr && !q->has_range && kinds[i].bit != DAV_SUM_VFREEBUSY &&
			    grove__caldav_range(tr, 1, &q->lo, &q->hi) == 0)
				q->has_range = 1;
		}
	}
}

/* What a member's summary says of a query: may it match, and is that
 * decided without parsing?  (Run on the cached summary in place.) */
typedef struct {
	const query_arg *q;
	int may, decided;
} query_verdict;

static int judge_summary(const grove__dav_summary *sum, void *arg)
{
	query_verdict *v = arg;
	const query_arg *q = v->q;
	int may = grove__dav_summary_may_match(sum, q->need, q->has_range, q->lo, q->hi);
	if (may && q->uid_match && sum->uid && !sum->uid_mixed && !sum->bad) {
		char *text = grove__dav_xml_text(q->uid_match);
		const char *coll = grove__dav_xml_attr(q->uid_match, "collation");
		const char *neg = grove__dav_xml_attr(q->uid_match, "negate-condition");
		int m = text ? grove__dav_text_match(sum->uid, text, coll ? coll : "i;ascii-casemap",
						     "contains")
			     : -1;
		free(text);
		if (m >= 0)
			may = (neg && strcmp(neg, "yes") == 0) ? !m : m;
	}
	int decided = may && q->vevent_range_only && q->has_range && sum->nspans &&
		      !sum->floating && !sum->bad;
	if (decided) {
		/* the overlap test the full evaluation would run on each
		 * instance (the summary kept what grove__caldav_instances gave) */
		grove__caldav_inst in;
		memset(&in, 0, sizeof(in));
		in.has_start = 1;
		may = 0;
		for (size_t i = 0; i < sum->nspans && !may; i++) {
			in.start = sum->spans[2 * i];
			in.end = sum->spans[2 * i + 1];
			may = grove__caldav_inst_overlaps(ICAL_VEVENT_COMPONENT, &in, q->lo, q->hi);
		}
	}
	v->may = may;
	v->decided = decided;
	return 0;
}

static int query_member(grove__dav_report *r, const char *name, const char *key,
			const grove_oid *blob, void *arg)
{
	query_arg *q = arg;
	if (q->need || q->has_range) {
		query_verdict v = { q, 0, 0 };
		if (grove__dav_summary_visit(r->c->srv->st.g, blob, DAV_CAL, judge_summary, &v) < 0)
			return 500;
		int may = v.may, decided = v.decided;
		if (!may)
			return 0;
		if (decided) {
			/* calendar-data comes straight from the stored bytes */
			grove__sbuf href = GROVE_SBUF_INIT;
			int status = grove__dav_report_member_href(r, name, &href);
			if (status == 0)
				status = grove__dav_report_object(r, href.data, key, name, blob,
								  NULL, 0);
			grove__sbuf_dispose(&href);
			return status;
		}
	}
	grove_buf b = { 0 };
	int status = grove__dav_report_read(r, blob, &b);
	if (status)
		return status;
	icalcomponent *cal = parse(&b);
	int m = cal ? grove__caldav_filter_match(q->filter, cal, r->floating) : 0;
	if (cal)
		icalcomponent_free(cal);
	if (m < 0)
		status = 500;
	if (m > 0) {
		grove__sbuf href = GROVE_SBUF_INIT;
		status = grove__dav_report_member_href(r, name, &href);
		if (status == 0)
			status = grove__dav_report_object(r, href.data, key, name, blob, b.data, b.size);
		grove__sbuf_dispose(&href);
	}
	grove_buf_dispose(&b);
	return status;
}

int grove__caldav_report_query(grove__dav_report *r)
{
	const grove__dav_xnode *filter = grove__dav_xml_child(r->doc, DAV_NS_CALDAV, "filter");
	const char *cond = NULL;
	int st = grove__caldav_filter_check(filter, &cond);
	if (st) {
		r->cond_ns = DAV_NS_CALDAV;
		r->cond = cond;
		return st;
	}
	if ((st = grove__dav_report_check_specs(r)))
		return st;
	query_arg q;
	memset(&q, 0, sizeof(q));
	q.filter = filter;
	plan(&q);
	return grove__dav_report_members(r, query_member, &q);
}

/* ---- free-busy-query --------------------------------------------------------------- */

typedef struct {
	time_t start, end;
	int type;  /* 0 BUSY, 1 BUSY-TENTATIVE, 2 BUSY-UNAVAILABLE */
} busy;

typedef struct {
	busy *v;
	size_t n, cap;
	time_t lo, hi;
	int type;
} busy_list;

static int busy_add(busy_list *l, time_t s, time_t e, int type)
{
	if (s < l->lo)
		s = l->lo;
	if (e > l->hi)
		e = l->hi;
	if (e <= s)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		busy *v = grove__realloc(l->v, cap * sizeof(*v));
		if (!v)
			return GROVE_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (busy){ s, e, type };
	return 0;
}

static int busy_cb(void *arg, const grove__caldav_inst *in)
{
	busy_list *l = arg;
	if (!grove__caldav_inst_overlaps(ICAL_VEVENT_COMPONENT, in, l->lo, l->hi))
		return 0;
	/* an override may change the status or transparency */
	icalproperty *tp = icalcomponent_get_first_property(in->comp, ICAL_TRANSP_PROPERTY);
	if (tp && icalproperty_get_transp(tp) == ICAL_TRANSP_TRANSPARENT)
		return 0;
	icalproperty *sp = icalcomponent_get_first_property(in->comp, ICAL_STATUS_PROPERTY);
	icalproperty_status s = sp ? icalproperty_get_status(sp) : ICAL_STATUS_NONE;
	if (s == ICAL_STATUS_CANCELLED)
		return 0;
	return busy_add(l, in->start, in->end, s == ICAL_STATUS_TENTATIVE ? 1 : 0) < 0 ? -1 : 0;
}

static int fb_type(icalproperty *p)
{
	icalparameter *par = icalproperty_get_first_parameter(p, ICAL_FBTYPE_PARAMETER);
	if (!par)
		return 0;
	switch (icalparameter_get_fbtype(par)) {
	case ICAL_FBTYPE_FREE: return -1;
	case ICAL_FBTYPE_BUSYTENTATIVE: return 1;
	case ICAL_FBTYPE_BUSYUNAVAILABLE: return 2;
	default: return 0;
	}
}

static int fb_member(grove__dav_report *r, const char *name, const char *key,
		     const grove_oid *blob, void *arg)
{
	(void)name;
	(void)key;
	busy_list *l = arg;
	grove_buf b = { 0 };
	int status = grove__dav_report_read(r, blob, &b);
	if (status)
		return status;
	icalcomponent *cal = parse(&b);
	grove_buf_dispose(&b);
	if (!cal)
		return 0;
	int rc = 0;
	icalcompiter it = icalcomponent_begin_component(cal, ICAL_ANY_COMPONENT);
	for (icalcomponent *c = icalcompiter_deref(&it); c && rc >= 0; c = icalcompiter_next(&it)) {
		icalcomponent_kind k = icalcomponent_isa(c);
		if (k == ICAL_VEVENT_COMPONENT) {
			rc = grove__caldav_instances(c, r->floating, l->lo, l->hi, busy_cb, l);
		} else if (k == ICAL_VFREEBUSY_COMPONENT) {
			for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_FREEBUSY_PROPERTY);
			     p && rc >= 0; p = icalcomponent_get_next_property(c, ICAL_FREEBUSY_PROPERTY)) {
				int t = fb_type(p);
				if (t < 0)
					continue;
				struct icalperiodtype per = icalproperty_get_freebusy(p);
				time_t s = grove__caldav_time(per.start, r->floating);
				time_t e = icaltime_is_null_time(per.end)
						   ? s + icaldurationtype_as_int(per.duration)
						   : grove__caldav_time(per.end, r->floating);
				rc = busy_add(l, s, e, t);
			}
		}
	}
	icalcomponent_free(cal);
	return rc < 0 ? 500 : 0;
}

static int cmp_busy(const void *a, const void *b)
{
	const busy *x = a, *y = b;
	if (x->type != y->type)
		return x->type - y->type;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void utc(char out[17], time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int grove__caldav_report_freebusy(grove__dav_report *r)
{
	const grove__dav_xnode *tr = grove__dav_xml_child(r->doc, DAV_NS_CALDAV, "time-range");
	busy_list l = { 0 };
	if (!tr || !grove__dav_xml_attr(tr, "start") ||
	    grove__caldav_range(tr, 1, &l.lo, &l.hi) < 0) {
		r->cond_ns = DAV_NS_CALDAV;
		r->cond = "valid-filter";
		return 400;
	}
	int status = grove__dav_report_members(r, fb_member, &l);
	if (status) {
		free(l.v);
		return status;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_busy);
	static const char *const types[] = { "BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE" };
	grove__sbuf o = GROVE_SBUF_INIT;
	char a[17], b[17], now[17];
	utc(now, time(NULL));
	utc(a, l.lo);
	utc(b, l.hi == CALDAV_T_MAX ? l.lo + 86400 : l.hi);
	int rc = grove__sbuf_printf(&o, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
				   "PRODID:-//grove//CalDAV//EN\r\nBEGIN:VFREEBUSY\r\n"
				   "DTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\n", now, a, b);
	for (size_t i = 0; i < l.n && rc == 0;) {
		/* merge overlapping periods of one type */
		time_t s = l.v[i].start, e = l.v[i].end;
		int t = l.v[i].type;
		size_t j = i + 1;
		while (j < l.n && l.v[j].type == t && l.v[j].start <= e) {
			if (l.v[j].end > e)
				e = l.v[j].end;
			j++;
		}
		utc(a, s);
		utc(b, e);
		if (t == 0)
			rc = grove__sbuf_printf(&o, "FREEBUSY:%s/%s\r\n", a, b);
		else
			rc = grove__sbuf_printf(&o, "FREEBUSY;FBTYPE=%s:%s/%s\r\n", types[t], a, b);
		i = j;
	}
	if (rc == 0)
		rc = grove__sbuf_puts(&o, "END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
	free(l.v);
	if (rc < 0) {
		grove__sbuf_dispose(&o);
		return 500;
	}
	grove__http_res_send(r->c->res, 200, "text/calendar; charset=utf-8", o.data, o.len);
	grove__sbuf_dispose(&o);
	return -207;
}
