"""evitest: a harness for tests that run the real evinetd binary.

Every daemon test suite (test_cli.py, test_echo.py, and the suites for the
classic services, limits and metrics) builds on this module, so that they
all follow the same rules:

* Each daemon gets its own temporary directory and config file, and runs
  in the foreground (``evinetd -d -f CONF -M MODULE_DIR``).
* Readiness and ports come from the daemon's own log: the harness waits
  for the "ready" line, and parses every ``service "NAME": listening on
  ADDR:PORT (tcp|udp)`` line.  Configs use port 0; no sleeps, no guessed
  ports.
* When a daemon stops, its log must hold no alerts: no sanitizer report
  (AddressSanitizer, LeakSanitizer, UBSan's "runtime error:"), no
  "fatal:", and no warning the test did not declare with ``expect``.
* Every wait and every socket operation has a timeout, and traffic only
  goes to 127.0.0.1 and ::1.

A typical test::

    import evitest

    class TestEcho(evitest.TestCase):
        def test_echo(self):
            d = self.daemon('''
                service echo {
                    listen = 127.0.0.1:0
                    module = echo
                }''')
            with evitest.connect(d.port("echo")) as s:
                self.assertEqual(evitest.transfer(s, b"hi"), b"hi")
            self.assertEqual(d.stop(), 0)

The environment (set by "make check"):

    EVINETD              the daemon binary
    EVINETD_MODULE_DIR   the built bundled modules (modules/.libs)
    EVINETD_TESTMOD_DIR  the built test modules (tests/modules/.libs)

and by "make check-valgrind" (tests/Makefile.valgrind.inc):

    EVINETD_WRAPPER      a command put in front of every evinetd the
                         harness starts ("valgrind -q ...").  Under
                         valgrind, each process (the daemon and every
                         worker it forks) writes its report to
                         valgrind.PID.log in the daemon's temp dir, and
                         any error or definite leak there is an alert.
    EVINETD_TIMEOUT_SCALE  a factor for every bound the harness waits for
                         (10 under valgrind, which is that much slower).

When they are unset, paths relative to this file's source tree are used,
so a suite can also be run by hand from the top of the tree.  Set
EVITEST_VERBOSE=1 to copy every daemon log line to stderr as it arrives.
"""

import atexit
import errno
import glob
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

__all__ = [
    "EVINETD", "MODULE_DIR", "TESTMOD_DIR", "MEMORY_ENV", "DaemonError",
    "Daemon", "find_alerts",
    "TestCase", "TempDir", "run_evinetd", "run_check", "connect",
    "transfer", "recv_exact", "recv_until_eof", "hold_port", "have_ipv6",
    "raise_nofile", "rss_kb", "under_valgrind",
]

_TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

EVINETD = os.environ.get("EVINETD") or os.path.join(_TOP, "daemon",
                                                    "evinetd")
MODULE_DIR = os.environ.get("EVINETD_MODULE_DIR") or os.path.join(
    _TOP, "modules", ".libs")
TESTMOD_DIR = os.environ.get("EVINETD_TESTMOD_DIR") or os.path.join(
    _TOP, "tests", "modules", ".libs")

VERBOSE = bool(os.environ.get("EVITEST_VERBOSE"))

WRAPPER = shlex.split(os.environ.get("EVINETD_WRAPPER", ""))
TIMEOUT_SCALE = float(os.environ.get("EVINETD_TIMEOUT_SCALE") or 1)

# Pass as Daemon(env=MEMORY_ENV) to a daemon whose RSS a test measures.
# AddressSanitizer keeps freed memory in a quarantine (256 MiB by default)
# instead of reusing it, so RSS would grow with the bytes that went
# through the daemon, not with what it holds.  Harmless without ASan.
MEMORY_ENV = {
    "ASAN_OPTIONS": ":".join(filter(None, [
        os.environ.get("ASAN_OPTIONS", ""),
        "quarantine_size_mb=0", "thread_local_quarantine_size_kb=0"])),
}

