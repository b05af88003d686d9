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
 * evinetd module API.
 *
 * A module is a shared object that exports one const struct evi_module
 * named "evinetd_module" (use EVI_MODULE_EXPORT).  The daemon checks the
 * struct's magic, ABI version and size before it calls anything in the
 * module, then calls init() once per configured service, and the stream
 * or datagram callbacks for the traffic of that service.
 *
 * The daemon owns every socket, every event and every buffer it hands
 * out; a module never closes a connection's fd or frees its buffers.  The
 * module owns what it allocates: its service state (freed in fini) and its
 * per-connection data (freed in conn_close).
 *
 * All callbacks run on the worker's event loop thread.  They must not
 * block: use evi_handler_add() or the event_base from evi_service_base()
 * to wait for anything.
 *
 * Build a module out of tree with:
 *
 *	cc -shared -fPIC $(pkg-config --cflags evinetd) mymod.c -o mymod.so
 *
 * and install it in $(pkg-config --variable=moduledir evinetd).  The
 * bundled echo module (modules/echo.c) is the worked example; the forward
 * module (modules/forward.c) is the one for outbound connections and
 * relays.
 *
 * ABI changelog (major.minor, date, reason):
 *	1.0	2026-11-29	First release: options, stream, datagram,
 *				handler and read-only stats API.
 *	1.1	2026-12-04	Asynchronous modules: outbound connections
 *				(evi_connect, struct evi_conn_ops, three
 *				close reasons), read control, half-close,
 *				evi_relay, EVI_OPT_ADDRESS, the service's
 *				max_input and max_output, outbound
 *				counters in evi_stats_service; the PROXY
 *				protocol's balancer (evi_conn_via), v2
 *				TLVs (evi_conn_proxy_tlv) and header
 *				errors (proxy_errors).
 *	1.2	2026-12-04	Operator control: the refusal reason
 *				"disabled" and the close reason "admin",
 *				and their counters in evi_stats_service
 *				(refused_disabled, closed_admin).
 *	1.3	2026-12-04	Programs: evi_conn_exec, and the exec_*
 *				counters in evi_stats_service.
 *	1.4	2026-12-05	TLS: evi_conn_tls and struct evi_tls_info,
 *				enum evi_tls_failure, and the tls_*
 *				counters in evi_stats_service.
 *
 * Rules: a new minor only appends members to struct evi_module (or to
 * the stats structs, which the daemon owns) or adds functions; a module
 * built against 1.N loads in any daemon 1.M, M >= N.
 * Anything else is a new major, and modules must be rebuilt.
 */

#ifndef EVINETD_MODULE_H
#define EVINETD_MODULE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVI_ABI_MAJOR		1
#define EVI_ABI_MINOR		4
#define EVI_MODULE_MAGIC	0x45564d44U	/* "EVMD" */
#define EVI_MODULE_SYMBOL	"evinetd_module"

/* True when the daemon's header is at least version MAJOR.MINOR. */
#define EVI_ABI_AT_LEAST(major, minor) \
	(EVI_ABI_MAJOR > (major) || \
	 (EVI_ABI_MAJOR == (major) && EVI_ABI_MINOR >= (minor)))

#if defined(__GNUC__)
#define EVI_PRINTF(f, a)	__attribute__((__format__(__printf__, f, a)))
#define EVI_EXPORT		__attribute__((__visibility__("default")))
#else
#define EVI_PRINTF(f, a)
#define EVI_EXPORT
#endif

/* Opaque handles; only the daemon knows what is inside. */
struct evi_service;	/* one configured service (a "service NAME { }") */
struct evi_conn;	/* one stream connection */
struct evi_handler;	/* one fd watched for a module */

/*
 * Options.  A module lists the keys it accepts inside a service block; the
 * daemon parses and checks them (type, range, choices), so a typo is a
 * FILE:LINE error from "evinetd -n", not a surprise at run time.
 */
