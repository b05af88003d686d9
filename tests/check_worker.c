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
 * Unit tests for worker.c: which services and sockets a worker process
 * takes (the shared group, an isolated service, reuseport indexes, the
 * single-process mode), and how a module's refusal at init is reported.
 */

#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_serve.h"
#include "check_run.h"

START_TEST(test_the_shared_group_serves_every_service_not_isolated)
{
	struct service_conf	plain, isolated;

	memset(&plain, 0, sizeof(plain));
	memset(&isolated, 0, sizeof(isolated));
	isolated.sc_isolate = 1;
	ck_assert(worker_serves(&plain, NULL, 0));
	ck_assert(!worker_serves(&isolated, NULL, 0));
	/* An isolated service's worker serves that service only. */
	ck_assert(worker_serves(&isolated, &isolated, 0));
	ck_assert(!worker_serves(&plain, &isolated, 0));
	/* One process (-X) serves everything. */
	ck_assert(worker_serves(&isolated, NULL, 1));
	ck_assert(worker_serves(&plain, &isolated, 1));
}
END_TEST

START_TEST(test_with_reuseport_each_process_takes_its_own_socket)
{
	struct listener	shared, mine, other;

	memset(&shared, 0, sizeof(shared));
	memset(&mine, 0, sizeof(mine));
	memset(&other, 0, sizeof(other));
	shared.l_index = -1;
	mine.l_index = 1;
	other.l_index = 0;
	ck_assert(worker_listens(&shared, 0, 0));
	ck_assert(worker_listens(&shared, 1, 0));
	ck_assert(worker_listens(&mine, 1, 0));
	ck_assert(!worker_listens(&other, 1, 0));
	ck_assert(worker_listens(&other, 1, 1));
}
END_TEST

START_TEST(test_a_worker_starts_every_service_in_config_order)
{
	struct evi_service	*svc;
	const char		*names[] = { "one", "two", "three" };
	int			 i = 0;

	serve_start("service one {\n listen = 127.0.0.1:0\n module = echo\n}\n"
	    "service two {\n listen = 127.0.0.1:0\n module = discard\n}\n"
	    "service three {\n listen = 127.0.0.1:0\n module = echo\n"
	    " protocol = udp\n}\n");
	TAILQ_FOREACH(svc, &serve_worker->w_services, s_entry) {
		ck_assert_int_lt(i, 3);
		ck_assert_str_eq(svc->s_conf->sc_name, names[i]);
		ck_assert_uint_eq(svc->s_index, (size_t)i);
		ck_assert(svc->s_inited);
		i++;
	}
	ck_assert_int_eq(i, 3);
	serve_stop();
}
END_TEST

/* A module's refusal at init reaches the user with FILE:LINE and service. */
START_TEST(test_a_worker_reports_a_module_refusing_its_service)
{
	struct config		*cf;
	struct worker_spec	 ws;
	struct gen_stats	*gs;
	struct event_base	*base;
	char			*cause = NULL;
	const char		*text = "service ok {\n listen = 127.0.0.1:0\n"
	    " module = echo\n}\nservice bad {\n listen = 127.0.0.1:0\n"
	    " module = " TEST_MODULE_DIR "/initfail.so\n}\n";

	cf = config_new("w.conf", BUNDLED_MODULE_DIR);
	ck_assert_int_eq(config_parse_buffer(cf, "w.conf", text, strlen(text)),
	    0);
	ck_assert_int_eq(config_finish(cf), 0);
	/* The trial init refuses it too, with the same words. */
	ck_assert_int_ne(config_check(cf), 0);
	ck_assert_str_eq(TAILQ_FIRST(&cf->c_errors)->ce_msg,
	    "w.conf:5: service \"bad\": module \"initfail\" refused the "
	    "service: cannot open /nonexistent/quotes: No such file or "
	    "directory");
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(gs = stats_gen_new(1, cf->c_nservices, NULL));
	memset(&ws, 0, sizeof(ws));
	ws.ws_single = 1;
	ws.ws_global = stats_global_new();
	ws.ws_stats = gs;
	ck_assert_ptr_null(worker_new(base, cf, &ws, &cause));
	ck_assert_str_eq(cause, "w.conf:5: service \"bad\": module "
	    "\"initfail\" refused the service: cannot open /nonexistent/quotes: "
	    "No such file or directory");
	free(cause);
	stats_gen_free(gs);
	event_base_free(base);
	config_free(cf);
}
END_TEST

static Suite *
worker_suite(void)
{
	Suite	*s = suite_create("worker");
	TCase	*tc;

	tc = tcase_create("placement");
	tcase_add_test(tc,
	    test_the_shared_group_serves_every_service_not_isolated);
	tcase_add_test(tc,
	    test_with_reuseport_each_process_takes_its_own_socket);
	suite_add_tcase(s, tc);

	tc = tcase_create("start");
	tcase_add_test(tc, test_a_worker_starts_every_service_in_config_order);
	tcase_add_test(tc, test_a_worker_reports_a_module_refusing_its_service);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(worker_suite()));
}
