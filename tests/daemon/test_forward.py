#!/usr/bin/env python3
"""The forward module through the real daemon (issue 13, point 4): bytes
relayed byte-exact both ways with splice(2) and without, each half-close
carried across, memory bounded against a client or a backend that never
reads, failover on refusal and on a connect timeout, the three balance
policies, 1000 relays at once, relays that outlive a reload, the PROXY
protocol as HAProxy (a parser that is not ours) reads it, config errors,
and the outbound counters of /metrics.

Backends are either the daemon's own echo service, in the same config as
the forward service, or small servers written here with sockets and
threads.  The echo service's port is not known before the daemon starts,
so a test that forwards to it starts the daemon with echo alone on port
0, then writes the forward service with echo's port into the config and
reloads (ForwardCase.echo_daemon): no port is guessed.

Every wait has a deadline (scaled by EVINETD_TIMEOUT_SCALE), and learns
what it waits for from a connection, the daemon's log or /proc.
"""

import os
import queue
import re
import select
import shutil
import socket
import struct
import string
import subprocess
import threading
import time
import unittest

import evitest
from test_echo import Stream
from test_limits import connect_from, worker_pid
from test_stats import scrape
from test_supervisor import reload, settle, write_conf

KiB = 1024
MiB = 1024 * KiB
IO = evitest.IO_TIMEOUT
SCALE = evitest.TIMEOUT_SCALE
VALGRIND = evitest.under_valgrind()

# The connection log of the forward service (stats.c, stats_log_close).
CLOSED_RE = re.compile(
    r'^event=close service=(?P<svc>\S+) proto=tcp peer=(?P<peer>\S+) '
    r'local_port=\d+ duration_ms=\d+ bytes_in=(?P<bytes_in>\d+) '
    r'bytes_out=(?P<bytes_out>\d+) reason=(?P<reason>\S+)$')

# The one warning for a client no backend would take.
NO_BACKEND_RE = r'^service "[^"]+": warning: \S+: no backend: .+$'

ECHO_SERVICE = """
    drain_timeout = 30s
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
    }
    """

STATS_SERVICE = """
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    """


def closed_line(d, svc, peer, since=0, timeout=IO):
    """Waits for SVC's close line for the client PEER ("127.0.0.1:PORT");
    returns its match (bytes_in, bytes_out, reason)."""
    rx = re.compile(r'^event=close service=%s proto=tcp peer=%s ' % (
        re.escape(svc), re.escape(peer)))
    line = d.wait_log(rx, since=since, timeout=timeout).string
    m = CLOSED_RE.search(line)
    if m is None:
        raise AssertionError("malformed close line: %r" % line)
    return m


