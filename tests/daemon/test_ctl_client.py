#!/usr/bin/env python3
"""evinetdctl(8) on its own: the real binary against a fake control
socket that records the bytes it gets and answers with canned responses
of protocol v1.  Covers the request line, the text and --json output of
every command, and the exit codes: 0 ok, 1 failed or usage error, 2 the
daemon cannot be reached or did not answer.  The end-to-end tests against
the real daemon are elsewhere."""

import json
import os
import socket
import stat
import subprocess
import threading
import time
import unittest

import evitest

EVINETDCTL = os.environ.get("EVINETDCTL") or os.path.join(
    os.path.dirname(os.path.dirname(evitest.EVINETD)), "ctl", "evinetdctl")

IO_TIMEOUT = 10.0 * evitest.TIMEOUT_SCALE

# A connection the fake daemon keeps open without a word, until the
# client gives up.
HOLD = object()


def ok(result):
    return (json.dumps({"version": 1, "ok": True, "result": result}) +
            "\n").encode()


def fail(error, errors=None):
    resp = {"version": 1, "ok": False, "error": error}
    if errors is not None:
        resp["errors"] = errors
    return (json.dumps(resp) + "\n").encode()


class FakeDaemon:
    """A UNIX socket in a temp dir that answers the Nth connection with
    the Nth canned response: bytes to send before closing, None to close
    without a word, or HOLD.  requests holds the bytes each connection
    sent (up to and with the first newline, or all of them up to EOF)."""

    def __init__(self, tmp, responses, name="ctl.sock"):
        self.path = tmp.join(name)
        self.responses = list(responses)
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(IO_TIMEOUT)
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_request(self, conn):
        data = b""
        while b"\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def _serve(self):
        try:
            for resp in self.responses:
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(IO_TIMEOUT)
                    self.requests.append(self._read_request(conn))
                    if resp is HOLD:
                        # Until the client closes: recv returns b"".
                        while conn.recv(4096):
                            pass
                    elif resp is not None:
                        conn.sendall(resp)
        except (OSError, socket.timeout) as e:
            self.error = e

    def pending(self):
        """Whether a connection waits that no response was left for."""
        self.thread.join(IO_TIMEOUT)
        self.sock.setblocking(False)
        try:
            self.sock.accept()[0].close()
            return True
        except BlockingIOError:
            return False

    def close(self):
        self.sock.close()
        self.thread.join(IO_TIMEOUT)


