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
 * evinetdctl: the command line client of evinetd's control socket.  It
 * checks the command locally, sends one request line of protocol version
 * 1 (docs in evinetdctl(8)), reads the one response line and prints its
 * result as text for people and grep, or as JSON for scripts.  It is a
 * small program of its own, with blocking I/O bounded by poll(), and
 * links nothing of the daemon's: the protocol is the only contract.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "evinetdctl.h"

#define CTL_PROTOCOL		1
#define CTL_REQUEST_MAX		4096
#define CTL_DEFAULT_TIMEOUT	30000LL		/* ms; 0 waits for ever */

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1
#define CTL_EXIT_UNREACHABLE	2

struct ctl_cmd {
	const char	*name;
	const char	*args;		/* for the usage line */
	int		 minargs;
	int		 maxargs;
	int		 waits;		/* answers when done: no default -t */
	void		 (*check)(const struct ctl_cmd *, char **);
	void		 (*print)(json_t *);
};

static void	ctl_check_duration(const struct ctl_cmd *, char **);
static void	ctl_check_id(const struct ctl_cmd *, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", "", 0, 0, 0, NULL, ctl_print_status },
	{ "services", "", 0, 0, 0, NULL, ctl_print_services },
	{ "connections", " [SERVICE]", 0, 1, 0, NULL, ctl_print_connections },
	{ "disable", " SERVICE", 1, 1, 0, NULL, ctl_print_state },
	{ "enable", " SERVICE", 1, 1, 0, NULL, ctl_print_state },
	{ "drain", " SERVICE [TIMEOUT]", 1, 2, 1, ctl_check_duration,
	    ctl_print_drain },
	{ "close", " ID", 1, 1, 0, ctl_check_id, ctl_print_close },
	{ "reload", "", 0, 0, 1, NULL, ctl_print_reload },
	{ "config", "", 0, 0, 0, NULL, ctl_print_config },
	{ "stop", "", 0, 0, 0, NULL, ctl_print_stop },
};
#define CTL_NCMDS (sizeof ctl_cmds / sizeof ctl_cmds[0])

static const struct option longopts[] = {
	{ "socket",	required_argument,	NULL, 's' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "timeout",	required_argument,	NULL, 't' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

#define CTL_USAGE "usage: evinetdctl [-hjV] [-s socket] [-t timeout] "

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, CTL_USAGE "command [args]\n"
	    "  -s, --socket PATH      the control socket (default %s)\n"
	    "  -j, --json             print the result as JSON\n"
	    "  -t, --timeout TIME     wait at most TIME for the answer (30s; "
	    "none for\n"
	    "                         drain and reload; 0 for none)\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n"
	    "commands:\n", EVINETD_CONTROL_SOCKET);
	for (i = 0; i < CTL_NCMDS; i++)
		fprintf(f, "  %s%s\n", ctl_cmds[i].name, ctl_cmds[i].args);
}

/*
 * A usage error: says what is wrong and shows the usage line, of cmd
 * when known, then exits 1.
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, CTL_USAGE "%s%s\n", cmd->name, cmd->args);
	else
		fprintf(stderr, CTL_USAGE "command [args]\n"
		    "(evinetdctl -h lists the commands)\n");
	exit(CTL_EXIT_FAILED);
}

/* The daemon cannot be reached or did not answer: exits 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
unreachable(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	exit(CTL_EXIT_UNREACHABLE);
}

static void *
ctl_realloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL)
		err(CTL_EXIT_FAILED, "realloc");
	return (p);
}

/*
 * Reads a duration the way the config does ("500ms", "30s", "2m", "1h",
 * a bare number in seconds), so -t and drain's TIMEOUT take what
 * evinetd.conf(5) takes.  Returns milliseconds, or -1.
 */
