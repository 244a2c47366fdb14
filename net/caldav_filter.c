/* CALDAV:filter (RFC 4791 9.7): validation of the request's filter, then
 * evaluation against one parsed calendar object.  The filter is walked as
 * the request's DOM; time ranges are checked once up front. */
#include "dav_report.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_c(const grove__dav_xnode *e, const char *name)
{
	return grove__dav_xml_is(e, DAV_NS_CALDAV, name);
}

static int bad(const char **cond, const char *which, int status)
{
	*cond = which;
	return status;
}

static int check_text_match(const grove__dav_xnode *tm, const char **cond)
{
	const char *coll = grove__dav_xml_attr(tm, "collation");
	const char *neg = grove__dav_xml_attr(tm, "negate-condition");
	if (coll && strcmp(coll, "i;octet") && strcmp(coll, "i;ascii-casemap"))
		return bad(cond, "supported-collation", 403);
	if (neg && strcmp(neg, "yes") && strcmp(neg, "no"))
		return bad(cond, "valid-filter", 400);
	return 0;
}

static int check_time_range(const grove__dav_xnode *e, const char **cond)
{
	time_t a, b;
	return grove__caldav_range(e, 1, &a, &b) < 0 ? bad(cond, "valid-filter", 400) : 0;
}

static int check_param(const grove__dav_xnode *pf, const char **cond)
{
	if (!grove__dav_xml_attr(pf, "name"))
		return bad(cond, "valid-filter", 400);
	int n = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(pf); e;
	     e = grove__dav_xml_next_element(e)) {
		int st = 0;
		if (is_c(e, "text-match"))
			st = check_text_match(e, cond);
		else if (!is_c(e, "is-not-defined"))
			st = bad(cond, "valid-filter", 400);
		if (st)
			return st;
		if (++n > 1)
			return bad(cond, "valid-filter", 400);
	}
	return 0;
}

static int check_prop(const grove__dav_xnode *pf, const char **cond)
{
	if (!grove__dav_xml_attr(pf, "name"))
		return bad(cond, "valid-filter", 400);
	int undef = 0, other = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(pf); e;
	     e = grove__dav_xml_next_element(e)) {
		int st;
		if (is_c(e, "is-not-defined")) {
			undef++;
			continue;
		}
		other++;
		if (is_c(e, "text-match"))
			st = check_text_match(e, cond);
		else if (is_c(e, "time-range"))
			st = check_time_range(e, cond);
		else if (is_c(e, "param-filter"))
			st = check_param(e, cond);
		else
			st = bad(cond, "valid-filter", 400);
		if (st)
			return st;
	}
	if (undef > 1 || (undef && other))
		return bad(cond, "valid-filter", 400);
	return 0;
}

static int time_range_ok_for(const char *name)
{
	static const char *const ok[] = { "VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VALARM" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcasecmp(name, ok[i]) == 0)
			return 1;
	return 0;
}

static int check_comp(const grove__dav_xnode *cf, const char **cond, int depth)
{
	const char *name = grove__dav_xml_attr(cf, "name");
	if (!name || !*name || depth > 8)
		return bad(cond, "valid-filter", 400);
	int undef = 0, other = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(cf); e;
	     e = grove__dav_xml_next_element(e)) {
		int st;
		if (is_c(e, "is-not-defined")) {
			undef++;
			continue;
		}
		other++;
		if (is_c(e, "time-range")) {
			st = check_time_range(e, cond);
			if (st == 0 && !time_range_ok_for(name))
				st = bad(cond, "valid-filter", 400);
		} else if (is_c(e, "prop-filter")) {
			st = check_prop(e, cond);
		} else if (is_c(e, "comp-filter")) {
			st = check_comp(e, cond, depth + 1);
		} else {
			st = bad(cond, "valid-filter", 400);
		}
		if (st)
			return st;
	}
	if (undef > 1 || (undef && other))
		return bad(cond, "valid-filter", 400);
	return 0;
}

