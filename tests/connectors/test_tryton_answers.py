"""Tryton's JSON-RPC answers that are not what a Tryton server sends (a proxy in the way,
a broken extension value): a clear source-system error, never an exception that would
leave a run hanging."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.builtin.tryton import TrytonClient
from connectors.registries import SourceSystemError


@pytest.fixture
def answering():
    state = {"body": b"{}"}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "body",
    [
        b'"Service Unavailable"',
        b"[1, 2, 3]",
        b"42",
        b"<html>Bad gateway</html>",
        b'{"id": 0, "result": {"__class__": "datetime", "year": 2026}}',
        b'{"id": 0, "result": {"__class__": "Decimal", "decimal": "lots"}}',
    ],
)
def test_answers_that_are_not_json_rpc_are_source_errors(answering, body):
    state, url = answering
    state["body"] = body
    config = {"url": url, "database": "odd", "username": "admin", "password": "x"}
    with pytest.raises(SourceSystemError):
        TrytonClient(config, fresh=True)