enum evi_option_type {
	EVI_OPT_STRING,		/* any value */
	EVI_OPT_INT,		/* decimal integer within [min, max] */
	EVI_OPT_BOOL,		/* yes or no */
	EVI_OPT_DURATION,	/* 250ms, 30s, 5m, 1h; read as milliseconds */
	EVI_OPT_SIZE,		/* 512, 64k, 8m, 1g; read as bytes */
	EVI_OPT_ENUM,		/* one of the words in choices */
	EVI_OPT_PATH,		/* a file name; a relative one is taken
				   relative to the config file's directory */
	EVI_OPT_ADDRESS		/* 1.1: numeric ADDR:PORT or [ADDR6]:PORT,
				   as strict as "listen"; min and max bound
				   how many (space-separated) a value may
				   hold: both 0, exactly one; max 0, at
				   least min; min 0, one to max */
};

#define EVI_OPT_REQUIRED	0x1	/* the service must set it */

/* Its layout is ABI 1.0 and frozen, padding and all. */
struct evi_option {	/* NOLINT(clang-analyzer-optin.performance.Padding) */
	const char		*name;
	enum evi_option_type	 type;
	const char		*default_value;	/* config syntax, or NULL */
	const char		*help;		/* one line, for docs and -n */
	unsigned int		 flags;		/* EVI_OPT_* flags */
	long long		 min;		/* INT, DURATION, SIZE bounds; */
	long long		 max;		/* both 0 means unbounded */
	const char		*choices;	/* ENUM: "word word word" */
};

/* The table ends with an entry whose name is NULL. */
#define EVI_OPTION_END		{ NULL, EVI_OPT_STRING, NULL, NULL, 0, 0, 0, NULL }

/*
 * Option values of a service, by name.  Only names the module declared
 * may be asked for.  A value that is neither set nor defaulted reads as
 * NULL, 0 or 0.
 */
const char	*evi_opt_string(const struct evi_service *, const char *);
long long	 evi_opt_int(const struct evi_service *, const char *);
int		 evi_opt_bool(const struct evi_service *, const char *);
int		 evi_opt_isset(const struct evi_service *, const char *);
/*
 * 1.1: an EVI_OPT_ADDRESS option's count, and its i-th address (NULL
 * past the end), ready for evi_connect.
 */
size_t		 evi_opt_address_count(const struct evi_service *,
		    const char *);
const struct sockaddr *evi_opt_address(const struct evi_service *,
		    const char *, size_t, socklen_t *);

/* Why a connection ended; the daemon passes it to conn_close. */
enum evi_close_reason {
	EVI_CLOSE_EOF,		/* the peer closed and all output was sent */
	EVI_CLOSE_RESET,	/* the peer reset the connection */
	EVI_CLOSE_ERROR,	/* a socket error other than a reset */
	EVI_CLOSE_TIMEOUT,	/* an idle or session timeout */
	EVI_CLOSE_SHUTDOWN,	/* the daemon is stopping or reloading */
	EVI_CLOSE_LIMIT,	/* a limit of the daemon was exceeded */
	EVI_CLOSE_MODULE,	/* the module closed or finished it */
	EVI_CLOSE_MODULE_ERROR,	/* a module callback returned -1 */
	/* 1.1: an outbound connection (evi_connect) that never connected. */
	EVI_CLOSE_REFUSED,	/* the peer refused it */
	EVI_CLOSE_CONNECT_TIMEOUT, /* no answer within the timeout */
	EVI_CLOSE_UNREACHABLE,	/* no route to the network or host */
	/* 1.2: closed by the operator (evinetdctl close). */
	EVI_CLOSE_ADMIN
};
/*
 * The reasons an accepted connection could end with in 1.0, and the size
 * of evi_stats_service.closed[] (frozen); the 1.1 reasons come only to
 * outbound connections, counted in outbound_failed, and the 1.2 one is
 * counted in closed_admin.  EVI_CLOSE_NREASONS_ALL counts every reason.
 */
#define EVI_CLOSE_NREASONS	8
#define EVI_CLOSE_NREASONS_ALL	12

/* A short lower-case word for a reason ("eof", "reset", ...). */
const char	*evi_close_reason_string(enum evi_close_reason);

/* What a datagram callback receives. */
struct evi_dgram {
	const void		*data;
	size_t			 len;
	const struct sockaddr	*peer;
	socklen_t		 peerlen;
};

