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
 * chargen: the Character Generator Protocol (RFC 864).
 *
 * The pattern is the RFC's ring: the 95 printing ASCII characters 0x20 to
 * 0x7e, 72 to a line followed by CR LF, each line starting one character
 * further along the ring than the one before.  After 95 lines the pattern
 * repeats, so one period is 95 * 74 = 7030 bytes, built once per service.
 *
 * TCP: the stream is fed from the conn_drained callback, a few periods at
 * a time, as references to the prebuilt period (no copy, no allocation
 * beyond a small chain header).  Memory stays bounded however slowly the
 * client reads: we add output only when the daemon says it has all gone
 * to the kernel.  Input is discarded, and a client's half-close does not
 * stop the stream; its close or reset does.
 *
 * UDP: each datagram is answered with one datagram of 0 to 512 bytes of
 * the pattern (a random length, as RFC 864 asks), starting at the next
 * line of the ring each time.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <evinetd/module.h>

#define CHARGEN_FIRST		0x20
#define CHARGEN_CHARS		95
#define CHARGEN_LINE		72
#define CHARGEN_LINELEN		(CHARGEN_LINE + 2)
#define CHARGEN_PERIOD		(CHARGEN_CHARS * CHARGEN_LINELEN)
#define CHARGEN_DGRAM_MAX	512

struct chargen {
	/* Two periods, so any offset has a full period after it. */
	char		 ring[2 * CHARGEN_PERIOD];
	unsigned int	 dgram_line;
	long long	 periods;
};

/* Builds the pattern once for the service. */
static int
chargen_init(struct evi_service *svc, void **state)
{
	struct chargen	*cg;
	int		 line, col;
	char		*p;

	if ((cg = calloc(1, sizeof(*cg))) == NULL)
		return (evi_service_fail(svc, "out of memory"));
	p = cg->ring;
	for (line = 0; line < 2 * CHARGEN_CHARS; line++) {
		for (col = 0; col < CHARGEN_LINE; col++)
			*p++ = (char)(CHARGEN_FIRST +
			    (line + col) % CHARGEN_CHARS);
		*p++ = '\r';
		*p++ = '\n';
	}
	cg->periods = evi_opt_int(svc, "burst") / CHARGEN_PERIOD;
	if (cg->periods < 1)
		cg->periods = 1;
	*state = cg;
	return (0);
}

static void
chargen_fini(struct evi_service *svc, void *state)
{
	(void)svc;
	free(state);
}

/* Queues a burst of whole periods, so the next line is always line 0. */
static int
chargen_fill(struct evi_conn *c)
{
	struct chargen	*cg = evi_service_state(evi_conn_service(c));
	struct evbuffer	*out = evi_conn_output(c);
	long long	 i;

	for (i = 0; i < cg->periods; i++) {
		if (evbuffer_add_reference(out, cg->ring, CHARGEN_PERIOD,
		    NULL, NULL) != 0)
			return (-1);
	}
	return (0);
}

static int
chargen_read(struct evi_conn *c, struct evbuffer *in)
{
	(void)c;
	return (evbuffer_drain(in, evbuffer_get_length(in)));
}

/* The client half-closed: RFC 864 keeps sending until it really closes. */
static int
chargen_eof(struct evi_conn *c)
{
	(void)c;
	return (0);
}

static int
chargen_dgram(struct evi_service *svc, const struct evi_dgram *d)
{
	struct chargen	*cg = evi_service_state(svc);
	size_t		 len, off;

	len = arc4random_uniform(CHARGEN_DGRAM_MAX + 1);
	off = (size_t)cg->dgram_line * CHARGEN_LINELEN;
	cg->dgram_line = (cg->dgram_line + 1) % CHARGEN_CHARS;
	return (evi_dgram_reply(svc, d, cg->ring + off, len));
}

static const struct evi_option chargen_options[] = {
	{ "burst", EVI_OPT_SIZE, "56k",
	    "bytes queued each time the output drains (whole 7030-byte "
	    "periods)", 0, CHARGEN_PERIOD, 16 * 1024 * 1024, NULL },
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "chargen",
	.description = "Character Generator Protocol, RFC 864",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.options = chargen_options,
	.init = chargen_init,
	.fini = chargen_fini,
	.conn_open = chargen_fill,
	.conn_read = chargen_read,
	.conn_drained = chargen_fill,
	.conn_eof = chargen_eof,
	.dgram = chargen_dgram,
};
