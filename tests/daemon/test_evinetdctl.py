#!/usr/bin/env python3
"""evinetdctl against the real daemon (issue 17): every command in text
and in JSON, the exit codes (0 done, 1 failed, 2 unreachable), a user who
may not control the daemon, a drain and a close a script would do, a
reload that fails with every FILE:LINE error while the old config serves
on, the effective config across an include, and 100 evinetdctl at once
while the daemon serves.

The protocol itself is test_control.py's; the client's own behaviour
against a fake socket is test_ctl_client.py's.
"""

import json
import os
import subprocess
import unittest

import evitest
from test_control import ECHO, REFUSED_DISABLED, EchoLoad, echo_once, \
    refused
from test_supervisor import wait_until, write_conf

EVINETDCTL = os.environ.get("EVINETDCTL")
IO = evitest.IO_TIMEOUT * evitest.TIMEOUT_SCALE


def ctl(d, *argv, user=None, timeout=IO):
    """Runs evinetdctl on D's socket; returns (exit code, stdout,
    stderr).  USER (a uid) runs it as that user, with no groups."""
    def drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(user)

    p = subprocess.run([EVINETDCTL, "-s", d.control_path] + list(argv),
                       capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL,
                       preexec_fn=drop if user is not None else None)
    return p.returncode, p.stdout, p.stderr


def ctl_json(d, *argv):
    """evinetdctl --json ...; the result, after checking exit 0."""
    rc, out, err = ctl(d, "--json", *argv)
    if rc != 0:
        raise AssertionError("evinetdctl --json %s: exit %d: %s%s" % (
            " ".join(argv), rc, out, err))
    return json.loads(out)


@unittest.skipUnless(EVINETDCTL, "EVINETDCTL is not set (run with make check)")
class TestEveryCommand(evitest.TestCase):

    def test_status(self):
        d = self.daemon(ECHO)
        rc, out, err = ctl(d, "status")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("pid: %d\n" % d.pid, out)
        self.assertIn("config: %s\n" % d.conf_path, out)
        self.assertIn("generation: 1\n", out)
        self.assertRegex(out, r"\n *%d +1 +shared +serving +0 +\d+ +"
                         r"echo,stats\n" % d.pids()[1])
        st = ctl_json(d, "status")
        self.assertEqual((st["pid"], st["generation"]), (d.pid, 1))
        self.assertEqual([w["pid"] for w in st["workers"]], d.pids()[1:])

    def test_services(self):
        d = self.daemon(ECHO)
        echo_once(d.port("echo"))
        # The worker counts the echo after writing it, and closes after
        # the client: both settle at once (bounded), before we look.
        wait_until(lambda: [(s["active"], s["bytes_out"]) for s in
                            ctl_json(d, "services")][0] == (0, 5),
                   evitest.IO_TIMEOUT, "the echo to be counted and closed")
        rc, out, err = ctl(d, "services")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"\necho +echo +tcp +serving +0 +1 +0 +5 +5 +"
                         r"no +127\.0\.0\.1:%d\n" % d.port("echo"))
        svcs = ctl_json(d, "services")
        self.assertEqual([(s["name"], s["accepted"]) for s in svcs],
                         [("echo", 1), ("stats", 0)])

    def test_connections_and_close(self):
        d = self.daemon(ECHO)
        with evitest.connect(d.port("echo")) as a, \
                evitest.connect(d.port("echo")) as b:
            for s in (a, b):
                s.sendall(b"x")
                evitest.recv_exact(s, 1)
            conns = ctl_json(d, "connections", "echo")
            self.assertEqual(len(conns), 2)
            victim = [c for c in conns
                      if c["peer"] == "%s:%d" % a.getsockname()][0]
            rc, out, err = ctl(d, "connections")
            self.assertEqual(rc, 0, err)
            self.assertIn("\n%s " % victim["id"], out)
            self.assertIn(" %s " % victim["peer"], out)
            rc, out, err = ctl(d, "close", victim["id"])
            self.assertEqual((rc, out, err),
                             (0, "closed %s (echo)\n" % victim["id"], ""))
            self.assertEqual(a.recv(1), b"")
            b.sendall(b"y")
            self.assertEqual(evitest.recv_exact(b, 1), b"y")
            rc, out, err = ctl(d, "close", victim["id"])
            self.assertEqual((rc, err), (1, "evinetdctl: no connection %s\n"
                                         % victim["id"]))
            self.assertEqual(ctl(d, "connections", "nope")[0], 1)

    def test_disable_enable_drain(self):
        d = self.daemon(ECHO, expect=[REFUSED_DISABLED])
        port = d.port("echo")
        with evitest.connect(port) as live:
            live.sendall(b"a")
            evitest.recv_exact(live, 1)
            self.assertEqual(ctl(d, "disable", "echo"),
                             (0, "echo: disabled\n", ""))
            self.assertEqual(refused(port), b"closed for maintenance\r\n")
            live.sendall(b"b")
            self.assertEqual(evitest.recv_exact(live, 1), b"b")
            rc, out, err = ctl(d, "drain", "echo", "200ms")
            self.assertEqual(rc, 1)
            self.assertEqual(err, 'evinetdctl: service "echo" still has 1 '
                             'connection after 200ms\n')
            self.assertEqual(ctl_json(d, "enable", "echo"),
                             {"service": "echo", "state": "serving"})
        echo_once(port)
        rc, out, err = ctl(d, "drain", "echo", "10s")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^echo: drained in \S+\n$")
        self.assertEqual(refused(port), b"closed for maintenance\r\n")
        self.assertEqual(ctl(d, "enable", "echo"), (0, "echo: serving\n", ""))
        echo_once(port)

    def test_reload_ok_and_broken(self):
        d = self.daemon(ECHO)
        port = d.port("echo")
        # The same port in generation 2, so that its socket carries over.
        write_conf(d, ECHO.replace("127.0.0.1:0", "127.0.0.1:%d" % port, 1))
        self.assertEqual(ctl(d, "reload"), (0, "reloaded: generation 2\n",
                                            ""))
        write_conf(d, """
            service echo {
                listen = 127.0.0.1:%d
                module = echo
                idle_timeout = forever
            }
            service two {
                listen = 127.0.0.1:0
                module = nosuch
            }
            """ % port)
        rc, out, err = ctl(d, "reload")
        self.assertEqual((rc, out), (1, ""))
        lines = err.splitlines()
        self.assertRegex(lines[0], r"^evinetdctl: 2 errors in %s$" %
                         d.conf_path)
        self.assertRegex(lines[1], r"^%s:4: .*idle_timeout" % d.conf_path)
        self.assertRegex(lines[2], r"^%s:\d+: .*nosuch" % d.conf_path)
        self.assertEqual(len(lines), 3)
        d.expect(r"^reload failed: ", r"^%s:\d+: " % d.conf_path)
        echo_once(port)                         # generation 2 serves on
        self.assertEqual(ctl_json(d, "status")["generation"], 2)

    def test_config_with_an_include(self):
        tmp = self.tempdir()
        inc = tmp.write("svc.conf", """
            service echo {
                listen = 127.0.0.1:0
                module = echo
            }
            """)
        d = self.daemon("""
            per_source = 5
            include = %s
            """ % inc)
        rc, out, err = ctl(d, "config")
        self.assertEqual(rc, 0, err)
        self.assertIn("service echo (%s:1):\n" % inc, out)
        self.assertIn("  listen = 127.0.0.1:0  # from %s:2\n" % inc, out)
        self.assertIn("  per_source = 5  # from %s:1\n" % d.conf_path, out)
        self.assertIn("  shutdown_timeout = 10s  # default\n", out)
        self.assertIn("  control_socket = %s  # from command line (-S)\n" %
                      d.control_path, out)
        self.assertIn("  module_dir = %s  # from command line (-M)\n" %
                      evitest.MODULE_DIR, out)
        cf = ctl_json(d, "config")
        keys = {k["key"]: k for k in cf["services"][0]["keys"]}
        self.assertEqual(keys["per_source"]["from"], d.conf_path + ":1")

    def test_stop(self):
        d = self.daemon(ECHO)
        self.assertEqual(ctl(d, "stop"), (0, "stopping\n", ""))
        self.assertEqual(d.wait_exit(), 0)
        rc, out, err = ctl(d, "status")
        self.assertEqual(rc, 2)
        self.assertIn("is evinetd running?", err)


