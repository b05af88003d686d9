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
 * The supervisor: the master process.  It owns the configuration
 * generations and the listening sockets, and runs worker processes that
 * do all the serving.
 *
 * A generation is one parsed and checked config with its sockets and its
 * workers: one shared group of "workers" processes for the services that
 * are not isolated, and "workers" (default 1) processes of its own for each
 * service with "isolate = yes".  A worker that dies is logged with its
 * signal or status and restarted after an exponential back-off; the other
 * workers never notice.
 *
 * SIGHUP reloads: the new config is checked completely (trial init of
 * every service included) while the old generation serves on; on any
 * error the old one simply stays.  Sockets whose address did not change
 * pass to the new generation without ever closing.  Once every new worker
 * reports ready, the old workers are asked to drain: they stop accepting,
 * let their connections finish (up to drain_timeout) and exit.  Since the
 * supervisor keeps no module mapped, each new worker maps module files as
 * they are on disk, so a replaced .so serves new connections while old
 * connections finish on the old code.  A SIGHUP that comes while a
 * generation is still starting is queued: the config is read again once
 * that generation is ready or has failed, so the last config wins.
 *
 * SIGTERM or SIGINT stops: workers finish their connections (up to
 * shutdown_timeout); a second signal makes them close at once.  SIGUSR1
 * logs the supervisor's state and asks every worker for its own.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "evinetd.h"

#define RESTART_MIN_MS		100
#define RESTART_MAX_MS		30000
#define RESTART_STABLE_S	10
#define DRAIN_ACK_MS		2000	/* old workers' word awaited */
#define KILL_GRACE_MS		2000

static void	sup_spawn(struct wproc *);
static void	sup_restart_cb(evutil_socket_t, short, void *);
static void	sup_ready_cb(evutil_socket_t, short, void *);
static void	sup_ready_close(struct wproc *);
static void	gen_free(struct supervisor *, struct generation *);
static void	sup_reload_next(struct supervisor *);
static void	sup_gen_failed(struct supervisor *, struct generation *, int,
		    const char *);
static void	sup_start_timeout(evutil_socket_t, short, void *);
static int	sup_worker_keeps(const struct service_conf *, void *);
static void	sup_reload_announce(struct supervisor *, struct generation *);
static void	sup_drain_timeout(evutil_socket_t, short, void *);

static const char *
gen_group_name(const struct wproc *p)
{
	return (p->p_group != NULL ? p->p_group->sc_name : "shared");
}

/*
 * Copies our daemon-wide figures to the memory workers read them from.
 * We only ever write there: a worker can write it too.
 */
static void
sup_publish(struct supervisor *sup)
{
	*sup->s_global = sup->s_gl;
}

static void
gen_add_proc(struct generation *g, const struct service_conf *group,
    size_t index)
{
	struct wproc	*p;

	p = xcalloc(1, sizeof(*p));
	p->p_gen = g;
	p->p_group = group;
	p->p_slot = g->g_nprocs++;
	p->p_index = index;
	p->p_readyfd = -1;
	spawn_chan_init(&p->p_spawn);
	evtimer_assign(&p->p_restart, g->g_sup->s_base, sup_restart_cb, p);
	TAILQ_INSERT_TAIL(&g->g_procs, p, p_entry);
}

/*
 * Maps the tables in which each worker process will publish the sources
 * of its per_source services when it drains, so that the next
 * generation's workers, forked later, inherit them.
 */
static int
gen_map_sources(struct generation *g, char **cause)
{
	struct service_conf	*sc;
	struct wproc		*p;

	TAILQ_FOREACH(p, &g->g_procs, p_entry) {
		TAILQ_FOREACH(sc, &g->g_cf->c_services, sc_entry) {
			if (sc->sc_protocol == EVI_PROTO_TCP &&
			    sc->sc_limits.lim_per_source > 0 &&
			    worker_serves(sc, p->p_group, 0) &&
			    pubsrc_map(g->g_stats, p->p_slot, sc, cause) != 0)
				return (-1);
		}
	}
	return (0);
}

/*
 * Splits a config into worker processes, the shared group then the
 * isolated ones, and maps their shared memory; NULL with *cause if the
 * memory cannot be had, so a reload fails instead of the daemon.
 */
