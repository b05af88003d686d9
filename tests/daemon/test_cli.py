#!/usr/bin/env python3
"""The command line, exit codes and signals of evinetd (evinetd(8)): -n
and its error report, -V, -h, usage errors, the pid file, bind failures,
port 0, and the graceful stop on SIGTERM."""

import os
import re
import signal
import socket
import time
import unittest

import evitest

ECHO_CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    """

# The lists of known keys in some messages grow as features add keys, so
# the tests match them loosely; the rest of each line is exact.
KNOWN = r"[^()]*"


def echo_once(port, data, host="127.0.0.1"):
    with evitest.connect(port, host=host) as s:
        return evitest.transfer(s, data)


class TestCheck(evitest.TestCase):
    """evinetd -n: check the config and the modules, then exit."""

    def test_check_of_a_good_config_prints_configuration_ok(self):
        rc, out, err = evitest.run_check(ECHO_CONF)
        self.assertEqual((rc, out, err), (0, "configuration OK\n", ""))

    def test_check_reports_every_error_as_file_line_message(self):
        path = self.tempdir().join("bad.conf")
        rc, out, err = evitest.run_check("""\
            bogus = 1
            service a {
                listen = 127.0.0.1:0 1.2.3:7
                module = echo
            }
            service b {
                listen = 127.0.0.1:0
                module = nosuchmod
            }
            service c {
                listen = 127.0.0.1:0
                module = echo
                colour = blue
            }
            """, path=path)
        moddir = os.path.realpath(evitest.MODULE_DIR)
        expected = [
            r'%s:1: unknown global key "bogus" \(known: %s\)' % (
                re.escape(path), KNOWN),
            re.escape('%s:3: service "a": listen: invalid address "1.2.3" '
                      '(expected an IPv4 address, [IPv6] or *; host names '
                      'are not resolved)' % path),
            re.escape('%s:8: service "b": module %s/nosuchmod.so: No such '
                      'file or directory' % (path, moddir)),
            r'%s:13: service "c": unknown key "colour" \(not a core key: '
            r'%s; and module "echo" has no such option\)' % (
                re.escape(path), KNOWN),
            re.escape("%s: 4 errors, not starting" % path),
        ]
        lines = err.splitlines()
        self.assertEqual(len(lines), len(expected), err)
        for line, rx in zip(lines, expected):
            self.assertRegex(line, "^%s$" % rx)
        self.assertEqual((rc, out), (1, ""))

    def test_check_rejects_a_malformed_address_instead_of_guessing(self):
        # glibc's getaddrinfo() takes "1.2.3" as 1.2.0.3; that must be an
        # error, never some address the user did not write.
        path = self.tempdir().join("evinetd.conf")
        rc, out, err = evitest.run_check("""
            service e {
                listen = 1.2.3:7
                module = echo
            }
            """, path=path)
        self.assertEqual(rc, 1, err)
        self.assertIn('%s:2: service "e": listen: invalid address "1.2.3"'
                      % path, err)

    def test_check_catches_an_unknown_module_option(self):
        path = self.tempdir().join("evinetd.conf")
        rc, out, err = evitest.run_check("""
            service e {
                listen = 127.0.0.1:0
                module = echo
                colour = blue
            }
            """, path=path)
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err.splitlines()[0],
                         r'^%s:4: service "e": unknown key "colour" ' %
                         re.escape(path))

    def test_missing_module_names_the_path_tried(self):
        path = self.tempdir().join("evinetd.conf")
        rc, out, err = evitest.run_check("""
            service e {
                listen = 127.0.0.1:0
                module = nosuchmod
            }
            """, path=path)
        self.assertEqual(rc, 1)
        self.assertIn('%s:3: service "e": module %s/nosuchmod.so: No such '
                      'file or directory\n' % (
                          path, os.path.realpath(evitest.MODULE_DIR)), err)

    def test_missing_config_file_is_a_config_error(self):
        path = self.tempdir().join("absent.conf")
        rc, out, err = evitest.run_evinetd(["-n", "-f", path, "-M",
                                            evitest.MODULE_DIR])
        self.assertEqual(rc, 1)
        self.assertIn("%s: No such file or directory\n" % path, err)

    def test_missing_module_dir_is_a_config_error(self):
        tmp = self.tempdir()
        path = tmp.write("evinetd.conf", ECHO_CONF)
        rc, out, err = evitest.run_evinetd(["-n", "-f", path, "-M",
                                            tmp.join("nodir")])
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("module directory %s: No such file or directory\n" %
                      tmp.join("nodir"), err)

    def test_starting_with_a_bad_config_exits_1_and_reports_it(self):
        tmp = self.tempdir()
        path = tmp.write("evinetd.conf", """
            service e {
                listen = 127.0.0.1:0
                module = echo
                colour = blue
            }
            """)
        rc, out, err = evitest.run_evinetd(["-d", "-f", path, "-M",
                                            evitest.MODULE_DIR])
        self.assertEqual(rc, 1)
        self.assertIn('%s:4: service "e": unknown key "colour"' % path, err)
        self.assertNotIn("ready", err.split())


class TestUsage(unittest.TestCase):
    """-V, -h and usage errors."""

    def test_version_prints_the_version(self):
        for flag in ("-V", "--version"):
            rc, out, err = evitest.run_evinetd([flag])
            self.assertEqual(rc, 0)
            self.assertRegex(out, r"^evinetd \d+\.\d+\S* \(module ABI "
                             r"\d+\.\d+\)\n$")

    def test_help_prints_usage_and_exits_0(self):
        for flag in ("-h", "--help"):
            rc, out, err = evitest.run_evinetd([flag])
            self.assertEqual(rc, 0)
            self.assertTrue(out.startswith("usage: evinetd"), out)
            self.assertIn("--check", out)

    def test_unknown_flag_exits_1(self):
        for args in (["-x"], ["--no-such-flag"], ["stray-argument"]):
            rc, out, err = evitest.run_evinetd(args)
            self.assertEqual(rc, 1, args)
            self.assertIn("usage: evinetd", err)
            self.assertEqual(out, "")


class TestStartup(evitest.TestCase):
    """Binding, the pid file, and the ports the daemon logs."""

    def test_port_already_in_use_is_a_runtime_error(self):
        holder, port = evitest.hold_port("127.0.0.1")
        self.addCleanup(holder.close)
        path = self.tempdir().write("evinetd.conf", """
            service echo {
                listen = 127.0.0.1:%d
                module = echo
            }
            """ % port)
        rc, out, err = evitest.run_evinetd(["-d", "-f", path, "-M",
                                            evitest.MODULE_DIR])
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r'%s:2: service "echo": listen 127\.0\.0\.1:'
                         r'%d: Address already in use' % (re.escape(path),
                                                          port))

    def test_port_0_is_logged_as_the_real_port(self):
        d = self.daemon(ECHO_CONF)
        addrs = d.addrs("echo")
        self.assertEqual(len(addrs), 1, addrs)
        host, port, proto = addrs[0]
        self.assertEqual((host, proto), ("127.0.0.1", "tcp"))
        self.assertNotEqual(port, 0)
        self.assertEqual(echo_once(port, b"port 0"), b"port 0")
        self.assertEqual(d.stop(), 0)

    @unittest.skipUnless(evitest.have_ipv6(), "no IPv6 on this host")
    def test_star_port_0_serves_ipv4_and_ipv6_on_one_port(self):
        d = self.daemon("""
            service echo {
                listen = *:0
                module = echo
            }
            service echo-udp {
                listen = *:0
                protocol = udp
                module = echo
            }
            """)
        for svc, proto in (("echo", "tcp"), ("echo-udp", "udp")):
            addrs = d.addrs(svc)
            self.assertEqual(sorted(h for h, p, pr in addrs),
                             ["0.0.0.0", "::"], addrs)
            ports = set(p for h, p, pr in addrs)
            self.assertEqual(len(ports), 1, addrs)
            self.assertNotIn(0, ports)
            self.assertEqual(set(pr for h, p, pr in addrs), {proto})
        port = d.port("echo")
        for host in ("127.0.0.1", "::1"):
            self.assertEqual(echo_once(port, host.encode(), host=host),
                             host.encode())
        port = d.port("echo-udp")
        for host, family in (("127.0.0.1", socket.AF_INET),
                             ("::1", socket.AF_INET6)):
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(evitest.IO_TIMEOUT)
                s.sendto(b"udp " + host.encode(), (host, port))
                self.assertEqual(s.recv(100), b"udp " + host.encode())
        self.assertEqual(d.stop(), 0)

    def test_pidfile_holds_the_pid_and_stops_a_second_instance(self):
        tmp = self.tempdir()
        pidfile = tmp.join("evinetd.pid")
        d = self.daemon(ECHO_CONF, args=["-p", pidfile])
        with open(pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % d.pid)
        # The second instance binds its own port 0, then finds the lock.
        conf2 = tmp.write("second.conf", ECHO_CONF)
        rc, out, err = evitest.run_evinetd(["-d", "-f", conf2, "-M",
                                            evitest.MODULE_DIR, "-p",
                                            pidfile])
        self.assertNotEqual(rc, 0, err)
        self.assertIn("pid file %s is locked: evinetd is already running "
                      "(pid %d)" % (pidfile, d.pid), err)
        self.assertNotIn("ready", err.split())
        # The first instance is unharmed.
        with open(pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % d.pid)
        self.assertEqual(echo_once(d.port("echo"), b"still"), b"still")
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(pidfile), "pid file left behind")


class TestSignals(evitest.TestCase):
    """SIGTERM and SIGINT: stop accepting, let live connections finish
    within shutdown_timeout, exit 0; a second signal stops at once."""

    def test_sigterm_exits_0_and_logs_exiting(self):
        d = self.daemon(ECHO_CONF)
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        self.assertEqual(d.log_lines()[-1], "exiting")
        self.assertIn("received SIGTERM, stopping", d.log_lines())

    def test_sigint_exits_0(self):
        d = self.daemon(ECHO_CONF)
        self.assertEqual(d.stop(signal.SIGINT), 0)
        self.assertIn("received SIGINT, stopping", d.log_lines())
        self.assertEqual(d.log_lines()[-1], "exiting")

    def test_sigterm_lets_an_open_connection_finish(self):
        d = self.daemon("shutdown_timeout = 5s\n" + ECHO_CONF)
        port = d.port("echo")
        s = evitest.connect(port)
        self.addCleanup(s.close)
        self.assertEqual(evitest.transfer(s, b"before"), b"before")
        mark = d.mark()
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        d.wait_log(r"^stopping: waiting up to 5000 ms for 1 connection$",
                   since=mark)
        # No new clients...
        with self.assertRaises(ConnectionRefusedError):
            evitest.connect(port).close()
        # ...but the open one is still served.
        self.assertEqual(evitest.transfer(s, b"during" * 1000),
                         b"during" * 1000)
        self.assertTrue(d.running())
        s.close()
        rc = d.wait_exit(timeout=10)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 4.5, "the daemon waited for the timeout, "
                        "not for the client")
        d.wait_log(r"^all connections finished$", since=mark)
        self.assertNotIn("shutdown timeout", d.log_text())
        self.assertEqual(d.log_lines()[-1], "exiting")
        d.check_alerts()

    def test_second_sigterm_stops_at_once(self):
        d = self.daemon("shutdown_timeout = 1m\n" + ECHO_CONF)
        s = evitest.connect(d.port("echo"))
        self.addCleanup(s.close)
        self.assertEqual(evitest.transfer(s, b"x"), b"x")
        mark = d.mark()
        d.send_signal(signal.SIGTERM)
        d.wait_log(r"^stopping: waiting up to 60000 ms", since=mark)
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        d.wait_log(r"^stopping now$", since=mark)
        # The client's connection was closed by the daemon.
        try:
            self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        d.check_alerts()

    def test_shutdown_timeout_closes_what_is_left(self):
        d = self.daemon("shutdown_timeout = 300ms\n" + ECHO_CONF)
        s = evitest.connect(d.port("echo"))
        self.addCleanup(s.close)
        self.assertEqual(evitest.transfer(s, b"x"), b"x")
        mark = d.mark()
        d.send_signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(timeout=10), 0)
        d.wait_log(r"^shutdown timeout: closing 1 connection$", since=mark)
        try:
            self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        d.check_alerts()


class TestHarness(unittest.TestCase):
    """The "no alerts" check of evitest itself."""

    def test_alert_check_flags_sanitizers_fatal_and_unknown_warnings(self):
        lines = [
            "ready",
            'service "echo": listening on 127.0.0.1:7 (tcp)',
            "==123==ERROR: AddressSanitizer: heap-use-after-free",
            "SUMMARY: LeakSanitizer: 40 byte(s) leaked",
            "daemon/conn.c:306:9: runtime error: load of null pointer",
            "fatal: evbuffer_new failed",
            'service "echo": accept on 127.0.0.1:7: Bad file descriptor',
            'service "echo": expected trouble',
        ]
        self.assertEqual(evitest.find_alerts(lines, [r"expected trouble"]),
                         lines[2:7])


if __name__ == "__main__":
    evitest.main()
