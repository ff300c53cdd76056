"""Scanning files and directory trees.

Directories are walked without following symbolic links; `.git` directories are
left out (history is what --git-history reads). Symbolic links, binary files (a
NUL byte in the first 8,000 bytes) and files over MAX_FILE_BYTES are skipped and
counted; unreadable ones too. Ignore files (.gitignore and the like) are not
read: a key in an ignored `.env` is still a key on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from relay_sdk.scan.finder import MAX_FILE_BYTES, Finding, ScanResult, find_keys, is_binary

SKIPPED_BINARY = "binary"
SKIPPED_LARGE = f"over {MAX_FILE_BYTES // (1024 * 1024)} MiB"
SKIPPED_LINK = "symbolic link"
SKIPPED_UNREADABLE = "unreadable"


def scan_paths(paths: Iterable[str]) -> ScanResult:
    """Every file named, and every file under every directory named."""
    result = ScanResult()
    for path in _files(paths, result):
        _scan_file(path, result)
    return result


def _files(paths: Iterable[str], result: ScanResult) -> Iterator[str]:
    for path in paths:
        if os.path.islink(path):
            result.skip(SKIPPED_LINK, path)
        elif os.path.isdir(path):
            yield from _walk(os.path.normpath(path), result)
        else:
            yield path


def _walk(root: str, result: ScanResult) -> Iterator[str]:
    """Files under `root` in name order; os.scandir tells links and directories apart
    without a stat call per file, which matters for 100,000 files."""
    directories = [root]
    while directories:
        directory = directories.pop()
        try:
            with os.scandir(directory) as scanner:
                entries = sorted(scanner, key=lambda entry: entry.name)
        except OSError:
            result.skip(SKIPPED_UNREADABLE, directory)
            continue
        subdirectories = []
        for entry in entries:
            # "app/x.py", not "./app/x.py", when scanning the current directory.
            path = entry.name if directory == os.curdir else entry.path
            if entry.is_symlink():
                result.skip(SKIPPED_LINK, path)
            elif entry.is_dir():
                if entry.name != ".git":
                    subdirectories.append(path)
            else:
                yield path
        directories.extend(reversed(subdirectories))


def _scan_file(path: str, result: ScanResult) -> None:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError:
        result.skip(SKIPPED_UNREADABLE, path)
        return
    if len(data) > MAX_FILE_BYTES:
        result.skip(SKIPPED_LARGE, path)
    elif is_binary(data):
        result.skip(SKIPPED_BINARY, path)
    else:
        result.scanned += 1
        result.findings.extend(Finding(path, line, key) for line, key in find_keys(data))
