"""No secret in any log line, by construction: statements' errors name no values
(hide_parameters), and the formatter every line goes through redacts whatever is
shaped like a key, a password hash, a digest or a token, in the message, the extra
fields and the traceback alike. (Every server the suite runs has its log scanned by
tests/secret_detector.py when it stops; see tests/live_server.py.)"""

from __future__ import annotations

import hashlib
import json
import logging
import sys

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from relay.accounts.recovery_codes import new_code
from relay.auth import keys
from relay.db import Database
from relay.observability import JsonFormatter, TextFormatter, logging_config
from relay.tenants.passwords import hash_password
from relay.tokens import new_token
from relay.webhooks import signing
from tests.secret_detector import secret_shapes_in


async def _secrets() -> dict[str, str]:
    return {
        "key": keys.generate_key(),
        "password hash": await hash_password("correct horse battery"),
        "digest": hashlib.sha256(b"a key").hexdigest(),
        "token": new_token(),
        "totp secret": pyotp.random_base32(),
        "webhook signing secret": signing.new_secret(),
    }


def _line(record: logging.LogRecord) -> str:
    return JsonFormatter().format(record)


@pytest.mark.backend_independent
async def test_every_secret_shape_is_redacted_wherever_it_is_in_the_line() -> None:
    for name, secret in (await _secrets()).items():
        try:
            raise ValueError(f"failed with {secret}")
        except ValueError:
            exc_info = sys.exc_info()
        record = logging.makeLogRecord(
            {"msg": "saw %s", "args": (secret,), "exc_info": exc_info, "extra_field": secret}
        )
        record.extra_field = [secret]
        line = _line(record)
        assert secret not in line, name
        assert secret_shapes_in(line) == [], name
        parsed = json.loads(line)
        assert "redacted" in parsed["message"], name
        assert "redacted" in parsed["exception"], name


@pytest.mark.backend_independent
@pytest.mark.parametrize("before", ["\n", "\t", "é", "\u2028", '"'])
async def test_a_secret_after_a_character_json_escapes_is_redacted_too(before: str) -> None:
    """Redacted before the line is serialised: a token right after a newline or a
    non-ASCII character reached the log as "\\n<token>", out of the shapes' reach."""
    for name, secret in (await _secrets()).items():
        record = logging.makeLogRecord({"msg": f"x{before}{secret}{before}y"})
        line = _line(record)
        assert secret not in json.loads(line)["message"], name
        assert secret_shapes_in(line) == [], name


@pytest.mark.backend_independent
@pytest.mark.parametrize("before", ["", "\n", "\t", "é", "\u2028", '"'])
async def test_the_text_format_redacts_exactly_as_the_json_format(before: str) -> None:
    """A terminal's readable lines go through the same redaction as the JSON lines: the
    message, the extra fields and the traceback alike."""
    for name, secret in (await _secrets()).items():
        try:
            raise ValueError(f"failed with {before}{secret}")
        except ValueError:
            exc_info = sys.exc_info()
        record = logging.makeLogRecord(
            {"msg": f"saw {before}%s", "args": (secret,), "exc_info": exc_info,
             "levelno": logging.ERROR, "levelname": "ERROR"}
        )  # fmt: skip
        record.extra_field = [f"{before}{secret}"]
        text = TextFormatter().format(record)
        assert secret not in text, name
        assert secret_shapes_in(text) == [], name
        if before == "":  # nothing to escape: the JSON line's very text is shown
            redacted = json.loads(_line(record))
            assert f" ERROR {redacted['message']} extra_field=" in text, name
            assert json.dumps(redacted["extra_field"]) in text, name
            for line in redacted["exception"].splitlines():
                assert line in text, name


def test_statement_loggers_stay_quiet_at_debug() -> None:
    """At RELAY_LOG_LEVEL=debug aiosqlite's own lines carry every statement's values."""
    configured = logging_config("debug")["loggers"]
    for name in ("aiosqlite", "sqlalchemy", "asyncpg"):
        assert configured[name]["level"] == "WARNING"


@pytest.mark.backend_independent
def test_a_keys_public_prefix_and_ordinary_values_are_kept() -> None:
    key = keys.generate_key()
    request_id = "0123456789abcdef0123456789abcdef"  # 128 bits: not a secret's shape
    record = logging.makeLogRecord(
        {"msg": "key %s, request %s, route /api/v1/datasets", "args": (key, request_id)}
    )
    message = json.loads(_line(record))["message"]
    assert message.startswith(f"key {key[:12]}[redacted], request {request_id}")
    assert "/api/v1/datasets" in message


@pytest.mark.backend_independent
def test_recovery_codes_are_not_mistaken_for_words() -> None:
    # Recovery codes never reach a log (forms are not logged); they are short enough
    # that redacting their shape would blank ordinary words, so the test says so.
    assert secret_shapes_in(new_code()) == []


async def test_a_failed_statements_error_names_no_value(db: Database) -> None:
    """What a traceback of a failed statement prints: SQLAlchemy's message, without
    the parameters (the review saw a user's argon2 hash there)."""
    secret = (await _secrets())["password hash"]
    async with db.engine.connect() as connection:
        with pytest.raises(DBAPIError) as failed:
            await connection.execute(text("SELECT :secret, no_such_column"), {"secret": secret})
    assert secret not in str(failed.value)
    assert "parameters hidden" in str(failed.value)
