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
 * Logging in the OpenBSD daemon style: log_warn adds strerror(errno),
 * log_warnx does not, log_debug speaks only when verbose, and fatal exits.
 * In the foreground lines go to stderr (with a timestamp when stderr is a
 * terminal; journald and friends add their own); otherwise to syslog.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evinetd.h"

#define LOG_LINE_MAX	4096	/* PIPE_BUF: atomic on a pipe */

static int	 log_dest = LOG_TO_STDERR;
static int	 log_verbose;
static int	 log_stamp;
static const char *log_name = "evinetd";

/* Chooses where log lines go; verbose enables log_debug. */
void
log_init(int dest, int verbose)
{
	log_dest = dest;
	log_verbose = verbose;
	log_stamp = (dest & LOG_TO_STDERR) && isatty(STDERR_FILENO);
	if (dest & LOG_TO_SYSLOG)
		openlog(log_name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/* The one place a log line is written, so every destination agrees. */
void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	int	 saved_errno = errno;
	char	 line[LOG_LINE_MAX];
	size_t	 off = 0;
	int	 n;
	time_t	 now;
	struct tm tm;
	va_list	 ap2;

	if (pri == LOG_DEBUG && log_verbose < 1)
		return;
	if (log_dest & LOG_TO_STDERR) {
		/*
		 * One write(2) per line: the supervisor and its workers share
		 * stderr, and a line written in pieces could interleave.
		 */
		if (log_stamp) {
			now = time(NULL);
			localtime_r(&now, &tm);
			off = strftime(line, sizeof(line), "%H:%M:%S ", &tm);
		}
		va_copy(ap2, ap);
		n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap2);
		va_end(ap2);
		if (n < 0)
			n = 0;
		off += (size_t)n < sizeof(line) - off - 1 ? (size_t)n :
		    sizeof(line) - off - 2;
		line[off++] = '\n';
		(void)write(STDERR_FILENO, line, off);
	}
	if (log_dest & LOG_TO_SYSLOG)
		vsyslog(pri, fmt, ap);
	errno = saved_errno;
}

static void	log_msg(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	vfatalc(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
log_msg(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

/* Logs with ": strerror(errno)" appended (as data, never as format). */
void
log_warn(const char *emsg, ...)
{
	char	 msg[LOG_LINE_MAX];
	va_list	 ap;
	int	 saved_errno = errno;

	if (emsg == NULL) {
		log_msg(LOG_ERR, "%s", strerror(saved_errno));
		errno = saved_errno;
		return;
	}
	va_start(ap, emsg);
	(void)vsnprintf(msg, sizeof(msg), emsg, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s: %s", msg, strerror(saved_errno));
	errno = saved_errno;
}

void
log_warnx(const char *emsg, ...)
{
	va_list	ap;

	va_start(ap, emsg);
	log_vmsg(LOG_ERR, emsg, ap);
	va_end(ap);
}

void
log_info(const char *emsg, ...)
{
	va_list	ap;

	va_start(ap, emsg);
	log_vmsg(LOG_INFO, emsg, ap);
	va_end(ap);
}

void
log_debug(const char *emsg, ...)
{
	va_list	ap;

	if (log_verbose < 1)
		return;
	va_start(ap, emsg);
	log_vmsg(LOG_DEBUG, emsg, ap);
	va_end(ap);
}

/* Routes libevent's own messages into our log (event_set_log_callback). */
void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

static void
vfatalc(int code, const char *emsg, va_list ap)
{
	static char	 s[BUFSIZ];
	const char	*sep;

	if (emsg != NULL) {
		(void)vsnprintf(s, sizeof(s), emsg, ap);
		sep = ": ";
	} else {
		s[0] = '\0';
		sep = "";
	}
	if (code)
		log_msg(LOG_CRIT, "fatal: %s%s%s", s, sep, strerror(code));
	else
		log_msg(LOG_CRIT, "fatal: %s", s);
}

/* Logs with strerror(errno) and exits: only for the unrecoverable. */
void
fatal(const char *emsg, ...)
{
	va_list	ap;

	va_start(ap, emsg);
	vfatalc(errno, emsg, ap);
	va_end(ap);
	exit(EVINETD_EXIT_RUNTIME);
}

void
fatalx(const char *emsg, ...)
{
	va_list	ap;

	va_start(ap, emsg);
	vfatalc(0, emsg, ap);
	va_end(ap);
	exit(EVINETD_EXIT_RUNTIME);
}
