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
 * nosymbol: a shared object with a well-formed descriptor exported under
 * the wrong name, as when EVI_MODULE_EXPORT is forgotten.  The loader
 * must say that the "evinetd_module" symbol is missing.
 */

#include <evinetd/module.h>

EVI_EXPORT extern const struct evi_module nosymbol_module;

EVI_EXPORT const struct evi_module nosymbol_module = {
	EVI_MODULE_HEADER,
	.name = "nosymbol",
	.description = "test module that exports no evinetd_module",
	.protocols = EVI_PROTO_TCP,
};
