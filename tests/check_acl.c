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
 * Unit tests for acl.c: the entries only_from and no_access take, word
 * for word what a bad one is told, and who is admitted by every shape of
 * list: none, either, both (the more specific prefix decides, a tie
 * refuses), /0, prefixes that end inside a byte, and IPv4-mapped IPv6
 * peers.
 *
 * Mapped peers are tested here and not through the daemon: a "*:PORT"
 * listener binds its IPv6 socket IPV6_V6ONLY (listener.c), so an IPv4
 * client reaches the IPv4 socket and the daemon never sees ::ffff:a.b.c.d
 * from loopback.  A peer on a dual-stack socket of some other program
 * would, and acl_allows must treat it as the IPv4 address it carries.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

static struct acl_entry	 e;
static struct acl	 only, deny;
static char		*cause;

static void
setup(void)
{
	memset(&e, 0xff, sizeof(e));
	memset(&only, 0, sizeof(only));
	memset(&deny, 0, sizeof(deny));
	cause = NULL;
}

static void
teardown(void)
{
	acl_free(&only);
	acl_free(&deny);
	free(cause);
}

/* Parses text, which must succeed, into e. */
static void
entry_ok(const char *text, int family, int prefix, const char *addr)
{
	uint8_t	want[16];

	ck_assert_msg(acl_parse_entry(text, &e, &cause) == 0,
	    "\"%s\" refused: %s", text, cause);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(e.ae_family, family);
	ck_assert_int_eq(e.ae_prefix, prefix);
	memset(want, 0, sizeof(want));
	ck_assert_int_eq(inet_pton(family, addr, want), 1);
	ck_assert_mem_eq(e.ae_addr, want, sizeof(want));
}

/* Parses text, which must fail; returns the message. */
static const char *
entry_error(const char *text)
{
	free(cause);
	cause = NULL;
	ck_assert_msg(acl_parse_entry(text, &e, &cause) == -1,
	    "\"%s\" accepted", text);
	ck_assert_ptr_nonnull(cause);
	return (cause);
}

/* Fills a list from entries, NULL-terminated; each must parse. */
static void
list(struct acl *acl, ...)
{
	struct acl_entry	 one;
	const char		*text;
	char			*why = NULL;
	va_list			 ap;

	va_start(ap, acl);
	while ((text = va_arg(ap, const char *)) != NULL) {
		ck_assert_msg(acl_parse_entry(text, &one, &why) == 0,
		    "\"%s\" refused: %s", text, why);
		acl_add(acl, &one);
	}
	va_end(ap);
}

/* Does the pair of lists admit a peer given as text (port 4242)? */
static int
admits(const char *peer)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, peer, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(4242);
	} else {
		ck_assert_msg(inet_pton(AF_INET6, peer, &sin6->sin6_addr) == 1,
		    "bad peer \"%s\" in the test", peer);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(4242);
	}
	return (acl_allows(&only, &deny, (struct sockaddr *)&ss));
}

#define ck_admits(peer)		ck_assert_msg(admits(peer) == 1, \
				    "%s refused", peer)
#define ck_refuses(peer)	ck_assert_msg(admits(peer) == 0, \
				    "%s admitted", peer)

/* Parsing. */

START_TEST(test_an_ipv4_address_alone_is_a_slash_32)
{
	entry_ok("192.0.2.7", AF_INET, 32, "192.0.2.7");
	entry_ok("127.0.0.1", AF_INET, 32, "127.0.0.1");
}
END_TEST

START_TEST(test_an_ipv6_address_alone_is_a_slash_128)
{
	entry_ok("::1", AF_INET6, 128, "::1");
	entry_ok("2001:db8::7", AF_INET6, 128, "2001:db8::7");
}
END_TEST

START_TEST(test_a_cidr_prefix_keeps_its_length_from_0_to_the_maximum)
{
	entry_ok("10.0.0.0/8", AF_INET, 8, "10.0.0.0");
	entry_ok("0.0.0.0/0", AF_INET, 0, "0.0.0.0");
	entry_ok("10.16.0.0/12", AF_INET, 12, "10.16.0.0");
	entry_ok("192.0.2.7/32", AF_INET, 32, "192.0.2.7");
	entry_ok("2001:db8::/32", AF_INET6, 32, "2001:db8::");
	entry_ok("::/0", AF_INET6, 0, "::");
	entry_ok("2001:db8:0:80::/57", AF_INET6, 57, "2001:db8:0:80::");
	entry_ok("::1/128", AF_INET6, 128, "::1");
}
END_TEST

