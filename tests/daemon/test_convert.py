#!/usr/bin/env python3
"""evinetd-convert (issue 14, point 4): inetd.conf and xinetd.conf to
evinetd.conf.  It converts the configs Debian's xinetd and openbsd-inetd
packages install (from their .debs, which scripts/install-deps downloads:
the two packages conflict, and no daemon of theirs is ever started), a
corpus of third-party service files (tests/convert/), and a file with
every attribute of xinetd.conf(5); each output must pass "evinetd -n".
The exit status (0 all carried, 3 some reported, 1 unreadable), the
FILE:LINE reports, the atomic -o, and a converted config run by the real
daemon, talking to an internal service and to /bin/cat and /bin/echo.

Programs, users and groups that do not exist on this host (check_mk_agent,
nagios) are replaced in the output before "evinetd -n", which checks them
against the host; everything else is checked as written.
"""

import glob
import grp
import os
import pwd
import re
import subprocess
import unittest

import evitest

CONVERT = os.environ.get("EVINETD_CONVERT") or os.path.join(
    os.path.dirname(evitest.EVINETD), "..", "convert", "evinetd-convert")
SRCDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "convert")
DEBS = os.environ.get("EVINETD_DEBS", "/var/cache/evinetd/debs")

# The attributes xinetd.conf(5) describes (include and includedir are
# statements, tested with the corpus), and v6only and disabled.
XINETD_ATTRIBUTES = {
    "id", "type", "flags", "disable", "socket_type", "protocol", "wait",
    "user", "group", "instances", "nice", "server", "server_args",
    "libwrap", "only_from", "no_access", "access_times", "log_type",
    "log_on_success", "log_on_failure", "rpc_version", "rpc_number", "env",
    "passenv", "port", "redirect", "bind", "interface", "banner",
    "banner_success", "banner_fail", "per_source", "cps", "max_load",
    "groups", "mdns", "umask", "enabled", "rlimit_as", "rlimit_files",
    "rlimit_cpu", "rlimit_data", "rlimit_rss", "rlimit_stack", "deny_time",
    "v6only", "disabled"}