def run_ctl(args, timeout=IO_TIMEOUT, **kw):
    """Runs evinetdctl ARGS to completion: (rc, stdout, stderr)."""
    p = subprocess.run([EVINETDCTL] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


STATUS = {
    "version": "0.3.0", "pid": 123, "started": 1796000000,
    "uptime_ms": (2 * 3600 + 3 * 60 + 4) * 1000 + 567,
    "config": "/etc/evinetd.conf", "generation": 3, "reloads_ok": 2,
    "reloads_failed": 0, "worker_restarts": 1, "open_fds": 12,
    "workers": [
        {"pid": 124, "generation": 3, "group": "shared",
         "state": "serving", "services": ["echo", "daytime"],
         "connections": 4, "open_fds": 20},
        {"pid": 130, "generation": 3, "group": "web", "state": "serving",
         "services": ["web"], "connections": None, "open_fds": None},
        {"pid": 0, "generation": 3, "group": "iso",
         "state": "restarting", "services": ["crashy"]},
    ],
}

SERVICES = [
    {"name": "echo", "module": "echo", "protocol": "tcp",
     "listeners": ["127.0.0.1:7", "[::1]:7"], "tls": False,
     "state": "serving", "active": 1, "accepted": 10,
     "refused": {"acl": 2, "rate": 0, "disabled": 3},
     "bytes_in": 100, "bytes_out": 1536},
    {"name": "web", "module": "forward", "protocol": "tcp",
     "listeners": ["*:443"], "tls": True, "state": "disabled",
     "active": 0, "accepted": 12345, "refused": {"acl": 0},
     "bytes_in": 3 * 1024 * 1024, "bytes_out": 25 * 1024 ** 3},
]

CONNECTION = {
    "id": "124-7", "service": "echo", "peer": "127.0.0.1:40000",
    "via": None, "local": "127.0.0.1:7", "outbound": False,
    "age_ms": 1234, "idle_ms": 300, "bytes_in": 10, "bytes_out": 2048,
    "worker": 124, "child": None,
}

CONFIG = {
    "file": "/etc/evinetd.conf", "generation": 3,
    "global": [
        {"key": "workers", "value": ["1"], "from": "default"},
        {"key": "user", "value": ["evi"], "from": "/etc/evinetd.conf:2"},
        {"key": "pidfile", "value": None, "from": "default"},
    ],
    "services": [{
        "name": "daytime", "from": "/etc/evinetd.d/d.conf:3",
        "keys": [
            {"key": "listen", "value": ["127.0.0.1:13", "[::1]:13"],
             "from": "/etc/evinetd.d/d.conf:4"},
            {"key": "max_connections", "value": ["100"],
             "from": "/etc/evinetd.conf:4"},
            {"key": "refuse_banner", "value": ["go away # now"],
             "from": "/etc/evinetd.d/d.conf:5"},
            {"key": "only_from", "value": None, "from": "default"},
        ],
        "options": [
            {"key": "format", "value": ['say "hi" \\ %c'],
             "from": "/etc/evinetd.d/d.conf:6"},
            {"key": "timezone", "value": ["utc"], "from": "default"},
            {"key": "empty", "value": [""], "from": "default"},
            {"key": "words", "value": ["x#1", "a=b", "{", "C:\\dir"],
             "from": "default"},
        ],
    }],
}


class CtlTestCase(evitest.TestCase):

    def fake(self, *responses, tmp=None):
        d = FakeDaemon(tmp or self.tempdir(), responses)
        self.addCleanup(d.close)
        return d

    def ctl(self, fake, *args):
        return run_ctl(["-s", fake.path] + list(args))

    def request(self, fake, n=0):
        """The Nth request, checked to be one line of JSON, and parsed."""
        fake.close()
        self.assertIsNone(fake.error)
        raw = fake.requests[n]
        self.assertTrue(raw.endswith(b"\n"), raw)
        self.assertEqual(raw.count(b"\n"), 1, raw)
        self.assertLessEqual(len(raw), 4096)
        return json.loads(raw)


class TestRequest(CtlTestCase):
    """What evinetdctl sends: exactly one v1 request line."""

    def test_status_sends_one_version_1_line_with_no_args(self):
        d = self.fake(ok(STATUS))
        self.assertEqual(self.ctl(d, "status")[0], 0)
        self.assertEqual(self.request(d),
                         {"version": 1, "command": "status", "args": []})

    def test_arguments_travel_as_an_array_of_strings(self):
        cases = [
            (["drain", "echo", "500ms"], {"service": "echo",
                                          "state": "disabled",
                                          "drained": True,
                                          "waited_ms": 10}),
            (["drain", "echo"], {"service": "echo", "state": "disabled",
                                 "drained": True, "waited_ms": 10}),
            (["connections", "echo"], []),
            (["close", "124-7"], {"id": "124-7", "service": "echo"}),
            (["disable", "a service"], {"service": "a service",
                                        "state": "disabled"}),
        ]
        d = self.fake(*[ok(r) for _, r in cases])
        for argv, _ in cases:
            rc, out, err = self.ctl(d, *argv)
            self.assertEqual((rc, err), (0, ""), argv)
        for i, (argv, _) in enumerate(cases):
            self.assertEqual(self.request(d, i), {
                "version": 1, "command": argv[0], "args": argv[1:]})

    def test_the_socket_comes_from_s_or_socket(self):
        tmp = self.tempdir()
        d1 = FakeDaemon(tmp, [ok({"stopping": True})], name="one.sock")
        self.addCleanup(d1.close)
        d2 = FakeDaemon(tmp, [ok({"stopping": True})], name="two.sock")
        self.addCleanup(d2.close)
        self.assertEqual(run_ctl(["--socket=" + d2.path, "stop"]),
                         (0, "stopping\n", ""))
        self.assertEqual(run_ctl(["-s", d1.path, "stop"]),
                         (0, "stopping\n", ""))
        self.assertEqual(self.request(d1)["command"], "stop")
        self.assertEqual(self.request(d2)["command"], "stop")

    def test_the_default_socket_is_the_compiled_in_one(self):
        rc, out, err = run_ctl(["-h"])
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"\(default /\S*/evinetd\.sock\)")
        for cmd in ("status", "services", "connections [SERVICE]",
                    "disable SERVICE", "enable SERVICE",
                    "drain SERVICE [TIMEOUT]", "close ID", "reload",
                    "config", "stop"):
            self.assertIn("\n  %s\n" % cmd, out)


