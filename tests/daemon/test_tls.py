#!/usr/bin/env python3
"""TLS on a TCP service (issue 15), through the real daemon and real
clients: Python's ssl module, openssl s_client.

It checks 256 MiB echoed byte-exact both ways at once and a half-close by
close_notify; the protocol versions served and refused; client
certificates (require and optional); SNI choosing among certificates;
ALPN; session resumption on one worker, on another one, not with
tls_session_tickets = no and not across a reload; a reload with a renewed
certificate while a connection stays up; garbage instead of a
ClientHello and a silent client, both closed and counted; and the
"evinetd -n" errors and warnings of the TLS keys.

Certificates come from tlscerts.PKI, made at run time in a temp dir.
The module "tlsinfo" (tests/modules/tlsinfo.c) writes what
evi_conn_tls() said as its first line, then echoes.
"""

import hashlib
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import evitest
import tlscerts
from test_stats import scrape
from test_supervisor import reload, wait_until, write_conf

IO = evitest.IO_TIMEOUT
SCALE = evitest.TIMEOUT_SCALE
MiB = 1 << 20

# The lines of a failed handshake and of the ones that the rate limit
# folded into one (their formats are in evitest.INFO_PATTERNS).
FAILED_RE = r'^service "%s": TLS handshake with \S+ failed: %s \('
MORE_RE = r'^service "%s": (\d+) more TLS handshake failures in the last ' \
    r'second'

# The contract's defaults: Mozilla "intermediate".
DEFAULT_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
    "DHE-RSA-CHACHA20-POLY1305:TLS_AES_128_GCM_SHA256:"
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256").split(":")

# What the daemon serves by default.
MODERN = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)

FAILURES = "evinetd_tls_handshake_failures_total"
HANDSHAKES = "evinetd_tls_handshakes_total"
RESUMED = "evinetd_tls_resumed_total"

STATS = """
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
"""


def testmod(name):
    return os.path.join(evitest.TESTMOD_DIR, name + ".so")


def tls_keys(pairs):
    """The tls_certificate and tls_key lines of PAIRS [(cert, key)]."""
    return "".join("        tls_certificate = %s\n        tls_key = %s\n" % p
                   for p in pairs)


def tls_conf(pairs, *keys, name="tls", module=None, listen="127.0.0.1:0",
             top="", stats=True):
    """A config with one TLS service NAME (the tlsinfo module unless
    MODULE) with the certificates PAIRS and more KEYS, and a stats
    service."""
    extra = "".join("        %s\n" % k for k in keys)
    return "%s\nservice %s {\n        listen = %s\n        module = %s\n" \
        "%s%s}\n%s" % (top, name, listen, module or testmod("tlsinfo"),
                       tls_keys(pairs), extra, STATS if stats else "")


class PKICase(evitest.TestCase):
    """A test case with one PKI for the whole class: a CA and a server
    certificate for "localhost" and 127.0.0.1 (self.cert, self.key)."""

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = evitest.TempDir(prefix="evitest-pki-")
        cls.pki = tlscerts.PKI(cls.pki_dir.path)
        cls.cert, cls.key = cls.pki.server("localhost",
                                           sans=["localhost", "127.0.0.1"])

    @classmethod
    def tearDownClass(cls):
        cls.pki_dir.close()

    def tls_daemon(self, *keys, pairs=None, expect=(), **kw):
        """A daemon serving tls_conf(PAIRS or our certificate, KEYS)."""
        conf_kw = {k: kw.pop(k) for k in ("name", "module", "top", "listen")
                   if k in kw}
        return self.daemon(tls_conf(pairs or [(self.cert, self.key)], *keys,
                                    **conf_kw),
                           expect=expect, **kw)

    def ctx(self, version=None, alpn=None, cert=None, check_hostname=True):
        return client_ctx(self.pki.ca_cert, version, alpn, cert,
                          check_hostname)


# Clients.

def client_ctx(cafile, version=None, alpn=None, cert=None,
               check_hostname=True):
    """A client context that trusts CAFILE; VERSION pins one protocol
    version, ALPN is a list to offer, CERT a (cert, key) to present."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.check_hostname = check_hostname
    if version is not None:
        if version < ssl.TLSVersion.TLSv1_2:
            # Debian's OpenSSL allows neither in its defaults: ask for
            # them explicitly, so that only the server can refuse.
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        with warnings.catch_warnings():
            # Python calls TLS 1.0 and 1.1 deprecated: that is the point.
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return ctx


def tls_connect(port, ctx, name="localhost", session=None,
                host="127.0.0.1"):
    """A TLS connection whose handshake is done, with IO_TIMEOUT on every
    operation."""
    raw = evitest.connect(port, host)
    try:
        return ctx.wrap_socket(raw, server_hostname=name, session=session)
    except BaseException:
        raw.close()
        raise


def read_line(sock, timeout=IO):
    """Bytes up to and including the first newline, or all there was
    before EOF."""
    deadline = time.monotonic() + timeout * SCALE
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no line within %.1f s: %r" % (
                timeout * SCALE, buf))
        sock.settimeout(left)
        chunk = sock.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


def parse_info(line):
    """tlsinfo's first line as a dict (see tests/modules/tlsinfo.c)."""
    text = line.decode().rstrip("\n")
    if text == "plain":
        return {"plain": True}
    m = re.match(r"^(?P<head>version=.*) subject=(?P<subject>.*) "
                 r"sha256=(?P<sha256>\S+) pid=(?P<pid>\d+)$", text)
    if m is None:
        raise AssertionError("not a tlsinfo line: %r" % line)
    info = dict(kv.split("=", 1) for kv in m.group("head").split(" "))
    info.update(subject=m.group("subject"), sha256=m.group("sha256"),
                pid=int(m.group("pid")))
    return info


