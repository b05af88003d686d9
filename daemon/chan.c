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
 * The channel between the supervisor and each worker process: a stream
 * socketpair made at fork, carrying framed messages (struct chan_hdr,
 * then ch_len bytes).  The supervisor asks (what a worker serves, its
 * connections; disable, enable, close one connection) on behalf of the
 * control socket, and the worker answers each with one CHAN_REPLY of the
 * same tag, whose payload is a JSON object.
 *
 * A worker is a process we do not trust: the supervisor bounds what it
 * reads (CHAN_MAX_REPLY), parses replies with Jansson, and a worker that
 * breaks the framing loses its channel, not the supervisor its loop.
 * Both ends are non-blocking bufferevents, so a slow peer never stalls
 * the other's serving.
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

#define CHAN_MAX_REQUEST	4096		/* what a worker reads */
#define CHAN_MAX_REPLY		(64U << 20)	/* what we read from one */

/* Queues one framed message on a channel. */
static void
chan_put(struct bufferevent *bev, enum chan_type type, uint64_t tag,
    const void *payload, size_t len)
{
	struct chan_hdr	hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.ch_len = (uint32_t)len;
	hdr.ch_type = (uint32_t)type;
	hdr.ch_tag = tag;
	bufferevent_write(bev, &hdr, sizeof(hdr));
	if (len > 0)
		bufferevent_write(bev, payload, len);
}

/*
 * Takes the next whole message off an input buffer: 1 with its header
 * and payload (malloc'd, NUL-terminated), 0 if it has not all arrived,
 * -1 if its length is over max.
 */
static int
chan_take(struct evbuffer *in, size_t max, struct chan_hdr *hdr,
    char **payload)
{
	if (evbuffer_get_length(in) < sizeof(*hdr))
		return (0);
	evbuffer_copyout(in, hdr, sizeof(*hdr));
	if (hdr->ch_len > max)
		return (-1);
	if (evbuffer_get_length(in) < sizeof(*hdr) + hdr->ch_len)
		return (0);
	evbuffer_drain(in, sizeof(*hdr));
	*payload = xmalloc((size_t)hdr->ch_len + 1);
	evbuffer_remove(in, *payload, hdr->ch_len);
	(*payload)[hdr->ch_len] = '\0';
	return (1);
}

/*
 * The worker end.
 */

/* One connection, as `evinetdctl connections` shows it. */
static json_t *
chan_conn_json(const struct evi_conn *c, uint64_t now)
{
	const struct evi_tls_info *ti = evi_conn_tls(c);
	char	 peer[ADDR_STRLEN], local[ADDR_STRLEN], via[ADDR_STRLEN];
	char	 id[48];

	(void)snprintf(id, sizeof(id), "%ld-%" PRIu64, (long)getpid(),
	    c->c_id);
	addr_string(&c->c_peer.sa, peer, sizeof(peer));
	addr_string(evi_conn_local(c, NULL), local, sizeof(local));
	if (c->c_proxy != NULL)
		addr_string(&c->c_proxy->pi_via.sa, via, sizeof(via));
	return (json_pack("{s:s, s:s, s:s, s:s?, s:s, s:b, s:I, s:I, s:I, "
	    "s:I, s:I, s:o, s:s?}", "id", id,
	    "service", c->c_svc->s_conf->sc_name,
	    "peer", peer, "via", c->c_proxy != NULL ? via : NULL,
	    "local", local, "outbound", (c->c_flags & CONN_OUTBOUND) != 0,
	    "age_ms", (json_int_t)(now - c->c_start),
	    "idle_ms", (json_int_t)(now - c->c_active),
	    "bytes_in", (json_int_t)c->c_bytes_in,
	    "bytes_out", (json_int_t)c->c_bytes_out,
	    "worker", (json_int_t)getpid(), "child", c->c_child > 0 ?
	    json_integer(c->c_child) : json_null(),
	    "tls", ti != NULL ? ti->version : (c->c_flags & CONN_HANDSHAKE) ?
	    "handshake" : NULL));
}

