#!/usr/bin/env python3
"""Hold N SSE streams open through a web server, broadcast one event, and
report how many streams received it and the worker processes' memory.

    bench/hold-streams.py URL N [--keys K] [--pids PID,...] [--push CMD]

URL is an /sse endpoint without the query (http://127.0.0.1:8080/sse);
stream i subscribes to key k<i % K>. --push is the sse-push command line
used for the broadcast (default: sse-push --all). Resident memory of each
pid is read from /proc before and after the streams open.
"""
import argparse
import asyncio
import shlex
import subprocess
import sys
import time
import urllib.parse


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def stream(host, port, path, opened, got, stop):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError:
        return "connect"
    w.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode())
    buf = b""
    state = 0
    try:
        while True:
            chunk = await r.read(4096)
            if not chunk:
                return "closed"
            buf += chunk
            if state == 0 and b": ok" in buf:
                state = 1
                opened.append(1)
            if state == 1 and b"data: broadcast" in buf:
                got.append(1)
                state = 2
                await stop.wait()
                w.close()
                return "ok"
    except OSError:
        return "error"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("n", type=int)
    ap.add_argument("--keys", type=int, default=0)
    ap.add_argument("--pids", default="")
    ap.add_argument("--push", default="sse-push --all")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    keys = a.keys or a.n
    pids = [int(p) for p in a.pids.split(",") if p]
    before = {p: rss_kib(p) for p in pids}
    opened, got = [], []
    stop = asyncio.Event()
    t0 = time.monotonic()
    tasks = []
    for i in range(a.n):
        path = f"{u.path}?key=k{i % keys}"
        tasks.append(asyncio.create_task(
            stream(u.hostname, u.port, path, opened, got, stop)))
        if i % 200 == 199:
            await asyncio.sleep(0.01)
    while len(opened) < a.n and time.monotonic() - t0 < 120:
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.1)
    t_open = time.monotonic() - t0
    await asyncio.sleep(1)
    after = {p: rss_kib(p) for p in pids}
    rc = subprocess.run(shlex.split(a.push) + ["broadcast"]).returncode
    t1 = time.monotonic()
    while len(got) < len(opened) and time.monotonic() - t1 < 30:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"streams requested {a.n}, opened {len(opened)} in {t_open:.2f}s, "
          f"broadcast rc={rc} received by {len(got)}")
    for p in pids:
        d = after[p] - before[p]
        per = d * 1024 / max(len(opened), 1)
        print(f"pid {p}: rss {before[p]} KiB -> {after[p]} KiB "
              f"(+{d} KiB, {per:.0f} bytes/stream)")
    return 0 if len(got) == a.n else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
