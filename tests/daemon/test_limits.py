#!/usr/bin/env python3
"""Protection through the real daemon: access lists over IPv4, IPv6 and
UDP; max_connections per service and in total; per_source; rate and
per_source_rate buckets that heal by themselves; idle and session
timeouts; bounded memory for a client that never reads; 1000 idle
connections that cost a fresh client nothing; a daemon out of
descriptors that pauses instead of spinning and recovers; 2000 clients
resetting mid-exchange; a flood of refusals that does not flood the log;
and config errors with FILE:LINE.

IPv4-mapped peers (::ffff:a.b.c.d) are tested in check_acl.c, not here:
a "*:PORT" listener binds its IPv6 socket IPV6_V6ONLY, so an IPv4 client
over loopback always reaches the IPv4 socket and the daemon never sees a
mapped address.

Clients bind to 127.0.0.2 and 127.0.0.3 to be other sources: on Linux the
whole of 127.0.0.0/8 is loopback.  Only ::1 exists for IPv6.

The daemon serves from a worker process (one, by default); memory, CPU
and SIGSTOP apply to it, found as the supervisor's child.  Closes and
their reasons come from "log_connections = yes" rather than -v -v, which
would bury them among debug lines of both processes.  A test makes sure
the worker has logged everything it will before it stops the daemon, so
no line it waits for is cut off by the stop.
"""

import os
import re
import selectors
import signal
import socket
import stat
import struct
import time
import unittest

import evitest

KiB = 1024
MiB = 1024 * KiB

HAVE6 = evitest.have_ipv6()
LISTEN = "127.0.0.1:0 [::1]:0" if HAVE6 else "127.0.0.1:0"

# Every refusal line, immediate or summary (limits.c, limits_log).
REFUSAL_RE = re.compile(
    r'^service "(?P<svc>[^"]+)": (?P<verb>refused|dropped) (?P<n>\d+) '
    r'(?P<kind>connection|datagram)s? \((?P<reason>[a-z_ ]+)\), '
    r'last from (?P<peer>\S+): (?P<detail>.+)$')
EXPECT_REFUSALS = [REFUSAL_RE]
EXPECT_PAUSE = [r'^service "[^"]+": accept on \S+: .+; pausing this '
                r'listener for \d+ ms \(\d+ pauses? since the last '
                r'report\)$']

# The connection log (stats.c, stats_log_close).
CLOSED_RE = re.compile(
    r'^event=close service=(?P<svc>\S+) proto=tcp peer=(?P<peer>\S+) '
    r'local_port=\d+ duration_ms=(?P<ms>\d+) bytes_in=(?P<bytes_in>\d+) '
    r'bytes_out=(?P<bytes_out>\d+) reason=(?P<reason>\S+)$')


def closed_re(service, reason=r"\S+", peer=r"\S+"):
    return re.compile(r'^event=close service=%s proto=tcp peer=%s .* '
                      r'reason=%s$' % (re.escape(service), peer, reason))


# Helpers.

def port_of(d, service, host="127.0.0.1", proto="tcp"):
    """The port SERVICE listens on at HOST."""
    for h, p, pr in d.addrs(service):
        if h == host and pr == proto:
            return p
    raise evitest.DaemonError("service %r has no %s listener on %s:\n%s" % (
        service, proto, host, d.log_text()))


