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
 * Telling the service manager what we are doing: READY=1 once every
 * worker serves, RELOADING=1 and READY=1 around a reload, STOPPING=1 on
 * the way out (sd_notify(3)).  Built with libsystemd when configure finds
 * it; "--without-systemd" leaves these calls doing nothing, which is what
 * they do anyway when NOTIFY_SOCKET is unset (not under systemd).
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "evinetd.h"

/* Sends one state line, with a STATUS= line humans see in systemctl. */
void
notify_state(const char *state, const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	char	*status;
	va_list	 ap;

	va_start(ap, fmt);
	xvasprintf(&status, fmt, ap);
	va_end(ap);
	(void)sd_notifyf(0, "%s\nSTATUS=%s\nMAINPID=%ld", state, status,
	    (long)getpid());
	free(status);
#else
	(void)state;
	(void)fmt;
#endif
}
