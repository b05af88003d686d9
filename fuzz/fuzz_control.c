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
 * libFuzzer target for the control socket's request parser (control.c),
 * the one place a root process interprets a client's bytes.  Besides the
 * sanitizers (and LeakSanitizer: a refused request must free all it
 * made), each run holds the parser to what the commands assume:
 *
 *	- a refusal says why, in one line;
 *	- an accepted request has a known command and 0 to 2 arguments,
 *	  each a non-empty string without NUL of at most 255 bytes;
 *	- the same request, written out again, parses to the same thing.
 */

#include "config.h"

#include <string.h>

#include <jansson.h>

#include "evinetd.h"
#include "fuzz.h"

/* An accepted request, written out by Jansson, parses the same. */
static void
fuzz_roundtrip(const struct ctl_request *req)
{
	struct ctl_request	 again;
	char			*s, *cause;
	size_t			 i;

	s = json_dumps(req->cr_json, JSON_COMPACT);
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(control_parse(s, strlen(s), &again, &cause) == 0);
	FUZZ_CHECK(again.cr_cmd == req->cr_cmd);
	FUZZ_CHECK(again.cr_nargs == req->cr_nargs);
	for (i = 0; i < req->cr_nargs; i++)
		FUZZ_CHECK(strcmp(again.cr_args[i], req->cr_args[i]) == 0);
	json_decref(again.cr_json);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request	 req;
	char			*cause = NULL;
	size_t			 i;

	if (size >= CONTROL_MAX_REQUEST)
		return (0);
	if (control_parse((const char *)data, size, &req, &cause) != 0) {
		FUZZ_CHECK(cause != NULL && *cause != '\0');
		FUZZ_CHECK(strchr(cause, '\n') == NULL);
		free(cause);
		return (0);
	}
	FUZZ_CHECK(req.cr_json != NULL);
	FUZZ_CHECK((int)req.cr_cmd >= CTL_STATUS &&
	    (int)req.cr_cmd <= CTL_STOP);
	FUZZ_CHECK(req.cr_nargs <= 2);
	for (i = 0; i < req.cr_nargs; i++) {
		FUZZ_CHECK(req.cr_args[i] != NULL);
		FUZZ_CHECK(*req.cr_args[i] != '\0');
		FUZZ_CHECK(strlen(req.cr_args[i]) <= 255);
	}
	fuzz_roundtrip(&req);
	json_decref(req.cr_json);
	return (0);
}
