/* git commit and tag objects: parse and write. */
#include "error.h"
#include "object.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Whether [p, end) starts with lit; objects are not NUL-terminated. */
static int starts_with(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) >= n && !memcmp(p, lit, n);
}

/* Parses "Name <email> 1234567890 +0100" (without the header keyword). */
static int parse_person(const char *p, const char *end, grove_person *out)
{
	const char *lt = memchr(p, '<', (size_t)(end - p));
	const char *gt = lt ? memchr(lt, '>', (size_t)(end - lt)) : NULL;
	const char *q;
	int64_t t = 0;
	int tz = 0, sign = 1;
	size_t nlen;

	if (!lt || !gt)
		return grove__error_set(GROVE_ECORRUPT, "malformed commit: bad person line");
	nlen = (size_t)(lt - p);
	if (nlen && p[nlen - 1] == ' ')
		nlen--;
	out->name = grove__strndup(p, nlen);
	out->email = grove__strndup(lt + 1, (size_t)(gt - lt - 1));
	if (!out->name || !out->email) {
		free(out->name);
		free(out->email);
		out->name = out->email = NULL;
		return GROVE_ENOMEM;
	}
	q = gt + 1;
	while (q < end && *q == ' ')
		q++;
	while (q < end && *q >= '0' && *q <= '9')
		t = t * 10 + (*q++ - '0');
	while (q < end && *q == ' ')
		q++;
	if (q < end && (*q == '+' || *q == '-')) {
		sign = *q == '-' ? -1 : 1;
		q++;
		if (end - q >= 4) {
			int hh = (q[0] - '0') * 10 + (q[1] - '0');
			int mm = (q[2] - '0') * 10 + (q[3] - '0');
			tz = sign * (hh * 60 + mm);
		}
	}
	out->time = t;
	out->tz_offset = tz;
	return 0;
}

void grove_commit_free(grove_commit *c)
{
	if (!c)
		return;
	free(c->parents);
	free(c->author.name);
	free(c->author.email);
	free(c->committer.name);
	free(c->committer.email);
	free(c->message);
	free(c);
}

int grove__commit_parse(const grove_oid *id, const void *data, size_t size, grove_commit **out)
{
	const char *p = data, *end = p + size;
	grove_commit *c = grove__calloc(1, sizeof(*c));
	size_t cap = 0;
	int have_tree = 0, err = 0;

	if (!c)
		return GROVE_ENOMEM;
	if (id)
		c->id = *id;
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol) {
			err = grove__error_set(GROVE_ECORRUPT, "malformed commit: unterminated header");
			goto fail;
		}
		if (starts_with(p, end, "tree ") && eol - p == 45 && !have_tree) {
			if ((err = grove_oid_fromhex(&c->tree, p + 5)) < 0)
				goto corrupt;
			have_tree = 1;
		} else if (starts_with(p, end, "parent ") && eol - p == 47) {
			if (c->parent_count == cap) {
				grove_oid *np;
				cap = cap ? cap * 2 : 2;
				np = grove__realloc(c->parents, cap * sizeof(*np));
				if (!np) {
					err = GROVE_ENOMEM;
					goto fail;
				}
				c->parents = np;
			}
			if ((err = grove_oid_fromhex(&c->parents[c->parent_count], p + 7)) < 0)
				goto corrupt;
			c->parent_count++;
		} else if (starts_with(p, end, "author ") && !c->author.name) {
			if ((err = parse_person(p + 7, eol, &c->author)) < 0)
				goto fail;
		} else if (starts_with(p, end, "committer ") && !c->committer.name) {
			if ((err = parse_person(p + 10, eol, &c->committer)) < 0)
				goto fail;
		}
		/* Other headers (encoding, gpgsig and its continuation lines,
		 * mergetag) are kept in the object but not interpreted. */
		p = eol + 1;
	}
	if (!have_tree || !c->author.name || !c->committer.name) {
		err = grove__error_set(GROVE_ECORRUPT, "malformed commit: missing tree, author or committer");
		goto fail;
	}
	if (p < end)
		p++; /* the blank line */
	c->message = grove__strndup(p, (size_t)(end - p));
	if (!c->message) {
		err = GROVE_ENOMEM;
		goto fail;
	}
	*out = c;
	return 0;
corrupt:
	err = grove__error_set(GROVE_ECORRUPT, "malformed commit: bad object id");
fail:
	grove_commit_free(c);
	return err;
}

void grove__signature_defaults(grove_signature *sig, const grove_signature *given)
{
	sig->name = given && given->name ? given->name : "grove";
	sig->email = given && given->email ? given->email : "grove@localhost";
	sig->time = given && given->time ? given->time : (int64_t)time(NULL);
	sig->tz_offset = given ? given->tz_offset : 0;
}

static int check_ident_part(const char *s, const char *what)
{
	if (strpbrk(s, "<>\n"))
		return grove__error_set(GROVE_EINVALID, "%s must not contain '<', '>' or a newline", what);
	return 0;
}