# Default bounds, in seconds.  They are generous so that a daemon built
# with AddressSanitizer (about 3x slower) passes; a healthy test never
# waits for them to expire.  Every helper here multiplies the bound it is
# given, these or a test's own, by TIMEOUT_SCALE.
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0
IO_TIMEOUT = 10.0

# "service "NAME": listening on 127.0.0.1:7 (tcp)", or "[::1]:7".
LISTEN_RE = re.compile(
    r'service "(?P<name>[^"]+)": listening on '
    r'(?:\[(?P<host6>[^\]]+)\]|(?P<host4>[^\s:\[\]]+)):(?P<port>\d+) '
    r'\((?P<proto>tcp|udp)(?:, from systemd)?\)')

# "ready" (a timestamp may precede it when stderr is a terminal).
READY_RE = re.compile(r"^(?:\d\d:\d\d:\d\d )?ready\b")

# Lines that mean something went badly wrong, whatever the test expects.
ALERT_RES = [
    re.compile(r"AddressSanitizer"),
    re.compile(r"LeakSanitizer"),
    re.compile(r"ThreadSanitizer"),
    re.compile(r"runtime error:"),          # UBSan
    re.compile(r"^==\d+==\s*ERROR"),        # any sanitizer's report
    re.compile(r"\bfatal:"),                 # fatal() and fatalx()
]

# The daemon's log has no level tag on stderr, so the harness knows the
# lines that are NOT warnings: everything the daemon logs with log_info,
# and with log_debug (for -v runs).  Any other line is an unexpected
# warning unless the test declared it with "expect".  When you add a
# log_info or log_debug call to the daemon, add its pattern here.
INFO_PATTERNS = [
    # evinetd.c
    r'^evinetd \S+ starting: libevent \S+, \S+ backend$',
    r'^ready(: \d+ services? in \d+ workers?)?$',
    r'^evinetd \S+ starting \(single process\): libevent \S+, \S+ backend$',
    # supervisor.c
    r'^received (SIGHUP|a reload request on the control socket), '
    r'reloading \S+$',
    r'^received (SIGHUP|a reload request on the control socket) while '
    r'generation \d+ is still starting; reloading \S+ once it is done$',
    r'^reloading \S+, as a SIGHUP asked while generation \d+ was starting$',
    r'^reload: generation \d+ serving ',
    r'^restarting worker of generation \d+ \(\S+\) in \d+ ms$',
    r'^worker \d+ (started|\(generation \d+\) exited)',
    r'^received SIG[A-Z0-9]+, stopping$',
    r'^exiting$',
    r'^descriptor limit \d+$',
    # listener.c
    r'^service "[^"]+": listening on \S+ \((tcp|udp)(?:, from systemd)?\)'
    r'(?:, one socket per worker \(reuseport(?:, by source address)?\))?$',
    r'^service "[^"]+": no IPv6 on this host, \S+ serves IPv4 only$',
    r'^service "[^"]+": \S+ reused from the previous configuration$',
    r'^service "[^"]+": \S+: each source address reaches one of \d+ '
    r'workers$',
    # sockact.c (the note with -n; the list with -v)
    r'^\S+:\d+: service "[^"]+": listen fd:\S+ not checked: no sockets '
    r'were passed ',
    r'^socket activation: fd \d+ "[^"]*": ',
    # worker.c
    r'^stopping: waiting up to \d+ ms for \d+ connections?$',
    r'^stopping now$',
    r'^all connections finished$',
    r'^shutdown timeout: closing \d+ connections?$',
    # conn.c (-vv)
    r'^service "[^"]+": \S+ closed \([a-z ]+\), \d+ bytes in, \d+ out$',
    # module.c (-v)
    r'^module \S+: loaded "[^"]+", ABI \d+\.\d+$',
    r'^module /proc/self/fd/\d+ stays mapped after dlclose; its name is '
    r'kept$',
    # control.c, ctlcmd.c, chan.c
    r'^control socket \S+$',
    r'^control socket \S+ was left by a daemon that is gone; replacing '
    r'it$',
    r'^no control socket: ',
    r'^control: service "[^"]+" (enabled|disabled(, draining)?)$',
    r'^service "[^"]+": (enabled|disabled; new (connections are refused|'
    r'datagrams are dropped))$',
    r'^control: stop requested by uid \d+ \(pid \d+\)$',
    r'^service "[^"]+": closing connection \d+-\d+ as the operator '
    r'asked$',
    # limits.c: TLS handshake failures, at most one line a second
    r'^service "[^"]+": TLS handshake with \S+ failed: [a-z_]+ \(',
    r'^service "[^"]+": \d+ more TLS handshake failures in the last '
    r'second, last with \S+$',
    # spawn.c
    r'^service "[^"]+": pid \d+ exited with (status \d+|signal \d+ '
    r'\([^)]*\)), after its worker$',
    # stats.c: SIGUSR1 state dump and the connection log
    r'^state: ',
    r'^event=(close|outbound|datagram) service=\S+ proto=(tcp|udp) ',
    r'^event=exit service=\S+ pid=\d+ (exit=\d+|signal=\w+)$',
]


