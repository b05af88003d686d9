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
 *
 * With -w N (N > 1) it forks N worker processes that serve the same port,
 * to compare evinetd's workers with the ways a hand-written server shares
 * incoming connections (-a):
 *
 *	shared	   one listening socket, bound before the fork, that every
 *		   worker adds to its own epoll with EPOLLIN: each new
 *		   connection wakes every idle worker and one wins the
 *		   accept.
 *	exclusive  the same socket added with EPOLLIN | EPOLLEXCLUSIVE, so the
 *		   kernel wakes one waiting worker (or a few) per connection.
 *	reuseport  one socket per worker, all bound to the same port with
 *		   SO_REUSEPORT; the kernel hashes each connection to one.
 *
 * The parent prints "port=N" once every worker has its epoll set up, then
 * only waits: SIGTERM or SIGINT is passed on to the workers, which are
 * reaped before it exits 0.  A worker also dies with its parent.  With -w 1
 * (the default) nothing is forked and the server is the one above.  At exit
 * each worker prints to stderr how many connections it accepted, how often
 * its listening socket woke it, how many of those wake-ups found nothing to
 * accept, and how many accept4 calls returned EAGAIN (every batch ends
 * with one unless it fills up), for example
 * "baseline: worker 1: accepted=1000 wakeups=400 empty=3 eagain=398".
 */

#define _GNU_SOURCE		/* accept4 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
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
#define MAX_WORKERS	64

/* How the workers share incoming connections (-a). */
enum accept_mode { ACCEPT_SHARED, ACCEPT_EXCLUSIVE, ACCEPT_REUSEPORT };

/* Output the kernel did not take, kept until the socket is writable. */
struct pending {
	char		*p_buf;
	uint32_t	 p_off;
	uint32_t	 p_len;
};

struct server {
	int		 epfd;
	int		 lfd;
	int		 id;		/* worker number, from 1 */
	unsigned long long accepted;	/* connections accepted */
	unsigned long long wakeups;	/* listening socket readable */
	unsigned long long empty;	/* ... with nothing to accept */
	unsigned long long eagain;	/* accept4 calls that said EAGAIN */
	struct pending	*pend;		/* indexed by descriptor */
	size_t		 npend;
	sigset_t	 waitmask;	/* while in epoll_pwait */
	char		 buf[BUF_SIZE];
};

static volatile sig_atomic_t	stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGCHLD must not be ignored, or the parent's sigwait would miss it. */
static void
on_child(int sig)
{
	(void)sig;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: baseline [-p port] [-w workers] "
	    "[-a shared | exclusive | reuseport]\n");
	exit(2);
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

	s->wakeups++;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN) {
				s->eagain++;
				if (i == 0)
					s->empty++;
			} else
				fprintf(stderr, "baseline: accept4: %s\n",
				    strerror(errno));
			return;
		}
		s->accepted++;
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

/*
 * The event loop, until a signal says stop.  SIGINT and SIGTERM are
 * blocked except inside epoll_pwait, so one that comes between the test
 * of stop and the wait still ends the wait.
 */
static void
server_loop(struct server *s)
{
	struct epoll_event	evs[MAX_EVENTS];
	int			n, i, fd;

	while (!stop) {
		n = epoll_pwait(s->epfd, evs, MAX_EVENTS, -1, &s->waitmask);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_pwait");
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

/*
 * Binds 127.0.0.1:port and listens; with reuseport, other sockets may bind
 * the same port.  Returns the socket and sets *bound to the port it got.
 */
static int
server_listen(int port, int reuseport, int *bound)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("setsockopt SO_REUSEADDR");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1)
		fatal("setsockopt SO_REUSEPORT");
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
	*bound = ntohs(sin.sin_port);
	return (fd);
}

/* Creates the epoll set and adds the listening socket to it. */
static void
server_init(struct server *s, int id, int lfd, enum accept_mode mode)
{
	struct epoll_event	ev;

	s->id = id;
	s->lfd = lfd;
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	if (mode == ACCEPT_EXCLUSIVE)
		ev.events |= EPOLLEXCLUSIVE;
	ev.data.fd = lfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, lfd, &ev) == -1)
		fatal("epoll_ctl");
}

/* Says how the listening socket was shared, once, when the server ends. */
static void
server_report(const struct server *s)
{
	fprintf(stderr, "baseline: worker %d: accepted=%llu wakeups=%llu "
	    "empty=%llu eagain=%llu\n", s->id, s->accepted, s->wakeups,
	    s->empty, s->eagain);
}

static void
say_port(int port)
{
	printf("port=%d\n", port);
	fflush(stdout);
}

/*
 * A worker process: keeps its own listening socket (or the shared one),
 * tells the parent it is ready through the pipe, and serves until SIGTERM.
 */
static int
worker_main(struct server *s, int id, int *lfds, int nlfd,
    enum accept_mode mode, int readyfd, pid_t parent, const sigset_t *mask)
{
	int	i, own;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("prctl");
	if (getppid() != parent)
		return (1);		/* the parent died before prctl */
	signal(SIGCHLD, SIG_DFL);
	s->waitmask = *mask;		/* signals stay blocked but there */
	own = mode == ACCEPT_REUSEPORT ? id - 1 : 0;
	for (i = 0; i < nlfd; i++) {
		if (i != own)
			close(lfds[i]);
	}
	server_init(s, id, lfds[own], mode);
	if (write(readyfd, "r", 1) != 1)
		fatal("write to the parent");
	close(readyfd);
	server_loop(s);
	server_report(s);
	free(s->pend);
	return (0);
}

