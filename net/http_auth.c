/* HTTP Basic authentication against an htpasswd file.  Hashes are checked
 * with crypt_r(3) from libcrypt (bcrypt $2y$/$2b$, sha-crypt $5$/$6$) and
 * compared in constant time.  The entries sit behind a rwlock so a reload on
 * the loop thread can race with checks on workers.
 *
 * Verified credentials are cached: a client sends the same Basic header on
 * every request, and bcrypt cost 10 takes ~100 ms, which would make every
 * request that slow.  The cache holds HMAC-SHA256(process-random key,
 * user NUL password NUL stored-hash) and an expiry, never the password:
 * keying the HMAC with a random secret keeps a memory dump from being a
 * fast offline oracle for the password, and including the stored hash
 * means a changed password (a new hash) can never hit an old entry.  Only
 * successful checks are cached; a reload that changes the file empties
 * the cache.  An unknown user is checked against a dummy hash with the
 * same setting as a real entry, so the time of a refusal does not tell
 * whether the user exists. */
#include "http_internal.h"
#include "http_auth_cache.h"
#include "error.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#define CRED_SLOTS 256 /* distinct (user, password) pairs remembered */
#define CRED_TTL_SECONDS 300

typedef struct {
	char *user, *hash;
} htpasswd_entry;

typedef struct {
	unsigned char mac[32];
	time_t expires; /* CLOCK_MONOTONIC seconds; 0 = empty */
} cred_slot;

struct grove__htpasswd {
	char *path;
	pthread_rwlock_t lock;
	htpasswd_entry *entries;
	size_t n;
	char *dummy; /* a hash with the setting of a real entry, for unknown users */
	struct timespec mtime;
	off_t size;
	pthread_mutex_t cache_lock;
	unsigned char secret[32];
	cred_slot cache[CRED_SLOTS];
	atomic_ulong crypt_calls;
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

/* A hash that takes as long to check as entries' first hash: its setting
 * (algorithm, cost, salt) with a digest no password yields in practice.
 * NULL when there are no entries (nothing to mimic). */
static char *dummy_hash(const htpasswd_entry *e, size_t n)
{
	if (n == 0)
		return NULL;
	char *d = grove__strdup(e[0].hash);
	if (!d)
		return NULL;
	/* flip the digest's last character within the crypt alphabet */
	size_t len = strlen(d);
	if (len > 0)
		d[len - 1] = d[len - 1] == '.' ? '/' : '.';
	return d;
}

static void cache_clear(grove__htpasswd *h)
{
	pthread_mutex_lock(&h->cache_lock);
	memset(h->cache, 0, sizeof(h->cache));
	pthread_mutex_unlock(&h->cache_lock);
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
	if (getrandom(h->secret, sizeof(h->secret), 0) != (ssize_t)sizeof(h->secret)) {
		entries_free(h->entries, h->n);
		free(h->path);
		free(h);
		return grove__error_set(GROVE_EIO, "htpasswd: no random bytes for the cache key");
	}
	h->dummy = dummy_hash(h->entries, h->n);
	h->mtime = st.st_mtim;
	h->size = st.st_size;
	pthread_rwlock_init(&h->lock, NULL);
	pthread_mutex_init(&h->cache_lock, NULL);
	atomic_init(&h->crypt_calls, 0);
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
	char *dummy = dummy_hash(e, n);
	pthread_rwlock_wrlock(&h->lock);
	entries_free(h->entries, h->n);
	free(h->dummy);
	h->entries = e;
	h->n = n;
	h->dummy = dummy;
	h->mtime = st.st_mtim;
	h->size = st.st_size;
	pthread_rwlock_unlock(&h->lock);
	/* entries keyed by a removed user's hash could only hit again if the
	 * same hash came back; empty the cache anyway so that a reload is a
	 * clean cut (a check racing with this may still add a key of the old
	 * hash, which no lookup against the new hash can match). */
	cache_clear(h);
	return 1;
}

void grove__htpasswd_free(grove__htpasswd *h)
{
	if (!h)
		return;
	entries_free(h->entries, h->n);
	free(h->dummy);
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->cache_lock);
	OPENSSL_cleanse(h->secret, sizeof(h->secret));
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

static time_t now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The cache key of (user, password, stored hash); 0 or -1. */
static int cred_mac(const grove__htpasswd *h, const char *user, const char *password,
		    const char *hash, unsigned char mac[32])
{
	unsigned int len = 0;
	size_t lu = strlen(user) + 1, lp = strlen(password) + 1, lh = strlen(hash);
	unsigned char *msg = malloc(lu + lp + lh);
	if (!msg)
		return -1;
	memcpy(msg, user, lu);
	memcpy(msg + lu, password, lp);
	memcpy(msg + lu + lp, hash, lh);
	int ok = HMAC(EVP_sha256(), h->secret, (int)sizeof(h->secret), msg, lu + lp + lh, mac,
		      &len) != NULL && len == 32;
	OPENSSL_cleanse(msg, lu + lp + lh);
	free(msg);
	return ok ? 0 : -1;
}

static cred_slot *cred_slot_of(grove__htpasswd *h, const unsigned char mac[32])
{
	unsigned idx = ((unsigned)mac[0] << 8 | mac[1]) % CRED_SLOTS;
	return &h->cache[idx];
}

static int cache_hit(grove__htpasswd *h, const unsigned char mac[32])
{
	time_t now = now_seconds();
	pthread_mutex_lock(&h->cache_lock);
	cred_slot *s = cred_slot_of(h, mac);
	int hit = s->expires > now && CRYPTO_memcmp(s->mac, mac, 32) == 0;
	pthread_mutex_unlock(&h->cache_lock);
	return hit;
}

static void cache_put(grove__htpasswd *h, const unsigned char mac[32])
{
	pthread_mutex_lock(&h->cache_lock);
	cred_slot *s = cred_slot_of(h, mac);
	memcpy(s->mac, mac, 32);
	s->expires = now_seconds() + CRED_TTL_SECONDS;
	pthread_mutex_unlock(&h->cache_lock);
}

/* crypt_r(password, hash) equals hash. */
static int crypt_matches(grove__htpasswd *h, const char *password, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return 0;
	atomic_fetch_add(&h->crypt_calls, 1);
	const char *got = crypt_r(password, hash, cd);
	/* libcrypt returns a "*0"/"*1" failure token, never the hash, for a
	 * bad setting; equal_ct then fails. */
	int ok = got && got[0] != '*' && equal_ct(got, hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int grove__htpasswd_check(grove__htpasswd *h, const char *user, const char *password)
{
	char *hash = NULL, *dummy = NULL;
	pthread_rwlock_rdlock(&h->lock);
	for (size_t i = 0; i < h->n; i++) {
		if (strcmp(h->entries[i].user, user) == 0) {
			hash = strdup(h->entries[i].hash);
			break;
		}
	}
	if (!hash && h->dummy)
		dummy = strdup(h->dummy);
	pthread_rwlock_unlock(&h->lock);
	if (!hash) {
		/* same work as a known user's wrong password */
		if (dummy)
			(void)crypt_matches(h, password, dummy);
		free(dummy);
		return 0;
	}
	unsigned char mac[32];
	int have_mac = cred_mac(h, user, password, hash, mac) == 0;
	int ok = have_mac && cache_hit(h, mac);
	if (!ok) {
		ok = crypt_matches(h, password, hash);
		if (ok && have_mac)
			cache_put(h, mac);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	free(hash);
	return ok;
}

unsigned long grove__htpasswd_crypt_calls(grove__htpasswd *h)
{
	return atomic_load(&h->crypt_calls);
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
