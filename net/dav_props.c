/* The .props file of a collection: one property per line, lossless (see
 * dav_store.h for the format). */
#include "dav_store.h"
#include "dav_xml.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void grove__dav_props_dispose(grove__dav_props *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free(p->items[i].name);
		free(p->items[i].value);
	}
	free(p->items);
	p->items = NULL;
	p->count = 0;
}

int grove__dav_clark_storable(const char *ns)
{
	return strpbrk(ns, "}\r\n") == NULL;
}

char *grove__dav_clark(const char *ns, const char *local)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	if (grove__sbuf_printf(&b, "{%s}%s", ns, local) < 0)
		return NULL;
	return grove__sbuf_detach(&b, NULL);
}

const grove__dav_prop *grove__dav_props_get(const grove__dav_props *p, const char *name)
{
	for (size_t i = 0; i < p->count; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return &p->items[i];
	return NULL;
}

int grove__dav_props_set(grove__dav_props *p, const char *name, const char *value, int is_xml)
{
	char *v = grove__strdup(value);
	if (!v)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < p->count; i++) {
		if (strcmp(p->items[i].name, name) == 0) {
			free(p->items[i].value);
			p->items[i].value = v;
			p->items[i].is_xml = is_xml;
			return 0;
		}
	}
	char *n = grove__strdup(name);
	grove__dav_prop *items = n ? grove__realloc(p->items, (p->count + 1) * sizeof(*items)) : NULL;
	if (!items) {
		free(n);
		free(v);
		return GROVE_ENOMEM;
	}
	p->items = items;
	items[p->count].name = n;
	items[p->count].value = v;
	items[p->count].is_xml = is_xml;
	p->count++;
	return 0;
}

int grove__dav_props_remove(grove__dav_props *p, const char *name)
{
	for (size_t i = 0; i < p->count; i++) {
		if (strcmp(p->items[i].name, name) == 0) {
			free(p->items[i].name);
			free(p->items[i].value);
			memmove(&p->items[i], &p->items[i + 1], (p->count - i - 1) * sizeof(*p->items));
			p->count--;
			return 1;
		}
	}
	return 0;
}

