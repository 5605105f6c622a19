"""``postwarden policy | history | exemption`` through the real Typer app."""

from __future__ import annotations

import json
import mailbox
import sys
from pathlib import Path

import pytest
from tests.factories import make_eml
from typer.testing import CliRunner

from postwarden.cli import app, main
from postwarden.cli.common import UsageError
from postwarden.engine.policy import default_policy_text

BROKEN = """\
version: 1
rules:
  - id: only-rule
    action: quarantine
    message: nope
    when: {attachments: {min: 1}}
"""

STRICT = default_policy_text().replace(
    "  - id: near-known-recipient\n    description: A first-time address one slip away from a "
    "known contact.\n    action: warn",
    "  - id: near-known-recipient\n    description: A first-time address one slip away from a "
    "known contact.\n    action: hold",
)


def test_strict_policy_differs_from_the_default() -> None:
    assert STRICT != default_policy_text()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    result = CliRunner().invoke(app, ["--data-dir", str(d), "init", "--org-domain", "reo.gov.hk"])
    assert result.exit_code == 0, result.output
    return d


def _run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _eml(tmp_path: Path, to: str, name: str = "m.eml") -> Path:
    path = tmp_path / name
    path.write_bytes(
        make_eml(
            sender="Amy LEE <amy@reo.gov.hk>",
            to=[to],
            subject="minutes",
            body="Please see the minutes.",
        )
    )
    return path


def test_policy_show_prints_the_default_then_the_local_file(data_dir: Path) -> None:
    code, out, _ = _run(data_dir, "policy", "show")
    assert code == 0
    assert "# policy in force: default.yaml" in out
    assert "id: subject-not-recipient" in out
    (data_dir / "policy.yaml").write_text(STRICT)
    _, out, _ = _run(data_dir, "policy", "show")
    assert f"# policy in force: {data_dir / 'policy.yaml'}" in out


