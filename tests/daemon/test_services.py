#!/usr/bin/env python3
"""The classic inetd services, byte-exact against the running daemon.

Each RFC rule of the bundled modules is asserted over TCP and UDP, on
127.0.0.1 and (when the host has it) ::1:

    discard  RFC 863   modules/discard.c
    chargen  RFC 864   modules/chargen.c
    qotd     RFC 865   modules/qotd.c
    daytime  RFC 867   modules/daytime.c
    time     RFC 868   modules/time.c
    echo     RFC 862   modules/echo.c (the largest UDP datagram only;
                       test_echo.py has the rest)

and the daemon's UDP reflection guard (daemon/dgram.c), which needs root
to send from a source port below 1024.

Every wait is bounded.  The only waits for the absence of something are
the short selects that check that discard, or a guarded service, did not
answer a datagram (ABSENCE_WAIT).
"""

import calendar
import datetime
import os
import re
import select
import socket
import struct
import sys
import time
import unittest

import evitest
from evitest import IO_TIMEOUT, connect, recv_exact, recv_until_eof

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")

HAVE_IPV6 = evitest.have_ipv6()
LISTEN = "127.0.0.1:0 [::1]:0" if HAVE_IPV6 else "127.0.0.1:0"

# How long a test waits to see that no datagram comes back.
ABSENCE_WAIT = 0.5

# RFC 868: seconds from 1900-01-01 to 1970-01-01.
TIME_EPOCH_OFFSET = 2208988800

# RFC 864: the 95 printing characters, 72 to a line, then CR LF; line N
# starts at character N mod 95 of the ring.
RING = bytes(range(0x20, 0x7F))
LINE_CHARS = 72
LINE_LEN = LINE_CHARS + 2
PERIOD_LINES = len(RING)
PERIOD = PERIOD_LINES * LINE_LEN
assert len(RING) == 95 and PERIOD == 7030


def chargen_line(n):
    """Line N of the chargen pattern, CR LF included."""
    start = n % len(RING)
    return (RING + RING)[start:start + LINE_CHARS] + b"\r\n"


PERIOD_BYTES = b"".join(chargen_line(n) for n in range(PERIOD_LINES))


def chargen_stream(offset, length):
    """LENGTH bytes of the endless TCP stream from byte OFFSET on."""
    start = offset % PERIOD
    reps = (start + length) // PERIOD + 1
    return (PERIOD_BYTES * reps)[start:start + length]


# Helpers.

def hosts_of(testcase, d, service, proto):
    """[(host, port)] of SERVICE's PROTO listeners; asserts that there is
    one on 127.0.0.1 and, if the host has IPv6, one on ::1."""
    addrs = [(h, p) for h, p, pr in d.addrs(service) if pr == proto]
    hosts = sorted(h for h, _ in addrs)
    want = ["127.0.0.1", "::1"] if HAVE_IPV6 else ["127.0.0.1"]
    testcase.assertEqual(hosts, sorted(want), "listeners of %s/%s: %r" % (
        service, proto, addrs))
    return addrs


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_socket(host, port=0):
    """A UDP socket bound to HOST:PORT (0: any free port)."""
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
    except BaseException:
        s.close()
        raise
    return s


def udp_recv(s, timeout=IO_TIMEOUT):
    """One datagram from S and its source; fails when TIMEOUT runs out."""
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        raise socket.timeout("no datagram within %.1f s" % timeout)
    data, src = s.recvfrom(1 << 17)
    return data, src[:2]


def udp_ask(host, port, data=b"?", timeout=IO_TIMEOUT):
    """Sends DATA to HOST:PORT from a fresh socket; returns the reply,
    checking that it came from the address the request went to."""
    with udp_socket(host) as s:
        s.sendto(data, (host, port))
        reply, src = udp_recv(s, timeout)
    if src != (host, port):
        raise AssertionError("reply from %r, not from %r" % (src, (host,
                                                                 port)))
    return reply


