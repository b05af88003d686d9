#!/usr/bin/env python3
"""per_source and per_source_rate across worker processes: a service with
more than one worker that sets them gets a socket per worker, steered by
source address (listener.c, a classic BPF program on the reuseport
group), so every connection or datagram of a client reaches the same
worker and that worker's counts are the client's.

Each test holds or spends a client's allowance from 127.0.0.2, then makes
8 more attempts from other source ports.  Without steering the kernel
spreads them over the workers by a hash of all four addresses (with
reuseport) or by whichever worker wakes first (a shared socket), so some
would reach the worker that has not seen the client and be served; the
chance that all 8 reach the same one is 1 in 128.  127.0.0.3 is still
served.  The same holds after reloads that grow and shrink the group.
"""

import re
import socket
import string

import evitest
from test_limits import EXPECT_REFUSALS, ClientSet, connect_from, served, \
    wait_refusals
from test_supervisor import connections_per_worker, reload, settle, \
    write_conf

HAVE6 = evitest.have_ipv6()
ATTEMPTS = 8

STEER_CONF = """
    workers = %d
    drain_timeout = 10s
    refuse_banner = busy
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
        %s
    }
    """

STEERED_RE = (r'^service "echo": listening on 127\.0\.0\.1:\d+ \(tcp\), '
              r'one socket per worker \(reuseport, by source address\)$')


def refused_tcp(port, src):
    """Connects from SRC: True if the daemon answers with the banner and
    closes, as it does for a refused client; False if it serves the
    client (the echo service then says nothing for 2 s)."""
    with connect_from(port, src) as s:
        try:
            return evitest.recv_until_eof(s, timeout=2.0) == b"busy\r\n"
        except socket.timeout:
            return False


class TestSteerTCP(evitest.TestCase):

    def check_per_source(self, d, port, held):
        """127.0.0.2 holds one connection; 8 more are refused; 127.0.0.3
        is served."""
        self.assertTrue(served(held.add(connect_from(port, "127.0.0.2"))))
        got = [refused_tcp(port, "127.0.0.2") for i in range(ATTEMPTS)]
        self.assertEqual(got, [True] * ATTEMPTS)
        self.assertTrue(served(held.add(connect_from(port, "127.0.0.3"))))

    def test_per_source_holds_across_two_workers(self):
        d = self.daemon(string.Template(STEER_CONF % (
            2, "per_source = 1\n        reuseport = yes"))
            .substitute(echo=0),
            expect=EXPECT_REFUSALS)
        port = d.port("echo")
        held = ClientSet(self)
        self.check_per_source(d, port, held)
        d.wait_log(STEERED_RE)
        wait_refusals(self, d, "echo", "per_source", ATTEMPTS)
        held.close()
        # Steering is by address, not to one worker: 30 sources reach both.
        for i in range(30):
            self.assertTrue(served(held.add(connect_from(
                port, "127.0.0.%d" % (10 + i)))))
        per = connections_per_worker(d, 2)
        self.assertEqual(sum(per.values()), 30)
        self.assertTrue(all(n > 0 for n in per.values()), per)
        held.close()
        self.assertEqual(d.stop(), 0)

    def test_per_source_rate_holds_across_two_workers(self):
        d = self.daemon(string.Template(STEER_CONF % (
            2, "per_source_rate = 1/m 1\n        reuseport = yes"))
            .substitute(echo=0), expect=EXPECT_REFUSALS)
        port = d.port("echo")
        with connect_from(port, "127.0.0.2") as s:
            self.assertTrue(served(s))
        got = [refused_tcp(port, "127.0.0.2") for i in range(ATTEMPTS)]
        self.assertEqual(got, [True] * ATTEMPTS)
        d.wait_log(STEERED_RE)
        with connect_from(port, "127.0.0.3") as s:
            self.assertTrue(served(s))
        wait_refusals(self, d, "echo", "rate", ATTEMPTS)
        self.assertEqual(d.stop(), 0)

    def test_ipv6_sources_are_steered_by_their_prefix(self):
        if not HAVE6:
            self.skipTest("no IPv6")
        d = self.daemon("""
            workers = 2
            refuse_banner = busy
            service echo {
                listen = [::1]:0
                module = echo
                per_source = 1
                per_source_ipv6_prefix = 128
            }
            """, expect=EXPECT_REFUSALS)
        port = d.port("echo")
        held = ClientSet(self)
        self.assertTrue(served(held.add(connect_from(port, "::1", "::1"))))
        for i in range(ATTEMPTS):
            with connect_from(port, "::1", "::1") as s:
                self.assertEqual(evitest.recv_until_eof(s), b"busy\r\n")
        wait_refusals(self, d, "echo", "per_source", ATTEMPTS)
        # Without "reuseport", per_source implies it.
        d.wait_log(r'^service "echo": listening on \[::1\]:\d+ \(tcp\), '
                   r'one socket per worker \(reuseport, by source '
                   r'address\)$')
        held.close()
        self.assertEqual(d.stop(), 0)

    def test_reloads_that_grow_and_shrink_the_group_keep_it_exact(self):
        conf = STEER_CONF % (2, "per_source = 1\n        isolate = yes\n"
                             "        reuseport = yes\n        workers = %d")
        d = self.daemon(string.Template(conf % 2).substitute(echo=0),
                        args=["-v"], expect=EXPECT_REFUSALS + [
                            r"reused from the previous configuration$"])
        port = d.port("echo")
        for n in (3, 2):
            held = ClientSet(self)
            mark = d.mark()
            write_conf(d, conf % n, echo=port)
            reload(d)
            settle(d, n)
            self.check_per_source(d, port, held)
            d.wait_log(r'^service "echo": 127\.0\.0\.1:%d: each source '
                       r'address reaches one of %d workers$' % (port, n),
                       since=mark)
            wait_refusals(self, d, "echo", "per_source", ATTEMPTS,
                          since=mark)
            held.close()
        self.assertEqual(d.stop(), 0)

    def test_reuseport_no_with_per_source_is_an_error(self):
        tmp = self.tempdir()
        path = tmp.join("steer.conf")
        rc, out, err = evitest.run_check("""
            workers = 2
            service echo {
                listen = 127.0.0.1:0
                module = echo
                per_source = 1
                reuseport = no
            }
            """, path=path)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r'(?m)^%s:6: service "echo": per_source and '
                         r'per_source_rate need a socket per worker to '
                         r'hold across 2 workers; remove "reuseport = no"$'
                         % re.escape(path))


class TestSteerUDP(evitest.TestCase):

    def test_udp_per_source_rate_holds_across_two_workers(self):
        d = self.daemon("""
            workers = 2
            service echo {
                listen = 127.0.0.1:0
                protocol = udp
                module = echo
                per_source_rate = 1/m 1
                reuseport = yes
            }
            """, expect=EXPECT_REFUSALS)
        port = d.port("echo", "udp")

        def ask(src):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((src, 0))
                s.connect(("127.0.0.1", port))
                s.send(b"hi")
                s.settimeout(0.3)
                try:
                    return s.recv(64)
                except socket.timeout:
                    return None
        self.assertEqual(ask("127.0.0.2"), b"hi")
        got = [ask("127.0.0.2") for i in range(ATTEMPTS)]
        self.assertEqual(got, [None] * ATTEMPTS)
        self.assertEqual(ask("127.0.0.3"), b"hi")
        wait_refusals(self, d, "echo", "rate", ATTEMPTS)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
