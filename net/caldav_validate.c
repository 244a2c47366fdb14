/* Validation of iCalendar data uploaded by PUT (RFC 4791 section 4.1 and
 * 5.3.2.1): it must parse with libical without errors, satisfy RFC 5545's
 * cardinality rules (icalrestriction_check), and hold components of one
 * type sharing one UID (VTIMEZONEs aside). */
#include "dav_internal.h"
#include "error.h"

#include <libical/ical.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 1 when word is in the space-separated list (NULL list: anything). */
static int in_list(const char *list, const char *word)
{
	if (!list || !*list)
		return 1;
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == n && strncasecmp(p, word, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

static int invalid(const char **cond, const char *which, const char *msg)
{
	*cond = which;
	grove__error_set(GROVE_EINVALID, "%s", msg);
	return -1;
}

int grove__caldav_validate(const char *data, size_t len, const char *components,
			   const char **cond, char **component_out)
{
	if (len == 0 || memchr(data, '\0', len))
		return invalid(cond, "valid-calendar-data", "empty or binary calendar data");
	char *text = grove__strndup(data, len);
	if (!text)
		return invalid(cond, "valid-calendar-data", "out of memory");
	icalcomponent *cal = icalparser_parse_string(text);
	free(text);
	if (!cal)
		return invalid(cond, "valid-calendar-data", "not iCalendar data");
	int rc = -1;
	const char *uid = NULL;
	icalcomponent_kind kind = ICAL_NO_COMPONENT;
	if (icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
		invalid(cond, "valid-calendar-data", "the object is not a VCALENDAR");
		goto out;
	}
	if (!icalrestriction_check(cal) || icalcomponent_count_errors(cal) > 0) {
		invalid(cond, "valid-calendar-data", "iCalendar data violates RFC 5545");
		goto out;
	}
	for (icalcomponent *c = icalcomponent_get_first_component(cal, ICAL_ANY_COMPONENT); c;
	     c = icalcomponent_get_next_component(cal, ICAL_ANY_COMPONENT)) {
		icalcomponent_kind k = icalcomponent_isa(c);
		if (k == ICAL_VTIMEZONE_COMPONENT)
			continue;
		if (kind != ICAL_NO_COMPONENT && k != kind) {
			invalid(cond, "valid-calendar-object-resource",
				"a calendar object resource holds one type of component");
			goto out;
		}
		kind = k;
		const char *u = icalcomponent_get_uid(c);
		if (!u || !*u) {
			invalid(cond, "valid-calendar-object-resource", "a component has no UID");
			goto out;
		}
		if (uid && strcmp(uid, u) != 0) {
			invalid(cond, "valid-calendar-object-resource",
				"components of one resource must share their UID");
			goto out;
		}
		uid = u;
	}
	if (kind == ICAL_NO_COMPONENT) {
		invalid(cond, "valid-calendar-object-resource", "no calendar component");
		goto out;
	}
	const char *kname = icalcomponent_kind_to_string(kind);
	if (!kname || !in_list(components, kname)) {
		invalid(cond, "supported-calendar-component",
			"the calendar does not accept this component type");
		goto out;
	}
	if (component_out && !(*component_out = grove__strdup(kname))) {
		invalid(cond, "valid-calendar-data", "out of memory");
		goto out;
	}
	rc = 0;
out:
	icalcomponent_free(cal);
	return rc;
}
