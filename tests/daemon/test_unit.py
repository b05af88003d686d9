#!/usr/bin/env python3
"""The systemd unit's sandbox (conf/evinetd.service.in).

The unit is filled in as "make" fills it (conf/Makefile.am.inc), with
the built daemon as @sbindir@'s, and checked offline, without systemd
running: "systemd-analyze verify" must have nothing to say about it, and
"systemd-analyze security --offline=yes" must rate it 2.5 (OK) or better,
with the settings that matter most in effect.  Its system call filter is
expanded with "systemd-analyze syscall-filter" and must allow every call
the daemon makes (seen with strace(1) serving TCP and UDP, reloading,
stopping) and those an exec service needs to fork, change user and exec.

Then the daemon runs the way the unit runs it, as far as can be had
without systemd: under setpriv(1) with the unit's capability bounding set
and no_new_privs, in a mount namespace (unshare(1)) whose whole tree is
read-only but for a runtime directory at /run/evinetd, as ProtectSystem=
strict and RuntimeDirectory= make it.  It must bind a port below 1024,
serve from workers that became "nobody", write the pid file its config
names there, reload and stop cleanly (the supervisor signals workers of
another uid).
"""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import unittest

import evitest

SRCDIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT_IN = os.path.join(SRCDIR, "conf", "evinetd.service.in")
ANALYZE = shutil.which("systemd-analyze")
SETPRIV = shutil.which("setpriv")
UNSHARE = shutil.which("unshare")
TOOL_TIMEOUT = 30

# What the issue asks for: "OK" or better.
MAX_EXPOSURE = 2.5
GOOD_VERDICTS = ("PERFECT", "SAFE", "OK")

# Lines of "systemd-analyze security" that must be ticked: no
# administrator or debugging capability, a read-only system, no
# namespaces, mounts or exotic sockets, native system calls only.
MUST_PASS = (
    "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    "CapabilityBoundingSet=~CAP_SYS_PTRACE",
    "CapabilityBoundingSet=~CAP_NET_ADMIN",
    "CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)",
    "CapabilityBoundingSet=~CAP_SYS_MODULE",
    "ProtectSystem=",
    "ProtectHome=",
    "PrivateTmp=",
    "PrivateDevices=",
    "NoNewPrivileges=",
    "ProtectKernelTunables=",
    "ProtectKernelModules=",
    "ProtectControlGroups=",
    "RestrictNamespaces=~user",
    "RestrictAddressFamilies=~AF_PACKET",
    "RestrictSUIDSGID=",
    "MemoryDenyWriteExecute=",
    "SystemCallArchitectures=",
    "SystemCallFilter=~@mount",
    "SystemCallFilter=~@debug",
    "SystemCallFilter=~@module",
)

# What the daemon calls (strace -f of a daemon with two workers serving
# TCP echo with reuseport, UDP echo and daytime, one reload, a stop),
# plus the rest of its event loop and socket calls, getifaddrs(3)'s
# netlink, and an exec service's fork, change of user and exec.
NEEDED_SYSCALLS = """
    accept4 access arch_prctl bind brk clone clone3 close close_range
    connect dup2 dup3 epoll_create1 epoll_ctl epoll_pwait epoll_wait
    eventfd2 execve exit_group fchmod fcntl flock getcwd getegid geteuid
    getgid getpid getppid getrandom getresuid getsockname getsockopt
    ioctl kill listen lseek mmap mprotect munmap newfstatat openat pipe2
    prctl pread64 prlimit64 read readlink recvfrom recvmsg rename rseq
    rt_sigaction rt_sigprocmask rt_sigreturn sendmsg sendto
    set_robust_list set_tid_address setgroups setresgid setresuid
    setsockopt setuid shutdown socket socketpair splice timerfd_create
    timerfd_settime unlink wait4 write writev
""".split()

NEEDED_CAPS = ("CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID",
               "CAP_KILL")
NEEDED_FAMILIES = ("AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK")

# The mount namespace: all read-only but /run/evinetd, on a fresh /run.
SANDBOX_SH = """
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 evinetd-test-run /run
mkdir /run/evinetd
mount --bind /run/evinetd /run/evinetd
mount -o remount,bind,ro /run
mount -o remount,bind,ro /
exec "$@"
"""

