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
 * stats: the daemon's counters over HTTP, for Prometheus and for people.
 *
 *	GET /metrics		the Prometheus text exposition format 0.0.4
 *	GET /metrics.json	the same figures as JSON
 *
 * It is an ordinary module built on the read-only stats API, and shows
 * how a module carries a real request/response protocol: it parses
 * requests as they arrive (modules/stats_http.c, with a size cap), answers
 * pipelined requests in order, keeps connections alive as HTTP/1.1 wants,
 * and closes idle keep-alive connections from a timer of its own on the
 * worker's event base.  Pipelined requests are answered a bounded batch
 * at a time (STATS_BATCH requests or STATS_WORK bytes rendered), and not
 * at all while the output holds the service's max_output (the daemon's
 * mark: the write functions refuse); the rest waits in the input for
 * conn_drained.  So neither the memory a connection holds nor the time
 * one client takes from the worker grows with what it sends.
 *
 * Limit who may scrape with the service's listen address (loopback by
 * default in the example configs).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evinetd/module.h>

#include "stats_http.h"

#define STATS_BATCH	16		/* requests answered per callback, */
#define STATS_WORK	(64 * 1024)	/* or bytes rendered, if fewer */

struct stats_conn {
	struct evi_conn	*c;
	struct event	*idle;
	int		 peer_eof;	/* no more requests will come */
};

struct stats {
	long long	 max_request;
	struct timeval	 idle;
};

static int	stats_process(struct evi_conn *);

static int
stats_init(struct evi_service *svc, void **state)
{
	struct stats	*st;
	long long	 ms;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (evi_service_fail(svc, "out of memory"));
	st->max_request = evi_opt_int(svc, "max_request");
	ms = evi_opt_int(svc, "keepalive_timeout");
	st->idle.tv_sec = (time_t)(ms / 1000);
	st->idle.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	*state = st;
	return (0);
}

static void
stats_fini(struct evi_service *svc, void *state)
{
	(void)svc;
	free(state);
}

