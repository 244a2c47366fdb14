/*
 * dav_store.h - how CalDAV/CardDAV data lives in a grove store (internal).
 *
 * Data model
 * ----------
 * Everything is on one branch (default "main").  URLs below the DAV prefix
 * (default "/dav") map one-to-one onto store keys:
 *
 *   URL                                   store
 *   /dav/                                 (root: lists the caller's principal)
 *   /dav/<user>/                          principal of <user> (implicit)
 *   /dav/<user>/calendars/                calendar home (implicit)
 *   /dav/<user>/calendars/<cal>/          calendar: key <user>/calendars/<cal>/.props
 *   /dav/<user>/calendars/<cal>/<name>    calendar object: key .../<cal>/<name>,
 *                                         one iCalendar file (clients name
 *                                         it <uid>.ics)
 *   /dav/<user>/addressbooks/             address book home (implicit)
 *   /dav/<user>/addressbooks/<book>/      address book: .../<book>/.props
 *   /dav/<user>/addressbooks/<book>/<name>  one vCard file (<uid>.vcf)
 *
 * A collection exists iff its ".props" file exists (git trees cannot hold
 * empty directories).  Names starting with '.' are never exposed over DAV.
 * Each user sees only the subtree named after them.
 *
 * The .props file is readable UTF-8 text, one property per line:
 *
 *   # grove collection properties
 *   type: calendar                        (or addressbook)
 *   created: 20240501T101500Z
 *   components: VEVENT VTODO              (supported-calendar-component-set)
 *   {DAV:}displayname: Work
 *   {urn:ietf:params:xml:ns:caldav}calendar-timezone: BEGIN:VCALENDAR\r\n...
 *   {http://apple.com/ns/ical/}calendar-color: #FF0000FF
 *   {urn:x}complex <complex xmlns="urn:x"><a>1</a></complex>
 *
 * A line is a name -- a bare word for grove's own fields, or a property in
 * Clark notation {namespace}local -- followed by ": " and the property's
 * text, or by " " and the property element as a self-contained XML fragment
 * (for values with child elements or attributes).  In both forms '\\',
 * CR and LF are written as \\, \r and \n, so any value survives exactly.
 * Lines starting with '#' and unknown bare words are kept as they are.
 *
 * Versions: the ETag of an object is its blob id (strong, quoted); the
 * ctag of a collection is its tree id; a sync token is a commit id,
 * "http://grove/sync/<40 hex>".  Every write request is one commit whose
 * author is the authenticated user and whose message names the method,
 * the resource and the client's User-Agent.
 */
#ifndef GROVE_NET_DAV_STORE_H
#define GROVE_NET_DAV_STORE_H

#include <stddef.h>

#include "grove.h"
#include "sbuf.h"

#define DAV_PROPS_FILE ".props"
#define DAV_SYNC_PREFIX "http://grove/sync/"

/* ---- URL paths -------------------------------------------------------- */

typedef enum {
	DAV_R_ROOT = 1,       /* /dav/ */
	DAV_R_PRINCIPAL = 2,  /* /dav/<user>/ */
	DAV_R_HOME = 3,       /* /dav/<user>/calendars/ */
	DAV_R_COLLECTION = 4, /* /dav/<user>/calendars/<cal>/ */
	DAV_R_OBJECT = 5      /* /dav/<user>/calendars/<cal>/<name> */
} grove__dav_rtype;

typedef enum { DAV_CAL = 1, DAV_CARD = 2 } grove__dav_family;

typedef struct {
	grove__dav_rtype type;
	grove__dav_family family;  /* HOME, COLLECTION, OBJECT */
	char *user, *coll, *name;  /* NULL where the level is absent */
	char *key;                 /* store key ("" for the root) */
	char *href;                /* canonical URL path, percent-encoded */
} grove__dav_path;

/*
 * Parses a decoded request path below prefix.  raw is the raw request
 * target (for checks decoding hides: %2F).  Returns 0, or the HTTP status
 * to answer: 400 for traversal attempts and malformed paths, 404 for
 * paths outside the model or hidden names.
 */
int grove__dav_path_parse(grove__dav_path *out, const char *prefix, const char *path,
			  const char *raw);
void grove__dav_path_dispose(grove__dav_path *p);
/* "calendars" / "addressbooks". */
const char *grove__dav_family_dir(grove__dav_family f);
/* Appends a percent-encoded path segment (RFC 3986 unreserved kept). */
int grove__dav_href_segment(grove__sbuf *out, const char *seg);

/* ---- collection properties (.props) ----------------------------------- */

typedef struct {
	char *name;   /* "type", "components", or "{ns}local" */
	char *value;  /* text, or the element as XML when is_xml */
	int is_xml;
} grove__dav_prop;

typedef struct {
	grove__dav_prop *items;
	size_t count;
} grove__dav_props;

/* GROVE_EINVALID for a malformed file. */
int grove__dav_props_parse(grove__dav_props *out, const char *data, size_t len);
int grove__dav_props_format(const grove__dav_props *p, grove__sbuf *out);
const grove__dav_prop *grove__dav_props_get(const grove__dav_props *p, const char *name);
/* Replaces or appends (copies name and value). */
int grove__dav_props_set(grove__dav_props *p, const char *name, const char *value, int is_xml);
/* 1 removed, 0 absent. */
int grove__dav_props_remove(grove__dav_props *p, const char *name);
void grove__dav_props_dispose(grove__dav_props *p);
/* "{ns}local" into a new string. */
char *grove__dav_clark(const char *ns, const char *local);

/* ---- the store and writes ---------------------------------------------- */

typedef struct {
	grove *g;
	char *branch;
	char *mail_domain;
} grove__dav_store;

/* "\"<hex>\"" into out (at least 43 bytes). */
void grove__dav_etag(char out[GROVE_OID_HEXSZ + 3], const grove_oid *blob);

/*
 * One write request.  build checks the request's preconditions against
 * base (the tree the transaction starts from) and stages its changes; it
 * returns 0 or the HTTP status to answer (nothing is committed then).
 * When the branch moved meanwhile, the transaction is rebased and recheck
 * (if given) runs against the new base: a resource whose staged change is
 * independent of the base (PUT, DELETE) just re-checks its preconditions.
 * Without recheck, or when the rebase fails, build runs again from scratch
 * on a new transaction.
 */
typedef struct {
	int (*build)(void *arg, grove_txn *txn, grove_view *base);
	int (*recheck)(void *arg, grove_view *base);
	void *arg;
} grove__dav_write;

typedef struct {
	const char *user;        /* author */
	const char *method;      /* "PUT" */
	const char *resource;    /* URL path */
	const char *user_agent;  /* may be NULL */
	const char *detail;      /* optional extra line */
} grove__dav_change;

/*
 * Runs a write to completion.  Returns 0 with *commit_out set when it
 * landed, or the HTTP status to answer (a precondition's status, or 500/507
 * on a store failure; 503 if it kept losing races).
 */
int grove__dav_commit(grove__dav_store *st, const grove__dav_write *w,
		      const grove__dav_change *change, grove_oid *commit_out);

/* A view of the branch head (an empty view when the branch is unborn). */
int grove__dav_view(grove__dav_store *st, grove_view **out);

#endif