def connect_from(port, src="127.0.0.1", host="127.0.0.1",
                 timeout=evitest.IO_TIMEOUT):
    """A TCP connection to HOST:PORT from the address SRC."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def peer_string(sock):
    """How the daemon prints this client: "127.0.0.2:PORT", "[::1]:PORT"."""
    host, port = sock.getsockname()[:2]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def served(sock):
    """Sends one byte to an echo connection: True if it comes back; False
    if the daemon refused the client (banner, EOF or reset instead)."""
    try:
        sock.sendall(b"x")
        got = sock.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return got == b"x"


def assert_closed_unserved(test, sock, what):
    """A refused client: what it sent is not echoed, and it is closed."""
    try:
        sock.sendall(b"hello")
        got = evitest.recv_until_eof(sock, timeout=5.0)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    test.assertEqual(got, b"", "%s: got %r" % (what, got))


def refusals(d, service=None, reason=None, since=0):
    """The sum of N over the refusal lines of SERVICE for REASON."""
    total = 0
    for line in d.log_lines(since):
        m = REFUSAL_RE.search(line)
        if m and (service is None or m.group("svc") == service) and \
                (reason is None or m.group("reason") == reason):
            total += int(m.group("n"))
    return total


def wait_refusals(test, d, service, reason, n, since=0, timeout=10.0):
    """Waits (bounded) until the log accounts for N refusals; asserts that
    it accounts for exactly N.  A summary line comes within about 1 s;
    the bound is ten times that for a machine busy with other tests, and
    scaled like every other wait (valgrind)."""
    deadline = time.monotonic() + timeout * evitest.TIMEOUT_SCALE
    while True:
        got = refusals(d, service, reason, since)
        if got >= n or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    test.assertEqual(got, n, "refusals (%s) of %s in the log:\n%s" % (
        reason, service, d.log_text()))


def worker_pid(d, timeout=5.0):
    """The pid of the daemon's one worker: the supervisor's only child."""
    deadline = time.monotonic() + timeout
    while True:
        kids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name) as f:
                    data = f.read()
            except OSError:
                continue
            if int(data[data.rindex(")") + 2:].split()[1]) == d.pid:
                kids.append(int(name))
        if len(kids) == 1:
            return kids[0]
        if time.monotonic() > deadline:
            raise evitest.DaemonError("evinetd %d has workers %r, not one" %
                                      (d.pid, kids))
        time.sleep(0.05)


def cpu_seconds(pid):
    """utime + stime of process PID, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Burst:
    """Connections that reach the daemon as one burst: its worker is
    stopped (SIGSTOP) while they connect, so the kernel queues them all,
    and on SIGCONT one accept batch takes them at one instant.  Without
    this a loaded machine could stretch the burst over a refill period
    and let a sixth client in."""

    def __init__(self, d):
        self.pid = worker_pid(d)

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)


class ClientSet:
    """Sockets closed together at the end of a test."""

    def __init__(self, test):
        self.socks = []
        test.addCleanup(self.close)

    def add(self, s):
        self.socks.append(s)
        return s

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


# Access lists.

ACL_CONF = """
    refuse_banner = busy
    service open {
        listen = %(listen)s
        module = echo
        log_connections = yes
    }
    service only-v4-host {
        listen = %(listen)s
        module = echo
        log_connections = yes
        only_from = 127.0.0.1
    }
    service only-v6-host {
        listen = %(listen)s
        module = echo
        log_connections = yes
        only_from = ::1/128
    }
    service deny-net {
        listen = %(listen)s
        module = echo
        log_connections = yes
        no_access = 127.0.0.0/8
    }
    service net-minus-host {
        listen = %(listen)s
        module = echo
        log_connections = yes
        only_from = 127.0.0.0/8
        no_access = 127.0.0.2 ::1
    }
    service deny-all-but {
        listen = %(listen)s
        module = echo
        log_connections = yes
        no_access = 0.0.0.0/0 ::/0
        only_from = 127.0.0.3 ::1
    }
    service tie {
        listen = %(listen)s
        module = echo
        log_connections = yes
        only_from = 127.0.0.0/8 ::1
        no_access = 127.0.0.0/8 ::1/128
    }
    """

# (service, client source, admitted?); ::1 connects to [::1].
ACL_MATRIX = [
    ("open", "127.0.0.1", True),
    ("open", "127.0.0.2", True),
    ("open", "::1", True),
    ("only-v4-host", "127.0.0.1", True),
    ("only-v4-host", "127.0.0.2", False),
    ("only-v4-host", "::1", False),
    ("only-v6-host", "::1", True),
    ("only-v6-host", "127.0.0.1", False),
    ("deny-net", "127.0.0.1", False),
    ("deny-net", "127.0.0.3", False),
    ("deny-net", "::1", True),
    ("net-minus-host", "127.0.0.1", True),
    ("net-minus-host", "127.0.0.3", True),
    ("net-minus-host", "127.0.0.2", False),
    ("net-minus-host", "::1", False),
    ("deny-all-but", "127.0.0.3", True),
    ("deny-all-but", "::1", True),
    ("deny-all-but", "127.0.0.1", False),
    ("deny-all-but", "127.0.0.2", False),
    ("tie", "127.0.0.1", False),
    ("tie", "::1", False),
]


