/* sync/native_*.c: grove's own git:// client against a scripted server on
 * loopback (a thread: it reads the request, sends an advertisement, reads
 * what the client sends until it goes quiet, then sends a reply).  Bad
 * advertisements, ERR packets, refused updates, failed unpacks, broken or
 * missing packs and cancellation give clear errors and leave the store's
 * refs unchanged.  (Round trips with real git servers: sync_native.sh.) */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "store.h"

typedef struct {
	int lfd, port;
	const char *adv;     /* sent after the request */
	size_t adv_len;
	const char *reply;   /* sent once the client is quiet */
	size_t reply_len;
	char got[65536];     /* what the client sent after the advertisement */
	size_t got_len;
	pthread_t th;
} fake_server;

static void *serve(void *arg)
{
	fake_server *s = arg;
	char buf[65536];
	int c = accept(s->lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	if (recv(c, buf, sizeof(buf), 0) > 0 && send(c, s->adv, s->adv_len, MSG_NOSIGNAL) >= 0) {
		for (;;) {
			struct pollfd p = { c, POLLIN, 0 };
			ssize_t n;
			if (poll(&p, 1, 300) <= 0)
				break;
			n = recv(c, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			if (s->got_len + (size_t)n < sizeof(s->got)) {
				memcpy(s->got + s->got_len, buf, (size_t)n);
				s->got_len += (size_t)n;
			}
		}
		if (s->reply_len)
			send(c, s->reply, s->reply_len, MSG_NOSIGNAL);
	}
	close(c);
	return NULL;
}

static void server_start(fake_server *s, const char *adv, size_t adv_len, const char *reply, size_t reply_len)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1;
	memset(s, 0, sizeof(*s));
	s->adv = adv;
	s->adv_len = adv_len;
	s->reply = reply;
	s->reply_len = reply_len;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(s->lfd, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->lfd, 4), 0);
	cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(fake_server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* A store with one commit on main and remote "origin" at the fake server. */
static grove *store_for(const fake_server *s, grove_oid *head)
{
	grove *g = NULL;
	char url[128];
	cr_assert_eq(grove_open(&g, "mem:", NULL), 0, "%s", grove_error_message());
	cr_assert_eq(grove_set(g, "main", "k", "v", 1, NULL, head), 0);
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/r.git", s->port);
	cr_assert_eq(grove_remote_add(g, "origin", url), 0);
	return g;
}

/* No tracking ref, no tag: what a failed fetch or push must leave. */
static void expect_refs_unchanged(grove *g)
{
	grove_oid id;
	cr_expect_eq(grove_ref_read(g, "refs/remotes/origin/main", &id), GROVE_ENOTFOUND);
	cr_expect_eq(grove_ref_read(g, "refs/tags/v1", &id), GROVE_ENOTFOUND);
	grove_error_clear();
}

#define ZERO40 "0000000000000000000000000000000000000000"
#define ONE40 "1111111111111111111111111111111111111111"
/* receive-pack's advertisement of an empty repository. */
#define RP_EMPTY "006f" ZERO40 " capabilities^{}\0report-status delete-refs side-band-64k ofs-delta\n0000"
/* upload-pack's advertisement of one branch. */
#define UP_ONE "0060" ONE40 " HEAD\0side-band-64k ofs-delta thin-pack no-progress\n" \
	"003d" ONE40 " refs/heads/main\n0000"

#define S(lit) lit, sizeof(lit) - 1

Test(sync_native, push_bad_advertisement)
{
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S("003ethis is not an object id, it is forty characters and more\n0000"), NULL, 0);
	g = store_for(&s, &head);
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "push to 'origin' (git://127.0.0.1:") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "bad advertisement") != NULL, "%s", grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, push_err_packet)
{
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S("0023ERR access denied for this one\n"), NULL, 0);
	g = store_for(&s, &head);
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "remote error: access denied for this one") != NULL, "%s",
		grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, push_refused_by_the_remote)
{
	/* Side-band 1 carrying report-status: unpack ok, main refused. */
	static const char reply[] = "003c\001000eunpack ok\n0025ng refs/heads/main hook declined\n00000000";
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(RP_EMPTY), reply, sizeof(reply) - 1);
	g = store_for(&s, &head);
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_ERROR);
	cr_expect(strstr(grove_error_message(), "refs/heads/main rejected by the remote: hook declined") != NULL, "%s",
		grove_error_message());
	server_stop(&s);
	/* It did send the command and a pack. */
	cr_expect(s.got_len > 4 && memmem(s.got, s.got_len, "refs/heads/main", 15) != NULL);
	cr_expect(memmem(s.got, s.got_len, "PACK", 4) != NULL);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, push_unpack_failed)
{
	static const char reply[] = "0028\001001funpack index-pack abnormal\n00000000";
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(RP_EMPTY), reply, sizeof(reply) - 1);
	g = store_for(&s, &head);
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_ERROR);
	cr_expect(strstr(grove_error_message(), "failed to unpack: index-pack abnormal") != NULL, "%s",
		grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, push_no_report)
{
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(RP_EMPTY), NULL, 0); /* hangs up instead of reporting */
	g = store_for(&s, &head);
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "hung up") != NULL, "%s", grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, fetch_remote_error_on_band_3)
{
	static const char reply[] = "0008NAK\n0017\003upload-pack: boom\n";
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(UP_ONE), reply, sizeof(reply) - 1);
	g = store_for(&s, &head);
	cr_expect_eq(grove_fetch(g, "origin", NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "fetch from 'origin'") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "remote error: upload-pack: boom") != NULL, "%s", grove_error_message());
	server_stop(&s);
	/* It asked for the branch, with the capabilities it needs. */
	cr_expect(memmem(s.got, s.got_len, "want " ONE40 " side-band-64k ofs-delta thin-pack no-progress", 80) != NULL);
	cr_expect(memmem(s.got, s.got_len, "done", 4) != NULL);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, fetch_broken_pack)
{
	static const char reply[] = "0008NAK\n0016\001PACK\0\0\0\2\0\0\0\1\xff\xff\xff\xff\xff" "0000";
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(UP_ONE), reply, sizeof(reply) - 1);
	g = store_for(&s, &head);
	cr_expect_lt(grove_fetch(g, "origin", NULL), 0);
	cr_expect(strstr(grove_error_message(), "fetch from 'origin'") != NULL, "%s", grove_error_message());
	cr_expect(strstr(grove_error_message(), "pack") != NULL, "%s", grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, fetch_without_pack)
{
	static const char reply[] = "0008NAK\n0000";
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(UP_ONE), reply, sizeof(reply) - 1);
	g = store_for(&s, &head);
	cr_expect_eq(grove_fetch(g, "origin", NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "no pack") != NULL, "%s", grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, fetch_cancelled)
{
	/* The cancel flag, already set, stops the fetch before anything is
	 * asked for. */
	static volatile int cancel = 1;
	grove_sync_opts o = GROVE_SYNC_OPTIONS_INIT;
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S(UP_ONE), NULL, 0);
	g = store_for(&s, &head);
	o.cancel = (const volatile int *)&cancel;
	cr_expect_eq(grove_fetch(g, "origin", &o), GROVE_ERROR);
	cr_expect(strstr(grove_error_message(), "cancelled") != NULL, "%s", grove_error_message());
	server_stop(&s);
	expect_refs_unchanged(g);
	grove_close(g);
}

Test(sync_native, connect_refused)
{
	fake_server s;
	grove_oid head;
	grove *g;
	server_start(&s, S("0000"), NULL, 0);
	g = store_for(&s, &head);
	/* Let the server take its one connection and go away, then reuse its port. */
	{
		int c = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a;
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)s.port);
		cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
		send(c, "x", 1, 0);
		server_stop(&s);
		close(c);
	}
	cr_expect_eq(grove_push(g, "origin", NULL, 0, NULL), GROVE_EIO);
	cr_expect(strstr(grove_error_message(), "cannot connect") != NULL, "%s", grove_error_message());
	expect_refs_unchanged(g);
	grove_close(g);
}
