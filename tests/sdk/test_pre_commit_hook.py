"""The real pre-commit, installed from this repository's .pre-commit-hooks.yaml into a
throwaway repository, refuses a commit that holds a key and lets a clean one through.

pre-commit clones a hook repository at a commit, so the test first commits a snapshot
of this working tree (tracked files and new ones git does not ignore) to a local
repository and points `repo:` at its path: no network, and the hooks tested are the
ones on disk, committed or not. Installing the hook's environment takes pip a few
seconds (the mirror serves it offline).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relay.auth.keys import generate_key
from tests.sdk.test_scan import GIT_ENV, git

pytestmark = pytest.mark.backend_independent

PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def snapshot_of_this_repository(destination: Path) -> str:
    """The working tree's files committed to a new repository; returns the commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        check=True,
    )
    for name in listed.stdout.decode().split("\0"):
        source = REPOSITORY_ROOT / name
        if name and source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-qm", "snapshot")
    return git(destination, "rev-parse", "HEAD")


def commit(repository: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-m", message],
        cwd=repository,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pre_commit_hook_refuses_a_staged_key_and_passes_a_clean_commit(tmp_path: Path) -> None:
    hooks_source, project = tmp_path / "relay", tmp_path / "project"
    hooks_source.mkdir()
    project.mkdir()
    revision = snapshot_of_this_repository(hooks_source)
    git(project, "init", "-q", "-b", "main")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks_source}\n    rev: {revision}\n    hooks: [{{id: relay-scan}}]\n"
    )
    env = GIT_ENV | {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    subprocess.run([PRE_COMMIT, "install"], cwd=project, env=env, check=True, capture_output=True)

    key = generate_key()
    (project / "settings.py").write_text(f"DEBUG = False\nRELAY_API_KEY = '{key}'\n")
    git(project, "add", ".")
    refused = commit(project, env, "Add settings")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    output = refused.stdout + refused.stderr
    assert f"settings.py:2: Relay API key {key[:12]}..." in output
    assert key not in output
    assert git(project, "rev-list", "--all") == ""  # nothing was committed

    (project / "settings.py").write_text("import os\nRELAY_API_KEY = os.environ['RELAY_API_KEY']\n")
    git(project, "add", ".")
    accepted = commit(project, env, "Read the key from the environment")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert re.search(r"Relay API keys\.+Passed", accepted.stderr)  # the hook ran, and passed

    # A file named like one of relayctl's options is scanned as a file all the same.
    (project / "--json").write_text(f"token = '{key}'\n")
    git(project, "add", "--", "--json")
    named_like_an_option = commit(project, env, "Add a file named --json")
    assert named_like_an_option.returncode != 0
    assert f"--json:1: Relay API key {key[:12]}..." in (
        named_like_an_option.stdout + named_like_an_option.stderr
    )
