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
 * Maps one xinetd service, merged with the defaults, to evinetd's keys.
 * Where the meaning would change for the worse (an access list entry that
 * is a host name, a bind to a name, an RPC service), the service is
 * written as a comment rather than run with less protection.
 */

#include "config.h"

#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert.h"
#include "xinetd.h"

/* An attribute's value after the defaults and the operators. */
struct xval {
	struct cv_words	 v;
	const char	*file;
	int		 line;
	int		 set;
};

struct xmap {
	struct csvc	*s;
	struct xblock	*b;
	struct xblock	*d;
	int		 internal;
	int		 nameinargs;
};

/* The attributes this file maps; any other is reported as not carried. */
static const char	*xmap_known[] = {
	"id", "type", "flags", "disable", "socket_type", "protocol", "wait",
	"user", "group", "groups", "instances", "nice", "server",
	"server_args", "only_from", "no_access", "log_on_success",
	"log_on_failure", "env", "passenv", "port", "redirect", "bind",
	"interface", "per_source", "cps", "umask", "rlimit_as",
	"rlimit_files", "rlimit_cpu", "rlimit_data", "rlimit_stack",
	"v6only", "disabled", "enabled"
};

static void
xval_remove(struct cv_words *wl, const char *word)
{
	size_t	 i;

	for (i = 0; i < wl->n; i++) {
		if (strcmp(wl->w[i], word) != 0)
			continue;
		free(wl->w[i]);
		memmove(wl->w + i, wl->w + i + 1, (wl->n - i) * sizeof(char *));
		wl->n--;
		i--;
	}
}

/* Applies a block's lines for NAME; "=" replaces what came before once. */
static void
xval_apply(struct xval *xv, struct xblock *b, const char *name, int reset)
{
	struct xattr	*a;
	size_t		 i;

	if (b == NULL)
		return;
	TAILQ_FOREACH(a, &b->attrs, entry) {
		if (strcmp(a->name, name) != 0)
			continue;
		if (a->op == '=' && reset) {
			cv_words_free(&xv->v);
			reset = 0;
		}
		for (i = 0; i < a->v.n; i++) {
			if (a->op == '-')
				xval_remove(&xv->v, a->v.w[i]);
			else
				cv_words_add(&xv->v, a->v.w[i]);
		}
		xv->file = a->file;
		xv->line = a->line;
		xv->set = 1;
	}
}

/* The merged value of NAME: the defaults' lines, then the service's. */
static int
xval_get(struct xmap *xm, const char *name, struct xval *xv)
{
	memset(xv, 0, sizeof(*xv));
	xval_apply(xv, xm->d, name, 0);
	xval_apply(xv, xm->b, name, 1);
	if (!xv->set) {
		xv->file = xm->b->file;
		xv->line = xm->b->line;
	}
	return (xv->set);
}

/* The single word of NAME, or NULL; FILE and LINE say where it was set. */
static char *
xval_word(struct xmap *xm, const char *name, const char **file, int *line)
{
	struct xval	 xv;
	char		*w = NULL;

	if (xval_get(xm, name, &xv) && xv.v.n > 0)
		w = cv_xstrdup(xv.v.w[0]);
	if (file != NULL) {
		*file = xv.file;
		*line = xv.line;
	}
	cv_words_free(&xv.v);
	return (w);
}

static int
xval_has(const struct xval *xv, const char *word)
{
	size_t	 i;

	for (i = 0; i < xv->v.n; i++) {
		if (strcasecmp(xv->v.w[i], word) == 0)
			return (1);
	}
	return (0);
}

