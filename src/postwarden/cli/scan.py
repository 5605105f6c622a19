"""``postwarden scan PATH...``: find register extracts and personal data in files and mail."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from postwarden.cli.common import OperationalError, UsageError, state
from postwarden.engine.registers import RegisterError, RegisterSet
from postwarden.i18n import _
from postwarden.scan import ScanResult, ScanRun, run_scan, scan_items
from postwarden.settings import SettingsError


def scan(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help=_("Folders, zips, mboxes, maildirs, files."))],
    register: Annotated[
        list[str] | None,
        typer.Option("--register", help=_("Match this register only (repeat; default: all).")),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print the results as JSON."))] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help=_("Also write one row per file with findings to this CSV.")),
    ] = None,
    workers: Annotated[int | None, typer.Option(help=_("Processes (default: all cores)."))] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(
            "--state", help=_("Resume file (default: one per set of paths in the data dir).")
        ),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help=_("Forget what an earlier run of this scan finished."))
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help=_("Show a progress bar on stderr."))
    ] = True,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help=_("Scan on this Dask cluster (tcp://HOST:PORT); its workers open the data dir."),
        ),
    ] = None,
) -> None:
    settings = state(ctx).settings()
    secret = settings.secret()
    names = tuple(register) if register else None
    if names:
        RegisterSet(settings.registers_dir, secret, names)  # a missing one is an error now
    try:
        items = list(scan_items(paths))
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    if state_file is None:
        key = json.dumps([sorted(str(p.resolve()) for p in paths), names]).encode()
        scans = settings.data_dir / "scans"
        scans.mkdir(exist_ok=True, mode=0o700)
        state_file = scans / f"{hashlib.sha256(key).hexdigest()[:16]}.jsonl"
    if restart:
        state_file.unlink(missing_ok=True)
    console = Console(stderr=True)
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=len(items))
        try:
            run = run_scan(
                items,
                limits=settings.limits,
                registers_dir=settings.registers_dir,
                secret=secret,
                registers=names,
                workers=workers,
                state_file=state_file,
                progress=lambda _r: bar.advance(task),
                scheduler=scheduler,
                data_dir=settings.data_dir,
            )
        except (OSError, SettingsError, RegisterError) as exc:
            # The cluster unreachable, or a worker that cannot open the data dir; what was
            # finished is in the state file and the next run resumes from it.
            raise OperationalError(_("scan stopped: {exc}").format(exc=exc)) from None
    if csv_file is not None:
        _write_csv(csv_file, run)
    if as_json:
        typer.echo(json.dumps(run.to_json(), ensure_ascii=False))
        return
    for result in run.hits:
        typer.echo(_line(result))
    mbps = run.bytes / 1e6 / run.seconds if run.seconds else 0.0
    typer.echo(
        _(
            "{items} items scanned ({resumed} from an earlier run), {hits} with findings; "
            "subjects {subjects}; {mbps:.1f} MB/s"
        ).format(
            items=len(run.results),
            resumed=run.resumed,
            hits=len(run.hits),
            subjects=run.totals() or _("none"),
            mbps=mbps,
        )
    )


def _line(result: ScanResult) -> str:
    parts = [f"{name} {count}" for name, count in result.subjects.items()]
    parts += [f"{name}×{count}" for name, count in result.findings.items()]
    if result.uninspectable:
        parts.append("uninspectable")
    return f"{result.key}: {', '.join(parts)}"


def _write_csv(path: Path, run: ScanRun) -> None:
    registers = sorted({r for res in run.hits for r in res.subjects})
    detectors = sorted({d for res in run.hits for d in res.findings})
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(
                ["path", "size", *(f"register:{r}" for r in registers), *detectors, "uninspectable"]
            )
            for res in run.hits:
                out.writerow(
                    [
                        res.key,
                        res.size,
                        *(res.subjects.get(r, 0) for r in registers),
                        *(res.findings.get(d, 0) for d in detectors),
                        "; ".join(res.uninspectable),
                    ]
                )
    except OSError as exc:
        raise OperationalError(
            _("cannot write {path}: {strerror}").format(path=path, strerror=exc.strerror)
        ) from None