static long long
ctl_duration(const char *s)
{
	const char	*p;
	long long	 v = 0, mul;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return (-1);
		v = v * 10 + (*p - '0');
	}
	if (p == s)
		return (-1);
	if (strcmp(p, "ms") == 0)
		mul = 1;
	else if (*p == '\0' || strcmp(p, "s") == 0)
		mul = 1000;
	else if (strcmp(p, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mul = 3600 * 1000;
	else
		return (-1);
	if (v > LLONG_MAX / mul)
		return (-1);
	return (v * mul);
}

/* drain's TIMEOUT, checked here so a typo never reaches the daemon. */
static void
ctl_check_duration(const struct ctl_cmd *cmd, char **args)
{
	if (args[1] != NULL && ctl_duration(args[1]) == -1)
		usage_error(cmd, "invalid timeout \"%s\" "
		    "(expected a number with ms, s, m or h)", args[1]);
}

/* A connection id is "WORKERPID-N", as connections prints it. */
static void
ctl_check_id(const struct ctl_cmd *cmd, char **args)
{
	const char	*p = args[0];
	size_t		 n;

	n = strspn(p, "0123456789");
	if (n == 0 || p[n] != '-' || p[n + 1] == '\0' ||
	    p[n + 1 + strspn(p + n + 1, "0123456789")] != '\0')
		usage_error(cmd, "invalid connection id "
		    "\"%s\" (expected WORKERPID-N, as connections prints it)",
		    p);
}

/* The command table's entry for name, after checking its arguments. */
static const struct ctl_cmd *
ctl_find(const char *name, char **args, int nargs)
{
	const struct ctl_cmd	*cmd = NULL;
	size_t			 i;

	for (i = 0; i < CTL_NCMDS; i++) {
		if (strcmp(ctl_cmds[i].name, name) == 0)
			cmd = &ctl_cmds[i];
	}
	if (cmd == NULL)
		usage_error(NULL, "unknown command \"%s\"", name);
	if (nargs < cmd->minargs)
		usage_error(cmd, "%s: missing argument", cmd->name);
	if (nargs > cmd->maxargs)
		usage_error(cmd, "%s: too many arguments", cmd->name);
	if (cmd->check != NULL)
		cmd->check(cmd, args);
	return (cmd);
}

/* The request line, newline included, or a usage error if too big. */
static char *
ctl_request(const char *command, char **args, int nargs)
{
	json_t	*req, *arr;
	char	*line, *s;
	size_t	 len;
	int	 i;

	if ((arr = json_array()) == NULL)
		errx(CTL_EXIT_FAILED, "out of memory");
	for (i = 0; i < nargs; i++) {
		if (json_array_append_new(arr, json_string(args[i])) != 0)
			usage_error(NULL, "argument %d is not valid UTF-8",
			    i + 1);
	}
	req = json_pack("{s:i, s:s, s:o}", "version", CTL_PROTOCOL,
	    "command", command, "args", arr);
	if (req == NULL ||
	    (s = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL)
		errx(CTL_EXIT_FAILED, "out of memory");
	json_decref(req);
	len = strlen(s);
	if (len + 1 > CTL_REQUEST_MAX)
		usage_error(NULL, "request too long (%zu bytes, at most %d)",
		    len + 1, CTL_REQUEST_MAX);
	line = ctl_realloc(NULL, len + 2);
	memcpy(line, s, len);
	memcpy(line + len, "\n", 2);
	free(s);
	return (line);
}

/* Milliseconds on the monotonic clock, for the answer's deadline. */
static long long
ctl_now(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		err(CTL_EXIT_FAILED, "clock_gettime");
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Connects to the control socket; every failure exits 2 with the likely
 * cause, since "Connection refused" alone does not tell a user what to do.
 */
static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	const char		*hint = "";
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		unreachable("cannot connect to %s: path too long (at most "
		    "%zu bytes)", path, sizeof sun.sun_path - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(CTL_EXIT_UNREACHABLE, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		return (fd);
	switch (errno) {
	case ENOENT:
	case ECONNREFUSED:
		hint = "; is evinetd running?";
		break;
	case EACCES:
	case EPERM:
		hint = "; need root, evinetd's user or a member of "
		    "control_group";
		break;
	case ENOTSOCK:
		hint = "; not a socket";
		break;
	}
	unreachable("cannot connect to %s: %s%s", path, strerror(errno), hint);
}

/*
 * Waits for fd to be ready for events before the deadline (-1: none).
 * Returns 0, or -1 once the deadline has passed.
 */
static int
ctl_wait(int fd, short events, long long deadline)
{
	struct pollfd	pfd;
	long long	left;
	int		n;

	for (;;) {
		left = -1;
		if (deadline != -1) {
			if ((left = deadline - ctl_now()) <= 0)
				return (-1);
			if (left > INT_MAX)
				left = INT_MAX;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return (0);
		if (n == -1 && errno != EINTR)
			err(CTL_EXIT_UNREACHABLE, "poll");
	}
}

/*
 * Sends the request.  A failure is not fatal here: a daemon that refuses
 * us (permission denied) answers and closes before reading, and that
 * answer is what the user needs to see.
 */
static void
ctl_send(int fd, const char *line, long long deadline)
{
	size_t	off = 0, len = strlen(line);
	ssize_t	n;

	while (off < len) {
		if (ctl_wait(fd, POLLOUT, deadline) != 0)
			return;
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/*
 * Reads up to the first newline, however long the answer: the daemon is
 * trusted, and a whole connection list may be big.  Exits 2 on a timeout
 * or on a close before the newline.
 */
static char *
ctl_receive(int fd, long long deadline, const char *timeout)
{
	char	*buf = NULL, *nl;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;

	for (;;) {
		if (cap - len < 4096)
			buf = ctl_realloc(buf, cap = cap * 2 + 8192);
		if (ctl_wait(fd, POLLIN, deadline) != 0)
			unreachable("no answer from evinetd within %s", timeout);
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != ECONNRESET)
			err(CTL_EXIT_UNREACHABLE, "no answer from evinetd");
		if (n <= 0)
			unreachable("no answer from evinetd: it closed the "
			    "connection %s", len == 0 ? "without a word" :
			    "in the middle of the answer");
		buf[len + (size_t)n] = '\0';
		if ((nl = memchr(buf + len, '\n', (size_t)n)) != NULL) {
			*nl = '\0';
			return (buf);
		}
		len += (size_t)n;
	}
}

/*
 * Parses and checks the response's envelope: an object of our version
 * with a boolean "ok", a "result" when ok, an "error" string when not.
 * Anything else is as good as no answer, exit 2.
 */
static json_t *
ctl_parse(const char *line)
{
	json_t		*resp, *v;
	json_error_t	 jerr;

	if ((resp = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		unreachable("no answer from evinetd: garbled response (%s, "
		    "column %d)", jerr.text, jerr.column);
	if (!json_is_object(resp))
		unreachable("no answer from evinetd: the response is not a "
		    "JSON object");
	v = json_object_get(resp, "version");
	if (!json_is_integer(v))
		unreachable("no answer from evinetd: the response has no "
		    "protocol version");
	if (json_integer_value(v) != CTL_PROTOCOL)
		unreachable("evinetd answered in protocol version %" JSON_INTEGER_FORMAT
		    ", this evinetdctl speaks %d: use the evinetdctl installed "
		    "with the running evinetd", json_integer_value(v),
		    CTL_PROTOCOL);
	v = json_object_get(resp, "ok");
	if (!json_is_boolean(v) ||
	    (json_is_true(v) && json_object_get(resp, "result") == NULL) ||
	    (json_is_false(v) &&
	    !json_is_string(json_object_get(resp, "error"))))
		unreachable("no answer from evinetd: the response has no "
		    "\"ok\" with a result or an error");
	return (resp);
}

/* The request, sent and answered; the parsed response. */
static json_t *
ctl_call(const char *path, const char *line, long long timeout,
    const char *timeout_str)
{
	json_t		*resp;
	long long	 deadline = -1;
	char		*answer;
	int		 fd;

	if (timeout > 0)
		deadline = ctl_now() + timeout;
	fd = ctl_connect(path);
	ctl_send(fd, line, deadline);
	answer = ctl_receive(fd, deadline, timeout_str);
	close(fd);
	resp = ctl_parse(answer);
	free(answer);
	return (resp);
}

/* Prints a failure: the error, then each of "errors" (reload's). */
static void
ctl_print_failure(json_t *resp)
{
	json_t	*errors, *e;
	size_t	 i;

	warnx("%s", json_string_value(json_object_get(resp, "error")));
	errors = json_object_get(resp, "errors");
	json_array_foreach(errors, i, e) {
		if (json_is_string(e))
			fprintf(stderr, "%s\n", json_string_value(e));
	}
}

/* Dumps j pretty-printed on stdout, for --json. */
static void
ctl_print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0)
		errx(CTL_EXIT_FAILED, "cannot write the JSON");
	putchar('\n');
}

int
main(int argc, char **argv)
{
	const struct ctl_cmd	*cmd;
	const char		*path = EVINETD_CONTROL_SOCKET;
	const char		*timeout_str = NULL;
	json_t			*resp;
	long long		 timeout = CTL_DEFAULT_TIMEOUT;
	char			*line;
	int			 ch, json = 0, ok;

	while ((ch = getopt_long(argc, argv, "+hjs:t:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return (CTL_EXIT_OK);
		case 'j':
			json = 1;
			break;
		case 's':
			path = optarg;
			break;
		case 't':
			if ((timeout = ctl_duration(optarg)) == -1)
				usage_error(NULL, "invalid timeout \"%s\" "
				    "(expected a number with ms, s, m or h)",
				    optarg);
			timeout_str = optarg;
			break;
		case 'V':
			printf("evinetdctl %s (control protocol %d)\n",
			    PACKAGE_VERSION, CTL_PROTOCOL);
			return (CTL_EXIT_OK);
		default:
			fprintf(stderr, CTL_USAGE "command [args]\n");
			return (CTL_EXIT_FAILED);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage_error(NULL, "no command");
	cmd = ctl_find(argv[0], argv + 1, argc - 1);
	if (timeout_str == NULL) {
		timeout = cmd->waits ? 0 : CTL_DEFAULT_TIMEOUT;
		timeout_str = "30s";
	}
	line = ctl_request(cmd->name, argv + 1, argc - 1);
	resp = ctl_call(path, line, timeout, timeout_str);
	free(line);
	ok = json_is_true(json_object_get(resp, "ok"));
	if (json)
		ctl_print_json(ok ? json_object_get(resp, "result") : resp);
	else if (ok)
		cmd->print(json_object_get(resp, "result"));
	else
		ctl_print_failure(resp);
	json_decref(resp);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(CTL_EXIT_FAILED, "stdout");
	return (ok ? CTL_EXIT_OK : CTL_EXIT_FAILED);
}
