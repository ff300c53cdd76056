"""A browser's User-Agent header told as people name browsers: "Chrome 131 on Linux".

Enough to recognise one's own sessions; not a device database. The order matters:
Edge and Opera also say "Chrome", Chrome also says "Safari".
"""

from __future__ import annotations

import re

_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"\b(?:OPR|Opera)/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:HeadlessChrome|Chrome|Chromium|CriOS)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)(?:\.\d+)*(?: Mobile/\S+)? Safari/")),
)
_SYSTEMS = (
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)
_PRODUCT = re.compile(r"^([A-Za-z][\w.-]{0,40})/(\d+)")


def describe_browser(user_agent: str | None) -> str:
    """ "Firefox 133 on Windows", "curl 8" for a program, "Unknown browser" otherwise."""
    if not user_agent:
        return "Unknown browser"
    browser = next(
        (f"{name} {found.group(1)}" for name, pattern in _BROWSERS
         if (found := pattern.search(user_agent))),
        None,
    )  # fmt: skip
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    if browser is None:
        product = _PRODUCT.match(user_agent)
        if product is None or product.group(1) == "Mozilla":
            return f"Unknown browser on {system}" if system else "Unknown browser"
        browser = f"{product.group(1)} {product.group(2)}"
    return f"{browser} on {system}" if system else browser
