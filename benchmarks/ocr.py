"""OCR seconds per page: a phone photo of a filled bilingual reply slip (JPEG) and the
pages of a scanned register printout (image-only pdf, A4 at 200 dpi, 35 rows a page), read
through the whole extraction (decode or render, grayscale, scale, deskew, Tesseract).

Wall time, warm (the Tesseract engine is loaded once first; the load is reported apart), and
CPU time of this process (Tesseract runs in it through tesserocr).
"""

from __future__ import annotations

import statistics
import time

from tests.engine.registers.people import generate
from tests.factories import make_eml
from tests.scans import image_pdf, photographed, register_pages, reply_slip, scanned

from postwarden.engine.extract import extract
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits

_LIMITS = Limits()
RUNS = 5


def _mail(name: str, data: bytes, ctype: str) -> bytes:
    return make_eml(
        sender="clerk@org.example",
        to=["ann@example.com"],
        subject="scan",
        body="attached",
        attachments=[(name, data, ctype)],
    )


def _timed(raw: bytes) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    extraction = extract(parse_message(raw, None, _LIMITS), _LIMITS, time.monotonic() + 600)
    pages = len(extraction.ocr)
    return time.perf_counter() - wall, time.process_time() - cpu, pages


def main() -> None:
    people = generate(200, seed=11)
    name_en, name_zh, hkid, phone, email = people.rows(
        ("name_en", "name_zh", "hkid", "phone", "email"), [0]
    )[0]
    slip = _mail(
        "slip.jpg",
        photographed(reply_slip(name_en, name_zh, hkid, phone, email), angle=3.5, seed=1),
        "image/jpeg",
    )
    rows = [
        (zh, en, h, f"{p[:4]} {p[4:]}")
        for zh, en, h, p in people.rows(("name_zh", "name_en", "hkid", "phone"), slice(0, 105))
    ]
    pages = [
        scanned(page, angle=angle, seed=n)
        for n, (page, angle) in enumerate(
            zip(register_pages(rows, 35), (1.5, -2.0, 0.7), strict=True)
        )
    ]
    scan = _mail("scan.pdf", image_pdf(pages), "application/pdf")

    started = time.perf_counter()
    _timed(slip)
    print(f"  first image (loads the Tesseract engine): {time.perf_counter() - started:.2f} s")
    for label, raw in (
        ("phone photo of a reply slip, 1,300 x 1,100 JPEG", slip),
        ("scanned register page, A4 200 dpi in an image-only pdf", scan),
    ):
        walls, cpus = [], []
        for _ in range(RUNS):
            wall, cpu, n = _timed(raw)
            walls.append(wall / n)
            cpus.append(cpu / n)
        print(
            f"  {label}: median {statistics.median(walls):.2f} s per page wall, "
            f"{statistics.median(cpus):.2f} s CPU (best {min(walls):.2f} s; {RUNS} runs)"
        )
