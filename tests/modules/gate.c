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
 * gate: a test module whose init waits while a file exists: the one named
 * by "gate" in a worker, the one named by "trial_gate" in a trial init
 * (evinetd -n, the check at startup and at a reload).  A test holds the
 * daemon at that point for as long as it needs, provably (the module logs
 * that it waits), and lets it go by removing the file.  Every read is
 * answered with the "greeting", a colon and the bytes read, so a test can
 * tell which config serves.  With "fail", a worker's init fails once its
 * gate opens, to make a reload fail at a chosen moment.
 */

#include <sys/stat.h>

#include <time.h>

#include <evinetd/module.h>

#define GATE_STEP_MS	10
#define GATE_MAX_MS	60000

static const struct evi_option gate_options[] = {
	{ "greeting", EVI_OPT_STRING, "gate", "text sent before the echo", 0,
	    0, 0, NULL },
	{ "gate", EVI_OPT_STRING, NULL, "in a worker, wait in init while "
	    "this file exists", 0, 0, 0, NULL },
	{ "trial_gate", EVI_OPT_STRING, NULL, "in a trial init, wait while "
	    "this file exists", 0, 0, 0, NULL },
	{ "fail", EVI_OPT_BOOL, "no", "in a worker, refuse the service once "
	    "the gate opens", 0, 0, 0, NULL },
	EVI_OPTION_END
};

static int
gate_init(struct evi_service *svc, void **state)
{
	const struct timespec	 step = { 0, GATE_STEP_MS * 1000000L };
	const char		*path;
	struct stat		 st;
	int			 ms;

	*state = NULL;
	/* A trial init has no worker, so no daemon-wide figures. */
	path = evi_opt_string(svc, evi_stats_global(svc) == NULL ?
	    "trial_gate" : "gate");
	if (path == NULL || stat(path, &st) == -1)
		return (0);
	evi_log(svc, EVI_LOG_INFO, "gate: waiting for %s to go", path);
	for (ms = 0; stat(path, &st) == 0; ms += GATE_STEP_MS) {
		if (ms >= GATE_MAX_MS)
			return (evi_service_fail(svc, "gate: %s is still "
			    "there after %d ms", path, ms));
		nanosleep(&step, NULL);
	}
	if (evi_stats_global(svc) != NULL && evi_opt_bool(svc, "fail"))
		return (evi_service_fail(svc, "gate: failing, as asked"));
	return (0);
}

static int
gate_read(struct evi_conn *c, struct evbuffer *in)
{
	if (evi_conn_printf(c, "%s:", evi_opt_string(evi_conn_service(c),
	    "greeting")) != 0)
		return (-1);
	return (evi_conn_write_buffer(c, in));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "gate",
	.description = "test module: an init that waits while a file exists",
	.protocols = EVI_PROTO_TCP,
	.options = gate_options,
	.init = gate_init,
	.conn_read = gate_read,
};
