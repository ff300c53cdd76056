"""Interactive API docs at /docs: Swagger UI from files Relay ships (fastapi-offline's
copy), never a CDN, under a strict Content-Security-Policy. RELAY_DOCS=false turns
them off; /openapi.json stays, for clients and tools.

Swagger UI needs one inline script to start; the policy allows exactly that script
by its SHA-256, and nothing else inline but styles (Swagger UI sets them).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"


def _script_hash(html: str) -> str:
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert len(inline) == 1, "Swagger UI's page changed: review the policy"
    digest = hashlib.sha256(inline[0].encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets (the app is made with docs_url=None)."""
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Relay API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url="/favicon.ico",
    )
    html = bytes(page.body).decode()
    policy = (
        f"default-src 'none'; script-src 'self' '{_script_hash(html)}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    async def docs() -> HTMLResponse:
        """Swagger UI, with an Authorize button for X-API-Key."""
        return HTMLResponse(html, headers=headers)

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    app.add_api_route("/docs", docs, include_in_schema=False)