/* Prometheus label values escape backslash, quote and newline. */
static void
prom_label(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

struct metric {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 offset;	/* into evi_stats_service */
};

#define SVC_FIELD(f)	offsetof(struct evi_stats_service, f)
static const struct metric service_metrics[] = {
	{ "evinetd_connections_accepted_total", "counter",
	    "Connections accepted.", SVC_FIELD(accepted) },
	{ "evinetd_connections_active", "gauge",
	    "Connections open now.", SVC_FIELD(active) },
	{ "evinetd_received_bytes_total", "counter",
	    "Bytes received from clients.", SVC_FIELD(bytes_in) },
	{ "evinetd_sent_bytes_total", "counter",
	    "Bytes sent to clients.", SVC_FIELD(bytes_out) },
	{ "evinetd_datagrams_received_total", "counter",
	    "Datagrams received.", SVC_FIELD(dgrams_in) },
	{ "evinetd_datagrams_sent_total", "counter",
	    "Datagrams sent.", SVC_FIELD(dgrams_out) },
	{ "evinetd_module_errors_total", "counter",
	    "Module callbacks that returned an error.",
	    SVC_FIELD(module_errors) },
	{ "evinetd_outbound_connects_total", "counter",
	    "Outbound connections the module made that connected.",
	    SVC_FIELD(outbound_connects) },
	{ "evinetd_outbound_failed_total", "counter",
	    "Outbound connections that did not connect.",
	    SVC_FIELD(outbound_failed) },
	{ "evinetd_outbound_received_bytes_total", "counter",
	    "Bytes received on outbound connections.",
	    SVC_FIELD(outbound_bytes_in) },
	{ "evinetd_outbound_sent_bytes_total", "counter",
	    "Bytes sent on outbound connections.",
	    SVC_FIELD(outbound_bytes_out) },
	{ "evinetd_proxy_header_errors_total", "counter",
	    "Connections closed for a malformed or late PROXY header.",
	    SVC_FIELD(proxy_errors) },
	{ "evinetd_exec_started_total", "counter",
	    "Programs run for connections (exec services).",
	    SVC_FIELD(exec_started) },
	{ "evinetd_exec_failed_total", "counter",
	    "Programs that could not be run.", SVC_FIELD(exec_failed) },
	{ "evinetd_exec_exit_ok_total", "counter",
	    "Programs that exited with status 0.", SVC_FIELD(exec_exit_ok) },
	{ "evinetd_exec_exit_error_total", "counter",
	    "Programs that exited with another status.",
	    SVC_FIELD(exec_exit_error) },
	{ "evinetd_exec_signaled_total", "counter",
	    "Programs killed by a signal.", SVC_FIELD(exec_signaled) },
};
#define NSERVICE_METRICS (sizeof(service_metrics) / sizeof(service_metrics[0]))

struct walk {
	struct evbuffer	*b;
	size_t		 metric;	/* index, or a special pass */
	int		 first;
};

#define PASS_CLOSED	100
#define PASS_REFUSED	101
#define PASS_TLS	102	/* handshakes, resumed: TLS services only */
#define PASS_TLS_RESUMED 103
#define PASS_TLS_FAILED	104

/*
 * The reasons a report lists by family: the 1.0 ones in the frozen
 * arrays, then the 1.2 one in its own member (closed_admin,
 * refused_disabled).  The 1.1 close reasons are outbound failures,
 * reported as evinetd_outbound_failed_total.
 */
#define NCLOSED		(EVI_CLOSE_NREASONS + 1)
#define NREFUSED	(EVI_REFUSE_NREASONS + 1)

/* The i-th reason of a family: its word, and its count in *n. */
static const char *
reason_count(const struct evi_stats_service *s, int closed, unsigned int i,
    uint64_t *n)
{
	if (closed && i < EVI_CLOSE_NREASONS) {
		*n = s->closed[i];
		return (evi_close_reason_string(i));
	}
	if (closed) {
		*n = s->closed_admin;
		return (evi_close_reason_string(EVI_CLOSE_ADMIN));
	}
	if (i < EVI_REFUSE_NREASONS) {
		*n = s->refused[i];
		return (evi_refuse_reason_string(i));
	}
	*n = s->refused_disabled;
	return (evi_refuse_reason_string(EVI_REFUSE_DISABLED));
}

/* One family's reasons as JSON members, "word": count. */
static void
json_reasons(struct evbuffer *b, const struct evi_stats_service *s,
    int closed)
{
	const char	*word;
	uint64_t	 n;
	unsigned int	 i;

	for (i = 0; i < (closed ? NCLOSED : NREFUSED); i++) {
		word = reason_count(s, closed, i, &n);
		evbuffer_add_printf(b, "%s\"%s\": %" PRIu64, i ? ", " : "",
		    word, n);
	}
}

/* Stops the walk at the first service that speaks TLS. */
static int
is_tls(const struct evi_stats_service *s, void *arg)
{
	(void)arg;
	return (s->tls != 0);
}

/* The TLS families' samples, for a service that speaks TLS. */
static int
prom_tls(const struct evi_stats_service *s, struct walk *w)
{
	unsigned int	i;

	if (!s->tls)
		return (0);
	if (w->metric == PASS_TLS_FAILED) {
		for (i = 0; i < EVI_TLS_FAIL_NREASONS; i++) {
			evbuffer_add_printf(w->b,
			    "evinetd_tls_handshake_failures_total{service=\"");
			prom_label(w->b, s->name);
			evbuffer_add_printf(w->b, "\",reason=\"%s\"} %" PRIu64
			    "\n", evi_tls_failure_string(i),
			    s->tls_handshake_failures[i]);
		}
		return (0);
	}
	evbuffer_add_printf(w->b, "%s{service=\"", w->metric == PASS_TLS ?
	    "evinetd_tls_handshakes_total" : "evinetd_tls_resumed_total");
	prom_label(w->b, s->name);
	evbuffer_add_printf(w->b, "\"} %" PRIu64 "\n", w->metric == PASS_TLS ?
	    s->tls_handshakes : s->tls_resumed);
	return (0);
}

/* Writes one metric's (or one labelled family's) samples for a service. */
static int
prom_service(const struct evi_stats_service *s, void *arg)
{
	struct walk	*w = arg;
	const char	*word;
	uint64_t	 v;
	unsigned int	 i;
	int		 closed = w->metric == PASS_CLOSED;

	if (w->metric >= PASS_TLS)
		return (prom_tls(s, w));
	if (closed || w->metric == PASS_REFUSED) {
		for (i = 0; i < (closed ? NCLOSED : NREFUSED); i++) {
			word = reason_count(s, closed, i, &v);
			evbuffer_add_printf(w->b, "%s{service=\"", closed ?
			    "evinetd_connections_closed_total" :
			    "evinetd_refused_total");
			prom_label(w->b, s->name);
			evbuffer_add_printf(w->b, "\",reason=\"%s\"} %" PRIu64
			    "\n", word, v);
		}
		return (0);
	}
	memcpy(&v, (const char *)s + service_metrics[w->metric].offset,
	    sizeof(v));
	evbuffer_add_printf(w->b, "%s{service=\"",
	    service_metrics[w->metric].name);
	prom_label(w->b, s->name);
	evbuffer_add_printf(w->b, "\"} %" PRIu64 "\n", v);
	return (0);
}

static void
prom_header(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* The TLS families, if a service speaks TLS: no family without samples. */
static void
prom_tls_families(struct evi_service *svc, struct walk *w)
{
	if (evi_stats_foreach(svc, is_tls, NULL) == 0)
		return;
	prom_header(w->b, "evinetd_tls_handshakes_total", "counter",
	    "TLS handshakes completed, resumed ones included.");
	w->metric = PASS_TLS;
	evi_stats_foreach(svc, prom_service, w);
	prom_header(w->b, "evinetd_tls_resumed_total", "counter",
	    "TLS handshakes that resumed a session.");
	w->metric = PASS_TLS_RESUMED;
	evi_stats_foreach(svc, prom_service, w);
	prom_header(w->b, "evinetd_tls_handshake_failures_total", "counter",
	    "TLS handshakes that failed, by reason.");
	w->metric = PASS_TLS_FAILED;
	evi_stats_foreach(svc, prom_service, w);
}

/* The whole Prometheus exposition, grouped by metric family. */
static void
stats_prometheus(struct evi_service *svc, struct evbuffer *b)
{
	const struct evi_stats_global	*g = evi_stats_global(svc);
	struct walk			 w = { b, 0, 1 };

	for (w.metric = 0; w.metric < NSERVICE_METRICS; w.metric++) {
		prom_header(b, service_metrics[w.metric].name,
		    service_metrics[w.metric].type,
		    service_metrics[w.metric].help);
		evi_stats_foreach(svc, prom_service, &w);
	}
	prom_header(b, "evinetd_connections_closed_total", "counter",
	    "Connections closed, by reason.");
	w.metric = PASS_CLOSED;
	evi_stats_foreach(svc, prom_service, &w);
	prom_header(b, "evinetd_refused_total", "counter",
	    "Connections or datagrams refused, by reason.");
	w.metric = PASS_REFUSED;
	evi_stats_foreach(svc, prom_service, &w);
	prom_tls_families(svc, &w);
	prom_header(b, "evinetd_build_info", "gauge",
	    "Version of the daemon and of its module ABI.");
	evbuffer_add_printf(b, "evinetd_build_info{version=\"");
	prom_label(b, g->version);
	evbuffer_add_printf(b, "\",abi=\"%d.%d\"} 1\n", EVI_ABI_MAJOR,
	    EVI_ABI_MINOR);
	prom_header(b, "evinetd_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the Unix epoch.");
	evbuffer_add_printf(b, "evinetd_start_time_seconds %" PRIu64 "\n",
	    g->start_time);
	/* The conventional name, so dashboards spot restarts unaided. */
	prom_header(b, "process_start_time_seconds", "gauge",
	    "Start time of the supervisor since the Unix epoch in seconds.");
	evbuffer_add_printf(b, "process_start_time_seconds %" PRIu64 "\n",
	    g->start_time);
	prom_header(b, "evinetd_uptime_seconds", "gauge",
	    "Seconds since the daemon started.");
	evbuffer_add_printf(b, "evinetd_uptime_seconds %" PRIu64 ".%03u\n",
	    g->uptime_ms / 1000, (unsigned int)(g->uptime_ms % 1000));
	prom_header(b, "evinetd_reloads_total", "counter",
	    "Config reloads, by result.");
	evbuffer_add_printf(b, "evinetd_reloads_total{result=\"ok\"} %" PRIu64
	    "\nevinetd_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    g->reloads_ok, g->reloads_failed);
	prom_header(b, "evinetd_worker_restarts_total", "counter",
	    "Worker processes restarted after they died.");
	evbuffer_add_printf(b, "evinetd_worker_restarts_total %" PRIu64 "\n",
	    g->worker_restarts);
	prom_header(b, "evinetd_workers", "gauge", "Worker processes.");
	evbuffer_add_printf(b, "evinetd_workers %" PRIu64 "\n", g->workers);
	prom_header(b, "evinetd_open_fds", "gauge",
	    "File descriptors open in the serving process, at most 1 s ago.");
	evbuffer_add_printf(b, "evinetd_open_fds %" PRIu64 "\n", g->open_fds);
}

/* A TLS service's handshake counters, as more members of its object. */
static void
json_tls(struct evbuffer *b, const struct evi_stats_service *s)
{
	unsigned int	i;

	evbuffer_add_printf(b, ", \"tls_handshakes\": %" PRIu64 ", "
	    "\"tls_resumed\": %" PRIu64 ", \"tls_handshake_failures\": {",
	    s->tls_handshakes, s->tls_resumed);
	for (i = 0; i < EVI_TLS_FAIL_NREASONS; i++)
		evbuffer_add_printf(b, "%s\"%s\": %" PRIu64, i ? ", " : "",
		    evi_tls_failure_string(i), s->tls_handshake_failures[i]);
	evbuffer_add_printf(b, "}");
}

/* One service as a JSON object (names are [A-Za-z0-9._-], no escaping). */
static int
json_service(const struct evi_stats_service *s, void *arg)
{
	struct walk	*w = arg;

	evbuffer_add_printf(w->b, "%s\n    {\"name\": \"%s\", \"module\": "
	    "\"%s\", \"protocol\": \"%s\", \"accepted\": %" PRIu64 ", "
	    "\"active\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", "
	    "\"bytes_out\": %" PRIu64 ", \"datagrams_in\": %" PRIu64 ", "
	    "\"datagrams_out\": %" PRIu64 ", \"module_errors\": %" PRIu64
	    ", \"outbound_connects\": %" PRIu64 ", \"outbound_failed\": %"
	    PRIu64 ", \"outbound_bytes_in\": %" PRIu64 ", "
	    "\"outbound_bytes_out\": %" PRIu64 ", \"proxy_errors\": %"
	    PRIu64 ", \"exec\": {\"started\": %" PRIu64 ", \"failed\": %"
	    PRIu64 ", \"exit_ok\": %" PRIu64 ", \"exit_error\": %" PRIu64
	    ", \"signaled\": %" PRIu64 "}, \"closed\": {",
	    w->first ? "" : ",", s->name, s->module, s->protocol,
	    s->accepted, s->active, s->bytes_in, s->bytes_out, s->dgrams_in,
	    s->dgrams_out, s->module_errors, s->outbound_connects,
	    s->outbound_failed, s->outbound_bytes_in, s->outbound_bytes_out,
	    s->proxy_errors, s->exec_started, s->exec_failed, s->exec_exit_ok,
	    s->exec_exit_error, s->exec_signaled);
	json_reasons(w->b, s, 1);
	evbuffer_add_printf(w->b, "}, \"refused\": {");
	json_reasons(w->b, s, 0);
	evbuffer_add_printf(w->b, "}");
	if (s->tls)
		json_tls(w->b, s);
	evbuffer_add_printf(w->b, "}");
	w->first = 0;
	return (0);
}

static void
stats_json(struct evi_service *svc, struct evbuffer *b)
{
	const struct evi_stats_global	*g = evi_stats_global(svc);
	struct walk			 w = { b, 0, 1 };

	evbuffer_add_printf(b, "{\"version\": \"%s\", \"abi\": \"%d.%d\", "
	    "\"start_time\": %" PRIu64 ", \"uptime_seconds\": %" PRIu64
	    ".%03u, \"reloads_ok\": %" PRIu64 ", \"reloads_failed\": %"
	    PRIu64 ", \"worker_restarts\": %" PRIu64 ", \"workers\": %"
	    PRIu64 ", \"open_fds\": %" PRIu64 ",\n  \"services\": [",
	    g->version, EVI_ABI_MAJOR, EVI_ABI_MINOR, g->start_time,
	    g->uptime_ms / 1000, (unsigned int)(g->uptime_ms % 1000),
	    g->reloads_ok, g->reloads_failed, g->worker_restarts, g->workers,
	    g->open_fds);
	evi_stats_foreach(svc, json_service, &w);
	evbuffer_add_printf(b, "\n  ]\n}\n");
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 400: return ("Bad Request");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 414: return ("URI Too Long");
	case 431: return ("Request Header Fields Too Large");
	case 501: return ("Not Implemented");
	case 505: return ("HTTP Version Not Supported");
	}
	return ("Error");
}

/*
 * Queues one response whole, or nothing of it: 0 when it is queued (the
 * body buffer is moved, not copied), 1 when the output is full and the
 * request must wait for conn_drained, -1 on error.
 */
static int
stats_respond(struct evi_conn *c, int status, const char *type,
    struct evbuffer *body, int head, int keep_alive)
{
	char	hdr[256];
	size_t	len = evbuffer_get_length(body);
	int	n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\nContent-Type: %s"
	    "\r\nContent-Length: %zu\r\n%s%s\r\n", status,
	    status_text(status), type, len,
	    status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    keep_alive ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return (-1);
	if (head)
		evbuffer_drain(body, len);
	if (evbuffer_prepend(body, hdr, (size_t)n) != 0)
		return (-1);
	if (evi_conn_write_buffer(c, body) == -1)
		return (errno == ENOBUFS ? 1 : -1);
	if (!keep_alive)
		evi_conn_finish(c);
	return (0);
}

/*
 * Answers one parsed request; returns as stats_respond does.  The bytes
 * rendered (a HEAD's too) are added to *work, the measure of its cost.
 */
static int
stats_answer(struct evi_conn *c, const struct http_request *req,
    size_t *work)
{
	struct evi_service	*svc = evi_conn_service(c);
	struct evbuffer		*body;
	const char		*type = "text/plain";
	int			 head, status = 200, rv;

	if ((body = evbuffer_new()) == NULL)
		return (-1);
	head = strcmp(req->method, "HEAD") == 0;
	if (!head && strcmp(req->method, "GET") != 0) {
		status = 405;
		evbuffer_add_printf(body, "only GET and HEAD are served\n");
	} else if (strcmp(req->path, "/metrics") == 0) {
		type = "text/plain; version=0.0.4; charset=utf-8";
		stats_prometheus(svc, body);
	} else if (strcmp(req->path, "/metrics.json") == 0) {
		type = "application/json";
		stats_json(svc, body);
	} else {
		status = 404;
		evbuffer_add_printf(body, "not found; try /metrics or "
		    "/metrics.json\n");
	}
	*work += evbuffer_get_length(body);
	rv = stats_respond(c, status, type, body, head, req->keep_alive);
	evbuffer_free(body);
	return (rv);
}

/*
 * Refuses a request we cannot parse, and closes: framing is lost.
 * Returns as stats_respond does.
 */
static int
stats_refuse(struct evi_conn *c, const struct http_request *req)
{
	struct evbuffer	*body;
	int		 rv;

	if ((body = evbuffer_new()) == NULL)
		return (-1);
	evbuffer_add_printf(body, "%s\n", req->reason);
	rv = stats_respond(c, req->status, "text/plain", body, 0, 0);
	evbuffer_free(body);
	if (rv == 0)
		evi_log(evi_conn_service(c), EVI_LOG_DEBUG, "%s: %d %s",
		    evi_conn_peer_string(c), req->status, req->reason);
	return (rv);
}

/*
 * Answers the complete requests in the input, in order: at most
 * STATS_BATCH of them or STATS_WORK bytes of rendering (a scrape costs in
 * proportion to the services), and only while the output has room.  A
 * request leaves the input once its answer is queued, so what is left
 * waits for conn_drained, which the daemon calls when the answers are out
 * (or on a later turn of the event loop, so that other connections are
 * served in between).
 */
static int
stats_process(struct evi_conn *c)
{
	struct stats		*st = evi_service_state(evi_conn_service(c));
	struct stats_conn	*sc = evi_conn_data(c);
	struct evbuffer		*in = evi_conn_input(c);
	struct http_request	 req;
	size_t			 len, work = 0;
	const char		*p;
	int			 n, rv = 0;

	for (n = 0; n < STATS_BATCH && work < STATS_WORK && rv == 0 &&
	    (len = evbuffer_get_length(in)) > 0; n++) {
		if (len > (size_t)st->max_request)
			len = (size_t)st->max_request;
		if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) ==
		    NULL)
			return (-1);
		switch (http_parse(p, len, (size_t)st->max_request, &req)) {
		case HTTP_INCOMPLETE:
			if (sc->peer_eof)
				evi_conn_finish(c);	/* it never will be */
			return (0);
		case HTTP_ERROR:
			if ((rv = stats_refuse(c, &req)) == 0) {
				evbuffer_drain(in, evbuffer_get_length(in));
				return (0);
			}
			break;
		case HTTP_PARSED:
			if ((rv = stats_answer(c, &req, &work)) != 0)
				break;
			if (!req.keep_alive) {
				evbuffer_drain(in, evbuffer_get_length(in));
				return (0);
			}
			evbuffer_drain(in, req.length);
			break;
		}
	}
	if (rv == -1)
		return (-1);
	if (evbuffer_get_length(in) == 0 && sc->peer_eof) {
		evi_conn_finish(c);
		return (0);
	}
	if (sc->idle != NULL)
		evtimer_add(sc->idle, &st->idle);
	return (0);
}

