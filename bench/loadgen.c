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
 * loadgen: the load generator of evinetd's benchmarks.  One thread, epoll
 * used directly, connections to 127.0.0.1 only, and every byte that comes
 * back is checked.  What a connection sends is a fixed pseudo-random
 * pattern read from a per-connection starting offset, so the expected byte
 * at any position of any stream is known without storing what was sent.
 *
 *	pingpong  C connections each send S bytes, wait for the S bytes to
 *		  come back, and repeat: requests/s and latency percentiles.
 *	stream	  C connections each write W-byte chunks as fast as the server
 *		  takes them while reading the echo back: MB/s echoed.
 *	connrate  C clients each connect, echo 64 bytes and close (with a
 *		  reset, so no TIME_WAIT piles up), again and again:
 *		  connections/s.  With -n N the run ends after N connections
 *		  in all; with -F each closes with a FIN instead, as a real
 *		  client does, so that a program serving it (bench/exec's
 *		  /bin/cat) reads an end of file rather than an error.
 *	idle	  opens C connections, proves each is served with a one-byte
 *		  echo, prints "ready" and holds them until stdin reaches EOF
 *		  or a signal comes, so the runner can read the server's RSS.
 *	sink	  C connections to a chargen server (RFC 864) only read, 64 KiB
 *		  at a time: MB/s received.  The lightest client that still
 *		  checks every byte, to measure a server's workers (it still
 *		  pays the kernel's copy of each byte, as the server does).
 *		  Every connection's stream starts at line 0 of the ring, as
 *		  evinetd's chargen module sends it, so the expected byte at
 *		  stream position p is that of a 7030-byte period at p % 7030.
 *	http	  C keep-alive connections to an HTTP server (evinetd's stats
 *		  module) each send "GET PATH HTTP/1.1" (PATH from -u, by
 *		  default /metrics), read the whole response and send the
 *		  next request: requests/s and latency percentiles.  The
 *		  client's work per request is small (a 42-byte request, one
 *		  read, a scan of the header lines) while the server parses
 *		  the request and formats its whole Prometheus text each time,
 *		  so a 2-core machine can show 2 server workers at work.  Each
 *		  response must have the status line "HTTP/1.1 200 ...", one
 *		  Content-Length, exactly that many bytes of body, no
 *		  "Connection: close" or Transfer-Encoding, and a body that is
 *		  Prometheus text (it starts with "# HELP " and ends with a
 *		  newline); nothing may come before a request or after its
 *		  response.  A response is kept whole in a per-connection
 *		  buffer of at most HTTP_MAX bytes; a longer one is fatal.
 *
 * Each run ends with one line of key=value pairs on stdout.  With -S the
 * run is synchronised with a driver: once the connections are up loadgen
 * prints "ready" and starts only when a line arrives on stdin; after the
 * result line it keeps the connections until stdin reaches EOF.  That lets
 * the driver sample the server's CPU time around exactly the traffic.
 * Durations are bounded; a verification failure or an unexpected close is
 * fatal (exit 1), because a benchmark of a wrong server means nothing.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_LEN	65521		/* a prime, so no size lines up */
#define READ_BUF	65536
#define MAX_EVENTS	512
#define MAX_SECONDS	600
#define MAX_CONNS	1000000
#define CONNECT_INFLIGHT 128		/* well under the listen backlog */
#define DRAIN_NS	(5 * 1000000000ULL)
#define SETUP_NS	(60 * 1000000000ULL)
#define STREAM_WRITES	4		/* writes per readiness event */
#define STREAM_READS	4		/* reads per readiness event */
#define CONNRATE_SIZE	64
#define CHARGEN_FIRST	0x20		/* the ring of RFC 864: ' ' to '~' */
#define CHARGEN_CHARS	95
#define CHARGEN_LINE	72
#define CHARGEN_PERIOD	(CHARGEN_CHARS * (CHARGEN_LINE + 2))
#define NS		1000000000ULL
#define HTTP_MAX	(256 * 1024)	/* a whole response, headers and body */
#define HTTP_FIRST	8192		/* a buffer's first size */
#define HTTP_PATH_MAX	1024
#define HTTP_BODY_START	"# HELP "	/* how stats' /metrics always begins */

enum mode {
	MODE_PINGPONG, MODE_STREAM, MODE_CONNRATE, MODE_IDLE, MODE_SINK,
	MODE_HTTP
};

enum conn_state {
	CS_FREE,		/* no socket */
	CS_CONNECTING,		/* connect() in progress */
	CS_SETUP,		/* idle: waiting for the one-byte echo */
	CS_READY,		/* connected, waiting for the start */
	CS_RUNNING,		/* in traffic */
	CS_DONE			/* finished its share, socket still open */
};

struct conn {
	int		 fd;
	enum conn_state	 state;
	uint32_t	 events;	/* the epoll mask now registered */
	uint64_t	 base;		/* pattern offset of the first byte */
	uint64_t	 sent;		/* bytes written */
	uint64_t	 rcvd;		/* bytes read back and verified */
	uint64_t	 goal;		/* write up to here, then wait */
	uint64_t	 t_req;		/* when the current request started */

	/* http: sent counts the request's bytes, rcvd the responses'. */
	char		*hbuf;		/* the response so far */
	size_t		 hlen, hcap;
	size_t		 need;		/* its whole length, once known */
	size_t		 hdr;		/* where its body starts, then */
	uint64_t	 nresp;		/* responses on this connection */
};

