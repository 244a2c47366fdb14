/* The DAV request-body parser: expat with namespaces into a bounded DOM.
 * DOCTYPEs and entity declarations are refused outright, so no entity can
 * be defined, expanded or fetched. */
#include "dav_xml.h"
#include "error.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Namespace URI and local name arrive joined by this byte ("uri local");
 * a URI cannot contain a space, a local name neither. */
#define NS_SEP ' '

typedef struct {
	XML_Parser parser;
	grove__dav_xml_limits lim;
	grove__dav_xnode *root, *cur;
	unsigned depth;
	size_t elements, text;
	int rc;
	char why[160];
} parse_state;

static void fail(parse_state *st, int rc, const char *why)
{
	if (st->rc == 0) {
		st->rc = rc;
		snprintf(st->why, sizeof(st->why), "%s", why);
	}
	XML_StopParser(st->parser, XML_FALSE);
}

static void node_free(grove__dav_xnode *n)
{
	while (n) {
		grove__dav_xnode *next = n->next;
		node_free(n->first);
		free(n->ns);
		free(n->name);
		for (size_t i = 0; i < n->nattrs; i++) {
			free(n->attrs[i].ns);
			free(n->attrs[i].name);
			free(n->attrs[i].value);
		}
		free(n->attrs);
		free(n->text);
		free(n);
		n = next;
	}
}

void grove__dav_xml_free(grove__dav_xnode *root)
{
	node_free(root);
}

/* Splits "uri local" (or "local") into two new strings. */
static int split_name(const XML_Char *full, char **ns, char **name)
{
	const char *sep = strrchr(full, NS_SEP);
	if (sep) {
		*ns = grove__strndup(full, (size_t)(sep - full));
		*name = grove__strdup(sep + 1);
	} else {
		*ns = grove__strdup("");
		*name = grove__strdup(full);
	}
	if (!*ns || !*name) {
		free(*ns);
		free(*name);
		return GROVE_ENOMEM;
	}
	return 0;
}

