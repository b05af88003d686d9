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
 * time: the Time Protocol (RFC 868).  The answer is exactly four bytes:
 * the seconds since 1900-01-01 00:00 UTC as a big-endian 32-bit number,
 * which wraps in 2036 as the RFC's arithmetic does (modulo 2^32).  TCP
 * sends it and closes; UDP answers each datagram with it.
 */

#include <stdint.h>
#include <time.h>

#include <evinetd/module.h>

/* Seconds from 1900-01-01 to 1970-01-01, per RFC 868. */
#define TIME_EPOCH_OFFSET	2208988800ULL

static void
time_now(unsigned char buf[4])
{
	uint32_t	t;

	t = (uint32_t)(((uint64_t)time(NULL) + TIME_EPOCH_OFFSET) &
	    0xffffffffULL);
	buf[0] = (unsigned char)(t >> 24);
	buf[1] = (unsigned char)(t >> 16);
	buf[2] = (unsigned char)(t >> 8);
	buf[3] = (unsigned char)t;
}

static int
time_open(struct evi_conn *c)
{
	unsigned char	buf[4];

	time_now(buf);
	if (evi_conn_write(c, buf, sizeof(buf)) != 0)
		return (-1);
	evi_conn_finish(c);
	return (0);
}

static int
time_dgram(struct evi_service *svc, const struct evi_dgram *d)
{
	unsigned char	buf[4];

	time_now(buf);
	return (evi_dgram_reply(svc, d, buf, sizeof(buf)));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "time",
	.description = "Time Protocol, RFC 868: seconds since 1900, binary",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.conn_open = time_open,
	.dgram = time_dgram,
};