def find_alerts(lines, expect=()):
    """The LINES that must not be in a daemon's log: sanitizer reports and
    fatal errors always; any other line unless it is a known info line
    (INFO_PATTERNS) or matches one of the EXPECT regexes."""
    ok = _compile_all(INFO_PATTERNS) + _compile_all(expect)
    bad = []
    for line in lines:
        if any(rx.search(line) for rx in ALERT_RES) or \
                not any(rx.search(line) for rx in ok):
            bad.append(line)
    return bad


def under_valgrind():
    """True if the harness runs evinetd under valgrind (EVINETD_WRAPPER).
    Tests that measure memory, CPU or latency skip then: valgrind's own
    heap and its slowdown make those figures meaningless."""
    return bool(WRAPPER) and \
        os.path.basename(WRAPPER[0]).startswith("valgrind")


def _scaled(timeout):
    return timeout * TIMEOUT_SCALE


def _wrapped(argv, logdir):
    """ARGV behind EVINETD_WRAPPER; under valgrind, each process logs to
    LOGDIR/valgrind.PID.log (valgrind follows fork by itself)."""
    if not WRAPPER:
        return list(argv)
    pre = list(WRAPPER)
    if under_valgrind():
        pre.append("--log-file=" + os.path.join(logdir, "valgrind.%p.log"))
    return pre + list(argv)


# In a valgrind log that has a summary (no -q), what counts as a finding.
_VALGRIND_BAD_RE = re.compile(
    r"ERROR SUMMARY: [1-9]|definitely lost: [1-9]")


def _valgrind_alerts(logdir):
    """The findings in LOGDIR's valgrind logs, as lines "valgrind.PID.log:
    LINE".  With -q valgrind writes only what it finds, so a log with any
    text is a finding; without -q, a log is one if its summary counts an
    error or a definite leak."""
    if logdir is None or not under_valgrind():
        return []
    bad = []
    for path in sorted(glob.glob(os.path.join(logdir, "valgrind.*.log"))):
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        lines = [l for l in text.splitlines()
                 if not re.fullmatch(r"(==\d+==)?\s*", l)]
        if "ERROR SUMMARY:" in text and not _VALGRIND_BAD_RE.search(text):
            continue
        name = os.path.basename(path)
        bad += ["%s: %s" % (name, l) for l in lines]
    return bad


class DaemonError(AssertionError):
    """The daemon did not start, did not stop, or logged an alert."""


def _compile_all(patterns):
    return [p if hasattr(p, "search") else re.compile(p) for p in patterns]


def _dedent(text):
    return textwrap.dedent(text).lstrip("\n")


