"""The producer toolkit: publish events ledgerstream accepts, from Python or a file.

For upstream teams. Build an event from a dict or the topic's pydantic model,
validate it against the topic's current schema (errors name the field and the
rule), serialise it in the Confluent wire format and send it with a stable key
(the record's id) and a W3C ``traceparent`` header::

    from streams.producer import EventProducer, build_event

    event = build_event("pm.expenses", {...})            # raises EventRejectedError
    with EventProducer({"bootstrap.servers": "kafka:9092"}) as producer:
        producer.send("pm.time-entries", {...})          # validated, keyed, traced

``ledgerstream produce [--topic T] FILE.jsonl...`` does the same for files
(:func:`produce_file`). The topics, fields and versions: ``docs/events.md``.
"""

from streams.producer.events import EVENT_TOPICS, Event, EventBuilder, EventSpec, build_event
from streams.producer.exceptions import EventRejectedError
from streams.producer.jsonl import LineError, ProduceSummary, Progress, produce_file
from streams.producer.producer import EventProducer, SentEvent
from streams.producer.tracing import is_traceparent, new_traceparent

__all__ = [
    "EVENT_TOPICS",
    "Event",
    "EventBuilder",
    "EventProducer",
    "EventRejectedError",
    "EventSpec",
    "LineError",
    "ProduceSummary",
    "Progress",
    "SentEvent",
    "build_event",
    "is_traceparent",
    "new_traceparent",
    "produce_file",
]
