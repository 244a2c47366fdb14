/* The DAV XML writer's fast paths: bulk text escaping must give exactly
 * what the byte-by-byte escaper gives, tags with known and unknown
 * namespaces, and the first error sticking. */
#include <criterion/criterion.h>

#include <string.h>

#include "grove.h"
#include "../../net/dav_xml.h"

static void text_matches_escape(const char *text, size_t len)
{
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_text(&w, text, len);
	cr_assert_eq(w.rc, 0);
	grove__sbuf ref = GROVE_SBUF_INIT;
	cr_assert_eq(grove__dav_xml_escape(&ref, text, len), 0);
	cr_assert_eq(w.buf.len, ref.len, "length for %.40s", text);
	cr_assert(ref.len == 0 || memcmp(w.buf.data, ref.data, ref.len) == 0,
		  "'%s' vs '%s'", w.buf.data, ref.data);
	grove__sbuf_dispose(&ref);
	grove__dav_xw_dispose(&w);
}

Test(dav_xml_write, bulk_text_equals_escaper)
{
	static const char *const cases[] = {
		"", "plain", "\"0123abcd\"", "a&b<c>d\"e'f", "tab\tnl\ncr\r",
		"ctl\x01\x1f" "end", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"bad \xc3 utf8 \xff\xfe", "\xe2\x82", "\x7f del", "<<<>>>&&&",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		text_matches_escape(cases[i], strlen(cases[i]));
	/* every single byte value, alone and between plain text */
	for (int c = 1; c < 256; c++) {
		char one[8] = { 'a', (char)c, 'b', 0 };
		text_matches_escape(one + 1, 1);
		text_matches_escape(one, 3);
	}
}

Test(dav_xml_write, tags_and_namespaces)
{
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_open(&w, DAV_NS_DAV, "response");
	grove__dav_xw_leaf(&w, "DAV:", "href", "/a b&c");    /* known ns, not the literal */
	grove__dav_xw_empty(&w, DAV_NS_CALDAV, "calendar");
	grove__dav_xw_empty(&w, "", "bare");
	grove__dav_xw_leaf(&w, "urn:x&y", "odd", "v");
	grove__dav_xw_open(&w, DAV_NS_CS, "getctag");
	grove__dav_xw_close(&w);
	grove__dav_xw_close(&w);
	cr_assert_eq(w.rc, 0);
	cr_assert_str_eq(w.buf.data,
			 "<D:response><D:href>/a b&amp;c</D:href><C:calendar/><bare/>"
			 "<x:odd xmlns:x=\"urn:x&amp;y\">v</x:odd><CS:getctag></CS:getctag>"
			 "</D:response>");
	grove__dav_xw_dispose(&w);
}

Test(dav_xml_write, unbalanced_close_is_an_error)
{
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_close(&w);
	cr_assert_eq(w.rc, GROVE_EINVALID);
	size_t len = w.buf.len;
	grove__dav_xw_leaf(&w, DAV_NS_DAV, "href", "x");
	cr_assert_eq(w.buf.len, len, "nothing written after the first error");
	grove__dav_xw_dispose(&w);
}
