#!/usr/bin/env python3
"""The counters the supervisor shares with its workers (stats.c), seen
from both sides of the privilege boundary.

A worker is where a client's bytes meet module code, so the audit of
issue 18 treats it as possibly hostile.  The test module scribble.so does
what a module taken over by a client could do: it overwrites every shared
writable mapping of its process.  The supervisor must not care: it keeps
the layout of that memory to itself and never reads a size or count from
it, so it survives a reload (which unmaps the old generation's counters)
and a worker restart (which zeroes the dead worker's counters), and keeps
serving.

After a reload, max_connections (per service and in total) and
per_source count the connections the draining generation still has, so a
limit of 2 means 2 while old clients finish.

Every wait is bounded and learns what it waits for from the daemon's
log, /proc or a connection.
"""

import os
import re
import resource
import signal
import socket
import string

import evitest
import test_supervisor

from test_limits import EXPECT_REFUSALS, ClientSet, connect_from, \
    serve_soon, served, wait_refusals
from test_supervisor import echo_once, children, reload, state, \
    wait_until, worker_pids

IO = evitest.IO_TIMEOUT

HOSTILE_CONF = """
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
    }
    service hostile {
        listen = 127.0.0.1:$hostile
        module = %s
        isolate = yes
    }
    """ % os.path.join(evitest.TESTMOD_DIR, "scribble.so")

SCRIBBLED_RE = re.compile(rb"^scribbled (\d+) mappings, (\d+) bytes\n$")


def scribble(test, port):
    """Has the hostile worker overwrite all its shared memory; asserts it
    found some: the daemon-wide figures and its generation's counters."""
    with evitest.connect(port) as s:
        s.sendall(b"scribble\n")
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(256)
            test.assertTrue(chunk, "EOF after %r" % line)
            line += chunk
    m = SCRIBBLED_RE.match(line)
    test.assertIsNotNone(m, line)
    test.assertGreaterEqual(int(m.group(1)), 2, line)
    test.assertGreater(int(m.group(2)), 0, line)


def wait_settled(test, d, nworkers):
    """Waits until the supervisor has reaped all but NWORKERS workers (a
    drained generation is freed in the same callback), or has died; then
    asserts it still runs and answers SIGUSR1.  Returns state()."""
    wait_until(lambda: not d.running() or
               len(children(d.pid, zombies=True)) == nworkers, IO,
               "the old generation to be reaped")
    test.assertTrue(d.running(), "the supervisor died:\n" + d.log_text())
    return state(d, nworkers)


class TestHostileWorker(test_supervisor.SupervisorCase):
    """Generation 2 (start_pinned reloads once) is the one scribbled on."""

    def test_a_restart_and_a_reload_after_a_worker_scribbled_counters(self):
        killed = (r"^worker (\d+) \(generation 2, shared\) killed by signal "
                  r"9 \(Killed\)$")
        d, ports = self.start_pinned(HOSTILE_CONF, ["echo", "hostile"],
                                     expect=[killed])
        (victim,) = worker_pids(d, 2, "shared")
        scribble(self, ports["hostile"])
        # A restarted worker starts from the supervisor's layout, not from
        # the garbage, and serves.
        mark = d.mark()
        os.kill(victim, signal.SIGKILL)
        d.wait_log(killed, since=mark)
        d.wait_log(r"^restarting worker of generation 2 \(shared\) in "
                   r"100 ms$", since=mark)
        self.assertEqual(echo_once(ports["echo"], b"after restart"),
                         b"after restart")
        (worker,) = worker_pids(d, 2, "shared")
        self.assertNotEqual(worker, victim)
        # A reload frees generation 2 and its scribbled counters.
        reload(d)
        summary, workers = wait_settled(self, d, 2)
        self.assertEqual(sorted((g, n) for (g, _, n, _) in workers),
                         [(3, "hostile"), (3, "shared")])
        self.assertRegex(summary, r", 2 workers, reloads 2 ok 0 failed, "
                         r"worker restarts 1$")
        self.assertEqual(echo_once(ports["echo"], b"after reload"),
                         b"after reload")
        self.assertEqual(d.stop(), 0)
        self.assertEqual(
            [l for l in d.log_lines() if re.search(killed, l)],
            ["worker %d (generation 2, shared) killed by signal 9 (Killed)"
             % victim])

    def test_a_reload_after_a_worker_scribbled_counters(self):
        d, ports = self.start_pinned(HOSTILE_CONF, ["echo", "hostile"])
        scribble(self, ports["hostile"])
        reload(d)
        wait_settled(self, d, 2)
        self.assertEqual(echo_once(ports["hostile"], b"hi"), b"hi")
        self.assertEqual(echo_once(ports["echo"], b"hi"), b"hi")
        self.assertEqual(d.stop(), 0)


