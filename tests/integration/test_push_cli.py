"""sse-push: exit codes (0, 64 usage, 65 data, 69 unavailable), one line on
stderr per failure, stdin input and --lines."""

import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

EX_OK, EX_USAGE, EX_DATAERR, EX_UNAVAILABLE = 0, 64, 65, 69

USAGE_CASES = [
    ("no arguments", [], None),
    ("unknown long option", ["--bogus", "cli", "m"], None),
    ("unknown short option", ["-Z", "cli", "m"], None),
    ("--all with a key", ["--all", "cli", "m"], None),
    ("--lines with a message", ["--lines", "cli", "m"], b"x\n"),
    ("too many operands", ["cli", "m", "extra"], None),
    ("--all with --close and a key", ["--all", "--close", "cli", "m"], None),
    ("--keyed without --lines", ["--keyed", "cli", "m"], None),
    ("--keyed with a key", ["--lines", "--keyed", "cli"], b"k m\n"),
    ("--keyed with --all", ["--lines", "--keyed", "--all"], b"k m\n"),
]

DATA_CASES = [
    ("key with a space", ["bad key", "m"], None),
    ("key with a slash", ["a/b", "m"], None),
    ("key with non-ASCII", ["caf\u00e9", "m"], None),
    ("empty key", ["", "m"], None),
    ("key of 129 bytes", ["k" * 129, "m"], None),
    ("LF in --event", ["-e", "a\nb", "cli", "m"], None),
    ("CR in --event", ["-e", "a\rb", "cli", "m"], None),
    ("CRLF injection in --event", ["-e", "x\r\ndata: evil", "cli", "m"],
     None),
    ("LF in --id", ["-i", "1\nevent: evil", "cli", "m"], None),
    ("CR in --id", ["-i", "1\r2", "cli", "m"], None),
    ("non-numeric --retry", ["-r", "soon", "cli", "m"], None),
    ("negative --retry", ["-r", "-5", "cli", "m"], None),
    ("fractional --retry", ["--retry", "1.5", "cli", "m"], None),
    ("message over 262144 bytes (stdin)", ["cli"], b"x" * 262145),
    ("invalid UTF-8 (argv)", ["cli", b"caf\xe9"], None),
    ("invalid UTF-8 (stdin)", ["cli"], b"\xc3\x28\n"),
    ("overlong UTF-8 (stdin)", ["cli"], b"\xc0\xaf"),
    ("NUL in message (stdin)", ["cli"], b"a\0b\n"),
]


def setup():
    return harness.Gateway("push_cli", heartbeat=300)


def one_line(err, what):
    check(err.endswith(b"\n") and err.count(b"\n") == 1 and
          len(err.strip()) > 0,
          "%s: exactly one line on stderr, got %r" % (what, err))


def test_success_exits_0_silently(gw):
    rc, out, err = gw.push(["cli-ok", "fine"])
    eq(rc, EX_OK, "exit code (stderr %r)" % err)
    eq(err, b"", "stderr on success")


def test_debug_log_level_reports_each_acknowledgement(gw):
    rc, out, err = gw.push(["--log-level", "debug", "--lines", "cli-log"],
                           stdin=b"a\nb\n")
    eq(rc, EX_OK, "exit code (stderr %r)" % err)
    acks = [l for l in err.decode().splitlines() if "acknowledged seq=" in l]
    eq(len(acks), 2, "one debug line per acknowledged event: %r" % err)
    rc, out, err = gw.push(["--log-level", "loud", "cli-log", "x"])
    eq(rc, EX_USAGE, "unknown level (stderr %r)" % err)
    one_line(err, "unknown level")


def test_usage_errors_exit_64(gw):
    for what, args, stdin in USAGE_CASES:
        rc, out, err = gw.push(args, stdin=stdin)
        eq(rc, EX_USAGE, "%s: exit code (stderr %r)" % (what, err))
        one_line(err, what)
        eq(out, b"", what + ": stdout")


def test_missing_option_value_exits_64(gw):
    for args in (["-e"], ["--timeout"], ["-i"]):
        rc, out, err = gw.push(args)
        eq(rc, EX_USAGE, "%r: exit code (stderr %r)" % (args, err))
        one_line(err, repr(args))


def test_data_errors_exit_65_and_publish_nothing(gw):
    c = gw.stream("/sse?key=cli")
    try:
        gw.wait_live(c, "cli")
        for what, args, stdin in DATA_CASES:
            rc, out, err = gw.push(args, stdin=stdin)
            eq(rc, EX_DATAERR, "%s: exit code (stderr %r)" % (what, err))
            one_line(err, what)
        # a message of exactly the limit is fine
        rc, out, err = gw.push(["cli"], stdin=b"z" * 262144)
        eq(rc, EX_OK, "262144 bytes: exit code (stderr %r)" % err)
        gw.push_ok(["-e", "end", "cli", "end"])
        evs = c.wait_for_events(2, timeout=20)
        time.sleep(0.3)
        evs = c.real_events()
        eq([(e.type, len(e.data)) for e in evs],
           [("message", 262144), ("end", 3)],
           "only the valid events reached the stream")
    finally:
        c.close()


