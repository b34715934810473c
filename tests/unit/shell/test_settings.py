from __future__ import annotations

import pytest
from streams.settings import Settings


def test_unset_bootstrap_means_the_embedded_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = Settings()
    assert settings.embedded
    assert settings.embedded_profile
    with pytest.raises(RuntimeError, match="no Kafka cluster"):
        settings.kafka_client_config()


def test_cluster_settings_come_from_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_USERNAME", "ledger")
    monkeypatch.setenv("LEDGERSTREAM_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("LEDGERSTREAM_TOPIC_PREFIX", "staging.")
    settings = Settings()
    assert not settings.embedded_profile
    assert settings.topic("pm.time-entries") == "staging.pm.time-entries"
    assert settings.kafka_client_config() == {
        "bootstrap.servers": "kafka-1:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ledger",
        "sasl.password": "s3cret",
    }
    assert "s3cret" not in repr(settings)  # secrets never reach logs


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.app_id = "other"  # type: ignore[misc]
