"""Registers at scale: a 4.5-million-row register imported, shared and matched.

Reports import time (target <= 3 min), peak memory of the import (<= 1.5 GB), index size
on disk (<= 500 MB), private memory (USS) of each of two processes using the index at once
(<= 150 MB) and ``check`` of a 15,070-row xlsx against it (<= 1.0 s).  The register is
generated into a temporary directory and removed afterwards; ``POSTWARDEN_BENCH_REGISTER_ROWS``
scales it down.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROWS = int(os.environ.get("POSTWARDEN_BENCH_REGISTER_ROWS", "4500000"))
LEAK_ROWS = 15_070
SLICE = 500_000
DATA = Path(__file__).parent / "data"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_IMPORT = """
import sys
from pathlib import Path
from postwarden.engine.registers import import_register
from postwarden.settings import load_settings
s = load_settings(Path(sys.argv[1]))
import_register(Path(sys.argv[2]), "voters", s.registers_dir, s.secret())
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        print(int(line.split()[1]) // 1024)
"""

_GENERATE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from benchmarks.registers import _generate
print(round(_generate(Path(sys.argv[2])), 1))
"""

_HOLDER = """
import sys
from pathlib import Path
from postwarden.engine import Inspector
from postwarden.engine.registers import RegisterSet
from postwarden.settings import load_settings
s = load_settings(Path(sys.argv[1]))
inspector = Inspector(registers=RegisterSet(s.registers_dir, s.secret()))
report = inspector.inspect(Path(sys.argv[2]).read_bytes())
print(report.verdict.subjects["voters"], flush=True)
sys.stdin.readline()
"""


def _tests_on_path() -> None:
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)


def _generate(path: Path) -> float:
    """Write the register csv a slice at a time; returns seconds taken."""
    _tests_on_path()
    from tests.engine.registers.people import generate

    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, ROWS, SLICE):
            people = generate(min(SLICE, ROWS - start), seed=1, start=start, total=ROWS)
            out.write(people.csv_text(header=start == 0))
    return time.perf_counter() - started


def _leak(path: Path) -> None:
    """A message carrying a 15,070-row xlsx of registered people (from the first slice)."""
    _tests_on_path()
    from tests.engine.registers.people import People, generate
    from tests.factories import make_eml, make_xlsx

    people = generate(min(SLICE, ROWS), seed=1, start=0, total=ROWS)
    idx = np.random.default_rng(2).choice(
        len(people), size=min(LEAK_ROWS, len(people)), replace=False
    )
    sheet = [list(People.COLUMNS), *people.rows(People.COLUMNS, idx)]
    path.write_bytes(
        make_eml(
            sender="clerk@reo.gov.hk",
            to=["someone@example.com"],
            subject="list",
            body="Please see attached.",
            attachments=[("voters.xlsx", make_xlsx({"Sheet1": sheet}), XLSX)],
        )
    )


def _import(data_dir: Path, source: Path) -> tuple[float, float, float]:
    """Import in a child process: (seconds, peak RSS MiB from its rusage, from its VmHWM).

    ru_maxrss of a child also counts what its parent held at fork time, so the child reports
    its own high-water mark too; this process stays small (the csv is made by another).
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", _IMPORT, str(data_dir), str(source)], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    hwm = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "import failed"
    return time.perf_counter() - started, usage.ru_maxrss / 1024, float(hwm.strip() or 0)


def _two_holders(data_dir: Path, message: Path) -> list[tuple[float, float, str]]:
    """Two processes with the index open that each checked the leak: (USS, RSS) MiB."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(data_dir), str(message)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        answers = [p.stdout.readline().strip() if p.stdout else "" for p in procs]
        out = []
        for p, answer in zip(procs, answers, strict=True):
            info = psutil.Process(p.pid).memory_full_info()
            out.append((info.uss / 2**20, info.rss / 2**20, answer))
        return out
    finally:
        for p in procs:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=60)


def _check(data_dir: Path, message: Path) -> tuple[float, float, int]:
    """Best of three in-process checks of the leak: (seconds, register matching, subjects)."""
    from postwarden.engine import Inspector
    from postwarden.engine.registers import RegisterSet
    from postwarden.settings import load_settings

    settings = load_settings(data_dir)
    registers = RegisterSet(settings.registers_dir, settings.secret())
    inspector = Inspector(registers=registers)
    raw = message.read_bytes()
    best, best_match, subjects = float("inf"), float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        report = inspector.inspect(raw)
        best = min(best, time.perf_counter() - started)
        started = time.perf_counter()
        registers.match(report.extraction.units, report.verdict.findings)
        best_match = min(best_match, time.perf_counter() - started)
        subjects = report.verdict.subjects["voters"]
    return best, best_match, subjects


def main() -> None:
    from postwarden.settings import init_data_dir

    DATA.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="registers-", dir=DATA))
    try:
        source = work / "voters.csv"
        root = str(Path(__file__).resolve().parent.parent)
        made = subprocess.run(
            [sys.executable, "-c", _GENERATE, root, str(source)],
            capture_output=True,
            text=True,
            check=True,
        )
        size = source.stat().st_size / 2**20
        print(f"generate {ROWS:,} rows: {made.stdout.strip()} s, csv {size:.0f} MiB")
        data_dir = work / "var"
        init_data_dir(data_dir, ["reo.gov.hk"])
        seconds, peak, hwm = _import(data_dir, source)
        print(
            f"import: {seconds:.1f} s (target <= 180 s), peak memory {hwm:.0f} MiB VmHWM, "
            f"{peak:.0f} MiB ru_maxrss (target <= 1536 MiB)"
        )
        source.unlink()
        index = data_dir / "registers"
        size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
        print(f"index on disk: {size / 2**20:.0f} MiB (target <= 500 MiB)")
        message = work / "leak.eml"
        _leak(message)
        for n, (uss, rss, answer) in enumerate(_two_holders(data_dir, message), 1):
            print(
                f"process {n} of 2 with the index open: USS {uss:.0f} MiB, RSS {rss:.0f} MiB "
                f"(target USS <= 150 MiB), found {answer}"
            )
        seconds, matching, subjects = _check(data_dir, message)
        print(
            f"check of a {LEAK_ROWS:,}-row xlsx: {seconds:.2f} s (target <= 1.0 s), of which "
            f"register matching {matching:.2f} s; subjects {subjects:,}"
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"(benchmark process peak RSS {usage.ru_maxrss / 1024:.0f} MiB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
