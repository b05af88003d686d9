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
 * A service's TLS settings: the tls_* keys, and the OpenSSL contexts built
 * from them.  The supervisor builds them while it checks a config, as
 * root and before any worker exists, so private keys are read once by the
 * process that may read them, and workers inherit the contexts at fork.
 * Every reload builds them again from the files: a renewed certificate is
 * picked up by SIGHUP, and a bad one fails the reload like any config
 * error, leaving the old generation serving.
 *
 * One SSL_CTX per certificate pair, configured alike; the first serves
 * unless the client's server name matches a later certificate (SNI).
 * Session tickets are encrypted with keys derived from a secret made per
 * generation (tls_tickets): every worker of the generation derives the
 * same keys, so a ticket works on any of them, and the keys move on each
 * hour by a one-way step, so a key taken from memory cannot open tickets
 * older than the two previous hours.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "evinetd.h"

#define TICKET_PERIOD	3600	/* seconds a ticket key encrypts */

static const char *const tls_versions[] = {
	"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
};
#define TLS_NVERSIONS	4

/* The keys' indexes in confkeys[], for the lines errors point at. */
static int
tlsconf_key_index(const char *name)
{
	size_t	i;

	for (i = 0; i < confkeys_count; i++) {
		if (strcmp(confkeys[i].ck_name, name) == 0)
			return ((int)i);
	}
	fatalx("no core key \"%s\"", name);
}

/*
 * Where a TLS key of a service was set: in its block, or globally as the
 * default it inherited.  n picks the line of a repeated key.
 */
static void
tlsconf_where(const struct config *cf, const struct service_conf *sc,
    const char *key, int n, const char **file, int *line)
{
	const struct conf_where	*w;
	int			 i = tlsconf_key_index(key);

	w = sc->sc_set[i].cw_line != 0 ? &sc->sc_set[i] : &cf->c_set[i];
	if (w->cw_line == 0) {
		*file = sc->sc_file;
		*line = sc->sc_line;
	} else if (n >= 0 && n < w->cw_nlines) {
		*file = w->cw_lines[n].cl_file;
		*line = w->cw_lines[n].cl_line;
	} else {
		*file = w->cw_file;
		*line = w->cw_line;
	}
}

/* Adds tls_certificate or tls_key files, each an absolute path. */
int
tlsconf_set_file(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct tls_files	*tf = field;
	int			 i;

	for (i = 0; i < nv; i++) {
		if (v[i].text[0] != '/') {
			confkey_error(ps, "%s \"%s\" must be an absolute path",
			    ck->ck_name, v[i].text);
			return (-1);
		}
	}
	for (i = 0; i < nv; i++) {
		tf->tf_paths = xreallocarray(tf->tf_paths,
		    (size_t)tf->tf_n + 1, sizeof(char *));
		tf->tf_paths[tf->tf_n++] = xstrdup(v[i].text);
	}
	return (0);
}

/*
 * tls_protocols: version names, a range without holes (OpenSSL has a
 * minimum and a maximum; a hole would be a setting nobody means).
 */
int
tlsconf_set_protocols(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	char		*copy, *word, *last;
	long long	 bits = 0;
	int		 i, j, lo, hi, rv = 0;

	for (i = 0; i < nv && rv == 0; i++) {
		copy = xstrdup(v[i].text);
		for (word = strtok_r(copy, " \t", &last); word != NULL;
		    word = strtok_r(NULL, " \t", &last)) {
			for (j = 0; j < TLS_NVERSIONS; j++) {
				if (strcmp(word, tls_versions[j]) == 0)
					break;
			}
			if (j == TLS_NVERSIONS) {
				confkey_error(ps, "%s: unknown protocol \"%s\" "
				    "(known: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)",
				    ck->ck_name, word);
				rv = -1;
				break;
			}
			bits |= 1LL << j;
		}
		free(copy);
	}
	if (rv != 0)
		return (-1);
	for (lo = 0; lo < TLS_NVERSIONS && !(bits & (1LL << lo)); lo++)
		;
	for (hi = TLS_NVERSIONS - 1; hi >= 0 && !(bits & (1LL << hi)); hi--)
		;
	if (bits == 0 || bits != ((1LL << (hi + 1)) - (1LL << lo))) {
		confkey_error(ps, "%s must be one version or a range without "
		    "gaps, like \"TLSv1.2 TLSv1.3\"", ck->ck_name);
		return (-1);
	}
	*(long long *)field = bits;
	return (0);
}

