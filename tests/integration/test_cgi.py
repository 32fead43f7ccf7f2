"""sse-fcgi run as a plain CGI program by lighttpd's mod_cgi (/cgi/sse): the
same delivery, framing and 400/405 behaviour as under FastCGI, one stream
per process."""

import os
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402
import test_framing  # noqa: E402
import test_http_errors  # noqa: E402


def setup():
    return harness.Gateway("cgi", heartbeat=300)


def cgi_pids(gw):
    """Pids of sse-fcgi processes running as CGI (their environment has
    GATEWAY_INTERFACE, which lighttpd sets only for CGI)."""
    out = []
    for pid in gw.worker_pids():
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if b"GATEWAY_INTERFACE=CGI" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def test_head_and_ok_comment(gw):
    c = gw.stream("/cgi/sse?key=cgihead", wait_ok=False)
    try:
        eq(c.wait_status(), 200, "status")
        eq(c.header("Content-Type"), "text/event-stream", "Content-Type")
        eq(c.header("Cache-Control"), "no-cache", "Cache-Control")
        eq(c.header("X-Accel-Buffering"), "no", "X-Accel-Buffering")
        body = c.wait_body(b": ok\n\n")
        check(body.startswith(b": ok\n\n"), "body starts with ': ok': %r"
              % body[:40])
    finally:
        c.close()


def test_delivery_query_and_path_info(gw):
    q = gw.stream("/cgi/sse?key=cgi1&key=cgi2")
    p = gw.stream("/cgi/sse/cgi1")
    f = gw.stream("/sse?key=cgi1")          # a FastCGI stream, same key
    try:
        gw.wait_live([q, p, f], "cgi1")
        gw.wait_live(q, "cgi2")
        gw.push_ok(["-e", "unread", "cgi1", "5"])
        gw.push_ok(["cgi2", "second key"])
        eq([(e.type, e.data) for e in q.wait_for_events(2)],
           [("unread", "5"), ("message", "second key")], "two keys, CGI")
        for c in (p, f):
            eq([(e.type, e.data) for e in c.wait_for_events(1)],
               [("unread", "5")], c.path)
        time.sleep(0.3)
        eq(len(p.real_events()), 1, "PATH_INFO stream: nothing for cgi2")
    finally:
        for c in (q, p, f):
            c.close()


def test_framing_exact_bytes(gw):
    c = gw.stream("/cgi/sse?key=cgiframing")
    try:
        gw.wait_live(c, "cgiframing")
        test_framing.push_cases(gw, "cgiframing")
        test_framing.check_cases(c)
    finally:
        c.close()


def test_bad_keys_get_400(gw):
    for what, suffix in test_http_errors.BAD:
        test_http_errors.check_400(gw, "/cgi/sse", what, suffix)


def test_methods_get_405(gw):
    for method in ("POST", "PUT", "DELETE"):
        c = harness.http_request(gw.port, method, "/cgi/sse?key=fine",
                                 body=b"x=1" if method != "DELETE" else None)
        eq(c.status, 405, method + " status")
        allow = c.header("Allow") or ""
        eq(sorted(m.strip() for m in allow.split(",")), ["GET", "HEAD"],
           method + " Allow (%r)" % allow)


def new_cgi_pid(gw, before):
    """The one CGI process started since before (a set of pids)."""
    found = []
    harness.wait_until(lambda: found.extend(set(cgi_pids(gw)) - before)
                       or found, 5)
    check(len(found) == 1, "one new CGI process per stream: %r" % found)
    return found[0]


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_close_ends_cgi_stream_and_process(gw):
    before = set(cgi_pids(gw))
    c = gw.stream("/cgi/sse?key=cgiclose")
    try:
        pid = new_cgi_pid(gw, before)
        gw.wait_live(c, "cgiclose")
        gw.push_ok(["--close", "cgiclose", "done"])
        evs = c.wait_for_events(1)
        eq((evs[0].type, evs[0].data), ("close", "done"), "close event")
        check(c.wait_closed(10), "response ended")
        check(c.clean_end, "ended cleanly: %s" % c.error)
        check(harness.wait_until(lambda: not alive(pid), 10),
              "the CGI process %d exited after --close" % pid)
    finally:
        c.close()


def test_cgi_process_exits_when_client_leaves(gw):
    before = set(cgi_pids(gw))
    c = gw.stream("/cgi/sse?key=cgileave")
    try:
        pid = new_cgi_pid(gw, before)
        gw.wait_live(c, "cgileave")
    finally:
        c.close()
    # lighttpd notices a client that left only when it next writes to it
    # (heartbeat or event); an event makes the CGI write at once
    time.sleep(0.3)
    gw.push_ok(["cgileave", "anyone?"])
    check(harness.wait_until(lambda: not alive(pid), 10),
          "the CGI process %d exited after its client left" % pid)


if __name__ == "__main__":
    harness.run([
        test_head_and_ok_comment,
        test_delivery_query_and_path_info,
        test_framing_exact_bytes,
        test_bad_keys_get_400,
        test_methods_get_405,
        test_close_ends_cgi_stream_and_process,
        test_cgi_process_exits_when_client_leaves,
    ], setup)
