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
 * The config file: "key = value ..." lines, "service NAME { ... }" blocks,
 * "#" comments and "include = GLOB".  The parser never stops at the first
 * problem: every error is recorded as "FILE:LINE: message" so that a user
 * fixes a file in one pass.  Keys the core does not know inside a service
 * are kept raw; config_check() hands them to the module's option table.
 */

#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

#define CONF_MAX_ERRORS		100
#define CONF_MAX_TOKENS		256

enum tok_type { TOK_WORD, TOK_STRING, TOK_EQUALS, TOK_LBRACE, TOK_RBRACE };

struct token {
	enum tok_type	 type;
	char		*text;
};

struct parse_state {
	struct config		*ps_cf;
	const char		*ps_file;
	int			 ps_line;
	struct service_conf	*ps_svc;	/* open service block */
};

static const char *core_service_keys =
    "listen, module, protocol, max_input, max_output, reflection_guard, "
    "log_connections, only_from, no_access, max_connections, per_source, "
    "per_source_ipv6_prefix, rate, per_source_rate, idle_timeout, "
    "session_timeout, refuse_banner, isolate, workers, reuseport";

static const char *global_keys =
    "module_dir, include, user, group, workers, pidfile, core_dumps, "
    "shutdown_timeout, "
    "drain_timeout, max_connections, only_from, no_access, per_source, "
    "per_source_ipv6_prefix, rate, per_source_rate, idle_timeout, "
    "session_timeout, refuse_banner";

struct config *
config_new(const char *path, const char *module_dir)
{
	struct config	*cf;

	cf = xcalloc(1, sizeof(*cf));
	cf->c_path = xstrdup(path);
	cf->c_module_dir = xstrdup(module_dir);
	cf->c_shutdown_ms = DEFAULT_SHUTDOWN_MS;
	cf->c_drain_ms = DEFAULT_DRAIN_MS;
	cf->c_workers = 1;
	TAILQ_INIT(&cf->c_services);
	TAILQ_INIT(&cf->c_modules);
	TAILQ_INIT(&cf->c_files);
	TAILQ_INIT(&cf->c_errors);
	return (cf);
}

/* Keeps one copy of each file name, so items can point at it cheaply. */
static const char *
config_intern(struct config *cf, const char *name)
{
	struct conf_file	*f;

	TAILQ_FOREACH(f, &cf->c_files, cf_entry) {
		if (strcmp(f->cf_name, name) == 0)
			return (f->cf_name);
	}
	f = xcalloc(1, sizeof(*f));
	f->cf_name = xstrdup(name);
	TAILQ_INSERT_TAIL(&cf->c_files, f, cf_entry);
	return (f->cf_name);
}

