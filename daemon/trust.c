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
 * Trust checks before a root daemon loads code or reads config, in the
 * manner of OpenSSH's safe_path: a module runs as root, and a config says
 * what runs and as whom, so anyone who can change such a file, or rename
 * things in a directory above it, could run code as root.
 *
 * A path is walked one component at a time from "/", each directory held
 * open (O_PATH) while the next is opened relative to it, and each symbolic
 * link is followed by walking its target the same way.  As root, every
 * directory, link and file met must be owned by root, and no directory or
 * file may be writable by group or others, except that a sticky directory
 * (/tmp) may be passed through: nobody can rename another's entry in it.
 * The file is then opened from the directory that was checked, with
 * O_NOFOLLOW and O_NONBLOCK, and the caller uses that descriptor: what is
 * read or loaded is what was checked.  The walk is the same when not root,
 * so a FIFO or a device is never opened, but owners and modes are not
 * checked: the daemon then has no privilege that its user lacks.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/* As the kernel: more links than this in one lookup is a loop. */
#define TRUST_MAXLINKS	40

/* How strictly the last directory of a walk is judged. */
#define TRUST_LISTED	0x1	/* listed by a glob: sticky is not enough */
#define TRUST_MISSING	0x2	/* a missing file is fine if none can add it */

struct trust_walk {
	char	 tw_real[PATH_MAX];	/* the directory walked to, resolved */
	char	 tw_link[PATH_MAX];	/* the last symbolic link followed */
	char	*tw_rest;		/* components still to walk */
	int	 tw_dirfd;		/* tw_real, held open */
	int	 tw_links;
	int	 tw_errno;		/* why the walk could not go on */
	int	 tw_check;		/* root: check owners and modes */
	int	 tw_flags;
	char	**tw_cause;
};

/* Says what is wrong with one object of the walk, named as found. */
static int
trust_fail(struct trust_walk *tw, const char *comp, const char *what,
    char *why)
{
	int	root = strcmp(tw->tw_real, "/") == 0;

	xasprintf(tw->tw_cause, "%s %s%s%s %s%s%s%s", what, tw->tw_real,
	    comp != NULL && !root ? "/" : "", comp != NULL ? comp : "", why,
	    tw->tw_link[0] != '\0' ? " (reached through symbolic link " : "",
	    tw->tw_link, tw->tw_link[0] != '\0' ? ")" : "");
	free(why);
	return (-1);
}

/*
 * Checks one object's owner and mode, as root.  A sticky directory may be
 * writable unless the walk ends in it and it is listed.
 */
static int
trust_stat(struct trust_walk *tw, const char *comp, const struct stat *st,
    int last)
{
	const char	*what, *by;
	char		*why;
	unsigned int	 mode = st->st_mode & 07777;
	int		 dir = S_ISDIR(st->st_mode);

	if (!tw->tw_check)
		return (0);
	what = dir ? "directory" : S_ISLNK(st->st_mode) ? "symbolic link" :
	    "file";
	by = (st->st_mode & S_IWOTH) ? "others" : "group";
	/* Root's, and nobody else may write it (or only pass through it). */
	if (st->st_uid == 0 && (S_ISLNK(st->st_mode) ||
	    (mode & (S_IWGRP | S_IWOTH)) == 0 || (dir && (mode & S_ISVTX) &&
	    !(last && (tw->tw_flags & (TRUST_LISTED | TRUST_MISSING))))))
		return (0);
	if (st->st_uid != 0)
		xasprintf(&why, "is owned by uid %ld, not root",
		    (long)st->st_uid);
	else if (!dir)
		xasprintf(&why, "is writable by %s (mode %04o)", by, mode);
	else if (!(mode & S_ISVTX))
		xasprintf(&why, "is writable by %s (mode %04o) and not "
		    "sticky", by, mode);
	else
		xasprintf(&why, "is writable by %s (mode %04o): anyone there "
		    "may add a file to it", by, mode);
	return (trust_fail(tw, comp, what, why));
}

/* Moves the walk into a directory it has checked, named comp in tw_real. */
static void
trust_enter(struct trust_walk *tw, int fd, const char *comp)
{
	char	*slash;
	size_t	 len;

	close(tw->tw_dirfd);
	tw->tw_dirfd = fd;
	if (strcmp(comp, "..") == 0) {
		if ((slash = strrchr(tw->tw_real, '/')) != NULL)
			slash[slash == tw->tw_real] = '\0';
	} else {
		len = strlen(tw->tw_real);
		snprintf(tw->tw_real + len, sizeof(tw->tw_real) - len, "%s%s",
		    len > 1 ? "/" : "", comp);
	}
}