/* Everything a run needs, passed around instead of globals. */
struct loadgen {
	enum mode	 mode;
	const char	*mode_name;
	int		 port;
	int		 nconns;
	int		 nsources;	/* -b: 127.0.0.2..; 0: 127.0.0.1 */
	size_t		 size;
	double		 seconds;
	long long	 limit;		/* pingpong: total requests, or -1 */
	int		 sync;
	int		 fin;		/* connrate: close, do not reset */
	const char	*path;		/* http: the target */
	char		*req;		/* http: the one request, sent again */
	size_t		 reqlen;
	int		 epfd;
	struct sockaddr_in sin;
	struct conn	*conns;

	int		 opened;	/* connections started in setup */
	int		 inflight;	/* connects not yet established */
	int		 ready;		/* connections established */
	int		 active;	/* connections with work left */
	int		 stopping;	/* no new requests, drain */
	uint64_t	 t_start, t_end, deadline;

	uint64_t	 issued;
	uint64_t	 requests;	/* completed requests or connections */
	uint64_t	 bytes;		/* bytes echoed and verified */
	uint64_t	 serial;	/* connrate: connections started */
	uint64_t	 early;		/* idle: closed by the server */

	uint32_t	*lat;		/* latencies in ns */
	size_t		 nlat, lat_cap;
};

static volatile sig_atomic_t	 got_signal;
static unsigned char		 pattern[2 * PATTERN_LEN];
static unsigned char		 period[2 * CHARGEN_PERIOD];
static unsigned char		 rbuf[READ_BUF];

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "loadgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen pingpong -p PORT [-c CONNS] [-s SIZE] "
	    "[-d SECONDS | -n REQUESTS] [-S]\n"
	    "       loadgen stream   -p PORT [-c CONNS] [-s WRITE] "
	    "[-d SECONDS] [-S]\n"
	    "       loadgen connrate -p PORT [-c CLIENTS] "
	    "[-d SECONDS | -n CONNECTIONS] [-S]\n"
	    "                        [-b SOURCES] [-F]\n"
	    "       loadgen idle     -p PORT [-c CONNS] [-d MAXHOLD]\n"
	    "       loadgen sink     -p PORT [-c CONNS] [-d SECONDS] [-S]\n"
	    "       loadgen http     -p PORT [-c CONNS] [-d SECONDS] [-S] "
	    "[-u PATH]\n"
	    "Connects to 127.0.0.1:PORT only; prints one key=value line.\n"
	    "sink reads from a chargen (RFC 864) server, http scrapes "
	    "Prometheus text from\nevinetd's stats module (PATH defaults to "
	    "/metrics); the others want an echo\nserver.\n");
	exit(2);
}

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec);
}

/* Parses a whole decimal number within bounds, or dies naming the flag. */
static long long
number(const char *s, long long lo, long long hi, int flag)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("-%c %s: want a whole number from %lld to %lld", flag, s,
		    lo, hi);
	return (v);
}

/* Parses a duration in seconds, fractions allowed, up to MAX_SECONDS. */
static double
seconds(const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0.0) ||
	    v > MAX_SECONDS)
		die("-d %s: want seconds, more than 0 and at most %d", s,
		    MAX_SECONDS);
	return (v);
}

/* Fills the pattern twice over, so any offset has PATTERN_LEN bytes after. */
static void
pattern_init(void)
{
	uint64_t	x = 0x9e3779b97f4a7c15ULL;
	size_t		i;

	for (i = 0; i < PATTERN_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pattern[i] = (unsigned char)(x >> 24);
	}
	memcpy(pattern + PATTERN_LEN, pattern, PATTERN_LEN);
}

/* Builds chargen's period twice over, so any offset has a period after. */
static void
period_init(void)
{
	unsigned char	*p = period;
	int		 line, col;

	for (line = 0; line < 2 * CHARGEN_CHARS; line++) {
		for (col = 0; col < CHARGEN_LINE; col++)
			*p++ = (unsigned char)(CHARGEN_FIRST +
			    (line + col) % CHARGEN_CHARS);
		*p++ = '\r';
		*p++ = '\n';
	}
}

/*
 * Compares n received bytes with a periodic reference stream (ref holds two
 * periods, so any offset has a whole period after it) from stream offset
 * off; the first difference is fatal, with its offset.
 */
static void
check_bytes(struct loadgen *lg, struct conn *c, const unsigned char *p,
    size_t n, const unsigned char *ref, size_t len, uint64_t off,
    const char *hint)
{
	size_t	done = 0, chunk, i, at;

	while (done < n) {
		at = (size_t)((off + done) % len);
		chunk = n - done;
		if (chunk > len)
			chunk = len;
		if (memcmp(p + done, ref + at, chunk) != 0) {
			for (i = 0; p[done + i] == ref[at + i]; i++)
				;
			die("connection %d: wrong byte at stream offset %llu: "
			    "expected 0x%02x, got 0x%02x%s", (int)(c - lg->conns),
			    (unsigned long long)(c->rcvd + done + i),
			    ref[at + i], p[done + i], hint);
		}
		done += chunk;
	}
	c->rcvd += n;
	lg->bytes += n;
}

/* Sink: checks received bytes against chargen's stream from line 0. */
static void
sink_verify(struct loadgen *lg, struct conn *c, const unsigned char *p,
    size_t n)
{
	check_bytes(lg, c, p, n, period, CHARGEN_PERIOD, c->rcvd,
	    " (is this a chargen server?)");
}

