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
 * libFuzzer target for the words inside config values: listen addresses
 * and ports (addr.c), only_from/no_access entries and the decisions they
 * make (acl.c), and booleans, integers, sizes, durations and rates
 * (value.c).  The first byte picks the parser, so a seed reads as
 * "L127.0.0.1:7" or "s64k":
 *
 *	L  listen address	b  bool		d  duration
 *	P  port			i  int		r  rate
 *	A  ACL entries		s  size
 *
 * and any other first byte picks one by its value.  The rest, up to a
 * NUL, is the word; for A, entries one a line, "!" putting one in
 * no_access and the others in only_from.
 *
 * Each parser is held to what its callers assume: a refusal comes with a
 * cause and leaves the result alone, an acceptance is in range and means
 * what the text says (a listen address prints and parses back to itself;
 * an ACL decides as a bit-by-bit longest match would).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <string.h>

#include "evinetd.h"
#include "fuzz.h"

#define FUZZ_ACL_MAX	64	/* entries per input, to bound the work */

static const char *fuzz_modes = "LPAbisdr";

/* Peers every ACL is asked about, besides its own entries' addresses. */
static const char *fuzz_peers[] = {
	"127.0.0.1", "10.1.2.3", "10.255.255.255", "192.168.0.1", "0.0.0.0",
	"255.255.255.255", "::", "::1", "2001:db8::1", "fe80::1",
	"::ffff:10.1.2.3", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
};

/* A failed parse must say why; a cause on success would leak. */
static void
fuzz_cause(int rv, char **cause)
{
	FUZZ_CHECK(rv == 0 || rv == -1);
	if (rv == 0)
		FUZZ_CHECK(*cause == NULL);
	else
		FUZZ_CHECK(*cause != NULL && **cause != '\0');
	free(*cause);
	*cause = NULL;
}

static void
fuzz_port(const char *s)
{
	in_port_t	 port = 4242;
	char		*cause = NULL;
	const char	*p;
	unsigned long	 v = 0;
	int		 rv, want = *s != '\0' && strlen(s) <= 5;

	for (p = s; want && *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			want = 0;
		else
			v = v * 10 + (unsigned long)(*p - '0');
	}
	want = want && v <= 65535;
	rv = addr_parse_port(s, &port, &cause);
	fuzz_cause(rv, &cause);
	FUZZ_CHECK((rv == 0) == want);
	FUZZ_CHECK(rv == 0 ? port == v : port == 4242);
}

/* Prints an accepted address and checks that it parses back the same. */
static void
fuzz_listen(const char *s)
{
	struct listen_addr	 la, again;
	char			 buf[ADDR_STRLEN], *cause = NULL;
	int			 rv;

	rv = addr_parse_listen(s, &la, &cause);
	fuzz_cause(rv, &cause);
	if (rv != 0)
		return;
	if (la.la_any) {
		FUZZ_CHECK(la.la_len == 0);
		return;
	}
	FUZZ_CHECK(la.la_su.sa.sa_family == AF_INET ||
	    la.la_su.sa.sa_family == AF_INET6);
	FUZZ_CHECK(la.la_len == addr_len(&la.la_su.sa));
	FUZZ_CHECK(la.la_su.sin.sin_port == htons(la.la_port));
	addr_string(&la.la_su.sa, buf, sizeof(buf));
	FUZZ_CHECK(strlen(buf) < sizeof(buf) - 1);	/* not truncated */
	rv = addr_parse_listen(buf, &again, &cause);
	if (rv != 0)
		fprintf(stderr, "\"%s\" printed as \"%s\": %s\n", s, buf,
		    cause);
	fuzz_cause(rv, &cause);
	FUZZ_CHECK(rv == 0);
	FUZZ_CHECK(again.la_any == 0 && again.la_len == la.la_len &&
	    again.la_port == la.la_port);
	FUZZ_CHECK(memcmp(&again.la_su, &la.la_su, la.la_len) == 0);
}

/* Does the first bits of a and b agree, counted one bit at a time? */
static int
fuzz_bits_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int	i;

	for (i = 0; i < bits; i++) {
		if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
			return (0);
	}
	return (1);
}

static int
fuzz_longest(const struct acl *acl, int family, const uint8_t *addr)
{
	size_t	i;
	int	best = -1;

	for (i = 0; i < acl->acl_count; i++) {
		if (acl->acl_entries[i].ae_family == family &&
		    acl->acl_entries[i].ae_prefix > best &&
		    fuzz_bits_match(acl->acl_entries[i].ae_addr, addr,
		    acl->acl_entries[i].ae_prefix))
			best = acl->acl_entries[i].ae_prefix;
	}
	return (best);
}

