"""Checks every web server configuration must pass, shared by
test_apache_fcgid.py, test_apache_proxy_fcgi.py, test_apache_cgi.py and
test_nginx.py. Each takes a started gateway (servers.ServerGateway) and
the URL prefix that reaches sse-fcgi (/sse)."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import servers  # noqa: E402
from harness import check, eq  # noqa: E402
import test_framing  # noqa: E402
import test_http_errors  # noqa: E402

# The worker's own reasons (src/sse_query.c, src/sse_key.c), which no web
# server would make up: a 400 carrying them came from sse-fcgi.
WORKER_REASONS = [
    ("no query", "", "no key given"),
    ("empty key", "?key=", "empty key"),
    ("bad percent-encoding", "?key=%zz", "malformed percent-encoding"),
    ("129 bytes", "?key=" + "k" * 129, "key is longer than 128 bytes"),
    ("exclamation mark", "?key=hi!",
     "key contains a character outside [A-Za-z0-9-_.:@~+=]"),
    ("bad PATH_INFO key", "/bad!key",
     "key contains a character outside [A-Za-z0-9-_.:@~+=]"),
]


def response_head(gw, prefix, accel="no"):
    """200, the event-stream headers, and ': ok' at once. accel: the
    X-Accel-Buffering value the client must see (None: absent, as nginx
    consumes that header itself)."""
    c = gw.stream(prefix + "?key=head", wait_ok=False)
    try:
        eq(c.wait_status(), 200, "status")
        eq(c.header("Content-Type"), "text/event-stream", "Content-Type")
        eq(len(c.header_all("Content-Type")), 1, "one Content-Type")
        eq(c.header("Cache-Control"), "no-cache", "Cache-Control")
        eq(c.header("X-Accel-Buffering"), accel, "X-Accel-Buffering")
        check(c.header("Content-Length") is None,
              "an endless stream has no Content-Length")
        check("gzip" not in (c.header("Content-Encoding") or ""),
              "not compressed")
        # ': ok' is all the worker writes at first: if it arrives, the
        # server passed on the head and a 6-byte body without waiting
        body = c.wait_body(b": ok\n\n")
        check(body.startswith(b": ok\n\n"),
              "body starts with ': ok\\n\\n' at once: %r" % body[:40])
    finally:
        c.close()


def immediate_delivery(gw, prefix):
    """One event, and then no output at all (the gateway's heartbeat is
    long): it arrives only if nothing between the worker and the client
    holds output back until more comes."""
    check(gw.heartbeat >= 60, "needs a gateway with a long heartbeat")
    q = gw.stream(prefix + "?key=now")
    p = gw.stream(prefix + "/now")
    try:
        gw.wait_live([q, p], "now")
        t0 = time.monotonic()
        gw.push_ok(["-e", "unread", "-i", "7", "now", "3 unread"])
        for c in (q, p):
            evs = c.wait_for_events(1)
            eq((evs[0].type, evs[0].data, evs[0].last_event_id),
               ("unread", "3 unread", "7"), c.path)
            # the whole event block, and nothing else (test_framing's
            # cases check the exact bytes of every kind of event)
            eq(c.body_after_sync(), evs[0].raw, c.path + ": body")
            check(evs[0].raw.endswith(b"data: 3 unread\n\n"),
                  "%s: event bytes %r" % (c.path, evs[0].raw))
        took = time.monotonic() - t0
        check(took < harness.EVENT_TIMEOUT, "arrived (%.2fs)" % took)
        time.sleep(0.3)
        for c in (q, p):
            eq(len(c.real_events()), 1, c.path + ": no duplicate")
            check(not c.closed, c.path + ": stream still open")
    finally:
        q.close()
        p.close()


def heartbeat(gw, prefix):
    """With SSE_HEARTBEAT=1 the stream gets ': ping' comments."""
    check(gw.heartbeat == 1, "needs a gateway with heartbeat 1")
    c = gw.stream(prefix + "?key=beat")
    try:
        t0 = time.monotonic()
        ok = c._wait(lambda: [x.strip() for x in c.parser.comments]
                     .count("ping") >= 2, 10)
        check(ok, "two ': ping' comments within 10 s with heartbeat 1 s; "
              "body %r" % c.body[:200])
        check(c.body.startswith(b": ok\n\n: ping\n\n"),
              "exact heartbeat bytes: %r" % c.body[:200])
        check(time.monotonic() - t0 >= 1.0,
              "pings are spaced by the heartbeat, not sent at once")
        eq(c.real_events(), [], "heartbeats dispatch no event")
        check(not c.closed, "stream still open")
    finally:
        c.close()


def framing(gw, prefix):
    """Every framing case, exact bytes (test_framing.CASES)."""
    c = gw.stream(prefix + "?key=framing")
    try:
        gw.wait_live(c, "framing")
        test_framing.push_cases(gw, "framing")
        test_framing.check_cases(c)
    finally:
        c.close()


def bad_keys(gw, prefix):
    """400 with the worker's one-line plain-text reason."""
    for what, suffix in test_http_errors.BAD:
        test_http_errors.check_400(gw, prefix, what, suffix)
    for what, suffix, reason in WORKER_REASONS:
        got = test_http_errors.check_400(gw, prefix, what, suffix)
        eq(got, reason, "%s: the worker's reason" % what)


