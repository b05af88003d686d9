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
 * tlsload: the TLS load generator of bench/tls/run, against 127.0.0.1:-p.
 * The client side of every TLS connection is TLS 1.3 with X25519 and
 * TLS_AES_128_GCM_SHA256 (the suite "openssl speed -evp aes-128-gcm"
 * measures, and the one kernels offload), no session reuse but in resume
 * mode, and no certificate check (the server's is made up for the run;
 * checking it would cost the client, not the server).  -P speaks plain
 * TCP instead.
 *
 *	stream		-c connections, each writing its share of -b bytes in
 *			-s byte writes and reading the echo back, checked
 *			byte for byte; prints MB/s echoed ("mbps")
 *	handshake	-c threads, each for -t seconds: connect, full
 *			handshake, 1 byte echoed, close with a reset (no
 *			TIME_WAIT); prints handshakes per second ("hps")
 *	resume		the same, each thread offering again and again the
 *			session (TLS 1.3 ticket) of one full handshake it did
 *			before the start; prints handshakes per second
 *			("hps") and how many the server resumed ("resumed")
 *	idle		-c connections, each after its handshake and a 1 byte
 *			echo, held until standard input closes
 *
 * With -S it prints "ready" once its connections are up (stream) or
 * before it starts (the others) and waits for a line on standard input, as
 * bench/loadgen does, so that the server's CPU is sampled around the
 * traffic only.  The result is one line of key=value pairs ending in
 * "verified=yes"; anything wrong is an error and exit status 1.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PERIOD		251		/* the pattern's period, a prime */
#define MAX_WRITE	65536
#define MAX_CONNS	4096

struct lconn {
	int		 fd;
	SSL		*ssl;
	uint64_t	 sent;
	uint64_t	 rcvd;
	uint64_t	 want;
};

static SSL_CTX		*ctx;		/* NULL: plain TCP */
static int		 port;
static double		 seconds = 3;
static unsigned char	 pattern[MAX_WRITE + PERIOD];

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "tlsload: %s: %s\n", what, strerror(errno));
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * A blocking connection with its handshake done, offering SESS if not NULL,
 * or plain with -P.
 */