int
tlsconf_set_verify(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	static const char *const words[] = { "no", "optional", "require" };
	size_t	i;

	(void)nv;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcmp(v[0].text, words[i]) == 0) {
			*(long long *)field = (long long)i;
			return (0);
		}
	}
	confkey_error(ps, "invalid %s \"%s\" (expected no, optional or "
	    "require)", ck->ck_name, v[0].text);
	return (-1);
}

/* tls_alpn: protocol names of 1 to 255 printable bytes each. */
int
tlsconf_set_alpn(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	char	*text = xstrdup(""), *next;
	size_t	 len;
	int	 i;

	for (i = 0; i < nv; i++) {
		len = strlen(v[i].text);
		if (len == 0 || len > 255 || strpbrk(v[i].text, " \t")) {
			confkey_error(ps, "%s: \"%s\" is not a protocol name "
			    "(1 to 255 characters, no spaces)", ck->ck_name,
			    v[i].text);
			free(text);
			return (-1);
		}
		xasprintf(&next, "%s%s%s", text, *text ? " " : "", v[i].text);
		free(text);
		text = next;
	}
	free(*(char **)field);
	*(char **)field = text;
	return (0);
}

/* OpenSSL's error queue as one line for a config error, and emptied. */
static const char *
tlsconf_ssl_error(void)
{
	static char	buf[256];
	unsigned long	e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		return ("unknown error");
	ERR_error_string_n(last, buf, sizeof(buf));
	return (buf);
}

/* OpenSSL asks for an encrypted key's pass phrase: there is none. */
static int
/* NOLINTNEXTLINE(readability-non-const-parameter): OpenSSL's type */
tlsconf_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)arg = 1;
	return (-1);
}

/*
 * Reads a private key the way module files are opened (trust.c): as
 * root, every directory and link on its way and the file itself must be
 * root's and writable by nobody else, or someone else could swap it; and
 * the file must not be readable by others, who could then impersonate
 * the service.  What is read is the descriptor that was checked.  An
 * encrypted key is refused at once, never prompted for.
 */