/* The largest payload a UDP reply may carry (IPv4, no fragmentation limit). */
#define EVI_DGRAM_MAX		65507

/* Which protocols a module serves. */
#define EVI_PROTO_TCP		0x1
#define EVI_PROTO_UDP		0x2

/*
 * The module descriptor.  Fill it with EVI_MODULE_HEADER first, so the
 * daemon can check what it is before it trusts anything else in it.
 *
 * Return values: 0 to go on, -1 for an error.  -1 from a connection
 * callback closes that connection with EVI_CLOSE_MODULE_ERROR and is
 * counted as a module error; -1 from init refuses the service (set the
 * reason with evi_service_fail first).
 */
struct evi_module {
	uint32_t		 magic;		/* EVI_MODULE_MAGIC */
	uint16_t		 abi_major;	/* EVI_ABI_MAJOR */
	uint16_t		 abi_minor;	/* EVI_ABI_MINOR */
	uint32_t		 size;		/* sizeof(struct evi_module) */

	const char		*name;		/* short name, as in configs */
	const char		*description;	/* one line */
	unsigned int		 protocols;	/* EVI_PROTO_* it supports */
	const struct evi_option	*options;	/* may be NULL */

	/*
	 * Service lifecycle: init is called once per service instance
	 * after its options are checked; *state is what evi_service_state
	 * returns later.  fini releases it; it runs for every successful
	 * init, in reverse order of init.  Both may be NULL.  init runs in
	 * each worker before it drops privileges (as root, usually), so it
	 * may open files only root can read; everything else runs as the
	 * serving user.  "evinetd -n" and a reload also run a trial init
	 * and fini, so init must not have lasting side effects of its own.
	 */
	int	(*init)(struct evi_service *, void **state);
	void	(*fini)(struct evi_service *, void *state);

	/*
	 * Stream callbacks, any of which may be NULL.
	 *
	 * conn_open:    a client connected and passed the daemon's checks.
	 * conn_read:    bytes arrived; consume what you use from "in".  It
	 *               is not called while the output is over the
	 *               service's max_output: that is the backpressure.
	 * conn_drained: all output was handed to the kernel; write more.
	 * conn_eof:     the peer half-closed.  If NULL, the daemon sends
	 *               what is pending and closes (as evi_conn_finish).
	 * conn_close:   the connection is gone; free your data.  It is
	 *               called once for every conn_open that returned 0.
	 */
	int	(*conn_open)(struct evi_conn *);
	int	(*conn_read)(struct evi_conn *, struct evbuffer *in);
	int	(*conn_drained)(struct evi_conn *);
	int	(*conn_eof)(struct evi_conn *);
	void	(*conn_close)(struct evi_conn *, enum evi_close_reason);

	/*
	 * Datagram callback: one call per datagram received by a "udp"
	 * service.  Reply with evi_dgram_reply.
	 */
	int	(*dgram)(struct evi_service *, const struct evi_dgram *);
};

#define EVI_MODULE_HEADER \
	.magic = EVI_MODULE_MAGIC, \
	.abi_major = EVI_ABI_MAJOR, \
	.abi_minor = EVI_ABI_MINOR, \
	.size = sizeof(struct evi_module)

/* Declares the one symbol the daemon looks up. */
#define EVI_MODULE_EXPORT \
	EVI_EXPORT extern const struct evi_module evinetd_module; \
	EVI_EXPORT const struct evi_module evinetd_module

/* Services. */
const char		*evi_service_name(const struct evi_service *);
void			*evi_service_state(const struct evi_service *);
struct event_base	*evi_service_base(const struct evi_service *);

/* Sets init's error message and returns -1: return evi_service_fail(...). */
int	evi_service_fail(struct evi_service *, const char *, ...)
	    EVI_PRINTF(2, 3);

/* Logs through the daemon, prefixed with the service name. */
#define EVI_LOG_ERR	0
#define EVI_LOG_WARN	1
#define EVI_LOG_INFO	2
#define EVI_LOG_DEBUG	3
void	evi_log(const struct evi_service *, int, const char *, ...)
	    EVI_PRINTF(3, 4);

