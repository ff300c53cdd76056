"""Two-factor sign-in with TOTP: setting it up (scan, then confirm one code), checking
a code or a recovery code, turning it off, and the tenant's requirement.

Set-up keeps nothing on the server until the code is confirmed: the new secret goes
to the page sealed (sealing.py, bound to the user), and comes back with the code.
The secret is stored sealed with a key from RELAY_SECRET_KEY, which must be set.

Turning it on ends the user's other sessions, as a new password does. A user's own
change to it once on (turning it off, new recovery codes) takes a SecondFactorProof,
which only `prove_second_factor` makes: a stolen session and the password are not
enough, the second factor is asked again and spent as at sign-in.
"""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts import recovery_codes, sessions, totp
from relay.accounts.events import record_user_event
from relay.accounts.models import TwoFactor
from relay.accounts.sealing import AccountKeys, seal, unseal
from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.errors import ConflictError, RelayError
from relay.tenants.models import Tenant, User

CODE_REFUSED = "That code did not work. Enter the current code from your app, or a recovery code"
ENTER_CODE = "Enter the code your authenticator app shows, or a recovery code"
ALREADY_ON = "Two-factor sign-in is already on for your account"
NOT_ON = "Two-factor sign-in is not on for your account"
SETUP_EXPIRED = "This set-up form is no longer valid. Scan the new QR code and try again"
REQUIRED_BY_TENANT = (
    "Your organisation requires two-factor sign-in, so it cannot be turned off. "
    "The owner can lift the requirement in Settings > Members"
)
OWNER_FIRST = "Turn on two-factor sign-in for your own account before requiring it of everyone"


class Factor(enum.Enum):
    """What a code given as the second factor turned out to be."""

    AUTHENTICATOR = "authenticator"
    RECOVERY_CODE = "recovery code"


@dataclass(frozen=True, slots=True)
class Setup:
    """What the set-up page shows: the secret (as text and as a QR code) and, sealed,
    the same secret for the form to send back with the first code."""

    secret: str
    sealed: str
    qr_code: str


@dataclass(frozen=True, slots=True)
class SecondFactorProof:
    """That the user gave their second factor in this request (a code now spent).
    Made by `prove_second_factor` only; what every change to the factor needs."""

    user_id: uuid.UUID
    factor: Factor


@dataclass(frozen=True, slots=True)
class Enabled:
    """Two-factor sign-in just turned on: the recovery codes to show once, and how many
    other sessions of the user it ended."""

    recovery_codes: list[str]
    other_sessions_ended: int


@dataclass(frozen=True, slots=True)
class Status:
    enabled_at: datetime
    recovery_codes_left: int


def _setup_binding(user: User) -> str:
    return f"totp-setup:{user.id}"


def _secret_binding(user_id: uuid.UUID) -> str:
    return f"totp:{user_id}"


def begin_setup(keys: AccountKeys, *, user: User, sealed: str | None = None) -> Setup:
    """A set-up for the user: a new secret, or the one `sealed` by an earlier set-up page
    (a mistyped code keeps the QR code the user already scanned)."""
    secret = unseal(keys.sealing, sealed, bound_to=_setup_binding(user)) if sealed else None
    secret = secret or totp.new_secret()
    return Setup(
        secret=secret,
        sealed=seal(keys.sealing, secret, bound_to=_setup_binding(user)),
        qr_code=totp.qr_code(totp.provisioning_uri(secret, user.email)),
    )


async def is_enabled(session: AsyncSession, *, user_id: uuid.UUID) -> bool:
    return await session.get(TwoFactor, user_id) is not None


async def status(session: AsyncSession, *, user_id: uuid.UUID) -> Status | None:
    """The user's two-factor sign-in, or None while it is off."""
    found = await session.get(TwoFactor, user_id)
    if found is None:
        return None
    left = await recovery_codes.codes_left(session, user_id=user_id)
    return Status(enabled_at=found.enabled_at, recovery_codes_left=left)


async def enable(
    session: AsyncSession,
    *,
    user: User,
    keys: AccountKeys,
    sealed: str,
    code: str,
    keep_session: uuid.UUID,
    actor: Actor,
    at: float | None = None,
) -> Enabled:
    """Turn two-factor sign-in on with the set-up's secret, once `code` (at Unix time
    `at`, now by default) proves the app has it. Every session of the user but
    `keep_session` ends, as with a new password: one signed in with the password
    alone (perhaps someone else's) must not outlive the change."""
    if await is_enabled(session, user_id=user.id):
        raise ConflictError(ALREADY_ON)
    secret = unseal(keys.sealing, sealed, bound_to=_setup_binding(user))
    if secret is None:
        raise RelayError(SETUP_EXPIRED, field="code")
    at = time.time() if at is None else at
    step = totp.matching_step(secret, code.strip(), at=at, after=None)
    if step is None:
        raise RelayError("That code did not match. Enter the 6-digit code your app shows now",
                         field="code")  # fmt: skip
    session.add(
        TwoFactor(
            user_id=user.id,
            secret=seal(keys.sealing, secret, bound_to=_secret_binding(user.id)),
            last_used_step=step,
        )
    )
    codes = await recovery_codes.replace_codes(session, user_id=user.id, key=keys.recovery)
    ended = await sessions.end_other_sessions(session, user=user, keep=keep_session)
    record_user_event(
        session, user, Action.USER_TWO_FACTOR_ENABLED, actor, {"other_sessions_ended": ended}
    )
    return Enabled(recovery_codes=codes, other_sessions_ended=ended)


