"""Integration-test harness: a real sse-broker, a real lighttpd spawning the
real sse-fcgi, an SSE client on a raw socket, and a tiny test runner.

Every test file is one automake test run as `python3 tests/integration/X.py`
with SSE_BUILDDIR and SSE_SRCDIR set (absolute). Exit 0 = pass, 1 = fail,
77 = skip (only when lighttpd is not installed).

A Gateway works in its own scratch directory under
$SSE_BUILDDIR/tests/scratch/<name>-<pid>/ on a free port of 127.0.0.1, and
stops every process it started by pid (SIGTERM, then SIGKILL after a
timeout), also when a test fails or raises. It then scans /proc for any
process still mentioning its scratch or run directory and counts a survivor
as a failure.

Run this file directly to self-test the SSE parser and chunked decoder on
hand-made bytes (no programs needed).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BUILDDIR = os.environ.get("SSE_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SRCDIR = os.environ.get("SSE_SRCDIR") or BUILDDIR

SSE_FCGI = os.path.join(BUILDDIR, "src", "sse-fcgi")
SSE_BROKER = os.path.join(BUILDDIR, "src", "sse-broker")
SSE_PUSH = os.path.join(BUILDDIR, "src", "sse-push")

PROBE_EVENT = "__probe"     # event name of liveness probes (filtered out)
SYNC_EVENT = "__sync"       # event name of the marker after the probes

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")

# Generous: tests check behaviour, never speed.
START_TIMEOUT = 20.0
EVENT_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def find_lighttpd():
    """Path of the lighttpd binary, or None."""
    p = shutil.which("lighttpd")
    if p:
        return p
    for p in ("/usr/sbin/lighttpd", "/usr/local/sbin/lighttpd"):
        if os.access(p, os.X_OK):
            return p
    return None


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def can_connect(port, host="127.0.0.1", timeout=0.5):
    """Does something accept TCP connections on host:port now?"""
    try:
        socket.create_connection((host, port), timeout).close()
        return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until it is true or timeout seconds pass; return its
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------
# SSE parsing (WHATWG HTML, "server-sent events")
# ---------------------------------------------------------------------------

class Event:
    """One dispatched event, as a browser's EventSource would see it."""

    def __init__(self, type, data, last_event_id, raw):
        self.type = type                    # "message" or the event: name
        self.data = data                    # str, lines joined by LF
        self.last_event_id = last_event_id  # str (the last-event-id buffer)
        self.raw = raw                      # bytes of the block, blank line incl.

    def __repr__(self):
        return "Event(type=%r, data=%r, id=%r)" % (
            self.type, self.data[:80], self.last_event_id)


class SSEParser:
    """Incremental event-stream parser. feed(bytes) as data arrives, then
    end() at the end of the body. Lines end in CRLF, LF or CR; a leading BOM
    is dropped; ':' starts a comment; fields are data, event, id, retry; an
    event with an empty data buffer is not dispatched."""

    def __init__(self):
        self.buf = b""          # bytes not yet split into lines
        self.first = True       # BOM check pending
        self.events = []        # dispatched Event objects
        self.comments = []      # comment texts (without the ':')
        self.retry = None       # last valid retry value (int ms)
        self.data = []          # data buffer (list of lines)
        self.type = ""          # event type buffer
        self.last_id = ""       # last event ID buffer
        self.block = b""        # raw bytes of the block being built

    def feed(self, b):
        self.buf += b
        if self.first:
            if len(self.buf) < 3 and b"\xef\xbb\xbf".startswith(self.buf):
                return
            if self.buf.startswith(b"\xef\xbb\xbf"):
                self.buf = self.buf[3:]
            self.first = False
        self._lines(final=False)

    def end(self):
        """The stream ended: a trailing CR ends a line; an incomplete line
        and an undispatched event are discarded, as the spec says."""
        self._lines(final=True)

    def _lines(self, final):
        buf = self.buf
        pos = 0
        n = len(buf)
        while pos < n:
            i_lf = buf.find(b"\n", pos)
            i_cr = buf.find(b"\r", pos)
            if i_lf < 0 and i_cr < 0:
                break
            if i_cr >= 0 and (i_lf < 0 or i_cr < i_lf):
                if i_cr + 1 == n and not final:
                    break       # a CR at the end: maybe CRLF, wait
                end = i_cr + 2 if i_cr + 1 < n and buf[i_cr + 1] == 0x0A \
                    else i_cr + 1
                line = buf[pos:i_cr]
            else:
                end = i_lf + 1
                line = buf[pos:i_lf]
            self._line(line, buf[pos:end])
            pos = end
        self.buf = buf[pos:]

    def _line(self, raw, whole):
        line = raw.decode("utf-8", errors="replace")
        if not line.startswith(":"):
            self.block += whole     # comments are not part of an event
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            self.comments.append(line[1:])
            return
        if ":" in line:
            name, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        if name == "event":
            self.type = value
        elif name == "data":
            self.data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry":
            if value and all(c in "0123456789" for c in value):
                self.retry = int(value)

    def _dispatch(self):
        raw, self.block = self.block, b""
        if not self.data:
            self.type = ""
            return
        ev = Event(self.type or "message", "\n".join(self.data),
                   self.last_id, raw)
        self.data = []
        self.type = ""
        self.events.append(ev)


