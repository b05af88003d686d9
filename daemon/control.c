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
 * The control socket: the supervisor's UNIX socket that evinetdctl(8)
 * talks to (protocol version 1, see evinetd(8)).  One request per
 * connection, one JSON line each way.  Who may connect is decided by
 * the kernel's word on the peer (SO_PEERCRED, SO_PEERGROUPS), whatever
 * the socket file's mode says: root, our own uid, or a member of
 * control_group.
 *
 * A client is a small state machine: it reads its request (bounded in
 * size and time), then is busy while the command waits on the workers
 * (over the channels of chan.c), on a drain or on a reload, then writes
 * its answer and goes.  A client that hangs up while busy is simply
 * forgotten; nothing waits on it.  The commands are in ctlcmd.c.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <jansson.h>

#include "evinetd.h"

#define CTL_MAX_CLIENTS		256
#define CTL_READ_TIMEOUT_S	10
#define CTL_MAX_GROUPS		256
#define CTL_LINGER_S		2

static void	control_client_free(struct ctl_client *);

/* The commands, their arguments, and whether a peer must be allowed. */
static const struct ctl_command {
	const char	*cc_name;
	enum ctl_cmd	 cc_cmd;
	size_t		 cc_min;
	size_t		 cc_max;
	const char	*cc_usage;
} ctl_commands[] = {
	{ "status", CTL_STATUS, 0, 0, "status" },
	{ "services", CTL_SERVICES, 0, 0, "services" },
	{ "connections", CTL_CONNECTIONS, 0, 1, "connections [SERVICE]" },
	{ "disable", CTL_DISABLE, 1, 1, "disable SERVICE" },
	{ "enable", CTL_ENABLE, 1, 1, "enable SERVICE" },
	{ "drain", CTL_DRAIN, 1, 2, "drain SERVICE [TIMEOUT]" },
	{ "close", CTL_CLOSE, 1, 1, "close ID" },
	{ "reload", CTL_RELOAD, 0, 0, "reload" },
	{ "config", CTL_CONFIG, 0, 0, "config" },
	{ "stop", CTL_STOP, 0, 0, "stop" },
};
#define CTL_NCOMMANDS	(sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/*
 * A client's bytes, fit for a one-line message and the log: at most len
 * - 1 of them, anything but printable ASCII shown as '?'.
 */
static const char *
control_word(const char *s, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len && s[i] != '\0'; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f)
			buf[i] = s[i];
		else
			buf[i] = '?';
	}
	buf[i] = '\0';
	return (buf);
}

/*
 * Parses one request line (without its newline).  0 with req filled in
 * (the caller frees req->cr_json), or -1 with *cause.  It is the one
 * place untrusted bytes from the socket are interpreted, and is fuzzed
 * (fuzz/fuzz_control.c).
 */
