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
 * Counters as others see them: the read-only stats API of the module
 * header (which the stats module serves over HTTP) and the SIGUSR1 state
 * dump.  Counting itself is plain increments on the serving path; all
 * formatting and walking happens here, only when someone asks.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evinetd.h"

#define STATS_FDS_MS	1000	/* how long a descriptor count is reused */
#define STATS_TRIES	100	/* reads of totals the supervisor changes */

const char *
evi_refuse_reason_string(enum evi_refuse_reason reason)
{
	static const char *names[EVI_REFUSE_NREASONS_ALL] = {
		"acl", "max_connections", "per_source", "rate", "fd",
		"reflection", "disabled"
	};

	if ((unsigned int)reason >= EVI_REFUSE_NREASONS_ALL)
		return ("unknown");
	return (names[reason]);
}

/* Maps memory the supervisor and its future children all see. */
static void *
stats_map(size_t size)
{
	void	*p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	return (p);
}

/* The daemon-wide figures, made once at startup. */
struct global_stats *
stats_global_new(void)
{
	struct global_stats	*gl;

	if ((gl = stats_map(sizeof(*gl))) == NULL)
		fatal("mmap %zu bytes for counters", sizeof(*gl));
	gettimeofday(&gl->gl_start, NULL);
	return (gl);
}

/*
 * A generation's counters: every worker process increments its own slots
 * (single writer, plain increments), and whoever reports sums the slots
 * of all processes.  Shared memory made before fork needs no IPC.  Only
 * the slots are shared: the layout stays in the caller's private memory,
 * since the supervisor runs as root and the workers may not be trusted.
 */
struct gen_stats *
stats_gen_new(size_t nprocs, size_t nservices, char **cause)
{
	struct gen_stats	*gs;
	size_t			 nsvc = nservices ? nservices : 1;

	gs = xcalloc(1, sizeof(*gs));
	gs->gs_nprocs = nprocs ? nprocs : 1;
	gs->gs_nservices = nservices;
	if (gs->gs_nprocs > (SIZE_MAX - sizeof(*gs->gs_carry)) / nsvc /
	    sizeof(gs->gs_slots[0])) {
		xasprintf(cause, "too many counters: %zu workers, %zu services",
		    nprocs, nservices);
		free(gs);
		return (NULL);
	}
	gs->gs_size = gs->gs_nprocs * nsvc * sizeof(gs->gs_slots[0]);
	gs->gs_carry_size = sizeof(*gs->gs_carry) +
	    nsvc * sizeof(gs->gs_carry->gc_base[0]);
	if ((gs->gs_slots = stats_map(gs->gs_size)) == NULL ||
	    (gs->gs_carry = stats_map(gs->gs_carry_size)) == NULL) {
		xasprintf(cause, "cannot map %zu bytes for counters: %s",
		    gs->gs_size + gs->gs_carry_size, strerror(errno));
		stats_gen_free(gs);
		return (NULL);
	}
	return (gs);
}

void
stats_gen_free(struct gen_stats *gs)
{
	if (gs == NULL)
		return;
	pubsrc_free(gs);
	if (gs->gs_slots != NULL)
		munmap(gs->gs_slots, gs->gs_size);
	if (gs->gs_carry != NULL)
		munmap(gs->gs_carry, gs->gs_carry_size);
	free(gs);
}

struct svc_stats *
stats_slot(const struct gen_stats *gs, size_t proc, size_t service)
{
	return (&gs->gs_slots[proc * gs->gs_nservices + service]);
}

/*
 * A worker process is gone: the connections it counted are too.  Called
 * by the supervisor when it reaps one, so that neither its restarted
 * successor nor another generation's limits count them any more.
 */
void
stats_proc_gone(const struct gen_stats *gs, size_t proc)
{
	size_t	i;

	for (i = 0; i < gs->gs_nservices; i++)
		stats_slot(gs, proc, i)->st_active = 0;
}

