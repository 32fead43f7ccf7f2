"""Event ids and replay: every event has an id (the publisher's or the
broker's sequence number); a stream that comes with Last-Event-ID (header
or ?lastEventId=) gets the kept events after it, oldest first, then live
ones, with no gap and no duplicate at the seam; an unknown or evicted id
gets `event: missed` first; a new stream gets no history; once a client
sees `: ok`, everything published afterwards reaches it.

No test here uses Gateway.wait_live: its probes would be kept in the
history and replayed, and the `: ok` guarantee is what is under test."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

OK = b": ok\n\n"


def setup():
    # a long heartbeat: the byte-exact comparisons below see no pings; a
    # deep history so that the seam test never runs into eviction
    return harness.Gateway("replay", heartbeat=300,
                           broker_args=["--history", "1000"])


def summary(evs):
    return [(e.type, e.data, e.last_event_id) for e in evs]


def quiet(c, n, pause=0.5):
    """Wait pause seconds, then check c still has exactly n events."""
    time.sleep(pause)
    eq(len(c.events), n, "%s: events after a pause (%r)" % (
        c.path, summary(c.events)))


def test_ok_means_subscribed(gw):
    """`: ok` is written only once the broker confirmed the subscription:
    an event published right after a client sees it always arrives."""
    for i in range(20):
        key = "okrace%d" % i
        c = gw.stream("/sse?key=%s" % key)     # waits for ': ok'
        try:
            gw.push_ok([key, "first %d" % i])
            evs = c.wait_for_events(1)
            eq(evs[0].data, "first %d" % i, "round %d" % i)
        finally:
            c.close()


def test_replay_after_publisher_id(gw):
    key = "rp-pub"
    a = gw.stream("/sse?key=" + key)
    b = None
    try:
        gw.push_ok(["-i", "p1", key, "one"])
        gw.push_ok(["-i", "p2", "-e", "named", key, "two\nlines"])
        gw.push_ok(["-i", "p3", "-r", "1500", key, "caf\u00e9"])
        gw.push_ok(["-i", "p4", key, ""])
        gw.push_ok(["-i", "p5", "-e", "x", key, "five"])
        live = a.wait_for_events(5)
        eq([e.last_event_id for e in live], ["p1", "p2", "p3", "p4", "p5"],
           "the publisher's ids")
        b = gw.stream("/sse?key=" + key, headers=[("Last-Event-ID", "p2")])
        got = b.wait_for_events(3)
        eq(summary(got), summary(live[2:]), "replay after p2")
        # the exact bytes: the replayed body is the live body after p2
        eq(b.body, OK + b"".join(e.raw for e in live[2:]),
           "replayed bytes identical to the live ones")
        # then live, once
        gw.push_ok(["-i", "p6", key, "six"])
        for c, n in ((a, 6), (b, 4)):
            evs = c.wait_for_events(n)
            eq(evs[-1].data, "six", c.path + ": live after replay")
            quiet(c, n, 0.3)
        check(not any(e.type == "missed" for e in b.events),
              "no 'missed' for a kept id")
        eq(b.events[-1].raw, a.events[-1].raw, "live bytes identical")
    finally:
        a.close()
        if b is not None:
            b.close()


def test_replay_after_broker_id_header_and_query(gw):
    key = "rp-brk"
    a = gw.stream("/sse?key=" + key)
    others = []
    try:
        for i in range(5):
            gw.push_ok([key, "b%d" % i])
        live = a.wait_for_events(5)
        ids = [e.last_event_id for e in live]
        check(all(i.isdigit() for i in ids), "broker ids are decimal: %r"
              % ids)
        check([int(i) for i in ids] == sorted(set(int(i) for i in ids)),
              "broker ids increase: %r" % ids)
        hdr = gw.stream("/sse?key=" + key,
                        headers=[("Last-Event-ID", ids[1])])
        others.append(hdr)
        qry = gw.stream("/sse?key=%s&lastEventId=%s" % (key, ids[1]))
        others.append(qry)
        last = gw.stream("/sse?key=%s&lastEventId=%s" % (key, ids[4]))
        others.append(last)
        for c in (hdr, qry):
            got = c.wait_for_events(3)
            eq(summary(got), summary(live[2:]), c.path + ": replay")
            eq(c.body, OK + b"".join(e.raw for e in live[2:]),
               c.path + ": replayed bytes")
        quiet(last, 0, 0.3)     # nothing after the newest: no history
        gw.push_ok([key, "b5"])
        for c, n in ((a, 6), (hdr, 4), (qry, 4), (last, 1)):
            evs = c.wait_for_events(n)
            eq(evs[-1].data, "b5", c.path + ": live")
            check(not any(e.type == "missed" for e in evs),
                  c.path + ": no 'missed'")
        time.sleep(0.3)
        for c, n in ((a, 6), (hdr, 4), (qry, 4), (last, 1)):
            eq(len(c.events), n, c.path + ": no duplicate")
    finally:
        a.close()
        for c in others:
            c.close()


def test_multi_key_replay_in_publish_order_with_broadcast():
    # its own broker: the broadcasts it keeps are exactly this test's
    with harness.Gateway("replay_multi", heartbeat=300) as gw:
        a = gw.stream("/sse?key=mk1&key=mk2")
        others = []
        try:
            plan = [(["mk1"], "a1"), (["mk2"], "b1"), (["--all"], "g1"),
                    (["mk3"], "c1"), (["mk1"], "a2"), (["mk2"], "b2"),
                    (["--all"], "g2"), (["mk3"], "c2"), (["mk1"], "a3")]
            for target, data in plan:
                gw.push_ok(target + [data])
            live = a.wait_for_events(7)
            eq([e.data for e in live],
               ["a1", "b1", "g1", "a2", "b2", "g2", "a3"], "live")
            quiet(a, 7, 0.3)
            first = live[0].last_event_id
            # key order in the URL does not matter; replay is by publish
            b = gw.stream("/sse?key=mk2&key=mk1",
                          headers=[("Last-Event-ID", first)])
            others.append(b)
            got = b.wait_for_events(6)
            eq(summary(got), summary(live[1:]), "merged replay")
            eq(b.body, OK + b"".join(e.raw for e in live[1:]),
               "merged replay bytes")
            quiet(b, 6, 0.3)
            # a stream on mk2 alone, with a broker id seen on mk1
            c = gw.stream("/sse?key=mk2&lastEventId=" + first)
            others.append(c)
            got = c.wait_for_events(4)
            eq([e.data for e in got], ["b1", "g1", "b2", "g2"],
               "mk2 and broadcasts after an mk1 broker id")
            quiet(c, 4, 0.3)
        finally:
            a.close()
            for c in others:
                c.close()


def test_unknown_id_gets_missed_then_all_kept():
    with harness.Gateway("replay_unknown", heartbeat=300) as gw:
        a = gw.stream("/sse?key=uk")
        others = []
        try:
            gw.push_ok(["uk", "u1"])
            gw.push_ok(["-i", "pub-7", "uk", "u2"])
            gw.push_ok(["--all", "g"])
            gw.push_ok(["other", "not mine"])
            gw.push_ok(["uk", "u3"])
            live = a.wait_for_events(4)
            eq([e.data for e in live], ["u1", "u2", "g", "u3"], "live")
            for how in ("header", "query"):
                if how == "header":
                    c = gw.stream("/sse?key=uk",
                                  headers=[("Last-Event-ID", "no-such-id")])
                else:
                    c = gw.stream("/sse?key=uk&lastEventId=no-such-id")
                others.append(c)
                got = c.wait_for_events(5)
                eq((got[0].type, got[0].data), ("missed", ""),
                   how + ": first event")
                check(c.body.startswith(OK + b"event: missed\ndata: \n\n"),
                      how + ": exact 'missed' bytes: %r" % c.body[:80])
                eq(summary(got[1:]), summary(live), how + ": all kept")
                eq(c.body, OK + b"event: missed\ndata: \n\n" +
                   b"".join(e.raw for e in live), how + ": bytes")
            gw.push_ok(["uk", "u4"])
            for c in others:
                evs = c.wait_for_events(6)
                eq(evs[-1].data, "u4", c.path + ": live after replay")
                eq([e.type for e in evs].count("missed"), 1,
                   c.path + ": one 'missed'")
        finally:
            a.close()
            for c in others:
                c.close()


def test_evicted_id_gets_missed_then_the_kept():
    with harness.Gateway("replay_evict", heartbeat=300,
                         broker_args=["--history", "3"]) as gw:
        for key, pub_ids in (("ev-brk", False), ("ev-pub", True)):
            a = gw.stream("/sse?key=" + key)
            others = []
            try:
                for i in range(1, 7):
                    args = ["-i", "e%d" % i] if pub_ids else []
                    gw.push_ok(args + [key, "m%d" % i])
                live = a.wait_for_events(6)
                eq([e.data for e in live], ["m%d" % i for i in range(1, 7)],
                   key + ": live")
                quiet(a, 6, 0.2)
                c = gw.stream("/sse?key=" + key, headers=[
                    ("Last-Event-ID", live[0].last_event_id)])
                others.append(c)
                got = c.wait_for_events(4)
                eq([(e.type, e.data) for e in got],
                   [("missed", ""), ("message", "m4"), ("message", "m5"),
                    ("message", "m6")], key + ": after the 1st (evicted)")
                eq(c.body, OK + b"event: missed\ndata: \n\n" +
                   b"".join(e.raw for e in live[3:]), key + ": bytes")
                quiet(c, 4, 0.3)
                # a kept id: the rest, no 'missed'
                k = gw.stream("/sse?key=" + key, headers=[
                    ("Last-Event-ID", live[3].last_event_id)])
                others.append(k)
                got = k.wait_for_events(2)
                eq([(e.type, e.data) for e in got],
                   [("message", "m5"), ("message", "m6")],
                   key + ": after the 4th (kept)")
                quiet(k, 2, 0.3)
            finally:
                a.close()
                for c in others:
                    c.close()


def test_replay_bigger_than_queue_max():
    """A reconnecting client whose replay is bigger than the worker's
    per-stream queue (SSE_QUEUE_MAX) still gets a 200 stream: the replay
    in full, or `missed` and the newest events that fit; then live."""
    big = 10 * 1024
    with harness.Gateway("replay_bigq", heartbeat=300, max_procs=1,
                         env={"SSE_QUEUE_MAX": "65536"}) as gw:
        pad = "x" * big
        for i in range(20):
            gw.push_ok(["-i", "q%d" % i, "bigq", "%d %s" % (i, pad)])
        c = gw.stream("/sse?key=bigq", wait_ok=False,
                      headers=[("Last-Event-ID", "q0")])
        try:
            st = c.wait_status()
            eq(st, 200, "status of a stream with a big replay (body %r)"
               % c.body[:120])
            c.wait_ok()
            gw.push_ok(["-i", "q20", "bigq", "20 live"])
            evs = c.wait_for_events(2, timeout=15)
            ok = c._wait(lambda: any(e.data == "20 live" for e in
                                     c.parser.events) or c.closed, 15)
            evs = c.events
            check(ok and not c.closed, "the stream stays open and gets the "
                  "live event (closed %r, %d events)" % (c.closed, len(evs)))
            if evs[0].type == "missed":
                evs = evs[1:]
            nums = [int(e.data.split(" ", 1)[0]) for e in evs]
            check(nums and nums == list(range(nums[0], 21)),
                  "the newest events in order, then live: %r" % nums)
            if nums[0] != 1:
                eq(c.events[0].type, "missed", "'missed' when some are "
                   "left out")
        finally:
            c.close()


def test_new_stream_gets_no_history(gw):
    key = "nohist"
    for i in range(3):
        gw.push_ok([key, "old %d" % i])
    gw.push_ok(["-i", "old-id", key, "old with id"])
    c = gw.stream("/sse?key=" + key)
    try:
        quiet(c, 0, 0.5)
        gw.push_ok([key, "new"])
        evs = c.wait_for_events(1)
        eq(summary(evs)[0][:2], ("message", "new"), "only the new event")
        quiet(c, 1, 0.3)
        eq(c.body, OK + evs[0].raw, "body: ': ok' then the new event only")
    finally:
        c.close()


def numbers(evs, what):
    """The n of each "n=<n>" message, checking nothing else came."""
    out = []
    for e in evs:
        check(e.type == "message" and e.data.startswith("n="),
              "%s: unexpected event %r" % (what, e))
        out.append(int(e.data[2:]))
    return out


def test_seam_disconnect_and_reconnect_loses_and_repeats_nothing(gw):
    """A publisher keeps publishing while the client reads some, drops the
    connection, and comes back with its last id, three times: the union
    is every event exactly once, in order."""
    key = "seam"
    total = 300
    log_from = len(gw.read_log("broker.log"))
    c = gw.stream("/sse?key=" + key)
    conns = [c]
    pub = harness.LinePublisher(gw, [key], total)
    try:
        pub.start()
        got = []
        for cut in (40, 120, 200, total):
            have = len(got)
            want = min(cut, total) - have
            c.wait_for_events(want, timeout=30)
            if cut < total:
                c.close()           # abrupt, mid-stream
            evs = c.events
            got.extend(numbers(evs, "connection %d" % len(conns)))
            if cut >= total:
                break
            # come back while the publisher goes on, so that the replay
            # holds events and live ones follow it at once
            harness.wait_until(lambda: pub.sent >= cut + 20, 10)
            last = evs[-1].last_event_id
            check(last.isdigit(), "a broker id to come back with: %r" % last)
            # alternate the header and the query parameter
            if len(conns) % 2:
                c = gw.stream("/sse?key=" + key,
                              headers=[("Last-Event-ID", last)])
            else:
                c = gw.stream("/sse?key=%s&lastEventId=%s" % (key, last))
            conns.append(c)
        rc, err = pub.finish()
        eq(rc, 0, "sse-push --lines exit status (stderr %r)" % err)
        time.sleep(0.3)
        got = got[:len(got) - len(c.events)] + numbers(c.events, "last")
        dups = sorted(n for n in set(got) if got.count(n) > 1)
        missing = sorted(set(range(total)) - set(got))
        eq((missing, dups), ([], []), "missing and duplicated numbers")
        eq(got, list(range(total)), "every event once, in order")
        # the reconnections were real seams: the broker replayed events
        replays = re.findall(r"replay req=\d+ events=(\d+) missed=(\d)",
                             gw.read_log("broker.log")[log_from:])
        check(len([r for r in replays if r[0] != "0"]) >= 3,
              "three replays with events (broker log: %r)" % replays)
        eq([r for r in replays if r[1] != "0"], [], "replays with missed")
    finally:
        pub.kill()
        for x in conns:
            x.close()


if __name__ == "__main__":
    harness.run([
        test_ok_means_subscribed,
        test_replay_after_publisher_id,
        test_replay_after_broker_id_header_and_query,
        test_multi_key_replay_in_publish_order_with_broadcast,
        test_unknown_id_gets_missed_then_all_kept,
        test_evicted_id_gets_missed_then_the_kept,
        test_new_stream_gets_no_history,
        test_replay_bigger_than_queue_max,
        test_seam_disconnect_and_reconnect_loses_and_repeats_nothing,
    ], setup)