def have_ipv6():
    """True if this host can bind a socket on ::1."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def raise_nofile(want):
    """Raises this process's soft RLIMIT_NOFILE to at least WANT if the
    hard limit allows; returns the soft limit in effect."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def rss_kb(pid):
    """The resident set size of process PID in KiB (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise DaemonError("no VmRSS for pid %d (process gone?)" % pid)


class TempDir:
    """A temporary directory, removed by close() or at the end of a
    "with" block."""

    def __init__(self, prefix="evitest-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *names):
        return os.path.join(self.path, *names)

    def write(self, name, text):
        """Writes TEXT to NAME in the directory and returns the full path.
        A str is dedented first (and leading blank lines dropped), so
        configs can be indented in the test; bytes are written as they
        are."""
        path = self.join(name)
        if isinstance(text, bytes):
            with open(path, "wb") as f:
                f.write(text)
        else:
            with open(path, "w") as f:
                f.write(_dedent(text))
        return path

    def close(self):
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_evinetd(args, timeout=IO_TIMEOUT, env=None, prefix=()):
    """Runs evinetd with ARGS to completion; returns (rc, stdout, stderr).

    For one-shot runs: -n, -V, -h, usage errors, and daemons that are
    expected to refuse to start.  The process is killed if it outlives
    TIMEOUT, and the test fails.  PREFIX is a command that runs evinetd,
    as Daemon's.
    """
    vgdir = TempDir(prefix="evitest-vg-") if under_valgrind() else None
    try:
        p = subprocess.Popen(
            list(prefix) + _wrapped([EVINETD] + list(args),
                                    vgdir and vgdir.path),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env)
        try:
            out, err = p.communicate(timeout=_scaled(timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise DaemonError("evinetd %s did not exit within %.0f s\n%s" % (
                " ".join(args), _scaled(timeout),
                err.decode(errors="replace")))
        bad = _valgrind_alerts(vgdir and vgdir.path)
        if bad:
            raise DaemonError("evinetd %s: valgrind found:\n  %s" % (
                " ".join(args), "\n  ".join(bad)))
    finally:
        if vgdir is not None:
            vgdir.close()
    return (p.returncode, out.decode(errors="replace"),
            err.decode(errors="replace"))


def run_check(conf_text, path=None, args=(), module_dir=None,
              timeout=IO_TIMEOUT):
    """Runs ``evinetd -n -f FILE -M DIR`` on CONF_TEXT; returns
    (rc, stdout, stderr).

    The config is written to PATH, or to a temporary file that is removed
    afterwards.  Error lines read "PATH:LINE: message", so a test that
    asserts them passes its own PATH (see TempDir).
    """
    tmp = None
    if path is None:
        tmp = TempDir()
        path = tmp.join("evinetd.conf")
    try:
        with open(path, "w") as f:
            f.write(_dedent(conf_text))
        return run_evinetd(["-n", "-f", path, "-M",
                            module_dir or MODULE_DIR] + list(args),
                           timeout=timeout)
    finally:
        if tmp is not None:
            tmp.close()


class Daemon:
    """One evinetd process in the foreground, with its own temp dir.

    Daemon(conf) writes CONF (dedented) to DIR/evinetd.conf, starts
    ``evinetd -d -f DIR/evinetd.conf -M MODULE_DIR ARGS``, and returns once
    the daemon has logged "ready" (or raises DaemonError with the log if
    it exits first or takes longer than ready_timeout).

    args:    more command line arguments ("-v", "-p", PIDFILE, ...).
    expect:  regexes of warning lines the test provokes on purpose; any
             other line that is not a known info line fails stop().
    files:   {name: text or bytes} written into the temp dir before the
             start (include files, quote files, ...); d.path(name) gives
             their full paths.
    env:     variables to add to the daemon's environment (MEMORY_ENV).
    pass_fds: descriptors the daemon inherits (besides 0, 1 and 2).
    prefix:  a command that runs evinetd, as [prog, args...], for a
             launcher that execs it (systemd-socket-activate): it goes
             before EVINETD_WRAPPER, so valgrind still runs evinetd
             itself.  d.pid is then the launcher's, which must exec.
    module_dir: instead of MODULE_DIR (TESTMOD_DIR, say).
    ready_timeout, wait_ready: how long to wait for "ready"; False to
             return at once (then call wait_ready() or wait_exit()).

    The log is in d.lines (read it with d.log_lines()); d.port(SERVICE)
    and d.addrs(SERVICE) give what the daemon logged as listening.

    Use it as a context manager, or call close(): that stops the daemon
    if it still runs (asserting a clean exit, code 0, and no alerts),
    kills it if it does not stop, and removes the temp dir.  Only the
    process this object started is ever signalled.
    """

    _live = set()

    def __init__(self, conf, args=(), expect=(), module_dir=None,
                 files=None, env=None, ready_timeout=READY_TIMEOUT,
                 wait_ready=True, pass_fds=(), prefix=()):
        self.tmp = TempDir(prefix="evinetd-test-")
        self.conf_path = self.tmp.write("evinetd.conf", conf)
        for name, text in (files or {}).items():
            self.tmp.write(name, text)
        if isinstance(expect, str):
            expect = [expect]
        self.expected = _compile_all(expect)
        self.lines = []
        self.returncode = None
        self._listeners = []
        self._cond = threading.Condition()
        self._eof = False
        self._stopped = False
        self._alerts_checked = False
        # Each daemon gets a control socket of its own (not the compiled-in
        # default, which parallel tests would share) unless ARGS give one.
        self.control_path = self.tmp.join("control.sock")
        if not any(a in ("-S", "--control-socket") for a in args):
            args = ["-S", self.control_path] + list(args)
        self.argv = [EVINETD, "-d", "-f", self.conf_path, "-M",
                     module_dir or MODULE_DIR] + list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        # self.argv stays evinetd's own command line, wrapper or not.
        self.proc = subprocess.Popen(list(prefix) +
                                     _wrapped(self.argv, self.tmp.path),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     env=full_env, pass_fds=pass_fds)
        self.pid = self.proc.pid
        Daemon._live.add(self)
        self._reader = threading.Thread(target=self._read_log,
                                        name="evinetd-log-%d" % self.pid,
                                        daemon=True)
        self._reader.start()
        if wait_ready:
            try:
                self.wait_ready(ready_timeout)
            except BaseException:
                self._kill()
                self.tmp.close()
                raise

    # The log.

    def _read_log(self):
        # stdout and stderr share one pipe: sanitizers and stray printf
        # output land in the log as well.
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if VERBOSE:
                sys.stderr.write("evinetd[%d]: %s\n" % (self.pid, line))
            with self._cond:
                self.lines.append(line)
                m = LISTEN_RE.search(line)
                if m:
                    host = m.group("host6") or m.group("host4")
                    self._listeners.append((m.group("name"), host,
                                            int(m.group("port")),
                                            m.group("proto")))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def log_text(self):
        """The log so far, as one string (for failure messages)."""
        with self._cond:
            return "\n".join(self.lines)

    # The control socket.

    def control_raw(self, data, timeout=IO_TIMEOUT):
        """Sends DATA (bytes) on a new connection to the daemon's control
        socket and returns all it answers until it closes (bytes)."""
        deadline = time.monotonic() + _scaled(timeout)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(_scaled(timeout))
            # A full listen queue fails a connect with a timeout at once
            # (EAGAIN) where a blocking one would wait: retry, bounded.
            while True:
                try:
                    s.connect(self.control_path)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            if data:
                s.sendall(data)
            chunks = []
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def control(self, command, *args, timeout=IO_TIMEOUT):
        """One request on the control socket (protocol 1); returns the
        answer, parsed (a dict with "ok" and "result" or "error")."""
        req = {"version": 1, "command": command, "args": list(args)}
        answer = self.control_raw((json.dumps(req) + "\n").encode(),
                                  timeout=timeout)
        if not answer.endswith(b"\n") or answer.count(b"\n") != 1:
            raise DaemonError("control %s: not one line: %r" % (command,
                                                                answer))
        return json.loads(answer)

    def log_lines(self, since=0):
        """A copy of the log lines from position SINCE on."""
        with self._cond:
            return self.lines[since:]

    def mark(self):
        """A position in the log; pass it as wait_log(since=...) to wait
        for a line logged after this call."""
        with self._cond:
            return len(self.lines)

    def wait_log(self, regex, timeout=IO_TIMEOUT, since=0, count=1):
        """Waits until COUNT lines at or after position SINCE match REGEX;
        returns the last match.  Fails if the daemon exits, or the time
        runs out, first."""
        rx = regex if hasattr(regex, "search") else re.compile(regex)
        timeout = _scaled(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = []
                for line in self.lines[since:]:
                    m = rx.search(line)
                    if m:
                        found.append(m)
                if len(found) >= count:
                    return found[count - 1]
                if self._eof:
                    raise DaemonError(
                        "evinetd exited (%s) before logging %d line(s) "
                        "matching %r (found %d); log:\n%s" % (
                            self.proc.poll(), count, rx.pattern,
                            len(found), "\n".join(self.lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DaemonError(
                        "no %d line(s) matching %r within %.1f s (found "
                        "%d); log:\n%s" % (count, rx.pattern, timeout,
                                           len(found),
                                           "\n".join(self.lines)))
                self._cond.wait(left)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Waits for the "ready" line (Daemon() does it by default)."""
        self.wait_log(READY_RE, timeout=timeout)

    # Addresses.

    def addrs(self, service):
        """[(host, port, proto)] of SERVICE as the daemon logged them,
        in the order logged.  Hosts have no brackets ("::1")."""
        with self._cond:
            return [(h, p, pr) for (n, h, p, pr) in self._listeners
                    if n == service]

    def port(self, service, proto=None):
        """The port of SERVICE's first listener (of PROTO, if given)."""
        for host, port, pr in self.addrs(service):
            if proto is None or pr == proto:
                return port
        raise DaemonError("service %r has no %slistener in the log:\n%s" % (
            service, (proto + " ") if proto else "", self.log_text()))

    def path(self, name):
        """The full path of NAME in this daemon's temp dir."""
        return self.tmp.join(name)

    # The process.

    def running(self):
        return self.proc.poll() is None

    def pids(self):
        """The daemon's processes: the supervisor and its workers (the
        supervisor's children), or the one process of -X."""
        pids = [self.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def rss_kb(self):
        """The daemon's resident set size in KiB: every process of it,
        since the workers hold the connections and their buffers."""
        total = 0
        for pid in self.pids():
            try:
                total += rss_kb(pid)
            except (OSError, DaemonError):
                pass            # a worker that exited just now
        return total

    def send_signal(self, sig):
        """Sends SIG to the daemon (only if it still runs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the daemon to exit on its own; returns its exit code
        (negative: killed by that signal).  Kills it and fails if it does
        not exit within TIMEOUT."""
        try:
            rc = self.proc.wait(_scaled(timeout))
        except subprocess.TimeoutExpired:
            self._kill()
            raise DaemonError("evinetd did not exit within %.1f s; log:\n%s"
                              % (_scaled(timeout), self.log_text()))
        self._finish()
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends SIG (unless the daemon already exited), waits for the
        exit, checks the log for alerts and returns the exit code."""
        self.send_signal(sig)
        rc = self.wait_exit(timeout)
        self.check_alerts()
        return rc

    def _finish(self):
        # The process is gone: collect the rest of its log (a sanitizer
        # writes its report at exit).
        self._reader.join(_scaled(STOP_TIMEOUT))
        if not self._reader.is_alive():
            self.proc.stdout.close()
        self.returncode = self.proc.returncode
        self._stopped = True
        Daemon._live.discard(self)

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(_scaled(STOP_TIMEOUT))
        except subprocess.TimeoutExpired:
            pass
        self._finish()
        if not self._alerts_checked:
            # A failed test kills its daemon unchecked; keep what valgrind
            # found from disappearing with the temp dir.
            for line in _valgrind_alerts(self.tmp.path):
                sys.stderr.write("evinetd[%d]: %s\n" % (self.pid, line))

    def expect(self, *regexes):
        """Declares more warnings that the test provokes on purpose."""
        self.expected.extend(_compile_all(regexes))

    def alerts(self):
        """The lines of the log that find_alerts() objects to, and what
        valgrind found (under EVINETD_WRAPPER)."""
        return find_alerts(self.log_lines(), self.expected) + \
            _valgrind_alerts(self.tmp.path)

    def check_alerts(self):
        """Fails if alerts() finds anything; the message has the log."""
        self._alerts_checked = True
        bad = self.alerts()
        if bad:
            raise DaemonError("alerts in the daemon's log:\n  %s\n"
                              "full log:\n%s" % ("\n  ".join(bad),
                                                 self.log_text()))

    def close(self):
        """Stops the daemon if it still runs, asserting exit code 0 and a
        clean log, then removes the temp dir.  Safe to call twice."""
        try:
            if not self._stopped:
                rc = self.stop()
                if rc != 0:
                    raise DaemonError("evinetd exited with %d; log:\n%s" % (
                        rc, self.log_text()))
            elif not self._alerts_checked:
                self.check_alerts()
        finally:
            self._kill()
            self.tmp.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            # Do not hide the test's own failure behind a second one.
            self._kill()
            self.tmp.close()


@atexit.register
def _kill_leftovers():
    for d in list(Daemon._live):
        d._kill()
        d.tmp.close()


class TestCase(unittest.TestCase):
    """unittest.TestCase with a daemon() helper whose daemons are stopped
    and checked when the test ends, pass or fail."""

    def daemon(self, conf, **kw):
        d = Daemon(conf, **kw)
        self.addCleanup(self._close_daemon, d)
        return d

    def _close_daemon(self, d):
        # After a failure, kill at once: a graceful stop could wait for
        # the shutdown timeout on the test's open connections, and an
        # alert found now would only hide the first failure.
        if self._has_failed():
            d._kill()
            d.tmp.close()
        else:
            d.close()

    def _has_failed(self):
        # unittest has no public "did this test fail" for cleanups.
        # Python 3.11 reports failures to the result at once; older
        # versions collect them in the outcome first.
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        errors = list(getattr(outcome, "errors", None) or [])
        result = getattr(outcome, "result", None)
        for name in ("failures", "errors", "unexpectedSuccesses"):
            errors += [(t, 1) for t in getattr(result, name, [])]
        for test, exc in errors:
            if isinstance(test, tuple):
                test = test[0]
            if exc and getattr(test, "test_case", test) is self:
                return True
        return False

    def tempdir(self):
        """A TempDir removed when the test ends."""
        t = TempDir()
        self.addCleanup(t.close)
        return t


# Clients.

def connect(port, host="127.0.0.1", timeout=IO_TIMEOUT):
    """A TCP connection to HOST:PORT with TIMEOUT on every operation."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(_scaled(timeout))
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def recv_exact(sock, n, timeout=IO_TIMEOUT):
    """Receives exactly N bytes; fails on EOF or when TIMEOUT runs out."""
    timeout = _scaled(timeout)
    deadline = time.monotonic() + timeout
    buf = bytearray()
    old = sock.gettimeout()
    try:
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("received %d of %d bytes in %.1f s" % (
                    len(buf), n, timeout))
            sock.settimeout(left)
            chunk = sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError("EOF after %d of %d bytes" % (len(buf), n))
            buf += chunk
    finally:
        sock.settimeout(old)
    return bytes(buf)


def recv_until_eof(sock, timeout=IO_TIMEOUT, limit=1 << 30):
    """Receives until the peer closes; fails when TIMEOUT runs out or more
    than LIMIT bytes arrive."""
    timeout = _scaled(timeout)
    deadline = time.monotonic() + timeout
    buf = bytearray()
    old = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no EOF within %.1f s (%d bytes)" % (
                    timeout, len(buf)))
            sock.settimeout(left)
            chunk = sock.recv(1 << 20)
            if not chunk:
                return bytes(buf)
            buf += chunk
            if len(buf) > limit:
                raise AssertionError("more than %d bytes before EOF" %
                                     limit)
    finally:
        sock.settimeout(old)