def methods(gw, prefix):
    """405 with Allow: GET, HEAD for POST (with a body) and the others."""
    for method, path in (("POST", prefix + "?key=fine"),
                         ("POST", prefix + "/fine"),
                         ("PUT", prefix + "?key=fine"),
                         ("DELETE", prefix + "?key=fine")):
        body = b"x=1" if method != "DELETE" else None
        c = harness.http_request(gw.port, method, path, body=body)
        where = "%s %s" % (method, path)
        eq(c.status, 405, where + " status")
        allow = c.header("Allow") or ""
        eq(sorted(m.strip() for m in allow.split(",")), ["GET", "HEAD"],
           where + " Allow (%r)" % allow)
        eq((c.header("Content-Type") or "").split(";")[0], "text/plain",
           where + " Content-Type")
        eq(c.body, b"method not allowed: use GET\n", where + " body")


def head_request(gw, prefix):
    c = harness.http_request(gw.port, "HEAD", prefix + "?key=headreq")
    eq(c.status, 200, "HEAD status")
    eq(c.header("Content-Type"), "text/event-stream", "HEAD Content-Type")
    eq(c.body, b"", "HEAD body")


def gone_count(gw):
    return gw.worker_log().count('reason="client gone"')


def close_and_wait_gone(gw, clients, timeout=15):
    """Close clients (streams already live, on a gateway with heartbeat
    1) and wait until the worker logged one 'stream closed ...
    reason="client gone"' line per client. Returns the log lines."""
    before = gone_count(gw)
    for c in clients:
        c.close()
    ok = harness.wait_until(lambda: gone_count(gw) - before >= len(clients),
                            timeout)
    lines = [ln for ln in gw.worker_log().splitlines()
             if 'reason="client gone"' in ln]
    check(ok, "the worker logged 'stream closed ... reason=\"client gone\"' "
          "for each of %d closed clients within %ds (got %d): %r" % (
              len(clients), timeout, gone_count(gw) - before,
              gw.worker_log()[-1500:]))
    return lines


def still_delivers(gw, prefix, key):
    """After the tests above, a new stream still gets events."""
    c = gw.stream(prefix + "?key=" + key)
    try:
        gw.wait_live(c, key)
        gw.push_ok([key, "still fine"])
        eq(c.wait_for_events(1)[0].data, "still fine", "delivery")
    finally:
        c.close()


def other_paths(gw):
    """Only /sse and /sse/... reach the worker: /ssefoo does not become a
    stream of key 'foo'."""
    for path in ("/ssefoo?key=a", "/ssefoo/a", "/index.html?key=a"):
        c = harness.http_request(gw.port, "GET", path)
        check(c.status != 200 or
              c.header("Content-Type") != "text/event-stream",
              "GET %s: not an event stream (%d %r)" % (
                  path, c.status, c.header("Content-Type")))
        check(not c.body.startswith(b": ok"), "GET %s: body %r" % (
            path, c.body[:60]))


DEFAULT_HEARTBEAT = 15      # the worker's default --heartbeat (README)


def shipped_timeout(example, pattern):
    """The one value (seconds) of pattern (a regex with one group) in
    examples/example, checked to leave room for several default heartbeats.
    For timeouts a test cannot wait for: past them the server cuts a stream
    that wrote nothing, so they must be well above the heartbeat."""
    with open(os.path.join(servers.EXAMPLES, example)) as f:
        found = re.findall(pattern, f.read(), re.M)
    eq(len(found), 1, "%s: one match of %r" % (example, pattern))
    check(int(found[0]) >= 4 * DEFAULT_HEARTBEAT,
          "%s: %s is %ss, should be at least 4 heartbeats (%ds)" % (
              example, pattern, found[0], 4 * DEFAULT_HEARTBEAT))
    return int(found[0])


def common_tests(prefix, accel="no"):
    """The checks every server passes, as test functions for harness.run,
    named as the test files' own tests are. accel: as in response_head."""
    def test_response_head_and_ok_comment(gw):
        response_head(gw, prefix, accel=accel)

    def test_head_request_gets_headers_only(gw):
        head_request(gw, prefix)

    def test_event_arrives_without_more_output(gw):
        immediate_delivery(gw, prefix)

    def test_framing_exact_bytes(gw):
        framing(gw, prefix)

    def test_bad_keys_get_400_with_the_workers_reason(gw):
        bad_keys(gw, prefix)

    def test_methods_get_405(gw):
        methods(gw, prefix)

    def test_other_paths_do_not_reach_the_worker(gw):
        other_paths(gw)

    return [
        test_response_head_and_ok_comment,
        test_head_request_gets_headers_only,
        test_event_arrives_without_more_output,
        test_framing_exact_bytes,
        test_bad_keys_get_400_with_the_workers_reason,
        test_methods_get_405,
        test_other_paths_do_not_reach_the_worker,
    ]
