# Copyright (c) 2026 The evinetd authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

"""benchlib: what bench/run and bench/callgrind share.

* Finding the programs: bench/loadgen and bench/baseline (built by "make
  bench"), daemon/evinetd and the bundled modules, all in the build tree.
* Starting the two servers on 127.0.0.1, port 0, and learning the port
  and readiness from what they print: "port=N" from the baseline; from
  evinetd its log lines 'service "echo": listening on 127.0.0.1:N (tcp)'
  and "ready".  No sleeps: every wait is a read with a deadline.  The
  baseline can run several workers (-w, -a); what each one says at exit
  about its accepts is parsed.  evinetd serves echo, or another bundled
  module (stats and chargen for the multi-core run), possibly next to
  other services.
* Reading a server's CPU time (utime + stime from /proc/PID/stat, at
  nanosecond resolution from schedstat) and RSS
  (VmRSS), summed over the process and its descendants, so evinetd's
  supervisor and worker count together; and each worker's CPU time on its
  own, to show how the work is shared.  A server that forks per
  connection (socat, for bench/relay) counts its children gone during the
  run too, from what their parents reaped.
* Running loadgen synchronised (-S), so CPU is sampled around the traffic
  only.

Only processes started here are ever signalled, by their pid.
"""

import importlib.machinery
import importlib.util
import os
import re
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

__all__ = [
    "BenchError", "Paths", "Baseline", "Evinetd", "run_loadgen",
    "load_script",
    "raise_nofile", "cpu_seconds", "cpu_by_pid", "tree_cpu_seconds",
    "pipe_inodes", "worker_pids", "rss_kb",
    "unoptimised", "machine_facts", "parse_kv", "med", "fmt", "md_table",
]

WORKER_STATS_RE = re.compile(
    r"^baseline: worker (?P<id>\d+): (?P<kv>accepted=.*)$")
LISTEN_RE = re.compile(
    r'service "(?P<name>[^"]+)": listening on 127\.0\.0\.1:(?P<port>\d+) '
    r'\(tcp\)')
READY_RE = re.compile(r"^(?:\d\d:\d\d:\d\d )?ready\b")

# What evinetd logs at its default verbosity when all is well; anything
# else is reported as a warning after the run.
INFO_RES = [re.compile(p) for p in [
    r'^evinetd \S+ starting',
    r'^ready\b',
    r'^service "[^"]+": listening on ',
    r'^received SIG[A-Z0-9]+, stopping$',
    r'^exiting$',
    r'^stopping',
    r'^all connections finished$',
    r'^worker \d+ ',
    r'^descriptor limit \d+$',
    r'^serving as root, as "user = root" says',   # bench/callgrind only
    WORKER_STATS_RE.pattern,            # the baseline's accept counts
    r'^==\d+==',                        # valgrind's own lines
    r'^\s*$',
]]

START_TIMEOUT = 30.0        # valgrind makes starting slow
STOP_TIMEOUT = 30.0


class BenchError(Exception):
    pass


def parse_kv(line):
    """Splits loadgen's "key=value key=value" result line into a dict."""
    out = {}
    for tok in line.split():
        k, sep, v = tok.partition("=")
        if not sep:
            continue
        try:
            out[k] = float(v) if re.fullmatch(r"-?[0-9.]+", v) else v
        except ValueError:
            out[k] = v
    return out


