/* The hosted platform: the event loop of platform.h over Linux epoll, with an
 * eventfd for worker completions and cross-thread stop, and a signalfd for
 * SIGTERM/SIGINT.  Level-triggered: simpler to reason about with read pause. */
#include "platform.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { KIND_LISTENER = 1, KIND_CONN, KIND_WAKE, KIND_SIGNAL };

/* After a graceful close flushed, we keep reading (and discarding) for this
 * long so the peer sees our response instead of a reset. */
#define LINGER_MS 2000
#define READ_CHUNK 65536

typedef struct wbuf {
	struct wbuf *next;
	size_t len, off;
	char data[];
} wbuf;

struct grove__conn {
	int kind;
	grove__loop *loop;
	int fd;
	const grove__conn_handler *handler;
	void *data;
	char peer[64];
	wbuf *qhead, *qtail;
	size_t queued;
	uint32_t events;     /* current epoll interest */
	int read_paused, busy, eof;
	int closing;         /* graceful close requested: flushing */
	int lingering;       /* flushed and shut down for writing */
	int dead;            /* fd closed; on_close pending */
	uint64_t last_active, deadline;
	grove__conn *prev, *next;
};

struct grove__listener {
	int kind;
	grove__loop *loop;
	int fd, port;
	const grove__conn_handler *handler;
	void *arg;
	grove__listener *next;
};

struct grove__timer {
	grove__loop *loop;
	uint64_t due;
	unsigned period;
	grove__loop_fn fn;
	void *arg;
	grove__timer *prev, *next;
};

typedef struct task {
	struct task *next;
	grove__loop_fn work, done;
	void *arg;
} task;

typedef struct {
	int kind;
} tag;

