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
 * The trust checks of daemon/trust.c: which module and config files a
 * root daemon refuses, and that each refusal names the path and the
 * permission.  They only apply to root, so the program skips (exit 77)
 * unless it runs as root, as it does in CI.
 */

#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"
#include "check_run.h"

static char	 dir[64];
static char	 sub[96];
static char	 mod[128];
static char	*cause;

static void
setup(void)
{
	int	fd;

	snprintf(dir, sizeof(dir), "/tmp/check_trust.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/mods", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(mod, sizeof(mod), "%s/m.so", sub);
	ck_assert_int_ne(fd = open(mod, O_CREAT | O_WRONLY, 0644), -1);
	close(fd);
	ck_assert_int_eq(chmod(mod, 0644), 0);
	cause = NULL;
}

static void
teardown(void)
{
	free(cause);
	unlink(mod);
	rmdir(sub);
	rmdir(dir);
}

START_TEST(test_a_root_owned_module_in_root_owned_directories_is_trusted)
{
	ck_assert_int_eq(trust_module(mod, &cause), 0);
}
END_TEST

START_TEST(test_a_module_writable_by_others_is_refused)
{
	char	want[512];

	ck_assert_int_eq(chmod(mod, 0646), 0);
	ck_assert_int_eq(trust_module(mod, &cause), -1);
	snprintf(want, sizeof(want), "module %s: refusing to load: the file "
	    "is writable by others (mode 0646); a module runs with the "
	    "daemon's privileges", mod);
	ck_assert_str_eq(cause, want);
}
END_TEST

START_TEST(test_a_module_writable_by_group_is_refused)
{
	char	want[512];

	ck_assert_int_eq(chmod(mod, 0664), 0);
	ck_assert_int_eq(trust_module(mod, &cause), -1);
	snprintf(want, sizeof(want), "module %s: refusing to load: the file "
	    "is writable by group (mode 0664); a module runs with the "
	    "daemon's privileges", mod);
	ck_assert_str_eq(cause, want);
}
END_TEST

START_TEST(test_a_module_owned_by_another_user_is_refused)
{
	char	want[512];

	ck_assert_int_eq(chown(mod, 65534, 0), 0);
	ck_assert_int_eq(trust_module(mod, &cause), -1);
	snprintf(want, sizeof(want), "module %s: refusing to load: the file "
	    "is owned by uid 65534, not root", mod);
	ck_assert_str_eq(cause, want);
}
END_TEST

START_TEST(test_a_writable_directory_above_the_module_is_refused)
{
	char	want[512];

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(trust_module(mod, &cause), -1);
	snprintf(want, sizeof(want), "module %s: refusing to load: directory "
	    "%s is writable by others (mode 0777) and not sticky", mod, dir);
	ck_assert_str_eq(cause, want);
}
END_TEST

START_TEST(test_a_sticky_directory_above_the_module_is_accepted)
{
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(trust_module(mod, &cause), 0);
}
END_TEST

START_TEST(test_a_directory_owned_by_another_user_is_refused)
{
	char	want[512];

	ck_assert_int_eq(chown(sub, 65534, 0), 0);
	ck_assert_int_eq(trust_module(mod, &cause), -1);
	snprintf(want, sizeof(want), "module %s: refusing to load: directory "
	    "%s is owned by uid 65534, not root", mod, sub);
	ck_assert_str_eq(cause, want);
}
END_TEST

START_TEST(test_a_config_writable_by_others_is_refused_and_group_is_not)
{
	int	fd;

	ck_assert_int_ne(fd = open(mod, O_RDONLY), -1);
	ck_assert_int_eq(fchmod(fd, 0664), 0);
	ck_assert_int_eq(trust_config(fd, mod, &cause), 0);
	ck_assert_int_eq(fchmod(fd, 0606), 0);
	ck_assert_int_eq(trust_config(fd, mod, &cause), -1);
	ck_assert_str_eq(cause, "refusing to read: the file is writable by "
	    "others (mode 0606); anyone could change what runs as root");
	close(fd);
}
END_TEST

static Suite *
trust_suite(void)
{
	Suite	*s = suite_create("trust");
	TCase	*tc = tcase_create("root");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_a_root_owned_module_in_root_owned_directories_is_trusted);
	tcase_add_test(tc, test_a_module_writable_by_others_is_refused);
	tcase_add_test(tc, test_a_module_writable_by_group_is_refused);
	tcase_add_test(tc, test_a_module_owned_by_another_user_is_refused);
	tcase_add_test(tc,
	    test_a_writable_directory_above_the_module_is_refused);
	tcase_add_test(tc,
	    test_a_sticky_directory_above_the_module_is_accepted);
	tcase_add_test(tc, test_a_directory_owned_by_another_user_is_refused);
	tcase_add_test(tc,
	    test_a_config_writable_by_others_is_refused_and_group_is_not);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "check_trust: skipped, the checks apply to "
		    "root only\n");
		return (77);
	}
	return (check_run(trust_suite()));
}
