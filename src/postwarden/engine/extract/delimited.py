"""csv and tsv: sniffed encoding and dialect, one unit per record with its cells and, when
the first record looks like a heading, the column headings."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.text import decode

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_DELIMITERS = ",\t;|"
# Budget checks every this many rows: cheap enough, and a 120 s deadline is never overrun by
# more than a fraction of a second.
_CHECK_EVERY = 4096


class _Dialect(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = False


class _Tabs(_Dialect):
    delimiter = "\t"


def _dialect(sample: str, where: str) -> type[csv.Dialect]:
    if where.lower().endswith((".tsv", ".tab")) and "\t" in sample:
        return _Tabs  # the name breaks the tie when tabs and commas are equally regular
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    if len(lines) > 2:
        lines = lines[:-1]  # the sample may end mid-line
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS)
    except csv.Error:
        # Sniffer gives up on one-column or ragged files: take the delimiter seen most.
        counts = {d: sample.count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.__getitem__)

        class Guessed(_Dialect):
            delimiter = best if counts[best] else ","

        return Guessed


class CsvExtractor:
    """Delimited text: ``#R<n>`` units, n the 1-based record number (a heading is R1)."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        text = decode(data)
        reader = csv.reader(io.StringIO(text, newline=""), _dialect(text[:16384], where))
        budget = walker.budget
        add = walker.add
        number = 0
        header: tuple[str, ...] | None = None
        first = True
        try:
            for number, row in enumerate(reader, start=1):
                if number % _CHECK_EVERY == 0:
                    budget.check_time()
                cells = tuple([c.strip() for c in row])
                if any(cells):
                    if first:
                        first = False
                        header = heading(cells)
                    add(" | ".join(cells), f"{where}#R{number}", cells, header)
        except csv.Error as exc:
            # A field over the csv module's size limit, or a NUL: the rest is still text.
            walker.defects.append(f"{where}: csv unreadable after record {number}: {exc}")
            rest = text.splitlines()[max(reader.line_num - 1, 0) :]
            add("\n".join(rest), f"{where}#R{number + 1}")