struct grove__loop {
	grove__loop_config cfg;
	int epfd;
	tag wake_tag, signal_tag;
	int wakefd, sigfd;
	sigset_t oldmask;
	int mask_changed;
	grove__listener *listeners;
	grove__conn *conns;     /* open (not dead) connections */
	grove__conn *dead;      /* waiting for on_close, singly linked */
	int nconns;
	grove__timer *timers;   /* sorted by due */
	task *deferred, *deferred_tail;
	uint64_t next_sweep;
	/* shutdown */
	atomic_int stop_requested;
	int stopping;
	uint64_t stop_deadline;
	int aborted_all;
	/* workers */
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	task *jobs, *jobs_tail;  /* waiting for a worker (mu) */
	task *done;              /* finished, waiting for the loop (mu) */
	int quit;                /* (mu) */
	int pending;             /* submitted, done not yet run (loop only) */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t grove__loop_now_ms(grove__loop *loop)
{
	(void)loop;
	return now_ms();
}

int grove__loop_conn_count(grove__loop *loop)
{
	return loop->nconns;
}

static void wake(grove__loop *loop)
{
	uint64_t one = 1;
	ssize_t r = write(loop->wakefd, &one, sizeof(one));
	(void)r; /* a full counter still wakes the loop */
}

/* ---- workers --------------------------------------------------------- */

static void *worker_main(void *arg)
{
	grove__loop *loop = arg;
	pthread_mutex_lock(&loop->mu);
	for (;;) {
		while (!loop->jobs && !loop->quit)
			pthread_cond_wait(&loop->cv, &loop->mu);
		if (!loop->jobs)
			break;
		task *t = loop->jobs;
		loop->jobs = t->next;
		if (!loop->jobs)
			loop->jobs_tail = NULL;
		pthread_mutex_unlock(&loop->mu);
		t->work(t->arg);
		pthread_mutex_lock(&loop->mu);
		t->next = loop->done;
		loop->done = t;
		wake(loop);
	}
	pthread_mutex_unlock(&loop->mu);
	return NULL;
}

int grove__loop_submit(grove__loop *loop, grove__loop_fn work,
		       grove__loop_fn done, void *arg)
{
	task *t = grove__calloc(1, sizeof(*t));
	if (!t)
		return GROVE_ENOMEM;
	t->work = work;
	t->done = done;
	t->arg = arg;
	pthread_mutex_lock(&loop->mu);
	if (loop->jobs_tail)
		loop->jobs_tail->next = t;
	else
		loop->jobs = t;
	loop->jobs_tail = t;
	pthread_cond_signal(&loop->cv);
	pthread_mutex_unlock(&loop->mu);
	loop->pending++;
	return 0;
}

static void run_done_jobs(grove__loop *loop)
{
	pthread_mutex_lock(&loop->mu);
	task *list = loop->done;
	loop->done = NULL;
	pthread_mutex_unlock(&loop->mu);
	/* The list is newest first; reverse it so callbacks run in order. */
	task *rev = NULL;
	while (list) {
		task *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		task *n = rev->next;
		loop->pending--;
		if (rev->done)
			rev->done(rev->arg);
		free(rev);
		rev = n;
	}
}

/* ---- loop lifecycle -------------------------------------------------- */

int grove__loop_new(grove__loop **out, const grove__loop_config *cfg)
{
	grove__loop *loop = grove__calloc(1, sizeof(*loop));
	if (!loop)
		return GROVE_ENOMEM;
	if (cfg)
		loop->cfg = *cfg;
	if (loop->cfg.max_conns <= 0)
		loop->cfg.max_conns = 1024;
	if (!loop->cfg.shutdown_timeout_ms)
		loop->cfg.shutdown_timeout_ms = 10000;
	if (loop->cfg.workers <= 0)
		loop->cfg.workers = 2;
	loop->wake_tag.kind = KIND_WAKE;
	loop->signal_tag.kind = KIND_SIGNAL;
	loop->wakefd = loop->sigfd = -1;
	atomic_init(&loop->stop_requested, 0);
	pthread_mutex_init(&loop->mu, NULL);
	pthread_cond_init(&loop->cv, NULL);

	int err;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto fail_errno;
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wakefd < 0)
		goto fail_errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &loop->wake_tag };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
		goto fail_errno;

	if (loop->cfg.handle_signals) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		/* Blocked before the workers start, so they inherit the mask and
		 * the signals reach only the signalfd. */
		if (pthread_sigmask(SIG_BLOCK, &set, &loop->oldmask) != 0)
			goto fail_errno;
		loop->mask_changed = 1;
		loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
		if (loop->sigfd < 0)
			goto fail_errno;
		ev.data.ptr = &loop->signal_tag;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->sigfd, &ev) < 0)
			goto fail_errno;
	}

	loop->threads = grove__calloc((size_t)loop->cfg.workers, sizeof(pthread_t));
	if (!loop->threads) {
		grove__loop_free(loop);
		return GROVE_ENOMEM;
	}
	for (int i = 0; i < loop->cfg.workers; i++) {
		int rc = pthread_create(&loop->threads[i], NULL, worker_main, loop);
		if (rc != 0) {
			errno = rc;
			goto fail_errno;
		}
		loop->nthreads++;
	}
	*out = loop;
	return 0;

fail_errno:
	err = errno;
	grove__loop_free(loop);
	return grove__error_set(grove__error_from_errno(err), "event loop: %s",
				strerror(err));
}

void grove__loop_stop(grove__loop *loop)
{
	atomic_store(&loop->stop_requested, 1);
	wake(loop);
}

static void conn_free(grove__conn *c)
{
	wbuf *b = c->qhead;
	while (b) {
		wbuf *n = b->next;
		free(b);
		b = n;
	}
	free(c);
}

