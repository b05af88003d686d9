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
 * fixes a file in one pass.  What each core key means is in the table of
 * confkeys.c.  Keys the core does not know inside a service are kept raw;
 * config_check() hands them to the module's option table (modopt.c).
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

struct config *
config_new(const char *path, const char *module_dir)
{
	struct config	*cf;

	cf = xcalloc(1, sizeof(*cf));
	cf->c_path = xstrdup(path);
	cf->c_module_dir = xstrdup(module_dir);
	cf->c_set = xcalloc(confkeys_count, sizeof(*cf->c_set));
	TAILQ_INIT(&cf->c_services);
	TAILQ_INIT(&cf->c_modules);
	TAILQ_INIT(&cf->c_files);
	TAILQ_INIT(&cf->c_errors);
	confkey_defaults(cf, NULL);
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
	acl_free(&lim->lim_proxy_from);
	free(lim->lim_banner);
	lim->lim_banner = NULL;
	tlsconf_free(&lim->lim_tls);
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
	modopt_free(sc);
	modopt_decls_free(sc);
	execconf_free(&sc->sc_exec);
	confkey_where_free(sc->sc_set);
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
	tlsconf_tickets_free(cf->c_tls_tickets);
	confkey_where_free(cf->c_set);
	free(cf->c_user);
	free(cf->c_group);
	free(cf->c_pidfile);
	free(cf->c_control);
	free(cf->c_control_group);
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

/* Reads the quoted string at *pp into t, decoding \n, \t, \r and \X. */
static int
config_tok_string(struct parse_state *ps, const char **pp,
    struct conf_token *t)
{
	const char	*p = *pp;
	char		*buf;
	size_t		 n = 0;

	buf = xmalloc(strlen(p) + 1);
	for (p++; *p != '"'; p++) {
		if (*p == '\0') {
			free(buf);
			config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
			    "unterminated quoted string");
			return (-1);
		}
		if (*p == '\\' && p[1] != '\0') {
			p++;
			if (*p == 'n')
				buf[n++] = '\n';
			else if (*p == 't')
				buf[n++] = '\t';
			else if (*p == 'r')
				buf[n++] = '\r';
			else
				buf[n++] = *p;
		} else
			buf[n++] = *p;
	}
	buf[n] = '\0';
	t->type = TOK_STRING;
	t->text = buf;
	*pp = p + 1;
	return (0);
}

/* The token of a one-character punctuation mark, or -1. */
static int
config_tok_punct(int ch)
{
	switch (ch) {
	case '=':
		return (TOK_EQUALS);
	case '{':
		return (TOK_LBRACE);
	case '}':
		return (TOK_RBRACE);
	}
	return (-1);
}

/*
 * Splits one line into tokens.  Returns the count, or -1 after recording
 * an error (an unterminated string, a control character, too many values).
 */
static int
config_tokenize(struct parse_state *ps, const char *line,
    struct conf_token *toks)
{
	const char	*p = line, *start;
	int		 ntok = 0, punct;

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
		if ((punct = config_tok_punct(*p)) != -1) {
			toks[ntok].type = punct;
			toks[ntok++].text = xstrndup(p++, 1);
			continue;
		}
		if (*p == '"') {
			if (config_tok_string(ps, &p, &toks[ntok]) != 0)
				goto fail;
			ntok++;
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
config_service_open(struct parse_state *ps, struct conf_token *toks,
    int ntok)
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
	sc->sc_set = xcalloc(confkeys_count, sizeof(*sc->sc_set));
	TAILQ_INIT(&sc->sc_listens);
	TAILQ_INIT(&sc->sc_options);
	TAILQ_INIT(&sc->sc_listeners);
	confkey_defaults(cf, sc);
	TAILQ_INSERT_TAIL(&cf->c_services, sc, sc_entry);
	ps->ps_svc = sc;
}

/* Keeps a key of a service that is not a core key, for its module. */
static void
config_module_item(struct parse_state *ps, const char *key,
    struct conf_token *v, int nv)
{
	struct conf_item	*ci;
	int			 i;

	ci = xcalloc(1, sizeof(*ci));
	ci->ci_key = xstrdup(key);
	ci->ci_argc = nv;
	ci->ci_argv = xreallocarray(NULL, (size_t)nv + 1, sizeof(char *));
	for (i = 0; i < nv; i++)
		ci->ci_argv[i] = xstrdup(v[i].text);
	ci->ci_argv[nv] = NULL;
	ci->ci_file = ps->ps_file;
	ci->ci_line = ps->ps_line;
	TAILQ_INSERT_TAIL(&ps->ps_svc->sc_options, ci, ci_entry);
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
	if (rv != 0 && from != NULL && pattern != NULL &&
	    !has_glob_chars(pattern))
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
	if (base[0] == '.' || len <= 5 || strcmp(base + len - 5, ".conf") != 0) {
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

/* The "include" row of the table: each pattern read in turn. */
int
config_key_include(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	int	i;

	(void)ck;
	(void)field;
	for (i = 0; i < nv; i++)
		config_include(ps, v[i].text);
	return (0);
}

/*
 * Handles one "key = values" line: a core key, a module option inside a
 * service block, or an error outside one.
 */
static void
config_key(struct parse_state *ps, const char *key, struct conf_token *v,
    int nv)
{
	struct config		*cf = ps->ps_cf;
	struct suggestion	 sg;
	char			*known;

	if (confkey_apply(ps, key, v, nv))
		return;
	if (ps->ps_svc != NULL) {
		/* Not ours: the module's option table decides later. */
		config_module_item(ps, key, v, nv);
		return;
	}
	if (confkey_find(key, CK_SERVICE) != NULL) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "\"%s\" belongs inside a service block", key);
		return;
	}
	sg.sg_distance = SIZE_MAX;
	confkey_suggest(&sg, key, CK_GLOBAL | CK_SERVICE);
	if (sg.sg_distance != SIZE_MAX) {
		config_error(cf, ps->ps_file, ps->ps_line,
		    "unknown global key \"%s\"; did you mean \"%s\"?", key,
		    sg.sg_word);
		return;
	}
	known = confkey_list(CK_GLOBAL);
	config_error(cf, ps->ps_file, ps->ps_line,
	    "unknown global key \"%s\" (known: %s)", key, known);
	free(known);
}

/* Interprets one tokenized line. */
static void
config_statement(struct parse_state *ps, struct conf_token *toks, int ntok)
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
	config_key(ps, toks[0].text, toks + 2, ntok - 2);
}

