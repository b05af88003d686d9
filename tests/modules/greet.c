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
 * A test module built twice, with GREET_VERSION "v1" and "v2": it answers
 * every read with the version, a colon and the bytes read, so a test can
 * tell which build of the .so serves a connection after a reload.
 */

#include <evinetd/module.h>

static int
greet_read(struct evi_conn *c, struct evbuffer *in)
{
	if (evi_conn_write(c, GREET_VERSION ":", 3) != 0)
		return (-1);
	return (evi_conn_write_buffer(c, in));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "greet",
	.description = "test module: answers with its build's version",
	.protocols = EVI_PROTO_TCP,
	.conn_read = greet_read,
};