/* The connections of the services named name (all if it is empty). */
static json_t *
chan_conns(struct worker *w, const char *name)
{
	struct evi_service	*svc;
	struct evi_conn		*c;
	json_t			*a;
	uint64_t		 now = timerq_now();

	a = json_array();
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		if (*name != '\0' && strcmp(svc->s_conf->sc_name, name) != 0)
			continue;
		TAILQ_FOREACH(c, &svc->s_conns, c_entry) {
			if (c->c_flags & CONN_CLOSE_PENDING)
				continue;
			json_array_append_new(a, chan_conn_json(c, now));
		}
	}
	return (json_pack("{s:o}", "connections", a));
}

/* Closes our connection number id, if we have it, as the operator asks. */
static json_t *
chan_close(struct worker *w, const char *arg)
{
	struct evi_service	*svc;
	struct evi_conn		*c;
	char			*end;
	unsigned long long	 id;
	json_t			*o;

	errno = 0;
	id = strtoull(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0)
		return (json_object());
	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		TAILQ_FOREACH(c, &svc->s_conns, c_entry) {
			if (c->c_id != id || (c->c_flags & CONN_CLOSE_PENDING))
				continue;
			o = json_pack("{s:s}", "service", svc->s_conf->sc_name);
			log_info("service \"%s\": closing connection %ld-%llu "
			    "as the operator asked", svc->s_conf->sc_name,
			    (long)getpid(), id);
			conn_close(c, EVI_CLOSE_ADMIN);
			return (o);
		}
	}
	return (json_object());
}

/* Disables or enables the services named name; says how many there were. */
static json_t *
chan_disable(struct worker *w, const char *name, int disable)
{
	struct evi_service	*svc;
	json_int_t		 n = 0;

	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		if (strcmp(svc->s_conf->sc_name, name) == 0) {
			service_set_disabled(svc, disable);
			n++;
		}
	}
	return (json_pack("{s:I}", "services", n));
}

/* What we serve and hold, for `evinetdctl status`. */
static json_t *
chan_info(struct worker *w)
{
	struct evi_service	*svc;
	json_t			*names;

	names = json_array();
	TAILQ_FOREACH(svc, &w->w_services, s_entry)
		json_array_append_new(names,
		    json_string(svc->s_conf->sc_name));
	return (json_pack("{s:o, s:I, s:I}", "services", names,
	    "connections", (json_int_t)(w->w_nconns - w->w_noutbound),
	    "open_fds", (json_int_t)stats_open_fds(w)));
}

/* Answers one request from the supervisor. */
static void
chan_worker_request(struct worker *w, const struct chan_hdr *hdr,
    const char *arg)
{
	json_t	*r;
	char	*s;

	switch (hdr->ch_type) {
	case CHAN_INFO:
		r = chan_info(w);
		break;
	case CHAN_CONNS:
		r = chan_conns(w, arg);
		break;
	case CHAN_DISABLE:
	case CHAN_ENABLE:
		r = chan_disable(w, arg, hdr->ch_type == CHAN_DISABLE);
		break;
	case CHAN_CLOSE:
		r = chan_close(w, arg);
		break;
	default:
		r = json_pack("{s:s}", "error", "unknown request");
		break;
	}
	if (r == NULL || (s = json_dumps(r, JSON_COMPACT)) == NULL)
		fatalx("cannot encode a reply to the supervisor");
	json_decref(r);
	chan_put(w->w_chan, CHAN_REPLY, hdr->ch_tag, s, strlen(s));
	free(s);
}

/*
 * Tells the supervisor this worker accepts no more (a reload's drain):
 * the reload is reported done only when every old worker has said so,
 * so a connection made after it is the new configuration's.
 */
void
chan_worker_draining(struct worker *w)
{
	if (w->w_chan != NULL)
		chan_put(w->w_chan, CHAN_DRAINING, 0, NULL, 0);
}

