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
 * exec: runs a program for each connection, as inetd does (a "nowait"
 * service): the program gets the connection as its stdin and stdout.
 * What runs, as whom and with what limits is the service's business in
 * evinetd.conf (program, args, user, rlimit_*, ...: see evinetd.conf(5)),
 * read and checked by the daemon, whose root supervisor runs it.  The
 * module only says "now": on open, it hands the connection over.
 *
 * A "wait" service (wait = yes, for UDP programs such as tftpd) never
 * reaches the module: the supervisor gives the program the service's
 * socket itself.
 */

#include <errno.h>
#include <string.h>

#include <evinetd/module.h>

/* A new connection: its program takes it from here. */
static int
exec_open(struct evi_conn *c)
{
	if (evi_conn_exec(c) == -1) {
		evi_log(evi_conn_service(c), EVI_LOG_WARN, "%s: cannot hand "
		    "the connection to the program: %s",
		    evi_conn_peer_string(c), strerror(errno));
		return (-1);
	}
	return (0);
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "exec",
	.description = "runs the service's program for each connection",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.conn_open = exec_open,
};