START_TEST(test_host_bits_past_the_prefix_are_accepted)
{
	entry_ok("10.1.2.3/8", AF_INET, 8, "10.1.2.3");
	entry_ok("2001:db8::1/64", AF_INET6, 64, "2001:db8::1");
}
END_TEST

START_TEST(test_an_ipv4_mapped_entry_becomes_the_ipv4_entry_it_carries)
{
	entry_ok("::ffff:10.1.2.3", AF_INET, 32, "10.1.2.3");
	entry_ok("::ffff:10.0.0.0/104", AF_INET, 8, "10.0.0.0");
	entry_ok("::ffff:0.0.0.0/96", AF_INET, 0, "0.0.0.0");
	/* Wider than the mapped range: it stays an IPv6 prefix. */
	entry_ok("::ffff:0:0/95", AF_INET6, 95, "::ffff:0:0");
}
END_TEST

START_TEST(test_a_bad_address_is_refused_naming_the_expected_forms)
{
	ck_assert_str_eq(entry_error("bogus"), "invalid address \"bogus\" "
	    "(expected an IPv4 or IPv6 address, optionally with /PREFIX)");
	ck_assert_str_eq(entry_error("10.0.0.256/8"), "invalid address "
	    "\"10.0.0.256/8\" (expected an IPv4 or IPv6 address, optionally "
	    "with /PREFIX)");
	ck_assert_str_eq(entry_error("[::1]"), "invalid address \"[::1]\" "
	    "(expected an IPv4 or IPv6 address, optionally with /PREFIX)");
	ck_assert_str_eq(entry_error("localhost"), "invalid address "
	    "\"localhost\" (expected an IPv4 or IPv6 address, optionally "
	    "with /PREFIX)");
	ck_assert_str_eq(entry_error(""), "invalid address \"\" (expected "
	    "an IPv4 or IPv6 address, optionally with /PREFIX)");
}
END_TEST

START_TEST(test_short_ipv4_forms_that_inet_aton_takes_are_refused)
{
	ck_assert_str_eq(entry_error("10.1"), "invalid address \"10.1\" "
	    "(expected an IPv4 or IPv6 address, optionally with /PREFIX)");
	ck_assert_str_eq(entry_error("167772161"), "invalid address "
	    "\"167772161\" (expected an IPv4 or IPv6 address, optionally "
	    "with /PREFIX)");
}
END_TEST

START_TEST(test_a_slash_alone_or_a_prefix_alone_is_a_bad_address)
{
	ck_assert_str_eq(entry_error("/"), "invalid address \"/\" (expected "
	    "an IPv4 or IPv6 address, optionally with /PREFIX)");
	ck_assert_str_eq(entry_error("/8"), "invalid address \"/8\" "
	    "(expected an IPv4 or IPv6 address, optionally with /PREFIX)");
}
END_TEST

START_TEST(test_a_prefix_over_32_is_refused_for_ipv4)
{
	ck_assert_str_eq(entry_error("1.2.3.4/33"), "invalid prefix length "
	    "in \"1.2.3.4/33\" (0 to 32)");
	ck_assert_str_eq(entry_error("1.2.3.4/999"), "invalid prefix length "
	    "in \"1.2.3.4/999\" (0 to 32)");
	/* An IPv6 length is not valid on an IPv4 address. */
	ck_assert_str_eq(entry_error("10.0.0.0/64"), "invalid prefix length "
	    "in \"10.0.0.0/64\" (0 to 32)");
}
END_TEST

START_TEST(test_a_prefix_over_128_is_refused_for_ipv6)
{
	ck_assert_str_eq(entry_error("::1/129"), "invalid prefix length in "
	    "\"::1/129\" (0 to 128)");
	ck_assert_str_eq(entry_error("2001:db8::/200"), "invalid prefix "
	    "length in \"2001:db8::/200\" (0 to 128)");
}
END_TEST