def peer_of(sock):
    """How the daemon prints this client: "127.0.0.2:PORT", "[::1]:PORT"."""
    host, port = sock.getsockname()[:2]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def count_pipes(pid):
    """How many pipe ends process PID holds."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except FileNotFoundError:
            pass
    return n


def deadline_after(seconds):
    return time.monotonic() + seconds * SCALE


class Backend:
    """A TCP server on 127.0.0.1:0 written here: it runs HANDLER(backend,
    sock) in a thread of its own for every connection it accepts, and
    records what the handlers raise.  Handlers that hold a connection
    wait on backend.stopping.  Closed (and joined) when the test ends."""

    def __init__(self, test, handler, name=b"", host="127.0.0.1"):
        self.test = test
        self.handler = handler
        self.name = name
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        self.threads = []
        self.errors = []
        self.results = queue.Queue()
        self.accepted = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.addr = "%s:%d" % (host, self.port)
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()
        test.addCleanup(self.close)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(IO * SCALE)
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            with self.lock:
                self.accepted += 1
                self.socks.append(s)
                self.threads.append(t)
            t.start()

    def _serve(self, s):
        try:
            self.handler(self, s)
        except Exception as e:              # asserted by close()
            if not self.stopping.is_set():
                with self.lock:
                    self.errors.append(e)
        finally:
            s.close()

    def result(self, timeout=IO):
        """The next value a handler put in self.results."""
        try:
            return self.results.get(timeout=timeout * SCALE)
        except queue.Empty:
            raise AssertionError("backend %s: no result within %.0f s" % (
                self.addr, timeout * SCALE))

    def close(self):
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.acceptor.join(5 * SCALE)
        self.listener.close()
        with self.lock:
            socks, threads = list(self.socks), list(self.threads)
        for s in socks:
            s.close()
        for t in threads:
            t.join(5 * SCALE)
        self.test.assertEqual(self.errors, [], "backend %s" % self.addr)


# Backend handlers.

def bye_then_read_to_eof(b, s):
    """Says "bye" and shuts its side, then reads the client's bytes up to
    its EOF, handed to the test through b.results."""
    s.sendall(b"bye")
    s.shutdown(socket.SHUT_WR)
    b.results.put(evitest.recv_until_eof(s))


def echo_handler(b, s):
    """Echoes until EOF, then closes."""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)


def announce_handler(b, s):
    """Says its name, shuts its side down, and waits for the client's EOF:
    one backend tells the client which it is."""
    s.sendall(b.name)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass


def hold_handler(b, s):
    """Accepts and never reads, until the test ends."""
    b.results.put(True)
    b.stopping.wait(60 * SCALE)


def refused_port(test):
    """A loopback port that refuses connections: bound but not listening,
    so it stays ours (no other program can take it) until the test
    ends."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    test.addCleanup(s.close)
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def blackhole_port(test):
    """A loopback listener that answers no SYN: listen(0) and an accept
    queue filled with connections it never accepts, so the kernel drops
    every new SYN and a connect to it neither completes nor fails.
    Returns its port, once a probe connect has not completed for 0.5 s."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    test.addCleanup(lsock.close)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    for _ in range(64):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        test.addCleanup(c.close)
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        _, writable, _ = select.select([], [c], [], 0.5)
        if not writable:
            return port
        test.assertEqual(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR),
                         0, "a filler connect failed")
    test.fail("the accept queue of a listen(0) socket never filled")


def fwd_conf(to, extra="", port=0, host="127.0.0.1"):
    """A forward service "fwd" on HOST:PORT to TO (a list of
    "ADDR:PORT"), with the connection log on and EXTRA keys."""
    return """
    service fwd {
        listen = %s:%s
        module = forward
        to = %s
        log_connections = yes
    %s
    }
    """ % ("[%s]" % host if ":" in host else host, port, " ".join(to),
           extra)


class ForwardCase(evitest.TestCase):

    def fwd_daemon(self, to, extra="", **kw):
        """A daemon with the forward service to python backends TO."""
        return self.daemon(fwd_conf(to, extra), **kw)

    def echo_daemon(self, extra="", to=("127.0.0.1:$echo",), before=None,
                    host="127.0.0.1", **kw):
        """A daemon with an echo service and a forward service "fwd" in
        the same config, on HOST, to echo by default (TO and EXTRA are
        string.Templates that may use $echo).  Starts with echo alone on
        port 0, then writes its port into the config and reloads;
        BEFORE(echo_port), if given, runs before the reload and returns
        more substitutions for TO.  Returns the daemon once the first
        generation is gone."""
        d = self.daemon(string.Template(ECHO_SERVICE).substitute(echo=0),
                        **kw)
        subs = {"echo": d.port("echo")}
        if before is not None:
            subs.update(before(subs["echo"]))
        d.fwd_conf = (subs, list(to), extra, host)
        self.write_fwd(d)
        reload(d)
        settle(d, 1)
        return d

    def write_fwd(self, d, fwd_port=0):
        """Writes echo_daemon's config again, with fwd on FWD_PORT."""
        subs, to, extra, host = d.fwd_conf
        write_conf(d, ECHO_SERVICE + fwd_conf(to, extra, fwd_port, host),
                   **subs)

    def through(self, d, data=b"ping", src=None):
        """One round trip through fwd to an echo backend, returned once
        the daemon logged the close; returns the close line's match."""
        mark = d.mark()
        if src is None:
            s = evitest.connect(d.port("fwd"))
        else:
            s = connect_from(d.port("fwd"), src=src)
        with s:
            got = evitest.transfer(s, data, shut_wr=True)
            peer = peer_of(s)
        self.assertEqual(got, data)
        return closed_line(d, "fwd", peer, since=mark)


