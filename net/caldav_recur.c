/* Time for CalDAV queries: UTC parsing of request attributes, time zones
 * (TZID resolved inside the calendar, floating times in the collection's
 * calendar-timezone), recurrence expansion with libical (RRULE, RDATE,
 * EXDATE, RECURRENCE-ID overrides) and the overlap rules of RFC 4791 9.9. */
#include "dav_report.h"
#include "error.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INSTANCES CALDAV_MAX_INSTANCES

int grove__caldav_parse_utc(const char *s, time_t *out)
{
	if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -1;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (s[i] < '0' || s[i] > '9'))
			return -1;
	struct icaltimetype t = icaltime_from_string(s);
	if (icaltime_is_null_time(t) || !icaltime_is_valid_time(t) || t.month < 1 || t.month > 12 ||
	    t.day < 1 || t.day > icaltime_days_in_month(t.month, t.year) || t.hour > 23 ||
	    t.minute > 59 || t.second > 60)
		return -1;
	*out = icaltime_as_timet_with_zone(t, icaltimezone_get_utc_timezone());
	return 0;
}

int grove__caldav_range(const grove__dav_xnode *e, int need_one, time_t *start, time_t *end)
{
	const char *s = grove__dav_xml_attr(e, "start"), *en = grove__dav_xml_attr(e, "end");
	*start = CALDAV_T_MIN;
	*end = CALDAV_T_MAX;
	if (need_one && !s && !en)
		return -1;
	if (s && grove__caldav_parse_utc(s, start) < 0)
		return -1;
	if (en && grove__caldav_parse_utc(en, end) < 0)
		return -1;
	return *end > *start ? 0 : -1;
}

/* ---- time zones ---------------------------------------------------------------- */

/* A process-wide set of expanded zones, one per distinct VTIMEZONE text.
 * libical computes a zone's UTC offset changes lazily, per icaltimezone,
 * by running the VTIMEZONE's RRULEs from its first DTSTART on (through
 * ICU): every parsed object carries a fresh, unexpanded copy of the same
 * few zones, and expanding them again for every object was most of the
 * cost of PUT and calendar-query.  Zones here are keyed by their full
 * text (hash + exact compare), so two zones share only when they say the
 * same thing.  Entries are never evicted (callers keep the pointers in
 * icaltimetype values): when the set is full, new zones are simply not
 * shared.  libical serialises the lazy expansion of a zone's changes with
 * its own mutex, as it must for its built-in zones, which are shared by
 * every thread already. */
#define SHARED_ZONES 256

typedef struct {
	uint64_t hash;
	char *text;
	icaltimezone *zone;
} shared_zone;

static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_zone zones[SHARED_ZONES];
static size_t nzones;

static uint64_t text_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static icaltimezone *zones_find(uint64_t h, const char *text)
{
	for (size_t i = 0; i < nzones; i++)
		if (zones[i].hash == h && strcmp(zones[i].text, text) == 0)
			return zones[i].zone;
	return NULL;
}

static int zones_member(const icaltimezone *z)
{
	pthread_mutex_lock(&zones_lock);
	int found = 0;
	for (size_t i = 0; i < nzones && !found; i++)
		found = zones[i].zone == z;
	pthread_mutex_unlock(&zones_lock);
	return found;
}

/* The shared zone equal to vtz (a VTIMEZONE component), created on first
 * use; NULL when it cannot be shared (no memory, set full). */
