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
 * newminor: a test module that claims module ABI 1.99.  It may use
 * members this daemon does not know, so the loader must refuse it and
 * name both versions.
 */

#include <evinetd/module.h>

EVI_MODULE_EXPORT = {
	.magic = EVI_MODULE_MAGIC,
	.abi_major = EVI_ABI_MAJOR,
	.abi_minor = 99,
	.size = sizeof(struct evi_module),
	.name = "newminor",
	.description = "test module built for module ABI 1.99",
	.protocols = EVI_PROTO_TCP,
};
