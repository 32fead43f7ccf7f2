"""Subscriber tokens: with a JWT key configured, a stream needs a valid
token (Authorization: Bearer, the sse_token cookie or ?token=) that allows
every key it asks for; 401 without one or with a bad one, 403 for a key it
does not allow, and the stream ends when the token expires."""

import atexit
import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

SECRET = b"test secret for the auth tests"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims, secret=SECRET, alg="HS256"):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64(sig))


def setup():
    fd, key = tempfile.mkstemp(prefix="sse-jwt-")
    with os.fdopen(fd, "wb") as f:
        f.write(SECRET + b"\n")    # a trailing newline is not part of it
    atexit.register(os.unlink, key)
    return harness.Gateway("auth", heartbeat=300, env={"SSE_JWT_KEY": key})


def later(s):
    return int(time.time()) + s


def test_no_token_is_401(gw):
    c = harness.http_request(gw.port, "GET", "/sse?key=user42")
    eq(c.status, 401, "status")
    eq(c.body, b"token required\n", "reason")
    check((c.header("www-authenticate") or "").startswith("Bearer"),
          "WWW-Authenticate: %r" % c.header("www-authenticate"))


def test_bad_tokens_are_401_with_a_reason(gw):
    cases = [
        ("wrong secret", token({"sub": "user42", "exp": later(60)},
                               secret=b"other"), b"invalid token\n"),
        ("expired", token({"sub": "user42", "exp": later(-5)}),
         b"token expired\n"),
        ("not yet valid", token({"sub": "user42", "nbf": later(60)}),
         b"token not valid yet\n"),
        ("garbage", "abc.def.ghi", b"invalid token\n"),
    ]
    for what, tok, reason in cases:
        c = harness.http_request(gw.port, "GET", "/sse?key=user42&token=" +
                                 tok)
        eq(c.status, 401, what + ": status")
        eq(c.body, reason, what + ": reason")


def test_bearer_header_opens_the_stream_for_its_sub(gw):
    tok = token({"sub": "user42", "exp": later(60)})
    c = gw.stream("/sse?key=user42",
                  headers=[("Authorization", "Bearer " + tok)])
    try:
        gw.push_ok(["user42", "for user42"])
        eq(c.wait_for_events(1)[0].data, "for user42", "delivered")
    finally:
        c.close()


def test_cookie_and_query_carry_tokens_too(gw):
    tok = token({"sub": "user42"})
    for what, path, hdrs in (
            ("cookie", "/sse?key=user42",
             [("Cookie", "theme=dark; sse_token=%s" % tok)]),
            ("query", "/sse?key=user42&token=%s" % tok, [])):
        c = gw.stream(path, headers=hdrs)
        try:
            eq(c.status, 200, what)
        finally:
            c.close()


def test_keys_the_token_does_not_allow_are_403(gw):
    tok = token({"sub": "user42", "sse_keys": ["news:*", "team7"]})
    for path, want in (("/sse?key=user43", 403),
                       ("/sse?key=user42&key=team8", 403),
                       ("/sse/newsroom", 403)):
        c = harness.http_request(gw.port, "GET", path, headers=[
            ("Authorization", "Bearer " + tok)])
        eq(c.status, want, path)
        check(c.body.startswith(b"the token does not allow key "),
              "%s: reason %r" % (path, c.body))
    c = gw.stream("/sse?key=user42&key=news:sport&key=team7",
                  headers=[("Authorization", "Bearer " + tok)])
    try:
        gw.push_ok(["news:sport", "goal"])
        eq(c.wait_for_events(1)[0].data, "goal", "a prefix-allowed key")
    finally:
        c.close()


def test_the_stream_ends_when_the_token_expires(gw):
    tok = token({"sub": "user42", "exp": later(3)})
    c = gw.stream("/sse?key=user42&token=" + tok)
    try:
        check(c.wait_closed(10), "the stream ended at the token's expiry")
        check(c.clean_end, "cleanly, with the last chunk")
    finally:
        c.close()


if __name__ == "__main__":
    harness.run([
        test_no_token_is_401,
        test_bad_tokens_are_401_with_a_reason,
        test_bearer_header_opens_the_stream_for_its_sub,
        test_cookie_and_query_carry_tokens_too,
        test_keys_the_token_does_not_allow_are_403,
        test_the_stream_ends_when_the_token_expires,
    ], setup=setup)
