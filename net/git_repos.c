/* git_repos.c - request name -> open store under a base directory. */
#include "git_repos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

#define NAME_MAX_LEN 255

typedef struct repo_entry {
	struct repo_entry *next;
	char *location; /* "lmdb:/base/name" */
	grove *g;
} repo_entry;

struct grove__git_repos {
	char *base;
	int read_only;
	repo_entry *open;
};

int grove__git_repos_new(grove__git_repos **out, const char *base_dir, int read_only)
{
	struct stat st;
	if (stat(base_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return grove__error_set(GROVE_ENOTFOUND, "%s: not a directory", base_dir);
	grove__git_repos *r = grove__calloc(1, sizeof(*r));
	if (!r)
		return GROVE_ENOMEM;
	r->base = grove__strdup(base_dir);
	if (!r->base) {
		free(r);
		return GROVE_ENOMEM;
	}
	/* "dir/" and "dir" name the same place. */
	size_t n = strlen(r->base);
	while (n > 1 && r->base[n - 1] == '/')
		r->base[--n] = '\0';
	r->read_only = read_only;
	*out = r;
	return 0;
}

void grove__git_repos_free(grove__git_repos *r)
{
	if (!r)
		return;
	while (r->open) {
		repo_entry *e = r->open;
		r->open = e->next;
		grove_close(e->g);
		free(e->location);
		free(e);
	}
	free(r->base);
	free(r);
}

static int name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-' || c == '+';
}

int grove__git_repos_name_check(const char *name, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN)
		return grove__error_set(GROVE_EINVALID, "bad repository name");
	int seg_start = 1;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '/') {
			if (seg_start)
				return grove__error_set(GROVE_EINVALID, "bad repository name");
			seg_start = 1;
			continue;
		}
		if (!name_char_ok(c) || (seg_start && c == '.'))
			return grove__error_set(GROVE_EINVALID, "bad repository name");
		seg_start = 0;
	}
	if (seg_start)
		return grove__error_set(GROVE_EINVALID, "bad repository name");
	return 0;
}

static int is_file(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "lmdb:" or "git:" for a store directory, NULL for anything else. */
static const char *store_kind(const char *path, int git_only)
{
	if (!git_only && is_file(path, "data.mdb"))
		return "lmdb:";
	if (is_file(path, "HEAD") && is_dir(path, "objects") && is_dir(path, "refs"))
		return "git:";
	return NULL;
}

int grove__git_repos_open(grove__git_repos *r, const char *name, grove **out)
{
	char path[4096], location[4096 + 8];
	const char *kind;
	int rc;

	while (*name == '/')
		name++;
	size_t len = strlen(name);
	while (len && name[len - 1] == '/')
		len--;
	if ((rc = grove__git_repos_name_check(name, len)) < 0)
		return rc;
	if (snprintf(path, sizeof(path), "%s/%.*s", r->base, (int)len, name) >= (int)sizeof(path) - 8)
		return grove__error_set(GROVE_EINVALID, "repository path too long");
	kind = store_kind(path, 0);
	if (!kind && !(len >= 4 && !memcmp(name + len - 4, ".git", 4))) {
		if (snprintf(path, sizeof(path), "%s/%.*s.git", r->base, (int)len, name) >= (int)sizeof(path))
			return grove__error_set(GROVE_EINVALID, "repository path too long");
		kind = store_kind(path, 1);
	}
	if (!kind)
		return grove__error_set(GROVE_ENOTFOUND, "no repository %.*s", (int)len, name);
	if (snprintf(location, sizeof(location), "%s%s", kind, path) >= (int)sizeof(location))
		return grove__error_set(GROVE_EINVALID, "repository path too long");

	for (repo_entry *e = r->open; e; e = e->next) {
		if (!strcmp(e->location, location)) {
			*out = e->g;
			return 0;
		}
	}
	repo_entry *e = grove__calloc(1, sizeof(*e));
	if (!e)
		return GROVE_ENOMEM;
	e->location = grove__strdup(location);
	if (!e->location) {
		free(e);
		return GROVE_ENOMEM;
	}
	grove_options opts = GROVE_OPTIONS_INIT;
	opts.create = 0;
	opts.read_only = r->read_only;
	if ((rc = grove_open(&e->g, location, &opts)) < 0) {
		free(e->location);
		free(e);
		return rc;
	}
	e->next = r->open;
	r->open = e;
	*out = e->g;
	return 0;
}
