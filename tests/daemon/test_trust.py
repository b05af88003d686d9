#!/usr/bin/env python3
"""What a root evinetd trusts (daemon/trust.c, issue 18): it loads a
module, reads a config file or lets a module read an option's file only
if nobody but root can change it or anything on its way from "/", and it
loads or reads exactly what it checked.  And includes that reach each
other, or a FIFO, cannot stall the check.

Each test works in a private directory, owned by root and mode 0755, made
under /tmp: /tmp is sticky, which the walk may pass through, so the tests'
own configs pass the checks, as the other suites' do.  Inside it, the
tests give directories to "nobody" (uid 65534) to play the attacker.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import evitest

NOBODY = 65534

# How many "evinetd -n" runs race the symlink swapper; each takes tens of
# milliseconds, so the loop takes a second or two.
SWAP_RUNS = 40

# A "module" whose constructor leaves a marker: it runs at dlopen, before
# any check of the descriptor could refuse it.
EVIL_MODULE = r"""
#include <fcntl.h>
#include <unistd.h>

__attribute__((constructor)) static void
evil(void)
{
	int	fd = open(MARKER, O_CREAT | O_WRONLY, 0644);

	if (fd != -1)
		close(fd);
}
"""

SRCDIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GREET_SRC = os.path.join(SRCDIR, "tests", "modules", "greet.c")

# Five files, each including all of them: once exponential (8.8 s).
FANOUT = 5


def private_dir(test):
    """A root-owned 0755 directory under /tmp, removed after the test."""
    path = tempfile.mkdtemp(prefix="evitest-trust-")
    os.chmod(path, 0o755)
    test.addCleanup(shutil.rmtree, path, True)
    return path


def write(path, text, mode=0o644, owner=None):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def check(conf, timeout=evitest.IO_TIMEOUT):
    """evinetd -n on the config file CONF; (rc, its errors).  The summary
    line that ends a failed check is checked and left out."""
    rc, out, err = evitest.run_evinetd(["-n", "-f", conf, "-M",
                                        evitest.MODULE_DIR], timeout=timeout)
    summary = re.compile(r"^%s: \d+ errors?, not starting\n\Z"
                         % re.escape(conf), re.M)
    if rc == 1 and summary.search(err):
        err = summary.sub("", err)
    return rc, err


def echo_conf(module):
    return """\
