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
 * Module options, the config layer's side.  A module's option table is
 * checked once it is loaded, so a bug in it (a name that a core key
 * would shadow, a choice with nothing to choose, bounds that admit no
 * value) is reported against the module, not later as a puzzling error
 * in the user's file.  Then the keys a service block gave that are not
 * core keys are matched to that table and converted by type.
 */

#include "config.h"

#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

/* Is word one of the space-separated words in list? */
static int
modopt_in_list(const char *word, const char *list)
{
	size_t		 len = strlen(word);
	const char	*p = list;

	/* "fast slow" would match two choices in a row. */
	if (strchr(word, ' ') != NULL)
		return (0);
	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, word, len) == 0 && (p[len] == ' ' ||
		    p[len] == '\0') && len > 0)
			return (1);
		p = strchr(p, ' ');
	}
	return (0);
}

/* What is wrong with one declared option, or NULL. */
static const char *
modopt_bad_option(const struct evi_option *o, const struct evi_option *first)
{
	const struct evi_option	*p;

	if (confkey_find(o->name, CK_SERVICE) != NULL)
		return ("has the name of a core key; the module must rename "
		    "it");
	for (p = first; p != o; p++) {
		if (strcmp(p->name, o->name) == 0)
			return ("is declared twice");
	}
	if (o->type == EVI_OPT_ENUM && (o->choices == NULL ||
	    o->choices[strspn(o->choices, " ")] == '\0'))
		return ("is a choice without choices; the module must list "
		    "them");
	if ((o->type == EVI_OPT_INT || o->type == EVI_OPT_DURATION ||
	    o->type == EVI_OPT_SIZE) && o->min > o->max)
		return ("has a minimum above its maximum, so no value fits");
	if (o->type == EVI_OPT_ADDRESS && (o->min < 0 ||
	    (o->max > 0 && o->min > o->max)))
		return ("has address counts no value can meet");
	return (NULL);
}

/*
 * Checks a module's option table as soon as the module is loaded: a bug
 * in it is the module's, and is reported naming the module and option.
 */
int
modopt_check_table(const char *path, const struct evi_module *def,
    char **cause)
{
	const struct evi_option	*o;
	const char		*why;

	for (o = def->options; o != NULL && o->name != NULL; o++) {
		/* A type is known from the minor that introduced it. */
		if ((unsigned int)o->type > EVI_OPT_ADDRESS ||
		    (o->type == EVI_OPT_ADDRESS && def->abi_minor < 1)) {
			xasprintf(cause, "module %s: option \"%s\" has an "
			    "unknown type %d", path, o->name, (int)o->type);
			return (-1);
		}
		if ((why = modopt_bad_option(o, def->options)) != NULL) {
			xasprintf(cause, "module %s: option \"%s\" %s", path,
			    o->name, why);
			return (-1);
		}
	}
	return (0);
}

static const char *
modopt_type_name(enum evi_option_type t)
{
	switch (t) {
	case EVI_OPT_STRING:
		return ("string");
	case EVI_OPT_INT:
		return ("integer");
	case EVI_OPT_BOOL:
		return ("boolean");
	case EVI_OPT_DURATION:
		return ("duration");
	case EVI_OPT_SIZE:
		return ("size");
	case EVI_OPT_ENUM:
		return ("choice");
	case EVI_OPT_PATH:
		return ("path");
	case EVI_OPT_ADDRESS:
		return ("address");
	}
	return ("?");
}

/*
 * Resolves an EVI_OPT_PATH value: a relative path is made relative to the
 * directory of the file that set it, so a config means the same thing
 * whatever the daemon's working directory is.  The only place that does.
 */
