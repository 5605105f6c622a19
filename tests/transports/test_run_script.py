"""``make run`` (scripts/run.sh): a fresh data dir, demo data and users, the gateway and
console, the printed instructions followed as a newcomer would, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.integration.postfix import free_port, wait_for_port

from postwarden.outbound import OutboxOutbound

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"
_USER_LINE = re.compile(r"^  (admin|reviewer|privacy) +(\S+) +password: (\S+)$", re.MULTILINE)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CURL = re.compile(r"curl -H 'Authorization: Bearer (pwt_\S+)' --data-binary @(\S+) '(\S+)'")
_DIGEST = re.compile(r'name="digest" value="([0-9a-f]{64})"')


def _printed(log: Path, text: str, timeout: float = 30) -> str:
    """The script's output once it holds ``text`` (it prints before serving)."""
    deadline = time.monotonic() + timeout
    while text not in (out := log.read_text()):
        assert time.monotonic() < deadline, out
        time.sleep(0.1)
    return out


def _release_in_console(base: str, password: str, item_id: str) -> None:
    """Sign in as the demo privacy officer and release ``item_id``, as the help says."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        csrf = _CSRF.search(form.text)
        assert csrf, form.text
        login = {"csrf": csrf[1], "username": "privacy", "password": password}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        page = client.get(f"/messages/{item_id}")
        assert page.status_code == 200, page.text
        csrf, digest = _CSRF.search(page.text), _DIGEST.search(page.text)
        assert csrf, page.text
        assert digest, page.text
        decision = {"csrf": csrf[1], "digest": digest[1], "reason": "demo: checked"}
        done = client.post(f"/messages/{item_id}/release", data=decision, follow_redirects=False)
        assert done.status_code == 303, done.text


@pytest.mark.slow
def test_run_script_serves_demo_gateway_into_outbox_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "var"
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "POSTWARDEN_DATA_DIR": str(data),
        "POSTWARDEN_SMTP": f"127.0.0.1:{smtp_port}",
        "POSTWARDEN_HTTP": f"127.0.0.1:{http_port}",
        "PY": sys.executable,
    }
    out = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen([str(SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(smtp_port, timeout=240)  # seeding runs seven CLI commands first
        wait_for_port(http_port, timeout=30)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.sendmail(
                "alice@demo.gov.hk",
                ["bob@demo.gov.hk"],
                b"Subject: hello\r\n\r\nHello from the run script test.\r\n",
            )
        (sent,) = OutboxOutbound(data / "outbox").messages()
        assert b"Hello from the run script test." in sent.raw
        assert sent.recipients == ("bob@demo.gov.hk",)

        log = _printed(tmp_path / "run.log", "Stop with Ctrl-C.")
        assert f"Review console: http://127.0.0.1:{http_port}/ " in log
        users = {name: (role, pw) for name, role, pw in _USER_LINE.findall(log)}
        assert {name: role for name, (role, _) in users.items()} == {
            "admin": "admin",
            "reviewer": "reviewer",
            "privacy": "privacy-officer",
        }
        assert len({pw for _, pw in users.values()}) == 3
        assert all(len(pw) >= 12 for _, pw in users.values())
        assert f"outbox folder {data}/outbox/" in log
        # The printed API example, with the demo token it prints once.
        curl = _CURL.search(log)
        assert curl, log
        token, eml, url = curl.groups()
        answer = httpx.post(
            url,
            content=Path(eml).read_bytes(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["action"] == "reject"
        assert httpx.post(url, content=Path(eml).read_bytes(), timeout=30).status_code == 401
        # The printed sample: register data to a partner is held, then released by the
        # privacy officer in the console, and lands in the outbox.
        sample = (data / "demo" / "register.eml").read_bytes()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.sendmail("alice@demo.gov.hk", ["registry@partner.org.hk"], sample)
        listed = subprocess.run(
            [sys.executable, "-m", "postwarden", "quarantine", "list", "--json"],
            env=env,
            capture_output=True,
            check=True,
        )
        [held] = json.loads(listed.stdout)
        assert held["state"] == "held"
        assert "demo-voters" in held["subjects"]
        _release_in_console(f"http://127.0.0.1:{http_port}", users["privacy"][1], held["id"])
        released = OutboxOutbound(data / "outbox").messages()[-1]
        assert released.raw == sample
        assert released.recipients == ("registry@partner.org.hk",)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        out.close()
    log = (tmp_path / "run.log").read_text()
    assert f'smtplib.SMTP("127.0.0.1", {smtp_port})' in log  # the printed one-liner
    for secret in [*(pw for _, pw in users.values()), token]:  # shown once, kept only hashed
        assert not any(secret.encode() in p.read_bytes() for p in data.rglob("*") if p.is_file())
    assert "demo register 'demo-voters'" in log
    assert (data / "registers" / "demo-voters").exists()
    assert sorted(p.name for p in (data / "demo").iterdir()) == [
        "clean.eml",
        "register.eml",
        "webmail.eml",
    ]
