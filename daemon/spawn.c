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
 * Running the programs of exec services: the supervisor's side.
 *
 * Workers are unprivileged and cannot become a service's user, so the
 * supervisor, which is root, spawns (the OpenBSD privilege-separation
 * way, see docs/security.md).  A worker that accepted a connection for
 * an exec service sends it here over its own SOCK_SEQPACKET socketpair
 * (SCM_RIGHTS), naming only the service and its connection number:
 * what runs, as whom, with what limits, comes from the supervisor's own
 * copy of the config, and the addresses in the environment from the
 * socket itself.  The worker keeps its connection open, unwatched, until
 * we say the program exited, so its limits, counters, connection log and
 * session_timeout hold as for any connection.
 *
 * Spawning is vfork(2): the child shares our memory until execve, so a
 * spawn costs the same whatever the supervisor's size, and between the
 * two it makes only system calls (raw ones for the credentials: glibc's
 * wrappers coordinate threads through memory that is ours).  Signals
 * are blocked around it so that no handler of ours runs in the child.
 *
 * Children are the supervisor's, not a generation's: a reload never
 * kills them, and a graceful stop sends each process group SIGTERM,
 * then SIGKILL after shutdown_timeout.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

#define SPAWN_LOG_LINES		20	/* stderr lines a second, a service */
#define SPAWN_LINE_MAX		1024

/* Written by a vfork child that could not exec, read by us after. */
static volatile int	spawn_child_errno;

/* Sends one message (with a descriptor, unless passfd is -1) now, or -1. */
static int
spawn_sendmsg(int fd, const struct spawn_msg *m, int passfd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*cmsg;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)m;
	iov.iov_len = sizeof(*m);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (passfd != -1) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &passfd, sizeof(int));
	}
	return (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 ? -1 : 0);
}

void
spawn_chan_init(struct spawn_chan *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->sp_fd = -1;
	TAILQ_INIT(&ch->sp_out);
}

static void
spawn_out_free(struct spawn_chan *ch, struct spawn_out *so)
{
	TAILQ_REMOVE(&ch->sp_out, so, so_entry);
	if (so->so_fd != -1)
		close(so->so_fd);
	free(so->so_msg);
	free(so);
}

/* Forgets every message still waiting. */
static void
spawn_chan_drop(struct spawn_chan *ch)
{
	struct spawn_out	*so, *next;

	for (so = TAILQ_FIRST(&ch->sp_out); so != NULL; so = next) {
		next = TAILQ_NEXT(so, so_entry);
		spawn_out_free(ch, so);
	}
}

/* Room on the channel: what waited goes, in order. */
static void
spawn_chan_flush(evutil_socket_t fd, short events, void *arg)
{
	struct spawn_chan	*ch = arg;
	struct spawn_out	*so, *next;

	(void)events;
	for (so = TAILQ_FIRST(&ch->sp_out); so != NULL; so = next) {
		next = TAILQ_NEXT(so, so_entry);
		if (spawn_sendmsg(fd, so->so_msg, so->so_fd) == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				return;
			/* The peer is gone: its reader will say so. */
			spawn_chan_drop(ch);
			break;
		}
		spawn_out_free(ch, so);
	}
	event_del(&ch->sp_wev);
}

/* Starts a channel end on fd, which it now owns; readcb reads it. */
void
spawn_chan_open(struct spawn_chan *ch, struct event_base *base, int fd,
    event_callback_fn readcb, void *arg)
{
	ch->sp_fd = fd;
	event_assign(&ch->sp_rev, base, fd, EV_READ | EV_PERSIST, readcb, arg);
	event_add(&ch->sp_rev, NULL);
	event_assign(&ch->sp_wev, base, fd, EV_WRITE | EV_PERSIST,
	    spawn_chan_flush, ch);
}

/*
 * Sends a message (and passfd, unless -1), now or, when the channel is
 * full, as soon as it has room: nothing is ever dropped while the peer
 * lives.  0, or -1 if the channel is closed or broken.
 */
