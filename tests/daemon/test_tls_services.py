#!/usr/bin/env python3
"""TLS under every kind of service (issue 15), through the real daemon
and real clients: 1000 TLS echo connections at once; /metrics over HTTPS
with curl (and promtool); the TLS counters (handshakes, resumptions,
failures by reason) exact in /metrics and /metrics.json; the connection
log's tls_* fields and the rate-limited failure log; failed handshakes
draining per_source_rate faster than good ones; forward (16 MiB each
way, both half-closes), exec, proxy_protocol and the classic services
that write first (daytime, qotd, chargen) behind TLS; and an IPv6
listener.

Certificates come from tlscerts.PKI, made at run time in a temp dir; one
PKI serves a whole class.  The client is Python's ssl through memory BIOs
(TLSStream) over a non-blocking socket, so that one selector loop drives
one connection or a thousand, and each direction can end on its own: a
close_notify is TLS's half-close.  Figures are read from a plaintext
stats service, so that the scrapes do not count as TLS traffic.
"""

import calendar
import errno
import json
import os
import re
import selectors
import shutil
import socket
import ssl
import subprocess
import time
import unittest

import evitest
import tlscerts
from test_forward import Backend, bye_then_read_to_eof, echo_handler
from test_limits import EXPECT_REFUSALS
from test_services import chargen_stream, crlf, one_crlf_line
from test_stats import HTTP, Exposition, get, logfmt, promtool_check, scrape
from test_supervisor import wait_until
from test_tls import sslobj_read

IO = evitest.IO_TIMEOUT
SCALE = evitest.TIMEOUT_SCALE
MiB = 1 << 20
HAVE6 = evitest.have_ipv6()

# The name every server certificate here carries, and clients ask for.
SNI = "tls.test"

REASONS = ["timeout", "eof", "not_tls", "version", "cipher", "client_cert",
           "alpn", "alert", "other"]

# The rate-limited handshake failure lines (contract, "Observability").
FAIL_FIRST_RE = re.compile(
    r'^service "(?P<svc>[^"]+)": TLS handshake with (?P<peer>\S+) failed: '
    r'(?P<reason>[a-z_]+) \((?P<detail>.*)\)$')
FAIL_MORE_RE = re.compile(
    r'^service "(?P<svc>[^"]+)": (?P<n>\d+) more TLS handshake failures? '
    r'in the last second(?:, last with \S+)?$')
EXPECT_FAILS = [FAIL_FIRST_RE, FAIL_MORE_RE]

# A ClientHello's first bytes: a handshake record that never completes.
HELLO_START = bytes.fromhex("160301020001000200")

# A request that is not TLS at all.
GARBAGE = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

# What the relayed programs and backends say first.
GREETING = b"hi\n"

STATS = """
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    """


