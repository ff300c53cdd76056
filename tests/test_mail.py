"""Mail through a real SMTP server: the URL forms of RELAY_SMTP_URL, STARTTLS with a
verified certificate and credentials, and sending from a thread, so the event loop
goes on while a mail server takes its time."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from pathlib import Path
from typing import Any, ClassVar

import pydantic
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relay.config import Settings
from relay.mail import Mail, Mailer, SmtpServer, parse_smtp_url
from tests.live_server import free_port
from tests.mail_server import SENDER, Inbox, body_of, run_mail_server


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpServer("mail.example.com", 25, "none")),
        ("smtp://mail.example.com:2525", SmtpServer("mail.example.com", 2525, "none")),
        (
            "smtp://relay%40example.com:p%40ss%20word@mail.example.com:587?starttls=true",
            SmtpServer("mail.example.com", 587, "starttls", "relay@example.com", "p@ss word"),
        ),
        (
            "smtps://u:hunter22@mail.example.com",
            SmtpServer("mail.example.com", 465, "tls", "u", "hunter22"),
        ),
    ],
)
def test_the_url_forms(url: str, expected: SmtpServer) -> None:
    assert parse_smtp_url(url) == expected
    assert expected.password is None or expected.password not in repr(parse_smtp_url(url))


@pytest.mark.parametrize(
    "url",
    [
        "mail.example.com:25",
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com:99999",
        "smtp://mail.example.com?tls=1",
        "smtp://mail.example.com?starttls=maybe",
        "smtps://mail.example.com?starttls=true",
        "smtp://user:pass@mail.example.com",  # credentials in the clear: refused
    ],
)
def test_urls_that_are_not_one_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"smtp|starttls|TLS|port"):
        parse_smtp_url(url)


def test_settings_check_the_url_and_need_a_from_address() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"smtp://\[user"):
        Settings(smtp_url="mail.example.com", smtp_from=SENDER)
    with pytest.raises(pydantic.ValidationError, match="From address"):
        Settings(smtp_url="smtp://mail.example.com")
    assert Settings(smtp_url="smtp://mail.example.com", smtp_from=SENDER).smtp_from == SENDER
    assert "smtp_url" not in repr(
        Settings(smtp_url="smtp://u:secret@h?starttls=true", smtp_from=SENDER)
    )


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the certificate file a client may trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


async def test_starttls_with_credentials_delivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert_file = self_signed(tmp_path)
    with run_mail_server(tls=context, login=("relay@example.com", "p@ss word")) as server:
        port = server.url.rsplit(":", 1)[1]
        url = f"smtp://relay%40example.com:p%40ss%20word@127.0.0.1:{port}?starttls=true"
        mailer = Mailer(parse_smtp_url(url), SENDER)
        mail = Mail("someone@example.com", "Hello", "over TLS")
        # The server's certificate is verified: unknown to the trust store, refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            await mailer.send(mail)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        await mailer.send(mail)
        assert body_of(server.inbox.wait_for("someone@example.com")).strip() == "over TLS"


async def test_a_failed_delivery_is_logged_without_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with run_mail_server() as server:
        url = server.url
    mailer = Mailer(parse_smtp_url(url), SENDER)  # the server has stopped: refused
    await mailer.deliver(Mail("someone@example.com", "Reset your password", "secret-link-123"))
    assert "Mail not sent (Reset your password)" in caplog.text
    assert "secret-link-123" not in caplog.text


async def test_the_envelope_names_one_address_whatever_the_header_reads_as() -> None:
    """Defence in depth behind the email check: smtplib took the recipients from the
    To header, so "a@example.com, b@example.com" stored as one email went to both."""
    with run_mail_server() as server:
        mailer = Mailer(parse_smtp_url(server.url), SENDER)
        await mailer.send(Mail("a@example.com, b@example.com", "Hello", "to two?"))
        # Delivered (or refused) as the one odd address it is: b@ gets nothing.
        assert server.inbox.to("b@example.com") == []


class RecordingRcpt(SMTP):
    """Keeps each RCPT TO argument as it came over the wire (aiosmtpd's envelope holds
    the address as its own parser reads it)."""

    sent: ClassVar[list[str]] = []

    async def smtp_RCPT(self, arg: str) -> None:
        self.sent.append(arg)
        await super().smtp_RCPT(arg)


class RecordingController(Controller):
    def factory(self) -> SMTP:
        return RecordingRcpt(self.handler, **self.SMTP_kwargs)


async def test_the_envelope_is_the_address_as_given_not_as_the_header_decodes() -> None:
    """An outside review: the envelope was taken from the To header as read back, which
    decodes MIME words: mail to "=?utf-8?q?bob?=@example.com" went to bob@example.com,
    so each spelling of one inbox had a mail limit of its own."""
    port = free_port()
    controller = RecordingController(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = Mailer(SmtpServer("127.0.0.1", port, "none"), SENDER)
        encoded = "=?utf-8?q?bob?=@example.com"
        await mailer.send(Mail(encoded, "Hello", "to bob?"))
    finally:
        controller.stop()
    assert RecordingRcpt.sent == [f"TO:<{encoded}>"]


class SlowInbox(Inbox):
    """Holds each message until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.receiving = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        await asyncio.to_thread(self.release.wait, 15)
        return await super().handle_DATA(server, session, envelope)


async def test_sending_does_not_block_the_event_loop() -> None:
    inbox = SlowInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = Mailer(parse_smtp_url(f"smtp://127.0.0.1:{port}"), SENDER)
        sending = asyncio.create_task(mailer.send(Mail("a@example.com", "Hi", "slow")))
        # While the server holds the message, this loop goes on running this test.
        assert await asyncio.to_thread(inbox.receiving.wait, 15)
        assert not sending.done()
        inbox.release.set()
        await sending
        assert inbox.to("a@example.com")
    finally:
        inbox.release.set()
        controller.stop()
