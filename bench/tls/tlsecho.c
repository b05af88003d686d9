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
 * tlsecho: one TLS echo server on libevent 2.1, in one of the ways issue 15
 * could move TLS bytes, so that bench/tls/run can measure them side by side
 * (docs/design.md, "TLS: how the bytes move").  -m chooses:
 *
 *	plain	no TLS: raw events, read(2) into evbuffer_reserve_space,
 *		evbuffer_write, as daemon/conn.c does (the baseline)
 *	bev	libevent's bufferevent_openssl, BUFFEREVENT_SSL_ACCEPTING
 *	fd	SSL_set_fd, driven by our own read and write events: SSL_read
 *		into evbuffer_reserve_space, SSL_write from evbuffer_peek
 *	mem	a memory BIO: we read and write the socket ourselves, into and
 *		from two evbuffers of ciphertext, and the SSL object reads and
 *		writes those through a small BIO method (the shape that puts
 *		TLS under conn.c's own I/O)
 *	ktls	"fd" with SSL_OP_ENABLE_KTLS; after the first handshake it
 *		prints "ktls send=N recv=N" (BIO_get_ktls_send and _recv)
 *
 * -c and -k name the certificate and key (PEM), -r sets
 * SSL_MODE_RELEASE_BUFFERS.  fd and mem set read-ahead.  Every mode reads at most 64 KiB per call and
 * 256 KiB per readiness event, and stops reading while 256 KiB wait to be
 * sent.  It listens on 127.0.0.1 (-p, 0 for any port), prints "port=N",
 * and returns from main at SIGTERM or SIGINT.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define READ_CHUNK	65536		/* one read(2) or SSL_read at most */
#define PER_EVENT	(4 * READ_CHUNK) /* then the other connections */
#define HIGH_WATER	(4 * READ_CHUNK) /* queued output: stop reading */

enum echo_mode { M_PLAIN, M_BEV, M_FD, M_MEM, M_KTLS };

struct echo {
	struct event_base	*base;
	SSL_CTX			*ctx;
	enum echo_mode		 mode;
	BIO_METHOD		*biometh;
	int			 ktls_said;
};

struct econn {
	struct echo		*e;
	int			 fd;
	SSL			*ssl;
	struct event		 ev_rd;
	struct event		 ev_wr;
	struct evbuffer		*buf;	/* plaintext read, to be echoed */
	struct evbuffer		*cin;	/* mem: ciphertext read */
	struct evbuffer		*cout;	/* mem: ciphertext to send */
	int			 ready;	/* handshake done */
	int			 eof;
	int			 wblocked; /* the socket refused bytes */
};

static void __attribute__((noreturn))
fatal(const char *what)
{
	fprintf(stderr, "tlsecho: %s: %s\n", what, strerror(errno));
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
econn_free(struct econn *c)
{
	event_del(&c->ev_rd);
	event_del(&c->ev_wr);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	evbuffer_free(c->buf);
	if (c->cin != NULL)
		evbuffer_free(c->cin);
	if (c->cout != NULL)
		evbuffer_free(c->cout);
	close(c->fd);
	free(c);
}

/* The mem BIO's read: hands the SSL object the ciphertext we read. */
static int
evbio_read(BIO *b, char *out, int len)
{
	struct evbuffer	*in = ((struct econn *)BIO_get_data(b))->cin;
	int		 n;

	BIO_clear_retry_flags(b);
	n = evbuffer_remove(in, out, (size_t)len);
	if (n <= 0) {
		BIO_set_retry_read(b);
		return (-1);
	}
	return (n);
}

/* The mem BIO's write: queues the SSL object's ciphertext for the socket. */
static int
evbio_write(BIO *b, const char *data, int len)
{
	struct evbuffer	*out = ((struct econn *)BIO_get_data(b))->cout;

	BIO_clear_retry_flags(b);
	if (evbuffer_add(out, data, (size_t)len) == -1)
		return (-1);
	return (len);
}

/* The mem BIO's controls: only what libssl asks of a transport. */
static long
evbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct econn	*c = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return (1);
	case BIO_CTRL_PENDING:
		return ((long)evbuffer_get_length(c->cin));
	case BIO_CTRL_WPENDING:
		return ((long)evbuffer_get_length(c->cout));
	default:
		return (0);
	}
}

