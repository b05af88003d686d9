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
 * Access control lists: only_from and no_access, each a list of IPv4 or
 * IPv6 addresses and CIDR prefixes.  A peer is refused when only_from is
 * set and nothing in it matches, or when no_access matches it.  When both
 * match, the more specific (longer) prefix decides, so
 *
 *	only_from = 10.0.0.0/8
 *	no_access = 10.1.0.0/16
 *
 * admits 10.2.3.4 and refuses 10.1.2.3, while
 *
 *	no_access = 10.0.0.0/8
 *	only_from = 10.1.2.3
 *
 * admits exactly 10.1.2.3 of that net.  Equal prefixes in both refuse.
 * IPv4-mapped IPv6 peers (::ffff:a.b.c.d, as seen on a dual-stack socket)
 * are matched as the IPv4 address they carry, and so an entry written that
 * way is read as its IPv4 address; otherwise it could never match.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

/*
 * Parses "ADDR" or "ADDR/LEN" (IPv6 without brackets) into an entry; an
 * IPv4-mapped one (::ffff:a.b.c.d/96 and longer) becomes IPv4.
 */
int
acl_parse_entry(const char *text, struct acl_entry *e, char **cause)
{
	static const uint8_t	 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0, 0xff, 0xff };
	char		*copy, *slash, *end;
	long		 len;
	int		 max;

	memset(e, 0, sizeof(*e));
	copy = xstrdup(text);
	if ((slash = strchr(copy, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, copy, e->ae_addr) == 1) {
		e->ae_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, copy, e->ae_addr) == 1) {
		e->ae_family = AF_INET6;
		max = 128;
	} else {
		xasprintf(cause, "invalid address \"%s\" (expected an IPv4 "
		    "or IPv6 address, optionally with /PREFIX)", text);
		free(copy);
		return (-1);
	}
	e->ae_prefix = max;
	if (slash != NULL) {
		if (!isdigit((unsigned char)*slash) || strlen(slash) > 3 ||
		    (len = strtol(slash, &end, 10)) > max || *end != '\0') {
			xasprintf(cause, "invalid prefix length in \"%s\" "
			    "(0 to %d)", text, max);
			free(copy);
			return (-1);
		}
		e->ae_prefix = (int)len;
	}
	if (e->ae_family == AF_INET6 && e->ae_prefix >= 96 &&
	    memcmp(e->ae_addr, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(e->ae_addr, e->ae_addr + 12, 4);
		memset(e->ae_addr + 4, 0, 12);
		e->ae_family = AF_INET;
		e->ae_prefix -= 96;
	}
	free(copy);
	return (0);
}

/* Appends one parsed entry to a list. */
void
acl_add(struct acl *acl, const struct acl_entry *e)
{
	acl->acl_entries = xreallocarray(acl->acl_entries,
	    acl->acl_count + 1, sizeof(*acl->acl_entries));
	acl->acl_entries[acl->acl_count++] = *e;
}

void
acl_free(struct acl *acl)
{
	free(acl->acl_entries);
	acl->acl_entries = NULL;
	acl->acl_count = 0;
}

/* Does the first "bits" bits of a and b agree? */
static int
acl_prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int	bytes = bits / 8, rest = bits % 8;
	uint8_t	mask;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return (0);
	if (rest == 0)
		return (1);
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[bytes] & mask) == (b[bytes] & mask));
}

/*
 * Reduces a peer to the family and bytes it is matched by: an IPv4-mapped
 * IPv6 address becomes the IPv4 address.
 */
void
acl_peer(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	const struct sockaddr_in6	*sin6;

	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return;
	}
	sin6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		*family = AF_INET;
		memcpy(addr, &sin6->sin6_addr.s6_addr[12], 4);
		return;
	}
	*family = AF_INET6;
	memcpy(addr, &sin6->sin6_addr, 16);
}

/* The longest prefix in acl matching the peer, or -1 if none does. */
static int
acl_longest(const struct acl *acl, int family, const uint8_t *addr)
{
	const struct acl_entry	*e;
	size_t			 i;
	int			 best = -1;

	for (i = 0; i < acl->acl_count; i++) {
		e = &acl->acl_entries[i];
		if (e->ae_family == family && e->ae_prefix > best &&
		    acl_prefix_match(e->ae_addr, addr, e->ae_prefix))
			best = e->ae_prefix;
	}
	return (best);
}

/* Decides whether a peer may use a service: 1 to admit, 0 to refuse. */
int
acl_allows(const struct acl *only, const struct acl *deny,
    const struct sockaddr *sa)
{
	uint8_t	addr[16];
	int	family, allow, refuse;

	if (only->acl_count == 0 && deny->acl_count == 0)
		return (1);
	acl_peer(sa, &family, addr);
	allow = acl_longest(only, family, addr);
	refuse = acl_longest(deny, family, addr);
	if (only->acl_count > 0 && allow == -1)
		return (0);
	if (refuse == -1)
		return (1);
	return (allow > refuse);
}
