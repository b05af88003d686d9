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
 * Unit tests for the per-source table of limits.c, shrunk to four
 * entries: when it is full a new source still gets in, by making the
 * least recently seen source without connections forget its state; a
 * source with connections is never forgotten, however many others come;
 * and only a table full of sources with connections refuses a newcomer.
 * Then the admit decisions: token buckets that refill on the worker's
 * clock (injected here, so the test controls every millisecond), and
 * refusals that take no tokens.  Last, per_source during a drain: what a
 * draining worker publishes counts in the next generation's worker, and
 * a scribbled table gives bounded answers.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"
#include "check_run.h"

#define TABLE_SIZE	4

static struct event_base	*base;
static struct config		 cf;
static struct worker		 w;
static struct service_conf	 sc;
static struct svc_stats		 stats;
static struct evi_service	 svc;
static uint64_t			 fake_now;

/* The worker's clock, as the test sets it. */
static uint64_t
fake_clock(void)
{
	return (fake_now);
}

/* A worker of the config cf with one instance of sc, counting in st. */
static void
worker_setup(struct worker *wp, struct evi_service *s, struct svc_stats *st)
{
	memset(wp, 0, sizeof(*wp));
	memset(s, 0, sizeof(*s));
	wp->w_base = base;
	wp->w_config = &cf;
	TAILQ_INIT(&wp->w_services);
	timerq_init(&wp->w_timers, base);
	limits_worker_init(wp);
	s->s_worker = wp;
	s->s_base = base;
	s->s_conf = &sc;
	s->s_stats = st;
}

static void
setup(void)
{
	fake_now = 5000;
	timerq_set_clock(fake_clock);
	ck_assert_ptr_nonnull(base = event_base_new());
	memset(&cf, 0, sizeof(cf));
	memset(&sc, 0, sizeof(sc));
	sc.sc_name = "test";
	sc.sc_limits.lim_prefix6 = 64;	/* the default of per_source_ipv6_prefix */
	worker_setup(&w, &svc, &stats);
	svc.s_max_sources = TABLE_SIZE;
}

static void
teardown(void)
{
	limits_service_free(&svc);
	deadline_del(&w.w_timers, &w.w_tick);
	timerq_free(&w.w_timers);
	event_base_free(base);
	timerq_set_clock(NULL);
}

/* admit()'s answer when limits_admit said yes; otherwise the reason. */
#define ADMITTED	(-1)

/* Asks limits_admit of service s about a client at 10.0.0.N. */
static int
admit_to(struct evi_service *s, int n, int stream, struct source **srcp,
    const char **detail)
{
	struct sockaddr_in	sin;
	const char		*why;
	enum evi_refuse_reason	 reason;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a000000 + (uint32_t)n);
	sin.sin_port = htons(40000);
	if (limits_admit(s, (struct sockaddr *)&sin, stream, srcp, &reason,
	    detail != NULL ? detail : &why))
		return (ADMITTED);
	return ((int)reason);
}

static int
admit(int n, int stream, struct source **srcp, const char **detail)
{
	return (admit_to(&svc, n, stream, srcp, detail));
}

START_TEST(test_a_full_table_forgets_the_least_recently_seen_source)
{
	struct source	*src;
	const char	*why;
	int		 i;

	sc.sc_limits.lim_src_rate.rc_per_sec = 1.0 / 60;
	sc.sc_limits.lim_src_rate.rc_burst = 1;
	for (i = 1; i <= TABLE_SIZE; i++)
		ck_assert_int_eq(admit(i, 0, &src, NULL), ADMITTED);
	/* 10.0.0.1 is seen again (refused, its bucket is empty): recent. */
	ck_assert_int_eq(admit(1, 0, &src, &why), EVI_REFUSE_RATE);
	ck_assert_str_eq(why, "per_source_rate exceeded");
	/* A newcomer gets in; 10.0.0.2, the least recently seen, makes room. */
	ck_assert_int_eq(admit(5, 0, &src, NULL), ADMITTED);
	ck_assert_uint_eq(svc.s_nsources, TABLE_SIZE);
	ck_assert_uint_eq(svc.s_evicted, 1);
	ck_assert_int_eq(admit(1, 0, &src, NULL), EVI_REFUSE_RATE);
	ck_assert_int_eq(admit(2, 0, &src, NULL), ADMITTED);	/* forgotten: new */
	/* That made room by forgetting 10.0.0.3. */
	ck_assert_int_eq(admit(4, 0, &src, NULL), EVI_REFUSE_RATE);
	ck_assert_int_eq(admit(3, 0, &src, NULL), ADMITTED);
	ck_assert_uint_eq(svc.s_nsources, TABLE_SIZE);
}
END_TEST

