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
 * A test module for the conn_open contract: its conn_open allocates
 * per-connection data, asks for a close, and then fails.  The header
 * promises that a conn_open returning -1 gets no conn_close, so the data
 * is freed here before returning; a daemon that called conn_close anyway
 * would log "conn_close called" and free the data twice.
 */

#include <stdlib.h>

#include <evinetd/module.h>

static int
openfail_open(struct evi_conn *c)
{
	char	*data;

	if ((data = malloc(16)) == NULL)
		return (-1);
	evi_conn_set_data(c, data);
	evi_conn_close(c);
	evi_conn_set_data(c, NULL);
	free(data);
	return (-1);
}

static void
openfail_close(struct evi_conn *c, enum evi_close_reason reason)
{
	evi_log(evi_conn_service(c), EVI_LOG_WARN, "conn_close called (%s)",
	    evi_close_reason_string(reason));
	free(evi_conn_data(c));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "openfail",
	.description = "test module: conn_open closes, then returns -1",
	.protocols = EVI_PROTO_TCP,
	.conn_open = openfail_open,
	.conn_close = openfail_close,
};
