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
 * shmatomic: what a per-source table shared by the workers would cost at
 * the least, for bench/steer.  Such a table needs, per connection, an
 * atomic increment when the client comes and a decrement when it goes, on
 * a cache line that every worker writes.  This times N such pairs on one
 * MAP_SHARED word, first in one process, then in two at once (the line
 * bouncing between cores), and prints one key=value line:
 *
 *	one_ns=... two_ns=...	(nanoseconds per increment+decrement pair)
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PAIRS	20000000L

/* The pairs one process does, as a worker would per connection. */
static void
shmatomic_work(long *word)
{
	long	i;

	for (i = 0; i < PAIRS; i++) {
		__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(word, 1, __ATOMIC_SEQ_CST);
	}
}

/* Nanoseconds per pair with NPROCS processes on the same word. */
static double
shmatomic_run(long *word, int nprocs)
{
	struct timespec	a, b;
	pid_t		pid;
	int		i, status;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < nprocs; i++) {
		if ((pid = fork()) == -1) {
			perror("fork");
			exit(1);
		}
		if (pid == 0) {
			shmatomic_work(word);
			_exit(0);
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			exit(1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (((double)(b.tv_sec - a.tv_sec) * 1e9 +
	    (double)(b.tv_nsec - a.tv_nsec)) / (double)PAIRS);
}

int
main(void)
{
	long	*word;
	double	 one, two;

	word = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (word == MAP_FAILED) {
		perror("mmap");
		return (1);
	}
	one = shmatomic_run(word, 1);
	two = shmatomic_run(word, 2);
	if (*word != 0) {
		fprintf(stderr, "shmatomic: the word is %ld, not 0\n", *word);
		return (1);
	}
	printf("one_ns=%.1f two_ns=%.1f\n", one, two);
	return (0);
}