async def check_code(
    session: AsyncSession,
    *,
    user: User,
    keys: AccountKeys,
    code: str,
    actor: Actor,
    at: float | None = None,
) -> Factor | None:
    """Which factor `code` is for the user now, None if neither: an authenticator code
    (for a step within one of `at`'s and later than the last accepted, which it becomes)
    or an unused recovery code (used up, with an audit event). None while two-factor is
    off."""
    found = await session.get(TwoFactor, user.id)
    if found is None:
        return None
    code = "".join(code.split())
    if not totp.looks_like_code(code):
        if not await recovery_codes.use_code(
            session, user_id=user.id, key=keys.recovery, code=code
        ):
            return None
        left = await recovery_codes.codes_left(session, user_id=user.id)
        record_user_event(
            session, user, Action.USER_RECOVERY_CODE_USED, actor, {"codes_left": left}
        )
        return Factor.RECOVERY_CODE
    secret = unseal(keys.sealing, found.secret, bound_to=_secret_binding(user.id))
    if secret is None:  # sealed under another RELAY_SECRET_KEY
        return None
    at = time.time() if at is None else at
    step = totp.matching_step(secret, code, at=at, after=found.last_used_step)
    if step is None:
        return None
    # Conditional, so that of two requests with the same code only one succeeds.
    accepted = await session.execute(
        update(TwoFactor)
        .where(TwoFactor.user_id == user.id, TwoFactor.last_used_step < step)
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return Factor.AUTHENTICATOR if accepted.rowcount else None  # type: ignore[attr-defined]


async def prove_second_factor(
    session: AsyncSession, *, user: User, keys: AccountKeys, code: str, actor: Actor
) -> SecondFactorProof | None:
    """The proof that `code` is the user's second factor now, None if it is not: a
    current authenticator code, accepted once (never again, nor an older one), or an
    unused recovery code, which it uses up (single use, whatever it proves)."""
    factor = await check_code(session, user=user, keys=keys, code=code, actor=actor)
    return None if factor is None else SecondFactorProof(user_id=user.id, factor=factor)


def _proven(proof: SecondFactorProof, user: User) -> dict[str, str]:
    """The audit details of a change made on `proof`, which must be the user's."""
    if proof.user_id != user.id:
        raise RelayError(CODE_REFUSED, field="code")
    return {"second_factor": proof.factor.value}


async def ensure_may_disable(session: AsyncSession, *, user: User) -> None:
    """ConflictError unless the user may turn two-factor sign-in off: it is on, and
    their tenant does not require it. Asked before a code is spent on it too."""
    tenant = await session.get(Tenant, user.tenant_id)
    if tenant is not None and tenant.require_two_factor:
        raise ConflictError(REQUIRED_BY_TENANT)
    if not await is_enabled(session, user_id=user.id):
        raise ConflictError(NOT_ON)


async def disable(
    session: AsyncSession, *, user: User, proof: SecondFactorProof, actor: Actor
) -> None:
    """Turn two-factor sign-in off on the proof of it (the caller has checked the
    password too); refused while the tenant requires it."""
    details = _proven(proof, user)
    await ensure_may_disable(session, user=user)
    await _delete(session, user=user)
    record_user_event(session, user, Action.USER_TWO_FACTOR_DISABLED, actor, details)


async def remove(session: AsyncSession, *, user: User, actor: Actor) -> None:
    """Delete the user's authenticator and recovery codes (an operator may, whatever
    the tenant requires: the user sets it up again at the next sign-in)."""
    await _delete(session, user=user)
    record_user_event(session, user, Action.USER_TWO_FACTOR_DISABLED, actor)


async def _delete(session: AsyncSession, *, user: User) -> None:
    result = await session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise ConflictError(NOT_ON)
    await recovery_codes.delete_codes(session, user_id=user.id)


async def replace_recovery_codes(
    session: AsyncSession,
    *,
    user: User,
    keys: AccountKeys,
    proof: SecondFactorProof,
    actor: Actor,
) -> list[str]:
    """A new set of ten recovery codes on the proof of the second factor (the old
    codes stop working), to show once."""
    details = _proven(proof, user)
    if not await is_enabled(session, user_id=user.id):
        raise ConflictError(NOT_ON)
    codes = await recovery_codes.replace_codes(session, user_id=user.id, key=keys.recovery)
    record_user_event(session, user, Action.USER_RECOVERY_CODES_REPLACED, actor, details)
    return codes


async def members_with_two_factor(session: AsyncSession, *, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    """The ids of the tenant's users who have two-factor sign-in on."""
    query = select(TwoFactor.user_id).join(User, User.id == TwoFactor.user_id)
    return set((await session.scalars(query.where(User.tenant_id == tenant_id))).all())


async def tenant_requires(session: AsyncSession, *, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant requires two-factor sign-in of every member."""
    query = select(Tenant.require_two_factor).where(Tenant.id == tenant_id)
    return bool(await session.scalar(query))


async def set_requirement(
    session: AsyncSession, *, owner: User, required: bool, actor: Actor
) -> None:
    """Require two-factor sign-in of every member of the owner's (or an admin's)
    tenant, or stop; it is required only once their own is on. Who may decide is the
    page's to declare (relay.tenants.roles.POLICIES)."""
    if required and not await is_enabled(session, user_id=owner.id):
        raise ConflictError(OWNER_FIRST)
    tenant = await session.get(Tenant, owner.tenant_id)
    assert tenant is not None
    if tenant.require_two_factor == required:
        return
    tenant.require_two_factor = required
    action = (
        Action.TENANT_TWO_FACTOR_REQUIRED if required else Action.TENANT_TWO_FACTOR_NOT_REQUIRED
    )
    audit.record(
        session, tenant_id=tenant.id, action=action, actor=actor,
        target=audit.Target("tenant", tenant.id, tenant.name),
    )  # fmt: skip
