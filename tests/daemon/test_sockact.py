#!/usr/bin/env python3
"""systemd socket activation, with the real launcher: evinetd started by
systemd-socket-activate(1), which binds the sockets, waits for the first
client and execs evinetd with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES,
as a systemd socket unit does.  A service takes a passed socket by its
address or by its name (listen = fd:NAME); the first client, who
connected before evinetd ran, is served; reloads keep serving on the
sockets, even one that a reload dropped and a later one brought back; a
passed socket nobody uses is a warning; fd:NAME with no such socket is a
FILE:LINE error at start and from -n.

Ports: the launcher binds them, so each test picks free ones (bind port
0, read it, close it) and starts over if another process took one in
between (the launcher then fails with "Address already in use").
"""

import os
import re
import shutil
import signal
import socket
import unittest

import evitest

ACTIVATE = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"
HAVE_ACTIVATE = os.access(ACTIVATE, os.X_OK)
HAVE6 = evitest.have_ipv6()

# What the launcher itself writes to stderr (the daemon's log, here).
LAUNCHER_LINES = [
    r'^Listening on \S+ as \d+\.$',
    r'^Communication attempt on fd \d+\.$',
    r'^Execing ',
]

UNUSED_RE = (r'^socket activation: fd (\d+) "([^"]*)" \((tcp|udp) (\S+)\) '
             r'is not used by any service$')


def free_port(kind=socket.SOCK_STREAM):
    """A port free on 127.0.0.1 a moment ago (the launcher binds it)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def activated(conf, nsocks=1, names=None, datagram=False, args=(),
              expect=(), addr="127.0.0.1:%d", more=()):
    """Starts evinetd under systemd-socket-activate on NSOCKS free ports
    (ADDR % port) and the addresses MORE, named NAMES ("a:b") if given,
    formatting the ports into CONF ($p0, $p1, ...).  Returns (daemon,
    ports) once the launcher listens: evinetd itself starts at the first
    client."""
    kind = socket.SOCK_DGRAM if datagram else socket.SOCK_STREAM
    for attempt in range(10):
        ports = [free_port(kind) for i in range(nsocks)]
        prefix = [ACTIVATE]
        for a in [addr % p for p in ports] + list(more):
            prefix += ["-l", a]
        if datagram:
            prefix.append("--datagram")
        if names is not None:
            prefix.append("--fdname=" + names)
        text = conf
        for i, p in enumerate(ports):
            text = text.replace("$p%d" % i, str(p))
        d = evitest.Daemon(text, args=args, prefix=prefix, wait_ready=False,
                           expect=LAUNCHER_LINES + list(expect))
        try:
            d.wait_log(r'^Listening on ', count=nsocks + len(more))
            return d, ports
        except evitest.DaemonError:
            busy = "Address already in use" in d.log_text()
            d._kill()
            d.tmp.close()
            if not busy:
                raise
    raise AssertionError("no free ports for the launcher in 10 tries")


def wake(port, datagram=False):
    """The first client, whose arrival makes the launcher exec evinetd:
    a connection (returned, open) or a datagram."""
    if datagram:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(evitest.IO_TIMEOUT * evitest.TIMEOUT_SCALE)
        s.sendto(b"first", ("127.0.0.1", port))
        return s
    return evitest.connect(port)


def fds_of(pid, target):
    """How many of process PID's descriptors are TARGET ("socket:[N]")."""
    d = "/proc/%d/fd" % pid
    n = 0
    for fd in os.listdir(d):
        try:
            n += os.readlink(os.path.join(d, fd)) == target
        except OSError:
            pass                # closed meanwhile
    return n


ECHO_BY_ADDRESS = """
    service echo {
        listen = 127.0.0.1:$p0
        module = echo
    }"""

ECHO_BY_NAME = """
    service echo {
        listen = fd:web
        module = echo
    }"""


@unittest.skipUnless(HAVE_ACTIVATE, "no systemd-socket-activate (Debian's "
                     "systemd package)")