static struct generation *
gen_new(struct supervisor *sup, struct config *cf, char **cause)
{
	struct generation	*g;
	struct service_conf	*sc;
	size_t			 nshared = 0, i;

	g = xcalloc(1, sizeof(*g));
	g->g_sup = sup;
	g->g_id = ++sup->s_gen_ids;
	g->g_cf = cf;
	TAILQ_INIT(&g->g_procs);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (!sc->sc_isolate)
			nshared = config_procs(cf, sc);
	}
	for (i = 0; i < nshared; i++)
		gen_add_proc(g, NULL, i);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (!sc->sc_isolate)
			continue;
		for (i = 0; i < config_procs(cf, sc); i++)
			gen_add_proc(g, sc, i);
	}
	evtimer_assign(&g->g_start_timer, sup->s_base, sup_start_timeout, g);
	TAILQ_INSERT_TAIL(&sup->s_gens, g, g_entry);
	if ((g->g_stats = stats_gen_new(g->g_nprocs, cf->c_nservices,
	    cause)) == NULL || gen_map_sources(g, cause) != 0) {
		g->g_cf = NULL;		/* still the caller's */
		gen_free(sup, g);
		return (NULL);
	}
	/* No worker of it runs yet: no reader to bracket the change for. */
	stats_carry_write(g->g_stats, cf, &sup->s_carry);
	return (g);
}

static void
gen_signal(struct generation *g, int sig)
{
	struct wproc	*p;

	TAILQ_FOREACH(p, &g->g_procs, p_entry) {
		if (p->p_pid > 0)
			(void)kill(p->p_pid, sig);
	}
}

static size_t
gen_running(const struct generation *g)
{
	const struct wproc	*p;
	size_t			 n = 0;

	TAILQ_FOREACH(p, &g->g_procs, p_entry) {
		if (p->p_pid > 0)
			n++;
	}
	return (n);
}

/*
 * A generation is gone for good: its workers have exited, so its totals
 * are final.  They join the carried totals, which every generation still
 * running then shows instead of this one's slots.  Readers see both
 * changes at once or retry, so no total goes down or counts twice.
 */
static void
gen_carry(struct supervisor *sup, struct generation *gone)
{
	struct generation	*g;

	TAILQ_FOREACH(g, &sup->s_gens, g_entry)
		stats_carry_begin(g->g_stats);
	stats_carry_add(&sup->s_carry, gone->g_stats, gone->g_cf);
	TAILQ_FOREACH(g, &sup->s_gens, g_entry)
		stats_carry_write(g->g_stats, g->g_cf, &sup->s_carry);
	stats_carry_retire(gone->g_stats);
	TAILQ_FOREACH(g, &sup->s_gens, g_entry)
		stats_carry_end(g->g_stats);
	stats_carry_prune(&sup->s_carry);
}

static void
gen_free(struct supervisor *sup, struct generation *g)
{
	struct wproc	*p;

	TAILQ_REMOVE(&sup->s_gens, g, g_entry);
	if (g->g_stats != NULL && g->g_cf != NULL)
		gen_carry(sup, g);
	evtimer_del(&g->g_start_timer);
	while ((p = TAILQ_FIRST(&g->g_procs)) != NULL) {
		TAILQ_REMOVE(&g->g_procs, p, p_entry);
		event_del(&p->p_restart);
		sup_ready_close(p);
		chan_sup_close(p);
		spawn_proc_close(p);
		free(p);
	}
	stats_gen_free(g->g_stats);
	config_free(g->g_cf);
	free(g);
}

/* Asks a generation's workers to drain; it goes when the last one exits. */
static void
gen_drain(struct supervisor *sup, struct generation *g)
{
	struct wproc	*p;

	g->g_draining = 1;
	TAILQ_FOREACH(p, &g->g_procs, p_entry) {
		event_del(&p->p_restart);
		if (p->p_pid != 0 && p->p_chan != NULL && !p->p_drain_ack) {
			p->p_drain_ack = 1;
			sup->s_drain_waits++;
		}
	}
	/* Sockets the new generation did not take close with the workers'. */
	listener_close_all(g->g_cf);
	gen_signal(g, SIGUSR2);
	if (gen_running(g) == 0)
		gen_free(sup, g);
}

/*
 * In a new worker process: closes what only the supervisor uses, and
 * every socket this worker does not serve.
 */
static void
sup_worker_close(struct wproc *p)
{
	struct generation	*g = p->p_gen, *og;
	struct supervisor	*sup = g->g_sup;
	struct service_conf	*sc;
	struct listener		*l;
	struct wproc		*op;

	if (sup->s_pidfd != -1)
		close(sup->s_pidfd);
	if (sup->s_readyfd != -1)
		close(sup->s_readyfd);
	sockact_close();
	control_child(sup);
	spawn_child_forget(sup);
	TAILQ_FOREACH(og, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(op, &og->g_procs, p_entry) {
			if (op->p_readyfd != -1)
				close(op->p_readyfd);
			chan_sup_forget(op);
			spawn_proc_forget(op);
		}
		TAILQ_FOREACH(sc, &og->g_cf->c_services, sc_entry) {
			TAILQ_FOREACH(l, &sc->sc_listeners, l_entry) {
				if (og == g && worker_serves(sc, p->p_group,
				    0) && worker_listens(l, p->p_index, 0))
					continue;
				if (l->l_fd != -1)
					close(l->l_fd);
				l->l_fd = -1;
			}
		}
		tlsconf_forget(og->g_cf, sup_worker_keeps, og == g ? p : NULL);
	}
}

