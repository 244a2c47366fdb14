/*
 * The victim of tests/shell/crash_kill.sh: commits single-key changes to a
 * store in a loop and prints each commit id on stdout, flushed, right after
 * grove_set reports it committed.  Every id printed is a promise the store
 * must keep after the process is killed at any instant.
 *
 *   crash_writer LOCATION durable|relaxed [MAX_COMMITS]
 *
 * Exit status: 0 after MAX_COMMITS, 1 on usage errors, 2 when a commit
 * fails (with the error on stderr), 3 when the store does not open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grove.h"

int main(int argc, char **argv)
{
	grove_options opts = GROVE_OPTIONS_INIT;
	grove *g = NULL;
	long max = argc > 3 ? atol(argv[3]) : -1;
	char key[32], value[128], hex[GROVE_OID_HEXSZ + 1];

	if (argc < 3 || (strcmp(argv[2], "durable") && strcmp(argv[2], "relaxed"))) {
		fprintf(stderr, "usage: crash_writer LOCATION durable|relaxed [MAX_COMMITS]\n");
		return 1;
	}
	opts.durability = strcmp(argv[2], "relaxed") ? GROVE_DURABLE : GROVE_RELAXED;
	opts.sync_interval_ms = 1000; /* relaxed: a SIGKILL lands long before a flush */
	if (grove_open(&g, argv[1], &opts) < 0) {
		fprintf(stderr, "crash_writer: open %s: %s\n", argv[1], grove_error_message());
		return 3;
	}
	for (long i = 0; max < 0 || i < max; i++) {
		grove_oid id;
		int n;
		snprintf(key, sizeof(key), "dir%ld/key%ld", i % 3, i % 5);
		n = snprintf(value, sizeof(value), "value %ld written by pid %ld\n", i, (long)getpid());
		if (grove_set(g, "main", key, value, (size_t)n, NULL, &id) < 0) {
			fprintf(stderr, "crash_writer: commit %ld: %s %s\n", i,
				grove_code_name(grove_error_code()), grove_error_message());
			grove_close(g);
			return 2;
		}
		/* The acknowledgement: one write(2) per line, no buffering. */
		printf("%s\n", grove_oid_tohex(hex, &id));
		fflush(stdout);
	}
	grove_close(g);
	return 0;
}
