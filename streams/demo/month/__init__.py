"""A mixed month of sample data: every event type, two entities, in the order recorded.

``mixed_month(seed)`` returns September 2026 of Harbor Analytics as a ``Month``:
``reference`` (entities with their tax-rounding policy, customers, a project of every
kind, people, a SPOT rate a day and a CONTRACT rate; ``organisation``) and
``events`` (time entries and expenses with their edits, late approvals, a v1
producer's records and a deletion, ``work``; then a retainer, invoices, a credit
memo and payments, ``billing``), each a ``SampleRecord`` with ``topic``, ``key`` and
``value`` in the Python form of the topic's Avro schema (``schema_version`` names an
older version where a record uses one). ``Month.write_jsonl`` writes the two files
``ledgerstream dry-run`` reads; ``python -m streams.demo.month`` regenerates the copy
in ``examples/month/``. Same seed, same records, same bytes.
"""

from streams.demo.month.generate import DEFAULT_SEED, Month, jsonl_line, mixed_month

__all__ = ["DEFAULT_SEED", "Month", "jsonl_line", "mixed_month"]