service echo {
    listen = 127.0.0.1:0
    module = %s
}
""" % module


@unittest.skipUnless(os.geteuid() == 0, "the trust checks apply to root")
class TestModuleTrust(evitest.TestCase):
    """A module is loaded only through directories root alone controls."""

    def setUp(self):
        if shutil.which("cc") is None:
            self.skipTest("no C compiler to build the untrusted module")
        self.base = private_dir(self)
        self.marker = os.path.join(self.base, "marker")
        self.evil = os.path.join(self.base, "evil")
        os.mkdir(self.evil)
        src = write(os.path.join(self.base, "evil.c"), EVIL_MODULE)
        subprocess.run(["cc", "-shared", "-fPIC", "-DMARKER=\"%s\""
                        % self.marker, "-o",
                        os.path.join(self.evil, "echo.so"), src],
                       check=True, timeout=60)
        os.chown(os.path.join(self.evil, "echo.so"), NOBODY, NOBODY)
        os.chown(self.evil, NOBODY, NOBODY)
        self.udir = os.path.join(self.base, "udir")
        os.mkdir(self.udir)
        os.chown(self.udir, NOBODY, NOBODY)
        self.link = os.path.join(self.udir, "mods")
        self.point(evitest.MODULE_DIR)

    def point(self, target):
        """The attacker's move: udir/mods now leads to TARGET."""
        tmp = self.link + ".new"
        os.symlink(target, tmp)
        os.lchown(tmp, NOBODY, NOBODY)
        os.rename(tmp, self.link)

    def test_the_constructor_module_leaves_its_marker_when_loaded(self):
        # The marker is what the swap test watches: it must be able to
        # appear.
        subprocess.run([sys.executable, "-c", "import ctypes, sys; "
                        "ctypes.CDLL(sys.argv[1])",
                        os.path.join(self.evil, "echo.so")],
                       check=True, timeout=30)
        self.assertTrue(os.path.exists(self.marker))

    def test_a_module_below_a_users_directory_is_refused(self):
        conf = write(os.path.join(self.base, "evinetd.conf"),
                     echo_conf(os.path.join(self.link, "echo.so")))
        rc, err = check(conf)
        self.assertEqual(rc, 1, err)
        self.assertIn('%s:3: service "echo": module %s/echo.so: directory '
                      '%s is owned by uid 65534, not root\n'
                      % (conf, self.link, self.udir), err)

    def test_swapping_a_symlink_never_runs_the_untrusted_module(self):
        conf = write(os.path.join(self.base, "evinetd.conf"),
                     echo_conf(os.path.join(self.link, "echo.so")))
        want = ('%s:3: service "echo": module %s/echo.so: directory %s is '
                'owned by uid 65534, not root\n'
                % (conf, self.link, self.udir))
        stop = threading.Event()
        swaps = [0]

        def swapper():
            targets = (evitest.MODULE_DIR, self.evil)
            while not stop.is_set():
                self.point(targets[swaps[0] % 2])
                swaps[0] += 1

        t = threading.Thread(target=swapper, daemon=True)
        t.start()
        try:
            results = [check(conf) for _ in range(SWAP_RUNS)]
        finally:
            stop.set()
            t.join(10)
        self.assertGreater(swaps[0], SWAP_RUNS)
        self.assertFalse(os.path.exists(self.marker),
                         "the untrusted module ran as root")
        self.assertEqual(results, [(1, want)] * SWAP_RUNS)

    def test_a_trusted_link_to_a_trusted_directory_loads(self):
        # Symlinks as such are fine: root's own, to root's directories.
        link = os.path.join(self.base, "mods")
        os.symlink(evitest.MODULE_DIR, link)
        conf = write(os.path.join(self.base, "evinetd.conf"),
                     echo_conf(os.path.join(link, "echo.so")))
        self.assertEqual(check(conf), (0, ""))
        d = self.daemon(echo_conf(os.path.join(link, "echo.so")))
        with evitest.connect(d.port("echo")) as s:
            self.assertEqual(evitest.transfer(s, b"trusted"), b"trusted")


@unittest.skipUnless(os.geteuid() == 0, "the trust checks apply to root")
class TestConfigTrust(evitest.TestCase):
    """Config files, include directories and option files."""

    def setUp(self):
        self.base = private_dir(self)
        self.secret = write(os.path.join(self.base, "secret"),
                            "root's eyes only\n", mode=0o600)

    def test_an_include_directory_anyone_may_write_is_refused(self):
        inc = os.path.join(self.base, "inc")
        os.mkdir(inc)
        os.chmod(inc, 0o1777)
        # What an unprivileged user drops in: a service serving a
        # root-only file, a pid file on a victim, and root workers.
        evil = write(os.path.join(inc, "evil.conf"), """\
user = root
pidfile = %s
service steal {
    listen = 127.0.0.1:0
    module = qotd
    file = %s
}
""" % (self.secret, self.secret), owner=NOBODY)
        conf = write(os.path.join(self.base, "evinetd.conf"),
                     "include = inc/*.conf\n" + echo_conf("echo"))
        rc, err = check(conf)
        self.assertEqual(rc, 1, err)
        self.assertEqual(err, '%s:1: include "%s/*.conf": %s: directory '
                         '%s is writable by others (mode 1777): anyone '
                         'there may add a file to it\n'
                         % (conf, inc, evil, inc))
        # Sticky or not, the same directory; and a file of a user's in a
        # directory of root's is refused for its owner.
        os.chmod(inc, 0o755)
        rc, err = check(conf)
        self.assertEqual(rc, 1, err)
        self.assertIn('%s:1: include "%s/*.conf": %s: file %s is owned by '
                      'uid 65534, not root\n' % (conf, inc, evil, evil), err)
        with open(self.secret) as f:
            self.assertEqual(f.read(), "root's eyes only\n")

    def test_a_config_file_group_may_write_is_refused(self):
        conf = write(os.path.join(self.base, "evinetd.conf"),
                     echo_conf("echo"), mode=0o664)
        self.assertEqual(check(conf), (1, '%s: file %s is writable by '
                                       'group (mode 0664)\n'
                                       % (conf, conf)))
        os.chmod(conf, 0o644)
        self.assertEqual(check(conf), (0, ""))

    def test_a_qotd_file_in_an_untrusted_directory_is_refused(self):
        qdir = os.path.join(self.base, "q")
        os.mkdir(qdir)
        quotes = write(os.path.join(qdir, "quotes.txt"), "A quote.\n")
        conf = write(os.path.join(self.base, "evinetd.conf"), """\
service qotd {
    listen = 127.0.0.1:0
    module = qotd
    file = q/quotes.txt
}
""")
        self.assertEqual(check(conf), (0, ""))
        os.chown(qdir, NOBODY, NOBODY)
        rc, err = check(conf)
        self.assertEqual((rc, err), (1, '%s:4: service "qotd": option '
                                     '"file": %s: directory %s is owned '
                                     'by uid 65534, not root\n'
                                     % (conf, quotes, qdir)))


