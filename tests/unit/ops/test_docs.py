"""The docs tell the truth about the repository they ship in.

Stale claims fail here: a link or a backticked repository path that leads nowhere,
a citation of a file outside the repository, a variable the compose stack or the
image sets that the README does not explain, a command the README's commands table
leaves out, and the sample-data counts the README states.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from streams.demo.month import mixed_month
from streams.demo.sample import time_entries
from tests.unit.ops.test_deploy import OTEL_SDK_VARIABLES, compose, settings_variables

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
DOCS = sorted(
    [
        README,
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "deploy").rglob("*.md"),
        ROOT / "schemas" / "CHANGELOG.md",
    ]
)
#: Variables the image sets for Python itself, not for ledgerstream (Dockerfile ENV).
PYTHON_RUNTIME_VARIABLES = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
#: What a path in backticks may start with to count as a path in this repository.
REPO_TOP = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {
    "ledgerstream.egg-info"
}
FILE_SUFFIXES = (".md", ".py", ".yml", ".yaml", ".toml", ".json", ".avsc", ".jsonl", ".lock")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PATH_TOKEN = re.compile(r"^[A-Za-z0-9_.\-/]+$")
# Split so that this file does not cite them itself.
OUTSIDE = re.compile(
    "|".join(
        (
            r"\.\./shared",
            r"\b" + "BROKER" + r"\.md",
            r"\b" + "DESIGN" + r"\.md",
            r"\b" + "STYLE" + r"\.md",
            "/" + "work/",
        )
    )
)


def prose(text: str) -> str:
    """The text outside fenced code blocks (output samples are not claims about paths)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def repo_paths(text: str) -> Iterator[str]:
    """Backticked tokens that name a file or folder of this repository."""
    for token in INLINE_CODE.findall(prose(text)):
        if not PATH_TOKEN.match(token) or token.startswith(("/", ".")):
            continue
        if "/" in token:
            named = token.split("/", 1)[0] in REPO_TOP
        else:
            named = token in REPO_TOP or token.endswith(FILE_SUFFIXES)
        if named:
            yield token


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in listed:
        path = ROOT / name
        if path.is_file() and path.suffix not in {".pyc", ".png"}:
            files.append(path)
    return files


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file(doc: Path) -> None:
    missing = []
    for target in LINK.findall(prose(doc.read_text())):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{doc.relative_to(ROOT)} links to missing files: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_backticked_repository_path_exists(doc: Path) -> None:
    names = {p.name for p in tracked_text_files()}
    missing = [
        token
        for token in repo_paths(doc.read_text())
        if not (ROOT / token).exists()
        and not (doc.parent / token).exists()
        and not ("/" not in token and token in names)
    ]
    assert not missing, f"{doc.relative_to(ROOT)} names missing paths: {missing}"


def test_the_path_checks_catch_a_missing_file() -> None:
    """The two checks above are not vacuous: a stale path and a stale link are found."""
    text = "See `docs/no-such-page.md`, `streams/nowhere.py` and [x](docs/gone.md)."
    assert list(repo_paths(text)) == ["docs/no-such-page.md", "streams/nowhere.py"]
    assert LINK.findall(text) == ["docs/gone.md"]


def test_no_file_cites_a_file_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    offenders = []
    for path in tracked_text_files():
        if path.resolve() == this:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "cite docs/ inside the repository instead:\n" + "\n".join(offenders)


def documented_variables(text: str) -> set[str]:
    """Every environment variable named in the first cell of a README table row.

    Cells abbreviate: `LEDGERSTREAM_RETRY_FIRST_SECONDS`, `_RETRY_MAX_SECONDS` (the
    shorthand replaces the first name's tail from its first word on, or its last
    word), `[TRACES_]` optional parts, and `OTEL_BSP_*` for a family.
    """
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        first = ""
        for token in re.findall(r"`([A-Z_\[\]*]+)`", cell):
            names |= expand_optional(shorthand(first, token) if token.startswith("_") else token)
            first = first if token.startswith("_") else token
    return names


