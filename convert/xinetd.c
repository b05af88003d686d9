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
 * The xinetd.conf reader, for the syntax of xinetd.conf(5): service and
 * defaults blocks, the =, += and -= operators, include and includedir.
 * The files are read whole first, since defaults apply to every service
 * wherever they appear; then each service's attributes are merged with
 * the defaults as xinetd merges them and handed to xinetd_map.c.
 */

#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "xinetd.h"

#define XINETD_MAXDEPTH	16

struct xinetd_read {
	struct xblock_list	 blocks;
	struct xblock		*defaults;
	char			*file;
	int			 line;
	struct xblock		*cur;		/* the open block */
	int			 want_brace;	/* its "{" is yet to come */
};

static int	 xinetd_file(struct xinetd_read *, const char *, int);

/*
 * Whether PATH looks like xinetd's syntax, by its first statement: an
 * inetd.conf line has at least six fields, an xinetd one at most three.
 * -1 if it cannot be read.
 */
int
xinetd_looks_like(const char *path)
{
	struct cv_words	 w = { NULL, 0 };
	FILE		*f;
	char		*buf = NULL, *p;
	size_t		 size = 0;
	int		 x = 0;

	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (getline(&buf, &size, f) != -1) {
		p = buf + strspn(buf, " \t");
		if (*p == '#' || cv_words_split(&w, p) == 0)
			continue;
		x = strcmp(w.w[0], "includedir") == 0 ||
		    strcmp(w.w[0], "include") == 0 ||
		    strcmp(w.w[0], "defaults") == 0 ||
		    (strcmp(w.w[0], "service") == 0 && w.n <= 3);
		break;
	}
	cv_words_free(&w);
	free(buf);
	fclose(f);
	return (x);
}

/* A new block, "service NAME" or "defaults", at the current line. */
static struct xblock *
xinetd_block(struct xinetd_read *xr, const char *name)
{
	struct xblock	*b;

	b = cv_xcalloc(1, sizeof(*b));
	b->name = name != NULL ? cv_xstrdup(name) : NULL;
	b->file = cv_xstrdup(xr->file);
	b->line = xr->line;
	TAILQ_INIT(&b->attrs);
	return (b);
}

/* Parses "name op values" inside a block. */
static int
xinetd_attr(struct xinetd_read *xr, char *p)
{
	struct xattr	*a;
	size_t		 n;
	int		 op;

	n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_");
	if (n == 0) {
		cv_error(xr->file, xr->line, "expected an attribute, \"}\" "
		    "or a comment");
		return (-1);
	}
	op = (unsigned char)p[n + strspn(p + n, " \t")];
	if (op == '+' || op == '-') {
		if (p[n + strspn(p + n, " \t") + 1] != '=') {
			cv_error(xr->file, xr->line, "attribute \"%.*s\": "
			    "expected =, += or -=", (int)n, p);
			return (-1);
		}
	} else if (op != '=') {
		cv_error(xr->file, xr->line, "attribute \"%.*s\": expected "
		    "=, += or -=", (int)n, p);
		return (-1);
	}
	a = cv_xcalloc(1, sizeof(*a));
	a->name = cv_xasprintf("%.*s", (int)n, p);
	a->op = op;
	a->file = cv_xstrdup(xr->file);
	a->line = xr->line;
	p = strchr(p + n, '=') + 1;
	a->text = cv_xstrdup(p + strspn(p, " \t"));
	a->text[strcspn(a->text, "\r\n")] = '\0';
	cv_words_split(&a->v, a->text);
	TAILQ_INSERT_TAIL(&xr->cur->attrs, a, entry);
	return (0);
}

/* Reads the files of an includedir as xinetd does: sorted, no dotted names. */
static int
xinetd_includedir(struct xinetd_read *xr, const char *dir, int depth)
{
	struct dirent	**names;
	struct stat	  st;
	char		 *path, *file = xr->file;
	int		  n, i, rv = 0, line = xr->line;

	if ((n = scandir(dir, &names, NULL, alphasort)) == -1) {
		cv_error(file, line, "includedir %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (strchr(names[i]->d_name, '.') == NULL &&
		    names[i]->d_name[strlen(names[i]->d_name) - 1] != '~') {
			path = cv_xasprintf("%s/%s", dir, names[i]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			    xinetd_file(xr, path, depth + 1) == -1)
				rv = -1;
			free(path);
		}
		free(names[i]);
	}
	free(names);
	xr->file = file;
	xr->line = line;
	return (rv);
}

