"""Every `ledgerstream` command explains itself: a description, help on each option, defaults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import pytest
import streams.ops.replay as replay_module
from click.testing import CliRunner
from streams.cli import COMMANDS, cli, main, worker_input_topics


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


ALL = list(walk(cli))


def resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_every_command_module_is_registered() -> None:
    assert set(cli.commands.values()) == set(COMMANDS)
    names = {path[0] for path in ALL if len(path) == 1}
    assert names >= {
        "worker",
        "topics",
        "schemas",
        "consume",
        "produce",
        "demo",
        "dry-run",
        "dlq",
        "replay",
        "toggle",
        "parked",
    }


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "ledgerstream")
def test_every_command_and_option_has_a_description(path: tuple[str, ...]) -> None:
    command = resolve(path)
    assert (command.help or "").strip(), f"{path} has no description"
    assert command.get_short_help_str().strip()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"{path} {param.opts} has no help"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: ledgerstream" in result.output


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "ledgerstream")
def test_help_shows_every_default(path: tuple[str, ...]) -> None:
    command = resolve(path)
    output = CliRunner().invoke(cli, [*path, "--help"]).output
    for param in command.params:
        if not isinstance(param, click.Option) or param.is_flag or param.hidden:
            continue
        if param.to_info_dict()["default"] not in (None, ()):
            block = option_block(output, param.opts[0])
            assert "[default:" in block, f"{path} {param.opts[0]}: {block}"


def option_block(output: str, opt: str) -> str:
    """The help text of one option in a --help page (it may wrap over several lines)."""
    lines = output.splitlines()
    start = next(i for i, x in enumerate(lines) if x.lstrip().startswith(opt))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("      "):
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def test_groups_take_real_subcommands() -> None:
    """One style: every command with actions has them as subcommands, not choices."""
    for name in ("topics", "schemas", "dlq", "toggle"):
        assert isinstance(cli.commands[name], click.Group), name
    assert set(resolve(("topics",)).commands) == {"create", "list"}  # type: ignore[attr-defined]
    assert set(resolve(("schemas",)).commands) == {"check", "lock", "docs", "register"}  # type: ignore[attr-defined]


def test_log_level_help_states_the_default() -> None:
    output = CliRunner().invoke(cli, ["--help"], terminal_width=400).output
    assert "--log-level" in output
    assert "[default: warning]" in output


def test_replay_topics_help_lists_what_the_code_resets() -> None:
    output = " ".join(CliRunner().invoke(cli, ["replay", "--help"]).output.split())
    for topic in worker_input_topics():
        assert topic in output.replace("- ", "-"), topic


def test_help_and_usage_errors_exit_like_a_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as helped:
        main(["--help"])
    assert helped.value.code == 0
    with pytest.raises(SystemExit) as wrong:
        main(["topics", "drop"])
    assert wrong.value.code == 2
    assert "No such command 'drop'" in capsys.readouterr().err


def test_topics_list_needs_no_broker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "list"]) == 0
    assert "pm.time-entries" in capsys.readouterr().out


def test_replay_accepts_several_values_after_one_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--to-offset A B` (as the runbook writes it) names both partitions."""
    seen: dict[str, Any] = {}

    def fake_run(settings, request, operator, out, **kwargs):  # type: ignore[no-untyped-def]
        seen["request"] = request
        return 0

    monkeypatch.setattr(replay_module, "run_replay", fake_run)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    code = main(
        ["replay", "--group", "g", "--to-offset", "pm.time-entries:3:120", "ref.entities:0:0"]
    )
    assert code == 0, capsys.readouterr().err
    targets = seen["request"].targets
    assert [(t.topic, t.partition, t.offset) for t in targets] == [
        ("pm.time-entries", 3, 120),
        ("ref.entities", 0, 0),
    ]
    code = main(
        ["replay", "--group", "g", "--to-earliest", "--topics", "pm.time-entries", "pm.payments"]
    )
    assert code == 0
    assert seen["request"].topics == ("pm.time-entries", "pm.payments")
