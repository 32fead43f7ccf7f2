"""bench/run against our own stack and the lighttpd floor, every scenario
shrunk (--quick): the driver starts each target per scenario, drives it
with sse-bench, stops it, and prints a table with a value for every metric;
nothing is lost, every stream of the capacity run gets the broadcast, the
floor runs only the scenarios it has a publisher for, and it exits 0. A
check that the benchmark still runs, not a measurement."""

import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # keep the source tree clean (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq  # noqa: E402

BENCH_RUN = os.path.join(harness.SRCDIR, "bench", "run")

# --quick sizes (bench/run): streams the scenario opens
QUICK = {"idle1k": 100, "idle5k": 500, "storm": 500, "capacity": 1000}


def test_quick_run_of_every_scenario_is_clean():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        p = subprocess.run([sys.executable, BENCH_RUN, "--quick", "--runs",
                            "1", "--targets", "ours,floor", "--json",
                            out],
                           env=dict(os.environ,
                                    SSE_BUILDDIR=harness.BUILDDIR),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=600)
        text = p.stdout.decode()
        eq(p.returncode, 0, "exit status; stdout %s\nstderr %s" % (
            text, p.stderr.decode()[-3000:]))
        with open(out) as f:
            res = json.load(f)
    med = res["medians"]["ours"]
    for metric in ("idle1k_kb", "idle5k_kb", "idle1k_worker_kb",
                   "fanout_p50_ms", "fanout_p99_ms", "tput_eps",
                   "tput_p99_ms", "storm_ms", "storm_cpu_us", "push_ms"):
        check(med.get(metric) is not None and med[metric] > 0,
              "%s measured: %r" % (metric, med.get(metric)))
    for metric in ("fanout_lost", "tput_lost", "storm_refused"):
        eq(med[metric], 0, metric)
    eq(med["cap_streams"], QUICK["capacity"], "capacity: streams held")
    eq(med["cap_reached"], med["cap_streams"], "capacity: broadcast reached")
    runs = {r["scenario"]: r["result"] for r in res["runs"]
            if r["target"] == "ours"}
    for scen, n in QUICK.items():
        eq(runs[scen]["established"], n, "%s: streams established" % scen)
    floor = res["medians"]["floor"]
    for metric in ("idle5k_kb", "fanout_p50_ms", "tput_eps", "storm_ms",
                   "storm_cpu_us"):
        check(floor.get(metric) is not None and floor[metric] > 0,
              "floor: %s measured: %r" % (metric, floor.get(metric)))
    for metric in ("fanout_lost", "tput_lost", "paced_lost",
                   "storm_refused"):
        eq(floor[metric], 0, "floor: " + metric)
    eq(sorted({r["scenario"] for r in res["runs"]
               if r["target"] == "floor"}),
       ["fanout", "idle1k", "idle5k", "paced", "storm", "throughput"],
       "floor: the scenarios it has a publisher for")
    # The storm's CPU is counted while its streams are open: no more than
    # the target's processes could spend in that time on every core.
    cores = os.cpu_count()
    for name, m in (("ours", med), ("floor", floor)):
        check(m["storm_cpu_us"] * QUICK["storm"] <=
              m["storm_ms"] * 1000 * cores * 1.05 + 20000,
              "%s: storm CPU %.1f us per stream in %.1f ms on %d cores" % (
                  name, m["storm_cpu_us"], m["storm_ms"], cores))
    check("fan-out 2,000 x 50: latency p99" in text and "ours vs floor" in
          text, "the table: %s" % text)


if __name__ == "__main__":
    harness.run([test_quick_run_of_every_scenario_is_clean])
