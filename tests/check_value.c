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
 * Unit tests for value.c: the booleans, integers, sizes and durations of
 * config values, their ranges, and the exact words of every refusal.
 */

#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>

#include "evinetd.h"
#include "check_run.h"

static long long	 v;
static char		*cause;

/* Each test starts with a value it can tell from any real result. */
static void
setup(void)
{
	v = -42;
	cause = NULL;
}

static void
teardown(void)
{
	free(cause);
}

/* Frees the last refusal so the next one can be checked. */
static void
next(void)
{
	free(cause);
	cause = NULL;
}

START_TEST(test_bool_takes_yes_and_no)
{
	int	b = -1;

	ck_assert_int_eq(value_bool("yes", &b, &cause), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(value_bool("no", &b, &cause), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_bool_rejects_other_words)
{
	int	b = -1;

	ck_assert_int_eq(value_bool("true", &b, &cause), -1);
	ck_assert_str_eq(cause,
	    "invalid boolean \"true\" (expected yes or no)");
	next();
	ck_assert_int_eq(value_bool("Yes", &b, &cause), -1);
	ck_assert_str_eq(cause, "invalid boolean \"Yes\" (expected yes or no)");
	next();
	ck_assert_int_eq(value_bool("1", &b, &cause), -1);
	ck_assert_str_eq(cause, "invalid boolean \"1\" (expected yes or no)");
	next();
	ck_assert_int_eq(value_bool("", &b, &cause), -1);
	ck_assert_str_eq(cause, "invalid boolean \"\" (expected yes or no)");
	ck_assert_int_eq(b, -1);
}
END_TEST

START_TEST(test_int_takes_decimal_numbers)
{
	ck_assert_int_eq(value_int("512", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 512);
	ck_assert_int_eq(value_int("0", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(value_int("-7", -10, 10, &v, &cause), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(value_int("9223372036854775807", 0, 0, &v, &cause),
	    0);
	ck_assert_int_eq(v, LLONG_MAX);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_int_takes_both_bounds)
{
	ck_assert_int_eq(value_int("1", 1, 100, &v, &cause), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(value_int("100", 1, 100, &v, &cause), 0);
	ck_assert_int_eq(v, 100);
}
END_TEST

START_TEST(test_int_rejects_values_out_of_range)
{
	ck_assert_int_eq(value_int("101", 1, 100, &v, &cause), -1);
	ck_assert_str_eq(cause, "\"101\" out of range (1 to 100)");
	next();
	ck_assert_int_eq(value_int("0", 1, 100, &v, &cause), -1);
	ck_assert_str_eq(cause, "\"0\" out of range (1 to 100)");
	next();
	ck_assert_int_eq(value_int("-1", 0, 10, &v, &cause), -1);
	ck_assert_str_eq(cause, "\"-1\" out of range (0 to 10)");
}
END_TEST

START_TEST(test_int_rejects_overflow)
{
	ck_assert_int_eq(value_int("99999999999999999999", 0, 0, &v, &cause),
	    -1);
	ck_assert_str_eq(cause, "invalid number \"99999999999999999999\"");
	next();
	ck_assert_int_eq(value_int("-99999999999999999999", 0, 0, &v, &cause),
	    -1);
	ck_assert_str_eq(cause, "invalid number \"-99999999999999999999\"");
}
END_TEST

START_TEST(test_int_rejects_junk)
{
	ck_assert_int_eq(value_int("12x", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \"12x\"");
	next();
	ck_assert_int_eq(value_int("", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \"\"");
	next();
	ck_assert_int_eq(value_int("-", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \"-\"");
	next();
	ck_assert_int_eq(value_int("+5", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \"+5\"");
	next();
	ck_assert_int_eq(value_int(" 5", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \" 5\"");
	next();
	ck_assert_int_eq(value_int("0x10", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \"0x10\"");
	next();
	ck_assert_int_eq(value_int("1.5", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid number \"1.5\"");
}
END_TEST

START_TEST(test_size_takes_bytes_and_k_m_g)
{
	ck_assert_int_eq(value_size("512", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 512);
	ck_assert_int_eq(value_size("64k", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 64 * 1024);
	ck_assert_int_eq(value_size("8m", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 8 * 1024 * 1024);
	ck_assert_int_eq(value_size("1g", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 1024LL * 1024 * 1024);
	ck_assert_int_eq(value_size("0", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_size_takes_upper_case_suffixes)
{
	ck_assert_int_eq(value_size("64K", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 64 * 1024);
	ck_assert_int_eq(value_size("8M", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 8 * 1024 * 1024);
	ck_assert_int_eq(value_size("2G", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 2LL * 1024 * 1024 * 1024);
}
END_TEST

START_TEST(test_size_checks_the_range_after_the_suffix)
{
	ck_assert_int_eq(value_size("1k", 1024, 1LL << 30, &v, &cause), 0);
	ck_assert_int_eq(v, 1024);
	ck_assert_int_eq(value_size("1023", 1024, 1LL << 30, &v, &cause), -1);
	ck_assert_str_eq(cause, "\"1023\" out of range (1024 to 1073741824)");
	next();
	ck_assert_int_eq(value_size("2g", 1024, 1LL << 30, &v, &cause), -1);
	ck_assert_str_eq(cause, "\"2g\" out of range (1024 to 1073741824)");
}
END_TEST

START_TEST(test_size_rejects_overflow)
{
	ck_assert_int_eq(value_size("99999999999999999999g", 0, 0, &v,
	    &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"99999999999999999999g\" "
	    "(expected a number with an optional k, m or g)");
	next();
	/* Fits in a long long, but not once multiplied by 2^30. */
	ck_assert_int_eq(value_size("8589934592g", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"8589934592g\" "
	    "(expected a number with an optional k, m or g)");
	next();
	ck_assert_int_eq(value_size("8589934591g", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 8589934591LL * 1024 * 1024 * 1024);
}
END_TEST

START_TEST(test_size_rejects_negative_sizes)
{
	ck_assert_int_eq(value_size("-1", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"-1\" "
	    "(expected a number with an optional k, m or g)");
	next();
	ck_assert_int_eq(value_size("-64k", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"-64k\" "
	    "(expected a number with an optional k, m or g)");
	ck_assert_int_eq(v, -42);
}
END_TEST

START_TEST(test_size_rejects_a_junk_suffix)
{
	ck_assert_int_eq(value_size("64kb", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"64kb\" "
	    "(expected a number with an optional k, m or g)");
	next();
	ck_assert_int_eq(value_size("10q", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"10q\" "
	    "(expected a number with an optional k, m or g)");
	next();
	ck_assert_int_eq(value_size("k", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"k\" "
	    "(expected a number with an optional k, m or g)");
	next();
	ck_assert_int_eq(value_size("1.5m", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"1.5m\" "
	    "(expected a number with an optional k, m or g)");
	next();
	ck_assert_int_eq(value_size("", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid size \"\" "
	    "(expected a number with an optional k, m or g)");
	ck_assert_int_eq(v, -42);
}
END_TEST

START_TEST(test_duration_takes_ms_s_m_and_h)
{
	ck_assert_int_eq(value_duration("250ms", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 250);
	ck_assert_int_eq(value_duration("30s", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 30 * 1000);
	ck_assert_int_eq(value_duration("5m", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 5 * 60 * 1000);
	ck_assert_int_eq(value_duration("1h", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 3600 * 1000);
	ck_assert_int_eq(value_duration("0ms", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_ptr_null(cause);
}
END_TEST

START_TEST(test_duration_reads_a_bare_number_as_seconds)
{
	ck_assert_int_eq(value_duration("30", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 30 * 1000);
	ck_assert_int_eq(value_duration("0", 0, 0, &v, &cause), 0);
	ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(test_duration_checks_the_range_in_milliseconds)
{
	ck_assert_int_eq(value_duration("100ms", 100, 3600 * 1000, &v,
	    &cause), 0);
	ck_assert_int_eq(v, 100);
	ck_assert_int_eq(value_duration("1h", 100, 3600 * 1000, &v,
	    &cause), 0);
	ck_assert_int_eq(v, 3600 * 1000);
	ck_assert_int_eq(value_duration("99ms", 100, 3600 * 1000, &v,
	    &cause), -1);
	ck_assert_str_eq(cause, "\"99ms\" out of range (100 to 3600000)");
	next();
	ck_assert_int_eq(value_duration("61m", 100, 3600 * 1000, &v,
	    &cause), -1);
	ck_assert_str_eq(cause, "\"61m\" out of range (100 to 3600000)");
}
END_TEST

START_TEST(test_duration_rejects_overflow)
{
	ck_assert_int_eq(value_duration("99999999999999999999h", 0, 0, &v,
	    &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"99999999999999999999h\" "
	    "(expected a number with ms, s, m or h)");
	next();
	/* Fits in a long long, but not once made milliseconds. */
	ck_assert_int_eq(value_duration("9223372036854775807s", 0, 0, &v,
	    &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"9223372036854775807s\" "
	    "(expected a number with ms, s, m or h)");
	next();
	ck_assert_int_eq(value_duration("9223372036854775807ms", 0, 0, &v,
	    &cause), 0);
	ck_assert_int_eq(v, LLONG_MAX);
}
END_TEST

START_TEST(test_duration_rejects_negative_durations)
{
	ck_assert_int_eq(value_duration("-1s", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"-1s\" "
	    "(expected a number with ms, s, m or h)");
	next();
	ck_assert_int_eq(value_duration("-250ms", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"-250ms\" "
	    "(expected a number with ms, s, m or h)");
	ck_assert_int_eq(v, -42);
}
END_TEST

START_TEST(test_duration_rejects_a_junk_suffix)
{
	ck_assert_int_eq(value_duration("1d", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"1d\" "
	    "(expected a number with ms, s, m or h)");
	next();
	ck_assert_int_eq(value_duration("30sec", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"30sec\" "
	    "(expected a number with ms, s, m or h)");
	next();
	ck_assert_int_eq(value_duration("1.5s", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"1.5s\" "
	    "(expected a number with ms, s, m or h)");
	next();
	ck_assert_int_eq(value_duration("ms", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"ms\" "
	    "(expected a number with ms, s, m or h)");
	next();
	ck_assert_int_eq(value_duration("", 0, 0, &v, &cause), -1);
	ck_assert_str_eq(cause, "invalid duration \"\" "
	    "(expected a number with ms, s, m or h)");
	ck_assert_int_eq(v, -42);
}
END_TEST

/* Found by fuzz/fuzz_addr: a refused number used to be stored anyway. */
START_TEST(test_a_refusal_leaves_the_value_alone)
{
	ck_assert_int_eq(value_int("0", 1, 256, &v, &cause), -1);
	ck_assert_int_eq(v, -42);
	next();
	ck_assert_int_eq(value_size("0", 1024, 1LL << 30, &v, &cause), -1);
	ck_assert_int_eq(v, -42);
	next();
	ck_assert_int_eq(value_duration("100000", 0, 24LL * 3600 * 1000, &v,
	    &cause), -1);
	ck_assert_int_eq(v, -42);
}
END_TEST

static Suite *
value_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("value");

	tc = tcase_create("bool");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bool_takes_yes_and_no);
	tcase_add_test(tc, test_bool_rejects_other_words);
	suite_add_tcase(s, tc);

	tc = tcase_create("int");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_int_takes_decimal_numbers);
	tcase_add_test(tc, test_int_takes_both_bounds);
	tcase_add_test(tc, test_int_rejects_values_out_of_range);
	tcase_add_test(tc, test_int_rejects_overflow);
	tcase_add_test(tc, test_int_rejects_junk);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_size_takes_bytes_and_k_m_g);
	tcase_add_test(tc, test_size_takes_upper_case_suffixes);
	tcase_add_test(tc, test_size_checks_the_range_after_the_suffix);
	tcase_add_test(tc, test_size_rejects_overflow);
	tcase_add_test(tc, test_size_rejects_negative_sizes);
	tcase_add_test(tc, test_size_rejects_a_junk_suffix);
	suite_add_tcase(s, tc);

	tc = tcase_create("duration");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_duration_takes_ms_s_m_and_h);
	tcase_add_test(tc, test_duration_reads_a_bare_number_as_seconds);
	tcase_add_test(tc, test_duration_checks_the_range_in_milliseconds);
	tcase_add_test(tc, test_duration_rejects_overflow);
	tcase_add_test(tc, test_duration_rejects_negative_durations);
	tcase_add_test(tc, test_duration_rejects_a_junk_suffix);
	tcase_add_test(tc, test_a_refusal_leaves_the_value_alone);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	return (check_run(value_suite()));
}
