/* Minimal validation of vCard data uploaded by PUT (RFC 6352 section
 * 6.3.2.1, RFC 6350 section 6): exactly one BEGIN:VCARD ... END:VCARD with
 * VERSION, FN and UID properties.  Lines may be folded (RFC 6350 3.2) and
 * property names may carry a group prefix ("item1.TEL"). */
#include "dav_internal.h"
#include "error.h"

#include <string.h>
#include <strings.h>

static int invalid(const char **cond, const char *msg)
{
	*cond = "valid-address-data";
	grove__error_set(GROVE_EINVALID, "%s", msg);
	return -1;
}

/* The property name of a logical line: group dropped, up to ';' or ':'. */
static void prop_name(const char *line, size_t len, char *out, size_t cap)
{
	size_t start = 0, i = 0;
	while (i < len && line[i] != ';' && line[i] != ':') {
		if (line[i] == '.')
			start = i + 1;
		i++;
	}
	size_t n = i - start;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, line + start, n);
	out[n] = '\0';
}

/* The value after the first ':' of the line (unfolded continuation lines
 * do not matter for BEGIN/END/VERSION). */
static int value_is(const char *line, size_t len, const char *want)
{
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return 0;
	size_t vlen = len - (size_t)(colon + 1 - line);
	return vlen == strlen(want) && strncasecmp(colon + 1, want, vlen) == 0;
}

int grove__carddav_validate(const char *data, size_t len, const char **cond)
{
	if (len == 0 || memchr(data, '\0', len))
		return invalid(cond, "empty or binary vCard data");
	int depth = 0, cards = 0, ended = 0;
	int has_version = 0, has_fn = 0, has_uid = 0;
	size_t i = 0;
	while (i < len) {
		const char *line = data + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (depth == 0)
				return invalid(cond, "text outside BEGIN:VCARD/END:VCARD");
			continue; /* a folded continuation */
		}
		if (!memchr(line, ':', n))
			return invalid(cond, "a vCard line without ':'");
		char name[32];
		prop_name(line, n, name, sizeof(name));
		if (strcasecmp(name, "BEGIN") == 0 && value_is(line, n, "VCARD")) {
			if (depth > 0 || ended)
				return invalid(cond, "one vCard per resource");
			depth = 1;
			cards++;
			continue;
		}
		if (depth == 0)
			return invalid(cond, "text outside BEGIN:VCARD/END:VCARD");
		if (strcasecmp(name, "END") == 0 && value_is(line, n, "VCARD")) {
			depth = 0;
			ended = 1;
		} else if (strcasecmp(name, "VERSION") == 0) {
			if (!value_is(line, n, "3.0") && !value_is(line, n, "4.0"))
				return invalid(cond, "VERSION must be 3.0 or 4.0");
			has_version = 1;
		} else if (strcasecmp(name, "FN") == 0) {
			has_fn = 1;
		} else if (strcasecmp(name, "UID") == 0) {
			has_uid = 1;
		}
	}
	if (cards != 1 || !ended)
		return invalid(cond, "not one complete BEGIN:VCARD ... END:VCARD");
	if (!has_version || !has_fn || !has_uid)
		return invalid(cond, "a vCard needs VERSION, FN and UID");
	return 0;
}
