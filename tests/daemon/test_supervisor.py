#!/usr/bin/env python3
"""The supervisor and its worker processes (docs/design.md, "Process shape"; evinetd(8), SIGNALS):
reload as a new generation (live connections survive, sockets are reused,
a replaced module .so serves new connections, a bad config or a bind
failure keeps the old generation), graceful SIGTERM, crash isolation and
restarts, several workers, privileges, daemon mode and -X.

Every wait is bounded and learns what it waits for from the daemon: its
log, its pid file, /proc, or a connection.  Where a test measures how
long clients went unserved, it prints the figure."""

import ctypes
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import unittest

import evitest

IO = evitest.IO_TIMEOUT
# Under "make check-valgrind" every bound stretches, and the latency
# figures are printed but not asserted.
SCALE = getattr(evitest, "TIMEOUT_SCALE", 1.0)
VALGRIND = getattr(evitest, "under_valgrind", lambda: False)()

ECHO_CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    """


RELOAD_DONE_RE = re.compile(
    r"^(reload: generation \d+ serving |reload failed: )")
RELOAD_OK_RE = re.compile(
    r"^reload: generation (\d+) serving (\d+) services? in (\d+) workers?; "
    r"older workers are draining$")
STATE_WORKER_RE = re.compile(
    r"^state: generation (\d+)( \(draining\))?: worker (\d+) \((\S+)\)"
    r"(, restarting)?$")
STATE_PID_RE = re.compile(
    r"^state: pid (\d+), up \d+s, (\d+) connections?, (serving|stopping)$")


# Helpers: processes.

def proc_stat(pid):
    """(state, ppid) of PID from /proc/PID/stat, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold anything.
    fields = stat.rpartition(")")[2].split()
    return fields[0], int(fields[1])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def children(pid, zombies=False):
    """The child processes of PID, from /proc: the live ones, or all that
    the parent has not reaped yet."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st[1] == pid and (zombies or st[0] != "Z"):
            kids.append(int(name))
    return sorted(kids)


def proc_status(pid):
    """/proc/PID/status as {field: value}."""
    status = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return status


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def is_evinetd(pid):
    """True if PID runs evinetd (directly, or under a wrapper)."""
    return any(os.path.basename(a) == b"evinetd" for a in cmdline(pid))


def wait_until(cond, timeout, what, interval=0.01):
    """Polls COND until it returns a true value (returned), failing after
    TIMEOUT seconds.  For states that no log line announces."""
    timeout *= SCALE
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (
                timeout, what))
        time.sleep(interval)


# Helpers: clients.

def echo_once(port, data=b"ping", timeout=IO):
    with evitest.connect(port, timeout=timeout) as s:
        return evitest.transfer(s, data, timeout=timeout)


def refused(port):
    """True if a connection to PORT is refused now."""
    try:
        evitest.connect(port, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


class Prober(threading.Thread):
    """A client that does echo round trips in a loop until stopped, each
    on a new connection (long=False) or all on one (long=True, which
    reconnects after a failure).  It records (start, end, ok, error) per
    round trip, so a test can count failures and find gaps in service."""

    def __init__(self, port, long=False, timeout=5.0):
        super().__init__(daemon=True)
        self.port = port
        self.long = long
        self.timeout = timeout
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.records = []
        self.sock = None

    def _round_trip(self, i):
        data = b"%d:%s\n" % (i, b"x" * (i % 64))
        if self.long:
            if self.sock is None:
                self.sock = evitest.connect(self.port, timeout=self.timeout)
            got = evitest.transfer(self.sock, data, timeout=self.timeout)
        else:
            with evitest.connect(self.port, timeout=self.timeout) as s:
                got = evitest.transfer(s, data, timeout=self.timeout)
        if got != data:
            raise AssertionError("echoed %r for %r" % (got, data))

    def run(self):
        i = 0
        while not self.stopping.is_set():
            i += 1
            t0 = time.monotonic()
            try:
                self._round_trip(i)
                err = None
            except Exception as e:              # recorded, then asserted
                err = e
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
            with self.lock:
                self.records.append((t0, time.monotonic(), err is None, err))
        if self.sock is not None:
            self.sock.close()

    def stop(self):
        self.stopping.set()
        self.join(30)
        if self.is_alive():
            raise AssertionError("a probing client did not stop")

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def successes_after(self, t):
        return sum(1 for (t0, _, ok, _) in self.snapshot() if ok and t0 >= t)

    def failures(self):
        return [r for r in self.snapshot() if not r[2]]

    def refusals(self):
        return [r for r in self.failures()
                if isinstance(r[3], ConnectionRefusedError)]

    def longest_gap(self, since, until):
        """The longest time between two successful round trips that ends
        within [SINCE, UNTIL]: how long this client went unserved."""
        ends = sorted(t1 for (_, t1, ok, _) in self.snapshot() if ok)
        gap = 0.0
        for a, b in zip(ends, ends[1:]):
            if since <= b and a <= until:
                gap = max(gap, b - a)
        return gap


def assert_quick(test, seconds, bound, what):
    """Asserts a latency, except under valgrind."""
    if not VALGRIND:
        test.assertLess(seconds, bound, what)


def report(what, value):
    """Prints a measurement next to the test's name in the output."""
    sys.stderr.write("[%s] " % what + value + " ")
    sys.stderr.flush()


# Helpers: the daemon.

def write_conf(d, template, **ports):
    """Writes TEMPLATE (with $NAME placeholders for ports) as D's config."""
    d.tmp.write("evinetd.conf", string.Template(template).substitute(ports))


def reload(d, ok=True, timeout=IO):
    """Sends SIGHUP and waits for the outcome: returns the "reload:
    generation N serving ..." line (ok=True) or the "reload failed" line
    (ok=False), and fails if it is the other one."""
    mark = d.mark()
    d.send_signal(signal.SIGHUP)
    line = d.wait_log(RELOAD_DONE_RE, since=mark, timeout=timeout).string
    if ok:
        if RELOAD_OK_RE.search(line) is None:
            raise AssertionError("reload failed: %s\nlog:\n%s" % (
                line, d.log_text()))
        return line
    if not line.startswith("reload failed: "):
        raise AssertionError("reload did not fail: %s" % line)
    return line


