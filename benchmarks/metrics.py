"""Metrics cost: what counting one message adds, and what a scrape costs with a large
quarantine (``POSTWARDEN_BENCH_QUARANTINE_ROWS`` rows, 2 % held; SQLite).

``python -m benchmarks metrics``
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from postwarden.act import Outcome
from postwarden.metrics import GatewayMetrics, StateCollector, exposition, scrape_registry
from postwarden.model import Action, Finding, Reason, SmtpReply, Verdict
from postwarden.settings import init_data_dir
from postwarden.store.db import make_engine, migrate
from postwarden.store.quarantine import QuarantineItem

ROWS = int(os.environ.get("POSTWARDEN_BENCH_QUARANTINE_ROWS", "200000"))
MESSAGES = 20_000
SCRAPES = 20


def main() -> None:
    metrics = GatewayMetrics().for_fronts("relay")
    verdict = Verdict(
        action=Action.HOLD,
        reasons=[Reason(rule="hkid-outside", message="held", action=Action.HOLD)],
        findings=[Finding(detector="hkid", where="body")] * 50,
        timings=dict.fromkeys(("parse", "extract", "detect", "registers", "policy"), 0.001),
        elapsed_ms=5.0,
    )
    outcome = Outcome("quarantined", verdict, "Q", SmtpReply(250, "2.0.0", "held"))
    started = time.perf_counter()
    for _ in range(MESSAGES):
        metrics.processed(outcome, 5_000)
    per = (time.perf_counter() - started) / MESSAGES * 1e6
    print(f"counting one message (50 findings): {per:.1f} µs")

    with tempfile.TemporaryDirectory() as tmp:
        settings = init_data_dir(Path(tmp) / "data", ["demo.gov.hk"])
        migrate(settings.db_url)
        engine = make_engine(settings.db_url)
        rng = random.Random(7)
        now = datetime.now(UTC)
        states = ["held"] * 2 + ["released"] * 60 + ["rejected"] * 30 + ["expired"] * 8
        rows = [
            {
                "id": f"Q{i:08d}",
                "created": now - timedelta(minutes=rng.randint(0, 100_000)),
                "sender": "a@demo.gov.hk",
                "recipients": ["b@partner.example"],
                "action": "hold",
                "reasons": [],
                "subjects": {},
                "size": 1,
                "content_sha256": "0" * 64,
                "state": rng.choice(states),
                "key_id": "k",
                "wrapped_key": b"x",
            }
            for i in range(ROWS)
        ]
        with engine.begin() as conn:
            conn.execute(insert(QuarantineItem), rows)
        registry = scrape_registry(metrics, StateCollector(engine, settings.registers_dir))
        started = time.perf_counter()
        for _ in range(SCRAPES):
            body = exposition(registry)
        per = (time.perf_counter() - started) / SCRAPES * 1000
        print(f"one scrape, {ROWS:,} quarantine rows: {per:.1f} ms ({len(body):,} bytes)")
        engine.dispose()