/* Connections. */
struct evi_service	*evi_conn_service(const struct evi_conn *);
void			*evi_conn_data(const struct evi_conn *);
void			 evi_conn_set_data(struct evi_conn *, void *);
const struct sockaddr	*evi_conn_peer(const struct evi_conn *, socklen_t *);
const struct sockaddr	*evi_conn_local(const struct evi_conn *, socklen_t *);
/*
 * The peer as "ADDR:PORT" ("[ADDR]:PORT" for IPv6), in a buffer of the
 * worker's that the next call overwrites: copy it to keep it.
 */
const char		*evi_conn_peer_string(const struct evi_conn *);

/*
 * Input not consumed yet: what conn_read was given and left, for a module
 * that resumes work from conn_drained (pipelined requests, say).
 */
struct evbuffer	*evi_conn_input(struct evi_conn *);

/*
 * Output.  The write functions refuse (return -1, errno ENOBUFS) while
 * the output already holds max_output bytes or more; wait for
 * conn_drained.  They work from anywhere: inside the connection's own
 * callbacks the daemon sends when the callback returns; from elsewhere
 * (a timer, a handler, another connection's callback) it sends later in
 * the same turn of the event loop, everything written meanwhile at once.
 * evi_conn_write_buffer moves all of src without copying.
 * evi_conn_output gives the buffer itself for zero-copy tricks
 * (evbuffer_add_reference and the like): what you add there directly is
 * not checked against max_output, so keeping it bounded is up to you.
 */
int		 evi_conn_write(struct evi_conn *, const void *, size_t);
int		 evi_conn_printf(struct evi_conn *, const char *, ...)
		    EVI_PRINTF(2, 3);
int		 evi_conn_write_buffer(struct evi_conn *, struct evbuffer *);
struct evbuffer	*evi_conn_output(struct evi_conn *);
size_t		 evi_conn_output_length(const struct evi_conn *);

/*
 * Ending.  evi_conn_finish sends what is pending, then closes gracefully;
 * no more conn_read calls are made.  evi_conn_close drops pending output
 * and closes now.  Inside a callback of that connection, both take effect
 * when the callback returns.  Elsewhere (from a timer or handler of
 * yours) both act at once and may close the connection before they
 * return (finish does when nothing is left to send): do not use the
 * connection afterwards; conn_close tells you when it is gone.
 */
void	evi_conn_finish(struct evi_conn *);
void	evi_conn_close(struct evi_conn *);

/* 1.1: the service's max_input and max_output, for a module's own checks. */
size_t	evi_service_max_input(const struct evi_service *);
size_t	evi_service_max_output(const struct evi_service *);

/*
 * Read control (1.1).  While paused, the daemon neither reads the socket
 * nor calls conn_read, so the client's writes block in its kernel: the
 * lever a relay pulls while the other side's output is full.  Input
 * already buffered stays (it still counts against max_input).  Resuming
 * from outside the connection's callbacks offers that input to conn_read
 * again, in the same turn of the loop.  Neither closes the connection.
 */
void	evi_conn_pause_read(struct evi_conn *);
void	evi_conn_resume_read(struct evi_conn *);

/*
 * Half-close (1.1): send what is pending, then shutdown(SHUT_WR), and go
 * on reading; the peer sees EOF.  Later writes fail with EPIPE.  When the
 * peer's EOF comes too, conn_eof is called as usual (NULL: the connection
 * closes), and a connection shut both ways with nothing left to send is
 * closed with EVI_CLOSE_EOF.  Returns 0 (also when called again), or -1:
 * EPIPE if it is already closing, EBUSY if it is relayed.
 */
int	evi_conn_shutdown_write(struct evi_conn *);