int
spawn_chan_send(struct spawn_chan *ch, const struct spawn_msg *m, int passfd)
{
	struct spawn_out	*so;

	if (ch->sp_fd == -1) {
		errno = EPIPE;
		return (-1);
	}
	if (TAILQ_EMPTY(&ch->sp_out)) {
		if (spawn_sendmsg(ch->sp_fd, m, passfd) == 0)
			return (0);
		if (errno != EAGAIN && errno != ENOBUFS)
			return (-1);
	}
	so = xcalloc(1, sizeof(*so));
	so->so_msg = xmalloc(sizeof(*m));
	memcpy(so->so_msg, m, sizeof(*m));
	so->so_fd = -1;
	if (passfd != -1 &&
	    (so->so_fd = fcntl(passfd, F_DUPFD_CLOEXEC, 3)) == -1) {
		free(so->so_msg);
		free(so);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&ch->sp_out, so, so_entry);
	event_add(&ch->sp_wev, NULL);
	return (0);
}

/* Closes a channel end, and forgets what still waited. */
void
spawn_chan_close(struct spawn_chan *ch)
{
	if (ch->sp_fd == -1)
		return;
	event_del(&ch->sp_rev);
	event_del(&ch->sp_wev);
	spawn_chan_drop(ch);
	close(ch->sp_fd);
	ch->sp_fd = -1;
}

/*
 * Receives one message: 1 with it (and *passfd, the descriptor that came
 * with it, or -1), 0 if there is none now, -2 if the peer is gone, -1 if
 * it sent something that is not one whole message.
 */
int
spawn_recv(int fd, struct spawn_msg *m, int *passfd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	*passfd = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = m;
	iov.iov_len = sizeof(*m);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (n <= 0)
		return (-2);
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof(int)) && *passfd == -1)
			memcpy(passfd, CMSG_DATA(cmsg), sizeof(int));
	}
	if (n != (ssize_t)sizeof(*m) || (msg.msg_flags & (MSG_TRUNC |
	    MSG_CTRUNC))) {
		if (*passfd != -1)
			close(*passfd);
		*passfd = -1;
		return (-1);
	}
	return (1);
}

/* Adds "NAME=VALUE" to an environment being built. */
static void
spawn_env_add(char ***envp, size_t *n, const char *name, const char *value)
{
	*envp = xreallocarray(*envp, *n + 2, sizeof(char *));
	xasprintf(&(*envp)[(*n)++], "%s=%s", name, value);
	(*envp)[*n] = NULL;
}

/* An address's host and port, as UCSPI's variables give them. */
static void
spawn_env_addr(char ***envp, size_t *n, const char *ip, const char *port,
    const struct sockaddr *sa)
{
	char		 host[INET6_ADDRSTRLEN], num[8];
	const void	*a;
	in_port_t	 p;

	if (sa->sa_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		p = ((const struct sockaddr_in6 *)sa)->sin6_port;
	} else if (sa->sa_family == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		p = ((const struct sockaddr_in *)sa)->sin_port;
	} else
		return;
	if (inet_ntop(sa->sa_family, a, host, sizeof(host)) == NULL)
		return;
	(void)snprintf(num, sizeof(num), "%u", (unsigned int)ntohs(p));
	spawn_env_add(envp, n, ip, host);
	spawn_env_add(envp, n, port, num);
	if (strcmp(ip, "TCPREMOTEIP") == 0)
		spawn_env_add(envp, n, "REMOTE_HOST", host);
}

/*
 * The program's whole environment: env and passenv, then what UCSPI and
 * xinetd give (peer NULL: a wait service, whose stdin is not connected).
 */
static char **
spawn_env(const struct service_conf *sc, const struct sockaddr *peer,
    const struct sockaddr *local)
{
	const struct exec_conf	*ex = &sc->sc_exec;
	char			**envp = NULL;
	const char		*v;
	size_t			 n = 0;
	int			 i;

	envp = xcalloc(1, sizeof(char *));
	for (i = 0; i < ex->ex_nenv; i++) {
		envp = xreallocarray(envp, n + 2, sizeof(char *));
		envp[n++] = xstrdup(ex->ex_env[i]);
		envp[n] = NULL;
	}
	for (i = 0; i < ex->ex_npassenv; i++) {
		if ((v = getenv(ex->ex_passenv[i])) != NULL)
			spawn_env_add(&envp, &n, ex->ex_passenv[i], v);
	}
	spawn_env_add(&envp, &n, "PROTO", sc->sc_protocol == EVI_PROTO_UDP ?
	    "UDP" : "TCP");
	if (peer != NULL)
		spawn_env_addr(&envp, &n, "TCPREMOTEIP", "TCPREMOTEPORT",
		    peer);
	if (local != NULL)
		spawn_env_addr(&envp, &n, "TCPLOCALIP", "TCPLOCALPORT", local);
	return (envp);
}

