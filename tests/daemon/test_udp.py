#!/usr/bin/env python3
"""UDP services under attack, through the real daemon: another user
cannot bind a UDP service's port and steal its datagrams (and reloads
still take over the sockets); a datagram spoofed from one of our own
UDP services' ports starts no endless loop between two services; the
per-source reply budget withholds what a source asks beyond it; a flood
of 66,000 spoofed sources cannot lock a fresh client out of a service
with per_source_rate; and a module that leaves input unread cannot
flood the log.

Spoofed datagrams are built by hand and sent from raw sockets (the
tests run as root), from addresses in 127.0.0.0/8, which is all
loopback on Linux, or from this host's own address.  Counters come from
the stats module's /metrics.json, never from sleeping and hoping.
"""

import errno
import json
import os
import re
import signal
import socket
import string
import struct
import time
import unittest

import evitest
from test_limits import REFUSAL_RE, Burst, refusals, wait_refusals

HAVE6 = evitest.have_ipv6()
NOBODY = 65534

# limits.c, when a full per-source table forgets a source.
EVICT_RE = (r'^service "[^"]+": per-source table full \(\d+ sources\): '
            r'forgot the \d+ least recently seen$')


# Helpers.

def metrics(d, service="stats"):
    """{service name: its figures} from the stats module's JSON."""
    with evitest.connect(d.port(service)) as s:
        s.sendall(b"GET /metrics.json HTTP/1.0\r\n\r\n")
        raw = evitest.recv_until_eof(s)
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and \
            not head.startswith(b"HTTP/1.0 200"):
        raise AssertionError("stats: %r" % head)
    return {s["name"]: s for s in json.loads(body)["services"]}


def wait_metrics(d, what, pred, timeout=10.0):
    """Polls /metrics.json until PRED(figures) holds; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(d)
        if pred(m):
            return m
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %.0f s: %r" % (
                what, timeout, m))
        time.sleep(0.02)


def ipv4_udp(src, sport, dst, dport, payload):
    """An IPv4 packet with a UDP datagram, for a raw IP_HDRINCL socket
    (the kernel fills in the IP checksum; a UDP checksum of 0 is none)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    return ip + udp


def raw4():
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def spoof4(src, sport, dport, payload=b"x", dst="127.0.0.1"):
    """Sends one UDP datagram to DST:DPORT that claims to come from
    SRC:SPORT."""
    with raw4() as r:
        r.sendto(ipv4_udp(src, sport, dst, dport, payload), (dst, 0))


def spoof6(sport, dport, payload=b"x"):
    """One datagram from [::1]:SPORT to [::1]:DPORT; the kernel adds the
    IPv6 header and the (mandatory) UDP checksum."""
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW,
                       socket.IPPROTO_UDP) as r:
        r.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 6)
        r.sendto(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) +
                 payload, ("::1", 0))


def host_address():
    """An IPv4 address of this host other than loopback, or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))     # no packet is sent
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


def udp_ask(port, data=b"ping", host="127.0.0.1", src=None, timeout=5.0):
    """One datagram to HOST:PORT; the reply, or None if none came."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        if src is not None:
            s.bind((src, 0))
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recv(65536)
        except socket.timeout:
            return None


def drain(sock):
    """Every datagram waiting on a non-blocking SOCK."""
    got = []
    while True:
        try:
            got.append(sock.recv(65536))
        except BlockingIOError:
            return got


# 5: another user must not bind our UDP ports.

OPTION_SETS = [["SO_REUSEADDR"], ["SO_REUSEPORT"],
               ["SO_REUSEADDR", "SO_REUSEPORT"]]


def try_binds(targets):
    """For each (host, port, options), "ok" if a UDP socket with those
    options binds there, or the errno's name."""
    out = []
    for host, port, opts in targets:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            for opt in opts:
                s.setsockopt(socket.SOL_SOCKET, getattr(socket, opt), 1)
            try:
                s.bind((host, port))
                out.append("ok")
            except OSError as e:
                out.append(errno.errorcode.get(e.errno, str(e.errno)))
    return out


