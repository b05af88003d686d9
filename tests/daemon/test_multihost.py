#!/usr/bin/env python3
"""Several evinetd hosts behind a real HAProxy, each in a network namespace
of its own, as a site that outgrew one machine runs them (docs/scale-out.md).

The test builds, and removes afterwards, five namespaces joined by a bridge
in the first:

    lb   10.213.77.1    HAProxy, balance roundrobin, send-proxy-v2, checks
    h1   10.213.77.11   evinetd, echo with proxy_protocol = v2
    h2   10.213.77.12   "
    h3   10.213.77.13   "
    cl   10.213.77.21-23  the clients

Every address lives only inside those namespaces; nothing is routed
anywhere else.  It shows that each host logs the clients' real addresses
(via the balancer), that the load splits over the hosts, that reloading a
host loses no request, and that killing one makes HAProxy route around it
while only that host's connections in flight fail.

It needs root (namespaces), iproute2 and haproxy; without them it skips,
saying why."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

import evitest

SCALE = evitest.TIMEOUT_SCALE
NET = "10.213.77"
LB = NET + ".1"
HOSTS = {"h1": NET + ".11", "h2": NET + ".12", "h3": NET + ".13"}
CLIENTS = [NET + ".21", NET + ".22", NET + ".23"]
FRONT_PORT = 7000
ECHO_PORT = 7007


def why_not():
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "haproxy"):
        if shutil.which(tool) is None:
            return "needs %s" % tool
    probe = "evitest-probe-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if r.returncode != 0:
        return "cannot create a network namespace: %s" % (
            r.stderr.decode().strip())
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


WHY_NOT = why_not()


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


class Net:
    """The namespaces and their links; close() removes all of them."""

    def __init__(self):
        tag = "%x" % os.getpid()
        self.ns = {n: "evi%s-%s" % (n, tag) for n in
                   ["lb"] + list(HOSTS) + ["cl"]}
        self.made = []
        try:
            self._build(tag)
        except BaseException:
            self.close()
            raise

    def _build(self, tag):
        for ns in self.ns.values():
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        lb = self.ns["lb"]
        ip("-n", lb, "link", "add", "br0", "type", "bridge")
        ip("-n", lb, "addr", "add", LB + "/24", "dev", "br0")
        ip("-n", lb, "link", "set", "br0", "up")
        addrs = dict(HOSTS)
        addrs["cl"] = CLIENTS
        for name, addr in addrs.items():
            ns = self.ns[name]
            # Both ends are made in lb, then one moves: no name in the
            # root namespace, where another test might use it.
            ip("-n", lb, "link", "add", "p" + name, "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", lb, "link", "set", "p" + name, "master", "br0")
            ip("-n", lb, "link", "set", "p" + name, "up")
            for a in (addr if isinstance(addr, list) else [addr]):
                ip("-n", ns, "addr", "add", a + "/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def prefix(self, name):
        return ["ip", "netns", "exec", self.ns[name]]

    def close(self):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


HOST_CONF = """
    service echo {
        listen = %s:%d
        module = echo
        proxy_protocol = v2
        proxy_from = %s/32
        log_connections = yes
    }
    """

HAPROXY_CONF = """
global
    nbthread 1
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend front
    bind %s:%d
    option tcplog
    default_backend hosts
backend hosts
    balance roundrobin
%s
"""


class TestMultiHost(evitest.TestCase):

    def setUp(self):
        if WHY_NOT is not None:
            self.skipTest(WHY_NOT)
        self.net = Net()
        self.addCleanup(self.net.close)
        self.hosts = {}
        for name, addr in HOSTS.items():
            self.hosts[name] = self.daemon(
                HOST_CONF % (addr, ECHO_PORT, LB),
                prefix=self.net.prefix(name),
                expect=[r'^event=close service=echo '])
        servers = "".join(
            "    server %s %s:%d send-proxy-v2 check check-send-proxy "
            "inter 100ms fall 2 rise 1\n" % (n, a, ECHO_PORT)
            for n, a in HOSTS.items())
        tmp = self.tempdir()
        cfg = tmp.write("haproxy.cfg", HAPROXY_CONF % (LB, FRONT_PORT,
                                                      servers))
        self.haproxy = subprocess.Popen(
            self.net.prefix("lb") + ["haproxy", "-db", "-f", cfg],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_haproxy)
        self.wait_all_up()

    def stop_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.send_signal(signal.SIGUSR1)
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()

    def in_cl(self, code, timeout=60):
        """Runs python CODE in the client namespace; returns its stdout
        lines.  The clients live there, so the helper runs there."""
        r = subprocess.run(self.net.prefix("cl") + ["python3", "-c", code],
                           capture_output=True, timeout=timeout * SCALE)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return r.stdout.decode().split()

    def requests(self, n, src=CLIENTS[0], hold=0.0):
        """N echo requests from SRC through the balancer, one connection
        each; returns how many were answered right."""
        code = """
