"""Faults and load: a worker killed mid-stream (the client reconnects with
Last-Event-ID and loses nothing), the broker restarted with and without
--state (open streams stay open and catch up; sse-push fails fast while it
is away), a stream opened while the broker is away, a burst of 10,000
events, a client that stops reading, and SIGTERM on the workers."""

import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

EX_UNAVAILABLE = 69
OK = b": ok\n\n"
MISSED = b"event: missed\ndata: \n\n"


def numbers(evs, what, prefix="n="):
    """The <n> of each "<prefix><n>" message; anything else fails."""
    out = []
    for e in evs:
        check(e.type == "message" and e.data.startswith(prefix),
              "%s: unexpected event %r" % (what, e))
        out.append(int(e.data[len(prefix):].split(" ", 1)[0]))
    return out


def exactly_once_in_order(got, total, what):
    dups = sorted(n for n in set(got) if got.count(n) > 1)
    missing = sorted(set(range(total)) - set(got))
    eq((missing[:20], dups[:20]), ([], []), what + ": missing, duplicated")
    eq(got, list(range(total)), what + ": every event once, in order")


def serving_pid(gw, key):
    """Pid of the worker that opened the newest stream on exactly key,
    from the workers' debug log."""
    opens = re.findall(r"sse-fcgi\[(\d+)\]: debug: stream open stream=\d+ "
                       r"keys=%s last-event-id" % re.escape(key),
                       gw.worker_log())
    return int(opens[-1]) if opens else None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------------------
# a worker dies
# ---------------------------------------------------------------------------

def test_worker_sigkill_client_reconnects_and_loses_nothing():
    total = 500
    with harness.Gateway("faults_kill", heartbeat=300,
                         broker_args=["--history", "2000"]) as gw:
        es = harness.EventSource(gw.port, "/sse?key=wk")
        pub = harness.LinePublisher(gw, ["wk"], total, every=0.004)
        try:
            check(wait_open(es), "first connection opened: %r" % es.refused)
            pub.start()
            killed = []
            for at in (120, 300):
                check(es.wait(lambda evs: len(evs) >= at, 30),
                      "%d events before the kill (got %d)" % (
                          at, len(es.events())))
                pid = serving_pid(gw, "wk")
                check(pid is not None and pid not in killed,
                      "found the worker of the stream: %r" % pid)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                check(harness.wait_until(lambda: not alive(pid), 10),
                      "killed worker %d gone" % pid)
            rc, err = pub.finish()
            eq(rc, 0, "publisher exit status (stderr %r)" % err)
            ok = es.wait(lambda evs: any(e.data == "n=%d" % (total - 1)
                                         for e in evs), 30)
            time.sleep(0.5)
            evs = es.events()
            check(ok, "the last event arrived: %d events, %d connections, "
                  "refused %r" % (len(evs), len(es.conns), es.refused))
            check(len(es.conns) >= 3, "reconnected after each kill: %d "
                  "connections" % len(es.conns))
            exactly_once_in_order(numbers(evs, "EventSource"), total,
                                  "across worker kills")
            # lighttpd respawned the workers
            check(harness.wait_until(
                lambda: len(gw.worker_pids()) == gw.max_procs and
                not set(killed) & set(gw.worker_pids()), 10),
                "lighttpd runs %d workers again, none of the killed: %r" % (
                    gw.max_procs, gw.worker_pids()))
        finally:
            pub.kill()
            es.close()


def wait_open(es, timeout=harness.START_TIMEOUT):
    """Wait until es has a connection that got the 200 and ': ok'."""
    return harness.wait_until(
        lambda: any(c.status == 200 and c.body.startswith(OK)
                    for c in list(es.conns)), timeout)


# ---------------------------------------------------------------------------
# the broker restarts
# ---------------------------------------------------------------------------

def push_while_down(gw, key, results):
    """Publish while the broker is away: each attempt must fail with 69,
    fast with --timeout 500."""
    for args, stdin in ((["--timeout", "500", key, "down-1"], None),
                        (["--timeout", "500", "--all", "down-all"], None),
                        (["--timeout", "500", "--lines", key],
                         b"down-2\ndown-3\n")):
        t0 = time.monotonic()
        rc, out, err = gw.push(args, stdin=stdin)
        took = time.monotonic() - t0
        results.append((args, rc, took, err))
        eq(rc, EX_UNAVAILABLE, "sse-push %r while the broker is down "
           "(stderr %r)" % (args, err))
        check(took < 3.0, "sse-push %r with --timeout 500 took %.2fs" % (
            args, took))
        check(err.strip() != b"", "a reason on stderr")


