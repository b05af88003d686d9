#!/usr/bin/env python3
"""Promises the module header makes, checked through the real daemon with
test modules from tests/modules:

* a conn_open that returns -1 gets no conn_close, even when it asked for
  a close first, and the close is counted and logged as module_error;
* a module built against the frozen ABI 1.0 header (tests/abi/1.0) loads
  and serves in this daemon, whatever minor the current header is at;
* output a module writes from outside the connection's callbacks (a
  timer, a handler on its own descriptor) reaches the client when it is
  written, not when something else happens to the connection."""

import os
import signal
import socket
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

    def test_a_module_built_against_abi_1_0_loads_and_serves(self):
        d = self.daemon("""
            service old {
                listen = 127.0.0.1:0
                module = %s
            }""" % testmod("greet_abi10"))
        with evitest.connect(d.port("old")) as s:
            self.assertEqual(evitest.transfer(s, b"hello", expect=8),
                             b"10:hello")
        self.assertEqual(d.stop(), 0)


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


if __name__ == "__main__":
    evitest.main()
