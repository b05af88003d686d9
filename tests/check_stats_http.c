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
 * Unit tests for modules/stats_http.c, the stats module's HTTP/1.x
 * request parser: what it accepts, how much of the input a request took,
 * that a request cut short anywhere is only "incomplete", and the exact
 * status and reason of every refusal.  Each input is copied into a buffer
 * of exactly its size, so a read past the end shows under a sanitizer.
 */

#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats_http.h"
#include "check_run.h"

#define MAX		8192	/* the module's default max_request */

static struct http_request	 req;
static char			*copy;

static void
setup(void)
{
	memset(&req, 0xa5, sizeof(req));
	copy = NULL;
}

static void
teardown(void)
{
	free(copy);
}

/* Parses the first len bytes of s, from a buffer of exactly that size. */
static enum http_result
parse_n(const char *s, size_t len, size_t max)
{
	free(copy);
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		ck_abort_msg("out of memory");
	memcpy(copy, s, len);
	return (http_parse(copy, len, max, &req));
}

/* Parses s, which must be one whole request, all of the input. */
static void
parse_ok(const char *s)
{
	enum http_result	r;

	r = parse_n(s, strlen(s), MAX);
	ck_assert_msg(r == HTTP_PARSED, "\"%s\": result %d, status %d (%s)",
	    s, r, r == HTTP_ERROR ? req.status : 0,
	    r == HTTP_ERROR ? req.reason : "");
	ck_assert_uint_eq(req.length, strlen(s));
}

/* Parses s with a size cap, which must be refused with status, reason. */
static void
parse_error_max(const char *s, size_t len, size_t max, int status,
    const char *reason)
{
	enum http_result	r;

	r = parse_n(s, len, max);
	ck_assert_msg(r == HTTP_ERROR, "\"%s\": result %d, not an error",
	    s, r);
	ck_assert_int_eq(req.status, status);
	ck_assert_str_eq(req.reason, reason);
}

static void
parse_error(const char *s, int status, const char *reason)
{
	parse_error_max(s, strlen(s), MAX, status, reason);
}

/* A string of n copies of c, for long targets and headers. */
static char *
repeat(char c, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		ck_abort_msg("out of memory");
	memset(s, c, n);
	s[n] = '\0';
	return (s);
}

/* A request for target: "GET TARGET HTTP/1.1" with a Host header. */
static char *
request_for(const char *target)
{
	char	*s;

	if (asprintf(&s, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target) == -1)
		ck_abort_msg("out of memory");
	return (s);
}

START_TEST(test_a_get_for_http_1_1_is_parsed)
{
	parse_ok("GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\n"
	    "User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n");
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/metrics");
	ck_assert_int_eq(req.minor, 1);
	ck_assert_int_eq(req.keep_alive, 1);
}
END_TEST

