/* server_common.h - pieces shared by `grove serve` and `grove daemon`. */
#ifndef GROVE_CLI_SERVER_COMMON_H
#define GROVE_CLI_SERVER_COMMON_H

/* Writes one access-log line (and a newline) to stderr. */
void server_log_line(void *arg, const char *line);
/* Worker threads for pack building: the CPUs, at least 2, at most 8. */
int server_default_workers(void);
/* Parses a positive decimal integer no larger than max; 0 or -1. */
int server_parse_int(const char *s, long max, long *out);
/*
 * Splits "HOST:PORT", "[V6]:PORT", ":PORT", "PORT" or "HOST" into host and
 * port (port stays as given when absent).  host is "" for "any".  0 or -1.
 */
int server_parse_listen(const char *s, char *host, unsigned host_size, int *port);

#endif