/* Adds one set of counters to another: slots, or generations. */
static void
stats_sum(struct svc_stats *to, const struct svc_stats *from)
{
	unsigned int	i;

	to->st_accepted += from->st_accepted;
	to->st_active += from->st_active;
	for (i = 0; i < EVI_CLOSE_NREASONS_ALL; i++)
		to->st_closed[i] += from->st_closed[i];
	to->st_bytes_in += from->st_bytes_in;
	to->st_bytes_out += from->st_bytes_out;
	to->st_dgrams_in += from->st_dgrams_in;
	to->st_dgrams_out += from->st_dgrams_out;
	to->st_module_errors += from->st_module_errors;
	for (i = 0; i < EVI_REFUSE_NREASONS_ALL; i++)
		to->st_refused[i] += from->st_refused[i];
	to->st_out_connects += from->st_out_connects;
	to->st_out_failed += from->st_out_failed;
	to->st_out_bytes_in += from->st_out_bytes_in;
	to->st_out_bytes_out += from->st_out_bytes_out;
	to->st_proxy_errors += from->st_proxy_errors;
	to->st_exec_started += from->st_exec_started;
	to->st_exec_failed += from->st_exec_failed;
	to->st_exec_exit_ok += from->st_exec_exit_ok;
	to->st_exec_exit_error += from->st_exec_exit_error;
	to->st_exec_signaled += from->st_exec_signaled;
	to->st_tls_handshakes += from->st_tls_handshakes;
	to->st_tls_resumed += from->st_tls_resumed;
	for (i = 0; i < EVI_TLS_FAIL_NREASONS; i++)
		to->st_tls_failed[i] += from->st_tls_failed[i];
}

/* Adds up one service's slots in all processes of a generation. */
static void
stats_gen_sum(const struct gen_stats *gs, size_t service,
    struct svc_stats *out)
{
	size_t	p;

	for (p = 0; p < gs->gs_nprocs; p++)
		stats_sum(out, stats_slot(gs, p, service));
}

/*
 * The supervisor is about to change a generation's carried totals:
 * gc_seq goes odd, so that a worker reading them meanwhile retries.  The
 * supervisor counts in its own copy and only ever writes the shared one.
 */
void
stats_carry_begin(struct gen_stats *gs)
{
	gs->gs_seq++;
	__atomic_store_n(&gs->gs_carry->gc_seq, gs->gs_seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* The change is complete: gc_seq goes even again. */
void
stats_carry_end(struct gen_stats *gs)
{
	gs->gs_seq++;
	__atomic_store_n(&gs->gs_carry->gc_seq, gs->gs_seq, __ATOMIC_RELEASE);
}

/* The supervisor's record for a service, made if there is none. */
static struct carry *
stats_carry_find(struct carries *cl, const struct service_conf *sc,
    int create)
{
	struct carry	*ca;

	TAILQ_FOREACH(ca, cl, ca_entry) {
		if (ca->ca_protocol == sc->sc_protocol &&
		    strcmp(ca->ca_name, sc->sc_name) == 0)
			return (ca);
	}
	if (!create)
		return (NULL);
	ca = xcalloc(1, sizeof(*ca));
	ca->ca_name = xstrdup(sc->sc_name);
	ca->ca_protocol = sc->sc_protocol;
	TAILQ_INSERT_TAIL(cl, ca, ca_entry);
	return (ca);
}

/*
 * A generation whose workers have all exited has final totals: they join
 * the supervisor's record.  Reading them is reading values a worker
 * wrote; where to read comes from the supervisor's private layout.
 */
void
stats_carry_add(struct carries *cl, const struct gen_stats *gs,
    const struct config *cf)
{
	const struct service_conf	*sc;
	struct carry			*ca;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (sc->sc_index >= gs->gs_nservices)
			continue;
		ca = stats_carry_find(cl, sc, 1);
		stats_gen_sum(gs, sc->sc_index, &ca->ca_totals);
		ca->ca_totals.st_active = 0;
	}
}

/* Shows the carried totals to a running generation's workers. */
void
stats_carry_write(struct gen_stats *gs, const struct config *cf,
    struct carries *cl)
{
	const struct service_conf	*sc;
	struct carry			*ca;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (sc->sc_index >= gs->gs_nservices ||
		    (ca = stats_carry_find(cl, sc, 0)) == NULL)
			continue;
		ca->ca_used = 1;
		gs->gs_carry->gc_base[sc->sc_index] = ca->ca_totals;
	}
}

/* A generation is carried: readers must not add its slots any more. */
void
stats_carry_retire(struct gen_stats *gs)
{
	__atomic_store_n(&gs->gs_carry->gc_retired, 1, __ATOMIC_RELAXED);
}

/*
 * Forgets the services no running generation has: one that comes back
 * in a later config starts from zero, as a new series.
 */
