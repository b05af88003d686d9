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
 * tlsinfo: a test module that tells its client what evi_conn_tls() says,
 * so a TLS test can check what the module sees.  conn_open writes one
 * line, "plain" when the connection has no TLS, else
 *
 *	version=V cipher=C sni=S alpn=A resumed=0|1 client_cert=0|1
 *	verified=0|1 subject=SUBJ sha256=HEX pid=PID
 *
 * ("-" for a NULL string), then it echoes.  pid is the worker's, so a test
 * can tell which worker served a connection.  An RFC 2253 subject may hold
 * spaces: a test splits the line on " sha256=" and " subject=".
 */

#include <unistd.h>

#include <evinetd/module.h>

static const char *
tlsinfo_str(const char *s)
{
	return (s != NULL ? s : "-");
}

static int
tlsinfo_open(struct evi_conn *c)
{
	const struct evi_tls_info	*t = evi_conn_tls(c);

	if (t == NULL)
		return (evi_conn_write(c, "plain\n", 6));
	return (evi_conn_printf(c, "version=%s cipher=%s sni=%s alpn=%s "
	    "resumed=%d client_cert=%d verified=%d subject=%s sha256=%s "
	    "pid=%ld\n", tlsinfo_str(t->version), tlsinfo_str(t->cipher),
	    tlsinfo_str(t->sni), tlsinfo_str(t->alpn), t->resumed,
	    t->client_cert, t->client_verified, tlsinfo_str(t->client_subject),
	    tlsinfo_str(t->client_sha256), (long)getpid()));
}

static int
tlsinfo_read(struct evi_conn *c, struct evbuffer *in)
{
	return (evi_conn_write_buffer(c, in));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "tlsinfo",
	.description = "test module: says what evi_conn_tls() sees, then echoes",
	.protocols = EVI_PROTO_TCP,
	.conn_open = tlsinfo_open,
	.conn_read = tlsinfo_read,
};
