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
 * Service instances: what one worker runs for one "service" block.  It
 * holds the module's state, the live connections, the module's handlers
 * and the counters.  This file also answers the module's questions about
 * its service: name, state, options, event base, and its log.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "evinetd.h"

static struct evi_service *
service_alloc(struct event_base *base, struct service_conf *sc)
{
	struct evi_service	*svc;

	svc = xcalloc(1, sizeof(*svc));
	svc->s_base = base;
	svc->s_conf = sc;
	svc->s_mod = sc->sc_module->m_def;
	svc->s_ops.conn_open = svc->s_mod->conn_open;
	svc->s_ops.conn_read = svc->s_mod->conn_read;
	svc->s_ops.conn_drained = svc->s_mod->conn_drained;
	svc->s_ops.conn_eof = svc->s_mod->conn_eof;
	svc->s_ops.conn_close = svc->s_mod->conn_close;
	TAILQ_INIT(&svc->s_conns);
	TAILQ_INIT(&svc->s_handlers);
	TAILQ_INIT(&svc->s_proxy_waits);
	return (svc);
}

/*
 * Runs the module's init, turning a refusal into the one message both
 * "-n" and a starting worker give the user.
 */
static int
service_init(struct evi_service *svc, char **cause)
{
	if (svc->s_mod->init == NULL) {
		svc->s_inited = 1;
		return (0);
	}
	if (svc->s_mod->init(svc, &svc->s_state) != 0) {
		xasprintf(cause, "module \"%s\" refused the service: %s",
		    svc->s_mod->name, svc->s_error != NULL ? svc->s_error :
		    "init failed (the module gave no reason)");
		handler_remove_all(svc);
		return (-1);
	}
	svc->s_inited = 1;
	return (0);
}

/* Creates a worker's instance of a service and initialises its module. */
struct evi_service *
service_new(struct worker *w, struct service_conf *sc, char **cause)
{
	struct evi_service	*svc;

	svc = service_alloc(w->w_base, sc);
	svc->s_worker = w;
	svc->s_index = sc->sc_index;
	svc->s_stats = stats_slot(w->w_stats, w->w_proc, sc->sc_index);
	if (service_init(svc, cause) != 0) {
		free(svc->s_error);
		free(svc);
		return (NULL);
	}
	return (svc);
}

/* Undoes service_new once its connections are gone. */
void
service_free(struct evi_service *svc)
{
	proxy_close_all(svc);
	limits_service_free(svc);
	if (svc->s_inited && svc->s_mod->fini != NULL)
		svc->s_mod->fini(svc, svc->s_state);
	handler_remove_all(svc);
	free(svc->s_error);
	free(svc);
}

/*
 * The operator's switch (evinetdctl disable, enable, drain): while it is
 * on, the listener and the datagram path refuse new clients with reason
 * "disabled"; live connections go on.  Logged only when it changes, so a
 * repeated command leaves no noise.
 */
void
service_set_disabled(struct evi_service *svc, int disabled)
{
	disabled = disabled != 0;
	if (svc->s_disabled == disabled)
		return;
	svc->s_disabled = disabled;
	if (disabled)
		log_info("service \"%s\": disabled; %s", svc->s_conf->sc_name,
		    svc->s_conf->sc_protocol == EVI_PROTO_UDP ?
		    "datagrams are dropped" : "new connections are refused");
	else
		log_info("service \"%s\": enabled", svc->s_conf->sc_name);
}

/*
 * Trial init and fini on a private event base, so a module's own checks
 * (a missing file, say) are reported by "-n" and before a reload commits.
 */
int
service_check_init(struct service_conf *sc, char **cause)
{
	struct event_base	*base;
	struct evi_service	*svc;
	struct svc_stats	 trial;
	int			 rv;

	memset(&trial, 0, sizeof(trial));
	if ((base = event_base_new()) == NULL) {
		xasprintf(cause, "cannot create an event base");
		return (-1);
	}
	svc = service_alloc(base, sc);
	svc->s_stats = &trial;
	rv = service_init(svc, cause);
	if (rv == 0)
		service_free(svc);
	else {
		free(svc->s_error);
		free(svc);
	}
	event_base_free(base);
	return (rv);
}