/* Checks received bytes against the pattern at the stream's offset. */
static void
verify(struct loadgen *lg, struct conn *c, const unsigned char *p, size_t n)
{
	if (c->rcvd + n > c->sent)
		die("connection %d: %zu bytes back but only %llu of %llu "
		    "sent are outstanding (%s)", (int)(c - lg->conns), n,
		    (unsigned long long)(c->sent - c->rcvd),
		    (unsigned long long)c->sent, lg->mode_name);
	check_bytes(lg, c, p, n, pattern, PATTERN_LEN, c->base + c->rcvd, "");
}

/* Registers or changes a connection's epoll mask, skipping no-op calls. */
static void
ep_set(struct loadgen *lg, struct conn *c, uint32_t events)
{
	struct epoll_event	ev;

	if (c->events == events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(lg->epfd, c->events == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->events = events;
}

/* Closes with a FIN, or with a reset (RESET): no TIME_WAIT then. */
static void
conn_close(struct conn *c, int reset)
{
	struct linger	l = { 1, 0 };

	if (c->fd == -1)
		return;
	if (reset)
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l,
		    sizeof(l));
	close(c->fd);
	c->fd = -1;
	c->events = 0;
	c->state = CS_FREE;
}

/* Closes with a reset: no TIME_WAIT on either side, no port exhaustion. */
static void
conn_reset(struct conn *c)
{
	conn_close(c, 1);
}

/*
 * With -b N, client slot i connects from 127.0.0.(2 + i mod N), so a
 * server that steers or limits by source address sees N sources.
 */
static void
conn_bind_source(struct loadgen *lg, struct conn *c, int fd)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000002U +
	    (uint32_t)((c - lg->conns) % lg->nsources));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind 127.0.0.%d: %s", 2 + (int)((c - lg->conns) %
		    lg->nsources), strerror(errno));
}

/* Starts a non-blocking connect to 127.0.0.1:port; the caller registers. */
static void
conn_connect(struct loadgen *lg, struct conn *c)
{
	int	fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket: %s (raise the descriptor limit?)",
		    strerror(errno));
	if (lg->mode != MODE_CONNRATE)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
	if (lg->nsources > 0)
		conn_bind_source(lg, c, fd);
	c->fd = fd;
	c->events = 0;
	c->sent = c->rcvd = c->goal = 0;
	if (connect(fd, (struct sockaddr *)&lg->sin, sizeof(lg->sin)) == -1 &&
	    errno != EINPROGRESS)
		die("connect 127.0.0.1:%d: %s", lg->port, strerror(errno));
	c->state = CS_CONNECTING;
}

/* A connect finished: did it work? */
static void
conn_check_connect(struct loadgen *lg, struct conn *c)
{
	int		error = 0;
	socklen_t	len = sizeof(error);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0)
		die("connect 127.0.0.1:%d: %s", lg->port, strerror(error));
}

/*
 * One write of what a connection has to send: the bytes written, or 0 when
 * the kernel pushes back; any other failure is fatal.
 */
static size_t
conn_send(struct loadgen *lg, struct conn *c, const void *buf, size_t n)
{
	ssize_t	w;

	for (;;) {
		w = write(c->fd, buf, n);
		if (w > 0)
			return ((size_t)w);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN)
			return (0);
		die("connection %d: write: %s", (int)(c - lg->conns),
		    w == 0 ? "wrote nothing" : strerror(errno));
	}
}

/*
 * Writes from the pattern until goal is reached or the kernel pushes back,
 * at most max_writes calls; EPOLLOUT is wanted only while data waits.
 */