static int
evbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return (1);
}

static BIO_METHOD *
evbio_method(void)
{
	BIO_METHOD	*m;

	if ((m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "evbuffer")) == NULL)
		fatal("BIO_meth_new");
	BIO_meth_set_read(m, evbio_read);
	BIO_meth_set_write(m, evbio_write);
	BIO_meth_set_ctrl(m, evbio_ctrl);
	BIO_meth_set_create(m, evbio_create);
	return (m);
}

/* Reads plaintext (plain) or ciphertext (mem) from the socket into B. */
static int
econn_read_sock(struct econn *c, struct evbuffer *b)
{
	struct evbuffer_iovec	 vec;
	size_t			 got = 0;
	ssize_t			 n;

	while (got < PER_EVENT && evbuffer_get_length(c->buf) < HIGH_WATER) {
		if (evbuffer_reserve_space(b, READ_CHUNK, &vec, 1) != 1)
			fatal("evbuffer_reserve_space");
		if (vec.iov_len > READ_CHUNK)
			vec.iov_len = READ_CHUNK;
		n = read(c->fd, vec.iov_base, vec.iov_len);
		if (n <= 0) {
			evbuffer_commit_space(b, &vec, 0);
			if (n == 0)
				c->eof = 1;
			else if (errno == EINTR)
				continue;
			else if (errno != EAGAIN)
				return (-1);
			break;
		}
		vec.iov_len = (size_t)n;
		evbuffer_commit_space(b, &vec, 1);
		got += (size_t)n;
		if ((size_t)n < READ_CHUNK)
			break;
	}
	return (0);
}

/* Says once whether the kernel took the record layer over (ktls mode). */
static void
econn_say_ktls(struct econn *c)
{
	if (c->e->mode != M_KTLS || c->e->ktls_said)
		return;
	c->e->ktls_said = 1;
	printf("ktls send=%d recv=%d\n",
	    (int)BIO_get_ktls_send(SSL_get_wbio(c->ssl)),
	    (int)BIO_get_ktls_recv(SSL_get_rbio(c->ssl)));
	fflush(stdout);
}

/* Decrypts what there is into c->buf; -1 when the connection failed. */
static int
econn_ssl_read(struct econn *c)
{
	struct evbuffer_iovec	 vec;
	size_t			 got = 0;
	int			 n, r;

	if (!c->ready) {
		if ((r = SSL_accept(c->ssl)) != 1) {
			r = SSL_get_error(c->ssl, r);
			if (r == SSL_ERROR_WANT_READ ||
			    r == SSL_ERROR_WANT_WRITE)
				return (0);
			return (-1);
		}
		c->ready = 1;
		econn_say_ktls(c);
	}
	while (got < PER_EVENT && evbuffer_get_length(c->buf) < HIGH_WATER) {
		if (evbuffer_reserve_space(c->buf, READ_CHUNK, &vec, 1) != 1)
			fatal("evbuffer_reserve_space");
		n = SSL_read(c->ssl, vec.iov_base, READ_CHUNK);
		if (n <= 0) {
			evbuffer_commit_space(c->buf, &vec, 0);
			r = SSL_get_error(c->ssl, n);
			if (r == SSL_ERROR_WANT_READ ||
			    r == SSL_ERROR_WANT_WRITE)
				break;
			if (r == SSL_ERROR_ZERO_RETURN) {
				c->eof = 1;
				break;
			}
			return (-1);
		}
		vec.iov_len = (size_t)n;
		evbuffer_commit_space(c->buf, &vec, 1);
		got += (size_t)n;
	}
	return (0);
}

