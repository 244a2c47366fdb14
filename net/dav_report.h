/*
 * dav_report.h - the REPORT method of the DAV server (internal).
 *
 * Reports: DAV:sync-collection (RFC 6578), CALDAV:calendar-multiget,
 * calendar-query and free-busy-query (RFC 4791), CARDDAV:addressbook-
 * multiget and addressbook-query (RFC 6352).  Every report reads one view
 * of the branch head, so its answer is consistent with one commit.
 */
#ifndef GROVE_NET_DAV_REPORT_H
#define GROVE_NET_DAV_REPORT_H

#include <libical/ical.h>
#include <time.h>

#include "dav_internal.h"

/* One REPORT being answered. */
typedef struct {
	grove__dav_ctx *c;
	grove_view *v;
	grove__dav_res target;          /* the request URI */
	grove__dav_xnode *doc;          /* the request body's root */
	const grove__dav_xnode *prop;   /* its <D:prop>, or NULL */
	int depth;                      /* 0, 1 (infinity counts as 1) */
	icaltimezone *floating;         /* zone for floating times, or NULL */
	grove__dav_xw w;                /* the multistatus being written */
	/* an error answer instead of 207: a precondition element (ns, name),
	 * and optionally a raw XML fragment to put inside it */
	const char *cond_ns, *cond;
	char *cond_body;
	/* grove__dav_report_object: whether r->prop asks only for getetag and
	 * the data property as stored (1), or more (2); 0 until known */
	int simple;
} grove__dav_report;

/* A report: returns 0 when r->w holds the 207 body, else an HTTP status
 * (with r->cond naming a precondition element when one applies). */
typedef int (*grove__dav_report_fn)(grove__dav_report *r);

int grove__dav_report_sync(grove__dav_report *r);
int grove__dav_report_multiget(grove__dav_report *r);
int grove__caldav_report_query(grove__dav_report *r);
int grove__caldav_report_freebusy(grove__dav_report *r);
int grove__carddav_report_query(grove__dav_report *r);

/* Writes one <D:response> for an object: the properties of r->prop
 * (getetag, calendar-data and address-data included) for the blob at
 * key.  data may be NULL (read when a property needs it).  Returns 0 or
 * an HTTP status. */
int grove__dav_report_object(grove__dav_report *r, const char *href, const char *key,
			     const char *name, const grove_oid *blob, const char *data,
			     size_t len);
/* <D:response><D:href/><D:status>HTTP/1.1 404 ...</D:status></D:response> */
void grove__dav_report_status(grove__dav_report *r, const char *href, int status);
/* The canonical href of a member of the target collection. */
int grove__dav_report_member_href(grove__dav_report *r, const char *name, grove__sbuf *out);
/* Calls fn for every member (object) of the target collection, or for the
 * target itself when it is an object; stops at a non-zero return. */
typedef int (*grove__dav_member_fn)(grove__dav_report *r, const char *name, const char *key,
				    const grove_oid *blob, void *arg);
int grove__dav_report_members(grove__dav_report *r, grove__dav_member_fn fn, void *arg);
/* Checks the calendar-data / address-data specs among the requested
 * properties: 0, or an HTTP status with r->cond set. */
int grove__dav_report_check_specs(grove__dav_report *r);
/* Reads a blob; 0 or 500. */
int grove__dav_report_read(grove__dav_report *r, const grove_oid *blob, grove_buf *out);

/* ---- CalDAV helpers (caldav_*.c) ---------------------------------------- */

#define CALDAV_T_MIN ((time_t)-(INT64_C(1) << 40))
#define CALDAV_T_MAX ((time_t)(INT64_C(1) << 40))
/* Instances gathered for one master at most (a rule without end in a huge
 * range stops here; rules without COUNT start near the range). */
#define CALDAV_MAX_INSTANCES 20000

/* A UTC date-time "20060104T000000Z" into *out; -1 when malformed or not
 * UTC. */
int grove__caldav_parse_utc(const char *s, time_t *out);
/* The start/end attributes of a time-range-like element (absent start:
 * CALDAV_T_MIN, absent end: CALDAV_T_MAX); need_one: at least one must be
 * given.  -1 when malformed or end <= start. */