def open_streams(gw, paths):
    out = []
    try:
        for p in paths:
            out.append(gw.stream(p))
    except BaseException:
        for c in out:
            c.close()
        raise
    return out


def test_broker_restart_with_state_streams_catch_up_exactly():
    gw = harness.Gateway("faults_state", heartbeat=300)
    state = os.path.join(gw.scratch, "broker.state")
    gw.broker_args += ["--state", state]
    with gw:
        # several streams, so both workers likely hold some
        streams = open_streams(gw, ["/sse?key=st"] * 4 +
                               ["/sse?key=st&key=st2"])
        try:
            for i in range(3):
                gw.push_ok(["st", "before %d" % i])
            for c in streams:
                c.wait_for_events(3)
            before_ids = [e.last_event_id for e in streams[0].events]
            results = []
            rc = gw.restart_broker(
                while_down=lambda: push_while_down(gw, "st", results))
            eq(rc, 0, "broker exit status on SIGTERM")
            check(os.path.exists(state), "state file written")
            # publish at once, before the workers are even back
            t0 = time.monotonic()
            for i in range(3):
                gw.push_ok(["st", "after %d" % i])
            want = ["before 0", "before 1", "before 2", "after 0", "after 1",
                    "after 2"]
            for c in streams:
                evs = c.wait_for_events(6, timeout=15)
                took = time.monotonic() - t0
                check(took < 3.0, "events published after the restart "
                      "arrived within %.1fs" % took)
            time.sleep(0.5)
            gw.push_ok(["st2", "st2 live"])
            gw.push_ok(["st", "later"])
            for i, c in enumerate(streams):
                n = 8 if i == 4 else 7
                evs = c.wait_for_events(n)
                time.sleep(0.2)
                evs = c.events
                check(not c.closed, "stream %d is still the same open "
                      "connection (%s)" % (i, c.error))
                eq([e.type for e in evs if e.type != "message"], [],
                   "stream %d: no 'missed' with --state" % i)
                exp = want + (["st2 live", "later"] if i == 4 else ["later"])
                eq([e.data for e in evs], exp, "stream %d: events" % i)
                eq(c.body, OK + b"".join(e.raw for e in evs),
                   "stream %d: nothing else on the wire" % i)
            ids = [int(e.last_event_id) for e in streams[0].events]
            eq(ids, sorted(set(ids)), "broker ids increase across the "
               "restart (before %r)" % before_ids)
            check("state loaded" in gw.read_log("broker.log"),
                  "the new broker loaded the state")
            # nothing published while the broker was down ever shows up
            for c in streams:
                check(b"down-" not in c.body, "an event refused while the "
                      "broker was down was delivered")
            # a client that reconnects after the restart with an id from
            # before it still gets exactly the rest
            r = gw.stream("/sse?key=st", headers=[("Last-Event-ID",
                                                   before_ids[1])])
            streams.append(r)
            evs = r.wait_for_events(5)
            eq([e.data for e in evs], want[2:] + ["later"],
               "replay across the restart from the state")
        finally:
            for c in streams:
                c.close()


def test_broker_restart_without_state_streams_get_missed():
    with harness.Gateway("faults_nostate", heartbeat=300) as gw:
        streams = open_streams(gw, ["/sse?key=ns"] * 3 + ["/sse?key=ns2"])
        try:
            gw.push_ok(["ns", "before"])
            gw.push_ok(["ns2", "before2"])
            for c in streams:
                c.wait_for_events(1)
            results = []
            rc = gw.restart_broker(
                while_down=lambda: push_while_down(gw, "ns", results))
            eq(rc, 0, "broker exit status on SIGTERM")
            t0 = time.monotonic()
            gw.push_ok(["ns", "after 0"])
            gw.push_ok(["ns", "after 1"])
            gw.push_ok(["ns2", "after2"])
            for i, c in enumerate(streams):
                n = 4 if i < 3 else 3
                c.wait_for_events(n, timeout=15)
                check(time.monotonic() - t0 < 3.0, "stream %d caught up "
                      "within %.1fs" % (i, time.monotonic() - t0))
            time.sleep(0.5)
            gw.push_ok(["ns", "later"])
            for i, c in enumerate(streams):
                evs = c.wait_for_events(5 if i < 3 else 3)
                time.sleep(0.2)
                evs = c.events
                check(not c.closed, "stream %d still open (%s)" % (i,
                                                                  c.error))
                if i < 3:
                    exp = [("message", "before"), ("missed", ""),
                           ("message", "after 0"), ("message", "after 1"),
                           ("message", "later")]
                else:
                    exp = [("message", "before2"), ("missed", ""),
                           ("message", "after2")]
                eq([(e.type, e.data) for e in evs], exp,
                   "stream %d: events" % i)
                check(MISSED in c.body, "exact 'missed' bytes")
                check(b"down-" not in c.body, "a refused event arrived")
        finally:
            for c in streams:
                c.close()


