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
 * TLS under a connection (docs/design.md, "TLS").  OpenSSL never touches
 * the socket: conn.c reads ciphertext into tl_in exactly as it reads
 * plaintext (the same adaptive reads), OpenSSL reads its records from
 * there through a BIO of ours and writes its records to tl_out, which
 * conn.c writes to the socket.  Plaintext goes between the records and
 * the connection's c_in and c_out, so modules see what they always see,
 * and the events, backpressure, timeouts and graceful close are conn.c's.
 * With OpenSSL's buffers released while idle (SSL_MODE_RELEASE_BUFFERS)
 * and both evbuffers empty, an idle TLS connection holds only its SSL.
 *
 * A plaintext service pays one pointer test per read and write.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "evinetd.h"

#define TLS_RECORD	16384	/* plaintext per record, at most */
#define TLS_IN_MAX	(READ_MAX + 5)	/* ciphertext read ahead */
#define TLS_OUT_MAX	65536	/* ciphertext queued: encrypt no more */

#define TL_EOF		0x01	/* the socket's EOF was read */
#define TL_CLOSED	0x02	/* the peer's close_notify (or EOF) seen */
#define TL_NOTIFIED	0x04	/* our close_notify is queued */
#define TL_FAILED	0x08	/* the handshake failed: tl_failure */
#define TL_FIRST	0x10	/* tl_first holds the first byte read */

struct tls_conn {
	SSL			*tl_ssl;
	struct evbuffer		*tl_in;		/* ciphertext read */
	struct evbuffer		*tl_out;	/* ciphertext to send */
	int			 tl_flags;
	unsigned char		 tl_first;
	enum evi_tls_failure	 tl_failure;
	struct evi_tls_info	 tl_info;
	char			*tl_sni;
	char			*tl_alpn;
	char			*tl_subject;
	char			 tl_sha256[65];
};

int			 tls_ctx_index = -1;
static BIO_METHOD	*tls_bio_method;

static const char *const tls_failure_words[EVI_TLS_FAIL_NREASONS] = {
	"timeout", "eof", "not_tls", "version", "cipher", "client_cert",
	"alpn", "alert", "other"
};

const char *
evi_tls_failure_string(enum evi_tls_failure reason)
{
	if ((unsigned int)reason >= EVI_TLS_FAIL_NREASONS)
		return ("unknown");
	return (tls_failure_words[reason]);
}

/* OpenSSL reads a record: from tl_in; nothing there is "try again". */
static int
tls_bio_read(BIO *b, char *buf, int len)
{
	struct tls_conn	*t = BIO_get_data(b);
	int		 n;

	BIO_clear_retry_flags(b);
	n = evbuffer_remove(t->tl_in, buf, (size_t)len);
	if (n > 0)
		return (n);
	if (t->tl_flags & TL_EOF)
		return (0);
	BIO_set_retry_read(b);
	return (-1);
}

/* OpenSSL writes a record: to tl_out, which conn.c sends. */
static int
tls_bio_write(BIO *b, const char *buf, int len)
{
	struct tls_conn	*t = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (evbuffer_add(t->tl_out, buf, (size_t)len) != 0)
		return (-1);
	return (len);
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_conn	*t = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return (1);
	case BIO_CTRL_EOF:
		/* What makes an EOF without close_notify an EOF for OpenSSL. */
		return ((t->tl_flags & TL_EOF) &&
		    evbuffer_get_length(t->tl_in) == 0);
	case BIO_CTRL_PENDING:
		return ((long)evbuffer_get_length(t->tl_in));
	case BIO_CTRL_WPENDING:
		return (0);
	}
	return (0);
}

static int
tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return (1);
}

/* Once per process: OpenSSL's errors and our BIO type. */
void
tls_init(void)
{
	if (tls_bio_method != NULL)
		return;
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
	if ((tls_bio_method = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK, "evinetd evbuffer")) == NULL ||
	    BIO_meth_set_read(tls_bio_method, tls_bio_read) != 1 ||
	    BIO_meth_set_write(tls_bio_method, tls_bio_write) != 1 ||
	    BIO_meth_set_ctrl(tls_bio_method, tls_bio_ctrl) != 1 ||
	    BIO_meth_set_create(tls_bio_method, tls_bio_create) != 1)
		fatalx("BIO_meth_new failed");
	tls_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (tls_ctx_index == -1)
		fatalx("SSL_CTX_get_ex_new_index failed");
}

