#!/usr/bin/env python3
"""The daemon as a process among others (issue 18): its pid file (owned by
the daemon, removed at exit, never a link or a FIFO, read-only once the
privileges are dropped), its signals (a SIGHUP in the first milliseconds
waits for its handler; a SIGHUP during a reload that is still starting is
queued, so the last config wins) and the descriptors it inherits (closed
before anything else, so no worker gets them).

Every wait is bounded and learns what it waits for from the daemon: its
log, its exit, or /proc."""

import fcntl
import os
import re
import signal
import stat
import string
import time

import evitest
from test_supervisor import settle

IO = evitest.IO_TIMEOUT
SCALE = getattr(evitest, "TIMEOUT_SCALE", 1.0)

ECHO_CONF = """
    service echo {
        listen = 127.0.0.1:0
        module = echo
    }
    """

# The gate test module; $gate is "gate = PATH" or "trial_gate = PATH".
GATE_CONF = """
    service svc {
        listen = 127.0.0.1:$port
        module = gate
        greeting = $greeting
        $gate
    }
    """

RELOAD_DONE_RE = re.compile(
    r"^(reload: generation \d+ serving |reload failed: )")

# A secret that must never reach the log: no digits only, so it can never
# pass for a pid.
SECRET = "hunter2-not-a-pid"


def echo_once(port, data=b"ping"):
    with evitest.connect(port) as s:
        return evitest.transfer(s, data)


def reload(d):
    """Sends SIGHUP and returns the "reload: ..." line that answers it."""
    mark = d.mark()
    d.send_signal(signal.SIGHUP)
    line = d.wait_log(RELOAD_DONE_RE, since=mark).string
    if not line.startswith("reload: generation"):
        raise AssertionError("reload failed: %s\nlog:\n%s" % (
            line, d.log_text()))
    return line


def open_fds(pid):
    """{fd: target} of process PID, from /proc (root reads them all)."""
    fds = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            fds[int(name)] = os.readlink(os.path.join(base, name))
        except OSError:
            pass            # closed meanwhile
    return fds


def fd_flags(pid, fd):
    """The open flags of descriptor FD of process PID (fdinfo, octal)."""
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    raise AssertionError("no flags in /proc/%d/fdinfo/%d" % (pid, fd))


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[2])      # effective
    raise AssertionError("no Uid in /proc/%d/status" % pid)


def secret_file(tmp, name="secret"):
    """A root-only file that holds SECRET; returns its path."""
    path = tmp.write(name, SECRET + "\n")
    os.chmod(path, 0o600)
    return path


