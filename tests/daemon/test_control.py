#!/usr/bin/env python3
"""The control socket through the real daemon (issue 17), at the protocol
level: the socket's file and who may use it, a stale socket replaced and a
live one refusing a second daemon, every command (status, services,
connections, disable, enable, drain, close, reload, config, stop) against
live connections, the disabled state across a reload, the "disabled" and
"admin" counters, bad requests, and many clients at once.  The evinetdctl
binary on top of it is test_evinetdctl.py's.

Requests go through evitest.Daemon.control (one JSON line each way); each
daemon has a control socket of its own in its temp dir (-S).  Every wait
has a deadline, and learns what it waits for from the daemon's answers,
its log or a connection.
"""

import grp
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

import evitest
from test_stats import scrape
from test_supervisor import wait_until, write_conf

IO = evitest.IO_TIMEOUT

ECHO = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
        refuse_banner = "closed for maintenance"
    }
    service stats {
        listen = 127.0.0.1:0
        module = stats
    }
    """

REFUSED_DISABLED = (r'^service "echo": refused \d+ connections? '
                    r'\(disabled\)')
BAD_REQUEST = r'^control socket: client pid \d+ uid \d+: '


def echo_once(port, data=b"ping\n"):
    """Asserts that a new connection to PORT echoes DATA."""
    with evitest.connect(port) as s:
        s.sendall(data)
        if evitest.recv_exact(s, len(data)) != data:
            raise AssertionError("no echo")


def refused(port):
    """What a new connection to PORT gets before the daemon closes it."""
    with evitest.connect(port) as s:
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


class EchoLoad:
    """A "with" block during which a thread keeps echoing on PORT, one
    connection after another; served counts them."""

    def __init__(self, port):
        self.port = port
        self.served = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        while not self._stop.is_set():
            echo_once(self.port)
            self.served += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(IO * evitest.TIMEOUT_SCALE)


def ok(answer):
    """The result of a successful answer; fails on an error answer."""
    if answer.get("version") != 1 or answer.get("ok") is not True:
        raise AssertionError("control failed: %r" % (answer,))
    return answer["result"]


def as_user(uid, gids, path, line):
    """Sends LINE to the control socket at PATH from a child process that
    runs as UID with the supplementary groups GIDS; returns (connect
    errno or 0, the answer)."""
    code = (
        "import os, socket, sys\n"
        "os.setgroups(%r); os.setgid(%d); os.setuid(%d)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.settimeout(%f)\n"
        "try:\n"
        "    s.connect(%r)\n"
        "except OSError as e:\n"
        "    print(e.errno); sys.exit(0)\n"
        "s.sendall(%r)\n"
        "data = b''\n"
        "while True:\n"
        "    c = s.recv(4096)\n"
        "    if not c: break\n"
        "    data += c\n"
        "print(0); print(data.decode())\n" % (
            list(gids), 65534, uid, IO * evitest.TIMEOUT_SCALE, path,
            line))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       timeout=IO * evitest.TIMEOUT_SCALE, text=True)
    if p.returncode != 0:
        raise AssertionError("child failed: %s" % p.stderr)
    err, _, rest = p.stdout.partition("\n")
    return int(err), (json.loads(rest) if rest.strip() else None)


STATUS = b'{"version": 1, "command": "status"}\n'


@unittest.skipUnless(os.geteuid() == 0, "needs root (file owners, uids)")
class TestSocket(evitest.TestCase):
    """The socket file, its mode, and who may talk on it."""

    def test_made_0600_root_and_removed_at_stop(self):
        d = self.daemon(ECHO)
        st = os.lstat(d.control_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual((st.st_uid, st.st_gid), (0, 0))
        d.wait_log(r"^control socket %s$" % d.control_path)
        d.stop()
        self.assertFalse(os.path.exists(d.control_path))

    def test_control_group_makes_it_0660(self):
        d = self.daemon("control_group = adm\n" + ECHO)
        st = os.lstat(d.control_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, grp.getgrnam("adm").gr_gid)

    def test_others_are_refused_whatever_the_mode(self):
        d = self.daemon(ECHO, expect=[r"^control socket: refused uid 65534"])
        os.chmod(d.tmp.path, 0o755)             # only the socket's mode
        # The mode keeps nobody out first ...
        err, _ = as_user(65534, [], d.control_path, STATUS)
        self.assertEqual(err, 13)           # EACCES
        # ... and with the mode opened, the kernel's word on the peer.
        os.chmod(d.control_path, 0o666)
        err, answer = as_user(65534, [], d.control_path, STATUS)
        self.assertEqual(err, 0)
        self.assertFalse(answer["ok"])
        self.assertEqual(answer["error"], "permission denied: uid 65534 is "
                         "not allowed to control evinetd")
        d.wait_log(r"^control socket: refused uid 65534 \(pid \d+\): not "
                   r"root, not uid 0, not in control_group$")
        echo_once(d.port("echo"))

    def test_a_member_of_control_group_may(self):
        adm = grp.getgrnam("adm").gr_gid
        d = self.daemon("control_group = adm\n" + ECHO)
        os.chmod(d.tmp.path, 0o755)
        err, answer = as_user(65534, [adm], d.control_path, STATUS)
        self.assertEqual(err, 0)
        self.assertTrue(answer["ok"], answer)
        self.assertEqual(answer["result"]["pid"], d.pid)

    def test_a_stale_socket_is_replaced(self):
        tmp = self.tempdir()
        path = tmp.join("ctl.sock")
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path)                    # bound, never listening
        d = self.daemon(ECHO, args=["-S", path])
        d.wait_log(r"^control socket %s was left by a daemon that is gone; "
                   r"replacing it$" % path)
        d.control_path = path
        self.assertEqual(ok(d.control("status"))["pid"], d.pid)

    def test_a_live_socket_keeps_a_second_daemon_out(self):
        d = self.daemon(ECHO)
        conf = self.tempdir().write("two.conf", """
            service echo {
                listen = 127.0.0.1:0
                module = echo
            }
            """)
        rc, out, err = evitest.run_evinetd(
            ["-d", "-f", conf, "-M", evitest.MODULE_DIR, "-S",
             d.control_path])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("control socket: %s answers: another evinetd is "
                      "running" % d.control_path, err)
        self.assertEqual(ok(d.control("status"))["pid"], d.pid)

    def test_what_is_not_a_socket_is_never_removed(self):
        tmp = self.tempdir()
        path = tmp.write("ctl.sock", "precious\n")
        conf = tmp.write("e.conf", ECHO)
        rc, out, err = evitest.run_evinetd(["-d", "-f", conf, "-M",
                                            evitest.MODULE_DIR, "-S", path])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("%s exists and is not a socket; not replacing it" %
                      path, err)
        with open(path) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_config_errors_name_the_line(self):
        conf = self.tempdir().write("c.conf", '''
            control_group = nosuchgroup
            control_socket = relative.sock
            ''' + ECHO)
        rc, out, err = evitest.run_evinetd(["-n", "-f", conf, "-M",
                                            evitest.MODULE_DIR])
        self.assertEqual(rc, 1)
        self.assertIn('%s:1: control_group "nosuchgroup": no such group' %
                      conf, err)
        self.assertIn('%s:2: control_socket "relative.sock": not an '
                      'absolute path (or none)' % conf, err)

    def test_none_means_no_socket(self):
        d = self.daemon(ECHO, args=["-S", "none"])
        self.assertFalse(os.path.exists(d.control_path))
        echo_once(d.port("echo"))


class TestBadRequests(evitest.TestCase):
    """Garbage is answered with an error, logged and forgotten."""

    def test_each_kind_of_bad_request(self):
        d = self.daemon(ECHO, expect=[BAD_REQUEST])
        cases = [
            (b"hello\n", "request is not JSON: "),
            (b"[1, 2]\n", "request is not a JSON object"),
            (b'{"command": "status"}\n', 'request has no integer "version"'),
            (b'{"version": 2, "command": "status"}\n',
             "unsupported protocol version 2 (this daemon speaks 1)"),
            (b'{"version": 1, "command": "status", "x": 1}\n',
             'unknown member "x"'),
            (b'{"version": 1, "command": "fly"}\n', 'unknown command "fly"'),
            (b'{"version": 1, "command": "status", "a\\nb": 1}\n',
             'unknown member "a?b"'),
            (b'{"version": 1, "command": "close"}\n', "usage: close ID"),
            (b'{"version": 1, "command": "disable", "args": [1]}\n',
             "argument 1 is not a word"),
            (b'{"version": 1, "command": "disable", "args": ["a\\u0000"]}\n',
             "request is not JSON: "),
        ]
        for line, error in cases:
            with self.subTest(line=line):
                answer = json.loads(d.control_raw(line))
                self.assertFalse(answer["ok"])
                self.assertTrue(answer["error"].startswith(error),
                                answer["error"])
        d.wait_log(BAD_REQUEST)
        self.assertEqual(ok(d.control("status"))["pid"], d.pid)

    def test_an_oversized_request_is_cut_off(self):
        d = self.daemon(ECHO, expect=[BAD_REQUEST])
        # No newline: the daemon answers once 4096 bytes came, and closes
        # while we still send.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(IO * evitest.TIMEOUT_SCALE)
            s.connect(d.control_path)
            try:
                s.sendall(b"x" * (1 << 20))
            except (BrokenPipeError, ConnectionResetError):
                pass
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
        if data:
            self.assertEqual(json.loads(data)["error"],
                             "request longer than 4096 bytes")
        d.wait_log(BAD_REQUEST + r"request too long$")
        # A line just over the limit, newline and all.
        answer = json.loads(d.control_raw(b"y" * 4096 + b"\n"))
        self.assertEqual(answer["error"], "request longer than 4096 bytes")
        self.assertEqual(ok(d.control("status"))["pid"], d.pid)
        echo_once(d.port("echo"))


class TestCommands(evitest.TestCase):

    def test_status(self):
        d = self.daemon("workers = 2\n" + ECHO)
        with evitest.connect(d.port("echo")) as c:
            c.sendall(b"x")
            evitest.recv_exact(c, 1)
            st = ok(d.control("status"))
            self.assertEqual(st["pid"], d.pid)
            self.assertEqual(st["config"], d.conf_path)
            self.assertEqual(st["generation"], 1)
            self.assertEqual((st["reloads_ok"], st["reloads_failed"]), (0, 0))
            self.assertGreater(st["open_fds"], 2)
            self.assertLessEqual(abs(st["started"] - time.time()), 60)
            self.assertEqual(len(st["workers"]), 2)
            for w in st["workers"]:
                self.assertEqual(w["state"], "serving")
                self.assertEqual(w["group"], "shared")
                self.assertEqual(w["services"], ["echo", "stats"])
                self.assertGreater(w["open_fds"], 2)
                self.assertIn(w["pid"], d.pids())
            self.assertEqual(sum(w["connections"] for w in st["workers"]), 1)

    def test_services(self):
        d = self.daemon(ECHO)
        echo_once(d.port("echo"))
        # The worker counts what it wrote after the write: the client may
        # read the echo first.  The figures settle at once, bounded.
        wait_until(lambda: ok(d.control("services"))[0]["bytes_out"] == 5,
                   IO, "the echo's bytes to be counted")
        svcs = ok(d.control("services"))
        self.assertEqual([s["name"] for s in svcs], ["echo", "stats"])
        e = svcs[0]
        self.assertEqual((e["module"], e["protocol"], e["tls"], e["state"]),
                         ("echo", "tcp", False, "serving"))
        self.assertEqual(e["listeners"], ["127.0.0.1:%d" % d.port("echo")])
        self.assertEqual(e["accepted"], 1)
        self.assertEqual((e["bytes_in"], e["bytes_out"]), (5, 5))
        self.assertEqual(e["refused"]["disabled"], 0)
        self.assertIn("acl", e["refused"])

    def test_connections_and_close_one(self):
        d = self.daemon(ECHO.replace("module = echo",
                                     "module = echo\nlog_connections = yes"))
        port = d.port("echo")
        a = evitest.connect(port)
        b = evitest.connect(port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        for s in (a, b):
            s.sendall(b"hi")
            evitest.recv_exact(s, 2)
        conns = ok(d.control("connections", "echo"))
        peers = {c["peer"]: c for c in conns}
        pa = "%s:%d" % a.getsockname()
        pb = "%s:%d" % b.getsockname()
        self.assertEqual(set(peers), {pa, pb})
        ca = peers[pa]
        self.assertEqual((ca["service"], ca["bytes_in"], ca["bytes_out"],
                          ca["outbound"], ca["via"], ca["child"], ca["tls"]),
                         ("echo", 2, 2, False, None, None, None))
        self.assertEqual(ca["local"], "127.0.0.1:%d" % port)
        self.assertIn(ca["worker"], d.pids())
        self.assertRegex(ca["id"], r"^%d-\d+$" % ca["worker"])
        self.assertGreaterEqual(ca["age_ms"], ca["idle_ms"])
        # All services: the same two (stats has none open).
        self.assertEqual(len(ok(d.control("connections"))), 2)
        self.assertEqual(d.control("connections", "nope")["error"],
                         'no service "nope"')

        mark = d.mark()
        self.assertEqual(ok(d.control("close", ca["id"])),
                         {"id": ca["id"], "service": "echo"})
        a.settimeout(IO)
        self.assertEqual(a.recv(10), b"")       # closed by the daemon
        d.wait_log(r"^event=close service=echo proto=tcp peer=%s .* "
                   r"reason=admin$" % pa, since=mark)
        b.sendall(b"still")
        self.assertEqual(evitest.recv_exact(b, 5), b"still")
        self.assertEqual([c["peer"] for c in ok(d.control("connections"))],
                         [pb])
        self.assertEqual(d.control("close", ca["id"])["error"],
                         "no connection %s" % ca["id"])
        self.assertEqual(d.control("close", "12")["error"],
                         'connection id "12" is not PID-NUMBER')
        m = scrape(d.port("stats"))
        self.assertEqual(m.value("evinetd_connections_closed_total",
                                 service="echo", reason="admin"), 1)

    def test_disable_and_enable_with_live_connections(self):
        d = self.daemon(ECHO, expect=[REFUSED_DISABLED])
        port = d.port("echo")
        live = evitest.connect(port)
        self.addCleanup(live.close)
        live.sendall(b"a")
        evitest.recv_exact(live, 1)
        self.assertEqual(ok(d.control("disable", "echo")),
                         {"service": "echo", "state": "disabled"})
        self.assertEqual(refused(port), b"closed for maintenance\r\n")
        d.wait_log(REFUSED_DISABLED)
        live.sendall(b"b")                      # the live one goes on
        self.assertEqual(evitest.recv_exact(live, 1), b"b")
        self.assertEqual(ok(d.control("services"))[0]["state"], "disabled")
        self.assertEqual(ok(d.control("enable", "echo")),
                         {"service": "echo", "state": "serving"})
        echo_once(port)                         # same socket, no rebind
        self.assertEqual(d.port("echo"), port)
        svc = ok(d.control("services"))[0]
        self.assertEqual((svc["state"], svc["refused"]["disabled"]),
                         ("serving", 1))
        m = scrape(d.port("stats"))
        self.assertEqual(m.value("evinetd_refused_total", service="echo",
                                 reason="disabled"), 1)
        self.assertEqual(d.control("disable", "nope")["error"],
                         'no service "nope"')

    def test_drain(self):
        d = self.daemon(ECHO, expect=[REFUSED_DISABLED])
        port = d.port("echo")
        live = evitest.connect(port)
        live.sendall(b"a")
        evitest.recv_exact(live, 1)
        # It cannot drain while the client stays.
        answer = d.control("drain", "echo", "300ms")
        self.assertFalse(answer["ok"])
        self.assertEqual(answer["error"], 'service "echo" still has 1 '
                         'connection after 300ms')
        self.assertEqual(refused(port), b"closed for maintenance\r\n")
        # It drains once the client goes: the answer comes then.
        result = {}

        def drain():
            result["answer"] = d.control("drain", "echo", "30s", timeout=40)

        t = threading.Thread(target=drain)
        t.start()
        wait_until(
            lambda: ok(d.control("services"))[0]["state"] == "draining",
            IO, "the drain to begin")
        live.close()
        t.join(40 * evitest.TIMEOUT_SCALE)
        r = ok(result["answer"])
        self.assertEqual((r["service"], r["state"], r["drained"]),
                         ("echo", "disabled", True))
        self.assertEqual(ok(d.control("services"))[0]["state"], "disabled")
        self.assertEqual(d.control("drain", "echo", "soon")["error"][:15],
                         "drain timeout: ")
        ok(d.control("enable", "echo"))
        echo_once(port)

    def test_disabled_stays_disabled_across_a_reload(self):
        d = self.daemon(ECHO, expect=[REFUSED_DISABLED])
        port = d.port("echo")
        ok(d.control("disable", "echo"))
        # The same port in the new config, so its socket carries over.
        write_conf(d, ECHO.replace("127.0.0.1:0", "127.0.0.1:%d" % port,
                                   1))
        self.assertEqual(ok(d.control("reload")), {"generation": 2})
        self.assertEqual(refused(port), b"closed for maintenance\r\n")
        self.assertEqual(ok(d.control("services"))[0]["state"], "disabled")
        ok(d.control("enable", "echo"))
        echo_once(port)

    def test_reload_answers_with_every_error(self):
        d = self.daemon(ECHO)
        port = d.port("echo")
        write_conf(d, """
            service echo {
                listen = 127.0.0.1:%d
                module = echo
                max_connections = lots
            }
            service other {
                module = nosuchmodule
            }
            """ % port)
        answer = d.control("reload")
        self.assertFalse(answer["ok"])
        self.assertRegex(answer["error"], r"^\d errors? in %s$" % d.conf_path)
        errors = answer["errors"]
        self.assertTrue(all(e.startswith(d.conf_path + ":")
                            for e in errors), errors)
        self.assertTrue(any(":4: " in e and "max_connections" in e
                            for e in errors), errors)
        self.assertTrue(any("nosuchmodule" in e for e in errors), errors)
        echo_once(port)                          # the old config serves on
        st = ok(d.control("status"))
        self.assertEqual((st["generation"], st["reloads_failed"]), (1, 1))
        d.expect(r"^reload failed: ", r"^%s:\d+: " % d.conf_path)

    def test_config_with_provenance_across_an_include(self):
        tmp = self.tempdir()
        quotes = tmp.write("quotes.txt", "Hello.\n")
        inc = tmp.write("echo.conf", """
            service echo {
                listen = 127.0.0.1:0
                module = qotd
                file = %s
            }
            """ % quotes)
        d = self.daemon("""
            idle_timeout = 42s
            include = %s
            """ % inc)
        cf = ok(d.control("config"))
        self.assertEqual(cf["file"], d.conf_path)
        self.assertEqual(cf["generation"], 1)
        glob = {k["key"]: k for k in cf["global"]}
        self.assertEqual(glob["shutdown_timeout"],
                         {"key": "shutdown_timeout", "value": ["10s"],
                          "from": "default"})
        self.assertNotIn("idle_timeout", glob)     # a service's key
        svc, = cf["services"]
        self.assertEqual((svc["name"], svc["from"], svc["module"]),
                         ("echo", inc + ":1", "qotd"))
        keys = {k["key"]: k for k in svc["keys"]}
        self.assertEqual(keys["listen"]["value"], ["127.0.0.1:0"])
        self.assertEqual(keys["listen"]["from"], inc + ":2")
        self.assertEqual(keys["idle_timeout"],
                         {"key": "idle_timeout", "value": ["42s"],
                          "from": d.conf_path + ":1"})
        self.assertEqual(keys["max_connections"]["value"], None)
        opts = {o["key"]: o for o in svc["options"]}
        self.assertEqual(opts["file"]["from"], inc + ":4")

    def test_stop(self):
        d = self.daemon(ECHO)
        self.assertEqual(ok(d.control("stop")), {"stopping": True})
        d.wait_log(r"^control: stop requested by uid \d+ \(pid \d+\)$")
        self.assertEqual(d.wait_exit(), 0)

    def test_many_clients_at_once_while_serving(self):
        d = self.daemon("workers = 2\n" + ECHO)
        port = d.port("echo")
        answers = []
        lock = threading.Lock()

        def status():
            a = d.control("status", timeout=30)
            with lock:
                answers.append(a)

        with EchoLoad(port) as load:
            threads = [threading.Thread(target=status) for _ in range(100)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60 * evitest.TIMEOUT_SCALE)
        self.assertEqual(len(answers), 100)
        for a in answers:
            self.assertEqual(len(ok(a)["workers"]), 2)
        self.assertGreater(load.served, 0)
        echo_once(port)


if __name__ == "__main__":
    unittest.main()