@unittest.skipUnless(os.path.isfile(GREET_SRC), "no source tree")
class TestModuleNames(evitest.TestCase):
    """Modules are loaded as /proc/self/fd/N, and glibc knows an object by
    that name as long as it stays mapped."""

    def test_a_module_that_stays_mapped_does_not_stand_in_for_the_next(self):
        if shutil.which("cc") is None:
            self.skipTest("no C compiler")
        t = self.tempdir()
        # v1 cannot be unmapped: after dlclose it still answers to the
        # name it was loaded under, whatever file gets that fd next.
        subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-z,nodelete",
                        "-I", os.path.join(SRCDIR, "include"),
                        "-DGREET_VERSION=\"v1\"", "-o", t.join("v1.so"),
                        GREET_SRC], check=True, timeout=60)
        shutil.copyfile(os.path.join(evitest.TESTMOD_DIR, "greet_v2.so"),
                        t.join("v2.so"))
        conf = """\
service %s {
    listen = 127.0.0.1:0
    module = %s
}
"""
        d = self.daemon(conf % ("one", t.join("v1.so")), args=["-v"])
        with evitest.connect(d.port("one")) as s:
            self.assertEqual(evitest.transfer(s, b"a", expect=4), b"v1:a")
        d.wait_log(r"^module /proc/self/fd/\d+ stays mapped after dlclose")
        # A new service, so that only the new generation serves it.
        d.tmp.write("evinetd.conf", conf % ("two", t.join("v2.so")))
        mark = d.mark()
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"^reload: generation 2 serving ", since=mark)
        with evitest.connect(d.port("two")) as s:
            self.assertEqual(evitest.transfer(s, b"b", expect=4), b"v2:b")


class TestIncludes(evitest.TestCase):
    """Each file is read once per load, and only a regular file."""

    def test_files_including_each_other_load_fast_and_once(self):
        files = {}
        for i in range(FANOUT):
            files["s%d.conf" % i] = """\
include = *.conf
service s%d {
    listen = 127.0.0.1:0
    module = echo
}
""" % i
        start = time.monotonic()
        d = self.daemon("include = *.conf\n", files=files)
        self.assertLess(time.monotonic() - start, evitest._scaled(5))
        listening = [line for line in d.log_lines()
                     if "listening on" in line]
        self.assertEqual(sorted(listening), sorted(
            'service "s%d": listening on 127.0.0.1:%d (tcp)'
            % (i, d.port("s%d" % i)) for i in range(FANOUT)))
        with evitest.connect(d.port("s4")) as s:
            self.assertEqual(evitest.transfer(s, b"once"), b"once")

    def test_a_fifo_matched_by_an_include_is_refused_without_hanging(self):
        t = self.tempdir()
        os.mkdir(t.join("inc"))
        os.mkfifo(t.join("inc", "x.conf"))
        conf = t.write("evinetd.conf", "include = inc/*.conf\n"
                       + echo_conf("echo"))
        rc, err = check(conf, timeout=5)
        self.assertEqual((rc, err), (1, '%s:1: include "%s/*.conf": %s: '
                                     'not a regular file\n'
                                     % (conf, t.join("inc"),
                                        t.join("inc", "x.conf"))))


if __name__ == "__main__":
    evitest.main()
