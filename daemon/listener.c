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
 * Listening sockets.  Binding happens once per config generation, before
 * privileges are dropped; a worker then attaches its accept (or datagram)
 * event to each socket.  The accept loop shrugs off the transient errors
 * (EAGAIN, EINTR, ECONNABORTED) and, when the process is out of
 * descriptors, pauses the listener and retries from a timer instead of
 * spinning on a socket that stays readable.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <linux/filter.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

static void	listener_accept(evutil_socket_t, short, void *);
static void	listener_add(struct service_conf *, int, int, int, int);
static void	listener_resume(evutil_socket_t, short, void *);

/* Adds a hint to bind errors that users commonly hit. */
static const char *
listener_hint(int error, in_port_t port)
{
	if (error == EACCES && port < 1024)
		return (" (ports below 1024 need root)");
	if (error == EADDRINUSE)
		return (" (is another server listening there?)");
	if (error == EADDRNOTAVAIL)
		return (" (no interface has this address)");
	return ("");
}

/*
 * Creates, binds and (for TCP) listens on one socket address; with
 * reuseport the socket joins the address's SO_REUSEPORT group, whose
 * sockets the kernel balances new connections over.  SO_REUSEADDR is for
 * TCP only, to rebind past TIME_WAIT: on a Linux datagram socket it lets
 * any user bind the same address and port and steal the datagrams.
 * SO_REUSEPORT is safe, the kernel admits only sockets of the same uid.
 */
static int
listener_socket(const union sockunion *su, socklen_t len, int protocol,
    int reuseport, int *fdp)
{
	int	fd, on = 1, type, saved;

	type = protocol == EVI_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	fd = socket(su->sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR,
	    &on, sizeof(on)) == -1)
		goto fail;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1)
		goto fail;
	if (su->sa.sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, &su->sa, len) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	*fdp = fd;
	return (0);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

/*
 * Records a bound (or inherited) socket on its service and logs its real
 * address: once per address, so a reuseport group of sockets is one line.
 */
static void
listener_add(struct service_conf *sc, int fd, int protocol, int index,
    int inherited)
{
	struct listener	*l;

	l = xcalloc(1, sizeof(*l));
	l->l_sc = sc;
	l->l_fd = fd;
	l->l_protocol = protocol;
	l->l_index = index;
	l->l_len = sizeof(l->l_su);
	if (getsockname(fd, &l->l_su.sa, &l->l_len) == -1)
		fatal("getsockname");
	addr_string(&l->l_su.sa, l->l_name, sizeof(l->l_name));
	TAILQ_INSERT_TAIL(&sc->sc_listeners, l, l_entry);
	if (index == -1)
		log_info("service \"%s\": listening on %s (%s%s)", sc->sc_name,
		    l->l_name, protocol == EVI_PROTO_UDP ? "udp" : "tcp",
		    inherited ? ", from systemd" : "");
	else if (index == 0)
		log_info("service \"%s\": listening on %s (%s), one socket "
		    "per worker (reuseport%s)", sc->sc_name, l->l_name,
		    protocol == EVI_PROTO_UDP ? "udp" : "tcp",
		    sc->sc_steer ? ", by source address" : "");
}

/* Fills in the "*:PORT" pair of addresses. */
static void
listener_any_addrs(in_port_t port, union sockunion *su6, union sockunion *su4)
{
	memset(su6, 0, sizeof(*su6));
	su6->sin6.sin6_family = AF_INET6;
	su6->sin6.sin6_addr = in6addr_any;
	su6->sin6.sin6_port = htons(port);
	memset(su4, 0, sizeof(*su4));
	su4->sin.sin_family = AF_INET;
	su4->sin.sin_addr.s_addr = htonl(INADDR_ANY);
	su4->sin.sin_port = htons(port);
}

/*
 * Binds "*:PORT": IPv6 and IPv4 sockets on the same port.  For port 0 the
 * IPv6 socket picks the port and IPv4 follows; if that port is taken for
 * IPv4, a few fresh tries are made.  A host without IPv6 serves IPv4.
 * The port actually bound is returned in *portp.
 */