def test_policy_check_reports_line_numbers(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    code, _, err = _run(data_dir, "policy", "check", str(bad))
    assert code == 1
    assert err.startswith(f"{bad}:4: rules.0.action:")
    good = tmp_path / "good.yaml"
    good.write_text(STRICT)
    code, out, _ = _run(data_dir, "policy", "check", str(good))
    assert (code, out.strip()) == (0, f"{good}: valid, 10 rules enabled")


def test_policy_check_missing_file_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        _run(data_dir, "policy", "check", str(tmp_path / "nope.yaml"))


def test_invalid_local_policy_keeps_the_last_good_one(data_dir: Path, tmp_path: Path) -> None:
    msg = _eml(tmp_path, "bob@lawfirm.com.hk")
    history = tmp_path / "sent.mbox"
    box = mailbox.mbox(history)
    box.add(make_eml(sender="amy@reo.gov.hk", to=["bobb@lawfirm.com.hk"], subject="s", body="b"))
    box.close()
    _run(data_dir, "history", "import", str(history))
    (data_dir / "policy.yaml").write_text(STRICT)
    _, out, _ = _run(data_dir, "check", str(msg), "--json")
    assert json.loads(out)["action"] == "hold"  # near-known made a hold by the local policy
    (data_dir / "policy.yaml").write_text(BROKEN)
    code, out, err = _run(data_dir, "check", str(msg), "--json")
    assert code == 0
    assert json.loads(out)["action"] == "hold"  # still the last good local policy
    assert "policy refused" in err
    assert ":4: rules.0.action" in err


def test_policy_explain_names_fired_rules_and_near_misses(data_dir: Path, tmp_path: Path) -> None:
    msg = _eml(tmp_path, "x@reo-gov.hk")
    code, out, _ = _run(data_dir, "policy", "explain", str(msg))
    assert code == 0
    assert "verdict: hold" in out
    assert "lookalike: imitates reo.gov.hk (dots or hyphens moved)" in out
    assert "  lookalike-domain -> hold" in out
    assert "hkid-external (hold) did not fire: only findings was missing" in out
    _, out, _ = _run(data_dir, "policy", "explain", str(msg), "--json")
    rules = {r["rule"]: r for r in json.loads(out)["rules"]}
    assert rules["lookalike-domain"]["fired"] is True
    assert rules["hkid-external"]["near_miss"] is True


def test_history_import_makes_contacts_known(data_dir: Path, tmp_path: Path) -> None:
    sent = tmp_path / "sent"
    sent.mkdir()
    (sent / "1.eml").write_bytes(
        make_eml(sender="amy@reo.gov.hk", to=["bob@lawfirm.com.hk"], subject="s", body="b")
    )
    msg = _eml(tmp_path, "bob@lawfirm.com.hk")
    _, out, _ = _run(data_dir, "check", str(msg), "--json")
    assert json.loads(out)["recipients"][0]["flags"] == ["first-time"]
    code, out, _ = _run(data_dir, "history", "import", str(sent))
    assert (code, out.strip()) == (
        0,
        "learnt from 1 sent messages (0 without sender or recipients skipped)",
    )
    _, out, _ = _run(data_dir, "check", str(msg), "--json")
    assert json.loads(out)["recipients"][0]["flags"] == []


def test_history_import_of_junk_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not mail at all")
    with pytest.raises(UsageError, match="not an mbox"):
        _run(data_dir, "history", "import", str(junk))


def test_exemption_lifecycle_changes_the_verdict(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "po-wong")
    msg = _eml(tmp_path, "chair@gmail.com")
    _, out, _ = _run(data_dir, "check", str(msg), "--json")
    assert json.loads(out)["action"] == "reject"
    code, out, _ = _run(
        data_dir,
        "exemption",
        "add",
        "--sender",
        "amy@reo.gov.hk",
        "--recipient-domain",
        "gmail.com",
        "--reason",
        "chair reads gmail only",
        "--until",
        "2999-12-31",
    )
    assert code == 0
    assert out.startswith("exemption 1: amy@reo.gov.hk may write to gmail.com until 2999-12-31")
    _, out, _ = _run(data_dir, "check", str(msg), "--json")
    verdict = json.loads(out)
    assert verdict["action"] == "deliver"
    assert "exempt" in verdict["recipients"][0]["flags"]
    _, out, _ = _run(data_dir, "exemption", "list", "--json")
    [row] = json.loads(out)
    assert (row["granted_by"], row["active"]) == ("po-wong", True)
    code, _, _ = _run(data_dir, "exemption", "revoke", "1", "--by", "auditor")
    assert code == 0
    _, out, _ = _run(data_dir, "exemption", "list")
    assert "1\trevoked\tamy@reo.gov.hk -> gmail.com" in out
    _, out, _ = _run(data_dir, "check", str(msg), "--json")
    assert json.loads(out)["action"] == "reject"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "31/12/2030"], "expected a date"),
        (["--until", "2001-01-01"], "in the past"),
        (["--recipient-domain", "gmail"], "not a domain"),
    ],
)
def test_exemption_add_refuses_bad_input(data_dir: Path, args: list[str], message: str) -> None:
    base = {"--sender": "amy@reo.gov.hk", "--recipient-domain": "gmail.com", "--reason": "r"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [x for kv in base.items() for x in kv]
    with pytest.raises(UsageError, match=message):
        _run(data_dir, "exemption", "add", *argv)


TYPO = """\
version: 1
rules:
  - id: typo
    action: hold
    message: m
    when:
      subjects: {register: voter}
      findings: {detector: hkidd}
"""


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["postwarden", *argv])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_policy_check_exits_1_through_main_on_every_invalid_file(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, text in [("broken", BROKEN), ("typo", TYPO), ("yaml", "rules: [\n")]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        code = _main(monkeypatch, capsys, "--data-dir", str(data_dir), "policy", "check", str(path))
        assert code == 1, name
    good = tmp_path / "good.yaml"
    good.write_text(STRICT)
    capsys.readouterr()
    assert (
        _main(monkeypatch, capsys, "--data-dir", str(data_dir), "policy", "check", str(good)) == 0
    )


def test_policy_check_refuses_unknown_registers_of_the_data_dir(
    data_dir: Path, tmp_path: Path
) -> None:
    register = tmp_path / "voters.csv"
    register.write_text("id,name_en,email\n1,CHAN Tai Man,tm@example.com\n", encoding="utf-8")
    code, _, _ = _run(data_dir, "register", "import", str(register), "--name", "voters")
    assert code == 0
    path = tmp_path / "typo.yaml"
    path.write_text(TYPO)
    code, _, err = _run(data_dir, "policy", "check", str(path))
    assert code == 1
    assert f"{path}:7: rules.0.when.subjects.register: " in err
    assert "unknown register 'voter' (registers: voters)" in err
    assert f"{path}:8: rules.0.when.findings.detector: " in err
    assert "unknown detector 'hkidd'" in err
    path.write_text(TYPO.replace("voter}", "voters}").replace("hkidd", "register:voters"))
    code, out, _ = _run(data_dir, "policy", "check", str(path))
    assert (code, out.strip()) == (0, f"{path}: valid, 1 rules enabled")
