"""relayctl's output module on its own: which characters are escaped and how, and that
each way it prints (lines, notes, tables, fields, JSON, a bug's traceback) shows Rich
markup as text and control characters as escapes. The commands themselves are tested
against a real server in test_relayctl_output.py."""

from __future__ import annotations

import json

import pytest

from relay_sdk.cli import output
from relay_sdk.escapes import escape_controls
from tests.sdk.conftest import HOSTILE, SHOWN, assert_nothing_raw


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x00\x07\x08\x1b\x7f", "\\x00\\x07\\x08\\x1b\\x7f"),
        ("a\tb\nc\rd", "a\\tb\\nc\\rd"),
        ("\x80\x85\x9b\x9f", "\\x80\\x85\\x9b\\x9f"),
        ("\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
        ("\u061c\u200e\u200f\u2028\u2029", "\\u061c\\u200e\\u200f\\u2028\\u2029"),
        ("\udcff.env", "\\udcff.env"),  # a file name byte that is not UTF-8
    ],
)
def test_steering_characters_are_written_as_python_escapes(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "Street scenes",
        "[bold]Café[/bold] :smile:",
        "数据集 Straße ÿ \u00a0",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467",  # emoji joined by ZWJ
        "C:\\Users\\ci\\.env",
    ],
)
def test_printable_text_is_kept_as_it_is(text: str) -> None:
    assert escape_controls(text) == text


def test_escaping_twice_changes_nothing() -> None:
    assert escape_controls(escape_controls(HOSTILE)) == SHOWN


def test_lines_and_notes_show_markup_and_escape_controls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.print_line(HOSTILE)
    output.print_note(HOSTILE)
    output.report_error(HOSTILE)
    printed = capsys.readouterr()
    assert printed.out == SHOWN + "\n"
    assert printed.err == f"{SHOWN}\nrelayctl: error: {SHOWN}\n"


def test_tables_and_fields_show_markup_and_escape_controls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.print_table(["ID", "[red]Name"], [["[/]", HOSTILE]])
    output.print_fields([("name", HOSTILE), ("[b]", "[/b]")])
    printed = capsys.readouterr().out
    assert printed.count(SHOWN) == 2
    assert "[red]Name" in printed
    assert "[/]" in printed
    assert "[b]" in printed
    assert "[/b]" in printed
    assert_nothing_raw(printed)


def test_a_value_that_is_not_a_string_is_shown_not_a_crash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that is not Relay may send a number or an object where a name belongs."""
    output.print_fields([("name", {"[/i]": 1})])  # type: ignore[list-item]
    assert "{'[/i]': 1}" in capsys.readouterr().out


def test_json_is_printable_ascii_that_reads_back_exactly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.print_json({"name": HOSTILE})
    printed = capsys.readouterr().out
    assert printed.isascii()
    assert_nothing_raw(printed)
    assert json.loads(printed) == {"name": HOSTILE}


def test_a_bugs_traceback_escapes_what_its_message_quotes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        output.report_crash()
    printed = capsys.readouterr().err
    assert printed.startswith("Traceback (most recent call last):\n")
    assert printed.endswith(f"RuntimeError: {SHOWN}\n")
    assert_nothing_raw(printed)
