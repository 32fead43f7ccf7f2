"""Routing: keys match exactly (ZeroMQ matches by prefix), and a broadcast
reaches every stream on every key across both FastCGI workers."""

import os
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402


def setup():
    return harness.Gateway("routing")


def socket_fds(pid):
    """Number of sockets pid holds open."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) \
                        .startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def test_prefix_keys_are_isolated(gw):
    u1 = gw.stream("/sse?key=user1")
    u10 = gw.stream("/sse?key=user10")
    u = gw.stream("/sse?key=user")
    try:
        gw.wait_live(u1, "user1")
        gw.wait_live(u10, "user10")
        gw.wait_live(u, "user")
        gw.push_ok(["user10", "for user10"])
        gw.push_ok(["user1", "for user1"])
        gw.push_ok(["user1x", "for user1x"])
        gw.push_ok(["use", "for use"])
        # a last event on each key shows that everything before it was
        # delivered (one broker, one pipe per worker: order is kept)
        for k in ("user1", "user10", "user"):
            gw.push_ok(["-e", "end", k, "end " + k])
        e1 = u1.wait_for_events(2)
        e10 = u10.wait_for_events(2)
        eu = u.wait_for_events(1)
        time.sleep(0.3)
        eq([e.data for e in u1.real_events()], ["for user1", "end user1"],
           "user1 sees only its own")
        eq([e.data for e in u10.real_events()], ["for user10", "end user10"],
           "user10 sees only its own")
        eq([e.data for e in u.real_events()], ["end user"],
           "'user' sees neither user1 nor user10")
        del e1, e10, eu
    finally:
        for c in (u1, u10, u):
            c.close()


def test_broadcast_reaches_every_stream_on_both_workers(gw):
    workers = gw.worker_pids()
    eq(len(workers), 2, "lighttpd spawned max-procs=2 workers: %r" % workers)
    before = {p: socket_fds(p) for p in workers}
    keys = ["bc%d" % i for i in range(10)]
    cs = [gw.stream("/sse?key=%s" % k) for k in keys]
    other = gw.stream("/sse?key=bc-other")
    try:
        after = {p: socket_fds(p) for p in workers}
        for p in workers:
            check(after[p] > before[p],
                  "worker %d holds some of the 10 streams (sockets %d -> %d)"
                  % (p, before[p], after[p]))
        gw.wait_live(cs + [other], all=True)
        gw.push_ok(["--all", "-e", "announce", "maintenance at noon"])
        gw.push_ok(["bc3", "only bc3"])
        for k, c in zip(keys, cs):
            evs = c.wait_for_events(1)
            eq((evs[0].type, evs[0].data), ("announce",
                                            "maintenance at noon"), k)
        evs = other.wait_for_events(1)
        eq(evs[0].data, "maintenance at noon", "bc-other")
        cs[3].wait_for_events(2)
        time.sleep(0.3)
        for k, c in zip(keys, cs):
            want = ["maintenance at noon"] + (["only bc3"] if k == "bc3"
                                              else [])
            eq([e.data for e in c.real_events()], want, k)
    finally:
        for c in cs + [other]:
            c.close()


def test_event_for_key_with_no_streams_is_acknowledged(gw):
    rc, out, err = gw.push(["nobody-listens", "hello"])
    eq(rc, 0, "exit code (stderr %r)" % err)


if __name__ == "__main__":
    harness.run([
        test_prefix_keys_are_isolated,
        test_broadcast_reaches_every_stream_on_both_workers,
        test_event_for_key_with_no_streams_is_acknowledged,
    ], setup)