int grove__caldav_filter_check(const grove__dav_xnode *filter, const char **cond)
{
	if (!filter || !is_c(filter, "filter"))
		return bad(cond, "valid-filter", 400);
	const grove__dav_xnode *top = grove__dav_xml_first_element(filter);
	if (!top || !is_c(top, "comp-filter") || grove__dav_xml_next_element(top))
		return bad(cond, "valid-filter", 400);
	const char *name = grove__dav_xml_attr(top, "name");
	if (!name || strcasecmp(name, "VCALENDAR") != 0)
		return bad(cond, "valid-filter", 400);
	return check_comp(top, cond, 0);
}

/* ---- evaluation ------------------------------------------------------------------ */

typedef struct {
	icaltimezone *floating;
} fctx;

static int text_match(const grove__dav_xnode *tm, const char *value)
{
	char *text = grove__dav_xml_text(tm);
	if (!text)
		return -1;
	const char *coll = grove__dav_xml_attr(tm, "collation");
	const char *neg = grove__dav_xml_attr(tm, "negate-condition");
	int m = grove__dav_text_match(value, text, coll ? coll : "i;ascii-casemap", "contains");
	free(text);
	if (m < 0)
		return -1;
	return (neg && strcmp(neg, "yes") == 0) ? !m : m;
}

/* The name of a parameter and its value (a new string, quotes removed). */
static char *param_value(icalparameter *par, const char **name)
{
	icalparameter_kind k = icalparameter_isa(par);
	*name = k == ICAL_X_PARAMETER ? icalparameter_get_xname(par)
	      : k == ICAL_IANA_PARAMETER ? icalparameter_get_iana_name(par)
				       : icalparameter_kind_to_string(k);
	char *s = icalparameter_as_ical_string_r(par);
	if (!s)
		return NULL;
	char *eq = strchr(s, '=');
	const char *v = eq ? eq + 1 : "";
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	char *out = grove__strndup(v, n);
	free(s);
	return out;
}

static int param_match(const grove__dav_xnode *pf, icalproperty *p)
{
	const char *want = grove__dav_xml_attr(pf, "name");
	const grove__dav_xnode *tm = grove__dav_xml_child(pf, DAV_NS_CALDAV, "text-match");
	int undef = grove__dav_xml_child(pf, DAV_NS_CALDAV, "is-not-defined") != NULL;
	int found = 0;
	for (icalparameter *par = icalproperty_get_first_parameter(p, ICAL_ANY_PARAMETER); par;
	     par = icalproperty_get_next_parameter(p, ICAL_ANY_PARAMETER)) {
		const char *name;
		char *v = param_value(par, &name);
		if (!v)
			return -1;
		int r = 0;
		if (name && strcasecmp(name, want) == 0) {
			found = 1;
			r = (tm && !undef) ? text_match(tm, v) : 1;
		}
		free(v);
		if (r != 0)
			return undef ? 0 : r;
	}
	return undef ? !found : 0;
}

static char *prop_text(icalproperty *p)
{
	icalvalue *v = icalproperty_get_value(p);
	if (v && icalvalue_isa(v) == ICAL_TEXT_VALUE) {
		const char *t = icalvalue_get_text(v);
		return grove__strdup(t ? t : "");
	}
	char *s = icalproperty_get_value_as_string_r(p);
	if (!s)
		return grove__strdup("");
	char *out = grove__strdup(s);
	free(s);
	return out;
}

static int same_name(icalproperty *p, const char *want)
{
	const char *n = icalproperty_get_property_name(p);
	return n && strcasecmp(n, want) == 0;
}

/* One property against a prop-filter's tests (time-range, text-match,
 * param-filters). */
static int one_prop(const grove__dav_xnode *pf, icalproperty *p, fctx *f)
{
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(pf); e;
	     e = grove__dav_xml_next_element(e)) {
		int r = 1;
		if (is_c(e, "text-match")) {
			char *v = prop_text(p);
			if (!v)
				return -1;
			r = text_match(e, v);
			free(v);
		} else if (is_c(e, "time-range")) {
			time_t lo, hi;
			grove__caldav_range(e, 1, &lo, &hi);
			struct icaltimetype t = grove__caldav_prop_time(p);
			if (icaltime_is_null_time(t)) {
				r = 0;
			} else {
				time_t v = grove__caldav_time(t, f->floating);
				r = lo <= v && v < hi;
			}
		} else if (is_c(e, "param-filter")) {
			r = param_match(e, p);
		}
		if (r <= 0)
			return r;
	}
	return 1;
}

