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

/* Makes the directory of a test case under $TMPDIR (or /tmp). */
void
check_tmp_root(char *buf, size_t len, const char *prefix)
{
	const char	*base;

	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	if (snprintf(buf, len, "%s/%s.XXXXXX", base, prefix) >= (int)len ||
	    mkdtemp(buf) == NULL) {
		perror(buf);
		exit(EXIT_FAILURE);
	}
}

/* Makes one test's own directory inside the test case's. */
void
check_tmp_dir(char *buf, size_t len, const char *root)
{
	if (snprintf(buf, len, "%s/test.XXXXXX", root) >= (int)len)
		ck_abort_msg("temporary directory name too long");
	ck_assert_ptr_nonnull(mkdtemp(buf));
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

void
check_remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, check_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