def state(d, nworkers):
    """Sends SIGUSR1; returns (the supervisor's summary line, [(generation,
    pid, name, draining)] of its NWORKERS worker lines).  The supervisor
    logs all of its lines from one signal callback."""
    mark = d.mark()
    d.send_signal(signal.SIGUSR1)
    summary = d.wait_log(r"^state: supervisor pid ", since=mark).string
    d.wait_log(STATE_WORKER_RE, since=mark, count=nworkers)
    workers = []
    for line in d.log_lines(mark):
        m = STATE_WORKER_RE.search(line)
        if m:
            workers.append((int(m.group(1)), int(m.group(3)), m.group(4),
                            bool(m.group(2))))
    return summary, workers


def worker_pids(d, nworkers, name=None):
    """The pids of the current workers (of group NAME: "shared" or an
    isolated service), from the SIGUSR1 dump, checked against /proc."""
    _, workers = state(d, nworkers)
    pids = [pid for (_, pid, n, draining) in workers
            if not draining and pid > 0 and (name is None or n == name)]
    kids = children(d.pid)
    for pid in pids:
        if pid not in kids:
            raise AssertionError("worker %d is not a child of %d (%s)" % (
                pid, d.pid, kids))
    return pids


def settle(d, nworkers):
    """Waits until the supervisor has reaped every worker but its
    NWORKERS current ones: drained generations are gone.

    Until then a signal to the supervisor is forwarded to workers that
    are tearing down, whose handlers are already gone (see the report on
    signal races), and SIGUSR1 lists them as draining."""
    wait_until(lambda: len(children(d.pid, zombies=True)) == nworkers, IO,
               "%d worker(s) to be left" % nworkers)


class SupervisorCase(evitest.TestCase):

    def start_pinned(self, template, names, **kw):
        """Starts a daemon on TEMPLATE with port 0 for every $NAME, then
        rewrites the config with the ports it got and reloads (generation
        2), so later reloads keep those ports and can reuse the sockets.
        No port is guessed.  Returns (daemon, {name: port})."""
        d = self.daemon(string.Template(template).substitute(
            {n: 0 for n in names}), **kw)
        ports = {n: d.port(n) for n in names}
        nworkers = len(children(d.pid))
        write_conf(d, template, **ports)
        self.assertRegex(reload(d), r"^reload: generation 2 serving ")
        settle(d, nworkers)
        return d, ports


# 1 and 11: reloads, good and bad.

RELOAD_CONF = """
    drain_timeout = 10s
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
    }
    service gone {
        listen = 127.0.0.1:$gone
        module = echo
    }
    """

ONLY_ECHO_CONF = """
    drain_timeout = 10s
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
    }
    """


