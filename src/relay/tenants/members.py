"""Members of a tenant: invitations by single-use link (7 days; mailed to the invitee
when mail is configured) that give the role chosen, accepting or cancelling them,
changing a member's role, handing ownership over, and removing a member.

Who may do each is declared by the pages that call these (relay.dashboard.permissions:
MEMBERS, OWNERSHIP); the rules here are about the members acted on: the owner is never
removed nor given another role but by handing ownership over, and a tenant has one
owner at all times."""

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
from relay.db import tenant_select, utcnow
from relay.errors import ConflictError, NotFoundError, RelayError
from relay.mail import Mail
from relay.tenants import roles
from relay.tenants import service as tenants_service
from relay.tenants.models import Invitation, User
from relay.tokens import new_token, token_hash

INVITATION_LIFETIME = timedelta(days=7)
INVITATION_INVALID = "This invitation link is invalid, expired or already used"
INVITATION_NOT_PENDING = (
    "This invitation is no longer pending: it was accepted, cancelled or has expired"
)
MEMBER_NOT_FOUND = "Member not found"
ONLY_THE_OWNER_TRANSFERS = "Only the owner can hand ownership over"
ALREADY_THE_OWNER = "Choose another member: you are the owner already"
OWNER_STAYS = "The owner cannot be removed or given another role: hand ownership over first"
NOT_ASSIGNABLE = "Choose Admin, Developer or Viewer: ownership is handed over, not given"
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
    role: str = roles.DEFAULT_INVITED_ROLE,
    before_issuing: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[Invitation, str]:
    """An invitation to the inviter's tenant; returns it and the token for the link,
    which is shown once and stored only hashed. The member joins with `role` (admin,
    developer or viewer). Inviting an address again refreshes its pending invitation
    (a new link, 7 more days and the role now chosen; the old link stops working)
    rather than adding a second one.

    An address already used in another tenant is invited like any other: refusing it
    here told any owner, at no cost, which emails have an account anywhere on the
    server. Accepting such an invitation fails (`accept_invitation`), after the
    per-address sign-up limit and argon2, as a sign-up with that email would.

    `before_issuing` is awaited with the address once the inviter and the address have
    passed their checks (the page counts its mail limits there) and may refuse."""
    if role not in roles.ASSIGNABLE:
        raise RelayError(NOT_ASSIGNABLE, field="role")
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
    invitation.role = role
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
    once, stored only hashed), for the same role; an invitation accepted, cancelled,
    expired or of another tenant is not found.

    `before_issuing` is awaited with the invited address, as by `invite_member`."""
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
            role=roles.as_role(invitation.role),
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
    """Withdraw a pending invitation: its link stops working."""
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
    The owner is never removed: a tenant always keeps its owner."""
    member = await _member_of(session, remover, member_id)
    if member.role == roles.OWNER:
        raise RelayError(OWNER_STAYS)
    await sessions.end_all_sessions(session, user_id=member.id)
    await _withdraw_invitations_of(session, member)
    await session.execute(delete(User).where(User.id == member.id))
    audit.record(
        session, tenant_id=remover.tenant_id, action=Action.MEMBER_REMOVED, actor=actor,
        target=_member(member),
    )  # fmt: skip
    return member


async def _withdraw_invitations_of(session: AsyncSession, member: User) -> None:
    """Cancel the pending invitations a member sent, once they may no longer invite
    (removed, or given a role without MEMBERS): otherwise one could invite an address
    of their own before leaving, and come back with the role it gives."""
    await session.execute(
        delete(Invitation).where(
            Invitation.tenant_id == member.tenant_id,
            Invitation.invited_by == member.id,
            Invitation.accepted_at.is_(None),
        )
    )


async def _member_of(session: AsyncSession, acting: User, member_id: uuid.UUID) -> User:
    """A member of the acting user's tenant, locked; NotFoundError for anyone else."""
    member = await session.scalar(
        select(User)
        .where(User.id == member_id, User.tenant_id == acting.tenant_id)
        .with_for_update()
    )
    if member is None:
        raise NotFoundError(MEMBER_NOT_FOUND)
    return member


async def change_role(
    session: AsyncSession, *, changer: User, member_id: uuid.UUID, role: str, actor: Actor
) -> User:
    """Give a member of the changer's tenant another role below owner (audited as
    member.role_changed, with the roles before and after). The owner keeps theirs:
    ownership is handed over (`transfer_ownership`), never given."""
    if role not in roles.ASSIGNABLE:
        raise RelayError(NOT_ASSIGNABLE, field="role")
    member = await _member_of(session, changer, member_id)
    if member.role == roles.OWNER:
        raise RelayError(OWNER_STAYS, field="role")
    if member.role != role:
        before, member.role = member.role, role
        if not roles.may(role, roles.MEMBERS):
            await _withdraw_invitations_of(session, member)
        audit.record(
            session, tenant_id=changer.tenant_id, action=Action.MEMBER_ROLE_CHANGED,
            actor=actor, target=_member(member), details={"from": before, "to": role},
        )  # fmt: skip
    return member


async def transfer_ownership(
    session: AsyncSession, *, owner: User, member_id: uuid.UUID, actor: Actor
) -> User:
    """Make a member the tenant's owner; the owner becomes an admin. One owner at all
    times: both rows change in this transaction, the owner's locked first. Audited as
    member.role_changed for each, then ownership_transferred."""
    # The page checked OWNERSHIP; the owner's row, locked, holds it until the commit, so
    # two hand-overs at once cannot both go through.
    current = await session.scalar(
        select(User).where(User.id == owner.id, User.role == roles.OWNER).with_for_update()
    )
    if current is None:
        raise RelayError(ONLY_THE_OWNER_TRANSFERS)
    member = await _member_of(session, owner, member_id)
    if member.id == current.id:
        raise RelayError(ALREADY_THE_OWNER, field="member")
    for user, before, after in (
        (member, member.role, roles.OWNER),
        (current, roles.OWNER, roles.ADMIN),
    ):
        user.role = after
        audit.record(
            session, tenant_id=owner.tenant_id, action=Action.MEMBER_ROLE_CHANGED,
            actor=actor, target=_member(user), details={"from": before, "to": after},
        )  # fmt: skip
    audit.record(
        session, tenant_id=owner.tenant_id, action=Action.OWNERSHIP_TRANSFERRED, actor=actor,
        target=_member(member),
    )  # fmt: skip
    return member
