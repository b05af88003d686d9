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
 * The control socket's commands, run in the supervisor.  What the
 * supervisor knows (the config, the counters in shared memory, the
 * workers it forked) it answers at once; what only workers know (their
 * connections) it asks every running worker over its channel and
 * answers when all have replied, or after CTLCMD_WAIT_MS without the
 * silent ones.  disable, enable and drain are answered only once every
 * worker applied them, so a client connecting after the answer is
 * refused for sure.  The operator's disabled services are kept by name,
 * so a reload keeps them, and a worker forked later inherits them.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <jansson.h>

#include "evinetd.h"

#define CTLCMD_WAIT_MS		5000	/* for workers' answers */
#define CTLCMD_POLL_MS		50	/* drain: live connections */
#define CTLCMD_DRAIN_MS		60000	/* drain's default timeout */
#define CTLCMD_DRAIN_MAX_MS	(7LL * 24 * 3600 * 1000)

static void	ctlcmd_done(struct ctl_client *);

static void
ctlcmd_timer_set(struct ctl_client *cc, long long ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&cc->cc_timer, &tv);
}

/* Forgets what a client waits on (its answer is written, or it left). */
void
ctlcmd_cancel(struct ctl_client *cc)
{
	struct ctl_state	*cs;
	size_t			 i;

	if (cc->cc_timer_set) {
		event_del(&cc->cc_timer);
		cc->cc_timer_set = 0;
	}
	for (i = 0; i < cc->cc_nwaits; i++)
		json_decref(cc->cc_waits[i].cw_reply);
	free(cc->cc_waits);
	cc->cc_waits = NULL;
	cc->cc_nwaits = cc->cc_npending = 0;
	cc->cc_tag = 0;
	cc->cc_reload_wait = 0;
	if (cc->cc_draining) {
		TAILQ_FOREACH(cs, &cc->cc_ctl->ctl_states, cs_entry) {
			if (strcmp(cs->cs_name, cc->cc_arg) == 0)
				cs->cs_drains--;
		}
		cc->cc_draining = 0;
	}
	free(cc->cc_arg);
	cc->cc_arg = NULL;
}

static struct ctl_state *
ctlcmd_state(const struct control *ctl, const char *name)
{
	struct ctl_state	*cs;

	TAILQ_FOREACH(cs, &ctl->ctl_states, cs_entry) {
		if (strcmp(cs->cs_name, name) == 0)
			return (cs);
	}
	return (NULL);
}

/* "serving", "disabled" or "draining", as the operator left it. */
const char *
control_service_state(const struct supervisor *sup, const char *name)
{
	const struct ctl_state	*cs;

	if (sup->s_ctl == NULL ||
	    (cs = ctlcmd_state(sup->s_ctl, name)) == NULL)
		return ("serving");
	return (cs->cs_drains > 0 ? "draining" : "disabled");
}

/* In a new worker process: the services the operator disabled stay so. */
void
control_worker_init(struct supervisor *sup, struct worker *w)
{
	struct evi_service	*svc;

	if (sup->s_ctl == NULL)
		return;
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		if (ctlcmd_state(sup->s_ctl, svc->s_conf->sc_name) != NULL)
			service_set_disabled(svc, 1);
	}
}

static void
ctlcmd_timer(evutil_socket_t fd, short events, void *arg)
{
	struct ctl_client	*cc = arg;
	size_t			 i;

	(void)fd;
	(void)events;
	cc->cc_timer_set = 0;
	if (cc->cc_npending > 0) {
		/* The silent ones count as gone. */
		for (i = 0; i < cc->cc_nwaits; i++)
			cc->cc_waits[i].cw_done = 1;
		cc->cc_npending = 0;
	}
	ctlcmd_done(cc);
}

/*
 * Sends one request to every running worker of every generation (or to
 * only's), then waits for their replies; ctlcmd_done runs when all are
 * in, at once if there is nobody to ask.
 */
