/* The htpasswd credential cache (net/http_auth.c): verified passwords are
 * remembered, wrong ones never are, a changed password is refused after a
 * reload, and an unknown user costs a crypt like a known one. */
#include <criterion/criterion.h>

#include <crypt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "grove.h"
#include "../../net/http.h"
#include "../../net/http_auth_cache.h"

static char *make_hash(const char *prefix, unsigned long rounds, const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char rnd[16];
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (char)(rand() & 0xff);
	cr_assert_not_null(crypt_gensalt_rn(prefix, rounds, rnd, sizeof(rnd), salt, sizeof(salt)));
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(pw, salt, &cd);
	cr_assert(h && h[0] == '$');
	return strdup(h);
}

static char path[] = "/tmp/grove-authcache-XXXXXX";

/* Rewrites the file with one line and moves its mtime so reload sees it. */
static void write_file(const char *line, int bump)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s\n", line);
	fclose(f);
	struct timespec ts[2] = { { 0, UTIME_NOW }, { time(NULL) + bump, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static grove__htpasswd *open_with(const char *user, const char *pw)
{
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	char *h = make_hash("$5$", 1000, pw);
	char line[512];
	snprintf(line, sizeof(line), "%s:%s", user, h);
	free(h);
	write_file(line, 0);
	grove__htpasswd *ht;
	cr_assert_eq(grove__htpasswd_open(&ht, path), 0);
	return ht;
}

Test(http_auth, success_is_cached_failure_is_not)
{
	grove__htpasswd *h = open_with("alice", "right");
	cr_assert_eq(grove__htpasswd_crypt_calls(h), 0);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "right"), 1);
	cr_assert_eq(grove__htpasswd_crypt_calls(h), 1);
	/* the second check is answered from the cache */
	cr_assert_eq(grove__htpasswd_check(h, "alice", "right"), 1);
	cr_assert_eq(grove__htpasswd_crypt_calls(h), 1);
	/* a wrong password runs crypt every time and stays refused */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(grove__htpasswd_check(h, "alice", "wrong"), 0);
	cr_assert_eq(grove__htpasswd_crypt_calls(h), 4);
	/* a prefix, an extension or another user with the cached password
	 * is not the cached credential */
	cr_assert_eq(grove__htpasswd_check(h, "alice", "righ"), 0);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "right\x01"), 0);
	cr_assert_eq(grove__htpasswd_check(h, "alic", "right"), 0);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "right"), 1);
	grove__htpasswd_free(h);
	unlink(path);
}

Test(http_auth, unknown_user_costs_a_crypt)
{
	grove__htpasswd *h = open_with("alice", "right");
	cr_assert_eq(grove__htpasswd_check(h, "nobody", "right"), 0);
	cr_assert_eq(grove__htpasswd_check(h, "nobody", "right"), 0);
	/* checked against the dummy hash both times, never cached */
	cr_assert_eq(grove__htpasswd_crypt_calls(h), 2);
	grove__htpasswd_free(h);
	unlink(path);
}

Test(http_auth, changed_password_refused_after_reload)
{
	grove__htpasswd *h = open_with("alice", "old");
	cr_assert_eq(grove__htpasswd_check(h, "alice", "old"), 1);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "old"), 1);
	char *nh = make_hash("$5$", 1000, "new");
	char line[512];
	snprintf(line, sizeof(line), "alice:%s", nh);
	free(nh);
	write_file(line, 5);
	cr_assert_eq(grove__htpasswd_reload(h), 1);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "old"), 0);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "new"), 1);
	/* a removed user is refused even though it was cached */
	write_file("bob:$5$rounds=1000$abc$notarealhashnotarealhashnotarealhashnotar", 10);
	cr_assert_eq(grove__htpasswd_reload(h), 1);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "new"), 0);
	grove__htpasswd_free(h);
	unlink(path);
}

Test(http_auth, same_password_after_reload_is_checked_again)
{
	grove__htpasswd *h = open_with("alice", "pw");
	cr_assert_eq(grove__htpasswd_check(h, "alice", "pw"), 1);
	unsigned long calls = grove__htpasswd_crypt_calls(h);
	/* the same password hashed with a new salt: a new hash string */
	char *nh = make_hash("$5$", 1000, "pw");
	char line[512];
	snprintf(line, sizeof(line), "alice:%s", nh);
	free(nh);
	write_file(line, 5);
	cr_assert_eq(grove__htpasswd_reload(h), 1);
	cr_assert_eq(grove__htpasswd_check(h, "alice", "pw"), 1);
	cr_assert_eq(grove__htpasswd_crypt_calls(h), calls + 1);
	grove__htpasswd_free(h);
	unlink(path);
}
