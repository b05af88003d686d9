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
 * Config value words: booleans, integers, sizes and durations.  Each
 * converter checks the whole word and its range, and explains a refusal
 * in words a user can act on; a refusal leaves the result alone.
 */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

int
value_bool(const char *s, int *out, char **cause)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else {
		xasprintf(cause, "invalid boolean \"%s\" (expected yes or no)",
		    s);
		return (-1);
	}
	return (0);
}

/* Reads a leading decimal number; *end points past it. */
static int
value_number(const char *s, long long *out, const char **end)
{
	char		*ep;
	long long	 v;

	if (!isdigit((unsigned char)*s) && *s != '-')
		return (-1);
	errno = 0;
	v = strtoll(s, &ep, 10);
	if (errno == ERANGE || ep == s)
		return (-1);
	*out = v;
	*end = ep;
	return (0);
}

static int
value_range(const char *s, long long v, long long min, long long max,
    char **cause)
{
	if ((min != 0 || max != 0) && (v < min || v > max)) {
		xasprintf(cause, "\"%s\" out of range (%lld to %lld)", s, min,
		    max);
		return (-1);
	}
	return (0);
}

int
value_int(const char *s, long long min, long long max, long long *out,
    char **cause)
{
	const char	*end;
	long long	 v;

	if (value_number(s, &v, &end) != 0 || *end != '\0') {
		xasprintf(cause, "invalid number \"%s\"", s);
		return (-1);
	}
	if (value_range(s, v, min, max, cause) != 0)
		return (-1);
	*out = v;
	return (0);
}

/* Reads "512", "64k", "8m" or "1g" as a byte count. */
int
value_size(const char *s, long long min, long long max, long long *out,
    char **cause)
{
	const char	*end;
	long long	 v, mul = 1;

	if (value_number(s, &v, &end) != 0 || v < 0)
		goto bad;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1024LL;
		end++;
		break;
	case 'm': case 'M':
		mul = 1024LL * 1024;
		end++;
		break;
	case 'g': case 'G':
		mul = 1024LL * 1024 * 1024;
		end++;
		break;
	default:
		goto bad;
	}
	if (*end != '\0' || v > LLONG_MAX / mul)
		goto bad;
	if (value_range(s, v * mul, min, max, cause) != 0)
		return (-1);
	*out = v * mul;
	return (0);
bad:
	xasprintf(cause, "invalid size \"%s\" (expected a number with an "
	    "optional k, m or g)", s);
	return (-1);
}

/* Reads "250ms", "30s", "5m" or "1h" as milliseconds; a bare number is s. */
int
value_duration(const char *s, long long min, long long max, long long *out,
    char **cause)
{
	const char	*end;
	long long	 v, mul;

	if (value_number(s, &v, &end) != 0 || v < 0)
		goto bad;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mul = 3600 * 1000;
	else
		goto bad;
	if (v > LLONG_MAX / mul)
		goto bad;
	if (value_range(s, v * mul, min, max, cause) != 0)
		return (-1);
	*out = v * mul;
	return (0);
bad:
	xasprintf(cause, "invalid duration \"%s\" (expected a number with "
	    "ms, s, m or h)", s);
	return (-1);
}

/* Reads a rate, "N" or "N/s" per second, "N/m" per minute, "N/h" per hour. */
int
value_rate(const char *s, double *per_sec, char **cause)
{
	const char	*end;
	long long	 v;
	double		 div;

	if (value_number(s, &v, &end) != 0 || v <= 0 || v > 1000000000LL)
		goto bad;
	if (*end == '\0' || strcmp(end, "/s") == 0)
		div = 1;
	else if (strcmp(end, "/m") == 0)
		div = 60;
	else if (strcmp(end, "/h") == 0)
		div = 3600;
	else
		goto bad;
	*per_sec = (double)v / div;
	return (0);
bad:
	xasprintf(cause, "invalid rate \"%s\" (expected a positive number, "
	    "optionally /s, /m or /h)", s);
	return (-1);
}
