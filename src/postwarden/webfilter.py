"""Webmail blocklists for web proxies and DNS, made from the recipients stage's webmail list."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum

from postwarden.engine.recipients.webmail import webmail_domains

__all__ = ["BlocklistFormat", "blocklist_domains", "export_blocklist"]


class BlocklistFormat(StrEnum):
    """The consumers an export is written for."""

    SQUID = "squid"
    PAC = "pac"
    RPZ = "rpz"
    HOSTS = "hosts"


def blocklist_domains(domains: Iterable[str] | None = None) -> list[str]:
    """The webmail domains in ASCII (IDNA) form, sorted, without any covered by a parent.

    Squid refuses a ``dstdomain`` list holding both ``.163.com`` and ``.vip.163.com``, and the
    other formats gain nothing from them, so a subdomain of a listed domain is dropped.
    """
    names = {_ascii(d) for d in (webmail_domains() if domains is None else domains)}
    kept = [d for d in names if not any(_parent_in(d, names))]
    return sorted(kept, key=lambda d: tuple(reversed(d.split("."))))


def export_blocklist(
    fmt: BlocklistFormat,
    domains: Iterable[str] | None = None,
    *,
    block_proxy: str = "127.0.0.1:9",
    now: datetime | None = None,
) -> str:
    """The blocklist text for ``fmt``; ``block_proxy`` is where a PAC file sends blocked hosts."""
    names = blocklist_domains(domains)
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    writers: dict[BlocklistFormat, Callable[[list[str], datetime, str], str]] = {
        BlocklistFormat.SQUID: _squid,
        BlocklistFormat.PAC: _pac,
        BlocklistFormat.RPZ: _rpz,
        BlocklistFormat.HOSTS: _hosts,
    }
    return writers[fmt](names, stamp, block_proxy)


def _ascii(domain: str) -> str:
    d = domain.strip().lower().rstrip(".")
    return d.encode("idna").decode("ascii") if not d.isascii() else d


def _parent_in(domain: str, names: set[str]) -> Iterable[bool]:
    labels = domain.split(".")
    return (".".join(labels[i:]) in names for i in range(1, len(labels) - 1))


def _header(comment: str, stamp: datetime, count: int) -> str:
    return (
        f"{comment} Postwarden webmail blocklist: {count} provider domains, "
        f"generated {stamp.isoformat()}\n"
        f"{comment} Source: the webmail list the gateway classifies recipients with.\n"
    )


def _squid(names: list[str], stamp: datetime, _proxy: str) -> str:
    # A leading dot makes a dstdomain entry match the domain and all its subdomains.
    body = "".join(f".{d}\n" for d in names)
    return _header("#", stamp, len(names)) + body


def _hosts(names: list[str], stamp: datetime, _proxy: str) -> str:
    # A hosts file has no wildcards: the bare domain and its www. and mail. hosts are listed.
    lines = [f"0.0.0.0 {h}" for d in names for h in (d, f"www.{d}", f"mail.{d}")]
    note = "# A hosts file cannot match subdomains; prefer the RPZ or proxy export.\n"
    return _header("#", stamp, len(names)) + note + "\n".join(lines) + "\n"


def _rpz(names: list[str], stamp: datetime, _proxy: str) -> str:
    # RPZ (draft-vixie-dnsop-dns-rpz): "CNAME ." answers NXDOMAIN for the name; the "*."
    # owner covers its subdomains.  The serial is the generation time, so a reload sees news.
    serial = stamp.strftime("%Y%m%d%H")
    lines = [
        "$TTL 300",
        f"@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 86400 300 )",
        "@ IN NS localhost.",
    ]
    for d in names:
        lines.append(f"{d} CNAME .")
        lines.append(f"*.{d} CNAME .")
    return _header(";", stamp, len(names)) + "\n".join(lines) + "\n"


def _pac(names: list[str], stamp: datetime, proxy: str) -> str:
    # Plain ES5 with no PAC helper functions, so any PAC engine (and Node.js in our tests)
    # evaluates it the same way.
    domains = json.dumps(names, indent=0).replace("\n", "")
    return (
        _header("//", stamp, len(names))
        + f"var POSTWARDEN_WEBMAIL = {domains};\n"
        + "function FindProxyForURL(url, host) {\n"
        + "  var h = String(host).toLowerCase().replace(/\\.$/, '');\n"
        + "  for (var i = 0; i < POSTWARDEN_WEBMAIL.length; i++) {\n"
        + "    var d = POSTWARDEN_WEBMAIL[i];\n"
        + "    if (h === d || h.slice(-(d.length + 1)) === '.' + d) {\n"
        + f"      return {json.dumps('PROXY ' + proxy)};\n"
        + "    }\n"
        + "  }\n"
        + "  return 'DIRECT';\n"
        + "}\n"
    )
