#!/usr/bin/env python3
"""Chaos: worker processes die under load, and nobody else notices.

One daemon serves two kinds of services.  echo, daytime and chargen share
one worker process.  "victim" (echo) and "crashy" (the crash test module)
each have a worker of their own (isolate = yes).  Client threads keep the
shared services busy throughout.  They do round trips on fresh
connections and on long-lived ones, and verify every answer.

test_victim_killed_every_second_others_never_miss_a_request
    The victim's worker gets SIGKILL about once a second for about 15 s.
    Each time, the test finds the current pid from the supervisor's
    SIGUSR1 dump and checks that it is a child of our daemon.

test_victim_killed_while_restarting_is_restarted_others_serve
    The victim is killed, and its successor is killed as soon as the
    supervisor logs its start, before it can report ready.  Older
    supervisors took that death for a failed start of the serving
    generation, and killed every worker without restarting any.

test_crashy_crash_is_logged_and_restarted_others_untouched
    A client sends "crash" to crashy, and its worker dies of SIGSEGV.
    Sanitizer builds end differently: see CRASH_ENV.

Each test asserts the following:

* The shared services never miss a request: no failure at all, and no
  retry.  The supervisor holds the listening sockets, so a client of the
  dead service waits in the backlog; it is not refused.
* The dead service answers again within a stated bound.  The supervisor
  restarts a worker after a back-off: 100 ms, doubled for each death
  within 10 s of the worker's start, up to 30 s.  Killed every second, a
  worker never lives 10 s, so the k-th kill waits 100 * 2^(k-1) ms.  The
  bound is that back-off plus RESTART_SLACK (fork, module load and
  initialisation; generous for sanitizer builds).  A kill happens 1 s
  after the previous one, or once the service answers again, whichever
  is later.  Kills stop when the next one's back-off would take the
  phase past KILL_PHASE seconds.  That gives 7 kills with back-offs of
  100, 200, 400, 800, 1600, 3200 and 6400 ms, in about 15 s.
* The other workers keep their pids, so they were never restarted.

The every-second test also asserts that the supervisor does not grow.
Its descriptor count (/proc/PID/fd) at the end must equal the count at
the start.  Its RSS must grow by less than RSS_SLACK_KB.

The measured figures are printed to the test log: the gap after each
kill, the shared clients' round trips and slowest requests, and the
supervisor's descriptors and RSS at the start and at the end.

In the every-second test, the supervisor must have seen a victim ready
before the victim is killed.  Each kill then runs the whole restart
path, and the back-off schedule is exact.  The test makes sure of it in
two steps.  First, a round trip on the victim: the worker reports ready
on its pipe before it accepts anything.  Second, a SIGUSR1 state line
that names the new pid: the supervisor reads the ready pipe in an
earlier or the same loop iteration as the signal.
"""

import os
import re
import resource
import signal
import threading
import time

import evitest

IO = evitest.IO_TIMEOUT

CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    service daytime {
        listen = 127.0.0.1:0
        module = daytime
    }
    service chargen {
        listen = 127.0.0.1:0
        module = chargen
    }
    service victim {
        listen = 127.0.0.1:0
        module = echo
        isolate = yes
    }
    service crashy {
        listen = 127.0.0.1:0
        module = %s
        isolate = yes
    }
    """ % os.path.join(evitest.TESTMOD_DIR, "crash.so")

NWORKERS = 3                    # shared, victim, crashy

# Bounds: see the module's docstring.
KILL_INTERVAL = 1.0             # seconds between two kills, at least
KILL_PHASE = 16.0               # no kill whose back-off ends later
RESTART_MIN_MS = 100            # supervisor.c: RESTART_MIN_MS
RESTART_MAX_MS = 30000          # supervisor.c: RESTART_MAX_MS
RESTART_SLACK = 1.0             # seconds beyond the back-off
RSS_SLACK_KB = 512              # supervisor RSS growth over the run
CLIENT_TIMEOUT = 5.0            # per request of the shared clients

# Daytime's default format, "%a %b %e %H:%M:%S %Y %Z" (zone UTC or GMT).
DAYTIME_RE = re.compile(
    rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d \d{4} "
    rb"[A-Z]+\r\n$")

# chargen (RFC 864): line i holds 72 characters starting at 0x20 + i mod
# 95, then CR LF; the stream repeats every 95 lines.
CHARGEN_PERIOD = b"".join(
    bytes(0x20 + (line + col) % 95 for col in range(72)) + b"\r\n"
    for line in range(95))

STATE_WORKER_RE = re.compile(
    r"^state: generation (\d+)( \(draining\))?: worker (\d+) \((\S+)\)"
    r"(, restarting)?$")

# Under --enable-sanitizers, UBSan sees the crash module's NULL store
# before the CPU does and reports it ("runtime error: store to null
# pointer").  What happens next depends on whether the worker could read
# UBSAN_OPTIONS.  UBSan reads it from /proc/self/environ when it first
# reports.  A worker that dropped root for "nobody" can no longer read
# that file, so it gets the default: exit status 1.  A worker that could
# read it gets abort_on_error, and dies of SIGABRT, after a stack trace
# when print_stacktrace=1.  Both are accepted, but
# only when the UBSan report is in the log.  handle_segv=0 keeps ASan
# from turning a plain SIGSEGV into an exit.
CRASH_ENV = dict(evitest.MEMORY_ENV)
CRASH_ENV.update({
    "ASAN_OPTIONS": ":".join(filter(None, [
        evitest.MEMORY_ENV["ASAN_OPTIONS"], "abort_on_error=1",
        "handle_segv=0"])),
    "UBSAN_OPTIONS": ":".join(filter(None, [
        os.environ.get("UBSAN_OPTIONS", ""), "abort_on_error=1"])),
})
CRASH_DEATH_RE = re.compile(
    r"^worker (\d+) \(generation 1, crashy\) (killed by signal (\d+) "
    r"\((Segmentation fault|Aborted)\)|exited with status (1))$")
UBSAN_CRASH_START_RE = re.compile(
    r"crash\.c:\d+:\d+: runtime error: store to null pointer")
UBSAN_REPORT_RE = re.compile(r"^(\s+#\d+ 0x[0-9a-f]+ |$|SUMMARY: )")
UBSAN_CRASH_END_RE = re.compile(
    r"^SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior \S*crash\.c:")


def report(text):
    """Prints a measured figure to the test log."""
    print("chaos: " + text, flush=True)


def proc_ppid(pid):
    """The parent pid of PID from /proc, or None if it is gone or a
    zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if fields[0] == "Z":
        return None
    return int(fields[1])


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def backoff_ms(kill_no):
    """The supervisor's back-off before restarting a worker that died for
    the KILL_NO-th time, each time within 10 s of its start."""
    return min(RESTART_MIN_MS << (kill_no - 1), RESTART_MAX_MS)


class Client(threading.Thread):
    """A client of a shared service that sends requests in a loop, paced by
    INTERVAL, until stopped.  Each answer is verified.  It records (start,
    end, error) per request; error is None on success.  Any failure is a
    failure of the test, so there are no retries: a long-lived connection
    that fails is replaced only so that the failure count stays
    meaningful."""

    def __init__(self, name, port, interval):
        super().__init__(name="client-" + name, daemon=True)
        self.kind = name
        self.port = port
        self.interval = interval
        self.stopping = threading.Event()
        self.cond = threading.Condition()   # notified per record
        self.records = []
        self.sock = None
        self.n = 0

    def _connect(self):
        return evitest.connect(self.port, timeout=CLIENT_TIMEOUT)

    def request(self):
        self.n += 1
        if self.kind == "echo-fresh":
            data = b"fresh %d " % self.n + os.urandom(self.n % 4000 + 1)
            with self._connect() as s:
                got = evitest.transfer(s, data, timeout=CLIENT_TIMEOUT)
            if got != data:
                raise AssertionError("echo: sent %d bytes, got back %d "
                                     "different ones" % (len(data), len(got)))
        elif self.kind == "echo-long":
            if self.sock is None:
                self.sock = self._connect()
            data = b"long %d " % self.n + os.urandom(self.n % 1000 + 1)
            got = evitest.transfer(self.sock, data, timeout=CLIENT_TIMEOUT)
            if got != data:
                raise AssertionError("echo: round trip %d differs" % self.n)
        elif self.kind == "daytime-fresh":
            with self._connect() as s:
                got = evitest.recv_until_eof(s, timeout=CLIENT_TIMEOUT,
                                             limit=256)
            if not DAYTIME_RE.match(got):
                raise AssertionError("daytime: %r" % got)
        elif self.kind == "chargen-long":
            # The stream is whole periods from the start, so each read of
            # one period must be exactly the period.
            if self.sock is None:
                self.sock = self._connect()
            got = evitest.recv_exact(self.sock, len(CHARGEN_PERIOD),
                                     timeout=CLIENT_TIMEOUT)
            if got != CHARGEN_PERIOD:
                raise AssertionError("chargen: period %d differs" % self.n)
        else:
            raise ValueError(self.kind)

    def run(self):
        while not self.stopping.is_set():
            t0 = time.monotonic()
            try:
                self.request()
                err = None
            except Exception as e:      # recorded; the test asserts none
                err = "%s: %s" % (type(e).__name__, e)
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
            with self.cond:
                self.records.append((t0, time.monotonic(), err))
                self.cond.notify_all()
            self.stopping.wait(self.interval)
        if self.sock is not None:
            self.sock.close()

    def stop(self):
        self.stopping.set()
        self.join(CLIENT_TIMEOUT * 3)
        if self.is_alive():
            raise AssertionError("client %s did not stop" % self.kind)

    def snapshot(self):
        with self.cond:
            return list(self.records)

    def wait_until(self, pred, deadline):
        """Waits, until the monotonic DEADLINE at most, for PRED(records)
        to hold; woken by each new record, not by polling."""
        with self.cond:
            return self.cond.wait_for(
                lambda: pred(self.records),
                max(0.0, deadline - time.monotonic()))

    def successes(self):
        return sum(1 for r in self.snapshot() if r[2] is None)

    def failures(self):
        return [r for r in self.snapshot() if r[2] is not None]

    def longest_request(self):
        return max((t1 - t0 for (t0, t1, _) in self.snapshot()), default=0)