def assert_no_datagram(testcase, socks, what, wait=ABSENCE_WAIT):
    """Asserts that none of SOCKS receives anything within WAIT."""
    r, _, _ = select.select(list(socks), [], [], wait)
    if r:
        data, src = r[0].recvfrom(1 << 17)
        testcase.fail("%s: unexpected datagram of %d bytes from %r: %r" % (
            what, len(data), src, data[:80]))


def bind_privileged_udp(host, first=1000, last=512):
    """A UDP socket on HOST bound to a free port below 1024, trying FIRST
    downward; None if none is free."""
    for port in range(first, last, -1):
        try:
            return udp_socket(host, port)
        except OSError:
            continue
    return None


def abort_connection(s):
    """Closes S with a reset (SO_LINGER on, zero timeout)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()


def connect_rcvbuf(host, port, rcvbuf, timeout=IO_TIMEOUT):
    """Like evitest.connect, with SO_RCVBUF set before the handshake so
    the window, and so what the kernel buffers for us, stays small."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def time_value(data):
    return struct.unpack("!I", data)[0]


def rfc868_now():
    return (int(time.time()) + TIME_EPOCH_OFFSET) % 2 ** 32


def rfc868_diff(got, want):
    """GOT - WANT in seconds, modulo 2^32, as a signed number."""
    d = (got - want) % 2 ** 32
    return d - 2 ** 32 if d >= 2 ** 31 else d


def one_crlf_line(testcase, data, what):
    """Asserts DATA is exactly one line ending in CR LF; returns the text
    without it."""
    testcase.assertTrue(data.endswith(b"\r\n"), "%s: %r" % (what, data))
    body = data[:-2]
    testcase.assertNotIn(b"\r", body, "%s: %r" % (what, data))
    testcase.assertNotIn(b"\n", body, "%s: %r" % (what, data))
    testcase.assertTrue(body, "%s: empty line" % what)
    return body.decode("ascii")


def crlf(text):
    """TEXT (lines ending in LF) with CR LF line ends, as bytes."""
    return text.replace("\n", "\r\n").encode("ascii")


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


