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
#include <sys/resource.h>
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

#define DEFAULT_USER		"nobody"
#define CONF_INCLUDE_DEPTH	8
#define LISTEN_BACKLOG		511
#define ACCEPT_BATCH		64
#define ACCEPT_PAUSE_MS		100
#define LINGER_MS		2000
#define READ_MIN		896	/* + chain header: a 1 KiB malloc */
#define READ_MAX		65536
#define READ_PER_EVENT		(256 * 1024)	/* then others' turn */

struct worker;
struct listener;
struct bufferevent;
struct json_t;
struct control;
struct dgram_guard;
struct confkey;
struct proxy_info;

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
int	log_getverbose(void);
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
int		 addr_same(const union sockunion *, const union sockunion *);
int		 addr_unspecified(const union sockunion *);

/* trust.c */
int	trust_open(const char *, char **);
int	trust_dir(const char *, char **);
int	trust_option_path(const char *, const char *, char **);

/* value.c */
int	value_bool(const char *, int *, char **);
int	value_int(const char *, long long, long long, long long *, char **);
int	value_size(const char *, long long, long long, long long *, char **);
int	value_duration(const char *, long long, long long, long long *,
	    char **);
int	value_rate(const char *, double *, char **);

/* acl.c */
struct acl_entry {
	int		 ae_family;
	int		 ae_prefix;
	uint8_t		 ae_addr[16];
};
struct acl {
	struct acl_entry *acl_entries;
	size_t		 acl_count;
};
int	acl_parse_entry(const char *, struct acl_entry *, char **);
void	acl_add(struct acl *, const struct acl_entry *);
void	acl_free(struct acl *);
void	acl_peer(const struct sockaddr *, int *, uint8_t [16]);
int	acl_allows(const struct acl *, const struct acl *,
	    const struct sockaddr *);

/* limits.c (configuration part; the rest is further down) */
struct rate_conf {
	double		 rc_per_sec;	/* 0: no limit */
	double		 rc_burst;
};

/* Limits of a service, or the global defaults services inherit. */
/*
 * A service's TLS keys (tlsconf.c).  Inheritable, so they live with the
 * limits; tc_ctx is built from them by tlsconf_check, as root.
 */
struct tls_files {
	char		**tf_paths;
	int		  tf_n;
};
/* Mozilla's "intermediate" profile (docs/security.md). */
#define TLSCONF_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:" \
	"DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLSCONF_CIPHERSUITES "TLS_AES_128_GCM_SHA256:" \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLSCONF_GROUPS		"X25519:P-256:P-384"
#define TLS_VERIFY_NO		0
#define TLS_VERIFY_OPTIONAL	1
#define TLS_VERIFY_REQUIRE	2
struct tls_conf {
	struct tls_files tc_certs;	/* tls_certificate, in order */
	struct tls_files tc_keys;	/* tls_key, paired with them */
	char		*tc_client_ca;
	long long	 tc_verify;	/* TLS_VERIFY_* */
	long long	 tc_protocols;	/* bit n: TLSv1.n (TLSv1 is bit 0) */
	char		*tc_ciphers;
	char		*tc_ciphersuites;
	char		*tc_alpn;	/* as written, space-separated */
	int		 tc_tickets;
	long long	 tc_handshake_ms;
	int		 tc_on;		/* the service speaks TLS */
	struct tls_ctx	*tc_ctx;	/* its contexts; NULL: plaintext, or
					   a worker that does not serve it */
};

struct limits_conf {
	struct acl	 lim_only;
	struct acl	 lim_deny;
	long long	 lim_max_conns;	/* 0: no limit */
	long long	 lim_per_source;
	long long	 lim_prefix6;
	struct rate_conf lim_rate;
	struct rate_conf lim_src_rate;
	long long	 lim_idle_ms;	/* 0: none */
	long long	 lim_session_ms;
	char		*lim_banner;
	long long	 lim_reply_budget;	/* udp bytes/s per source; 0 */
	long long	 lim_proxy;	/* PROXY_V1 | PROXY_V2; 0: no */
	struct acl	 lim_proxy_from;	/* balancers */
	long long	 lim_proxy_ms;	/* proxy_timeout */
	struct tls_conf	 lim_tls;
};

/* config.c */
/* One line of a file: where a key was set. */
struct conf_line {
	const char		*cl_file;	/* interned in config */
	int			 cl_line;
};

/*
 * Where a core key was set (cw_line 0: not set), with its values as
 * written: services inherit a global default's, and confdump shows them.
 * A CK_REPEAT key has the values of all its lines, and every line.
 */
struct conf_where {
	const char		*cw_file;	/* the first line */
	int			 cw_line;
	char			**cw_argv;
	int			 cw_argc;
	struct conf_line	*cw_lines;	/* CK_REPEAT: each line */
	int			 cw_nlines;
};

enum conf_tok_type {
	TOK_WORD, TOK_STRING, TOK_EQUALS, TOK_LBRACE, TOK_RBRACE
};
struct conf_token {
	enum conf_tok_type	 type;
	char			*text;
};

/* The line being parsed, and the service block it is in. */
struct parse_state {
	struct config		*ps_cf;
	const char		*ps_file;
	int			 ps_line;
	struct service_conf	*ps_svc;	/* open service block */
};

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
	struct listen_addr	 lc_addr;	/* unless lc_fdname */
	const char		*lc_fdname;	/* fd:NAME: in lc_text */
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
	union sockunion		*ov_addrs;	/* EVI_OPT_ADDRESS */
	size_t			 ov_naddrs;
};

/*
 * A module option as its table declares it, copied while the module is
 * loaded: the supervisor unloads modules after checking, and confdump
 * still names every option and its default.
 */
struct optdecl {
	char			*od_name;
	char			*od_default;	/* config syntax, or NULL */
};

