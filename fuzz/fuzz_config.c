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
 * libFuzzer target for the config parser: config_parse_buffer on the
 * input, then config_finish, then config_free.  A line "#@file" (a
 * comment to the parser) starts another file, so one input can spread
 * services over several files, as includes would; include itself is off
 * (c_no_include), since it would read whatever the input names.  Modules
 * are never loaded.
 *
 * Besides the sanitizers, each run checks the bookkeeping a user relies
 * on: the return values agree with the error count, the error list holds
 * every error up to the cap, each message starts with a file name, what
 * the parser kept for each service is well formed, and a config without
 * errors has everything the daemon needs, in range.
 */

#include "config.h"

#include <sys/socket.h>

#include <string.h>

#include "evinetd.h"
#include "fuzz.h"

#define FUZZ_MAX_ERRORS		100	/* CONF_MAX_ERRORS in config.c */
#define FUZZ_MAX_FILES		4
#define FUZZ_SEPARATOR		"#@file\n"

static const char *fuzz_files[FUZZ_MAX_FILES] = {
	"fuzz.conf", "fuzz-2.conf", "fuzz-3.conf", "fuzz-4.conf"
};

/* Does an error message start with "NAME:" for one of the files? */
static int
fuzz_names_a_file(const char *msg)
{
	size_t	i, n;

	for (i = 0; i < FUZZ_MAX_FILES; i++) {
		n = strlen(fuzz_files[i]);
		if (strncmp(msg, fuzz_files[i], n) == 0 && msg[n] == ':')
			return (1);
	}
	return (0);
}

static void
fuzz_check_rate(const struct rate_conf *rc)
{
	FUZZ_CHECK(rc->rc_per_sec >= 0 && rc->rc_per_sec <= 1e9);
	FUZZ_CHECK(rc->rc_per_sec == 0 || rc->rc_burst >= 1);
}

/* What a config without errors promises the daemon about a service. */
static void
fuzz_check_clean_service(const struct service_conf *sc)
{
	const struct limits_conf	*lim = &sc->sc_limits;

	FUZZ_CHECK(sc->sc_module_name != NULL);
	FUZZ_CHECK(!TAILQ_EMPTY(&sc->sc_listens) || sc->sc_listen_seen);
	FUZZ_CHECK(sc->sc_max_input >= 1024 && sc->sc_max_input <= 1LL << 30);
	FUZZ_CHECK(sc->sc_max_output >= 1024 &&
	    sc->sc_max_output <= 1LL << 30);
	FUZZ_CHECK(sc->sc_workers == 1 || sc->sc_isolate);
	FUZZ_CHECK(lim->lim_prefix6 >= 1 && lim->lim_prefix6 <= 128);
	FUZZ_CHECK(lim->lim_max_conns >= 0 && lim->lim_per_source >= 0);
	FUZZ_CHECK(lim->lim_idle_ms >= 0 && lim->lim_session_ms >= 0);
	FUZZ_CHECK(lim->lim_banner == NULL || strlen(lim->lim_banner) <= 512);
	fuzz_check_rate(&lim->lim_rate);
	fuzz_check_rate(&lim->lim_src_rate);
}

/* Checks what config_finish leaves: errors counted and services sane. */
static void
fuzz_check_config(struct config *cf)
{
	struct conf_error	*ce;
	struct service_conf	*sc;
	struct listen_conf	*lc;
	struct conf_item	*ci;
	size_t			 i = 0;
	int			 n = 0;

	TAILQ_FOREACH(ce, &cf->c_errors, ce_entry) {
		FUZZ_CHECK(ce->ce_msg != NULL);
		FUZZ_CHECK(fuzz_names_a_file(ce->ce_msg));
		n++;
	}
	FUZZ_CHECK(cf->c_nerrors >= 0);
	FUZZ_CHECK(n == (cf->c_nerrors < FUZZ_MAX_ERRORS ? cf->c_nerrors :
	    FUZZ_MAX_ERRORS));

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		FUZZ_CHECK(sc->sc_name != NULL && sc->sc_file != NULL);
		FUZZ_CHECK(sc->sc_index == i++);
		FUZZ_CHECK(sc->sc_workers >= 1 && sc->sc_workers <= 256);
		FUZZ_CHECK(sc->sc_protocol == EVI_PROTO_TCP ||
		    sc->sc_protocol == EVI_PROTO_UDP);
		FUZZ_CHECK(sc->sc_module == NULL);
		TAILQ_FOREACH(lc, &sc->sc_listens, lc_entry) {
			FUZZ_CHECK(lc->lc_text != NULL);
			FUZZ_CHECK(lc->lc_fdname != NULL ||
			    lc->lc_addr.la_any ||
			    lc->lc_addr.la_su.sa.sa_family == AF_INET ||
			    lc->lc_addr.la_su.sa.sa_family == AF_INET6);
		}
		TAILQ_FOREACH(ci, &sc->sc_options, ci_entry) {
			FUZZ_CHECK(ci->ci_key != NULL && ci->ci_argc >= 1);
			FUZZ_CHECK(ci->ci_argv[ci->ci_argc] == NULL);
		}
		if (cf->c_nerrors == 0)
			fuzz_check_clean_service(sc);
	}
	FUZZ_CHECK(cf->c_nservices == i);
	FUZZ_CHECK(cf->c_nerrors > 0 || i > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cf;
	const char	*p = (const char *)data, *end = p + size, *sep;
	size_t		 seplen = strlen(FUZZ_SEPARATOR), len;
	int		 file = 0, before, rv;

	cf = config_new(fuzz_files[0], "/nonexistent/modules");
	cf->c_no_include = 1;
	for (;;) {
		sep = NULL;
		if (file < FUZZ_MAX_FILES - 1)
			sep = memmem(p, (size_t)(end - p), FUZZ_SEPARATOR,
			    seplen);
		/* Only at the start of a line, as a comment would be. */
		while (sep != NULL && sep != p && sep[-1] != '\n')
			sep = memmem(sep + 1, (size_t)(end - sep - 1),
			    FUZZ_SEPARATOR, seplen);
		len = (size_t)((sep != NULL ? sep : end) - p);
		before = cf->c_nerrors;
		rv = config_parse_buffer(cf, fuzz_files[file], p, len);
		FUZZ_CHECK(rv == (cf->c_nerrors == before ? 0 : -1));
		if (sep == NULL)
			break;
		p = sep + seplen;
		file++;
	}
	before = cf->c_nerrors;
	rv = config_finish(cf);
	FUZZ_CHECK(rv == (cf->c_nerrors == before ? 0 : -1));
	fuzz_check_config(cf);
	config_free(cf);
	return (0);
}
