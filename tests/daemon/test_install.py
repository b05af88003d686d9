#!/usr/bin/env python3
"""What "make install" gives a user: the files in their places, an
installed daemon that checks and serves with the installed modules, and an
out-of-tree module built with nothing but the installed header and
evinetd.pc (docs/design.md, "Module ABI").

The suite installs the build tree it runs in ("make check" runs it with
the build directory as its working directory) into a temporary DESTDIR,
with MAKEFLAGS and friends cleared so that the inner make is a plain one
and not a part of the outer make's job server.  Run by hand from anywhere
else, it skips.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest
from unittest import mock

import evitest

# Installing a built tree copies files; it takes seconds, not minutes.
INSTALL_TIMEOUT = 50
TOOL_TIMEOUT = 20

MAKE_ENV_VARS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES",
                 "MAKEOVERRIDES", "GNUMAKEFLAGS", "DESTDIR")

BUNDLED = ("echo", "discard", "chargen", "daytime", "time", "qotd",
           "stats", "forward")

MAN_PAGES = (("man8", "evinetd.8"), ("man5", "evinetd.conf.5"),
             ("man3", "evinetd-module.3"))

# A module as a user writes one: greets, then ends the connection.
HI_MODULE = r"""
#include <evinetd/module.h>

static int
hi_open(struct evi_conn *c)
{
	if (evi_conn_write(c, "hi\n", 3) != 0)
		return (-1);
	evi_conn_finish(c);
	return (0);
}

EVI_MODULE_EXPORT = {
	EVI_MODULE_HEADER,
	.name = "hi",
	.description = "says hi, then closes",
	.protocols = EVI_PROTO_TCP,
	.conn_open = hi_open,
};
"""


def make_vars(path):
    """The variables a generated Makefile assigns, as written."""
    assign = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
    out = {}
    with open(path) as f:
        for line in f:
            m = assign.match(line.rstrip("\n"))
            if m:
                out[m.group(1)] = m.group(2)
    return out


def expand(value, variables, depth=0):
    """Expands $(VAR) and ${VAR} references the way make would."""
    if depth > 20:
        raise ValueError("recursive make variable in %r" % value)
    return re.sub(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]",
                  lambda m: expand(variables.get(m.group(1), ""),
                                   variables, depth + 1), value)


def clean_env(**extra):
    """The environment without the outer make's settings."""
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV_VARS}
    env.update(extra)
    return env


