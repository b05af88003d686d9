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
 * Allocation wrappers: running out of memory in the daemon is fatal, and
 * multiplications are checked for overflow, so callers need not check.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

void *
xmalloc(size_t size)
{
	void	*ptr;

	if (size == 0)
		fatalx("xmalloc: zero size");
	if ((ptr = malloc(size)) == NULL)
		fatalx("xmalloc: allocating %zu bytes: %s", size,
		    strerror(errno));
	return (ptr);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*ptr;

	if (size == 0 || nmemb == 0)
		fatalx("xcalloc: zero size");
	if ((ptr = calloc(nmemb, size)) == NULL)
		fatalx("xcalloc: allocating %zu * %zu bytes: %s", nmemb, size,
		    strerror(errno));
	return (ptr);
}

/* Grows an array of nmemb members, failing loudly on overflow. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*new_ptr;

	if (nmemb == 0 || size == 0)
		fatalx("xreallocarray: zero size");
	if (SIZE_MAX / nmemb < size)
		fatalx("xreallocarray: %zu * %zu overflows", nmemb, size);
	if ((new_ptr = realloc(ptr, nmemb * size)) == NULL)
		fatalx("xreallocarray: allocating %zu * %zu bytes: %s",
		    nmemb, size, strerror(errno));
	return (new_ptr);
}

char *
xstrdup(const char *str)
{
	char	*cp;

	if ((cp = strdup(str)) == NULL)
		fatalx("xstrdup: %s", strerror(errno));
	return (cp);
}

char *
xstrndup(const char *str, size_t maxlen)
{
	char	*cp;

	if ((cp = strndup(str, maxlen)) == NULL)
		fatalx("xstrndup: %s", strerror(errno));
	return (cp);
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	i;

	va_start(ap, fmt);
	i = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return (i);
}

int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	i;

	i = vasprintf(ret, fmt, ap);
	if (i == -1)
		fatalx("xasprintf: %s", strerror(errno));
	return (i);
}
