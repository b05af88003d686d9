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
 * The PROXY protocol, receiving side (HAProxy's doc/proxy-protocol.txt,
 * versions 1 and 2).  A load balancer in proxy_from opens a connection and
 * first sends one header naming the real client; only then do the access
 * list and the limits run, against that client, and only then does the
 * module see the connection.
 *
 * The parser is strict and bounded: it looks at most PROXY_MAX bytes, a
 * v1 line is at most 107 bytes, a v2 header declaring more than
 * PROXY_V2_MAX_LEN bytes after its fixed part is refused, and nothing is
 * allocated.  The reader peeks at the socket and consumes only what
 * belongs to the header, so the bytes after it stay in the kernel for
 * the module, exactly as if no header had been there.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define PROXY_V1_PREFIX		"PROXY "
#define PROXY_FIELD_MAX		46	/* INET6_ADDRSTRLEN */

/* A header the connection is waiting for (see proxy_start). */
struct proxy_wait {
	TAILQ_ENTRY(proxy_wait)	 pw_entry;
	struct evi_service	*pw_svc;
	int			 pw_fd;
	union sockunion		 pw_peer;	/* the balancer */
	socklen_t		 pw_len;
	struct event		 pw_ev;
	struct deadline		 pw_deadline;	/* proxy_timeout */
	size_t			 pw_have;	/* consumed into pw_buf */
	uint8_t			 pw_buf[PROXY_MAX];
};

/* Sets *why and says "malformed". */
static int
proxy_bad(const char **why, const char *reason)
{
	*why = reason;
	return (-1);
}

/*
 * Copies the next space-terminated field of a v1 line; a field is never
 * empty, never longer than PROXY_FIELD_MAX, and separated by exactly one
 * space.  Returns the position after it, or NULL.
 */
static const char *
proxy_v1_field(const char *p, const char *end, int last, char *out)
{
	size_t	n = 0;

	while (p + n < end && p[n] != ' ' && n < PROXY_FIELD_MAX)
		n++;
	if (n == 0 || n == PROXY_FIELD_MAX || (last ? p + n != end :
	    (p + n == end || p[n] != ' ')))
		return (NULL);
	memcpy(out, p, n);
	out[n] = '\0';
	return (p + n + (last ? 0 : 1));
}

/* A v1 port: decimal, no sign, no leading zero, at most 65535. */
static int
proxy_v1_port(const char *s, in_port_t *port)
{
	unsigned long	v = 0;
	size_t		i, n = strlen(s);

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return (-1);
	*port = htons((in_port_t)v);
	return (0);
}

/* Parses one v1 address and port into su, of the line's family. */
static int
proxy_v1_addr(int family, const char *addr, const char *port,
    union sockunion *su, const char **why)
{
	memset(su, 0, sizeof(*su));
	if (family == AF_INET) {
		su->sin.sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &su->sin.sin_addr) != 1)
			goto bad;
		if (proxy_v1_port(port, &su->sin.sin_port) != 0)
			return (proxy_bad(why, "v1: bad port"));
		return (0);
	}
	su->sin6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, addr, &su->sin6.sin6_addr) != 1)
		goto bad;
	if (proxy_v1_port(port, &su->sin6.sin6_port) != 0)
		return (proxy_bad(why, "v1: bad port"));
	return (0);
bad:
	if ((family == AF_INET) != (strchr(addr, ':') == NULL))
		return (proxy_bad(why, "v1: address family mismatch"));
	return (proxy_bad(why, "v1: bad address"));
}