/* Records "FILE:LINE: message"; parsing goes on regardless. */
void
config_error(struct config *cf, const char *file, int line, const char *fmt,
    ...)
{
	struct conf_error	*ce;
	char			*msg;
	va_list			 ap;

	cf->c_nerrors++;
	if (cf->c_nerrors > CONF_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	ce = xcalloc(1, sizeof(*ce));
	if (line > 0)
		xasprintf(&ce->ce_msg, "%s:%d: %s", file, line, msg);
	else
		xasprintf(&ce->ce_msg, "%s: %s", file, msg);
	free(msg);
	TAILQ_INSERT_TAIL(&cf->c_errors, ce, ce_entry);
}

void
config_log_errors(struct config *cf)
{
	struct conf_error	*ce;

	TAILQ_FOREACH(ce, &cf->c_errors, ce_entry)
		log_warnx("%s", ce->ce_msg);
	if (cf->c_nerrors > CONF_MAX_ERRORS)
		log_warnx("%s: %d more errors not shown", cf->c_path,
		    cf->c_nerrors - CONF_MAX_ERRORS);
}

static void
conf_item_free(struct conf_item *ci)
{
	int	i;

	for (i = 0; i < ci->ci_argc; i++)
		free(ci->ci_argv[i]);
	free(ci->ci_argv);
	free(ci->ci_key);
	free(ci);
}

static void
limits_conf_free(struct limits_conf *lim)
{
	acl_free(&lim->lim_only);
	acl_free(&lim->lim_deny);
	free(lim->lim_banner);
	lim->lim_banner = NULL;
}

static void
acl_copy(struct acl *dst, const struct acl *src)
{
	size_t	i;

	acl_free(dst);
	for (i = 0; i < src->acl_count; i++)
		acl_add(dst, &src->acl_entries[i]);
}

/* Fills what a service did not set from the global defaults. */
static void
limits_inherit(struct limits_conf *lim, const struct limits_conf *def)
{
	unsigned int	take = def->lim_set & ~lim->lim_set;

	if (take & LIM_ONLY_FROM)
		acl_copy(&lim->lim_only, &def->lim_only);
	if (take & LIM_NO_ACCESS)
		acl_copy(&lim->lim_deny, &def->lim_deny);
	if (take & LIM_MAX_CONNS)
		lim->lim_max_conns = def->lim_max_conns;
	if (take & LIM_PER_SOURCE)
		lim->lim_per_source = def->lim_per_source;
	if (take & LIM_PREFIX6)
		lim->lim_prefix6 = def->lim_prefix6;
	if (take & LIM_RATE)
		lim->lim_rate = def->lim_rate;
	if (take & LIM_SRC_RATE)
		lim->lim_src_rate = def->lim_src_rate;
	if (take & LIM_IDLE)
		lim->lim_idle_ms = def->lim_idle_ms;
	if (take & LIM_SESSION)
		lim->lim_session_ms = def->lim_session_ms;
	if ((take & LIM_BANNER) && def->lim_banner != NULL) {
		free(lim->lim_banner);
		lim->lim_banner = xstrdup(def->lim_banner);
	}
	lim->lim_set |= take;
}

static void
service_conf_free(struct service_conf *sc)
{
	struct listen_conf	*lc;
	struct conf_item	*ci;

	while ((lc = TAILQ_FIRST(&sc->sc_listens)) != NULL) {
		TAILQ_REMOVE(&sc->sc_listens, lc, lc_entry);
		free(lc->lc_text);
		free(lc);
	}
	while ((ci = TAILQ_FIRST(&sc->sc_options)) != NULL) {
		TAILQ_REMOVE(&sc->sc_options, ci, ci_entry);
		conf_item_free(ci);
	}
	module_optvals_free(sc);
	limits_conf_free(&sc->sc_limits);
	free(sc->sc_module_label);
	free(sc->sc_module_name);
	free(sc->sc_name);
	free(sc);
}

/* Frees the whole generation: services, modules, errors and file names. */
void
config_free(struct config *cf)
{
	struct service_conf	*sc;
	struct conf_error	*ce;
	struct conf_file	*f;
	struct module		*m;

	if (cf == NULL)
		return;
	listener_close_all(cf);
	while ((sc = TAILQ_LAST(&cf->c_services, service_confs)) != NULL) {
		TAILQ_REMOVE(&cf->c_services, sc, sc_entry);
		service_conf_free(sc);
	}
	/* Modules go last, in reverse order: nothing can call them now. */
	while ((m = TAILQ_LAST(&cf->c_modules, modules)) != NULL) {
		TAILQ_REMOVE(&cf->c_modules, m, m_entry);
		module_unload(m);
	}
	while ((ce = TAILQ_FIRST(&cf->c_errors)) != NULL) {
		TAILQ_REMOVE(&cf->c_errors, ce, ce_entry);
		free(ce->ce_msg);
		free(ce);
	}
	while ((f = TAILQ_FIRST(&cf->c_files)) != NULL) {
		TAILQ_REMOVE(&cf->c_files, f, cf_entry);
		free(f->cf_name);
		free(f);
	}
	limits_conf_free(&cf->c_defaults);
	free(cf->c_user);
	free(cf->c_group);
	free(cf->c_pidfile);
	free(cf->c_module_dir);
	free(cf->c_path);
	free(cf);
}

static int
is_word_char(int ch)
{
	return (ch != '\0' && !isspace(ch) && !iscntrl(ch) && ch != '#' &&
	    ch != '=' && ch != '{' && ch != '}' && ch != '"');
}

/*
 * Splits one line into tokens.  Returns the count, or -1 after recording
 * an error (an unterminated string, a control character, too many values).
 */
static int
config_tokenize(struct parse_state *ps, const char *line, struct token *toks)
{
	const char	*p = line, *start;
	char		*buf;
	size_t		 n;
	int		 ntok = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (ntok == CONF_MAX_TOKENS) {
			config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
			    "too many values on one line (at most %d)",
			    CONF_MAX_TOKENS);
			goto fail;
		}
		switch (*p) {
		case '=':
			toks[ntok].type = TOK_EQUALS;
			toks[ntok++].text = xstrdup("=");
			p++;
			continue;
		case '{':
			toks[ntok].type = TOK_LBRACE;
			toks[ntok++].text = xstrdup("{");
			p++;
			continue;
		case '}':
			toks[ntok].type = TOK_RBRACE;
			toks[ntok++].text = xstrdup("}");
			p++;
			continue;
		case '"':
			buf = xmalloc(strlen(p) + 1);
			n = 0;
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					free(buf);
					config_error(ps->ps_cf, ps->ps_file,
					    ps->ps_line,
					    "unterminated quoted string");
					goto fail;
				}
				if (*p == '\\' && p[1] != '\0') {
					p++;
					switch (*p) {
					case 'n':
						buf[n++] = '\n';
						break;
					case 't':
						buf[n++] = '\t';
						break;
					case 'r':
						buf[n++] = '\r';
						break;
					default:
						buf[n++] = *p;
						break;
					}
				} else
					buf[n++] = *p;
			}
			p++;
			buf[n] = '\0';
			toks[ntok].type = TOK_STRING;
			toks[ntok++].text = buf;
			continue;
		}
		if (iscntrl((unsigned char)*p)) {
			config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
			    "unexpected control character 0x%02x",
			    (unsigned char)*p);
			goto fail;
		}
		start = p;
		while (is_word_char((unsigned char)*p))
			p++;
		toks[ntok].type = TOK_WORD;
		toks[ntok++].text = xstrndup(start, (size_t)(p - start));
	}
	return (ntok);
fail:
	while (ntok > 0)
		free(toks[--ntok].text);
	return (-1);
}