/* execconf.c: the keys of an exec service (module = exec). */
#define EXEC_NRLIMITS		7
#define EXEC_STDERR_LOG		0
#define EXEC_STDERR_SOCKET	1
#define EXEC_STDERR_NULL	2
struct exec_rlimit {
	const char		*er_name;
	int			 er_resource;
	enum evi_option_type	 er_type;
};
extern const struct exec_rlimit exec_rlimits[EXEC_NRLIMITS];
struct exec_conf {
	char			*ex_program;
	char			**ex_argv;	/* NULL-terminated, or NULL */
	int			 ex_argc;
	char			*ex_user;
	char			*ex_group;
	char			**ex_groups;
	int			 ex_ngroups;
	char			**ex_env;	/* NAME=VALUE */
	int			 ex_nenv;
	char			**ex_passenv;
	int			 ex_npassenv;
	char			*ex_cwd;
	long long		 ex_umask;
	long long		 ex_nice;
	struct {
		int		 erv_set;
		rlim_t		 erv_value;
	}			 ex_rlimits[EXEC_NRLIMITS];
	long long		 ex_instances;	/* 0: no limit */
	int			 ex_stderr;	/* EXEC_STDERR_* */
	int			 ex_wait;
	uid_t			 ex_uid;	/* resolved by execconf_check */
	gid_t			 ex_gid;
	gid_t			*ex_gids;	/* ex_gid, then groups */
	int			 ex_ngids;
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
	int			 sc_isolate;
	int			 sc_reuseport;	/* a socket per process */
	int			 sc_steer;	/* reuseport by source address */
	int			 sc_relay_splice; /* evi_relay may splice */
	long long		 sc_workers;	/* isolated: processes */
	size_t			 sc_index;	/* order in the config */
	struct limits_conf	 sc_limits;
	struct listen_confs	 sc_listens;
	struct conf_items	 sc_options;	/* module options, raw */
	struct conf_where	*sc_set;	/* by confkeys[] index */
	struct exec_conf	 sc_exec;	/* module = exec */

	struct module		*sc_module;	/* after config_check */
	int			 sc_options_ok;
	int			 sc_listen_seen;
	char			*sc_module_label;	/* its descriptor's name */
	struct optval		*sc_optvals;
	size_t			 sc_noptvals;
	struct optdecl		*sc_optdecls;	/* outlive the module */
	size_t			 sc_noptdecls;
	TAILQ_HEAD(listeners, listener) sc_listeners;	/* after listener_bind */
};
TAILQ_HEAD(service_confs, service_conf);

struct conf_error {
	TAILQ_ENTRY(conf_error)	 ce_entry;
	char			*ce_msg;
};

struct conf_file {
	TAILQ_ENTRY(conf_file)	 cf_entry;
	char			*cf_name;
	int			 cf_read;	/* read from disk: dev, ino */
	dev_t			 cf_dev;
	ino_t			 cf_ino;
};

struct config {
	char			*c_path;
	char			*c_module_dir;
	int			 c_module_dir_forced;	/* -M */
	long long		 c_shutdown_ms;
	long long		 c_max_conns;	/* all services */
	long long		 c_drain_ms;
	long long		 c_start_ms;	/* new workers to be ready; 0 */
	long long		 c_workers;	/* shared group; 0: auto */
	size_t			 c_nshared;	/* c_workers, auto resolved */
	char			*c_user;
	char			*c_group;
	char			*c_pidfile;
	int			 c_user_line;
	const char		*c_user_file;
	int			 c_switch;	/* workers change ids */
	int			 c_core_dumps;
	char			*c_control;	/* control_socket; NULL: none */
	int			 c_control_default;	/* compiled in */
	char			*c_control_group;
	gid_t			 c_control_gid;
	uid_t			 c_uid;
	gid_t			 c_gid;
	size_t			 c_nservices;
	struct limits_conf	 c_defaults;
	struct conf_where	*c_set;		/* by confkeys[] index */
	struct tls_tickets	*c_tls_tickets;	/* the generation's */
	struct service_confs	 c_services;
	struct dgram_guard	*c_guard;	/* after listener_bind_all */
	TAILQ_HEAD(modules, module) c_modules;
	TAILQ_HEAD(, conf_file)	 c_files;	/* interned file names */
	TAILQ_HEAD(, conf_error) c_errors;
	int			 c_nerrors;
	int			 c_depth;		/* include depth */
	int			 c_no_include;	/* fuzzing: include is an error */
};

struct config	*config_new(const char *, const char *);
int		 config_parse_file(struct config *, const char *);
int		 config_parse_buffer(struct config *, const char *,
		    const char *, size_t);
int		 config_finish(struct config *);
int		 config_check(struct config *);
int		 config_load_modules(struct config *,
		    const struct service_conf *, int);
