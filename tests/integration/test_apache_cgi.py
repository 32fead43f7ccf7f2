"""Apache 2.4 running sse-fcgi as a plain CGI program (mod_cgi), configured
by the shipped examples/apache-cgi.conf: delivery without buffering, the
response head, heartbeats, framing, 400 and 405 from the worker, one process
per stream, and a client that leaves ends its process."""

import os
import sys

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402
import server_checks  # noqa: E402
import servers  # noqa: E402
import test_cgi  # noqa: E402

P = "/sse"


def setup():
    # no heartbeat during these tests: nothing but events is ever written,
    # so an event that arrives was not held back waiting for more output
    return servers.ApacheCgi("apache-cgi", heartbeat=300)


def test_settings_reach_the_cgi_through_setenv(gw):
    """The worker runs as CGI (it says so in its environment) with the
    SetEnv settings of the example, not with defaults."""
    before = set(test_cgi.cgi_pids(gw))
    c = gw.stream(P + "?key=env")
    try:
        pid = test_cgi.new_cgi_pid(gw, before)
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0")
                       if b"=" in kv)
        eq(env.get(b"SSE_RUNDIR"), gw.rundir.encode(), "SSE_RUNDIR")
        eq(env.get(b"SSE_HEARTBEAT"), b"300", "SSE_HEARTBEAT")
        eq(env.get(b"GATEWAY_INTERFACE"), b"CGI/1.1", "GATEWAY_INTERFACE")
        # and it reached the broker there: it gets events
        gw.wait_live(c, "env")
    finally:
        c.close()


def test_close_ends_the_stream_and_the_process(gw):
    before = set(test_cgi.cgi_pids(gw))
    c = gw.stream(P + "?key=cgiclose")
    try:
        pid = test_cgi.new_cgi_pid(gw, before)
        gw.wait_live(c, "cgiclose")
        gw.push_ok(["--close", "cgiclose", "done"])
        evs = c.wait_for_events(1)
        eq((evs[0].type, evs[0].data), ("close", "done"), "close event")
        check(c.wait_closed(10), "response ended")
        check(c.clean_end, "ended cleanly (last chunk): %s" % c.error)
        check(harness.wait_until(lambda: not test_cgi.alive(pid), 10),
              "the CGI process %d exited after --close" % pid)
    finally:
        c.close()


def test_heartbeat_and_client_that_leaves():
    with servers.ApacheCgi("apache-cgi-beat", heartbeat=1) as gw:
        server_checks.heartbeat(gw, P)
        before = set(test_cgi.cgi_pids(gw))
        keep = gw.stream(P + "/stays")
        keep_pid = test_cgi.new_cgi_pid(gw, before)
        before.add(keep_pid)
        c = gw.stream(P + "?key=leaver")
        pid = test_cgi.new_cgi_pid(gw, before)
        gw.wait_live(c, "leaver")
        gw.wait_live(keep, "stays")
        try:
            c.close()
            # no publishing: Apache notices the gone client on its next
            # write (the heartbeat, 1 s), ends the request and closes the
            # program's pipes, and the process ends (mod_cgi sends SIGTERM;
            # the worker's last log lines are lost with its stderr pipe, so
            # the process itself is what to watch)
            check(harness.wait_until(lambda: not test_cgi.alive(pid), 15),
                  "the CGI process %d exited after its client left" % pid)
            check(test_cgi.alive(keep_pid), "the other stream's process "
                  "%d is still running" % keep_pid)
            gw.push_ok(["stays", "still here"])
            eq(keep.wait_for_events(1)[0].data, "still here",
               "remaining stream")
        finally:
            keep.close()
        check(harness.wait_until(lambda: not test_cgi.alive(keep_pid), 15),
              "and the other process %d exits when its client leaves" %
              keep_pid)


def test_shipped_timeout_outlasts_the_heartbeat():
    server_checks.shipped_timeout(
        'apache-cgi.conf',
        r'^\s*CGIScriptTimeout (\d+)\s*$')


def test_still_delivers_after_everything(gw):
    server_checks.still_delivers(gw, P, "after")


if __name__ == "__main__":
    harness.run(server_checks.common_tests(P) + [
        test_settings_reach_the_cgi_through_setenv,
        test_close_ends_the_stream_and_the_process,
        test_heartbeat_and_client_that_leaves,
        test_shipped_timeout_outlasts_the_heartbeat,
        test_still_delivers_after_everything,
    ], setup, server=("apache2 with mod_cgi",
                      servers.apache_with("mod_cgi.so")))