START_TEST(test_a_head_for_http_1_0_is_parsed_without_a_host)
{
	parse_ok("HEAD /metrics.json HTTP/1.0\r\n\r\n");
	ck_assert_str_eq(req.method, "HEAD");
	ck_assert_str_eq(req.path, "/metrics.json");
	ck_assert_int_eq(req.minor, 0);
	ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_other_token_methods_are_parsed_for_the_module_to_refuse)
{
	parse_ok("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.method, "POST");
	parse_ok("M-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.method, "M-SEARCH");
}
END_TEST

START_TEST(test_the_query_string_is_stripped_from_the_path)
{
	parse_ok("GET /metrics?name[]=x&y=%20 HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.path, "/metrics");
	parse_ok("GET /? HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.path, "/");
	parse_ok("GET /a/b?c?d HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.path, "/a/b");
}
END_TEST

START_TEST(test_http_1_1_keeps_the_connection_alive_by_default)
{
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 1);
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 1);
}
END_TEST

START_TEST(test_http_1_1_closes_on_connection_close_in_any_case)
{
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\nconnection: CLOSE\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\nCONNECTION:Close \r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_http_1_1_finds_close_in_a_comma_separated_list)
{
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: keep-alive, close\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: Upgrade,\tClose ,TE\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: TE\r\nConnection: close\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_http_1_1_ignores_words_that_only_contain_close)
{
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: closed, xclose, close-ish\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 1);
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\nX-Connection: close\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 1);
}
END_TEST

START_TEST(test_http_1_0_closes_by_default)
{
	parse_ok("GET / HTTP/1.0\r\nHost: x\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
	parse_ok("GET / HTTP/1.0\r\nConnection: TE\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_http_1_0_keeps_alive_only_when_asked)
{
	parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 1);
	parse_ok("GET / HTTP/1.0\r\nConnection: TE, KEEP-ALIVE\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 1);
	parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(test_the_length_is_what_the_request_took_so_a_pipelined_one_follows)
{
	const char	*first = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	const char	*second = "HEAD /metrics.json HTTP/1.0\r\n\r\n";
	char		 both[256];
	size_t		 len;

	snprintf(both, sizeof(both), "%s%s", first, second);
	len = strlen(both);
	ck_assert_int_eq(parse_n(both, len, MAX), HTTP_PARSED);
	ck_assert_uint_eq(req.length, strlen(first));
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/metrics");

	ck_assert_int_eq(parse_n(both + strlen(first), len - strlen(first),
	    MAX), HTTP_PARSED);
	ck_assert_uint_eq(req.length, strlen(second));
	ck_assert_str_eq(req.method, "HEAD");
	ck_assert_str_eq(req.path, "/metrics.json");
	ck_assert_int_eq(req.minor, 0);
}
END_TEST

START_TEST(test_a_pipelined_request_cut_short_does_not_change_the_first)
{
	const char	*s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTT";

	ck_assert_int_eq(parse_n(s, strlen(s), MAX), HTTP_PARSED);
	ck_assert_uint_eq(req.length, strlen(s) - strlen("GET /b HTT"));
	ck_assert_str_eq(req.path, "/a");
}
END_TEST

START_TEST(test_bare_lf_line_ends_are_accepted)
{
	parse_ok("GET /metrics HTTP/1.1\nHost: x\nConnection: close\n\n");
	ck_assert_str_eq(req.path, "/metrics");
	ck_assert_int_eq(req.keep_alive, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: x\n\r\n");
}
END_TEST

START_TEST(test_empty_lines_before_the_request_line_are_skipped)
{
	parse_ok("\r\n\r\n\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/metrics");
}
END_TEST

START_TEST(test_tabs_and_spaces_around_header_values_are_allowed)
{
	parse_ok("GET / HTTP/1.1\r\nHost:x\r\nX-A: \t a\tb \t\r\nX-B:\r\n\r\n");
}
END_TEST

START_TEST(test_content_length_zero_is_accepted)
{
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(test_every_proper_prefix_of_a_valid_request_is_incomplete)
{
	static const char *valid[] = {
		"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /metrics.json?a=b HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\nConnection: close\n\n",
		"\r\n\nGET / HTTP/1.1\r\nHost: x\r\nX-A: \t\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
		    "Content-Length: 0\r\n\r\n",
	};
	enum http_result	r;
	size_t			i, n, len;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		len = strlen(valid[i]);
		for (n = 0; n < len; n++) {
			r = parse_n(valid[i], n, MAX);
			ck_assert_msg(r == HTTP_INCOMPLETE, "request %zu, the "
			    "first %zu of %zu bytes: result %d, status %d",
			    i, n, len, r, r == HTTP_ERROR ? req.status : 0);
		}
		ck_assert_int_eq(parse_n(valid[i], len, MAX), HTTP_PARSED);
		ck_assert_uint_eq(req.length, len);
	}
}
END_TEST

START_TEST(test_a_malformed_method_is_refused)
{
	parse_error(" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "malformed method");
	parse_error("GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "malformed method");
	parse_error("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "malformed method");
	parse_error("GET\r\n\r\n", 400, "malformed method");
}
END_TEST

START_TEST(test_a_method_of_15_characters_is_parsed)
{
	parse_ok("ABCDEFGHIJKLMNO / HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(req.method, "ABCDEFGHIJKLMNO");
}
END_TEST

START_TEST(test_a_method_longer_than_15_characters_is_not_implemented)
{
	parse_error("ABCDEFGHIJKLMNOP / HTTP/1.1\r\nHost: x\r\n\r\n", 501,
	    "method too long");
}
END_TEST

START_TEST(test_a_malformed_target_is_refused)
{
	parse_error("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "malformed target");
	parse_error("GET /a\x01z HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "malformed target");
	parse_error("GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "malformed target");
	parse_error("GET /metrics\r\n\r\n", 400, "malformed target");
}
END_TEST

START_TEST(test_a_target_that_is_not_an_absolute_path_is_refused)
{
	parse_error("GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "target is not an absolute path");
	parse_error("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "target is not an absolute path");
	parse_error("GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	    "target is not an absolute path");
}
END_TEST

START_TEST(test_a_malformed_version_is_refused)
{
	static const char *bad[] = {
		"GET / http/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
		"GET / HTTP/11.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\r\nHost: x\r\n\r\n",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_error(bad[i], 400, "malformed version");
}
END_TEST

START_TEST(test_http_2_0_and_other_versions_are_not_supported)
{
	parse_error("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505,
	    "unsupported HTTP version");
	parse_error("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505,
	    "unsupported HTTP version");
	parse_error("GET / HTTP/0.9\r\n\r\n", 505,
	    "unsupported HTTP version");
}
END_TEST

START_TEST(test_obsolete_line_folding_is_refused)
{
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400,
	    "obsolete line folding");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400,
	    "obsolete line folding");
	parse_error("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400,
	    "obsolete line folding");
}
END_TEST

START_TEST(test_a_header_without_a_colon_is_refused)
{
	parse_error("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400,
	    "malformed header");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", 400,
	    "malformed header");
	parse_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400,
	    "malformed header");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", 400,
	    "malformed header");
}
END_TEST

START_TEST(test_a_control_character_in_a_header_value_is_refused)
{
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01z\r\n\r\n", 400,
	    "control character in a header");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fz\r\n\r\n", 400,
	    "control character in a header");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rz\r\n\r\n", 400,
	    "control character in a header");
	parse_error_max("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0z\r\n\r\n",
	    sizeof("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0z\r\n\r\n") - 1, MAX,
	    400, "control character in a header");
}
END_TEST

START_TEST(test_http_1_1_without_host_is_refused)
{
	parse_error("GET /metrics HTTP/1.1\r\n\r\n", 400,
	    "HTTP/1.1 request without Host");
	parse_error("GET /metrics HTTP/1.1\r\nX-Host: x\r\n\r\n", 400,
	    "HTTP/1.1 request without Host");
}
END_TEST

START_TEST(test_two_host_headers_are_refused)
{
	parse_error("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
	    "more than one Host header");
	parse_error("GET / HTTP/1.0\r\nHOST: a\r\nHost: a\r\n\r\n", 400,
	    "more than one Host header");
}
END_TEST

START_TEST(test_transfer_encoding_is_not_implemented)
{
	parse_error("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 501,
	    "request bodies are not accepted");
	parse_error("POST / HTTP/1.0\r\ntransfer-encoding: identity\r\n\r\n",
	    501, "request bodies are not accepted");
}
END_TEST

START_TEST(test_a_non_zero_content_length_is_not_implemented)
{
	parse_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
	    "hello", 501, "request bodies are not accepted");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\ncontent-length: 00\r\n\r\n",
	    501, "request bodies are not accepted");
	parse_error("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -0\r\n\r\n",
	    501, "request bodies are not accepted");
}
END_TEST

START_TEST(test_a_target_of_http_target_max_characters_is_parsed)
{
	char	*target, *s;

	target = repeat('a', HTTP_TARGET_MAX);
	target[0] = '/';
	s = request_for(target);
	parse_ok(s);
	ck_assert_str_eq(req.path, target);
	free(s);
	free(target);
}
END_TEST

START_TEST(test_a_target_longer_than_http_target_max_is_refused_with_414)
{
	char	*target, *s;

	target = repeat('a', HTTP_TARGET_MAX + 1);
	target[0] = '/';
	s = request_for(target);
	parse_error(s, 414, "target too long");
	free(s);
	/* The query counts too, though it is not kept. */
	target[1] = '?';
	s = request_for(target);
	parse_error(s, 414, "target too long");
	free(s);
	free(target);
}
END_TEST

START_TEST(test_headers_over_the_cap_are_refused_before_their_end_arrives)
{
	const char	*head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	char		*pad, *s;

	pad = repeat('a', 600);
	if (asprintf(&s, "%s%s", head, pad) == -1)
		ck_abort_msg("out of memory");
	/* Under the cap it is only incomplete... */
	ck_assert_int_eq(parse_n(s, 255, 256), HTTP_INCOMPLETE);
	/* ...and once the cap is reached without an end, 431. */
	parse_error_max(s, 256, 256, 431, "request headers too large");
	parse_error_max(s, strlen(s), 256, 431, "request headers too large");
	free(s);
	free(pad);
}
END_TEST

START_TEST(test_headers_whose_end_arrives_after_the_cap_are_refused)
{
	char	*pad, *s;

	pad = repeat('a', 300);
	if (asprintf(&s, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n",
	    pad) == -1)
		ck_abort_msg("out of memory");
	parse_error_max(s, strlen(s), 256, 431, "request headers too large");
	parse_error_max(s, strlen(s), strlen(s) - 1, 431,
	    "request headers too large");
	/* A request of exactly the cap fits. */
	ck_assert_int_eq(parse_n(s, strlen(s), strlen(s)), HTTP_PARSED);
	ck_assert_uint_eq(req.length, strlen(s));
	free(s);
	free(pad);
}
END_TEST

START_TEST(test_a_request_line_over_the_cap_is_refused_with_431)
{
	char	*target, *s;

	target = repeat('b', 500);
	target[0] = '/';
	s = request_for(target);
	parse_error_max(s, strlen(s), 256, 431, "request headers too large");
	free(s);
	free(target);
}
END_TEST

START_TEST(test_endless_empty_lines_are_refused_at_the_cap)
{
	char	*s;

	s = repeat('\n', 300);
	ck_assert_int_eq(parse_n(s, 255, 256), HTTP_INCOMPLETE);
	parse_error_max(s, 300, 256, 431, "request headers too large");
	free(s);
}
END_TEST

static Suite *
stats_http_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("stats_http");

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_a_get_for_http_1_1_is_parsed);
	tcase_add_test(tc, test_a_head_for_http_1_0_is_parsed_without_a_host);
	tcase_add_test(tc,
	    test_other_token_methods_are_parsed_for_the_module_to_refuse);
	tcase_add_test(tc, test_the_query_string_is_stripped_from_the_path);
	tcase_add_test(tc, test_bare_lf_line_ends_are_accepted);
	tcase_add_test(tc, test_empty_lines_before_the_request_line_are_skipped);
	tcase_add_test(tc,
	    test_tabs_and_spaces_around_header_values_are_allowed);
	tcase_add_test(tc, test_content_length_zero_is_accepted);
	tcase_add_test(tc, test_a_method_of_15_characters_is_parsed);
	tcase_add_test(tc, test_a_target_of_http_target_max_characters_is_parsed);
	suite_add_tcase(s, tc);

	tc = tcase_create("keep-alive");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_http_1_1_keeps_the_connection_alive_by_default);
	tcase_add_test(tc, test_http_1_1_closes_on_connection_close_in_any_case);
	tcase_add_test(tc, test_http_1_1_finds_close_in_a_comma_separated_list);
	tcase_add_test(tc, test_http_1_1_ignores_words_that_only_contain_close);
	tcase_add_test(tc, test_http_1_0_closes_by_default);
	tcase_add_test(tc, test_http_1_0_keeps_alive_only_when_asked);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_the_length_is_what_the_request_took_so_a_pipelined_one_follows);
	tcase_add_test(tc,
	    test_a_pipelined_request_cut_short_does_not_change_the_first);
	tcase_add_test(tc,
	    test_every_proper_prefix_of_a_valid_request_is_incomplete);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_a_malformed_method_is_refused);
	tcase_add_test(tc,
	    test_a_method_longer_than_15_characters_is_not_implemented);
	tcase_add_test(tc, test_a_malformed_target_is_refused);
	tcase_add_test(tc,
	    test_a_target_that_is_not_an_absolute_path_is_refused);
	tcase_add_test(tc, test_a_malformed_version_is_refused);
	tcase_add_test(tc, test_http_2_0_and_other_versions_are_not_supported);
	tcase_add_test(tc, test_obsolete_line_folding_is_refused);
	tcase_add_test(tc, test_a_header_without_a_colon_is_refused);
	tcase_add_test(tc,
	    test_a_control_character_in_a_header_value_is_refused);
	tcase_add_test(tc, test_http_1_1_without_host_is_refused);
	tcase_add_test(tc, test_two_host_headers_are_refused);
	tcase_add_test(tc, test_transfer_encoding_is_not_implemented);
	tcase_add_test(tc, test_a_non_zero_content_length_is_not_implemented);
	tcase_add_test(tc,
	    test_a_target_longer_than_http_target_max_is_refused_with_414);
	suite_add_tcase(s, tc);

	tc = tcase_create("size cap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_headers_over_the_cap_are_refused_before_their_end_arrives);
	tcase_add_test(tc,
	    test_headers_whose_end_arrives_after_the_cap_are_refused);
	tcase_add_test(tc, test_a_request_line_over_the_cap_is_refused_with_431);
	tcase_add_test(tc, test_endless_empty_lines_are_refused_at_the_cap);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	return (check_run(stats_http_suite()));
}
