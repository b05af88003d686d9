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
 * Unit tests for conn.c, on a real worker turned by hand (check_serve.h):
 * bytes through the echo module, backpressure (reading stops while the
 * output is over max_output, module writes are refused there),
 * timeouts measured on the worker's injected clock, never the wall clock,
 * and the operator's close (EVI_CLOSE_ADMIN): counted, logged, and told
 * to the module.
 */

#include "config.h"

#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "check_serve.h"
#include "check_run.h"

static int	client = -1;

static void
teardown(void)
{
	if (client != -1)
		close(client);
	client = -1;
	serve_stop();
	check_str_free();
}

/* Reads what the client has, turning the loop between tries. */
static size_t
client_read(void *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;
	int	tries;

	for (tries = 0; tries < 1000 && got < len; tries++) {
		serve_turn(1);
		n = recv(client, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	return (got);
}

/* Does the client see the server close (EOF) after turning the loop? */
static int
client_sees_eof(void)
{
	char	b;
	int	tries;

	for (tries = 0; tries < 100; tries++) {
		serve_turn(1);
		if (recv(client, &b, 1, MSG_DONTWAIT) == 0)
			return (1);
	}
	return (0);
}

START_TEST(test_echo_sends_back_what_the_client_wrote)
{
	char	buf[16];

	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    "}\n");
	(void)serve_connect(serve_service("echo"), &client);
	ck_assert_int_eq(send(client, "hello", 5, 0), 5);
	ck_assert_uint_eq(client_read(buf, 5), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
}
END_TEST

/*
 * A client that sends without reading: once the kernel's buffers are
 * full, the echoed output piles up to max_output and the daemon stops
 * reading, so memory stays bounded; when the client reads, it resumes
 * and every byte arrives in order.
 */
START_TEST(test_reading_stops_while_output_is_over_max_output)
{
	static char		 out[512 << 10], in[512 << 10];
	struct evi_conn		*c;
	size_t			 sent = 0, got = 0, i;
	ssize_t			 n;
	int			 stalled = 0, tries;

	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 4093);
	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    " max_output = 8k\n idle_timeout = 0\n}\n");
	c = serve_connect(serve_service("echo"), &client);
	for (tries = 0; tries < 20000 && !stalled; tries++) {
		n = send(client, out + sent, sizeof(out) - sent, MSG_DONTWAIT);
		if (n > 0)
			sent += (size_t)n;
		serve_turn(1);
		stalled = n == -1 && errno == EAGAIN &&
		    !(c->c_flags & CONN_READING);
	}
	ck_assert_msg(stalled, "the daemon kept reading (%zu sent)", sent);
	ck_assert_uint_lt(sent, sizeof(out));
	ck_assert_uint_ge(evbuffer_get_length(c->c_out), 8 * 1024);
	ck_assert_uint_le(evbuffer_get_length(c->c_out), 8 * 1024 + READ_MAX);
	while (got < sizeof(in)) {
		if (sent < sizeof(out)) {
			n = send(client, out + sent, sizeof(out) - sent,
			    MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
		n = (ssize_t)client_read(in + got, sizeof(in) - got);
		ck_assert_msg(n > 0, "stuck at %zu of %zu", got, sizeof(in));
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
}
END_TEST

START_TEST(test_module_writes_are_refused_over_max_output)
{
	static char		 block[8192];
	struct evi_conn		*c;

	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    " max_output = 8k\n idle_timeout = 0\n}\n");
	c = serve_connect(serve_service("echo"), &client);
	ck_assert_int_eq(evi_conn_write(c, block, sizeof(block) - 1), 0);
	/* Under the mark a write may take it over; at the mark, none. */
	ck_assert_int_eq(evi_conn_write(c, block, 2), 0);
	errno = 0;
	ck_assert_int_eq(evi_conn_write(c, "x", 1), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(evi_conn_printf(c, "%d", 1), -1);
	ck_assert_uint_eq(evi_conn_output_length(c), sizeof(block) + 1);
}
END_TEST

/*
 * A write from outside the connection's callbacks (the test itself, here,
 * as a module's timer would be) reaches the kernel on the next turn of
 * the loop, without any traffic on the connection.
 */
START_TEST(test_a_write_from_outside_a_callback_is_flushed_at_once)
{
	struct evi_conn	*c;
	char		 buf[8];

	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    " idle_timeout = 0\n}\n");
	c = serve_connect(serve_service("echo"), &client);
	ck_assert_int_eq(evi_conn_write(c, "tick", 4), 0);
	ck_assert_int_eq(evi_conn_printf(c, "%d", 1), 0);
	ck_assert(c->c_flags & CONN_DIRTY);
	serve_turn(1);
	ck_assert(!(c->c_flags & CONN_DIRTY));
	ck_assert_uint_eq(evi_conn_output_length(c), 0);
	ck_assert_int_eq(recv(client, buf, sizeof(buf), MSG_DONTWAIT), 5);
	ck_assert_int_eq(memcmp(buf, "tick1", 5), 0);
	/* Closed while dirty: it leaves the list, nothing runs on it. */
	ck_assert_int_eq(evi_conn_write(c, "x", 1), 0);
	evi_conn_close(c);
	serve_turn(1);
	ck_assert_ptr_null(TAILQ_FIRST(&serve_worker->w_dirty));
}
END_TEST

/*
 * The idle timeout runs on the worker's clock: with the clock held still
 * the connection lives however long the test takes; activity restarts
 * the count; the close comes when the clock passes the deadline.
 */
START_TEST(test_idle_timeout_runs_on_the_worker_clock)
{
	struct evi_service	*svc;
	struct evi_conn		*c;
	char			 buf[4];

	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    " idle_timeout = 10s\n}\n");
	svc = serve_service("echo");
	c = serve_connect(svc, &client);
	ck_assert_uint_eq(c->c_start, serve_now);
	ck_assert_uint_eq(c->c_deadline.d_when, serve_now + 10000);
	serve_now += 9000;
	ck_assert_int_eq(send(client, "ping", 4, 0), 4);
	ck_assert_uint_eq(client_read(buf, 4), 4);
	ck_assert_uint_eq(c->c_active, serve_now);
	serve_now += 9999;
	ck_assert(!client_sees_eof());
	ck_assert_uint_eq(svc->s_stats->st_closed[EVI_CLOSE_TIMEOUT], 0);
	serve_now += 1;
	ck_assert(client_sees_eof());
	ck_assert_uint_eq(svc->s_stats->st_closed[EVI_CLOSE_TIMEOUT], 1);
	ck_assert_ptr_null(TAILQ_FIRST(&svc->s_conns));
}
END_TEST

/*
 * Output from outside counts as activity only when the client takes some:
 * a module that merely looks at its output buffer from a timer does not
 * keep an idle client alive.
 */
START_TEST(test_only_output_sent_from_outside_counts_as_activity)
{
	struct evi_conn	*c;
	uint64_t	 start;
	char		 buf[8];

	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    " idle_timeout = 10s\n}\n");
	c = serve_connect(serve_service("echo"), &client);
	start = c->c_active;
	serve_now += 5000;
	(void)evi_conn_output(c);
	serve_turn(1);
	ck_assert_uint_eq(c->c_active, start);
	ck_assert_int_eq(evi_conn_write(c, "tick", 4), 0);
	serve_turn(1);
	ck_assert_uint_eq(c->c_active, serve_now);
	ck_assert_int_eq(recv(client, buf, sizeof(buf), MSG_DONTWAIT), 4);
}
END_TEST