class ChunkedDecoder:
    """Incremental HTTP/1.1 chunked transfer-coding decoder."""

    def __init__(self):
        self.buf = b""
        self.left = None        # bytes left in the current chunk, or None
        self.done = False       # the last chunk (and trailers) arrived
        self.state = "size"     # size, data, crlf, trailer

    def feed(self, b):
        """Return the payload bytes decoded from b. Raises ValueError on a
        malformed stream."""
        self.buf += b
        out = []
        while not self.done:
            if self.state == "size":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    if len(self.buf) > 1024:
                        raise ValueError("chunk size line too long")
                    break
                line = self.buf[:i].split(b";", 1)[0].strip()
                self.buf = self.buf[i + 2:]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise ValueError("bad chunk size %r" % line)
                if size == 0:
                    self.state = "trailer"
                else:
                    self.left = size
                    self.state = "data"
            elif self.state == "data":
                if not self.buf:
                    break
                take = self.buf[:self.left]
                out.append(take)
                self.buf = self.buf[len(take):]
                self.left -= len(take)
                if self.left == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(self.buf) < 2:
                    break
                if self.buf[:2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                self.buf = self.buf[2:]
                self.state = "size"
            elif self.state == "trailer":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    break
                line = self.buf[:i]
                self.buf = self.buf[i + 2:]
                if line == b"":
                    self.done = True
        return b"".join(out)


# ---------------------------------------------------------------------------
# SSE client over a raw socket
# ---------------------------------------------------------------------------

class SSEClient:
    """GET path on 127.0.0.1:port with Accept: text/event-stream, read on a
    thread. Exposes status, reason, headers (list of (name, value), and
    header(name) for the first by lower-case name), body (the decoded body
    bytes so far), events and comments (parsed), closed (the response
    ended), clean_end (it ended by its terminator: last chunk or
    Content-Length, not by a reset), error (an exception text or None)."""

    def __init__(self, port, path, method="GET", headers=None, body=None,
                 connect_timeout=5.0):
        self.port = port
        self.path = path
        self.method = method
        self.cond = threading.Condition()
        self.status = None
        self.reason = None
        self.version = None
        self.headers = []
        self.body = b""
        self.parser = SSEParser()
        self.closed = False
        self.clean_end = False
        self.error = None
        self.sync_body = 0          # len(body) after the sync marker
        self.sync_events = 0        # len(events) after the sync marker
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=connect_timeout)
        self.sock.settimeout(None)
        req = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
               "Accept: text/event-stream", "Cache-Control: no-cache",
               "Connection: close"]
        for k, v in (headers or []):
            req.append("%s: %s" % (k, v))
        if body is not None:
            req.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(req) + "\r\n\r\n").encode("latin-1")
        if body is not None:
            data += body
        self.sock.sendall(data)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    # -- reading ------------------------------------------------------------

    def _run(self):
        head = b""
        dechunk = None
        remaining = None
        try:
            while True:
                try:
                    b = self.sock.recv(65536)
                except OSError as e:
                    if self.status is None or not self.closed:
                        with self.cond:
                            self.error = self.error or "recv: %s" % e
                    b = b""
                if not b:
                    break
                if self.status is None:
                    head += b
                    i = head.find(b"\r\n\r\n")
                    if i < 0:
                        continue
                    self._head(head[:i])
                    b = head[i + 4:]
                    te = (self.header("transfer-encoding") or "").lower()
                    cl = self.header("content-length")
                    if self.method == "HEAD" or self.status in (204, 304):
                        with self.cond:
                            self.clean_end = True
                        break
                    if "chunked" in te:
                        dechunk = ChunkedDecoder()
                    elif cl is not None:
                        remaining = int(cl)
                    with self.cond:
                        self.cond.notify_all()
                if dechunk is not None:
                    b = dechunk.feed(b)
                elif remaining is not None:
                    b = b[:remaining]
                    remaining -= len(b)
                self._body(b)
                if (dechunk is not None and dechunk.done) or remaining == 0:
                    with self.cond:
                        self.clean_end = True
                    break
        except Exception as e:  # a malformed response is a test failure
            with self.cond:
                self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            with self.cond:
                if self.status is not None and dechunk is None \
                        and remaining is None:
                    # HTTP/1.0-style body delimited by close
                    self.clean_end = self.error is None
                self.parser.end()
                self.closed = True
                self.cond.notify_all()

    def _head(self, head):
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        hdrs = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs.append((k.strip(), v.strip()))
        with self.cond:
            self.version = parts[0]
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.headers = hdrs

    def _body(self, b):
        if not b:
            return
        with self.cond:
            self.body += b
            self.parser.feed(b)
            self.cond.notify_all()

    # -- accessors ------------------------------------------------------------

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def events(self):
        """Every dispatched event, probes and sync markers included."""
        with self.cond:
            return list(self.parser.events)

    @property
    def comments(self):
        with self.cond:
            return list(self.parser.comments)

    def real_events(self):
        """Events after the sync marker (see Gateway.wait_live), without
        probes; every event if the stream was never synced."""
        with self.cond:
            evs = self.parser.events[self.sync_events:]
        return [e for e in evs if e.type not in (PROBE_EVENT, SYNC_EVENT)]

    def body_after_sync(self):
        """Raw body bytes after the sync marker."""
        with self.cond:
            return self.body[self.sync_body:]

    # -- waiting --------------------------------------------------------------

    def _wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def wait_status(self, timeout=EVENT_TIMEOUT):
        """Wait for the status line and headers; return the status."""
        ok = self._wait(lambda: self.status is not None or self.closed,
                        timeout)
        if not ok or self.status is None:
            raise AssertionError("%s: no response head after %.1fs (%s)" % (
                self.path, timeout, self.error or "still waiting"))
        return self.status

    def wait_body(self, prefix_or_pred, timeout=EVENT_TIMEOUT):
        """Wait until the body starts with bytes prefix (or pred(body))."""
        if callable(prefix_or_pred):
            pred = lambda: prefix_or_pred(self.body)
        else:
            pred = lambda: len(self.body) >= len(prefix_or_pred)
        self._wait(lambda: pred() or self.closed, timeout)
        return self.body

    def wait_ok(self, timeout=EVENT_TIMEOUT):
        """Wait for the 200 head and the ': ok' comment; raise otherwise."""
        st = self.wait_status(timeout)
        if st != 200:
            raise AssertionError("%s: status %d, body %r" % (
                self.path, st, self.body[:200]))
        # the whole ': ok' block: a server may pass on ': ok\n' and the
        # blank line that ends it in separate writes (mod_fcgid, one per
        # FastCGI record)
        self._wait(lambda: len(self.body) >= len(b": ok\n\n")
                   or self.closed, timeout)
        if not self.body.startswith(b": ok\n\n"):
            raise AssertionError("%s: body does not start with ': ok' "
                                 "comment: %r" % (self.path, self.body[:200]))

    def wait_for_events(self, n, timeout=EVENT_TIMEOUT, real=True):
        """Wait until n events arrived (real events by default: after the
        sync marker, probes left out). Returns the list; raises on timeout."""
        get = self.real_events if real else (lambda: self.parser.events)
        # real_events takes the lock itself; evaluate under our lock safely
        def have():
            evs = self.parser.events[self.sync_events:] if real \
                else self.parser.events
            if real:
                evs = [e for e in evs
                       if e.type not in (PROBE_EVENT, SYNC_EVENT)]
            return len(evs) >= n
        if not self._wait(lambda: have() or self.closed, timeout) \
                and not have():
            raise AssertionError("%s: wanted %d events within %.1fs, got %r"
                                 % (self.path, n, timeout, get()))
        if not have():
            raise AssertionError("%s: stream ended after events %r (%s)" % (
                self.path, get(), self.error or "closed"))
        return get()

    def wait_closed(self, timeout=EVENT_TIMEOUT):
        """Wait until the response ended; return True if it did."""
        return self._wait(lambda: self.closed, timeout)

    def close(self):
        """Disconnect (abruptly: shut down both ways and close)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(5)


def http_request(port, method, path, headers=None, body=None, timeout=10.0):
    """A one-shot request; return the finished SSEClient (status, headers,
    body). Raises if the response does not end within timeout."""
    c = SSEClient(port, path, method=method, headers=headers, body=body)
    try:
        if not c.wait_closed(timeout):
            raise AssertionError("%s %s: response did not end within %.1fs "
                                 "(status %r, body %r)" % (
                                     method, path, timeout, c.status,
                                     c.body[:200]))
        return c
    finally:
        c.close()


class EventSource:
    """A browser-like reconnecting client: GET path; whenever the response
    ends (cleanly or not) or cannot be made, wait retry seconds and connect
    again with a Last-Event-ID header holding the id of the last event it
    dispatched (as EventSource does). Unlike a browser it also retries
    after a non-200 answer (counted in refused). Attributes: conns (the
    SSEClient of each connection, in order), refused (non-200 statuses and
    connect errors). events() is every dispatched event of every
    connection, in order. close() stops it."""

    def __init__(self, port, path, last_event_id=None, retry=0.1):
        self.port = port
        self.path = path
        self.retry = retry
        self.last_event_id = last_event_id
        self.conns = []
        self.refused = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            hdrs = []
            if self.last_event_id:
                hdrs.append(("Last-Event-ID", self.last_event_id))
            try:
                c = SSEClient(self.port, self.path, headers=hdrs)
            except OSError as e:
                with self.lock:
                    self.refused.append("connect: %s" % e)
                self.stopping.wait(self.retry)
                continue
            with self.lock:
                self.conns.append(c)
            while not c.wait_closed(0.05):
                if self.stopping.is_set():
                    c.close()
                    return
            c.close()
            if c.status != 200:
                with self.lock:
                    self.refused.append("status %r" % c.status)
            evs = c.events
            if evs:
                # the id of the last dispatched event (not a half-read one)
                self.last_event_id = evs[-1].last_event_id
            self.stopping.wait(self.retry)

    def events(self):
        with self.lock:
            conns = list(self.conns)
        out = []
        for c in conns:
            out.extend(c.events)
        return out

    def wait(self, pred, timeout=EVENT_TIMEOUT):
        """Poll pred(events) until true; return whether it became so."""
        return wait_until(lambda: pred(self.events()), timeout, 0.05)

    def close(self):
        self.stopping.set()
        self.thread.join(10)
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def stop_process(p, timeout=STOP_TIMEOUT):
    """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status
    (negative signal number as in subprocess) or None if already reaped."""
    if p is None:
        return None
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            p.wait(timeout)
    return p.returncode


def pids_mentioning(needles):
    """Pids (not ours) whose cmdline or environ contains any of needles
    (bytes)."""
    found = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        for f in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (d, f), "rb") as fh:
                    s = fh.read()
            except OSError:
                continue
            if any(n in s for n in needles):
                found.append(int(d))
                break
    return found


def proc_argv(pid):
    """pid's argument vector (str), or [] once it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            raw = fh.read()
    except OSError:
        return []
    # a process that rewrote its title may not end it with a NUL
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return [a.decode(errors="replace") for a in raw.split(b"\0")] if raw \
        else []


