"""Discovery scan throughput (MB/s, files/s) over a generated tree, all cores, one register."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from tests.engine.registers.people import generate
from tests.factories import make_docx, make_pdf, make_xlsx

from postwarden.engine.registers import import_register
from postwarden.scan import run_scan, scan_items
from postwarden.settings import init_data_dir

FILES = 1_000
WORDS = "meeting agenda budget venue polling notice schedule minutes report annual".split()


def main() -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        people = generate(100_000, seed=4)
        settings = init_data_dir(base / "var", ["org.example"])
        register = base / "register.csv"
        register.write_text(people.csv_text(), encoding="utf-8")
        import_register(register, "voters", settings.registers_dir, settings.secret())
        root = base / "tree"
        for n in range(FILES):
            path = root / f"d{n % 20}" / f"f{n}"
            path.parent.mkdir(parents=True, exist_ok=True)
            prose = " ".join(rng.choice(WORDS) for _ in range(400))
            kind = n % 4
            if kind == 0:
                path.with_suffix(".docx").write_bytes(make_docx(paragraphs=[prose] * 5))
            elif kind == 1:
                rows = people.rows(("id", "name_en", "hkid", "phone"), slice(n, n + 200))
                path.with_suffix(".xlsx").write_bytes(make_xlsx({"s": rows}))
            elif kind == 2:
                path.with_suffix(".pdf").write_bytes(make_pdf([[prose[:80]]] * 3))
            else:
                path.with_suffix(".txt").write_text(prose * 10, encoding="utf-8")
        items = list(scan_items([root]))
        started = time.perf_counter()
        run = run_scan(
            items,
            limits=settings.limits,
            registers_dir=settings.registers_dir,
            secret=settings.secret(),
        )
        seconds = time.perf_counter() - started
        print(
            f"scan: {len(items)} files, {run.bytes / 1e6:.1f} MB in {seconds:.1f} s: "
            f"{run.bytes / 1e6 / seconds:.2f} MB/s, {len(items) / seconds:.0f} files/s "
            f"(register of 100,000 rows; subjects found {run.totals()})"
        )


if __name__ == "__main__":
    main()
