#!/usr/bin/env python3
"""Observability through the real daemon: the stats module's /metrics
(Prometheus text format, checked by promtool) and /metrics.json against
exactly the traffic the test made, the module's HTTP behaviour (HEAD,
404, 405, keep-alive, pipelining, HTTP/1.0, malformed and oversized
requests, idle keep-alive connections), the logfmt connection log of
log_connections = yes, and the SIGUSR1 state dump."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

import evitest
import test_supervisor
from evitest import IO_TIMEOUT
from test_supervisor import reload, settle

# echo and echo-udp log their connections; the stats services do not.
# "stats" refuses requests over 1 KiB; "stats-idle" keeps the default
# size cap and closes keep-alive connections idle for 300 ms.
CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
        log_connections = yes
    }
    service echo-udp {
        listen = 127.0.0.1:0
        protocol = udp
        module = echo
        log_connections = yes
    }
    service stats {
        listen = 127.0.0.1:0
        module = stats
        max_request = 1k
    }
    service stats-idle {
        listen = 127.0.0.1:0
        module = stats
        keepalive_timeout = 300ms
    }
    """

PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The families the stats module serves; each needs # HELP and # TYPE.
FAMILIES = {
    "evinetd_connections_accepted_total": "counter",
    "evinetd_connections_active": "gauge",
    "evinetd_received_bytes_total": "counter",
    "evinetd_sent_bytes_total": "counter",
    "evinetd_datagrams_received_total": "counter",
    "evinetd_datagrams_sent_total": "counter",
    "evinetd_module_errors_total": "counter",
    "evinetd_connections_closed_total": "counter",
    "evinetd_refused_total": "counter",
    "evinetd_build_info": "gauge",
    "evinetd_start_time_seconds": "gauge",
    "process_start_time_seconds": "gauge",
    "evinetd_uptime_seconds": "gauge",
    "evinetd_reloads_total": "counter",
    "evinetd_worker_restarts_total": "counter",
    "evinetd_workers": "gauge",
    "evinetd_open_fds": "gauge",
}

# The 1.2 reasons (operator control: evinetdctl close, disable) included.
CLOSE_REASONS = ["eof", "reset", "error", "timeout", "shutdown", "limit",
                 "module", "module_error", "admin"]
REFUSE_REASONS = ["acl", "max_connections", "per_source", "rate", "fd",
                  "reflection", "disabled"]

# What the traffic helper does: echo connections (bytes each way, and how
# the client ends them), then datagrams to echo-udp.
TCP_PLAN = [(1, "eof"), (100, "reset"), (1000, "eof"), (4096, "reset"),
            (65536, "eof"), (200000, "reset"), (7, "eof")]
UDP_PLAN = [0, 1, 512, 1400, 9000]

REFLECTION_RE = (r'^service "echo-udp": dropped \d+ datagrams? '
                 r'\(reflection guard\)')


# The Prometheus text exposition format, parsed strictly.

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
HELP_RE = re.compile(r"^# HELP (%s) (.+)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|"
                     r"untyped)$" % NAME)


class Exposition:
    """A scrape of /metrics: families (name -> help, type and samples, in
    order of appearance) and a value lookup by name and labels."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.order = []
        self.samples = {}
        if not text.endswith("\n"):
            raise AssertionError("exposition does not end with a newline")
        current = None
        for n, line in enumerate(text.split("\n")[:-1], 1):
            where = "line %d %r" % (n, line)
            m = HELP_RE.match(line)
            if m:
                current = self._family(m.group(1), where)
                if current["help"] is not None:
                    raise AssertionError("second HELP: " + where)
                current["help"] = m.group(2)
                continue
            m = TYPE_RE.match(line)
            if m:
                current = self._family(m.group(1), where)
                if current["type"] is not None or current["samples"]:
                    raise AssertionError("TYPE repeated or after samples: "
                                         + where)
                current["type"] = m.group(2)
                continue
            if line.startswith("#") or not line:
                raise AssertionError("unexpected line: " + where)
            m = SAMPLE_RE.match(line)
            if not m:
                raise AssertionError("malformed sample: " + where)
            name, labels = m.group(1), self._labels(m.group(2) or "", where)
            if current is None or current["name"] != name:
                raise AssertionError("sample outside its family: " + where)
            value = float(m.group(3))
            key = (name, frozenset(labels.items()))
            if key in self.samples:
                raise AssertionError("duplicate sample: " + where)
            self.samples[key] = value
            current["samples"].append((labels, value))

    def _family(self, name, where):
        if name not in self.families:
            self.families[name] = {"name": name, "help": None,
                                   "type": None, "samples": []}
            self.order.append(name)
        elif self.order[-1] != name:
            raise AssertionError("family split up: " + where)
        return self.families[name]

    @staticmethod
    def _labels(text, where):
        labels = {}
        pos = 0
        while pos < len(text):
            m = LABEL_RE.match(text, pos)
            if not m or m.group(1) in labels:
                raise AssertionError("malformed labels: " + where)
            labels[m.group(1)] = re.sub(
                r"\\(.)", lambda e: "\n" if e.group(1) == "n" else
                e.group(1), m.group(2))
            pos = m.end()
            if pos < len(text):
                if text[pos] != ",":
                    raise AssertionError("malformed labels: " + where)
                pos += 1
        return labels

    def value(self, name, **labels):
        """The value of one sample, which must exist."""
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            raise AssertionError("no sample %s%r in:\n%s" % (
                name, labels, self.text))
        return self.samples[key]

    def count(self, name, **labels):
        """A counter or gauge that must be a whole number."""
        v = self.value(name, **labels)
        if v != int(v) or v < 0:
            raise AssertionError("%s%r = %r, not a count" % (name, labels,
                                                              v))
        return int(v)

    def service(self, svc):
        """Every per-service figure of SVC, as a dict, for comparisons."""
        out = {}
        for name in ("evinetd_connections_accepted_total",
                     "evinetd_connections_active",
                     "evinetd_received_bytes_total",
                     "evinetd_sent_bytes_total",
                     "evinetd_datagrams_received_total",
                     "evinetd_datagrams_sent_total",
                     "evinetd_module_errors_total"):
            out[name] = self.count(name, service=svc)
        for r in CLOSE_REASONS:
            out["closed " + r] = self.count(
                "evinetd_connections_closed_total", service=svc, reason=r)
        for r in REFUSE_REASONS:
            out["refused " + r] = self.count("evinetd_refused_total",
                                             service=svc, reason=r)
        return out


# logfmt, parsed strictly: key=value pairs separated by single spaces;
# a value has no spaces, or is double-quoted with \" and \\ escapes.

LOGFMT_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_.]*)=("(?:[^"\\]|\\.)*"|'
                         r'[^\s"=]+)')


def logfmt(line):
    """LINE as an ordered dict; fails on anything that is not logfmt."""
    pairs = {}
    pos = 0
    while True:
        m = LOGFMT_PAIR.match(line, pos)
        if not m:
            raise AssertionError("not logfmt at %d: %r" % (pos, line))
        key, value = m.group(1), m.group(2)
        if key in pairs:
            raise AssertionError("key %r twice: %r" % (key, line))
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        pairs[key] = value
        pos = m.end()
        if pos == len(line):
            return pairs
        if line[pos] != " " or pos + 1 == len(line) or line[pos + 1] == " ":
            raise AssertionError("not logfmt at %d: %r" % (pos, line))
        pos += 1


# HTTP clients.

class Response:
    def __init__(self, status, reason, version, headers, body):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers          # lower-case name -> [values]
        self.body = body

    def header(self, name):
        """The one value of header NAME, or None if it is absent."""
        values = self.headers.get(name.lower(), [])
        if len(values) > 1:
            raise AssertionError("header %s repeated: %r" % (name, values))
        return values[0] if values else None


class HTTP:
    """A raw HTTP/1.x client connection with bounded waits, that reads
    responses one at a time so keep-alive and pipelining can be seen."""

    def __init__(self, port, timeout=IO_TIMEOUT, rcvbuf=None):
        if rcvbuf is None:
            self.sock = evitest.connect(port, timeout=timeout)
        else:
            # Before connect(), so the window is small from the start.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect(("127.0.0.1", port))
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no complete response within %.1f s; "
                                 "have %r" % (self.timeout, bytes(
                                     self.buf[:200])))
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def response(self, head=False):
        """The next response; HEAD says the request was a HEAD (no body
        whatever Content-Length says)."""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise EOFError("EOF before a whole response head; have %r"
                               % bytes(self.buf))
        end = self.buf.index(b"\r\n\r\n")
        head_text = bytes(self.buf[:end]).decode("ascii")
        del self.buf[:end + 4]
        lines = head_text.split("\r\n")
        m = re.match(r"^(HTTP/1\.[01]) (\d{3}) (.+)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            hm = re.match(r"^([A-Za-z0-9-]+): (.*)$", line)
            if not hm:
                raise AssertionError("bad header line %r" % line)
            headers.setdefault(hm.group(1).lower(), []).append(hm.group(2))
        values = headers.get("content-length", [])
        if len(values) != 1 or not values[0].isdigit():
            raise AssertionError("Content-Length %r" % values)
        length = 0 if head else int(values[0])
        while len(self.buf) < length:
            if not self._fill(deadline):
                raise EOFError("EOF in a body: %d of %d bytes" % (
                    len(self.buf), length))
        body = bytes(self.buf[:length])
        del self.buf[:length]
        return Response(int(m.group(2)), m.group(3), m.group(1), headers,
                        body)

    def wait_eof(self, timeout=None):
        """Waits for the server to close, with nothing more sent first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            self._fill(deadline)
        if self.buf:
            raise AssertionError("bytes after the last response: %r" %
                                 bytes(self.buf[:200]))