static icaltimezone *zone_shared(icalcomponent *vtz)
{
	char *text = icalcomponent_as_ical_string_r(vtz);
	if (!text)
		return NULL;
	uint64_t h = text_hash(text);
	pthread_mutex_lock(&zones_lock);
	icaltimezone *z = zones_find(h, text);
	int full = nzones == SHARED_ZONES;
	pthread_mutex_unlock(&zones_lock);
	if (z || full) {
		icalmemory_free_buffer(text);
		return z;
	}
	icalcomponent *copy = icalcomponent_new_clone(vtz);
	icaltimezone *nz = copy ? icaltimezone_new() : NULL;
	char *key = grove__strdup(text);
	icalmemory_free_buffer(text);
	if (!nz || !key || !icaltimezone_set_component(nz, copy)) {
		if (nz)
			icaltimezone_free(nz, 1);
		if (copy)
			icalcomponent_free(copy);
		free(key);
		return NULL;
	}
	pthread_mutex_lock(&zones_lock);
	z = zones_find(h, key); /* another thread may have added it meanwhile */
	if (!z && nzones < SHARED_ZONES) {
		zones[nzones].hash = h;
		zones[nzones].text = key;
		zones[nzones].zone = nz;
		nzones++;
		z = nz;
		nz = NULL;
		key = NULL;
	}
	pthread_mutex_unlock(&zones_lock);
	if (nz)
		icaltimezone_free(nz, 1);
	free(key);
	return z;
}

icaltimezone *grove__caldav_tz_from_text(const char *text)
{
	if (!text || !*text)
		return NULL;
	icalcomponent *cal = icalparser_parse_string(text);
	if (!cal)
		return NULL;
	icalcomponent *vtz = icalcomponent_isa(cal) == ICAL_VTIMEZONE_COMPONENT
				     ? cal
				     : icalcomponent_get_first_component(cal, ICAL_VTIMEZONE_COMPONENT);
	icaltimezone *tz = NULL;
	if (vtz && icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY))
		tz = zone_shared(vtz);
	if (vtz && !tz) {
		icalcomponent *copy = icalcomponent_new_clone(vtz);
		tz = copy ? icaltimezone_new() : NULL;
		if (tz && !icaltimezone_set_component(tz, copy)) {
			icaltimezone_free(tz, 1);
			icalcomponent_free(copy);
			tz = NULL;
		} else if (!tz && copy) {
			icalcomponent_free(copy);
		}
	}
	icalcomponent_free(cal);
	return tz;
}

void grove__caldav_tz_free(icaltimezone *tz)
{
	/* shared zones live as long as the process */
	if (tz && !zones_member(tz))
		icaltimezone_free(tz, 1);
}

/* The zone named by a TZID: a VTIMEZONE of the calendar (its shared,
 * already expanded twin when there is one), else a system zone
 * ("Europe/Paris"). */
static icaltimezone *zone_of(icalproperty *p, const char *tzid)
{
	for (icalcomponent *c = icalproperty_get_parent(p); c; c = icalcomponent_get_parent(c)) {
		if (icalcomponent_isa(c) != ICAL_VCALENDAR_COMPONENT)
			continue;
		icaltimezone *z = icalcomponent_get_timezone(c, tzid);
		if (z) {
			icalcomponent *vtz = icaltimezone_get_component(z);
			icaltimezone *shared = vtz ? zone_shared(vtz) : NULL;
			return shared ? shared : z;
		}
	}
	icaltimezone *z = icaltimezone_get_builtin_timezone_from_tzid(tzid);
	if (!z)
		z = icaltimezone_get_builtin_timezone(tzid);
	return z;
}

static struct icaltimetype with_zone(icalproperty *p, struct icaltimetype t)
{
	if (icaltime_is_null_time(t) || icaltime_is_utc(t) || t.is_date)
		return t;
	icalparameter *par = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
	const char *tzid = par ? icalparameter_get_tzid(par) : NULL;
	if (tzid) {
		icaltimezone *z = zone_of(p, tzid);
		if (z)
			t.zone = z;
	}
	return t;
}

