"""Prometheus metrics: the gateway's events counted, state read at scrape time, the scrape
format, and the shipped dashboard and alert rules against what we export."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from tests.engine.registers.people import generate
from tests.factories import make_docx, make_eml
from tests.integration.postfix import free_port

from postwarden.act import Gateway
from postwarden.engine.registers import import_register
from postwarden.metrics import (
    STAGES,
    UNINSPECTABLE_REASONS,
    GatewayMetrics,
    StateCollector,
    exposition,
    install,
    reason_category,
    scrape_registry,
    serve_metrics,
)
from postwarden.model import Envelope
from postwarden.outbound import MemoryOutbound
from postwarden.settings import DATABASE_URL_ENV, Settings, init_data_dir
from postwarden.store.quarantine import Quarantine
from postwarden.store.tokens import TokenScope, add_token
from postwarden.store.users import Role, add_user
from postwarden.transports.http import create_api
from postwarden.transports.milter import MilterService, TempFail

ORG = "demo.gov.hk"
SENDER = f"alice@{ORG}"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HKID = "A123456(3)"
DOCS = Path(__file__).resolve().parents[1] / "docs"


def _mail(to: str, body: str) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {to}\r\nSubject: metrics test\r\n"
        f"Message-ID: <{abs(hash(body))}@{ORG}>\r\n\r\n{body}\r\n"
    ).encode()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(registry: CollectorRegistry) -> Samples:
    """Every sample of a scrape, parsed back from the text format as Prometheus reads it."""
    out: Samples = {}
    for family in text_string_to_metric_families(exposition(registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(got: Samples, name: str, **labels: str) -> float:
    """The sample's value; NaN when the scrape has no such series."""
    return got.get((name, tuple(sorted(labels.items()))), math.nan)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return init_data_dir(tmp_path / "data", [ORG], next_hop="127.0.0.1:10026")


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Gateway]:
    gw = Gateway.from_settings(settings, outbound=MemoryOutbound())
    with gw.session() as s:
        add_user(
            s, "rita", Role.PRIVACY_OFFICER, f"rita@{ORG}", actor="test", secret=settings.secret()
        )
        s.commit()
    yield gw
    gw.close()


def test_metrics_count_what_the_real_gateway_does(gateway: Gateway) -> None:
    registry = install(gateway, "relay")
    before = samples(registry)
    assert value(before, "postwarden_quarantine_decisions_total", decision="released") == 0
    assert value(before, "postwarden_tempfails_total", front="relay", cause="timeout") == 0

    clean = _mail(f"bob@{ORG}", "Lunch at one?")
    leak = _mail("x@partner.example", f"Applicant HKID {HKID}, please process.")
    gateway.process(clean, Envelope(SENDER, (f"bob@{ORG}",)))
    held = gateway.process(leak, Envelope(SENDER, ("x@partner.example",)))
    also_held = gateway.process(leak, Envelope(SENDER, ("y@partner.example",)))
    assert held.disposition == "quarantined"
    assert held.quarantine_id
    assert also_held.quarantine_id
    gateway.release(held.quarantine_id, by="rita", reason="checked")
    gateway.reject_item(also_held.quarantine_id, by="rita", reason="no")

    got = samples(registry)
    assert value(got, "postwarden_messages_total", action="deliver", disposition="deliver") == 1
    hold = held.verdict.action.label
    assert value(got, "postwarden_messages_total", action=hold, disposition="quarantined") == 2
    for reason in held.verdict.reasons:
        hits = value(
            got, "postwarden_rule_hits_total", rule=reason.rule, action=reason.action.label
        )
        assert hits == 2, reason.rule
    assert value(got, "postwarden_inspected_bytes_total") == len(clean) + 2 * len(leak)
    for stage in STAGES:
        assert value(got, "postwarden_inspection_stage_seconds_count", stage=stage) == 3
        assert value(got, "postwarden_inspection_stage_seconds_sum", stage=stage) > 0
    assert value(got, "postwarden_inspection_seconds_count") == 3
    assert value(got, "postwarden_quarantine_decisions_total", decision="released") == 1
    assert value(got, "postwarden_quarantine_decisions_total", decision="rejected") == 1
    assert value(got, "postwarden_notices_total", result="sent") == 2
    assert value(got, "postwarden_quarantine_items", state="held") == 0
    assert value(got, "postwarden_store_up") == 1