static int
valid_service_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return (0);
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return (0);
	}
	return (1);
}

static struct service_conf *
config_find_service(struct config *cf, const char *name)
{
	struct service_conf	*sc;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (strcmp(sc->sc_name, name) == 0)
			return (sc);
	}
	return (NULL);
}

/* Opens a "service NAME {" block. */
static void
config_service_open(struct parse_state *ps, struct token *toks, int ntok)
{
	struct config		*cf = ps->ps_cf;
	struct service_conf	*sc, *old;

	if (ps->ps_svc != NULL) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "service blocks cannot nest (service \"%s\" is still "
		    "open)", ps->ps_svc->sc_name);
		return;
	}
	if (ntok != 3 || toks[2].type != TOK_LBRACE ||
	    (toks[1].type != TOK_WORD && toks[1].type != TOK_STRING)) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "expected \"service NAME {\"");
		return;
	}
	if (!valid_service_name(toks[1].text)) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "invalid service name \"%s\" (use letters, digits, "
		    "\"-\", \"_\" and \".\", at most 64)", toks[1].text);
	} else if ((old = config_find_service(cf, toks[1].text)) != NULL) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "duplicate service \"%s\" (first defined at %s:%d)",
		    toks[1].text, old->sc_file, old->sc_line);
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->sc_name = xstrdup(toks[1].text);
	sc->sc_file = ps->ps_file;
	sc->sc_line = ps->ps_line;
	sc->sc_protocol = EVI_PROTO_TCP;
	sc->sc_max_output = DEFAULT_MAX_OUTPUT;
	sc->sc_max_input = DEFAULT_MAX_INPUT;
	sc->sc_reflection_guard = 1;
	sc->sc_limits.lim_idle_ms = DEFAULT_IDLE_MS;
	sc->sc_limits.lim_prefix6 = DEFAULT_PREFIX6;
	TAILQ_INIT(&sc->sc_listens);
	TAILQ_INIT(&sc->sc_options);
	TAILQ_INIT(&sc->sc_listeners);
	TAILQ_INSERT_TAIL(&cf->c_services, sc, sc_entry);
	ps->ps_svc = sc;
}

/* Says so and returns 0 if a single-valued key has other than one value. */
static int
config_one_value(struct parse_state *ps, const char *key, int nvals)
{
	if (nvals != 1) {
		config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
		    "%s%s%s\"%s\" takes one value, not %d",
		    ps->ps_svc ? "service \"" : "",
		    ps->ps_svc ? ps->ps_svc->sc_name : "",
		    ps->ps_svc ? "\": " : "", key, nvals);
		return (0);
	}
	return (1);
}

static void
config_size_key(struct parse_state *ps, const char *key, const char *val,
    long long *out)
{
	char	*cause;

	if (value_size(val, 1024, 1LL << 30, out, &cause) != 0) {
		config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
		    "service \"%s\": %s: %s", ps->ps_svc->sc_name, key, cause);
		free(cause);
	}
}

/* A yes/no service key: one value, and the same error wording for all. */
static void
config_service_bool(struct parse_state *ps, const char *key, struct token *v,
    int nv, int *out)
{
	char	*cause;

	if (!config_one_value(ps, key, nv))
		return;
	if (value_bool(v[0].text, out, &cause) != 0) {
		config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
		    "service \"%s\": %s: %s", ps->ps_svc->sc_name, key, cause);
		free(cause);
	}
}

/* Reads "RATE [BURST]"; the burst defaults to one second's worth. */
static int
config_rate(struct parse_state *ps, const char *key, struct token *v, int nv,
    struct rate_conf *rc)
{
	long long	 burst;
	char		*cause;

	if (nv < 1 || nv > 2) {
		config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
		    "%s takes a rate and an optional burst, as "
		    "\"%s = 10/s 20\"", key, key);
		return (-1);
	}
	if (value_rate(v[0].text, &rc->rc_per_sec, &cause) != 0)
		goto bad;
	rc->rc_burst = rc->rc_per_sec < 1 ? 1 : (double)(long long)
	    (rc->rc_per_sec + 0.999);
	if (nv == 2) {
		if (value_int(v[1].text, 1, 1000000000LL, &burst,
		    &cause) != 0)
			goto bad;
		rc->rc_burst = (double)burst;
	}
	return (0);
bad:
	config_error(ps->ps_cf, ps->ps_file, ps->ps_line, "%s: %s", key,
	    cause);
	free(cause);
	return (-1);
}

/* Reads an only_from / no_access list, every entry checked. */
static void
config_acl(struct parse_state *ps, const char *key, struct token *v, int nv,
    struct acl *acl)
{
	struct acl_entry	 e;
	char			*cause;
	int			 i;

	acl_free(acl);
	for (i = 0; i < nv; i++) {
		if (acl_parse_entry(v[i].text, &e, &cause) != 0) {
			config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
			    "%s: %s", key, cause);
			free(cause);
			continue;
		}
		acl_add(acl, &e);
	}
}

/*
 * The keys of limits_conf, shared by service blocks and the global
 * defaults.  Returns 0 if key is not one of them.
 */