static void
spawn_strv_free(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * In the vfork child: becomes what the service says, then the program.
 * Only system calls from here: our memory is the parent's.
 */
static __attribute__((noreturn)) void
spawn_child(const struct exec_conf *ex, int in, int out, int err,
    char *const argv[], char *const envp[])
{
	static const unsigned long spawn_sigdfl[8];
	struct rlimit		 rl;
	sigset_t		 none;
	size_t			 i;
	int			 sig, fl;

	/*
	 * An ignored signal stays ignored across execve.  glibc's sigaction
	 * refuses the two it keeps for itself (32 and 33), which other
	 * programs may use, so the kernel is asked directly: a zeroed
	 * kernel sigaction is SIG_DFL, no flags, an empty mask, on every
	 * architecture.
	 */
	for (sig = 1; sig < NSIG; sig++)
		(void)syscall(SYS_rt_sigaction, sig, spawn_sigdfl, NULL,
		    (size_t)(NSIG - 1) / 8);
	if (setsid() == -1 || dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
	    dup2(err, 2) == -1)
		goto fail;
	/*
	 * Our sockets are non-blocking; programs written for inetd expect
	 * blocking ones (cat reads EAGAIN as an error).  The flag belongs to
	 * the open socket, which the worker or the supervisor shares, and
	 * neither reads it while the program runs.
	 */
	if ((fl = fcntl(0, F_GETFL)) == -1 ||
	    fcntl(0, F_SETFL, fl & ~O_NONBLOCK) == -1)
		goto fail;
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == -1)
		goto fail;
	for (i = 0; i < EXEC_NRLIMITS; i++) {
		if (!ex->ex_rlimits[i].erv_set)
			continue;
		rl.rlim_cur = rl.rlim_max = ex->ex_rlimits[i].erv_value;
		if (setrlimit(exec_rlimits[i].er_resource, &rl) == -1)
			goto fail;
	}
	umask((mode_t)ex->ex_umask);
	if (ex->ex_nice != 0 &&
	    setpriority(PRIO_PROCESS, 0, (int)ex->ex_nice) == -1)
		goto fail;
	if (geteuid() == 0 &&
	    (syscall(SYS_setgroups, (size_t)ex->ex_ngids - 1,
	    ex->ex_gids + 1) == -1 ||
	    syscall(SYS_setresgid, ex->ex_gid, ex->ex_gid, ex->ex_gid) == -1 ||
	    syscall(SYS_setresuid, ex->ex_uid, ex->ex_uid, ex->ex_uid) == -1))
		goto fail;
	if (chdir(ex->ex_cwd != NULL ? ex->ex_cwd : "/") == -1)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(ex->ex_program, argv, envp);
fail:
	spawn_child_errno = errno;
	_exit(127);
}

/*
 * Runs sc's program with in as stdin and out as stdout; fills in *pid,
 * and *errfd (the read end of its stderr pipe, with stderr = log, else
 * -1).  0, or an errno.
 */
