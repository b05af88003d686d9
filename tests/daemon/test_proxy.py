#!/usr/bin/env python3
"""The PROXY protocol, receiving side (issue 16, point 1), through the real
daemon: HAProxy (send-proxy, send-proxy-v2) and evinetd's own forward
module (send_proxy) in front of a proxy_protocol echo service, and headers
made here by hand.  Clients bind 127.0.0.2 or 127.0.0.3, so the client a
header names differs from the balancer, which connects from 127.0.0.1.

It checks that the named client is the peer everywhere (the connection
log with via=, only_from, per_source), that a source not in proxy_from is
refused, that every malformed header class and a silent balancer are
closed and counted while the daemon serves on, that a v2 LOCAL header
keeps the balancer as the peer, and 1000 proxied connections at once.
"""

import re
import shutil
import signal
import socket
import struct
import time
import unittest

import evitest
from test_forward import HAPROXY_HEAD, HAProxy
from test_limits import EXPECT_REFUSALS, connect_from, wait_refusals
from test_supervisor import reload, settle, write_conf

IO = evitest.IO_TIMEOUT
SCALE = evitest.TIMEOUT_SCALE

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"

# proxy.c, proxy_fail.
EXPECT_BAD = [r'^service "[^"]+": closing a connection from \S+: PROXY '
              r'header: .+ \(\d+ more since the last report\)$']

ECHO = """
    workers = 1
    service echo {
        listen = 127.0.0.1:%(port)s
        module = echo
        proxy_protocol = %(version)s
        proxy_from = 127.0.0.1
        log_connections = yes
    %(extra)s
    }
    """


def v1(src, sport, dst="127.0.0.1", dport=7):
    return b"PROXY TCP4 %s %s %d %d\r\n" % (src.encode(), dst.encode(),
                                           sport, dport)


