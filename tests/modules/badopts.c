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
 * badopts: a module whose option table is wrong on purpose, one way per
 * build, so the tests can check that the daemon refuses it when it loads,
 * naming the module and the option: BADOPTS_ENUM declares a choice with
 * no choices, BADOPTS_RANGE a minimum above its maximum, BADOPTS_SHADOW
 * an option named like a core key.
 */

#include <evinetd/module.h>

static const struct evi_option badopts_table[] = {
	{ "greeting", EVI_OPT_STRING, "hello", "text sent first", 0,
	    0, 0, NULL },
#if defined(BADOPTS_ENUM)
	{ "colour", EVI_OPT_ENUM, NULL, "a colour", 0, 0, 0, NULL },
#elif defined(BADOPTS_RANGE)
	{ "count", EVI_OPT_INT, NULL, "how many", 0, 10, 1, NULL },
#elif defined(BADOPTS_SHADOW)
	{ "max_output", EVI_OPT_SIZE, NULL, "bytes", 0, 0, 0, NULL },
#endif
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "badopts",
	.description = "test module with a broken option table",
	.protocols = EVI_PROTO_TCP,
	.options = badopts_table,
};
