/*
 * Copyright (c) 2026 The evinetd authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * Unit tests for listener.c on a real worker (check_serve.h): which
 * socket options a listening socket gets (a UDP socket must not let
 * another user bind its port), the real port behind port 0, and what the
 * state dump says of a listener: serving, detached for a drain, paused
 * for want of descriptors, or another worker's.  And what a service the
 * operator disabled does (service_set_disabled): new TCP clients get the
 * refuse_banner and EOF, datagrams no answer, both counted and logged as
 * refused "disabled" before any limit takes a slot, while the connections
 * it had go on.
 */

#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_serve.h"
#include "check_run.h"

static void
teardown(void)
{
	serve_stop();
	check_str_free();
}

static int
sockopt(int fd, int opt)
{
	int		on = -1;
	socklen_t	len = sizeof(on);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, opt, &on, &len), 0);
	return (on);
}

static struct listener *
first_listener(const char *service)
{
	struct listener	*l;

	l = TAILQ_FIRST(&serve_service(service)->s_conf->sc_listeners);
	ck_assert_ptr_nonnull(l);
	return (l);
}

START_TEST(test_only_stream_sockets_reuse_addresses)
{
	struct listener	*tcp, *udp, *rp;

	serve_start("service t {\n listen = 127.0.0.1:0\n module = echo\n}\n"
	    "service u {\n listen = 127.0.0.1:0\n module = echo\n"
	    " protocol = udp\n}\n"
	    "service r {\n listen = 127.0.0.1:0\n module = echo\n"
	    " protocol = udp\n reuseport = yes\n}\n");
	tcp = first_listener("t");
	udp = first_listener("u");
	rp = first_listener("r");
	ck_assert_int_ne(sockopt(tcp->l_fd, SO_REUSEADDR), 0);
	ck_assert_int_eq(sockopt(tcp->l_fd, SO_REUSEPORT), 0);
	/* On Linux, SO_REUSEADDR on UDP lets any user share the port. */
	ck_assert_int_eq(sockopt(udp->l_fd, SO_REUSEADDR), 0);
	ck_assert_int_eq(sockopt(udp->l_fd, SO_REUSEPORT), 0);
	ck_assert_int_eq(sockopt(rp->l_fd, SO_REUSEADDR), 0);
	ck_assert_int_ne(sockopt(rp->l_fd, SO_REUSEPORT), 0);
}
END_TEST

START_TEST(test_port_zero_becomes_the_port_the_kernel_chose)
{
	struct listener		*l;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	serve_start("service t {\n listen = 127.0.0.1:0\n module = echo\n}\n");
	l = first_listener("t");
	ck_assert_int_eq(getsockname(l->l_fd, (struct sockaddr *)&sin, &len),
	    0);
	ck_assert_uint_ne(ntohs(sin.sin_port), 0);
	ck_assert_uint_eq(l->l_su.sin.sin_port, sin.sin_port);
	ck_assert_str_eq(l->l_name, check_str("127.0.0.1:%u",
	    ntohs(sin.sin_port)));
}
END_TEST

START_TEST(test_the_state_tells_a_drain_from_a_serving_listener)
{
	struct listener	*l;

	serve_start("service t {\n listen = 127.0.0.1:0\n module = echo\n}\n");
	l = first_listener("t");
	ck_assert_str_eq(listener_state(l), "");
	listener_detach(l);
	ck_assert_str_eq(listener_state(l), ", detached (draining)");
	close(l->l_fd);
	l->l_fd = -1;
	ck_assert_str_eq(listener_state(l), ", another worker's");
}
END_TEST

/*
 * Out of descriptors: the accept fails with EMFILE, the listener pauses
 * and the state says so; the next accept that works ends the pause.
 */
