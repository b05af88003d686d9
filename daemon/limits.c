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
 * Limits on who gets served and how much: the checks a new connection or
 * datagram passes before a module sees it (access lists, connection
 * limits per service, per source and in total, and token-bucket rates per
 * service and per source), and the bookkeeping behind them.
 *
 * Rates heal themselves: a bucket refills continuously, so a burst is
 * refused only while the bucket is empty, and the service never switches
 * itself off (the behaviour users hate in xinetd's cps and inetd's rate
 * limit).
 *
 * Per-source state lives in a tsearch(3) tree (a red-black tree in glibc)
 * keyed by the client address, IPv6 grouped by a prefix (/64 by default),
 * so that an attacker cannot degrade lookups the way a hash table can be
 * flooded.  An entry exists while its source has connections, or while its
 * buckets are refilling; a one-second housekeeping tick sweeps the rest.
 * The table is bounded, and when it is full the least recently seen source
 * without connections is forgotten to make room: a flood of spoofed
 * sources can crowd the table but never lock everyone else out.  What a
 * forgotten source loses is its own rate state, which was the most
 * refilled of all.  A source with connections is never forgotten (its
 * connections are counted against it).
 *
 * Refusals are counted, and logged without letting a flood fill the disk:
 * the first refusal of a kind in a second is logged with its peer, and the
 * rest of that second are summed into one line by the next tick.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evinetd.h"

static void	limits_arm_tick(struct worker *);
static void	limits_tick(void *);


/* Refills a bucket for the time passed; a new bucket starts full. */
static void
bucket_refill(struct bucket *b, const struct rate_conf *rc, uint64_t now)
{
	if (b->b_last == 0) {
		b->b_tokens = rc->rc_burst;
		b->b_last = now;
		return;
	}
	if (now > b->b_last) {
		b->b_tokens += (double)(now - b->b_last) * rc->rc_per_sec /
		    1000.0;
		if (b->b_tokens > rc->rc_burst)
			b->b_tokens = rc->rc_burst;
	}
	/* Even when the clock stepped back: refill from the new time. */
	b->b_last = now;
}

/* Is there a token?  Does not take it: all checks must pass first. */
static int
bucket_has(struct bucket *b, const struct rate_conf *rc, uint64_t now)
{
	bucket_refill(b, rc, now);
	return (b->b_tokens >= 1.0);
}

static int
bucket_full(struct bucket *b, const struct rate_conf *rc, uint64_t now)
{
	bucket_refill(b, rc, now);
	return (b->b_tokens >= rc->rc_burst);
}

/* Are a source's buckets full again, so forgetting it changes nothing? */
static int
limits_source_rested(const struct limits_conf *lim, struct source *src,
    uint64_t now)
{
	struct rate_conf	rc;

	if (lim->lim_src_rate.rc_per_sec > 0 && !bucket_full(&src->src_bucket,
	    &lim->lim_src_rate, now))
		return (0);
	if (lim->lim_reply_budget > 0) {
		rc.rc_per_sec = rc.rc_burst = (double)lim->lim_reply_budget;
		if (!bucket_full(&src->src_reply, &rc, now))
			return (0);
	}
	return (1);
}

static int
source_cmp(const void *a, const void *b)
{
	return (memcmp(((const struct source *)a)->src_key,
	    ((const struct source *)b)->src_key, sizeof(((struct source *)
	    a)->src_key)));
}

/* Reduces a peer to its per-source key: IPv4, or IPv6 cut to a prefix. */
static void
source_key(long long prefix6, const struct sockaddr *sa,
    uint8_t key[PUBSRC_KEYLEN])
{
	uint8_t	addr[16];
	int	family, bits, i;

	acl_peer(sa, &family, addr);
	memset(key, 0, PUBSRC_KEYLEN);
	key[0] = (uint8_t)family;
	if (family == AF_INET) {
		memcpy(key + 1, addr, 4);
		return;
	}
	bits = (int)prefix6;
	for (i = 0; i < 16 && bits > 0; i++, bits -= 8)
		key[1 + i] = bits >= 8 ? addr[i] :
		    (uint8_t)(addr[i] & (0xff << (8 - bits)));
}

/*
 * Does this service track sources at all?  Most do not: no cost then.
 * per_source counts connections, so it alone tracks no datagram.
 */
static int
limits_tracks_sources(const struct limits_conf *lim, int stream)
{
	return ((stream && lim->lim_per_source > 0) ||
	    lim->lim_src_rate.rc_per_sec > 0 ||
	    (!stream && lim->lim_reply_budget > 0));
}

