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
 * "wait" services (wait = yes): one program serves the socket itself, as
 * inetd's wait services do (tftpd, talkd over UDP; a TCP one accepts on
 * the listening socket).  No worker is involved: the supervisor, which
 * owns the sockets, watches each such service's sockets, runs the
 * program on the one that became readable, and watches none of them
 * again until the program exits.  A program that keeps dying fast (in
 * less than WAITSVC_FAST_MS, not with status 0) is run again only after
 * a back-off that doubles up to WAITSVC_MAX_MS, and each death is logged:
 * a datagram it cannot handle never makes the daemon spin.
 *
 * The state is kept by service name, across reloads: a program that a
 * reload found running keeps its socket to itself until it exits.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

#define WAITSVC_FAST_MS		1000
#define WAITSVC_MIN_MS		100
#define WAITSVC_MAX_MS		30000

struct waitsvc {
	TAILQ_ENTRY(waitsvc)	 ws_entry;
	struct supervisor	*ws_sup;
	char			*ws_name;
	int			 ws_protocol;
	const struct service_conf *ws_sc;	/* the serving config's */
	struct event		*ws_evs;	/* one a listener */
	size_t			 ws_nevs;
	int			 ws_watching;
	pid_t			 ws_busy;	/* its program, or 0 */
	unsigned int		 ws_failures;	/* fast deaths in a row */
	struct event		 ws_backoff;
};

static void	waitsvc_watch(struct waitsvc *, int);
static void	waitsvc_again(struct supervisor *, struct waitsvc *,
		    const char *);

/* A socket of the service is readable: its program takes over. */
static void
waitsvc_ready_cb(evutil_socket_t fd, short events, void *arg)
{
	struct waitsvc		*ws = arg;
	struct spawn_child	*ch;

	(void)events;
	if (ws->ws_busy != 0 || ws->ws_sc == NULL)
		return;
	waitsvc_watch(ws, 0);
	if ((ch = spawn_wait(ws->ws_sup, ws->ws_sc, fd)) == NULL) {
		/* Not even started: as bad as a fast death. */
		ws->ws_failures++;
		waitsvc_again(ws->ws_sup, ws, "its program could not be run");
		return;
	}
	ws->ws_busy = ch->ch_pid;
}

/*
 * Watches the service's sockets again (on), or stops (off).  On makes
 * them non-blocking again: a program was given one blocking (spawn.c),
 * and the next config may hand it to a worker.
 */
static void
waitsvc_watch(struct waitsvc *ws, int on)
{
	size_t	i;

	if (ws->ws_watching == on)
		return;
	for (i = 0; i < ws->ws_nevs; i++) {
		if (on) {
			(void)evutil_make_socket_nonblocking(
			    event_get_fd(&ws->ws_evs[i]));
			event_add(&ws->ws_evs[i], NULL);
		} else
			event_del(&ws->ws_evs[i]);
	}
	ws->ws_watching = on;
}

static void
waitsvc_backoff_cb(evutil_socket_t fd, short events, void *arg)
{
	struct waitsvc	*ws = arg;

	(void)fd;
	(void)events;
	if (ws->ws_busy == 0 && ws->ws_sc != NULL)
		waitsvc_watch(ws, 1);
}

static struct waitsvc *
waitsvc_find(struct supervisor *sup, const char *name, int protocol)
{
	struct waitsvc	*ws;

	TAILQ_FOREACH(ws, &sup->s_waitsvcs, ws_entry) {
		if (ws->ws_protocol == protocol &&
		    strcmp(ws->ws_name, name) == 0)
			return (ws);
	}
	return (NULL);
}

/* Forgets the sockets of the config that served (they may close now). */
static void
waitsvc_unbind(struct waitsvc *ws)
{
	waitsvc_watch(ws, 0);
	free(ws->ws_evs);
	ws->ws_evs = NULL;
	ws->ws_nevs = 0;
	ws->ws_sc = NULL;
}

static void
waitsvc_drop(struct supervisor *sup, struct waitsvc *ws)
{
	waitsvc_unbind(ws);
	event_del(&ws->ws_backoff);
	TAILQ_REMOVE(&sup->s_waitsvcs, ws, ws_entry);
	free(ws->ws_name);
	free(ws);
}

/*
 * Generation g serves now: its wait services are watched on its sockets
 * (unless their program runs), and those it no longer has are dropped
 * once no program of theirs runs.
 */
