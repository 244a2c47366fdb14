/* URL paths of the DAV namespace: traversal checks, mapping onto store keys
 * and canonical hrefs.  Everything is refused here, before the store. */
#include "dav_store.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *grove__dav_family_dir(grove__dav_family f)
{
	return f == DAV_FILES ? DAV_FILES_DIR : f == DAV_CARD ? "addressbooks" : "calendars";
}

int grove__dav_href_segment(grove__sbuf *out, const char *seg)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;
	for (const unsigned char *p = (const unsigned char *)seg; *p && rc == 0; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '@' || c == '+')
			rc = grove__sbuf_putc(out, (char)c);
		else
			rc = grove__sbuf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	return rc;
}

void grove__dav_path_dispose(grove__dav_path *p)
{
	free(p->user);
	free(p->coll);
	free(p->name);
	free(p->key);
	free(p->href);
	memset(p, 0, sizeof(*p));
}

/* 1 when the raw target hides a separator or control byte in an escape, or
 * carries a fragment (not part of a request-target: RFC 9112 3.2; taking
 * "coll/#frag" for "coll/" would let a DELETE remove the collection). */
static int raw_is_suspicious(const char *raw)
{
	for (const char *p = raw; *p && *p != '?'; p++) {
		if (*p == '#')
			return 1;
		if (*p != '%')
			continue;
		if (strncasecmp(p, "%2f", 3) == 0 || strncasecmp(p, "%5c", 3) == 0 ||
		    strncmp(p, "%00", 3) == 0)
			return 1;
	}
	return 0;
}

/* Key and href from the segments; in the calendar model the first three
 * levels are collections, in the files area every level but a guessed
 * resource (no trailing '/' in the request) is. */
static int build(grove__dav_path *out, const char *prefix, char **seg, size_t n, int files,
		 int trailing)
{
	grove__sbuf key = GROVE_SBUF_INIT, href = GROVE_SBUF_INIT;
	int rc = grove__sbuf_puts(&key, "");
	if (rc == 0)
		rc = grove__sbuf_puts(&href, prefix);
	if (rc == 0)
		rc = grove__sbuf_putc(&href, '/');
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i)
			rc = grove__sbuf_putc(&key, '/');
		if (rc == 0)
			rc = grove__sbuf_puts(&key, seg[i]);
		if (rc == 0)
			rc = grove__dav_href_segment(&href, seg[i]);
		if (rc == 0 && (files ? (i + 1 < n || trailing || n == 2) : i + 1 < 4))
			rc = grove__sbuf_putc(&href, '/');
	}
	if (rc < 0) {
		grove__sbuf_dispose(&key);
		grove__sbuf_dispose(&href);
		return rc;
	}
	out->key = grove__sbuf_detach(&key, NULL);
	out->href = grove__sbuf_detach(&href, NULL);
	return 0;
}

int grove__dav_path_parse(grove__dav_path *out, const char *prefix, const char *path,
			  const char *raw)
{
	memset(out, 0, sizeof(*out));
	if (raw && raw_is_suspicious(raw))
		return 400;
	size_t plen = strlen(prefix);
	if (strncmp(path, prefix, plen) != 0 || (path[plen] && path[plen] != '/'))
		return 404;
	const char *rest = path + plen;
	while (*rest == '/')
		rest++;
	if (rest > path + plen + 1)
		return 400; /* "//" right after the prefix */
	char *copy = grove__strdup(rest);
	if (!copy)
		return 500;
	char *seg[2 + DAV_FILES_MAX_DEPTH + 1] = { 0 };
	size_t n = 0, max = 4;
	int status = 0, trailing = 0;
	char *p = copy;
	while (*p && status == 0) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (!*p || strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
			status = 400; /* empty segment, dot segments: traversal */
		else if (strchr(p, '\\'))
			status = 400;
		else if (p[0] == '.')
			status = 404; /* .props and other hidden names */
		else if (grove_key_validate(p) < 0)
			status = 400;
		else if (n == max)
			status = 404; /* deeper than an object */
		else
			seg[n++] = p;
		if (n == 2 && strcmp(seg[1], DAV_FILES_DIR) == 0)
			max = 2 + DAV_FILES_MAX_DEPTH;
		if (!slash)
			break;
		p = slash + 1;
		trailing = !*p;
	}
	if (status == 0 && n >= 2) {
		if (strcmp(seg[1], "calendars") == 0)
			out->family = DAV_CAL;
		else if (strcmp(seg[1], "addressbooks") == 0)
			out->family = DAV_CARD;
		else if (strcmp(seg[1], DAV_FILES_DIR) == 0)
			out->family = DAV_FILES;
		else
			status = 404;
	}
	if (status == 0 && out->family == DAV_FILES) {
		/* a guess settled by grove__dav_res_load */
		out->type = n == 2 ? DAV_R_HOME : trailing ? DAV_R_COLLECTION : DAV_R_OBJECT;
		if (!(out->user = grove__strdup(seg[0])) ||
		    (n >= 3 && !(out->name = grove__strdup(seg[n - 1]))) ||
		    build(out, prefix, seg, n, 1, trailing) < 0)
			status = 500;
	} else if (status == 0) {
		out->type = (grove__dav_rtype)(DAV_R_ROOT + n);
		if ((n >= 1 && !(out->user = grove__strdup(seg[0]))) ||
		    (n >= 3 && !(out->coll = grove__strdup(seg[2]))) ||
		    (n >= 4 && !(out->name = grove__strdup(seg[3]))) ||
		    build(out, prefix, seg, n, 0, 0) < 0)
			status = 500;
	}
	free(copy);
	if (status)
		grove__dav_path_dispose(out);
	return status;
}