static EVP_PKEY *
tlsconf_read_key(const char *path, char **cause)
{
	struct stat	 st;
	BIO		*b;
	EVP_PKEY	*pkey = NULL;
	char		*why = NULL;
	FILE		*fp;
	int		 fd, asked = 0;

	if ((fd = trust_open(path, &why)) == -1) {
		xasprintf(cause, "%s: %s", path, why);
		free(why);
		return (NULL);
	}
	if (fstat(fd, &st) == 0 && geteuid() == 0 && (st.st_mode & S_IROTH)) {
		xasprintf(cause, "%s is readable by others (mode %04o); chmod "
		    "o-r it", path, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return (NULL);
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("fdopen");
	if ((b = BIO_new_fp(fp, BIO_CLOSE)) == NULL)
		fatalx("BIO_new_fp failed");
	ERR_clear_error();
	pkey = PEM_read_bio_PrivateKey(b, NULL, tlsconf_no_passphrase, &asked);
	BIO_free(b);
	if (pkey == NULL && asked)
		xasprintf(cause, "%s is encrypted; give evinetd the key "
		    "unencrypted, readable by root only", path);
	else if (pkey == NULL)
		xasprintf(cause, "%s: not a PEM private key (%s)", path,
		    tlsconf_ssl_error());
	ERR_clear_error();
	return (pkey);
}

/* An expired or not yet valid certificate is a warning: it still serves. */
static void
tlsconf_check_dates(struct service_conf *sc, const char *file, int line,
    const char *path, X509 *x)
{
	const ASN1_TIME	*t;
	BIO		*b;
	char		 when[64];
	int		 n;

	if (X509_cmp_current_time((t = X509_get0_notAfter(x))) >= 0 &&
	    X509_cmp_current_time((t = X509_get0_notBefore(x))) <= 0)
		return;
	when[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		ASN1_TIME_print(b, t);
		n = BIO_read(b, when, sizeof(when) - 1);
		when[n > 0 ? n : 0] = '\0';
		BIO_free(b);
	}
	log_warnx("%s:%d: warning: service \"%s\": certificate %s %s %s",
	    file, line, sc->sc_name, path, t == X509_get0_notAfter(x) ?
	    "expired on" : "is not valid before", when);
}

/*
 * The client's server name picks the first certificate that names it;
 * none does: the first one serves.  Returning OK either way lets the
 * handshake go on with the default, as clients expect.
 */
static int
/* NOLINTNEXTLINE(readability-non-const-parameter): OpenSSL's type */
tlsconf_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx	*tx = arg;
	const char	*name;
	int		 i;

	(void)alert;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return (SSL_TLSEXT_ERR_OK);
	for (i = 0; i < tx->tx_n; i++) {
		if (X509_check_host(tx->tx_leaf[i], name, 0, 0, NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, tx->tx_ctx[i]);
			break;
		}
	}
	return (SSL_TLSEXT_ERR_OK);
}

/* ALPN: the first of our protocols the client offers; none is fatal. */
static int
tlsconf_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_ctx	*tx = arg;

	(void)ssl;
	if (SSL_select_next_proto((unsigned char **)out, outlen,
	    tx->tx_alpn, tx->tx_alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_ALERT_FATAL);
	return (SSL_TLSEXT_ERR_OK);
}

/* Derives key k of a ratchet state: its name, cipher key and MAC key. */
static void
tlsconf_ticket_derive(const unsigned char *secret, struct tls_ticket_key *k)
{
	unsigned char	buf[TLS_TICKET_SECRET + 1], md[EVP_MAX_MD_SIZE];
	unsigned int	len;

	memcpy(buf, secret, TLS_TICKET_SECRET);
	buf[TLS_TICKET_SECRET] = 'n';
	EVP_Digest(buf, sizeof(buf), md, &len, EVP_sha256(), NULL);
	memcpy(k->tk_name, md, sizeof(k->tk_name));
	buf[TLS_TICKET_SECRET] = 'a';
	EVP_Digest(buf, sizeof(buf), k->tk_aes, &len, EVP_sha256(), NULL);
	buf[TLS_TICKET_SECRET] = 'h';
	EVP_Digest(buf, sizeof(buf), k->tk_hmac, &len, EVP_sha256(), NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(md, sizeof(md));
	k->tk_valid = 1;
}

/*
 * Moves the ticket keys on to the current hour: each step hashes the
 * secret one way and forgets the old one, keeping the last keys to
 * decrypt with.  Every process of the generation does it on its own and
 * arrives at the same keys (one boot, one monotonic clock).
 */
void
tlsconf_tickets_advance(struct tls_tickets *tt)
{
	struct timespec	ts;
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	len;
	uint64_t	epoch;
	int		i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	epoch = (uint64_t)(ts.tv_sec - tt->tt_start) / TICKET_PERIOD;
	while (tt->tt_epoch < epoch) {
		EVP_Digest(tt->tt_secret, TLS_TICKET_SECRET, md, &len,
		    EVP_sha256(), NULL);
		memcpy(tt->tt_secret, md, TLS_TICKET_SECRET);
		OPENSSL_cleanse(md, sizeof(md));
		for (i = TLS_TICKET_KEYS - 1; i > 0; i--)
			tt->tt_keys[i] = tt->tt_keys[i - 1];
		tlsconf_ticket_derive(tt->tt_secret, &tt->tt_keys[0]);
		tt->tt_epoch++;
	}
}

/*
 * Which of the keys a ticket's key name is: 0 the current hour's, 1 or 2
 * an earlier hour's, -1 none (older, or another generation's).
 */
int
tlsconf_ticket_lookup(const struct tls_tickets *tt, const unsigned char *name)
{
	int	i;

	for (i = 0; i < TLS_TICKET_KEYS; i++) {
		if (tt->tt_keys[i].tk_valid && memcmp(name,
		    tt->tt_keys[i].tk_name, sizeof(tt->tt_keys[i].tk_name)) == 0)
			return (i);
	}
	return (-1);
}

/*
 * OpenSSL asks for a key to encrypt a new ticket (the current one) or to
 * decrypt a client's (by name).  1: go on; 2: go on and issue a fresh
 * ticket, since this one's key is old; 0: unknown key, full handshake.
 */
static int
tlsconf_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_ctx		*tx;
	struct tls_ticket_key	*k = NULL;
	OSSL_PARAM		 params[3];
	int			 i;

	tx = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_ctx_index);
	tlsconf_tickets_advance(tx->tx_tickets);
	if (enc) {
		k = &tx->tx_tickets->tt_keys[0];
		memcpy(name, k->tk_name, sizeof(k->tk_name));
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(
		    EVP_aes_256_cbc())) != 1)
			return (-1);
		i = 0;
	} else {
		if ((i = tlsconf_ticket_lookup(tx->tx_tickets, name)) == -1)
			return (0);
		k = &tx->tx_tickets->tt_keys[i];
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->tk_hmac, sizeof(k->tk_hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"sha256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return (-1);
	if (enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
	    k->tk_aes, iv) != 1 : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(),
	    NULL, k->tk_aes, iv) != 1)
		return (-1);
	return (i == 0 ? 1 : 2);
}