void
stats_carry_prune(struct carries *cl)
{
	struct carry	*ca, *next;

	for (ca = TAILQ_FIRST(cl); ca != NULL; ca = next) {
		next = TAILQ_NEXT(ca, ca_entry);
		if (ca->ca_used) {
			ca->ca_used = 0;
			continue;
		}
		TAILQ_REMOVE(cl, ca, ca_entry);
		free(ca->ca_name);
		free(ca);
	}
}

/* One service's open connections in all processes of a generation. */
static uint64_t
stats_gen_active(const struct gen_stats *gs, size_t service)
{
	uint64_t	n = 0;
	size_t		p;

	for (p = 0; p < gs->gs_nprocs; p++)
		n += stats_slot(gs, p, service)->st_active;
	return (n);
}

/* All open connections of a generation. */
static uint64_t
stats_gen_total(const struct gen_stats *gs)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < gs->gs_nprocs * gs->gs_nservices; i++)
		n += gs->gs_slots[i].st_active;
	return (n);
}

/*
 * Learns where other generations count the services we serve, matched by
 * name, so that limits hold while a reload drains, and by name and
 * protocol, so that reports add them up.  A service they do not have
 * gets SIZE_MAX.
 */
void
stats_others_init(struct worker *w, const struct stats_other *so, size_t n)
{
	const struct service_conf	*sc, *osc;
	size_t				 nsvc = w->w_config->c_nservices, o, i,
					 c;

	if (n == 0 || nsvc == 0)
		return;
	w->w_nothers = n;
	/* An array of structs: the size of one struct is meant. */
	w->w_others = xreallocarray(NULL, n,
	    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	    sizeof(*w->w_others));
	w->w_other_index = xreallocarray(NULL, n, nsvc * sizeof(size_t));
	w->w_other_carry = xreallocarray(NULL, n, nsvc * sizeof(size_t));
	for (o = 0; o < n; o++) {
		w->w_others[o] = so[o].so_stats;
		TAILQ_FOREACH(sc, &w->w_config->c_services, sc_entry) {
			i = c = SIZE_MAX;
			TAILQ_FOREACH(osc, &so[o].so_config->c_services,
			    sc_entry) {
				if (strcmp(osc->sc_name, sc->sc_name) == 0 &&
				    osc->sc_index < so[o].so_stats->gs_nservices) {
					i = osc->sc_index;
					if (osc->sc_protocol == sc->sc_protocol)
						c = i;
					break;
				}
			}
			w->w_other_index[o * nsvc + sc->sc_index] = i;
			w->w_other_carry[o * nsvc + sc->sc_index] = c;
		}
	}
}

/*
 * Connections open for a service in all worker processes together, and
 * in the other generations still running.
 */
uint64_t
stats_active(const struct evi_service *svc)
{
	const struct worker	*w = svc->s_worker;
	size_t			 nsvc = w->w_config->c_nservices, o, i;
	uint64_t		 n;

	if (w->w_stats->gs_nprocs == 1)
		n = svc->s_stats->st_active;
	else
		n = stats_gen_active(w->w_stats, svc->s_index);
	for (o = 0; o < w->w_nothers; o++) {
		i = w->w_other_index[o * nsvc + svc->s_index];
		if (i != SIZE_MAX)
			n += stats_gen_active(w->w_others[o], i);
	}
	return (n);
}

/* Connections open for all services in all worker processes. */
uint64_t
stats_active_total(const struct worker *w)
{
	uint64_t	n;
	size_t		o;

	/* Outbound connections are no clients: only accepted ones count. */
	if (w->w_stats->gs_nprocs == 1)
		n = w->w_nconns - w->w_noutbound;
	else
		n = stats_gen_total(w->w_stats);
	for (o = 0; o < w->w_nothers; o++)
		n += stats_gen_total(w->w_others[o]);
	return (n);
}

static void	stats_dump_tls(const struct evi_stats_service *);
static void	stats_conf(const struct worker *, const struct service_conf *,
		    struct evi_stats_service *);

/* Copies one service's counters, summed over all workers, for reports. */
void
stats_service(const struct evi_service *svc, struct evi_stats_service *out)
{
	stats_conf(svc->s_worker, svc->s_conf, out);
}

/*
 * One read of a service's totals: this generation's slots, what the
 * supervisor carried over from generations that are gone, and the slots
 * of the other generations still running (a reload's draining one) that
 * it has not carried yet.
 */