static int
listener_bind_any(struct service_conf *sc, struct listen_conf *lc,
    in_port_t *portp, int index, char **cause)
{
	union sockunion	 su6, su4;
	socklen_t	 len;
	in_port_t	 want = *portp, port = want;
	int		 fd6 = -1, fd4 = -1, tries;
	int		 reuse = index != -1;

	for (tries = 0; tries < 16; tries++) {
		listener_any_addrs(want, &su6, &su4);
		fd6 = -1;
		if (listener_socket(&su6, sizeof(su6.sin6), sc->sc_protocol,
		    reuse, &fd6) == -1) {
			if (errno != EAFNOSUPPORT) {
				xasprintf(cause, "[::]:%u: %s%s", want,
				    strerror(errno), listener_hint(errno,
				    want));
				return (-1);
			}
			if (index <= 0)
				log_info("service \"%s\": no IPv6 on this "
				    "host, %s serves IPv4 only", sc->sc_name,
				    lc->lc_text);
		} else {
			len = sizeof(su6);
			if (getsockname(fd6, &su6.sa, &len) == -1)
				fatal("getsockname");
			port = ntohs(su6.sin6.sin6_port);
		}
		su4.sin.sin_port = htons(port);
		if (listener_socket(&su4, sizeof(su4.sin), sc->sc_protocol,
		    reuse, &fd4) == 0)
			break;
		if (fd6 != -1)
			close(fd6);
		if (errno != EADDRINUSE || want != 0) {
			xasprintf(cause, "0.0.0.0:%u: %s%s", port,
			    strerror(errno), listener_hint(errno, port));
			return (-1);
		}
	}
	if (tries == 16) {
		xasprintf(cause, "no ephemeral port free for both IPv4 and "
		    "IPv6");
		return (-1);
	}
	if (fd4 != -1 && port == 0) {
		len = sizeof(su4);
		if (getsockname(fd4, &su4.sa, &len) == -1)
			fatal("getsockname");
		port = ntohs(su4.sin.sin_port);
	}
	if (fd6 != -1)
		listener_add(sc, fd6, sc->sc_protocol, index, 0);
	listener_add(sc, fd4, sc->sc_protocol, index, 0);
	*portp = port;
	return (0);
}

/* Is this old socket the same protocol and address as su? */
static int
listener_same(const struct listener *l, int protocol, const union sockunion *su)
{
	return (l->l_protocol == protocol && addr_same(&l->l_su, su));
}

/*
 * Takes over a socket of the previous generation with the same address
 * (and, with reuseport, the same process index), so a reload never closes
 * and reopens a listening socket (which would refuse clients in between,
 * or fail if the port is taken meanwhile).  The new generation gets its
 * own descriptor of the same socket.
 */
static int
listener_reuse(struct config *old, struct service_conf *sc,
    const union sockunion *su, int index)
{
	struct service_conf	*osc;
	struct listener		*l;
	int			 fd;

	if (old == NULL)
		return (0);
	TAILQ_FOREACH(osc, &old->c_services, sc_entry) {
		TAILQ_FOREACH(l, &osc->sc_listeners, l_entry) {
			if (l->l_claimed || l->l_fd == -1 ||
			    l->l_index != index ||
			    !listener_same(l, sc->sc_protocol, su))
				continue;
			if ((fd = fcntl(l->l_fd, F_DUPFD_CLOEXEC, 0)) == -1)
				return (0);
			l->l_claimed = 1;
			listener_add(sc, fd, sc->sc_protocol, index, 0);
			log_debug("service \"%s\": %s reused from the previous "
			    "configuration", sc->sc_name, l->l_name);
			return (1);
		}
	}
	return (0);
}

