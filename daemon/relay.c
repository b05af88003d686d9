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
 * Relays: two connections joined by evi_relay, bytes moved both ways by
 * the daemon.  Each direction has one "stage" between its source and its
 * destination, and reads from the source only while the stage is empty:
 *
 *	copy	the destination's output evbuffer: one read straight into
 *		it, one write out of it.  Every direction starts so.
 *	splice	a kernel pipe; splice(2) moves pages socket -> pipe -> socket
 *		and no byte is copied into user space.  A direction switches
 *		to it at its first read of RELAY_BULK bytes or more, unless
 *		relay_splice = no or no pipe can be had.
 *
 * Measured (bench/relay, docs/benchmarks.md): splice wins for streams
 * (about 7% less CPU per GB), loses for small exchanges (a splice costs
 * more than a read of 64 bytes), and a pipe is kernel memory that a chatty
 * relay would hold for nothing; hence copies until a direction shows bulk.
 *
 * So a direction holds at most one chunk (RELAY_CHUNK) whatever the two
 * peers do: a stalled destination stops the reads from its source, and
 * the source's sender blocks in its own kernel.  That is the whole of the
 * backpressure, and why a relay's memory is bounded without a limit to
 * configure.  Output or input the connections had buffered before the
 * relay began goes first, through the destination's evbuffer.
 *
 * Each connection is the source of one direction (its read event) and the
 * destination of the other (its write event), so the two events map to
 * the two directions without any bookkeeping.  The relay never frees a
 * connection: a failure or the end marks it CONN_CLOSE_PENDING and puts it
 * on the flush list, and conn.c closes it, which detaches the relay.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

#define RELAY_CHUNK	65536			/* a default pipe's size */
#define RELAY_PER_EVENT	(4 * RELAY_CHUNK)	/* then others' turn */
#define RELAY_POOL	64			/* empty pipes kept */
#define RELAY_BULK	16384			/* a read this big: splice */

struct relay_dir {
	struct evi_conn	*rd_src;
	struct evi_conn	*rd_dst;
	int		 rd_pipe[2];	/* -1: copying through rd_dst->c_out */
	int		 rd_may_splice;	/* relay_splice, and a pipe was had */
	size_t		 rd_piped;	/* bytes in the pipe */
	int		 rd_short;	/* the last read was short */
	int		 rd_eof;	/* the source's EOF was read */
	int		 rd_done;	/* and carried: rd_dst is shut */
};

struct relay {
	struct relay_dir r_dir[2];
};

static int	relay_pipe_get(struct worker *, int *);

/* The direction c reads for (src) or writes for (!src). */
static struct relay_dir *
relay_dir(struct evi_conn *c, int src)
{
	struct relay	*r = c->c_relay;

	if ((r->r_dir[0].rd_src == c) == (src != 0))
		return (&r->r_dir[0]);
	return (&r->r_dir[1]);
}

/* Ends a side without freeing it: conn.c closes it from the flush list. */
static void
relay_fail(struct evi_conn *c, enum evi_close_reason reason)
{
	if (c->c_flags & CONN_CLOSE_PENDING)
		return;
	c->c_flags |= CONN_CLOSE_PENDING;
	c->c_reason = reason;
	conn_mark_dirty(c);
}

/* Bytes staged for the destination: a chunk, a pipe, TLS records. */
static size_t
relay_staged(const struct relay_dir *d)
{
	size_t	len = d->rd_piped + evbuffer_get_length(d->rd_dst->c_out);

	if (d->rd_dst->c_tls != NULL)
		len += tls_out_length(d->rd_dst);
	return (len);
}