/* An accepted connection of a TLS service starts with the handshake. */
void
tls_accept(struct evi_conn *c, struct tls_ctx *tx)
{
	struct tls_conn	*t;
	BIO		*bio;

	t = xcalloc(1, sizeof(*t));
	if ((t->tl_in = evbuffer_new()) == NULL ||
	    (t->tl_out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	if ((t->tl_ssl = SSL_new(tx->tx_ctx[0])) == NULL ||
	    (bio = BIO_new(tls_bio_method)) == NULL)
		fatalx("SSL_new failed");
	BIO_set_data(bio, t);
	SSL_set_bio(t->tl_ssl, bio, bio);
	SSL_set_accept_state(t->tl_ssl);
	c->c_tls = t;
	c->c_flags |= CONN_HANDSHAKE;
}

void
tls_free(struct evi_conn *c)
{
	struct tls_conn	*t = c->c_tls;

	if (t == NULL)
		return;
	SSL_free(t->tl_ssl);
	evbuffer_free(t->tl_in);
	evbuffer_free(t->tl_out);
	free(t->tl_sni);
	free(t->tl_alpn);
	free(t->tl_subject);
	free(t);
	c->c_tls = NULL;
}

/*
 * Is there something to decrypt without reading the socket: plaintext
 * OpenSSL holds, or a whole record in tl_in?  Then no socket event will
 * come for it, and conn.c makes one.  A partial record waits for its
 * bytes, which the socket will announce.
 */
int
tls_pending(const struct evi_conn *c)
{
	const struct tls_conn	*t = c->c_tls;
	unsigned char		 h[5];
	size_t			 len;

	if (t->tl_flags & TL_CLOSED)
		return (0);
	if (SSL_pending(t->tl_ssl) > 0)
		return (1);
	if ((len = evbuffer_get_length(t->tl_in)) < sizeof(h))
		return ((t->tl_flags & TL_EOF) != 0);
	if (evbuffer_copyout(t->tl_in, h, sizeof(h)) != (ev_ssize_t)sizeof(h))
		return (0);
	return (len >= sizeof(h) + (((size_t)h[3] << 8) | h[4]));
}

size_t
tls_out_length(const struct evi_conn *c)
{
	return (evbuffer_get_length(c->c_tls->tl_out));
}

/* Printable, short and safe in a log line: a client chose these bytes. */
static char *
tls_clean(const char *s)
{
	char	*out = xstrdup(s), *p;

	if (strlen(out) > 255)
		out[255] = '\0';
	for (p = out; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_' || *p == '*'))
			*p = '?';
	}
	return (out);
}

/* The client certificate, for evi_conn_tls: subject and fingerprint. */
static void
tls_note_peer(struct tls_conn *t)
{
	X509		*x;
	BIO		*b;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 len, i;
	char		*p;
	long		 n;

	if ((x = SSL_get0_peer_certificate(t->tl_ssl)) == NULL)
		return;
	t->tl_info.client_cert = 1;
	t->tl_info.client_verified = SSL_get_verify_result(t->tl_ssl) ==
	    X509_V_OK;
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
		    XN_FLAG_RFC2253) >= 0 && (n = BIO_get_mem_data(b, &p)) >= 0)
			t->tl_subject = xstrndup(p, (size_t)n);
		BIO_free(b);
	}
	if (X509_digest(x, EVP_sha256(), md, &len) == 1) {
		for (i = 0; i < len && i < 32; i++)
			(void)snprintf(t->tl_sha256 + 2 * i, 3, "%02x", md[i]);
		t->tl_info.client_sha256 = t->tl_sha256;
	}
	t->tl_info.client_subject = t->tl_subject;
}

/* The handshake is done: what was agreed, for modules and the log. */
static void
tls_established(struct evi_conn *c)
{
	struct tls_conn		*t = c->c_tls;
	struct evi_tls_info	*ti = &t->tl_info;
	const unsigned char	*alpn;
	const char		*sni;
	unsigned int		 len;

	ti->version = SSL_get_version(t->tl_ssl);
	ti->cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(t->tl_ssl));
	if ((sni = SSL_get_servername(t->tl_ssl,
	    TLSEXT_NAMETYPE_host_name)) != NULL)
		ti->sni = t->tl_sni = tls_clean(sni);
	SSL_get0_alpn_selected(t->tl_ssl, &alpn, &len);
	if (len > 0)
		ti->alpn = t->tl_alpn = xstrndup((const char *)alpn, len);
	ti->resumed = SSL_session_reused(t->tl_ssl);
	tls_note_peer(t);
	c->c_svc->s_stats->st_tls_handshakes++;
	if (ti->resumed)
		c->c_svc->s_stats->st_tls_resumed++;
}

