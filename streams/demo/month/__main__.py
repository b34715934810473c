"""``python -m streams.demo.month [DIR] [--seed N]``: write the month's dry-run files.

DIR defaults to ``examples/month`` (the committed copy a unit test compares with a
fresh generation); prints the two paths and the number of events per topic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.adapters.avro import SchemaCatalog
from streams.demo.month.generate import DEFAULT_SEED, mixed_month
from streams.settings import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    """Write ``reference.jsonl`` and ``events.jsonl`` of the mixed month."""
    parser = argparse.ArgumentParser(prog="python -m streams.demo.month", description=__doc__)
    parser.add_argument(
        "directory", nargs="?", type=Path, default=PROJECT_ROOT / "examples" / "month"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    month = mixed_month(args.seed)
    catalog = SchemaCatalog.from_directory(PROJECT_ROOT / "schemas")
    for path in month.write_jsonl(args.directory, catalog):
        print(path)
    print(json.dumps(month.counts()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
