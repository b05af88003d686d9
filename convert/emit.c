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
 * Writes the converted services in evinetd.conf(5) syntax.  Every value
 * goes through one quoting function, so a program argument with a blank,
 * a '#' or a quote reaches the program as it was written.  A service that
 * is off (disabled in the input, or not safe to run as converted) is
 * written whole, as comments, so that removing the '#'s is all it takes.
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "convert.h"

/* Whether C may appear in a bare word of evinetd.conf. */
static int
emit_word_char(unsigned char c)
{
	return (c > ' ' && c != 0x7f && strchr("#={}\"\\", c) == NULL);
}

/* Writes one value, quoted when it is not a plain word. */
static void
emit_value(FILE *f, const char *v)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (!emit_word_char(*p))
			break;
	}
	if (*v != '\0' && *p == '\0') {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Writes text as a comment: a control character would end or break it. */
static void
emit_comment_text(FILE *f, const char *text)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)text; *p != '\0'; p++)
		fputc(*p < ' ' || *p == 0x7f ? '?' : *p, f);
}

/* Starts a line of a block: a tab, after "# " when the service is off. */
static void
emit_indent(FILE *f, const struct csvc *s)
{
	fputs(s->off != NULL ? "#\t" : "\t", f);
}

static void
emit_key(FILE *f, const struct csvc *s, const char *key, const char *value)
{
	if (value == NULL)
		return;
	emit_indent(f, s);
	fprintf(f, "%s = ", key);
	emit_value(f, value);
	fputc('\n', f);
}

static void
emit_list(FILE *f, const struct csvc *s, const char *key,
    const struct cv_words *wl)
{
	size_t	 i;

	if (wl->n == 0)
		return;
	emit_indent(f, s);
	fprintf(f, "%s =", key);
	for (i = 0; i < wl->n; i++) {
		fputc(' ', f);
		emit_value(f, wl->w[i]);
	}
	fputc('\n', f);
}

/* The listen line: the bound addresses, or the family's "any". */
static void
emit_listen(FILE *f, const struct csvc *s)
{
	static const char	*any[] = { "*", "0.0.0.0", "[::]" };
	size_t			 i;

	emit_indent(f, s);
	fputs("listen =", f);
	if (s->binds.n == 0)
		fprintf(f, " %s:%s", any[s->family], s->port);
	for (i = 0; i < s->binds.n; i++) {
		if (strchr(s->binds.w[i], ':') != NULL)
			fprintf(f, " [%s]:%s", s->binds.w[i], s->port);
		else
			fprintf(f, " %s:%s", s->binds.w[i], s->port);
	}
	fputc('\n', f);
}

/* The keys of module exec, in the order of evinetd.conf(5). */
static void
emit_exec(FILE *f, const struct csvc *s)
{
	size_t	 i;

	emit_key(f, s, "program", s->program);
	emit_list(f, s, "args", &s->args);
	emit_key(f, s, "user", s->user);
	emit_key(f, s, "group", s->group);
	emit_list(f, s, "groups", &s->groups);
	emit_list(f, s, "env", &s->env);
	emit_list(f, s, "passenv", &s->passenv);
	emit_key(f, s, "umask", s->umask);
	emit_key(f, s, "nice", s->nice);
	for (i = 0; i < CV_NRLIMITS; i++)
		emit_key(f, s, cv_rlimit_names[i], s->rlimits[i]);
	emit_key(f, s, "instances", s->instances);
	if (s->wait)
		emit_key(f, s, "wait", "yes");
}

/* Writes one service block, or its commented-out form. */
static void
emit_service(FILE *f, const struct csvc *s)
{
	size_t	 i;

	fprintf(f, "\n# from %s:%d", s->file, s->line);
	if (s->comment != NULL) {
		fputs(" (", f);
		emit_comment_text(f, s->comment);
		fputc(')', f);
	}
	if (s->off != NULL) {
		fputs("; off: ", f);
		emit_comment_text(f, s->off);
	}
	fprintf(f, "\n%sservice %s {\n", s->off != NULL ? "# " : "", s->name);
	if (s->port != NULL)
		emit_listen(f, s);
	if (s->udp)
		emit_key(f, s, "protocol", "udp");
	emit_key(f, s, "module", s->module);
	emit_key(f, s, "to", s->to);
	if (s->module != NULL && strcmp(s->module, "exec") == 0)
		emit_exec(f, s);
	if (s->only_from_set)
		emit_list(f, s, "only_from", &s->only_from);
	emit_list(f, s, "no_access", &s->no_access);
	emit_key(f, s, "max_connections", s->max_connections);
	emit_key(f, s, "per_source", s->per_source);
	emit_key(f, s, "rate", s->rate);
	if (s->log_connections)
		emit_key(f, s, "log_connections", "yes");
	for (i = 0; i < s->notes.n; i++) {
		emit_indent(f, s);
		fputs("# ", f);
		emit_comment_text(f, s->notes.w[i]);
		fputc('\n', f);
	}
	fprintf(f, "%s}\n", s->off != NULL ? "# " : "");
}

/* Writes the whole file: a header naming the inputs, then the services. */
int
emit_all(FILE *f, struct csvc_list *list, int argc, char **argv)
{
	struct csvc	*s;
	int		 i;

	fputs("# evinetd.conf written by evinetd-convert from", f);
	for (i = 0; i < argc; i++) {
		fputc(' ', f);
		emit_comment_text(f, argv[i]);
	}
	fputs(".\n# Check it with \"evinetd -n -f FILE\" before use; see "
	    "evinetd-convert(8).\n", f);
	TAILQ_FOREACH(s, list, entry) {
		if (s->off == NULL)
			break;
	}
	if (s == NULL)
		fputs("\n# No service is enabled: evinetd refuses a file without "
		    "one.\n", f);
	TAILQ_FOREACH(s, list, entry)
		emit_service(f, s);
	return (ferror(f) ? -1 : 0);
}
