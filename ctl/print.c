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
 * The text form of each command's result: "key: value" lines and tables
 * with a header row, one record per line, so that people can read them
 * and grep and awk can pick them apart.  A member that is missing or null
 * prints as "-" (a worker that did not answer in time has no figures);
 * --json is the exact, complete form.
 */

#include "config.h"

#include <err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evinetdctl.h"

/* One text table, the first row its header; the cells are owned. */
struct table {
	const char	*align;		/* 'l' or 'r' per column */
	size_t		 ncols;
	size_t		 ncells;
	size_t		 cap;
	char		**cells;
};

static struct table *
table_new(const char *align)
{
	struct table	*t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		err(1, "calloc");
	t->align = align;
	t->ncols = strlen(align);
	return (t);
}

/* Appends one cell; rows fill left to right, top to bottom. */
static void __attribute__((format(printf, 2, 3)))
table_add(struct table *t, const char *fmt, ...)
{
	va_list	ap;
	char	**cells;

	if (t->ncells == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		if ((cells = reallocarray(t->cells, t->cap,
		    sizeof *cells)) == NULL)
			err(1, "reallocarray");
		t->cells = cells;
	}
	va_start(ap, fmt);
	if (vasprintf(&t->cells[t->ncells], fmt, ap) == -1)
		err(1, "vasprintf");
	va_end(ap);
	t->ncells++;
}

/* Adds a whole row of plain strings, such as a header. */
static void
table_row(struct table *t, const char *const *cells)
{
	size_t	i;

	for (i = 0; i < t->ncols; i++)
		table_add(t, "%s", cells[i]);
}

/*
 * Prints the table in columns two spaces apart, numbers right-aligned,
 * and frees it.  A last column of text is not padded, so no line ends
 * in blanks.
 */
static void
table_print(struct table *t)
{
	size_t	 i, col, *width;
	int	 w;

	if ((width = calloc(t->ncols, sizeof *width)) == NULL)
		err(1, "calloc");
	for (i = 0; i < t->ncells; i++) {
		if (strlen(t->cells[i]) > width[i % t->ncols])
			width[i % t->ncols] = strlen(t->cells[i]);
	}
	for (i = 0; i < t->ncells; i++) {
		col = i % t->ncols;
		w = (int)width[col];
		if (t->align[col] == 'r')
			printf("%*s", w, t->cells[i]);
		else if (col == t->ncols - 1)
			printf("%s", t->cells[i]);
		else
			printf("%-*s", w, t->cells[i]);
		printf(col == t->ncols - 1 ? "\n" : "  ");
		free(t->cells[i]);
	}
	free(width);
	free(t->cells);
	free(t);
}

/* A string member, or "-". */
static const char *
jstr(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "-");
}

/* An integer member, or -1 when it is missing or null. */
static long long
jint(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return (json_is_integer(v) ? (long long)json_integer_value(v) : -1);
}

/* An integer member as a table cell: "-" when missing or null. */
static void
table_int(struct table *t, json_t *o, const char *key)
{
	long long	v = jint(o, key);

	if (v < 0)
		table_add(t, "-");
	else
		table_add(t, "%lld", v);
}