def v2(src, sport, dst="127.0.0.1", dport=7, cmd=0x21, tlvs=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + bytes([cmd, 0x11]) + struct.pack("!H", len(body)) + body


def close_re(peer, via=None):
    """The echo service's close line for PEER, with via=VIA or none."""
    return re.compile(r'^event=close service=echo proto=tcp peer=%s %s'
                      r'local_port=\d+ ' % (
                          re.escape(peer), "via=%s " % via if via else ""))


def round_trip(sock, data=b"hello"):
    """Sends DATA, half-closes, returns all that comes back."""
    return evitest.transfer(sock, data, shut_wr=True)


def closed_unserved(sock, data=b"hello"):
    """True if the daemon closed SOCK without echoing anything (a reset
    is a close too: the daemon does not read what it refuses)."""
    try:
        sock.sendall(data)
        return evitest.recv_until_eof(sock) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


class ProxyCase(evitest.TestCase):

    def echo(self, version="any", extra="", expect=(), **kw):
        return self.daemon(ECHO % {"version": version, "extra": extra,
                                   "port": 0},
                           expect=list(expect) + EXPECT_REFUSALS +
                           EXPECT_BAD, **kw)

    def assert_proxied(self, d, port):
        """A client from 127.0.0.2 echoes through the balancer on PORT;
        the echo service's close line names it, and 127.0.0.1 as via."""
        mark = d.mark()
        with connect_from(port, src="127.0.0.2") as s:
            self.assertEqual(round_trip(s), b"hello")
            peer = "127.0.0.2:%d" % s.getsockname()[1]
        d.wait_log(close_re(peer, r"127\.0\.0\.1:\d+"), since=mark)

    def header_errors(self, d):
        """The echo service's PROXY header errors, from a SIGUSR1 dump."""
        mark = d.mark()
        d.send_signal(signal.SIGUSR1)
        d.wait_log(r'^state: service "echo": listener ', since=mark)
        n = 0
        for line in d.log_lines(mark):
            m = re.search(r'^state: service "echo": PROXY header errors '
                          r'(\d+)$', line)
            if m:
                n = int(m.group(1))
        return n


# HAProxy in front of the echo service, sending %(send)s.
HAPROXY_BALANCER = HAPROXY_HEAD + """
    frontend fe
        bind fd@%(fd)d
        default_backend be
    backend be
        server evi 127.0.0.1:%(echo)d %(send)s
    """


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed")
class TestHAProxy(ProxyCase):

    def through(self, send):
        d = self.echo()
        hap = HAProxy(self, d.port("echo"), HAPROXY_BALANCER, send=send)
        self.assert_proxied(d, hap.port)
        self.assertEqual(d.stop(), 0)

    def test_send_proxy_v1_names_the_client_and_the_balancer(self):
        self.through("send-proxy")

    def test_send_proxy_v2_names_the_client_and_the_balancer(self):
        self.through("send-proxy-v2")

    def test_only_from_admits_and_refuses_by_the_real_client(self):
        d = self.echo(extra="only_from = 127.0.0.2")
        hap = HAProxy(self, d.port("echo"), HAPROXY_BALANCER,
                      send="send-proxy-v2")
        with connect_from(hap.port, src="127.0.0.3") as s:
            self.assertTrue(closed_unserved(s))
            refused = "127.0.0.3:%d" % s.getsockname()[1]
        wait_refusals(self, d, "echo", "acl", 1)
        d.wait_log(r'refused 1 connection \(acl\), last from %s: not '
                   r'allowed by only_from' % re.escape(refused))
        with connect_from(hap.port, src="127.0.0.2") as s:
            self.assertEqual(round_trip(s), b"hello")
        self.assertEqual(d.stop(), 0)


class TestHeaders(ProxyCase):

    def test_bytes_after_the_header_reach_the_module(self):
        d = self.echo()
        for hdr in (v1("192.0.2.1", 1111), v2("192.0.2.1", 2222)):
            mark = d.mark()
            with evitest.connect(d.port("echo")) as s:
                # One segment: header and data together.
                s.sendall(hdr + b"after")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(evitest.recv_until_eof(s), b"after")
                via = r"127\.0\.0\.1:%d" % s.getsockname()[1]
            port = struct.unpack("!H", hdr[24:26])[0] if hdr[0] == 13 \
                else int(hdr.split(b" ")[4])
            d.wait_log(close_re("192.0.2.1:%d" % port, via), since=mark)
        self.assertEqual(self.header_errors(d), 0)
        self.assertEqual(d.stop(), 0)

    def test_a_reload_waits_for_a_header_still_to_come(self):
        # A is accepted and waits for its header; B, connected after it,
        # is served, so the worker has taken A (one queue, in order).
        # Then a reload: the old worker has no connection, only A's wait,
        # and must not exit and cut it.
        d = self.echo()
        a = evitest.connect(d.port("echo"))
        self.addCleanup(a.close)
        with evitest.connect(d.port("echo")) as b:
            b.sendall(v1("192.0.2.1", 1111) + b"b")
            b.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(b), b"b")
        mark = d.mark()
        reload(d)
        d.wait_log(r"^stopping: waiting up to \d+ ms for 1 connection$",
                   since=mark)
        a.sendall(v2("192.0.2.2", 2222) + b"a")
        a.shutdown(socket.SHUT_WR)
        self.assertEqual(evitest.recv_until_eof(a), b"a")
        d.wait_log(r"^all connections finished$", since=mark)
        self.assertEqual(d.stop(), 0)

    def test_a_header_from_a_source_not_in_proxy_from_is_refused(self):
        d = self.echo()
        with connect_from(d.port("echo"), src="127.0.0.3") as s:
            s.sendall(v1("192.0.2.1", 1111))
            self.assertTrue(closed_unserved(s))
        wait_refusals(self, d, "echo", "acl", 1)
        d.wait_log(r'refused 1 connection \(acl\), last from '
                   r'127\.0\.0\.3:\d+: PROXY header from a source not in '
                   r'proxy_from$')
        self.assertEqual(d.stop(), 0)

    def test_per_source_counts_the_real_client(self):
        d = self.echo(extra="per_source = 1")
        first = evitest.connect(d.port("echo"))
        self.addCleanup(first.close)
        first.sendall(v1("192.0.2.1", 1000) + b"a")
        self.assertEqual(evitest.recv_exact(first, 1), b"a")
        with evitest.connect(d.port("echo")) as s:
            s.sendall(v1("192.0.2.1", 1001))
            self.assertTrue(closed_unserved(s))
        wait_refusals(self, d, "echo", "per_source", 1)
        d.wait_log(r'last from 192\.0\.2\.1:1001: per_source')
        # Another client through the same balancer is served.
        with evitest.connect(d.port("echo")) as s:
            s.sendall(v1("192.0.2.2", 1002))
            self.assertEqual(round_trip(s), b"hello")
        first.close()
        self.assertEqual(d.stop(), 0)

    def test_v2_local_keeps_the_balancer_as_the_peer(self):
        d = self.echo()
        mark = d.mark()
        with evitest.connect(d.port("echo")) as s:
            s.sendall(V2_SIG + b"\x20\x00\x00\x00")
            self.assertEqual(round_trip(s), b"hello")
            peer = "127.0.0.1:%d" % s.getsockname()[1]
        d.wait_log(close_re(peer), since=mark)
        self.assertEqual(d.stop(), 0)

    def test_every_malformed_header_is_closed_and_counted(self):
        d = self.echo(version="any")
        good = v2("192.0.2.1", 1)
        bad = [
            ("truncated", v1("192.0.2.1", 1)[:20]),
            ("truncated v2", good[:20]),
            ("garbage", b"GET / HTTP/1.0\r\n\r\n"),
            ("v1 garbage", b"PROXY TCP4 1.2.3.4 x 1 2\r\n"),
            ("v1 over 107", b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n"),
            ("v1 family", b"PROXY TCP4 ::1 ::2 1 2\r\n"),
            ("v2 signature", b"\r\n\r\n\x00\r\nQUIX\n" + good[12:]),
            ("v2 version", good[:12] + b"\x11" + good[13:]),
            ("v2 length", good[:14] + b"\x04\x01" + good[16:]),
            ("v2 family", good[:13] + b"\x21" + good[14:]),
        ]
        for what, hdr in bad:
            with evitest.connect(d.port("echo")) as s:
                if what.startswith("truncated"):
                    s.sendall(hdr)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(evitest.recv_until_eof(s), b"", what)
                else:
                    self.assertTrue(closed_unserved(s, hdr), what)
            # The daemon serves on.
            with evitest.connect(d.port("echo")) as s:
                s.sendall(good)
                self.assertEqual(round_trip(s), b"hello", what)
        self.assertEqual(self.header_errors(d), len(bad))
        d.wait_log(r'closing a connection from 127\.0\.0\.1:\d+: PROXY '
                   r'header: ')
        self.assertEqual(d.stop(), 0)

    def test_a_silent_connection_is_closed_after_proxy_timeout(self):
        d = self.echo(extra="proxy_timeout = 300ms")
        with evitest.connect(d.port("echo")) as s:
            start = time.monotonic()
            self.assertEqual(evitest.recv_until_eof(s), b"")
            took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.25)
        d.wait_log(r'PROXY header: none within proxy_timeout')
        self.assertEqual(self.header_errors(d), 1)
        self.assertEqual(d.stop(), 0)

    def test_a_v1_service_refuses_a_v2_header(self):
        d = self.echo(version="v1")
        with evitest.connect(d.port("echo")) as s:
            self.assertTrue(closed_unserved(s, v2("192.0.2.1", 1)))
        d.wait_log(r'PROXY header: a v2 header, but proxy_protocol = v1')
        self.assertEqual(d.stop(), 0)


