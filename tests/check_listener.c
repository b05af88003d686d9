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
 * for want of descriptors, or another worker's.
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
	return (s);
}

int
main(void)
{
	return (check_run(listener_suite()));
}
