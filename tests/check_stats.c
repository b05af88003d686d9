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
 * Unit tests for the counters a reload carries over (stats.c), with two
 * generations in one process, as the supervisor and a worker of the new
 * one see them: a report adds the new generation's slots and the old
 * one's while it drains; once the supervisor carries the old one, the
 * same totals come from the carried base, matched by name and protocol,
 * and the old slots no longer count.  A sequence number a worker
 * scribbled on costs a bounded number of retries, not a hang.  The
 * supervisor's own sums (the control socket's) give the same totals,
 * over every running generation and its private carry, failed
 * generations left out.
 */

#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"
#include "check_run.h"

/* Generation 1: echo (tcp), udp (udp), gone (tcp), in two processes. */
static struct config		 old_cf;
static struct service_conf	 old_sc[3];
static struct gen_stats		*old_gs;
/* Generation 2: udp, now tcp, and echo, in one process. */
static struct config		 new_cf;
static struct service_conf	 new_sc[2];
static struct gen_stats		*new_gs;
static struct supervisor	 sup;		/* its carry, and its generations */
static struct generation	 gens[3];
/* Generation 3: a reload's, echo only; generation 4 failed to start. */
static struct config		 next_cf, failed_cf;
static struct service_conf	 next_sc, failed_sc;
static struct gen_stats		*next_gs, *failed_gs;
static struct worker		 w;
static struct evi_service	 svc;

static void
conf_add(struct config *cf, struct service_conf *sc, const char *name,
    int protocol)
{
	sc->sc_name = (char *)name;
	sc->sc_protocol = protocol;
	sc->sc_index = cf->c_nservices++;
	TAILQ_INSERT_TAIL(&cf->c_services, sc, sc_entry);
}

static void
setup(void)
{
	struct stats_other	 so;
	char			*cause = NULL;

	memset(&old_cf, 0, sizeof(old_cf));
	memset(&new_cf, 0, sizeof(new_cf));
	memset(old_sc, 0, sizeof(old_sc));
	memset(new_sc, 0, sizeof(new_sc));
	TAILQ_INIT(&old_cf.c_services);
	TAILQ_INIT(&new_cf.c_services);
	conf_add(&old_cf, &old_sc[0], "echo", EVI_PROTO_TCP);
	conf_add(&old_cf, &old_sc[1], "udp", EVI_PROTO_UDP);
	conf_add(&old_cf, &old_sc[2], "gone", EVI_PROTO_TCP);
	conf_add(&new_cf, &new_sc[0], "udp", EVI_PROTO_TCP);
	conf_add(&new_cf, &new_sc[1], "echo", EVI_PROTO_TCP);
	ck_assert_ptr_nonnull(old_gs = stats_gen_new(2, 3, &cause));
	ck_assert_ptr_nonnull(new_gs = stats_gen_new(1, 2, &cause));
	memset(&sup, 0, sizeof(sup));
	TAILQ_INIT(&sup.s_gens);
	TAILQ_INIT(&sup.s_carry);
	memset(gens, 0, sizeof(gens));

	memset(&w, 0, sizeof(w));
	w.w_config = &new_cf;
	w.w_stats = new_gs;
	so.so_stats = old_gs;
	so.so_config = &old_cf;
	stats_others_init(&w, &so, 1);
	memset(&svc, 0, sizeof(svc));
	svc.s_worker = &w;
	svc.s_conf = &new_sc[1];
}

static void
teardown(void)
{
	ck_assert_ptr_null(TAILQ_FIRST(&sup.s_carry));
	free(w.w_others);
	free(w.w_other_index);
	free(w.w_other_carry);
	stats_gen_free(old_gs);
	stats_gen_free(new_gs);
}

/* What the supervisor's gen_carry does when generation 1 is freed. */
static void
carry_old(void)
{
	stats_carry_begin(new_gs);
	stats_carry_add(&sup.s_carry, old_gs, &old_cf);
	stats_carry_write(new_gs, &new_cf, &sup.s_carry);
	stats_carry_retire(old_gs);
	stats_carry_end(new_gs);
	stats_carry_prune(&sup.s_carry);
}

