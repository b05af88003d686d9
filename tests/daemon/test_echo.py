#!/usr/bin/env python3
"""The echo module through the real daemon: byte-exactness over TCP (IPv4
and IPv6) and UDP, half-close, backpressure with bounded memory, many
concurrent clients, and clients that reset mid-transfer."""

import errno
import os
import re
import selectors
import socket
import struct
import threading
import time
import unittest

import evitest

MiB = 1024 * 1024
KiB = 1024

ECHO_CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    """


class Stream:
    """An endless, reproducible byte stream for long transfers, so that a
    test need not hold it all: a random block (NULs included) repeated
    with an odd period, so a lost or doubled chunk does not line up."""

    WINDOW = 256 * KiB

    def __init__(self, period=MiB + 7):
        self.block = os.urandom(period)
        self.wrapped = self.block + self.block[:self.WINDOW]

    def at(self, offset, n):
        """The N <= WINDOW bytes from OFFSET on."""
        assert n <= self.WINDOW
        o = offset % len(self.block)
        return self.wrapped[o:o + n]

    def send_until_blocked(self, test, s, limit, timeout=30):
        """Sends the stream on the non-blocking S until S has not been
        writable for a second: the daemon stopped reading, and every
        buffer on the way is full.  Returns the bytes sent; fails if
        LIMIT bytes went out or TIMEOUT seconds passed first."""
        sel = selectors.DefaultSelector()
        test.addCleanup(sel.close)
        sel.register(s, selectors.EVENT_WRITE)
        sent = 0
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() - last < 1.0:
            test.assertLess(time.monotonic(), deadline,
                            "writes never blocked (%d bytes sent)" % sent)
            test.assertLess(sent, limit,
                            "writes never blocked (%d bytes sent)" % sent)
            if sel.select(0.2):
                try:
                    n = s.send(self.at(sent, self.WINDOW))
                except BlockingIOError:
                    continue
                if n > 0:
                    sent += n
                    last = time.monotonic()
        sel.unregister(s)
        return sent

    def read_back(self, test, s, n, timeout=30):
        """Reads the first N bytes of the stream from S (made blocking),
        comparing every chunk; fails after TIMEOUT seconds."""
        s.setblocking(True)
        got = 0
        deadline = time.monotonic() + timeout
        while got < n:
            left = deadline - time.monotonic()
            test.assertGreater(left, 0, "echo of %d bytes, got %d" % (
                n, got))
            chunk = evitest.recv_exact(s, min(n - got, self.WINDOW),
                                       timeout=left)
            test.assertTrue(chunk == self.at(got, len(chunk)),
                            "echoed data differs at offset %d" % got)
            got += len(chunk)


class TestEchoTCP(evitest.TestCase):

    def setUp(self):
        self.d = self.daemon(ECHO_CONF)
        self.port = self.d.port("echo")

    def test_one_byte_comes_back(self):
        with evitest.connect(self.port) as s:
            s.sendall(b"x")
            self.assertEqual(evitest.recv_exact(s, 1), b"x")
        self.assertEqual(self.d.stop(), 0)

    def test_one_mib_of_random_binary_comes_back_byte_exact(self):
        data = os.urandom(MiB)
        self.assertIn(b"\0", data)
        with evitest.connect(self.port) as s:
            got = evitest.transfer(s, data, timeout=20)
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "echoed data differs")
        self.assertEqual(self.d.stop(), 0)

    def test_half_close_gets_all_data_then_eof(self):
        with evitest.connect(self.port) as s:
            s.sendall(b"hello")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(s), b"hello")
        data = os.urandom(512 * KiB)
        with evitest.connect(self.port) as s:
            got = evitest.transfer(s, data, shut_wr=True, timeout=20)
            self.assertTrue(got == data, "echoed %d bytes, sent %d, or "
                            "they differ" % (len(got), len(data)))
            # EOF stays EOF.
            self.assertEqual(s.recv(1), b"")
        self.assertEqual(self.d.stop(), 0)

    def test_500_concurrent_clients_each_do_several_round_trips(self):
        nclients, rounds = 500, 5
        if evitest.raise_nofile(nclients + 64) < nclients + 64:
            self.skipTest("RLIMIT_NOFILE too low for %d clients" % nclients)
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        clients = []
        done = 0

        class Client:
            pass

        def start_round(c):
            c.msg = b"client %d round %d " % (c.id, c.round) + \
                os.urandom(64 + (c.id * 37 + c.round * 101) % 2000)
            c.out = memoryview(c.msg)
            c.got = bytearray()
            sel.modify(c.sock, selectors.EVENT_WRITE, c)

        try:
            for i in range(nclients):
                c = Client()
                c.id, c.round, c.connected = i, 0, False
                c.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.sock.setblocking(False)
                clients.append(c)
                err = c.sock.connect_ex(("127.0.0.1", self.port))
                self.assertIn(err, (0, errno.EINPROGRESS))
                sel.register(c.sock, selectors.EVENT_WRITE, c)
            deadline = time.monotonic() + 40
            while done < nclients:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "%d of %d clients finished in "
                                   "time" % (done, nclients))
                for key, ev in sel.select(min(left, 1.0)):
                    c = key.data
                    if not c.connected:
                        err = c.sock.getsockopt(socket.SOL_SOCKET,
                                                socket.SO_ERROR)
                        self.assertEqual(err, 0, "client %d: connect: %s" % (
                            c.id, os.strerror(err)))
                        c.connected = True
                        start_round(c)
                        continue
                    if ev & selectors.EVENT_WRITE:
                        n = c.sock.send(c.out)
                        c.out = c.out[n:]
                        if not len(c.out):
                            sel.modify(c.sock, selectors.EVENT_READ, c)
                        continue
                    chunk = c.sock.recv(65536)
                    self.assertTrue(chunk, "client %d: EOF in round %d" % (
                        c.id, c.round))
                    c.got += chunk
                    if len(c.got) < len(c.msg):
                        continue
                    self.assertEqual(bytes(c.got), c.msg,
                                     "client %d round %d" % (c.id, c.round))
                    c.round += 1
                    if c.round < rounds:
                        start_round(c)
                    else:
                        sel.unregister(c.sock)
                        c.sock.close()
                        done += 1
        finally:
            for c in clients:
                c.sock.close()
        self.assertEqual(self.d.stop(), 0)


@unittest.skipIf(evitest.under_valgrind(), "valgrind's RSS is not the "
                 "daemon's")
class TestEchoMemory(evitest.TestCase):
    """Backpressure: however fast a client writes and however slowly it
    reads, the daemon holds at most about max_output (256 KiB) plus
    max_input (64 KiB) for it.  The measured growth is printed for the
    log.  Without backpressure the slow reader's test shows about 5 MiB
    of growth, so the bound is 2 MiB."""

    def setUp(self):
        self.d = self.daemon(ECHO_CONF, env=evitest.MEMORY_ENV)
        self.port = self.d.port("echo")

    def test_slow_reader_keeps_daemon_memory_bounded(self):
        total = 8 * MiB
        data = os.urandom(total)
        base = self.d.rss_kb()
        peak = base
        errors = []
        got = bytearray()

        s = evitest.connect(self.port, timeout=30)
        self.addCleanup(s.close)

        def writer():
            try:
                s.sendall(data)
            except Exception as e:          # reported by the main thread
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        deadline = time.monotonic() + 40
        while len(got) < total:
            self.assertLess(time.monotonic(), deadline,
                            "slow read of 8 MiB took too long")
            # Up to 64 KiB, then a pause (the socket's 30 s timeout
            # bounds the recv; the writer thread shares the socket).
            chunk = s.recv(min(64 * KiB, total - len(got)))
            self.assertTrue(chunk, "EOF after %d bytes" % len(got))
            got += chunk
            peak = max(peak, self.d.rss_kb())
            time.sleep(0.005)   # the pacing that makes this reader slow
        t.join(20)
        self.assertFalse(t.is_alive(), "writer did not finish")
        self.assertEqual(errors, [])
        self.assertTrue(got == data, "echoed data differs")
        growth = peak - base
        print("slow reader, 8 MiB echoed: baseline RSS %d KiB, peak %d KiB, "
              "peak growth %d KiB" % (base, peak, growth), flush=True)
        self.assertLess(growth, 2 * 1024,
                        "RSS grew by %d KiB with 8 MiB in flight" % growth)
        s.close()
        self.assertEqual(self.d.stop(), 0)

    def test_client_that_never_reads_keeps_daemon_memory_bounded(self):
        stream = Stream()
        limit = 256 * MiB
        base = self.d.rss_kb()
        s = evitest.connect(self.port)
        self.addCleanup(s.close)
        s.setblocking(False)
        sent = stream.send_until_blocked(self, s, limit)
        stalled = self.d.rss_kb()
        growth = stalled - base
        print("client that never reads: blocked after %d KiB sent; baseline "
              "RSS %d KiB, RSS when blocked %d KiB, growth %d KiB" % (
                  sent // KiB, base, stalled, growth), flush=True)
        # max_output (256 KiB) + max_input (64 KiB) + allocator slack;
        # the kernel's socket buffers are not in the RSS.
        self.assertLess(growth, 2 * 1024,
                        "RSS grew by %d KiB for one stalled client" % growth)
        # Nothing was lost: reading now gets back every byte sent.
        stream.read_back(self, s, sent)
        s.close()
        self.assertEqual(self.d.stop(), 0)


class TestEchoResets(evitest.TestCase):

    def test_clients_resetting_mid_transfer_leave_the_daemon_healthy(self):
        # -vv logs every close with its reason.
        d = self.daemon(ECHO_CONF, args=["-v", "-v"])
        port = d.port("echo")
        nclients = 50
        mark = d.mark()
        socks = []
        try:
            for i in range(nclients):
                socks.append(evitest.connect(port))
            chunk = os.urandom(256 * KiB)
            for s in socks:
                # As much as the buffers take without blocking.
                s.setblocking(False)
                try:
                    s.send(chunk)
                except BlockingIOError:
                    pass
            for s in socks:
                # The echo has started: the transfer is under way.
                s.setblocking(True)
                s.settimeout(evitest.IO_TIMEOUT)
                self.assertTrue(s.recv(1))
            for s in socks:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                s.close()
        finally:
            for s in socks:
                s.close()
        closed = re.compile(r'service "echo": \S+ closed \(([a-z ]+)\)')
        d.wait_log(closed, since=mark, count=nclients, timeout=20)
        reasons = [m.group(1) for m in map(closed.search, d.log_lines(mark))
                   if m]
        self.assertEqual(reasons, ["reset"] * nclients)
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"still here"),
                             b"still here")
        self.assertEqual(d.stop(), 0)


@unittest.skipUnless(evitest.have_ipv6(), "no IPv6 on this host")
class TestEchoIPv6(evitest.TestCase):

    def test_one_mib_over_ipv6_loopback(self):
        d = self.daemon("""
            service echo6 {
                listen = [::1]:0
                module = echo
            }
            """)
        self.assertEqual(d.addrs("echo6")[0][0], "::1")
        data = os.urandom(MiB)
        with evitest.connect(d.port("echo6"), host="::1") as s:
            self.assertEqual(s.family, socket.AF_INET6)
            got = evitest.transfer(s, data, timeout=20)
        self.assertTrue(got == data, "echoed data differs")
        self.assertEqual(d.stop(), 0)


class TestEchoUDP(evitest.TestCase):

    def setUp(self):
        listen = "127.0.0.1:0 [::1]:0" if evitest.have_ipv6() else \
            "127.0.0.1:0"
        self.d = self.daemon("""
            service echo-udp {
                listen = %s
                protocol = udp
                module = echo
            }
            """ % listen)

    def echo(self, host, payload):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        port = [p for (h, p, proto) in self.d.addrs("echo-udp")
                if h == host][0]
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(evitest.IO_TIMEOUT)
            s.connect((host, port))
            s.send(payload)
            return s.recv(65536)

    def test_datagrams_come_back_byte_exact(self):
        for payload in (b"x", b"hello\0world", os.urandom(1400),
                        os.urandom(9000)):
            self.assertEqual(self.echo("127.0.0.1", payload), payload)
        self.assertEqual(self.d.stop(), 0)

    def test_largest_ipv4_datagram_comes_back(self):
        payload = os.urandom(65507)
        self.assertEqual(self.echo("127.0.0.1", payload), payload)
        self.assertEqual(self.d.stop(), 0)

    def test_empty_datagram_comes_back_empty(self):
        self.assertEqual(self.echo("127.0.0.1", b""), b"")
        self.assertEqual(self.echo("127.0.0.1", b"next"), b"next")
        self.assertEqual(self.d.stop(), 0)

    @unittest.skipUnless(evitest.have_ipv6(), "no IPv6 on this host")
    def test_datagram_over_ipv6(self):
        payload = os.urandom(4000)
        self.assertEqual(self.echo("::1", payload), payload)
        self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