START_TEST(test_session_timeout_counts_from_the_start_whatever_the_traffic)
{
	struct evi_service	*svc;
	char			 buf[4];
	int			 i;

	serve_start("service echo {\n listen = 127.0.0.1:0\n module = echo\n"
	    " session_timeout = 30s\n idle_timeout = 0\n}\n");
	svc = serve_service("echo");
	(void)serve_connect(svc, &client);
	for (i = 0; i < 29; i++) {
		serve_now += 1000;
		ck_assert_int_eq(send(client, "ping", 4, 0), 4);
		ck_assert_uint_eq(client_read(buf, 4), 4);
	}
	serve_now += 999;
	ck_assert(!client_sees_eof());
	serve_now += 1;
	ck_assert(client_sees_eof());
	ck_assert_uint_eq(svc->s_stats->st_closed[EVI_CLOSE_TIMEOUT], 1);
}
END_TEST

/*
 * evinetdctl close: conn_close with EVI_CLOSE_ADMIN from outside any
 * callback.  The client sees EOF, the module's conn_close gets the reason
 * (the async test module logs it in halfclose mode), the counters, the
 * connection log and the state dump say "admin".
 */
START_TEST(test_an_admin_close_is_counted_logged_and_told_to_the_module)
{
	struct evi_service		*svc;
	struct evi_stats_service	 st;
	struct evi_conn			*c;

	serve_log_capture();
	serve_start("service a {\n listen = 127.0.0.1:0\n module = "
	    TEST_MODULE_DIR "/async.so\n mode = halfclose\n"
	    " log_connections = yes\n}\n");
	svc = serve_service("a");
	c = serve_connect(svc, &client);
	serve_turn(2);
	conn_close(c, EVI_CLOSE_ADMIN);
	ck_assert_ptr_null(TAILQ_FIRST(&svc->s_conns));
	ck_assert(client_sees_eof());
	ck_assert_uint_eq(svc->s_stats->st_closed[EVI_CLOSE_ADMIN], 1);
	ck_assert_uint_eq(svc->s_stats->st_active, 0);
	stats_service(svc, &st);
	ck_assert_uint_eq(st.closed_admin, 1);
	ck_assert_uint_eq(st.closed[EVI_CLOSE_MODULE], 0);
	/* Reason 11 has a slot of its own: no other counter moved. */
	ck_assert_uint_eq(st.dgrams_in + st.dgrams_out + st.bytes_in +
	    st.bytes_out + st.module_errors, 0);
	ck_assert_ptr_nonnull(strstr(serve_log(),
	    "service \"a\": closed: admin\n"));
	ck_assert_ptr_nonnull(strstr(serve_log(),
	    "event=close service=a proto=tcp peer=127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(serve_log(), " reason=admin\n"));
	stats_dump(serve_worker);
	ck_assert_ptr_nonnull(strstr(serve_log(),
	    "state: service \"a\": closed (admin) 1\n"));
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite	*s = suite_create("conn");
	TCase	*tc;

	tc = tcase_create("traffic");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_echo_sends_back_what_the_client_wrote);
	tcase_add_test(tc, test_reading_stops_while_output_is_over_max_output);
	tcase_add_test(tc, test_module_writes_are_refused_over_max_output);
	tcase_add_test(tc,
	    test_a_write_from_outside_a_callback_is_flushed_at_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_idle_timeout_runs_on_the_worker_clock);
	tcase_add_test(tc, test_only_output_sent_from_outside_counts_as_activity);
	tcase_add_test(tc,
	    test_session_timeout_counts_from_the_start_whatever_the_traffic);
	suite_add_tcase(s, tc);

	tc = tcase_create("admin");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc,
	    test_an_admin_close_is_counted_logged_and_told_to_the_module);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(conn_suite()));
}
