"""Several gateway nodes on one database, for the cluster tests: each node its own data dir
holding copies of the first node's ``secret.key`` and ``cluster.key`` (docs/cluster.md)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from postwarden.act import DecisionError, Gateway
from postwarden.model import Envelope
from postwarden.outbound import SmtpOutbound
from postwarden.settings import (
    Cluster,
    Settings,
    create_cluster_key,
    init_data_dir,
    load_settings,
    save_settings,
)

ORG = "example.org"
SENDER = "alice@example.org"
ENV = Envelope(SENDER, ("bob@partner.example",))


def make_nodes(
    root: Path, url: str, count: int, *, next_hop: str | None = None, **cluster: object
) -> list[Settings]:
    """``count`` data dirs on database ``url`` with a shared quarantine store."""
    nodes = []
    for n in range(count):
        settings = init_data_dir(root / f"node{n}", [ORG], database_url=url, next_hop=next_hop)
        options: dict[str, object] = {
            "quarantine_store": "database",
            "node_id": f"node{n}",
            **cluster,
        }
        settings = dataclasses.replace(settings, cluster=Cluster().with_overrides(options))
        save_settings(settings)
        if n == 0:
            create_cluster_key(settings)
        else:
            first = nodes[0]
            shutil.copyfile(first.secret_file, settings.secret_file)
            shutil.copyfile(first.cluster_key_file, settings.cluster_key_file)
        nodes.append(load_settings(settings.data_dir))
    return nodes


def hold_message(n: int) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: bob@partner.example\r\nSubject: held {n}\r\n"
        f"Message-ID: <held-{n}@example.org>\r\nX-Test-Action: hold\r\n\r\nbody {n}\r\n"
    ).encode()


def release_all(data_dir: str, sink_port: int, item_ids: list[str], by: str) -> int:
    """One node's process: try to release every item; returns how many it released."""
    from tests.test_act import FakeInspector

    outbound = SmtpOutbound("127.0.0.1", sink_port, timeout=30)
    gateway = Gateway.from_settings(
        load_settings(Path(data_dir)), outbound=outbound, inspector=FakeInspector()
    )
    released = 0
    try:
        for item_id in item_ids:
            try:
                gateway.release(item_id, by=by, reason="checked")
            except DecisionError:
                continue
            released += 1
    finally:
        gateway.close()
    return released


def deliver_many(data_dir: str, count: int) -> int:
    """One node's process: pass ``count`` messages (one audit entry each)."""
    from tests.test_act import FakeInspector

    from postwarden.outbound import MemoryOutbound

    gateway = Gateway.from_settings(
        load_settings(Path(data_dir)), outbound=MemoryOutbound(), inspector=FakeInspector()
    )
    try:
        for n in range(count):
            raw = f"From: {SENDER}\r\nTo: bob@partner.example\r\nSubject: {n}\r\n\r\nhi\r\n"
            assert gateway.process(raw.encode(), ENV).disposition == "deliver"
    finally:
        gateway.close()
    return count
