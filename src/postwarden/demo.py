"""Demo data for ``make run``: a register of made-up people, a sent-mail history, samples.

Run as ``python -m postwarden.demo --data-dir DIR`` on an initialised data dir; it does
nothing when the demo register already exists.  Every person here is invented (HKIDs carry
valid check digits so the detectors and the register both recognise them).
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from postwarden.engine.detect.hkid import hkid_check_digit
from postwarden.engine.registers import import_register, list_registers
from postwarden.settings import Settings, load_settings, resolve_data_dir
from postwarden.store import history
from postwarden.store.db import open_database

__all__ = ["DEMO_REGISTER", "DemoSummary", "Person", "demo_people", "main", "seed_demo"]

DEMO_REGISTER = "demo-voters"
ORG = "demo.gov.hk"
PARTNER = "partner.org.hk"

_SURNAMES = [
    ("陳", "CHAN"),
    ("黃", "WONG"),
    ("李", "LEE"),
    ("張", "CHEUNG"),
    ("劉", "LAU"),
    ("林", "LAM"),
    ("何", "HO"),
    ("梁", "LEUNG"),
]
_GIVEN = [
    ("大文", "Tai Man"),
    ("小明", "Siu Ming"),
    ("嘉欣", "Ka Yan"),
    ("志強", "Chi Keung"),
    ("美玲", "Mei Ling"),
    ("家豪", "Ka Ho"),
    ("詠詩", "Wing Sze"),
    ("俊傑", "Chun Kit"),
]
_ESTATES = [
    ("Shek Kip Mei", "Sham Shui Po"),
    ("Choi Hung", "Wong Tai Sin"),
    ("Wah Fu", "Southern"),
    ("Sha Tin Wai", "Sha Tin"),
    ("Lek Yuen", "Sha Tin"),
]
_CONTACTS = [
    f"john.tse@{PARTNER}",
    f"mary.ho@{PARTNER}",
    f"registry@{PARTNER}",
    "clinic@wellness.example.hk",
    "bookings@venue.example.hk",
    f"bob@{ORG}",
    f"carol@{ORG}",
]
_SENDERS = [f"alice@{ORG}", f"bob@{ORG}", f"carol@{ORG}"]


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name_en: str
    name_zh: str
    hkid: str
    phone: str
    email: str
    address_en: str
    status: str


@dataclass(frozen=True, slots=True)
class DemoSummary:
    register_rows: int
    history_messages: int
    samples: Path


def demo_people(count: int = 200, seed: int = 2024) -> list[Person]:
    """The same made-up people every time (a seeded generator)."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not a secret
    people = []
    for n in range(count):
        (zh_s, en_s), (zh_g, en_g) = rng.choice(_SURNAMES), rng.choice(_GIVEN)
        prefix = rng.choice("ACDEGKPRVYZ")
        digits = f"{rng.randrange(10**6):06d}"
        estate, district = rng.choice(_ESTATES)
        people.append(
            Person(
                id=f"V{n + 1:05d}",
                name_en=f"{en_s} {en_g}",
                name_zh=f"{zh_s}{zh_g}",
                hkid=f"{prefix}{digits}({hkid_check_digit(prefix, digits)})",
                phone=f"9{rng.randrange(10**7):07d}",
                email=f"{en_s.lower()}.{en_g.replace(' ', '').lower()}{n}@mail.example.hk",
                address_en=f"Flat {rng.randrange(1, 30)}, {rng.randrange(1, 40)}/F, "
                f"{estate} Estate, {district}",
                status="deceased" if n % 25 == 0 else "active",
            )
        )
    return people


def seed_demo(settings: Settings, now: datetime | None = None) -> DemoSummary | None:
    """Import the demo register, record a sent-mail history and write sample messages;
    ``None`` when the demo register is already there."""
    if any(info.name == DEMO_REGISTER for info in list_registers(settings.registers_dir)):
        return None
    people = demo_people()
    rows = _import_register(settings, people)
    sent = _record_history(settings, now or datetime.now(UTC))
    samples = settings.data_dir / "demo"
    _write_samples(samples, people)
    return DemoSummary(rows, sent, samples)


def _import_register(settings: Settings, people: list[Person]) -> int:
    # The clear file lives only in a private temp dir for the import (registers keep hashes).
    tmp = Path(tempfile.mkdtemp(dir=settings.data_dir, prefix=".demo-"))
    try:
        path = tmp / "voters.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(Person.__slots__)
            for p in people:
                writer.writerow([getattr(p, f) for f in Person.__slots__])
        result = import_register(path, DEMO_REGISTER, settings.registers_dir, settings.secret())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result.info.rows


def _record_history(settings: Settings, now: datetime) -> int:
    rng = random.Random(7)  # noqa: S311 - demo data
    deliveries = [
        history.Delivery(
            sender=rng.choice(_SENDERS),
            recipients=(rng.choice(_CONTACTS),),
            when=now - timedelta(days=rng.randrange(1, 180), minutes=rng.randrange(1440)),
        )
        for _ in range(300)
    ]
    db = open_database(settings.db_url)
    try:
        with db.session() as session:
            counted = history.record_deliveries(session, deliveries)
            session.commit()
    finally:
        db.engine.dispose()
    return counted


def _write_samples(directory: Path, people: list[Person]) -> None:
    """Three messages to try: one that goes, one that is refused, one that is held."""
    directory.mkdir(exist_ok=True)
    rows = "\n".join(f"{p.name_en},{p.hkid},{p.phone}" for p in people[:12])
    samples = {
        "clean.eml": (f"john.tse@{PARTNER}", "Meeting on Friday", "See you at 10:00.", None),
        "webmail.eml": (
            "my.own.account@gmail.com",
            "Work to finish at home",
            "Forwarding the file list to myself.",
            None,
        ),
        "register.eml": (
            f"registry@{PARTNER}",
            "Applicants for review",
            "List attached.",
            f"name,hkid,phone\n{rows}\n",
        ),
    }
    for name, (to, subject, body, attachment) in samples.items():
        msg = EmailMessage()
        msg["From"] = f"Alice <alice@{ORG}>"
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        if attachment is not None:
            msg.add_attachment(
                attachment.encode(), maintype="text", subtype="csv", filename="applicants.csv"
            )
        # CRLF line ends, as mail is on the wire: smtplib sends bytes as they are, and a
        # bare-LF file is one over-long line to an SMTP server ("500 Line too long").
        (directory / name).write_bytes(msg.as_bytes(policy=SMTP))


def main(argv: list[str] | None = None) -> None:
    """``python -m postwarden.demo [--data-dir DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m postwarden.demo", description=__doc__)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    settings = load_settings(resolve_data_dir(args.data_dir))
    summary = seed_demo(settings)
    if summary is None:
        print(f"demo data already in {settings.data_dir}")
        return
    print(
        f"demo register {DEMO_REGISTER!r}: {summary.register_rows} made-up people; "
        f"history: {summary.history_messages} sent messages; samples in {summary.samples}"
    )


if __name__ == "__main__":
    main()
