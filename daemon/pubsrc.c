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
 * Published sources: how per_source holds while a reload drains.  A
 * worker counts its clients' connections in a private tree (limits.c),
 * which the next generation cannot see.  So when a worker is told to
 * drain, it publishes the count of every client it still serves into a
 * table in shared memory, and keeps it current as those connections end;
 * the new generation's workers add what they find there for a client to
 * their own count.  Nothing is written before a drain, so serving pays
 * nothing for it.
 *
 * The supervisor maps one table per worker process and service with
 * per_source when it creates a generation, so that every later worker
 * inherits it.  The mapping is MAP_NORESERVE and only touched pages cost
 * memory.  Each table has one writer (its worker) and is an open-address
 * hash table with linear probing, twice as large as the most sources a
 * worker tracks, hashed with libsodium's crypto_shorthash (SipHash-2-4)
 * under a random key of its own,
 * so remote clients cannot choose colliding addresses.  Entries are never
 * removed: a source that leaves keeps its entry at 0 connections.
 *
 * Any worker can write any shared mapping, so the tables are data, not
 * structure: where a table is and how large it is stay in the private
 * layout that processes inherit from the supervisor, every probe is
 * bounded, and a garbage table can only give wrong counts.  The
 * supervisor never reads a table; it only unmaps them.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "evinetd.h"

_Static_assert(sizeof(((struct pubsrc *)NULL)->ps_seed) ==
    crypto_shorthash_KEYBYTES, "ps_seed holds a crypto_shorthash key");

/* A keyed hash of a source, so a remote client cannot aim at one slot. */
static uint64_t
pubsrc_hash(const unsigned char *k, const uint8_t *in, size_t len)
{
	unsigned char	out[crypto_shorthash_BYTES];
	uint64_t	h;

	(void)crypto_shorthash(out, in, len, k);
	memcpy(&h, out, sizeof(h));
	return (h);
}

/* A new key for a table's hash. */
static void
pubsrc_seed(unsigned char *k)
{
	if (sodium_init() < 0)
		fatalx("libsodium cannot initialise");
	randombytes_buf(k, crypto_shorthash_KEYBYTES);
}

/*
 * Maps the table in which worker process proc publishes the sources of
 * service sc when it drains.  Called by the supervisor before it forks
 * the generation's workers; the layout stays in gs, private memory.
 */
int
pubsrc_map(struct gen_stats *gs, size_t proc, const struct service_conf *sc,
    char **cause)
{
	struct pubsrc	*ps;
	void		*p;

	if (gs->gs_pub == NULL)
		gs->gs_pub = xcalloc(gs->gs_nprocs * gs->gs_nservices,
		    sizeof(*gs->gs_pub));
	ps = &gs->gs_pub[proc * gs->gs_nservices + sc->sc_index];
	ps->ps_cap = PUBSRC_CAPACITY;
	ps->ps_prefix6 = (unsigned int)sc->sc_limits.lim_prefix6;
	pubsrc_seed(ps->ps_seed);
	p = mmap(NULL, ps->ps_cap * sizeof(*ps->ps_table), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		xasprintf(cause, "cannot map %zu bytes for service \"%s\"'s "
		    "per_source table: %s", ps->ps_cap * sizeof(*ps->ps_table),
		    sc->sc_name, strerror(errno));
		return (-1);
	}
	ps->ps_table = p;
	return (0);
}

/*
 * Unmaps a generation's tables.  MADV_REMOVE first frees their pages for
 * every process: newer workers inherited the mappings and keep them.
 */
void
pubsrc_free(struct gen_stats *gs)
{
	struct pubsrc	*ps;
	size_t		 i, size;

	if (gs->gs_pub == NULL)
		return;
	for (i = 0; i < gs->gs_nprocs * gs->gs_nservices; i++) {
		ps = &gs->gs_pub[i];
		if (ps->ps_table == NULL)
			continue;
		size = ps->ps_cap * sizeof(*ps->ps_table);
		(void)madvise(ps->ps_table, size, MADV_REMOVE);
		munmap(ps->ps_table, size);
	}
	free(gs->gs_pub);
	gs->gs_pub = NULL;
}

/*
 * Publishes a source with its connections in a free entry, and returns
 * it for pubsrc_set; NULL if no free entry is within reach (only a
 * scribbled table is that full), and then the source goes uncounted.
 */
struct pubsrc_entry *
pubsrc_publish(const struct pubsrc *ps, const uint8_t key[PUBSRC_KEYLEN],
    uint32_t conns)
{
	struct pubsrc_entry	*e;
	size_t			 i, n, mask = ps->ps_cap - 1;

	if (ps->ps_table == NULL || key[0] == 0)
		return (NULL);
	i = (size_t)pubsrc_hash(ps->ps_seed, key, PUBSRC_KEYLEN) & mask;
	for (n = 0; n < ps->ps_cap && n < PUBSRC_PROBES; n++) {
		e = &ps->ps_table[i];
		if (__atomic_load_n(&e->pe_key[0], __ATOMIC_RELAXED) == 0) {
			memcpy(e->pe_key + 1, key + 1, PUBSRC_KEYLEN - 1);
			__atomic_store_n(&e->pe_conns, conns, __ATOMIC_RELAXED);
			/* Readers see the key's first byte last. */
			__atomic_store_n(&e->pe_key[0], key[0],
			    __ATOMIC_RELEASE);
			return (e);
		}
		i = (i + 1) & mask;
	}
	return (NULL);
}

/* A published source's connections changed. */
void
pubsrc_set(struct pubsrc_entry *e, uint32_t conns)
{
	__atomic_store_n(&e->pe_conns, conns, __ATOMIC_RELAXED);
}

/*
 * The connections a table says a source has.  Racing its writer gives a
 * count a moment old; a garbage table gives a wrong count, never a probe
 * out of the table or without end.
 */
uint64_t
pubsrc_lookup(const struct pubsrc *ps, const uint8_t key[PUBSRC_KEYLEN])
{
	const struct pubsrc_entry	*e;
	uint64_t			 sum = 0;
	size_t				 i, n, mask = ps->ps_cap - 1;
	uint8_t				 k0;

	if (ps->ps_table == NULL)
		return (0);
	i = (size_t)pubsrc_hash(ps->ps_seed, key, PUBSRC_KEYLEN) & mask;
	for (n = 0; n < ps->ps_cap && n < PUBSRC_PROBES; n++) {
		e = &ps->ps_table[i];
		if ((k0 = __atomic_load_n(&e->pe_key[0],
		    __ATOMIC_ACQUIRE)) == 0)
			break;
		if (k0 == key[0] && memcmp(e->pe_key + 1, key + 1,
		    PUBSRC_KEYLEN - 1) == 0)
			sum += __atomic_load_n(&e->pe_conns,
			    __ATOMIC_RELAXED);
		i = (i + 1) & mask;
	}
	return (sum);
}
