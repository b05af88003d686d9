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

#ifndef CONVERT_H
#define CONVERT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdio.h>

#define CV_EXIT_OK	0
#define CV_EXIT_ERROR	1
#define CV_EXIT_LOST	3

/* A growing list of words; w[n] is always NULL. */
struct cv_words {
	char	**w;
	size_t	  n;
};

enum cv_family {
	CV_FAMILY_BOTH,		/* *:PORT */
	CV_FAMILY_INET,		/* 0.0.0.0:PORT */
	CV_FAMILY_INET6		/* [::]:PORT */
};

#define CV_NRLIMITS	7

/*
 * One service as evinetd will see it, filled in by a reader (xinetd.c,
 * inetd.c) and written by emit.c.  Strings are owned by the service and
 * hold values already in evinetd's syntax (a port number, "512m", "60s"),
 * not yet quoted.  A NULL string or an empty list is a key not written.
 */
struct csvc {
	char			*name;
	char			*file;
	int			 line;
	char			*comment;	/* extra text for "# from" */
	char			*off;		/* written as a comment: why */
	int			 quiet;		/* off in the input: notes only */
	int			 udp;
	enum cv_family		 family;
	struct cv_words		 binds;		/* numeric addresses */
	char			*port;
	char			*module;
	char			*to;		/* forward */
	char			*program;	/* exec */
	struct cv_words		 args;
	char			*user;
	char			*group;
	struct cv_words		 groups;
	int			 wait;
	char			*instances;
	struct cv_words		 env;
	struct cv_words		 passenv;
	char			*rlimits[CV_NRLIMITS];
	char			*nice;
	char			*umask;
	int			 only_from_set;
	struct cv_words		 only_from;
	struct cv_words		 no_access;
	char			*max_connections;
	char			*per_source;
	char			*rate;
	int			 log_connections;
	struct cv_words		 notes;		/* comments in the block */
	TAILQ_ENTRY(csvc)	 entry;
};
TAILQ_HEAD(csvc_list, csvc);

extern const char	*cv_rlimit_names[CV_NRLIMITS];

/* evinetd-convert.c */
void		 cv_error(const char *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 cv_lost(struct csvc *, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
void		 cv_note(struct csvc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 cv_off(struct csvc *, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
void		*cv_xcalloc(size_t, size_t);
char		*cv_xstrdup(const char *);
char		*cv_xasprintf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 cv_words_add(struct cv_words *, const char *);
void		 cv_words_free(struct cv_words *);
int		 cv_words_split(struct cv_words *, const char *);
struct csvc	*cv_svc_new(struct csvc_list *, const char *, const char *,
		    int, int);
int		 cv_internal(struct csvc *, const char *);
int		 cv_port(struct csvc *, const char *, const char *,
		    const char *, int);
int		 cv_numeric_addr(const char *);
int		 cv_number(const char *, long long, long long, long long *);

/* xinetd.c */
int		 xinetd_read(struct csvc_list *, const char *);
int		 xinetd_looks_like(const char *);

/* inetd.c */
int		 inetd_read(struct csvc_list *, const char *);

/* emit.c */
int		 emit_all(FILE *, struct csvc_list *, int, char **);

#endif
