"""The pure accounting core: money, accounts, reference data, events, commands, rules.

Imports only the standard library and pydantic. No Kafka, Avro, metrics, tracing,
clock, environment or randomness: the same input always gives the same output.
"""