int
control_parse(const char *buf, size_t len, struct ctl_request *req,
    char **cause)
{
	json_error_t	 jerr;
	json_t		*o, *v, *args = NULL;
	const char	*key;
	char		 word[65], text[JSON_ERROR_TEXT_LENGTH];
	size_t		 i;

	memset(req, 0, sizeof(*req));
	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		xasprintf(cause, "request is not JSON: %s",
		    control_word(jerr.text, text, sizeof(text)));
		return (-1);
	}
	if (!json_is_object(o)) {
		xasprintf(cause, "request is not a JSON object");
		goto fail;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "version") != 0 &&
		    strcmp(key, "command") != 0 && strcmp(key, "args") != 0) {
			xasprintf(cause, "unknown member \"%s\"",
			    control_word(key, word, sizeof(word)));
			goto fail;
		}
	}
	v = json_object_get(o, "version");
	if (!json_is_integer(v)) {
		xasprintf(cause, "request has no integer \"version\"");
		goto fail;
	}
	if (json_integer_value(v) != CONTROL_VERSION) {
		xasprintf(cause, "unsupported protocol version %lld (this "
		    "daemon speaks %d)", (long long)json_integer_value(v),
		    CONTROL_VERSION);
		goto fail;
	}
	if (!json_is_string(v = json_object_get(o, "command"))) {
		xasprintf(cause, "request has no string \"command\"");
		goto fail;
	}
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		if (strcmp(json_string_value(v), ctl_commands[i].cc_name) == 0)
			break;
	}
	if (i == CTL_NCOMMANDS) {
		xasprintf(cause, "unknown command \"%s\"",
		    control_word(json_string_value(v), word, sizeof(word)));
		goto fail;
	}
	req->cr_cmd = ctl_commands[i].cc_cmd;
	if ((args = json_object_get(o, "args")) != NULL &&
	    !json_is_array(args)) {
		xasprintf(cause, "\"args\" is not an array");
		goto fail;
	}
	req->cr_nargs = args != NULL ? json_array_size(args) : 0;
	if (req->cr_nargs < ctl_commands[i].cc_min ||
	    req->cr_nargs > ctl_commands[i].cc_max) {
		xasprintf(cause, "usage: %s", ctl_commands[i].cc_usage);
		goto fail;
	}
	for (i = 0; i < req->cr_nargs; i++) {
		v = json_array_get(args, i);
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			xasprintf(cause, "argument %zu is not a word", i + 1);
			goto fail;
		}
		req->cr_args[i] = json_string_value(v);
	}
	req->cr_json = o;
	return (0);

fail:
	json_decref(o);
	return (-1);
}

/*
 * Answers a client and lets it go once the answer is written.  result is
 * stolen.  On failure errors (stolen too, may be NULL) lists details.
 */
void
control_answer(struct ctl_client *cc, int ok, json_t *result,
    const char *error, json_t *errors)
{
	json_t	*r;
	char	*s;

	if (ok)
		r = json_pack("{s:i, s:b, s:o}", "version", CONTROL_VERSION,
		    "ok", 1, "result", result != NULL ? result : json_null());
	else {
		json_decref(result);
		r = json_pack("{s:i, s:b, s:s}", "version", CONTROL_VERSION,
		    "ok", 0, "error", error);
		if (r != NULL && errors != NULL)
			json_object_set_new(r, "errors", errors);
	}
	if (r == NULL || (s = json_dumps(r, JSON_COMPACT)) == NULL)
		fatalx("cannot encode a control answer");
	json_decref(r);
	ctlcmd_cancel(cc);
	cc->cc_state = CTL_WRITING;
	bufferevent_set_timeouts(cc->cc_bev, NULL, NULL);
	bufferevent_write(cc->cc_bev, s, strlen(s));
	bufferevent_write(cc->cc_bev, "\n", 1);
	free(s);
}

/* control_answer with a printf-style error. */
void
control_fail(struct ctl_client *cc, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	control_answer(cc, 0, NULL, msg, NULL);
	free(msg);
}

/* Logs a client's misbehaviour, at most once a second. */
static void
control_log_bad(struct control *ctl, const struct ctl_client *cc,
    const char *why)
{
	time_t	now = time(NULL);

	if (ctl->ctl_logged == now)
		return;
	ctl->ctl_logged = now;
	log_warnx("control socket: client pid %ld uid %ld: %s",
	    (long)cc->cc_pid, (long)cc->cc_uid, why);
}

