#!/usr/bin/env python3
"""exec services through the real daemon, with real programs.

/bin/cat (16 MiB byte-exact, half-close), /usr/bin/env (the whole
environment), /usr/bin/id (user, group, groups), a script that shows
what the child inherits (descriptors, signal mask and dispositions, its
session), tftpd-hpa's in.tftpd as a UDP wait service, git daemon
--inetd, rsync --daemon, instances, rlimits, session_timeout, stop and
reload, exit statuses and signals in the connection log, a fork bomb
held by rlimit_nproc, 200 concurrent programs that leave no zombie,
"evinetd -n" errors, and the back-off of a wait service whose program
keeps dying.

Programs from packages (scripts/install-deps installs them) are skipped
with a message when absent.  Programs that run as "nobody" need every
directory on their path searchable, so the tests' own files live in a
temp dir opened to all (mode 0755) rather than the daemon's (0700).
The counters (st_exec_*) are asserted through the connection log only:
the stats module's evinetd_exec_* metrics are the lead's to add.
"""

import grp
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

import evitest
from test_stats import scrape

MiB = 1 << 20

NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrgid(NOBODY.pw_gid)

# The connection log line of a service's connection, with the program's
# end (stats.c, stats_log_close).
def closed_re(service, reason=r"\S+", end=r"(?: exit=\d+| signal=\w+)?"):
    return re.compile(
        r'^event=close service=%s proto=tcp peer=\S+ local_port=\d+ '
        r'duration_ms=(?P<ms>\d+) bytes_in=\d+ bytes_out=\d+ '
        r'reason=(?P<reason>%s)(?P<end>%s)$' % (re.escape(service), reason,
                                                end))


# A program's stderr, logged (stderr = log).
STDERR_RE = r'^service "[^"]+": pid \d+: '
REFUSAL_RE = (r'^service "[^"]+": refused \d+ connections? '
              r'\(max_connections\), last from \S+: every instance of the '
              r'program is running$')


def service(name, program, *keys, listen="127.0.0.1:0"):
    """A service block running PROGRAM, with more KEYS lines."""
    lines = ["service %s {" % name, "    listen = %s" % listen,
             "    module = exec", "    program = %s" % program,
             "    log_connections = yes"]
    lines += ["    " + k for k in keys]
    return "\n".join(lines + ["}", ""])


def need(*paths):
    """Skips the test unless every program in PATHS is installed."""
    for p in paths:
        if not os.access(p, os.X_OK):
            raise unittest.SkipTest("%s is not installed (scripts/"
                                    "install-deps installs it)" % p)


def proc_children(pid):
    """The pids of PID's children."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def proc_state(pid):
    """(state, ppid) of process PID, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def wait_gone(test, pid, timeout=evitest.IO_TIMEOUT):
    """Waits (bounded) until PID no longer exists, or is a zombie."""
    deadline = time.monotonic() + timeout * evitest.TIMEOUT_SCALE
    while time.monotonic() < deadline:
        st = proc_state(pid)
        if st is None or st[0] == "Z":
            return
        time.sleep(0.02)
    test.fail("process %d still runs after %.1f s" % (pid, timeout))


class ExecCase(evitest.TestCase):
    """Shared helpers: a world-searchable temp dir for scripts and data."""

    def pubdir(self):
        t = self.tempdir()
        os.chmod(t.path, 0o755)
        return t

    def script(self, t, name, text, mode=0o755):
        path = t.write(name, text)
        os.chmod(path, mode)
        return path


class TestStreams(ExecCase):
    def test_cat_16mib_byte_exact(self):
        d = self.daemon(service("cat", "/bin/cat"))
        data = os.urandom(16 * MiB)
        with evitest.connect(d.port("cat")) as s:
            got = evitest.transfer(s, data, shut_wr=True, timeout=60)
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "16 MiB came back changed")
        m = d.wait_log(closed_re("cat"))
        self.assertEqual((m.group("reason"), m.group("end")),
                         ("eof", " exit=0"))

    def test_cat_half_close(self):
        # Our FIN reaches cat as EOF on stdin; cat ends after writing all
        # it read, and its exit closes the connection: we read to EOF.
        d = self.daemon(service("cat", "/bin/cat"))
        with evitest.connect(d.port("cat")) as s:
            s.sendall(b"first line\n")
            self.assertEqual(evitest.recv_exact(s, 11), b"first line\n")
            s.sendall(b"last words, then FIN")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(s),
                             b"last words, then FIN")
        m = d.wait_log(closed_re("cat"))
        self.assertEqual(m.group("end"), " exit=0")


