"""Adapters: the edge where Kafka, Avro, registries, metrics and tracing meet the domain.

Only this package imports fastavro, confluent-kafka and friends; it translates their
errors into :mod:`streams.adapters.exceptions` so nothing above it sees them.
"""