/* Encrypts c->buf, a chunk at a time, as far as the transport takes it. */
static int
econn_ssl_write(struct econn *c)
{
	struct evbuffer_iovec	 vec;
	size_t			 len;
	int			 n, r;

	if (!c->ready)
		return (0);
	while ((len = evbuffer_get_length(c->buf)) > 0) {
		if (evbuffer_peek(c->buf, -1, NULL, &vec, 1) < 1)
			break;
		len = vec.iov_len < READ_CHUNK ? vec.iov_len : READ_CHUNK;
		n = SSL_write(c->ssl, vec.iov_base, (int)len);
		if (n <= 0) {
			r = SSL_get_error(c->ssl, n);
			if (r == SSL_ERROR_WANT_WRITE) {
				c->wblocked = 1;
				break;
			}
			if (r == SSL_ERROR_WANT_READ)
				break;
			return (-1);
		}
		evbuffer_drain(c->buf, (size_t)n);
	}
	return (0);
}

/* Writes B to the socket until it is empty or the kernel is full. */
static int
econn_write_sock(struct econn *c, struct evbuffer *b)
{
	int	n;

	while (evbuffer_get_length(b) > 0) {
		if ((n = evbuffer_write(b, c->fd)) > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN)
			return (-1);
		c->wblocked = 1;
		break;
	}
	return (0);
}

/* Moves the bytes one event allows, in the mode's own way. */
static int
econn_pump(struct econn *c)
{
	c->wblocked = 0;
	switch (c->e->mode) {
	case M_PLAIN:
		if (econn_read_sock(c, c->buf) == -1)
			return (-1);
		return (econn_write_sock(c, c->buf));
	case M_MEM:
		if (evbuffer_get_length(c->cout) < HIGH_WATER &&
		    econn_read_sock(c, c->cin) == -1)
			return (-1);
		if (econn_ssl_read(c) == -1 || econn_ssl_write(c) == -1)
			return (-1);
		return (econn_write_sock(c, c->cout));
	default:
		if (econn_ssl_read(c) == -1 || econn_ssl_write(c) == -1)
			return (-1);
		return (0);
	}
}

/*
 * The single event handler: pump, then arm the write event while the
 * socket refused bytes and the read event while there is room; an echo
 * client that has closed and been answered is done.
 */
static void
econn_event(int fd, short what, void *arg)
{
	struct econn	*c = arg;
	size_t		 queued;

	if (econn_pump(c) == -1) {
		econn_free(c);
		return;
	}
	queued = evbuffer_get_length(c->buf);
	if (c->cout != NULL)
		queued += evbuffer_get_length(c->cout);
	if (c->eof && queued == 0) {
		econn_free(c);
		return;
	}
	if (c->wblocked || (!c->ready && c->ssl != NULL &&
	    SSL_want_write(c->ssl)))
		event_add(&c->ev_wr, NULL);
	else
		event_del(&c->ev_wr);
	if (!c->eof && queued < HIGH_WATER)
		event_add(&c->ev_rd, NULL);
	else
		event_del(&c->ev_rd);
}

/* bufferevent_openssl: what came in goes out, with the same watermark. */
static void
bev_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*out = bufferevent_get_output(bev);

	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= HIGH_WATER)
		bufferevent_disable(bev, EV_READ);
}

static void
bev_write(struct bufferevent *bev, void *arg)
{
	bufferevent_enable(bev, EV_READ);
}

static void
bev_event(struct bufferevent *bev, short what, void *arg)
{
	struct echo	*e = arg;

	if (what & BEV_EVENT_CONNECTED) {
		e->ktls_said = 1;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
bev_accept(struct echo *e, int fd, SSL *ssl)
{
	struct bufferevent	*bev;

	bev = bufferevent_openssl_socket_new(e->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatal("bufferevent_openssl_socket_new");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, bev_read, bev_write, bev_event, e);
	bufferevent_enable(bev, EV_READ);
}

/* A new connection: its SSL object and events for the chosen mode. */
static void
echo_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct echo	*e = arg;
	struct econn	*c;
	SSL		*ssl = NULL;
	BIO		*bio;
	int		 one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (e->mode != M_PLAIN && (ssl = SSL_new(e->ctx)) == NULL)
		fatal("SSL_new");
	if (e->mode == M_BEV) {
		bev_accept(e, fd, ssl);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->buf = evbuffer_new()) == NULL)
		fatal("calloc");
	c->e = e;
	c->fd = fd;
	c->ssl = ssl;
	if (e->mode == M_MEM) {
		if ((c->cin = evbuffer_new()) == NULL ||
		    (c->cout = evbuffer_new()) == NULL ||
		    (bio = BIO_new(e->biometh)) == NULL)
			fatal("BIO_new");
		BIO_set_data(bio, c);
		SSL_set_bio(ssl, bio, bio);
	} else if (ssl != NULL && SSL_set_fd(ssl, fd) != 1)
		fatal("SSL_set_fd");
	event_assign(&c->ev_rd, e->base, fd, EV_READ | EV_PERSIST,
	    econn_event, c);
	event_assign(&c->ev_wr, e->base, fd, EV_WRITE | EV_PERSIST,
	    econn_event, c);
	event_add(&c->ev_rd, NULL);
}

