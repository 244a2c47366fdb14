/*
 * dav_xml.h - XML for WebDAV: a bounded request-body parser producing a
 * small DOM, and a writer for multistatus responses (internal).
 *
 * The parser runs on expat with namespace processing.  It is hardened for
 * untrusted bodies: any DOCTYPE or entity declaration stops the parse (so
 * neither entity expansion bombs nor external entities are possible),
 * parameter entities are never parsed, no external entity handler is set,
 * and depth, element count and total text are bounded.
 */
#ifndef GROVE_NET_DAV_XML_H
#define GROVE_NET_DAV_XML_H

#include <stddef.h>

#include "sbuf.h"

#define DAV_NS_DAV "DAV:"
#define DAV_NS_CALDAV "urn:ietf:params:xml:ns:caldav"
#define DAV_NS_CARDDAV "urn:ietf:params:xml:ns:carddav"
#define DAV_NS_CS "http://calendarserver.org/ns/"

typedef struct grove__dav_xattr {
	char *ns;    /* namespace URI, "" for none */
	char *name;  /* local name */
	char *value;
} grove__dav_xattr;

typedef enum { DAV_XML_ELEMENT = 1, DAV_XML_TEXT = 2 } grove__dav_xkind;

/* A node: an element (ns, name, attributes, children) or a text run. */
typedef struct grove__dav_xnode {
	grove__dav_xkind kind;
	char *ns;                      /* element: namespace URI, "" for none */
	char *name;                    /* element: local name */
	grove__dav_xattr *attrs;
	size_t nattrs;
	char *text;                    /* text node: the characters */
	size_t text_len;
	struct grove__dav_xnode *parent;
	struct grove__dav_xnode *first, *last, *next;
} grove__dav_xnode;

typedef struct {
	unsigned max_depth;    /* 0: 32 */
	size_t max_elements;   /* 0: 10000 */
	size_t max_text;       /* total bytes of character data; 0: 1 MiB */
} grove__dav_xml_limits;

/*
 * Parses a whole document.  On failure returns a negative grove code
 * (GROVE_EINVALID for malformed or refused input) with a message in
 * grove_error_message() and leaves *out untouched.
 */
int grove__dav_xml_parse(grove__dav_xnode **out, const char *data, size_t len,
			 const grove__dav_xml_limits *limits);
void grove__dav_xml_free(grove__dav_xnode *root);

/* 1 when node is the element {ns}name. */
int grove__dav_xml_is(const grove__dav_xnode *node, const char *ns, const char *name);
/* The first child element {ns}name, or NULL. */
grove__dav_xnode *grove__dav_xml_child(const grove__dav_xnode *node, const char *ns,
				       const char *name);
/* The next element sibling (any name) after node, or NULL; with node the
 * first child (of any kind) use grove__dav_xml_first_element. */
grove__dav_xnode *grove__dav_xml_first_element(const grove__dav_xnode *node);
grove__dav_xnode *grove__dav_xml_next_element(const grove__dav_xnode *node);
/* Concatenated text of the direct text children (a new string). */
char *grove__dav_xml_text(const grove__dav_xnode *node);
/* 1 when the element has no child elements and no attributes. */
int grove__dav_xml_is_text_only(const grove__dav_xnode *node);
/* Serialises an element and its subtree as a self-contained fragment
 * (every namespace declared where it is used). */
int grove__dav_xml_serialize(grove__sbuf *out, const grove__dav_xnode *node);

/* ---- writer ----------------------------------------------------------- */

/*
 * Writes elements with the fixed prefixes D: (DAV:), C: (CalDAV), CARD:
 * (CardDAV) and CS: (calendarserver.org); other namespaces are declared
 * on the element that uses them.  The first error sticks in rc.
 */
typedef struct {
	grove__sbuf buf;
	int rc;
	int depth;
	const char *stack_ns[64];
	const char *stack_name[64];
} grove__dav_xw;

void grove__dav_xw_init(grove__dav_xw *w);
void grove__dav_xw_dispose(grove__dav_xw *w);
/* XML declaration and the root element declaring the four prefixes. */
void grove__dav_xw_root(grove__dav_xw *w, const char *ns, const char *name);
/* ns and name must outlive the matching close. */
void grove__dav_xw_open(grove__dav_xw *w, const char *ns, const char *name);
void grove__dav_xw_close(grove__dav_xw *w);
void grove__dav_xw_empty(grove__dav_xw *w, const char *ns, const char *name);
void grove__dav_xw_text(grove__dav_xw *w, const char *text, size_t len);
/* <name>text</name> */
void grove__dav_xw_leaf(grove__dav_xw *w, const char *ns, const char *name, const char *text);
/* A pre-serialised, self-contained fragment. */
void grove__dav_xw_raw(grove__dav_xw *w, const char *xml, size_t len);
/* Escapes text for XML content or attribute values into out. */
int grove__dav_xml_escape(grove__sbuf *out, const char *text, size_t len);

#endif
