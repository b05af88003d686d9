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
 * A test module that crashes on purpose: a NULL dereference in its read
 * callback when the client sends "crash", an echo otherwise.  With
 * "isolate = yes" it shows a crash taking down only its own worker, which
 * the supervisor logs with the signal and restarts.
 */

#include <string.h>

#include <evinetd/module.h>

static int
crash_read(struct evi_conn *c, struct evbuffer *in)
{
	volatile int	*null = NULL;

	if (evbuffer_search(in, "crash", 5, NULL).pos != -1)
		*null = 1;
	return (evi_conn_write_buffer(c, in));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "crash",
	.description = "test module: segfaults when it reads \"crash\"",
	.protocols = EVI_PROTO_TCP,
	.conn_read = crash_read,
};
