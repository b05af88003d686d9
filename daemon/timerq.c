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
 * A worker's deadlines (connection timeouts, lingering closes, the limits
 * housekeeping tick) in one min-heap behind one timerfd.
 *
 * Why not libevent timers: while any libevent timer is pending, every
 * epoll_wait gets a timeout, so each time the loop sleeps the kernel arms
 * and cancels a timer, and libevent reads the clock and checks its heap
 * once more per turn.  With one connection that is a turn per request,
 * and it showed as about 5% of the server's CPU per request (see
 * docs/benchmarks.md).  Behind a timerfd the loop sleeps without a
 * timeout, and the kernel timer is set only when the earliest deadline
 * moves earlier or has fired; removing a deadline never costs a system
 * call (a timerfd that fires for nothing is simply re-armed).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evinetd.h"

#define TIMERQ_NONE	SIZE_MAX

static void	timerq_fire(evutil_socket_t, short, void *);

/* Milliseconds on the monotonic clock, which no date change moves. */
uint64_t
timerq_now(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Sets the timerfd to go off at when (absolute), or disarms it for 0. */
static void
timerq_arm(struct timerq *tq, uint64_t when)
{
	struct itimerspec	its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(when / 1000);
	its.it_value.tv_nsec = (long)(when % 1000) * 1000000;
	if (timerfd_settime(tq->tq_fd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		fatal("timerfd_settime");
	tq->tq_armed = when;
}

static void
timerq_place(struct timerq *tq, struct deadline *d, size_t i)
{
	tq->tq_heap[i] = d;
	d->d_index = i;
}

static void
timerq_up(struct timerq *tq, size_t i)
{
	struct deadline	*d = tq->tq_heap[i];
	size_t		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (tq->tq_heap[parent]->d_when <= d->d_when)
			break;
		timerq_place(tq, tq->tq_heap[parent], i);
		i = parent;
	}
	timerq_place(tq, d, i);
}

static void
timerq_down(struct timerq *tq, size_t i)
{
	struct deadline	*d = tq->tq_heap[i];
	size_t		 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= tq->tq_len)
			break;
		if (child + 1 < tq->tq_len && tq->tq_heap[child + 1]->d_when <
		    tq->tq_heap[child]->d_when)
			child++;
		if (d->d_when <= tq->tq_heap[child]->d_when)
			break;
		timerq_place(tq, tq->tq_heap[child], i);
		i = child;
	}
	timerq_place(tq, d, i);
}

/* Creates the timerfd and watches it on the worker's loop. */
void
timerq_init(struct timerq *tq, struct event_base *base)
{
	memset(tq, 0, sizeof(*tq));
	tq->tq_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tq->tq_fd == -1)
		fatal("timerfd_create");
	event_assign(&tq->tq_ev, base, tq->tq_fd, EV_READ | EV_PERSIST,
	    timerq_fire, tq);
	event_add(&tq->tq_ev, NULL);
}

void
timerq_free(struct timerq *tq)
{
	size_t	i;

	for (i = 0; i < tq->tq_len; i++)
		tq->tq_heap[i]->d_index = TIMERQ_NONE;
	event_del(&tq->tq_ev);
	close(tq->tq_fd);
	free(tq->tq_heap);
	tq->tq_heap = NULL;
	tq->tq_len = tq->tq_cap = 0;
}

void
deadline_init(struct deadline *d, void (*cb)(void *), void *arg)
{
	d->d_when = 0;
	d->d_index = TIMERQ_NONE;
	d->d_cb = cb;
	d->d_arg = arg;
}

int
deadline_pending(const struct deadline *d)
{
	return (d->d_index != TIMERQ_NONE);
}

/* Takes a deadline out of the queue, if it is in; no system call. */
void
deadline_del(struct timerq *tq, struct deadline *d)
{
	struct deadline	*last;
	size_t		 i = d->d_index;

	if (i == TIMERQ_NONE)
		return;
	d->d_index = TIMERQ_NONE;
	last = tq->tq_heap[--tq->tq_len];
	if (last == d)
		return;
	timerq_place(tq, last, i);
	if (i > 0 && tq->tq_heap[(i - 1) / 2]->d_when > last->d_when)
		timerq_up(tq, i);
	else
		timerq_down(tq, i);
}

/*
 * Sets (or moves) a deadline delay from now, rounded up to the next
 * millisecond; the timerfd moves only if this is the new earliest.
 */
void
deadline_add(struct timerq *tq, struct deadline *d, const struct timeval *delay)
{
	uint64_t	ms;

	ms = (uint64_t)delay->tv_sec * 1000 +
	    ((uint64_t)delay->tv_usec + 999) / 1000;
	deadline_del(tq, d);
	if (tq->tq_len == tq->tq_cap) {
		tq->tq_cap = tq->tq_cap ? tq->tq_cap * 2 : 64;
		/* An array of pointers: the size of a pointer is meant. */
		tq->tq_heap = xreallocarray(tq->tq_heap, tq->tq_cap,
		    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		    sizeof(*tq->tq_heap));
	}
	d->d_when = timerq_now() + ms;
	timerq_place(tq, d, tq->tq_len++);
	timerq_up(tq, d->d_index);
	if (!tq->tq_firing && (tq->tq_armed == 0 || d->d_when < tq->tq_armed))
		timerq_arm(tq, d->d_when);
}

/*
 * The timerfd went off: runs every deadline that is due (a callback may
 * add or remove deadlines, its own included), then sets the timerfd once,
 * for the earliest one left.
 */
static void
timerq_fire(evutil_socket_t fd, short events, void *arg)
{
	struct timerq	*tq = arg;
	struct deadline	*d;
	uint64_t	 expirations, now;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) == -1 &&
	    errno != EAGAIN && errno != EINTR)
		fatal("read from a timerfd");
	tq->tq_armed = 0;
	tq->tq_firing = 1;
	now = timerq_now();
	while (tq->tq_len > 0 && tq->tq_heap[0]->d_when <= now) {
		d = tq->tq_heap[0];
		deadline_del(tq, d);
		d->d_cb(d->d_arg);
	}
	tq->tq_firing = 0;
	if (tq->tq_len > 0)
		timerq_arm(tq, tq->tq_heap[0]->d_when);
}
