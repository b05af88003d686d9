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
 * The sending side of the PROXY protocol (HAProxy's spec, versions 1 and
 * 2), for modules that connect to a backend on a client's behalf.
 */

#ifndef PROXY_HEADER_H
#define PROXY_HEADER_H

#include <sys/socket.h>

#include <event2/buffer.h>

#define PROXY_HEADER_V1		1
#define PROXY_HEADER_V2		2

int	proxy_header(struct evbuffer *, int, const struct sockaddr *,
	    const struct sockaddr *);

#endif /* PROXY_HEADER_H */
