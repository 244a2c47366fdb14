/* CALDAV:calendar-data in requests (RFC 4791 9.6): which components and
 * properties to return (comp/prop/allprop/allcomp), expand (instances in
 * UTC), limit-recurrence-set and limit-freebusy-set. */
#include "dav_report.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_c(const grove__dav_xnode *e, const char *name)
{
	return grove__dav_xml_is(e, DAV_NS_CALDAV, name);
}

static int check_comp(const grove__dav_xnode *comp, int depth)
{
	if (depth > 8 || !grove__dav_xml_attr(comp, "name"))
		return -1;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(comp); e;
	     e = grove__dav_xml_next_element(e)) {
		if (is_c(e, "comp")) {
			if (check_comp(e, depth + 1) < 0)
				return -1;
		} else if (is_c(e, "prop")) {
			if (!grove__dav_xml_attr(e, "name"))
				return -1;
		} else if (!is_c(e, "allprop") && !is_c(e, "allcomp")) {
			return -1;
		}
	}
	return 0;
}

int grove__caldav_data_check(const grove__dav_xnode *spec, const char **cond)
{
	*cond = NULL;
	const char *ct = grove__dav_xml_attr(spec, "content-type");
	const char *ver = grove__dav_xml_attr(spec, "version");
	if ((ct && strcasecmp(ct, "text/calendar") != 0) || (ver && strcmp(ver, "2.0") != 0)) {
		*cond = "supported-calendar-data";
		return 403;
	}
	int ranges = 0;
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(spec); e;
	     e = grove__dav_xml_next_element(e)) {
		time_t a, b;
		if (is_c(e, "comp")) {
			const char *n = grove__dav_xml_attr(e, "name");
			if (!n || strcasecmp(n, "VCALENDAR") != 0 || check_comp(e, 0) < 0)
				return 400;
		} else if (is_c(e, "expand") || is_c(e, "limit-recurrence-set") ||
			   is_c(e, "limit-freebusy-set")) {
			if (!grove__dav_xml_attr(e, "start") || !grove__dav_xml_attr(e, "end") ||
			    grove__caldav_range(e, 1, &a, &b) < 0)
				return 400;
			if (!is_c(e, "limit-freebusy-set") && ranges++)
				return 400; /* expand and limit-recurrence-set exclude each other */
		} else {
			return 400;
		}
	}
	return 0;
}

/* ---- selection ---------------------------------------------------------------------- */

static const grove__dav_xnode *named_child(const grove__dav_xnode *sel, const char *what,
					   const char *name)
{
	for (const grove__dav_xnode *e = grove__dav_xml_first_element(sel); e;
	     e = grove__dav_xml_next_element(e)) {
		const char *n = grove__dav_xml_attr(e, "name");
		if (is_c(e, what) && n && strcasecmp(n, name) == 0)
			return e;
	}
	return NULL;
}

static void select_comp(icalcomponent *c, const grove__dav_xnode *sel)
{
	if (!grove__dav_xml_first_element(sel))
		return; /* <C:comp name="X"/>: all of it (as RFC 4791's examples do) */
	if (!grove__dav_xml_child(sel, DAV_NS_CALDAV, "allprop")) {
		icalproperty *drop[256];
		size_t n;
		do {
			n = 0;
			for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_ANY_PROPERTY);
			     p && n < 256; p = icalcomponent_get_next_property(c, ICAL_ANY_PROPERTY)) {
				const char *pn = icalproperty_get_property_name(p);
				/* novalue="yes" is served with the value: libical has
				 * no valueless property */
				if (!pn || !named_child(sel, "prop", pn))
					drop[n++] = p;
			}
			for (size_t i = 0; i < n; i++) {
				icalcomponent_remove_property(c, drop[i]);
				icalproperty_free(drop[i]);
			}
		} while (n == 256);
	}
	if (grove__dav_xml_child(sel, DAV_NS_CALDAV, "allcomp"))
		return;
	icalcompiter it = icalcomponent_begin_component(c, ICAL_ANY_COMPONENT);
	for (icalcomponent *s = icalcompiter_deref(&it); s;) {
		const char *sn = icalcomponent_kind_to_string(icalcomponent_isa(s));
		const grove__dav_xnode *want = sn ? named_child(sel, "comp", sn) : NULL;
		icalcomponent *next = icalcompiter_next(&it);
		if (!want) {
			icalcomponent_remove_component(c, s);
			icalcomponent_free(s);
		} else {
			select_comp(s, want);
		}
		s = next;
	}
}