void grove__loop_free(grove__loop *loop)
{
	if (!loop)
		return;
	pthread_mutex_lock(&loop->mu);
	loop->quit = 1;
	pthread_cond_broadcast(&loop->cv);
	pthread_mutex_unlock(&loop->mu);
	for (int i = 0; i < loop->nthreads; i++)
		pthread_join(loop->threads[i], NULL);
	free(loop->threads);
	/* Jobs that finished after the loop ended still get their done call so
	 * their owners can free what they hold. */
	run_done_jobs(loop);
	while (loop->deferred) {
		task *t = loop->deferred;
		loop->deferred = t->next;
		free(t);
	}
	while (loop->conns) {
		grove__conn *c = loop->conns;
		loop->conns = c->next;
		close(c->fd);
		if (c->handler->on_close)
			c->handler->on_close(c);
		conn_free(c);
	}
	while (loop->dead) {
		grove__conn *c = loop->dead;
		loop->dead = c->next;
		if (c->handler->on_close)
			c->handler->on_close(c);
		conn_free(c);
	}
	while (loop->listeners) {
		grove__listener *l = loop->listeners;
		loop->listeners = l->next;
		if (l->fd >= 0)
			close(l->fd);
		free(l);
	}
	while (loop->timers) {
		grove__timer *t = loop->timers;
		loop->timers = t->next;
		free(t);
	}
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	if (loop->mask_changed)
		pthread_sigmask(SIG_SETMASK, &loop->oldmask, NULL);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	pthread_mutex_destroy(&loop->mu);
	pthread_cond_destroy(&loop->cv);
	free(loop);
}

/* ---- timers and deferred work --------------------------------------- */

static void timer_insert(grove__loop *loop, grove__timer *t)
{
	grove__timer **pp = &loop->timers, *prev = NULL;
	while (*pp && (*pp)->due <= t->due) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	t->next = *pp;
	t->prev = prev;
	if (*pp)
		(*pp)->prev = t;
	*pp = t;
}