class TestACL(evitest.TestCase):

    def test_tcp_matrix_over_ipv4_and_ipv6(self):
        # The connection log names every connection the module saw.
        d = self.daemon(ACL_CONF % {"listen": LISTEN},
                        expect=EXPECT_REFUSALS)
        refused = {}
        refused_peers = []
        admitted = 0
        for service, src, admit in ACL_MATRIX:
            if ":" in src and not HAVE6:
                continue
            host = "::1" if ":" in src else "127.0.0.1"
            what = "%s from %s" % (service, src)
            with connect_from(port_of(d, service, host), src, host) as s:
                if admit:
                    self.assertEqual(evitest.transfer(s, b"hello " + what.
                                                      encode()),
                                     b"hello " + what.encode(), what)
                    admitted += 1
                    continue
                refused_peers.append(peer_string(s))
                # Closed before the module saw it, and no banner: the
                # banner is for busy services, not for access lists.
                assert_closed_unserved(self, s, what)
                refused[service] = refused.get(service, 0) + 1
        for service, n in refused.items():
            wait_refusals(self, d, service, "acl", n)
        self.assertEqual(refusals(d, reason="acl"), sum(refused.values()))
        self.assertEqual(refusals(d, reason="max_connections"), 0)
        line = d.wait_log(r'service "only-v4-host": refused 1 connection '
                          r'\(acl\), last from 127\.0\.0\.2:\d+: not '
                          r'allowed by only_from / no_access$')
        self.assertTrue(line)
        d.wait_log(CLOSED_RE, count=admitted)
        seen = [m.group("peer") for m in map(CLOSED_RE.search, d.lines)
                if m]
        self.assertEqual(len(seen), admitted)
        for peer in refused_peers:
            self.assertNotIn(peer, seen, "the module saw refused client "
                             "%s" % peer)
        self.assertEqual(d.stop(), 0)

    def test_udp_datagram_from_a_refused_source_gets_no_reply(self):
        d = self.daemon("""
            service udp-acl {
                listen = %s
                protocol = udp
                module = echo
                only_from = 127.0.0.1 127.0.0.3
                no_access = ::1
            }
            """ % LISTEN, expect=EXPECT_REFUSALS)
        port4 = port_of(d, "udp-acl", proto="udp")
        socks = ClientSet(self)
        cases = [("127.0.0.2", "127.0.0.1", port4, False),
                 ("127.0.0.1", "127.0.0.1", port4, True),
                 ("127.0.0.3", "127.0.0.1", port4, True)]
        if HAVE6:
            cases.append(("::1", "::1", port_of(d, "udp-acl", "::1",
                                                 "udp"), False))
        refused = []
        for src, host, port, admit in cases:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socks.add(socket.socket(family, socket.SOCK_DGRAM))
            s.settimeout(evitest.IO_TIMEOUT)
            s.bind((src, 0))
            s.connect((host, port))
            s.send(b"from " + src.encode())
            if admit:
                self.assertEqual(s.recv(512), b"from " + src.encode())
            else:
                refused.append(s)
        # Once the log has counted every dropped datagram, the daemon has
        # handled them: a reply would already be queued.
        wait_refusals(self, d, "udp-acl", "acl", len(refused))
        d.wait_log(r'^service "udp-acl": dropped 1 datagram \(acl\), last '
                   r'from 127\.0\.0\.2:\d+: not allowed by only_from / '
                   r'no_access$')
        for s in refused:
            s.setblocking(False)
            with self.assertRaises(BlockingIOError, msg="reply to a "
                                   "refused datagram"):
                s.recv(512)
        self.assertEqual(d.stop(), 0)


# Connection limits.

def serve_soon(test, make, timeout=3.0):
    """Opens connections with MAKE() until one is served, every 20 ms for
    at most TIMEOUT (a close in the daemon is asynchronous to ours).
    Returns (the served socket, how many were refused on the way, seconds
    it took)."""
    start = time.monotonic()
    tries = 0
    while True:
        s = make()
        if served(s):
            return s, tries, time.monotonic() - start
        s.close()
        tries += 1
        test.assertLess(time.monotonic() - start, timeout,
                        "not served within %.1f s" % timeout)
        time.sleep(0.02)