FWD = """
    service fwd {
        listen = 127.0.0.1:0
        module = forward
        to = 127.0.0.1:$echo
        send_proxy = $send
    }
    """


class TestForward(ProxyCase):
    """evinetd's forward module (send_proxy) in front of a proxy_protocol
    echo service of the same daemon."""

    def through(self, send):
        d = self.echo(version=send)
        conf = ECHO % {"version": send, "extra": "",
                       "port": d.port("echo")} + FWD
        write_conf(d, conf, echo=d.port("echo"), send=send)
        reload(d)
        settle(d, 1)
        self.assert_proxied(d, d.port("fwd"))
        self.assertEqual(d.stop(), 0)

    def test_forward_send_proxy_v1(self):
        self.through("v1")

    def test_forward_send_proxy_v2(self):
        self.through("v2")


class TestConcurrency(ProxyCase):

    def test_1000_concurrent_proxied_connections(self):
        nclients = 1000
        if evitest.raise_nofile(nclients + 64) < nclients + 64:
            self.skipTest("RLIMIT_NOFILE too low for %d clients" % nclients)
        d = self.echo(version="any")
        sends, lines = [], []
        for i in range(nclients):
            src = "10.%d.%d.1" % (i // 256, i % 256)
            hdr = v1(src, 1000 + i) if i % 2 else v2(src, 1000 + i)
            lines.append(b"client %d\n" % i)
            sends.append(hdr + lines[-1])
        start = time.monotonic()
        socks = evitest.all_at_once(self, d.port("echo"), sends, lines)
        print("%d proxied connections open at once, each echoed, in %.2f s"
              % (nclients, time.monotonic() - start), flush=True)
        mark = d.mark()
        for s in socks:
            s.close()
        d.wait_log(r"^event=close service=echo proto=tcp peer=10\.\d+\.\d+"
                   r"\.1:\d+ via=127\.0\.0\.1:\d+ ", since=mark,
                   count=nclients, timeout=30)
        self.assertEqual(self.header_errors(d), 0)
        self.assertEqual(d.stop(), 0)


class TestConfig(evitest.TestCase):

    def test_proxy_protocol_without_proxy_from_is_an_error(self):
        path = self.tempdir().join("p.conf")
        rc, out, err = evitest.run_check("""
            service echo {
                listen = 127.0.0.1:0
                module = echo
                proxy_protocol = v2
            }
            """, path=path)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r'%s:4: service "echo": proxy_protocol needs '
                         r'"proxy_from' % re.escape(path))


if __name__ == "__main__":
    evitest.main()