static void append_child(grove__dav_xnode *parent, grove__dav_xnode *n)
{
	n->parent = parent;
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	parse_state *st = ud;
	if (st->rc)
		return;
	if (st->depth + 1 > st->lim.max_depth)
		return fail(st, GROVE_EINVALID, "XML nested too deeply");
	if (++st->elements > st->lim.max_elements)
		return fail(st, GROVE_EINVALID, "XML has too many elements");
	grove__dav_xnode *n = grove__calloc(1, sizeof(*n));
	if (!n)
		return fail(st, GROVE_ENOMEM, "out of memory");
	n->kind = DAV_XML_ELEMENT;
	if (split_name(name, &n->ns, &n->name) < 0) {
		free(n);
		return fail(st, GROVE_ENOMEM, "out of memory");
	}
	if (st->cur)
		append_child(st->cur, n);
	else
		st->root = n;
	st->cur = n;
	st->depth++;
	size_t count = 0;
	while (atts[2 * count])
		count++;
	if (count == 0)
		return;
	if (st->elements + count > st->lim.max_elements)
		return fail(st, GROVE_EINVALID, "XML has too many attributes");
	st->elements += count;
	n->attrs = grove__calloc(count, sizeof(*n->attrs));
	if (!n->attrs)
		return fail(st, GROVE_ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		grove__dav_xattr *a = &n->attrs[i];
		size_t vlen = strlen(atts[2 * i + 1]);
		st->text += vlen;
		if (st->text > st->lim.max_text)
			return fail(st, GROVE_EINVALID, "XML has too much text");
		if (split_name(atts[2 * i], &a->ns, &a->name) < 0)
			return fail(st, GROVE_ENOMEM, "out of memory");
		n->nattrs++;
		a->value = grove__strdup(atts[2 * i + 1]);
		if (!a->value)
			return fail(st, GROVE_ENOMEM, "out of memory");
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	parse_state *st = ud;
	(void)name;
	if (st->rc || !st->cur)
		return;
	st->cur = st->cur->parent;
	st->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	parse_state *st = ud;
	if (st->rc || !st->cur || len <= 0)
		return;
	st->text += (size_t)len;
	if (st->text > st->lim.max_text)
		return fail(st, GROVE_EINVALID, "XML has too much text");
	grove__dav_xnode *last = st->cur->last;
	if (last && last->kind == DAV_XML_TEXT) {
		/* expat delivers runs in pieces: join them */
		char *p = grove__realloc(last->text, last->text_len + (size_t)len + 1);
		if (!p)
			return fail(st, GROVE_ENOMEM, "out of memory");
		memcpy(p + last->text_len, s, (size_t)len);
		last->text_len += (size_t)len;
		p[last->text_len] = '\0';
		last->text = p;
		return;
	}
	grove__dav_xnode *n = grove__calloc(1, sizeof(*n));
	if (!n)
		return fail(st, GROVE_ENOMEM, "out of memory");
	n->kind = DAV_XML_TEXT;
	n->text = grove__strndup(s, (size_t)len);
	if (!n->text) {
		free(n);
		return fail(st, GROVE_ENOMEM, "out of memory");
	}
	n->text_len = (size_t)len;
	append_child(st->cur, n);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(ud, GROVE_EINVALID, "DOCTYPE declarations are not accepted");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
				   const XML_Char *value, int value_len, const XML_Char *base,
				   const XML_Char *sysid, const XML_Char *pubid,
				   const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	fail(ud, GROVE_EINVALID, "entity declarations are not accepted");
}

int grove__dav_xml_parse(grove__dav_xnode **out, const char *data, size_t len,
			 const grove__dav_xml_limits *limits)
{
	parse_state st;
	memset(&st, 0, sizeof(st));
	if (limits)
		st.lim = *limits;
	if (!st.lim.max_depth)
		st.lim.max_depth = 32;
	if (!st.lim.max_elements)
		st.lim.max_elements = 10000;
	if (!st.lim.max_text)
		st.lim.max_text = 1u << 20;
	if (len > (size_t)INT32_MAX)
		return grove__error_set(GROVE_EINVALID, "XML body too large");
	XML_Char sep = NS_SEP;
	st.parser = XML_ParserCreateNS("UTF-8", sep);
	if (!st.parser)
		return grove__error_oom();
	XML_SetUserData(st.parser, &st);
	XML_SetElementHandler(st.parser, on_start, on_end);
	XML_SetCharacterDataHandler(st.parser, on_text);
	XML_SetStartDoctypeDeclHandler(st.parser, on_doctype);
	XML_SetEntityDeclHandler(st.parser, on_entity_decl);
	XML_SetParamEntityParsing(st.parser, XML_PARAM_ENTITY_PARSING_NEVER);
	enum XML_Status s = XML_Parse(st.parser, data, (int)len, XML_TRUE);
	int rc = 0;
	if (st.rc) {
		rc = grove__error_set(st.rc, "%s", st.why);
	} else if (s != XML_STATUS_OK) {
		rc = grove__error_set(GROVE_EINVALID, "malformed XML at line %lu: %s",
				      (unsigned long)XML_GetCurrentLineNumber(st.parser),
				      XML_ErrorString(XML_GetErrorCode(st.parser)));
	} else if (!st.root) {
		rc = grove__error_set(GROVE_EINVALID, "XML has no root element");
	}
	XML_ParserFree(st.parser);
	if (rc < 0) {
		node_free(st.root);
		return rc;
	}
	*out = st.root;
	return 0;
}

/* ---- DOM queries ---------------------------------------------------------- */

int grove__dav_xml_is(const grove__dav_xnode *node, const char *ns, const char *name)
{
	return node && node->kind == DAV_XML_ELEMENT && strcmp(node->ns, ns) == 0 &&
	       strcmp(node->name, name) == 0;
}

grove__dav_xnode *grove__dav_xml_first_element(const grove__dav_xnode *node)
{
	if (!node)
		return NULL;
	for (grove__dav_xnode *c = node->first; c; c = c->next)
		if (c->kind == DAV_XML_ELEMENT)
			return c;
	return NULL;
}

grove__dav_xnode *grove__dav_xml_next_element(const grove__dav_xnode *node)
{
	if (!node)
		return NULL;
	for (grove__dav_xnode *c = node->next; c; c = c->next)
		if (c->kind == DAV_XML_ELEMENT)
			return c;
	return NULL;
}

grove__dav_xnode *grove__dav_xml_child(const grove__dav_xnode *node, const char *ns,
				       const char *name)
{
	for (grove__dav_xnode *c = grove__dav_xml_first_element(node); c;
	     c = grove__dav_xml_next_element(c))
		if (grove__dav_xml_is(c, ns, name))
			return c;
	return NULL;
}

char *grove__dav_xml_text(const grove__dav_xnode *node)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	if (grove__sbuf_puts(&b, "") < 0)
		return NULL;
	for (grove__dav_xnode *c = node ? node->first : NULL; c; c = c->next)
		if (c->kind == DAV_XML_TEXT && grove__sbuf_put(&b, c->text, c->text_len) < 0) {
			grove__sbuf_dispose(&b);
			return NULL;
		}
	return grove__sbuf_detach(&b, NULL);
}

