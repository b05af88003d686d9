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
 * daytime: the Daytime Protocol (RFC 867).  The RFC leaves the format
 * open, asking only for one human-readable line; ours is a strftime(3)
 * pattern (option "format", ctime-like by default) in UTC or local time
 * (option "timezone"), followed by CR LF.  TCP sends the line and closes;
 * UDP answers each datagram with the same line.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <evinetd/module.h>

#define DAYTIME_MAX	256

struct daytime {
	const char	*format;
	int		 utc;
};

/* Formats the current time; returns the length, CR LF included. */
static size_t
daytime_line(const struct daytime *dt, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 n;

	if (dt->utc)
		gmtime_r(&now, &tm);
	else
		localtime_r(&now, &tm);
	/* The format is the user's on purpose; init checked its output. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(buf, size - 2, dt->format, &tm);
#pragma GCC diagnostic pop
	buf[n++] = '\r';
	buf[n++] = '\n';
	return (n);
}

/* Checks the format once, so a bad one is refused by "evinetd -n". */
static int
daytime_init(struct evi_service *svc, void **state)
{
	struct daytime	*dt;
	char		 buf[DAYTIME_MAX];
	size_t		 n;

	if ((dt = calloc(1, sizeof(*dt))) == NULL)
		return (evi_service_fail(svc, "out of memory"));
	dt->format = evi_opt_string(svc, "format");
	dt->utc = strcmp(evi_opt_string(svc, "timezone"), "utc") == 0;
	*state = dt;
	n = daytime_line(dt, buf, sizeof(buf));
	if (n <= 2 || memchr(buf, '\n', n - 1) != NULL ||
	    memchr(buf, '\r', n - 2) != NULL) {
		evi_service_fail(svc, "format \"%s\" must give one non-empty "
		    "line of at most %d characters", dt->format,
		    DAYTIME_MAX - 3);
		free(dt);
		*state = NULL;
		return (-1);
	}
	return (0);
}

static void
daytime_fini(struct evi_service *svc, void *state)
{
	(void)svc;
	free(state);
}

static int
daytime_open(struct evi_conn *c)
{
	char	buf[DAYTIME_MAX];
	size_t	n;

	n = daytime_line(evi_service_state(evi_conn_service(c)), buf,
	    sizeof(buf));
	if (evi_conn_write(c, buf, n) != 0)
		return (-1);
	evi_conn_finish(c);
	return (0);
}

static int
daytime_dgram(struct evi_service *svc, const struct evi_dgram *d)
{
	char	buf[DAYTIME_MAX];
	size_t	n;

	n = daytime_line(evi_service_state(svc), buf, sizeof(buf));
	return (evi_dgram_reply(svc, d, buf, n));
}

static const struct evi_option daytime_options[] = {
	{ "format", EVI_OPT_STRING, "%a %b %e %H:%M:%S %Y %Z",
	    "strftime(3) pattern of the line", 0, 0, 0, NULL },
	{ "timezone", EVI_OPT_ENUM, "utc",
	    "utc, or local for the daemon's time zone", 0, 0, 0,
	    "utc local" },
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "daytime",
	.description = "Daytime Protocol, RFC 867: the time as a line of text",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.options = daytime_options,
	.init = daytime_init,
	.fini = daytime_fini,
	.conn_open = daytime_open,
	.dgram = daytime_dgram,
};
