"""Prometheus metrics: the gateway's events as counters and histograms, and the quarantine and
registers read at scrape time (the official ``prometheus-client`` library).

Imported only where a server starts (``serve``, ``milter --metrics``, ``relay --metrics``),
so no other command pays for it.  Labels carry rule ids, actions, stages, reason categories,
front ends and exception types, never an address, subject or file name.

Several processes on one host: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (the
library's multiprocess mode) before the processes start; each then writes its counters there
and any of them serves the sum (see docs/metrics.md).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from postwarden.act import Events, Gateway, Outcome
from postwarden.engine.registers import list_registers
from postwarden.model import UNINSPECTABLE, Verdict
from postwarden.settings import metrics_multiprocess_dir
from postwarden.store.db import session_factory
from postwarden.store.quarantine import QuarantineItem, State

__all__ = [
    "CONTENT_TYPE_LATEST",
    "STAGES",
    "UNINSPECTABLE_REASONS",
    "GatewayMetrics",
    "StateCollector",
    "exposition",
    "install",
    "metrics_endpoint",
    "reason_category",
    "scrape_registry",
    "serve_metrics",
]

log = logging.getLogger(__name__)

# The ``*_created`` series (a timestamp per counter child) double the series count and no
# dashboard or rule of ours reads them; Prometheus tells resets apart without them.
disable_created_metrics()  # type: ignore[no-untyped-call]

STAGES = ("parse", "extract", "detect", "registers", "policy")
"""The engine's stages as ``postwarden.engine`` times them (``Verdict.timings``)."""

# Latency buckets from a millisecond to the 120 s default inspection limit: a small message
# takes a few ms per stage, a large spreadsheet seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# The extractors' reasons are free text with sizes and library messages in them; a label
# must be one of a few values, so each reason falls in the first category whose words it has.
_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("encrypted", re.compile(r"encrypt|password|pgp|s/mime|signed", re.I)),
    ("limit", re.compile(r"limit|deeper than|bomb|ratio|over \d|members", re.I)),
    ("corrupt", re.compile(r"corrupt|unreadable|could not be parsed|malformed|dtd|dupli", re.I)),
    ("unsupported", re.compile(r"unsupported|format|cannot open", re.I)),
)
UNINSPECTABLE_REASONS = (*(name for name, _ in _CATEGORIES), "other")


def reason_category(reason: str) -> str:
    """The bounded label for an ``uninspectable`` finding's reason."""
    for name, pattern in _CATEGORIES:
        if pattern.search(reason):
            return name
    return "other"


