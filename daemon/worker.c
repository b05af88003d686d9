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

#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

static void	worker_stop_timeout(evutil_socket_t, short, void *);

/* Starts an instance of every service and attaches its listeners. */
struct worker *
worker_new(struct event_base *base, struct config *cf, char **cause)
{
	struct worker		*w;
	struct service_conf	*sc;
	struct evi_service	*svc;
	struct listener		*l;
	char			*why;

	w = xcalloc(1, sizeof(*w));
	w->w_base = base;
	w->w_config = cf;
	TAILQ_INIT(&w->w_services);
	evtimer_assign(&w->w_stop_timer, base, worker_stop_timeout, w);
	gettimeofday(&w->w_start, NULL);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if ((svc = service_new(w, sc, &why)) == NULL) {
			xasprintf(cause, "%s:%d: service \"%s\": module \"%s\" "
			    "refused the service: %s", sc->sc_file,
			    sc->sc_line, sc->sc_name, sc->sc_module->m_def->name,
			    why);
			free(why);
			worker_free(w);
			return (NULL);
		}
		TAILQ_INSERT_TAIL(&w->w_services, svc, s_entry);
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			listener_attach(l, svc);
	}
	return (w);
}

/* Closes every connection of the worker, telling modules why. */
static void
worker_close_conns(struct worker *w, enum evi_close_reason reason)
{
	struct evi_service	*svc;
	struct evi_conn		*c;

	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		while ((c = TAILQ_FIRST(&svc->s_conns)) != NULL)
			conn_close(c, reason);
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
 * Stops accepting; live connections may finish within shutdown_timeout.
 * With "now" set, or on a second call, they are closed at once.
 */
void
worker_stop(struct worker *w, int now)
{
	struct timeval	tv;
	long long	ms = w->w_config->c_shutdown_ms;

	if (w->w_stopping || now) {
		log_info("stopping now");
		w->w_stopping = 2;
		worker_close_conns(w, EVI_CLOSE_SHUTDOWN);
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	w->w_stopping = 1;
	listener_close_all(w->w_config);
	if (w->w_nconns == 0) {
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	log_info("stopping: waiting up to %lld ms for %llu connection%s",
	    ms, (unsigned long long)w->w_nconns, w->w_nconns == 1 ? "" : "s");
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&w->w_stop_timer, &tv);
}

/* Called by conn_close, so a draining worker exits with its last conn. */
void
worker_conn_gone(struct worker *w)
{
	w->w_nconns--;
	if (w->w_stopping == 1 && w->w_nconns == 0) {
		log_info("all connections finished");
		event_base_loopexit(w->w_base, NULL);
	}
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
	TAILQ_FOREACH(sc, &w->w_config->c_services, sc_entry) {
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			listener_detach(l);
	}
	while ((svc = TAILQ_LAST(&w->w_services, evi_services)) != NULL) {
		TAILQ_REMOVE(&w->w_services, svc, s_entry);
		service_free(svc);
	}
	free(w);
}