class TestUsage(CtlTestCase):
    """Usage errors exit 1 with a message and the usage line, and never
    connect."""

    def test_usage_errors_exit_1_and_send_nothing(self):
        d = self.fake()
        cases = [
            ([], "no command"),
            (["bogus"], 'unknown command "bogus"'),
            (["status", "x"], "status: too many arguments"),
            (["disable"], "disable: missing argument"),
            (["enable", "a", "b"], "enable: too many arguments"),
            (["drain"], "drain: missing argument"),
            (["drain", "echo", "5x"], 'invalid timeout "5x"'),
            (["drain", "echo", "5s", "x"], "drain: too many arguments"),
            (["close", "echo"], 'invalid connection id "echo"'),
            (["close", "124-"], 'invalid connection id "124-"'),
            (["-t", "soon", "status"], 'invalid timeout "soon"'),
            (["connections", "a", "b"], "connections: too many arguments"),
            (["reload", "now"], "reload: too many arguments"),
        ]
        for argv, msg in cases:
            rc, out, err = self.ctl(d, *argv)
            self.assertEqual((rc, out), (1, ""), argv)
            lines = err.splitlines()
            self.assertIn(msg, lines[0], argv)
            self.assertRegex(lines[1], r"^usage: evinetdctl ", argv)
        rc, out, err = self.ctl(d, "-Z", "status")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("usage: evinetdctl", err)
        self.assertFalse(d.pending())

    def test_version_and_help_exit_0(self):
        rc, out, err = run_ctl(["-V"])
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"^evinetdctl \d+\.\d+\.\d+ "
                              r"\(control protocol 1\)\n$")
        rc, out, err = run_ctl(["--help"])
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("usage: evinetdctl "))