class TestPidFile(evitest.TestCase):
    """pidfile = PATH and -p PATH: the daemon owns the path it was given,
    removes the file at exit, and never follows or waits on what someone
    else put at that path."""

    def start_refused(self, pidfile):
        """Starts evinetd on PIDFILE, which must refuse quickly; returns
        its (rc, log) and how long it took."""
        tmp = self.tempdir()
        conf = tmp.write("evinetd.conf", ECHO_CONF)
        t0 = time.monotonic()
        rc, out, err = evitest.run_evinetd(
            ["-d", "-f", conf, "-M", evitest.MODULE_DIR, "-p", pidfile],
            timeout=5)
        return rc, out + err, time.monotonic() - t0

    def refused_while_locked(self, held, pidfile):
        """Starts evinetd on PIDFILE while HELD is locked, as a running
        evinetd holds its pid file; it must refuse (exit 2) without
        quoting SECRET.  Returns its log."""
        with open(held) as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            rc, log, _ = self.start_refused(pidfile)
        self.assertNotIn(SECRET, log)
        self.assertEqual(rc, 2, log)
        return log

    # Finding 4: the path came from the config, which a generation frees.
    def test_a_config_pidfile_is_removed_after_a_reload_and_a_stop(self):
        tmp = self.tempdir()
        pidfile = tmp.join("evinetd.pid")
        d = self.daemon("pidfile = %s\n" % pidfile + ECHO_CONF)
        with open(pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % d.pid)
        reload(d)
        reload(d)
        with open(pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % d.pid)
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.lexists(pidfile), "pid file left behind")

    def test_a_reload_that_moves_the_pidfile_says_it_waits_for_a_restart(
            self):
        tmp = self.tempdir()
        old, new = tmp.join("old.pid"), tmp.join("new.pid")
        d = self.daemon("pidfile = %s\n" % old + ECHO_CONF)
        d.tmp.write("evinetd.conf", "pidfile = %s\n" % new + ECHO_CONF)
        warning = (r'^%s: pidfile is now "%s", but the pid file changes '
                   r'only when evinetd restarts; it stays "%s"$' % (
                       re.escape(d.conf_path), re.escape(new),
                       re.escape(old)))
        d.expect(warning)
        mark = d.mark()
        reload(d)
        d.wait_log(warning, since=mark)
        with open(old) as f:
            self.assertEqual(f.read(), "%d\n" % d.pid)
        self.assertFalse(os.path.lexists(new))
        # Said on every reload that asks for it, and only then.
        mark = d.mark()
        reload(d)
        d.wait_log(warning, since=mark)
        d.tmp.write("evinetd.conf", "pidfile = %s\n" % old + ECHO_CONF)
        mark = d.mark()
        reload(d)
        self.assertFalse([l for l in d.log_lines(mark)
                          if re.search(warning, l)], d.log_text())
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.lexists(old), "pid file left behind")
        self.assertFalse(os.path.lexists(new))

    def test_a_fifo_at_the_pidfile_path_fails_fast_and_says_why(self):
        fifo = self.tempdir().join("evinetd.pid")
        os.mkfifo(fifo)
        rc, log, took = self.start_refused(fifo)
        self.assertEqual(rc, 2, log)
        self.assertIn("pid file %s is not a regular file (a FIFO); remove "
                      "it, or choose another path" % fifo, log)
        self.assertNotRegex(log, r"(?m)^ready")
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertLess(took, 3 * SCALE)

    def test_a_symlink_at_the_pidfile_path_is_refused_and_leaks_nothing(
            self):
        tmp = self.tempdir()
        target = secret_file(tmp)
        link = tmp.join("evinetd.pid")
        os.symlink(target, link)
        # Held locked, as a running evinetd holds its pid file: the old
        # code then logged the first line of the target as "the pid".
        log = self.refused_while_locked(target, link)
        self.assertIn("pid file %s is a symbolic link; not following it "
                      "(remove it, or name the file itself)" % link, log)
        self.assertEqual(os.readlink(link), target)
        with open(target) as f:
            self.assertEqual(f.read(), SECRET + "\n")
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)

    def test_a_locked_pidfile_that_holds_no_pid_is_not_quoted(self):
        tmp = self.tempdir()
        path = secret_file(tmp, "evinetd.pid")
        log = self.refused_while_locked(path, path)
        self.assertIn("pid file %s is locked: evinetd is already running "
                      "(pid unknown)" % path, log)

    # -X: one process that drops its privileges and keeps the pid file.
    def test_single_process_keeps_the_pid_file_read_only_after_the_drop(
            self):
        if os.geteuid() != 0:
            self.skipTest("needs root, to drop privileges")
        tmp = self.tempdir()
        pidfile = tmp.join("evinetd.pid")
        d = self.daemon(ECHO_CONF, args=["-X", "-p", pidfile])
        # "ready" comes after the drop.
        self.assertEqual(uid_of(d.pid), 65534)
        held = [fd for fd, target in open_fds(d.pid).items()
                if target == pidfile]
        self.assertTrue(held, "the pid file lock is not held")
        for fd in held:
            self.assertEqual(fd_flags(d.pid, fd) & os.O_ACCMODE,
                             os.O_RDONLY, "fd %d is writable" % fd)
        # The lock still stops a second instance.
        conf2 = tmp.write("second.conf", ECHO_CONF)
        rc, out, err = evitest.run_evinetd(["-d", "-f", conf2, "-M",
                                            evitest.MODULE_DIR, "-p",
                                            pidfile])
        self.assertEqual(rc, 2, err)
        self.assertIn("is locked: evinetd is already running (pid %d)" %
                      d.pid, err)
        self.assertEqual(echo_once(d.port("echo")), b"ping")
        self.assertEqual(d.stop(), 0)