class LineReader:
    """Reads lines from a pipe with a deadline, for readiness waits."""

    def __init__(self, f, name):
        self.fd = f.fileno()
        self.name = name
        self.buf = b""
        self.eof = False

    def readline(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                break
            left = end - time.monotonic()
            if left <= 0:
                raise BenchError("%s: nothing after %.0f s" %
                                 (self.name, timeout))
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
            self.buf += chunk
        if b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
        else:
            line, self.buf = self.buf, b""
            if not line:
                return None
        return line.decode("utf-8", "replace")


class Paths:
    """Where the programs are: --builddir, or single overrides."""

    def __init__(self, builddir, daemon=None, module_dir=None, loadgen=None,
                 baseline=None):
        b = os.path.abspath(builddir)
        self.daemon = os.path.abspath(daemon or
                                      os.path.join(b, "daemon", "evinetd"))
        self.module_dir = os.path.abspath(module_dir or os.path.join(
            b, "modules", ".libs"))
        self.loadgen = os.path.abspath(loadgen or
                                       os.path.join(b, "bench", "loadgen"))
        self.baseline = os.path.abspath(baseline or
                                        os.path.join(b, "bench", "baseline"))

    def check(self, modules=("echo",)):
        missing = [p for p in (self.daemon, self.loadgen, self.baseline)
                   if not os.access(p, os.X_OK)]
        for m in modules:
            if not os.path.isfile(os.path.join(self.module_dir, m + ".so")):
                missing.append(os.path.join(self.module_dir, m + ".so"))
        if missing:
            raise BenchError("not built: %s (run \"make bench\", or give "
                             "--builddir)" % ", ".join(missing))


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        pass
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return kids


def process_tree(pid):
    """PID and all its descendants, parents first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo.extend(_children(p))
    return out


def worker_pids(pid):
    """The processes that serve: PID's children if it has any (evinetd's
    supervisor, or the baseline with -w), else PID itself."""
    return _children(pid) or [pid]


def cpu_seconds(pids):
    """CPU time of PIDS in seconds, summed (see cpu_by_pid)."""
    return sum(cpu_by_pid(pids).values())


def cpu_by_pid(pids):
    """CPU time of each of PIDS in seconds: utime + stime from
    /proc/PID/stat.

    The kernel derives those two from the scheduler's runtime in
    nanoseconds, and /proc/PID/task/TID/schedstat shows that runtime
    itself; so we take the schedstat sum (ns resolution instead of 10 ms
    ticks) unless it is missing or disagrees, and utime + stime then."""
    tck = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            raise BenchError("process %d went away during the run" % p)
        ticks = (int(fields[11]) + int(fields[12])) / tck
        ns = 0
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/schedstat" % (p, tid)) as f:
                    ns += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            ns = -1
        if ns >= 0 and abs(ns / 1e9 - ticks) <= 2.0 / tck + 0.01 * ticks:
            out[p] = ns / 1e9
        else:
            out[p] = ticks
    return out


def tree_cpu_seconds(pid):
    """CPU seconds of PID and its descendants, the ones already gone
    included: each live process's own time (as cpu_by_pid) plus the
    cutime + cstime of its children it has reaped, which the kernel adds
    up when a parent waits.  For a server that forks per connection
    (socat), whose children come and go during a run.  The reaped part
    has clock-tick resolution, and a child reaped between the reads of
    its parent and of itself is missed by that one sample (a few ms at
    most)."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += cpu_by_pid([p])[p]
        except (OSError, BenchError):
            continue            # a child that ended and was reaped since
        total += (int(fields[13]) + int(fields[14])) / tck
    return total


def pipe_inodes(pids):
    """The pipes PIDS hold open, as a set of "pipe:[INODE]": a pipe counts
    once however many descriptors (both ends, inherited copies) refer to
    it."""
    out = set()
    for p in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % p)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (p, fd))
            except OSError:
                continue
            if target.startswith("pipe:["):
                out.add(target)
    return out


