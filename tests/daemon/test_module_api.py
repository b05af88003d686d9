#!/usr/bin/env python3
"""Promises the module header makes, checked through the real daemon with
test modules from tests/modules:

* a conn_open that returns -1 gets no conn_close, even when it asked for
  a close first, and the close is counted and logged as module_error;
* a module built against the frozen ABI 1.0 header (tests/abi/1.0), or
  the 1.1 one (tests/abi/1.1), loads and serves in this daemon, whatever
  minor the current header is at;
* output a module writes from outside the connection's callbacks (a
  timer, a handler on its own descriptor) reaches the client when it is
  written, not when something else happens to the connection;
* the ABI 1.1 calls (the async test module): the service's limits, read
  pause and resume, half-close, outbound connections and how they fail,
  and EVI_OPT_ADDRESS's checks."""

import os
import re
import select
import signal
import socket
import threading
import time

import evitest


def testmod(name):
    return os.path.join(evitest.TESTMOD_DIR, name + ".so")


class TestConnOpenContract(evitest.TestCase):

    def test_failed_open_gets_no_close_and_counts_a_module_error(self):
        d = self.daemon("""
            service openfail {
                listen = 127.0.0.1:0
                module = %s
                log_connections = yes
            }""" % testmod("openfail"))
        for _ in range(3):
            with evitest.connect(d.port("openfail")) as s:
                self.assertEqual(evitest.recv_until_eof(s), b"")
        d.wait_log(r"^event=close service=openfail proto=tcp .* "
                   r"reason=module_error$", count=3)
        mark = d.mark()
        d.send_signal(signal.SIGUSR1)
        d.wait_log(r'^state: service "openfail": module openfail, tcp, '
                   r'accepted 3, active 0, .*, module errors 3$', since=mark)
        d.wait_log(r'^state: service "openfail": closed \(module_error\) '
                   r'3$', since=mark)
        self.assertEqual(d.stop(), 0)
        self.assertNotIn("conn_close called", d.log_text())
        self.assertNotRegex(d.log_text(), r"reason=module\b(?!_)")


class TestFrozenAbi10(evitest.TestCase):

    def serves(self, version):
        """greet built against tests/abi/VERSION answers "NN:" + bytes."""
        d = self.daemon("""
            service old {
                listen = 127.0.0.1:0
                module = %s
            }""" % testmod("greet_abi" + version))
        with evitest.connect(d.port("old")) as s:
            self.assertEqual(evitest.transfer(s, b"hello", expect=8),
                             version.encode() + b":hello")
        self.assertEqual(d.stop(), 0)

    def test_a_module_built_against_abi_1_0_loads_and_serves(self):
        self.serves("10")

    def test_a_module_built_against_abi_1_1_loads_and_serves(self):
        self.serves("11")


class TestWritesFromOutside(evitest.TestCase):
    """The ticker test module writes "tick N T" every 200 ms, T being
    CLOCK_MONOTONIC in ms when it wrote (Python's time.monotonic reads the
    same clock), then finishes after 5.  Each line must arrive within
    100 ms of its write (scaled under valgrind); before, they all came at
    the finish, up to a second late."""

    BOUND_MS = 100 * float(os.environ.get("EVINETD_TIMEOUT_SCALE") or 1)

    def ticks(self, via):
        d = self.daemon("""
            service tick {
                listen = 127.0.0.1:0
                module = %s
                via = %s
            }""" % (testmod("ticker"), via))
        late = []
        with evitest.connect(d.port("tick")) as s:
            buf = b""
            deadline = time.monotonic() + 10 * self.BOUND_MS / 100
            while time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    break
                now = time.monotonic() * 1000
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    _, n, t = line.split()
                    late.append((int(n), now - int(t)))
        self.assertEqual([n for n, _ in late], [1, 2, 3, 4, 5], late)
        for n, ms in late:
            self.assertLess(ms, self.BOUND_MS, "tick %d came %.0f ms after "
                            "it was written: %r" % (n, ms, late))
        self.assertEqual(d.stop(), 0)

    def test_writes_from_a_timer_arrive_when_written(self):
        self.ticks("timer")

    def test_writes_from_a_handler_arrive_when_written(self):
        self.ticks("handler")


