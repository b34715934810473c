"""``ledgerstream status``: lag per partition from committed offsets and exact ends."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

from streams.ops.status import READ_LIMIT, StatusReport, gather_status, render_status

Partition = tuple[str, int]
TE = ("t.pm.time-entries", 0)
LEDGER = ("t.ledgerstream.ledger-events", 3)


class Log:
    """Partitions as the embedded broker shows them: the listed end is the last batch's base + 1.

    ``records`` lists, per partition, whether each offset holds a real record (True)
    or a heartbeat canary (False).
    """

    def __init__(self, records: dict[Partition, list[bool]], last_batch: int) -> None:
        self.records = records
        self.last_batch = last_batch
        self.asked: dict[Partition, tuple[int, int]] = {}

    def listed(self) -> dict[Partition, int]:
        return {tp: max(0, len(r) - self.last_batch + 1) for tp, r in self.records.items()}

    def read(self, starts: Mapping[Partition, tuple[int, int]]) -> dict[Partition, tuple[int, int]]:
        self.asked = dict(starts)
        return {
            tp: (len(self.records[tp]), sum(self.records[tp][start:]))
            for tp, (_listed, start) in starts.items()
        }


def report(log: Log, committed: dict[Partition, int | None]) -> StatusReport:
    return gather_status(
        "g", committed, log.listed(), log.read, parked=2, logical=lambda n: n.removeprefix("t.")
    )


def test_the_end_is_read_exactly_not_taken_from_the_listed_watermark() -> None:
    # ten records in one batch: the broker lists an end of 1; the group committed 1
    log = Log({TE: [True] * 10}, last_batch=10)
    status = report(log, {TE: 1})
    (row,) = status.partitions
    assert (row.end, row.lag, row.caught_up) == (10, 9, False)
    assert status.caught_up is False


def test_canaries_left_to_read_do_not_count_as_lag() -> None:
    log = Log({TE: [True] * 5 + [False, False], LEDGER: [True, False]}, last_batch=1)
    status = report(log, {TE: 5, LEDGER: 1})
    assert [(p.topic, p.lag) for p in status.partitions] == [
        ("ledgerstream.ledger-events", 0),
        ("pm.time-entries", 0),
    ]
    assert status.caught_up is True


def test_nothing_committed_counts_from_the_start_and_far_behind_is_not_read_one_by_one() -> None:
    far = READ_LIMIT + 50
    log = Log({TE: [True] * far, LEDGER: [True, True]}, last_batch=1)
    status = report(log, {TE: 0, LEDGER: None})
    lags = {p.topic: p.lag for p in status.partitions}
    assert lags == {"pm.time-entries": far, "ledgerstream.ledger-events": 2}
    assert log.asked[TE] == (far, far)  # only the tail is read
    assert log.asked[LEDGER] == (2, 0)


def test_the_table_and_json_say_caught_up_and_the_parked_count() -> None:
    log = Log({TE: [True] * 3, LEDGER: [True]}, last_batch=1)
    status = report(log, {TE: 3, LEDGER: 0})
    out = io.StringIO()
    render_status(status, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "CAUGHT", "UP"]
    assert lines[1].split() == ["ledgerstream.ledger-events", "3", "0", "1", "1", "no"]
    assert lines[2].split() == ["pm.time-entries", "0", "3", "3", "0", "yes"]
    assert lines[-2:] == ["parked: 2", "caught up: no"]
    data = json.loads(json.dumps(status.as_json()))
    assert data["caught_up"] is False
    assert data["parked"] == 2
    assert data["lag"] == 1
    assert [p["caught_up"] for p in data["partitions"]] == [False, True]