class TestEarlySignals(evitest.TestCase):
    """A signal that arrives before the daemon's handlers exist waits for
    them: it is held from the first instruction of main.  The gate module
    holds the daemon in main's config check, before any handler exists,
    for as long as the test needs: no race, unlike signals sent at random
    instants (and before main, while the dynamic linker runs, no program
    can hold a signal)."""

    def survives(self, d, regex, what):
        try:
            return d.wait_log(regex)
        except evitest.DaemonError:
            self.fail("%s: evinetd exited %s on an early SIGHUP; log:\n%s"
                      % (what, d.wait_exit(), d.log_text()))

    def test_a_sighup_while_main_checks_the_config_waits_for_its_handler(
            self):
        # The gate module holds the startup check (main, no handlers yet)
        # until the test has sent its SIGHUP.
        refusal = (r"^received SIGHUP: a single-process evinetd \(-X\) "
                   r"cannot reload; restart it, or run it without -X$")
        for args, answer in (([], r"^reload: generation 2 serving "),
                             (["-X"], refusal)):
            tmp = self.tempdir()
            gate = tmp.write("gate", "")
            waiting = r'^service "svc": gate: waiting for %s to go$' % (
                re.escape(gate))
            d = self.daemon(string.Template(GATE_CONF).substitute(
                port=0, greeting="hi", gate="trial_gate = " + gate),
                args=args, module_dir=evitest.TESTMOD_DIR,
                expect=[waiting, refusal], wait_ready=False)
            d.wait_log(waiting)
            d.send_signal(signal.SIGHUP)
            os.unlink(gate)
            self.survives(d, answer, "%s" % args)
            self.assertEqual(echo_once(d.addrs("svc")[-1][1], b"x"),
                             b"hi:x")
            self.assertEqual(d.stop(), 0, args)


class TestReloadQueue(evitest.TestCase):
    """A SIGHUP while a reload is still starting is not dropped: the
    daemon reloads again once that one is done, so two quick reloads end
    on the latest file.  The gate test module holds the first reload's
    worker in its init for as long as the test needs."""

    def hold_a_reload_and_hup_again(self, conf_a):
        """Starts a daemon, reloads to CONF_A (GATE_CONF's fields but gate)
        with its worker held at the gate, then writes config B and sends
        a second SIGHUP; opens the gate once the daemon has queued it.
        Returns (daemon, port, mark)."""
        gate = self.tempdir().join("gate")
        waiting = r'^service "svc": gate: waiting for %s to go$' % (
            re.escape(gate))

        def conf(port, greeting, more=""):
            return string.Template(GATE_CONF).substitute(
                port=port, greeting=greeting,
                gate="gate = %s\n%s" % (gate, more))

        d = self.daemon(conf(0, "zero"), module_dir=evitest.TESTMOD_DIR,
                        expect=[waiting])
        port = d.port("svc")
        self.assertEqual(echo_once(port, b"x"), b"zero:x")
        # Config A; its worker waits at the gate: the reload is starting.
        with open(gate, "w"):
            pass
        # On a failure, open the gate before the daemon is killed: a held
        # worker would outlive it and keep its log open.
        self.addCleanup(lambda: os.path.lexists(gate) and os.unlink(gate))
        d.tmp.write("evinetd.conf", conf(port, "A", conf_a))
        mark = d.mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(waiting, since=mark)
        # Config B, and a second SIGHUP while generation 2 is held.
        d.tmp.write("evinetd.conf", conf(port, "B"))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"^received SIGHUP while generation 2 is still "
                   r"starting; reloading %s once it is done$" % (
                       re.escape(d.conf_path)), since=mark)
        self.assertEqual(echo_once(port, b"y"), b"zero:y")
        os.unlink(gate)
        return d, port, mark

    def ends_on_config_b(self, d, port, mark):
        d.wait_log(r"^reloading %s, as a SIGHUP asked while generation 2 "
                   r"was starting$" % re.escape(d.conf_path), since=mark)
        d.wait_log(r"^reload: generation 3 serving ", since=mark)
        # Until the older workers are gone, one may still accept.
        settle(d, 1)
        self.assertEqual(echo_once(port, b"z"), b"B:z")
        self.assertEqual(d.stop(), 0)

    def test_a_sighup_during_a_starting_reload_ends_on_the_last_config(self):
        d, port, mark = self.hold_a_reload_and_hup_again("")
        d.wait_log(r"^reload: generation 2 serving ", since=mark)
        self.ends_on_config_b(d, port, mark)

    def test_a_sighup_during_a_reload_that_fails_ends_on_the_last_config(
            self):
        d, port, mark = self.hold_a_reload_and_hup_again("fail = yes")
        failed = (r"^reload failed: a worker of generation 2 did not "
                  r"start; generation 1 serves on$")
        d.expect(failed, r': service "svc": module "gate" refused the '
                 r'service: gate: failing, as asked$',
                 r"^worker \d+ \(generation 2, shared\) exited with "
                 r"status 1$")
        d.wait_log(failed, since=mark)
        self.ends_on_config_b(d, port, mark)


