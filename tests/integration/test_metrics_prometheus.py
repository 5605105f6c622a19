"""Acceptance (issue 12, metrics): Debian's Prometheus scrapes a running ``serve`` and a running
``milter --metrics`` behind a real Postfix; the counters read back through Prometheus's HTTP
query API match the mail sent."""

from __future__ import annotations

import json
import shutil
import smtplib
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import ORG, REVIEWER, REVIEWER_EMAIL, SENDER, Daemon, postwarden
from tests.integration.messages import HKID, make_mail, marker, send
from tests.integration.postfix import (
    Ports,
    PostfixInstance,
    Sink,
    free_port,
    make_instance_root,
    postfix_available,
    wait_for_port,
)

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")


@dataclass(slots=True)
class Scraped:
    ports: Ports
    data_dir: Path
    outbox: Path
    prometheus: int
    milter_metrics: int
    http: int


def _http(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        body: bytes = r.read()
        return body


DOCS = Path(__file__).resolve().parents[2] / "docs"


def _prometheus_config(path: Path, milter: int, http: int) -> None:
    config = {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "900ms",
            "evaluation_interval": "1s",
        },
        "rule_files": [str(DOCS / "prometheus-alerts.yml")],
        "scrape_configs": [
            {"job_name": "milter", "static_configs": [{"targets": [f"127.0.0.1:{milter}"]}]},
            {"job_name": "serve", "static_configs": [{"targets": [f"127.0.0.1:{http}"]}]},
        ],
    }
    path.write_text(json.dumps(config))  # JSON is YAML


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    if (reason := postfix_available()) is not None:
        pytest.skip(reason)
    if PROMETHEUS is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    ports = Ports.allocate()
    milter_metrics, http, prom = free_port(), free_port(), free_port()
    work = tmp_path_factory.mktemp("metrics")
    data_dir, outbox = work / "var", work / "outbox"
    postwarden(data_dir, "init", "--org-domain", ORG, "--next-hop", f"127.0.0.1:{ports.reinject}")
    postwarden(
        data_dir, "user", "add", REVIEWER, "--role", "privacy-officer", "--email", REVIEWER_EMAIL
    )
    sink = Sink(ports.sink)
    milter = Daemon(
        data_dir,
        [
            "milter",
            *("--listen", f"inet:{ports.milter}@127.0.0.1", "--timeout", "50"),
            *("--metrics", f"127.0.0.1:{milter_metrics}"),
        ],
        ports.milter,
        work / "milter.log",
    )
    serve = Daemon(
        data_dir,
        [
            "serve",
            *("--smtp", f"127.0.0.1:{ports.relay}", "--http", f"127.0.0.1:{http}"),
            *("--outbox", str(outbox), "--timeout", "50"),
        ],
        http,
        work / "serve.log",
    )
    config = work / "prometheus.yml"
    _prometheus_config(config, milter_metrics, http)
    postfix = PostfixInstance(make_instance_root(), ports)
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        sink.start()
        milter.launch()
        serve.launch()
        postfix.start()
        milter.wait_ready()
        serve.wait_ready()
        wait_for_port(milter_metrics, timeout=30)
        with (work / "prometheus.log").open("wb") as log:
            # Our own server, not Debian's systemd unit: a private config, TSDB and port.
            prometheus = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_ready(prom, work / "prometheus.log")
        yield Scraped(ports, data_dir, outbox, prom, milter_metrics, http)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(30)
        postfix.stop()
        milter.stop()
        serve.stop()
        sink.stop()
        shutil.rmtree(postfix.root, ignore_errors=True)


