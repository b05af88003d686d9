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

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

struct options {
	const char	*config;
	const char	*module_dir;
	const char	*pidfile;
	int		 foreground;
	int		 check;
	int		 verbose;
};

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL, 'f' },
	{ "foreground",	no_argument,		NULL, 'd' },
	{ "check",	no_argument,		NULL, 'n' },
	{ "module-dir",	required_argument,	NULL, 'M' },
	{ "pidfile",	required_argument,	NULL, 'p' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evinetd [-dnvVh] [-f file] [-M dir] [-p pidfile]\n"
	    "  -f, --config FILE      config file (default %s)\n"
	    "  -d, --foreground       stay in the foreground, log to stderr\n"
	    "  -n, --check            check the config and modules, then exit\n"
	    "  -M, --module-dir DIR   load modules from DIR (overrides "
	    "module_dir)\n"
	    "  -p, --pidfile FILE     write the daemon's pid to FILE\n"
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

/* Writes and locks the pid file, refusing if another instance holds it. */
static int
pidfile_open(const char *path)
{
	char	buf[32];
	int	fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_warn("pid file %s", path);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_warnx("pid file %s is locked: evinetd is already running "
		    "(pid %s)", path, buf[0] ? buf : "unknown");
		close(fd);
		return (-1);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, (size_t)n) != n) {
		log_warn("pid file %s", path);
		close(fd);
		return (-1);
	}
	return (fd);
}

static void
signal_stop(evutil_socket_t sig, short events, void *arg)
{
	struct worker	*w = arg;

	(void)events;
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" :
	    "SIGTERM");
	worker_stop(w, 0);
}

static void
signal_usr1(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	stats_dump(arg);
}

static void
signal_hup(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	log_warnx("received SIGHUP: reloading is not supported by this "
	    "version; restart evinetd to apply a changed config");
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	int	ch;

	memset(o, 0, sizeof(*o));
	o->config = EVINETD_CONFIG;
	while ((ch = getopt_long(argc, argv, "f:dnM:p:vVh", longopts,
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
			o->pidfile = optarg;
			break;
		case 'v':
			o->verbose++;
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
	char			*moddir = NULL;
	struct event_base	*base;
	struct worker		*w;
	struct event		*ev_term, *ev_int, *ev_hup, *ev_usr1;
	char			*cause;
	int			 pidfd = -1;

	if (parse_args(argc, argv, &o) != 0)
		return (EVINETD_EXIT_CONFIG);
	log_init(LOG_TO_STDERR, o.verbose);
	event_set_log_callback(log_libevent);

	if (o.module_dir != NULL &&
	    (moddir = realpath(o.module_dir, NULL)) == NULL) {
		log_warn("module directory %s", o.module_dir);
		return (EVINETD_EXIT_CONFIG);
	}
	cf = config_load(o.config, moddir != NULL ? moddir :
	    EVINETD_MODULE_DIR, moddir != NULL);
	free(moddir);
	if (cf->c_nerrors > 0) {
		config_log_errors(cf);
		log_warnx("%s: %d error%s, not starting", o.config,
		    cf->c_nerrors, cf->c_nerrors == 1 ? "" : "s");
		config_free(cf);
		return (EVINETD_EXIT_CONFIG);
	}
	if (o.check) {
		printf("configuration OK\n");
		config_free(cf);
		return (EVINETD_EXIT_OK);
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	raise_nofile();
	if (listener_bind_all(cf) != 0) {
		log_warnx("could not bind every listener, not starting");
		config_free(cf);
		return (EVINETD_EXIT_RUNTIME);
	}
	if (!o.foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(LOG_TO_SYSLOG, o.verbose);
	}
	if (o.pidfile != NULL && (pidfd = pidfile_open(o.pidfile)) == -1) {
		config_free(cf);
		return (EVINETD_EXIT_RUNTIME);
	}

	if ((base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	log_info("evinetd %s starting: libevent %s, %s backend",
	    PACKAGE_VERSION, event_get_version(), event_base_get_method(base));
	if ((w = worker_new(base, cf, &cause)) == NULL) {
		log_warnx("%s", cause);
		free(cause);
		event_base_free(base);
		config_free(cf);
		return (EVINETD_EXIT_CONFIG);
	}
	ev_term = evsignal_new(base, SIGTERM, signal_stop, w);
	ev_int = evsignal_new(base, SIGINT, signal_stop, w);
	ev_hup = evsignal_new(base, SIGHUP, signal_hup, w);
	ev_usr1 = evsignal_new(base, SIGUSR1, signal_usr1, w);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL ||
	    ev_usr1 == NULL || evsignal_add(ev_term, NULL) != 0 ||
	    evsignal_add(ev_int, NULL) != 0 || evsignal_add(ev_hup, NULL) != 0 ||
	    evsignal_add(ev_usr1, NULL) != 0)
		fatalx("cannot install signal handlers");
	log_info("ready");

	if (event_base_dispatch(base) == -1)
		log_warnx("event loop failed");

	worker_free(w);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_usr1);
	event_base_free(base);
	config_free(cf);
	if (pidfd != -1) {
		(void)unlink(o.pidfile);
		close(pidfd);
	}
	log_info("exiting");
	libevent_global_shutdown();
	return (EVINETD_EXIT_OK);
}
