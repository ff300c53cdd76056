"""Member roles (owner, admin, developer, viewer): every dashboard page declares what it
needs, each role is refused what its role lacks with 403 and nothing changes, keys a
member makes stay within their role, roles are given and changed by owners and admins,
and ownership is handed over with the owner's password; all audited."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from relay.audit.models import AuditEvent
from relay.dashboard.permissions import refusal, role_table
from relay.db import Database
from relay.tenants import roles
from relay.tenants.members import OWNER_STAYS
from relay.tenants.models import User
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, post_form, sign_up
from tests.dashboard.test_api_keys_page import KEY, create_in_dashboard
from tests.dashboard.test_members_and_datasets import MEMBERS, invite, joined_member

MISSING_ID = "00000000-0000-4000-8000-000000000000"


def test_every_dashboard_page_declares_what_it_needs(app: FastAPI) -> None:
    table = role_table(app)
    assert len(table) >= 50
    undeclared = [f"{method} {path}" for method, path, needed in table if needed is None]
    assert undeclared == [], "declare dependencies=[needs(...)] or [signed_out(...)]"
    assert ("POST", "/settings/members/ownership", roles.OWNERSHIP) in table


def test_each_role_has_exactly_its_permissions() -> None:
    assert roles.GRANTS[roles.OWNER] == set(roles.PERMISSIONS)
    assert roles.GRANTS[roles.ADMIN] == set(roles.PERMISSIONS) - {roles.OWNERSHIP}
    assert roles.GRANTS[roles.DEVELOPER] == {"view", "account", "keys", "datasets", "webhooks"}
    assert roles.GRANTS[roles.VIEWER] == {"view", "account"}


async def audit_count(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@asynccontextmanager
async def team(
    app: FastAPI, owner: httpx.AsyncClient
) -> AsyncIterator[dict[str, tuple[str, httpx.AsyncClient]]]:
    """An admin, a developer and a viewer joined to the owner's organisation."""
    async with AsyncExitStack() as stack:
        yield {
            role: await stack.enter_async_context(joined_member(app, owner, role))
            for role in roles.ASSIGNABLE
        }


async def test_every_page_refuses_a_role_without_its_permission_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # Generated from the page table: a new page is covered without editing this test.
    await sign_up(client)
    async with team(app, client) as members:
        for role, (_email, browser) in members.items():
            token = csrf_of((await browser.get("/settings/account")).text)
            for method, path, needed in role_table(app):
                if needed not in roles.PERMISSIONS or roles.may(role, needed):
                    continue
                before = await audit_count(db)
                url = re.sub(r"{\w+}", MISSING_ID, path)
                data = {"csrf_token": token} if method == "POST" else None
                refused = await browser.request(
                    method, url, data=data, headers={"Accept": "text/html"}
                )
                assert refused.status_code == 403, f"{role}: {method} {path}"
                assert refusal(role, needed) in html.unescape(refused.text)
                assert await audit_count(db) == before, f"{role}: {method} {path} changed"


