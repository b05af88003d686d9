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

#ifndef XINETD_H
#define XINETD_H

/* One "name op value ..." line of a block, as written. */
struct xattr {
	char			*name;
	int			 op;		/* '=', '+' or '-' */
	char			*text;		/* the values as written */
	struct cv_words		 v;
	char			*file;
	int			 line;
	TAILQ_ENTRY(xattr)	 entry;
};

/* A service block, or the defaults (name NULL); it owns its attributes. */
struct xblock {
	char			*name;
	char			*file;
	int			 line;
	TAILQ_HEAD(xattr_list, xattr) attrs;
	TAILQ_ENTRY(xblock)	 entry;
};
TAILQ_HEAD(xblock_list, xblock);

/* xinetd.c */
void	 xblock_free(struct xblock *);

/* xinetd_map.c */
void	 xinetd_map(struct csvc_list *, struct xblock *, struct xblock *);

#endif
