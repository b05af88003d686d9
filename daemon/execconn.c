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
 * Connections handed to a program: the worker's side of exec services.
 * evi_conn_exec sends the socket to the supervisor (spawn.c), which runs
 * the service's program on it.  The connection stays here, open and
 * unwatched, so that it counts against the limits, shows in
 * "evinetdctl connections" with the program's pid, and ends (with the
 * exit status in the connection log and the counters) when the
 * supervisor says the program exited.  session_timeout asks the
 * supervisor to kill the program; idle_timeout cannot apply, since the
 * bytes pass between the client and the program, not through us.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/* Our connection number id, or NULL if it is gone. */
static struct evi_conn *
execconn_find(struct worker *w, uint64_t id)
{
	struct evi_service	*svc;
	struct evi_conn		*c;

	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		if (svc->s_conf->sc_exec.ex_program == NULL)
			continue;
		TAILQ_FOREACH(c, &svc->s_conns, c_entry) {
			if (c->c_id == id && (c->c_flags & CONN_EXEC))
				return (c);
		}
	}
	return (NULL);
}

static void
execconn_count(struct svc_stats *st, int status)
{
	if (WIFSIGNALED(status))
		st->st_exec_signaled++;
	else if (WEXITSTATUS(status) == 0)
		st->st_exec_exit_ok++;
	else
		st->st_exec_exit_error++;
}

/*
 * A relayed program exited after its connection ended: counted, and its
 * status gets a line of its own in the connection log.
 */
static void
execconn_late(struct worker *w, const struct spawn_msg *m)
{
	struct evi_service	*svc;

	TAILQ_FOREACH(svc, &w->w_services, s_entry) {
		if (svc->s_conf->sc_index != m->sm_service)
			continue;
		execconn_count(svc->s_stats, m->sm_status);
		if (!svc->s_conf->sc_log_connections)
			return;
		if (WIFSIGNALED(m->sm_status))
			log_info("event=exit service=%s pid=%ld signal=%s",
			    svc->s_conf->sc_name, (long)m->sm_pid,
			    sigabbrev_np(WTERMSIG(m->sm_status)) != NULL ?
			    sigabbrev_np(WTERMSIG(m->sm_status)) : "?");
		else
			log_info("event=exit service=%s pid=%ld exit=%d",
			    svc->s_conf->sc_name, (long)m->sm_pid,
			    WEXITSTATUS(m->sm_status));
		return;
	}
}

/* The program ended (or never started): so does its connection. */
static void
execconn_done(struct evi_conn *c, const struct spawn_msg *m)
{
	struct svc_stats	*st = c->c_svc->s_stats;
	enum evi_close_reason	 reason;

	if (m->sm_type == SPAWN_FAILED) {
		if (m->sm_reason == SPAWN_REASON_INSTANCES) {
			limits_refused(c->c_svc, EVI_REFUSE_MAX_CONNECTIONS,
			    &c->c_peer.sa, "every instance of the program "
			    "is running");
			reason = EVI_CLOSE_LIMIT;
		} else {
			st->st_exec_failed++;
			reason = EVI_CLOSE_ERROR;
		}
		conn_close(c, reason);
		return;
	}
	c->c_flags |= CONN_EXITED;
	c->c_exit = m->sm_status;
	execconn_count(st, m->sm_status);
	/* Relayed: what the program wrote last may still be on its way. */
	if (c->c_relay == NULL)
		conn_close(c, EVI_CLOSE_EOF);
}

/* The supervisor's news of our programs. */
static void
execconn_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	struct evi_conn	*c;
	struct spawn_msg m;
	int		 rv, passfd;

	(void)events;
	while ((rv = spawn_recv(fd, &m, &passfd)) == 1) {
		if (passfd != -1) {
			close(passfd);
			rv = -1;
			break;
		}
		if ((c = execconn_find(w, m.sm_conn)) == NULL) {
			if (m.sm_type == SPAWN_EXITED)
				execconn_late(w, &m);
			continue;
		}
		if (m.sm_type == SPAWN_STARTED) {
			c->c_child = m.sm_pid;
			c->c_svc->s_stats->st_exec_started++;
		} else if (m.sm_type == SPAWN_EXITED ||
		    m.sm_type == SPAWN_FAILED)
			execconn_done(c, &m);
	}
	/* The supervisor is gone (we follow it) or broke the channel. */
	if (rv == -1)
		fatalx("bad message on the supervisor's spawn channel");
	if (rv == -2)
		execconn_free(w);
}