int grove__caldav_range(const grove__dav_xnode *e, int need_one, time_t *start, time_t *end);
/* The time zone of a calendar-timezone value (a VCALENDAR holding one
 * VTIMEZONE); NULL when absent or unusable.  Free with
 * grove__caldav_tz_free. */
icaltimezone *grove__caldav_tz_from_text(const char *text);
void grove__caldav_tz_free(icaltimezone *tz);

/* The value of prop (DTSTART, DUE, RECURRENCE-ID...) as UTC seconds, with
 * TZID resolved inside the calendar (or among the system zones) and
 * floating times in floating (UTC when NULL). */
time_t grove__caldav_time(struct icaltimetype t, icaltimezone *floating);
struct icaltimetype grove__caldav_prop_time(icalproperty *p);

/* One instance of a component's recurrence set. */
typedef struct {
	icalcomponent *comp;      /* master or overriding component */
	time_t start, end;        /* end == start: no duration */
	int has_start;
	time_t due;               /* VTODO: DUE (or start + DURATION) */
	int has_due, has_duration;
	time_t rid;               /* the instance's recurrence id (UTC) */
	int recurring;            /* part of a recurrence set */
} grove__caldav_inst;

/* fn returns 0 to go on, 1 to stop (success), < 0 on error. */
typedef int (*grove__caldav_inst_fn)(void *arg, const grove__caldav_inst *in);
/*
 * Enumerates the instances of comp (a VEVENT, VTODO or VJOURNAL) whose
 * start is below hi, in order, for as long as they may still reach lo:
 * for a master, its RRULE/RDATE expansion less EXDATEs and less the
 * instances overridden by a sibling with the same UID; for an override
 * (RECURRENCE-ID), itself.  Returns 1 when fn stopped, 0, or < 0.
 */
int grove__caldav_instances(icalcomponent *comp, icaltimezone *floating, time_t lo, time_t hi,
			    grove__caldav_inst_fn fn, void *arg);
/* Whether an instance of a component of kind overlaps [lo, hi) (RFC 4791
 * section 9.9). */
int grove__caldav_inst_overlaps(icalcomponent_kind kind, const grove__caldav_inst *in,
				time_t lo, time_t hi);

/* Filters (RFC 4791 9.7): check returns 0, or an HTTP status with *cond
 * (CALDAV:valid-filter, supported-filter, supported-collation). */
int grove__caldav_filter_check(const grove__dav_xnode *filter, const char **cond);
/* 1 match, 0 no match, < 0 error; filter must have passed the check. */
int grove__caldav_filter_match(const grove__dav_xnode *filter, icalcomponent *cal,
			       icaltimezone *floating);

/* calendar-data (RFC 4791 9.6): check returns 0 or an HTTP status with
 * *cond; render writes the selected/expanded calendar into out. */
int grove__caldav_data_check(const grove__dav_xnode *spec, const char **cond);
int grove__caldav_data_render(const grove__dav_xnode *spec, const char *data, size_t len,
			      icaltimezone *floating, grove__sbuf *out);

/* address-data (RFC 6352 10.4). */
int grove__carddav_data_check(const grove__dav_xnode *spec, const char **cond);
int grove__carddav_data_render(const grove__dav_xnode *spec, const char *data, size_t len,
			       grove__sbuf *out);

/* Text matching shared by both filters: collation "i;octet",
 * "i;ascii-casemap", "i;unicode-casemap"; match_type "equals",
 * "contains", "starts-with", "ends-with".  1 / 0, or -1 for an unknown
 * collation or match type. */
int grove__dav_text_match(const char *value, const char *text, const char *collation,
			  const char *match_type);
/* 1 when the collation / match type is supported. */
int grove__dav_collation_ok(const char *collation);
int grove__dav_match_type_ok(const char *match_type);
/* The value of attribute name (no namespace) of e, or NULL. */
const char *grove__dav_xml_attr(const grove__dav_xnode *e, const char *name);

#endif
