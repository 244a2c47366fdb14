/* git_pipe.c - worker-to-loop byte queue with backpressure (see git_pipe.h). */
#include "git_pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sbuf.h"

/* The worker waits while this much is queued... */
#define QUEUE_HIGH (1u << 20)
/* ...and the loop hands bytes to the sink while its backlog is below this. */
#define SINK_ROOM (512u << 10)
/* Largest piece handed to the sink at once. */
#define PUMP_CHUNK (128u << 10)
/* Poll period while a job runs (ms). */
#define POLL_MS 2

struct grove__git_pipe {
	grove__loop *loop;
	const grove__git_sink *sink;
	void *sink_arg;

	pthread_mutex_t mu;
	pthread_cond_t room;      /* the queue shrank or the pipe was cancelled */
	grove__sbuf queue;        /* bytes [head, len) are pending */
	size_t head;
	int cancelled;

	/* Loop thread only (the worker reads job_active, which is stable
	 * while its job runs). */
	int job_active;
	int job_returned;
	grove__loop_fn job, done;
	void *job_arg;
	grove__timer *poll;
	unsigned long long bytes;
};

int grove__git_pipe_new(grove__git_pipe **out, grove__loop *loop, const grove__git_sink *sink,
	void *sink_arg)
{
	grove__git_pipe *p = grove__calloc(1, sizeof(*p));
	if (!p)
		return GROVE_ENOMEM;
	p->loop = loop;
	p->sink = sink;
	p->sink_arg = sink_arg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->room, NULL);
	*out = p;
	return 0;
}

void grove__git_pipe_free(grove__git_pipe *p)
{
	if (!p)
		return;
	if (p->poll)
		grove__timer_cancel(p->poll);
	grove__sbuf_dispose(&p->queue);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Drops consumed bytes when that is cheap relative to what is kept. */
static void queue_compact(grove__git_pipe *p)
{
	if (p->head == p->queue.len) {
		p->queue.len = 0;
		p->head = 0;
	} else if (p->head > p->queue.len / 2) {
		memmove(p->queue.data, p->queue.data + p->head, p->queue.len - p->head);
		p->queue.len -= p->head;
		p->head = 0;
	}
}

int grove__git_pipe_write(void *pipe, const void *data, size_t len)
{
	grove__git_pipe *p = pipe;
	int rc = 0;
	if (!p->job_active) {
		/* Loop thread: pass through unless older bytes still wait. */
		if (p->cancelled)
			return grove__error_set(GROVE_EIO, "client is gone");
		if (p->head == p->queue.len) {
			rc = p->sink->write(p->sink_arg, data, len);
			if (rc == 0)
				p->bytes += len;
			return rc;
		}
		if ((rc = grove__sbuf_put(&p->queue, data, len)) < 0)
			return rc;
		grove__git_pipe_pump(p);
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	while (!p->cancelled && p->queue.len - p->head >= QUEUE_HIGH)
		pthread_cond_wait(&p->room, &p->mu);
	if (p->cancelled) {
		rc = grove__error_set(GROVE_EIO, "client is gone");
	} else {
		queue_compact(p);
		rc = grove__sbuf_put(&p->queue, data, len);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void grove__git_pipe_cancel(grove__git_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->cancelled = 1;
	p->queue.len = 0;
	p->head = 0;
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->mu);
}

static void finish_if_done(grove__git_pipe *p)
{
	if (!p->job_active || !p->job_returned)
		return;
	pthread_mutex_lock(&p->mu);
	int empty = p->head == p->queue.len;
	pthread_mutex_unlock(&p->mu);
	if (!empty)
		return;
	if (p->poll) {
		grove__timer_cancel(p->poll);
		p->poll = NULL;
	}
	p->job_active = 0;
	p->job_returned = 0;
	grove__loop_fn done = p->done;
	void *arg = p->job_arg;
	p->done = NULL;
	done(arg);
}

void grove__git_pipe_pump(grove__git_pipe *p)
{
	if (!p->cancelled && !p->sink->alive(p->sink_arg))
		grove__git_pipe_cancel(p);
	pthread_mutex_lock(&p->mu);
	while (!p->cancelled && p->head < p->queue.len &&
	       p->sink->backlog(p->sink_arg) < SINK_ROOM) {
		size_t n = p->queue.len - p->head;
		if (n > PUMP_CHUNK)
			n = PUMP_CHUNK;
		/* The sink copies: writing under the lock is short and keeps
		 * the bytes in order. */
		if (p->sink->write(p->sink_arg, p->queue.data + p->head, n) < 0) {
			pthread_mutex_unlock(&p->mu);
			grove__git_pipe_cancel(p);
			pthread_mutex_lock(&p->mu);
			break;
		}
		p->head += n;
		p->bytes += n;
	}
	if (p->queue.len - p->head < QUEUE_HIGH / 2)
		pthread_cond_broadcast(&p->room);
	if (p->head == p->queue.len) {
		p->head = 0;
		p->queue.len = 0;
	}
	pthread_mutex_unlock(&p->mu);
	finish_if_done(p);
}

static void on_poll(void *arg)
{
	grove__git_pipe_pump(arg);
}

static void job_work(void *arg)
{
	grove__git_pipe *p = arg;
	p->job(p->job_arg);
}

static void job_done(void *arg)
{
	grove__git_pipe *p = arg;
	p->job_returned = 1;
	grove__git_pipe_pump(p);
}

int grove__git_pipe_run(grove__git_pipe *p, grove__loop_fn job, grove__loop_fn done, void *arg)
{
	int rc;
	if (p->job_active)
		return grove__error_set(GROVE_EINVALID, "a job is already running");
	p->job = job;
	p->done = done;
	p->job_arg = arg;
	p->job_returned = 0;
	if ((rc = grove__timer_start(&p->poll, p->loop, POLL_MS, POLL_MS, on_poll, p)) < 0)
		return rc;
	p->job_active = 1;
	if ((rc = grove__loop_submit(p->loop, job_work, job_done, p)) < 0) {
		p->job_active = 0;
		grove__timer_cancel(p->poll);
		p->poll = NULL;
		return rc;
	}
	return 0;
}

int grove__git_pipe_busy(const grove__git_pipe *p)
{
	return p->job_active;
}

unsigned long long grove__git_pipe_bytes(const grove__git_pipe *p)
{
	return p->bytes;
}