/* Starts listening to the supervisor on fd, which the worker now owns. */
void
execconn_start(struct worker *w, int fd)
{
	spawn_chan_open(&w->w_spawn, w->w_base, fd, execconn_read_cb, w);
}

void
execconn_free(struct worker *w)
{
	spawn_chan_close(&w->w_spawn);
}

/* session_timeout: the program goes, and the connection with it. */
void
execconn_timeout(struct evi_conn *c)
{
	struct spawn_msg	m;

	if (c->c_flags & CONN_EXEC_KILLED)
		return;
	c->c_flags |= CONN_EXEC_KILLED;
	memset(&m, 0, sizeof(m));
	m.sm_type = SPAWN_KILL;
	m.sm_conn = c->c_id;
	(void)spawn_chan_send(&c->c_svc->s_worker->w_spawn, &m, -1);
}

/*
 * Relay mode: the program gets one end of a socketpair and we relay it to
 * the client, so that it sees plain bytes (the PROXY header, and later
 * TLS, stay ours) and, in its environment, the client the header named.
 */
static int
execconn_relay(struct evi_conn *c)
{
	struct evi_service	*svc = c->c_svc;
	struct evi_conn		*pc;
	struct spawn_msg	 m;
	const struct sockaddr	*local;
	socklen_t		 len;
	int			 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		return (-1);
	memset(&m, 0, sizeof(m));
	m.sm_type = SPAWN_RUN;
	m.sm_flags = SPAWN_F_RELAY;
	m.sm_service = (uint32_t)svc->s_conf->sc_index;
	m.sm_conn = c->c_id;
	m.sm_peer = c->c_peer;
	local = evi_conn_local(c, &len);
	memcpy(&m.sm_local, local, len < sizeof(m.sm_local) ? len :
	    sizeof(m.sm_local));
	if (spawn_chan_send(&svc->s_worker->w_spawn, &m, sp[1]) != 0) {
		close(sp[0]);
		close(sp[1]);
		return (-1);
	}
	close(sp[1]);
	pc = conn_pair(svc, sp[0]);
	c->c_flags |= CONN_EXEC;
	if (evi_relay(c, pc) != 0) {
		conn_close(pc, EVI_CLOSE_ERROR);
		return (-1);
	}
	return (0);
}

int
evi_conn_exec(struct evi_conn *c)
{
	struct evi_service	*svc = c->c_svc;
	struct worker		*w = svc->s_worker;
	struct spawn_msg	 m;

	if (w == NULL || w->w_spawn.sp_fd == -1 ||
	    svc->s_conf->sc_exec.ex_program == NULL ||
	    svc->s_conf->sc_exec.ex_wait || c->c_relay != NULL ||
	    (c->c_flags & (CONN_OUTBOUND | CONN_EXEC | CONN_CLOSE_PENDING |
	    CONN_FINISHING | CONN_WR_SHUT))) {
		errno = EINVAL;
		return (-1);
	}
	if (c->c_proxy != NULL || c->c_tls != NULL ||
	    evbuffer_get_length(c->c_in) > 0 ||
	    evbuffer_get_length(c->c_out) > 0)
		return (execconn_relay(c));
	memset(&m, 0, sizeof(m));
	m.sm_type = SPAWN_RUN;
	m.sm_service = (uint32_t)svc->s_conf->sc_index;
	m.sm_conn = c->c_id;
	if (spawn_chan_send(&w->w_spawn, &m, c->c_fd) != 0)
		return (-1);
	c->c_flags |= CONN_EXEC;
	conn_event_read(c, 0);
	conn_event_write(c, 0);
	conn_unwatch(c);
	return (0);
}