class TestMaxConnections(evitest.TestCase):

    def test_service_limit_is_exact_and_released_when_a_client_leaves(self):
        d = self.daemon("""
            service echo {
                listen = 127.0.0.1:0
                module = echo
                max_connections = 3
                refuse_banner = busy
            }
            """, expect=EXPECT_REFUSALS)
        port = d.port("echo")
        held = ClientSet(self)
        for i in range(3):
            self.assertTrue(served(held.add(evitest.connect(port))),
                            "client %d of 3 not served" % (i + 1))
        with evitest.connect(port) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        d.wait_log(r'^service "echo": refused 1 connection '
                   r'\(max_connections\), last from 127\.0\.0\.1:\d+: '
                   r'service max_connections reached$')
        # The held clients were not disturbed.
        for s in held.socks:
            self.assertTrue(served(s))
        # One leaves, and its slot serves the next client.
        held.socks.pop(0).close()
        s, tries, took = serve_soon(self, lambda: evitest.connect(port))
        held.add(s)
        # And full again.
        with evitest.connect(port) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        wait_refusals(self, d, "echo", "max_connections", 2 + tries)
        held.close()
        self.assertEqual(d.stop(), 0)

    def test_global_limit_counts_all_services_together(self):
        d = self.daemon("""
            max_connections = 3
            refuse_banner = busy
            service a {
                listen = 127.0.0.1:0
                module = echo
            }
            service b {
                listen = 127.0.0.1:0
                module = echo
            }
            """, expect=EXPECT_REFUSALS)
        pa, pb = d.port("a"), d.port("b")
        held = ClientSet(self)
        a1 = held.add(evitest.connect(pa))
        self.assertTrue(served(a1))
        self.assertTrue(served(held.add(evitest.connect(pa))))
        self.assertTrue(served(held.add(evitest.connect(pb))))
        for port in (pa, pb):
            with evitest.connect(port) as s:
                self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        d.wait_log(r'^service "b": refused 1 connection \(max_connections\)'
                   r', last from 127\.0\.0\.1:\d+: global max_connections '
                   r'reached$')
        # The slot a client of a frees serves b.
        held.socks.remove(a1)
        a1.close()
        s, tries, took = serve_soon(self, lambda: evitest.connect(pb))
        held.add(s)
        with evitest.connect(pa) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        wait_refusals(self, d, "a", "max_connections", 2)
        wait_refusals(self, d, "b", "max_connections", 1 + tries)
        held.close()
        self.assertEqual(d.stop(), 0)

    def test_limits_count_connections_of_every_worker_process(self):
        # Two worker processes share the listeners; the counts they check
        # are summed over both (stats.c, in shared memory).
        d = self.daemon("""
            workers = 2
            max_connections = 4
            refuse_banner = busy
            service a {
                listen = 127.0.0.1:0
                module = echo
                max_connections = 3
            }
            service b {
                listen = 127.0.0.1:0
                module = echo
            }
            """, expect=EXPECT_REFUSALS)
        d.wait_log(r"^ready: 2 services in 2 workers$")
        pa, pb = d.port("a"), d.port("b")
        held = ClientSet(self)
        for i in range(3):
            self.assertTrue(served(held.add(evitest.connect(pa))))
        with evitest.connect(pa) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        self.assertTrue(served(held.add(evitest.connect(pb))))
        for port in (pa, pb):
            with evitest.connect(port) as s:
                self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        wait_refusals(self, d, "a", "max_connections", 2)
        wait_refusals(self, d, "b", "max_connections", 1)
        held.close()
        self.assertEqual(d.stop(), 0)


class TestPerSource(evitest.TestCase):

    def test_per_source_is_exact_per_address_and_released(self):
        d = self.daemon("""
            per_source = 1
            refuse_banner = busy
            service two {
                listen = %s
                module = echo
                per_source = 2
            }
            service one {
                listen = 127.0.0.1:0
                module = echo
            }
            """ % LISTEN, expect=EXPECT_REFUSALS)
        port = port_of(d, "two")
        held = ClientSet(self)
        by_src = {}
        for src in ("127.0.0.2", "127.0.0.3"):
            for i in range(2):
                s = held.add(connect_from(port, src))
                self.assertTrue(served(s), "%s client %d" % (src, i + 1))
                by_src.setdefault(src, []).append(s)
            # The third from the same address is refused ...
            with connect_from(port, src) as s:
                self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        # ... while another address still gets its own.
        self.assertTrue(served(held.add(connect_from(port, "127.0.0.1"))))
        d.wait_log(r'^service "two": refused 1 connection \(per_source\), '
                   r'last from 127\.0\.0\.2:\d+: per_source connections '
                   r'reached$')
        refused = 2
        if HAVE6:
            port6 = port_of(d, "two", "::1")
            for i in range(2):
                self.assertTrue(served(held.add(connect_from(
                    port6, "::1", "::1"))))
            with connect_from(port6, "::1", "::1") as s:
                self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
            refused += 1
        # Release: one of 127.0.0.2's leaves, and 127.0.0.2 is served.
        gone = by_src["127.0.0.2"].pop()
        held.socks.remove(gone)
        gone.close()
        s, tries, took = serve_soon(self, lambda: connect_from(
            port, "127.0.0.2"))
        held.add(s)
        with connect_from(port, "127.0.0.2") as s:
            self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        refused += 1 + tries
        # The global default (per_source = 1) holds where not overridden.
        port1 = d.port("one")
        self.assertTrue(served(held.add(connect_from(port1, "127.0.0.2"))))
        with connect_from(port1, "127.0.0.2") as s:
            self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        self.assertTrue(served(held.add(connect_from(port1, "127.0.0.3"))))
        wait_refusals(self, d, "two", "per_source", refused)
        wait_refusals(self, d, "one", "per_source", 1)
        held.close()
        self.assertEqual(d.stop(), 0)


