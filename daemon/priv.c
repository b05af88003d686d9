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
 * Privileges.  The supervisor keeps the identity it was started with: as
 * root it can bind ports below 1024 again on a reload.  Workers serve as
 * an unprivileged user: "user" (and "group", else the user's own), or
 * "nobody" when the config names none.  Serving as root takes an explicit
 * "user = root".  A worker drops every id (real, effective, saved) and its
 * supplementary groups after its modules are initialised, then sets
 * no_new_privs, so neither the worker nor anything it could exec can
 * regain privileges.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/* Resolves user and group at config time, so -n reports a typo. */
void
priv_check(struct config *cf)
{
	const char	*user = cf->c_user;
	struct passwd	*pw;
	struct group	*gr;

	cf->c_switch = 0;
	if (user == NULL && geteuid() != 0)
		return;
	if (user == NULL)
		user = DEFAULT_USER;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (cf->c_user != NULL)
			config_error(cf, cf->c_user_file, cf->c_user_line,
			    "user \"%s\" does not exist", user);
		else
			config_error(cf, cf->c_path, 0, "evinetd runs as root "
			    "and serves as user \"%s\" by default, but there "
			    "is no such user; set \"user = NAME\"", user);
		return;
	}
	cf->c_uid = pw->pw_uid;
	cf->c_gid = pw->pw_gid;
	if (cf->c_group != NULL) {
		if ((gr = getgrnam(cf->c_group)) == NULL) {
			config_error(cf, cf->c_path, 0, "group \"%s\" does "
			    "not exist", cf->c_group);
			return;
		}
		cf->c_gid = gr->gr_gid;
	}
	cf->c_switch = 1;
}

/* Says why this process cannot serve as configured, before it starts. */
int
priv_startup_check(struct config *cf, char **cause)
{
	struct service_conf	*sc;
	const struct exec_conf	*ex;

	if (geteuid() == 0)
		return (0);
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		ex = &sc->sc_exec;
		if (ex->ex_program == NULL || (ex->ex_uid == geteuid() &&
		    ex->ex_gid == getegid()))
			continue;
		xasprintf(cause, "service \"%s\": evinetd runs as uid %ld and "
		    "can run programs as another user or group only when "
		    "started as root", sc->sc_name, (long)geteuid());
		return (-1);
	}
	if (!cf->c_switch)
		return (0);
	if (cf->c_uid == getuid() && cf->c_uid == geteuid())
		return (0);
	xasprintf(cause, "user = %s: evinetd runs as uid %ld and can switch "
	    "users only when started as root", cf->c_user, (long)geteuid());
	return (-1);
}

/* Becomes the serving user for good; -1 with *cause if that fails. */
int
priv_drop(struct config *cf, char **cause)
{
	struct rlimit	rl;
	uid_t		r, e, s;

	if (cf->c_switch && geteuid() == 0) {
		if (cf->c_uid == 0) {
			log_warnx("serving as root, as \"user = %s\" says; "
			    "a module bug is then a root compromise",
			    cf->c_user);
		} else {
			if (setgroups(1, &cf->c_gid) == -1 ||
			    setresgid(cf->c_gid, cf->c_gid, cf->c_gid) == -1 ||
			    setresuid(cf->c_uid, cf->c_uid, cf->c_uid) == -1) {
				xasprintf(cause, "cannot become uid %ld gid "
				    "%ld: %s", (long)cf->c_uid,
				    (long)cf->c_gid, strerror(errno));
				return (-1);
			}
			if (getresuid(&r, &e, &s) == -1 || r != cf->c_uid ||
			    e != cf->c_uid || s != cf->c_uid ||
			    setuid(0) != -1) {
				xasprintf(cause, "privileges were not dropped");
				return (-1);
			}
		}
	}
	/*
	 * No core dumps unless asked for: a worker's memory holds clients'
	 * data.  The uid change above already made us non-dumpable; this
	 * covers workers that keep their uid, too.
	 */
	if (!cf->c_core_dumps) {
		rl.rlim_cur = rl.rlim_max = 0;
		if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
		    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
			xasprintf(cause, "cannot disable core dumps: %s",
			    strerror(errno));
			return (-1);
		}
	} else if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1) {
		/* Asked for: undo what the uid change did (RLIMIT_CORE rules). */
		xasprintf(cause, "cannot enable core dumps: %s",
		    strerror(errno));
		return (-1);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		xasprintf(cause, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return (-1);
	}
	return (0);
}
