"""Posting the dashboard's forms one field at a time, in this process: who posts each
form (signed in, signed out, half-way through a two-factor sign-in), what it aims at
(a fresh key, dataset, invitation or link token when its success uses one up), and
which fields its page read, noted as it runs."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from starlette.datastructures import FormData

from relay.accounts import passwords as account_passwords
from relay.accounts import sign_ups
from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.dashboard.csrf import form_token
from relay.dashboard.web import CSRF_FIELD, PRESESSION_COOKIE, UNSTORABLE_FIELD
from relay.db import Database, utcnow
from relay.tenants import members
from relay.tenants import service as tenants_service
from relay.tenants.models import User
from tests.accounts.helpers import make_owner, sealed_setup, signed_in, turn_on_two_factor
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, new_email
from tests.fuzz.common import encoded, from_new_address
from tests.fuzz.conftest import FUZZ_ENDPOINT

# Who posts a form.
OWNER = "owner"  # the tenant's owner, signed in
SECOND = "second"  # a member with two-factor sign-in on, signed in
SIGNED_OUT = "signed out"  # a browser with a pre-session only
PENDING = "pending"  # signed in with the second member's password, the code not yet given

Value = str | list[str]


@dataclass(frozen=True)
class Form:
    """A form's valid base: each fuzzed value replaces one field of it (the first item
    of a repeated field), so that the others let the value reach the code. Base
    values may name "{n}" (a number never used before), "{owner_email}", "{dataset}",
    "{pool}", "{member}" (the second member) and "{setup}" (the owner's sealed
    two-factor set-up)."""

    base: dict[str, Value]
    who: str = OWNER
    # What the route aims at is made anew for every post: its success uses it up.
    fresh: bool = False
    # The apps it is fuzzed on: without mail ("plain"), with mail ("mail").
    apps: tuple[str, ...] = ("plain",)


@dataclass
class Sent:
    status: int
    location: str
    read: set[str]
    # Refused by a column (relay.db.StoredString, the last guard), not by the rule of
    # the field that should have refused it first, at the field.
    by_column: bool


@dataclass
class Dashboard:
    """The clients of one app, the people behind them, and what they aim at."""

    app: FastAPI
    db: Database
    owner: User
    second: User
    reset_user: User
    api_key: str
    api_key_id: uuid.UUID
    clients: dict[str, httpx.AsyncClient]
    context: dict[str, str] = field(default_factory=dict)
    noted: list[str] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def post(self, route: str, form: Form, fields: dict[str, Value]) -> Sent:
        """Post `fields` to `route` as its form's poster, aimed at fresh targets or at
        `self.context`'s; what the page answered and read."""
        ids = await self.aim(route) if form.fresh else self.context
        client = await self._client_for(form.who)
        pairs = [(name, item) for name, value in fields.items() for item in _items(value)]
        body = encoded([(CSRF_FIELD, self._token(form.who)), *pairs])
        headers = from_new_address() | {"Content-Type": "application/x-www-form-urlencoded"}
        self.noted.clear()
        response = await client.post(route.format(**ids), content=body, headers=headers)
        read = set(self.noted) - {CSRF_FIELD}
        location = response.headers.get("location", "")
        return Sent(response.status_code, location, read, UNSTORABLE_FIELD in response.text)

    def base_of(self, form: Form) -> dict[str, Value]:
        values = self.context | {"n": str(next(self.numbers))}
        return {
            name: value.format(**values)
            if isinstance(value, str)
            else [item.format(**values) for item in value]
            for name, value in form.base.items()
        }

    async def aim(self, route: str) -> dict[str, str]:
        """A target for each of `route`'s path parameters, made for it."""
        return {name: await self._target(name, route) for name in re.findall(r"{(\w+)}", route)}

    async def _target(self, name: str, route: str) -> str:
        n = next(self.numbers)
        if name == "key_id":
            async with self.db.sessionmaker.begin() as session:
                key, _ = await auth_service.create_api_key(
                    session, tenant_id=self.owner.tenant_id, data=ApiKeyCreate(name=f"Aim {n}"),
                    actor=SYSTEM, created_by=None,
                )  # fmt: skip
                return str(key.id)
        api = {"dataset_id": ("/api/v1/datasets", {"name": f"Aim {n}"}),
               "pool_id": ("/api/v1/limit-pools", {"name": f"Aim {n}"}),
               "endpoint_id": ("/api/v1/webhook-endpoints", FUZZ_ENDPOINT)}  # fmt: skip
        if name in api:
            path, body = api[name]
            async with asgi_client(self.app) as client:
                made = await client.post(path, json=body, headers={"X-API-Key": self.api_key})
            assert made.status_code == 201, made.text
            return str(made.json()["id"])
        if name == "member_id":
            return str((await self.new_member()).id)
        if name == "invitation_id" or route.startswith("/invitations/"):
            invitation, token = await invitation_of(self.db, self.owner)
            return token if name == "token" else str(invitation.id)
        if route.startswith("/signup/confirm/"):
            async with self.db.sessionmaker.begin() as session:
                token = await sign_ups.request_sign_up(session, email=new_email())
            assert token is not None
            return token
        if route.startswith("/reset-password/"):
            async with self.db.sessionmaker.begin() as session:
                user = await session.get(User, self.reset_user.id)
                assert user is not None
                token, _ = await account_passwords.create_reset_token(session, user=user)
            return token
        # Notices, sessions and deliveries: their routes read no field.
        return str(uuid.uuid4())

    async def new_member(self) -> User:
        return await new_member(self.db, self.owner)

    async def keys_out_of_sight(self) -> None:
        """The owner's keys revoked, but for the two the fuzzer uses: the keys page
        (the create and roll forms' answer) lists up to 100 active keys, and rendering
        the ones made before was most of the fuzzer's time."""
        keep = {self.api_key_id, uuid.UUID(self.context["key_id"])}
        async with self.db.sessionmaker.begin() as session:
            out = update(ApiKey).where(
                ApiKey.tenant_id == self.owner.tenant_id,
                ApiKey.revoked_at.is_(None),
                ApiKey.id.not_in(keep),
            )
            await session.execute(out.values(revoked_at=utcnow()))

    async def password_back(self) -> None:
        """The owner's password as it was (after a fuzzed new one was accepted)."""
        password_hash = await tenants_service.prepare_password(PASSWORD)
        async with self.db.sessionmaker.begin() as session:
            back = update(User).where(User.id == self.owner.id)
            await session.execute(back.values(password_hash=password_hash))

    async def _client_for(self, who: str) -> httpx.AsyncClient:
        if who in (OWNER, SECOND):
            return self.clients[who]
        client = self.clients[SIGNED_OUT]
        client.cookies.clear()  # whatever the last post signed in or started
        client.cookies.set(PRESESSION_COOKIE, PRESESSION)
        if who == PENDING:
            credentials = {"email": self.second.email, "password": PASSWORD}
            body = encoded([(CSRF_FIELD, self._token(SIGNED_OUT)), *credentials.items()])
            headers = from_new_address() | {"Content-Type": "application/x-www-form-urlencoded"}
            started = await client.post("/login", content=body, headers=headers)
            assert started.headers.get("location") == "/login/two-factor", started.text
        return client

    def _token(self, who: str) -> str:
        if who in (OWNER, SECOND):
            binding = f"session:{self.clients[who].cookies['relay_session']}"
        else:
            binding = f"presession:{PRESESSION}"
        return form_token(self.app.state.csrf_key, binding)