def bind_as_nobody(targets):
    """Runs try_binds in a child that became uid and gid 65534 (only
    socket calls there, then _exit); returns its results."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(wfd, json.dumps(try_binds(targets)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise AssertionError("the bind probe as nobody failed (%d)" % status)
    return json.loads(data)


HIJACK_CONF = """
    service udp-host {
        listen = 127.0.0.1:$host
        protocol = udp
        module = echo
    }
    service udp-any {
        listen = *:$any
        protocol = udp
        module = echo
    }
    service udp-group {
        listen = 127.0.0.1:$group
        protocol = udp
        module = echo
        reuseport = yes
    }
    """


class TestHijack(evitest.TestCase):

    def start(self, **kw):
        names = ["host", "any", "group"]
        d = self.daemon(string.Template(HIJACK_CONF).substitute(
            {n: 0 for n in names}), **kw)
        return d, {"host": d.port("udp-host"), "any": d.port("udp-any"),
                   "group": d.port("udp-group")}

    def test_another_user_cannot_bind_a_udp_services_port(self):
        d, ports = self.start()
        # A dual-stack [::] socket would take the IPv4 datagrams too;
        # [::1] is another address, except for the "*" service.
        v4 = ["127.0.0.1", "0.0.0.0"] + (["::"] if HAVE6 else [])
        targets = []
        for name, port in sorted(ports.items()):
            for host in v4 + (["::1"] if HAVE6 and name == "any" else []):
                for opts in OPTION_SETS:
                    targets.append((host, port, opts))
        # The control: nobody can bind at all, so a refusal is the port's.
        results = bind_as_nobody(targets + [("127.0.0.1", 0,
                                             ["SO_REUSEADDR"])])
        self.assertEqual(results[-1], "ok", "nobody cannot bind anything")
        for (host, port, opts), got in zip(targets, results):
            with self.subTest(host=host, port=port, opts=opts):
                self.assertEqual(got, "EADDRINUSE")
        for name, port in ports.items():
            self.assertEqual(udp_ask(port, b"still ours"), b"still ours",
                             name)
        self.assertEqual(d.stop(), 0)

    def test_reloads_still_take_over_the_udp_sockets(self):
        # Without SO_REUSEADDR a second bind of a live port fails, so a
        # reload must reuse each socket, and -v says it did.
        d, ports = self.start(args=["-v"],
                              expect=[r"reused from the previous "
                                      r"configuration$"])
        d.tmp.write("evinetd.conf",
                    string.Template(HIJACK_CONF).substitute(ports))
        for gen in (2, 3):
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_log(r"^reload: generation %d serving " % gen, since=mark)
            if gen == 3:
                for n in ("udp-host", "udp-any", "udp-group"):
                    d.wait_log(r'^service "%s": \S+ reused from the '
                               r'previous configuration$' % n, since=mark)
            for name, port in ports.items():
                self.assertEqual(udp_ask(port, b"gen %d" % gen),
                                 b"gen %d" % gen, name)
        self.assertNotRegex(d.log_text(), r"Address already in use")
        results = bind_as_nobody([("127.0.0.1", p, ["SO_REUSEADDR"])
                                  for p in ports.values()])
        self.assertEqual(results, ["EADDRINUSE"] * len(ports))
        self.assertEqual(d.stop(), 0)


# 6: loops between our own services, and the reply budget.

LOOP_CONF = """
    service echo-udp {
        listen = 127.0.0.1:0
        protocol = udp
        module = echo
    }
    service chargen-udp {
        listen = *:0
        protocol = udp
        module = chargen
    }
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    """

OWN_PORT = "source is a local port of one of our UDP services"


class TestReflection(evitest.TestCase):

    def assert_no_loop(self, d, spoof, source):
        """SPOOF() sends one datagram to echo-udp from chargen-udp's
        port; echo-udp must drop it and start no exchange.  A loop starts
        only with echo-udp replying, and the worker takes datagrams in
        order: once a real client's marker datagram sent after it is
        echoed, any reply to the spoofed one would be counted, and so
        would chargen-udp's answer to it.  No waiting window needed."""
        mark = d.mark()
        before = metrics(d)
        spoof()
        d.wait_log(r'^service "echo-udp": dropped 1 datagram \(reflection '
                   r'guard\), last from %s: %s$' % (re.escape(source),
                                                    OWN_PORT), since=mark)
        self.assertEqual(udp_ask(d.port("echo-udp"), b"marker"), b"marker")
        m = metrics(d)
        self.assertEqual(m["echo-udp"]["datagrams_in"],
                         before["echo-udp"]["datagrams_in"] + 2)
        self.assertEqual(m["echo-udp"]["datagrams_out"],
                         before["echo-udp"]["datagrams_out"] + 1, m)
        for what in ("datagrams_in", "datagrams_out"):
            self.assertEqual(m["chargen-udp"][what],
                             before["chargen-udp"][what], m)
        self.assertEqual(m["echo-udp"]["refused"]["reflection"],
                         before["echo-udp"]["refused"]["reflection"] + 1)

    def test_a_datagram_from_another_services_port_starts_no_loop(self):
        d = self.daemon(LOOP_CONF, expect=[REFUSAL_RE])
        echo, chargen = d.port("echo-udp"), d.port("chargen-udp")
        with self.subTest(source="127.0.0.1"):
            self.assert_no_loop(d, lambda: spoof4("127.0.0.1", chargen, echo),
                                "127.0.0.1:%d" % chargen)
        # Any loopback address is ours, not just the one bound.
        with self.subTest(source="127.9.9.9"):
            self.assert_no_loop(d, lambda: spoof4("127.9.9.9", chargen, echo),
                                "127.9.9.9:%d" % chargen)
        # chargen-udp listens on *, so this host's own address is ours.
        addr = host_address()
        if addr is not None:
            with self.subTest(source=addr):
                self.assert_no_loop(d, lambda: spoof4(addr, chargen, echo),
                                    "%s:%d" % (addr, chargen))
        # A client on another port is served as before.
        self.assertEqual(udp_ask(echo, b"hello"), b"hello")
        self.assertEqual(d.stop(), 0)

    @unittest.skipUnless(HAVE6, "no IPv6 on this host")
    def test_a_loop_over_ipv6_is_stopped_too(self):
        d = self.daemon("""
            service echo6 {
                listen = [::1]:0
                protocol = udp
                module = echo
            }
            service echo6-peer {
                listen = [::1]:0
                protocol = udp
                module = echo
            }
            service stats {
                listen = 127.0.0.1:0
                module = stats
            }
            """, expect=[REFUSAL_RE])
        a, b = d.port("echo6"), d.port("echo6-peer")
        spoof6(b, a)
        m = wait_metrics(d, "the spoofed datagram",
                         lambda m: m["echo6"]["datagrams_in"] == 1)
        d.wait_log(r'^service "echo6": dropped 1 datagram \(reflection '
                   r'guard\), last from \[::1\]:%d: %s$' % (b, OWN_PORT))
        # As above: once a real client's datagram after it is echoed,
        # any reply to the spoofed one would show in the counters.
        self.assertEqual(udp_ask(a, b"v6", host="::1"), b"v6")
        m = metrics(d)
        self.assertEqual((m["echo6"]["datagrams_out"],
                          m["echo6-peer"]["datagrams_in"]), (1, 0), m)
        self.assertEqual(m["echo6"]["refused"]["reflection"], 1)
        self.assertEqual(d.stop(), 0)


