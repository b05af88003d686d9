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
 * The inetd.conf reader, for the syntax of inetd(8) as OpenBSD and
 * Debian's openbsd-inetd read it: one service per line, "#" comments at
 * the start of a line, "addr,addr:service" prefixes and "addr:" lines
 * that set the address for the lines after them, tcp4/tcp6/tcp46,
 * wait.max and nowait.max, user.group and user:group, and the program's
 * arguments starting with argv[0].
 */

#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

#define INETD_MAXFIELDS	4096

struct inetd_line {
	const char	*file;
	int		 line;
	char		*f[INETD_MAXFIELDS];
	int		 nf;
};

/* Splits "[addr]:svc", "addr,addr:svc" or "svc"; HOST is NULL for none. */
static char *
inetd_split_host(char *field, char **host)
{
	char	*colon;

	*host = NULL;
	if (field[0] == '[' && (colon = strstr(field, "]:")) != NULL) {
		*colon = '\0';
		*host = field + 1;
		return (colon + 2);
	}
	if ((colon = strrchr(field, ':')) == NULL)
		return (field);
	*colon = '\0';
	*host = field;
	return (colon + 1);
}

/* Sets the listen addresses from a host specifier: "*" or numeric ones. */
static void
inetd_hosts(struct csvc *s, const char *hosts, const char *file, int line)
{
	char	*copy, *p, *h;
	size_t	 len;

	copy = p = cv_xstrdup(hosts);
	while ((h = strsep(&p, ",")) != NULL) {
		len = strlen(h);
		if (len > 1 && h[0] == '[' && h[len - 1] == ']') {
			h[len - 1] = '\0';
			h++;
		}
		if (strcmp(h, "*") == 0) {
			cv_words_free(&s->binds);
			break;
		}
		if (cv_numeric_addr(h) == 0) {
			cv_off(s, file, line, "listen address \"%s\" is a host "
			    "name, and evinetd listens on numeric addresses "
			    "only", h);
			break;
		}
		cv_words_add(&s->binds, h);
	}
	free(copy);
}

/* The protocol field: "tcp6,rcvbuf=64k" and the like. */
static int
inetd_proto(struct csvc *s, const char *sock, char *proto, const char *file,
    int line)
{
	char	*opt;

	if ((opt = strchr(proto, ',')) != NULL) {
		*opt++ = '\0';
		cv_lost(s, file, line, "inetd socket buffer sizes \"%s\" have "
		    "no equivalent; not carried over", opt);
	}
	if (strncmp(proto, "rpc/", 4) == 0) {
		cv_off(s, file, line, "RPC services (%s) are not supported",
		    proto);
		return (-1);
	}
	s->udp = strncmp(proto, "udp", 3) == 0;
	if (!s->udp && strncmp(proto, "tcp", 3) != 0) {
		cv_off(s, file, line, "protocol \"%s\" is not supported", proto);
		return (-1);
	}
	if (strcmp(proto + 3, "4") == 0)
		s->family = CV_FAMILY_INET;
	else if (strcmp(proto + 3, "6") == 0)
		s->family = CV_FAMILY_INET6;
	else if (strcmp(proto + 3, "") != 0 && strcmp(proto + 3, "46") != 0) {
		cv_off(s, file, line, "protocol \"%s\" is not supported", proto);
		return (-1);
	}
	if (strcmp(sock, s->udp ? "dgram" : "stream") != 0) {
		cv_off(s, file, line, "socket type \"%s\" with protocol \"%s\" "
		    "is not supported", sock, proto);
		return (-1);
	}
	return (0);
}

/* The wait field: wait or nowait, with ".max" as connections a minute. */
static int
inetd_wait(struct csvc *s, char *field, const char *file, int line)
{
	char		*dot;
	long long	 max;

	if ((dot = strchr(field, '.')) != NULL)
		*dot++ = '\0';
	if (strcmp(field, "wait") == 0)
		s->wait = 1;
	else if (strcmp(field, "nowait") != 0) {
		cv_error(file, line, "\"%s\": expected wait or nowait", field);
		return (-1);
	}
	if (dot == NULL)
		return (0);
	if (cv_number(dot, 1, 1000000000, &max) == -1) {
		cv_error(file, line, "\"%s\": the most invocations a minute "
		    "must be a number", dot);
		return (-1);
	}
	s->rate = cv_xasprintf("%lld/m", max);
	cv_note(s, "rate: inetd's .%lld refuses the service for ten minutes "
	    "once exceeded; evinetd's token bucket refuses only the excess "
	    "and refills by itself", max);
	return (0);
}