class TestRelay(ExecCase):
    """Behind a balancer (proxy_protocol), the daemon stays in the middle:
    the program gets a socketpair, plain bytes, and the client the PROXY
    header named in its environment."""

    def test_proxied_program_sees_the_real_client(self):
        d = self.daemon(service(
            "penv", "/bin/sh", 'args = sh -c "env; echo --; cat"',
            "proxy_protocol = v1", "proxy_from = 127.0.0.1"))
        with evitest.connect(d.port("penv")) as s:
            s.sendall(b"PROXY TCP4 192.0.2.7 192.0.2.1 4711 80\r\n"
                      b"sent with the header\n")
            s.shutdown(socket.SHUT_WR)
            got = evitest.recv_until_eof(s).decode()
        env, _, rest = got.partition("--\n")
        self.assertIn("TCPREMOTEIP=192.0.2.7\n", env)
        self.assertIn("TCPREMOTEPORT=4711\n", env)
        self.assertIn("REMOTE_HOST=192.0.2.7\n", env)
        self.assertNotIn("PROXY", rest)
        self.assertEqual(rest, "sent with the header\n")
        line = d.wait_log(r"^event=close service=penv proto=tcp "
                          r"peer=192\.0\.2\.7:4711 via=127\.0\.0\.1:\d+ "
                          r".* reason=eof").string
        self.assertRegex(line, r" bytes_in=21 ")
        # Relayed, the connection may end before the supervisor reports
        # the exit (the program's last bytes were still on their way):
        # then the status comes on a line of its own.
        if not line.endswith(" exit=0"):
            d.wait_log(r"^event=exit service=penv pid=\d+ exit=0$")

    def test_counters_in_metrics(self):
        d = self.daemon(service("ok", "/bin/true") +
                        service("bad", "/bin/false") + """
            service stats {
                listen = 127.0.0.1:0
                module = stats
            }
            """)
        for name in ("ok", "bad"):
            with evitest.connect(d.port(name)) as s:
                self.assertEqual(evitest.recv_until_eof(s), b"")
            d.wait_log(closed_re(name))
        m = scrape(d.port("stats"))
        for name, ok_, err in (("ok", 1, 0), ("bad", 0, 1)):
            self.assertEqual(m.value("evinetd_exec_started_total",
                                     service=name), 1)
            self.assertEqual(m.value("evinetd_exec_exit_ok_total",
                                     service=name), ok_)
            self.assertEqual(m.value("evinetd_exec_exit_error_total",
                                     service=name), err)
            self.assertEqual(m.value("evinetd_exec_signaled_total",
                                     service=name), 0)
            self.assertEqual(m.value("evinetd_exec_failed_total",
                                     service=name), 0)


