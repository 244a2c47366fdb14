/*
 * libFuzzer target: arbitrary bytes into the DAV XML parser with small
 * limits, then the serialiser and the writer over what was parsed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../net/dav_xml.h"

static void walk(const grove__dav_xnode *n, grove__dav_xw *w, int depth)
{
	for (const grove__dav_xnode *c = grove__dav_xml_first_element(n); c && depth < 60;
	     c = grove__dav_xml_next_element(c)) {
		char *t = grove__dav_xml_text(c);
		grove__dav_xw_leaf(w, c->ns, c->name, t ? t : "");
		free(t);
		walk(c, w, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	grove__dav_xml_limits lim = { .max_depth = 16, .max_elements = 500, .max_text = 8192 };
	grove__dav_xnode *root;
	if (grove__dav_xml_parse(&root, (const char *)data, size, &lim) < 0)
		return 0;
	grove__sbuf out = GROVE_SBUF_INIT;
	grove__dav_xml_serialize(&out, root);
	grove__sbuf_dispose(&out);
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_root(&w, "DAV:", "multistatus");
	walk(root, &w, 0);
	grove__dav_xw_close(&w);
	grove__dav_xw_dispose(&w);
	grove__dav_xml_free(root);
	return 0;
}
