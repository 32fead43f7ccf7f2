"""Apache 2.4 with mod_proxy_fcgi forwarding to a standalone sse-fcgi
(--listen, on a unix socket and on TCP), configured by the shipped
examples/apache-proxy-fcgi.conf: delivery without buffering, the response
head, heartbeats, framing, 400 and 405 from the worker, and a client that
leaves is noticed."""

import os
import sys

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402
import server_checks  # noqa: E402
import servers  # noqa: E402

P = "/sse"


def setup():
    # no heartbeat during these tests: nothing but events is ever written,
    # so an event that arrives was not held back waiting for more output
    return servers.ApacheProxyFcgi("apache-proxy", heartbeat=300)


def test_one_worker_holds_every_stream(gw):
    """Unlike mod_fcgid, one standalone worker process holds them all."""
    cs = [gw.stream(P + "?key=many") for _ in range(8)]
    try:
        gw.wait_live(cs, "many")
        eq(gw.worker_pids(), [gw.worker.pid], "one worker process")
        gw.push_ok(["many", "to all eight"])
        for c in cs:
            eq(c.wait_for_events(1)[0].data, "to all eight", c.path)
    finally:
        for c in cs:
            c.close()


def heartbeat_and_leaving(gw):
    server_checks.heartbeat(gw, P)
    keep = gw.stream(P + "/stays")
    cs = [gw.stream(P + "?key=leaver") for _ in range(3)]
    gw.wait_live(cs, "leaver")
    gw.wait_live(keep, "stays")
    try:
        # Apache notices a gone client when it next writes to it (the
        # heartbeat, 1 s), then closes its connection to the worker, which
        # reads end of file and drops the stream
        server_checks.close_and_wait_gone(gw, cs)
        gw.push_ok(["stays", "still here"])
        eq(keep.wait_for_events(1)[0].data, "still here", "remaining stream")
        check(not keep.closed, "the remaining stream is still open")
    finally:
        keep.close()
    server_checks.still_delivers(gw, P, "after-leaving")


def test_heartbeat_and_client_that_leaves_unix_socket():
    with servers.ApacheProxyFcgi("apache-proxy-beat", heartbeat=1) as gw:
        heartbeat_and_leaving(gw)


def test_tcp_backend():
    with servers.ApacheProxyFcgi("apache-proxy-tcp", heartbeat=1,
                                 listen="tcp") as gw:
        check(":" in gw.listen, "the worker listens on TCP: %s" % gw.listen)
        server_checks.response_head(gw, P)
        heartbeat_and_leaving(gw)
        c = gw.stream(P + "/tcpkey")
        try:
            gw.wait_live(c, "tcpkey")
            gw.push_ok(["tcpkey", "a\nb"])
            evs = c.wait_for_events(1)
            eq(evs[0].data, "a\nb", "PATH_INFO form over TCP")
        finally:
            c.close()


def test_shipped_timeout_outlasts_the_heartbeat():
    server_checks.shipped_timeout(
        'apache-proxy-fcgi.conf',
        r'^ProxyPass "/sse" .* timeout=(\d+)\b')


def test_still_delivers_after_everything(gw):
    server_checks.still_delivers(gw, P, "after")


if __name__ == "__main__":
    harness.run(server_checks.common_tests(P) + [
        test_one_worker_holds_every_stream,
        test_heartbeat_and_client_that_leaves_unix_socket,
        test_tcp_backend,
        test_shipped_timeout_outlasts_the_heartbeat,
        test_still_delivers_after_everything,
    ], setup, server=("apache2 with mod_proxy_fcgi",
                      servers.apache_with("mod_proxy.so",
                                          "mod_proxy_fcgi.so")))
