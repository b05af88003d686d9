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
 * Socket activation: the listening sockets systemd passes us (LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES, read by sd_listen_fds_with_names(3)).
 * They are taken once, first thing in main, before close_inherited_fds
 * would close them, and the supervisor keeps them for as long as it
 * lives: each config generation that uses one gets its own duplicate, so
 * a reload that drops a service, and a later one that brings it back,
 * find the same socket, with the clients queued on it.  A service takes
 * a socket whose address and type match one of its listen addresses, or
 * every socket of a name with "listen = fd:NAME".  Built without
 * libsystemd, evinetd takes none, and fd:NAME is an error saying why.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "evinetd.h"

#define SOCKACT_NAME_MAX	255	/* systemd's FDNAME_MAX */

/*
 * One inherited descriptor.  is_why says why a service cannot use it (not
 * a socket, not listening, ...); is_user is the service that took it in
 * the bind pass under way, to refuse a second taker.
 */
struct inherited {
	int			 is_fd;
	char			*is_name;
	int			 is_type;	/* SOCK_STREAM or SOCK_DGRAM */
	union sockunion		 is_su;
	int			 is_dualstack;	/* [::] with IPV6_V6ONLY off */
	char			 is_addr[ADDR_STRLEN];
	const char		*is_why;	/* unusable: why; or NULL */
	const struct service_conf *is_user;
};

/* The supervisor's, for its life; a worker closes its copies at fork. */
static struct inherited	*sockact_socks;
static size_t		 sockact_nsocks;
static int		 sockact_passed;	/* LISTEN_FDS was for us */
static int		 sockact_errno;		/* taking them failed */
static int		 sockact_checking;	/* evinetd -n */

static const char *
sockact_type(int type)
{
	return (type == SOCK_DGRAM ? "udp" : "tcp");
}

#ifdef HAVE_SYSTEMD
/* Learns what an inherited descriptor is, and whether a service can use it. */
static void
sockact_inspect(struct inherited *is)
{
	socklen_t	len;
	int		val, flags;

	(void)fcntl(is->is_fd, F_SETFD, FD_CLOEXEC);
	len = sizeof(is->is_type);
	if (getsockopt(is->is_fd, SOL_SOCKET, SO_TYPE, &is->is_type,
	    &len) == -1) {
		is->is_why = "not a socket";
		return;
	}
	len = sizeof(is->is_su);
	if (getsockname(is->is_fd, &is->is_su.sa, &len) == -1 ||
	    (is->is_su.sa.sa_family != AF_INET &&
	    is->is_su.sa.sa_family != AF_INET6)) {
		is->is_why = "not an IPv4 or IPv6 socket";
		return;
	}
	addr_string(&is->is_su.sa, is->is_addr, sizeof(is->is_addr));
	if (is->is_type != SOCK_STREAM && is->is_type != SOCK_DGRAM) {
		is->is_why = "neither a stream nor a datagram socket";
		return;
	}
	len = sizeof(val);
	if (is->is_type == SOCK_STREAM && (getsockopt(is->is_fd, SOL_SOCKET,
	    SO_ACCEPTCONN, &val, &len) == -1 || val == 0)) {
		is->is_why = "a stream socket that is not listening";
		return;
	}
	len = sizeof(val);
	if (is->is_su.sa.sa_family == AF_INET6 && getsockopt(is->is_fd,
	    IPPROTO_IPV6, IPV6_V6ONLY, &val, &len) == 0 && val == 0)
		is->is_dualstack = 1;
	/* Workers drain the socket until EAGAIN. */
	if ((flags = fcntl(is->is_fd, F_GETFL)) == -1 ||
	    fcntl(is->is_fd, F_SETFL, flags | O_NONBLOCK) == -1)
		is->is_why = "cannot be made non-blocking";
}
#endif

/*
 * Takes the sockets passed to us, if any, and removes the variables from
 * the environment, so no worker or program it runs sees them.  Runs
 * before logging is set up; sockact_start reports.  Returns the first
 * descriptor that is not ours to keep.
 */
int
sockact_take(void)
{
#ifdef HAVE_SYSTEMD
	char	**names = NULL;
	int	  n, i;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0) {
		sockact_errno = n < 0 ? -n : 0;
		return (SD_LISTEN_FDS_START);
	}
	sockact_passed = 1;
	sockact_socks = xcalloc((size_t)n, sizeof(*sockact_socks));
	sockact_nsocks = (size_t)n;
	for (i = 0; i < n; i++) {
		sockact_socks[i].is_fd = SD_LISTEN_FDS_START + i;
		sockact_socks[i].is_name = xstrdup(names != NULL &&
		    names[i] != NULL ? names[i] : "unknown");
		sockact_inspect(&sockact_socks[i]);
		if (names != NULL)
			free(names[i]);
	}
	free(names);
	return (SD_LISTEN_FDS_START + n);
