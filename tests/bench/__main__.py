"""``python -m tests.bench``: run the benchmark of issue 11 and write ``docs/benchmarks.md``.

Parts: (a) pure core in process, (b) one worker against a trivial Faust agent and a
plain confluent-kafka loop, (c) two workers against one, (d) latency at a fixed
rate, (e) stage-2 state at scale. One embedded broker serves (b)-(e). Each part
prints its table and its targets (PASS/MISS); any error stops the run with a
non-zero exit and leaves the output file untouched. ``--smoke`` uses small counts
(a couple of minutes) and writes ``build/benchmarks-smoke.md`` unless ``--out`` says.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from streams.adapters.broker import EmbeddedBroker
from tests.bench import core, endtoend, state
from tests.bench.cluster import BROKER, pid_of
from tests.bench.report import Part, machine, render

FULL = {
    "time_entries": 100_000,
    "mixed_events": 20_000,
    "profile_events": 5_000,
    "e2e_events": 20_000,
    "scale_events": 20_000,
    "latency_rate": 1_000,
    "latency_seconds": 60,
    "state_records": 1_000_000,
}
SMOKE = {
    "time_entries": 2_000,
    "mixed_events": 1_000,
    "profile_events": 0,
    "e2e_events": 2_000,
    "scale_events": 2_000,
    "latency_rate": 1_000,
    "latency_seconds": 5,
    "state_records": 20_000,
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="small counts (CI-sized)")
    parser.add_argument("--parts", default="a,b,c,d,e", help="which parts, e.g. a,b (default: all)")
    parser.add_argument("--out", type=Path, help="where to write the report")
    for name, value in FULL.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=int, help=f"override the count (full: {value:,})"
        )
    return parser.parse_args(argv)


def _stop_on_term(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {_signum}")  # runs every finally: workers, broker


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_term)
    counts = dict(SMOKE if args.smoke else FULL)
    overridden = False
    for name in counts:
        given = getattr(args, name)
        if given is not None:
            counts[name] = given
            overridden = True
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    out = args.out or Path("build/benchmarks-smoke.md" if args.smoke else "docs/benchmarks.md")
    profile = "smoke" if args.smoke else "full"
    if overridden or parts != ["a", "b", "c", "d", "e"]:
        changed = ", ".join(f"{k}={v:,}" for k, v in counts.items())
        profile += f", parts {','.join(parts)}; counts {changed}"
    started_at = time.monotonic()
    described = machine()
    run_dir = Path(tempfile.mkdtemp(prefix="ledgerstream-bench-"))
    print(f"bench: {profile}; logs under {run_dir}", flush=True)
    results: list[Part] = []
    try:
        if "a" in parts:
            results.append(
                _timed(
                    lambda: core.run(
                        time_entries=counts["time_entries"],
                        mixed_events=counts["mixed_events"],
                        profile_events=counts["profile_events"],
                    )
                )
            )
        broker_parts = [p for p in parts if p in "bcde"]
        if broker_parts:
            with EmbeddedBroker(log_dir=run_dir) as broker:
                bootstrap = broker.bootstrap_servers
                BROKER["pid"] = pid_of(broker)
                runs: dict[str, Callable[[], Part]] = {
                    "b": lambda: endtoend.part_b(bootstrap, run_dir, events=counts["e2e_events"]),
                    "c": lambda: endtoend.part_c(bootstrap, run_dir, events=counts["scale_events"]),
                    "d": lambda: endtoend.part_d(
                        bootstrap,
                        run_dir,
                        rate=counts["latency_rate"],
                        seconds=counts["latency_seconds"],
                    ),
                    "e": lambda: state.part_e(
                        bootstrap, run_dir, posted_records=counts["state_records"]
                    ),
                }
                for key in broker_parts:
                    results.append(_timed(runs[key]))
    except Exception:
        traceback.print_exc()
        print(f"bench: FAILED (logs under {run_dir}); {out} not written", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started_at
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, profile=profile, started=described, seconds=seconds))
    misses = sum(1 for part in results for t in part.targets if not t.passed)
    print(f"bench: wrote {out} in {seconds / 60:.1f} min; {misses} target(s) missed", flush=True)
    return 0


def _timed(run: Callable[[], Part]) -> Part:
    started = time.monotonic()
    part = run()
    part.seconds = time.monotonic() - started
    part.load = os.getloadavg()[0]
    print(part.text(), flush=True)
    print(flush=True)
    return part


if __name__ == "__main__":
    sys.exit(main())
