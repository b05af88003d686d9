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
 * Unit tests for the PROXY protocol parser (daemon/proxy.c): both
 * versions as HAProxy's spec writes them, every malformed class the
 * daemon must refuse, the bounds, and the TLV lookup modules use.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"
#include "check_run.h"

#define ANY	(PROXY_V1 | PROXY_V2)

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static struct proxy_hdr	 ph;
static const char	*why;
static uint8_t		 buf[PROXY_MAX + 64];

/* Parses a string as the whole input. */
static int
parse_str(const char *s, int versions)
{
	return (proxy_parse((const uint8_t *)s, strlen(s), versions, &ph,
	    &why));
}

/* Builds a v2 header in buf: returns its length. */
static size_t
v2(uint8_t ver_cmd, uint8_t fam, const void *body, size_t len)
{
	memcpy(buf, sig, 12);
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (uint8_t)(len >> 8);
	buf[15] = (uint8_t)len;
	if (len > 0)
		memcpy(buf + 16, body, len);
	return (16 + len);
}

/* An IPv4 block: 192.0.2.1:1234 -> 198.51.100.2:80, then tlvs. */
static size_t
v2_inet(const void *tlvs, size_t tlen)
{
	uint8_t	body[12 + 256];

	memcpy(body, "\xc0\x00\x02\x01\xc6\x33\x64\x02\x04\xd2\x00\x50", 12);
	memcpy(body + 12, tlvs, tlen);
	return (v2(0x21, 0x11, body, 12 + tlen));
}

/* The source address and port the parser found, as text. */
static const char *
src_string(void)
{
	static char	s[ADDR_STRLEN];

	return (addr_string(&ph.ph_src.sa, s, sizeof(s)));
}

static void
assert_bad(int rv, const char *want)
{
	ck_assert_int_eq(rv, -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, want) != NULL, "why \"%s\", wanted \"%s\"",
	    why, want);
}

START_TEST(test_v1_tcp4_names_the_client_and_its_length)
{
	const char	*h = "PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n";
	char		 in[128];

	(void)snprintf(in, sizeof(in), "%sGET /", h);
	ck_assert_int_eq(parse_str(in, ANY), 1);
	ck_assert_int_eq(ph.ph_version, 1);
	ck_assert_int_eq(ph.ph_local, 0);
	ck_assert_uint_eq(ph.ph_len, strlen(h));
	ck_assert_str_eq(src_string(), "192.0.2.1:1234");
}
END_TEST

START_TEST(test_v1_tcp6_names_the_client)
{
	ck_assert_int_eq(parse_str("PROXY TCP6 2001:db8::1 2001:db8::2 "
	    "65535 443\r\n", PROXY_V1), 1);
	ck_assert_str_eq(src_string(), "[2001:db8::1]:65535");
}
END_TEST

START_TEST(test_v1_unknown_keeps_the_socket_peer)
{
	ck_assert_int_eq(parse_str("PROXY UNKNOWN\r\n", ANY), 1);
	ck_assert_int_eq(ph.ph_local, 1);
	ck_assert_int_eq(parse_str("PROXY UNKNOWN ff ee 1 2\r\n", ANY), 1);
	ck_assert_int_eq(ph.ph_local, 1);
}
END_TEST

START_TEST(test_every_prefix_of_a_header_asks_for_more)
{
	const char	*h = "PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n";
	size_t		 i, n;

	for (i = 0; i < strlen(h); i++)
		ck_assert_int_eq(proxy_parse((const uint8_t *)h, i, ANY, &ph,
		    &why), 0);
	n = v2_inet("\x05\x00\x02" "id", 5);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(proxy_parse(buf, i, ANY, &ph, &why), 0);
	ck_assert_int_eq(proxy_parse(buf, n, ANY, &ph, &why), 1);
}
END_TEST

START_TEST(test_v1_line_of_107_bytes_passes_and_108_fails)
{
	char	line[200], fill[108];
	size_t	pad;

	/* UNKNOWN lets any text fill the line up to the bound. */
	pad = 107 - strlen("PROXY UNKNOWN \r\n");
	memset(fill, 'a', pad);
	fill[pad] = '\0';
	(void)snprintf(line, sizeof(line), "PROXY UNKNOWN %s\r\n", fill);
	ck_assert_uint_eq(strlen(line), 107);
	ck_assert_int_eq(parse_str(line, ANY), 1);
	ck_assert_uint_eq(ph.ph_len, 107);
	(void)snprintf(line, sizeof(line), "PROXY UNKNOWN %sa\r\n", fill);
	assert_bad(parse_str(line, ANY), "longer than 107");
	/* Without an end in sight, 107 bytes are enough to refuse. */
	line[106] = 'x';
	assert_bad(proxy_parse((const uint8_t *)line, 107, ANY, &ph, &why),
	    "longer than 107");
}
END_TEST

