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
 * Unit tests for addr.c: listen addresses, ports and how addresses are
 * printed.  Every refusal is checked word for word, and no refusal may
 * leave the address looking like "any".
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"
#include "check_run.h"

static struct listen_addr	 la;
static char			*cause;
static char			 buf[ADDR_STRLEN];

/* Starts each test with an address that looks like "any" on purpose. */
static void
setup(void)
{
	memset(&la, 0xff, sizeof(la));
	cause = NULL;
	memset(buf, 0, sizeof(buf));
}

static void
teardown(void)
{
	free(cause);
}

/* Parses text, which must succeed, and prints the result into buf. */
static void
listen_ok(const char *text)
{
	ck_assert_msg(addr_parse_listen(text, &la, &cause) == 0,
	    "\"%s\" refused: %s", text, cause);
	ck_assert_ptr_null(cause);
	if (!la.la_any)
		addr_string(&la.la_su.sa, buf, sizeof(buf));
}

/* Parses text, which must fail without becoming "any"; returns why. */
static const char *
listen_error(const char *text)
{
	ck_assert_msg(addr_parse_listen(text, &la, &cause) == -1,
	    "\"%s\" accepted", text);
	ck_assert_msg(la.la_any == 0, "\"%s\" refused but left as any", text);
	ck_assert_ptr_nonnull(cause);
	return (cause);
}

START_TEST(test_listen_takes_an_ipv4_address_and_port)
{
	listen_ok("127.0.0.1:7");
	ck_assert_int_eq(la.la_any, 0);
	ck_assert_int_eq(la.la_port, 7);
	ck_assert_int_eq(la.la_su.sa.sa_family, AF_INET);
	ck_assert_int_eq(la.la_len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohl(la.la_su.sin.sin_addr.s_addr),
	    INADDR_LOOPBACK);
	ck_assert_int_eq(ntohs(la.la_su.sin.sin_port), 7);
	ck_assert_str_eq(buf, "127.0.0.1:7");
}
END_TEST

START_TEST(test_listen_takes_a_bracketed_ipv6_address_and_port)
{
	listen_ok("[::1]:7");
	ck_assert_int_eq(la.la_any, 0);
	ck_assert_int_eq(la.la_port, 7);
	ck_assert_int_eq(la.la_su.sa.sa_family, AF_INET6);
	ck_assert_int_eq(la.la_len, sizeof(struct sockaddr_in6));
	ck_assert(IN6_IS_ADDR_LOOPBACK(&la.la_su.sin6.sin6_addr));
	ck_assert_int_eq(ntohs(la.la_su.sin6.sin6_port), 7);
	ck_assert_str_eq(buf, "[::1]:7");
}
END_TEST

START_TEST(test_listen_star_means_every_address)
{
	listen_ok("*:7");
	ck_assert_int_eq(la.la_any, 1);
	ck_assert_int_eq(la.la_port, 7);
}
END_TEST

START_TEST(test_listen_bare_port_means_every_address)
{
	listen_ok("7");
	ck_assert_int_eq(la.la_any, 1);
	ck_assert_int_eq(la.la_port, 7);
	listen_ok("65535");
	ck_assert_int_eq(la.la_any, 1);
	ck_assert_int_eq(la.la_port, 65535);
}
END_TEST

START_TEST(test_listen_accepts_port_zero)
{
	listen_ok("0");
	ck_assert_int_eq(la.la_any, 1);
	ck_assert_int_eq(la.la_port, 0);
	listen_ok("127.0.0.1:0");
	ck_assert_int_eq(la.la_any, 0);
	ck_assert_int_eq(la.la_port, 0);
	ck_assert_str_eq(buf, "127.0.0.1:0");
}
END_TEST

START_TEST(test_listen_takes_explicit_wildcard_addresses_as_given)
{
	listen_ok("0.0.0.0:7");
	ck_assert_int_eq(la.la_any, 0);
	ck_assert_str_eq(buf, "0.0.0.0:7");
	listen_ok("[::]:7");
	ck_assert_int_eq(la.la_any, 0);
	ck_assert_str_eq(buf, "[::]:7");
}
END_TEST

START_TEST(test_listen_keeps_an_ipv6_scope)
{
	if (if_nametoindex("lo") == 0)
		return;		/* no "lo" interface to scope to */
	listen_ok("[fe80::1%lo]:7");
	ck_assert_int_eq(la.la_su.sa.sa_family, AF_INET6);
	ck_assert_uint_eq(la.la_su.sin6.sin6_scope_id, if_nametoindex("lo"));
	ck_assert_str_eq(buf, "[fe80::1%lo]:7");
}
END_TEST

START_TEST(test_listen_rejects_a_missing_port)
{
	ck_assert_str_eq(listen_error("127.0.0.1:"), "missing port");
	free(cause);
	ck_assert_str_eq(listen_error("[::1]:"), "missing port");
	free(cause);
	ck_assert_str_eq(listen_error("*:"), "missing port");
}
END_TEST