void		 config_unload_modules(struct config *);
void		 config_error(struct config *, const char *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 config_log_errors(struct config *);
void		 config_free(struct config *);
struct config	*config_load(const char *, const char *, int);
struct config	*config_load_checked(const char *, const char *, int);
size_t		 config_procs(const struct config *,
		    const struct service_conf *);
int		 config_key_include(struct parse_state *,
		    const struct confkey *, struct conf_token *, int, void *);
struct suggestion {
	size_t		 sg_distance;	/* SIZE_MAX: none yet */
	char		 sg_word[65];
};
void		 config_suggest(struct suggestion *, const char *,
		    const char *, size_t);

/* confkeys.c */
#define CK_GLOBAL	0x1	/* outside service blocks */
#define CK_SERVICE	0x2	/* inside service blocks */
#define CK_INHERIT	(CK_GLOBAL | CK_SERVICE)	/* global: a default */

#define CK_LIST		0x1	/* takes any number of values */
#define CK_REPEAT	0x2	/* may be given again, and adds */
#define CK_EXEC		0x4	/* a key of exec services only */

/*
 * One core key, in the spirit of nginx's ngx_command_t.  The value is
 * stored by ck_set, or, when that is NULL, by ck_type at ck_offset into
 * struct config (CK_GLOBAL), struct service_conf (CK_SERVICE) or struct
 * limits_conf (CK_INHERIT: a service's, or the global defaults).  A core
 * EVI_OPT_PATH must be absolute.
 */
typedef int (*confkey_set_cb)(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
struct confkey {
	const char		*ck_name;
	unsigned int		 ck_scope;	/* CK_GLOBAL, _SERVICE, _INHERIT */
	unsigned int		 ck_flags;	/* CK_LIST, CK_REPEAT */
	enum evi_option_type	 ck_type;
	long long		 ck_min;	/* INT, DURATION, SIZE bounds */
	long long		 ck_max;
	confkey_set_cb		 ck_set;	/* NULL: stored by ck_type */
	size_t			 ck_offset;
	const char		*ck_default;	/* config syntax, or NULL */
	const char		*ck_example;	/* a valid value, not the default */
	const char		*ck_help;
};
extern const struct confkey	confkeys[];
extern const size_t		confkeys_count;
const struct confkey	*confkey_find(const char *, unsigned int);
int			 confkey_apply(struct parse_state *, const char *,
			    struct conf_token *, int);
void			 confkey_defaults(struct config *,
			    struct service_conf *);
void			 confkey_inherit(struct config *,
			    struct service_conf *);
void			 confkey_where_free(struct conf_where *);
char			*confkey_list(unsigned int);
void			 confkey_suggest(struct suggestion *, const char *,
			    unsigned int);
void			 confkey_error(struct parse_state *, const char *, ...)
			    __attribute__((format(printf, 2, 3)));

/* execconf.c */
int	execconf_set_list(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
int	execconf_set_umask(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
int	execconf_set_stderr(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
int	execconf_set_rlimit(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
void	execconf_check(struct config *, struct service_conf *);
void	execconf_free(struct exec_conf *);

/* tlsconf.c */
int	tlsconf_set_file(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
int	tlsconf_set_protocols(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
int	tlsconf_set_verify(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
int	tlsconf_set_alpn(struct parse_state *, const struct confkey *,
	    struct conf_token *, int, void *);
void	tlsconf_check(struct config *, struct service_conf *);
void	tlsconf_free(struct tls_conf *);
void	tlsconf_ctx_free(struct tls_ctx *);
struct tls_tickets *tlsconf_tickets_new(void);
void	tlsconf_tickets_advance(struct tls_tickets *);
int	tlsconf_ticket_lookup(const struct tls_tickets *,
	    const unsigned char *);
void	tlsconf_tickets_free(struct tls_tickets *);
void	tlsconf_forget(struct config *, int (*)(const struct service_conf *,
	    void *), void *);

/* tls.c */
#define TLS_TICKET_SECRET	32
#define TLS_TICKET_KEYS		3	/* the hour's, and two before it */
struct tls_ticket_key {
	unsigned char	 tk_name[16];
	unsigned char	 tk_aes[32];
	unsigned char	 tk_hmac[32];
	int		 tk_valid;
};
/* A generation's ticket keys: a one-way ratchet, a step an hour. */
struct tls_tickets {
	time_t		 tt_start;	/* CLOCK_MONOTONIC seconds */
	uint64_t	 tt_epoch;	/* hours since, of tt_secret */
	unsigned char	 tt_secret[TLS_TICKET_SECRET];
	struct tls_ticket_key tt_keys[TLS_TICKET_KEYS];	/* newest first */
};
/* A TLS service's contexts: one per certificate, the first the default. */
struct tls_ctx {
	struct ssl_ctx_st **tx_ctx;
	struct x509_st	**tx_leaf;	/* each one's certificate, for SNI */
	int		 tx_n;
	unsigned char	*tx_alpn;	/* wire format, or NULL */
	unsigned int	 tx_alpn_len;
	long long	 tx_handshake_ms;
	struct tls_tickets *tx_tickets;	/* NULL: tls_session_tickets no */
};
extern int	tls_ctx_index;
void	tls_init(void);
void	tls_accept(struct evi_conn *, struct tls_ctx *);
int	tls_handshake(struct evi_conn *);
ssize_t	tls_decrypt(struct evi_conn *, struct evbuffer *, size_t, int *);
ssize_t	tls_flush(struct evi_conn *);
int	tls_pending(const struct evi_conn *);
size_t	tls_out_length(const struct evi_conn *);
void	tls_close_notify(struct evi_conn *);
void	tls_fail(struct evi_conn *, enum evi_tls_failure, const char *);
void	tls_free(struct evi_conn *);
void	tls_log_fields(const struct evi_conn *, char *, size_t);

/* modopt.c */
int	 modopt_check_table(const char *, const struct evi_module *, char **);
int	 modopt_apply(struct config *, struct service_conf *);
void	 modopt_free(struct service_conf *);
void	 modopt_decls_free(struct service_conf *);

/* confdump.c */
struct json_t;
struct json_t	*confdump(const struct config *);

/* module.c */
struct module {
	TAILQ_ENTRY(module)	 m_entry;
	char			*m_path;
	void			*m_handle;
	struct module_file	*m_file;	/* the descriptor dlopen mapped */
	const struct evi_module	*m_def;		/* &m_desc */
	struct evi_module	 m_desc;	/* the module's, by its size */
};
char	*module_path(const char *, const char *, char **);
struct module *module_load(const char *, char **);
void	 module_unload(struct module *);

/* listener.c */
struct listener {
	TAILQ_ENTRY(listener)	 l_entry;
	struct service_conf	*l_sc;
	int			 l_fd;
	int			 l_protocol;
	int			 l_index;	/* reuseport: its process; or -1 */
	union sockunion		 l_su;
	socklen_t		 l_len;
	char			 l_name[ADDR_STRLEN];
	struct event		 l_ev;		/* worker's accept/recv */
	struct event		 l_pause;	/* EMFILE back-off */
	int			 l_attached;
	int			 l_claimed;	/* by the next generation */
	int			 l_fd_paused;	/* EMFILE, no accept since */
	time_t			 l_pause_logged;
	uint64_t		 l_pauses;
	struct evi_service	*l_svc;		/* serving instance */
};
int	listener_bind_all(struct config *, struct config *);
void	listener_admit(struct evi_service *, int, const struct sockaddr *,
	    socklen_t, struct proxy_info *);
void	listener_attach(struct listener *, struct evi_service *);
void	listener_detach(struct listener *);
void	listener_close_all(struct config *);
const char *listener_state(const struct listener *);

/* proxy.c */
#define PROXY_V1		0x1	/* proxy_protocol versions, a mask */
#define PROXY_V2		0x2
#define PROXY_V1_MAX		107	/* a v1 line, CRLF included */
#define PROXY_V2_HEADER		16	/* signature to length */
#define PROXY_V2_MAX_LEN	1024	/* what we accept after it */
#define PROXY_MAX		(PROXY_V2_HEADER + PROXY_V2_MAX_LEN)

/* A parsed header; ph_tlv_off and ph_tlv_len are within its buffer. */
struct proxy_hdr {
	int		 ph_version;	/* 1 or 2 */
	int		 ph_local;	/* the socket's peer stays the peer */
	union sockunion	 ph_src;	/* the client, unless ph_local */
	union sockunion	 ph_dst;
	size_t		 ph_len;	/* of the whole header */
	size_t		 ph_tlv_off;
	size_t		 ph_tlv_len;
};

/* What a proxied connection keeps: owned by its evi_conn, freed with it. */
struct proxy_info {
	union sockunion	 pi_via;	/* the balancer */
	size_t		 pi_tlv_len;
	uint8_t		 pi_tlv[];	/* the v2 TLVs, as sent */
};
struct proxy_wait;
int	proxy_parse(const uint8_t *, size_t, int, struct proxy_hdr *,
	    const char **);
const void *proxy_tlv_find(const uint8_t *, size_t, int, size_t *);
void	proxy_start(struct evi_service *, int, const struct sockaddr *,
	    socklen_t);
void	proxy_close_all(struct evi_service *);

/* limits.c */
#define LIMITS_MAX_SOURCES	65536	/* per service and worker */

struct bucket {
	double		 b_tokens;
	uint64_t	 b_last;	/* ms; 0: new, starts full */
};

/*
 * A client address the limits track.  While it has no connections it is
 * on its service's idle list, least recently seen first: when the table
 * is full, the head makes room for a new source.
 */
struct source {
	uint8_t		 src_key[17];	/* family, then address */
	unsigned int	 src_conns;
	struct bucket	 src_bucket;	/* per_source_rate */
	struct bucket	 src_reply;	/* udp_reply_budget, in bytes */
	TAILQ_ENTRY(source) src_idle;	/* while src_conns == 0 */
	struct pubsrc_entry *src_pub;	/* published at a drain, or NULL */
};
TAILQ_HEAD(sources, source);

struct refusal_log {
	time_t		 rl_logged;	/* second of the last line */
	uint64_t	 rl_pending;	/* refusals not logged yet */
	char		 rl_peer[ADDR_STRLEN];
	const char	*rl_detail;
};

int	limits_admit(struct evi_service *, const struct sockaddr *, int,
	    struct source **, enum evi_refuse_reason *, const char **);
void	limits_release(struct evi_service *, struct source *);
int	limits_reply(struct evi_service *, struct source *,
	    const struct sockaddr *, size_t);
void	limits_refused(struct evi_service *, enum evi_refuse_reason,
	    const struct sockaddr *,
	    const char *);
void	limits_log(struct evi_service *, int);
void	limits_unread(struct evi_service *, const char *, size_t);
void	limits_tls_failed(struct evi_service *, struct source *,
	    const char *, const char *);
void	limits_worker_init(struct worker *);
void	limits_publish(struct worker *);
void	limits_service_free(struct evi_service *);

/* pubsrc.c */
#define PUBSRC_KEYLEN	17	/* a source's key: family, then address */
#define PUBSRC_CAPACITY	(2 * LIMITS_MAX_SOURCES)	/* a power of two */
#define PUBSRC_PROBES	128	/* at a load of 1/2, none goes further */

/* A source a draining worker publishes, in shared memory. */
struct pubsrc_entry {
	uint8_t		 pe_key[PUBSRC_KEYLEN];	/* pe_key[0] 0: free */
	uint8_t		 pe_pad[3];
	uint32_t	 pe_conns;
};

/*
 * Where one worker process publishes one service's sources.  Private
 * memory, like the rest of the layout in struct gen_stats: only the
 * entries are shared.
 */
struct pubsrc {
	struct pubsrc_entry *ps_table;	/* ps_cap entries; NULL: none */
	size_t		 ps_cap;	/* a power of two */
	unsigned char	 ps_seed[16];	/* crypto_shorthash_KEYBYTES */
	unsigned int	 ps_prefix6;	/* per_source_ipv6_prefix of keys */
};
struct gen_stats;
int	pubsrc_map(struct gen_stats *, size_t, const struct service_conf *,
	    char **);
void	pubsrc_free(struct gen_stats *);
struct pubsrc_entry *pubsrc_publish(const struct pubsrc *,
	    const uint8_t [PUBSRC_KEYLEN], uint32_t);
void	pubsrc_set(struct pubsrc_entry *, uint32_t);
uint64_t pubsrc_lookup(const struct pubsrc *, const uint8_t [PUBSRC_KEYLEN]);

/* notify.c */
void	notify_state(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* sockact.c */
int	sockact_take(void);
void	sockact_start(int);
int	sockact_parse_name(const char *, char **);
void	sockact_check(struct config *);
int	sockact_claim_name(const struct service_conf *, const char *,
	    size_t *, int *, char **);
int	sockact_claim_addr(const struct service_conf *,
	    const union sockunion *, int *, char **);
int	sockact_dualstack(const union sockunion *);
void	sockact_unclaim(void);
void	sockact_warn_unused(void);
void	sockact_close(void);

/* priv.c */
void	priv_check(struct config *);
int	priv_startup_check(struct config *, char **);
int	priv_drop(struct config *, char **);

/*
 * Daemon-wide figures.  The supervisor keeps them and copies them to
 * memory shared with the workers, which stats.c reads for reports.
 */
struct global_stats {
	struct timeval	 gl_start;
	uint64_t	 gl_reloads_ok;
	uint64_t	 gl_reloads_failed;
	uint64_t	 gl_restarts;
	uint64_t	 gl_workers;
};

/* spawn.c: a message waiting for room on a spawn channel. */
struct spawn_out {
	TAILQ_ENTRY(spawn_out)	 so_entry;
	struct spawn_msg	*so_msg;
	int			 so_fd;		/* a dup of the one to pass */
};
/*
 * One end of a spawn channel (SOCK_SEQPACKET, whose queue holds only a
 * few messages): what does not fit now waits in sp_out, in order.
 */
struct spawn_chan {
	int			 sp_fd;		/* -1: none */
	struct event		 sp_rev;	/* the owner's reads */
	struct event		 sp_wev;	/* our flush, while sp_out */
	TAILQ_HEAD(, spawn_out)	 sp_out;
};

/* supervisor.c */
struct wproc {
	TAILQ_ENTRY(wproc)	 p_entry;
	struct generation	*p_gen;
	const struct service_conf *p_group;	/* isolated, or NULL */
	size_t			 p_slot;
	size_t			 p_index;	/* within its group */
	pid_t			 p_pid;		/* 0: not running */
	int			 p_ready;
	int			 p_readyfd;	/* its own pipe until ready */
	struct event		 p_readyev;
	unsigned int		 p_failures;
	struct timeval		 p_started;
	struct event		 p_restart;
	struct bufferevent	*p_chan;	/* chan.c; NULL: none */
	struct spawn_chan	 p_spawn;	/* spawn.c: its programs */
	int			 p_drain_ack;	/* a reload waits for it to
						   stop accepting */
};

struct generation {
	TAILQ_ENTRY(generation)	 g_entry;
	struct supervisor	*g_sup;
	unsigned int		 g_id;
	struct config		*g_cf;
	struct gen_stats	*g_stats;
	TAILQ_HEAD(, wproc)	 g_procs;
	size_t			 g_nprocs;
	size_t			 g_nready;
	int			 g_announced;
	int			 g_draining;
	int			 g_failed;
	struct event		 g_start_timer;	/* start_timeout */
	uint64_t		 g_reload;	/* its reload's number; 0: first */
};

struct supervisor {
	struct event_base	*s_base;
	TAILQ_HEAD(, generation) s_gens;
	struct generation	*s_cur;		/* serving */
	struct generation	*s_next;	/* starting after SIGHUP */
	unsigned int		 s_gen_ids;
	struct global_stats	*s_global;	/* shared: we only write it */
	struct global_stats	 s_gl;		/* ours, copied to s_global */
	TAILQ_HEAD(carries, carry) s_carry;	/* totals of gone generations */
	const char		*s_config_path;
	const char		*s_module_dir;
	int			 s_module_dir_forced;
	int			 s_stopping;	/* 1 graceful, 2 now */
	int			 s_exit;
	int			 s_pidfd;	/* read-only, holds the lock */
	const char		*s_pidfile;	/* main's; NULL: none */
	int			 s_pidfile_forced; /* -p: the key is moot */
	int			 s_readyfd;	/* to the detaching parent */
	unsigned int		 s_reload_queued; /* gen a SIGHUP found
						    starting, or 0 */
	struct event		 s_reload;	/* runs a queued reload */
	struct event		 s_kill;
	struct worker		*s_worker;	/* in a worker process */
	pid_t			 s_pid;
	int			 s_ctlfd;	/* control_open's, or -1 */
	int			 s_ctl_forced;	/* -S: the key is moot */
	struct control		*s_ctl;
	uint64_t		 s_reloads;	/* reloads begun */
	TAILQ_HEAD(, spawn_child) s_children;	/* programs running */
	size_t			 s_nchildren;
	struct event		 s_spawn_kill;	/* a stop's SIGKILL */
	time_t			 s_spawn_logged;	/* stderr rate limit */
	unsigned int		 s_spawn_lines;
	uint64_t		 s_spawn_dropped;
	TAILQ_HEAD(, waitsvc)	 s_waitsvcs;	/* wait = yes services */
	struct generation	*s_committing;	/* serving; its reload is
						   told when the old stopped
						   accepting */
	size_t			 s_drain_waits;	/* p_drain_ack set */
	struct event		 s_drain_timer;
};
/*
 * What a worker writes on its ready pipe: atomic, under PIPE_BUF.  The
 * supervisor believes it only if both match the child it forked.
 */
struct ready_msg {
	size_t		 rm_slot;
	pid_t		 rm_pid;
};
int	sup_run(struct supervisor *, struct config *);
void	sup_reload_request(struct supervisor *, const char *);
int	sup_start(struct supervisor *, struct config *, char **);
void	sup_stop(struct supervisor *, int);
void	sup_schedule_restart(struct wproc *);
void	sup_drain_acked(struct supervisor *, struct wproc *);
size_t	sup_running(struct supervisor *);

/* service.c */
/*
 * One process's counters for one service.  The arrays have a slot for
 * every reason, the public struct's frozen arrays only the 1.0 ones.
 */
struct svc_stats {
	uint64_t	 st_accepted;
	uint64_t	 st_active;
	uint64_t	 st_closed[EVI_CLOSE_NREASONS_ALL];
	uint64_t	 st_bytes_in;
	uint64_t	 st_bytes_out;
	uint64_t	 st_dgrams_in;
	uint64_t	 st_dgrams_out;
	uint64_t	 st_module_errors;
	uint64_t	 st_refused[EVI_REFUSE_NREASONS_ALL];
	uint64_t	 st_out_connects;	/* evi_connect: connected */
	uint64_t	 st_out_failed;		/* evi_connect: did not */
	uint64_t	 st_out_bytes_in;
	uint64_t	 st_out_bytes_out;
	uint64_t	 st_proxy_errors;	/* PROXY headers */
	uint64_t	 st_exec_started;	/* programs run */
	uint64_t	 st_exec_failed;	/* that could not be run */
	uint64_t	 st_exec_exit_ok;	/* that exited 0 */
	uint64_t	 st_exec_exit_error;	/* exited with another status */
	uint64_t	 st_exec_signaled;	/* killed by a signal */
	uint64_t	 st_tls_handshakes;	/* completed */
	uint64_t	 st_tls_resumed;	/* of which resumed */
	uint64_t	 st_tls_failed[EVI_TLS_FAIL_NREASONS];
};

struct evi_service {
	TAILQ_ENTRY(evi_service) s_entry;
	struct worker		*s_worker;	/* NULL in a trial init */
	struct event_base	*s_base;
	struct service_conf	*s_conf;
	const struct evi_module	*s_mod;
	struct evi_conn_ops	 s_ops;		/* accepted connections' */
	void			*s_state;
	int			 s_inited;
	char			*s_error;	/* from evi_service_fail */
	TAILQ_HEAD(evi_conns, evi_conn) s_conns;
	TAILQ_HEAD(, evi_handler) s_handlers;
	struct svc_stats	*s_stats;	/* this worker's, shared */
	size_t			 s_index;	/* in the config */
	const struct evi_dgram	*s_dgram;	/* being handled */
	struct listener		*s_dgram_listener;
	void			*s_sources;	/* tsearch tree */
	size_t			 s_nsources;
	size_t			 s_max_sources;	/* 0: the default */
	struct sources		 s_idle;	/* LRU; valid if s_nsources */
	uint64_t		 s_evicted;	/* not logged yet */
	struct source		*s_dgram_src;	/* its source, if tracked */
	struct bucket		 s_bucket;	/* the service's rate */
	struct refusal_log	 s_refusals[EVI_REFUSE_NREASONS_ALL];
	struct refusal_log	 s_unread;	/* closes for max_input */
	struct refusal_log	 s_tls_failed;	/* TLS handshakes */
	struct refusal_log	 s_proxy_log;	/* bad PROXY headers */
	TAILQ_HEAD(, proxy_wait) s_proxy_waits;	/* headers to come */
	int			 s_disabled;	/* by the operator: refuse */
};
struct evi_service *service_new(struct worker *, struct service_conf *,
	    char **);
void	service_free(struct evi_service *);
void	service_set_disabled(struct evi_service *, int);
int	service_check_init(struct service_conf *, char **);

/* timerq.c */
struct deadline {
	uint64_t	  d_when;	/* monotonic ms */
	size_t		  d_index;	/* in the heap, or SIZE_MAX */
	void		(*d_cb)(void *);
	void		 *d_arg;
};
struct timerq {
	struct deadline	**tq_heap;
	size_t		  tq_len;
	size_t		  tq_cap;
	int		  tq_fd;	/* timerfd */
	int		  tq_firing;
	uint64_t	  tq_armed;	/* when it goes off; 0: disarmed */
	struct event	  tq_ev;
};
uint64_t timerq_now(void);
void	timerq_set_clock(uint64_t (*)(void));
void	timerq_init(struct timerq *, struct event_base *);
void	timerq_free(struct timerq *);
void	deadline_init(struct deadline *, void (*)(void *), void *);
void	deadline_add(struct timerq *, struct deadline *,
	    const struct timeval *);
void	deadline_del(struct timerq *, struct deadline *);
int	deadline_pending(const struct deadline *);

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
#define CONN_DIRTY		0x200	/* written from outside: w_dirty */
#define CONN_OUTBOUND		0x400	/* made by evi_connect */
#define CONN_CONNECTING		0x800	/* evi_connect in progress */
#define CONN_PAUSED		0x1000	/* evi_conn_pause_read */
#define CONN_SHUT_PENDING	0x2000	/* shutdown_write after the flush */
#define CONN_WR_SHUT		0x4000	/* our write side is shut */
#define CONN_READ_AGAIN		0x8000	/* resumed: offer the input */
#define CONN_EXEC		0x10000	/* handed to a program */
#define CONN_EXITED		0x20000	/* the program exited: c_exit */
#define CONN_EXEC_KILLED	0x40000	/* session_timeout killed it */
#define CONN_HANDSHAKE		0x100000 /* TLS: not open yet (c_tls) */
#define CONN_PAIR		0x80000	/* our end of a relayed program's
					   socketpair: counted nowhere */

struct evi_conn {
	TAILQ_ENTRY(evi_conn)	 c_entry;
	TAILQ_ENTRY(evi_conn)	 c_dirty;	/* on w_dirty, if CONN_DIRTY */
	struct evi_service	*c_svc;
	const struct evi_conn_ops *c_ops;	/* the module's callbacks */
	struct relay		*c_relay;	/* evi_relay, or NULL */
	int			 c_fd;
	int			 c_flags;
	enum evi_close_reason	 c_reason;	/* pending close reason */
	struct evbuffer		*c_in;
	struct evbuffer		*c_out;
	struct event		 c_rev;
	struct event		 c_wev;
	struct event		*c_cev;		/* reset watch while paused */
	struct deadline		 c_deadline;	/* timeouts, linger */
	union sockunion		 c_peer;
	union sockunion		 c_local;
	uint64_t		 c_start;	/* timerq_now() ms */
	uint64_t		 c_active;	/* last byte either way */
	struct source		*c_source;	/* per-source accounting */
	struct proxy_info	*c_proxy;	/* PROXY header, or NULL */
	struct tls_conn		*c_tls;		/* TLS service: tls.c's */
	uint64_t		 c_bytes_in;
	uint64_t		 c_bytes_out;
	uint32_t		 c_readsz;	/* adapts to the traffic */
	uint64_t		 c_id;		/* in its worker, from 1 */
	pid_t			 c_child;	/* CONN_EXEC: its program, or 0 */
	int			 c_exit;	/* CONN_EXITED: wait status */
	void			*c_data;
};
void	conn_accept(struct evi_service *, int, const struct sockaddr *,
	    socklen_t, struct source *, struct proxy_info *);
void	conn_close(struct evi_conn *, enum evi_close_reason);
struct evi_conn *conn_pair(struct evi_service *, int);
void	conn_flush_dirty(evutil_socket_t, short, void *);
int	conn_settle(struct evi_conn *);
void	conn_mark_dirty(struct evi_conn *);
ssize_t	conn_read_into(struct evi_conn *, struct evbuffer *, size_t, int *);
void	conn_count_in(struct evi_conn *, size_t);
void	conn_count_out(struct evi_conn *, size_t);
void	conn_event_read(struct evi_conn *, int);
void	conn_event_write(struct evi_conn *, int);
void	conn_unwatch(struct evi_conn *);

/* relay.c */
int	relay_settle(struct evi_conn *);
void	relay_readable(struct evi_conn *);
void	relay_writable(struct evi_conn *);
void	relay_detach(struct evi_conn *, enum evi_close_reason);
void	relay_pipes_free(struct worker *);

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
void	dgram_guard_build(struct config *);
void	dgram_guard_free(struct config *);

/* stats.c */
/*
 * A generation's counters: one slot per worker process and service.  The
 * slots are shared; this layout is private to every process (workers
 * inherit the supervisor's copy), so nothing a worker writes says where
 * anyone else reads, writes or unmaps.
 */
struct gen_stats {
	size_t		 gs_nprocs;
	size_t		 gs_nservices;
	size_t		 gs_size;		/* of the mapping */
	struct svc_stats *gs_slots;		/* the shared mapping */
	struct pubsrc	*gs_pub;	/* [proc][service]; NULL: none */
	struct gen_carry *gs_carry;	/* shared, written by the supervisor */
	size_t		 gs_carry_size;		/* of that mapping */
	uint64_t	 gs_seq;		/* the supervisor's gc_seq */
};

/*
 * The part of a generation's shared memory that only the supervisor
 * writes: per service, the totals carried over from generations that are
 * gone, and whether this generation itself is gone (its totals carried).
 * gc_seq is odd while the supervisor changes them, so that a reader can
 * tell a torn read and retry.
 */
struct gen_carry {
	uint64_t	 gc_seq;
	uint64_t	 gc_retired;
	struct svc_stats gc_base[];		/* [service] */
};

/*
 * The supervisor's private record of what the generations that are gone
 * counted for a service (by name and protocol), carried into every later
 * generation that has that service, so that a reload resets no total.
 */
struct carry {
	TAILQ_ENTRY(carry)	 ca_entry;
	char			*ca_name;
	int			 ca_protocol;
	int			 ca_used;	/* by a running generation */
	struct svc_stats	 ca_totals;	/* st_active stays 0 */
};

/*
 * Another generation running when a worker was forked (a reload's old one
 * draining, or a new one starting): its open connections count against
 * the worker's limits too.  Both are the supervisor's private copies.
 */
struct stats_other {
	const struct gen_stats	*so_stats;
	const struct config	*so_config;
};

struct global_stats *stats_global_new(void);
struct gen_stats *stats_gen_new(size_t, size_t, char **);
void	stats_gen_free(struct gen_stats *);
struct svc_stats *stats_slot(const struct gen_stats *, size_t, size_t);
void	stats_proc_gone(const struct gen_stats *, size_t);
void	stats_carry_begin(struct gen_stats *);
void	stats_carry_add(struct carries *, const struct gen_stats *,
	    const struct config *);
void	stats_carry_write(struct gen_stats *, const struct config *,
	    struct carries *);
void	stats_carry_retire(struct gen_stats *);
void	stats_carry_end(struct gen_stats *);
void	stats_carry_prune(struct carries *);
void	stats_others_init(struct worker *, const struct stats_other *, size_t);
uint64_t stats_active(const struct evi_service *);
uint64_t stats_active_total(const struct worker *);
void	stats_service(const struct evi_service *, struct evi_stats_service *);
void	stats_sup_totals(struct supervisor *, const struct service_conf *,
	    struct evi_stats_service *);
uint64_t stats_sup_active(struct supervisor *, const char *, int);
uint64_t stats_closed_count(const struct evi_stats_service *, unsigned int);
uint64_t stats_refused_count(const struct evi_stats_service *, unsigned int);
void	stats_dump(struct worker *);
uint64_t stats_count_fds(void);
uint64_t stats_open_fds(struct worker *);
void	stats_log_close(struct evi_conn *, enum evi_close_reason);
void	stats_log_dgram(struct evi_service *, const struct listener *,
	    const struct sockaddr *, size_t, uint64_t, const char *);

/* worker.c */
struct worker {
	struct event_base	*w_base;
	struct config		*w_config;
	TAILQ_HEAD(evi_services, evi_service) w_services;
	uint64_t		 w_nconns;	/* accepted and outbound */
	uint64_t		 w_noutbound;	/* of which outbound */
	uint64_t		 w_npending;	/* waiting for a PROXY header */
	int			 w_closing;	/* closing them all */
	int			 w_stopping;	/* 1 draining, 2 closing */
	int			 w_single;	/* -X: the whole daemon */
	struct event		 w_stop_timer;
	char			 w_addrbuf[ADDR_STRLEN];
	unsigned char		 w_dgrambuf[65536];
	struct timeval		 w_start;
	struct deadline		 w_tick;	/* limits housekeeping */
	struct timerq		 w_timers;	/* deadlines */
	struct global_stats	*w_global;	/* shared */
	struct gen_stats	*w_stats;	/* shared, this generation */
	size_t			 w_proc;	/* our slot in w_stats */
	const struct gen_stats	**w_others;	/* other generations */
	size_t			 w_nothers;
	size_t			*w_other_index;	/* [other][service]: theirs */
	size_t			*w_other_carry;	/* the same, same protocol */
	struct evi_stats_global	 w_gstats;	/* evi_stats_global's */
	uint64_t		 w_nfds;	/* open fds, as last counted */
	uint64_t		 w_nfds_when;	/* monotonic ms; 0: never */
	TAILQ_HEAD(, evi_conn)	 w_dirty;	/* output from outside */
	struct event		 w_flush;	/* settles w_dirty */
	int			(*w_pipes)[2];	/* spare relay pipes */
	size_t			 w_npipes;
	uint64_t		 w_conn_ids;	/* the last c_id given */
	struct bufferevent	*w_chan;	/* to the supervisor, or NULL */
	struct spawn_chan	 w_spawn;	/* execconn.c: programs */
};
/* What a worker process serves, and where it counts. */
struct worker_spec {
	const struct service_conf *ws_group;	/* isolated service, or NULL */
	int			 ws_single;	/* everything, one process */
	struct global_stats	*ws_global;
	struct gen_stats	*ws_stats;
	size_t			 ws_proc;
	size_t			 ws_index;	/* within its group */
	const struct stats_other *ws_others;	/* counted by our limits */
	size_t			 ws_nothers;
};
int		 worker_serves(const struct service_conf *,
		    const struct service_conf *, int);
int		 worker_listens(const struct listener *, size_t, int);
struct worker	*worker_new(struct event_base *, struct config *,
		    const struct worker_spec *, char **);
void		 worker_stop(struct worker *, int, long long);
int		 worker_run(struct worker *, int, size_t, int);
void		 worker_sigset(sigset_t *);
void		 worker_conn_gone(struct worker *);
void		 worker_idle_check(struct worker *);
void		 worker_free(struct worker *);

/* spawn.c */
enum spawn_type {
	SPAWN_RUN = 1,		/* worker: run the program on this socket */
	SPAWN_KILL,		/* worker: session_timeout, kill it */
	SPAWN_STARTED,		/* supervisor: it runs, sm_pid */
	SPAWN_EXITED,		/* supervisor: it exited, sm_status */
	SPAWN_FAILED		/* supervisor: it could not run */
};
#define SPAWN_REASON_INSTANCES	1	/* SPAWN_FAILED: instances reached */
/* One message on a worker's spawn channel (SOCK_SEQPACKET). */
struct spawn_msg {
	uint32_t	 sm_type;
	uint32_t	 sm_service;	/* SPAWN_RUN: its index in the config */
	uint64_t	 sm_conn;	/* the worker's connection number */
	int32_t		 sm_pid;
	int32_t		 sm_status;	/* a wait status, or an errno */
	int32_t		 sm_reason;
	uint32_t	 sm_flags;	/* SPAWN_F_* */
	union sockunion	 sm_peer;	/* SPAWN_F_RELAY: the client */
	union sockunion	 sm_local;
};
#define SPAWN_F_RELAY		0x1	/* the fd is a socketpair's end */
/* A program the supervisor runs, until it is reaped. */
struct spawn_child {
	TAILQ_ENTRY(spawn_child) ch_entry;
	struct supervisor	*ch_sup;
	pid_t			 ch_pid;	/* and its process group */
	char			*ch_service;
	int			 ch_protocol;
	int			 ch_wait;	/* a wait service's */
	struct wproc		*ch_proc;	/* whose connection, or NULL */
	uint64_t		 ch_conn;
	uint32_t		 ch_index;	/* the service's, in ch_proc's */
	int			 ch_errfd;	/* stderr = log: its pipe, or -1 */
	struct event		 ch_errev;
	struct evbuffer		*ch_errbuf;
	struct timeval		 ch_started;
};
void	spawn_chan_init(struct spawn_chan *);
void	spawn_chan_open(struct spawn_chan *, struct event_base *, int,
	    event_callback_fn, void *);
int	spawn_chan_send(struct spawn_chan *, const struct spawn_msg *, int);
void	spawn_chan_close(struct spawn_chan *);
int	spawn_recv(int, struct spawn_msg *, int *);
void	spawn_proc_open(struct wproc *, int);
void	spawn_proc_close(struct wproc *);
void	spawn_proc_forget(struct wproc *);
int	spawn_reaped(struct supervisor *, pid_t, int);
void	spawn_stop(struct supervisor *, int, long long);
void	spawn_free(struct supervisor *);
void	spawn_child_forget(struct supervisor *);
struct spawn_child *spawn_wait(struct supervisor *,
	    const struct service_conf *, int);

/* waitsvc.c */
struct waitsvc;
void	waitsvc_start(struct supervisor *, struct generation *);
void	waitsvc_exited(struct supervisor *, struct spawn_child *, int);
void	waitsvc_free(struct supervisor *);

/* execconn.c */
void	execconn_start(struct worker *, int);
void	execconn_free(struct worker *);
void	execconn_timeout(struct evi_conn *);

/* chan.c */
enum chan_type {
	CHAN_INFO = 1,		/* what a worker holds */
	CHAN_CONNS,		/* its connections (of one service, or all) */
	CHAN_DISABLE,		/* a service refuses new connections */
	CHAN_ENABLE,
	CHAN_CLOSE,		/* one connection, by number */
	CHAN_REPLY,		/* a worker's answer, same tag */
	CHAN_DRAINING		/* a worker says: no more accepts */
};
/* A message's header; ch_len bytes of payload follow. */
struct chan_hdr {
	uint32_t	 ch_len;
	uint32_t	 ch_type;
	uint64_t	 ch_tag;
};
void	chan_worker_start(struct worker *, int);
void	chan_worker_free(struct worker *);
void	chan_worker_draining(struct worker *);
void	chan_sup_open(struct wproc *, int);
void	chan_sup_close(struct wproc *);
void	chan_sup_forget(struct wproc *);
int	chan_send(struct wproc *, enum chan_type, uint64_t, const char *);

/* control.c */
#define CONTROL_VERSION		1
#define CONTROL_MAX_REQUEST	4096	/* bytes, the newline included */
enum ctl_cmd {
	CTL_STATUS, CTL_SERVICES, CTL_CONNECTIONS, CTL_DISABLE, CTL_ENABLE,
	CTL_DRAIN, CTL_CLOSE, CTL_RELOAD, CTL_CONFIG, CTL_STOP
};
struct ctl_request {
	enum ctl_cmd	 cr_cmd;
	const char	*cr_args[2];	/* in cr_json */
	size_t		 cr_nargs;
	struct json_t	*cr_json;
};
enum ctl_phase { CTL_READING, CTL_BUSY, CTL_WRITING, CTL_LINGERING };

/* A worker a command waits on, and what it said. */
struct ctl_wait {
	struct wproc	*cw_proc;	/* NULL once it is gone */
	pid_t		 cw_pid;
	struct json_t	*cw_reply;	/* NULL: no answer */
	int		 cw_done;
};

/*
 * One connection to the control socket.  It owns its bufferevent (and
 * so the socket) and its waits; control_client_free tears it down.
 */
struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 cc_entry;
	struct control		*cc_ctl;
	struct bufferevent	*cc_bev;
	uid_t			 cc_uid;
	pid_t			 cc_pid;
	enum ctl_phase		 cc_state;
	enum ctl_cmd		 cc_cmd;
	char			*cc_arg;	/* the service or id */
	int			 cc_protocol;	/* the service's */
	uint64_t		 cc_tag;	/* of its requests to workers */
	struct ctl_wait		*cc_waits;
	size_t			 cc_nwaits;
	size_t			 cc_npending;
	struct event		 cc_timer;	/* answers, drains, linger */
	int			 cc_timer_set;
	int			 cc_draining;	/* counted in its ctl_state */
	uint64_t		 cc_started;	/* timerq_now() ms */
	long long		 cc_timeout_ms;	/* drain */
	int			 cc_reload_wait;
	uint64_t		 cc_reload_after; /* s_reloads when asked */
	int			 cc_stop;	/* stop once answered */
};

/* A service the operator disabled (by name), and whether it drains. */
struct ctl_state {
	TAILQ_ENTRY(ctl_state)	 cs_entry;
	char			*cs_name;
	int			 cs_drains;	/* drain commands waiting */
};

struct control {
	struct supervisor	*ctl_sup;
	int			 ctl_fd;	/* -1: none */
	struct event		 ctl_ev;
	char			*ctl_path;
	dev_t			 ctl_dev;	/* the file we made */
	ino_t			 ctl_ino;
	int			 ctl_has_group;
	gid_t			 ctl_gid;
	TAILQ_HEAD(, ctl_client) ctl_clients;
	size_t			 ctl_nclients;
	TAILQ_HEAD(, ctl_state)	 ctl_states;
	uint64_t		 ctl_tags;
	time_t			 ctl_logged;	/* rate limit of warnings */
};
int	control_parse(const char *, size_t, struct ctl_request *, char **);
void	control_answer(struct ctl_client *, int, struct json_t *,
	    const char *, struct json_t *);
void	control_fail(struct ctl_client *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	control_open(const struct config *, char **);
void	control_start(struct supervisor *, int, const struct config *);
void	control_reload_check(struct supervisor *, const struct config *);
void	control_child(struct supervisor *);
void	control_free(struct supervisor *);

/* ctlcmd.c */
void	ctlcmd_run(struct ctl_client *, const struct ctl_request *);
void	ctlcmd_cancel(struct ctl_client *);
void	control_reply(struct supervisor *, const struct wproc *, uint64_t,
	    struct json_t *);
void	control_proc_gone(struct supervisor *, const struct wproc *);
void	control_reload_done(struct supervisor *, uint64_t, int, unsigned int,
	    const char *, struct json_t *);
void	control_stopping(struct supervisor *);
void	control_worker_init(struct supervisor *, struct worker *);
const char *control_service_state(const struct supervisor *, const char *);

#endif /* EVINETD_H */