static void timer_unlink(grove__timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->loop->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

int grove__timer_start(grove__timer **out, grove__loop *loop, unsigned ms,
		       unsigned period_ms, grove__loop_fn fn, void *arg)
{
	grove__timer *t = grove__calloc(1, sizeof(*t));
	if (!t)
		return GROVE_ENOMEM;
	t->loop = loop;
	t->due = now_ms() + ms;
	t->period = period_ms;
	t->fn = fn;
	t->arg = arg;
	timer_insert(loop, t);
	if (out)
		*out = t;
	return 0;
}

void grove__timer_cancel(grove__timer *t)
{
	if (!t)
		return;
	timer_unlink(t);
	free(t);
}

static void run_timers(grove__loop *loop, uint64_t now)
{
	/* Re-armed periodic timers land after now, so this ends. */
	while (loop->timers && loop->timers->due <= now) {
		grove__timer *t = loop->timers;
		timer_unlink(t);
		if (t->period) {
			t->due = now + t->period;
			timer_insert(loop, t);
			t->fn(t->arg);
		} else {
			grove__loop_fn fn = t->fn;
			void *arg = t->arg;
			free(t);
			fn(arg);
		}
	}
}

int grove__loop_defer(grove__loop *loop, grove__loop_fn fn, void *arg)
{
	task *t = grove__calloc(1, sizeof(*t));
	if (!t)
		return GROVE_ENOMEM;
	t->work = fn;
	t->arg = arg;
	if (loop->deferred_tail)
		loop->deferred_tail->next = t;
	else
		loop->deferred = t;
	loop->deferred_tail = t;
	return 0;
}

static void run_deferred(grove__loop *loop)
{
	/* Only what was queued before this point runs now; work deferred by
	 * these callbacks waits for the next iteration. */
	task *list = loop->deferred;
	loop->deferred = loop->deferred_tail = NULL;
	while (list) {
		task *n = list->next;
		list->work(list->arg);
		free(list);
		list = n;
	}
}

/* ---- connections ------------------------------------------------------ */

static void sweep_soon(grove__loop *loop, uint64_t due)
{
	if (due < loop->next_sweep)
		loop->next_sweep = due;
}

static void update_events(grove__conn *c)
{
	if (c->dead)
		return;
	uint32_t want = 0;
	if (!c->eof && ((!c->read_paused && !c->closing) || c->lingering))
		want |= EPOLLIN;
	if (c->qhead)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = c };
	if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Closes the socket now; on_close runs when the loop reaps it. */
static void conn_kill(grove__conn *c, int reset)
{
	if (c->dead)
		return;
	grove__loop *loop = c->loop;
	if (reset) {
		struct linger lg = { 1, 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	/* Deregister before close: a forked child (popen, a git subprocess)
	 * may still hold the socket, and then close alone would leave the
	 * registration, and events for a freed connection, behind. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = 1;
	if (c->prev)
		c->prev->next = c->next;
	else
		loop->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = loop->dead;
	c->prev = NULL;
	loop->dead = c;
	loop->nconns--;
}

static void reap(grove__loop *loop)
{
	while (loop->dead) {
		grove__conn *c = loop->dead;
		loop->dead = c->next;
		if (c->handler->on_close)
			c->handler->on_close(c);
		conn_free(c);
	}
}

/* Flushed after a graceful close: half-close and wait for the peer's EOF. */
static void conn_start_linger(grove__conn *c)
{
	if (shutdown(c->fd, SHUT_WR) < 0) {
		conn_kill(c, 0);
		return;
	}
	c->lingering = 1;
	c->deadline = now_ms() + LINGER_MS;
	sweep_soon(c->loop, c->deadline);
	update_events(c);
}

/* Writes queued data; returns -1 when the connection died. */
static int conn_flush(grove__conn *c)
{
	while (c->qhead) {
		wbuf *b = c->qhead;
		ssize_t n = send(c->fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_kill(c, 1);
			return -1;
		}
		c->last_active = now_ms();
		b->off += (size_t)n;
		c->queued -= (size_t)n;
		if (b->off == b->len) {
			c->qhead = b->next;
			if (!c->qhead)
				c->qtail = NULL;
			free(b);
		}
	}
	return 0;
}

int grove__conn_write(grove__conn *c, const void *data, size_t len)
{
	if (c->dead || c->closing)
		return grove__error_set(GROVE_EIO, "connection is closing");
	if (len == 0)
		return 0;
	const char *p = data;
	if (!c->qhead) {
		/* Nothing queued: try the socket directly and queue only the rest. */
		while (len > 0) {
			ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				int err = errno;
				conn_kill(c, 1);
				return grove__error_set(GROVE_EIO, "send: %s", strerror(err));
			}
			c->last_active = now_ms();
			p += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return 0;
	}
	wbuf *b = grove__malloc(sizeof(*b) + len);
	if (!b)
		return GROVE_ENOMEM;
	memcpy(b->data, p, len);
	b->len = len;
	b->off = 0;
	b->next = NULL;
	if (c->qtail)
		c->qtail->next = b;
	else
		c->qhead = b;
	c->qtail = b;
	c->queued += len;
	update_events(c);
	return 0;
}

size_t grove__conn_queued(const grove__conn *c)
{
	return c->queued;
}

void grove__conn_pause_read(grove__conn *c, int paused)
{
	c->read_paused = paused != 0;
	update_events(c);
}

void grove__conn_set_busy(grove__conn *c, int busy)
{
	c->busy = busy != 0;
	if (!c->busy) {
		c->last_active = now_ms();
		if (c->loop->stopping)
			sweep_soon(c->loop, 0);
	}
}

void grove__conn_set_deadline(grove__conn *c, unsigned ms)
{
	if (c->lingering || c->dead)
		return;
	c->deadline = ms ? now_ms() + ms : 0;
	if (ms)
		sweep_soon(c->loop, c->deadline);
}

void grove__conn_close(grove__conn *c)
{
	if (c->dead || c->closing)
		return;
	c->closing = 1;
	if (!c->qhead)
		conn_start_linger(c);
	else
		update_events(c);
}

void grove__conn_abort(grove__conn *c)
{
	conn_kill(c, 1);
}

void grove__conn_set_data(grove__conn *c, void *data)
{
	c->data = data;
}

void *grove__conn_data(const grove__conn *c)
{
	return c->data;
}

grove__loop *grove__conn_loop(const grove__conn *c)
{
	return c->loop;
}

const char *grove__conn_peer(const grove__conn *c)
{
	return c->peer;
}

static void format_peer(char *out, size_t n, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, n, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, n, "[%s]:%d", host, port);
	} else {
		snprintf(out, n, "unknown");
	}
}

static void on_conn_event(grove__conn *c, uint32_t events)
{
	if (events & EPOLLERR) {
		conn_kill(c, 1);
		return;
	}
	if (events & EPOLLOUT) {
		int had = c->qhead != NULL;
		if (conn_flush(c) < 0)
			return;
		if (had && !c->qhead) {
			if (c->closing && !c->lingering)
				conn_start_linger(c);
			else if (c->handler->on_drain)
				c->handler->on_drain(c);
		}
		update_events(c);
	}
	if (c->dead)
		return;
	if ((events & EPOLLHUP) && !(c->events & EPOLLIN)) {
		/* Both directions are gone and we are not reading: nothing more
		 * can be delivered either way. */
		conn_kill(c, 0);
		return;
	}
	if ((c->read_paused || c->closing) && !c->lingering)
		return; /* a callback above switched reading off */
	if (events & (EPOLLIN | EPOLLHUP)) {
		char buf[READ_CHUNK];
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				conn_kill(c, 1);
			return;
		}
		if (c->lingering) {
			if (n == 0)
				conn_kill(c, 0);
			return; /* discard what a closed request still sends */
		}
		c->last_active = now_ms();
		if (n == 0) {
			c->eof = 1;
			update_events(c);
			c->handler->on_read(c, NULL, 0);
		} else {
			c->handler->on_read(c, buf, (size_t)n);
		}
	}
}

static void on_accept(grove__listener *l)
{
	grove__loop *loop = l->loop;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: retry on next event */
		if (loop->stopping || loop->nconns >= loop->cfg.max_conns) {
			close(fd); /* refused: the peer sees an immediate EOF */
			continue;
		}
		grove__conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->kind = KIND_CONN;
		c->loop = loop;
		c->fd = fd;
		c->handler = l->handler;
		c->last_active = now_ms();
		format_peer(c->peer, sizeof(c->peer), &ss);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->events = EPOLLIN;
		c->next = loop->conns;
		if (loop->conns)
			loop->conns->prev = c;
		loop->conns = c;
		loop->nconns++;
		if (loop->cfg.idle_timeout_ms)
			sweep_soon(loop, c->last_active + loop->cfg.idle_timeout_ms);
		if (l->handler->on_open)
			l->handler->on_open(c, l->arg);
	}
}