def get(path, host=True, version="1.1", extra=""):
    """The bytes of a GET request."""
    return ("GET %s HTTP/%s\r\n%s%s\r\n" % (
        path, version, "Host: 127.0.0.1\r\n" if host else "",
        extra)).encode()


def scrape_raw(port, path="/metrics"):
    """GET PATH on a connection of its own (Connection: close); returns
    the response, after checking that the server then closed."""
    with HTTP(port) as h:
        h.send(get(path, extra="Connection: close\r\n"))
        r = h.response()
        h.wait_eof()
    return r


def scrape(port):
    """/metrics over a raw socket, parsed."""
    r = scrape_raw(port)
    if r.status != 200:
        raise AssertionError("/metrics: %d %s" % (r.status, r.reason))
    return Exposition(r.body.decode("utf-8"))


def curl(port, path="/metrics"):
    """Runs curl on http://127.0.0.1:PORT/PATH; returns stdout."""
    if shutil.which("curl") is None:
        raise unittest.SkipTest("curl is not installed")
    p = subprocess.run(["curl", "-sS", "--max-time", "5",
                        "http://127.0.0.1:%d%s" % (port, path)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    if p.returncode != 0:
        raise AssertionError("curl exited %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode("utf-8")


def promtool_check(test, text):
    """promtool check metrics accepts TEXT."""
    promtool = shutil.which("promtool")
    if promtool is None:
        test.skipTest("promtool is not installed")
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    test.assertEqual(p.returncode, 0, "promtool check metrics:\n%s%s" % (
        p.stdout.decode(errors="replace"),
        p.stderr.decode(errors="replace")))


def abort_connection(s):
    """Closes S with a reset (SO_LINGER on, zero timeout)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()


def bind_privileged_udp(host="127.0.0.1", first=1000, last=512):
    """A UDP socket bound to a free port below 1024, or None."""
    for port in range(first, last, -1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((host, port))
        except OSError:
            s.close()
            continue
        s.settimeout(IO_TIMEOUT)
        return s
    return None


class Traffic:
    """Runs TCP_PLAN and UDP_PLAN against a daemon and remembers, per
    client, its port, the bytes each way and how it ended."""

    def __init__(self, test, d):
        self.tcp = []           # (client port, bytes, reason)
        self.udp = []           # (client port, bytes)
        self.echo_port = d.port("echo")
        self.udp_port = d.port("echo-udp")
        for size, reason in TCP_PLAN:
            data = os.urandom(size)
            s = evitest.connect(self.echo_port)
            try:
                client = s.getsockname()[1]
                got = evitest.transfer(s, data)
                test.assertTrue(got == data, "echo of %d bytes differs" %
                                size)
                if reason == "eof":
                    s.shutdown(socket.SHUT_WR)
                    test.assertEqual(evitest.recv_until_eof(s), b"")
            finally:
                if reason == "reset":
                    abort_connection(s)
                else:
                    s.close()
            self.tcp.append((client, size, reason))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(IO_TIMEOUT)
            u.connect(("127.0.0.1", self.udp_port))
            client = u.getsockname()[1]
            for size in UDP_PLAN:
                data = os.urandom(size)
                u.send(data)
                test.assertEqual(u.recv(65536), data)
                self.udp.append((client, size))

    def tcp_bytes(self):
        return sum(size for _, size, _ in self.tcp)

    def udp_bytes(self):
        return sum(size for _, size in self.udp)

    def closed(self, reason):
        return sum(1 for _, _, r in self.tcp if r == reason)


def echo_once(d, payload=b"still here"):
    """One round trip through echo, returned once the daemon has logged
    the connection's close, so that a stop right after it does not race
    with the worker's log line."""
    with evitest.connect(d.port("echo")) as s:
        got = evitest.transfer(s, payload)
        client = s.getsockname()[1]
    d.wait_log(r"^event=close service=echo proto=tcp peer=127\.0\.0\.1:%d "
               % client)
    return got


def wait_settled(test, port, timeout=IO_TIMEOUT):
    """Polls /metrics until echo has no active connection and counts
    every one of TCP_PLAN as closed (closes after a reset are noticed
    asynchronously); returns that scrape."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(port)
        closed = sum(m.count("evinetd_connections_closed_total",
                             service="echo", reason=r)
                     for r in CLOSE_REASONS)
        if m.count("evinetd_connections_active", service="echo") == 0 \
                and closed == len(TCP_PLAN):
            return m
        test.assertLess(time.monotonic(), deadline,
                        "echo connections still open after %.0f s:\n%s" % (
                            timeout, m.text))
        time.sleep(0.02)


class TestMetrics(evitest.TestCase):

    def setUp(self):
        self.d = self.daemon(CONF)
        self.port = self.d.port("stats")

    def assert_echo_figures(self, m, t):
        """The echo and echo-udp figures are exactly the traffic T."""
        echo = m.service("echo")
        want = dict.fromkeys(echo, 0)
        want.update({
            "evinetd_connections_accepted_total": len(TCP_PLAN),
            "evinetd_received_bytes_total": t.tcp_bytes(),
            "evinetd_sent_bytes_total": t.tcp_bytes(),
            "closed eof": t.closed("eof"),
            "closed reset": t.closed("reset"),
        })
        self.assertEqual(echo, want)
        udp = m.service("echo-udp")
        want = dict.fromkeys(udp, 0)
        want.update({
            "evinetd_received_bytes_total": t.udp_bytes(),
            "evinetd_sent_bytes_total": t.udp_bytes(),
            "evinetd_datagrams_received_total": len(UDP_PLAN),
            "evinetd_datagrams_sent_total": len(UDP_PLAN),
        })
        self.assertEqual(udp, want)

    def test_counters_match_the_traffic_exactly(self):
        t = Traffic(self, self.d)
        self.assertEqual((t.closed("eof"), t.closed("reset")), (4, 3))
        m = wait_settled(self, self.port)
        self.assert_echo_figures(m, t)
        # The same figures through curl.
        c = Exposition(curl(self.port))
        self.assert_echo_figures(c, t)
        # The scrape counts itself (earlier scrapes may still be closing).
        self.assertGreaterEqual(c.count("evinetd_connections_active",
                                        service="stats"), 1)
        self.assertEqual(c.count("evinetd_connections_active",
                                 service="stats-idle"), 0)
        self.assertEqual(c.service("stats-idle"),
                         dict.fromkeys(c.service("stats-idle"), 0))
        self.assertEqual(c.count("evinetd_workers"), 1)
        self.assertEqual(c.count("evinetd_reloads_total", result="ok"), 0)
        self.assertEqual(c.count("evinetd_reloads_total", result="failed"),
                         0)
        self.assertEqual(c.count("evinetd_worker_restarts_total"), 0)
        self.assertGreater(c.count("evinetd_open_fds"), 4)
        start = c.value("evinetd_start_time_seconds")
        self.assertLessEqual(abs(start - time.time()), 120)
        self.assertEqual(c.value("process_start_time_seconds"), start)
        self.assertGreaterEqual(c.value("evinetd_uptime_seconds"), 0)
        build = c.families["evinetd_build_info"]["samples"]
        self.assertEqual(len(build), 1)
        self.assertEqual(build[0][1], 1)
        self.assertEqual(sorted(build[0][0]), ["abi", "version"])
        self.assertRegex(build[0][0]["abi"], r"^\d+\.\d+$")
        self.assertEqual(self.d.stop(), 0)

    def test_raw_scrape_has_the_prometheus_content_type_and_length(self):
        r = scrape_raw(self.port)
        self.assertEqual((r.status, r.reason), (200, "OK"))
        self.assertEqual(r.version, "HTTP/1.1")
        self.assertEqual(r.header("Content-Type"), PROM_TYPE)
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        self.assertEqual(r.header("Connection"), "close")
        Exposition(r.body.decode("utf-8"))
        self.assertEqual(self.d.stop(), 0)

    def test_every_service_and_reason_has_a_sample(self):
        m = scrape(self.port)
        for svc in ("echo", "echo-udp", "stats", "stats-idle"):
            got = m.service(svc)
            # The 1.2 reasons too: nobody disabled or closed anything.
            self.assertEqual(got["closed admin"], 0)
            self.assertEqual(got["refused disabled"], 0)
        self.assertEqual(self.d.stop(), 0)

    def test_promtool_accepts_the_exposition(self):
        if shutil.which("promtool") is None:
            self.skipTest("promtool is not installed")
        Traffic(self, self.d)
        text = wait_settled(self, self.port).text
        promtool_check(self, text)
        m = Exposition(text)
        for name in FAMILIES:
            self.assertIn(name, m.families)
        for name, fam in m.families.items():
            with self.subTest(family=name):
                self.assertIsNotNone(fam["help"], "no # HELP")
                self.assertIsNotNone(fam["type"], "no # TYPE")
                self.assertTrue(fam["samples"], "no samples")
                if name in FAMILIES:
                    self.assertEqual(fam["type"], FAMILIES[name])
                if fam["type"] == "counter":
                    self.assertTrue(name.endswith("_total"))
        self.assertEqual(self.d.stop(), 0)

    def test_json_parses_and_agrees_with_the_prometheus_text(self):
        t = Traffic(self, self.d)
        wait_settled(self, self.port)
        # Both in one send on one connection: the module renders both
        # in the same callback, before either is sent, so even the stats
        # service's own figures agree.
        with HTTP(self.port) as h:
            h.send(get("/metrics") + get("/metrics.json"))
            r = h.response()
            self.assertEqual(r.status, 200)
            m = Exposition(r.body.decode("utf-8"))
            r = h.response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Type"), "application/json")
            self.assertEqual(int(r.header("Content-Length")), len(r.body))
            j = json.loads(r.body.decode("utf-8"))
        self.assert_echo_figures(m, t)
        names = [s["name"] for s in j["services"]]
        self.assertEqual(names, ["echo", "echo-udp", "stats", "stats-idle"])
        for s in j["services"]:
            with self.subTest(service=s["name"]):
                self.assertEqual(s["module"], "stats" if s["name"].startswith(
                    "stats") else "echo")
                self.assertEqual(s["protocol"], "udp" if s["name"] ==
                                 "echo-udp" else "tcp")
                got = {
                    "evinetd_connections_accepted_total": s["accepted"],
                    "evinetd_connections_active": s["active"],
                    "evinetd_received_bytes_total": s["bytes_in"],
                    "evinetd_sent_bytes_total": s["bytes_out"],
                    "evinetd_datagrams_received_total": s["datagrams_in"],
                    "evinetd_datagrams_sent_total": s["datagrams_out"],
                    "evinetd_module_errors_total": s["module_errors"],
                }
                self.assertEqual(sorted(s["closed"]), sorted(CLOSE_REASONS))
                self.assertEqual(sorted(s["refused"]),
                                 sorted(REFUSE_REASONS))
                for r in CLOSE_REASONS:
                    got["closed " + r] = s["closed"][r]
                for r in REFUSE_REASONS:
                    got["refused " + r] = s["refused"][r]
                want = m.service(s["name"])
                self.assertEqual(got, want)
        self.assertEqual(j["workers"], m.count("evinetd_workers"))
        self.assertEqual(j["start_time"],
                         m.value("evinetd_start_time_seconds"))
        self.assertEqual(j["abi"], m.families["evinetd_build_info"][
            "samples"][0][0]["abi"])
        self.assertEqual(j["version"], m.families["evinetd_build_info"][
            "samples"][0][0]["version"])
        self.assertEqual(self.d.stop(), 0)

    @unittest.skipUnless(os.geteuid() == 0,
                         "needs root to send from a source port below 1024")
    def test_a_datagram_from_a_privileged_port_counts_as_refused(self):
        self.d.expect(REFLECTION_RE)
        s = bind_privileged_udp()
        if s is None:
            self.skipTest("no free UDP port below 1024 on 127.0.0.1")
        with s:
            src = s.getsockname()[1]
            mark = self.d.mark()
            s.sendto(b"loop?", ("127.0.0.1", self.d.port("echo-udp")))
            line = self.d.wait_log(r"^event=datagram service=echo-udp .*",
                                   since=mark).group(0)
        rec = logfmt(line)
        self.assertEqual(rec["peer"], "127.0.0.1:%d" % src)
        self.assertEqual(rec["bytes_in"], "5")
        self.assertEqual(rec["bytes_out"], "0")
        self.assertEqual(rec["result"], "reflection")
        m = scrape(self.port)
        self.assertEqual(m.count("evinetd_refused_total",
                                 service="echo-udp", reason="reflection"), 1)
        udp = m.service("echo-udp")
        self.assertEqual(sum(v for k, v in udp.items()
                             if k.startswith("refused ")), 1)
        self.assertEqual(udp["evinetd_datagrams_sent_total"], 0)
        self.assertEqual(udp["evinetd_sent_bytes_total"], 0)
        self.assertEqual(self.d.stop(), 0)


class TestWorkers(evitest.TestCase):
    """Counters are shared between worker processes: a stats service in
    the shared worker reports services isolated in workers of their own,
    and a service served by two workers is reported as one sum."""

    CONF = """
    workers = 2
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    service iso {
        listen = 127.0.0.1:0
        module = echo
        isolate = yes
    }
    service shared {
        listen = 127.0.0.1:0
        module = echo
    }
    """

    def test_isolated_and_multi_worker_services_are_reported(self):
        d = self.daemon(self.CONF)
        for name, n in (("iso", 3), ("shared", 8)):
            for i in range(n):
                with evitest.connect(d.port(name)) as s:
                    self.assertEqual(evitest.transfer(s, b"12345"),
                                     b"12345")
        deadline = time.monotonic() + 10
        while True:
            m = scrape(d.port("stats"))
            if (m.count("evinetd_connections_active", service="iso") == 0
                    and m.count("evinetd_connections_active",
                                service="shared") == 0):
                break
            self.assertLess(time.monotonic(), deadline, "still active")
            time.sleep(0.05)
        for name, n in (("iso", 3), ("shared", 8)):
            self.assertEqual(m.count("evinetd_connections_accepted_total",
                                     service=name), n)
            self.assertEqual(m.count("evinetd_received_bytes_total",
                                     service=name), 5 * n)
            self.assertEqual(m.count("evinetd_sent_bytes_total",
                                     service=name), 5 * n)
        self.assertEqual(m.count("evinetd_workers"), 3)
        self.assertEqual(d.stop(), 0)


class TestHTTP(evitest.TestCase):

    def setUp(self):
        self.d = self.daemon(CONF)
        self.port = self.d.port("stats")

    def finish(self):
        """Whatever the test sent, the stats and echo services still
        answer, and the daemon stops cleanly with no alerts."""
        self.assertEqual(scrape_raw(self.port).status, 200)
        self.assertEqual(echo_once(self.d), b"still here")
        self.assertEqual(self.d.stop(), 0)

    def refused(self, request, status, reason, body, port=None):
        """Sends REQUEST; expects STATUS REASON with BODY, Connection:
        close, and the server's close."""
        with HTTP(port or self.port) as h:
            h.send(request)
            r = h.response()
            self.assertEqual((r.status, r.reason), (status, reason))
            self.assertEqual(r.header("Connection"), "close")
            self.assertEqual(r.header("Content-Type"), "text/plain")
            self.assertEqual(r.body, body)
            h.wait_eof()

    def test_head_gets_the_headers_and_no_body(self):
        with HTTP(self.port) as h:
            h.send(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            r = h.response(head=True)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Type"), PROM_TYPE)
            self.assertGreater(int(r.header("Content-Length")), 1000)
            self.assertIsNone(r.header("Connection"))
            # No body came: the next bytes are the next response.
            h.send(get("/metrics.json"))
            r = h.response()
            self.assertEqual(r.status, 200)
            json.loads(r.body.decode())
        self.finish()

    def test_an_unknown_path_gets_404(self):
        with HTTP(self.port) as h:
            h.send(get("/nope"))
            r = h.response()
            self.assertEqual((r.status, r.reason), (404, "Not Found"))
            self.assertEqual(r.body,
                             b"not found; try /metrics or /metrics.json\n")
            # Still alive.
            h.send(get("/metrics?x=1"))
            self.assertEqual(h.response().status, 200)
        self.finish()

    def test_post_gets_405_with_allow(self):
        with HTTP(self.port) as h:
            h.send(b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 0\r\n\r\n")
            r = h.response()
            self.assertEqual((r.status, r.reason),
                             (405, "Method Not Allowed"))
            self.assertEqual(r.header("Allow"), "GET, HEAD")
            self.assertEqual(r.body, b"only GET and HEAD are served\n")
            h.send(get("/metrics"))
            self.assertEqual(h.response().status, 200)
        self.finish()

    def test_keep_alive_serves_two_requests_on_one_connection(self):
        with HTTP(self.port) as h:
            h.send(get("/metrics"))
            first = h.response()
            h.send(get("/metrics"))
            second = h.response()
        self.assertEqual((first.status, second.status), (200, 200))
        m1 = Exposition(first.body.decode())
        m2 = Exposition(second.body.decode())
        # One connection: accepted once.
        for m in (m1, m2):
            self.assertEqual(m.count("evinetd_connections_accepted_total",
                                     service="stats"), 1)
        self.assertEqual(m2.count("evinetd_sent_bytes_total",
                                  service="stats"),
                         m1.count("evinetd_sent_bytes_total",
                                  service="stats") +
                         len(first.body) + self.head_length(first))
        self.finish()

    @staticmethod
    def head_length(r):
        """The size of R's status line and headers as sent."""
        return len("%s %d %s\r\n" % (r.version, r.status, r.reason)) + sum(
            len("%s: %s\r\n" % (k, v)) for k, vs in r.headers.items()
            for v in vs) + 2

    def test_pipelined_requests_are_answered_in_order(self):
        with HTTP(self.port) as h:
            h.send(get("/metrics.json") + get("/nope") +
                   b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" +
                   get("/metrics"))
            r1 = h.response()
            r2 = h.response()
            r3 = h.response(head=True)
            r4 = h.response()
        self.assertEqual([r.status for r in (r1, r2, r3, r4)],
                         [200, 404, 200, 200])
        self.assertEqual(r1.header("Content-Type"), "application/json")
        json.loads(r1.body.decode())
        self.assertEqual(r3.header("Content-Type"), PROM_TYPE)
        Exposition(r4.body.decode())
        # Rendered in one go, before anything was sent: the HEAD's length
        # is exactly the GET's.
        self.assertEqual(int(r3.header("Content-Length")), len(r4.body))
        self.finish()

    def test_many_pipelined_requests_are_all_answered_in_order(self):
        # More output than the module queues at once (max_output, 256
        # KiB): it stops, and goes on from conn_drained.
        n = 60
        with HTTP(self.port) as h:
            h.send(b"".join(get("/metrics?%d" % i) if i % 3 else
                            get("/nope%d" % i) for i in range(n)))
            rs = [h.response() for i in range(n)]
        self.assertEqual([r.status for r in rs],
                         [404 if i % 3 == 0 else 200 for i in range(n)])
        self.assertGreater(sum(len(r.body) for r in rs), 4 * 65536)
        self.finish()

    def test_a_pipelining_client_that_reads_late_is_not_cut_off(self):
        # 140 KB of requests, sent before a byte is read through a small
        # window: the module answers until the output holds max_output
        # (256 KiB), where the daemon stops reading too, and goes on as
        # the client reads.  It used to stop at 64 KiB of output while
        # the daemon read on, and max_input filled with requests it had
        # not answered: "closing, the module left 65536 bytes of input
        # unread".
        n = 4000
        with HTTP(self.port, rcvbuf=4096) as h:
            h.send(get("/metrics") * n)
            # Two echo round trips: the worker has had its turns at the
            # requests before the first answer is read.
            for i in range(2):
                self.assertEqual(echo_once(self.d), b"still here")
            rs = [h.response() for i in range(n)]
        self.assertEqual([r.status for r in rs], [200] * n)
        self.finish()

    def test_a_client_that_half_closes_after_its_requests_gets_answers(self):
        for n in (1, 60, 400):
            with self.subTest(requests=n), HTTP(self.port) as h:
                h.send(get("/metrics") * n)
                h.sock.shutdown(socket.SHUT_WR)
                rs = [h.response() for i in range(n)]
                self.assertEqual([r.status for r in rs], [200] * n)
                h.wait_eof()
        self.finish()

    def test_pipelined_requests_after_a_close_are_not_answered(self):
        with HTTP(self.port) as h:
            h.send(get("/metrics", extra="Connection: close\r\n") +
                   get("/nope"))
            r = h.response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "close")
            h.wait_eof()
        self.finish()

    def test_http_1_0_without_keep_alive_is_closed(self):
        with HTTP(self.port) as h:
            h.send(b"GET /metrics HTTP/1.0\r\n\r\n")
            r = h.response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "close")
            Exposition(r.body.decode())
            h.wait_eof()
        self.finish()

    def test_http_1_0_with_keep_alive_stays_open(self):
        with HTTP(self.port) as h:
            h.send(b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = h.response()
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("Connection"))
            h.send(b"GET /nope HTTP/1.0\r\n\r\n")
            r = h.response()
            self.assertEqual(r.status, 404)
            self.assertEqual(r.header("Connection"), "close")
            h.wait_eof()
        self.finish()

    def test_a_garbage_line_gets_400_and_close(self):
        self.refused(b"garbage\r\n\r\n", 400, "Bad Request",
                     b"malformed method\n")
        self.refused(b"hello there\r\n", 400, "Bad Request",
                     b"malformed target\n")
        self.finish()

    def test_a_request_without_host_gets_400_and_close(self):
        self.refused(b"GET /metrics HTTP/1.1\r\n\r\n", 400, "Bad Request",
                     b"HTTP/1.1 request without Host\n")
        self.finish()

    def test_headers_over_max_request_get_431_and_close(self):
        pad = b"X-Pad: " + b"a" * 2000 + b"\r\n"
        self.refused(get("/metrics", extra=pad.decode()), 431,
                     "Request Header Fields Too Large",
                     b"request headers too large\n")
        # Without an end in sight, as soon as the cap is passed.
        self.refused(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " +
                     b"b" * 1100, 431, "Request Header Fields Too Large",
                     b"request headers too large\n")
        self.finish()

    def test_headers_just_under_max_request_are_served(self):
        req = get("/metrics")
        pad = b"X-Pad: " + b"a" * (1024 - len(req) - 9) + b"\r\n"
        req = req[:-2] + pad + b"\r\n"
        self.assertEqual(len(req), 1024)
        with HTTP(self.port) as h:
            h.send(req)
            self.assertEqual(h.response().status, 200)
        self.finish()

    def test_other_refusals_have_their_status(self):
        port = self.d.port("stats-idle")
        self.refused(get("/" + "a" * 1100), 414, "URI Too Long",
                     b"target too long\n", port=port)
        self.refused(b"GET / HTTP/2.0\r\n\r\n", 505,
                     "HTTP Version Not Supported",
                     b"unsupported HTTP version\n")
        self.refused(get("/", extra="Transfer-Encoding: chunked\r\n"), 501,
                     "Not Implemented", b"request bodies are not accepted\n")
        self.refused(get("/", extra="Content-Length: 3\r\n") + b"abc", 501,
                     "Not Implemented", b"request bodies are not accepted\n")
        self.refused(get("/", extra="X-A: b\r\n c\r\n"), 400, "Bad Request",
                     b"obsolete line folding\n")
        self.finish()

    def test_a_request_after_a_good_one_can_still_be_refused(self):
        with HTTP(self.port) as h:
            h.send(get("/metrics") + b"BAD\r\n\r\n")
            self.assertEqual(h.response().status, 200)
            r = h.response()
            self.assertEqual(r.status, 400)
            self.assertEqual(r.header("Connection"), "close")
            h.wait_eof()
        self.finish()

    def test_a_request_in_pieces_is_answered_once_whole(self):
        req = get("/metrics.json")
        with HTTP(self.port) as h:
            for i in range(len(req)):
                h.send(req[i:i + 1])
            r = h.response()
            self.assertEqual(r.status, 200)
            json.loads(r.body.decode())
        self.finish()


FLOOD_CONF = """
    workers = 1
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    """


def close_all(socks):
    """Closes every socket in the list SOCKS, and empties it."""
    for s in socks:
        s.close()
    del socks[:]


class EchoProbe:
    """Round trips through echo, one every 10 ms from a thread of its own,
    each timed, until stop(); so a stall of the worker shows as one long
    round trip."""

    def __init__(self, port):
        self.sock = evitest.connect(port)
        self.rtts = []
        self.error = None
        self.started = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.started.wait(IO_TIMEOUT):
            raise AssertionError("no first echo round trip: %r" % self.error)

    def _run(self):
        try:
            while not self.done.is_set():
                start = time.monotonic()
                self.sock.sendall(b"ping")
                if evitest.recv_exact(self.sock, 4) != b"ping":
                    raise AssertionError("echo answered something else")
                self.rtts.append(time.monotonic() - start)
                self.started.set()
                self.done.wait(0.010)
        except Exception as e:      # reported by stop()
            self.error = e
            self.started.set()

    def stop(self):
        """Ends the probe; returns the round trip times, in seconds."""
        self.done.set()
        self.thread.join(2 * IO_TIMEOUT)
        self.sock.close()
        if self.thread.is_alive():
            raise AssertionError("the echo probe did not finish")
        if self.error is not None:
            raise self.error
        return self.rtts


class TestFlood(evitest.TestCase):
    """One client's pipelined requests must not stall the worker for its
    other clients: the descriptor count is not redone for every request,
    and the module answers a bounded batch per turn of the event loop."""

    NIDLE = 5000
    NREQ = 1800

    def hold_idle(self, d, n):
        """N idle connections to echo, held until the test ends; returns
        once the worker has accepted them all."""
        if evitest.raise_nofile(n + 200) < n + 200:
            self.skipTest("RLIMIT_NOFILE too low for %d clients" % n)
        socks = []
        self.addCleanup(close_all, socks)
        port = d.port("echo")
        for i in range(n):
            socks.append(evitest.connect(port))
        deadline = time.monotonic() + IO_TIMEOUT
        while scrape(d.port("stats")).count("evinetd_connections_active",
                                            service="echo") < n:
            self.assertLess(time.monotonic(), deadline,
                            "the worker did not accept %d clients" % n)
            time.sleep(0.05)
        return socks

    def test_the_descriptor_count_follows_the_connections(self):
        # It is cached for up to a second, never for longer.
        d = self.daemon(FLOOD_CONF)
        base = scrape(d.port("stats")).count("evinetd_open_fds")

        def wait_fds(want):
            deadline = time.monotonic() + IO_TIMEOUT
            while True:
                n = scrape(d.port("stats")).count("evinetd_open_fds")
                if want(n):
                    return
                self.assertLess(time.monotonic(), deadline,
                                "open_fds %d (%d before)" % (n, base))
                time.sleep(0.1)

        socks = self.hold_idle(d, 100)
        wait_fds(lambda n: n >= base + 100)
        close_all(socks)
        wait_fds(lambda n: n <= base + 2)
        self.assertEqual(d.stop(), 0)

    def flood(self, d, what):
        """Sends NREQ pipelined HEADs to stats in one send of about 63 KB
        (every tenth a 404, so that the order of the answers shows) while
        an EchoProbe runs; checks every answer, in order.  Returns the
        seconds they took and the longest echo round trip."""
        flood = b"".join(b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                         if i % 10 == 9 else
                         b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                         for i in range(self.NREQ))
        self.assertGreater(len(flood), 60000)
        with HTTP(d.port("stats")) as h:
            probe = EchoProbe(d.port("echo"))
            start = time.monotonic()
            h.send(flood)
            rs = [h.response(head=True) for i in range(self.NREQ)]
            took = time.monotonic() - start
            rtts = probe.stop()
        print("%d pipelined HEADs, %s: answered in %.3f s; echo round trip "
              "max %.1f ms over %d" % (self.NREQ, what, took,
                                       max(rtts) * 1000, len(rtts)),
              flush=True)
        self.assertEqual([r.status for r in rs],
                         [404 if i % 10 == 9 else 200
                          for i in range(self.NREQ)])
        for r in rs:
            self.assertEqual(r.header("Content-Type"), "text/plain"
                             if r.status == 404 else PROM_TYPE)
        return took, max(rtts)

    @unittest.skipIf(evitest.under_valgrind(), "measures time; valgrind "
                     "slows everything down")
    def test_a_flood_with_many_idle_clients_does_not_stall_echo(self):
        # It cost a count of /proc/self/fd (5000 entries) per request:
        # 2.4 s, all in one turn of the event loop.
        d = self.daemon(FLOOD_CONF)
        idle = self.hold_idle(d, self.NIDLE)
        took, rtt = self.flood(d, "%d idle connections" % self.NIDLE)
        self.assertLess(took, 1.0)
        self.assertLess(rtt, 1.0)
        close_all(idle)
        self.assertEqual(d.stop(), 0)

    @unittest.skipIf(evitest.under_valgrind(), "measures latency; valgrind "
                     "slows everything down")
    def test_a_flood_of_costly_scrapes_does_not_stall_echo(self):
        # With 200 services a scrape renders 245 KB (for a HEAD too), and
        # the module used to answer every request it had in one turn of
        # the event loop: over a second.  It now yields after a bounded
        # amount of work, so echo is served in between.
        d = self.daemon(FLOOD_CONF + "".join(
            "service s%d {\n listen = 127.0.0.1:0\n module = echo\n}\n" % i
            for i in range(200)))
        took, rtt = self.flood(d, "200 services")
        self.assertLess(rtt, 0.5)
        self.assertEqual(d.stop(), 0)


class TestIdle(evitest.TestCase):

    def setUp(self):
        self.d = self.daemon(CONF)
        self.port = self.d.port("stats-idle")

    def test_a_connection_that_sends_nothing_is_closed(self):
        start = time.monotonic()
        with HTTP(self.port) as h:
            h.wait_eof(timeout=5)
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.25)
        self.assertLess(took, 3)
        # The stats module's own keep-alive timer closed it (reason
        # "module"), long before the daemon's idle_timeout of 5 minutes.
        m = scrape(self.d.port("stats"))
        closed = {r: m.count("evinetd_connections_closed_total",
                             service="stats-idle", reason=r)
                  for r in CLOSE_REASONS}
        self.assertEqual(sum(closed.values()), 1, closed)
        self.assertEqual(closed["module"], 1, closed)
        self.assertEqual(self.d.stop(), 0)

    def test_an_idle_keep_alive_connection_is_closed_after_a_request(self):
        with HTTP(self.port) as h:
            h.send(get("/metrics"))
            self.assertEqual(h.response().status, 200)
            start = time.monotonic()
            h.wait_eof(timeout=5)
            took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.25)
        self.assertLess(took, 3)
        self.assertEqual(self.d.stop(), 0)

    def test_the_default_idle_timeout_keeps_a_connection_open(self):
        # "stats" has the default of 15 s: after longer than stats-idle's
        # timeout it still answers.
        with HTTP(self.d.port("stats")) as h, HTTP(self.port) as idle:
            idle.wait_eof(timeout=5)
            h.send(get("/metrics"))
            self.assertEqual(h.response().status, 200)
        self.assertEqual(self.d.stop(), 0)


class TestConnectionLog(evitest.TestCase):

    def test_each_connection_and_datagram_has_one_logfmt_line(self):
        d = self.daemon(CONF)
        t = Traffic(self, d)
        d.wait_log(r"^event=close service=echo ", count=len(TCP_PLAN))
        d.wait_log(r"^event=datagram service=echo-udp ",
                   count=len(UDP_PLAN))
        # Scrapes of a service without log_connections are not logged.
        scrape(d.port("stats"))
        curl(d.port("stats"))
        wait_settled(self, d.port("stats"))
        self.assertEqual(d.stop(), 0)

        closes, dgrams = {}, []
        for line in d.log_lines():
            if not line.startswith("event="):
                continue
            rec = logfmt(line)
            self.assertIn(rec["service"], ("echo", "echo-udp"), line)
            if rec["event"] == "close":
                self.assertEqual(rec["service"], "echo", line)
                closes[rec["peer"]] = rec
            else:
                self.assertEqual(rec["event"], "datagram", line)
                dgrams.append(rec)
        self.assertEqual(len(closes), len(TCP_PLAN))
        for client, size, reason in t.tcp:
            peer = "127.0.0.1:%d" % client
            with self.subTest(peer=peer, reason=reason):
                self.assertIn(peer, closes)
                rec = closes[peer]
                self.assertRegex(rec["duration_ms"], r"^\d+$")
                del rec["duration_ms"]
                self.assertEqual(rec, {
                    "event": "close", "service": "echo", "proto": "tcp",
                    "peer": peer, "local_port": str(t.echo_port),
                    "bytes_in": str(size), "bytes_out": str(size),
                    "reason": reason})
        self.assertEqual(len(dgrams), len(UDP_PLAN))
        for rec, (client, size) in zip(dgrams, t.udp):
            self.assertEqual(rec, {
                "event": "datagram", "service": "echo-udp", "proto": "udp",
                "peer": "127.0.0.1:%d" % client,
                "local_port": str(t.udp_port), "bytes_in": str(size),
                "bytes_out": str(size), "result": "ok"})

class TestParsers(unittest.TestCase):
    """The test's own parsers reject what they should."""

    def test_the_exposition_parser_is_strict(self):
        good = ('# HELP a_total A.\n# TYPE a_total counter\n'
                'a_total{x="q\\"\\\\\\n",y="2"} 3\n')
        m = Exposition(good)
        self.assertEqual(m.count("a_total", x='q"\\\n', y="2"), 3)
        for bad in (good[:-1], good + good.split("\n")[2] + "\n",
                    good + "# HELP b B.\n# TYPE b gauge\nb 1\n"
                    "# TYPE a_total counter\n",
                    "a 1\n", good.replace('y="2"', 'y=2'),
                    good.replace('y="2"', 'x="2"'),
                    good + "\n", good.replace(" 3", "  3")):
            with self.subTest(text=bad):
                with self.assertRaises(AssertionError):
                    Exposition(bad)

    def test_the_logfmt_parser_is_strict(self):
        self.assertEqual(logfmt('a=1 b="x y" c=z'),
                         {"a": "1", "b": "x y", "c": "z"})
        self.assertEqual(logfmt(r'a="q\"uote"'), {"a": 'q"uote'})
        for bad in ("a=1  b=2", "a=1 ", " a=1", "a=", "a=1 a=2", "a b=1",
                    'a="open', "a=x=y"):
            with self.subTest(line=bad):
                with self.assertRaises(AssertionError):
                    logfmt(bad)


class TestStateDump(evitest.TestCase):

    def test_sigusr1_lists_open_connections_and_listeners(self):
        d = self.daemon(CONF)
        port = d.port("echo")
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"hello, state"),
                             b"hello, state")
            client = s.getsockname()[1]
            mark = d.mark()
            d.send_signal(signal.SIGUSR1)
            d.wait_log(r'^state: service "echo": connection 127\.0\.0\.1:%d, '
                       r'age \d+s, bytes in 12, out 12$' % client,
                       since=mark)
            d.wait_log(r'^state: service "echo": listener 127\.0\.0\.1:%d '
                       r'\(tcp\)$' % port, since=mark)
            d.wait_log(r'^state: service "echo-udp": listener '
                       r'127\.0\.0\.1:%d \(udp\)$' % d.port("echo-udp"),
                       since=mark)
            d.wait_log(r'^state: service "echo": module echo, tcp, accepted '
                       r'1, active 1, bytes in 12, out 12, ', since=mark)
            # The daemon goes on serving after the dump.
            self.assertEqual(evitest.transfer(s, b"more"), b"more")
        d.wait_log(r"^event=close service=echo proto=tcp "
                   r"peer=127\.0\.0\.1:%d .* bytes_in=16 bytes_out=16 "
                   r"reason=eof$" % client)
        self.assertEqual(d.stop(), 0)