static int
config_limits_key(struct parse_state *ps, struct limits_conf *lim,
    const char *key, struct token *v, int nv)
{
	struct config	*cf = ps->ps_cf;
	unsigned int	 bit;
	long long	*num = NULL, min = 0, max = 0;
	int		 duration = 0;
	char		*cause;

	if (strcmp(key, "only_from") == 0) {
		config_acl(ps, key, v, nv, &lim->lim_only);
		bit = LIM_ONLY_FROM;
	} else if (strcmp(key, "no_access") == 0) {
		config_acl(ps, key, v, nv, &lim->lim_deny);
		bit = LIM_NO_ACCESS;
	} else if (strcmp(key, "rate") == 0) {
		config_rate(ps, key, v, nv, &lim->lim_rate);
		bit = LIM_RATE;
	} else if (strcmp(key, "per_source_rate") == 0) {
		config_rate(ps, key, v, nv, &lim->lim_src_rate);
		bit = LIM_SRC_RATE;
	} else if (strcmp(key, "refuse_banner") == 0) {
		if (!config_one_value(ps, key, nv))
			return (1);
		if (strlen(v[0].text) > 512 || strpbrk(v[0].text, "\r\n")) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "refuse_banner must be one line of at most 512 "
			    "characters");
			return (1);
		}
		free(lim->lim_banner);
		lim->lim_banner = xstrdup(v[0].text);
		bit = LIM_BANNER;
	} else {
		if (strcmp(key, "max_connections") == 0) {
			num = &lim->lim_max_conns;
			bit = LIM_MAX_CONNS;
			max = 10000000;
		} else if (strcmp(key, "per_source") == 0) {
			num = &lim->lim_per_source;
			bit = LIM_PER_SOURCE;
			max = 10000000;
		} else if (strcmp(key, "per_source_ipv6_prefix") == 0) {
			num = &lim->lim_prefix6;
			bit = LIM_PREFIX6;
			min = 1;
			max = 128;
		} else if (strcmp(key, "idle_timeout") == 0) {
			num = &lim->lim_idle_ms;
			bit = LIM_IDLE;
			duration = 1;
		} else if (strcmp(key, "session_timeout") == 0) {
			num = &lim->lim_session_ms;
			bit = LIM_SESSION;
			duration = 1;
		} else
			return (0);
		if (!config_one_value(ps, key, nv))
			return (1);
		if ((duration ? value_duration(v[0].text, 0,
		    30LL * 24 * 3600 * 1000, num, &cause) :
		    value_int(v[0].text, min, max, num, &cause)) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line, "%s: %s",
			    key, cause);
			free(cause);
		}
	}
	if (lim->lim_set & bit)
		config_error(cf, ps->ps_file, ps->ps_line,
		    "duplicate key \"%s\"", key);
	lim->lim_set |= bit;
	return (1);
}

/* Handles one "key = values" line inside a service block. */
static void
config_service_key(struct parse_state *ps, const char *key, struct token *v,
    int nv)
{
	struct config		*cf = ps->ps_cf;
	struct service_conf	*sc = ps->ps_svc;
	struct listen_conf	*lc;
	struct conf_item	*ci;
	char			*cause;
	int			 i;

	if (strcmp(key, "listen") == 0) {
		sc->sc_listen_seen = 1;
		for (i = 0; i < nv; i++) {
			lc = xcalloc(1, sizeof(*lc));
			lc->lc_text = xstrdup(v[i].text);
			lc->lc_file = ps->ps_file;
			lc->lc_line = ps->ps_line;
			if (addr_parse_listen(v[i].text, &lc->lc_addr,
			    &cause) != 0) {
				config_error(cf, ps->ps_file, ps->ps_line,
				    "service \"%s\": listen: %s", sc->sc_name,
				    cause);
				free(cause);
				free(lc->lc_text);
				free(lc);
				continue;
			}
			TAILQ_INSERT_TAIL(&sc->sc_listens, lc, lc_entry);
		}
	} else if (strcmp(key, "module") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (sc->sc_module_name != NULL) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "service \"%s\": duplicate key \"module\" (first "
			    "set at line %d)", sc->sc_name,
			    sc->sc_module_line);
			return;
		}
		sc->sc_module_name = xstrdup(v[0].text);
		sc->sc_module_line = ps->ps_line;
	} else if (strcmp(key, "protocol") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (strcmp(v[0].text, "tcp") == 0)
			sc->sc_protocol = EVI_PROTO_TCP;
		else if (strcmp(v[0].text, "udp") == 0)
			sc->sc_protocol = EVI_PROTO_UDP;
		else
			config_error(cf, ps->ps_file, ps->ps_line,
			    "service \"%s\": invalid protocol \"%s\" "
			    "(expected tcp or udp)", sc->sc_name, v[0].text);
	} else if (strcmp(key, "max_output") == 0) {
		if (config_one_value(ps, key, nv))
			config_size_key(ps, key, v[0].text,
			    &sc->sc_max_output);
	} else if (strcmp(key, "max_input") == 0) {
		if (config_one_value(ps, key, nv))
			config_size_key(ps, key, v[0].text,
			    &sc->sc_max_input);
	} else if (strcmp(key, "log_connections") == 0) {
		config_service_bool(ps, key, v, nv, &sc->sc_log_connections);
	} else if (config_limits_key(ps, &sc->sc_limits, key, v, nv)) {
		/* handled */
	} else if (strcmp(key, "isolate") == 0) {
		config_service_bool(ps, key, v, nv, &sc->sc_isolate);
	} else if (strcmp(key, "reuseport") == 0) {
		config_service_bool(ps, key, v, nv, &sc->sc_reuseport);
	} else if (strcmp(key, "workers") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (value_int(v[0].text, 1, 256, &sc->sc_workers,
		    &cause) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "service \"%s\": workers: %s", sc->sc_name, cause);
			free(cause);
		}
	} else if (strcmp(key, "reflection_guard") == 0) {
		config_service_bool(ps, key, v, nv, &sc->sc_reflection_guard);
	} else {
		/* Not ours: the module's option table decides later. */
		ci = xcalloc(1, sizeof(*ci));
		ci->ci_key = xstrdup(key);
		ci->ci_argc = nv;
		ci->ci_argv = xreallocarray(NULL, (size_t)nv + 1,
		    sizeof(char *));
		for (i = 0; i < nv; i++)
			ci->ci_argv[i] = xstrdup(v[i].text);
		ci->ci_argv[nv] = NULL;
		ci->ci_file = ps->ps_file;
		ci->ci_line = ps->ps_line;
		TAILQ_INSERT_TAIL(&sc->sc_options, ci, ci_entry);
	}
}

