"""The account page: setting up, refusing and turning off the TOTP authenticator."""

from __future__ import annotations

import html
import re

import pyotp
from tests.console.conftest import PASSWORD, Console, csrf_of

from postwarden.store import credentials
from postwarden.store.users import get_user

_SECRET = re.compile(r'name="secret" value="([A-Z2-7]+=*)"')


def test_account_totp_setup_wrong_code_enable_and_disable(console: Console) -> None:
    with console.login("bob") as client:
        plain = client.get("/account")
        assert plain.status_code == 200
        assert "?setup=1" in plain.text
        assert _SECRET.search(plain.text) is None

        setup = client.get("/account", params={"setup": "1"})
        match = _SECRET.search(setup.text)
        assert setup.status_code == 200
        assert match
        secret = match.group(1)
        assert "otpauth://totp/" in html.unescape(setup.text)

        code = pyotp.TOTP(secret).now()
        wrong = client.post(
            "/account/totp",
            data={
                "csrf": csrf_of(setup),
                "secret": secret,
                "code": "000000" if code != "000000" else "111111",
            },
        )
        # The same key and its link stay on the page, so the member can try the next code.
        assert wrong.status_code == 400
        again = _SECRET.search(wrong.text)
        assert again
        assert again.group(1) == secret
        assert secret in html.unescape(wrong.text).split("otpauth://totp/", 1)[1]
        assert 'class="flash error"' in wrong.text

        enabled = client.post(
            "/account/totp", data={"csrf": csrf_of(setup), "secret": secret, "code": code}
        )
        assert enabled.status_code == 303
        assert enabled.headers["location"].endswith("/account?ok=totp")

        page = client.get("/account")
        refused = client.post(
            "/account/totp/disable", data={"csrf": csrf_of(page), "password": "not it"}
        )
        assert refused.status_code == 400
        assert "Wrong password: TOTP stays on." in refused.text
        with console.gateway.session() as db:
            assert credentials.totp_enabled(db, get_user(db, "bob").id)

        disabled = client.post(
            "/account/totp/disable", data={"csrf": csrf_of(page), "password": PASSWORD}
        )
        assert disabled.status_code == 303
        with console.gateway.session() as db:
            assert not credentials.totp_enabled(db, get_user(db, "bob").id)
