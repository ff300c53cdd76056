"""Mail to a user when their account's security changes (password changed or reset,
two-factor sign-in turned on or off, a recovery code used, new recovery codes), so that
a change they did not make does not go unseen (ASVS 2.2.3). Sent after the answer, when
mail is configured."""

from __future__ import annotations

from datetime import datetime

from relay.audit.actions import Action
from relay.mail import Mail

# The action: the subject, and what happened (a sentence ending before "on <date>").
NOTICES: dict[Action, tuple[str, str]] = {
    Action.USER_PASSWORD_CHANGED: (
        "Your Relay password was changed",
        "The password of your Relay account was changed",
    ),
    Action.USER_PASSWORD_RESET: (
        "Your Relay password was reset",
        "The password of your Relay account was reset with a link sent to this address",
    ),
    Action.USER_TWO_FACTOR_ENABLED: (
        "Two-factor sign-in is on",
        "Two-factor sign-in was turned on for your Relay account",
    ),
    Action.USER_TWO_FACTOR_DISABLED: (
        "Two-factor sign-in is off",
        "Two-factor sign-in was turned off for your Relay account",
    ),
    Action.USER_RECOVERY_CODE_USED: (
        "A Relay recovery code was used",
        "One of your recovery codes was used, and used up, to sign in to your Relay account",
    ),
    Action.USER_RECOVERY_CODES_REPLACED: (
        "New Relay recovery codes",
        "New recovery codes were made for your Relay account; the old ones no longer work",
    ),
}


def security_notice(
    action: Action, *, email: str, at: datetime, client_address: str, reset_link: str
) -> Mail:
    """The notice of `action`, done from `client_address` at `at`."""
    subject, what = NOTICES[action]
    return Mail(
        to=email,
        subject=subject,
        body=(
            f"{what} on {at:%Y-%m-%d at %H:%M} UTC, from the address {client_address}.\n\n"
            "If this was you, there is nothing to do. If it was not, choose a new password "
            f"now at {reset_link} and tell your organisation's owner.\n"
        ),
    )
