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
 * echos answering each other forever is the classic UDP loop), and from
 * broadcast, multicast or unspecified sources, which are spoofed by
 * definition and would turn us into an amplifier.  Drops are counted and
 * summarised in the log as every refusal is (limits.c).  Access lists
 * and rate limits apply to datagrams as they do to connections.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "evinetd.h"

#define DGRAM_BATCH	32

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
dgram_reflection(const union sockunion *su)
{
	const struct in6_addr	*a6;
	in_addr_t		 a4;

	if (su->sa.sa_family == AF_INET) {
		if (ntohs(su->sin.sin_port) < 1024)
			return ("privileged source port");
		if (dgram_bad_v4(su->sin.sin_addr.s_addr))
			return ("broadcast, multicast or unspecified source");
		return (NULL);
	}
	if (su->sa.sa_family == AF_INET6) {
		if (ntohs(su->sin6.sin6_port) < 1024)
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
	int			 reason;
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
		    (why = dgram_reflection(&peer)) != NULL) {
			limits_refused(svc, EVI_REFUSE_REFLECTION, &peer.sa,
			    why);
			if (svc->s_conf->sc_log_connections)
				stats_log_dgram(svc, l, &peer.sa, (size_t)n, 0,
				    "reflection");
			continue;
		}
		if ((reason = limits_admit(svc, &peer.sa, 0, &src,
		    &why)) != -1) {
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
			if (svc->s_mod->dgram(svc, &d) != 0) {
				svc->s_stats->st_module_errors++;
				result = "module_error";
			}
			svc->s_dgram = NULL;
			svc->s_dgram_listener = NULL;
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
	n = sendto(l->l_fd, data, len, 0, d->peer, d->peerlen);
	if (n == -1)
		return (-1);
	svc->s_stats->st_dgrams_out++;
	svc->s_stats->st_bytes_out += (uint64_t)n;
	return (0);
}