/* type = INTERNAL, RPC, TCPMUX, UNLISTED; -1 if the service cannot run. */
static int
xmap_type(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	int		 rv = 0;

	xval_get(xm, "type", &xv);
	if (xval_has(&xv, "RPC")) {
		cv_off(s, xv.file, xv.line, "RPC services are not supported");
		rv = -1;
	} else if (xval_has(&xv, "TCPMUX") || xval_has(&xv, "TCPMUXPLUS")) {
		cv_off(s, xv.file, xv.line, "TCPMUX services are not "
		    "supported");
		rv = -1;
	} else if (xval_has(&xv, "INTERNAL")) {
		xm->internal = 1;
		if (cv_internal(s, xm->b->name) == -1) {
			cv_off(s, xv.file, xv.line, "xinetd's internal service "
			    "\"%s\" has no equivalent module", xm->b->name);
			rv = -1;
		}
	}
	cv_words_free(&xv.v);
	return (rv);
}

/* flags: the address family, NAMEINARGS, and what has no equivalent. */
static int
xmap_flags(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	char		*v6only;
	size_t		 i;
	int		 v4 = 0, v6 = 0;

	xval_get(xm, "flags", &xv);
	for (i = 0; i < xv.v.n; i++) {
		if (strcasecmp(xv.v.w[i], "IPv4") == 0)
			v4 = 1;
		else if (strcasecmp(xv.v.w[i], "IPv6") == 0)
			v6 = 1;
		else if (strcmp(xv.v.w[i], "NAMEINARGS") == 0)
			xm->nameinargs = 1;
		else if (strcmp(xv.v.w[i], "SENSOR") == 0) {
			cv_off(s, xv.file, xv.line, "xinetd flag SENSOR has no "
			    "equivalent");
			cv_words_free(&xv.v);
			return (-1);
		} else if (strcmp(xv.v.w[i], "REUSE") != 0 &&
		    strcmp(xv.v.w[i], "NOLIBWRAP") != 0)
			cv_lost(s, xv.file, xv.line, "xinetd flag \"%s\" has no "
			    "equivalent; not carried over", xv.v.w[i]);
	}
	cv_words_free(&xv.v);
	/* xinetd serves IPv4 only unless told IPv6, dual-stack by default. */
	v6only = xval_word(xm, "v6only", NULL, NULL);
	if (v6 && !v4)
		s->family = v6only != NULL && strcmp(v6only, "yes") == 0 ?
		    CV_FAMILY_INET6 : CV_FAMILY_BOTH;
	else if (v4 && v6)
		s->family = CV_FAMILY_BOTH;
	else
		s->family = CV_FAMILY_INET;
	free(v6only);
	return (0);
}

/* socket_type and protocol; -1 if they are not tcp stream or udp dgram. */
static int
xmap_proto(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	const char	*file;
	char		*sock, *proto;
	int		 line, rv = 0;

	sock = xval_word(xm, "socket_type", &file, &line);
	proto = xval_word(xm, "protocol", NULL, NULL);
	if (sock == NULL) {
		cv_off(s, file, line, "the service has no socket_type");
		rv = -1;
	} else if (strcmp(sock, "stream") != 0 && strcmp(sock, "dgram") != 0) {
		cv_off(s, file, line, "socket_type \"%s\" is not supported",
		    sock);
		rv = -1;
	} else {
		s->udp = strcmp(sock, "dgram") == 0;
		if (proto != NULL &&
		    strcmp(proto, s->udp ? "udp" : "tcp") != 0) {
			cv_off(s, file, line, "socket_type \"%s\" with protocol "
			    "\"%s\" is not supported", sock, proto);
			rv = -1;
		}
	}
	free(sock);
	free(proto);
	return (rv);
}

/* port, bind or interface: the listen addresses. */
static int
xmap_listen(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	const char	*file;
	char		*port, *bind;
	int		 line, rv;

	port = xval_word(xm, "port", &file, &line);
	rv = cv_port(s, xm->b->name, port, file, line);
	free(port);
	if (rv == -1)
		return (-1);
	if ((bind = xval_word(xm, "bind", &file, &line)) == NULL)
		bind = xval_word(xm, "interface", &file, &line);
	if (bind == NULL)
		return (0);
	if (cv_numeric_addr(bind) == 0) {
		cv_off(s, file, line, "bind address \"%s\" is a host name, "
		    "and evinetd listens on numeric addresses only", bind);
		rv = -1;
	} else
		cv_words_add(&s->binds, bind);
	free(bind);
	return (rv);
}