START_TEST(test_v1_garbage_is_refused)
{
	assert_bad(parse_str("GET / HTTP/1.0\r\n", ANY), "not a PROXY");
	assert_bad(parse_str("PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n", ANY),
	    "unknown protocol");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4  1.2.3.5 1 2\r\n", ANY),
	    "garbage");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n", ANY),
	    "garbage");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4 1.2.3.5 1 2 \r\n", ANY),
	    "garbage");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n", ANY),
	    "line feed");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4 1.2.3.5 1 2\rx", ANY),
	    "carriage return");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n", ANY),
	    "port");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n", ANY),
	    "port");
	assert_bad(parse_str("PROXY TCP4 1.2.3.256 1.2.3.5 1 2\r\n", ANY),
	    "bad address");
	assert_bad(parse_str("PROXY TCP4 1.2.3.4\t1.2.3.5 1 2\r\n", ANY),
	    "garbage");
}
END_TEST

START_TEST(test_v1_family_mismatch_is_refused)
{
	assert_bad(parse_str("PROXY TCP4 2001:db8::1 1.2.3.5 1 2\r\n", ANY),
	    "family mismatch");
	assert_bad(parse_str("PROXY TCP6 1.2.3.4 2001:db8::2 1 2\r\n", ANY),
	    "family mismatch");
}
END_TEST

START_TEST(test_versions_not_configured_are_refused)
{
	assert_bad(parse_str("PROXY UNKNOWN\r\n", PROXY_V2), "v1 header");
	v2_inet("", 0);
	assert_bad(proxy_parse(buf, 28, PROXY_V1, &ph, &why), "v2 header");
}
END_TEST

START_TEST(test_v2_inet_names_the_client)
{
	size_t	n = v2_inet("", 0);

	buf[n] = 'x';
	ck_assert_int_eq(proxy_parse(buf, n + 1, ANY, &ph, &why), 1);
	ck_assert_int_eq(ph.ph_version, 2);
	ck_assert_uint_eq(ph.ph_len, 28);
	ck_assert_str_eq(src_string(), "192.0.2.1:1234");
	ck_assert_uint_eq(ph.ph_tlv_len, 0);
}
END_TEST

START_TEST(test_v2_inet6_names_the_client)
{
	uint8_t	body[36];

	memset(body, 0, sizeof(body));
	(void)inet_pton(AF_INET6, "2001:db8::7", body);
	body[32] = 0x01;
	body[33] = 0xbb;
	ck_assert_int_eq(proxy_parse(buf, v2(0x21, 0x21, body, 36), ANY, &ph,
	    &why), 1);
	ck_assert_str_eq(src_string(), "[2001:db8::7]:443");
}
END_TEST

START_TEST(test_v2_local_keeps_the_socket_peer)
{
	ck_assert_int_eq(proxy_parse(buf, v2(0x20, 0x00, NULL, 0), ANY, &ph,
	    &why), 1);
	ck_assert_int_eq(ph.ph_local, 1);
	/* LOCAL ignores whatever address block comes with it. */
	ck_assert_int_eq(proxy_parse(buf, v2(0x20, 0x11, "abc", 3), ANY, &ph,
	    &why), 1);
	ck_assert_int_eq(ph.ph_local, 1);
	ck_assert_uint_eq(ph.ph_len, 19);
}
END_TEST

START_TEST(test_v2_bad_signature_version_command_are_refused)
{
	v2_inet("", 0);
	buf[3] = 'X';
	assert_bad(proxy_parse(buf, 28, ANY, &ph, &why), "signature");
	assert_bad(proxy_parse(buf, 4, ANY, &ph, &why), "signature");
	v2_inet("", 0);
	buf[12] = 0x11;
	assert_bad(proxy_parse(buf, 28, ANY, &ph, &why), "version");
	buf[12] = 0x22;
	assert_bad(proxy_parse(buf, 28, ANY, &ph, &why), "command");
	buf[12] = 0x21;
	buf[13] = 0x41;
	assert_bad(proxy_parse(buf, 28, ANY, &ph, &why), "unknown family");
	buf[13] = 0x13;
	assert_bad(proxy_parse(buf, 28, ANY, &ph, &why), "unknown family");
	buf[13] = 0x12;
	assert_bad(proxy_parse(buf, 28, ANY, &ph, &why), "datagram");
}
END_TEST