/* Puts a link's target in front of what is left to walk. */
static int
trust_follow(struct trust_walk *tw, int fd, const char *comp)
{
	char	 target[PATH_MAX], *rest;
	ssize_t	 n;

	if (++tw->tw_links > TRUST_MAXLINKS) {
		xasprintf(tw->tw_cause, "%s", strerror(ELOOP));
		return (-1);
	}
	if ((n = readlinkat(fd, "", target, sizeof(target) - 1)) == -1) {
		xasprintf(tw->tw_cause, "%s/%s: %s", tw->tw_real, comp,
		    strerror(errno));
		return (-1);
	}
	target[n] = '\0';
	snprintf(tw->tw_link, sizeof(tw->tw_link), "%s%s%s", tw->tw_real,
	    strcmp(tw->tw_real, "/") == 0 ? "" : "/", comp);
	xasprintf(&rest, "%s/%s", target, tw->tw_rest);
	free(tw->tw_rest);
	tw->tw_rest = rest;
	if (target[0] == '/') {
		close(tw->tw_dirfd);
		if ((tw->tw_dirfd = open("/", O_PATH | O_CLOEXEC)) == -1) {
			xasprintf(tw->tw_cause, "/: %s", strerror(errno));
			return (-1);
		}
		snprintf(tw->tw_real, sizeof(tw->tw_real), "/");
	}
	return (0);
}

/* Drops leading slashes and "." components: they go nowhere. */
static void
trust_skip(char *rest)
{
	char	*p = rest;

	for (;;) {
		while (*p == '/')
			p++;
		if (p[0] != '.' || (p[1] != '/' && p[1] != '\0'))
			break;
		p++;
	}
	memmove(rest, p, strlen(p) + 1);
}

/* Takes the next component off tw_rest; NULL when none is left. */
static char *
trust_next(struct trust_walk *tw, int *last)
{
	char	*comp, *p;

	trust_skip(tw->tw_rest);
	if (tw->tw_rest[0] == '\0')
		return (NULL);
	if ((p = strchr(tw->tw_rest, '/')) == NULL)
		p = tw->tw_rest + strlen(tw->tw_rest);
	comp = xstrndup(tw->tw_rest, (size_t)(p - tw->tw_rest));
	memmove(tw->tw_rest, p, strlen(p) + 1);
	trust_skip(tw->tw_rest);
	*last = tw->tw_rest[0] == '\0';
	return (comp);
}

/*
 * Walks path to its last component, checking what it passes.  Returns an
 * O_PATH descriptor of that component, with its stat and name, and leaves
 * tw_dirfd on the directory holding it; -1 with *tw_cause on a problem.
 */
