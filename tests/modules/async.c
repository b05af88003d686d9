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
 * async: a test module for the ABI 1.1 calls a relay is made of, one
 * "mode" per service, each answering on the client connection so the
 * test can check what happened from the outside:
 *
 *	limits	 writes "max_input=N max_output=M" and finishes.
 *	pause	 the first conn_read leaves the input, pauses reading,
 *		 writes "paused" and starts a 200 ms timer (the client sends
 *		 more meanwhile); the timer resumes reading, and the
 *		 daemon must offer the same input again unasked: the module
 *		 then writes "got <input> paused_reads=K" (K: conn_read calls
 *		 while paused, which must be 0) and finishes.
 *	halfclose echoes the first input followed by "bye", then shuts its
 *		 write side; later input is logged as "after shutdown: ...",
 *		 with the result of a write attempted then.
 *	connect	 connects to "peer" with "timeout"; the outcome is written to
 *		 the client: "connected" when the outbound conn_open runs, or
 *		 "outbound closed: REASON" when it fails, then finishes.
 *	relayread pauses the client, connects to "peer", resumes the client
 *		 once connected, and relays the two from the client's first
 *		 conn_read (which may come with the client's EOF).
 *	initconnect tries evi_connect from init, which must refuse (EINVAL);
 *		 then serves as "limits".
 */

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <evinetd/module.h>

struct async {
	struct evi_conn		*a_conn;
	struct evi_conn		*a_out;
	struct event		*a_timer;
	int			 a_paused;
	int			 a_paused_reads;
	int			 a_shut;
};

static const struct evi_option async_options[] = {
	{ "mode", EVI_OPT_ENUM, NULL, "what to exercise", EVI_OPT_REQUIRED,
	    0, 0, "limits pause halfclose connect relayread initconnect" },
	{ "peer", EVI_OPT_ADDRESS, NULL, "where connect mode connects", 0,
	    0, 0, NULL },
	{ "timeout", EVI_OPT_DURATION, "1s", "connect timeout", 0, 0, 60000,
	    NULL },
	EVI_OPTION_END
};

static char
async_mode(const struct evi_conn *c)
{
	return (evi_opt_string(evi_conn_service(c), "mode")[0]);
}

static void
async_resume(evutil_socket_t fd, short events, void *arg)
{
	struct async	*a = arg;

	(void)fd;
	(void)events;
	a->a_paused = 0;
	evi_conn_resume_read(a->a_conn);
}

static int
async_out_open(struct evi_conn *out)
{
	struct async	*a = evi_conn_data(out);

	if (async_mode(a->a_conn) == 'r') {
		evi_conn_resume_read(a->a_conn);
		return (0);
	}
	evi_conn_printf(a->a_conn, "connected\n");
	evi_conn_finish(a->a_conn);
	a->a_out = NULL;
	evi_conn_close(out);
	return (0);
}

static void
async_out_close(struct evi_conn *out, enum evi_close_reason reason)
{
	struct async	*a = evi_conn_data(out);

	if (a == NULL || a->a_out == NULL)
		return;
	a->a_out = NULL;
	if (async_mode(a->a_conn) == 'r')
		return;		/* the relay ends the client */
	evi_conn_printf(a->a_conn, "outbound closed: %s\n",
	    evi_close_reason_string(reason));
	evi_conn_finish(a->a_conn);
}

static const struct evi_conn_ops async_out_ops = {
	.conn_open = async_out_open,
	.conn_close = async_out_close,
};

static int
async_open(struct evi_conn *c)
{
	struct evi_service	*svc = evi_conn_service(c);
	const struct sockaddr	*sa;
	struct async		*a;
	socklen_t		 len;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return (-1);
	a->a_conn = c;
	evi_conn_set_data(c, a);
	switch (async_mode(c)) {
	case 'l':
	case 'i':
		evi_conn_printf(c, "max_input=%zu max_output=%zu\n",
		    evi_service_max_input(svc), evi_service_max_output(svc));
		evi_conn_finish(c);
		break;
	case 'r':
		evi_conn_pause_read(c);
		/* FALLTHROUGH */
	case 'c':
		if ((sa = evi_opt_address(svc, "peer", 0, &len)) == NULL)
			return (-1);
		a->a_out = evi_connect(svc, sa, len,
		    evi_opt_int(svc, "timeout"), &async_out_ops, a);
		if (a->a_out == NULL)
			return (-1);
		break;
	}
	return (0);
}

static int
async_read(struct evi_conn *c, struct evbuffer *in)
{
	struct async	*a = evi_conn_data(c);
	struct timeval	 tv = { 0, 200000 };
	size_t		 len = evbuffer_get_length(in);
	int		 rv;

	switch (async_mode(c)) {
	case 'r':
		return (evi_relay(c, a->a_out));
	case 'p':
		if (a->a_paused) {
			a->a_paused_reads++;
			return (0);
		}
		if (a->a_timer == NULL) {
			a->a_timer = event_new(evi_service_base(
			    evi_conn_service(c)), -1, 0, async_resume, a);
			if (a->a_timer == NULL || event_add(a->a_timer,
			    &tv) != 0)
				return (-1);
			a->a_paused = 1;
			evi_conn_pause_read(c);
			return (evi_conn_printf(c, "paused\n"));
		}
		evi_conn_printf(c, "got %.*s paused_reads=%d\n", (int)len,
		    (const char *)evbuffer_pullup(in, -1), a->a_paused_reads);
		evbuffer_drain(in, len);
		evi_conn_finish(c);
		return (0);
	case 'h':
		if (a->a_shut) {
			rv = evi_conn_write(c, "x", 1);
			evi_log(evi_conn_service(c), EVI_LOG_INFO, "after "
			    "shutdown: %.*s, write %d %s", (int)len,
			    (const char *)evbuffer_pullup(in, -1), rv,
			    rv == -1 && errno == EPIPE ? "EPIPE" : "?");
			evbuffer_drain(in, len);
			return (0);
		}
		evi_conn_write_buffer(c, in);
		evi_conn_printf(c, "bye\n");
		a->a_shut = 1;
		return (evi_conn_shutdown_write(c));
	}
	evbuffer_drain(in, len);
	return (0);
}

/* In halfclose mode the peer's EOF ends it: log it, the daemon closes. */
static int
async_eof(struct evi_conn *c)
{
	if (async_mode(c) == 'h')
		evi_log(evi_conn_service(c), EVI_LOG_INFO, "peer eof");
	evi_conn_finish(c);
	return (0);
}

static void
async_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct async	*a = evi_conn_data(c);

	if (async_mode(c) == 'h')
		evi_log(evi_conn_service(c), EVI_LOG_INFO, "closed: %s",
		    evi_close_reason_string(reason));
	if (a->a_out != NULL) {
		evi_conn_set_data(a->a_out, NULL);
		if (async_mode(c) != 'r')
			evi_conn_close(a->a_out);
	}
	if (a->a_timer != NULL)
		event_free(a->a_timer);
	free(a);
}

/* In initconnect mode, a connect from init must be refused. */
static int
async_init(struct evi_service *svc, void **state)
{
	struct sockaddr_in	sin;

	(void)state;
	if (evi_opt_string(svc, "mode")[0] != 'i')
		return (0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (evi_connect(svc, (struct sockaddr *)&sin, sizeof(sin), 0,
	    &async_out_ops, NULL) != NULL)
		return (evi_service_fail(svc, "evi_connect worked in init"));
	if (errno != EINVAL)
		return (evi_service_fail(svc, "evi_connect in init: errno %d",
		    errno));
	return (0);
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "async",
	.description = "test module: pause, half-close, connect, limits",
	.protocols = EVI_PROTO_TCP,
	.options = async_options,
	.init = async_init,
	.conn_open = async_open,
	.conn_read = async_read,
	.conn_eof = async_eof,
	.conn_close = async_close,
};