/* A new ticket secret, random, whose first hour starts now. */
struct tls_tickets *
tlsconf_tickets_new(void)
{
	struct tls_tickets	*tt;
	struct timespec		 ts;

	tt = xcalloc(1, sizeof(*tt));
	if (RAND_bytes(tt->tt_secret, sizeof(tt->tt_secret)) != 1)
		fatalx("RAND_bytes failed");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	tt->tt_start = ts.tv_sec;
	tlsconf_ticket_derive(tt->tt_secret, &tt->tt_keys[0]);
	return (tt);
}

/* The generation's ticket secret, made at its first TLS service. */
static struct tls_tickets *
tlsconf_tickets(struct config *cf)
{
	if (cf->c_tls_tickets == NULL)
		cf->c_tls_tickets = tlsconf_tickets_new();
	return (cf->c_tls_tickets);
}

/*
 * The settings every context of a service shares.  Returns -1 with a
 * config error at the key OpenSSL refused.
 */
static int
tlsconf_ctx_setup(struct config *cf, struct service_conf *sc,
    struct tls_ctx *tx, SSL_CTX *ctx)
{
	const struct tls_conf	*tc = &sc->sc_limits.lim_tls;
	const char		*file;
	int			 line, lo, hi;
	static const int	 vers[] = { TLS1_VERSION, TLS1_1_VERSION,
				    TLS1_2_VERSION, TLS1_3_VERSION };

	for (lo = 0; !(tc->tc_protocols & (1LL << lo)); lo++)
		;
	for (hi = TLS_NVERSIONS - 1; !(tc->tc_protocols & (1LL << hi)); hi--)
		;
	SSL_CTX_set_min_proto_version(ctx, vers[lo]);
	SSL_CTX_set_max_proto_version(ctx, vers[hi]);
	/* Below TLSv1.2 OpenSSL's default security level refuses all. */
	if (lo < 2)
		SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_set1_groups_list(ctx, TLSCONF_GROUPS) != 1)
		fatalx("SSL_CTX_set1_groups_list: %s", tlsconf_ssl_error());
	if (SSL_CTX_set_cipher_list(ctx, tc->tc_ciphers) != 1) {
		tlsconf_where(cf, sc, "tls_ciphers", -1, &file, &line);
		config_error(cf, file, line, "service \"%s\": tls_ciphers "
		    "\"%s\": %s", sc->sc_name, tc->tc_ciphers,
		    tlsconf_ssl_error());
		return (-1);
	}
	if (SSL_CTX_set_ciphersuites(ctx, tc->tc_ciphersuites) != 1) {
		tlsconf_where(cf, sc, "tls_ciphersuites", -1, &file, &line);
		config_error(cf, file, line, "service \"%s\": tls_ciphersuites "
		    "\"%s\": %s", sc->sc_name, tc->tc_ciphersuites,
		    tlsconf_ssl_error());
		return (-1);
	}
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)
	    sc->sc_name, (unsigned int)strnlen(sc->sc_name,
	    SSL_MAX_SID_CTX_LENGTH));
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (tc->tc_tickets)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tlsconf_ticket_cb);
	else {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	SSL_CTX_set_ex_data(ctx, tls_ctx_index, tx);
	SSL_CTX_set_tlsext_servername_callback(ctx, tlsconf_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, tx);
	if (tx->tx_alpn_len > 0)
		SSL_CTX_set_alpn_select_cb(ctx, tlsconf_alpn_cb, tx);
	return (0);
}

