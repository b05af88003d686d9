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
 * spawn: the physical limit of bench/exec.  It does what a super-server
 * must do per connection and nothing else: posix_spawn() the program with
 * one end of a socketpair as its stdin and stdout (stderr on /dev/null),
 * write 64 bytes to the other end, read the 64 bytes back and check them,
 * close, and reap the child.  C children are in flight at once (-c, as
 * loadgen's C clients), N in all (-n); no accept, no TCP, no logging, no
 * bookkeeping.  Every descriptor of ours is close-on-exec, so the child
 * gets 0-2 only and nothing has to be closed in it.
 *
 * One line of key=value pairs on stdout at the end: the rate, and "cpu",
 * the CPU seconds of this process and of the children it reaped over the
 * loop (getrusage RUSAGE_SELF + RUSAGE_CHILDREN: the same sum as utime +
 * stime + cutime + cstime of /proc/PID/stat).  It includes the client's
 * side of the I/O, which the servers' figures do not, so it overstates
 * the bare cost slightly.  A wrong byte, an early end or a child that
 * does not exit 0 is fatal (exit 1, with a message).
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSG_SIZE	64
#define MAX_CONC	1024
#define MAX_COUNT	10000000
#define POLL_MS		10000		/* nothing at all for that long */

enum slot_state {
	SL_FREE,		/* no child */
	SL_ECHO,		/* child running, echo not all back */
	SL_EXIT			/* echo back, socket closed, not reaped */
};

struct slot {
	enum slot_state	 state;
	int		 fd;
	pid_t		 pid;
	size_t		 got;
	unsigned char	 msg[MSG_SIZE];
};

/* The whole run, passed around instead of globals. */
struct spawn {
	const char	*prog;
	char		*argv[2];
	int		 conc;
	long		 count;
	long		 started;
	long		 done;
	int		 nullfd;
	int		 sigfd;
	posix_spawnattr_t attr;
	struct slot	*slots;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: spawn [-c CHILDREN] [-n COUNT] [-p PROGRAM]\n"
	    "Runs PROGRAM (/bin/cat) COUNT times, CHILDREN at once, each "
	    "echoing 64 bytes\nover a socketpair; prints one key=value "
	    "line.\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* This process's CPU seconds plus those of the children it reaped. */
static double
tree_cpu(void)
{
	struct rusage	self, kids;

	if (getrusage(RUSAGE_SELF, &self) == -1 ||
	    getrusage(RUSAGE_CHILDREN, &kids) == -1)
		err(1, "getrusage");
	return (self.ru_utime.tv_sec + self.ru_stime.tv_sec +
	    kids.ru_utime.tv_sec + kids.ru_stime.tv_sec +
	    (self.ru_utime.tv_usec + self.ru_stime.tv_usec +
	    kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6);
}

/* Parses a whole decimal number within bounds, or dies naming the flag. */
static long
number(const char *s, long lo, long hi, int flag)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		errx(1, "-%c %s: want a whole number from %ld to %ld", flag,
		    s, lo, hi);
	return (v);
}

/*
 * SIGCHLD through a signalfd, so that reaping is one more descriptor in
 * the poll loop, as in an event-driven server; SIGPIPE ignored, so that a
 * child gone early is an error message.  The child gets an empty signal
 * mask and SIGPIPE's default back from posix_spawn.
 */
static void
prepare(struct spawn *sp)
{
	sigset_t	set, dfl;
	int		i;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		err(1, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	if ((sp->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1)
		err(1, "signalfd");
	if ((sp->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		err(1, "/dev/null");
	sigemptyset(&set);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	if (posix_spawnattr_init(&sp->attr) != 0 ||
	    posix_spawnattr_setsigmask(&sp->attr, &set) != 0 ||
	    posix_spawnattr_setsigdefault(&sp->attr, &dfl) != 0 ||
	    posix_spawnattr_setflags(&sp->attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF) != 0)
		errx(1, "posix_spawnattr: out of memory");
	if ((sp->slots = calloc((size_t)sp->conc, sizeof(*sp->slots))) ==
	    NULL)
		errx(1, "out of memory for %d slots", sp->conc);
	for (i = 0; i < sp->conc; i++)
		sp->slots[i].fd = -1;
}

/* Spawns the program on a new socketpair and sends it the 64 bytes. */
static void
slot_start(struct spawn *sp, struct slot *sl)
{
	posix_spawn_file_actions_t	 fa;
	char				*envp[] = { NULL };
	int				 sv[2], error;
	size_t				 i;
	ssize_t				 n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		err(1, "socketpair");
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, sv[1], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, sv[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, sp->nullfd, 2) != 0)
		errx(1, "posix_spawn_file_actions: out of memory");
	error = posix_spawn(&sl->pid, sp->prog, &fa, &sp->attr, sp->argv,
	    envp);
	posix_spawn_file_actions_destroy(&fa);
	if (error != 0)
		errx(1, "posix_spawn %s: %s", sp->prog, strerror(error));
	close(sv[1]);
	for (i = 0; i < MSG_SIZE; i++)
		sl->msg[i] = (unsigned char)((size_t)sp->started * 7919 +
		    i * 31);
	n = write(sv[0], sl->msg, MSG_SIZE);
	if (n != MSG_SIZE)
		errx(1, "write to child %ld: %s", (long)sl->pid, n == -1 ?
		    strerror(errno) : "short write");
	sl->fd = sv[0];
	sl->got = 0;
	sl->state = SL_ECHO;
	sp->started++;
}

/* Reads the echo and checks it; all back, the socket is closed. */
static void
slot_read(struct slot *sl)
{
	unsigned char	buf[MSG_SIZE];
	ssize_t		n;

	n = read(sl->fd, buf, MSG_SIZE - sl->got);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		errx(1, "child %ld: %s after %zu bytes", (long)sl->pid, n == 0 ?
		    "end of file" : strerror(errno), sl->got);
	if (memcmp(buf, sl->msg + sl->got, (size_t)n) != 0)
		errx(1, "child %ld: wrong bytes back", (long)sl->pid);
	sl->got += (size_t)n;
	if (sl->got == MSG_SIZE) {
		close(sl->fd);
		sl->fd = -1;
		sl->state = SL_EXIT;
	}
}

/* Reaps every child that ended; a slot whose child is reaped is free. */
static void
reap(struct spawn *sp)
{
	struct signalfd_siginfo	si;
	pid_t			pid;
	int			st, i;

	while (read(sp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < sp->conc; i++)
			if (sp->slots[i].state != SL_FREE &&
			    sp->slots[i].pid == pid)
				break;
		if (i == sp->conc)
			errx(1, "reaped %ld, not ours", (long)pid);
		if (sp->slots[i].state != SL_EXIT)
			errx(1, "child %ld ended before its echo", (long)pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			errx(1, "child %ld: status 0x%x", (long)pid, st);
		sp->slots[i].state = SL_FREE;
		sp->done++;
		if (sp->started < sp->count)
			slot_start(sp, &sp->slots[i]);
	}
	if (pid == -1 && errno != ECHILD)
		err(1, "waitpid");
}

/* Polls the children's sockets and the signalfd until all are done. */
static void
run(struct spawn *sp)
{
	struct pollfd	*pfd;
	int		 i, n;

	if ((pfd = calloc((size_t)sp->conc + 1, sizeof(*pfd))) == NULL)
		errx(1, "out of memory");
	for (i = 0; i < sp->conc && sp->started < sp->count; i++)
		slot_start(sp, &sp->slots[i]);
	while (sp->done < sp->count) {
		pfd[0].fd = sp->sigfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < sp->conc; i++) {
			pfd[i + 1].fd = sp->slots[i].state == SL_ECHO ?
			    sp->slots[i].fd : -1;
			pfd[i + 1].events = POLLIN;
		}
		if ((n = poll(pfd, (nfds_t)sp->conc + 1, POLL_MS)) == -1 &&
		    errno != EINTR)
			err(1, "poll");
		if (n == 0)
			errx(1, "nothing for %d s with %ld of %ld done",
			    POLL_MS / 1000, sp->done, sp->count);
		for (i = 0; i < sp->conc; i++)
			if (pfd[i + 1].fd != -1 && pfd[i + 1].revents != 0)
				slot_read(&sp->slots[i]);
		reap(sp);
	}
	free(pfd);
}

int
main(int argc, char *argv[])
{
	struct spawn	sp;
	const char	*base;
	double		t0, t1, c0, c1;
	int		ch;

	memset(&sp, 0, sizeof(sp));
	sp.prog = "/bin/cat";
	sp.conc = 8;
	sp.count = 3000;
	while ((ch = getopt(argc, argv, "c:n:p:")) != -1) {
		switch (ch) {
		case 'c':
			sp.conc = (int)number(optarg, 1, MAX_CONC, ch);
			break;
		case 'n':
			sp.count = number(optarg, 1, MAX_COUNT, ch);
			break;
		case 'p':
			sp.prog = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || sp.prog[0] != '/')
		usage();
	base = strrchr(sp.prog, '/') + 1;
	sp.argv[0] = (char *)base;
	sp.argv[1] = NULL;
	prepare(&sp);
	c0 = tree_cpu();
	t0 = now();
	run(&sp);
	t1 = now();
	c1 = tree_cpu();
	printf("mode=spawn prog=%s conns=%d size=%d seconds=%.3f "
	    "connections=%ld cps=%.0f cpu=%.3f verified=yes\n", sp.prog,
	    sp.conc, MSG_SIZE, t1 - t0, sp.done, sp.done / (t1 - t0),
	    c1 - c0);
	return (0);
}