static void
limits_source_delete(struct evi_service *svc, struct source *src)
{
	if (src->src_conns == 0)
		TAILQ_REMOVE(&svc->s_idle, src, src_idle);
	tdelete(src, &svc->s_sources, source_cmp);
	svc->s_nsources--;
	free(src);
}

/*
 * Finds or makes the entry of a source, marking it the most recently
 * seen; NULL only when the table is full of sources with connections.
 */
static struct source *
limits_source(struct evi_service *svc, const struct sockaddr *sa)
{
	struct source	 probe, *src, **found;
	size_t		 max;

	source_key(svc->s_conf->sc_limits.lim_prefix6, sa, probe.src_key);
	found = tfind(&probe, &svc->s_sources, source_cmp);
	if (found != NULL) {
		src = *found;
		if (src->src_conns == 0 && src != TAILQ_LAST(&svc->s_idle,
		    sources)) {
			TAILQ_REMOVE(&svc->s_idle, src, src_idle);
			TAILQ_INSERT_TAIL(&svc->s_idle, src, src_idle);
		}
		return (src);
	}
	if (svc->s_nsources == 0)
		TAILQ_INIT(&svc->s_idle);
	max = svc->s_max_sources != 0 ? svc->s_max_sources :
	    LIMITS_MAX_SOURCES;
	if (svc->s_nsources >= max) {
		if ((src = TAILQ_FIRST(&svc->s_idle)) == NULL)
			return (NULL);
		limits_source_delete(svc, src);
		svc->s_evicted++;
		limits_arm_tick(svc->s_worker);
	}
	src = xcalloc(1, sizeof(*src));
	memcpy(src->src_key, probe.src_key, sizeof(src->src_key));
	if (tsearch(src, &svc->s_sources, source_cmp) == NULL)
		fatalx("tsearch: out of memory");
	TAILQ_INSERT_TAIL(&svc->s_idle, src, src_idle);
	svc->s_nsources++;
	return (src);
}

/* Makes sure the housekeeping tick will run. */
static void
limits_arm_tick(struct worker *w)
{
	struct timeval	tv = { 1, 0 };

	if (w != NULL && !deadline_pending(&w->w_tick))
		deadline_add(&w->w_timers, &w->w_tick, &tv);
}

/*
 * The connections a client still has in the other generations' workers
 * of the same service, as they published them when told to drain, or
 * max if that many.  A worker that is gone, or has no connections, is
 * skipped; a count is at most its worker's connections, whatever a
 * scribbled table says.
 */
static uint64_t
limits_draining(const struct evi_service *svc, const struct sockaddr *sa,
    uint64_t max)
{
	const struct worker	*w = svc->s_worker;
	const struct gen_stats	*gs;
	const struct pubsrc	*ps;
	size_t			 nsvc = w->w_config->c_nservices, o, i, p;
	uint64_t		 n = 0, active, found;
	uint8_t			 key[PUBSRC_KEYLEN];

	for (o = 0; o < w->w_nothers && n < max; o++) {
		gs = w->w_others[o];
		i = w->w_other_index[o * nsvc + svc->s_index];
		if (i == SIZE_MAX || gs->gs_pub == NULL)
			continue;
		for (p = 0; p < gs->gs_nprocs; p++) {
			ps = &gs->gs_pub[p * gs->gs_nservices + i];
			active = stats_slot(gs, p, i)->st_active;
			if (ps->ps_table == NULL || active == 0)
				continue;
			source_key(ps->ps_prefix6, sa, key);
			found = pubsrc_lookup(ps, key);
			n += found < active ? found : active;
			if (n >= max)
				return (max);
		}
	}
	return (n);
}

/*
 * Has a client all the connections per_source allows, here and, after
 * a reload, in the generations still draining?
 */
static int
limits_source_full(const struct evi_service *svc, const struct source *src,
    const struct sockaddr *sa)
{
	uint64_t	max = (uint64_t)svc->s_conf->sc_limits.lim_per_source;

	if (src->src_conns >= max)
		return (1);
	return (svc->s_worker->w_nothers > 0 &&
	    limits_draining(svc, sa, max - src->src_conns) >=
	    max - src->src_conns);
}

/* Says why limits_admit refuses, in one expression. */
static int
limits_no(enum evi_refuse_reason *reason, enum evi_refuse_reason why)
{
	*reason = why;
	return (0);
}

/*
 * Decides whether a new client may be served.  Returns 1 to admit (and
 * then counts it against its source, returned in *srcp), or 0 with the
 * reason in *reason; *detail says more for the log.  Tokens are taken
 * only when every check passed, so refusals do not drain the buckets.
 */