#else
	return (STDERR_FILENO + 1);
#endif
}

/*
 * Says what was taken, once logging works; checking (evinetd -n) makes
 * an fd:NAME that nothing was passed for a note instead of an error.
 */
void
sockact_start(int checking)
{
	struct inherited	*is;
	size_t			 i;

	sockact_checking = checking;
	if (sockact_errno != 0)
		log_warnx("socket activation: cannot take the sockets passed "
		    "in LISTEN_FDS: %s", strerror(sockact_errno));
	for (i = 0; i < sockact_nsocks; i++) {
		is = &sockact_socks[i];
		if (is->is_why != NULL)
			log_debug("socket activation: fd %d \"%s\": %s",
			    is->is_fd, is->is_name, is->is_why);
		else
			log_debug("socket activation: fd %d \"%s\": %s %s",
			    is->is_fd, is->is_name, sockact_type(is->is_type),
			    is->is_addr);
	}
}

/*
 * Checks the NAME of "listen = fd:NAME" as systemd does its
 * FileDescriptorName=; a build without libsystemd refuses any.
 */
int
sockact_parse_name(const char *name, char **cause)
{
#ifndef HAVE_SYSTEMD
	(void)name;
	xasprintf(cause, "fd:NAME takes a socket from systemd, and this "
	    "evinetd was built without libsystemd (socket activation is "
	    "not supported)");
	return (-1);
#else
	const char	*p;

	if (*name == '\0' || strlen(name) > SOCKACT_NAME_MAX) {
		xasprintf(cause, "fd:NAME needs a name of 1 to %d characters "
		    "(systemd's FileDescriptorName=)", SOCKACT_NAME_MAX);
		return (-1);
	}
	for (p = name; *p != '\0'; p++) {
		if (*p < ' ' || *p > '~' || *p == ':') {
			xasprintf(cause, "fd:NAME: \"%s\" is not a valid "
			    "socket name (printable ASCII, no \":\")", name);
			return (-1);
		}
	}
	return (0);
#endif
}

/* The names passed, for a message that says what there is instead. */
static char *
sockact_names(void)
{
	char	*list = NULL, *more;
	size_t	 i;

	for (i = 0; i < sockact_nsocks; i++) {
		xasprintf(&more, "%s%s\"%s\" (%s %s)", list != NULL ? list :
		    "", list != NULL ? ", " : "", sockact_socks[i].is_name,
		    sockact_socks[i].is_why != NULL ? "unusable" :
		    sockact_type(sockact_socks[i].is_type),
		    sockact_socks[i].is_addr);
		free(list);
		list = more;
	}
	return (list);
}

/* Why no socket of that name and the service's type was passed. */
static void
sockact_missing(struct config *cf, const struct service_conf *sc,
    const struct listen_conf *lc)
{
	char	*names;

	if (!sockact_passed) {
		config_error(cf, lc->lc_file, lc->lc_line, "service \"%s\": "
		    "listen %s: no sockets were passed to evinetd (LISTEN_FDS "
		    "is not set; start it from a systemd socket unit)",
		    sc->sc_name, lc->lc_text);
		return;
	}
	names = sockact_names();
	config_error(cf, lc->lc_file, lc->lc_line, "service \"%s\": listen "
	    "%s: no usable %s socket named \"%s\" was passed (passed: %s)",
	    sc->sc_name, lc->lc_text, sc->sc_protocol == EVI_PROTO_UDP ?
	    "udp" : "tcp", lc->lc_fdname, names);
	free(names);
}

/* Does the inherited socket serve this protocol? */
static int
sockact_fits(const struct inherited *is, int protocol)
{
	return (is->is_why == NULL && is->is_type == (protocol ==
	    EVI_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM));
}

/*
 * Checks that every "listen = fd:NAME" names a socket of the service's
 * protocol that was passed to us: a FILE:LINE error if not, at startup,
 * at a reload and with -n.  A -n run that was passed nothing (systemd
 * runs ExecStartPre= without the sockets) only notes what it could not
 * check.
 */
