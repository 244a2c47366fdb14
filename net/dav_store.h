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
 *   /dav/<user>/files/                    plain WebDAV area (implicit):
 *   /dav/<user>/files/<a>/<b>/            collection: key <user>/files/a/b/.props
 *   /dav/<user>/files/<a>/<b>/<name>      resource: key <user>/files/a/b/<name>,
 *                                         the bytes exactly as PUT
 *   (dead properties of that resource)    key <user>/files/a/b/.props.d/<name>
 *
 * A calendar or address book exists iff its ".props" file exists (git
 * trees cannot hold empty directories).  Names starting with '.' are never
 * exposed over DAV.  Each user sees only the subtree named after them.
 *
 * The files area is ordinary WebDAV (RFC 4918 class 1): any bytes may be
 * PUT, collections nest to any depth, COPY and MOVE work on whole trees.
 * There every directory is a collection; MKCOL writes its ".props" (type
 * "collection") so that an empty collection exists in git too.  Dead
 * properties of a collection live in its .props, those of a resource in
 * the sidecar ".props.d/<name>" next to it (same format; written only when
 * the resource has some, removed with the resource), so a git clone shows
 * the files as they are.  Uploads there are not validated (neither by DAV
 * nor by git pushes, see dav_git.c).  Depth is bounded by
 * DAV_FILES_MAX_DEPTH; a directory pushed without .props is a collection
 * too, and vanishes when its last member is deleted.
 *
 * The .props file is readable UTF-8 text, one property per line:
 *
 *   # grove collection properties
 *   type: calendar                        (addressbook, collection)
 *   created: 2024-05-01T10:15:00Z         (RFC 3339; 20240501T101500Z is read too)
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
	DAV_R_HOME = 3,       /* /dav/<user>/calendars/, /dav/<user>/files/ */
	DAV_R_COLLECTION = 4, /* /dav/<user>/calendars/<cal>/, files/a/.../ */
	DAV_R_OBJECT = 5      /* /dav/<user>/calendars/<cal>/<name>, files/a/.../x */
} grove__dav_rtype;

typedef enum { DAV_CAL = 1, DAV_CARD = 2, DAV_FILES = 3 } grove__dav_family;

#define DAV_FILES_DIR "files"
#define DAV_PROPS_DIR ".props.d"
/* Deepest files-area path, in segments below /dav/<user>/files/. */
#define DAV_FILES_MAX_DEPTH 64

/*
 * In the files area the URL alone cannot tell a collection from a
 * resource: the parser guesses from a trailing '/' (COLLECTION) and
 * grove__dav_res_load settles it from the store.  There coll is NULL and
 * name is the last segment.
 */
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
/* "calendars" / "addressbooks" / "files". */
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
/* 1 when a property of namespace ns fits a .props line ('}' would end
 * the name early, CR or LF the line). */
int grove__dav_clark_storable(const char *ns);

/* "2024-05-01T10:15:00Z" from a stored creation time (RFC 3339 or the
 * basic form 20240501T101500Z); 0, or -1 when it is neither. */
int grove__dav_rfc3339(const char *stored, char out[32]);

struct grove__dav_xnode;
/*
 * A property element as a self-contained XML fragment for the .props file:
 * its namespace declared as the default, attribute namespaces declared
 * (xml:lang kept as xml:lang), and the xml:lang in scope from the request's
 * enclosing elements copied onto it (RFC 4918 4.3), so that PROPFIND
 * returns the property exactly as it was set.
 */
int grove__dav_prop_serialize(grove__sbuf *out, const struct grove__dav_xnode *prop);
/* The xml:lang in scope at node (its own or an ancestor's), or NULL. */
const char *grove__dav_prop_lang(const struct grove__dav_xnode *node);

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