def transfer(sock, data, expect=None, shut_wr=False, timeout=IO_TIMEOUT):
    """Sends DATA while receiving, so neither side's buffers deadlock.

    Returns once all of DATA is sent and at least EXPECT bytes arrived
    (default len(DATA), as for echo).
    With shut_wr, shuts down our sending side after DATA and then reads
    until EOF, returning everything received.  Fails if TIMEOUT runs out.
    The socket is returned to blocking mode with its old timeout.
    """
    if expect is None and not shut_wr:
        expect = len(data)
    old = sock.gettimeout()
    view = memoryview(data)
    sent = 0
    got = bytearray()
    timeout = _scaled(timeout)
    deadline = time.monotonic() + timeout
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    try:
        sel.register(sock, selectors.EVENT_READ | (
            selectors.EVENT_WRITE if data else 0))
        if not data and shut_wr:
            sock.shutdown(socket.SHUT_WR)
        while True:
            if expect is not None and len(got) >= expect and \
                    sent == len(data) and not shut_wr:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(
                    "transfer: sent %d of %d, received %d%s in %.1f s" % (
                        sent, len(data), len(got),
                        "" if expect is None else " of %d" % expect,
                        timeout))
            for key, ev in sel.select(min(left, 1.0)):
                if ev & selectors.EVENT_WRITE:
                    try:
                        sent += sock.send(view[sent:sent + (1 << 20)])
                    except (BlockingIOError, InterruptedError):
                        pass
                    if sent == len(data):
                        sel.modify(sock, selectors.EVENT_READ)
                        if shut_wr:
                            sock.shutdown(socket.SHUT_WR)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(1 << 20)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not chunk:
                        if shut_wr and sent == len(data):
                            return bytes(got)
                        raise EOFError(
                            "transfer: EOF after sending %d of %d and "
                            "receiving %d" % (sent, len(data), len(got)))
                    got += chunk
        return bytes(got)
    finally:
        sel.close()
        sock.settimeout(old)