class GatewayMetrics(Events):
    """The gateway's events (:class:`postwarden.act.Events`) as Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "postwarden_messages",
            "Messages through the gateway, by verdict action and what became of them.",
            ["action", "disposition"],
            registry=r,
        )
        self.rule_hits = Counter(
            "postwarden_rule_hits",
            "Policy rules that fired, by rule id and the rule's action.",
            ["rule", "action"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "postwarden_inspection_stage_seconds",
            "Seconds each inspection stage took.",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.inspection_seconds = Histogram(
            "postwarden_inspection_seconds",
            "Seconds a whole inspection took.",
            buckets=_BUCKETS,
            registry=r,
        )
        self.bytes = Counter(
            "postwarden_inspected_bytes", "Bytes of messages inspected.", registry=r
        )
        self.uninspectable = Counter(
            "postwarden_uninspectable_parts",
            "Parts that could not be inspected, by reason category.",
            ["reason"],
            registry=r,
        )
        self.api_checks = Counter(
            "postwarden_api_checks",
            "Messages inspected through the HTTP check API, by verdict action.",
            ["action"],
            registry=r,
        )
        self.decisions = Counter(
            "postwarden_quarantine_decisions",
            "What became of held messages: released, release-failed, rejected, expired, cancelled.",
            ["decision"],
            registry=r,
        )
        self.notices = Counter(
            "postwarden_notices",
            "Sender notices, by result (sent, failed).",
            ["result"],
            registry=r,
        )
        self.tempfails = Counter(
            "postwarden_tempfails",
            "4xx answers of the milter and relay, by front end and cause.",
            ["front", "cause"],
            registry=r,
        )
        self.errors = Counter(
            "postwarden_errors",
            "Internal failures at a front end's outer edge, by exception type.",
            ["front", "kind"],
            registry=r,
        )
        # Series that exist from the start, at 0: rate() and alerts see them before the
        # first event (a counter that appears at 1 loses its first increase).
        for stage in STAGES:
            self.stage_seconds.labels(stage)
        for reason in UNINSPECTABLE_REASONS:
            self.uninspectable.labels(reason)
        for decision in ("released", "release-failed", "rejected", "expired"):
            self.decisions.labels(decision)
        for result in ("sent", "failed"):
            self.notices.labels(result)

    def for_fronts(self, *fronts: str) -> GatewayMetrics:
        """Declare the tempfail series of these front ends (at 0)."""
        for front in fronts:
            for cause in ("timeout", "error", "next-hop"):
                self.tempfails.labels(front, cause)
        return self

    def inspected(self, verdict: Verdict, size: int) -> None:
        """One inspection: stage latencies, bytes, uninspectable parts."""
        for stage, seconds in verdict.timings.items():
            self.stage_seconds.labels(stage).observe(seconds)
        self.inspection_seconds.observe(verdict.elapsed_ms / 1000)
        self.bytes.inc(size)
        for f in verdict.findings:
            if f.detector == UNINSPECTABLE:
                self.uninspectable.labels(reason_category(f.detail)).inc()

    def processed(self, outcome: Outcome, size: int) -> None:
        verdict = outcome.verdict
        self.messages.labels(verdict.action.label, outcome.disposition).inc()
        for reason in verdict.reasons:
            self.rule_hits.labels(reason.rule, reason.action.label).inc()
        self.inspected(verdict, size)

    def checked(self, verdict: Verdict, size: int) -> None:
        self.api_checks.labels(verdict.action.label).inc()
        self.inspected(verdict, size)

    def decided(self, decision: str) -> None:
        self.decisions.labels(decision).inc()

    def notice(self, *, sent: bool) -> None:
        self.notices.labels("sent" if sent else "failed").inc()

    def tempfail(self, front: str, cause: str) -> None:
        self.tempfails.labels(front, cause).inc()

    def error(self, front: str, kind: str) -> None:
        self.errors.labels(front, kind).inc()


class StateCollector(Collector):
    """Gauges read when Prometheus scrapes: held messages and the oldest one's wait (one
    grouped query on the indexed ``state`` column), and each register index's age."""

    def __init__(
        self, engine: Engine, registers_dir: Path, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.registers_dir = registers_dir
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        now = self.clock()
        yield from self._quarantine(now)
        yield from self._registers(now)

    def _quarantine(self, now: float) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "postwarden_store_up", "1 when the quarantine could be read at this scrape."
        )
        items = GaugeMetricFamily(
            "postwarden_quarantine_items",
            "Quarantine items waiting: held (for a decision) or releasing (being sent).",
            labels=["state"],
        )
        oldest = GaugeMetricFamily(
            "postwarden_quarantine_oldest_seconds",
            "Seconds the oldest waiting item has been in its state's queue (0: none).",
            labels=["state"],
        )
        waiting = (State.HELD.value, State.RELEASING.value)
        stmt = (
            select(QuarantineItem.state, func.count(), func.min(QuarantineItem.created))
            .where(QuarantineItem.state.in_(waiting))
            .group_by(QuarantineItem.state)
        )
        try:
            with session_factory(self.engine)() as session:
                rows = {state: (n, first) for state, n, first in session.execute(stmt)}
        except SQLAlchemyError as exc:
            log.warning("metrics: quarantine not readable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for state in waiting:
            count, first = rows.get(state, (0, None))
            items.add_metric([state], count)
            oldest.add_metric([state], max(0.0, now - _epoch(first)) if first else 0.0)
        yield from (up, items, oldest)

    def _registers(self, now: float) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "postwarden_register_index_age_seconds",
            "Seconds since each register's index was imported.",
            labels=["register"],
        )
        for info in list_registers(self.registers_dir):
            try:
                imported = datetime.fromisoformat(info.imported_at)
            except ValueError:
                continue
            age.add_metric([info.name], max(0.0, now - _epoch(imported)))
        yield age


def _epoch(when: datetime) -> float:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def scrape_registry(metrics: GatewayMetrics, state: Collector) -> CollectorRegistry:
    """What a scrape answers: this process's metrics and ``state``; in multiprocess mode
    (``PROMETHEUS_MULTIPROC_DIR`` set) every process's metrics from that directory instead."""
    if metrics_multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = metrics.registry
    registry.register(state)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text format of a scrape (``CONTENT_TYPE_LATEST``)."""
    return generate_latest(registry)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> Callable[[], None]:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; returns its stop function."""
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


def install(gateway: Gateway, *fronts: str) -> CollectorRegistry:
    """Count ``gateway``'s events from now on; returns the registry a scrape answers."""
    metrics = GatewayMetrics().for_fronts(*fronts)
    gateway.events = metrics
    state = StateCollector(gateway.engine, gateway.settings.registers_dir)
    return scrape_registry(metrics, state)


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics`` for an ASGI app (the HTTP listener of ``serve``); no authentication,
    as the labels hold no personal data."""

    async def endpoint(_request: Request) -> Response:
        # The scrape reads the database: a worker thread keeps the loop serving.
        body = await run_in_threadpool(exposition, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return endpoint
