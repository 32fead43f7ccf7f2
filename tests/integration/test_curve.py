"""CURVE: with --curve-secret the broker talks only CURVE, and with
--curve-clients only to workers and publishers whose public key it holds;
keys come from sse-broker --keygen."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

KEYS = tempfile.mkdtemp(prefix="sse-curve-")
atexit.register(shutil.rmtree, KEYS, True)


def keygen(name):
    path = os.path.join(KEYS, name)
    r = subprocess.run([harness.SSE_BROKER, "--keygen", path],
                       capture_output=True)
    eq(r.returncode, 0, "keygen %s: %r" % (name, r.stderr))
    eq(os.stat(path).st_mode & 0o777, 0o600, "the secret file's mode")
    return path


def setup():
    broker, worker, pusher = keygen("broker"), keygen("worker"), \
        keygen("pusher")
    keygen("stranger")
    clients = os.path.join(KEYS, "clients")
    os.mkdir(clients)
    for k in (worker, pusher):
        shutil.copy(k + ".pub", clients)
    return harness.Gateway("curve", heartbeat=300, broker_args=[
        "--curve-secret", broker, "--curve-clients", clients],
        env={"SSE_CURVE_SERVER": broker + ".pub", "SSE_CURVE_KEY": worker})


def push(gw, key, args):
    extra = ["--curve-server", os.path.join(KEYS, "broker.pub")]
    if key is not None:
        extra += ["--curve-key", os.path.join(KEYS, key)]
    return gw.push(extra + args)


def test_known_clients_deliver(gw):
    c = gw.stream("/sse?key=secret-news")
    try:
        rc, out, err = push(gw, "pusher", ["secret-news", "encrypted"])
        eq(rc, 0, "exit status (stderr %r)" % err)
        eq(c.wait_for_events(1)[0].data, "encrypted", "delivered")
    finally:
        c.close()


def test_unknown_or_plain_clients_are_refused(gw):
    for what, key, args in (
            ("no CURVE", None, None),
            ("a key the broker does not hold", "stranger", []),
            ("a key of its own making", None, [])):
        if args is None:
            rc, out, err = gw.push(["--timeout", "800", "k", "x"])
        else:
            rc, out, err = push(gw, key, ["--timeout", "800", "k", "x"])
        eq(rc, 69, what + " (stderr %r)" % err)
    check("CURVE client refused" in gw.read_log("broker.log"),
          "the broker says why")


def test_keygen_never_overwrites():
    r = subprocess.run([harness.SSE_BROKER, "--keygen",
                        os.path.join(KEYS, "broker")], capture_output=True)
    eq(r.returncode, 1, "an existing key is kept")
    check(b"File exists" in r.stderr, "reason %r" % r.stderr)


if __name__ == "__main__":
    harness.run([
        test_known_clients_deliver,
        test_unknown_or_plain_clients_are_refused,
        test_keygen_never_overwrites,
    ], setup=setup)