# 1: volume, byte-exact, with and without splice.

class TestVolume(ForwardCase):

    TOTAL = 16 * MiB if VALGRIND else 256 * MiB

    def relay_volume(self, splice):
        """Sends TOTAL bytes of a pseudo-random stream from one thread and
        reads the echo back in this one, comparing every byte."""
        d = self.echo_daemon("relay_splice = %s" % splice)
        # A small exchange is copied: it leaves the worker no pipe.
        wpid = worker_pid(d)
        pipes = count_pipes(wpid)
        self.through(d, b"small")
        self.assertEqual(count_pipes(wpid), pipes)
        total = self.TOTAL
        stream = Stream()
        s = evitest.connect(d.port("fwd"), timeout=30)
        self.addCleanup(s.close)
        errors = []

        def send():
            try:
                sent = 0
                while sent < total:
                    n = min(Stream.WINDOW, total - sent)
                    s.sendall(stream.at(sent, n))
                    sent += n
                s.shutdown(socket.SHUT_WR)
            except Exception as e:          # reported by the main thread
                errors.append(e)

        mark = d.mark()
        start = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        buf = bytearray(Stream.WINDOW)
        view = memoryview(buf)
        got = 0
        deadline = deadline_after(120)
        while True:
            self.assertLess(time.monotonic(), deadline,
                            "%d of %d bytes back in time" % (got, total))
            n = s.recv_into(buf)
            if n == 0:
                break
            if view[:n] != stream.at(got, n):
                self.fail("relayed data differs within %d bytes from "
                          "offset %d" % (n, got))
            got += n
            self.assertLessEqual(got, total)
        elapsed = time.monotonic() - start
        sender.join(10 * SCALE)
        self.assertFalse(sender.is_alive(), "the sender did not finish")
        self.assertEqual(errors, [])
        self.assertEqual(got, total)
        peer = peer_of(s)
        s.close()
        m = closed_line(d, "fwd", peer, since=mark)
        self.assertEqual((int(m.group("bytes_in")), int(m.group("bytes_out")),
                          m.group("reason")), (total, total, "eof"))
        # A bulk relay spliced through pipes, which the worker keeps for
        # the next relay; with relay_splice = no, it never had one.
        spliced = count_pipes(wpid) - pipes
        if splice == "yes":
            self.assertGreaterEqual(spliced, 2, "no pipe was used")
        else:
            self.assertEqual(spliced, 0)
        print("relay_splice = %s: %d MiB each way in %.2f s (%.0f MiB/s)" % (
            splice, total // MiB, elapsed, total / MiB / elapsed),
            flush=True)
        self.assertEqual(d.stop(), 0)

    def test_256_mib_both_ways_byte_exact_with_splice(self):
        self.relay_volume("yes")

    def test_256_mib_both_ways_byte_exact_without_splice(self):
        self.relay_volume("no")


# 2: half-close, both ways.

class TestHalfClose(ForwardCase):

    def test_client_eof_reaches_the_backend_which_still_answers(self):
        def handler(b, s):
            b.results.put(evitest.recv_until_eof(s))
            s.sendall(b"reply after your EOF")
            s.close()

        backend = Backend(self, handler)
        d = self.fwd_daemon([backend.addr])
        data = os.urandom(100 * KiB)
        mark = d.mark()
        with evitest.connect(d.port("fwd")) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            self.assertTrue(backend.result() == data,
                            "the backend did not get exactly the bytes "
                            "sent before EOF")
            self.assertEqual(evitest.recv_until_eof(s),
                             b"reply after your EOF")
            peer = peer_of(s)
        m = closed_line(d, "fwd", peer, since=mark)
        self.assertEqual((int(m.group("bytes_in")), int(m.group("bytes_out")),
                          m.group("reason")), (len(data), 20, "eof"))
        self.assertEqual(d.stop(), 0)

    def test_backend_eof_reaches_the_client_which_still_sends(self):
        backend = Backend(self, bye_then_read_to_eof)
        d = self.fwd_daemon([backend.addr])
        mark = d.mark()
        with evitest.connect(d.port("fwd")) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"bye")
            s.sendall(b"still talking")
            s.sendall(b", after your EOF")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(backend.result(),
                             b"still talking, after your EOF")
            self.assertEqual(s.recv(1), b"")
            peer = peer_of(s)
        m = closed_line(d, "fwd", peer, since=mark)
        self.assertEqual((int(m.group("bytes_in")), int(m.group("bytes_out")),
                          m.group("reason")), (29, 3, "eof"))
        self.assertEqual(d.stop(), 0)


