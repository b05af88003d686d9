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
 * initfail: a test module whose init refuses every service with a fixed
 * reason, as a module that cannot open its data file would.  The reason
 * must reach the user, with the service it refused.
 */

#include <evinetd/module.h>

#define INITFAIL_REASON \
	"cannot open /nonexistent/quotes: No such file or directory"

static int
initfail_init(struct evi_service *svc, void **state)
{
	return (evi_service_fail(svc, "%s", INITFAIL_REASON));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "initfail",
	.description = "test module whose init always fails",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.init = initfail_init,
};
