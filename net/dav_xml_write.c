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

static const char *prefix_of(const char *ns)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].ns, ns) == 0)
			return known[i].prefix;
	return NULL;
}

void grove__dav_xw_init(grove__dav_xw *w)
{
	memset(w, 0, sizeof(*w));
}

void grove__dav_xw_dispose(grove__dav_xw *w)
{
	grove__sbuf_dispose(&w->buf);
}

static void put(grove__dav_xw *w, const char *s)
{
	if (w->rc == 0)
		w->rc = grove__sbuf_puts(&w->buf, s);
}

/* Writes "<prefix:name" (or "<name" / a local declaration) without '>'. */
static void start_tag(grove__dav_xw *w, const char *ns, const char *name)
{
	const char *p = prefix_of(ns);
	put(w, "<");
	if (p) {
		put(w, p);
		put(w, ":");
		put(w, name);
	} else if (!ns[0]) {
		put(w, name);
	} else {
		/* x is redeclared on each element using it: shadowing is legal */
		put(w, "x:");
		put(w, name);
		put(w, " xmlns:x=\"");
		if (w->rc == 0)
			w->rc = grove__dav_xml_escape(&w->buf, ns, strlen(ns));
		put(w, "\"");
	}
}

static void end_tag(grove__dav_xw *w, const char *ns, const char *name)
{
	const char *p = prefix_of(ns);
	put(w, "</");
	if (p) {
		put(w, p);
		put(w, ":");
	} else if (ns[0]) {
		put(w, "x:");
	}
	put(w, name);
	put(w, ">");
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
	start_tag(w, ns, name);
	put(w, ">");
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
	start_tag(w, ns, name);
	put(w, "/>");
}

void grove__dav_xw_text(grove__dav_xw *w, const char *text, size_t len)
{
	if (w->rc == 0)
		w->rc = grove__dav_xml_escape(&w->buf, text, len);
}

void grove__dav_xw_leaf(grove__dav_xw *w, const char *ns, const char *name, const char *text)
{
	start_tag(w, ns, name);
	put(w, ">");
	grove__dav_xw_text(w, text, strlen(text));
	end_tag(w, ns, name);
}

void grove__dav_xw_raw(grove__dav_xw *w, const char *xml, size_t len)
{
	if (w->rc == 0)
		w->rc = grove__sbuf_put(&w->buf, xml, len);
}
