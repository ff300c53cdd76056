"""Browsers named as people name them, for the list of sessions."""

from __future__ import annotations

import pytest

from relay.accounts.user_agents import describe_browser


@pytest.mark.parametrize(
    ("user_agent", "described"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/131.0.6778.33 Safari/537.36", "Chrome 131 on Linux"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge 131 on Windows"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera 115 on Windows"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/18.1 Safari/605.1.15", "Safari 18 on macOS"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari 18 on iOS"),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
         "Firefox 133 on Linux"),
        ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.6778.81 Mobile Safari/537.36", "Chrome 131 on Android"),
        ("curl/8.5.0", "curl 8"),
        ("Mozilla/5.0 (compatible; Something)", "Unknown browser"),
        ("", "Unknown browser"),
        (None, "Unknown browser"),
    ],
)  # fmt: skip
def test_browsers_are_named_with_version_and_system(user_agent: str | None, described: str) -> None:
    assert describe_browser(user_agent) == described
