"""Bad input at every entry point, one named row per case: HTTP query
strings, PATH_INFO and headers (FastCGI and CGI), methods, sse-push's
arguments and stdin, and raw frames on both broker sockets. Each row must
get a clear refusal (a 4xx with a one-line reason, an exit status with one
line on stderr, an ACK with status 1 and a reason, or a log line), and
nothing may crash, hang or disturb other streams: after every group a
stream on another key, open all along, has received nothing and then gets
one normal event byte for byte, and the broker and the FastCGI workers are
the same processes as before."""

import contextlib
import os
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE = 0, 64, 65, 66, 69


def import_zmq():
    """pyzmq, or None. Debian's python3-zmq lives in the system Python's
    dist-packages, which another python3 of the same version (pyenv, a
    venv) does not search: look there too."""
    try:
        import zmq
        return zmq
    except ImportError:
        pass
    d = "/usr/lib/python3/dist-packages"
    if os.path.isdir(os.path.join(d, "zmq")) and d not in sys.path:
        sys.path.append(d)
        try:
            import zmq
            return zmq
        except ImportError:
            pass
    return None


zmq = import_zmq()


class Gateway(harness.Gateway):
    """A Gateway whose lighttpd configuration gets extra lines."""

    def __init__(self, name, extra_conf="", **kw):
        harness.Gateway.__init__(self, name, **kw)
        self.extra_conf = extra_conf

    def write_conf(self):
        path = harness.Gateway.write_conf(self)
        if self.extra_conf:
            with open(path, "a") as f:
                f.write(self.extra_conf)
        return path


# lighttpd refuses some requests itself (control bytes, %FF, long headers)
# before the worker sees them. With this the bytes reach the worker, whose
# own checks those rows are about.
PERMISSIVE = """
server.max-request-field-size = 65535
server.http-parseopts = ("url-ctrls-reject" => "disable",
                         "url-normalize" => "disable")
"""


def setup():
    return Gateway("bad_input", heartbeat=300)


# ---------------------------------------------------------------------------
# Health of the whole gateway
# ---------------------------------------------------------------------------

