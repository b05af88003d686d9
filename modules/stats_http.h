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
 * A strict, allocation-free parser for the HTTP/1.x requests the stats
 * module answers.  It has no I/O so that a fuzzer can drive it directly.
 */

#ifndef STATS_HTTP_H
#define STATS_HTTP_H

#include <stddef.h>

#define HTTP_METHOD_MAX		16
#define HTTP_TARGET_MAX		1024

enum http_result {
	HTTP_INCOMPLETE = 0,	/* need more bytes */
	HTTP_PARSED = 1,	/* a whole request; see http_request */
	HTTP_ERROR = -1		/* refuse with http_request.status */
};

struct http_request {
	char	 method[HTTP_METHOD_MAX];
	char	 path[HTTP_TARGET_MAX + 1];	/* target without the query */
	int	 minor;			/* HTTP/1.minor */
	int	 keep_alive;
	size_t	 length;		/* bytes the request took */
	int	 status;		/* HTTP_ERROR: 400, 414, 431, 501, 505 */
	const char *reason;		/* HTTP_ERROR: why, for the log */
};

enum http_result http_parse(const char *, size_t, size_t,
    struct http_request *);

#endif /* STATS_HTTP_H */