/* Parses the fields of a complete v1 line, CRLF excluded. */
static int
proxy_v1_line(const char *p, const char *end, struct proxy_hdr *ph,
    const char **why)
{
	char	proto[PROXY_FIELD_MAX + 1], src[PROXY_FIELD_MAX + 1];
	char	dst[PROXY_FIELD_MAX + 1], sport[PROXY_FIELD_MAX + 1];
	char	dport[PROXY_FIELD_MAX + 1];
	int	family;

	if ((size_t)(end - p) >= 7 && memcmp(p, "UNKNOWN", 7) == 0 &&
	    (end - p == 7 || p[7] == ' ')) {
		ph->ph_local = 1;
		return (1);
	}
	if ((p = proxy_v1_field(p, end, 0, proto)) == NULL)
		return (proxy_bad(why, "v1: garbage"));
	if (strcmp(proto, "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		family = AF_INET6;
	else
		return (proxy_bad(why, "v1: unknown protocol"));
	if ((p = proxy_v1_field(p, end, 0, src)) == NULL ||
	    (p = proxy_v1_field(p, end, 0, dst)) == NULL ||
	    (p = proxy_v1_field(p, end, 0, sport)) == NULL ||
	    proxy_v1_field(p, end, 1, dport) == NULL)
		return (proxy_bad(why, "v1: garbage"));
	if (proxy_v1_addr(family, src, sport, &ph->ph_src, why) != 0 ||
	    proxy_v1_addr(family, dst, dport, &ph->ph_dst, why) != 0)
		return (-1);
	return (1);
}

/* A v1 header: "PROXY ...\r\n", 107 bytes at most. */
static int
proxy_v1(const uint8_t *buf, size_t len, struct proxy_hdr *ph,
    const char **why)
{
	const char	*p = (const char *)buf;
	size_t		 i, n = len;

	if (n > PROXY_V1_MAX)
		n = PROXY_V1_MAX;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			return (proxy_bad(why, "v1: a line feed without a "
			    "carriage return"));
		if (buf[i] == '\r')
			break;
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return (proxy_bad(why, "v1: garbage"));
	}
	if (i == n)
		return (n == PROXY_V1_MAX ? proxy_bad(why,
		    "v1: longer than 107 bytes") : 0);
	if (i + 2 > PROXY_V1_MAX)
		return (proxy_bad(why, "v1: longer than 107 bytes"));
	if (i + 1 == len)
		return (0);
	if (buf[i + 1] != '\n')
		return (proxy_bad(why, "v1: a carriage return without a "
		    "line feed"));
	ph->ph_version = 1;
	ph->ph_len = i + 2;
	return (proxy_v1_line(p + 6, p + i, ph, why));
}

/* Checks that the TLVs fill their part of a v2 header exactly. */
static int
proxy_v2_tlvs(const uint8_t *p, size_t len, const char **why)
{
	size_t	n;

	while (len > 0) {
		if (len < 3)
			return (proxy_bad(why, "v2: truncated TLV"));
		n = ((size_t)p[1] << 8) | p[2];
		if (n > len - 3)
			return (proxy_bad(why, "v2: TLV longer than the "
			    "header"));
		p += 3 + n;
		len -= 3 + n;
	}
	return (0);
}

/* The address block of a v2 PROXY command, then its TLVs. */
static int
proxy_v2_addrs(const uint8_t *b, size_t blen, struct proxy_hdr *ph,
    const char **why)
{
	uint8_t	fam = b[13] >> 4, proto = b[13] & 0x0f;
	size_t	need;

	if (fam > 3 || proto > 2)
		return (proxy_bad(why, "v2: unknown family or protocol"));
	if (fam != 0 && proto == 2)
		return (proxy_bad(why, "v2: a datagram header on a stream"));
	need = fam == 1 ? 12 : fam == 2 ? 36 : fam == 3 ? 216 : 0;
	if (blen < need)
		return (proxy_bad(why, "v2: address family mismatch (the "
		    "length is too short for it)"));
	b += PROXY_V2_HEADER;
	memset(&ph->ph_src, 0, sizeof(ph->ph_src));
	memset(&ph->ph_dst, 0, sizeof(ph->ph_dst));
	if (fam == 1) {
		ph->ph_src.sin.sin_family = ph->ph_dst.sin.sin_family = AF_INET;
		memcpy(&ph->ph_src.sin.sin_addr, b, 4);
		memcpy(&ph->ph_dst.sin.sin_addr, b + 4, 4);
		memcpy(&ph->ph_src.sin.sin_port, b + 8, 2);
		memcpy(&ph->ph_dst.sin.sin_port, b + 10, 2);
	} else if (fam == 2) {
		ph->ph_src.sin6.sin6_family = AF_INET6;
		ph->ph_dst.sin6.sin6_family = AF_INET6;
		memcpy(&ph->ph_src.sin6.sin6_addr, b, 16);
		memcpy(&ph->ph_dst.sin6.sin6_addr, b + 16, 16);
		memcpy(&ph->ph_src.sin6.sin6_port, b + 32, 2);
		memcpy(&ph->ph_dst.sin6.sin6_port, b + 34, 2);
	} else
		ph->ph_local = 1;	/* unspec or unix: the socket's */
	if (proxy_v2_tlvs(b + need, blen - need, why) != 0)
		return (-1);
	ph->ph_tlv_off = PROXY_V2_HEADER + need;
	ph->ph_tlv_len = blen - need;
	return (1);
}

/* A v2 header: the signature, then version, command and lengths. */
static int
proxy_v2(const uint8_t *buf, size_t len, struct proxy_hdr *ph,
    const char **why)
{
	size_t	blen;

	if (memcmp(buf, proxy_v2_sig, len < 12 ? len : 12) != 0)
		return (proxy_bad(why, "v2: bad signature"));
	if (len < PROXY_V2_HEADER)
		return (0);
	if ((buf[12] >> 4) != 2)
		return (proxy_bad(why, "v2: bad version"));
	if ((buf[12] & 0x0f) > 1)
		return (proxy_bad(why, "v2: unknown command"));
	blen = ((size_t)buf[14] << 8) | buf[15];
	if (blen > PROXY_V2_MAX_LEN)
		return (proxy_bad(why, "v2: header longer than evinetd "
		    "accepts"));
	if (len < PROXY_V2_HEADER + blen)
		return (0);
	ph->ph_version = 2;
	ph->ph_len = PROXY_V2_HEADER + blen;
	if ((buf[12] & 0x0f) == 0) {
		ph->ph_local = 1;	/* LOCAL: a health check */
		return (1);
	}
	return (proxy_v2_addrs(buf, blen, ph, why));
}

/*
 * Parses the header at the start of buf, of the versions allowed (a mask
 * of PROXY_V1 and PROXY_V2).  Returns 1 with *ph filled in, 0 if more
 * bytes are needed, or -1 with *why if it is malformed or not allowed.
 */
int
proxy_parse(const uint8_t *buf, size_t len, int versions,
    struct proxy_hdr *ph, const char **why)
{
	size_t	n = len < 6 ? len : 6;

	memset(ph, 0, sizeof(*ph));
	*why = NULL;
	if (len == 0)
		return (0);
	if (buf[0] == proxy_v2_sig[0]) {
		if (!(versions & PROXY_V2))
			return (proxy_bad(why, "a v2 header, but "
			    "proxy_protocol = v1"));
		return (proxy_v2(buf, len, ph, why));
	}
	if (memcmp(buf, PROXY_V1_PREFIX, n) != 0)
		return (proxy_bad(why, "not a PROXY protocol header"));
	if (!(versions & PROXY_V1))
		return (proxy_bad(why, "a v1 header, but proxy_protocol = v2"));
	if (len < 6)
		return (0);
	return (proxy_v1(buf, len, ph, why));
}

/* The first TLV of a type in a v2 header's TLV bytes, or NULL. */
const void *
proxy_tlv_find(const uint8_t *p, size_t len, int type, size_t *vlen)
{
	size_t	n;

	while (len >= 3) {
		n = ((size_t)p[1] << 8) | p[2];
		if (n > len - 3)
			break;
		if (p[0] == type) {
			if (vlen != NULL)
				*vlen = n;
			return (p + 3);
		}
		p += 3 + n;
		len -= 3 + n;
	}
	return (NULL);
}

/* The one way out of the wait: frees it, and closes fd if asked. */
static void
proxy_wait_free(struct proxy_wait *pw, int close_fd)
{
	struct evi_service	*svc = pw->pw_svc;

	event_del(&pw->pw_ev);
	deadline_del(&svc->s_worker->w_timers, &pw->pw_deadline);
	if (close_fd)
		close(pw->pw_fd);
	TAILQ_REMOVE(&svc->s_proxy_waits, pw, pw_entry);
	svc->s_worker->w_npending--;
	free(pw);
}

/*
 * A header that did not come, or came malformed: counted, and logged at
 * most once a second with the number held back, so a broken balancer
 * cannot flood the log.
 */
static void
proxy_fail(struct proxy_wait *pw, const char *why)
{
	struct evi_service	*svc = pw->pw_svc;
	struct refusal_log	*rl = &svc->s_proxy_log;
	time_t			 now = (time_t)(timerq_now() / 1000);
	char			 peer[ADDR_STRLEN];

	svc->s_stats->st_proxy_errors++;
	if (now == rl->rl_logged) {
		rl->rl_pending++;
		proxy_wait_free(pw, 1);
		worker_idle_check(svc->s_worker);
		return;
	}
	addr_string(&pw->pw_peer.sa, peer, sizeof(peer));
	log_warnx("service \"%s\": closing a connection from %s: PROXY "
	    "header: %s (%llu more since the last report)",
	    svc->s_conf->sc_name, peer, why,
	    (unsigned long long)rl->rl_pending);
	rl->rl_logged = now;
	rl->rl_pending = 0;
	proxy_wait_free(pw, 1);
	worker_idle_check(svc->s_worker);
}

static void
proxy_timeout_cb(void *arg)
{
	proxy_fail(arg, "none within proxy_timeout");
}

/*
 * The header is in: the client it names becomes the peer, and the
 * connection goes through the usual admission with it.
 */
static void
proxy_done(struct proxy_wait *pw, const struct proxy_hdr *ph)
{
	struct evi_service	*svc = pw->pw_svc;
	struct proxy_info	*pi = NULL;
	union sockunion		 peer = pw->pw_peer;
	socklen_t		 len = pw->pw_len;
	int			 fd = pw->pw_fd;

	if (!ph->ph_local) {
		pi = xmalloc(sizeof(*pi) + ph->ph_tlv_len);
		pi->pi_via = pw->pw_peer;
		pi->pi_tlv_len = ph->ph_tlv_len;
		memcpy(pi->pi_tlv, pw->pw_buf + ph->ph_tlv_off,
		    ph->ph_tlv_len);
		peer = ph->ph_src;
		len = addr_len(&peer.sa);
	}
	proxy_wait_free(pw, 0);
	/* Admitted (or refused) first: a drain waits for it either way. */
	listener_admit(svc, fd, &peer.sa, len, pi);
	worker_idle_check(svc->s_worker);
}

/*
 * Reads what there is of the header: peeks, and consumes what is surely
 * header (all of it while incomplete, exactly its length once complete),
 * so a slow balancer cannot keep the socket readable and spin us.
 */
static void
proxy_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proxy_wait	*pw = arg;
	struct proxy_hdr	 ph;
	const char		*why;
	ssize_t			 n;
	size_t			 take;
	int			 rv;

	(void)events;
	n = recv(fd, pw->pw_buf + pw->pw_have, sizeof(pw->pw_buf) -
	    pw->pw_have, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proxy_fail(pw, n == 0 ? "truncated (the peer closed)" :
		    strerror(errno));
		return;
	}
	rv = proxy_parse(pw->pw_buf, pw->pw_have + (size_t)n,
	    (int)pw->pw_svc->s_conf->sc_limits.lim_proxy, &ph, &why);
	if (rv == -1) {
		proxy_fail(pw, why);
		return;
	}
	take = rv == 1 ? ph.ph_len - pw->pw_have : (size_t)n;
	if (recv(fd, pw->pw_buf + pw->pw_have, take, 0) != (ssize_t)take) {
		proxy_fail(pw, "truncated");
		return;
	}
	pw->pw_have += take;
	if (rv == 1)
		proxy_done(pw, &ph);
}