/* Client certificates: the CA file, and how much to insist. */
static int
tlsconf_ctx_verify(struct config *cf, struct service_conf *sc,
    SSL_CTX *ctx)
{
	const struct tls_conf	*tc = &sc->sc_limits.lim_tls;
	STACK_OF(X509_NAME)	*names;
	const char		*file;
	char			*cause;
	int			 line, mode, fd;

	if (tc->tc_verify == TLS_VERIFY_NO)
		return (0);
	if (tc->tc_client_ca == NULL)
		return (-1);	/* tlsconf_check_keys said so */
	tlsconf_where(cf, sc, "tls_client_ca", -1, &file, &line);
	ERR_clear_error();
	/* Who can change the CAs can let anyone in: checked like a key. */
	if ((fd = trust_open(tc->tc_client_ca, &cause)) == -1) {
		config_error(cf, file, line, "service \"%s\": tls_client_ca "
		    "%s: %s", sc->sc_name, tc->tc_client_ca, cause);
		free(cause);
		return (-1);
	}
	close(fd);
	if (SSL_CTX_load_verify_locations(ctx, tc->tc_client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(tc->tc_client_ca)) == NULL) {
		config_error(cf, file, line, "service \"%s\": tls_client_ca "
		    "%s: no PEM certificates (%s)", sc->sc_name,
		    tc->tc_client_ca, tlsconf_ssl_error());
		return (-1);
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	mode = SSL_VERIFY_PEER;
	if (tc->tc_verify == TLS_VERIFY_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return (0);
}

/*
 * Loads certificate pair i: the chain, the key (whose file must be safe),
 * and whether they belong together.  Every problem is a config error at
 * the line of the key that named the file.
 */
static int
tlsconf_load_pair(struct config *cf, struct service_conf *sc,
    SSL_CTX *ctx, int i)
{
	const struct tls_conf	*tc = &sc->sc_limits.lim_tls;
	const char		*cert = tc->tc_certs.tf_paths[i];
	const char		*key = tc->tc_keys.tf_paths[i];
	const char		*cfile, *kfile;
	EVP_PKEY		*pkey;
	char			*cause;
	unsigned long		 e;
	int			 cline, kline, rv = 0;

	tlsconf_where(cf, sc, "tls_certificate", i, &cfile, &cline);
	tlsconf_where(cf, sc, "tls_key", i, &kfile, &kline);
	ERR_clear_error();
	if (access(cert, R_OK) == -1) {
		config_error(cf, cfile, cline, "service \"%s\": "
		    "tls_certificate %s: %s", sc->sc_name, cert,
		    strerror(errno));
		rv = -1;
	} else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		config_error(cf, cfile, cline, "service \"%s\": "
		    "tls_certificate %s: not a PEM certificate (%s)",
		    sc->sc_name, cert, tlsconf_ssl_error());
		rv = -1;
	}
	if ((pkey = tlsconf_read_key(key, &cause)) == NULL) {
		config_error(cf, kfile, kline, "service \"%s\": tls_key %s",
		    sc->sc_name, cause);
		free(cause);
		return (-1);
	}
	/* OpenSSL checks the key against the certificate as it takes it. */
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		e = ERR_GET_REASON(ERR_peek_last_error());
		ERR_clear_error();
		if (rv == 0 && (e == X509_R_KEY_VALUES_MISMATCH ||
		    e == X509_R_KEY_TYPE_MISMATCH))
			config_error(cf, kfile, kline, "service \"%s\": "
			    "tls_key %s does not match tls_certificate %s",
			    sc->sc_name, key, cert);
		else if (rv == 0)
			config_error(cf, kfile, kline, "service \"%s\": "
			    "tls_key %s: OpenSSL refused it", sc->sc_name, key);
		EVP_PKEY_free(pkey);
		return (-1);
	}
	EVP_PKEY_free(pkey);
	if (rv == 0)
		tlsconf_check_dates(sc, cfile, cline, cert,
		    SSL_CTX_get0_certificate(ctx));
	return (rv);
}