PRESESSION = "fuzzed-forms-presession"


def _items(value: Value) -> list[str]:
    return [value] if isinstance(value, str) else value


async def invitation_of(db: Database, owner: User) -> tuple[members.Invitation, str]:
    """An invitation to `owner`'s tenant, and its link's token."""
    async with db.sessionmaker.begin() as session:
        inviter = await session.get(User, owner.id)
        assert inviter is not None
        return await members.invite_member(
            session, inviter=inviter, email=new_email(), actor=SYSTEM
        )


async def new_member(db: Database, owner: User) -> User:
    """A member of `owner`'s tenant, who accepted an invitation."""
    _, token = await invitation_of(db, owner)
    password_hash = await tenants_service.prepare_password(PASSWORD)
    async with db.sessionmaker.begin() as session:
        return await members.accept_invitation(
            session, token=token, password_hash=password_hash, client=SYSTEM
        )


@contextmanager
def noting_reads(noted: list[str]) -> Iterator[None]:
    """Note the name of every field any page reads from its form (FormData's own
    methods, patched: overriding the form's dependency instead made FastAPI inspect
    the override at every request)."""

    def noting(read: Callable[..., Any]) -> Callable[..., Any]:
        def noted_read(form: FormData, key: str, *args: Any) -> Any:
            noted.append(key)
            return read(form, key, *args)

        return noted_read

    with pytest.MonkeyPatch.context() as patch:
        for method in ("getlist", "__getitem__", "__contains__"):
            patch.setattr(FormData, method, noting(getattr(FormData, method)))
        yield


@asynccontextmanager
async def dashboard(app: FastAPI, db: Database) -> AsyncIterator[Dashboard]:
    """An owner and a second member with two-factor sign-in on, each signed in on a
    client of `app`; a signed-out client; a user whose password is reset; what the
    forms aim at."""
    owner, reset_user = await make_owner(db), await make_owner(db)
    second = await new_member(db, owner)
    async with db.sessionmaker.begin() as session:
        made, api_key = await auth_service.create_api_key(
            session, tenant_id=owner.tenant_id, data=ApiKeyCreate(name="Aims"), actor=SYSTEM,
            created_by=None,
        )  # fmt: skip
    async with asgi_client(app) as owner_client, asgi_client(app) as second_client, \
            asgi_client(app) as signed_out_client:  # fmt: skip
        clients = {OWNER: owner_client, SECOND: second_client, SIGNED_OUT: signed_out_client}
        board = Dashboard(app, db, owner, second, reset_user, api_key, made.id, clients)
        await signed_in(owner_client, owner.email)
        await signed_in(second_client, second.email)
        await turn_on_two_factor(second_client)
        setup = sealed_setup((await owner_client.get("/settings/account/two-factor")).text)
        ids = {name: await board._target(name, "") for name in AIMED_ONCE}
        board.context = ids | {
            "owner_email": owner.email,
            "member": str(second.id),
            "setup": setup,
            "dataset": ids["dataset_id"],
            "pool": ids["pool_id"],
        }
        with noting_reads(board.noted):
            yield board


# What the forms that use nothing up aim at, made once.
AIMED_ONCE = ("key_id", "dataset_id", "pool_id", "endpoint_id", "member_id", "invitation_id",
              "notice_id", "session_id", "delivery_id")  # fmt: skip
