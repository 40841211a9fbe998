"""Security headers on every page, and no inline script anywhere (the CSP forbids it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _templates() -> list[Path]:
    return [
        p
        for p in ROOT.glob("*/templates/**/*.html")
        if ".venv" not in p.parts and "node_modules" not in p.parts
    ]


def test_templates_have_no_inline_script_or_event_handlers():
    offenders = []
    for path in _templates():
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert _templates(), "no templates found"
    assert offenders == []


@pytest.mark.parametrize("path", ["/login/", "/api/docs/", "/healthz"])
def test_pages_send_a_strict_policy(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_api_docs_load_their_script_from_files(client):
    html = client.get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert "swagger-ui" in html