static void
lconn_open(struct lconn *c, SSL_SESSION *sess)
{
	struct sockaddr_in	sin;
	int			one = 1;

	memset(c, 0, sizeof(*c));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect");
	if (ctx == NULL)
		return;
	if ((c->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		die("SSL_new");
	if (sess != NULL && SSL_set_session(c->ssl, sess) != 1)
		die("SSL_set_session");
	if (SSL_connect(c->ssl) != 1)
		die("SSL_connect");
}

/*
 * Closes with a reset, so that a handshake loop leaves no TIME_WAIT.  The
 * connection counts as shut down, so that libssl does not mark its session
 * unresumable, which would end resume mode after one handshake.
 */
static void
lconn_close(struct lconn *c, int reset)
{
	struct linger	lg = { 1, 0 };

	if (reset)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (c->ssl != NULL) {
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN);
		SSL_free(c->ssl);
	}
	close(c->fd);
	c->ssl = NULL;
}

static int
lconn_io(struct lconn *c, int wr, void *p, int len)
{
	if (c->ssl != NULL)
		return (wr ? SSL_write(c->ssl, p, len) :
		    SSL_read(c->ssl, p, len));
	return ((int)(wr ? write(c->fd, p, (size_t)len) :
	    read(c->fd, p, (size_t)len)));
}

/* True if N failed only because it would block (sets *wantw then). */
static int
lconn_again(struct lconn *c, int n, int *wantw)
{
	int	r;

	if (c->ssl == NULL)
		return (n == -1 && errno == EAGAIN);
	r = SSL_get_error(c->ssl, n);
	if (r == SSL_ERROR_WANT_WRITE)
		*wantw = 1;
	return (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE);
}

/* One byte there and back, checked. */
static void
lconn_ping(struct lconn *c)
{
	char	b = 'x';

	if (lconn_io(c, 1, &b, 1) != 1)
		die("write");
	b = 0;
	if (lconn_io(c, 0, &b, 1) != 1 || b != 'x')
		die("echo");
}

/* Writes and reads what one event allows; -1 on a wrong or missing byte. */
static int
stream_step(struct lconn *c, size_t wsize, int *wantw)
{
	static unsigned char	 in[MAX_WRITE];
	uint64_t		 left;
	int			 n, len;

	*wantw = 0;
	while ((left = c->want - c->sent) > 0) {
		len = (int)(left < wsize ? left : wsize);
		n = lconn_io(c, 1, pattern + c->sent % PERIOD, len);
		if (n <= 0) {
			if (lconn_again(c, n, wantw))
				break;
			return (-1);
		}
		c->sent += (uint64_t)n;
	}
	while (c->rcvd < c->want) {
		n = lconn_io(c, 0, in, sizeof(in));
		if (n <= 0) {
			if (lconn_again(c, n, wantw))
				break;
			return (-1);
		}
		if (memcmp(in, pattern + c->rcvd % PERIOD, (size_t)n) != 0)
			return (-1);
		c->rcvd += (uint64_t)n;
	}
	if (c->want - c->sent > 0)
		*wantw = 1;
	return (0);
}

static void
sync_wait(int sync)
{
	char	line[64];

	if (!sync)
		return;
	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		die("no go");
}

/* The epoll loop of stream mode, until every byte came back. */
static void
stream_loop(struct lconn *cs, int n, size_t wsize)
{
	struct epoll_event	ev, evs[64];
	int			ep, i, k, left = n, wantw;

	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	for (i = 0; i < n; i++) {
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) == -1)
			die("epoll_ctl");
	}
	while (left > 0) {
		if ((k = epoll_wait(ep, evs, 64, 60000)) <= 0)
			die("epoll_wait (stalled)");
		for (i = 0; i < k; i++) {
			struct lconn *c = &cs[evs[i].data.u32];

			if (c->rcvd == c->want)
				continue;
			if (stream_step(c, wsize, &wantw) == -1)
				die("stream: bytes lost or garbled");
			ev.data.u32 = evs[i].data.u32;
			ev.events = EPOLLIN | (wantw ? EPOLLOUT : 0);
			if (c->rcvd == c->want) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				left--;
			} else
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
	close(ep);
}

static void
run_stream(int n, uint64_t total, size_t wsize, int sync)
{
	struct lconn	*cs;
	double		 t0, t;
	int		 i;

	if ((cs = calloc((size_t)n, sizeof(*cs))) == NULL)
		die("calloc");
	for (i = 0; i < n; i++) {
		lconn_open(&cs[i], NULL);
		lconn_ping(&cs[i]);
		cs[i].want = total / (uint64_t)n;
		if (fcntl(cs[i].fd, F_SETFL, O_NONBLOCK) == -1)
			die("fcntl");
	}
	sync_wait(sync);
	t0 = now();
	stream_loop(cs, n, wsize);
	t = now() - t0;
	for (i = 0; i < n; i++)
		lconn_close(&cs[i], 0);
	free(cs);
	printf("bytes=%llu seconds=%.3f mbps=%.1f verified=yes\n",
	    (unsigned long long)(total / (uint64_t)n * (uint64_t)n), t,
	    (double)(total / (uint64_t)n * (uint64_t)n) / t / 1e6);
}

/* What one handshake thread offers, and what it counted. */
struct hsthread {
	pthread_t	 th;
	SSL_SESSION	*sess;		/* NULL: full handshakes */
	long		 count;
	long		 resumed;
};

/*
 * The session of one full handshake, with the ticket the server sent
 * after it (TLS 1.3 sends it after the handshake: the echo reads it).
 */
