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
REFUSAL_RE = (r'^service "[^"]+": refused \d+ connections? \(max '
              r'connections\), last from \S+: every instance of the '
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

    def wait_worker_idle(self, d, service, count, since=0):
        """The COUNT connection log lines of SERVICE since SINCE."""
        d.wait_log(closed_re(service), since=since, count=count)
        return [m for m in (closed_re(service).search(l)
                            for l in d.log_lines(since)) if m]


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
        "os.execv(sys.argv[1], sys.argv[1:])\n")]

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


if __name__ == "__main__":
    evitest.main()
