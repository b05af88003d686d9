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
 * libFuzzer target for the PROXY protocol parser (proxy.c).  The first
 * byte picks the versions allowed (its low two bits, 0 meaning both);
 * the rest is what a balancer sent.  Besides the sanitizers, each run
 * holds the parser to what proxy_read_cb assumes:
 *
 *	- it never looks past the input (ASan) nor claims more than it has;
 *	- a complete header fits PROXY_MAX, a v1 line 107 bytes, and its
 *	  TLVs lie inside it, each one reachable by proxy_tlv_find;
 *	- a refusal says why;
 *	- the answer for a prefix agrees with the whole: "need more" on a
 *	  prefix of a valid header, and the same length once complete, so
 *	  that peeking in any number of pieces gives the same result.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "evinetd.h"
#include "fuzz.h"

/* Every TLV of a complete header is found, and lies inside it. */
static void
fuzz_tlvs(const uint8_t *buf, const struct proxy_hdr *ph)
{
	const uint8_t	*p = buf + ph->ph_tlv_off, *v;
	size_t		 left = ph->ph_tlv_len, n, len;

	FUZZ_CHECK(ph->ph_tlv_off + ph->ph_tlv_len <= ph->ph_len);
	while (left > 0) {
		FUZZ_CHECK(left >= 3);
		n = ((size_t)p[1] << 8) | p[2];
		FUZZ_CHECK(n <= left - 3);
		v = proxy_tlv_find(buf + ph->ph_tlv_off, ph->ph_tlv_len, p[0],
		    &len);
		FUZZ_CHECK(v != NULL && v <= p + 3);
		FUZZ_CHECK(v + len <= buf + ph->ph_tlv_off + ph->ph_tlv_len);
		p += 3 + n;
		left -= 3 + n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	 ph, part;
	const char		*why;
	uint8_t			*buf;
	size_t			 len, cut;
	int			 versions, rv, rv2;

	if (size < 1)
		return (0);
	versions = data[0] & 3;
	if (versions == 0)
		versions = PROXY_V1 | PROXY_V2;
	len = size - 1;
	/* A copy of exactly len bytes, so ASan sees any overread. */
	buf = malloc(len > 0 ? len : 1);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data + 1, len);
	rv = proxy_parse(buf, len, versions, &ph, &why);
	FUZZ_CHECK(rv >= -1 && rv <= 1);
	if (rv == -1)
		FUZZ_CHECK(why != NULL && *why != '\0');
	if (rv == 1) {
		FUZZ_CHECK(ph.ph_len > 0 && ph.ph_len <= len);
		FUZZ_CHECK(ph.ph_len <= PROXY_MAX);
		FUZZ_CHECK(ph.ph_version == 1 || ph.ph_version == 2);
		FUZZ_CHECK(ph.ph_version != 1 || ph.ph_len <= PROXY_V1_MAX);
		FUZZ_CHECK(ph.ph_version == 2 || ph.ph_tlv_len == 0);
		if (!ph.ph_local)
			FUZZ_CHECK(ph.ph_src.sa.sa_family == AF_INET ||
			    ph.ph_src.sa.sa_family == AF_INET6);
		fuzz_tlvs(buf, &ph);
		/* Whatever follows the header does not change it. */
		rv2 = proxy_parse(buf, ph.ph_len, versions, &part, &why);
		FUZZ_CHECK(rv2 == 1 && part.ph_len == ph.ph_len);
		/* Any shorter prefix asks for more, or is refused early. */
		for (cut = 0; cut < ph.ph_len; cut += 1 + cut / 8)
			FUZZ_CHECK(proxy_parse(buf, cut, versions, &part,
			    &why) == 0);
	}
	if (rv == 0)
		FUZZ_CHECK(len < PROXY_MAX);
	free(buf);
	return (0);
}
