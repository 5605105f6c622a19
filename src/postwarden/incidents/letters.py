"""Bilingual notification letters to the living people in an incident's scope, as PDF and CSV."""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import cast

import pypdfium2 as pdfium
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, WrapMode
from fpdf.fonts import TTFFont

from postwarden.i18n import _
from postwarden.incidents.facts import IncidentFacts, data_kinds
from postwarden.incidents.fonts import FontError, FontFace, find_cjk_font, subset_font
from postwarden.incidents.scope import is_deceased

__all__ = [
    "Addressee",
    "LetterRun",
    "Selection",
    "csv_cell",
    "letter_text",
    "select_addressees",
    "write_letters",
]

# Letters per worker task: big enough that a worker loads its font rarely, small enough that
# both cores stay busy to the end.  Each batch is also one part of the merged print file.
BATCH = 250
_REFERENCE_LABEL = "Our reference 參考編號"


@dataclass(frozen=True, slots=True)
class Addressee:
    """A living person in scope, with what the clear register file says about them."""

    seq: int
    record_id: str
    name_en: str
    name_zh: str
    address_en: str
    address_zh: str
    kinds: tuple[tuple[str, str], ...]
    """(English, Chinese) labels of the kinds of their data that left."""

    @property
    def filename(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.record_id).strip("._")[:60]
        return f"letter-{self.seq:05d}-{safe or 'record'}.pdf"


@dataclass(slots=True)
class Selection:
    """The clear register joined to the scope: who gets a letter, who cannot."""

    addressees: list[Addressee] = field(default_factory=list)
    deceased: int = 0
    missing: int = 0
    """Records in scope that the clear file does not have (no letter can be addressed)."""


@dataclass(frozen=True, slots=True)
class LetterRun:
    """What ``write_letters`` produced."""

    letters: int
    deceased: int
    missing: int
    files: tuple[Path, ...]
    merged: Path
    csv: Path


def select_addressees(
    rows: Iterable[Mapping[str, str]],
    register: str,
    facts: IncidentFacts,
) -> Selection:
    """Join clear register rows (field → value, with ``id``) to the incident's scope.

    Only rows whose id is in scope for ``register`` are kept, so a letter can never go to
    someone whose data did not leave; deceased people are counted, not addressed.
    """
    scoped = facts.scope.records.get(register, {})
    selection = Selection()
    seen: set[str] = set()
    for row in rows:
        record_id = str(row.get("id", "")).strip()
        if record_id not in scoped or record_id in seen:
            continue
        seen.add(record_id)
        if is_deceased(scoped[record_id]) or is_deceased(str(row.get("status", ""))):
            selection.deceased += 1
            continue
        present = tuple(f for f in facts.fields if str(row.get(f, "")).strip())
        name = str(row.get("name", "")).strip()
        address = str(row.get("address", "")).strip()
        selection.addressees.append(
            Addressee(
                seq=len(selection.addressees) + 1,
                record_id=record_id,
                name_en=str(row.get("name_en", "")).strip() or name,
                name_zh=str(row.get("name_zh", "")).strip() or name,
                address_en=str(row.get("address_en", "")).strip() or address,
                address_zh=str(row.get("address_zh", "")).strip() or address,
                kinds=tuple(data_kinds(present or facts.fields)),
            )
        )
    selection.missing = sum(
        1 for rid, status in scoped.items() if rid not in seen and not is_deceased(status)
    )
    return selection


@dataclass(frozen=True, slots=True)
class LetterText:
    """The words of one letter, in both languages, before layout."""

    reference: str
    date_en: str
    date_zh: str
    sender_en: str
    sender_zh: str
    to_en: tuple[str, ...]
    to_zh: tuple[str, ...]
    subject: str
    greeting_en: str
    greeting_zh: str
    closing_en: str
    closing_zh: str
    english: tuple[tuple[str, str], ...]
    """(heading, paragraph) pairs."""
    chinese: tuple[tuple[str, str], ...]

    def chars(self) -> Iterator[str]:
        yield from (
            self.reference,
            self.date_en,
            self.date_zh,
            self.sender_en,
            self.sender_zh,
            self.subject,
            self.greeting_en,
            self.greeting_zh,
            self.closing_en,
            self.closing_zh,
            _REFERENCE_LABEL,
            *self.to_en,
            *self.to_zh,
        )
        for heading, text in (*self.english, *self.chinese):
            yield heading
            yield text


