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
 * discard: the Discard Protocol (RFC 863).  Everything received is thrown
 * away and nothing is ever sent.  Over TCP the connection stays open until
 * the client closes it; the daemon then ends ours gracefully, so a client
 * that is still sending is never answered with a reset.  Over UDP no
 * datagram is ever answered.
 */

#include <evinetd/module.h>

/* Consumes and forgets what arrived. */
static int
discard_read(struct evi_conn *c, struct evbuffer *in)
{
	(void)c;
	return (evbuffer_drain(in, evbuffer_get_length(in)));
}

/* A datagram is counted by the daemon and deliberately not answered. */
static int
discard_dgram(struct evi_service *svc, const struct evi_dgram *d)
{
	(void)svc;
	(void)d;
	return (0);
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "discard",
	.description = "Discard Protocol, RFC 863: reads and drops everything",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.conn_read = discard_read,
	.dgram = discard_dgram,
};