def open_while_broker_down(gw, key):
    """Stop the broker, open a stream: it must open (': ok') after about
    2 s anyway. Returns the stream."""
    eq(gw.stop_broker(), 0, "broker exit status")
    t0 = time.monotonic()
    c = gw.stream("/sse?key=" + key, wait_ok=False)
    try:
        c.wait_ok(timeout=15)
        took = time.monotonic() - t0
        # 2 s, checked by a once-a-second sweep
        check(1.5 <= took <= 6.0, "with no broker the stream opened "
              "after about 2 s, not %.2fs" % took)
    except BaseException:
        c.close()
        raise
    return c


def test_stream_opened_while_broker_down_gets_events_once_resubscribed():
    with harness.Gateway("faults_nobroker", heartbeat=300) as gw:
        c = open_while_broker_down(gw, "late")
        try:
            gw.start_broker()
            # wait until the worker has subscribed again
            check(harness.wait_until(lambda: "subscribe key=late" in
                                     gw.read_log("broker.log"), 15),
                  "the worker resubscribed to the new broker")
            time.sleep(0.5)
            gw.push_ok(["late", "first"])
            evs = c.wait_for_events(1, timeout=15)
            eq([(e.type, e.data) for e in evs], [("message", "first")],
               "a new stream gets no 'missed', just what is published")
            check(not c.closed, "still open")
        finally:
            c.close()


def test_stream_opened_while_broker_down_gets_events_right_after_restart():
    """The stream saw ': ok'; the broker comes back and an event is
    published at once, before the worker has reconnected: the stream's
    resynchronisation must still bring it."""
    with harness.Gateway("faults_nobroker2", heartbeat=300) as gw:
        c = open_while_broker_down(gw, "late2")
        try:
            gw.start_broker()
            gw.push_ok(["late2", "right after"])
            evs = c.wait_for_events(1, timeout=10)
            eq([(e.type, e.data) for e in evs],
               [("message", "right after")], "events")
        finally:
            c.close()


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------

def test_burst_10000_events_one_key():
    total = 10000
    with harness.Gateway("faults_burst1", heartbeat=300) as gw:
        streams = open_streams(gw, ["/sse?key=burst"] * 3)
        try:
            # right after start-up, one process, as fast as it goes
            stdin = "".join("n=%d\n" % i for i in range(total))
            rc, out, err = gw.push(["--lines", "burst"], stdin=stdin,
                                   timeout=120)
            eq(rc, 0, "sse-push --lines exit status (stderr %r)" % err)
            for i, c in enumerate(streams):
                c.wait_for_events(total, timeout=60)
            time.sleep(0.5)
            for i, c in enumerate(streams):
                exactly_once_in_order(numbers(c.events, "stream %d" % i),
                                      total, "stream %d" % i)
                check(not c.closed, "stream %d open" % i)
        finally:
            for c in streams:
                c.close()