START_TEST(test_listen_rejects_port_65536)
{
	ck_assert_str_eq(listen_error("127.0.0.1:65536"),
	    "port 65536 out of range (0 to 65535)");
	free(cause);
	ck_assert_str_eq(listen_error("65536"),
	    "port 65536 out of range (0 to 65535)");
	free(cause);
	ck_assert_str_eq(listen_error("1000000"),
	    "invalid port \"1000000\" (expected a number from 0 to 65535)");
}
END_TEST

START_TEST(test_listen_rejects_a_port_with_a_suffix)
{
	ck_assert_str_eq(listen_error("7x"),
	    "invalid port \"7x\" (expected a number from 0 to 65535)");
	free(cause);
	ck_assert_str_eq(listen_error("127.0.0.1:7x"),
	    "invalid port \"7x\" (expected a number from 0 to 65535)");
	free(cause);
	ck_assert_str_eq(listen_error("127.0.0.1: 7"),
	    "invalid port \" 7\" (expected a number from 0 to 65535)");
}
END_TEST

START_TEST(test_listen_rejects_a_negative_port)
{
	ck_assert_str_eq(listen_error("-1"),
	    "invalid port \"-1\" (expected a number from 0 to 65535)");
	free(cause);
	ck_assert_str_eq(listen_error("*:-1"),
	    "invalid port \"-1\" (expected a number from 0 to 65535)");
}
END_TEST

START_TEST(test_listen_does_not_resolve_host_names)
{
	ck_assert_str_eq(listen_error("localhost:7"),
	    "invalid address \"localhost\" (expected an IPv4 address, "
	    "[IPv6] or *; host names are not resolved)");
}
END_TEST

START_TEST(test_listen_rejects_unbracketed_ipv6)
{
	ck_assert_str_eq(listen_error("::1:7"),
	    "IPv6 address in \"::1:7\" must be in brackets, as [::1]:7");
}
END_TEST

START_TEST(test_listen_rejects_a_bracket_without_a_port)
{
	ck_assert_str_eq(listen_error("[::1]7"),
	    "missing \":PORT\" after \"]\" in \"[::1]7\"");
	free(cause);
	ck_assert_str_eq(listen_error("[::1]"),
	    "missing \":PORT\" after \"]\" in \"[::1]\"");
}
END_TEST

START_TEST(test_listen_rejects_an_unclosed_bracket)
{
	ck_assert_str_eq(listen_error("[::1"), "missing \"]\" in \"[::1\"");
	free(cause);
	ck_assert_str_eq(listen_error("[::1:7"),
	    "missing \"]\" in \"[::1:7\"");
}
END_TEST

START_TEST(test_listen_rejects_an_empty_host)
{
	ck_assert_str_eq(listen_error(":7"),
	    "missing address before \":7\" (use *:7 for every address)");
	free(cause);
	ck_assert_str_eq(listen_error("[]:7"),
	    "missing address before \":7\" (use *:7 for every address)");
}
END_TEST

START_TEST(test_listen_rejects_an_ipv4_octet_over_255)
{
	ck_assert_str_eq(listen_error("999.1.1.1:7"),
	    "invalid address \"999.1.1.1\" (expected an IPv4 address, "
	    "[IPv6] or *; host names are not resolved)");
}
END_TEST

START_TEST(test_listen_rejects_short_ipv4_forms_that_inet_aton_takes)
{
	/* inet_aton reads "0" as 0.0.0.0: that must not become "any". */
	ck_assert_str_eq(listen_error("0:7"),
	    "invalid address \"0\" (expected an IPv4 address, "
	    "[IPv6] or *; host names are not resolved)");
	free(cause);
	ck_assert_str_eq(listen_error("127.1:7"),
	    "invalid address \"127.1\" (expected an IPv4 address, "
	    "[IPv6] or *; host names are not resolved)");
	free(cause);
	ck_assert_str_eq(listen_error("0x7f.0.0.1:7"),
	    "invalid address \"0x7f.0.0.1\" (expected an IPv4 address, "
	    "[IPv6] or *; host names are not resolved)");
}
END_TEST

START_TEST(test_listen_rejects_the_wrong_family_in_brackets)
{
	ck_assert_str_eq(listen_error("[127.0.0.1]:7"),
	    "invalid IPv6 address \"127.0.0.1\"");
	free(cause);
	ck_assert_str_eq(listen_error("[*]:7"), "invalid IPv6 address \"*\"");
	free(cause);
	ck_assert_str_eq(listen_error("[fe80::1%nosuchif0]:7"),
	    "invalid IPv6 address \"fe80::1%nosuchif0\"");
}
END_TEST

START_TEST(test_listen_rejects_an_empty_string)
{
	ck_assert_str_eq(listen_error(""), "empty address");
}
END_TEST