class TestChild(ExecCase):
    def test_env_is_exactly_the_expected_set(self):
        d = self.daemon(
            service("env", "/usr/bin/env",
                    'env = "GREETING=hello world" "LANG=C.UTF-8"',
                    "passenv = EVITEST_PASSED EVITEST_UNSET"),
            env={"EVITEST_PASSED": "from the daemon",
                 "EVITEST_NOT_PASSED": "secret"})
        with evitest.connect(d.port("env")) as s:
            local = s.getsockname()
            out = evitest.recv_until_eof(s).decode()
        env = dict(line.split("=", 1) for line in out.splitlines())
        self.assertEqual(env, {
            "GREETING": "hello world",
            "LANG": "C.UTF-8",
            "EVITEST_PASSED": "from the daemon",
            "PROTO": "TCP",
            "TCPREMOTEIP": "127.0.0.1",
            "TCPREMOTEPORT": str(local[1]),
            "REMOTE_HOST": "127.0.0.1",
            "TCPLOCALIP": "127.0.0.1",
            "TCPLOCALPORT": str(d.port("env")),
        })
        self.assertEqual(len(out.splitlines()), len(env), out)

    def test_env_over_ipv6(self):
        if not evitest.have_ipv6():
            self.skipTest("no IPv6 on this host")
        d = self.daemon(service("env", "/usr/bin/env", listen="[::1]:0"))
        with evitest.connect(d.port("env"), host="::1") as s:
            local = s.getsockname()
            out = evitest.recv_until_eof(s).decode()
        env = dict(line.split("=", 1) for line in out.splitlines())
        self.assertEqual((env["TCPREMOTEIP"], env["TCPREMOTEPORT"],
                          env["TCPLOCALIP"], env["REMOTE_HOST"]),
                         ("::1", str(local[1]), "::1", "::1"))

    def test_id_user_group_groups(self):
        extra = grp.getgrnam("daemon")
        extra2 = grp.getgrnam("users")
        d = self.daemon(service(
            "id", "/usr/bin/id", "user = nobody",
            "group = %s" % NOGROUP.gr_name,
            "groups = daemon %d" % extra2.gr_gid))
        with evitest.connect(d.port("id")) as s:
            out = evitest.recv_until_eof(s).decode().strip()
        self.assertEqual(out, "uid=%d(nobody) gid=%d(%s) groups=%d(%s),"
                         "%d(daemon),%d(%s)" % (
                             NOBODY.pw_uid, NOGROUP.gr_gid, NOGROUP.gr_name,
                             NOGROUP.gr_gid, NOGROUP.gr_name, extra.gr_gid,
                             extra2.gr_gid, extra2.gr_name))

    def test_id_defaults_to_the_serving_user_and_no_groups(self):
        # The global user/group (the workers'), with groups cleared,
        # though root, which starts evinetd, may have supplementary ones.
        du = pwd.getpwnam("daemon")
        d = self.daemon("user = daemon\ngroup = daemon\n" +
                        service("id", "/usr/bin/id"))
        with evitest.connect(d.port("id")) as s:
            out = evitest.recv_until_eof(s).decode().strip()
        dg = grp.getgrgid(du.pw_gid)
        self.assertEqual(out, "uid=%d(daemon) gid=%d(%s) groups=%d(%s)" % (
            du.pw_uid, dg.gr_gid, dg.gr_name, dg.gr_gid, dg.gr_name))

    CHILD_SCRIPT = """\
        #!/bin/sh
        echo "pid $$"
        ls -l /proc/self/fd
        echo "stat $(cat /proc/$$/stat)"
        """

    def child_report(self, stderr):
        """What the script sees: (daemon, its pid, {fd: link}, the fields
        of its /proc/PID/stat after the name).  The daemon is started
        with a descriptor it does not need open (not close-on-exec)."""
        t = self.pubdir()
        prog = self.script(t, "child.sh", self.CHILD_SCRIPT)
        leak = os.open("/dev/null", os.O_RDONLY)
        self.addCleanup(os.close, leak)
        d = self.daemon(service("child", prog, "stderr = %s" % stderr),
                        pass_fds=(leak,))
        with evitest.connect(d.port("child")) as s:
            out = evitest.recv_until_eof(s).decode()
        pid = int(re.search(r"^pid (\d+)$", out, re.M).group(1))
        fds = dict(re.findall(r" (\d+) -> (\S+)$", out, re.M))
        stat = re.search(r"^stat (.*)$", out, re.M).group(1)
        fields = stat[stat.rindex(")") + 2:].split()
        return d, pid, fds, fields

    def test_child_fds_and_session(self):
        d, pid, fds, fields = self.child_report("log")
        # 0, 1: the connection; 2: the log pipe; 3: ls's own directory.
        self.assertEqual(sorted(fds, key=int), ["0", "1", "2", "3"], fds)
        self.assertTrue(fds["0"].startswith("socket:["), fds)
        self.assertEqual(fds["0"], fds["1"])
        self.assertTrue(fds["2"].startswith("pipe:["), fds)
        self.assertRegex(fds["3"], r"^/proc/\d+/fd$")
        # stat after the name: state ppid pgrp session.
        self.assertEqual(int(fields[1]), d.pid, "the supervisor's child")
        self.assertEqual(int(fields[2]), pid, "a process group leader")
        self.assertEqual(int(fields[3]), pid, "a session leader")

    # Starts evinetd with signals blocked and ignored, as a careless
    # parent (nohup, a shell) may: none of it may reach the programs.
    LAUNCHER = [sys.executable, "-c", (
        "import os, signal, sys\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, "
        "signal.SIGALRM, signal.SIGTERM})\n"
        "for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        # glibc's signal() refuses 32, which a parent built otherwise
        # may ignore: the kernel is asked directly (x86-64's numbers).
        "import ctypes, platform\n"
        "if platform.machine() == 'x86_64':\n"
        "    act = (ctypes.c_ulong * 4)(1, 0, 0, 0)\n"
        "    ctypes.CDLL(None, use_errno=True).syscall(13, 32, act, None, 8)\n"
        "os.execvp(sys.argv[1], sys.argv[1:])\n")]

    def test_child_signal_mask_and_dispositions(self):
        # grep itself is the program: no shell between it and evinetd.
        d = self.daemon(service(
            "sig", "/bin/grep", "args = grep -E ^Sig(Blk|Ign): "
            "/proc/self/status"), prefix=self.LAUNCHER)
        with open("/proc/%d/status" % d.pid) as f:
            mine = dict(re.findall(r"^(Sig\w+):\s+([0-9a-f]+)$", f.read(),
                                   re.M))
        self.assertNotEqual(int(mine["SigIgn"], 16) & (1 << (
            signal.SIGQUIT - 1)), 0, "the launcher did not ignore SIGQUIT")
        if platform.machine() == "x86_64":
            self.assertNotEqual(int(mine["SigIgn"], 16) & (1 << 31), 0,
                                "the launcher did not ignore signal 32")
        with evitest.connect(d.port("sig")) as s:
            out = evitest.recv_until_eof(s).decode()
        sig = dict(re.findall(r"^(Sig\w+):\s+([0-9a-f]+)$", out, re.M))
        self.assertEqual(sig, {"SigBlk": "0" * 16, "SigIgn": "0" * 16})

    def test_child_stderr_socket(self):
        d, pid, fds, fields = self.child_report("socket")
        self.assertEqual(sorted(fds, key=int), ["0", "1", "2", "3"], fds)
        self.assertEqual(fds["0"], fds["1"])
        self.assertEqual(fds["0"], fds["2"])

    def test_stderr_log_lines(self):
        t = self.pubdir()
        prog = self.script(t, "err.sh", """\
            #!/bin/sh
            echo "to the log" >&2
            printf 'no newline at the end' >&2
            echo out
            """)
        d = self.daemon(service("err", prog),
                        expect=[r'^service "err": pid \d+: (to the log|'
                                r'no newline at the end)$'])
        with evitest.connect(d.port("err")) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"out\n")
        d.wait_log(r'^service "err": pid \d+: to the log$')
        d.wait_log(r'^service "err": pid \d+: no newline at the end$')

    @unittest.skipIf(evitest.under_valgrind(), "valgrind emulates some "
                     "resource limits (data, stack, open files) in the "
                     "processes it runs, the supervisor included")
    def test_rlimits_visible_in_child(self):
        d = self.daemon(service(
            "limits", "/bin/cat", "args = cat /proc/self/limits",
            "rlimit_as = 512m", "rlimit_cpu = 1m", "rlimit_nofile = 256",
            "rlimit_nproc = 32", "rlimit_core = 0",
            "rlimit_data = unlimited", "rlimit_stack = 8m"))
        with evitest.connect(d.port("limits")) as s:
            out = evitest.recv_until_eof(s).decode()
        lim = {}
        for line in out.splitlines()[1:]:
            m = re.match(r"^(.+?)\s{2,}(\S+)\s+(\S+)", line)
            lim[m.group(1)] = (m.group(2), m.group(3))
        want = {
            "Max address space": str(512 * MiB),
            "Max cpu time": "60",
            "Max open files": "256",
            "Max processes": "32",
            "Max core file size": "0",
            "Max data size": "unlimited",
            "Max stack size": str(8 * MiB),
        }
        for name, value in want.items():
            self.assertEqual(lim[name], (value, value), name)

    def test_exit_status_and_signal_in_log(self):
        d = self.daemon(
            service("exit3", "/bin/sh", 'args = sh -c "exit 3"') +
            service("segv", "/bin/sh", 'args = sh -c "kill -SEGV $$"') +
            service("ok", "/bin/true"))
        for name in ("exit3", "segv", "ok"):
            with evitest.connect(d.port(name)) as s:
                self.assertEqual(evitest.recv_until_eof(s), b"")
        self.assertEqual(d.wait_log(closed_re("exit3")).group("end"),
                         " exit=3")
        self.assertEqual(d.wait_log(closed_re("segv")).group("end"),
                         " signal=SEGV")
        self.assertEqual(d.wait_log(closed_re("ok")).group("end"),
                         " exit=0")