static void
stats_total_once(const struct worker *w, const struct service_conf *sc,
    struct svc_stats *out)
{
	const struct gen_stats	*gs;
	size_t			 nsvc = w->w_config->c_nservices, o, i;

	memset(out, 0, sizeof(*out));
	stats_gen_sum(w->w_stats, sc->sc_index, out);
	stats_sum(out, &w->w_stats->gs_carry->gc_base[sc->sc_index]);
	for (o = 0; o < w->w_nothers; o++) {
		gs = w->w_others[o];
		i = w->w_other_carry[o * nsvc + sc->sc_index];
		if (i != SIZE_MAX && __atomic_load_n(&gs->gs_carry->gc_retired,
		    __ATOMIC_RELAXED) == 0)
			stats_gen_sum(gs, i, out);
	}
}

/*
 * A service's totals across reloads.  The supervisor carries a gone
 * generation and marks it retired in one change, bracketed by an odd
 * gc_seq, so a read that overlapped one is done again: neither missed
 * nor counted twice.  The retries are bounded, since a worker can write
 * gc_seq too; the last read is then reported as it is.
 */
static void
stats_total(const struct worker *w, const struct service_conf *sc,
    struct svc_stats *out)
{
	const struct gen_carry	*gc = w->w_stats->gs_carry;
	uint64_t		 seq;
	int			 tries;

	for (tries = 0; tries < STATS_TRIES; tries++) {
		seq = __atomic_load_n(&gc->gc_seq, __ATOMIC_ACQUIRE);
		if (seq & 1) {
			sched_yield();
			continue;
		}
		stats_total_once(w, sc, out);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&gc->gc_seq, __ATOMIC_RELAXED) == seq)
			return;
	}
	stats_total_once(w, sc, out);
}

/*
 * Turns summed counters into the public struct, whose frozen arrays hold
 * the 1.0 reasons and whose later members the rest.
 */
static void
stats_export(const struct svc_stats *st, const struct service_conf *sc,
    struct evi_stats_service *out)
{
	unsigned int	i;

	memset(out, 0, sizeof(*out));
	out->accepted = st->st_accepted;
	out->active = st->st_active;
	for (i = 0; i < EVI_CLOSE_NREASONS; i++)
		out->closed[i] = st->st_closed[i];
	for (i = 0; i < EVI_REFUSE_NREASONS; i++)
		out->refused[i] = st->st_refused[i];
	out->bytes_in = st->st_bytes_in;
	out->bytes_out = st->st_bytes_out;
	out->dgrams_in = st->st_dgrams_in;
	out->dgrams_out = st->st_dgrams_out;
	out->module_errors = st->st_module_errors;
	out->outbound_connects = st->st_out_connects;
	out->outbound_failed = st->st_out_failed;
	out->outbound_bytes_in = st->st_out_bytes_in;
	out->outbound_bytes_out = st->st_out_bytes_out;
	out->proxy_errors = st->st_proxy_errors;
	out->refused_disabled = st->st_refused[EVI_REFUSE_DISABLED];
	out->closed_admin = st->st_closed[EVI_CLOSE_ADMIN];
	out->exec_started = st->st_exec_started;
	out->exec_failed = st->st_exec_failed;
	out->exec_exit_ok = st->st_exec_exit_ok;
	out->exec_exit_error = st->st_exec_exit_error;
	out->exec_signaled = st->st_exec_signaled;
	out->tls = sc->sc_limits.lim_tls.tc_on;
	out->tls_handshakes = st->st_tls_handshakes;
	out->tls_resumed = st->st_tls_resumed;
	for (i = 0; i < EVI_TLS_FAIL_NREASONS; i++)
		out->tls_handshake_failures[i] = st->st_tls_failed[i];
	out->name = sc->sc_name;
	out->module = sc->sc_module_label != NULL ? sc->sc_module_label :
	    sc->sc_module_name;
	out->protocol = sc->sc_protocol == EVI_PROTO_UDP ? "udp" : "tcp";
}

/*
 * The same for any service of the generation, served by this process or
 * not: the slots are shared, and the config says the rest.
 */
static void
stats_conf(const struct worker *w, const struct service_conf *sc,
    struct evi_stats_service *out)
{
	struct svc_stats	 st;

	stats_total(w, sc, &st);
	stats_export(&st, sc, out);
}

/*
 * A count of the public struct by close reason, any of them: reports
 * walk every reason without knowing which member holds which.
 */