static int
has_glob_chars(const char *s)
{
	return (strpbrk(s, "*?[") != NULL);
}

/* What glob(3) could not read, for the include error; glob has no context. */
static char	*glob_errpath;
static int	 glob_errno;

static int
config_glob_error(const char *path, int error)
{
	if (glob_errpath == NULL) {
		glob_errpath = xstrdup(path);
		glob_errno = error;
	}
	return (1);
}

/* Has this load read the file already?  If not, it now has. */
static int
config_once(struct config *cf, const char *path, const struct stat *st)
{
	struct conf_file	*f;
	const char		*name;

	TAILQ_FOREACH(f, &cf->c_files, cf_entry) {
		if (f->cf_read && f->cf_dev == st->st_dev &&
		    f->cf_ino == st->st_ino)
			return (1);
	}
	name = config_intern(cf, path);
	TAILQ_FOREACH(f, &cf->c_files, cf_entry) {
		if (f->cf_name == name)
			break;
	}
	f->cf_read = 1;
	f->cf_dev = st->st_dev;
	f->cf_ino = st->st_ino;
	return (0);
}

/*
 * Reads and parses one file, opened by trust_open, so only a regular file
 * that passed the trust checks is read.  from is the include line that
 * names it, with its full pattern, or NULL for the main file: problems
 * opening it are reported there.  A file read already in this load is
 * skipped, so files that include each other are each read once.
 */
static int
config_read(struct config *cf, const char *path, struct parse_state *from,
    const char *pattern)
{
	struct stat	 st;
	FILE		*f = NULL;
	char		*buf = NULL, *cause = NULL;
	size_t		 len = 0, cap = 0, n;
	int		 fd, rv;

	if ((fd = trust_open(path, &cause)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1 || (f = fdopen(fd, "r")) == NULL) {
		xasprintf(&cause, "%s", strerror(errno));
		close(fd);
		goto fail;
	}
	if (config_once(cf, path, &st)) {
		fclose(f);
		return (0);
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		xasprintf(&cause, "read error: %s", strerror(errno));
		goto fail;
	}
	fclose(f);
	rv = config_parse_buffer(cf, path, buf, len);
	free(buf);
	if (rv != 0 && from != NULL && !has_glob_chars(pattern))
		config_error(cf, from->ps_file, from->ps_line,
		    "included from here");
	return (rv);
fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	if (from == NULL)
		config_error(cf, path, 0, "%s", cause);
	else if (strcmp(path, pattern) == 0)
		config_error(cf, from->ps_file, from->ps_line,
		    "include \"%s\": %s", pattern, cause);
	else
		config_error(cf, from->ps_file, from->ps_line,
		    "include \"%s\": %s: %s", pattern, path, cause);
	free(cause);
	return (-1);
}

/*
 * Reads one file an include matched: only *.conf, and from a glob only if
 * nobody but root may add files to its directory.
 */
static void
config_include_one(struct parse_state *ps, const char *full,
    const char *match)
{
	struct config	*cf = ps->ps_cf;
	char		*copy, *base, *cause;
	size_t		 len;
	int		 glob = has_glob_chars(full);

	copy = xstrdup(match);
	base = basename(copy);
	len = strlen(base);
	/* Only *.conf; skip dotfiles and editor leftovers. */
	if (base[0] == '.' || len <= 5 || strcmp(base + len - 5, ".conf")) {
		if (!glob)
			config_error(cf, ps->ps_file, ps->ps_line,
			    "include \"%s\": only files ending in .conf are "
			    "read", full);
		free(copy);
		return;
	}
	free(copy);
	copy = xstrdup(match);
	if (glob && trust_dir(dirname(copy), &cause) != 0) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "include \"%s\": %s: %s", full, match, cause);
		free(cause);
	} else {
		cf->c_depth++;
		config_read(cf, match, ps, full);
		cf->c_depth--;
	}
	free(copy);
}