static SSL_SESSION *
resume_session(void)
{
	struct lconn	 c;
	SSL_SESSION	*s;

	lconn_open(&c, NULL);
	lconn_ping(&c);
	if ((s = SSL_get1_session(c.ssl)) == NULL ||
	    !SSL_SESSION_is_resumable(s)) {
		errno = 0;
		die("resume: the server sent no session ticket");
	}
	lconn_close(&c, 1);
	return (s);
}

/* One handshake thread: as many handshakes as the time allows. */
static void *
handshake_thread(void *arg)
{
	struct hsthread	*h = arg;
	struct lconn	 c;
	double		 end = now() + seconds;

	while (now() < end) {
		lconn_open(&c, h->sess);
		if (c.ssl != NULL && SSL_session_reused(c.ssl))
			h->resumed++;
		lconn_ping(&c);
		lconn_close(&c, 1);
		h->count++;
	}
	return (NULL);
}

static void
run_handshake(int n, int resume, int sync)
{
	struct hsthread	*hs;
	long		 total = 0, resumed = 0;
	double		 t0, t;
	int		 i;

	if ((hs = calloc((size_t)n, sizeof(*hs))) == NULL)
		die("calloc");
	for (i = 0; resume && i < n; i++)
		hs[i].sess = resume_session();
	sync_wait(sync);
	t0 = now();
	for (i = 0; i < n; i++)
		if (pthread_create(&hs[i].th, NULL, handshake_thread,
		    &hs[i]) != 0)
			die("pthread_create");
	for (i = 0; i < n; i++) {
		pthread_join(hs[i].th, NULL);
		total += hs[i].count;
		resumed += hs[i].resumed;
		SSL_SESSION_free(hs[i].sess);
	}
	t = now() - t0;
	free(hs);
	printf("handshakes=%ld resumed=%ld seconds=%.3f hps=%.0f "
	    "verified=yes\n", total, resumed, t, (double)total / t);
}

static void
run_idle(int n, int sync)
{
	struct lconn	*cs;
	char		 line[64];
	int		 i;

	if ((cs = calloc((size_t)n, sizeof(*cs))) == NULL)
		die("calloc");
	sync_wait(sync);
	for (i = 0; i < n; i++) {
		lconn_open(&cs[i], NULL);
		lconn_ping(&cs[i]);
	}
	printf("connections=%d verified=yes\n", n);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL)
		;
	for (i = 0; i < n; i++)
		lconn_close(&cs[i], 1);
	free(cs);
}

static SSL_CTX *
client_ctx(void)
{
	SSL_CTX	*c;

	if ((c = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set1_groups_list(c, "X25519") != 1 ||
	    SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256") != 1)
		die("client context");
	return (c);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: tlsload stream|handshake|resume|idle -p port "
	    "[-P] [-S] [-c n] [-b bytes] [-s size] [-t seconds]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rlimit	 rl;
	const char	*mode;
	uint64_t	 total = 256ULL << 20;
	size_t		 wsize = 16384;
	int		 ch, i, n = 4, plain = 0, sync = 0;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "b:c:p:Ps:St:")) != -1) {
		switch (ch) {
		case 'b': total = strtoull(optarg, NULL, 10); break;
		case 'c': n = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'P': plain = 1; break;
		case 's': wsize = (size_t)atoi(optarg); break;
		case 'S': sync = 1; break;
		case 't': seconds = atof(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || n < 1 || n > MAX_CONNS || wsize < 1 ||
	    wsize > MAX_WRITE || total < (uint64_t)n)
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < (int)sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i % PERIOD * 7 + 1);
	ctx = plain ? NULL : client_ctx();
	if (strcmp(mode, "stream") == 0)
		run_stream(n, total, wsize, sync);
	else if (strcmp(mode, "handshake") == 0)
		run_handshake(n, 0, sync);
	else if (strcmp(mode, "resume") == 0 && ctx != NULL)
		run_handshake(n, 1, sync);
	else if (strcmp(mode, "idle") == 0)
		run_idle(n, sync);
	else
		usage();
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	return (0);
}
