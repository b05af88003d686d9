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
 * A test module that behaves as a hostile one would once a client has
 * taken over its worker: when it reads "scribble", it finds every shared
 * writable mapping of its process in /proc/self/maps (the counters the
 * worker shares with the supervisor and the other workers) and fills all
 * of it with garbage, then answers "scribbled N mappings, B bytes".  Any
 * other input is echoed.  The garbage is one 64-bit word repeated,
 * 0x40404040: as a count, a daemon that trusted it would write far outside
 * the mapping; as a size (about 1 GB), munmap would take the libraries
 * mapped above the counters with it, while staying below the top of the
 * address space, where munmap would merely fail.
 */

#include <sys/prctl.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <evinetd/module.h>

#define SCRIBBLE_WORD	UINT64_C(0x0000000040404040)

/* Fills one mapping, a word at a time; returns the bytes written. */
static size_t
scribble_range(uintptr_t start, uintptr_t end)
{
	volatile uint64_t	*p;

	for (p = (volatile uint64_t *)start; (uintptr_t)p < end; p++)
		*p = SCRIBBLE_WORD;
	return (end - start);
}

/*
 * Walks our mappings.  A worker that changed its uid is not dumpable and
 * may be refused its own /proc files; a hostile module simply makes itself
 * dumpable again.
 */
static int
scribble_all(size_t *nmaps, size_t *nbytes)
{
	FILE		*f;
	char		 line[512], perms[5];
	unsigned long	 start, end;

	if ((f = fopen("/proc/self/maps", "r")) == NULL) {
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1 ||
		    (f = fopen("/proc/self/maps", "r")) == NULL)
			return (-1);
	}
	*nmaps = *nbytes = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3)
			continue;
		if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 's')
			continue;
		*nbytes += scribble_range(start, end);
		(*nmaps)++;
	}
	fclose(f);
	return (0);
}

static int
scribble_read(struct evi_conn *c, struct evbuffer *in)
{
	size_t	nmaps, nbytes;

	if (evbuffer_search(in, "scribble", 8, NULL).pos == -1)
		return (evi_conn_write_buffer(c, in));
	evbuffer_drain(in, evbuffer_get_length(in));
	if (scribble_all(&nmaps, &nbytes) != 0)
		return (evi_conn_printf(c, "cannot read /proc/self/maps\n"));
	return (evi_conn_printf(c, "scribbled %zu mappings, %zu bytes\n",
	    nmaps, nbytes));
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "scribble",
	.description = "test module: overwrites all shared memory it can",
	.protocols = EVI_PROTO_TCP,
	.conn_read = scribble_read,
};
