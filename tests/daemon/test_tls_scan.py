#!/usr/bin/env python3
"""A TLS scanner against the defaults (issue 15, "done means"): sslscan
probes every protocol version and cipher suite a client can offer and
reports what the daemon accepted, plus renegotiation, heartbleed and
compression, as a client that offers everything.  With nothing but two
key lines in the config, an ECDSA
and an RSA service must show TLS 1.2 and 1.3 only, forward-secret AEAD
suites only (ECDHE or DHE of at least 2048 bits), groups of 128 bits or
more, no renegotiation, and no heartbleed.

Certificates come from tlscerts.PKI, made at run time in a temp dir.
"""

import os
import shutil
import subprocess
import unittest
import xml.etree.ElementTree as ET

import evitest
import tlscerts

SCAN_TIMEOUT = 120 * evitest.TIMEOUT_SCALE

# The suites the defaults may accept (Mozilla "intermediate").
ALLOWED = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-CHACHA20-POLY1305",
}


# Debian's OpenSSL will not even offer TLS 1.0, 1.1 or weak suites as a
# client (MinProtocol, SECLEVEL 2), so a scan would miss them: the
# scanner gets a config that lets it offer everything.
CLIENT_CNF = """\
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = None
CipherString = ALL:@SECLEVEL=0
"""


def sslscan(port, cnf):
    """sslscan's XML report on 127.0.0.1:PORT, parsed; CNF is the path of
    CLIENT_CNF."""
    env = dict(os.environ, OPENSSL_CONF=cnf)
    out = subprocess.run(
        ["sslscan", "--no-colour", "--xml=-", "127.0.0.1:%d" % port],
        capture_output=True, timeout=SCAN_TIMEOUT, check=True,
        env=env).stdout
    return ET.fromstring(out[out.index(b"<?xml"):]).find("ssltest")


@unittest.skipUnless(shutil.which("sslscan"), "sslscan is not installed "
                     "(scripts/install-deps installs it)")
class TestScanner(evitest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = evitest.TempDir(prefix="evitest-pki-")
        cls.pki = tlscerts.PKI(cls.pki_dir.path)
        cls.cnf = os.path.join(cls.pki_dir.path, "scanner.cnf")
        with open(cls.cnf, "w") as f:
            f.write(CLIENT_CNF)

    @classmethod
    def tearDownClass(cls):
        cls.pki_dir.close()

    def scan_defaults(self, key):
        cert, kpath = self.pki.server("localhost", key=key, stem=key)
        d = self.daemon("""
            service scanned {
                listen = 127.0.0.1:0
                module = echo
                tls_certificate = %s
                tls_key = %s
            }
        """ % (cert, kpath))
        report = sslscan(d.port("scanned"), self.cnf)
        self.assertEqual(d.stop(), 0)
        return report

    def check_report(self, report, kx):
        enabled = {(p.get("type"), p.get("version")): p.get("enabled")
                   for p in report.iter("protocol")}
        self.assertEqual(enabled, {
            ("ssl", "2"): "0", ("ssl", "3"): "0", ("tls", "1.0"): "0",
            ("tls", "1.1"): "0", ("tls", "1.2"): "1", ("tls", "1.3"): "1"})
        ciphers = [c.attrib for c in report.iter("cipher")]
        self.assertTrue(ciphers, "no cipher accepted")
        for c in ciphers:
            self.assertIn(c["cipher"], ALLOWED, c)
            self.assertTrue(c["cipher"].startswith(kx) or
                            c["cipher"].startswith("TLS_"), c)
            self.assertGreaterEqual(int(c["bits"]), 128, c)
            if "dhebits" in c:
                self.assertGreaterEqual(int(c["dhebits"]), 2048, c)
        self.assertEqual({c["sslversion"] for c in ciphers},
                         {"TLSv1.2", "TLSv1.3"})
        for g in report.iter("group"):
            self.assertGreaterEqual(int(g.get("bits")), 128, g.attrib)
        reneg = report.find("renegotiation")
        self.assertEqual(reneg.get("supported"), "0")
        bleed = list(report.iter("heartbleed"))
        self.assertTrue(bleed)
        self.assertTrue(all(h.get("vulnerable") == "0" for h in bleed))
        comp = report.find("compression")
        if comp is not None:
            self.assertEqual(comp.get("supported"), "0")

    def test_ecdsa_defaults_show_nothing_weak(self):
        self.check_report(self.scan_defaults("ec"), ("ECDHE-ECDSA-",))

    def test_rsa_defaults_show_nothing_weak(self):
        self.check_report(self.scan_defaults("rsa"),
                          ("ECDHE-RSA-", "DHE-RSA-"))


if __name__ == "__main__":
    evitest.main()
