#!/usr/bin/env python3
"""Benchmark targets: start, describe and stop each SSE server we compare,
on free ports of 127.0.0.1, as the current user, in a scratch directory,
leaving nothing running.

    t = Ours(builddir, srcdir, workdir)   # lighttpd + sse-fcgi x2 + sse-broker
    t = Nchan(workdir)                    # nginx + nchan, 2 workers
    t = Pushpin(workdir)                  # pushpin (condure, zurl, proxy,
                                          # handler) + an nginx origin
    t.available()     # are the programs installed (works with workdir None)
    t.start()         # start; returns once a real SSE subscribe + publish
                      # round trip worked; raises RuntimeError otherwise
    t.sub_url         # "http://127.0.0.1:PORT/...{key}..." (str.replace {key})
    t.open_marker     # bytes every stream gets at once after the headers:
                      # b": ok" (ours), b": hi" (Nchan), b": ok" (Pushpin:
                      # our origin's body)
    t.publishers      # {"batch": pub, "call": pub, "broadcast": pub, ...}
    t.pub             # t.publishers["batch"]
    t.pids()          # every process of the server right now
    t.helper_pids()   # processes that are not the server (Pushpin's origin)
    t.worker_pids()   # ours only: the sse-fcgi workers
    t.max_streams     # streams this configuration can hold on this machine
    t.version         # versions of the server software
    t.stop()          # SIGTERM by pid, SIGKILL after a timeout; raises if
                      # any process of the target survives (t.stop_report)

Publishers: "batch" is each target's fastest way to publish many events
(ours: one sse-push --lines --keyed; peers: HTTP POSTs); "call" is one
process per event (sse-push; curl for Nchan; for Pushpin bench/pushpin-push,
sh + pushpin-publish); "broadcast" one process per event for every stream;
the peers also have "broadcast_http". A publisher is a dict; placeholders
are replaced with str.replace (never str.format: JSON has braces) within
argv words already split (the templates hold no quotes, so splitting at
spaces and shlex.split agree):

    {"mode": "exec",  "cmd": "... {key} {data}", "env": {...}}
        one process per event, exit status 0 = accepted; {data} is one argv
        word whatever it contains
    {"mode": "lines", "cmd": "...", "env": {...}}
        one process for all events: write "KEY DATA\\n" per event to stdin
    {"mode": "http",  "url": "http://...{key}...", "body": None|"pushpin"}
        HTTP POST per event (keep-alive is fine); body None: the data itself
        is the body; "pushpin": the JSON of Pushpin's /publish/ API for
        channel KEY (or pub["channel"] if given) with the SSE frame
        "event: message\\ndata: DATA\\n\\n" as http-stream content
publish(pub, key, data) below is the reference implementation.

Broadcast: ours has `sse-push --all`; for the peers every stream also
subscribes to a second channel "all" and a broadcast publishes there.

Run this file to self-test every target (and optionally hold streams):

    python3 bench/targets.py [--targets ours,nchan,pushpin] [--hold N]
                             [--keep] [--builddir DIR]
"""
import argparse
import asyncio
import atexit
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

STREAMS = 10000         # what every target is sized for
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
NGINX = "/usr/sbin/nginx"
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
PUSHPIN_CONF = "/etc/pushpin/pushpin.conf"
PUSHPIN_PUSH = os.path.join(HERE, "pushpin-push")


LIGHTTPD_PROCS = 2      # server.max-worker: one per core, as lighttpd.conf


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def free_ports(n):
    """n distinct free TCP ports of 127.0.0.1 (held open until all are
    chosen, so none is chosen twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def fd_hard_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def raise_fd_limit():
    """Raise our own soft fd limit to the hard one (for clients)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _child_fd_limit():
    """In a child before exec: soft fd limit = hard limit, whatever the
    caller's soft limit (condure, for one, takes its limit as it finds
    it: 1,024 would mean about 1,000 streams)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_out(argv):
    """stdout+stderr of a short command, stripped ("" if it fails)."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        return p.stdout.decode(errors="replace").strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------

def _stat(pid):
    """(state, ppid, starttime) of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read().decode(errors="replace")
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def _all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(roots):
    """roots and all their descendants that exist now (no zombies)."""
    children = {}
    state = {}
    for pid in _all_pids():
        st = _stat(pid)
        if st:
            state[pid] = st[0]
            children.setdefault(st[1], []).append(pid)
    out, todo = [], [r for r in roots if r in state]
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        if state.get(pid) != "Z":
            out.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(out)


def _mentions(pid, path):
    """Does pid's command line, working directory or environment mention
    path? (nginx workers and lighttpd's FastCGI children have command
    lines without it, but inherit the working directory or the
    environment.)"""
    def hit(s):
        i = s.find(path)
        while i >= 0:
            j = i + len(path)
            if j == len(s) or s[j] in "/\0 =:'\"":
                return True
            i = s.find(path, j)
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if hit(f.read().decode(errors="replace")):
                return True
    except OSError:
        pass
    try:
        cwd = os.readlink("/proc/%d/cwd" % pid)
        if cwd == path or cwd.startswith(path + "/"):
            return True
    except OSError:
        pass
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            if hit(f.read().decode(errors="replace")):
                return True
    except OSError:
        pass
    return False


def procs_in(path):
    """Live (non-zombie) processes other than us that mention path."""
    me = os.getpid()
    out = []
    for pid in _all_pids():
        if pid == me:
            continue
        st = _stat(pid)
        if st and st[0] != "Z" and _mentions(pid, path):
            out.append(pid)
    return sorted(out)


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(
                errors="replace").strip()
    except OSError:
        return "?"


def mem_kib(pids):
    """(RSS, PSS) summed over pids, in KiB. RSS counts pages shared by
    several processes (nginx master and workers) once per process; PSS
    splits them."""
    rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def cpu_ns(pids):
    """CPU time spent so far by every thread of pids, in ns. schedstat
    counts in ns, where stat's utime and stime count 10 ms ticks: too
    coarse for a storm that takes a few hundred ms. A thread that ends
    takes its time along; the targets keep theirs for the whole run."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


