"""MkDocs hooks of the documentation site (mkdocs.yml names this file): the
generated reference pages (tools/docs_reference.py) are added to the site's files
while it builds, so they always say what the code does."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

# MkDocs loads this file by its path: the repository's root is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import docs_reference


def _api_page() -> str:
    return docs_reference.api_page(docs_reference.openapi_document())


GENERATED: dict[str, Callable[[], str]] = {
    "reference/configuration.md": docs_reference.configuration_page,
    "reference/relay-cli.md": docs_reference.relay_cli_page,
    "reference/relayctl.md": docs_reference.relayctl_page,
    "reference/api.md": _api_page,
}


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    for uri, page in GENERATED.items():
        files.append(File.generated(config, uri, content=page()))
    return files
