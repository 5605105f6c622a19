"""``postwarden user add/passwd --password-stdin``: console passwords from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from postwarden.cli import app
from postwarden.cli.common import UsageError
from postwarden.errors import PostwardenError
from postwarden.settings import load_settings
from postwarden.store import credentials
from postwarden.store.db import make_engine, session_factory
from postwarden.store.users import get_user

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    result = CliRunner().invoke(app, ["--data-dir", str(d), "init", "--org-domain", "demo.gov.hk"])
    assert result.exit_code == 0, result.output
    return d


def _run(data_dir: Path, *args: str, stdin: str = "") -> int:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], input=stdin)
    if isinstance(result.exception, PostwardenError):
        return result.exception.exit_code
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code


def _password_ok(data_dir: Path, name: str, password: str) -> bool:
    engine = make_engine(load_settings(data_dir).db_url)
    try:
        with session_factory(engine)() as db:
            return credentials.check_password(get_user(db, name), password)
    finally:
        engine.dispose()


def test_user_add_with_password_stdin_can_sign_in(data_dir: Path) -> None:
    args = ("user", "add", "alice", "--role", "reviewer", "--email", "alice@demo.gov.hk")
    assert _run(data_dir, *args, "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert _password_ok(data_dir, "alice", PASSWORD)
    assert not _password_ok(data_dir, "alice", PASSWORD + "\n")


def test_user_passwd_replaces_the_password(data_dir: Path) -> None:
    assert _run(data_dir, "user", "add", "bob", "--role", "admin", "--email", "b@demo.gov.hk") == 0
    assert not _password_ok(data_dir, "bob", PASSWORD)  # no password yet: cannot sign in
    assert _run(data_dir, "user", "passwd", "bob", "--password-stdin", stdin=PASSWORD) == 0
    assert _password_ok(data_dir, "bob", PASSWORD)
    new = "another long passphrase"
    assert _run(data_dir, "user", "passwd", "bob", "--password-stdin", stdin=new + "\r\n") == 0
    assert _password_ok(data_dir, "bob", new)
    assert not _password_ok(data_dir, "bob", PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "status"),
    [
        (("user", "passwd", "bob", "--password-stdin"), "short\n", 2),
        (("user", "passwd", "bob", "--password-stdin"), "", 2),
        (("user", "passwd", "nobody", "--password-stdin"), PASSWORD, 1),
    ],
)
def test_user_passwd_refuses(
    data_dir: Path, args: tuple[str, ...], stdin: str, status: int
) -> None:
    assert _run(data_dir, "user", "add", "bob", "--role", "admin") == 0
    assert _run(data_dir, *args, stdin=stdin) == status
    assert not _password_ok(data_dir, "bob", PASSWORD)


@pytest.mark.parametrize("weak", ["aaaaaaaaaaaa", "password1234", " " * 12])
def test_weak_passwords_are_refused_by_user_add_and_passwd(
    data_dir: Path, weak: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(data_dir),
            "user",
            "add",
            "carol",
            "--role",
            "reviewer",
            "--password-stdin",
        ],
        input=weak + "\n",
    )
    assert isinstance(result.exception, UsageError)
    assert "password" in str(result.exception)
    assert _run(data_dir, "user", "add", "bob", "--role", "admin") == 0
    assert _run(data_dir, "user", "passwd", "bob", "--password-stdin", stdin=weak + "\n") == 2
    assert not _password_ok(data_dir, "bob", weak)
    assert _run(data_dir, "user", "passwd", "bob", "--password-stdin", stdin=PASSWORD) == 0