# ---------------------------------------------------------------------------
# A minimal SSE client on a raw socket
# ---------------------------------------------------------------------------

class SSEClient:
    """GET url with HTTP/1.1 and read the event stream: headers, then the
    body (chunked or not), split into events. Blocking, with timeouts."""

    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port),
                                             timeout=timeout)
        path = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                           "Accept: text/event-stream\r\n"
                           "Cache-Control: no-cache\r\n\r\n" %
                           (path, u.hostname, u.port)).encode())
        self.raw = b""          # bytes not yet parsed (headers/chunks)
        self.body = b""         # decoded body not yet split into events
        self.all_body = b""     # decoded body so far
        self.status = None
        self.headers = {}
        self.chunked = False
        self.events = []        # [{"event":..., "data":..., "id":...}]
        self.comments = []
        self.closed = False

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out")
        if not b:
            self.closed = True
            raise ConnectionError("connection closed")
        self.raw += b

    def read_headers(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            self._recv(deadline)
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get(
            "transfer-encoding", "").lower()
        self._decode()
        return self.status

    def _decode(self):
        if not self.chunked:
            self.body += self.raw
            self.all_body += self.raw
            self.raw = b""
        else:
            while True:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    break
                size = int(self.raw[:i].split(b";")[0], 16)
                if len(self.raw) < i + 2 + size + 2:
                    break
                chunk = self.raw[i + 2:i + 2 + size]
                self.raw = self.raw[i + 2 + size + 2:]
                self.body += chunk
                self.all_body += chunk
                if size == 0:
                    self.closed = True
                    break
        while True:
            m = re.search(rb"\r\n\r\n|\n\n|\r\r", self.body)
            if not m:
                break
            block, self.body = self.body[:m.start()], self.body[m.end():]
            ev = {"event": "message", "data": [], "id": None}
            for line in re.split(rb"\r\n|\n|\r", block):
                line = line.decode(errors="replace")
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    ev["data"].append(v)
                elif k in ("event", "id"):
                    ev[k] = v
            if ev["data"]:
                ev["data"] = "\n".join(ev["data"])
                self.events.append(ev)

    def wait_for(self, pred, timeout=10.0):
        """Read until pred(self) is true; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            v = pred(self)
            if v:
                return v
            self._recv(deadline)
            self._decode()

    def wait_open(self, marker, timeout=10.0):
        """Headers with status 200, then the bytes marker (if any)."""
        deadline = time.monotonic() + timeout
        if self.status is None:
            self.read_headers(timeout)
        if self.status != 200:
            raise RuntimeError("subscribe answered %d" % self.status)
        if marker:
            self.wait_for(lambda c: marker in c.all_body,
                          max(0.01, deadline - time.monotonic()))

    def wait_data(self, data, timeout=10.0):
        return self.wait_for(lambda c: next(
            (e for e in c.events if e["data"] == data), None), timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Publishing (the reference for what a publisher dict means)
# ---------------------------------------------------------------------------

PUSHPIN_CALL_JSON = ('{"items":[{"channel":"{key}","formats":{"http-stream":'
                     '{"content":"data:{data}\\n\\n"}}}]}')


def pushpin_body(channel, data):
    """Pushpin /publish/ body: one SSE event on channel."""
    return json.dumps({"items": [{"channel": channel, "formats": {
        "http-stream": {"content": "event: message\ndata: %s\n\n" % data}}}]})


def _fill(word, key, data):
    return word.replace("{key}", key).replace("{data}", data)


def publish(pub, key, data, timeout=10.0):
    """Publish one event with publisher pub; raise if it is not accepted."""
    mode = pub["mode"]
    env = dict(os.environ)
    env.update(pub.get("env", {}))
    if mode == "exec":
        # split at spaces, as sse-bench does: no quoting
        argv = [_fill(w, key, data) for w in pub["cmd"].split()]
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (
                " ".join(argv), p.returncode,
                p.stderr.decode(errors="replace").strip()))
    elif mode == "lines":
        argv = pub["cmd"].split()
        p = subprocess.run(argv, env=env, input=("%s %s\n" % (
            key, data)).encode(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (
                " ".join(argv), p.returncode,
                p.stderr.decode(errors="replace").strip()))
    elif mode == "http":
        url = pub["url"].replace("{key}", urllib.parse.quote(key, safe=""))
        if pub.get("body") == "pushpin":
            body = pushpin_body(pub.get("channel", key), data).encode()
            ctype = "application/json"
        else:
            body = data.encode()
            ctype = "text/plain"
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            if not 200 <= r.status < 300:
                raise RuntimeError("%s: HTTP %d" % (url, r.status))
    else:
        raise ValueError("unknown publisher mode %r" % mode)


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------

_running = []


@atexit.register
def _stop_leftovers():
    for t in list(_running):
        try:
            t.stop()
        except Exception as e:  # noqa: BLE001 - best effort at exit
            print("targets: %s: %s" % (t.name, e), file=sys.stderr)


class Target:
    name = "?"
    open_marker = b""

    def __init__(self, workdir):
        self.workdir = os.path.abspath(workdir) if workdir else None
        self._roots = []        # [(name, Popen)] of the server, start order
        self._helpers = []      # [(name, Popen)] not part of the server
        self._seen = {}         # pid -> starttime, every process we saw
        self.version = None
        self.max_streams = STREAMS
        self.stop_report = None
        if self.workdir:
            os.makedirs(self.workdir, exist_ok=True)

    # -- to override
    def available(self):
        raise NotImplementedError

    def _start(self):
        raise NotImplementedError

    @property
    def pub(self):
        return self.publishers["batch"]

    # -- processes
    def _spawn(self, name, argv, env=None, helper=False):
        log = open(os.path.join(self.workdir, name + ".out"), "ab")
        try:
            p = subprocess.Popen(argv, cwd=self.workdir, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT,
                                 start_new_session=True,
                                 preexec_fn=_child_fd_limit)
        finally:
            log.close()
        (self._helpers if helper else self._roots).append((name, p))
        self._remember([p.pid])
        return p

    def _remember(self, pids):
        for pid in pids:
            st = _stat(pid)
            if st:
                self._seen.setdefault(pid, st[2])

    def pids(self):
        out = descendants([p.pid for _, p in self._roots
                           if p.poll() is None])
        self._remember(out)
        return out

    def helper_pids(self):
        out = descendants([p.pid for _, p in self._helpers
                           if p.poll() is None])
        self._remember(out)
        return out

    def _check_alive(self):
        for name, p in self._roots + self._helpers:
            if p.poll() is not None:
                raise RuntimeError("%s: %s exited with %s; see %s" % (
                    self.name, name, p.returncode,
                    self._log_tail(name)))

    def _log_tail(self, name, n=15):
        path = os.path.join(self.workdir, name + ".out")
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()[-n:]
        except OSError:
            return path
        return path + (":\n  " + "\n  ".join(lines) if lines else " (empty)")

    def _wait_until(self, ready, failure):
        """Poll ready() until it is true, while every process lives, for
        up to START_TIMEOUT; then raise RuntimeError("NAME: failure")."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self._check_alive()
            if ready():
                return
            if time.monotonic() > deadline:
                raise RuntimeError("%s: %s" % (self.name, failure))
            time.sleep(0.05)

    def _wait_port(self, port, what):
        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return True
            except OSError:
                return False
        self._wait_until(listening, "%s does not listen on port %d" % (
            what, port))

    # -- life cycle
    def start(self):
        if not self.workdir:
            raise RuntimeError("%s: no workdir" % self.name)
        if not self.available():
            raise RuntimeError("%s: not installed" % self.name)
        _running.append(self)
        try:
            self._start()
            self.probe()
        except BaseException:
            try:
                self.stop()
            except Exception as e:  # noqa: BLE001 - keep the first error
                print("targets: %s: stop after failed start: %s" % (
                    self.name, e), file=sys.stderr)
            raise
        self.pids()
        return self

    def probe(self, timeout=START_TIMEOUT):
        """A real round trip: subscribe a fresh key, publish to it with the
        "call" publisher (again every 0.5 s until it arrives, as a
        subscription may take a moment to reach the publishing side),
        and check the data."""
        key = "probe-%d-%d" % (os.getpid(), time.monotonic_ns())
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                c = SSEClient(self.sub_url.replace("{key}", key))
                try:
                    c.wait_open(self.open_marker,
                                max(0.1, deadline - time.monotonic()))
                    n = 0
                    while True:
                        n += 1
                        data = "probe %d %s" % (n, key)
                        publish(self.publishers["call"], key, data)
                        try:
                            c.wait_data(data, 0.5)
                            return
                        except TimeoutError:
                            if time.monotonic() > deadline:
                                raise
                finally:
                    c.close()
            except (OSError, RuntimeError, TimeoutError,
                    subprocess.SubprocessError) as e:
                last = e
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("%s: no SSE round trip within %.0f s: %s" %
                                   (self.name, timeout, last))
            time.sleep(0.2)

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop by pid: SIGTERM each process we started (the server's in
        start order, then the helpers) and wait until it and its children
        are gone, so each takes its own children down; SIGTERM whatever of
        the target is still there; SIGKILL what is left after timeout s.
        Then scan /proc for any process whose command line, working
        directory or environment mentions workdir. Raises RuntimeError if
        anything survives; self.stop_report lists what needed SIGKILL."""
        if self in _running:
            _running.remove(self)
        if not self.workdir:
            return
        groups = []
        for _, p in self._roots + self._helpers:
            g = descendants([p.pid]) if p.poll() is None else []
            self._remember(g)
            groups.append((p, g))
        self._remember(procs_in(self.workdir))

        def live(pid):
            st = _stat(pid)
            return bool(st) and st[2] == self._seen.get(pid) and \
                st[0] != "Z"

        def signal_pid(pid, sig):
            if live(pid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

        def wait_gone(pids, until):
            while True:
                for p, _ in groups:
                    p.poll()            # reap our own children
                left = [pid for pid in pids if live(pid)]
                if not left or time.monotonic() >= until:
                    return left
                time.sleep(0.05)

        deadline = time.monotonic() + timeout
        for p, g in groups:
            if g:
                signal_pid(p.pid, signal.SIGTERM)
                wait_gone(g, deadline)
        left = wait_gone(list(self._seen), time.monotonic())
        for pid in left:
            signal_pid(pid, signal.SIGTERM)
        left = wait_gone(left, deadline)
        killed = [(pid, _cmdline(pid)) for pid in left]
        for pid in left:
            signal_pid(pid, signal.SIGKILL)
        wait_gone(left, time.monotonic() + 5.0)
        for p, _ in groups:
            try:
                p.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        survivors = {pid: _cmdline(pid) for pid in self._seen if live(pid)}
        for pid in procs_in(self.workdir):
            survivors.setdefault(pid, _cmdline(pid))
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.stop_report = {"sigkilled": killed,
                            "survivors": sorted(survivors.items())}
        if survivors:
            raise RuntimeError("%s: processes survived stop: %s" % (
                self.name, sorted(survivors.items())))


class Ours(Target):
    """sse-broker + lighttpd spawning 2 sse-fcgi workers, as the demo
    (lighttpd.conf) but without access log and sized for STREAMS."""
    name = "ours"
    open_marker = b": ok"

    def __init__(self, builddir, srcdir=None, workdir=None, heartbeat=15):
        super().__init__(workdir)
        self.builddir = os.path.abspath(builddir)
        self.srcdir = os.path.abspath(srcdir or builddir)
        self.bin = {n: os.path.join(self.builddir, "src", n)
                    for n in ("sse-broker", "sse-fcgi", "sse-push")}
        self.lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        self.heartbeat = heartbeat
        # lighttpd (as root) sets its own fd limit to server.max-fds but
        # cannot go past the hard limit. It needs 2 fds per stream (client
        # and worker sockets) and stops accepting once its fds reach 90 % of
        # max-fds (its high watermark; accept resumes below 80 %), so one
        # lighttpd holds about (0.9 * max-fds - its own fds) / 2 streams.
        # server.max-connections is set to that, minus a margin, so the cap
        # is exact instead of depending on timing. At the cap lighttpd stops
        # accepting: further clients wait in the listen backlog, unrefused.
        self.max_fds = fd_hard_limit()
        self.max_conns = (self.max_fds * 9 // 10 - 32) // 2
        # Both lighttpd processes (server.max-worker 2, as lighttpd.conf)
        # have these limits each: one that is full stops accepting and the
        # other takes the rest. A stream whose client left (our start-up
        # probe) holds its slot until lighttpd next writes to it.
        self.max_streams = LIGHTTPD_PROCS * self.max_conns - 32
        if self.workdir:
            self.port = free_port()
            self.rundir = os.path.join(self.workdir, "run")

    def available(self):
        return all(os.access(b, os.X_OK) for b in self.bin.values()) and \
            os.access(self.lighttpd, os.X_OK)

    @property
    def sub_url(self):
        return "http://127.0.0.1:%d/sse?key={key}" % self.port

    @property
    def publishers(self):
        env = {"SSE_RUNDIR": self.rundir}
        push = self.bin["sse-push"]
        return {
            # one process, one "KEY MESSAGE" line per event
            "batch": {"mode": "lines", "cmd": push + " --lines --keyed",
                      "env": env},
            "call": {"mode": "exec", "cmd": push + " {key} {data}",
                     "env": env},
            "broadcast": {"mode": "exec", "cmd": push + " --all {data}",
                          "env": env},
        }

    def worker_pids(self):
        """The FastCGI backends (where the streams live)."""
        return [pid for pid in self.pids()
                if _cmdline(pid).split(" ")[0] == self.backend]

    def _env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SSE_")}
        env["SSE_RUNDIR"] = self.rundir
        return env

    def _conf(self):
        docroot = os.path.join(self.workdir, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        q = json.dumps      # a quoted string lighttpd accepts
        return """\
# generated by bench/targets.py from lighttpd.conf (the demo), for
# benchmarking: no access log, sized for {streams} streams
server.document-root = {docroot}
server.bind          = "127.0.0.1"
server.port          = {port}
server.errorlog      = {errorlog}
# mod_accesslog is not loaded: it writes a line per request (the peers log
# nothing per request either)
server.modules = ("mod_fastcgi")
server.stream-response-body = 2
# as lighttpd.conf: 1 KiB chunks, not 8 KiB, for small events; a lighttpd
# process per core
server.chunkqueue-chunk-sz = 1024
server.max-worker = {procs}
# 2 fds per stream (client, worker); max-fds is capped by the hard fd
# limit ({max_fds} here) and lighttpd stops accepting at 90 % of max-fds:
# max-connections (at most max-fds/2) = (0.9 * max-fds - 32) / 2
server.max-fds         = {max_fds}
server.max-connections = {max_conns}
server.max-write-idle  = 360
fastcgi.server = ("/sse" => ((
    "socket"          => {sock},
    "bin-path"        => {fcgi},
    "max-procs"       => 2,
    "check-local"     => "disable",
    "listen-backlog"  => 4096,
    "bin-environment" => ({backend_env}
    ),
    "bin-copy-environment" => ("PATH"),
)))
""".format(streams=STREAMS, docroot=q(docroot), port=self.port,
           errorlog=q(os.path.join(self.workdir, "lighttpd-error.log")),
           max_fds=self.max_fds,
           max_conns=self.max_conns,
           sock=q(os.path.join(self.rundir, "fcgi.sock")),
           fcgi=q(self.backend), backend_env=self._backend_env(),
           procs=LIGHTTPD_PROCS)

    @property
    def backend(self):
        """The FastCGI program lighttpd spawns (max-procs 2)."""
        return self.bin["sse-fcgi"]

    def _backend_env(self):
        q = json.dumps
        return """
        "SSE_RUNDIR"      => {rundir},
        "SSE_HEARTBEAT"   => "{heartbeat}",
        # warn: info logs every stream's start and end
        "SSE_LOG_LEVEL"   => "warn",
        # no per-worker cap (0): lighttpd's fd limit is the cap
        "SSE_MAX_STREAMS" => "0",""".format(rundir=q(self.rundir),
                                            heartbeat=self.heartbeat)

    def _start(self):
        os.makedirs(self.rundir, exist_ok=True)
        env = self._env()
        self._spawn("sse-broker", [self.bin["sse-broker"], "--rundir",
                                   self.rundir, "--log-level", "warn"],
                    env=env)
        self._wait_until(
            lambda: all(os.path.exists(os.path.join(self.rundir, s))
                        for s in ("pub.sock", "push.sock")),
            "sse-broker made no sockets in %s" % self.rundir)
        self._start_lighttpd(env)
        self.version = "%s; sse-gateway %s" % (
            run_out([self.lighttpd, "-v"]).split(" ")[0],
            run_out([self.bin["sse-fcgi"], "-V"]).splitlines()[0])

    def _start_lighttpd(self, env):
        """lighttpd, and the 2 backends it spawns."""
        conf = os.path.join(self.workdir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(self._conf())
        self._spawn("lighttpd", [self.lighttpd, "-D", "-f", conf], env=env)
        self._wait_port(self.port, "lighttpd")
        self._wait_until(lambda: len(self.worker_pids()) >= 2,
                         "lighttpd did not spawn 2 %s" %
                         os.path.basename(self.backend))


class Floor(Ours):
    """lighttpd, configured as for ours, in front of bench/fcgi-floor: a
    FastCGI backend that only answers and writes (no broker, no replay, no
    heartbeat, blocking writes). Not a product: what any FastCGI backend
    behind this lighttpd at best achieves, so the table tells lighttpd's
    cost from ours. Publishing is a datagram per event to each backend."""
    name = "floor"
    # the scenarios it has a publisher for (no broadcast, no per-call push)
    scenarios = ("idle1k", "idle5k", "fanout", "throughput", "paced",
                 "storm")

    def __init__(self, builddir, srcdir=None, workdir=None):
        super().__init__(builddir, srcdir, workdir)
        self.floor = os.path.join(self.builddir, "bench", "fcgi-floor")

    def available(self):
        return os.access(self.floor, os.X_OK) and \
            os.access(self.lighttpd, os.X_OK)

    @property
    def backend(self):
        return self.floor

    def _backend_env(self):
        return "\n        \"FLOOR_DIR\" => %s," % json.dumps(self.rundir)

    @property
    def publishers(self):
        pub = self.floor + " --publish " + self.rundir
        return {
            "batch": {"mode": "lines", "cmd": pub, "env": {}},
            "call": {"mode": "exec", "cmd": pub + " {key} {data}",
                     "env": {}},
        }

    def _start(self):
        os.makedirs(self.rundir, exist_ok=True)
        self._start_lighttpd(self._env())
        self._wait_until(
            lambda: len(glob.glob(os.path.join(self.rundir,
                                               "floor-*.sock"))) >= 2,
            "no backend sockets in %s" % self.rundir)
        self.version = "%s; fcgi-floor" % (
            run_out([self.lighttpd, "-v"]).split(" ")[0])


def _nginx_version():
    v = run_out([NGINX, "-v"])
    m = re.search(r"nginx/(\S+)", v)
    return m.group(1) if m else "?"


def _nginx_paths(workdir):
    """nginx directives that keep everything of an instance in workdir."""
    tmp = os.path.join(workdir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    return "\n".join("    %s %s;" % (d, tmp) for d in (
        "client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path",
        "uwsgi_temp_path", "scgi_temp_path"))


class Nchan(Target):
    """nginx with the Nchan module, in-memory storage, 2 workers."""
    name = "nchan"
    open_marker = b": hi"       # Nchan's EventSource greeting

    def __init__(self, workdir=None, streams=STREAMS):
        super().__init__(workdir)
        self.streams = streams
        # nginx: 1 fd per stream in the worker that accepted it, and the
        # 2 workers do not share streams evenly, so each worker is sized
        # for all of them
        self.worker_connections = streams + 512
        self.max_streams = min(streams, fd_hard_limit() - 512)
        if self.workdir:
            self.port = free_port()

    def available(self):
        return os.access(NGINX, os.X_OK) and os.path.exists(NCHAN_MODULE)

    @property
    def sub_url(self):
        return "http://127.0.0.1:%d/sub?key={key}" % self.port

    @property
    def publishers(self):
        url = "http://127.0.0.1:%d/pub?id=" % self.port
        curl = "curl -s -f -o /dev/null -X POST --data-raw {data} "
        return {
            "batch": {"mode": "http", "url": url + "{key}"},
            "call": {"mode": "exec", "cmd": curl + url + "{key}"},
            "broadcast": {"mode": "exec", "cmd": curl + url + "all"},
            "broadcast_http": {"mode": "http", "url": url + "all"},
        }

    def _conf(self):
        w = self.workdir
        return """\
# generated by bench/targets.py: nginx + Nchan (in-memory), sized for
# {streams} streams
load_module {module};
# 2 workers: the same 2 cores our lighttpd + 2 sse-fcgi use
worker_processes 2;
# nginx sets this fd limit for its workers; it cannot pass the hard limit
worker_rlimit_nofile {nofile};
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{
    # per worker, and one worker may get most of the streams
    worker_connections {wc};
}}
http {{
    # nginx logs every request by default; the others log none
    access_log off;
{paths}
    # Nchan defaults kept, except: a channel keeps 10 messages by default
    # (we keep 100 per key): a subscriber that falls behind during a burst
    # (20,000 events over 200 channels) would lose the older ones
    nchan_message_buffer_length 100;
    nchan_message_timeout 1h;
    server {{
        listen 127.0.0.1:{port};
        # EventSource only (requires Accept: text/event-stream, else 403);
        # every stream also subscribes to the broadcast channel "all"
        location = /sub {{
            nchan_subscriber eventsource;
            nchan_channel_id $arg_key all;
            # a new subscriber gets the channel's buffered messages first by
            # default ("oldest"); ours starts live
            nchan_subscriber_first_message newest;
        }}
        location = /pub {{
            nchan_publisher;
            nchan_channel_id $arg_id;
        }}
        location = /version {{
            default_type text/plain;
            return 200 "$nchan_version";
        }}
    }}
}}
""".format(streams=self.streams, module=NCHAN_MODULE, w=w,
           nofile=fd_hard_limit(), wc=self.worker_connections,
           paths=_nginx_paths(w), port=self.port)

    def _start(self):
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self._conf())
        self._spawn("nginx", [NGINX, "-p", self.workdir, "-c", conf,
                              "-g", "daemon off;"])
        self._wait_port(self.port, "nginx")
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/version" %
                                        self.port, timeout=5) as r:
                nchan = r.read().decode().strip()
        except OSError:
            nchan = "?"
        self.version = "nginx/%s; nchan %s" % (_nginx_version(), nchan)


def _ini_set(text, settings):
    """Set key=value in sections of an INI text, keeping comments; a value
    None removes the key; keys not present are added to their section."""
    out, section, done = [], None, set()

    def flush(sec):
        for (s, k), v in settings.items():
            if s == sec and (s, k) not in done and v is not None:
                out.append("%s=%s" % (k, v))
                done.add((s, k))
    for line in text.splitlines():
        m = re.match(r"\s*\[(.+)\]\s*$", line)
        if m:
            flush(section)
            section = m.group(1)
            out.append(line)
            continue
        m = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
        if m and (section, m.group(1)) in settings:
            v = settings[(section, m.group(1))]
            done.add((section, m.group(1)))
            if v is not None:
                out.append("%s=%s" % (m.group(1), v))
            continue
        out.append(line)
    flush(section)
    for (s, k), v in settings.items():
        if (s, k) not in done and v is not None:
            out += ["[%s]" % s, "%s=%s" % (k, v)]
    return "\n".join(out) + "\n"


class Pushpin(Target):
    """Pushpin 1.36 (runner + condure + zurl + pushpin-proxy +
    pushpin-handler) in front of an nginx origin that answers /sse with
    GRIP hold headers."""
    name = "pushpin"
    open_marker = b": ok"       # the origin's body, sent on at once

    def __init__(self, workdir=None, streams=STREAMS):
        super().__init__(workdir)
        self.streams = streams
        self.maxconn = streams + 512
        self.max_streams = min(streams, fd_hard_limit() - 512)
        if self.workdir:
            # clients (condure), publish API (handler), nginx origin
            self.port, self.control_port, self.origin_port = free_ports(3)
            self.rundir = os.path.join(self.workdir, "run")

    def available(self):
        return all(shutil.which(b) for b in (
            "pushpin", "condure", "zurl", "pushpin-proxy",
            "pushpin-handler", "pushpin-publish")) and \
            os.access(NGINX, os.X_OK) and os.path.exists(PUSHPIN_CONF)

    @property
    def sub_url(self):
        return "http://127.0.0.1:%d/sse?key={key}" % self.port

    @property
    def publishers(self):
        url = "http://127.0.0.1:%d/publish/" % self.control_port
        # pushpin-publish needs the event's newlines in one argument: a
        # wrapper (sh + pushpin-publish) builds it
        push = "%s http://127.0.0.1:%d " % (PUSHPIN_PUSH, self.control_port)
        return {
            "batch": {"mode": "http", "url": url, "body": "pushpin"},
            # per process, like sse-push and curl for Nchan: curl with the
            # JSON of /publish/ (one argv word; "data:" needs no space)
            "call": {"mode": "exec", "cmd": "curl -s -f -o /dev/null -X "
                     "POST --data-raw " + PUSHPIN_CALL_JSON + " " + url},
            "broadcast": {"mode": "exec", "cmd": push + "all {data}"},
            "broadcast_http": {"mode": "http", "url": url,
                               "body": "pushpin", "channel": "all"},
        }

    def _pushpin_conf(self):
        with open(PUSHPIN_CONF) as f:
            text = f.read()
        ipc = "ipc://{rundir}/{ipc_prefix}"
        s = {
            ("global", "rundir"): self.rundir,
            ("global", "port_offset"): "0",
            # zurl (Pushpin's HTTP client to the origin): Debian's pushpin
            # expects a system zurl on /var/run/zurl and leaves it out of
            # services; run our own, on sockets in rundir
            ("runner", "services"): "condure,zurl,pushpin-proxy,"
                                    "pushpin-handler",
            ("runner", "http_port"): "127.0.0.1:%d" % self.port,
            ("runner", "logdir"): os.path.join(self.workdir, "log"),
            # 1 = warnings: info (2) logs every request and every publish
            ("runner", "log_level"): "1",
            # caps streams in condure (--stream-maxconn) and the handler
            ("runner", "client_maxconn"): str(self.maxconn),
            ("proxy", "routesfile"): os.path.join(self.workdir, "routes"),
            ("proxy", "zurl_out_specs"): ipc + "zurl-in",
            ("proxy", "zurl_out_stream_specs"): ipc + "zurl-in-stream",
            ("proxy", "zurl_in_specs"): ipc + "zurl-out",
            ("proxy", "updates_check"): "off",
            # the fixed tcp ports 5560-5563 go to unix sockets in rundir,
            # the HTTP publish API to a free port
            ("handler", "push_in_spec"): ipc + "push-in",
            ("handler", "push_in_sub_specs"): ipc + "push-in-sub",
            ("handler", "command_spec"): ipc + "command",
            ("handler", "push_in_http_addr"): "127.0.0.1",
            ("handler", "push_in_http_port"): str(self.control_port),
            # the shipped pushpin.conf limits deliveries (one message to one
            # stream) to 2,500 per second and drops them beyond 25,000
            # queued: a broadcast to 10,000 streams would take 4 s and
            # 20,000 events lose some. Unset = no limit (the built-in
            # default)
            ("handler", "message_rate"): None,
            ("handler", "message_hwm"): None,
        }
        return _ini_set(text, s)

    def _origin_conf(self):
        w = os.path.join(self.workdir, "origin")
        os.makedirs(w, exist_ok=True)
        return """\
