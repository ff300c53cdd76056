"""Members by invitation link, and the dataset pages."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from relay.actors import SYSTEM
from relay.dashboard.permissions import refusal
from relay.datasets import service as datasets_service
from relay.datasets.schemas import DatasetCreate
from relay.tenants.members import ALREADY_A_MEMBER, INVITED_EMAIL_TAKEN, OWNER_STAYS
from relay.tenants.models import User
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, new_email, post_form, sign_up

MEMBERS = "/settings/members"
# Built from RELAY_PUBLIC_URL (its default here), never from the Host header.
LINK = re.compile(r"http://127\.0\.0\.1:8000(/invitations/[A-Za-z0-9_-]+)")


async def invite(client: httpx.AsyncClient, email: str, role: str = "developer") -> str:
    response = await post_form(client, MEMBERS, MEMBERS, {"email": email, "role": role})
    assert response.status_code == 201
    match = LINK.search(response.text)
    assert match is not None
    return match.group(1)


async def test_invited_member_joins_and_sees_the_same_keys(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    await post_form(
        client,
        "/settings/api-keys",
        "/settings/api-keys",
        {"name": "Shared key", "expiration": "none"},
    )
    member_email = new_email()
    link = await invite(client, member_email)
    assert link not in (await client.get(MEMBERS)).text  # shown once
    assert member_email in (await client.get(MEMBERS)).text  # pending

    async with asgi_client(app) as member:
        page = await member.get(link)
        assert member_email in page.text
        joined = await post_form(member, link, link, {"password": PASSWORD})
        assert joined.status_code == 303
        keys_page = (await member.get("/settings/api-keys")).text
        assert "Shared key" in keys_page
        assert member_email in keys_page
        members_page = (await member.get(MEMBERS)).text
        assert "Member" in members_page
        assert "Create invitation link" not in members_page  # only the owner invites

    async with asgi_client(app) as replay:
        used = await replay.get(link)
        assert used.status_code == 404
        assert "invalid, expired or already used" in used.text
        assert '<a href="/login">Sign in</a>' in used.text


async def test_member_cannot_invite(app: FastAPI, client: httpx.AsyncClient) -> None:
    await sign_up(client)
    link = await invite(client, new_email())
    async with asgi_client(app) as member:
        await post_form(member, link, link, {"password": PASSWORD})
        refused = await post_form(member, MEMBERS, MEMBERS, {"email": new_email()})
        assert refused.status_code == 403  # a developer, the role invited by default
        assert html.escape(refusal("developer", "members")) in refused.text


@asynccontextmanager
async def joined_member(
    app: FastAPI, owner: httpx.AsyncClient, role: str = "developer"
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A new member invited by `owner` with `role`, signed in on a client of their own."""
    email = new_email()
    link = await invite(owner, email, role)
    async with asgi_client(app) as member:
        assert (await post_form(member, link, link, {"password": PASSWORD})).status_code == 303
        yield email, member


def found(page: str, pattern: str, what: str) -> str:
    """The first group of `pattern` in the page; fails naming `what` when absent."""
    match = re.search(pattern, page)
    assert match is not None, f"no {what} on the page"
    return match.group(1)


def member_id(members_page: str, email: str) -> str:
    pattern = (
        r'data-confirm-action="/settings/members/([0-9a-f-]+)/remove"'
        rf' data-confirm-name="{re.escape(email)}"'
    )
    return found(members_page, pattern, f"Remove button for {email}")


