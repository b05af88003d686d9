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
 * evinetd-convert: turns inetd.conf and xinetd.conf files into one
 * evinetd.conf, so that a site can move its services as they are.  The
 * readers (inetd.c, xinetd.c) fill in a list of services in evinetd's
 * terms, emit.c writes them.  Whatever does not carry over is said on
 * stderr as FILE:LINE and kept as a comment in the output; the exit status
 * tells a script whether the result is complete (0), usable (3) or
 * missing because an input could not be read (1).  It uses libc only.
 */

#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"

const char	*cv_rlimit_names[CV_NRLIMITS] = {
	"rlimit_as", "rlimit_cpu", "rlimit_nofile", "rlimit_nproc",
	"rlimit_core", "rlimit_data", "rlimit_stack"
};

/* The bundled modules that serve inetd's and xinetd's internal services. */
static const char	*cv_internals[] = {
	"echo", "discard", "chargen", "daytime", "time"
};

static int		 cv_status = CV_EXIT_OK;
static struct cv_words	 cv_said;	/* what stderr has had, said once */

static const struct option longopts[] = {
	{ "format",	required_argument,	NULL, 'f' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "inetd",	no_argument,		NULL, 'I' },
	{ "output",	required_argument,	NULL, 'o' },
	{ "xinetd",	no_argument,		NULL, 'X' },
	{ NULL,		0,			NULL, 0 }
};

static __attribute__((noreturn)) void
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: evinetd-convert "
	    "[-o file] [-f inetd | xinetd] file ...\n");
	exit(status);
}

/* An input that cannot be read or parsed: the result would be wrong. */
void
cv_error(const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: ", file, line);
	else
		fprintf(stderr, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cv_status = CV_EXIT_ERROR;
}

/* Says on stderr and in the service's block what did not carry over. */
static void
cv_vlost(struct csvc *s, const char *file, int line, const char *fmt,
    va_list ap)
{
	char	*msg, *said;
	size_t	 i;

	if (vasprintf(&msg, fmt, ap) == -1)
		err(CV_EXIT_ERROR, "vasprintf");
	said = cv_xasprintf("%s:%d: %s", file, line, msg);
	free(msg);
	cv_note(s, "%s", said);
	for (i = 0; i < cv_said.n && strcmp(cv_said.w[i], said) != 0; i++)
		;
	if (!s->quiet && i == cv_said.n) {
		fprintf(stderr, "%s\n", said);
		cv_words_add(&cv_said, said);
	}
	free(said);
	if (s->quiet)
		return;
	if (cv_status == CV_EXIT_OK)
		cv_status = CV_EXIT_LOST;
}

/* A setting that was not carried over. */
void
cv_lost(struct csvc *s, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cv_vlost(s, file, line, fmt, ap);
	va_end(ap);
}

/*
 * A service that cannot be run as it was meant: it is written as a
 * comment, so that nothing listens with less protection than before.
 */
void
cv_off(struct csvc *s, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cv_vlost(s, file, line, fmt, ap);
	va_end(ap);
	if (s->off == NULL)
		s->off = cv_xstrdup("not carried over, see below");
}

/* A remark written in the service's block, for a near-equivalent. */
void
cv_note(struct csvc *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		err(CV_EXIT_ERROR, "vasprintf");
	va_end(ap);
	cv_words_add(&s->notes, msg);
	free(msg);
}

void *
cv_xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		err(CV_EXIT_ERROR, "calloc");
	return (p);
}

char *
cv_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		err(CV_EXIT_ERROR, "strdup");
	return (p);
}

char *
cv_xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) == -1)
		err(CV_EXIT_ERROR, "vasprintf");
	va_end(ap);
	return (p);
}

void
cv_words_add(struct cv_words *wl, const char *word)
{
	char	**w;

	w = reallocarray(wl->w, wl->n + 2, sizeof(*w));
	if (w == NULL)
		err(CV_EXIT_ERROR, "reallocarray");
	wl->w = w;
	wl->w[wl->n++] = cv_xstrdup(word);
	wl->w[wl->n] = NULL;
}

void
cv_words_free(struct cv_words *wl)
{
	size_t	 i;

	for (i = 0; i < wl->n; i++)
		free(wl->w[i]);
	free(wl->w);
	wl->w = NULL;
	wl->n = 0;
}

