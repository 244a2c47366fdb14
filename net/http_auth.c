/* HTTP Basic authentication against an htpasswd file.  Hashes are checked
 * with crypt_r(3) from libcrypt (bcrypt $2y$/$2b$, sha-crypt $5$/$6$) and
 * compared in constant time.  The entries sit behind a rwlock so a reload on
 * the loop thread can race with checks on workers. */
#include "http_internal.h"
#include "error.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct {
	char *user, *hash;
} htpasswd_entry;

struct grove__htpasswd {
	char *path;
	pthread_rwlock_t lock;
	htpasswd_entry *entries;
	size_t n;
	struct timespec mtime;
	off_t size;
};

static void entries_free(htpasswd_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].user);
		free(e[i].hash);
	}
	free(e);
}

static int supported_hash(const char *h)
{
	return !strncmp(h, "$2y$", 4) || !strncmp(h, "$2b$", 4) ||
	       !strncmp(h, "$2a$", 4) || !strncmp(h, "$5$", 3) || !strncmp(h, "$6$", 3);
}

/* Reads the file into a fresh entry array; lines that are blank, comments or
 * use a hash we cannot check are skipped. */
static int load(const char *path, htpasswd_entry **out, size_t *nout, struct stat *st)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return grove__error_set(grove__error_from_errno(errno), "htpasswd %s: %s",
					path, strerror(errno));
	if (fstat(fileno(f), st) < 0) {
		fclose(f);
		return grove__error_set(GROVE_EIO, "htpasswd %s: stat failed", path);
	}
	htpasswd_entry *e = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		char *colon = strchr(line, ':');
		if (line[0] == '#' || !colon || colon == line)
			continue;
		*colon = '\0';
		const char *hash = colon + 1;
		if (!supported_hash(hash))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			htpasswd_entry *ne = grove__realloc(e, ncap * sizeof(*ne));
			if (!ne) {
				rc = GROVE_ENOMEM;
				break;
			}
			e = ne;
			cap = ncap;
		}
		e[n].user = grove__strdup(line);
		e[n].hash = grove__strdup(hash);
		if (!e[n].user || !e[n].hash) {
			free(e[n].user);
			free(e[n].hash);
			rc = GROVE_ENOMEM;
			break;
		}
		n++;
	}
	free(line);
	fclose(f);
	if (rc < 0) {
		entries_free(e, n);
		return rc;
	}
	*out = e;
	*nout = n;
	return 0;
}

int grove__htpasswd_open(grove__htpasswd **out, const char *path)
{
	grove__htpasswd *h = grove__calloc(1, sizeof(*h));
	if (!h)
		return GROVE_ENOMEM;
	h->path = grove__strdup(path);
	if (!h->path) {
		free(h);
		return GROVE_ENOMEM;
	}
	struct stat st;
	int rc = load(path, &h->entries, &h->n, &st);
	if (rc < 0) {
		free(h->path);
		free(h);
		return rc;
	}
	h->mtime = st.st_mtim;
	h->size = st.st_size;
	pthread_rwlock_init(&h->lock, NULL);
	*out = h;
	return 0;
}

int grove__htpasswd_reload(grove__htpasswd *h)
{
	struct stat st;
	if (stat(h->path, &st) < 0)
		return grove__error_set(grove__error_from_errno(errno), "htpasswd %s: %s",
					h->path, strerror(errno));
	if (st.st_mtim.tv_sec == h->mtime.tv_sec && st.st_mtim.tv_nsec == h->mtime.tv_nsec &&
	    st.st_size == h->size)
		return 0;
	htpasswd_entry *e;
	size_t n;
	int rc = load(h->path, &e, &n, &st);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&h->lock);
	entries_free(h->entries, h->n);
	h->entries = e;
	h->n = n;
	h->mtime = st.st_mtim;
	h->size = st.st_size;
	pthread_rwlock_unlock(&h->lock);
	return 1;
}

void grove__htpasswd_free(grove__htpasswd *h)
{
	if (!h)
		return;
	entries_free(h->entries, h->n);
	pthread_rwlock_destroy(&h->lock);
	free(h->path);
	free(h);
}

static int equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);
	size_t n = la < lb ? la : lb;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int grove__htpasswd_check(grove__htpasswd *h, const char *user, const char *password)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return 0;
	char *hash = NULL;
	pthread_rwlock_rdlock(&h->lock);
	for (size_t i = 0; i < h->n; i++) {
		if (strcmp(h->entries[i].user, user) == 0) {
			hash = strdup(h->entries[i].hash);
			break;
		}
	}
	pthread_rwlock_unlock(&h->lock);
	int ok = 0;
	if (hash) {
		const char *got = crypt_r(password, hash, cd);
		/* libcrypt returns a "*0"/"*1" failure token, never the hash,
		 * for a bad setting; equal_ct then fails. */
		ok = got && got[0] != '*' && equal_ct(got, hash);
	}
	free(hash);
	free(cd);
	return ok;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int grove__http_basic_parse(const char *authorization, char **user, char **password)
{
	if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
		return grove__error_set(GROVE_EINVALID, "not Basic authorization");
	const char *p = authorization + 6;
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, " \t");
	if (n == 0 || n % 4 != 0 || n > 4096)
		return grove__error_set(GROVE_EINVALID, "bad Basic credentials");
	char *dec = grove__malloc(n / 4 * 3 + 1);
	if (!dec)
		return GROVE_ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)p[i + k];
			v[k] = c == '=' && i + 4 == n && k >= 2 ? -2 : b64val(c);
			if (v[k] == -1 || (k == 3 && v[2] == -2 && v[3] != -2)) {
				free(dec);
				return grove__error_set(GROVE_EINVALID, "bad base64 in credentials");
			}
		}
		if (v[0] < 0 || v[1] < 0) {
			free(dec);
			return grove__error_set(GROVE_EINVALID, "bad base64 in credentials");
		}
		dec[j++] = (char)(v[0] << 2 | v[1] >> 4);
		if (v[2] >= 0)
			dec[j++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (v[3] >= 0)
			dec[j++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	dec[j] = '\0';
	char *colon = memchr(dec, ':', j);
	if (!colon || memchr(dec, '\0', j)) {
		free(dec);
		return grove__error_set(GROVE_EINVALID, "bad Basic credentials");
	}
	*colon = '\0';
	char *u = grove__strdup(dec), *pw = grove__strdup(colon + 1);
	free(dec);
	if (!u || !pw) {
		free(u);
		free(pw);
		return GROVE_ENOMEM;
	}
	*user = u;
	*password = pw;
	return 0;
}

int grove__http_require_basic_auth(grove__http_request *req, grove__http_response *res,
				   grove__htpasswd *h, const char *realm)
{
	char *user = NULL, *pw = NULL;
	const char *auth = grove__http_req_header(req, "Authorization");
	int ok = auth && grove__http_basic_parse(auth, &user, &pw) == 0 &&
		 grove__htpasswd_check(h, user, pw);
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	if (ok && grove__http_req_set_user(req, user) == 0) {
		free(user);
		return 1;
	}
	free(user);
	char value[300];
	char safe[200];
	snprintf(safe, sizeof(safe), "%s", realm ? realm : "grove");
	for (char *p = safe; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	snprintf(value, sizeof(value), "Basic realm=\"%s\"", safe);
	grove__http_res_header(res, "WWW-Authenticate", value);
	grove__http_res_error(res, 401);
	return 0;
}