# generated by bench/targets.py: the origin behind Pushpin. It answers
# every subscribe at once with GRIP instructions: hold the response open as
# a stream, subscribed to the key's channel and to "all"; the body (an SSE
# comment, like ours sends) goes to the client at once.
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{paths}
    server {{
        listen 127.0.0.1:{port};
        location = /sse {{
            default_type text/event-stream;
            add_header Grip-Hold stream;
            add_header Grip-Channel "$arg_key, all";
            return 200 ": ok\\n\\n";
        }}
    }}
}}
""".format(w=w, paths=_nginx_paths(w), port=self.origin_port)

    def _start(self):
        os.makedirs(self.rundir, exist_ok=True)
        os.makedirs(os.path.join(self.workdir, "log"), exist_ok=True)
        oconf = os.path.join(self.workdir, "origin", "nginx.conf")
        text = self._origin_conf()
        with open(oconf, "w") as f:
            f.write(text)
        self._spawn("origin", [NGINX, "-p", os.path.dirname(oconf), "-c",
                               oconf, "-g", "daemon off;"], helper=True)
        with open(os.path.join(self.workdir, "routes"), "w") as f:
            f.write("* 127.0.0.1:%d\n" % self.origin_port)
        conf = os.path.join(self.workdir, "pushpin.conf")
        with open(conf, "w") as f:
            f.write(self._pushpin_conf())
        self._wait_port(self.origin_port, "origin nginx")
        self._spawn("pushpin", ["pushpin", "--config", conf])
        self._wait_port(self.port, "condure")
        self._wait_port(self.control_port, "pushpin-handler")
        ver = run_out(["pushpin", "--version"]).split()
        self.version = "pushpin %s (condure %s, zurl %s); origin nginx/%s" % (
            ver[-1] if ver else "?",
            run_out(["condure", "--version"]).split()[-1],
            run_out(["zurl", "--version"]).split()[-1], _nginx_version())


# ---------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------

def sse_push_has_keyed(t):
    return "--keyed" in run_out([t.bin["sse-push"], "--help"])


def selftest(t):
    """Start t, deliver one event through each publisher, show memory,
    stop, and check nothing is left. Returns the number of failures."""
    fails = 0
    t0 = time.monotonic()
    t.start()
    print("%s: started in %.2f s on %s" % (t.name, time.monotonic() - t0,
                                          t.sub_url))
    print("  version: %s" % t.version)
    print("  max_streams: %d" % t.max_streams)
    try:
        for name, pub in t.publishers.items():
            if pub["mode"] == "lines" and isinstance(t, Ours) and \
                    not sse_push_has_keyed(t):
                print("  %-15s SKIP: this sse-push has no --keyed yet" % name)
                continue
            key = "selftest-" + name.replace("_", "-")
            data = "%d %d %s" % (time.time_ns() // 1000, len(name), key)
            c = SSEClient(t.sub_url.replace("{key}", key))
            try:
                c.wait_open(t.open_marker)
                t1 = time.monotonic()
                publish(pub, key, data)
                ev = c.wait_data(data, 10.0)
                print("  %-15s ok  %6.1f ms  %r" % (
                    name, (time.monotonic() - t1) * 1000, ev["data"]))
            except Exception as e:  # noqa: BLE001 - count and go on
                fails += 1
                print("  %-15s FAIL: %s: %s" % (name, type(e).__name__, e))
            finally:
                c.close()
        pids = t.pids()
        rss, pss = mem_kib(pids)
        print("  processes: %s" % ", ".join(
            "%d %s" % (p, _cmdline(p)[:60]) for p in pids))
        print("  memory: RSS %d KiB, PSS %d KiB" % (rss, pss))
        if t.helper_pids():
            print("  helpers (not counted): %s, RSS %d KiB" % (
                t.helper_pids(), mem_kib(t.helper_pids())[0]))
    finally:
        t.stop()
    left = procs_in(t.workdir)
    print("  stopped; SIGKILLed: %s; left: %s" % (
        t.stop_report["sigkilled"] or "none", left or "none"))
    return fails + (1 if left else 0)


async def _hold_one(url, marker, opened, got, want, stop):
    u = urllib.parse.urlsplit(url)
    try:
        r, w = await asyncio.open_connection(u.hostname, u.port)
    except OSError:
        return
    w.write(("GET %s?%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream"
             "\r\n\r\n" % (u.path, u.query, u.hostname)).encode())
    buf = b""
    state = 0
    try:
        while True:
            b = await r.read(4096)
            if not b:
                return
            buf += b
            if state == 0 and b"\r\n\r\n" in buf and marker in buf:
                state = 1
                opened.append(1)
            if state == 1 and want[0] and want[0] in buf:
                got.append(1)
                state = 2
                await stop.wait()
                return
    except OSError:
        return
    finally:
        w.close()


async def hold(t, n, keys=1000):
    """Open n idle streams, measure memory, broadcast once, count."""
    raise_fd_limit()
    opened, got, want = [], [], [None]
    stop = asyncio.Event()
    before = mem_kib(t.pids())
    tasks = []
    t0 = time.monotonic()
    for i in range(n):
        url = t.sub_url.replace("{key}", "k%d" % (i % keys))
        tasks.append(asyncio.ensure_future(
            _hold_one(url, t.open_marker, opened, got, want, stop)))
        if i % 50 == 49:
            # 1,000 connects/s: Pushpin answers faster bursts partly with
            # 502/500 (its queues between processes overflow)
            await asyncio.sleep(0.05)
    while len(opened) < n and time.monotonic() - t0 < 120 and \
            not all(x.done() for x in tasks):
        await asyncio.sleep(0.05)
    t_open = time.monotonic() - t0
    await asyncio.sleep(2)
    after = mem_kib(t.pids())
    data = "broadcast-%d" % time.time_ns()
    want[0] = ("data: " + data).encode()
    t1 = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(
        None, publish, t.publishers["broadcast"], "all", data)
    while len(got) < len(opened) and time.monotonic() - t1 < 30:
        await asyncio.sleep(0.02)
    t_bc = time.monotonic() - t1
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    k = max(len(opened), 1)
    print("  hold %d: opened %d in %.2f s; broadcast reached %d in %.2f s" %
          (n, len(opened), t_open, len(got), t_bc))
    print("  memory of pids(): RSS %d -> %d KiB (%.0f bytes/stream), "
          "PSS %d -> %d KiB (%.0f bytes/stream)" % (
              before[0], after[0], (after[0] - before[0]) * 1024 / k,
              before[1], after[1], (after[1] - before[1]) * 1024 / k))
    return len(opened), len(got)


def main():
    ap = argparse.ArgumentParser(description="Self-test the benchmark "
                                 "targets: start, one event per publisher, "
                                 "stop, nothing left running.")
    ap.add_argument("--targets", default="ours,nchan,pushpin")
    ap.add_argument("--builddir", default=os.environ.get("SSE_BUILDDIR", TOP))
    ap.add_argument("--srcdir", default=os.environ.get("SSE_SRCDIR", TOP))
    ap.add_argument("--hold", type=int, default=0,
                    help="also hold N idle streams and measure memory")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directory")
    a = ap.parse_args()
    make = {"ours": lambda wd: Ours(a.builddir, a.srcdir, wd),
            "floor": lambda wd: Floor(a.builddir, a.srcdir, wd),
            "nchan": lambda wd: Nchan(wd),
            "pushpin": lambda wd: Pushpin(wd)}
    # SIGTERM (timeout, kill) ends us through atexit: nothing left running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = tempfile.mkdtemp(prefix="sse-targets-")
    fails = 0
    for name in a.targets.split(","):
        if not make[name](None).available():
            print("%s: not installed, skipped" % name)
            continue
        t = make[name](os.path.join(base, name))
        try:
            fails += selftest(t)
            if a.hold:
                t = make[name](os.path.join(base, name + "-hold"))
                t.start()
                try:
                    o, g = asyncio.run(hold(t, a.hold))
                    if o != a.hold or g != o:
                        fails += 1
                finally:
                    t.stop()
        except Exception as e:  # noqa: BLE001 - report, next target
            fails += 1
            print("%s: FAIL: %s" % (name, e))
    if a.keep or fails:
        print("scratch directory kept: %s" % base)
    else:
        shutil.rmtree(base, ignore_errors=True)
    print("%s" % ("all ok" if not fails else "%d failure(s)" % fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