const char *
evi_service_name(const struct evi_service *svc)
{
	return (svc->s_conf->sc_name);
}

void *
evi_service_state(const struct evi_service *svc)
{
	return (svc->s_state);
}

struct event_base *
evi_service_base(const struct evi_service *svc)
{
	return (svc->s_base);
}

int
evi_service_fail(struct evi_service *svc, const char *fmt, ...)
{
	va_list	ap;

	free(svc->s_error);
	va_start(ap, fmt);
	xvasprintf(&svc->s_error, fmt, ap);
	va_end(ap);
	return (-1);
}

/* A module's line at the syslog priority it asked for. */
static void __attribute__((format(printf, 2, 3)))
service_log(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

void
evi_log(const struct evi_service *svc, int level, const char *fmt, ...)
{
	const char	*name = evi_service_name(svc);
	char		*msg;
	va_list		 ap;

	if (level == EVI_LOG_DEBUG && log_getverbose() < 1)
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	switch (level) {
	case EVI_LOG_DEBUG:
		service_log(LOG_DEBUG, "service \"%s\": %s", name, msg);
		break;
	case EVI_LOG_INFO:
		service_log(LOG_INFO, "service \"%s\": %s", name, msg);
		break;
	case EVI_LOG_WARN:
		service_log(LOG_WARNING, "service \"%s\": warning: %s", name,
		    msg);
		break;
	default:
		service_log(LOG_ERR, "service \"%s\": %s", name, msg);
		break;
	}
	free(msg);
}

/* Finds a declared option; asking for an undeclared one is a module bug. */
static const struct optval *
service_optval(const struct evi_service *svc, const char *name)
{
	const struct service_conf	*sc = svc->s_conf;
	size_t				 i;

	for (i = 0; i < sc->sc_noptvals; i++) {
		if (strcmp(sc->sc_optvals[i].ov_opt->name, name) == 0)
			return (&sc->sc_optvals[i]);
	}
	log_warnx("service \"%s\": module \"%s\" asked for option \"%s\", "
	    "which it does not declare", sc->sc_name, svc->s_mod->name, name);
	return (NULL);
}

const char *
evi_opt_string(const struct evi_service *svc, const char *name)
{
	const struct optval	*ov = service_optval(svc, name);

	return (ov != NULL && ov->ov_set ? ov->ov_str : NULL);
}

long long
evi_opt_int(const struct evi_service *svc, const char *name)
{
	const struct optval	*ov = service_optval(svc, name);

	return (ov != NULL && ov->ov_set ? ov->ov_num : 0);
}

int
evi_opt_bool(const struct evi_service *svc, const char *name)
{
	return (evi_opt_int(svc, name) != 0);
}

size_t
evi_opt_address_count(const struct evi_service *svc, const char *name)
{
	const struct optval	*ov = service_optval(svc, name);

	return (ov != NULL && ov->ov_set ? ov->ov_naddrs : 0);
}

const struct sockaddr *
evi_opt_address(const struct evi_service *svc, const char *name, size_t i,
    socklen_t *len)
{
	const struct optval	*ov = service_optval(svc, name);

	if (ov == NULL || !ov->ov_set || i >= ov->ov_naddrs)
		return (NULL);
	if (len != NULL)
		*len = addr_len(&ov->ov_addrs[i].sa);
	return (&ov->ov_addrs[i].sa);
}

size_t
evi_service_max_input(const struct evi_service *svc)
{
	return ((size_t)svc->s_conf->sc_max_input);
}

size_t
evi_service_max_output(const struct evi_service *svc)
{
	return ((size_t)svc->s_conf->sc_max_output);
}

int
evi_opt_isset(const struct evi_service *svc, const char *name)
{
	const struct optval	*ov = service_optval(svc, name);

	return (ov != NULL && ov->ov_set);
}

const char *
evi_close_reason_string(enum evi_close_reason reason)
{
	static const char *names[EVI_CLOSE_NREASONS_ALL] = {
		"eof", "reset", "error", "timeout", "shutdown", "limit",
		"module", "module_error", "refused", "connect_timeout",
		"unreachable", "admin"
	};

	if ((unsigned int)reason >= EVI_CLOSE_NREASONS_ALL)
		return ("unknown");
	return (names[reason]);
}