# 3: memory stays bounded when one side does not read.

RSS_BOUND_KB = 8 * 1024


@unittest.skipIf(VALGRIND, "valgrind's RSS is not the daemon's")
class TestMemory(ForwardCase):
    """The worker's RSS, over its idle baseline, once a sender is blocked:
    the relay stops reading one side while the other cannot take more, so
    what it holds is bounded by its buffers, not by what the sender
    tried.  The growth is printed for the log."""

    def baseline(self, d, through):
        """The worker's pid and its RSS after one relayed round trip."""
        wpid = worker_pid(d)
        through()
        return wpid, evitest.rss_kb(wpid)

    def test_a_client_that_never_reads_from_an_echo_backend(self):
        d = self.echo_daemon(env=evitest.MEMORY_ENV)
        wpid, base = self.baseline(d, lambda: self.through(d))
        stream = Stream()
        s = evitest.connect(d.port("fwd"))
        self.addCleanup(s.close)
        s.setblocking(False)
        sent = stream.send_until_blocked(self, s, 64 * MiB, 60 * SCALE)
        growth = evitest.rss_kb(wpid) - base
        print("client that never reads, fwd -> echo: blocked after %d KiB; "
              "worker RSS %d KiB before, growth %d KiB" % (
                  sent // KiB, base, growth), flush=True)
        self.assertLess(growth, RSS_BOUND_KB)
        # Nothing was lost: reading now gets back every byte sent.
        stream.read_back(self, s, sent, 60 * SCALE)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_a_backend_that_never_reads(self):
        backend = Backend(self, hold_handler)
        d = self.fwd_daemon([backend.addr], env=evitest.MEMORY_ENV)
        wpid = worker_pid(d)
        s = evitest.connect(d.port("fwd"))
        self.addCleanup(s.close)
        self.assertTrue(backend.result())
        base = evitest.rss_kb(wpid)
        s.setblocking(False)
        sent = Stream().send_until_blocked(self, s, 64 * MiB, 60 * SCALE)
        growth = evitest.rss_kb(wpid) - base
        print("backend that never reads: client blocked after %d KiB; "
              "worker RSS %d KiB before, growth %d KiB" % (
                  sent // KiB, base, growth), flush=True)
        self.assertLess(growth, RSS_BOUND_KB)
        s.close()
        backend.close()
        self.assertEqual(d.stop(), 0)


# 4 and 5: failover, and the warning when every backend fails.

class TestFailover(ForwardCase):

    def assert_closed_unserved(self, d, within):
        """Connects to fwd; asserts it is closed with nothing sent, within
        WITHIN seconds; returns how long that took."""
        start = time.monotonic()
        with evitest.connect(d.port("fwd")) as s:
            try:
                self.assertEqual(s.recv(1), b"")
            except ConnectionResetError:
                pass
        took = time.monotonic() - start
        self.assertLess(took, within * SCALE, "closed after %.1f s" % took)
        return took

    def test_a_refused_backend_fails_over_to_the_next(self):
        dead = refused_port(self)
        live = Backend(self, echo_handler)
        d = self.fwd_daemon(["127.0.0.1:%d" % dead, live.addr],
                            "balance = first")
        for i in range(3):
            m = self.through(d, b"round %d" % i)
            self.assertEqual(m.group("reason"), "eof")
        self.assertEqual(live.accepted, 3)
        self.assertEqual(d.stop(), 0)

    def test_all_refused_closes_the_client_and_names_each_backend(self):
        dead = [refused_port(self), refused_port(self)]
        d = self.fwd_daemon(["127.0.0.1:%d" % p for p in dead],
                            expect=[NO_BACKEND_RE])
        mark = d.mark()
        self.assert_closed_unserved(d, 2.0)
        line = d.wait_log(NO_BACKEND_RE, since=mark).string
        self.assertRegex(line, r'^service "fwd": warning: 127\.0\.0\.1:\d+: no '
                         r'backend: 127\.0\.0\.1:%d \(refused\), '
                         r'127\.0\.0\.1:%d \(refused\)$' % tuple(dead))
        self.assertEqual(d.stop(), 0)

    def test_a_silent_backend_times_out_and_the_client_is_closed(self):
        hole = blackhole_port(self)
        d = self.fwd_daemon(["127.0.0.1:%d" % hole],
                            "connect_timeout = 500ms",
                            expect=[NO_BACKEND_RE])
        mark = d.mark()
        took = self.assert_closed_unserved(d, 5.0)
        self.assertGreaterEqual(took, 0.45, "closed before the timeout")
        line = d.wait_log(NO_BACKEND_RE, since=mark).string
        self.assertRegex(line, r'^service "fwd": warning: 127\.0\.0\.1:\d+: no '
                         r'backend: 127\.0\.0\.1:%d \(connect_timeout\)$' %
                         hole)
        print("connect_timeout = 500ms: client closed after %.0f ms" % (
            took * 1000), flush=True)
        self.assertEqual(d.stop(), 0)

    def test_a_client_that_resets_while_waiting_is_closed_at_once(self):
        # The client is not read while its backend connects, yet its reset
        # must end it (and the attempt) then, not at connect_timeout.
        # With bytes sent first (the watch sees the reset) and without
        # (the read event, armed as a tripwire, does).
        hole = blackhole_port(self)
        d = self.fwd_daemon(["127.0.0.1:%d" % hole],
                            "connect_timeout = 60s")
        for data in (b"abc", b""):
            mark = d.mark()
            start = time.monotonic()
            s = evitest.connect(d.port("fwd"))
            peer = peer_of(s)
            s.sendall(data)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
            m = closed_line(d, "fwd", peer, since=mark, timeout=10 * SCALE)
            self.assertEqual(m.group("reason"), "reset")
            self.assertLess(time.monotonic() - start, 10 * SCALE)
            d.wait_log(r'^event=outbound service=fwd proto=tcp peer='
                       r'127\.0\.0\.1:%d .* reason=module$' % hole,
                       since=mark)
        self.assertNotRegex(d.log_text(), NO_BACKEND_RE)
        self.assertEqual(d.stop(), 0)

    def test_a_silent_backend_times_out_and_the_next_one_serves(self):
        hole = blackhole_port(self)
        live = Backend(self, echo_handler)
        d = self.fwd_daemon(["127.0.0.1:%d" % hole, live.addr],
                            "balance = first\nconnect_timeout = 500ms")
        start = time.monotonic()
        self.through(d, b"after a timeout")
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.45, "served before the timeout")
        self.assertLess(took, 5.0 * SCALE)
        self.assertEqual(live.accepted, 1)
        self.assertEqual(d.stop(), 0)


class TestLimits(ForwardCase):

    def test_backend_connections_do_not_count_as_clients(self):
        # A global max_connections of 2 admits two forwarded clients: their
        # backend connections are the daemon's own, not clients.  With one
        # worker, the second used to be refused.
        live = Backend(self, echo_handler)
        d = self.daemon("max_connections = 2\n" + fwd_conf([live.addr]))
        held = []
        try:
            for i in range(2):
                s = evitest.connect(d.port("fwd"))
                held.append(s)
                s.sendall(b"client %d\n" % i)
                self.assertEqual(evitest.recv_exact(s, 9),
                                 b"client %d\n" % i)
        finally:
            for s in held:
                s.close()
        self.assertEqual(d.stop(), 0)


# 6: balance.

class TestBalance(ForwardCase):

    def setUp(self):
        self.backends = [Backend(self, announce_handler, name=n)
                         for n in (b"A", b"B")]
        self.to = [b.addr for b in self.backends]

    def who(self, d, src="127.0.0.1"):
        """Which backend served one connection from SRC."""
        mark = d.mark()
        with connect_from(d.port("fwd"), src=src) as s:
            name = evitest.recv_until_eof(s)
            peer = peer_of(s)
        closed_line(d, "fwd", peer, since=mark)
        self.assertIn(name, (b"A", b"B"))
        return name

    def test_roundrobin_alternates(self):
        d = self.fwd_daemon(self.to, "balance = roundrobin")
        names = [self.who(d) for _ in range(6)]
        self.assertEqual(set(names), {b"A", b"B"}, names)
        for a, b in zip(names, names[1:]):
            self.assertNotEqual(a, b, names)
        self.assertEqual(d.stop(), 0)

    def test_roundrobin_is_the_default(self):
        d = self.fwd_daemon(self.to)
        names = [self.who(d) for _ in range(4)]
        self.assertEqual(sorted(names), [b"A", b"A", b"B", b"B"], names)
        self.assertNotEqual(names[0], names[1], names)
        self.assertEqual(d.stop(), 0)

    def test_first_always_uses_the_first(self):
        d = self.fwd_daemon(self.to, "balance = first")
        self.assertEqual([self.who(d) for _ in range(4)], [b"A"] * 4)
        self.assertEqual(d.stop(), 0)

    def test_source_sticks_each_client_to_one_backend(self):
        d = self.fwd_daemon(self.to, "balance = source")
        for src in ("127.0.0.2", "127.0.0.3"):
            names = [self.who(d, src) for _ in range(4)]
            self.assertEqual(len(set(names)), 1, "%s went to %r" % (
                src, names))
        self.assertEqual(d.stop(), 0)


# 7: many relays at once.

class TestConcurrency(ForwardCase):

    def test_1000_concurrent_relays_each_echo_their_own_line(self):
        nclients = 1000
        if evitest.raise_nofile(nclients + 64) < nclients + 64:
            self.skipTest("RLIMIT_NOFILE too low for %d clients" % nclients)
        d = self.echo_daemon()
        lines = [b"client %d of %d: %s\n" % (i, nclients,
                                             os.urandom(8).hex().encode())
                 for i in range(nclients)]
        start = time.monotonic()
        socks = evitest.all_at_once(self, d.port("fwd"), lines, lines)
        print("%d relays open at once, each echoed its line, in %.1f s" % (
            nclients, time.monotonic() - start), flush=True)
        mark = d.mark()
        for s in socks:
            s.close()
        d.wait_log(r"^event=close service=fwd ", since=mark, count=nclients,
                   timeout=30)
        self.assertEqual(d.stop(), 0)


# 8: reload.

class TestReload(ForwardCase):

    def test_relays_outlive_a_reload_and_new_ones_work(self):
        d = self.echo_daemon()
        port = d.port("fwd")
        old = []
        for i in range(4):
            s = evitest.connect(port)
            self.addCleanup(s.close)
            self.assertEqual(evitest.transfer(s, b"before %d" % i),
                             b"before %d" % i)
            old.append(s)
        # The same config with the forward service's port pinned, so the
        # new generation reuses its listener.
        self.write_fwd(d, fwd_port=port)
        reload(d)
        for i, s in enumerate(old):
            data = os.urandom(256 * KiB)
            self.assertTrue(evitest.transfer(s, data) == data,
                            "old relay %d after the reload" % i)
        for i in range(4):
            self.through(d, b"new %d" % i)
        mark = d.mark()
        for s in old:
            evitest.transfer(s, b"", shut_wr=True)
            s.close()
        d.wait_log(r"^event=close service=fwd .* reason=eof$", since=mark,
                   count=len(old))
        settle(d, 1)
        self.assertEqual(d.stop(), 0)


# 9: the PROXY protocol, read by HAProxy.

# What every HAProxy of the tests shares (test_proxy.py too).
HAPROXY_HEAD = """
    global
        log stdout format raw local0
    defaults
        mode tcp
        log global
        timeout connect 5s
        timeout client 30s
        timeout server 30s
    """

HAPROXY_CONF = HAPROXY_HEAD + """
    frontend fe
        bind fd@%(fd)d accept-proxy
        log-format "proxied client=%%ci:%%cp frontend=%%fi:%%fp"
        default_backend be
    backend be
        server echo 127.0.0.1:%(echo)d
    """


class HAProxy:
    """haproxy -db on a listener made here (bind fd@N), so its port is
    known before it starts and no port is guessed; its log (stdout) is
    collected by a thread.  Stopped when the test ends.  CONF, with
    %(fd)d, %(echo)d and any SUBS, replaces HAPROXY_CONF."""

    def __init__(self, test, echo_port, conf=HAPROXY_CONF, **subs):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        test.addCleanup(self.lsock.close)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        tmp = test.tempdir()
        subs.update(fd=self.lsock.fileno(), echo=echo_port)
        cfg = tmp.write("haproxy.cfg", conf % subs)
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ["haproxy", "-db", "-f", cfg], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(self.lsock.fileno(),))
        test.addCleanup(self.stop)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()

    def wait_log(self, regex, timeout=IO):
        rx = re.compile(regex)
        deadline = deadline_after(timeout)
        with self.cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        "haproxy logged no line matching %r (exit %s):\n%s"
                        % (regex, self.proc.poll(), "\n".join(self.lines)))
                self.cond.wait(min(left, 0.5))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10 * SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5 * SCALE)
        self.proc.stdout.close()


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed")
class TestProxyProtocol(ForwardCase):

    def proxied(self, version, client="127.0.0.2"):
        """A client from CLIENT echoes through fwd (send_proxy = VERSION),
        HAProxy (accept-proxy) and echo; HAProxy's log must name that
        client, address and port, and the address it connected to (fwd's
        listener), not the daemon's own connection to HAProxy."""
        hap = []

        def start_haproxy(echo_port):
            hap.append(HAProxy(self, echo_port))
            return {"haproxy": hap[0].port}

        host = "::1" if ":" in client else "127.0.0.1"
        d = self.echo_daemon("send_proxy = %s" % version, host=host,
                             to=["127.0.0.1:$haproxy"], before=start_haproxy)
        mark = d.mark()
        with connect_from(d.port("fwd"), src=client, host=host) as s:
            data = b"through the PROXY protocol %s" % version.encode()
            self.assertEqual(evitest.transfer(s, data), data)
            cport = s.getsockname()[1]
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(s), b"")
            peer = peer_of(s)
        closed_line(d, "fwd", peer, since=mark)
        line = hap[0].wait_log(r"proxied client=")
        self.assertEqual(line, "proxied client=%s:%d frontend=%s:%d" % (
            client, cport, host, d.port("fwd")))
        self.assertEqual(d.stop(), 0)

    def test_send_proxy_v1(self):
        self.proxied("v1")

    def test_send_proxy_v2(self):
        self.proxied("v2")

    @unittest.skipUnless(evitest.have_ipv6(), "no IPv6 on this host")
    def test_send_proxy_v1_for_an_ipv6_client(self):
        self.proxied("v1", client="::1")

    @unittest.skipUnless(evitest.have_ipv6(), "no IPv6 on this host")
    def test_send_proxy_v2_for_an_ipv6_client(self):
        self.proxied("v2", client="::1")