void
sockact_check(struct config *cf)
{
	struct service_conf	*sc;
	struct listen_conf	*lc;
	size_t			 i;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		TAILQ_FOREACH(lc, &sc->sc_listens, lc_entry) {
			if (lc->lc_fdname == NULL)
				continue;
			for (i = 0; i < sockact_nsocks; i++) {
				if (strcmp(sockact_socks[i].is_name,
				    lc->lc_fdname) == 0 && sockact_fits(
				    &sockact_socks[i], sc->sc_protocol))
					break;
			}
			if (i < sockact_nsocks)
				continue;
			if (sockact_checking && !sockact_passed)
				log_info("%s:%d: service \"%s\": listen %s not "
				    "checked: no sockets were passed (they are "
				    "when systemd starts evinetd)", lc->lc_file,
				    lc->lc_line, sc->sc_name, lc->lc_text);
			else
				sockact_missing(cf, sc, lc);
		}
	}
}

/*
 * Gives the generation being bound a duplicate of an inherited socket,
 * unless another service took it already in this pass.
 */
static int
sockact_give(struct inherited *is, const struct service_conf *sc, int *fdp,
    char **cause)
{
	if (is->is_user != NULL) {
		xasprintf(cause, "the socket systemd passed for %s (\"%s\") is "
		    "taken by service \"%s\" already", is->is_addr,
		    is->is_name, is->is_user->sc_name);
		return (-1);
	}
	if ((*fdp = fcntl(is->is_fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "%s: %s", is->is_addr, strerror(errno));
		return (-1);
	}
	is->is_user = sc;
	return (1);
}

/*
 * Finds the next socket named name, from *pos on, for a service: 1 with
 * a duplicate in *fdp, 0 if there is none, -1 with a cause if it cannot
 * have it.
 */
int
sockact_claim_name(const struct service_conf *sc, const char *name,
    size_t *pos, int *fdp, char **cause)
{
	struct inherited	*is;

	for (; *pos < sockact_nsocks; (*pos)++) {
		is = &sockact_socks[*pos];
		if (sockact_fits(is, sc->sc_protocol) &&
		    strcmp(is->is_name, name) == 0) {
			(*pos)++;
			return (sockact_give(is, sc, fdp, cause));
		}
	}
	return (0);
}

/* The same for the socket bound to su, if one was passed. */
int
sockact_claim_addr(const struct service_conf *sc, const union sockunion *su,
    int *fdp, char **cause)
{
	struct inherited	*is;
	size_t			 i;

	for (i = 0; i < sockact_nsocks; i++) {
		is = &sockact_socks[i];
		if (sockact_fits(is, sc->sc_protocol) &&
		    addr_same(&is->is_su, su))
			return (sockact_give(is, sc, fdp, cause));
	}
	return (0);
}

/* Is su a dual-stack [::] socket systemd passed (it serves IPv4 too)? */
int
sockact_dualstack(const union sockunion *su)
{
	size_t	i;

	for (i = 0; i < sockact_nsocks; i++) {
		if (sockact_socks[i].is_dualstack &&
		    addr_same(&sockact_socks[i].is_su, su))
			return (1);
	}
	return (0);
}

/* A new bind pass: no inherited socket is taken yet. */
void
sockact_unclaim(void)
{
	size_t	i;

	for (i = 0; i < sockact_nsocks; i++)
		sockact_socks[i].is_user = NULL;
}

/*
 * Warns of each inherited socket that the configuration just bound does
 * not use, once per startup or reload: clients connecting there would
 * wait for nothing.
 */
void
sockact_warn_unused(void)
{
	struct inherited	*is;
	size_t			 i;

	for (i = 0; i < sockact_nsocks; i++) {
		is = &sockact_socks[i];
		if (is->is_user != NULL)
			continue;
		if (is->is_why != NULL)
			log_warnx("socket activation: fd %d \"%s\"%s%s: %s; "
			    "no service can use it", is->is_fd, is->is_name,
			    is->is_addr[0] != '\0' ? " " : "", is->is_addr,
			    is->is_why);
		else
			log_warnx("socket activation: fd %d \"%s\" (%s %s) is "
			    "not used by any service", is->is_fd, is->is_name,
			    sockact_type(is->is_type), is->is_addr);
	}
	sockact_unclaim();
}

/*
 * Closes the inherited sockets: a worker at fork, which serves on its
 * generation's duplicates, or the daemon on its way out.
 */
void
sockact_close(void)
{
	size_t	i;

	for (i = 0; i < sockact_nsocks; i++) {
		close(sockact_socks[i].is_fd);
		free(sockact_socks[i].is_name);
	}
	free(sockact_socks);
	sockact_socks = NULL;
	sockact_nsocks = 0;
}
