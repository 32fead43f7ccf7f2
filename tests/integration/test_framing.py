"""Framing: the exact bytes on the wire for each kind of event, and what a
browser's EventSource makes of them."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

LONG = "0123456789" * 10000             # one 100,000-byte line

# (name, sse-push options, message as argv (str) or stdin (bytes),
#  exact bytes expected on the wire, (type, data, lastEventId) parsed)
# An event published without --id gets one from the broker, its sequence
# number, as an "id: DIGITS" line right before the first data line (after
# event:); BROKER_ID in the parsed tuple stands for that id. The expected
# bytes here leave that line out; check_cases checks it separately.
BROKER_ID = object()
CASES = [
    ("plain", [], "hello world",
     b"data: hello world\n\n", ("message", "hello world", BROKER_ID)),
    ("event name", ["-e", "progress"], "50%",
     b"event: progress\ndata: 50%\n\n", ("progress", "50%", BROKER_ID)),
    ("id", ["-i", "42"], "with id",
     b"id: 42\ndata: with id\n\n", ("message", "with id", "42")),
    ("broker id replaces the last one", [], "no id",
     b"data: no id\n\n", ("message", "no id", BROKER_ID)),
    ("retry", ["-r", "2500"], "retry",
     b"retry: 2500\ndata: retry\n\n", ("message", "retry", BROKER_ID)),
    ("all fields", ["--event", "unread", "--id", "a-7", "--retry", "0"], "3",
     b"event: unread\nid: a-7\nretry: 0\ndata: 3\n\n", ("unread", "3", "a-7")),
    ("LF lines", [], "one\ntwo\nthree",
     b"data: one\ndata: two\ndata: three\n\n",
     ("message", "one\ntwo\nthree", BROKER_ID)),
    ("CR lines", [], "one\rtwo",
     b"data: one\ndata: two\n\n", ("message", "one\ntwo", BROKER_ID)),
    ("CRLF lines", [], "one\r\ntwo",
     b"data: one\ndata: two\n\n", ("message", "one\ntwo", BROKER_ID)),
    ("mixed breaks and an empty line", [], "a\n\nb\r\rc\r\n\r\nd",
     b"data: a\ndata: \ndata: b\ndata: \ndata: c\ndata: \ndata: d\n\n",
     ("message", "a\n\nb\n\nc\n\nd", BROKER_ID)),
    ("trailing LF kept", [], "end\n",
     b"data: end\ndata: \n\n", ("message", "end\n", BROKER_ID)),
    ("empty message", [], "",
     b"data: \n\n", ("message", "", BROKER_ID)),
    ("leading space kept", [], " indented",
     b"data:  indented\n\n", ("message", " indented", BROKER_ID)),
    ("colon inside", [], "data: not a field",
     b"data: data: not a field\n\n",
     ("message", "data: not a field", BROKER_ID)),
    ("UTF-8", ["-e", "caf\u00e9"], "gr\u00fc\u00dfe \u2713 \U0001f600",
     "event: caf\u00e9\ndata: gr\u00fc\u00dfe \u2713 \U0001f600\n\n"
     .encode(),
     ("caf\u00e9", "gr\u00fc\u00dfe \u2713 \U0001f600", BROKER_ID)),
    ("stdin, one trailing LF stripped", [], b"from stdin\n",
     b"data: from stdin\n\n", ("message", "from stdin", BROKER_ID)),
    ("stdin, one trailing CRLF stripped", [], b"x\r\n\r\n",
     b"data: x\ndata: \n\n", ("message", "x\n", BROKER_ID)),
    ("long line from stdin", [], (LONG + "\n").encode(),
     ("data: " + LONG + "\n\n").encode(), ("message", LONG, BROKER_ID)),
]


def push_cases(gw, key):
    """Publish every case to key, in order."""
    for name, opts, msg, _, _ in CASES:
        if isinstance(msg, bytes):
            gw.push_ok(opts + [key], stdin=msg)
        else:
            gw.push_ok(opts + [key, msg])


BROKER_ID_LINE = re.compile(rb"\A((?:event: [^\n]*\n)?)id: ([0-9]{1,19})\n")


def without_broker_id(raw):
    """Split the broker's "id: DIGITS" line out of an event's bytes."""
    m = BROKER_ID_LINE.match(raw)
    if m is None:
        return None, raw
    return m.group(2).decode(), m.group(1) + raw[m.end():]


def check_cases(c):
    """Check c received exactly CASES after its sync marker."""
    evs = c.wait_for_events(len(CASES), timeout=20)
    time.sleep(0.2)
    evs = c.real_events()
    eq(len(evs), len(CASES), "number of events")
    last = 0
    for (name, opts, _, wire, parsed), ev in zip(CASES, evs):
        raw = ev.raw
        if parsed[2] is BROKER_ID:
            bid, raw = without_broker_id(raw)
            check(bid is not None, "%r has a broker id: %r" % (name, ev.raw))
            check(int(bid) > last, "broker ids increase (%r)" % name)
            last = int(bid)
            parsed = parsed[:2] + (bid,)
        eq(raw, wire, "bytes on the wire for %r" % name)
        eq((ev.type, ev.data, ev.last_event_id), parsed,
           "parsed event for %r" % name)
    want = b"".join(case[3] for case in CASES)
    # every event ends in its only blank line
    got = c.body_after_sync().split(b"\n\n")[:-1]
    check(len(got) == len(CASES), "one blank line per event in the body")
    got = b"".join(
        without_broker_id(e + b"\n\n")[1] if case[4][2] is BROKER_ID
        else e + b"\n\n" for case, e in zip(CASES, got))
    check(got == want, "the body after the sync marker is exactly the "
          "events (first difference at byte %d)" % first_diff(got, want))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def setup():
    # heartbeats stay out of the byte comparison
    return harness.Gateway("framing", heartbeat=300)


def test_exact_bytes_and_parsed_events(gw):
    c = gw.stream("/sse?key=framing")
    try:
        gw.wait_live(c, "framing")
        push_cases(gw, "framing")
        check_cases(c)
    finally:
        c.close()


def test_retry_field_reaches_the_parser(gw):
    c = gw.stream("/sse?key=retry")
    try:
        gw.wait_live(c, "retry")
        gw.push_ok(["-r", "12345", "retry", "r"])
        c.wait_for_events(1)
        eq(c.parser.retry, 12345, "reconnection time")
    finally:
        c.close()


if __name__ == "__main__":
    harness.run([
        test_exact_bytes_and_parsed_events,
        test_retry_field_reaches_the_parser,
    ], setup)