BUDGET_CONF = """
    udp_reply_budget = 1000
    service echo-udp {
        listen = 127.0.0.1:0
        protocol = udp
        module = echo
    }
    service echo-free {
        listen = 127.0.0.1:0
        protocol = udp
        module = echo
        udp_reply_budget = 0
    }
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    """


class TestReplyBudget(evitest.TestCase):

    def test_a_source_over_its_budget_gets_fewer_replies(self):
        d = self.daemon(BUDGET_CONF, expect=[REFUSAL_RE])
        budget, free = d.port("echo-udp"), d.port("echo-free")
        payload = b"b" * 200
        clients = {}
        for name, src in (("greedy", "127.0.0.1"), ("modest", "127.0.0.2"),
                          ("free", "127.0.0.1")):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addCleanup(s.close)
            s.bind((src, 0))
            clients[name] = s
        # All of it reaches the worker at one instant (it is stopped while
        # the datagrams queue), so 1000 bytes allow 5 replies of 200.  A
        # slow worker (valgrind) may take long enough over the 42 for the
        # bucket to refill: a bucket back above zero lets one more reply
        # run it into debt, and 200 ms more refill another.
        with Burst(d):
            for i in range(20):
                clients["greedy"].sendto(payload, ("127.0.0.1", budget))
                clients["free"].sendto(payload, ("127.0.0.1", free))
            for i in range(2):
                clients["modest"].sendto(payload, ("127.0.0.1", budget))
            start = time.monotonic()
        m = wait_metrics(d, "all 62 datagrams answered or refused",
                         lambda m:
                         m["echo-udp"]["datagrams_out"] +
                         m["echo-udp"]["refused"]["rate"] == 22 and
                         m["echo-free"]["datagrams_out"] == 20)
        # The worker's clock counts whole milliseconds, so even a short
        # burst may cross one: always allow the one reply into debt.
        refill = 1 + int((time.monotonic() - start) / 0.2)
        d.wait_log(r'^service "echo-udp": dropped \d+ datagrams? \(rate\), '
                   r'last from 127\.0\.0\.1:\d+: udp_reply_budget exceeded$')
        for s in clients.values():
            s.setblocking(False)
        # Replies are sent before the counters move, so all are here.
        greedy = len(drain(clients["greedy"]))
        self.assertGreaterEqual(greedy, 5)
        self.assertLessEqual(greedy, 5 + refill)
        self.assertEqual(m["echo-udp"]["datagrams_out"], greedy + 2)
        self.assertEqual(m["echo-udp"]["refused"]["rate"], 20 - greedy)
        wait_refusals(self, d, "echo-udp", "rate", 20 - greedy)
        self.assertEqual(len(drain(clients["modest"])), 2)
        self.assertEqual(len(drain(clients["free"])), 20)
        self.assertEqual(refusals(d, "echo-free"), 0)
        self.assertEqual(d.stop(), 0)


