"""A real SMTP server for the tests: aiosmtpd on a free port, in a thread of its own.
What Relay sends arrives here, and a test waits for the message to its address (on
a condition, not a sleep), then reads the link in it and follows it."""

from __future__ import annotations

import email.policy
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.live_server import free_port

RESET_SUBJECT = "Reset your Relay password"
SENDER = "Relay <relay@example.com>"
_PARSER = BytesParser(policy=email.policy.default)


class Inbox:
    """Every message the server accepted, by recipient."""

    def __init__(self) -> None:
        self._messages: list[tuple[list[str], EmailMessage]] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = _PARSER.parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self._messages.append(([r.lower() for r in envelope.rcpt_tos], message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to `address` so far, oldest first."""
        with self._arrived:
            return [m for rcpts, m in self._messages if address.lower() in rcpts]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15) -> EmailMessage:
        """The `count`-th message to `address`, once it has arrived."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.to(address)) >= count, timeout)
        assert arrived, f"no message {count} to {address} within {timeout} s"
        return self.to(address)[count - 1]

    def wait_for_subject(self, address: str, subject: str, timeout: float = 15) -> EmailMessage:
        """The latest message to `address` with `subject`, once one has arrived (other
        mail, such as security notices, may come in between)."""

        def with_subject() -> list[EmailMessage]:
            return [m for m in self.to(address) if m["Subject"] == subject]

        with self._arrived:
            arrived = self._arrived.wait_for(with_subject, timeout)
        assert arrived, f"no message {subject!r} to {address} within {timeout} s"
        return with_subject()[-1]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, path: str) -> str:
    """The first link in the message's text whose path starts with `path`."""
    found = re.search(rf"https?://\S+?{re.escape(path)}[A-Za-z0-9_-]+", body_of(message))
    assert found, f"no {path} link in: {body_of(message)!r}"
    return found.group(0)


class MailServer:
    def __init__(self, controller: Controller, inbox: Inbox, url: str) -> None:
        self.controller = controller
        self.inbox = inbox
        self.url = url


@contextmanager
def run_mail_server(
    *, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None
) -> Iterator[MailServer]:
    """An SMTP server on 127.0.0.1; with `tls`, it requires STARTTLS; with `login`,
    it requires those credentials (over TLS only)."""
    inbox = Inbox()
    port = free_port()

    def authenticator(*args: Any) -> AuthResult:
        data = args[-1]
        given = (data.login, data.password) if isinstance(data, LoginPassword) else None
        expected = tuple(part.encode() for part in login) if login else None
        return AuthResult(success=given is not None and given == expected)

    options: dict[str, Any] = {}
    if tls is not None:
        options |= {"tls_context": tls, "require_starttls": True}
    if login is not None:
        options |= {"authenticator": authenticator, "auth_required": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer(controller, inbox, f"smtp://127.0.0.1:{port}")
    finally:
        controller.stop()
