"""The docs' screenshots come from tools/screenshots.py: it makes every picture the docs
show, from a seeded server, and the docs show no picture it does not make."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tools.screenshots import DOCS_SCREENSHOTS, ROOT, SHOTS

# A server and a browser, the same on any database the suite runs on.
pytestmark = pytest.mark.backend_independent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_docs_show_only_pictures_the_script_makes() -> None:
    shown = {
        match.group(1)
        for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
        for match in re.finditer(r"screenshots/([\w-]+)\.png", page.read_text())
    }
    assert shown, "the docs show no screenshot"
    assert shown <= set(SHOTS), f"not made by tools/screenshots.py: {shown - set(SHOTS)}"
    kept = {path.stem for path in DOCS_SCREENSHOTS.glob("*.png")}
    assert kept == set(SHOTS), f"docs/screenshots holds other files: {kept ^ set(SHOTS)}"


def test_the_script_makes_every_picture_from_a_seeded_server(tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "tools.screenshots", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    for name in SHOTS:
        picture = (tmp_path / f"{name}.png").read_bytes()
        assert picture.startswith(PNG_SIGNATURE), name
        width = int.from_bytes(picture[16:20], "big")  # the IHDR chunk's width
        assert width == (390 if name.endswith("phone") else 1280), name