def test_burst_across_keys_and_broadcasts():
    per_key = 2500
    nall = 500
    keys = ["bk1", "bk2", "bk3", "bk4"]
    with harness.Gateway("faults_burst4", heartbeat=300) as gw:
        paths = ["/sse?key=%s" % k for k in keys] + \
            ["/sse?" + "&".join("key=%s" % k for k in keys)]
        streams = open_streams(gw, paths)
        pubs = []
        try:
            for k in keys:
                pubs.append(harness.LinePublisher(
                    gw, [k], per_key, every=0,
                    line=lambda i, k=k: "%s=%d" % (k, i)))
            pubs.append(harness.LinePublisher(
                gw, ["--all"], nall, every=0, line=lambda i: "all=%d" % i))
            for p in pubs:
                p.start()
            for p in pubs:
                rc, err = p.finish(120)
                eq(rc, 0, "sse-push --lines exit status (stderr %r)" % err)
            for i, c in enumerate(streams):
                n = per_key + nall if i < 4 else 4 * per_key + nall
                c.wait_for_events(n, timeout=60)
            time.sleep(0.5)
            for i, c in enumerate(streams):
                evs = c.events
                mine = keys[i:i + 1] if i < 4 else keys
                for src, cnt in [(k, per_key) for k in mine] + \
                        [("all", nall)]:
                    got = numbers([e for e in evs if
                                   e.data.startswith(src + "=")],
                                  "stream %d" % i, prefix=src + "=")
                    exactly_once_in_order(got, cnt, "stream %d, %s" % (i,
                                                                       src))
                eq(len(evs), len(mine) * per_key + nall,
                   "stream %d: nothing else" % i)
        finally:
            for p in pubs:
                p.kill()
            for c in streams:
                c.close()


# ---------------------------------------------------------------------------
# a client that stops reading
# ---------------------------------------------------------------------------

def test_slow_client_is_dropped_others_unaffected():
    big = 10 * 1024
    # over 6 MB: on loopback the kernel lets lighttpd's socket to the slow
    # client take some 3 MB before lighttpd stops reading from the worker
    count = 600
    with harness.Gateway("faults_slow", heartbeat=300, max_procs=1,
                         env={"SSE_QUEUE_MAX": "65536"}) as gw:
        # a client with a tiny receive buffer that never reads: it only
        # peeks until ': ok' (the stream is live), which frees no space
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        good = None
        try:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.settimeout(harness.START_TIMEOUT)
            slow.connect(("127.0.0.1", gw.port))
            slow.sendall(b"GET /sse?key=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Accept: text/event-stream\r\n\r\n")
            deadline = time.monotonic() + harness.START_TIMEOUT
            while b": ok" not in slow.recv(4096, socket.MSG_PEEK):
                check(time.monotonic() < deadline, "slow stream opened")
                time.sleep(0.05)
            good = gw.stream("/sse?key=slow")
            pad = "x" * big
            # steadily, 6 MB in about 3 s (a burst is the next test)
            pub = harness.LinePublisher(gw, ["slow"], count, every=0.005,
                                        line=lambda i: "%d %s" % (i, pad))
            try:
                pub.start()
                rc, err = pub.finish()
            finally:
                pub.kill()
            eq(rc, 0, "publisher exit status (stderr %r)" % err)
            t0 = time.monotonic()
            evs = good.wait_for_events(count, timeout=30)
            took = time.monotonic() - t0
            check(took < 3.0, "the reading stream had all %d events of 10 "
                  "KB %.1fs after the last was published" % (count, took))
            eq([int(e.data.split(" ", 1)[0]) for e in evs],
               list(range(count)), "reading stream: every event in order")
            check(all(e.data.endswith(pad) for e in evs), "events whole")
            dropped = harness.wait_until(
                lambda: 'reason="queue full"' in gw.worker_log(), 30)
            check(dropped, "the worker dropped the slow stream: %s" %
                  gw.worker_log()[-1500:])
            eq(gw.worker_log().count('reason="queue full"'), 1,
               "only the slow stream was dropped")
            # the slow client, reading at last, sees its response end
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            got, ended = 0, False
            end_by = time.monotonic() + 30
            while time.monotonic() < end_by:
                try:
                    b = slow.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    ended = True
                    break
                if not b:
                    ended = True
                    break
                got += len(b)
            check(ended, "the slow client's connection was closed (read "
                  "%d bytes)" % got)
            check(got < count * big, "the slow client did not get "
                  "everything (%d bytes)" % got)
            # the reading stream is unaffected and still live
            gw.push_ok(["slow", "after"])
            eq(good.wait_for_events(count + 1)[-1].data, "after",
               "reading stream still live")
            check(not good.closed, "reading stream open")
        finally:
            slow.close()
            if good is not None:
                good.close()


