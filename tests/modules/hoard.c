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
 * A test module that never consumes its input: its read callback leaves
 * every byte in the buffer, so the daemon closes each connection once
 * max_input bytes are waiting, and a test can flood the log with those
 * closes.
 */

#include <evinetd/module.h>

static int
hoard_read(struct evi_conn *c, struct evbuffer *in)
{
	(void)c;
	(void)in;
	return (0);
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "hoard",
	.description = "test module: keeps its input unread",
	.protocols = EVI_PROTO_TCP,
	.conn_read = hoard_read,
};