def shorthand(first: str, token: str) -> str:
    """Spell out `_X_Y` written after the full name `first` in one table cell."""
    word = token[1:].split("_", 1)[0]
    at = first.find(f"_{word}_")
    if at >= 0:
        return first[:at] + token
    match = re.match(r"^(.*[_\]])[A-Z0-9]+$", first)
    assert match is not None, (first, token)
    return match.group(1) + token[1:]


def expand_optional(token: str) -> set[str]:
    match = re.search(r"\[([^\]]*)\]", token)
    if match is None:
        return {token}
    with_part = token[: match.start()] + match.group(1) + token[match.end() :]
    without = token[: match.start()] + token[match.end() :]
    return expand_optional(with_part) | expand_optional(without)


def is_documented(name: str, documented: set[str]) -> bool:
    families = {d[:-1] for d in documented if d.endswith("*")}
    return name in documented or any(name.startswith(f) for f in families)


def test_the_shorthand_of_the_settings_tables_is_read_as_written() -> None:
    row = "| `LEDGERSTREAM_KAFKA_SSL_CA_LOCATION`, `_SSL_KEY_PASSWORD`, `_KAFKA_SASL_MECHANISM` | |"
    assert documented_variables(row) == {
        "LEDGERSTREAM_KAFKA_SSL_CA_LOCATION",
        "LEDGERSTREAM_KAFKA_SSL_KEY_PASSWORD",
        "LEDGERSTREAM_KAFKA_SASL_MECHANISM",
    }
    row = "| `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `_HEADERS`, `OTEL_BSP_*` | |"
    names = documented_variables(row)
    assert {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} <= names
    assert "OTEL_EXPORTER_OTLP_HEADERS" in names
    assert is_documented("OTEL_BSP_SCHEDULE_DELAY", names)
    assert not is_documented("LEDGERSTREAM_NOT_A_SETTING", names)


def deployment_variables() -> dict[str, str]:
    """Every variable the compose file and the Dockerfile set for ledgerstream, and where."""
    found: dict[str, str] = {}
    for name, service in compose()["services"].items():
        image = str(service.get("image", ""))
        if image.startswith("ledgerstream:"):
            found |= dict.fromkeys(service.get("environment", {}), f"docker-compose.yml {name}")
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for block in re.findall(r"^ENV (.+)$", dockerfile, flags=re.MULTILINE):
        found |= dict.fromkeys(re.findall(r"([A-Z][A-Z0-9_]+)=", block), "Dockerfile")
    return found


def test_every_variable_the_deployment_sets_is_in_the_readme() -> None:
    documented = documented_variables(README.read_text())
    deployed = deployment_variables()
    assert "LEDGERSTREAM_SCHEMAS_DIR" in deployed  # the Dockerfile's ENV is read
    missing = {
        name: where
        for name, where in deployed.items()
        if name not in PYTHON_RUNTIME_VARIABLES and not is_documented(name, documented)
    }
    assert not missing, f"set by the deployment, not in the README's tables: {missing}"


def test_every_setting_is_in_the_readme() -> None:
    documented = documented_variables(README.read_text())
    missing = sorted(name for name in settings_variables() if not is_documented(name, documented))
    assert not missing, f"streams/settings.py reads these; the README does not explain: {missing}"
    sdk = sorted(v for v in OTEL_SDK_VARIABLES if not is_documented(v, documented))
    assert not sdk, f"OpenTelemetry SDK variables the deployment uses, undocumented: {sdk}"


def cli_commands() -> set[str]:
    """Every `ledgerstream` command path (`dlq list`, `worker` ...), from the CLI itself."""
    from streams import cli  # noqa: PLC0415 - the command line is the subject here

    group = getattr(cli, "cli", None)
    if group is not None and hasattr(group, "commands"):  # Click
        paths = set()
        for name, command in group.commands.items():
            subcommands = getattr(command, "commands", None)
            paths |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
        return paths
    return argparse_commands(cli.build_parser())


