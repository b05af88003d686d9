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
 * echo: the Echo Protocol (RFC 862), and the example to start from when
 * writing an evinetd module.
 *
 * A module is a table of callbacks.  The daemon accepts connections, reads
 * into an input buffer, writes what the module puts in the output buffer,
 * applies backpressure and closes sockets; the module only says what the
 * protocol does with bytes.  For echo that is one line of real work: move
 * whatever arrived to the output.  evi_conn_write_buffer moves the
 * buffer's memory chunks instead of copying bytes, so echo is zero-copy.
 *
 * Backpressure needs no code here: while a client does not read its echo,
 * the output stays above the service's max_output and the daemon simply
 * stops calling echo_read, so the client's writes block instead of the
 * daemon's memory growing.  When the client half-closes, the default is
 * what RFC 862 wants: the daemon sends what is pending, then closes.
 *
 * UDP: each datagram is answered with a datagram of the same bytes.
 *
 * Build it out of tree like any module:
 *	cc -shared -fPIC $(pkg-config --cflags evinetd) echo.c -o echo.so
 */

#include <evinetd/module.h>

/*
 * Called whenever bytes arrived.  "in" holds everything not yet consumed;
 * moving it all to the output consumes it.  Returning -1 would close the
 * connection and count a module error.
 */
static int
echo_read(struct evi_conn *c, struct evbuffer *in)
{
	return (evi_conn_write_buffer(c, in));
}

/*
 * Called once per datagram on a "protocol = udp" service.  The reply goes
 * back to d->peer from the socket the datagram arrived on.
 */
static int
echo_dgram(struct evi_service *svc, const struct evi_dgram *d)
{
	return (evi_dgram_reply(svc, d, d->data, d->len));
}

/*
 * The descriptor the daemon looks for.  EVI_MODULE_HEADER fills in the
 * magic number, ABI version and size that the daemon checks before it
 * calls anything here.  Callbacks we do not need stay NULL: no state to
 * set up (init, fini), nothing to do on open, on drained or on close, and
 * no options (a module that has some lists them in "options"; see
 * chargen.c or daytime.c).
 */
EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "echo",
	.description = "Echo Protocol, RFC 862: sends back what it receives",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.conn_read = echo_read,
	.dgram = echo_dgram,
};
