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
 * evinetd: an event-driven internet super-server.  main() reads and checks
 * the config (modules loaded and their options validated), binds every
 * listener, optionally detaches, writes the pid file, and hands over to
 * the supervisor (supervisor.c), which forks the workers, reloads and
 * restarts them; with -X one process serves everything instead.  Until
 * their libevent handlers are in, the signals evinetd handles are held,
 * from the first instruction of main, and descriptors inherited from
 * whoever started us are closed before anything of ours is open, but for
 * the listening sockets systemd passes (sockact.c).
 */

#include "config.h"

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

struct options {
	const char	*config;
	const char	*module_dir;
	char		*pidfile;
	int		 pidfile_forced;	/* -p: the key is moot */
	char		*control;	/* -S: control_socket is moot */
	int		 foreground;
	int		 check;
	int		 single;
	int		 verbose;
};

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL, 'f' },
	{ "foreground",	no_argument,		NULL, 'd' },
	{ "check",	no_argument,		NULL, 'n' },
	{ "module-dir",	required_argument,	NULL, 'M' },
	{ "pidfile",	required_argument,	NULL, 'p' },
	{ "control-socket", required_argument,	NULL, 'S' },
	{ "single-process", no_argument,		NULL, 'X' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evinetd [-dnvVXh] [-f file] [-M dir] [-p pidfile] "
	    "[-S socket]\n"
	    "  -f, --config FILE      config file (default %s)\n"
	    "  -d, --foreground       stay in the foreground, log to stderr\n"
	    "  -n, --check            check the config and modules, then exit\n"
	    "  -M, --module-dir DIR   load modules from DIR (overrides "
	    "module_dir)\n"
	    "  -p, --pidfile FILE     write the daemon's pid to FILE\n"
	    "  -S, --control-socket PATH  evinetdctl's socket, or none "
	    "(overrides\n"
	    "                         control_socket)\n"
	    "  -X, --single-process   serve in one process, no workers (for "
	    "debugging)\n"
	    "  -v, --verbose          log more (repeat for more)\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n",
	    EVINETD_CONFIG);
}

/*
 * Holds back the signals evinetd handles until their handlers are in
 * (sup_run, worker_run unblock them), so that a SIGHUP in the first
 * milliseconds waits instead of killing us with its default action.  The
 * mask is set, not added to: nothing blocked by whoever started us stays
 * blocked in the workers.
 */
static void
signals_hold(void)
{
	sigset_t	set;

	worker_sigset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Default signal handling, for a process that installs no handlers. */
static void
signals_release(void)
{
	sigset_t	set;

	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * Puts /dev/null on any of stdin, stdout and stderr that we were started
 * without, as OpenSSH's sanitise_stdfd does: otherwise the first socket
 * we open would become fd 0, 1 or 2, and be written to as a log or
 * replaced by daemonize's /dev/null.
 */
static void
open_std_fds(void)
{
	int	fd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			_exit(EVINETD_EXIT_RUNTIME);
	}
}

/*
 * Closes every descriptor from first on that whoever started us left
 * open, so that none of them (a root-only file on fd 7, say) reaches a
 * worker.  This is the one place that decides which inherited descriptors
 * evinetd keeps: the sockets systemd passed, 3 up to first (sockact.c),
 * and nothing else.  It runs before anything of ours is open.
 */
static void
close_inherited_fds(int first)
{
	DIR		*d;
	struct dirent	*de;
	long		 fd, max;
	int		 closed;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)first, ~0U, 0U) == 0)
		return;
#endif
	/* Closing while reading the directory may skip entries: go again. */
	if ((d = opendir("/proc/self/fd")) != NULL) {
		do {
			closed = 0;
			rewinddir(d);
			while ((de = readdir(d)) != NULL) {
				fd = strtol(de->d_name, NULL, 10);
				if (fd >= first && fd != dirfd(d) &&
				    close((int)fd) == 0)
					closed = 1;
			}
		} while (closed);
		closedir(d);
		return;
	}
	max = sysconf(_SC_OPEN_MAX);
	for (fd = first; fd < max; fd++)
		(void)close((int)fd);
}

/* More descriptors mean more clients: lift the soft limit to the hard. */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_debug("descriptor limit %llu",
		    (unsigned long long)rl.rlim_cur);
}