/* Whose TLS keys a new worker keeps: its own generation's, that it serves. */
static int
sup_worker_keeps(const struct service_conf *sc, void *arg)
{
	struct wproc	*p = arg;

	return (p != NULL && worker_serves(sc, p->p_group, 0));
}

/*
 * The other generations a new worker's limits count: all that run beside
 * its own (a reload's), as the supervisor's private copies describe them.
 */
static struct stats_other *
sup_worker_others(struct wproc *p, size_t *np)
{
	struct generation	*og;
	struct stats_other	*so = NULL;
	size_t			 n = 0;

	TAILQ_FOREACH(og, &p->p_gen->g_sup->s_gens, g_entry) {
		if (og == p->p_gen || og->g_failed)
			continue;
		so = xreallocarray(so, n + 1, sizeof(*so));
		so[n].so_stats = og->g_stats;
		so[n].so_config = og->g_cf;
		n++;
	}
	*np = n;
	return (so);
}

/*
 * In a new worker process: forget the supervisor's loop and what only it
 * uses, then load modules, initialise services, drop privileges, report
 * ready on readyfd, and serve until told to stop.
 */
static __attribute__((noreturn)) void
sup_worker_main(struct wproc *p, int readyfd, int chanfd, int spawnfd)
{
	struct generation	*g = p->p_gen;
	struct supervisor	*sup = g->g_sup;
	struct config		*cf = g->g_cf;
	struct worker_spec	 ws;
	struct event_base	*base;
	struct stats_other	*others;
	char			*cause;

	/* The epoll instance is shared with the parent until reinit. */
	if (event_reinit(sup->s_base) == -1)
		fatalx("event_reinit failed");
	event_base_free(sup->s_base);
	sup->s_base = NULL;
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sup_worker_close(p);

	if (config_load_modules(cf, p->p_group, 0) != 0) {
		config_log_errors(cf);
		_exit(EVINETD_EXIT_CONFIG);
	}
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	memset(&ws, 0, sizeof(ws));
	ws.ws_group = p->p_group;
	ws.ws_global = sup->s_global;
	ws.ws_stats = g->g_stats;
	ws.ws_proc = p->p_slot;
	ws.ws_index = p->p_index;
	ws.ws_others = others = sup_worker_others(p, &ws.ws_nothers);
	if ((sup->s_worker = worker_new(base, cf, &ws, &cause)) == NULL) {
		/* A module refused its service: said, and nothing kept. */
		log_warnx("%s", cause);
		free(cause);
		free(others);
		event_base_free(base);
		_exit(EVINETD_EXIT_CONFIG);
	}
	free(others);
	chan_worker_start(sup->s_worker, chanfd);
	execconn_start(sup->s_worker, spawnfd);
	control_worker_init(sup, sup->s_worker);
	if (priv_drop(cf, &cause) != 0) {
		log_warnx("worker: %s", cause);
		_exit(EVINETD_EXIT_RUNTIME);
	}
	/* Set after the uid change, which clears it; stop with our parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 ||
	    getppid() != sup->s_pid)
		_exit(EVINETD_EXIT_RUNTIME);
	exit(worker_run(sup->s_worker, readyfd, p->p_slot, 0));
}

/*
 * Forks one worker process for a slot, with a pipe of its own to say it
 * is ready (what arrives there can only be from this child), and a
 * socketpair for the control socket's questions (chan.c).
 */
static void
sup_spawn(struct wproc *p)
{
	struct supervisor	*sup = p->p_gen->g_sup;
	sigset_t		 set, oset;
	pid_t			 pid;
	int			 fds[2], chan[2], sp[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe for worker %zu", p->p_slot);
		p->p_failures++;
		sup_schedule_restart(p);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) == -1) {
		log_warn("socketpair for worker %zu", p->p_slot);
		close(fds[0]);
		close(fds[1]);
		p->p_failures++;
		sup_schedule_restart(p);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair for worker %zu", p->p_slot);
		close(fds[0]);
		close(fds[1]);
		close(chan[0]);
		close(chan[1]);
		p->p_failures++;
		sup_schedule_restart(p);
		return;
	}
	/*
	 * Until event_reinit the child runs our libevent signal handler,
	 * which writes to our signal pipe (a forwarded signal comes back to
	 * us), and once our base is freed the default actions kill it.  The
	 * child starts with the signals blocked; worker_run unblocks them
	 * when its own handlers are in.
	 */
	worker_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, &oset);
	pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &oset, NULL);
	switch (pid) {
	case -1:
		log_warn("fork for worker %zu", p->p_slot);
		close(fds[0]);
		close(fds[1]);
		close(chan[0]);
		close(chan[1]);
		close(sp[0]);
		close(sp[1]);
		p->p_failures++;
		sup_schedule_restart(p);
		return;
	case 0:
		close(fds[0]);
		close(chan[0]);
		close(sp[0]);
		sup_worker_main(p, fds[1], chan[1], sp[1]);
	default:
		break;
	}
	close(fds[1]);
	close(chan[1]);
	close(sp[1]);
	p->p_readyfd = fds[0];
	event_assign(&p->p_readyev, sup->s_base, p->p_readyfd,
	    EV_READ | EV_PERSIST, sup_ready_cb, p);
	event_add(&p->p_readyev, NULL);
	p->p_pid = pid;
	p->p_ready = 0;
	chan_sup_open(p, chan[0]);
	spawn_proc_open(p, sp[0]);
	gettimeofday(&p->p_started, NULL);
	sup->s_gl.gl_workers++;
	sup_publish(sup);
	log_debug("worker %ld started (generation %u, %s)", (long)pid,
	    p->p_gen->g_id, gen_group_name(p));
}