/* Reads the files an include pattern names, in sorted order. */
static void
config_include(struct parse_state *ps, const char *pattern)
{
	struct config	*cf = ps->ps_cf;
	glob_t		 g;
	char		*dir, *full, *copy;
	size_t		 i;
	int		 rv;

	/* The fuzzer parses buffers only: an include must not read files. */
	if (cf->c_no_include) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "include \"%s\": includes are disabled", pattern);
		return;
	}
	if (pattern[0] == '/')
		full = xstrdup(pattern);
	else {
		copy = xstrdup(ps->ps_file);
		dir = dirname(copy);
		xasprintf(&full, "%s/%s", dir, pattern);
		free(copy);
	}
	if (cf->c_depth >= CONF_INCLUDE_DEPTH) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "include \"%s\": nested too deep (more than %d levels)",
		    full, CONF_INCLUDE_DEPTH);
		free(full);
		return;
	}
	memset(&g, 0, sizeof(g));
	rv = glob(full, GLOB_ERR, config_glob_error, &g);
	if (rv == GLOB_NOMATCH) {
		if (!has_glob_chars(full))
			config_error(cf, ps->ps_file, ps->ps_line,
			    "include \"%s\": No such file or directory", full);
	} else if (rv == GLOB_ABORTED && glob_errpath != NULL) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "include \"%s\": cannot read directory \"%s\": %s", full,
		    glob_errpath, strerror(glob_errno));
	} else if (rv != 0) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "include \"%s\": cannot read the directory", full);
	} else {
		for (i = 0; i < g.gl_pathc; i++)
			config_include_one(ps, full, g.gl_pathv[i]);
	}
	globfree(&g);
	free(glob_errpath);
	glob_errpath = NULL;
	free(full);
}

/* Handles one "key = values" line outside any service block. */
static void
config_global_key(struct parse_state *ps, const char *key, struct token *v,
    int nv)
{
	struct config	*cf = ps->ps_cf;
	char		*cause;
	struct suggestion sg;
	int		 i;

	if (strcmp(key, "module_dir") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (v[0].text[0] != '/') {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "module_dir \"%s\" must be an absolute path",
			    v[0].text);
			return;
		}
		if (!cf->c_module_dir_forced) {
			free(cf->c_module_dir);
			cf->c_module_dir = xstrdup(v[0].text);
		}
	} else if (strcmp(key, "include") == 0) {
		for (i = 0; i < nv; i++)
			config_include(ps, v[i].text);
	} else if (strcmp(key, "shutdown_timeout") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (value_duration(v[0].text, 0, 24LL * 3600 * 1000,
		    &cf->c_shutdown_ms, &cause) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "shutdown_timeout: %s", cause);
			free(cause);
		}
	} else if (strcmp(key, "user") == 0 || strcmp(key, "group") == 0 ||
	    strcmp(key, "pidfile") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (strcmp(key, "pidfile") == 0) {
			if (v[0].text[0] != '/') {
				config_error(cf, ps->ps_file, ps->ps_line,
				    "pidfile \"%s\" must be an absolute path",
				    v[0].text);
				return;
			}
			free(cf->c_pidfile);
			cf->c_pidfile = xstrdup(v[0].text);
		} else if (strcmp(key, "user") == 0) {
			free(cf->c_user);
			cf->c_user = xstrdup(v[0].text);
			cf->c_user_file = ps->ps_file;
			cf->c_user_line = ps->ps_line;
		} else {
			free(cf->c_group);
			cf->c_group = xstrdup(v[0].text);
		}
	} else if (strcmp(key, "workers") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (strcmp(v[0].text, "auto") == 0)
			cf->c_workers = 0;
		else if (value_int(v[0].text, 1, 256, &cf->c_workers,
		    &cause) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "workers: %s (or auto, one per CPU)", cause);
			free(cause);
		}
	} else if (strcmp(key, "core_dumps") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (value_bool(v[0].text, &cf->c_core_dumps, &cause) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "core_dumps: %s", cause);
			free(cause);
		}
	} else if (strcmp(key, "drain_timeout") == 0) {
		if (!config_one_value(ps, key, nv))
			return;
		if (value_duration(v[0].text, 0, 24LL * 3600 * 1000,
		    &cf->c_drain_ms, &cause) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "drain_timeout: %s", cause);
			free(cause);
		}
	} else if (strcmp(key, "max_connections") == 0) {
		/* Globally, the limit is on all services together. */
		if (!config_one_value(ps, key, nv))
			return;
		if (value_int(v[0].text, 0, 10000000, &cf->c_max_conns,
		    &cause) != 0) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "max_connections: %s", cause);
			free(cause);
		}
	} else if (config_limits_key(ps, &cf->c_defaults, key, v, nv)) {
		/* a default for every service */
	} else if (strcmp(key, "listen") == 0 || strcmp(key, "module") == 0 ||
	    strcmp(key, "protocol") == 0) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "\"%s\" belongs inside a service block", key);
	} else {
		sg.sg_distance = SIZE_MAX;
		config_suggest_list(&sg, key, global_keys);
		config_suggest_list(&sg, key, core_service_keys);
		if (sg.sg_distance != SIZE_MAX)
			config_error(cf, ps->ps_file, ps->ps_line,
			    "unknown global key \"%s\"; did you mean \"%s\"?",
			    key, sg.sg_word);
		else
			config_error(cf, ps->ps_file, ps->ps_line,
			    "unknown global key \"%s\" (known: %s)", key,
			    global_keys);
	}
}