static void
chan_worker_read(struct bufferevent *bev, void *arg)
{
	struct worker	*w = arg;
	struct chan_hdr	 hdr;
	char		*payload;
	int		 rv;

	while ((rv = chan_take(bufferevent_get_input(bev),
	    CHAN_MAX_REQUEST, &hdr, &payload)) == 1) {
		chan_worker_request(w, &hdr, payload);
		free(payload);
	}
	if (rv == -1) {
		log_warnx("bad message from the supervisor; closing the "
		    "control channel");
		chan_worker_free(w);
	}
}

/* The supervisor is gone or broke the channel: we serve on without it. */
static void
chan_worker_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_ERROR)
		log_warn("control channel");
	chan_worker_free(arg);
}

/* Starts answering the supervisor on fd, which the worker now owns. */
void
chan_worker_start(struct worker *w, int fd)
{
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (w->w_chan = bufferevent_socket_new(w->w_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("cannot set up the control channel");
	bufferevent_setcb(w->w_chan, chan_worker_read, NULL,
	    chan_worker_event, w);
	bufferevent_enable(w->w_chan, EV_READ);
}

void
chan_worker_free(struct worker *w)
{
	if (w->w_chan == NULL)
		return;
	bufferevent_free(w->w_chan);
	w->w_chan = NULL;
}

/*
 * The supervisor end.
 */

static void
chan_sup_read(struct bufferevent *bev, void *arg)
{
	struct wproc		*p = arg;
	struct supervisor	*sup = p->p_gen->g_sup;
	struct chan_hdr		 hdr;
	json_error_t		 jerr;
	json_t			*r;
	char			*payload;
	int			 rv;

	while ((rv = chan_take(bufferevent_get_input(bev), CHAN_MAX_REPLY,
	    &hdr, &payload)) == 1) {
		if (hdr.ch_type == CHAN_DRAINING) {
			free(payload);
			sup_drain_acked(sup, p);
			continue;
		}
		r = json_loadb(payload, hdr.ch_len, JSON_REJECT_DUPLICATES,
		    &jerr);
		free(payload);
		if (hdr.ch_type != CHAN_REPLY || !json_is_object(r)) {
			json_decref(r);
			rv = -1;
			break;
		}
		control_reply(sup, p, hdr.ch_tag, r);
		json_decref(r);
		/* The reply may have ended in a stop that freed p. */
		if (p->p_chan != bev)
			return;
	}
	if (rv == -1) {
		log_warnx("worker %ld sent a bad control reply; closing its "
		    "channel", (long)p->p_pid);
		chan_sup_close(p);
	}
}

static void
chan_sup_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	chan_sup_close(arg);
}

/* Talks to the worker forked for p over fd, which we now own. */
void
chan_sup_open(struct wproc *p, int fd)
{
	struct supervisor	*sup = p->p_gen->g_sup;

	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (p->p_chan = bufferevent_socket_new(sup->s_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("cannot set up the control channel of worker %ld",
		    (long)p->p_pid);
		close(fd);
		return;
	}
	bufferevent_setcb(p->p_chan, chan_sup_read, NULL, chan_sup_event, p);
	bufferevent_enable(p->p_chan, EV_READ);
}

/* The worker is gone, or misbehaved: whoever waits on it stops waiting. */
void
chan_sup_close(struct wproc *p)
{
	if (p->p_chan == NULL)
		return;
	bufferevent_free(p->p_chan);
	p->p_chan = NULL;
	control_proc_gone(p->p_gen->g_sup, p);
}

/*
 * In a new worker process: the channels of the others are not ours.
 * Their descriptors close; the memory stays where it was (the parent's
 * event base it belongs to is gone, so it could not be freed cleanly).
 */
void
chan_sup_forget(struct wproc *p)
{
	if (p->p_chan != NULL)
		close(bufferevent_getfd(p->p_chan));
}

/* Sends a request to p's worker; 0, or -1 if it has no channel. */
int
chan_send(struct wproc *p, enum chan_type type, uint64_t tag, const char *arg)
{
	if (p->p_chan == NULL)
		return (-1);
	chan_put(p->p_chan, type, tag, arg, strlen(arg));
	return (0);
}
