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
 * HTTP/1.x request parsing for the stats module (RFC 9112), strict by
 * design: a monitoring endpoint has no reason to accept sloppy input, and
 * every ambiguity (obsolete line folding, bodies, duplicate framing) is
 * a classic smuggling vector.  What we refuse gets a status code:
 *   400 malformed, 414 target too long, 431 headers over the size cap,
 *   501 a body we will not read, 505 a version other than 1.0 or 1.1.
 */

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "stats_http.h"

/* RFC 9110 token characters. */
static int
is_tchar(int c)
{
	return (isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c)
	    != NULL));
}

static enum http_result
http_fail(struct http_request *req, int status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	return (HTTP_ERROR);
}

/* Finds the end of one line; LF alone is accepted as well as CR LF. */
static const char *
http_line(const char *p, const char *end, const char **next)
{
	const char	*lf;

	if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return (NULL);
	*next = lf + 1;
	if (lf > p && lf[-1] == '\r')
		return (lf - 1);
	return (lf);
}

/* Does a comma-separated header value list the token (any case)? */
static int
http_has_token(const char *v, const char *vend, const char *token)
{
	size_t		 tlen = strlen(token), n;
	const char	*p = v, *e;

	while (p < vend) {
		while (p < vend && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		e = p;
		while (e < vend && *e != ',')
			e++;
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tlen && strncasecmp(p, token, tlen) == 0)
			return (1);
		p = e;
	}
	return (0);
}

/* Parses "METHOD SP TARGET SP HTTP/1.x". */
static enum http_result
http_request_line(const char *p, const char *e, struct http_request *req)
{
	const char	*sp, *t, *q;
	size_t		 n;

	for (sp = p; sp < e && is_tchar((unsigned char)*sp); sp++)
		;
	n = (size_t)(sp - p);
	if (n == 0 || sp == e || *sp != ' ')
		return (http_fail(req, 400, "malformed method"));
	if (n >= sizeof(req->method))
		return (http_fail(req, 501, "method too long"));
	memcpy(req->method, p, n);
	req->method[n] = '\0';

	t = sp + 1;
	for (sp = t; sp < e && *sp > 0x20 && *sp < 0x7f; sp++)
		;
	if (sp == t || sp == e || *sp != ' ')
		return (http_fail(req, 400, "malformed target"));
	if (*t != '/')
		return (http_fail(req, 400, "target is not an absolute path"));
	if ((q = memchr(t, '?', (size_t)(sp - t))) == NULL)
		q = sp;
	n = (size_t)(q - t);
	if (n >= sizeof(req->path) || (size_t)(sp - t) > HTTP_TARGET_MAX)
		return (http_fail(req, 414, "target too long"));
	memcpy(req->path, t, n);
	req->path[n] = '\0';

	p = sp + 1;
	if (e - p != 8 || strncmp(p, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)p[5]) || p[6] != '.' ||
	    !isdigit((unsigned char)p[7]))
		return (http_fail(req, 400, "malformed version"));
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return (http_fail(req, 505, "unsupported HTTP version"));
	req->minor = p[7] - '0';
	return (HTTP_PARSED);
}

/*
 * Parses one request from buf.  max caps the request line and headers
 * together; a request longer than that is refused with 431 even before
 * its end has arrived, so a slow or endless header cannot hold memory.
 */
enum http_result
http_parse(const char *buf, size_t len, size_t max, struct http_request *req)
{
	const char	*p = buf, *end, *e, *next, *colon, *v, *ve;
	int		 conn_close = 0, conn_keep = 0, have_host = 0;
	enum http_result r;

	memset(req, 0, sizeof(*req));
	end = buf + (len < max ? len : max);

	/* RFC 9112 2.2: ignore empty lines before a request line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if ((e = http_line(p, end, &next)) == NULL)
		goto short_read;
	if ((r = http_request_line(p, e, req)) != HTTP_PARSED)
		return (r);

	for (p = next;;) {
		if ((e = http_line(p, end, &next)) == NULL)
			goto short_read;
		if (e == p)
			break;			/* the empty line: done */
		if (*p == ' ' || *p == '\t')
			return (http_fail(req, 400, "obsolete line folding"));
		for (colon = p; colon < e && is_tchar((unsigned char)*colon);
		    colon++)
			;
		if (colon == p || colon == e || *colon != ':')
			return (http_fail(req, 400, "malformed header"));
		for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = e; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		    ve--)
			;
		for (const char *c = v; c < ve; c++) {
			if ((unsigned char)*c < 0x20 && *c != '\t')
				return (http_fail(req, 400,
				    "control character in a header"));
			if (*c == 0x7f)
				return (http_fail(req, 400,
				    "control character in a header"));
		}
#define HDR(name) ((size_t)(colon - p) == sizeof(name) - 1 && \
	strncasecmp(p, name, sizeof(name) - 1) == 0)
		if (HDR("Connection")) {
			conn_close |= http_has_token(v, ve, "close");
			conn_keep |= http_has_token(v, ve, "keep-alive");
		} else if (HDR("Host")) {
			if (have_host++)
				return (http_fail(req, 400,
				    "more than one Host header"));
		} else if (HDR("Transfer-Encoding")) {
			return (http_fail(req, 501, "request bodies are not "
			    "accepted"));
		} else if (HDR("Content-Length")) {
			if (ve - v != 1 || *v != '0')
				return (http_fail(req, 501, "request bodies "
				    "are not accepted"));
		}
#undef HDR
		p = next;
	}
	if (req->minor == 1 && !have_host)
		return (http_fail(req, 400, "HTTP/1.1 request without Host"));
	req->keep_alive = req->minor == 1 ? !conn_close :
	    (conn_keep && !conn_close);
	req->length = (size_t)(next - buf);
	return (HTTP_PARSED);

short_read:
	if (len >= max)
		return (http_fail(req, 431, "request headers too large"));
	return (HTTP_INCOMPLETE);
}