# Reloads: a service that stays (same name, same protocol) keeps its
# totals, also while the old generation drains.

RELOAD_CONF = """
    drain_timeout = 20s
    workers = 2
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
    }
    service udp {
        listen = 127.0.0.1:$udp
        protocol = udp
        module = echo
    }
    service stats {
        listen = 127.0.0.1:$stats
        module = stats
    }
    """


def assert_not_down(test, before, after):
    """Every _total sample of BEFORE is in AFTER, and not smaller."""
    n = 0
    for (name, labels), v in before.samples.items():
        if not name.endswith("_total"):
            continue
        key = (name, labels)
        test.assertIn(key, after.samples, "%s%s is gone" % (
            name, dict(labels)))
        test.assertGreaterEqual(after.samples[key], v, "%s%s went down" % (
            name, dict(labels)))
        n += 1
    test.assertGreater(n, 50, "too few counters compared")


class TestReload(test_supervisor.SupervisorCase):

    def drive(self, ports, n, size=3000):
        """N echo connections of SIZE bytes each way, ended with EOF, and
        N datagrams; returns the scrape once echo has none open."""
        for i in range(n):
            with evitest.connect(ports["echo"]) as s:
                data = os.urandom(size)
                self.assertEqual(evitest.transfer(s, data, shut_wr=True),
                                 data)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(IO_TIMEOUT)
            u.connect(("127.0.0.1", ports["udp"]))
            for i in range(n):
                u.send(b"datagram %d" % i)
                self.assertEqual(u.recv(100), b"datagram %d" % i)
        return self.settled(ports)

    def settled(self, ports):
        """Polls /metrics until echo has no open connection and counts
        each it accepted as closed; returns that scrape."""
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            m = scrape(ports["stats"])
            e = m.service("echo")
            closed = sum(e["closed " + r] for r in CLOSE_REASONS)
            if e["evinetd_connections_active"] == 0 and closed == \
                    e["evinetd_connections_accepted_total"]:
                return m
            self.assertLess(time.monotonic(), deadline, m.text)
            time.sleep(0.02)

    def test_totals_never_go_down_across_reloads(self):
        d, ports = self.start_pinned(RELOAD_CONF, ["echo", "udp", "stats"])
        before = self.drive(ports, 3)
        echo = before.service("echo")
        accepted = echo["evinetd_connections_accepted_total"]
        self.assertGreaterEqual(accepted, 3)
        start = before.value("process_start_time_seconds")
        for rnd, n in enumerate((4, 5), 1):
            with self.subTest(reload=rnd):
                reload(d)
                # Right away: the old generation may still be draining,
                # and either generation may answer.
                mid = scrape(ports["stats"])
                assert_not_down(self, before, mid)
                self.assertEqual(mid.count(
                    "evinetd_connections_accepted_total", service="echo"),
                    accepted)
                settle(d, 2)
                after = self.drive(ports, n)
                assert_not_down(self, mid, after)
                e = after.service("echo")
                self.assertEqual(e["evinetd_connections_accepted_total"],
                                 accepted + n)
                self.assertEqual(e["closed eof"], accepted + n)
                self.assertEqual(e["evinetd_received_bytes_total"],
                                 echo["evinetd_received_bytes_total"] +
                                 3000 * n)
                u = after.service("udp")
                self.assertEqual(u["evinetd_datagrams_received_total"],
                                 before.service("udp")[
                                     "evinetd_datagrams_received_total"] + n)
                self.assertEqual(after.value("process_start_time_seconds"),
                                 start)
                self.assertEqual(after.count("evinetd_reloads_total",
                                             result="ok"), 1 + rnd)
                promtool_check(self, after.text)
                before, echo, accepted = after, e, accepted + n
        self.assertEqual(d.stop(), 0)

    def test_a_draining_connection_keeps_counting(self):
        d, ports = self.start_pinned(RELOAD_CONF, ["echo", "udp", "stats"])
        base = self.settled(ports).service("echo")
        with evitest.connect(ports["echo"]) as s:
            self.assertEqual(evitest.transfer(s, b"a" * 1000), b"a" * 1000)
            reload(d)
            # The old generation serves this connection and counts it.
            self.assertEqual(evitest.transfer(s, b"b" * 5000), b"b" * 5000)
            mid = scrape(ports["stats"])
            promtool_check(self, mid.text)
            e = mid.service("echo")
            self.assertEqual(e["evinetd_connections_active"], 1)
            self.assertEqual(e["evinetd_connections_accepted_total"],
                             base["evinetd_connections_accepted_total"] + 1)
            self.assertEqual(e["evinetd_received_bytes_total"],
                             base["evinetd_received_bytes_total"] + 6000)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(s), b"")
        # The old generation is gone: its totals are carried.
        settle(d, 2)
        e = self.settled(ports).service("echo")
        self.assertEqual(e["evinetd_connections_accepted_total"],
                         base["evinetd_connections_accepted_total"] + 1)
        self.assertEqual(e["closed eof"], base["closed eof"] + 1)
        for k in ("evinetd_received_bytes_total", "evinetd_sent_bytes_total"):
            self.assertEqual(e[k], base[k] + 6000, k)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