/* Undoes the \\, \r, \n escapes of n bytes at s. */
static char *unescape(const char *s, size_t n)
{
	char *out = grove__malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char c = s[++i];
			out[o++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static int escape(grove__sbuf *out, const char *s)
{
	int rc = 0;
	for (; *s && rc == 0; s++) {
		if (*s == '\\')
			rc = grove__sbuf_puts(out, "\\\\");
		else if (*s == '\n')
			rc = grove__sbuf_puts(out, "\\n");
		else if (*s == '\r')
			rc = grove__sbuf_puts(out, "\\r");
		else
			rc = grove__sbuf_putc(out, *s);
	}
	return rc;
}

/* Parses one line (without its newline). */
static int parse_line(grove__dav_props *out, const char *line, size_t len)
{
	if (len == 0 || line[0] == '#')
		return 0;
	const char *end = line + len, *name_end, *val;
	int is_xml;
	if (line[0] == '{') {
		const char *close = memchr(line, '}', len);
		if (!close)
			return grove__error_set(GROVE_EINVALID, "props: unterminated {namespace}");
		name_end = close + 1;
		while (name_end < end && *name_end != ':' && *name_end != ' ')
			name_end++;
	} else {
		name_end = line;
		while (name_end < end && *name_end != ':' && *name_end != ' ')
			name_end++;
	}
	if (name_end == line || name_end >= end)
		return grove__error_set(GROVE_EINVALID, "props: line without a value");
	if (*name_end == ':') {
		if (name_end + 1 >= end || name_end[1] != ' ')
			val = name_end + 1; /* "name:" with an empty value */
		else
			val = name_end + 2;
		is_xml = 0;
	} else {
		val = name_end + 1;
		is_xml = 1;
	}
	char *name = grove__strndup(line, (size_t)(name_end - line));
	char *value = unescape(val, (size_t)(end - val));
	int rc = (name && value) ? grove__dav_props_set(out, name, value, is_xml) : GROVE_ENOMEM;
	free(name);
	free(value);
	return rc;
}

int grove__dav_props_parse(grove__dav_props *out, const char *data, size_t len)
{
	grove__dav_props p = { 0 };
	if (memchr(data, '\0', len)) {
		return grove__error_set(GROVE_EINVALID, "props: NUL byte");
	}
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
		int rc = parse_line(&p, data + i, n);
		if (rc < 0) {
			grove__dav_props_dispose(&p);
			return rc;
		}
		i += n + 1;
	}
	*out = p;
	return 0;
}

int grove__dav_props_format(const grove__dav_props *p, grove__sbuf *out)
{
	int rc = grove__sbuf_puts(out, "# grove collection properties\n");
	for (size_t i = 0; i < p->count && rc == 0; i++) {
		rc = grove__sbuf_puts(out, p->items[i].name);
		if (rc == 0)
			rc = grove__sbuf_puts(out, p->items[i].is_xml ? " " : ": ");
		if (rc == 0)
			rc = escape(out, p->items[i].value);
		if (rc == 0)
			rc = grove__sbuf_putc(out, '\n');
	}
	return rc;
}

/* ---- property elements as XML fragments ------------------------------------ */

#define XML_NS "http://www.w3.org/XML/1998/namespace"

static const char *own_attr(const grove__dav_xnode *n, const char *ns, const char *name)
{
	for (size_t i = 0; i < n->nattrs; i++)
		if (strcmp(n->attrs[i].ns, ns) == 0 && strcmp(n->attrs[i].name, name) == 0)
			return n->attrs[i].value;
	return NULL;
}

const char *grove__dav_prop_lang(const grove__dav_xnode *node)
{
	for (const grove__dav_xnode *n = node; n; n = n->parent) {
		const char *l = n->kind == DAV_XML_ELEMENT ? own_attr(n, XML_NS, "lang") : NULL;
		if (l)
			return l;
	}
	return NULL;
}

/* An attribute value: whitespace other than ' ' as character references,
 * or attribute-value normalisation would turn it into spaces. */
static int attr_value(grove__sbuf *out, const char *v)
{
	int rc = grove__sbuf_putc(out, '"');
	while (rc == 0 && *v) {
		size_t n = strcspn(v, "\t\n\r");
		rc = grove__dav_xml_escape(out, v, n);
		v += n;
		if (rc == 0 && *v) {
			rc = grove__sbuf_printf(out, "&#%d;", *v);
			v++;
		}
	}
	return rc == 0 ? grove__sbuf_putc(out, '"') : rc;
}

static int fragment(grove__sbuf *out, const grove__dav_xnode *n, const char *parent_ns,
		    const char *lang)
{
	if (n->kind == DAV_XML_TEXT)
		return grove__dav_xml_escape(out, n->text, n->text_len);
	int rc = grove__sbuf_printf(out, "<%s", n->name);
	if (rc == 0 && (!parent_ns || strcmp(parent_ns, n->ns) != 0)) {
		/* the default namespace changes here (xmlns="" undeclares it) */
		rc = grove__sbuf_puts(out, " xmlns=");
		if (rc == 0)
			rc = attr_value(out, n->ns);
	}
	if (rc == 0 && lang && !own_attr(n, XML_NS, "lang")) {
		rc = grove__sbuf_puts(out, " xml:lang=");
		if (rc == 0)
			rc = attr_value(out, lang);
	}
	for (size_t i = 0; i < n->nattrs && rc == 0; i++) {
		const grove__dav_xattr *a = &n->attrs[i];
		if (strcmp(a->ns, XML_NS) == 0) {
			rc = grove__sbuf_printf(out, " xml:%s=", a->name);
		} else if (a->ns[0]) {
			rc = grove__sbuf_printf(out, " xmlns:a%zu=", i);
			if (rc == 0)
				rc = attr_value(out, a->ns);
			if (rc == 0)
				rc = grove__sbuf_printf(out, " a%zu:%s=", i, a->name);
		} else {
			rc = grove__sbuf_printf(out, " %s=", a->name);
		}
		if (rc == 0)
			rc = attr_value(out, a->value);
	}
	if (rc == 0 && !n->first)
		return grove__sbuf_puts(out, "/>");
	if (rc == 0)
		rc = grove__sbuf_putc(out, '>');
	for (const grove__dav_xnode *ch = n->first; ch && rc == 0; ch = ch->next)
		rc = fragment(out, ch, n->ns, NULL);
	if (rc == 0)
		rc = grove__sbuf_printf(out, "</%s>", n->name);
	return rc;
}

int grove__dav_prop_serialize(grove__sbuf *out, const grove__dav_xnode *prop)
{
	if (!prop || prop->kind != DAV_XML_ELEMENT)
		return grove__error_set(GROVE_EINVALID, "not an element");
	/* the language in scope from <set>, <prop> or the document */
	const char *inherited = own_attr(prop, XML_NS, "lang") ? NULL
								: grove__dav_prop_lang(prop->parent);
	return fragment(out, prop, NULL, inherited);
}

/* ---- dates ------------------------------------------------------------------ */

int grove__dav_rfc3339(const char *s, char out[32])
{
	int Y, M, D, h, m, sec;
	char z;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &Y, &M, &D, &h, &m, &sec, &z) == 7 && z == 'Z' &&
	    strlen(s) == 20) {
		memcpy(out, s, 21);
		return 0;
	}
	if (strlen(s) == 16 && s[8] == 'T' && s[15] == 'Z' &&
	    sscanf(s, "%4d%2d%2dT%2d%2d%2d", &Y, &M, &D, &h, &m, &sec) == 6) {
		snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", Y, M, D, h, m, sec);
		return 0;
	}
	return -1;
}
