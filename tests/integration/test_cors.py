"""Cross-origin streams: allowed origins are echoed with credentials,
preflights are answered, other origins get 403, and without a configured
list the worker adds nothing."""

import os
import sys

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

APP = "https://app.example"


def setup():
    return harness.Gateway("cors", heartbeat=300,
                           env={"SSE_CORS_ORIGINS": "https://other.example, "
                                + APP})


def test_allowed_origin_is_echoed_with_credentials(gw):
    c = gw.stream("/sse?key=cors", headers=[("Origin", APP)])
    try:
        eq(c.status, 200, "status")
        eq(c.header("access-control-allow-origin"), APP, "allowed origin")
        eq(c.header("access-control-allow-credentials"), "true",
           "credentials")
        check("Origin" in (c.header("vary") or ""), "Vary: Origin")
        gw.push_ok(["cors", "across origins"])
        evs = c.wait_for_events(1)
        eq(evs[0].data, "across origins", "the stream works")
    finally:
        c.close()


def test_other_origin_is_refused_with_a_reason(gw):
    c = harness.http_request(gw.port, "GET", "/sse?key=cors",
                             headers=[("Origin", "https://evil.example")])
    eq(c.status, 403, "status")
    eq(c.body, b"origin not allowed\n", "reason")
    eq(c.header("access-control-allow-origin"), None, "no CORS headers")


def test_preflight_is_answered(gw):
    c = harness.http_request(gw.port, "OPTIONS", "/sse?key=cors", headers=[
        ("Origin", APP), ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "last-event-id")])
    eq(c.status, 204, "status")
    eq(c.header("access-control-allow-origin"), APP, "origin")
    check("GET" in (c.header("access-control-allow-methods") or ""),
          "methods: %r" % c.header("access-control-allow-methods"))
    check("Last-Event-ID" in (c.header("access-control-allow-headers") or ""),
          "headers: %r" % c.header("access-control-allow-headers"))
    eq(c.body, b"", "no body")


def test_errors_carry_cors_headers_so_the_page_can_read_them(gw):
    c = harness.http_request(gw.port, "GET", "/sse?key=bad%20key",
                             headers=[("Origin", APP)])
    eq(c.status, 400, "status")
    eq(c.header("access-control-allow-origin"), APP, "origin")


def test_same_origin_requests_need_nothing(gw):
    c = gw.stream("/sse?key=cors")
    try:
        eq(c.status, 200, "status")
        eq(c.header("access-control-allow-origin"), None, "no CORS headers")
    finally:
        c.close()


def test_without_a_list_origins_are_ignored():
    with harness.Gateway("cors_off", heartbeat=300) as gw:
        c = gw.stream("/sse?key=x", headers=[("Origin", APP)])
        try:
            eq(c.status, 200, "status")
            eq(c.header("access-control-allow-origin"), None, "no headers")
        finally:
            c.close()
        c = harness.http_request(gw.port, "OPTIONS", "/sse?key=x",
                                 headers=[("Origin", APP)])
        eq(c.status, 405, "OPTIONS without CORS")


if __name__ == "__main__":
    harness.run([
        test_allowed_origin_is_echoed_with_credentials,
        test_other_origin_is_refused_with_a_reason,
        test_preflight_is_answered,
        test_errors_carry_cors_headers_so_the_page_can_read_them,
        test_same_origin_requests_need_nothing,
        test_without_a_list_origins_are_ignored,
    ], setup=setup)