# Rates.

class TestRate(evitest.TestCase):

    def test_a_burst_of_10_gets_exactly_5_then_the_rate_heals(self):
        d = self.daemon("""
            service echo {
                listen = 127.0.0.1:0
                module = echo
                rate = 5 5
                refuse_banner = busy
            }
            """, expect=EXPECT_REFUSALS)
        port = d.port("echo")
        clients = ClientSet(self)
        with Burst(d):
            for i in range(10):
                clients.add(evitest.connect(port))
        outcome = [served(s) for s in clients.socks]
        self.assertEqual(outcome, [True] * 5 + [False] * 5)
        clients.close()
        s, tries, took = serve_soon(self, lambda: evitest.connect(port))
        s.close()
        print("rate 5/s, burst 5: served again %.0f ms after the burst "
              "(%d refused on the way)" % (took * 1000, tries), flush=True)
        d.wait_log(r'^service "echo": refused 1 connection \(rate\), last '
                   r'from 127\.0\.0\.1:\d+: rate exceeded$')
        wait_refusals(self, d, "echo", "rate", 5 + tries)
        self.assertEqual(d.stop(), 0)

    def test_per_source_rate_is_kept_per_address(self):
        d = self.daemon("""
            service echo {
                listen = 127.0.0.1:0
                module = echo
                per_source_rate = 5 5
                refuse_banner = busy
            }
            """, expect=EXPECT_REFUSALS)
        port = d.port("echo")
        two, three = ClientSet(self), ClientSet(self)
        with Burst(d):
            for i in range(8):
                two.add(connect_from(port, "127.0.0.2"))
            for i in range(3):
                three.add(connect_from(port, "127.0.0.3"))
        self.assertEqual([served(s) for s in two.socks],
                         [True] * 5 + [False] * 3)
        self.assertEqual([served(s) for s in three.socks], [True] * 3)
        # 127.0.0.3 has two tokens left; 127.0.0.2 none.
        with connect_from(port, "127.0.0.3") as s:
            self.assertTrue(served(s))
        two.close()
        three.close()
        s, tries, took = serve_soon(self, lambda: connect_from(
            port, "127.0.0.2"))
        s.close()
        print("per_source_rate 5/s, burst 5: 127.0.0.2 served again %.0f ms "
              "after its burst" % (took * 1000), flush=True)
        d.wait_log(r'^service "echo": refused 1 connection \(rate\), last '
                   r'from 127\.0\.0\.2:\d+: per_source_rate exceeded$')
        wait_refusals(self, d, "echo", "rate", 3 + tries)
        self.assertEqual(d.stop(), 0)

    def test_rate_applies_to_udp_datagrams(self):
        d = self.daemon("""
            service echo-udp {
                listen = 127.0.0.1:0
                protocol = udp
                module = echo
                rate = 5/m 5
            }
            """, expect=EXPECT_REFUSALS)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("127.0.0.1", d.port("echo-udp")))
            for i in range(10):
                s.send(b"%d" % i)
            wait_refusals(self, d, "echo-udp", "rate", 5)
            s.setblocking(False)
            got = []
            while True:
                try:
                    got.append(s.recv(64))
                except BlockingIOError:
                    break
        self.assertEqual(got, [b"0", b"1", b"2", b"3", b"4"])
        d.wait_log(r'^service "echo-udp": dropped 1 datagram \(rate\)')
        self.assertEqual(d.stop(), 0)


# Timeouts.

