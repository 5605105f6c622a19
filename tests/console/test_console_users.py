"""The admin's users page: who can sign in, and ending someone's sessions."""

from __future__ import annotations

from tests.console.conftest import Console, csrf_of

from postwarden.store.users import get_user


def test_admin_ends_a_users_sessions(console: Console) -> None:
    with console.gateway.session() as db:
        bob_id = get_user(db, "bob").id
    with console.login("bob") as bob, console.login("adam") as adam:
        assert bob.get("/").status_code == 200
        page = adam.get("/users")
        assert "bob" in page.text
        assert "End sessions" in page.text
        response = adam.post(f"/users/{bob_id}/signout", data={"csrf": csrf_of(page)})
        assert response.status_code == 303
        assert bob.get("/").status_code == 303  # back to the sign-in page
        assert adam.get("/").status_code == 200  # only bob's sessions ended