def _date_en(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def _date_zh(when: datetime) -> str:
    return f"{when.year}年{when.month}月{when.day}日"


def _join_en(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def letter_text(facts: IncidentFacts, person: Addressee, today: datetime) -> LetterText:
    """The letter to ``person`` about ``facts``: what happened, which of their data, what the
    office did and whom to contact."""
    org = facts.data_user or "our office"
    org_zh = facts.data_user_zh or facts.data_user or "本機構"
    ref = f"{facts.reference}/{person.record_id}"
    n = len(facts.unintended)
    confirmed = len(facts.confirmed)
    breach = facts.breach_at
    when_en = f"On {_date_en(breach)}" if breach else "Recently"
    when_zh = f"於{_date_zh(breach)}" if breach else "早前"
    happened_en = facts.summary or (
        "an email carrying a file with personal data from our records was sent to "
        f"{n or 'a'} recipient{'s' if n > 1 else ''} outside {org} who should not have "
        "received it"
    )
    happened_zh = facts.summary_zh or (
        f"一封附有本機構紀錄中個人資料檔案的電郵，被誤發予{org_zh}以外"
        f"{n or 1}名不應收到該電郵的收件人"
    )
    found_en = f" We found out on {_date_en(facts.discovered_at)}." if facts.discovered_at else ""
    found_zh = f"我們於{_date_zh(facts.discovered_at)}發現此事。" if facts.discovered_at else ""
    kinds_en = _join_en([en for en, _ in person.kinds]) if person.kinds else "personal data"
    kinds_zh = "、".join(zh for _, zh in person.kinds) if person.kinds else "個人資料"
    did_en, did_zh = [], []
    if n:
        did_en.append(
            "We asked every recipient who should not have received the email to delete it "
            "and any copies, not to forward it, and to confirm that they have done so"
            + (f"; {confirmed} of {n} have confirmed." if confirmed else ".")
        )
        did_zh.append(
            "我們已要求每名不應收到該電郵的收件人刪除該電郵及所有副本、不得轉發，並確認已照辦"
            + (f"；{n}名收件人中已有{confirmed}名確認。" if confirmed else "。")
        )
    if facts.remedial:
        did_en.append(facts.remedial)
    if facts.remedial_zh:
        did_zh.append(facts.remedial_zh)
    if facts.reached("reported"):
        did_en.append(
            "We have reported the incident to the Privacy Commissioner for Personal Data."
        )
        did_zh.append("我們已向個人資料私隱專員公署通報此事。")
    contact = facts.contact or org
    english = (
        ("What happened", f"{when_en}, {happened_en}.{found_en}"),
        (
            "Which of your data",
            f"The information that left included your {kinds_en}. "
            "It did not include any bank account or password.",
        ),
        ("What we have done", " ".join(did_en) or "We are containing the incident."),
        (
            "What you can do",
            "Please be careful with calls, messages or emails that mention "
            "your personal details and ask for money, passwords or more information. We will "
            "never ask you for a password.",
        ),
        (
            "Contact us",
            f"If you have any question, please contact {contact} and quote "
            "the reference at the top of this letter. We sincerely apologise for this incident.",
        ),
    )
    chinese = (
        ("事件經過", f"{when_zh}，{happened_zh}。{found_zh}"),
        ("涉及閣下的資料", f"外洩的資料包括閣下的{kinds_zh}，並不包括任何銀行戶口資料或密碼。"),
        ("我們已採取的措施", "".join(did_zh) or "我們正在控制事件。"),
        (
            "閣下可採取的措施",
            "如有來電、短訊或電郵提及閣下的個人資料，並要求閣下付款、提供密碼"
            "或更多資料，請提高警覺。我們絕不會要求閣下提供密碼。",
        ),
        (
            "查詢",
            f"如有任何疑問，請聯絡{contact}，並註明本信上方的參考編號。我們謹此致以由衷歉意。",
        ),
    )
    return LetterText(
        reference=ref,
        date_en=_date_en(today),
        date_zh=_date_zh(today),
        sender_en=org,
        sender_zh=org_zh,
        to_en=(person.name_en, *_lines(person.address_en)),
        to_zh=(person.name_zh, *_lines(person.address_zh)),
        subject="Notification of a personal data incident / 個人資料外洩事故通知",
        greeting_en=f"Dear {person.name_en},",
        greeting_zh=f"{person.name_zh}台鑒：",
        closing_en=f"Yours faithfully, {org}",
        closing_zh=f"{org_zh}謹啟",
        english=english,
        chinese=chinese,
    )


def _lines(address: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in address.splitlines() if part.strip())


class _Writer:
    """Writes paragraphs into an FPDF document, remembering where each paragraph breaks.

    fpdf2 re-measures a line's text for every character it adds, so breaking a paragraph
    costs quadratic time; the paragraphs of a letter are the same for nearly everyone, so the
    breaks are computed once per batch and each line is then placed with a single ``text``.
    """

    def __init__(self, cache: dict[tuple[str, float, WrapMode], list[str]]) -> None:
        self.cache = cache

    def lines(self, pdf: FPDF, text: str, size: float, height: float, wrap: WrapMode) -> None:
        pdf.set_font("cjk", size=size)
        key = (text, size, wrap)
        broken = self.cache.get(key)
        if broken is None and "\n" not in text and _fits(pdf, text):
            # Names, address lines and references differ per letter and nearly always fit
            # on one line: measuring them is a tenth of breaking them.
            broken = [text]
        if broken is None:
            lines = pdf.multi_cell(
                0, height, text, dry_run=True, wrapmode=wrap, output=MethodReturnValue.LINES
            )
            broken = self.cache[key] = [str(line) for line in cast("list[str]", lines)]
        for line in broken:
            # What ``cell(0, height, line)`` draws, at the baseline it would choose, without
            # its per-line styling machinery: half the layout time of a letter.
            if pdf.y + height > pdf.page_break_trigger:
                pdf.add_page()
            if line:
                baseline = pdf.y + 0.5 * height + 0.3 * pdf.font_size
                pdf.text(pdf.l_margin + pdf.c_margin, baseline, line)
            pdf.set_y(pdf.y + height)

    def letter(self, pdf: FPDF, text: LetterText) -> None:
        """Lay one letter out on fresh pages of ``pdf`` (font ``cjk`` already added)."""
        pdf.add_page()
        self.lines(pdf, f"{text.sender_en}  {text.sender_zh}", 14, 8, WrapMode.CHAR)
        self.lines(pdf, f"{_REFERENCE_LABEL}: {text.reference}", 9, 5, WrapMode.CHAR)
        self.lines(pdf, f"{text.date_en}  {text.date_zh}", 9, 5, WrapMode.CHAR)
        pdf.ln(4)
        seen: set[str] = set()
        for line in (*text.to_en, *text.to_zh):
            if line and line not in seen:
                seen.add(line)
                self.lines(pdf, line, 11, 5.5, WrapMode.CHAR)
        pdf.ln(4)
        self.lines(pdf, text.subject, 12, 7, WrapMode.WORD)
        pdf.ln(2)
        self.lines(pdf, text.greeting_en, 10, 5.5, WrapMode.WORD)
        for heading, body in text.english:
            self.paragraph(pdf, heading, body, WrapMode.WORD)
        pdf.ln(2)
        self.lines(pdf, text.closing_en, 10, 5.5, WrapMode.WORD)
        pdf.ln(5)
        self.lines(pdf, text.greeting_zh, 10, 5.5, WrapMode.CHAR)
        for heading, body in text.chinese:
            self.paragraph(pdf, heading, body, WrapMode.CHAR)
        pdf.ln(2)
        self.lines(pdf, text.closing_zh, 10, 5.5, WrapMode.CHAR)

    def paragraph(self, pdf: FPDF, heading: str, body: str, wrap: WrapMode) -> None:
        pdf.ln(1.5)
        self.lines(pdf, heading, 10.5, 5.5, wrap)
        self.lines(pdf, body, 9.5, 4.9, wrap)


def _fits(pdf: FPDF, text: str) -> bool:
    """Whether ``text`` fits on one line of the page at the current font, as multi_cell sees it."""
    return pdf.get_string_width(text) <= pdf.epw - 2 * pdf.c_margin


def _document(font: Path) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font("cjk", fname=str(font))
    # The font was cut and converted by fonts.subset_font, which stored every glyph's bounding
    # box; without this fpdf2's subsetter re-derives them all for each letter (60 % of its time).
    font_obj = pdf.fonts["cjk"]
    if not isinstance(font_obj, TTFFont):
        raise FontError(_("{font} is not a TrueType font").format(font=font))
    font_obj.ttfont.recalcBBoxes = False
    return pdf


@dataclass(frozen=True, slots=True)
class _Batch:
    number: int
    font: Path
    out_dir: Path
    parts_dir: Path
    texts: tuple[LetterText, ...]
    people: tuple[Addressee, ...]


def _write_batch(batch: _Batch) -> Path:
    """One worker task: each letter as its own PDF, and all of them as one part of the merge."""
    # The run's font holds the glyphs of every name and address in the run;
    # fpdf2 loads and subsets it again for each document, at a cost that grows with its
    # glyph count. Cut once more, to this batch's characters, it is a fraction of that size.
    font = subset_font(
        FontFace(batch.font),
        (c for t in batch.texts for c in t.chars()),
        batch.parts_dir / f"cjk-{batch.number:05d}.ttf",
    )
    writer = _Writer({})
    merged = _document(font)
    for text, person in zip(batch.texts, batch.people, strict=True):
        single = _document(font)
        writer.letter(single, text)
        single.output(str(batch.out_dir / person.filename))
        writer.letter(merged, text)
    part = batch.parts_dir / f"part-{batch.number:05d}.pdf"
    merged.output(str(part))
    return part


def write_letters(
    facts: IncidentFacts,
    selection: Selection,
    out_dir: Path,
    *,
    workers: int | None = None,
    today: datetime | None = None,
    font: FontFace | None = None,
) -> LetterRun:
    """Write every letter of ``selection`` to ``out_dir``: one PDF each, ``letters-all.pdf``
    for printing and ``mail-merge.csv``; work is spread over ``workers`` processes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    when = today or datetime.now().astimezone()
    people = selection.addressees
    texts = [letter_text(facts, p, when) for p in people]
    with tempfile.TemporaryDirectory(prefix="postwarden-letters-") as tmp:
        work = Path(tmp)
        cut = subset_font(
            font or find_cjk_font(),
            (c for t in texts for c in t.chars()),
            work / "cjk.otf",
        )
        batches = [
            _Batch(n, cut, out_dir, work, tuple(texts[i : i + BATCH]), tuple(people[i : i + BATCH]))
            for n, i in enumerate(range(0, len(people), BATCH))
        ]
        count = workers or os.cpu_count() or 1
        if count > 1 and len(batches) > 1:
            # Spawned, not forked: the console calls this from a thread of a server process,
            # and forking a process that runs other threads can deadlock the child.
            with ProcessPoolExecutor(
                max_workers=min(count, len(batches)), mp_context=get_context("spawn")
            ) as pool:
                parts = list(pool.map(_write_batch, batches))
        else:
            parts = [_write_batch(b) for b in batches]
        merged = out_dir / "letters-all.pdf"
        _merge(parts, merged)
    sheet = out_dir / "mail-merge.csv"
    _write_csv(sheet, people, texts)
    return LetterRun(
        letters=len(people),
        deceased=selection.deceased,
        missing=selection.missing,
        files=tuple(out_dir / p.filename for p in people),
        merged=merged,
        csv=sheet,
    )


def _merge(parts: list[Path], out: Path) -> None:
    """Concatenate the batch parts in order (pdfium copies pages without re-rendering)."""
    doc = pdfium.PdfDocument.new()
    try:
        for part in parts:
            src = pdfium.PdfDocument(str(part))
            try:
                doc.import_pages(src)
            finally:
                src.close()
        doc.save(str(out))
    finally:
        doc.close()


def _write_csv(path: Path, people: list[Addressee], texts: list[LetterText]) -> None:
    # utf-8-sig: Excel, the usual mail-merge tool, reads Chinese correctly only with the BOM.
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "seq",
                "record_id",
                "reference",
                "name_en",
                "name_zh",
                "address_en",
                "address_zh",
                "data_en",
                "data_zh",
                "letter_file",
            ]
        )
        for person, text in zip(people, texts, strict=True):
            out.writerow(
                [
                    person.seq,
                    *map(
                        csv_cell,
                        (
                            person.record_id,
                            text.reference,
                            person.name_en,
                            person.name_zh,
                            person.address_en,
                            person.address_zh,
                            "; ".join(en for en, _ in person.kinds),
                            "、".join(zh for _, zh in person.kinds),
                            person.filename,
                        ),
                    ),
                ]
            )


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV Injection"):
# the register's clear values are whatever a clerk typed, so an address "=HYPERLINK(...)"
# must reach the mail merge as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it verbatim: a leading formula character is quoted."""
    return "'" + value if value.startswith(_FORMULA_START) else value