def info_of(port, ctx, name="localhost", session=None):
    """Connects, reads tlsinfo's line, echoes a few bytes; returns (the
    parsed line, the TLS socket's session, session_reused, the server's
    certificate in DER)."""
    with tls_connect(port, ctx, name, session) as s:
        info = parse_info(read_line(s))
        s.sendall(b"ping\n")
        if read_line(s) != b"ping\n":
            raise AssertionError("no echo after the info line")
        return info, s.session, s.session_reused, s.getpeercert(True)


def refusal(port, ctx, name="localhost"):
    """The error that ended a connection the server refused: its
    handshake failed, or (TLS 1.3, where a server judges the client's
    certificate after the client is done) the first read.  Fails if the
    module got to say a word."""
    try:
        s = tls_connect(port, ctx, name)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return e
    with s:
        try:
            line = read_line(s)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            return e
        if line.startswith(b"version="):
            raise AssertionError("served: %r" % line)
        return EOFError("closed after %r" % line)


def client_hello(ctx):
    """The bytes of the ClientHello a client with CTX sends first."""
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def metric(d, name, **labels):
    return scrape(d.port("stats")).count(name, **labels)


def wait_metric(d, name, want, timeout=IO, **labels):
    """Waits until the stats module reports WANT for NAME{LABELS}; fails
    at once if it goes past it."""
    def reached():
        v = metric(d, name, **labels)
        if v > want:
            raise AssertionError("%s%r = %d, more than %d" % (
                name, labels, v, want))
        return v == want
    wait_until(reached, timeout, "%s%r = %d" % (name, labels, want),
               interval=0.05)


def sslobj_read(obj, size):
    """Plaintext an ssl.SSLObject has decrypted, at most SIZE bytes: b""
    at the peer's close_notify, None when it needs more records."""
    try:
        return obj.read(size)
    except ssl.SSLWantReadError:
        return None
    except ssl.SSLZeroReturnError:
        return b""