def proc_cmdline(pid):
    return " ".join(proc_argv(pid)) or "?"


def proc_program(pid):
    """The file name of pid's argv[0] ("sse-fcgi"), or "?"; a substring of
    the whole command line would also match a broker whose endpoints lie in
    a directory named after the test (/tmp/sse-fcgi-con-...)."""
    argv = proc_argv(pid)
    return os.path.basename(argv[0]) if argv and argv[0] else "?"


class Gateway:
    """A broker plus lighttpd (mod_fastcgi on /sse with max-procs 2 workers,
    mod_cgi on /cgi/sse running sse-fcgi as plain CGI) in one scratch dir.

    Use as a context manager: `with Gateway("delivery", heartbeat=1) as gw:`.
    env: extra environment for the workers (FastCGI and CGI), e.g.
    {"SSE_LIFETIME": "2"}. lighttpd=False starts the broker alone.
    broker_args: extra sse-broker arguments, e.g. ["--history", "3"]; they
    stay in force across restart_broker(). docroot: lighttpd's document
    root (e.g. SRCDIR/examples, for the demo page) instead of the scratch
    htdocs with its placeholder index.html; /cgi/sse is only in the latter."""

    def __init__(self, name, heartbeat=15, env=None, lighttpd=True,
                 log_level="debug", max_procs=2, broker_args=None,
                 max_connections=256, docroot=None):
        self.name = name
        self.broker_args = [str(a) for a in (broker_args or [])]
        self.heartbeat = heartbeat
        self.worker_env = dict(env or {})
        self.want_lighttpd = lighttpd
        self.log_level = log_level
        self.max_procs = max_procs
        self.max_connections = max_connections
        self.docroot = docroot
        self.scratch = os.path.join(BUILDDIR, "tests", "scratch",
                                    "%s-%d" % (name, os.getpid()))
        self.rundir = None
        self.tmp_rundir = False
        self.port = None
        self.broker = None
        self.lighttpd = None
        self.leftovers = []         # pids found alive after stop()
        self._logs = []

    # -- setup ----------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(clean=exc_type is None)
        return False

    def start(self):
        for prog in (SSE_BROKER, SSE_FCGI, SSE_PUSH):
            if not os.access(prog, os.X_OK):
                raise AssertionError("%s is not built" % prog)
        if os.path.exists(self.scratch):
            shutil.rmtree(self.scratch)
        os.makedirs(self.scratch)
        # Sanitizer reports from every process started from here on (the
        # workers under lighttpd too) go to files that stop() looks for,
        # since a worker's stderr is lighttpd's error log.
        self._saved_env = {v: os.environ.get(v) for v in ("ASAN_OPTIONS",
                                                          "UBSAN_OPTIONS")}
        for var, prefix in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS",
                                                       "ubsan")):
            opts = [o for o in os.environ.get(var, "").split(":")
                    if o and not o.startswith("log_path=")]
            opts.append("log_path=" + os.path.join(self.scratch, prefix))
            os.environ[var] = ":".join(opts)
        rundir = os.path.join(self.scratch, "run")
        # unix socket paths must fit sun_path (108 bytes), lighttpd appends
        # "-N" to the FastCGI socket name, and Apache's mod_proxy keeps a
        # worker's uds path in 96 bytes ("ProxyPass worker uds path too
        # long"); a deep build tree or a long pid gets a short /tmp dir
        if len(os.path.join(rundir, "fcgi.sock-10")) >= 90:
            rundir = tempfile.mkdtemp(prefix="sse-%s-" % self.name[:8])
            self.tmp_rundir = True
        else:
            os.makedirs(rundir)
        self.rundir = rundir
        self.start_broker()
        if self.want_lighttpd:
            self.start_lighttpd()

    def env(self, extra=None):
        """Environment for our own programs (sse-push)."""
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("SSE_") and k not in ("SSE_BUILDDIR",
                                                  "SSE_SRCDIR"):
                del e[k]
        e["SSE_RUNDIR"] = self.rundir
        e.update(extra or {})
        return e

    def start_broker(self):
        log = open(os.path.join(self.scratch, "broker.log"), "ab")
        self._logs.append(log)
        self.broker = subprocess.Popen(
            [SSE_BROKER, "--rundir", self.rundir, "--log-level",
             self.log_level] + self.broker_args,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env=self.env())
        socks = [os.path.join(self.rundir, s) for s in ("pub.sock",
                                                        "push.sock")]
        ok = wait_until(lambda: self.broker.poll() is not None or
                        all(os.path.exists(s) for s in socks), START_TIMEOUT)
        if self.broker.poll() is not None or not ok:
            raise AssertionError("sse-broker did not start (exit %r): %s" % (
                self.broker.poll(), self.read_log("broker.log")[-2000:]))

    def stop_broker(self):
        rc = stop_process(self.broker)
        return rc

    def restart_broker(self, while_down=None):
        """Stop the broker (SIGTERM), call while_down() if given, start a
        new one with the same arguments. Returns the old one's exit
        status."""
        rc = self.stop_broker()
        if while_down is not None:
            while_down()
        self.start_broker()
        return rc

    def write_conf(self):
        htdocs = os.path.join(self.scratch, "htdocs")
        os.makedirs(os.path.join(htdocs, "cgi"), exist_ok=True)
        with open(os.path.join(htdocs, "index.html"), "w") as f:
            f.write("sse-gateway test\n")
        wenv = {"SSE_RUNDIR": self.rundir,
                "SSE_HEARTBEAT": str(self.heartbeat),
                "SSE_LOG_LEVEL": self.log_level}
        wenv.update(self.worker_env)
        copy = [k for k in ("PATH", "UBSAN_OPTIONS", "ASAN_OPTIONS",
                            "LSAN_OPTIONS") if k in os.environ]
        # the CGI wrapper: lighttpd's mod_cgi gives a CGI only the CGI
        # variables, so the worker's settings travel in the script
        cgi = os.path.join(htdocs, "cgi", "sse")
        with open(cgi, "w") as f:
            f.write("#!/bin/sh\n")
            for k, v in sorted(wenv.items()):
                f.write("%s=%s; export %s\n" % (k, shquote(v), k))
            for k in copy:
                f.write("%s=%s; export %s\n" % (k, shquote(os.environ[k]), k))
            f.write("exec %s\n" % shquote(SSE_FCGI))
        os.chmod(cgi, 0o755)

        def lstr(s):
            return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
        benv = ",\n".join("        %s => %s" % (lstr(k), lstr(v))
                          for k, v in sorted(wenv.items()))
        conf = """# generated by tests/integration/harness.py
server.document-root = {docroot}
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = {errorlog}
server.pid-file = {pidfile}
server.modules = ("mod_fastcgi", "mod_cgi")
server.stream-response-body = 2
# as lighttpd.conf ships it
server.chunkqueue-chunk-sz = 1024
server.max-connections = {max_conns}
server.max-fds = {max_fds}
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html; charset=utf-8",
                   ".js" => "text/javascript", ".css" => "text/css")

fastcgi.server = ("/sse" => ((
    "socket" => {socket},
    "bin-path" => {binpath},
    "max-procs" => {max_procs},
    "check-local" => "disable",
    "bin-environment" => (
{benv}
    ),
    "bin-copy-environment" => ({copy}),
)))

$HTTP["url"] =~ "^/cgi/" {{
    cgi.assign = ("" => "")
}}
""".format(docroot=lstr(self.docroot or htdocs), port=self.port,
           errorlog=lstr(os.path.join(self.scratch, "lighttpd-error.log")),
           pidfile=lstr(os.path.join(self.scratch, "lighttpd.pid")),
           socket=lstr(os.path.join(self.rundir, "fcgi.sock")),
           binpath=lstr(SSE_FCGI), max_procs=self.max_procs,
           max_conns=self.max_connections,
           max_fds=max(1024, 2 * self.max_connections + 256), benv=benv,
           copy=", ".join(lstr(k) for k in copy))
        path = os.path.join(self.scratch, "lighttpd.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start_lighttpd(self):
        lt = find_lighttpd()
        self.port = free_port()
        conf = self.write_conf()
        log = open(os.path.join(self.scratch, "lighttpd.stderr"), "ab")
        self._logs.append(log)
        self.lighttpd = subprocess.Popen(
            [lt, "-D", "-f", conf], stdin=subprocess.DEVNULL, stdout=log,
            stderr=log, env=self.env(), cwd=self.scratch)

        def up():
            return self.lighttpd.poll() is not None or can_connect(self.port)
        wait_until(up, START_TIMEOUT, 0.05)
        if self.lighttpd.poll() is not None:
            raise AssertionError("lighttpd did not start (exit %r): %s %s" % (
                self.lighttpd.returncode,
                self.read_log("lighttpd.stderr")[-2000:],
                self.read_log("lighttpd-error.log")[-2000:]))

    # -- teardown -------------------------------------------------------------

    def stop(self, clean=False):
        """Stop lighttpd (which stops its workers) and the broker, by pid;
        then kill and record any process left mentioning our directories.
        With clean, and no test failed so far, remove the scratch directory
        (kept after a failure, with its logs, for a look)."""
        try:
            stop_process(self.lighttpd)
        finally:
            stop_process(self.broker)
        # A gateway started inside another one must not leave the outer
        # one's processes logging into its scratch directory.
        for var, val in getattr(self, "_saved_env", {}).items():
            if val is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = val
        needles = [self.scratch.encode()]
        if self.rundir:
            needles.append(self.rundir.encode())
        # lighttpd reaps its workers asynchronously: give them a moment
        left = wait_until(lambda: not pids_mentioning(needles), 5.0) and []
        left = pids_mentioning(needles)
        for pid in left:
            self.leftovers.append((pid, proc_cmdline(pid)))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for f in self._logs:
            f.close()
        self._logs = []
        if self.tmp_rundir and self.rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)
            self.tmp_rundir = False
        if self.leftovers:
            raise AssertionError("processes left behind after stop: %r"
                                 % self.leftovers)
        # with --enable-sanitizers, a report in a daemon's log (a leak
        # found at exit, say) fails the test file even if every test passed
        names = os.listdir(self.scratch) if os.path.isdir(self.scratch) else []
        for name in sorted(names):
            if name.startswith(("asan.", "ubsan.")):
                raise AssertionError("sanitizer report %s/%s: %s" % (
                    self.scratch, name, self.read_log(name)[:1500]))
        for name in ("broker.log", "lighttpd-error.log", "lighttpd.stderr"):
            text = self.read_log(name)
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    i = text.index(marker)
                    raise AssertionError("%s in %s/%s: %s" % (
                        marker.strip(": "), self.scratch, name,
                        text[i:i + 1500]))
        if clean and _failures == 0:
            shutil.rmtree(self.scratch, ignore_errors=True)
            try:    # and tests/scratch itself once the last one is gone
                os.rmdir(os.path.dirname(self.scratch))
            except OSError:
                pass

    # -- helpers --------------------------------------------------------------

    def read_log(self, name):
        try:
            with open(os.path.join(self.scratch, name), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def worker_log(self):
        """What the workers wrote to stderr (lighttpd's error log)."""
        return self.read_log("lighttpd-error.log") + \
            self.read_log("lighttpd.stderr")

    def worker_pids(self):
        """Pids of the sse-fcgi processes lighttpd spawned."""
        out = []
        for pid in pids_mentioning([self.rundir.encode()]):
            if proc_program(pid) == "sse-fcgi":
                out.append(pid)
        return sorted(out)

    def stream(self, path, wait_ok=True, **kw):
        """Open an SSE stream on path; by default wait for the 200 and the
        ': ok' comment."""
        c = SSEClient(self.port, path, **kw)
        if wait_ok:
            try:
                c.wait_ok()
            except BaseException:
                c.close()
                raise
        return c

    def push(self, args, stdin=None, timeout=30.0, env=None):
        """Run sse-push with args (list of str or bytes) and stdin (bytes or
        None for no input); return (exit code, stdout, stderr) as bytes."""
        if isinstance(stdin, str):
            stdin = stdin.encode()
        p = subprocess.run([SSE_PUSH] + list(args), input=stdin if stdin
                           is not None else b"", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.env(env),
                           timeout=timeout)
        for marker in SANITIZER_MARKERS:
            if marker.encode() in p.stderr:
                raise AssertionError("sse-push %r: %s" % (
                    args, p.stderr.decode(errors="replace")[:1500]))
        return p.returncode, p.stdout, p.stderr

    def push_ok(self, args, stdin=None):
        """sse-push that must succeed."""
        rc, out, err = self.push(args, stdin)
        if rc != 0:
            raise AssertionError("sse-push %r exited %d: %s" % (
                args, rc, err.decode(errors="replace").strip()))
        return out

    def wait_live(self, clients, key=None, all=False, timeout=START_TIMEOUT):
        """Make sure each client's subscription reached the broker before a
        test publishes. Publish probe events (event PROBE_EVENT) to key (or
        to all streams) until every client saw one, then one SYNC_EVENT with
        unique data that every client must see exactly once; after it, a
        client's real_events() and body_after_sync() hold only what the test
        publishes. Probes are never counted by real_events()."""
        if isinstance(clients, SSEClient):
            clients = [clients]
        # "--" so that a key starting with "-" is an operand
        target = ["--all", "--"] if all else ["--", key]

        def seen(c, name):
            return any(e.type == name for e in c.events)
        deadline = time.monotonic() + timeout
        while True:
            self.push_ok(["-e", PROBE_EVENT] + target + ["probe"])
            if wait_until(lambda: all_(seen(c, PROBE_EVENT)
                                       for c in clients), 0.2):
                break
            if time.monotonic() > deadline:
                raise AssertionError("subscriptions never became live: %r" %
                                     [c.path for c in clients if not
                                      seen(c, PROBE_EVENT)])
        token = "sync-%d-%f" % (os.getpid(), time.monotonic())
        # no id: the sync marker must not change the clients' lastEventId
        self.push_ok(["-e", SYNC_EVENT] + target + [token])
        for c in clients:
            def got():
                with c.cond:
                    for i, e in enumerate(c.parser.events):
                        if e.type == SYNC_EVENT and e.data == token:
                            return i
                return None
            if not wait_until(lambda: got() is not None, EVENT_TIMEOUT):
                raise AssertionError("%s: sync marker never arrived" % c.path)
            with c.cond:
                i = got()
                c.sync_events = i + 1
                # the sync event's raw block ends the body prefix to skip
                blk = c.parser.events[i].raw
                j = c.body.find(blk)
                while j >= 0:
                    nxt = c.body.find(blk, j + 1)
                    if nxt < 0:
                        break
                    j = nxt
                c.sync_body = j + len(blk) if j >= 0 else len(c.body)


all_ = all  # Gateway.wait_live shadows the builtin with its parameter


class LinePublisher:
    """One `sse-push [args] --lines` process fed from a thread: lines(i)
    (default "n=<i>") for i in range(count), one every `every` seconds, so
    events keep coming while a test does something else. args: the target,
    e.g. ["key1"] or ["--all"]. start() begins; finish() waits for the end
    and returns (exit status, stderr bytes); kill() always cleans up."""

    def __init__(self, gw, args, count, every=0.003, line=None):
        self.count = count
        self.every = every
        self.line = line or (lambda i: "n=%d" % i)
        self.sent = 0
        self.p = subprocess.Popen(
            [SSE_PUSH, "--lines"] + list(args), stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=gw.env())
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        try:
            for i in range(self.count):
                self.p.stdin.write(self.line(i).encode() + b"\n")
                self.p.stdin.flush()
                self.sent = i + 1
                if self.every:
                    time.sleep(self.every)
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.p.stdin.close()
            except OSError:
                pass

    def finish(self, timeout=60.0):
        self.thread.join(timeout)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        err = self.p.stderr.read()
        self.p.stderr.close()
        for marker in SANITIZER_MARKERS:
            if marker.encode() in err:
                raise AssertionError("sse-push --lines: %s" % err.decode(
                    errors="replace")[:1500])
        return self.p.returncode, err

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        if self.thread.is_alive():
            self.thread.join(5)
        if not self.p.stderr.closed:
            self.p.stderr.close()


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------
# A tiny test runner
# ---------------------------------------------------------------------------

_failures = 0    # tests failed so far in this process (keeps scratch dirs)


def check(cond, msg):
    """assert that survives python -O, with a message."""
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: expected %r, got %r" % (what or "value",
                                                          want, got))