/* Restarts a dead worker after 100 ms, doubling to 30 s while it keeps dying. */
void
sup_schedule_restart(struct wproc *p)
{
	struct timeval	tv;
	long long	ms;
	unsigned int	i;

	ms = RESTART_MIN_MS;
	for (i = 1; i < p->p_failures && ms < RESTART_MAX_MS; i++)
		ms *= 2;
	if (ms > RESTART_MAX_MS)
		ms = RESTART_MAX_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&p->p_restart, &tv);
	log_info("restarting worker of generation %u (%s) in %lld ms",
	    p->p_gen->g_id, gen_group_name(p), ms);
}

static void
sup_restart_cb(evutil_socket_t fd, short events, void *arg)
{
	struct wproc	*p = arg;

	(void)fd;
	(void)events;
	p->p_gen->g_sup->s_gl.gl_restarts++;
	sup_publish(p->p_gen->g_sup);
	sup_spawn(p);
}

/* A whole generation is up: the first one means ready, a later one a reload. */
static void
sup_gen_ready(struct supervisor *sup, struct generation *g)
{
	struct generation	*old, *next;

	if (g->g_failed)
		return;
	g->g_announced = 1;
	evtimer_del(&g->g_start_timer);
	/* Stopping: the new workers were told to stop, the old to finish. */
	if (sup->s_stopping)
		return;
	waitsvc_start(sup, g);
	if (sup->s_cur == NULL) {
		sup->s_cur = g;
		log_info("ready: %zu service%s in %zu worker%s",
		    g->g_cf->c_nservices, g->g_cf->c_nservices == 1 ? "" : "s",
		    g->g_nprocs, g->g_nprocs == 1 ? "" : "s");
		if (sup->s_readyfd != -1) {
			(void)write(sup->s_readyfd, "", 1);
			close(sup->s_readyfd);
			sup->s_readyfd = -1;
		}
		notify_state("READY=1", "serving %zu services",
		    g->g_cf->c_nservices);
		sup_reload_next(sup);
		return;
	}
	for (old = TAILQ_FIRST(&sup->s_gens); old != NULL; old = next) {
		next = TAILQ_NEXT(old, g_entry);
		if (old != g && !old->g_draining)
			gen_drain(sup, old);
	}
	sup->s_cur = g;
	sup->s_next = NULL;
	sup->s_gl.gl_reloads_ok++;
	sup_publish(sup);
	/* Done once no old worker accepts: then new clients get g. */
	if (sup->s_drain_waits > 0) {
		struct timeval	tv = { DRAIN_ACK_MS / 1000,
				    (DRAIN_ACK_MS % 1000) * 1000 };

		sup->s_committing = g;
		evtimer_add(&sup->s_drain_timer, &tv);
		return;
	}
	sup_reload_announce(sup, g);
}

/*
 * A reload is done: said in the log, to the control client that asked
 * and to systemd, and a reload queued meanwhile may start.
 */
static void
sup_reload_announce(struct supervisor *sup, struct generation *g)
{
	sup->s_committing = NULL;
	evtimer_del(&sup->s_drain_timer);
	log_info("reload: generation %u serving %zu service%s in %zu "
	    "worker%s; older workers are draining", g->g_id,
	    g->g_cf->c_nservices, g->g_cf->c_nservices == 1 ? "" : "s",
	    g->g_nprocs, g->g_nprocs == 1 ? "" : "s");
	control_reload_done(sup, g->g_reload, 1, g->g_id, NULL, NULL);
	notify_state("READY=1", "serving %zu services, reloaded",
	    g->g_cf->c_nservices);
	sup_reload_next(sup);
}