def client_ctx(ca=None, sni=True, tls12=False, alpn=None):
    """A client context that trusts CA (or nothing), checks the name
    unless SNI is False, and offers at most TLS 1.2 if TLS12."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not sni:
        ctx.check_hostname = False
    if ca is not None:
        ctx.load_verify_locations(ca)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def peer_of(sock):
    """How the daemon prints this client: "127.0.0.1:PORT", "[::1]:PORT"."""
    host, port = sock.getsockname()[:2]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


class TLSStream:
    """A TLS client connection: a non-blocking socket and an SSLObject
    between memory BIOs.  plan() says what to do (send, close_notify,
    read how much, wait for the server's end); step() does what it can
    without blocking; drive() steps many streams until each is done.
    HEAD is sent in clear before the ClientHello (a PROXY header)."""

    def __init__(self, ctx, port, host="127.0.0.1", sni=SNI, session=None,
                 src=None, head=b""):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        if src is not None:
            self.sock.bind((src, 0))
        err = self.sock.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise OSError(err, os.strerror(err))
        self.local = peer_of(self.sock)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=sni,
                                session=session)
        self.wire = bytearray(head)
        self.handshaken = False
        self.got = bytearray()
        self.notified = False           # close_notify received
        self.tcp_eof = False
        self.error = None
        self.plan()

    def plan(self, send=b"", expect=None, notify=False, end=None):
        """Next: send SEND, then a close_notify if NOTIFY; done once
        EXPECT bytes in all have come (if given) and, with END="notify",
        the server's close_notify, with END="eof", also its FIN."""
        self.todo = memoryview(send)
        self.notify = notify
        self.notify_sent = False
        self.expect = expect
        self.end = end
        return self

    def close(self):
        self.sock.close()

    def peer(self):
        """How the daemon prints this client (kept after close())."""
        return self.local

    def done(self):
        if self.error is not None:
            return True
        return (self.handshaken and not self.todo and not self.wire and
                self.notify_sent == self.notify and
                (self.expect is None or len(self.got) >= self.expect) and
                (self.end is None or self.notified) and
                (self.end != "eof" or self.tcp_eof))

    def events(self):
        return selectors.EVENT_READ | (selectors.EVENT_WRITE if self.wire
                                       else 0)

    def step(self):
        """Moves what can move now; an error ends the stream (.error)."""
        try:
            self._read_wire()
            if not self.handshaken:
                self._handshake()
            if self.handshaken:
                self._read_plain()
                self._write_plain()
            self.wire += self.out.read()
            self._write_wire()
        except (ssl.SSLError, OSError) as e:
            self.error = e
            self._send_alert()
            return
        if self.tcp_eof and not self.done():
            self.error = EOFError("the server closed first: %s" % self.state())

    def state(self):
        return ("handshaken=%s got=%d expect=%s todo=%d wire=%d notify=%s "
                "sent=%s notified=%s eof=%s" % (
                    self.handshaken, len(self.got), self.expect,
                    len(self.todo), len(self.wire), self.notify,
                    self.notify_sent, self.notified, self.tcp_eof))

    def _send_alert(self):
        # A failed handshake leaves its alert in the BIO: send it, as
        # any client would, so the server learns why.
        try:
            self.wire += self.out.read()
            self._write_wire()
        except OSError:
            pass

    def _read_wire(self):
        # A bounded step: a fast sender (chargen) never lets the socket
        # run dry, and the records must be decrypted as they come.
        for _ in range(8):
            if self.tcp_eof:
                return
            try:
                chunk = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                self.tcp_eof = True
                self.inc.write_eof()
                return
            self.inc.write(chunk)

    def _handshake(self):
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            return
        self.handshaken = True

    def _read_plain(self):
        while not self.notified:
            chunk = sslobj_read(self.obj, 1 << 16)
            if chunk is None:
                return
            if not chunk:
                self.notified = True
                return
            self.got += chunk

    def _write_plain(self):
        # At most 1 MiB of ciphertext waits for the socket at a time.
        while self.todo and len(self.wire) < MiB:
            n = self.obj.write(self.todo[:1 << 14])
            self.todo = self.todo[n:]
            self.wire += self.out.read()
        if self.notify and not self.todo and not self.notify_sent:
            # Sends close_notify; the server's answer is read later.
            try:
                self.obj.unwrap()
            except ssl.SSLWantReadError:
                pass
            self.notify_sent = True

    def _write_wire(self):
        while self.wire:
            try:
                n = self.sock.send(self.wire)
            except (BlockingIOError, InterruptedError):
                return
            del self.wire[:n]

    def run(self, timeout=IO):
        """Drives this stream alone until its plan is done; raises its
        error if it failed."""
        drive([self], timeout)
        if self.error is not None:
            raise self.error
        return self


def drive(streams, timeout=IO):
    """Steps STREAMS, all at once, until each is done or failed; fails
    when TIMEOUT (scaled) runs out first."""
    sel = selectors.DefaultSelector()
    try:
        pending = 0
        for s in streams:
            s.step()
            if not s.done():
                sel.register(s.sock, s.events(), s)
                pending += 1
        deadline = time.monotonic() + timeout * SCALE
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                stuck = [k.data for k in sel.get_map().values()]
                raise socket.timeout("%d of %d TLS streams not done in "
                                     "%.1f s; one: %s" % (
                                         pending, len(streams),
                                         timeout * SCALE, stuck[0].state()))
            for key, _ in sel.select(min(left, 1.0)):
                s = key.data
                s.step()
                if s.done():
                    sel.unregister(s.sock)
                    pending -= 1
                else:
                    sel.modify(s.sock, s.events(), s)
    finally:
        sel.close()


def tls_once(ctx, port, stream=None, **plan):
    """One connection to PORT that does PLAN (see TLSStream.plan) and is
    closed; STREAM is a dict of TLSStream arguments.  Returns the
    stream."""
    s = TLSStream(ctx, port, **(stream or {}))
    try:
        s.plan(**plan).run()
    finally:
        s.close()
    return s


def tls_round_trip(ctx, port, data, **kw):
    """DATA through a TLS echo-like service and back, with a half-close
    (close_notify) after it; returns (what came back, the closed stream).
    KW go to TLSStream."""
    s = tls_once(ctx, port, stream=kw, send=data, notify=True, end="eof")
    return bytes(s.got), s


def plain_until_eof(port, data=b"", host="127.0.0.1", timeout=IO):
    """Sends DATA in clear (nothing if empty) and reads until the daemon
    closes; returns (bytes, seconds).  A reset counts as a close."""
    start = time.monotonic()
    with evitest.connect(port, host=host) as s:
        try:
            if data:
                s.sendall(data)
            got = evitest.recv_until_eof(s, timeout=timeout)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
    return got, time.monotonic() - start


def tls_figures(m, svc):
    """SVC's TLS figures in a /metrics scrape, as a dict."""
    out = {"handshakes": m.count("evinetd_tls_handshakes_total",
                                 service=svc),
           "resumed": m.count("evinetd_tls_resumed_total", service=svc)}
    for r in REASONS:
        out[r] = m.count("evinetd_tls_handshake_failures_total",
                         service=svc, reason=r)
    return out


def tls_figures_json(j, svc):
    """The same from /metrics.json."""
    s = [x for x in j["services"] if x["name"] == svc]
    if len(s) != 1:
        raise AssertionError("service %r %d times in %r" % (svc, len(s), j))
    s = s[0]
    out = {"handshakes": s["tls_handshakes"], "resumed": s["tls_resumed"]}
    if sorted(s["tls_handshake_failures"]) != sorted(REASONS):
        raise AssertionError("tls_handshake_failures: %r" %
                             s["tls_handshake_failures"])
    out.update(s["tls_handshake_failures"])
    return out


def settled(test, d, svc, nconns, timeout=IO):
    """Scrapes the plaintext stats service until SVC has no active
    connection and has closed NCONNS (workers add to shared counters as
    connections end); returns that scrape."""
    def done():
        m = scrape(d.port("stats"))
        closed = sum(v for (name, labels), v in m.samples.items()
                     if name == "evinetd_connections_closed_total" and
                     ("service", svc) in labels)
        if m.count("evinetd_connections_active", service=svc) == 0 and \
                closed >= nconns:
            return m, closed
        return None
    m, closed = wait_until(done, timeout, "%s: %d connections closed" % (
        svc, nconns))
    test.assertEqual(closed, nconns, m.text)
    return m


def json_scrape(port):
    with HTTP(port) as h:
        h.send(get("/metrics.json", extra="Connection: close\r\n"))
        r = h.response()
    if r.status != 200:
        raise AssertionError("/metrics.json: %d %s" % (r.status, r.reason))
    return json.loads(r.body.decode("utf-8"))


def close_lines(d, svc, since=0):
    """SVC's connection log lines so far, parsed (logfmt)."""
    rx = re.compile(r"^event=close service=%s proto=tcp " % re.escape(svc))
    return [logfmt(l) for l in d.log_lines(since) if rx.search(l)]


def wait_close_lines(d, svc, n, since=0):
    d.wait_log(r"^event=close service=%s proto=tcp " % re.escape(svc),
               since=since, count=n)
    return close_lines(d, svc, since)


class TLSCase(evitest.TestCase):
    """One PKI for the class: a CA and the tls.test server certificate."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = evitest.TempDir(prefix="evitest-pki-")
        cls.pki = tlscerts.PKI(cls.tmp.path)
        cls.cert, cls.key = cls.pki.server(SNI)
        cls.ctx = client_ctx(cls.pki.ca_cert)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.close()

    def service(self, name, module, *keys, listen="127.0.0.1:0"):
        """A service block NAME running MODULE behind TLS (our
        certificate), with more KEYS lines."""
        lines = ["service %s {" % name, "listen = " + listen,
                 "module = " + module, "tls_certificate = " + self.cert,
                 "tls_key = " + self.key] + list(keys)
        return "\n    ".join(lines) + "\n}\n"

    def assert_close_notify_ends_input(self, port, sizes=(4, 20000)):
        """For each of SIZES, a client that has had the service's
        greeting (so the relay runs) sends that many bytes and its
        close_notify in one flight, keeping TCP open: the program or
        backend behind PORT must see the end of its input, echo all and
        end too.  (A relay that decrypts the last bytes and the
        close_notify in one read, then waits for the socket to say more,
        never hears the end.)"""
        for size in sizes:
            data = os.urandom(size)
            s = TLSStream(self.ctx, port)
            try:
                s.plan(expect=len(GREETING)).run()
                s.plan(send=data, notify=True, end="eof").run()
            finally:
                s.close()
            self.assertTrue(bytes(s.got) == GREETING + data,
                            "%d bytes: %d back" % (size, len(s.got)))


# 1000 at once.

class TestConcurrent(TLSCase):

    NCONN = 1000

    def test_1000_concurrent_tls_echo_connections(self):
        if evitest.raise_nofile(self.NCONN + 200) < self.NCONN + 200:
            self.skipTest("RLIMIT_NOFILE too low for %d connections" %
                          self.NCONN)
        d = self.daemon("max_connections = 2000\n" + self.service(
            "echo", "echo", "max_connections = 2000") + STATS)
        streams = []
        self.addCleanup(lambda: [s.close() for s in streams])
        payloads = [b"%04d:" % i + os.urandom(64 + i % 200)
                    for i in range(self.NCONN)]
        start = time.monotonic()
        for p in payloads:
            streams.append(TLSStream(self.ctx, d.port("echo")).plan(
                send=p, notify=True, end="eof"))
        drive(streams, timeout=60)
        took = time.monotonic() - start
        for i, s in enumerate(streams):
            self.assertIsNone(s.error, "connection %d: %s" % (i, s.error))
            self.assertEqual(s.obj.version(), "TLSv1.3")
            self.assertTrue(bytes(s.got) == payloads[i],
                            "connection %d got other bytes" % i)
        print("%d TLS echo connections at once: handshake, echo, "
              "close_notify both ways in %.2f s" % (self.NCONN, took),
              flush=True)
        m = settled(self, d, "echo", self.NCONN, timeout=30)
        want = dict.fromkeys(REASONS, 0)
        want.update(handshakes=self.NCONN, resumed=0)
        self.assertEqual(tls_figures(m, "echo"), want)
        self.assertEqual(m.count("evinetd_connections_closed_total",
                                 service="echo", reason="eof"), self.NCONN)
        size = sum(len(p) for p in payloads)
        self.assertEqual(m.count("evinetd_received_bytes_total",
                                 service="echo"), size)
        self.assertEqual(m.count("evinetd_sent_bytes_total",
                                 service="echo"), size)
        self.assertEqual(d.stop(), 0)


# /metrics over HTTPS.

class TestMetricsOverTLS(TLSCase):

    def test_curl_gets_metrics_over_https(self):
        if shutil.which("curl") is None:
            self.skipTest("curl is not installed")
        d = self.daemon(self.service("stats", "stats") + """
            service plain {
                listen = 127.0.0.1:0
                module = echo
            }
            """)
        port = d.port("stats")
        p = subprocess.run(
            ["curl", "-sS", "--max-time", str(5 * SCALE), "--cacert",
             self.pki.ca_cert, "--resolve", "%s:%d:127.0.0.1" % (SNI, port),
             "-w", "\n%{http_code} %{ssl_verify_result}",
             "https://%s:%d/metrics" % (SNI, port)],
            stdin=subprocess.DEVNULL, capture_output=True,
            timeout=30 * SCALE)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        text, _, tail = p.stdout.decode("utf-8").rpartition("\n")
        self.assertEqual(tail, "200 0")
        m = Exposition(text)
        for name in ("evinetd_tls_handshakes_total",
                     "evinetd_tls_resumed_total",
                     "evinetd_tls_handshake_failures_total"):
            self.assertEqual(m.families.get(name, {}).get("type"),
                             "counter", name)
        # curl's own handshake is done before the module renders.
        want = dict.fromkeys(REASONS, 0)
        want.update(handshakes=1, resumed=0)
        self.assertEqual(tls_figures(m, "stats"), want)
        # TLS services only.
        for (name, labels), _ in m.samples.items():
            if name.startswith("evinetd_tls_"):
                self.assertNotIn(("service", "plain"), labels, name)
        if shutil.which("promtool") is not None:
            promtool_check(self, text)
        self.assertEqual(d.stop(), 0)


# The counters and the connection log.

class TestCounters(TLSCase):


    def good(self, d, n, session=None, sni=SNI):
        """N echo round trips; returns the last session."""
        ctx = self.ctx if sni else client_ctx(self.pki.ca_cert, sni=False)
        for i in range(n):
            data = b"good %d" % i
            got, s = tls_round_trip(ctx, d.port("tls"), data,
                                    session=session, sni=sni)
            self.assertEqual(got, data)
            self.assertEqual(s.obj.session_reused, session is not None)
            if session is not None:
                session = s.obj.session
        return s.obj.session

    def failed(self, d, ctx):
        """A handshake that fails on the client's side (it sends the
        alert); the client sees the error."""
        s = TLSStream(ctx, d.port("tls"))
        try:
            drive([s])
        finally:
            s.close()
        self.assertIsInstance(s.error, ssl.SSLError)
        return s

    def test_counters_and_the_connection_log_are_exact(self):
        d = self.daemon(self.service(
            "tls", "echo", "log_connections = yes", "tls_protocols = TLSv1.3",
            "tls_alpn = echo/1", "tls_handshake_timeout = 500ms") + STATS,
            expect=EXPECT_FAILS)
        port = d.port("tls")
        session = self.good(d, 4)
        self.good(d, 1, sni=None)
        self.good(d, 3, session=session)
        for data in (GARBAGE, b"\x00" * 300):
            # At most an alert comes back, never the bytes echoed.
            got, _ = plain_until_eof(port, data)
            self.assertNotIn(data[:8], got)
            self.assertLess(len(got), 64, got)
        _, took = plain_until_eof(port, timeout=5)
        self.assertGreaterEqual(took, 0.4, "closed before the 500 ms "
                                "handshake timeout")
        with evitest.connect(port) as s:
            s.sendall(HELLO_START)
        for i in range(2):
            e = self.failed(d, client_ctx(None))
            self.assertIsInstance(e.error, ssl.SSLCertVerificationError)
        self.failed(d, client_ctx(self.pki.ca_cert, tls12=True))
        self.failed(d, client_ctx(self.pki.ca_cert, alpn=["other/2"]))
        want = dict.fromkeys(REASONS, 0)
        want.update(handshakes=8, resumed=3, not_tls=2, timeout=1, eof=1,
                    alert=2, version=1, alpn=1)
        m = settled(self, d, "tls", 16)
        self.assertEqual(tls_figures(m, "tls"), want)
        self.assertEqual(tls_figures_json(json_scrape(d.port("stats")),
                                          "tls"), want)
        self.assert_close_lines(d, want)
        self.assertEqual(d.stop(), 0)

    def assert_close_lines(self, d, want):
        """Each connection's close line: the TLS fields of a good one,
        tls_error of a failed one, as many of each as counted."""
        lines = wait_close_lines(d, "tls", 16)
        errors = dict.fromkeys(REASONS, 0)
        snis = []
        for rec in lines:
            keys = list(rec)
            if "tls_error" in rec:
                self.assertEqual(keys[-2:], ["reason", "tls_error"], rec)
                errors[rec["tls_error"]] += 1
                self.assertEqual(rec["reason"], "timeout" if
                                 rec["tls_error"] == "timeout" else "error",
                                 rec)
                continue
            self.assertEqual(keys[-4:], ["reason", "tls_version",
                                         "tls_cipher", "sni"], rec)
            self.assertEqual(rec["reason"], "eof", rec)
            self.assertEqual(rec["tls_version"], "TLSv1.3")
            self.assertIn(rec["tls_cipher"], (
                "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"))
            snis.append(rec["sni"])
            self.assertEqual(rec["bytes_in"], rec["bytes_out"])
        self.assertEqual(sorted(snis), ["-"] + [SNI] * 7)
        self.assertEqual(errors, {r: want[r] for r in REASONS})


class TestFailureLog(TLSCase):

    def test_a_flood_of_failures_logs_a_few_lines_that_add_up(self):
        n = 50
        d = self.daemon(self.service("flood", "echo") + STATS,
                        expect=EXPECT_FAILS)
        mark = d.mark()
        start = time.monotonic()
        for i in range(n):
            plain_until_eof(d.port("flood"), GARBAGE)

        def counted():
            firsts, more, total = [], 0, 0
            for line in d.log_lines(mark):
                m = FAIL_FIRST_RE.search(line)
                if m:
                    firsts.append(m)
                m = FAIL_MORE_RE.search(line)
                if m:
                    more += 1
                    total += int(m.group("n"))
            total += len(firsts)
            return (firsts, more, total) if total >= n else None
        firsts, more, total = wait_until(counted, IO, "%d failures in the "
                                         "log" % n)
        took = time.monotonic() - start
        self.assertEqual(total, n, d.log_text())
        # One first line and one summary per second, at most.
        self.assertLessEqual(len(firsts) + more, 2 * (int(took) + 2),
                             d.log_text())
        first = firsts[0]
        self.assertEqual(first.group("svc"), "flood")
        self.assertRegex(first.group("peer"), r"^127\.0\.0\.1:\d+$")
        self.assertEqual(first.group("reason"), "not_tls")
        m = scrape(d.port("stats"))
        self.assertEqual(m.count("evinetd_tls_handshake_failures_total",
                                 service="flood", reason="not_tls"), n)
        print("%d garbage handshakes: %d log lines in %.1f s" % (
            n, len(firsts) + more, took), flush=True)
        self.assertEqual(d.stop(), 0)


# per_source_rate: a failed handshake takes one more token.

class TestPerSourceRate(TLSCase):

    def test_failed_handshakes_drain_the_bucket_faster(self):
        # 6 tokens a source, and one back a minute: none within the test.
        d = self.daemon(self.service("tls", "echo", "per_source_rate = 1/m 6")
                        + STATS, expect=EXPECT_FAILS + EXPECT_REFUSALS)
        port = d.port("tls")
        # 127.0.0.3: four good handshakes take four tokens; all served.
        for i in range(4):
            got, _ = tls_round_trip(self.ctx, port, b"good", src="127.0.0.3")
            self.assertEqual(got, b"good", "good handshake %d" % i)
        # 127.0.0.1: three bad ones take two tokens each.
        for i in range(3):
            plain_until_eof(port, GARBAGE)
        wait_until(lambda: tls_figures(scrape(d.port("stats")), "tls")[
            "not_tls"] == 3, IO, "3 failures counted")
        s = TLSStream(self.ctx, port)
        try:
            drive([s])
        finally:
            s.close()
        self.assertIsNotNone(s.error, "the fourth connection from 127.0.0.1 "
                             "was served: failed handshakes cost one token "
                             "each, not two")
        # Another source is still served.
        got, _ = tls_round_trip(self.ctx, port, b"other", src="127.0.0.2")
        self.assertEqual(got, b"other")
        m = settled(self, d, "tls", 4 + 3 + 1)
        self.assertEqual(m.count("evinetd_refused_total", service="tls",
                                 reason="rate"), 1)
        f = tls_figures(m, "tls")
        self.assertEqual((f["handshakes"], f["not_tls"]), (5, 3))
        self.assertEqual(d.stop(), 0)


# forward: TLS in front of a plaintext backend.

class TestForward(TLSCase):

    def fwd(self, backend):
        return self.daemon(self.service("fwd", "forward", "to = " +
                                        backend.addr, "log_connections = yes"))

    def test_16_mib_each_way_and_the_client_half_close(self):
        backend = Backend(self, echo_handler)
        d = self.fwd(backend)
        data = os.urandom(16 * MiB)
        mark = d.mark()
        start = time.monotonic()
        got, s = tls_round_trip(self.ctx, d.port("fwd"), data)
        took = time.monotonic() - start
        self.assertTrue(got == data, "%d bytes back, not the %d sent" % (
            len(got), len(data)))
        rec = wait_close_lines(d, "fwd", 1, since=mark)[0]
        self.assertEqual(rec["peer"], s.peer())
        self.assertEqual((rec["bytes_in"], rec["bytes_out"], rec["reason"],
                          rec["tls_version"]),
                         (str(len(data)), str(len(data)), "eof", "TLSv1.3"))
        print("forward over TLS: 16 MiB each way in %.2f s" % took,
              flush=True)
        self.assertEqual(d.stop(), 0)

    def test_a_close_notify_after_the_last_bytes_reaches_the_backend(self):
        def handler(b, s):
            s.sendall(GREETING)
            echo_handler(b, s)

        d = self.fwd(Backend(self, handler))
        self.assert_close_notify_ends_input(d.port("fwd"))
        self.assertEqual(d.stop(), 0)

    def test_the_backend_half_close_reaches_the_client(self):
        backend = Backend(self, bye_then_read_to_eof)
        d = self.fwd(backend)
        s = TLSStream(self.ctx, d.port("fwd"))
        self.addCleanup(s.close)
        # The backend's FIN comes as a close_notify; the client still
        # sends after it.
        s.plan(end="notify").run()
        self.assertEqual(bytes(s.got), b"bye")
        s.plan(send=b"still talking", notify=True, end="eof").run()
        self.assertEqual(backend.result(), b"still talking")
        self.assertEqual(d.stop(), 0)


# exec: the program sees plaintext and the real client.

EXEC_SH = 'args = sh -c "echo $TCPREMOTEIP $TCPREMOTEPORT; exec cat"'


class TestExec(TLSCase):

    def test_the_program_sees_plaintext_and_the_client(self):
        d = self.daemon(self.service("sh", "exec", "program = /bin/sh",
                                     EXEC_SH))
        data = b"plain text to cat\n" * 1000
        got, s = tls_round_trip(self.ctx, d.port("sh"), data)
        ip, port = s.peer().rsplit(":", 1)
        self.assertEqual(got, b"%s %s\n" % (ip.encode(), port.encode()) +
                         data)
        self.assertEqual(d.stop(), 0)


    def test_a_close_notify_after_the_last_bytes_ends_the_input(self):
        d = self.daemon(self.service("cat", "exec", "program = /bin/sh",
                                     'args = sh -c "echo hi; exec cat"'))
        self.assert_close_notify_ends_input(d.port("cat"))
        self.assertEqual(d.stop(), 0)


# proxy_protocol and TLS: the PROXY header in clear, then the handshake.

class TestProxy(TLSCase):

    def test_the_header_names_the_client_behind_tls(self):
        proxy = ("proxy_protocol = v1", "proxy_from = 127.0.0.1")
        d = self.daemon(self.service("echo", "echo", "log_connections = yes",
                                     *proxy) +
                        self.service("sh", "exec", "program = /bin/sh",
                                     EXEC_SH, *proxy))
        head = b"PROXY TCP4 192.0.2.7 192.0.2.1 4711 443\r\n"
        mark = d.mark()
        got, s = tls_round_trip(self.ctx, d.port("echo"), b"behind",
                                head=head)
        self.assertEqual(got, b"behind")
        rec = wait_close_lines(d, "echo", 1, since=mark)[0]
        self.assertEqual(rec["peer"], "192.0.2.7:4711")
        self.assertEqual(rec["via"], s.peer())
        self.assertEqual((rec["tls_version"], rec["sni"]), ("TLSv1.3", SNI))
        got, _ = tls_round_trip(self.ctx, d.port("sh"), b"x\n", head=head)
        self.assertEqual(got, b"192.0.2.7 4711\nx\n")
        self.assertEqual(d.stop(), 0)


# The classic services that write first.

ISO = "%Y-%m-%d %H:%M:%S"


class TestClassic(TLSCase):

    def test_daytime_qotd_and_chargen_over_tls(self):
        tmp = self.tempdir()
        quotes = tmp.write("quotes.txt", "The only quote.\n")
        d = self.daemon(
            self.service("daytime", "daytime", 'format = "%s"' % ISO,
                         "timezone = utc") +
            self.service("qotd", "qotd", "file = " + quotes) +
            self.service("chargen", "chargen"))
        for svc in ("daytime", "qotd"):
            s = tls_once(self.ctx, d.port(svc), end="eof")
            self.assertEqual(s.obj.version(), "TLSv1.3")
            line = one_crlf_line(self, bytes(s.got), svc)
            if svc == "qotd":
                self.assertEqual(bytes(s.got), crlf("The only quote.\n"))
            else:
                when = calendar.timegm(time.strptime(line, ISO))
                self.assertLessEqual(abs(when - time.time()), 2, line)
        s = tls_once(self.ctx, d.port("chargen"), expect=MiB)
        self.assertTrue(bytes(s.got[:MiB]) == chargen_stream(0, MiB),
                        "the chargen stream departs from the pattern")
        self.assertEqual(d.stop(), 0)


# IPv6.

@unittest.skipUnless(HAVE6, "no IPv6 on this host")
class TestIPv6(TLSCase):

    def test_echo_over_tls_on_ipv6_loopback(self):
        d = self.daemon(self.service("echo", "echo", "log_connections = yes",
                                     listen="[::1]:0"))
        mark = d.mark()
        got, s = tls_round_trip(self.ctx, d.port("echo"), b"six",
                                host="::1")
        self.assertEqual(got, b"six")
        rec = wait_close_lines(d, "echo", 1, since=mark)[0]
        self.assertEqual(rec["peer"], s.peer())
        self.assertRegex(rec["peer"], r"^\[::1\]:\d+$")
        self.assertEqual((rec["tls_version"], rec["sni"]), ("TLSv1.3", SNI))
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
