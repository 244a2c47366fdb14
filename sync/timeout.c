/* How long a sync transfer waits on a silent remote (sync_internal.h). */
#include "sync_internal.h"
#include "native.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

unsigned grove__sync_timeout_ms(void)
{
	const char *e = getenv("GROVE_SYNC_TIMEOUT");
	char *end;
	double s;
	if (!e || !*e)
		return GROVE__SYNC_TIMEOUT_DEFAULT_MS;
	s = strtod(e, &end);
	/* A value we cannot read is not "no timeout": keep the default. */
	if (end == e || *end || !(s >= 0) || s > 86400.0 * 365)
		return GROVE__SYNC_TIMEOUT_DEFAULT_MS;
	if (s == 0)
		return 0;
	return s * 1000 < 1 ? 1 : (unsigned)(s * 1000 + 0.5);
}

unsigned grove__sync_opts_timeout_ms(const grove_sync_opts *opts)
{
	/* The caller's own setting wins over the environment's; more than
	 * unsigned milliseconds hold (~49 days) is "that long". */
	if (opts && opts->timeout_secs)
		return opts->timeout_secs > UINT_MAX / 1000u ? UINT_MAX / 1000u * 1000u : opts->timeout_secs * 1000u;
	return grove__sync_timeout_ms();
}

const char *grove__sync_timeout_text(unsigned ms, char *buf, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%u s", ms / 1000);
	else
		snprintf(buf, size, "%.1f s", ms / 1000.0);
	return buf;
}

uint64_t grove__sync_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