# 7: a full per-source table.

class TestSourceTable(evitest.TestCase):

    NSOURCES = 66000
    WINDOW = 64         # spoofed datagrams in flight: well under rcvbuf

    def flood(self, d, port, sink):
        """Sends one datagram from each of NSOURCES addresses of 127/8,
        all from SINK's port, keeping at most WINDOW unanswered; returns
        how many were answered (at SINK, bound to 0.0.0.0).  Stops early
        if the daemon stops answering new sources."""
        sport = sink.getsockname()[1]
        sent = answered = 0
        with raw4() as r:
            stalled = None
            while sent < self.NSOURCES or answered < sent:
                while sent < self.NSOURCES and sent - answered < self.WINDOW:
                    a = 0x7f010000 + sent   # 127.1.0.0 on
                    r.sendto(ipv4_udp(socket.inet_ntoa(struct.pack(
                        "!I", a)), sport, "127.0.0.1", port, b"s"),
                        ("127.0.0.1", 0))
                    sent += 1
                try:
                    sink.recv(64)
                    answered += 1
                    stalled = None
                except socket.timeout:
                    if stalled is None:
                        stalled = time.monotonic()
                    elif time.monotonic() - stalled > 2.0:
                        break
        return sent, answered

    def test_66000_spoofed_sources_cannot_lock_out_a_fresh_client(self):
        d = self.daemon("""
            service echo-udp {
                listen = 127.0.0.1:0
                protocol = udp
                module = echo
                per_source_rate = 1/m 1
            }
            service stats {
                listen = 127.0.0.1:0
                module = stats
            }
            """, expect=[REFUSAL_RE, EVICT_RE])
        port = d.port("echo-udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind(("0.0.0.0", 0))
            sink.settimeout(0.1)
            start = time.monotonic()
            sent, answered = self.flood(d, port, sink)
            took = time.monotonic() - start
        print("%d spoofed sources answered of %d sent in %.1f s" % (
            answered, sent, took), flush=True)
        self.assertEqual((sent, answered), (self.NSOURCES, self.NSOURCES),
                         "the daemon stopped answering new sources")
        # A fresh client is served at once, not after the flood's buckets
        # refill (a minute here).
        self.assertEqual(udp_ask(port, b"fresh"), b"fresh")
        self.assertEqual(udp_ask(port, b"again", src="127.0.0.2"), b"again")
        d.wait_log(EVICT_RE)
        # The table still limits: the last spoofed source is remembered,
        # and its second datagram is refused by its empty bucket.
        last = socket.inet_ntoa(struct.pack("!I", 0x7f010000 +
                                            self.NSOURCES - 1))
        before = metrics(d)["echo-udp"]
        spoof4(last, 40000, port)
        m = wait_metrics(d, "the second datagram", lambda m:
                         m["echo-udp"]["datagrams_in"] ==
                         before["datagrams_in"] + 1)["echo-udp"]
        self.assertEqual(m["refused"]["rate"], before["refused"]["rate"] + 1)
        self.assertEqual(m["refused"]["per_source"], 0)
        self.assertEqual(m["datagrams_out"], self.NSOURCES + 2)
        self.assertEqual(d.stop(), 0)


# The log under a flood of unread-input closes.

UNREAD_RE = re.compile(
    r'^service "hoard": (?:127\.0\.0\.1:\d+: closing, the module left \d+ '
    r'bytes of input unread \(max_input 1024\)|closed (?P<n>\d+) more '
    r'connections? whose module left input unread \(max_input 1024\), '
    r'last from 127\.0\.0\.1:\d+)$')


class TestUnreadLog(evitest.TestCase):

    def unread_closes(self, d):
        lines = [l for l in d.log_lines() if UNREAD_RE.search(l)]
        total = sum(int(UNREAD_RE.search(l).group("n") or 1) for l in lines)
        return lines, total

    def test_a_flood_of_unread_input_closes_gives_few_lines(self):
        d = self.daemon("""
            service hoard {
                listen = 127.0.0.1:0
                module = hoard
                max_input = 1k
            }
            """, module_dir=evitest.TESTMOD_DIR, expect=[UNREAD_RE])
        port = d.port("hoard")
        nflood = 300
        start = time.monotonic()
        for i in range(nflood):
            # About 1.5 s in all, so that the flood spans summaries.
            time.sleep(0.005)
            with evitest.connect(port) as s:
                try:
                    s.sendall(b"u" * 2048)
                    evitest.recv_until_eof(s)
                except (ConnectionResetError, BrokenPipeError):
                    pass
        deadline = time.monotonic() + 5.0
        while self.unread_closes(d)[1] < nflood and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        total_s = time.monotonic() - start
        lines, total = self.unread_closes(d)
        print("%d unread-input closes: %d log lines" % (nflood, len(lines)),
              flush=True)
        self.assertEqual(total, nflood, "\n".join(lines))
        self.assertLessEqual(len(lines), 2 * (int(total_s) + 1) + 2,
                             "\n".join(lines))
        self.assertRegex(lines[0], r"closing, the module left \d+ bytes")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
