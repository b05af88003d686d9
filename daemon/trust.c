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
 * Trust checks before loading code or config as root, in the manner of
 * sudo for its plugins and OpenSSH for key files: a module is code that
 * runs with the daemon's privileges, so anyone who can change the file,
 * or rename things in a directory above it, could run code as root.  We
 * refuse, and say which path and which permission, rather than load it.
 *
 * Modules: the file and every directory up to / must be owned by root
 * and not writable by group or others (a sticky directory such as /tmp is
 * fine: nobody can replace another's entry in it).  Config files must not
 * be writable by others.  Nothing is checked when not running as root:
 * then nothing is gained by subverting the daemon.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/* Says what is wrong with one path's owner or mode, or returns 0. */
static int
trust_path(const char *what, const char *path, const struct stat *st,
    int dir, char **cause)
{
	if (st->st_uid != 0) {
		xasprintf(cause, "%s %s: refusing to load: %s is owned by uid "
		    "%ld, not root", what, path, dir ? "its directory" :
		    "the file", (long)st->st_uid);
		return (-1);
	}
	if (dir && (st->st_mode & S_ISVTX))
		return (0);
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		xasprintf(cause, "%s %s: refusing to load: %s is writable by "
		    "%s (mode %04o); a module runs with the daemon's "
		    "privileges", what, path, dir ? "its directory" :
		    "the file", (st->st_mode & S_IWOTH) ? "others" : "group",
		    (unsigned int)(st->st_mode & 07777));
		return (-1);
	}
	return (0);
}

/* Checks a module file and every directory above it, when root. */
int
trust_module(const char *path, char **cause)
{
	struct stat	 st;
	char		*real, *dir, *p;
	int		 rv = 0;

	if (geteuid() != 0)
		return (0);
	if ((real = realpath(path, NULL)) == NULL) {
		xasprintf(cause, "module %s: %s", path, strerror(errno));
		return (-1);
	}
	if (stat(real, &st) == -1) {
		xasprintf(cause, "module %s: %s", path, strerror(errno));
		free(real);
		return (-1);
	}
	if (trust_path("module", real, &st, 0, cause) != 0) {
		free(real);
		return (-1);
	}
	dir = xstrdup(real);
	for (;;) {
		p = dirname(dir);
		if (stat(p, &st) == -1) {
			xasprintf(cause, "module %s: %s: %s", real, p,
			    strerror(errno));
			rv = -1;
			break;
		}
		if (trust_path("module", real, &st, 1, cause) != 0) {
			free(*cause);
			if (st.st_uid != 0)
				xasprintf(cause, "module %s: refusing to load: "
				    "directory %s is owned by uid %ld, not root",
				    real, p, (long)st.st_uid);
			else
				xasprintf(cause, "module %s: refusing to load: "
				    "directory %s is writable by %s (mode %04o) "
				    "and not sticky", real, p,
				    (st.st_mode & S_IWOTH) ? "others" : "group",
				    (unsigned int)(st.st_mode & 07777));
			rv = -1;
			break;
		}
		if (strcmp(p, "/") == 0)
			break;
		memmove(dir, p, strlen(p) + 1);
	}
	free(dir);
	free(real);
	return (rv);
}

/* Refuses a config file others may write, when root. */
int
trust_config(int fd, const char *path, char **cause)
{
	struct stat	st;

	if (geteuid() != 0 || fstat(fd, &st) == -1)
		return (0);
	if (st.st_mode & S_IWOTH) {
		xasprintf(cause, "refusing to read: the file is writable by "
		    "others (mode %04o); anyone could change what runs as "
		    "root", (unsigned int)(st.st_mode & 07777));
		return (-1);
	}
	(void)path;
	return (0);
}