START_TEST(test_an_empty_prefix_is_refused)
{
	ck_assert_str_eq(entry_error("1.2.3.4/"), "invalid prefix length in "
	    "\"1.2.3.4/\" (0 to 32)");
	ck_assert_str_eq(entry_error("::1/"), "invalid prefix length in "
	    "\"::1/\" (0 to 128)");
}
END_TEST

START_TEST(test_text_after_the_prefix_is_refused)
{
	ck_assert_str_eq(entry_error("1.2.3.4/8x"), "invalid prefix length "
	    "in \"1.2.3.4/8x\" (0 to 32)");
	ck_assert_str_eq(entry_error("1.2.3.4/8/8"), "invalid prefix length "
	    "in \"1.2.3.4/8/8\" (0 to 32)");
	ck_assert_str_eq(entry_error("1.2.3.4/ 8"), "invalid prefix length "
	    "in \"1.2.3.4/ 8\" (0 to 32)");
	ck_assert_str_eq(entry_error("::/64 "), "invalid prefix length in "
	    "\"::/64 \" (0 to 128)");
}
END_TEST

START_TEST(test_a_signed_prefix_is_refused)
{
	ck_assert_str_eq(entry_error("1.2.3.4/-1"), "invalid prefix length "
	    "in \"1.2.3.4/-1\" (0 to 32)");
	ck_assert_str_eq(entry_error("1.2.3.4/-0"), "invalid prefix length "
	    "in \"1.2.3.4/-0\" (0 to 32)");
	ck_assert_str_eq(entry_error("1.2.3.4/+8"), "invalid prefix length "
	    "in \"1.2.3.4/+8\" (0 to 32)");
	ck_assert_str_eq(entry_error("::1/-128"), "invalid prefix length in "
	    "\"::1/-128\" (0 to 128)");
}
END_TEST

START_TEST(test_a_prefix_of_more_than_three_digits_is_refused)
{
	/* Even with leading zeros, and even when strtol would overflow. */
	ck_assert_str_eq(entry_error("1.2.3.4/0008"), "invalid prefix length "
	    "in \"1.2.3.4/0008\" (0 to 32)");
	ck_assert_str_eq(entry_error("1.2.3.4/99999999999999999999"),
	    "invalid prefix length in \"1.2.3.4/99999999999999999999\" "
	    "(0 to 32)");
}
END_TEST

/* Matching. */

START_TEST(test_empty_lists_admit_everyone)
{
	ck_admits("127.0.0.1");
	ck_admits("203.0.113.9");
	ck_admits("::1");
	ck_admits("2001:db8::9");
	ck_admits("::ffff:10.1.2.3");
}
END_TEST