class Cwd:
    """Runs a block in directory PATH, restoring the old cwd after."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


# chargen, RFC 864.

CHARGEN_CONF = """\
service chargen {
    listen = %s
    module = chargen
}
service chargen-udp {
    listen = %s
    protocol = udp
    module = chargen
}
service chargen-small {
    listen = 127.0.0.1:0
    module = chargen
    burst = 7030
}
""" % (LISTEN, LISTEN)


class TestChargen(evitest.TestCase):

    def test_tcp_first_lines_and_period(self):
        d = self.daemon(CHARGEN_CONF)
        expect = b"".join(chargen_line(n) for n in range(100))
        for host, port in hosts_of(self, d, "chargen", "tcp"):
            with self.subTest(host=host), connect(port, host) as s:
                got = recv_exact(s, 100 * LINE_LEN)
                lines = [got[i:i + LINE_LEN]
                         for i in range(0, len(got), LINE_LEN)]
                for n, line in enumerate(lines):
                    self.assertEqual(line, chargen_line(n), "line %d" % n)
                    self.assertEqual(len(line), 74)
                    self.assertEqual(line[0], 0x20 + n % 95)
                self.assertEqual(got, expect)
                self.assertEqual(lines[95], lines[0])
                self.assertEqual(lines[96], lines[1])
                # Further on, across many refills of the output, the
                # stream stays exactly the pattern.
                more = recv_exact(s, 1 << 20)
                self.assertTrue(more == chargen_stream(len(got), len(more)),
                                "the stream departs from the pattern "
                                "within 1 MiB")
        # The smallest burst, one period: many refills per write event.
        with connect(d.port("chargen-small", "tcp")) as s:
            got = recv_exact(s, 1 << 20)
            self.assertTrue(got == chargen_stream(0, len(got)),
                            "burst = 7030: the stream departs from the "
                            "pattern within 1 MiB")

    def test_tcp_input_thrown_away(self):
        # RFC 864: "Data received is thrown away."  A client that keeps
        # sending gets the unchanged pattern, and is not cut off.
        d = self.daemon(CHARGEN_CONF)
        junk = b"chargen input " * 75000
        for host, port in hosts_of(self, d, "chargen", "tcp"):
            with self.subTest(host=host), connect(port, host) as s:
                got = evitest.transfer(s, junk, expect=2 << 20)
                self.assertTrue(got == chargen_stream(0, len(got)),
                                "stream departs from the pattern while "
                                "the client sends")

    @unittest.skipIf(evitest.under_valgrind(), "valgrind's RSS is not "
                     "the daemon's")
    def test_tcp_slow_reader_bounded_memory(self):
        d = self.daemon(CHARGEN_CONF)
        host, port = hosts_of(self, d, "chargen", "tcp")[0]
        with connect_rcvbuf(host, port, 4096) as s:
            got = recv_exact(s, LINE_LEN)
            self.assertEqual(got, chargen_line(0))
            offset = len(got)
            base = peak = d.rss_kb()
            # Read 1 KiB at a time with short pauses: the pause is the
            # point of the test (a slow client), not a wait for anything.
            start = time.monotonic()
            while time.monotonic() - start < 1.5:
                chunk = s.recv(1024)
                self.assertTrue(chunk, "EOF from chargen")
                self.assertTrue(chunk == chargen_stream(offset, len(chunk)),
                                "stream departs from the pattern at byte "
                                "%d" % offset)
                offset += len(chunk)
                peak = max(peak, d.rss_kb())
                time.sleep(0.01)
            elapsed = time.monotonic() - start
        growth = peak - base
        sys.stderr.write(
            "\n  chargen slow reader: read %d bytes in %.1f s; daemon RSS "
            "%d KiB at start, peak %d KiB, growth %d KiB\n" % (
                offset, elapsed, base, peak, growth))
        self.assertLess(growth, 4 * 1024,
                        "daemon RSS grew by %d KiB for one slow reader" %
                        growth)

    def test_tcp_reset_mid_stream(self):
        d = self.daemon(CHARGEN_CONF)
        addrs = hosts_of(self, d, "chargen", "tcp")
        for i in range(20):
            host, port = addrs[i % len(addrs)]
            s = connect(port, host)
            try:
                got = recv_exact(s, 1000 + 97 * i)
                self.assertTrue(got == chargen_stream(0, len(got)))
            finally:
                abort_connection(s)
        self.assertTrue(d.running())
        for host, port in addrs:
            with connect(port, host) as s:
                self.assertEqual(recv_exact(s, LINE_LEN), chargen_line(0))
                self.assertEqual(recv_exact(s, LINE_LEN), chargen_line(1))
        self.assertEqual(d.stop(), 0)

    def test_tcp_half_close_keeps_stream(self):
        d = self.daemon(CHARGEN_CONF)
        for host, port in hosts_of(self, d, "chargen", "tcp"):
            with self.subTest(host=host), \
                    connect_rcvbuf(host, port, 65536) as s:
                got = recv_exact(s, PERIOD)
                self.assertEqual(got, PERIOD_BYTES)
                s.shutdown(socket.SHUT_WR)
                # More than the kernel can hold in both socket buffers
                # (tcp_wmem max is 4 MiB, our receive buffer 128 KiB), so
                # most of this was written after the daemon saw our EOF.
                more = recv_exact(s, 8 << 20)
                self.assertTrue(more == chargen_stream(PERIOD, len(more)),
                                "stream after half-close departs from the "
                                "pattern")

    def test_udp_replies(self):
        d = self.daemon(CHARGEN_CONF)
        addrs = hosts_of(self, d, "chargen-udp", "udp")
        lengths = []
        for i in range(30):
            host, port = addrs[i % len(addrs)]
            reply = udp_ask(host, port, b"x" * i)
            lengths.append(len(reply))
            self.assertLessEqual(len(reply), 512)
            if reply:
                line = reply[0] - 0x20
                self.assertTrue(0 <= line < 95, repr(reply[:10]))
                self.assertEqual(reply, PERIOD_BYTES[line * LINE_LEN:
                                                     line * LINE_LEN +
                                                     len(reply)],
                                 "datagram %d is not a slice of the "
                                 "pattern from a line start" % i)
        # RFC 864: "a random number (between 0 and 512) of characters".
        self.assertGreater(len(set(lengths)), 1, lengths)


# discard, RFC 863.

DISCARD_CONF = """\
service discard {
    listen = %s
    module = discard
}
service discard-udp {
    listen = %s
    protocol = udp
    module = discard
}
""" % (LISTEN, LISTEN)


class TestDiscard(evitest.TestCase):

    def test_tcp_never_answers_and_closes_cleanly(self):
        d = self.daemon(DISCARD_CONF)
        block = bytes(range(256)) * 256
        total = 1 << 20
        for host, port in hosts_of(self, d, "discard", "tcp"):
            with self.subTest(host=host), connect(port, host) as s:
                s.setblocking(False)
                sent = 0
                deadline = time.monotonic() + IO_TIMEOUT
                while sent < total:
                    left = deadline - time.monotonic()
                    self.assertGreater(left, 0, "sent only %d bytes" % sent)
                    r, w, _ = select.select([s], [s], [], min(left, 1.0))
                    self.assertFalse(r, "discard socket readable after %d "
                                     "bytes" % sent)
                    if w:
                        try:
                            sent += s.send(block[:total - sent])
                        except BlockingIOError:
                            pass
                r, _, _ = select.select([s], [], [], 0.2)
                self.assertFalse(r, "discard socket readable after 1 MiB")
                s.shutdown(socket.SHUT_WR)
                s.settimeout(IO_TIMEOUT)
                try:
                    self.assertEqual(s.recv(4096), b"")
                except ConnectionResetError:
                    self.fail("discard reset the connection instead of "
                              "closing it")

    def test_udp_no_reply(self):
        d = self.daemon(DISCARD_CONF)
        socks = []
        try:
            for host, port in hosts_of(self, d, "discard-udp", "udp"):
                s = udp_socket(host)
                socks.append(s)
                for size in (0, 1, 512, 8192):
                    s.sendto(b"d" * size, (host, port))
            assert_no_datagram(self, socks, "discard over UDP")
        finally:
            for s in socks:
                s.close()


# daytime, RFC 867.

ISO_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_FORMAT_PY = "%a %b %d %H:%M:%S %Y %Z"   # the module's, for Python

DAYTIME_CONF = """\
service daytime {
    listen = %(l)s
    module = daytime
}
service daytime-udp {
    listen = %(l)s
    protocol = udp
    module = daytime
}
service iso {
    listen = %(l)s
    module = daytime
    format = "%(f)s"
    timezone = utc
}
service iso-udp {
    listen = %(l)s
    protocol = udp
    module = daytime
    format = "%(f)s"
    timezone = utc
}
service local {
    listen = 127.0.0.1:0
    module = daytime
    format = "%(f)s %%z"
    timezone = local
}
""" % {"l": LISTEN, "f": ISO_FORMAT}


class TestDaytime(evitest.TestCase):

    def assert_now(self, when, line):
        """WHEN (seconds since the epoch) is within 2 s of now."""
        self.assertLessEqual(abs(when - time.time()), 2.0,
                             "daytime %r is not now" % line)

    def test_daytime(self):
        # TZ only matters to "timezone = local": 5:30 east of UTC.
        d = self.daemon(DAYTIME_CONF, env={"TZ": "EVT-5:30"})
        for service, proto in (("daytime", "tcp"), ("daytime-udp", "udp"),
                               ("iso", "tcp"), ("iso-udp", "udp")):
            for host, port in hosts_of(self, d, service, proto):
                with self.subTest(service=service, host=host):
                    if proto == "tcp":
                        with connect(port, host) as s:
                            data = recv_until_eof(s, limit=4096)
                    else:
                        data = udp_ask(host, port)
                    line = one_crlf_line(self, data, service)
                    if service.startswith("iso"):
                        t = time.strptime(line, ISO_FORMAT)
                        self.assertEqual(len(line), 19, line)
                    else:
                        t = time.strptime(line, DEFAULT_FORMAT_PY)
                        self.assertTrue(line.endswith((" UTC", " GMT")),
                                        line)
                    self.assert_now(calendar.timegm(t), line)
        # A client that sends something first (as "echo | nc" does) gets
        # the same single line, then EOF, and no reset.
        with connect(d.port("iso", "tcp")) as s:
            data = evitest.transfer(s, b"what time is it?\r\n" * 500,
                                    shut_wr=True)
        time.strptime(one_crlf_line(self, data, "iso after input"),
                      ISO_FORMAT)
        # timezone = local follows the daemon's TZ.
        with connect(d.port("local", "tcp")) as s:
            line = one_crlf_line(self, recv_until_eof(s, limit=4096),
                                 "local")
        self.assertTrue(line.endswith(" +0530"), line)
        when = datetime.datetime.strptime(line, ISO_FORMAT + " %z")
        self.assert_now(when.timestamp(), line)

    def test_bad_format_refused(self):
        tmp = self.tempdir()
        conf = tmp.join("daytime.conf")
        # Empty, two lines, and 254 characters (one over the limit).
        for fmt in ('""', '"%n"', '"%Y%n%m"', '"%s"' % ("x" * 254),
                    '"%s"' % ("%Y" * 100)):
            with self.subTest(format=fmt):
                rc, out, err = evitest.run_check("""\
                    # a daytime whose format gives no usable line
                    service daytime {
                        listen = 127.0.0.1:0
                        module = daytime
                        format = %s
                    }
                    """ % fmt, path=conf)
                self.assertEqual(rc, 1, out + err)
                self.assertNotIn("configuration OK", out)
                self.assertRegex(err, r'(?m)^%s:\d+: .*"daytime".*\bformat\b'
                                 % re.escape(conf))
        # The longest line the message allows is accepted.
        rc, out, err = evitest.run_check("""\
            service daytime {
                listen = 127.0.0.1:0
                module = daytime
                format = "%s"
            }""" % ("x" * 253), path=conf)
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)


# time, RFC 868.

TIME_CONF = """\
service time {
    listen = %s
    module = time
}
service time-udp {
    listen = %s
    protocol = udp
    module = time
}
""" % (LISTEN, LISTEN)


class TestTime(evitest.TestCase):

    def test_time(self):
        d = self.daemon(TIME_CONF)
        for service, proto in (("time", "tcp"), ("time-udp", "udp")):
            for host, port in hosts_of(self, d, service, proto):
                with self.subTest(service=service, host=host):
                    if proto == "tcp":
                        with connect(port, host) as s:
                            data = recv_until_eof(s, limit=64)
                    else:
                        data = udp_ask(host, port, b"")
                    self.assertEqual(len(data), 4, repr(data))
                    diff = rfc868_diff(time_value(data), rfc868_now())
                    self.assertLessEqual(abs(diff), 2, "time is %+d s off"
                                         % diff)
        # A client that sends something first still gets 4 bytes, EOF.
        with connect(d.port("time", "tcp")) as s:
            data = evitest.transfer(s, b"\0" * 100000, shut_wr=True)
        self.assertEqual(len(data), 4, repr(data))
        self.assertLessEqual(abs(rfc868_diff(time_value(data),
                                             rfc868_now())), 2)


# qotd, RFC 865.

QUOTES = [
    "The first quote.\n",
    "The second quote,\non two lines.\n",
    "Third: exactly 511 bytes with CR LF.\n" + "z" * 471 + "\n",
]
assert len(crlf(QUOTES[2])) == 511


def qotd_conf(path, order="rotate"):
    return """\
