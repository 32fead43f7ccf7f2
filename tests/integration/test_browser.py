"""End to end in a real browser: Debian's headless Chromium, driven by
playwright-core (tests/browser/driver.mjs), opens the demo page
examples/index.html served by lighttpd next to the sse-fcgi workers,
subscribes through the page's form, and the test reads what the page shows
(the #state line and the #log table) while it publishes with sse-push, kills
the worker holding the stream, and closes the key.

Besides the DOM, an init script (driver.mjs) records what the browser's
EventSource dispatched (type, data, lastEventId, readyState) without
changing the page, and the driver records each /sse request's headers, so
the Last-Event-ID that Chromium sends on its reconnect is checked as sent.

playwright-core comes from tests/browser/package-lock.json, installed with
`npm ci` into $SSE_BUILDDIR/tests/browser/node-deps on the first run and
reused, with no npm run at all, while the lockfile is unchanged. Skips (77)
when lighttpd, chromium, node or npm is not installed."""

import fcntl
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

BROWSER_SRC = os.path.join(harness.SRCDIR, "tests", "browser")
DRIVER = os.path.join(BROWSER_SRC, "driver.mjs")
DEPS = os.path.join(harness.BUILDDIR, "tests", "browser", "node-deps")
EXAMPLES = os.path.join(harness.SRCDIR, "examples")

KEY = "e2e.browser-%d" % os.getpid()
RETRY_MS = 3000        # SSE_RETRY: the browser's reconnection delay
DOM_TIMEOUT = 15.0     # generous: polls end as soon as the page is there


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium",
                                            os.X_OK) else None


# ---------------------------------------------------------------------------
# playwright-core, installed once per build tree from the lockfile
# ---------------------------------------------------------------------------

def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def deps_ready():
    """node-deps holds exactly the committed package.json and lockfile and
    the locked playwright-core."""
    for name in ("package.json", "package-lock.json"):
        if read(os.path.join(DEPS, name)) != read(os.path.join(BROWSER_SRC,
                                                                name)):
            return False
    try:
        lock = json.loads(read(os.path.join(BROWSER_SRC, "package-lock.json")))
        want = lock["packages"]["node_modules/playwright-core"]["version"]
        got = json.loads(read(os.path.join(
            DEPS, "node_modules", "playwright-core", "package.json")))
        return got["version"] == want
    except (TypeError, ValueError, KeyError):
        return False


def install_deps(npm):
    """npm ci into DEPS unless it is already there. Reproducible (the
    lockfile, integrity hashes), no install scripts, and from npm's cache
    when it has the package. Returns None, or a failure text."""
    os.makedirs(DEPS, exist_ok=True)
    with open(os.path.join(DEPS, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)      # parallel make check
        if deps_ready():
            return None
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(BROWSER_SRC, name),
                            os.path.join(DEPS, name))
        log = os.path.join(DEPS, "npm-ci.log")
        with open(log, "wb") as out:
            try:
                rc = subprocess.run(
                    [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                     "--prefer-offline", "--loglevel", "warn"],
                    cwd=DEPS, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, timeout=300).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        if rc != 0 or not deps_ready():
            return "npm ci in %s failed (%s): %s" % (
                DEPS, rc, (read(log) or b"").decode(errors="replace")[-2000:])
        return None


# ---------------------------------------------------------------------------
# the browser
# ---------------------------------------------------------------------------