class TestTimeouts(evitest.TestCase):

    def setUp(self):
        self.d = self.daemon("""
            service idle {
                listen = 127.0.0.1:0
                module = echo
                idle_timeout = 300ms
                log_connections = yes
            }
            service session {
                listen = 127.0.0.1:0
                module = echo
                session_timeout = 500ms
                log_connections = yes
            }
            """)

    def test_idle_timeout_closes_an_idle_connection(self):
        mark = self.d.mark()
        with evitest.connect(self.d.port("idle")) as s:
            self.assertTrue(served(s))
            start = time.monotonic()
            self.assertEqual(evitest.recv_until_eof(s, timeout=3.0), b"")
            took = time.monotonic() - start
        print("idle_timeout 300ms: closed after %.0f ms idle" %
              (took * 1000), flush=True)
        self.assertGreater(took, 0.25)
        m = self.d.wait_log(closed_re("idle", "timeout"), since=mark)
        m = CLOSED_RE.search(m.group(0))
        self.assertEqual((m.group("bytes_in"), m.group("bytes_out")),
                         ("1", "1"))
        self.assertEqual(self.d.stop(), 0)

    def test_a_connection_sending_every_100ms_outlives_the_idle_timeout(self):
        with evitest.connect(self.d.port("idle")) as s:
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < 1.2:
                self.assertTrue(served(s), "closed after %.0f ms of "
                                "activity" % ((time.monotonic() - start) *
                                              1000))
                n += 1
                time.sleep(0.1)
            self.assertTrue(served(s))
        self.assertGreater(n, 5)
        self.d.wait_log(closed_re("idle", "eof"))
        self.assertEqual(self.d.stop(), 0)

    def test_session_timeout_closes_even_a_busy_connection(self):
        mark = self.d.mark()
        with evitest.connect(self.d.port("session")) as s:
            start = time.monotonic()
            while served(s):
                self.assertLess(time.monotonic() - start, 3.0,
                                "busy connection outlived session_timeout")
                time.sleep(0.1)
            took = time.monotonic() - start
        print("session_timeout 500ms: busy connection closed after %.0f ms"
              % (took * 1000), flush=True)
        self.assertGreater(took, 0.45)
        m = self.d.wait_log(closed_re("session", "timeout"), since=mark)
        self.assertGreaterEqual(int(CLOSED_RE.search(m.group(0)).group(
            "ms")), 500)
        self.assertEqual(self.d.stop(), 0)


# Resources.

ECHO_CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    """

ECHO_CONF_LOGGED = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
        log_connections = yes
    }
    """


@unittest.skipIf(evitest.under_valgrind(), "measures RSS, CPU and latency; "
                 "valgrind changes all three")
