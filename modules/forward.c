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
 * forward: relays each client to a backend, in the spirit of xinetd's
 * "redirect", and the second worked example for module authors (after
 * echo.c): how a module makes its own connections and hands the bytes to
 * the daemon.
 *
 * A client's life here is three steps:
 *
 *   1. conn_open: stop reading the client (evi_conn_pause_read), so its
 *      bytes wait in its kernel until there is somewhere to send them,
 *      and start a connection to a backend with evi_connect.
 *   2. The backend's conn_open (it connected): optionally write a PROXY
 *      protocol header, so the backend sees the real client, then join
 *      the two with evi_relay.  From then on the daemon moves the bytes,
 *      with backpressure both ways and half-closes carried across,
 *      socket to socket through a kernel pipe (splice), without a copy.
 *   3. The backend's conn_close before it connected (refused, timed out,
 *      unreachable): try the next backend; when none is left, close the
 *      client and say which backends were tried and why.
 *
 * Nothing here touches a byte of the traffic, so there are no read,
 * drained or eof callbacks: the relay does it all, and the daemon's
 * connection log and counters show the bytes each way.
 */

#include "config.h"

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evinetd/module.h>

#include "proxy_header.h"

enum fwd_balance { BALANCE_ROUNDROBIN, BALANCE_FIRST, BALANCE_SOURCE };

struct fwd_service {
	enum fwd_balance	 balance;
	int			 send_proxy;	/* 0, or PROXY_HEADER_V1/V2 */
	long long		 timeout_ms;
	size_t			 nbackends;
	size_t			 next;		/* roundrobin */
	time_t			 warned;	/* "no backend" rate limit */
	unsigned long		 quiet;		/* warnings held back */
};

struct fwd_conn {
	struct evi_conn		*client;
	struct evi_conn		*backend;	/* NULL between attempts */
	size_t			 first;		/* the backend tried first */
	size_t			 tried;
	int			 relayed;
	struct evbuffer		*why;		/* "ADDR (reason), ..." */
};

static const struct evi_conn_ops fwd_backend_ops;

/* A word from the config, as an index into the choices listed below. */
static int
fwd_choice(const char *word, const char *const *choices)
{
	int	i;

	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(word, choices[i]) == 0)
			return (i);
	return (0);
}

static int
fwd_init(struct evi_service *svc, void **state)
{
	static const char *const balances[] = { "roundrobin", "first",
	    "source", NULL };
	static const char *const proxies[] = { "no", "v1", "v2", NULL };
	struct fwd_service	*fs;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return (evi_service_fail(svc, "out of memory"));
	fs->balance = fwd_choice(evi_opt_string(svc, "balance"), balances);
	fs->send_proxy = fwd_choice(evi_opt_string(svc, "send_proxy"),
	    proxies);
	fs->timeout_ms = evi_opt_int(svc, "connect_timeout");
	fs->nbackends = evi_opt_address_count(svc, "to");
	*state = fs;
	return (0);
}

static void
fwd_fini(struct evi_service *svc, void *state)
{
	(void)svc;
	free(state);
}

/* Where a client starts: the balance policy's only decision. */
static size_t
fwd_first(struct fwd_service *fs, struct evi_conn *client)
{
	const unsigned char	*p;
	const struct sockaddr	*sa;
	socklen_t		 len;
	uint32_t		 h = 2166136261u;	/* FNV-1a */
	size_t			 i, n;

	switch (fs->balance) {
	case BALANCE_FIRST:
		return (0);
	case BALANCE_ROUNDROBIN:
		return (fs->next++ % fs->nbackends);
	case BALANCE_SOURCE:
		break;
	}
	/* A v4 client on a v6 socket hashes as itself: the last 4 bytes. */
	sa = evi_conn_peer(client, &len);
	if (sa->sa_family == AF_INET6) {
		p = (const unsigned char *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
		if (IN6_IS_ADDR_V4MAPPED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr)) {
			p += 12;
			n = 4;
		}
	} else {
		p = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return (h % fs->nbackends);
}

/* Notes why a backend failed, for the warning if every one does. */
static void
fwd_why(struct fwd_conn *fc, const struct sockaddr *sa, const char *why)
{
	char	host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), host,
	    sizeof(host), serv, sizeof(serv), NI_NUMERICHOST |
	    NI_NUMERICSERV) != 0)
		snprintf(host, sizeof(host), "?");
	evbuffer_add_printf(fc->why, "%s%s%s%s:%s (%s)",
	    evbuffer_get_length(fc->why) > 0 ? ", " : "",
	    sa->sa_family == AF_INET6 ? "[" : "", host,
	    sa->sa_family == AF_INET6 ? "]" : "", serv, why);
}

/*
 * Tries backends from the next untried one until a connect starts; when
 * none is left, closes the client and logs why (at most once a second).
 */
