"""nginx with fastcgi_pass to a standalone sse-fcgi (--listen on a unix
socket), configured by the shipped examples/nginx.conf: delivery without
buffering, the response head, heartbeats, framing, 400 and 405 from the
worker, and a client that leaves is noticed."""

import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402
import server_checks  # noqa: E402
import servers  # noqa: E402

P = "/sse"


# nginx acts on the worker's X-Accel-Buffering itself and does not pass it
# on (fastcgi_hide_header's default list): the head is checked without it.
def setup():
    # no heartbeat during these tests: nothing but events is ever written,
    # so an event that arrives was not held back waiting for more output
    return servers.Nginx("nginx", heartbeat=300)


def test_an_abandoned_status_request_is_never_counted():
    """nginx closes the worker's connection when a client gives up. A
    status request abandoned while the broker is away was never a stream:
    afterwards the worker reports none open."""
    with servers.Nginx("nginx-status", heartbeat=300,
                       env={"SSE_STATUS": "1"}) as gw:
        def abandon():
            s = socket.create_connection(("127.0.0.1", gw.port))
            s.sendall(b"GET /sse?mode=status HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.5)     # the worker holds it, asking the broker
            s.close()
            time.sleep(0.5)     # nginx closes the worker's connection
        gw.restart_broker(while_down=abandon)
        time.sleep(5)           # two reports from the worker at least
        rc, out, err = gw.push(["--stats"])
        eq(rc, 0, "exit status (stderr %r)" % err)
        eq(json.loads(out.decode())["streams"], 0, "open streams")


def test_one_worker_holds_every_stream(gw):
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


def test_config_alone_unbuffers_without_the_workers_header():
    """fastcgi_buffering off in the shipped file does the job by itself:
    with nginx told to ignore the worker's X-Accel-Buffering header, events
    still arrive at once."""
    with servers.Nginx("nginx-noaccel", heartbeat=300, http_extra=[
            "fastcgi_ignore_headers X-Accel-Buffering;"]) as gw:
        server_checks.response_head(gw, P, accel=None)
        server_checks.immediate_delivery(gw, P)


def test_heartbeat_and_client_that_leaves():
    with servers.Nginx("nginx-beat", heartbeat=1) as gw:
        server_checks.heartbeat(gw, P)
        keep = gw.stream(P + "/stays")
        cs = [gw.stream(P + "?key=leaver") for _ in range(3)]
        gw.wait_live(cs, "leaver")
        gw.wait_live(keep, "stays")
        try:
            # nginx notices a gone client when it next writes to it (the
            # heartbeat, 1 s) and closes its connection to the worker,
            # which reads end of file and drops the stream
            server_checks.close_and_wait_gone(gw, cs)
            gw.push_ok(["stays", "still here"])
            eq(keep.wait_for_events(1)[0].data, "still here",
               "remaining stream")
            check(not keep.closed, "the remaining stream is still open")
        finally:
            keep.close()
        server_checks.still_delivers(gw, P, "after-leaving")


def test_shipped_timeout_outlasts_the_heartbeat():
    server_checks.shipped_timeout(
        'nginx.conf',
        r'^\s*fastcgi_read_timeout (\d+)s;')


def test_still_delivers_after_everything(gw):
    server_checks.still_delivers(gw, P, "after")


if __name__ == "__main__":
    harness.run(server_checks.common_tests(P, accel=None) + [
        test_one_worker_holds_every_stream,
        test_an_abandoned_status_request_is_never_counted,
        test_config_alone_unbuffers_without_the_workers_header,
        test_heartbeat_and_client_that_leaves,
        test_shipped_timeout_outlasts_the_heartbeat,
        test_still_delivers_after_everything,
    ], setup, server=("nginx", servers.find_nginx))