static int
spawn_exec(const struct service_conf *sc, int in, int out,
    const struct sockaddr *peer, const struct sockaddr *local, pid_t *pid,
    int *errfd)
{
	const struct exec_conf	*ex = &sc->sc_exec;
	char			**argv, **envp, *base;
	sigset_t		 all, old;
	pid_t			 child;
	int			 err, pipefd[2] = { -1, -1 }, e = 0, i;

	*errfd = -1;
	*pid = -1;
	switch (ex->ex_stderr) {
	case EXEC_STDERR_SOCKET:
		err = out;
		break;
	case EXEC_STDERR_NULL:
		if ((err = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
			return (errno);
		break;
	default:
		if (pipe2(pipefd, O_CLOEXEC) == -1)
			return (errno);
		err = pipefd[1];
		break;
	}
	argv = xcalloc((size_t)(ex->ex_argc > 0 ? ex->ex_argc : 1) + 1,
	    sizeof(char *));
	if (ex->ex_argc > 0) {
		for (i = 0; i < ex->ex_argc; i++)
			argv[i] = ex->ex_argv[i];
	} else {
		base = strrchr(ex->ex_program, '/');
		argv[0] = base != NULL ? base + 1 : ex->ex_program;
	}
	envp = spawn_env(sc, peer, local);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	spawn_child_errno = 0;
	/*
	 * vfork, deliberately (see the top of the file): the child makes only
	 * system calls until it execs or _exits, which the analyzers cannot
	 * see through spawn_child.
	 */
	/* NOLINTBEGIN(clang-analyzer-security.insecureAPI.vfork) */
	/* NOLINTBEGIN(clang-analyzer-unix.Vfork) */
	/* cppcheck-suppress vforkCalled */
	child = vfork();
	if (child == 0)
		spawn_child(ex, in, out, err, argv, envp);
	/* NOLINTEND(clang-analyzer-unix.Vfork) */
	/* NOLINTEND(clang-analyzer-security.insecureAPI.vfork) */
	if (child == -1)
		e = errno;
	else if (spawn_child_errno != 0) {
		e = spawn_child_errno;
		(void)waitpid(child, NULL, 0);
	}
	*pid = child;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(argv);
	spawn_strv_free(envp);
	if (err != out)
		close(err);
	if (pipefd[0] != -1) {
		if (e == 0)
			*errfd = pipefd[0];
		else
			close(pipefd[0]);
	}
	return (e);
}

/* Logs a line of a program's stderr, at most SPAWN_LOG_LINES a second. */
static void
spawn_log_line(struct spawn_child *ch, const char *line)
{
	struct supervisor	*sup = ch->ch_sup;
	time_t			 now = time(NULL);

	if (sup->s_spawn_logged != now) {
		if (sup->s_spawn_dropped > 0)
			log_warnx("programs' stderr: %llu line%s not logged "
			    "(more than %d a second)",
			    (unsigned long long)sup->s_spawn_dropped,
			    sup->s_spawn_dropped == 1 ? "" : "s",
			    SPAWN_LOG_LINES);
		sup->s_spawn_logged = now;
		sup->s_spawn_lines = 0;
		sup->s_spawn_dropped = 0;
	}
	if (sup->s_spawn_lines++ >= SPAWN_LOG_LINES) {
		sup->s_spawn_dropped++;
		return;
	}
	log_warnx("service \"%s\": pid %ld: %s", ch->ch_service,
	    (long)ch->ch_pid, line);
}

/* A program wrote to its stderr (stderr = log): whole lines go to the log. */
static void
spawn_stderr_cb(evutil_socket_t fd, short events, void *arg)
{
	struct spawn_child	*ch = arg;
	struct evbuffer		*b = ch->ch_errbuf;
	char			*line;
	size_t			 len;
	int			 n;

	(void)events;
	n = evbuffer_read(b, fd, 4096);
	while ((line = evbuffer_readln(b, &len, EVBUFFER_EOL_LF)) != NULL) {
		spawn_log_line(ch, line);
		free(line);
	}
	if (evbuffer_get_length(b) >= SPAWN_LINE_MAX || n <= 0) {
		if (evbuffer_get_length(b) > 0) {
			line = xstrndup((const char *)evbuffer_pullup(b, -1),
			    evbuffer_get_length(b) < SPAWN_LINE_MAX ?
			    evbuffer_get_length(b) : SPAWN_LINE_MAX);
			evbuffer_drain(b, evbuffer_get_length(b));
			spawn_log_line(ch, line);
			free(line);
		}
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		event_del(&ch->ch_errev);
		close(ch->ch_errfd);
		ch->ch_errfd = -1;
	}
}

/* Records a child, and watches its stderr pipe if it has one. */
static struct spawn_child *
spawn_child_new(struct supervisor *sup, const struct service_conf *sc,
    pid_t pid, int errfd)
{
	struct spawn_child	*ch;

	ch = xcalloc(1, sizeof(*ch));
	ch->ch_sup = sup;
	ch->ch_pid = pid;
	ch->ch_service = xstrdup(sc->sc_name);
	ch->ch_protocol = sc->sc_protocol;
	ch->ch_wait = sc->sc_exec.ex_wait;
	ch->ch_errfd = errfd;
	gettimeofday(&ch->ch_started, NULL);
	if (errfd != -1) {
		(void)fcntl(errfd, F_SETFL, O_NONBLOCK);
		if ((ch->ch_errbuf = evbuffer_new()) == NULL)
			fatalx("evbuffer_new failed");
		event_assign(&ch->ch_errev, sup->s_base, errfd,
		    EV_READ | EV_PERSIST, spawn_stderr_cb, ch);
		event_add(&ch->ch_errev, NULL);
	}
	TAILQ_INSERT_TAIL(&sup->s_children, ch, ch_entry);
	sup->s_nchildren++;
	return (ch);
}

static void
spawn_child_free(struct supervisor *sup, struct spawn_child *ch)
{
	if (ch->ch_errfd != -1) {
		/* What it wrote last is still in the pipe. */
		spawn_stderr_cb(ch->ch_errfd, EV_READ, ch);
		if (ch->ch_errfd != -1) {
			event_del(&ch->ch_errev);
			close(ch->ch_errfd);
		}
	}
	if (ch->ch_errbuf != NULL)
		evbuffer_free(ch->ch_errbuf);
	TAILQ_REMOVE(&sup->s_children, ch, ch_entry);
	sup->s_nchildren--;
	free(ch->ch_service);
	free(ch);
}

/* How many programs of a service run now, in every generation. */
static long long
spawn_running(const struct supervisor *sup, const struct service_conf *sc)
{
	const struct spawn_child	*ch;
	long long			 n = 0;

	TAILQ_FOREACH(ch, &sup->s_children, ch_entry) {
		if (ch->ch_protocol == sc->sc_protocol &&
		    strcmp(ch->ch_service, sc->sc_name) == 0)
			n++;
	}
	return (n);
}

/*
 * The service a worker names, if it is one that worker serves with a
 * program for each connection; NULL otherwise (a worker we cannot trust
 * asks for something else).
 */
static const struct service_conf *
spawn_service(const struct wproc *p, uint32_t index)
{
	const struct service_conf	*sc;

	TAILQ_FOREACH(sc, &p->p_gen->g_cf->c_services, sc_entry) {
		if (sc->sc_index == index)
			break;
	}
	if (sc == NULL || sc->sc_exec.ex_program == NULL ||
	    sc->sc_exec.ex_wait || sc->sc_protocol != EVI_PROTO_TCP ||
	    !worker_serves(sc, p->p_group, 0))
		return (NULL);
	return (sc);
}

/*
 * Whether fd is a connection accepted on one of sc's listeners: a TCP
 * socket whose local address is one of theirs.  A worker can pass only
 * descriptors it has, but it must not get a program run on anything
 * else.
 */
static int
spawn_is_conn(const struct service_conf *sc, int fd, union sockunion *peer,
    union sockunion *local)
{
	const struct listener	*l;
	socklen_t		 len;
	int			 type = 0;

	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return (0);
	len = sizeof(*local);
	memset(local, 0, sizeof(*local));
	if (getsockname(fd, &local->sa, &len) == -1)
		return (0);
	len = sizeof(*peer);
	memset(peer, 0, sizeof(*peer));
	if (getpeername(fd, &peer->sa, &len) == -1)
		return (0);
	TAILQ_FOREACH(l, &sc->sc_listeners, l_entry) {
		if (l->l_su.sa.sa_family == AF_INET &&
		    local->sa.sa_family == AF_INET &&
		    l->l_su.sin.sin_port == local->sin.sin_port)
			return (1);
		if (l->l_su.sa.sa_family == AF_INET6 &&
		    local->sa.sa_family == AF_INET6 &&
		    l->l_su.sin6.sin6_port == local->sin6.sin6_port)
			return (1);
		/* A dual-stack [::] socket's IPv4 clients. */
		if (l->l_su.sa.sa_family == AF_INET6 &&
		    local->sa.sa_family == AF_INET &&
		    l->l_su.sin6.sin6_port == local->sin.sin_port)
			return (1);
	}
	return (0);
}

/*
 * Relay mode: fd must be a stream socketpair's end, for a service whose
 * clients come through a balancer (proxy_protocol) or speak TLS; the
 * addresses are the worker's word, as it read them from the PROXY header
 * it checked or from the socket it keeps.
 */
static int
spawn_is_pair(const struct service_conf *sc, const struct spawn_msg *m,
    int fd, union sockunion *peer, union sockunion *local)
{
	socklen_t	len;
	int		type = 0, domain = 0;

	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return (0);
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == -1 ||
	    domain != AF_UNIX || (sc->sc_limits.lim_proxy == 0 &&
	    !sc->sc_limits.lim_tls.tc_on))
		return (0);
	if ((m->sm_peer.sa.sa_family != AF_INET &&
	    m->sm_peer.sa.sa_family != AF_INET6) ||
	    (m->sm_local.sa.sa_family != AF_INET &&
	    m->sm_local.sa.sa_family != AF_INET6))
		return (0);
	*peer = m->sm_peer;
	*local = m->sm_local;
	return (1);
}

/* A worker asks for its connection's program. */
static void
spawn_run(struct supervisor *sup, struct wproc *p, const struct spawn_msg *m,
    int fd)
{
	const struct service_conf	*sc;
	struct spawn_child		*ch;
	struct spawn_msg		 r;
	union sockunion			 peer, local;
	pid_t				 pid;
	int				 e, errfd;

	memset(&r, 0, sizeof(r));
	r.sm_conn = m->sm_conn;
	r.sm_type = SPAWN_FAILED;
	if ((sc = spawn_service(p, m->sm_service)) == NULL ||
	    ((m->sm_flags & SPAWN_F_RELAY) ?
	    !spawn_is_pair(sc, m, fd, &peer, &local) :
	    !spawn_is_conn(sc, fd, &peer, &local))) {
		log_warnx("worker %ld asked for a program with something "
		    "that is not a connection of an exec service; refused",
		    (long)p->p_pid);
		r.sm_status = EPERM;
	} else if (sc->sc_exec.ex_instances > 0 &&
	    spawn_running(sup, sc) >= sc->sc_exec.ex_instances) {
		r.sm_status = EAGAIN;
		r.sm_reason = SPAWN_REASON_INSTANCES;
	} else if ((e = spawn_exec(sc, fd, fd, &peer.sa, &local.sa, &pid,
	    &errfd)) != 0) {
		log_warnx("service \"%s\": cannot run %s: %s", sc->sc_name,
		    sc->sc_exec.ex_program, strerror(e));
		r.sm_status = e;
	} else {
		ch = spawn_child_new(sup, sc, pid, errfd);
		ch->ch_proc = p;
		ch->ch_conn = m->sm_conn;
		ch->ch_index = m->sm_service;
		r.sm_type = SPAWN_STARTED;
		r.sm_pid = pid;
	}
	close(fd);
	(void)spawn_chan_send(&p->p_spawn, &r, -1);
}

/* session_timeout: the worker wants its connection's program gone. */
static void
spawn_kill(struct supervisor *sup, const struct wproc *p,
    const struct spawn_msg *m)
{
	struct spawn_child	*ch;

	TAILQ_FOREACH(ch, &sup->s_children, ch_entry) {
		if (ch->ch_proc == p && ch->ch_conn == m->sm_conn) {
			(void)kill(-ch->ch_pid, SIGKILL);
			return;
		}
	}
}

/* Reads a worker's requests. */
static void
spawn_request_cb(evutil_socket_t fd, short events, void *arg)
{
	struct wproc		*p = arg;
	struct supervisor	*sup = p->p_gen->g_sup;
	struct spawn_msg	 m;
	int			 rv, passfd;

	(void)events;
	while ((rv = spawn_recv(fd, &m, &passfd)) == 1) {
		if (m.sm_type == SPAWN_RUN && passfd != -1)
			spawn_run(sup, p, &m, passfd);
		else if (m.sm_type == SPAWN_KILL && passfd == -1)
			spawn_kill(sup, p, &m);
		else {
			if (passfd != -1)
				close(passfd);
			rv = -1;
			break;
		}
	}
	if (rv == -1 && p->p_pid > 0)
		log_warnx("worker %ld broke its spawn channel; closing it",
		    (long)p->p_pid);
	if (rv < 0)
		spawn_proc_close(p);
}

/* Listens to the worker forked for p on fd, which we now own. */
void
spawn_proc_open(struct wproc *p, int fd)
{
	spawn_chan_open(&p->p_spawn, p->p_gen->g_sup->s_base, fd,
	    spawn_request_cb, p);
}

/* The worker is gone: its programs run on, reported to nobody. */
void
spawn_proc_close(struct wproc *p)
{
	struct spawn_child	*ch;

	if (p->p_spawn.sp_fd == -1)
		return;
	spawn_chan_close(&p->p_spawn);
	TAILQ_FOREACH(ch, &p->p_gen->g_sup->s_children, ch_entry) {
		if (ch->ch_proc == p)
			ch->ch_proc = NULL;
	}
}

/* In a new worker process: the other workers' channels are not ours. */
void
spawn_proc_forget(struct wproc *p)
{
	if (p->p_spawn.sp_fd != -1)
		close(p->p_spawn.sp_fd);
}

/* A wait status for the log: "status 1", "signal 11 (Segmentation fault)". */
static void
spawn_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		(void)snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		(void)snprintf(buf, len, "status %d", WEXITSTATUS(status));
}