static int
modopt_path(const char *text, const char *file, struct optval *ov,
    char **cause)
{
	char	*copy, *path;

	if (*text == '\0') {
		xasprintf(cause, "empty path");
		return (-1);
	}
	if (trust_option_path(text, file, cause) != 0)
		return (-1);
	if (*text == '/' || file == NULL)
		path = xstrdup(text);
	else {
		copy = xstrdup(file);
		xasprintf(&path, "%s/%s", dirname(copy), text);
		free(copy);
	}
	free(ov->ov_str);
	ov->ov_str = path;
	ov->ov_set = 1;
	return (0);
}

/*
 * Parses an EVI_OPT_ADDRESS value: space-separated numeric ADDR:PORT
 * words, each as strict as a listen address, but a destination, so
 * neither "*" nor a bare port nor port 0; min and max bound the count.
 */
static int
modopt_address(const struct evi_option *o, const char *text,
    struct optval *ov, char **cause)
{
	struct listen_addr	 la;
	char			*copy, *word, *last;
	size_t			 n = 0, lo, hi;
	union sockunion		*addrs = NULL;

	lo = o->min > 0 ? (size_t)o->min : 1;
	hi = o->max > 0 ? (size_t)o->max : (o->min > 0 ? SIZE_MAX : 1);
	copy = xstrdup(text);
	for (word = strtok_r(copy, " \t", &last); word != NULL;
	    word = strtok_r(NULL, " \t", &last)) {
		memset(&la, 0, sizeof(la));
		la.la_any = strchr(word, ':') == NULL;	/* a bare port */
		if (!la.la_any && addr_parse_listen(word, &la, cause) != 0)
			goto fail;
		if (la.la_any || la.la_port == 0 ||
		    addr_unspecified(&la.la_su)) {
			xasprintf(cause, "\"%s\" is not a destination (expected "
			    "ADDR:PORT or [ADDR]:PORT, with neither 0.0.0.0 nor "
			    ":: nor port 0)", word);
			goto fail;
		}
		addrs = xreallocarray(addrs, n + 1, sizeof(*addrs));
		addrs[n++] = la.la_su;
	}
	if (n < lo || n > hi) {
		if (hi == 1)
			xasprintf(cause, "expected one address, not %zu", n);
		else if (hi == SIZE_MAX)
			xasprintf(cause, "expected at least %zu address%s, "
			    "not %zu", lo, lo == 1 ? "" : "es", n);
		else
			xasprintf(cause, "expected %zu to %zu addresses, not "
			    "%zu", lo, hi, n);
		goto fail;
	}
	free(copy);
	free(ov->ov_addrs);
	ov->ov_addrs = addrs;
	ov->ov_naddrs = n;
	return (0);
fail:
	free(copy);
	free(addrs);
	return (-1);
}

/* Converts one option value by its declared type. */
static int
modopt_convert(const struct evi_option *o, const char *text,
    const char *file, struct optval *ov, char **cause)
{
	int	b;

	switch (o->type) {
	case EVI_OPT_STRING:
		break;
	case EVI_OPT_PATH:
		return (modopt_path(text, file, ov, cause));
	case EVI_OPT_INT:
		if (value_int(text, o->min, o->max, &ov->ov_num, cause) != 0)
			return (-1);
		break;
	case EVI_OPT_BOOL:
		if (value_bool(text, &b, cause) != 0)
			return (-1);
		ov->ov_num = b;
		break;
	case EVI_OPT_DURATION:
		if (value_duration(text, o->min, o->max, &ov->ov_num,
		    cause) != 0)
			return (-1);
		break;
	case EVI_OPT_SIZE:
		if (value_size(text, o->min, o->max, &ov->ov_num, cause) != 0)
			return (-1);
		break;
	case EVI_OPT_ADDRESS:
		if (modopt_address(o, text, ov, cause) != 0)
			return (-1);
		break;
	case EVI_OPT_ENUM:
		if (o->choices == NULL || !modopt_in_list(text, o->choices)) {
			xasprintf(cause, "invalid value \"%s\" (expected one "
			    "of: %s)", text, o->choices ? o->choices : "");
			return (-1);
		}
		break;
	default:
		xasprintf(cause, "unknown option type %d", (int)o->type);
		return (-1);
	}
	free(ov->ov_str);
	ov->ov_str = xstrdup(text);
	ov->ov_set = 1;
	return (0);
}