/* The server's TLS context: TLS 1.3, the bench's certificate and key. */
static SSL_CTX *
echo_ctx(const char *cert, const char *key, int release, int ktls,
    int ahead)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatal("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		fatal(cert);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (release)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/*
	 * Without read-ahead, libssl reads a record's 5 byte header and then
	 * its body: two read(2)s per 16 KiB.  With it, as much as its buffer
	 * holds, made 64 KiB here like our own reads.  OpenSSL 3.0 turns kTLS receive off under read-ahead, so
	 * the ktls mode goes without it; and libevent 2.1's
	 * bufferevent_openssl stalls with it (the first echo hangs,
	 * apparently on bytes that came with the client's Finished and
	 * wait in libssl for a socket event), so bev does too.
	 */
	if (ahead) {
		SSL_CTX_set_read_ahead(ctx, 1);
		SSL_CTX_set_default_read_buffer_len(ctx, READ_CHUNK);
	}
	if (ktls) {
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
		if (SSL_CTX_set_ciphersuites(ctx,
		    "TLS_AES_128_GCM_SHA256") != 1)
			fatal("SSL_CTX_set_ciphersuites");
	}
	return (ctx);
}

static void
echo_stop(int fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: tlsecho -m plain|bev|fd|mem|ktls [-r] "
	    "[-p port] [-c cert -k key]\n");
	exit(2);
}

static enum echo_mode
parse_mode(const char *s)
{
	static const char	*names[] = { "plain", "bev", "fd", "mem",
				    "ktls" };
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return ((enum echo_mode)i);
	usage();
}

int
main(int argc, char *argv[])
{
	struct echo		 e;
	struct evconnlistener	*l;
	struct event		*sigterm, *sigint;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	const char		*cert = NULL, *key = NULL;
	int			 ch, port = 0, release = 0, mode = -1;

	while ((ch = getopt(argc, argv, "c:k:m:p:r")) != -1) {
		switch (ch) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'm': mode = (int)parse_mode(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'r': release = 1; break;
		default: usage();
		}
	}
	if (mode == -1 || (mode != M_PLAIN && (cert == NULL || key == NULL)))
		usage();
	memset(&e, 0, sizeof(e));
	e.mode = (enum echo_mode)mode;
	signal(SIGPIPE, SIG_IGN);
	if ((e.base = event_base_new()) == NULL)
		fatal("event_base_new");
	if (e.mode != M_PLAIN)
		e.ctx = echo_ctx(cert, key, release, e.mode == M_KTLS,
		    e.mode == M_FD || e.mode == M_MEM);
	if (e.mode == M_MEM)
		e.biometh = evbio_method();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = evconnlistener_new_bind(e.base, echo_accept, &e,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 1024,
	    (struct sockaddr *)&sin, sizeof(sin))) == NULL)
		fatal("listen");
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin,
	    &slen) == -1)
		fatal("getsockname");
	sigterm = evsignal_new(e.base, SIGTERM, echo_stop, e.base);
	sigint = evsignal_new(e.base, SIGINT, echo_stop, e.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	printf("port=%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_base_dispatch(e.base);
	event_free(sigterm);
	event_free(sigint);
	evconnlistener_free(l);
	if (e.ctx != NULL)
		SSL_CTX_free(e.ctx);
	if (e.biometh != NULL)
		BIO_meth_free(e.biometh);
	event_base_free(e.base);
	return (0);
}
