"""The demo as the README's quick start runs it: scripts/demo with the
shipped lighttpd.conf (two lighttpd processes, two workers, the broker).
A stream opens, an event published with sse-push arrives with its exact
bytes, and SIGTERM to the script stops every process it started, by pid,
although lighttpd signals its own process group when it stops."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

DEMO = os.path.join(harness.SRCDIR, "scripts", "demo")


def count(pids, program):
    return sum(1 for pid in pids if harness.proc_program(pid) == program)


def test_demo_serves_and_stops_everything():
    rundir = tempfile.mkdtemp(prefix="sse-demo-",
                              dir=os.path.join(harness.BUILDDIR, "tests"))
    port = harness.free_port()
    env = dict(os.environ, SSE_BUILDDIR=harness.BUILDDIR,
               SSE_SRCDIR=harness.SRCDIR, SSE_PORT=str(port),
               SSE_RUNDIR=rundir, SSE_HEARTBEAT="15")
    demo = subprocess.Popen(["/bin/sh", DEMO], env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    c = None
    try:
        def serving():
            try:
                return harness.http_request(port, "GET", "/",
                                            timeout=1).status == 200
            except (OSError, AssertionError):
                return False
        check(harness.wait_until(serving, harness.START_TIMEOUT),
              "the demo page is served on port %d" % port)
        procs = harness.pids_mentioning([rundir.encode()])
        eq(count(procs, "lighttpd"), 3,
           "lighttpd: a parent and server.max-worker 2 processes")
        eq(count(procs, "sse-fcgi"), 2, "workers (max-procs 2)")
        eq(count(procs, "sse-broker"), 1, "broker")
        c = harness.SSEClient(port, "/sse?key=demo")
        c.wait_ok()
        p = subprocess.run([harness.SSE_PUSH, "-i", "7", "demo", "3 unread"],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        eq(p.returncode, 0, "sse-push (stderr %r)" % p.stderr)
        body = c.wait_body(lambda b: b"data: 3 unread\n\n" in b)
        check(b"\n\nid: 7\ndata: 3 unread\n\n" in body,
              "the event's bytes: %r" % body)
    finally:
        if c is not None:
            c.close()
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(harness.STOP_TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        err = demo.stderr.read()
        demo.stderr.close()
        deadline = time.monotonic() + harness.STOP_TIMEOUT
        left = harness.pids_mentioning([rundir.encode()])
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = harness.pids_mentioning([rundir.encode()])
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(rundir, ignore_errors=True)
    eq(demo.returncode, 0, "the demo's exit status (stderr %r)" % err)
    eq(left, [], "processes left after the demo stopped: %s" %
       [harness.proc_cmdline(pid) for pid in left])
    for marker in harness.SANITIZER_MARKERS:
        check(marker.encode() not in err, "demo stderr: %r" % err[-2000:])


if __name__ == "__main__":
    harness.run([test_demo_serves_and_stops_everything])
