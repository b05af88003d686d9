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
 * A real worker inside a unit test: a config parsed from a string, its
 * modules loaded, one worker serving every service on an event base the
 * test turns by hand, and connections made over loopback TCP and handed
 * to conn_accept as the listener would.  The tests of conn, limits and
 * worker use it to check rules without starting the daemon, and the tests
 * of listener.c its sockets; serve_log_capture keeps the log for them to
 * read back.
 */

#ifndef CHECK_SERVE_H
#define CHECK_SERVE_H

#include "evinetd.h"

extern struct worker	*serve_worker;

void		 serve_start(const char *);
void		 serve_stop(void);
struct evi_service *serve_service(const char *);
struct evi_conn	*serve_connect(struct evi_service *, int *);
void		 serve_turn(int);
void		 serve_wait(void);
uint64_t	 serve_clock(void);
void		 serve_log_capture(void);
const char	*serve_log(void);
extern uint64_t	 serve_now;

#endif /* CHECK_SERVE_H */