def test_stdin_message_with_one_newline_stripped(gw):
    c = gw.stream("/sse?key=stdin")
    try:
        gw.wait_live(c, "stdin")
        gw.push_ok(["stdin"], stdin=b"hello from stdin\n")
        gw.push_ok(["stdin"], stdin=b"two\nlines\n\n")
        gw.push_ok(["-e", "x", "stdin"], stdin=b"no newline")
        gw.push_ok(["stdin"], stdin=b"")
        evs = c.wait_for_events(4)
        eq([(e.type, e.data) for e in evs],
           [("message", "hello from stdin"), ("message", "two\nlines\n"),
            ("x", "no newline"), ("message", "")], "stdin events")
    finally:
        c.close()


def test_operands_after_options_and_double_dash(gw):
    c = gw.stream("/sse?key=-dash&key=opts")
    try:
        gw.wait_live(c, "opts")
        gw.wait_live(c, "-dash")
        gw.push_ok(["opts", "-5 degrees"])          # message looks like -5
        gw.push_ok(["-e", "t", "--", "-dash", "--not-an-option"])
        gw.push_ok(["--event=eq", "--id=7", "opts", "long=form"])
        evs = c.wait_for_events(3)
        eq([(e.type, e.data) for e in evs],
           [("message", "-5 degrees"), ("t", "--not-an-option"),
            ("eq", "long=form")], "events")
        # without --id the broker numbers the event; --id=7 is kept
        check(evs[0].last_event_id.isdigit(), "broker id %r" %
              evs[0].last_event_id)
        eq(evs[2].last_event_id, "7", "the publisher's id")
    finally:
        c.close()