/* Deadlines, idleness and shutdown, for every connection; schedules the
 * next sweep at the earliest time one of them can change. */
static void sweep(grove__loop *loop, uint64_t now)
{
	uint64_t next = now + 1000;
	grove__conn *c = loop->conns;
	while (c) {
		grove__conn *n = c->next;
		if (c->deadline && now >= c->deadline) {
			c->deadline = 0;
			if (c->lingering || !c->handler->on_deadline)
				conn_kill(c, c->lingering ? 0 : 1);
			else
				c->handler->on_deadline(c);
		} else if (!c->busy && !c->closing && loop->cfg.idle_timeout_ms &&
			   now >= c->last_active + loop->cfg.idle_timeout_ms) {
			grove__conn_close(c);
		} else if (loop->stopping && !c->busy && !c->closing) {
			grove__conn_close(c);
		}
		if (!c->dead) {
			if (c->deadline && c->deadline < next)
				next = c->deadline;
			if (loop->cfg.idle_timeout_ms && !c->closing) {
				uint64_t idle = c->last_active + loop->cfg.idle_timeout_ms;
				if (idle < next)
					next = idle;
			}
		}
		c = n;
	}
	if (loop->stopping && loop->stop_deadline < next)
		next = loop->stop_deadline;
	loop->next_sweep = next > now ? next : now + 1;
}

