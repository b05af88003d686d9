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
 * libFuzzer target for the stats module's HTTP request parser.  The input
 * is what a client sent; it is consumed the way stats_process() does,
 * request after pipelined request, under several caps on the request
 * size: the module's default, the input's own length, 64, and one from
 * 1 to 256 that the first byte picks.
 * Each call gets a heap copy of exactly the bytes it may read, so that
 * AddressSanitizer sees any read past them.
 *
 * A parsed request must be self-consistent, take no more than it was
 * given, parse the same from exactly its own bytes, and be incomplete one
 * byte short; a refusal must carry one of the documented statuses; and
 * "incomplete" is only possible below the cap.
 */

#include <stdlib.h>
#include <string.h>

#include "stats_http.h"
#include "fuzz.h"

#define FUZZ_DEFAULT_MAX	8192	/* the module's max_request default */

/* Parses len bytes from a copy that is exactly that long. */
static enum http_result
fuzz_parse(const char *p, size_t len, size_t max, struct http_request *req)
{
	enum http_result	 r;
	char			*copy;

	copy = malloc(len > 0 ? len : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, p, len);
	r = http_parse(copy, len, max, req);
	free(copy);
	return (r);
}

static void
fuzz_check_parsed(const char *p, size_t len, size_t max,
    const struct http_request *req)
{
	struct http_request	 again;
	size_t			 n;

	FUZZ_CHECK(req->length > 0 && req->length <= len &&
	    req->length <= max);
	n = strnlen(req->method, sizeof(req->method));
	FUZZ_CHECK(n > 0 && n < sizeof(req->method));
	n = strnlen(req->path, sizeof(req->path));
	FUZZ_CHECK(n > 0 && n < sizeof(req->path) && req->path[0] == '/');
	FUZZ_CHECK(memchr(req->path, '?', n) == NULL);
	FUZZ_CHECK(req->minor == 0 || req->minor == 1);
	FUZZ_CHECK(req->keep_alive == 0 || req->keep_alive == 1);
	FUZZ_CHECK(req->status == 0 && req->reason == NULL);

	FUZZ_CHECK(fuzz_parse(p, req->length, max, &again) == HTTP_PARSED);
	FUZZ_CHECK(again.length == req->length &&
	    strcmp(again.method, req->method) == 0 &&
	    strcmp(again.path, req->path) == 0 &&
	    again.minor == req->minor && again.keep_alive == req->keep_alive);
	FUZZ_CHECK(fuzz_parse(p, req->length - 1, max, &again) ==
	    HTTP_INCOMPLETE);
}

/* Feeds the input through one connection's worth of requests. */
static void
fuzz_connection(const char *p, size_t size, size_t max)
{
	struct http_request	 req;
	enum http_result	 r;
	size_t			 len;

	while (size > 0) {
		len = size < max ? size : max;
		r = fuzz_parse(p, len, max, &req);
		switch (r) {
		case HTTP_INCOMPLETE:
			FUZZ_CHECK(len < max);
			return;
		case HTTP_ERROR:
			FUZZ_CHECK(req.status == 400 || req.status == 414 ||
			    req.status == 431 || req.status == 501 ||
			    req.status == 505);
			FUZZ_CHECK(req.reason != NULL);
			FUZZ_CHECK(req.status != 431 || len >= max);
			return;
		case HTTP_PARSED:
			fuzz_check_parsed(p, len, max, &req);
			if (!req.keep_alive)
				return;
			p += req.length;
			size -= req.length;
			break;
		default:
			FUZZ_CHECK(!"unknown http_parse result");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data;

	fuzz_connection(p, size, FUZZ_DEFAULT_MAX);
	fuzz_connection(p, size, size > 0 ? size : 1);
	fuzz_connection(p, size, 64);
	if (size > 0)
		fuzz_connection(p, size, (size_t)data[0] + 1);
	return (0);
}
