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
 * Unit tests for timerq.c, on a real event base and timerfd: deadlines
 * fire in order of their time and never early, a removed one never
 * fires, a moved one fires once at its new time, a callback may add
 * deadlines (its own included) and remove others, and the loop sleeps
 * without a libevent timer while deadlines are pending.  Delays are tens
 * of milliseconds, so each test takes well under a second.
 */

#include "config.h"

#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evinetd.h"
#include "check_run.h"

#define NDEADLINES	200

struct probe {
	struct deadline	 p_deadline;
	struct timerq	*p_tq;
	int		 p_id;
	int		 p_fired;
	uint64_t	 p_due;		/* ms, monotonic */
	uint64_t	 p_at;		/* when it fired */
	struct probe	*p_victim;	/* removed by this one's callback */
	int		 p_again;	/* times to re-add itself */
};

static struct event_base	*base;
static struct timerq		 tq;
static int			 order[NDEADLINES * 2];
static int			 norder;
static int			 outstanding;

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
probe_cb(void *arg)
{
	struct probe	*p = arg;
	struct timeval	 tv = { 0, 5000 };

	p->p_fired++;
	p->p_at = now_ms();
	order[norder++] = p->p_id;
	if (p->p_victim != NULL && deadline_pending(&p->p_victim->p_deadline)) {
		deadline_del(p->p_tq, &p->p_victim->p_deadline);
		outstanding--;
	}
	if (p->p_again > 0) {
		p->p_again--;
		deadline_add(p->p_tq, &p->p_deadline, &tv);
		p->p_due = p->p_deadline.d_when;
		return;
	}
	if (--outstanding == 0)
		event_base_loopbreak(base);
}

static void
probe_add(struct probe *p, int id, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	memset(p, 0, sizeof(*p));
	p->p_id = id;
	p->p_tq = &tq;
	deadline_init(&p->p_deadline, probe_cb, p);
	deadline_add(&tq, &p->p_deadline, &tv);
	p->p_due = p->p_deadline.d_when;
	ck_assert_uint_ge(p->p_due, now_ms() + (uint64_t)ms - 1);
	outstanding++;
}

/* Runs the loop until every outstanding deadline has fired (or 5 s). */
static void
run(void)
{
	struct timeval	limit = { 5, 0 };

	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_int_eq(outstanding, 0);
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	timerq_init(&tq, base);
	norder = 0;
	outstanding = 0;
}

static void
teardown(void)
{
	timerq_free(&tq);
	event_base_free(base);
}

START_TEST(test_deadlines_fire_in_time_order_and_never_early)
{
	static struct probe	p[NDEADLINES];
	int			i, ms;

	/* Scrambled delays from 10 to 70 ms, several sharing a time. */
	for (i = 0; i < NDEADLINES; i++) {
		ms = 10 + (i * 37) % 61;
		probe_add(&p[i], i, ms);
	}
	ck_assert_int_eq(tq.tq_len, NDEADLINES);
	run();
	ck_assert_int_eq(norder, NDEADLINES);
	for (i = 0; i < NDEADLINES; i++) {
		ck_assert_int_eq(p[i].p_fired, 1);
		ck_assert_uint_ge(p[i].p_at, p[i].p_due);
	}
	for (i = 1; i < norder; i++)
		ck_assert_uint_le(p[order[i - 1]].p_due, p[order[i]].p_due);
	ck_assert_int_eq(tq.tq_len, 0);
}
END_TEST

START_TEST(test_removed_deadlines_never_fire_and_moved_ones_fire_once)
{
	static struct probe	p[NDEADLINES];
	struct timeval		tv = { 0, 60000 };
	int			i;

	for (i = 0; i < NDEADLINES; i++)
		probe_add(&p[i], i, 10 + i % 40);
	/* Remove every third, from the middle of the heap as well. */
	for (i = 0; i < NDEADLINES; i += 3) {
		deadline_del(&tq, &p[i].p_deadline);
		ck_assert(!deadline_pending(&p[i].p_deadline));
		deadline_del(&tq, &p[i].p_deadline);	/* twice is fine */
		outstanding--;
	}
	/* Move the earliest ones later: the timerfd was set for them. */
	for (i = 1; i < 10; i += 3) {
		deadline_add(&tq, &p[i].p_deadline, &tv);
		p[i].p_due = p[i].p_deadline.d_when;
	}
	run();
	for (i = 0; i < NDEADLINES; i++) {
		ck_assert_int_eq(p[i].p_fired, i % 3 == 0 ? 0 : 1);
		if (i % 3 != 0)
			ck_assert_uint_ge(p[i].p_at, p[i].p_due);
	}
}
END_TEST

START_TEST(test_callbacks_may_re_add_themselves_and_remove_others)
{
	static struct probe	p[3];

	probe_add(&p[0], 0, 10);
	p[0].p_again = 3;		/* fires at about 10, 15, 20, 25 ms */
	probe_add(&p[1], 1, 12);
	p[1].p_victim = &p[2];		/* p[2] (40 ms) never fires */
	probe_add(&p[2], 2, 40);
	run();
	ck_assert_int_eq(p[0].p_fired, 4);
	ck_assert_int_eq(p[1].p_fired, 1);
	ck_assert_int_eq(p[2].p_fired, 0);
	ck_assert_uint_ge(p[0].p_at, p[0].p_due);
	ck_assert_int_eq(tq.tq_len, 0);
}
END_TEST

START_TEST(test_pending_deadlines_leave_libevent_without_timers)
{
	static struct probe	p;

	probe_add(&p, 0, 20);
	/*
	 * The one event libevent has is the timerfd's: no timer in its own
	 * heap, so its loop sleeps in epoll_wait without a timeout.
	 */
	ck_assert_int_eq(event_base_get_num_events(base,
	    EVENT_BASE_COUNT_ADDED), 1);
	ck_assert(event_pending(&tq.tq_ev, EV_READ, NULL));
	ck_assert(!event_pending(&tq.tq_ev, EV_TIMEOUT, NULL));
	run();
	ck_assert_int_eq(p.p_fired, 1);
}
END_TEST

static Suite *
timerq_suite(void)
{
	Suite	*s = suite_create("timerq");
	TCase	*tc = tcase_create("deadlines");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_deadlines_fire_in_time_order_and_never_early);
	tcase_add_test(tc,
	    test_removed_deadlines_never_fire_and_moved_ones_fire_once);
	tcase_add_test(tc, test_callbacks_may_re_add_themselves_and_remove_others);
	tcase_add_test(tc, test_pending_deadlines_leave_libevent_without_timers);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(timerq_suite()));
}