/* redirect = ADDR PORT: the forward module. */
static int
xmap_redirect(struct xmap *xm, struct xval *xv)
{
	struct csvc	*s = xm->s;
	long long	 port;
	int		 family;

	if (xv->v.n != 2 || cv_number(xv->v.w[1], 1, 65535, &port) == -1) {
		cv_off(s, xv->file, xv->line, "redirect: expected an address "
		    "and a port");
		return (-1);
	}
	if ((family = cv_numeric_addr(xv->v.w[0])) == 0) {
		cv_off(s, xv->file, xv->line, "redirect to \"%s\", a host "
		    "name: evinetd forwards to numeric addresses only",
		    xv->v.w[0]);
		return (-1);
	}
	if (s->udp) {
		cv_off(s, xv->file, xv->line, "redirect of a udp service is "
		    "not supported");
		return (-1);
	}
	s->module = cv_xstrdup("forward");
	s->to = cv_xasprintf(family == 6 ? "[%s]:%lld" : "%s:%lld",
	    xv->v.w[0], port);
	return (0);
}

/* rlimit_as, _data, _stack: a size with K or M, or UNLIMITED. */
static char *
xmap_size(const char *v)
{
	if (strcasecmp(v, "UNLIMITED") == 0)
		return (cv_xstrdup("unlimited"));
	return (cv_xstrdup(v));
}

/* The rlimit_* attributes, by evinetd's index in cv_rlimit_names. */
static void
xmap_rlimits(struct xmap *xm)
{
	static const struct {
		const char	*name;
		int		 index;
	} map[] = {
		{ "rlimit_as", 0 }, { "rlimit_cpu", 1 }, { "rlimit_files", 2 },
		{ "rlimit_data", 5 }, { "rlimit_stack", 6 }
	};
	char	*v;
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if ((v = xval_word(xm, map[i].name, NULL, NULL)) == NULL)
			continue;
		if (map[i].index == 1 && strcasecmp(v, "UNLIMITED") != 0)
			xm->s->rlimits[1] = cv_xasprintf("%ss", v);
		else
			xm->s->rlimits[map[i].index] = xmap_size(v);
		free(v);
	}
}

/* groups = yes: the user's supplementary groups, looked up now. */
static void
xmap_groups(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct group	*gr;
	char		*yes, **m;

	yes = xval_word(xm, "groups", NULL, NULL);
	if (yes == NULL || strcmp(yes, "yes") != 0 || s->user == NULL) {
		free(yes);
		return;
	}
	free(yes);
	setgrent();
	while ((gr = getgrent()) != NULL) {
		for (m = gr->gr_mem; *m != NULL; m++) {
			if (strcmp(*m, s->user) == 0)
				cv_words_add(&s->groups, gr->gr_name);
		}
	}
	endgrent();
	cv_note(s, "groups = yes: the groups of user %s in the group "
	    "database when this file was written", s->user);
}

/* server, server_args, user and the other keys of module exec. */
static void
xmap_exec(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	const char	*file;
	char		*copy, *w;
	int		 line;
	size_t		 i;

	s->module = cv_xstrdup("exec");
	s->program = xval_word(xm, "server", NULL, NULL);
	if (!xm->nameinargs) {
		copy = cv_xstrdup(s->program);
		cv_words_add(&s->args, basename(copy));
		free(copy);
	}
	xval_get(xm, "server_args", &xv);
	for (i = 0; i < xv.v.n; i++)
		cv_words_add(&s->args, xv.v.w[i]);
	cv_words_free(&xv.v);
	s->user = xval_word(xm, "user", NULL, NULL);
	s->group = xval_word(xm, "group", NULL, NULL);
	s->nice = xval_word(xm, "nice", NULL, NULL);
	s->umask = xval_word(xm, "umask", NULL, NULL);
	xval_get(xm, "env", &xv);
	for (i = 0; i < xv.v.n; i++)
		cv_words_add(&s->env, xv.v.w[i]);
	cv_words_free(&xv.v);
	xval_get(xm, "passenv", &xv);
	for (i = 0; i < xv.v.n; i++)
		cv_words_add(&s->passenv, xv.v.w[i]);
	cv_words_free(&xv.v);
	xmap_rlimits(xm);
	xmap_groups(xm);
	w = xval_word(xm, "wait", &file, &line);
	s->wait = w != NULL && strcmp(w, "yes") == 0;
	free(w);
	if (s->udp && !s->wait) {
		cv_lost(s, file, line, "a udp \"wait = no\" program connects "
		    "its own socket; evinetd runs udp programs with \"wait = "
		    "yes\" (the program gets the service's socket)");
		s->wait = 1;
	}
}

