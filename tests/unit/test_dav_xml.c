/* The DAV XML parser (bounds, refused DTDs, malformed input) and writer. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grove.h"
#include "../../net/dav_xml.h"

static grove__dav_xnode *parse_ok(const char *xml)
{
	grove__dav_xnode *root = NULL;
	int rc = grove__dav_xml_parse(&root, xml, strlen(xml), NULL);
	cr_assert_eq(rc, 0, "%s: %s", xml, grove_error_message());
	cr_assert_not_null(root);
	return root;
}

static void parse_fails(const char *xml, const grove__dav_xml_limits *lim, const char *msg)
{
	grove__dav_xnode *root = (grove__dav_xnode *)0x1;
	int rc = grove__dav_xml_parse(&root, xml, strlen(xml), lim);
	cr_assert_eq(rc, GROVE_EINVALID, "expected a failure for %.80s", xml);
	cr_assert_eq(root, (grove__dav_xnode *)0x1, "out untouched on failure");
	cr_assert(strstr(grove_error_message(), msg), "message '%s' lacks '%s'",
		  grove_error_message(), msg);
}

Test(dav_xml, propfind_with_namespaces)
{
	grove__dav_xnode *r = parse_ok(
		"<?xml version=\"1.0\"?>\n"
		"<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">"
		"<d:prop><d:displayname/><c:calendar-data/><x xmlns=\"urn:y\" a=\"1\">t&amp;u</x>"
		"</d:prop></d:propfind>");
	cr_assert(grove__dav_xml_is(r, DAV_NS_DAV, "propfind"));
	grove__dav_xnode *prop = grove__dav_xml_child(r, DAV_NS_DAV, "prop");
	cr_assert_not_null(prop);
	grove__dav_xnode *e = grove__dav_xml_first_element(prop);
	cr_assert(grove__dav_xml_is(e, DAV_NS_DAV, "displayname"));
	e = grove__dav_xml_next_element(e);
	cr_assert(grove__dav_xml_is(e, DAV_NS_CALDAV, "calendar-data"));
	e = grove__dav_xml_next_element(e);
	cr_assert(grove__dav_xml_is(e, "urn:y", "x"));
	cr_assert_eq(e->nattrs, 1);
	cr_assert_str_eq(e->attrs[0].name, "a");
	cr_assert_str_eq(e->attrs[0].value, "1");
	char *t = grove__dav_xml_text(e);
	cr_assert_str_eq(t, "t&u");
	free(t);
	cr_assert_null(grove__dav_xml_next_element(e));
	grove__dav_xml_free(r);
}

Test(dav_xml, no_namespace_element)
{
	grove__dav_xnode *r = parse_ok("<a><b>x</b></a>");
	cr_assert_str_eq(r->ns, "");
	cr_assert_str_eq(r->name, "a");
	grove__dav_xml_free(r);
}

Test(dav_xml, malformed_inputs)
{
	parse_fails("", NULL, "malformed XML");
	parse_fails("<a>", NULL, "malformed XML");
	parse_fails("<a></b>", NULL, "malformed XML");
	parse_fails("<a>&undefined;</a>", NULL, "malformed XML");
	parse_fails("<p:a/>", NULL, "malformed XML"); /* unbound prefix */
	parse_fails("<a/><b/>", NULL, "malformed XML");
	parse_fails("not xml at all", NULL, "malformed XML");
	parse_fails("<a>\xff\xfe</a>", NULL, "malformed XML");
}

Test(dav_xml, billion_laughs_refused)
{
	const char *xml =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		"]>\n"
		"<lolz>&lol4;</lolz>";
	parse_fails(xml, NULL, "DOCTYPE");
}

Test(dav_xml, xxe_system_entity_never_read)
{
	/* If the entity were resolved, /etc/passwd's "root:" would appear in the
	 * text; the DOCTYPE is refused before that can happen. */
	const char *xml =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE d:propfind [ <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> ]>\n"
		"<d:propfind xmlns:d=\"DAV:\"><d:prop><d:displayname>&xxe;</d:displayname>"
		"</d:prop></d:propfind>";
	parse_fails(xml, NULL, "DOCTYPE");
	const char *param =
		"<!DOCTYPE a [ <!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p; ]><a/>";
	parse_fails(param, NULL, "DOCTYPE");
	parse_fails("<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>", NULL, "DOCTYPE");
}