class TestReload(SupervisorCase):

    def test_a_live_connection_survives_three_reloads_of_all_kinds(self):
        d, ports = self.start_pinned(
            RELOAD_CONF, ["echo", "gone"],
            expect=[r'unknown global key "bogus_key"',
                    r"^reload failed: 1 error in "])
        live = evitest.connect(ports["gone"])
        self.addCleanup(live.close)
        self.assertEqual(evitest.transfer(live, b"before"), b"before")

        # (a) Nothing changed: generation 3 takes over the same sockets,
        # and generation 2, which holds the live connection, drains.
        mark = d.mark()
        self.assertRegex(reload(d), r"^reload: generation 3 serving 2 "
                         r"services in 1 worker;")
        d.wait_log(r"^stopping: waiting up to 10000 ms for 1 connection$",
                   since=mark)
        self.assertEqual(evitest.transfer(live, b"after a"), b"after a")
        self.assertEqual(echo_once(ports["gone"], b"gone a"), b"gone a")
        self.assertEqual(echo_once(ports["echo"], b"echo a"), b"echo a")

        # (b) The live connection's service is removed from the config.
        write_conf(d, ONLY_ECHO_CONF, echo=ports["echo"])
        self.assertRegex(reload(d), r"^reload: generation 4 serving 1 "
                         r"service in 1 worker;")
        self.assertEqual(evitest.transfer(live, b"after b"), b"after b")
        self.assertEqual(echo_once(ports["echo"], b"echo b"), b"echo b")

        # (c) A broken config: the error is reported as FILE:LINE and
        # generation 4 serves on.
        broken = string.Template(ONLY_ECHO_CONF).substitute(
            echo=ports["echo"]) + "bogus_key = 1\n"
        path = d.tmp.write("evinetd.conf", broken)
        with open(path) as f:
            line = len(f.read().splitlines())
        mark = d.mark()
        failed = reload(d, ok=False)
        self.assertEqual(failed, "reload failed: 1 error in %s; generation "
                         "4 serves on" % os.path.realpath(path))
        d.wait_log(r"^%s:%d: unknown global key \"bogus_key\"" % (
            re.escape(os.path.realpath(path)), line), since=mark)
        self.assertEqual(evitest.transfer(live, b"after c"), b"after c")
        self.assertEqual(echo_once(ports["echo"], b"echo c"), b"echo c")

        # The removed service stops accepting once generation 3 drained
        # (nothing else holds its socket).
        wait_until(lambda: refused(ports["gone"]), IO,
                   "service \"gone\" to refuse connections")
        self.assertEqual(echo_once(ports["echo"], b"echo d"), b"echo d")

        # The live connection was never cut, and ends normally.
        self.assertEqual(evitest.transfer(live, b"last"), b"last")
        live.shutdown(socket.SHUT_WR)
        self.assertEqual(evitest.recv_until_eof(live), b"")
        live.close()
        d.wait_log(r"^all connections finished$", since=mark)
        settle(d, 1)
        self.assertNotIn("shutdown timeout", d.log_text())
        self.assertEqual(d.stop(), 0)

    def test_unchanged_sockets_are_reused_and_never_refuse_a_client(self):
        d, ports = self.start_pinned(ONLY_ECHO_CONF, ["echo"],
                                     args=["-v"],
                                     expect=[r"reused from the previous "
                                             r"configuration$"])
        port = ports["echo"]
        probers = [Prober(port), Prober(port)]
        for p in probers:
            p.start()
            self.addCleanup(p.stop)
        for p in probers:
            wait_until(lambda: p.successes_after(0), IO, "a first echo")
        mark = d.mark()
        windows = []
        for gen in range(3, 8):
            old = children(d.pid)
            t_hup = time.monotonic()
            self.assertRegex(reload(d), r"^reload: generation %d serving " %
                             gen)
            # Until the old worker is gone for good, clients may meet
            # either generation, on the one socket.
            wait_until(lambda: not any(alive(pid) for pid in old), IO,
                       "the old worker to exit")
            windows.append((t_hup, time.monotonic()))
            settle(d, 1)
        t_gone = windows[-1][1]
        for p in probers:
            wait_until(lambda: p.successes_after(t_gone) >= 20, IO,
                       "echoes after the last reload")
            p.stop()
        records = probers[0].snapshot() + probers[1].snapshot()
        during = sum(1 for (t0, _, _, _) in records
                     if any(a <= t0 <= b for (a, b) in windows))
        report("reload", "5 reloads: %d connections during them (%.0f ms "
               "in all), %d in all" % (
                   during, 1000 * sum(b - a for (a, b) in windows),
                   len(records)))
        for p in probers:
            self.assertEqual(len(p.refusals()), 0, p.refusals()[:5])
            self.assertEqual(p.failures(), [])
        # Same port: each reload logged the socket as reused, none bound.
        d.wait_log(r'^service "echo": 127\.0\.0\.1:%d reused from the '
                   r'previous configuration$' % port, since=mark, count=5)
        for line in d.log_lines(mark):
            m = evitest.LISTEN_RE.search(line)
            if m:
                self.assertEqual(int(m.group("port")), port, line)
        self.assertEqual(echo_once(port), b"ping")
        self.assertEqual(d.stop(), 0)

    def test_a_replaced_module_serves_new_connections_old_ones_keep_it(self):
        tmp = self.tempdir()
        so = tmp.join("greet.so")
        shutil.copyfile(os.path.join(evitest.TESTMOD_DIR, "greet_v1.so"), so)
        conf = """
            drain_timeout = 10s
            service greet {
                listen = 127.0.0.1:$greet
                module = %s
            }
            """ % so
        d, ports = self.start_pinned(conf, ["greet"])
        port = ports["greet"]
        a = evitest.connect(port)
        self.addCleanup(a.close)
        self.assertEqual(evitest.transfer(a, b"a1", expect=5), b"v1:a1")
        old = worker_pids(d, 1)

        # Replace the file by renaming a new one over it, never by
        # writing into it: the running worker has greet.so mapped, and
        # the pages of a MAP_PRIVATE mapping that were not yet copied
        # read through to the file, so rewriting it in place (or
        # truncating it: SIGBUS) would change or crash the old code under
        # the live connection.  rename() gives the path a new inode; the
        # old one lives on, unlinked, while it is mapped.  This is how
        # "install" and package managers replace libraries.
        new = so + ".new"
        shutil.copyfile(os.path.join(evitest.TESTMOD_DIR, "greet_v2.so"), new)
        os.replace(new, so)
        mark = d.mark()
        self.assertRegex(reload(d), r"^reload: generation 3 serving ")
        # The old worker shares the listening socket until it handles
        # the drain signal, which comes after the reload line: a client
        # that connects before may still get it.  Its drain line says it
        # stopped accepting.
        d.wait_log(r"^stopping: waiting up to 10000 ms for 1 connection$",
                   since=mark)

        with evitest.connect(port) as b:
            self.assertEqual(evitest.transfer(b, b"b1", expect=5), b"v2:b1")
        self.assertEqual(evitest.transfer(a, b"a2", expect=5), b"v1:a2")
        # The old worker still maps the old, now unlinked, file.
        try:
            with open("/proc/%d/maps" % old[0]) as f:
                maps = f.read()
        except OSError:
            maps = None
        if maps is not None:
            self.assertIn("%s (deleted)" % so, maps)
        a.close()
        settle(d, 1)
        self.assertEqual(d.stop(), 0)

    def test_failed_reloads_keep_the_old_generation_and_are_counted(self):
        held, busy = evitest.hold_port()
        self.addCleanup(held.close)
        d, ports = self.start_pinned(
            ONLY_ECHO_CONF, ["echo"],
            expect=[r'^\S+:\d+: service "taken": listen 127\.0\.0\.1:%d: '
                    r"Address already in use" % busy,
                    r"^reload failed: could not bind every listener; "
                    r"generation 2 serves on$",
                    r'^\S+:\d+: service "nomod": module \S+/nosuchmod\.so: '
                    r"No such file or directory$",
                    r"^reload failed: 1 error in \S+; generation 2 serves "
                    r"on$"])
        port = ports["echo"]
        base = string.Template(ONLY_ECHO_CONF).substitute(echo=port)

        # A new service on an address someone else holds.
        d.tmp.write("evinetd.conf", base + """
            service taken {
                listen = 127.0.0.1:%d
                module = echo
            }
            """ % busy)
        self.assertEqual(reload(d, ok=False), "reload failed: could not "
                         "bind every listener; generation 2 serves on")
        self.assertEqual(echo_once(port, b"one"), b"one")

        # A module that does not exist.
        d.tmp.write("evinetd.conf", base + """
            service nomod {
                listen = 127.0.0.1:0
                module = nosuchmod
            }
            """)
        reload(d, ok=False)
        self.assertEqual(echo_once(port, b"two"), b"two")

        summary, workers = state(d, 1)
        self.assertRegex(summary, r"^state: supervisor pid %d, 1 worker, "
                         r"reloads 1 ok 2 failed, worker restarts 0$" % d.pid)
        self.assertEqual([(g, n) for (g, _, n, _) in workers],
                         [(2, "shared")])
        self.assertEqual(d.stop(), 0)


# 4: SIGTERM.

class TestStop(SupervisorCase):

    def test_sigterm_drains_live_connections_of_every_worker(self):
        d = self.daemon("""
            shutdown_timeout = 10s
            workers = 2
            service echo {
                listen = 127.0.0.1:0
                module = echo
            }
            service alone {
                listen = 127.0.0.1:0
                module = echo
                isolate = yes
            }
            """)
        shared = evitest.connect(d.port("echo"))
        self.addCleanup(shared.close)
        alone = evitest.connect(d.port("alone"))
        self.addCleanup(alone.close)
        for s in (shared, alone):
            self.assertEqual(evitest.transfer(s, b"hi"), b"hi")
        mark = d.mark()
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        d.wait_log(r"^received SIGTERM, stopping$", since=mark)
        d.wait_log(r"^stopping: waiting up to 10000 ms for 1 connection$",
                   since=mark, count=2)
        # No new clients, but the live ones are served.
        wait_until(lambda: refused(d.port("echo")), IO, "echo to refuse")
        wait_until(lambda: refused(d.port("alone")), IO, "alone to refuse")
        for s in (shared, alone):
            self.assertEqual(evitest.transfer(s, b"during"), b"during")
        self.assertTrue(d.running())
        shared.close()
        self.assertEqual(evitest.transfer(alone, b"still"), b"still")
        self.assertTrue(d.running())
        alone.shutdown(socket.SHUT_WR)
        self.assertEqual(evitest.recv_until_eof(alone), b"")
        alone.close()
        self.assertEqual(d.wait_exit(timeout=10), 0)
        assert_quick(self, time.monotonic() - t0, 8,
                     "the daemon waited for the timeout, not the clients")
        d.wait_log(r"^all connections finished$", since=mark, count=2)
        self.assertNotIn("shutdown timeout", d.log_text())
        self.assertNotIn("did not stop in time", d.log_text())
        self.assertEqual(d.log_lines()[-1], "exiting")
        d.check_alerts()