/* A byte count as a cell, 1024-based like the config's sizes: "1.5K". */
static void
table_bytes(struct table *t, json_t *o, const char *key)
{
	static const char	 units[] = "KMGTPE";
	long long		 v = jint(o, key);
	double			 d;
	size_t			 u = 0;

	if (v < 1024) {
		table_int(t, o, key);
		return;
	}
	for (d = (double)v / 1024; d >= 1024 && u < sizeof units - 2; u++)
		d /= 1024;
	table_add(t, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

/* A short age for a table: 300ms, 1.2s, 3m4s, 2h3m, 4d2h. */
static void
table_age(struct table *t, json_t *o, const char *key)
{
	long long	ms = jint(o, key), s = ms / 1000;

	if (ms < 0)
		table_add(t, "-");
	else if (ms < 1000)
		table_add(t, "%lldms", ms);
	else if (ms < 60000)
		table_add(t, "%lld.%llds", s, ms % 1000 / 100);
	else if (s < 3600)
		table_add(t, "%lldm%llds", s / 60, s % 60);
	else if (s < 86400)
		table_add(t, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else
		table_add(t, "%lldd%lldh", s / 86400, s % 86400 / 3600);
}

/* An array of strings joined with sep, as one cell. */
static void
table_list(struct table *t, json_t *arr, const char *sep)
{
	json_t	*v;
	char	*s = NULL, *n;
	size_t	 i;

	json_array_foreach(arr, i, v) {
		if (asprintf(&n, "%s%s%s", s != NULL ? s : "",
		    s != NULL ? sep : "", json_is_string(v) ?
		    json_string_value(v) : "-") == -1)
			err(1, "asprintf");
		free(s);
		s = n;
	}
	table_add(t, "%s", s != NULL ? s : "-");
	free(s);
}

/* A "label: N" line, or "label: -" when the daemon gave no figure. */
static void
print_int(const char *label, json_t *o, const char *key)
{
	long long	v = jint(o, key);

	if (v < 0)
		printf("%s: -\n", label);
	else
		printf("%s: %lld\n", label, v);
}

/* The uptime for status, "1d 2h 3m 4s", leaving out leading zeros. */
static void
print_uptime(long long ms)
{
	long long	s = ms / 1000;

	printf("uptime: ");
	if (ms < 0) {
		printf("-\n");
		return;
	}
	if (s >= 86400)
		printf("%lldd ", s / 86400);
	if (s >= 3600)
		printf("%lldh ", s % 86400 / 3600);
	if (s >= 60)
		printf("%lldm ", s % 3600 / 60);
	printf("%llds\n", s % 60);
}

/* status: the daemon's figures, then one line per worker. */
void
ctl_print_status(json_t *r)
{
	static const char *const head[] = { "PID", "GEN", "GROUP", "STATE",
	    "CONNS", "FDS", "SERVICES" };
	struct table	*t;
	json_t		*w;
	size_t		 i;

	printf("version: %s\n", jstr(r, "version"));
	print_int("pid", r, "pid");
	print_uptime(jint(r, "uptime_ms"));
	printf("config: %s\n", jstr(r, "config"));
	print_int("generation", r, "generation");
	if (jint(r, "reloads_ok") < 0 || jint(r, "reloads_failed") < 0)
		printf("reloads: -\n");
	else
		printf("reloads: %lld ok, %lld failed\n", jint(r, "reloads_ok"),
		    jint(r, "reloads_failed"));
	print_int("worker restarts", r, "worker_restarts");
	print_int("open fds", r, "open_fds");
	printf("\n");
	t = table_new("rrllrrl");
	table_row(t, head);
	json_array_foreach(json_object_get(r, "workers"), i, w) {
		table_int(t, w, "pid");
		table_int(t, w, "generation");
		table_add(t, "%s", jstr(w, "group"));
		table_add(t, "%s", jstr(w, "state"));
		table_int(t, w, "connections");
		table_int(t, w, "open_fds");
		table_list(t, json_object_get(w, "services"), ",");
	}
	table_print(t);
}

/* The sum of a service's refusals over every reason. */
static long long
refused_total(json_t *refused)
{
	const char	*reason;
	json_t		*v;
	long long	 total = 0;

	json_object_foreach(refused, reason, v)
		total += json_is_integer(v) ? json_integer_value(v) : 0;
	return (total);
}

/* After the table, "NAME: refused REASON N, ..." for the nonzero ones. */
static void
print_refusals(json_t *services)
{
	const char	*reason, *sep;
	json_t		*s, *v;
	size_t		 i;

	json_array_foreach(services, i, s) {
		sep = "";
		json_object_foreach(json_object_get(s, "refused"), reason, v) {
			if (!json_is_integer(v) || json_integer_value(v) == 0)
				continue;
			if (*sep == '\0')
				printf("%s: refused ", jstr(s, "name"));
			printf("%s%s %" JSON_INTEGER_FORMAT, sep, reason,
			    json_integer_value(v));
			sep = ", ";
		}
		if (*sep != '\0')
			printf("\n");
	}
}

/* services: one line per service, then its refusals by reason. */
void
ctl_print_services(json_t *r)
{
	static const char *const head[] = { "NAME", "MODULE", "PROTO",
	    "STATE", "ACTIVE", "ACCEPTED", "REFUSED", "IN", "OUT", "TLS",
	    "LISTENERS" };
	struct table	*t;
	json_t		*s;
	size_t		 i;

	t = table_new("llllrrrrrll");
	table_row(t, head);
	json_array_foreach(r, i, s) {
		table_add(t, "%s", jstr(s, "name"));
		table_add(t, "%s", jstr(s, "module"));
		table_add(t, "%s", jstr(s, "protocol"));
		table_add(t, "%s", jstr(s, "state"));
		table_int(t, s, "active");
		table_int(t, s, "accepted");
		table_add(t, "%lld", refused_total(json_object_get(s,
		    "refused")));
		table_bytes(t, s, "bytes_in");
		table_bytes(t, s, "bytes_out");
		table_add(t, "%s", json_is_true(json_object_get(s, "tls")) ?
		    "yes" : "no");
		table_list(t, json_object_get(s, "listeners"), ",");
	}
	table_print(t);
	print_refusals(r);
}

/* Whether any element of arr has key set to something but null. */
static int
any_has(json_t *arr, const char *key)
{
	json_t	*o, *v;
	size_t	 i;

	json_array_foreach(arr, i, o) {
		v = json_object_get(o, key);
		if (v != NULL && !json_is_null(v))
			return (1);
	}
	return (0);
}

/* connections: one line per connection; VIA, CHILD, TLS only when used. */
void
ctl_print_connections(json_t *r)
{
	static const char *const head[] = { "ID", "SERVICE", "PEER", "AGE",
	    "IDLE", "IN", "OUT", "WORKER" };
	static const char *const opt[] = { "via", "child", "tls" };
	static const char *const opthead[] = { "VIA", "CHILD", "TLS" };
	static const char	 optalign[] = "lrl";
	struct table		*t;
	json_t			*c;
	size_t			 i, j, ncols = 8;
	int			 on[3];
	char			 al[8 + 3 + 1] = "lllrrrrr";

	for (j = 0; j < 3; j++) {
		if ((on[j] = any_has(r, opt[j])))
			al[ncols++] = optalign[j];
	}
	al[ncols] = '\0';
	t = table_new(al);
	for (i = 0; i < 8; i++)
		table_add(t, "%s", head[i]);
	for (j = 0; j < 3; j++) {
		if (on[j])
			table_add(t, "%s", opthead[j]);
	}
	json_array_foreach(r, i, c) {
		table_add(t, "%s", jstr(c, "id"));
		table_add(t, "%s", jstr(c, "service"));
		table_add(t, "%s", jstr(c, "peer"));
		table_age(t, c, "age_ms");
		table_age(t, c, "idle_ms");
		table_bytes(t, c, "bytes_in");
		table_bytes(t, c, "bytes_out");
		table_int(t, c, "worker");
		for (j = 0; j < 3; j++) {
			if (on[j] && j == 1)
				table_int(t, c, opt[j]);
			else if (on[j])
				table_add(t, "%s", jstr(c, opt[j]));
		}
	}
	table_print(t);
}

/* disable and enable: "echo: disabled". */
void
ctl_print_state(json_t *r)
{
	printf("%s: %s\n", jstr(r, "service"), jstr(r, "state"));
}

/* drain: "echo: drained in 1.2s". */
void
ctl_print_drain(json_t *r)
{
	long long	ms = jint(r, "waited_ms");

	printf("%s: drained in ", jstr(r, "service"));
	if (ms < 1000)
		printf("%lldms\n", ms < 0 ? 0 : ms);
	else
		printf("%lld.%llds\n", ms / 1000, ms % 1000 / 100);
}

/* close: "closed 124-7 (echo)". */
void
ctl_print_close(json_t *r)
{
	printf("closed %s (%s)\n", jstr(r, "id"), jstr(r, "service"));
}

/* reload: "reloaded: generation 4". */
void
ctl_print_reload(json_t *r)
{
	printf("reloaded: generation %lld\n", jint(r, "generation"));
}

/* stop: "stopping". */
void
ctl_print_stop(json_t *r)
{
	(void)r;
	printf("stopping\n");
}

/*
 * Prints one config value as the config file would take it back: a bare
 * word when it is one, else a double-quoted string with ", \ and the
 * control characters the parser knows escaped.
 */
static void
print_word(const char *s)
{
	const char	*p;

	if (*s != '\0' && strpbrk(s, " \t\r\n#={}\"") == NULL) {
		printf("%s", s);
		return;
	}
	putchar('"');
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			printf("\\n");
		else if (*p == '\t')
			printf("\\t");
		else if (*p == '\r')
			printf("\\r");
		else
			putchar(*p);
	}
	putchar('"');
}

/* One key: "  key = value ...  # from FILE:LINE", or "  key (unset)". */
static void
print_key(json_t *k)
{
	const char	*from = json_string_value(json_object_get(k, "from"));
	json_t		*value = json_object_get(k, "value"), *v;
	size_t		 i;

	printf("  %s", jstr(k, "key"));
	if (!json_is_array(value)) {
		printf(" (unset)\n");
		return;
	}
	printf(" =");
	json_array_foreach(value, i, v) {
		putchar(' ');
		print_word(json_is_string(v) ? json_string_value(v) : "");
	}
	if (from != NULL && strcmp(from, "default") == 0)
		printf("  # default");
	else if (from != NULL)
		printf("  # from %s", from);
	putchar('\n');
}

/* config: the global keys, then each service's keys and options. */
void
ctl_print_config(json_t *r)
{
	json_t	*s, *k;
	size_t	 i, j;

	printf("# %s, generation %lld\n", jstr(r, "file"),
	    jint(r, "generation"));
	printf("global:\n");
	json_array_foreach(json_object_get(r, "global"), i, k)
		print_key(k);
	json_array_foreach(json_object_get(r, "services"), i, s) {
		printf("service %s (%s):\n", jstr(s, "name"), jstr(s, "from"));
		json_array_foreach(json_object_get(s, "keys"), j, k)
			print_key(k);
		json_array_foreach(json_object_get(s, "options"), j, k)
			print_key(k);
	}
}