uint64_t
stats_closed_count(const struct evi_stats_service *s, unsigned int reason)
{
	if (reason < EVI_CLOSE_NREASONS)
		return (s->closed[reason]);
	if (reason == EVI_CLOSE_ADMIN)
		return (s->closed_admin);
	return (0);	/* outbound reasons: counted in outbound_failed */
}

/* The same by refusal reason. */
uint64_t
stats_refused_count(const struct evi_stats_service *s, unsigned int reason)
{
	if (reason < EVI_REFUSE_NREASONS)
		return (s->refused[reason]);
	if (reason == EVI_REFUSE_DISABLED)
		return (s->refused_disabled);
	return (0);
}

/* A service's index in a generation's counters, by name and protocol. */
static size_t
stats_find(const struct config *cf, const struct gen_stats *gs,
    const char *name, int protocol)
{
	const struct service_conf	*sc;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (sc->sc_protocol == protocol &&
		    strcmp(sc->sc_name, name) == 0 &&
		    sc->sc_index < gs->gs_nservices)
			return (sc->sc_index);
	}
	return (SIZE_MAX);
}

/*
 * The generations whose slots the supervisor adds up: the running ones
 * (a failed one's workers are killed, and carried when reaped).  Returns
 * the service's index in g, or SIZE_MAX to skip g.
 */
static size_t
stats_sup_index(const struct generation *g, const char *name, int protocol)
{
	if (g->g_failed || g->g_stats == NULL || g->g_cf == NULL)
		return (SIZE_MAX);
	return (stats_find(g->g_cf, g->g_stats, name, protocol));
}

/*
 * A service's totals as the supervisor reports them (the control
 * socket's "services"): every running generation's slots, and what the
 * generations that are gone counted, from the supervisor's private
 * record, not the shared copy a worker could write on.  These are the
 * totals evi_stats_foreach gives a worker.  Only the supervisor changes
 * the carry, and not while this runs: no retries are needed.
 */
void
stats_sup_totals(struct supervisor *sup, const struct service_conf *sc,
    struct evi_stats_service *out)
{
	struct generation	*g;
	struct carry		*ca;
	struct svc_stats	 st;
	size_t			 i;

	memset(&st, 0, sizeof(st));
	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		i = stats_sup_index(g, sc->sc_name, sc->sc_protocol);
		if (i != SIZE_MAX)
			stats_gen_sum(g->g_stats, i, &st);
	}
	if ((ca = stats_carry_find(&sup->s_carry, sc, 0)) != NULL)
		stats_sum(&st, &ca->ca_totals);
	stats_export(&st, sc, out);
}

/*
 * A service's live connections in every running generation, for a drain
 * that waits until none is left.  The figures are what the workers
 * wrote: a lying worker can make a drain wait, never make root act.
 */
uint64_t
stats_sup_active(struct supervisor *sup, const char *name, int protocol)
{
	struct generation	*g;
	uint64_t		 n = 0;
	size_t			 i;

	TAILQ_FOREACH(g, &sup->s_gens, g_entry) {
		i = stats_sup_index(g, name, protocol);
		if (i != SIZE_MAX)
			n += stats_gen_active(g->g_stats, i);
	}
	return (n);
}

int
evi_stats_foreach(const struct evi_service *self, evi_stats_cb cb, void *arg)
{
	struct evi_stats_service	 s;
	struct service_conf		*sc;
	struct worker			*w = self->s_worker;
	int				 rv;

	if (w == NULL)
		return (0);
	/* Every service of the generation, isolated ones included. */
	TAILQ_FOREACH(sc, &w->w_config->c_services, sc_entry) {
		stats_conf(w, sc, &s);
		if ((rv = cb(&s, arg)) != 0)
			return (rv);
	}
	return (0);
}

/*
 * Counts our open descriptors.  /proc/self/fd is the easy way, but a
 * worker that changed uid is not dumpable and cannot read it; then one
 * poll(2) over every possible descriptor tells which are open.  Either
 * way costs time in proportion to the descriptors: see stats_open_fds.
 */