/*
 * Why a handshake failed, from OpenSSL's error: the reasons a site can
 * act on (a client too old, a certificate it did not like, garbage on
 * the port) are told apart; the rest is "other".
 */
static enum evi_tls_failure
tls_classify(const struct tls_conn *t, int err, unsigned long e)
{
	int	reason = ERR_GET_REASON(e);

	if ((t->tl_flags & TL_FIRST) && t->tl_first != 0x16)
		return (EVI_TLS_FAIL_NOT_TLS);
	if (err == SSL_ERROR_SYSCALL || (t->tl_flags & TL_EOF) || e == 0)
		return (EVI_TLS_FAIL_EOF);
	if (reason >= SSL_AD_REASON_OFFSET)
		return (EVI_TLS_FAIL_ALERT);
	switch (reason) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_UNKNOWN_PROTOCOL:
		return (EVI_TLS_FAIL_VERSION);
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
		return (EVI_TLS_FAIL_CIPHER);
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_NO_CERTIFICATES_RETURNED:
		return (EVI_TLS_FAIL_CLIENT_CERT);
	case SSL_R_NO_APPLICATION_PROTOCOL:
		return (EVI_TLS_FAIL_ALPN);
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
		return (EVI_TLS_FAIL_NOT_TLS);
	}
	return (EVI_TLS_FAIL_OTHER);
}

/*
 * A handshake failed (or timed out): counted by reason, logged at most
 * once a second per service, and charged to the client's per_source_rate
 * as a second connection, so a handshake flood is throttled like any.
 */
void
tls_fail(struct evi_conn *c, enum evi_tls_failure reason, const char *detail)
{
	struct tls_conn	*t = c->c_tls;
	char		*what;

	t->tl_flags |= TL_FAILED;
	t->tl_failure = reason;
	c->c_svc->s_stats->st_tls_failed[reason]++;
	xasprintf(&what, "%s (%s)", evi_tls_failure_string(reason), detail);
	limits_tls_failed(c->c_svc, c->c_source, evi_conn_peer_string(c),
	    what);
	free(what);
}

/*
 * Feeds what the socket has to the handshake.  Returns 1 when it is
 * complete, 0 while it goes on, -1 when it failed (counted and logged;
 * the caller closes, after a best-effort send of OpenSSL's alert).
 */
int
tls_handshake(struct evi_conn *c)
{
	struct tls_conn	*t = c->c_tls;
	char		 detail[256];
	unsigned long	 e;
	int		 n, err, eof = 0;

	if (conn_read_into(c, t->tl_in, TLS_IN_MAX, &eof) == -1) {
		tls_fail(c, EVI_TLS_FAIL_EOF, strerror(errno));
		return (-1);
	}
	if (eof)
		t->tl_flags |= TL_EOF;
	if (!(t->tl_flags & TL_FIRST) &&
	    evbuffer_copyout(t->tl_in, &t->tl_first, 1) == 1)
		t->tl_flags |= TL_FIRST;
	ERR_clear_error();
	if ((n = SSL_do_handshake(t->tl_ssl)) == 1) {
		tls_established(c);
		return (1);
	}
	err = SSL_get_error(t->tl_ssl, n);
	if (err == SSL_ERROR_WANT_READ && !(t->tl_flags & TL_EOF))
		return (0);
	e = ERR_peek_last_error();
	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	else
		(void)snprintf(detail, sizeof(detail), "%s",
		    (t->tl_flags & TL_EOF) ? "the client closed" :
		    "no error given");
	ERR_clear_error();
	tls_fail(c, tls_classify(t, err, e), detail);
	(void)evbuffer_write(t->tl_out, c->c_fd);
	return (-1);
}

/*
 * Decrypts into `into', at most max bytes, reading the socket
 * whenever OpenSSL wants more.  Returns the bytes, with *eof set at the
 * peer's close_notify or EOF, or -1 with errno (EPROTO for a record that
 * does not decrypt, or the socket's error).
 */