static int prop_match(const grove__dav_xnode *pf, icalcomponent *comp, fctx *f)
{
	const char *name = grove__dav_xml_attr(pf, "name");
	int undef = grove__dav_xml_child(pf, DAV_NS_CALDAV, "is-not-defined") != NULL;
	int found = 0;
	for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_ANY_PROPERTY); p;
	     p = icalcomponent_get_next_property(comp, ICAL_ANY_PROPERTY)) {
		if (!same_name(p, name))
			continue;
		found = 1;
		if (undef)
			break;
		int r = one_prop(pf, p, f);
		if (r != 0)
			return r;
	}
	return undef ? !found : 0;
}

typedef struct {
	icalcomponent_kind kind;
	time_t lo, hi;
} overlap_arg;

static int overlap_cb(void *arg, const grove__caldav_inst *in)
{
	overlap_arg *a = arg;
	return grove__caldav_inst_overlaps(a->kind, in, a->lo, a->hi);
}

/* VALARM: trigger times of the alarm for each instance of its parent. */
typedef struct {
	icalcomponent *alarm;
	time_t lo, hi;
	icaltimezone *floating;
} alarm_arg;

static int trigger_hits(time_t t, icalcomponent *alarm, time_t lo, time_t hi)
{
	if (lo <= t && t < hi)
		return 1;
	icalproperty *rp = icalcomponent_get_first_property(alarm, ICAL_REPEAT_PROPERTY);
	icalproperty *dp = icalcomponent_get_first_property(alarm, ICAL_DURATION_PROPERTY);
	if (!rp || !dp)
		return 0;
	int n = icalproperty_get_repeat(rp);
	int d = icaldurationtype_as_int(icalproperty_get_duration(dp));
	if (d <= 0)
		return 0;
	for (int i = 1; i <= n && i <= 1000; i++) {
		time_t x = t + (time_t)i * d;
		if (lo <= x && x < hi)
			return 1;
	}
	return 0;
}

static int alarm_cb(void *arg, const grove__caldav_inst *in)
{
	alarm_arg *a = arg;
	icalproperty *tp = icalcomponent_get_first_property(a->alarm, ICAL_TRIGGER_PROPERTY);
	if (!tp)
		return 0;
	struct icaltriggertype tr = icalproperty_get_trigger(tp);
	icalparameter *rel = icalproperty_get_first_parameter(tp, ICAL_RELATED_PARAMETER);
	int at_end = rel && icalparameter_get_related(rel) == ICAL_RELATED_END;
	time_t base;
	if (at_end)
		base = icalcomponent_isa(in->comp) == ICAL_VTODO_COMPONENT ? in->due : in->end;
	else
		base = in->has_start ? in->start : in->due;
	if (!in->has_start && !in->has_due)
		return 0;
	return trigger_hits(base + icaldurationtype_as_int(tr.duration), a->alarm, a->lo, a->hi);
}

static int alarm_in_range(icalcomponent *alarm, time_t lo, time_t hi, fctx *f)
{
	icalproperty *tp = icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY);
	if (!tp)
		return 0;
	struct icaltriggertype tr = icalproperty_get_trigger(tp);
	if (!icaltime_is_null_time(tr.time))
		return trigger_hits(grove__caldav_time(tr.time, f->floating), alarm,
				    lo, hi);
	icalcomponent *parent = icalcomponent_get_parent(alarm);
	if (!parent)
		return 0;
	/* instances whose trigger can fall in the range lie within the
	 * trigger's reach of it */
	time_t reach = icaldurationtype_as_int(tr.duration);
	if (reach < 0)
		reach = -reach;
	icalproperty *rp = icalcomponent_get_first_property(alarm, ICAL_REPEAT_PROPERTY);
	icalproperty *dp = icalcomponent_get_first_property(alarm, ICAL_DURATION_PROPERTY);
	if (rp && dp)
		reach += (time_t)icalproperty_get_repeat(rp) *
			 icaldurationtype_as_int(icalproperty_get_duration(dp));
	reach += 366 * 86400; /* instance lengths */
	alarm_arg a = { alarm, lo, hi, f->floating };
	time_t wlo = lo == CALDAV_T_MIN ? lo : lo - reach;
	time_t whi = hi == CALDAV_T_MAX ? hi : hi + reach;
	return grove__caldav_instances(parent, f->floating, wlo, whi, alarm_cb, &a);
}

