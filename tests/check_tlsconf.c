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
 * The session ticket keys' hourly step (tlsconf.c), without waiting
 * hours: a generation's start is moved back instead.  The daemon tests
 * resume sessions across workers within the first hour; these check that
 * workers stepping on their own keep agreeing, and how long a ticket
 * stays good.
 */

#include "config.h"

#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"
#include "check_run.h"

#define HOUR	3600

/* Moves a generation's start back by secs, as if that time had passed. */
static void
age(struct tls_tickets *tt, time_t secs)
{
	tt->tt_start -= secs;
	tlsconf_tickets_advance(tt);
}

START_TEST(test_workers_stepping_apart_hold_the_same_keys)
{
	struct tls_tickets	*tt = tlsconf_tickets_new();
	struct tls_tickets	 w1 = *tt, w2 = *tt;	/* forked copies */

	age(&w1, HOUR + 1);
	age(&w1, HOUR);
	age(&w2, 2 * HOUR + 1);		/* one step of two hours */
	ck_assert_int_eq(w1.tt_epoch, 2);
	ck_assert_int_eq(w2.tt_epoch, 2);
	ck_assert_mem_eq(w1.tt_secret, w2.tt_secret, sizeof(w1.tt_secret));
	ck_assert_mem_eq(w1.tt_keys, w2.tt_keys, sizeof(w1.tt_keys));
	/* The secret moved on: the first hour's is gone from both. */
	ck_assert(memcmp(w1.tt_secret, tt->tt_secret,
	    sizeof(tt->tt_secret)) != 0);
	tlsconf_tickets_free(tt);
}
END_TEST

START_TEST(test_a_ticket_is_good_for_its_hour_and_two_more)
{
	struct tls_tickets	*tt = tlsconf_tickets_new();
	unsigned char		 first[16];

	memcpy(first, tt->tt_keys[0].tk_name, sizeof(first));
	ck_assert_int_eq(tlsconf_ticket_lookup(tt, first), 0);
	age(tt, HOUR - 10);		/* the same hour: the same key */
	ck_assert_int_eq(tt->tt_epoch, 0);
	ck_assert_int_eq(tlsconf_ticket_lookup(tt, first), 0);
	age(tt, 11);
	ck_assert_int_eq(tlsconf_ticket_lookup(tt, first), 1);
	ck_assert(memcmp(tt->tt_keys[0].tk_name, first, sizeof(first)) != 0);
	ck_assert(memcmp(tt->tt_keys[0].tk_aes, tt->tt_keys[1].tk_aes,
	    sizeof(tt->tt_keys[0].tk_aes)) != 0);
	age(tt, HOUR);
	ck_assert_int_eq(tlsconf_ticket_lookup(tt, first), 2);
	age(tt, HOUR);
	ck_assert_int_eq(tlsconf_ticket_lookup(tt, first), -1);
	tlsconf_tickets_free(tt);
}
END_TEST

START_TEST(test_generations_share_no_ticket_key)
{
	struct tls_tickets	*a = tlsconf_tickets_new();
	struct tls_tickets	*b = tlsconf_tickets_new();

	ck_assert_int_eq(tlsconf_ticket_lookup(b, a->tt_keys[0].tk_name), -1);
	ck_assert_int_eq(tlsconf_ticket_lookup(a, b->tt_keys[0].tk_name), -1);
	tlsconf_tickets_free(a);
	tlsconf_tickets_free(b);
}
END_TEST

static Suite *
tlsconf_suite(void)
{
	Suite	*s = suite_create("tlsconf");
	TCase	*tc = tcase_create("tickets");

	tcase_add_test(tc, test_workers_stepping_apart_hold_the_same_keys);
	tcase_add_test(tc, test_a_ticket_is_good_for_its_hour_and_two_more);
	tcase_add_test(tc, test_generations_share_no_ticket_key);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (check_run(tlsconf_suite()));
}