ssize_t
tls_decrypt(struct evi_conn *c, struct evbuffer *into, size_t max, int *eof)
{
	struct tls_conn		*t = c->c_tls;
	struct evbuffer_iovec	 vec;
	size_t			 got = 0, want;
	int			 n, err, sockeof, drained = 0;

	ERR_clear_error();
	while (got < max) {
		if (t->tl_flags & TL_CLOSED) {
			*eof = 1;
			break;
		}
		want = max - got < TLS_RECORD ? max - got : TLS_RECORD;
		if (evbuffer_reserve_space(into, (ev_ssize_t)want, &vec, 1) !=
		    1)
			fatalx("evbuffer_reserve_space failed");
		n = SSL_read(t->tl_ssl, vec.iov_base, (int)want);
		vec.iov_len = n > 0 ? (size_t)n : 0;
		evbuffer_commit_space(into, &vec, 1);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		err = SSL_get_error(t->tl_ssl, n);
		if (err == SSL_ERROR_ZERO_RETURN) {
			t->tl_flags |= TL_CLOSED;
			continue;
		}
		if (err != SSL_ERROR_WANT_READ) {
			log_debug("service \"%s\": %s: TLS: %s",
			    c->c_svc->s_conf->sc_name, evi_conn_peer_string(c),
			    ERR_reason_error_string(ERR_peek_last_error()));
			ERR_clear_error();
			errno = EPROTO;
			return (-1);
		}
		if (drained || (t->tl_flags & TL_EOF))
			break;
		sockeof = 0;
		if (conn_read_into(c, t->tl_in, TLS_IN_MAX, &sockeof) == -1)
			return (-1);
		if (sockeof)
			t->tl_flags |= TL_EOF;
		else if (evbuffer_get_length(t->tl_in) == 0)
			drained = 1;
		else
			drained = !tls_pending(c);
	}
	return ((ssize_t)got);
}

/*
 * Encrypts the connection's output into records while less than
 * TLS_OUT_MAX is queued, adds our close_notify once a finished or
 * half-closed connection's output is all in, and sends what it can.
 * Returns the bytes still to send (plaintext and ciphertext), or -1 with
 * errno.
 */
ssize_t
tls_flush(struct evi_conn *c)
{
	struct tls_conn	*t = c->c_tls;
	unsigned char	*p;
	size_t		 len, chunk;
	int		 n;

	while (!(c->c_flags & CONN_HANDSHAKE) &&
	    (len = evbuffer_get_length(c->c_out)) > 0 &&
	    evbuffer_get_length(t->tl_out) < TLS_OUT_MAX) {
		chunk = len < TLS_RECORD ? len : TLS_RECORD;
		if ((p = evbuffer_pullup(c->c_out, (ev_ssize_t)chunk)) == NULL)
			fatalx("evbuffer_pullup failed");
		ERR_clear_error();
		if ((n = SSL_write(t->tl_ssl, p, (int)chunk)) <= 0) {
			ERR_clear_error();
			errno = EPROTO;
			return (-1);
		}
		evbuffer_drain(c->c_out, (size_t)n);
		conn_count_out(c, (size_t)n);
	}
	if ((c->c_flags & (CONN_FINISHING | CONN_SHUT_PENDING)) &&
	    evbuffer_get_length(c->c_out) == 0)
		tls_close_notify(c);
	if (evbuffer_get_length(t->tl_out) > 0 &&
	    evbuffer_write(t->tl_out, c->c_fd) == -1 && errno != EAGAIN &&
	    errno != EINTR)
		return (-1);
	return ((ssize_t)(evbuffer_get_length(c->c_out) +
	    evbuffer_get_length(t->tl_out)));
}

/*
 * Queues our close_notify, once: before our side of the socket shuts,
 * so the client can tell the end from a truncation.
 */
void
tls_close_notify(struct evi_conn *c)
{
	struct tls_conn	*t = c->c_tls;

	if (t->tl_flags & (TL_NOTIFIED | TL_FAILED) ||
	    (c->c_flags & CONN_HANDSHAKE))
		return;
	t->tl_flags |= TL_NOTIFIED;
	ERR_clear_error();
	(void)SSL_shutdown(t->tl_ssl);
	ERR_clear_error();
}

const struct evi_tls_info *
evi_conn_tls(const struct evi_conn *c)
{
	if (c == NULL || c->c_tls == NULL || (c->c_flags & CONN_HANDSHAKE))
		return (NULL);
	return (&c->c_tls->tl_info);
}

/* The connection log's TLS fields, or "" for plaintext. */
void
tls_log_fields(const struct evi_conn *c, char *buf, size_t len)
{
	const struct tls_conn	*t = c->c_tls;

	buf[0] = '\0';
	if (t == NULL)
		return;
	if (t->tl_flags & TL_FAILED)
		(void)snprintf(buf, len, " tls_error=%s",
		    evi_tls_failure_string(t->tl_failure));
	else if (!(c->c_flags & CONN_HANDSHAKE))
		(void)snprintf(buf, len, " tls_version=%s tls_cipher=%s sni=%s",
		    t->tl_info.version, t->tl_info.cipher,
		    t->tl_sni != NULL ? t->tl_sni : "-");
	else
		(void)snprintf(buf, len, " tls_error=incomplete");
}
