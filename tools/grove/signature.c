/* Commit identities from the environment, the way git finds them. */
#include "cli.h"

#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *env(const char *a, const char *b)
{
	const char *v = a ? getenv(a) : NULL;
	if (v && *v)
		return v;
	v = b ? getenv(b) : NULL;
	return v && *v ? v : NULL;
}

static int local_tz_offset(time_t t)
{
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "+HHMM", "-HH:MM", "Z" -> minutes east of UTC. */
static int parse_tz(const char *s, int *out)
{
	int sign, hh, mm;
	while (*s == ' ')
		s++;
	if (!strcmp(s, "Z") || !strcmp(s, "z")) {
		*out = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	hh = (s[0] - '0') * 10 + (s[1] - '0');
	s += 2;
	if (*s == ':')
		s++;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2])
		return -1;
	mm = (s[0] - '0') * 10 + (s[1] - '0');
	if (hh > 23 || mm > 59)
		return -1;
	*out = sign * (hh * 60 + mm);
	return 0;
}

int cli_parse_date(const char *s, int64_t *time_out, int *tz_out)
{
	char *end;
	int tz = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	if (*s == '@')
		s++;
	/* git's raw format: seconds, then an optional offset. */
	if (isdigit((unsigned char)*s)) {
		long long v = strtoll(s, &end, 10);
		if (end != s && (*end == '\0' || *end == ' ') && end - s != 4 && v >= 0) {
			if (*end && parse_tz(end, &tz) < 0)
				return -1;
			if (!*end)
				tz = 0;
			*time_out = v;
			*tz_out = tz;
			return 0;
		}
	}
	/* ISO 8601: YYYY-MM-DD[( |T)HH:MM[:SS]][Z|+HH:MM|+HHMM] */
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	s += n;
	if (*s == 'T' || *s == ' ') {
		int m = 0;
		s++;
		if (sscanf(s, "%2d:%2d%n", &h, &mi, &m) != 2)
			return -1;
		s += m;
		if (*s == ':') {
			if (sscanf(s, ":%2d%n", &sec, &m) != 1)
				return -1;
			s += m;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	{
		int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
		if (*s) {
			if (parse_tz(s, &tz) < 0)
				return -1;
			t -= (int64_t)tz * 60;
		} else {
			/* No offset: local time, as git reads it. */
			tz = local_tz_offset((time_t)t);
			t -= (int64_t)tz * 60;
			tz = local_tz_offset((time_t)t);
		}
		*time_out = t;
		*tz_out = tz;
	}
	return 0;
}

static char *default_email(const char *user)
{
	char host[256], *out;
	if (gethostname(host, sizeof(host)) != 0 || !*host)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	out = malloc(strlen(user) + strlen(host) + 2);
	if (out)
		sprintf(out, "%s@%s", user, host);
	return out;
}

static int fill_date(cli *c, const char *var_a, const char *var_b, grove_signature *sig)
{
	const char *d = env(var_a, var_b);
	if (d) {
		if (cli_parse_date(d, &sig->time, &sig->tz_offset) < 0)
			return cli_error(c, EXIT_INVALID, "cannot parse date '%s' in $%s", d,
				getenv(var_a) && *getenv(var_a) ? var_a : var_b);
		return 0;
	}
	sig->time = (int64_t)time(NULL);
	sig->tz_offset = local_tz_offset((time_t)sig->time);
	return 0;
}

int cli_identity_load(cli *c, cli_identity *id)
{
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw && pw->pw_name ? pw->pw_name : "grove";
	const char *name, *email;
	int rc;

	memset(id, 0, sizeof(*id));
	name = env("GROVE_AUTHOR_NAME", "GIT_AUTHOR_NAME");
	email = env("GROVE_AUTHOR_EMAIL", "GIT_AUTHOR_EMAIL");
	if (!email)
		email = env("EMAIL", NULL);
	id->author_name = strdup(name ? name : user);
	id->author_email = email ? strdup(email) : default_email(user);
	name = env("GROVE_COMMITTER_NAME", "GIT_COMMITTER_NAME");
	email = env("GROVE_COMMITTER_EMAIL", "GIT_COMMITTER_EMAIL");
	id->committer_name = strdup(name ? name : id->author_name ? id->author_name : user);
	id->committer_email = email ? strdup(email) :
		id->author_email ? strdup(id->author_email) : NULL;
	if (!id->author_name || !id->author_email || !id->committer_name || !id->committer_email) {
		cli_identity_dispose(id);
		return cli_error(c, EXIT_STORE, "out of memory");
	}
	/* git refuses '<', '>' and newlines in identities; so does the object
	 * checker, but a clear message here is friendlier. */
	if (strpbrk(id->author_name, "<>\n") || strpbrk(id->author_email, "<>\n") ||
	    strpbrk(id->committer_name, "<>\n") || strpbrk(id->committer_email, "<>\n")) {
		cli_identity_dispose(id);
		return cli_error(c, EXIT_INVALID, "author or committer contains '<', '>' or a newline");
	}
	id->author.name = id->author_name;
	id->author.email = id->author_email;
	id->committer.name = id->committer_name;
	id->committer.email = id->committer_email;
	if ((rc = fill_date(c, "GROVE_AUTHOR_DATE", "GIT_AUTHOR_DATE", &id->author)) != 0 ||
	    (rc = fill_date(c, "GROVE_COMMITTER_DATE", "GIT_COMMITTER_DATE", &id->committer)) != 0) {
		cli_identity_dispose(id);
		return rc;
	}
	return 0;
}

void cli_identity_dispose(cli_identity *id)
{
	free(id->author_name);
	free(id->author_email);
	free(id->committer_name);
	free(id->committer_email);
	memset(id, 0, sizeof(*id));
}
