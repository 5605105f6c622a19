"""Quarantine blobs in a shared store: any node opens, and only with the cluster key."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.settings import Cluster, Settings, create_cluster_key, init_data_dir
from postwarden.store.blobs import DatabaseBlobs, QuarantineBlob, S3Blobs
from postwarden.store.db import make_engine, migrate, session_factory
from postwarden.store.keys import SealError
from postwarden.store.quarantine import Quarantine
from postwarden.store.shared_keys import ClusterKeyring

CANARY = b"HKID A123456(7) of CHAN Tai Man"
RAW = b"From: a@example.org\r\nTo: b@partner.example\r\nSubject: x\r\n\r\n" + CANARY + b"\r\n"
ENV = Envelope("a@example.org", ("b@partner.example",))
VERDICT = Verdict(Action.HOLD, [Reason("hkid-external", "An HKID.", Action.HOLD)], {})


def _node(tmp_path: Path, name: str, url: str, cluster: Cluster) -> Settings:
    settings = init_data_dir(tmp_path / name, ["example.org"], database_url=url)
    return dataclasses.replace(settings, cluster=cluster)


@pytest.fixture
def nodes(tmp_path: Path, db_url: str) -> tuple[Settings, Settings]:
    """Two nodes' settings on one database, the second given a copy of the first's key."""
    cluster = Cluster(quarantine_store="database")
    a, b = _node(tmp_path, "a", db_url, cluster), _node(tmp_path, "b", db_url, cluster)
    create_cluster_key(a)
    shutil.copyfile(a.cluster_key_file, b.cluster_key_file)
    return a, b


def _store(q: Quarantine, engine: Engine) -> str:
    with session_factory(engine)() as session:
        item = q.store(session, RAW, ENV, VERDICT)
        session.commit()
        return item.id


def test_database_store_any_node_opens_any_item(
    nodes: tuple[Settings, Settings], db_engine: Engine
) -> None:
    a, b = nodes
    qa = Quarantine.from_settings(a, db_engine)
    other_engine = make_engine(b.db_url)
    try:
        qb = Quarantine.from_settings(b, other_engine)
        assert isinstance(qa.blobs, DatabaseBlobs)
        item_id = _store(qa, db_engine)
        assert not list((a.data_dir / "quarantine").iterdir())  # nothing on a's disk
        with Session(other_engine) as session:
            assert qb.read(Quarantine.get(session, item_id)) == RAW
        # A rotation on b: a opens old and new items without a restart.
        with Session(other_engine) as session:
            assert qb.rotate_key(session)[0] == 1
        newer = _store(qb, other_engine)
        with Session(db_engine) as session:
            assert qa.read(Quarantine.get(session, item_id)) == RAW
            assert qa.read(Quarantine.get(session, newer)) == RAW
        qb.remove_blob(item_id)
        with Session(db_engine) as session:
            assert session.get(QuarantineBlob, item_id) is None
    finally:
        other_engine.dispose()


def test_database_alone_opens_nothing(
    nodes: tuple[Settings, Settings], db_engine: Engine, tmp_path: Path
) -> None:
    """Blobs and keyring in the database hold no clear text and no clear key; a node with
    another cluster key cannot open the items."""
    a, _ = nodes
    qa = Quarantine.from_settings(a, db_engine)
    item_id = _store(qa, db_engine)
    with Session(db_engine) as session:
        blob = session.get(QuarantineBlob, item_id)
        ring = session.get(ClusterKeyring, 1)
        assert blob is not None
        assert ring is not None
        assert CANARY not in blob.blob
        master = qa.keyring.keys[qa.keyring.current]
        assert master not in ring.sealed
        for table in ("quarantine_blobs", "cluster_keyring", "quarantine_items"):
            dump = repr(session.execute(text(f"SELECT * FROM {table}")).all()).encode()  # noqa: S608
            assert b"A123456" not in dump
    stranger = _node(tmp_path, "c", a.db_url, a.cluster)
    create_cluster_key(stranger)
    with pytest.raises(SealError, match=r"cluster\.key"):
        Quarantine.from_settings(stranger, db_engine)


def test_database_store_rolled_back_hold_leaves_no_blob(
    nodes: tuple[Settings, Settings], db_engine: Engine
) -> None:
    qa = Quarantine.from_settings(nodes[0], db_engine)
    with session_factory(db_engine)() as session:
        qa.store(session, RAW, ENV, VERDICT)
        session.rollback()
        assert session.execute(select(QuarantineBlob)).first() is None


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server on loopback (a real HTTP server boto3 talks to)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_store_any_node_opens_any_item(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="held"
    )
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    cluster = Cluster(
        quarantine_store="s3", s3_bucket="held", s3_endpoint=s3_endpoint, s3_region="us-east-1"
    )
    a, b = _node(tmp_path, "a", url, cluster), _node(tmp_path, "b", url, cluster)
    create_cluster_key(a)
    shutil.copyfile(a.cluster_key_file, b.cluster_key_file)
    migrate(url)
    engine = make_engine(url)
    try:
        qa, qb = Quarantine.from_settings(a, engine), Quarantine.from_settings(b, engine)
        assert isinstance(qa.blobs, S3Blobs)
        item_id = _store(qa, engine)
        stored = qa.blobs.client.get_object(Bucket="held", Key=f"quarantine/{item_id}.pwq")
        assert CANARY not in stored["Body"].read()
        with Session(engine) as session:
            assert qb.read(Quarantine.get(session, item_id)) == RAW
        qb.remove_blob(item_id)
        with Session(engine) as session, pytest.raises(SealError, match="missing"):
            qa.read(Quarantine.get(session, item_id))
    finally:
        engine.dispose()