static void
stats_idle(evutil_socket_t fd, short events, void *arg)
{
	struct stats_conn	*sc = arg;

	(void)fd;
	(void)events;
	evi_conn_close(sc->c);
}

static int
stats_open(struct evi_conn *c)
{
	struct evi_service	*svc = evi_conn_service(c);
	struct stats		*st = evi_service_state(svc);
	struct stats_conn	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return (-1);
	sc->c = c;
	sc->idle = evtimer_new(evi_service_base(svc), stats_idle, sc);
	if (sc->idle == NULL) {
		free(sc);
		return (-1);
	}
	evtimer_add(sc->idle, &st->idle);
	evi_conn_set_data(c, sc);
	return (0);
}

static int
stats_read(struct evi_conn *c, struct evbuffer *in)
{
	(void)in;
	return (stats_process(c));
}

/*
 * The peer half-closed.  What it pipelined before that is still answered
 * (the rest of it from conn_drained); the connection is finished once no
 * whole request is left.
 */
static int
stats_eof(struct evi_conn *c)
{
	struct stats_conn	*sc = evi_conn_data(c);

	sc->peer_eof = 1;
	return (stats_process(c));
}

static void
stats_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct stats_conn	*sc = evi_conn_data(c);

	(void)reason;
	event_free(sc->idle);
	free(sc);
}

static const struct evi_option stats_options[] = {
	{ "max_request", EVI_OPT_SIZE, "8k",
	    "largest request line plus headers; larger gets 431", 0,
	    256, 1024 * 1024, NULL },
	{ "keepalive_timeout", EVI_OPT_DURATION, "15s",
	    "close a keep-alive connection idle this long", 0, 100,
	    3600 * 1000, NULL },
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "stats",
	.description = "the daemon's counters over HTTP: /metrics, "
	    "/metrics.json",
	.protocols = EVI_PROTO_TCP,
	.options = stats_options,
	.init = stats_init,
	.fini = stats_fini,
	.conn_open = stats_open,
	.conn_read = stats_read,
	.conn_drained = stats_process,
	.conn_eof = stats_eof,
	.conn_close = stats_close,
};