# Limits while a reload drains.

LIMIT_CONF = """
    drain_timeout = 20s
    refuse_banner = busy
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
        max_connections = 2
    }
    """

GLOBAL_CONF = """
    drain_timeout = 20s
    refuse_banner = busy
    max_connections = 2
    service a {
        listen = 127.0.0.1:$a
        module = echo
    }
    service b {
        listen = 127.0.0.1:$b
        module = echo
    }
    """


PER_SOURCE_CONF = """
    drain_timeout = 20s
    refuse_banner = busy
    service echo {
        listen = 127.0.0.1:$echo
        module = echo
        per_source = 2
    }
    """


def assert_busy(test, port, what, src=None):
    """A client (from the address SRC) is refused with the banner, not
    served."""
    with (evitest.connect(port) if src is None else
          connect_from(port, src)) as s:
        try:
            got = evitest.recv_until_eof(s, timeout=5.0)
        except socket.timeout:
            test.fail("%s: served instead of refused" % what)
    test.assertEqual(got, b"busy\r\n", what)


class TestDrainLimits(test_supervisor.SupervisorCase):

    def hold(self, port, n):
        held = ClientSet(self)
        for i in range(n):
            self.assertTrue(served(held.add(evitest.connect(port))),
                            "client %d of %d not served" % (i + 1, n))
        return held

    def fill_again(self, first, second, third):
        """Once the old clients are gone: a client of port FIRST is
        served (soon: their close is asynchronous), then one of SECOND,
        and one more, of THIRD, is refused.  Returns (the served clients,
        the refusals on the way)."""
        s, tries, _ = serve_soon(self, lambda: evitest.connect(first))
        new = ClientSet(self)
        new.add(s)
        self.assertTrue(served(new.add(evitest.connect(second))))
        assert_busy(self, third, "a client over the limit again")
        return new, tries

    def test_service_limit_counts_the_draining_generation(self):
        d, ports = self.start_pinned(LIMIT_CONF, ["echo"],
                                     expect=EXPECT_REFUSALS)
        port = ports["echo"]
        held = self.hold(port, 2)
        mark = d.mark()
        reload(d)
        # Generation 2 drains with both clients; generation 3 counts them.
        assert_busy(self, port, "third client")
        assert_busy(self, port, "fourth client")
        d.wait_log(r'^service "echo": refused 1 connection '
                   r'\(max_connections\), last from 127\.0\.0\.1:\d+: '
                   r'service max_connections reached$', since=mark)
        wait_refusals(self, d, "echo", "max_connections", 2, since=mark)
        for s in held.socks:
            self.assertTrue(served(s), "a draining client lost service")
        # Once they leave, their places serve new clients, two of them.
        held.close()
        d.wait_log(r"^all connections finished$", since=mark)
        new, tries = self.fill_again(port, port, port)
        wait_refusals(self, d, "echo", "max_connections", 3 + tries,
                      since=mark)
        new.close()
        self.assertEqual(d.stop(), 0)

    def test_global_limit_counts_the_draining_generation(self):
        d, ports = self.start_pinned(GLOBAL_CONF, ["a", "b"],
                                     expect=EXPECT_REFUSALS)
        held = self.hold(ports["a"], 2)
        mark = d.mark()
        reload(d)
        assert_busy(self, ports["b"], "a client of b")
        assert_busy(self, ports["a"], "a third client of a")
        d.wait_log(r'^service "b": refused 1 connection \(max_connections\)'
                   r', last from 127\.0\.0\.1:\d+: global max_connections '
                   r'reached$', since=mark)
        held.close()
        d.wait_log(r"^all connections finished$", since=mark)
        new, tries = self.fill_again(ports["b"], ports["a"], ports["a"])
        wait_refusals(self, d, "b", "max_connections", 1 + tries,
                      since=mark)
        wait_refusals(self, d, "a", "max_connections", 2, since=mark)
        new.close()
        self.assertEqual(d.stop(), 0)

    def test_per_source_counts_the_draining_generation(self):
        d, ports = self.start_pinned(PER_SOURCE_CONF, ["echo"],
                                     expect=EXPECT_REFUSALS)
        port = ports["echo"]
        held = ClientSet(self)
        for i in range(2):
            self.assertTrue(served(held.add(connect_from(port, "127.0.0.2"))),
                            "client %d of 127.0.0.2 not served" % (i + 1))
        mark = d.mark()
        reload(d)
        # Generation 2 publishes its clients when told to drain, before it
        # says it waits for them; generation 3 counts them from then on.
        d.wait_log(r"^stopping: waiting up to \d+ ms for 2 connections$",
                   since=mark)
        assert_busy(self, port, "a third client of 127.0.0.2", "127.0.0.2")
        d.wait_log(r'^service "echo": refused 1 connection \(per_source\), '
                   r'last from 127\.0\.0\.2:\d+: per_source connections '
                   r'reached$', since=mark)
        new = ClientSet(self)
        self.assertTrue(served(new.add(connect_from(port, "127.0.0.3"))),
                        "another client was refused")
        for s in held.socks:
            self.assertTrue(served(s), "a draining client lost service")
        # Each close updates what generation 2 published, before its last
        # one says all are finished: then 127.0.0.2 has two places again.
        held.close()
        d.wait_log(r"^all connections finished$", since=mark)
        for i in range(2):
            self.assertTrue(served(new.add(connect_from(port, "127.0.0.2"))),
                            "client %d of 127.0.0.2 not served again" % (
                                i + 1))
        assert_busy(self, port, "127.0.0.2 over the limit again",
                    "127.0.0.2")
        wait_refusals(self, d, "echo", "per_source", 2, since=mark)
        new.close()
        self.assertEqual(d.stop(), 0)

    def test_a_killed_draining_worker_no_longer_counts(self):
        killed = (r"^worker (\d+) \(generation 2, shared\) killed by signal "
                  r"9 \(Killed\)$")
        d, ports = self.start_pinned(LIMIT_CONF, ["echo"],
                                     expect=EXPECT_REFUSALS + [killed])
        port = ports["echo"]
        held = self.hold(port, 2)
        mark = d.mark()
        reload(d)
        # Generation 2 says it drains once its listener is detached: from
        # then on only generation 3 can take the third client.  Before
        # that, generation 2 could, and its refusal raced the kill below
        # (under valgrind the line was missing 1 run in 3).
        d.wait_log(r"^stopping: waiting up to \d+ ms for 2 connections$",
                   since=mark)
        assert_busy(self, port, "third client")
        _, workers = state(d, 2)
        (old,) = [pid for (g, pid, _, draining) in workers if draining]
        # Its connections die with it, uncounted by anyone: the supervisor
        # zeroes a dead worker's counters.
        os.kill(old, signal.SIGKILL)
        d.wait_log(killed, since=mark)
        new, tries = self.fill_again(port, port, port)
        wait_refusals(self, d, "echo", "max_connections", 2 + tries,
                      since=mark)
        held.close()
        new.close()
        self.assertEqual(d.stop(), 0)