/* ---- expansion -------------------------------------------------------------------------- */

static void remove_all(icalcomponent *c, icalproperty_kind k)
{
	icalproperty *p;
	while ((p = icalcomponent_get_first_property(c, k))) {
		icalcomponent_remove_property(c, p);
		icalproperty_free(p);
	}
}

static void set_utc(icalcomponent *c, icalproperty_kind k, time_t t)
{
	remove_all(c, k);
	struct icaltimetype u = icaltime_from_timet_with_zone(t, 0, icaltimezone_get_utc_timezone());
	icalproperty *p = icalproperty_new(k);
	if (!p)
		return;
	icalproperty_set_value(p, icalvalue_new_datetime(u));
	icalcomponent_add_property(c, p);
}

typedef struct {
	icalcomponent *out;
	icalcomponent_kind kind;
	time_t lo, hi;
} expand_arg;

static int expand_cb(void *arg, const grove__caldav_inst *in)
{
	expand_arg *a = arg;
	if (!grove__caldav_inst_overlaps(a->kind, in, a->lo, a->hi))
		return 0;
	icalcomponent *c = icalcomponent_new_clone(in->comp);
	if (!c)
		return GROVE_ENOMEM;
	int had_end = icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY) != NULL;
	int had_due = icalcomponent_get_first_property(c, ICAL_DUE_PROPERTY) != NULL;
	remove_all(c, ICAL_RRULE_PROPERTY);
	remove_all(c, ICAL_RDATE_PROPERTY);
	remove_all(c, ICAL_EXDATE_PROPERTY);
	remove_all(c, ICAL_EXRULE_PROPERTY);
	if (in->has_start)
		set_utc(c, ICAL_DTSTART_PROPERTY, in->start);
	if (had_end)
		set_utc(c, ICAL_DTEND_PROPERTY, in->end);
	if (had_due)
		set_utc(c, ICAL_DUE_PROPERTY, in->due);
	if (in->recurring)
		set_utc(c, ICAL_RECURRENCEID_PROPERTY, in->rid);
	icalcomponent_add_component(a->out, c);
	return 0;
}

static icalcomponent *expand(icalcomponent *cal, time_t lo, time_t hi, icaltimezone *floating)
{
	icalcomponent *out = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	if (!out)
		return NULL;
	for (icalproperty *p = icalcomponent_get_first_property(cal, ICAL_ANY_PROPERTY); p;
	     p = icalcomponent_get_next_property(cal, ICAL_ANY_PROPERTY))
		icalcomponent_add_property(out, icalproperty_new_clone(p));
	int rc = 0;
	icalcompiter it = icalcomponent_begin_component(cal, ICAL_ANY_COMPONENT);
	for (icalcomponent *c = icalcompiter_deref(&it); c && rc >= 0; c = icalcompiter_next(&it)) {
		icalcomponent_kind k = icalcomponent_isa(c);
		if (k == ICAL_VTIMEZONE_COMPONENT)
			continue; /* every time is UTC now */
		if (k == ICAL_VEVENT_COMPONENT || k == ICAL_VTODO_COMPONENT ||
		    k == ICAL_VJOURNAL_COMPONENT) {
			expand_arg a = { out, k, lo, hi };
			rc = grove__caldav_instances(c, floating, lo, hi, expand_cb, &a);
		} else {
			icalcomponent_add_component(out, icalcomponent_new_clone(c));
		}
	}
	if (rc < 0) {
		icalcomponent_free(out);
		return NULL;
	}
	return out;
}

typedef struct {
	icalcomponent_kind kind;
	time_t lo, hi;
} ov_arg;

