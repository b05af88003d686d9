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
 * options: a test module that declares one option of each type, with
 * bounds, choices, defaults and one required option, so the tests can
 * check how the daemon validates a service's options and fills in the
 * defaults.  It serves TCP and does nothing with the bytes.
 */

#include <evinetd/module.h>

static const struct evi_option options_table[] = {
	{ "greeting", EVI_OPT_STRING, "hello", "text sent first", 0,
	    0, 0, NULL },
	{ "count", EVI_OPT_INT, "10", "how many times", 0,
	    1, 100, NULL },
	{ "verbose", EVI_OPT_BOOL, "no", "log each connection", 0,
	    0, 0, NULL },
	{ "timeout", EVI_OPT_DURATION, "30s", "idle time before closing", 0,
	    100, 3600 * 1000, NULL },
	{ "buffer", EVI_OPT_SIZE, "64k", "bytes kept per connection", 0,
	    1024, 1024 * 1024, NULL },
	{ "mode", EVI_OPT_ENUM, "fast", "how to answer", 0,
	    0, 0, "fast slow careful" },
	{ "secret", EVI_OPT_STRING, NULL, "shared secret", EVI_OPT_REQUIRED,
	    0, 0, NULL },
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "options",
	.description = "test module with one option of each type",
	.protocols = EVI_PROTO_TCP,
	.options = options_table,
};