static void begin_stop(grove__loop *loop)
{
	loop->stopping = 1;
	loop->stop_deadline = now_ms() + loop->cfg.shutdown_timeout_ms;
	for (grove__listener *l = loop->listeners; l; l = l->next) {
		if (l->fd >= 0) {
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, l->fd, NULL);
			close(l->fd);
			l->fd = -1;
		}
	}
	loop->next_sweep = 0;
}

static void on_wake(grove__loop *loop)
{
	uint64_t v;
	while (read(loop->wakefd, &v, sizeof(v)) > 0)
		;
	run_done_jobs(loop);
}

static void on_signal(grove__loop *loop)
{
	struct signalfd_siginfo si;
	while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		atomic_store(&loop->stop_requested, 1);
}

int grove__loop_run(grove__loop *loop)
{
	struct epoll_event events[64];
	loop->next_sweep = now_ms();
	for (;;) {
		if (atomic_load(&loop->stop_requested) && !loop->stopping)
			begin_stop(loop);
		if (loop->stopping && loop->nconns == 0 && loop->pending == 0 &&
		    !loop->deferred)
			break;
		run_deferred(loop);
		reap(loop);

		uint64_t now = now_ms();
		uint64_t due = loop->next_sweep;
		if (loop->timers && loop->timers->due < due)
			due = loop->timers->due;
		int timeout = 0;
		if (!loop->deferred && !loop->dead)
			timeout = due > now ? (int)(due - now < 60000 ? due - now : 60000) : 0;
		int n = epoll_wait(loop->epfd, events, 64, timeout);
		if (n < 0 && errno != EINTR)
			return grove__error_set(GROVE_EIO, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			tag *t = events[i].data.ptr;
			if (t->kind == KIND_WAKE) {
				on_wake(loop);
			} else if (t->kind == KIND_SIGNAL) {
				on_signal(loop);
			} else if (t->kind == KIND_LISTENER) {
				on_accept((grove__listener *)t);
			} else {
				grove__conn *c = (grove__conn *)t;
				if (!c->dead)
					on_conn_event(c, events[i].events);
			}
		}
		now = now_ms();
		run_timers(loop, now);
		if (loop->stopping && !loop->aborted_all && now >= loop->stop_deadline) {
			loop->aborted_all = 1;
			while (loop->conns)
				conn_kill(loop->conns, 1);
		}
		if (now >= loop->next_sweep)
			sweep(loop, now);
		reap(loop);
	}
	reap(loop);
	return 0;
}

/* ---- listeners -------------------------------------------------------- */

static int listen_on(grove__listener *l, const char *host, int port)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0)
		return grove__error_set(GROVE_EINVALID, "listen %s:%d: %s", host, port,
					gai_strerror(rc));
	int err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1, zero = 0;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			getsockname(fd, (struct sockaddr *)&ss, &sl);
			l->port = ss.ss_family == AF_INET6
				? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
				: ntohs(((struct sockaddr_in *)&ss)->sin_port);
			l->fd = fd;
			freeaddrinfo(res);
			return 0;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	return grove__error_set(grove__error_from_errno(err), "listen %s:%d: %s",
				host, port, strerror(err));
}

int grove__listen(grove__listener **out, grove__loop *loop, const char *host,
		  int port, const grove__conn_handler *handler, void *arg)
{
	grove__listener *l = grove__calloc(1, sizeof(*l));
	if (!l)
		return GROVE_ENOMEM;
	l->kind = KIND_LISTENER;
	l->loop = loop;
	l->fd = -1;
	l->handler = handler;
	l->arg = arg;
	int rc;
	if (host)
		rc = listen_on(l, host, port);
	else if ((rc = listen_on(l, "::", port)) < 0)
		rc = listen_on(l, "0.0.0.0", port);
	if (rc < 0) {
		free(l);
		return rc;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
		int err = errno;
		close(l->fd);
		free(l);
		return grove__error_set(GROVE_EIO, "epoll: %s", strerror(err));
	}
	l->next = loop->listeners;
	loop->listeners = l;
	if (out)
		*out = l;
	return 0;
}

int grove__listener_port(const grove__listener *l)
{
	return l->port;
}
