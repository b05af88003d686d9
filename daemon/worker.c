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
 * A worker: one event base and everything served on it, meaning the
 * service instances, their listeners' events and their connections.
 * Nothing in the serving path is global, so one process can hold one
 * worker today and a supervisor can run several without a rewrite.
 */

#include "config.h"

#include <sys/time.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

static void	worker_stop_timeout(evutil_socket_t, short, void *);

/*
 * Which services a worker serves: all of them in a single process, else
 * one isolated service, or the shared group of those not isolated.
 */
int
worker_serves(const struct service_conf *sc, const struct service_conf *group,
    int single)
{
	/* A wait service's program is the supervisor's to run. */
	if (sc->sc_exec.ex_wait && sc->sc_exec.ex_program != NULL)
		return (0);
	if (single)
		return (1);
	if (group != NULL)
		return (sc == group);
	return (!sc->sc_isolate);
}

/*
 * Which sockets of a served service a worker accepts on: with reuseport
 * each process of the group has its own, which the kernel balances; a
 * single process takes them all.
 */
int
worker_listens(const struct listener *l, size_t index, int single)
{
	return (single || l->l_index == -1 || (size_t)l->l_index == index);
}

/* Starts an instance of every service it serves and attaches listeners. */
struct worker *
worker_new(struct event_base *base, struct config *cf,
    const struct worker_spec *ws, char **cause)
{
	struct worker		*w;
	struct service_conf	*sc;
	struct evi_service	*svc;
	struct listener		*l;
	char			*why;

	w = xcalloc(1, sizeof(*w));
	spawn_chan_init(&w->w_spawn);
	w->w_base = base;
	w->w_config = cf;
	w->w_global = ws->ws_global;
	w->w_stats = ws->ws_stats;
	w->w_proc = ws->ws_proc;
	stats_others_init(w, ws->ws_others, ws->ws_nothers);
	TAILQ_INIT(&w->w_services);
	evtimer_assign(&w->w_stop_timer, base, worker_stop_timeout, w);
	TAILQ_INIT(&w->w_dirty);
	event_assign(&w->w_flush, base, -1, 0, conn_flush_dirty, w);
	timerq_init(&w->w_timers, base);
	gettimeofday(&w->w_start, NULL);
	limits_worker_init(w);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (!worker_serves(sc, ws->ws_group, ws->ws_single))
			continue;
		if ((svc = service_new(w, sc, &why)) == NULL) {
			xasprintf(cause, "%s:%d: service \"%s\": %s",
			    sc->sc_file, sc->sc_line, sc->sc_name, why);
			free(why);
			worker_free(w);
			return (NULL);
		}
		TAILQ_INSERT_TAIL(&w->w_services, svc, s_entry);
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry) {
			if (worker_listens(l, ws->ws_index, ws->ws_single))
				listener_attach(l, svc);
		}
	}
	return (w);
}

/* Closes every connection of the worker, telling modules why. */
static void
worker_close_conns(struct worker *w, enum evi_close_reason reason)
{
	struct evi_service	*svc;
	struct evi_conn		*c;

	w->w_closing = 1;	/* evi_connect refuses from close callbacks */
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		proxy_close_all(svc);
		while ((c = TAILQ_FIRST(&svc->s_conns)) != NULL)
			conn_close(c, reason);
	}
}

/*
 * Stops accepting: detaches the accept events and closes this process's
 * copies of the listening sockets.  Other processes (new workers after a
 * reload) keep theirs, so the sockets stay open and nothing is refused.
 */
static void
worker_detach_all(struct worker *w)
{
	struct evi_service	*svc;
	struct listener		*l;

	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		TAILQ_FOREACH(l, &svc->s_conf->sc_listeners, l_entry) {
			listener_detach(l);
			if (l->l_fd != -1) {
				close(l->l_fd);
				l->l_fd = -1;
			}
		}
	}
}

static void
worker_stop_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)events;
	log_info("shutdown timeout: closing %llu connection%s",
	    (unsigned long long)w->w_nconns, w->w_nconns == 1 ? "" : "s");
	w->w_stopping = 2;
	worker_close_conns(w, EVI_CLOSE_SHUTDOWN);
	event_base_loopexit(w->w_base, NULL);
}

/*
 * Stops accepting; live connections may finish within ms milliseconds
 * (shutdown_timeout when stopping, drain_timeout after a reload).  With
 * "now" set, or on a second call, they are closed at once.
 */