# 5 and 6: crashes, kills and restarts.

CRASH_CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    service crashy {
        listen = 127.0.0.1:0
        module = %s
        isolate = yes
    }
    """ % os.path.join(evitest.TESTMOD_DIR, "crash.so")

# How the crash module's worker dies.  Plainly by SIGSEGV.  Under the
# sanitizers (--enable-sanitizers: -fno-sanitize-recover), UBSan catches
# the NULL store first, logs "crash.c:L:C: runtime error: ...", and ends
# the process: by SIGABRT with abort_on_error=1 if it can read
# UBSAN_OPTIONS; with _exit(1) if not, which is the case in a worker that
# changed its uid, as GCC's libubsan reads its options only at its first
# report, from /proc/self/environ, which the worker can no longer open.
# handle_segv=0 keeps ASan from turning a plain SIGSEGV into an exit.
CRASH_ENV = {
    "ASAN_OPTIONS": ":".join(filter(None, [
        os.environ.get("ASAN_OPTIONS", ""), "abort_on_error=1",
        "handle_segv=0"])),
    "UBSAN_OPTIONS": ":".join(filter(None, [
        os.environ.get("UBSAN_OPTIONS", ""), "abort_on_error=1"])),
}
CRASH_REPORT_RE = re.compile(
    r"crash\.c:\d+:\d+: runtime error: store to null pointer")
CRASHED_RE = (r"^worker (\d+) \(generation 1, crashy\) (killed by signal "
              r"(11|6) \((Segmentation fault|Aborted)\)|exited with status "
              r"1)$")


class TestCrash(SupervisorCase):

    @classmethod
    def setUpClass(cls):
        # A crashing worker that is still dumpable (not started as root)
        # must not leave core files behind.
        cls.core = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, cls.core[1]))

    @classmethod
    def tearDownClass(cls):
        resource.setrlimit(resource.RLIMIT_CORE, cls.core)

    def crash_daemon(self, conf=CRASH_CONF):
        d = self.daemon(conf, env=CRASH_ENV, expect=[
            CRASHED_RE,
            r"^SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior "
            r"\S*crash\.c:"])
        # The report of the crash we provoke is no alert: UBSan's line,
        # or under valgrind the crashed worker's own log.  Any other
        # sanitizer line or valgrind finding still is.
        d.crashed = set()
        valgrind_alerts = getattr(evitest, "_valgrind_alerts",
                                  lambda path: [])

        def alerts():
            lines = [line for line in d.log_lines()
                     if not CRASH_REPORT_RE.search(line)]
            found = [line for line in valgrind_alerts(d.tmp.path)
                     if not any(line.startswith("valgrind.%d.log:" % pid)
                                for pid in d.crashed)]
            return evitest.find_alerts(lines, d.expected) + found
        d.alerts = alerts
        return d

    def wait_crashed(self, d, since):
        """Waits for the log line of the crash; returns the worker's pid.
        An exit with status 1 counts only after UBSan's report of it."""
        m = d.wait_log(CRASHED_RE, since=since)
        d.crashed.add(int(m.group(1)))
        if m.group(2).startswith("exited"):
            self.assertTrue(any(CRASH_REPORT_RE.search(line)
                                for line in d.log_lines(since)),
                            "the crashy worker exited without crashing")
        return int(m.group(1))

    def test_a_crashing_isolated_service_does_not_disturb_the_others(self):
        d = self.crash_daemon()
        echo, crashy = d.port("echo"), d.port("crashy")
        self.assertEqual(echo_once(crashy, b"fine"), b"fine")
        (victim,) = worker_pids(d, 2, "crashy")
        probers = [Prober(echo), Prober(echo, long=True)]
        for p in probers:
            p.start()
            self.addCleanup(p.stop)
        for p in probers:
            wait_until(lambda: p.successes_after(0), IO, "a first echo")

        mark = d.mark()
        with evitest.connect(crashy) as s:
            s.sendall(b"crash")
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
            t_kill = time.monotonic()
        self.assertEqual(self.wait_crashed(d, mark), victim)
        d.wait_log(r"^restarting worker of generation 1 \(crashy\) in "
                   r"100 ms$", since=mark)

        # The listening socket stays open, so the first try waits in the
        # backlog for the new worker; a try that races the crash is
        # retried.
        deadline = t_kill + IO
        while True:
            try:
                got = echo_once(crashy, b"again", timeout=5)
                break
            except (ConnectionError, EOFError):
                if time.monotonic() > deadline:
                    raise
        t_back = time.monotonic()
        self.assertEqual(got, b"again")
        gap = t_back - t_kill
        report("crash", "crashy answered %.0f ms after the crash" % (
            gap * 1000))
        assert_quick(self, gap, 2.0, "gap")

        # Echo went on throughout: both clients served after the crash.
        for p in probers:
            wait_until(lambda: p.successes_after(t_back) >= 5, IO,
                       "echoes after the restart")
        for p in probers:
            p.stop()
        for p in probers:
            self.assertEqual(p.failures(), [], "echo missed requests")
            self.assertGreater(p.successes_after(t_kill), 0)
        report("crash", "echo: %d + %d round trips, no failures, longest "
               "gap %.1f ms" % (
                   len(probers[0].snapshot()), len(probers[1].snapshot()),
                   1000 * max(p.longest_gap(t_kill, t_back)
                              for p in probers)))
        self.assertEqual(echo_once(crashy, b"fine"), b"fine")
        summary, workers = state(d, 2)
        self.assertRegex(summary, r", worker restarts 1$")
        self.assertNotIn(victim, [pid for (_, pid, _, _) in workers])
        self.assertEqual(d.stop(), 0)

    def test_a_worker_that_cannot_restart_backs_off_and_others_serve(self):
        tmp = self.tempdir()
        so = tmp.join("crash.so")
        shutil.copyfile(os.path.join(evitest.TESTMOD_DIR, "crash.so"), so)
        conf = CRASH_CONF.replace(
            os.path.join(evitest.TESTMOD_DIR, "crash.so"), so)
        d = self.crash_daemon(conf)
        d.expect(r'^\S+:\d+: service "crashy": module %s: No such file or '
                 r"directory$" % re.escape(so))
        echo, crashy = d.port("echo"), d.port("crashy")
        prober = Prober(echo)
        prober.start()
        self.addCleanup(prober.stop)
        # The running worker keeps its mapping; restarts find no file.
        os.rename(so, so + ".away")
        mark = d.mark()
        with evitest.connect(crashy) as s:
            s.sendall(b"crash")
            try:
                s.recv(100)
            except ConnectionResetError:
                pass
        self.wait_crashed(d, mark)
        for ms in (100, 200, 400):
            d.wait_log(r"^restarting worker of generation 1 \(crashy\) in "
                       r"%d ms$" % ms, since=mark)
        t_back = time.monotonic()
        os.rename(so + ".away", so)
        self.assertEqual(echo_once(crashy, b"back"), b"back")
        gap = time.monotonic() - t_back
        report("backoff", "crashy back %.0f ms after its module was" % (
            gap * 1000))
        assert_quick(self, gap, 2.0, "gap")
        lines = [line for line in d.log_lines(mark)
                 if line.startswith("restarting worker")]
        self.assertEqual(len(lines), 3, lines)
        wait_until(lambda: prober.successes_after(t_back), IO,
                   "an echo after the restore")
        prober.stop()
        self.assertEqual(prober.failures(), [])
        self.assertGreater(prober.successes_after(t_back), 0)
        summary, _ = state(d, 2)
        self.assertRegex(summary, r", worker restarts 3$")
        self.assertEqual(d.stop(), 0)

    def test_a_killed_shared_worker_is_restarted(self):
        d = self.daemon(CRASH_CONF, expect=[
            r"^worker \d+ \(generation 1, shared\) killed by signal 9 "
            r"\(Killed\)$"])
        echo = d.port("echo")
        (victim,) = worker_pids(d, 2, "shared")
        (crashy,) = worker_pids(d, 2, "crashy")
        prober = Prober(echo)
        prober.start()
        self.addCleanup(prober.stop)
        wait_until(lambda: prober.successes_after(0), IO, "a first echo")
        mark = d.mark()
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        d.wait_log(r"^worker %d \(generation 1, shared\) killed by signal 9 "
                   r"\(Killed\)$" % victim, since=mark)
        d.wait_log(r"^restarting worker of generation 1 \(shared\) in "
                   r"100 ms$", since=mark)
        wait_until(lambda: prober.successes_after(t_kill) >= 5, IO,
                   "echoes after the restart")
        t_back = time.monotonic()
        prober.stop()
        # A round trip the worker had accepted when it died is reset;
        # clients waiting in the backlog are served by its successor.
        self.assertLessEqual(len(prober.failures()), 1, prober.failures())
        gap = prober.longest_gap(t_kill, t_back)
        report("kill", "1 worker: echo unserved for %.0f ms, %d reset" % (
            gap * 1000, len(prober.failures())))
        assert_quick(self, gap, 2.0, "gap")
        (new,) = worker_pids(d, 2, "shared")
        self.assertNotEqual(new, victim)
        # The isolated service's worker never noticed.
        self.assertEqual(worker_pids(d, 2, "crashy"), [crashy])
        self.assertEqual(echo_once(d.port("crashy"), b"ok"), b"ok")
        self.assertEqual(d.stop(), 0)

    def test_with_two_workers_killing_one_leaves_the_other_serving(self):
        d = self.daemon("workers = 2\n" + ECHO_CONF, expect=[
            r"^worker \d+ \(generation 1, shared\) killed by signal 9 "
            r"\(Killed\)$"])
        port = d.port("echo")
        victim, other = worker_pids(d, 2)
        probers = [Prober(port), Prober(port, long=True)]
        for p in probers:
            p.start()
            self.addCleanup(p.stop)
        for p in probers:
            wait_until(lambda: p.successes_after(0), IO, "a first echo")
        mark = d.mark()
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        d.wait_log(r"^worker %d \(generation 1, shared\) killed by signal "
                   r"9 \(Killed\)$" % victim, since=mark)
        # The survivor serves at once, before any restart.
        for p in probers:
            wait_until(lambda: p.successes_after(t_kill) >= 5, IO,
                       "echoes after the kill")
        self.assertTrue(alive(other))
        d.wait_log(r"^restarting worker of generation 1 \(shared\) in "
                   r"100 ms$", since=mark)
        (new,) = wait_until(lambda: [p for p in children(d.pid)
                                     if p != other] or None, IO,
                            "the restarted worker")
        t_back = time.monotonic()
        for p in probers:
            p.stop()
        gap = max(p.longest_gap(t_kill, t_back) for p in probers)
        nfail = sum(len(p.failures()) for p in probers)
        report("kill", "2 workers: echo unserved for %.1f ms at most, %d "
               "reset" % (gap * 1000, nfail))
        # Only a connection the dead worker held can be lost: one per
        # client at most.
        for p in probers:
            self.assertLessEqual(len(p.failures()), 1, p.failures())
        assert_quick(self, gap, 1.0, "gap")
        self.assertNotEqual(new, victim)
        # The new worker serves too: with the survivor stopped, only it
        # can answer.  (This also makes sure it is past its start before
        # anything signals it.)
        os.kill(other, signal.SIGSTOP)
        try:
            wait_until(lambda: proc_stat(other)[0] == "T", IO,
                       "worker %d to stop" % other)
            self.assertEqual(echo_once(port, b"new one", timeout=5),
                             b"new one")
        finally:
            os.kill(other, signal.SIGCONT)
        self.assertEqual(sorted(worker_pids(d, 2)), sorted([new, other]))
        self.assertEqual(d.stop(), 0)