class TestSocketActivation(evitest.TestCase):

    def start(self, conf, **kw):
        d, ports = activated(conf, **kw)
        self.addCleanup(self._close_daemon, d)
        return d, ports

    def test_a_socket_is_taken_by_its_address(self):
        d, (port,) = self.start(ECHO_BY_ADDRESS)
        with wake(port) as first:
            d.wait_ready()
            # Queued before evinetd ran, served by it now.
            self.assertEqual(evitest.transfer(first, b"early"), b"early")
        d.wait_log(r'^service "echo": listening on 127\.0\.0\.1:%d '
                   r'\(tcp, from systemd\)$' % port)
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"hi"), b"hi")
        # Taken, not bound: no other socket, no "unused" warning.
        self.assertEqual(d.addrs("echo"), [("127.0.0.1", port, "tcp")])
        # The supervisor keeps the passed socket (fd 3) and its
        # generation's duplicate; the worker only the duplicate it serves.
        sock = os.readlink("/proc/%d/fd/3" % d.pid)
        self.assertEqual(fds_of(d.pid, sock), 2)
        self.assertEqual([fds_of(w, sock) for w in d.pids()[1:]], [1])
        self.assertEqual(d.stop(), 0)

    def test_a_socket_is_taken_by_its_name(self):
        d, (port,) = self.start(ECHO_BY_NAME, names="web")
        with wake(port) as first:
            d.wait_ready()
            self.assertEqual(evitest.transfer(first, b"named"), b"named")
        d.wait_log(r'^service "echo": listening on 127\.0\.0\.1:%d '
                   r'\(tcp, from systemd\)$' % port)
        self.assertEqual(d.stop(), 0)

    def test_every_socket_of_a_name_is_taken(self):
        # FileDescriptorName= names every socket of a unit.
        d, ports = self.start(ECHO_BY_NAME, nsocks=2, names="web:web")
        with wake(ports[0]):
            d.wait_ready()
        for port in ports:
            with evitest.connect(port) as s:
                self.assertEqual(evitest.transfer(s, b"x"), b"x")
        self.assertEqual(sorted(p for h, p, pr in d.addrs("echo")),
                         sorted(ports))
        self.assertEqual(d.stop(), 0)

    @unittest.skipUnless(HAVE6, "no IPv6 on this host")
    def test_star_port_takes_a_dual_stack_socket(self):
        # "-l PORT" is [::]:PORT serving IPv4 too, as ListenStream=PORT.
        d, (port,) = self.start("""
            service echo {
                listen = $p0
                module = echo
            }""", addr="%d")
        with wake(port):
            d.wait_ready()
        self.assertEqual(d.addrs("echo"), [("::", port, "tcp")])
        for host in ("127.0.0.1", "::1"):
            with evitest.connect(port, host=host) as s:
                self.assertEqual(evitest.transfer(s, b"46"), b"46")
        self.assertEqual(d.stop(), 0)

    @unittest.skipUnless(HAVE6, "no IPv6 on this host")
    def test_star_port_binds_the_family_not_passed(self):
        d, (port,) = self.start("""
            service echo {
                listen = *:$p0
                module = echo
            }""", addr="0.0.0.0:%d")
        with wake(port):
            d.wait_ready()
        for mark in (0, d.mark()):
            d.wait_log(r'^service "echo": listening on 0\.0\.0\.0:%d \(tcp, '
                       r'from systemd\)$' % port, since=mark)
            d.wait_log(r'^service "echo": listening on \[::\]:%d \(tcp\)$'
                       % port, since=mark)
            for host in ("127.0.0.1", "::1"):
                with evitest.connect(port, host=host) as s:
                    self.assertEqual(evitest.transfer(s, b"46"), b"46")
            # A reload takes over the [::] socket it bound.
            if mark == 0:
                d.send_signal(signal.SIGHUP)
                d.wait_log(r'^reload: generation 2 serving ')
        self.assertEqual(d.stop(), 0)

    def test_a_socket_no_service_can_use_is_a_warning(self):
        tmp = self.tempdir()
        unusable = (r'^socket activation: fd 4 "unix": not an IPv4 or IPv6 '
                    r'socket; no service can use it$')
        d, (port,) = self.start(ECHO_BY_ADDRESS, names="echo:unix",
                                more=[tmp.join("sock")], expect=[unusable])
        with wake(port):
            d.wait_ready()
        d.wait_log(unusable)
        self.assertEqual(d.stop(), 0)

    def test_a_datagram_socket_serves_udp(self):
        d, (port,) = self.start("""
            service echo {
                listen = fd:dns
                protocol = udp
                module = echo
            }""", names="dns", datagram=True)
        with wake(port, datagram=True) as s:
            d.wait_ready()
            # The datagram that woke the launcher is answered.
            self.assertEqual(s.recvfrom(100)[0], b"first")
            s.sendto(b"again", ("127.0.0.1", port))
            self.assertEqual(s.recvfrom(100)[0], b"again")
        d.wait_log(r'^service "echo": listening on 127\.0\.0\.1:%d '
                   r'\(udp, from systemd\)$' % port)
        self.assertEqual(d.stop(), 0)

    def test_a_socket_no_service_uses_is_a_warning(self):
        d, ports = self.start(ECHO_BY_ADDRESS, nsocks=2, names="echo:spare",
                              expect=[UNUSED_RE])
        with wake(ports[0]):
            d.wait_ready()
        m = d.wait_log(UNUSED_RE)
        self.assertEqual(m.groups(), ("4", "spare", "tcp",
                                      "127.0.0.1:%d" % ports[1]))
        self.assertEqual(len([l for l in d.log_lines()
                              if re.search(UNUSED_RE, l)]), 1)
        self.assertEqual(d.stop(), 0)

    def refused(self, conf, rc, args=()):
        """Starts CONF (or checks it, with -n) with a socket named "web";
        evinetd must exit with RC.  Returns (daemon, port)."""
        d, (port,) = self.start(conf, names="web", args=args, expect=[r'.'])
        try:
            s = wake(port)
        except ConnectionResetError:
            # evinetd woke, refused the config and exited, closing the
            # socket, before our (non-blocking) connect was told it was
            # done: the wake-up happened all the same.
            s = None
        try:
            self.assertEqual(d.wait_exit(), rc)
        finally:
            if s is not None:
                s.close()
        return d, port

    def assert_no_socket(self, d, port, name, proto="tcp"):
        self.assertIn('%s:2: service "echo": listen fd:%s: no usable %s '
                      'socket named "%s" was passed (passed: "web" (tcp '
                      '127.0.0.1:%d))' % (d.conf_path, name, proto, name,
                                          port), d.log_lines())

    def test_a_missing_name_stops_the_start(self):
        d, port = self.refused(ECHO_BY_NAME.replace("web", "missing"), 1)
        self.assert_no_socket(d, port, "missing")

    def test_a_missing_name_fails_the_check(self):
        d, port = self.refused(ECHO_BY_NAME.replace("web", "missing"), 1,
                               args=["-n"])
        self.assert_no_socket(d, port, "missing")
        self.assertNotIn("configuration OK", d.log_lines())

    def test_a_name_of_the_wrong_type_is_an_error(self):
        d, port = self.refused("""
            service echo {
                listen = fd:web
                protocol = udp
                module = echo
            }""", 1, args=["-n"])
        self.assert_no_socket(d, port, "web", proto="udp")

    def test_two_services_cannot_share_a_socket(self):
        d, port = self.refused(ECHO_BY_NAME + """
            service again {
                listen = 127.0.0.1:$p0
                module = echo
            }""", 2)
        d.wait_log(r':6: service "again": listen 127\.0\.0\.1:%d: the socket '
                   r'systemd passed for 127\.0\.0\.1:%d \("web"\) is taken by '
                   r'service "echo" already$' % (port, port))

    def test_reloads_keep_serving_on_the_sockets(self):
        d, (port,) = self.start(ECHO_BY_NAME, names="web",
                                expect=[UNUSED_RE])
        with wake(port):
            d.wait_ready()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r'^reload: generation 2 serving ')
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"after"), b"after")
        # A reload that drops the service keeps the socket open: a client
        # still connects (into the backlog), and the reload that brings
        # the service back serves it.
        with open(d.conf_path, "w") as f:
            f.write("service other {\n listen = 127.0.0.1:0\n"
                    " module = echo\n}\n")
        d.send_signal(signal.SIGHUP)
        d.wait_log(r'^reload: generation 3 serving ')
        d.wait_log(UNUSED_RE)
        with evitest.connect(port) as waiting:
            with open(d.conf_path, "w") as f:
                f.write(evitest._dedent(ECHO_BY_NAME))
            d.send_signal(signal.SIGHUP)
            d.wait_log(r'^reload: generation 4 serving ')
            self.assertEqual(evitest.transfer(waiting, b"back"), b"back")
        self.assertEqual(d.stop(), 0)


