/*
 * git fsck's rules for single objects, in strict mode.  These guard what
 * grove accepts from outside (object writes, pushes), because a tree that
 * git refuses to check out (".git" entries, "..") is a security problem for
 * everyone who clones the store.
 */
#include "error.h"
#include "object.h"

#include <string.h>
#include <strings.h>

/* Whether [p, end) starts with lit; objects are not NUL-terminated. */
static int starts_with(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) >= n && !memcmp(p, lit, n);
}

static int name_is_dangerous(const char *name, size_t len)
{
	if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
		return 1;
	/* ".git" in any case, and its 8.3 short name, are refused like git does. */
	if (len == 4 && !strncasecmp(name, ".git", 4))
		return 1;
	if (len == 5 && !strncasecmp(name, "git~1", 5))
		return 1;
	/* ".git" followed only by dots or spaces is ".git" on Windows. */
	if (len > 4 && !strncasecmp(name, ".git", 4)) {
		size_t i = 4;
		while (i < len && (name[i] == '.' || name[i] == ' '))
			i++;
		if (i == len)
			return 1;
	}
	return 0;
}

static int check_tree(const void *data, size_t size)
{
	grove__tree *tree;
	const unsigned char *p = data;
	int err = grove__tree_parse(NULL, data, size, &tree);
	if (err < 0)
		return err;
	for (size_t i = 0; i < tree->count; i++) {
		const grove__tree_entry *e = &tree->entries[i];
		/* 100664 is what very old git wrote; git fsck only notes it. */
		if (!grove__mode_valid(e->mode) && e->mode != 0100664u) {
			err = grove__error_set(GROVE_ECORRUPT, "tree entry '%s' has bad mode %o", e->name, e->mode);
			break;
		}
		if (name_is_dangerous(e->name, e->name_len)) {
			err = grove__error_set(GROVE_ECORRUPT, "tree contains dangerous entry name '%s'", e->name);
			break;
		}
		if (i > 0) {
			const grove__tree_entry *prev = &tree->entries[i - 1];
			int c = grove__tree_entry_cmp(prev->name, prev->name_len, prev->mode,
				e->name, e->name_len, e->mode);
			if (c > 0) {
				err = grove__error_set(GROVE_ECORRUPT, "tree is not sorted at '%s'", e->name);
				break;
			}
			if (c == 0 || (prev->name_len == e->name_len && !memcmp(prev->name, e->name, e->name_len))) {
				err = grove__error_set(GROVE_ECORRUPT, "tree has duplicate entry '%s'", e->name);
				break;
			}
		}
	}
	/* Zero-padded modes ("040000") parse to valid numbers; git rejects them. */
	while (err == 0 && size > 0) {
		const unsigned char *nul = memchr(p, '\0', size);
		if (*p == '0') {
			err = grove__error_set(GROVE_ECORRUPT, "tree has a zero-padded file mode");
			break;
		}
		if ((size_t)(nul - p) + 1 + GROVE_OID_RAWSZ > size)
			break;
		size -= (size_t)(nul - p) + 1 + GROVE_OID_RAWSZ;
		p = nul + 1 + GROVE_OID_RAWSZ;
	}
	grove__tree_free(tree);
	return err;
}