/*
 * Reaps one of our programs, if pid is one: its worker hears of it (and
 * logs the connection's end); 1 if it was ours.
 */
int
spawn_reaped(struct supervisor *sup, pid_t pid, int status)
{
	struct spawn_child	*ch;
	struct spawn_msg	 m;
	char			 how[64];

	TAILQ_FOREACH(ch, &sup->s_children, ch_entry) {
		if (ch->ch_pid == pid)
			break;
	}
	if (ch == NULL)
		return (0);
	if (ch->ch_proc != NULL && ch->ch_proc->p_spawn.sp_fd != -1) {
		memset(&m, 0, sizeof(m));
		m.sm_type = SPAWN_EXITED;
		m.sm_service = ch->ch_index;
		m.sm_conn = ch->ch_conn;
		m.sm_pid = pid;
		m.sm_status = status;
		(void)spawn_chan_send(&ch->ch_proc->p_spawn, &m, -1);
	} else if (ch->ch_wait)
		waitsvc_exited(sup, ch, status);
	else {
		spawn_status(status, how, sizeof(how));
		log_info("service \"%s\": pid %ld exited with %s, after its "
		    "worker", ch->ch_service, (long)pid, how);
	}
	spawn_child_free(sup, ch);
	return (1);
}

/* The last resort of a stop: what still runs is killed. */
static void
spawn_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	struct supervisor	*sup = arg;
	struct spawn_child	*ch;

	(void)fd;
	(void)events;
	TAILQ_FOREACH(ch, &sup->s_children, ch_entry) {
		log_warnx("service \"%s\": pid %ld did not stop within "
		    "shutdown_timeout; killing it", ch->ch_service,
		    (long)ch->ch_pid);
		(void)kill(-ch->ch_pid, SIGKILL);
	}
}