def test_burst_bigger_than_queue_max_loses_nothing_silently():
    """A burst of 200 events of 10 KB published at once, with
    SSE_QUEUE_MAX=65536: a client that reads as fast as it can may still
    fall more than a queue behind and be dropped. Then, like a browser, it
    reconnects with its Last-Event-ID and gets the rest by replay, as much
    as fits its queue; what does not fit is announced by a 'missed' event.
    So the numbers it sees never repeat or go back, it sees the last one,
    and every gap comes right after a 'missed' event."""
    big = 10 * 1024
    count = 200
    with harness.Gateway("faults_burstbig", heartbeat=300, max_procs=1,
                         env={"SSE_QUEUE_MAX": "65536"},
                         broker_args=["--history", "1000"]) as gw:
        es = harness.EventSource(gw.port, "/sse?key=bigburst")
        try:
            check(harness.wait_until(lambda: es.conns and es.conns[0].status == 200
                             and es.conns[0].body.startswith(b": ok"), 10),
                  "the stream opened")
            pad = "x" * big
            stdin = "".join("%d %s\n" % (i, pad) for i in range(count))
            rc, out, err = gw.push(["--lines", "bigburst"], stdin=stdin,
                                   timeout=120)
            eq(rc, 0, "publisher exit status (stderr %r)" % err)
            check(harness.wait_until(lambda: any(
                e.type == "message" and e.data.startswith("%d " % (count - 1))
                for e in es.events()), 30), "the last event arrived")
            last = -1
            missed = False
            for e in es.events():
                if e.type == "missed":
                    missed = True
                    continue
                n = int(e.data.split(" ", 1)[0])
                check(n > last, "numbers only go up (%d after %d)" % (n, last))
                check(n == last + 1 or missed, "gap from %d to %d without a "
                      "'missed' event" % (last, n))
                last = n
                missed = False
        finally:
            es.close()


# ---------------------------------------------------------------------------
# SIGTERM on the workers
# ---------------------------------------------------------------------------

def test_worker_sigterm_ends_streams_cleanly():
    size = 16000
    with harness.Gateway("faults_term", heartbeat=300) as gw:
        streams = open_streams(gw, ["/sse?key=term"] * 6)
        pub = harness.LinePublisher(
            gw, ["term"], 3000, every=0.002,
            line=lambda i: "n=%d %s end" % (i, "y" * size))
        try:
            pids = gw.worker_pids()
            eq(len(pids), gw.max_procs, "workers running")
            pub.start()
            for c in streams:
                c.wait_for_events(20, timeout=30)
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
            for i, c in enumerate(streams):
                check(c.wait_closed(15), "stream %d ended after SIGTERM" % i)
            for i, c in enumerate(streams):
                what = "stream %d" % i
                check(c.clean_end and c.error is None, "%s: the response "
                      "ended with the last chunk (error %r, body ends %r)"
                      % (what, c.error, c.body[-60:]))
                check(c.body.endswith(b"\n\n"), "%s: the body ends after a "
                      "whole event: %r" % (what, c.body[-60:]))
                check(c.parser.buf == b"" and not c.parser.data,
                      "%s: no half-written event" % what)
                evs = c.events
                got = numbers(evs, what)
                eq(got, list(range(got[0], got[0] + len(got))),
                   what + ": consecutive events")
                check(all(e.data.endswith(" end") and len(e.data) ==
                          len("n=%d " % n) + size + 4
                          for e, n in zip(evs, got)), what + ": whole events")
            for pid in pids:
                check(harness.wait_until(lambda: not alive(pid), 10),
                      "worker %d exited after SIGTERM" % pid)
            check("stopping: ending" in gw.worker_log(), "the workers logged "
                  "their stop")
        finally:
            pub.kill()
            for c in streams:
                c.close()
        # lighttpd starts workers again and streams work
        es = harness.EventSource(gw.port, "/sse?key=term-after", retry=0.2)
        try:
            check(wait_open(es), "a stream opens after the workers were "
                  "replaced: %r" % es.refused)
            gw.push_ok(["term-after", "hello"])
            check(es.wait(lambda evs: [e.data for e in evs] == ["hello"]),
                  "delivery after restart: %r" % es.events())
        finally:
            es.close()


if __name__ == "__main__":
    harness.run([
        test_worker_sigkill_client_reconnects_and_loses_nothing,
        test_broker_restart_with_state_streams_catch_up_exactly,
        test_broker_restart_without_state_streams_get_missed,
        test_stream_opened_while_broker_down_gets_events_once_resubscribed,
        test_stream_opened_while_broker_down_gets_events_right_after_restart,
        test_burst_10000_events_one_key,
        test_burst_across_keys_and_broadcasts,
        test_slow_client_is_dropped_others_unaffected,
        test_burst_bigger_than_queue_max_loses_nothing_silently,
        test_worker_sigterm_ends_streams_cleanly,
    ])
