/* Shared between the files of the DAV server (not for other layers). */
#ifndef GROVE_NET_DAV_INTERNAL_H
#define GROVE_NET_DAV_INTERNAL_H

#include "dav_server.h"
#include "dav_store.h"
#include "dav_xml.h"

struct grove__dav_server {
	grove__dav_store st;
	char *prefix;
	char *realm;
	grove__htpasswd *htpasswd;
	uint64_t quota_bytes;
	grove__dav_xml_limits xml_limits;
};

/* One request being answered. */
typedef struct {
	grove__dav_server *srv;
	grove__http_request *req;
	grove__http_response *res;
	const char *user;        /* authenticated */
	grove__dav_path path;
	const char *method;
} grove__dav_ctx;

/* What a path names in a given tree. */
typedef struct {
	grove__dav_rtype type;
	grove__dav_family family;
	char *href;               /* owned */
	char *key;                /* owned; store key */
	char *name;               /* owned; last segment, or NULL */
	grove_oid id;             /* blob (object) or tree (collection), zeros otherwise */
	grove__dav_props props;   /* collection properties */
	int exists;
	int coll_exists;          /* COLLECTION, OBJECT: the collection's .props exists */
} grove__dav_res;

/* Looks up what the request path names; 0 or an HTTP status. */
int grove__dav_res_load(grove__dav_ctx *c, grove_view *v, const grove__dav_path *p,
			grove__dav_res *out);
/* The child (collection or object) name of parent. */
int grove__dav_res_child(grove__dav_ctx *c, grove_view *v, const grove__dav_res *parent,
			 const char *name, grove__dav_res *out);
void grove__dav_res_dispose(grove__dav_res *r);
/* Reads a collection's .props (absent: empty, *exists 0). */
int grove__dav_props_load(grove_view *v, const char *coll_key, grove__dav_props *out,
			  int *exists);

/* The HTTP date of the commit that last changed key, walking back from head. */
int grove__dav_last_modified(grove__dav_ctx *c, const grove_oid *head, const char *key,
			     char out[64]);
/* Reason phrases, with the WebDAV ones the HTTP engine does not know. */
const char *grove__dav_reason(int status);
/* Answers with an XML body. */
void grove__dav_send_xml(grove__dav_ctx *c, int status, grove__dav_xw *w);
/* Answers status with <D:error><ns:cond/></D:error>. */
void grove__dav_send_cond(grove__dav_ctx *c, int status, const char *ns, const char *cond);
void grove__dav_send_status(grove__dav_ctx *c, int status);
/* <D:status>HTTP/1.1 NNN Reason</D:status> */
void grove__dav_status_line(grove__dav_xw *w, int status);
/* A multistatus <D:response> for href: the found properties under 200 (an
 * empty 200 propstat when none were asked for), the missing ones under 404. */
void grove__dav_propstat_response(grove__dav_xw *w, const char *href, const grove__dav_xw *found,
				  const grove__dav_xw *missing);

/* Evaluates If-Match / If-None-Match against the current ETag (NULL when
 * the resource does not exist): 0, or 412 (304 for a GET's If-None-Match
 * when is_read). */
int grove__dav_preconditions(grove__http_request *req, const char *etag, int is_read);
/* If-Unmodified-Since (412) and, for reads, If-Modified-Since (304) against
 * the time key last changed; evaluated after the ETag conditions. */
int grove__dav_date_conditions(grove__dav_ctx *c, grove_view *v, const char *key, int exists, int is_read);
/* DELETE's checks against one base: the resource exists (else 404) and
 * If-Match / If-None-Match hold for its ETag.  0 or an HTTP status. */
int grove__dav_delete_check(grove__dav_ctx *c, grove_view *base);
/* Answers a successful PUT of body: its ETag, 201 when created, else 204. */
void grove__dav_send_put_done(grove__dav_ctx *c, const void *body, size_t len, int created);

/* Validation of uploaded data: 0, or -1 with a precondition element name
 * in *cond and a message in grove_error_message(). */
int grove__caldav_validate(const char *data, size_t len, const char *components,
			   const char **cond, char **component_out);
int grove__carddav_validate(const char *data, size_t len, const char **cond);

/* Properties: fills w with the value element of {ns}name for r; 1 found,
 * 0 not found, < 0 error. */
int grove__dav_prop_get(grove__dav_ctx *c, grove_view *v, grove__dav_res *r, const char *ns,
			const char *name, grove__dav_xw *w);
/* Writes getcontentlength, the size of the object r: 1, or -1 when it
 * cannot be read. */
int grove__dav_prop_write_length(grove__dav_ctx *c, const grove__dav_res *r, const char *ns,
				 const char *name, grove__dav_xw *w);
/* Writes a stored (dead or client-set) property {ns}name from props: 1
 * written, 0 not stored, -1 out of memory. */
int grove__dav_prop_write_stored(const grove__dav_props *props, const char *ns, const char *name,
				 grove__dav_xw *w);
/* Applies a set (value non-NULL) or remove to props; 0 or an HTTP status
 * (403 protected, 409 bad value) with *cond naming a precondition. */
int grove__dav_prop_apply(grove__dav_props *props, grove__dav_family fam,
			  const grove__dav_xnode *prop, int remove, int creating,
			  const char **cond);

/* Method handlers. */
void grove__dav_do_options(grove__dav_ctx *c);
void grove__dav_do_get(grove__dav_ctx *c);
void grove__dav_do_put(grove__dav_ctx *c);
void grove__dav_do_delete(grove__dav_ctx *c);
void grove__dav_do_propfind(grove__dav_ctx *c);
void grove__dav_do_proppatch(grove__dav_ctx *c);
void grove__dav_do_mkcol(grove__dav_ctx *c);
void grove__dav_do_copymove(grove__dav_ctx *c, int move);
/* REPORT (dav_report.c). */
void grove__dav_do_report(grove__dav_ctx *c);
/* The largest calendar object or vCard a PUT accepts (advertised as
 * max-resource-size). */
#define DAV_MAX_RESOURCE_SIZE (1u << 20)
/* PUT preconditions (caldav_preconditions.c): max-resource-size (0 or
 * 403), and no-uid-conflict against base (0, 500, or 403 with the href of
 * the member holding the UID in *conflict_href, to free). */
int grove__dav_put_size_check(size_t len);
int grove__dav_put_uid_check(grove__dav_ctx *c, grove_view *base, const char *data, size_t len,
			     char **conflict_href);
void grove__dav_send_uid_conflict(grove__dav_ctx *c, const char *href);

/* A change record for the commit message. */
void grove__dav_change_init(grove__dav_ctx *c, grove__dav_change *ch);
/* Parses the request body as XML; NULL body: *out NULL, returns 0. Sends
 * 400 and returns -1 when malformed. */
int grove__dav_body_xml(grove__dav_ctx *c, grove__dav_xnode **out);

#endif