def argparse_commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    """Subcommands, and the positional actions of a top-level command (`topics create`)."""
    paths: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = argparse_commands(sub, f"{prefix}{name} ")
                paths |= nested or {f"{prefix}{name}"}
        elif not action.option_strings and action.choices and prefix.count(" ") == 1:
            paths |= {f"{prefix}{choice}" for choice in action.choices}
    return paths


def commands_table(text: str) -> list[str]:
    section = text.split("\n## Commands", 1)[1].split("\n## ", 1)[0]
    return [
        re.sub(r"\s+", " ", line.split("|")[1].strip(" `"))
        for line in section.splitlines()
        if line.startswith("| `ledgerstream ")
    ]


def test_every_command_is_in_the_readme_commands_table() -> None:
    rows = commands_table(README.read_text())
    commands = cli_commands()
    assert {"worker", "dlq list", "replay"} <= commands  # discovery works
    missing = sorted(
        path
        for path in commands
        if not any(re.match(rf"ledgerstream {re.escape(path)}(\s|$)", row) for row in rows)
    )
    assert not missing, f"commands missing from the README's commands table: {missing}"


WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def test_the_readme_counts_the_mixed_month_as_it_is() -> None:
    month = mixed_month()
    counts = month.counts()
    kinds = [r.value["kind"] for r in month.events if r.topic == "pm.invoices" and r.value]
    readme = re.sub(r"\s+", " ", README.read_text())
    assert f"{counts['pm.time-entries']} time-entry records" in readme
    assert f"{counts['pm.expenses']} expense records" in readme
    assert f"{WORDS[kinds.count('INVOICE')]} month-end invoices" in readme
    assert kinds.count("RETAINER") == 1
    assert "a retainer invoice" in readme
    assert kinds.count("CREDIT_MEMO") == 1
    assert "a credit memo on one line" in readme
    assert f"{counts['pm.payments']} payments" in readme


def test_the_readme_counts_the_sample_entries_waiting_for_a_project() -> None:
    waiting = [r for r in time_entries(5000) if r.value["project_id"] == "P-404"]
    readme = re.sub(r"\s+", " ", README.read_text())
    assert f"{WORDS[len(waiting)]} of the 5,000" in readme
    first, second = (int(r.key.rsplit("-", 1)[1]) for r in waiting[:2])
    assert f"every {second - first:,}th, from the {first:,}th on" in readme


def test_the_design_lists_exactly_the_declared_topics() -> None:
    declared = {
        t["name"] for t in yaml.safe_load((ROOT / "deploy/topics.yaml").read_text())["topics"]
    }
    design = (ROOT / "docs" / "design.md").read_text()
    section = design.split("## 2. Topics", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z.\-]+)` \|", section, flags=re.MULTILINE))
    assert listed == declared


@pytest.mark.parametrize(
    "example",
    ["examples", "examples/month"],
)
def test_the_readme_quotes_the_dry_run_summary_the_command_prints(example: str) -> None:
    """The README's dry-run figures are what `ledgerstream dry-run` prints today."""
    from click.testing import CliRunner  # noqa: PLC0415
    from streams.cli import cli  # noqa: PLC0415

    reference, events = f"{example}/reference.jsonl", f"{example}/events.jsonl"
    result = CliRunner().invoke(cli, ["dry-run", "--reference", reference, events])
    (summary,) = re.findall(r"^dry-run: \d+ command\(s\).*$", result.stderr, flags=re.MULTILINE)
    readme = README.read_text()
    assert f"ledgerstream dry-run --reference {reference} {events}" in readme
    assert summary in readme, f"README: update the quoted summary to {summary!r}"
    # every trial-balance row quoted under this command is one the command prints
    quoted = readme.split(f"ledgerstream dry-run --reference {reference} {events}", 1)[1]
    rows = re.findall(r"^[A-Z]{2}\d* +\d{4} .*$", quoted.split("```", 1)[0], flags=re.MULTILINE)
    printed = set(result.stdout.splitlines())
    assert [r for r in rows if r not in printed] == [], "README: update the quoted rows"