class TestLifecycle(ExecCase):
    def test_instances_refusal(self):
        d = self.daemon(service("one", "/bin/cat", "instances = 1"),
                        expect=[REFUSAL_RE])
        with evitest.connect(d.port("one")) as first:
            self.assertEqual(evitest.transfer(first, b"mine"), b"mine")
            with evitest.connect(d.port("one")) as second:
                self.assertEqual(evitest.recv_until_eof(second), b"")
            m = d.wait_log(closed_re("one", reason="limit"))
            self.assertEqual(m.group("end"), "", "no program ran")
            d.wait_log(REFUSAL_RE)
            # The first still has its program.
            self.assertEqual(evitest.transfer(first, b"still"), b"still")
        d.wait_log(closed_re("one", reason="eof"))
        mark = d.mark()
        d.send_signal(signal.SIGUSR1)
        d.wait_log(r'^state: service "one": refused \(max_connections\) '
                   r'1$', since=mark)
        # A slot is free again.
        with evitest.connect(d.port("one")) as third:
            self.assertEqual(evitest.transfer(third, b"again"), b"again")

    def test_session_timeout_kills(self):
        d = self.daemon(service("slow", "/bin/cat", "session_timeout = 1s"))
        start = time.monotonic()
        with evitest.connect(d.port("slow")) as s:
            self.assertEqual(evitest.transfer(s, b"x"), b"x")
            self.assertEqual(evitest.recv_until_eof(s), b"")
        took = time.monotonic() - start
        m = d.wait_log(closed_re("slow"))
        self.assertEqual((m.group("reason"), m.group("end")),
                         ("timeout", " signal=KILL"))
        self.assertGreaterEqual(took, 0.9)

    def test_stop_sends_sigterm_to_the_group(self):
        # The script and its background sleep share a process group:
        # both get SIGTERM; the script tells the client.
        t = self.pubdir()
        prog = self.script(t, "term.sh", """\
            #!/bin/sh
            sleep 60 &
            trap 'echo "TERM $!"; exit 0' TERM
            echo "ready $$ $!"
            wait
            """)
        d = self.daemon(service("term", prog))
        with evitest.connect(d.port("term")) as s:
            line = b""
            while not line.endswith(b"\n"):
                line += s.recv(100)
            _, pid, sleeper = line.split()
            d.send_signal(signal.SIGTERM)
            self.assertEqual(evitest.recv_until_eof(s),
                             b"TERM %s\n" % sleeper)
        self.assertEqual(d.wait_exit(), 0)
        d.check_alerts()
        wait_gone(self, int(sleeper))
        wait_gone(self, int(pid))

    def test_sigterm_ignored_killed_at_deadline(self):
        t = self.pubdir()
        prog = self.script(t, "stubborn.sh", """\
            #!/bin/sh
            trap '' TERM
            echo "ready $$"
            exec sleep 60
            """)
        d = self.daemon("shutdown_timeout = 1s\n" +
                        service("stubborn", prog),
                        expect=[r'^service "stubborn": pid \d+ did not stop '
                                r'within shutdown_timeout; killing it$',
                                r'^shutdown timeout: closing 1 connection$'])
        with evitest.connect(d.port("stubborn")) as s:
            line = evitest.recv_exact(s, 1)
            while not line.endswith(b"\n"):
                line += s.recv(100)
            pid = int(line.split()[1])
            start = time.monotonic()
            d.send_signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(), 0)
            took = time.monotonic() - start
        d.check_alerts()
        d.wait_log(r'^service "stubborn": pid %d did not stop within '
                   r'shutdown_timeout; killing it$' % pid)
        wait_gone(self, pid)
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 10)

    def test_reload_keeps_children(self):
        d = self.daemon(service("cat", "/bin/cat"), args=["-v"])
        with evitest.connect(d.port("cat")) as s:
            self.assertEqual(evitest.transfer(s, b"before"), b"before")
            mark = d.mark()
            d.send_signal(signal.SIGHUP)
            d.wait_log(r"^reload: generation 2 serving", since=mark)
            # A new connection goes to generation 2's worker (a port 0
            # listener is bound anew: the last one logged).
            with evitest.connect(d.addrs("cat")[-1][1]) as s2:
                self.assertEqual(evitest.transfer(s2, b"new", shut_wr=True),
                                 b"new")
            d.wait_log(closed_re("cat"), since=mark)
            # The first child still serves its client, and the old
            # worker waits for it.
            self.assertEqual(evitest.transfer(s, b"after"), b"after")
            self.assertFalse(any(re.search(r"^worker \d+ \(generation 1\) "
                                            r"exited", l)
                                 for l in d.log_lines(mark)))
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(s), b"")
        m = d.wait_log(closed_re("cat"), since=mark, count=2)
        self.assertEqual(m.group("end"), " exit=0")
        d.wait_log(r"^worker \d+ \(generation 1\) exited", since=mark)

    def test_fork_bomb_held_by_rlimit_nproc(self):
        # As nobody: root is exempt from RLIMIT_NPROC.  The limit counts
        # every process of the user, the program included.
        t = self.pubdir()
        prog = self.script(t, "bomb.py", """\
            #!/usr/bin/python3
            import os, time
            ok = failed = 0
            for i in range(200):
                try:
                    pid = os.fork()
                except OSError:
                    failed += 1
                    continue
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                ok += 1
            print("forked %d failed %d" % (ok, failed), flush=True)
            os.killpg(0, 9)
            """)
        d = self.daemon(service("bomb", prog, "user = nobody",
                                "rlimit_nproc = 8"))
        with evitest.connect(d.port("bomb")) as s:
            out = evitest.recv_until_eof(s, timeout=30).decode()
        m = re.match(r"^forked (\d+) failed (\d+)$", out.strip())
        self.assertTrue(m, out)
        self.assertLessEqual(int(m.group(1)), 7)
        self.assertEqual(int(m.group(1)) + int(m.group(2)), 200)
        self.assertEqual(d.wait_log(closed_re("bomb")).group("end"),
                         " signal=KILL")

    def test_200_concurrent_no_zombie(self):
        n = 200
        d = self.daemon(service("cat", "/bin/cat"))
        msgs = [b"client %d\n" % i for i in range(n)]
        socks = evitest.all_at_once(self, d.port("cat"), msgs, msgs)
        # Every program runs, each a child of the supervisor.
        self.assertGreaterEqual(len(proc_children(d.pid)), n)
        for s in socks:
            s.close()
        d.wait_log(closed_re("cat", reason="eof"), count=n, timeout=60)
        self.assertEqual(
            [l for l in d.log_lines() if closed_re("cat").search(l) and
             not l.endswith(" exit=0")], [])
        left = [(p, proc_state(p)) for p in proc_children(d.pid)]
        workers = set(d.pids()[1:])
        self.assertEqual([p for p in left if p[0] not in workers], [])


    def test_a_burst_loses_no_spawn_message(self):
        # An accept batch sends many requests at once, and the replies come
        # as fast: more than a SOCK_SEQPACKET queue holds (10).  None may
        # be lost, or connections would hang for ever.
        n = 300
        d = self.daemon(service("true", "/bin/true"))
        socks = [evitest.connect(d.port("true")) for _ in range(n)]
        try:
            for s in socks:
                self.assertEqual(evitest.recv_until_eof(s, timeout=30), b"")
        finally:
            for s in socks:
                s.close()
        d.wait_log(closed_re("true", reason="eof", end=" exit=0"), count=n,
                   timeout=60)


