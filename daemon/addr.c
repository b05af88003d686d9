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
 * Listen addresses: "127.0.0.1:7", "[::1]:7", "*:7" and a bare "7".  The
 * parser is strict on purpose: anything that is not a numeric address and
 * a port in range is an error, never "any address".  Host names are not
 * resolved; a super-server's binds should not depend on DNS at boot.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

/* Parses a decimal port 0..65535 with no sign, space or suffix. */
int
addr_parse_port(const char *s, in_port_t *port, char **cause)
{
	unsigned long	 v = 0;
	const char	*p;

	if (*s == '\0') {
		xasprintf(cause, "missing port");
		return (-1);
	}
	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || p - s >= 5) {
			xasprintf(cause, "invalid port \"%s\" (expected a "
			    "number from 0 to 65535)", s);
			return (-1);
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535) {
		xasprintf(cause, "port %lu out of range (0 to 65535)", v);
		return (-1);
	}
	*port = (in_port_t)v;
	return (0);
}

/* Converts a numeric host into a socket address with the given port. */
static int
addr_parse_host(const char *host, int family, in_port_t port,
    struct listen_addr *la, char **cause)
{
	struct addrinfo	 hints, *res = NULL;
	struct in_addr	 in4;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	/*
	 * getaddrinfo also takes inet_aton's short forms, so "0" would be
	 * 0.0.0.0 (every address) and "10.1" 10.0.0.1: only a dotted quad
	 * is an IPv4 address here.
	 */
	if ((family == AF_INET6 || inet_pton(AF_INET, host, &in4) == 1) &&
	    getaddrinfo(host, NULL, &hints, &res) != 0)
		res = NULL;
	if (res == NULL) {
		if (family == AF_INET6)
			xasprintf(cause, "invalid IPv6 address \"%s\"", host);
		else
			xasprintf(cause, "invalid address \"%s\" (expected "
			    "an IPv4 address, [IPv6] or *; host names are "
			    "not resolved)", host);
		return (-1);
	}
	if (res->ai_addrlen > sizeof(la->la_su)) {
		freeaddrinfo(res);
		xasprintf(cause, "unsupported address \"%s\"", host);
		return (-1);
	}
	memset(&la->la_su, 0, sizeof(la->la_su));
	memcpy(&la->la_su, res->ai_addr, res->ai_addrlen);
	la->la_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (la->la_su.sa.sa_family == AF_INET)
		la->la_su.sin.sin_port = htons(port);
	else if (la->la_su.sa.sa_family == AF_INET6)
		la->la_su.sin6.sin6_port = htons(port);
	else {
		xasprintf(cause, "unsupported address family for \"%s\"",
		    host);
		return (-1);
	}
	return (0);
}

/* Parses one listen value into an address, or says exactly what is wrong. */
int
addr_parse_listen(const char *text, struct listen_addr *la, char **cause)
{
	char		*copy, *host, *port, *end;
	int		 family = AF_UNSPEC, rv = -1;

	memset(la, 0, sizeof(*la));
	if (*text == '\0') {
		xasprintf(cause, "empty address");
		return (-1);
	}
	copy = xstrdup(text);
	if (strchr(copy, ':') == NULL) {
		/* A bare port means every address. */
		if (addr_parse_port(copy, &la->la_port, cause) == 0) {
			la->la_any = 1;
			rv = 0;
		}
		goto out;
	}
	if (copy[0] == '[') {
		if ((end = strchr(copy, ']')) == NULL) {
			xasprintf(cause, "missing \"]\" in \"%s\"", text);
			goto out;
		}
		if (end[1] != ':') {
			xasprintf(cause, "missing \":PORT\" after \"]\" in "
			    "\"%s\"", text);
			goto out;
		}
		*end = '\0';
		host = copy + 1;
		port = end + 2;
		family = AF_INET6;
	} else {
		port = strrchr(copy, ':');
		*port++ = '\0';
		host = copy;
		if (strchr(host, ':') != NULL) {
			xasprintf(cause, "IPv6 address in \"%s\" must be in "
			    "brackets, as [::1]:7", text);
			goto out;
		}
	}
	if (addr_parse_port(port, &la->la_port, cause) != 0)
		goto out;
	if (strcmp(host, "*") == 0 && family == AF_UNSPEC) {
		la->la_any = 1;
		rv = 0;
		goto out;
	}
	if (*host == '\0') {
		xasprintf(cause, "missing address before \":%s\" (use *:%s "
		    "for every address)", port, port);
		goto out;
	}
	if (family == AF_UNSPEC)
		family = AF_INET;
	rv = addr_parse_host(host, family, la->la_port, la, cause);
out:
	free(copy);
	return (rv);
}

/* Is it 0.0.0.0 or ::, which a listener may bind but nobody connects to? */
int
addr_unspecified(const union sockunion *su)
{
	if (su->sa.sa_family == AF_INET6)
		return (IN6_IS_ADDR_UNSPECIFIED(&su->sin6.sin6_addr));
	return (su->sin.sin_addr.s_addr == htonl(INADDR_ANY));
}

/* Are a and b the same IPv4 or IPv6 address and port? */
int
addr_same(const union sockunion *a, const union sockunion *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return (0);
	if (a->sa.sa_family == AF_INET)
		return (a->sin.sin_port == b->sin.sin_port &&
		    a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr);
	if (a->sa.sa_family != AF_INET6)
		return (0);
	return (a->sin6.sin6_port == b->sin6.sin6_port &&
	    a->sin6.sin6_scope_id == b->sin6.sin6_scope_id &&
	    memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr,
	    sizeof(a->sin6.sin6_addr)) == 0);
}

socklen_t
addr_len(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return (sizeof(struct sockaddr_in6));
	return (sizeof(struct sockaddr_in));
}

/* Formats an address as "1.2.3.4:5" or "[::1]:5" into buf. */
const char *
addr_string(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, addr_len(sa), host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return (buf);
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, serv);
	else
		snprintf(buf, len, "%s:%s", host, serv);
	return (buf);
}
