"""``python -m tests.fuzz --count N``: a fuzzing campaign, its figures, exit 1 on a violation.

Violations: an exception, a verdict past ``Limits.max_seconds``, or *deliver* to the outside
recipient with an ``uninspectable`` finding. Mutants with a part that fails to open in its own
library but no uninspectable finding are listed too (a figure for the walker, exit 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.fuzz.campaign import Violation, inspector, make_mutant, run, seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--count", type=int, default=10_000, help="mutants to run")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    parser.add_argument("--start", type=int, default=0, help="first mutant index")
    parser.add_argument("--only", type=int, help="make and run mutant INDEX alone")
    parser.add_argument(
        "--max-bytes", type=int, default=None, help="leave out corpus messages over this size"
    )
    parser.add_argument(
        "--no-oracle", action="store_true", help="skip opening each part in its own library"
    )
    parser.add_argument("--save", type=Path, help="write violating mutants here as .eml")
    parser.add_argument("--list", type=int, default=30, help="violations to print (default 30)")
    args = parser.parse_args(argv)

    corpus = seeds(args.max_bytes)
    start, count = (args.only, 1) if args.only is not None else (args.start, args.count)
    print(f"corpus: {len(corpus)} messages; seed {args.seed}, mutants {start}..{start + count - 1}")
    began = time.monotonic()
    with inspector() as checker:
        figures = run(
            checker,
            corpus,
            count=count,
            seed=args.seed,
            start=start,
            oracle=not args.no_oracle,
            progress=1000,
        )
    print(figures.summary())
    print(f"wall time:                     {time.monotonic() - began:.0f} s")
    _show("VIOLATION", figures.violations, args.list)
    _show("failed to open, no finding", figures.unflagged, args.list)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for v in [*figures.violations, *figures.unflagged]:
            raw = v.raw or make_mutant(corpus, args.seed, v.index)[1]
            (args.save / f"{args.seed}-{v.index}-{v.kind}.eml").write_bytes(raw)
    return 1 if figures.violations else 0


def _show(label: str, found: list[Violation], limit: int) -> None:
    for v in found[:limit]:
        print(f"{label}: #{v.index} {v.kind} from {v.seed} via {'+'.join(v.operators)}: {v.detail}")
    if len(found) > limit:
        print(f"{label}: ... and {len(found) - limit} more")


if __name__ == "__main__":
    sys.exit(main())