/* Sends SIG to the workers still running. */
static void
workers_signal(const pid_t *pids, int n, int sig)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (pids[i] != -1)
			(void)kill(pids[i], sig);
	}
}

/* Reaps the workers; returns how many of them failed. */
static int
workers_reap(pid_t *pids, int n, int block)
{
	pid_t	pid;
	int	i, status, left, failed = 0;

	for (;;) {
		for (left = 0, i = 0; i < n; i++)
			left += pids[i] != -1;
		if (left == 0)
			break;
		pid = waitpid(-1, &status, block ? 0 : WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			pids[i] = -1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "baseline: worker %d (pid %ld) "
				    "%s %d\n", i + 1, (long)pid,
				    WIFSIGNALED(status) ? "killed by signal" :
				    "exited with status", WIFSIGNALED(status) ?
				    WTERMSIG(status) : WEXITSTATUS(status));
				failed++;
			}
		}
	}
	return (failed);
}

/*
 * Forks the workers, prints the port once all are ready, and then only
 * waits: a signal is passed on, a worker that dies takes the others down.
 */
static int
supervise(struct server *s, int nworkers, int *lfds, int nlfd,
    enum accept_mode mode, int port)
{
	pid_t		pids[MAX_WORKERS], parent = getpid();
	sigset_t	set, old;
	char		buf[MAX_WORKERS];
	ssize_t		n;
	int		rp[2], i, got = 0, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &old) == -1)
		fatal("sigprocmask");
	if (pipe2(rp, O_CLOEXEC) == -1)
		fatal("pipe2");
	fflush(stdout);
	for (i = 0; i < nworkers; i++) {
		switch (pids[i] = fork()) {
		case -1:
			fprintf(stderr, "baseline: fork: %s\n",
			    strerror(errno));
			workers_signal(pids, i, SIGTERM);
			(void)workers_reap(pids, i, 1);
			return (1);
		case 0:
			close(rp[0]);
			exit(worker_main(s, i + 1, lfds, nlfd, mode, rp[1],
			    parent, &old));
		}
	}
	close(rp[1]);
	for (i = 0; i < nlfd; i++)
		close(lfds[i]);
	while (got < nworkers) {
		n = read(rp[0], buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (int)n;
	}
	close(rp[0]);
	if (got < nworkers) {
		fprintf(stderr, "baseline: only %d of %d workers started\n",
		    got, nworkers);
		workers_signal(pids, nworkers, SIGTERM);
		(void)workers_reap(pids, nworkers, 1);
		return (1);
	}
	say_port(port);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			fatal("sigwait");
		if (sig != SIGCHLD)
			break;
		if (workers_reap(pids, nworkers, 0) != 0) {
			workers_signal(pids, nworkers, SIGTERM);
			(void)workers_reap(pids, nworkers, 1);
			return (1);
		}
	}
	workers_signal(pids, nworkers, sig);
	return (workers_reap(pids, nworkers, 1) == 0 ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	static struct server	 s;
	struct sigaction	 sa;
	struct rlimit		 rl;
	sigset_t		 set;
	enum accept_mode	 mode = ACCEPT_SHARED;
	char			*end;
	long			 port = 0, nworkers = 1;
	int			 ch, i, nlfd, bound, lfds[MAX_WORKERS];

	while ((ch = getopt(argc, argv, "a:p:w:")) != -1) {
		switch (ch) {
		case 'a':
			if (strcmp(optarg, "shared") == 0)
				mode = ACCEPT_SHARED;
			else if (strcmp(optarg, "exclusive") == 0)
				mode = ACCEPT_EXCLUSIVE;
			else if (strcmp(optarg, "reuseport") == 0)
				mode = ACCEPT_REUSEPORT;
			else {
				fprintf(stderr, "baseline: -a %s: want shared, "
				    "exclusive or reuseport\n", optarg);
				return (2);
			}
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 ||
			    port > 65535) {
				fprintf(stderr, "baseline: bad port %s\n",
				    optarg);
				return (2);
			}
			break;
		case 'w':
			nworkers = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || nworkers < 1 ||
			    nworkers > MAX_WORKERS) {
				fprintf(stderr, "baseline: -w %s: want 1 to %d "
				    "workers\n", optarg, MAX_WORKERS);
				return (2);
			}
			break;
		default:
			usage();
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
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	nlfd = mode == ACCEPT_REUSEPORT ? (int)nworkers : 1;
	lfds[0] = server_listen((int)port, mode == ACCEPT_REUSEPORT, &bound);
	for (i = 1; i < nlfd; i++)
		lfds[i] = server_listen(bound, 1, &bound);
	if (nworkers > 1)
		return (supervise(&s, (int)nworkers, lfds, nlfd, mode, bound));

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, &s.waitmask) == -1)
		fatal("sigprocmask");
	server_init(&s, 1, lfds[0], mode);
	say_port(bound);
	server_loop(&s);
	server_report(&s);
	free(s.pend);
	return (0);
}
