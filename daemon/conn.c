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
 * Stream connections.  The daemon owns the socket, both buffers and the
 * events; the module sees callbacks.  Reads go straight into the input
 * buffer's free space (no FIONREAD ioctl, no copy); output is written as
 * soon as a callback returns and the write event is armed only when the
 * kernel pushes back, so a ping-pong costs one read and one write.
 *
 * Backpressure: reading stops while the output holds max_output bytes or
 * more, and resumes when it has drained to half of that.  Input the module
 * leaves unconsumed may grow to max_input; past that the connection is
 * closed with EVI_CLOSE_LIMIT.  So no client, fast or slow, can make a
 * connection hold more than about max_output + max_input.
 *
 * Every path out ends in conn_close(), which calls the module's close
 * callback once and frees all the connection owns.  A graceful end
 * (evi_conn_finish, or the peer's EOF) flushes, shuts down our side, and
 * lingers briefly reading what the peer still sends, so that unread input
 * does not turn our close into a reset that destroys the output.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

#define CONN_SETTLE_ROUNDS	8

static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(void *);
static void	conn_timer_arm(struct evi_conn *);
static void	conn_connected(struct evi_conn *);
static void	conn_paused_cb(struct evi_conn *);
static void	conn_opened(struct evi_conn *);

enum conn_cb { CB_OPEN, CB_READ, CB_DRAINED, CB_EOF };

/*
 * Calls one module callback; -1 from it schedules a module-error close,
 * whatever close the module asked for before it failed, and is returned
 * so conn_accept can keep the conn_open contract.
 */
static int
conn_call(struct evi_conn *c, enum conn_cb which)
{
	const struct evi_conn_ops	*m = c->c_ops;
	int				 rv = 0;

	c->c_flags |= CONN_IN_CALLBACK;
	switch (which) {
	case CB_OPEN:
		if (m->conn_open != NULL)
			rv = m->conn_open(c);
		break;
	case CB_READ:
		if (m->conn_read != NULL)
			rv = m->conn_read(c, c->c_in);
		else
			evbuffer_drain(c->c_in, evbuffer_get_length(c->c_in));
		break;
	case CB_DRAINED:
		if (m->conn_drained != NULL)
			rv = m->conn_drained(c);
		break;
	case CB_EOF:
		if (m->conn_eof != NULL)
			rv = m->conn_eof(c);
		else
			evi_conn_finish(c);
		break;
	}
	c->c_flags &= ~CONN_IN_CALLBACK;
	if (rv != 0) {
		c->c_svc->s_stats->st_module_errors++;
		c->c_flags |= CONN_CLOSE_PENDING;
		c->c_reason = EVI_CLOSE_MODULE_ERROR;
	}
	return (rv);
}

/* What accepted and outbound connections share: buffers, events, lists. */
static struct evi_conn *
conn_new(struct evi_service *svc, int fd, const struct sockaddr *sa,
    socklen_t len)
{
	struct evi_conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->c_svc = svc;
	c->c_fd = fd;
	c->c_readsz = READ_MIN;
	memcpy(&c->c_peer, sa, len < sizeof(c->c_peer) ? len :
	    sizeof(c->c_peer));
	if ((c->c_in = evbuffer_new()) == NULL ||
	    (c->c_out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	event_assign(&c->c_rev, svc->s_base, fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	event_assign(&c->c_wev, svc->s_base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c);
	deadline_init(&c->c_deadline, conn_timer_cb, c);
	c->c_start = c->c_active = timerq_now();
	TAILQ_INSERT_TAIL(&svc->s_conns, c, c_entry);
	svc->s_worker->w_nconns++;
	c->c_id = ++svc->s_worker->w_conn_ids;
	return (c);
}

/*
 * Our end of a socketpair to a program (execconn.c's relay mode): a
 * connection with no callbacks, no deadline and no counters of its own,
 * relayed to the client's, which counts everything.
 */
struct evi_conn *
conn_pair(struct evi_service *svc, int fd)
{
	static const struct evi_conn_ops	 none;
	struct evi_conn				*c;
	union sockunion				 su;

	memset(&su, 0, sizeof(su));
	su.sa.sa_family = AF_UNSPEC;
	c = conn_new(svc, fd, &su.sa, sizeof(su));
	c->c_ops = &none;
	c->c_flags |= CONN_PAIR;
	return (c);
}

/* Sets up a connection the listener accepted and tells the module. */
void
conn_accept(struct evi_service *svc, int fd, const struct sockaddr *sa,
    socklen_t len, struct source *src, struct proxy_info *pi)
{
	struct evi_conn	*c;
	int		 on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c = conn_new(svc, fd, sa, len);
	c->c_ops = &svc->s_ops;
	c->c_source = src;
	c->c_proxy = pi;
	svc->s_stats->st_accepted++;
	svc->s_stats->st_active++;

	/* TLS: the module hears of it once the handshake is done. */
	if (svc->s_conf->sc_limits.lim_tls.tc_ctx != NULL) {
		tls_accept(c, svc->s_conf->sc_limits.lim_tls.tc_ctx);
		conn_event_read(c, 1);
		conn_timer_arm(c);
		return;
	}
	conn_opened(c);
}

/* Only an open that succeeded gets a conn_close (the header's word). */
static void
conn_call_open(struct evi_conn *c)
{
	if (conn_call(c, CB_OPEN) == 0)
		c->c_flags |= CONN_OPENED;
}

/* The module's conn_open, and the connection's first settling. */
static void
conn_opened(struct evi_conn *c)
{
	conn_call_open(c);
	if (conn_settle(c) == 0)
		conn_timer_arm(c);
}

/* The one way out: tells the module, counts, and frees what c owns. */
void
conn_close(struct evi_conn *c, enum evi_close_reason reason)
{
	struct evi_service	*svc = c->c_svc;

	/* A program that session_timeout killed ended its connection. */
	if ((c->c_flags & CONN_EXEC_KILLED) && reason == EVI_CLOSE_EOF)
		reason = EVI_CLOSE_TIMEOUT;
	/* Pending from here: a close asked for by the callbacks is a no-op. */
	c->c_flags |= CONN_CLOSE_PENDING;
	if (c->c_relay != NULL)
		relay_detach(c, reason);
	if ((c->c_flags & CONN_OPENED) && c->c_ops->conn_close != NULL) {
		c->c_flags |= CONN_IN_CALLBACK;
		c->c_ops->conn_close(c, reason);
	}
	if (c->c_flags & CONN_PAIR)
		;	/* the client's line says it all */
	else if (svc->s_conf->sc_log_connections)
		stats_log_close(c, reason);
	else if (log_getverbose() > 1)
		log_debug("service \"%s\": %s%s closed (%s), %llu bytes in, "
		    "%llu out", svc->s_conf->sc_name,
		    (c->c_flags & CONN_OUTBOUND) ? "outbound " : "",
		    evi_conn_peer_string(c), evi_close_reason_string(reason),
		    (unsigned long long)c->c_bytes_in,
		    (unsigned long long)c->c_bytes_out);
	if (c->c_flags & CONN_DIRTY)
		TAILQ_REMOVE(&svc->s_worker->w_dirty, c, c_dirty);
	if (c->c_flags & CONN_PAIR)
		;	/* the relayed client's connection counts it all */
	else if (c->c_flags & CONN_OUTBOUND) {
		svc->s_worker->w_noutbound--;
		/* A connect given up (module, shutdown, admin): no fault. */
		if ((c->c_flags & CONN_CONNECTING) &&
		    reason != EVI_CLOSE_MODULE && reason != EVI_CLOSE_SHUTDOWN &&
		    reason != EVI_CLOSE_ADMIN)
			svc->s_stats->st_out_failed++;
	} else {
		svc->s_stats->st_closed[reason]++;
		svc->s_stats->st_active--;
		limits_release(svc, c->c_source);
	}
	event_del(&c->c_rev);
	event_del(&c->c_wev);
	conn_unwatch(c);
	deadline_del(&svc->s_worker->w_timers, &c->c_deadline);
	evbuffer_free(c->c_in);
	evbuffer_free(c->c_out);
	close(c->c_fd);
	TAILQ_REMOVE(&svc->s_conns, c, c_entry);
	tls_free(c);
	free(c->c_proxy);
	free(c);
	worker_conn_gone(svc->s_worker);
}

/* Maps a socket errno to the reason the module will be told. */
static enum evi_close_reason
conn_errno_reason(int error)
{
	if (error == ECONNRESET || error == EPIPE || error == ETIMEDOUT)
		return (EVI_CLOSE_RESET);
	return (EVI_CLOSE_ERROR);
}

/* An outbound connection that did not connect: the reason to give. */
static enum evi_close_reason
conn_connect_reason(int error)
{
	switch (error) {
	case ECONNREFUSED:
		return (EVI_CLOSE_REFUSED);
	case ETIMEDOUT:
		return (EVI_CLOSE_CONNECT_TIMEOUT);
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return (EVI_CLOSE_UNREACHABLE);
	}
	return (EVI_CLOSE_ERROR);
}

/* Counts bytes read, for the connection and the right service counter. */
void
conn_count_in(struct evi_conn *c, size_t n)
{
	c->c_bytes_in += n;
	if (c->c_flags & CONN_PAIR)
		return;
	if (c->c_flags & CONN_OUTBOUND)
		c->c_svc->s_stats->st_out_bytes_in += n;
	else
		c->c_svc->s_stats->st_bytes_in += n;
}

/* Counts bytes written, likewise. */
void
conn_count_out(struct evi_conn *c, size_t n)
{
	c->c_bytes_out += n;
	if (c->c_flags & CONN_PAIR)
		return;
	if (c->c_flags & CONN_OUTBOUND)
		c->c_svc->s_stats->st_out_bytes_out += n;
	else
		c->c_svc->s_stats->st_bytes_out += n;
}

/* Adds or deletes the read event, keeping CONN_READING true to it. */
void
conn_event_read(struct evi_conn *c, int on)
{
	if (on && !(c->c_flags & CONN_READING)) {
		event_add(&c->c_rev, NULL);
		c->c_flags |= CONN_READING;
	} else if (!on && (c->c_flags & CONN_READING)) {
		event_del(&c->c_rev);
		c->c_flags &= ~CONN_READING;
	}
	/* Records TLS already has: no socket event will say so. */
	if (on && c->c_tls != NULL && tls_pending(c))
		event_active(&c->c_rev, EV_READ, 0);
}

/* The same for the write event and CONN_WRITING. */
void
conn_event_write(struct evi_conn *c, int on)
{
	if (on && !(c->c_flags & CONN_WRITING)) {
		event_add(&c->c_wev, NULL);
		c->c_flags |= CONN_WRITING;
	} else if (!on && (c->c_flags & CONN_WRITING)) {
		event_del(&c->c_wev);
		c->c_flags &= ~CONN_WRITING;
	}
}

/*
 * Writes what the kernel takes now of the len bytes of output; arms the
 * write event for the rest.  Returns the bytes left, or -1 if a write
 * error closed the connection.
 */
static ssize_t
conn_flush(struct evi_conn *c, size_t len)
{
	ssize_t	left;
	int	n;

	if (c->c_tls != NULL) {
		if ((left = tls_flush(c)) == -1) {
			conn_close(c, conn_errno_reason(errno));
			return (-1);
		}
		conn_event_write(c, left > 0 ||
		    (c->c_flags & CONN_DRAINED_PENDING));
		return (left);
	}
	if (len > 0) {
		n = evbuffer_write(c->c_out, c->c_fd);
		if (n > 0) {
			conn_count_out(c, (size_t)n);
			len -= (size_t)n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_close(c, conn_errno_reason(errno));
			return (-1);
		}
	}
	conn_event_write(c, len > 0 || (c->c_flags & CONN_DRAINED_PENDING));
	return ((ssize_t)len);
}

/* Output not sent yet: the module's, and TLS records for a TLS one. */
static size_t
conn_out_length(const struct evi_conn *c)
{
	size_t	len = evbuffer_get_length(c->c_out);

	if (c->c_tls != NULL)
		len += tls_out_length(c);
	return (len);
}

/* Starts or stops reading according to the backpressure rules. */
static int
conn_want_read(struct evi_conn *c, size_t outlen)
{
	long long	out = (long long)outlen;
	long long	max_out = c->c_svc->s_conf->sc_max_output;

	if (c->c_flags & CONN_LINGERING)
		return (1);
	if (c->c_flags & (CONN_PEER_EOF | CONN_FINISHING | CONN_CLOSE_PENDING))
		return (0);
	/* Paused: armed as a tripwire for conn_paused_cb, until it trips. */
	if (c->c_flags & CONN_PAUSED)
		return (c->c_cev == NULL);
	if (c->c_flags & CONN_READING)
		return (out < max_out);
	return (out <= max_out / 2);
}

/*
 * Our side is done: close now if the peer is too, else linger.  Returns
 * -1 if the connection was closed (and freed), 0 if it lingers.
 */
static int
conn_shutdown(struct evi_conn *c)
{
	struct timeval	tv = { LINGER_MS / 1000, (LINGER_MS % 1000) * 1000 };

	if (c->c_flags & CONN_PEER_EOF) {
		conn_close(c, c->c_reason);
		return (-1);
	}
	if (shutdown(c->c_fd, SHUT_WR) == -1) {
		conn_close(c, c->c_reason);
		return (-1);
	}
	c->c_flags |= CONN_LINGERING;
	evbuffer_drain(c->c_in, evbuffer_get_length(c->c_in));
	conn_event_read(c, 1);
	deadline_add(&c->c_svc->s_worker->w_timers, &c->c_deadline, &tv);
	return (0);
}

/*
 * A half-close the module asked for, once its output is out: shut our
 * side, and close if the peer's side is shut too.  Returns -1 if the
 * connection was closed.
 */
static int
conn_half_close(struct evi_conn *c, size_t left)
{
	if ((c->c_flags & CONN_SHUT_PENDING) && left == 0) {
		c->c_flags &= ~CONN_SHUT_PENDING;
		c->c_flags |= CONN_WR_SHUT;
		if (shutdown(c->c_fd, SHUT_WR) == -1) {
			conn_close(c, conn_errno_reason(errno));
			return (-1);
		}
	}
	if ((c->c_flags & (CONN_WR_SHUT | CONN_PEER_EOF)) ==
	    (CONN_WR_SHUT | CONN_PEER_EOF)) {
		conn_close(c, (c->c_flags & CONN_FINISHING) ? c->c_reason :
		    EVI_CLOSE_EOF);
		return (-1);
	}
	return (0);
}

/*
 * Brings a connection to a consistent state after anything happened:
 * carries out a pending close, writes, calls drained while the module
 * keeps the output moving (a bounded number of rounds, then the write
 * event takes over so other connections get their turn), adjusts reading,
 * and ends a finished connection once its output is gone.  Returns -1 if
 * the connection no longer exists.
 */
int
conn_settle(struct evi_conn *c)
{
	size_t	before;
	ssize_t	left;
	int	round;

	if (c->c_flags & CONN_CLOSE_PENDING) {
		conn_close(c, c->c_reason);
		return (-1);
	}
	/* A relay moves its bytes itself; a connect has nothing to move. */
	if (c->c_flags & CONN_CONNECTING)
		return (0);
	if (c->c_relay != NULL)
		return (relay_settle(c));
	/* Nor has a connection a program serves itself. */
	if (c->c_flags & CONN_EXEC)
		return (0);
	/* A TLS handshake only sends its records and reads the answer. */
	if (c->c_flags & CONN_HANDSHAKE) {
		if (conn_flush(c, 0) == -1)
			return (-1);
		conn_event_read(c, 1);
		return (0);
	}
	/* Buffer lengths are asked for once and passed on: the hot path. */
	for (round = 0;; round++) {
		if (c->c_flags & CONN_CLOSE_PENDING) {
			conn_close(c, c->c_reason);
			return (-1);
		}
		before = conn_out_length(c);
		if ((left = conn_flush(c, before)) == -1)
			return (-1);
		if (before == 0 || left > 0 || (c->c_flags & CONN_FINISHING) ||
		    c->c_ops->conn_drained == NULL)
			break;
		if (round == CONN_SETTLE_ROUNDS) {
			c->c_flags |= CONN_DRAINED_PENDING;
			if ((left = conn_flush(c, 0)) == -1)
				return (-1);
			break;
		}
		conn_call(c, CB_DRAINED);
		/* Relayed from conn_drained: the relay takes it from here. */
		if (c->c_relay != NULL)
			return (conn_settle(c));
	}

	if (!(c->c_flags & (CONN_LINGERING | CONN_PEER_EOF)) &&
	    (long long)evbuffer_get_length(c->c_in) >=
	    c->c_svc->s_conf->sc_max_input) {
		limits_unread(c->c_svc, evi_conn_peer_string(c),
		    evbuffer_get_length(c->c_in));
		conn_close(c, EVI_CLOSE_LIMIT);
		return (-1);
	}
	if ((c->c_flags & (CONN_SHUT_PENDING | CONN_WR_SHUT)) &&
	    conn_half_close(c, (size_t)left) == -1)
		return (-1);
	conn_event_read(c, conn_want_read(c, (size_t)left));

	if ((c->c_flags & CONN_FINISHING) && !(c->c_flags & CONN_LINGERING) &&
	    left == 0)
		return (conn_shutdown(c));
	return (0);
}

/* Reads and discards what a lingering peer still sends, until its EOF. */
static void
conn_linger_read(struct evi_conn *c)
{
	char	buf[4096];
	ssize_t	n;

	for (;;) {
		n = read(c->c_fd, buf, sizeof(buf));
		if (n > 0) {
			conn_count_in(c, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		conn_close(c, c->c_reason);
		return;
	}
}

/*
 * Reads what the socket has into buf (the input, or TLS's records), until
 * it holds max_in and at most READ_PER_EVENT at a time, so other
 * connections get their turn.  The read size adapts: small for
 * request-reply traffic, so the buffer is a small allocation malloc
 * serves from its cache; doubling while reads fill it, up to 64 KiB for
 * streams.  Returns the bytes read, *eof set at the peer's end, or -1
 * with errno.
 */
static inline ssize_t
conn_read_buf(struct evi_conn *c, struct evbuffer *buf, size_t max_in,
    int *eof)
{
	struct evbuffer_iovec	 vec;
	size_t			 inlen, room, want, got = 0;
	ssize_t			 n;

	inlen = evbuffer_get_length(buf);
	while (got < READ_PER_EVENT && inlen < max_in) {
		room = max_in - inlen;
		want = room < c->c_readsz ? room : c->c_readsz;
		if (evbuffer_reserve_space(buf, (ev_ssize_t)want, &vec,
		    1) != 1)
			fatalx("evbuffer_reserve_space failed");
		if (vec.iov_len > want)
			vec.iov_len = want;
		n = read(c->c_fd, vec.iov_base, vec.iov_len);
		if (n > 0) {
			vec.iov_len = (size_t)n;
			evbuffer_commit_space(buf, &vec, 1);
			got += (size_t)n;
			inlen += (size_t)n;
			if ((size_t)n == want && c->c_readsz < READ_MAX) {
				c->c_readsz *= 2;
				continue;
			}
			if ((size_t)n < want) {
				if ((size_t)n < c->c_readsz / 4 &&
				    c->c_readsz > READ_MIN)
					c->c_readsz /= 2;
				break;
			}
			continue;
		}
		evbuffer_commit_space(buf, &vec, 0);
		if (n == 0) {
			*eof = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		return (-1);
	}
	return ((ssize_t)got);
}

/* The module's input, from the socket; -1 if an error closed it. */
static inline ssize_t
conn_read_plain(struct evi_conn *c, int *eof)
{
	ssize_t	n;

	n = conn_read_buf(c, c->c_in, (size_t)c->c_svc->s_conf->sc_max_input,
	    eof);
	if (n == -1) {
		conn_close(c, conn_errno_reason(errno));
		return (-1);
	}
	conn_count_in(c, (size_t)n);
	return (n);
}

/* The same for tls.c, which reads TLS records into a buffer of its own. */
ssize_t
conn_read_into(struct evi_conn *c, struct evbuffer *buf, size_t max_in,
    int *eof)
{
	return (conn_read_buf(c, buf, max_in, eof));
}

/*
 * A TLS connection's input: the handshake, which then opens the
 * connection for the module, or plaintext out of the records.  Returns
 * the bytes, *eof set at the peer's end, or -1 if the connection was
 * closed.
 */
static ssize_t
conn_read_tls(struct evi_conn *c, int *eof)
{
	size_t			inlen = evbuffer_get_length(c->c_in);
	size_t			max_in = (size_t)c->c_svc->s_conf->sc_max_input;
	size_t			room = 0;
	ssize_t			n;

	if (c->c_flags & CONN_HANDSHAKE) {
		switch (tls_handshake(c)) {
		case -1:
			conn_close(c, EVI_CLOSE_ERROR);
			return (-1);
		case 1:
			/* The caller settles: the module may have closed it. */
			c->c_flags &= ~CONN_HANDSHAKE;
			c->c_active = timerq_now();
			conn_call_open(c);
			conn_timer_arm(c);
			break;
		}
		return (0);
	}
	if (inlen < max_in)
		room = max_in - inlen < READ_PER_EVENT ? max_in - inlen :
		    READ_PER_EVENT;
	if ((n = tls_decrypt(c, c->c_in, room, eof)) == -1) {
		conn_close(c, conn_errno_reason(errno));
		return (-1);
	}
	conn_count_in(c, (size_t)n);
	return (n);
}

/* The socket is readable: read a few chunks, then let the module look. */
static void
conn_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct evi_conn	*c = arg;
	ssize_t		 got;
	int		 eof = 0;

	(void)fd;
	(void)events;
	if (c->c_relay != NULL) {
		relay_readable(c);
		return;
	}
	if (c->c_flags & CONN_LINGERING) {
		conn_linger_read(c);
		return;
	}
	if (c->c_flags & CONN_PAUSED) {
		conn_paused_cb(c);
		return;
	}
	got = c->c_tls != NULL ? conn_read_tls(c, &eof) :
	    conn_read_plain(c, &eof);
	if (got == -1)
		return;
	if (got > 0) {
		c->c_active = timerq_now();
		conn_call(c, CB_READ);
		if (c->c_flags & CONN_CLOSE_PENDING) {
			conn_close(c, c->c_reason);
			return;
		}
	}
	/* Relayed from conn_read: the relay reads the EOF again itself. */
	if (eof && c->c_relay == NULL) {
		c->c_flags |= CONN_PEER_EOF;
		if (!(c->c_flags & CONN_FINISHING))
			conn_call(c, CB_EOF);
	}
	conn_settle(c);
}

/* The socket is writable again: push output, or ask the module for more. */
static void
conn_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct evi_conn	*c = arg;
	size_t		 before;

	(void)fd;
	(void)events;
	if (c->c_flags & CONN_CONNECTING) {
		conn_connected(c);
		return;
	}
	if (c->c_relay != NULL) {
		relay_writable(c);
		return;
	}
	if (c->c_flags & CONN_HANDSHAKE) {
		conn_settle(c);
		return;
	}
	/* Activity for the idle timeout: reads stamp it, and so do these. */
	c->c_active = timerq_now();
	before = conn_out_length(c);
	if (conn_flush(c, before) != 0)
		return;		/* closed (-1), or still more to write */
	if ((before > 0 || (c->c_flags & CONN_DRAINED_PENDING)) &&
	    !(c->c_flags & CONN_FINISHING)) {
		if (c->c_ops->conn_drained != NULL)
			conn_call(c, CB_DRAINED);
	}
	c->c_flags &= ~CONN_DRAINED_PENDING;
	conn_settle(c);
}

/*
 * Arms the connection's one timer for its nearest deadline: idle_timeout
 * after the last byte either way, or session_timeout after the start.
 * Activity only stamps a time; the timer is re-armed when it fires, so a
 * busy connection costs no timer operation per read or write.
 */
static void
conn_timer_arm(struct evi_conn *c)
{
	const struct limits_conf	*lim = &c->c_svc->s_conf->sc_limits;
	struct timeval			 tv;
	uint64_t			 deadline = UINT64_MAX, t, now;

	if (c->c_flags & (CONN_LINGERING | CONN_PAIR))
		return;
	/* A TLS handshake has its own timeout instead of the idle one. */
	if (c->c_flags & CONN_HANDSHAKE)
		deadline = c->c_start + (uint64_t)lim->lim_tls.tc_handshake_ms;
	/* A program's bytes do not pass here: only its session is timed. */
	else if (lim->lim_idle_ms > 0 && !(c->c_flags & CONN_EXEC))
		deadline = c->c_active + (uint64_t)lim->lim_idle_ms;
	if (lim->lim_session_ms > 0) {
		t = c->c_start + (uint64_t)lim->lim_session_ms;
		if (t < deadline)
			deadline = t;
	}
	if (deadline == UINT64_MAX)
		return;
	now = timerq_now();
	t = deadline > now ? deadline - now : 0;
	tv.tv_sec = (time_t)(t / 1000);
	tv.tv_usec = (suseconds_t)(t % 1000) * 1000;
	deadline_add(&c->c_svc->s_worker->w_timers, &c->c_deadline, &tv);
}

/* Has the connection passed a deadline?  Then it is closed. */
static int
conn_expired(struct evi_conn *c)
{
	const struct limits_conf	*lim = &c->c_svc->s_conf->sc_limits;
	uint64_t			 now = timerq_now();

	if (lim->lim_session_ms > 0 &&
	    now - c->c_start >= (uint64_t)lim->lim_session_ms)
		return (1);
	if (c->c_flags & CONN_HANDSHAKE)
		return (now - c->c_start >=
		    (uint64_t)lim->lim_tls.tc_handshake_ms);
	if (lim->lim_idle_ms > 0 && !(c->c_flags & CONN_EXEC) &&
	    now - c->c_active >= (uint64_t)lim->lim_idle_ms)
		return (1);
	return (0);
}

/* A deadline came: linger is over, or a timeout may have passed. */
static void
conn_timer_cb(void *arg)
{
	struct evi_conn	*c = arg;

	if (c->c_flags & CONN_LINGERING)
		conn_close(c, c->c_reason);
	else if (c->c_flags & CONN_CONNECTING)
		conn_close(c, EVI_CLOSE_CONNECT_TIMEOUT);
	else if ((c->c_flags & CONN_EXEC) && conn_expired(c))
		execconn_timeout(c);	/* closed when the program is gone */
	else if ((c->c_flags & CONN_HANDSHAKE) && conn_expired(c)) {
		tls_fail(c, EVI_TLS_FAIL_TIMEOUT, "tls_handshake_timeout");
		conn_close(c, EVI_CLOSE_TIMEOUT);
	} else if (conn_expired(c))
		conn_close(c, EVI_CLOSE_TIMEOUT);
	else
		conn_timer_arm(c);
}

struct evi_service *
evi_conn_service(const struct evi_conn *c)
{
	return (c->c_svc);
}

void *
evi_conn_data(const struct evi_conn *c)
{
	return (c->c_data);
}

void
evi_conn_set_data(struct evi_conn *c, void *data)
{
	c->c_data = data;
}

const struct sockaddr *
evi_conn_peer(const struct evi_conn *c, socklen_t *len)
{
	if (len != NULL)
		*len = addr_len(&c->c_peer.sa);
	return (&c->c_peer.sa);
}

const struct sockaddr *
evi_conn_local(const struct evi_conn *c, socklen_t *len)
{
	struct evi_conn	*cc = (struct evi_conn *)c;
	socklen_t	 sl = sizeof(cc->c_local);

	if (cc->c_local.sa.sa_family == AF_UNSPEC &&
	    getsockname(cc->c_fd, &cc->c_local.sa, &sl) == -1)
		memset(&cc->c_local, 0, sizeof(cc->c_local));
	if (len != NULL)
		*len = addr_len(&cc->c_local.sa);
	return (&cc->c_local.sa);
}

const char *
evi_conn_peer_string(const struct evi_conn *c)
{
	struct worker	*w = c->c_svc->s_worker;

	return (addr_string(&c->c_peer.sa, w->w_addrbuf,
	    sizeof(w->w_addrbuf)));
}

/* Can the module add output now?  Not once closing, nor over the mark. */
static int
conn_can_write(struct evi_conn *c)
{
	if (c->c_flags & (CONN_CLOSE_PENDING | CONN_LINGERING |
	    CONN_SHUT_PENDING | CONN_WR_SHUT)) {
		errno = EPIPE;
		return (0);
	}
	if (c->c_relay != NULL) {
		errno = EBUSY;
		return (0);
	}
	if ((long long)evbuffer_get_length(c->c_out) >=
	    c->c_svc->s_conf->sc_max_output) {
		errno = ENOBUFS;
		return (0);
	}
	return (1);
}

/*
 * Output added outside the connection's own callbacks (from a timer, a
 * handler, another connection's callback) has nobody to settle it on
 * return, so the connection joins the worker's dirty list and the flush
 * event runs later in this same loop iteration: one write for all that
 * the module added meanwhile, and the usual backpressure.
 */
void
conn_mark_dirty(struct evi_conn *c)
{
	struct worker	*w = c->c_svc->s_worker;

	if (c->c_flags & (CONN_IN_CALLBACK | CONN_DIRTY))
		return;
	c->c_flags |= CONN_DIRTY;
	TAILQ_INSERT_TAIL(&w->w_dirty, c, c_dirty);
	event_active(&w->w_flush, EV_TIMEOUT, 0);
}

/*
 * A module resumed reading from outside the connection's callbacks: what
 * it left in the input is offered again now, as the header promises.
 * Returns -1 if the connection was closed.
 */
static int
conn_read_again(struct evi_conn *c)
{
	c->c_flags &= ~CONN_READ_AGAIN;
	if ((c->c_flags & (CONN_PAUSED | CONN_FINISHING | CONN_CLOSE_PENDING |
	    CONN_LINGERING)) || c->c_relay != NULL ||
	    evbuffer_get_length(c->c_in) == 0)
		return (0);
	conn_call(c, CB_READ);
	if (c->c_flags & CONN_CLOSE_PENDING) {
		conn_close(c, c->c_reason);
		return (-1);
	}
	return (0);
}

/* The flush event: settles every connection written to from outside. */
void
conn_flush_dirty(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	struct evi_conn	*c;
	uint64_t	 out;

	(void)fd;
	(void)events;
	while ((c = TAILQ_FIRST(&w->w_dirty)) != NULL) {
		TAILQ_REMOVE(&w->w_dirty, c, c_dirty);
		c->c_flags &= ~CONN_DIRTY;
		if ((c->c_flags & CONN_READ_AGAIN) && conn_read_again(c) != 0)
			continue;
		/* Bytes the client took are activity; a try is not. */
		out = c->c_bytes_out;
		if (conn_settle(c) == 0 && c->c_bytes_out != out)
			c->c_active = timerq_now();
	}
}

int
evi_conn_write(struct evi_conn *c, const void *data, size_t len)
{
	if (!conn_can_write(c))
		return (-1);
	if (evbuffer_add(c->c_out, data, len) != 0) {
		errno = ENOMEM;
		return (-1);
	}
	conn_mark_dirty(c);
	return (0);
}

int
evi_conn_printf(struct evi_conn *c, const char *fmt, ...)
{
	va_list	ap;
	int	rv;

	if (!conn_can_write(c))
		return (-1);
	va_start(ap, fmt);
	rv = evbuffer_add_vprintf(c->c_out, fmt, ap);
	va_end(ap);
	if (rv < 0)
		return (-1);
	conn_mark_dirty(c);
	return (0);
}

int
evi_conn_write_buffer(struct evi_conn *c, struct evbuffer *src)
{
	if (!conn_can_write(c))
		return (-1);
	if (evbuffer_add_buffer(c->c_out, src) != 0)
		return (-1);
	conn_mark_dirty(c);
	return (0);
}

struct evbuffer *
evi_conn_input(struct evi_conn *c)
{
	return (c->c_in);
}

struct evbuffer *
evi_conn_output(struct evi_conn *c)
{
	/* What is added there directly gets flushed like any write. */
	conn_mark_dirty(c);
	return (c->c_out);
}

size_t
evi_conn_output_length(const struct evi_conn *c)
{
	return (evbuffer_get_length(c->c_out));
}

void
evi_conn_finish(struct evi_conn *c)
{
	if (c->c_flags & (CONN_FINISHING | CONN_CLOSE_PENDING))
		return;
	c->c_flags |= CONN_FINISHING;
	c->c_reason = (c->c_flags & CONN_PEER_EOF) ? EVI_CLOSE_EOF :
	    EVI_CLOSE_MODULE;
	if (!(c->c_flags & CONN_IN_CALLBACK))
		conn_settle(c);
}

void
evi_conn_close(struct evi_conn *c)
{
	if (c->c_flags & CONN_CLOSE_PENDING)
		return;
	if (c->c_flags & CONN_IN_CALLBACK) {
		c->c_flags |= CONN_CLOSE_PENDING;
		c->c_reason = EVI_CLOSE_MODULE;
		return;
	}
	conn_close(c, EVI_CLOSE_MODULE);
}

/*
 * A paused connection is not read, so its peer's reset would go unseen
 * until the module resumed (a forward waiting a minute for a backend).
 * A reset is an error condition (EPOLLERR), reported whatever events are
 * asked for and for as long as it lasts, and libevent turns it into
 * EV_READ | EV_WRITE, never EV_CLOSED: a level-triggered watch would spin
 * and an EV_CLOSED one would never fire.  So the watch is edge-triggered,
 * on a duplicate of the socket (libevent refuses to mix edge- and
 * level-triggered events on one descriptor): it fires once per change,
 * and only an error closes; data or a FIN wait for the resume.
 */
static void
conn_watch_cb(evutil_socket_t fd, short events, void *arg)
{
	struct evi_conn	*c = arg;
	socklen_t	 len = sizeof(int);
	int		 error = 0;

	char		 b;

	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0)
		conn_close(c, conn_errno_reason(error));
	/* Shut both ways with nothing to send: over, as the header says. */
	else if ((c->c_flags & CONN_WR_SHUT) &&
	    recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		conn_close(c, EVI_CLOSE_EOF);
}

/*
 * A paused connection became readable, which its read event, armed as a
 * tripwire, says at no cost while nothing happens (a forward's client
 * while its backend connects, usually).  Now the watch takes over: no
 * more level-triggered events for bytes nobody will read yet.
 */
static void
conn_paused_cb(struct evi_conn *c)
{
	int	fd;

	conn_event_read(c, 0);
	/* Without edge triggering (not epoll) a watch would spin: none. */
	if (c->c_cev == NULL && (event_base_get_features(c->c_svc->s_base) &
	    EV_FEATURE_ET) && (fd = fcntl(c->c_fd, F_DUPFD_CLOEXEC, 0)) != -1) {
		if ((c->c_cev = event_new(c->c_svc->s_base, fd, EV_READ |
		    EV_ET | EV_PERSIST, conn_watch_cb, c)) == NULL)
			fatalx("event_new failed");
		event_add(c->c_cev, NULL);
	}
	/* What tripped it may be the reset itself: the edge has passed. */
	conn_watch_cb(c->c_fd, EV_READ, c);
}

/* Stops it: the connection reads again, is relayed, or is closing. */
void
conn_unwatch(struct evi_conn *c)
{
	int	fd;

	if (c->c_cev == NULL)
		return;
	/*
	 * Deleted before the close: epoll forgets a descriptor at close
	 * only when no other refers to the socket, and c_fd still does.
	 */
	fd = event_get_fd(c->c_cev);
	event_free(c->c_cev);
	close(fd);
	c->c_cev = NULL;
}

void
evi_conn_pause_read(struct evi_conn *c)
{
	if (c->c_relay != NULL || (c->c_flags & CONN_PAUSED))
		return;
	c->c_flags |= CONN_PAUSED;
	c->c_flags &= ~CONN_READ_AGAIN;
	conn_mark_dirty(c);
}

void
evi_conn_resume_read(struct evi_conn *c)
{
	if (!(c->c_flags & CONN_PAUSED))
		return;
	conn_unwatch(c);
	c->c_flags &= ~CONN_PAUSED;
	if (!(c->c_flags & CONN_IN_CALLBACK))
		c->c_flags |= CONN_READ_AGAIN;
	conn_mark_dirty(c);
}

int
evi_conn_shutdown_write(struct evi_conn *c)
{
	if (c->c_relay != NULL) {
		errno = EBUSY;
		return (-1);
	}
	if (c->c_flags & (CONN_CLOSE_PENDING | CONN_FINISHING |
	    CONN_LINGERING)) {
		errno = EPIPE;
		return (-1);
	}
	c->c_flags |= CONN_SHUT_PENDING;
	conn_mark_dirty(c);
	return (0);
}

/*
 * An outbound connection's socket became writable: the connect is over.
 * SO_ERROR says how it went; success makes it an ordinary connection.
 */
static void
conn_connected(struct evi_conn *c)
{
	socklen_t	len = sizeof(int);
	int		error = 0, on = 1;

	if (getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0) {
		conn_close(c, conn_connect_reason(error));
		return;
	}
	c->c_flags &= ~CONN_CONNECTING;
	conn_event_write(c, 0);
	deadline_del(&c->c_svc->s_worker->w_timers, &c->c_deadline);
	(void)setsockopt(c->c_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c->c_svc->s_stats->st_out_connects++;
	c->c_start = c->c_active = timerq_now();
	conn_call(c, CB_OPEN);
	if (conn_settle(c) == 0)
		conn_timer_arm(c);
}

/*
 * Starts a non-blocking connect.  Every failure after the socket exists
 * is reported through conn_close from the flush event, never from inside
 * this call, so a module never sees its close callback before it has the
 * connection's pointer.
 */
struct evi_conn *
evi_connect(struct evi_service *svc, const struct sockaddr *sa,
    socklen_t len, long long timeout_ms, const struct evi_conn_ops *ops,
    void *data)
{
	struct evi_conn	*c;
	struct timeval	 tv;
	int		 fd;

	/* Not from init or fini, nor while the worker closes everything. */
	if (svc->s_worker == NULL || !svc->s_inited ||
	    svc->s_worker->w_closing || ops == NULL || sa == NULL ||
	    timeout_ms < 0) {
		errno = EINVAL;
		return (NULL);
	}
	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    len < addr_len(sa)) {
		errno = EAFNOSUPPORT;
		return (NULL);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return (NULL);
	c = conn_new(svc, fd, sa, addr_len(sa));
	c->c_ops = ops;
	c->c_data = data;
	c->c_flags |= CONN_OUTBOUND | CONN_CONNECTING | CONN_OPENED;
	svc->s_worker->w_noutbound++;
	if (connect(fd, sa, addr_len(sa)) == -1 && errno != EINPROGRESS) {
		c->c_flags |= CONN_CLOSE_PENDING;
		c->c_reason = conn_connect_reason(errno);
		conn_mark_dirty(c);
		return (c);
	}
	/* Writable means connected or failed, even when it was at once. */
	conn_event_write(c, 1);
	if (timeout_ms > 0) {
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		deadline_add(&svc->s_worker->w_timers, &c->c_deadline, &tv);
	}
	return (c);
}

int
evi_conn_outbound(const struct evi_conn *c)
{
	return ((c->c_flags & CONN_OUTBOUND) != 0);
}