class ChaosCase(evitest.TestCase):

    @classmethod
    def setUpClass(cls):
        # A crashed worker must not leave a core file behind.
        cls.core = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, cls.core[1]))

    @classmethod
    def tearDownClass(cls):
        resource.setrlimit(resource.RLIMIT_CORE, cls.core)

    def start(self, **kw):
        # -v logs "worker PID started (generation N, NAME)".
        self.d = self.daemon(CONF, args=["-v"], **kw)
        self.clients = [
            Client("echo-fresh", self.d.port("echo"), 0.02),
            Client("echo-long", self.d.port("echo"), 0.02),
            Client("daytime-fresh", self.d.port("daytime"), 0.05),
            Client("chargen-long", self.d.port("chargen"), 0.05),
        ]
        for c in self.clients:
            c.start()
            self.addCleanup(c.stop)
        deadline = time.monotonic() + IO
        for c in self.clients:
            self.assertTrue(c.wait_until(lambda recs: len(recs) > 0,
                                         deadline),
                            "the shared clients did not get going")

    def state(self):
        """Sends SIGUSR1 to the supervisor; returns {name: pid} of its
        current workers (0 for one that is restarting).  The supervisor
        logs its lines from one callback, so once NWORKERS of them are in,
        all are."""
        mark = self.d.mark()
        self.d.send_signal(signal.SIGUSR1)
        self.d.wait_log(STATE_WORKER_RE, since=mark, count=NWORKERS)
        workers = {}
        for line in self.d.log_lines(mark):
            m = STATE_WORKER_RE.search(line)
            if m and not m.group(2):
                workers[m.group(4)] = int(m.group(3))
        self.assertEqual(len(workers), NWORKERS, workers)
        return workers

    def our_worker(self, pid):
        """Fails unless PID is a live child of our daemon."""
        self.assertGreater(pid, 0)
        self.assertEqual(proc_ppid(pid), self.d.pid,
                         "pid %d is not a worker of our daemon %d" % (
                             pid, self.d.pid))
        return pid

    def round_trip(self, service, data, timeout):
        with evitest.connect(self.d.port(service), timeout=timeout) as s:
            return evitest.transfer(s, data, timeout=timeout)

    def stop_clients(self):
        for c in self.clients:
            c.stop()
        for c in self.clients:
            bad = c.failures()
            self.assertEqual(len(bad), 0, "client %s missed %d of %d "
                             "requests, the first: %s" % (
                                 c.kind, len(bad), len(c.snapshot()),
                                 bad[:3]))
            self.assertGreater(c.successes(), 0, c.kind)
        report("shared clients: " + ", ".join(
            "%s %d ok, 0 failed, slowest %.0f ms" % (
                c.kind, c.successes(), 1000 * c.longest_request())
            for c in self.clients))