# 10: config errors.

class TestConfigErrors(evitest.TestCase):

    def check(self, body):
        """Runs evinetd -n on a forward service with BODY (from line 4 on);
        returns stderr, asserting exit code 1, and the config's path as a
        regex."""
        path = self.tempdir().join("fwd.conf")
        rc, out, err = evitest.run_check("""
            service fwd {
                listen = 127.0.0.1:0
                module = forward
            %s
            }
            """ % body, path=path)
        self.assertEqual(rc, 1, err)
        return re.escape(path), err

    def test_to_is_required(self):
        path, err = self.check("")
        self.assertRegex(err, r'(?m)^%s:1: service "fwd": module "forward" '
                         r'needs option "to" ' % path)

    def test_bad_addresses_are_errors_with_file_and_line(self):
        for to, why in (("bogus", "is not a destination"),
                        ("127.0.0.1", "is not a destination"),
                        ("::1:80", "must be in brackets"),
                        ("7", "is not a destination"),
                        ("127.0.0.1:0", "is not a destination"),
                        ("127.0.0.1:7 [::1]", "missing \":PORT\"")):
            path, err = self.check("to = %s" % to)
            bad = to.split()[-1]
            self.assertRegex(err, r'(?m)^%s:4: service "fwd": option "to": '
                             r'.*"%s".*' % (path, re.escape(bad)), to)
            self.assertIn(why, err, to)

    def test_an_unknown_choice_lists_the_choices(self):
        path, err = self.check("to = 127.0.0.1:7\nbalance = random\n"
                               "send_proxy = v3")
        self.assertRegex(err, r'(?m)^%s:5: service "fwd": option "balance": '
                         r'invalid value "random" \(expected one of: '
                         r'roundrobin first source\)$' % path)
        self.assertRegex(err, r'(?m)^%s:6: service "fwd": option '
                         r'"send_proxy": invalid value "v3" \(expected one '
                         r'of: no v1 v2\)$' % path)