class TestCheck(ExecCase):
    """evinetd -n: what cannot run is an error at its FILE:LINE."""

    def check(self, t, text):
        path = t.join("evinetd.conf")
        rc, out, err = evitest.run_check(text, path=path)
        return rc, err, path

    @unittest.skipUnless(os.geteuid() == 0, "needs root to be nobody")
    def test_another_user_needs_root(self):
        t = self.pubdir()
        path = t.write("evinetd.conf", service("x", "/bin/cat",
                                               "user = daemon"))
        os.chmod(path, 0o644)
        p = subprocess.run(
            [evitest.EVINETD, "-n", "-f", path, "-M", evitest.MODULE_DIR],
            capture_output=True, text=True, timeout=30,
            preexec_fn=lambda: (os.setgroups([]), os.setgid(NOGROUP.gr_gid),
                                os.setuid(NOBODY.pw_uid)))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn('service "x": evinetd runs as uid %d and can run '
                      'programs as another user or group only when started '
                      'as root' % NOBODY.pw_uid, p.stderr)

    def test_program_missing(self):
        t = self.pubdir()
        rc, err, path = self.check(t, service("x", t.join("nope")))
        self.assertEqual(rc, 1)
        self.assertIn('%s:4: service "x": program %s: No such file or '
                      'directory' % (path, t.join("nope")), err)

    def test_program_not_executable_by_user(self):
        t = self.pubdir()
        prog = self.script(t, "root-only.sh", "#!/bin/sh\n", mode=0o700)
        rc, err, path = self.check(t, service("x", prog, "user = nobody"))
        self.assertEqual(rc, 1)
        self.assertIn('%s:4: service "x": program %s: not executable by '
                      "the service's user" % (path, prog), err)
        # Root may run it.
        rc, err, path = self.check(t, service("x", prog, "user = root"))
        self.assertEqual((rc, err), (0, ""))

    def test_directory_not_searchable(self):
        t = self.pubdir()
        os.mkdir(t.join("locked"), 0o700)
        prog = self.script(t, "locked/prog.sh", "#!/bin/sh\n")
        rc, err, path = self.check(t, service("x", prog, "user = nobody"))
        self.assertEqual(rc, 1)
        self.assertIn('%s:4: service "x": program %s: a directory on its '
                      'path cannot be searched' % (path, prog), err)

    def test_exec_key_in_other_service(self):
        t = self.pubdir()
        rc, err, path = self.check(t, """\
            service echo {
                listen = 127.0.0.1:0
                module = echo
                program = /bin/cat
                rlimit_nofile = 10
            }
            """)
        self.assertEqual(rc, 1)
        self.assertIn('%s:4: service "echo": "program" is a key of exec '
                      'services (module = exec)' % path, err)
        self.assertIn('%s:5: service "echo": "rlimit_nofile" is a key of '
                      'exec services (module = exec)' % path, err)

    def test_udp_needs_wait(self):
        t = self.pubdir()
        rc, err, path = self.check(t, "# udp\n" + service(
            "u", "/bin/cat", "protocol = udp"))
        self.assertEqual(rc, 1)
        self.assertIn('%s:2: service "u": a udp program serves its socket '
                      'itself: it needs "wait = yes"' % path, err)


