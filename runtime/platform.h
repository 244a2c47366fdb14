/*
 * platform.h - the small platform interface the server layers run on.
 *
 * One single-threaded event loop owns listeners, connections, timers and
 * deferred work; a pool of worker threads runs long CPU jobs whose completion
 * callbacks come back on the loop thread.  Every callback below runs on the
 * loop thread, so protocol code needs no locks.  Protocol code (net/) never
 * calls socket APIs: it sees only this interface.  The hosted implementation
 * is runtime/loop_epoll.c (Linux epoll); a unikernel platform implements the
 * same functions over its own TCP/IP stack.
 *
 * Lifetimes: a grove__conn is valid from on_open until on_close returns.
 * grove__conn_close/abort never free synchronously: on_close runs later on
 * the loop, so a callback may close its own connection and keep using the
 * pointer until it returns.
 *
 * Only grove__loop_stop() and the work functions of grove__loop_submit()
 * may run on other threads.
 */
#ifndef GROVE_RUNTIME_PLATFORM_H
#define GROVE_RUNTIME_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

typedef struct grove__loop grove__loop;
typedef struct grove__conn grove__conn;
typedef struct grove__listener grove__listener;
typedef struct grove__timer grove__timer;

typedef struct {
	int max_conns;                /* refuse (accept+close) beyond; 0: 1024 */
	unsigned idle_timeout_ms;     /* close a connection with no traffic and
	                               * not marked busy; 0: never */
	unsigned shutdown_timeout_ms; /* bound on graceful shutdown; 0: 10 s */
	int workers;                  /* worker threads; 0: 2 */
	int handle_signals;           /* SIGTERM/SIGINT start a graceful
	                               * shutdown (signals are blocked in the
	                               * calling thread and in the workers) */
} grove__loop_config;

/* ---- the loop ------------------------------------------------------ */

/* cfg may be NULL for the defaults. */
int grove__loop_new(grove__loop **out, const grove__loop_config *cfg);
/* Runs until a shutdown completes; 0 then, a negative code on failure. */
int grove__loop_run(grove__loop *loop);
/*
 * Starts a graceful shutdown from any thread (or signal context): listeners
 * close, idle connections close, busy ones are closed once they stop being
 * busy (grove__conn_set_busy), everything is aborted after
 * shutdown_timeout_ms.  Worker jobs always finish and their done callbacks
 * run before grove__loop_run returns.
 */
void grove__loop_stop(grove__loop *loop);
/* After grove__loop_run returned (or was never called). */
void grove__loop_free(grove__loop *loop);
/* Milliseconds on a monotonic clock (for durations). */
uint64_t grove__loop_now_ms(grove__loop *loop);
/* Number of open connections. */
int grove__loop_conn_count(grove__loop *loop);

/* ---- listeners and connections -------------------------------------- */

typedef struct {
	/* A new connection: set its data with grove__conn_set_data. */
	void (*on_open)(grove__conn *c, void *listener_arg);
	/* Bytes received; len 0 means the peer closed its sending side. */
	void (*on_read)(grove__conn *c, const char *data, size_t len);
	/* The write queue became empty (optional). */
	void (*on_drain)(grove__conn *c);
	/* The deadline set by grove__conn_set_deadline passed (optional; the
	 * connection is aborted when NULL). */
	void (*on_deadline)(grove__conn *c);
	/* The connection is gone: release the data.  Called exactly once. */
	void (*on_close)(grove__conn *c);
} grove__conn_handler;

/*
 * Listens on host:port ("127.0.0.1", "::", "0.0.0.0"; NULL = "::" falling
 * back to "0.0.0.0").  port 0 picks an ephemeral port: see
 * grove__listener_port.  handler must outlive the listener.
 */
int grove__listen(grove__listener **out, grove__loop *loop, const char *host,
		  int port, const grove__conn_handler *handler, void *arg);
int grove__listener_port(const grove__listener *l);

void grove__conn_set_data(grove__conn *c, void *data);
void *grove__conn_data(const grove__conn *c);
grove__loop *grove__conn_loop(const grove__conn *c);
/* "127.0.0.1:5555" or "[::1]:5555". */
const char *grove__conn_peer(const grove__conn *c);

/*
 * Queues a copy of data and writes what the socket takes now.  Returns 0,
 * or a negative code when the connection is closing or memory ran out.
 * Backpressure: watch grove__conn_queued and wait for on_drain.
 */
int grove__conn_write(grove__conn *c, const void *data, size_t len);
size_t grove__conn_queued(const grove__conn *c);
/* Stops (1) or resumes (0) delivering on_read. */
void grove__conn_pause_read(grove__conn *c, int paused);
/* Busy connections are not closed for idleness nor by a graceful shutdown
 * until they become idle again (a request is in flight). */
void grove__conn_set_busy(grove__conn *c, int busy);
/* Calls on_deadline after ms (0 clears); a slow-client bound. */
void grove__conn_set_deadline(grove__conn *c, unsigned ms);
/* Graceful: stop reading, flush the queue, then close. */
void grove__conn_close(grove__conn *c);
/* Immediate: drop the queue and reset the connection. */
void grove__conn_abort(grove__conn *c);

/* ---- timers and deferred work -------------------------------------- */

typedef void (*grove__loop_fn)(void *arg);

/* Calls fn after ms, then every period_ms if period_ms > 0.  A one-shot
 * timer frees itself after firing; cancel it only before that. */
int grove__timer_start(grove__timer **out, grove__loop *loop, unsigned ms,
		       unsigned period_ms, grove__loop_fn fn, void *arg);
void grove__timer_cancel(grove__timer *t);

/* Runs fn(arg) on the next loop iteration. */
int grove__loop_defer(grove__loop *loop, grove__loop_fn fn, void *arg);

/* ---- worker pool ---------------------------------------------------- */

/* Runs work(arg) on a worker thread, then done(arg) on the loop thread. */
int grove__loop_submit(grove__loop *loop, grove__loop_fn work,
		       grove__loop_fn done, void *arg);

#endif