def all_at_once(test, port, sends, expects, timeout=60.0):
    """Opens a connection to 127.0.0.1:PORT per item of SENDS, all at
    once (non-blocking, one selector), sends each its bytes and reads
    until the matching EXPECTS item is back, asserting it byte for byte.
    Returns the sockets, still open (the caller closes them); every wait
    is bounded by TIMEOUT (scaled) in all."""
    sel = selectors.DefaultSelector()
    test.addCleanup(sel.close)
    socks = []
    test.addCleanup(lambda: [s.close() for s in socks])
    state = {}
    for out, want in zip(sends, expects):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        socks.append(s)
        test.assertIn(s.connect_ex(("127.0.0.1", port)),
                      (0, errno.EINPROGRESS))
        state[s] = [out, want, b""]
        sel.register(s, selectors.EVENT_WRITE)
    deadline = time.monotonic() + _scaled(timeout)
    done = 0
    while done < len(socks):
        test.assertLess(time.monotonic(), deadline, "%d of %d answered in "
                        "time" % (done, len(socks)))
        for key, ev in sel.select(1.0):
            s = key.fileobj
            st = state[s]
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                test.assertEqual(err, 0, os.strerror(err))
                st[0] = st[0][s.send(st[0]):]
                if not st[0]:
                    sel.modify(s, selectors.EVENT_READ)
                continue
            chunk = s.recv(4096)
            test.assertTrue(chunk, "EOF after %r" % st[2])
            st[2] += chunk
            if len(st[2]) >= len(st[1]):
                test.assertEqual(st[2], st[1])
                sel.unregister(s)
                done += 1
    return socks


def hold_port(host="127.0.0.1", proto="tcp"):
    """Binds (and for tcp, listens on) HOST:0 and returns (sock, port).

    Only for tests of "address already in use": keep SOCK open while the
    daemon tries the same port, then close it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    s = socket.socket(family, kind)
    try:
        s.bind((host, 0))
        if proto == "tcp":
            s.listen(1)
    except BaseException:
        s.close()
        raise
    return s, s.getsockname()[1]


def main():
    """Runs the calling module's tests, naming each in the log."""
    unittest.main(module="__main__", verbosity=2)
