"""After real use, no key, password or session token is anywhere in the database
files (the audit log and usage tables included) or the server's log: only digests
and 12-character key prefixes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, signup_fields
from tests.live_server import run_server


def test_no_secret_in_the_database_files_or_the_log(tmp_path: Path) -> None:
    database = tmp_path / "relay.db"
    log_path = tmp_path / "serve.log"
    secrets: list[str] = [PASSWORD, "correct horse battery"]
    with run_server(f"sqlite:///{database}", log_path) as server:
        admin_key = server.create_tenant()["api_key"]
        secrets.append(admin_key)
        api = f"{server.base_url}/api/v1"
        with httpx.Client(headers={"X-API-Key": admin_key}) as client:
            for name in ("Production Server", "CI/CD Pipeline"):
                created = client.post(f"{api}/auth/api-keys", json={"name": name}).json()
                secrets.append(created["key"])
                assert httpx.get(
                    f"{api}/datasets", headers={"X-API-Key": created["key"]}
                ).is_success
            rotated = client.post(f"{api}/auth/api-keys/{created['id']}/rotate").json()
            secrets.append(rotated["key"])
            limited = client.post(
                f"{api}/auth/api-keys",
                json={"name": "Limited", "scopes": ["datasets:read"],
                      "rate_limit": {"requests": 5, "per_seconds": 60}},
            ).json()  # fmt: skip
            secrets.append(limited["key"])
            httpx.get(f"{api}/datasets", headers={"X-API-Key": limited["key"]})
            client.delete(f"{api}/auth/api-keys/{created['id']}")
            client.get(f"{api}/datasets", headers={"X-API-Key": created["key"] + "x"})
            # The audit log and usage tables fill as well (flushed at shutdown).
            assert client.get(f"{api}/audit-events").json()["items"]

        with httpx.Client(base_url=server.base_url) as browser:
            token = csrf_of(browser.get("/signup").text)
            browser.post("/signup", data={"csrf_token": token} | signup_fields(new_email()))
            secrets.append(browser.cookies["relay_session"])
            token = csrf_of(browser.get("/settings/members").text)  # the session's own
            page = browser.post(
                "/settings/members", data={"csrf_token": token, "email": new_email()}
            ).text
            invitation = re.search(r"/invitations/([A-Za-z0-9_-]+)", page)
            assert invitation is not None
            secrets.append(invitation.group(1))
            # Paths that match no route are logged as a placeholder, never as sent:
            # a stray trailing slash once put an invitation token in the log.
            for unmatched in (f"/invitations/{invitation.group(1)}/", f"/x/{admin_key}"):
                assert browser.get(unmatched).status_code in (307, 404)

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("relay.db*"))
    log = log_path.read_bytes()
    assert len(stored) > 0
    for secret in secrets:
        # A key's first 12 characters are its public prefix; the rest must not appear.
        hidden = secret[12:] if secret.startswith("rl_live_") else secret
        assert hidden.encode() not in stored, f"a secret is stored in plain text: {hidden[:4]}…"
        assert hidden.encode() not in log, f"a secret is in the log: {hidden[:4]}…"