/* An old worker stopped accepting, or is gone: the reload may be done. */
void
sup_drain_acked(struct supervisor *sup, struct wproc *p)
{
	if (!p->p_drain_ack)
		return;
	p->p_drain_ack = 0;
	if (--sup->s_drain_waits == 0 && sup->s_committing != NULL)
		sup_reload_announce(sup, sup->s_committing);
}

/*
 * Old workers that did not say they drained within DRAIN_ACK_MS (busy in
 * a module, say) are not waited for: the reload is reported all the same.
 */
static void
sup_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct supervisor	*sup = arg;
	struct generation	*g;
	struct wproc		*p;

	(void)fd;
	(void)events;
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(p, &g->g_procs, p_entry)
			p->p_drain_ack = 0;
	}
	sup->s_drain_waits = 0;
	if (sup->s_committing != NULL) {
		log_debug("reload: not every old worker said it drained "
		    "within %d ms", DRAIN_ACK_MS);
		sup_reload_announce(sup, sup->s_committing);
	}
}

/* A worker's ready pipe has served, or the worker is gone. */
static void
sup_ready_close(struct wproc *p)
{
	if (p->p_readyfd == -1)
		return;
	event_del(&p->p_readyev);
	close(p->p_readyfd);
	p->p_readyfd = -1;
}

/*
 * A worker writes its slot and pid down its own pipe when ready.  That
 * is data from a process we do not trust: one whole message naming the
 * slot and the pid we forked for it, or the worker is lying and goes.
 * One that died before we read this is not ready (its pipe is closed).
 */
static void
sup_ready_cb(evutil_socket_t fd, short events, void *arg)
{
	struct wproc		*p = arg;
	struct generation	*g = p->p_gen;
	struct ready_msg	 msg;
	ssize_t			 n;

	(void)events;
	n = read(fd, &msg, sizeof(msg));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	sup_ready_close(p);
	/* Abandoned (start_timeout, a sibling died): too late to be ready. */
	if (g->g_failed)
		return;
	if (n == (ssize_t)sizeof(msg) && msg.rm_slot == p->p_slot &&
	    msg.rm_pid == p->p_pid && p->p_pid > 0 && !p->p_ready) {
		p->p_ready = 1;
		g->g_nready++;
		if (!g->g_announced && g->g_nready == g->g_nprocs)
			sup_gen_ready(g->g_sup, g);
		return;
	}
	if (n != 0 && p->p_pid > 0) {
		log_warnx("worker %ld (generation %u, %s) sent a bad ready "
		    "message (%s); killing it", (long)p->p_pid, g->g_id,
		    gen_group_name(p), n != (ssize_t)sizeof(msg) ?
		    "wrong size" : p->p_ready ? "ready twice" :
		    "wrong slot or pid");
		(void)kill(p->p_pid, SIGKILL);
	}
}

static struct wproc *
sup_find(struct supervisor *sup, pid_t pid)
{
	struct generation	*g;
	struct wproc		*p;

	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(p, &g->g_procs, p_entry) {
			if (p->p_pid == pid)
				return (p);
		}
	}
	return (NULL);
}

/*
 * Abandons a generation that could not start (first start or reload):
 * code is the exit status the daemon ends with if it was the first, and
 * why says what happened, for the log.
 */
static void
sup_gen_failed(struct supervisor *sup, struct generation *g, int code,
    const char *why)
{
	struct wproc	*p;

	gen_signal(g, SIGKILL);
	g->g_failed = 1;
	evtimer_del(&g->g_start_timer);
	/* A ready message still in a pipe must not revive it. */
	TAILQ_FOREACH(p, &g->g_procs, p_entry)
		sup_ready_close(p);
	if (sup->s_cur == NULL) {
		log_warnx("%s, not starting", why);
		sup->s_exit = code;
		sup_stop(sup, 1);
		return;
	}
	sup->s_next = NULL;
	sup->s_gl.gl_reloads_failed++;
	sup_publish(sup);
	log_warnx("reload failed: %s; generation %u serves on", why,
	    sup->s_cur->g_id);
	notify_state("READY=1", "reload failed, serving the old config");
	control_reload_done(sup, g->g_reload, 0, 0, why, NULL);
	sup_reload_next(sup);
}

/*
 * start_timeout: a generation whose workers are not all ready in time (a
 * module's init that hangs, say) is abandoned like one whose worker
 * died, so the old generation serves on and queued reloads can run.
 */
static void
sup_start_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct generation	*g = arg;
	struct supervisor	*sup = g->g_sup;
	long long		 ms = g->g_cf->c_start_ms;
	char			*why;

	(void)fd;
	(void)events;
	if (g->g_announced || g->g_failed || sup->s_stopping)
		return;
	xasprintf(&why, "%s of generation %u %s not ready within %lld%s "
	    "(start_timeout)", g->g_nprocs - g->g_nready == 1 ? "a worker" :
	    "workers", g->g_id, g->g_nprocs - g->g_nready == 1 ? "was" :
	    "were", ms % 1000 == 0 ? ms / 1000 : ms, ms % 1000 == 0 ? "s" :
	    "ms");
	sup_gen_failed(sup, g, EVINETD_EXIT_RUNTIME, why);
	free(why);
}