/* Adds the blank-separated words of S, as inetd and xinetd split them. */
int
cv_words_split(struct cv_words *wl, const char *s)
{
	char	*copy, *p, *word;
	int	 n = 0;

	copy = p = cv_xstrdup(s);
	while ((word = strsep(&p, " \t\r\n")) != NULL) {
		if (*word == '\0')
			continue;
		cv_words_add(wl, word);
		n++;
	}
	free(copy);
	return (n);
}

/* Whether a name may be an evinetd service name. */
static int
cv_name_ok(const char *name)
{
	size_t	 len = strlen(name);

	return (len > 0 && len <= 64 &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") == len);
}

/* Whether LIST already holds a service called NAME. */
static int
cv_name_taken(struct csvc_list *list, const char *name)
{
	struct csvc	*s;

	TAILQ_FOREACH(s, list, entry) {
		if (strcmp(s->name, name) == 0)
			return (1);
	}
	return (0);
}

/*
 * A new service at the end of LIST.  Its name is unique, as evinetd needs:
 * inetd and xinetd tell a service's TCP and UDP entries apart by protocol
 * or id, so the UDP one gets "-udp", and any other clash a number.
 */
struct csvc *
cv_svc_new(struct csvc_list *list, const char *name, const char *file,
    int line, int udp)
{
	struct csvc	*s;
	char		*base, *try;
	size_t		 i;
	int		 n;

	s = cv_xcalloc(1, sizeof(*s));
	s->file = cv_xstrdup(file);
	s->line = line;
	s->udp = udp;
	base = cv_xstrdup(name);
	for (i = 0; base[i] != '\0'; i++) {
		if (strchr("-_.", base[i]) == NULL &&
		    !((base[i] >= 'a' && base[i] <= 'z') ||
		    (base[i] >= 'A' && base[i] <= 'Z') ||
		    (base[i] >= '0' && base[i] <= '9')))
			base[i] = '_';
	}
	if (strlen(base) > 56)
		base[56] = '\0';
	if (base[0] == '\0') {
		free(base);
		base = cv_xstrdup("service");
	}
	try = cv_xstrdup(base);
	if (cv_name_taken(list, try) && udp) {
		free(try);
		try = cv_xasprintf("%s-udp", base);
	}
	for (n = 2; cv_name_taken(list, try) || !cv_name_ok(try); n++) {
		free(try);
		try = cv_xasprintf("%s-%d", base, n);
	}
	free(base);
	s->name = try;
	TAILQ_INSERT_TAIL(list, s, entry);
	return (s);
}

/* Maps an internal service to a bundled module; -1 if there is none. */
int
cv_internal(struct csvc *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(cv_internals) / sizeof(cv_internals[0]); i++) {
		if (strcmp(name, cv_internals[i]) == 0) {
			s->module = cv_xstrdup(cv_internals[i]);
			return (0);
		}
	}
	return (-1);
}

/* A decimal number from MIN to MAX, all of S; -1 if it is not one. */
int
cv_number(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 n;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || n < min || n > max)
		return (-1);
	*out = n;
	return (0);
}

/*
 * Sets the port from a number, or from NAME in /etc/services as inetd and
 * xinetd look it up.
 */
int
cv_port(struct csvc *s, const char *name, const char *port,
    const char *file, int line)
{
	struct servent	*se;
	long long	 n;

	if (port != NULL) {
		if (cv_number(port, 0, 65535, &n) == -1) {
			cv_off(s, file, line, "port \"%s\" is not a number "
			    "from 0 to 65535", port);
			return (-1);
		}
		s->port = cv_xasprintf("%lld", n);
		return (0);
	}
	if (cv_number(name, 1, 65535, &n) == 0) {
		s->port = cv_xasprintf("%lld", n);
		return (0);
	}
	se = getservbyname(name, s->udp ? "udp" : "tcp");
	if (se == NULL) {
		cv_off(s, file, line, "service \"%s\" is not in /etc/services "
		    "for %s and has no port", name, s->udp ? "udp" : "tcp");
		return (-1);
	}
	s->port = cv_xasprintf("%d", ntohs((unsigned short)se->s_port));
	return (0);
}

