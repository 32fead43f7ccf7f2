"""Last value: a stream asking ?latest=1 starts with each key's latest
event; sse-push --if-changed skips an event equal to the key's latest one
and says so with exit status 1."""

import os
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402


def setup():
    return harness.Gateway("latest", heartbeat=300)


def test_latest_starts_with_each_keys_latest_event(gw):
    gw.push_ok(["lv-a", "a1"])
    gw.push_ok(["-e", "count", "lv-a", "a2"])
    gw.push_ok(["lv-b", "b1"])
    gw.push_ok(["lv-c", "c1"])            # not asked for
    c = gw.stream("/sse?key=lv-a&key=lv-b&key=lv-none&latest=1")
    plain = gw.stream("/sse?key=lv-a")
    try:
        evs = c.wait_for_events(2)
        eq([(e.type, e.data) for e in evs], [("count", "a2"),
                                             ("message", "b1")],
           "each key's latest, in publish order")
        gw.push_ok(["lv-a", "a3"])
        evs = c.wait_for_events(3)
        eq(evs[2].data, "a3", "then live")
        eq([e.data for e in plain.wait_for_events(1)], ["a3"],
           "a stream without latest=1 gets only what comes")
        time.sleep(0.2)
        eq(len(c.events), 3, "no duplicate")
    finally:
        c.close()
        plain.close()


def test_if_changed_skips_the_same_event(gw):
    c = gw.stream("/sse?key=lv-count")
    try:
        eq(gw.push(["--if-changed", "-e", "unread", "lv-count", "3"])[0], 0,
           "first")
        rc, out, err = gw.push(["--if-changed", "-e", "unread", "lv-count",
                                "3"])
        eq(rc, 1, "unchanged")
        check(err.count(b"\n") == 1 and b"not published" in err,
              "one line: %r" % err)
        eq(gw.push(["--if-changed", "-e", "unread", "lv-count", "4"])[0], 0,
           "changed data")
        eq(gw.push(["--if-changed", "-e", "other", "lv-count", "4"])[0], 0,
           "changed name")
        eq(gw.push(["--if-changed", "-i", "new", "-e", "other", "lv-count",
                    "4"])[0], 0, "a new id")
        eq(gw.push(["lv-count", "4"])[0], 0, "without --if-changed")
        evs = c.wait_for_events(5)
        eq([(e.type, e.data) for e in evs],
           [("unread", "3"), ("unread", "4"), ("other", "4"), ("other", "4"),
            ("message", "4")], "what was published")
        time.sleep(0.2)
        eq(len(c.events), 5, "the skipped one never arrives")
        rc, out, err = gw.push(["--if-changed", "--lines", "lv-count"],
                               stdin=b"x\n")
        eq(rc, 64, "--if-changed with --lines")
    finally:
        c.close()


if __name__ == "__main__":
    harness.run([
        test_latest_starts_with_each_keys_latest_event,
        test_if_changed_skips_the_same_event,
    ], setup=setup)