/* Reaps dead workers: log why, restart or let their generation go. */
static void
sup_sigchld(evutil_socket_t sig, short events, void *arg)
{
	struct supervisor	*sup = arg;
	struct generation	*g;
	struct wproc		*p;
	struct timeval		 now;
	pid_t			 pid;
	int			 status;
	char			 why[64];

	(void)sig;
	(void)events;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((p = sup_find(sup, pid)) == NULL) {
			(void)spawn_reaped(sup, pid, status);
			continue;
		}
		g = p->p_gen;
		p->p_pid = 0;
		sup_drain_acked(sup, p);
		sup_ready_close(p);
		chan_sup_close(p);
		spawn_proc_close(p);
		stats_proc_gone(g->g_stats, p->p_slot);
		sup->s_gl.gl_workers--;
		sup_publish(sup);
		if (WIFSIGNALED(status))
			log_warnx("worker %ld (generation %u, %s) killed by "
			    "signal %d (%s)", (long)pid, g->g_id,
			    gen_group_name(p), WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
		else if (WEXITSTATUS(status) != 0 || (!g->g_draining &&
		    !sup->s_stopping && !g->g_failed))
			log_warnx("worker %ld (generation %u, %s) exited with "
			    "status %d", (long)pid, g->g_id,
			    gen_group_name(p), WEXITSTATUS(status));
		else
			log_debug("worker %ld (generation %u) exited",
			    (long)pid, g->g_id);

		if (sup->s_stopping || g->g_draining || g->g_failed) {
			if (gen_running(g) == 0 && g != sup->s_cur)
				gen_free(sup, g);
			continue;
		}
		/*
		 * A generation still starting (the first, or a reload's)
		 * fails as a whole if a worker dies before it is ready; a
		 * serving generation only ever restarts its workers.
		 */
		if (!p->p_ready && (g == sup->s_next || sup->s_cur == NULL)) {
			(void)snprintf(why, sizeof(why), "a worker of "
			    "generation %u did not start", g->g_id);
			sup_gen_failed(sup, g, WIFEXITED(status) &&
			    WEXITSTATUS(status) == EVINETD_EXIT_CONFIG ?
			    EVINETD_EXIT_CONFIG : EVINETD_EXIT_RUNTIME, why);
			if (gen_running(g) == 0 && g != sup->s_cur)
				gen_free(sup, g);
			continue;
		}
		gettimeofday(&now, NULL);
		if (now.tv_sec - p->p_started.tv_sec >= RESTART_STABLE_S)
			p->p_failures = 0;
		p->p_failures++;
		if (p->p_ready) {
			p->p_ready = 0;
			g->g_nready--;
		}
		sup_schedule_restart(p);
	}
	if (sup->s_stopping && sup_running(sup) == 0 && sup->s_nchildren == 0)
		event_base_loopexit(sup->s_base, NULL);
}

size_t
sup_running(struct supervisor *sup)
{
	struct generation	*g;
	size_t			 n = 0;

	TAILQ_FOREACH(g, &sup->s_gens, g_entry)
		n += gen_running(g);
	return (n);
}

/* The last resort when workers do not stop within their time. */
static void
sup_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	struct supervisor	*sup = arg;
	struct generation	*g;

	(void)fd;
	(void)events;
	log_warnx("workers did not stop in time; killing them");
	TAILQ_FOREACH(g, &sup->s_gens, g_entry)
		gen_signal(g, SIGKILL);
	spawn_stop(sup, 1, 0);
}

/* Stops everything: gracefully first, at once on a second request. */
void
sup_stop(struct supervisor *sup, int now)
{
	struct generation	*g;
	struct wproc		*p;
	struct timeval		 tv;
	long long		 ms;

	if (sup->s_stopping && !now) {
		now = 1;
		log_info("stopping now");
	}
	sup->s_stopping = now ? 2 : 1;
	notify_state("STOPPING=1", "stopping");
	control_stopping(sup);
	waitsvc_free(sup);
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(p, &g->g_procs, p_entry)
			event_del(&p->p_restart);
		/* Ours first: once workers close theirs, clients are refused. */
		listener_close_all(g->g_cf);
		gen_signal(g, SIGTERM);
	}
	ms = (sup->s_cur != NULL ? sup->s_cur->g_cf->c_shutdown_ms : 0);
	if (now)
		ms = 0;
	spawn_stop(sup, now, ms);
	if (sup_running(sup) == 0 && sup->s_nchildren == 0) {
		event_base_loopexit(sup->s_base, NULL);
		return;
	}
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		if (g->g_draining && g->g_cf->c_drain_ms > ms)
			ms = g->g_cf->c_drain_ms;
	}
	ms += KILL_GRACE_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(&sup->s_kill, &tv);
}