/* Sets a slot's figures from one number, for easy sums. */
static void
slot_fill(struct gen_stats *gs, size_t proc, size_t service, uint64_t n)
{
	struct svc_stats	*st = stats_slot(gs, proc, service);

	st->st_accepted = n;
	st->st_active = n % 2;
	st->st_bytes_in = 1000 * n;
	st->st_closed[EVI_CLOSE_EOF] = n - n % 2;
	st->st_refused[EVI_REFUSE_RATE] = n;
	st->st_out_bytes_out = 7 * n;
	st->st_closed[EVI_CLOSE_ADMIN] = 3 * n;
	st->st_refused[EVI_REFUSE_DISABLED] = 5 * n;
}

static void
assert_report(const struct evi_service *s, uint64_t n, uint64_t active)
{
	struct evi_stats_service	out;

	stats_service(s, &out);
	ck_assert_str_eq(out.name, s->s_conf->sc_name);
	ck_assert_uint_eq(out.accepted, n);
	ck_assert_uint_eq(out.active, active);
	ck_assert_uint_eq(out.bytes_in, 1000 * n);
	ck_assert_uint_eq(out.refused[EVI_REFUSE_RATE], n);
	ck_assert_uint_eq(out.outbound_bytes_out, 7 * n);
	ck_assert_uint_eq(out.closed_admin, 3 * n);
	ck_assert_uint_eq(out.refused_disabled, 5 * n);
}

/* A generation the supervisor runs, with one service at index 0. */
static struct gen_stats *
sup_gen(struct generation *g, struct config *cf, struct service_conf *sc,
    int failed)
{
	char	*cause = NULL;

	memset(cf, 0, sizeof(*cf));
	memset(sc, 0, sizeof(*sc));
	TAILQ_INIT(&cf->c_services);
	conf_add(cf, sc, "echo", EVI_PROTO_TCP);
	g->g_cf = cf;
	ck_assert_ptr_nonnull(g->g_stats = stats_gen_new(1, 1, &cause));
	g->g_failed = failed;
	TAILQ_INSERT_TAIL(&sup.s_gens, g, g_entry);
	return (g->g_stats);
}

START_TEST(test_a_report_adds_the_draining_generation_then_its_carry)
{
	slot_fill(old_gs, 0, 0, 3);	/* echo: 3 + 5 in generation 1 */
	slot_fill(old_gs, 1, 0, 5);
	slot_fill(new_gs, 0, 1, 11);	/* echo: 11 in generation 2 */
	assert_report(&svc, 19, 3);

	/* Generation 1 is gone: its workers zeroed active, then exited. */
	stats_slot(old_gs, 0, 0)->st_active = 0;
	stats_slot(old_gs, 1, 0)->st_active = 0;
	carry_old();
	ck_assert_uint_eq(new_gs->gs_carry->gc_seq, 2);
	ck_assert_uint_eq(old_gs->gs_carry->gc_retired, 1);
	ck_assert_uint_eq(new_gs->gs_carry->gc_base[1].st_accepted, 8);
	ck_assert_uint_eq(new_gs->gs_carry->gc_base[1].st_active, 0);
	assert_report(&svc, 19, 1);

	/* Its slots no longer count, whatever is written there. */
	slot_fill(old_gs, 0, 0, 1000);
	assert_report(&svc, 19, 1);
	/* The record of echo stays for the next carry; the others went. */
	ck_assert_str_eq(TAILQ_FIRST(&sup.s_carry)->ca_name, "echo");
	ck_assert_ptr_null(TAILQ_NEXT(TAILQ_FIRST(&sup.s_carry), ca_entry));
	stats_carry_prune(&sup.s_carry);	/* as if generation 2 were gone */
}
END_TEST

START_TEST(test_a_service_whose_protocol_changed_starts_from_zero)
{
	svc.s_conf = &new_sc[0];	/* "udp", now tcp */
	slot_fill(old_gs, 0, 1, 9);
	slot_fill(new_gs, 0, 0, 2);
	assert_report(&svc, 2, 0);
	stats_slot(old_gs, 0, 1)->st_active = 0;
	carry_old();
	assert_report(&svc, 2, 0);
	ck_assert_uint_eq(new_gs->gs_carry->gc_base[0].st_accepted, 0);
	stats_carry_prune(&sup.s_carry);
}
END_TEST

