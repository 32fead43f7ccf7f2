"""Apache 2.4 with mod_fcgid spawning sse-fcgi, configured by the shipped
examples/apache-fcgid.conf: delivery without buffering, the response head,
heartbeats, framing, 400 and 405 from the worker, one process per stream,
and a client that leaves is noticed."""

import os
import re
import sys

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402
import server_checks  # noqa: E402
import servers  # noqa: E402

P = "/sse"


def setup():
    # no heartbeat during these tests: nothing but events is ever written,
    # so an event that arrives was not held back waiting for more output
    return servers.ApacheFcgid("apache-fcgid", heartbeat=300)


def test_one_process_per_stream(gw):
    """mod_fcgid gives a process one request at a time, so every open
    stream has a process of its own (the trade-off the example explains)."""
    cs = [gw.stream(P + "?key=procs") for _ in range(3)]
    try:
        gw.wait_live(cs, "procs")
        busy = [pid for pid in gw.worker_pids() if streams_of(gw, pid) == 1]
        check(len(busy) >= 3, "3 streams, 3 worker processes each with "
              "one stream connection: %r" % {p: streams_of(gw, p)
                                              for p in gw.worker_pids()})
        check(all(streams_of(gw, p) <= 1 for p in gw.worker_pids()),
              "no process holds two streams")
        gw.push_ok(["procs", "to all three"])
        for c in cs:
            eq(c.wait_for_events(1)[0].data, "to all three", c.path)
    finally:
        for c in cs:
            c.close()


def streams_of(gw, pid):
    """Connected unix stream sockets a worker holds for requests: its
    FastCGI connections from mod_fcgid (the listening socket, fd 0, and
    ZeroMQ's sockets are not counted: see connections())."""
    return len(connections(pid, os.path.join(gw.fcgid_dir(), "")))


def connections(pid, ipcdir):
    """Inodes of the accepted FastCGI connections of worker pid: unix
    sockets in /proc/net/unix whose path is mod_fcgid's socket, in the
    connected state, that pid holds (the listening one is state 01)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", link)
            if m:
                inodes.add(m.group(1))
    except OSError:
        return []
    out = []
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]
            if len(parts) >= 8 and parts[6] in inodes and \
                    parts[7].startswith(ipcdir) and parts[5] == "03":
                out.append(parts[6])
    return out


def test_heartbeat_and_client_that_leaves():
    with servers.ApacheFcgid("apache-fcgid-beat", heartbeat=1) as gw:
        server_checks.heartbeat(gw, P)
        cs = [gw.stream(P + "?key=leaver") for _ in range(3)]
        gw.wait_live(cs, "leaver")
        pids = gw.worker_pids()
        # Apache notices a gone client when it next writes to it (the
        # heartbeat, 1 s), then mod_fcgid closes its connection to the
        # worker, which reads end of file and drops the stream
        server_checks.close_and_wait_gone(gw, cs)
        check(harness.wait_until(
            lambda: all(streams_of(gw, p) == 0 for p in gw.worker_pids()), 10),
            "the workers hold no stream connection afterwards: %r" %
            {p: streams_of(gw, p) for p in gw.worker_pids()})
        # the processes are idle again and serve the next stream
        server_checks.still_delivers(gw, P, "after-leaving")
        check(set(gw.worker_pids()) & set(pids),
              "an existing process was reused")


def test_process_limit_is_the_stream_limit():
    """FcgidMaxProcessesPerClass (SSE_MAX_STREAMS in the example) caps the
    open streams: one more waits for a process, and gets mod_fcgid's 503
    after about a minute; once a stream ends, its process serves the
    next."""
    with servers.ApacheFcgid("apache-fcgid-max", heartbeat=1,
                             defines={"SSE_MAX_STREAMS": "2"}) as gw:
        a = gw.stream(P + "?key=max-a")
        b = gw.stream(P + "?key=max-b")
        extra = harness.SSEClient(gw.port, P + "?key=max-c")
        try:
            eq(len(gw.worker_pids()), 2, "two worker processes")
            st = extra.wait_status(120)
            eq(st, 503, "a third stream with two processes (body %r)" %
               extra.body[:80])
            check(b"event-stream" not in (extra.header("Content-Type") or
                                          "").encode(), "not a stream")
            eq(len(gw.worker_pids()), 2, "still two worker processes")
            # a stream that ends frees its process for the next one
            server_checks.close_and_wait_gone(gw, [a])
            server_checks.still_delivers(gw, P, "max-d")
        finally:
            for c in (a, b, extra):
                c.close()


def test_shipped_timeouts_outlast_heartbeat_and_lifetime():
    """What cannot be waited for in a test (FcgidBusyTimeout kills after
    minutes): the shipped values keep a stream alive by its heartbeat and
    end it by its lifetime before mod_fcgid would kill it."""
    with open(os.path.join(servers.EXAMPLES, "apache-fcgid.conf")) as f:
        text = f.read()

    def value(pattern):
        m = re.findall(r"(?m)^\s*" + pattern + r"\s+(\d+)\s*$", text)
        eq(len(m), 1, "one %s line" % pattern)
        return int(m[0])
    eq(value("FcgidOutputBufferSize"), 0, "FcgidOutputBufferSize")
    heartbeat = value("Define SSE_HEARTBEAT")
    lifetime = value("FcgidInitialEnv SSE_LIFETIME")
    check(value("FcgidIOTimeout") >= 4 * heartbeat,
          "FcgidIOTimeout leaves room for several heartbeats")
    check(value("FcgidBusyTimeout") > lifetime,
          "FcgidBusyTimeout longer than SSE_LIFETIME")


def test_still_delivers_after_everything(gw):
    server_checks.still_delivers(gw, P, "after")


if __name__ == "__main__":
    harness.run(server_checks.common_tests(P) + [
        test_one_process_per_stream,
        test_heartbeat_and_client_that_leaves,
        test_process_limit_is_the_stream_limit,
        test_shipped_timeouts_outlast_heartbeat_and_lifetime,
        test_still_delivers_after_everything,
    ], setup, server=("apache2 with mod_fcgid",
                      servers.apache_with("mod_fcgid.so")))