@unittest.skipUnless(EVINETDCTL, "EVINETDCTL is not set (run with make check)")
class TestWho(evitest.TestCase):

    @unittest.skipUnless(os.geteuid() == 0, "needs root to be nobody")
    def test_nobody_is_refused(self):
        d = self.daemon(ECHO, expect=[r"^control socket: refused uid 65534"])
        os.chmod(d.tmp.path, 0o755)
        rc, out, err = ctl(d, "status", user=65534)
        self.assertEqual(rc, 2)                  # the file's mode
        self.assertIn("ermission denied", err)
        os.chmod(d.control_path, 0o666)
        rc, out, err = ctl(d, "disable", "echo", user=65534)
        self.assertEqual(rc, 1)                  # the daemon's word
        self.assertEqual(err, "evinetdctl: permission denied: uid 65534 is "
                         "not allowed to control evinetd\n")
        echo_once(d.port("echo"))
        self.assertEqual(ctl_json(d, "services")[0]["state"], "serving")


@unittest.skipUnless(EVINETDCTL, "EVINETDCTL is not set (run with make check)")
class TestLoad(evitest.TestCase):

    def test_a_hundred_at_once_while_serving(self):
        d = self.daemon("workers = 2\n" + ECHO)
        port = d.port("echo")
        with EchoLoad(port) as load:
            procs = [subprocess.Popen(
                [EVINETDCTL, "-s", d.control_path, "--json", "status"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL) for _ in range(100)]
            results = [p.communicate(timeout=60 * evitest.TIMEOUT_SCALE)
                       + (p.returncode,) for p in procs]
        for out, err, rc in results:
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(json.loads(out)["workers"]), 2)
        self.assertGreater(load.served, 0)
        echo_once(port)


if __name__ == "__main__":
    unittest.main()