static void
ctlcmd_ask(struct ctl_client *cc, enum chan_type type, const char *arg,
    const struct wproc *only)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	struct generation	*g;
	struct wproc		*p;
	struct ctl_wait		*cw;

	cc->cc_tag = ++cc->cc_ctl->ctl_tags;
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(p, &g->g_procs, p_entry) {
			if (p->p_pid <= 0 || (only != NULL && p != only) ||
			    chan_send(p, type, cc->cc_tag, arg) != 0)
				continue;
			cc->cc_waits = xreallocarray(cc->cc_waits,
			    cc->cc_nwaits + 1, sizeof(*cc->cc_waits));
			cw = &cc->cc_waits[cc->cc_nwaits++];
			memset(cw, 0, sizeof(*cw));
			cw->cw_proc = p;
			cw->cw_pid = p->p_pid;
			cc->cc_npending++;
		}
	}
	if (cc->cc_npending == 0) {
		ctlcmd_done(cc);
		return;
	}
	evtimer_assign(&cc->cc_timer, sup->s_base, ctlcmd_timer, cc);
	cc->cc_timer_set = 1;
	ctlcmd_timer_set(cc, CTLCMD_WAIT_MS);
}

static struct ctl_client *
ctlcmd_waiting(struct supervisor *sup, uint64_t tag)
{
	struct ctl_client	*cc;

	TAILQ_FOREACH(cc, &sup->s_ctl->ctl_clients, cc_entry) {
		if (cc->cc_state == CTL_BUSY && cc->cc_tag == tag &&
		    cc->cc_npending > 0)
			return (cc);
	}
	return (NULL);
}

/* A worker answered: the command goes on when the last one has. */
void
control_reply(struct supervisor *sup, const struct wproc *p, uint64_t tag,
    json_t *r)
{
	struct ctl_client	*cc;
	size_t			 i;

	if (sup->s_ctl == NULL || (cc = ctlcmd_waiting(sup, tag)) == NULL)
		return;
	for (i = 0; i < cc->cc_nwaits; i++) {
		if (cc->cc_waits[i].cw_proc != p || cc->cc_waits[i].cw_done)
			continue;
		cc->cc_waits[i].cw_reply = json_incref(r);
		cc->cc_waits[i].cw_done = 1;
		if (--cc->cc_npending == 0) {
			if (cc->cc_timer_set)
				event_del(&cc->cc_timer);
			cc->cc_timer_set = 0;
			ctlcmd_done(cc);
		}
		return;
	}
}

/* A worker is gone: nobody waits for it, nor keeps its address. */
void
control_proc_gone(struct supervisor *sup, const struct wproc *p)
{
	struct ctl_client	*cc, *next;
	size_t			 i;
	int			 done;

	if (sup->s_ctl == NULL)
		return;
	for (cc = TAILQ_FIRST(&sup->s_ctl->ctl_clients); cc != NULL;
	    cc = next) {
		next = TAILQ_NEXT(cc, cc_entry);
		done = 0;
		for (i = 0; i < cc->cc_nwaits; i++) {
			if (cc->cc_waits[i].cw_proc != p)
				continue;
			cc->cc_waits[i].cw_proc = NULL;
			if (!cc->cc_waits[i].cw_done) {
				cc->cc_waits[i].cw_done = 1;
				done = --cc->cc_npending == 0;
			}
		}
		if (done && cc->cc_state == CTL_BUSY) {
			if (cc->cc_timer_set)
				event_del(&cc->cc_timer);
			cc->cc_timer_set = 0;
			ctlcmd_done(cc);
		}
	}
}

/* The reply of the worker that was p (pid), if it answered. */
static json_t *
ctlcmd_reply_of(const struct ctl_client *cc, pid_t pid)
{
	size_t	i;

	for (i = 0; i < cc->cc_nwaits; i++) {
		if (cc->cc_waits[i].cw_pid == pid)
			return (cc->cc_waits[i].cw_reply);
	}
	return (NULL);
}

static const char *
ctlcmd_proc_state(const struct wproc *p)
{
	if (p->p_gen->g_draining)
		return ("draining");
	if (p->p_pid <= 0)
		return ("restarting");
	return (p->p_ready ? "serving" : "starting");
}