/* Reports a key that is neither a core key nor an option of the module. */
static void
modopt_unknown(struct config *cf, struct service_conf *sc,
    const struct conf_item *ci)
{
	const struct evi_module	*def = sc->sc_module->m_def;
	size_t			 i;
	struct suggestion	 sg;
	char			*known;

	sg.sg_distance = SIZE_MAX;
	confkey_suggest(&sg, ci->ci_key, CK_SERVICE);
	for (i = 0; i < sc->sc_noptvals; i++)
		config_suggest(&sg, ci->ci_key, def->options[i].name,
		    strlen(def->options[i].name));
	if (sg.sg_distance != SIZE_MAX) {
		config_error(cf, ci->ci_file, ci->ci_line, "service \"%s\": "
		    "unknown key \"%s\"; did you mean \"%s\"?", sc->sc_name,
		    ci->ci_key, sg.sg_word);
		return;
	}
	known = confkey_list(CK_SERVICE);
	config_error(cf, ci->ci_file, ci->ci_line, "service \"%s\": unknown "
	    "key \"%s\" (not a core key: %s; and module \"%s\" has no such "
	    "option)", sc->sc_name, ci->ci_key, known, def->name);
	free(known);
}

/* An option that takes several words: they are converted as one text. */
static void
modopt_given_words(struct config *cf, struct service_conf *sc,
    const struct conf_item *ci, struct optval *ov)
{
	char	*text, *p, *cause;
	size_t	 len = 1, n;
	int	 i;

	for (i = 0; i < ci->ci_argc; i++)
		len += strlen(ci->ci_argv[i]) + 1;
	p = text = xcalloc(1, len);
	for (i = 0; i < ci->ci_argc; i++) {
		n = strlen(ci->ci_argv[i]);
		memcpy(p, ci->ci_argv[i], n);
		p += n;
		*p++ = ' ';
	}
	if (p > text)
		p[-1] = '\0';
	if (modopt_convert(ov->ov_opt, text, ci->ci_file, ov, &cause) != 0) {
		config_error(cf, ci->ci_file, ci->ci_line, "service \"%s\": "
		    "option \"%s\": %s", sc->sc_name, ov->ov_opt->name, cause);
		free(cause);
	}
	free(text);
}

/* Converts one option a service gave; lines[] says which were given. */
static void
modopt_given(struct config *cf, struct service_conf *sc,
    const struct conf_item *ci, int *lines)
{
	const struct evi_option	*o;
	size_t			 i;
	char			*cause;

	for (i = 0; i < sc->sc_noptvals; i++) {
		if (strcmp(sc->sc_optvals[i].ov_opt->name, ci->ci_key) == 0)
			break;
	}
	if (i == sc->sc_noptvals) {
		modopt_unknown(cf, sc, ci);
		return;
	}
	o = sc->sc_optvals[i].ov_opt;
	if (lines[i] != 0) {
		config_error(cf, ci->ci_file, ci->ci_line, "service \"%s\": "
		    "duplicate option \"%s\" (first set at line %d)",
		    sc->sc_name, o->name, lines[i]);
		return;
	}
	lines[i] = ci->ci_line;
	if (o->type == EVI_OPT_ADDRESS) {
		modopt_given_words(cf, sc, ci, &sc->sc_optvals[i]);
		return;
	}
	if (ci->ci_argc != 1) {
		config_error(cf, ci->ci_file, ci->ci_line, "service \"%s\": "
		    "option \"%s\" takes one %s value, not %d (quote a value "
		    "with spaces)", sc->sc_name, o->name,
		    modopt_type_name(o->type), ci->ci_argc);
		return;
	}
	if (modopt_convert(o, ci->ci_argv[0], ci->ci_file,
	    &sc->sc_optvals[i], &cause) != 0) {
		config_error(cf, ci->ci_file, ci->ci_line, "service \"%s\": "
		    "option \"%s\": %s", sc->sc_name, o->name, cause);
		free(cause);
	}
}