def run(tests, setup=None, server=("lighttpd", find_lighttpd)):
    """Run tests (a list of functions) in order and exit: 0 if all passed,
    1 if any failed, 77 if the web server is missing (server: its name and
    a function returning its binary or None; lighttpd by default). setup,
    when given, is a context-manager factory whose value is passed to each
    test; a test that takes no argument is called without it. Prints 'ok
    NAME' or 'FAIL NAME' per test and a final 'N passed, M failed'."""
    global _failures
    if server[1]() is None:
        print("SKIP: %s is not installed" % server[0])
        sys.exit(77)
    passed = failed = 0
    ctx = None
    try:
        ctx = setup() if setup else None
        value = ctx.__enter__() if ctx else None
    except Exception:
        traceback.print_exc()
        print("FAIL setup")
        print("%d passed, %d failed" % (0, len(tests)))
        sys.exit(1)
    try:
        for t in tests:
            name = t.__name__
            t0 = time.monotonic()
            try:
                if t.__code__.co_argcount:
                    t(value)
                else:
                    t()
            except Exception as e:
                failed += 1
                _failures += 1
                print("FAIL %s (%.1fs): %s" % (name, time.monotonic() - t0,
                                               e))
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print("ok %s (%.1fs)" % (name, time.monotonic() - t0))
            sys.stdout.flush()
    finally:
        if ctx:
            try:
                if isinstance(ctx, Gateway):
                    ctx.stop(clean=failed == 0)
                else:
                    ctx.__exit__(None, None, None)
            except Exception as e:
                failed += 1
                print("FAIL teardown: %s" % e)
                if isinstance(ctx, Gateway):
                    print(ctx.worker_log()[-3000:])
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 else 1)