int
limits_admit(struct evi_service *svc, const struct sockaddr *sa,
    int stream, struct source **srcp, enum evi_refuse_reason *reason,
    const char **detail)
{
	const struct limits_conf	*lim = &svc->s_conf->sc_limits;
	struct worker			*w = svc->s_worker;
	struct source			*src = NULL;
	uint64_t			 now = 0;
	long long			 total;

	*srcp = NULL;
	*detail = "";
	if (!acl_allows(&lim->lim_only, &lim->lim_deny, sa)) {
		*detail = "not allowed by only_from / no_access";
		return (limits_no(reason, EVI_REFUSE_ACL));
	}
	/* After the ACL: who may not connect learns nothing of the state. */
	if (svc->s_disabled) {
		*detail = "service disabled by the operator";
		return (limits_no(reason, EVI_REFUSE_DISABLED));
	}
	if (stream) {
		total = w->w_config->c_max_conns;
		if (total > 0 && (long long)stats_active_total(w) >= total) {
			*detail = "global max_connections reached";
			return (limits_no(reason, EVI_REFUSE_MAX_CONNECTIONS));
		}
		if (lim->lim_max_conns > 0 &&
		    (long long)stats_active(svc) >= lim->lim_max_conns) {
			*detail = "service max_connections reached";
			return (limits_no(reason, EVI_REFUSE_MAX_CONNECTIONS));
		}
	}
	if (lim->lim_rate.rc_per_sec > 0 || limits_tracks_sources(lim, stream))
		now = timerq_now();
	if (limits_tracks_sources(lim, stream)) {
		if ((src = limits_source(svc, sa)) == NULL) {
			*detail = "too many distinct sources tracked";
			return (limits_no(reason, EVI_REFUSE_PER_SOURCE));
		}
		if (stream && lim->lim_per_source > 0 &&
		    limits_source_full(svc, src, sa)) {
			*detail = "per_source connections reached";
			goto refuse_source;
		}
		if (lim->lim_src_rate.rc_per_sec > 0 &&
		    !bucket_has(&src->src_bucket, &lim->lim_src_rate, now)) {
			*detail = "per_source_rate exceeded";
			if (src->src_conns == 0)
				limits_arm_tick(w);
			return (limits_no(reason, EVI_REFUSE_RATE));
		}
	}
	if (lim->lim_rate.rc_per_sec > 0 &&
	    !bucket_has(&svc->s_bucket, &lim->lim_rate, now)) {
		*detail = "rate exceeded";
		if (src != NULL && src->src_conns == 0)
			limits_arm_tick(w);
		return (limits_no(reason, EVI_REFUSE_RATE));
	}
	if (lim->lim_rate.rc_per_sec > 0)
		svc->s_bucket.b_tokens -= 1.0;
	if (src != NULL) {
		if (lim->lim_src_rate.rc_per_sec > 0)
			src->src_bucket.b_tokens -= 1.0;
		if (stream && src->src_conns++ == 0)
			TAILQ_REMOVE(&svc->s_idle, src, src_idle);
		else if (!stream)
			limits_arm_tick(w);	/* sweep it when refilled */
		*srcp = src;
	}
	return (1);

refuse_source:
	if (src->src_conns == 0)
		limits_arm_tick(w);
	return (limits_no(reason, EVI_REFUSE_PER_SOURCE));
}

/* A connection counted against a source is gone. */
void
limits_release(struct evi_service *svc, struct source *src)
{
	const struct limits_conf	*lim = &svc->s_conf->sc_limits;

	if (src == NULL)
		return;
	src->src_conns--;
	if (src->src_pub != NULL)
		pubsrc_set(src->src_pub, src->src_conns);
	if (src->src_conns > 0)
		return;
	TAILQ_INSERT_TAIL(&svc->s_idle, src, src_idle);
	if (limits_source_rested(lim, src, timerq_now()))
		limits_source_delete(svc, src);
	else
		limits_arm_tick(svc->s_worker);
}

/*
 * May a reply of len bytes go to this datagram's source?  The budget is
 * a bucket of bytes that may run into debt by one reply, so that a budget
 * smaller than a reply still lets replies through at the budget's pace.
 * A withheld reply is counted and logged as a refusal (rate).
 */
int
limits_reply(struct evi_service *svc, struct source *src,
    const struct sockaddr *peer, size_t len)
{
	long long		budget = svc->s_conf->sc_limits.lim_reply_budget;
	struct rate_conf	rc;

	if (budget == 0 || src == NULL)
		return (1);
	rc.rc_per_sec = rc.rc_burst = (double)budget;
	bucket_refill(&src->src_reply, &rc, timerq_now());
	if (src->src_reply.b_tokens <= 0) {
		limits_refused(svc, EVI_REFUSE_RATE, peer,
		    "udp_reply_budget exceeded");
		return (0);
	}
	src->src_reply.b_tokens -= (double)len;
	return (1);
}

