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
 * qotd: the Quote of the Day Protocol (RFC 865).  Quotes come from a text
 * file (option "file"), one quote per paragraph: quotes are separated by
 * blank lines.  RFC 865 limits a quote to 512 characters; we send each
 * with CR LF line ends, and refuse at load time, with FILE:LINE, a quote
 * that would exceed the limit, so "evinetd -n" catches it.  Quotes are
 * served in file order ("order = rotate") or at random.  TCP sends one
 * quote and closes; UDP answers each datagram with one quote.
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evinetd/module.h>

#define QOTD_MAX	511	/* RFC 865: "less than 512 characters" */
#define QOTD_MAX_QUOTES	65536

struct quote {
	char		*text;		/* CR LF line ends */
	size_t		 len;
};

struct qotd {
	struct quote	*quotes;
	size_t		 nquotes;
	size_t		 next;
	int		 random;
};

static void
qotd_free(struct qotd *q)
{
	size_t	i;

	for (i = 0; i < q->nquotes; i++)
		free(q->quotes[i].text);
	free(q->quotes);
	free(q);
}

/* Adds one line to the quote being built, CR LF terminated. */
static int
qotd_append(struct quote *cur, const char *line, size_t len)
{
	char	*p;

	if (cur->len + len + 2 > QOTD_MAX) {
		cur->len += len + 2;	/* remember it is too long */
		return (0);
	}
	if ((p = realloc(cur->text, cur->len + len + 3)) == NULL)
		return (-1);
	memcpy(p + cur->len, line, len);
	p[cur->len + len] = '\r';
	p[cur->len + len + 1] = '\n';
	cur->text = p;
	cur->len += len + 2;
	return (0);
}

/* Ends the quote being built; an oversized one fails with its line. */
static int
qotd_finish(struct evi_service *svc, struct qotd *q, struct quote *cur,
    const char *path, int first_line)
{
	struct quote	*n;
	size_t		 len = cur->len;

	if (len == 0)
		return (0);
	if (len > QOTD_MAX) {
		free(cur->text);
		memset(cur, 0, sizeof(*cur));
		return (evi_service_fail(svc, "%s:%d: quote is %zu "
		    "characters with CR LF line ends; RFC 865 asks for fewer "
		    "than 512", path, first_line, len));
	}
	if (q->nquotes == QOTD_MAX_QUOTES)
		return (evi_service_fail(svc, "%s:%d: more than %d quotes",
		    path, first_line, QOTD_MAX_QUOTES));
	n = realloc(q->quotes, (q->nquotes + 1) * sizeof(*n));
	if (n == NULL)
		return (evi_service_fail(svc, "out of memory"));
	q->quotes = n;
	q->quotes[q->nquotes++] = *cur;
	memset(cur, 0, sizeof(*cur));
	return (0);
}

/* Reads the quotes file, paragraph by paragraph. */
static int
qotd_load(struct evi_service *svc, struct qotd *q, const char *path)
{
	struct quote	 cur = { NULL, 0 };
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0, len;
	ssize_t		 n;
	int		 lineno = 0, first = 0, rv = 0;

	if ((f = fopen(path, "re")) == NULL)
		return (evi_service_fail(svc, "%s: %s", path,
		    strerror(errno)));
	while (rv == 0 && (n = getline(&line, &cap, f)) != -1) {
		lineno++;
		len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r' || line[len - 1] == ' ' ||
		    line[len - 1] == '\t'))
			len--;
		if (len == 0) {
			rv = qotd_finish(svc, q, &cur, path, first);
			continue;
		}
		if (cur.len == 0)
			first = lineno;
		if (qotd_append(&cur, line, len) != 0)
			rv = evi_service_fail(svc, "out of memory");
	}
	if (rv == 0 && ferror(f))
		rv = evi_service_fail(svc, "%s: read error", path);
	if (rv == 0)
		rv = qotd_finish(svc, q, &cur, path, first);
	free(cur.text);
	free(line);
	fclose(f);
	if (rv == 0 && q->nquotes == 0)
		rv = evi_service_fail(svc, "%s: no quotes (one per paragraph, "
		    "separated by blank lines)", path);
	return (rv);
}

static int
qotd_init(struct evi_service *svc, void **state)
{
	struct qotd	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (evi_service_fail(svc, "out of memory"));
	q->random = strcmp(evi_opt_string(svc, "order"), "random") == 0;
	if (qotd_load(svc, q, evi_opt_string(svc, "file")) != 0) {
		qotd_free(q);
		return (-1);
	}
	*state = q;
	return (0);
}

static void
qotd_fini(struct evi_service *svc, void *state)
{
	(void)svc;
	qotd_free(state);
}

/* Picks the next quote, in file order or at random. */
static const struct quote *
qotd_pick(struct qotd *q)
{
	size_t	i;

	if (q->random)
		return (&q->quotes[arc4random_uniform((uint32_t)q->nquotes)]);
	i = q->next;
	q->next = (q->next + 1) % q->nquotes;
	return (&q->quotes[i]);
}

static int
qotd_open(struct evi_conn *c)
{
	const struct quote	*qt;

	qt = qotd_pick(evi_service_state(evi_conn_service(c)));
	if (evi_conn_write(c, qt->text, qt->len) != 0)
		return (-1);
	evi_conn_finish(c);
	return (0);
}

static int
qotd_dgram(struct evi_service *svc, const struct evi_dgram *d)
{
	const struct quote	*qt;

	qt = qotd_pick(evi_service_state(svc));
	return (evi_dgram_reply(svc, d, qt->text, qt->len));
}

static const struct evi_option qotd_options[] = {
	{ "file", EVI_OPT_PATH, QOTD_DEFAULT_FILE,
	    "quotes file, one quote per paragraph", 0, 0, 0, NULL },
	{ "order", EVI_OPT_ENUM, "random",
	    "random, or rotate to serve quotes in file order", 0, 0, 0,
	    "random rotate" },
	EVI_OPTION_END
};

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "qotd",
	.description = "Quote of the Day Protocol, RFC 865",
	.protocols = EVI_PROTO_TCP | EVI_PROTO_UDP,
	.options = qotd_options,
	.init = qotd_init,
	.fini = qotd_fini,
	.conn_open = qotd_open,
	.dgram = qotd_dgram,
};