static void
fwd_try(struct fwd_conn *fc)
{
	struct evi_service	*svc = evi_conn_service(fc->client);
	struct fwd_service	*fs = evi_service_state(svc);
	const struct sockaddr	*sa;
	socklen_t		 len;
	time_t			 now;

	while (fc->tried < fs->nbackends) {
		sa = evi_opt_address(svc, "to",
		    (fc->first + fc->tried++) % fs->nbackends, &len);
		fc->backend = evi_connect(svc, sa, len, fs->timeout_ms,
		    &fwd_backend_ops, fc);
		if (fc->backend != NULL)
			return;
		fwd_why(fc, sa, strerror(errno));
	}
	now = time(NULL);
	if (now != fs->warned) {
		evbuffer_add(fc->why, "", 1);
		evi_log(svc, EVI_LOG_WARN, "%s: no backend: %s%s",
		    evi_conn_peer_string(fc->client),
		    (const char *)evbuffer_pullup(fc->why, -1),
		    fs->quiet ? " (and more clients since the last warning)" :
		    "");
		fs->warned = now;
		fs->quiet = 0;
	} else
		fs->quiet++;
	evi_conn_close(fc->client);
}

/* A client arrived: hold its bytes and look for a backend. */
static int
fwd_open(struct evi_conn *c)
{
	struct fwd_service	*fs = evi_service_state(evi_conn_service(c));
	struct fwd_conn		*fc;

	if ((fc = calloc(1, sizeof(*fc))) == NULL ||
	    (fc->why = evbuffer_new()) == NULL) {
		free(fc);
		return (-1);
	}
	fc->client = c;
	fc->first = fwd_first(fs, c);
	evi_conn_set_data(c, fc);
	evi_conn_pause_read(c);
	fwd_try(fc);
	return (0);
}

/* The client is gone: a backend still connecting is no longer wanted. */
static void
fwd_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct fwd_conn	*fc = evi_conn_data(c);

	(void)reason;
	if (fc->backend != NULL) {
		evi_conn_set_data(fc->backend, NULL);
		if (!fc->relayed)
			evi_conn_close(fc->backend);
	}
	evbuffer_free(fc->why);
	free(fc);
}

/* The backend answered: announce the client if asked to, then relay. */
static int
fwd_backend_open(struct evi_conn *b)
{
	struct fwd_conn		*fc = evi_conn_data(b);
	struct fwd_service	*fs;

	fs = evi_service_state(evi_conn_service(b));
	if (fs->send_proxy != 0 && proxy_header(evi_conn_output(b),
	    fs->send_proxy, evi_conn_peer(fc->client, NULL),
	    evi_conn_local(fc->client, NULL)) != 0)
		return (-1);
	if (evi_relay(fc->client, b) != 0)
		return (-1);
	fc->relayed = 1;
	return (0);
}

/*
 * The backend connection ended.  Before the relay that means it never
 * connected (or failed at once): note why and try the next one.  After
 * it, the daemon finishes the client itself.
 */
static void
fwd_backend_close(struct evi_conn *b, enum evi_close_reason reason)
{
	struct fwd_conn	*fc = evi_conn_data(b);

	if (fc == NULL)
		return;		/* the client went first */
	fc->backend = NULL;
	if (fc->relayed)
		return;
	fwd_why(fc, evi_conn_peer(b, NULL), evi_close_reason_string(reason));
	/* Our own doing, not the backend's: trying others would not help. */
	if (reason == EVI_CLOSE_SHUTDOWN || reason == EVI_CLOSE_MODULE ||
	    reason == EVI_CLOSE_MODULE_ERROR)
		evi_conn_close(fc->client);
	else
		fwd_try(fc);
}

static const struct evi_conn_ops fwd_backend_ops = {
	.conn_open = fwd_backend_open,
	.conn_close = fwd_backend_close,
};

static const struct evi_option fwd_options[] = {
	{ "to", EVI_OPT_ADDRESS, NULL,
	    "backends, ADDR:PORT or [ADDR]:PORT, tried in balance order",
	    EVI_OPT_REQUIRED, 1, 0, NULL },
	{ "balance", EVI_OPT_ENUM, "roundrobin",
	    "which backend a client tries first", 0, 0, 0,
	    "roundrobin first source" },
	{ "connect_timeout", EVI_OPT_DURATION, "5s",
	    "how long one backend may take to connect", 0, 1, 3600000,
	    NULL },
	{ "send_proxy", EVI_OPT_ENUM, "no",
	    "PROXY protocol header to the backend", 0, 0, 0, "no v1 v2" },
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "forward",
	.description = "relays TCP connections to backends",
	.protocols = EVI_PROTO_TCP,
	.options = fwd_options,
	.init = fwd_init,
	.fini = fwd_fini,
	.conn_open = fwd_open,
	.conn_close = fwd_close,
};