# 7: several workers.

def connections_per_worker(d, nworkers):
    """{pid: open connections} from the workers' SIGUSR1 lines."""
    mark = d.mark()
    d.send_signal(signal.SIGUSR1)
    d.wait_log(STATE_PID_RE, since=mark, count=nworkers)
    per = {}
    for line in d.log_lines(mark):
        m = STATE_PID_RE.search(line)
        if m:
            per[int(m.group(1))] = int(m.group(2))
    return per


def spread(test, d, port, n, what, nworkers=2):
    """Holds N echoing connections open, and returns how many each worker
    has, from the SIGUSR1 dump; checks that they add up to N."""
    socks = []
    try:
        for i in range(n):
            s = evitest.connect(port)
            socks.append(s)
            test.assertEqual(evitest.transfer(s, b"%d" % i), b"%d" % i)
        per = connections_per_worker(d, nworkers)
        report(what, "connections per worker: %s" % ", ".join(
            "%d" % per[p] for p in sorted(per)))
        test.assertEqual(sum(per.values()), n)
        return per
    finally:
        for s in socks:
            s.close()


class TestWorkers(SupervisorCase):

    def test_two_workers_both_accept(self):
        d = self.daemon("workers = 2\n" + ECHO_CONF)
        port = d.port("echo")
        pids = worker_pids(d, 2)
        self.assertEqual(len(pids), 2)
        self.assertEqual(children(d.pid), sorted(pids))
        for pid in pids:
            self.assertTrue(is_evinetd(pid))

        # Which worker the kernel wakes is not ours to know, so stop one
        # worker (SIGSTOP) at a time: then the other must do all the
        # serving, which shows that each accepts on the shared socket.
        for stopped in pids:
            os.kill(stopped, signal.SIGSTOP)
            try:
                wait_until(lambda: proc_stat(stopped)[0] == "T", IO,
                           "worker %d to stop" % stopped)
                for i in range(5):
                    data = b"%d via the other" % i
                    self.assertEqual(echo_once(port, data, timeout=5), data)
            finally:
                os.kill(stopped, signal.SIGCONT)

        # And with both running, 20 clients: the per-worker count is for
        # the record, the sum is checked.
        per = spread(self, d, port, 20, "workers")
        self.assertEqual(sorted(per), sorted(pids))
        self.assertEqual(d.stop(), 0)