/* The rule acl.c states: the longer prefix decides, a tie refuses. */
static int
fuzz_allows(const struct acl *only, const struct acl *deny, int family,
    const uint8_t *addr)
{
	int	allow, refuse;

	if (only->acl_count == 0 && deny->acl_count == 0)
		return (1);
	allow = fuzz_longest(only, family, addr);
	refuse = fuzz_longest(deny, family, addr);
	if (only->acl_count > 0 && allow == -1)
		return (0);
	if (refuse == -1)
		return (1);
	return (allow > refuse);
}

/* Fills a socket address for family and bytes (a peer as accept sees it). */
static void
fuzz_sockaddr(union sockunion *su, int family, const uint8_t *addr)
{
	memset(su, 0, sizeof(*su));
	if (family == AF_INET) {
		su->sin.sin_family = AF_INET;
		su->sin.sin_port = htons(4242);
		memcpy(&su->sin.sin_addr, addr, 4);
	} else {
		su->sin6.sin6_family = AF_INET6;
		su->sin6.sin6_port = htons(4242);
		memcpy(&su->sin6.sin6_addr, addr, 16);
	}
}

/* Asks both lists about a peer, directly and as an IPv4-mapped one. */
static void
fuzz_ask(const struct acl *only, const struct acl *deny, int family,
    const uint8_t *addr)
{
	union sockunion	 su, mapped;
	uint8_t		 m[16], peer[16];
	int		 got, pfamily;

	fuzz_sockaddr(&su, family, addr);
	acl_peer(&su.sa, &pfamily, peer);
	got = acl_allows(only, deny, &su.sa);
	FUZZ_CHECK(got == fuzz_allows(only, deny, pfamily, peer));
	if (family != AF_INET)
		return;
	memset(m, 0, sizeof(m));
	m[10] = m[11] = 0xff;
	memcpy(m + 12, addr, 4);
	fuzz_sockaddr(&mapped, AF_INET6, m);
	FUZZ_CHECK(acl_allows(only, deny, &mapped.sa) == got);
}

/* Checks one parsed entry, alone and against its own address. */
static void
fuzz_acl_entry(const struct acl_entry *e)
{
	static const uint8_t	 zero[16], v4mapped[12] = { 0, 0, 0, 0, 0, 0,
				    0, 0, 0, 0, 0xff, 0xff };
	struct acl		 one, none;
	union sockunion		 su;

	FUZZ_CHECK(e->ae_family == AF_INET || e->ae_family == AF_INET6);
	if (e->ae_family == AF_INET) {
		FUZZ_CHECK(e->ae_prefix >= 0 && e->ae_prefix <= 32);
		FUZZ_CHECK(memcmp(e->ae_addr + 4, zero, 12) == 0);
	} else {
		FUZZ_CHECK(e->ae_prefix >= 0 && e->ae_prefix <= 128);
		FUZZ_CHECK(e->ae_prefix < 96 ||
		    memcmp(e->ae_addr, v4mapped, 12) != 0);
		/* Such a peer is matched as IPv4, never by this entry. */
		if (memcmp(e->ae_addr, v4mapped, 12) == 0)
			return;
	}
	one.acl_entries = (struct acl_entry *)e;
	one.acl_count = 1;
	none.acl_entries = NULL;
	none.acl_count = 0;
	fuzz_sockaddr(&su, e->ae_family, e->ae_addr);
	FUZZ_CHECK(acl_allows(&one, &none, &su.sa) == 1);
	FUZZ_CHECK(acl_allows(&none, &one, &su.sa) == 0);
	FUZZ_CHECK(acl_allows(&one, &one, &su.sa) == 0);
}

/* Entries one a line; "!" sends one to no_access, else only_from. */
static void
fuzz_acl(char *text)
{
	struct acl		 only, deny;
	struct acl_entry	 e;
	uint8_t			 addr[16];
	char			*line, *cause = NULL;
	size_t			 i;
	int			 rv, n = 0, deny_it;

	memset(&only, 0, sizeof(only));
	memset(&deny, 0, sizeof(deny));
	while ((line = strsep(&text, "\n")) != NULL && n++ < FUZZ_ACL_MAX) {
		if ((deny_it = *line == '!'))
			line++;
		memset(&e, 0xa5, sizeof(e));
		rv = acl_parse_entry(line, &e, &cause);
		fuzz_cause(rv, &cause);
		if (rv != 0)
			continue;
		fuzz_acl_entry(&e);
		acl_add(deny_it ? &deny : &only, &e);
	}
	for (i = 0; i < sizeof(fuzz_peers) / sizeof(fuzz_peers[0]); i++) {
		memset(addr, 0, sizeof(addr));
		if (inet_pton(AF_INET, fuzz_peers[i], addr) == 1)
			fuzz_ask(&only, &deny, AF_INET, addr);
		else if (inet_pton(AF_INET6, fuzz_peers[i], addr) == 1)
			fuzz_ask(&only, &deny, AF_INET6, addr);
		else
			FUZZ_CHECK(!"bad peer in the fuzzer");
	}
	for (i = 0; i < only.acl_count; i++)
		fuzz_ask(&only, &deny, only.acl_entries[i].ae_family,
		    only.acl_entries[i].ae_addr);
	for (i = 0; i < deny.acl_count; i++)
		fuzz_ask(&only, &deny, deny.acl_entries[i].ae_family,
		    deny.acl_entries[i].ae_addr);
	acl_free(&only);
	acl_free(&deny);
}