/* One worker process, for status: the supervisor's facts, and its own. */
static json_t *
ctlcmd_proc_json(const struct ctl_client *cc, const struct wproc *p)
{
	const struct generation	*g = p->p_gen;
	struct service_conf	*sc;
	json_t			*names, *r, *conns = NULL, *fds = NULL;

	names = json_array();
	TAILQ_FOREACH(sc, &g->g_cf->c_services, sc_entry) {
		if (worker_serves(sc, p->p_group, 0))
			json_array_append_new(names, json_string(sc->sc_name));
	}
	if (p->p_pid > 0 && (r = ctlcmd_reply_of(cc, p->p_pid)) != NULL) {
		conns = json_object_get(r, "connections");
		fds = json_object_get(r, "open_fds");
	}
	return (json_pack("{s:I, s:I, s:s, s:s, s:o, s:O?, s:O?}",
	    "pid", (json_int_t)(p->p_pid > 0 ? p->p_pid : 0),
	    "generation", (json_int_t)g->g_id,
	    "group", p->p_group != NULL ? p->p_group->sc_name : "shared",
	    "state", ctlcmd_proc_state(p), "services", names,
	    "connections", json_is_integer(conns) ? conns : NULL,
	    "open_fds", json_is_integer(fds) ? fds : NULL));
}

static void
ctlcmd_status_done(struct ctl_client *cc)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	const struct global_stats *gl = &sup->s_gl;
	struct generation	*g;
	struct wproc		*p;
	struct timeval		 now;
	json_t			*workers, *r;
	long long		 up;

	workers = json_array();
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		if (g->g_failed)
			continue;
		TAILQ_FOREACH(p, &g->g_procs, p_entry)
			json_array_append_new(workers,
			    ctlcmd_proc_json(cc, p));
	}
	gettimeofday(&now, NULL);
	up = (long long)(now.tv_sec - gl->gl_start.tv_sec) * 1000 +
	    (now.tv_usec - gl->gl_start.tv_usec) / 1000;
	r = json_pack("{s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, "
	    "s:o}", "version", PACKAGE_VERSION,
	    "pid", (json_int_t)getpid(),
	    "started", (json_int_t)gl->gl_start.tv_sec,
	    "uptime_ms", (json_int_t)(up > 0 ? up : 0),
	    "config", sup->s_config_path,
	    "generation", (json_int_t)(sup->s_cur != NULL ?
	    sup->s_cur->g_id : 0),
	    "reloads_ok", (json_int_t)gl->gl_reloads_ok,
	    "reloads_failed", (json_int_t)gl->gl_reloads_failed,
	    "worker_restarts", (json_int_t)gl->gl_restarts,
	    "open_fds", (json_int_t)stats_count_fds(),
	    "workers", workers);
	control_answer(cc, 1, r, NULL, NULL);
}

/* Every worker's connections, one list. */
static void
ctlcmd_connections_done(struct ctl_client *cc)
{
	json_t	*all, *a, *c;
	size_t	 i, j;

	all = json_array();
	for (i = 0; i < cc->cc_nwaits; i++) {
		if (cc->cc_waits[i].cw_reply == NULL)
			continue;
		a = json_object_get(cc->cc_waits[i].cw_reply, "connections");
		json_array_foreach(a, j, c) {
			if (json_is_object(c))
				json_array_append(all, c);
		}
	}
	control_answer(cc, 1, all, NULL, NULL);
}

/* A drain: done when the service has no live connection anywhere. */
static void
ctlcmd_drain_poll(evutil_socket_t fd, short events, void *arg)
{
	struct ctl_client	*cc = arg;
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	uint64_t		 n, waited = timerq_now() - cc->cc_started;
	char			 t[32];

	(void)fd;
	(void)events;
	cc->cc_timer_set = 0;
	if (ctlcmd_state(cc->cc_ctl, cc->cc_arg) == NULL) {
		control_fail(cc, "service \"%s\" was enabled while it drained",
		    cc->cc_arg);
		return;
	}
	n = stats_sup_active(sup, cc->cc_arg, cc->cc_protocol);
	if (n == 0) {
		control_answer(cc, 1, json_pack("{s:s, s:s, s:b, s:I}",
		    "service", cc->cc_arg, "state", "disabled", "drained", 1,
		    "waited_ms", (json_int_t)waited), NULL, NULL);
		return;
	}
	if ((long long)waited >= cc->cc_timeout_ms) {
		if (cc->cc_timeout_ms % 1000 == 0)
			(void)snprintf(t, sizeof(t), "%llds",
			    cc->cc_timeout_ms / 1000);
		else
			(void)snprintf(t, sizeof(t), "%lldms",
			    cc->cc_timeout_ms);
		control_fail(cc, "service \"%s\" still has %" PRIu64
		    " connection%s after %s", cc->cc_arg, n, n == 1 ? "" : "s",
		    t);
		return;
	}
	evtimer_assign(&cc->cc_timer, sup->s_base, ctlcmd_drain_poll, cc);
	cc->cc_timer_set = 1;
	ctlcmd_timer_set(cc, CTLCMD_POLL_MS);
}