static void
conn_write(struct loadgen *lg, struct conn *c, int max_writes)
{
	uint64_t	off;
	size_t		n, w;
	int		i;

	for (i = 0; i < max_writes && c->sent < c->goal; i++) {
		off = (c->base + c->sent) % PATTERN_LEN;
		n = (size_t)(c->goal - c->sent);
		if (n > lg->size)
			n = lg->size;
		w = conn_send(lg, c, pattern + off, n);
		c->sent += (uint64_t)w;
		if (w < n)
			break;
	}
	ep_set(lg, c, c->sent < c->goal ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Records one request's latency; sorted once, at the end of the run. */
static void
lat_add(struct loadgen *lg, uint64_t ns)
{
	if (lg->nlat == lg->lat_cap) {
		lg->lat_cap = lg->lat_cap ? lg->lat_cap * 2 : 65536;
		lg->lat = realloc(lg->lat, lg->lat_cap * sizeof(*lg->lat));
		if (lg->lat == NULL)
			die("out of memory for latency samples");
	}
	lg->lat[lg->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Pingpong: sends the next request if the run still wants one. */
static void
pp_next(struct loadgen *lg, struct conn *c)
{
	if (lg->stopping || (lg->limit >= 0 &&
	    lg->issued >= (uint64_t)lg->limit)) {
		c->state = CS_DONE;
		lg->active--;
		ep_set(lg, c, EPOLLIN);
		return;
	}
	lg->issued++;
	c->state = CS_RUNNING;
	c->goal = c->sent + lg->size;
	c->t_req = now_ns();
	conn_write(lg, c, INT_MAX);
}

/* Connrate: opens the next connection of a client slot, or retires it. */
static void
cr_next(struct loadgen *lg, struct conn *c)
{
	if (lg->stopping || (lg->limit >= 0 &&
	    lg->serial >= (uint64_t)lg->limit)) {
		c->state = CS_DONE;
		lg->active--;
		return;
	}
	c->base = (lg->serial++ * 7919) % PATTERN_LEN;
	conn_connect(lg, c);
	/* On loopback the handshake is often done already: try at once. */
	c->state = CS_RUNNING;
	c->goal = CONNRATE_SIZE;
	conn_write(lg, c, 1);
}

/* HTTP: writes what is left of the request; EPOLLOUT only while some is. */
static void
http_send(struct loadgen *lg, struct conn *c)
{
	size_t	w;

	while (c->sent < lg->reqlen) {
		w = conn_send(lg, c, lg->req + c->sent, lg->reqlen -
		    (size_t)c->sent);
		if (w == 0)
			break;
		c->sent += (uint64_t)w;
	}
	ep_set(lg, c, c->sent < lg->reqlen ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* HTTP: sends the next request if the run still wants one. */
static void
http_next(struct loadgen *lg, struct conn *c)
{
	if (lg->stopping) {
		c->state = CS_DONE;
		lg->active--;
		ep_set(lg, c, EPOLLIN);
		return;
	}
	lg->issued++;
	c->state = CS_RUNNING;
	c->sent = 0;
	c->hlen = 0;
	c->need = 0;
	c->t_req = now_ns();
	http_send(lg, c);
}

/* Does a comma-separated header value list the token, in any case? */
static int
http_has_token(const char *v, const char *end, const char *token)
{
	size_t		 tlen = strlen(token), n;
	const char	*e;

	while (v < end) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		for (e = v; e < end && *e != ','; e++)
			;
		for (n = (size_t)(e - v); n > 0 && (v[n - 1] == ' ' ||
		    v[n - 1] == '\t'); n--)
			;
		if (n == tlen && strncasecmp(v, token, tlen) == 0)
			return (1);
		v = e;
	}
	return (0);
}

/* The offset of the first CR LF at or after from, below end, or -1. */
static ssize_t
http_crlf(const char *buf, size_t from, size_t end)
{
	const char	*p;

	while (from + 1 < end) {
		if ((p = memchr(buf + from, '\r', end - from - 1)) == NULL)
			return (-1);
		from = (size_t)(p - buf);
		if (buf[from + 1] == '\n')
			return ((ssize_t)from);
		from++;
	}
	return (-1);
}

/*
 * Once the headers are all in (the first CR LF CR LF, looked for from a
 * few bytes before what the last read added), checks the status line and
 * the headers and learns the response's whole length.
 */
static void
http_headers(struct loadgen *lg, struct conn *c, size_t old)
{
	const char	*b = c->hbuf, *v, *ve, *d, *colon;
	size_t		 hend, p, n;
	ssize_t		 e;
	unsigned long long cl = 0;
	int		 id = (int)(c - lg->conns), have_cl = 0;

	for (p = old > 3 ? old - 3 : 0;; p = (size_t)e + 2) {
		if ((e = http_crlf(b, p, c->hlen)) == -1)
			return;			/* not all in yet */
		if ((size_t)e + 3 < c->hlen && b[e + 2] == '\r' &&
		    b[e + 3] == '\n')
			break;
	}
	hend = (size_t)e + 2;		/* the end of the last header line */

	e = http_crlf(b, 0, hend);	/* found: hend ends a line */
	if ((size_t)e < 13 || memcmp(b, "HTTP/1.1 200 ", 13) != 0)
		die("connection %d: status line \"%.*s\" for GET %s, not "
		    "\"HTTP/1.1 200 ...\" (is this evinetd's stats module?)",
		    id, (int)((size_t)e < 200 ? (size_t)e : 200), b, lg->path);
	for (p = (size_t)e + 2; p < hend; p = (size_t)e + 2) {
		e = http_crlf(b, p, hend);
		n = (size_t)e - p;
		if ((colon = memchr(b + p, ':', n)) == NULL || colon == b + p)
			die("connection %d: malformed header line \"%.*s\"",
			    id, (int)(n < 200 ? n : 200), b + p);
		for (v = colon + 1; v < b + e && (*v == ' ' || *v == '\t');
		    v++)
			;
		for (ve = b + e; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		    ve--)
			;
		n = (size_t)(colon - (b + p));
#define IS(name) (n == sizeof(name) - 1 && \
	strncasecmp(b + p, name, sizeof(name) - 1) == 0)
		if (IS("Content-Length")) {
			if (have_cl++)
				die("connection %d: more than one "
				    "Content-Length", id);
			if (v == ve)
				die("connection %d: empty Content-Length", id);
			for (d = v; d < ve; d++) {
				if (*d < '0' || *d > '9' || cl > HTTP_MAX)
					die("connection %d: Content-Length "
					    "\"%.*s\" is not a number up to "
					    "%d", id, (int)(ve - v), v,
					    HTTP_MAX);
				cl = cl * 10 + (unsigned long long)(*d - '0');
			}
		} else if (IS("Transfer-Encoding"))
			die("connection %d: Transfer-Encoding \"%.*s\" is not "
			    "understood here; want Content-Length", id,
			    (int)(ve - v), v);
		else if (IS("Connection") && http_has_token(v, ve, "close"))
			die("connection %d: the server closes after response "
			    "%llu (Connection: close); keep-alive is wanted",
			    id, (unsigned long long)c->nresp + 1);
#undef IS
	}
	if (!have_cl)
		die("connection %d: response %llu has no Content-Length", id,
		    (unsigned long long)c->nresp + 1);
	if (hend + 2 + cl > HTTP_MAX)
		die("connection %d: a response of %llu bytes (Content-Length "
		    "%llu) is more than the %d bytes a connection keeps", id,
		    (unsigned long long)(hend + 2 + cl), cl, HTTP_MAX);
	c->hdr = hend + 2;
	c->need = c->hdr + (size_t)cl;
}

/* HTTP: the response is whole; checks its body. */
static void
http_body(struct loadgen *lg, struct conn *c)
{
	const char	*body = c->hbuf + c->hdr;
	size_t		 blen = c->need - c->hdr;

	if (blen < sizeof(HTTP_BODY_START) || memcmp(body, HTTP_BODY_START,
	    sizeof(HTTP_BODY_START) - 1) != 0 || body[blen - 1] != '\n')
		die("connection %d: response %llu: a body of %zu bytes that "
		    "is not Prometheus text (it should start with \"%s\" and "
		    "end with a newline): \"%.*s\"", (int)(c - lg->conns),
		    (unsigned long long)c->nresp + 1, blen, HTTP_BODY_START,
		    (int)(blen < 60 ? blen : 60), body);
}

/* HTTP: reads into the connection's buffer; a whole response moves on. */
static void
http_readable(struct loadgen *lg, struct conn *c)
{
	size_t	old, cap;
	ssize_t	n;
	int	id = (int)(c - lg->conns);

	for (;;) {
		if (c->hlen == c->hcap) {
			if (c->hcap >= HTTP_MAX)
				die("connection %d: no end of the headers in "
				    "the first %d bytes of response %llu", id,
				    HTTP_MAX, (unsigned long long)c->nresp + 1);
			cap = c->hcap ? c->hcap * 2 : HTTP_FIRST;
			if (c->need > cap)
				cap = c->need;
			if (cap > HTTP_MAX)
				cap = HTTP_MAX;
			if ((c->hbuf = realloc(c->hbuf, cap)) == NULL)
				die("out of memory for a response buffer");
			c->hcap = cap;
		}
		n = read(c->fd, c->hbuf + c->hlen, c->hcap - c->hlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			die("connection %d: %s by the server after %llu "
			    "responses%s, %zu bytes into the next (http %s)",
			    id, n == 0 ? "closed" : strerror(errno),
			    (unsigned long long)c->nresp, c->state ==
			    CS_RUNNING ? "" : " and no request outstanding",
			    c->hlen, lg->path);
		if (c->state != CS_RUNNING)
			die("connection %d: %zd bytes from the server with no "
			    "request outstanding", id, n);
		old = c->hlen;
		c->hlen += (size_t)n;
		lg->bytes += (uint64_t)n;
		if (c->need == 0)
			http_headers(lg, c, old);
		if (c->need != 0 && c->need > c->hcap) {
			/* Room for the whole response, read on. */
			if ((c->hbuf = realloc(c->hbuf, c->need)) == NULL)
				die("out of memory for a response buffer");
			c->hcap = c->need;
		}
		if (c->need == 0 || c->hlen < c->need)
			continue;
		if (c->hlen > c->need)
			die("connection %d: %zu bytes after response %llu of "
			    "%zu bytes, before the next request", id,
			    c->hlen - c->need, (unsigned long long)c->nresp + 1,
			    c->need);
		http_body(lg, c);
		c->nresp++;
		c->rcvd += c->hlen;
		lg->requests++;
		lat_add(lg, now_ns() - c->t_req);
		http_next(lg, c);
		return;
	}
}

/* Reads what is there, verifies it, and moves the connection along. */
static void
conn_readable(struct loadgen *lg, struct conn *c)
{
	ssize_t	n;
	int	i;

	for (i = 0; i < STREAM_READS; i++) {
		n = read(c->fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			if (lg->mode == MODE_SINK)
				sink_verify(lg, c, rbuf, (size_t)n);
			else
				verify(lg, c, rbuf, (size_t)n);
			if ((size_t)n < sizeof(rbuf))
				break;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (c->state == CS_DONE && lg->mode == MODE_IDLE) {
			lg->early++;
			conn_reset(c);
			return;
		}
		die("connection %d: %s by the server after %llu bytes %s "
		    "(%s)", (int)(c - lg->conns), n == 0 ? "closed" :
		    strerror(errno), (unsigned long long)c->rcvd,
		    lg->mode == MODE_SINK ? "received" : "echoed",
		    lg->mode_name);
	}
	if (c->rcvd < c->goal || c->state != CS_RUNNING) {
		if (c->state == CS_SETUP && c->rcvd == c->goal) {
			c->state = CS_DONE;
			lg->inflight--;
			lg->ready++;
		}
		return;
	}
	switch (lg->mode) {
	case MODE_PINGPONG:
		lg->requests++;
		lat_add(lg, now_ns() - c->t_req);
		pp_next(lg, c);
		break;
	case MODE_STREAM:
		/* Drained after the deadline. */
		c->state = CS_DONE;
		lg->active--;
		break;
	case MODE_CONNRATE:
		lg->requests++;
		conn_close(c, !lg->fin);
		cr_next(lg, c);
		break;
	case MODE_IDLE:
	case MODE_SINK:
	case MODE_HTTP:
		break;
	}
}

/* Dispatches one epoll event for a connection. */
static void
conn_event(struct loadgen *lg, struct conn *c, uint32_t events)
{
	int	fd;

	if (c->state == CS_CONNECTING) {
		conn_check_connect(lg, c);
		if (lg->mode == MODE_IDLE) {
			c->state = CS_SETUP;
			c->goal = 1;
			conn_write(lg, c, 1);
		} else {
			c->state = CS_READY;
			lg->inflight--;
			lg->ready++;
			ep_set(lg, c, EPOLLIN);
		}
		return;
	}
	if (lg->mode == MODE_HTTP) {
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			http_readable(lg, c);
		if ((events & EPOLLOUT) && c->state == CS_RUNNING &&
		    c->sent < lg->reqlen)
			http_send(lg, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		fd = c->fd;
		conn_readable(lg, c);
		if (c->fd != fd)
			return;		/* closed, or a new connection */
	}
	if ((events & EPOLLOUT) && c->sent < c->goal) {
		if (c->state == CS_RUNNING && lg->mode == MODE_CONNRATE &&
		    c->sent == 0)
			conn_check_connect(lg, c);
		conn_write(lg, c, lg->mode == MODE_STREAM ? STREAM_WRITES :
		    INT_MAX);
	}
}

/* Stream: keeps a connection's goal ahead so that it always writes. */
static void
stream_refill(struct loadgen *lg, struct conn *c)
{
	if (c->state == CS_RUNNING && !lg->stopping &&
	    c->goal - c->sent < lg->size) {
		c->goal = c->sent + 64 * lg->size;
		ep_set(lg, c, EPOLLIN | EPOLLOUT);
	}
}

/* Waits for events and handles them; returns after one batch. */
static void
poll_once(struct loadgen *lg, int timeout_ms)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct conn		*c;
	int			 n, i;

	n = epoll_wait(lg->epfd, evs, MAX_EVENTS, timeout_ms);
	if (n == -1) {
		if (errno == EINTR)
			return;
		die("epoll_wait: %s", strerror(errno));
	}
	for (i = 0; i < n; i++) {
		c = evs[i].data.ptr;
		if (c == NULL) {
			/* stdin, in the idle hold. */
			if (read(STDIN_FILENO, rbuf, sizeof(rbuf)) <= 0)
				got_signal = 1;
			continue;
		}
		conn_event(lg, c, evs[i].events);
		if (lg->mode == MODE_STREAM && c->fd != -1)
			stream_refill(lg, c);
	}
}

/* Milliseconds until t, for epoll_wait; at least 0, at most a second. */
static int
ms_until(uint64_t t)
{
	uint64_t	now = now_ns();

	if (t <= now)
		return (0);
	if (t - now >= NS)
		return (1000);
	return ((int)((t - now + 999999) / 1000000));
}

/* Opens all connections, CONNECT_INFLIGHT at a time. */
static void
setup(struct loadgen *lg)
{
	uint64_t	deadline = now_ns() + SETUP_NS;

	while (lg->ready < lg->nconns) {
		while (lg->opened < lg->nconns &&
		    lg->inflight < CONNECT_INFLIGHT) {
			lg->conns[lg->opened].base = ((uint64_t)lg->opened *
			    7919) % PATTERN_LEN;
			conn_connect(lg, &lg->conns[lg->opened]);
			ep_set(lg, &lg->conns[lg->opened], EPOLLOUT);
			lg->opened++;
			lg->inflight++;
		}
		if (got_signal)
			die("interrupted while connecting");
		if (now_ns() >= deadline)
			die("only %d of %d connections up after %llu s",
			    lg->ready, lg->nconns,
			    (unsigned long long)(SETUP_NS / NS));
		poll_once(lg, ms_until(deadline));
	}
}

/* Reads stdin until a newline (go) or EOF (stop), blocking. */
static int
wait_stdin(int want_eof)
{
	char	ch;
	ssize_t	n;

	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
		if (n == -1 && errno == EINTR) {
			if (got_signal)
				return (-1);
			continue;
		}
		if (n <= 0)
			return (-1);
		if (ch == '\n' && !want_eof)
			return (0);
	}
}

static void
say_ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/* The nearest-rank percentile q of the sorted samples, in microseconds. */
static double
percentile(const struct loadgen *lg, double q)
{
	size_t	i;

	if (lg->nlat == 0)
		return (0.0);
	i = (size_t)(q * (double)lg->nlat + 0.999999);
	if (i > 0)
		i--;
	if (i >= lg->nlat)
		i = lg->nlat - 1;
	return (lg->lat[i] / 1000.0);
}

/* The client's own CPU seconds, to spot a run the load generator limits. */
static double
self_cpu(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return (0.0);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

/* The deadline passed: no new requests, streams stop writing and drain. */
static void
run_stop(struct loadgen *lg)
{
	struct conn	*c;
	int		 i;

	lg->stopping = 1;
	if (lg->mode == MODE_SINK) {
		/* An endless stream: stop reading, nothing to drain. */
		for (i = 0; i < lg->nconns; i++)
			lg->conns[i].state = CS_DONE;
		lg->active = 0;
		return;
	}
	if (lg->mode != MODE_STREAM)
		return;
	for (i = 0; i < lg->nconns; i++) {
		c = &lg->conns[i];
		if (c->state != CS_RUNNING)
			continue;
		c->goal = c->sent;
		if (c->rcvd == c->goal) {
			c->state = CS_DONE;
			lg->active--;
		}
		ep_set(lg, c, EPOLLIN);
	}
}

/* Runs the traffic of the timed modes, then drains what is in flight. */
static void
run_traffic(struct loadgen *lg)
{
	struct conn	*c;
	uint64_t	 drain_end = 0;
	int		 i;

	lg->t_start = now_ns();
	lg->deadline = lg->t_start + (uint64_t)(lg->seconds * NS);
	lg->active = lg->nconns;
	lg->bytes = 0;		/* sink: what setup read is not traffic */
	for (i = 0; i < lg->nconns; i++) {
		c = &lg->conns[i];
		switch (lg->mode) {
		case MODE_PINGPONG:
			pp_next(lg, c);
			break;
		case MODE_STREAM:
			c->state = CS_RUNNING;
			stream_refill(lg, c);
			conn_write(lg, c, STREAM_WRITES);
			break;
		case MODE_CONNRATE:
			cr_next(lg, c);
			break;
		case MODE_SINK:
			c->state = CS_RUNNING;
			break;
		case MODE_HTTP:
			http_next(lg, c);
			break;
		case MODE_IDLE:
			break;
		}
	}
	while (lg->active > 0) {
		if (!lg->stopping && (now_ns() >= lg->deadline || got_signal)) {
			run_stop(lg);
			drain_end = now_ns() + DRAIN_NS;
			if (lg->active == 0)
				break;
		}
		if (lg->stopping && now_ns() >= drain_end)
			die("%d connections still wait for their %s %llu s "
			    "after the end", lg->active, lg->mode == MODE_HTTP ?
			    "response" : "echo",
			    (unsigned long long)(DRAIN_NS / NS));
		poll_once(lg, ms_until(lg->stopping ? drain_end :
		    lg->deadline));
	}
	lg->t_end = now_ns();
	if (lg->mode == MODE_SINK && lg->bytes == 0)
		die("%d connections received nothing in %.3f s (is this a "
		    "chargen server?)", lg->nconns, lg->seconds);
}

/* Prints the run's one result line. */
static void
report(struct loadgen *lg)
{
	double	secs = (lg->t_end - lg->t_start) / 1e9;

	if (secs <= 0)
		secs = 1e-9;
	printf("mode=%s port=%d conns=%d", lg->mode_name, lg->port,
	    lg->nconns);
	switch (lg->mode) {
	case MODE_PINGPONG:
		qsort(lg->lat, lg->nlat, sizeof(*lg->lat), cmp_u32);
		printf(" size=%zu seconds=%.3f requests=%llu rps=%.0f "
		    "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f",
		    lg->size, secs, (unsigned long long)lg->requests,
		    lg->requests / secs, percentile(lg, 0.50),
		    percentile(lg, 0.99), percentile(lg, 0.999),
		    percentile(lg, 1.0));
		break;
	case MODE_HTTP:
		qsort(lg->lat, lg->nlat, sizeof(*lg->lat), cmp_u32);
		printf(" path=%s seconds=%.3f requests=%llu rps=%.0f "
		    "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
		    "bytes=%llu response_bytes=%.0f", lg->path, secs,
		    (unsigned long long)lg->requests, lg->requests / secs,
		    percentile(lg, 0.50), percentile(lg, 0.99),
		    percentile(lg, 0.999), percentile(lg, 1.0),
		    (unsigned long long)lg->bytes, lg->requests ?
		    (double)lg->bytes / (double)lg->requests : 0.0);
		break;
	case MODE_STREAM:
		printf(" write=%zu seconds=%.3f bytes=%llu mbps=%.1f",
		    lg->size, secs, (unsigned long long)lg->bytes,
		    lg->bytes / secs / 1e6);
		break;
	case MODE_CONNRATE:
		printf(" size=%d seconds=%.3f connections=%llu cps=%.0f",
		    CONNRATE_SIZE, secs, (unsigned long long)lg->requests,
		    lg->requests / secs);
		break;
	case MODE_IDLE:
		printf(" setup_seconds=%.3f closed_early=%llu", secs,
		    (unsigned long long)lg->early);
		break;
	case MODE_SINK:
		printf(" read=%d seconds=%.3f bytes=%llu mbps=%.1f", READ_BUF,
		    secs, (unsigned long long)lg->bytes,
		    lg->bytes / secs / 1e6);
		break;
	}
	printf(" client_cpu=%.3f verified=yes\n", self_cpu());
	fflush(stdout);
}

/* Idle: holds the connections until stdin's EOF, a signal, or the cap. */
static void
hold(struct loadgen *lg)
{
	struct epoll_event	ev;
	uint64_t		end = now_ns() + (uint64_t)(lg->seconds * NS);

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == -1)
		die("epoll_ctl stdin: %s", strerror(errno));
	say_ready();
	while (!got_signal && now_ns() < end)
		poll_once(lg, ms_until(end));
}

/* HTTP: checks -u and builds the one request every connection sends. */
static void
http_request(struct loadgen *lg)
{
	const char	*p;
	int		 n;

	if (lg->path[0] != '/' || strlen(lg->path) > HTTP_PATH_MAX)
		die("-u %s: want an absolute path (starting with \"/\") of "
		    "at most %d characters", lg->path, HTTP_PATH_MAX);
	for (p = lg->path; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			die("-u: a path has no spaces or control characters");
	}
	n = snprintf(NULL, 0, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	    lg->path);
	if (n < 0 || (lg->req = malloc((size_t)n + 1)) == NULL)
		die("out of memory for the request");
	(void)snprintf(lg->req, (size_t)n + 1,
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", lg->path);
	lg->reqlen = (size_t)n;
}

/* Lifts the descriptor soft limit to the hard one; checks it is enough. */
static void
raise_nofile(int need)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need)
		die("%d connections need %d descriptors but the limit is %llu "
		    "(raise it with ulimit -Hn as root)", need - 16, need,
		    (unsigned long long)rl.rlim_cur);
}

/* Picks the mode named by the first argument and its defaults. */
static void
parse_mode(struct loadgen *lg, const char *name)
{
	static const struct {
		const char	*name;
		enum mode	 mode;
		int		 nconns;
		size_t		 size;
		int		 seconds;
	} modes[] = {
		{ "pingpong", MODE_PINGPONG, 1, 64, 5 },
		{ "stream", MODE_STREAM, 1, 16384, 5 },
		{ "connrate", MODE_CONNRATE, 8, CONNRATE_SIZE, 5 },
		{ "idle", MODE_IDLE, 10000, 64, MAX_SECONDS },
		{ "sink", MODE_SINK, 16, 64, 5 },
		{ "http", MODE_HTTP, 16, 64, 5 },
	};
	size_t	i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(name, modes[i].name) != 0)
			continue;
		lg->mode_name = modes[i].name;
		lg->mode = modes[i].mode;
		lg->nconns = modes[i].nconns;
		lg->size = modes[i].size;
		lg->seconds = modes[i].seconds;
		if (lg->mode == MODE_HTTP)
			lg->path = "/metrics";
		return;
	}
	usage();
}

/* Reads the flags, and refuses the ones that make no sense for the mode. */
static void
parse_args(struct loadgen *lg, int argc, char *argv[])
{
	int	ch, have_d = 0, have_s = 0, have_u = 0;

	while ((ch = getopt(argc, argv, "b:c:d:Fn:p:s:Su:")) != -1) {
		switch (ch) {
		case 'b':
			lg->nsources = (int)number(optarg, 1, 250, ch);
			break;
		case 'c':
			lg->nconns = (int)number(optarg, 1, MAX_CONNS, ch);
			break;
		case 'd':
			lg->seconds = seconds(optarg);
			have_d = 1;
			break;
		case 'F':
			lg->fin = 1;
			break;
		case 'n':
			lg->limit = number(optarg, 0, LLONG_MAX / 2, ch);
			break;
		case 'p':
			lg->port = (int)number(optarg, 1, 65535, ch);
			break;
		case 's':
			lg->size = (size_t)number(optarg, 1, PATTERN_LEN, ch);
			have_s = 1;
			break;
		case 'S':
			lg->sync = 1;
			break;
		case 'u':
			lg->path = optarg;
			have_u = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || lg->port == -1)
		usage();
	if (lg->limit >= 0 && lg->mode != MODE_PINGPONG &&
	    lg->mode != MODE_CONNRATE)
		die("-n is for pingpong and connrate only");
	if (lg->fin && lg->mode != MODE_CONNRATE)
		die("-F is for connrate only");
	if (have_s && (lg->mode == MODE_CONNRATE || lg->mode == MODE_IDLE ||
	    lg->mode == MODE_SINK || lg->mode == MODE_HTTP))
		die("-s is not for %s", lg->mode_name);
	if (have_u && lg->mode != MODE_HTTP)
		die("-u is for http only");
	if (lg->limit >= 0 && !have_d)
		lg->seconds = MAX_SECONDS;	/* the count ends the run */
}

/* Signals, descriptors, the pattern and the connection slots. */
static void
prepare(struct loadgen *lg)
{
	struct sigaction	sa;
	int			i;

	if (lg->mode == MODE_HTTP)
		http_request(lg);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(lg->nconns + 16);

	pattern_init();
	period_init();
	lg->sin.sin_family = AF_INET;
	lg->sin.sin_port = htons((uint16_t)lg->port);
	lg->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lg->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	if ((lg->conns = calloc((size_t)lg->nconns, sizeof(*lg->conns))) ==
	    NULL)
		die("out of memory for %d connections", lg->nconns);
	for (i = 0; i < lg->nconns; i++)
		lg->conns[i].fd = -1;
}

int
main(int argc, char *argv[])
{
	struct loadgen	lg;
	int		i;

	memset(&lg, 0, sizeof(lg));
	lg.port = -1;
	lg.limit = -1;
	if (argc < 2)
		usage();
	parse_mode(&lg, argv[1]);
	parse_args(&lg, argc - 1, argv + 1);
	prepare(&lg);

	if (lg.mode == MODE_IDLE) {
		lg.t_start = now_ns();
		setup(&lg);
		lg.t_end = now_ns();
		hold(&lg);
		report(&lg);
	} else {
		if (lg.mode != MODE_CONNRATE)
			setup(&lg);
		if (lg.sync) {
			say_ready();
			if (wait_stdin(0) == -1)
				die("stdin closed before the start");
		}
		run_traffic(&lg);
		report(&lg);
		if (lg.sync)
			(void)wait_stdin(1);
	}
	for (i = 0; i < lg.nconns; i++) {
		conn_reset(&lg.conns[i]);
		free(lg.conns[i].hbuf);
	}
	free(lg.conns);
	free(lg.req);
	free(lg.lat);
	close(lg.epfd);
	return (0);
}