/*
 * A connection to a proxy_protocol service: refused unless it comes from
 * a balancer in proxy_from; otherwise it waits, for proxy_timeout at
 * most, for the header, and the module is not told yet.
 */
void
proxy_start(struct evi_service *svc, int s, const struct sockaddr *sa,
    socklen_t len)
{
	const struct limits_conf	*lim = &svc->s_conf->sc_limits;
	struct proxy_wait		*pw;
	struct acl			 none = { NULL, 0 };
	struct timeval			 tv;

	if (!acl_allows(&lim->lim_proxy_from, &none, sa)) {
		close(s);
		limits_refused(svc, EVI_REFUSE_ACL, sa,
		    "PROXY header from a source not in proxy_from");
		return;
	}
	pw = xcalloc(1, sizeof(*pw));
	pw->pw_svc = svc;
	pw->pw_fd = s;
	memcpy(&pw->pw_peer, sa, len < sizeof(pw->pw_peer) ? len :
	    sizeof(pw->pw_peer));
	pw->pw_len = len;
	TAILQ_INSERT_TAIL(&svc->s_proxy_waits, pw, pw_entry);
	svc->s_worker->w_npending++;
	event_assign(&pw->pw_ev, svc->s_base, s, EV_READ | EV_PERSIST,
	    proxy_read_cb, pw);
	event_add(&pw->pw_ev, NULL);
	deadline_init(&pw->pw_deadline, proxy_timeout_cb, pw);
	tv.tv_sec = (time_t)(lim->lim_proxy_ms / 1000);
	tv.tv_usec = (suseconds_t)((lim->lim_proxy_ms % 1000) * 1000);
	deadline_add(&svc->s_worker->w_timers, &pw->pw_deadline, &tv);
}

/* Drops every connection still waiting for its header (stop, free). */
void
proxy_close_all(struct evi_service *svc)
{
	struct proxy_wait	*pw, *next;

	for (pw = TAILQ_FIRST(&svc->s_proxy_waits); pw != NULL; pw = next) {
		next = TAILQ_NEXT(pw, pw_entry);
		proxy_wait_free(pw, 1);
	}
}

const void *
evi_conn_proxy_tlv(const struct evi_conn *c, int type, size_t *len)
{
	if (c->c_proxy == NULL)
		return (NULL);
	return (proxy_tlv_find(c->c_proxy->pi_tlv, c->c_proxy->pi_tlv_len,
	    type, len));
}

const struct sockaddr *
evi_conn_via(const struct evi_conn *c, socklen_t *len)
{
	if (c->c_proxy == NULL)
		return (NULL);
	if (len != NULL)
		*len = addr_len(&c->c_proxy->pi_via.sa);
	return (&c->c_proxy->pi_via.sa);
}
