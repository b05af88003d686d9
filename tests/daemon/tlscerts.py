"""tlscerts: throwaway certificates for the TLS daemon tests.

The TLS suites need a CA, server certificates with chosen names, serials
and validity, and client certificates.  Nothing with a private key is
committed: a test makes a PKI in its own temporary directory at run time
with the openssl command line tool, and the directory goes with the test.

    pki = tlscerts.PKI(tmp.path)
    cert, key = pki.server("localhost", sans=["localhost", "127.0.0.1"])
    ctx.load_verify_locations(pki.ca_cert)

Keys are ECDSA P-256 unless key="rsa" (RSA 2048).  Every key file is
mode 0600, as evinetd insists when it runs as root.  Every openssl call
is bounded by a timeout.
"""

import ipaddress
import os
import re
import subprocess
import textwrap

__all__ = ["PKI", "OPENSSL_TIMEOUT"]

OPENSSL_TIMEOUT = 30.0

# The "openssl ca" config: no policy on the subject, duplicate subjects
# allowed (a test reissues a name), extensions from -extfile only.
_CA_CONF = """\
[ca]
default_ca = evitest

[evitest]
dir = {dir}
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir/issued
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_days = 30
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no

[anything]
commonName = supplied

[req]
distinguished_name = req_dn

[req_dn]

[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""


def _openssl(*args, stdin=None):
    """Runs openssl ARGS; returns its stdout, or raises with its stderr."""
    try:
        p = subprocess.run(["openssl"] + list(args), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=OPENSSL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError("openssl %s: no answer within %.0f s" % (
            " ".join(args), OPENSSL_TIMEOUT))
    if p.returncode != 0:
        raise RuntimeError("openssl %s: exit %d\n%s" % (
            " ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def _san(name):
    """One subjectAltName entry: IP:... for an address, DNS:... otherwise."""
    try:
        ipaddress.ip_address(name)
        return "IP:" + name
    except ValueError:
        return "DNS:" + name


class PKI:
    """A throwaway CA in DIR (ECDSA P-256 unless key='rsa'), made with the
    openssl CLI."""

    def __init__(self, dirpath, name="evitest CA", key="ec"):
        self.dir = os.path.join(dirpath, "pki-" + re.sub(r"\W+", "_", name))
        os.makedirs(os.path.join(self.dir, "issued"), mode=0o700)
        with open(self._path("index.txt"), "w"):
            pass
        with open(self._path("index.txt.attr"), "w") as f:
            f.write("unique_subject = no\n")
        with open(self._path("ca.cnf"), "w") as f:
            f.write(_CA_CONF.format(dir=self.dir))
        self._next_serial = 0x1000
        ca_key = self._key(self._path("ca.key"), key)
        self.ca_cert = self._path("ca.crt")
        _openssl("req", "-new", "-x509", "-key", ca_key, "-out",
                 self.ca_cert, "-days", "365", "-subj", "/CN=" + name,
                 "-config", self._path("ca.cnf"), "-extensions", "v3_ca")
        self.name = name

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _free_stem(self, stem):
        # A second certificate for one name gets its own files; the
        # caller who wants to overwrite one passes stem= itself.
        stem = re.sub(r"[^\w.-]+", "_", stem)
        cand, n = stem, 1
        while os.path.exists(self._path(cand + ".crt")):
            n += 1
            cand = "%s-%d" % (stem, n)
        return cand

    @staticmethod
    def _key(path, kind):
        """Makes a private key at PATH, mode 0600 from the start."""
        if kind == "rsa":
            alg = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        elif kind == "ec":
            alg = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        else:
            raise ValueError("key must be 'ec' or 'rsa', not %r" % (kind,))
        tmp = path + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        _openssl("genpkey", *alg, "-out", tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def _ext(self, stem, text):
        path = self._path(stem + ".ext")
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def _sign(self, stem, cn, key, ext, days, when, serial):
        """Issues STEM.crt for CN with a fresh key; returns (cert, key)."""
        key_path = self._key(self._path(stem + ".key.gen"), key)
        csr = self._path(stem + ".csr")
        _openssl("req", "-new", "-key", key_path, "-subj", "/CN=" + cn,
                 "-out", csr)
        if serial is None:
            serial = self._next_serial
            self._next_serial += 1
        digits = "%X" % serial
        with open(self._path("serial"), "w") as f:
            f.write("0" * (len(digits) % 2) + digits + "\n")
        if when == "expired":
            dates = ["-startdate", "20200101000000Z",
                     "-enddate", "20200201000000Z"]
        elif when == "future":
            dates = ["-startdate", "20990101000000Z",
                     "-enddate", "20990201000000Z"]
        else:
            dates = ["-days", str(days)]
        cert_tmp = self._path(stem + ".crt.gen")
        _openssl("ca", "-batch", "-notext", "-config", self._path("ca.cnf"),
                 "-in", csr, "-out", cert_tmp, "-extfile", ext, *dates)
        cert, key_final = self._path(stem + ".crt"), self._path(stem + ".key")
        os.replace(key_path, key_final)
        os.replace(cert_tmp, cert)
        return cert, key_final

    def server(self, name, sans=None, key="ec", days=30, expired=False,
               serial=None, stem=None, chain=False, future=False):
        """A server certificate for NAME (CN) with SANS (default [NAME];
        addresses become IP: entries), signed by this CA.  Returns
        (cert_path, key_path); the cert file holds the leaf, followed by
        the CA certificate if CHAIN.

        A new name gets new files.  stem="x" writes x.crt and x.key in
        the PKI's directory, replacing them if they exist (each by a
        rename, so a reader never sees half a file): that is how a test
        renews a certificate at the same path.  SERIAL sets the serial
        number; by default each certificate gets the next one.  EXPIRED
        makes one valid in January 2020 only, FUTURE one not valid before
        2099."""
        stem = stem or self._free_stem(name)
        alt = ",".join(_san(n) for n in (sans if sans is not None
                                         else [name]))
        ext = self._ext(stem, """\
            basicConstraints = critical,CA:false
            keyUsage = critical,digitalSignature,keyEncipherment
            extendedKeyUsage = serverAuth
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """ + ("subjectAltName = %s\n" % alt if alt else ""))
        when = "expired" if expired else "future" if future else None
        cert, key_path = self._sign(stem, name, key, ext, days, when,
                                    serial)
        if chain:
            with open(self.ca_cert) as ca, open(cert, "a") as f:
                f.write(ca.read())
        return cert, key_path

    def client(self, cn, key="ec", days=30, stem=None):
        """A client certificate with subject CN=CN, signed by this CA.
        Returns (cert_path, key_path)."""
        stem = stem or self._free_stem("client-" + cn)
        ext = self._ext(stem, """\
            basicConstraints = critical,CA:false
            keyUsage = critical,digitalSignature
            extendedKeyUsage = clientAuth
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """)
        return self._sign(stem, cn, key, ext, days, None, None)

    @staticmethod
    def serial(cert_path):
        """The serial number of the certificate in CERT_PATH."""
        out = _openssl("x509", "-noout", "-serial", "-in", cert_path)
        return int(out.strip().split("=", 1)[1], 16)

    @staticmethod
    def sha256(cert_path):
        """The certificate's SHA-256 fingerprint, 64 lower-case hex
        digits (as evi_conn_tls reports client_sha256)."""
        out = _openssl("x509", "-noout", "-fingerprint", "-sha256",
                       "-in", cert_path)
        return out.strip().split("=", 1)[1].replace(":", "").lower()

    @staticmethod
    def der_serial(der):
        """The serial number of a DER certificate (what
        SSLSocket.getpeercert(True) returns)."""
        out = subprocess.run(
            ["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
            input=der, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=OPENSSL_TIMEOUT, check=True).stdout.decode()
        return int(out.strip().split("=", 1)[1], 16)