/* What the service runs: an internal module, a redirect or a program. */
static int
xmap_server(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	char		*server;
	int		 rv = 0;

	if (xm->internal)
		return (0);
	server = xval_word(xm, "server", NULL, NULL);
	if (xval_get(xm, "redirect", &xv)) {
		rv = xmap_redirect(xm, &xv);
		if (server != NULL)
			cv_note(s, "server %s: xinetd ignores it for the "
			    "redirect, and so does this file", server);
	} else if (server == NULL) {
		cv_off(s, xm->b->file, xm->b->line, "the service has no "
		    "server, redirect or type = INTERNAL");
		rv = -1;
	} else
		xmap_exec(xm);
	cv_words_free(&xv.v);
	free(server);
	return (rv);
}

/*
 * One only_from or no_access entry in evinetd's terms: xinetd's trailing
 * zero octets are a network (10.1.0.0 is 10.1.0.0/16) and {a,b} a list.
 * -1 for a host, domain or network name, which evinetd cannot match.
 */
static int
xmap_addr(const char *in, struct cv_words *out)
{
	char		*brace, *copy, *item, *p, *addr;
	long long	 o[4];
	int		 n, bits, rv = 0;

	if ((brace = strchr(in, '{')) != NULL) {
		if (brace == in || brace[-1] != '.' || in[strlen(in) - 1] != '}')
			return (-1);
		copy = p = cv_xstrdup(brace + 1);
		copy[strlen(copy) - 1] = '\0';
		while (rv == 0 && (item = strsep(&p, ",")) != NULL) {
			addr = cv_xasprintf("%.*s%s", (int)(brace - in), in,
			    item);
			rv = strchr(item, '.') == NULL ? xmap_addr(addr, out) :
			    -1;
			free(addr);
		}
		free(copy);
		return (rv);
	}
	if (strchr(in, '/') != NULL || cv_numeric_addr(in) == 6) {
		copy = cv_xstrdup(in);
		if ((p = strchr(copy, '/')) != NULL)
			*p++ = '\0';
		rv = cv_numeric_addr(copy) == 0 || (p != NULL &&
		    cv_number(p, 0, 128, &o[0]) == -1) ? -1 : 0;
		free(copy);
		if (rv == 0)
			cv_words_add(out, in);
		return (rv);
	}
	copy = p = cv_xstrdup(in);
	for (n = 0; (item = strsep(&p, ".")) != NULL; n++) {
		if (n == 4 || cv_number(item, 0, 255, &o[n]) == -1) {
			free(copy);
			return (-1);
		}
	}
	free(copy);
	/* Trailing zero octets are the prefix's host part. */
	for (bits = 8 * n; bits >= 8 && o[bits / 8 - 1] == 0; bits -= 8)
		;
	for (; n < 4; n++)
		o[n] = 0;
	addr = cv_xasprintf("%lld.%lld.%lld.%lld/%d", o[0], o[1], o[2], o[3],
	    bits);
	cv_words_add(out, addr);
	free(addr);
	return (0);
}

