"""Error pages for people: a browser that asks for a page Relay does not have (404, a
malformed id in its address included), in a way no page takes (405), or that fails (500)
gets a page in the dashboard's layout, with a title, the page's language and a way on.
The API (/api/...), its documents and any client that does not ask for HTML keep the
JSON answers of relay.errors."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from relay.dashboard.permissions import RoleRefused
from relay.dashboard.web import render
from relay.errors import http_error, relay_error, unexpected_error, validation_response

logger = logging.getLogger(__name__)

# (title, what happened and what to do), by status.
_PAGES = {
    404: (
        "Page not found",
        "There is no page at this address: the link may be mistyped, or what it pointed "
        "to may have been deleted.",
    ),
    405: (
        "Page not found",
        "This address is not a page you can open: it takes a form sent from another page.",
    ),
    500: (
        "Something went wrong",
        "Relay could not show this page. Try again in a moment; if it keeps happening, "
        "tell whoever runs this Relay.",
    ),
}
_NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/static/", "/metrics")


def wants_page(request: Request) -> bool:
    """Whether the request is a person's browser asking for a page."""
    path = request.url.path
    if path == "/api" or path.startswith(_NOT_PAGES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _page(request: Request, status_code: int) -> Response:
    title, message = _PAGES[status_code]
    return render(
        request, "message.html", {"title": title, "message": message}, status_code=status_code
    )


async def _role_refused_page(request: Request, exc: Exception) -> Response:
    """403, the page's action not run: in words for a person, JSON for a program."""
    assert isinstance(exc, RoleRefused)
    if not wants_page(request):
        return await relay_error(request, exc)
    context = {"title": "Not allowed for your role", "message": exc.detail}
    return render(request, "message.html", context, status_code=403)


async def _validation_error_page(request: Request, exc: Exception) -> Response:
    """A page's address with an id that is no id names no page: 404. Anything else
    (and anything but a page) keeps relay.errors' 422."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if wants_page(request) and any(error.get("loc", ("",))[0] == "path" for error in errors):
        return _page(request, 404)
    return validation_response(errors)


async def _http_error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in _PAGES and wants_page(request):
        page = _page(request, exc.status_code)
        if exc.status_code == 405 and exc.headers:
            page.headers.update(exc.headers)  # Allow
        return page
    return await http_error(request, exc)


def install_error_pages(app: FastAPI, security_headers: Sequence[tuple[bytes, bytes]]) -> None:
    """In place of relay.errors' handlers for these, which they fall back to. A 500
    leaves from outside every middleware (Starlette's ServerErrorMiddleware), so its page
    gets the dashboard's `security_headers` here; the others get them on their way out."""

    async def unexpected_error_page(request: Request, exc: Exception) -> Response:
        answer = await unexpected_error(request, exc)  # logs it
        if not wants_page(request):
            return answer
        try:
            page = _page(request, 500)
        except Exception as failed:  # the page itself failed: the plain answer then
            logger.error("error page failed: %s", type(failed).__name__)
            return answer
        for name, value in security_headers:
            page.headers[name.decode()] = value.decode()
        return page

    app.add_exception_handler(HTTPException, _http_error_page)
    app.add_exception_handler(RequestValidationError, _validation_error_page)
    app.add_exception_handler(RoleRefused, _role_refused_page)
    app.add_exception_handler(Exception, unexpected_error_page)
