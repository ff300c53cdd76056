"""relayctl scan: keys found by pattern and checksum in files, staged changes and history,
masked in the output; binary, large and linked files skipped and said to be; file names
shown with their control characters escaped."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from relay.auth.keys import generate_key
from relay_sdk.scan import MAX_FILE_BYTES
from tests.live_server import search_path
from tests.sdk.conftest import assert_nothing_raw, run_relayctl

pytestmark = pytest.mark.backend_independent

# A key's shape with a checksum that does not match: a made-up string, not a key.
FAKE_KEY = "rl_live_" + "a1B2" * 8 + "zzzzzz"


# git with a fixed identity and none of the user's or the system's configuration.
GIT_ENV = os.environ | {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repository: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repository, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def scan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_relayctl("scan", *args, env={}, cwd=cwd)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def test_a_key_in_a_file_is_reported_masked_with_its_line(tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / "app" / "config").mkdir(parents=True)
    (tmp_path / "app" / "config" / "settings.py").write_text(f'DEBUG = True\n\nKEY = "{key}"\n')
    (tmp_path / "notes.txt").write_text(f"a made-up one: {FAKE_KEY}\n")

    found = scan(".", cwd=tmp_path)
    assert found.returncode == 1
    assert found.stdout == f"app/config/settings.py:3: Relay API key {key[:12]}...\n"
    assert key not in found.stdout + found.stderr
    assert "2 scanned; 1 key found" in found.stderr


def test_a_clean_tree_exits_0(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(f"Keys look like {FAKE_KEY}.\n")
    clean = scan(cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, "")
    assert "1 scanned; 0 keys found" in clean.stderr


def test_binary_large_and_linked_files_are_skipped_and_named(tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / "image.png").write_bytes(b"\x89PNG\0\0" + key.encode())
    (tmp_path / "dump.sql").write_bytes(key.encode() + b"\n" + b"x" * MAX_FILE_BYTES)
    (tmp_path / "link.txt").symlink_to(tmp_path / "dump.sql")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "COMMIT_EDITMSG").write_text(key)

    skipped = scan(str(tmp_path), cwd=tmp_path)
    assert (skipped.returncode, skipped.stdout) == (0, "")
    assert "0 scanned" in skipped.stderr
    assert f"skipped 1 binary ({tmp_path}/image.png)" in skipped.stderr
    assert f"skipped 1 over 5 MiB ({tmp_path}/dump.sql)" in skipped.stderr
    assert f"skipped 1 symbolic link ({tmp_path}/link.txt)" in skipped.stderr


def test_json_output_lists_findings_without_the_key(tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / ".env").write_text(f"RELAY_API_KEY={key}\n")
    found = scan("--json", ".env", cwd=tmp_path)
    assert json.loads(found.stdout) == [
        {"path": ".env", "line": 1, "commit": None, "key_prefix": key[:12]}
    ]


def test_staged_reports_only_the_lines_the_staged_change_adds(repository: Path) -> None:
    committed, staged, unstaged = generate_key(), generate_key(), generate_key()
    (repository / "old.py").write_text(f"KEY = '{committed}'\n")
    git(repository, "add", ".")
    git(repository, "commit", "-qm", "old")
    # A content line starting with "++" shows as "+++ ..." in the patch: not a file name.
    (repository / "new file.txt").write_text(f"one\ntwo\n++ {staged}\n{FAKE_KEY}\n")
    git(repository, "add", ".")
    (repository / "unstaged.txt").write_text(unstaged)

    found = scan("--staged", cwd=repository)
    assert found.returncode == 1
    assert found.stdout == f"new file.txt:3: Relay API key {staged[:12]}...\n"


def test_staged_is_clean_when_the_change_adds_no_key(repository: Path) -> None:
    (repository / "app.py").write_text("print('hello')\n")
    git(repository, "add", ".")
    assert scan("--staged", cwd=repository).returncode == 0


def test_history_finds_a_key_removed_since_with_its_commit(repository: Path) -> None:
    key = generate_key()
    (repository / "deploy.sh").write_text(f"#!/bin/sh\nexport RELAY_API_KEY={key}\n")
    git(repository, "add", ".")
    git(repository, "commit", "-qm", "deploy")
    leaked_in = git(repository, "rev-parse", "HEAD")
    (repository / "deploy.sh").write_text("#!/bin/sh\n")
    git(repository, "commit", "-qam", "oops")

    assert scan(cwd=repository).returncode == 0  # the files are clean now
    found = scan("--git-history", cwd=repository)
    assert found.returncode == 1
    assert found.stdout == f"{leaked_in[:12]}:deploy.sh:2: Relay API key {key[:12]}...\n"


def test_git_modes_outside_a_repository_exit_2(tmp_path: Path) -> None:
    outside = scan("--staged", cwd=tmp_path)
    assert outside.returncode == 2
    assert outside.stderr.startswith("relayctl: error: ")
    assert len(outside.stderr.splitlines()) == 1


# A title-setting OSC sequence and a colour in a file name; a bidi override in another.
HOSTILE_NAME = "\x1b]0;pwned\x07\x1b[31mred.env"
HOSTILE_SHOWN = "\\x1b]0;pwned\\x07\\x1b[31mred.env"


def test_file_names_are_reported_with_their_control_characters_escaped(tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / HOSTILE_NAME).write_text(f"KEY={key}\n")
    (tmp_path / "\u202egnp.exe").write_bytes(b"\0binary")
    # Bytes that are not UTF-8, as a file name may hold on Linux.
    (tmp_path / os.fsdecode(b"\xff\x9b.env")).write_text(f"KEY={key}\n")

    found = scan(".", cwd=tmp_path)
    assert found.returncode == 1
    assert found.stdout == (
        f"{HOSTILE_SHOWN}:1: Relay API key {key[:12]}...\n"
        f"\\udcff\\udc9b.env:1: Relay API key {key[:12]}...\n"
    )
    assert "skipped 1 binary (\\u202egnp.exe)" in found.stderr
    assert_nothing_raw(found.stdout, found.stderr)

    as_json = scan("--json", ".", cwd=tmp_path)
    assert as_json.stdout.isascii()
    assert {finding["path"] for finding in json.loads(as_json.stdout)} == {
        HOSTILE_NAME,
        os.fsdecode(b"\xff\x9b.env"),
    }


def test_staged_file_names_are_reported_with_their_control_characters_escaped(
    repository: Path,
) -> None:
    key = generate_key()
    (repository / HOSTILE_NAME).write_text(f"KEY={key}\n")
    git(repository, "add", ".")
    found = scan("--staged", cwd=repository)
    assert found.returncode == 1
    assert found.stdout == f"{HOSTILE_SHOWN}:1: Relay API key {key[:12]}...\n"
    assert_nothing_raw(found.stdout, found.stderr)


def test_a_file_name_taken_for_an_option_is_one_escaped_line(tmp_path: Path) -> None:
    """pre-commit passes the commit's file names as arguments, and Click's answer to an
    unknown option quotes it as it is."""
    name = "--\x1b]0;pwned\x07"
    (tmp_path / name).write_text("x\n")
    # On PATH, as in pre-commit's environment: the hint names `relayctl` bare.
    refused = run_relayctl("scan", name, env={"PATH": search_path(with_venv=True)}, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        "relayctl: error: No such option: --\\x1b]0;pwned\\x07. See 'relayctl scan --help'.\n"
    )
