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
 * ticker: a test module that writes to its client from outside the
 * connection's callbacks, as any asynchronous module does.  Every
 * "interval" it writes "tick N T\n", T being CLOCK_MONOTONIC in
 * milliseconds when it wrote, either from a libevent timer on the
 * service's event base (via = timer) or from a handler on a timerfd of
 * its own (via = handler).  After "count" ticks it finishes.  The client
 * compares T with when the line arrived.
 */

#include <sys/timerfd.h>

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <evinetd/module.h>

struct ticker {
	struct evi_conn		*t_conn;
	struct event		*t_timer;	/* via = timer */
	struct evi_handler	*t_handler;	/* via = handler */
	int			 t_fd;		/* its timerfd */
	long long		 t_n;
};

static const struct evi_option ticker_options[] = {
	{ "via", EVI_OPT_ENUM, "timer", "who writes: a timer or a handler",
	    0, 0, 0, "timer handler" },
	{ "interval", EVI_OPT_DURATION, "200ms", "time between ticks", 0,
	    1, 60000, NULL },
	{ "count", EVI_OPT_INT, "5", "ticks before finishing", 0, 1, 1000,
	    NULL },
	EVI_OPTION_END
};

static long long
ticker_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* One tick, then the end once count is reached. */
static void
ticker_tick(struct ticker *t)
{
	const struct evi_service	*svc = evi_conn_service(t->t_conn);

	t->t_n++;
	(void)evi_conn_printf(t->t_conn, "tick %lld %lld\n", t->t_n,
	    ticker_now_ms());
	if (t->t_n >= evi_opt_int(svc, "count"))
		evi_conn_finish(t->t_conn);
}

static void
ticker_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	ticker_tick(arg);
}

static void
ticker_handler_cb(int fd, int events, void *arg)
{
	uint64_t	n;

	(void)events;
	if (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		ticker_tick(arg);
}

static int
ticker_open(struct evi_conn *c)
{
	struct evi_service	*svc = evi_conn_service(c);
	long long		 ms = evi_opt_int(svc, "interval");
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct itimerspec	 its;
	struct ticker		*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (-1);
	t->t_conn = c;
	t->t_fd = -1;
	evi_conn_set_data(c, t);
	if (evi_opt_string(svc, "via")[0] == 't') {
		t->t_timer = event_new(evi_service_base(svc), -1, EV_PERSIST,
		    ticker_timer_cb, t);
		return (t->t_timer != NULL && event_add(t->t_timer, &tv) == 0 ?
		    0 : -1);
	}
	its.it_interval.tv_sec = its.it_value.tv_sec = ms / 1000;
	its.it_interval.tv_nsec = its.it_value.tv_nsec = (ms % 1000) * 1000000;
	if ((t->t_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1 || timerfd_settime(t->t_fd, 0, &its,
	    NULL) == -1)
		return (-1);
	t->t_handler = evi_handler_add(svc, t->t_fd, EVI_READ,
	    ticker_handler_cb, t);
	return (t->t_handler != NULL ? 0 : -1);
}

static void
ticker_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct ticker	*t = evi_conn_data(c);

	(void)reason;
	if (t->t_timer != NULL)
		event_free(t->t_timer);
	if (t->t_handler != NULL)
		evi_handler_remove(t->t_handler);
	if (t->t_fd != -1)
		close(t->t_fd);
	free(t);
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "ticker",
	.description = "test module: writes from a timer or a handler",
	.protocols = EVI_PROTO_TCP,
	.options = ticker_options,
	.conn_open = ticker_open,
	.conn_close = ticker_close,
};
