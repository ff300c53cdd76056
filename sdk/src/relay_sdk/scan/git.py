"""Scanning what git holds: the staged changes, or every commit reachable from any ref.

Both read `git diff`/`git log -p` output with no context lines and look at added
lines only, so a key is reported where a commit (or the next one) adds it. What git
treats as binary is skipped: a NUL byte, a `-diff` attribute, or a file over
MAX_FILE_BYTES (core.bigFileThreshold makes git treat those as binary). Commit
messages and the conflict resolutions of merge commits are not read.
"""

from __future__ import annotations

import codecs
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from relay_sdk.scan.finder import MAX_FILE_BYTES, Finding, ScanResult, find_keys

SKIPPED_BY_GIT = f"binary or over {MAX_FILE_BYTES // (1024 * 1024)} MiB"
# Patches in one stable shape whatever the user's configuration: no colour, no
# external diff or textconv programs, a/ and b/ prefixes, UTF-8 paths unescaped.
_DIFF_OPTIONS = [
    "-U0",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
]
_GIT_CONFIG = ["-c", "core.quotePath=false", "-c", f"core.bigFileThreshold={MAX_FILE_BYTES}"]
_HUNK = re.compile(rb"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_BINARY = re.compile(rb"Binary files (.*) and (.*) differ")
_COMMIT_MARKER = b"commit "


class GitError(Exception):
    """git could not be run, or refused (not a repository, say)."""


def scan_staged(repository: str = ".") -> ScanResult:
    """The lines that the staged changes (`git diff --cached`) add."""
    return _scan_patch(repository, ["diff", "--cached", *_DIFF_OPTIONS])


def scan_history(repository: str = ".") -> ScanResult:
    """The lines that every commit reachable from any ref adds (`git log --all -p`)."""
    return _scan_patch(
        repository, ["log", "--all", "-p", f"--format={_COMMIT_MARKER.decode()}%H", *_DIFF_OPTIONS]
    )


def _scan_patch(repository: str, arguments: list[str]) -> ScanResult:
    command = ["git", *_GIT_CONFIG, *arguments]
    result = ScanResult()
    # stderr to a file: a pipe left unread while stdout streams could fill and stall git.
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(  # noqa: S603 (git from PATH, no shell)
                command, cwd=repository, stdout=subprocess.PIPE, stderr=errors
            )
        except OSError as error:
            raise GitError(f"cannot run git: {error}") from error
        assert process.stdout is not None
        with process:
            for file in _patch_files(process.stdout, result):
                result.scanned += 1
                result.findings.extend(
                    Finding(file.path, line, key, file.commit)
                    for line, key in _added_keys(file.added_lines)
                )
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
    if process.returncode != 0:
        raise GitError(message.splitlines()[0] if message else f"git {arguments[0]} failed")
    return result


@dataclass
class _PatchedFile:
    path: str
    commit: str | None
    added_lines: list[tuple[int, bytes]]


def _patch_files(lines: Iterable[bytes], result: ScanResult) -> Iterator[_PatchedFile]:
    """Each file of a patch with its added lines (new line number, text).

    A hunk header says how many lines it holds, so a content line that happens to
    start with "+++ " or "commit " is never taken for a header.
    """
    commit: str | None = None
    current: _PatchedFile | None = None
    removed_left = added_left = 0
    line_number = 0
    for raw in lines:
        line = raw.rstrip(b"\n")
        if added_left or removed_left:
            if line.startswith(b"+"):
                assert current is not None
                current.added_lines.append((line_number, line[1:]))
                line_number += 1
                added_left -= 1
            elif line.startswith(b"-"):
                removed_left -= 1
            continue  # "\ No newline at end of file" counts as neither
        if line.startswith(_COMMIT_MARKER):
            commit = line[len(_COMMIT_MARKER) :].decode("ascii")
        elif line.startswith(b"+++ "):
            if current is not None:
                yield current
            current = _PatchedFile(_patch_path(line[4:]), commit, [])
        elif hunk := _HUNK.match(line):
            removed, start, added = hunk.groups()
            removed_left = 1 if removed is None else int(removed)
            added_left = 1 if added is None else int(added)
            line_number = int(start)
        elif binary := _BINARY.fullmatch(line):
            result.skip(SKIPPED_BY_GIT, _patch_path(binary.group(2)))
    if current is not None:
        yield current


def _patch_path(raw: bytes) -> str:
    """`b/path` from a patch header, unquoted the way git quotes unusual names."""
    raw = raw.rstrip(b"\t")  # git ends a name holding a space with a tab
    if raw.startswith(b'"') and raw.endswith(b'"'):
        raw = codecs.escape_decode(raw[1:-1])[0]
    path = raw.decode("utf-8", errors="replace")
    return path.removeprefix("b/")


def _added_keys(added_lines: list[tuple[int, bytes]]) -> Iterator[tuple[int, str]]:
    for line_number, text in added_lines:
        for _, key in find_keys(text):
            yield line_number, key
