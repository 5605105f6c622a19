"""Registers in a cluster: ``register import`` on one node publishes the index once, and the
other nodes' running matchers use the new version within the poll interval, no restart."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select
from tests.cli.invocation import run_cli
from tests.cluster_nodes import make_nodes
from tests.engine.registers.people import generate
from tests.test_act import FakeInspector

from postwarden.act import Gateway
from postwarden.cluster import ClusterWorker
from postwarden.engine.registers import RegisterSet
from postwarden.model import TextUnit
from postwarden.outbound import MemoryOutbound
from postwarden.settings import load_settings
from postwarden.store.register_versions import RegisterVersion


def _wait_for(condition: object, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def test_import_on_one_node_is_used_by_another(tmp_path: Path, db_url: str) -> None:
    a, b = make_nodes(tmp_path, db_url, 2, register_poll_seconds=1.0)
    first, second = generate(300, seed=3), generate(300, seed=4)
    one_hkid, other_hkid = str(first.hkid[0]), str(second.hkid[0])
    gw_b = Gateway.from_settings(b, outbound=MemoryOutbound(), inspector=FakeInspector())
    worker = ClusterWorker(gw_b)
    worker.start()
    matcher = RegisterSet(b.registers_dir, b.secret())  # node b's running matcher

    def found(hkid: str) -> bool:
        units = [TextUnit(text=hkid, where="body")]
        return matcher.match(units, []).subjects.get("voters", 0) > 0

    try:
        source = tmp_path / "voters.csv"
        source.write_text(first.csv_text(), encoding="utf-8")
        code, out, err = run_cli(a.data_dir, "register", "import", str(source), "--name", "voters")
        assert code == 0, err
        assert "published register voters to the cluster as version" in out
        assert _wait_for(lambda: found(one_hkid), 10) < 5
        # A re-import with other people replaces the version on b as well.
        source.write_text(second.csv_text(), encoding="utf-8")
        code, _, err = run_cli(a.data_dir, "register", "import", str(source), "--name", "voters")
        assert code == 0, err
        _wait_for(lambda: found(other_hkid) and not found(one_hkid), 10)
        # What the database holds is sealed: no record id, no register value in clear.
        with gw_b.session() as s:
            sealed = s.execute(select(RegisterVersion.sealed)).scalars().all()
        assert len(sealed) == 2
        for blob in sealed:
            assert b"hashes.npy" not in blob
            assert str(second.id[0]).encode() not in blob
        code, _, err = run_cli(a.data_dir, "register", "drop", "voters")
        assert code == 0, err
        _wait_for(lambda: not found(other_hkid) and "voters" not in matcher.names, 10)
    finally:
        worker.stop()
        gw_b.close()


def test_init_makes_a_cluster_node(tmp_path: Path) -> None:
    data = tmp_path / "node"
    code, out, err = run_cli(
        data,
        "init",
        "--org-domain",
        "example.org",
        "--quarantine-store",
        "database",
        "--node-id",
        "gw1",
    )
    assert code == 0, err
    assert "created the cluster key" in out
    settings = load_settings(data)
    assert (settings.cluster.quarantine_store, settings.node_id) == ("database", "gw1")
    assert len(settings.cluster_key()) == 32
    assert settings.cluster_key_file.stat().st_mode & 0o777 == 0o600
    code, _, err = run_cli(data, "init", "--org-domain", "example.org", "--quarantine-store", "nfs")
    assert code == 2
    assert "quarantine_store must be one of" in err
    assert load_settings(data).cluster.quarantine_store == "database"
