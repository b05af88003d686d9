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
 * baseline: the yardstick of evinetd's benchmarks.  A TCP echo server as a
 * competent programmer writes it by hand for one thread: level-triggered
 * epoll, accept4 in batches, TCP_NODELAY, and one shared 64 KiB buffer.
 * A connection is read into the shared buffer and written back at once;
 * only when the kernel does not take everything is the unsent remainder
 * copied aside and the connection switched from EPOLLIN to EPOLLOUT until
 * it has drained (so a client that does not read stops being read).  An
 * idle connection therefore costs a 16-byte slot in an array indexed by
 * descriptor and nothing else.
 *
 * It listens on 127.0.0.1 only, on the port given with -p (0, the default,
 * lets the kernel choose) and prints "port=N" once it accepts connections.
 * SIGTERM or SIGINT makes it return from main, so profilers get a clean
 * exit.
 */

#define _GNU_SOURCE		/* accept4 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_SIZE	65536
#define MAX_EVENTS	256
#define ACCEPT_BATCH	64
#define READS_PER_EVENT	4
#define BACKLOG		511

/* Output the kernel did not take, kept until the socket is writable. */
struct pending {
	char		*p_buf;
	uint32_t	 p_off;
	uint32_t	 p_len;
};

struct server {
	int		 epfd;
	int		 lfd;
	struct pending	*pend;		/* indexed by descriptor */
	size_t		 npend;
	char		 buf[BUF_SIZE];
};

static volatile sig_atomic_t	stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void __attribute__((noreturn))
fatal(const char *what)
{
	fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Forgets a connection: frees its remainder and closes the socket. */
static void
conn_close(struct server *s, int fd)
{
	struct pending	*p = &s->pend[fd];

	free(p->p_buf);
	p->p_buf = NULL;
	p->p_off = p->p_len = 0;
	close(fd);
}

/* Switches a connection between reading (EPOLLIN) and draining (EPOLLOUT). */
static int
conn_want(struct server *s, int fd, uint32_t events)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.fd = fd;
	return (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev));
}

/* Reads and echoes; on a short write keeps the rest and waits for EPOLLOUT. */
static void
conn_read(struct server *s, int fd)
{
	struct pending	*p = &s->pend[fd];
	ssize_t		 n, w;
	int		 i;

	for (i = 0; i < READS_PER_EVENT; i++) {
		n = read(fd, s->buf, sizeof(s->buf));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			conn_close(s, fd);
			return;
		}
		if (n == -1)
			return;
		w = write(fd, s->buf, (size_t)n);
		if (w == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				conn_close(s, fd);
				return;
			}
			w = 0;
		}
		if (w < n) {
			if ((p->p_buf = malloc((size_t)(n - w))) == NULL)
				fatal("malloc");
			memcpy(p->p_buf, s->buf + w, (size_t)(n - w));
			p->p_off = 0;
			p->p_len = (uint32_t)(n - w);
			if (conn_want(s, fd, EPOLLOUT) == -1)
				conn_close(s, fd);
			return;
		}
		if (n < (ssize_t)sizeof(s->buf))
			return;
	}
}

/* Writes the remainder; once it is gone, goes back to reading. */
static void
conn_write(struct server *s, int fd)
{
	struct pending	*p = &s->pend[fd];
	ssize_t		 w;

	w = write(fd, p->p_buf + p->p_off, p->p_len - p->p_off);
	if (w == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(s, fd);
		return;
	}
	p->p_off += (uint32_t)w;
	if (p->p_off < p->p_len)
		return;
	free(p->p_buf);
	p->p_buf = NULL;
	p->p_off = p->p_len = 0;
	if (conn_want(s, fd, EPOLLIN) == -1)
		conn_close(s, fd);
}

/* Accepts a batch of connections and starts reading them. */
static void
server_accept(struct server *s)
{
	struct epoll_event	 ev;
	struct pending		*np;
	size_t			 n;
	int			 fd, i, on = 1;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				fprintf(stderr, "baseline: accept4: %s\n",
				    strerror(errno));
			return;
		}
		if ((size_t)fd >= s->npend) {
			n = s->npend * 2 > (size_t)fd + 1 ? s->npend * 2 :
			    (size_t)fd + 1024;
			if ((np = realloc(s->pend, n * sizeof(*np))) == NULL)
				fatal("realloc");
			memset(np + s->npend, 0, (n - s->npend) * sizeof(*np));
			s->pend = np;
			s->npend = n;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			close(fd);
	}
}

/* The event loop, until a signal says stop. */
static void
server_loop(struct server *s)
{
	struct epoll_event	evs[MAX_EVENTS];
	int			n, i, fd;

	while (!stop) {
		n = epoll_wait(s->epfd, evs, MAX_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == s->lfd)
				server_accept(s);
			else if (s->pend[fd].p_buf != NULL)
				conn_write(s, fd);
			else
				conn_read(s, fd);
		}
	}
}

/* Binds 127.0.0.1:port and listens. */
static int
server_listen(int port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("setsockopt");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fatal("bind 127.0.0.1");
	if (listen(fd, BACKLOG) == -1)
		fatal("listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fatal("getsockname");
	printf("port=%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	return (fd);
}

int
main(int argc, char *argv[])
{
	static struct server	 s;
	struct sigaction	 sa;
	struct epoll_event	 ev;
	struct rlimit		 rl;
	char			*end;
	long			 port = 0;
	int			 ch;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		switch (ch) {
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 ||
			    port > 65535) {
				fprintf(stderr, "baseline: bad port %s\n",
				    optarg);
				return (2);
			}
			break;
		default:
			fprintf(stderr, "usage: baseline [-p port]\n");
			return (2);
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((s.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	s.lfd = server_listen((int)port);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = s.lfd;
	if (epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.lfd, &ev) == -1)
		fatal("epoll_ctl");
	server_loop(&s);
	free(s.pend);
	return (0);
}
