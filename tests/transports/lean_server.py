"""``python -m tests.transports.lean_server DATA_DIR PORT``: the HTTP API behind the guarded
uvicorn protocol, over an engine double that keeps nothing, for measuring what the transport
itself holds in memory (test_http_memory.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from postwarden.model import Action, Envelope, Verdict
from postwarden.settings import load_settings
from postwarden.transports.http import create_api
from postwarden.transports.http_protocol import HttpGuard, guarded_config


class LeanInspector:
    """Reads every byte of the message (as the engine would), keeps none of them."""

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        return Verdict(action=Action.DELIVER if raw.count(b"\n") >= 0 else Action.HOLD)


def main() -> None:
    settings = load_settings(Path(sys.argv[1]))
    port = int(sys.argv[2])
    app = create_api(settings, LeanInspector(), max_body_bytes=128 * 1024 * 1024)
    config = guarded_config(app, "127.0.0.1", port, HttpGuard.from_access(settings.access))
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
