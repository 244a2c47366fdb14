/* server_common.c - helpers shared by `grove serve` and `grove daemon`. */
#include "server_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void server_log_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

int server_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	if (n > 8)
		n = 8;
	return (int)n;
}

int server_parse_int(const char *s, long max, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int server_parse_listen(const char *s, char *host, unsigned host_size, int *port)
{
	const char *colon;
	long p;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return -1;
		hl = (size_t)(close - s - 1);
		if (hl + 1 > host_size)
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (!close[1])
			return 0;
		if (close[1] != ':' || server_parse_int(close + 2, 65535, &p) < 0)
			return -1;
		*port = (int)p;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon) {
		/* a bare IPv6 address without port */
		if (strlen(s) + 1 > host_size)
			return -1;
		strcpy(host, s);
		return 0;
	}
	if (!colon) {
		if (server_parse_int(s, 65535, &p) == 0) {
			host[0] = '\0';
			*port = (int)p;
			return 0;
		}
		if (strlen(s) + 1 > host_size)
			return -1;
		strcpy(host, s);
		return 0;
	}
	hl = (size_t)(colon - s);
	if (hl + 1 > host_size || server_parse_int(colon + 1, 65535, &p) < 0)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}
