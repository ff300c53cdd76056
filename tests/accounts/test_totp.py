"""TOTP codes against chosen times, through the service and a real database: RFC 6238
steps of 30 seconds, one step of drift either way, no code accepted twice (nor an
older one after a newer), and two requests with one code: one succeeds."""

from __future__ import annotations

import asyncio
import uuid

import pyotp
import pytest

from relay.accounts import totp, two_factor
from relay.accounts.sealing import AccountKeys, account_keys, seal, unseal
from relay.actors import SYSTEM
from relay.config import Settings
from relay.db import Database
from relay.tenants.models import User
from tests.accounts.conftest import SECRET_KEY
from tests.accounts.helpers import make_owner

T = 1_900_000_020.0  # the start of a 30-second step


@pytest.fixture
def keys(settings: Settings) -> AccountKeys:
    return account_keys(settings.model_copy(update={"secret_key": SECRET_KEY}))


async def enabled_at(db: Database, keys: AccountKeys, at: float) -> tuple[User, str]:
    """An owner with two-factor on, set up with the code of time `at`."""
    owner = await make_owner(db)
    setup = two_factor.begin_setup(keys, user=owner)
    async with db.sessionmaker.begin() as session:
        await two_factor.enable(
            session, user=owner, keys=keys, sealed=setup.sealed,
            code=totp.code_at(setup.secret, at), keep_session=uuid.uuid4(), actor=SYSTEM, at=at,
        )  # fmt: skip
    return owner, setup.secret


async def accepted(db: Database, keys: AccountKeys, owner: User, code: str, at: float) -> bool:
    async with db.sessionmaker.begin() as session:
        factor = await two_factor.check_code(
            session, user=owner, keys=keys, code=code, actor=SYSTEM, at=at
        )
    assert factor in (None, two_factor.Factor.AUTHENTICATOR)
    return factor is not None


def test_codes_are_rfc_6238_with_30_second_steps() -> None:
    # RFC 6238's SHA-1 test vector (its 8 digits end in these 6) at T = 59 s.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert totp.code_at(secret, 59) == "287082"
    assert totp.code_at(secret, 1111111109) == "081804"
    assert totp.step_at(T) == totp.step_at(T + 29.9) != totp.step_at(T + 30)


async def test_one_step_of_drift_either_way_and_no_more(db: Database, keys: AccountKeys) -> None:
    owner, secret = await enabled_at(db, keys, T)
    later = T + 300
    assert not await accepted(db, keys, owner, totp.code_at(secret, later - 60), later)
    assert await accepted(db, keys, owner, totp.code_at(secret, later - 30), later)
    assert await accepted(db, keys, owner, totp.code_at(secret, later + 30), later)
    much_later = T + 900
    assert not await accepted(db, keys, owner, totp.code_at(secret, much_later + 60), much_later)
    assert await accepted(db, keys, owner, totp.code_at(secret, much_later), much_later)


async def test_a_code_is_accepted_once_and_never_an_older_one(
    db: Database, keys: AccountKeys
) -> None:
    owner, secret = await enabled_at(db, keys, T)
    # The set-up's own code was its first use.
    assert not await accepted(db, keys, owner, totp.code_at(secret, T), T + 10)
    code = totp.code_at(secret, T + 30)
    assert await accepted(db, keys, owner, code, T + 30)
    assert not await accepted(db, keys, owner, code, T + 35)  # replayed in its window
    # The next step's code, then the skipped one's: refused, it is older.
    assert await accepted(db, keys, owner, totp.code_at(secret, T + 90), T + 75)
    assert not await accepted(db, keys, owner, totp.code_at(secret, T + 60), T + 75)


async def test_two_requests_with_the_same_code_one_succeeds(
    db: Database, keys: AccountKeys
) -> None:
    owner, secret = await enabled_at(db, keys, T)
    code = totp.code_at(secret, T + 30)
    results = await asyncio.gather(*(accepted(db, keys, owner, code, T + 30) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


async def test_another_users_code_or_a_malformed_one_is_refused(
    db: Database, keys: AccountKeys
) -> None:
    alice, alice_secret = await enabled_at(db, keys, T)
    bob, _ = await enabled_at(db, keys, T)
    assert not await accepted(db, keys, bob, totp.code_at(alice_secret, T + 30), T + 30)
    for malformed in ("", "12345", "1234567", "١٢٣٤٥٦", "12 34 5"):
        assert not await accepted(db, keys, alice, malformed, T + 30)


def test_a_sealed_secret_opens_only_for_its_owner_and_key(keys: AccountKeys) -> None:
    secret = pyotp.random_base32()
    sealed = seal(keys.sealing, secret, bound_to="totp:alice")
    assert secret not in sealed
    assert unseal(keys.sealing, sealed, bound_to="totp:alice") == secret
    assert unseal(keys.sealing, sealed, bound_to="totp:bob") is None
    assert unseal(b"k" * 32, sealed, bound_to="totp:alice") is None
    for broken in ("", "v1:", "v1:!!!", sealed[:-4], "v2:" + sealed[3:]):
        assert unseal(keys.sealing, broken, bound_to="totp:alice") is None