void
waitsvc_start(struct supervisor *sup, struct generation *g)
{
	struct service_conf	*sc;
	struct listener		*l;
	struct waitsvc		*ws, *next;
	size_t			 n;

	TAILQ_FOREACH(ws, &sup->s_waitsvcs, ws_entry)
		waitsvc_unbind(ws);
	TAILQ_FOREACH(sc, &g->g_cf->c_services, sc_entry) {
		if (!sc->sc_exec.ex_wait || sc->sc_exec.ex_program == NULL)
			continue;
		if ((ws = waitsvc_find(sup, sc->sc_name,
		    sc->sc_protocol)) == NULL) {
			ws = xcalloc(1, sizeof(*ws));
			ws->ws_sup = sup;
			ws->ws_name = xstrdup(sc->sc_name);
			ws->ws_protocol = sc->sc_protocol;
			evtimer_assign(&ws->ws_backoff, sup->s_base,
			    waitsvc_backoff_cb, ws);
			TAILQ_INSERT_TAIL(&sup->s_waitsvcs, ws, ws_entry);
		}
		ws->ws_sc = sc;
		n = 0;
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry)
			n++;
		ws->ws_evs = xcalloc(n, sizeof(*ws->ws_evs));
		TAILQ_FOREACH(l, &sc->sc_listeners, l_entry) {
			if (l->l_fd == -1)
				continue;
			event_assign(&ws->ws_evs[ws->ws_nevs++], sup->s_base,
			    l->l_fd, EV_READ | EV_PERSIST, waitsvc_ready_cb,
			    ws);
		}
		if (ws->ws_busy == 0 && !evtimer_pending(&ws->ws_backoff,
		    NULL))
			waitsvc_watch(ws, 1);
	}
	for (ws = TAILQ_FIRST(&sup->s_waitsvcs); ws != NULL; ws = next) {
		next = TAILQ_NEXT(ws, ws_entry);
		if (ws->ws_sc == NULL && ws->ws_busy == 0)
			waitsvc_drop(sup, ws);
	}
}

/*
 * The program is done (or could not start): the sockets are watched
 * again, at once, or after a back-off when it keeps dying fast.
 */
static void
waitsvc_again(struct supervisor *sup, struct waitsvc *ws, const char *why)
{
	struct timeval	 tv;
	long long	 ms;
	unsigned int	 i;

	if (ws->ws_sc == NULL) {
		waitsvc_drop(sup, ws);
		return;
	}
	if (ws->ws_failures == 0) {
		waitsvc_watch(ws, 1);
		return;
	}
	ms = WAITSVC_MIN_MS;
	for (i = 1; i < ws->ws_failures && ms < WAITSVC_MAX_MS; i++)
		ms *= 2;
	if (ms > WAITSVC_MAX_MS)
		ms = WAITSVC_MAX_MS;
	log_warnx("service \"%s\": %s; serving again in %lld ms",
	    ws->ws_name, why, ms);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&ws->ws_backoff, &tv);
}

/* A wait service's program exited. */
void
waitsvc_exited(struct supervisor *sup, struct spawn_child *ch, int status)
{
	struct waitsvc	*ws;
	struct timeval	 now;
	long long	 lived;
	char		 why[128];

	if ((ws = waitsvc_find(sup, ch->ch_service, ch->ch_protocol)) == NULL)
		return;
	gettimeofday(&now, NULL);
	lived = (long long)(now.tv_sec - ch->ch_started.tv_sec) * 1000 +
	    (now.tv_usec - ch->ch_started.tv_usec) / 1000;
	ws->ws_busy = 0;
	if (lived >= WAITSVC_FAST_MS || (WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0))
		ws->ws_failures = 0;
	else
		ws->ws_failures++;
	(void)snprintf(why, sizeof(why), "pid %ld %s %d after %lld ms",
	    (long)ch->ch_pid, WIFSIGNALED(status) ? "was killed by signal" :
	    "exited with status", WIFSIGNALED(status) ? WTERMSIG(status) :
	    WEXITSTATUS(status), lived);
	waitsvc_again(sup, ws, why);
}

/* A stop, or the end: nothing is watched any more. */
void
waitsvc_free(struct supervisor *sup)
{
	struct waitsvc	*ws;

	while ((ws = TAILQ_FIRST(&sup->s_waitsvcs)) != NULL)
		waitsvc_drop(sup, ws);
}
