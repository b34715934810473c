"""Publish every schema version to a Confluent-compatible registry (TopicNameStrategy).

For each subject, oldest version first: set the subject's compatibility mode (from
``schemas/subjects.yaml``) *before* registering, so the registry itself checks every
new version against the declared mode; then look each version up and register it
only if it is not there. Re-running changes nothing (idempotent) and reports the
same ids. Registry failures are translated like the codec's: a rejected version is
:class:`SchemaNotRegisteredError` (permanent), anything else
:class:`RegistryUnavailableError` (transient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from confluent_kafka.schema_registry import Schema as RegistrySchema
from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError

from streams.adapters.avro.catalog import SchemaCatalog, SchemaVersion
from streams.adapters.contracts.subjects import SubjectPolicy
from streams.adapters.exceptions import RegistryUnavailableError, SchemaNotRegisteredError

__all__ = ["Registration", "register_subjects"]

_NOT_FOUND: Final = 404
_REJECTED: Final = frozenset({409, 422})


@dataclass(frozen=True, slots=True)
class Registration:
    """What the registry holds for one local version after publishing."""

    subject: str
    version: int
    schema_id: int
    registry_version: int | None
    compatibility: str
    created: bool

    def __str__(self) -> str:
        what = "registered" if self.created else "unchanged "
        registry = f"registry version {self.registry_version}" if self.registry_version else ""
        return (
            f"{what} {self.subject:28} v{self.version}  id {self.schema_id:<10} "
            f"{self.compatibility:20} {registry}"
        ).rstrip()


def _fail(action: str, exc: Exception) -> RegistryUnavailableError:
    return RegistryUnavailableError(f"schema registry {action} failed: {type(exc).__name__}: {exc}")


def _set_mode(client: SchemaRegistryClient, policy: SubjectPolicy) -> None:
    try:
        current = client.get_compatibility(policy.subject)
    except SchemaRegistryError as exc:
        if exc.http_status_code != _NOT_FOUND:  # 404: no subject-level mode yet
            raise _fail(f"reading the mode of {policy.subject}", exc) from exc
        current = None
    except Exception as exc:  # transport, TLS, auth
        raise _fail(f"reading the mode of {policy.subject}", exc) from exc
    if current == policy.compatibility.value:
        return
    try:
        client.set_compatibility(subject_name=policy.subject, level=policy.compatibility.value)
    except Exception as exc:
        raise _fail(f"setting {policy.compatibility} on {policy.subject}", exc) from exc


def _publish(client: SchemaRegistryClient, sv: SchemaVersion, mode: str) -> Registration:
    schema = RegistrySchema(sv.text, "AVRO")
    try:
        found = client.lookup_schema(sv.subject, schema)
        return Registration(
            sv.subject, sv.version, int(found.schema_id or 0), found.version, mode, False
        )
    except SchemaRegistryError as exc:
        if exc.http_status_code != _NOT_FOUND:
            raise _fail(f"lookup of {sv.subject} v{sv.version}", exc) from exc
    except Exception as exc:  # transport, TLS, auth
        raise _fail(f"lookup of {sv.subject} v{sv.version}", exc) from exc
    try:
        registered = client.register_schema_full_response(sv.subject, schema)
    except SchemaRegistryError as exc:
        if exc.http_status_code in _REJECTED:
            raise SchemaNotRegisteredError(
                f"registry rejected {sv.topic}/v{sv.version}.avsc under {mode}: {exc}"
            ) from exc
        raise _fail(f"registration of {sv.subject} v{sv.version}", exc) from exc
    except Exception as exc:  # transport, TLS, auth
        raise _fail(f"registration of {sv.subject} v{sv.version}", exc) from exc
    return Registration(
        sv.subject, sv.version, int(registered.schema_id or 0), registered.version, mode, True
    )


def register_subjects(
    client: SchemaRegistryClient,
    catalog: SchemaCatalog,
    policies: dict[str, SubjectPolicy],
) -> list[Registration]:
    """Set every subject's mode and register every local version, oldest first.

    Args:
        client: A confluent-kafka registry client (built by the caller from settings).
        catalog: The local schemas.
        policies: Each subject's compatibility mode (``load_policies``).

    Returns:
        One registration per local version, by subject then version.

    Raises:
        SchemaNotRegisteredError: The registry rejected a version (incompatible
            under the subject's mode, or invalid).
        RegistryUnavailableError: The registry could not be asked.

    """
    done: list[Registration] = []
    for topic in catalog.topics():
        history = catalog.history(topic)
        policy = policies[history[0].subject]
        _set_mode(client, policy)
        done += [_publish(client, sv, policy.compatibility.value) for sv in history]
    return done