class TestVictim(ChaosCase):

    def test_victim_killed_every_second_others_never_miss_a_request(self):
        self.start(env=evitest.MEMORY_ENV, expect=[
            r"^worker \d+ \(generation 1, victim\) killed by signal 9 "
            r"\(Killed\)$"])
        d = self.d
        first = self.state()
        for pid in first.values():
            self.our_worker(pid)
        self.assertEqual(self.round_trip("victim", b"warm", IO), b"warm")
        fds0, rss0 = fd_count(d.pid), d.rss_kb()

        gaps = []                       # (kill no, back-off ms, gap s)
        t_first = time.monotonic()
        kill_no = 0
        while True:
            kill_no += 1
            if (time.monotonic() - t_first + backoff_ms(kill_no) / 1000.0
                    > KILL_PHASE):
                kill_no -= 1
                break
            # The victim answered since its start (the round trip before
            # the loop, or the last recovery probe), so it has reported
            # ready; this dump is from after the supervisor read that.
            pid = self.our_worker(self.state()["victim"])
            mark = d.mark()
            t_kill = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            d.wait_log(r"^worker %d \(generation 1, victim\) killed by "
                       r"signal 9 \(Killed\)$" % pid, since=mark)
            m = d.wait_log(r"^restarting worker of generation 1 \(victim\) "
                           r"in (\d+) ms$", since=mark)
            self.assertEqual(int(m.group(1)), backoff_ms(kill_no),
                             "back-off after kill %d" % kill_no)
            bound = backoff_ms(kill_no) / 1000.0 + RESTART_SLACK
            # The listening socket stays with the supervisor: this client
            # waits in the backlog until the new worker accepts it.
            data = b"victim %d" % kill_no
            got = self.round_trip("victim", data, bound + IO)
            gap = time.monotonic() - t_kill
            self.assertEqual(got, data)
            m = d.wait_log(r"^worker (\d+) started \(generation 1, "
                           r"victim\)$", since=mark)
            self.assertNotEqual(int(m.group(1)), pid)
            gaps.append((kill_no, backoff_ms(kill_no), gap))
            self.assertLess(gap, bound, "victim unserved for %.3f s after "
                            "kill %d (back-off %d ms)" % (
                                gap, kill_no, backoff_ms(kill_no)))
            pause = t_kill + KILL_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)       # the kill cadence, not a wait
        phase = time.monotonic() - t_first

        self.stop_clients()
        last = self.state()
        self.assertEqual(last["shared"], first["shared"],
                         "the shared worker was restarted")
        self.assertEqual(last["crashy"], first["crashy"],
                         "crashy's worker was restarted")
        self.our_worker(last["victim"])
        self.assertEqual(self.round_trip("victim", b"end", IO), b"end")
        fds1, rss1 = fd_count(d.pid), d.rss_kb()

        report("%d kills of victim in %.1f s: " % (kill_no, phase) + ", ".join(
            "#%d back-off %d ms -> answered after %.0f ms" % (k, b, 1000 * g)
            for (k, b, g) in gaps))
        worst = max(g - b / 1000.0 for (_, b, g) in gaps)
        report("worst restart overhead beyond the back-off: %.0f ms (bound "
               "%.0f ms); longest gap %.0f ms" % (
                   1000 * worst, 1000 * RESTART_SLACK,
                   1000 * max(g for (_, _, g) in gaps)))
        report("supervisor %d: descriptors %d -> %d, RSS %d -> %d KiB "
               "(%+d KiB, bound +%d KiB)" % (
                   d.pid, fds0, fds1, rss0, rss1, rss1 - rss0,
                   RSS_SLACK_KB))
        self.assertGreaterEqual(kill_no, 6)
        self.assertEqual(fds1, fds0, "supervisor descriptors")
        # Under valgrind the RSS is mostly valgrind's own bookkeeping.
        if not evitest.under_valgrind():
            self.assertLess(rss1 - rss0, RSS_SLACK_KB, "supervisor RSS")
        self.assertEqual(d.stop(), 0)


