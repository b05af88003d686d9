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
 * badmagic: a test module whose descriptor has the wrong magic number, as
 * a module built for something else (or a garbled file) would.  The
 * loader must refuse it and show both the expected and the seen value.
 */

#include <evinetd/module.h>

EVI_MODULE_EXPORT = {
	.magic = 0x12345678U,
	.abi_major = EVI_ABI_MAJOR,
	.abi_minor = EVI_ABI_MINOR,
	.size = sizeof(struct evi_module),
	.name = "badmagic",
	.description = "test module with a wrong magic number",
	.protocols = EVI_PROTO_TCP,
};
