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
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "evinetd.h"

#define DGRAM_BATCH	32

/* Reads a batch of datagrams and hands each to the module. */
void
dgram_recv(evutil_socket_t fd, short events, void *arg)
{
	struct listener		*l = arg;
	struct evi_service	*svc = l->l_svc;
	struct worker		*w = svc->s_worker;
	union sockunion		 peer;
	struct evi_dgram	 d;
	socklen_t		 len;
	ssize_t			 n;
	int			 i;

	(void)events;
	for (i = 0; i < DGRAM_BATCH; i++) {
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
		svc->s_stats.st_dgrams_in++;
		svc->s_stats.st_bytes_in += (uint64_t)n;
		if (svc->s_mod->dgram == NULL)
			continue;
		d.data = w->w_dgrambuf;
		d.len = (size_t)n;
		d.peer = &peer.sa;
		d.peerlen = len;
		svc->s_dgram = &d;
		svc->s_dgram_listener = l;
		if (svc->s_mod->dgram(svc, &d) != 0)
			svc->s_stats.st_module_errors++;
		svc->s_dgram = NULL;
		svc->s_dgram_listener = NULL;
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
	svc->s_stats.st_dgrams_out++;
	svc->s_stats.st_bytes_out += (uint64_t)n;
	return (0);
}