int grove__dav_xml_is_text_only(const grove__dav_xnode *node)
{
	return node->nattrs == 0 && grove__dav_xml_first_element(node) == NULL;
}

/* ---- escaping ------------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		min = 0x80;
		c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		min = 0x800;
		c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		min = 0x10000;
		c &= 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe ||
	    c == 0xffff)
		return 0;
	return len;
}

int grove__dav_xml_escape(grove__sbuf *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	int rc = 0;
	for (size_t i = 0; i < len && rc == 0;) {
		unsigned char c = s[i];
		switch (c) {
		case '&': rc = grove__sbuf_puts(out, "&amp;"); i++; continue;
		case '<': rc = grove__sbuf_puts(out, "&lt;"); i++; continue;
		case '>': rc = grove__sbuf_puts(out, "&gt;"); i++; continue;
		case '"': rc = grove__sbuf_puts(out, "&quot;"); i++; continue;
		case '\'': rc = grove__sbuf_puts(out, "&apos;"); i++; continue;
		case '\r': rc = grove__sbuf_puts(out, "&#13;"); i++; continue;
		case '\t': case '\n': rc = grove__sbuf_putc(out, (char)c); i++; continue;
		default: break;
		}
		if (c < 0x20) { /* not allowed in XML 1.0 at all: drop */
			i++;
			continue;
		}
		size_t n = utf8_len(s + i, len - i);
		if (n == 0) { /* invalid UTF-8: U+FFFD */
			rc = grove__sbuf_puts(out, "\xef\xbf\xbd");
			i++;
			continue;
		}
		rc = grove__sbuf_put(out, s + i, n);
		i += n;
	}
	return rc;
}

/* ---- serialising a DOM fragment --------------------------------------------- */

static int serialize(grove__sbuf *out, const grove__dav_xnode *n, const char *parent_ns)
{
	int rc = 0;
	if (n->kind == DAV_XML_TEXT)
		return grove__dav_xml_escape(out, n->text, n->text_len);
	rc = grove__sbuf_printf(out, "<%s", n->name);
	if (rc == 0 && (!parent_ns || strcmp(parent_ns, n->ns) != 0)) {
		/* the default namespace changes here (xmlns="" undeclares it) */
		rc = grove__sbuf_puts(out, " xmlns=\"");
		if (rc == 0)
			rc = grove__dav_xml_escape(out, n->ns, strlen(n->ns));
		if (rc == 0)
			rc = grove__sbuf_putc(out, '"');
	}
	for (size_t i = 0; i < n->nattrs && rc == 0; i++) {
		const grove__dav_xattr *a = &n->attrs[i];
		if (a->ns[0]) {
			rc = grove__sbuf_printf(out, " xmlns:a%zu=\"", i);
			if (rc == 0)
				rc = grove__dav_xml_escape(out, a->ns, strlen(a->ns));
			if (rc == 0)
				rc = grove__sbuf_printf(out, "\" a%zu:%s=\"", i, a->name);
		} else {
			rc = grove__sbuf_printf(out, " %s=\"", a->name);
		}
		if (rc == 0)
			rc = grove__dav_xml_escape(out, a->value, strlen(a->value));
		if (rc == 0)
			rc = grove__sbuf_putc(out, '"');
	}
	if (rc == 0 && !n->first)
		return grove__sbuf_puts(out, "/>");
	if (rc == 0)
		rc = grove__sbuf_putc(out, '>');
	for (const grove__dav_xnode *c = n->first; c && rc == 0; c = c->next)
		rc = serialize(out, c, n->ns);
	if (rc == 0)
		rc = grove__sbuf_printf(out, "</%s>", n->name);
	return rc;
}

int grove__dav_xml_serialize(grove__sbuf *out, const grove__dav_xnode *node)
{
	if (!node || node->kind != DAV_XML_ELEMENT)
		return grove__error_set(GROVE_EINVALID, "not an element");
	return serialize(out, node, NULL);
}