/*
 * A stop: each program's process group gets SIGTERM now, and SIGKILL
 * after ms (at once if now is set).
 */
void
spawn_stop(struct supervisor *sup, int now, long long ms)
{
	struct spawn_child	*ch;
	struct timeval		 tv;

	TAILQ_FOREACH(ch, &sup->s_children, ch_entry)
		(void)kill(-ch->ch_pid, now ? SIGKILL : SIGTERM);
	if (now || TAILQ_EMPTY(&sup->s_children))
		return;
	evtimer_assign(&sup->s_spawn_kill, sup->s_base, spawn_kill_cb, sup);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&sup->s_spawn_kill, &tv);
}

/* In a new worker process: the programs' stderr pipes are not ours. */
void
spawn_child_forget(struct supervisor *sup)
{
	struct spawn_child	*ch;

	TAILQ_FOREACH(ch, &sup->s_children, ch_entry) {
		if (ch->ch_errfd != -1)
			close(ch->ch_errfd);
	}
}

/* At exit: nothing is left to watch. */
void
spawn_free(struct supervisor *sup)
{
	struct spawn_child	*ch, *next;

	if (evtimer_initialized(&sup->s_spawn_kill))
		evtimer_del(&sup->s_spawn_kill);
	for (ch = TAILQ_FIRST(&sup->s_children); ch != NULL; ch = next) {
		next = TAILQ_NEXT(ch, ch_entry);
		spawn_child_free(sup, ch);
	}
}

/*
 * Runs a wait service's program on its listening socket s (the service
 * watches it no more until the program exits).  The child, or NULL.
 */
struct spawn_child *
spawn_wait(struct supervisor *sup, const struct service_conf *sc, int s)
{
	union sockunion	 local;
	socklen_t	 len = sizeof(local);
	pid_t		 pid;
	int		 e, errfd;

	memset(&local, 0, sizeof(local));
	(void)getsockname(s, &local.sa, &len);
	if ((e = spawn_exec(sc, s, s, NULL, &local.sa, &pid, &errfd)) != 0) {
		log_warnx("service \"%s\": cannot run %s: %s", sc->sc_name,
		    sc->sc_exec.ex_program, strerror(e));
		return (NULL);
	}
	return (spawn_child_new(sup, sc, pid, errfd));
}
