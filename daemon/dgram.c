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
 * Datagram services.  Each datagram is one call of the module's dgram
 * callback, with the payload and the peer; evi_dgram_reply answers it
 * from the socket it arrived on.  A batch of datagrams is read per event
 * so a busy UDP service does not starve the loop or the other services.
 *
 * The reflection guard (on unless a service says "reflection_guard = no")
 * drops datagrams that no real client sends: from a source port below
 * 1024, where another small service may be listening (two chargens or
 * echos answering each other forever is the classic UDP loop; this covers
 * the well-known small-service ports 7, 9, 13, 17, 19 and 37 on any
 * address); from a local address and a port one of our own UDP services
 * listens on, which would start the same loop between two of our
 * services on any port; and from broadcast, multicast or unspecified
 * sources, which are spoofed by definition and would turn us into an
 * amplifier.  Drops are counted and summarised in the log as every
 * refusal is (limits.c).  Access lists, rate limits and the per-source
 * reply budget apply to datagrams as they do to connections.
 *
 * The own-port check costs one bit test per datagram: the ports of every
 * UDP listener of the configuration (all services, not just this
 * worker's, with the real port of "port 0") are a bitmap.  Only a
 * datagram from one of those ports asks whether its source address is
 * local: loopback (127.0.0.0/8, ::1), or one of the host's addresses,
 * read with getifaddrs(3) when first needed and again at most once a
 * second when an address is not found, so an address added later is
 * known within a second and a flood from a remote address costs at most
 * one re-read a second.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

#define DGRAM_BATCH	32
#define DGRAM_KEYLEN	17	/* family, then the address */
#define OWN_PORT	"source is a local port of one of our UDP services"

/* What the guard knows of this host: our UDP ports and its addresses. */
struct dgram_guard {
	uint8_t		  dg_ports[65536 / 8];
	uint8_t		(*dg_addrs)[DGRAM_KEYLEN];	/* sorted */
	size_t		  dg_naddrs;
	time_t		  dg_loaded;	/* 0: not read yet */
};

/* Collects the ports of every UDP socket the configuration has bound. */
void
dgram_guard_build(struct config *cf)
{
	struct service_conf	*sc;
	struct listener		*l;
	in_port_t		 port;

	dgram_guard_free(cf);
	cf->c_guard = xcalloc(1, sizeof(*cf->c_guard));
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry) {
			if (l->l_protocol != EVI_PROTO_UDP)
				continue;
			port = ntohs(l->l_su.sa.sa_family == AF_INET ?
			    l->l_su.sin.sin_port : l->l_su.sin6.sin6_port);
			cf->c_guard->dg_ports[port / 8] |= 1 << (port % 8);
		}
	}
}

void
dgram_guard_free(struct config *cf)
{
	if (cf->c_guard == NULL)
		return;
	free(cf->c_guard->dg_addrs);
	free(cf->c_guard);
	cf->c_guard = NULL;
}

static int
dgram_key_cmp(const void *a, const void *b)
{
	return (memcmp(a, b, DGRAM_KEYLEN));
}

/* Reduces an address to its key; an IPv4-mapped one becomes IPv4. */
static void
dgram_key(const struct sockaddr *sa, uint8_t key[DGRAM_KEYLEN])
{
	int	family;

	acl_peer(sa, &family, key + 1);
	key[0] = (uint8_t)family;
}

/*
 * Reads the host's addresses, and those our sockets are bound to (a
 * non-local bind is possible), into a sorted array.  On failure the
 * previous list stays.
 */