struct icaltimetype grove__caldav_prop_time(icalproperty *p)
{
	icalvalue *v = p ? icalproperty_get_value(p) : NULL;
	if (!v)
		return icaltime_null_time();
	struct icaltimetype t;
	switch (icalvalue_isa(v)) {
	case ICAL_DATETIME_VALUE: t = icalvalue_get_datetime(v); break;
	case ICAL_DATE_VALUE: t = icalvalue_get_date(v); break;
	case ICAL_DATETIMEPERIOD_VALUE: {
		struct icaldatetimeperiodtype dp = icalvalue_get_datetimeperiod(v);
		t = icaltime_is_null_time(dp.time) ? dp.period.start : dp.time;
		break;
	}
	case ICAL_PERIOD_VALUE: t = icalvalue_get_period(v).start; break;
	default: return icaltime_null_time();
	}
	return with_zone(p, t);
}

time_t grove__caldav_time(struct icaltimetype t, icaltimezone *floating)
{
	icaltimezone *utc = icaltimezone_get_utc_timezone();
	if (icaltime_is_null_time(t))
		return 0;
	if (icaltime_is_utc(t))
		return icaltime_as_timet_with_zone(t, utc);
	const icaltimezone *z = (!t.is_date && t.zone) ? t.zone : (floating ? floating : utc);
	if (t.is_date) {
		t.is_date = 0;
		t.hour = t.minute = t.second = 0;
		t.zone = NULL;
	}
	return icaltime_as_timet_with_zone(t, z);
}

static time_t prop_utc(icalcomponent *c, icalproperty_kind k, icaltimezone *floating, int *has,
		       int *is_date)
{
	icalproperty *p = icalcomponent_get_first_property(c, k);
	struct icaltimetype t = grove__caldav_prop_time(p);
	*has = p && !icaltime_is_null_time(t);
	if (is_date)
		*is_date = *has && t.is_date;
	return *has ? grove__caldav_time(t, floating) : 0;
}

/* ---- overlap (RFC 4791 9.9) ---------------------------------------------------------- */

int grove__caldav_inst_overlaps(icalcomponent_kind kind, const grove__caldav_inst *in,
				time_t lo, time_t hi)
{
	const time_t s = in->start;
	switch (kind) {
	case ICAL_VEVENT_COMPONENT:
		if (!in->has_start)
			return 0;
		if (in->end > s)
			return lo < in->end && hi > s;
		return lo <= s && hi > s;
	case ICAL_VJOURNAL_COMPONENT:
		if (!in->has_start)
			return 0;
		if (in->end > s)
			return lo < in->end && hi > s;
		return lo <= s && hi > s;
	case ICAL_VTODO_COMPONENT: {
		if (in->has_start && in->has_duration)
			return lo <= in->due && (hi > s || hi >= in->due);
		if (in->has_start && in->has_due)
			return (lo < in->due || lo <= s) && (hi > s || hi >= in->due);
		if (in->has_start)
			return lo <= s && hi > s;
		if (in->has_due)
			return lo < in->due && hi >= in->due;
		int hc, hd;
		time_t created = prop_utc(in->comp, ICAL_CREATED_PROPERTY, NULL, &hc, NULL);
		time_t done = prop_utc(in->comp, ICAL_COMPLETED_PROPERTY, NULL, &hd, NULL);
		if (hc && hd)
			return (lo <= created || lo <= done) && (hi >= created || hi >= done);
		if (hd)
			return lo <= done && hi >= done;
		if (hc)
			return hi > created;
		return 1;
	}
	default:
		return 0;
	}
}

/* ---- recurrence -------------------------------------------------------------------------- */

typedef struct {
	time_t start, end;
} span;

typedef struct {
	span *v;
	size_t n, cap;
} spans;

static int spans_add(spans *s, time_t a, time_t b)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		span *v = grove__realloc(s->v, cap * sizeof(*v));
		if (!v)
			return GROVE_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].start = a;
	s->v[s->n].end = b;
	s->n++;
	return 0;
}

static int cmp_span(const void *a, const void *b)
{
	const span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int contains(const time_t *v, size_t n, time_t t)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == t)
			return 1;
	return 0;
}

