"""How the Tryton connector pages a pass in its own thread (``_Pages``): pages in order,
the next one asked for before the reader wants it, a short page ends the pass, an error
comes out after the pages before it, and nothing more is asked once the reader stops."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.builtin.tryton import TrytonClient, _Pages
from connectors.registries import TransientError


def _source(total: int, page: int, fail_at: int | None = None):
    """A keyset source of ids 1..total; ``asked`` records each cursor it was called with."""
    asked: list[int] = []

    def fetch(after: int) -> list[dict[str, int]]:
        asked.append(after)
        if fail_at is not None and after >= fail_at:
            raise TransientError("Tryton is not reachable: ConnectionError")
        return [{"id": i} for i in range(after + 1, min(total, after + page) + 1)]

    return fetch, asked


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_pages_come_in_order_and_a_short_page_ends_the_pass():
    fetch, asked = _source(total=10, page=4)
    pages = _Pages(fetch, 0, lambda rows: rows[-1]["id"], 4)
    got = [[row["id"] for row in rows] for rows in pages]
    assert got == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert asked == [0, 4, 8]  # nothing asked after the short page


def test_a_pass_ending_on_a_full_page_asks_once_more_and_ends_on_the_empty_one():
    fetch, asked = _source(total=8, page=4)
    pages = _Pages(fetch, 0, lambda rows: rows[-1]["id"], 4)
    assert [len(rows) for rows in pages] == [4, 4, 0]
    assert asked == [0, 4, 8]


def test_the_next_page_is_asked_for_before_the_reader_wants_it():
    fetch, asked = _source(total=100, page=10)
    pages = _Pages(fetch, 0, lambda rows: rows[-1]["id"], 10)
    first = next(iter(pages))
    assert first[0]["id"] == 1
    # While the reader holds the first page, the thread has asked for the next ones (one
    # waiting, one on its way), and no further.
    _wait_for(lambda: len(asked) == 3)
    time.sleep(0.1)
    assert asked == [0, 10, 20]
    pages.close()


def test_an_error_comes_out_after_the_pages_before_it():
    fetch, _asked = _source(total=100, page=10, fail_at=20)
    read: list[int] = []
    with pytest.raises(TransientError, match="not reachable"):
        for rows in _Pages(fetch, 0, lambda rows: rows[-1]["id"], 10):
            read += [row["id"] for row in rows]
    assert read == list(range(1, 21))


def test_nothing_more_is_asked_once_the_reader_stops():
    fetch, asked = _source(total=10_000, page=10)
    closed = []
    pages = _Pages(fetch, 0, lambda rows: rows[-1]["id"], 10, lambda: closed.append(True))
    next(iter(pages))
    pages.close()
    time.sleep(0.7)  # longer than the thread's wait for room in its queue
    settled = len(asked)
    time.sleep(0.3)
    assert len(asked) == settled <= 3
    pages.thread.join(5)
    assert not pages.thread.is_alive()
    assert closed == [True]  # its HTTP connection closed as it ended


def test_a_twin_client_shares_the_session_but_not_the_connection():
    client = TrytonClient.__new__(TrytonClient)
    client.url = "http://127.0.0.1:1/tack/"
    client.http = requests.Session()
    client.http.headers["Authorization"] = "Session abc"
    client.context = {"company": 1}
    client._id = 7
    twin = client.twin()
    assert twin.http is not client.http
    assert twin.http.headers["Authorization"] == "Session abc"
    assert twin.context == {"company": 1} and twin.context is not client.context
    assert twin.url == client.url