/* 4 or 6 for a numeric IPv4 or IPv6 address, 0 for anything else. */
int
cv_numeric_addr(const char *addr)
{
	struct in6_addr	 in6;
	struct in_addr	 in;

	if (inet_pton(AF_INET, addr, &in) == 1)
		return (4);
	if (inet_pton(AF_INET6, addr, &in6) == 1)
		return (6);
	return (0);
}

/* Decides inetd or xinetd by the file's content when -f did not say. */
static int
cv_read(struct csvc_list *list, const char *path, const char *format)
{
	int	 x;

	if (format != NULL)
		x = strcmp(format, "xinetd") == 0;
	else if ((x = xinetd_looks_like(path)) == -1) {
		cv_error(path, 0, "%s", strerror(errno));
		return (-1);
	}
	return (x ? xinetd_read(list, path) : inetd_read(list, path));
}

/* Writes the output to PATH through a temporary file and a rename. */
static int
cv_write_file(const char *path, struct csvc_list *list, int argc,
    char **argv)
{
	char	*tmp, *dir, *dcopy;
	FILE	*f;
	int	 fd, bad, saved = 0;

	dcopy = cv_xstrdup(path);
	dir = dirname(dcopy);
	tmp = cv_xasprintf("%s/.evinetd-convert.XXXXXX", dir);
	free(dcopy);
	if ((fd = mkstemp(tmp)) == -1) {
		cv_error(tmp, 0, "%s", strerror(errno));
		free(tmp);
		return (-1);
	}
	if (fchmod(fd, 0644) == -1 || (f = fdopen(fd, "w")) == NULL) {
		cv_error(tmp, 0, "%s", strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return (-1);
	}
	/* The file is closed whatever failed first: no descriptor leaks. */
	bad = emit_all(f, list, argc, argv) == -1 || fflush(f) == EOF ||
	    fsync(fileno(f)) == -1;
	if (bad)
		saved = errno;
	if (fclose(f) == EOF && !bad) {
		bad = 1;
		saved = errno;
	}
	if (!bad && rename(tmp, path) == -1) {
		bad = 1;
		saved = errno;
	}
	if (bad) {
		cv_error(path, 0, "%s", strerror(saved));
		unlink(tmp);
		free(tmp);
		return (-1);
	}
	free(tmp);
	return (0);
}

static void
cv_free_all(struct csvc_list *list)
{
	struct csvc	*s;
	size_t		 i;

	while ((s = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, s, entry);
		free(s->name);
		free(s->file);
		free(s->comment);
		free(s->off);
		free(s->port);
		free(s->module);
		free(s->to);
		free(s->program);
		free(s->user);
		free(s->group);
		free(s->instances);
		free(s->nice);
		free(s->umask);
		free(s->max_connections);
		free(s->per_source);
		free(s->rate);
		for (i = 0; i < CV_NRLIMITS; i++)
			free(s->rlimits[i]);
		cv_words_free(&s->binds);
		cv_words_free(&s->args);
		cv_words_free(&s->groups);
		cv_words_free(&s->env);
		cv_words_free(&s->passenv);
		cv_words_free(&s->only_from);
		cv_words_free(&s->no_access);
		cv_words_free(&s->notes);
		free(s);
	}
}

int
main(int argc, char **argv)
{
	struct csvc_list	 list = TAILQ_HEAD_INITIALIZER(list);
	const char		*output = NULL, *format = NULL;
	int			 ch, i;

	while ((ch = getopt_long(argc, argv, "f:ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "inetd") != 0 &&
			    strcmp(optarg, "xinetd") != 0) {
				warnx("-f %s: expected inetd or xinetd",
				    optarg);
				usage(CV_EXIT_ERROR);
			}
			format = optarg;
			break;
		case 'I':
			format = "inetd";
			break;
		case 'X':
			format = "xinetd";
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(CV_EXIT_OK);
		default:
			usage(CV_EXIT_ERROR);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(CV_EXIT_ERROR);

	for (i = 0; i < argc; i++)
		cv_read(&list, argv[i], format);
	if (cv_status != CV_EXIT_ERROR) {
		if (output != NULL)
			cv_write_file(output, &list, argc, argv);
		else if (emit_all(stdout, &list, argc, argv) == -1 ||
		    fflush(stdout) == EOF)
			cv_error("stdout", 0, "%s", strerror(errno));
	}
	cv_free_all(&list);
	cv_words_free(&cv_said);
	return (cv_status);
}
