"""After real use, no key, password, session token, link token (invitation, password
reset, sign-up), two-factor secret or recovery code is anywhere in the database
files (the audit log and usage tables included) or the server's log: only digests,
sealed secrets and 12-character key prefixes."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pyotp

from tests.accounts.helpers import path_of, sealed_setup, shown_recovery_codes, shown_secret
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email
from tests.live_server import run_server
from tests.mail_server import RESET_SUBJECT, SENDER, MailServer, link_in

SECRET_KEY = "secret-key-of-the-secrets-at-rest-test-0123456789abcdef"
NEW_PASSWORD = "a new password for the reset"


def post(browser: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    return browser.post(action, data={"csrf_token": csrf_of(browser.get(page).text)} | data)


def account_security(browser: httpx.Client, mail_server: MailServer) -> list[str]:
    """Sign up by mail, turn two-factor on, sign in with a code and a recovery code,
    reset the password by mail; returns every secret that went by."""
    email = new_email()
    secrets = [NEW_PASSWORD]
    post(browser, "/signup", "/signup", {"email": email})
    confirm = path_of(link_in(mail_server.inbox.wait_for(email), "/signup/confirm/"))
    secrets.append(confirm.rsplit("/", 1)[1])
    post(browser, confirm, confirm, {"organisation": "Acme", "password": PASSWORD})
    secrets.append(browser.cookies["relay_session"])

    setup = browser.get("/settings/account/two-factor").text
    secret = shown_secret(setup)
    fields = {"password": PASSWORD, "setup": sealed_setup(setup), "code": pyotp.TOTP(secret).now()}
    enabled = post(browser, "/settings/account/two-factor", "/settings/account/two-factor", fields)
    codes = shown_recovery_codes(enabled.text)
    secrets += [secret, *codes, *(code.replace("-", "") for code in codes)]
    for second_factor in (pyotp.TOTP(secret).at(int(time.time()) + 30), codes[0]):
        browser.cookies.clear()
        post(browser, "/login", "/login", {"email": email, "password": PASSWORD})
        secrets.append(browser.cookies["relay_pending_sign_in"])
        signed_in = post(browser, "/login/two-factor", "/login/two-factor", {"code": second_factor})
        assert signed_in.headers["location"] == "/settings/api-keys"
        secrets.append(browser.cookies["relay_session"])

    post(browser, "/forgot-password", "/forgot-password", {"email": email})
    reset = path_of(
        link_in(mail_server.inbox.wait_for_subject(email, RESET_SUBJECT), "/reset-password/")
    )
    secrets.append(reset.rsplit("/", 1)[1])
    assert post(browser, reset, reset, {"password": NEW_PASSWORD}).status_code == 303
    post(browser, "/login", "/login", {"email": email, "password": NEW_PASSWORD})
    signed_in = post(browser, "/login/two-factor", "/login/two-factor", {"code": codes[1]})
    assert signed_in.headers["location"] == "/settings/api-keys"
    secrets.append(browser.cookies["relay_session"])
    return secrets


def test_no_secret_in_the_database_files_or_the_log(
    tmp_path: Path, mail_server: MailServer
) -> None:
    database = tmp_path / "relay.db"
    log_path = tmp_path / "serve.log"
    secrets: list[str] = [PASSWORD, "correct horse battery", SECRET_KEY]
    env = {"RELAY_SECRET_KEY": SECRET_KEY, "RELAY_SMTP_URL": mail_server.url,
           "RELAY_SMTP_FROM": SENDER}  # fmt: skip
    with run_server(f"sqlite:///{database}", log_path, env=env) as server:
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
            secrets += account_security(browser, mail_server)
            token = csrf_of(browser.get("/settings/members").text)  # the session's own
            invitee = new_email()
            sent = browser.post("/settings/members", data={"csrf_token": token, "email": invitee})
            assert sent.status_code == 201
            invitation = path_of(link_in(mail_server.inbox.wait_for(invitee), "/invitations/"))
            secrets.append(invitation.rsplit("/", 1)[1])
            # Paths that match no route are logged as a placeholder, never as sent:
            # a stray trailing slash once put an invitation token in the log.
            for unmatched in (f"{invitation}/", f"/x/{admin_key}"):
                assert browser.get(unmatched).status_code in (307, 404)

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("relay.db*"))
    log = log_path.read_bytes()
    assert len(stored) > 0
    for secret in secrets:
        # A key's first 12 characters are its public prefix; the rest must not appear.
        hidden = secret[12:] if secret.startswith("rl_live_") else secret
        assert hidden.encode() not in stored, f"a secret is stored in plain text: {hidden[:4]}…"
        assert hidden.encode() not in log, f"a secret is in the log: {hidden[:4]}…"