START_TEST(test_a_source_with_connections_is_never_forgotten)
{
	struct source	*held[2], *src;
	const char	*why;
	int		 i;

	sc.sc_limits.lim_per_source = 1;
	sc.sc_limits.lim_src_rate.rc_per_sec = 1.0 / 60;
	sc.sc_limits.lim_src_rate.rc_burst = 1;
	/* The two oldest entries hold a connection each. */
	ck_assert_int_eq(admit(1, 1, &held[0], NULL), ADMITTED);
	ck_assert_int_eq(admit(2, 1, &held[1], NULL), ADMITTED);
	/* 1000 others come and go, each leaving an emptied bucket behind. */
	for (i = 3; i < 1003; i++) {
		ck_assert_int_eq(admit(i, 1, &src, NULL), ADMITTED);
		limits_release(&svc, src);
		ck_assert_uint_le(svc.s_nsources, TABLE_SIZE);
	}
	/* Both are still counted: a second connection is over per_source. */
	ck_assert_int_eq(admit(1, 1, &src, &why), EVI_REFUSE_PER_SOURCE);
	ck_assert_str_eq(why, "per_source connections reached");
	ck_assert_int_eq(admit(2, 1, &src, &why), EVI_REFUSE_PER_SOURCE);
	ck_assert_str_eq(why, "per_source connections reached");
	limits_release(&svc, held[0]);
	limits_release(&svc, held[1]);
}
END_TEST

START_TEST(test_only_a_table_full_of_connections_refuses_a_newcomer)
{
	struct source	*held[TABLE_SIZE], *src;
	const char	*why;
	int		 i;

	sc.sc_limits.lim_per_source = 1;
	for (i = 0; i < TABLE_SIZE; i++)
		ck_assert_int_eq(admit(i + 1, 1, &held[i], NULL), ADMITTED);
	ck_assert_int_eq(admit(TABLE_SIZE + 1, 1, &src, &why),
	    EVI_REFUSE_PER_SOURCE);
	ck_assert_str_eq(why, "too many distinct sources tracked");
	/* One leaves (without a rate, its entry goes): room again. */
	limits_release(&svc, held[0]);
	ck_assert_int_eq(admit(TABLE_SIZE + 1, 1, &held[0], NULL), ADMITTED);
	for (i = 0; i < TABLE_SIZE; i++)
		limits_release(&svc, held[i]);
	ck_assert_uint_eq(svc.s_nsources, 0);
}
END_TEST

/*
 * rate = 2/s with a burst of 2: two at once, then one every 500 ms of the
 * worker's clock, to the millisecond, and however long the test takes.
 */
