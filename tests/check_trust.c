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
 * The trust checks of daemon/trust.c: the walk from "/" that a root daemon
 * makes before it reads a config file or loads a module, and that each
 * refusal names the object, the path and the cause.  The owner and mode
 * checks apply to root only, so the program skips (exit 77) unless it runs
 * as root, as it does in CI.
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

static const char *dir = check_tmpdir;	/* 0755, as its parent */
static char	 sub[PATH_MAX];		/* DIR/mods */
static char	 mod[PATH_MAX];		/* DIR/mods/m.so */
static char	*cause;

/* Makes name (under dir) and returns its path, for the test's lifetime. */
static const char *
in_dir(const char *name)
{
	return (check_str("%s/%s", dir, name));
}

static void
make_file(const char *path, mode_t mode)
{
	int	fd;

	ck_assert_int_ne(fd = open(path, O_CREAT | O_WRONLY, mode), -1);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Runs after check_dir_setup, in the test's own directory. */
static void
setup(void)
{
	ck_assert_int_eq(chmod(check_rootdir, 0755), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_lt(snprintf(sub, sizeof(sub), "%s/mods", dir),
	    (int)sizeof(sub));
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_lt(snprintf(mod, sizeof(mod), "%s/m.so", sub),
	    (int)sizeof(mod));
	make_file(mod, 0644);
	cause = NULL;
}

static void
teardown(void)
{
	free(cause);
	check_str_free();
}

/* Asserts that trust_open refuses path with exactly want. */
static void
assert_refused(const char *path, const char *want)
{
	free(cause);
	cause = NULL;
	ck_assert_int_eq(trust_open(path, &cause), -1);
	ck_assert_str_eq(cause, want);
}

START_TEST(test_a_trusted_chain_opens_the_file_it_checked)
{
	struct stat	st, want;
	int		fd;

	ck_assert_int_ge(fd = trust_open(mod, &cause), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(stat(mod, &want), 0);
	ck_assert(st.st_ino == want.st_ino && st.st_dev == want.st_dev);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	/* Dots on the way go where the kernel would go. */
	ck_assert_int_ge(fd = trust_open(check_str("%s/../mods/./m.so", sub),
	    &cause), 0);
	close(fd);
}
END_TEST

START_TEST(test_a_file_writable_by_others_or_group_is_refused)
{
	ck_assert_int_eq(chmod(mod, 0646), 0);
	assert_refused(mod, check_str("file %s is writable by others "
	    "(mode 0646)", mod));
	ck_assert_int_eq(chmod(mod, 0664), 0);
	assert_refused(mod, check_str("file %s is writable by group "
	    "(mode 0664)", mod));
}
END_TEST

START_TEST(test_a_file_owned_by_another_user_is_refused)
{
	ck_assert_int_eq(chown(mod, 65534, 0), 0);
	assert_refused(mod, check_str("file %s is owned by uid 65534, not "
	    "root", mod));
}
END_TEST

START_TEST(test_a_directory_owned_by_nobody_in_the_chain_is_refused)
{
	ck_assert_int_eq(chown(sub, 65534, 65534), 0);
	assert_refused(mod, check_str("directory %s is owned by uid 65534, "
	    "not root", sub));
}
END_TEST

START_TEST(test_a_group_writable_directory_is_refused)
{
	ck_assert_int_eq(chmod(dir, 0775), 0);
	assert_refused(mod, check_str("directory %s is writable by group "
	    "(mode 0775) and not sticky", dir));
}
END_TEST

START_TEST(test_a_symlink_into_an_untrusted_directory_is_refused)
{
	const char	*evil = in_dir("evil"), *link = in_dir("link");

	ck_assert_int_eq(mkdir(evil, 0755), 0);
	make_file(check_str("%s/m.so", evil), 0644);
	ck_assert_int_eq(chown(evil, 65534, 65534), 0);
	/* A relative link in a trusted directory, to a directory it is not. */
	ck_assert_int_eq(symlink("evil", link), 0);
	assert_refused(check_str("%s/m.so", link), check_str("directory %s "
	    "is owned by uid 65534, not root (reached through symbolic link "
	    "%s)", evil, link));
	/* An absolute one, as the last component, just the same. */
	ck_assert_int_eq(symlink(check_str("%s/m.so", evil),
	    in_dir("m.so")), 0);
	assert_refused(in_dir("m.so"), check_str("directory %s is owned by "
	    "uid 65534, not root (reached through symbolic link %s)", evil,
	    in_dir("m.so")));
}
END_TEST

START_TEST(test_a_symlink_owned_by_another_user_is_refused)
{
	const char	*link = in_dir("link");

	ck_assert_int_eq(symlink("mods", link), 0);
	ck_assert_int_eq(lchown(link, 65534, 65534), 0);
	assert_refused(check_str("%s/m.so", link), check_str("symbolic link "
	    "%s is owned by uid 65534, not root", link));
}
END_TEST

START_TEST(test_a_symlink_loop_is_refused)
{
	ck_assert_int_eq(symlink("b", in_dir("a")), 0);
	ck_assert_int_eq(symlink("a", in_dir("b")), 0);
	assert_refused(in_dir("a"), "Too many levels of symbolic links");
}
END_TEST

START_TEST(test_a_sticky_directory_may_be_passed_but_not_listed)
{
	int	fd;

	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_ge(fd = trust_open(mod, &cause), 0);
	close(fd);
	ck_assert_int_eq(trust_dir(sub, &cause), 0);
	ck_assert_int_eq(trust_dir(dir, &cause), -1);
	ck_assert_str_eq(cause, check_str("directory %s is writable by "
	    "others (mode 1777): anyone there may add a file to it", dir));
	free(cause);
	cause = NULL;
	/* Nor when a link leads to it. */
	ck_assert_int_eq(symlink(".", in_dir("here")), 0);
	ck_assert_int_eq(trust_dir(in_dir("here"), &cause), -1);
	ck_assert_str_eq(cause, check_str("directory %s is writable by "
	    "others (mode 1777): anyone there may add a file to it (reached "
	    "through symbolic link %s)", dir, in_dir("here")));
}
END_TEST

START_TEST(test_a_fifo_or_directory_is_not_opened)
{
	const char	*fifo = in_dir("fifo.conf");

	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	/* Opening it for reading would block until a writer came. */
	assert_refused(fifo, "not a regular file");
	assert_refused(sub, "not a regular file");
	assert_refused(in_dir("none"), "No such file or directory");
}
END_TEST

START_TEST(test_an_option_path_is_checked_and_may_be_missing)
{
	const char	*quotes = check_str("%s/quotes.txt", sub);

	/* Missing, but only root could create it: the module says so. */
	ck_assert_int_eq(trust_option_path(quotes, NULL, &cause), 0);
	make_file(quotes, 0600);
	ck_assert_int_eq(trust_option_path("quotes.txt", mod, &cause), 0);
	ck_assert_int_eq(chown(sub, 65534, 65534), 0);
	ck_assert_int_eq(trust_option_path("quotes.txt", mod, &cause), -1);
	ck_assert_str_eq(cause, check_str("%s/quotes.txt: directory %s is "
	    "owned by uid 65534, not root", sub, sub));
	free(cause);
	cause = NULL;
	/* A missing file in a directory anyone may add to is refused. */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(trust_option_path(in_dir("q.txt"), NULL, &cause), -1);
	ck_assert_str_eq(cause, check_str("%s: directory %s is writable by "
	    "others (mode 1777): anyone there may add a file to it",
	    in_dir("q.txt"), dir));
}
END_TEST

START_TEST(test_a_daemon_not_run_as_root_checks_no_owners)
{
	int	fd;

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(chown(mod, 65534, 65534), 0);
	ck_assert_int_eq(seteuid(65534), 0);
	ck_assert_int_ge(fd = trust_open(mod, &cause), 0);
	close(fd);
	ck_assert_int_eq(trust_option_path(mod, NULL, &cause), 0);
	/* But the walk still never opens what is not a regular file. */
	assert_refused(sub, "not a regular file");
	ck_assert_int_eq(seteuid(0), 0);
}
END_TEST

static Suite *
trust_suite(void)
{
	Suite	*s = suite_create("trust");
	TCase	*tc = tcase_create("root");

	tcase_add_unchecked_fixture(tc, check_root_setup, check_root_teardown);
	tcase_add_checked_fixture(tc, check_dir_setup, check_dir_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_a_trusted_chain_opens_the_file_it_checked);
	tcase_add_test(tc, test_a_file_writable_by_others_or_group_is_refused);
	tcase_add_test(tc, test_a_file_owned_by_another_user_is_refused);
	tcase_add_test(tc,
	    test_a_directory_owned_by_nobody_in_the_chain_is_refused);
	tcase_add_test(tc, test_a_group_writable_directory_is_refused);
	tcase_add_test(tc,
	    test_a_symlink_into_an_untrusted_directory_is_refused);
	tcase_add_test(tc, test_a_symlink_owned_by_another_user_is_refused);
	tcase_add_test(tc, test_a_symlink_loop_is_refused);
	tcase_add_test(tc,
	    test_a_sticky_directory_may_be_passed_but_not_listed);
	tcase_add_test(tc, test_a_fifo_or_directory_is_not_opened);
	tcase_add_test(tc, test_an_option_path_is_checked_and_may_be_missing);
	tcase_add_test(tc, test_a_daemon_not_run_as_root_checks_no_owners);
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
