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
#include <sys/time.h>

#include <netinet/in.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evinetd.h"

const char *
evi_refuse_reason_string(enum evi_refuse_reason reason)
{
	static const char *names[EVI_REFUSE_NREASONS] = {
		"acl", "max_connections", "per_source", "rate", "fd",
		"reflection"
	};

	if ((unsigned int)reason >= EVI_REFUSE_NREASONS)
		return ("unknown");
	return (names[reason]);
}

/* Copies one service's counters into the public shape. */
void
stats_service(const struct evi_service *svc, struct evi_stats_service *out)
{
	const struct svc_stats	*st = &svc->s_stats;

	memset(out, 0, sizeof(*out));
	out->name = svc->s_conf->sc_name;
	out->module = svc->s_mod->name;
	out->protocol = svc->s_conf->sc_protocol == EVI_PROTO_UDP ? "udp" :
	    "tcp";
	out->accepted = st->st_accepted;
	out->active = st->st_active;
	memcpy(out->closed, st->st_closed, sizeof(out->closed));
	out->refused[EVI_REFUSE_FD] = st->st_refused_fd;
	out->refused[EVI_REFUSE_REFLECTION] = st->st_refused_reflection;
	out->bytes_in = st->st_bytes_in;
	out->bytes_out = st->st_bytes_out;
	out->dgrams_in = st->st_dgrams_in;
	out->dgrams_out = st->st_dgrams_out;
	out->module_errors = st->st_module_errors;
}

int
evi_stats_foreach(const struct evi_service *self, evi_stats_cb cb, void *arg)
{
	struct evi_stats_service	 s;
	struct evi_service		*svc;
	int				 rv;

	if (self->s_worker == NULL)
		return (0);
	TAILQ_FOREACH(svc, &self->s_worker->w_services, s_entry) {
		stats_service(svc, &s);
		if ((rv = cb(&s, arg)) != 0)
			return (rv);
	}
	return (0);
}

/* Counts our open descriptors; only on demand, it reads /proc. */
static uint64_t
stats_open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return (n > 0 ? n - 1 : 0);	/* not the directory's own fd */
}

const struct evi_stats_global *
evi_stats_global(const struct evi_service *self)
{
	struct worker		*w = self->s_worker;
	struct evi_stats_global	*g;
	struct evi_service	*svc;
	struct timeval		 now;

	if (w == NULL)
		return (NULL);
	g = &w->w_gstats;
	memset(g, 0, sizeof(*g));
	gettimeofday(&now, NULL);
	g->start_time = (uint64_t)w->w_start.tv_sec;
	g->uptime_ms = (uint64_t)(now.tv_sec - w->w_start.tv_sec) * 1000 +
	    (uint64_t)((now.tv_usec - w->w_start.tv_usec) / 1000);
	g->workers = 1;
	g->version = PACKAGE_VERSION;
	g->open_fds = stats_open_fds();
	TAILQ_FOREACH(svc, &w->w_services, s_entry)
		g->services++;
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
	unsigned int		 i;

	event_base_gettimeofday_cached(w->w_base, &now);
	log_info("state: pid %ld, up %llds, %llu connection%s, %s",
	    (long)getpid(), (long long)(now.tv_sec - w->w_start.tv_sec),
	    (unsigned long long)w->w_nconns, w->w_nconns == 1 ? "" : "s",
	    w->w_stopping ? "stopping" : "serving");
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		stats_service(svc, &s);
		log_info("state: service \"%s\": module %s, %s, accepted %llu, "
		    "active %llu, bytes in %llu, out %llu, datagrams in %llu, "
		    "out %llu, module errors %llu", s.name, s.module,
		    s.protocol, (unsigned long long)s.accepted,
		    (unsigned long long)s.active,
		    (unsigned long long)s.bytes_in,
		    (unsigned long long)s.bytes_out,
		    (unsigned long long)s.dgrams_in,
		    (unsigned long long)s.dgrams_out,
		    (unsigned long long)s.module_errors);
		for (i = 0; i < EVI_CLOSE_NREASONS; i++) {
			if (s.closed[i] != 0)
				log_info("state: service \"%s\": closed "
				    "(%s) %llu", s.name,
				    evi_close_reason_string(i),
				    (unsigned long long)s.closed[i]);
		}
		for (i = 0; i < EVI_REFUSE_NREASONS; i++) {
			if (s.refused[i] != 0)
				log_info("state: service \"%s\": refused "
				    "(%s) %llu", s.name,
				    evi_refuse_reason_string(i),
				    (unsigned long long)s.refused[i]);
		}
		TAILQ_FOREACH(l, &svc->s_conf->sc_listeners, l_entry)
			log_info("state: service \"%s\": listener %s (%s)%s",
			    s.name, l->l_name, s.protocol,
			    l->l_attached ? "" : ", paused");
		TAILQ_FOREACH(c, &svc->s_conns, c_entry) {
			addr_string(&c->c_peer.sa, peer, sizeof(peer));
			log_info("state: service \"%s\": connection %s, age "
			    "%llds, bytes in %llu, out %llu%s", s.name, peer,
			    (long long)(now.tv_sec - c->c_start.tv_sec),
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
void
stats_log_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct evi_service	*svc = c->c_svc;
	struct timeval		 now, d;
	char			 peer[ADDR_STRLEN];

	event_base_gettimeofday_cached(svc->s_base, &now);
	timersub(&now, &c->c_start, &d);
	addr_string(&c->c_peer.sa, peer, sizeof(peer));
	log_info("event=close service=%s proto=tcp peer=%s local_port=%u "
	    "duration_ms=%lld bytes_in=%llu bytes_out=%llu reason=%s",
	    svc->s_conf->sc_name, peer, stats_port(evi_conn_local(c, NULL)),
	    (long long)d.tv_sec * 1000 + d.tv_usec / 1000,
	    (unsigned long long)c->c_bytes_in,
	    (unsigned long long)c->c_bytes_out,
	    evi_close_reason_string(reason));
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