ECHO_CONF = """
    pidfile = %s
    user = nobody
    workers = 2
    shutdown_timeout = 1s
    service echo {
        listen = 127.0.0.1:%d
        module = echo
    }
    """


def fill_unit(directory):
    """Writes DIRECTORY/evinetd.service, filled in as conf_subst does,
    with the built daemon's directory as sbindir; returns its path."""
    with open(UNIT_IN) as f:
        text = f.read()
    text = text.replace("@sbindir@", os.path.dirname(evitest.EVINETD))
    text = text.replace("@sysconfdir@", directory)
    text = text.replace("@pkglibdir@", evitest.MODULE_DIR)
    text = text.replace("@runstatedir@", "/run")
    left = re.findall(r"@[A-Za-z_]+@", text)
    if left:
        raise AssertionError("%s: not filled in: %s (conf/Makefile.am.inc's "
                             "conf_subst and this test must know them)"
                             % (UNIT_IN, " ".join(sorted(set(left)))))
    path = os.path.join(directory, "evinetd.service")
    with open(path, "w") as f:
        f.write(text)
    return path


def service_settings(path):
    """The [Service] section as {key: [value, ...]}, in file order."""
    settings, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
            elif section == "[Service]":
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def analyze(*args):
    """Runs systemd-analyze ARGS; returns (rc, stdout and stderr)."""
    env = dict(os.environ, SYSTEMD_COLORS="0", SYSTEMD_PAGER="cat",
               SYSTEMD_LOG_COLOR="0")
    p = subprocess.run([ANALYZE] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=TOOL_TIMEOUT)
    return p.returncode, p.stdout.decode(errors="replace")


def syscall_groups():
    """Every @group of this systemd, as {name: [entries]}."""
    rc, out = analyze("syscall-filter")
    groups, cur = {}, None
    for line in out.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("@") and not line[0].isspace():
            cur = groups.setdefault(s, [])
        elif cur is not None:
            cur.append(s)
    return groups


def expand(entry, groups):
    """The system calls that one filter entry (a call or @group) names."""
    if not entry.startswith("@"):
        return {entry}
    calls = set()
    for e in groups[entry]:
        calls |= expand(e, groups)
    return calls


def allowed_syscalls(lines, groups):
    """What SystemCallFilter= LINES allow, read as systemd does when the
    first is an allow list: later lines add, "~" lines take away."""
    allowed = set()
    for line in lines:
        deny = line.startswith("~")
        for entry in line.lstrip("~").split():
            if deny:
                allowed -= expand(entry, groups)
            else:
                allowed |= expand(entry, groups)
    return allowed


def free_low_port():
    """A TCP port below 1024 that nothing on 127.0.0.1 holds just now."""
    ports = list(range(600, 1024))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise unittest.SkipTest("no free port below 1024 on 127.0.0.1")


@unittest.skipUnless(ANALYZE, "systemd-analyze is not installed")
class TestUnitAnalysis(unittest.TestCase):

    def setUp(self):
        self.tmp = evitest.TempDir(prefix="evitest-unit-")
        self.addCleanup(self.tmp.close)
        self.unit = fill_unit(self.tmp.path)
        self.settings = service_settings(self.unit)

    def test_verify_has_nothing_to_say(self):
        rc, out = analyze("verify", "--man=no", self.unit)
        about = [l for l in out.splitlines() if "evinetd" in l]
        self.assertEqual(about, [], out)
        self.assertEqual(rc, 0, out)

    def security(self):
        rc, out = analyze("security", "--offline=yes", self.unit)
        m = re.search(r"Overall exposure level for evinetd\.service: "
                      r"(\d+\.\d) (\w+)", out)
        self.assertIsNotNone(m, out)
        rows = {}
        for line in out.splitlines():
            row = re.match(r"([✓✗+-]) (\S+)", line)
            if row:
                rows[row.group(2)] = row.group(1) in "✓+"
        return float(m.group(1)), m.group(2), rows, out

    def test_security_rates_it_ok(self):
        level, verdict, rows, out = self.security()
        self.assertLessEqual(level, MAX_EXPOSURE, out)
        self.assertIn(verdict, GOOD_VERDICTS, out)

    def test_the_key_settings_are_in_effect(self):
        level, verdict, rows, out = self.security()
        exposed = [name for name in MUST_PASS if not rows.get(name)]
        self.assertEqual(exposed, [], out)

    def words(self, key):
        """The words of every KEY= line; fails if there is none."""
        self.assertIn(key, self.settings, "the unit sets no " + key)
        return " ".join(self.settings[key]).split()

    def test_capabilities_and_families_cover_the_daemon(self):
        caps = self.words("CapabilityBoundingSet")
        self.assertEqual([c for c in NEEDED_CAPS if c not in caps], [])
        self.assertNotIn("CAP_SYS_ADMIN", caps)
        self.assertEqual(sorted(self.words("RestrictAddressFamilies")),
                         sorted(NEEDED_FAMILIES))

    def test_filter_allows_every_call_the_daemon_makes(self):
        self.words("SystemCallFilter")
        lines = self.settings["SystemCallFilter"]
        self.assertFalse(lines[0].startswith("~"), "not an allow list")
        allowed = allowed_syscalls(lines, syscall_groups())
        self.assertEqual([c for c in NEEDED_SYSCALLS if c not in allowed], [])
        # ... and not what a root process could take over the host with.
        for call in ("mount", "ptrace", "init_module", "bpf", "reboot"):
            self.assertNotIn(call, allowed)

    def test_only_the_runtime_directory_is_writable(self):
        self.assertEqual(self.words("ProtectSystem"), ["strict"])
        self.assertEqual(self.words("RuntimeDirectory"), ["evinetd"])
        self.assertNotIn("ReadWritePaths", self.settings)


