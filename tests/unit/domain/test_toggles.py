"""Where a command goes under the control toggles: pilot, dry-run, off."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from streams.domain.commands import PostLedgerEntry
from streams.domain.rules import Posted, post_time_entry
from streams.domain.toggles import Sink, Toggle, ToggleName, Toggles, sink_for
from tests.unit.domain.builders import RULE_VERSION, source_for, standard_book, time_entry

CHANGED_AT = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def commands() -> tuple[PostLedgerEntry, ...]:
    """A time entry on project P-100 of customer C-1: revenue and cost commands."""
    entry = time_entry()
    outcome = post_time_entry(
        entry, standard_book(), source=source_for(entry), rule_version=RULE_VERSION
    )
    assert isinstance(outcome, Posted)
    assert len(outcome.commands) == 2
    return outcome.commands


def toggle(name: str, *, enabled: bool = True, **lists: tuple[str, ...]) -> Toggle:
    return Toggle(
        name=name,
        enabled=enabled,
        reason="test",
        changed_by="ops",
        changed_at=CHANGED_AT,
        **lists,
    )


def pilot(**lists: Any) -> Toggles:
    return Toggles().applied("pilot", toggle("pilot", **lists))


def sinks(toggles: Toggles) -> set[Sink]:
    return {sink_for(command, toggles) for command in commands()}


def test_all_toggles_off_posts_to_the_real_sink() -> None:
    assert sinks(Toggles()) == {Sink.REAL}


def test_pilot_posts_an_allow_listed_customer_for_real() -> None:
    assert sinks(pilot(allow_customers=("C-1",))) == {Sink.REAL}


def test_pilot_posts_an_allow_listed_project_for_real() -> None:
    assert sinks(pilot(allow_projects=("P-100",))) == {Sink.REAL}


def test_pilot_shadows_commands_of_customers_and_projects_not_on_the_list() -> None:
    assert sinks(pilot(allow_customers=("C-2",), allow_projects=("P-200",))) == {Sink.SHADOW}
    assert sinks(pilot()) == {Sink.SHADOW}


def test_dry_run_shadows_everything_even_allow_listed_pilot_customers() -> None:
    toggles = pilot(allow_customers=("C-1",)).applied("dry_run", toggle("dry_run"))
    assert sinks(toggles) == {Sink.SHADOW}
    assert sinks(Toggles().applied("dry_run", toggle("dry_run"))) == {Sink.SHADOW}


def test_a_pilot_turned_off_or_deleted_posts_for_real_and_forgets_its_list() -> None:
    on = pilot(allow_customers=("C-2",))
    off = on.applied("pilot", toggle("pilot", enabled=False, allow_customers=("C-2",)))
    assert sinks(off) == {Sink.REAL}
    deleted = on.applied("pilot", None)
    assert sinks(deleted) == {Sink.REAL}
    assert deleted.allow_customers == frozenset()


def test_the_kill_switch_pauses_but_does_not_reroute() -> None:
    toggles = Toggles().applied("kill_switch", toggle("kill_switch"))
    assert toggles.enabled(ToggleName.KILL_SWITCH)
    assert sinks(toggles) == {Sink.REAL}
    assert not toggles.applied("kill_switch", None).enabled(ToggleName.KILL_SWITCH)


def test_unknown_toggle_names_change_nothing() -> None:
    assert Toggles().applied("per_entity_pause", toggle("per_entity_pause")) == Toggles()


@pytest.mark.parametrize("name", list(ToggleName))
def test_every_toggle_is_off_by_default(name: ToggleName) -> None:
    assert not Toggles().enabled(name)