class TestStartTimeout(evitest.TestCase):
    """start_timeout: a generation whose worker hangs in its module's
    init (the gate test module, held) is abandoned in time, like one
    whose worker died: after a reload the old generation serves on and
    the next reload is not stuck behind it; at startup the daemon exits
    with status 2 and says why."""

    # Under valgrind every worker is slower; the bound grows with it.
    SECONDS = max(1, round(float(os.environ.get("EVINETD_TIMEOUT_SCALE") or
                                 1)))

    def conf(self, port, greeting, gate_line=""):
        return "start_timeout = %ds\n" % self.SECONDS + string.Template(
            GATE_CONF).substitute(port=port, greeting=greeting,
                                  gate=gate_line)

    def held_gate(self):
        gate = self.tempdir().join("gate")
        with open(gate, "w"):
            pass
        self.addCleanup(lambda: os.path.lexists(gate) and os.unlink(gate))
        return gate

    def test_a_reload_held_past_start_timeout_fails_and_the_old_serves_on(
            self):
        gate = self.held_gate()
        waiting = r'^service "svc": gate: waiting for %s to go$' % (
            re.escape(gate))
        failed = (r"^reload failed: a worker of generation 2 was not ready "
                  r"within %ds \(start_timeout\); generation 1 serves "
                  r"on$" % self.SECONDS)
        d = self.daemon(self.conf(0, "zero"),
                        module_dir=evitest.TESTMOD_DIR, expect=[
                            waiting, failed,
                            r"^worker \d+ \(generation 2, shared\) killed "
                            r"by signal 9 "])
        port = d.port("svc")
        d.tmp.write("evinetd.conf", self.conf(port, "A", "gate = " + gate))
        mark = d.mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(waiting, since=mark)
        d.wait_log(failed, since=mark, timeout=self.SECONDS + 10)
        self.assertEqual(echo_once(port, b"x"), b"zero:x")
        # The next reload goes ahead: nothing waits for the abandoned one.
        os.unlink(gate)
        d.tmp.write("evinetd.conf", self.conf(port, "B"))
        self.assertRegex(reload(d), r"^reload: generation 3 serving ")
        settle(d, 1)
        self.assertEqual(echo_once(port, b"y"), b"B:y")
        self.assertEqual(d.stop(), 0)

    def test_a_first_start_held_past_start_timeout_exits_2(self):
        gate = self.held_gate()
        tmp = self.tempdir()
        path = tmp.write("evinetd.conf", self.conf(0, "zero",
                                                   "gate = " + gate))
        rc, _, err = evitest.run_evinetd(
            ["-d", "-f", path, "-M", evitest.TESTMOD_DIR],
            timeout=self.SECONDS + 10)
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r"(?m)^a worker of generation 1 was "
                         r"not ready within %ds \(start_timeout\), not "
                         r"starting$" % self.SECONDS)


class TestDescriptors(evitest.TestCase):
    """Descriptors inherited from whoever started evinetd are closed
    before anything else, so no worker can read what they point at."""

    def test_an_inherited_descriptor_reaches_no_process_of_the_daemon(self):
        tmp = self.tempdir()
        secret = secret_file(tmp)
        fd = os.open(secret, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        for args in ([], ["-X"]):
            d = self.daemon(ECHO_CONF, args=args, pass_fds=(fd,))
            pids = d.pids()
            self.assertEqual(len(pids), 1 if args else 2, pids)
            for pid in pids:
                leaked = [n for n, target in open_fds(pid).items()
                          if target == secret]
                self.assertEqual(leaked, [], "pid %d (%s) has the file "
                                 "open" % (pid, args))
            self.assertEqual(echo_once(d.port("echo")), b"ping")
            self.assertEqual(d.stop(), 0)


    def test_started_without_stdin_and_stdout_it_puts_dev_null_there(self):
        # A listening socket must not become fd 0 or 1 (to be replaced by
        # the detach's /dev/null, or written to as if it were stdout).
        if evitest.under_valgrind():
            self.skipTest("valgrind opens its own log on the free fd 0 "
                          "before evinetd runs")
        wrapper = self.tempdir().write(
            "evinetd-no-stdio", "#!/bin/sh\nexec %s \"$@\" <&- >&-\n" %
            evitest.EVINETD)
        os.chmod(wrapper, stat.S_IRWXU)
        saved = evitest.EVINETD
        evitest.EVINETD = wrapper
        try:
            d = self.daemon(ECHO_CONF)
        finally:
            evitest.EVINETD = saved
        for pid in d.pids():
            fds = open_fds(pid)
            self.assertEqual(fds.get(0), "/dev/null", (pid, fds))
            self.assertEqual(fds.get(1), "/dev/null", (pid, fds))
        self.assertEqual(echo_once(d.port("echo")), b"ping")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