def can_sandbox():
    """True if we may make mount namespaces (root, unshare, setpriv)."""
    if os.geteuid() != 0 or not (SETPRIV and UNSHARE):
        return False
    p = subprocess.run([UNSHARE, "-m", "sh", "-c", SANDBOX_SH, "sh",
                        "true"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TOOL_TIMEOUT)
    return p.returncode == 0


@unittest.skipUnless(can_sandbox(), "needs root, setpriv(1) and unshare(1) "
                     "with mount namespaces")
class TestUnitSandbox(evitest.TestCase):

    def sandbox(self):
        """unshare and setpriv as the unit's settings say, and a pid file
        in its runtime directory (the only place a pidfile key may
        name)."""
        settings = service_settings(fill_unit(self.tempdir().path))
        prefix = [UNSHARE, "-m", "sh", "-c", SANDBOX_SH, "sh", SETPRIV,
                  "--inh-caps=-all"]
        if "CapabilityBoundingSet" in settings:
            caps = " ".join(settings["CapabilityBoundingSet"]).split()
            prefix += ["--bounding-set", ",".join(
                ["-all"] + ["+" + c[len("CAP_"):].lower() for c in caps])]
        if settings.get("NoNewPrivileges") == ["yes"]:
            prefix.append("--no-new-privs")
        return prefix, "/run/%s/evinetd.pid" % settings.get(
            "RuntimeDirectory", ["none"])[0]

    @unittest.skipIf(evitest.under_valgrind(), "valgrind needs a writable "
                     "/tmp, which the sandbox does not have")
    def test_serves_reloads_and_stops_in_the_sandbox(self):
        port = free_low_port()
        prefix, pidfile = self.sandbox()
        # The control socket where the unit puts it, reached from out
        # here through the daemon's root.
        d = self.daemon(ECHO_CONF % (pidfile, port), prefix=prefix,
                        args=["-S", "/run/evinetd/evinetd.sock"])
        d.control_path = "/proc/%d/root/run/evinetd/evinetd.sock" % d.pid
        self.assertEqual(d.control("status")["result"]["pid"], d.pid)
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"sandboxed\n"),
                             b"sandboxed\n")
        workers = d.pids()[1:]
        self.assertEqual(len(workers), 2)
        for pid in workers:
            with open("/proc/%d/status" % pid) as f:
                uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
            self.assertEqual(int(uid), 65534)
        with open("/proc/%d/root%s" % (d.pid, pidfile)) as f:
            self.assertEqual(f.read().strip(), str(d.pid))
        mark = d.mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"^reload: generation 2 serving", since=mark)
        self.assertEqual(d.control("reload")["result"], {"generation": 3})
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"again\n"), b"again\n")
        self.assertEqual(d.stop(timeout=8), 0)


if __name__ == "__main__":
    evitest.main()
