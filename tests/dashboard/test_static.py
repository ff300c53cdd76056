"""Files every page needs: the icon (a 404 for it is a console error in every browser)."""

from __future__ import annotations

import httpx
import pytest

# Static files: no database work.
pytestmark = pytest.mark.backend_independent


async def test_favicon_is_served_where_browsers_look_for_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.startswith(b"<svg")


async def test_every_page_links_its_icon(client: httpx.AsyncClient) -> None:
    for page in ("/login", "/signup"):
        html = (await client.get(page)).text
        assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert (await client.get("/static/favicon.svg")).status_code == 200