/* Reuses the *:PORT pair of the previous generation, if it had one. */
static int
listener_reuse_any(struct config *old, struct service_conf *sc, in_port_t port,
    int index)
{
	union sockunion	 su6, su4;

	if (old == NULL || port == 0)
		return (0);
	listener_any_addrs(port, &su6, &su4);
	if (!listener_reuse(old, sc, &su4, index))
		return (0);
	(void)listener_reuse(old, sc, &su6, index);
	return (1);
}

/*
 * A socket cannot join a SO_REUSEPORT group after binding, and a plain
 * socket blocks one, so switching reuseport on a live address needs a
 * restart.  Says so instead of failing with EADDRINUSE.
 */
static int
listener_switched(struct config *old, const struct service_conf *sc,
    const union sockunion *su)
{
	struct service_conf	*osc;
	struct listener		*l;

	if (old == NULL)
		return (0);
	TAILQ_FOREACH(osc, &old->c_services, sc_entry) {
		TAILQ_FOREACH(l, &osc->sc_listeners, l_entry) {
			if (l->l_fd != -1 && listener_same(l, sc->sc_protocol,
			    su) && (l->l_index != -1) != (sc->sc_reuseport != 0))
				return (1);
		}
	}
	return (0);
}

/*
 * Serves "*:PORT" from what systemd passed for one of its families: the
 * other family is bound here (or reused from old), unless the passed
 * socket is a dual-stack [::] that serves IPv4 as well.
 */
static int
listener_inherit_rest(struct config *old, struct service_conf *sc,
    union sockunion *su, const int *taken, char **cause)
{
	int	i, fd;

	if (taken[0] && taken[1])
		return (0);
	if (taken[0] && sockact_dualstack(&su[0]))
		return (0);
	i = taken[0] ? 1 : 0;
	if (listener_reuse(old, sc, &su[i], -1))
		return (0);
	if (listener_socket(&su[i], addr_len(&su[i].sa), sc->sc_protocol, 0,
	    &fd) == -1) {
		if (i == 0 && errno == EAFNOSUPPORT)
			return (0);
		xasprintf(cause, "%s: %s%s", i == 0 ? "[::]" : "0.0.0.0",
		    strerror(errno), listener_hint(errno, ntohs(
		    su[1].sin.sin_port)));
		return (-1);
	}
	listener_add(sc, fd, sc->sc_protocol, -1, 0);
	return (0);
}

/*
 * Takes what systemd passed for one listen address: every socket of its
 * name (fd:NAME), or the socket bound to the address.  Returns 1 if the
 * address is served so, 0 if nothing was passed for it, -1 on error.  An
 * inherited socket is one socket, shared by all the service's workers
 * whatever "reuseport" says.
 */
static int
listener_inherit(struct config *old, struct service_conf *sc,
    struct listen_conf *lc, char **cause)
{
	union sockunion	 su[2];
	size_t		 pos = 0, i, n = 1;
	int		 fd, rv, found = 0, taken[2] = { 0, 0 };

	if (lc->lc_fdname != NULL) {
		while ((rv = sockact_claim_name(sc, lc->lc_fdname, &pos, &fd,
		    cause)) == 1) {
			listener_add(sc, fd, sc->sc_protocol, -1, 1);
			found = 1;
		}
		if (rv == 0 && !found)
			xasprintf(cause, "no socket named \"%s\" was passed",
			    lc->lc_fdname);
		return (rv == 0 && found ? 1 : -1);
	}
	if (lc->lc_addr.la_port == 0)
		return (0);
	su[0] = lc->lc_addr.la_su;
	if (lc->lc_addr.la_any) {
		listener_any_addrs(lc->lc_addr.la_port, &su[0], &su[1]);
		n = 2;
	}
	for (i = 0; i < n; i++) {
		if ((rv = sockact_claim_addr(sc, &su[i], &fd, cause)) == -1)
			return (-1);
		if (rv == 1) {
			listener_add(sc, fd, sc->sc_protocol, -1, 1);
			taken[i] = found = 1;
		}
	}
	if (!found)
		return (0);
	if (n == 2 && listener_inherit_rest(old, sc, su, taken, cause) != 0)
		return (-1);
	return (1);
}

