"""Delivery through lighttpd's mod_fastcgi: one key, several streams, several
keys on one stream, the PATH_INFO form, the response head, heartbeats."""

import os
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402


def setup():
    # heartbeat 1 s so the heartbeat test is quick; the other tests ignore
    # comments
    return harness.Gateway("delivery", heartbeat=1)


def test_one_stream_gets_event(gw):
    c = gw.stream("/sse?key=alice")
    try:
        gw.wait_live(c, "alice")
        gw.push_ok(["alice", "3 unread"])
        evs = c.wait_for_events(1)
        eq(len(evs), 1, "events")
        eq(evs[0].type, "message", "type")
        eq(evs[0].data, "3 unread", "data")
        # no duplicate arrives later
        time.sleep(0.3)
        eq(len(c.real_events()), 1, "events after a pause")
    finally:
        c.close()


def test_several_streams_on_one_key_all_get_it(gw):
    cs = [gw.stream("/sse?key=shared") for _ in range(5)]
    try:
        gw.wait_live(cs, "shared")
        gw.push_ok(["-e", "unread", "shared", "7"])
        gw.push_ok(["shared", "second"])
        for i, c in enumerate(cs):
            evs = c.wait_for_events(2)
            eq([(e.type, e.data) for e in evs],
               [("unread", "7"), ("message", "second")], "stream %d" % i)
    finally:
        for c in cs:
            c.close()


def test_several_keys_on_one_stream(gw):
    c = gw.stream("/sse?key=multi-a&key=multi-b")
    try:
        gw.wait_live(c, "multi-a")
        gw.wait_live(c, "multi-b")
        gw.push_ok(["multi-a", "to a"])
        gw.push_ok(["multi-b", "to b"])
        gw.push_ok(["multi-c", "to c"])     # not subscribed
        gw.push_ok(["multi-a", "to a again"])
        evs = c.wait_for_events(3)
        time.sleep(0.3)
        eq([e.data for e in c.real_events()], ["to a", "to b", "to a again"],
           "data in order, nothing for multi-c")
    finally:
        c.close()


def test_path_info_form(gw):
    c = gw.stream("/sse/pathkey")
    other = gw.stream("/sse?key=pathkey")
    try:
        gw.wait_live([c, other], "pathkey")
        gw.push_ok(["-i", "9", "pathkey", "via path"])
        for s in (c, other):
            evs = s.wait_for_events(1)
            eq((evs[0].data, evs[0].last_event_id), ("via path", "9"),
               s.path)
    finally:
        c.close()
        other.close()


def test_response_head_and_ok_comment(gw):
    c = gw.stream("/sse?key=headers", wait_ok=False)
    try:
        eq(c.wait_status(), 200, "status")
        eq(c.header("Content-Type"), "text/event-stream", "Content-Type")
        eq(c.header("Cache-Control"), "no-cache", "Cache-Control")
        eq(c.header("X-Accel-Buffering"), "no", "X-Accel-Buffering")
        eq(len(c.header_all("Content-Type")), 1, "one Content-Type")
        check(c.header("Content-Length") is None,
              "an endless stream has no Content-Length")
        body = c.wait_body(b": ok\n\n")
        check(body.startswith(b": ok\n\n"),
              "body starts with ': ok\\n\\n': %r" % body[:40])
    finally:
        c.close()


def test_head_request_gets_headers_only(gw):
    c = harness.http_request(gw.port, "HEAD", "/sse?key=headreq")
    eq(c.status, 200, "HEAD status")
    eq(c.header("Content-Type"), "text/event-stream", "HEAD Content-Type")
    eq(c.body, b"", "HEAD body")


def test_heartbeat_arrives(gw):
    c = gw.stream("/sse?key=beat")
    try:
        t0 = time.monotonic()
        ok = c._wait(lambda: [x.strip() for x in c.parser.comments]
                     .count("ping") >= 2, 10)
        check(ok, "two ': ping' comments within 10 s with heartbeat 1 s; "
              "body %r" % c.body[:200])
        check(b": ping\n\n" in c.body, "exact heartbeat bytes: %r" %
              c.body[:200])
        check(time.monotonic() - t0 >= 1.0,
              "pings are spaced by the heartbeat, not sent at once")
        eq(c.real_events(), [], "heartbeats dispatch no event")
        check(not c.closed, "stream still open")
    finally:
        c.close()


if __name__ == "__main__":
    harness.run([
        test_one_stream_gets_event,
        test_several_streams_on_one_key_all_get_it,
        test_several_keys_on_one_stream,
        test_path_info_form,
        test_response_head_and_ok_comment,
        test_head_request_gets_headers_only,
        test_heartbeat_arrives,
    ], setup)