static void
control_client_read(struct bufferevent *bev, void *arg)
{
	struct ctl_client	*cc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 eol;
	struct ctl_request	 req;
	char			*line, *cause;
	size_t			 len;

	if (cc->cc_state != CTL_READING) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	eol = evbuffer_search(in, "\n", 1, NULL);
	if (eol.pos == -1) {
		if (evbuffer_get_length(in) >= CONTROL_MAX_REQUEST) {
			control_log_bad(cc->cc_ctl, cc, "request too long");
			control_fail(cc, "request longer than %d bytes",
			    CONTROL_MAX_REQUEST);
		}
		return;
	}
	len = (size_t)eol.pos;
	if (len + 1 > CONTROL_MAX_REQUEST) {
		control_log_bad(cc->cc_ctl, cc, "request too long");
		control_fail(cc, "request longer than %d bytes",
		    CONTROL_MAX_REQUEST);
		return;
	}
	line = xmalloc(len + 1);
	evbuffer_remove(in, line, len + 1);
	if (control_parse(line, len, &req, &cause) != 0) {
		control_log_bad(cc->cc_ctl, cc, cause);
		control_fail(cc, "%s", cause);
		free(cause);
	} else {
		cc->cc_state = CTL_BUSY;
		bufferevent_set_timeouts(bev, NULL, NULL);
		ctlcmd_run(cc, &req);
		json_decref(req.cr_json);
	}
	free(line);
}

/* The client had CTL_LINGER_S to hang up after its answer. */
static void
control_client_linger_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	control_client_free(arg);
}

/*
 * The answer is out: a stop the client asked for begins, and the client
 * goes once it hangs up.  Closing at once could reset the connection
 * over input it sent after an oversized request, and the reset could
 * destroy the answer on its way: so we shut our side and read until its
 * end, for CTL_LINGER_S at most (a lingering close).
 */
static void
control_client_written(struct bufferevent *bev, void *arg)
{
	struct ctl_client	*cc = arg;
	struct timeval		 tv = { CTL_LINGER_S, 0 };

	if (cc->cc_state != CTL_WRITING)
		return;
	cc->cc_state = CTL_LINGERING;
	if (cc->cc_stop) {
		cc->cc_stop = 0;
		sup_stop(cc->cc_ctl->ctl_sup, 0);
	}
	if (shutdown(bufferevent_getfd(bev), SHUT_WR) == -1) {
		control_client_free(cc);
		return;
	}
	bufferevent_enable(bev, EV_READ);
	evtimer_assign(&cc->cc_timer, cc->cc_ctl->ctl_sup->s_base,
	    control_client_linger_cb, cc);
	cc->cc_timer_set = 1;
	evtimer_add(&cc->cc_timer, &tv);
}

static void
control_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client	*cc = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && cc->cc_state == CTL_READING) {
		control_log_bad(cc->cc_ctl, cc, "no request in time");
		control_fail(cc, "no request within %d s", CTL_READ_TIMEOUT_S);
		return;
	}
	/* Gone, or broken: a stop it asked for still happens. */
	if (cc->cc_stop)
		sup_stop(cc->cc_ctl->ctl_sup, 0);
	control_client_free(cc);
}

static void
control_client_free(struct ctl_client *cc)
{
	struct control	*ctl = cc->cc_ctl;

	ctlcmd_cancel(cc);
	TAILQ_REMOVE(&ctl->ctl_clients, cc, cc_entry);
	ctl->ctl_nclients--;
	bufferevent_free(cc->cc_bev);
	free(cc);
}

/*
 * Whether the kernel says the peer may control us: root, our own uid, or
 * in control_group (its primary group or one of its supplementary ones,
 * as they were when it connected).
 */
static int
control_allowed(const struct control *ctl, int fd, const struct ucred *uc)
{
	gid_t		groups[CTL_MAX_GROUPS];
	socklen_t	len = sizeof(groups);
	size_t		i;

	if (uc->uid == 0 || uc->uid == geteuid())
		return (1);
	if (!ctl->ctl_has_group)
		return (0);
	if (uc->gid == ctl->ctl_gid)
		return (1);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return (0);
	for (i = 0; i < len / sizeof(gid_t); i++) {
		if (groups[i] == ctl->ctl_gid)
			return (1);
	}
	return (0);
}

