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
 * The fixture behind check_serve.h.  Everything it makes is torn down by
 * serve_stop, so a test case uses it as a checked fixture and each test
 * gets a fresh worker in its own fork.
 */

#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_serve.h"

struct worker		*serve_worker;
uint64_t		 serve_now;

static struct config	*serve_cf;
static struct event_base *serve_base;
static struct global_stats *serve_global;
static struct gen_stats	*serve_stats;
static int		 serve_logfd = -1;	/* the captured log */
static int		 serve_stderr = -1;	/* the real stderr */
static char		 serve_logbuf[65536];

/* An injected clock that only moves when a test moves serve_now. */
uint64_t
serve_clock(void)
{
	return (serve_now);
}

/*
 * Parses text as a config (modules from the build), binds its listeners
 * (use port 0) and starts a worker serving them all.
 */
void
serve_start(const char *text)
{
	struct conf_error	*ce;
	struct worker_spec	 ws;
	char			*cause = NULL;

	serve_now = 1000;	/* behind the real clock: timerfds fire at once */
	timerq_set_clock(serve_clock);
	serve_cf = config_new("test.conf", BUNDLED_MODULE_DIR);
	(void)config_parse_buffer(serve_cf, "test.conf", text, strlen(text));
	(void)config_finish(serve_cf);
	(void)config_check(serve_cf);
	ce = TAILQ_FIRST(&serve_cf->c_errors);
	ck_assert_msg(ce == NULL, "config: %s", ce != NULL ? ce->ce_msg : "");
	ck_assert_int_eq(listener_bind_all(serve_cf, NULL), 0);
	ck_assert_ptr_nonnull(serve_base = event_base_new());
	serve_global = stats_global_new();
	serve_stats = stats_gen_new(1, serve_cf->c_nservices, NULL);
	ck_assert_ptr_nonnull(serve_stats);
	memset(&ws, 0, sizeof(ws));
	ws.ws_single = 1;
	ws.ws_global = serve_global;
	ws.ws_stats = serve_stats;
	serve_worker = worker_new(serve_base, serve_cf, &ws, &cause);
	ck_assert_msg(serve_worker != NULL, "worker_new: %s", cause);
}

void
serve_stop(void)
{
	if (serve_worker != NULL)
		worker_free(serve_worker);
	serve_worker = NULL;
	if (serve_base != NULL)
		event_base_free(serve_base);
	serve_base = NULL;
	stats_gen_free(serve_stats);
	serve_stats = NULL;
	if (serve_cf != NULL)
		config_free(serve_cf);
	serve_cf = NULL;
	timerq_set_clock(NULL);
	if (serve_stderr != -1) {
		(void)dup2(serve_stderr, STDERR_FILENO);
		close(serve_stderr);
		close(serve_logfd);
	}
	serve_stderr = serve_logfd = -1;
}

/*
 * Sends the log (stderr) to a file from now until serve_stop, so that a
 * test can assert on the lines the worker wrote.
 */
void
serve_log_capture(void)
{
	char	path[] = "/tmp/check_serve.XXXXXX";

	ck_assert_int_eq(serve_stderr, -1);
	ck_assert_int_ge(serve_logfd = mkstemp(path), 0);
	(void)unlink(path);
	ck_assert_int_ge(serve_stderr = dup(STDERR_FILENO), 0);
	ck_assert_int_eq(dup2(serve_logfd, STDERR_FILENO), STDERR_FILENO);
}

/* Everything logged since serve_log_capture, valid until the next call. */
const char *
serve_log(void)
{
	ssize_t	n;

	ck_assert_int_ge(serve_logfd, 0);
	n = pread(serve_logfd, serve_logbuf, sizeof(serve_logbuf) - 1, 0);
	ck_assert_int_ge(n, 0);
	serve_logbuf[n] = '\0';
	return (serve_logbuf);
}

struct evi_service *
serve_service(const char *name)
{
	struct evi_service	*svc;

	TAILQ_FOREACH(svc, &serve_worker->w_services, s_entry) {
		if (strcmp(svc->s_conf->sc_name, name) == 0)
			return (svc);
	}
	ck_abort_msg("no service \"%s\"", name);
	return (NULL);
}

/*
 * Makes a loopback TCP connection and gives its server side to the
 * service as an accepted connection; returns that conn, and the client
 * side in *client (non-blocking).
 */
struct evi_conn *
serve_connect(struct evi_service *svc, int *client)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 lfd, fd, small = 4096;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	/* The accepted socket inherits the listener's receive buffer. */
	(void)setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	ck_assert_int_ge(*client, 0);
	/* Small kernel buffers, so backpressure shows after a few KiB. */
	(void)setsockopt(*client, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small));
	(void)setsockopt(*client, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small));
	ck_assert(connect(*client, (struct sockaddr *)&sin, len) == 0 ||
	    errno == EINPROGRESS);
	len = sizeof(sin);
	fd = accept4(lfd, (struct sockaddr *)&sin, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	close(lfd);
	conn_accept(svc, fd, (struct sockaddr *)&sin, len, NULL, NULL);
	ck_assert_ptr_nonnull(TAILQ_LAST(&svc->s_conns, evi_conns));
	return (TAILQ_LAST(&svc->s_conns, evi_conns));
}

/* Turns the worker's loop once, waiting for something to happen. */
void
serve_wait(void)
{
	(void)event_base_loop(serve_base, EVLOOP_ONCE);
}

/* Turns the worker's loop n times without blocking. */
void
serve_turn(int n)
{
	while (n-- > 0)
		(void)event_base_loop(serve_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}