# Reuseport: a listening socket per worker.

REUSEPORT_CONF = """
    workers = %d
    drain_timeout = 10s
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
        reuseport = %s
    }
    """


def listen_inodes(port):
    """The inodes of the TCP sockets listening on 127.0.0.1:PORT, from
    /proc/net/tcp: one per socket of a reuseport group."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "0A" and fields[1] == "0100007F:%04X" % port:
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid):
    """The inodes of the sockets PID has open."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


class TestReuseport(SupervisorCase):

    def owned_sockets(self, d, port, nworkers):
        """Checks that each of the NWORKERS workers holds exactly one
        socket of PORT's group, a different one each, and that the
        supervisor holds them all; returns {pid: inode}."""
        group = listen_inodes(port)
        self.assertEqual(len(group), nworkers)
        owned = {}
        for pid in worker_pids(d, nworkers):
            mine = socket_inodes(pid) & group
            self.assertEqual(len(mine), 1, "worker %d: %s" % (pid, mine))
            owned[pid] = mine.pop()
        self.assertEqual(sorted(owned.values()), sorted(group))
        self.assertEqual(socket_inodes(d.pid) & group, group)
        return owned

    def test_each_worker_accepts_on_its_own_socket(self):
        d = self.daemon(string.Template(REUSEPORT_CONF % (2, "yes"))
                        .substitute(echo=0), expect=[
            r"^worker \d+ \(generation 1, shared\) killed by signal 9 "
            r"\(Killed\)$"])
        d.wait_log(r'^service "echo": listening on 127\.0\.0\.1:\d+ '
                   r'\(tcp\), one socket per worker \(reuseport\)$')
        port = d.port("echo")
        owned = self.owned_sockets(d, port, 2)

        # The kernel spreads connections over the group by a hash of the
        # addresses: with 40 of them, both workers get some (all 40 on
        # one would have a chance of 2 in 2^40).
        per = spread(self, d, port, 40, "reuseport")
        self.assertEqual(sorted(per), sorted(owned))
        self.assertTrue(all(n > 0 for n in per.values()), per)

        # A killed worker's socket stays open in the supervisor, so
        # clients hashed to it wait for the replacement, which takes
        # over the same socket, instead of being refused.
        victim, survivor = sorted(owned)
        group = listen_inodes(port)
        mark = d.mark()
        os.kill(victim, signal.SIGKILL)
        d.wait_log(r"^restarting worker of generation 1 \(shared\) in "
                   r"100 ms$", since=mark)
        for i in range(20):
            data = b"after %d" % i
            self.assertEqual(echo_once(port, data), data)

        def taken_over():
            kids = children(d.pid)
            return (len(kids) == 2 and victim not in kids and
                    all(len(socket_inodes(p) & group) == 1 for p in kids))
        wait_until(taken_over, IO, "the replacement to hold one socket")
        after = self.owned_sockets(d, port, 2)
        self.assertEqual(after[survivor], owned[survivor])
        replacement = [p for p in after if p != survivor]
        self.assertEqual(len(replacement), 1)
        self.assertNotEqual(replacement[0], victim)
        self.assertEqual(after[replacement[0]], owned[victim])
        self.assertEqual(d.stop(), 0)

    def test_reloads_reuse_grow_and_shrink_the_group(self):
        d, ports = self.start_pinned(
            REUSEPORT_CONF % (2, "yes"), ["echo"], args=["-v"],
            expect=[r"reused from the previous configuration$",
                    r'^\S+:\d+: service "echo": listen 127\.0\.0\.1:\d+: '
                    r'"reuseport" cannot change while the address is in '
                    r"use; restart evinetd to switch$",
                    r"^reload failed: could not bind every listener; "
                    r"generation \d+ serves on$"])
        port = ports["echo"]
        prober = Prober(port)
        prober.start()
        self.addCleanup(prober.stop)
        wait_until(lambda: prober.successes_after(0), IO, "a first echo")

        # The same config: both sockets are taken over, none bound.
        mark = d.mark()
        write_conf(d, REUSEPORT_CONF % (2, "yes"), echo=port)
        reload(d)
        settle(d, 2)
        d.wait_log(r'^service "echo": 127\.0\.0\.1:%d reused from the '
                   r'previous configuration$' % port, since=mark, count=2)
        first = self.owned_sockets(d, port, 2)

        # A third worker: the two sockets are kept and a third joins.
        write_conf(d, REUSEPORT_CONF % (3, "yes"), echo=port)
        reload(d)
        settle(d, 3)
        grown = self.owned_sockets(d, port, 3)
        self.assertTrue(set(first.values()) < set(grown.values()))
        t = time.monotonic()
        wait_until(lambda: prober.successes_after(t) >= 10, IO,
                   "echoes after growing")
        prober.stop()
        self.assertEqual(prober.failures(), [])

        # Back to one worker: the sockets no worker serves are closed.
        write_conf(d, REUSEPORT_CONF % (1, "yes"), echo=port)
        reload(d)
        settle(d, 1)
        wait_until(lambda: len(listen_inodes(port)) == 1, IO,
                   "the extra sockets to close")
        self.owned_sockets(d, port, 1)
        self.assertEqual(echo_once(port, b"one"), b"one")

        # Switching reuseport off on a live address cannot work (a plain
        # socket cannot share the port): refused, and the old one serves.
        mark = d.mark()
        write_conf(d, REUSEPORT_CONF % (1, "no"), echo=port)
        reload(d, ok=False)
        d.wait_log(r'^\S+:4: service "echo": listen 127\.0\.0\.1:%d: '
                   r'"reuseport" cannot change while the address is in '
                   r"use; restart evinetd to switch$" % port, since=mark)
        self.assertEqual(echo_once(port, b"two"), b"two")
        self.assertEqual(d.stop(), 0)