uint64_t
stats_count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	struct rlimit	 rl;
	struct pollfd	*pfd;
	uint64_t	 n = 0;
	nfds_t		 i, max;

	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.')
				n++;
		}
		closedir(d);
		return (n > 0 ? n - 1 : 0);	/* not the directory's own */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (0);
	max = rl.rlim_cur > 65536 ? 65536 : (nfds_t)rl.rlim_cur;
	pfd = xreallocarray(NULL, max, sizeof(*pfd));
	for (i = 0; i < max; i++) {
		pfd[i].fd = (int)i;
		pfd[i].events = 0;
		pfd[i].revents = 0;
	}
	if (poll(pfd, max, 0) != -1) {
		for (i = 0; i < max; i++) {
			if (!(pfd[i].revents & POLLNVAL))
				n++;
		}
	}
	free(pfd);
	return (n);
}

/*
 * The descriptor count for reports, redone at most once a second.  In a
 * worker with thousands of connections a count takes milliseconds, and a
 * client that pipelines scrapes must not buy one per request.
 */
uint64_t
stats_open_fds(struct worker *w)
{
	uint64_t	now = timerq_now();

	if (w->w_nfds_when == 0 || now - w->w_nfds_when >= STATS_FDS_MS) {
		w->w_nfds = stats_count_fds();
		w->w_nfds_when = now;
	}
	return (w->w_nfds);
}

const struct evi_stats_global *
evi_stats_global(const struct evi_service *self)
{
	struct worker		*w = self->s_worker;
	struct global_stats	*gl;
	struct evi_stats_global	*g;
	struct timeval		 now, d;

	if (w == NULL)
		return (NULL);
	gl = w->w_global;
	g = &w->w_gstats;
	memset(g, 0, sizeof(*g));
	gettimeofday(&now, NULL);
	timersub(&now, &gl->gl_start, &d);
	g->start_time = (uint64_t)gl->gl_start.tv_sec;
	g->uptime_ms = (uint64_t)d.tv_sec * 1000 + (uint64_t)d.tv_usec / 1000;
	g->reloads_ok = gl->gl_reloads_ok;
	g->reloads_failed = gl->gl_reloads_failed;
	g->worker_restarts = gl->gl_restarts;
	g->workers = gl->gl_workers ? gl->gl_workers : 1;
	g->version = PACKAGE_VERSION;
	g->open_fds = stats_open_fds(w);
	g->services = w->w_stats->gs_nservices;
	return (g);
}

/* Logs everything an operator asks about on SIGUSR1, one fact a line. */
void
stats_dump(struct worker *w)
{
	struct evi_service	*svc;
	struct evi_stats_service s;
	struct listener		*l;
	struct evi_conn		*c;
	struct timeval		 now;
	char			 peer[ADDR_STRLEN];
	uint64_t		 n;
	unsigned int		 i;

	event_base_gettimeofday_cached(w->w_base, &now);
	log_info("state: pid %ld, up %llds, %llu connection%s, %s",
	    (long)getpid(), (long long)(now.tv_sec - w->w_start.tv_sec),
	    (unsigned long long)w->w_nconns, w->w_nconns == 1 ? "" : "s",
	    w->w_stopping ? "stopping" : "serving");
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		stats_service(svc, &s);
		log_info("state: service \"%s\": module %s, %s%s, accepted "
		    "%llu, active %llu, bytes in %llu, out %llu, datagrams in "
		    "%llu, out %llu, module errors %llu", s.name, s.module,
		    s.protocol, svc->s_disabled ? ", disabled" : "",
		    (unsigned long long)s.accepted,
		    (unsigned long long)s.active,
		    (unsigned long long)s.bytes_in,
		    (unsigned long long)s.bytes_out,
		    (unsigned long long)s.dgrams_in,
		    (unsigned long long)s.dgrams_out,
		    (unsigned long long)s.module_errors);
		for (i = 0; i < EVI_CLOSE_NREASONS_ALL; i++) {
			if ((n = stats_closed_count(&s, i)) != 0)
				log_info("state: service \"%s\": closed "
				    "(%s) %llu", s.name,
				    evi_close_reason_string(i),
				    (unsigned long long)n);
		}
		for (i = 0; i < EVI_REFUSE_NREASONS_ALL; i++) {
			if ((n = stats_refused_count(&s, i)) != 0)
				log_info("state: service \"%s\": refused "
				    "(%s) %llu", s.name,
				    evi_refuse_reason_string(i),
				    (unsigned long long)n);
		}
		if (s.proxy_errors != 0)
			log_info("state: service \"%s\": PROXY header errors "
			    "%llu", s.name, (unsigned long long)s.proxy_errors);
		if (s.tls)
			stats_dump_tls(&s);
		TAILQ_FOREACH(l, &svc->s_conf->sc_listeners, l_entry)
			log_info("state: service \"%s\": listener %s (%s)%s",
			    s.name, l->l_name, s.protocol,
			    listener_state(l));
		TAILQ_FOREACH(c, &svc->s_conns, c_entry) {
			addr_string(&c->c_peer.sa, peer, sizeof(peer));
			log_info("state: service \"%s\": connection %s, age "
			    "%llds, bytes in %llu, out %llu%s", s.name, peer,
			    (long long)((timerq_now() - c->c_start) / 1000),
			    (unsigned long long)c->c_bytes_in,
			    (unsigned long long)c->c_bytes_out,
			    (c->c_flags & CONN_LINGERING) ? ", closing" : "");
		}
	}
}