/* Parses a whole buffer; name is what errors call it. */
int
config_parse_buffer(struct config *cf, const char *name, const char *buf,
    size_t len)
{
	struct parse_state	 ps;
	struct conf_token	*toks;
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
/*
 * A service that reads PROXY headers must say whose it believes: without
 * proxy_from, any client could claim any address.  The error points at
 * the proxy_protocol line, the service's or the global one it inherits.
 */
static void
config_check_proxy(struct config *cf, struct service_conf *sc)
{
	size_t			 i;
	const struct conf_where	*w;

	if (sc->sc_limits.lim_proxy == 0)
		return;
	i = (size_t)(confkey_find("proxy_protocol", CK_SERVICE) - confkeys);
	w = sc->sc_set[i].cw_line != 0 ? &sc->sc_set[i] : &cf->c_set[i];
	if (sc->sc_protocol == EVI_PROTO_UDP)
		config_error(cf, w->cw_file, w->cw_line, "service \"%s\": "
		    "proxy_protocol is for tcp services", sc->sc_name);
	else if (sc->sc_limits.lim_proxy_from.acl_count == 0)
		config_error(cf, w->cw_file, w->cw_line, "service \"%s\": "
		    "proxy_protocol needs \"proxy_from = ADDR/PREFIX ...\", "
		    "the load balancers trusted to send the header",
		    sc->sc_name);
}

/*
 * per_source and per_source_rate are counted in each worker, so with more
 * than one worker they are exact only if every connection of a source
 * reaches the same worker: such a service gets a socket per worker
 * steered by source address (listener.c).  A PROXY header names the
 * client only after the kernel has picked the socket, so a proxied
 * service keeps the per-worker counts.
 */
static void
config_check_steer(struct config *cf, struct service_conf *sc)
{
	const struct conf_where	*w;
	size_t			 i;

	if (sc->sc_limits.lim_proxy != 0 || config_procs(cf, sc) < 2 ||
	    (sc->sc_limits.lim_per_source == 0 &&
	    sc->sc_limits.lim_src_rate.rc_per_sec == 0))
		return;
	i = (size_t)(confkey_find("reuseport", CK_SERVICE) - confkeys);
	w = &sc->sc_set[i];
	if (w->cw_line != 0 && !sc->sc_reuseport) {
		config_error(cf, w->cw_file, w->cw_line, "service \"%s\": "
		    "per_source and per_source_rate need a socket per worker "
		    "to hold across %zu workers; remove \"reuseport = no\"",
		    sc->sc_name, config_procs(cf, sc));
		return;
	}
	sc->sc_reuseport = 1;
	sc->sc_steer = 1;
}

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
		confkey_inherit(cf, sc);
		if (sc->sc_workers != 0 && !sc->sc_isolate)
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": \"workers\" needs \"isolate = "
			    "yes\" (the shared workers are set globally)",
			    sc->sc_name);
		if (sc->sc_workers == 0)
			sc->sc_workers = 1;
		config_check_proxy(cf, sc);
		config_check_steer(cf, sc);
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
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		execconf_check(cf, sc);
		tlsconf_check(cf, sc);
	}
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
			if ((m = module_load(path, &cause)) == NULL ||
			    modopt_check_table(path, m->m_def, &cause) != 0) {
				config_error(cf, sc->sc_file,
				    sc->sc_module_line, "service \"%s\": %s",
				    sc->sc_name, cause);
				free(cause);
				free(path);
				if (m != NULL)
					module_unload(m);
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
		sc->sc_options_ok = modopt_apply(cf, sc) == 0;
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
			    "service \"%s\": %s", sc->sc_name, cause);
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
		modopt_free(sc);
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

/*
 * What startup and every reload run: the whole config with its modules,
 * the sockets it takes from systemd, then whether its user and group can
 * be served as.  Every error is
 * logged; the caller looks at c_nerrors and frees the config.
 */
struct config *
config_load_checked(const char *path, const char *module_dir, int forced)
{
	struct config	*cf;
	char		*cause;

	cf = config_load(path, module_dir, forced);
	sockact_check(cf);
	if (cf->c_nerrors == 0 && priv_startup_check(cf, &cause) != 0) {
		config_error(cf, cf->c_path, 0, "%s", cause);
		free(cause);
	}
	if (cf->c_nerrors > 0)
		config_log_errors(cf);
	return (cf);
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
