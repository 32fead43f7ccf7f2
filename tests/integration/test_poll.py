"""Polling fallback for clients without EventSource: /sse?key=K&mode=poll
answers once in JSON with the events after lastEventId (from history), or
waits for the next one (long poll), and always says where to go on from,
so polling in a loop loses nothing."""

import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402


def setup():
    return harness.Gateway("poll", heartbeat=300,
                           env={"SSE_POLL_TIMEOUT": "10"})


def poll(gw, query, timeout=10.0):
    c = harness.http_request(gw.port, "GET", "/sse?" + query,
                             timeout=timeout)
    eq(c.status, 200, "status of %s (body %r)" % (query, c.body))
    eq(c.header("content-type"), "application/json", "content type")
    return json.loads(c.body.decode())


def point(gw, key):
    """A lastEventId for key at once: publish a marker, then poll from an
    id that is not kept, which answers right away with what is kept."""
    gw.push_ok([key, "marker"])
    return poll(gw, "key=%s&mode=poll&lastEventId=x" % key)["lastEventId"]


def test_events_after_an_id_come_as_json(gw):
    gw.push_ok(["-i", "p1", "pk", "one"])
    gw.push_ok(["-e", "tick", "pk", 'two\nlines "quoted"'])
    gw.push_ok(["other", "not mine"])
    r = poll(gw, "key=pk&mode=poll&lastEventId=p1")
    eq([(e["event"], e["data"]) for e in r["events"]],
       [("tick", 'two\nlines "quoted"')], "events after p1")
    check(r["events"][0]["id"].isdigit(), "a broker id")
    eq(r["lastEventId"], r["events"][-1]["id"], "where to go on from")
    eq(r["missed"], False, "missed")


def test_long_poll_waits_for_the_next_event(gw):
    since = point(gw, "pk2")
    threading.Timer(0.5, gw.push_ok, [["pk2", "later"]]).start()
    t0 = time.monotonic()
    r = poll(gw, "key=pk2&mode=poll&lastEventId=" + since, timeout=20)
    eq([e["data"] for e in r["events"]], ["later"], "the next event")
    check(time.monotonic() - t0 < 8, "answered as it came, not at the "
          "10 s timeout")


def test_a_long_poll_that_sees_nothing_answers_empty(gw):
    r = poll(gw, "key=pk5&mode=poll", timeout=20)
    eq(r["events"], [], "nothing")
    check(r["lastEventId"].isdigit(), "a point to go on from: %r" %
          r["lastEventId"])


def test_polling_in_a_loop_loses_nothing_between_polls(gw):
    since = point(gw, "pk3")
    gw.push_ok(["pk3", "between polls 1"])
    gw.push_ok(["pk3", "between polls 2"])
    r = poll(gw, "key=pk3&mode=poll&lastEventId=" + since)
    eq([e["data"] for e in r["events"]], ["between polls 1",
                                          "between polls 2"],
       "what came while no poll was open")


def test_unknown_id_says_missed(gw):
    gw.push_ok(["pk4", "kept"])
    r = poll(gw, "key=pk4&mode=poll&lastEventId=never-seen")
    eq(r["missed"], True, "missed")
    eq([e["data"] for e in r["events"]], ["kept"], "what is kept")


def test_bad_mode_is_400(gw):
    c = harness.http_request(gw.port, "GET", "/sse?key=pk&mode=push")
    eq(c.status, 400, "status")
    eq(c.body, b"mode must be stream, poll or status\n", "reason")


if __name__ == "__main__":
    harness.run([
        test_events_after_an_id_come_as_json,
        test_long_poll_waits_for_the_next_event,
        test_a_long_poll_that_sees_nothing_answers_empty,
        test_polling_in_a_loop_loses_nothing_between_polls,
        test_unknown_id_says_missed,
        test_bad_mode_is_400,
    ], setup=setup)