/* Interprets one tokenized line. */
static void
config_statement(struct parse_state *ps, struct token *toks, int ntok)
{
	struct config	*cf = ps->ps_cf;
	int		 i;

	if (toks[0].type == TOK_RBRACE) {
		if (ntok != 1)
			config_error(cf, ps->ps_file, ps->ps_line,
			    "unexpected text after \"}\"");
		if (ps->ps_svc == NULL)
			config_error(cf, ps->ps_file, ps->ps_line,
			    "\"}\" without an open service block");
		ps->ps_svc = NULL;
		return;
	}
	if (toks[0].type == TOK_WORD && strcmp(toks[0].text, "service") == 0 &&
	    (ntok < 2 || toks[1].type != TOK_EQUALS)) {
		config_service_open(ps, toks, ntok);
		return;
	}
	if (toks[0].type != TOK_WORD) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "expected a key, found \"%s\"", toks[0].text);
		return;
	}
	if (ntok < 2 || toks[1].type != TOK_EQUALS) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "expected \"%s = VALUE\"", toks[0].text);
		return;
	}
	if (ntok == 2) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "missing value for \"%s\"", toks[0].text);
		return;
	}
	for (i = 2; i < ntok; i++) {
		if (toks[i].type != TOK_WORD && toks[i].type != TOK_STRING) {
			config_error(cf, ps->ps_file, ps->ps_line,
			    "unexpected \"%s\" in the value of \"%s\" (quote "
			    "it if it is meant)", toks[i].text, toks[0].text);
			return;
		}
	}
	if (ps->ps_svc != NULL)
		config_service_key(ps, toks[0].text, toks + 2, ntok - 2);
	else
		config_global_key(ps, toks[0].text, toks + 2, ntok - 2);
}

/* Parses a whole buffer; name is what errors call it. */
int
config_parse_buffer(struct config *cf, const char *name, const char *buf,
    size_t len)
{
	struct parse_state	 ps;
	struct token		*toks;
	const char		*p = buf, *end = buf + len, *nl;
	char			*line;
	int			 ntok, i, before = cf->c_nerrors;

	memset(&ps, 0, sizeof(ps));
	ps.ps_cf = cf;
	ps.ps_file = config_intern(cf, name);
	toks = xcalloc(CONF_MAX_TOKENS, sizeof(*toks));
	while (p < end) {
		ps.ps_line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		line = xstrndup(p, (size_t)(nl - p));
		if (strlen(line) != (size_t)(nl - p))
			config_error(cf, ps.ps_file, ps.ps_line,
			    "unexpected NUL byte");
		else if ((ntok = config_tokenize(&ps, line, toks)) > 0) {
			config_statement(&ps, toks, ntok);
			for (i = 0; i < ntok; i++)
				free(toks[i].text);
		}
		free(line);
		p = nl + 1;
	}
	if (ps.ps_svc != NULL)
		config_error(cf, ps.ps_file, ps.ps_svc->sc_line,
		    "service \"%s\" is not closed with \"}\"",
		    ps.ps_svc->sc_name);
	free(toks);
	return (cf->c_nerrors == before ? 0 : -1);
}

/* Reads and parses the main file; an unreadable file is an error like any. */
int
config_parse_file(struct config *cf, const char *path)
{
	return (config_read(cf, path, NULL, NULL));
}

/* How many worker processes serve a service: its group's size. */
size_t
config_procs(const struct config *cf, const struct service_conf *sc)
{
	return (sc->sc_isolate ? (size_t)sc->sc_workers : cf->c_nshared);
}

/* Checks what only the whole file can tell: required keys of services. */
int
config_finish(struct config *cf)
{
	struct service_conf	*sc;
	int			 before = cf->c_nerrors;
	long			 ncpu;

	/* Resolved once: the sockets bound and the processes must agree. */
	cf->c_nshared = (size_t)cf->c_workers;
	if (cf->c_workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cf->c_nshared = ncpu > 0 ? (size_t)ncpu : 1;
	}
	cf->c_nservices = 0;
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		sc->sc_index = cf->c_nservices++;
		limits_inherit(&sc->sc_limits, &cf->c_defaults);
		if (sc->sc_workers != 0 && !sc->sc_isolate)
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": \"workers\" needs \"isolate = "
			    "yes\" (the shared workers are set globally)",
			    sc->sc_name);
		if (sc->sc_workers == 0)
			sc->sc_workers = 1;
		if (sc->sc_module_name == NULL)
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": missing \"module = NAME\"",
			    sc->sc_name);
		if (TAILQ_EMPTY(&sc->sc_listens) && !sc->sc_listen_seen)
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": missing \"listen = ADDRESS\"",
			    sc->sc_name);
	}
	if (TAILQ_EMPTY(&cf->c_services) && cf->c_nerrors == 0)
		config_error(cf, cf->c_path, 0, "no services defined");
	priv_check(cf);
	return (cf->c_nerrors == before ? 0 : -1);
}