static void
sup_sigterm(evutil_socket_t sig, short events, void *arg)
{
	struct supervisor	*sup = arg;

	(void)events;
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" :
	    "SIGTERM");
	sup_stop(sup, 0);
}

/*
 * The pid file stays where it was put at startup: moving it on a reload
 * would leave a window with no lock, or two.  Says so when the config
 * asks for another one.
 */
static void
sup_pidfile_check(struct supervisor *sup, const struct config *cf)
{
	const char	*old = sup->s_pidfile, *new = cf->c_pidfile;

	if (sup->s_pidfile_forced || (old == NULL && new == NULL) ||
	    (old != NULL && new != NULL && strcmp(old, new) == 0))
		return;
	log_warnx("%s: pidfile is now %s%s%s, but the pid file changes only "
	    "when evinetd restarts; it stays %s%s%s", cf->c_path,
	    new != NULL ? "\"" : "", new != NULL ? new : "unset",
	    new != NULL ? "\"" : "", old != NULL ? "\"" : "",
	    old != NULL ? old : "unwritten", old != NULL ? "\"" : "");
}

/*
 * A reload that did not take: counted, said (with every config error to
 * the control socket's waiters), and the old serves on.
 */
static void
sup_reload_failed(struct supervisor *sup, struct config *cf, const char *why)
{
	struct conf_error	*ce;
	json_t			*errors;

	sup->s_gl.gl_reloads_failed++;
	sup_publish(sup);
	log_warnx("reload failed: %s; generation %u serves on", why,
	    sup->s_cur->g_id);
	errors = json_array();
	TAILQ_FOREACH(ce, &cf->c_errors, ce_entry)
		json_array_append_new(errors, json_string(ce->ce_msg));
	if (cf->c_nerrors > (int)json_array_size(errors))
		json_array_append_new(errors, json_sprintf("%s: %d more "
		    "errors not shown", cf->c_path,
		    cf->c_nerrors - (int)json_array_size(errors)));
	config_free(cf);
	notify_state("READY=1", "reload failed, serving the old config");
	control_reload_done(sup, sup->s_reloads, 0, 0, why, errors);
}

/* Reads and checks the config fully, then starts it beside the old one. */
static void
sup_reload(struct supervisor *sup)
{
	struct config	*cf;
	char		*why;

	notify_state("RELOADING=1", "reloading");
	sup->s_reloads++;
	cf = config_load_checked(sup->s_config_path, sup->s_module_dir,
	    sup->s_module_dir_forced);
	if (cf->c_nerrors > 0) {
		xasprintf(&why, "%d error%s in %s", cf->c_nerrors,
		    cf->c_nerrors == 1 ? "" : "s", cf->c_path);
		sup_reload_failed(sup, cf, why);
		free(why);
		return;
	}
	config_unload_modules(cf);
	if (listener_bind_all(cf, sup->s_cur->g_cf) != 0) {
		sup_reload_failed(sup, cf, "could not bind every listener");
		return;
	}
	sup_pidfile_check(sup, cf);
	control_reload_check(sup, cf);
	if (sup_start(sup, cf, &why) != 0) {
		sup_reload_failed(sup, cf, why);
		free(why);
		return;
	}
	sup->s_next->g_reload = sup->s_reloads;
}

/*
 * A reload asked for (by SIGHUP, or from the control socket): now or,
 * while a generation is still starting, as soon as it is ready or has
 * failed, so that the last config always wins.
 */
void
sup_reload_request(struct supervisor *sup, const char *who)
{
	if (sup->s_stopping)
		return;
	if (sup->s_next != NULL || sup->s_cur == NULL ||
	    sup->s_committing != NULL) {
		sup->s_reload_queued = sup->s_gen_ids;
		log_info("received %s while generation %u is still "
		    "starting; reloading %s once it is done", who,
		    sup->s_gen_ids, sup->s_config_path);
		return;
	}
	log_info("received %s, reloading %s", who, sup->s_config_path);
	sup_reload(sup);
}

static void
sup_sighup(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	sup_reload_request(arg, "SIGHUP");
}

/* The reload a SIGHUP asked for while a generation was starting. */
static void
sup_reload_queued_cb(evutil_socket_t fd, short events, void *arg)
{
	struct supervisor	*sup = arg;

	(void)fd;
	(void)events;
	if (sup->s_stopping || sup->s_reload_queued == 0 ||
	    sup->s_next != NULL || sup->s_cur == NULL ||
	    sup->s_committing != NULL)
		return;
	log_info("reloading %s, as a SIGHUP asked while generation %u was "
	    "starting", sup->s_config_path, sup->s_reload_queued);
	sup->s_reload_queued = 0;
	sup_reload(sup);
}

