/* Key and ref-name validation. */
#include "error.h"
#include "grove.h"

#include <string.h>
#include <strings.h>
#include <stdio.h>

static int segment_ok(const char *s, size_t len, const char *key)
{
	if (len == 0)
		return grove__error_set(GROVE_EINVALID, "invalid key '%s': empty segment", key);
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return grove__error_set(GROVE_EINVALID, "invalid key '%s': '.' and '..' are not allowed", key);
	if (len == 4 && !strncasecmp(s, ".git", 4))
		return grove__error_set(GROVE_EINVALID, "invalid key '%s': '.git' is not allowed", key);
	return 0;
}

int grove_key_validate_n(const char *key, size_t len)
{
	size_t start = 0;
	if (!key)
		return grove__error_set(GROVE_EINVALID, "invalid key: NULL");
	if (len == 0)
		return grove__error_set(GROVE_EINVALID, "invalid key: empty");
	if (len > GROVE_KEY_MAX)
		return grove__error_set(GROVE_EINVALID, "invalid key: %zu bytes, the limit is %d", len, GROVE_KEY_MAX);
	if (memchr(key, '\0', len))
		return grove__error_set(GROVE_EINVALID, "invalid key: contains a NUL byte");
	for (size_t i = 0; i <= len; i++) {
		if (i == len || key[i] == '/') {
			int err = segment_ok(key + start, i - start, key);
			if (err < 0)
				return err;
			start = i + 1;
		}
	}
	return 0;
}

int grove_key_validate(const char *key)
{
	if (!key)
		return grove__error_set(GROVE_EINVALID, "invalid key: NULL");
	return grove_key_validate_n(key, strnlen(key, GROVE_KEY_MAX + 1));
}

/* git-check-ref-format's rules, for a full ref name ("refs/heads/x"). */
int grove_ref_name_validate(const char *name)
{
	size_t len, start = 0;
	if (!name || !*name)
		return grove__error_set(GROVE_EINVALID, "invalid ref name: empty");
	len = strlen(name);
	if (len > 1024)
		return grove__error_set(GROVE_EINVALID, "invalid ref name: too long");
	if (!strcmp(name, "@"))
		return grove__error_set(GROVE_EINVALID, "invalid ref name '@'");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
		    c == '*' || c == '[' || c == '\\')
			return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': forbidden character", name);
		if (c == '.' && i + 1 < len && name[i + 1] == '.')
			return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': contains '..'", name);
		if (c == '@' && i + 1 < len && name[i + 1] == '{')
			return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': contains '@{'", name);
	}
	if (name[len - 1] == '.' || name[len - 1] == '/' || name[0] == '/')
		return grove__error_set(GROVE_EINVALID, "invalid ref name '%s'", name);
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '/') {
			size_t n = i - start;
			const char *seg = name + start;
			if (n == 0)
				return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': empty component", name);
			if (seg[0] == '.')
				return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': component starts with '.'", name);
			if (n >= 5 && !memcmp(seg + n - 5, ".lock", 5))
				return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': component ends with '.lock'", name);
			start = i + 1;
		}
	}
	if (!strchr(name, '/') && strcmp(name, "HEAD"))
		return grove__error_set(GROVE_EINVALID, "invalid ref name '%s': must have a '/'", name);
	return 0;
}

int grove_branch_name_validate(const char *name)
{
	char full[1100];
	int err;
	if (!name || !*name)
		return grove__error_set(GROVE_EINVALID, "invalid branch name: empty");
	if (name[0] == '-')
		return grove__error_set(GROVE_EINVALID, "invalid branch name '%s': starts with '-'", name);
	if (!strcmp(name, "HEAD"))
		return grove__error_set(GROVE_EINVALID, "invalid branch name 'HEAD'");
	if (strlen(name) > 1000)
		return grove__error_set(GROVE_EINVALID, "invalid branch name: too long");
	snprintf(full, sizeof(full), "refs/heads/%s", name);
	if ((err = grove_ref_name_validate(full)) < 0)
		return grove__error_set(err, "invalid branch name '%s'", name);
	return 0;
}