void
worker_stop(struct worker *w, int now, long long ms)
{
	struct timeval	tv;
	uint64_t	n;

	if (w->w_stopping || now) {
		log_info("stopping now");
		w->w_stopping = 2;
		worker_close_conns(w, EVI_CLOSE_SHUTDOWN);
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	w->w_stopping = 1;
	worker_detach_all(w);
	n = w->w_nconns + w->w_npending;
	if (n == 0) {
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	log_info("stopping: waiting up to %lld ms for %llu connection%s",
	    ms, (unsigned long long)n, n == 1 ? "" : "s");
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&w->w_stop_timer, &tv);
}

/*
 * A draining worker exits once nothing is left: no connection, and no
 * client still sending its PROXY header (which a drain must not cut).
 */
void
worker_idle_check(struct worker *w)
{
	if (w->w_stopping == 1 && w->w_nconns == 0 && w->w_npending == 0) {
		log_info("all connections finished");
		event_base_loopexit(w->w_base, NULL);
	}
}

/* Called by conn_close, so a draining worker exits with its last conn. */
void
worker_conn_gone(struct worker *w)
{
	w->w_nconns--;
	worker_idle_check(w);
}

static void
worker_sig_stop(evutil_socket_t sig, short events, void *arg)
{
	struct worker	*w = arg;

	(void)events;
	if (w->w_single)
		log_info("received %s, stopping", sig == SIGINT ? "SIGINT" :
		    "SIGTERM");
	worker_stop(w, 0, w->w_config->c_shutdown_ms);
}

/* A new generation serves: finish what we have, within drain_timeout. */
static void
worker_sig_drain(evutil_socket_t sig, short events, void *arg)
{
	struct worker	*w = arg;

	(void)sig;
	(void)events;
	/* A drain never turns a graceful stop into an immediate one. */
	if (!w->w_stopping) {
		limits_publish(w);
		worker_stop(w, 0, w->w_config->c_drain_ms);
	}
	/* Either way it accepts no more: the reload may be reported. */
	chan_worker_draining(w);
}

/* The signals a worker handles; blocked while it has no handlers. */
void
worker_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

static void
worker_sig_dump(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	stats_dump(arg);
}

static void
worker_sig_hup(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	log_warnx("received SIGHUP: a single-process evinetd (-X) cannot "
	    "reload; restart it, or run it without -X");
}

/*
 * Serves until stopped.  In a worker process, TERM stops, USR2 drains
 * after a reload and USR1 dumps state, and readiness is reported to the
 * supervisor as our slot and pid on readyfd.  In a single process (-X)
 * INT stops too and HUP is refused.  Returns the exit code.
 */
int
worker_run(struct worker *w, int readyfd, size_t slot, int single)
{
	struct event	*ev[5];
	int		 sigs[5] = { SIGTERM, SIGUSR2, SIGUSR1, SIGINT, SIGHUP };
	event_callback_fn cbs[5] = { worker_sig_stop, worker_sig_drain,
	    worker_sig_dump, worker_sig_stop, worker_sig_hup };
	struct event_base *base = w->w_base;
	struct ready_msg msg;
	sigset_t	 set;
	int		 i, n = single ? 5 : 3;

	w->w_single = single;
	for (i = 0; i < n; i++) {
		if ((ev[i] = evsignal_new(base, sigs[i], cbs[i], w)) == NULL ||
		    evsignal_add(ev[i], NULL) != 0)
			fatalx("cannot install signal handlers");
	}
	worker_sigset(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (readyfd != -1) {
		memset(&msg, 0, sizeof(msg));
		msg.rm_slot = slot;
		msg.rm_pid = getpid();
		if (write(readyfd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			log_warn("cannot tell the supervisor we are ready");
		close(readyfd);
	}
	if (event_base_dispatch(base) == -1)
		log_warnx("event loop failed");
	/*
	 * On our way out: signals from now on stay pending, unhandled,
	 * until we are gone (event_free would restore their default
	 * action, and a late TERM or USR1 would kill us mid-cleanup).
	 */
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < n; i++)
		event_free(ev[i]);
	worker_free(w);
	event_base_free(base);
	return (EVINETD_EXIT_OK);
}

/* Tears the worker down: connections, then services in reverse order. */
void
worker_free(struct worker *w)
{
	struct evi_service	*svc;
	struct service_conf	*sc;
	struct listener		*l;

	if (w == NULL)
		return;
	w->w_stopping = 0;
	worker_close_conns(w, EVI_CLOSE_SHUTDOWN);
	event_del(&w->w_stop_timer);
	event_del(&w->w_flush);
	deadline_del(&w->w_timers, &w->w_tick);
	TAILQ_FOREACH(sc, &w->w_config->c_services, sc_entry) {
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			listener_detach(l);
	}
	while ((svc = TAILQ_LAST(&w->w_services, evi_services)) != NULL) {
		TAILQ_REMOVE(&w->w_services, svc, s_entry);
		service_free(svc);
	}
	timerq_free(&w->w_timers);
	relay_pipes_free(w);
	chan_worker_free(w);
	execconn_free(w);
	free(w->w_others);
	free(w->w_other_index);
	free(w->w_other_carry);
	free(w);
}