/* tls_alpn in the wire format OpenSSL wants: length-prefixed names. */
static void
tlsconf_alpn_wire(struct tls_ctx *tx, const char *text)
{
	char	*copy, *word, *last;
	size_t	 len;

	if (text == NULL)
		return;
	tx->tx_alpn = xmalloc(strlen(text) + 1);
	copy = xstrdup(text);
	for (word = strtok_r(copy, " ", &last); word != NULL;
	    word = strtok_r(NULL, " ", &last)) {
		len = strlen(word);
		tx->tx_alpn[tx->tx_alpn_len++] = (unsigned char)len;
		memcpy(tx->tx_alpn + tx->tx_alpn_len, word, len);
		tx->tx_alpn_len += (unsigned int)len;
	}
	free(copy);
}

/* Checks what TLS keys a service has with it, before building anything. */
static int
tlsconf_check_keys(struct config *cf, struct service_conf *sc)
{
	const struct tls_conf	*tc = &sc->sc_limits.lim_tls;
	const char		*file;
	int			 line, rv = 0;

	if (tc->tc_certs.tf_n != tc->tc_keys.tf_n) {
		tlsconf_where(cf, sc, tc->tc_certs.tf_n > tc->tc_keys.tf_n ?
		    "tls_certificate" : "tls_key", tc->tc_certs.tf_n <
		    tc->tc_keys.tf_n ? tc->tc_certs.tf_n : tc->tc_keys.tf_n,
		    &file, &line);
		config_error(cf, file, line, "service \"%s\": %d "
		    "tls_certificate but %d tls_key (they pair in order)",
		    sc->sc_name, tc->tc_certs.tf_n, tc->tc_keys.tf_n);
		rv = -1;
	}
	tlsconf_where(cf, sc, tc->tc_certs.tf_n > 0 ? "tls_certificate" :
	    "tls_key", 0, &file, &line);
	if (sc->sc_protocol == EVI_PROTO_UDP) {
		config_error(cf, file, line, "service \"%s\": TLS needs "
		    "\"protocol = tcp\" (DTLS is not supported)", sc->sc_name);
		rv = -1;
	}
	if (sc->sc_exec.ex_wait) {
		config_error(cf, file, line, "service \"%s\": TLS cannot "
		    "apply to a \"wait = yes\" service, whose program reads "
		    "the socket itself", sc->sc_name);
		rv = -1;
	}
	if (tc->tc_verify != TLS_VERIFY_NO && tc->tc_client_ca == NULL) {
		tlsconf_where(cf, sc, "tls_verify_client", -1, &file, &line);
		config_error(cf, file, line, "service \"%s\": "
		    "tls_verify_client needs tls_client_ca", sc->sc_name);
		rv = -1;
	}
	return (rv);
}

/*
 * A TLS key written in a plaintext service's block is a mistake (a
 * forgotten certificate, most likely): an error, not silence.  Keys it
 * inherits from global defaults are fine: they are for TLS services.
 */
static void
tlsconf_check_unused(struct config *cf, struct service_conf *sc)
{
	size_t	i;

	for (i = 0; i < confkeys_count; i++) {
		if (strncmp(confkeys[i].ck_name, "tls_", 4) != 0 ||
		    confkeys[i].ck_scope != CK_INHERIT ||
		    sc->sc_set[i].cw_line == 0)
			continue;
		config_error(cf, sc->sc_set[i].cw_file, sc->sc_set[i].cw_line,
		    "service \"%s\": %s has no effect without "
		    "tls_certificate and tls_key", sc->sc_name,
		    confkeys[i].ck_name);
	}
}

/*
 * Builds a service's TLS contexts if it has certificates, reporting
 * every problem as a config error; the service stays plaintext (and the
 * config fails) if anything is wrong.
 */