def is_cgi(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return b"GATEWAY_INTERFACE=CGI" in f.read()
    except OSError:
        return False


def fcgi_pids(gw):
    """Pids of the FastCGI workers lighttpd spawned (not CGI runs)."""
    return [p for p in gw.worker_pids() if not is_cgi(p)]


def cgi_pids(gw):
    return [p for p in gw.worker_pids() if is_cgi(p)]


_pids = {}      # id(gw) -> (broker pid, FastCGI worker pids)


def baseline(gw):
    """The broker's and workers' pids when the gateway first served."""
    if id(gw) not in _pids:
        c = gw.stream("/sse?key=warmup")
        c.close()
        pids = harness.wait_until(lambda: len(fcgi_pids(gw)) ==
                                  gw.max_procs and fcgi_pids(gw), 10)
        check(pids, "%d FastCGI workers running: %r" % (gw.max_procs,
                                                        fcgi_pids(gw)))
        _pids[id(gw)] = (gw.broker.pid, pids)
    return _pids[id(gw)]


_n = [0]


@contextlib.contextmanager
def guarded(gw, group):
    """Run a group of rows with a stream open on a key of its own. After
    the rows: the broker and every FastCGI worker are the processes they
    were; no CGI run is left; the stream received nothing meanwhile (rows
    often aim wrong events at its key) and now gets one event exactly; and
    a new stream opens and gets one too."""
    broker_pid, workers = baseline(gw)
    _n[0] += 1
    key = "healthy-%d" % _n[0]
    c = gw.stream("/sse?key=" + key)
    try:
        gw.wait_live(c, key)
        yield key
        where = "after %s" % group
        check(gw.broker.poll() is None, "%s: sse-broker exited with %r; "
              "its log: %s" % (where, gw.broker.returncode,
                               gw.read_log("broker.log")[-1500:]))
        eq(gw.broker.pid, broker_pid, where + ": broker pid")
        eq(fcgi_pids(gw), workers, where + ": FastCGI worker pids (a "
           "worker died and was respawned?)")
        check(harness.wait_until(lambda: not cgi_pids(gw), 10),
              "%s: CGI runs still alive: %r" % (where, cgi_pids(gw)))
        check(not c.closed, "%s: the healthy stream ended (%s)" % (
            where, c.error or "closed"))
        eq(c.real_events(), [], where + ": events that reached the healthy "
           "stream during the rows")
        data = "still fine after %s" % group
        gw.push_ok(["-e", "check", "-i", "h-%d" % _n[0], key, data])
        evs = c.wait_for_events(1)
        time.sleep(0.1)
        want = ("event: check\nid: h-%d\ndata: %s\n\n" % (_n[0], data))
        eq(c.body_after_sync(), want.encode(), where + ": bytes on the "
           "healthy stream")
        eq(len(c.real_events()), 1, where + ": events on the healthy stream")
        # a new stream on a new key still opens and gets its event
        n = gw.stream("/sse?key=%s-new" % key)
        try:
            gw.wait_live(n, key + "-new")
            gw.push_ok([key + "-new", "new stream fine"])
            eq([e.data for e in n.wait_for_events(1)], ["new stream fine"],
               where + ": a new stream's events")
        finally:
            n.close()
    finally:
        c.close()


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

# How a row must be refused:
#   W   the worker's 400: text/plain, one printable line, holding `reason`
#   L   400 from the worker (as W) or from lighttpd (its own HTML page)
#   X   a 4xx from either: 400 from the worker (as W), or lighttpd's 400,
#       414 or 431 (a request or header field over its limit)
W, L, X = "worker", "400", "4xx"

K = "k"
KEYS33 = "&".join("key=k%d" % i for i in range(33))
LONG_ID = "i" * 300          # over the 256 bytes an id may have
HUGE_ID = "i" * 10240        # over lighttpd's header field limit too
BADPCT = ("percent-encoding", "outside")

# (name, path, headers, how, reason substring for the worker's answer)
HTTP_ROWS = [
    ("no query string", "/sse", None, W, "no key"),
    ("empty query string", "/sse?", None, W, "no key"),
    ("only other parameters", "/sse?a=1&b=2", None, W, "no key"),
    ("key= empty", "/sse?key=", None, W, "empty key"),
    ("bare key without =", "/sse?key", None, W, "empty key"),
    ("empty key after a good one", "/sse?key=good&key=", None, W,
     "empty key"),
    ("key of 129 bytes", "/sse?key=" + "k" * 129, None, W,
     "longer than 128"),
    ("key of 129 bytes, percent-encoded", "/sse?key=" + "%6B" * 129, None,
     W, "longer than 128"),
    ("query over 8192 bytes (long key)", "/sse?key=" + "k" * 9000, None, X,
     "too long"),
    ("query over 8192 bytes (other parameter)",
     "/sse?key=k&pad=" + "p" * 9000, None, X, "too long"),
    ("33 distinct keys", "/sse?" + KEYS33, None, W, "too many keys"),
    ("space, percent-encoded", "/sse?key=a%20b", None, W, "outside"),
    ("space as +", "/sse?key=a+b", None, W, "outside"),
    ("space, raw", "/sse?key=a b", None, L, "outside"),
    ("slash", "/sse?key=a/b", None, W, "outside"),
    ("slash, percent-encoded", "/sse?key=a%2Fb", None, W, "outside"),
    ("less-than, raw", "/sse?key=a<b", None, L, "outside"),
    ("less-than, percent-encoded", "/sse?key=%3Cscript%3E", None, W,
     "outside"),
    ("UTF-8 letter, percent-encoded", "/sse?key=caf%C3%A9", None, W,
     "outside"),
    ("UTF-8 letter, raw bytes", "/sse?key=caf\xc3\xa9", None, L, "outside"),
    # lighttpd normalizes a stray '%' to "%25" before the worker sees it,
    # so its answer is then about the '%' in the key. A stray '%' in
    # another parameter or in lastEventId becomes a valid "%25" there and
    # the stream opens: RAW_ROWS has those rows with the URL as sent.
    ("lone percent", "/sse?key=%", None, W, BADPCT),
    ("percent and one digit", "/sse?key=ab%4", None, W, BADPCT),
    ("percent and non-hex", "/sse?key=%zz", None, W, BADPCT),
    ("NUL in key", "/sse?key=a%00b", None, L, "outside"),
    ("CR in key", "/sse?key=a%0Db", None, L, "outside"),
    ("LF in key", "/sse?key=a%0Ab", None, L, "outside"),
    ("CRLF injection in key", "/sse?key=a%0D%0AX-Evil:%201", None, L,
     "outside"),
    ("NUL in lastEventId", "/sse?key=k&lastEventId=1%002", None, L,
     "CR, LF or NUL"),
    ("CR in lastEventId", "/sse?key=k&lastEventId=1%0D2", None, L,
     "CR, LF or NUL"),
    ("LF in lastEventId", "/sse?key=k&lastEventId=1%0A2", None, L,
     "CR, LF or NUL"),
    ("invalid UTF-8 in lastEventId", "/sse?key=k&lastEventId=%FF", None, L,
     "UTF-8"),
    ("overlong UTF-8 in lastEventId", "/sse?key=k&lastEventId=%C0%AF", None,
     L, "UTF-8"),
    ("lastEventId of 300 bytes", "/sse?key=k&lastEventId=" + LONG_ID, None,
     W, "longer than 256"),
    ("Last-Event-ID header of 300 bytes", "/sse?key=k",
     [("Last-Event-ID", LONG_ID)], W, "longer than 256"),
    ("Last-Event-ID header of 10 KB", "/sse?key=k",
     [("Last-Event-ID", HUGE_ID)], X, "longer than 256"),
    ("Last-Event-ID header, invalid UTF-8", "/sse?key=k",
     [("Last-Event-ID", "\xff\xfe")], L, "UTF-8"),
    ("Last-Event-ID header wins, and is bad", "/sse?key=k&lastEventId=5",
     [("Last-Event-ID", LONG_ID)], W, "longer than 256"),
    # PATH_INFO (lighttpd decodes it)
    ("PATH_INFO empty", "/sse/", None, W, "no key"),
    ("PATH_INFO of 129 bytes", "/sse/" + "k" * 129, None, W,
     "longer than 128"),
    ("PATH_INFO with an encoded slash", "/sse/a%2Fb", None, W, "outside"),
    ("PATH_INFO with two segments", "/sse/a/b", None, W, "outside"),
    ("PATH_INFO with a space", "/sse/a%20b", None, W, "outside"),
    ("PATH_INFO with '<'", "/sse/a%3Cb", None, W, "outside"),
    ("PATH_INFO with a UTF-8 letter", "/sse/caf%C3%A9", None, W, "outside"),
    ("PATH_INFO with a bad escape", "/sse/a%zz", None, L, None),
    ("PATH_INFO with NUL", "/sse/a%00b", None, L, None),
    ("PATH_INFO with LF", "/sse/a%0Ab", None, L, None),
    ("PATH_INFO with CR", "/sse/a%0Db", None, L, None),
    ("PATH_INFO good, query key bad", "/sse/good?key=bad!", None, W,
     "outside"),
    ("PATH_INFO and 32 query keys make 33",
     "/sse/extra?" + "&".join("key=k%d" % i for i in range(32)), None, W,
     "too many keys"),
    # the same worker as a plain CGI program
    ("CGI: no query string", "/cgi/sse", None, W, "no key"),
    ("CGI: key= empty", "/cgi/sse?key=", None, W, "empty key"),
    ("CGI: key of 129 bytes", "/cgi/sse?key=" + "k" * 129, None, W,
     "longer than 128"),
    ("CGI: query over 8192 bytes", "/cgi/sse?key=" + "k" * 9000, None, X,
     "too long"),
    ("CGI: 33 distinct keys", "/cgi/sse?" + KEYS33, None, W,
     "too many keys"),
    ("CGI: bad percent-encoding", "/cgi/sse?key=%zz", None, W, BADPCT),
    ("CGI: UTF-8 letter", "/cgi/sse?key=caf%C3%A9", None, W, "outside"),
    ("CGI: LF in key", "/cgi/sse?key=a%0Ab", None, L, "outside"),
    ("CGI: CR in lastEventId", "/cgi/sse?key=k&lastEventId=1%0D2", None, L,
     "CR, LF or NUL"),
    ("CGI: Last-Event-ID header of 300 bytes", "/cgi/sse?key=k",
     [("Last-Event-ID", LONG_ID)], W, "longer than 256"),
    ("CGI: PATH_INFO with an encoded slash", "/cgi/sse/a%2Fb", None, W,
     "outside"),
]

# Through lighttpd with PERMISSIVE: the worker's own checks.
RAW_ROWS = [
    ("query over 8192 bytes", "/sse?key=k&pad=" + "p" * 8200, None, W,
     "query string too long"),
    ("query of 30000 bytes", "/sse?key=" + "k" * 30000, None, W,
     "query string too long"),
    ("lone percent", "/sse?key=%", None, W, "malformed percent-encoding"),
    ("percent and one digit", "/sse?key=ab%4", None, W,
     "malformed percent-encoding"),
    ("percent and non-hex", "/sse?key=%zz", None, W,
     "malformed percent-encoding"),
    ("bad escape in an unknown parameter", "/sse?key=k&x=%G1", None, W,
     "malformed percent-encoding"),
    ("bad escape in a parameter name", "/sse?k%ey=1&key=k", None, W,
     "malformed percent-encoding"),
    ("bad escape in lastEventId", "/sse?key=k&lastEventId=%", None, W,
     "malformed percent-encoding"),
    ("CGI: percent and non-hex", "/cgi/sse?key=%zz", None, W,
     "malformed percent-encoding"),
    ("NUL in key", "/sse?key=a%00b", None, W, "outside"),
    ("CR in key", "/sse?key=a%0Db", None, W, "outside"),
    ("LF in key", "/sse?key=a%0Ab", None, W, "outside"),
    ("NUL in lastEventId", "/sse?key=k&lastEventId=1%002", None, W,
     "CR, LF or NUL"),
    ("CR in lastEventId", "/sse?key=k&lastEventId=1%0D2", None, W,
     "CR, LF or NUL"),
    ("LF in lastEventId", "/sse?key=k&lastEventId=1%0A2", None, W,
     "CR, LF or NUL"),
    ("invalid UTF-8 in lastEventId", "/sse?key=k&lastEventId=%FF", None, W,
     "not valid UTF-8"),
    ("overlong UTF-8 in lastEventId", "/sse?key=k&lastEventId=%C0%AF", None,
     W, "not valid UTF-8"),
    ("surrogate in lastEventId", "/sse?key=k&lastEventId=%ED%A0%80", None,
     W, "not valid UTF-8"),
    ("truncated UTF-8 in lastEventId", "/sse?key=k&lastEventId=%E2%82",
     None, W, "not valid UTF-8"),
    ("Last-Event-ID header of 10 KB", "/sse?key=k",
     [("Last-Event-ID", HUGE_ID)], W, "longer than 256"),
    ("Last-Event-ID header of 60 KB", "/sse?key=k",
     [("Last-Event-ID", "i" * 60000)], W, "longer than 256"),
    ("CGI: query over 8192 bytes", "/cgi/sse?key=" + "k" * 9000, None, W,
     "query string too long"),
    ("CGI: NUL in lastEventId", "/cgi/sse?key=k&lastEventId=%00", None, W,
     "CR, LF or NUL"),
    ("CGI: invalid UTF-8 in lastEventId", "/cgi/sse?key=k&lastEventId=%FF",
     None, W, "not valid UTF-8"),
    ("CGI: Last-Event-ID header of 10 KB", "/cgi/sse?key=k",
     [("Last-Event-ID", HUGE_ID)], W, "longer than 256"),
]


def check_worker_reason(c, where, reason):
    ct = c.header("Content-Type") or ""
    check(ct.split(";")[0].strip() == "text/plain",
          "%s: Content-Type %r (body %r)" % (where, ct, c.body[:200]))
    body = c.body
    check(body.endswith(b"\n") and body.count(b"\n") == 1 and
          len(body.strip()) > 0,
          "%s: body is one line ending in LF: %r" % (where, body[:300]))
    check(all(32 <= b < 127 for b in body.rstrip(b"\n")),
          "%s: reason is printable ASCII: %r" % (where, body[:300]))
    if reason is not None:
        alts = (reason,) if isinstance(reason, str) else reason
        check(any(r.encode() in body for r in alts),
              "%s: reason %r does not say %s" % (
                  where, body.strip(), " or ".join(map(repr, alts))))


def check_refused(gw, row):
    name, path, headers, how, reason = row
    where = "%s (GET %s%s)" % (name, path[:70], "..." if len(path) > 70
                               else "")
    c = harness.http_request(gw.port, "GET", path, headers=headers)
    check(c.error is None, "%s: %s" % (where, c.error))
    check(c.clean_end, where + ": the response did not end cleanly")
    check(b"data:" not in c.body and b": ok" not in c.body,
          where + ": an event stream was opened: %r" % c.body[:200])
    plain = (c.header("Content-Type") or "").startswith("text/plain")
    if how == W or (c.status == 400 and plain):
        eq(c.status, 400, where + " status (body %r)" % c.body[:200])
        check_worker_reason(c, where, reason)
    elif how == L:
        eq(c.status, 400, where + " status (body %r)" % c.body[:200])
    else:
        check(c.status in (400, 414, 431), "%s: status %r, want 400 from the "
              "worker or lighttpd's 400/414/431" % (where, c.status))
    return c.status, c.body.strip()[:80] if plain else b"(lighttpd page)"


def run_http_rows(gw, table, rows):
    r = Rows(table)
    for row in rows:
        def one(row=row):
            status, what = check_refused(gw, row)
            return "%d %s" % (status, what.decode(errors="replace"))
        r.row(row[0], one)
    r.done()


def test_http_bad_requests_refused_with_400(gw):
    with guarded(gw, "bad HTTP requests"):
        run_http_rows(gw, "HTTP", HTTP_ROWS)


def test_http_limits_are_exact(gw):
    """The good side of each limit is accepted: 128-byte key, 32 keys, the
    same key 40 times, a 256-byte lastEventId."""
    with guarded(gw, "HTTP limits"):
        for name, path in [
                ("key of 128 bytes", "/sse?key=" + "k" * 128),
                ("32 distinct keys", "/sse?" + "&".join(
                    "key=k%d" % i for i in range(32))),
                ("one key 40 times", "/sse?" + "&".join(["key=same"] * 40)),
                ("lastEventId of 256 bytes", "/sse?key=k&lastEventId=" +
                 "i" * 256)]:
            c = gw.stream(path, wait_ok=False)
            try:
                c.wait_ok()
            except AssertionError as e:
                raise AssertionError("%s: %s" % (name, e))
            finally:
                c.close()


def test_methods_other_than_get_head_get_405(gw):
    with guarded(gw, "methods"):
        for prefix in ("/sse?key=fine", "/sse/fine", "/sse?key=bad!",
                       "/cgi/sse?key=fine"):
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                where = "%s %s" % (method, prefix)
                body = b"x=1" if method != "DELETE" else None
                c = harness.http_request(gw.port, method, prefix, body=body)
                eq(c.status, 405, where + " status (body %r)" % c.body[:200])
                allow = c.header("Allow") or ""
                eq(sorted(m.strip() for m in allow.split(",")),
                   ["GET", "HEAD"], where + " Allow header (%r)" % allow)
                check_worker_reason(c, where, "method")


def test_raw_bytes_reach_the_worker_and_are_refused():
    """lighttpd configured not to refuse control bytes, %FF and long
    headers itself, so each reaches the worker, which must refuse it."""
    # A Gateway points the sanitizers' log_path at its own scratch
    # directory for the whole process: give it back to the main one after.
    saved = {v: os.environ.get(v) for v in ("ASAN_OPTIONS", "UBSAN_OPTIONS")}
    try:
        raw_bytes_rows()
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val


def raw_bytes_rows():
    with Gateway("bad_input_raw", extra_conf=PERMISSIVE,
                 heartbeat=300) as gw:
        with guarded(gw, "raw bytes through a permissive lighttpd"):
            run_http_rows(gw, "raw HTTP", RAW_ROWS)
            # exactly 8192 bytes of query are still accepted
            q = "key=k&pad=" + "p" * (8192 - len("key=k&pad="))
            c = gw.stream("/sse?" + q, wait_ok=False)
            try:
                c.wait_ok()
            finally:
                c.close()


# ---------------------------------------------------------------------------
# sse-push
# ---------------------------------------------------------------------------

# (name, args before the key or whole args with {key}, stdin, exit status,
#  stderr substring). "{key}" is replaced by the group's healthy key, so a
# row wrongly accepted shows up on its stream.
PUSH_ROWS = [
    ("empty key", ["", "m"], None, EX_DATAERR, "key is empty"),
    ("key of 129 bytes", ["k" * 129, "m"], None, EX_DATAERR,
     "longer than 128"),
    ("key with a space", ["a b", "m"], None, EX_DATAERR, "outside"),
    ("key with a newline", ["a\nb", "m"], None, EX_DATAERR, "outside"),
    ("key with a tab", ["a\tb", "m"], None, EX_DATAERR, "outside"),
    ("key with a slash", ["a/b", "m"], None, EX_DATAERR, "outside"),
    ("key with a UTF-8 letter", ["caf\u00e9", "m"], None, EX_DATAERR,
     "outside"),
    ("--event with CR", ["-e", "a\rb", "{key}", "m"], None, EX_DATAERR,
     "CR, LF or NUL"),
    ("--event with LF", ["-e", "a\nb", "{key}", "m"], None, EX_DATAERR,
     "CR, LF or NUL"),
    ("--event with CRLF injection", ["-e", "x\r\ndata: evil", "{key}", "m"],
     None, EX_DATAERR, "CR, LF or NUL"),
    ("--event empty", ["-e", "", "{key}", "m"], None, EX_DATAERR, "empty"),
    ("--event of 129 bytes", ["-e", "e" * 129, "{key}", "m"], None,
     EX_DATAERR, "longer than 128"),
    ("--event not UTF-8", ["-e", b"caf\xe9", "{key}", "m"], None, EX_DATAERR,
     "UTF-8"),
    ("--id with CR", ["-i", "1\r2", "{key}", "m"], None, EX_DATAERR,
     "CR, LF or NUL"),
    ("--id with LF", ["-i", "1\nevent: evil", "{key}", "m"], None,
     EX_DATAERR, "CR, LF or NUL"),
    ("--id empty", ["-i", "", "{key}", "m"], None, EX_DATAERR, "empty"),
    ("--id of 257 bytes", ["-i", "i" * 257, "{key}", "m"], None, EX_DATAERR,
     "longer than 256"),
    ("--id not UTF-8", ["--id", b"\xff", "{key}", "m"], None, EX_DATAERR,
     "UTF-8"),
    ("--retry -1", ["--retry", "-1", "{key}", "m"], None, EX_DATAERR,
     "retry"),
    ("--retry abc", ["--retry", "abc", "{key}", "m"], None, EX_DATAERR,
     "retry"),
    ("--retry 99999999999", ["--retry", "99999999999", "{key}", "m"], None,
     EX_DATAERR, "retry"),
    ("--retry 1.5", ["--retry", "1.5", "{key}", "m"], None, EX_DATAERR,
     "retry"),
    ("--retry empty", ["--retry", "", "{key}", "m"], None, EX_DATAERR,
     "retry"),
    ("--retry over one day", ["--retry", "86400001", "{key}", "m"], None,
     EX_DATAERR, "retry"),
    ("message with NUL (stdin)", ["{key}"], b"a\0b\n", EX_DATAERR, "NUL"),
    ("message that is binary (stdin)", ["{key}"],
     bytes(range(256)) * 4, EX_DATAERR, None),
    ("message not UTF-8 (stdin)", ["{key}"], b"caf\xe9\n", EX_DATAERR,
     "UTF-8"),
    ("message not UTF-8 (argv)", ["{key}", b"\xc3\x28"], None, EX_DATAERR,
     "UTF-8"),
    ("message with a surrogate (stdin)", ["{key}"], b"\xed\xa0\x80",
     EX_DATAERR, "UTF-8"),
    ("message of 262145 bytes (stdin)", ["{key}"], b"x" * 262145,
     EX_DATAERR, "longer"),
    ("--lines, first line not UTF-8", ["--lines", "{key}"], b"\xff\nok\n",
     EX_DATAERR, "line 1"),
    ("--lines, line with NUL", ["--lines", "{key}"], b"a\0b\n", EX_DATAERR,
     "line 1"),
    ("--lines, line over the limit", ["--lines", "--data-max", "10",
                                      "{key}"], b"x" * 100 + b"\n",
     EX_DATAERR, "line 1"),
    ("unknown long option", ["--bogus", "{key}", "m"], None, EX_USAGE,
     "bogus"),
    ("unknown short option", ["-Z", "{key}", "m"], None, EX_USAGE, None),
    ("option value missing", ["--event"], None, EX_USAGE, None),
    ("--timeout abc", ["--timeout", "abc", "{key}", "m"], None, EX_USAGE,
     None),
    ("--timeout 0", ["--timeout", "0", "{key}", "m"], None, EX_USAGE, None),
    ("--data-max -1", ["--data-max", "-1", "{key}", "m"], None, EX_USAGE,
     None),
    ("no KEY", ["-e", "x"], None, EX_USAGE, None),
    ("too many operands", ["{key}", "m", "extra"], None, EX_USAGE, None),
    ("--all with a KEY", ["--all", "{key}", "m"], None, EX_USAGE, None),
    ("--lines with --id", ["--lines", "-i", "1", "{key}"], b"x\n", EX_USAGE,
     None),
    ("--push-endpoint foo://x", ["--push-endpoint", "foo://x", "{key}",
                                 "m"], None, EX_USAGE, None),
    ("--push-endpoint not an endpoint", ["--push-endpoint", "nonsense",
                                         "{key}", "m"], None, EX_USAGE, None),
    ("--push-endpoint ipc path that does not exist",
     ["--push-endpoint", "ipc:///nonexistent-sse/push.sock", "{key}", "m"],
     None, EX_UNAVAILABLE, "not reachable"),
    ("--rundir that does not exist", ["--rundir", "/nonexistent-sse",
                                      "{key}", "m"], None, EX_UNAVAILABLE,
     "not reachable"),
    ("--push-endpoint tcp port 1, --timeout 300",
     ["--timeout", "300", "--push-endpoint", "tcp://127.0.0.1:1", "{key}",
      "m"], None, EX_UNAVAILABLE, None),
]


class Rows:
    """Run every row of a table, print each, and fail at the end naming
    every row that failed (one bad row does not hide the others)."""

    def __init__(self, table):
        self.table = table
        self.failed = []

    def row(self, name, fn):
        try:
            text = fn()
        except (AssertionError, subprocess.TimeoutExpired) as e:
            self.failed.append("%s: %s" % (name, e))
            print("  row %-45s -> FAIL %s" % (name, str(e)[:300]))
        else:
            print("  row %-45s -> %s" % (name, text))

    def done(self):
        check(not self.failed, "%d of the %s rows failed:\n    %s" % (
            len(self.failed), self.table, "\n    ".join(self.failed)))


def one_line(err, what):
    check(err.endswith(b"\n") and err.count(b"\n") == 1 and
          len(err.strip()) > 0,
          "%s: exactly one line on stderr, got %r" % (what, err[:500]))


def fill(args, key):
    return [key if a == "{key}" else a for a in args]


def test_push_bad_arguments_and_stdin(gw):
    with guarded(gw, "bad sse-push arguments") as key:
        r = Rows("sse-push")
        for name, args, stdin, want, reason in PUSH_ROWS:
            def one(name=name, args=args, stdin=stdin, want=want,
                    reason=reason):
                t0 = time.monotonic()
                try:
                    rc, out, err = gw.push(fill(args, key), stdin=stdin,
                                           timeout=20)
                except subprocess.TimeoutExpired:
                    raise AssertionError("sse-push still running after 20 s")
                took = time.monotonic() - t0
                eq(rc, want, "exit status (stderr %r)" % err)
                one_line(err, name)
                eq(out, b"", "stdout")
                if reason is not None:
                    check(reason.encode() in err, "stderr %r does not say %r"
                          % (err, reason))
                check(took < 5, "took %.1fs" % took)
                return "%d %s" % (rc, err.decode(errors="replace")
                                  .strip()[:90])
            r.row(name, one)
        r.done()


def test_push_huge_stdin_refused_quickly(gw):
    """10 MB on stdin: refused with 65 once past the limit, without reading
    (or keeping) all of it."""
    with guarded(gw, "10 MB on stdin") as key:
        r = Rows("10 MB")
        for name, extra in [("10 MB message", []),
                            ("10 MB message, --data-max 1000",
                             ["--data-max", "1000"]),
                            ("10 MB single line, --lines", ["--lines"]),
                            ("10 MB of lines, one over the limit, --lines",
                             ["--lines", "--data-max", "100"])]:
            def one(name=name, extra=extra):
                big, to = b"y" * (10 << 20), key
                if "--data-max" in extra and "--lines" in extra:
                    # good lines first: not on the healthy key
                    big, to = b"ok\n" * 1000 + big, "bi-big"
                t0 = time.monotonic()
                try:
                    rc, out, err = gw.push(extra + [to], stdin=big,
                                           timeout=20)
                except subprocess.TimeoutExpired:
                    raise AssertionError("still running after 20 s")
                took = time.monotonic() - t0
                eq(rc, EX_DATAERR, "exit status (stderr %r)" % err)
                one_line(err, name)
                check(took < 5, "took %.1fs" % took)
                return "%d in %.2fs: %s" % (rc, took, err.decode(
                    errors="replace").strip())
            r.row(name, one)
        r.done()


def run_push(gw, args, **kw):
    p = subprocess.run([harness.SSE_PUSH] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=gw.env(), timeout=20,
                       **kw)
    for marker in harness.SANITIZER_MARKERS:
        check(marker.encode() not in p.stderr, "sse-push %r: %s" % (
            args, p.stderr.decode(errors="replace")[:1500]))
    return p.returncode, p.stdout, p.stderr


def run_push_closed_stdin(gw, args, timeout=10):
    """sse-push args with its fd 0 closed."""
    try:
        p = subprocess.run(["/bin/sh", "-c", 'exec "$0" "$@" <&-',
                            harness.SSE_PUSH] + args,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=gw.env(),
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("sse-push %s with fd 0 closed still running "
                             "after %d s (killed)" % (" ".join(args),
                                                      timeout))
    for marker in harness.SANITIZER_MARKERS:
        check(marker.encode() not in p.stderr, "sse-push %r: %s" % (
            args, p.stderr.decode(errors="replace")[:1500]))
    return p.returncode, p.stdout, p.stderr


def test_push_closed_stdin(gw):
    with guarded(gw, "closed stdin"):
        c = gw.stream("/sse?key=bi-empty")
        try:
            gw.wait_live(c, "bi-empty")
            # /dev/null: an empty message, sent
            rc, out, err = run_push(gw, ["bi-empty"],
                                    stdin=subprocess.DEVNULL)
            eq(rc, EX_OK, "stdin /dev/null: exit status (stderr %r)" % err)
            eq(err, b"", "stdin /dev/null: stderr")
            eq([(e.type, e.data) for e in c.wait_for_events(1)],
               [("message", "")], "stdin /dev/null: the empty event")
            # fd 0 really closed: 66, nothing sent
            r = Rows("closed stdin")
            for name, args in [("fd 0 closed", ["bi-empty"]),
                               ("fd 0 closed, --lines",
                                ["--lines", "bi-empty"]),
                               ("fd 0 closed, --all", ["--all"])]:
                def one(name=name, args=args):
                    # closed by a shell, not by preexec_fn, which is unsafe
                    # while the stream's reader thread runs
                    rc, out, err = run_push_closed_stdin(gw, args)
                    eq(rc, EX_NOINPUT, "exit status (stderr %r)" % err)
                    one_line(err, name)
                    check(b"stdin" in err, "stderr %r" % err)
                    return "%d %s" % (rc, err.decode(errors="replace")
                                      .strip())
                r.row(name, one)
            time.sleep(0.3)
            eq(len(c.real_events()), 1, "events on bi-empty")
            r.done()
        finally:
            c.close()


def test_push_lines_stop_at_invalid_line(gw):
    """--lines: an invalid line ends the run with 65 naming it; the lines
    before it are delivered exactly once, the ones after it never."""
    with guarded(gw, "--lines with an invalid line"):
        c = gw.stream("/sse?key=bi-lines")
        try:
            gw.wait_live(c, "bi-lines")
            # all at once: the valid lines and the bad one in one read
            rc, out, err = gw.push(["--lines", "-e", "l1", "bi-lines"],
                                   stdin=b"one\ntwo\nthree\nbad\xff\nafter\n")
            eq(rc, EX_DATAERR, "one write: exit status (stderr %r)" % err)
            one_line(err, "one write")
            check(b"line 4" in err, "one write: stderr names line 4: %r" %
                  err)
            gw.push_ok(["-e", "mark", "bi-lines", "mark1"])
            evs = c.wait_for_events(1)
            harness.wait_until(lambda: any(e.type == "mark" for e in
                                           c.real_events()), 5)
            time.sleep(0.3)
            eq([(e.type, e.data) for e in c.real_events()],
               [("l1", "one"), ("l1", "two"), ("l1", "three"),
                ("mark", "mark1")],
               "one write: the lines before the bad one, exactly once, then "
               "the marker")
            n0 = len(c.real_events())
            # line by line: the good lines are out before the bad one comes
            p = subprocess.Popen([harness.SSE_PUSH, "--lines", "-e", "l2",
                                  "bi-lines"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=gw.env())
            try:
                p.stdin.write(b"first\nsecond\n")
                p.stdin.flush()
                evs = c.wait_for_events(n0 + 2)
                p.stdin.write(b"third \xc0\xaf\nfourth\n")
                p.stdin.flush()
                rc = p.wait(timeout=10)
                err = p.stderr.read()
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                for f in (p.stdin, p.stdout, p.stderr):
                    try:
                        f.close()
                    except OSError:
                        pass
            eq(rc, EX_DATAERR, "line by line: exit status (stderr %r)" % err)
            one_line(err, "line by line")
            check(b"line 3" in err, "line by line: stderr names line 3: %r"
                  % err)
            time.sleep(0.3)
            evs = c.real_events()[n0:]
            eq([(e.type, e.data) for e in evs],
               [("l2", "first"), ("l2", "second")],
               "line by line: the lines before the bad one, exactly once")
        finally:
            c.close()


# ---------------------------------------------------------------------------
# Broker wire messages (grammar in src/sse_wire.h)
# ---------------------------------------------------------------------------

RETRY_NONE = 0xFFFFFFFF


def publish(key=b"k", name=b"", id_=b"", retry=RETRY_NONE, data=b"x",
            flags=0, seq=7, version=2, kind=b"P", key_len=None,
            name_len=None, id_len=None, data_len=None):
    """A publish frame; any length field may be forced to a wrong value."""
    def n(v, real):
        return real if v is None else v
    return (bytes([version]) + kind + bytes([flags]) +
            struct.pack(">I", seq) +
            bytes([n(key_len, len(key))]) + key +
            bytes([n(name_len, len(name))]) + name +
            struct.pack(">H", n(id_len, len(id_))) + id_ +
            struct.pack(">I", retry) +
            struct.pack(">I", n(data_len, len(data))) + data)


def decode_ack(b):
    """(seq, status, reason) of an ack frame; raises if it is not one."""
    check(len(b) >= 8 and b[0] == 2 and b[1:2] == b"A",
          "not an ack frame: %r" % b[:40])
    seq, status, rlen = struct.unpack(">IBB", b[2:8])
    eq(len(b), 8 + rlen, "ack frame length")
    return seq, status, b[8:]


def wire_rows(key):
    """(name, frames, seq echoed or None, reason substring) for the rows
    aimed at key; every row must be refused with status 1."""
    k = key.encode()
    good = publish(key=k, data=b"EVIL", seq=4242)
    rows = [
        ("empty frame", [b""], None, "malformed"),
        ("one byte, the version", [b"\x02"], None, "malformed"),
        ("one byte, another version", [b"\x09"], None, "version"),
        ("version 1", [publish(key=k, version=1, seq=11)], None, "version"),
        ("version 3", [publish(key=k, version=3, seq=12)], None, "version"),
        ("version 0", [publish(key=k, version=0, seq=13)], None, "version"),
        ("type ack", [publish(key=k, kind=b"A", seq=14)], None,
         "not a publish"),
        ("type deliver", [publish(key=k, kind=b"D", seq=15)], None,
         "not a publish"),
        ("type replay", [publish(key=k, kind=b"R", seq=16)], None,
         "not a publish"),
        ("unknown flag 0x08", [publish(key=k, flags=8, seq=17)], None,
         "flags"),
        ("unknown flag 0x80", [publish(key=k, flags=0x80, seq=18)], None,
         "flags"),
        ("trailing byte", [good + b"\0"], 4242, "malformed"),
        ("trailing kilobyte", [good + b"t" * 1024], 4242, "malformed"),
        ("key-len past the end", [publish(key=k, key_len=200, seq=19)], 19,
         "malformed"),
        ("name-len past the end", [publish(key=k, name=b"n", name_len=250,
                                           seq=20)], 20, "malformed"),
        ("id-len past the end", [publish(key=k, id_=b"1", id_len=60000,
                                         seq=21)], 21, "malformed"),
        ("data-len 4 GB - 1", [publish(key=k, data_len=0xFFFFFFFF,
                                       seq=22)], 22, "malformed"),
        ("data-len one byte long", [publish(key=k, data=b"abc",
                                            data_len=4, seq=23)], 23,
         "malformed"),
        ("data-len one byte short", [publish(key=k, data=b"abc",
                                             data_len=2, seq=24)], 24,
         "malformed"),
        ("data over the broker's limit", [publish(key=k, data=b"d" * 262145,
                                                  seq=25)], 25,
         "longer than the limit"),
        ("key of 129 bytes", [publish(key=b"k" * 129, seq=26)], 26,
         "longer than 128"),
        ("key of 255 bytes", [publish(key=b"k" * 255, seq=27)], 27,
         "longer than 128"),
        ("empty key, not a broadcast", [publish(key=b"", seq=28)], 28,
         "key is empty"),
        ("key with a space", [publish(key=b"a b", seq=29)], 29, "outside"),
        ("key with NUL", [publish(key=k + b"\0x", seq=30)], 30, "outside"),
        ("key with a UTF-8 letter", [publish(key=b"caf\xc3\xa9", seq=31)],
         31, "outside"),
        ("broadcast with a key", [publish(key=k, flags=2, seq=32)], 32,
         "carries a key"),
        ("CR in event name", [publish(key=k, name=b"a\rb", seq=33)], 33,
         "CR, LF or NUL"),
        ("LF in event name", [publish(key=k, name=b"a\ndata: evil",
                                      seq=34)], 34, "CR, LF or NUL"),
        ("NUL in event name", [publish(key=k, name=b"a\0b", seq=35)], 35,
         "CR, LF or NUL"),
        ("event name not UTF-8", [publish(key=k, name=b"\xff", seq=36)], 36,
         "UTF-8"),
        ("event name of 129 bytes", [publish(key=k, name=b"n" * 129,
                                             seq=37)], 37,
         "longer than 128"),
        ("CR in id", [publish(key=k, id_=b"1\r2", seq=38)], 38,
         "CR, LF or NUL"),
        ("LF in id", [publish(key=k, id_=b"1\nretry: 1", seq=39)], 39,
         "CR, LF or NUL"),
        ("NUL in id", [publish(key=k, id_=b"1\0", seq=40)], 40,
         "CR, LF or NUL"),
        ("id not UTF-8", [publish(key=k, id_=b"\xc0\xaf", seq=41)], 41,
         "UTF-8"),
        ("id of 257 bytes", [publish(key=k, id_=b"i" * 257, seq=42)], 42,
         "longer than 256"),
        ("retry over one day", [publish(key=k, retry=86400001, seq=43)], 43,
         "retry"),
        ("retry 0xFFFFFFFE", [publish(key=k, retry=0xFFFFFFFE, seq=44)], 44,
         "retry"),
        ("NUL in data", [publish(key=k, data=b"a\0b", seq=45)], 45, "NUL"),
        ("data not UTF-8", [publish(key=k, data=b"\xff\xfe", seq=46)], 46,
         "UTF-8"),
        ("two frames", [good, good], None, "malformed publish message"),
        ("empty delimiter, then a frame", [b"", good], None,
         "malformed publish message"),
        ("a frame, then an empty one", [good, b""], None,
         "malformed publish message"),
        ("three garbage frames", [b"\xff" * 3, b"\0", b"zzz"], None,
         "malformed publish message"),
    ]
    # every proper prefix of a good frame is truncated
    for i in range(len(good)):
        rows.append(("truncated to %d of %d bytes" % (i, len(good)),
                     [good[:i]], 4242 if i >= 7 else None, None))
    return rows


def skip_without_zmq(what):
    if zmq is None:
        print("  SKIP rows for %s: Python cannot import zmq (install "
              "Debian's python3-zmq, see scripts/install-deps)" % what)
        return True
    return False


def test_broker_push_socket_refuses_malformed_frames(gw):
    if skip_without_zmq("the broker's push socket"):
        return
    ctx = zmq.Context()
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.setsockopt(zmq.RCVTIMEO, 5000)
    d.connect("ipc://" + os.path.join(gw.rundir, "push.sock"))
    try:
        with guarded(gw, "malformed frames on the push socket") as key:
            refused0 = gw.read_log("broker.log").count("publication refused")
            rows = wire_rows(key)
            # first a good frame from this socket (to another key): the
            # encoder is right
            d.send(publish(key=b"bi-control", data=b"control", seq=99))
            eq(decode_ack(d.recv())[:2], (99, 0), "control row: ack")
            r = Rows("push socket")
            for name, frames, seq, reason in rows:
                def one(frames=frames, seq=seq, reason=reason):
                    d.send_multipart(frames)
                    try:
                        ack = d.recv()
                    except zmq.Again:
                        raise AssertionError("no ack within 5 s")
                    check(not d.getsockopt(zmq.RCVMORE), "one-frame ack")
                    got_seq, status, why = decode_ack(ack)
                    eq(status, 1, "ack status (reason %r)" % why)
                    check(len(why) > 0 and all(32 <= b < 127 for b in why),
                          "printable reason: %r" % why)
                    if reason is not None:
                        check(reason.encode() in why, "reason %r does not "
                              "say %r" % (why, reason))
                    eq(got_seq, seq if seq is not None else 0, "seq")
                    return "status %d seq %d: %s" % (status, got_seq,
                                                     why.decode())
                r.row(name, one)
            r.done()
            check(d.poll(300) == 0, "an extra ack arrived: %r" % (
                d.recv() if d.poll(0) else None))
            check(harness.wait_until(
                lambda: gw.read_log("broker.log").count(
                    "publication refused") - refused0 >= len(rows), 5),
                "the broker logged one 'publication refused' per row")
            # and a good frame from the same socket is still taken
            d.send(publish(key=b"bi-control", data=b"control", seq=100))
            eq(decode_ack(d.recv())[:2], (100, 0), "good frame after rows")
    finally:
        d.close()
        ctx.term()


def replay(req=1, topic=b"w" + b"0" * 16 + b"\0", after=0, after_bytes=b"",
           after_len=None, keys=(b"k",), nkeys=None, version=2, kind=b"R"):
    return (bytes([version]) + kind + struct.pack(">Q", req) +
            bytes([len(topic)]) + topic + bytes([after]) +
            struct.pack(">H", len(after_bytes) if after_len is None
                        else after_len) + after_bytes +
            bytes([len(keys) if nkeys is None else nkeys]) +
            b"".join(bytes([len(k)]) + k for k in keys))


def test_broker_pub_socket_ignores_garbage(gw):
    """Garbage from an XSUB peer on the workers' socket is logged and
    ignored; a peer's unsubscriptions never cut a real worker's."""
    if skip_without_zmq("the broker's pub socket"):
        return
    ctx = zmq.Context()
    x = ctx.socket(zmq.XSUB)
    x.setsockopt(zmq.LINGER, 0)
    x.setsockopt(zmq.RCVTIMEO, 5000)
    x.connect("ipc://" + os.path.join(gw.rundir, "pub.sock"))
    mine = b"w" + b"f00dfacecafe0001" + b"\0"     # a worker topic nobody has
    try:
        with guarded(gw, "garbage on the pub socket") as key:
            k = key.encode()
            topic = b"k" + k + b"\0"
            # control: subscribe to our own worker topic (hello), then a
            # good replay request on it gets its answer
            x.send(b"\x01" + mine)
            eq(x.recv_multipart()[0], mine, "hello on our worker topic")
            x.send(replay(req=77, topic=mine, keys=(k,)))
            frames = x.recv_multipart()
            eq(frames[0], mine, "control replay: topic")
            body = frames[1]
            check(body[:2] == b"\x02Y", "control replay: answer %r"
                  % body[:20])
            eq(struct.unpack(">Q", body[11:19])[0], 77, "control replay req")
            warned0 = gw.read_log("broker.log").count("malformed message")
            bad = [
                ("empty message", b""),
                ("random blob", b"\x7f" + bytes((i * 97 + 13) % 256
                                                for i in range(4095))),
                ("version byte alone", b"\x02"),
                ("version and type alone", b"\x02R"),
                ("replay, wrong version", replay(version=3, topic=mine)),
                ("replay, after-kind 7", replay(topic=mine, after=7)),
                ("replay, after seq of 3 bytes",
                 replay(topic=mine, after=1, after_bytes=b"abc")),
                ("replay, none with 2 after bytes",
                 replay(topic=mine, after=0, after_bytes=b"ab")),
                ("replay, after id with CR",
                 replay(topic=mine, after=2, after_bytes=b"1\r2")),
                ("replay, after id not UTF-8",
                 replay(topic=mine, after=2, after_bytes=b"\xff")),
                ("replay, after-len past the end",
                 replay(topic=mine, after=2, after_bytes=b"1",
                        after_len=5000)),
                ("replay, 33 keys", replay(topic=mine, keys=[
                    b"k%d" % i for i in range(33)])),
                ("replay, key-count past the end",
                 replay(topic=mine, keys=(k,), nkeys=3)),
                ("replay, invalid key", replay(topic=mine, keys=(b"a b",))),
                ("replay, empty key", replay(topic=mine, keys=(b"",))),
                ("replay, key of 129 bytes",
                 replay(topic=mine, keys=(b"k" * 129,))),
                ("replay, trailing byte", replay(topic=mine) + b"\0"),
                ("replay, truncated", replay(topic=mine)[:-1]),
                ("replay, topic-len past the end",
                 replay(topic=mine)[:10] + b"\xff"),
                ("replay, on a key's topic", replay(topic=topic)),
                ("replay, on the broadcast topic", replay(topic=b"*\0")),
                ("replay, uppercase worker topic",
                 replay(topic=b"wF00DFACECAFE0001\0")),
                ("replay, worker topic without NUL",
                 replay(topic=mine[:-1])),
                ("1 MB blob", b"\x05" * (1 << 20)),
            ]
            for name, msg in bad:
                x.send(msg)
            # a peer's subscriptions and unsubscriptions: not logged as
            # malformed, and they never cut the real worker's subscription
            for msg in (b"\x01garbage\xff", b"\x01", b"\x00", b"\x00" + topic,
                        b"\x00*\0", b"\x01" + topic, b"\x00" + topic,
                        b"\x00" + mine):
                x.send(msg)
            ok = harness.wait_until(
                lambda: gw.read_log("broker.log").count("malformed message")
                - warned0 >= len(bad), 10)
            n = gw.read_log("broker.log").count("malformed message") - \
                warned0
            eq(n, len(bad), "broker log lines 'malformed message from a "
               "worker, ignored' for %d bad rows (ok=%r)" % (len(bad), ok))
            for name, _ in bad:
                print("  row %-45s -> logged and ignored" % name)
            # still answers a good request after all that
            x.send(b"\x01" + mine)
            x.send(replay(req=78, topic=mine, keys=(k,)))
            deadline = time.monotonic() + 5
            while True:
                check(time.monotonic() < deadline, "no answer to req 78")
                f = x.recv_multipart()
                if f[0] == mine and len(f) > 1 and \
                        struct.unpack(">Q", f[1][11:19])[0] == 78:
                    break
    finally:
        x.close()
        ctx.term()


if __name__ == "__main__":
    harness.run([
        test_http_bad_requests_refused_with_400,
        test_http_limits_are_exact,
        test_methods_other_than_get_head_get_405,
        test_raw_bytes_reach_the_worker_and_are_refused,
        test_push_bad_arguments_and_stdin,
        test_push_huge_stdin_refused_quickly,
        test_push_closed_stdin,
        test_push_lines_stop_at_invalid_line,
        test_broker_push_socket_refuses_malformed_frames,
        test_broker_pub_socket_ignores_garbage,
    ], setup)