/* Fills in what the service did not give: a default, or an error. */
static void
modopt_defaults(struct config *cf, struct service_conf *sc, const int *lines)
{
	const char		*mod = sc->sc_module->m_def->name;
	const struct evi_option	*o;
	size_t			 i;
	char			*cause;

	for (i = 0; i < sc->sc_noptvals; i++) {
		o = sc->sc_optvals[i].ov_opt;
		if (lines[i] != 0)
			continue;
		if (o->flags & EVI_OPT_REQUIRED) {
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": module \"%s\" needs option "
			    "\"%s\" (%s)", sc->sc_name, mod, o->name,
			    o->help ? o->help : modopt_type_name(o->type));
			continue;
		}
		if (o->default_value != NULL && modopt_convert(o,
		    o->default_value, NULL, &sc->sc_optvals[i], &cause) != 0) {
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": module \"%s\" has a bad default "
			    "for option \"%s\": %s", sc->sc_name, mod, o->name,
			    cause);
			free(cause);
		}
	}
}

/* Copies the names and defaults of the module's options, for confdump. */
static void
modopt_decls(struct service_conf *sc, const struct evi_option *o, size_t n)
{
	size_t	i;

	modopt_decls_free(sc);
	sc->sc_noptdecls = n;
	sc->sc_optdecls = n ? xcalloc(n, sizeof(*sc->sc_optdecls)) : NULL;
	for (i = 0; i < n; i++) {
		sc->sc_optdecls[i].od_name = xstrdup(o[i].name);
		if (o[i].default_value != NULL)
			sc->sc_optdecls[i].od_default =
			    xstrdup(o[i].default_value);
	}
}

/*
 * Matches a service's raw options to its module's table, converting each
 * value and applying defaults; every mismatch is a FILE:LINE error.
 */
int
modopt_apply(struct config *cf, struct service_conf *sc)
{
	const struct evi_module	*def = sc->sc_module->m_def;
	const struct conf_item	*ci;
	size_t			 n = 0, i;
	int			 before = cf->c_nerrors;
	int			*lines;

	while (def->options != NULL && def->options[n].name != NULL)
		n++;
	sc->sc_noptvals = n;
	sc->sc_optvals = n ? xcalloc(n, sizeof(*sc->sc_optvals)) : NULL;
	lines = xcalloc(n + 1, sizeof(*lines));
	for (i = 0; i < n; i++)
		sc->sc_optvals[i].ov_opt = &def->options[i];
	modopt_decls(sc, def->options, n);
	TAILQ_FOREACH(ci, &sc->sc_options, ci_entry)
		modopt_given(cf, sc, ci, lines);
	modopt_defaults(cf, sc, lines);
	free(lines);
	return (cf->c_nerrors == before ? 0 : -1);
}

void
modopt_free(struct service_conf *sc)
{
	size_t	i;

	for (i = 0; i < sc->sc_noptvals; i++) {
		free(sc->sc_optvals[i].ov_str);
		free(sc->sc_optvals[i].ov_addrs);
	}
	free(sc->sc_optvals);
	sc->sc_optvals = NULL;
	sc->sc_noptvals = 0;
}

/* Frees the copy of the option table; the service's, not the module's. */
void
modopt_decls_free(struct service_conf *sc)
{
	size_t	i;

	for (i = 0; i < sc->sc_noptdecls; i++) {
		free(sc->sc_optdecls[i].od_name);
		free(sc->sc_optdecls[i].od_default);
	}
	free(sc->sc_optdecls);
	sc->sc_optdecls = NULL;
	sc->sc_noptdecls = 0;
}
