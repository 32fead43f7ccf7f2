"""FastCGI connections as the worker's event loop reads them: a request
that arrives a few bytes at a time, connections that send half a request
or no FastCGI at all (they must not hold up anyone else, and are closed),
management records, and FCGI_WEB_SERVER_ADDRS on a TCP --listen socket.
Raw FastCGI is spoken to the sockets lighttpd spawned the workers on. Also:
each worker's fd table is sized for its fd limit from the start."""

import glob
import os
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

PENDING_S = 10      # the worker's limit for a request's parameters


def setup():
    return harness.Gateway("fcgi-conn", log_level="info")


def record(rtype, rid, content=b"", pad=0):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), pad, 0) + \
        content + b"\0" * pad


def pairs(params):
    out = b""
    for name, value in params:
        for n in (len(name), len(value)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 1 << 31)
        out += name + value
    return out


def request(rid, params):
    body = struct.pack(">HB5x", 1, 0)       # FCGI_RESPONDER, no keep-conn
    p = pairs(params)
    return (record(1, rid, body) + record(4, rid, p[:7], pad=3) +
            record(4, rid, p[7:]) + record(4, rid) + record(5, rid))


class Conn:
    """A raw FastCGI connection and the records read from it."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX if "/" in path and ":" not in
                               path else socket.AF_INET)
        if self.s.family == socket.AF_UNIX:
            self.s.connect(path)
        else:
            host, port = path.rsplit(":", 1)
            self.s.connect((host, int(port)))
        self.buf = b""
        self.closed = False

    def send(self, b):
        self.s.sendall(b)

    def _fill(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            b = b""
        if not b:
            self.closed = True
        self.buf += b

    def records(self):
        out, off = [], 0
        while len(self.buf) - off >= 8:
            _, t, rid, n, pad, _ = struct.unpack(">BBHHBB",
                                                 self.buf[off:off + 8])
            if len(self.buf) - off < 8 + n + pad:
                break
            out.append((t, rid, self.buf[off + 8:off + 8 + n]))
            off += 8 + n + pad
        return out

    def stdout(self):
        return b"".join(c for t, _, c in self.records() if t == 6)

    def wait(self, pred, timeout=harness.EVENT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not pred(self) and not self.closed and \
                time.monotonic() < deadline:
            self._fill(deadline)
        return pred(self)

    def close(self):
        self.s.close()


def worker_sockets(gw):
    """lighttpd's two worker sockets (it binds each before it spawns the
    worker on it; the second may come a moment after the first)."""
    def socks():
        return sorted(glob.glob(os.path.join(gw.rundir, "fcgi.sock-*")))
    harness.wait_until(lambda: len(socks()) == 2, harness.START_TIMEOUT)
    check(len(socks()) == 2, "two worker sockets: %r" % socks())
    return socks()


def still_serving(gw, key):
    """A stream through lighttpd on each worker gets an event."""
    cs = [gw.stream("/sse?key=%s" % key) for _ in range(4)]
    try:
        gw.wait_live(cs, key)
        gw.push_ok([key, "still here"])
        for c in cs:
            c.wait_for_events(1)
            eq([e.data for e in c.real_events()], ["still here"], key)
    finally:
        for c in cs:
            c.close()


def test_request_in_pieces_streams(gw):
    """A request written a few bytes at a time, with pauses, becomes a
    stream: headers, ': ok', then a published event, in STDOUT records."""
    for path in worker_sockets(gw):
        c = Conn(path)
        try:
            req = request(300, [(b"REQUEST_METHOD", b"GET"),
                                (b"QUERY_STRING", b"key=raw-pieces"),
                                (b"HTTP_X_LONG", b"v" * 300)])
            for i in range(0, len(req), 5):
                c.send(req[i:i + 5])
                time.sleep(0.002)
            check(c.wait(lambda c: b": ok\n" in c.stdout()),
                  "headers and ': ok' (got %r)" % c.stdout())
            out = c.stdout()
            check(out.startswith(b"Status: 200 OK\r\n"), out[:60])
            check(b"Content-Type: text/event-stream\r\n" in out, out)
            check(all(rid == 300 for _, rid, _ in c.records()), "request id")
            deadline = time.monotonic() + harness.START_TIMEOUT
            while b"data: piece\n" not in c.stdout():
                check(time.monotonic() < deadline, "event never came")
                gw.push_ok(["raw-pieces", "piece"])
                c.wait(lambda c: b"data: piece\n" in c.stdout(), 0.3)
        finally:
            c.close()


def test_half_requests_hold_up_nobody(gw):
    """Connections that send nothing, half a header, or half the
    parameters do not stop either worker from serving others; they are
    closed once the time for a request is over."""
    half = request(1, [(b"QUERY_STRING", b"key=half")])
    conns = []
    for path in worker_sockets(gw):
        for b in (b"", half[:5], half[:20]):
            c = Conn(path)
            if b:
                c.send(b)
            conns.append(c)
    try:
        still_serving(gw, "past-half")
        check(not any(c.closed for c in conns), "closed before their time")
        for c in conns:
            c.wait(lambda c: c.closed, PENDING_S + 5)
            check(c.closed, "a half request was not closed")
            eq(c.records(), [], "nothing answered to a half request")
        check("no whole request" in gw.worker_log(), "logged why")
    finally:
        for c in conns:
            c.close()


def test_not_fastcgi_is_closed(gw):
    """An HTTP request (or any bytes that are not FastCGI records) on a
    worker's socket is closed at once, with the reason in the log; a role
    other than responder gets FCGI_END_REQUEST with FCGI_UNKNOWN_ROLE."""
    pids = gw.worker_pids()
    for path in worker_sockets(gw):
        c = Conn(path)
        c.send(b"GET /sse?key=x HTTP/1.1\r\nHost: x\r\n\r\n")
        check(c.wait(lambda c: c.closed, 5), "HTTP on FastCGI not closed")
        c.close()
        c = Conn(path)
        c.send(record(1, 9, struct.pack(">HB5x", 2, 0)))  # FCGI_AUTHORIZER
        check(c.wait(lambda c: c.closed, 5), "authorizer not closed")
        eq(c.records(), [(3, 9, b"\0\0\0\0\3\0\0\0")], "FCGI_UNKNOWN_ROLE")
        c.close()
    check("not a FastCGI version 1 record" in gw.worker_log(), "logged")
    eq(gw.worker_pids(), pids, "workers kept their pids")
    still_serving(gw, "past-garbage")


def test_management_records_answered(gw):
    """FCGI_GET_VALUES gets FCGI_GET_VALUES_RESULT (FCGI_MPXS_CONNS=0); an
    unknown management type gets FCGI_UNKNOWN_TYPE; then the request on the
    same connection is served."""
    path = worker_sockets(gw)[0]
    c = Conn(path)
    try:
        c.send(record(9, 0, pairs([(b"FCGI_MPXS_CONNS", b""),
                                   (b"FCGI_MAX_REQS", b"")])))
        c.send(record(77, 0))
        c.send(request(5, [(b"QUERY_STRING", b"key=mgmt")]))
        check(c.wait(lambda c: b": ok\n" in c.stdout()), "served")
        recs = c.records()
        eq(recs[0], (10, 0, pairs([(b"FCGI_MPXS_CONNS", b"0")])),
           "FCGI_GET_VALUES_RESULT")
        eq(recs[1], (11, 0, b"\x4d" + b"\0" * 7), "FCGI_UNKNOWN_TYPE")
    finally:
        c.close()


def test_web_server_addrs(gw):
    """On a TCP --listen socket, FCGI_WEB_SERVER_ADDRS decides who may
    connect: not listed, the connection is closed unanswered; listed (with
    others, spaces allowed), it is served."""
    for allowed, served in (("10.9.9.9", False),
                            ("10.9.9.9, 127.0.0.1", True)):
        port = harness.free_port()
        env = gw.env({"FCGI_WEB_SERVER_ADDRS": allowed})
        log = open(os.path.join(gw.scratch, "standalone.log"), "ab")
        p = subprocess.Popen([harness.SSE_FCGI, "--listen",
                              "127.0.0.1:%d" % port], env=env,
                             stdout=log, stderr=log)
        try:
            check(harness.wait_until(lambda: harness.can_connect(port), 10),
                  "standalone worker did not listen")
            c = Conn("127.0.0.1:%d" % port)
            c.send(request(1, [(b"QUERY_STRING", b"key=addrs")]))
            if served:
                check(c.wait(lambda c: b": ok\n" in c.stdout()),
                      "listed address not served")
            else:
                check(c.wait(lambda c: c.closed, 5), "not closed")
                eq(c.records(), [], "answered an address not listed")
            c.close()
        finally:
            harness.stop_process(p)
            log.close()
    check("peer not in FCGI_WEB_SERVER_ADDRS" in
          gw.read_log("standalone.log"), "refusal logged")


FD_TABLE_MAX = 65536    # the most the worker sizes its fd table for


def _status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    raise AssertionError("no %s in /proc/%d/status" % (name, pid))


def test_fd_table_sized_at_start(gw):
    """Each worker's fd table already has room for as many fds as its
    limit allows (at most 65,536) before any stream: grown later, with
    libzmq's threads running, every doubling would stall the worker for an
    RCU grace period in the middle of a burst of new streams."""
    for pid in gw.worker_pids():
        with open("/proc/%d/limits" % pid) as f:
            soft = [ln.split()[3] for ln in f
                    if ln.startswith("Max open files")][0]
        want = FD_TABLE_MAX if soft == "unlimited" else \
            min(int(soft), FD_TABLE_MAX)
        size = int(_status_field(pid, "FDSize"))
        check(size >= want, "worker %d: fd table for %d fds, limit %s" % (
            pid, size, soft))
        check(int(_status_field(pid, "Threads")) > 1,
              "worker %d has libzmq's threads" % pid)


if __name__ == "__main__":
    harness.run([
        test_request_in_pieces_streams,
        test_half_requests_hold_up_nobody,
        test_fd_table_sized_at_start,
        test_not_fastcgi_is_closed,
        test_management_records_answered,
        test_web_server_addrs,
    ], setup)
