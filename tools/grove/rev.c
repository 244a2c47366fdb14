/* Revision syntax beyond grove_rev_resolve: abbreviated ids and the
 * ancestry suffixes ~N, ^ and ^N that git users type. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	grove_strarray refs;
	size_t cap;
} ref_names;

static int collect_ref(const char *refname, const grove_oid *id, void *payload)
{
	ref_names *r = payload;
	(void)id;
	if (r->refs.count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		char **s = realloc(r->refs.strings, cap * sizeof(*s));
		if (!s)
			return GROVE_ENOMEM;
		r->refs.strings = s;
		r->cap = cap;
	}
	if (!(r->refs.strings[r->refs.count] = strdup(refname)))
		return GROVE_ENOMEM;
	r->refs.count++;
	return 0;
}

static int is_hex_prefix(const char *s, size_t len)
{
	if (len < 4 || len >= GROVE_OID_HEXSZ)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Finds the one commit reachable from a ref whose id starts with prefix. */
static int resolve_abbrev(cli *c, const char *prefix, size_t len, grove_oid *out)
{
	ref_names r = { { 0 }, 0 };
	grove_oid found;
	int matches = 0, err = 0;
	char want[GROVE_OID_HEXSZ + 1];

	for (size_t i = 0; i < len; i++)
		want[i] = (char)tolower((unsigned char)prefix[i]);
	want[len] = 0;
	err = grove_ref_foreach(c->g, "", collect_ref, &r);
	for (size_t i = 0; err >= 0 && i < r.refs.count && matches < 2; i++) {
		grove_log *log = NULL;
		grove_oid start;
		grove_commit *commit;
		/* Refs to non-commits (a tag of a blob) have no history to search. */
		if (grove_rev_resolve(c->g, r.refs.strings[i], &start) < 0)
			continue;
		if ((err = grove_log_open_at(&log, c->g, &start, NULL)) < 0)
			break;
		while ((err = grove_log_next(log, &commit)) == 0) {
			char hex[GROVE_OID_HEXSZ + 1];
			if (!strncmp(grove_oid_tohex(hex, &commit->id), want, len)) {
				if (!matches || grove_oid_cmp(&found, &commit->id)) {
					found = commit->id;
					matches++;
				}
			}
			grove_commit_free(commit);
		}
		grove_log_free(log);
		if (err == GROVE_ITEROVER)
			err = 0;
	}
	grove_strarray_dispose(&r.refs);
	if (err < 0)
		return cli_fail(c, err);
	grove_error_clear();
	if (matches == 0)
		return cli_error(c, EXIT_FAIL, "revision '%s' not found", prefix);
	if (matches > 1)
		return cli_error(c, EXIT_INVALID, "short id '%s' is ambiguous", prefix);
	*out = found;
	return 0;
}

int cli_rev_resolve(cli *c, const char *rev, grove_oid *out)
{
	size_t base_len = strcspn(rev, "~^");
	char *base;
	const char *s;
	grove_oid id;
	int err;

	if (!*rev || !base_len)
		return cli_error(c, EXIT_INVALID, "invalid revision '%s'", rev);
	if (!(base = strndup(rev, base_len)))
		return cli_error(c, EXIT_STORE, "out of memory");
	err = grove_rev_resolve(c->g, base, &id);
	if (err == GROVE_ENOTFOUND && is_hex_prefix(base, base_len)) {
		int rc = resolve_abbrev(c, base, base_len, &id);
		free(base);
		if (rc)
			return rc;
	} else {
		free(base);
		if (err < 0)
			return cli_fail(c, err);
	}
	/* Suffixes: ~N walks N first parents, ^N takes the Nth parent. */
	for (s = rev + base_len; *s;) {
		char op = *s++;
		unsigned long n = 1;
		if (op != '~' && op != '^')
			return cli_error(c, EXIT_INVALID, "invalid revision '%s'", rev);
		if (isdigit((unsigned char)*s)) {
			char *end;
			n = strtoul(s, &end, 10);
			s = end;
			if (n > 100000)
				return cli_error(c, EXIT_INVALID, "invalid revision '%s'", rev);
		}
		for (unsigned long step = 0; step < (op == '~' ? n : 1); step++) {
			grove_commit *commit;
			size_t which = op == '~' ? 0 : n - 1;
			if (op == '^' && n == 0)
				break;
			if ((err = grove_commit_read(c->g, &id, &commit)) < 0)
				return cli_fail(c, err);
			if (which >= commit->parent_count) {
				grove_commit_free(commit);
				return cli_error(c, EXIT_FAIL, "revision '%s' not found: no such parent", rev);
			}
			id = commit->parents[which];
			grove_commit_free(commit);
		}
	}
	*out = id;
	return 0;
}
