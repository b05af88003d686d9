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
 * The core keys of the config file, as one table.  Everything the daemon
 * knows about a key comes from its row: where it may appear, how its
 * value is read and stored, its default, the duplicate error, the global
 * default a service inherits, "did you mean", the names a module option
 * may not take, and the list the man page is tested against.  To add a
 * key, see "Adding a core key" in docs/design.md.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

#define CF(m)		offsetof(struct config, m)
#define SC(m)		offsetof(struct service_conf, m)
#define LIM(m)		offsetof(struct limits_conf, m)
#define DAY_MS		(24LL * 3600 * 1000)

static int	confkey_set_module_dir(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_user(struct parse_state *, const struct confkey *,
		    struct conf_token *, int, void *);
static int	confkey_set_workers(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_listen(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_module(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_protocol(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_acl(struct parse_state *, const struct confkey *,
		    struct conf_token *, int, void *);
static int	confkey_set_rate(struct parse_state *, const struct confkey *,
		    struct conf_token *, int, void *);
static int	confkey_set_banner(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_proxy(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_control(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
static int	confkey_set_control_group(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);

/*
 * The order is that of the "known:" lists in errors.  A name may have one
 * row outside service blocks and one inside (workers, max_connections).
 */
const struct confkey confkeys[] = {
	{ "module_dir", CK_GLOBAL, 0, EVI_OPT_PATH, 0, 0,
	    confkey_set_module_dir, CF(c_module_dir), NULL,
	    "/usr/lib/evinetd", "where \"module = NAME\" is looked up" },
	{ "include", CK_GLOBAL, CK_LIST | CK_REPEAT, EVI_OPT_PATH, 0, 0,
	    config_key_include, 0, NULL,
	    "evinetd.d/*.conf", "read more files, by glob pattern" },
	{ "user", CK_GLOBAL, 0, EVI_OPT_STRING, 0, 0,
	    confkey_set_user, CF(c_user), NULL,
	    "daemon", "the user the workers serve as" },
	{ "group", CK_GLOBAL, 0, EVI_OPT_STRING, 0, 0,
	    NULL, CF(c_group), NULL,
	    "daemon", "the group the workers serve as" },
	{ "workers", CK_GLOBAL, 0, EVI_OPT_INT, 1, 256,
	    confkey_set_workers, CF(c_workers), "1",
	    "auto", "shared worker processes, or auto (one per CPU)" },
	{ "pidfile", CK_GLOBAL, 0, EVI_OPT_PATH, 0, 0,
	    NULL, CF(c_pidfile), NULL,
	    "/run/evinetd.pid", "where to write the supervisor's pid" },
	{ "core_dumps", CK_GLOBAL, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, CF(c_core_dumps), "no",
	    "yes", "whether workers may dump core" },
	{ "shutdown_timeout", CK_GLOBAL, 0, EVI_OPT_DURATION, 0, DAY_MS,
	    NULL, CF(c_shutdown_ms), "10s",
	    "5s", "how long a stop lets connections finish" },
	{ "drain_timeout", CK_GLOBAL, 0, EVI_OPT_DURATION, 0, DAY_MS,
	    NULL, CF(c_drain_ms), "30s",
	    "1m", "how long a reload lets old connections finish" },
	{ "start_timeout", CK_GLOBAL, 0, EVI_OPT_DURATION, 0, DAY_MS,
	    NULL, CF(c_start_ms), "60s",
	    "2m", "how long new workers may take to be ready; 0: no limit" },
	{ "max_connections", CK_GLOBAL, 0, EVI_OPT_INT, 0, 10000000,
	    NULL, CF(c_max_conns), NULL,
	    "10000", "connections at once, all services together" },
	{ "control_socket", CK_GLOBAL, 0, EVI_OPT_STRING, 0, 0,
	    confkey_set_control, CF(c_control), EVINETD_CONTROL_SOCKET,
	    "/run/evinetd/control.sock", "evinetdctl's socket, or none" },
	{ "control_group", CK_GLOBAL, 0, EVI_OPT_STRING, 0, 0,
	    confkey_set_control_group, CF(c_control_group), NULL,
	    "adm", "a group whose members may use evinetdctl too" },

	{ "listen", CK_SERVICE, CK_LIST | CK_REPEAT, EVI_OPT_STRING, 0, 0,
	    confkey_set_listen, 0, NULL,
	    "127.0.0.1:7 [::1]:7", "addresses and ports to listen on" },
	{ "module", CK_SERVICE, 0, EVI_OPT_STRING, 0, 0,
	    confkey_set_module, SC(sc_module_name), NULL,
	    "echo", "the module serving the service" },
	{ "protocol", CK_SERVICE, 0, EVI_OPT_ENUM, 0, 0,
	    confkey_set_protocol, SC(sc_protocol), "tcp",
	    "udp", "tcp or udp" },
	{ "max_input", CK_SERVICE, 0, EVI_OPT_SIZE, 1024, 1LL << 30,
	    NULL, SC(sc_max_input), "64k",
	    "4k", "input a module may leave unconsumed" },
	{ "max_output", CK_SERVICE, 0, EVI_OPT_SIZE, 1024, 1LL << 30,
	    NULL, SC(sc_max_output), "256k",
	    "64k", "output queued before reading stops" },
	{ "reflection_guard", CK_SERVICE, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, SC(sc_reflection_guard), "yes",
	    "no", "udp: drop datagrams from reflecting sources" },
	{ "log_connections", CK_SERVICE, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, SC(sc_log_connections), "no",
	    "yes", "log a line per connection or datagram" },
	{ "only_from", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    confkey_set_acl, LIM(lim_only), NULL,
	    "10.0.0.0/8 ::1", "serve only these addresses or networks" },
	{ "no_access", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    confkey_set_acl, LIM(lim_deny), NULL,
	    "192.0.2.0/24", "refuse these addresses or networks" },
	{ "max_connections", CK_SERVICE, 0, EVI_OPT_INT, 0, 10000000,
	    NULL, SC(sc_limits.lim_max_conns), NULL,
	    "100", "connections at once to the service" },
	{ "per_source", CK_INHERIT, 0, EVI_OPT_INT, 0, 10000000,
	    NULL, LIM(lim_per_source), NULL,
	    "16", "connections at once from one client" },
	{ "per_source_ipv6_prefix", CK_INHERIT, 0, EVI_OPT_INT, 1, 128,
	    NULL, LIM(lim_prefix6), "64",
	    "56", "the IPv6 bits that make one client" },
	{ "rate", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    confkey_set_rate, LIM(lim_rate), NULL,
	    "10/s 20", "new connections or datagrams per second [burst]" },
	{ "per_source_rate", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    confkey_set_rate, LIM(lim_src_rate), NULL,
	    "5/m", "the same, per client" },
	{ "idle_timeout", CK_INHERIT, 0, EVI_OPT_DURATION, 0, 30 * DAY_MS,
	    NULL, LIM(lim_idle_ms), "5m",
	    "30s", "close a connection idle this long; 0: never" },
	{ "session_timeout", CK_INHERIT, 0, EVI_OPT_DURATION, 0, 30 * DAY_MS,
	    NULL, LIM(lim_session_ms), NULL,
	    "1h", "close a connection this old; 0: never" },
	{ "refuse_banner", CK_INHERIT, 0, EVI_OPT_STRING, 0, 0,
	    confkey_set_banner, LIM(lim_banner), NULL,
	    "busy", "one line sent to a client a limit refuses" },
	{ "udp_reply_budget", CK_INHERIT, 0, EVI_OPT_SIZE, 0, 1LL << 30,
	    NULL, LIM(lim_reply_budget), NULL,
	    "64k", "udp: reply bytes per second to one source; 0: no limit" },
	{ "proxy_protocol", CK_INHERIT, 0, EVI_OPT_ENUM, 0, 0,
	    confkey_set_proxy, LIM(lim_proxy), "no",
	    "v2", "read a PROXY header first: no, v1, v2 or any" },
	{ "proxy_from", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    confkey_set_acl, LIM(lim_proxy_from), NULL,
	    "10.0.0.5 10.0.1.0/24", "the load balancers trusted to send it" },
	{ "proxy_timeout", CK_INHERIT, 0, EVI_OPT_DURATION, 1, 3600 * 1000,
	    NULL, LIM(lim_proxy_ms), "5s",
	    "2s", "time for the PROXY header to arrive" },
	{ "tls_certificate", CK_INHERIT, CK_REPEAT, EVI_OPT_PATH, 0, 0,
	    tlsconf_set_file, LIM(lim_tls.tc_certs), NULL,
	    "/etc/ssl/example.pem", "TLS: a certificate (and its chain)" },
	{ "tls_key", CK_INHERIT, CK_REPEAT, EVI_OPT_PATH, 0, 0,
	    tlsconf_set_file, LIM(lim_tls.tc_keys), NULL,
	    "/etc/ssl/private/example.key", "TLS: the certificate's key" },
	{ "tls_client_ca", CK_INHERIT, 0, EVI_OPT_PATH, 0, 0,
	    NULL, LIM(lim_tls.tc_client_ca), NULL,
	    "/etc/ssl/clients.pem", "TLS: CAs client certificates verify to" },
	{ "tls_verify_client", CK_INHERIT, 0, EVI_OPT_ENUM, 0, 0,
	    tlsconf_set_verify, LIM(lim_tls.tc_verify), "no",
	    "require", "TLS: ask clients for a certificate: no, optional, "
	    "require" },
	{ "tls_protocols", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    tlsconf_set_protocols, LIM(lim_tls.tc_protocols),
	    "TLSv1.2 TLSv1.3",
	    "TLSv1.3", "TLS: the protocol versions served" },
	{ "tls_ciphers", CK_INHERIT, 0, EVI_OPT_STRING, 0, 0,
	    NULL, LIM(lim_tls.tc_ciphers), TLSCONF_CIPHERS,
	    "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS: TLS 1.2 ciphers" },
	{ "tls_ciphersuites", CK_INHERIT, 0, EVI_OPT_STRING, 0, 0,
	    NULL, LIM(lim_tls.tc_ciphersuites), TLSCONF_CIPHERSUITES,
	    "TLS_AES_256_GCM_SHA384", "TLS: TLS 1.3 cipher suites" },
	{ "tls_alpn", CK_INHERIT, CK_LIST, EVI_OPT_STRING, 0, 0,
	    tlsconf_set_alpn, LIM(lim_tls.tc_alpn), NULL,
	    "h2 http/1.1", "TLS: application protocols, preferred first" },
	{ "tls_session_tickets", CK_INHERIT, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, LIM(lim_tls.tc_tickets), "yes",
	    "no", "TLS: resume sessions with tickets" },
	{ "tls_handshake_timeout", CK_INHERIT, 0, EVI_OPT_DURATION, 100,
	    3600 * 1000, NULL, LIM(lim_tls.tc_handshake_ms), "10s",
	    "5s", "TLS: time for a client to finish the handshake" },
	{ "isolate", CK_SERVICE, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, SC(sc_isolate), "no",
	    "yes", "serve in worker processes of its own" },
	{ "workers", CK_SERVICE, 0, EVI_OPT_INT, 1, 256,
	    NULL, SC(sc_workers), NULL,
	    "2", "processes of an isolated service" },
	{ "reuseport", CK_SERVICE, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, SC(sc_reuseport), "no",
	    "yes", "a listening socket per worker process" },
	{ "relay_splice", CK_SERVICE, 0, EVI_OPT_BOOL, 0, 0,
	    NULL, SC(sc_relay_splice), "yes",
	    "no", "relays move bytes with splice(2), not copies" },

	{ "program", CK_SERVICE, CK_EXEC, EVI_OPT_PATH, 0, 0,
	    NULL, SC(sc_exec.ex_program), NULL,
	    "/bin/cat", "exec: the program run for each connection" },
	{ "args", CK_SERVICE, CK_EXEC | CK_LIST, EVI_OPT_STRING, 0, 0,
	    execconf_set_list, 0, NULL,
	    "cat -u", "exec: its arguments, argv[0] first" },
	{ "user", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    NULL, SC(sc_exec.ex_user), NULL,
	    "daemon", "exec: the user it runs as" },
	{ "group", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    NULL, SC(sc_exec.ex_group), NULL,
	    "daemon", "exec: its group" },
	{ "groups", CK_SERVICE, CK_EXEC | CK_LIST, EVI_OPT_STRING, 0, 0,
	    execconf_set_list, 0, NULL,
	    "adm", "exec: its supplementary groups" },
	{ "env", CK_SERVICE, CK_EXEC | CK_LIST, EVI_OPT_STRING, 0, 0,
	    execconf_set_list, 0, NULL,
	    "\"LANG=C\"", "exec: environment variables it gets" },
	{ "passenv", CK_SERVICE, CK_EXEC | CK_LIST, EVI_OPT_STRING, 0, 0,
	    execconf_set_list, 0, NULL,
	    "TZ", "exec: the daemon's variables it gets too" },
	{ "cwd", CK_SERVICE, CK_EXEC, EVI_OPT_PATH, 0, 0,
	    NULL, SC(sc_exec.ex_cwd), NULL,
	    "/srv", "exec: its working directory" },
	{ "umask", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_umask, SC(sc_exec.ex_umask), "022",
	    "027", "exec: its umask, octal" },
	{ "nice", CK_SERVICE, CK_EXEC, EVI_OPT_INT, -20, 19,
	    NULL, SC(sc_exec.ex_nice), "0",
	    "5", "exec: its scheduling niceness" },
	{ "rlimit_as", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "512m", "exec: address space limit, or unlimited" },
	{ "rlimit_cpu", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "60s", "exec: CPU time limit, or unlimited" },
	{ "rlimit_nofile", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "256", "exec: open files limit, or unlimited" },
	{ "rlimit_nproc", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "32", "exec: processes of its user, or unlimited" },
	{ "rlimit_core", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "0", "exec: core file size limit, or unlimited" },
	{ "rlimit_data", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "256m", "exec: data segment limit, or unlimited" },
	{ "rlimit_stack", CK_SERVICE, CK_EXEC, EVI_OPT_STRING, 0, 0,
	    execconf_set_rlimit, 0, NULL,
	    "8m", "exec: stack size limit, or unlimited" },
	{ "instances", CK_SERVICE, CK_EXEC, EVI_OPT_INT, 0, 1000000,
	    NULL, SC(sc_exec.ex_instances), "0",
	    "50", "exec: programs running at once; 0: no limit" },
	{ "stderr", CK_SERVICE, CK_EXEC, EVI_OPT_ENUM, 0, 0,
	    execconf_set_stderr, SC(sc_exec.ex_stderr), "log",
	    "socket", "exec: where its stderr goes: log, socket or null" },
	{ "wait", CK_SERVICE, CK_EXEC, EVI_OPT_BOOL, 0, 0,
	    NULL, SC(sc_exec.ex_wait), "no",
	    "yes", "exec: one program serves the socket itself" },
};
const size_t confkeys_count = sizeof(confkeys) / sizeof(confkeys[0]);

/* Records an error of the line, prefixed with its service if it has one. */
void
confkey_error(struct parse_state *ps, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ps->ps_svc != NULL)
		config_error(ps->ps_cf, ps->ps_file, ps->ps_line,
		    "service \"%s\": %s", ps->ps_svc->sc_name, msg);
	else
		config_error(ps->ps_cf, ps->ps_file, ps->ps_line, "%s", msg);
	free(msg);
}

/* The row of a key where it appears (CK_GLOBAL or CK_SERVICE), or NULL. */
const struct confkey *
confkey_find(const char *name, unsigned int where)
{
	size_t	i;

	for (i = 0; i < confkeys_count; i++) {
		if ((confkeys[i].ck_scope & where) &&
		    strcmp(confkeys[i].ck_name, name) == 0)
			return (&confkeys[i]);
	}
	return (NULL);
}

/* The names of the keys allowed where, ", "-separated; the caller frees. */
char *
confkey_list(unsigned int where)
{
	char	*list = xstrdup(""), *next;
	size_t	 i;

	for (i = 0; i < confkeys_count; i++) {
		if ((confkeys[i].ck_scope & where) == 0)
			continue;
		xasprintf(&next, "%s%s%s", list, *list ? ", " : "",
		    confkeys[i].ck_name);
		free(list);
		list = next;
	}
	return (list);
}

/* Offers the keys allowed where as corrections of a mistyped word. */
void
confkey_suggest(struct suggestion *sg, const char *word, unsigned int where)
{
	size_t	i;

	for (i = 0; i < confkeys_count; i++) {
		if (confkeys[i].ck_scope & where)
			config_suggest(sg, word, confkeys[i].ck_name,
			    strlen(confkeys[i].ck_name));
	}
}

/* Where a row's value lives for the line being parsed. */
static void *
confkey_field(struct parse_state *ps, const struct confkey *ck)
{
	char	*base;

	if (ck->ck_scope == CK_INHERIT)
		base = ps->ps_svc != NULL ? (char *)&ps->ps_svc->sc_limits :
		    (char *)&ps->ps_cf->c_defaults;
	else if (ck->ck_scope == CK_SERVICE)
		base = (char *)ps->ps_svc;
	else
		base = (char *)ps->ps_cf;
	return (base + ck->ck_offset);
}

/* Stores a value by its row's type, for the rows without a setter. */
static int
confkey_set_value(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	const char	*text = v[0].text;
	char		*cause = NULL;
	int		 rv;

	(void)nv;
	switch (ck->ck_type) {
	case EVI_OPT_INT:
		rv = value_int(text, ck->ck_min, ck->ck_max, field, &cause);
		break;
	case EVI_OPT_DURATION:
		rv = value_duration(text, ck->ck_min, ck->ck_max, field,
		    &cause);
		break;
	case EVI_OPT_SIZE:
		rv = value_size(text, ck->ck_min, ck->ck_max, field, &cause);
		break;
	case EVI_OPT_BOOL:
		rv = value_bool(text, field, &cause);
		break;
	case EVI_OPT_PATH:
		if (text[0] != '/') {
			confkey_error(ps, "%s \"%s\" must be an absolute path",
			    ck->ck_name, text);
			return (-1);
		}
		/* FALLTHROUGH */
	case EVI_OPT_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(text);
		return (0);
	default:
		fatalx("core key \"%s\" has no setter for its type",
		    ck->ck_name);
	}
	if (rv != 0) {
		confkey_error(ps, "%s: %s", ck->ck_name, cause);
		free(cause);
	}
	return (rv);
}

static int
confkey_set(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv)
{
	if (ck->ck_set != NULL)
		return (ck->ck_set(ps, ck, v, nv, confkey_field(ps, ck)));
	return (confkey_set_value(ps, ck, v, nv, confkey_field(ps, ck)));
}

/*
 * Records a line's values where the key was set, before they are applied:
 * an include applied reads further lines, which must come after it.  A
 * repeated key adds its values and its line to the earlier ones.
 */
static void
confkey_keep(struct parse_state *ps, const struct confkey *ck,
    struct conf_where *w, struct conf_token *v, int nv)
{
	int	i;

	w->cw_argv = xreallocarray(w->cw_argv, (size_t)w->cw_argc + nv,
	    sizeof(char *));
	for (i = 0; i < nv; i++)
		w->cw_argv[w->cw_argc++] = xstrdup(v[i].text);
	if (ck->ck_flags & CK_REPEAT) {
		w->cw_lines = xreallocarray(w->cw_lines,
		    (size_t)w->cw_nlines + 1, sizeof(*w->cw_lines));
		w->cw_lines[w->cw_nlines].cl_file = ps->ps_file;
		w->cw_lines[w->cw_nlines++].cl_line = ps->ps_line;
	}
	if (w->cw_line == 0) {
		w->cw_file = ps->ps_file;
		w->cw_line = ps->ps_line;
	}
}

/* Takes back what confkey_keep recorded of a line that was not applied. */
static void
confkey_unkeep(struct conf_where *w, int argc, int nlines)
{
	while (w->cw_argc > argc)
		free(w->cw_argv[--w->cw_argc]);
	w->cw_nlines = nlines;
	if (argc == 0 && nlines == 0) {
		w->cw_file = NULL;
		w->cw_line = 0;
	}
}

/*
 * Handles "key = values" if key is a core key where the line is.  Returns
 * 0 if it is not one, else 1, with any error recorded.  A key set twice
 * is an error, the first value stays.
 */
int
confkey_apply(struct parse_state *ps, const char *key, struct conf_token *v,
    int nv)
{
	const struct confkey	*ck;
	struct conf_where	*w;
	int			 argc, nlines;

	ck = confkey_find(key, ps->ps_svc != NULL ? CK_SERVICE : CK_GLOBAL);
	if (ck == NULL)
		return (0);
	w = ps->ps_svc != NULL ? ps->ps_svc->sc_set : ps->ps_cf->c_set;
	w += ck - confkeys;
	if (w->cw_line != 0 && !(ck->ck_flags & CK_REPEAT)) {
		if (w->cw_file == ps->ps_file)
			confkey_error(ps, "\"%s\" is already set at line %d",
			    key, w->cw_line);
		else
			confkey_error(ps, "\"%s\" is already set at %s:%d",
			    key, w->cw_file, w->cw_line);
		return (1);
	}
	if (!(ck->ck_flags & CK_LIST) && nv != 1) {
		confkey_error(ps, "\"%s\" takes one value, not %d", key, nv);
		return (1);
	}
	argc = w->cw_argc;
	nlines = w->cw_nlines;
	confkey_keep(ps, ck, w, v, nv);
	if (confkey_set(ps, ck, v, nv) != 0)
		confkey_unkeep(w, argc, nlines);
	return (1);
}

/* Applies the defaults of the table: the global ones, or a service's. */
void
confkey_defaults(struct config *cf, struct service_conf *sc)
{
	struct parse_state	 ps;
	struct conf_token	 t;
	size_t			 i;

	memset(&ps, 0, sizeof(ps));
	ps.ps_cf = cf;
	ps.ps_file = cf->c_path;
	ps.ps_svc = sc;
	for (i = 0; i < confkeys_count; i++) {
		if (confkeys[i].ck_default == NULL ||
		    !(confkeys[i].ck_scope & (sc ? CK_SERVICE : CK_GLOBAL)) ||
		    (sc == NULL && confkeys[i].ck_scope == CK_INHERIT))
			continue;
		t.type = TOK_WORD;
		t.text = (char *)confkeys[i].ck_default;
		confkey_set(&ps, &confkeys[i], &t, 1);
	}
}

/*
 * Gives a service the global defaults it did not set itself, as if the
 * global line were written in its block: a service that sets a key
 * replaces the default, and lists are not merged.
 */
void
confkey_inherit(struct config *cf, struct service_conf *sc)
{
	struct parse_state	 ps;
	struct conf_token	*v;
	const struct conf_where	*g;
	size_t			 i;
	int			 j;

	for (i = 0; i < confkeys_count; i++) {
		g = &cf->c_set[i];
		if (confkeys[i].ck_scope != CK_INHERIT || g->cw_line == 0 ||
		    sc->sc_set[i].cw_line != 0)
			continue;
		ps.ps_cf = cf;
		ps.ps_file = g->cw_file;
		ps.ps_line = g->cw_line;
		ps.ps_svc = sc;
		v = xreallocarray(NULL, (size_t)g->cw_argc, sizeof(*v));
		for (j = 0; j < g->cw_argc; j++) {
			v[j].type = TOK_WORD;
			v[j].text = g->cw_argv[j];
		}
		confkey_set(&ps, &confkeys[i], v, g->cw_argc);
		free(v);
	}
}

/* Frees a config's or a service's record of where keys were set. */
void
confkey_where_free(struct conf_where *w)
{
	size_t	i;
	int	j;

	if (w == NULL)
		return;
	for (i = 0; i < confkeys_count; i++) {
		for (j = 0; j < w[i].cw_argc; j++)
			free(w[i].cw_argv[j]);
		free(w[i].cw_argv);
		free(w[i].cw_lines);
	}
	free(w);
}

/*
 * The setters of the keys that are more than a typed value.
 */

static int
confkey_set_module_dir(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	char	*keep = NULL;
	int	 rv;

	/* "-M" wins over the file, but the file's value is still checked. */
	if (ps->ps_cf->c_module_dir_forced)
		keep = xstrdup(*(char **)field);
	rv = confkey_set_value(ps, ck, v, nv, field);
	if (keep != NULL) {
		free(*(char **)field);
		*(char **)field = keep;
	}
	return (rv);
}

static int
confkey_set_user(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	ps->ps_cf->c_user_file = ps->ps_file;
	ps->ps_cf->c_user_line = ps->ps_line;
	return (confkey_set_value(ps, ck, v, nv, field));
}

/* An absolute path, or none; the compiled-in default is told apart. */
static int
confkey_set_control(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	char	**path = field;

	(void)ck;
	(void)nv;
	free(*path);
	*path = NULL;
	ps->ps_cf->c_control_default = ps->ps_line == 0;
	if (strcmp(v[0].text, "none") == 0)
		return (0);
	if (v[0].text[0] != '/') {
		confkey_error(ps, "control_socket \"%s\": not an absolute "
		    "path (or none)", v[0].text);
		return (-1);
	}
	if (strlen(v[0].text) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		confkey_error(ps, "control_socket \"%s\": longer than a "
		    "socket path may be (%zu bytes)", v[0].text,
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return (-1);
	}
	*path = xstrdup(v[0].text);
	return (0);
}

/* Resolved now, so that "evinetd -n" names a group that does not exist. */
static int
confkey_set_control_group(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct group	*gr;

	(void)ck;
	(void)nv;
	if ((gr = getgrnam(v[0].text)) == NULL) {
		confkey_error(ps, "control_group \"%s\": no such group",
		    v[0].text);
		return (-1);
	}
	free(*(char **)field);
	*(char **)field = xstrdup(v[0].text);
	ps->ps_cf->c_control_gid = gr->gr_gid;
	return (0);
}

static int
confkey_set_workers(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	char	*cause;

	(void)nv;
	if (strcmp(v[0].text, "auto") == 0) {
		*(long long *)field = 0;
		return (0);
	}
	if (value_int(v[0].text, ck->ck_min, ck->ck_max, field,
	    &cause) != 0) {
		confkey_error(ps, "%s: %s (or auto, one per CPU)", ck->ck_name,
		    cause);
		free(cause);
		return (-1);
	}
	return (0);
}

/* Every address is checked; the good ones are kept, the bad ones named. */
static int
confkey_set_listen(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct service_conf	*sc = ps->ps_svc;
	struct listen_conf	*lc;
	char			*cause;
	int			 i, rv = 0;

	(void)field;
	sc->sc_listen_seen = 1;
	for (i = 0; i < nv; i++) {
		lc = xcalloc(1, sizeof(*lc));
		lc->lc_text = xstrdup(v[i].text);
		lc->lc_file = ps->ps_file;
		lc->lc_line = ps->ps_line;
		if (strncmp(v[i].text, "fd:", 3) == 0)
			lc->lc_fdname = lc->lc_text + 3;
		if (lc->lc_fdname != NULL ? sockact_parse_name(lc->lc_fdname,
		    &cause) != 0 : addr_parse_listen(v[i].text, &lc->lc_addr,
		    &cause) != 0) {
			confkey_error(ps, "%s: %s", ck->ck_name, cause);
			free(cause);
			free(lc->lc_text);
			free(lc);
			rv = -1;
			continue;
		}
		TAILQ_INSERT_TAIL(&sc->sc_listens, lc, lc_entry);
	}
	return (rv);
}

static int
confkey_set_module(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	ps->ps_svc->sc_module_line = ps->ps_line;
	return (confkey_set_value(ps, ck, v, nv, field));
}

static int
confkey_set_protocol(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	(void)ck;
	(void)nv;
	if (strcmp(v[0].text, "tcp") == 0)
		*(int *)field = EVI_PROTO_TCP;
	else if (strcmp(v[0].text, "udp") == 0)
		*(int *)field = EVI_PROTO_UDP;
	else {
		confkey_error(ps, "invalid protocol \"%s\" (expected tcp or "
		    "udp)", v[0].text);
		return (-1);
	}
	return (0);
}

/* Reads an only_from / no_access list, every entry checked. */
static int
confkey_set_acl(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct acl_entry	 e;
	char			*cause;
	int			 i, rv = 0;

	acl_free(field);
	for (i = 0; i < nv; i++) {
		if (acl_parse_entry(v[i].text, &e, &cause) != 0) {
			confkey_error(ps, "%s: %s", ck->ck_name, cause);
			free(cause);
			rv = -1;
			continue;
		}
		acl_add(field, &e);
	}
	return (rv);
}

/* Reads "RATE [BURST]"; the burst defaults to one second's worth. */
static int
confkey_set_rate(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct rate_conf	*rc = field;
	long long		 burst;
	char			*cause;

	if (nv < 1 || nv > 2) {
		confkey_error(ps, "%s takes a rate and an optional burst, as "
		    "\"%s = 10/s 20\"", ck->ck_name, ck->ck_name);
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
	confkey_error(ps, "%s: %s", ck->ck_name, cause);
	free(cause);
	return (-1);
}

/* Reads proxy_protocol: which PROXY header versions to accept. */
static int
confkey_set_proxy(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	static const char *const words[] = { "no", "v1", "v2", "any" };
	size_t	i;

	(void)nv;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcmp(v[0].text, words[i]) == 0) {
			*(long long *)field = (long long)i;
			return (0);
		}
	}
	confkey_error(ps, "invalid %s \"%s\" (expected no, v1, v2 or any)",
	    ck->ck_name, v[0].text);
	return (-1);
}

static int
confkey_set_banner(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	if (strlen(v[0].text) > 512 || strpbrk(v[0].text, "\r\n")) {
		confkey_error(ps, "%s must be one line of at most 512 "
		    "characters", ck->ck_name);
		return (-1);
	}
	return (confkey_set_value(ps, ck, v, nv, field));
}
