"""Finding Relay API keys where they should not be: in files, in staged changes, in history.

A key is recognised by its shape (`rl_live_` + 38 letters and digits) and its checksum,
so a made-up `rl_live_...` string is not reported. Binary content and files over
MAX_FILE_BYTES are skipped, and said to be; nothing else is.
"""

from relay_sdk.scan.files import scan_paths
from relay_sdk.scan.finder import MAX_FILE_BYTES, Finding, ScanResult, find_keys
from relay_sdk.scan.git import GitError, scan_history, scan_staged

__all__ = [
    "MAX_FILE_BYTES",
    "Finding",
    "GitError",
    "ScanResult",
    "find_keys",
    "scan_history",
    "scan_paths",
    "scan_staged",
]