/*
 * Builds the classic BPF program that picks a reuseport group's socket
 * by the client's address: the IPv4 source, or the first prefix6 bits
 * of the IPv6 one (the part per_source counts by), xor'ed into one word,
 * mixed by a multiplicative hash and taken modulo n.  Socket i of the
 * group is worker i's, so each source always reaches the same worker.
 */
static size_t
listener_steer_code(struct sock_filter *code, size_t n, int prefix6)
{
	size_t		 len = 0, v6, mix, w;
	uint32_t	 mask;
	int		 bits;

	code[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS,
	    SKF_NET_OFF);
	code[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K,
	    4);
	v6 = len++;
	code[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    SKF_NET_OFF + 12);
	mix = len++;
	code[v6] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6,
	    (uint8_t)(len - v6 - 1), 0);
	code[len++] = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_W | BPF_IMM,
	    0);
	for (w = 0, bits = prefix6; w < 4 && bits > 0; w++, bits -= 32) {
		mask = bits >= 32 ? 0xffffffffU : ~(0xffffffffU >> bits);
		code[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W |
		    BPF_ABS, SKF_NET_OFF + 8 + 4 * (int)w);
		code[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND |
		    BPF_K, mask);
		code[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR |
		    BPF_X, 0);
		code[len++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX,
		    0);
	}
	code[len++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TXA, 0);
	code[mix] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA,
	    (uint32_t)(len - mix - 1), 0, 0);
	code[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MUL | BPF_K,
	    0x9E3779B1U);
	code[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K,
	    16);
	code[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K,
	    (uint32_t)n);
	code[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	return (len);
}

/*
 * Steers the reuseport group of fd by source address over its n
 * sockets, or, for a service that no longer needs it, takes a program
 * a previous configuration attached off the group.  A program set on
 * any socket applies to the whole group; it is set again at every bind
 * or reload, so it always has the current n.
 */
static int
listener_steer(const struct service_conf *sc, int fd, size_t n)
{
	struct sock_filter	code[32];
	struct sock_fprog	prog;
	int			dummy = 0;

	if (!sc->sc_steer) {
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &dummy,
		    sizeof(dummy)) == -1 && errno != ENOENT)
			return (-1);
		return (0);
	}
	/* All of it: the padding after len goes to the kernel too. */
	memset(&prog, 0, sizeof(prog));
	prog.len = (unsigned short)listener_steer_code(code, n,
	    (int)sc->sc_limits.lim_prefix6);
	prog.filter = code;
	return (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog)));
}

/*
 * Sets the steering of every reuseport group bound for one listen
 * address: the listeners of sc after first (or all, if first is NULL).
 */
static int
listener_steer_all(struct service_conf *sc, struct listener *first, size_t n,
    char **cause)
{
	struct listener	*l;

	l = first == NULL ? TAILQ_FIRST(&sc->sc_listeners) :
	    TAILQ_NEXT(first, l_entry);
	for (; l != NULL; l = TAILQ_NEXT(l, l_entry)) {
		if (l->l_index != 0)
			continue;
		if (listener_steer(sc, l->l_fd, n) == -1) {
			xasprintf(cause, "%s: steering by source address: %s",
			    l->l_name, strerror(errno));
			return (-1);
		}
		if (sc->sc_steer)
			log_debug("service \"%s\": %s: each source address "
			    "reaches one of %zu workers", sc->sc_name,
			    l->l_name, n);
	}
	return (0);
}

/* Binds one listen address: one socket, or with reuseport one per process. */
static int
listener_bind_one(struct config *cf, struct config *old,
    struct service_conf *sc, struct listen_conf *lc, char **cause)
{
	union sockunion	 su, su6;
	struct listener	*l, *first;
	in_port_t	 port = lc->lc_addr.la_port;
	size_t		 i, n = sc->sc_reuseport ? config_procs(cf, sc) : 1;
	int		 fd, index, rv;

