"""Operator commands: dead-letter triage and redrive, replay by offset reset, the audit trail.

Each command is orchestrated here from the Kafka mechanics of ``streams.adapters``
(``dlq_store``, ``offsets``, ``audit``); ``streams.cli`` parses the command line
and calls in. Every action that changes something leaves one audit record.
"""