/*
 * Outbound connections (1.1).  evi_connect starts a non-blocking TCP
 * connection to addr and returns at once; the result is an evi_conn like
 * an accepted one (the same buffers, backpressure, write, finish, close,
 * pause and half-close; the service's idle_timeout and session_timeout
 * once connected), whose callbacks come from ops instead of the module
 * descriptor, and whose data starts as "data".
 *
 * conn_open is called once connected (TCP_NODELAY is set).  Output
 * written before that is sent then.  If it does not connect within
 * timeout_ms (0: the kernel's own timeout), or the peer refuses, or there
 * is no route, conn_close comes with EVI_CLOSE_CONNECT_TIMEOUT,
 * EVI_CLOSE_REFUSED, EVI_CLOSE_UNREACHABLE or EVI_CLOSE_ERROR, always
 * after evi_connect has returned.  conn_close is called exactly once for
 * every connection evi_connect returned, connected or not.
 *
 * evi_connect returns NULL (errno set) only when no attempt could start:
 * no descriptor left (EMFILE), an address that is not IPv4 or IPv6 or is
 * shorter than its family's (EAFNOSUPPORT), a NULL address or ops, a
 * negative timeout, or a call from init, before any worker serves
 * (EINVAL).
 *
 * Outbound connections do not count as accepted or active connections of
 * the service, nor in closed[]; they have outbound_* counters.  The daemon
 * closes them as it closes the others when it stops.
 *
 * struct evi_conn_ops is frozen: if a later minor needs more outbound
 * callbacks, it adds a new struct and a new function.
 */
struct evi_conn_ops {
	int	(*conn_open)(struct evi_conn *);
	int	(*conn_read)(struct evi_conn *, struct evbuffer *in);
	int	(*conn_drained)(struct evi_conn *);
	int	(*conn_eof)(struct evi_conn *);
	void	(*conn_close)(struct evi_conn *, enum evi_close_reason);
};

struct evi_conn	*evi_connect(struct evi_service *, const struct sockaddr *,
		    socklen_t, long long timeout_ms,
		    const struct evi_conn_ops *, void *data);
/* 1 for a connection made by evi_connect, 0 for an accepted one. */
int		 evi_conn_outbound(const struct evi_conn *);

/*
 * The PROXY protocol (1.1).  On a service with proxy_protocol, the peer
 * is the client the load balancer's header names, and evi_conn_via is
 * the balancer itself (NULL when there was no header with an address:
 * another service, a v2 LOCAL health check, a v1 UNKNOWN).
 * evi_conn_proxy_tlv finds the first v2 TLV of a type (EVI_PP2_*) and
 * sets *len to the length of its value, or returns NULL.  Both point into
 * the connection and stay valid until its conn_close returns.
 */
#define EVI_PP2_TYPE_ALPN	0x01
#define EVI_PP2_TYPE_AUTHORITY	0x02
#define EVI_PP2_TYPE_CRC32C	0x03
#define EVI_PP2_TYPE_NOOP	0x04
#define EVI_PP2_TYPE_UNIQUE_ID	0x05
#define EVI_PP2_TYPE_SSL	0x20	/* with sub-TLVs: parse the value */
#define EVI_PP2_TYPE_NETNS	0x30
const struct sockaddr	*evi_conn_via(const struct evi_conn *, socklen_t *);
const void		*evi_conn_proxy_tlv(const struct evi_conn *, int,
			    size_t *);

/*
 * Relaying (1.1): from now on the daemon moves the bytes of a to b and of
 * b to a, with backpressure both ways (it stops reading one side while
 * the other cannot take more) and each half-close carried across (a's
 * EOF becomes shutdown(SHUT_WR) on b once a's bytes are through).  Input
 * either side had buffered, and output either had pending, go first.
 * Where nothing transforms the bytes, they go socket to socket through a
 * kernel pipe with splice(2), never copied into user space, once a
 * direction carries bulk (small exchanges are cheaper copied).
 *
 * Both must be connected (an outbound one: from its conn_open on) and not
 * closing.  After the call the daemon no longer calls conn_read,
 * conn_drained or conn_eof of either, and writing to them fails (EBUSY);
 * do not add to evi_conn_output's buffer either, which the relay uses as
 * its stage.  conn_close still comes to each.  When both directions have
 * ended, both close with EVI_CLOSE_EOF.  If one side fails or is closed,
 * the other sends what it has, then closes, with the same reason.
 *
 * Returns 0, or -1 with errno: EINVAL (the same connection twice, or one
 * already relayed), ENOTCONN (not connected yet), EPIPE (closing or
 * half-closed).
 */
int	evi_relay(struct evi_conn *a, struct evi_conn *b);

