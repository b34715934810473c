"""Operations settings: tracing from the standard OTEL_* variables, TLS files, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError
from streams.adapters.tracing import build_provider
from streams.app import _faust_credentials, record_tracer
from streams.settings import Settings


def test_tracing_is_off_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert Settings().trace_exporters == ()
    assert record_tracer(Settings(), "w@h") is None  # no tracer: no span is ever created
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert Settings().trace_exporters == ()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp, console")
    assert Settings().trace_exporters == ("otlp", "console")


def test_an_otlp_tracer_is_built_from_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ledgerstream-eu")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # read by the SDK
    tracer = record_tracer(Settings(app_id="ls"), "ls@host-1")
    assert tracer is not None
    attributes = tracer.provider.resource.attributes
    assert attributes["service.name"] == "ledgerstream-eu"
    assert attributes["service.instance.id"] == "ls@host-1"
    tracer.provider.shutdown()


def test_unknown_exporters_and_grpc_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown OTEL_TRACES_EXPORTER"):
        build_provider(["zipkin"], service_name="s", service_instance="i", service_version="0")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValidationError, match="http/protobuf"):
        Settings()


def test_tls_files_and_their_key_password_reach_librdkafka(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9093")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SSL_CA_LOCATION", "/etc/ls/ca.pem")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SSL_CERTIFICATE_LOCATION", "/etc/ls/client.pem")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SSL_KEY_LOCATION", "/etc/ls/client.key")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SSL_KEY_PASSWORD", "k3y-s3cret")
    settings = Settings()
    assert settings.kafka_uses_ssl
    assert settings.kafka_client_config() == {
        "bootstrap.servers": "kafka-1:9093",
        "security.protocol": "SSL",
        "ssl.ca.location": "/etc/ls/ca.pem",
        "ssl.certificate.location": "/etc/ls/client.pem",
        "ssl.key.location": "/etc/ls/client.key",
        "ssl.key.password": "k3y-s3cret",
    }
    assert settings.kafka_ssl_ca_location == Path("/etc/ls/ca.pem")
    assert "k3y-s3cret" not in repr(settings)
    assert "k3y-s3cret" not in settings.model_dump_json()


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-compose passes optional secrets as `${VAR:-}`
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_PASSWORD", "")
    monkeypatch.setenv("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SSL_CA_LOCATION", "")
    settings = Settings()
    assert settings.kafka_sasl_password is None
    assert settings.schema_registry_basic_auth is None
    assert settings.kafka_ssl_ca_location is None


def test_faust_gets_sasl_credentials_that_never_show_the_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_USERNAME", "ledger")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_PASSWORD", "s3cret")
    settings = Settings()
    credentials = _faust_credentials(settings)
    assert credentials is not None
    assert credentials.protocol.value == "SASL_SSL"  # type: ignore[attr-defined]
    assert credentials.mechanism.value == "SCRAM-SHA-512"  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings %r credentials %r", settings, credentials)
    assert "s3cret" not in caplog.text
    assert "s3cret" not in str(settings)


def test_plaintext_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.delenv("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", raising=False)
    assert _faust_credentials(Settings()) is None
