"""The deploy/ artefacts hold together: alert rules (promtool), Alertmanager (amtool),
runbooks, the compose stack, and the lock files the image and CI install from.

No Docker engine runs here, so docker-compose.yml is checked structurally: the
services, pinned images, ports, mounts, volumes and the environment the settings read.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import AliasChoices
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "ledgerstream.json"
RUNBOOKS = ROOT / "docs" / "runbooks"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
RUNBOOKS_NGINX = DEPLOY / "runbooks" / "nginx.conf"
#: Where every alert's runbook_url points: the compose stack's `runbooks` service.
RUNBOOK_BASE = "http://localhost:8088/"
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
PINNED = re.compile(r"^[a-z0-9./_-]+:v?\d+(\.\d+)+(-[a-z0-9.-]+)?$")
# Standard variables the OpenTelemetry SDK reads itself (streams/settings.py docstring).
OTEL_SDK_VARIABLES = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return debian_tool("promtool", "prometheus", *args, cwd=cwd)


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return debian_tool("amtool", "prometheus-alertmanager", *args, cwd=ROOT)


def debian_tool(name: str, package: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(name)
    if binary is None:
        pytest.fail(f"{name} is not installed: `make test` installs Debian's {package} package")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def settings_variables() -> set[str]:
    """Every environment variable streams/settings.py reads."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {c for c in alias.choices if isinstance(c, str) and c.isupper()}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def test_alert_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    result = promtool("test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_has_a_runbook() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    for rule in alerts():
        name = rule["alert"]
        assert name in fired, f"{name} has no promtool case where it fires"
        assert rule["labels"]["severity"] in {"critical", "warning"}
        url = rule["annotations"]["runbook_url"]
        assert url == f"{RUNBOOK_BASE}{name}.md", f"{name}: runbook_url {url}"
        runbook = RUNBOOKS / url.removeprefix(RUNBOOK_BASE)
        assert runbook.is_file(), f"{name}: missing {runbook}"
        text = runbook.read_text()
        assert text.startswith(f"# {name}"), runbook
        for section in ("## What it means", "## Impact", "## Diagnose", "## Fix"):
            assert section in text, f"{runbook.name} lacks {section!r}"
    assert {p.stem for p in RUNBOOKS.glob("Ledgerstream*.md")} == {r["alert"] for r in alerts()}


def test_the_compose_prometheus_config_is_valid(tmp_path: Path) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    # the compose file mounts alerts.yml at this path; check it from here
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    config["rule_files"] = [str(ALERTS)]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(local))
    assert result.returncode == 0, result.stdout + result.stderr
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "ledgerstream"]
    assert job["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": 6066, "refresh_interval": "15s"}
    ]


def test_compose_has_every_service_with_pinned_images_and_ports() -> None:
    services = compose()["services"]
    images = {name: service.get("image", "") for name, service in services.items()}
    expected = {
        "kafka-1": "apache/kafka:3.9.",
        "kafka-2": "apache/kafka:3.9.",
        "kafka-3": "apache/kafka:3.9.",
        "schema-registry": "confluentinc/cp-schema-registry:",
        "init": "ledgerstream:",
        "worker": "ledgerstream:",
        "prometheus": "prom/prometheus:v",
        "alertmanager": "prom/alertmanager:v",
        "runbooks": "nginx:",
        "grafana": "grafana/grafana:",
        "otel-collector": "otel/opentelemetry-collector-contrib:",
        "jaeger": "jaegertracing/all-in-one:",
        "postgres": "postgres:17.",
        "books": "ledgerstream:",
    }
    assert set(services) == set(expected)
    for name, prefix in expected.items():
        assert images[name].startswith(prefix), (name, images[name])
        assert PINNED.match(images[name]), f"{name}: image not pinned by version: {images[name]}"
    ports = {name: service.get("ports", []) for name, service in services.items()}
    assert ports["schema-registry"] == ["8081:8081"]
    assert ports["prometheus"] == ["9090:9090"]
    assert ports["alertmanager"] == ["9093:9093"]
    assert ports["runbooks"] == ["8088:8088"]
    assert ports["grafana"] == ["3000:3000"]
    assert ports["jaeger"] == ["16686:16686"]
    assert "4318:4318" in ports["otel-collector"]
    assert [ports[f"kafka-{n}"] for n in (1, 2, 3)] == [
        ["29092:29092"],
        ["29093:29093"],
        ["29094:29094"],
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for base in re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE):
        assert PINNED.match(base.replace("-slim-bookworm", "")), base