START_TEST(test_a_rate_bucket_refills_on_the_worker_clock)
{
	struct source	*src;
	const char	*why;

	sc.sc_limits.lim_rate.rc_per_sec = 2;
	sc.sc_limits.lim_rate.rc_burst = 2;
	ck_assert_int_eq(admit(1, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit(2, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit(3, 1, &src, &why), EVI_REFUSE_RATE);
	ck_assert_str_eq(why, "rate exceeded");
	fake_now += 499;
	ck_assert_int_eq(admit(3, 1, &src, NULL), EVI_REFUSE_RATE);
	fake_now += 1;
	ck_assert_int_eq(admit(3, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit(4, 1, &src, NULL), EVI_REFUSE_RATE);
	/* A long pause refills only up to the burst. */
	fake_now += 3600 * 1000;
	ck_assert_int_eq(admit(4, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit(5, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit(6, 1, &src, NULL), EVI_REFUSE_RATE);
}
END_TEST

/* A source refused by per_source_rate keeps no debt for its refusals. */
START_TEST(test_refusals_take_no_tokens)
{
	struct source	*src;
	int		 i;

	sc.sc_limits.lim_src_rate.rc_per_sec = 1;
	sc.sc_limits.lim_src_rate.rc_burst = 1;
	ck_assert_int_eq(admit(1, 0, &src, NULL), ADMITTED);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(admit(1, 0, &src, NULL), EVI_REFUSE_RATE);
	/* Another client is not affected. */
	ck_assert_int_eq(admit(2, 0, &src, NULL), ADMITTED);
	fake_now += 1000;
	ck_assert_int_eq(admit(1, 0, &src, NULL), ADMITTED);
}
END_TEST

START_TEST(test_the_access_list_refuses_before_any_count)
{
	struct acl_entry	 ae;
	struct source		*src;
	const char		*why;
	char			*cause = NULL;

	ck_assert_int_eq(acl_parse_entry("10.0.0.0/31", &ae, &cause), 0);
	acl_add(&sc.sc_limits.lim_only, &ae);
	sc.sc_limits.lim_rate.rc_per_sec = 1;
	sc.sc_limits.lim_rate.rc_burst = 1;
	ck_assert_int_eq(admit(2, 1, &src, &why), EVI_REFUSE_ACL);
	ck_assert_str_eq(why, "not allowed by only_from / no_access");
	/* The refused client took no token from the service's bucket. */
	ck_assert_int_eq(admit(1, 1, &src, NULL), ADMITTED);
	acl_free(&sc.sc_limits.lim_only);
}
END_TEST

/*
 * Two generations of one service in one process: the fixture's worker
 * drains (generation 1, its counters in old_gs with a table of CAP
 * entries), and new_svc of new_w is generation 2's, which counts it.
 */
#define CAP	16

static struct pubsrc		 old_pub;
static struct gen_stats		 old_gs;
static const struct gen_stats	*others[1] = { &old_gs };
static size_t			 other_index[1];
static struct worker		 new_w;
static struct svc_stats		 new_stats;
static struct evi_service	 new_svc;

static void
drain_setup(void)
{
	size_t	i;

	setup();
	old_pub.ps_table = calloc(CAP, sizeof(*old_pub.ps_table));
	ck_assert_ptr_nonnull(old_pub.ps_table);
	old_pub.ps_cap = CAP;
	for (i = 0; i < sizeof(old_pub.ps_seed); i++)
		old_pub.ps_seed[i] = (unsigned char)i;
	old_pub.ps_prefix6 = 64;
	old_gs.gs_nprocs = old_gs.gs_nservices = 1;
	old_gs.gs_slots = &stats;
	old_gs.gs_pub = &old_pub;
	cf.c_nservices = 1;
	w.w_stats = &old_gs;
	TAILQ_INSERT_TAIL(&w.w_services, &svc, s_entry);
	sc.sc_limits.lim_per_source = 2;

	worker_setup(&new_w, &new_svc, &new_stats);
	new_w.w_others = others;
	new_w.w_nothers = 1;
	new_w.w_other_index = other_index;
}

static void
drain_teardown(void)
{
	limits_service_free(&new_svc);
	deadline_del(&new_w.w_timers, &new_w.w_tick);
	timerq_free(&new_w.w_timers);
	teardown();
	free(old_pub.ps_table);
}

START_TEST(test_a_draining_worker_s_clients_count_in_the_next_generation)
{
	struct source	*old[3], *src;
	const char	*why;
	int		 i;

	ck_assert_int_eq(admit(1, 1, &old[0], NULL), ADMITTED);
	ck_assert_int_eq(admit(1, 1, &old[1], NULL), ADMITTED);
	ck_assert_int_eq(admit(2, 1, &old[2], NULL), ADMITTED);
	stats.st_active = 3;
	/* Before the drain nothing is published: generation 2 overshoots. */
	ck_assert_int_eq(admit_to(&new_svc, 1, 1, &src, NULL), ADMITTED);
	limits_release(&new_svc, src);
	for (i = 0; i < CAP; i++)
		ck_assert_uint_eq(old_pub.ps_table[i].pe_key[0], 0);
	limits_publish(&w);
	ck_assert_int_eq(admit_to(&new_svc, 1, 1, &src, &why),
	    EVI_REFUSE_PER_SOURCE);
	ck_assert_str_eq(why, "per_source connections reached");
	ck_assert_int_eq(admit_to(&new_svc, 2, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit_to(&new_svc, 2, 1, &src, NULL),
	    EVI_REFUSE_PER_SOURCE);
	/* Others are not affected. */
	ck_assert_int_eq(admit_to(&new_svc, 3, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit_to(&new_svc, 3, 1, &src, NULL), ADMITTED);
	/* One of 10.0.0.1's old connections ends: one place for it. */
	limits_release(&svc, old[0]);
	stats.st_active--;
	ck_assert_int_eq(admit_to(&new_svc, 1, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit_to(&new_svc, 1, 1, &src, NULL),
	    EVI_REFUSE_PER_SOURCE);
	/* A draining worker that is gone counts nothing any more. */
	stats.st_active = 0;
	ck_assert_int_eq(admit_to(&new_svc, 2, 1, &src, NULL), ADMITTED);
	limits_release(&svc, old[1]);
	limits_release(&svc, old[2]);
}
END_TEST

/* The key of 10.0.0.N, as limits.c makes it. */
static void
make_key(uint8_t key[PUBSRC_KEYLEN], int n)
{
	memset(key, 0, PUBSRC_KEYLEN);
	key[0] = AF_INET;
	key[1] = 10;
	key[4] = (uint8_t)n;
}

/* An entry of the table says 10.0.0.N has conns connections. */
static void
fill_entry(struct pubsrc_entry *e, int n, uint32_t conns)
{
	memset(e, 0, sizeof(*e));
	make_key(e->pe_key, n);
	e->pe_conns = conns;
}

START_TEST(test_a_scribbled_table_gives_bounded_answers)
{
	struct pubsrc	 big = old_pub;
	struct source	*src;
	uint8_t		 key[PUBSRC_KEYLEN];
	size_t		 i;

	/* Every entry taken by garbage: nothing found, nothing published. */
	memset(old_pub.ps_table, 0xff, CAP * sizeof(*old_pub.ps_table));
	make_key(key, 1);
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), 0);
	ck_assert_ptr_null(pubsrc_publish(&old_pub, key, 1));
	/* Every entry says 10.0.0.1: the probes stop at the table's end. */
	for (i = 0; i < CAP; i++)
		fill_entry(&old_pub.ps_table[i], 1, 1);
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), CAP);
	/* And at PUBSRC_PROBES in a larger table. */
	big.ps_cap = 4 * PUBSRC_PROBES;
	big.ps_table = calloc(big.ps_cap, sizeof(*big.ps_table));
	ck_assert_ptr_nonnull(big.ps_table);
	for (i = 0; i < big.ps_cap; i++)
		fill_entry(&big.ps_table[i], 1, 1);
	ck_assert_uint_eq(pubsrc_lookup(&big, key), PUBSRC_PROBES);
	free(big.ps_table);
	/* However large the count, a worker counts at most its own. */
	for (i = 0; i < CAP; i++)
		fill_entry(&old_pub.ps_table[i], 1, UINT32_MAX);
	stats.st_active = 1;
	ck_assert_int_eq(admit_to(&new_svc, 1, 1, &src, NULL), ADMITTED);
	ck_assert_int_eq(admit_to(&new_svc, 1, 1, &src, NULL),
	    EVI_REFUSE_PER_SOURCE);
	ck_assert_int_eq(admit_to(&new_svc, 2, 1, &src, NULL), ADMITTED);
}
END_TEST

/* A published entry follows its source's connections down to 0. */
START_TEST(test_a_published_source_follows_its_connections)
{
	struct source	*held[2];
	uint8_t		 key[PUBSRC_KEYLEN];

	ck_assert_int_eq(admit(7, 1, &held[0], NULL), ADMITTED);
	ck_assert_int_eq(admit(7, 1, &held[1], NULL), ADMITTED);
	limits_publish(&w);
	ck_assert_ptr_nonnull(held[0]->src_pub);
	make_key(key, 7);
	ck_assert_mem_eq(key, held[0]->src_key, sizeof(key));
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), 2);
	/* Published once: a second drain signal adds nothing. */
	limits_publish(&w);
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), 2);
	limits_release(&svc, held[0]);
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), 1);
	limits_release(&svc, held[1]);
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), 0);
	make_key(key, 8);
	ck_assert_uint_eq(pubsrc_lookup(&old_pub, key), 0);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite	*s = suite_create("limits");
	TCase	*tc = tcase_create("sources");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_a_full_table_forgets_the_least_recently_seen_source);
	tcase_add_test(tc, test_a_source_with_connections_is_never_forgotten);
	tcase_add_test(tc,
	    test_only_a_table_full_of_connections_refuses_a_newcomer);
	suite_add_tcase(s, tc);

	tc = tcase_create("admit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_a_rate_bucket_refills_on_the_worker_clock);
	tcase_add_test(tc, test_refusals_take_no_tokens);
	tcase_add_test(tc, test_the_access_list_refuses_before_any_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("drain");
	tcase_add_checked_fixture(tc, drain_setup, drain_teardown);
	tcase_add_test(tc,
	    test_a_draining_worker_s_clients_count_in_the_next_generation);
	tcase_add_test(tc, test_a_scribbled_table_gives_bounded_answers);
	tcase_add_test(tc, test_a_published_source_follows_its_connections);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(limits_suite()));
}
