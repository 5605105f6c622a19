"""Precision and recall of each detector on the labelled real Hong Kong text in the repo.

The texts and their hand-made labels are in ``tests/data/realtext/`` (see SOURCE.md there).
A finding counts as right when it overlaps a label of its detector; a label counts as found
when a finding of its detector overlaps it.  Each line is one unit (a paragraph of a mail
body); a line with ``|`` between cells is a table row under the file's first line as header.
"""

from __future__ import annotations

import json
import lzma
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from postwarden.engine import Inspector
from postwarden.engine.detect import DetectorSet, default_detectors
from postwarden.model import Action, Envelope, TextUnit

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "realtext"
KINDS = ("hkid", "phone", "name_zh", "name_en", "address_en", "address_zh")
CORPUS = DATA / "spamassassin-ham.mbox.xz"
ORG = "reo.gov.hk"
PARTNER = "partner.org.hk"


@dataclass(frozen=True, slots=True)
class Label:
    file: str
    detector: str
    start: int
    end: int
    value: str


@dataclass(slots=True)
class Score:
    """One detector's counts: findings right and wrong, labels found and missed."""

    true_positives: int = 0
    false_positives: int = 0
    found: int = 0
    missed: int = 0

    @property
    def precision(self) -> float:
        total = self.true_positives + self.false_positives
        return self.true_positives / total if total else 1.0

    @property
    def recall(self) -> float:
        total = self.found + self.missed
        return self.found / total if total else 1.0


def labels() -> list[Label]:
    with (DATA / "labels.jsonl").open(encoding="utf-8") as f:
        return [Label(**json.loads(line)) for line in f if line.strip()]


def units(file: str) -> list[tuple[int, TextUnit]]:
    """The file's lines as units, each with its offset in the file."""
    text = (DATA / file).read_text(encoding="utf-8")
    out: list[tuple[int, TextUnit]] = []
    header: tuple[str, ...] | None = None
    offset = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        if body.strip():
            cells = tuple(c.strip() for c in body.split("|")) if " | " in body else None
            if cells is not None and header is None:
                header = cells
            unit = TextUnit(body, f"{file}#{offset}", cells, header if cells else None)
            out.append((offset, unit))
        offset += len(line)
    return out


def evaluate(
    detectors: DetectorSet | None = None,
) -> tuple[dict[str, Score], dict[str, list[tuple[str, str]]]]:
    """Score per detector, and the wrong findings and missed labels (file, value) per detector."""
    detectors = detectors or default_detectors()
    wanted = labels()
    files = sorted({p.name for p in DATA.glob("*.txt")})
    by_file: dict[str, list[Label]] = defaultdict(list)
    for label in wanted:
        by_file[label.file].append(label)
    scores = {k: Score() for k in KINDS}
    errors: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for file in files:
        placed = units(file)
        findings = detectors.scan([u for _, u in placed])
        offsets = {u.where: o for o, u in placed}
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for f in findings:
            if f.detector in scores:
                at = offsets[f.where]
                spans[f.detector].append((at + f.start, at + f.end))
                if any(
                    lab.detector == f.detector and lab.start < at + f.end and at + f.start < lab.end
                    for lab in by_file[file]
                ):
                    scores[f.detector].true_positives += 1
                else:
                    scores[f.detector].false_positives += 1
                    errors[f.detector].append((file, f"wrong: {f.value}"))
        for lab in by_file[file]:
            if any(s < lab.end and lab.start < e for s, e in spans[lab.detector]):
                scores[lab.detector].found += 1
            else:
                scores[lab.detector].missed += 1
                errors[lab.detector].append((file, f"missed: {lab.value}"))
    return scores, errors


def mails() -> list[tuple[str, bytes]]:
    """The real mails of the benign corpus: (corpus file name, raw message)."""
    raw = lzma.decompress(CORPUS.read_bytes())
    out: list[tuple[str, bytes]] = []
    for chunk in re.split(rb"\n\n(?=From )", raw):
        body = chunk.split(b"\n", 1)[1]
        name = re.search(rb"^X-Corpus-File: (\S+)", body, re.M)
        if name is None:
            raise ValueError("a message of the corpus has no X-Corpus-File header")
        # mboxrd: one ">" less on every quoted "From " line.
        body = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
        out.append((name.group(1).decode(), body))
    return out


def check_mails() -> tuple[int, Counter[str], dict[str, list[str]]]:
    """Every real mail checked as sent by an officer to a partner: how many, the findings
    per detector, and the mails held or rejected with the rules that stopped them."""
    messages = mails()
    inspector = Inspector(org_domains=(ORG,), partner_domains=(PARTNER,))
    envelope = Envelope(sender=f"officer@{ORG}", recipients=(f"desk@{PARTNER}",))
    found: Counter[str] = Counter()
    stopped: dict[str, list[str]] = {}
    for name, raw in messages:
        verdict = inspector.check(raw, envelope)
        found.update(f.detector for f in verdict.findings)
        if verdict.action >= Action.HOLD:
            stopped[name] = [r.rule for r in verdict.reasons if r.action >= Action.HOLD]
    return len(messages), found, stopped


def main() -> None:
    started = time.process_time()
    scores, _ = evaluate()
    elapsed = time.process_time() - started
    count: Counter[str] = Counter()
    for label in labels():
        count[label.detector] += 1
    for kind, s in scores.items():
        print(
            f"realtext: {kind:<10} precision {s.precision:5.3f} ({s.true_positives}/"
            f"{s.true_positives + s.false_positives})  recall {s.recall:5.3f} "
            f"({s.found}/{count[kind]} labels)"
        )
    print(f"realtext: scored in {elapsed:.2f} s cpu")
    total, found, stopped = check_mails()
    counts = ", ".join(f"{k} {found[k]}" for k in ("phone", "hkid", *KINDS[2:], "dob"))
    print(f"realtext: {total} real mails: findings {counts}")
    print(f"realtext: {total} real mails: {len(stopped)} held or rejected {sorted(stopped)}")