class TestText(CtlTestCase):
    """The text output of each command, exactly."""

    def test_status_prints_figures_then_a_worker_table(self):
        d = self.fake(ok(STATUS))
        self.assertEqual(self.ctl(d, "status"), (0, (
            "version: 0.3.0\n"
            "pid: 123\n"
            "uptime: 2h 3m 4s\n"
            "config: /etc/evinetd.conf\n"
            "generation: 3\n"
            "reloads: 2 ok, 0 failed\n"
            "worker restarts: 1\n"
            "open fds: 12\n"
            "\n"
            "PID  GEN  GROUP   STATE       CONNS  FDS  SERVICES\n"
            "124    3  shared  serving         4   20  echo,daytime\n"
            "130    3  web     serving         -    -  web\n"
            "  0    3  iso     restarting      -    -  crashy\n"), ""))

    def test_a_figure_the_daemon_left_out_prints_as_a_dash(self):
        d = self.fake(ok({"version": "0.3.0", "workers": []}))
        self.assertEqual(self.ctl(d, "status"), (0, (
            "version: 0.3.0\n"
            "pid: -\n"
            "uptime: -\n"
            "config: -\n"
            "generation: -\n"
            "reloads: -\n"
            "worker restarts: -\n"
            "open fds: -\n"
            "\n"
            "PID  GEN  GROUP  STATE  CONNS  FDS  SERVICES\n"), ""))

    def test_uptime_leaves_out_leading_zero_units(self):
        for ms, text in [(0, "0s"), (59999, "59s"), (60000, "1m 0s"),
                         (90061000, "1d 1h 1m 1s")]:
            d = self.fake(ok(dict(STATUS, uptime_ms=ms, workers=[])))
            rc, out, err = self.ctl(d, "status")
            self.assertEqual(rc, 0)
            self.assertIn("\nuptime: %s\n" % text, out)

    def test_services_prints_a_table_and_the_refusals_by_reason(self):
        d = self.fake(ok(SERVICES))
        self.assertEqual(self.ctl(d, "services"), (0, (
            "NAME  MODULE   PROTO  STATE     ACTIVE  ACCEPTED  REFUSED  "
            "  IN   OUT  TLS  LISTENERS\n"
            "echo  echo     tcp    serving        1        10        5  "
            " 100  1.5K  no   127.0.0.1:7,[::1]:7\n"
            "web   forward  tcp    disabled       0     12345        0  "
            "3.0M   25G  yes  *:443\n"
            "echo: refused acl 2, disabled 3\n"), ""))

    def test_connections_prints_via_and_child_only_when_any_has_one(self):
        other = dict(CONNECTION, id="130-1", service="web",
                     peer="[2001:db8::1]:5000", via="10.0.0.1:5000",
                     age_ms=184000, idle_ms=59, bytes_in=5000000,
                     worker=130, child=4242)
        d = self.fake(ok([CONNECTION]), ok([CONNECTION, other]), ok([]))
        self.assertEqual(self.ctl(d, "connections"), (0, (
            "ID     SERVICE  PEER              AGE   IDLE  IN   OUT  "
            "WORKER\n"
            "124-7  echo     127.0.0.1:40000  1.2s  300ms  10  2.0K  "
            "   124\n"), ""))
        self.assertEqual(self.ctl(d, "connections"), (0, (
            "ID     SERVICE  PEER                 AGE   IDLE    IN   OUT  "
            "WORKER  VIA            CHILD\n"
            "124-7  echo     127.0.0.1:40000     1.2s  300ms    10  2.0K  "
            "   124  -                  -\n"
            "130-1  web      [2001:db8::1]:5000  3m4s   59ms  4.8M  2.0K  "
            "   130  10.0.0.1:5000   4242\n"), ""))
        self.assertEqual(self.ctl(d, "connections"), (0, (
            "ID  SERVICE  PEER  AGE  IDLE  IN  OUT  WORKER\n"), ""))

    def test_connections_prints_tls_only_when_any_has_it(self):
        tls = dict(CONNECTION, id="124-8", tls="TLSv1.3")
        hs = dict(CONNECTION, id="124-9", tls="handshake", child=77)
        d = self.fake(ok([CONNECTION, tls, hs]))
        self.assertEqual(self.ctl(d, "connections"), (0, (
            "ID     SERVICE  PEER              AGE   IDLE  IN   OUT  "
            "WORKER  CHILD  TLS\n"
            "124-7  echo     127.0.0.1:40000  1.2s  300ms  10  2.0K  "
            "   124      -  -\n"
            "124-8  echo     127.0.0.1:40000  1.2s  300ms  10  2.0K  "
            "   124      -  TLSv1.3\n"
            "124-9  echo     127.0.0.1:40000  1.2s  300ms  10  2.0K  "
            "   124     77  handshake\n"), ""))

    def test_the_one_line_commands(self):
        cases = [
            (["disable", "echo"], {"service": "echo", "state": "disabled"},
             "echo: disabled\n"),
            (["enable", "echo"], {"service": "echo", "state": "serving"},
             "echo: serving\n"),
            (["drain", "echo", "5s"], {"service": "echo",
                                       "state": "disabled",
                                       "drained": True, "waited_ms": 1234},
             "echo: drained in 1.2s\n"),
            (["drain", "echo"], {"service": "echo", "state": "disabled",
                                 "drained": True, "waited_ms": 0},
             "echo: drained in 0ms\n"),
            (["close", "124-7"], {"id": "124-7", "service": "echo"},
             "closed 124-7 (echo)\n"),
            (["reload"], {"generation": 4}, "reloaded: generation 4\n"),
            (["stop"], {"stopping": True}, "stopping\n"),
        ]
        d = self.fake(*[ok(r) for _, r, _ in cases])
        for argv, _, text in cases:
            self.assertEqual(self.ctl(d, *argv), (0, text, ""), argv)

    def test_config_shows_where_each_key_comes_from_quoted_as_written(self):
        d = self.fake(ok(CONFIG))
        self.assertEqual(self.ctl(d, "config"), (0, (
            "# /etc/evinetd.conf, generation 3\n"
            "global:\n"
            "  workers = 1  # default\n"
            "  user = evi  # from /etc/evinetd.conf:2\n"
            "  pidfile (unset)\n"
            "service daytime (/etc/evinetd.d/d.conf:3):\n"
            "  listen = 127.0.0.1:13 [::1]:13  # from "
            "/etc/evinetd.d/d.conf:4\n"
            "  max_connections = 100  # from /etc/evinetd.conf:4\n"
            '  refuse_banner = "go away # now"  # from '
            "/etc/evinetd.d/d.conf:5\n"
            "  only_from (unset)\n"
            '  format = "say \\"hi\\" \\\\ %c"  # from '
            "/etc/evinetd.d/d.conf:6\n"
            "  timezone = utc  # default\n"
            '  empty = ""  # default\n'
            '  words = "x#1" "a=b" "{" C:\\dir  # default\n'), ""))