def run(argv, timeout=TOOL_TIMEOUT, env=None, cwd=None):
    """Runs a tool to completion; returns (rc, stdout, stderr) as text."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env, cwd=cwd)
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


class TestInstall(evitest.TestCase):
    """make install DESTDIR=TMP, then use what it installed."""

    @classmethod
    def setUpClass(cls):
        cls.builddir = os.getcwd()
        makefile = os.path.join(cls.builddir, "Makefile")
        if not (os.path.isfile(makefile) and os.path.isfile(
                os.path.join(cls.builddir, "config.status"))):
            raise unittest.SkipTest(
                "not run from a configured build directory (no Makefile "
                "and config.status in %s); run it with \"make check\""
                % cls.builddir)
        for tool in ("make", "pkg-config"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is not installed" % tool)
        v = make_vars(makefile)
        cls.dirs = {name: expand("$(%s)" % name, v) for name in (
            "prefix", "sbindir", "libdir", "includedir", "sysconfdir",
            "mandir", "pkglibdir", "pkgdatadir", "systemdsystemunitdir",
            "runstatedir")}
        # Automake comments the assignment out unless HAVE_SYSTEMDUNITDIR.
        cls.unit_installed = "systemdsystemunit_DATA" in v
        cls.tmp = tempfile.mkdtemp(prefix="evinetd-install-")
        cls.destdir = os.path.join(cls.tmp, "root")
        try:
            rc, out, err = run(["make", "install",
                                "DESTDIR=" + cls.destdir],
                               timeout=INSTALL_TIMEOUT, env=clean_env(),
                               cwd=cls.builddir)
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        if rc != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("make install DESTDIR=... failed (%d):\n"
                                 "%s\n%s" % (rc, out[-4000:], err[-4000:]))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def inst(self, dirname, *names):
        """Where DIRNAME/NAMES landed under DESTDIR."""
        return os.path.join(self.destdir + self.dirs[dirname], *names)

    def evinetd(self):
        return self.inst("sbindir", "evinetd")

    def pkg_config(self, *args):
        """pkg-config on the installed evinetd.pc, relocated into DESTDIR
        (the sysroot) as a packager's staging area would be."""
        env = clean_env(PKG_CONFIG_PATH=os.pathsep.join(filter(None, [
            self.inst("libdir", "pkgconfig"),
            os.environ.get("PKG_CONFIG_PATH")])),
            PKG_CONFIG_SYSROOT_DIR=self.destdir,
            # With --prefix=/usr the -I is a system directory; keep it, or
            # the compiler would look outside DESTDIR.
            PKG_CONFIG_ALLOW_SYSTEM_CFLAGS="1")
        rc, out, err = run(["pkg-config"] + list(args) + ["evinetd"],
                           env=env)
        self.assertEqual(rc, 0, "pkg-config %s: %s" % (" ".join(args), err))
        return out.strip()

    def moduledir(self):
        """pkg-config's moduledir, inside DESTDIR.  Depending on the
        pkg-config flavour the sysroot is prefixed to variables or not."""
        d = self.pkg_config("--variable=moduledir")
        if not d.startswith(self.destdir + "/"):
            self.assertEqual(d, self.dirs["pkglibdir"])
            d = self.destdir + d
        return d

    # The files.

    def test_make_install_puts_every_file_in_its_place(self):
        files = [self.inst("sbindir", "evinetd"),
                 self.inst("includedir", "evinetd", "module.h"),
                 self.inst("libdir", "pkgconfig", "evinetd.pc"),
                 self.inst("sysconfdir", "evinetd.conf"),
                 self.inst("pkgdatadir", "quotes.txt")]
        files += [self.inst("pkglibdir", m + ".so") for m in BUNDLED]
        files += [self.inst("mandir", sec, page) for sec, page in MAN_PAGES]
        for path in files:
            with self.subTest(path=path):
                self.assertTrue(os.path.isfile(path), "not installed")
        self.assertTrue(os.access(self.evinetd(), os.X_OK))
        self.assertTrue(os.path.isdir(self.inst("sysconfdir", "evinetd.d")))

    def test_the_installed_config_names_the_installed_paths(self):
        with open(self.inst("sysconfdir", "evinetd.conf")) as f:
            text = f.read()
        unsubstituted = [line for line in text.splitlines() if "@" in line
                         and not line.lstrip().startswith("#")]
        self.assertEqual(unsubstituted, [])
        self.assertIn("module_dir = %s\n" % self.dirs["pkglibdir"], text)
        self.assertIn("include = %s/evinetd.d/*.conf\n" %
                      self.dirs["sysconfdir"], text)

    def unit_text(self, name):
        """The installed systemd unit NAME; skips the test without one."""
        if not self.unit_installed:
            self.skipTest("configured without a systemd unit directory")
        path = os.path.join(self.destdir +
                            self.dirs["systemdsystemunitdir"], name)
        with open(path) as f:
            return f.read()

    def test_the_systemd_unit_is_installed_with_real_paths(self):
        unit = self.unit_text("evinetd.service")
        # Every @VAR@ filled in ("@system-service" is a filter's group).
        self.assertNotRegex(unit, r"@[A-Za-z_]+@")
        conf = os.path.join(self.dirs["sysconfdir"], "evinetd.conf")
        binary = os.path.join(self.dirs["sbindir"], "evinetd")
        for line in ("Type=notify",
                     "ExecStartPre=%s -n -f %s" % (binary, conf),
                     "ExecStart=%s -d -f %s -S /run/evinetd/evinetd.sock" %
                     (binary, conf),
                     "ExecStartPost=-+/bin/ln -sfn /run/evinetd/evinetd.sock "
                     "%s/evinetd.sock" % self.dirs["runstatedir"],
                     "ExecReload=/bin/kill -HUP $MAINPID",
                     "KillMode=mixed",
                     "Documentation=man:evinetd(8) man:evinetd.conf(5)"):
            with self.subTest(line=line):
                self.assertIn("\n" + line + "\n", unit)

    def test_the_example_socket_unit_is_installed_beside_it(self):
        unit = self.unit_text("evinetd.socket")
        for line in ("[Socket]", "ListenStream=7",
                     "FileDescriptorName=evinetd", "Service=evinetd.service",
                     "WantedBy=sockets.target"):
            with self.subTest(line=line):
                self.assertIn("\n" + line + "\n", unit)

    def test_existing_config_is_kept_by_a_second_install(self):
        conf = self.inst("sysconfdir", "evinetd.conf")
        with open(conf) as f:
            original = f.read()
        with open(conf, "a") as f:
            f.write("# edited by the admin\n")
        try:
            rc, out, err = run(["make", "install-data-local",
                                "DESTDIR=" + self.destdir],
                               timeout=INSTALL_TIMEOUT, env=clean_env(),
                               cwd=self.builddir)
            self.assertEqual(rc, 0, err)
            self.assertIn("keeping existing", out)
            with open(conf) as f:
                self.assertTrue(f.read().endswith("# edited by the admin\n"))
        finally:
            with open(conf, "w") as f:
                f.write(original)

    # The installed daemon.

    def test_installed_daemon_prints_its_version(self):
        rc, out, err = run([self.evinetd(), "-V"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^evinetd \S+ \(module ABI \d+\.\d+\)\n$")

    def test_installed_daemon_checks_a_config_of_installed_modules(self):
        # Every bundled module, loaded from the installed module_dir as
        # pkg-config names it; qotd reads the installed quotes.
        tmp = evitest.TempDir()
        self.addCleanup(tmp.close)
        blocks = ["module_dir = %s" % self.moduledir()]
        extra = {"qotd": '    file = "%s"\n' % self.inst("pkgdatadir",
                                                          "quotes.txt"),
                 "forward": "    to = 127.0.0.1:7\n"}
        for m in BUNDLED:
            blocks.append("service %s {\n    listen = 127.0.0.1:0\n"
                          "    module = %s\n%s}" % (m, m, extra.get(m, "")))
        conf = tmp.write("evinetd.conf", "\n".join(blocks) + "\n")
        rc, out, err = run([self.evinetd(), "-n", "-f", conf])
        self.assertEqual((rc, out, err), (0, "configuration OK\n", ""))

    def test_installed_example_config_is_valid(self):
        # The shipped evinetd.conf, pointed into DESTDIR: its module_dir
        # and include, and qotd's quotes (the module's default is the
        # final path, which is not there yet).
        with open(self.inst("sysconfdir", "evinetd.conf")) as f:
            text = f.read()
        text = text.replace("module_dir = %s\n" % self.dirs["pkglibdir"],
                            "module_dir = %s\n" % self.moduledir())
        text = text.replace("include = %s/" % self.dirs["sysconfdir"],
                            "include = %s/" % self.inst("sysconfdir"))
        text = re.sub(r"(\n\s*module = qotd\n)", r'\1    file = "%s"\n' %
                      self.inst("pkgdatadir", "quotes.txt"), text)
        tmp = evitest.TempDir()
        self.addCleanup(tmp.close)
        conf = tmp.write("evinetd.conf", text)
        rc, out, err = run([self.evinetd(), "-n", "-f", conf])
        self.assertEqual((rc, out, err), (0, "configuration OK\n", ""))

    def test_installed_daemon_serves_echo_from_installed_modules(self):
        with mock.patch.object(evitest, "EVINETD", self.evinetd()):
            d = self.daemon("""
                service echo {
                    listen = 127.0.0.1:0
                    module = echo
                }""", module_dir=self.moduledir())
        self.assertTrue(d.argv[0].startswith(self.destdir))
        with evitest.connect(d.port("echo")) as s:
            self.assertEqual(evitest.transfer(s, b"x"), b"x")
        self.assertEqual(d.stop(), 0)

    # An out-of-tree module.

    def test_out_of_tree_module_builds_with_pkg_config_and_serves(self):
        cc = shutil.which("cc")
        if cc is None:
            self.skipTest("no C compiler (cc)")
        tmp = evitest.TempDir()
        self.addCleanup(tmp.close)
        src = tmp.write("hi.c", HI_MODULE)
        so = tmp.join("hi.so")
        cflags = self.pkg_config("--cflags")
        self.assertIn("-I" + self.inst("includedir"), cflags.split())
        rc, out, err = run([cc, "-shared", "-fPIC"] + cflags.split() +
                           [src, "-o", so])
        self.assertEqual(rc, 0, "cc failed:\n" + err)

        # Installed where pkg-config says modules go; used by name.
        moduledir = self.moduledir()
        self.assertEqual(moduledir, self.inst("pkglibdir"))
        installed = os.path.join(moduledir, "hi.so")
        shutil.copy(so, installed)
        self.addCleanup(os.unlink, installed)
        os.chmod(installed, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP |
                 stat.S_IROTH | stat.S_IXOTH)
        with mock.patch.object(evitest, "EVINETD", self.evinetd()):
            d = self.daemon("""
                service hi {
                    listen = 127.0.0.1:0
                    module = hi
                }""", module_dir=moduledir)
        with evitest.connect(d.port("hi")) as s:
            self.assertEqual(evitest.recv_until_eof(s), b"hi\n")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