class BioClient:
    """A TLS client over a non-blocking socket, driven by hand through
    ssl.MemoryBIO and SSLObject: one thread moves both directions at once
    (an SSL object must not be read and written by two threads), and the
    test decides when close_notify goes out."""

    def __init__(self, port, ctx, name="localhost", host="127.0.0.1"):
        self.sock = evitest.connect(port, host)
        self.sock.setblocking(False)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=name)
        self.tx = bytearray()
        self.tcp_eof = False            # the server closed TCP
        self.close_notify = False       # the server's close_notify came
        self.echoed_at_close_notify = None  # bytes echoed when ours left
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)

    def close(self):
        self.sel.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def io(self, deadline):
        """Sends what OpenSSL wrote and receives what the socket has,
        waiting at most until DEADLINE for either."""
        self.tx += self.out.read()
        want = 0 if self.tcp_eof else selectors.EVENT_READ
        if self.tx:
            want |= selectors.EVENT_WRITE
        if not want:
            raise EOFError("the server closed, and there is nothing to "
                           "send")
        self.sel.modify(self.sock, want)
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("TLS client: out of time")
        for _, ev in self.sel.select(min(left, 1.0)):
            if ev & selectors.EVENT_WRITE:
                try:
                    del self.tx[:self.sock.send(self.tx[:MiB])]
                except (BlockingIOError, InterruptedError):
                    pass
            if ev & selectors.EVENT_READ:
                try:
                    data = self.sock.recv(MiB)
                except (BlockingIOError, InterruptedError):
                    continue
                if data:
                    self.inc.write(data)
                else:
                    self.tcp_eof = True
                    self.inc.write_eof()

    def handshake(self, timeout=IO):
        deadline = time.monotonic() + timeout * SCALE
        while True:
            try:
                self.obj.do_handshake()
                self.tx += self.out.read()
                return
            except ssl.SSLWantReadError:
                self.io(deadline)

    def drain(self):
        """The plaintext OpenSSL has decrypted so far."""
        got = []
        while not self.close_notify:
            data = sslobj_read(self.obj, MiB)
            if data is None:
                break
            if not data:
                self.close_notify = True
            got.append(data)
        return b"".join(got)

    def send_close_notify(self):
        """unwrap() once: our close_notify goes out, and we go on
        reading."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self.tx += self.out.read()

    def echo(self, chunks, timeout, close_notify=False):
        """Writes every chunk of CHUNKS while reading the echo, with at
        most a few MiB in flight.  Returns (bytes sent, their BLAKE2b,
        bytes received, theirs).  It ends when all was echoed, or with
        CLOSE_NOTIFY (sent after the last chunk) when the server's
        close_notify came."""
        deadline = time.monotonic() + timeout * SCALE
        sent, got = hashlib.blake2b(), hashlib.blake2b()
        n_sent = n_got = 0
        more, notified = True, False
        while True:
            while more and len(self.tx) + self.out.pending < 4 * MiB:
                chunk = next(chunks, None)
                if chunk is None:
                    more = False
                    break
                view = memoryview(chunk)
                while view:
                    view = view[self.obj.write(view):]
                sent.update(chunk)
                n_sent += len(chunk)
                self.tx += self.out.read()
            if not more and close_notify and not notified:
                self.send_close_notify()
                self.echoed_at_close_notify = n_got
                notified = True
            if close_notify and self.close_notify:
                break
            if not close_notify and not more and n_got >= n_sent:
                break
            if self.tcp_eof and not self.inc.pending:
                raise EOFError("the server closed after %d of %d bytes "
                               "echoed (close_notify: %s)" % (
                                   n_got, n_sent, self.close_notify))
            self.io(deadline)
            data = self.drain()
            got.update(data)
            n_got += len(data)
        return n_sent, sent.hexdigest(), n_got, got.hexdigest()

    def wait_tcp_eof(self, timeout=IO):
        deadline = time.monotonic() + timeout * SCALE
        while not self.tcp_eof:
            self.io(deadline)
        return self.inc.pending


def rotations(total, block=MiB):
    """TOTAL bytes as blocks, each a different rotation of one random
    block: a block lost, doubled or swapped changes the hash."""
    base = os.urandom(block)
    step = 7919 * 61
    for i in range(total // block):
        k = (i * step) % block
        yield base[k:] + base[:k]


class TestEcho(PKICase):

    def test_256_mib_both_ways_at_once_is_byte_exact(self):
        d = self.tls_daemon(module="echo")
        total = 256 * MiB
        with BioClient(d.port("tls"), self.ctx()) as c:
            c.handshake()
            t0 = time.monotonic()
            n_sent, h_sent, n_got, h_got = c.echo(rotations(total), 120)
            elapsed = time.monotonic() - t0
        self.assertEqual((n_sent, n_got), (total, total))
        self.assertEqual(h_got, h_sent)
        if os.environ.get("EVITEST_VERBOSE"):
            print("256 MiB TLS echo: %.2f s, %.0f MB/s" % (
                elapsed, total / elapsed / 1e6))
        self.assertEqual(d.stop(), 0)

    def test_close_notify_half_closes_and_the_echo_still_comes(self):
        d = self.tls_daemon("log_connections = yes", module="echo")
        total = 8 * MiB
        with BioClient(d.port("tls"), self.ctx()) as c:
            c.handshake()
            n_sent, h_sent, n_got, h_got = c.echo(rotations(total), 30,
                                                  close_notify=True)
            self.assertTrue(c.close_notify)
            self.assertEqual(c.wait_tcp_eof(), 0)
            # Most of the echo was still to come when we half-closed.
            self.assertLess(c.echoed_at_close_notify, total // 2)
        self.assertEqual((n_sent, n_got), (total, total))
        self.assertEqual(h_got, h_sent)
        # The conn log counts plaintext, and names the protocol.
        d.wait_log(r"^event=close service=tls proto=tcp .* bytes_in=%d "
                   r"bytes_out=%d reason=\S+ tls_version=TLSv1\.3 "
                   r"tls_cipher=TLS_AES_\S+ sni=localhost$" % (total, total))
        self.assertEqual(d.stop(), 0)

    def test_the_module_sees_a_plain_connection_as_plain(self):
        d = self.daemon(tls_conf([], "log_connections = yes"))
        with evitest.connect(d.port("tls")) as s:
            self.assertEqual(parse_info(read_line(s)), {"plain": True})
        self.assertEqual(d.stop(), 0)


class TestVersions(PKICase):

    def test_tls10_and_tls11_are_refused_by_default(self):
        d = self.tls_daemon()
        for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with self.subTest(version=v):
                e = refusal(d.port("tls"), self.ctx(version=v))
                self.assertIsInstance(e, ssl.SSLError)
        wait_metric(d, FAILURES, 2, service="tls", reason="version")
        self.assertEqual(metric(d, HANDSHAKES, service="tls"), 0)
        self.assertEqual(d.stop(), 0)

    def test_tls11_is_refused_to_openssl_s_client(self):
        d = self.tls_daemon()
        out = s_client(d.port("tls"), "-tls1_1", "-cipher",
                       "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(out.returncode, 0, out.stdout)
        self.assertRegex(out.stdout, r"alert protocol version")
        self.assertNotRegex(out.stdout, S_CLIENT_TLS11)
        self.assertEqual(d.stop(), 0)

    def test_a_site_that_asks_for_tls11_gets_it(self):
        # The control for the two above: these clients can speak TLS 1.1.
        d = self.tls_daemon("tls_protocols = TLSv1.1 TLSv1.2 TLSv1.3",
                            'tls_ciphers = "DEFAULT@SECLEVEL=0"')
        info = info_of(d.port("tls"),
                       self.ctx(version=ssl.TLSVersion.TLSv1_1))[0]
        self.assertEqual(info["version"], "TLSv1.1")
        out = s_client(d.port("tls"), "-tls1_1", "-cipher",
                       "DEFAULT@SECLEVEL=0")
        self.assertRegex(out.stdout, S_CLIENT_TLS11)
        self.assertEqual(d.stop(), 0)

    def test_tls12_and_tls13_are_both_served(self):
        d = self.tls_daemon()
        for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                        (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            with self.subTest(version=name):
                info = info_of(d.port("tls"), self.ctx(version=v))[0]
                self.assertEqual(info["version"], name)
                self.assertEqual(info["sni"], "localhost")
                self.assertIn(info["cipher"], DEFAULT_CIPHERS)
        wait_metric(d, HANDSHAKES, 2, service="tls")
        self.assertEqual(d.stop(), 0)

    def test_only_x25519_p256_and_p384_are_offered(self):
        d = self.tls_daemon()
        for group, ok in (("X25519", True), ("P-256", True), ("P-384", True),
                          ("P-521", False), ("X448", False),
                          ("ffdhe2048", False)):
            with self.subTest(group=group):
                out = s_client(d.port("tls"), "-tls1_3", "-groups", group,
                               "-CAfile", self.pki.ca_cert)
                self.assertEqual(out.returncode == 0, ok, out.stdout)
        wait_metric(d, FAILURES, 3, service="tls", reason="cipher")
        self.assertEqual(d.stop(), 0)

    def test_renegotiation_is_refused(self):
        d = self.tls_daemon("log_connections = yes", module="echo")
        with S_Client(d.port("tls"), "-tls1_2", "-CAfile",
                      self.pki.ca_cert) as c:
            c.send("hello\n")
            c.wait_for(r"^hello$")
            c.send("R\n")
            c.wait_for(r"^RENEGOTIATING$")
            self.assertRegex(c.finish(), r"no renegotiation")
        self.assertEqual(d.stop(), 0)

    def test_global_keys_are_defaults_for_every_service(self):
        d = self.daemon("""
            tls_certificate = %s
            tls_key = %s
            tls_protocols = TLSv1.3
            service strict {
                listen = 127.0.0.1:0
                module = %s
            }
            service lax {
                listen = 127.0.0.1:0
                module = %s
                tls_protocols = TLSv1.2 TLSv1.3
            }
            service datagrams {
                listen = 127.0.0.1:0
                protocol = udp
                module = echo
            }""" % (self.cert, self.key, testmod("tlsinfo"),
                    testmod("tlsinfo")))
        # Global certificates are for the services TLS applies to.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(IO)
            u.sendto(b"plain", ("127.0.0.1", d.port("datagrams")))
            self.assertEqual(u.recv(64), b"plain")
        tls12 = self.ctx(version=ssl.TLSVersion.TLSv1_2)
        self.assertIsInstance(refusal(d.port("strict"), tls12),
                              ssl.SSLError)
        self.assertEqual(info_of(d.port("lax"), tls12)[0]["version"],
                         "TLSv1.2")
        self.assertEqual(info_of(d.port("strict"), self.ctx())[0]["version"],
                         "TLSv1.3")
        self.assertEqual(d.stop(), 0)

    def test_tls13_only_refuses_tls12(self):
        d = self.tls_daemon("tls_protocols = TLSv1.3")
        e = refusal(d.port("tls"), self.ctx(version=ssl.TLSVersion.TLSv1_2))
        self.assertIsInstance(e, ssl.SSLError)
        info = info_of(d.port("tls"), self.ctx())[0]
        self.assertEqual(info["version"], "TLSv1.3")
        wait_metric(d, FAILURES, 1, service="tls", reason="version")
        self.assertEqual(d.stop(), 0)


# What s_client shows of tlsinfo's line over TLS 1.1 (its own "New,
# TLSvX" line names the cipher's version, and "Protocol" is there even
# when the handshake failed).
S_CLIENT_TLS11 = r"(?m)^version=TLSv1\.1 "


def s_client(port, *args, name="localhost", stdin=""):
    """openssl s_client to 127.0.0.1:PORT with ARGS; returns the
    CompletedProcess (text)."""
    return subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-servername", name] + list(args),
        input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=IO * SCALE, check=False, encoding="utf-8", errors="replace")


class S_Client:
    """openssl s_client as a live process: lines in, its output watched
    line by line, every wait bounded."""

    def __init__(self, port, *args):
        self.proc = subprocess.Popen(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] +
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.out = []
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("s_client: out of time; output:\n%s" %
                                 "\n".join(self.out))
        if not self.sel.select(min(left, 1.0)):
            return True
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        self.out += [l.decode(errors="replace") for l in lines]
        return bool(chunk)

    def wait_for(self, regex, timeout=IO):
        deadline = time.monotonic() + timeout * SCALE
        seen = 0
        while True:
            for line in self.out[seen:]:
                if re.search(regex, line):
                    return line
            seen = len(self.out)
            if not self._read(deadline):
                raise EOFError("s_client ended before %r:\n%s" % (
                    regex, "\n".join(self.out)))

    def finish(self, timeout=IO):
        """Waits for s_client to end on its own; returns all it said."""
        deadline = time.monotonic() + timeout * SCALE
        while self._read(deadline):
            pass
        self.proc.wait(max(0.1, deadline - time.monotonic()))
        return "\n".join(self.out + [self.buf.decode(errors="replace")])

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.sel.close()
        self.proc.stdin.close()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TestClientCertificates(PKICase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.pki.client("alice")
        cls.other_pki = tlscerts.PKI(cls.pki_dir.path, name="other CA")
        cls.mallory = cls.other_pki.client("alice")

    def verify_daemon(self, mode):
        return self.tls_daemon("tls_client_ca = %s" % self.pki.ca_cert,
                               "tls_verify_client = %s" % mode)

    def test_require_refuses_no_certificate_and_another_ca(self):
        d = self.verify_daemon("require")
        for v in MODERN:
            with self.subTest(version=v):
                self.assertIsInstance(
                    refusal(d.port("tls"), self.ctx(version=v)),
                    ssl.SSLError)
                self.assertIsInstance(
                    refusal(d.port("tls"),
                            self.ctx(version=v, cert=self.mallory)),
                    ssl.SSLError)
        wait_metric(d, FAILURES, 4, service="tls", reason="client_cert")
        self.assertEqual(metric(d, HANDSHAKES, service="tls"), 0)
        self.assertEqual(d.stop(), 0)

    def test_require_serves_a_good_certificate_and_the_module_sees_it(self):
        d = self.verify_daemon("require")
        for v in MODERN:
            with self.subTest(version=v):
                info = info_of(d.port("tls"),
                               self.ctx(version=v, cert=self.alice))[0]
                self.assertEqual((info["client_cert"], info["verified"]),
                                 ("1", "1"))
                self.assertEqual(info["subject"], "CN=alice")
                self.assertEqual(info["sha256"],
                                 self.pki.sha256(self.alice[0]))
        self.assertEqual(d.stop(), 0)

    def test_optional_serves_no_certificate_and_refuses_a_bad_one(self):
        d = self.verify_daemon("optional")
        info = info_of(d.port("tls"), self.ctx())[0]
        self.assertEqual((info["client_cert"], info["verified"],
                          info["subject"], info["sha256"]),
                         ("0", "0", "-", "-"))
        info = info_of(d.port("tls"), self.ctx(cert=self.alice))[0]
        self.assertEqual((info["client_cert"], info["verified"],
                          info["subject"]), ("1", "1", "CN=alice"))
        self.assertIsInstance(
            refusal(d.port("tls"), self.ctx(cert=self.mallory)),
            ssl.SSLError)
        self.assertEqual(d.stop(), 0)

    def test_no_client_verification_by_default(self):
        d = self.tls_daemon()
        info = info_of(d.port("tls"), self.ctx(cert=self.alice))[0]
        self.assertEqual((info["client_cert"], info["verified"],
                          info["subject"], info["sha256"]),
                         ("0", "0", "-", "-"))
        self.assertEqual(d.stop(), 0)


class TestSNI(PKICase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alpha = cls.pki.server("alpha.test", sans=["alpha.test"])
        cls.beta = cls.pki.server("beta.test",
                                  sans=["beta.test", "www.beta.test"])
        cls.wild = cls.pki.server("wild.test", sans=["*.wild.test"])

    def test_the_name_picks_the_certificate_and_an_unknown_gets_the_first(
            self):
        d = self.tls_daemon(pairs=[self.alpha, self.beta, self.wild])
        serial = {c: self.pki.serial(c[0])
                  for c in (self.alpha, self.beta, self.wild)}
        loose = self.ctx(check_hostname=False)
        cases = [("alpha.test", self.alpha, self.ctx()),
                 ("beta.test", self.beta, self.ctx()),
                 ("www.beta.test", self.beta, self.ctx()),
                 ("x.wild.test", self.wild, self.ctx()),
                 ("unknown.test", self.alpha, loose),
                 (None, self.alpha, loose)]
        for name, want, ctx in cases:
            with self.subTest(name=name):
                info, _, _, der = info_of(d.port("tls"), ctx, name)
                self.assertEqual(tlscerts.PKI.der_serial(der), serial[want])
                self.assertEqual(info["sni"], name or "-")
        self.assertEqual(d.stop(), 0)

    def test_a_chain_file_is_sent_whole_for_every_pair(self):
        chained = self.pki.server("chain.test", chain=True)
        d = self.tls_daemon(pairs=[self.alpha, chained])
        for name, n in (("alpha.test", 1), ("chain.test", 2)):
            with self.subTest(name=name):
                out = s_client(d.port("tls"), "-showcerts", "-CAfile",
                               self.pki.ca_cert, name=name)
                self.assertEqual(len(re.findall(r"(?m)^ *\d+ s:", out.stdout)),
                                 n, out.stdout)
                self.assertIn("Verify return code: 0 (ok)", out.stdout)
        self.assertEqual(d.stop(), 0)

    def test_openssl_s_client_sees_the_chosen_certificate(self):
        d = self.tls_daemon(pairs=[self.alpha, self.beta])
        out = s_client(d.port("tls"), "-CAfile", self.pki.ca_cert,
                       "-verify_return_error", name="beta.test")
        self.assertRegex(out.stdout, r"subject=CN ?= ?beta\.test")
        self.assertIn("Verify return code: 0 (ok)", out.stdout)
        self.assertEqual(d.stop(), 0)


class TestALPN(PKICase):

    def test_alpn_agrees_refuses_and_is_optional(self):
        d = self.tls_daemon("tls_alpn = h2 http/1.1")
        port = d.port("tls")
        with tls_connect(port, self.ctx(alpn=["http/1.1"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
            self.assertEqual(parse_info(read_line(s))["alpn"], "http/1.1")
        # The server's order of preference wins.
        with tls_connect(port, self.ctx(alpn=["http/1.1", "h2"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
            self.assertEqual(parse_info(read_line(s))["alpn"], "h2")
        e = refusal(port, self.ctx(alpn=["foo"]))
        self.assertIsInstance(e, ssl.SSLError)
        self.assertRegex(str(e), r"(?i)no.application.protocol")
        with tls_connect(port, self.ctx()) as s:
            self.assertIsNone(s.selected_alpn_protocol())
            self.assertEqual(parse_info(read_line(s))["alpn"], "-")
        wait_metric(d, FAILURES, 1, service="tls", reason="alpn")
        self.assertEqual(d.stop(), 0)


class TestResumption(PKICase):

    TOP = "workers = 2"

    def resuming_daemon(self, *keys, **kw):
        return self.tls_daemon("reuseport = yes", *keys, top=self.TOP, **kw)

    def resume_until_another_worker(self, port, ctx, tries=40):
        """A full handshake, then reconnections with the latest session
        until one lands on another worker; returns the infos of the
        first and that last connection, and how many were resumed."""
        first, session, reused, _ = info_of(port, ctx)
        self.assertFalse(reused)
        self.assertEqual(first["resumed"], "0")
        for n in range(1, tries + 1):
            info, new, reused, _ = info_of(port, ctx, session=session)
            self.assertTrue(reused, "not resumed: %r" % info)
            self.assertEqual(info["resumed"], "1")
            if info["pid"] != first["pid"]:
                return first, info, n
            session = new
        self.fail("%d connections all landed on worker %d" % (
            tries, first["pid"]))

    def test_a_session_resumes_on_the_same_and_on_another_worker(self):
        d = self.resuming_daemon()
        resumed = 0
        for v in MODERN:
            with self.subTest(version=v):
                first, last, n = self.resume_until_another_worker(
                    d.port("tls"), self.ctx(version=v))
                self.assertNotEqual(first["pid"], last["pid"])
                resumed += n
        wait_metric(d, RESUMED, resumed, service="tls")
        wait_metric(d, HANDSHAKES, resumed + 2, service="tls")
        self.assertEqual(d.stop(), 0)

    def test_no_tickets_means_no_resumption(self):
        d = self.resuming_daemon("tls_session_tickets = no")
        for v in MODERN:
            with self.subTest(version=v):
                ctx = self.ctx(version=v)
                _, session, _, _ = info_of(d.port("tls"), ctx)
                for _ in range(8):
                    info, new, reused, _ = info_of(d.port("tls"), ctx,
                                                   session=session)
                    self.assertFalse(reused)
                    self.assertEqual(info["resumed"], "0")
                    session = new or session
        self.assertEqual(metric(d, RESUMED, service="tls"), 0)
        self.assertEqual(d.stop(), 0)

    def test_a_reload_starts_new_ticket_keys(self):
        d, port = start_pinned(self, tls_conf(
            [(self.cert, self.key)], "reuseport = yes", top=self.TOP,
            listen="127.0.0.1:$tls"), ["tls", "stats"])
        ctx = self.ctx()
        _, session, _, _ = info_of(port["tls"], ctx)
        info, _, reused, _ = info_of(port["tls"], ctx, session=session)
        self.assertTrue(reused)
        reload(d)
        info, _, reused, _ = info_of(port["tls"], ctx, session=session)
        self.assertFalse(reused)
        self.assertEqual(info["resumed"], "0")
        self.assertEqual(d.stop(), 0)


def start_pinned(test, conf, names):
    """Starts a daemon on CONF (with "$NAME" for the ports of NAMES that
    a reload must keep; the stats service's is pinned too), then rewrites
    it with the ports it got and reloads once.  Returns (daemon,
    {name: port})."""
    template = conf.replace("listen = 127.0.0.1:0",
                            "listen = 127.0.0.1:$stats") \
        if "stats" in names else conf
    d = test.daemon(template.replace("$tls", "0").replace("$stats", "0"))
    ports = {n: d.port(n) for n in names}
    write_conf(d, template, **ports)
    reload(d)
    return d, ports


class TestReload(PKICase):

    def test_a_renewed_certificate_serves_new_connections_only(self):
        cert, key = self.pki.server("localhost", stem="renewed")
        d, port = start_pinned(self, tls_conf(
            [(cert, key)], listen="127.0.0.1:$tls"), ["tls", "stats"])
        old = tls_connect(port["tls"], self.ctx())
        self.addCleanup(old.close)
        self.assertTrue(parse_info(read_line(old))["version"])
        serial_before = tlscerts.PKI.der_serial(old.getpeercert(True))
        self.assertEqual(serial_before, self.pki.serial(cert))
        self.pki.server("localhost", stem="renewed")
        serial_after = self.pki.serial(cert)
        self.assertNotEqual(serial_after, serial_before)
        reload(d)
        # A reload is done once no old worker accepts: the very next
        # connection is the new certificate's.
        der = info_of(port["tls"], self.ctx())[3]
        self.assertEqual(tlscerts.PKI.der_serial(der), serial_after)
        old.sendall(b"still here\n")
        self.assertEqual(read_line(old), b"still here\n")
        old.close()
        self.assertEqual(d.stop(), 0)

    def test_a_bad_new_certificate_keeps_the_old_one_serving(self):
        cert, key = self.pki.server("localhost", stem="broken")
        d, port = start_pinned(self, tls_conf(
            [(cert, key)], listen="127.0.0.1:$tls"), ["tls", "stats"])
        serial = self.pki.serial(cert)
        # A new certificate whose key is not the one at KEY.
        other, _ = self.pki.server("localhost", stem="stray")
        shutil.copyfile(other, cert)
        d.expect(r"^reload failed: ", r"^%s:\d+: " % re.escape(d.conf_path))
        line = reload(d, ok=False)
        self.assertRegex(d.log_text(), r'%s:\d+: service "tls": ' %
                         re.escape(d.conf_path))
        der = info_of(port["tls"], self.ctx())[3]
        self.assertEqual(tlscerts.PKI.der_serial(der), serial, line)
        self.assertEqual(d.stop(), 0)


GARBAGE = b"GET / HTTP/1.0\r\n\r\n"


def until_closed(port, data, timeout=IO):
    """Connects, sends DATA, reads until the server closes (a reset is a
    close); returns (what came, seconds from the send to the close)."""
    with evitest.connect(port) as s:
        t0 = time.monotonic()
        s.sendall(data)
        try:
            answer = evitest.recv_until_eof(s, timeout=timeout)
        except ConnectionResetError:
            answer = b""
        return answer, time.monotonic() - t0


class TestControl(PKICase):

    def test_evinetdctl_sees_tls_services_and_connections(self):
        d = self.tls_daemon()
        port = d.port("tls")
        done = tls_connect(port, self.ctx(version=ssl.TLSVersion.TLSv1_3))
        self.addCleanup(done.close)
        read_line(done)
        silent = evitest.connect(port)
        self.addCleanup(silent.close)
        got = {}

        def both_listed():
            answer = d.control("connections", "tls")
            self.assertTrue(answer["ok"], answer)
            got.update((c["peer"], c["tls"]) for c in answer["result"])
            return len(got) == 2
        wait_until(both_listed, IO, "both connections listed")
        self.assertEqual(got, {
            "%s:%d" % done.getsockname(): "TLSv1.3",
            "%s:%d" % silent.getsockname(): "handshake"})
        services = {s["name"]: s["tls"]
                    for s in d.control("services")["result"]}
        self.assertEqual(services, {"tls": True, "stats": False})
        done.close()
        silent.close()
        self.assertEqual(d.stop(), 0)

    def test_the_state_dump_counts_handshakes_and_failures(self):
        d = self.tls_daemon()
        info_of(d.port("tls"), self.ctx())
        until_closed(d.port("tls"), GARBAGE)
        mark = d.mark()
        d.send_signal(signal.SIGUSR1)
        d.wait_log(r'^state: service "tls": TLS handshakes 1, resumed 0$',
                   since=mark)
        d.wait_log(r'^state: service "tls": TLS handshake failures '
                   r'\(not_tls\) 1$', since=mark)
        self.assertEqual(d.stop(), 0)


class TestHandshakeFailures(PKICase):

    def test_garbage_instead_of_a_client_hello_is_closed_and_counted(self):
        d = self.tls_daemon("tls_handshake_timeout = 5s",
                            "log_connections = yes")
        mark = d.mark()
        answer, elapsed = until_closed(d.port("tls"), GARBAGE, 2)
        self.assertNotIn(b"GET", answer)
        self.assertNotIn(b"version=", answer)
        self.assertLess(elapsed, 2 * SCALE)
        wait_metric(d, FAILURES, 1, service="tls", reason="not_tls")
        d.wait_log(FAILED_RE % ("tls", "not_tls"), since=mark)
        d.wait_log(r"^event=close service=tls proto=tcp .* reason=error "
                   r"tls_error=not_tls$", since=mark)
        # It still serves.
        self.assertEqual(info_of(d.port("tls"), self.ctx())[0]["version"],
                         "TLSv1.3")
        self.assertEqual(d.stop(), 0)

    def test_a_silent_client_is_closed_at_the_handshake_timeout(self):
        d = self.tls_daemon("tls_handshake_timeout = 1s",
                            "log_connections = yes")
        mark = d.mark()
        answer, elapsed = until_closed(d.port("tls"), b"", 5)
        self.assertEqual(answer, b"")
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 3 * SCALE)
        wait_metric(d, FAILURES, 1, service="tls", reason="timeout")
        d.wait_log(r"^event=close service=tls proto=tcp .* reason=timeout "
                   r"tls_error=timeout$", since=mark)
        self.assertEqual(d.stop(), 0)

    def test_each_failure_is_counted_under_its_reason(self):
        d = self.tls_daemon("tls_handshake_timeout = 5s")
        port = d.port("tls")
        # eof: half a ClientHello, then the client leaves.
        hello = client_hello(self.ctx())
        with evitest.connect(port) as s:
            s.sendall(hello[:len(hello) // 2])
        wait_metric(d, FAILURES, 1, service="tls", reason="eof")
        # cipher: TLS 1.2 with only a CBC suite, not in the defaults.
        ctx = self.ctx(version=ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers("ECDHE-ECDSA-AES256-SHA")
        self.assertIsInstance(refusal(port, ctx), ssl.SSLError)
        wait_metric(d, FAILURES, 1, service="tls", reason="cipher")
        # alert: the client does not trust our CA, and says so.
        other = tlscerts.PKI(self.tempdir().path, name="stranger")
        for v in MODERN:
            with self.subTest(version=v):
                e = refusal(port, client_ctx(other.ca_cert, v))
                self.assertIsInstance(e, ssl.SSLCertVerificationError)
        wait_metric(d, FAILURES, 2, service="tls", reason="alert")
        for r in ("timeout", "not_tls", "version", "client_cert", "alpn",
                  "other"):
            self.assertEqual(metric(d, FAILURES, service="tls", reason=r),
                             0, r)
        self.assertEqual(metric(d, HANDSHAKES, service="tls"), 0)
        self.assertEqual(d.stop(), 0)

    def test_the_failure_log_is_one_line_then_a_count_per_second(self):
        d = self.tls_daemon("tls_handshake_timeout = 5s")
        mark = d.mark()
        n = 6
        for _ in range(n):
            until_closed(d.port("tls"), GARBAGE)
        wait_metric(d, FAILURES, n, service="tls", reason="not_tls")

        def logged():
            lines = d.log_lines(mark)
            full = sum(1 for l in lines
                       if re.search(FAILED_RE % ("tls", "not_tls"), l))
            more = sum(int(m.group(1)) for m in (
                re.search(MORE_RE % "tls", l) for l in lines) if m)
            return (full, more) if full + more == n else None
        full, more = wait_until(logged, 3, "%d failures in the log" % n)
        # All within a second or two: at most one full line per second.
        self.assertLessEqual(full, 3)
        self.assertGreaterEqual(more, n - 3)
        self.assertEqual(d.stop(), 0)

    def test_every_reason_has_a_sample_for_a_tls_service_only(self):
        d = self.daemon(tls_conf([(self.cert, self.key)]) + """
            service plain {
                listen = 127.0.0.1:0
                module = echo
            }""")
        exp = scrape(d.port("stats"))
        for r in ("timeout", "eof", "not_tls", "version", "cipher",
                  "client_cert", "alpn", "alert", "other"):
            self.assertEqual(exp.count(FAILURES, service="tls", reason=r), 0)
        self.assertEqual(exp.count(HANDSHAKES, service="tls"), 0)
        self.assertEqual(exp.count(RESUMED, service="tls"), 0)
        self.assertNotRegex(exp.text, r'evinetd_tls_\w+\{service="plain"')
        self.assertEqual(d.stop(), 0)


class TestConfigErrors(PKICase):

    def test_every_tls_error_is_reported_with_its_line(self):
        tmp = self.tempdir()
        good_cert, good_key = self.cert, self.key
        _, other_key = self.pki.server("other.test")
        loose_key = tmp.join("loose.key")
        shutil.copyfile(good_key, loose_key)
        os.chmod(loose_key, 0o644)
        open_dir = tmp.join("open")
        os.mkdir(open_dir)
        os.chmod(open_dir, 0o777)
        open_key = os.path.join(open_dir, "k.key")
        shutil.copyfile(good_key, open_key)
        os.chmod(open_key, 0o600)
        missing = tmp.join("missing.crt")
        not_pem = tmp.write("notpem.crt", "this is not a certificate\n")
        # Encrypted: refused at once, never a pass phrase prompt.
        enc_key = tmp.join("enc.key")
        subprocess.run(["openssl", "pkey", "-in", good_key, "-aes256",
                        "-passout", "pass:secret", "-out", enc_key],
                       check=True, timeout=tlscerts.OPENSSL_TIMEOUT,
                       stdin=subprocess.DEVNULL)
        os.chmod(enc_key, 0o600)
        # Someone else's key file: they could swap it.
        theirs = tmp.join("theirs.key")
        shutil.copyfile(good_key, theirs)
        os.chmod(theirs, 0o600)
        os.chown(theirs, 65534, -1)
        # service: [(key line, value, is the line to report)], what the
        # message must name.
        services = [
            ("missing", [("tls_certificate", missing, True),
                         ("tls_key", good_key, False)], missing),
            ("mismatch", [("tls_certificate", good_cert, True),
                          ("tls_key", other_key, True)], "match"),
            ("notpem", [("tls_certificate", not_pem, True),
                        ("tls_key", good_key, False)], not_pem),
            ("loose", [("tls_certificate", good_cert, False),
                       ("tls_key", loose_key, True)], loose_key),
            ("opendir", [("tls_certificate", good_cert, False),
                         ("tls_key", open_key, True)], None),
            ("encrypted", [("tls_certificate", good_cert, False),
                           ("tls_key", enc_key, True)], "is encrypted"),
            ("owner", [("tls_certificate", good_cert, False),
                       ("tls_key", theirs, True)], "owned by uid 65534"),
            ("proto", [("tls_certificate", good_cert, False),
                       ("tls_key", good_key, False),
                       ("tls_protocols", "TLSv1.2 TLSv9", True)], "TLSv9"),
            ("cipher", [("tls_certificate", good_cert, False),
                        ("tls_key", good_key, False),
                        ("tls_ciphers", "NOT-A-CIPHER", True)], None),
            ("count", [("tls_certificate", good_cert, True),
                       ("tls_certificate", good_cert, True),
                       ("tls_key", good_key, True)], None),
            ("noca", [("tls_certificate", good_cert, False),
                      ("tls_key", good_key, False),
                      ("tls_verify_client", "require", True)], None),
            ("badca", [("tls_certificate", good_cert, False),
                       ("tls_key", good_key, False),
                       ("tls_client_ca", missing, True),
                       ("tls_verify_client", "require", False)], missing),
            ("gap", [("tls_certificate", good_cert, False),
                     ("tls_key", good_key, False),
                     ("tls_protocols", "TLSv1 TLSv1.2", True)], None),
            ("suites", [("tls_certificate", good_cert, False),
                        ("tls_key", good_key, False),
                        ("tls_ciphersuites", "NOPE", True)], None),
            ("udp", [("protocol", "udp", False),
                     ("tls_certificate", good_cert, True),
                     ("tls_key", good_key, True)], None),
            ("wait", [("module", "exec", False),
                      ("program", "/bin/cat", False),
                      ("wait", "yes", False),
                      ("tls_certificate", good_cert, True),
                      ("tls_key", good_key, True)], None),
        ]
        lines, where = [], {}
        for name, keys, _ in services:
            lines += ["service %s {" % name, "    listen = 127.0.0.1:0"]
            if name != "wait":
                lines.append("    module = echo")
            for k, v, report in keys:
                lines.append("    %s = %s" % (k, v))
                if report:
                    where.setdefault(name, set()).add(len(lines))
            lines.append("}")
        path = tmp.join("evinetd.conf")
        rc, out, err = evitest.run_check("\n".join(lines) + "\n", path=path)
        self.assertEqual(rc, 1, err)
        for name, _, names in services:
            with self.subTest(service=name):
                m = re.findall(r'^%s:(\d+): service "%s": (.*)$' % (
                    re.escape(path), name), err, re.M)
                self.assertTrue(m, "no error for %s in:\n%s" % (name, err))
                self.assertIn(int(m[0][0]), where[name], err)
                if names:
                    self.assertIn(names, m[0][1])
                # A key that is PEM but not the certificate's is not
                # "not a PEM private key".
                if name == "mismatch":
                    self.assertNotIn("not a PEM", m[0][1])
        self.assertNotIn("fatal", err)

    def test_an_expired_certificate_is_a_warning(self):
        self.validity_warning(self.pki.server("old.test", expired=True),
                              "expired on")

    def test_a_certificate_not_valid_yet_is_a_warning(self):
        self.validity_warning(self.pki.server("new.test", future=True),
                              "is not valid before")

    def validity_warning(self, pair, says):
        tmp = self.tempdir()
        cert, key = pair
        path = tmp.join("evinetd.conf")
        conf = tls_conf([(cert, key)], stats=False)
        line = conf.lstrip("\n").split("\n").index(
            "        tls_certificate = %s" % cert) + 1
        rc, out, err = evitest.run_check(conf, path=path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r'(?m)^%s:%d: warning: service "tls": '
                         r'certificate %s %s \S' % (
                             re.escape(path), line, re.escape(cert), says))


if __name__ == "__main__":
    evitest.main()
