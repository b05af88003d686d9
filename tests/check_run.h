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

/* What every Check test program shares: main(), temporary directories. */

#ifndef CHECK_RUN_H
#define CHECK_RUN_H

#include <check.h>

#include <limits.h>

/* The directory of a test case, and the one of the test inside it. */
extern char	check_rootdir[PATH_MAX];
extern char	check_tmpdir[PATH_MAX];

int	check_run(Suite *);
const char *check_str(const char *, ...) __attribute__((format(printf, 1, 2)));
void	check_str_free(void);
void	check_root_setup(void);		/* unchecked fixture */
void	check_root_teardown(void);
void	check_dir_setup(void);		/* checked fixture */
void	check_dir_teardown(void);

#endif /* CHECK_RUN_H */