/* A generation is ready or has failed: run a queued reload next. */
static void
sup_reload_next(struct supervisor *sup)
{
	if (sup->s_reload_queued != 0 && !sup->s_stopping)
		event_active(&sup->s_reload, EV_TIMEOUT, 1);
}

/* SIGUSR1: our state, then every worker's own. */
static void
sup_sigusr1(evutil_socket_t sig, short events, void *arg)
{
	struct supervisor	*sup = arg;
	struct generation	*g;
	struct wproc		*p;
	struct global_stats	*gl = &sup->s_gl;

	(void)sig;
	(void)events;
	log_info("state: supervisor pid %ld, %llu worker%s, reloads %llu ok "
	    "%llu failed, worker restarts %llu", (long)getpid(),
	    (unsigned long long)gl->gl_workers, gl->gl_workers == 1 ? "" : "s",
	    (unsigned long long)gl->gl_reloads_ok,
	    (unsigned long long)gl->gl_reloads_failed,
	    (unsigned long long)gl->gl_restarts);
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		TAILQ_FOREACH(p, &g->g_procs, p_entry)
			log_info("state: generation %u%s: worker %ld (%s)%s",
			    g->g_id, g->g_draining ? " (draining)" : "",
			    (long)p->p_pid, gen_group_name(p),
			    p->p_pid > 0 ? "" : ", restarting");
		gen_signal(g, SIGUSR1);
	}
}

/*
 * Starts the workers of a checked, bound config; -1 with *cause if its
 * generation cannot be made, and then cf is still the caller's.
 */
int
sup_start(struct supervisor *sup, struct config *cf, char **cause)
{
	struct generation	*g;
	struct wproc		*p;
	struct timeval		 tv;

	if ((g = gen_new(sup, cf, cause)) == NULL)
		return (-1);
	if (sup->s_cur != NULL)
		sup->s_next = g;
	if (cf->c_start_ms > 0) {
		tv.tv_sec = (time_t)(cf->c_start_ms / 1000);
		tv.tv_usec = (suseconds_t)(cf->c_start_ms % 1000) * 1000;
		evtimer_add(&g->g_start_timer, &tv);
	}
	TAILQ_FOREACH(p, &g->g_procs, p_entry)
		sup_spawn(p);
	return (0);
}

/*
 * Runs the supervisor until it stops; returns the exit code.  readyfd,
 * if not -1, is told when every worker serves (the detaching parent
 * waits on it).
 */
int
sup_run(struct supervisor *sup, struct config *cf)
{
	struct event	*ev[5];
	int		 sigs[5] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
	event_callback_fn cbs[5] = { sup_sigterm, sup_sigterm, sup_sighup,
	    sup_sigusr1, sup_sigchld };
	struct generation *g;
	sigset_t	 set;
	char		*cause;
	int		 i;

	TAILQ_INIT(&sup->s_gens);
	TAILQ_INIT(&sup->s_carry);
	TAILQ_INIT(&sup->s_children);
	TAILQ_INIT(&sup->s_waitsvcs);
	sup->s_pid = getpid();
	/* No worker exists yet: the shared figures are still ours alone. */
	sup->s_gl = *sup->s_global;
	evtimer_assign(&sup->s_kill, sup->s_base, sup_kill_cb, sup);
	evtimer_assign(&sup->s_reload, sup->s_base, sup_reload_queued_cb, sup);
	evtimer_assign(&sup->s_drain_timer, sup->s_base, sup_drain_timeout,
	    sup);
	sigemptyset(&set);
	for (i = 0; i < 5; i++) {
		if ((ev[i] = evsignal_new(sup->s_base, sigs[i], cbs[i],
		    sup)) == NULL || evsignal_add(ev[i], NULL) != 0)
			fatalx("cannot install signal handlers");
		sigaddset(&set, sigs[i]);
	}
	/* Held since main began; what came meanwhile is delivered now. */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	config_unload_modules(cf);
	control_start(sup, sup->s_ctlfd, cf);
	if (sup_start(sup, cf, &cause) != 0) {
		log_warnx("%s, not starting", cause);
		free(cause);
		config_free(cf);
		sup->s_exit = EVINETD_EXIT_RUNTIME;
	} else if (event_base_dispatch(sup->s_base) == -1)
		log_warnx("event loop failed");
	for (i = 0; i < 5; i++)
		event_free(ev[i]);
	event_del(&sup->s_kill);
	event_del(&sup->s_reload);
	waitsvc_free(sup);
	spawn_free(sup);
	while ((g = TAILQ_FIRST(&sup->s_gens)) != NULL)
		gen_free(sup, g);
	control_free(sup);
	return (sup->s_exit);
}
