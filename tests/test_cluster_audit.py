"""One audit chain written by several node processes at once on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.cli.invocation import run_cli
from tests.cluster_nodes import deliver_many, make_nodes

from postwarden.store import audit
from postwarden.store.db import make_engine, session_factory


@pytest.mark.integration
def test_concurrent_writers_on_three_nodes_keep_one_chain(tmp_path: Path, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a cluster shares PostgreSQL")
    nodes = make_nodes(tmp_path, db_url, 3)
    per_node = 40
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        done = pool.starmap(deliver_many, [(str(n.data_dir), per_node) for n in nodes])
    assert done == [per_node] * 3
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            entries = s.execute(select(func.count()).select_from(audit.AuditEntry)).scalar_one()
            seqs = s.execute(select(audit.AuditEntry.seq).order_by(audit.AuditEntry.seq))
            assert list(seqs.scalars()) == list(range(1, entries + 1))
    finally:
        engine.dispose()
    assert entries >= 3 * per_node
    for node in nodes:  # each node's anchor is a head of the one chain
        code, out, err = run_cli(node.data_dir, "audit", "verify")
        assert code == 0, err
        assert f"audit log ok: {entries} entries, anchored head" in out