class TestResources(evitest.TestCase):

    def test_a_256_mib_writer_that_never_reads_keeps_rss_bounded(self):
        d = self.daemon(ECHO_CONF, env=evitest.MEMORY_ENV)
        wpid = worker_pid(d)
        with evitest.connect(d.port("echo")) as s:
            self.assertTrue(served(s))
            base = evitest.rss_kb(wpid)
            block = memoryview(os.urandom(256 * KiB))
            limit = 256 * MiB
            sent = 0
            s.settimeout(1.0)
            deadline = time.monotonic() + 30
            blocked = False
            while sent < limit and time.monotonic() < deadline:
                try:
                    sent += s.send(block)
                except socket.timeout:
                    blocked = True      # no room for a whole second
                    break
            growth = evitest.rss_kb(wpid) - base
            print("256 MiB writer: blocked after %d KiB; RSS %d KiB before, "
                  "growth %d KiB" % (sent // KiB, base, growth), flush=True)
            self.assertTrue(blocked, "sent %d bytes without blocking" % sent)
            self.assertLess(sent, 64 * MiB)
            self.assertLess(growth, 4 * 1024)
        self.assertEqual(d.stop(), 0)

    def test_1000_idle_connections_do_not_slow_a_fresh_client(self):
        nidle = 1000
        if evitest.raise_nofile(nidle + 200) < nidle + 200:
            self.skipTest("RLIMIT_NOFILE too low for %d clients" % nidle)
        d = self.daemon(ECHO_CONF)
        port = d.port("echo")

        def rtt():
            start = time.monotonic()
            with evitest.connect(port) as s:
                s.sendall(b"ping")
                self.assertEqual(evitest.recv_exact(s, 4), b"ping")
            return time.monotonic() - start

        def median_rtt():
            return sorted(rtt() for i in range(7))[3]

        before = median_rtt()
        idle = ClientSet(self)
        for i in range(nidle):
            idle.add(evitest.connect(port))
        # Every one is served by the module (then left idle).
        for s in idle.socks:
            s.sendall(b"i")
        for s in idle.socks:
            self.assertEqual(evitest.recv_exact(s, 1), b"i")
        loaded = median_rtt()
        print("fresh client round trip: %.2f ms alone, %.2f ms with %d idle "
              "connections" % (before * 1000, loaded * 1000, nidle),
              flush=True)
        self.assertLess(loaded, 0.050)
        # All still open: none readable (no EOF, no reset).
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        for s in idle.socks:
            sel.register(s, selectors.EVENT_READ)
        self.assertEqual(sel.select(0), [])
        idle.close()
        self.assertEqual(d.stop(), 0)

    def test_out_of_descriptors_pauses_without_spinning_and_recovers(self):
        tmp = self.tempdir()
        wrapper = tmp.write("evinetd-nofile-64", "#!/bin/sh\n"
                            "exec prlimit --nofile=64:64 %s \"$@\"\n" %
                            evitest.EVINETD)
        os.chmod(wrapper, stat.S_IRWXU)
        if not any(os.access(os.path.join(p, "prlimit"), os.X_OK)
                   for p in os.environ.get("PATH", "").split(":")):
            self.skipTest("no prlimit(1)")
        # The harness starts evitest.EVINETD; point it at the wrapper for
        # this one daemon.  prlimit execs, so d.pid is the daemon's.
        saved = evitest.EVINETD
        evitest.EVINETD = wrapper
        try:
            d = self.daemon(ECHO_CONF, expect=EXPECT_PAUSE)
        finally:
            evitest.EVINETD = saved
        with open("/proc/%d/limits" % d.pid) as f:
            self.assertRegex(f.read(), r"Max open files\s+64\s+64")
        port = d.port("echo")
        clients = ClientSet(self)
        mark = d.mark()
        # More than the daemon can hold; the kernel queues the rest.
        for i in range(80):
            clients.add(evitest.connect(port))
        d.wait_log(r'pausing this listener', since=mark)
        # Saturated, with clients waiting in the backlog: the listener
        # stays readable, and a spinning daemon would burn a CPU.
        # The worker accepts; the supervisor is counted too.
        pids = (d.pid, worker_pid(d))
        mark = d.mark()
        cpu0, t0 = sum(map(cpu_seconds, pids)), time.monotonic()
        with evitest.connect(port):
            time.sleep(1.0)             # the measuring window
            cpu = sum(map(cpu_seconds, pids)) - cpu0
            wall = time.monotonic() - t0
        lines = len([l for l in d.log_lines(mark)
                     if "pausing this listener" in l])
        print("out of descriptors: %.3f s CPU over %.2f s saturated, %d "
              "log line(s) about it" % (cpu, wall, lines), flush=True)
        self.assertLess(cpu, 0.3)
        # It retries every 100 ms (it serves again at once below), but
        # says so at most once every 10 s: the line seen above was the
        # only one, however many times it paused in this window.
        self.assertEqual(lines, 0)
        # The state dump tells this pause from a drain.
        mark = d.mark()
        d.send_signal(signal.SIGUSR1)
        d.wait_log(r'^state: service "echo": listener 127\.0\.0\.1:%d '
                   r'\(tcp\), paused \(out of descriptors, retrying\)$' %
                   port, since=mark)
        clients.close()
        start = time.monotonic()
        with evitest.connect(port) as s:
            s.sendall(b"back")
            self.assertEqual(evitest.recv_exact(s, 4, timeout=1.0), b"back")
        print("out of descriptors: fresh client served %.0f ms after the "
              "others left" % ((time.monotonic() - start) * 1000),
              flush=True)
        self.assertEqual(d.stop(), 0)

    def test_2000_clients_resetting_mid_exchange_leave_it_healthy(self):
        d = self.daemon(ECHO_CONF_LOGGED, env=evitest.MEMORY_ENV)
        wpid = worker_pid(d)
        port = d.port("echo")
        mark = d.mark()
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"warm"), b"warm")
        d.wait_log(closed_re("echo", "eof"), since=mark)
        base = evitest.rss_kb(wpid)
        payload = os.urandom(4 * KiB)
        nbatch, batch = 20, 100
        reasons = {}
        for b in range(nbatch):
            mark = d.mark()
            socks = ClientSet(self)
            for i in range(batch):
                socks.add(evitest.connect(port))
            for s in socks.socks:
                s.sendall(payload)
            for s in socks.socks:
                # The echo is under way: reset in the middle of it.
                self.assertTrue(s.recv(1))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            socks.close()
            d.wait_log(CLOSED_RE, since=mark, count=batch)
            for line in d.log_lines(mark):
                m = CLOSED_RE.search(line)
                if m:
                    r = m.group("reason")
                    reasons[r] = reasons.get(r, 0) + 1
        self.assertEqual(reasons, {"reset": nbatch * batch})
        mark = d.mark()
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"still here"),
                             b"still here")
        d.wait_log(closed_re("echo", "eof"), since=mark)
        growth = evitest.rss_kb(wpid) - base
        print("%d resets: RSS %d KiB before, growth %d KiB" % (
            nbatch * batch, base, growth), flush=True)
        self.assertLess(growth, 4 * 1024)
        self.assertEqual(d.stop(), 0)