# 11: outbound counters in /metrics.

class TestMetrics(ForwardCase):

    def test_outbound_counters_go_up(self):
        def answer_handler(b, s):
            while s.recv(65536):
                pass
            s.sendall(b.answer)

        live = Backend(self, answer_handler)
        dead = refused_port(self)
        d = self.daemon(fwd_conf([live.addr]) + STATS_SERVICE + """
            service fwd-dead {
                listen = 127.0.0.1:0
                module = forward
                to = 127.0.0.1:%d
            }
            """ % dead, expect=[NO_BACKEND_RE])
        names = ("evinetd_outbound_connects_total",
                 "evinetd_outbound_failed_total",
                 "evinetd_outbound_received_bytes_total",
                 "evinetd_outbound_sent_bytes_total")

        def figures():
            m = scrape(d.port("stats"))
            return {(n, svc): m.count(n, service=svc) for n in names
                    for svc in ("fwd", "fwd-dead")}

        before = figures()
        self.assertEqual(set(before.values()), {0})
        sent, answer = os.urandom(10000), os.urandom(3000)
        live.answer = answer
        mark = d.mark()
        with evitest.connect(d.port("fwd")) as s:
            self.assertEqual(evitest.transfer(s, sent, shut_wr=True),
                             answer)
            peer = peer_of(s)
        closed_line(d, "fwd", peer, since=mark)
        with evitest.connect(d.port("fwd-dead")) as s:
            self.assertEqual(s.recv(1), b"")
        d.wait_log(NO_BACKEND_RE, since=mark)
        # The backend's side closes on its own schedule; its close line is
        # written in the same callback that counts it, in this one worker,
        # so a scrape after the line sees the final figures.
        d.wait_log(r"^event=outbound service=fwd proto=tcp ", since=mark)
        want = dict.fromkeys(before, 0)
        want.update({
            ("evinetd_outbound_connects_total", "fwd"): 1,
            ("evinetd_outbound_failed_total", "fwd-dead"): 1,
            ("evinetd_outbound_received_bytes_total", "fwd"): len(answer),
            ("evinetd_outbound_sent_bytes_total", "fwd"): len(sent),
        })
        self.assertEqual(figures(), want)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