/* The program and its arguments, or an internal service's module. */
static void
inetd_program(struct csvc *s, const char *svc, struct inetd_line *il)
{
	char	*copy;
	int	 i;

	if (strcmp(il->f[5], "internal") == 0) {
		if (cv_internal(s, svc) == -1)
			cv_off(s, il->file, il->line, "internal service "
			    "\"%s\" has no equivalent module", svc);
		s->wait = 0;
		return;
	}
	s->module = cv_xstrdup("exec");
	s->program = cv_xstrdup(il->f[5]);
	for (i = 6; i < il->nf; i++)
		cv_words_add(&s->args, il->f[i]);
	if (s->args.n == 0) {
		copy = cv_xstrdup(il->f[5]);
		cv_words_add(&s->args, basename(copy));
		free(copy);
	}
	if (s->udp && !s->wait) {
		cv_lost(s, il->file, il->line, "a udp \"nowait\" program "
		    "connects its own socket; evinetd runs udp programs with "
		    "\"wait = yes\" (the program gets the service's socket)");
		s->wait = 1;
	}
}

/* Converts one service line; HOSTS is the address an "addr:" line set. */
static void
inetd_service(struct csvc_list *list, struct inetd_line *il,
    const char *hosts)
{
	struct csvc	*s;
	char		*host, *svc, *grp;
	int		 udp;

	svc = inetd_split_host(il->f[0], &host);
	udp = strncmp(il->f[2], "udp", 3) == 0;
	s = cv_svc_new(list, svc, il->file, il->line, udp);
	if (inetd_wait(s, il->f[3], il->file, il->line) == -1)
		return;
	if (strncmp(svc, "tcpmux/", 7) == 0) {
		cv_off(s, il->file, il->line, "TCPMUX services are not "
		    "supported");
		return;
	}
	if (inetd_proto(s, il->f[1], il->f[2], il->file, il->line) == -1)
		return;
	inetd_hosts(s, host != NULL ? host : hosts, il->file, il->line);
	if (cv_port(s, svc, NULL, il->file, il->line) == -1)
		return;
	inetd_program(s, svc, il);
	if (strcmp(s->module != NULL ? s->module : "", "exec") != 0)
		return;
	if ((grp = strchr(il->f[4], ':')) == NULL)
		grp = strchr(il->f[4], '.');
	if (grp != NULL)
		*grp++ = '\0';
	s->user = cv_xstrdup(il->f[4]);
	if (grp != NULL && *grp != '\0')
		s->group = cv_xstrdup(grp);
}

/* Splits a line into fields at blanks; -1 if it has too many. */
static int
inetd_fields(struct inetd_line *il, char *buf)
{
	char	*p = buf, *word;

	il->nf = 0;
	while ((word = strsep(&p, " \t\r\n")) != NULL) {
		if (*word == '\0')
			continue;
		if (il->nf == INETD_MAXFIELDS) {
			cv_error(il->file, il->line, "more than %d fields",
			    INETD_MAXFIELDS);
			return (-1);
		}
		il->f[il->nf++] = word;
	}
	return (0);
}

/* Reads one inetd.conf; -1 if it could not be read or a line is wrong. */
int
inetd_read(struct csvc_list *list, const char *path)
{
	struct inetd_line	*il;
	FILE			*f;
	char			*buf = NULL, *hosts;
	size_t			 size = 0;
	size_t			 len;
	int			 rv = 0;

	if ((f = fopen(path, "r")) == NULL) {
		cv_error(path, 0, "%s", strerror(errno));
		return (-1);
	}
	il = cv_xcalloc(1, sizeof(*il));
	il->file = path;
	hosts = cv_xstrdup("*");
	while (getline(&buf, &size, f) != -1) {
		il->line++;
		if (buf[strspn(buf, " \t")] == '#' ||
		    inetd_fields(il, buf) == -1 || il->nf == 0)
			continue;
		len = strlen(il->f[0]);
		if (il->nf == 1 && len > 1 && il->f[0][len - 1] == ':') {
			il->f[0][len - 1] = '\0';
			free(hosts);
			hosts = cv_xstrdup(il->f[0]);
		} else if (il->nf < 6) {
			cv_error(path, il->line, "%d fields; an inetd.conf "
			    "line has at least 6: service, socket type, "
			    "protocol, wait, user and program", il->nf);
			rv = -1;
		} else
			inetd_service(list, il, hosts);
	}
	if (ferror(f)) {
		cv_error(path, 0, "%s", strerror(errno));
		rv = -1;
	}
	free(hosts);
	free(buf);
	free(il);
	fclose(f);
	return (rv);
}
