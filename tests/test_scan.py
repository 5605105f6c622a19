"""Discovery scan over a generated tree: exactly the planted register extracts are reported."""

from __future__ import annotations

import io
import json
import mailbox
import os
import random
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.engine.registers.people import People, generate
from tests.factories import make_docx, make_eml, make_pdf, make_xlsx
from typer.testing import CliRunner

from postwarden.cli import app
from postwarden.engine.registers import import_register
from postwarden.scan import ScanResult, run_scan, scan_items
from postwarden.settings import Settings, init_data_dir, load_settings

COLUMNS = ("id", "name_en", "hkid", "address_en", "phone")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORDS = (
    "meeting agenda budget venue polling station notice schedule minutes report "
    "annual review committee procurement training district office"
).split()


def _csv(people: People, idx: slice) -> bytes:
    rows = [",".join(COLUMNS)] + [",".join(f'"{c}"' for c in r) for r in people.rows(COLUMNS, idx)]
    return ("\n".join(rows) + "\n").encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _prose(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """A data dir with a register, and a tree of 2,000 files with four planted extracts."""
    base = tmp_path_factory.mktemp("scan")
    rng = random.Random(5)
    people = generate(2_000, seed=21)
    strangers = generate(300, seed=99)  # same shape, not in the register
    data_dir = base / "var"
    settings = init_data_dir(data_dir, ["reo.gov.hk"])
    register = base / "voters.csv"
    register.write_text(people.csv_text(), encoding="utf-8")
    import_register(register, "voters", settings.registers_dir, settings.secret())
    root = base / "share"
    files = 0
    planted: dict[str, int] = {}

    def put(rel: str, data: bytes) -> Path:
        nonlocal files
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files += 1
        return path

    planted[str(put("finance/2024/export.csv", _csv(people, slice(0, 120))))] = 120
    sheet = make_xlsx({"list": [list(COLUMNS), *people.rows(COLUMNS, slice(500, 545))]})
    planted[str(put("archive/old.zip", _zip({"x/voters.xlsx": sheet, "readme.txt": b"hi"})))] = 45
    table = make_docx(
        paragraphs=["Reply slips"], tables=[[list(COLUMNS), *people.rows(COLUMNS, slice(900, 930))]]
    )
    (root / "mail").mkdir(parents=True)
    box = mailbox.mbox(str(root / "mail" / "sent.mbox"), create=True)
    for n in range(40):
        attachments = (
            [
                (
                    "slips.docx",
                    table,
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                )
            ]
            if n == 17
            else []
        )
        box.add(
            make_eml(
                sender="clerk@reo.gov.hk",
                to=[f"p{n}@example.com"],
                subject=f"notice {n}",
                body=_prose(rng),
                attachments=attachments,
            )
        )
    box.flush()
    box.close()
    files += 1
    planted[f"{root / 'mail' / 'sent.mbox'}#18"] = 30
    # Decoys: a register-shaped file of people who are not registered, a list of names only.
    put("hr/contacts.csv", _csv(strangers, slice(0, 200)))
    put("hr/names.txt", "\n".join(people.column("name_en")[:300]).encode())
    kinds = ["txt"] * 6 + ["csv"] * 2 + ["docx", "xlsx", "pdf", "zip"]
    # fpdf2 parses the whole CJK font for every pdf it makes (a third of a second): the tree's
    # ~170 ordinary pdfs are copies of a dozen, which took a minute of the suite before.
    pdfs = [make_pdf([[_prose(rng)[:80]]]) for _ in range(12)]
    while files < 2_000:
        kind = rng.choice(kinds)
        rel = f"dept{files % 17}/sub{files % 5}/doc{files}.{kind}"
        if kind == "txt":
            put(rel, _prose(rng).encode())
        elif kind == "csv":
            lines = "".join(f"{rng.choice(WORDS)},{rng.randint(1, 99)}\n" for _ in range(20))
            put(rel, ("item,qty\n" + lines).encode())
        elif kind == "docx":
            put(rel, make_docx(paragraphs=[_prose(rng) for _ in range(3)]))
        elif kind == "xlsx":
            put(
                rel,
                make_xlsx(
                    {
                        "s": [
                            ["item", "qty"],
                            *[[rng.choice(WORDS), rng.randint(1, 9)] for _ in range(10)],
                        ]
                    }
                ),
            )
        elif kind == "pdf":
            put(rel, rng.choice(pdfs))
        else:
            put(rel, _zip({"a.txt": _prose(rng).encode(), "b.txt": _prose(rng).encode()}))
    return data_dir, root, planted


def _scan(data_dir: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(data_dir), "scan", *args, "--json", "--no-progress", "--workers", "2"],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    out = json.loads(result.stdout)
    assert isinstance(out, dict)
    return out


@pytest.mark.slow
def test_scan_reports_exactly_the_planted_extracts(
    tree: tuple[Path, Path, dict[str, int]], tmp_path: Path
) -> None:
    data_dir, root, planted = tree
    state = tmp_path / "scan.state"
    out = _scan(data_dir, str(root), "--state", str(state), "--csv", str(tmp_path / "s.csv"))
    assert out["scanned"] == 2_000 - 1 + 40  # the mbox counts once per message
    found = {
        f["path"]: f["subjects"].get("voters", 0)
        for f in out["files"]  # type: ignore[union-attr]
        if f["subjects"]
    }
    assert found == planted
    zipped = next(f for f in out["files"] if f["path"].endswith("old.zip"))  # type: ignore[union-attr]
    assert zipped["members"] == {"old.zip/x/voters.xlsx": {"voters": 45}}
    assert "register:voters" in (tmp_path / "s.csv").read_text(encoding="utf-8-sig")

    # Resumed: nothing is inspected again, and the answer is the same.
    again = _scan(data_dir, str(root), "--state", str(state))
    assert again["resumed"] == again["scanned"]
    assert {f["path"] for f in again["files"] if f["subjects"]} == set(planted)  # type: ignore[union-attr]


def _fifty_voters(tmp_path: Path) -> tuple[Settings, People]:
    """A data dir (``tmp_path/var``) with a register ``voters`` of 50 generated people."""
    people = generate(50, seed=3)
    settings = init_data_dir(tmp_path / "var", ["reo.gov.hk"])
    register = tmp_path / "r.csv"
    register.write_text(people.csv_text(), encoding="utf-8")
    import_register(register, "voters", settings.registers_dir, settings.secret())
    return settings, people


def test_scan_rescans_a_file_that_changed(tmp_path: Path) -> None:
    settings, people = _fifty_voters(tmp_path)
    data_dir = settings.data_dir
    share = tmp_path / "share"
    share.mkdir()
    target = share / "list.csv"
    target.write_bytes(_csv(people, slice(0, 10)))
    (share / "notes.txt").write_text("nothing to see", encoding="utf-8")
    state = tmp_path / "state"
    first = _scan(data_dir, str(share), "--state", str(state))
    assert first["subjects"] == {"voters": 10}
    target.write_bytes(_csv(people, slice(0, 25)))
    second = _scan(data_dir, str(share), "--state", str(state))
    assert second["resumed"] == 1
    assert second["subjects"] == {"voters": 25}


def test_scan_reads_ahead_past_an_unreadable_file_and_workers_agree(tmp_path: Path) -> None:
    settings, people = _fifty_voters(tmp_path)
    share = tmp_path / "share"
    share.mkdir()
    for n in range(20):
        (share / f"{n:02}.csv").write_bytes(_csv(people, slice(n, n + 2)))
    items = list(scan_items([share]))
    (share / "05.csv").unlink()  # gone between listing and reading
    kw: dict[str, Any] = {
        "limits": settings.limits,
        "registers_dir": settings.registers_dir,
        "secret": settings.secret(),
    }
    one = run_scan(items, workers=1, **kw)
    two = run_scan(items, workers=2, **kw)
    assert [r.to_json() for r in one.results] == [r.to_json() for r in two.results]
    assert [r.key for r in one.results] == [i.key for i in items]
    unreadable = [r for r in one.results if r.uninspectable]
    assert [r.key for r in unreadable] == [str(share / "05.csv")]
    assert unreadable[0].uninspectable[0].startswith("unreadable:")
    assert sum(r.subjects.get("voters", 0) for r in one.results) == 19 * 2


def test_scan_inspects_what_an_mbox_holds_before_its_first_from_line(tmp_path: Path) -> None:
    """mailbox.mbox skips bytes before the first "From " line (a whole .mbox without one):
    the scan inspects the file itself too, so a register extract there is found."""
    settings, people = _fifty_voters(tmp_path)
    data_dir = settings.data_dir
    share = tmp_path / "share"
    share.mkdir()
    (share / "export.mbox").write_bytes(_csv(people, slice(0, 12)))  # no "From " line
    mixed = _csv(people, slice(20, 27)) + b"From a@b Thu Jan  1 00:00:00 2026\n\nhello\n"
    (share / "mixed.mbox").write_bytes(mixed)
    items = [item.key for item in scan_items([share])]
    assert items == [
        str(share / "export.mbox"),
        f"{share / 'mixed.mbox'}#1",
        str(share / "mixed.mbox"),
    ]
    out = _scan(data_dir, str(share))
    assert out["subjects"] == {"voters": 12 + 7}


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """A real Dask cluster on loopback: a scheduler and two worker processes (with nannies)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        protocol="tcp",
    ) as cluster:
        yield cluster


@pytest.mark.slow
def test_scan_on_a_dask_cluster_equals_the_local_scan(
    tree: tuple[Path, Path, dict[str, int]], dask_cluster: Any, tmp_path: Path
) -> None:
    data_dir, root, planted = tree
    # Every planted extract and decoy, and one department of ordinary files (~130 items).
    paths = [str(root / d) for d in ("finance", "archive", "mail", "hr", "dept0")]
    local = _scan(data_dir, *paths, "--state", str(tmp_path / "local.state"))
    remote = _scan(
        data_dir,
        *paths,
        "--state",
        str(tmp_path / "cluster.state"),
        "--scheduler",
        dask_cluster.scheduler_address,
    )
    assert remote["scanned"] == local["scanned"]
    assert remote["subjects"] == local["subjects"]
    assert remote["files"] == local["files"]  # file for file, every count and member
    assert {f["path"] for f in remote["files"] if f["subjects"]} == set(planted)  # type: ignore[union-attr]


@pytest.mark.slow
def test_scan_on_a_dask_cluster_survives_a_worker_killed(
    tree: tuple[Path, Path, dict[str, int]], dask_cluster: Any
) -> None:
    from distributed import Client

    data_dir, root, planted = tree
    settings = load_settings(data_dir)
    items = list(scan_items([root / "mail", root / "dept1", root / "dept2"]))
    with Client(dask_cluster.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_one(_result: ScanResult) -> None:
        if not killed:  # after the first shard is in: one worker dies with its shards
            killed.append(next(iter(pids.values())))
            os.kill(killed[0], signal.SIGKILL)

    run = run_scan(
        items,
        limits=settings.limits,
        registers_dir=settings.registers_dir,
        secret=settings.secret(),
        progress=kill_one,
        scheduler=dask_cluster.scheduler_address,
        data_dir=data_dir,
    )
    assert killed
    assert [r.key for r in run.results] == [i.key for i in items]  # every item, once
    found = {r.key: r.subjects["voters"] for r in run.results if r.subjects}
    assert found == {k: v for k, v in planted.items() if "/mail/" in k}