static void
ctlcmd_close_done(struct ctl_client *cc)
{
	json_t	*svc = NULL;

	if (cc->cc_nwaits == 1 && cc->cc_waits[0].cw_reply != NULL)
		svc = json_object_get(cc->cc_waits[0].cw_reply, "service");
	if (!json_is_string(svc)) {
		control_fail(cc, "no connection %s", cc->cc_arg);
		return;
	}
	control_answer(cc, 1, json_pack("{s:s, s:O}", "id", cc->cc_arg,
	    "service", svc), NULL, NULL);
}

/* What a command does once every worker it asked has answered. */
static void
ctlcmd_done(struct ctl_client *cc)
{
	switch (cc->cc_cmd) {
	case CTL_STATUS:
		ctlcmd_status_done(cc);
		break;
	case CTL_CONNECTIONS:
		ctlcmd_connections_done(cc);
		break;
	case CTL_DISABLE:
	case CTL_ENABLE:
		control_answer(cc, 1, json_pack("{s:s, s:s}", "service",
		    cc->cc_arg, "state", cc->cc_cmd == CTL_DISABLE ?
		    "disabled" : "serving"), NULL, NULL);
		break;
	case CTL_DRAIN:
		ctlcmd_drain_poll(-1, 0, cc);
		break;
	case CTL_CLOSE:
		ctlcmd_close_done(cc);
		break;
	default:
		control_fail(cc, "internal error: nothing to wait for");
		break;
	}
}

/* The service of the serving config named name, or NULL after a reply. */
static const struct service_conf *
ctlcmd_service(struct ctl_client *cc, const char *name)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	struct service_conf	*sc;

	if (sup->s_cur == NULL) {
		control_fail(cc, "evinetd is still starting");
		return (NULL);
	}
	TAILQ_FOREACH(sc, &sup->s_cur->g_cf->c_services, sc_entry) {
		if (strcmp(sc->sc_name, name) == 0)
			return (sc);
	}
	control_fail(cc, "no service \"%s\"", name);
	return (NULL);
}

/* disable, enable and drain: the state, then every worker told. */
static void
ctlcmd_disable(struct ctl_client *cc, const struct ctl_request *req)
{
	struct control		*ctl = cc->cc_ctl;
	const struct service_conf *sc;
	struct ctl_state	*cs;
	char			*cause;

	if ((sc = ctlcmd_service(cc, req->cr_args[0])) == NULL)
		return;
	cc->cc_arg = xstrdup(sc->sc_name);
	cc->cc_protocol = sc->sc_protocol;
	cs = ctlcmd_state(ctl, sc->sc_name);
	if (cc->cc_cmd == CTL_ENABLE) {
		if (cs != NULL) {
			TAILQ_REMOVE(&ctl->ctl_states, cs, cs_entry);
			free(cs->cs_name);
			free(cs);
			log_info("control: service \"%s\" enabled",
			    sc->sc_name);
		}
		ctlcmd_ask(cc, CHAN_ENABLE, sc->sc_name, NULL);
		return;
	}
	if (cc->cc_cmd == CTL_DRAIN) {
		cc->cc_timeout_ms = CTLCMD_DRAIN_MS;
		if (req->cr_nargs > 1 && value_duration(req->cr_args[1], 0,
		    CTLCMD_DRAIN_MAX_MS, &cc->cc_timeout_ms, &cause) != 0) {
			control_fail(cc, "drain timeout: %s", cause);
			free(cause);
			return;
		}
	}
	if (cs == NULL) {
		cs = xcalloc(1, sizeof(*cs));
		cs->cs_name = xstrdup(sc->sc_name);
		TAILQ_INSERT_TAIL(&ctl->ctl_states, cs, cs_entry);
		log_info("control: service \"%s\" disabled%s", sc->sc_name,
		    cc->cc_cmd == CTL_DRAIN ? ", draining" : "");
	}
	if (cc->cc_cmd == CTL_DRAIN) {
		cs->cs_drains++;
		cc->cc_draining = 1;
		cc->cc_started = timerq_now();
	}
	ctlcmd_ask(cc, CHAN_DISABLE, sc->sc_name, NULL);
}