def _wait_ready(port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _http(f"http://127.0.0.1:{port}/-/ready", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"prometheus did not start:\n{log.read_text(errors='replace')}")


def _query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = json.loads(_http(url))
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _values(port: int, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
    return {
        tuple(r["metric"].get(label, "") for label in labels): float(r["value"][1])
        for r in _query(port, expr)
    }


def _until(
    port: int, expr: str, labels: tuple[str, ...], expected: dict[tuple[str, ...], float]
) -> dict[tuple[str, ...], float]:
    """Poll Prometheus until ``expr`` gives ``expected`` (scrapes come every second)."""
    deadline = time.monotonic() + 60
    got: dict[tuple[str, ...], float] = {}
    while time.monotonic() < deadline:
        got = _values(port, expr, *labels)
        if got == expected:
            return got
        time.sleep(0.5)
    raise AssertionError(f"{expr}: expected {expected}, Prometheus has {got}")


def test_prometheus_reads_the_gateway_counters(scraped: Scraped) -> None:
    p = scraped.ports
    # Through Postfix and the milter: 2 delivered, 1 held, 1 refused (webmail).
    for _ in range(2):
        mark = marker()
        send(p.filter, SENDER, [f"bob@{ORG}"], make_mail(mark, SENDER, f"bob@{ORG}"))
    held_rcpt = f"{marker()}@partner.example"
    send(
        p.filter,
        SENDER,
        [held_rcpt],
        make_mail(marker(), SENDER, held_rcpt, body=f"Applicant HKID {HKID}, please process."),
    )
    with pytest.raises(smtplib.SMTPDataError):
        send(p.filter, SENDER, ["x@gmail.com"], make_mail(marker(), SENDER, "x@gmail.com"))
    # Straight to serve's SMTP listener: 3 delivered (to the outbox), 2 held.
    for _ in range(3):
        send(p.relay, SENDER, [f"carol@{ORG}"], make_mail(marker(), SENDER, f"carol@{ORG}"))
    for _ in range(2):
        rcpt = f"{marker()}@partner.example"
        body = f"Member HKID {HKID} attached."
        send(p.relay, SENDER, [rcpt], make_mail(marker(), SENDER, rcpt, body=body))

    expected = {
        ("milter", "deliver"): 2.0,
        ("milter", "quarantined"): 1.0,
        ("milter", "reject"): 1.0,
        ("serve", "deliver"): 3.0,
        ("serve", "quarantined"): 2.0,
    }
    _until(
        scraped.prometheus,
        "sum by (job, disposition) (postwarden_messages_total)",
        ("job", "disposition"),
        expected,
    )
    # Both processes read the one shared quarantine: three held, whoever scrapes.
    _until(
        scraped.prometheus,
        'postwarden_quarantine_items{state="held"}',
        ("job",),
        {("milter",): 3.0, ("serve",): 3.0},
    )
    port = scraped.prometheus
    notices = _values(port, 'sum by (job) (postwarden_notices_total{result="sent"})', "job")
    assert notices == {("milter",): 1.0, ("serve",): 2.0}
    size = _values(port, "sum by (job) (postwarden_inspected_bytes_total)", "job")
    assert size[("milter",)] > 0
    assert size[("serve",)] > 0
    stages = _values(port, "sum by (stage) (postwarden_inspection_stage_seconds_count)", "stage")
    assert stages == {(s,): 9.0 for s in ("parse", "extract", "detect", "registers", "policy")}
    tempfails = _values(port, "sum(postwarden_tempfails_total)")
    assert tempfails == {(): 0.0}
    assert _values(port, "min(postwarden_store_up)") == {(): 1.0}
    assert _values(port, "max(postwarden_quarantine_oldest_seconds)")[()] > 0

    # The held message the milter counted is the one in the shared quarantine.
    listed = json.loads(postwarden(scraped.data_dir, "quarantine", "list", "--json").stdout)
    assert [i["state"] for i in listed if held_rcpt in i["recipients"]] == ["held"]
    # Prometheus's own view of a target: both up, scraped without errors.
    up = _values(port, "up", "job")
    assert up == {("milter",): 1.0, ("serve",): 1.0}


def test_shipped_dashboard_and_alerts_run_on_prometheus(scraped: Scraped) -> None:
    port = scraped.prometheus
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # Grafana fills $__rate_interval in; every query must be valid PromQL.
            _query(port, target["expr"].replace("$__rate_interval", "1m"))
    deadline = time.monotonic() + 30
    while True:
        answer = json.loads(_http(f"http://127.0.0.1:{port}/api/v1/rules"))
        rules = [r for g in answer["data"]["groups"] for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules):
            break
        assert time.monotonic() < deadline, rules
        time.sleep(0.5)
    assert len(rules) == 7
    assert {r["name"]: r["health"] for r in rules} == dict.fromkeys(
        (r["name"] for r in rules), "ok"
    ), rules