START_TEST(test_v2_length_bounds_are_enforced)
{
	uint8_t	body[PROXY_V2_MAX_LEN + 1];

	memset(body, 0, sizeof(body));
	/* Too short for its family. */
	assert_bad(proxy_parse(buf, v2(0x21, 0x11, body, 11), ANY, &ph,
	    &why), "family mismatch");
	assert_bad(proxy_parse(buf, v2(0x21, 0x21, body, 35), ANY, &ph,
	    &why), "family mismatch");
	assert_bad(proxy_parse(buf, v2(0x21, 0x31, body, 215), ANY, &ph,
	    &why), "family mismatch");
	/* Over the bound, refused on the fixed part alone. */
	v2(0x21, 0x11, body, PROXY_V2_MAX_LEN + 1);
	assert_bad(proxy_parse(buf, 16, ANY, &ph, &why), "longer");
	/* At the bound: a NOOP TLV filling it. */
	body[12] = EVI_PP2_TYPE_NOOP;
	body[13] = (PROXY_V2_MAX_LEN - 15) >> 8;
	body[14] = (PROXY_V2_MAX_LEN - 15) & 0xff;
	ck_assert_int_eq(proxy_parse(buf, v2(0x21, 0x11, body,
	    PROXY_V2_MAX_LEN), ANY, &ph, &why), 1);
	ck_assert_uint_eq(ph.ph_len, PROXY_MAX);
}
END_TEST

START_TEST(test_v2_unix_and_unspec_keep_the_socket_peer)
{
	uint8_t	body[216];

	memset(body, 0, sizeof(body));
	ck_assert_int_eq(proxy_parse(buf, v2(0x21, 0x31, body, 216), ANY, &ph,
	    &why), 1);
	ck_assert_int_eq(ph.ph_local, 1);
	ck_assert_int_eq(proxy_parse(buf, v2(0x21, 0x00, NULL, 0), ANY, &ph,
	    &why), 1);
	ck_assert_int_eq(ph.ph_local, 1);
}
END_TEST

START_TEST(test_v2_tlvs_are_found_by_type)
{
	const char	*tlvs = "\x01\x00\x02" "h2\x05\x00\x03" "abc\x01\x00\x01x";
	const uint8_t	*v;
	size_t		 n = v2_inet(tlvs, 15), len;

	ck_assert_int_eq(proxy_parse(buf, n, ANY, &ph, &why), 1);
	ck_assert_uint_eq(ph.ph_tlv_len, 15);
	v = proxy_tlv_find(buf + ph.ph_tlv_off, ph.ph_tlv_len,
	    EVI_PP2_TYPE_ALPN, &len);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(v, "h2", 2);
	v = proxy_tlv_find(buf + ph.ph_tlv_off, ph.ph_tlv_len,
	    EVI_PP2_TYPE_UNIQUE_ID, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(v, "abc", 3);
	ck_assert_ptr_null(proxy_tlv_find(buf + ph.ph_tlv_off,
	    ph.ph_tlv_len, EVI_PP2_TYPE_AUTHORITY, &len));
}
END_TEST

START_TEST(test_v2_tlvs_past_the_header_are_refused)
{
	assert_bad(proxy_parse(buf, v2_inet("\x01\x00\x05" "h2", 5), ANY, &ph,
	    &why), "TLV longer");
	assert_bad(proxy_parse(buf, v2_inet("\x01\x00", 2), ANY, &ph, &why),
	    "truncated TLV");
}
END_TEST

static Suite *
proxy_suite(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_v1_tcp4_names_the_client_and_its_length);
	tcase_add_test(tc, test_v1_tcp6_names_the_client);
	tcase_add_test(tc, test_v1_unknown_keeps_the_socket_peer);
	tcase_add_test(tc, test_every_prefix_of_a_header_asks_for_more);
	tcase_add_test(tc, test_v1_line_of_107_bytes_passes_and_108_fails);
	tcase_add_test(tc, test_v1_garbage_is_refused);
	tcase_add_test(tc, test_v1_family_mismatch_is_refused);
	tcase_add_test(tc, test_versions_not_configured_are_refused);
	tcase_add_test(tc, test_v2_inet_names_the_client);
	tcase_add_test(tc, test_v2_inet6_names_the_client);
	tcase_add_test(tc, test_v2_local_keeps_the_socket_peer);
	tcase_add_test(tc, test_v2_bad_signature_version_command_are_refused);
	tcase_add_test(tc, test_v2_length_bounds_are_enforced);
	tcase_add_test(tc, test_v2_unix_and_unspec_keep_the_socket_peer);
	tcase_add_test(tc, test_v2_tlvs_are_found_by_type);
	tcase_add_test(tc, test_v2_tlvs_past_the_header_are_refused);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(proxy_suite()));
}
