/* URLs in messages and config: credentials are taken out before anything
 * is stored or shown. */
#include "sync_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sbuf.h"

/* Where a URL's authority starts and ends ("scheme://AUTHORITY/path");
 * 0 for scp-like or local paths. */
static int authority_span(const char *url, size_t *start, size_t *end)
{
	const char *sep = strstr(url, "://");
	size_t i;
	if (!sep)
		return 0;
	for (i = 0; url + i < sep; i++)
		if (!isalnum((unsigned char)url[i]) && url[i] != '+' && url[i] != '-' && url[i] != '.')
			return 0;
	*start = (size_t)(sep - url) + 3;
	*end = *start + strcspn(url + *start, "/?#");
	return 1;
}

static int is_http(const char *url)
{
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

/* The userinfo's last '@' inside [start, end), or NULL. */
static const char *userinfo_at(const char *url, size_t start, size_t end)
{
	const char *at = NULL;
	for (size_t i = start; i < end; i++)
		if (url[i] == '@')
			at = url + i;
	return at;
}

/* Appends the redacted form of the URL that starts at url and is len bytes. */
static int put_redacted(grove__sbuf *b, const char *url, size_t len)
{
	char *copy = grove__strndup(url, len);
	size_t start, end;
	const char *at;
	int rc;
	if (!copy)
		return GROVE_ENOMEM;
	if (!authority_span(copy, &start, &end) || !(at = userinfo_at(copy, start, end))) {
		rc = grove__sbuf_put(b, url, len);
	} else {
		const char *colon = memchr(copy + start, ':', (size_t)(at - (copy + start)));
		rc = grove__sbuf_put(b, copy, start);
		/* ssh/git users are not secret; http(s) ones may be tokens. */
		if (rc == 0 && !is_http(copy)) {
			size_t ulen = colon ? (size_t)(colon - (copy + start)) : (size_t)(at - (copy + start));
			if (ulen)
				rc = grove__sbuf_put(b, copy + start, ulen) < 0 ? GROVE_ENOMEM : grove__sbuf_putc(b, '@');
		}
		if (rc == 0)
			rc = grove__sbuf_puts(b, at + 1);
	}
	free(copy);
	return rc < 0 ? GROVE_ENOMEM : 0;
}

int grove_url_redact(const char *url, char **out)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	if (!url || !out)
		return grove__error_set(GROVE_EINVALID, "no URL given");
	if (put_redacted(&b, url, strlen(url)) < 0 || grove__sbuf_putc(&b, '\0') < 0) {
		grove__sbuf_dispose(&b);
		return grove__error_oom();
	}
	*out = b.data;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *pct_decode(const char *s, size_t len)
{
	char *out = grove__malloc(len + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < len && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

int grove__url_userinfo(const char *url, char **user, char **password)
{
	size_t start, end;
	const char *at, *colon;
	*user = *password = NULL;
	if (!authority_span(url, &start, &end) || !(at = userinfo_at(url, start, end)))
		return 0;
	colon = memchr(url + start, ':', (size_t)(at - (url + start)));
	if (!(*user = pct_decode(url + start, (size_t)((colon ? colon : at) - (url + start)))))
		return GROVE_ENOMEM;
	if (colon && !(*password = pct_decode(colon + 1, (size_t)(at - colon - 1)))) {
		free(*user);
		*user = NULL;
		return GROVE_ENOMEM;
	}
	return 0;
}

/* A URL inside free text: scheme chars, "://", then up to whitespace or a
 * quote. */
static size_t url_len_at(const char *s)
{
	return strcspn(s, " \t\r\n'\"<>");
}

char *grove__redact_text(const char *msg, const char *const *secrets, size_t nsecrets)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	const char *p = msg ? msg : "";
	char *text;

	/* 1. URLs: find "://", back up over the scheme. */
	while (*p) {
		const char *sep = strstr(p, "://");
		const char *s;
		size_t len;
		if (!sep) {
			if (grove__sbuf_puts(&b, p) < 0)
				goto oom;
			break;
		}
		s = sep;
		while (s > p && (isalnum((unsigned char)s[-1]) || s[-1] == '+' || s[-1] == '-' || s[-1] == '.'))
			s--;
		if (grove__sbuf_put(&b, p, (size_t)(s - p)) < 0)
			goto oom;
		len = url_len_at(s);
		if (put_redacted(&b, s, len) < 0)
			goto oom;
		p = s + len;
	}
	if (grove__sbuf_putc(&b, '\0') < 0)
		goto oom;
	text = b.data;

	/* 2. Any secret still present verbatim. */
	for (size_t i = 0; i < nsecrets; i++) {
		const char *sec = secrets[i], *q;
		grove__sbuf r = GROVE_SBUF_INIT;
		size_t slen;
		if (!sec || !(slen = strlen(sec)) || !strstr(text, sec))
			continue;
		for (q = text;;) {
			const char *hit = strstr(q, sec);
			if (!hit) {
				if (grove__sbuf_puts(&r, q) < 0)
					goto oom_r;
				break;
			}
			if (grove__sbuf_put(&r, q, (size_t)(hit - q)) < 0 || grove__sbuf_puts(&r, "***") < 0)
				goto oom_r;
			q = hit + slen;
		}
		if (grove__sbuf_putc(&r, '\0') < 0)
			goto oom_r;
		free(text);
		text = r.data;
		continue;
oom_r:
		grove__sbuf_dispose(&r);
		free(text);
		grove__error_oom();
		return NULL;
	}
	return text;
oom:
	grove__sbuf_dispose(&b);
	grove__error_oom();
	return NULL;
}