async def test_a_viewer_reads_everything_and_is_offered_nothing_to_change(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    made = await create_in_dashboard(client, "Production")
    assert made.status_code == 201
    async with joined_member(app, client, roles.VIEWER) as (_email, viewer):
        keys = await viewer.get("/settings/api-keys")
        assert keys.status_code == 200
        assert "Production" in keys.text
        assert KEY.search(keys.text) is None
        for control in ("Create API Key", "/suspend", "/roll", "/revoke", "create-dialog"):
            assert control not in keys.text, control
        key_id = re.search(r'href="/settings/api-keys/([0-9a-f-]{36})"', keys.text)
        assert key_id is not None
        page = (await viewer.get(f"/settings/api-keys/{key_id.group(1)}")).text
        assert "Save name" not in page
        assert 'action="/settings/api-keys/' not in page
        members = (await viewer.get(MEMBERS)).text
        assert "Invite a member" not in members
        assert "Change role" not in members
        for readable in ("/settings/audit-log", "/settings/key-policy", "/settings/limit-pools"):
            assert (await viewer.get(readable)).status_code == 200, readable


async def test_a_developers_keys_never_hold_full_access(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    owners = await create_in_dashboard(client, "Owner's full key")
    assert owners.status_code == 201
    async with joined_member(app, client, roles.DEVELOPER) as (_email, developer):
        offered = (await developer.get("/settings/api-keys")).text
        assert 'value="full" disabled aria-describedby="key-full-access-hint"' in offered
        assert "Full access is for owners and admins" in offered

        refused = await create_in_dashboard(developer, "Everything", access="full")
        assert refused.status_code == 422
        assert "Insufficient permissions: requires full access" in refused.text
        assert KEY.search(refused.text) is None

        every_scope = {
            f"scope_{resource}": "write" for resource in ("datasets", "api_keys", "webhooks")
        }
        scoped = await create_in_dashboard(
            developer, "Deployer", access="restricted", scope_audit="read", **every_scope
        )
        assert scoped.status_code == 201
        key = KEY.search(scoped.text)
        assert key is not None
        # And that key, listing every scope, makes no full-access key through the API.
        made = await developer.post(
            "/api/v1/auth/api-keys", json={"name": "Wider"}, headers={"X-API-Key": key.group()}
        )
        assert made.status_code == 403
        assert made.json()["detail"] == "Insufficient permissions: requires full access"

        # Nor does the developer revoke the owner's full-access key (it is beyond them).
        listed = (await developer.get("/settings/api-keys")).text
        owner_key = re.search(
            r'href="/settings/api-keys/([0-9a-f-]{36})">Owner&#39;s full key<', listed
        )
        assert owner_key is not None
        action = f"/settings/api-keys/{owner_key.group(1)}/revoke"
        revoked = await post_form(developer, "/settings/api-keys", action, {})
        assert revoked.status_code == 303
        flashed = (await developer.get("/settings/api-keys")).text
        assert "Insufficient permissions: requires full access" in flashed
        assert "Owner&#39;s full key" in flashed  # still active


def member_row(page: str, email: str) -> str:
    row = re.search(rf"<tr role=\"row\">\s*<td[^>]*>{re.escape(email)}</td>(.*?)</tr>", page, re.S)
    assert row is not None, f"no row for {email}"
    return row.group(1)


async def role_of(db: Database, email: str) -> str:
    async with db.sessionmaker() as session:
        role = await session.scalar(select(User.role).where(User.email == email))
    assert role is not None
    return role


async def test_an_invitation_gives_the_role_chosen_and_an_admin_changes_it(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    async with (
        joined_member(app, client, roles.VIEWER) as (viewer_email, viewer),
        joined_member(app, client, roles.ADMIN) as (_admin_email, admin),
    ):
        assert await role_of(db, viewer_email) == "viewer"
        page = (await admin.get(MEMBERS)).text
        assert "Viewer" in member_row(page, viewer_email)
        viewer_id = re.search(
            rf'action="/settings/members/([0-9a-f-]+)/role"[^<]*<input[^>]*>\s*'
            rf'<label class="visually-hidden" for="role-[^"]+">Role of {re.escape(viewer_email)}',
            page,
        )
        assert viewer_id is not None
        changed = await post_form(
            admin, MEMBERS, f"{MEMBERS}/{viewer_id.group(1)}/role", {"role": "developer"}
        )
        assert changed.status_code == 303
        assert f"{viewer_email} is now Developer." in (await admin.get(MEMBERS)).text
        assert await role_of(db, viewer_email) == "developer"
        # From their next page the member may do what the new role allows.
        made = await create_in_dashboard(viewer, "Now allowed", access="restricted",
                                         scope_datasets="read")  # fmt: skip
        assert made.status_code == 201

        async with db.sessionmaker() as session:
            event = await session.scalar(
                select(AuditEvent).where(AuditEvent.action == "member.role_changed")
            )
        assert event is not None
        assert event.target_name == viewer_email
        assert event.details == {"from": "viewer", "to": "developer"}

        # Nobody is made owner by a role change, and the owner's role is not changed.
        owner = await session_owner(db)
        for target, role in ((viewer_id.group(1), "owner"), (str(owner.id), "viewer")):
            refused = await post_form(admin, MEMBERS, f"{MEMBERS}/{target}/role", {"role": role})
            assert refused.status_code == 303
        assert await role_of(db, owner.email) == "owner"
        assert await role_of(db, viewer_email) == "developer"
        said = (await admin.get(MEMBERS)).text
        assert html.escape(OWNER_STAYS, quote=False) in said


async def session_owner(db: Database) -> User:
    async with db.sessionmaker() as session:
        owner = await session.scalar(select(User).where(User.role == "owner"))
    assert owner is not None
    return owner


async def test_ownership_is_handed_over_with_the_owners_password_only(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    owner = await session_owner(db)
    async with joined_member(app, client, roles.ADMIN) as (admin_email, admin):
        page = (await client.get(MEMBERS)).text
        admin_id = re.search(
            rf'<option value="([0-9a-f-]+)">{re.escape(admin_email)}</option>', page
        )
        assert admin_id is not None
        transfer = f"{MEMBERS}/ownership"

        wrong = await post_form(
            client, MEMBERS, transfer, {"member": admin_id.group(1), "password": "not it"}
        )
        assert wrong.status_code == 400
        assert 'id="transfer-password-error"' in wrong.text
        # The member chosen stays chosen (forms keep what was typed), the password not.
        chosen = f'<option value="{admin_id.group(1)}" selected>{admin_email}</option>'
        assert chosen in wrong.text
        assert "not it" not in wrong.text
        assert await role_of(db, owner.email) == "owner"

        by_admin = await post_form(
            admin, MEMBERS, transfer, {"member": str(uuid.UUID(admin_id.group(1))),
                                       "password": PASSWORD},
        )  # fmt: skip
        assert by_admin.status_code == 403  # an admin never takes ownership
        assert "Hand ownership over" not in (await admin.get(MEMBERS)).text

        done = await post_form(
            client, MEMBERS, transfer, {"member": admin_id.group(1), "password": PASSWORD}
        )
        assert done.status_code == 303
        assert await role_of(db, admin_email) == "owner"
        assert await role_of(db, owner.email) == "admin"
        async with db.sessionmaker() as session:
            actions = list(
                await session.scalars(
                    select(AuditEvent.action).where(
                        AuditEvent.action.in_(
                            ["member.role_changed", "tenant.ownership_transferred"]
                        )
                    )
                )
            )
        assert sorted(actions) == [
            "member.role_changed", "member.role_changed", "tenant.ownership_transferred"
        ]  # fmt: skip
        # The new owner now hands it on; the former owner, an admin, cannot.
        assert "Hand ownership over" in (await admin.get(MEMBERS)).text
        assert "Hand ownership over" not in (await client.get(MEMBERS)).text


def test_the_docs_table_of_roles_is_the_codes() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs/guides/members-and-roles.md").read_text()
    rows = {
        cells[0]: cells[1:]
        for line in page.splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    for permission, said in roles.PERMISSIONS.items():
        marks = ["yes" if roles.may(role, permission) else "-" for role in roles.ROLES]
        assert rows[permission] == [*marks, said], permission


async def test_a_member_who_may_no_longer_invite_leaves_no_invitation_behind(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    """An admin about to be demoted or removed cannot invite an address of their own
    and come back through it (the review's finding)."""
    await sign_up(client)
    async with joined_member(app, client, roles.ADMIN) as (admin_email, admin):
        link = await invite(admin, new_email(), "admin")
        assert (await admin.get(link)).status_code == 200
        async with db.sessionmaker() as session:
            admin_id = await session.scalar(select(User.id).where(User.email == admin_email))
        demoted = await post_form(
            client, MEMBERS, f"{MEMBERS}/{admin_id}/role", {"role": "developer"}
        )
        assert demoted.status_code == 303
        assert (await admin.get(link)).status_code != 200  # the link no longer works