class TestWait(ExecCase):
    BACKOFF_RE = (r'^service "fail": pid \d+ exited with status 1 after '
                  r'(?P<lived>\d+) ms; serving again in (?P<ms>\d+) ms$')

    def test_fast_deaths_back_off(self):
        d = self.daemon(service("fail", "/bin/false", "protocol = udp",
                                "wait = yes"),
                        expect=[self.BACKOFF_RE])
        # /bin/false never reads the datagram: the socket stays readable.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            start = time.monotonic()
            c.sendto(b"ping", ("127.0.0.1", d.port("fail")))
            d.wait_log(self.BACKOFF_RE, count=4, timeout=10)
            window = time.monotonic() - start
            time.sleep(0.2)
        delays = [int(m.group("ms")) for m in (
            re.search(self.BACKOFF_RE, l) for l in d.log_lines()) if m]
        self.assertEqual(delays[:4], [100, 200, 400, 800])
        # No spin: within the window, one run per back-off, at most.
        self.assertLessEqual(len(delays), 2 + int(window * 1000 / 100))
        self.assertLessEqual(len(delays), 6)



class TestRealPrograms(ExecCase):
    def test_tftpd_wait_udp(self):
        need("/usr/sbin/in.tftpd", "/usr/bin/tftp")
        t = self.pubdir()
        os.mkdir(t.join("root"), 0o755)
        data = os.urandom(MiB)
        os.chmod(t.write("root/boot.img", data), 0o644)
        d = self.daemon(service(
            "tftp", "/usr/sbin/in.tftpd", "protocol = udp", "wait = yes",
            "user = root",
            "args = in.tftpd --secure %s --user nobody --timeout 5"
            % t.join("root")),
            expect=[STDERR_RE])
        for i in range(3):
            dest = t.join("got%d" % i)
            p = subprocess.run(
                ["/usr/bin/tftp", "-m", "binary", "127.0.0.1",
                 str(d.port("tftp")), "-c", "get", "boot.img", dest],
                stdin=subprocess.DEVNULL, capture_output=True,
                timeout=30 * evitest.TIMEOUT_SCALE)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(dest, "rb") as f:
                self.assertTrue(f.read() == data, "fetch %d differs" % i)

    def test_git_daemon_clone(self):
        need("/usr/bin/git")
        t = self.pubdir()
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=t.path,
                   GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                   GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@example.org")

        def git(*args, cwd=None):
            return subprocess.run(["/usr/bin/git"] + list(args), cwd=cwd,
                                  env=env, check=True, capture_output=True,
                                  timeout=30).stdout.decode().strip()
        git("init", "-q", "-b", "main", t.join("work"))
        t.write("work/README", "served by evinetd\n")
        git("add", "README", cwd=t.join("work"))
        git("commit", "-q", "-m", "first", cwd=t.join("work"))
        want = git("rev-parse", "HEAD", cwd=t.join("work"))
        os.mkdir(t.join("srv"), 0o755)
        git("clone", "-q", "--bare", t.join("work"), t.join("srv",
                                                             "repo.git"))
        for root, dirs, files in os.walk(t.join("srv")):
            for name in dirs + files:
                os.chown(os.path.join(root, name), NOBODY.pw_uid,
                         NOBODY.pw_gid)
        d = self.daemon(service(
            "git", "/usr/bin/git", "user = nobody",
            # A word with "=" is quoted (config.c asks for it).
            'args = git daemon --inetd --export-all "--base-path=%s"'
            % t.join("srv"), 'env = "HOME=/nonexistent"'),
            expect=[STDERR_RE])
        git("clone", "-q", "git://127.0.0.1:%d/repo.git" % d.port("git"),
            t.join("clone"))
        self.assertEqual(git("rev-parse", "HEAD", cwd=t.join("clone")),
                         want)
        with open(t.join("clone", "README")) as f:
            self.assertEqual(f.read(), "served by evinetd\n")
        self.assertEqual(d.wait_log(closed_re("git")).group("end"),
                         " exit=0")

    def test_rsync_daemon(self):
        need("/usr/bin/rsync")
        t = self.pubdir()
        os.makedirs(t.join("mod", "sub"), 0o755)
        files = {"a.bin": os.urandom(300000), "sub/b.txt": b"hello\n"}
        for name, data in files.items():
            os.chmod(t.write("mod/" + name, data), 0o644)
        conf = t.write("rsyncd.conf", """\
            use chroot = no
            log file = /dev/null
            [mod]
                path = %s
                read only = yes
            """ % t.join("mod"))
        os.chmod(conf, 0o644)
        d = self.daemon(service(
            "rsync", "/usr/bin/rsync", "user = nobody",
            'args = rsync --daemon "--config=%s"' % conf),
            expect=[STDERR_RE])
        p = subprocess.run(
            ["/usr/bin/rsync", "-r",
             "rsync://127.0.0.1:%d/mod/" % d.port("rsync"),
             t.join("copy") + "/"],
            stdin=subprocess.DEVNULL, capture_output=True,
            timeout=30 * evitest.TIMEOUT_SCALE)
        self.assertEqual(p.returncode, 0, p.stderr)
        for name, data in files.items():
            with open(t.join("copy", name), "rb") as f:
                self.assertTrue(f.read() == data, name)
        self.assertEqual(d.wait_log(closed_re("rsync")).group("end"),
                         " exit=0")


if __name__ == "__main__":
    evitest.main()