def unanswered_port():
    """A loopback listener whose accept queue is full, so a new SYN goes
    unanswered: returns (sockets to keep open, port)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    keep = [ls]
    for _ in range(16):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        keep.append(s)
        # A loopback connect the queue takes completes at once.
        if not select.select([], [s], [], 0.5)[1]:
            return keep, port
    for s in keep:
        s.close()
    raise AssertionError("could not fill the accept queue of port %d" % port)


class TestAsyncCalls(evitest.TestCase):

    def serve(self, mode, extra="", **kw):
        return self.daemon("""
            service async {
                listen = 127.0.0.1:0
                module = %s
                mode = %s
                %s
            }""" % (testmod("async"), mode, extra), **kw)

    def test_a_module_reads_its_services_limits(self):
        d = self.serve("limits", "max_input = 4k\n max_output = 96k")
        with evitest.connect(d.port("async")) as s:
            self.assertEqual(evitest.recv_until_eof(s),
                             b"max_input=4096 max_output=98304\n")
        self.assertEqual(d.stop(), 0)

    def test_paused_input_is_offered_again_on_resume(self):
        # The first conn_read pauses and leaves "hello"; what the client
        # sends after "paused", and its EOF, must stay in its kernel (no
        # conn_read while paused); 200 ms later a timer resumes, and
        # "hello" must come back to conn_read unasked, before anything
        # newer.
        d = self.serve("pause")
        with evitest.connect(d.port("async")) as s:
            start = time.monotonic()
            s.sendall(b"hello")
            self.assertEqual(evitest.recv_exact(s, 7), b"paused\n")
            s.sendall(b"world")
            # A half-close while paused is no reason to close: the answer
            # still comes.
            s.shutdown(socket.SHUT_WR)
            got = evitest.recv_until_eof(s)
            took = time.monotonic() - start
        self.assertEqual(got, b"got hello paused_reads=0\n")
        self.assertGreaterEqual(took, 0.19)
        self.assertEqual(d.stop(), 0)

    def test_half_close_sends_eof_and_keeps_reading(self):
        d = self.serve("halfclose", expect=[r'^service "async": '])
        with evitest.connect(d.port("async")) as s:
            s.sendall(b"ping\n")
            # Our EOF arrives after the echo: the write side is shut.
            self.assertEqual(evitest.recv_until_eof(s), b"ping\nbye\n")
            mark = d.mark()
            s.sendall(b"more")
            d.wait_log(r'^service "async": after shutdown: more, write -1 '
                       r'EPIPE$', since=mark)
            s.shutdown(socket.SHUT_WR)
            d.wait_log(r'^service "async": peer eof$', since=mark)
            d.wait_log(r'^service "async": closed: eof$', since=mark)
        self.assertEqual(d.stop(), 0)

    def connect_outcome(self, peer, timeout="1s"):
        d = self.serve("connect", "peer = %s\n timeout = %s" % (peer,
                                                                 timeout))
        with evitest.connect(d.port("async")) as s:
            start = time.monotonic()
            got = evitest.recv_until_eof(s)
            took = time.monotonic() - start
        self.assertEqual(d.stop(), 0)
        return got, took

    def test_outbound_connection_connects(self):
        ls, port = evitest.hold_port()
        with ls:
            got, _ = self.connect_outcome("127.0.0.1:%d" % port)
        self.assertEqual(got, b"connected\n")

    def test_outbound_refused_is_reported_as_refused(self):
        ls, port = evitest.hold_port()
        ls.close()
        got, _ = self.connect_outcome("127.0.0.1:%d" % port)
        self.assertEqual(got, b"outbound closed: refused\n")

    def test_outbound_connect_timeout(self):
        keep, port = unanswered_port()
        try:
            got, took = self.connect_outcome("127.0.0.1:%d" % port,
                                             "300ms")
        finally:
            for s in keep:
                s.close()
        self.assertEqual(got, b"outbound closed: connect_timeout\n")
        self.assertGreaterEqual(took, 0.29)
        self.assertLess(took, 5 * float(
            os.environ.get("EVINETD_TIMEOUT_SCALE") or 1))

    def test_a_relay_begun_in_conn_read_carries_the_eof_of_that_read(self):
        # The client's bytes and its EOF arrive in one read batch (896
        # bytes fill the daemon's first read exactly, READ_MIN in
        # evinetd.h, so it reads on and finds the EOF); the module relays
        # from that conn_read.  The EOF must go to the backend
        # after the bytes, and the backend's answer must come back: the
        # daemon used to call conn_eof after the relay began, finishing
        # the client and throwing the answer away.
        ls, port = evitest.hold_port()
        got = []

        def backend():
            with ls:
                ls.settimeout(10)
                b, _ = ls.accept()
                with b:
                    got.append(evitest.recv_until_eof(b))
                    b.sendall(b"y")
        t = threading.Thread(target=backend, daemon=True)
        t.start()
        d = self.serve("relayread", "peer = 127.0.0.1:%d" % port)
        with evitest.connect(d.port("async")) as s:
            s.sendall(b"x" * 896)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(s), b"y")
        t.join(10)
        self.assertEqual(got, [b"x" * 896])
        self.assertEqual(d.stop(), 0)

    def test_connect_from_init_is_refused(self):
        # The header promises EINVAL before any worker serves: a worker's
        # init used to get a connection, left armed if init then failed.
        d = self.serve("initconnect", "max_input = 4k\n max_output = 96k")
        with evitest.connect(d.port("async")) as s:
            self.assertEqual(evitest.recv_until_eof(s),
                             b"max_input=4096 max_output=98304\n")
        self.assertEqual(d.stop(), 0)

    def test_address_options_are_checked_like_listen(self):
        for value, why in (
                ("127.0.0.1", r'"127.0.0.1" is not a destination'),
                ("*:80", r'"\*:80" is not a destination'),
                ("80", r'"80" is not a destination'),
                ("127.0.0.1:0", r'"127.0.0.1:0" is not a destination'),
                ("0.0.0.0:80", r'"0.0.0.0:80" is not a destination'),
                ("[::]:80", r'"\[::\]:80" is not a destination'),
                ("::1:80", r'IPv6 address in "::1:80" must be in brackets'),
                ("127.0.0.1:1 127.0.0.1:2", r"expected one address, not 2"),
                ("host.example:80", r'invalid address "host.example" .*'
                 r'host names are not resolved')):
            with self.subTest(value=value):
                with evitest.TempDir() as tmp:
                    path = tmp.join("c.conf")
                    rc, _, err = evitest.run_check(
                        "service async {\n listen = 127.0.0.1:0\n"
                        " module = %s\n mode = connect\n peer = %s\n}\n" %
                        (testmod("async"), value), path=path)
                self.assertEqual(rc, 1, err)
                self.assertRegex(err, r'%s:5: service "async": option '
                                 r'"peer": (%s)' % (re.escape(path), why))


if __name__ == "__main__":
    evitest.main()