async def test_owner_removes_a_member_who_is_signed_out_at_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    async with joined_member(app, client) as (email, member):
        assert (await member.get("/settings/api-keys")).status_code == 200
        page = (await client.get(MEMBERS)).text
        removing = member_id(page, email)
        # Without JavaScript, the Remove link opens the confirmation as a page.
        confirm = await client.get(f"{MEMBERS}?remove={removing}")
        assert f"Remove “<strong data-confirm-name>{email}</strong>”" in confirm.text

        removed = await post_form(client, MEMBERS, f"{MEMBERS}/{removing}/remove", {})
        assert removed.status_code == 303
        page = (await client.get(MEMBERS)).text
        assert f"{email} was removed and signed out." in page
        assert email not in page.replace(f"{email} was removed", "")

        # Their open session is over, and they cannot sign in again.
        assert (await member.get("/settings/api-keys")).headers["location"].startswith("/login")
        again = await post_form(member, "/login", "/login", {"email": email, "password": PASSWORD})
        assert again.status_code == 401


async def test_a_developer_cannot_remove_and_the_owner_is_never_removed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    owner_page = (await client.get(MEMBERS)).text
    assert "data-confirm-action" not in owner_page  # no Remove beside the owner
    async with (
        joined_member(app, client) as (email, member),
        joined_member(app, client) as (_other_email, other),
    ):
        removing = member_id((await client.get(MEMBERS)).text, email)
        refused = await post_form(other, MEMBERS, f"{MEMBERS}/{removing}/remove", {})
        assert refused.status_code == 403
        assert "Remove" not in (await other.get(MEMBERS)).text
        assert (await member.get("/settings/api-keys")).status_code == 200

    async with app.state.db.sessionmaker() as session:
        owner = await session.scalar(select(User).where(User.role == "owner"))
    assert owner is not None
    itself = await post_form(client, MEMBERS, f"{MEMBERS}/{owner.id}/remove", {})
    assert itself.status_code == 303
    assert html.escape(OWNER_STAYS, quote=False) in (await client.get(MEMBERS)).text


