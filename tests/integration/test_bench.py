"""sse-bench against a real gateway: every event delivered once and in
order, and each way a run fails (nothing delivered, publisher errors, wrong
keys, refused streams, streams the server ends) reported in its JSON line
and exit status; the "established N" line a driver reads while streams are
held; usage and start-up errors."""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

SSE_BENCH = os.path.join(harness.BUILDDIR, "src", "sse-bench")
PUSH = harness.SSE_PUSH
EX_OK, EX_FAILED, EX_USAGE, EX_UNAVAILABLE = 0, 1, 64, 69


def setup():
    return harness.Gateway("bench")


def url(gw, path="/sse?key={key}"):
    return "http://127.0.0.1:%d%s" % (gw.port, path)


def bench(gw, args, timeout=60):
    """Run sse-bench with args; return (status, stdout lines, stderr)."""
    p = subprocess.run([SSE_BENCH] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=gw.env() if gw else None, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    for marker in harness.SANITIZER_MARKERS:
        check(marker not in err, "sse-bench %r: %s" % (args, err[:1500]))
    return p.returncode, p.stdout.decode().splitlines(), err


def result(lines, streams):
    """The two stdout lines of a --json run: 'established N' and the
    result."""
    eq(len(lines), 2, "stdout lines %r" % lines)
    check(lines[0].startswith("established "), "first line %r" % lines[0])
    r = json.loads(lines[1])
    eq(lines[0], "established %d" % r["established"], "established line")
    eq(r["connections"], streams, "connections")
    return r


def expect_clean(r, what):
    for field in ("lost", "duplicates", "out_of_order", "wrong_key",
                  "publish_errors", "closed_early", "protocol_errors",
                  "refused"):
        eq(r[field], 0, "%s: %s" % (what, field))
    eq(r["delivered"], r["expected"], "%s: delivered" % what)
    check(r["ok"] is True, "%s: ok" % what)


def test_exec_publishing_delivers_every_event_once_in_order(gw):
    rc, lines, err = bench(gw, [
        "-c", "20", "-k", "4", "-e", "5", "--publish", "exec",
        "--pub-cmd", PUSH + " {key} {data}", "--json", url(gw)])
    r = result(lines, 20)
    eq(rc, EX_OK, "exit status (stderr %r, result %r)" % (err, r))
    expect_clean(r, "exec")
    eq(r["established"], 20, "established")
    eq(r["events_published"], 20, "4 keys x 5 events")
    eq(r["expected"], 100, "each of 20 streams expects its key's 5")
    eq(r["other"], 0, "': ok' is a comment, not an event")
    check(0 < r["latency_p50_us"] <= r["latency_p90_us"] <=
          r["latency_p99_us"] <= r["latency_max_us"],
          "latency percentiles %r" % r)
    check(r["latency_max_us"] < 30 * 1000000, "latency under 30 s: %r" % r)
    check(0 < r["publish_p50_us"] <= r["publish_p99_us"],
          "publish call times %r" % r)
    check(r["connect_ms"] > 0 and r["publish_ms"] > 0, "durations %r" % r)
    check(r["delivered_per_s"] > 0, "rate %r" % r)


def test_lighttpd_streams_are_chunked(gw):
    # The runs here read lighttpd's chunked coding: make sure they did.
    c = gw.stream("/sse?key=chunkcheck")
    try:
        eq((c.header("Transfer-Encoding") or "").lower(), "chunked",
           "Transfer-Encoding")
    finally:
        c.close()


def test_broadcast_reaches_every_stream(gw):
    rc, lines, err = bench(gw, [
        "-c", "30", "-k", "3", "-e", "4", "--broadcast", "-p", "exec",
        "--pub-cmd", PUSH + " --all {data}", "--json", url(gw)])
    r = result(lines, 30)
    eq(rc, EX_OK, "exit status (stderr %r, result %r)" % (err, r))
    expect_clean(r, "broadcast")
    eq(r["events_published"], 4, "one event per broadcast")
    eq(r["expected"], 120, "every stream expects every broadcast")


def test_lines_publishing_delivers_every_event(gw):
    rc, out, _ = gw.push(["--help"])
    if b"--keyed" not in out:
        print("  (sse-push has no --keyed yet: lines mode not tested)")
        return
    rc, lines, err = bench(gw, [
        "-c", "20", "-k", "4", "-e", "25", "-p", "lines",
        "--pub-cmd", PUSH + " --lines --keyed", "--json", url(gw)])
    r = result(lines, 20)
    eq(rc, EX_OK, "exit status (stderr %r, result %r)" % (err, r))
    expect_clean(r, "lines")
    eq(r["events_published"], 100, "4 keys x 25 events")
    eq(r["expected"], 500, "expected")


def test_rate_spreads_the_events_out(gw):
    rc, lines, err = bench(gw, [
        "-c", "4", "-k", "2", "-e", "10", "-r", "40", "-p", "exec",
        "--pub-cmd", PUSH + " {key} {data}", "--json", url(gw)])
    r = result(lines, 4)
    eq(rc, EX_OK, "exit status (stderr %r, result %r)" % (err, r))
    expect_clean(r, "rate")
    # 20 events at 40/s: the last is due 19/40 s after the first
    check(r["publish_ms"] >= 450, "publish_ms %r at 40/s" % r["publish_ms"])


def test_nothing_published_is_all_lost(gw):
    t0 = time.monotonic()
    rc, lines, err = bench(gw, [
        "-c", "20", "-k", "4", "-e", "5", "-t", "1", "-p", "exec",
        "--pub-cmd", "true", "--json", url(gw)])
    r = result(lines, 20)
    eq(rc, EX_FAILED, "exit status (stderr %r)" % err)
    eq(r["established"], 20, "established")
    eq(r["events_published"], 20, "handed over")
    eq(r["publish_errors"], 0, "true exits 0")
    eq(r["delivered"], 0, "delivered")
    eq(r["lost"], 100, "lost")
    eq(r["expected"], 100, "expected")
    check(r["ok"] is False, "ok")
    check(time.monotonic() - t0 < 15, "waited about --timeout, not more")


def test_a_failing_publisher_counts_errors(gw):
    rc, lines, err = bench(gw, [
        "-c", "2", "-k", "2", "-e", "3", "-t", "1", "-p", "exec",
        "--pub-cmd", "false", "--json", url(gw)])
    r = result(lines, 2)
    eq(rc, EX_FAILED, "exit status")
    eq(r["publish_errors"], 6, "every call failed")
    check("status 1" in (r["publish_error_first"] or ""),
          "first error %r" % r["publish_error_first"])


def test_events_for_another_key_are_wrong_key(gw):
    # Both keys' events go to k0: the k0 streams see k1's as wrong, the k1
    # streams see nothing.
    rc, lines, err = bench(gw, [
        "-c", "4", "-k", "2", "-e", "3", "-t", "1", "-p", "exec",
        "--pub-cmd", PUSH + " k0 {data}", "--json", url(gw)])
    r = result(lines, 4)
    eq(rc, EX_FAILED, "exit status")
    eq(r["wrong_key"], 6, "2 k0 streams x 3 k1 events")
    eq(r["delivered"], 6, "2 k0 streams x 3 k0 events")
    eq(r["lost"], 6, "2 k1 streams x 3 events")


def test_refused_streams_are_counted_with_their_status(gw):
    for path, status in (("/sse?nokey={key}", 400),
                         ("/nothere/{key}", 404)):
        rc, lines, err = bench(gw, ["-c", "5", "--json", url(gw, path)])
        r = result(lines, 5)
        eq(rc, EX_FAILED, "%s: exit status (stderr %r)" % (path, err))
        eq(r["established"], 0, path)
        eq(r["refused"], 5, path)
        eq(r["refused_first"], "status %d" % status, path)


def test_held_streams_the_server_ends_count_as_closed_early(gw):
    # The driver protocol: read "established N", look at the server while
    # the streams are held, end the hold by closing stdin.
    p = subprocess.Popen([SSE_BENCH, "-c", "6", "-k", "2", "--hold", "-1",
                          "--json", url(gw, "/sse?key=hold{key}")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=gw.env())
    try:
        line = p.stdout.readline().decode()
        eq(line, "established 6\n", "first line")
        # the three streams of key holdk0 end with the last chunk
        gw.push_ok(["--close", "holdk0", "bye"])
        time.sleep(0.5)
        check(p.poll() is None, "still holding")
        out, err = p.communicate(timeout=30)    # closes stdin: EOF
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = json.loads(out.decode())
    eq(p.returncode, EX_FAILED, "exit status (stderr %r)" % err)
    eq(r["established"], 6, "established")
    eq(r["closed_early"], 3, "streams of holdk0 ended by the server")
    eq(r["protocol_errors"], 0, "the chunked ending parsed cleanly")
    eq(r["other"], 3, "the close event is not a stamp")


def test_a_signal_ends_an_endless_hold(gw):
    p = subprocess.Popen([SSE_BENCH, "-c", "3", "--hold", "-1",
                          url(gw, "/sse?key=sig{key}")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=gw.env())
    try:
        eq(p.stdout.readline(), b"established 3\n", "first line")
        time.sleep(0.2)
        check(p.poll() is None, "holding with stdin at /dev/null")
        p.terminate()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    eq(p.returncode, EX_OK, "exit status (stderr %r)" % err)
    check(b"result     ok" in out, "summary %r" % out)


def test_usage_and_start_errors():
    cases = [
        (["--publish", "bogus", "http://127.0.0.1:1/"], EX_USAGE),
        (["-p", "exec", "http://127.0.0.1:1/"], EX_USAGE),
        (["-p", "lines", "--broadcast", "--pub-cmd", "cat",
          "http://127.0.0.1:1/"], EX_USAGE),
        (["-c", "0", "http://127.0.0.1:1/"], EX_USAGE),
        ([], EX_USAGE),
        (["-c", "30000000", "http://127.0.0.1:1/"], EX_USAGE),
        (["https://127.0.0.1/"], EX_UNAVAILABLE),
        (["http://example.com/"], EX_UNAVAILABLE),
        (["-c", "2", "http://127.0.0.1:%d/" % harness.free_port()],
         EX_UNAVAILABLE),
    ]
    for args, status in cases:
        rc, lines, err = bench(None, args)
        eq(rc, status, "%r: exit status (stderr %r)" % (args, err))
        eq(len(err.strip().splitlines()), 1, "%r: one line on stderr: %r"
           % (args, err))
        check(err.startswith("sse-bench: "), "%r: %r" % (args, err))


if __name__ == "__main__":
    harness.run([
        test_exec_publishing_delivers_every_event_once_in_order,
        test_lighttpd_streams_are_chunked,
        test_broadcast_reaches_every_stream,
        test_lines_publishing_delivers_every_event,
        test_rate_spreads_the_events_out,
        test_nothing_published_is_all_lost,
        test_a_failing_publisher_counts_errors,
        test_events_for_another_key_are_wrong_key,
        test_refused_streams_are_counted_with_their_status,
        test_held_streams_the_server_ends_count_as_closed_early,
        test_a_signal_ends_an_endless_hold,
        test_usage_and_start_errors,
    ], setup=setup)