static int comp_in_range(icalcomponent *comp, time_t lo, time_t hi, fctx *f)
{
	icalcomponent_kind k = icalcomponent_isa(comp);
	switch (k) {
	case ICAL_VEVENT_COMPONENT:
	case ICAL_VTODO_COMPONENT:
	case ICAL_VJOURNAL_COMPONENT: {
		overlap_arg a = { k, lo, hi };
		return grove__caldav_instances(comp, f->floating, lo, hi, overlap_cb, &a);
	}
	case ICAL_VFREEBUSY_COMPONENT: {
		int any = 0;
		for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_FREEBUSY_PROPERTY);
		     p; p = icalcomponent_get_next_property(comp, ICAL_FREEBUSY_PROPERTY)) {
			struct icalperiodtype per = icalproperty_get_freebusy(p);
			time_t s = grove__caldav_time(per.start, f->floating);
			time_t e = icaltime_is_null_time(per.end)
					   ? s + icaldurationtype_as_int(per.duration)
					   : grove__caldav_time(per.end, f->floating);
			any = 1;
			if (lo < e && hi > s)
				return 1;
		}
		if (any)
			return 0;
		icalproperty *sp = icalcomponent_get_first_property(comp, ICAL_DTSTART_PROPERTY);
		icalproperty *ep = icalcomponent_get_first_property(comp, ICAL_DTEND_PROPERTY);
		if (!sp || !ep)
			return 0;
		time_t s = grove__caldav_time(grove__caldav_prop_time(sp), f->floating);
		time_t e = grove__caldav_time(grove__caldav_prop_time(ep), f->floating);
		return lo <= e && hi > s;
	}
	case ICAL_VALARM_COMPONENT:
		return alarm_in_range(comp, lo, hi, f);
	default:
		return 0;
	}
}

static int comp_match(const grove__dav_xnode *cf, icalcomponent *comp, fctx *f);

static int name_is(icalcomponent *c, const char *name)
{
	const char *n = icalcomponent_kind_to_string(icalcomponent_isa(c));
	return n && strcasecmp(n, name) == 0;
}

static int sub_match(const grove__dav_xnode *cf, icalcomponent *comp, fctx *f)
{
	const char *name = grove__dav_xml_attr(cf, "name");
	int undef = grove__dav_xml_child(cf, DAV_NS_CALDAV, "is-not-defined") != NULL;
	int found = 0;
	/* an external iterator: evaluation walks the same parent again */
	icalcompiter it = icalcomponent_begin_component(comp, ICAL_ANY_COMPONENT);
	for (icalcomponent *c = icalcompiter_deref(&it); c; c = icalcompiter_next(&it)) {
		if (!name_is(c, name))
			continue;
		found = 1;
		if (undef)
			break;
		int r = comp_match(cf, c, f);
		if (r != 0)
			return r;
	}
	return undef ? !found : 0;
}

static int comp_match(const grove__dav_xnode *cf, icalcomponent *comp, fctx *f)
{
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(cf); e;
	     e = grove__dav_xml_next_element(e)) {
		int r = 1;
		if (is_c(e, "time-range")) {
			time_t lo, hi;
			grove__caldav_range(e, 1, &lo, &hi);
			r = comp_in_range(comp, lo, hi, f);
		} else if (is_c(e, "prop-filter")) {
			r = prop_match(e, comp, f);
		} else if (is_c(e, "comp-filter")) {
			r = sub_match(e, comp, f);
		}
		if (r <= 0)
			return r;
	}
	return 1;
}

int grove__caldav_filter_match(const grove__dav_xnode *filter, icalcomponent *cal,
			       icaltimezone *floating)
{
	fctx f = { floating };
	const grove__dav_xnode *top = grove__dav_xml_first_element(filter);
	if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT)
		return 0;
	if (grove__dav_xml_child(top, DAV_NS_CALDAV, "is-not-defined"))
		return 0;
	return comp_match(top, cal, &f);
}
