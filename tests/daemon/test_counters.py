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

Every wait is bounded and learns what it waits for from the daemon's
log, /proc or a connection.
"""

import os
import re
import signal

import evitest
import test_supervisor

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


if __name__ == "__main__":
    evitest.main()
