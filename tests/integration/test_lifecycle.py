"""Stream lifecycle: sse-push --close ends a key's streams, --lifetime ends a
stream cleanly, and a client that leaves is noticed and dropped."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402


def setup():
    # lighttpd notices a client that left only when it next writes to it,
    # so the heartbeat bounds how long a gone client's stream lives
    return harness.Gateway("lifecycle", heartbeat=1)


def worker_sockets(gw):
    """Sockets held by the FastCGI workers (one per open stream, plus a
    fixed number of their own)."""
    n = 0
    for pid in gw.worker_pids():
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) \
                        .startswith("socket:"):
                    n += 1
            except OSError:
                pass
    return n


def test_close_ends_every_stream_of_the_key_only(gw):
    a1 = gw.stream("/sse?key=job1")
    a2 = gw.stream("/sse/job1")
    both = gw.stream("/sse?key=job1&key=keep1")
    other = gw.stream("/sse?key=keep1")
    try:
        gw.wait_live([a1, a2, both], "job1")
        gw.wait_live([both, other], "keep1")
        gw.push_ok(["job1", "before close"])
        gw.push_ok(["--close", "job1", "done"])
        for c in (a1, a2, both):
            evs = c.wait_for_events(2)
            eq([(e.type, e.data) for e in evs],
               [("message", "before close"), ("close", "done")], c.path)
            check(c.wait_closed(10), "%s: response ends after close" %
                  c.path)
            check(c.clean_end, "%s: the response ended cleanly (last "
                  "chunk), not by a reset: %s" % (c.path, c.error))
            eq(len(c.real_events()), 2, c.path + ": nothing after close")
        check(not other.closed, "a stream of another key stays open")
        gw.push_ok(["keep1", "still here"])
        eq(other.wait_for_events(1)[0].data, "still here", "keep1 delivery")
    finally:
        for c in (a1, a2, both, other):
            c.close()


def test_close_with_renamed_event_and_id(gw):
    c = gw.stream("/sse?key=job2")
    try:
        gw.wait_live(c, "job2")
        gw.push_ok(["--close", "-e", "finished", "-i", "99", "job2",
                    "all done"])
        evs = c.wait_for_events(1)
        eq((evs[0].type, evs[0].data, evs[0].last_event_id),
           ("finished", "all done", "99"), "renamed close event")
        check(c.wait_closed(10) and c.clean_end, "stream ended cleanly")
    finally:
        c.close()


def test_key_can_be_used_again_after_close(gw):
    c = gw.stream("/sse?key=job3")
    try:
        gw.wait_live(c, "job3")
        gw.push_ok(["--close", "job3", "bye"])
        check(c.wait_closed(10), "first stream ended")
    finally:
        c.close()
    c = gw.stream("/sse?key=job3")
    try:
        gw.wait_live(c, "job3")
        gw.push_ok(["job3", "new life"])
        eq(c.wait_for_events(1)[0].data, "new life", "delivery after close")
        check(not c.closed, "the new stream is not closed by the old close")
    finally:
        c.close()


def test_close_with_no_streams_succeeds(gw):
    rc, out, err = gw.push(["--close", "nobody-here", "bye"])
    eq(rc, 0, "exit code (stderr %r)" % err)


def test_lifetime_ends_stream_cleanly():
    with harness.Gateway("lifetime", env={"SSE_LIFETIME": "2"}) as gw:
        t0 = time.monotonic()
        c = gw.stream("/sse?key=short")
        try:
            check(c.wait_closed(15), "stream ended within 15 s with "
                  "lifetime 2 s")
            took = time.monotonic() - t0
            check(took >= 1.5, "not before the lifetime (%.2fs)" % took)
            check(c.clean_end, "ended cleanly by the last chunk, not a "
                  "reset: %s" % c.error)
            eq(c.status, 200, "status")
            check(c.body.startswith(b": ok\n\n"), "body began with ': ok'")
        finally:
            c.close()
        # and the worker still serves new streams afterwards
        c = gw.stream("/sse?key=short")
        try:
            gw.wait_live(c, "short")
            gw.push_ok(["short", "again"])
            eq(c.wait_for_events(1)[0].data, "again", "new stream works")
        finally:
            c.close()


def test_disconnected_client_is_dropped(gw):
    keep = gw.stream("/sse?key=leaver")
    gw.wait_live(keep, "leaver")
    base = worker_sockets(gw)
    gone_before = gw.worker_log().count('reason="client gone"')
    leavers = [gw.stream("/sse?key=leaver") for _ in range(6)]
    try:
        gw.wait_live(leavers, "leaver")
        opened = worker_sockets(gw)
        check(opened >= base + 6, "workers hold one socket per stream "
              "(%d -> %d)" % (base, opened))
        for c in leavers:
            c.close()
        # no publishing here: the heartbeat (1 s) alone must reveal them
        ok = harness.wait_until(lambda: worker_sockets(gw) <= base, 15)
        check(ok, "workers closed the streams of gone clients within 15 s "
              "with heartbeat 1 s (sockets: %d before, %d open, %d now)" %
              (base, opened, worker_sockets(gw)))
        # publishing still works and the remaining stream still gets events
        for i in range(3):
            gw.push_ok(["leaver", "after %d" % i])
        evs = keep.wait_for_events(3)
        eq([e.data for e in evs], ["after 0", "after 1", "after 2"],
           "remaining stream")
        check(not keep.closed, "the remaining stream is still open")
        # the workers log each stream they drop, at debug level
        gone = harness.wait_until(
            lambda: gw.worker_log().count('reason="client gone"') -
            gone_before >= 6, 5)
        check(gone, "the worker log has a 'stream closed ... reason=\"client "
              "gone\"' line per stream: %r" % gw.worker_log()[-800:])
        # each such line names the stream's keys and how long it lasted
        lines = [ln for ln in gw.worker_log().splitlines() if re.search(
            r"debug: stream closed stream=\d+ keys=leaver duration=\d+\.\d{3}s"
            r" events=\d+ reason=\"client gone\"", ln)]
        check(len(lines) >= 6, "close lines carry level, keys and duration: "
              "%r" % gw.worker_log()[-800:])
    finally:
        keep.close()
        for c in leavers:
            c.close()


if __name__ == "__main__":
    harness.run([
        test_close_ends_every_stream_of_the_key_only,
        test_close_with_renamed_event_and_id,
        test_key_can_be_used_again_after_close,
        test_close_with_no_streams_succeeds,
        test_disconnected_client_is_dropped,
        test_lifetime_ends_stream_cleanly,
    ], setup)
