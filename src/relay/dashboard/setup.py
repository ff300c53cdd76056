"""Mounting the dashboard on the app: pages, static files, error pages, security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.dashboard import (
    account_pages,
    account_settings_pages,
    api_key_detail_pages,
    api_key_pages,
    audit_pages,
    dataset_pages,
    key_insight_pages,
    key_policy_pages,
    limit_pool_pages,
    member_pages,
    notice_pages,
    password_reset_pages,
    two_factor_pages,
    webhook_pages,
)
from relay.dashboard.csrf import CsrfRefused, refuse_cross_site
from relay.dashboard.error_pages import install_error_pages
from relay.dashboard.permissions import signed_out
from relay.dashboard.two_factor_pages import SETUP
from relay.dashboard.web import (
    UNSTORABLE_FIELD,
    SignInRequired,
    TwoFactorSetupRequired,
    UnusableForm,
    render,
)
from relay.errors import statement_error, unstorable_text

# No inline script or style anywhere: every script and stylesheet is a file under /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# The API and its interactive docs (which load Swagger UI) keep their own rules.
_NOT_DASHBOARD = ("/api/", "/docs", "/redoc", "/openapi.json")


class SecurityHeadersMiddleware:
    """Adds the dashboard's security headers to every page and static file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_NOT_DASHBOARD):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _sign_in_required(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


async def _two_factor_setup_required(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse(SETUP, status_code=303)


async def _form_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfRefused | UnusableForm)
    context = {"title": "Form refused", "message": exc.detail}
    return render(request, "message.html", context, status_code=exc.status_code)


async def _statement_error(request: Request, exc: Exception) -> Response:
    """A page's text that a column refused (see relay.errors.statement_error): the
    form is refused as a page, not as the API's JSON."""
    refused = unstorable_text(exc)
    if refused is None or request.url.path.startswith(_NOT_DASHBOARD):
        return await statement_error(request, exc)
    return await _form_refused(request, UnusableForm(f"{UNSTORABLE_FIELD} {refused}"))


STATIC = Path(__file__).parent / "static"


async def _favicon() -> FileResponse:
    """The icon browsers ask for on any page, ours or not (/docs, a JSON answer)."""
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from the same app, at / (the API stays under /api)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route(
        "/favicon.ico",
        _favicon,
        include_in_schema=False,
        dependencies=[signed_out("the site's icon, asked for by any page")],
    )
    # Declared once for every page, like the API's authentication: a new page's
    # unsafe requests are refused from other sites without a line of its own.
    pages = APIRouter(include_in_schema=False, dependencies=[Depends(refuse_cross_site)])
    for module in (
        account_pages,
        account_settings_pages,
        notice_pages,
        two_factor_pages,
        password_reset_pages,
        api_key_pages,
        api_key_detail_pages,
        key_insight_pages,
        key_policy_pages,
        limit_pool_pages,
        member_pages,
        audit_pages,
        dataset_pages,
        webhook_pages,
    ):
        pages.include_router(module.router)
    app.include_router(pages)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(TwoFactorSetupRequired, _two_factor_setup_required)
    app.add_exception_handler(CsrfRefused, _form_refused)
    app.add_exception_handler(UnusableForm, _form_refused)
    app.add_exception_handler(StatementError, _statement_error)
    install_error_pages(app, SECURITY_HEADERS)
    app.add_middleware(SecurityHeadersMiddleware)
