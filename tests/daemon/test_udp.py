#!/usr/bin/env python3
"""UDP services under attack, through the real daemon: another user
cannot bind a UDP service's port and steal its datagrams (and reloads
still take over the sockets).

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


if __name__ == "__main__":
    evitest.main()
