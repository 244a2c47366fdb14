/* The version fields of a vCard (UID, REV), read by a small line scanner:
 * libical does not read vCard 3/4, and only two properties matter here. */
#include "merge_dav.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"

/* "20240131T101500Z", "2024-01-31T10:15:00Z", "20240131": UTC seconds, 0 if
 * it does not look like a timestamp. */
static int64_t parse_rev(const char *s)
{
	char digits[15];
	size_t n = 0;
	int in_time = 0;
	struct tm tm;
	for (; *s && n < 14; s++) {
		if (isdigit((unsigned char)*s))
			digits[n++] = *s;
		else if (*s == 'T' || *s == 't')
			in_time = 1;
		else if (*s == 'Z' || *s == 'z' || ((*s == '+' || *s == '-') && in_time))
			break;
		else if (*s != '-' && *s != ':')
			break;
	}
	if (n < 8)
		return 0;
	while (n < 14)
		digits[n++] = '0';
	digits[14] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (sscanf(digits, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		    &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The property name of a logical line, without a group prefix ("item1.")
 * or parameters; *value points after the ':'. */
static int line_is(const char *line, const char *name, const char **value)
{
	const char *colon = strchr(line, ':'), *start = line, *end;
	size_t len = strlen(name);
	if (!colon)
		return 0;
	for (const char *p = line; p < colon && *p != ';'; p++)
		if (*p == '.')
			start = p + 1;
	end = start;
	while (end < colon && *end != ';')
		end++;
	if ((size_t)(end - start) != len || strncasecmp(start, name, len))
		return 0;
	*value = colon + 1;
	return 1;
}

int grove__vcard_version(const void *data, size_t size, grove__dav_version *out)
{
	const char *p = data, *end = p + size;
	grove__dav_version v;
	char *line = NULL;
	size_t cap = 0;
	int begun = 0;

	memset(&v, 0, sizeof(v));
	v.sequence = -1;
	while (p < end) {
		size_t n = 0;
		const char *value;
		/* One logical line: unfold CRLF/LF followed by a space or tab. */
		while (p < end) {
			if (*p == '\r' || *p == '\n') {
				const char *q = p;
				if (*q == '\r' && q + 1 < end && q[1] == '\n')
					q++;
				q++;
				if (q < end && (*q == ' ' || *q == '\t')) {
					p = q + 1;
					continue;
				}
				p = q;
				break;
			}
			if (n + 2 > cap) {
				char *nl = grove__realloc(line, cap ? cap * 2 : 128);
				if (!nl) {
					free(line);
					return GROVE_ENOMEM;
				}
				line = nl;
				cap = cap ? cap * 2 : 128;
			}
			line[n++] = *p++;
		}
		if (!n)
			continue;
		line[n] = '\0';
		if (!strncasecmp(line, "BEGIN:VCARD", 11))
			begun = 1;
		else if (line_is(line, "UID", &value) && !v.uid[0])
			snprintf(v.uid, sizeof(v.uid), "%s", value);
		else if (line_is(line, "REV", &value)) {
			int64_t t = parse_rev(value);
			if (t > v.modified)
				v.modified = t;
		}
	}
	free(line);
	if (!begun)
		return grove__error_set(GROVE_EINVALID, "not a vCard");
	*out = v;
	return 0;
}