	if ((rv = listener_inherit(old, sc, lc, cause)) != 0)
		return (rv == 1 ? 0 : -1);
	su = lc->lc_addr.la_su;
	if (lc->lc_addr.la_any)
		listener_any_addrs(port, &su6, &su);
	if (port != 0 && (listener_switched(old, sc, &su) ||
	    (lc->lc_addr.la_any && listener_switched(old, sc, &su6)))) {
		xasprintf(cause, "\"reuseport\" cannot change while the "
		    "address is in use; restart evinetd to switch");
		return (-1);
	}
	first = TAILQ_LAST(&sc->sc_listeners, listeners);
	for (i = 0; i < n; i++) {
		index = sc->sc_reuseport ? (int)i : -1;
		if (lc->lc_addr.la_any) {
			if (listener_reuse_any(old, sc, port, index))
				continue;
			if (listener_bind_any(sc, lc, &port, index, cause) != 0)
				return (-1);
			continue;
		}
		if (port != 0 && listener_reuse(old, sc, &su, index))
			continue;
		if (listener_socket(&su, lc->lc_addr.la_len, sc->sc_protocol,
		    sc->sc_reuseport, &fd) == -1) {
			xasprintf(cause, "%s%s", strerror(errno),
			    listener_hint(errno, port));
			return (-1);
		}
		listener_add(sc, fd, sc->sc_protocol, index, 0);
		/* The first socket picked the port; the others join it. */
		l = TAILQ_LAST(&sc->sc_listeners, listeners);
		if (su.sa.sa_family == AF_INET)
			su.sin.sin_port = l->l_su.sin.sin_port;
		else
			su.sin6.sin6_port = l->l_su.sin6.sin6_port;
		port = ntohs(su.sa.sa_family == AF_INET ? su.sin.sin_port :
		    su.sin6.sin6_port);
	}
	return (listener_steer_all(sc, first, n, cause));
}

/*
 * Binds every listen address of one service, reporting each failure;
 * with old, sockets of that generation are reused where addresses match
 * (never for port 0, which asks for a fresh port).
 */
static int
listener_bind(struct config *cf, struct config *old, struct service_conf *sc)
{
	struct listen_conf	*lc;
	char			*why;
	int			 failed = 0;

	TAILQ_FOREACH(lc, &sc->sc_listens, lc_entry) {
		if (listener_bind_one(cf, old, sc, lc, &why) == 0)
			continue;
		log_warnx("%s:%d: service \"%s\": listen %s: %s",
		    lc->lc_file, lc->lc_line, sc->sc_name, lc->lc_text, why);
		free(why);
		failed++;
	}
	return (failed ? -1 : 0);
}

/* Binds all services; every failure is logged, not just the first. */
int
listener_bind_all(struct config *cf, struct config *old)
{
	struct service_conf	*sc;
	struct listener		*l;
	int			 rv = 0;

	sockact_unclaim();
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (listener_bind(cf, old, sc) != 0)
			rv = -1;
	}
	if (rv == 0)
		sockact_warn_unused();
	if (old != NULL) {
		TAILQ_FOREACH(sc, &old->c_services, sc_entry)
			TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
				l->l_claimed = 0;
	}
	dgram_guard_build(cf);
	return (rv);
}

/* Starts serving a bound socket on a worker's event base. */
void
listener_attach(struct listener *l, struct evi_service *svc)
{
	l->l_svc = svc;
	if (l->l_protocol == EVI_PROTO_UDP)
		event_assign(&l->l_ev, svc->s_base, l->l_fd,
		    EV_READ | EV_PERSIST, dgram_recv, l);
	else
		event_assign(&l->l_ev, svc->s_base, l->l_fd,
		    EV_READ | EV_PERSIST, listener_accept, l);
	evtimer_assign(&l->l_pause, svc->s_base, listener_resume, l);
	event_add(&l->l_ev, NULL);
	l->l_attached = 1;
}

void
listener_detach(struct listener *l)
{
	if (!l->l_attached)
		return;
	event_del(&l->l_ev);
	event_del(&l->l_pause);
	l->l_attached = 0;
	l->l_svc = NULL;
}

