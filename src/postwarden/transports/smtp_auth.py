"""SMTP AUTH (RFC 4954; PLAIN RFC 4616, LOGIN) for the relay, against the console users.

Off unless ``relay --auth`` / ``serve --auth``. There is no TLS in the relay, so AUTH is
offered only to loopback clients (a TLS terminator or a webmail on the same host): a password
never crosses a network in clear. A signed-in user may send only as their own address.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from typing import Any

from aiosmtpd.smtp import MISSING
from aiosmtpd.smtp import SMTP as SmtpServer

from postwarden.act import Gateway
from postwarden.store.credentials import check_password
from postwarden.store.users import User, UserError, get_user
from postwarden.transports.relay_access import SmtpLogin

__all__ = ["SmtpAuthenticator"]

log = logging.getLogger(__name__)

OK = "235 2.7.0 Authentication successful"
INVALID = "535 5.7.8 Authentication credentials invalid"
# After a failed attempt the client waits this long for the answer (slows password guessing).
FAILURE_DELAY = 1.0
# Failed attempts one connection may make before AUTH is refused on it.
MAX_FAILURES = 3


class SmtpAuthenticator:
    """Checks user name and password against the users table (argon2id)."""

    def __init__(self, gateway: Gateway, *, concurrency: int = 2) -> None:
        self.gateway = gateway
        # argon2id costs 64 MiB and tens of ms per check: a few at a time, in threads.
        self._slots = asyncio.Semaphore(concurrency)

    async def authenticate(
        self, server: SmtpServer, args: list[str]
    ) -> tuple[str, SmtpLogin | None]:
        """Run one AUTH exchange (``args`` = mechanism and optional initial response): the
        reply to send and the login it proved, if any. An empty reply means the exchange
        already answered (the client aborted, or sent bad base64)."""
        mechanism = args[0].upper()
        credentials = await self._read(server, mechanism, args[1] if len(args) > 1 else None)
        if credentials is None:
            return "", None
        name, password = credentials
        async with self._slots:
            login = await asyncio.get_running_loop().run_in_executor(
                None, self._check, name, password
            )
        if login is None:
            log.warning("relay: AUTH %s failed for user %r", mechanism, name[:64])
            await asyncio.sleep(FAILURE_DELAY)
            return INVALID, None
        log.info("relay: AUTH %s as %s", mechanism, login.name)
        return OK, login

    async def _read(
        self, server: SmtpServer, mechanism: str, initial: str | None
    ) -> tuple[str, str] | None:
        if mechanism == "PLAIN":
            blob = await _response(server, "", initial)
            if blob is None:
                return None
            parts = blob.split(b"\x00")
            if len(parts) != 3:
                await server.push("501 5.5.2 Cannot split the PLAIN response")
                return None
            # RFC 4616: [authzid] NUL authcid NUL passwd; an authzid other than the user
            # would be acting as someone else, which we do not offer.
            authzid, user, password = parts
            if authzid and authzid != user:
                await server.push("535 5.7.8 Authorization identity not allowed")
                return None
            return _text(user), _text(password)
        if mechanism == "LOGIN":
            user_b = await _response(server, "User Name", initial)
            if user_b is None:
                return None
            password_b = await _response(server, "Password", None)
            if password_b is None:
                return None
            return _text(user_b), _text(password_b)
        await server.push("504 5.5.4 Unrecognized authentication type")
        return None

    def _check(self, name: str, password: str) -> SmtpLogin | None:
        with self.gateway.session() as session:
            user: User | None
            try:
                user = get_user(session, name)
            except UserError:
                user = None
            ok = check_password(user, password)  # costs the same for unknown users
            if not ok or user is None:
                return None
            login = SmtpLogin(user.name, user.email)
            session.commit()  # check_password may have re-hashed with current parameters
            return login


async def _response(server: SmtpServer, challenge: str, initial: str | None) -> bytes | None:
    """The client's base64 response: the initial response, or one to a 334 challenge."""
    if initial is not None:
        if initial == "=":  # RFC 4954 §4: an empty initial response
            return b""
        try:
            return b64decode(initial, validate=True)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Cannot decode base64")
            return None
    got: Any = await server.challenge_auth(challenge)
    if got is MISSING:
        return None  # aiosmtpd already answered (aborted with '*', or bad base64)
    return bytes(got)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")
