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
 * listener, optionally detaches, and runs a worker on a libevent loop
 * until SIGTERM or SIGINT.  Signals are libevent events, so stopping runs
 * in loop context like everything else.
 */

#include "config.h"

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
	    "usage: evinetd [-dnvVXh] [-f file] [-M dir] [-p pidfile]\n"
	    "  -f, --config FILE      config file (default %s)\n"
	    "  -d, --foreground       stay in the foreground, log to stderr\n"
	    "  -n, --check            check the config and modules, then exit\n"
	    "  -M, --module-dir DIR   load modules from DIR (overrides "
	    "module_dir)\n"
	    "  -p, --pidfile FILE     write the daemon's pid to FILE\n"
	    "  -X, --single-process   serve in one process, no workers (for "
	    "debugging)\n"
	    "  -v, --verbose          log more (repeat for more)\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n",
	    EVINETD_CONFIG);
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
 * Writes the pid file atomically (a locked temporary file renamed into
 * place) and keeps it locked; refuses if a running evinetd holds the lock
 * on the current one.
 */
static int
pidfile_locked(const char *path)
{
	char	buf[32];
	int	fd, n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_warnx("pid file %s is locked: evinetd is already running "
		    "(pid %s)", path, buf[0] ? buf : "unknown");
		close(fd);
		return (1);
	}
	close(fd);
	return (0);
}

static int
pidfile_open(const char *path)
{
	char	*tmp, buf[32];
	int	 fd, n;

	if (pidfile_locked(path))
		return (-1);
	xasprintf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		log_warn("pid file %s", tmp);
		free(tmp);
		return (-1);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fchmod(fd, 0644) == -1 ||
	    write(fd, buf, (size_t)n) != n || rename(tmp, path) == -1) {
		log_warn("pid file %s", path);
		(void)unlink(tmp);
		close(fd);
		free(tmp);
		return (-1);
	}
	free(tmp);
	return (fd);
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
	int			 rv;

	if ((base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	log_info("evinetd %s starting (single process): libevent %s, %s "
	    "backend", PACKAGE_VERSION, event_get_version(),
	    event_base_get_method(base));
	gs = stats_gen_new(1, cf->c_nservices);
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

static int
parse_args(int argc, char **argv, struct options *o)
{
	char	cwd[PATH_MAX];
	int	ch;

	memset(o, 0, sizeof(*o));
	o->config = EVINETD_CONFIG;
	while ((ch = getopt_long(argc, argv, "f:dnM:p:vVXh", longopts,
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
			/* Absolute: the daemon works from / once detached. */
			if (optarg[0] == '/')
				o->pidfile = xstrdup(optarg);
			else {
				if (getcwd(cwd, sizeof(cwd)) == NULL) {
					fprintf(stderr, "evinetd: getcwd: %s\n",
					    strerror(errno));
					return (-1);
				}
				xasprintf(&o->pidfile, "%s/%s", cwd, optarg);
			}
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

int
main(int argc, char **argv)
{
	struct options		 o;
	struct config		*cf;
	struct supervisor	 sup;
	struct global_stats	*gl;
	char			*moddir = NULL, *confpath, *cause;
	const char		*pidfile;
	int			 pidfd = -1, readyfd = -1, rv;

	if (parse_args(argc, argv, &o) != 0) {
		free(o.pidfile);
		return (EVINETD_EXIT_CONFIG);
	}
	log_init(LOG_TO_STDERR, o.verbose);
	event_set_log_callback(log_libevent);

	if (o.module_dir != NULL &&
	    (moddir = realpath(o.module_dir, NULL)) == NULL) {
		log_warn("module directory %s", o.module_dir);
		free(o.pidfile);
		return (EVINETD_EXIT_CONFIG);
	}
	/* Absolute, so a reload finds it after we chdir to /. */
	if ((confpath = realpath(o.config, NULL)) == NULL)
		confpath = xstrdup(o.config);
	cf = config_load(confpath, moddir != NULL ? moddir :
	    EVINETD_MODULE_DIR, moddir != NULL);
	if (cf->c_nerrors == 0 && priv_startup_check(cf, &cause) != 0) {
		config_error(cf, cf->c_path, 0, "%s", cause);
		free(cause);
	}
	if (cf->c_nerrors > 0) {
		config_log_errors(cf);
		log_warnx("%s: %d error%s, not starting", o.config,
		    cf->c_nerrors, cf->c_nerrors == 1 ? "" : "s");
		rv = EVINETD_EXIT_CONFIG;
		goto out;
	}
	if (o.check) {
		printf("configuration OK\n");
		rv = EVINETD_EXIT_OK;
		goto out;
	}

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	gl = stats_global_new();
	/*
	 * A second instance says so before it binds (which would fail with
	 * "Address already in use") and before it detaches (after which it
	 * logs to syslog only).  pidfile_open checks again, for the race.
	 */
	pidfile = o.pidfile != NULL ? o.pidfile : cf->c_pidfile;
	if (pidfile != NULL && pidfile_locked(pidfile)) {
		rv = EVINETD_EXIT_RUNTIME;
		goto out;
	}
	if (listener_bind_all(cf, NULL) != 0) {
		log_warnx("could not bind every listener, not starting");
		rv = EVINETD_EXIT_RUNTIME;
		goto out;
	}
	if (!o.foreground) {
		readyfd = daemonize();
		log_init(LOG_TO_SYSLOG, o.verbose);
	}
	if (pidfile != NULL && (pidfd = pidfile_open(pidfile)) == -1) {
		rv = EVINETD_EXIT_RUNTIME;
		goto out;
	}

	if (o.single) {
		rv = run_single(cf, gl, readyfd);
		config_free(cf);
	} else {
		memset(&sup, 0, sizeof(sup));
		if ((sup.s_base = event_base_new()) == NULL)
			fatalx("cannot create an event base");
		log_info("evinetd %s starting: libevent %s, %s backend",
		    PACKAGE_VERSION, event_get_version(),
		    event_base_get_method(sup.s_base));
		sup.s_global = gl;
		sup.s_config_path = confpath;
		sup.s_module_dir = moddir != NULL ? moddir :
		    EVINETD_MODULE_DIR;
		sup.s_module_dir_forced = moddir != NULL;
		sup.s_pidfd = pidfd;
		sup.s_readyfd = readyfd;
		rv = sup_run(&sup, cf);
		event_base_free(sup.s_base);
	}
	if (pidfd != -1) {
		(void)unlink(pidfile);
		close(pidfd);
	}
	log_info("exiting");
	free(o.pidfile);
	free(confpath);
	free(moddir);
	libevent_global_shutdown();
	return (rv);

out:
	/* Not started: what main made so far, including o.pidfile. */
	config_free(cf);
	free(o.pidfile);
	free(confpath);
	free(moddir);
	return (rv);
}
