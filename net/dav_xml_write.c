/* The XML writer for DAV responses: fixed prefixes for the four namespaces
 * every response uses, local declarations for any other. */
#include "dav_xml.h"
#include "error.h"

#include <string.h>

static const struct {
	const char *ns, *prefix;
} known[] = {
	{ DAV_NS_DAV, "D" },
	{ DAV_NS_CALDAV, "C" },
	{ DAV_NS_CARDDAV, "CARD" },
	{ DAV_NS_CS, "CS" },
};

/* The four known namespaces by pointer first: callers pass the DAV_NS_*
 * literals, so a multistatus of 10,000 members compares pointers, not
 * strings. */
static const char *prefix_of(const char *ns, size_t *plen)
{
	static const size_t lens[] = { 1, 1, 4, 2 };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].ns == ns) {
			*plen = lens[i];
			return known[i].prefix;
		}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].ns, ns) == 0) {
			*plen = lens[i];
			return known[i].prefix;
		}
	return NULL;
}

void grove__dav_xw_init(grove__dav_xw *w)
{
	/* only the fields that matter: the 1 KiB name stack needs no zeroing */
	w->buf = (grove__sbuf)GROVE_SBUF_INIT;
	w->rc = 0;
	w->depth = 0;
}

void grove__dav_xw_dispose(grove__dav_xw *w)
{
	grove__sbuf_dispose(&w->buf);
}

static void put_n(grove__dav_xw *w, const char *s, size_t n)
{
	if (w->rc == 0)
		w->rc = grove__sbuf_put(&w->buf, s, n);
}

static void put(grove__dav_xw *w, const char *s)
{
	put_n(w, s, strlen(s));
}

/* Appends "<" or "</", the qualified name and the suffix in one copy. */
static void tag(grove__dav_xw *w, const char *open, size_t olen, const char *ns,
		const char *name, const char *suffix, size_t slen)
{
	size_t plen = 0;
	const char *p = prefix_of(ns, &plen);
	if (!p && ns[0]) {
		if (open[1] == '/') {
			put_n(w, "</x:", 4);
			put(w, name);
			put_n(w, suffix, slen);
			return;
		}
		/* x is redeclared on each element using it: shadowing is legal */
		put_n(w, "<x:", 3);
		put(w, name);
		put_n(w, " xmlns:x=\"", 10);
		if (w->rc == 0)
			w->rc = grove__dav_xml_escape(&w->buf, ns, strlen(ns));
		put_n(w, "\"", 1);
		put_n(w, suffix, slen);
		return;
	}
	size_t nlen = strlen(name);
	size_t total = olen + (p ? plen + 1 : 0) + nlen + slen;
	if (w->rc == 0)
		w->rc = grove__sbuf_grow(&w->buf, total);
	if (w->rc < 0)
		return;
	char *o = w->buf.data + w->buf.len;
	memcpy(o, open, olen);
	o += olen;
	if (p) {
		memcpy(o, p, plen);
		o += plen;
		*o++ = ':';
	}
	memcpy(o, name, nlen);
	o += nlen;
	memcpy(o, suffix, slen);
	w->buf.len += total;
	w->buf.data[w->buf.len] = '\0';
}

/* Writes "<prefix:name" (or "<name" / a local declaration) without '>'. */
static void start_tag(grove__dav_xw *w, const char *ns, const char *name)
{
	tag(w, "<", 1, ns, name, "", 0);
}

static void end_tag(grove__dav_xw *w, const char *ns, const char *name)
{
	tag(w, "</", 2, ns, name, ">", 1);
}

void grove__dav_xw_root(grove__dav_xw *w, const char *ns, const char *name)
{
	put(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
	start_tag(w, ns, name);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		put(w, " xmlns:");
		put(w, known[i].prefix);
		put(w, "=\"");
		put(w, known[i].ns);
		put(w, "\"");
	}
	put(w, ">");
	if (w->depth < 64) {
		w->stack_ns[w->depth] = ns;
		w->stack_name[w->depth] = name;
	}
	w->depth++;
}

void grove__dav_xw_open(grove__dav_xw *w, const char *ns, const char *name)
{
	if (w->depth >= 64) {
		if (w->rc == 0)
			w->rc = grove__error_set(GROVE_EINVALID, "XML writer nested too deeply");
		return;
	}
	tag(w, "<", 1, ns, name, ">", 1);
	w->stack_ns[w->depth] = ns;
	w->stack_name[w->depth] = name;
	w->depth++;
}

void grove__dav_xw_close(grove__dav_xw *w)
{
	if (w->depth <= 0 || w->depth > 64) {
		if (w->rc == 0)
			w->rc = grove__error_set(GROVE_EINVALID, "XML writer: unbalanced close");
		return;
	}
	w->depth--;
	end_tag(w, w->stack_ns[w->depth], w->stack_name[w->depth]);
}

void grove__dav_xw_empty(grove__dav_xw *w, const char *ns, const char *name)
{
	tag(w, "<", 1, ns, name, "/>", 2);
}

/* 1 for the bytes copied as they are: printable ASCII but the five XML
 * specials, tab and newline (a table: this runs over every byte of a
 * multistatus). */
#define P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char plain_byte[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, /* \t \n */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /* " & ' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, /* < > */
	P16, P16, P16,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* DEL */
};
#undef P16

static int plain(unsigned char c)
{
	return plain_byte[c];
}

void grove__dav_xw_text(grove__dav_xw *w, const char *text, size_t len)
{
	/* runs of plain bytes in one copy; CRs (every line of iCalendar and
	 * vCard ends in CR LF) as a character reference in place; the rest
	 * (specials, control bytes, UTF-8 sequences: a plain byte is never
	 * inside one) through the full escaper */
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	if (w->rc == 0 && len > 64)
		w->rc = grove__sbuf_grow(&w->buf, len + len / 8); /* one growth, usually */
	while (i < len && w->rc == 0) {
		size_t j = i;
		while (j < len && plain(s[j]))
			j++;
		if (j > i)
			put_n(w, text + i, j - i);
		i = j;
		while (i < len && s[i] == '\r') {
			put_n(w, "&#13;", 5);
			i++;
		}
		j = i;
		while (j < len && !plain(s[j]) && s[j] != '\r')
			j++;
		if (j > i && w->rc == 0)
			w->rc = grove__dav_xml_escape(&w->buf, text + i, j - i);
		i = j;
	}
}

void grove__dav_xw_leaf(grove__dav_xw *w, const char *ns, const char *name, const char *text)
{
	tag(w, "<", 1, ns, name, ">", 1);
	grove__dav_xw_text(w, text, strlen(text));
	end_tag(w, ns, name);
}

void grove__dav_xw_raw(grove__dav_xw *w, const char *xml, size_t len)
{
	if (w->rc == 0)
		w->rc = grove__sbuf_put(&w->buf, xml, len);
}