static int
trust_walk(struct trust_walk *tw, const char *path, struct stat *st,
    char **name)
{
	char		*comp, cwd[PATH_MAX];
	int		 fd, last;

	*name = NULL;
	if (path[0] == '/')
		tw->tw_rest = xstrdup(path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		xasprintf(&tw->tw_rest, "%s/%s", cwd, path);
	else {
		xasprintf(tw->tw_cause, "the working directory: %s",
		    strerror(errno));
		return (-1);
	}
	snprintf(tw->tw_real, sizeof(tw->tw_real), "/");
	if ((tw->tw_dirfd = open("/", O_PATH | O_CLOEXEC)) == -1 ||
	    fstat(tw->tw_dirfd, st) == -1) {
		xasprintf(tw->tw_cause, "/: %s", strerror(errno));
		return (-1);
	}
	trust_skip(tw->tw_rest);
	if (trust_stat(tw, NULL, st, tw->tw_rest[0] == '\0') != 0)
		return (-1);
	*name = xstrdup("/");
	while ((comp = trust_next(tw, &last)) != NULL) {
		free(*name);
		*name = comp;
		fd = openat(tw->tw_dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 || fstat(fd, st) == -1) {
			tw->tw_errno = errno;
			xasprintf(tw->tw_cause, "%s", strerror(tw->tw_errno));
			if (fd != -1)
				close(fd);
			return (-1);
		}
		if (trust_stat(tw, comp, st, last) != 0) {
			close(fd);
			return (-1);
		}
		if (S_ISLNK(st->st_mode)) {
			last = trust_follow(tw, fd, comp);
			close(fd);
			if (last != 0)
				return (-1);
			continue;
		}
		if (last)
			return (fd);
		if (!S_ISDIR(st->st_mode)) {
			close(fd);
			xasprintf(tw->tw_cause, "%s", strerror(ENOTDIR));
			return (-1);
		}
		trust_enter(tw, fd, comp);
	}
	/* Nothing after "/", or a link to a directory ended the path. */
	if (fstat(tw->tw_dirfd, st) == -1) {
		xasprintf(tw->tw_cause, "%s: %s", tw->tw_real, strerror(errno));
		return (-1);
	}
	if (trust_stat(tw, NULL, st, 1) != 0)
		return (-1);
	return (fcntl(tw->tw_dirfd, F_DUPFD_CLOEXEC, 0));
}

/* Ends a walk, whatever state it stopped in. */
static void
trust_walk_end(struct trust_walk *tw, char *name)
{
	if (tw->tw_dirfd != -1)
		close(tw->tw_dirfd);
	tw->tw_dirfd = -1;
	free(tw->tw_rest);
	tw->tw_rest = NULL;
	free(name);
}

static void
trust_walk_init(struct trust_walk *tw, int flags, char **cause)
{
	memset(tw, 0, sizeof(*tw));
	tw->tw_dirfd = -1;
	tw->tw_check = geteuid() == 0;
	tw->tw_flags = flags;
	tw->tw_cause = cause;
}

/*
 * Opens a regular file for reading once every directory, link and the
 * file itself on its way from "/" passed the checks; the descriptor is
 * what must be used.  -1 with *cause (the problem, without the path).
 */
int
trust_open(const char *path, char **cause)
{
	struct trust_walk	 tw;
	struct stat		 st, st2;
	char			*name;
	int			 pfd, fd = -1;

	trust_walk_init(&tw, 0, cause);
	if ((pfd = trust_walk(&tw, path, &st, &name)) == -1)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		xasprintf(cause, "not a regular file");
		goto out;
	}
	/* The same name in the same checked directory, now for reading. */
	fd = openat(tw.tw_dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		xasprintf(cause, "%s", strerror(errno));
	else if (fstat(fd, &st2) == -1 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino) {
		xasprintf(cause, "the file changed while it was checked");
		close(fd);
		fd = -1;
	}
out:
	if (pfd != -1)
		close(pfd);
	trust_walk_end(&tw, name);
	return (fd);
}

/*
 * Checks a directory whose entries are all read, as an include glob's:
 * there, a sticky directory is not enough, since anyone who may write it
 * may add a file.
 */
int
trust_dir(const char *path, char **cause)
{
	struct trust_walk	 tw;
	struct stat		 st;
	char			*name;
	int			 fd, rv = -1;

	trust_walk_init(&tw, TRUST_LISTED, cause);
	if ((fd = trust_walk(&tw, path, &st, &name)) != -1) {
		if (S_ISDIR(st.st_mode))
			rv = 0;
		else
			xasprintf(cause, "%s", strerror(ENOTDIR));
		close(fd);
	}
	trust_walk_end(&tw, name);
	return (rv);
}

/*
 * Checks, as root, a file a module option names (EVI_OPT_PATH), which the
 * module opens itself in init: the walk proves nobody but root can change
 * or replace it before then.  A missing file is fine if nobody else could
 * create it; the module reports it.  Relative paths are taken as the
 * option's conversion takes them, from the directory of the config file.
 */
int
trust_option_path(const char *value, const char *file, char **cause)
{
	struct trust_walk	 tw;
	struct stat		 st;
	char			*path, *copy, *name;
	int			 fd, rv = 0;

	if (geteuid() != 0)
		return (0);
	if (value[0] == '/' || file == NULL)
		path = xstrdup(value);
	else {
		copy = xstrdup(file);
		xasprintf(&path, "%s/%s", dirname(copy), value);
		free(copy);
	}
	trust_walk_init(&tw, TRUST_MISSING, cause);
	if ((fd = trust_walk(&tw, path, &st, &name)) != -1)
		close(fd);
	else if (tw.tw_errno == ENOENT && tw.tw_dirfd != -1) {
		/* Nobody else can add to the directory the walk stopped in. */
		free(*cause);
		*cause = NULL;
		if (fstat(tw.tw_dirfd, &st) == -1 ||
		    trust_stat(&tw, NULL, &st, 1) != 0)
			rv = -1;
	} else
		rv = -1;
	if (rv != 0 && *cause != NULL) {
		xasprintf(&copy, "%s: %s", path, *cause);
		free(*cause);
		*cause = copy;
	}
	trust_walk_end(&tw, name);
	free(path);
	return (rv);
}