START_TEST(test_only_from_admits_what_it_lists_and_nothing_else)
{
	list(&only, "10.0.0.0/8", "192.0.2.7", "2001:db8::/32", NULL);
	ck_admits("10.0.0.0");
	ck_admits("10.255.255.255");
	ck_admits("192.0.2.7");
	ck_admits("2001:db8::1");
	ck_admits("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_refuses("11.0.0.0");
	ck_refuses("9.255.255.255");
	ck_refuses("192.0.2.8");
	ck_refuses("2001:db9::1");
	ck_refuses("::1");
}
END_TEST

START_TEST(test_only_from_of_one_family_refuses_the_other_family)
{
	list(&only, "127.0.0.1", NULL);
	ck_admits("127.0.0.1");
	ck_refuses("::1");
	acl_free(&only);
	list(&only, "::1", NULL);
	ck_admits("::1");
	ck_refuses("127.0.0.1");
}
END_TEST

START_TEST(test_no_access_refuses_what_it_lists_and_admits_the_rest)
{
	list(&deny, "10.1.0.0/16", "::1", NULL);
	ck_refuses("10.1.0.0");
	ck_refuses("10.1.255.255");
	ck_refuses("::1");
	ck_admits("10.2.0.0");
	ck_admits("10.0.255.255");
	ck_admits("127.0.0.1");
	ck_admits("::2");
}
END_TEST

START_TEST(test_a_more_specific_no_access_carves_a_hole_in_only_from)
{
	list(&only, "10.0.0.0/8", NULL);
	list(&deny, "10.1.0.0/16", NULL);
	ck_admits("10.2.3.4");
	ck_admits("10.0.0.1");
	ck_refuses("10.1.2.3");
	ck_refuses("10.1.0.0");
	ck_refuses("192.0.2.1");
}
END_TEST

START_TEST(test_a_more_specific_only_from_carves_a_hole_in_no_access)
{
	list(&deny, "10.0.0.0/8", NULL);
	list(&only, "10.1.2.3", NULL);
	ck_admits("10.1.2.3");
	ck_refuses("10.1.2.4");
	ck_refuses("10.0.0.1");
	/* Outside both: only_from is set, and it does not list it. */
	ck_refuses("192.0.2.1");
}
END_TEST

START_TEST(test_the_longest_match_of_each_list_is_what_is_compared)
{
	list(&only, "10.0.0.0/8", "10.1.2.0/24", NULL);
	list(&deny, "10.1.0.0/16", NULL);
	ck_admits("10.1.2.3");		/* /24 beats /16 */
	ck_refuses("10.1.3.3");		/* /16 beats /8 */
	ck_admits("10.9.9.9");		/* /8 alone */
}
END_TEST

START_TEST(test_more_specific_decides_for_ipv6_in_both_directions)
{
	list(&only, "2001:db8::/32", "2001:db8:1:2::/64", NULL);
	list(&deny, "2001:db8:1::/48", NULL);
	ck_admits("2001:db8:2::1");
	ck_refuses("2001:db8:1:3::1");
	ck_admits("2001:db8:1:2::1");
}
END_TEST

START_TEST(test_equal_prefixes_in_both_lists_refuse)
{
	list(&only, "10.0.0.0/8", "127.0.0.1", "::1/128", NULL);
	list(&deny, "10.0.0.0/8", "127.0.0.1/32", "::1", NULL);
	ck_refuses("10.1.2.3");
	ck_refuses("127.0.0.1");
	ck_refuses("::1");
}
END_TEST

START_TEST(test_equal_prefixes_refuse_even_when_written_differently)
{
	/* Host bits past the prefix do not make an entry more specific. */
	list(&only, "10.1.2.3/8", NULL);
	list(&deny, "10.0.0.0/8", NULL);
	ck_refuses("10.1.2.3");
}
END_TEST

START_TEST(test_host_bits_past_the_prefix_are_ignored_when_matching)
{
	list(&only, "10.1.2.3/8", "2001:db8::1/64", NULL);
	ck_admits("10.200.0.1");
	ck_admits("2001:db8::ffff");
	ck_refuses("11.1.2.3");
	ck_refuses("2001:db8:0:1::1");
}
END_TEST

START_TEST(test_ipv4_slash_0_matches_every_ipv4_peer_and_no_ipv6_peer)
{
	list(&only, "0.0.0.0/0", NULL);
	ck_admits("0.0.0.0");
	ck_admits("127.0.0.1");
	ck_admits("255.255.255.255");
	ck_refuses("::1");
	ck_refuses("2001:db8::1");
}
END_TEST

START_TEST(test_ipv6_slash_0_matches_every_ipv6_peer_and_no_ipv4_peer)
{
	list(&deny, "::/0", NULL);
	ck_refuses("::");
	ck_refuses("::1");
	ck_refuses("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_admits("127.0.0.1");
	ck_admits("10.1.2.3");
}
END_TEST

START_TEST(test_no_access_slash_0_with_only_from_admits_exactly_the_list)
{
	list(&deny, "0.0.0.0/0", "::/0", NULL);
	list(&only, "127.0.0.1", "::1", NULL);
	ck_admits("127.0.0.1");
	ck_admits("::1");
	ck_refuses("127.0.0.2");
	ck_refuses("::2");
}
END_TEST

START_TEST(test_slash_0_in_both_lists_refuses_everyone)
{
	list(&only, "0.0.0.0/0", "::/0", NULL);
	list(&deny, "0.0.0.0/0", "::/0", NULL);
	ck_refuses("127.0.0.1");
	ck_refuses("::1");
}
END_TEST

START_TEST(test_an_ipv4_prefix_ending_inside_a_byte_matches_to_the_bit)
{
	list(&only, "10.16.0.0/12", NULL);
	ck_admits("10.16.0.0");
	ck_admits("10.31.255.255");
	ck_refuses("10.15.255.255");
	ck_refuses("10.32.0.0");
	acl_free(&only);
	list(&only, "192.0.2.128/25", NULL);
	ck_admits("192.0.2.128");
	ck_admits("192.0.2.255");
	ck_refuses("192.0.2.127");
	acl_free(&only);
	list(&only, "128.0.0.0/1", NULL);
	ck_admits("128.0.0.0");
	ck_admits("255.255.255.255");
	ck_refuses("127.255.255.255");
}
END_TEST

START_TEST(test_an_ipv6_prefix_ending_inside_a_byte_matches_to_the_bit)
{
	/* /57: seven whole bytes and the top bit of the eighth. */
	list(&only, "2001:db8:0:80::/57", NULL);
	ck_admits("2001:db8:0:80::");
	ck_admits("2001:db8:0:ff:ffff:ffff:ffff:ffff");
	ck_refuses("2001:db8:0:7f:ffff:ffff:ffff:ffff");
	ck_refuses("2001:db8:0:100::");
	ck_refuses("2001:db8:0:180::");
	acl_free(&only);
	list(&only, "2001:db8::1/127", NULL);
	ck_admits("2001:db8::");
	ck_admits("2001:db8::1");
	ck_refuses("2001:db8::2");
}
END_TEST

START_TEST(test_an_ipv4_mapped_peer_is_matched_by_ipv4_entries)
{
	list(&only, "10.0.0.0/8", NULL);
	ck_admits("::ffff:10.1.2.3");
	ck_refuses("::ffff:11.1.2.3");
	list(&deny, "10.1.2.3", NULL);
	ck_refuses("::ffff:10.1.2.3");
	ck_admits("::ffff:10.1.2.4");
}
END_TEST

START_TEST(test_an_ipv4_mapped_peer_is_not_matched_by_ipv6_entries)
{
	list(&deny, "::/0", NULL);
	ck_admits("::ffff:10.1.2.3");
	acl_free(&deny);
	list(&only, "::/0", NULL);
	ck_refuses("::ffff:10.1.2.3");
	acl_free(&only);
	/* An IPv6 prefix wider than ::ffff:0:0/96 that covers it. */
	list(&deny, "::/64", NULL);
	ck_admits("::ffff:10.1.2.3");
}
END_TEST

START_TEST(test_an_ipv4_mapped_entry_matches_ipv4_and_mapped_peers)
{
	list(&only, "::ffff:127.0.0.1", NULL);
	ck_admits("127.0.0.1");
	ck_admits("::ffff:127.0.0.1");
	ck_refuses("127.0.0.2");
	ck_refuses("::1");
	list(&deny, "::ffff:10.0.0.0/104", NULL);
	acl_free(&only);
	ck_refuses("10.1.2.3");
	ck_refuses("::ffff:10.1.2.3");
	ck_admits("11.1.2.3");
}
END_TEST

START_TEST(test_acl_peer_reduces_a_mapped_peer_to_ipv4)
{
	struct sockaddr_in6	sin6;
	struct sockaddr_in	sin;
	uint8_t			addr[16], want[16];
	int			family = -1;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:10.1.2.3",
	    &sin6.sin6_addr), 1);
	memset(addr, 0xff, sizeof(addr));
	acl_peer((struct sockaddr *)&sin6, &family, addr);
	ck_assert_int_eq(family, AF_INET);
	memset(want, 0, sizeof(want));
	want[0] = 10, want[1] = 1, want[2] = 2, want[3] = 3;
	ck_assert_mem_eq(addr, want, sizeof(want));

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr),
	    1);
	acl_peer((struct sockaddr *)&sin6, &family, addr);
	ck_assert_int_eq(family, AF_INET6);
	ck_assert_mem_eq(addr, &sin6.sin6_addr, 16);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a010203);
	memset(addr, 0xff, sizeof(addr));
	acl_peer((struct sockaddr *)&sin, &family, addr);
	ck_assert_int_eq(family, AF_INET);
	ck_assert_mem_eq(addr, want, sizeof(want));
}
END_TEST

