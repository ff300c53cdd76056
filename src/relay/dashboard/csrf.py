"""Cross-site request forgery defence for the dashboard, in two layers:

- Every form carries a token derived from the browser's session: an HMAC, with the
  server's key, of the session cookie (before sign-in, of a random pre-session
  cookie). A token is good for that session only, a new one comes with every
  sign-in, and a cookie and token planted together are worthless: the attacker
  cannot compute the HMAC without the server's key.
- Every unsafe request (POST, PUT, PATCH, DELETE) to the dashboard whose browser
  says it comes from another site is refused first: `Sec-Fetch-Site` other than
  same-origin or none, or an `Origin` that is not this server's.

The API is not concerned: it authenticates by a header a browser never adds by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request

from relay.errors import RelayError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE_REFUSED = "This form did not come from Relay's own pages, so it was refused."
FORM_EXPIRED = "This form has expired or did not come from Relay. Reload and retry."


class CsrfRefused(RelayError):
    status_code = 403
    code = "csrf_refused"


def form_token(csrf_key: bytes, binding: str) -> str:
    """The token forms carry for `binding` ("session:<token>" or "presession:<id>")."""
    digest = hmac.new(csrf_key, binding.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def token_matches(csrf_key: bytes, binding: str | None, sent: object) -> bool:
    if binding is None or not isinstance(sent, str):
        return False
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), form_token(csrf_key, binding).encode()
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: Request, public_url: str, secure: bool) -> set[str]:
    """This server as browsers name it: RELAY_PUBLIC_URL, or the Host the browser asked."""
    host = request.headers.get("host", "")
    scheme = "https" if secure else request.url.scheme
    return {_origin(public_url), f"{scheme}://{host}".lower()}


def refuse_cross_site(request: Request) -> None:
    """CsrfRefused for an unsafe request that a browser says came from elsewhere."""
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CsrfRefused(CROSS_SITE_REFUSED)
    origin = request.headers.get("origin")
    settings = request.app.state.settings
    if origin is not None and origin.lower() not in allowed_origins(
        request, settings.public_url, settings.cookie_secure
    ):
        raise CsrfRefused(CROSS_SITE_REFUSED)