/* Converts an access list; -1 (and the service off) if it would widen. */
static int
xmap_acl(struct xmap *xm, const char *name, struct cv_words *out)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	size_t		 i, lost = 0;
	int		 only = strcmp(name, "only_from") == 0;

	if (!xval_get(xm, name, &xv))
		return (0);
	for (i = 0; i < xv.v.n; i++) {
		if (xmap_addr(xv.v.w[i], out) == 0)
			continue;
		lost++;
		if (!only) {
			cv_off(s, xv.file, xv.line, "no_access \"%s\" is not a "
			    "numeric address or network: the service would "
			    "admit it", xv.v.w[i]);
			cv_words_free(&xv.v);
			return (-1);
		}
		cv_lost(s, xv.file, xv.line, "only_from \"%s\" is not a numeric "
		    "address or network; not carried over (it is refused)",
		    xv.v.w[i]);
	}
	if (only && out->n == 0) {
		cv_off(s, xv.file, xv.line, "only_from admits %s", lost > 0 ?
		    "only names evinetd cannot match" : "nobody");
		cv_words_free(&xv.v);
		return (-1);
	}
	s->only_from_set |= only;
	cv_words_free(&xv.v);
	return (0);
}

/* only_from and no_access. */
static int
xmap_access(struct xmap *xm)
{
	if (xmap_acl(xm, "only_from", &xm->s->only_from) == -1 ||
	    xmap_acl(xm, "no_access", &xm->s->no_access) == -1)
		return (-1);
	return (0);
}

/* instances, per_source and cps: evinetd's limits. */
static void
xmap_limits(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	long long	 n;
	char		*v;

	if ((v = xval_word(xm, "instances", NULL, NULL)) != NULL &&
	    cv_number(v, 0, 1000000, &n) == 0) {
		if (s->program == NULL)
			s->max_connections = cv_xasprintf("%lld", n);
		else if (!s->wait)
			s->instances = cv_xasprintf("%lld", n);
	}
	free(v);
	if ((v = xval_word(xm, "per_source", NULL, NULL)) != NULL &&
	    cv_number(v, 0, 10000000, &n) == 0)
		s->per_source = cv_xasprintf("%lld", n);
	free(v);
	if (xval_get(xm, "cps", &xv) && xv.v.n >= 1) {
		if (cv_number(xv.v.w[0], 1, 1000000000, &n) == 0) {
			s->rate = cv_xasprintf("%lld/s", n);
			cv_note(s, "rate: xinetd's cps switches the service off "
			    "for %s seconds once exceeded; evinetd's token "
			    "bucket refuses only the excess and refills by "
			    "itself", xv.v.n > 1 ? xv.v.w[1] : "some");
		} else
			cv_lost(s, xv.file, xv.line, "cps \"%s\" is not a "
			    "number; not carried over", xv.v.w[0]);
	}
	cv_words_free(&xv.v);
}

/* log_on_success and log_on_failure: near-equivalents, or reported. */
static void
xmap_logging(struct xmap *xm)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	size_t		 i;

	xval_get(xm, "log_on_success", &xv);
	for (i = 0; i < xv.v.n; i++) {
		if (strcmp(xv.v.w[i], "USERID") == 0)
			cv_lost(s, xv.file, xv.line, "log_on_success USERID "
			    "(an ident lookup) has no equivalent; not carried "
			    "over");
		else
			s->log_connections = 1;
	}
	if (s->log_connections)
		cv_note(s, "log_connections: for log_on_success; the line "
		    "has the client, duration, bytes%s", s->program != NULL ?
		    " and exit status" : "");
	cv_words_free(&xv.v);
	xval_get(xm, "log_on_failure", &xv);
	for (i = 0; i < xv.v.n; i++) {
		if (strcmp(xv.v.w[i], "USERID") == 0 ||
		    strcmp(xv.v.w[i], "RECORD") == 0)
			cv_lost(s, xv.file, xv.line, "log_on_failure %s has no "
			    "equivalent; not carried over", xv.v.w[i]);
	}
	if (xv.v.n > 0)
		cv_note(s, "log_on_failure: evinetd logs every kind of refusal "
		    "with its client, at most once a second per kind");
	cv_words_free(&xv.v);
}