/* "services": the serving config, with totals from shared memory. */
static void
ctlcmd_services(struct ctl_client *cc)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	struct service_conf	*sc;
	struct listener		*l;
	struct evi_stats_service st;
	json_t			*a, *ls, *refused;
	unsigned int		 i;

	if (sup->s_cur == NULL) {
		control_fail(cc, "evinetd is still starting");
		return;
	}
	a = json_array();
	TAILQ_FOREACH(sc, &sup->s_cur->g_cf->c_services, sc_entry) {
		stats_sup_totals(sup, sc, &st);
		ls = json_array();
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			json_array_append_new(ls, json_string(l->l_name));
		refused = json_object();
		for (i = 0; i < EVI_REFUSE_NREASONS; i++)
			json_object_set_new(refused,
			    evi_refuse_reason_string(i),
			    json_integer((json_int_t)st.refused[i]));
		json_object_set_new(refused, "disabled",
		    json_integer((json_int_t)st.refused_disabled));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o, "
		    "s:b, s:s, s:I, s:I, s:o, s:I, s:I}", "name", sc->sc_name,
		    "module", sc->sc_module_name,
		    "protocol", sc->sc_protocol == EVI_PROTO_UDP ? "udp" :
		    "tcp", "listeners", ls, "tls", (int)st.tls,
		    "state", control_service_state(sup, sc->sc_name),
		    "active", (json_int_t)st.active,
		    "accepted", (json_int_t)st.accepted, "refused", refused,
		    "bytes_in", (json_int_t)st.bytes_in,
		    "bytes_out", (json_int_t)st.bytes_out));
	}
	control_answer(cc, 1, a, NULL, NULL);
}

/* "close PID-N": asks the worker with that pid to close its number N. */
static void
ctlcmd_close(struct ctl_client *cc, const char *id)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	struct generation	*g;
	struct wproc		*p;
	const char		*dash;
	char			*end;
	long			 pid;

	cc->cc_arg = xstrdup(id);
	errno = 0;
	pid = strtol(id, &end, 10);
	if (end == id || *end != '-' || errno != 0 || pid <= 0) {
		control_fail(cc, "connection id \"%s\" is not PID-NUMBER", id);
		return;
	}
	dash = end;
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(p, &g->g_procs, p_entry) {
			if (p->p_pid == (pid_t)pid) {
				ctlcmd_ask(cc, CHAN_CLOSE, dash + 1, p);
				return;
			}
		}
	}
	control_fail(cc, "no connection %s", id);
}

/*
 * "reload": as SIGHUP does, then the answer waits for the outcome of the
 * first reload that begins from now on.
 */
static void
ctlcmd_reload(struct ctl_client *cc)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;

	if (sup->s_stopping) {
		control_fail(cc, "evinetd is stopping");
		return;
	}
	cc->cc_reload_wait = 1;
	cc->cc_reload_after = sup->s_reloads;
	sup_reload_request(sup, "a reload request on the control socket");
}

/* A reload ended: its waiters hear how. errors is stolen. */
void
control_reload_done(struct supervisor *sup, uint64_t seq, int ok,
    unsigned int gen, const char *why, json_t *errors)
{
	struct ctl_client	*cc, *next;

	if (sup->s_ctl == NULL) {
		json_decref(errors);
		return;
	}
	for (cc = TAILQ_FIRST(&sup->s_ctl->ctl_clients); cc != NULL;
	    cc = next) {
		next = TAILQ_NEXT(cc, cc_entry);
		if (cc->cc_state != CTL_BUSY || !cc->cc_reload_wait ||
		    cc->cc_reload_after >= seq)
			continue;
		if (ok)
			control_answer(cc, 1, json_pack("{s:I}", "generation",
			    (json_int_t)gen), NULL, NULL);
		else
			control_answer(cc, 0, NULL, why, errors != NULL ?
			    json_deep_copy(errors) : NULL);
	}
	json_decref(errors);
}

