from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from postwarden.settings import (
    Limits,
    SettingsError,
    init_data_dir,
    load_settings,
    parse_host_port,
    resolve_data_dir,
)


def test_init_data_dir_creates_private_secret_once(tmp_path: Path) -> None:
    data = tmp_path / "var"
    s1 = init_data_dir(data, ["Reo.Gov.HK."], ["partner.org.hk"], next_hop="127.0.0.1:10026")
    secret = s1.secret()
    assert len(secret) == 32
    assert stat.S_IMODE(s1.secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    s2 = init_data_dir(data, ["reo.gov.hk"])
    assert s2.secret() == secret, "re-running init must never replace the secret"
    loaded = load_settings(data)
    assert loaded.org_domains == ("reo.gov.hk",)
    assert loaded.next_hop is None


def test_load_settings_of_uninitialised_dir_names_init(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="postwarden init"):
        load_settings(tmp_path)


@pytest.mark.parametrize("bad", ["", "user@reo.gov.hk", "no dots", "localhost", "xn--a.b\udcff"])
def test_init_data_dir_refuses_bad_domains(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError):
        init_data_dir(tmp_path / "var", [bad])


def test_idn_domain_is_stored_as_punycode(tmp_path: Path) -> None:
    s = init_data_dir(tmp_path / "var", ["例子.香港"])
    assert s.org_domains == ("xn--fsqu00a.xn--j6w193g",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:10026", ("127.0.0.1", 10026)), ("[::1]:25", ("::1", 25))],
)
def test_parse_host_port_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":25", "host:0", "host:99999", "host:x"])
def test_parse_host_port_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_host_port(text)


def test_limits_expansion_budget_follows_reliability_md() -> None:
    limits = Limits()
    assert limits.max_expansion(1) == 100 * 1024
    assert limits.max_expansion(100_000) == 100_000 * 500
    assert limits.max_expansion(10**9) == 5 * 10**9
    with pytest.raises(SettingsError, match="unknown limit"):
        limits.with_overrides({"max_depht": 3})


def test_resolve_data_dir_prefers_flag_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTWARDEN_DATA_DIR", "/srv/pw")
    assert resolve_data_dir("/x") == Path("/x")
    assert resolve_data_dir(None) == Path("/srv/pw")
    monkeypatch.delenv("POSTWARDEN_DATA_DIR")
    assert resolve_data_dir(None) == Path("./var")


def test_init_again_keeps_the_access_settings(tmp_path: Path) -> None:
    """settings.json's "access" block is how an operator sets the relay's client networks
    for good; re-running init (say, to add a domain) must not reset it to the defaults."""
    settings = init_data_dir(tmp_path, ["demo.gov.hk"])
    raw = json.loads(settings.settings_file.read_text())
    raw["access"]["client_networks"] = ["10.1.0.0/16"]
    raw["access"]["foreign_senders"] = True
    settings.settings_file.write_text(json.dumps(raw))
    init_data_dir(tmp_path, ["demo.gov.hk", "other.gov.hk"])
    again = load_settings(tmp_path)
    assert again.access.client_networks == ("10.1.0.0/16",)
    assert again.access.foreign_senders is True
    assert again.org_domains == ("demo.gov.hk", "other.gov.hk")


def test_fsync_dir_is_defined_once() -> None:
    """Every durable write in the tree syncs its directory with settings.fsync_dir."""
    src = Path(__file__).resolve().parents[1] / "src" / "postwarden"
    users = [
        p.relative_to(src).as_posix() for p in src.rglob("*.py") if "O_DIRECTORY" in p.read_text()
    ]
    assert users == ["settings.py"]