import socket, time
ok = 0
for i in range(%d):
    try:
        s = socket.socket()
        s.settimeout(5)
        s.bind((%r, 0))
        s.connect((%r, %d))
        msg = b"request %%d\\n" %% i
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            c = s.recv(100)
            if not c:
                break
            got += c
        time.sleep(%r)
        ok += got == msg
        s.close()
    except OSError:
        pass
print(ok)
""" % (n, src, LB, FRONT_PORT, hold)
        return int(self.in_cl(code)[0])

    def wait_all_up(self):
        """Until a round of requests reaches every host (HAProxy's checks
        have passed): bounded."""
        deadline = time.monotonic() + 20 * SCALE
        while time.monotonic() < deadline:
            marks = {n: d.mark() for n, d in self.hosts.items()}
            # 0 until HAProxy listens: it starts in the background.
            if self.requests(6) == 6 and all(self.served(n, marks[n])
                                             for n in self.hosts):
                return
        self.fail("HAProxy did not bring up all three hosts")

    def served(self, name, since=0):
        """HOST's connection-log lines of clients that came through the
        balancer (HAProxy's health checks, LOCAL headers, have no via=)."""
        return [ln for ln in self.hosts[name].log_lines(since)
                if ln.startswith("event=close service=echo ") and
                " via=" in ln]

    def test_hosts_see_real_clients_and_share_the_load(self):
        marks = {n: d.mark() for n, d in self.hosts.items()}
        for src in CLIENTS:
            self.assertEqual(self.requests(6, src=src), 6)
        seen = set()
        for name in HOSTS:
            lines = self.served(name, marks[name])
            # roundrobin: 18 requests, 6 each.
            self.assertEqual(len(lines), 6, (name, lines))
            for ln in lines:
                m = re.search(r" peer=(\S+):\d+ via=(\S+):\d+ ", ln)
                self.assertIsNotNone(m, ln)
                self.assertEqual(m.group(2), LB)
                seen.add(m.group(1))
        self.assertEqual(seen, set(CLIENTS))

    def test_reloading_a_host_loses_no_request(self):
        # Requests run in the client namespace while h1 reloads twice.
        p = subprocess.Popen(
            self.net.prefix("cl") + ["python3", "-c", """
import socket
ok = 0
for i in range(300):
    try:
        s = socket.create_connection((%r, %d), timeout=5)
        s.sendall(b"x" * 10)
        got = b""
        while len(got) < 10:
            c = s.recv(10)
            if not c:
                break
            got += c
        ok += got == b"x" * 10
        s.close()
    except OSError:
        pass
print(ok)
""" % (LB, FRONT_PORT)], stdout=subprocess.PIPE)
        h1 = self.hosts["h1"]
        for _ in range(2):
            mark = h1.mark()
            h1.send_signal(signal.SIGHUP)
            h1.wait_log(r"^reload: generation \d+ serving", since=mark)
        out, _ = p.communicate(timeout=60 * SCALE)
        self.assertEqual(int(out), 300)

    def test_a_killed_host_is_routed_around(self):
        # Two connections held open on each host; then h2 dies.  Only
        # its connections fail; new requests all succeed.
        h2 = self.hosts["h2"]
        held = subprocess.Popen(
            self.net.prefix("cl") + ["python3", "-c", """
import socket, sys
socks = []
for i in range(6):
    s = socket.create_connection((%r, %d), timeout=5)
    s.sendall(b"hold\\n")
    assert s.recv(5) == b"hold\\n"
    socks.append(s)
print("ready", flush=True)
sys.stdin.readline()
alive = 0
for s in socks:
    try:
        s.sendall(b"more\\n")
        alive += s.recv(5) == b"more\\n"
    except OSError:
        pass
print(alive, flush=True)
""" % (LB, FRONT_PORT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.assertEqual(held.stdout.readline().strip(), b"ready")
        # The whole host dies at once: supervisor and worker.
        for pid in h2.pids():
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(h2.wait_exit(), -signal.SIGKILL)
        self.assertEqual(self.requests(30), 30)
        out, _ = held.communicate(b"go\n", timeout=10 * SCALE)
        # roundrobin put two of the six on h2: those failed, no other.
        self.assertEqual(int(out.split()[-1]), 4)


if __name__ == "__main__":
    evitest.main()