void
tlsconf_check(struct config *cf, struct service_conf *sc)
{
	struct tls_conf	*tc = &sc->sc_limits.lim_tls;
	struct tls_ctx	*tx;
	int		 i, bad = 0;

	if (tc->tc_certs.tf_n == 0 && tc->tc_keys.tf_n == 0) {
		tlsconf_check_unused(cf, sc);
		return;
	}
	/* Global certificates are for the services TLS can apply to. */
	if ((sc->sc_protocol == EVI_PROTO_UDP || sc->sc_exec.ex_wait) &&
	    sc->sc_set[tlsconf_key_index("tls_certificate")].cw_line == 0 &&
	    sc->sc_set[tlsconf_key_index("tls_key")].cw_line == 0)
		return;
	/* The pairs there are are still loaded, to report all at once. */
	bad = tlsconf_check_keys(cf, sc) != 0;
	tls_init();
	tx = xcalloc(1, sizeof(*tx));
	tx->tx_n = tc->tc_certs.tf_n < tc->tc_keys.tf_n ? tc->tc_certs.tf_n :
	    tc->tc_keys.tf_n;
	tx->tx_ctx = xcalloc((size_t)tx->tx_n, sizeof(SSL_CTX *));
	tx->tx_leaf = xcalloc((size_t)tx->tx_n, sizeof(X509 *));
	tx->tx_handshake_ms = tc->tc_handshake_ms;
	tlsconf_alpn_wire(tx, tc->tc_alpn);
	if (tc->tc_tickets)
		tx->tx_tickets = tlsconf_tickets(cf);
	for (i = 0; i < tx->tx_n; i++) {
		if ((tx->tx_ctx[i] = SSL_CTX_new(TLS_server_method())) == NULL)
			fatalx("SSL_CTX_new: %s", tlsconf_ssl_error());
		/* Settings errors are the same for every pair: once. */
		if (i == 0 && (tlsconf_ctx_setup(cf, sc, tx,
		    tx->tx_ctx[i]) != 0 || tlsconf_ctx_verify(cf, sc,
		    tx->tx_ctx[i]) != 0))
			bad = 1;
		else if (i > 0 && !bad) {
			(void)tlsconf_ctx_setup(cf, sc, tx, tx->tx_ctx[i]);
			(void)tlsconf_ctx_verify(cf, sc, tx->tx_ctx[i]);
		}
		if (tlsconf_load_pair(cf, sc, tx->tx_ctx[i], i) != 0)
			bad = 1;
		tx->tx_leaf[i] = SSL_CTX_get0_certificate(tx->tx_ctx[i]);
	}
	tc->tc_ctx = tx;
	tc->tc_on = !bad;
	if (bad) {
		tlsconf_ctx_free(tx);
		tc->tc_ctx = NULL;
	}
}

/*
 * A new worker forgets the keys of the services it does not serve (an
 * isolated service's, another generation's), and the ticket secret if
 * none of its own needs it: freeing a context wipes its private key, so
 * a module in one process cannot read keys it was never meant to hold.
 */
void
tlsconf_forget(struct config *cf, int (*keep)(const struct service_conf *,
    void *), void *arg)
{
	struct service_conf	*sc;
	struct tls_conf		*tc;
	int			 tickets = 0;

	TAILQ_FOREACH(sc, &cf->c_services, sc_entry) {
		tc = &sc->sc_limits.lim_tls;
		if (tc->tc_ctx == NULL)
			continue;
		if (keep(sc, arg)) {
			tickets |= tc->tc_ctx->tx_tickets != NULL;
			continue;
		}
		tlsconf_ctx_free(tc->tc_ctx);
		tc->tc_ctx = NULL;
	}
	if (!tickets) {
		tlsconf_tickets_free(cf->c_tls_tickets);
		cf->c_tls_tickets = NULL;
	}
}

/* Frees contexts built by tlsconf_check. */
void
tlsconf_ctx_free(struct tls_ctx *tx)
{
	int	i;

	if (tx == NULL)
		return;
	for (i = 0; i < tx->tx_n; i++)
		SSL_CTX_free(tx->tx_ctx[i]);
	free(tx->tx_ctx);
	free(tx->tx_leaf);
	free(tx->tx_alpn);
	free(tx);
}

void
tlsconf_free(struct tls_conf *tc)
{
	int	i;

	for (i = 0; i < tc->tc_certs.tf_n; i++)
		free(tc->tc_certs.tf_paths[i]);
	for (i = 0; i < tc->tc_keys.tf_n; i++)
		free(tc->tc_keys.tf_paths[i]);
	free(tc->tc_certs.tf_paths);
	free(tc->tc_keys.tf_paths);
	free(tc->tc_client_ca);
	free(tc->tc_ciphers);
	free(tc->tc_ciphersuites);
	free(tc->tc_alpn);
	tlsconf_ctx_free(tc->tc_ctx);
	memset(tc, 0, sizeof(*tc));
}

/* Forgets a generation's ticket secret, wiped. */
void
tlsconf_tickets_free(struct tls_tickets *tt)
{
	if (tt == NULL)
		return;
	OPENSSL_cleanse(tt, sizeof(*tt));
	free(tt);
}