# The log under a flood of refusals.

class TestRefusalLog(evitest.TestCase):

    def test_a_flood_of_refusals_gives_few_lines_that_add_up(self):
        d = self.daemon("""
            service flood {
                listen = 127.0.0.1:0
                module = echo
                max_connections = 1
            }
            """, expect=EXPECT_REFUSALS)
        port = d.port("flood")
        nflood = 500
        with evitest.connect(port) as holder:
            self.assertTrue(served(holder))
            start = time.monotonic()
            for i in range(nflood):
                # Spread over about 2 s, so that the flood spans several
                # seconds of summaries.
                time.sleep(0.004)
                with evitest.connect(port) as s:
                    try:
                        got = evitest.recv_until_eof(s)
                    except ConnectionResetError:
                        got = b""
                    self.assertEqual(got, b"")
            flood = time.monotonic() - start
            wait_refusals(self, d, "flood", "max_connections", nflood)
            total = time.monotonic() - start
        lines = [l for l in d.log_lines() if REFUSAL_RE.search(l)]
        print("%d refusals in %.2f s: %d log lines (%.1f s until all were "
              "logged)" % (nflood, flood, len(lines), total), flush=True)
        bound = 2 * (int(total) + 1) + 2
        self.assertLessEqual(len(lines), bound, "\n".join(lines))
        self.assertRegex(lines[0], r'^service "flood": refused 1 connection '
                         r'\(max_connections\), last from 127\.0\.0\.1:\d+: '
                         r'service max_connections reached$')
        self.assertEqual(d.stop(), 0)


# Config errors.

class TestConfigErrors(evitest.TestCase):

    def test_bad_values_are_reported_with_file_and_line(self):
        tmp = self.tempdir()
        path = tmp.join("limits.conf")
        rc, out, err = evitest.run_check("""
            rate = abc
            per_source_ipv6_prefix = 0
            service echo {
                listen = 127.0.0.1:0
                module = echo
                only_from = 10.0.0.0/33
                no_access = 127.0.0.1 example.org
                per_source_ipv6_prefix = 129
                per_source_rate = 5/d
                rate = 10/s 0
                max_connections = -1
                idle_timeout = soon
                refuse_banner = "two\\nlines"
            }
            """, path=path)
        self.assertEqual(rc, 1, err)
        expected = [
            r'^%s:1: rate: invalid rate "abc"',
            r'^%s:2: per_source_ipv6_prefix: .*"0".*\(1 to 128\)',
            r'^%s:6: service "echo": only_from: invalid prefix length in '
            r'"10\.0\.0\.0/33" \(0 to 32\)$',
            r'^%s:7: service "echo": no_access: invalid address '
            r'"example\.org" \(expected an IPv4 or IPv6 address, optionally '
            r'with /PREFIX\)$',
            r'^%s:8: service "echo": per_source_ipv6_prefix: .*"129".*'
            r'\(1 to 128\)',
            r'^%s:9: service "echo": per_source_rate: invalid rate "5/d"',
            r'^%s:10: service "echo": rate: .*"0"',
            r'^%s:11: service "echo": max_connections: .*"-1"',
            r'^%s:12: service "echo": idle_timeout: .*"soon"',
            r'^%s:13: service "echo": refuse_banner must be one line',
        ]
        lines = err.splitlines()
        for rx in expected:
            rx = rx % re.escape(path)
            self.assertTrue(any(re.search(rx, l) for l in lines),
                            "no line matching %r in:\n%s" % (rx, err))
        self.assertRegex(err, r"%s: 10 errors, not starting" %
                         re.escape(path))


if __name__ == "__main__":
    evitest.main()