/* Closes every listening socket of a generation (stop, or config free). */
void
listener_close_all(struct config *cf)
{
	struct service_conf	*sc;
	struct listener		*l;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		while ((l = TAILQ_FIRST(&sc->sc_listeners)) != NULL) {
			TAILQ_REMOVE(&sc->sc_listeners, l, l_entry);
			listener_detach(l);
			if (l->l_fd != -1)
				close(l->l_fd);
			free(l);
		}
	}
	dgram_guard_free(cf);
}

/* Out of descriptors: stop watching this socket for a moment. */
static void
listener_pause(struct listener *l, int error)
{
	struct timeval	tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	time_t		now = (time_t)(timerq_now() / 1000);

	l->l_svc->s_stats->st_refused[EVI_REFUSE_FD]++;
	l->l_fd_paused = 1;
	if (evtimer_pending(&l->l_pause, NULL))
		return;
	event_del(&l->l_ev);
	evtimer_add(&l->l_pause, &tv);
	/* While it lasts, say so once every 10 s, with the count. */
	l->l_pauses++;
	if (l->l_pause_logged != 0 && now - l->l_pause_logged < 10)
		return;
	log_warnx("service \"%s\": accept on %s: %s; pausing this listener "
	    "for %d ms (%llu pause%s since the last report)", l->l_sc->sc_name,
	    l->l_name, strerror(error), ACCEPT_PAUSE_MS,
	    (unsigned long long)l->l_pauses, l->l_pauses == 1 ? "" : "s");
	l->l_pause_logged = now;
	l->l_pauses = 0;
}

static void
listener_resume(evutil_socket_t fd, short events, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)events;
	if (l->l_attached)
		event_add(&l->l_ev, NULL);
}

/*
 * Applies the service's access list, the operator's disable and the
 * limits (all in limits_admit) to a new connection: a refused client
 * gets the optional one-line banner and is closed before any module sees
 * it.  For a proxied connection sa is the client the
 * header named, and pi (freed here if refused) the rest of the header.
 */
void
listener_admit(struct evi_service *svc, int s, const struct sockaddr *sa,
    socklen_t len, struct proxy_info *pi)
{
	const char		*banner = svc->s_conf->sc_limits.lim_banner;
	struct source		*src;
	const char		*detail;
	enum evi_refuse_reason	 reason;

	if (limits_admit(svc, sa, 1, &src, &reason, &detail)) {
		conn_accept(svc, s, sa, len, src, pi);
		return;
	}
	free(pi);
	if (banner != NULL && reason != EVI_REFUSE_ACL) {
		(void)send(s, banner, strlen(banner), MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		(void)send(s, "\r\n", 2, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	close(s);
	limits_refused(svc, reason, sa, detail);
}

/* Accepts a batch of connections and hands each to a new conn. */
static void
listener_accept(evutil_socket_t fd, short events, void *arg)
{
	struct listener	*l = arg;
	union sockunion	 su;
	socklen_t	 len;
	int		 s, i;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH && l->l_attached; i++) {
		len = sizeof(su);
		s = accept4(fd, &su.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EAGAIN:
				return;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				listener_pause(l, errno);
				return;
			default:
				log_warn("service \"%s\": accept on %s",
				    l->l_sc->sc_name, l->l_name);
				return;
			}
		}
		l->l_fd_paused = 0;
		if (l->l_sc->sc_limits.lim_proxy != 0)
			proxy_start(l->l_svc, s, &su.sa, len);
		else
			listener_admit(l->l_svc, s, &su.sa, len, NULL);
	}
}

/*
 * What the state dump says of a listener: the reason it does not
 * accept, if any, since "paused" alone could mean a drain or a lack of
 * descriptors, which call for different actions.
 */
const char *
listener_state(const struct listener *l)
{
	if (l->l_fd == -1)
		return (", another worker's");
	if (!l->l_attached)
		return (", detached (draining)");
	if (l->l_fd_paused)
		return (", paused (out of descriptors, retrying)");
	return ("");
}