def test_a_senders_cancel_counts_as_a_decision(gateway: Gateway) -> None:
    registry = install(gateway, "relay")
    raw = make_eml(
        sender=SENDER,
        to=["events@partner.example"],
        subject="[TEST] Newsletter layout",
        body="Layout test.",
        attachments=[("layout.docx", make_docx(["Quarterly newsletter draft"]), DOCX)],
    )
    warned = gateway.process(raw, Envelope(SENDER, ("events@partner.example",)))
    assert warned.verdict.action.label == "warn"
    assert warned.quarantine_id
    with gateway.session() as s:
        link = gateway.confirm_link(Quarantine.get(s, warned.quarantine_id))
    gateway.cancel_warn(link.rsplit("/", 1)[1])
    got = samples(registry)
    assert value(got, "postwarden_quarantine_decisions_total", decision="cancelled") == 1
    assert value(got, "postwarden_quarantine_decisions_total", decision="rejected") == 0
    # No personal data in any label: not the addresses, not the subject.
    text = exposition(registry).decode()
    for secret in (SENDER, "partner.example", "metrics test", HKID):
        assert secret not in text


def test_state_collector_reads_queue_and_register_age(
    gateway: Gateway, settings: Settings, tmp_path: Path
) -> None:
    leak = _mail("x@partner.example", f"Applicant HKID {HKID}, please process.")
    first = gateway.process(leak, Envelope(SENDER, ("x@partner.example",)))
    gateway.process(leak, Envelope(SENDER, ("y@partner.example",)))
    with gateway.session() as s:
        Quarantine.get(s, str(first.quarantine_id)).created = datetime.now(UTC) - timedelta(hours=2)
        s.commit()
    source = tmp_path / "members.csv"
    source.write_text(generate(20, seed=4).csv_text(), encoding="utf-8")
    import_register(source, "members", settings.registers_dir, settings.secret())
    later = datetime.now(UTC).timestamp() + 86_400
    registry = CollectorRegistry()
    registry.register(StateCollector(gateway.engine, settings.registers_dir, clock=lambda: later))
    got = samples(registry)
    assert value(got, "postwarden_quarantine_items", state="held") == 2
    assert value(got, "postwarden_quarantine_items", state="releasing") == 0
    oldest = value(got, "postwarden_quarantine_oldest_seconds", state="held")
    assert 86_400 + 7_200 - 60 < oldest < 86_400 + 7_200 + 60
    age = value(got, "postwarden_register_index_age_seconds", register="members")
    assert 86_400 - 60 < age < 86_400 + 60


def test_state_collector_reports_an_unreadable_store(settings: Settings) -> None:
    broken = create_engine(f"sqlite:///{settings.data_dir / 'missing' / 'x.db'}")
    registry = CollectorRegistry()
    registry.register(StateCollector(broken, settings.registers_dir))
    got = samples(registry)
    assert value(got, "postwarden_store_up") == 0
    assert math.isnan(value(got, "postwarden_quarantine_items", state="held"))


def test_milter_tempfails_and_errors_are_counted(gateway: Gateway) -> None:
    registry = install(gateway, "milter")

    class Broken:
        def check(self, raw: bytes, envelope: Envelope | None = None) -> object:
            raise RuntimeError("engine bug quoting alice@demo.gov.hk")

    gateway._inspector = Broken()  # type: ignore[assignment]
    service = MilterService(gateway, timeout=5)
    try:
        reply = service.decide(_mail(f"bob@{ORG}", "hi"), Envelope(SENDER, ("b@x.example",)), "Q")
    finally:
        service.shutdown()
    assert isinstance(reply, TempFail)
    got = samples(registry)
    assert value(got, "postwarden_tempfails_total", front="milter", cause="error") == 1
    assert value(got, "postwarden_errors_total", front="milter", kind="RuntimeError") == 1
    assert "alice@" not in exposition(registry).decode()


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("encrypted pdf", "encrypted"),
        ("encrypted message (PGP/MIME)", "encrypted"),
        ("encrypted or opaque-signed message (S/MIME)", "encrypted"),
        ("zip bomb: overlapping entries in zip", "limit"),
        ("part of 12.0 MiB over limit 10.0 MiB", "limit"),
        ("nesting deeper than 8", "limit"),
        ("time limit 120 s exceeded", "limit"),
        ("corrupt pdf: page 3: bad xref", "corrupt"),
        ("message could not be parsed (ValueError)", "corrupt"),
        ("XML with a DTD in docx (entity bomb or external entity)", "limit"),
        ("unsupported archive format (rar)", "unsupported"),
        ("unsupported outlook attachment (ole)", "unsupported"),
        ("something new", "other"),
    ],
)
def test_reason_category_is_bounded(reason: str, category: str) -> None:
    assert reason_category(reason) == category
    assert category in UNINSPECTABLE_REASONS