static int put_person(grove__sbuf *b, const char *kw, const grove_signature *s)
{
	int tz = s->tz_offset, err;
	char tail[48], digits[24];
	size_t n = 0, k = 0;
	uint64_t t;
	if ((err = check_ident_part(s->name, "name")) < 0 || (err = check_ident_part(s->email, "email")) < 0)
		return err;
	/* "> <time> <+hhmm>\n", formatted by hand: this is on the commit path. */
	tail[n++] = '>';
	tail[n++] = ' ';
	if (s->time < 0) {
		tail[n++] = '-';
		t = (uint64_t)(-(s->time + 1)) + 1;
	} else {
		t = (uint64_t)s->time;
	}
	do {
		digits[k++] = (char)('0' + t % 10);
		t /= 10;
	} while (t);
	while (k)
		tail[n++] = digits[--k];
	tail[n++] = ' ';
	tail[n++] = tz < 0 ? '-' : '+';
	if (tz < 0)
		tz = -tz;
	tail[n++] = (char)('0' + (tz / 60) / 10 % 10);
	tail[n++] = (char)('0' + (tz / 60) % 10);
	tail[n++] = (char)('0' + (tz % 60) / 10);
	tail[n++] = (char)('0' + (tz % 60) % 10);
	tail[n++] = '\n';
	if ((err = grove__sbuf_puts(b, kw)) < 0 || (err = grove__sbuf_putc(b, ' ')) < 0 ||
	    (err = grove__sbuf_puts(b, s->name)) < 0 || (err = grove__sbuf_put(b, " <", 2)) < 0 ||
	    (err = grove__sbuf_puts(b, s->email)) < 0)
		return err;
	return grove__sbuf_put(b, tail, n);
}

int grove__commit_write(const grove_oid *tree, const grove_oid *parents, size_t parent_count,
	const grove_signature *author, const grove_signature *committer,
	const char *message, grove__sbuf *out)
{
	char hex[GROVE_OID_HEXSZ + 1];
	size_t mlen;
	int err;

	grove_oid_tohex(hex, tree);
	if ((err = grove__sbuf_put(out, "tree ", 5)) < 0 || (err = grove__sbuf_put(out, hex, 40)) < 0 ||
	    (err = grove__sbuf_putc(out, '\n')) < 0)
		return err;
	for (size_t i = 0; i < parent_count; i++) {
		grove_oid_tohex(hex, &parents[i]);
		if ((err = grove__sbuf_put(out, "parent ", 7)) < 0 || (err = grove__sbuf_put(out, hex, 40)) < 0 ||
		    (err = grove__sbuf_putc(out, '\n')) < 0)
			return err;
	}
	if ((err = put_person(out, "author", author)) < 0 || (err = put_person(out, "committer", committer)) < 0)
		return err;
	if ((err = grove__sbuf_putc(out, '\n')) < 0)
		return err;
	if (!message)
		message = "grove commit";
	mlen = strlen(message);
	if ((err = grove__sbuf_put(out, message, mlen)) < 0)
		return err;
	/* git's commit tools end every message with a newline. */
	if (mlen == 0 || message[mlen - 1] != '\n')
		return grove__sbuf_putc(out, '\n');
	return 0;
}

static grove_otype type_from_name(const char *s, size_t len)
{
	if (len == 6 && !memcmp(s, "commit", 6))
		return GROVE_OBJ_COMMIT;
	if (len == 4 && !memcmp(s, "tree", 4))
		return GROVE_OBJ_TREE;
	if (len == 4 && !memcmp(s, "blob", 4))
		return GROVE_OBJ_BLOB;
	if (len == 3 && !memcmp(s, "tag", 3))
		return GROVE_OBJ_TAG;
	return GROVE_OBJ_BAD;
}

int grove__tag_parse(const void *data, size_t size, grove__tag *out)
{
	const char *p = data, *end = p + size, *eol;
	grove__tag t = { 0 };

	eol = memchr(p, '\n', size);
	if (!eol || eol - p != 47 || !starts_with(p, end, "object ") || grove_oid_fromhex(&t.target, p + 7) < 0)
		return grove__error_set(GROVE_ECORRUPT, "malformed tag: bad object line");
	p = eol + 1;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol || !starts_with(p, end, "type ") ||
	    (t.target_type = type_from_name(p + 5, (size_t)(eol - p - 5))) == GROVE_OBJ_BAD)
		return grove__error_set(GROVE_ECORRUPT, "malformed tag: bad type line");
	p = eol + 1;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol || !starts_with(p, end, "tag "))
		return grove__error_set(GROVE_ECORRUPT, "malformed tag: bad tag line");
	t.name = grove__strndup(p + 4, (size_t)(eol - p - 4));
	if (!t.name)
		return GROVE_ENOMEM;
	*out = t;
	return 0;
}

void grove__tag_dispose(grove__tag *tag)
{
	free(tag->name);
	tag->name = NULL;
}

grove_otype grove__otype_from_name(const char *s, size_t len)
{
	return type_from_name(s, len);
}