/* Reports each attribute, of the service or the defaults, not mapped. */
static void
xmap_unknown(struct xmap *xm)
{
	struct xblock	*blocks[2] = { xm->b, xm->d };
	struct xattr	*a, *prev;
	size_t		 i, k;
	int		 seen;

	for (k = 0; k < 2 && blocks[k] != NULL; k++) {
		TAILQ_FOREACH(a, &blocks[k]->attrs, entry) {
			for (i = 0; i < sizeof(xmap_known) /
			    sizeof(xmap_known[0]); i++) {
				if (strcmp(a->name, xmap_known[i]) == 0)
					break;
			}
			seen = i < sizeof(xmap_known) / sizeof(xmap_known[0]);
			for (prev = TAILQ_PREV(a, xattr_list, entry); !seen &&
			    prev != NULL; prev = TAILQ_PREV(prev, xattr_list, entry))
				seen = strcmp(prev->name, a->name) == 0;
			if (seen)
				continue;
			cv_lost(xm->s, a->file, a->line, "xinetd attribute "
			    "\"%s\" has no equivalent; not carried over",
			    a->name);
			cv_note(xm->s, "was: %s %s= %s", a->name, a->op == '=' ?
			    "" : a->op == '+' ? "+" : "-", a->text);
		}
	}
}

/*
 * disable = yes, or the defaults' disabled and enabled lists: the service
 * is written as a comment, and what it would lose is noted there only.
 */
static void
xmap_disable(struct xmap *xm, const char *id)
{
	struct csvc	*s = xm->s;
	struct xval	 xv;
	char		*v;

	if ((v = xval_word(xm, "disable", NULL, NULL)) != NULL &&
	    strcmp(v, "yes") == 0 && s->off == NULL)
		s->off = cv_xstrdup("disable = yes");
	free(v);
	memset(&xv, 0, sizeof(xv));
	xval_apply(&xv, xm->d, "disabled", 0);
	if (xval_has(&xv, id) && s->off == NULL)
		s->off = cv_xstrdup("in the defaults' disabled list");
	cv_words_free(&xv.v);
	memset(&xv, 0, sizeof(xv));
	xval_apply(&xv, xm->d, "enabled", 0);
	if (xv.set && !xval_has(&xv, id) && s->off == NULL)
		s->off = cv_xstrdup("not in the defaults' enabled list");
	cv_words_free(&xv.v);
	s->quiet = s->off != NULL;
}

/* Converts one xinetd service, merged with DEFAULTS, onto LIST. */
void
xinetd_map(struct csvc_list *list, struct xblock *b, struct xblock *defaults)
{
	struct xmap	 xm;
	struct csvc	*s;
	char		*id, *sock;
	int		 udp;

	memset(&xm, 0, sizeof(xm));
	xm.b = b;
	xm.d = defaults;
	if ((id = xval_word(&xm, "id", NULL, NULL)) == NULL)
		id = cv_xstrdup(b->name);
	sock = xval_word(&xm, "socket_type", NULL, NULL);
	udp = sock != NULL && strcmp(sock, "dgram") == 0;
	free(sock);
	s = xm.s = cv_svc_new(list, id, b->file, b->line, udp);
	if (strcmp(id, b->name) != 0)
		s->comment = cv_xasprintf("xinetd service %s, id %s",
		    b->name, id);
	xmap_disable(&xm, id);
	if (xmap_type(&xm) == 0 && xmap_proto(&xm) == 0 &&
	    xmap_flags(&xm) == 0 && xmap_listen(&xm) == 0 &&
	    xmap_server(&xm) == 0) {
		if (xmap_access(&xm) == 0) {
			xmap_limits(&xm);
			xmap_logging(&xm);
		}
	}
	xmap_unknown(&xm);
	free(id);
}