START_TEST(test_port_takes_the_whole_range)
{
	in_port_t	port = 1;

	ck_assert_int_eq(addr_parse_port("0", &port, &cause), 0);
	ck_assert_int_eq(port, 0);
	ck_assert_int_eq(addr_parse_port("65535", &port, &cause), 0);
	ck_assert_int_eq(port, 65535);
	ck_assert_int_eq(addr_parse_port("00080", &port, &cause), 0);
	ck_assert_int_eq(port, 80);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_port_refusal_leaves_the_port_alone)
{
	in_port_t	port = 42;

	ck_assert_int_eq(addr_parse_port("65536", &port, &cause), -1);
	ck_assert_str_eq(cause, "port 65536 out of range (0 to 65535)");
	ck_assert_int_eq(port, 42);
	free(cause);
	ck_assert_int_eq(addr_parse_port("", &port, &cause), -1);
	ck_assert_str_eq(cause, "missing port");
	ck_assert_int_eq(port, 42);
	free(cause);
	ck_assert_int_eq(addr_parse_port("+7", &port, &cause), -1);
	ck_assert_str_eq(cause,
	    "invalid port \"+7\" (expected a number from 0 to 65535)");
	ck_assert_int_eq(port, 42);
}
END_TEST

START_TEST(test_addr_string_prints_ipv4_as_address_colon_port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(65535);
	sin.sin_addr.s_addr = htonl(0x0a000001);
	ck_assert_ptr_eq(addr_string((struct sockaddr *)&sin, buf,
	    sizeof(buf)), buf);
	ck_assert_str_eq(buf, "10.0.0.1:65535");
}
END_TEST

START_TEST(test_addr_string_prints_ipv6_in_brackets)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(80);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1",
	    &sin6.sin6_addr), 1);
	addr_string((struct sockaddr *)&sin6, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2001:db8::1]:80");
}
END_TEST

START_TEST(test_addr_string_prints_a_question_mark_for_no_address)
{
	union sockunion	su;

	memset(&su, 0, sizeof(su));
	su.sa.sa_family = AF_UNSPEC;
	addr_string(&su.sa, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
}
END_TEST

START_TEST(test_addr_string_truncates_to_the_buffer)
{
	struct sockaddr_in	sin;
	char			small[8];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(7);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr_string((struct sockaddr *)&sin, small, sizeof(small));
	ck_assert_str_eq(small, "127.0.0");
}
END_TEST

START_TEST(test_addr_len_follows_the_family)
{
	struct sockaddr_in6	sin6;
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(addr_len((struct sockaddr *)&sin), sizeof(sin));
	ck_assert_int_eq(addr_len((struct sockaddr *)&sin6), sizeof(sin6));
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("addr");

	tc = tcase_create("listen");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_listen_takes_an_ipv4_address_and_port);
	tcase_add_test(tc, test_listen_takes_a_bracketed_ipv6_address_and_port);
	tcase_add_test(tc, test_listen_star_means_every_address);
	tcase_add_test(tc, test_listen_bare_port_means_every_address);
	tcase_add_test(tc, test_listen_accepts_port_zero);
	tcase_add_test(tc,
	    test_listen_takes_explicit_wildcard_addresses_as_given);
	tcase_add_test(tc, test_listen_keeps_an_ipv6_scope);
	tcase_add_test(tc, test_listen_rejects_a_missing_port);
	tcase_add_test(tc, test_listen_rejects_port_65536);
	tcase_add_test(tc, test_listen_rejects_a_port_with_a_suffix);
	tcase_add_test(tc, test_listen_rejects_a_negative_port);
	tcase_add_test(tc, test_listen_does_not_resolve_host_names);
	tcase_add_test(tc, test_listen_rejects_unbracketed_ipv6);
	tcase_add_test(tc, test_listen_rejects_a_bracket_without_a_port);
	tcase_add_test(tc, test_listen_rejects_an_unclosed_bracket);
	tcase_add_test(tc, test_listen_rejects_an_empty_host);
	tcase_add_test(tc, test_listen_rejects_an_ipv4_octet_over_255);
	tcase_add_test(tc,
	    test_listen_rejects_short_ipv4_forms_that_inet_aton_takes);
	tcase_add_test(tc, test_listen_rejects_the_wrong_family_in_brackets);
	tcase_add_test(tc, test_listen_rejects_an_empty_string);
	suite_add_tcase(s, tc);

	tc = tcase_create("port");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_port_takes_the_whole_range);
	tcase_add_test(tc, test_port_refusal_leaves_the_port_alone);
	suite_add_tcase(s, tc);

	tc = tcase_create("string");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_addr_string_prints_ipv4_as_address_colon_port);
	tcase_add_test(tc, test_addr_string_prints_ipv6_in_brackets);
	tcase_add_test(tc,
	    test_addr_string_prints_a_question_mark_for_no_address);
	tcase_add_test(tc, test_addr_string_truncates_to_the_buffer);
	tcase_add_test(tc, test_addr_len_follows_the_family);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	return (check_run(addr_suite()));
}
