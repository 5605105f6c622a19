"""The review console: server-rendered pages for reviewers, privacy officers and senders."""

from __future__ import annotations

from postwarden.console.app import create_console

__all__ = ["create_console"]
