/*
 * git_pipe.h - carries the output of a git protocol session from a worker
 * thread back to the loop thread, for the network transports (git://,
 * smart HTTP).
 *
 * Pack building is long CPU work, so it runs on a worker (grove__loop_submit)
 * while the loop keeps serving other connections.  Its output must reach
 * the client as it is produced, not when the pack is complete: the worker
 * appends to a bounded queue (blocking while the queue is full, so a slow
 * client slows the pack builder instead of growing memory), and the loop
 * thread moves queued bytes into the connection whenever the connection has
 * room.  The platform has no cross-thread wake-up, so while a job runs a
 * short periodic timer polls the queue.
 *
 * Outside of a job, grove__git_pipe_write passes bytes straight through
 * (after anything still queued), so one write callback serves a session
 * both on the loop thread and on a worker.
 */
#ifndef GROVE_NET_GIT_PIPE_H
#define GROVE_NET_GIT_PIPE_H

#include <stddef.h>

#include "../runtime/platform.h"

typedef struct grove__git_pipe grove__git_pipe;

/* Where bytes go; every function is called on the loop thread. */
typedef struct {
	/* Writes to the client; negative when it is gone. */
	int (*write)(void *arg, const void *data, size_t len);
	/* Bytes written but not yet taken by the transport. */
	size_t (*backlog)(void *arg);
	/* 0 once the client is gone (the running job is then cancelled). */
	int (*alive)(void *arg);
} grove__git_sink;

/* sink must outlive the pipe. */
int grove__git_pipe_new(grove__git_pipe **out, grove__loop *loop, const grove__git_sink *sink,
	void *sink_arg);
/* Loop thread, no job running. */
void grove__git_pipe_free(grove__git_pipe *p);

/*
 * A grove__git_write_fn (payload = the pipe).  On a worker during a job:
 * queues, waiting while the queue is full; returns GROVE_EIO once the
 * client is gone.  On the loop thread outside a job: writes through.
 */
int grove__git_pipe_write(void *pipe, const void *data, size_t len);

/*
 * Runs job(arg) on a worker.  done(arg) runs on the loop thread once the
 * job returned and everything it wrote was handed to the sink (or dropped
 * because the client went away).  One job at a time.
 */
int grove__git_pipe_run(grove__git_pipe *p, grove__loop_fn job, grove__loop_fn done, void *arg);
/* 1 while a job or its output is pending. */
int grove__git_pipe_busy(const grove__git_pipe *p);
/* Loop thread: the sink has room again (call from drain callbacks). */
void grove__git_pipe_pump(grove__git_pipe *p);
/* Loop thread: the client is gone; a running job's writes fail from now. */
void grove__git_pipe_cancel(grove__git_pipe *p);
/* Bytes handed to the sink so far (for logs). */
unsigned long long grove__git_pipe_bytes(const grove__git_pipe *p);

#endif