class TestJson(CtlTestCase):
    """--json: the result, pretty-printed; on failure the whole
    response."""

    def test_json_prints_the_result_indented(self):
        d = self.fake(ok(STATUS), ok([]))
        rc, out, err = self.ctl(d, "--json", "status")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(json.loads(out), STATUS)
        self.assertTrue(out.startswith('{\n  "version": "0.3.0",\n'), out)
        self.assertEqual(self.ctl(d, "-j", "services"), (0, "[]\n", ""))

    def test_json_failure_prints_the_whole_response_and_exits_1(self):
        resp = {"version": 1, "ok": False, "error": "2 errors in x.conf",
                "errors": ["x.conf:1: a", "x.conf:2: b"]}
        d = self.fake((json.dumps(resp) + "\n").encode())
        rc, out, err = self.ctl(d, "--json", "reload")
        self.assertEqual((rc, err), (1, ""))
        self.assertEqual(json.loads(out), resp)


class TestExit(CtlTestCase):
    """Exit 1 for a failed command, 2 for a daemon that cannot be reached
    or does not answer properly."""

    def test_a_failed_command_exits_1_with_every_error_on_stderr(self):
        d = self.fake(fail("2 errors in /etc/evinetd.conf", [
            "/etc/evinetd.conf:3: unknown global key \"bogus\"",
            "/etc/evinetd.conf:9: service \"a\": module x.so: No such "
            "file or directory"]),
            fail('unknown service "nope"'))
        self.assertEqual(self.ctl(d, "reload"), (1, "", (
            "evinetdctl: 2 errors in /etc/evinetd.conf\n"
            "/etc/evinetd.conf:3: unknown global key \"bogus\"\n"
            "/etc/evinetd.conf:9: service \"a\": module x.so: No such "
            "file or directory\n")))
        self.assertEqual(self.ctl(d, "disable", "nope"), (
            1, "", 'evinetdctl: unknown service "nope"\n'))

    def test_no_socket_exits_2_and_asks_whether_evinetd_runs(self):
        path = self.tempdir().join("none.sock")
        self.assertEqual(run_ctl(["-s", path, "status"]), (2, "", (
            "evinetdctl: cannot connect to %s: No such file or directory;"
            " is evinetd running?\n" % path)))

    def test_a_socket_nobody_listens_on_exits_2(self):
        tmp = self.tempdir()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(tmp.join("dead.sock"))
        s.close()
        rc, out, err = run_ctl(["-s", tmp.join("dead.sock"), "status"])
        self.assertEqual((rc, out), (2, ""))
        self.assertRegex(err, r"^evinetdctl: cannot connect to \S+: "
                              r"Connection refused; is evinetd running\?\n$")

    def test_bad_answers_exit_2_saying_no_answer(self):
        cases = [
            (None, "it closed the connection without a word"),
            (b'{"version": 1, "ok": tr', "in the middle of the answer"),
            (b"hello\n", "garbled response"),
            (b"[1]\n", "not a JSON object"),
            (b'{"ok": true, "result": 1}\n', "no protocol version"),
            (b'{"version": 1, "ok": true}\n', 'no "ok" with a result'),
            (b'{"version": 1, "ok": false}\n', 'no "ok" with a result'),
            (b'{"version": 1, "ok": 1, "result": 1}\n', 'no "ok"'),
        ]
        d = self.fake(*[resp for resp, _ in cases])
        for resp, msg in cases:
            rc, out, err = self.ctl(d, "status")
            self.assertEqual((rc, out), (2, ""), resp)
            self.assertRegex(err, r"^evinetdctl: no answer from evinetd: ",
                             resp)
            self.assertIn(msg, err, resp)
            self.assertEqual(err.count("\n"), 1, err)

    def test_another_protocol_version_exits_2_naming_both(self):
        d = self.fake(b'{"version": 2, "ok": true, "result": {}}\n')
        rc, out, err = self.ctl(d, "status")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("evinetd answered in protocol version 2, this "
                      "evinetdctl speaks 1", err)

    def test_a_silent_daemon_times_out_after_t_with_exit_2(self):
        d = self.fake(HOLD, HOLD)
        for argv in (["-t", "300ms", "status"], ["-t", "300ms", "reload"]):
            start = time.monotonic()
            rc, out, err = self.ctl(d, *argv)
            took = time.monotonic() - start
            self.assertEqual((rc, out, err), (
                2, "", "evinetdctl: no answer from evinetd within "
                "300ms\n"), argv)
            self.assertGreaterEqual(took, 0.3)
            self.assertLess(took, IO_TIMEOUT)

    def test_the_answer_may_be_long_and_ends_at_the_first_newline(self):
        many = [dict(CONNECTION, id="124-%d" % i) for i in range(3000)]
        d = self.fake(ok(many) + b"trailing junk\n")
        rc, out, err = self.ctl(d, "--json", "connections")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(len(json.loads(out)), 3000)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to become nobody")
    def test_a_socket_the_user_may_not_open_exits_2_naming_the_cure(self):
        tmp = self.tempdir()
        os.chmod(tmp.path, 0o755)
        d = self.fake(tmp=tmp)
        os.chmod(d.path, 0)
        self.assertEqual(stat.S_IMODE(os.stat(d.path).st_mode), 0)

        def become_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        rc, out, err = run_ctl(["-s", d.path, "status"],
                               preexec_fn=become_nobody)
        self.assertEqual((rc, out, err), (2, "", (
            "evinetdctl: cannot connect to %s: Permission denied; need "
            "root, evinetd's user or a member of control_group\n" %
            d.path)))
        self.assertFalse(d.pending())


if __name__ == "__main__":
    evitest.main()