service qotd {
    listen = %(l)s
    module = qotd
    file = %(p)s
    order = %(o)s
}
service qotd-udp {
    listen = %(l)s
    protocol = udp
    module = qotd
    file = %(p)s
    order = %(o)s
}
""" % {"l": LISTEN, "p": path, "o": order}


class TestQotd(evitest.TestCase):

    def quotes_file(self, tmp):
        # One quote per paragraph.  Extra blank lines, and lines that end
        # in CR LF in the file, must not change what is served.
        text = ("\n" + QUOTES[0] + "\n\n" +
                QUOTES[1].replace("\n", "\r\n", 1) + "\r\n" +
                QUOTES[2])
        return write_bytes(tmp.join("quotes.txt"), text.encode("ascii"))

    def test_tcp_rotates(self):
        path = self.quotes_file(self.tempdir())
        d = self.daemon(qotd_conf(path))
        addrs = hosts_of(self, d, "qotd", "tcp")
        want = [crlf(q) for q in QUOTES]
        for i in range(2 * len(QUOTES)):
            host, port = addrs[i % len(addrs)]
            with self.subTest(n=i, host=host), connect(port, host) as s:
                data = recv_until_eof(s, limit=4096)
                self.assertEqual(data, want[i % len(want)])
                self.assertLess(len(data), 512)

    def test_udp(self):
        path = self.quotes_file(self.tempdir())
        d = self.daemon(qotd_conf(path))
        addrs = hosts_of(self, d, "qotd-udp", "udp")
        want = [crlf(q) for q in QUOTES]
        for i in range(len(QUOTES) + 1):
            host, port = addrs[i % len(addrs)]
            reply = udp_ask(host, port, b"")
            self.assertEqual(reply, want[i % len(want)])
            self.assertLess(len(reply), 512)

    def test_random_order_serves_quotes(self):
        path = self.quotes_file(self.tempdir())
        d = self.daemon(qotd_conf(path, order="random"))
        want = set(crlf(q) for q in QUOTES)
        host, port = hosts_of(self, d, "qotd", "tcp")[0]
        with connect(port, host) as s:
            self.assertIn(recv_until_eof(s, limit=4096), want)
        host, port = hosts_of(self, d, "qotd-udp", "udp")[0]
        self.assertIn(udp_ask(host, port), want)

    def test_long_quote_refused(self):
        tmp = self.tempdir()
        conf = tmp.join("evinetd.conf")
        cases = [
            # (quotes file, line of the bad quote)
            ("short\n\n" + "x" * 600 + "\n", 3),
            ("short\n\nfirst line\n" + "y" * 520 + "\nlast\n\nok\n", 3),
            # 510 characters are 512 with CR LF: one too many.
            ("a\n\nb\n\n\n" + "w" * 510 + "\n", 6),
            ("\n".join(["l" * 98] * 6) + "\n", 1),    # 600 with CR LF
        ]
        for text, line in cases:
            with self.subTest(line=line, size=len(text)):
                quotes = write_bytes(tmp.join("quotes.txt"),
                                     text.encode("ascii"))
                rc, out, err = evitest.run_check(qotd_conf(quotes),
                                                 path=conf)
                self.assertEqual(rc, 1, out + err)
                self.assertNotIn("configuration OK", out)
                self.assertIn("%s:%d:" % (quotes, line), err)
                self.assertRegex(err, r"(?m)^%s:\d+: " % re.escape(conf))

    def test_unusable_file_refused(self):
        tmp = self.tempdir()
        conf = tmp.join("evinetd.conf")
        empty = write_bytes(tmp.join("empty.txt"), b"\n \n\t\n")
        missing = tmp.join("missing.txt")
        for path, why in ((empty, "no quotes"),
                          (missing, "No such file or directory")):
            with self.subTest(why=why):
                rc, out, err = evitest.run_check(qotd_conf(path), path=conf)
                self.assertEqual(rc, 1, out + err)
                self.assertRegex(err, r"(?m)^%s:\d+: .*%s: %s" % (
                    re.escape(conf), re.escape(path), why))

    def test_relative_file_is_next_to_config(self):
        # The daemon's cwd holds a decoy quotes.txt: the module must read
        # the one next to the config file.
        decoy = self.tempdir()
        write_bytes(decoy.join("quotes.txt"), b"Wrong file.\n")
        good = "Right file.\n"
        conf = """\
            service qotd {
                listen = 127.0.0.1:0
                module = qotd
                file = quotes.txt
            }"""
        with Cwd(decoy.path):
            d = self.daemon(conf, files={"quotes.txt": good})
            self.assertNotEqual(os.path.dirname(d.conf_path), os.getcwd())
            rc, out, err = evitest.run_evinetd(
                ["-n", "-f", d.conf_path, "-M", evitest.MODULE_DIR])
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)
        with connect(d.port("qotd", "tcp")) as s:
            self.assertEqual(recv_until_eof(s, limit=4096), crlf(good))


# echo, RFC 862: the largest UDP datagram.

class TestEchoUdp(evitest.TestCase):

    def test_largest_datagram(self):
        d = self.daemon("""\
            service echo-udp {
                listen = 127.0.0.1:0
                protocol = udp
                module = echo
            }""")
        data = os.urandom(65507)
        self.assertEqual(udp_ask("127.0.0.1", d.port("echo-udp", "udp"),
                                 data), data)


# The reflection guard (daemon/dgram.c).

DROPPED_RE = (r'^service "%s": dropped (\d+) datagrams? \(reflection '
              r'guard\), last from %s: privileged source port$')


needs_root = unittest.skipUnless(
    os.geteuid() == 0, "needs root to send from a source port below 1024")


class TestReflectionGuard(evitest.TestCase):

    def guard_conf(self, guard):
        extra = "" if guard is None else "reflection_guard = %s" % guard
        conf = """\
            service guard4 {
                listen = 127.0.0.1:0
                protocol = udp
                module = echo
                %s
            }
            """ % extra
        if HAVE_IPV6:
            conf += """\
            service guard6 {
                listen = [::1]:0
                protocol = udp
                module = echo
                %s
            }
            """ % extra
        return conf

    def targets(self, d):
        t = [("guard4", "127.0.0.1", d.port("guard4", "udp"))]
        if HAVE_IPV6:
            t.append(("guard6", "::1", d.port("guard6", "udp")))
        return t

    @needs_root
    def test_privileged_port_dropped(self):
        d = self.daemon(self.guard_conf(None),
                        expect=[DROPPED_RE % (r"guard[46]", r"\S+")])
        for service, host, port in self.targets(d):
            with self.subTest(host=host):
                s = bind_privileged_udp(host)
                if s is None:
                    self.skipTest("no free UDP port below 1024 on %s" % host)
                with s:
                    src = s.getsockname()[1]
                    mark = d.mark()
                    s.sendto(b"loop?", (host, port))
                    shown = ("[%s]:%d" if ":" in host else "%s:%d") % (
                        host, src)
                    m = d.wait_log(DROPPED_RE % (service, re.escape(shown)),
                                   since=mark)
                    self.assertEqual(m.group(1), "1")
                    assert_no_datagram(self, [s], "guarded %s from port %d"
                                       % (service, src))
                # A client on an ordinary port is answered.
                self.assertEqual(udp_ask(host, port, b"hello"), b"hello")

    def test_port_1024_answered(self):
        # The first unprivileged port is an ordinary client's.
        d = self.daemon(self.guard_conf(None))
        try:
            s = udp_socket("127.0.0.1", 1024)
        except OSError:
            self.skipTest("UDP port 1024 on 127.0.0.1 is in use")
        with s:
            s.sendto(b"edge", ("127.0.0.1", d.port("guard4", "udp")))
            self.assertEqual(udp_recv(s)[0], b"edge")

    @needs_root
    def test_guard_off_answers_privileged_port(self):
        d = self.daemon(self.guard_conf("no"))
        for service, host, port in self.targets(d):
            with self.subTest(host=host):
                s = bind_privileged_udp(host)
                if s is None:
                    self.skipTest("no free UDP port below 1024 on %s" % host)
                with s:
                    s.sendto(b"answer me", (host, port))
                    data, src = udp_recv(s)
                    self.assertEqual((data, src), (b"answer me",
                                                   (host, port)))


# The quick-start config.

class TestQuickstart(evitest.TestCase):

    def test_check_quickstart(self):
        path = os.path.join(TOP_SRCDIR, "conf", "quickstart.conf")
        rc, out, err = evitest.run_evinetd(["-n", "-f", path, "-M",
                                            evitest.MODULE_DIR])
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", out)


if __name__ == "__main__":
    evitest.main()
