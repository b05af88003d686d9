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
 * Handlers: a module's own descriptors on the worker's loop, in the shape
 * of Tornado's IOLoop (add_handler, update_handler, remove_handler).  They
 * are thin over libevent events, but tracked per service, so that the
 * daemon can clean up after a module that forgets one.
 */

#include "config.h"

#include <stdlib.h>

#include "evinetd.h"

static void
handler_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evi_handler	*h = arg;
	int			 events = 0;

	if (what & EV_READ)
		events |= EVI_READ;
	if (what & EV_WRITE)
		events |= EVI_WRITE;
	h->h_cb(fd, events, h->h_arg);
}

/* Arms the libevent event for the interest set; 0 means idle. */
static int
handler_arm(struct evi_handler *h, int events)
{
	short	what = EV_PERSIST;

	event_del(&h->h_ev);
	h->h_events = events & (EVI_READ | EVI_WRITE);
	if (h->h_events == 0)
		return (0);
	if (h->h_events & EVI_READ)
		what |= EV_READ;
	if (h->h_events & EVI_WRITE)
		what |= EV_WRITE;
	event_assign(&h->h_ev, h->h_svc->s_base, h->h_fd, what, handler_cb, h);
	return (event_add(&h->h_ev, NULL));
}

struct evi_handler *
evi_handler_add(struct evi_service *svc, int fd, int events,
    evi_handler_cb cb, void *arg)
{
	struct evi_handler	*h;

	if (fd < 0 || cb == NULL)
		return (NULL);
	h = xcalloc(1, sizeof(*h));
	h->h_svc = svc;
	h->h_fd = fd;
	h->h_cb = cb;
	h->h_arg = arg;
	event_assign(&h->h_ev, svc->s_base, fd, EV_READ, handler_cb, h);
	if (handler_arm(h, events) != 0) {
		free(h);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&svc->s_handlers, h, h_entry);
	return (h);
}

int
evi_handler_update(struct evi_handler *h, int events)
{
	return (handler_arm(h, events));
}

void
evi_handler_remove(struct evi_handler *h)
{
	if (h == NULL)
		return;
	event_del(&h->h_ev);
	TAILQ_REMOVE(&h->h_svc->s_handlers, h, h_entry);
	free(h);
}

/* Removes what a module left behind, and says so: it is a module bug. */
void
handler_remove_all(struct evi_service *svc)
{
	struct evi_handler	*h, *next;

	for (h = TAILQ_FIRST(&svc->s_handlers); h != NULL; h = next) {
		next = TAILQ_NEXT(h, h_entry);
		log_warnx("service \"%s\": module \"%s\" left a handler on fd "
		    "%d; removed", svc->s_conf->sc_name, svc->s_mod->name,
		    h->h_fd);
		evi_handler_remove(h);
	}
}