START_TEST(test_acl_free_empties_a_list_for_reuse)
{
	list(&only, "10.0.0.0/8", "::1", NULL);
	ck_assert_uint_eq(only.acl_count, 2);
	acl_free(&only);
	ck_assert_uint_eq(only.acl_count, 0);
	ck_assert_ptr_null(only.acl_entries);
	ck_admits("192.0.2.1");
	acl_free(&only);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite	*s = suite_create("acl");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_an_ipv4_address_alone_is_a_slash_32);
	tcase_add_test(tc, test_an_ipv6_address_alone_is_a_slash_128);
	tcase_add_test(tc,
	    test_a_cidr_prefix_keeps_its_length_from_0_to_the_maximum);
	tcase_add_test(tc, test_host_bits_past_the_prefix_are_accepted);
	tcase_add_test(tc,
	    test_an_ipv4_mapped_entry_becomes_the_ipv4_entry_it_carries);
	tcase_add_test(tc,
	    test_a_bad_address_is_refused_naming_the_expected_forms);
	tcase_add_test(tc,
	    test_short_ipv4_forms_that_inet_aton_takes_are_refused);
	tcase_add_test(tc,
	    test_a_slash_alone_or_a_prefix_alone_is_a_bad_address);
	tcase_add_test(tc, test_a_prefix_over_32_is_refused_for_ipv4);
	tcase_add_test(tc, test_a_prefix_over_128_is_refused_for_ipv6);
	tcase_add_test(tc, test_an_empty_prefix_is_refused);
	tcase_add_test(tc, test_text_after_the_prefix_is_refused);
	tcase_add_test(tc, test_a_signed_prefix_is_refused);
	tcase_add_test(tc, test_a_prefix_of_more_than_three_digits_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_empty_lists_admit_everyone);
	tcase_add_test(tc,
	    test_only_from_admits_what_it_lists_and_nothing_else);
	tcase_add_test(tc,
	    test_only_from_of_one_family_refuses_the_other_family);
	tcase_add_test(tc,
	    test_no_access_refuses_what_it_lists_and_admits_the_rest);
	tcase_add_test(tc,
	    test_a_more_specific_no_access_carves_a_hole_in_only_from);
	tcase_add_test(tc,
	    test_a_more_specific_only_from_carves_a_hole_in_no_access);
	tcase_add_test(tc,
	    test_the_longest_match_of_each_list_is_what_is_compared);
	tcase_add_test(tc,
	    test_more_specific_decides_for_ipv6_in_both_directions);
	tcase_add_test(tc, test_equal_prefixes_in_both_lists_refuse);
	tcase_add_test(tc,
	    test_equal_prefixes_refuse_even_when_written_differently);
	tcase_add_test(tc,
	    test_host_bits_past_the_prefix_are_ignored_when_matching);
	tcase_add_test(tc,
	    test_ipv4_slash_0_matches_every_ipv4_peer_and_no_ipv6_peer);
	tcase_add_test(tc,
	    test_ipv6_slash_0_matches_every_ipv6_peer_and_no_ipv4_peer);
	tcase_add_test(tc,
	    test_no_access_slash_0_with_only_from_admits_exactly_the_list);
	tcase_add_test(tc, test_slash_0_in_both_lists_refuses_everyone);
	tcase_add_test(tc,
	    test_an_ipv4_prefix_ending_inside_a_byte_matches_to_the_bit);
	tcase_add_test(tc,
	    test_an_ipv6_prefix_ending_inside_a_byte_matches_to_the_bit);
	tcase_add_test(tc,
	    test_an_ipv4_mapped_peer_is_matched_by_ipv4_entries);
	tcase_add_test(tc,
	    test_an_ipv4_mapped_peer_is_not_matched_by_ipv6_entries);
	tcase_add_test(tc,
	    test_an_ipv4_mapped_entry_matches_ipv4_and_mapped_peers);
	tcase_add_test(tc, test_acl_peer_reduces_a_mapped_peer_to_ipv4);
	tcase_add_test(tc, test_acl_free_empties_a_list_for_reuse);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 nfailed;

	sr = srunner_create(acl_suite());
	srunner_run_all(sr, CK_ENV);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
