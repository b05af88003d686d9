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

#ifndef EVINETDCTL_H
#define EVINETDCTL_H

#include <jansson.h>

/* print.c: each command's result as text, on stdout. */
void	ctl_print_status(json_t *);
void	ctl_print_services(json_t *);
void	ctl_print_connections(json_t *);
void	ctl_print_state(json_t *);
void	ctl_print_drain(json_t *);
void	ctl_print_close(json_t *);
void	ctl_print_reload(json_t *);
void	ctl_print_config(json_t *);
void	ctl_print_stop(json_t *);

#endif
