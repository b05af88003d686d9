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
 * PROXY protocol headers, as the spec (haproxy.org, doc/proxy-protocol.txt)
 * writes them.  A header describes one TCP connection: the client (source)
 * and the address it connected to (destination).  Both must be of one
 * family; when a v4 client reached a v6 socket or the reverse, the v4
 * address is written as its v4-mapped v6 form, so nothing is lost and no
 * "UNKNOWN" header tells the backend less than we know.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proxy_header.h"

/* The v2 signature: "\r\n\r\n\0\r\nQUIT\n". */
static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Fills a v6 address from either family, mapping v4 into v6. */
static void
proxy_in6(const struct sockaddr *sa, struct in6_addr *a, uint16_t *port)
{
	const struct sockaddr_in	*sin;

	if (sa->sa_family == AF_INET6) {
		*a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		*port = ((const struct sockaddr_in6 *)sa)->sin6_port;
		return;
	}
	sin = (const struct sockaddr_in *)sa;
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = a->s6_addr[11] = 0xff;
	memcpy(&a->s6_addr[12], &sin->sin_addr, 4);
	*port = sin->sin_port;
}

/* Version 1: one text line, "PROXY TCP4 src dst sport dport\r\n". */
static int
proxy_v1(struct evbuffer *out, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	const struct sockaddr_in	*s4, *d4;
	struct in6_addr			 s6, d6;
	uint16_t			 sp, dp;
	char				 sa[INET6_ADDRSTRLEN];
	char				 da[INET6_ADDRSTRLEN];

	if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)src;
		d4 = (const struct sockaddr_in *)dst;
		inet_ntop(AF_INET, &s4->sin_addr, sa, sizeof(sa));
		inet_ntop(AF_INET, &d4->sin_addr, da, sizeof(da));
		return (evbuffer_add_printf(out, "PROXY TCP4 %s %s %u %u\r\n",
		    sa, da, ntohs(s4->sin_port), ntohs(d4->sin_port)) < 0 ?
		    -1 : 0);
	}
	proxy_in6(src, &s6, &sp);
	proxy_in6(dst, &d6, &dp);
	inet_ntop(AF_INET6, &s6, sa, sizeof(sa));
	inet_ntop(AF_INET6, &d6, da, sizeof(da));
	return (evbuffer_add_printf(out, "PROXY TCP6 %s %s %u %u\r\n", sa, da,
	    ntohs(sp), ntohs(dp)) < 0 ? -1 : 0);
}

/* Version 2: the binary form, command PROXY, no TLVs. */
static int
proxy_v2(struct evbuffer *out, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	uint8_t				 h[16 + 36], *p = h + 16;
	const struct sockaddr_in	*s4, *d4;
	struct in6_addr			 s6, d6;
	uint16_t			 sp, dp, len;

	memcpy(h, proxy_v2_sig, sizeof(proxy_v2_sig));
	h[12] = 0x21;			/* version 2, command PROXY */
	if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)src;
		d4 = (const struct sockaddr_in *)dst;
		h[13] = 0x11;		/* AF_INET, STREAM */
		memcpy(p, &s4->sin_addr, 4);
		memcpy(p + 4, &d4->sin_addr, 4);
		memcpy(p + 8, &s4->sin_port, 2);
		memcpy(p + 10, &d4->sin_port, 2);
		len = 12;
	} else {
		proxy_in6(src, &s6, &sp);
		proxy_in6(dst, &d6, &dp);
		h[13] = 0x21;		/* AF_INET6, STREAM */
		memcpy(p, &s6, 16);
		memcpy(p + 16, &d6, 16);
		memcpy(p + 32, &sp, 2);
		memcpy(p + 34, &dp, 2);
		len = 36;
	}
	h[14] = (uint8_t)(len >> 8);
	h[15] = (uint8_t)(len & 0xff);
	return (evbuffer_add(out, h, 16 + (size_t)len));
}

/*
 * Adds the header of the given version for a connection from src to dst;
 * -1 (EAFNOSUPPORT) for an address that is neither IPv4 nor IPv6.
 */
int
proxy_header(struct evbuffer *out, int version, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	if ((src->sa_family != AF_INET && src->sa_family != AF_INET6) ||
	    (dst->sa_family != AF_INET && dst->sa_family != AF_INET6)) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	if (version == PROXY_HEADER_V1)
		return (proxy_v1(out, src, dst));
	return (proxy_v2(out, src, dst));
}