class Browser:
    """node driver.mjs with one Chromium page; call(op, ...) runs one
    command and returns its value (raises on an error or a timeout)."""

    def __init__(self, gw, node, chromium):
        self.profile = os.path.join(gw.scratch, "chromium-profile")
        os.makedirs(self.profile)
        self.log_path = os.path.join(gw.scratch, "browser.log")
        self.log = open(self.log_path, "ab")
        self.n = 0
        self.broken = None      # why the driver stopped answering
        self.replies = queue.Queue()
        self.p = subprocess.Popen(
            [node, DRIVER, "--deps", DEPS, "--chromium", chromium,
             "--profile", self.profile],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            cwd=gw.scratch)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            first = self._get(60.0, "browser start")
            check(first.get("ready"), "driver: %r" % first)
            self.version = first
        except BaseException:
            self.close()
            raise

    def _read(self):
        for line in self.p.stdout:
            try:
                self.replies.put(json.loads(line))
            except ValueError:
                self.replies.put({"bad": line.decode(errors="replace")})
        self.replies.put(None)

    def _get(self, timeout, what):
        if self.broken:
            raise AssertionError("%s: %s" % (what, self.broken))
        try:
            m = self.replies.get(timeout=timeout)
        except queue.Empty:
            m = None
            self.broken = "no answer from the driver within %.0fs" % timeout
        if m is None:
            self.broken = self.broken or "the driver exited (%r)" % (
                self.p.poll(),)
            raise AssertionError("%s: %s; browser.log: %s" % (
                what, self.broken, self.log_tail()))
        return m

    def log_tail(self):
        self.log.flush()
        return (read(self.log_path) or b"").decode(errors="replace")[-3000:]

    def call(self, op, timeout=30.0, **kw):
        self.n += 1
        kw.update(id=self.n, op=op)
        self.p.stdin.write(json.dumps(kw).encode() + b"\n")
        self.p.stdin.flush()
        while True:
            m = self._get(timeout, op)
            if m.get("id") == self.n:
                break
        if not m.get("ok"):
            raise AssertionError("browser %s %r: %s" % (op, kw, m.get("error")))
        return m.get("value")

    def close(self):
        """Close Chromium through the driver; kill what is left by pid."""
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b'{"id": 0, "op": "close"}\n')
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                harness.stop_process(self.p, 5)
        # a Chromium left behind (the driver was killed): by pid, found by
        # its profile directory
        for pid in harness.pids_mentioning([self.profile.encode()]):
            if "chrom" in harness.proc_cmdline(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        harness.wait_until(
            lambda: not harness.pids_mentioning([self.profile.encode()]), 5)
        self.reader.join(5)
        self.p.stdout.close()
        self.log.close()


SNAPSHOT = """(() => {
  const $ = (id) => document.getElementById(id);
  const s = window.__sse || { log: [], sources: [] };
  return {
    state: $("state").className,
    text: $("state").textContent,
    connectDisabled: $("connect").disabled,
    disconnectDisabled: $("disconnect").disabled,
    rows: Array.from($("log").rows).reverse()
      .map((tr) => Array.from(tr.cells, (td) => td.textContent)),
    sse: s.log,
    sources: s.sources.map((e) => ({ url: e.url, readyState: e.readyState })),
  };
})()"""


def snapshot(br):
    return br.call("eval", expr=SNAPSHOT)


def wait_dom(br, pred, what, timeout=DOM_TIMEOUT):
    """Poll the page until pred(snapshot) holds; return that snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        s = snapshot(br)
        if pred(s):
            return s
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %.0fs; the page shows "
                                 "state %r %r, last rows %r" % (
                                     what, timeout, s["state"], s["text"],
                                     s["rows"][-5:]))
        time.sleep(0.1)


def shown(s):
    """The page's rows as (event, lastEventId, data), oldest first."""
    return [tuple(r[1:]) for r in s["rows"]]


def dispatched(s):
    """What EventSource dispatched (not open/error), as (type,
    lastEventId, data)."""
    return [(e["type"], e["lastEventId"], e["data"]) for e in s["sse"]
            if e["type"] not in ("open", "error")]


def opens(s):
    return [e for e in s["sse"] if e["type"] == "open"]


def sse_requests(br, timeout=DOM_TIMEOUT):
    """The page's requests to /sse, each with the headers Chromium sent
    (waits until every one of them has its sent headers)."""
    reqs = []

    def done():
        reqs[:] = [r for r in br.call("requests") if "key=" + KEY in r["url"]]
        return all(r["sent"] for r in reqs)
    check(harness.wait_until(done, timeout, 0.1),
          "the sent headers of the /sse requests: %r" % reqs)
    return reqs


def stream_opens(gw):
    """(worker pid, last-event-id yes/no) of each stream opened on KEY,
    from the workers' debug log."""
    return [(p, lei) for p, _, lei in stream_log(gw)[0]]


def stream_log(gw):
    """From the workers' debug log: the streams opened on KEY as (pid,
    stream, last-event-id yes/no), those closed as {(pid, stream):
    reason}, and the (pid, stream) of those told they may have missed
    events."""
    log = gw.worker_log()
    opened = [(int(p), int(n), lei) for p, n, lei in re.findall(
        r"sse-fcgi\[(\d+)\]: debug: stream open stream=(\d+) keys=%s "
        r"last-event-id=(\w+)" % re.escape(KEY), log)]
    closed = {(int(p), int(n)): why for p, n, why in re.findall(
        r"sse-fcgi\[(\d+)\]: debug: stream closed stream=(\d+) keys=%s "
        r"[^\n]* reason=\"([^\"]*)\"" % re.escape(KEY), log)}
    ours = set((p, n) for p, n, _ in opened)
    missed = [(int(p), int(n)) for p, n in re.findall(
        r"sse-fcgi\[(\d+)\]: info: stream=(\d+) may have missed events",
        log) if (int(p), int(n)) in ours]
    return opened, closed, missed


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# Each published event: (sse-push options, message, the row the page must
# show: event, id or AUTO for an id the broker assigns, data).
AUTO = object()


class Published:
    """Everything the test published to KEY and expects, in order."""

    def __init__(self, gw):
        self.gw = gw
        self.expected = []      # (event, id or AUTO, data)

    def push(self, opts, message, event="message", eid=AUTO, data=None):
        self.gw.push_ok(list(opts) + ["--", KEY, message])
        self.expected.append((event, eid, message if data is None else data))

    def check(self, rows, what):
        """rows (event, id, data) must be exactly the expected ones, in
        order: publisher ids as given, broker ids numeric and growing."""
        last_auto = 0
        for i, (row, exp) in enumerate(zip(rows, self.expected)):
            ev, eid, data = exp
            eq((row[0], row[2]), (ev, data), "%s: event %d name and data" %
               (what, i))
            if eid is AUTO:
                check(re.fullmatch(r"[0-9]+", row[1]) is not None and
                      int(row[1]) > last_auto,
                      "%s: event %d: a broker id above %d, got %r" % (
                          what, i, last_auto, row[1]))
                last_auto = int(row[1])
            else:
                eq(row[1], eid, "%s: event %d id" % (what, i))
        if len(rows) < len(self.expected):
            raise AssertionError("%s: %d events shown, %d published; the "
                                 "first missing: %r" % (
                                     what, len(rows), len(self.expected),
                                     self.expected[len(rows)][::2]))
        if len(rows) > len(self.expected):
            raise AssertionError("%s: %d events shown, %d published; extra: "
                                 "%r" % (what, len(rows), len(self.expected),
                                         rows[len(self.expected):][:5]))


# ---------------------------------------------------------------------------
# the tests, in order, on one page
# ---------------------------------------------------------------------------

class Env:
    def __init__(self, gw, br):
        self.gw = gw
        self.br = br
        self.pub = Published(gw)


def test_demo_page_served(env):
    r = env.br.call("goto", url="http://127.0.0.1:%d/" % env.gw.port)
    eq(r["status"], 200, "GET / status")
    check((r["contentType"] or "").startswith("text/html"),
          "GET / content type %r" % r["contentType"])
    eq(env.br.call("eval", expr="document.title"), "sse-gateway demo",
       "title")
    s = snapshot(env.br)
    eq((s["state"], s["text"], s["rows"]), ("", "not connected", []),
       "before connecting")


def test_subscribe_through_the_form(env):
    br = env.br
    br.call("fill", selector="#keys", value=KEY)
    br.call("fill", selector="#names", value="close,progress,unread")
    br.call("click", selector="#connect")
    s = wait_dom(br, lambda s: s["state"] == "open", "the page shows open")
    eq(s["text"], "open: " + KEY, "state text")
    check(s["connectDisabled"] and not s["disconnectDisabled"],
          "Connect disabled, Disconnect enabled while open")
    eq(len(s["sources"]), 1, "one EventSource")
    eq(s["sources"][0]["readyState"], 1, "readyState OPEN")
    check(s["sources"][0]["url"].endswith("/sse?key=" + KEY),
          "EventSource url %r" % s["sources"][0]["url"])
    eq(len(opens(s)), 1, "one open event")
    reqs = sse_requests(br)
    eq(len(reqs), 1, "one /sse request")
    eq(reqs[0]["headers"].get("accept"), "text/event-stream", "Accept")
    check("last-event-id" not in reqs[0]["headers"],
          "no Last-Event-ID on the first request: %r" % reqs[0]["headers"])
    eq([lei for _, lei in stream_opens(env.gw)], ["no"],
       "the worker opened one stream, without Last-Event-ID")


def wait_rows(env, what, extra=None):
    """Wait until the page shows every expected event, give stragglers
    (duplicates) a moment, and check the rows and what EventSource
    dispatched against the expected list."""
    n = len(env.pub.expected)
    try:
        wait_dom(env.br, lambda s: len(s["rows"]) >= n and
                 (extra is None or extra(s)), what)
    except AssertionError:
        # say what is missing or wrong, if the rows tell
        env.pub.check(shown(snapshot(env.br)), what + " (page)")
        raise
    time.sleep(0.3)
    s = snapshot(env.br)
    env.pub.check(shown(s), what + " (page)")
    eq(dispatched(s), shown(s), what + ": the lastEventId and data "
       "EventSource dispatched are what the page shows")
    return s


def test_events_shown_with_name_id_and_data(env):
    pub = env.pub
    pub.push([], "hello")
    pub.push(["--event", "progress", "--id", "p-1"], "50", "progress", "p-1")
    pub.push(["-e", "unread", "-i", "7"], "line one\nline two\n\nline four",
             "unread", "7")
    pub.push(["--id", "crlf-1"], "a\r\nb\rc", "message", "crlf-1",
             "a\nb\nc")
    pub.push(["--event", "progress"], "", "progress")
    pub.push(["-i", "u:8"], "<b>caf\u00e9</b> \u2713 & \u00e0 bient\u00f4t",
             "message", "u:8")
    # a name the page does not listen to: EventSource dispatches it to no
    # one, and it is not shown
    env.gw.push_ok(["--event", "unlistened", "--id", "x-1", "--", KEY,
                    "not shown"])
    pub.push(["-e", "unread", "-i", "9"], "after the unlistened one",
             "unread", "9")
    s = wait_rows(env, "published events")
    eq(s["state"], "open", "still open")
    eq(len(opens(s)), 1, "no reconnect")


def test_worker_killed_page_reconnects_and_replays(env):
    gw, br, pub = env.gw, env.br, env.pub
    before = snapshot(br)
    last_id = shown(before)[-1][1]
    holders = stream_opens(gw)
    eq(len(holders), 1, "one stream so far")
    pid = holders[-1][0]
    check(pid in gw.worker_pids(), "worker %d of the stream runs" % pid)
    n_requests = len(sse_requests(br))

    os.kill(pid, signal.SIGKILL)
    s = wait_dom(br, lambda s: s["state"] == "connecting",
                 "the page shows the connection lost")
    eq(s["text"], "connection lost, reconnecting ...", "state text")
    check(harness.wait_until(lambda: not alive(pid), 10),
          "killed worker %d gone" % pid)
    # published while the page has no connection (it waits RETRY_MS)
    t0 = time.monotonic()
    pub.push(["-i", "d-1"], "missed 1", "message", "d-1")
    pub.push(["-e", "progress"], "missed 2\nsecond line", "progress")
    pub.push(["-e", "unread", "-i", "d-3"], "missed 3", "unread", "d-3")
    pub.push([], "missed 4")
    took = time.monotonic() - t0
    s = snapshot(br)
    check(s["state"] == "connecting" and len(s["rows"]) == len(before["rows"]),
          "published while disconnected (took %.2fs; the page shows %r, %d "
          "rows)" % (took, s["text"], len(s["rows"])))

    s = wait_rows(env, "events missed while disconnected, replayed",
                  extra=lambda s: s["state"] == "open")
    eq(s["text"], "open: %s (reconnected 1x)" % KEY, "state text")
    eq(len(opens(s)), 2, "open events")
    eq(len(s["sources"]), 1, "the same EventSource reconnected by itself")
    reqs = sse_requests(br)
    eq(len(reqs), n_requests + 1, "one reconnection request")
    eq(reqs[-1]["headers"].get("last-event-id"), last_id,
       "Last-Event-ID sent on the reconnect")
    eq([lei for _, lei in stream_opens(gw)], ["no", "yes"],
       "worker log: the second stream came with Last-Event-ID")
    check(stream_opens(gw)[-1][0] != pid, "a live worker took the stream")

    # and it is live again
    pub.push(["-e", "progress", "-i", "live-1"], "live again", "progress",
             "live-1")
    wait_rows(env, "live after the reconnect")
    check(harness.wait_until(
        lambda: len(gw.worker_pids()) == gw.max_procs and
        pid not in gw.worker_pids(), 10),
        "lighttpd runs %d workers again: %r" % (gw.max_procs,
                                                gw.worker_pids()))


def test_worker_killed_while_publishing(env):
    """Events keep coming (sse-push --lines) while the worker of the stream
    is killed: the page still shows each exactly once, in order."""
    gw, br, pub = env.gw, env.br, env.pub
    total = 150
    base = len(pub.expected)
    n_opens = len(opens(snapshot(br)))
    lp = harness.LinePublisher(gw, ["--", KEY], total, every=0.01,
                               line=lambda i: "n=%d" % i)
    try:
        lp.start()
        wait_dom(br, lambda s: len(s["rows"]) >= base + 40,
                 "40 line events shown")
        pid = stream_opens(gw)[-1][0]
        os.kill(pid, signal.SIGKILL)
        rc, err = lp.finish()
        eq(rc, 0, "sse-push --lines (stderr %r)" % err)
    finally:
        lp.kill()
    for i in range(total):
        pub.expected.append(("message", AUTO, "n=%d" % i))
    s = wait_rows(env, "line events across a worker kill",
                  extra=lambda s: s["state"] == "open")
    eq(len(opens(s)), n_opens + 1, "reconnected once")
    eq(s["text"], "open: %s (reconnected %dx)" % (KEY, n_opens), "state")
    eq(stream_opens(gw)[-1][1], "yes", "the reconnect had Last-Event-ID")


def test_close_shows_closed_and_stays_closed(env):
    gw, br, pub = env.gw, env.br, env.pub
    n_requests = len(sse_requests(br))
    n_streams = len(stream_opens(gw))
    pub.push(["--close"], "bye", "close")
    s = wait_rows(env, "the close event", extra=lambda s: s["state"] ==
                  "closed")
    eq(s["text"], "closed by the server: bye", "state text")
    check(not s["connectDisabled"] and s["disconnectDisabled"],
          "Connect enabled, Disconnect disabled once closed")
    eq(s["sources"][0]["readyState"], 2, "readyState CLOSED")
    # longer than the reconnection delay: no new request
    time.sleep(RETRY_MS / 1000.0 + 0.5)
    s = snapshot(br)
    eq(s["state"], "closed", "still closed")
    eq(len(sse_requests(br)), n_requests, "no reconnection request")
    opened, closed, missed = stream_log(gw)
    eq(len(opened), n_streams, "no new stream in the worker log")
    last = opened[-1][:2]
    check(last in closed, "the worker closed the stream %r: closed %r" % (
        last, closed))
    eq(missed, [], "streams of the page told that they may have missed "
       "events")
    # a later event: the page shows nothing new
    gw.push_ok(["--", KEY, "after close"])
    time.sleep(0.5)
    eq(len(snapshot(br)["rows"]), len(pub.expected), "nothing after close")
    eq(br.call("errors"), [], "uncaught errors on the page")


TESTS = [
    test_demo_page_served,
    test_subscribe_through_the_form,
    test_events_shown_with_name_id_and_data,
    test_worker_killed_page_reconnects_and_replays,
    test_worker_killed_while_publishing,
    test_close_shows_closed_and_stays_closed,
]


class Setup:
    """The gateway serving examples/, then the browser; torn down in the
    reverse order, so that no Chromium is left when the gateway looks for
    leftovers."""

    def __init__(self, node, chromium):
        self.node = node
        self.chromium = chromium
        self.gw = None
        self.br = None

    def __enter__(self):
        self.gw = harness.Gateway(
            "browser", heartbeat=300, docroot=EXAMPLES,
            broker_args=["--history", "1000"],
            env={"SSE_RETRY": str(RETRY_MS)})
        try:
            self.gw.start()
            self.br = Browser(self.gw, self.node, self.chromium)
            print("# playwright-core %s, Chromium %s" % (
                self.br.version.get("version"),
                self.br.version.get("browser")))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return Env(self.gw, self.br)

    def __exit__(self, *exc):
        try:
            if self.br is not None:
                self.br.close()
        finally:
            self.gw.stop(clean=True)


def main():
    if harness.find_lighttpd() is None:
        print("SKIP: lighttpd is not installed")
        sys.exit(77)
    chromium = find_chromium()
    node = shutil.which("node") or shutil.which("nodejs")
    npm = shutil.which("npm")
    missing = [n for n, p in (("chromium", chromium), ("node", node))
               if p is None]
    if not deps_ready() and npm is None:
        missing.append("npm")
    if missing:
        print("SKIP: %s not installed (scripts/install-deps)" %
              " and ".join(missing))
        sys.exit(77)
    err = install_deps(npm)
    if err:
        print("FAIL setup: %s" % err)
        print("0 passed, %d failed" % len(TESTS))
        sys.exit(1)
    harness.run(TESTS, setup=lambda: Setup(node, chromium))


if __name__ == "__main__":
    main()
