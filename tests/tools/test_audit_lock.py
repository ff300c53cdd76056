"""tools/audit_lock.py against a local server that answers like PyPI's JSON API."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tools.audit_lock import LockError, main, read_pins

# Tools of the project, not of the server: nothing here touches a database.
pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[2]

MINERVA = {
    "id": "PYSEC-2026-1325",
    "aliases": ["CVE-2024-23342", "GHSA-wj6h-64fc-37mp"],
    "summary": None,
    "details": "Timing attack\non P-256.",
    "fixed_in": [],
    "withdrawn": None,
}
MINERVA_GHSA = {**MINERVA, "id": "GHSA-wj6h-64fc-37mp", "aliases": ["CVE-2024-23342"]}
XSS = {
    "id": "GHSA-h5c8-rqwp-cp95",
    "aliases": ["CVE-2024-22195"],
    "summary": "xmlattr filter allows keys with spaces",
    "fixed_in": ["3.1.3"],
    "withdrawn": None,
}
WITHDRAWN = {**XSS, "id": "PYSEC-0000-1", "aliases": [], "withdrawn": "2024-02-01T00:00:00Z"}


def release(version: str, vulnerabilities: list[dict[str, Any]]) -> dict[str, Any]:
    return {"info": {"version": version}, "vulnerabilities": vulnerabilities}


class FakePyPI(BaseHTTPRequestHandler):
    """Per-release and per-project JSON, as `routes` says; anything else is 404."""

    routes: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, {"message": "Not Found"}))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def pypi() -> Iterator[tuple[str, dict[str, tuple[int, dict[str, Any]]]]]:
    routes: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {}
    handler = type("Handler", (FakePyPI,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()
    thread.join()


def audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, lock: str, *extra: str
) -> tuple[int, str]:
    path = tmp_path / "requirements.lock"
    path.write_text(lock)
    status = main([str(path), "--pypi-url", url, "--timeout", "5", *extra])
    return status, capsys.readouterr().out


def test_a_known_vulnerability_fails_the_audit(tmp_path, capsys, pypi):
    url, routes = pypi
    routes["/pypi/jinja2/3.1.2/json"] = (200, release("3.1.6", [XSS]))
    routes["/pypi/ecdsa/0.19.2/json"] = (200, release("0.19.2", [MINERVA, MINERVA_GHSA]))
    routes["/pypi/fastapi/0.120.0/json"] = (200, release("0.120.0", []))

    status, out = audit(
        tmp_path, capsys, url, "# pins\nJinja2==3.1.2\necdsa==0.19.2\nfastapi==0.120.0\n"
    )

    assert status == 1
    assert "VULNERABLE Jinja2 3.1.2: GHSA-h5c8-rqwp-cp95, CVE-2024-22195 (fixed in: 3.1.3)" in out
    assert "xmlattr filter allows keys with spaces" in out
    # One vulnerability known to two databases is one finding.
    assert out.count("VULNERABLE ecdsa") == 1
    assert "Timing attack on P-256." in out
    assert "3 pins: 3 audited, 0 not audited, 0 failed; 2 known vulnerabilities" in out


def test_clean_pins_and_withdrawn_advisories_pass(tmp_path, capsys, pypi):
    url, routes = pypi
    routes["/pypi/jinja2/3.1.6/json"] = (200, release("3.1.6", [WITHDRAWN]))

    status, out = audit(tmp_path, capsys, url, "jinja2==3.1.6\n")

    assert status == 0
    assert "VULNERABLE" not in out
    assert "1 pins: 1 audited, 0 not audited, 0 failed; 0 known vulnerabilities" in out


def test_an_ignored_advisory_is_matched_by_any_of_its_names(tmp_path, capsys, pypi):
    url, routes = pypi
    routes["/pypi/ecdsa/0.19.2/json"] = (200, release("0.19.2", [MINERVA]))

    status, out = audit(tmp_path, capsys, url, "ecdsa==0.19.2\n", "--ignore-vuln", "CVE-2024-23342")

    assert status == 0
    assert "ignored: ecdsa 0.19.2: PYSEC-2026-1325" in out


def test_without_the_release_endpoint_the_newest_release_uses_the_project_endpoint(
    tmp_path, capsys, pypi
):
    url, routes = pypi
    routes["/pypi/ecdsa/json"] = (200, release("0.19.2", [MINERVA]))
    routes["/pypi/jinja2/json"] = (200, release("3.1.6", [XSS]))

    status, out = audit(tmp_path, capsys, url, "ecdsa==0.19.2\nJinja2==3.1.2\n")

    assert status == 1
    assert "VULNERABLE ecdsa 0.19.2: PYSEC-2026-1325" in out
    # The project's advisories are the newest release's, not the pinned 3.1.2's.
    assert "GHSA-h5c8-rqwp-cp95" not in out
    assert "not audited: Jinja2 3.1.2: PyPI serves advisories here only for the newest" in out
    assert "2 pins: 1 audited, 1 not audited, 0 failed; 1 known vulnerabilities" in out


def test_an_unreachable_or_failing_index_fails_the_audit(tmp_path, capsys, pypi):
    url, routes = pypi
    routes["/pypi/jinja2/3.1.6/json"] = (503, {"message": "unavailable"})

    status, out = audit(tmp_path, capsys, url, "jinja2==3.1.6\n")

    assert status == 2
    assert "ERROR jinja2 3.1.6: HTTPError: HTTP Error 503" in out
    assert "0 audited, 0 not audited, 1 failed" in out


def test_an_unpinned_line_fails_the_audit(tmp_path, capsys):
    path = tmp_path / "requirements.lock"
    path.write_text("jinja2==3.1.6\nfastapi>=0.110\n")

    assert main([str(path)]) == 2
    assert "line 2 is not an exact pin" in capsys.readouterr().err


def test_the_projects_lock_file_pins_every_package():
    with pytest.raises(LockError):
        read_pins(io.StringIO("-e .\n"))
    pins = read_pins((ROOT / "requirements.lock").read_text().splitlines())
    names = {pin.project for pin in pins}
    assert {"fastapi", "sqlalchemy", "argon2-cffi", "pytest"} <= names


def test_only_http_urls_are_asked(tmp_path):
    with pytest.raises(SystemExit) as exit:
        main([str(tmp_path / "requirements.lock"), "--pypi-url", "file:///etc/passwd"])
    assert exit.value.code == 2