/* A stop begins: waiting for a reload or a drain is pointless now. */
void
control_stopping(struct supervisor *sup)
{
	struct ctl_client	*cc, *next;

	if (sup->s_ctl == NULL)
		return;
	for (cc = TAILQ_FIRST(&sup->s_ctl->ctl_clients); cc != NULL;
	    cc = next) {
		next = TAILQ_NEXT(cc, cc_entry);
		if (cc->cc_state == CTL_BUSY &&
		    (cc->cc_reload_wait || cc->cc_draining))
			control_fail(cc, "evinetd is stopping");
	}
}

/*
 * What the command line decides (-M, -S) is what is in effect, whatever
 * the file says: the dump of a global key says so, and so does the
 * compiled-in module directory when the file sets none.
 */
static void
ctlcmd_config_override(json_t *global, const char *key, const char *value,
    const char *from, int if_unset)
{
	json_t	*k;
	size_t	 i;

	json_array_foreach(global, i, k) {
		if (!json_is_string(json_object_get(k, "key")) ||
		    strcmp(json_string_value(json_object_get(k, "key")),
		    key) != 0)
			continue;
		if (if_unset && !json_is_null(json_object_get(k, "value")))
			return;
		json_object_set_new(k, "value", json_pack("[s]", value));
		json_object_set_new(k, "from", json_string(from));
		return;
	}
}

static void
ctlcmd_config(struct ctl_client *cc)
{
	struct supervisor	*sup = cc->cc_ctl->ctl_sup;
	const struct control	*ctl = cc->cc_ctl;
	json_t			*r, *global;

	if (sup->s_cur == NULL) {
		control_fail(cc, "evinetd is still starting");
		return;
	}
	r = confdump(sup->s_cur->g_cf);
	global = json_object_get(r, "global");
	if (sup->s_module_dir_forced)
		ctlcmd_config_override(global, "module_dir",
		    sup->s_module_dir, "command line (-M)", 0);
	else
		ctlcmd_config_override(global, "module_dir",
		    sup->s_module_dir, "default", 1);
	if (sup->s_ctl_forced)
		ctlcmd_config_override(global, "control_socket",
		    ctl->ctl_path != NULL ? ctl->ctl_path : "none",
		    "command line (-S)", 0);
	json_object_set_new(r, "generation",
	    json_integer((json_int_t)sup->s_cur->g_id));
	control_answer(cc, 1, r, NULL, NULL);
}

/* Runs a parsed request; the client is answered now or later. */
void
ctlcmd_run(struct ctl_client *cc, const struct ctl_request *req)
{
	cc->cc_cmd = req->cr_cmd;
	switch (req->cr_cmd) {
	case CTL_STATUS:
		ctlcmd_ask(cc, CHAN_INFO, "", NULL);
		break;
	case CTL_SERVICES:
		ctlcmd_services(cc);
		break;
	case CTL_CONNECTIONS:
		if (req->cr_nargs > 0 &&
		    ctlcmd_service(cc, req->cr_args[0]) == NULL)
			return;
		ctlcmd_ask(cc, CHAN_CONNS, req->cr_nargs > 0 ?
		    req->cr_args[0] : "", NULL);
		break;
	case CTL_DISABLE:
	case CTL_ENABLE:
	case CTL_DRAIN:
		ctlcmd_disable(cc, req);
		break;
	case CTL_CLOSE:
		ctlcmd_close(cc, req->cr_args[0]);
		break;
	case CTL_RELOAD:
		ctlcmd_reload(cc);
		break;
	case CTL_CONFIG:
		ctlcmd_config(cc);
		break;
	case CTL_STOP:
		log_info("control: stop requested by uid %ld (pid %ld)",
		    (long)cc->cc_uid, (long)cc->cc_pid);
		cc->cc_stop = 1;
		control_answer(cc, 1, json_pack("{s:b}", "stopping", 1),
		    NULL, NULL);
		break;
	}
}