/*
 * Counts a refusal and logs it, at most one line per reason per service
 * immediately and one summary per second after that.
 */
void
limits_refused(struct evi_service *svc, enum evi_refuse_reason reason,
    const struct sockaddr *sa, const char *detail)
{
	struct refusal_log	*rl = &svc->s_refusals[reason];
	time_t			 now = (time_t)(timerq_now() / 1000);

	svc->s_stats->st_refused[reason]++;
	addr_string(sa, rl->rl_peer, sizeof(rl->rl_peer));
	rl->rl_detail = detail;
	if (now != rl->rl_logged && rl->rl_pending == 0) {
		rl->rl_pending = 1;
		limits_log(svc, reason);
		rl->rl_logged = now;
		return;
	}
	rl->rl_pending++;
	limits_arm_tick(svc->s_worker);
}

/* Writes one refusal line for what is pending of a reason. */
void
limits_log(struct evi_service *svc, int reason)
{
	struct refusal_log	*rl = &svc->s_refusals[reason];
	int			 dgram = reason == EVI_REFUSE_REFLECTION ||
				    svc->s_conf->sc_protocol == EVI_PROTO_UDP;

	if (rl->rl_pending == 0)
		return;
	log_warnx("service \"%s\": %s %llu %s%s (%s), last from %s: %s",
	    svc->s_conf->sc_name, dgram ? "dropped" : "refused",
	    (unsigned long long)rl->rl_pending,
	    dgram ? "datagram" : "connection", rl->rl_pending == 1 ? "" : "s",
	    reason == EVI_REFUSE_REFLECTION ? "reflection guard" :
	    evi_refuse_reason_string(reason), rl->rl_peer, rl->rl_detail);
	rl->rl_pending = 0;
}

/*
 * Logs a connection closed because its module left max_input bytes
 * unread, as refusals are logged: a module that never reads would
 * otherwise write a line per client.
 */
void
limits_unread(struct evi_service *svc, const char *peer, size_t len)
{
	struct refusal_log	*rl = &svc->s_unread;
	time_t			 now = (time_t)(timerq_now() / 1000);

	if (now != rl->rl_logged && rl->rl_pending == 0) {
		log_warnx("service \"%s\": %s: closing, the module left %zu "
		    "bytes of input unread (max_input %lld)",
		    svc->s_conf->sc_name, peer, len,
		    svc->s_conf->sc_max_input);
		rl->rl_logged = now;
		return;
	}
	(void)snprintf(rl->rl_peer, sizeof(rl->rl_peer), "%s", peer);
	rl->rl_pending++;
	limits_arm_tick(svc->s_worker);
}

/*
 * A TLS handshake failed: charged to the client's per_source_rate as one
 * more connection (its bucket may go below zero, and then refuses it for
 * longer), and logged like refusals, the first of a second at once.
 */
void
limits_tls_failed(struct evi_service *svc, struct source *src,
    const char *peer, const char *what)
{
	const struct limits_conf	*lim = &svc->s_conf->sc_limits;
	struct refusal_log		*rl = &svc->s_tls_failed;
	time_t				 now = (time_t)(timerq_now() / 1000);

	if (src != NULL && lim->lim_src_rate.rc_per_sec > 0) {
		bucket_refill(&src->src_bucket, &lim->lim_src_rate,
		    timerq_now());
		src->src_bucket.b_tokens -= 1.0;
	}
	if (now != rl->rl_logged && rl->rl_pending == 0) {
		log_info("service \"%s\": TLS handshake with %s failed: %s",
		    svc->s_conf->sc_name, peer, what);
		rl->rl_logged = now;
		return;
	}
	(void)snprintf(rl->rl_peer, sizeof(rl->rl_peer), "%s", peer);
	rl->rl_pending++;
	limits_arm_tick(svc->s_worker);
}

/* The summary of the unread-input closes that were not logged yet. */
static void
limits_log_unread(struct evi_service *svc)
{
	struct refusal_log	*rl = &svc->s_unread;

	log_warnx("service \"%s\": closed %llu more connection%s whose "
	    "module left input unread (max_input %lld), last from %s",
	    svc->s_conf->sc_name, (unsigned long long)rl->rl_pending,
	    rl->rl_pending == 1 ? "" : "s", svc->s_conf->sc_max_input,
	    rl->rl_peer);
	rl->rl_pending = 0;
}