# ---------------------------------------------------------------------------
# Self-test of the parser and decoder (python3 harness.py)
# ---------------------------------------------------------------------------

def _selftest():
    def parse(chunks):
        p = SSEParser()
        for c in chunks:
            p.feed(c)
        p.end()
        return p

    def every_split(b):
        # feed in every 2-way split and byte by byte: same result each time
        outs = [parse([b])]
        outs.append(parse([b[i:i + 1] for i in range(len(b))]))
        for i in range(len(b) + 1):
            outs.append(parse([b[:i], b[i:]]))
        return outs

    cases = [
        (b": ok\n\ndata: hi\n\n", [("message", "hi", "")], ["ok"]),
        (b"event: x\nid: 7\nretry: 100\ndata: a\ndata: b\n\n",
         [("x", "a\nb", "7")], []),
        (b"data: a\r\ndata: b\r\n\r\n", [("message", "a\nb", "")], []),
        (b"data: a\rdata: b\r\r", [("message", "a\nb", "")], []),
        (b"\xef\xbb\xbfdata: bom\n\n", [("message", "bom", "")], []),
        (b"event: nodata\n\ndata: x\n\n", [("message", "x", "")], []),
        (b"data\n\n", [("message", "", "")], []),
        (b"data:  two spaces\n\n", [("message", " two spaces", "")], []),
        (b"id: 1\ndata: a\n\ndata: b\n\n",
         [("message", "a", "1"), ("message", "b", "1")], []),
        (b"id: a\0b\ndata: x\n\n", [("message", "x", "")], []),
        (b"data: caf\xc3\xa9\n\n", [("message", "caf\u00e9", "")], []),
        (b"data: incomplete\n", [], []),
        (b": ping\n\n: ping\n\n", [], ["ping", "ping"]),
    ]
    for raw, want, comments in cases:
        for p in every_split(raw):
            got = [(e.type, e.data, e.last_event_id) for e in p.events]
            eq(got, want, repr(raw))
            eq([c.strip() for c in p.comments], comments, repr(raw))
    p = parse([b"retry: 12x\ndata: a\n\nretry: 250\ndata: b\n\n"])
    eq(p.retry, 250, "retry")
    p = parse([b": ok\n\nevent: e\ndata: x\n\n"])
    eq(p.events[0].raw, b"event: e\ndata: x\n\n", "raw block")

    body = b": ok\n\ndata: hello\n\n"
    wire = b"6\r\n: ok\n\n\r\n" + b"d\r\ndata: hello\n\n\r\n0\r\n\r\n"
    for i in range(len(wire) + 1):
        for j in range(i, len(wire) + 1):
            d = ChunkedDecoder()
            out = d.feed(wire[:i]) + d.feed(wire[i:j]) + d.feed(wire[j:])
            eq(out, body, "chunked split %d %d" % (i, j))
            check(d.done, "chunked done")
    d = ChunkedDecoder()
    d.feed(b"5;ext=1\r\nhello\r\n")
    check(not d.done, "not done before last chunk")
    try:
        ChunkedDecoder().feed(b"zz\r\n")
        raise AssertionError("bad size accepted")
    except ValueError:
        pass
    print("harness self-test: 1 passed, 0 failed")


if __name__ == "__main__":
    _selftest()
