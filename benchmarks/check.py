"""``check`` latency, warm and in-process: a typical 50 KB message against a 4.5-million-row
register and a history of 100,000 sent messages.  Targets: p50 <= 20 ms, p99 <= 100 ms.

The register is generated with the registers tests' generator and imported once into
``benchmarks/data/check/`` (kept between runs); ``POSTWARDEN_BENCH_ROWS`` scales it down.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from postwarden.engine.registers import import_register, list_registers
from postwarden.inspection import build_inspector
from postwarden.settings import Settings, init_data_dir, load_settings
from postwarden.store.db import make_engine, migrate
from postwarden.store.history import Delivery, record_deliveries

ROWS = int(os.environ.get("POSTWARDEN_BENCH_ROWS", "4500000"))
SENT_MESSAGES = 100_000
RUNS = 300
DATA = Path(__file__).parent / "data" / "check"
ORG = "reo.gov.hk"


def _tests_on_path() -> None:
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)


def _settings() -> Settings:
    data_dir = DATA / f"rows-{ROWS}"
    if (data_dir / "settings.json").exists():
        return load_settings(data_dir)
    return init_data_dir(data_dir, [ORG], ["eac.gov.hk"])


def _register(settings: Settings) -> None:
    if any(info.name == "voters" for info in list_registers(settings.registers_dir)):
        return
    _tests_on_path()
    from tests.engine.registers.people import generate

    started = time.monotonic()
    people = generate(ROWS)
    csv_path = settings.data_dir / "voters.csv"
    csv_path.write_text(people.csv_text(), encoding="utf-8")
    import_register(csv_path, "voters", settings.registers_dir, settings.secret())
    csv_path.unlink()
    print(
        f"  register of {ROWS:,} rows generated and imported in "
        f"{time.monotonic() - started:.0f} s (once; kept in {settings.data_dir})"
    )


def _history(settings: Settings) -> None:
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    with Session(engine) as session:
        if session.execute(_count_sql()).scalar():
            engine.dispose()
            return
        rng = random.Random(5)
        pool = [f"contact{i}@firm{i % 2000}.com.hk" for i in range(20_000)]
        staff = [f"officer{i}@{ORG}" for i in range(300)]
        start = datetime(2023, 1, 1, tzinfo=UTC)
        deliveries = [
            Delivery(
                sender=rng.choice(staff),
                recipients=tuple(rng.sample(pool, rng.randint(1, 3))),
                when=start + timedelta(minutes=5 * i),
            )
            for i in range(SENT_MESSAGES)
        ]
        record_deliveries(session, deliveries)
        session.commit()
    engine.dispose()


def _count_sql() -> object:
    from sqlalchemy import func, select

    from postwarden.store.history import HistoryContact

    return select(func.count()).select_from(HistoryContact)


def _message() -> bytes:
    """About 50 KB: a letter with a signature, its HTML twin, and a docx of minutes."""
    _tests_on_path()
    from tests.factories import make_docx, make_eml

    rng = random.Random(11)
    words = (
        "the committee meeting report budget schedule venue polling station training "
        "please review attached minutes district council arrangement update"
    ).split()
    paragraphs = [" ".join(rng.choice(words) for _ in range(110)) for _ in range(8)]
    body = (
        "Dear Mr Lau,\n\n"
        + "\n\n".join(paragraphs)
        + ("\n\nRegards,\nCHAN Tai Man\nExecutive Officer\nTel: 2891 1001  Fax: 2891 1533\n")
    )
    html = "<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>"
    docx = make_docx(
        paragraphs[:6],
        tables=[[["item", "owner", "due"]] + [[f"item {k}", "REO", "Friday"] for k in range(30)]],
    )
    return make_eml(
        sender=f"CHAN Tai Man <officer1@{ORG}>",
        to=["contact1@firm1.com.hk", "contact2@firm2.com.hk"],
        cc=["someone.new@newfirm.com.hk"],
        subject="Minutes of the venue meeting",
        body=body,
        html=html,
        attachments=[
            (
                "minutes.docx",
                docx,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            )
        ],
    )


def main() -> None:
    settings = _settings()
    _register(settings)
    _history(settings)
    started = time.monotonic()
    inspector = build_inspector(settings)
    print(
        f"  inspector built in {1000 * (time.monotonic() - started):.0f} ms "
        f"(policy, history view of {SENT_MESSAGES:,} sent messages, registers)"
    )
    raw = _message()
    for _ in range(20):
        inspector.check(raw)
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        verdict = inspector.check(raw)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99) - 1]
    print(
        f"  check of a {len(raw) / 1024:.0f} KB message ({verdict.action.label}), "
        f"register {ROWS:,} rows, history {SENT_MESSAGES:,} sent: "
        f"p50 {p50:.1f} ms (target <= 20), p99 {p99:.1f} ms (target <= 100), {RUNS} runs"
    )


if __name__ == "__main__":
    main()
