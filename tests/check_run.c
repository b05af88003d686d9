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
 * What the Check test programs share: running a suite, and temporary
 * directories made and removed by the runner (not inside the forked
 * test), so that what a failed test leaves behind goes too.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_run.h"

/* Runs a suite (forking per test unless CK_FORK=no); the exit status. */
int
check_run(Suite *s)
{
	SRunner	*sr;
	int	 nfailed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

#define CHECK_POOL	64

static char	*check_pool[CHECK_POOL];	/* freed by check_str_free */
static int	 check_npool;

char	check_rootdir[PATH_MAX];
char	check_tmpdir[PATH_MAX];

/*
 * Makes the directory of a test case under $TMPDIR (or /tmp), named after
 * the program.  As an unchecked fixture it runs in the runner, so it is
 * removed even when a forked test dies.
 */
void
check_root_setup(void)
{
	const char	*base;

	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	if (snprintf(check_rootdir, sizeof(check_rootdir), "%s/%s.XXXXXX",
	    base, program_invocation_short_name) >=
	    (int)sizeof(check_rootdir) ||
	    mkdtemp(check_rootdir) == NULL) {
		perror(check_rootdir);
		exit(EXIT_FAILURE);
	}
}

/* Makes one test's own directory inside the test case's. */
void
check_dir_setup(void)
{
	if (snprintf(check_tmpdir, sizeof(check_tmpdir), "%s/test.XXXXXX",
	    check_rootdir) >= (int)sizeof(check_tmpdir))
		ck_abort_msg("temporary directory name too long");
	ck_assert_ptr_nonnull(mkdtemp(check_tmpdir));
}

static int
check_remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return (0);
}

static void
check_remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, check_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
check_root_teardown(void)
{
	check_remove_tree(check_rootdir);
}

void
check_dir_teardown(void)
{
	check_remove_tree(check_tmpdir);
}

/* Formats a string that lives until check_str_free (a test's teardown). */
const char *
check_str(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	ck_assert_int_lt(check_npool, CHECK_POOL);
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	check_pool[check_npool++] = s;
	return (s);
}

void
check_str_free(void)
{
	while (check_npool > 0)
		free(check_pool[--check_npool]);
}