class TestWithoutSockets(evitest.TestCase):
    """fd:NAME when nothing was passed: evinetd -n (which systemd runs as
    ExecStartPre= without the sockets) notes what it cannot check and
    passes; a start fails."""

    def test_check_notes_the_name_and_passes(self):
        tmp = self.tempdir()
        path = tmp.join("evinetd.conf")
        rc, out, err = evitest.run_check(ECHO_BY_NAME, path=path)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        self.assertEqual(err, '%s:2: service "echo": listen fd:web not '
                         'checked: no sockets were passed (they are when '
                         'systemd starts evinetd)\n' % path)

    def test_start_is_a_config_error(self):
        d = self.daemon(ECHO_BY_NAME, wait_ready=False, expect=[r'.'])
        self.assertEqual(d.wait_exit(), 1)
        self.assertIn('%s:2: service "echo": listen fd:web: no sockets were '
                      'passed to evinetd (LISTEN_FDS is not set; start it '
                      'from a systemd socket unit)' % d.conf_path,
                      d.log_lines())

    def test_a_bad_name_is_a_syntax_error(self):
        tmp = self.tempdir()
        path = tmp.join("evinetd.conf")
        rc, out, err = evitest.run_check(
            ECHO_BY_NAME.replace("fd:web", "fd:"), path=path)
        self.assertEqual(rc, 1, err)
        self.assertIn('%s:2: service "echo": listen: fd:NAME needs a name of 1 to '
                      '255 characters' % path, err)


if __name__ == "__main__":
    evitest.main()