def test_uninspectable_parts_counted_by_category(gateway: Gateway) -> None:
    registry = install(gateway, "relay")
    raw = (
        f"From: {SENDER}\r\nTo: bob@{ORG}\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=b\r\n'
        "\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n"
        "--b--\r\n"
    ).encode()
    gateway.process(raw, Envelope(SENDER, (f"bob@{ORG}",)))
    got = samples(registry)
    assert value(got, "postwarden_uninspectable_parts_total", reason="encrypted") == 1
    assert value(got, "postwarden_uninspectable_parts_total", reason="other") == 0


def test_serve_metrics_answers_over_http(gateway: Gateway) -> None:
    registry = install(gateway, "relay")
    port = free_port()
    stop = serve_metrics(registry, "127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            body = r.read().decode()
    finally:
        stop()
    assert "# TYPE postwarden_messages_total counter" in body
    assert 'postwarden_quarantine_items{state="held"} 0.0' in body


def test_multiprocess_mode_sums_the_processes(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Multiprocess mode is chosen when prometheus_client is imported; a child process with
    # the variable set shows what a worker sees.
    shared = tmp_path / "prom"
    shared.mkdir()
    script = (
        "from postwarden.metrics import GatewayMetrics\nm = GatewayMetrics()\nm.notice(sent=True)\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(DOCS.parent / "src")}

    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, check=True)
    reader = (
        "from prometheus_client import CollectorRegistry\n"
        "from prometheus_client.registry import Collector\n"
        "from postwarden.metrics import GatewayMetrics, scrape_registry, exposition\n"
        "class Empty(Collector):\n"
        "    def collect(self):\n"
        "        return []\n"
        "print(exposition(scrape_registry(GatewayMetrics(), Empty())).decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert re.search(r'^postwarden_notices_total\{result="sent"\} 2\.0$', out, re.M), out


# -- the shipped dashboard and alert rules --------------------------------------------------


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _exported_names(gateway: Gateway) -> set[str]:
    """The series names a scrape can hold (families are declared before their first sample)."""
    names = set()
    for family in text_string_to_metric_families(exposition(install(gateway, "relay")).decode()):
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


_METRIC = re.compile(r"\bpostwarden_[a-z_]+")


def test_dashboard_queries_name_only_exported_metrics(gateway: Gateway) -> None:
    exported = _exported_names(gateway)
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert len(exprs) >= 8
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert used, exprs
    assert used <= exported, used - exported


def test_alert_rules_name_only_exported_metrics(gateway: Gateway) -> None:
    exported = _exported_names(gateway)
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert {
        "PostwardenTempfails",
        "PostwardenQuarantineQueueAge",
        "PostwardenUninspectableSpike",
        "PostwardenRegisterIndexStale",
    } <= set(alerts)
    used = {name for expr in alerts.values() for name in _METRIC.findall(expr)}
    assert used <= exported, used - exported


def test_docs_describe_every_metric(gateway: Gateway) -> None:
    page = (DOCS / "metrics.md").read_text(encoding="utf-8")
    families = list(text_string_to_metric_families(exposition(install(gateway, "relay")).decode()))
    assert len(families) == 15
    for family in families:
        shown = family.name + ("_total" if family.type == "counter" else "")
        assert f"| `{shown}` | {family.type} |" in page, shown


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus)")
def test_promtool_accepts_the_alert_rules() -> None:
    proc = subprocess.run(
        ["promtool", "check", "rules", str(DOCS / "prometheus-alerts.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


def test_scrape_registry_in_single_process_mode_is_the_metrics_own() -> None:
    metrics = GatewayMetrics()

    class Empty(StateCollector):
        def __init__(self) -> None:
            pass

        def collect(self):  # type: ignore[no-untyped-def]
            return []

    assert scrape_registry(metrics, Empty()) is metrics.registry


def test_api_checks_are_counted_and_inspected(gateway: Gateway, settings: Settings) -> None:
    metrics = GatewayMetrics()
    api = create_api(settings, gateway.inspector, engine=gateway.engine, events=metrics)
    with Session(gateway.engine) as s:
        token = add_token(s, "ci", TokenScope.CHECK, actor="test", secret=settings.secret()).token
        s.commit()
    raw = _mail("x@partner.example", f"Applicant HKID {HKID}, please process.")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.post(
                "/api/v1/check",
                content=raw,
                params={"sender": SENDER, "rcpt": "x@partner.example"},
                headers={"Authorization": f"Bearer {token}"},
            )

    answer = asyncio.run(go())
    assert answer.status_code == 200
    got = samples(metrics.registry)
    assert value(got, "postwarden_api_checks_total", action=answer.json()["action"]) == 1
    assert value(got, "postwarden_inspected_bytes_total") == len(raw)
    assert value(got, "postwarden_inspection_stage_seconds_count", stage="detect") == 1
    # An API check is no message through the gateway.
    assert not any(name == "postwarden_messages_total" for name, _ in got)