/* The port of a local address, for the connection log. */
static unsigned int
stats_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	if (sa->sa_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)sa)->sin_port));
	return (0);
}

/*
 * One logfmt line per finished connection (log_connections = yes), so log
 * tools can parse it: key=value pairs, no spaces inside values.
 */
static const char	*stats_signame(int);

void
stats_log_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct evi_service	*svc = c->c_svc;
	char			 peer[ADDR_STRLEN], via[ADDR_STRLEN + 5];
	char			 exited[32], tls[384];

	addr_string(&c->c_peer.sa, peer, sizeof(peer));
	tls_log_fields(c, tls, sizeof(tls));
	exited[0] = '\0';
	if ((c->c_flags & CONN_EXITED) && WIFSIGNALED(c->c_exit))
		(void)snprintf(exited, sizeof(exited), " signal=%s",
		    stats_signame(WTERMSIG(c->c_exit)));
	else if (c->c_flags & CONN_EXITED)
		(void)snprintf(exited, sizeof(exited), " exit=%d",
		    WEXITSTATUS(c->c_exit));
	via[0] = '\0';
	if (c->c_proxy != NULL) {
		memcpy(via, " via=", 5);
		addr_string(&c->c_proxy->pi_via.sa, via + 5, sizeof(via) - 5);
	}
	/* An outbound connection's line says so, to keep client lines apart. */
	log_info("event=%s service=%s proto=tcp peer=%s%s local_port=%u "
	    "duration_ms=%lld bytes_in=%llu bytes_out=%llu reason=%s%s%s",
	    (c->c_flags & CONN_OUTBOUND) ? "outbound" : "close",
	    svc->s_conf->sc_name, peer, via,
	    stats_port(evi_conn_local(c, NULL)),
	    (long long)(timerq_now() - c->c_start),
	    (unsigned long long)c->c_bytes_in,
	    (unsigned long long)c->c_bytes_out,
	    evi_close_reason_string(reason), exited, tls);
}

/* A TLS service's handshakes in the state dump, failures by reason. */
static void
stats_dump_tls(const struct evi_stats_service *s)
{
	unsigned int	i;

	log_info("state: service \"%s\": TLS handshakes %llu, resumed %llu",
	    s->name, (unsigned long long)s->tls_handshakes,
	    (unsigned long long)s->tls_resumed);
	for (i = 0; i < EVI_TLS_FAIL_NREASONS; i++) {
		if (s->tls_handshake_failures[i] != 0)
			log_info("state: service \"%s\": TLS handshake "
			    "failures (%s) %llu", s->name,
			    evi_tls_failure_string(i), (unsigned long long)
			    s->tls_handshake_failures[i]);
	}
}

/* A signal's name without "SIG" (SEGV, KILL), or its number. */
static const char *
stats_signame(int sig)
{
	static char	buf[16];
	const char	*name;

	if ((name = sigabbrev_np(sig)) != NULL)
		return (name);
	(void)snprintf(buf, sizeof(buf), "%d", sig);
	return (buf);
}

/* The datagram counterpart: one line per datagram and its replies. */
void
stats_log_dgram(struct evi_service *svc, const struct listener *l,
    const struct sockaddr *peer, size_t in, uint64_t out,
    const char *result)
{
	char	buf[ADDR_STRLEN];

	log_info("event=datagram service=%s proto=udp peer=%s local_port=%u "
	    "bytes_in=%zu bytes_out=%llu result=%s", svc->s_conf->sc_name,
	    addr_string(peer, buf, sizeof(buf)), stats_port(&l->l_su.sa), in,
	    (unsigned long long)out, result);
}