/* Reads a plain decimal long long the way value.c should. */
static int
fuzz_number(const char *s, size_t len, long long *out)
{
	char	*buf, *cause = NULL;
	int	 rv;

	if (len == 0 || (!isdigit((unsigned char)*s) && *s != '-'))
		return (-1);
	buf = strndup(s, len);
	FUZZ_CHECK(buf != NULL);
	rv = value_int(buf, 0, 0, out, &cause);
	free(cause);
	free(buf);
	return (rv);
}

/*
 * Runs a converter with a range; a refusal leaves the result alone, an
 * acceptance is in range.  Returns the converter's result.
 */
#define FUZZ_RANGED(fn, s, lo, hi, out) do {				\
	char		*cause_ = NULL;					\
	int		 rv_;						\
									\
	*(out) = -4242;							\
	rv_ = fn((s), (lo), (hi), (out), &cause_);			\
	fuzz_cause(rv_, &cause_);					\
	if (rv_ != 0)							\
		FUZZ_CHECK(*(out) == -4242);				\
	else if ((lo) != 0 || (hi) != 0)				\
		FUZZ_CHECK(*(out) >= (lo) && *(out) <= (hi));		\
} while (0)

static void
fuzz_values(int mode, const char *s)
{
	size_t		 len = strlen(s);
	long long	 v, w, n;
	double		 rate;
	char		*cause = NULL;
	int		 b, rv;

	switch (mode) {
	case 'b':
		b = 42;
		rv = value_bool(s, &b, &cause);
		fuzz_cause(rv, &cause);
		FUZZ_CHECK(rv == 0 ? (b == (strcmp(s, "yes") == 0) &&
		    (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0)) :
		    b == 42);
		break;
	case 'i':
		FUZZ_RANGED(value_int, s, 1, 256, &v);
		FUZZ_RANGED(value_int, s, 1, 128, &v);
		FUZZ_RANGED(value_int, s, 0, 10000000, &v);
		FUZZ_RANGED(value_int, s, 0, 0, &v);
		break;
	case 's':
		FUZZ_RANGED(value_size, s, 1024, 1LL << 30, &v);
		FUZZ_RANGED(value_size, s, 0, 0, &v);
		if (v == -4242)
			break;
		/* "N" is N bytes and "Nk" 1024 times N, and so on. */
		FUZZ_CHECK(v >= 0 && len > 0);
		n = 1;
		switch (s[len - 1]) {
		case 'k': case 'K':
			n = 1024;
			len--;
			break;
		case 'm': case 'M':
			n = 1024 * 1024;
			len--;
			break;
		case 'g': case 'G':
			n = 1024 * 1024 * 1024;
			len--;
			break;
		}
		FUZZ_CHECK(fuzz_number(s, len, &w) == 0 && w * n == v);
		break;
	case 'd':
		FUZZ_RANGED(value_duration, s, 0, 24LL * 3600 * 1000, &v);
		FUZZ_RANGED(value_duration, s, 0, 30LL * 24 * 3600 * 1000, &v);
		FUZZ_RANGED(value_duration, s, 0, 0, &v);
		if (v == -4242)
			break;
		FUZZ_CHECK(v >= 0 && len > 0);
		if (len > 2 && strcmp(s + len - 2, "ms") == 0)
			n = 1, len -= 2;
		else if (s[len - 1] == 's')
			n = 1000, len--;
		else if (s[len - 1] == 'm')
			n = 60 * 1000, len--;
		else if (s[len - 1] == 'h')
			n = 3600 * 1000, len--;
		else
			n = 1000;
		FUZZ_CHECK(fuzz_number(s, len, &w) == 0 && w * n == v);
		break;
	case 'r':
		rate = -1;
		rv = value_rate(s, &rate, &cause);
		fuzz_cause(rv, &cause);
		FUZZ_CHECK(rv == 0 ? rate > 0 && rate <= 1e9 : rate == -1);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;
	int	 mode;

	if (size == 0)
		return (0);
	if (data[0] != '\0' && strchr(fuzz_modes, data[0]) != NULL)
		mode = data[0];
	else
		mode = fuzz_modes[data[0] % strlen(fuzz_modes)];
	s = strndup((const char *)data + 1, size - 1);
	FUZZ_CHECK(s != NULL);
	switch (mode) {
	case 'L':
		fuzz_listen(s);
		break;
	case 'P':
		fuzz_port(s);
		break;
	case 'A':
		fuzz_acl(s);
		break;
	default:
		fuzz_values(mode, s);
		break;
	}
	free(s);
	return (0);
}