class TestVictimBeforeReady(ChaosCase):
    """A restarted worker that dies again before it reports ready fails
    only itself.  The supervisor used to take this death for a failed
    start of the serving generation.  It then killed every worker (the
    shared one too), and restarted none."""

    def test_victim_killed_while_restarting_is_restarted_others_serve(self):
        self.start(env=evitest.MEMORY_ENV, expect=[
            r"^worker \d+ \(generation 1, victim\) killed by signal 9 "
            r"\(Killed\)$"])
        d = self.d
        first = self.state()
        mark = d.mark()
        os.kill(self.our_worker(first["victim"]), signal.SIGKILL)
        # The new worker still has to load its module: kill it as soon as
        # the supervisor says it forked it.
        m = d.wait_log(r"^worker (\d+) started \(generation 1, victim\)$",
                       since=mark)
        t_start = time.monotonic()
        pid = self.our_worker(int(m.group(1)))
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
        d.wait_log(r"^worker %d \(generation 1, victim\) killed by signal 9 "
                   r"\(Killed\)$" % pid, since=mark)
        d.wait_log(r"^restarting worker of generation 1 \(victim\) in "
                   r"%d ms$" % (2 * RESTART_MIN_MS), since=mark)
        bound = 2 * RESTART_MIN_MS / 1000.0 + RESTART_SLACK
        self.assertEqual(self.round_trip("victim", b"back", bound + IO),
                         b"back")
        gap = time.monotonic() - t_kill
        report("victim killed again %.1f ms after its start line; answered "
               "%.0f ms after that kill (bound %.0f ms)" % (
                   1000 * (t_kill - t_start), 1000 * gap, 1000 * bound))
        self.assertLess(gap, bound)
        self.stop_clients()
        last = self.state()
        self.assertEqual(last["shared"], first["shared"])
        self.assertEqual(last["crashy"], first["crashy"])
        self.our_worker(last["victim"])
        self.assertEqual(self.round_trip("crashy", b"fine", IO), b"fine")
        self.assertNotIn("reload failed", d.log_text())
        self.assertEqual(d.stop(), 0)


class TestCrashy(ChaosCase):

    def test_crashy_crash_is_logged_and_restarted_others_untouched(self):
        self.start(env=CRASH_ENV, expect=[CRASH_DEATH_RE, UBSAN_CRASH_END_RE])
        d = self.d
        d.alerts = self.alerts_but_the_ubsan_report
        first = self.state()
        for pid in first.values():
            self.our_worker(pid)
        self.assertEqual(self.round_trip("crashy", b"fine", IO), b"fine")

        mark = d.mark()
        with evitest.connect(d.port("crashy")) as s:
            t_crash = time.monotonic()
            s.sendall(b"crash")
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
        m = d.wait_log(CRASH_DEATH_RE, since=mark)
        self.assertEqual(int(m.group(1)), first["crashy"])
        ubsan = any(UBSAN_CRASH_START_RE.search(line)
                    for line in d.log_lines(mark))
        if ubsan:
            how = "UBSan report, then " + m.group(2)
            self.assertIn(m.group(3) or "exit", ("6", "exit"), m.string)
        else:
            how = m.group(2)
            self.assertEqual(m.group(3), "11", m.string)
        d.wait_log(r"^restarting worker of generation 1 \(crashy\) in "
                   r"%d ms$" % RESTART_MIN_MS, since=mark)
        bound = RESTART_MIN_MS / 1000.0 + RESTART_SLACK
        got = self.round_trip("crashy", b"again", bound + IO)
        gap = time.monotonic() - t_crash
        self.assertEqual(got, b"again")
        m = d.wait_log(r"^worker (\d+) started \(generation 1, crashy\)$",
                       since=mark)
        self.assertNotEqual(int(m.group(1)), first["crashy"])
        report("crashy: %s; answered again after %.0f ms (bound %.0f ms)"
               % (how, 1000 * gap, 1000 * bound))
        self.assertLess(gap, bound)

        # Let the shared clients run on past the restart, then check that
        # nothing else noticed.
        t_back = time.monotonic()
        deadline = t_back + IO
        for c in self.clients:
            self.assertTrue(c.wait_until(
                lambda recs: any(t0 > t_back and err is None
                                 for (t0, _, err) in recs), deadline),
                "shared clients after the restart")
        self.stop_clients()
        last = self.state()
        self.assertEqual(last["shared"], first["shared"])
        self.assertEqual(last["victim"], first["victim"])
        self.assertEqual(self.round_trip("victim", b"untouched", IO),
                         b"untouched")
        self.assertEqual(self.round_trip("crashy", b"fine", IO), b"fine")
        self.assertEqual(d.stop(), 0)

    def alerts_but_the_ubsan_report(self):
        """The daemon's alerts, less the UBSan report of the crash this
        test provokes: from its "runtime error: store to null pointer"
        line through its SUMMARY line (the stack trace in between, with
        print_stacktrace=1).  Any other sanitizer line is still an
        alert."""
        lines, skipping = [], False
        for line in self.d.log_lines():
            if UBSAN_CRASH_START_RE.search(line):
                skipping = True
                continue
            if skipping and UBSAN_REPORT_RE.search(line):
                if UBSAN_CRASH_END_RE.search(line):
                    skipping = False
                continue
            skipping = False
            lines.append(line)
        return evitest.find_alerts(lines, self.d.expected)


if __name__ == "__main__":
    evitest.main()
