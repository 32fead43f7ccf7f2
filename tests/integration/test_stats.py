"""Counts: sse-push --stats prints, as JSON, how many streams are open in
all, per worker and per key (or for one key), from the reports the workers
send the broker every two seconds."""

import json
import os
import sys

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402


def setup():
    return harness.Gateway("stats", heartbeat=1)


def stats(gw, key=None):
    rc, out, err = gw.push(["--stats"] + ([key] if key else []))
    eq(rc, 0, "exit status (stderr %r)" % err)
    return json.loads(out.decode())


def wait_stats(gw, pred, key=None):
    got = {}

    def ok():
        got["s"] = stats(gw, key)
        return pred(got["s"])
    harness.wait_until(ok, 15, interval=0.3)
    return got["s"]


def test_counts_per_key_and_worker(gw):
    streams = [gw.stream("/sse?key=st-a&key=st-all") for _ in range(3)]
    streams += [gw.stream("/sse?key=st-b&key=st-all") for _ in range(2)]
    try:
        s = wait_stats(gw, lambda s: s["keys"].get("st-all") == 5)
        eq(s["keys"].get("st-a"), 3, "st-a")
        eq(s["keys"].get("st-b"), 2, "st-b")
        eq(s["keys"].get("st-all"), 5, "st-all")
        check(s["streams"] >= 5, "total %r" % s["streams"])
        eq(sum(w["streams"] for w in s["workers"]), s["streams"],
           "the workers add up")
        one = stats(gw, "st-b")
        eq((one["key"], one["streams"]), ("st-b", 2), "one key")
        eq(sum(w["streams"] for w in one["workers"]), 2, "per worker")
        eq(stats(gw, "st-none")["streams"], 0, "a key nobody holds")
    finally:
        for c in streams:
            c.close()
    s = wait_stats(gw, lambda s: "st-all" not in s["keys"])
    check("st-all" not in s["keys"], "closed streams leave the counts: %r"
          % s)


def test_status_page_is_off_by_default(gw):
    c = harness.http_request(gw.port, "GET", "/sse?mode=status")
    eq(c.status, 404, "status")
    eq(c.body, b"the status page is off\n", "reason")


def test_status_page_when_enabled():
    with harness.Gateway("stats_page", heartbeat=1,
                         env={"SSE_STATUS": "1"}) as gw:
        streams = [gw.stream("/sse?key=pg-a") for _ in range(2)]
        try:
            def counted():
                c = harness.http_request(gw.port, "GET", "/sse?mode=status")
                eq(c.status, 200, "status (body %r)" % c.body)
                eq(c.header("content-type"), "application/json", "type")
                return json.loads(c.body.decode())["keys"].get("pg-a") == 2
            check(harness.wait_until(counted, 15, interval=0.3),
                  "the page counts the streams")
            c = harness.http_request(gw.port, "GET",
                                     "/sse?mode=status&key=pg-a")
            one = json.loads(c.body.decode())
            eq((one["key"], one["streams"]), ("pg-a", 2), "one key")
            c = harness.http_request(gw.port, "GET",
                                     "/sse?mode=status&key=a&key=b")
            eq(c.status, 400, "two keys")
        finally:
            for c in streams:
                c.close()


def test_stats_usage_and_no_broker(gw):
    rc, out, err = gw.push(["--stats", "--all"])
    eq(rc, 64, "--stats with --all")
    rc, out, err = gw.push(["--stats", "bad key"])
    eq(rc, 65, "a bad key")
    rc, out, err = gw.push(["--stats", "--push-endpoint",
                            "ipc://" + gw.rundir + "/none.sock"])
    eq(rc, 69, "no broker")


if __name__ == "__main__":
    harness.run([
        test_counts_per_key_and_worker,
        test_stats_usage_and_no_broker,
        test_status_page_is_off_by_default,
        test_status_page_when_enabled,
    ], setup=setup)
