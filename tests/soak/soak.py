#!/usr/bin/env python3
"""Soak: many clients connect, receive and leave for a set time while
events flow; report resident memory of the worker, broker and lighttpd at
the start and the end, and check that every client got events in order
with no duplicate. Not part of `make check`.

    SSE_BUILDDIR=$PWD SSE_SRCDIR=$PWD python3 tests/soak/soak.py \\
        [--seconds 600] [--clients 2000] [--keys 200] [--rate 200]

Each client subscribes to one of --keys keys, stays 1 to 20 seconds, then
leaves and a new one takes its place. A publisher sends --rate events per
second through one `sse-push --lines` per key group, numbering events per
key, so a client can check what it got is increasing without gaps while it
was connected.
"""
import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import harness  # noqa: E402


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Stats:
    def __init__(self):
        self.sessions = 0
        self.events = 0
        self.errors = 0
        self.disorder = 0


async def client(port, key, stop, st):
    while not stop.is_set():
        stay = random.uniform(1, 20)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            st.errors += 1
            await asyncio.sleep(0.5)
            continue
        w.write(("GET /sse?key=%s HTTP/1.0\r\nAccept: text/event-stream"
                 "\r\n\r\n" % key).encode())
        buf = b""
        last = -1
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < stay and not stop.is_set():
                try:
                    chunk = await asyncio.wait_for(r.read(65536), 1.0)
                except asyncio.TimeoutError:
                    continue
                if not chunk:
                    st.errors += 1
                    break
                buf += chunk
                while b"\n\n" in buf:
                    ev, buf = buf.split(b"\n\n", 1)
                    for line in ev.split(b"\n"):
                        if line.startswith(b"data: "):
                            n = int(line[6:].split(b" ")[0])
                            if last >= 0 and n != last + 1:
                                st.disorder += 1
                            last = n
                            st.events += 1
        except (OSError, ValueError):
            st.errors += 1
        w.close()
        st.sessions += 1


async def publisher(gw, keys, rate, stop):
    procs = [subprocess.Popen([harness.SSE_PUSH, "--lines", k],
                              stdin=subprocess.PIPE, env=gw.env())
             for k in keys]
    n = 0
    t0 = time.monotonic()
    while not stop.is_set():
        for i, p in enumerate(procs):
            p.stdin.write(b"%d %s\n" % (n, b"x" * 64))
            p.stdin.flush()
        n += 1
        await asyncio.sleep(max(0, t0 + n * len(keys) / rate -
                                time.monotonic()))
    for p in procs:
        p.stdin.close()
        p.wait()
    return n, [p.returncode for p in procs]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--rate", type=int, default=200)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with harness.Gateway("soak", heartbeat=15, log_level="warn",
                         max_connections=a.clients + 100) as gw:
        pids = {"broker": gw.broker.pid, "lighttpd": gw.lighttpd.pid}
        for i, p in enumerate(gw.worker_pids()):
            pids["worker%d" % i] = p
        start = {n: rss_kib(p) for n, p in pids.items()}
        keys = ["soak%d" % i for i in range(a.keys)]
        stop = asyncio.Event()
        st = Stats()
        tasks = [asyncio.create_task(client(gw.port, keys[i % a.keys], stop,
                                            st))
                 for i in range(a.clients)]
        pub = asyncio.create_task(publisher(gw, keys, a.rate, stop))
        t0 = time.monotonic()
        while time.monotonic() - t0 < a.seconds:
            await asyncio.sleep(10)
            print("t=%4ds sessions=%d events=%d errors=%d disorder=%d %s" % (
                time.monotonic() - t0, st.sessions, st.events, st.errors,
                st.disorder, " ".join("%s=%dKiB" % (n, rss_kib(p))
                                      for n, p in pids.items())),
                flush=True)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        published, rcs = await pub
        time.sleep(2)
        end = {n: rss_kib(p) for n, p in pids.items()}
        print("published %d per key, sse-push exit codes %s" % (
            published, sorted(set(rcs))))
        print("sessions %d, events received %d, errors %d, out of order %d"
              % (st.sessions, st.events, st.errors, st.disorder))
        for n in pids:
            print("%-9s rss %6d KiB -> %6d KiB" % (n, start[n], end[n]))
        return 0 if st.disorder == 0 and set(rcs) == {0} else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