/* A new client: checked, counted, and given its request's deadline. */
static void
control_accept(evutil_socket_t fd, short events, void *arg)
{
	struct control		*ctl = arg;
	struct ctl_client	*cc;
	struct ucred		 uc;
	struct timeval		 tv = { CTL_READ_TIMEOUT_S, 0 };
	socklen_t		 len = sizeof(uc);
	int			 s;

	(void)events;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control socket: accept");
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1) {
		log_warn("control socket: SO_PEERCRED");
		close(s);
		return;
	}
	if (ctl->ctl_nclients >= CTL_MAX_CLIENTS) {
		if (ctl->ctl_logged != time(NULL))
			log_warnx("control socket: %d clients at once; "
			    "refusing pid %ld", CTL_MAX_CLIENTS, (long)uc.pid);
		ctl->ctl_logged = time(NULL);
		close(s);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->cc_ctl = ctl;
	cc->cc_uid = uc.uid;
	cc->cc_pid = uc.pid;
	if ((cc->cc_bev = bufferevent_socket_new(ctl->ctl_sup->s_base, s,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("cannot make a control client");
	TAILQ_INSERT_TAIL(&ctl->ctl_clients, cc, cc_entry);
	ctl->ctl_nclients++;
	bufferevent_setcb(cc->cc_bev, control_client_read,
	    control_client_written, control_client_event, cc);
	if (!control_allowed(ctl, s, &uc)) {
		log_warnx("control socket: refused uid %ld (pid %ld): not "
		    "root, not uid %ld, not in control_group", (long)uc.uid,
		    (long)uc.pid, (long)geteuid());
		control_fail(cc, "permission denied: uid %ld is not allowed "
		    "to control evinetd", (long)uc.uid);
		return;
	}
	cc->cc_state = CTL_READING;
	bufferevent_set_timeouts(cc->cc_bev, &tv, NULL);
	bufferevent_enable(cc->cc_bev, EV_READ);
}

/*
 * Makes way for our socket at path: a socket nobody answers on (left by
 * a killed daemon) is removed; one that answers means another evinetd
 * runs.  0, or -1 with *cause.
 */
static int
control_clear(const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 s, rv;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return (0);
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISSOCK(st.st_mode)) {
		xasprintf(cause, "%s exists and is not a socket; not "
		    "replacing it", path);
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	rv = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	close(s);
	if (rv == 0) {
		xasprintf(cause, "%s answers: another evinetd is running "
		    "(stop it, or give this one another control_socket)",
		    path);
		return (-1);
	}
	if (errno != ECONNREFUSED) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	log_info("control socket %s was left by a daemon that is gone; "
	    "replacing it", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		xasprintf(cause, "cannot remove %s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}

/* Binds path with mode 0600 (0660, group gid, with control_group). */
static int
control_bind(const char *path, int has_group, gid_t gid, char **cause)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		xasprintf(cause, "%s: path too long for a socket", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	old = umask(0177);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		xasprintf(cause, "%s: %s", path, strerror(errno));
		close(s);
		return (-1);
	}
	umask(old);
	if (has_group && (chown(path, (uid_t)-1, gid) == -1 ||
	    chmod(path, 0660) == -1)) {
		xasprintf(cause, "%s: group or mode: %s", path,
		    strerror(errno));
		(void)unlink(path);
		close(s);
		return (-1);
	}
	if (listen(s, CTL_MAX_CLIENTS) == -1) {
		xasprintf(cause, "%s: listen: %s", path, strerror(errno));
		(void)unlink(path);
		close(s);
		return (-1);
	}
	return (s);
}

/*
 * Opens the config's control socket before the daemon detaches, so that
 * a second instance is refused with a clear message.  The socket, or -1:
 * with *cause on error, or with *cause NULL when there is none (none,
 * or the default path's directory is missing or not ours to write).
 */
int
control_open(const struct config *cf, char **cause)
{
	const char	*path = cf->c_control;
	char		*dir;

	*cause = NULL;
	if (path == NULL)
		return (-1);
	/* The compiled-in default's directory may not exist or be ours. */
	if (cf->c_control_default) {
		dir = xstrdup(path);
		*strrchr(dir, '/') = '\0';
		if (access(*dir != '\0' ? dir : "/", W_OK | X_OK) == -1) {
			log_info("no control socket: %s: %s (set "
			    "control_socket to use evinetdctl)",
			    *dir != '\0' ? dir : "/", strerror(errno));
			free(dir);
			return (-1);
		}
		free(dir);
	}
	if (control_clear(path, cause) != 0)
		return (-1);
	return (control_bind(path, cf->c_control_group != NULL,
	    cf->c_control_gid, cause));
}

/* Starts serving the socket control_open made (or none, s == -1). */
void
control_start(struct supervisor *sup, int s, const struct config *cf)
{
	struct control	*ctl;
	struct stat	 st;

	ctl = xcalloc(1, sizeof(*ctl));
	ctl->ctl_sup = sup;
	ctl->ctl_fd = s;
	TAILQ_INIT(&ctl->ctl_clients);
	TAILQ_INIT(&ctl->ctl_states);
	sup->s_ctl = ctl;
	if (s == -1)
		return;
	ctl->ctl_path = xstrdup(cf->c_control);
	if (stat(ctl->ctl_path, &st) == 0) {
		ctl->ctl_dev = st.st_dev;
		ctl->ctl_ino = st.st_ino;
	}
	ctl->ctl_has_group = cf->c_control_group != NULL;
	ctl->ctl_gid = cf->c_control_gid;
	event_assign(&ctl->ctl_ev, sup->s_base, s, EV_READ | EV_PERSIST,
	    control_accept, ctl);
	event_add(&ctl->ctl_ev, NULL);
	log_info("control socket %s", ctl->ctl_path);
}

/*
 * The socket and control_group stay what they were at startup; says so
 * when a reloaded config asks for others.
 */
void
control_reload_check(struct supervisor *sup, const struct config *cf)
{
	const struct control	*ctl = sup->s_ctl;
	const char		*now = ctl->ctl_path, *new = cf->c_control;

	if (sup->s_ctl_forced || (now == NULL && new == NULL) ||
	    (now != NULL && new != NULL && strcmp(now, new) == 0))
		return;
	log_warnx("%s: control_socket is now %s, but the control socket "
	    "changes only when evinetd restarts; it stays %s", cf->c_path,
	    new != NULL ? new : "none", now != NULL ? now : "none");
}

/* In a new worker process: nothing of the control socket is ours. */
void
control_child(struct supervisor *sup)
{
	struct control		*ctl = sup->s_ctl;
	struct ctl_client	*cc;

	if (ctl == NULL)
		return;
	if (ctl->ctl_fd != -1)
		close(ctl->ctl_fd);
	ctl->ctl_fd = -1;
	TAILQ_FOREACH(cc, &ctl->ctl_clients, cc_entry)
		close(bufferevent_getfd(cc->cc_bev));
}

/* At exit: the clients go, and the socket file if it is still ours. */
void
control_free(struct supervisor *sup)
{
	struct control		*ctl = sup->s_ctl;
	struct ctl_client	*cc, *next;
	struct ctl_state	*cs;
	struct stat		 st;

	if (ctl == NULL)
		return;
	for (cc = TAILQ_FIRST(&ctl->ctl_clients); cc != NULL; cc = next) {
		next = TAILQ_NEXT(cc, cc_entry);
		control_client_free(cc);
	}
	while ((cs = TAILQ_FIRST(&ctl->ctl_states)) != NULL) {
		TAILQ_REMOVE(&ctl->ctl_states, cs, cs_entry);
		free(cs->cs_name);
		free(cs);
	}
	if (ctl->ctl_fd != -1) {
		event_del(&ctl->ctl_ev);
		close(ctl->ctl_fd);
		if (stat(ctl->ctl_path, &st) == 0 &&
		    st.st_dev == ctl->ctl_dev && st.st_ino == ctl->ctl_ino)
			(void)unlink(ctl->ctl_path);
	}
	free(ctl->ctl_path);
	free(ctl);
	sup->s_ctl = NULL;
}
