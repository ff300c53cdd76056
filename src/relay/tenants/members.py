"""Members of a tenant: invitations by single-use link (7 days; mailed to the invitee
when mail is configured), accepting or cancelling them, and removing a member."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts import sessions
from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.dashboard.models import Invitation
from relay.dashboard.tokens import new_token, token_hash
from relay.db import tenant_select, utcnow
from relay.errors import ConflictError, NotFoundError, RelayError
from relay.mail import Mail
from relay.tenants import service as tenants_service
from relay.tenants.models import User

INVITATION_LIFETIME = timedelta(days=7)
INVITATION_INVALID = "This invitation link is invalid, expired or already used"
INVITATION_NOT_PENDING = (
    "This invitation is no longer pending: it was accepted, cancelled or has expired"
)
ONLY_THE_OWNER_INVITES = "Only the owner can invite members"
ALREADY_A_MEMBER = "This person is already a member of your organisation"
INVITED_EMAIL_TAKEN = (
    "This email address already has a Relay account, so the invitation cannot be used. "
    "Ask for an invitation to another address."
)


async def list_members(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[User]:
    query = select(User).where(User.tenant_id == tenant_id).order_by(User.created_at)
    return list((await session.scalars(query)).all())


async def list_pending_invitations(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> list[Invitation]:
    query = (
        tenant_select(Invitation, tenant_id)
        .where(Invitation.accepted_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at.desc())
    )
    return list((await session.scalars(query)).all())


def _member(user: User) -> audit.Target:
    return audit.Target("user", user.id, user.email)


async def invite_member(
    session: AsyncSession,
    *,
    inviter: User,
    email: str,
    actor: Actor,
    before_issuing: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[Invitation, str]:
    """An invitation to the inviter's tenant; returns it and the token for the link,
    which is shown once and stored only hashed. Only the owner may invite. Inviting
    an address again refreshes its pending invitation (a new link and 7 more days;
    the old link stops working) rather than adding a second one.

    An address already used in another tenant is invited like any other: refusing it
    here told any owner, at no cost, which emails have an account anywhere on the
    server. Accepting such an invitation fails (`accept_invitation`), after the
    per-address sign-up limit and argon2, as a sign-up with that email would.

    `before_issuing` is awaited with the address once the inviter and the address have
    passed their checks (the page counts its mail limits there) and may refuse."""
    if inviter.role != tenants_service.OWNER:
        raise RelayError(ONLY_THE_OWNER_INVITES, field="email")
    address = tenants_service.clean_email(email)
    if before_issuing is not None:
        await before_issuing(address)
    member = await tenants_service.find_user(session, address)
    if member is not None and member.tenant_id == inviter.tenant_id:
        raise ConflictError(ALREADY_A_MEMBER, field="email")
    invitation = await session.scalar(
        tenant_select(Invitation, inviter.tenant_id).where(
            Invitation.email == address, Invitation.accepted_at.is_(None)
        )
    )
    if invitation is None:
        invitation = Invitation(tenant_id=inviter.tenant_id, email=address)
        session.add(invitation)
    token = await _issue_link(
        session, invitation, inviter=inviter, actor=actor, action=Action.MEMBER_INVITED
    )
    return invitation, token


async def renew_invitation(
    session: AsyncSession,
    *,
    renewer: User,
    invitation_id: uuid.UUID,
    actor: Actor,
    before_issuing: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[Invitation, str]:
    """A new link for a pending invitation of the renewer's tenant, as inviting its
    address again would give: the previous link stops working at once and the new one
    works for 7 days from now. Returns the invitation and the token (shown or mailed
    once, stored only hashed). Only the owner, who alone invites, renews; an
    invitation accepted, cancelled, expired or of another tenant is not found.

    `before_issuing` is awaited with the invited address, as by `invite_member`."""
    if renewer.role != tenants_service.OWNER:
        raise RelayError(ONLY_THE_OWNER_INVITES)
    invitation = await session.scalar(
        tenant_select(Invitation, renewer.tenant_id).where(
            Invitation.id == invitation_id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )
    if invitation is None:
        raise NotFoundError(INVITATION_NOT_PENDING)
    if before_issuing is not None:
        await before_issuing(invitation.email)
    token = await _issue_link(
        session, invitation, inviter=renewer, actor=actor, action=Action.MEMBER_INVITATION_RENEWED
    )
    return invitation, token


async def _issue_link(
    session: AsyncSession, invitation: Invitation, *, inviter: User, actor: Actor, action: Action
) -> str:
    """A fresh token for the invitation's link (any previous link stops working: only
    the hash of the latest is kept) valid for the whole lifetime from now, audited."""
    token = new_token()
    now = utcnow()
    invitation.token_hash = token_hash(token)
    invitation.invited_by = inviter.id
    invitation.created_at = now
    invitation.expires_at = now + INVITATION_LIFETIME
    await session.flush()
    audit.record(
        session, tenant_id=inviter.tenant_id, action=action, actor=actor,
        target=audit.Target("invitation", invitation.id, invitation.email),
    )  # fmt: skip
    return token


def invitation_mail(
    email: str, *, inviter: str, organisation: str, link: str, renewed: bool = False
) -> Mail:
    """The invitation, for its invitee's mailbox only: with mail configured the owner
    never sees the link, so cannot follow it to learn whether the address is taken.
    A `renewed` one says the link of the earlier message no longer works."""
    days = INVITATION_LIFETIME.days
    earlier = "It replaces the link of the earlier invitation, which no longer works.\n\n"
    return Mail(
        to=email,
        subject="An invitation to Relay",
        body=(
            f"{inviter} invited you to join the organisation {organisation} on Relay.\n\n"
            f"Follow this link within {days} days to accept, and choose your password "
            f"(it works once):\n\n{link}\n\n"
            f"{earlier if renewed else ''}"
            "If you did not expect this, ignore this message: nothing happens without it.\n"
        ),
    )


async def find_open_invitation(session: AsyncSession, *, token: str) -> Invitation:
    """The unexpired, unused invitation of a link's token; NotFoundError otherwise."""
    invitation = await session.scalar(
        select(Invitation).where(
            Invitation.token_hash == token_hash(token),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )
    if invitation is None:
        raise NotFoundError(INVITATION_INVALID)
    return invitation


async def accept_invitation(
    session: AsyncSession, *, token: str, password_hash: str, client: Actor
) -> User:
    """Create the member with this password (hashed by `prepare_password` before the
    transaction) and use the invitation up. `client` is the browser accepting (its
    address and agent go into the audit event)."""
    invitation = await find_open_invitation(session, token=token)
    invitation.accepted_at = utcnow()
    try:
        member = await tenants_service.create_user(
            session,
            tenant_id=invitation.tenant_id,
            email=invitation.email,
            password_hash=password_hash,
            role=tenants_service.MEMBER,
        )
    except ConflictError as exc:
        raise ConflictError(INVITED_EMAIL_TAKEN) from exc
    actor = Actor.user(
        member.email, client_address=client.client_address, user_agent=client.user_agent
    )
    audit.record(
        session, tenant_id=member.tenant_id, action=Action.MEMBER_JOINED, actor=actor,
        target=_member(member),
    )  # fmt: skip
    return member


async def cancel_invitation(
    session: AsyncSession, *, canceller: User, invitation_id: uuid.UUID
) -> Invitation:
    """Withdraw a pending invitation: its link stops working. Only the owner cancels."""
    if canceller.role != tenants_service.OWNER:
        raise RelayError("Only the owner can cancel invitations")
    invitation = await session.scalar(
        tenant_select(Invitation, canceller.tenant_id).where(
            Invitation.id == invitation_id, Invitation.accepted_at.is_(None)
        )
    )
    if invitation is None:
        raise NotFoundError("Invitation not found")
    await session.delete(invitation)
    return invitation


async def remove_member(
    session: AsyncSession, *, remover: User, member_id: uuid.UUID, actor: Actor
) -> User:
    """Delete a member of the remover's tenant and end their browser sessions at once.
    Only the owner removes, and not themselves: a tenant always keeps its owner."""
    if remover.role != tenants_service.OWNER:
        raise RelayError("Only the owner can remove members")
    member = await session.scalar(
        select(User).where(User.id == member_id, User.tenant_id == remover.tenant_id)
    )
    if member is None:
        raise NotFoundError("Member not found")
    if member.id == remover.id:
        raise RelayError("The owner cannot be removed")
    await sessions.end_all_sessions(session, user_id=member.id)
    await session.execute(delete(User).where(User.id == member.id))
    audit.record(
        session, tenant_id=remover.tenant_id, action=Action.MEMBER_REMOVED, actor=actor,
        target=_member(member),
    )  # fmt: skip
    return member
