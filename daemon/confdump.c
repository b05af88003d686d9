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
 * The effective configuration as JSON, for the control socket's "config"
 * command: every core key of the table and every option of each service's
 * module, with its value as written and where it came from (FILE:LINE, or
 * "default").  It reads only what a config keeps after its modules are
 * unloaded, as the supervisor holds it: the values and lines recorded in
 * conf_where, the raw module options, and the copy of each module's
 * option table (struct optdecl).  A string that is not UTF-8 (a config
 * may hold any byte) is shown with "?" for each byte that is not ASCII.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evinetd.h"

/* Adds v to an object or an array; Jansson fails only out of memory. */
static void
confdump_set(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		fatalx("%s: out of memory", __func__);
}

static void
confdump_append(json_t *array, json_t *v)
{
	if (v == NULL || json_array_append_new(array, v) != 0)
		fatalx("%s: out of memory", __func__);
}

static json_t *
confdump_new(json_t *v)
{
	if (v == NULL)
		fatalx("%s: out of memory", __func__);
	return (v);
}

/* A JSON string of any text: JSON wants UTF-8, a config file need not. */
static json_t *
confdump_string(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if ((j = json_string(s)) != NULL)
		return (j);
	copy = xstrdup(s);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	j = confdump_new(json_string(copy));
	free(copy);
	return (j);
}

/* "FILE:LINE", as errors name a line. */
static json_t *
confdump_line(const char *file, int line)
{
	json_t	*j;
	char	*s;

	xasprintf(&s, "%s:%d", file, line);
	j = confdump_string(s);
	free(s);
	return (j);
}

static json_t *
confdump_values(char *const *argv, int argc)
{
	json_t	*a = confdump_new(json_array());
	int	 i;

	for (i = 0; i < argc; i++)
		confdump_append(a, confdump_string(argv[i]));
	return (a);
}

/* One entry: a value set at a line, or the default (NULL: none). */
static json_t *
confdump_entry(const char *key, char *const *argv, int argc,
    const char *file, int line, const char *def)
{
	json_t	*e = confdump_new(json_object()), *a;

	confdump_set(e, "key", confdump_string(key));
	if (line != 0) {
		confdump_set(e, "value", confdump_values(argv, argc));
		confdump_set(e, "from", confdump_line(file, line));
		return (e);
	}
	if (def != NULL) {
		a = confdump_new(json_array());
		confdump_append(a, confdump_string(def));
		confdump_set(e, "value", a);
	} else
		confdump_set(e, "value", json_null());
	confdump_set(e, "from", confdump_string("default"));
	return (e);
}

/*
 * One core key.  w is where it was set (in the service, or the global
 * line a service inherits), or NULL.  A repeatable key also lists every
 * line that set it, none when it has its default.
 */
static json_t *
confdump_key(const struct confkey *ck, const struct conf_where *w)
{
	json_t	*e, *lines;
	int	 i;

	if (w != NULL && w->cw_line == 0)
		w = NULL;
	e = confdump_entry(ck->ck_name, w ? w->cw_argv : NULL,
	    w ? w->cw_argc : 0, w ? w->cw_file : NULL, w ? w->cw_line : 0,
	    ck->ck_default);
	if (ck->ck_flags & CK_REPEAT) {
		lines = confdump_new(json_array());
		for (i = 0; w != NULL && i < w->cw_nlines; i++)
			confdump_append(lines, confdump_line(
			    w->cw_lines[i].cl_file, w->cw_lines[i].cl_line));
		confdump_set(e, "lines", lines);
	}
	return (e);
}

/* The core keys of the global section (sc NULL) or of a service. */
static json_t *
confdump_keys(const struct config *cf, const struct service_conf *sc)
{
	const struct conf_where	*w;
	json_t			*a = confdump_new(json_array());
	size_t			 i;

	for (i = 0; i < confkeys_count; i++) {
		if (sc == NULL) {
			if (confkeys[i].ck_scope == CK_GLOBAL)
				confdump_append(a, confdump_key(&confkeys[i],
				    &cf->c_set[i]));
			continue;
		}
		if (!(confkeys[i].ck_scope & CK_SERVICE))
			continue;
		w = &sc->sc_set[i];
		if (w->cw_line == 0 && confkeys[i].ck_scope == CK_INHERIT)
			w = &cf->c_set[i];
		confdump_append(a, confdump_key(&confkeys[i], w));
	}
	return (a);
}

/* The module's options in its table's order, set or defaulted. */
static json_t *
confdump_options(const struct service_conf *sc)
{
	const struct optdecl	*od;
	const struct conf_item	*ci;
	json_t			*a = confdump_new(json_array());
	size_t			 i;

	for (i = 0; i < sc->sc_noptdecls; i++) {
		od = &sc->sc_optdecls[i];
		TAILQ_FOREACH(ci, &sc->sc_options, ci_entry) {
			if (strcmp(ci->ci_key, od->od_name) == 0)
				break;
		}
		if (ci != NULL)
			confdump_append(a, confdump_entry(od->od_name,
			    ci->ci_argv, ci->ci_argc, ci->ci_file, ci->ci_line,
			    NULL));
		else
			confdump_append(a, confdump_entry(od->od_name, NULL, 0,
			    NULL, 0, od->od_default));
	}
	return (a);
}

static json_t *
confdump_service(const struct config *cf, const struct service_conf *sc)
{
	json_t	*s = confdump_new(json_object());

	confdump_set(s, "name", confdump_string(sc->sc_name));
	confdump_set(s, "from", confdump_line(sc->sc_file, sc->sc_line));
	confdump_set(s, "module", sc->sc_module_name != NULL ?
	    confdump_string(sc->sc_module_name) : json_null());
	confdump_set(s, "protocol", confdump_string(
	    sc->sc_protocol == EVI_PROTO_UDP ? "udp" : "tcp"));
	confdump_set(s, "keys", confdump_keys(cf, sc));
	confdump_set(s, "options", confdump_options(sc));
	return (s);
}

/*
 * The "config" result of the control protocol, but for its "generation",
 * which the caller adds: what each setting is and which line made it so,
 * so an operator can tell an inherited limit from a forgotten default.
 * A new reference: the caller json_decref()s it.
 */
json_t *
confdump(const struct config *cf)
{
	const struct service_conf	*sc;
	json_t				*root, *services;

	root = confdump_new(json_object());
	confdump_set(root, "file", confdump_string(cf->c_path));
	confdump_set(root, "global", confdump_keys(cf, NULL));
	services = confdump_new(json_array());
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry)
		confdump_append(services, confdump_service(cf, sc));
	confdump_set(root, "services", services);
	return (root);
}