/*
 * The pid in a pid file that another evinetd holds locked, for the
 * "already running" message; "unknown" unless the file is ours (owned by
 * our uid) and holds nothing but a pid, so no other file's contents ever
 * reach the log.
 */
static void
pidfile_read_pid(int fd, const struct stat *st, char *buf, size_t len)
{
	ssize_t	n;

	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (st->st_uid != geteuid() || buf[0] == '\0' ||
	    strspn(buf, "0123456789") != strlen(buf))
		(void)snprintf(buf, len, "unknown");
}

/*
 * Checks what is at a pid file's path before we replace it: nothing, or
 * an unlocked regular file.  A second instance is refused while the lock
 * is held.  The path may be in a directory others can write to, so it is
 * opened without following a link or waiting on a FIFO, and only a
 * regular file is accepted.
 */
static int
pidfile_check(const char *path)
{
	struct stat	st;
	char		pid[32];
	int		fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return (0);
	if (fd == -1 && errno == ELOOP) {
		log_warnx("pid file %s is a symbolic link; not following it "
		    "(remove it, or name the file itself)", path);
		return (-1);
	}
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("pid file %s", path);
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("pid file %s is not a regular file (%s); remove it, "
		    "or choose another path", path, S_ISFIFO(st.st_mode) ?
		    "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" :
		    "a device or socket");
		close(fd);
		return (-1);
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK) {
		pidfile_read_pid(fd, &st, pid, sizeof(pid));
		log_warnx("pid file %s is locked: evinetd is already running "
		    "(pid %s)", path, pid);
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

/*
 * Writes the pid file atomically (a temporary file renamed into place)
 * and returns a read-only descriptor that holds its lock: all the daemon
 * keeps of it, so nothing after the privilege drop can write to it.
 */
static int
pidfile_create(const char *path)
{
	char	*tmp, self[64], buf[32];
	int	 wfd, fd = -1, n;

	if (pidfile_check(path) != 0)
		return (-1);
	xasprintf(&tmp, "%s.XXXXXX", path);
	if ((wfd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		log_warn("pid file %s", tmp);
		free(tmp);
		return (-1);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	/* The same file, not the same name: nobody can swap it under us. */
	(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", wfd);
	if (fchmod(wfd, 0644) == -1 || write(wfd, buf, (size_t)n) != n ||
	    (fd = open(self, O_RDONLY | O_CLOEXEC)) == -1 ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1 || rename(tmp, path) == -1) {
		log_warn("pid file %s", path);
		(void)unlink(tmp);
		close(wfd);
		if (fd != -1)
			close(fd);
		free(tmp);
		return (-1);
	}
	close(wfd);
	free(tmp);
	return (fd);
}

/* Removes the pid file at exit, if what is at its path is still ours. */
static void
pidfile_remove(const char *path, int fd)
{
	struct stat	ours, st;

	if (fstat(fd, &ours) == 0 && lstat(path, &st) == 0 &&
	    ours.st_dev == st.st_dev && ours.st_ino == st.st_ino)
		(void)unlink(path);
	close(fd);
}

/*
 * Detaches from the terminal.  The parent stays until the daemon is
 * serving (a byte on the pipe) or has failed (the pipe closes), and exits
 * with the daemon's startup status, so an init script can trust it.
 */
static int
daemonize(void)
{
	int	 fds[2], status, devnull;
	pid_t	 pid;
	char	 c;

	if (pipe2(fds, O_CLOEXEC) == -1)
		fatal("pipe2");
	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		/* Waiting for the daemon: ^C and the like still stop us. */
		signals_release();
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1)
			_exit(EVINETD_EXIT_OK);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(EVINETD_EXIT_RUNTIME);
	}
	close(fds[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(devnull, STDIN_FILENO);
		(void)dup2(devnull, STDOUT_FILENO);
		(void)dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return (fds[1]);
}

/* Serves everything in this one process: -X, for gdb and valgrind. */
static int
run_single(struct config *cf, struct global_stats *gl, int readyfd)
{
	struct event_base	*base;
	struct gen_stats	*gs;
	struct worker_spec	 ws;
	struct worker		*w;
	char			*cause;
	struct service_conf	*sc;
	int			 rv;

	/* Programs are the supervisor's to run, and -X has none. */
	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		if (sc->sc_exec.ex_program != NULL) {
			log_warnx("service \"%s\": exec services need the "
			    "supervisor; run evinetd without -X", sc->sc_name);
			return (EVINETD_EXIT_CONFIG);
		}
	}
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	log_info("evinetd %s starting (single process): libevent %s, %s "
	    "backend", PACKAGE_VERSION, event_get_version(),
	    event_base_get_method(base));
	if ((gs = stats_gen_new(1, cf->c_nservices, &cause)) == NULL) {
		log_warnx("%s, not starting", cause);
		free(cause);
		event_base_free(base);
		return (EVINETD_EXIT_RUNTIME);
	}
	memset(&ws, 0, sizeof(ws));
	ws.ws_single = 1;
	ws.ws_global = gl;
	ws.ws_stats = gs;
	gl->gl_workers = 1;
	if ((w = worker_new(base, cf, &ws, &cause)) == NULL) {
		log_warnx("%s", cause);
		free(cause);
		event_base_free(base);
		stats_gen_free(gs);
		return (EVINETD_EXIT_CONFIG);
	}
	if (priv_drop(cf, &cause) != 0) {
		log_warnx("%s", cause);
		free(cause);
		return (EVINETD_EXIT_RUNTIME);
	}
	log_info("ready");
	notify_state("READY=1", "serving %zu services", cf->c_nservices);
	if (readyfd != -1) {
		(void)write(readyfd, "", 1);
		close(readyfd);
	}
	rv = worker_run(w, -1, 0, 1);
	notify_state("STOPPING=1", "stopping");
	stats_gen_free(gs);
	return (rv);
}

/* Absolute, since the daemon works from / once detached; 0 or -1. */
static int
absolute_path(const char *arg, char **path)
{
	char	cwd[PATH_MAX];

	if (arg[0] == '/') {
		*path = xstrdup(arg);
		return (0);
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		fprintf(stderr, "evinetd: getcwd: %s\n", strerror(errno));
		return (-1);
	}
	xasprintf(path, "%s/%s", cwd, arg);
	return (0);
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	int	ch;

	memset(o, 0, sizeof(*o));
	o->config = EVINETD_CONFIG;
	while ((ch = getopt_long(argc, argv, "f:dnM:p:S:vVXh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->config = optarg;
			break;
		case 'd':
			o->foreground = 1;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'M':
			o->module_dir = optarg;
			break;
		case 'p':
			if (absolute_path(optarg, &o->pidfile) != 0)
				return (-1);
			o->pidfile_forced = 1;
			break;
		case 'S':
			free(o->control);
			o->control = NULL;
			if (strcmp(optarg, "none") == 0)
				o->control = xstrdup("none");
			else if (absolute_path(optarg, &o->control) != 0)
				return (-1);
			break;
		case 'v':
			o->verbose++;
			break;
		case 'X':
			o->single = 1;
			break;
		case 'V':
			printf("evinetd %s (module ABI %d.%d)\n",
			    PACKAGE_VERSION, EVI_ABI_MAJOR, EVI_ABI_MINOR);
			exit(EVINETD_EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EVINETD_EXIT_OK);
		default:
			usage(stderr);
			return (-1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "evinetd: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		return (-1);
	}
	return (0);
}

/* Reads and checks the config as -n does; NULL, errors logged, if bad. */
static struct config *
startup_config(const struct options *o, const char *confpath,
    const char *moddir)
{
	struct config	*cf;

	cf = config_load_checked(confpath, moddir != NULL ? moddir :
	    EVINETD_MODULE_DIR, moddir != NULL);
	if (cf->c_nerrors > 0) {
		log_warnx("%s: %d error%s, not starting", o->config,
		    cf->c_nerrors, cf->c_nerrors == 1 ? "" : "s");
		config_free(cf);
		return (NULL);
	}
	return (cf);
}

/* Runs the supervisor and its workers until they stop: the usual mode. */
static int
run_supervised(struct config *cf, struct global_stats *gl,
    const struct options *o, const char *confpath, const char *moddir,
    int pidfd, int readyfd, int ctlfd)
{
	struct supervisor	 sup;
	int			 rv;

	memset(&sup, 0, sizeof(sup));
	if ((sup.s_base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	log_info("evinetd %s starting: libevent %s, %s backend",
	    PACKAGE_VERSION, event_get_version(),
	    event_base_get_method(sup.s_base));
	sup.s_global = gl;
	sup.s_config_path = confpath;
	sup.s_module_dir = moddir != NULL ? moddir : EVINETD_MODULE_DIR;
	sup.s_module_dir_forced = moddir != NULL;
	sup.s_pidfd = pidfd;
	sup.s_pidfile = o->pidfile;
	sup.s_pidfile_forced = o->pidfile_forced;
	sup.s_readyfd = readyfd;
	sup.s_ctlfd = ctlfd;
	sup.s_ctl_forced = o->control != NULL;
	rv = sup_run(&sup, cf);
	event_base_free(sup.s_base);
	return (rv);
}

/*
 * Takes a checked config into service: the pid file, the sockets, the
 * detach, then the supervisor (or -X's one process) until it stops.  It
 * owns cf from here, whatever happens.
 */
static int
serve(struct options *o, struct config *cf, const char *confpath,
    const char *moddir)
{
	struct global_stats	*gl;
	char			*cause;
	int			 pidfd = -1, readyfd = -1, ctlfd = -1, rv;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	gl = stats_global_new();
	/*
	 * Ours, not the config's: the config goes with its generation.  A
	 * second instance says so before it binds (which would fail with
	 * "Address already in use") and before it detaches (after which it
	 * logs to syslog only).  pidfile_create checks again, for the race.
	 */
	if (o->pidfile == NULL && cf->c_pidfile != NULL)
		o->pidfile = xstrdup(cf->c_pidfile);
	if (o->pidfile != NULL && pidfile_check(o->pidfile) != 0)
		goto fail;
	if (listener_bind_all(cf, NULL) != 0) {
		log_warnx("could not bind every listener, not starting");
		goto fail;
	}
	if (o->control != NULL) {
		free(cf->c_control);
		cf->c_control = strcmp(o->control, "none") == 0 ? NULL :
		    xstrdup(o->control);
		cf->c_control_default = 0;
	}
	/* Only a supervisor has one: with -X there is nobody to answer. */
	if (!o->single && (ctlfd = control_open(cf, &cause)) == -1 &&
	    cause != NULL) {
		log_warnx("control socket: %s; not starting", cause);
		free(cause);
		goto fail;
	}
	if (!o->foreground) {
		readyfd = daemonize();
		log_init(LOG_TO_SYSLOG, o->verbose);
	}
	if (o->pidfile != NULL && (pidfd = pidfile_create(o->pidfile)) == -1) {
		if (ctlfd != -1) {
			close(ctlfd);
			if (cf->c_control != NULL)
				(void)unlink(cf->c_control);
		}
		goto fail;
	}
	if (o->single) {
		rv = run_single(cf, gl, readyfd);
		config_free(cf);
	} else
		rv = run_supervised(cf, gl, o, confpath, moddir, pidfd,
		    readyfd, ctlfd);
	if (pidfd != -1)
		pidfile_remove(o->pidfile, pidfd);
	log_info("exiting");
	return (rv);

fail:
	config_free(cf);
	return (EVINETD_EXIT_RUNTIME);
}

int
main(int argc, char **argv)
{
	struct options	 o;
	struct config	*cf;
	char		*moddir = NULL, *confpath;
	int		 rv;

	signals_hold();
	open_std_fds();
	close_inherited_fds(sockact_take());
	if (parse_args(argc, argv, &o) != 0) {
		free(o.pidfile);
		free(o.control);
		return (EVINETD_EXIT_CONFIG);
	}
	/* A check is a command, not a daemon: ^C stops it. */
	if (o.check)
		signals_release();
	log_init(LOG_TO_STDERR, o.verbose);
	event_set_log_callback(log_libevent);
	sockact_start(o.check);

	if (o.module_dir != NULL &&
	    (moddir = realpath(o.module_dir, NULL)) == NULL) {
		log_warn("module directory %s", o.module_dir);
		free(o.pidfile);
		free(o.control);
		return (EVINETD_EXIT_CONFIG);
	}
	/* Absolute, so a reload finds it after we chdir to /. */
	if ((confpath = realpath(o.config, NULL)) == NULL)
		confpath = xstrdup(o.config);
	if ((cf = startup_config(&o, confpath, moddir)) == NULL)
		rv = EVINETD_EXIT_CONFIG;
	else if (o.check) {
		printf("configuration OK\n");
		config_free(cf);
		rv = EVINETD_EXIT_OK;
	} else
		rv = serve(&o, cf, confpath, moddir);
	free(o.pidfile);
	free(o.control);
	free(confpath);
	free(moddir);
	sockact_close();
	libevent_global_shutdown();
	return (rv);
}