/* The recurrence ids of the overrides of comp's recurrence set (its
 * siblings with the same kind and UID and a RECURRENCE-ID). */
static int override_ids(icalcomponent *comp, icaltimezone *floating, time_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	icalcomponent *parent = icalcomponent_get_parent(comp);
	const char *uid = icalcomponent_get_uid(comp);
	if (!parent)
		return 0;
	icalcomponent_kind k = icalcomponent_isa(comp);
	size_t cap = 0;
	icalcompiter it = icalcomponent_begin_component(parent, k);
	for (icalcomponent *c = icalcompiter_deref(&it); c; c = icalcompiter_next(&it)) {
		icalproperty *rp = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY);
		const char *u = icalcomponent_get_uid(c);
		if (c == comp || !rp || (uid && u && strcmp(uid, u) != 0))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			time_t *v = grove__realloc(*out, cap * sizeof(*v));
			if (!v) {
				free(*out);
				*out = NULL;
				return GROVE_ENOMEM;
			}
			*out = v;
		}
		(*out)[(*n)++] = grove__caldav_time(grove__caldav_prop_time(rp), floating);
	}
	return 0;
}

int grove__caldav_instances(icalcomponent *comp, icaltimezone *floating, time_t lo, time_t hi,
			    grove__caldav_inst_fn fn, void *arg)
{
	icalcomponent_kind kind = icalcomponent_isa(comp);
	grove__caldav_inst in;
	memset(&in, 0, sizeof(in));
	in.comp = comp;
	int start_is_date = 0, has_end = 0, has_due = 0;
	icalproperty *dtp = icalcomponent_get_first_property(comp, ICAL_DTSTART_PROPERTY);
	struct icaltimetype t0 = grove__caldav_prop_time(dtp);
	in.has_start = dtp && !icaltime_is_null_time(t0);
	start_is_date = in.has_start && t0.is_date;
	in.start = in.has_start ? grove__caldav_time(t0, floating) : 0;
	time_t end = prop_utc(comp, kind == ICAL_VTODO_COMPONENT ? ICAL_DUE_PROPERTY
								    : ICAL_DTEND_PROPERTY,
			      floating, &has_end, NULL);
	icalproperty *durp = icalcomponent_get_first_property(comp, ICAL_DURATION_PROPERTY);
	time_t dur = 0;
	if (has_end && in.has_start) {
		dur = end - in.start;
	} else if (durp) {
		dur = icaldurationtype_as_int(icalproperty_get_duration(durp));
		in.has_duration = in.has_start;
	} else if (start_is_date && kind != ICAL_VTODO_COMPONENT) {
		dur = 86400;
	}
	if (dur < 0)
		dur = 0;
	if (kind == ICAL_VTODO_COMPONENT) {
		has_due = has_end;
		in.has_due = has_due;
		in.due = has_end ? end : in.start + dur;
		in.end = in.has_start ? in.start + dur : in.due;
	} else {
		in.end = in.start + dur;
	}
	icalproperty *ridp = icalcomponent_get_first_property(comp, ICAL_RECURRENCEID_PROPERTY);
	int has_rule = icalcomponent_get_first_property(comp, ICAL_RRULE_PROPERTY) ||
		       icalcomponent_get_first_property(comp, ICAL_RDATE_PROPERTY);
	if (ridp) {
		in.recurring = 1;
		in.rid = grove__caldav_time(grove__caldav_prop_time(ridp), floating);
	}
	if (ridp || !has_rule || !in.has_start) {
		if (!ridp)
			in.rid = in.start;
		return fn(arg, &in);
	}
	/* a master with a recurrence rule */
	spans all = { 0 };
	int rc = spans_add(&all, in.start, in.start + dur);
	for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_RRULE_PROPERTY);
	     p && rc == 0; p = icalcomponent_get_next_property(comp, ICAL_RRULE_PROPERTY)) {
		struct icalrecurrencetype rule = icalproperty_get_rrule(p);
		icalrecur_iterator *it = icalrecur_iterator_new(rule, t0);
		if (!it)
			continue; /* a rule libical cannot expand: DTSTART alone */
		/* far from DTSTART, a rule without COUNT starts at the range
		 * (a day early for offsets and the instances' length) */
		time_t from = lo - dur - 2 * 86400;
		if (rule.count == 0 && lo != CALDAV_T_MIN && from > in.start + 7 * 86400) {
			const icaltimezone *z = t0.zone ? t0.zone
						  : floating ? floating : icaltimezone_get_utc_timezone();
			struct icaltimetype st = icaltime_from_timet_with_zone(from, t0.is_date, z);
			if (!t0.is_date)
				st.zone = t0.zone;
			if (!icalrecur_iterator_set_start(it, st)) {
				icalrecur_iterator_free(it);
				it = icalrecur_iterator_new(rule, t0);
				if (!it)
					continue;
			}
		}
		for (struct icaltimetype t = icalrecur_iterator_next(it);
		     !icaltime_is_null_time(t) && all.n < MAX_INSTANCES && rc == 0;
		     t = icalrecur_iterator_next(it)) {
			t.zone = t0.zone;
			t.is_date = t0.is_date;
			time_t s = grove__caldav_time(t, floating);
			if (s > hi)
				break;
			if (s != in.start)
				rc = spans_add(&all, s, s + dur);
		}
		icalrecur_iterator_free(it);
	}
	for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_RDATE_PROPERTY);
	     p && rc == 0; p = icalcomponent_get_next_property(comp, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype dp = icalproperty_get_rdate(p);
		if (!icaltime_is_null_time(dp.time)) {
			time_t s = grove__caldav_time(with_zone(p, dp.time), floating);
			rc = spans_add(&all, s, s + dur);
		} else if (!icaltime_is_null_time(dp.period.start)) {
			time_t s = grove__caldav_time(with_zone(p, dp.period.start), floating);
			time_t e = icaltime_is_null_time(dp.period.end)
					   ? s + icaldurationtype_as_int(dp.period.duration)
					   : grove__caldav_time(with_zone(p, dp.period.end), floating);
			rc = spans_add(&all, s, e);
		}
	}
	time_t *ex = NULL, *ov = NULL;
	size_t nex = 0, nov = 0, capex = 0;
	for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_EXDATE_PROPERTY);
	     p && rc == 0; p = icalcomponent_get_next_property(comp, ICAL_EXDATE_PROPERTY)) {
		if (nex == capex) {
			capex = capex ? capex * 2 : 8;
			time_t *v = grove__realloc(ex, capex * sizeof(*v));
			if (!v) {
				rc = GROVE_ENOMEM;
				break;
			}
			ex = v;
		}
		ex[nex++] = grove__caldav_time(with_zone(p, icalproperty_get_exdate(p)), floating);
	}
	if (rc == 0)
		rc = override_ids(comp, floating, &ov, &nov);
	if (rc == 0) {
		qsort(all.v, all.n, sizeof(*all.v), cmp_span);
		in.recurring = 1;
		for (size_t i = 0; i < all.n && rc == 0; i++) {
			if (i && all.v[i].start == all.v[i - 1].start)
				continue;
			if (all.v[i].start > hi)
				break;
			if (all.v[i].end < lo)
				continue; /* over before the range: cannot reach it */
			if (contains(ex, nex, all.v[i].start) || contains(ov, nov, all.v[i].start))
				continue;
			in.start = all.v[i].start;
			in.end = all.v[i].end;
			in.rid = in.start;
			if (kind == ICAL_VTODO_COMPONENT)
				in.due = in.start + dur;
			rc = fn(arg, &in);
		}
	}
	free(ex);
	free(ov);
	free(all.v);
	return rc;
}