# 8: privileges.

def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


def ids(status, key):
    return [int(x) for x in status[key].split()]


class TestPrivileges(SupervisorCase):

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    @unittest.skipIf(nobody() is None, "no user nobody")
    def test_workers_serve_as_nobody_and_the_supervisor_stays_root(self):
        pw = nobody()
        d = self.daemon("workers = 2\n" + ECHO_CONF + """
            service alone {
                listen = 127.0.0.1:0
                module = echo
                isolate = yes
            }
            """)
        self.assertEqual(echo_once(d.port("echo")), b"ping")
        self.assertEqual(echo_once(d.port("alone")), b"ping")
        pids = worker_pids(d, 3)
        self.assertEqual(len(pids), 3)
        for pid in pids:
            st = proc_status(pid)
            self.assertEqual(ids(st, "Uid"), [pw.pw_uid] * 4, pid)
            self.assertEqual(ids(st, "Gid"), [pw.pw_gid] * 4, pid)
            # No supplementary group of root's survives.
            self.assertLessEqual(set(ids(st, "Groups")), {pw.pw_gid}, pid)
            self.assertEqual(st["NoNewPrivs"], "1", pid)
            self.assertEqual(st["CapEff"], "0000000000000000", pid)
        st = proc_status(d.pid)
        self.assertEqual(ids(st, "Uid"), [0] * 4)
        self.assertEqual(d.stop(), 0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_user_root_must_be_explicit_and_is_warned_about(self):
        d = self.daemon("user = root\n" + ECHO_CONF, expect=[
            r'^serving as root, as "user = root" says; a module bug is '
            r"then a root compromise$"])
        d.wait_log(r'^serving as root, as "user = root" says')
        self.assertEqual(echo_once(d.port("echo")), b"ping")
        (pid,) = worker_pids(d, 1)
        st = proc_status(pid)
        self.assertEqual(ids(st, "Uid"), [0] * 4)
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(d.stop(), 0)

    def test_an_unknown_user_is_a_config_error(self):
        path = self.tempdir().join("evinetd.conf")
        rc, out, err = evitest.run_check("""
            service echo {
                listen = 127.0.0.1:0
                module = echo
            }
            user = nosuchuser
            """, path=path)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn('%s:5: user "nosuchuser" does not exist\n' % path, err)


# 9: daemon mode.

PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on):
    """Makes this process the reaper of its orphaned descendants, so a
    daemon that detached from its parent becomes our child and we can
    wait for it and see its exit code.  False if the kernel says no."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0,
                          0) == 0
    except (OSError, AttributeError):
        return False


def free_port():
    """A TCP port on 127.0.0.1 that is free right now.  In daemon mode the
    log goes to syslog, so the test cannot learn a port 0 from it: it
    picks a port, closes it and configures it.  Another program could
    take that port in between; the window is a few milliseconds, and such
    a failure would be a clear "Address already in use", not a hang."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestDaemonMode(unittest.TestCase):
    """evinetd without -d: the harness cannot run it, so this does."""

    def setUp(self):
        self.tmp = evitest.TempDir()
        self.addCleanup(self.tmp.close)
        self.reaper = set_subreaper(True)
        if self.reaper:
            self.addCleanup(set_subreaper, False)
        self.pidfile = self.tmp.join("evinetd.pid")
        self.port = free_port()
        self.conf = self.tmp.write("evinetd.conf", """
            service echo {
                listen = 127.0.0.1:%d
                module = echo
            }
            """ % self.port)
        self.pid = None
        self.addCleanup(self.kill_daemon)

    def evinetd(self, *args, conf=None):
        p = subprocess.run(
            [evitest.EVINETD, "-f", conf or self.conf, "-M",
             evitest.MODULE_DIR, "-p", self.pidfile] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=evitest.READY_TIMEOUT * SCALE)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def start(self):
        rc, out, err = self.evinetd()
        self.assertEqual(rc, 0, err)
        with open(self.pidfile) as f:
            text = f.read()
        self.assertRegex(text, r"^\d+\n$")
        self.pid = int(text)
        return err

    def reap(self, pid, timeout):
        """Waits for PID to end; its exit code if it is our child (we are
        its subreaper), else None."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            if self.reaper:
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done, status = 0, None
                    if not alive(pid):
                        return None
                if done == pid:
                    return os.waitstatus_to_exitcode(status)
            elif not alive(pid):
                return None
            if time.monotonic() > deadline:
                raise AssertionError("pid %d still runs after %.0f s" % (
                    pid, timeout))
            time.sleep(0.02)

    def kill_daemon(self):
        # Only the daemon this test started (its pid file said so) and
        # its workers, and only while they are evinetd processes.
        if self.pid is None or not alive(self.pid) or \
                not is_evinetd(self.pid):
            return
        kids = [k for k in children(self.pid) if is_evinetd(k)]
        os.kill(self.pid, signal.SIGKILL)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in [self.pid] + kids:
            try:
                self.reap(pid, evitest.STOP_TIMEOUT)
            except AssertionError:
                pass

    def test_returns_0_when_serving_and_stops_on_sigterm(self):
        err = self.start()
        # Ready means ready: the first connection must work, no retries.
        self.assertEqual(echo_once(self.port, b"first"), b"first")
        self.assertTrue(is_evinetd(self.pid), cmdline(self.pid))
        # The pid is the supervisor's: it runs the workers.
        kids = children(self.pid)
        self.assertEqual(len(kids), 1)
        self.assertTrue(is_evinetd(kids[0]))
        if self.reaper:
            self.assertEqual(proc_stat(self.pid)[1], os.getpid())
        # Before detaching it logged to stderr; after, to syslog only.
        self.assertFalse([line for line in err.splitlines()
                          if evitest.READY_RE.search(line)], err)

        os.kill(self.pid, signal.SIGTERM)
        rc = self.reap(self.pid, evitest.STOP_TIMEOUT)
        if rc is not None:
            self.assertEqual(rc, 0)
        wait_until(lambda: not os.path.exists(self.pidfile),
                   evitest.STOP_TIMEOUT, "the pid file to be removed")
        for k in kids:
            wait_until(lambda: not alive(k), evitest.STOP_TIMEOUT,
                       "the worker to exit")
        self.assertTrue(refused(self.port))

    def test_a_second_instance_is_refused_by_the_pid_file(self):
        self.start()
        # Another config (its own port 0), the same pid file, and -d so
        # that its log is on stderr.
        conf2 = self.tmp.write("second.conf", """
            service echo {
                listen = 127.0.0.1:0
                module = echo
            }
            """)
        rc, out, err = evitest.run_evinetd(
            ["-d", "-f", conf2, "-M", evitest.MODULE_DIR, "-p",
             self.pidfile])
        self.assertNotEqual(rc, 0, err)
        self.assertIn("is locked: evinetd is already running (pid %d)" %
                      self.pid, err)
        with open(self.pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % self.pid)
        self.assertEqual(echo_once(self.port, b"still"), b"still")

    def test_starting_the_same_daemon_twice_says_already_running(self):
        # What an admin does: run the same command again.  The pid file
        # must be checked before binding (else this reads "Address
        # already in use") and before detaching (else the message goes
        # to syslog only and the terminal shows nothing).
        self.start()
        rc, out, err = self.evinetd()
        self.assertNotEqual(rc, 0, err)
        self.assertIn("is locked: evinetd is already running (pid %d)" %
                      self.pid, err)
        with open(self.pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % self.pid)
        self.assertEqual(echo_once(self.port, b"still"), b"still")


# Signals that meet a reload half-way.

def signals_at_once(d, *sigs):
    """Delivers SIGS to the supervisor together: it is stopped while they
    are sent, so on SIGCONT it handles them in one loop iteration, in
    signal number order.  A SIGHUP among them forks the new generation's
    workers microseconds before the next signal is forwarded to them."""
    os.kill(d.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: proc_stat(d.pid)[0] == "T", IO,
                   "the supervisor to stop")
        for sig in sigs:
            os.kill(d.pid, sig)
    finally:
        os.kill(d.pid, signal.SIGCONT)


class TestSignalsDuringReload(SupervisorCase):
    """A signal that reaches the supervisor just after a SIGHUP forked new
    workers is forwarded to workers that are still starting.  Each test
    repeats its race a number of times, so that a bug shows whichever
    instant of a worker's start the signal hits."""

    def racy_daemon(self, conf):
        # Not self.daemon(): after an expected failure the cleanup must
        # kill the daemon rather than fail on its log.  The tests check
        # the exit and the log themselves.
        d = evitest.Daemon(conf)
        self.addCleanup(self._kill, d)
        return d

    @staticmethod
    def _kill(d):
        d._kill()
        d.tmp.close()

    # Regression: a starting worker used to run the supervisor's inherited
    # libevent signal handler (a forwarded signal came back to the
    # supervisor), and a drain signal used to escalate a graceful stop.
    def test_sigterm_right_after_sighup_is_still_graceful(self):
        for i in range(5):
            d = self.racy_daemon("shutdown_timeout = 10s\n"
                                 "drain_timeout = 10s\n" + ECHO_CONF)
            live = evitest.connect(d.port("echo"))
            self.addCleanup(live.close)
            self.assertEqual(evitest.transfer(live, b"before"), b"before")
            signals_at_once(d, signal.SIGHUP, signal.SIGTERM)
            d.wait_log(r"^received SIGTERM, stopping$")
            self.assertEqual(d.wait_log(
                r"^(stopping: waiting up to 10000 ms for 1 connection|"
                r"stopping now)$").string, "stopping: waiting up to 10000 "
                "ms for 1 connection", "try %d" % i)
            self.assertEqual(evitest.transfer(live, b"during"), b"during",
                             "try %d" % i)
            live.shutdown(socket.SHUT_WR)
            self.assertEqual(evitest.recv_until_eof(live), b"")
            live.close()
            self.assertEqual(d.wait_exit(timeout=10), 0)
            lines = d.log_lines()
            self.assertEqual(lines.count("received SIGTERM, stopping"), 1,
                             d.log_text())
            self.assertNotIn("stopping now", lines, d.log_text())
            d.check_alerts()

    def test_a_state_dump_during_reloads_is_one_dump_each(self):
        d = self.racy_daemon(ECHO_CONF)
        n = 40
        for i in range(n):
            mark = d.mark()
            signals_at_once(d, signal.SIGHUP, signal.SIGUSR1)
            self.assertRegex(d.wait_log(RELOAD_DONE_RE, since=mark).string,
                             r"^reload: generation %d serving " % (i + 2))
            settle(d, 1)
        self.assertEqual(echo_once(d.addrs("echo")[-1][1]), b"ping")
        self.assertEqual(d.stop(), 0)
        # A dump echoed back to the supervisor would show up as more.
        dumps = [line for line in d.log_lines()
                 if line.startswith("state: supervisor pid ")]
        self.assertEqual(len(dumps), n)


# 10: -X.

class TestSingleProcess(SupervisorCase):

    def test_single_process_serves_alone_and_refuses_to_reload(self):
        d = self.daemon(ECHO_CONF, args=["-X"], expect=[
            r"^received SIGHUP: a single-process evinetd \(-X\) cannot "
            r"reload; restart it, or run it without -X$"])
        port = d.port("echo")
        live = evitest.connect(port)
        self.addCleanup(live.close)
        self.assertEqual(evitest.transfer(live, b"one"), b"one")
        self.assertEqual(children(d.pid), [])
        mark = d.mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"^received SIGHUP: a single-process evinetd", since=mark)
        self.assertTrue(d.running())
        self.assertEqual(evitest.transfer(live, b"two"), b"two")
        self.assertEqual(echo_once(port, b"new"), b"new")
        self.assertEqual(children(d.pid), [])
        live.close()
        self.assertEqual(d.stop(), 0)
        self.assertIn("received SIGTERM, stopping", d.log_lines())
        self.assertEqual(d.log_lines()[-1], "exiting")


if __name__ == "__main__":
    evitest.main()