def convert(*args, timeout=evitest.IO_TIMEOUT):
    """Runs evinetd-convert ARGS; returns (rc, stdout, stderr)."""
    p = subprocess.run([CONVERT] + list(args), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def host_names(conf):
    """CONF with the programs, users and groups this host lacks replaced,
    so that "evinetd -n" checks everything else."""
    def program(m):
        return m.group(1) + (m.group(2) if os.access(m.group(2), os.X_OK)
                             else "/bin/cat")

    def known(lookup, fallback):
        def sub(m):
            try:
                lookup(m.group(2))
                return m.group(0)
            except KeyError:
                return m.group(1) + fallback
        return sub

    conf = re.sub(r"(?m)^(\tprogram = )(\S+)$", program, conf)
    conf = re.sub(r"(?m)^(\tuser = )(\S+)$",
                  known(pwd.getpwnam, "nobody"), conf)
    conf = re.sub(r"(?m)^(\tgroup = )(\S+)$",
                  known(grp.getgrnam, "nogroup"), conf)
    return re.sub(r"(?m)^\tgroups = .*\n", "", conf)


def services(conf):
    """{name: block text} of the services CONF runs (not the comments)."""
    return dict(re.findall(r"(?ms)^service (\S+) \{\n(.*?)^\}", conf))


class ConvertCase(evitest.TestCase):

    def assert_checks(self, conf):
        """evinetd -n accepts CONF (host names replaced)."""
        rc, out, err = evitest.run_check(host_names(conf))
        self.assertEqual((rc, err), (0, ""), conf)
        self.assertIn("configuration OK", out)

    def assert_sources(self, conf, files):
        """Every service, running or commented, names where it came from,
        and each of FILES gave at least one."""
        blocks = re.findall(r"(?m)^(?:# )?service \S+ \{", conf)
        froms = re.findall(r"(?m)^# from (\S+):(\d+)", conf)
        self.assertEqual(len(blocks), len(froms), conf)
        for f in files:
            self.assertIn(f, [x[0] for x in froms], conf)


@unittest.skipUnless(glob.glob(os.path.join(DEBS, "xinetd_*.deb")) and
                     glob.glob(os.path.join(DEBS, "openbsd-inetd_*.deb")),
                     "no .debs in %s: run scripts/install-deps" % DEBS)
class TestDebianPackages(ConvertCase):

    def extract(self, pkg, what="-x"):
        t = self.tempdir()
        deb = sorted(glob.glob(os.path.join(DEBS, pkg + "_*.deb")))[-1]
        subprocess.run(["dpkg-deb", what, deb, t.path], check=True,
                       timeout=evitest.IO_TIMEOUT)
        return t

    def test_xinetd_as_installed(self):
        # Every service Debian ships is disabled: all come out as
        # comments, and nothing is lost from a running service.
        t = self.extract("xinetd")
        top = t.join("etc", "xinetd.conf")
        with open(top) as f:
            text = f.read().replace("/etc/xinetd.d", t.join("etc",
                                                             "xinetd.d"))
        with open(top, "w") as f:
            f.write(text)
        rc, out, err = convert(top)
        self.assertEqual((rc, err), (0, ""))
        files = sorted(glob.glob(t.join("etc", "xinetd.d", "*")))
        self.assertGreaterEqual(len(files), 10)
        self.assert_sources(out, files)
        self.assertEqual(services(out), {})
        self.assertIn("\n# No service is enabled: evinetd refuses a file "
                      "without one.\n", out)
        rc, _, err = evitest.run_check(out)
        self.assertEqual((rc, err.splitlines()[0][-19:]),
                         (1, "no services defined"))
        self.assertIn("# service echo-stream {\n#\tlisten = 0.0.0.0:7\n"
                      "#\tmodule = echo\n# }", out)

    def test_xinetd_enabled(self):
        # The same files switched on: the five internal services run,
        # xinetd's own "servers" and "services" are reported.
        t = self.extract("xinetd")
        d = t.join("etc", "xinetd.d")
        for name in os.listdir(d):
            with open(os.path.join(d, name)) as f:
                text = f.read()
            with open(os.path.join(d, name), "w") as f:
                f.write(re.sub(r"disable\s*=\s*yes", "disable = no", text))
        rc, out, err = convert("-f", "xinetd", *sorted(
            glob.glob(os.path.join(d, "*"))))
        self.assertEqual(rc, 3, err)
        self.assertEqual(sorted(re.findall(r'internal service "(\w+)"',
                                           err)), ["servers", "services"])
        running = services(out)
        for name in ("echo", "discard", "chargen", "daytime", "time"):
            self.assertIn("\tmodule = %s\n" % name,
                          running[name + "-stream"])
            self.assertIn("\tprotocol = udp\n", running[name + "-dgram"])
        self.assert_checks(out)

    def test_inetd_as_installed(self):
        # openbsd-inetd's preinst writes /etc/inetd.conf: every service
        # in it is a comment line, so nothing is converted or lost.
        t = self.extract("openbsd-inetd", "-e")
        with open(t.join("preinst")) as f:
            m = re.search(r"<<EOF > /etc/inetd.conf\n(.*?)\nEOF\n",
                          f.read(), re.S)
        conf = t.write("inetd.conf", m.group(1) + "\n")
        rc, out, err = convert(conf)
        self.assertEqual((rc, err, services(out)), (0, "", {}))
        # Its commented internal services, uncommented, all convert.
        lines = [line[1:] for line in m.group(1).splitlines()
                 if re.match(r"#(echo|discard|daytime|time|chargen)\s",
                             line)]
        self.assertEqual(len(lines), 6)
        conf = t.write("on.conf", "\n".join(lines) + "\n")
        rc, out, err = convert(conf)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(sorted(services(out)),
                         ["chargen", "daytime", "discard", "discard-udp",
                          "echo", "time"])
        self.assert_checks(out)


class TestCorpus(ConvertCase):

    def xinetd_conf(self):
        t = self.tempdir()
        with open(os.path.join(SRCDIR, "xinetd.conf")) as f:
            text = f.read().replace("XINETD_D",
                                    os.path.join(SRCDIR, "xinetd.d"))
        return t.write("xinetd.conf", text)

    def test_third_party_services(self):
        top = self.xinetd_conf()
        rc, out, err = convert(top)
        self.assertEqual(rc, 3, err)
        d = os.path.join(SRCDIR, "xinetd.d")
        names = ["amanda", "check_mk", "cvspserver", "git", "nrpe", "rsync",
                 "swat", "tftp"]
        # includedir skips names with a dot or a trailing "~" (the
        # rpmsave one does not even parse).
        self.assert_sources(out, [os.path.join(d, n) for n in names])
        self.assertNotIn("rpmsave", out)
        self.assertNotIn("tftp~", out)
        run = services(out)
        self.assertEqual(sorted(run), sorted(set(names) - {"swat"}))
        self.assertIn("\tlisten = 0.0.0.0:6556\n\tmodule = exec\n"
                      "\tprogram = /usr/bin/check_mk_agent\n"
                      "\targs = check_mk_agent\n\tuser = root\n",
                      run["check_mk"])
        self.assertIn("\tonly_from = 127.0.0.1/32 10.0.20.1/32 "
                      "10.0.20.2/32\n\tno_access = 198.51.100.0/24\n",
                      run["check_mk"])
        self.assertIn("\targs = nrpe -c /etc/nagios/nrpe.cfg --inetd\n",
                      run["nrpe"])
        self.assertIn("\tonly_from = 127.0.0.1/32 ::1 192.168.1.0/24\n",
                      run["nrpe"])
        self.assertIn("\tlisten = 0.0.0.0:69\n\tprotocol = udp\n",
                      run["tftp"])
        self.assertIn("\twait = yes\n", run["tftp"])
        self.assertNotIn("instances", run["tftp"])
        self.assertIn("\tper_source = 11\n\trate = 100/s\n", run["tftp"])
        self.assertIn("token bucket", run["tftp"])
        self.assertIn("\tlisten = *:873\n", run["rsync"])
        self.assertIn("\tlisten = 192.0.2.10:2401\n", run["cvspserver"])
        self.assertIn('\tenv = "HOME=/var/cvs"\n\tpasspenv = PATH\n'
                      .replace("passp", "pass"), run["cvspserver"])
        self.assertIn("\trlimit_as = 512M\n\trlimit_cpu = 60s\n"
                      "\trlimit_nofile = 256\n\tinstances = 25\n",
                      run["git"])
        self.assertIn("\tgroup = disk\n", run["amanda"])
        self.assertIn("\tlog_connections = yes\n", run["git"])
        # swat is in the defaults' disabled list: a comment, no report.
        self.assertRegex(out, r"# from \S+/swat:5; off: in the defaults' "
                         r"disabled list\n# service swat \{")
        self.assertNotIn("swat", err)
        # Each report once, as FILE:LINE: message.
        self.assertEqual(sorted(err.splitlines()), sorted([
            '%s:6: xinetd attribute "log_type" has no equivalent; not '
            'carried over' % top,
            "%s/git:15: log_on_failure USERID has no equivalent; not "
            "carried over" % d,
            "%s/nrpe:15: log_on_failure USERID has no equivalent; not "
            "carried over" % d,
            "%s/rsync:13: log_on_failure USERID has no equivalent; not "
            "carried over" % d]))
        self.assert_checks(out)

    def test_inetd_syntax(self):
        conf = os.path.join(SRCDIR, "inetd.conf")
        rc, out, err = convert(conf)
        self.assertEqual((rc, err), (0, ""))
        run = services(out)
        self.assertEqual(run["echo"], "\tlisten = *:7\n\tmodule = echo\n")
        self.assertIn("\tlisten = *:7\n\tprotocol = udp\n", run["echo-udp"])
        self.assertIn("\tlisten = [::]:9\n", run["discard"])
        self.assertIn("\tlisten = 0.0.0.0:13\n", run["daytime"])
        self.assertEqual(run["ident"], "\tlisten = 127.0.0.1:113\n"
                         "\tmodule = exec\n\tprogram = /usr/sbin/identd\n"
                         "\targs = identd -i\n\tuser = identd\n"
                         "\twait = yes\n")
        self.assertIn("\tlisten = [::1]:79\n", run["finger"])
        self.assertIn("\targs = /usr/sbin/in.fingerd\n\tuser = nobody\n"
                      "\tgroup = nogroup\n\trate = 30/m\n", run["finger"])
        self.assertIn("\tuser = root\n\tgroup = nogroup\n", run["tftp"])
        # inetd does not unquote: the quotes are part of the word, and
        # evinetd.conf gets them escaped.
        self.assertIn('\tlisten = 192.0.2.1:9418\n', run["git"])
        self.assertIn('\targs = git daemon --inetd "--base-path=/srv/git" '
                      '"\\"--export-all\\""\n', run["git"])
        self.assertIn("\tlisten = *:873\n", run["rsync"])
        self.assertIn("\targs = check_mk_agent\n", run["6556"])
        self.assert_checks(out)

    def test_every_xinetd_attribute(self):
        conf = os.path.join(SRCDIR, "every.xinetd")
        rc, out, err = convert(conf)
        self.assertEqual(rc, 3, err)
        # Each attribute of xinetd.conf(5) is carried or reported.
        with open(conf) as f:
            attrs = set(re.findall(r"(?m)^\s+(\w+)\s+[-+]?=", f.read()))
        self.assertEqual(XINETD_ATTRIBUTES - attrs, set())
        unmapped = set(re.findall(r'xinetd attribute "(\w+)"', err))
        self.assertEqual(unmapped, {
            "access_times", "banner", "banner_fail", "banner_success",
            "deny_time", "libwrap", "log_type", "max_load", "mdns",
            "rlimit_rss"})
        # rstatd is off (the defaults' disabled list): what it loses is
        # noted in its block, and not reported.
        for name in ("rpc_version", "rpc_number"):
            self.assertRegex(out, r'#\t# \S+:\d+: xinetd attribute "%s" '
                             r'has no equivalent' % name)
        for line in err.splitlines():
            self.assertRegex(line, r"^%s:\d+: " % re.escape(conf))
        self.assertEqual(len(err.splitlines()), len(set(err.splitlines())))
        run = services(out)
        self.assertEqual(sorted(run), ["echo-stream", "web"])
        self.assertIn("\tlisten = 127.0.0.1:8080\n\tmodule = forward\n"
                      "\tto = 192.0.2.80:80\n", run["web"])
        # ftp-main: a no_access entry that is a domain would be ignored,
        # admitting it: the service is kept as a comment, with the rest.
        self.assertRegex(out, r"# from \S+:18 \(xinetd service ftp, id "
                         r"ftp-main\); off: ")
        for key in ("#\tlisten = [::1]:2121\n", "#\tmodule = exec\n",
                    "#\tprogram = /usr/sbin/tcpd\n",
                    '#\targs = in.ftpd -l "\\"-a" "x\\"" "#notacomment"\n',
                    '#\tenv = "LANG=C" "TZ=UTC" "HOME=/srv/ftp"\n',
                    "#\tumask = 002\n", "#\tnice = 10\n",
                    "#\trlimit_as = 8M\n", "#\trlimit_cpu = 20s\n",
                    "#\trlimit_nofile = 128\n",
                    "#\trlimit_stack = unlimited\n",
                    "#\tonly_from = 128.138.193.0/24 128.138.204.0/24 "
                    "10.0.0.0/8 2001:db8::/32 128.138.10.0/24 "
                    "128.138.11.0/24\n",
                    "#\tno_access = 10.66.0.0/16\n"):
            self.assertIn(key, out)
        self.assertIn('no_access ".example.org" is not a numeric', err)
        self.assertIn("RPC services are not supported", out)
        self.assertIn("TCPMUX services are not supported", err)
        self.assertIn('redirect to "backend.example.org", a host name', err)
        self.assertIn("flag SENSOR has no equivalent", err)
        self.assert_checks(out)


class TestErrors(ConvertCase):

    def test_unreadable_and_unparsable(self):
        t = self.tempdir()
        bad = t.write("bad.xinetd", "service a\n{\n\tport 7\n\t= x\n"
                      "}\nservice b\nport = 9\n")
        ok = t.write("ok.inetd", "echo stream tcp nowait root internal\n"
                     "echo stream tcp\n")
        out_path = t.write("out.conf", "old\n")
        rc, out, err = convert("-o", out_path, t.join("missing"), bad, ok)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertEqual(err.splitlines(), [
            "%s: No such file or directory" % t.join("missing"),
            '%s:3: attribute "port": expected =, += or -=' % bad,
            "%s:4: expected an attribute, \"}\" or a comment" % bad,
            '%s:7: expected "{" to open the block of line 6' % bad,
            "%s:2: 3 fields; an inetd.conf line has at least 6: service, "
            "socket type, protocol, wait, user and program" % ok])
        with open(out_path) as f:
            self.assertEqual(f.read(), "old\n")

    def test_output_file_is_replaced_whole(self):
        t = self.tempdir()
        src = t.write("inetd.conf", "echo stream tcp nowait root internal\n")
        out_path = t.write("evinetd.conf", "old\n")
        os.chmod(out_path, 0o600)
        rc, out, err = convert("-o", out_path, src)
        self.assertEqual((rc, out, err), (0, "", ""))
        with open(out_path) as f:
            self.assertIn("service echo {\n", f.read())
        self.assertEqual(sorted(os.listdir(t.path)),
                         ["evinetd.conf", "inetd.conf"])
        self.assertEqual(os.stat(out_path).st_mode & 0o777, 0o644)

    def test_usage(self):
        self.assertEqual(convert()[0], 1)
        rc, out, err = convert("-f", "inetd.conf", "x")
        self.assertEqual(rc, 1)
        self.assertIn("expected inetd or xinetd", err)


class TestRun(ConvertCase):
    """A converted config run by the real daemon."""

    def test_internal_and_exec_services(self):
        t = self.tempdir()
        src = t.write("xinetd.conf", """\
            defaults
            {
            \tlog_on_success = HOST
            }
            service echo
            {
            \ttype = INTERNAL UNLISTED
            \tport = 0
            \tbind = 127.0.0.1
            \tsocket_type = stream
            \twait = no
            }
            service cat
            {
            \ttype = UNLISTED
            \tport = 0
            \tbind = 127.0.0.1
            \tsocket_type = stream
            \twait = no
            \tuser = nobody
            \tserver = /bin/cat
            }
            service words
            {
            \ttype = UNLISTED
            \tflags = NAMEINARGS
            \tport = 0
            \tbind = 127.0.0.1
            \tsocket_type = stream
            \twait = no
            \tuser = nobody
            \tserver = /bin/echo
            \tserver_args = echo a#b "c\\d {x=y}
            }
            """)
        rc, conf, err = convert(src)
        self.assertEqual((rc, err), (0, ""))
        d = self.daemon(conf)
        for name, send, want in (
                ("echo", b"hello\n", b"hello\n"),
                ("cat", b"x" * 100000, b"x" * 100000),
                ("words", b"", b'a#b "c\\d {x=y}\n')):
            s = evitest.connect(d.port(name))
            with s:
                got = evitest.transfer(s, send, expect=len(want),
                                       shut_wr=True)
            self.assertEqual(got, want, name)
        d.wait_log(r"event=close service=cat .*exit=0")


if __name__ == "__main__":
    unittest.main()