static void
dgram_guard_load(struct dgram_guard *g, struct config *cf, time_t now)
{
	struct ifaddrs		*ifa, *i;
	struct service_conf	*sc;
	struct listener		*l;
	uint8_t			(*keys)[DGRAM_KEYLEN];
	size_t			 n = 0, max = 0;

	g->dg_loaded = now;
	if (getifaddrs(&ifa) == -1) {
		/* At most once a second, like the read itself. */
		log_warn("reflection guard: cannot list this host's addresses; "
		    "keeping the previous list");
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next)
		max++;
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry)
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			max++;
	keys = xreallocarray(NULL, max + 1, sizeof(*keys));
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr != NULL && (i->ifa_addr->sa_family ==
		    AF_INET || i->ifa_addr->sa_family == AF_INET6))
			dgram_key(i->ifa_addr, keys[n++]);
	}
	freeifaddrs(ifa);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry)
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			dgram_key(&l->l_su.sa, keys[n++]);
	qsort(keys, n, sizeof(*keys), dgram_key_cmp);
	free(g->dg_addrs);
	g->dg_addrs = keys;
	g->dg_naddrs = n;
}

/* Is this source address one of this host's own? */
static int
dgram_local(struct evi_service *svc, struct dgram_guard *g,
    const union sockunion *su)
{
	struct config	*cf = svc->s_worker->w_config;
	uint8_t		 key[DGRAM_KEYLEN];
	time_t		 now;
	const uint8_t	 loop6[16] = { [15] = 1 };

	dgram_key(&su->sa, key);
	if ((key[0] == AF_INET && key[1] == 127) || (key[0] == AF_INET6 &&
	    memcmp(key + 1, loop6, sizeof(loop6)) == 0))
		return (1);
	if (g->dg_naddrs > 0 && bsearch(key, g->dg_addrs, g->dg_naddrs,
	    DGRAM_KEYLEN, dgram_key_cmp) != NULL)
		return (1);
	now = (time_t)(timerq_now() / 1000);
	if (now == g->dg_loaded)
		return (0);
	dgram_guard_load(g, cf, now);
	return (g->dg_naddrs > 0 && bsearch(key, g->dg_addrs, g->dg_naddrs,
	    DGRAM_KEYLEN, dgram_key_cmp) != NULL);
}

/* Is the source one of our own UDP services, as in a loop between two? */
static int
dgram_own(struct evi_service *svc, const union sockunion *su, in_port_t port)
{
	struct dgram_guard	*g;

	if (svc->s_worker == NULL ||
	    (g = svc->s_worker->w_config->c_guard) == NULL ||
	    !(g->dg_ports[port / 8] & (1 << (port % 8))))
		return (0);
	return (dgram_local(svc, g, su));
}

/*
 * Is an IPv4 address (network order) one no genuine client sends from?
 * Subnet broadcast addresses depend on the interface's prefix, and an
 * address ending in .255 is a valid host in a /23, so only the limited
 * broadcast is recognised.
 */
static int
dgram_bad_v4(in_addr_t a)
{
	uint32_t	h = ntohl(a);

	return (h == INADDR_ANY || h == INADDR_BROADCAST || IN_MULTICAST(h));
}

/* Says why a datagram must be dropped, or NULL if it may be answered. */
static const char *
dgram_reflection(struct evi_service *svc, const union sockunion *su)
{
	const struct in6_addr	*a6;
	in_addr_t		 a4;
	in_port_t		 port;

	if (su->sa.sa_family == AF_INET) {
		if ((port = ntohs(su->sin.sin_port)) < 1024)
			return ("privileged source port");
		if (dgram_bad_v4(su->sin.sin_addr.s_addr))
			return ("broadcast, multicast or unspecified source");
		if (dgram_own(svc, su, port))
			return (OWN_PORT);
		return (NULL);
	}
	if (su->sa.sa_family == AF_INET6) {
		if ((port = ntohs(su->sin6.sin6_port)) < 1024)
			return ("privileged source port");
		a6 = &su->sin6.sin6_addr;
		if (IN6_IS_ADDR_MULTICAST(a6) || IN6_IS_ADDR_UNSPECIFIED(a6))
			return ("broadcast, multicast or unspecified source");
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(&a4, &a6->s6_addr[12], sizeof(a4));
			if (dgram_bad_v4(a4))
				return ("broadcast, multicast or "
				    "unspecified source");
		}
		if (dgram_own(svc, su, port))
			return (OWN_PORT);
		return (NULL);
	}
	return ("unknown address family");
}