/*
 * Loads the module of each service that a worker serves (all of them when
 * group is NULL and single is set) and checks its options against the
 * module's table.  Workers call this after fork, so each process maps the
 * module files as they are on disk when it starts.
 */
int
config_load_modules(struct config *cf, const struct service_conf *group,
    int single)
{
	struct service_conf	*sc;
	struct module		*m;
	char			*path, *cause;
	int			 before = cf->c_nerrors;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (sc->sc_module_name == NULL ||
		    !worker_serves(sc, group, single))
			continue;
		path = module_path(cf->c_module_dir, sc->sc_module_name,
		    &cause);
		if (path == NULL) {
			config_error(cf, sc->sc_file, sc->sc_module_line,
			    "service \"%s\": module: %s", sc->sc_name, cause);
			free(cause);
			continue;
		}
		TAILQ_FOREACH(m, &cf->c_modules, m_entry) {
			if (strcmp(m->m_path, path) == 0)
				break;
		}
		if (m == NULL) {
			if ((m = module_load(path, &cause)) == NULL) {
				config_error(cf, sc->sc_file,
				    sc->sc_module_line, "service \"%s\": %s",
				    sc->sc_name, cause);
				free(cause);
				free(path);
				continue;
			}
			TAILQ_INSERT_TAIL(&cf->c_modules, m, m_entry);
		}
		free(path);
		sc->sc_module = m;
		free(sc->sc_module_label);
		sc->sc_module_label = xstrdup(m->m_def->name);
		if ((m->m_def->protocols & sc->sc_protocol) == 0) {
			config_error(cf, sc->sc_file, sc->sc_module_line,
			    "service \"%s\": module \"%s\" does not serve "
			    "%s", sc->sc_name, m->m_def->name,
			    sc->sc_protocol == EVI_PROTO_UDP ? "udp" : "tcp");
			continue;
		}
		sc->sc_options_ok = module_options(cf, sc) == 0;
	}
	return (cf->c_nerrors == before ? 0 : -1);
}

/*
 * Loads every module, checks options, and runs a trial init/fini of each
 * service, so "-n" (and a reload, before it commits) catches all of that
 * before the daemon binds or serves anything.
 */
int
config_check(struct config *cf)
{
	struct service_conf	*sc;
	char			*cause;
	int			 before = cf->c_nerrors;

	config_load_modules(cf, NULL, 1);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (sc->sc_module == NULL || !sc->sc_options_ok)
			continue;
		if (service_check_init(sc, &cause) != 0) {
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": module \"%s\" refused the "
			    "service: %s", sc->sc_name,
			    sc->sc_module->m_def->name, cause);
			free(cause);
		}
	}
	return (cf->c_nerrors == before ? 0 : -1);
}

/*
 * Unmaps every module of a checked config.  The supervisor does this after
 * checking, so that workers (and the next reload) map the files afresh: a
 * dlopen of a path still open returns the old code, however the file on
 * disk changed.
 */
void
config_unload_modules(struct config *cf)
{
	struct service_conf	*sc;
	struct module		*m;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		module_optvals_free(sc);
		sc->sc_module = NULL;
		sc->sc_options_ok = 0;
	}
	while ((m = TAILQ_LAST(&cf->c_modules, modules)) != NULL) {
		TAILQ_REMOVE(&cf->c_modules, m, m_entry);
		module_unload(m);
	}
}

/* Parses, completes and checks a config file in one go, as main needs. */
struct config *
config_load(const char *path, const char *module_dir, int forced)
{
	struct config	*cf;

	cf = config_new(path, module_dir);
	cf->c_module_dir_forced = forced;
	config_parse_file(cf, path);
	config_finish(cf);
	config_check(cf);
	return (cf);
}

const char *
config_core_keys(void)
{
	return (core_service_keys);
}

/* Single-character edits between a and b (insert, delete, replace). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, prev, cur, t;
	size_t	 row[65];

	if (la > 64 || lb > 64)
		return (SIZE_MAX);
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			t = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < t)
				t = row[j] + 1;
			if (row[j - 1] + 1 < t)
				t = row[j - 1] + 1;
			row[j] = t;
			prev = cur;
		}
	}
	return (row[lb]);
}

/*
 * Offers candidate as the suggestion for a mistyped word if it is closer
 * than the best so far and close enough to be a typo.
 */
void
config_suggest(struct suggestion *sg, const char *word, const char *candidate,
    size_t len)
{
	char	buf[65];
	size_t	d;

	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, candidate, len);
	buf[len] = '\0';
	d = edit_distance(word, buf);
	if (d == 0 || d > 2 || d * 3 > strlen(word) || d >= sg->sg_distance)
		return;
	sg->sg_distance = d;
	memcpy(sg->sg_word, buf, len + 1);
}

/* Offers every word of a ", "-separated list. */
void
config_suggest_list(struct suggestion *sg, const char *word, const char *list)
{
	const char	*p = list, *e;

	while (*p != '\0') {
		e = strchr(p, ',');
		config_suggest(sg, word, p, e ? (size_t)(e - p) : strlen(p));
		if (e == NULL)
			break;
		p = e + 1;
		while (*p == ' ')
			p++;
	}
}