Test(dav_xml, depth_limit)
{
	char buf[4096] = "";
	for (int i = 0; i < 40; i++)
		strcat(buf, "<a>");
	for (int i = 0; i < 40; i++)
		strcat(buf, "</a>");
	parse_fails(buf, NULL, "too deeply");
	grove__dav_xml_limits lim = { .max_depth = 64 };
	grove__dav_xnode *r;
	cr_assert_eq(grove__dav_xml_parse(&r, buf, strlen(buf), &lim), 0);
	grove__dav_xml_free(r);
}

Test(dav_xml, element_limit)
{
	size_t n = 20000;
	char *buf = malloc(n * 4 + 16);
	char *p = buf;
	p += sprintf(p, "<a>");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "<b/>");
	sprintf(p, "</a>");
	parse_fails(buf, NULL, "too many elements");
	free(buf);
	grove__dav_xml_limits lim = { .max_elements = 3 };
	parse_fails("<a><b/><b/><b/></a>", &lim, "too many elements");
	parse_fails("<a x=\"1\" y=\"2\" z=\"3\"/>", &lim, "too many attributes");
}

Test(dav_xml, text_limit)
{
	grove__dav_xml_limits lim = { .max_text = 8 };
	parse_fails("<a>123456789</a>", &lim, "too much text");
	parse_fails("<a b=\"123456789\"/>", &lim, "too much text");
	grove__dav_xnode *r;
	cr_assert_eq(grove__dav_xml_parse(&r, "<a>12345678</a>", 15, &lim), 0);
	grove__dav_xml_free(r);
}

Test(dav_xml, serialize_fragment_round_trips)
{
	grove__dav_xnode *r = parse_ok(
		"<p:x xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" q:at=\"v&lt;\">a<p:y>b</p:y>"
		"<z>c</z>d</p:x>");
	grove__sbuf out = GROVE_SBUF_INIT;
	cr_assert_eq(grove__dav_xml_serialize(&out, r), 0);
	grove__dav_xnode *again = parse_ok(out.data);
	grove__sbuf out2 = GROVE_SBUF_INIT;
	cr_assert_eq(grove__dav_xml_serialize(&out2, again), 0);
	cr_assert_str_eq(out.data, out2.data);
	cr_assert(grove__dav_xml_is(again, "urn:p", "x"));
	grove__dav_xnode *z = grove__dav_xml_child(again, "", "z");
	cr_assert_not_null(z, "no-namespace child keeps no namespace: %s", out.data);
	cr_assert_str_eq(again->attrs[0].ns, "urn:q");
	cr_assert_str_eq(again->attrs[0].value, "v<");
	grove__sbuf_dispose(&out);
	grove__sbuf_dispose(&out2);
	grove__dav_xml_free(r);
	grove__dav_xml_free(again);
}

Test(dav_xml, writer_prefixes_and_escaping)
{
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_root(&w, DAV_NS_DAV, "multistatus");
	grove__dav_xw_open(&w, DAV_NS_DAV, "response");
	grove__dav_xw_leaf(&w, DAV_NS_DAV, "href", "/a&b<c>");
	grove__dav_xw_leaf(&w, DAV_NS_CALDAV, "calendar-description", "x\x01y\xff");
	grove__dav_xw_empty(&w, DAV_NS_CARDDAV, "addressbook");
	grove__dav_xw_empty(&w, DAV_NS_CS, "getctag");
	grove__dav_xw_leaf(&w, "http://apple.com/ns/ical/", "calendar-color", "#fff");
	grove__dav_xw_close(&w);
	grove__dav_xw_close(&w);
	cr_assert_eq(w.rc, 0);
	const char *s = w.buf.data;
	cr_assert(strstr(s, "<D:href>/a&amp;b&lt;c&gt;</D:href>"), "%s", s);
	cr_assert(strstr(s, "<C:calendar-description>xy\xef\xbf\xbd</C:calendar-description>"), "%s", s);
	cr_assert(strstr(s, "<CARD:addressbook/>"));
	cr_assert(strstr(s, "<CS:getctag/>"));
	cr_assert(strstr(s, "<x:calendar-color xmlns:x=\"http://apple.com/ns/ical/\">#fff</x:calendar-color>"), "%s", s);
	cr_assert(strstr(s, "</D:response></D:multistatus>"));
	/* and it parses back */
	grove__dav_xnode *r = parse_ok(s);
	grove__dav_xnode *resp = grove__dav_xml_child(r, DAV_NS_DAV, "response");
	cr_assert_not_null(grove__dav_xml_child(resp, "http://apple.com/ns/ical/", "calendar-color"));
	grove__dav_xml_free(r);
	grove__dav_xw_close(&w);
	cr_assert_neq(w.rc, 0, "an unbalanced close is an error");
	grove__dav_xw_dispose(&w);
}