/* Reads a batch of datagrams and hands each to the module. */
void
dgram_recv(evutil_socket_t fd, short events, void *arg)
{
	struct listener		*l = arg;
	struct evi_service	*svc = l->l_svc;
	struct worker		*w = svc->s_worker;
	union sockunion		 peer;
	struct evi_dgram	 d;
	const char		*why, *result;
	struct source		*src;
	uint64_t		 out;
	enum evi_refuse_reason	 reason;
	socklen_t		 len;
	ssize_t			 n;
	int			 i;

	(void)events;
	for (i = 0; i < DGRAM_BATCH; i++) {
		/*
		 * A datagram socket always reports the sender, but should it
		 * not, the guard sees an unknown family rather than whatever
		 * the buffer held.
		 */
		peer.sa.sa_family = AF_UNSPEC;
		len = sizeof(peer);
		n = recvfrom(fd, w->w_dgrambuf, sizeof(w->w_dgrambuf), 0,
		    &peer.sa, &len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("service \"%s\": recvfrom on %s",
				    svc->s_conf->sc_name, l->l_name);
			return;
		}
		svc->s_stats->st_dgrams_in++;
		svc->s_stats->st_bytes_in += (uint64_t)n;
		if (svc->s_conf->sc_reflection_guard &&
		    (why = dgram_reflection(svc, &peer)) != NULL) {
			limits_refused(svc, EVI_REFUSE_REFLECTION, &peer.sa,
			    why);
			if (svc->s_conf->sc_log_connections)
				stats_log_dgram(svc, l, &peer.sa, (size_t)n, 0,
				    "reflection");
			continue;
		}
		if (!limits_admit(svc, &peer.sa, 0, &src, &reason, &why)) {
			limits_refused(svc, reason, &peer.sa, why);
			if (svc->s_conf->sc_log_connections)
				stats_log_dgram(svc, l, &peer.sa, (size_t)n, 0,
				    evi_refuse_reason_string(reason));
			continue;
		}
		out = svc->s_stats->st_bytes_out;
		result = "ok";
		if (svc->s_mod->dgram != NULL) {
			d.data = w->w_dgrambuf;
			d.len = (size_t)n;
			d.peer = &peer.sa;
			d.peerlen = len;
			svc->s_dgram = &d;
			svc->s_dgram_listener = l;
			svc->s_dgram_src = src;
			if (svc->s_mod->dgram(svc, &d) != 0) {
				svc->s_stats->st_module_errors++;
				result = "module_error";
			}
			svc->s_dgram = NULL;
			svc->s_dgram_listener = NULL;
			svc->s_dgram_src = NULL;
		}
		if (svc->s_conf->sc_log_connections)
			stats_log_dgram(svc, l, &peer.sa, (size_t)n,
			    svc->s_stats->st_bytes_out - out, result);
	}
}

int
evi_dgram_reply(struct evi_service *svc, const struct evi_dgram *d,
    const void *data, size_t len)
{
	struct listener	*l = svc->s_dgram_listener;
	ssize_t		 n;

	if (l == NULL || svc->s_dgram != d) {
		errno = EINVAL;
		return (-1);
	}
	if (len > EVI_DGRAM_MAX) {
		errno = EMSGSIZE;
		return (-1);
	}
	/* Withheld by the budget: lost, as the network may lose it. */
	if (svc->s_dgram_src != NULL &&
	    !limits_reply(svc, svc->s_dgram_src, d->peer, len))
		return (0);
	n = sendto(l->l_fd, data, len, 0, d->peer, d->peerlen);
	if (n == -1)
		return (-1);
	svc->s_stats->st_dgrams_out++;
	svc->s_stats->st_bytes_out += (uint64_t)n;
	return (0);
}
