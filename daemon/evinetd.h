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
 * The daemon's one internal header.  Prototypes are grouped by the file
 * that defines them.  What modules may use lives in <evinetd/module.h>;
 * the opaque types declared there are defined here.
 */

#ifndef EVINETD_H
#define EVINETD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/buffer.h>

#include "evinetd/module.h"

#define EVINETD_EXIT_OK		0
#define EVINETD_EXIT_CONFIG	1	/* config or usage error */
#define EVINETD_EXIT_RUNTIME	2	/* bind failure and the like */

#define DEFAULT_MAX_OUTPUT	(256 * 1024)
#define DEFAULT_MAX_INPUT	(64 * 1024)
#define DEFAULT_SHUTDOWN_MS	10000
#define CONF_INCLUDE_DEPTH	8
#define LISTEN_BACKLOG		511
#define ACCEPT_BATCH		64
#define ACCEPT_PAUSE_MS		100
#define LINGER_MS		2000
#define READ_CHUNK		16384
#define READ_CHUNKS_PER_EVENT	4

/* An IPv4 or IPv6 socket address, no bigger than it needs to be. */
union sockunion {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

/* Room for "[ffff:...:ffff%scope]:65535". */
#define ADDR_STRLEN		80

/* log.c */
#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2
void	log_init(int, int);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_procname(const char *);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_vmsg(int, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	log_libevent(int, const char *);
__attribute__((noreturn, format(printf, 1, 2)))
void	fatal(const char *, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void	fatalx(const char *, ...);

/* xmalloc.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* addr.c */
struct listen_addr {
	int		 la_any;	/* "*": both families */
	union sockunion	 la_su;		/* valid unless la_any */
	socklen_t	 la_len;
	in_port_t	 la_port;	/* host order */
};
int		 addr_parse_listen(const char *, struct listen_addr *, char **);
int		 addr_parse_port(const char *, in_port_t *, char **);
const char	*addr_string(const struct sockaddr *, char *, size_t);
socklen_t	 addr_len(const struct sockaddr *);

/* value.c */
int	value_bool(const char *, int *, char **);
int	value_int(const char *, long long, long long, long long *, char **);
int	value_size(const char *, long long, long long, long long *, char **);
int	value_duration(const char *, long long, long long, long long *,
	    char **);

/* config.c */
struct conf_item {
	TAILQ_ENTRY(conf_item)	 ci_entry;
	char			*ci_key;
	char			**ci_argv;
	int			 ci_argc;
	const char		*ci_file;	/* interned in config */
	int			 ci_line;
};
TAILQ_HEAD(conf_items, conf_item);

struct listen_conf {
	TAILQ_ENTRY(listen_conf) lc_entry;
	char			*lc_text;
	struct listen_addr	 lc_addr;
	const char		*lc_file;
	int			 lc_line;
};
TAILQ_HEAD(listen_confs, listen_conf);

/* A parsed option value of a module, parallel to its option table. */
struct optval {
	const struct evi_option	*ov_opt;
	int			 ov_set;	/* set or defaulted */
	char			*ov_str;
	long long		 ov_num;
};

struct service_conf {
	TAILQ_ENTRY(service_conf) sc_entry;
	char			*sc_name;
	const char		*sc_file;
	int			 sc_line;
	char			*sc_module_name;
	int			 sc_module_line;
	int			 sc_protocol;	/* EVI_PROTO_TCP or _UDP */
	long long		 sc_max_output;
	long long		 sc_max_input;
	int			 sc_reflection_guard;	/* udp */
	int			 sc_log_connections;
	struct listen_confs	 sc_listens;
	struct conf_items	 sc_options;	/* module options, raw */

	struct module		*sc_module;	/* after config_check */
	struct optval		*sc_optvals;
	size_t			 sc_noptvals;
	TAILQ_HEAD(, listener)	 sc_listeners;	/* after listener_bind */
};
TAILQ_HEAD(service_confs, service_conf);

struct conf_error {
	TAILQ_ENTRY(conf_error)	 ce_entry;
	char			*ce_msg;
};

struct conf_file {
	TAILQ_ENTRY(conf_file)	 cf_entry;
	char			*cf_name;
};

struct config {
	char			*c_path;
	char			*c_module_dir;
	int			 c_module_dir_forced;	/* -M */
	long long		 c_shutdown_ms;
	struct service_confs	 c_services;
	TAILQ_HEAD(modules, module) c_modules;
	TAILQ_HEAD(, conf_file)	 c_files;	/* interned file names */
	TAILQ_HEAD(, conf_error) c_errors;
	int			 c_nerrors;
	int			 c_depth;		/* include depth */
};

struct config	*config_new(const char *, const char *);
int		 config_parse_file(struct config *, const char *);
int		 config_parse_buffer(struct config *, const char *,
		    const char *, size_t);
int		 config_finish(struct config *);
int		 config_check(struct config *);
void		 config_error(struct config *, const char *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 config_log_errors(struct config *);
void		 config_free(struct config *);
struct config	*config_load(const char *, const char *, int);
const char	*config_core_keys(void);

/* module.c */
struct module {
	TAILQ_ENTRY(module)	 m_entry;
	char			*m_path;
	void			*m_handle;
	const struct evi_module	*m_def;
};
char	*module_path(const char *, const char *, char **);
struct module *module_load(const char *, char **);
void	 module_unload(struct module *);
int	 module_options(struct config *, struct service_conf *);
void	 module_optvals_free(struct service_conf *);

/* listener.c */
struct listener {
	TAILQ_ENTRY(listener)	 l_entry;
	struct service_conf	*l_sc;
	int			 l_fd;
	int			 l_protocol;
	union sockunion		 l_su;
	socklen_t		 l_len;
	char			 l_name[ADDR_STRLEN];
	struct event		 l_ev;		/* worker's accept/recv */
	struct event		 l_pause;	/* EMFILE back-off */
	int			 l_attached;
	struct evi_service	*l_svc;		/* serving instance */
};
int	listener_bind(struct config *, struct service_conf *, char **);
int	listener_bind_all(struct config *);
void	listener_attach(struct listener *, struct evi_service *);
void	listener_detach(struct listener *);
void	listener_close_all(struct config *);

/* service.c */
struct svc_stats {
	uint64_t	 st_accepted;
	uint64_t	 st_active;
	uint64_t	 st_closed[EVI_CLOSE_NREASONS];
	uint64_t	 st_bytes_in;
	uint64_t	 st_bytes_out;
	uint64_t	 st_dgrams_in;
	uint64_t	 st_dgrams_out;
	uint64_t	 st_module_errors;
	uint64_t	 st_refused_fd;
	uint64_t	 st_refused_reflection;
};

struct evi_service {
	TAILQ_ENTRY(evi_service) s_entry;
	struct worker		*s_worker;	/* NULL in a trial init */
	struct event_base	*s_base;
	struct service_conf	*s_conf;
	const struct evi_module	*s_mod;
	void			*s_state;
	int			 s_inited;
	char			*s_error;	/* from evi_service_fail */
	TAILQ_HEAD(, evi_conn)	 s_conns;
	TAILQ_HEAD(, evi_handler) s_handlers;
	struct svc_stats	 s_stats;
	const struct evi_dgram	*s_dgram;	/* being handled */
	struct listener		*s_dgram_listener;
	time_t			 s_reflect_logged;	/* last summary */
	uint64_t		 s_reflect_unlogged;
};
struct evi_service *service_new(struct worker *, struct service_conf *,
	    char **);
void	service_free(struct evi_service *);
int	service_check_init(struct service_conf *, char **);

/* conn.c */
#define CONN_IN_CALLBACK	0x01
#define CONN_CLOSE_PENDING	0x02
#define CONN_FINISHING		0x04
#define CONN_OPENED		0x08	/* conn_open returned 0 */
#define CONN_PEER_EOF		0x10
#define CONN_READING		0x20	/* read event added */
#define CONN_WRITING		0x40	/* write event added */
#define CONN_LINGERING		0x80
#define CONN_DRAINED_PENDING	0x100

struct evi_conn {
	TAILQ_ENTRY(evi_conn)	 c_entry;
	struct evi_service	*c_svc;
	int			 c_fd;
	int			 c_flags;
	enum evi_close_reason	 c_reason;	/* pending close reason */
	struct evbuffer		*c_in;
	struct evbuffer		*c_out;
	struct event		 c_rev;
	struct event		 c_wev;
	struct event		 c_timer;	/* linger */
	union sockunion		 c_peer;
	union sockunion		 c_local;
	struct timeval		 c_start;
	uint64_t		 c_bytes_in;
	uint64_t		 c_bytes_out;
	void			*c_data;
};
void	conn_accept(struct evi_service *, int, const struct sockaddr *,
	    socklen_t);
void	conn_close(struct evi_conn *, enum evi_close_reason);

/* handler.c */
struct evi_handler {
	TAILQ_ENTRY(evi_handler) h_entry;
	struct evi_service	*h_svc;
	int			 h_fd;
	int			 h_events;
	evi_handler_cb		 h_cb;
	void			*h_arg;
	struct event		 h_ev;
};
void	handler_remove_all(struct evi_service *);

/* dgram.c */
void	dgram_recv(evutil_socket_t, short, void *);

/* stats.c */
void	stats_service(const struct evi_service *, struct evi_stats_service *);
void	stats_dump(struct worker *);
void	stats_log_close(struct evi_conn *, enum evi_close_reason);
void	stats_log_dgram(struct evi_service *, const struct listener *,
	    const struct sockaddr *, size_t, uint64_t, const char *);

/* worker.c */
struct worker {
	struct event_base	*w_base;
	struct config		*w_config;
	TAILQ_HEAD(evi_services, evi_service) w_services;
	uint64_t		 w_nconns;
	int			 w_stopping;	/* 1 draining, 2 closing */
	struct event		 w_stop_timer;
	char			 w_addrbuf[ADDR_STRLEN];
	unsigned char		 w_dgrambuf[65536];
	struct timeval		 w_start;
	struct evi_stats_global	 w_gstats;	/* evi_stats_global's */
};
struct worker	*worker_new(struct event_base *, struct config *, char **);
void		 worker_stop(struct worker *, int);
void		 worker_conn_gone(struct worker *);
void		 worker_free(struct worker *);

#endif /* EVINETD_H */
