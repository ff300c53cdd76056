"""What a notice's mail says: the key (name and prefix, never the secret), the
organisation, what happens, what to do, and a link to the key's page."""

from __future__ import annotations

from datetime import datetime

from relay.config import Settings
from relay.links import public_url
from relay.mail import Mail
from relay.notices.models import Notice


def _when(iso: object) -> str:
    return f"{datetime.fromisoformat(str(iso)):%Y-%m-%d at %H:%M} UTC"


def _expiry(notice: Notice, organisation: str) -> tuple[str, str]:
    if notice.mark == "expired":
        subject = f"API key {notice.key_label} has expired"
        body = (
            f"The API key {notice.key_label} of {organisation} expired on "
            f"{_when(notice.details.get('expires_at'))}. Every request made with it is now "
            "refused (401 API key expired).\n\n"
            "If something still needs it, make a new key and put it where the old one was "
            "used; a key's page says who used it in the last 24 hours."
        )
        return subject, body
    days = "1 day" if notice.mark == "1d" else "7 days"
    subject = f"API key {notice.key_label} expires in {days}"
    body = (
        f"The API key {notice.key_label} of {organisation} expires on "
        f"{_when(notice.details.get('expires_at'))}, in about {days}. From then on, every "
        "request made with it is refused (401 API key expired).\n\n"
        "To keep what uses it working, roll the key on its page (Roll makes a new key and "
        "lets the old one work for a grace period) and put the new key where the old one "
        "is used."
    )
    return subject, body


def _leak(notice: Notice, organisation: str) -> tuple[str, str]:
    subject = f"API key {notice.key_label} was found exposed and revoked"
    body = (
        f"The API key {notice.key_label} of {organisation} was reported by a trusted "
        f"scanner at {notice.details.get('url')} ({notice.details.get('source')}). Relay "
        "revoked it at once: every request made with it is now refused (401).\n\n"
        "Make a new key, put it where the old one was used, and remove the old one from "
        "where it was found."
    )
    return subject, body


def _quota(notice: Notice, organisation: str) -> tuple[str, str]:
    requests, period = notice.details.get("requests"), notice.details.get("period")
    per = {"day": "per day", "month": "per month"}.get(str(period), "in all")
    resets = notice.details.get("resets_at")
    refill = f" It refills on {_when(resets)}." if resets else " It never refills."
    if notice.mark == "100":
        subject = f"API key {notice.key_label} has used all of its quota"
        what = (
            f"The API key {notice.key_label} of {organisation} has used all of its quota "
            f"({requests} requests {per}): its requests are refused (429) until the quota "
            f"refills.{refill}"
        )
    else:
        subject = f"API key {notice.key_label} has used 80 % of its quota"
        what = (
            f"The API key {notice.key_label} of {organisation} has used 80 % of its quota "
            f"({requests} requests {per}). Once it is all used, its requests are refused "
            f"(429) until the quota refills.{refill}"
        )
    return subject, what + "\n\nRaise the quota on the key's page if it needs more."


def _new_network(notice: Notice, organisation: str) -> tuple[str, str]:
    network, agent = notice.details.get("network"), notice.details.get("user_agent")
    subject = f"API key {notice.key_label} was used from a new network"
    body = (
        f"The API key {notice.key_label} of {organisation} was used from {network}, a "
        "network it had not been used from in 30 days"
        f"{f' (user agent {agent})' if agent else ''}.\n\n"
        "If you expected it (a new server, a move to another cloud), there is nothing to "
        "do. If not, the key may be in someone else's hands: roll or revoke it on its "
        "page, and limit it to the addresses that should use it."
    )
    return subject, body


WRITERS = {"expiry": _expiry, "leak": _leak, "quota": _quota, "network": _new_network}


def headline(notice: Notice, organisation: str) -> str:
    """What happened, in a line: the mail's subject (after "Relay: "), the banner's title."""
    return WRITERS[notice.kind](notice, organisation)[0]


def explanation(notice: Notice, organisation: str) -> str:
    """What happens and what to do: the mail's first paragraphs, the banner's text."""
    return WRITERS[notice.kind](notice, organisation)[1]


def notice_mail(notice: Notice, *, to: str, organisation: str, settings: Settings) -> Mail:
    """The mail of `notice` to the member at `to`."""
    subject, what = WRITERS[notice.kind](notice, organisation)
    subject = f"Relay: {subject}"
    key_page = public_url(settings, f"/settings/api-keys/{notice.key_id}")
    account = public_url(settings, "/settings/account")
    body = (
        f"{what}\n\nThe key: {key_page}\n\n"
        f"You get this mail as an owner or admin of {organisation}. Choose which notices "
        f"you get by mail in Settings > Account: {account}\n"
    )
    return Mail(to=to, subject=subject, body=body)