def test_kafka_is_a_three_node_kraft_cluster_that_fits_the_topic_declarations() -> None:
    services = compose()["services"]
    topics = yaml.safe_load((DEPLOY / "topics.yaml").read_text())["defaults"]
    for n in (1, 2, 3):
        env = services[f"kafka-{n}"]["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_NODE_ID"] == str(n)
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics.yaml only
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) >= topics["replication_factor"]


def test_the_workers_scale_and_read_only_variables_the_settings_know() -> None:
    services = compose()["services"]
    worker, init = services["worker"], services["init"]
    assert "container_name" not in worker
    assert "ports" not in worker, "published ports would stop `--scale worker=N`"
    assert worker["deploy"]["replicas"] >= 2
    assert worker["build"] == "."
    known = settings_variables() | OTEL_SDK_VARIABLES
    for service in (worker, init):
        env = service["environment"]
        assert set(env) <= known, f"unknown variables: {set(env) - known}"
        for key, value in env.items():
            if re.search(r"PASSWORD|USER_INFO", key):
                assert re.fullmatch(r"\$\{\w+:-\}", value), f"{key} must come from the shell"
    env = worker["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
    assert env["SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
    assert env["LEDGERSTREAM_WEB_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert worker["expose"] == [env["LEDGERSTREAM_WEB_PORT"]] == ["6066"]
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    settings = Settings.model_validate(
        {k: v for k, v in env.items() if not str(v).startswith("${")}
    )
    assert settings.trace_exporters == ("otlp",)
    assert settings.web_port == 6066
    assert settings.kafka_client_config()["bootstrap.servers"].count("kafka-") == 3


def test_the_init_job_creates_topics_and_registers_schemas_before_workers_start() -> None:
    services = compose()["services"]
    init, worker = services["init"], services["worker"]
    script = " ".join(init["command"])
    assert "ledgerstream topics create" in script
    assert "ledgerstream schemas register" in script
    assert script.index("topics create") < script.index("schemas register")
    assert init["depends_on"]["schema-registry"]["condition"] == "service_healthy"
    assert worker["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_prometheus_grafana_and_the_collector_get_their_configuration() -> None:
    services = compose()["services"]
    prometheus = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus
    grafana = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "ledgerstream.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {d["uid"]: d["url"] for d in datasources}
    assert uids["prometheus"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "prometheus", panel["title"]
    collector_mount = "./deploy/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro"
    assert collector_mount in services["otel-collector"]["volumes"]
    collector = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    (pipeline,) = collector["service"]["pipelines"].values()
    (exporter,) = pipeline["exporters"]
    assert collector["exporters"][exporter]["endpoint"] == "jaeger:4317"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_the_alertmanager_config_passes_amtool_and_routes_each_severity() -> None:
    result = amtool("check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {"critical": "pager", "warning": "ticket"}
    assert {rule["labels"]["severity"] for rule in alerts()} <= set(expected)
    for severity, receiver in expected.items():
        routed = amtool(
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"--verify.receivers={receiver}",
            f"severity={severity}",
        )
        assert routed.returncode == 0, routed.stdout + routed.stderr
        assert routed.stdout.strip() == receiver


def test_prometheus_sends_its_alerts_to_the_compose_alertmanager() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (manager,) = config["alerting"]["alertmanagers"]
    assert manager["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    services = compose()["services"]
    alertmanager = services["alertmanager"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    mount = "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
    assert mount in alertmanager["volumes"]
    assert services["prometheus"]["depends_on"]["alertmanager"]["condition"] == "service_started"
    assert "alertmanager-data" in compose()["volumes"]


def test_the_runbook_links_are_served_by_the_compose_stack() -> None:
    runbooks = compose()["services"]["runbooks"]
    nginx = RUNBOOKS_NGINX.read_text()
    (root,) = re.findall(r"^\s*root\s+(\S+);", nginx, flags=re.MULTILINE)
    (port,) = re.findall(r"^\s*listen\s+(\d+);", nginx, flags=re.MULTILINE)
    assert f"./docs/runbooks:{root}:ro" in runbooks["volumes"]
    assert "./deploy/runbooks/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in runbooks["volumes"]
    assert runbooks["ports"] == [f"{port}:{port}"]
    assert f"http://localhost:{port}/" == RUNBOOK_BASE
    assert re.search(r"types\s*\{\s*text/plain\s+md;\s*\}", nginx), "markdown shown as text"


def test_kafka_keeps_its_data_on_named_volumes() -> None:
    stack = compose()
    for n in (1, 2, 3):
        service = stack["services"][f"kafka-{n}"]
        log_dirs = service["environment"]["KAFKA_LOG_DIRS"]
        assert service["volumes"] == [f"kafka-{n}-data:{log_dirs}"]
        assert f"kafka-{n}-data" in stack["volumes"]


def test_the_workers_get_every_kafka_security_setting_and_the_tls_files() -> None:
    services = compose()["services"]
    security = {v for v in settings_variables() if v.startswith("LEDGERSTREAM_KAFKA_S")}
    assert {
        "LEDGERSTREAM_KAFKA_SSL_CERTIFICATE_LOCATION",
        "LEDGERSTREAM_KAFKA_SSL_KEY_LOCATION",
        "LEDGERSTREAM_KAFKA_SSL_KEY_PASSWORD",
    } <= security
    for name in ("worker", "init"):
        service = services[name]
        assert security <= set(service["environment"]), security - set(service["environment"])
        for variable in security:
            assert service["environment"][variable].startswith(f"${{{variable}:-"), variable
        (mount,) = [v for v in service["volumes"] if "/etc/ledgerstream/tls" in v]
        assert mount.endswith(":/etc/ledgerstream/tls:ro")
    assert ".gitignore" in {p.name for p in (DEPLOY / "tls").iterdir()}
    assert "deploy/tls" in (ROOT / ".dockerignore").read_text().split()


def locked_pins(lock: Path) -> dict[str, tuple[str, int]]:
    """Each package pinned in a lock file: its version and how many hashes it carries."""
    pins: dict[str, tuple[str, int]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", entry)
        if match:
            pins[canonicalize_name(match[1])] = (match[2], entry.count("--hash=sha256:"))
    return pins


def pyproject() -> dict[str, Any]:
    import tomllib  # noqa: PLC0415 - only these tests read it

    loaded: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return loaded


@pytest.mark.parametrize(
    ("lock", "groups"),
    [(LOCK, ("dependencies",)), (DEV_LOCK, ("dependencies", "embedded", "dev"))],
    ids=["requirements.lock", "requirements-dev.lock"],
)
def test_every_dependency_of_pyproject_is_pinned_with_hashes(
    lock: Path, groups: tuple[str, ...]
) -> None:
    project = pyproject()["project"]
    wanted = [
        Requirement(text)
        for group in groups
        for text in (
            project["dependencies"]
            if group == "dependencies"
            else project["optional-dependencies"][group]
        )
    ]
    pins = locked_pins(lock)
    stale = []
    for requirement in wanted:
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned[0], prereleases=True):
            stale.append(f"{requirement} (locked: {pinned[0] if pinned else 'missing'})")
    assert not stale, f"run `make lock` and commit {lock.name}: {stale}"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"pins without hashes in {lock.name}: {unhashed}"


def test_both_locks_agree_on_every_shared_package() -> None:
    runtime, dev = locked_pins(LOCK), locked_pins(DEV_LOCK)
    assert set(runtime) <= set(dev)
    differ = {
        name: (runtime[name][0], dev[name][0])
        for name in runtime
        if runtime[name][0] != dev[name][0]
    }
    assert not differ, f"the image and CI would run different versions: {differ}"


def test_the_image_and_make_install_install_from_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    assert "COPY requirements.lock" in dockerfile
    assert re.search(r"pip wheel [^&]*--require-hashes [^&]*-r requirements\.lock", dockerfile)
    assert re.search(r"pip wheel [^&]*--no-deps [^&]* \.", dockerfile)
    assert re.search(r"pip install [^&]*--no-index --no-deps /wheels/\*\.whl", dockerfile)
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "$(DEV_LOCK)" in install.splitlines()[0], "a new lock must reinstall"
    assert "pip install --quiet --require-hashes -r $(DEV_LOCK)" in install
    assert "pip install --quiet --no-deps -e ." in install
    assert re.search(r"^DEV_LOCK\s*:= requirements-dev\.lock$", makefile, flags=re.MULTILINE)
    assert re.search(r"^lock: .*## ", makefile, flags=re.MULTILINE)


def test_the_books_book_into_the_compose_postgres() -> None:
    services = compose()["services"]
    books, postgres = services["books"], services["postgres"]
    assert books["command"] == ["ledgerstream", "books", "run"]
    assert books["depends_on"]["postgres"] == {"condition": "service_healthy"}
    env = books["environment"]
    assert set(env) <= settings_variables() | OTEL_SDK_VARIABLES
    assert env["LEDGERSTREAM_BOOKS_URL"].startswith("postgresql://books:")
    assert env["LEDGERSTREAM_BOOKS_URL"].endswith("@postgres:5432/books")
    assert postgres["environment"]["POSTGRES_DB"] == "books"
    assert "books-data:/var/lib/postgresql/data" in postgres["volumes"]
