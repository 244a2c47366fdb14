/* The version fields of an iCalendar object, read with libical. */
#include "merge_dav.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int64_t utc_seconds(struct icaltimetype t)
{
	if (icaltime_is_null_time(t))
		return 0;
	return (int64_t)icaltime_as_timet_with_zone(t, t.zone ? t.zone : icaltimezone_get_utc_timezone());
}

/* Folds one VEVENT/VTODO/VJOURNAL into v: the highest of each field, so a
 * recurring event's overrides count too. */
static void fold_component(icalcomponent *c, grove__dav_version *v)
{
	icalproperty *p;
	if (!v->uid[0] && (p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY))) {
		const char *uid = icalproperty_get_uid(p);
		if (uid)
			snprintf(v->uid, sizeof(v->uid), "%s", uid);
	}
	if ((p = icalcomponent_get_first_property(c, ICAL_SEQUENCE_PROPERTY))) {
		long s = icalproperty_get_sequence(p);
		if (s > v->sequence)
			v->sequence = s;
	}
	if ((p = icalcomponent_get_first_property(c, ICAL_LASTMODIFIED_PROPERTY))) {
		int64_t t = utc_seconds(icalproperty_get_lastmodified(p));
		if (t > v->modified)
			v->modified = t;
	}
	if ((p = icalcomponent_get_first_property(c, ICAL_DTSTAMP_PROPERTY))) {
		int64_t t = utc_seconds(icalproperty_get_dtstamp(p));
		if (t > v->stamp)
			v->stamp = t;
	}
}

int grove__ical_version(const void *data, size_t size, grove__dav_version *out)
{
	static const icalcomponent_kind kinds[] = { ICAL_VEVENT_COMPONENT, ICAL_VTODO_COMPONENT,
		ICAL_VJOURNAL_COMPONENT };
	grove__dav_version v;
	icalcomponent *root, *cal;
	char *text;
	int found = 0;

	memset(&v, 0, sizeof(v));
	v.sequence = -1;
	if (!(text = grove__malloc(size + 1)))
		return GROVE_ENOMEM;
	memcpy(text, data, size);
	text[size] = '\0';
	root = icalparser_parse_string(text);
	free(text);
	if (!root)
		return grove__error_set(GROVE_EINVALID, "not an iCalendar object");
	cal = icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT ? root
		: icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
	for (size_t k = 0; cal && k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (icalcomponent *c = icalcomponent_get_first_component(cal, kinds[k]); c;
		     c = icalcomponent_get_next_component(cal, kinds[k])) {
			fold_component(c, &v);
			found = 1;
		}
	icalcomponent_free(root);
	if (!found)
		return grove__error_set(GROVE_EINVALID, "no event, to-do or journal in the iCalendar object");
	*out = v;
	return 0;
}