static int ov_cb(void *arg, const grove__caldav_inst *in)
{
	ov_arg *a = arg;
	return grove__caldav_inst_overlaps(a->kind, in, a->lo, a->hi) ||
	       (a->lo <= in->rid && in->rid < a->hi);
}

/* Drops the overrides that neither start nor end up in [lo, hi). */
static void limit_recurrence(icalcomponent *cal, time_t lo, time_t hi, icaltimezone *floating)
{
	icalcompiter it = icalcomponent_begin_component(cal, ICAL_ANY_COMPONENT);
	for (icalcomponent *c = icalcompiter_deref(&it); c;) {
		icalcomponent *next = icalcompiter_next(&it);
		ov_arg a = { icalcomponent_isa(c), lo, hi };
		if (icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) &&
		    grove__caldav_instances(c, floating, lo, hi, ov_cb, &a) == 0) {
			icalcomponent_remove_component(cal, c);
			icalcomponent_free(c);
		}
		c = next;
	}
}

static void limit_freebusy(icalcomponent *cal, time_t lo, time_t hi, icaltimezone *floating)
{
	for (icalcomponent *c = icalcomponent_get_first_component(cal, ICAL_VFREEBUSY_COMPONENT); c;
	     c = icalcomponent_get_next_component(cal, ICAL_VFREEBUSY_COMPONENT)) {
		icalproperty *drop[256];
		size_t n = 0;
		for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_FREEBUSY_PROPERTY);
		     p && n < 256; p = icalcomponent_get_next_property(c, ICAL_FREEBUSY_PROPERTY)) {
			struct icalperiodtype per = icalproperty_get_freebusy(p);
			time_t s = grove__caldav_time(per.start, floating);
			time_t e = icaltime_is_null_time(per.end)
					   ? s + icaldurationtype_as_int(per.duration)
					   : grove__caldav_time(per.end, floating);
			if (!(lo < e && hi > s))
				drop[n++] = p;
		}
		for (size_t i = 0; i < n; i++) {
			icalcomponent_remove_property(c, drop[i]);
			icalproperty_free(drop[i]);
		}
	}
}

int grove__caldav_data_render(const grove__dav_xnode *spec, const char *data, size_t len,
			      icaltimezone *floating, grove__sbuf *out)
{
	if (!grove__dav_xml_first_element(spec))
		return grove__sbuf_put(out, data, len); /* the stored bytes, unchanged */
	char *text = grove__strndup(data, len);
	if (!text)
		return GROVE_ENOMEM;
	icalcomponent *cal = icalparser_parse_string(text);
	free(text);
	if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
		if (cal)
			icalcomponent_free(cal);
		return grove__error_set(GROVE_EINVALID, "stored calendar data does not parse");
	}
	time_t lo, hi;
	const grove__dav_xnode *e;
	if ((e = grove__dav_xml_child(spec, DAV_NS_CALDAV, "expand")) &&
	    grove__caldav_range(e, 1, &lo, &hi) == 0) {
		icalcomponent *x = expand(cal, lo, hi, floating);
		icalcomponent_free(cal);
		if (!x)
			return grove__error_oom();
		cal = x;
	} else if ((e = grove__dav_xml_child(spec, DAV_NS_CALDAV, "limit-recurrence-set")) &&
		   grove__caldav_range(e, 1, &lo, &hi) == 0) {
		limit_recurrence(cal, lo, hi, floating);
	}
	if ((e = grove__dav_xml_child(spec, DAV_NS_CALDAV, "limit-freebusy-set")) &&
	    grove__caldav_range(e, 1, &lo, &hi) == 0)
		limit_freebusy(cal, lo, hi, floating);
	if ((e = grove__dav_xml_child(spec, DAV_NS_CALDAV, "comp")))
		select_comp(cal, e);
	char *s = icalcomponent_as_ical_string_r(cal);
	icalcomponent_free(cal);
	if (!s)
		return grove__error_oom();
	int rc = grove__sbuf_puts(out, s);
	free(s);
	return rc;
}
