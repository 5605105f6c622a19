"""Webmail blocklist exports, each checked by the program that consumes it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postwarden.cli import app
from postwarden.engine.recipients.webmail import webmail_domains
from postwarden.webfilter import BlocklistFormat, blocklist_domains, export_blocklist

NULL_ROUTE = "0.0.0.0"  # noqa: S104 - the hosts file's black hole, nothing binds to it


def _need(program: str) -> str:
    path = shutil.which(program) or (
        f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None
    )
    if path is None:
        pytest.skip(f"{program} is not installed (make test installs it)")
    return path


def _squid_parse(tmp_path: Path, acl_text: str) -> str:
    squid = _need("squid")
    acl = tmp_path / "webmail.acl"
    acl.write_text(acl_text, encoding="utf-8")
    conf = tmp_path / "squid.conf"
    conf.write_text(
        f'acl webmail dstdomain "{acl}"\n'
        "http_access deny webmail\n"
        "http_access deny all\n"
        "http_port 127.0.0.1:3128\n"
        "pid_filename none\n"
        "cache_log /dev/null\n"
        "access_log none\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_blocklist_domains_come_from_the_classifier_list() -> None:
    names = blocklist_domains()
    assert "gmail.com" in names
    assert "yahoo.com.hk" in names
    # Every shipped domain is blocked, directly or through a listed parent.
    for domain in webmail_domains():
        assert any(domain == d or domain.endswith("." + d) for d in names), domain


def test_blocklist_domains_drop_covered_subdomains_and_encode_idn() -> None:
    names = blocklist_domains(["163.com", "vip.163.com", "MAIL.Example.com.", "例子.公司"])
    assert names == ["163.com", "mail.example.com", "xn--fsqu00a.xn--55qx5d"]


def test_squid_export_parses_without_warnings(tmp_path: Path) -> None:
    text = export_blocklist(BlocklistFormat.SQUID)
    log = _squid_parse(tmp_path, text)
    assert "WARNING" not in log
    assert "ERROR" not in log
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert entries == [f".{d}" for d in blocklist_domains()]


def test_squid_parse_is_sensitive_to_overlapping_entries(tmp_path: Path) -> None:
    # The check above would be worthless if squid said nothing about a bad list.
    log = _squid_parse(tmp_path, ".163.com\n.vip.163.com\n")
    assert "is a subdomain of" in log


def test_rpz_export_passes_named_checkzone(tmp_path: Path) -> None:
    checkzone = _need("named-checkzone")
    zone = tmp_path / "rpz.zone"
    zone.write_text(export_blocklist(BlocklistFormat.RPZ), encoding="utf-8")
    done = subprocess.run(
        [checkzone, "rpz.postwarden", str(zone)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout
    text = zone.read_text(encoding="utf-8")
    assert "\ngmail.com CNAME .\n*.gmail.com CNAME .\n" in text


def test_rpz_checkzone_rejects_a_broken_zone(tmp_path: Path) -> None:
    checkzone = _need("named-checkzone")
    zone = tmp_path / "rpz.zone"
    zone.write_text(
        export_blocklist(BlocklistFormat.RPZ).replace("@ IN NS localhost.\n", ""),
        encoding="utf-8",
    )
    done = subprocess.run(
        [checkzone, "rpz.postwarden", str(zone)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("gmail.com", "PROXY 127.0.0.1:9"),
        ("mail.google.com", "DIRECT"),
        ("MAIL.Yahoo.com.HK", "PROXY 127.0.0.1:9"),
        ("login.live.com", "PROXY 127.0.0.1:9"),
        ("www.reo.gov.hk", "DIRECT"),
        ("notgmail.com", "DIRECT"),
        ("gmail.com.evil.example", "DIRECT"),
    ],
)
def test_pac_export_evaluated_by_node(tmp_path: Path, host: str, expected: str) -> None:
    node = _need("node")
    pac = tmp_path / "webmail.pac"
    pac.write_text(export_blocklist(BlocklistFormat.PAC), encoding="utf-8")
    script = (
        "const vm = require('vm'); const fs = require('fs');"
        "const ctx = {}; vm.createContext(ctx);"
        "vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), ctx);"
        "process.stdout.write(JSON.stringify("
        "ctx.FindProxyForURL('https://' + process.argv[2] + '/', process.argv[2])));"
    )
    done = subprocess.run(
        [node, "-e", script, str(pac), host], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected


def test_hosts_export_lists_each_domain_to_the_null_address() -> None:
    text = export_blocklist(BlocklistFormat.HOSTS)
    entries = {
        tuple(line.split()) for line in text.splitlines() if line and not line.startswith("#")
    }
    assert (NULL_ROUTE, "gmail.com") in entries
    assert (NULL_ROUTE, "www.qq.com") in entries
    assert all(addr == NULL_ROUTE for addr, _ in entries)
    assert len(entries) == 3 * len(blocklist_domains())


@pytest.mark.parametrize("fmt", [f.value for f in BlocklistFormat])
def test_webfilter_cli_exports_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"blocklist.{fmt}"
    result = CliRunner().invoke(app, ["webfilter", "export", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "gmail.com" in out.read_text(encoding="utf-8")


def test_webfilter_cli_refuses_an_unknown_format() -> None:
    result = CliRunner().invoke(app, ["webfilter", "export", "--format", "iptables"])
    assert result.exit_code == 2