/*
 * 1.3: hands the connection to the program its service names (the exec
 * keys of evinetd.conf(5): program, args, user, ...): the daemon's
 * supervisor runs it with the socket as its stdin and stdout.  Only the
 * configuration decides what runs and as whom; a module only says when.
 * From then on the daemon calls none of the connection's callbacks but
 * conn_close, which comes when the program has exited (EVI_CLOSE_EOF),
 * was killed at session_timeout (EVI_CLOSE_TIMEOUT), could not be run
 * (EVI_CLOSE_ERROR) or was not, because instances of it already run
 * (EVI_CLOSE_LIMIT).  Call it from conn_open, before anything is read or
 * written.
 *
 * Returns 0, or -1 with errno: EINVAL (not an exec service, an outbound
 * or relayed connection, or one closing), EBUSY (bytes were read or
 * written), or what sending the socket to the supervisor failed with.
 */
int	evi_conn_exec(struct evi_conn *);

/*
 * 1.4: what TLS negotiated, for a connection of a service with
 * tls_certificate (evinetd.conf(5)); NULL for a plaintext or outbound
 * connection.  The daemon does the handshake before conn_open, so the
 * answer is complete from conn_open on, and stays valid until conn_close
 * returns.  The module itself only ever sees plaintext.  A later minor
 * may append members.
 */
struct evi_tls_info {
	const char	*version;	/* "TLSv1.2", "TLSv1.3" */
	const char	*cipher;	/* e.g. "TLS_AES_128_GCM_SHA256" */
	const char	*sni;		/* the name the client asked for, or NULL */
	const char	*alpn;		/* the protocol agreed, or NULL */
	int		 resumed;	/* 1: a resumed session */
	int		 client_cert;	/* 1: the client presented one */
	int		 client_verified; /* 1: and it verified (tls_client_ca) */
	const char	*client_subject; /* RFC 2253 form, or NULL */
	const char	*client_sha256;	/* fingerprint: 64 hex digits, or NULL */
};
const struct evi_tls_info *evi_conn_tls(const struct evi_conn *);

/* Datagrams: answer the datagram being handled (at most EVI_DGRAM_MAX). */
int	evi_dgram_reply(struct evi_service *, const struct evi_dgram *,
	    const void *, size_t);

/*
 * Handlers: the IOLoop model for a module's own descriptors.  Watch fd for
 * EVI_READ and/or EVI_WRITE; the callback gets the events that happened.
 * An error or hang-up on the fd shows as readiness (as with poll(2)): the
 * next read or write returns it.  Handlers persist until removed or
 * updated to 0; remove every handler before fini returns (the daemon
 * removes and logs any that are left).  The fd stays the module's.
 */
#define EVI_READ	0x1
#define EVI_WRITE	0x2

typedef void (*evi_handler_cb)(int fd, int events, void *arg);

struct evi_handler	*evi_handler_add(struct evi_service *, int, int,
			    evi_handler_cb, void *);
int			 evi_handler_update(struct evi_handler *, int);
void			 evi_handler_remove(struct evi_handler *);

/*
 * Counters, read-only, for modules that report on the daemon (the stats
 * module serves them over HTTP).  The structs belong to the daemon and
 * are valid only during the call that hands them out; a later ABI minor
 * may append members, never reorder them.
 */
enum evi_refuse_reason {
	EVI_REFUSE_ACL,			/* only_from / no_access */
	EVI_REFUSE_MAX_CONNECTIONS,	/* service or global limit */
	EVI_REFUSE_PER_SOURCE,		/* per-client connection limit */
	EVI_REFUSE_RATE,		/* connection rate limit */
	EVI_REFUSE_FD,			/* out of file descriptors */
	EVI_REFUSE_REFLECTION,		/* UDP reflection guard */
	/* 1.2: the operator disabled the service (evinetdctl disable, drain). */
	EVI_REFUSE_DISABLED
};
/*
 * The 1.0 reasons, and the size of evi_stats_service.refused[] (frozen):
 * the 1.2 one is counted in refused_disabled.  EVI_REFUSE_NREASONS_ALL
 * counts every reason.
 */
#define EVI_REFUSE_NREASONS	6
#define EVI_REFUSE_NREASONS_ALL	7