START_TEST(test_the_state_tells_an_fd_pause)
{
	struct listener		*l;
	struct sockaddr_in	 sin;
	struct rlimit		 rl, low;
	int			 c1, c2, fd;

	serve_start("service t {\n listen = 127.0.0.1:0\n module = echo\n}\n");
	l = first_listener("t");
	memcpy(&sin, &l->l_su.sin, sizeof(sin));
	ck_assert_int_ge(c1 = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_ge(c2 = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(c1, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* No descriptor left for the accept. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_ge(fd = dup(0), 0);
	close(fd);
	low = rl;
	low.rlim_cur = (rlim_t)fd;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	serve_turn(3);
	ck_assert_str_eq(listener_state(l),
	    ", paused (out of descriptors, retrying)");
	ck_assert_uint_ge(serve_service("t")->s_stats->st_refused[
	    EVI_REFUSE_FD], 1);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* The pause ends on its timer (100 ms), and the backlog is served. */
	ck_assert_int_eq(connect(c2, (struct sockaddr *)&sin, sizeof(sin)), 0);
	while (TAILQ_FIRST(&serve_service("t")->s_conns) == NULL)
		serve_wait();
	ck_assert_str_eq(listener_state(l), "");
	close(c1);
	close(c2);
}
END_TEST

#define DISABLED_CONF \
	"service t {\n listen = 127.0.0.1:0\n module = echo\n" \
	" refuse_banner = \"go away\"\n per_source = 1\n}\n" \
	"service u {\n listen = 127.0.0.1:0\n module = echo\n" \
	" protocol = udp\n}\n"

/* A client of a listener, connected (for TCP, accepted by the backlog). */
static int
client_of(struct listener *l, int type)
{
	int	fd;

	ck_assert_int_ge(fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(connect(fd, &l->l_su.sa, sizeof(l->l_su.sin)), 0);
	return (fd);
}

/*
 * Turns the loop until fd has len bytes or EOF; returns the bytes and
 * says in *eof whether EOF came.
 */
static const char *
client_recv(int fd, size_t len, int *eof)
{
	static char	buf[256];
	size_t		got = 0;
	ssize_t		n;
	int		tries;

	*eof = 0;
	ck_assert_uint_lt(len, sizeof(buf));
	for (tries = 0; tries < 1000 && got < len && !*eof; tries++) {
		serve_turn(1);
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			*eof = 1;
		else if (n > 0)
			got += (size_t)n;
	}
	buf[got] = '\0';
	return (buf);
}

/* Turns the loop until a service has refused n clients as disabled. */
static void
wait_refused(struct evi_service *svc, uint64_t n)
{
	int	tries;

	for (tries = 0; tries < 1000; tries++) {
		if (svc->s_stats->st_refused[EVI_REFUSE_DISABLED] >= n)
			break;
		serve_turn(1);
	}
	ck_assert_uint_eq(svc->s_stats->st_refused[EVI_REFUSE_DISABLED], n);
}

/* How often needle is in the captured log. */
static int
log_count(const char *needle)
{
	const char	*p = serve_log();
	int		 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return (n);
}

START_TEST(test_a_disabled_service_refuses_new_clients_and_serves_old_ones)
{
	struct evi_service	*svc;
	int			 old, new, eof;

	serve_log_capture();
	serve_start(DISABLED_CONF);
	svc = serve_service("t");
	old = client_of(first_listener("t"), SOCK_STREAM);
	while (TAILQ_FIRST(&svc->s_conns) == NULL)
		serve_wait();

	service_set_disabled(svc, 1);
	service_set_disabled(svc, 1);
	ck_assert_int_eq(log_count("service \"t\": disabled; new connections "
	    "are refused\n"), 1);
	new = client_of(first_listener("t"), SOCK_STREAM);
	wait_refused(svc, 1);
	ck_assert_str_eq(client_recv(new, 16, &eof), "go away\r\n");
	ck_assert_int_eq(eof, 1);
	close(new);
	/* Refused before the limits: per_source = 1 was not the reason. */
	ck_assert_uint_eq(svc->s_stats->st_refused[EVI_REFUSE_PER_SOURCE], 0);
	ck_assert_uint_eq(svc->s_stats->st_accepted, 1);
	ck_assert_int_eq(log_count("service \"t\": refused 1 connection "
	    "(disabled), last from 127.0.0.1:"), 1);
	ck_assert_int_eq(log_count(": service disabled by the operator\n"), 1);
	stats_dump(serve_worker);
	ck_assert_int_eq(log_count("state: service \"t\": module echo, tcp, "
	    "disabled, accepted 1,"), 1);
	ck_assert_int_eq(log_count("state: service \"t\": refused (disabled) "
	    "1\n"), 1);
	/* The connection from before is still served. */
	ck_assert_int_eq(send(old, "hi", 2, 0), 2);
	ck_assert_str_eq(client_recv(old, 2, &eof), "hi");
	ck_assert_int_eq(eof, 0);

	/* Enabled again: a new client is served once the old one left. */
	service_set_disabled(svc, 0);
	ck_assert_int_eq(log_count("service \"t\": enabled\n"), 1);
	close(old);
	while (TAILQ_FIRST(&svc->s_conns) != NULL)
		serve_wait();
	new = client_of(first_listener("t"), SOCK_STREAM);
	ck_assert_int_eq(send(new, "ok", 2, 0), 2);
	ck_assert_str_eq(client_recv(new, 2, &eof), "ok");
	close(new);
	ck_assert_uint_eq(svc->s_stats->st_refused[EVI_REFUSE_DISABLED], 1);
}
END_TEST

START_TEST(test_a_disabled_udp_service_drops_datagrams)
{
	struct evi_service	*svc;
	char			 buf[16];
	int			 fd, tries, eof;

	serve_log_capture();
	serve_start(DISABLED_CONF);
	svc = serve_service("u");
	fd = client_of(first_listener("u"), SOCK_DGRAM);
	service_set_disabled(svc, 1);
	ck_assert_int_eq(log_count("service \"u\": disabled; datagrams are "
	    "dropped\n"), 1);
	ck_assert_int_eq(send(fd, "ping", 4, 0), 4);
	wait_refused(svc, 1);
	for (tries = 0; tries < 10; tries++) {
		serve_turn(1);
		ck_assert_int_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	}
	ck_assert_uint_eq(svc->s_stats->st_dgrams_out, 0);
	ck_assert_int_eq(log_count("service \"u\": dropped 1 datagram "
	    "(disabled), last from 127.0.0.1:"), 1);
	/* The same datagram is answered once the service is enabled. */
	service_set_disabled(svc, 0);
	ck_assert_int_eq(send(fd, "ping", 4, 0), 4);
	ck_assert_str_eq(client_recv(fd, 4, &eof), "ping");
	close(fd);
}
END_TEST

/*
 * Behind a balancer, the refusal comes once the header is read, so the
 * log names the real client, not the balancer.
 */
START_TEST(test_a_disabled_service_refuses_after_the_proxy_header)
{
	struct evi_service	*svc;
	static const char	 hdr[] =
	    "PROXY TCP4 192.0.2.7 192.0.2.1 4711 7\r\n";
	int			 fd, eof;

	serve_log_capture();
	serve_start("service p {\n listen = 127.0.0.1:0\n module = echo\n"
	    " proxy_protocol = v1\n proxy_from = 127.0.0.1\n}\n");
	svc = serve_service("p");
	service_set_disabled(svc, 1);
	fd = client_of(first_listener("p"), SOCK_STREAM);
	serve_turn(10);
	ck_assert_uint_eq(svc->s_stats->st_refused[EVI_REFUSE_DISABLED], 0);
	ck_assert_int_eq(send(fd, hdr, sizeof(hdr) - 1, 0),
	    (ssize_t)sizeof(hdr) - 1);
	wait_refused(svc, 1);
	(void)client_recv(fd, 1, &eof);
	ck_assert_int_eq(eof, 1);
	close(fd);
	ck_assert_int_eq(log_count("service \"p\": refused 1 connection "
	    "(disabled), last from 192.0.2.7:4711: service disabled"), 1);
}
END_TEST

static Suite *
listener_suite(void)
{
	Suite	*s = suite_create("listener");
	TCase	*tc;

	tc = tcase_create("sockets");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_only_stream_sockets_reuse_addresses);
	tcase_add_test(tc, test_port_zero_becomes_the_port_the_kernel_chose);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_the_state_tells_a_drain_from_a_serving_listener);
	tcase_add_test(tc, test_the_state_tells_an_fd_pause);
	suite_add_tcase(s, tc);

	tc = tcase_create("disabled");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc,
	    test_a_disabled_service_refuses_new_clients_and_serves_old_ones);
	tcase_add_test(tc, test_a_disabled_udp_service_drops_datagrams);
	tcase_add_test(tc,
	    test_a_disabled_service_refuses_after_the_proxy_header);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(listener_suite()));
}
