"""Scanner speed: `relayctl scan` over a generated tree of 100,000 files.

    .venv/bin/python bench/scan.py                 # 100,000 files in a temp dir
    .venv/bin/python bench/scan.py --files 20000

The tree looks like a source checkout: 1,000 directories, text files of 200 bytes
to 8 KiB (a tenth of them holding `rl_live_` strings with bad checksums, which
must not be reported), 2 % binary files, and one real key in every 10,000 files,
which must all be found. The figure is the wall time of the relayctl process,
from a cold start, after the tree is written (the page cache is warm: the tree
was just written, as it is after a checkout).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from relay.auth.keys import generate_key

RELAYCTL = str(Path(sys.executable).with_name("relayctl"))
WORDS = ["import", "def", "return", "self", "value", "config", "request", "dataset", "=", "(", ")"]


def text_of(size: int, chooser: random.Random) -> str:
    words = chooser.choices(WORDS, k=size // 5)
    return "\n".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12)) + "\n"


def write_tree(root: Path, files: int, chooser: random.Random) -> int:
    """Writes the tree; returns how many real keys it holds."""
    keys_planted = 0
    for number in range(files):
        directory = root / f"pkg{number % 1000:03d}" / f"mod{number % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"file{number}.py"
        if number % 50 == 1:
            path.with_suffix(".bin").write_bytes(os.urandom(4096))
            continue
        content = text_of(chooser.randint(200, 8192), chooser)
        if number % 10 == 2:
            content += "rl_live_" + "".join(chooser.choices("abcXYZ0123", k=38)) + "\n"
        if number % 10_000 == 3:
            content += f"KEY = '{generate_key()}'\n"
            keys_planted += 1
        path.write_text(content)
    return keys_planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        planted = write_tree(root, arguments.files, random.Random(7))
        started = time.perf_counter()
        result = subprocess.run([RELAYCTL, "scan", str(root)], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    found = len(result.stdout.splitlines())
    print(f"cores: {os.cpu_count()}")
    print(f"files: {arguments.files:,}; keys planted {planted}, found {found}")
    print(result.stderr.strip())
    print(f"relayctl scan: {elapsed:.2f} s ({arguments.files / elapsed:,.0f} files/s)")
    if found != planted or result.returncode != (1 if planted else 0):
        sys.exit("the scan did not report exactly the planted keys")


if __name__ == "__main__":
    main()