/* Collects sources that may go: no connections and full buckets. */
struct sweep {
	struct evi_service	*sw_svc;
	uint64_t		 sw_now;
	struct source		**sw_list;
	size_t			 sw_count;
	size_t			 sw_waiting;
};

static void
limits_sweep_visit(const void *node, VISIT which, void *arg)
{
	struct sweep		*sw = arg;
	struct source		*src = *(struct source * const *)node;
	const struct limits_conf *lim = &sw->sw_svc->s_conf->sc_limits;

	if (which != postorder && which != leaf)
		return;
	if (src->src_conns > 0)
		return;
	if (!limits_source_rested(lim, src, sw->sw_now)) {
		sw->sw_waiting++;
		return;
	}
	sw->sw_list[sw->sw_count++] = src;
}

/* Sweeps one service's idle sources; says if some are still refilling. */
static int
limits_sweep(struct evi_service *svc)
{
	struct sweep	sw;
	size_t		i;

	if (svc->s_nsources == 0)
		return (0);
	sw.sw_svc = svc;
	sw.sw_now = timerq_now();
	sw.sw_list = xreallocarray(NULL, svc->s_nsources,
	    sizeof(struct source *));
	sw.sw_count = 0;
	sw.sw_waiting = 0;
	twalk_r(svc->s_sources, limits_sweep_visit, &sw);
	for (i = 0; i < sw.sw_count; i++)
		limits_source_delete(svc, sw.sw_list[i]);
	free(sw.sw_list);
	return (sw.sw_waiting > 0);
}

/* The once-a-second housekeeping: refusal summaries, source sweeping. */
static void
limits_tick(void *arg)
{
	struct worker		*w = arg;
	struct evi_service	*svc;
	time_t			 now = (time_t)(timerq_now() / 1000);
	int			 again = 0, i;

	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		for (i = 0; i < EVI_REFUSE_NREASONS_ALL; i++) {
			if (svc->s_refusals[i].rl_pending > 0) {
				limits_log(svc, i);
				svc->s_refusals[i].rl_logged = now;
				again = 1;
			}
		}
		if (svc->s_unread.rl_pending > 0) {
			limits_log_unread(svc);
			svc->s_unread.rl_logged = now;
			again = 1;
		}
		if (svc->s_tls_failed.rl_pending > 0) {
			log_info("service \"%s\": %llu more TLS handshake "
			    "failures in the last second, last with %s",
			    svc->s_conf->sc_name, (unsigned long long)
			    svc->s_tls_failed.rl_pending,
			    svc->s_tls_failed.rl_peer);
			svc->s_tls_failed.rl_pending = 0;
			svc->s_tls_failed.rl_logged = now;
			again = 1;
		}
		if (svc->s_evicted > 0) {
			log_warnx("service \"%s\": per-source table full (%zu "
			    "sources): forgot the %llu least recently seen",
			    svc->s_conf->sc_name, svc->s_nsources,
			    (unsigned long long)svc->s_evicted);
			svc->s_evicted = 0;
			again = 1;
		}
		if (limits_sweep(svc))
			again = 1;
	}
	if (again)
		limits_arm_tick(w);
}

/* Publishes one source, if it has connections (see limits_publish). */
static void
limits_publish_visit(const void *node, VISIT which, void *arg)
{
	const struct pubsrc	*ps = arg;
	struct source		*src = *(struct source * const *)node;

	if (which != postorder && which != leaf)
		return;
	if (src->src_conns > 0 && src->src_pub == NULL)
		src->src_pub = pubsrc_publish(ps, src->src_key,
		    src->src_conns);
}

/*
 * Told to drain: publishes every client that still has connections, so
 * that the new generation's per_source counts them (see pubsrc.c).
 */
void
limits_publish(struct worker *w)
{
	struct evi_service	*svc;
	struct pubsrc		*ps;

	if (w->w_stats == NULL || w->w_stats->gs_pub == NULL)
		return;
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		ps = &w->w_stats->gs_pub[w->w_proc * w->w_stats->gs_nservices +
		    svc->s_index];
		if (ps->ps_table != NULL)
			twalk_r(svc->s_sources, limits_publish_visit, ps);
	}
}

void
limits_worker_init(struct worker *w)
{
	deadline_init(&w->w_tick, limits_tick, w);
}

/* Frees a service's source table (its connections are all gone). */
void
limits_service_free(struct evi_service *svc)
{
	tdestroy(svc->s_sources, free);
	svc->s_sources = NULL;
	svc->s_nsources = 0;
}