/* A line outside any block: service, defaults, include or includedir. */
static int
xinetd_top(struct xinetd_read *xr, char *p, int depth)
{
	struct cv_words	 w = { NULL, 0 };
	int		 rv = 0;

	cv_words_split(&w, p);
	if (w.n >= 2 && w.n <= 3 && strcmp(w.w[0], "service") == 0 &&
	    (w.n == 2 || strcmp(w.w[2], "{") == 0)) {
		xr->cur = xinetd_block(xr, w.w[1]);
		xr->want_brace = w.n == 2;
	} else if (w.n >= 1 && w.n <= 2 && strcmp(w.w[0], "defaults") == 0 &&
	    (w.n == 1 || strcmp(w.w[1], "{") == 0)) {
		xr->cur = xinetd_block(xr, NULL);
		xr->want_brace = w.n == 1;
	} else if (w.n == 2 && strcmp(w.w[0], "includedir") == 0)
		rv = xinetd_includedir(xr, w.w[1], depth);
	else if (w.n == 2 && strcmp(w.w[0], "include") == 0) {
		rv = xinetd_file(xr, w.w[1], depth + 1);
	} else {
		cv_error(xr->file, xr->line, "expected \"service NAME\", "
		    "\"defaults\", \"include FILE\" or \"includedir DIR\"");
		rv = -1;
	}
	cv_words_free(&w);
	return (rv);
}

/* Ends the open block: a service joins the list, defaults accumulate. */
static void
xinetd_close(struct xinetd_read *xr)
{
	struct xattr	*a;

	if (xr->cur->name != NULL) {
		TAILQ_INSERT_TAIL(&xr->blocks, xr->cur, entry);
		xr->cur = NULL;
		return;
	}
	if (xr->defaults == NULL) {
		xr->defaults = xr->cur;
		xr->cur = NULL;
		return;
	}
	while ((a = TAILQ_FIRST(&xr->cur->attrs)) != NULL) {
		TAILQ_REMOVE(&xr->cur->attrs, a, entry);
		TAILQ_INSERT_TAIL(&xr->defaults->attrs, a, entry);
	}
	xblock_free(xr->cur);
	xr->cur = NULL;
}

/* One line of a file, in or out of a block. */
static int
xinetd_line(struct xinetd_read *xr, char *buf, int depth)
{
	char	*p = buf + strspn(buf, " \t");
	size_t	 len;

	len = strcspn(p, "\r\n");
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	p[len] = '\0';
	if (*p == '\0' || *p == '#')
		return (0);
	if (xr->cur == NULL)
		return (xinetd_top(xr, p, depth));
	if (xr->want_brace) {
		if (strcmp(p, "{") != 0) {
			cv_error(xr->file, xr->line, "expected \"{\" to open "
			    "the block of line %d", xr->cur->line);
			xblock_free(xr->cur);
			xr->cur = NULL;
			return (-1);
		}
		xr->want_brace = 0;
		return (0);
	}
	if (strcmp(p, "}") == 0) {
		xinetd_close(xr);
		return (0);
	}
	return (xinetd_attr(xr, p));
}

/* Reads one file into XR; every error is reported, not only the first. */
static int
xinetd_file(struct xinetd_read *xr, const char *path, int depth)
{
	FILE	*f;
	char	*buf = NULL, *file = xr->file;
	size_t	 size = 0;
	int	 rv = 0, line = xr->line;

	if (depth > XINETD_MAXDEPTH) {
		cv_error(file, line, "%s: includes nest more than %d deep",
		    path, XINETD_MAXDEPTH);
		return (-1);
	}
	if ((f = fopen(path, "r")) == NULL) {
		cv_error(file != NULL ? file : path, file != NULL ? line : 0,
		    "%s%s%s", file != NULL ? path : "", file != NULL ? ": " :
		    "", strerror(errno));
		return (-1);
	}
	xr->file = cv_xstrdup(path);
	xr->line = 0;
	while (getline(&buf, &size, f) != -1) {
		xr->line++;
		if (xinetd_line(xr, buf, depth) == -1)
			rv = -1;
	}
	if (xr->cur != NULL) {
		cv_error(xr->file, xr->cur->line, "the block has no closing "
		    "\"}\" before the end of the file");
		xblock_free(xr->cur);
		xr->cur = NULL;
		rv = -1;
	}
	free(buf);
	fclose(f);
	free(xr->file);
	xr->file = file;
	xr->line = line;
	return (rv);
}

void
xblock_free(struct xblock *b)
{
	struct xattr	*a;

	while ((a = TAILQ_FIRST(&b->attrs)) != NULL) {
		TAILQ_REMOVE(&b->attrs, a, entry);
		free(a->name);
		free(a->file);
		free(a->text);
		cv_words_free(&a->v);
		free(a);
	}
	free(b->name);
	free(b->file);
	free(b);
}

/* Reads an xinetd.conf and what it includes; converts every service. */
int
xinetd_read(struct csvc_list *list, const char *path)
{
	struct xinetd_read	 xr;
	struct xblock		*b;
	int			 rv;

	memset(&xr, 0, sizeof(xr));
	TAILQ_INIT(&xr.blocks);
	rv = xinetd_file(&xr, path, 0);
	while ((b = TAILQ_FIRST(&xr.blocks)) != NULL) {
		TAILQ_REMOVE(&xr.blocks, b, entry);
		if (rv == 0)
			xinetd_map(list, b, xr.defaults);
		xblock_free(b);
	}
	if (xr.defaults != NULL)
		xblock_free(xr.defaults);
	return (rv);
}
