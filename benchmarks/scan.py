"""Discovery scan throughput (MB/s, files/s) over a generated tree with one register:
1 and 2 worker processes on this machine, and a local Dask cluster of 2 worker processes."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from tests.engine.registers.people import generate
from tests.factories import make_docx, make_pdf, make_xlsx

from postwarden.engine.registers import import_register
from postwarden.scan import ScanItem, run_scan, scan_items
from postwarden.settings import Settings, init_data_dir

FILES = 1_000
WORDS = "meeting agenda budget venue polling notice schedule minutes report annual".split()


def _tree(root: Path, settings: Settings) -> None:
    rng = random.Random(1)
    people = generate(100_000, seed=4)
    register = root.parent / "register.csv"
    register.write_text(people.csv_text(), encoding="utf-8")
    import_register(register, "voters", settings.registers_dir, settings.secret())
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


def _report(label: str, items: list[ScanItem], seconds: float, subjects: object) -> float:
    size = sum(i.size for i in items) / 1e6
    print(
        f"scan, {label}: {len(items)} files, {size:.1f} MB in {seconds:.1f} s: "
        f"{size / seconds:.2f} MB/s, {len(items) / seconds:.0f} files/s (subjects {subjects})"
    )
    return size / seconds


def main() -> None:
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = init_data_dir(base / "var", ["org.example"])
        root = base / "tree"
        _tree(root, settings)
        items = list(scan_items([root]))
        limits, registers, secret = settings.limits, settings.registers_dir, settings.secret()
        rates = {}
        for workers in (1, 2):
            started = time.perf_counter()
            run = run_scan(
                items, limits=limits, registers_dir=registers, secret=secret, workers=workers
            )
            seconds = time.perf_counter() - started
            rates[workers] = _report(f"{workers} worker(s)", items, seconds, run.totals())
        print(f"scan: 2 workers / 1 worker = {rates[2] / rates[1]:.2f}")
        with LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            started = time.perf_counter()
            run = run_scan(
                items,
                limits=limits,
                registers_dir=registers,
                secret=secret,
                scheduler=cluster.scheduler_address,
                data_dir=settings.data_dir,
            )
            seconds = time.perf_counter() - started
            _report("local Dask cluster, 2 workers", items, seconds, run.totals())


if __name__ == "__main__":
    main()