static int is_hex40(const char *p, const char *end)
{
	if (end - p < 40)
		return 0;
	for (int i = 0; i < 40; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* "Name <email> 1234567890 +0100\n": git fsck's ident rules. */
static int check_ident(const char *p, const char *eol, const char *what)
{
	const char *lt = memchr(p, '<', (size_t)(eol - p));
	const char *gt = lt ? memchr(lt, '>', (size_t)(eol - lt)) : NULL;
	const char *q;
	if (!lt || !gt || (lt > p && lt[-1] != ' ') || memchr(lt + 1, '<', (size_t)(gt - lt - 1)))
		return grove__error_set(GROVE_ECORRUPT, "bad %s line: malformed name or email", what);
	if (memchr(p, '>', (size_t)(lt - p)))
		return grove__error_set(GROVE_ECORRUPT, "bad %s line: malformed name", what);
	q = gt + 1;
	if (q >= eol || *q != ' ')
		return grove__error_set(GROVE_ECORRUPT, "bad %s line: missing space before date", what);
	q++;
	if (q >= eol || *q < '0' || *q > '9' || (*q == '0' && q + 1 < eol && q[1] != ' '))
		return grove__error_set(GROVE_ECORRUPT, "bad %s line: bad date", what);
	while (q < eol && *q >= '0' && *q <= '9')
		q++;
	if (eol - q != 6 || q[0] != ' ' || (q[1] != '+' && q[1] != '-'))
		return grove__error_set(GROVE_ECORRUPT, "bad %s line: bad time zone", what);
	for (int i = 2; i < 6; i++)
		if (q[i] < '0' || q[i] > '9')
			return grove__error_set(GROVE_ECORRUPT, "bad %s line: bad time zone", what);
	return 0;
}

static const char *next_line(const char *p, const char *end)
{
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	return eol;
}

static int check_commit(const char *p, const char *end)
{
	const char *eol;
	int err;
	{
		const char *hdr_end = memmem(p, (size_t)(end - p), "\n\n", 2);
		if (memchr(p, '\0', (size_t)((hdr_end ? hdr_end : end) - p)))
			return grove__error_set(GROVE_ECORRUPT, "commit header contains a NUL byte");
	}
	if (!(eol = next_line(p, end)) || !starts_with(p, end, "tree ") || eol - p != 45 || !is_hex40(p + 5, eol))
		return grove__error_set(GROVE_ECORRUPT, "commit has a bad or missing tree line");
	p = eol + 1;
	while ((eol = next_line(p, end)) && starts_with(p, end, "parent ")) {
		if (eol - p != 47 || !is_hex40(p + 7, eol))
			return grove__error_set(GROVE_ECORRUPT, "commit has a bad parent line");
		p = eol + 1;
	}
	if (!eol || !starts_with(p, end, "author "))
		return grove__error_set(GROVE_ECORRUPT, "commit has no author line");
	if ((err = check_ident(p + 7, eol, "author")) < 0)
		return err;
	p = eol + 1;
	if (!(eol = next_line(p, end)) || !starts_with(p, end, "committer "))
		return grove__error_set(GROVE_ECORRUPT, "commit has no committer line");
	return check_ident(p + 10, eol, "committer");
}

static int check_tag(const char *p, const char *end)
{
	const char *eol;
	if (!(eol = next_line(p, end)) || !starts_with(p, end, "object ") || eol - p != 47 || !is_hex40(p + 7, eol))
		return grove__error_set(GROVE_ECORRUPT, "tag has a bad or missing object line");
	p = eol + 1;
	if (!(eol = next_line(p, end)) || !starts_with(p, end, "type ") ||
	    grove__otype_from_name(p + 5, (size_t)(eol - p - 5)) == GROVE_OBJ_BAD)
		return grove__error_set(GROVE_ECORRUPT, "tag has a bad or missing type line");
	p = eol + 1;
	if (!(eol = next_line(p, end)) || !starts_with(p, end, "tag ") || eol == p + 4)
		return grove__error_set(GROVE_ECORRUPT, "tag has a bad or missing tag line");
	p = eol + 1;
	if ((eol = next_line(p, end)) && starts_with(p, end, "tagger "))
		return check_ident(p + 7, eol, "tagger");
	return 0;
}

int grove__object_check(grove_otype type, const void *data, size_t size)
{
	switch (type) {
	case GROVE_OBJ_BLOB:
		return 0;
	case GROVE_OBJ_TREE:
		return check_tree(data, size);
	case GROVE_OBJ_COMMIT:
		return check_commit(data, (const char *)data + size);
	case GROVE_OBJ_TAG:
		return check_tag(data, (const char *)data + size);
	default:
		return grove__error_set(GROVE_EINVALID, "invalid object type %d", (int)type);
	}
}