START_TEST(test_a_sequence_number_stuck_odd_costs_bounded_retries)
{
	slot_fill(old_gs, 0, 0, 4);
	slot_fill(new_gs, 0, 1, 6);
	/* A worker scribbled an odd number: the report still comes. */
	new_gs->gs_carry->gc_seq = 77;
	assert_report(&svc, 10, 0);
	/* The supervisor counts in its own copy, not the scribbled one. */
	carry_old();
	ck_assert_uint_eq(new_gs->gs_carry->gc_seq, 2);
	assert_report(&svc, 10, 0);
	stats_carry_prune(&sup.s_carry);
}
END_TEST

START_TEST(test_the_supervisor_sums_what_a_worker_reports)
{
	struct evi_stats_service	 mine, theirs;

	gens[0].g_cf = &old_cf;
	gens[0].g_stats = old_gs;
	gens[1].g_cf = &new_cf;
	gens[1].g_stats = new_gs;
	TAILQ_INSERT_TAIL(&sup.s_gens, &gens[0], g_entry);
	TAILQ_INSERT_TAIL(&sup.s_gens, &gens[1], g_entry);
	slot_fill(old_gs, 0, 0, 3);
	slot_fill(old_gs, 1, 0, 5);
	slot_fill(new_gs, 0, 1, 11);
	/* Both generations run: the worker's view and the supervisor's. */
	stats_sup_totals(&sup, &new_sc[1], &mine);
	stats_service(&svc, &theirs);
	ck_assert_int_eq(memcmp(&mine, &theirs, sizeof(mine)), 0);
	ck_assert_uint_eq(mine.accepted, 19);
	ck_assert_uint_eq(stats_sup_active(&sup, "echo", EVI_PROTO_TCP), 3);
	/* "udp" is udp in generation 1, tcp in 2: two series. */
	slot_fill(old_gs, 0, 1, 9);
	slot_fill(new_gs, 0, 0, 4);
	ck_assert_uint_eq(stats_sup_active(&sup, "udp", EVI_PROTO_UDP), 1);
	ck_assert_uint_eq(stats_sup_active(&sup, "udp", EVI_PROTO_TCP), 0);
	ck_assert_uint_eq(stats_sup_active(&sup, "nope", EVI_PROTO_TCP), 0);
	stats_slot(old_gs, 0, 1)->st_active = 0;

	/* Generation 1 is gone (as gen_free: out of the list, carried). */
	stats_slot(old_gs, 0, 0)->st_active = 0;
	stats_slot(old_gs, 1, 0)->st_active = 0;
	TAILQ_REMOVE(&sup.s_gens, &gens[0], g_entry);
	carry_old();
	slot_fill(old_gs, 0, 0, 1000);		/* no longer counts */
	/* A reload's generation 3 serves too; 4 failed, its slots junk. */
	next_gs = sup_gen(&gens[2], &next_cf, &next_sc, 0);
	slot_fill(next_gs, 0, 0, 13);
	failed_gs = sup_gen(&gens[0], &failed_cf, &failed_sc, 1);
	slot_fill(failed_gs, 0, 0, 1001);
	stats_sup_totals(&sup, &new_sc[1], &mine);
	stats_service(&svc, &theirs);
	ck_assert_uint_eq(theirs.accepted, 19);	/* 3 + 5 carried, 11 */
	ck_assert_uint_eq(mine.accepted, 19 + 13);
	ck_assert_uint_eq(mine.active, 1 + 1);
	ck_assert_uint_eq(mine.bytes_in, 1000 * 32);
	ck_assert_uint_eq(mine.refused[EVI_REFUSE_RATE], 32);
	ck_assert_uint_eq(mine.closed[EVI_CLOSE_EOF], 2 + 4 + 10 + 12);
	ck_assert_uint_eq(mine.closed_admin, 3 * 32);
	ck_assert_uint_eq(mine.refused_disabled, 5 * 32);
	ck_assert_str_eq(mine.name, "echo");
	ck_assert_str_eq(mine.protocol, "tcp");
	ck_assert_uint_eq(stats_sup_active(&sup, "echo", EVI_PROTO_TCP), 2);
	stats_carry_prune(&sup.s_carry);	/* as if all were gone */
	stats_gen_free(next_gs);
	stats_gen_free(failed_gs);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("carry");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_a_report_adds_the_draining_generation_then_its_carry);
	tcase_add_test(tc,
	    test_a_service_whose_protocol_changed_starts_from_zero);
	tcase_add_test(tc,
	    test_a_sequence_number_stuck_odd_costs_bounded_retries);
	tcase_add_test(tc, test_the_supervisor_sums_what_a_worker_reports);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(stats_suite()));
}
