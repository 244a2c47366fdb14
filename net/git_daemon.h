/*
 * git_daemon.h - the git:// protocol (gitprotocol-pack, "Git Transport")
 * on the event loop, for the stores under one directory.
 *
 * A client opens a TCP connection and sends one pkt-line
 *     "git-upload-pack /name\0host=example.com\0"
 * optionally followed by extra parameters "\0version=2\0" (a protocol v2
 * request).  The rest of the connection is the stateful upload-pack or
 * receive-pack conversation.  /name resolves to a store as described in
 * git_repos.h.  receive-pack is refused unless enabled.
 *
 * Anything wrong in the request line (bad pkt-line, unknown service, bad or
 * unknown repository) is answered with an "ERR <message>" packet and the
 * connection is closed; other connections are not affected.  Pack building
 * and push checking run on worker threads with their output streamed back
 * (git_pipe.h).
 */
#ifndef GROVE_NET_GIT_DAEMON_H
#define GROVE_NET_GIT_DAEMON_H

#include "../runtime/platform.h"
#include "git_repos.h"

typedef struct grove__git_daemon grove__git_daemon;

typedef struct {
	grove__git_repos *repos;   /* where names resolve (not owned) */
	int enable_receive_pack;   /* allow pushes */
	int allow_non_ff;          /* accept non-fast-forward pushes */
	unsigned request_timeout_ms; /* the request line must arrive within
	                              * this; 0: 10 s */
	unsigned idle_timeout_ms;  /* a session waiting for client input is
	                            * closed after this; 0: 5 min */
	/* One line per connection, without newline, called on the loop
	 * thread (optional). */
	void (*log)(void *arg, const char *line);
	void *log_arg;
} grove__git_daemon_config;

int grove__git_daemon_new(grove__git_daemon **out, grove__loop *loop,
	const grove__git_daemon_config *cfg);
/* Listens on host:port (see grove__listen). */
int grove__git_daemon_listen(grove__git_daemon *d, const char *host, int port,
	grove__listener **out);
/* After the loop finished. */
void grove__git_daemon_free(grove__git_daemon *d);

#endif
