"""HTTP errors through mod_fastcgi: 400 with a one-line plain-text reason for
bad keys, 405 with Allow for methods other than GET and HEAD."""

import os
import sys

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

# (what, path after the prefix) -> 400
BAD = [
    ("no query", ""),
    ("no key parameter", "?foo=bar"),
    ("empty key", "?key="),
    ("empty key, bare", "?key"),
    ("space (encoded)", "?key=a%20b"),
    ("plus is a space", "?key=a+b"),
    ("slash", "?key=a/b"),
    ("exclamation mark", "?key=hi!"),
    ("quote", "?key=a%22b"),
    ("non-ASCII", "?key=caf%C3%A9"),
    ("129 bytes", "?key=" + "k" * 129),
    ("bad percent-encoding", "?key=%zz"),
    ("truncated percent-encoding", "?key=ab%4"),
    ("percent at end", "?key=ab%"),
    ("one good, one bad", "?key=good&key=bad%21"),
    ("bad PATH_INFO key", "/bad!key"),
]


# Control bytes: lighttpd itself may refuse these before the worker sees
# them (its own 400 page is HTML); either way the answer must be 400.
CONTROL = [
    ("NUL", "?key=a%00b"),
    ("newline", "?key=a%0Ab"),
    ("CR", "?key=a%0Db"),
    ("tab", "?key=a%09b"),
    ("DEL", "?key=a%7Fb"),
]


def setup():
    return harness.Gateway("http_errors")


def check_400(gw, prefix, what, suffix):
    c = harness.http_request(gw.port, "GET", prefix + suffix)
    where = "%s (GET %s%s)" % (what, prefix, suffix)
    eq(c.status, 400, where + " status")
    ct = c.header("Content-Type") or ""
    check(ct.split(";")[0].strip() == "text/plain",
          "%s: Content-Type %r" % (where, ct))
    body = c.body
    check(body.endswith(b"\n") and body.count(b"\n") == 1 and
          len(body.strip()) > 0,
          "%s: body is one line ending in LF: %r" % (where, body))
    check(all(32 <= b < 127 for b in body.rstrip(b"\n")),
          "%s: reason is printable ASCII: %r" % (where, body))
    check(b"data:" not in body, "%s: no event-stream body" % where)
    return body.decode().strip()


def test_bad_keys_get_400_with_reason(gw):
    reasons = {}
    for what, suffix in BAD:
        reasons[what] = check_400(gw, "/sse", what, suffix)
    for what, suffix in CONTROL:
        c = harness.http_request(gw.port, "GET", "/sse" + suffix)
        eq(c.status, 400, "%s (GET /sse%s) status" % (what, suffix))
        check(b"data:" not in c.body, what + ": no event-stream body")
    # the reasons tell the cases apart, at least a missing key from
    # bad encoding and a bad character
    check(reasons["no query"] != reasons["bad percent-encoding"],
          "distinct reasons: %r" % reasons)
    check(reasons["no query"] != reasons["exclamation mark"],
          "distinct reasons: %r" % reasons)


def test_longest_key_and_every_allowed_character_accepted(gw):
    for key in ("k" * 128, "AZaz09-_.:@~+=".replace("+", "%2B")):
        c = gw.stream("/sse?key=" + key)
        eq(c.status, 200, "key %r" % key)
        c.close()
    # '+' sent percent-encoded is a real plus; '=' and '~' need no escape
    c = gw.stream("/sse?key=a%2Bb%3Dc~d")
    try:
        gw.wait_live(c, "a+b=c~d")
        gw.push_ok(["a+b=c~d", "odd key"])
        eq(c.wait_for_events(1)[0].data, "odd key", "delivery to a+b=c~d")
    finally:
        c.close()


def test_unknown_parameters_are_ignored(gw):
    c = gw.stream("/sse?_=12345&key=cachebust&v=2")
    c.close()


def test_methods_other_than_get_head_get_405(gw):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        body = b"x=1" if method in ("POST", "PUT", "PATCH") else None
        c = harness.http_request(gw.port, method, "/sse?key=fine",
                                 body=body)
        eq(c.status, 405, method + " status")
        allow = c.header("Allow") or ""
        eq(sorted(m.strip() for m in allow.split(",")), ["GET", "HEAD"],
           method + " Allow header (%r)" % allow)
        check(b"data:" not in c.body, method + ": no event-stream body")
    c = harness.http_request(gw.port, "POST", "/sse/fine", body=b"")
    eq(c.status, 405, "POST on the PATH_INFO form")


def test_server_still_serves_after_errors(gw):
    c = gw.stream("/sse?key=after-errors")
    try:
        gw.wait_live(c, "after-errors")
        gw.push_ok(["after-errors", "still fine"])
        eq(c.wait_for_events(1)[0].data, "still fine", "delivery")
    finally:
        c.close()


if __name__ == "__main__":
    harness.run([
        test_bad_keys_get_400_with_reason,
        test_longest_key_and_every_allowed_character_accepted,
        test_unknown_parameters_are_ignored,
        test_methods_other_than_get_head_get_405,
        test_server_still_serves_after_errors,
    ], setup)