class TestReloadWithoutMemory(evitest.TestCase):
    """A reload whose generation cannot get its shared memory (here the
    per_source tables, 3 MiB each, under an address-space limit put on
    the running supervisor) fails like any other reload: the supervisor
    says why and the old generation serves on.  It used to be fatal()."""

    def test_a_reload_that_cannot_map_fails_and_the_old_serves_on(self):
        if evitest.under_valgrind():
            self.skipTest("valgrind maps its own memory in the process")
        d = self.daemon(string.Template(PER_SOURCE_CONF).substitute(
            echo=0), expect=[r"^reload failed: cannot map "])
        port = d.port("echo")
        d.tmp.write("evinetd.conf", string.Template(
            PER_SOURCE_CONF).substitute(echo=port))
        with open("/proc/%d/status" % d.pid) as f:
            vm = int(re.search(r"VmSize:\s+(\d+) kB", f.read()).group(1))
        soft, hard = resource.prlimit(d.pid, resource.RLIMIT_AS)
        # Room for the config and its trial init, not for a 3 MiB table.
        resource.prlimit(d.pid, resource.RLIMIT_AS,
                         ((vm + 1536) * 1024, hard))
        try:
            line = test_supervisor.reload(d, ok=False)
        finally:
            resource.prlimit(d.pid, resource.RLIMIT_AS, (soft, hard))
        self.assertRegex(line, r"^reload failed: cannot map \d+ bytes for "
                         r"service \"echo\"'s per_source table: Cannot "
                         r"allocate memory; generation 1 serves on$")
        with evitest.connect(port) as s:
            self.assertEqual(evitest.transfer(s, b"x"), b"x")
        self.assertRegex(test_supervisor.reload(d),
                         r"^reload: generation \d+ serving ")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    evitest.main()
