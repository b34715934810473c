"""The one place that reads the environment.

Every other module receives these values as arguments. Variables use the
``LEDGERSTREAM_`` prefix, except the two that the Kafka ecosystem names by
convention: ``KAFKA_BOOTSTRAP_SERVERS`` and ``SCHEMA_REGISTRY_URL``.

Profiles:
    * embedded: ``KAFKA_BOOTSTRAP_SERVERS`` is unset, so the command that needs a
      broker starts the embedded Tansu broker (docs/embedded-broker.md) and applies the settings
      that only that broker needs (short rebalance timeout, one-record batches on
      changelog topics).
    * cluster: ``KAFKA_BOOTSTRAP_SERVERS`` is set; nothing is started.

OpenTelemetry: ``OTEL_TRACES_EXPORTER`` (``none`` by default: no spans are
created at all; ``otlp`` = OTLP over HTTP/protobuf; ``console``),
``OTEL_SERVICE_NAME`` and ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` are read
here. The other standard ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_BSP_*`` ...) are read by the OpenTelemetry
SDK itself, as its documented contract: ledgerstream neither reads nor logs them
(exporter headers may carry credentials).

Secrets (SASL password, SSL key password, registry credentials) are
``SecretStr``: they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration of ledgerstream (frozen once read)."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERSTREAM_",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        # `VAR=` counts as unset: compose files pass optional secrets as `${VAR:-}`.
        env_ignore_empty=True,
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        description="Kafka bootstrap servers; unset = start the embedded broker.",
    )
    schema_registry_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SCHEMA_REGISTRY_URL", "schema_registry_url"),
        description="Confluent-compatible registry; unset = embedded schema catalog.",
    )
    schema_registry_basic_auth: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "schema_registry_basic_auth"
        ),
        description="user:password for the schema registry.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="CA bundle (PEM) that signs the brokers' certificates."
    )
    kafka_ssl_certificate_location: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS."
    )
    kafka_ssl_key_location: Path | None = Field(
        default=None, description="Client private key (PEM) for mutual TLS."
    )
    kafka_ssl_key_password: SecretStr | None = None

    profile: Literal["auto", "embedded", "cluster"] = Field(
        default="auto",
        description="Broker profile; auto = embedded when KAFKA_BOOTSTRAP_SERVERS is unset.",
    )
    app_id: str = Field(default="ledgerstream", description="Faust app id = consumer group.")
    topic_prefix: str = Field(
        default="", description="Prefix of every physical topic name (isolates test runs)."
    )
    topics_file: Path = PROJECT_ROOT / "deploy" / "topics.yaml"
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    close_config: Path = Field(
        default=PROJECT_ROOT / "deploy" / "period-close.yaml",
        description="The period close's allocation rules, consolidation groups, asset classes "
        "and assets (docs/period-close.md).",
    )
    data_dir: Path = Field(
        default=Path(".ledgerstream"),
        description="State directory of this worker: Faust's, and stage 2's table file "
        "(state/<app id>-ledger-changelog.sqlite). One per worker, never shared.",
    )
    web_port: int = Field(default=6066, description="Worker HTTP port (/metrics, /ready).")
    web_host: str = "127.0.0.1"
    rule_version: str = Field(default="2026.12.1", description="Version of the posting rules.")
    account_map: dict[str, str] = Field(
        default_factory=dict,
        description="Account changes of the mapping document (JSON, default code -> code), "
        "under each entity's own overrides. Change it only with a new rule_version, then "
        "replay: records whose commands change are reversed and posted anew.",
    )
    batch_size: int = Field(default=500, ge=1, description="Events taken per batch.")
    batch_within_seconds: float = Field(default=0.05, gt=0)
    log_level: str = "info"
    park_deadline_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="How long a record waits for missing reference data (or an unposted "
        "entry) before it is dead-lettered as retryable.",
    )
    retry_first_seconds: float = Field(
        default=1.0, gt=0, description="First retry of a parked record (then doubled)."
    )
    retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between two retries of a parked record."
    )
    retry_check_seconds: float = Field(
        default=1.0, gt=0, description="How often the worker looks for parked records due."
    )
    state_checkpoint_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often stage 2 records how far its table file covers the changelog "
        "(a restart reads only the changelog after that point).",
    )
    state_cache_rows: int = Field(
        default=10_000,
        gt=0,
        description="Decoded table rows stage 2 keeps in memory (the table is on disk).",
    )
    books_url: SecretStr | None = Field(
        default=None,
        description="Database of the books (`ledgerstream books`): a SQLAlchemy URL, "
        "postgresql://user:password@host/db for PostgreSQL (psycopg 3); unset = the SQLite "
        "file books.sqlite in data_dir. Secret: it may hold a password.",
    )
    heartbeat_interval_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Seconds between synthetic canary events per partition; 0 = none sent.",
    )
    sync_cadence: dict[str, Literal["REALTIME", "HOURLY", "DAILY"]] = Field(
        default_factory=dict,
        description='Sync cadence per entity, JSON {"GB10": "DAILY"}: REALTIME (the '
        "default) sends each record's commands; HOURLY or DAILY sends one summary per "
        "project, currency and day at that cadence (docs/period-close.md).",
    )
    summary_flush_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Flush every SUMMARY entity's changed windows this often instead of "
        "at its cadence (tests, demos).",
    )
    fx_ecb_daily_url: str = Field(
        default="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml",
        description="`fx fetch`: the ECB's latest reference rates (XML).",
    )
    fx_ecb_history_url: str = Field(
        default="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml",
        description="`fx fetch --date`: the ECB's reference rates of the last 90 days (XML).",
    )
    fx_timeout_seconds: float = Field(
        default=10.0, gt=0, description="`fx fetch`: connect and read timeout of one attempt."
    )
    fx_attempts: int = Field(
        default=5, ge=1, description="`fx fetch`: attempts per run (timeouts, 429, 5xx retried)."
    )
    fx_backoff_first_seconds: float = Field(
        default=1.0, gt=0, description="`fx fetch`: ceiling of the first jittered backoff."
    )
    fx_backoff_max_seconds: float = Field(
        default=60.0, gt=0, description="`fx fetch`: largest backoff ceiling (doubling)."
    )
    fx_breaker_failures: int = Field(
        default=5, ge=1, description="`fx fetch`: failed attempts in a row that open the breaker."
    )
    fx_breaker_reset_seconds: float = Field(
        default=900.0, gt=0, description="`fx fetch`: how long an open breaker refuses calls."
    )
    otel_traces_exporter: str = Field(
        default="none",
        validation_alias=AliasChoices("OTEL_TRACES_EXPORTER", "otel_traces_exporter"),
        description="Span exporters, comma-separated: none (default), otlp, console.",
    )
    otel_service_name: str = Field(
        default="ledgerstream",
        validation_alias=AliasChoices("OTEL_SERVICE_NAME", "otel_service_name"),
    )
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = Field(
        default="http/protobuf",
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "otel_exporter_otlp_protocol",
        ),
        description="Only OTLP over HTTP/protobuf is shipped (no gRPC).",
    )

    @property
    def embedded(self) -> bool:
        """True when no cluster is configured and the embedded broker is used."""
        return self.kafka_bootstrap_servers is None

    @property
    def embedded_profile(self) -> bool:
        """True when the embedded broker's settings apply (docs/embedded-broker.md quirks)."""
        return self.profile == "embedded" or (self.profile == "auto" and self.embedded)

    @property
    def state_topic(self) -> str:
        """The changelog of this consumer group's posted-records table (one per group)."""
        return f"{self.app_id}-ledger-changelog"

    def topic(self, logical_name: str) -> str:
        """Return the physical topic name of a logical topic (docs/design.md §2)."""
        return f"{self.topic_prefix}{logical_name}"

    def kafka_client_config(self) -> dict[str, str]:
        """Return librdkafka/confluent-kafka connection settings (secrets included)."""
        if self.kafka_bootstrap_servers is None:
            raise RuntimeError("no Kafka cluster configured: start the embedded broker first")
        config = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username:
            config["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        ssl_files = {
            "ssl.ca.location": self.kafka_ssl_ca_location,
            "ssl.certificate.location": self.kafka_ssl_certificate_location,
            "ssl.key.location": self.kafka_ssl_key_location,
        }
        config |= {key: str(path) for key, path in ssl_files.items() if path is not None}
        if self.kafka_ssl_key_password is not None:
            config["ssl.key.password"] = self.kafka_ssl_key_password.get_secret_value()
        return config

    @property
    def kafka_uses_ssl(self) -> bool:
        """True when the cluster is reached over TLS (``SSL`` or ``SASL_SSL``)."""
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @property
    def trace_exporters(self) -> tuple[str, ...]:
        """The span exporters asked for (empty: tracing is off, no span is created)."""
        names = (name.strip().lower() for name in self.otel_traces_exporter.split(","))
        return tuple(name for name in names if name and name != "none")


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