/* Sends what is staged for the destination; -1 on a write error. */
static int
relay_send(struct relay_dir *d)
{
	struct evi_conn	*dst = d->rd_dst;
	size_t		 before;
	ssize_t		 n;

	/* A TLS destination encrypts the chunk; tls_flush counts it. */
	if (dst->c_tls != NULL) {
		if ((before = relay_staged(d)) == 0)
			return (0);
		if (tls_flush(dst) == -1)
			return (-1);
		if (relay_staged(d) < before)
			dst->c_active = d->rd_src->c_active = timerq_now();
		return (0);
	}
	if (evbuffer_get_length(dst->c_out) > 0)
		n = evbuffer_write(dst->c_out, dst->c_fd);
	else if (d->rd_piped > 0) {
		n = splice(d->rd_pipe[0], NULL, dst->c_fd, NULL, d->rd_piped,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->rd_piped -= (size_t)n;
	} else
		return (0);
	if (n > 0) {
		conn_count_out(dst, (size_t)n);
		/* A slow reader taking bytes is activity, as on any conn. */
		dst->c_active = d->rd_src->c_active = timerq_now();
	} else if (n == -1 && errno != EAGAIN && errno != EINTR)
		return (-1);
	return (0);
}

/*
 * A direction that read RELAY_BULK bytes at once is a bulk transfer: from
 * its next read on it goes through a pipe.  Small exchanges stay copies:
 * a splice costs more than a read or write of a few bytes, and a pipe is
 * kernel memory that a chatty relay would hold for nothing (it counts
 * against the user's pipe-user-pages-soft).
 */
static void
relay_splice_on(struct relay_dir *d)
{
	struct evi_service	*svc = d->rd_src->c_svc;

	d->rd_may_splice = 0;
	if (relay_pipe_get(svc->s_worker, d->rd_pipe) == -1) {
		log_debug("service \"%s\": relay copies: pipe2: %s",
		    svc->s_conf->sc_name, strerror(errno));
		d->rd_pipe[0] = d->rd_pipe[1] = -1;
	}
}

/*
 * Reads one chunk from the source into the empty stage.  The copy reads
 * straight into the destination's output, a whole chunk at a time
 * (evbuffer_read would stop at 4 KiB).
 */
static ssize_t
relay_recv(struct relay_dir *d)
{
	struct evbuffer_iovec	vec;
	ssize_t			n;
	int			eof;

	if (d->rd_pipe[0] != -1) {
		n = splice(d->rd_src->c_fd, NULL, d->rd_pipe[1], NULL,
		    RELAY_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->rd_piped = (size_t)n;
	} else if (d->rd_src->c_tls != NULL) {
		/* Out of TLS records; nothing yet is EAGAIN, as for read. */
		eof = 0;
		n = tls_decrypt(d->rd_src, d->rd_dst->c_out, RELAY_CHUNK,
		    &eof);
		if (n == 0 && !eof) {
			n = -1;
			errno = EAGAIN;
		} else if (n > 0 && eof) {
			/* The close_notify came with the last bytes. */
			d->rd_eof = 1;
			d->rd_src->c_flags |= CONN_PEER_EOF;
		}
	} else {
		if (evbuffer_reserve_space(d->rd_dst->c_out, RELAY_CHUNK, &vec,
		    1) != 1)
			fatalx("evbuffer_reserve_space failed");
		if (vec.iov_len > RELAY_CHUNK)
			vec.iov_len = RELAY_CHUNK;
		n = read(d->rd_src->c_fd, vec.iov_base, vec.iov_len);
		vec.iov_len = n > 0 ? (size_t)n : 0;
		evbuffer_commit_space(d->rd_dst->c_out, &vec, 1);
		if (n >= RELAY_BULK && d->rd_may_splice)
			relay_splice_on(d);
	}
	if (n > 0)
		conn_count_in(d->rd_src, (size_t)n);
	return (n);
}

/*
 * The source's EOF, once all its bytes are through: shut the destination's
 * write side, and end the relay when the other direction is done too.
 */
static void
relay_carry_eof(struct relay *r, struct relay_dir *d)
{
	if (d->rd_done)
		return;
	d->rd_done = 1;
	d->rd_dst->c_flags |= CONN_WR_SHUT;
	/* TLS says the end itself first; the stage is empty, so it fits. */
	if (d->rd_dst->c_tls != NULL) {
		tls_close_notify(d->rd_dst);
		(void)tls_flush(d->rd_dst);
	}
	if (shutdown(d->rd_dst->c_fd, SHUT_WR) == -1) {
		relay_fail(d->rd_dst, EVI_CLOSE_RESET);
		return;
	}
	if (r->r_dir[0].rd_done && r->r_dir[1].rd_done) {
		relay_fail(r->r_dir[0].rd_src, EVI_CLOSE_EOF);
		relay_fail(r->r_dir[1].rd_src, EVI_CLOSE_EOF);
	}
}

/*
 * Moves one direction's bytes as far as both peers allow, within a budget
 * per event, and leaves exactly the event armed that will resume it: the
 * destination's write while the stage is full, else the source's read.
 */
static void
relay_pump(struct relay *r, struct relay_dir *d)
{
	struct evi_conn	*src = d->rd_src, *dst = d->rd_dst;
	size_t		 moved = 0;
	ssize_t		 n;

	if ((src->c_flags | dst->c_flags) & CONN_CLOSE_PENDING)
		return;
	for (;;) {
		if (relay_send(d) == -1) {
			relay_fail(dst, errno == ECONNRESET || errno == EPIPE ?
			    EVI_CLOSE_RESET : EVI_CLOSE_ERROR);
			return;
		}
		if (relay_staged(d) > 0) {
			conn_event_write(dst, 1);
			conn_event_read(src, 0);
			break;
		}
		conn_event_write(dst, 0);
		if (d->rd_eof) {
			conn_event_read(src, 0);
			relay_carry_eof(r, d);
			break;
		}
		if (moved >= RELAY_PER_EVENT || d->rd_short) {
			d->rd_short = 0;
			conn_event_read(src, 1);	/* level-triggered */
			break;
		}
		if ((n = relay_recv(d)) > 0) {
			moved += (size_t)n;
			/*
			 * Less than a chunk: the socket is empty now, and a
			 * read to hear EAGAIN would be a wasted system call;
			 * send, then let the read event say when there is
			 * more.
			 */
			if (n < RELAY_CHUNK && (src->c_tls == NULL ||
			    !tls_pending(src)))
				d->rd_short = 1;
			continue;
		}
		if (n == 0) {
			d->rd_eof = 1;
			src->c_flags |= CONN_PEER_EOF;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR) {
			conn_event_read(src, 1);
			break;
		}
		relay_fail(src, errno == ECONNRESET ? EVI_CLOSE_RESET :
		    EVI_CLOSE_ERROR);
		return;
	}
	if (moved > 0)
		src->c_active = dst->c_active = timerq_now();
}

/* The read event of a relayed connection: its direction may move. */
void
relay_readable(struct evi_conn *c)
{
	relay_pump(c->c_relay, relay_dir(c, 1));
	if (c->c_flags & CONN_CLOSE_PENDING)
		conn_close(c, c->c_reason);
}

/* The write event: the direction into it may move again. */
void
relay_writable(struct evi_conn *c)
{
	relay_pump(c->c_relay, relay_dir(c, 0));
	if (c->c_flags & CONN_CLOSE_PENDING)
		conn_close(c, c->c_reason);
}

/*
 * Settling a relayed connection (after the relay began, or when it was
 * written to from outside): pump both directions.  A module that finished
 * one side ends the relay; that side then finishes as usual.  Returns -1
 * if c was closed.
 */
int
relay_settle(struct evi_conn *c)
{
	struct relay	*r = c->c_relay;

	if (c->c_flags & CONN_FINISHING) {
		relay_detach(c, c->c_reason);
		return (conn_settle(c));
	}
	relay_pump(r, &r->r_dir[0]);
	relay_pump(r, &r->r_dir[1]);
	if (c->c_flags & CONN_CLOSE_PENDING) {
		conn_close(c, c->c_reason);
		return (-1);
	}
	return (0);
}

/*
 * Gives a direction its pipe: an empty one kept by the worker, else a new
 * one, so that short relays cost no pipe2 and closes per connection.
 */
static int
relay_pipe_get(struct worker *w, int *fds)
{
	if (w->w_npipes > 0) {
		w->w_npipes--;
		fds[0] = w->w_pipes[w->w_npipes][0];
		fds[1] = w->w_pipes[w->w_npipes][1];
		return (0);
	}
	return (pipe2(fds, O_NONBLOCK | O_CLOEXEC));
}

/* Keeps an empty pipe for the next relay, or closes it. */
static void
relay_pipe_put(struct worker *w, int *fds, int empty)
{
	if (empty && w->w_npipes < RELAY_POOL) {
		if (w->w_pipes == NULL)
			w->w_pipes = xcalloc(RELAY_POOL, sizeof(*w->w_pipes));
		w->w_pipes[w->w_npipes][0] = fds[0];
		w->w_pipes[w->w_npipes][1] = fds[1];
		w->w_npipes++;
		return;
	}
	close(fds[0]);
	close(fds[1]);
}

/* Closes the worker's spare pipes, when it exits. */
void
relay_pipes_free(struct worker *w)
{
	while (w->w_npipes > 0) {
		w->w_npipes--;
		close(w->w_pipes[w->w_npipes][0]);
		close(w->w_pipes[w->w_npipes][1]);
	}
	free(w->w_pipes);
	w->w_pipes = NULL;
}

/* Ends a direction, moving what its pipe still holds into dst's output. */
static void
relay_dir_free(struct relay_dir *d)
{
	int	n;

	if (d->rd_pipe[0] == -1)
		return;
	while (d->rd_piped > 0) {
		n = evbuffer_read(d->rd_dst->c_out, d->rd_pipe[0],
		    (int)d->rd_piped);
		if (n <= 0)
			break;
		d->rd_piped -= (size_t)n;
	}
	relay_pipe_put(d->rd_src->c_svc->s_worker, d->rd_pipe,
	    d->rd_piped == 0);
}

/*
 * One side is closing (or was finished): the relay ends.  The other side
 * gets what is still staged for it, then finishes with the same reason,
 * through the flush list, so no connection is freed under a caller.
 */
void
relay_detach(struct evi_conn *c, enum evi_close_reason reason)
{
	struct relay	*r = c->c_relay;
	struct evi_conn	*other;

	other = r->r_dir[0].rd_src == c ? r->r_dir[0].rd_dst :
	    r->r_dir[0].rd_src;
	relay_dir_free(&r->r_dir[0]);
	relay_dir_free(&r->r_dir[1]);
	c->c_relay = other->c_relay = NULL;
	free(r);
	if (!(other->c_flags & (CONN_CLOSE_PENDING | CONN_FINISHING))) {
		other->c_flags |= CONN_FINISHING;
		other->c_reason = reason;
	}
	conn_mark_dirty(other);
}

/* Sets up one direction: a pipe if splicing is on and one is left. */
static void
relay_dir_init(struct relay_dir *d, struct evi_conn *src,
    struct evi_conn *dst)
{
	d->rd_src = src;
	d->rd_dst = dst;
	d->rd_pipe[0] = d->rd_pipe[1] = -1;
	/* TLS bytes must pass through OpenSSL: copies only. */
	d->rd_may_splice = src->c_svc->s_conf->sc_relay_splice &&
	    dst->c_svc->s_conf->sc_relay_splice && src->c_tls == NULL &&
	    dst->c_tls == NULL;
	/* What the source had read goes first, ahead of any chunk. */
	evbuffer_add_buffer(dst->c_out, src->c_in);
	d->rd_eof = (src->c_flags & CONN_PEER_EOF) != 0;
}

/* Can c be relayed?  Sets errno as the header says if not. */
static int
relay_can(const struct evi_conn *c)
{
	if (c->c_relay != NULL) {
		errno = EINVAL;
		return (0);
	}
	if (c->c_flags & CONN_CONNECTING) {
		errno = ENOTCONN;
		return (0);
	}
	if (c->c_flags & (CONN_CLOSE_PENDING | CONN_FINISHING |
	    CONN_LINGERING | CONN_SHUT_PENDING | CONN_WR_SHUT)) {
		errno = EPIPE;
		return (0);
	}
	return (1);
}

int
evi_relay(struct evi_conn *a, struct evi_conn *b)
{
	struct relay	*r;

	if (a == NULL || b == NULL || a == b) {
		errno = EINVAL;
		return (-1);
	}
	if (!relay_can(a) || !relay_can(b))
		return (-1);
	r = xcalloc(1, sizeof(*r));
	relay_dir_init(&r->r_dir[0], a, b);
	relay_dir_init(&r->r_dir[1], b, a);
	a->c_relay = b->c_relay = r;
	conn_unwatch(a);
	conn_unwatch(b);
	a->c_flags &= ~(CONN_PAUSED | CONN_READ_AGAIN | CONN_DRAINED_PENDING);
	b->c_flags &= ~(CONN_PAUSED | CONN_READ_AGAIN | CONN_DRAINED_PENDING);
	/* The first pump runs from the flush list, outside any callback. */
	conn_mark_dirty(a);
	conn_mark_dirty(b);
	return (0);
}
