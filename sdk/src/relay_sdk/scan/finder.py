"""Keys in bytes: the pattern, the checksum check, and where each one is (path, line, commit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from relay_sdk import keys

# Larger files are skipped: real keys sit in source and config files, and reading
# generated dumps and logs would cost more than the rest of a tree.
MAX_FILE_BYTES = 5 * 1024 * 1024
_PREFIX = keys.KEY_PREFIX.encode("ascii")
_CANDIDATE = re.compile(re.escape(_PREFIX) + rb"[0-9A-Za-z]{%d}" % (keys.KEY_LENGTH - len(_PREFIX)))


@dataclass(frozen=True)
class Finding:
    """A key found at `path:line` (in `commit`, for history); `key` is never printed."""

    path: str
    line: int
    key: str = field(repr=False)
    commit: str | None = None

    @property
    def key_prefix(self) -> str:
        return keys.display_prefix(self.key)

    @property
    def location(self) -> str:
        """`path:line`, or `commit:path:line` as `git show commit:path` reads it."""
        where = f"{self.path}:{self.line}"
        return f"{self.commit[:12]}:{where}" if self.commit else where


@dataclass
class ScanResult:
    """What a scan found, how much it read, and what it skipped (reason: paths)."""

    findings: list[Finding] = field(default_factory=list)
    scanned: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, path: str) -> None:
        self.skipped.setdefault(reason, []).append(path)


def find_keys(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, key) of each checksum-valid key in `data`."""
    if _PREFIX not in data:  # the common case, at memory speed
        return
    line, counted_to = 1, 0
    for match in _CANDIDATE.finditer(data):
        candidate = match.group().decode("ascii")
        if keys.is_valid_key(candidate):
            line += data.count(b"\n", counted_to, match.start())
            counted_to = match.start()
            yield line, candidate


def is_binary(data: bytes) -> bool:
    """Git's test: a NUL byte in the first 8,000 bytes."""
    return b"\0" in data[:8000]