async def test_an_owner_cannot_remove_another_tenants_member(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    async with joined_member(app, client) as (email, member), asgi_client(app) as stranger:
        removing = member_id((await client.get(MEMBERS)).text, email)
        await sign_up(stranger)
        refused = await post_form(stranger, MEMBERS, f"{MEMBERS}/{removing}/remove", {})
        assert refused.status_code == 303
        assert "Member not found" in (await stranger.get(MEMBERS)).text
        assert (await member.get("/settings/api-keys")).status_code == 200


def cancel_action(members_page: str, email: str) -> str:
    pattern = (
        r'action="(/settings/members/invitations/[0-9a-f-]+/cancel)"[^<]*<input[^>]*>\s*'
        rf"<button[^>]*>Cancel<span[^>]*> the invitation for {re.escape(email)}<"
    )
    return found(members_page, pattern, f"Cancel button for the invitation of {email}")


async def test_owner_cancels_an_invitation_and_its_link_stops_working(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    email = new_email()
    link = await invite(client, email)
    action = cancel_action((await client.get(MEMBERS)).text, email)

    cancelled = await post_form(client, MEMBERS, action, {})
    assert cancelled.status_code == 303
    page = (await client.get(MEMBERS)).text
    assert f"The invitation for {email} was cancelled." in page
    assert "Pending invitations" not in page
    async with asgi_client(app) as invitee:
        assert (await invitee.get(link)).status_code == 404


async def test_only_the_owner_of_the_tenant_cancels_an_invitation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    email = new_email()
    link = await invite(client, email)
    action = cancel_action((await client.get(MEMBERS)).text, email)
    async with joined_member(app, client) as (_member_email, member):
        refused = await post_form(member, MEMBERS, action, {})
        assert refused.status_code == 403  # a developer may not
        assert html.escape(refusal("developer", "members")) in refused.text
    async with asgi_client(app) as stranger:
        await sign_up(stranger)
        await post_form(stranger, MEMBERS, action, {})
        refused = '<p class="flash flash-error" role="alert" data-announce>Invitation not found</p>'
        assert refused in (await stranger.get(MEMBERS)).text
    async with asgi_client(app) as invitee:
        assert (await invitee.get(link)).status_code == 200  # still usable


async def test_short_password_keeps_the_invitation_usable(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    link = await invite(client, new_email())
    async with asgi_client(app) as member:
        short = await post_form(member, link, link, {"password": "short"})
        assert short.status_code == 400
        assert "Password must be at least 10 characters" in short.text
        assert (await post_form(member, link, link, {"password": PASSWORD})).status_code == 303


async def test_dataset_create_view_rename_delete(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    assert "No datasets yet" in (await client.get("/datasets")).text
    created = await post_form(
        client,
        "/datasets/new",
        "/datasets",
        {
            "name": "Street scenes",
            "description": "Dashcam frames",
            "artifact_name": ["bounding_box", "", "mask"],
            "artifact_description": ["Cars", "", ""],
            "artifact_color": ["#3b82f6", "#000000", "#10b981"],
        },
    )
    assert created.status_code == 303
    dataset_url = created.headers["location"]
    listing = (await client.get("/datasets")).text
    assert 'data-color="#3b82f6"' in listing
    assert ">mask</span>" in listing

    renamed = await post_form(
        client, dataset_url, dataset_url, {"name": "Renamed", "description": ""}
    )
    assert renamed.status_code == 303
    assert "<h1>Renamed</h1>" in (await client.get(dataset_url)).text

    confirm = await client.get(f"{dataset_url}?delete=1")
    assert "Delete “<strong data-confirm-name>Renamed</strong>” for good?" in confirm.text
    deleted = await post_form(client, dataset_url, f"{dataset_url}/delete", {})
    assert deleted.status_code == 303
    assert "Dataset “Renamed” deleted." in (await client.get("/datasets")).text


async def test_dataset_validation_errors_show_next_to_the_field(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    response = await post_form(
        client,
        "/datasets/new",
        "/datasets",
        {
            "name": "",
            "artifact_name": ["Bad Name"],
            "artifact_description": [""],
            "artifact_color": ["#000000"],
        },
    )
    assert response.status_code == 422
    page = response.text
    assert '<span class="visually-hidden">Error: </span>Enter a name for the dataset' in page
    # The review: the type's error had no aria-invalid, no describedby, pydantic's words.
    marked = 'aria-invalid="true" aria-describedby="artifact-name-0-error"'
    assert f'value="Bad Name" placeholder="bounding_box" {marked}' in page
    assert (
        'id="artifact-name-0-error"><span class="visually-hidden">Error: </span>Use a to z' in page
    )
    assert "String should" not in page
    assert '<legend class="visually-hidden">Artifact type 1</legend>' in page
    assert page.index('href="#name"') < page.index('href="#artifact-name-0"')  # page order
    assert (await client.get("/datasets")).text.count("/datasets/") <= 1


async def test_repeated_type_names_are_an_error_of_the_group(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    response = await post_form(
        client,
        "/datasets/new",
        "/datasets",
        {"name": "Scenes", "artifact_name": ["box", "box"], "artifact_description": ["", ""],
         "artifact_color": ["#000000", "#000000"]},
    )  # fmt: skip
    page = response.text
    message = "Give each artifact type a different name"
    assert (
        f'id="artifact-types-error"><span class="visually-hidden">Error: </span>{message}' in page
    )
    assert 'aria-describedby="artifact-types-error artifact-types-hint"' in page
    assert '<a href="#artifact-types">' in page


async def test_inviting_an_address_again_refreshes_its_pending_invitation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    email = new_email()
    first = await invite(client, email)
    second = await invite(client, email)
    assert first != second
    page = (await client.get(MEMBERS)).text
    assert page.count('<li class="invitation">') == 1  # one pending invitation, not two
    async with asgi_client(app) as stale:
        assert (await stale.get(first)).status_code == 404  # the old link stopped working
        assert (await stale.get(second)).status_code == 200


async def test_a_refused_invitation_keeps_the_address_at_its_field(
    client: httpx.AsyncClient,
) -> None:
    email = new_email()
    await sign_up(client, email)
    response = await post_form(client, MEMBERS, MEMBERS, {"email": email.upper()})
    page = response.text
    assert response.status_code == 409
    assert (
        f'value="{email.upper()}" aria-invalid="true" aria-describedby="invite-email-error"' in page
    )
    assert f'<a href="#invite-email">{ALREADY_A_MEMBER}</a>' in page
    assert page.index('id="invite-email-error"') < page.index('id="invite-email"')


async def test_inviting_another_tenants_user_tells_the_owner_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """An outside review: the answer to an invitation told any owner, at no cost,
    whether an email had an account anywhere on the server."""
    elsewhere = new_email()
    async with asgi_client(app, "198.51.100.30") as other_tenant:
        await sign_up(other_tenant, elsewhere)
    await sign_up(client)
    link = await invite(client, elsewhere)  # 201, as for an address never seen
    await invite(client, new_email())
    async with asgi_client(app, "203.0.113.31") as invited:
        accepted = await post_form(invited, link, link, {"password": PASSWORD})
    assert accepted.status_code == 409
    assert INVITED_EMAIL_TAKEN in html.unescape(accepted.text)
    async with app.state.db.sessionmaker() as session:
        users = await session.scalar(select(func.count()).where(User.email == elsewhere))
    assert users == 1  # still only the other tenant's


async def test_the_dataset_list_pages_through_every_dataset(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    async with app.state.db.sessionmaker.begin() as session:
        tenant_id = await session.scalar(select(User.tenant_id))
        for number in range(51):
            data = DatasetCreate(name=f"Set {number:02d}")
            await datasets_service.create_dataset(
                session, reach=datasets_service.Reach(tenant_id), data=data, actor=SYSTEM
            )

    first = (await client.get("/datasets")).text
    assert "1 to 50 of 51, newest first" in first
    assert ">Set 50</a>" in first
    assert ">Set 00</a>" not in first
    assert 'href="/datasets?page=2" rel="next"' in first
    assert 'rel="prev"' not in first

    second = (await client.get("/datasets?page=2")).text
    assert "51 to 51 of 51, newest first" in second
    assert ">Set 00</a>" in second  # the oldest
    assert 'href="/datasets?page=1" rel="prev"' in second
    assert 'rel="next"' not in second

    assert "No datasets on this page" in (await client.get("/datasets?page=3")).text
    for nonsense in ("0", "-1", "abc", "99999999999"):
        assert "1 to 50 of 51" in (await client.get(f"/datasets?page={nonsense}")).text


async def test_invitations_links_ignore_the_host_header(client: httpx.AsyncClient) -> None:
    # The review's finding: with `Host: evil.example` the owner was shown a link to
    # evil.example. Links start with RELAY_PUBLIC_URL, whatever the request says.
    await sign_up(client)
    page = await client.get(MEMBERS)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        MEMBERS,
        data={"csrf_token": token.group(1), "email": new_email()},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 201
    assert LINK.search(response.text)
    assert "evil.example" not in response.text


async def test_members_joining_and_leaving_are_in_the_audit_log(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    member_email = new_email()
    link = await invite(client, member_email)
    async with asgi_client(app, "192.0.2.77") as member:
        await post_form(member, link, link, {"password": PASSWORD})
        member_id = await member_id_of(app, member_email)
    await post_form(client, MEMBERS, f"{MEMBERS}/{member_id}/remove", {})
    page = (await client.get("/settings/audit-log")).text
    for action in ("member.invited", "member.joined", "member.removed"):
        assert action in page
    assert f"user:{member_email}" in page  # who joined
    assert "192.0.2.77" in page  # from where


async def member_id_of(app: FastAPI, email: str) -> str:
    async with app.state.db.sessionmaker() as session:
        return str(await session.scalar(select(User.id).where(User.email == email)))