/* A short lower-case word for a reason ("acl", "rate", ...). */
const char	*evi_refuse_reason_string(enum evi_refuse_reason);

/* 1.4: why a TLS handshake failed, for tls_handshake_failures[]. */
enum evi_tls_failure {
	EVI_TLS_FAIL_TIMEOUT,		/* not done within tls_handshake_timeout */
	EVI_TLS_FAIL_EOF,		/* the client left (or reset) mid-way */
	EVI_TLS_FAIL_NOT_TLS,		/* the bytes were not a TLS handshake */
	EVI_TLS_FAIL_VERSION,		/* no protocol version in common */
	EVI_TLS_FAIL_CIPHER,		/* no cipher or group in common */
	EVI_TLS_FAIL_CLIENT_CERT,	/* client certificate absent or bad */
	EVI_TLS_FAIL_ALPN,		/* no ALPN protocol in common */
	EVI_TLS_FAIL_ALERT,		/* the client sent an alert (it does
					   not trust our certificate, ...) */
	EVI_TLS_FAIL_OTHER		/* any other protocol error */
};
#define EVI_TLS_FAIL_NREASONS	9

/* A short lower-case word for a reason ("timeout", "not_tls", ...). */
const char	*evi_tls_failure_string(enum evi_tls_failure);

struct evi_stats_service {
	const char	*name;
	const char	*module;
	const char	*protocol;		/* "tcp" or "udp" */
	uint64_t	 accepted;		/* connections */
	uint64_t	 active;
	uint64_t	 closed[EVI_CLOSE_NREASONS];
	uint64_t	 refused[EVI_REFUSE_NREASONS];
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 dgrams_in;
	uint64_t	 dgrams_out;
	uint64_t	 module_errors;
	/* 1.1: connections the module made with evi_connect. */
	uint64_t	 outbound_connects;	/* that connected */
	uint64_t	 outbound_failed;	/* that did not */
	uint64_t	 outbound_bytes_in;
	uint64_t	 outbound_bytes_out;
	/* 1.1: PROXY headers malformed, refused or late (proxy_protocol). */
	uint64_t	 proxy_errors;
	/* 1.2: operator control. */
	uint64_t	 refused_disabled;	/* EVI_REFUSE_DISABLED */
	uint64_t	 closed_admin;		/* EVI_CLOSE_ADMIN */
	/* 1.3: programs run for connections (evi_conn_exec). */
	uint64_t	 exec_started;
	uint64_t	 exec_failed;		/* could not be run */
	uint64_t	 exec_exit_ok;		/* exited with status 0 */
	uint64_t	 exec_exit_error;	/* another status */
	uint64_t	 exec_signaled;		/* killed by a signal */
	/* 1.4: TLS (services with tls_certificate). */
	uint64_t	 tls;			/* 1: the service speaks TLS */
	uint64_t	 tls_handshakes;	/* completed, resumed ones too */
	uint64_t	 tls_resumed;		/* of which resumed */
	uint64_t	 tls_handshake_failures[EVI_TLS_FAIL_NREASONS];
};

struct evi_stats_global {
	uint64_t	 start_time;		/* Unix seconds */
	uint64_t	 uptime_ms;
	uint64_t	 reloads_ok;
	uint64_t	 reloads_failed;
	uint64_t	 worker_restarts;
	uint64_t	 workers;
	uint64_t	 open_fds;
	uint64_t	 services;
	const char	*version;		/* the daemon's */
};

typedef int (*evi_stats_cb)(const struct evi_stats_service *, void *arg);

/*
 * Calls cb for each service, in config order; stops early if cb != 0.
 * The counters are totals since the daemon started: a service that a
 * reload keeps (same name and protocol) keeps them; active counts every
 * generation's open connections.
 */
int	evi_stats_foreach(const struct evi_service *, evi_stats_cb, void *);
/*
 * Fills in a snapshot of the daemon-wide figures.  NULL during the trial
 * init that "evinetd -n" and a reload run, when no worker exists yet.
 */
const struct evi_stats_global *evi_stats_global(const struct evi_service *);

#ifdef __cplusplus
}
#endif

#endif /* EVINETD_MODULE_H */
