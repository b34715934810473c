"""Avro for ledgerstream: schema catalog, registry source, wire codec and JSON form.

``SchemaCatalog`` loads ``schemas/<topic>/v<N>.avsc`` (content-addressed ids);
``RegistrySchemaSource`` takes ids from a Confluent-compatible registry instead;
``AvroCodec`` encodes/decodes Confluent wire format with either source;
``from_json_form`` / ``to_json_form`` convert records to and from their JSON form.
"""

from streams.adapters.avro.catalog import (
    SchemaCatalog,
    SchemaSource,
    SchemaVersion,
    same_writer_schema,
    schema_id_of,
)
from streams.adapters.avro.codec import MAGIC_BYTE, AvroCodec, DecodedRecord
from streams.adapters.avro.jsonform import from_json_form, to_json_form
from streams.adapters.avro.registry import RegistrySchemaSource

__all__ = [
    "MAGIC_BYTE",
    "AvroCodec",
    "DecodedRecord",
    "RegistrySchemaSource",
    "SchemaCatalog",
    "SchemaSource",
    "SchemaVersion",
    "from_json_form",
    "same_writer_schema",
    "schema_id_of",
    "to_json_form",
]
