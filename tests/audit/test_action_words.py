"""Every action the audit log records is said in words for the dashboard; the API keeps
the codes."""

from __future__ import annotations

import pytest

from relay.audit.actions import WORDS, Action, in_words

pytestmark = pytest.mark.backend_independent


def test_every_action_has_words_of_its_own() -> None:
    assert [action for action in Action if action not in WORDS] == []
    assert len(set(WORDS.values())) == len(WORDS), "two actions read the same"
    assert all(words and words[0].isupper() for words in WORDS.values())


def test_a_code_relay_no_longer_records_reads_as_itself() -> None:
    assert in_words("api_key.rotated") == "API key rotated"
    assert in_words("widget.frobbed") == "widget.frobbed"