def test_lines_publishes_each_line_as_it_arrives(gw):
    c = gw.stream("/sse?key=lines")
    try:
        gw.wait_live(c, "lines")
        p = subprocess.Popen([harness.SSE_PUSH, "--lines", "-e", "log",
                              "lines"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=gw.env())
        try:
            p.stdin.write(b"first line\n")
            p.stdin.flush()
            # published while stdin is still open
            evs = c.wait_for_events(1)
            eq((evs[0].type, evs[0].data), ("log", "first line"),
               "first line arrives before stdin ends")
            p.stdin.write(b"second\nthird\nfourth without newline")
            p.stdin.close()
            p.wait(timeout=30)
            err = p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                f.close()
        eq(p.returncode, EX_OK, "exit code (stderr %r)" % err)
        evs = c.wait_for_events(4)
        eq([(e.type, e.data) for e in evs],
           [("log", "first line"), ("log", "second"), ("log", "third"),
            ("log", "fourth without newline")], "one event per line, in "
           "order")
    finally:
        c.close()


def test_lines_stops_at_invalid_line(gw):
    rc, out, err = gw.push(["--lines", "lines2"], stdin=b"ok\nbad\xff\n")
    eq(rc, EX_DATAERR, "invalid UTF-8 line: exit code (stderr %r)" % err)
    one_line(err, "--lines with an invalid line")


def test_keyed_lines_publish_to_each_lines_key(gw):
    a = gw.stream("/sse?key=keyed-a")
    b = gw.stream("/sse?key=keyed-b")
    try:
        gw.wait_live([a, b], all=True)
        gw.push_ok(["--lines", "--keyed"],
                   stdin=b"keyed-a one\nkeyed-b two words\r\nkeyed-a \n"
                   b"keyed-b last")
        eq([e.data for e in a.wait_for_events(2)], ["one", ""],
           "key a: its lines, the empty message included")
        eq([e.data for e in b.wait_for_events(2)], ["two words", "last"],
           "key b: the rest of the line after the first space")
    finally:
        a.close()
        b.close()


def test_keyed_lines_stop_at_a_bad_key(gw):
    c = gw.stream("/sse?key=keyed-c")
    try:
        gw.wait_live(c, "keyed-c")
        for name, bad in (("no space", b"keyed-c\n"),
                          ("invalid key", b"bad/key m\n")):
            rc, out, err = gw.push(["--lines", "--keyed"],
                                   stdin=b"keyed-c before\n" + bad +
                                   b"keyed-c after\n")
            eq(rc, EX_DATAERR, "%s: exit code (stderr %r)" % (name, err))
            one_line(err, "--keyed with " + name)
            check(b"line 2" in err, "%s: names the line: %r" % (name, err))
        gw.push_ok(["keyed-c", "marker"])
        eq([e.data for e in c.wait_for_events(3)],
           ["before", "before", "marker"],
           "the line before a bad one is published, the lines after not")
    finally:
        c.close()


def test_all_broadcasts_without_key(gw):
    a = gw.stream("/sse?key=cli-a")
    b = gw.stream("/sse?key=cli-b")
    try:
        gw.wait_live([a, b], all=True)
        gw.push_ok(["--all", "-e", "announce", "to everyone"])
        for c in (a, b):
            eq(c.wait_for_events(1)[0].data, "to everyone", c.path)
    finally:
        a.close()
        b.close()


def test_help_and_version(gw):
    for flag in ("--help", "-h"):
        rc, out, err = gw.push([flag])
        eq(rc, EX_OK, flag + " exit code")
        check(b"sse-push" in out and b"--event" in out,
              "%s prints usage to stdout: %r" % (flag, out[:200]))
        eq(err, b"", flag + " stderr")
    for flag in ("--version", "-V"):
        rc, out, err = gw.push([flag])
        eq(rc, EX_OK, flag + " exit code")
        check(out.strip() != b"" and any(ch.isdigit() for ch in
                                         out.decode(errors="replace")),
              "%s prints a version to stdout: %r" % (flag, out))


def check_unavailable(gw, args, what, env=None, stdin=None):
    t0 = time.monotonic()
    try:
        rc, out, err = gw.push(["--timeout", "500"] + args, env=env,
                               stdin=stdin, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s: sse-push hung (still running after "
                             "20 s with --timeout 500)" % what)
    took = time.monotonic() - t0
    eq(rc, EX_UNAVAILABLE, "%s: exit code (stderr %r)" % (what, err))
    one_line(err, what)
    check(took < 10, "%s: gave up in %.1fs, long after --timeout 500" %
          (what, took))


def test_no_broker_exits_69_without_hanging():
    empty = tempfile.mkdtemp(prefix="sse-nobroker-")
    try:
        with harness.Gateway("push_cli_nobroker", lighttpd=False) as gw:
            check_unavailable(gw, ["--rundir", empty, "key1", "m"],
                              "no broker in rundir")
            check_unavailable(gw, ["key1", "m"], "no broker (env)",
                              env={"SSE_RUNDIR": empty})
            check_unavailable(gw, ["--push-endpoint", "tcp://127.0.0.1:%d"
                                   % harness.free_port(), "key1", "m"],
                              "nothing on the tcp endpoint")
            rc, out, err = gw.push(["key1", "while the broker runs"])
            eq(rc, EX_OK, "broker up: exit code (stderr %r)" % err)
            gw.stop_broker()
            check_unavailable(gw, ["key1", "m"], "broker stopped")
            check_unavailable(gw, ["--all", "m"], "broker stopped, --all")
            check_unavailable(gw, ["--lines", "key1"], "broker stopped, "
                              "--lines", stdin=b"one\ntwo\n")
            check_unavailable(gw, ["key1"], "broker stopped, stdin",
                              stdin=b"m\n")
    finally:
        os.rmdir(empty)


def test_broker_exits_0_and_removes_its_sockets():
    with harness.Gateway("push_cli_broker", lighttpd=False) as gw:
        rc, out, err = gw.push(["key1", "broker up"])
        eq(rc, EX_OK, "broker up: exit code (stderr %r)" % err)
        rc = gw.stop_broker()
        eq(rc, 0, "sse-broker exit status on SIGTERM")
        left = [s for s in ("pub.sock", "push.sock")
                if os.path.exists(os.path.join(gw.rundir, s))]
        eq(left, [], "socket files left in the rundir after SIGTERM")
        # a new broker starts on the same rundir either way
        gw.start_broker()
        rc, out, err = gw.push(["key1", "broker back"])
        eq(rc, EX_OK, "restarted broker: exit code (stderr %r)" % err)


def test_a_second_broker_does_not_take_the_sockets():
    with harness.Gateway("push_cli_second", lighttpd=False) as gw:
        r = subprocess.run([harness.SSE_BROKER, "--rundir", gw.rundir],
                           capture_output=True, timeout=10)
        eq(r.returncode, 1, "second broker's exit status")
        check(b"another broker is already listening" in r.stderr,
              "reason: %r" % r.stderr)
        rc, out, err = gw.push(["key1", "first one still serves"])
        eq(rc, EX_OK, "the first broker: exit code (stderr %r)" % err)


if __name__ == "__main__":
    harness.run([
        test_success_exits_0_silently,
        test_debug_log_level_reports_each_acknowledgement,
        test_usage_errors_exit_64,
        test_missing_option_value_exits_64,
        test_data_errors_exit_65_and_publish_nothing,
        test_stdin_message_with_one_newline_stripped,
        test_operands_after_options_and_double_dash,
        test_lines_publishes_each_line_as_it_arrives,
        test_lines_stops_at_invalid_line,
        test_keyed_lines_publish_to_each_lines_key,
        test_keyed_lines_stop_at_a_bad_key,
        test_all_broadcasts_without_key,
        test_help_and_version,
        test_no_broker_exits_69_without_hanging,
        test_broker_exits_0_and_removes_its_sockets,
        test_a_second_broker_does_not_take_the_sockets,
    ], setup)