def rss_kb(pids):
    """VmRSS of PIDS summed, in KiB."""
    total = 0
    for p in pids:
        with open("/proc/%d/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def raise_nofile(need):
    """Lifts our soft descriptor limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < need:
        raise BenchError("need %d descriptors per process but the hard "
                         "limit is %d (raise it as root: ulimit -Hn)" %
                         (need, hard))


class Server:
    """A server process we started; stop() ends it and everything it forked."""

    name = "?"
    stop_signal = signal.SIGTERM
    exit_ok = (0,)          # exit statuses of a clean stop
    routine = ()            # more patterns of lines not worth reporting
    forks = False           # forks per connection: see cpu_sample()

    def __init__(self, prefix=()):
        self.prefix = list(prefix)
        self.proc = None
        self.port = None
        self.lines = []
        self._thread = None

    def pids(self):
        return process_tree(self.proc.pid)

    def worker_pids(self):
        return worker_pids(self.proc.pid)

    def worker_stats(self):
        """What the workers said about their accepts at exit, if they do
        (the baseline): a list of dicts ordered by worker number."""
        out = []
        for ln in self.lines:
            m = WORKER_STATS_RE.match(ln)
            if m:
                d = parse_kv(m.group("kv"))
                d["worker"] = int(m.group("id"))
                out.append(d)
        return sorted(out, key=lambda d: d["worker"])

    def _drain(self, reader):
        # Keeps reading the server's output so it never blocks on a pipe.
        while True:
            try:
                line = reader.readline(3600)
            except (BenchError, OSError):
                return
            if line is None:
                return
            self.lines.append(line)

    def _start_drain(self, reader):
        self._thread = threading.Thread(target=self._drain, args=(reader,),
                                        daemon=True)
        self._thread.start()

    def stop(self):
        if self.proc is None:
            return
        pids = []
        if self.proc.poll() is None:
            pids = self.pids()
            self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait()
            raise BenchError("%s did not stop within %.0f s of %s" %
                             (self.name, STOP_TIMEOUT,
                              signal.Signals(self.stop_signal).name))
        finally:
            if self._thread is not None:
                self._thread.join(5)
        rc = self.proc.returncode
        self.proc = None
        if rc not in self.exit_ok:
            raise BenchError("%s exited with status %d:\n%s" %
                             (self.name, rc, "\n".join(self.lines[-20:])))

    def warnings(self):
        rxs = INFO_RES + [re.compile(p) for p in self.routine]
        return [ln for ln in self.lines
                if not any(rx.search(ln) for rx in rxs)]

    def cpu_sample(self):
        """What run_loadgen samples before and after the traffic: the
        processes, the workers among them and each one's CPU seconds; or,
        for a server that forks per connection, the whole tree's CPU
        seconds under its first process, the children gone included."""
        pids = self.pids()
        if self.forks:
            return [self.proc.pid], [], {
                self.proc.pid: tree_cpu_seconds(self.proc.pid)}
        workers = [q for q in self.worker_pids() if q in pids]
        return pids, workers, cpu_by_pid(pids)


class Baseline(Server):
    """bench/baseline: prints "port=N" when it listens (and, with -w,
    once all its workers are ready).  ARGS: more options, such as
    ["-w", "2", "-a", "reuseport"]."""

    name = "baseline"

    def __init__(self, paths, prefix=(), args=()):
        super().__init__(prefix)
        self.paths = paths
        self.args = list(args)

    def start(self):
        self.proc = subprocess.Popen(
            self.prefix + [self.paths.baseline, "-p", "0"] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        reader = LineReader(self.proc.stdout, "baseline")
        while True:
            line = reader.readline(START_TIMEOUT)
            if line is None:
                raise BenchError("baseline exited before listening:\n%s" %
                                 "\n".join(self.lines))
            m = re.fullmatch(r"port=(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            self.lines.append(line)
        self._start_drain(reader)
        return self


class Evinetd(Server):
    """The daemon with one service, the echo module by default (MODULE:
    another bundled one, in a service of the same name), and nothing but
    defaults.  GLOBAL_CONFIG goes before the service, SERVICE_CONFIG (whole
    lines, such as "reuseport = yes\n") into it, EXTRA_CONFIG (more
    service blocks, which must not be named MODULE) after it.  The port
    is the first one MODULE's service listens on."""

    name = "evinetd"
    CONFIG = ("# Written by bench: the {module} module, defaults "
              "otherwise.\n"
              "service {module} {{\n"
              "    listen = 127.0.0.1:0\n"
              "    module = {module}\n"
              "{extra}"
              "}}\n")

    def __init__(self, paths, prefix=(), args=(), global_config="",
                 module="echo", service_config="", extra_config=""):
        super().__init__(prefix)
        self.paths = paths
        self.args = list(args)
        self.global_config = global_config
        self.module = module
        self.service_config = service_config
        self.extra_config = extra_config
        self.tmp = None

    def start(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="evinetd-bench.")
        conf = os.path.join(self.tmp.name, "evinetd.conf")
        with open(conf, "w") as f:
            f.write(self.global_config +
                    self.CONFIG.format(
                        module=self.module,
                        extra="".join("    " + ln + "\n" for ln in
                                      self.service_config.splitlines())) +
                    self.extra_config)
        os.chmod(conf, 0o600)
        self.proc = subprocess.Popen(
            self.prefix + [self.paths.daemon, "-d", "-f", conf, "-M",
                           self.paths.module_dir] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        reader = LineReader(self.proc.stderr, "evinetd")
        while True:
            line = reader.readline(START_TIMEOUT)
            if line is None:
                raise BenchError("evinetd exited before \"ready\":\n%s" %
                                 "\n".join(self.lines))
            self.lines.append(line)
            m = LISTEN_RE.search(line)
            if m and m.group("name") == self.module and self.port is None:
                self.port = int(m.group("port"))
            if READY_RE.search(line):
                break
        if self.port is None:
            raise BenchError("evinetd is ready but never said where it "
                             "listens:\n%s" % "\n".join(self.lines))
        self._start_drain(reader)
        return self

    def stop(self):
        try:
            super().stop()
        finally:
            if self.tmp is not None:
                self.tmp.cleanup()
                self.tmp = None


def run_loadgen(paths, args, server=None, timeout=60.0, probe=None):
    """Runs loadgen ARGS against SERVER.  With a server, the run is
    synchronised (-S) and the server's CPU seconds over the traffic are
    added to the result as "server_cpu", each worker's as the list
    "worker_cpu" (in the order /proc lists them), and the wall seconds
    between the two samples as "cpu_wall".  PROBE, if given, is called
    right after the second sample, while loadgen still holds its
    connections, and what it returns is the result's "probe"."""
    cmd = [paths.loadgen] + list(args)
    if server is not None:
        cmd += ["-S"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = LineReader(p.stdout, "loadgen")
    try:
        cpu0 = None
        if server is not None:
            line = out.readline(60)
            if line != "ready":
                raise BenchError("loadgen: expected \"ready\", got %r" %
                                 line)
            pids, workers, cpu0 = server.cpu_sample()
            t0 = time.monotonic()
            p.stdin.write(b"go\n")
            p.stdin.flush()
        line = out.readline(timeout)
        if line is None:
            raise BenchError("loadgen gave no result")
        res = parse_kv(line)
        if cpu0 is not None:
            pids1, _, cpu1 = server.cpu_sample()
            if pids1 != pids:
                raise BenchError("%s's processes changed during the run "
                                 "(a worker restarted?)" % server.name)
            res["cpu_wall"] = time.monotonic() - t0
            res["server_cpu"] = sum(cpu1[q] - cpu0[q] for q in pids)
            res["worker_cpu"] = [cpu1[q] - cpu0[q] for q in workers]
            if probe is not None:
                res["probe"] = probe()
        p.stdin.close()
        p.wait(30)
        if p.returncode != 0 or res.get("verified") != "yes":
            raise BenchError("loadgen failed")
        return res
    except BaseException as e:
        if p.poll() is None:
            p.kill()
            p.wait()
        err = p.stderr.read().decode("utf-8", "replace").strip()
        if isinstance(e, BenchError):
            raise BenchError("%s: %s%s" % (" ".join(args), e,
                                           ("\n" + err) if err else ""))
        raise
    finally:
        p.stdout.close()
        p.stderr.close()
        if not p.stdin.closed:
            try:
                p.stdin.close()
            except OSError:
                pass


def load_script(name, path):
    """The bench script at PATH as a module called NAME: the scripts
    (bench/relay, bench/tls/run) have no .py name to import them by."""
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def unoptimised(path):
    """True if PATH was compiled at -O0 (from its DWARF producer strings),
    None if it cannot tell."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    levels = []
    for m in re.finditer(rb"GNU C[0-9A-Za-z+]* [0-9][^\x00]{0,2000}", data):
        opts = re.findall(rb"(?:^| )-O([0-9sgz]|fast)?(?= |$)", m.group(0))
        levels.append(opts[-1] if opts else b"0")
    if not levels:
        return None
    return any(lv == b"0" for lv in levels)


def machine_facts():
    """nproc, CPU model, kernel, and the load right now."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": os.uname().release,
        "load": "%.2f %.2f %.2f" % os.getloadavg(),
    }


def med(xs):
    """The median of XS, NaN for none."""
    return statistics.median(xs) if xs else float("nan")


def fmt(v):
    """A figure for a table: three significant digits or so, "-" for
    NaN."""
    if v != v:
        return "-"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def md_table(heads, rows, right):
    """A Markdown table with padded columns; RIGHT: right-aligned ones."""
    w = [max(len(str(r[i])) for r in [heads] + rows)
         for i in range(len(heads))]
    out = ["| " + " | ".join(str(h).ljust(w[i])
                             for i, h in enumerate(heads)) + " |",
           "|" + "|".join("-" * (w[i] + 1) + (":" if i in right else "-")
                          for i in range(len(heads))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(
            str(c).rjust(w[i]) if i in right else str(c).ljust(w[i])
            for i, c in enumerate(r)) + " |")
    return "\n".join(out)
