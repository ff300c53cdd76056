"""Mail through the SMTP server of RELAY_SMTP_URL, sent from a thread: smtplib blocks,
and the event loop must never wait on a mail server.

The URL: `smtp://[user[:password]@]host[:port][?starttls=true]` (port 25 unless given;
587 is the usual submission port, with STARTTLS), or `smtps://...` for TLS from the
first byte (port 465). User and password are percent-encoded. With TLS either way the
server's certificate is verified against the system's trust store (OpenSSL reads
SSL_CERT_FILE for another one); credentials are only sent over TLS.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from relay.config import Settings

logger = logging.getLogger(__name__)

SMTP_URL_FORM = "smtp://[user[:password]@]host[:port][?starttls=true] or smtps://..."
SEND_TIMEOUT = 10.0
_YES = ("true", "1", "yes")
_NO = ("false", "0", "no")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    # "starttls": plain connection upgraded to TLS; "tls": TLS from the first byte.
    security: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpServer:
    """The server an RELAY_SMTP_URL names; ValueError saying the form when it is not one."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    starttls = query.pop("starttls", ["false"])[-1].lower()
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or query or parts.path:
        raise ValueError(f"use {SMTP_URL_FORM}")
    if starttls not in _YES + _NO or (parts.scheme == "smtps" and starttls in _YES):
        raise ValueError("starttls is true or false, only for smtp:// (smtps:// is TLS already)")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise ValueError(f"the port is not a number from 1 to 65535: use {SMTP_URL_FORM}") from exc
    security = "tls" if parts.scheme == "smtps" else "starttls" if starttls in _YES else "none"
    if parts.username and security == "none":
        raise ValueError("credentials need TLS: add ?starttls=true or use smtps://")
    return SmtpServer(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailer:
    """Sends plain-text mail from one address through one server."""

    def __init__(self, server: SmtpServer, sender: str) -> None:
        self.server = server
        self.sender = sender

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].strip("> "))
        message.set_content(mail.body)
        return message

    def _send_now(self, message: EmailMessage, recipient: str) -> None:
        server = self.server
        context = ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(server.host, server.port, timeout=SEND_TIMEOUT, context=context)
            if server.security == "tls"
            else smtplib.SMTP(server.host, server.port, timeout=SEND_TIMEOUT)
        )
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=context)
            if server.username is not None:
                smtp.login(server.username, server.password or "")
            # The envelope names the one address as given, whatever the To header is
            # read as (reading it decodes =?utf-8?q?...?= words into another address).
            smtp.send_message(message, to_addrs=[recipient])

    async def send(self, mail: Mail) -> None:
        """Send `mail`, in a thread; smtplib's and the network's errors are raised."""
        await asyncio.to_thread(self._send_now, self._message(mail), mail.to)

    async def deliver(self, mail: Mail) -> None:
        """Send `mail` after the answer went out (a background task): a failure is
        logged, never with the message, which may hold a link worth an account."""
        try:
            await self.send(mail)
        except (OSError, smtplib.SMTPException) as exc:
            logger.warning(
                "Mail not sent (%s): %s: %s", mail.subject, type(exc).__name__, str(exc)[:200]
            )


def mailer_for(settings: Settings) -> Mailer | None:
    """The configured mailer, or None when RELAY_SMTP_URL is not set."""
    if not settings.smtp_url:
        return None
    return Mailer(parse_smtp_url(settings.smtp_url), settings.smtp_from)
